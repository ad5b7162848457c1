// The emitters of the layers with weights or parameters: Gemm and MatMul (+ Add) as dense, Conv, pooling, Reshape as
// flatten, BatchNormalization, Dropout, Clip, ReduceMean, Gelu, and Gather as an embedding.

#include "onnx_emit.hpp"

#include <sstream>

namespace lrp::onnx_import {
namespace {

void add_bias(LayerEmitter& e, int i, const std::string& matmul_output, Step& s);

}  // namespace

void emit_gemm(LayerEmitter& e, const Op& op) {
  const Graph& g = e.g;
  const int i = op.node;
  g.check_attributes(i, {"alpha", "beta", "transA", "transB"});
  g.check_inputs(i, 2, 3);
  const Node& n = g.node(i);
  if (g.attr_float(i, "alpha", 1.0) != 1.0 || g.attr_float(i, "beta", 1.0) != 1.0)
    g.fail_node(i, "alpha = ", g.attr_float(i, "alpha", 1.0), " and beta = ", g.attr_float(i, "beta", 1.0),
              "; lrplab imports Gemm with alpha = beta = 1");
  if (g.attr_int(i, "transA", 0, 0, 1) != 0) g.fail_node(i, "transA = 1; lrplab imports Gemm with transA = 0");
  const std::int64_t trans_b = g.attr_int(i, "transB", 0, 0, 1);
  const Const& b = g.constant_input(i, 1, "weight");
  if (!b.is_real() || b.dims.size() != 2)
    g.fail_node(i, "the weight must be a 2-d float tensor, got ", dims_string(b.dims));
  const std::int64_t out = trans_b ? b.dims[0] : b.dims[1];
  const std::int64_t in = trans_b ? b.dims[1] : b.dims[0];
  Step s;
  s.weight.resize(out, in);
  for (std::int64_t r = 0; r < out; ++r)
    for (std::int64_t c = 0; c < in; ++c)
      s.weight(r, c) = static_cast<Scalar>(b.real[static_cast<std::size_t>(trans_b ? r * in + c : c * out + r)]);
  const bool has_bias = n.inputs.size() > 2 && !n.inputs[2].empty();
  if (has_bias) {
    const Const& c = g.constant_input(i, 2, "bias");
    const bool vector_like = c.dims.size() <= 1 || (c.dims.size() == 2 && c.dims[0] == 1);
    if (!c.is_real() || !vector_like || (static_cast<std::int64_t>(c.size()) != out && c.size() != 1))
      g.fail_node(i, "the bias C has shape ", dims_string(c.dims), "; lrplab imports a bias of ", out, " values");
    s.bias = c.size() == 1 ? Vector::Constant(out, static_cast<Scalar>(c.real[0])) : to_vector(c.real);
  }
  s.spec.kind = "dense";
  s.spec.params = ParamMap{
      {"in", {static_cast<double>(in)}}, {"out", {static_cast<double>(out)}}, {"bias", {has_bias ? 1.0 : 0.0}}};
  s.spec.name = e.name_for(i, "dense", {n.inputs[1], has_bias ? n.inputs[2] : std::string()});
  s.node = i;
  e.emit(std::move(s));
  e.set_rank(2);
}

void emit_matmul(LayerEmitter& e, const Op& op) {
  const Graph& g = e.g;
  const int i = op.node;
  g.check_attributes(i, {});
  g.check_inputs(i, 2, 2);
  const Node& n = g.node(i);
  const Const& w = g.constant_input(i, 1, "weight");
  if (!w.is_real() || w.dims.size() != 2)
    g.fail_node(i, "the weight must be a 2-d float tensor [in, out], got ", dims_string(w.dims));
  const std::int64_t in = w.dims[0], out = w.dims[1];
  Step s;
  s.weight.resize(out, in);  // transposed into lrplab's [out, in]
  for (std::int64_t r = 0; r < out; ++r)
    for (std::int64_t c = 0; c < in; ++c)
      s.weight(r, c) = static_cast<Scalar>(w.real[static_cast<std::size_t>(c * out + r)]);
  s.spec.kind = "dense";
  s.spec.params = ParamMap{{"in", {static_cast<double>(in)}}, {"out", {static_cast<double>(out)}}, {"bias", {0.0}}};
  s.node = i;
  e.follow_shape(s);
  s.spec.name = e.name_for(i, "dense", {n.inputs[1]});
  g.check_single_output(i);
  if (op.bias_add >= 0) add_bias(e, op.bias_add, n.outputs[0], s);
  e.steps.push_back(std::move(s));
}

namespace {

// Add after a MatMul: its bias (the layer's name comes from the bias when the weight gave none).
void add_bias(LayerEmitter& e, int i, const std::string& matmul_output, Step& s) {
  const Graph& g = e.g;
  g.check_attributes(i, {});
  g.check_inputs(i, 2, 2);
  const Node& n = g.node(i);
  const std::size_t k = n.inputs[0] == matmul_output ? 1 : 0;
  const Const& b = g.constant_input(i, k, "bias");
  const Index out = s.weight.rows();
  const bool vector_like = b.dims.size() <= 1 || (b.dims.size() == 2 && b.dims[0] == 1);
  if (!b.is_real() || !vector_like || (static_cast<Index>(b.size()) != out && b.size() != 1))
    g.fail_node(i, "the bias has shape ", dims_string(b.dims), "; lrplab imports a bias of ", out,
              " values after the MatMul");
  s.bias = b.size() == 1 ? Vector::Constant(out, static_cast<Scalar>(b.real[0])) : to_vector(b.real);
  s.spec.params.set("bias", 1.0);
  if (name_from_parameter(g.node(s.node).inputs[1]).empty() && !name_from_parameter(n.inputs[k]).empty()) {
    e.used_names.erase(s.spec.name);
    s.spec.name.clear();
    const std::string base = name_from_parameter(n.inputs[k]);
    std::string unique = base;
    for (int m = 2; e.used_names.count(unique); ++m) unique = base + "_" + std::to_string(m);
    e.used_names.insert(unique);
    s.spec.name = unique;
  }
  g.check_single_output(i);
}

}  // namespace

void emit_conv(LayerEmitter& e, const Op& op) {
  const Graph& g = e.g;
  const int i = op.node;
  const std::array<std::int64_t, 2> extra = e.take_pads(op);
  g.check_attributes(i, {"auto_pad", "dilations", "group", "kernel_shape", "pads", "strides"});
  g.check_inputs(i, 2, 3);
  const Node& n = g.node(i);
  const std::string auto_pad = g.attr_string(i, "auto_pad", "NOTSET");
  if (auto_pad != "NOTSET") g.fail_node(i, "auto_pad = ", auto_pad, "; lrplab imports Conv with explicit pads (NOTSET)");
  const Const& w = g.constant_input(i, 1, "weight");
  if (!w.is_real() || w.dims.size() != 4)
    g.fail_node(i, "the weight has shape ", dims_string(w.dims),
              "; lrplab imports 2-d convolutions (weight [out, in/groups, kh, kw])");
  const std::vector<std::int64_t> kernel = g.attr_sizes(i, "kernel_shape", {w.dims[2], w.dims[3]}, 1);
  if (kernel != std::vector<std::int64_t>{w.dims[2], w.dims[3]})
    g.fail_node(i, "kernel_shape ", dims_string(kernel), " does not match the weight ", dims_string(w.dims));
  const std::vector<std::int64_t> strides = g.attr_sizes(i, "strides", {1, 1}, 1);
  const std::vector<std::int64_t> dilations = g.attr_sizes(i, "dilations", {1, 1}, 1);
  const std::vector<std::int64_t> pads = g.attr_sizes(i, "pads", {0, 0, 0, 0}, 0);
  if (strides.size() != 2 || dilations.size() != 2 || pads.size() != 4)
    g.fail_node(i, "strides, dilations or pads do not describe a 2-d convolution");
  if (pads[0] != pads[2] || pads[1] != pads[3])
    g.fail_node(i, "pads ", dims_string(pads),
              " (begin h, w, end h, w) are asymmetric; lrplab imports symmetric "
              "zero padding only");
  const std::int64_t groups = g.attr_int(i, "group", 1, 1, kMaxSize);
  const bool has_bias = n.inputs.size() > 2 && !n.inputs[2].empty();
  Step s;
  const std::int64_t out = w.dims[0];
  const std::int64_t cols = w.dims[1] * w.dims[2] * w.dims[3];
  s.weight.resize(out, cols);
  for (std::int64_t k = 0; k < out * cols; ++k)
    s.weight.data()[k] = static_cast<Scalar>(w.real[static_cast<std::size_t>(k)]);
  if (has_bias) {
    const Const& b = g.constant_input(i, 2, "bias");
    if (!b.is_real() || static_cast<std::int64_t>(b.size()) != out)
      g.fail_node(i, "the bias has shape ", dims_string(b.dims), ", expected [", out, "]");
    s.bias = to_vector(b.real);
  }
  auto pair = [](std::int64_t a, std::int64_t b) { return ParamValue{static_cast<double>(a), static_cast<double>(b)}; };
  s.spec.kind = "conv2d";
  s.spec.params = ParamMap{{"in_channels", {static_cast<double>(w.dims[1] * groups)}},
                           {"out_channels", {static_cast<double>(out)}},
                           {"kernel", pair(kernel[0], kernel[1])},
                           {"stride", pair(strides[0], strides[1])},
                           {"padding", pair(pads[0] + extra[0], pads[1] + extra[1])},
                           {"dilation", pair(dilations[0], dilations[1])},
                           {"groups", {static_cast<double>(groups)}},
                           {"bias", {has_bias ? 1.0 : 0.0}}};
  s.spec.name = e.name_for(i, "conv2d", {n.inputs[1], has_bias ? n.inputs[2] : std::string()});
  s.node = i;
  e.emit(std::move(s));
}

void emit_pool(LayerEmitter& e, const Op& op) {
  const Graph& g = e.g;
  const int i = op.node;
  const bool max = g.node(i).op == "MaxPool";
  const std::array<std::int64_t, 2> extra = e.take_pads(op);  // none before a MaxPool (fuse_pads)
  if (max)
    g.check_attributes(i, {"auto_pad", "ceil_mode", "dilations", "kernel_shape", "pads", "storage_order", "strides"});
  else
    g.check_attributes(i, {"auto_pad", "ceil_mode", "count_include_pad", "kernel_shape", "pads", "strides"});
  g.check_inputs(i, 1, 1);
  const std::string auto_pad = g.attr_string(i, "auto_pad", "NOTSET");
  if (auto_pad != "NOTSET")
    g.fail_node(i, "auto_pad = ", auto_pad, "; lrplab imports pooling with explicit pads (NOTSET)");
  const std::int64_t ceil_mode = g.attr_int(i, "ceil_mode", 0, 0, 1);
  const std::vector<std::int64_t> kernel = g.attr_sizes(i, "kernel_shape", {}, 1);
  if (kernel.size() != 2) g.fail_node(i, "kernel_shape ", dims_string(kernel), "; lrplab imports 2-d pooling");
  if (kernel[0] * kernel[1] > kMaxFolded) g.fail_node(i, "kernel_shape ", dims_string(kernel), " is implausibly large");
  const std::vector<std::int64_t> strides = g.attr_sizes(i, "strides", {1, 1}, 1);  // ONNX's default stride is 1
  const std::vector<std::int64_t> pads = g.attr_sizes(i, "pads", {0, 0, 0, 0}, 0);
  if (strides.size() != 2 || pads.size() != 4) g.fail_node(i, "strides or pads do not describe 2-d pooling");
  if (max) {
    g.attr_int(i, "storage_order", 0, 0, 1);  // which order MaxPool's unused indices output would have
    const std::vector<std::int64_t> dilations = g.attr_sizes(i, "dilations", {1, 1}, 1);
    if (std::any_of(dilations.begin(), dilations.end(), [](std::int64_t d) { return d != 1; }))
      g.fail_node(i, "dilations ", dims_string(dilations), "; lrplab imports max pooling without dilation");
  }
  if (pads[0] != pads[2] || pads[1] != pads[3])
    g.fail_node(i, "pads ", dims_string(pads),
              " (begin h, w, end h, w) are asymmetric; lrplab imports symmetric "
              "padding only");
  const bool own_pads = std::any_of(pads.begin(), pads.end(), [](std::int64_t p) { return p != 0; });
  if (!max && own_pads && g.attr_int(i, "count_include_pad", 0, 0, 1) != 1)
    g.fail_node(i, "count_include_pad = 0 with pads ", dims_string(pads),
              "; lrplab's average pooling counts the padding in the divisor (count_include_pad = 1)");
  auto pair = [](std::int64_t a, std::int64_t b) { return ParamValue{static_cast<double>(a), static_cast<double>(b)}; };
  Step s;
  s.spec.kind = max ? "maxpool2d" : "avgpool2d";
  s.spec.params = ParamMap{{"kernel", pair(kernel[0], kernel[1])},
                           {"stride", pair(strides[0], strides[1])},
                           {"padding", pair(pads[0] + extra[0], pads[1] + extra[1])},
                           {"ceil_mode", {static_cast<double>(ceil_mode)}}};
  s.spec.name = e.name_for(i, s.spec.kind, {});
  s.node = i;
  e.emit(std::move(s));
}

// Reshape to [batch, features]: a flatten.
void emit_reshape(LayerEmitter& e, const Op& op) {
  const Graph& g = e.g;
  const int i = op.node;
  g.check_attributes(i, {"allowzero"});
  g.check_inputs(i, 2, 2);
  const Const& shape = g.constant_input(i, 1, "shape");
  if (shape.is_real()) g.fail_node(i, "the shape must be an integer tensor, got ", type_name(shape.type));
  const auto symbol = [&](std::size_t k) { return shape.symbol.empty() ? kKnown : shape.symbol[k]; };
  const bool allowzero = g.attr_int(i, "allowzero", 0, 0, 1) != 0;
  std::ostringstream text;
  text << "[";
  for (std::size_t k = 0; k < shape.integer.size(); ++k)
    text << (k ? ", " : "")
         << (symbol(k) == kBatch     ? "batch"
             : symbol(k) == kUnknown ? "?"
                                     : std::to_string(shape.integer[k]));
  text << "]";
  bool ok = shape.integer.size() == 2;
  std::int64_t features = -1;
  if (ok) {
    const std::int64_t b = shape.integer[0], f = shape.integer[1];
    const bool batch_ok = symbol(0) == kBatch || (symbol(0) == kKnown && b == 0 && !allowzero) ||
                          (symbol(0) == kKnown && b == -1) ||
                          (symbol(0) == kKnown && b > 0 && g.static_batch && b == *g.static_batch);
    const bool features_ok = symbol(1) == kKnown && (f == -1 || f > 0) && !(b == -1 && symbol(0) == kKnown && f == -1);
    ok = batch_ok && features_ok;
    features = f;
  }
  if (!ok)
    g.fail_node(i, "reshapes to ", text.str(),
              "; lrplab imports Reshape only as a flatten to [batch, features] "
              "(e.g. [batch, -1], [0, -1], [-1, features])");
  Step s;
  s.spec.kind = "flatten";
  s.spec.name = e.name_for(i, "flatten", {});
  s.flatten_features = features;
  s.node = i;
  e.emit(std::move(s));
  e.set_rank(2);
}

void emit_batchnorm(LayerEmitter& e, const Op& op) {
  const Graph& g = e.g;
  const int i = op.node;
  g.check_attributes(i, {"epsilon", "momentum", "spatial", "training_mode"});
  g.check_inputs(i, 5, 5);
  const Node& n = g.node(i);
  if (g.attr_int(i, "training_mode", 0, 0, 1) != 0)
    g.fail_node(i, "training_mode = 1; lrplab imports inference batch norms");
  if (g.attr_int(i, "spatial", 1, 0, 1) != 1) g.fail_node(i, "spatial = 0; lrplab imports per-channel batch norms");
  const Const& scale = g.constant_input(i, 1, "scale");
  const Const& shift = g.constant_input(i, 2, "bias");
  const Const& mean = g.constant_input(i, 3, "running mean");
  const Const& var = g.constant_input(i, 4, "running variance");
  const std::size_t c = scale.size();
  for (const Const* t : {&scale, &shift, &mean, &var})
    if (!t->is_real() || t->size() != c || t->dims.size() != 1)
      g.fail_node(i, "scale, bias, mean and variance must be float vectors of equal length, got ", t->origin,
                " of shape ", dims_string(t->dims));
  Step s;
  s.weight.resize(1, static_cast<Index>(c));
  s.weight.row(0) = to_vector(scale.real).transpose();
  s.bias = to_vector(shift.real);
  s.mean = to_vector(mean.real);
  s.var = to_vector(var.real);
  s.spec.kind = "batchnorm";
  s.spec.params = ParamMap{{"channels", {static_cast<double>(c)}}, {"eps", {g.attr_float(i, "epsilon", 1e-5)}}};
  s.spec.name = e.name_for(i, "batchnorm", {n.inputs[1], n.inputs[2]});
  s.node = i;
  e.emit(std::move(s));
}

void emit_dropout(LayerEmitter& e, const Op& op) {
  const Graph& g = e.g;
  const int i = op.node;
  g.check_attributes(i, {"ratio", "seed", "is_test"});
  g.check_inputs(i, 1, 3);
  const Node& n = g.node(i);
  double ratio = g.attr_float(i, "ratio", 0.5);  // an attribute before opset 12, an input since
  if (n.inputs.size() > 1 && !n.inputs[1].empty()) {
    const Const& r = g.constant_input(i, 1, "ratio");
    ratio = g.real_scalar(i, r, "ratio");
    if (r.type == onnx::TensorProto_DataType_FLOAT) ratio = shortest_double(static_cast<float>(ratio));
  }
  if (n.inputs.size() > 2 && !n.inputs[2].empty() &&
      g.real_scalar(i, g.constant_input(i, 2, "training_mode"), "training_mode") != 0.0)
    g.fail_node(i, "training_mode is true; lrplab imports inference (identity) dropout only");
  e.emit_layer(i, "dropout", ParamMap{{"p", {ratio}}});
}

// Clip with constant bounds: hardtanh (relu6 for [0, 6]). Opset 11 and later give the bounds as inputs, opset 6 to
// 10 as the attributes min and max.
void emit_clip(LayerEmitter& e, const Op& op) {
  const Graph& g = e.g;
  const int i = op.node;
  g.check_attributes(i, {"min", "max"});
  g.check_inputs(i, 1, 3);
  const Node& n = g.node(i);
  const char* const supported =
      "lrplab imports Clip with two constant bounds min < max (torch's nn.ReLU6, nn.Hardtanh, clamp(x, min, max)) as "
      "the layer hardtanh";
  double bounds[2];
  for (int k = 0; k < 2; ++k) {
    const char* name = k == 0 ? "min" : "max";
    const auto input = static_cast<std::size_t>(k + 1);
    const bool as_input = n.has_input(input);
    const onnx::AttributeProto* a = g.attribute(i, name, onnx::AttributeProto_AttributeType_FLOAT);
    if (as_input) {
      if (g.constant(n.inputs[input]) == nullptr)
        g.fail_node(i, "the ", name, " bound (input ", k + 1, " '", n.inputs[input], "') is ",
                    g.computed(n.inputs[input]) ? "computed from the data" : "not a constant", "; ", supported);
      const Const& c = g.constant_input(i, input, name);
      bounds[k] = g.real_scalar(i, c, name);
      if (c.type == onnx::TensorProto_DataType_FLOAT) bounds[k] = shortest_double(static_cast<float>(bounds[k]));
    } else if (a != nullptr) {
      bounds[k] = g.attr_float(i, name, 0.0);
    } else {
      g.fail_node(i, "has no ", name, " bound (", k == 0 ? "clamp(x, max=...)" : "clamp(x, min=...)", "); ", supported);
    }
  }
  if (!(bounds[0] < bounds[1])) g.fail_node(i, "clips to [", bounds[0], ", ", bounds[1], "]; ", supported);
  if (bounds[0] == 0.0 && bounds[1] == 6.0)
    e.emit_layer(i, "relu6");
  else
    e.emit_layer(i, "hardtanh", ParamMap{{"min", {bounds[0]}}, {"max", {bounds[1]}}});
}

// The mean over H and W of [N, C, H, W]: x.mean((2, 3)) is global_avgpool + flatten ([N, C]); with keepdim=True
// global_avgpool alone ([N, C, 1, 1]).
void emit_reduce_mean(LayerEmitter& e, const Op& op) {
  const Graph& g = e.g;
  const int i = op.node;
  g.check_attributes(i, {"axes", "keepdims", "noop_with_empty_axes"});
  g.check_inputs(i, 1, 2);
  const Node& n = g.node(i);
  std::vector<std::int64_t> axes = g.attr_ints(i, "axes", {});  // an attribute up to opset 17, an input since 18
  if (n.inputs.size() > 1 && !n.inputs[1].empty()) axes = g.known_ints(i, g.constant_input(i, 1, "axes"), "axes");
  const std::int64_t keepdims = g.attr_int(i, "keepdims", 1, 0, 1);
  std::vector<std::int64_t> sorted = axes;
  for (std::int64_t& a : sorted)
    if (a < 0) a += e.rank();
  std::sort(sorted.begin(), sorted.end());
  if (e.rank() != 4 || sorted != std::vector<std::int64_t>{2, 3})
    g.fail_node(i, "averages a rank-", e.rank(), " tensor over the axes ",
              axes.empty() ? std::string("(all)") : dims_string(axes), " (keepdims ", keepdims,
              "); lrplab imports ReduceMean only over the spatial axes [2, 3] of [N, C, H, W] (x.mean((2, 3)), "
              "keepdims 0 or 1: global average pooling)");
  e.emit_layer(i, "global_avgpool");
  if (keepdims == 1) return;
  e.emit_layer(i, "flatten");
  e.set_rank(2);
}

// ONNX's Gelu (opset 20): approximate "none" (erf) or "tanh".
void emit_gelu(LayerEmitter& e, const Op& op) {
  const Graph& g = e.g;
  const int i = op.node;
  g.check_attributes(i, {"approximate"});
  g.check_inputs(i, 1, 1);
  const std::string approximate = g.attr_string(i, "approximate", "none");
  if (approximate != "none" && approximate != "tanh")
    g.fail_node(i, "approximate = '", approximate,
              "'; lrplab imports GELU exactly (approximate 'none', erf) or as its tanh approximation ('tanh')");
  e.emit_layer(i, "gelu", ParamMap{{"tanh", {approximate == "tanh" ? 1.0 : 0.0}}});
}

// Gather(table [vocab, dim], ids): an embedding.
void emit_embedding(LayerEmitter& e, const Op& op) {
  const Graph& g = e.g;
  const int i = op.node;
  const Node& n = g.node(i);
  g.check_attributes(i, {"axis"});
  g.check_single_output(i);
  if (g.attr_int(i, "axis", 0) != 0)
    g.fail_node(i, "axis = ", g.attr_int(i, "axis", 0), "; lrplab imports Gather from a table as an embedding (axis 0)");
  if (!e.steps.empty() || !g.integer_input || e.rank() != 2)
    g.fail_node(i, "gathers rows of '", n.inputs[0], "' by '", op.input,
              "'; lrplab imports that as an embedding only as the first node, reading integer ids [batch, T]");
  const Const& table = g.constant_input(i, 0, "table");
  if (!table.is_real() || table.dims.size() != 2)
    g.fail_node(i, "the table must be a 2-d float tensor [vocab, dim], got ", type_name(table.type), " ",
              dims_string(table.dims));
  const std::int64_t vocab = table.dims[0], dim = table.dims[1];
  Step s;
  s.weight.resize(vocab, dim);
  for (std::int64_t k = 0; k < vocab * dim; ++k) s.weight.data()[k] = static_cast<Scalar>(table.real[static_cast<std::size_t>(k)]);
  s.spec.kind = "embedding";
  s.spec.params = ParamMap{{"vocab", {static_cast<double>(vocab)}}, {"dim", {static_cast<double>(dim)}}};
  s.spec.name = e.name_for(i, "embedding", {n.inputs[0]});
  s.node = i;
  e.emit(std::move(s));
  e.set_rank(3);
}

}  // namespace lrp::onnx_import
