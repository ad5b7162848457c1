// Constant folding: Constant nodes, and every node whose inputs are all constants (the small shape and pad
// subgraphs torch emits), are evaluated by the fold table into constant values. Shape(x) of a value computed from
// the data gives the symbolic batch size followed by unknown sizes; that is enough for the x.view(x.size(0), -1)
// idiom and is never used for anything but moving values around (an unknown or symbolic value used as a parameter
// or in arithmetic is an error). For Shape, the pass follows the rank of the data values (rank_of_outputs).
// Zeros whose shape depends on the batch size (torch's initial LSTM states, ConstantOfShape of such a shape, and
// Slice, Identity or Expand of them) are kept as filled values: only their value is known.

#include "onnx_ir.hpp"

#include <cmath>
#include <limits>

namespace lrp::onnx_import {
namespace {

// What a fold function reads: the graph (constants so far) and the element budget.
struct Folder {
  const Graph& g;

  const Const& in(int i, std::size_t k) const { return g.constant_input(i, k, "input"); }
  void limit(int i, const std::vector<std::int64_t>& dims) const {
    if (product(dims) > kMaxFolded)
      g.fail_node(i, "computes a constant of shape ", dims_string(dims),
                  "; lrplab evaluates constant subgraphs of at most ", kMaxFolded, " elements");
  }
  // Before and after computing a result.
  void budget(int i, const std::vector<std::int64_t>& dims) const {
    if (g.folded_total + product(dims) > kMaxFoldedTotal)
      g.fail_node(i, "computes a constant of shape ", dims_string(dims), " after ", g.folded_total,
                  " values in earlier constant subgraphs; lrplab evaluates at most ", kMaxFoldedTotal, " in all");
  }
};

// A Constant node's value attribute.
Const fold_constant(const Folder& f, int i) {
  const Graph& g = f.g;
  const Node& n = g.node(i);
  g.check_attributes(i, {"value", "value_float", "value_floats", "value_int", "value_ints"});
  g.check_inputs(i, 0, 0);
  LRP_CHECK(n.outputs.size() == 1 && n.proto->attribute_size() == 1, g.where(), ": ", g.node_ref(i),
            ": expected one output and one value attribute");
  const std::string origin = g.node_ref(i);
  Const c;
  c.origin = origin;
  using A = onnx::AttributeProto;
  if (const A* a = g.attribute(i, "value", A::TENSOR)) {
    c = g.read_tensor(a->t(), origin);
  } else if (const A* v = g.attribute(i, "value_float", A::FLOAT)) {
    c.type = onnx::TensorProto_DataType_FLOAT;
    c.real = {v->f()};
  } else if (const A* vs = g.attribute(i, "value_floats", A::FLOATS)) {
    c.type = onnx::TensorProto_DataType_FLOAT;
    c.real.assign(vs->floats().begin(), vs->floats().end());
    c.dims = {static_cast<std::int64_t>(c.real.size())};
  } else if (const A* k = g.attribute(i, "value_int", A::INT)) {
    c.type = onnx::TensorProto_DataType_INT64;
    c.integer = {k->i()};
  } else {
    const A* ks = g.attribute(i, "value_ints", A::INTS);
    c.type = onnx::TensorProto_DataType_INT64;
    c.integer.assign(ks->ints().begin(), ks->ints().end());
    c.dims = {static_cast<std::int64_t>(c.integer.size())};
  }
  return c;
}

Const fold_identity(const Folder& f, int i) {
  const Graph& g = f.g;
  Const out;
  g.check_attributes(i, {});
  g.check_inputs(i, 1, 1);
  out = f.in(i, 0);
  return out;
}

Const fold_shape(const Folder& f, int i) {
  const Graph& g = f.g;
  const Node& n = g.node(i);
  Const out;
  g.check_attributes(i, {"start", "end"});
  g.check_inputs(i, 1, 1);
  const Const* of = g.constant(n.inputs[0]);  // a constant's shape is known; a chain tensor's only its batch size
  const auto r = of ? static_cast<std::int64_t>(of->dims.size()) : g.rank.at(n.inputs[0]);
  std::int64_t start = g.attr_int(i, "start", 0), end = g.attr_int(i, "end", r);
  if (start < 0) start += r;
  if (end < 0) end += r;
  start = std::clamp<std::int64_t>(start, 0, r);
  end = std::clamp<std::int64_t>(end, start, r);
  out.type = onnx::TensorProto_DataType_INT64;
  for (std::int64_t a = start; a < end; ++a) {
    out.integer.push_back(of ? of->dims[static_cast<std::size_t>(a)] : 0);
    out.symbol.push_back(of ? kKnown : a == 0 ? kBatch : kUnknown);
  }
  if (of) out.symbol.clear();
  out.dims = {end - start};
  return out;
}

Const fold_cast(const Folder& f, int i) {
  const Graph& g = f.g;
  Const out;
  g.check_attributes(i, {"to"});
  g.check_inputs(i, 1, 1);
  const Const& x = f.in(i, 0);
  const auto to = static_cast<int>(g.attr_int(i, "to", 0, 0, 1 << 16));
  out.dims = x.dims;
  out.type = to;
  if (to == onnx::TensorProto_DataType_FLOAT || to == onnx::TensorProto_DataType_DOUBLE) {
    if (!x.all_known()) g.fail_node(i, "casts a shape that depends on the data to ", type_name(to));
    if (x.is_real())
      out.real = x.real;
    else
      out.real.assign(x.integer.begin(), x.integer.end());
    if (to == onnx::TensorProto_DataType_FLOAT)
      for (double& v : out.real) v = static_cast<float>(v);
  } else if (is_integer_type(to)) {
    out.symbol = x.symbol;
    if (x.is_real()) {
      for (double v : x.real) {
        if (!(std::abs(v) < 9.2e18)) g.fail_node(i, "casts ", v, " to an integer");
        out.integer.push_back(static_cast<std::int64_t>(std::trunc(v)));
      }
    } else {
      out.integer = x.integer;
    }
    if (to == onnx::TensorProto_DataType_BOOL)
      for (std::int64_t& v : out.integer) v = v != 0;
  } else {
    g.fail_node(i, "casts to ", type_name(to), ", which lrplab does not evaluate");
  }
  return out;
}

Const fold_reshape(const Folder& f, int i) {
  const Graph& g = f.g;
  Const out;
  g.check_attributes(i, {"allowzero"});
  g.check_inputs(i, 2, 2);
  const Const& x = f.in(i, 0);
  std::vector<std::int64_t> shape = g.known_ints(i, f.in(i, 1), "shape");
  const bool allowzero = g.attr_int(i, "allowzero", 0, 0, 1) != 0;
  std::int64_t known = 1, infer = -1;
  for (std::size_t a = 0; a < shape.size(); ++a) {
    if (shape[a] == 0 && !allowzero) {
      if (a >= x.dims.size()) g.fail_node(i, "shape ", dims_string(shape), " copies a dimension the input lacks");
      shape[a] = x.dims[a];
    }
    if (shape[a] == -1) {
      if (infer >= 0) g.fail_node(i, "shape ", dims_string(shape), " has more than one -1");
      infer = static_cast<std::int64_t>(a);
    } else if (shape[a] < 0) {
      g.fail_node(i, "shape ", dims_string(shape), " has a negative size");
    } else {
      known = product({known, shape[a]});  // saturates: a corrupt size cannot overflow
    }
  }
  const auto total = static_cast<std::int64_t>(x.size());
  if (infer >= 0) {
    if (known == 0 || total % known != 0) g.fail_node(i, "cannot reshape ", total, " values to ", dims_string(shape));
    shape[static_cast<std::size_t>(infer)] = total / known;
  }
  if (product(shape) != total) g.fail_node(i, "cannot reshape ", total, " values to ", dims_string(shape));
  out = x;
  out.dims = shape;
  return out;
}

Const fold_concat(const Folder& f, int i) {
  const Graph& g = f.g;
  const Node& n = g.node(i);
  Const out;
  g.check_attributes(i, {"axis"});
  LRP_CHECK(n.inputs.size() >= 1, g.where(), ": ", g.node_ref(i), ": no inputs");
  const Const& first = f.in(i, 0);
  const auto r = static_cast<std::int64_t>(first.dims.size());
  std::int64_t axis = g.attr_int(i, "axis", 0);
  if (axis < 0) axis += r;
  if (axis < 0 || axis >= r) g.fail_node(i, "axis ", g.attr_int(i, "axis", 0), " is out of range for rank ", r);
  // Concatenate by stacking the flat values: outer blocks along axes < axis.
  out.type = first.type;
  out.dims = first.dims;
  out.dims[static_cast<std::size_t>(axis)] = 0;
  std::vector<const Const*> parts;
  bool symbolic = false;
  for (std::size_t k = 0; k < n.inputs.size(); ++k) {
    const Const& p = f.in(i, k);
    if (p.is_real() != first.is_real() || p.dims.size() != first.dims.size())
      g.fail_node(i, "inputs of different types or ranks");
    for (std::size_t a = 0; a < p.dims.size(); ++a)
      if (a != static_cast<std::size_t>(axis) && p.dims[a] != first.dims[a])
        g.fail_node(i, "inputs of shapes ", dims_string(first.dims), " and ", dims_string(p.dims),
                  " do not concatenate");
    std::int64_t& d = out.dims[static_cast<std::size_t>(axis)];
    d = std::min(d + p.dims[static_cast<std::size_t>(axis)], kTooMany);  // each term < kTooMany: no overflow
    symbolic = symbolic || !p.symbol.empty();
    parts.push_back(&p);
  }
  f.budget(i, out.dims);
  if (!plausible(out.dims)) g.fail_node(i, "computes a constant of the implausible shape ", dims_string(out.dims));
  std::int64_t outer = 1, inner = 1;
  for (std::int64_t a = 0; a < axis; ++a) outer *= first.dims[static_cast<std::size_t>(a)];
  for (std::int64_t a = axis + 1; a < r; ++a) inner *= first.dims[static_cast<std::size_t>(a)];
  if (product(out.dims) == 0) outer = 0;  // empty: no (possibly 2^40) rounds over empty blocks
  for (std::int64_t o = 0; o < outer; ++o) {
    for (const Const* p : parts) {
      const std::int64_t block = p->dims[static_cast<std::size_t>(axis)] * inner;
      for (std::int64_t k = o * block; k < (o + 1) * block; ++k) {
        const auto kk = static_cast<std::size_t>(k);
        if (first.is_real()) {
          out.real.push_back(p->real[kk]);
        } else {
          out.integer.push_back(p->integer[kk]);
          if (symbolic) out.symbol.push_back(p->symbol.empty() ? kKnown : p->symbol[kk]);
        }
      }
    }
  }
  return out;
}

Const fold_slice(const Folder& f, int i) {
  const Graph& g = f.g;
  const Node& n = g.node(i);
  Const out;
  g.check_attributes(i, {});
  g.check_inputs(i, 3, 5);
  const Const& x = f.in(i, 0);
  const auto r = static_cast<std::int64_t>(x.dims.size());
  const std::vector<std::int64_t> starts = g.known_ints(i, f.in(i, 1), "starts");
  const std::vector<std::int64_t> ends = g.known_ints(i, f.in(i, 2), "ends");
  std::vector<std::int64_t> axes, steps;
  if (n.has_input(3)) {
    axes = g.known_ints(i, f.in(i, 3), "axes");
  } else {
    for (std::size_t a = 0; a < starts.size(); ++a) axes.push_back(static_cast<std::int64_t>(a));
  }
  if (n.has_input(4))
    steps = g.known_ints(i, f.in(i, 4), "steps");
  else
    steps.assign(starts.size(), 1);
  if (ends.size() != starts.size() || axes.size() != starts.size() || steps.size() != starts.size())
    g.fail_node(i, "starts, ends, axes and steps differ in length");
  std::vector<std::int64_t> first(x.dims.size(), 0), step(x.dims.size(), 1), dims = x.dims;
  for (std::size_t k = 0; k < starts.size(); ++k) {
    std::int64_t a = axes[k];
    if (a < 0) a += r;
    if (a < 0 || a >= r) g.fail_node(i, "axis ", axes[k], " is out of range for rank ", r);
    const std::int64_t d = x.dims[static_cast<std::size_t>(a)];
    const std::int64_t s = steps[k];
    if (s == 0 || s == std::numeric_limits<std::int64_t>::min()) g.fail_node(i, "a step of ", s);
    std::int64_t b = starts[k], e = ends[k];
    if (b < 0) b += d;
    if (e < 0) e += d;
    std::int64_t count = 0;
    if (d == 0) {
      b = 0;  // nothing to take (and no range to clamp into)
    } else if (s > 0) {
      b = std::clamp<std::int64_t>(b, 0, d);
      e = std::clamp<std::int64_t>(e, 0, d);
      count = e > b ? (e - b - 1) / s + 1 : 0;
    } else {
      b = std::clamp<std::int64_t>(b, 0, d - 1);
      e = std::clamp<std::int64_t>(e, -1, d - 1);
      count = b > e ? (b - e - 1) / (-s) + 1 : 0;
    }
    first[static_cast<std::size_t>(a)] = b;
    step[static_cast<std::size_t>(a)] = s;
    dims[static_cast<std::size_t>(a)] = count;
  }
  f.limit(i, dims);
  const std::vector<std::int64_t> stride = strides_of(x.dims);
  out = take(x, dims, map_indices(dims, [&](const std::vector<std::int64_t>& at) {
               std::int64_t src = 0;
               for (std::size_t a = 0; a < at.size(); ++a) src += (first[a] + at[a] * step[a]) * stride[a];
               return src;
             }));
  return out;
}

Const fold_transpose(const Folder& f, int i) {
  const Graph& g = f.g;
  Const out;
  g.check_attributes(i, {"perm"});
  g.check_inputs(i, 1, 1);
  const Const& x = f.in(i, 0);
  std::vector<std::int64_t> reversed;
  for (std::size_t a = x.dims.size(); a-- > 0;) reversed.push_back(static_cast<std::int64_t>(a));
  const std::vector<std::int64_t> perm = g.attr_ints(i, "perm", reversed);
  if (perm.size() != x.dims.size()) g.fail_node(i, "perm ", dims_string(perm), " does not fit rank ", x.dims.size());
  std::vector<std::int64_t> dims;
  for (std::int64_t p : perm) {
    if (p < 0 || p >= static_cast<std::int64_t>(x.dims.size()) || std::count(perm.begin(), perm.end(), p) != 1)
      g.fail_node(i, "perm ", dims_string(perm), " is not a permutation of the axes");
    dims.push_back(x.dims[static_cast<std::size_t>(p)]);
  }
  const std::vector<std::int64_t> stride = strides_of(x.dims);
  out = take(x, dims, map_indices(dims, [&](const std::vector<std::int64_t>& at) {
               std::int64_t src = 0;
               for (std::size_t a = 0; a < at.size(); ++a) src += at[a] * stride[static_cast<std::size_t>(perm[a])];
               return src;
             }));
  return out;
}

Const fold_squeeze(const Folder& f, int i) {
  const Graph& g = f.g;
  const Node& n = g.node(i);
  const std::string& op = g.node(i).op;
  Const out;
  g.check_attributes(i, {"axes"});
  g.check_inputs(i, 1, 2);
  const Const& x = f.in(i, 0);
  std::vector<std::int64_t> axes =
      n.has_input(1) ? g.known_ints(i, f.in(i, 1), "axes") : g.attr_ints(i, "axes", std::vector<std::int64_t>{});
  out = x;
  if (op == "Unsqueeze") {
    const auto r = static_cast<std::int64_t>(x.dims.size() + axes.size());
    for (std::int64_t& a : axes) a = a < 0 ? a + r : a;
    std::sort(axes.begin(), axes.end());
    std::vector<std::int64_t> dims;
    std::size_t next = 0;
    for (std::int64_t a = 0; a < r; ++a) {
      if (std::binary_search(axes.begin(), axes.end(), a)) {
        dims.push_back(1);
      } else {
        if (next >= x.dims.size()) g.fail_node(i, "invalid axes");
        dims.push_back(x.dims[next++]);
      }
    }
    out.dims = dims;
  } else {
    const auto r = static_cast<std::int64_t>(x.dims.size());
    for (std::int64_t& a : axes) a = a < 0 ? a + r : a;
    std::vector<std::int64_t> dims;
    for (std::int64_t a = 0; a < r; ++a) {
      const std::int64_t d = x.dims[static_cast<std::size_t>(a)];
      const bool listed = std::find(axes.begin(), axes.end(), a) != axes.end();
      if (listed && d != 1) g.fail_node(i, "squeezes axis ", a, " of size ", d);
      if (!(listed || (axes.empty() && d == 1))) dims.push_back(d);
    }
    out.dims = dims;
  }
  return out;
}

Const fold_gather(const Folder& f, int i) {
  const Graph& g = f.g;
  Const out;
  g.check_attributes(i, {"axis"});
  g.check_inputs(i, 2, 2);
  const Const& x = f.in(i, 0);
  const std::vector<std::int64_t> indices = g.known_ints(i, f.in(i, 1), "indices");
  const std::vector<std::int64_t> index_dims = f.in(i, 1).dims;
  const auto r = static_cast<std::int64_t>(x.dims.size());
  std::int64_t axis = g.attr_int(i, "axis", 0);
  if (axis < 0) axis += r;
  if (axis < 0 || axis >= r) g.fail_node(i, "axis ", g.attr_int(i, "axis", 0), " is out of range for rank ", r);
  const std::int64_t d = x.dims[static_cast<std::size_t>(axis)];
  std::vector<std::int64_t> dims(x.dims.begin(), x.dims.begin() + axis);
  dims.insert(dims.end(), index_dims.begin(), index_dims.end());
  dims.insert(dims.end(), x.dims.begin() + axis + 1, x.dims.end());
  f.limit(i, dims);
  const std::vector<std::int64_t> stride = strides_of(x.dims);
  const std::vector<std::int64_t> index_stride = strides_of(index_dims);
  const auto q = static_cast<std::size_t>(index_dims.size());
  out = take(x, dims, map_indices(dims, [&](const std::vector<std::int64_t>& at) {
               std::int64_t src = 0;
               const auto ax = static_cast<std::size_t>(axis);
               for (std::size_t a = 0; a < ax; ++a) src += at[a] * stride[a];
               std::int64_t flat = 0;
               for (std::size_t a = 0; a < q; ++a) flat += at[ax + a] * index_stride[a];
               std::int64_t j = indices[static_cast<std::size_t>(flat)];
               if (j < 0) j += d;
               if (j < 0 || j >= d)
                 g.fail_node(i, "index ", indices[static_cast<std::size_t>(flat)], " is out of range");
               src += j * stride[ax];
               for (std::size_t a = ax + 1; a < x.dims.size(); ++a) src += at[a + q - 1] * stride[a];
               return src;
             }));
  return out;
}

Const fold_arithmetic(const Folder& f, int i) {
  const Graph& g = f.g;
  const std::string& op = g.node(i).op;
  Const out;
  // Arithmetic on constants (torch's pad subgraphs without constant folding), with numpy broadcasting.
  g.check_attributes(i, {});
  g.check_inputs(i, 2, 2);
  const Const& a = f.in(i, 0);
  const Const& b = f.in(i, 1);
  if (!a.all_known() || !b.all_known())
    g.fail_node(i, "computes with the data's shape, which lrplab does not evaluate");
  if (a.is_real() != b.is_real()) g.fail_node(i, "mixes ", type_name(a.type), " and ", type_name(b.type));
  const std::size_t r = std::max(a.dims.size(), b.dims.size());
  auto padded = [&](const std::vector<std::int64_t>& d) {
    std::vector<std::int64_t> p(r - d.size(), 1);
    p.insert(p.end(), d.begin(), d.end());
    return p;
  };
  const std::vector<std::int64_t> da = padded(a.dims), db = padded(b.dims);
  std::vector<std::int64_t> dims(r);
  for (std::size_t k = 0; k < r; ++k) {
    if (da[k] != db[k] && da[k] != 1 && db[k] != 1)
      g.fail_node(i, "shapes ", dims_string(a.dims), " and ", dims_string(b.dims), " do not broadcast");
    dims[k] = da[k] == 1 ? db[k] : da[k];
  }
  f.limit(i, dims);
  auto source = [&](const std::vector<std::int64_t>& d) {
    const std::vector<std::int64_t> stride = strides_of(d);
    return map_indices(dims, [&](const std::vector<std::int64_t>& at) {
      std::int64_t src = 0;
      for (std::size_t k = 0; k < r; ++k) src += (d[k] == 1 ? 0 : at[k]) * stride[k];
      return src;
    });
  };
  const std::vector<std::int64_t> ia = source(da), ib = source(db);
  out.type = a.type;
  out.dims = dims;
  for (std::size_t k = 0; k < ia.size(); ++k) {
    const auto ka = static_cast<std::size_t>(ia[k]), kb = static_cast<std::size_t>(ib[k]);
    if (a.is_real()) {
      const double x = a.real[ka], y = b.real[kb];
      double v = op == "Add" ? x + y : op == "Sub" ? x - y : op == "Mul" ? x * y : x / y;
      if (a.type == onnx::TensorProto_DataType_FLOAT) v = static_cast<float>(v);
      out.real.push_back(v);
    } else {
      const std::int64_t x = a.integer[ka], y = b.integer[kb];
      if (op == "Div" && (y == 0 || (y == -1 && x == std::numeric_limits<std::int64_t>::min())))
        g.fail_node(i, "divides ", x, " by ", y);
      std::int64_t v = 0;
      const bool overflow = op == "Add"   ? __builtin_add_overflow(x, y, &v)
                            : op == "Sub" ? __builtin_sub_overflow(x, y, &v)
                            : op == "Mul" ? __builtin_mul_overflow(x, y, &v)
                                          : (v = x / y, false);
      if (overflow) g.fail_node(i, "overflows computing with ", x, " and ", y);
      out.integer.push_back(v);
    }
  }
  return out;
}

Const fold_constant_of_shape(const Folder& f, int i) {
  const Graph& g = f.g;
  Const out;
  g.check_attributes(i, {"value"});
  g.check_inputs(i, 1, 1);
  const std::vector<std::int64_t> dims = g.known_ints(i, f.in(i, 0), "shape");
  for (std::int64_t d : dims)
    if (d < 0) g.fail_node(i, "negative size in shape ", dims_string(dims));
  f.limit(i, dims);
  Const value;
  value.type = onnx::TensorProto_DataType_FLOAT;
  value.real = {0.0};
  if (const onnx::AttributeProto* a = g.attribute(i, "value", onnx::AttributeProto_AttributeType_TENSOR))
    value = g.read_tensor(a->t(), g.node_ref(i) + " attribute 'value'");
  if (value.size() != 1) g.fail_node(i, "the value must hold one element");
  out = take(value, dims, std::vector<std::int64_t>(static_cast<std::size_t>(product(dims)), 0));
  return out;
}
using FoldFunction = Const (*)(const Folder&, int);
struct FoldEntry {
  const char* op;
  FoldFunction fold;
};

// The fold table: every op lrplab evaluates when its inputs are constants.
const std::vector<FoldEntry>& fold_table() {
  static const std::vector<FoldEntry> kTable{
      {"Constant", fold_constant},   {"Identity", fold_identity},   {"Cast", fold_cast},
      {"Reshape", fold_reshape},     {"Concat", fold_concat},       {"Slice", fold_slice},
      {"Transpose", fold_transpose}, {"Unsqueeze", fold_squeeze},   {"Squeeze", fold_squeeze},
      {"Gather", fold_gather},       {"ConstantOfShape", fold_constant_of_shape}, {"Shape", fold_shape},
      {"Add", fold_arithmetic},      {"Sub", fold_arithmetic},      {"Mul", fold_arithmetic},
      {"Div", fold_arithmetic}};
  return kTable;
}

// Evaluates node i, whose inputs are all constants (or Shape of a data value of known rank).
void fold_node(Graph& g, int i) {
  const Node& n = g.node(i);
  const auto& table = fold_table();
  const auto entry = std::find_if(table.begin(), table.end(), [&](const FoldEntry& e) { return n.op == e.op; });
  if (entry == table.end() || n.op == "Constant")  // Constant nodes read no inputs; decode_constant_nodes has them
    g.fail_node(i, "has op ", n.op, ", which lrplab does not import (here computed from constants only); supported: ",
                supported_ops_text());
  const Folder f{g};
  Const out = entry->fold(f, i);
  g.check_single_output(i);
  out.origin = g.node_ref(i);
  g.check_finite(out);
  if (!plausible(out.dims)) g.fail_node(i, "computes a constant of the implausible shape ", dims_string(out.dims));
  f.budget(i, out.dims);
  g.folded_total += product(out.dims);
  g.consts[n.outputs[0]] = std::move(out);
  g.folded[static_cast<std::size_t>(i)] = 1;
}

// ConstantOfShape of a shape that depends on the batch: zeros of shape [dirs, batch, H], torch's initial LSTM
// states. Only their value is kept.
void fill_node(Graph& g, int i) {
  g.check_attributes(i, {"value"});
  double value = 0.0;
  if (const onnx::AttributeProto* a = g.attribute(i, "value", onnx::AttributeProto_AttributeType_TENSOR)) {
    const Const v = g.read_tensor(a->t(), g.node_ref(i) + " attribute 'value'");
    if (v.size() != 1) g.fail_node(i, "the value must hold one element");
    value = v.is_real() ? v.real[0] : static_cast<double>(v.integer[0]);
  }
  g.filled[g.node(i).outputs[0]] = value;
  g.folded[static_cast<std::size_t>(i)] = 1;
}

// An integer-list attribute or constant input as written, without the checks the emitters apply (-1: absent).
std::int64_t count_axes(const Graph& g, const Node& n) {
  if (n.has_input(1)) {
    const Const* c = g.constant(n.inputs[1]);
    return c ? static_cast<std::int64_t>(c->size()) : -1;
  }
  for (const onnx::AttributeProto& a : n.proto->attribute())
    if (a.name() == "axes" && a.type() == onnx::AttributeProto_AttributeType_INTS) return a.ints_size();
  return -1;
}

// The rank of what a data node computes, where it follows from its data input's rank (Shape of it is then
// known); nothing is checked here (the emitters check every node they read).
void rank_of_outputs(Graph& g, const Node& n) {
  if (!default_domain(n.domain) || n.outputs.empty()) return;
  auto rank_of = [&](const std::string& v) -> std::int64_t {
    const auto it = g.rank.find(v);
    return it == g.rank.end() ? -1 : it->second;
  };
  std::int64_t in = -1;
  for (const std::string& v : n.inputs)
    if (in < 0) in = rank_of(v);
  std::int64_t out = in;
  if (n.op == "Gemm" || n.op == "Flatten") {
    out = 2;
  } else if (n.op == "Reshape") {
    const Const* shape = n.has_input(1) ? g.constant(n.inputs[1]) : nullptr;
    out = shape ? static_cast<std::int64_t>(shape->size()) : -1;
  } else if (n.op == "Gather" && n.inputs.size() == 2) {  // rank(data) + rank(indices) − 1
    const Const* table = g.constant(n.inputs[0]);
    const Const* index = g.constant(n.inputs[1]);
    const std::int64_t data = table ? static_cast<std::int64_t>(table->dims.size()) : rank_of(n.inputs[0]);
    const std::int64_t indices = index ? static_cast<std::int64_t>(index->dims.size()) : rank_of(n.inputs[1]);
    out = data < 0 || indices < 0 ? -1 : data + indices - 1;
  } else if (n.op == "Squeeze" || n.op == "Unsqueeze" || n.op == "ReduceMean") {
    const std::int64_t axes = count_axes(g, n);
    bool keep = n.op == "ReduceMean";
    for (const onnx::AttributeProto& a : n.proto->attribute())
      if (a.name() == "keepdims" && a.type() == onnx::AttributeProto_AttributeType_INT) keep = keep && a.i() != 0;
    if (!keep) out = in < 0 || axes < 0 ? -1 : n.op == "Unsqueeze" ? in + axes : in - axes;
  } else if (n.op == "LSTM") {  // Y [T, dirs, batch, H]; Y_h and Y_c [dirs, batch, H]
    for (std::size_t k = 0; k < n.outputs.size() && k < 3; ++k)
      if (!n.outputs[k].empty()) g.rank[n.outputs[k]] = k == 0 ? 4 : 3;
    return;
  }
  if (out >= 0) g.rank[n.outputs[0]] = out;
}

// The ops whose output, read from a filled value, is filled with the same value.
const std::vector<std::string> kFillOps{"Slice", "Identity", "Expand"};

bool fills(const std::string& op) { return std::find(kFillOps.begin(), kFillOps.end(), op) != kFillOps.end(); }

}  // namespace

std::vector<std::string> fill_ops() { return kFillOps; }

std::vector<std::string> fold_ops() {
  std::vector<std::string> ops;
  for (const FoldEntry& e : fold_table()) ops.emplace_back(e.op);
  return ops;
}

void decode_constant_nodes(Graph& g) {
  const Folder f{g};
  for (const Node& n : g.nodes) {
    if (!n.is("Constant")) continue;
    Const c = fold_constant(f, n.index);
    g.check_finite(c);
    g.consts[n.outputs[0]] = std::move(c);
    g.folded[static_cast<std::size_t>(n.index)] = 1;
  }
}

void fold_constants(Graph& g) {
  for (const Node& n : g.nodes) {
    const int i = n.index;
    if (g.folded[static_cast<std::size_t>(i)]) continue;  // a Constant node
    const bool in_default = default_domain(n.domain);
    bool all_constant = true;
    for (const std::string& in : n.inputs) all_constant = all_constant && (in.empty() || g.consts.count(in));
    const bool shape_of_data = n.op == "Shape" && n.inputs.size() == 1 && g.rank.count(n.inputs[0]);
    if (in_default && all_constant && n.op == "ConstantOfShape" && n.inputs.size() == 1 && !n.inputs[0].empty() &&
        !g.consts.at(n.inputs[0]).all_known()) {
      fill_node(g, i);
    } else if (in_default && (shape_of_data || (all_constant && !n.inputs.empty()))) {
      fold_node(g, i);
    } else if (in_default && !n.inputs.empty() && g.filled.count(n.inputs[0]) && fills(n.op)) {
      // A part of a filled value has the same value.
      g.filled[n.outputs[0]] = g.filled.at(n.inputs[0]);
      g.folded[static_cast<std::size_t>(i)] = 1;
    } else {
      rank_of_outputs(g, n);
    }
  }
}

}  // namespace lrp::onnx_import
