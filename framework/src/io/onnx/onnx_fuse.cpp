// The data ops, and the fusion passes that need no pattern matching: the input normalization written into the
// graph, MatMul + Add (a dense layer with its bias), and Pad before a Conv or AveragePool (their padding). Each
// pass only groups nodes; the emitters check every node of a group (onnx_emit.cpp), in the order the nodes come.

#include "onnx_ir.hpp"

namespace lrp::onnx_import {
namespace {

// Whether op is a plain node (no group) of the default domain with ONNX op type `type`.
bool plain(const Graph& g, const Op& op, const char* type) {
  return !op.pattern && !op.lstm && g.node(op.node).is(type);
}

// The op computing `value` (ops.end(): none).
std::vector<Op>::iterator producer_op(std::vector<Op>& ops, const std::string& value) {
  return std::find_if(ops.begin(), ops.end(), [&](const Op& op) { return !value.empty() && op.output == value; });
}

// A Sub, Div, Mul or Add of a constant on `norm.output` (how torchvision-style `(x - mean) / std` exports), folded
// into `norm`; false for every other node.
bool normalization_node(const Graph& g, int i, FoldedNormalization& norm) {
  const Node& n = g.node(i);
  const std::string& op = n.op;
  const std::vector<std::string> ops = normalization_op_types();
  if (!default_domain(n.domain) || std::find(ops.begin(), ops.end(), op) == ops.end() || n.inputs.size() != 2)
    return false;
  const std::string x = norm.output;
  const int data = n.inputs[0] == x ? 0 : n.inputs[1] == x ? 1 : -1;
  if (data < 0) return false;
  // The first node of an activation pattern is no normalization (Mul(x, β) -> Softplus -> Div(·, β) is Softplus(β)).
  Pattern pattern;
  std::string why;
  if (match_pattern(g, x, i, pattern, why)) return false;
  const Const* c = g.constant(n.inputs[static_cast<std::size_t>(1 - data)]);
  if (c == nullptr) return false;
  g.check_attributes(i, {});
  g.check_single_output(i);
  const std::string what = "; lrplab folds (x - mean) / std, x * a + b and their parts on the graph input into the "
                           "model's input normalization";
  if (!c->is_real()) g.fail_node(i, "applies an integer constant to the graph input", what);
  if (data == 1 && (op == "Sub" || op == "Div"))
    g.fail_node(i, op == "Sub" ? "subtracts the graph input from a constant" : "divides a constant by the graph input",
                what);
  // One value, or one per channel broadcast along the channel axis ([C, 1, 1], [1, C, 1, 1], [C] for [N, C]).
  const Shape& shape = g.input_shape;
  const auto C = static_cast<std::int64_t>(shape.empty() ? 1 : shape[0]);
  const auto r = static_cast<std::int64_t>(c->dims.size());
  bool per_channel = r <= g.input_rank;
  for (std::int64_t j = 0; j < r && per_channel; ++j) {
    const std::int64_t axis = j + g.input_rank - r;  // the input axis this dimension lines up with
    const std::int64_t d = c->dims[static_cast<std::size_t>(j)];
    per_channel = d == 1 || (axis == 1 && d == C);
  }
  if (!per_channel)
    g.fail_node(i, "applies a constant of shape ", dims_string(c->dims), " to the graph input of shape [batch, ",
                to_string(shape).substr(1), what, " only for one value or one per input channel (", C,
                "), e.g. shaped [", C, ", 1, 1]");
  std::vector<double> v = c->real;
  if (v.size() != 1 || norm.mean.size() != 1) {  // per channel from here on
    auto widen = [&](std::vector<double>& values) {
      if (values.size() == 1) values.assign(static_cast<std::size_t>(C), values[0]);
    };
    widen(v), widen(norm.mean), widen(norm.std);
  }
  // y = (x − mean) / std, then y ∘ v: Sub/Add move the mean by v·std, Div/Mul scale std.
  for (std::size_t k = 0; k < v.size(); ++k) {
    if ((op == "Div" || op == "Mul") && v[k] == 0)
      g.fail_node(i, op == "Div" ? "divides" : "multiplies", " the graph input by 0 (channel ", k, ")", what);
    if (op == "Sub") norm.mean[k] += v[k] * norm.std[k];
    if (op == "Add") norm.mean[k] -= v[k] * norm.std[k];
    if (op == "Div") norm.std[k] *= v[k];
    if (op == "Mul") norm.std[k] /= v[k];
  }
  norm.nodes.push_back(i);
  norm.output = n.outputs[0];
  return true;
}

}  // namespace

std::vector<std::string> normalization_op_types() { return {"Sub", "Div", "Mul", "Add"}; }

const char* normalization_text() {
  return "Sub, Div, Mul and Add of a constant on the graph input before any layer (its normalization)";
}

std::vector<Op> data_ops(const Graph& g) {
  std::vector<Op> ops;
  for (const Node& n : g.nodes) {
    if (g.folded[static_cast<std::size_t>(n.index)]) continue;
    Op op;
    op.op = n.op;
    op.node = n.index;
    op.output = n.outputs.empty() ? std::string() : n.outputs[0];
    ops.push_back(std::move(op));
  }
  return ops;
}

int data_input(const Graph& g, int i, const std::string& current) {
  const Node& n = g.node(i);
  int data = 0;
  if ((n.op == "Add" || n.op == "Mul" || n.op == "Div") && n.inputs.size() == 2) {
    const bool c0 = g.constant(n.inputs[0]) != nullptr, c1 = g.constant(n.inputs[1]) != nullptr;
    data = c0 ? 1 : (!c1 && n.inputs[0] != current && n.inputs[1] == current) ? 1 : 0;
  } else if (n.op == "Gather" && n.inputs.size() == 2 && g.constant(n.inputs[0]) != nullptr) {
    data = 1;  // an embedding reads ids
  }
  return n.has_input(static_cast<std::size_t>(data)) ? data : -1;
}

// Sub, Div, Mul or Add nodes of constants on the graph input, before any layer: each reads the value the one before
// computed, and is that value's only reader (else the graph branches there, as in torch's GELU and SiLU).
FoldedNormalization fold_input_normalization(const Graph& g, std::vector<Op>& ops) {
  FoldedNormalization norm;
  norm.output = g.input;
  while (!g.integer_input) {
    const auto readers = g.consumers.find(norm.output);
    if (readers == g.consumers.end() || readers->second.size() != 1) break;
    const int i = readers->second.front();
    const auto op = std::find_if(ops.begin(), ops.end(), [&](const Op& o) { return o.node == i; });
    if (op == ops.end() || !normalization_node(g, i, norm)) break;
    ops.erase(op);
  }
  return norm;
}

// Add of a constant after a MatMul: the dense layer's bias (x @ W + b).
void fuse_matmul_add(const Graph& g, std::vector<Op>& ops) {
  for (auto add = ops.begin(); add != ops.end();) {
    const Node& n = g.node(add->node);
    const bool candidate = plain(g, *add, "Add") && n.inputs.size() == 2 &&
                           (g.constant(n.inputs[0]) != nullptr) != (g.constant(n.inputs[1]) != nullptr);
    const auto matmul = candidate ? producer_op(ops, n.inputs[g.constant(n.inputs[0]) ? 1 : 0]) : ops.end();
    if (matmul == ops.end() || !plain(g, *matmul, "MatMul") || matmul->bias_add >= 0) {
      ++add;
      continue;
    }
    matmul->bias_add = add->node;
    matmul->internal.push_back(matmul->output);
    matmul->output = add->output;
    add = ops.erase(add);
  }
}

// Zero padding of the spatial axes: Pad nodes right before a Conv or AveragePool become its padding; a run of Pad
// nodes before anything else stays one Pad op (the first node names it), which its emitter refuses.
void fuse_pads(const Graph& g, std::vector<Op>& ops) {
  std::vector<Op> out;
  for (Op& op : ops) {
    const Node& n = g.node(op.node);
    const bool pad = plain(g, op, "Pad"), pooled = plain(g, op, "Conv") || plain(g, op, "AveragePool");
    const auto run = (pad || pooled) && n.has_input(0) ? producer_op(out, n.inputs[0]) : out.end();
    const bool after_pads = run != out.end() && plain(g, *run, "Pad") && !run->pads.empty();
    if (pad && after_pads) {  // the next Pad of a run
      run->pads.push_back(op.node);
      run->internal.push_back(run->output);
      run->output = op.output;
      continue;
    }
    if (pad && n.has_input(0)) op.pads = {op.node};
    if (pooled && after_pads) {
      op.pads = run->pads;
      op.internal = run->internal;
      op.internal.push_back(run->output);
      op.input = g.node(run->pads.front()).inputs[0];
      out.erase(run);
    }
    out.push_back(std::move(op));
  }
  ops = std::move(out);
}

}  // namespace lrp::onnx_import
