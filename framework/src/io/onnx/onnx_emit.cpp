// The emitter table: from an op (an ONNX node, or a group the fusion passes made) to the layers it becomes. Each
// emitter checks its node's attributes and inputs, builds a Step, and follows the per-sample shape through it
// (follow_shape), so that a weight that does not fit its input is an error naming the node before anything is built.
// The emitters of layers with weights or parameters are in onnx_emit_layers.cpp.

#include "onnx_emit.hpp"

#include "lrp/nn/merge.hpp"

#include <cctype>
#include <sstream>

namespace lrp::onnx_import {

// lrplab's layer formulas (layers.cpp), applied before anything is built, so that a weight that does not fit its
// input is an error naming the node, and no layer is sized from an implausible shape.
void LayerEmitter::follow_shape(const Step& s) {
  const std::string& kind = s.spec.kind;
  auto p = [&](const char* name, std::size_t k = 0) {
    return static_cast<std::int64_t>(s.spec.params.get(name, kind).at(k));
  };
  auto expect = [&](bool ok, const std::string& what) {
    if (!ok) g.fail_node(s.node, "reads a tensor of per-sample shape ", to_string(shape_), ", but ", what);
  };
  Shape out = shape_;
  if (kind == "dense") {
    expect(shape_.size() == 1 && shape_[0] == p("in"),
           "its weight reads [" + std::to_string(p("in")) + "] (features)");
    out = {p("out")};
  } else if (kind == "conv2d" || kind == "maxpool2d" || kind == "avgpool2d" || kind == "global_avgpool") {
    expect(shape_.size() == 3, "lrplab's 2-d " + kind + " reads [C, H, W]");
    if (kind == "conv2d") {
      expect(shape_[0] == p("in_channels"),
             "its weight [out, in/groups, kh, kw] with groups = " + std::to_string(p("groups")) + " reads " +
                 std::to_string(p("in_channels")) + " channels");
      out[0] = p("out_channels");
    }
    for (std::size_t a = 0; a < 2 && kind != "global_avgpool"; ++a) {
      // No overflow: sizes ≤ kMaxSample, paddings and dilations ≤ kMaxSize per node, kernels ≤ the weight's extent.
      const std::int64_t dilation = kind == "conv2d" ? p("dilation", a) : 1;
      const std::int64_t span = shape_[a + 1] + 2 * p("padding", a) - dilation * (p("kernel", a) - 1) - 1;
      if (span < 0)
        g.fail_node(s.node, "the input ", to_string(shape_), " (padded by ", p("padding", a), ") is smaller than the ",
                  kind == "conv2d" ? "(dilated) kernel " : "window ", p("kernel", a), " along axis ", a + 2);
      const std::int64_t stride = p("stride", a);
      out[a + 1] = span / stride + 1;
      if (kind != "conv2d" && p("ceil_mode") != 0) {  // PyTorch's rounding up (layers.cpp, pool_out)
        out[a + 1] = (span + stride - 1) / stride + 1;
        if ((out[a + 1] - 1) * stride >= shape_[a + 1] + p("padding", a)) --out[a + 1];
      }
    }
    if (kind == "global_avgpool") out = {shape_[0], 1, 1};
  } else if (kind == "flatten") {
    out = {numel(shape_)};
    if (s.flatten_features > 0 && out[0] != s.flatten_features)
      g.fail_node(s.node, "reshapes ", to_string(shape_), " (", out[0], " features per sample) to [batch, ",
                s.flatten_features, "], which is not a flatten");
  } else if (kind == "batchnorm") {
    expect((shape_.size() == 1 || shape_.size() == 3) && shape_[0] == p("channels"),
           "its scale, bias, mean and variance have " + std::to_string(p("channels")) + " channels");
  } else if (kind == "embedding") {
    expect(shape_.size() == 1, "an embedding reads [T] (token ids)");
    out = {shape_[0], p("dim")};
  } else if (kind == "lstm") {
    expect(shape_.size() == 2 && shape_[1] == p("in"),
           "its first layer's weight W reads [T, " + std::to_string(p("in")) + "] (steps, features)");
    out = {p("hidden") * (p("bidirectional") != 0 ? 2 : 1)};
  }  // relu, tanh, sigmoid, identity, dropout: the same shape
  shape_ = checked_shape(s.node, out, "its output");
}

std::string name_from_parameter(const std::string& tensor) {
  if (tensor.rfind("onnx::", 0) == 0) return "";
  const auto dot = tensor.rfind('.');
  if (dot == std::string::npos || dot == 0) return "";
  return tensor.substr(0, dot);
}

namespace {

// "/conv1/Conv" -> "conv1", "/features/features.0/Conv" -> "features.0", "/Reshape_1" -> "Reshape_1".
std::string name_from_node(const Node& n) {
  std::vector<std::string> parts;
  std::stringstream in(n.name);
  for (std::string p; std::getline(in, p, '/');)
    if (!p.empty()) parts.push_back(p);
  if (parts.size() >= 2 && parts.back().rfind(n.op, 0) == 0) parts.pop_back();
  std::string name = parts.empty() ? "" : parts.back();
  for (char& c : name)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.' || c == '-')) c = '_';
  return name;
}

}  // namespace

std::string LayerEmitter::name_for(int i, const std::string& kind, std::initializer_list<std::string> tensors) {
  std::string name;
  for (const std::string& t : tensors)
    if (name.empty()) name = name_from_parameter(t);
  if (name.empty()) name = name_from_node(g.node(i));
  if (name.empty()) name = kind + std::to_string(steps.size());
  std::string unique = name;
  for (int k = 2; used_names.count(unique); ++k) unique = name + "_" + std::to_string(k);
  used_names.insert(unique);
  return unique;
}

// Zero padding of the spatial axes (begin = end) of [N, C, H, W].
std::array<std::int64_t, 2> LayerEmitter::read_pad(int i) const {
  g.check_attributes(i, {"mode", "pads", "value"});
  g.check_inputs(i, 1, 3);
  const Node& n = g.node(i);
  const std::string mode = g.attr_string(i, "mode", "constant");
  if (mode != "constant") g.fail_node(i, "mode '", mode, "'; lrplab imports constant zero padding only");
  std::vector<std::int64_t> pads;
  if (n.inputs.size() > 1 && !n.inputs[1].empty())
    pads = g.known_ints(i, g.constant_input(i, 1, "pads"), "pads");
  else
    pads = g.attr_ints(i, "pads", {});
  double value = g.attr_float(i, "value", 0.0);
  if (n.inputs.size() > 2 && !n.inputs[2].empty())
    value = g.real_scalar(i, g.constant_input(i, 2, "constant value"), "constant value");
  if (value != 0.0) g.fail_node(i, "pads with the value ", value, "; lrplab imports zero padding only");
  if (rank_ != 4 || pads.size() != 8)
    g.fail_node(i, "pads ", dims_string(pads), " of a rank-", rank_,
              " tensor; lrplab imports padding of the two spatial axes of [N, C, H, W]");
  if (pads[0] != 0 || pads[1] != 0 || pads[4] != 0 || pads[5] != 0)
    g.fail_node(i, "pads ", dims_string(pads), " pad the batch or channel axis; lrplab imports spatial padding only");
  if (std::any_of(pads.begin(), pads.end(), [](std::int64_t p) { return p < 0; }))
    g.fail_node(i, "pads ", dims_string(pads), " crop (negative); lrplab imports zero padding only");
  if (std::any_of(pads.begin(), pads.end(), [](std::int64_t p) { return p > kMaxSize; }))
    g.fail_node(i, "pads ", dims_string(pads), " are implausibly large");
  if (pads[2] != pads[6] || pads[3] != pads[7])
    g.fail_node(i, "pads ", dims_string(pads),
              " (begin N, C, H, W, end N, C, H, W) are asymmetric; lrplab imports "
              "symmetric zero padding only (folded into the following Conv or AveragePool)");
  return {pads[2], pads[3]};
}

namespace {

// Relu, Tanh, Sigmoid, Identity, GlobalAveragePool, Softplus: one layer of the same kind, without attributes.
template <const char* kKind>
void emit_simple(LayerEmitter& e, const Op& op) {
  e.g.check_attributes(op.node, {});
  e.g.check_inputs(op.node, 1, 1);
  e.emit_layer(op.node, kKind);
}
constexpr char kRelu[] = "relu", kTanh[] = "tanh", kSigmoid[] = "sigmoid", kIdentity[] = "identity",
               kGlobalAvgpool[] = "global_avgpool", kSoftplus[] = "softplus";

void emit_leaky_or_elu(LayerEmitter& e, const Op& op) {
  const Graph& g = e.g;
  const int i = op.node;
  g.check_attributes(i, {"alpha"});
  g.check_inputs(i, 1, 1);
  const bool leaky = g.node(i).op == "LeakyRelu";
  e.emit_layer(i, leaky ? "leaky_relu" : "elu",
               ParamMap{{leaky ? "slope" : "alpha", {g.attr_float(i, "alpha", leaky ? 0.01 : 1.0)}}});
}

void emit_flatten(LayerEmitter& e, const Op& op) {
  const Graph& g = e.g;
  const int i = op.node;
  g.check_attributes(i, {"axis"});
  g.check_inputs(i, 1, 1);
  std::int64_t axis = g.attr_int(i, "axis", 1);
  if (axis < 0) axis += e.rank();
  if (axis != 1)
    g.fail_node(i, "axis = ", g.attr_int(i, "axis", 1), "; lrplab imports Flatten with axis 1 (keeping the batch axis)");
  e.emit_layer(i, "flatten");
  e.set_rank(2);
}

// A trailing Softmax/LogSoftmax is dropped: lrplab explains the logits (check_chain refuses one that is not last).
void emit_softmax(LayerEmitter& e, const Op& op) {
  const Graph& g = e.g;
  const int i = op.node;
  g.check_attributes(i, {"axis"});
  g.check_inputs(i, 1, 1);
  g.attr_int(i, "axis", -1, -e.rank(), e.rank() - 1);
  e.dropped_softmax = i;
}

// An Add of a constant that fuse_matmul_add did not take (a sum of computed tensors is a merge).
void emit_add(LayerEmitter& e, const Op& op) {
  e.g.check_attributes(op.node, {});
  e.g.check_inputs(op.node, 2, 2);
  e.g.fail_node(op.node, "lrplab imports Add as the bias of the MatMul right before it (x @ W + b) or as the sum of "
                         "two computed tensors (a residual sum), not with a constant elsewhere");
}

// A Concat of a constant and a computed tensor (a Concat of computed tensors is a merge).
void emit_concat(LayerEmitter& e, const Op& op) {
  e.g.fail_node(op.node, "joins a constant to a computed tensor; lrplab imports Concat of computed tensors only");
}

// Pad nodes that no Conv or AveragePool follows.
void emit_pad(LayerEmitter& e, const Op& op) {
  e.take_pads(op);
  const int first = op.pads.empty() ? op.node : op.pads.front();
  LRP_FAIL(e.g.where(), ": ", e.g.node_ref(first),
           ": zero padding is imported only when a Conv or AveragePool follows (it becomes their padding), but ",
           e.next_node >= 0 ? e.g.node_ref(e.next_node) + " follows" : std::string("it is the last node"));
}

void emit_pattern(LayerEmitter& e, const Op& op) {
  for (int k : op.pattern->nodes) e.g.check_single_output(k);
  e.emit_layer(op.node, op.pattern->kind, op.pattern->params);
}

void emit_lstm(LayerEmitter& e, const Op& op) {
  Step s = lstm_step(*op.lstm);
  s.spec.name = e.name_for(s.node, "lstm", {});
  e.emit(std::move(s));
  e.set_rank(2);
}

bool reads_embedding(const Graph& g, const Node& n) { return n.inputs.size() == 2 && g.constant(n.inputs[0]); }

struct EmitEntry {
  const char* op;    // an ONNX op type, kPatternOp or kLstmOp
  const char* text;  // how the list of supported ops names it ("": not on its own)
  void (*emit)(LayerEmitter&, const Op&);
  bool own_outputs = false;                             // the emitter checks the nodes' outputs itself
  bool (*reads)(const Graph&, const Node&) = nullptr;   // the node forms it imports (null: all)
};

// The emitter table, in the order the list of supported ops names them.
const std::vector<EmitEntry>& emit_table() {
  static const std::vector<EmitEntry> kTable{
      {"Gemm", "Gemm", emit_gemm},
      {"MatMul", "MatMul (+ Add bias)", emit_matmul, true},
      {"Conv", "Conv", emit_conv},
      {"Relu", "Relu", emit_simple<kRelu>},
      {"Tanh", "Tanh", emit_simple<kTanh>},
      {"Sigmoid", "Sigmoid", emit_simple<kSigmoid>},
      {"LeakyRelu", "LeakyRelu", emit_leaky_or_elu},
      {"Elu", "Elu", emit_leaky_or_elu},
      // ONNX's Softplus is log(1 + exp(x)): torch writes it for beta = 1 and drops the threshold, so the layer gets
      // torch's default threshold 20 (it differs from log(1 + exp(x)) by less than 2.1e-9).
      {"Softplus", "Softplus", emit_simple<kSoftplus>},
      {"Gelu", "Gelu", emit_gelu},
      {"Clip", "Clip (constant bounds)", emit_clip},
      {kPatternOp, "torch's GELU, SiLU and Softplus(beta) patterns (Div/Mul/Erf/Pow/Add/Tanh/Sigmoid)", emit_pattern,
       true},
      {"MaxPool", "MaxPool", emit_pool},
      {"AveragePool", "AveragePool (also ceil_mode)", emit_pool},
      {"GlobalAveragePool", "GlobalAveragePool", emit_simple<kGlobalAvgpool>},
      {"ReduceMean", "ReduceMean (over H and W)", emit_reduce_mean},
      {"Pad", "Pad (zero, before Conv/AveragePool)", emit_pad},
      {"Flatten", "Flatten", emit_flatten},
      {"Reshape", "Reshape (to [batch, features])", emit_reshape},
      {"BatchNormalization", "BatchNormalization", emit_batchnorm},
      {"Dropout", "Dropout", emit_dropout},
      {"Identity", "Identity", emit_simple<kIdentity>},
      {"Add", "Add of two computed tensors (a residual sum)", emit_add},
      {"Concat", "Concat of computed tensors along the channels (axis 1)", emit_concat},
      {"Softmax", "a trailing Softmax/LogSoftmax", emit_softmax},
      {"LogSoftmax", "", emit_softmax},
      {kLstmOp,
       "LSTM (with Transpose/Squeeze/Reshape/Concat/Gather/Slice reading its final hidden state; zero initial states "
       "from ConstantOfShape/Slice/Identity/Expand)",
       emit_lstm, true},
      {"Gather", "Gather of a constant table by integer ids (embedding)", emit_embedding, true, reads_embedding},
  };
  return kTable;
}

const EmitEntry* find_entry(const std::string& op) {
  const auto& table = emit_table();
  const auto it = std::find_if(table.begin(), table.end(), [&](const EmitEntry& e) { return op == e.op; });
  return it == table.end() ? nullptr : &*it;
}

}  // namespace

void LayerEmitter::emit_layer(int i, const std::string& kind, ParamMap params) {
  Step s;
  s.spec.kind = kind;
  s.spec.params = std::move(params);
  s.spec.name = name_for(i, kind, {});
  s.node = i;
  emit(std::move(s));
}

bool emits(const std::string& op) { return find_entry(op) != nullptr; }

bool emitter_reads(const Graph& g, const Op& op) {
  const EmitEntry* entry = find_entry(op.op);
  if (entry == nullptr) return false;
  if (op.pattern || op.lstm) return true;
  const Node& n = g.node(op.node);
  return default_domain(n.domain) && (entry->reads == nullptr || entry->reads(g, n));
}

std::vector<std::string> emitted_op_types() {
  std::vector<std::string> ops;
  for (const EmitEntry& e : emit_table())
    if (e.op != std::string(kPatternOp) && e.op != std::string(kLstmOp)) ops.emplace_back(e.op);
  return ops;
}

std::vector<std::string> emitted_ops_text() {
  std::vector<std::string> texts;
  for (const EmitEntry& e : emit_table())
    if (*e.text != '\0') texts.emplace_back(e.text);
  return texts;
}

namespace {

// An op reading several values: the residual sum (add) or joined branches (concat), one layer
// whose inputs are the layers that compute them.
Step merge_step(LayerEmitter& e, const Op& op, const std::vector<std::pair<Shape, std::int64_t>>& in, Shape& out) {
  const Graph& g = e.g;
  const int i = op.node;
  const bool add = g.node(i).is("Add");
  if (add) {
    g.check_attributes(i, {});
  } else {
    g.check_attributes(i, {"axis"});
    const std::int64_t rank = in[0].second;
    std::int64_t axis = g.attr_int(i, "axis", 0, -rank, rank - 1);
    if (axis < 0) axis += rank;
    if (axis != 1)
      g.fail_node(i, "joins along axis ", g.attr_int(i, "axis", 0), "; lrplab imports Concat along axis 1 (the "
                  "channels of [batch, C, H, W], the features of [batch, F])");
  }
  g.check_single_output(i);
  // The layer says which shapes it joins and what it makes of them; its refusal names the node.
  std::vector<Shape> shapes;
  for (const auto& v : in) shapes.push_back(v.first);
  const LayerPtr layer = add ? LayerPtr(std::make_unique<Add>()) : LayerPtr(std::make_unique<Concat>());
  try {
    layer->configure(layer->stack_inputs(shapes), "merge");
  } catch (const Error& x) {
    g.fail_node(i, x.what(), " (per sample)");
  }
  out = layer->output_shape();
  Step step;
  step.spec.kind = add ? "add" : "concat";
  step.spec.name = e.name_for(i, step.spec.kind, {});
  step.node = i;
  return step;
}

}  // namespace

std::vector<Step> emit_layers(const Graph& g, const std::vector<Op>& ops, const std::string& start, int& softmax) {
  LayerEmitter e(g);
  std::map<std::string, std::pair<Shape, std::int64_t>> values;  // value -> its per-sample shape and rank
  std::map<std::string, std::string> layer_of;                   // value -> the layer that computes it
  values[start] = {g.input_shape, g.input_rank};
  layer_of[start] = "input";
  for (std::size_t k = 0; k < ops.size(); ++k) {
    const Op& op = ops[k];
    const std::size_t first = e.steps.size();
    const std::string previous = first == 0 ? std::string("input") : e.steps.back().spec.name;
    std::vector<std::string> reads;
    for (const std::string& v : op.inputs) reads.push_back(layer_of.at(v));
    if (op.inputs.size() > 1) {
      std::vector<std::pair<Shape, std::int64_t>> in;
      for (const std::string& v : op.inputs) in.push_back(values.at(v));
      Shape out;
      e.steps.push_back(merge_step(e, op, in, out));
      e.read(out, in[0].second);
    } else {
      const EmitEntry* entry = find_entry(op.op);
      e.next_node = k + 1 < ops.size() ? ops[k + 1].node : -1;
      const auto& [shape, rank] = values.at(op.input);
      e.read(shape, rank);
      entry->emit(e, op);
      if (!entry->own_outputs) g.check_single_output(op.node);
    }
    // The op's first layer names what it reads unless that is the layer just before it; its later
    // layers (an op may emit several) read each other.
    if (e.steps.size() > first && (reads.size() > 1 || reads[0] != previous)) e.steps[first].spec.inputs = reads;
    values[op.output] = {e.shape(), e.rank()};
    layer_of[op.output] = e.steps.size() > first ? e.steps.back().spec.name : layer_of.at(op.input);
  }
  softmax = e.dropped_softmax;
  return std::move(e.steps);
}

}  // namespace lrp::onnx_import
