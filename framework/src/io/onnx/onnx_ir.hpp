// Private to the ONNX importer (framework/src/io/onnx/): the in-memory graph the passes work on, and the passes.
//
// The import is a pipeline (onnx_import.cpp runs it):
//   1. read_graph (onnx_read.cpp): the ModelProto becomes a Graph: nodes with op, inputs, outputs and attributes,
//      initializers and Constant nodes decoded into constant values, the graph input's shape; the graph is checked
//      for consistency (every name defined once, every input defined before its node, the output computed).
//   2. refuse_unsupported_structures (onnx_read.cpp): GRU, RNN and attention are refused by name.
//   3. fold_constants (onnx_fold.cpp): every node computed from constants only is evaluated by the fold table; the
//      rest are the data nodes, which become Ops.
//   4. the fusions, each a pass over the Ops, in this order: fold_input_normalization (onnx_fuse.cpp), then
//      check_data_nodes (onnx_import.cpp: every remaining node's op is one some table reads), fuse_lstm
//      (onnx_lstm.cpp), fuse_activations (onnx_patterns.cpp), fuse_matmul_add and fuse_pads (onnx_fuse.cpp).
//   5. check_graph (onnx_import.cpp): the Ops form a graph; an Add or Concat of computed values reads several.
//   6. emit_layers (onnx_emit.cpp, onnx_emit_layers.cpp): the emitter table turns each Op into layers.
// A pass only groups nodes; the emitter of a group checks each of its nodes, in file order.
// Ops read their data inputs by name (Op::inputs), and the emitter names the layers they read (LayerSpec::inputs).
#pragma once

#include "lrp/core/error.hpp"
#include "lrp/core/tensor.hpp"
#include "lrp/nn/model.hpp"

#include <onnx/onnx_pb.h>  // Debian's libonnx-dev: the protobuf classes (compile cleanly under lrplab's warnings)

#include <algorithm>
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

namespace lrp::onnx_import {

// ------------------------------------------------------------------------------------------------ limits

// More elements than any tensor lrplab reads may hold (2^40): products saturate here, so that a corrupt shape
// cannot overflow.
constexpr std::int64_t kTooMany = std::int64_t{1} << 40;
// The largest kernel size, stride, padding, dilation or group count accepted (a guard against corrupt files).
constexpr std::int64_t kMaxSize = std::int64_t{1} << 20;
// The most elements a constant subgraph result may have (shape and pad computations are tiny).
constexpr std::int64_t kMaxFolded = std::int64_t{1} << 24;
// The most elements all constant subgraphs together may compute (weights passed through Identity, Transpose or
// Concat count too): 2^28 values, 2 GiB as doubles, whatever the number of nodes.
constexpr std::int64_t kMaxFoldedTotal = std::int64_t{1} << 28;
// The most elements one sample of a tensor of the chain may have (the graph input and every layer's output): 2^31,
// 8 GiB of float32 for a single sample, far beyond any network lrplab explains, and small enough that no sum of a
// size, a padding, a kernel extent and a dilation (each at most kMaxSize, Pad nodes adding up) overflows.
constexpr std::int64_t kMaxSample = std::int64_t{1} << 31;
// The largest file read: protobuf's limit on a message (ONNX models larger than this keep their weights in external
// data files, which lrplab does not read).
constexpr std::uint64_t kMaxFileBytes = (std::uint64_t{1} << 31) - 1;

// ------------------------------------------------------------------------------------------------ constants

// The value of an element of an integer tensor computed from Shape(x): the batch size (known only as "the
// batch") or a size the importer does not track.
constexpr char kKnown = 0, kBatch = 1, kUnknown = 2;

struct Const {
  int type = onnx::TensorProto_DataType_FLOAT;
  std::vector<std::int64_t> dims;
  std::vector<double> real;           // float32 / float64 values
  std::vector<std::int64_t> integer;  // integer and bool values
  std::vector<char> symbol;           // integer tensors from Shape(): per element (empty: all known)
  std::string origin;                 // "initializer 'fc.weight'", "node 3 '/Constant' (Constant)"

