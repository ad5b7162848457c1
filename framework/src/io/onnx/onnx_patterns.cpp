// Activation patterns: torch writes GELU (erf and tanh forms), SiLU and Softplus with beta as several nodes that
// read the chain's value x more than once. A pattern is recognized as a whole, from its first node (a Div, Mul,
// Erf or Pow, or a Sigmoid whose input is read again), and becomes one op; its other nodes are absorbed. Anything
// else starting that way is an error naming the node and saying which part did not fit.

#include "onnx_ir.hpp"

#include <cmath>

namespace lrp::onnx_import {
namespace {

bool default_op(const Graph& g, int node, const char* op) {
  if (node < 0) return false;
  return g.node(node).is(op);
}

// The one node that reads t (-1: none, several, or t is a graph output).
int sole_reader(const Graph& g, const std::string& t) {
  if (g.is_graph_output(t)) return -1;
  const auto it = g.consumers.find(t);
  if (it == g.consumers.end() || it->second.empty()) return -1;
  for (int c : it->second)
    if (c != it->second.front()) return -1;
  return it->second.front();
}

// The input of a two-input node other than t (t itself for f(t, t)); nullptr when t is not an input.
const std::string* other_input(const Graph& g, int node, const std::string& t) {
  const Node& n = g.node(node);
  if (n.inputs.size() != 2 || n.outputs.size() != 1) return nullptr;
  if (n.inputs[0] == t) return &n.inputs[1];
  if (n.inputs[1] == t) return &n.inputs[0];
  return nullptr;
}

std::optional<double> scalar_constant(const Graph& g, const std::string& t) {
  const Const* c = g.constant(t);
  if (c == nullptr || c->size() != 1 || !c->is_real()) return std::nullopt;
  return c->real[0];
}

// Whether t is a one-element real constant close to `want` (float32 rounding allowed).
bool constant_near(const Graph& g, const std::string& t, double want) {
  const std::optional<double> v = scalar_constant(g, t);
  return v && std::abs(*v - want) <= 1e-6 * std::abs(want);
}

// 0.5·x·a with two Muls, as torch writes it, (x·a)·0.5, or grouped (x·0.5)·a or x·(a·0.5); constants on either side.
bool half_product(const Graph& g, const std::string& x, const std::string& a, Pattern& p) {
  const int m = sole_reader(g, a);
  if (!default_op(g, m, "Mul")) return false;
  const std::string* o = other_input(g, m, a);
  if (o == nullptr) return false;
  const std::string& mo = g.node(m).outputs[0];
  if (*o == x) {  // (x·a)·0.5
    const int h = sole_reader(g, mo);
    if (!default_op(g, h, "Mul") || other_input(g, h, mo) == nullptr || !constant_near(g, *other_input(g, h, mo), 0.5))
      return false;
    p.nodes.insert(p.nodes.end(), {m, h});
    p.output = g.node(h).outputs[0];
    return true;
  }
  if (constant_near(g, *o, 0.5)) {  // x·(a·0.5)
    const int h = sole_reader(g, mo);
    if (!default_op(g, h, "Mul") || other_input(g, h, mo) == nullptr || *other_input(g, h, mo) != x) return false;
    p.nodes.insert(p.nodes.end(), {m, h});
    p.output = g.node(h).outputs[0];
    return true;
  }
  const auto it = g.producer.find(*o);  // (x·0.5)·a
  if (it == g.producer.end()) return false;
  const int h = it->second;
  if (!default_op(g, h, "Mul") || sole_reader(g, *o) != m || other_input(g, h, x) == nullptr ||
      !constant_near(g, *other_input(g, h, x), 0.5))
    return false;
  p.nodes.insert(p.nodes.end(), {h, m});
  p.output = mo;
  return true;
}

// GELU, torch's erf form: 0.5·x·(1 + erf(x / √2)) (Div by √2, or Mul by 1/√2).
bool gelu_erf(const Graph& g, const std::string& x, int first, Pattern& p, std::string& why) {
  const bool div = default_op(g, first, "Div") && g.node(first).inputs.size() == 2 && g.node(first).inputs[0] == x;
  if (!div && !default_op(g, first, "Mul")) return false;
  const std::string* c = div ? &g.node(first).inputs[1] : other_input(g, first, x);
  const std::string& d = g.node(first).outputs[0];
  const int e = sole_reader(g, d);
  if (c == nullptr || !default_op(g, e, "Erf")) return false;
  if (!constant_near(g, *c, div ? std::sqrt(2.0) : std::sqrt(0.5))) {
    const std::optional<double> v = scalar_constant(g, *c);
    why = "the Erf reads x " + std::string(div ? "divided by " : "times ") +
          (v ? detail::concat(*v) : "'" + *c + "'") + ", not GELU's " + (div ? "√2" : "1/√2");
    return false;
  }
  const std::string& eo = g.node(e).outputs[0];
  const int a = sole_reader(g, eo);
  if (!default_op(g, a, "Add") || other_input(g, a, eo) == nullptr || !constant_near(g, *other_input(g, a, eo), 1.0)) {
    why = "the Erf's output is not followed by Add(·, 1)";
    return false;
  }
  p.kind = "gelu";
  p.params = ParamMap{{"tanh", {0.0}}};
  p.nodes = {first, e, a};
  if (half_product(g, x, g.node(a).outputs[0], p)) return true;
  why = "1 + erf(x/√2) is not multiplied by x and 0.5";
  return false;
}

// GELU, torch's tanh approximation: 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))), x³ as Mul(x, Mul(x, x)) or Pow(x, 3).
bool gelu_tanh(const Graph& g, const std::string& x, int first, Pattern& p, std::string& why) {
  std::vector<int> nodes;
  std::string cube;
  if (default_op(g, first, "Pow") && g.node(first).inputs.size() == 2 && g.node(first).inputs[0] == x &&
      constant_near(g, g.node(first).inputs[1], 3.0)) {
    nodes = {first};
    cube = g.node(first).outputs[0];
  } else if (default_op(g, first, "Mul") && g.node(first).inputs.size() == 2 && g.node(first).inputs[0] == x &&
             g.node(first).inputs[1] == x) {
    const std::string& sq = g.node(first).outputs[0];
    const int c = sole_reader(g, sq);
    if (!default_op(g, c, "Mul") || other_input(g, c, sq) == nullptr || *other_input(g, c, sq) != x) return false;
    nodes = {first, c};
    cube = g.node(c).outputs[0];
  } else {
    return false;
  }
  why = "x³ is not used as in GELU's tanh approximation 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³)))";
  const int k = sole_reader(g, cube);
  if (!default_op(g, k, "Mul") || other_input(g, k, cube) == nullptr || !constant_near(g, *other_input(g, k, cube), 0.044715))
    return false;
  const std::string& ko = g.node(k).outputs[0];
  const int s = sole_reader(g, ko);
  if (!default_op(g, s, "Add") || other_input(g, s, ko) == nullptr || *other_input(g, s, ko) != x) return false;
  const std::string& so = g.node(s).outputs[0];
  const int u = sole_reader(g, so);
  if (!default_op(g, u, "Mul") || other_input(g, u, so) == nullptr ||
      !constant_near(g, *other_input(g, u, so), std::sqrt(2.0 / 3.14159265358979323846)))
    return false;
  const int t = sole_reader(g, g.node(u).outputs[0]);
  if (!default_op(g, t, "Tanh")) return false;
  const std::string& to = g.node(t).outputs[0];
  const int a = sole_reader(g, to);
  if (!default_op(g, a, "Add") || other_input(g, a, to) == nullptr || !constant_near(g, *other_input(g, a, to), 1.0)) return false;
  nodes.insert(nodes.end(), {k, s, u, t, a});
  p.kind = "gelu";
  p.params = ParamMap{{"tanh", {1.0}}};
  p.nodes = nodes;
  if (half_product(g, x, g.node(a).outputs[0], p)) return true;
  why = "1 + tanh(...) is not multiplied by x and 0.5";
  return false;
}

// SiLU: Mul(x, Sigmoid(x)), either order.
bool silu(const Graph& g, const std::string& x, int first, Pattern& p) {
  if (!default_op(g, first, "Sigmoid")) return false;
  const std::string& so = g.node(first).outputs[0];
  const int m = sole_reader(g, so);
  if (!default_op(g, m, "Mul") || other_input(g, m, so) == nullptr || *other_input(g, m, so) != x) return false;
  p.kind = "silu";
  p.nodes = {first, m};
  p.output = g.node(m).outputs[0];
  return true;
}

// Softplus with beta ≠ 1: Softplus(x·beta) / beta (or · 1/beta), beta > 0. ONNX's Softplus has no threshold: the
// layer gets torch's default 20.
bool softplus_beta(const Graph& g, const std::string& x, int first, Pattern& p, std::string& why) {
  if (!default_op(g, first, "Mul") || other_input(g, first, x) == nullptr) return false;
  const std::optional<double> beta = scalar_constant(g, *other_input(g, first, x));
  const std::string& mo = g.node(first).outputs[0];
  const int sp = sole_reader(g, mo);
  if (!beta || !default_op(g, sp, "Softplus")) return false;
  const std::string& so = g.node(sp).outputs[0];
  const int d = sole_reader(g, so);
  const bool div = default_op(g, d, "Div") && g.node(d).inputs.size() == 2 && g.node(d).inputs[0] == so;
  const bool ok = *beta > 0 && (div ? constant_near(g, g.node(d).inputs[1], *beta)
                                    : default_op(g, d, "Mul") && other_input(g, d, so) != nullptr &&
                                          constant_near(g, *other_input(g, d, so), 1.0 / *beta));
  if (!ok) {
    why = detail::concat("Softplus(x · ", *beta, ") is not divided by the same beta > 0 (torch's Softplus(beta))");
    return false;
  }
  p.kind = "softplus";
  p.params = ParamMap{{"beta", {*beta}}, {"threshold", {20.0}}};
  p.nodes = {first, sp, d};
  p.output = g.node(d).outputs[0];
  return true;
}

bool contains(const std::vector<int>& nodes, int node) {
  return std::find(nodes.begin(), nodes.end(), node) != nodes.end();
}

}  // namespace

bool match_pattern(const Graph& g, const std::string& x, int first, Pattern& p, std::string& why) {
  return gelu_erf(g, x, first, p, why) || gelu_tanh(g, x, first, p, why) || silu(g, x, first, p) ||
         softplus_beta(g, x, first, p, why);
}

std::vector<std::string> pattern_op_types() {
  return {"Div", "Mul", "Erf", "Pow", "Add", "Tanh", "Sigmoid", "Softplus"};
}

bool starts_pattern(const Graph& g, const Node& n) {
  if (!default_domain(n.domain)) return false;
  if (n.op == "Div" || n.op == "Mul" || n.op == "Erf" || n.op == "Pow") return true;
  if (n.op != "Sigmoid" || !n.has_input(0)) return false;
  const std::vector<int>& readers = g.consumers.at(n.inputs[0]);
  return std::set<int>(readers.begin(), readers.end()).size() > 1;
}

// Each node that starts a pattern and reads x may be the pattern's anchor ((x·0.5) may come first); x must feed the
// pattern's nodes only (else the graph branches). The pattern becomes one op, named after its first node.
void fuse_activations(const Graph& g, std::vector<Op>& ops) {
  std::set<int> absorbed;
  std::vector<Op> out;
  std::string last;  // what the op before computed: the chain's value when a node reads two computed values
  for (Op& op : ops) {
    if (absorbed.count(op.node)) continue;
    const int i = op.node;
    if (op.pattern || op.lstm || !starts_pattern(g, g.node(i))) {
      last = op.output;
      out.push_back(std::move(op));
      continue;
    }
    const int data = data_input(g, i, last);
    if (data < 0) g.fail_node(i, "has no data input");
    const std::string x = g.node(i).inputs[static_cast<std::size_t>(data)];
    Pattern p;
    std::string why;
    bool closed = false;
    const std::vector<int>& readers = g.consumers.at(x);
    for (int first : std::set<int>(readers.begin(), readers.end())) {
      p = Pattern{};
      if (!match_pattern(g, x, first, p, why)) continue;
      closed = contains(p.nodes, i);
      for (int c : readers) closed = closed && contains(p.nodes, c);
      if (closed) break;
    }
    const Node& n = g.node(i);
    if (!closed && (n.is("Mul") || n.is("Div")) && n.inputs.size() == 2 && g.computed(n.inputs[0]) &&
        g.computed(n.inputs[1]))
      g.fail_node(i, "multiplies two computed tensors ('", n.inputs[0], "' and '", n.inputs[1],
                  "'), as attention does, and they are not one of the activation patterns lrplab imports (GELU, SiLU, "
                  "Softplus with beta); lrplab imports products with a constant only");
    if (!closed)
      g.fail_node(i, "reads '", x, "'", why.empty() ? std::string() : " but " + why,
                  "; lrplab imports Div, Mul, Erf and Pow, and a Sigmoid whose input is read again, only as torch "
                  "exports these activations: GELU (x * 0.5 * (1 + erf(x / 1.4142135)) or the tanh approximation "
                  "0.5 * x * (1 + tanh(0.7978846 * (x + 0.044715 * x^3)))), SiLU (x * sigmoid(x)) and Softplus with "
                  "beta (softplus(beta * x) / beta)");
    for (int k : p.nodes)
      if (k != i) absorbed.insert(k);
    Op fused;
    fused.op = kPatternOp;
    fused.node = i;
    fused.input = x;
    fused.output = p.output;
    fused.pattern = std::move(p);
    last = fused.output;
    out.push_back(std::move(fused));
  }
  ops = std::move(out);
}

}  // namespace lrp::onnx_import