  bool is_real() const { return type == onnx::TensorProto_DataType_FLOAT || type == onnx::TensorProto_DataType_DOUBLE; }
  std::size_t size() const { return is_real() ? real.size() : integer.size(); }
  bool all_known() const {
    return std::all_of(symbol.begin(), symbol.end(), [](char s) { return s == kKnown; });
  }
};

// Whether a node or opset entry belongs to ONNX's default operator set.
inline bool default_domain(const std::string& domain) { return domain.empty() || domain == "ai.onnx"; }
// The element count of dims (each ≥ 0), saturating at kTooMany: a corrupt shape cannot overflow.
std::int64_t product(const std::vector<std::int64_t>& dims);
// Whether the extents other than 0 multiply to less than kTooMany: every tensor kept satisfies this, so that no
// product or stride of its extents overflows, also when a 0 extent makes it empty.
bool plausible(const std::vector<std::int64_t>& dims);
std::string dims_string(const std::vector<std::int64_t>& dims);
std::string type_name(int type);
bool is_integer_type(int type);
// A copy of `src` with new dims whose element k is src's element index[k].
Const take(const Const& src, std::vector<std::int64_t> dims, const std::vector<std::int64_t>& index);
std::vector<std::int64_t> strides_of(const std::vector<std::int64_t>& dims);
// A float attribute as the shortest decimal that rounds to the same float (1e-5 stays 1e-5 in double, instead of
// the float's 9.99999974737875e-06).
double shortest_double(float f);
Vector to_vector(const std::vector<double>& v);

// For every output element (row-major over out_dims), its multi-index is handed to `source`, which returns the
// flat source index.
template <typename F>
std::vector<std::int64_t> map_indices(const std::vector<std::int64_t>& out_dims, F source) {
  const std::int64_t n = product(out_dims);
  std::vector<std::int64_t> index;
  index.reserve(static_cast<std::size_t>(std::max<std::int64_t>(n, 0)));
  std::vector<std::int64_t> at(out_dims.size(), 0);
  for (std::int64_t k = 0; k < n; ++k) {
    index.push_back(source(at));
    for (std::size_t a = at.size(); a-- > 0;) {
      if (++at[a] < out_dims[a]) break;
      at[a] = 0;
    }
  }
  return index;
}

// ------------------------------------------------------------------------------------------------ the graph

struct Node {
  int index = -1;  // position in the file's node list: every message names it
  std::string name, op, domain;
  std::vector<std::string> inputs, outputs;
  const onnx::NodeProto* proto = nullptr;  // its attributes

  bool is(const char* op_type) const { return default_domain(domain) && op == op_type; }
  bool has_input(std::size_t k) const { return k < inputs.size() && !inputs[k].empty(); }
};

// The graph as the passes see it: values by name, nodes in file order, the constants known so far.
class Graph {
 public:
  std::string path;
  std::int64_t opset = 0;
  std::vector<Node> nodes;
  std::vector<std::string> outputs;  // the graph outputs
  std::map<std::string, std::vector<int>> consumers;  // value -> the nodes that read it (every node of the file)
  std::map<std::string, int> producer;                // value -> the node that computes it

  std::map<std::string, Const> consts;  // initializers, Constant nodes and folded nodes
  // Values filled with one number whose shape depends on the batch (torch's zero initial LSTM states).
  std::map<std::string, double> filled;
  // The rank (with the batch axis) of values computed from the data, where fold_constants could follow it.
  std::map<std::string, std::int64_t> rank;
  std::vector<char> folded;      // per node: evaluated by fold_constants (or a Constant node)
  std::int64_t folded_total = 0;  // elements computed by constant subgraphs so far

  // The graph input.
  std::string input;
  std::int64_t input_rank = 0;
  Shape input_shape;  // per sample (without the batch axis)
  std::optional<std::int64_t> static_batch;
  bool integer_input = false;  // token ids

  // ---- messages
  std::string where() const { return "ONNX model '" + path + "'"; }
  std::string node_ref(int i) const {
    const Node& n = nodes[static_cast<std::size_t>(i)];
    return "node " + std::to_string(i) + " '" + n.name + "' (" + n.op + ")";
  }
  template <typename... Parts>
  [[noreturn]] void fail_node(int i, const Parts&... parts) const {
    LRP_FAIL(where(), ": ", node_ref(i), ": ", parts...);
  }
  // The error for an op lrplab does not import (the list of what it imports comes from the tables).
  [[noreturn]] void fail_unsupported(int i) const;
  const Node& node(int i) const { return nodes[static_cast<std::size_t>(i)]; }
  bool is_graph_output(const std::string& value) const {
    return std::find(outputs.begin(), outputs.end(), value) != outputs.end();
  }

  // ---- tensors
  Const read_tensor(const onnx::TensorProto& t, const std::string& origin) const;
  // lrp::Error unless every real value of c is finite.
  void check_finite(const Const& c) const;

  // ---- constants
  const Const* constant(const std::string& name) const {
    const auto it = consts.find(name);
    return it == consts.end() ? nullptr : &it->second;
  }
  // Input k of node i, which must be a constant (`what` names it in messages).
  const Const& constant_input(int i, std::size_t k, const char* what) const;
  std::vector<std::int64_t> known_ints(int i, const Const& c, const char* what) const;
  double real_scalar(int i, const Const& c, const char* what) const;
  // Whether `value` is computed from the data (the graph input or a node that is not a constant).
  bool computed(const std::string& value) const;

  // ---- attributes
  void check_attributes(int i, std::initializer_list<const char*> known) const;
  const onnx::AttributeProto* attribute(int i, const char* name, onnx::AttributeProto_AttributeType type) const;
  std::int64_t attr_int(int i, const char* name, std::int64_t fallback) const;
  // attr_int whose value must lie in [minimum, maximum] (flags: [0, 1]).
  std::int64_t attr_int(int i, const char* name, std::int64_t fallback, std::int64_t minimum,
                        std::int64_t maximum) const;
  std::vector<std::int64_t> attr_ints(int i, const char* name, std::vector<std::int64_t> fallback) const;
  // attr_ints for kernel sizes, strides, pads, dilations: each value must lie in [minimum, kMaxSize].
  std::vector<std::int64_t> attr_sizes(int i, const char* name, std::vector<std::int64_t> fallback,
                                       std::int64_t minimum) const;
  double attr_float(int i, const char* name, double fallback) const;
  std::string attr_string(int i, const char* name, const std::string& fallback) const;
  void check_inputs(int i, int min_count, int max_count) const;
  // Every output but the first must be unused (Dropout's mask, MaxPool's indices).
  void check_single_output(int i) const;
};

// ------------------------------------------------------------------------------------------------ ops

// An activation torch writes as several nodes (GELU, SiLU, Softplus with beta), recognized whole.
struct Pattern {
  std::string kind;
  ParamMap params;
  std::vector<int> nodes;  // every node of the pattern
  std::string output;      // the value it computes
};

struct LstmLayerNode {
  int node = -1;
  const Const* w = nullptr;
  const Const* r = nullptr;
  const Const* b = nullptr;  // null: no bias input (zeros)
};

// One lrplab lstm layer: the ONNX LSTM nodes of a block, one per torch layer.
struct LstmBlock {
  int first_node = -1;  // the Transpose that starts it
  std::int64_t hidden = 0, dirs = 0;
  std::vector<LstmLayerNode> layers;
};

// What the layer emitters read: a data node, or a group of nodes a fusion pass recognized as one.
struct Op {
  std::string op;      // the emitter table's key: the node's op type, or kPatternOp / kLstmOp
  int node = -1;       // the node messages name (for a group its first node)
  std::string input;   // the (first) data value it reads ("": the graph check determines it from the node)
  std::vector<std::string> inputs;  // every data value it reads (the graph check fills it; Add/Concat: several)
  std::string output;  // the data value it computes
  std::vector<int> pads;  // Conv, AveragePool, Pad: Pad nodes before it, in order (they become padding)
  int bias_add = -1;      // MatMul: the Add that adds its bias
  std::optional<Pattern> pattern;
  std::optional<LstmBlock> lstm;
  std::vector<std::string> internal;  // values computed inside a group (MatMul's before its bias, Pad outputs)
};

inline constexpr const char* kPatternOp = "activation pattern";
inline constexpr const char* kLstmOp = "LSTM block";

// Input normalization written into the graph (Sub/Div/Mul/Add of constants on the graph input, before any layer),
// as y = (x − mean) / std per channel (one value: every channel), and the nodes folded.
struct FoldedNormalization {
  std::vector<double> mean{0.0}, std{1.0};
  std::vector<int> nodes;
  std::string output;  // the normalized value (the graph input when nothing is folded)
};

// What one layer is made of.
struct Step {
  LayerSpec spec;
  Matrix weight;     // size 0: none
  Vector bias;       // size 0: none
  Vector mean, var;  // batch norm statistics
  int node = -1;     // graph index of the node that made it
  std::string node_name;
  std::int64_t flatten_features = -1;  // Reshape: the feature count the shape states (-1: inferred)
};

// ------------------------------------------------------------------------------------------------ the passes

Graph read_graph(const std::string& path, const onnx::ModelProto& model);
void refuse_unsupported_structures(const Graph& g);
// Constant nodes are read first (they read nothing): a pattern is recognized from its first node, and the constants
// of its later nodes come later in torch's node order.
void decode_constant_nodes(Graph& g);
void fold_constants(Graph& g);
// The data nodes (neither Constant nor folded), one Op each, in file order.
std::vector<Op> data_ops(const Graph& g);
// The node's data input as the chain reads it: the first input, or for Add, Mul and Div the one that is not a
// constant (`current`: the chain's value, preferred when both are computed). -1: none.
int data_input(const Graph& g, int i, const std::string& current);
FoldedNormalization fold_input_normalization(const Graph& g, std::vector<Op>& ops);
void fuse_lstm(const Graph& g, std::vector<Op>& ops);
void fuse_activations(const Graph& g, std::vector<Op>& ops);
void fuse_matmul_add(const Graph& g, std::vector<Op>& ops);
void fuse_pads(const Graph& g, std::vector<Op>& ops);
// Requires the ops to form a graph from the normalized graph input to the one graph output, each reading values
// computed before it; fills in every Op::input and Op::inputs.
void check_graph(const Graph& g, std::vector<Op>& ops, const FoldedNormalization& norm);
// The layers of the ops, which read `start` first; `softmax` is set to a dropped trailing Softmax's node (or -1).
std::vector<Step> emit_layers(const Graph& g, const std::vector<Op>& ops, const std::string& start, int& softmax);

// ------------------------------------------------------------------------------------------------ the tables

// Whether the emitter table has an entry for `op` (an ONNX op type or a group).
bool emits(const std::string& op);
// Whether the emitter table imports op: its entry exists and reads this form of the node (a Gather only of a
// constant table by ids).
bool emitter_reads(const Graph& g, const Op& op);
// The emitter table's entries as the list of supported ops names them, in the table's order.
std::vector<std::string> emitted_ops_text();
// What fold_input_normalization folds, as the list of supported ops names it.
const char* normalization_text();
// The ONNX op types each table or pass reads (for onnx_op_types).
std::vector<std::string> emitted_op_types();
std::vector<std::string> fill_ops();
std::vector<std::string> normalization_op_types();
std::vector<std::string> pattern_op_types();
std::vector<std::string> lstm_op_types();
// The ops the fold table evaluates, in the table's order.
std::vector<std::string> fold_ops();
// The ops the importer reads, for messages and docs: "Gemm, MatMul (+ Add bias), ...".
std::string supported_ops_text();
// Patterns: Div, Mul, Erf, Pow (and a Sigmoid whose input is read again) start one.
bool starts_pattern(const Graph& g, const Node& n);
bool match_pattern(const Graph& g, const std::string& x, int first, Pattern& p, std::string& why);
// The LSTM block's layer (its weights reordered into lrplab's layout).
Step lstm_step(const LstmBlock& block);

}  // namespace lrp::onnx_import
