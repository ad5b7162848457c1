// ONNX import: a sequential network exported by torch.onnx.export (opset 13) becomes a ModelSpec, built by
// build_model() with the registry's layer kinds, and its weights are copied in.
//
// How the graph is read:
//   * Initializers, Constant nodes, and nodes that compute from constants only (the small shape and pad
//     subgraphs torch emits: Identity, Cast, Reshape, Concat, Slice, Transpose, Unsqueeze, Squeeze, Gather,
//     ConstantOfShape, Add, Sub, Mul, Div) are evaluated here into constant tensors. Shape(x) of a tensor of the
//     chain gives the symbolic batch size followed by unknown sizes; that is enough for the x.view(x.size(0), -1)
//     idiom and is never used for anything but moving values around (an unknown or symbolic value used as a
//     parameter or in arithmetic is an error).
//   * Every other node is a step of the chain: its data input must be the previous step's output (the graph input
//     for the first) and every other input must be a constant. Each step becomes one layer, except Pad (folded
//     into the following Conv or AveragePool), Add after MatMul (the dense layer's bias) and a trailing
//     Softmax/LogSoftmax (dropped: lrplab explains the logits).
//   * Activations torch writes as several nodes (GELU in its erf and tanh forms, SiLU, Softplus with beta) read the
//     chain's tensor more than once; each is recognized whole from its first node (activation_pattern) and becomes one
//     layer, its other nodes skipped. Constant nodes are read before the walk, so that a pattern's constants are known
//     at its first node.
//   * GRU, RNN and attention (a MatMul of two tensors computed from the data) are refused by name before the walk.
//   * Sequence models (torch's nn.Embedding + nn.LSTM(batch_first=True) + a readout of the final hidden
//     state): Gather of a constant table by the integer graph input is an embedding; an LSTM block starts at the
//     Transpose [batch, T, D] -> [T, batch, D] in front of the first ONNX LSTM node and spans every LSTM node
//     (one per torch layer) and the Squeeze / Transpose + Reshape torch puts between layers; it ends, as ONE
//     lrplab lstm layer, at the tensor that is the last layer's final hidden state (h_n[-1], the Concat of
//     h_n[-2] and h_n[-1] when bidirectional, or out[:, -1] when unidirectional). The tensors inside the block
//     are tracked by role (SeqTensor); zero initial states, which torch computes from the batch size with
//     ConstantOfShape, are tracked as zeros of unknown shape.
//   * An op, attribute, attribute value or data type outside what is listed here is an lrp::Error naming the
//     file, the node (index in the graph and name) and the op.
//   * ONNX files carry no checksums, so what can be checked is (a damaged file may still load: a changed weight is
//     a valid weight): the graph is consistent (every name defined once, every node input defined before the node,
//     the graph output computed), every tensor's data matches its shape and type and its real values are finite,
//     every attribute is a whole number, list or finite float of the expected kind in a plausible range, and the
//     per-sample shape of the chain is followed from the graph input through every layer (follow_shape), so that a
//     weight that does not fit its input and a shape of more than kMaxSample elements are errors naming the node
//     before anything is built. Sizes from the file are computed with saturating or checked arithmetic.
// Over 800 lines: the importer is one translation unit for now; issue 16 splits it into graph
// reading, pattern recognition and per-operator mapping.

#include "lrp/io/onnx.hpp"
#include "lrp/core/error.hpp"
#include "lrp/core/files.hpp"
#include "lrp/nn/layers.hpp"
#include "lrp/core/limits.hpp"
#include "lrp/core/log.hpp"
#include "lrp/nn/model.hpp"
#include "lrp/registry/registry.hpp"
#include <onnx/onnx_pb.h>  // Debian's libonnx-dev: the protobuf classes (compile cleanly under lrplab's warnings)

#include <algorithm>
#include <array>
#include <bit>
#include <cctype>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <iterator>
#include <limits>
#include <map>
#include <new>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <vector>

namespace lrp {
namespace {

static_assert(std::endian::native == std::endian::little, "ONNX raw_data is little-endian; this host is not");

// Whether a node or opset entry belongs to ONNX's default operator set.
bool default_domain(const std::string& domain) { return domain.empty() || domain == "ai.onnx"; }

const char* const kSupportedOps =
    "Gemm, MatMul (+ Add bias), Conv, Relu, Tanh, Sigmoid, LeakyRelu, Elu, Softplus, Gelu, Clip (constant bounds), "
    "torch's GELU, SiLU and Softplus(beta) patterns (Div/Mul/Erf/Pow/Add/Tanh/Sigmoid), MaxPool, AveragePool (also "
    "ceil_mode), GlobalAveragePool, ReduceMean (over H and W), Pad (zero, "
    "before Conv/AveragePool), Flatten, Reshape (to [batch, features]), BatchNormalization, Dropout, Identity, "
    "a trailing Softmax/LogSoftmax, LSTM (with Transpose/Squeeze/Reshape/Concat/Gather reading its final hidden "
    "state), Gather of a constant table by integer ids (embedding), and constant subgraphs (Constant, Identity, Cast, Reshape, Concat, Slice, "
    "Transpose, Unsqueeze, Squeeze, Gather, ConstantOfShape, Shape, Add, Sub, Mul, Div)";

// ------------------------------------------------------------------------------------------ constant tensors

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

// The element count of dims (each ≥ 0), saturating at kTooMany: a corrupt shape cannot overflow.
std::int64_t product(const std::vector<std::int64_t>& dims) {
  std::uint64_t n = 1;
  for (std::int64_t d : dims) {
    if (d == 0) return 0;
    n = d > 0 ? saturating_mul(n, static_cast<std::uint64_t>(d)) : static_cast<std::uint64_t>(kTooMany);
  }
  return static_cast<std::int64_t>(std::min(n, static_cast<std::uint64_t>(kTooMany)));
}

// Whether the extents other than 0 multiply to less than kTooMany: every tensor kept satisfies this, so that no
// product or stride of its extents overflows, also when a 0 extent makes it empty.
bool plausible(const std::vector<std::int64_t>& dims) {
  std::uint64_t n = 1;
  for (std::int64_t d : dims)
    n = d < 0 ? UINT64_MAX : saturating_mul(n, static_cast<std::uint64_t>(std::max<std::int64_t>(d, 1)));
  return n < static_cast<std::uint64_t>(kTooMany);
}

std::string dims_string(const std::vector<std::int64_t>& dims) {
  std::ostringstream out;
  out << "[";
  for (std::size_t k = 0; k < dims.size(); ++k) out << (k ? ", " : "") << dims[k];
  out << "]";
  return out.str();
}

std::string type_name(int type) {
  if (!onnx::TensorProto_DataType_IsValid(type)) return "data type " + std::to_string(type);
  std::string name = onnx::TensorProto_DataType_Name(static_cast<onnx::TensorProto_DataType>(type));
  for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (name == "float") return "float32";
  if (name == "double") return "float64";
  return name;
}

bool is_integer_type(int type) {
  switch (type) {
    case onnx::TensorProto_DataType_INT64:
    case onnx::TensorProto_DataType_INT32:
    case onnx::TensorProto_DataType_INT16:
    case onnx::TensorProto_DataType_INT8:
    case onnx::TensorProto_DataType_UINT8:
    case onnx::TensorProto_DataType_UINT16:
    case onnx::TensorProto_DataType_BOOL:
      return true;
    default:
      return false;
  }
}

// A copy of `src` with new dims whose element k is src's element index[k].
Const take(const Const& src, std::vector<std::int64_t> dims, const std::vector<std::int64_t>& index) {
  Const out;
  out.type = src.type;
  out.dims = std::move(dims);
  out.origin = src.origin;
  if (src.is_real()) {
    out.real.reserve(index.size());
    for (std::int64_t i : index) out.real.push_back(src.real[static_cast<std::size_t>(i)]);
  } else {
    out.integer.reserve(index.size());
    for (std::int64_t i : index) out.integer.push_back(src.integer[static_cast<std::size_t>(i)]);
    if (!src.symbol.empty()) {
      out.symbol.reserve(index.size());
      for (std::int64_t i : index) out.symbol.push_back(src.symbol[static_cast<std::size_t>(i)]);
    }
  }
  return out;
}

std::vector<std::int64_t> strides_of(const std::vector<std::int64_t>& dims) {
  std::vector<std::int64_t> s(dims.size(), 1);
  for (std::size_t a = dims.size(); a-- > 1;) s[a - 1] = s[a] * dims[a];
  return s;
}

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

// ------------------------------------------------------------------------------------------------ the importer

// What one chain step becomes.
struct Step {
  LayerSpec spec;
  Matrix weight;     // size 0: none
  Vector bias;       // size 0: none
  Vector mean, var;  // batch norm statistics
  int node = -1;     // graph index of the node that made it
  std::string node_name;
  std::int64_t flatten_features = -1;  // Reshape: the feature count the shape states (-1: inferred)
};

class Importer {
 public:
  Importer(std::string path, const onnx::ModelProto& model)
      : path_(std::move(path)), model_(model), g_(model.graph()) {}

  ModelSpec run(std::vector<Step>& steps);

 private:
  // ---- messages
  std::string where() const { return "ONNX model '" + path_ + "'"; }
  std::string node_ref(int i) const {
    const onnx::NodeProto& n = g_.node(i);
    return "node " + std::to_string(i) + " '" + n.name() + "' (" + n.op_type() + ")";
  }
  template <typename... Parts>
  [[noreturn]] void fail_node(int i, const Parts&... parts) const {
    LRP_FAIL(where(), ": ", node_ref(i), ": ", parts...);
  }

  // ---- consistency
  void check_graph() const;
  // lrp::Error unless every real value of c is finite.
  void check_finite(const Const& c) const;
  // The per-sample shape `shape` of what node i computes (`what`; i < 0: the graph input) if every extent is ≥ 1 and
  // it has at most kMaxSample elements.
  Shape checked_shape(int i, const Shape& shape, const std::string& what) const;
  // Checks that the layer s reads the chain's current per-sample shape (shape_) and moves shape_ to its output.
  void follow_shape(const Step& s);

  // ---- constants
  Const read_tensor(const onnx::TensorProto& t, const std::string& origin) const;
  const Const* constant(const std::string& name) const {
    const auto it = consts_.find(name);
    return it == consts_.end() ? nullptr : &it->second;
  }
  const Const& constant_input(int i, int k, const char* what) const;
  std::vector<std::int64_t> known_ints(int i, const Const& c, const char* what) const;
  double real_scalar(int i, const Const& c, const char* what) const;
  void fold(int i);
  void constant_node(int i);

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
  void check_single_output(int i) const;

  // ---- the chain
  void chain_step(int i);
  std::string name_for(int i, const std::string& kind, std::initializer_list<std::string> tensors);
  void emit(Step step);
  void flush_matmul();
  std::array<std::int64_t, 2> take_pending_pad();
  void check_no_pending_pad(int i);

  void gemm(int i);
  void matmul(int i);
  void add(int i);
  void conv(int i);
  void pool(int i, bool max);
  void pad(int i);
  void reshape(int i);
  void batchnorm(int i);
  void dropout(int i);
  bool normalization_node(int i);
  // A layer of `kind` (with `params`) made from node i, named after it.
  void emit_layer(int i, const std::string& kind, ParamMap params = {});
  void finish_normalization(InputNormalization& normalization) const;
  void clip(int i);
  std::int64_t reduce_mean(int i);  // returns the output's rank
  void gelu_node(int i);

  // ---- what is refused by name before the chain is walked (GRU, RNN, attention)
  void refuse_unsupported_structures() const;

  // ---- activation patterns: torch writes GELU, SiLU and Softplus(beta) as several nodes that read the chain's
  // tensor x more than once. A pattern is recognized as a whole, from its first node, and becomes one layer; its
  // other nodes are then skipped (absorbed_).
  struct Pattern {
    std::string kind;
    ParamMap params;
    std::vector<int> nodes;  // every node of the pattern
    std::string output;      // the tensor it computes
  };
  bool default_op(int node, const char* op) const;
  // The one node that reads t (-1: none, several, or t is a graph output).
  int sole_reader(const std::string& t) const;
  // The input of a two-input node other than t (t itself for f(t, t)); nullptr when t is not an input.
  const std::string* other_input(int node, const std::string& t) const;
  // Whether t is a one-element real constant close to `want` (float32 rounding allowed).
  bool constant_near(const std::string& t, double want) const;
  std::optional<double> scalar_constant(const std::string& t) const;
  bool half_product(const std::string& x, const std::string& a, Pattern& p) const;
  bool gelu_erf(const std::string& x, int first, Pattern& p, std::string& why) const;
  bool gelu_tanh(const std::string& x, int first, Pattern& p, std::string& why) const;
  bool silu(const std::string& x, int first, Pattern& p) const;
  bool softplus_beta(const std::string& x, int first, Pattern& p, std::string& why) const;
  // Any of the patterns above, starting at node `first` that reads x.
  bool match_pattern(const std::string& x, int first, Pattern& p, std::string& why) const;
  void activation_pattern(int i);

  // ---- sequences (embedding, LSTM)
  // What a tensor inside an LSTM block holds.
  enum class SeqRole {
    kInput,         // [T, batch, D]: the block's input, time-major
    kY,             // [T, dirs, batch, H]: an LSTM node's Y
    kYTransposed,   // [T, batch, dirs, H]
    kLayerOut,      // [T, batch, dirs·H]: a layer's output sequence (the next layer's input)
    kBatchFirstOut, // [batch, T, dirs·H]: torch's `out`
    kStates,        // [k, batch, H]: final hidden states, one (layer, direction) per entry along axis 0
    kPicked,        // [batch, k·H]: final hidden states side by side, one (layer, direction) per H columns
    kLastStep,      // the last step of an output sequence, its time axis (`axis`) kept (opset 9/10's Slice)
  };
  struct SeqTensor {
    SeqRole role = SeqRole::kInput;
    int layer = -1;                           // kY ... kBatchFirstOut, kLastStep: the LSTM layer that made it
    std::vector<std::pair<int, int>> states;  // kStates, kPicked: (layer, direction) entries
    int axis = -1;                            // kLastStep: the kept time axis
  };
  struct LstmLayerNode {
    int node = -1;
    const Const* w = nullptr;
    const Const* r = nullptr;
    const Const* b = nullptr;  // null: no bias input (zeros)
  };
  struct LstmBlock {
    int first_node = -1;  // the Transpose that starts it
    std::int64_t hidden = 0, dirs = 0;
    std::vector<LstmLayerNode> layers;
  };
  bool sequence_node(int i);
  void embedding(int i);
  void lstm_node(int i);
  void check_zero_state(int i, int k, const char* what) const;
  std::string describe_states(const std::vector<std::pair<int, int>>& states) const;
  void close_lstm(int i, const std::string& tensor);

  std::string path_;
  const onnx::ModelProto& model_;
  const onnx::GraphProto& g_;
  std::map<std::string, Const> consts_;
  std::map<std::string, std::int64_t> chain_rank_;  // tensors of the chain so far -> rank (with the batch axis)
  std::map<std::string, std::vector<int>> consumers_;
  std::map<std::string, int> producer_;  // tensor -> the node that computes it
  std::set<int> absorbed_;               // nodes of a recognized activation pattern after its first
  std::string current_;  // the chain's current tensor
  std::int64_t current_rank_ = 0;
  Shape shape_;          // its per-sample shape (without the batch axis)
  std::optional<std::int64_t> static_batch_;
  std::int64_t folded_ = 0;  // elements computed by constant subgraphs so far
  std::vector<Step> steps_;
  std::set<std::string> used_names_;
  std::optional<Step> pending_matmul_;  // a MatMul waiting for its Add bias
  struct PendingPad {
    int node;
    std::array<std::int64_t, 2> pads;
  };
  std::optional<PendingPad> pending_pad_;
  int dropped_softmax_ = -1;  // graph index of a dropped trailing Softmax/LogSoftmax
  std::int64_t opset_ = 0;
  std::map<std::string, SeqTensor> seq_;   // tensors inside the current (or an ended) LSTM block
  std::optional<LstmBlock> lstm_;          // the LSTM block being read
  std::map<std::string, double> zeros_;    // tensors filled with one value, whose shape depends on the batch
  bool integer_input_ = false;             // the graph input holds integers (token ids)
  // Input normalization written into the graph (Sub/Div/Mul/Add of constants on the graph input, before
  // any layer), as y = (x − mean) / std per channel (one value: every channel), and the nodes folded.
  std::vector<double> norm_mean_{0.0}, norm_std_{1.0};
  std::vector<int> norm_nodes_;
  std::int64_t sequence_steps_ = 0;        // T: the first per-sample axis of the graph input
};

// ---- consistency

// Every tensor name is defined once (an initializer, a graph input or one node's output), every node reads only
// names defined before it, and the graph outputs are computed.
void Importer::check_graph() const {
  std::map<std::string, std::string> defined;  // name -> what defines it
  for (const onnx::TensorProto& t : g_.initializer()) defined.emplace(t.name(), "initializer '" + t.name() + "'");
  for (const onnx::ValueInfoProto& v : g_.input()) {
    if (consts_.count(v.name())) continue;  // exporters before IR version 4 list the initializers as inputs too
    LRP_CHECK(!v.name().empty() && defined.emplace(v.name(), "the graph input").second, where(),
              ": the graph input '", v.name(), "' ", v.name().empty() ? "has no name" : "is listed twice");
  }
  for (int i = 0; i < g_.node_size(); ++i) {
    const onnx::NodeProto& n = g_.node(i);
    if (n.op_type().empty()) fail_node(i, "has no op type (corrupt file?)");
    for (const std::string& in : n.input()) {
      if (in.empty() || defined.count(in)) continue;
      std::string later;
      for (int k = i + 1; k < g_.node_size() && later.empty(); ++k)
        for (const std::string& out : g_.node(k).output())
          if (out == in) later = " (" + node_ref(k) + " computes it later: the nodes are not in order)";
      fail_node(i, "reads '", in, "', which is not a graph input, an initializer or the output of an earlier node",
                later);
    }
    bool computes = false;
    for (const std::string& out : n.output()) {
      if (out.empty()) continue;
      computes = true;
      const auto [it, fresh] = defined.emplace(out, node_ref(i));
      if (!fresh) fail_node(i, "output '", out, "' is already defined by ", it->second, " (names must be unique)");
    }
    if (!computes) fail_node(i, "has no output");
  }
  for (const onnx::ValueInfoProto& v : g_.output())
    LRP_CHECK(defined.count(v.name()), where(), ": the graph output '", v.name(), "' is computed by no node");
}

Shape Importer::checked_shape(int i, const Shape& shape, const std::string& what) const {
  const std::string context = i >= 0 ? where() + ": " + node_ref(i) + ": " + what : what;
  const Index n = checked_numel(shape, context);  // every extent ≥ 1, the product without overflow
  LRP_CHECK(n <= kMaxSample, context, ": the per-sample shape ", to_string(shape), " has ", n,
            " elements, more than the 2^31 lrplab imports");
  return shape;
}

// lrplab's layer formulas (layers.cpp), applied before anything is built, so that a weight that does not fit its
// input is an error naming the node, and no layer is sized from an implausible shape.
void Importer::follow_shape(const Step& s) {
  const std::string& kind = s.spec.kind;
  auto p = [&](const char* name, std::size_t k = 0) {
    return static_cast<std::int64_t>(s.spec.params.get(name, kind).at(k));
  };
  auto expect = [&](bool ok, const std::string& what) {
    if (!ok) fail_node(s.node, "reads a tensor of per-sample shape ", to_string(shape_), ", but ", what);
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
        fail_node(s.node, "the input ", to_string(shape_), " (padded by ", p("padding", a), ") is smaller than the ",
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
      fail_node(s.node, "reshapes ", to_string(shape_), " (", out[0], " features per sample) to [batch, ",
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

// ---- constants

Const Importer::read_tensor(const onnx::TensorProto& t, const std::string& origin) const {
  Const c;
  c.type = t.data_type();
  c.origin = origin;
  const std::string what = where() + ": " + origin;
  LRP_CHECK(!(t.has_data_location() && t.data_location() == onnx::TensorProto_DataLocation_EXTERNAL) &&
                t.external_data_size() == 0,
            what,
            " keeps its data in an external file, which lrplab does not read (save the model with its weights "
            "inside the .onnx file)");
  LRP_CHECK(!t.has_segment(), what, " is a segment of a tensor, which lrplab does not read");
  for (std::int64_t d : t.dims()) {
    LRP_CHECK(d >= 0, what, " has a negative dimension: ", d);
    c.dims.push_back(d);
  }
  const std::int64_t n = product(c.dims);
  LRP_CHECK(plausible(c.dims), what, " has the implausible shape ", dims_string(c.dims), " (corrupt file?)");
  std::size_t bytes = 0;
  switch (c.type) {
    case onnx::TensorProto_DataType_FLOAT:
    case onnx::TensorProto_DataType_INT32:
      bytes = 4;
      break;
    case onnx::TensorProto_DataType_DOUBLE:
    case onnx::TensorProto_DataType_INT64:
      bytes = 8;
      break;
    case onnx::TensorProto_DataType_INT16:
    case onnx::TensorProto_DataType_UINT16:
      bytes = 2;
      break;
    case onnx::TensorProto_DataType_INT8:
    case onnx::TensorProto_DataType_UINT8:
    case onnx::TensorProto_DataType_BOOL:
      bytes = 1;
      break;
    default:
      LRP_FAIL(what, " has data type ", type_name(c.type),
               ", which lrplab does not import (weights must be float32 or float64; shapes integer)");
  }
  auto count_check = [&](std::size_t got) {
    LRP_CHECK(static_cast<std::int64_t>(got) == n, what, " of shape ", dims_string(c.dims), " holds ", got,
              " values instead of ", n, " (truncated or corrupt file?)");
  };
  const int typed = t.float_data_size() + t.double_data_size() + t.int32_data_size() + t.int64_data_size() +
                    t.uint64_data_size() + t.string_data_size();
  if (t.has_raw_data()) {
    LRP_CHECK(typed == 0, what, " has both raw_data and ", typed,
              " typed values; a valid tensor has one of them (corrupt file?)");
    const std::string& raw = t.raw_data();
    LRP_CHECK(raw.size() == static_cast<std::size_t>(n) * bytes, what, " of shape ", dims_string(c.dims), " and type ",
              type_name(c.type), " has ", raw.size(), " bytes of data instead of ", static_cast<std::size_t>(n) * bytes,
              " (truncated or corrupt file?)");
    const char* p = raw.data();
    for (std::int64_t k = 0; k < n; ++k, p += bytes) {
      switch (c.type) {
        case onnx::TensorProto_DataType_FLOAT: {
          float v;
          std::memcpy(&v, p, 4);
          c.real.push_back(v);
          break;
        }
        case onnx::TensorProto_DataType_DOUBLE: {
          double v;
          std::memcpy(&v, p, 8);
          c.real.push_back(v);
          break;
        }
        case onnx::TensorProto_DataType_INT64: {
          std::int64_t v;
          std::memcpy(&v, p, 8);
          c.integer.push_back(v);
          break;
        }
        case onnx::TensorProto_DataType_INT32: {
          std::int32_t v;
          std::memcpy(&v, p, 4);
          c.integer.push_back(v);
          break;
        }
        case onnx::TensorProto_DataType_INT16: {
          std::int16_t v;
          std::memcpy(&v, p, 2);
          c.integer.push_back(v);
          break;
        }
        case onnx::TensorProto_DataType_UINT16: {
          std::uint16_t v;
          std::memcpy(&v, p, 2);
          c.integer.push_back(v);
          break;
        }
        case onnx::TensorProto_DataType_INT8:
          c.integer.push_back(static_cast<std::int8_t>(*p));
          break;
        default:  // uint8, bool
          c.integer.push_back(static_cast<unsigned char>(*p));
          break;
      }
    }
    check_finite(c);
    return c;
  }
  switch (c.type) {
    case onnx::TensorProto_DataType_FLOAT:
      count_check(static_cast<std::size_t>(t.float_data_size()));
      c.real.assign(t.float_data().begin(), t.float_data().end());
      break;
    case onnx::TensorProto_DataType_DOUBLE:
      count_check(static_cast<std::size_t>(t.double_data_size()));
      c.real.assign(t.double_data().begin(), t.double_data().end());
      break;
    case onnx::TensorProto_DataType_INT64:
      count_check(static_cast<std::size_t>(t.int64_data_size()));
      c.integer.assign(t.int64_data().begin(), t.int64_data().end());
      break;
    default:  // the narrower integer types and bool live in int32_data
      count_check(static_cast<std::size_t>(t.int32_data_size()));
      c.integer.assign(t.int32_data().begin(), t.int32_data().end());
      break;
  }
  LRP_CHECK(static_cast<std::int64_t>(typed) == n, what, " of shape ", dims_string(c.dims), " holds ", typed,
            " values in its typed fields instead of ", n, " (corrupt file?)");
  check_finite(c);
  return c;
}

void Importer::check_finite(const Const& c) const {
  const auto bad = std::find_if(c.real.begin(), c.real.end(), [](double v) { return !std::isfinite(v); });
  LRP_CHECK(bad == c.real.end(), where(), ": ", c.origin, " holds ",
            std::isnan(*bad) ? "NaN" : *bad > 0 ? "Inf" : "-Inf", " at element ", bad - c.real.begin(),
            " (of shape ", dims_string(c.dims), "); lrplab imports finite values only (a damaged file?)");
}

const Const& Importer::constant_input(int i, int k, const char* what) const {
  const onnx::NodeProto& n = g_.node(i);
  LRP_CHECK(k < n.input_size() && !n.input(k).empty(), where(), ": ", node_ref(i), ": the ", what, " (input ", k,
            ") is missing");
  const Const* c = constant(n.input(k));
  if (c == nullptr) {
    const bool computed = chain_rank_.count(n.input(k)) > 0;
    fail_node(i, "the ", what, " (input ", k, " '", n.input(k), "') is ",
              computed ? "computed from the data, not a constant: lrplab imports sequential models whose "
                         "parameters are initializers or Constant nodes"
                       : "neither an initializer nor the output of an earlier node");
  }
  return *c;
}

std::vector<std::int64_t> Importer::known_ints(int i, const Const& c, const char* what) const {
  if (c.is_real()) fail_node(i, "the ", what, " must be an integer tensor, got ", type_name(c.type));
  if (!c.all_known())
    fail_node(i, "the ", what, " depends on the ",
              std::find(c.symbol.begin(), c.symbol.end(), kBatch) != c.symbol.end() ? "batch size" : "data's shape",
              ", which lrplab does not evaluate here");
  return c.integer;
}

double Importer::real_scalar(int i, const Const& c, const char* what) const {
  if (c.size() != 1) fail_node(i, "the ", what, " must be a single value, got shape ", dims_string(c.dims));
  if (!c.all_known()) fail_node(i, "the ", what, " depends on the data's shape");
  return c.is_real() ? c.real[0] : static_cast<double>(c.integer[0]);
}

// A float attribute as the shortest decimal that rounds to the same float (1e-5 stays 1e-5 in double, instead of
// the float's 9.99999974737875e-06).
double shortest_double(float f) {
  if (!std::isfinite(f)) return f;
  char buffer[64];
  for (int precision = 1; precision <= 9; ++precision) {
    std::snprintf(buffer, sizeof buffer, "%.*g", precision, static_cast<double>(f));
    if (std::strtof(buffer, nullptr) == f) return std::strtod(buffer, nullptr);
  }
  return f;
}

void Importer::constant_node(int i) {
  const onnx::NodeProto& n = g_.node(i);
  check_attributes(i, {"value", "value_float", "value_floats", "value_int", "value_ints"});
  check_inputs(i, 0, 0);
  LRP_CHECK(n.output_size() == 1 && n.attribute_size() == 1, where(), ": ", node_ref(i),
            ": expected one output and one value attribute");
  const std::string origin = node_ref(i);
  Const c;
  c.origin = origin;
  using A = onnx::AttributeProto;
  if (const A* a = attribute(i, "value", A::TENSOR)) {
    c = read_tensor(a->t(), origin);
  } else if (const A* f = attribute(i, "value_float", A::FLOAT)) {
    c.type = onnx::TensorProto_DataType_FLOAT;
    c.real = {f->f()};
  } else if (const A* fs = attribute(i, "value_floats", A::FLOATS)) {
    c.type = onnx::TensorProto_DataType_FLOAT;
    c.real.assign(fs->floats().begin(), fs->floats().end());
    c.dims = {static_cast<std::int64_t>(c.real.size())};
  } else if (const A* v = attribute(i, "value_int", A::INT)) {
    c.type = onnx::TensorProto_DataType_INT64;
    c.integer = {v->i()};
  } else {
    const A* vs = attribute(i, "value_ints", A::INTS);
    c.type = onnx::TensorProto_DataType_INT64;
    c.integer.assign(vs->ints().begin(), vs->ints().end());
    c.dims = {static_cast<std::int64_t>(c.integer.size())};
  }
  check_finite(c);
  consts_[n.output(0)] = std::move(c);
}

// Evaluates a node whose inputs are all constants (or Shape of a chain tensor).
void Importer::fold(int i) {
  const onnx::NodeProto& n = g_.node(i);
  const std::string& op = n.op_type();
  auto in = [&](int k) -> const Const& { return constant_input(i, k, "input"); };
  auto has_input = [&](int k) { return k < n.input_size() && !n.input(k).empty(); };
  auto limit = [&](const std::vector<std::int64_t>& dims) {
    if (product(dims) > kMaxFolded)
      fail_node(i, "computes a constant of shape ", dims_string(dims),
                "; lrplab evaluates constant subgraphs of at most ", kMaxFolded, " elements");
  };
  auto budget = [&](const std::vector<std::int64_t>& dims) {  // before and after computing a result
    if (folded_ + product(dims) > kMaxFoldedTotal)
      fail_node(i, "computes a constant of shape ", dims_string(dims), " after ", folded_,
                " values in earlier constant subgraphs; lrplab evaluates at most ", kMaxFoldedTotal, " in all");
  };
  Const out;
  if (op == "Identity") {
    check_attributes(i, {});
    check_inputs(i, 1, 1);
    out = in(0);
  } else if (op == "Shape") {
    check_attributes(i, {"start", "end"});
    check_inputs(i, 1, 1);
    const Const* of = constant(n.input(0));  // a constant's shape is known; a chain tensor's only its batch size
    const auto r = of ? static_cast<std::int64_t>(of->dims.size()) : chain_rank_.at(n.input(0));
    std::int64_t start = attr_int(i, "start", 0), end = attr_int(i, "end", r);
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
  } else if (op == "Cast") {
    check_attributes(i, {"to"});
    check_inputs(i, 1, 1);
    const Const& x = in(0);
    const auto to = static_cast<int>(attr_int(i, "to", 0, 0, 1 << 16));
    out.dims = x.dims;
    out.type = to;
    if (to == onnx::TensorProto_DataType_FLOAT || to == onnx::TensorProto_DataType_DOUBLE) {
      if (!x.all_known()) fail_node(i, "casts a shape that depends on the data to ", type_name(to));
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
          if (!(std::abs(v) < 9.2e18)) fail_node(i, "casts ", v, " to an integer");
          out.integer.push_back(static_cast<std::int64_t>(std::trunc(v)));
        }
      } else {
        out.integer = x.integer;
      }
      if (to == onnx::TensorProto_DataType_BOOL)
        for (std::int64_t& v : out.integer) v = v != 0;
    } else {
      fail_node(i, "casts to ", type_name(to), ", which lrplab does not evaluate");
    }
  } else if (op == "Reshape") {
    check_attributes(i, {"allowzero"});
    check_inputs(i, 2, 2);
    const Const& x = in(0);
    std::vector<std::int64_t> shape = known_ints(i, in(1), "shape");
    const bool allowzero = attr_int(i, "allowzero", 0, 0, 1) != 0;
    std::int64_t known = 1, infer = -1;
    for (std::size_t a = 0; a < shape.size(); ++a) {
      if (shape[a] == 0 && !allowzero) {
        if (a >= x.dims.size()) fail_node(i, "shape ", dims_string(shape), " copies a dimension the input lacks");
        shape[a] = x.dims[a];
      }
      if (shape[a] == -1) {
        if (infer >= 0) fail_node(i, "shape ", dims_string(shape), " has more than one -1");
        infer = static_cast<std::int64_t>(a);
      } else if (shape[a] < 0) {
        fail_node(i, "shape ", dims_string(shape), " has a negative size");
      } else {
        known = product({known, shape[a]});  // saturates: a corrupt size cannot overflow
      }
    }
    const auto total = static_cast<std::int64_t>(x.size());
    if (infer >= 0) {
      if (known == 0 || total % known != 0) fail_node(i, "cannot reshape ", total, " values to ", dims_string(shape));
      shape[static_cast<std::size_t>(infer)] = total / known;
    }
    if (product(shape) != total) fail_node(i, "cannot reshape ", total, " values to ", dims_string(shape));
    out = x;
    out.dims = shape;
  } else if (op == "Concat") {
    check_attributes(i, {"axis"});
    LRP_CHECK(n.input_size() >= 1, where(), ": ", node_ref(i), ": no inputs");
    const Const& first = in(0);
    const auto r = static_cast<std::int64_t>(first.dims.size());
    std::int64_t axis = attr_int(i, "axis", 0);
    if (axis < 0) axis += r;
    if (axis < 0 || axis >= r) fail_node(i, "axis ", attr_int(i, "axis", 0), " is out of range for rank ", r);
    // Concatenate by stacking the flat values: outer blocks along axes < axis.
    out.type = first.type;
    out.dims = first.dims;
    out.dims[static_cast<std::size_t>(axis)] = 0;
    std::vector<const Const*> parts;
    bool symbolic = false;
    for (int k = 0; k < n.input_size(); ++k) {
      const Const& p = in(k);
      if (p.is_real() != first.is_real() || p.dims.size() != first.dims.size())
        fail_node(i, "inputs of different types or ranks");
      for (std::size_t a = 0; a < p.dims.size(); ++a)
        if (a != static_cast<std::size_t>(axis) && p.dims[a] != first.dims[a])
          fail_node(i, "inputs of shapes ", dims_string(first.dims), " and ", dims_string(p.dims),
                    " do not concatenate");
      std::int64_t& d = out.dims[static_cast<std::size_t>(axis)];
      d = std::min(d + p.dims[static_cast<std::size_t>(axis)], kTooMany);  // each term < kTooMany: no overflow
      symbolic = symbolic || !p.symbol.empty();
      parts.push_back(&p);
    }
    budget(out.dims);
    if (!plausible(out.dims)) fail_node(i, "computes a constant of the implausible shape ", dims_string(out.dims));
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
  } else if (op == "Slice") {
    check_attributes(i, {});
    check_inputs(i, 3, 5);
    const Const& x = in(0);
    const auto r = static_cast<std::int64_t>(x.dims.size());
    const std::vector<std::int64_t> starts = known_ints(i, in(1), "starts");
    const std::vector<std::int64_t> ends = known_ints(i, in(2), "ends");
    std::vector<std::int64_t> axes, steps;
    if (has_input(3)) {
      axes = known_ints(i, in(3), "axes");
    } else {
      for (std::size_t a = 0; a < starts.size(); ++a) axes.push_back(static_cast<std::int64_t>(a));
    }
    if (has_input(4))
      steps = known_ints(i, in(4), "steps");
    else
      steps.assign(starts.size(), 1);
    if (ends.size() != starts.size() || axes.size() != starts.size() || steps.size() != starts.size())
      fail_node(i, "starts, ends, axes and steps differ in length");
    std::vector<std::int64_t> first(x.dims.size(), 0), step(x.dims.size(), 1), dims = x.dims;
    for (std::size_t k = 0; k < starts.size(); ++k) {
      std::int64_t a = axes[k];
      if (a < 0) a += r;
      if (a < 0 || a >= r) fail_node(i, "axis ", axes[k], " is out of range for rank ", r);
      const std::int64_t d = x.dims[static_cast<std::size_t>(a)];
      const std::int64_t s = steps[k];
      if (s == 0 || s == std::numeric_limits<std::int64_t>::min()) fail_node(i, "a step of ", s);
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
    limit(dims);
    const std::vector<std::int64_t> stride = strides_of(x.dims);
    out = take(x, dims, map_indices(dims, [&](const std::vector<std::int64_t>& at) {
                 std::int64_t src = 0;
                 for (std::size_t a = 0; a < at.size(); ++a) src += (first[a] + at[a] * step[a]) * stride[a];
                 return src;
               }));
  } else if (op == "Transpose") {
    check_attributes(i, {"perm"});
    check_inputs(i, 1, 1);
    const Const& x = in(0);
    std::vector<std::int64_t> reversed;
    for (std::size_t a = x.dims.size(); a-- > 0;) reversed.push_back(static_cast<std::int64_t>(a));
    const std::vector<std::int64_t> perm = attr_ints(i, "perm", reversed);
    if (perm.size() != x.dims.size()) fail_node(i, "perm ", dims_string(perm), " does not fit rank ", x.dims.size());
    std::vector<std::int64_t> dims;
    for (std::int64_t p : perm) {
      if (p < 0 || p >= static_cast<std::int64_t>(x.dims.size()) || std::count(perm.begin(), perm.end(), p) != 1)
        fail_node(i, "perm ", dims_string(perm), " is not a permutation of the axes");
      dims.push_back(x.dims[static_cast<std::size_t>(p)]);
    }
    const std::vector<std::int64_t> stride = strides_of(x.dims);
    out = take(x, dims, map_indices(dims, [&](const std::vector<std::int64_t>& at) {
                 std::int64_t src = 0;
                 for (std::size_t a = 0; a < at.size(); ++a) src += at[a] * stride[static_cast<std::size_t>(perm[a])];
                 return src;
               }));
  } else if (op == "Unsqueeze" || op == "Squeeze") {
    check_attributes(i, {"axes"});
    check_inputs(i, 1, 2);
    const Const& x = in(0);
    std::vector<std::int64_t> axes =
        has_input(1) ? known_ints(i, in(1), "axes") : attr_ints(i, "axes", std::vector<std::int64_t>{});
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
          if (next >= x.dims.size()) fail_node(i, "invalid axes");
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
        if (listed && d != 1) fail_node(i, "squeezes axis ", a, " of size ", d);
        if (!(listed || (axes.empty() && d == 1))) dims.push_back(d);
      }
      out.dims = dims;
    }
  } else if (op == "Gather") {
    check_attributes(i, {"axis"});
    check_inputs(i, 2, 2);
    const Const& x = in(0);
    const std::vector<std::int64_t> indices = known_ints(i, in(1), "indices");
    const std::vector<std::int64_t> index_dims = in(1).dims;
    const auto r = static_cast<std::int64_t>(x.dims.size());
    std::int64_t axis = attr_int(i, "axis", 0);
    if (axis < 0) axis += r;
    if (axis < 0 || axis >= r) fail_node(i, "axis ", attr_int(i, "axis", 0), " is out of range for rank ", r);
    const std::int64_t d = x.dims[static_cast<std::size_t>(axis)];
    std::vector<std::int64_t> dims(x.dims.begin(), x.dims.begin() + axis);
    dims.insert(dims.end(), index_dims.begin(), index_dims.end());
    dims.insert(dims.end(), x.dims.begin() + axis + 1, x.dims.end());
    limit(dims);
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
                   fail_node(i, "index ", indices[static_cast<std::size_t>(flat)], " is out of range");
                 src += j * stride[ax];
                 for (std::size_t a = ax + 1; a < x.dims.size(); ++a) src += at[a + q - 1] * stride[a];
                 return src;
               }));
  } else if (op == "Add" || op == "Sub" || op == "Mul" || op == "Div") {
    // Arithmetic on constants (torch's pad subgraphs without constant folding), with numpy broadcasting.
    check_attributes(i, {});
    check_inputs(i, 2, 2);
    const Const& a = in(0);
    const Const& b = in(1);
    if (!a.all_known() || !b.all_known())
      fail_node(i, "computes with the data's shape, which lrplab does not evaluate");
    if (a.is_real() != b.is_real()) fail_node(i, "mixes ", type_name(a.type), " and ", type_name(b.type));
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
        fail_node(i, "shapes ", dims_string(a.dims), " and ", dims_string(b.dims), " do not broadcast");
      dims[k] = da[k] == 1 ? db[k] : da[k];
    }
    limit(dims);
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
          fail_node(i, "divides ", x, " by ", y);
        std::int64_t v = 0;
        const bool overflow = op == "Add"   ? __builtin_add_overflow(x, y, &v)
                              : op == "Sub" ? __builtin_sub_overflow(x, y, &v)
                              : op == "Mul" ? __builtin_mul_overflow(x, y, &v)
                                            : (v = x / y, false);
        if (overflow) fail_node(i, "overflows computing with ", x, " and ", y);
        out.integer.push_back(v);
      }
    }
  } else if (op == "ConstantOfShape") {
    check_attributes(i, {"value"});
    check_inputs(i, 1, 1);
    const std::vector<std::int64_t> dims = known_ints(i, in(0), "shape");
    for (std::int64_t d : dims)
      if (d < 0) fail_node(i, "negative size in shape ", dims_string(dims));
    limit(dims);
    Const value;
    value.type = onnx::TensorProto_DataType_FLOAT;
    value.real = {0.0};
    if (const onnx::AttributeProto* a = attribute(i, "value", onnx::AttributeProto_AttributeType_TENSOR))
      value = read_tensor(a->t(), node_ref(i) + " attribute 'value'");
    if (value.size() != 1) fail_node(i, "the value must hold one element");
    out = take(value, dims, std::vector<std::int64_t>(static_cast<std::size_t>(product(dims)), 0));
  } else {
    fail_node(i, "has op ", op,
              ", which lrplab does not import (here computed from constants only); supported: ", kSupportedOps);
  }
  check_single_output(i);
  out.origin = node_ref(i);
  check_finite(out);
  if (!plausible(out.dims)) fail_node(i, "computes a constant of the implausible shape ", dims_string(out.dims));
  budget(out.dims);
  folded_ += product(out.dims);
  consts_[n.output(0)] = std::move(out);
}

// ---- attributes

void Importer::check_attributes(int i, std::initializer_list<const char*> known) const {
  const auto& attributes = g_.node(i).attribute();
  for (const onnx::AttributeProto& a : attributes) {
    if (std::count_if(attributes.begin(), attributes.end(), [&](const auto& b) { return b.name() == a.name(); }) > 1)
      fail_node(i, "has attribute '", a.name(), "' more than once");
    const bool ok = std::any_of(known.begin(), known.end(), [&](const char* k) { return a.name() == k; });
    if (!ok) {
      std::string list;
      for (const char* k : known) list += std::string(list.empty() ? "" : ", ") + k;
      fail_node(i, "has attribute '", a.name(), "', which lrplab does not import",
                list.empty() ? std::string(" (it takes none)") : " (it reads: " + list + ")");
    }
  }
}

const onnx::AttributeProto* Importer::attribute(int i, const char* name,
                                                onnx::AttributeProto_AttributeType type) const {
  for (const onnx::AttributeProto& a : g_.node(i).attribute()) {
    if (a.name() != name) continue;
    if (a.type() != type)
      fail_node(i, "attribute '", name, "' has type ", onnx::AttributeProto_AttributeType_Name(a.type()), ", expected ",
                onnx::AttributeProto_AttributeType_Name(type));
    return &a;
  }
  return nullptr;
}

std::int64_t Importer::attr_int(int i, const char* name, std::int64_t fallback) const {
  const onnx::AttributeProto* a = attribute(i, name, onnx::AttributeProto_AttributeType_INT);
  return a ? a->i() : fallback;
}

std::int64_t Importer::attr_int(int i, const char* name, std::int64_t fallback, std::int64_t minimum,
                               std::int64_t maximum) const {
  const std::int64_t v = attr_int(i, name, fallback);
  if (v < minimum || v > maximum)
    fail_node(i, "attribute '", name, "' = ", v, " is outside [", minimum, ", ", maximum, "]");
  return v;
}

std::vector<std::int64_t> Importer::attr_ints(int i, const char* name, std::vector<std::int64_t> fallback) const {
  const onnx::AttributeProto* a = attribute(i, name, onnx::AttributeProto_AttributeType_INTS);
  return a ? std::vector<std::int64_t>(a->ints().begin(), a->ints().end()) : fallback;
}

std::vector<std::int64_t> Importer::attr_sizes(int i, const char* name, std::vector<std::int64_t> fallback,
                                               std::int64_t minimum) const {
  std::vector<std::int64_t> v = attr_ints(i, name, std::move(fallback));
  for (std::int64_t x : v)
    if (x < minimum || x > kMaxSize)
      fail_node(i, "attribute '", name, "' ", dims_string(v), " holds a value outside [", minimum, ", ", kMaxSize, "]");
  return v;
}

double Importer::attr_float(int i, const char* name, double fallback) const {
  const onnx::AttributeProto* a = attribute(i, name, onnx::AttributeProto_AttributeType_FLOAT);
  if (a && !std::isfinite(a->f()))
    fail_node(i, "attribute '", name, "' = ", std::isnan(a->f()) ? "NaN" : a->f() > 0 ? "Inf" : "-Inf",
              "; expected a finite number");
  return a ? shortest_double(a->f()) : fallback;
}

std::string Importer::attr_string(int i, const char* name, const std::string& fallback) const {
  const onnx::AttributeProto* a = attribute(i, name, onnx::AttributeProto_AttributeType_STRING);
  return a ? a->s() : fallback;
}

void Importer::check_inputs(int i, int min_count, int max_count) const {
  const onnx::NodeProto& n = g_.node(i);
  int last = n.input_size();
  while (last > 0 && n.input(last - 1).empty()) --last;  // trailing optional inputs left out
  if (last < min_count || last > max_count)
    fail_node(i, "has ", last, " inputs; lrplab imports it with ", min_count,
              min_count == max_count ? std::string() : " to " + std::to_string(max_count));
}

// Every output but the first must be unused (Dropout's mask, MaxPool's indices).
void Importer::check_single_output(int i) const {
  const onnx::NodeProto& n = g_.node(i);
  LRP_CHECK(n.output_size() >= 1 && !n.output(0).empty(), where(), ": ", node_ref(i), ": has no output");
  for (int k = 1; k < n.output_size(); ++k) {
    const std::string& o = n.output(k);
    if (o.empty()) continue;
    bool used = consumers_.count(o) > 0;
    for (const onnx::ValueInfoProto& v : g_.output()) used = used || v.name() == o;
    if (used) fail_node(i, "output ", k, " '", o, "' is used; lrplab imports only the first output");
  }
}

// ---- layer names

// "conv1.weight" -> "conv1", "features.0.weight" -> "features.0"; "" for torch's generated names ("onnx::Conv_61")
// and names without a '.'.
std::string name_from_parameter(const std::string& tensor) {
  if (tensor.rfind("onnx::", 0) == 0) return "";
  const auto dot = tensor.rfind('.');
  if (dot == std::string::npos || dot == 0) return "";
  return tensor.substr(0, dot);
}

// "/conv1/Conv" -> "conv1", "/features/features.0/Conv" -> "features.0", "/Reshape_1" -> "Reshape_1".
std::string name_from_node(const onnx::NodeProto& n) {
  std::vector<std::string> parts;
  std::stringstream in(n.name());
  for (std::string p; std::getline(in, p, '/');)
    if (!p.empty()) parts.push_back(p);
  if (parts.size() >= 2 && parts.back().rfind(n.op_type(), 0) == 0) parts.pop_back();
  std::string name = parts.empty() ? "" : parts.back();
  for (char& c : name)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.' || c == '-')) c = '_';
  return name;
}

std::string Importer::name_for(int i, const std::string& kind, std::initializer_list<std::string> tensors) {
  std::string name;
  for (const std::string& t : tensors)
    if (name.empty()) name = name_from_parameter(t);
  if (name.empty()) name = name_from_node(g_.node(i));
  if (name.empty()) name = kind + std::to_string(steps_.size() + (pending_matmul_ ? 1 : 0));
  std::string unique = name;
  for (int k = 2; used_names_.count(unique); ++k) unique = name + "_" + std::to_string(k);
  used_names_.insert(unique);
  return unique;
}

// ---- chain

void Importer::emit(Step step) {
  flush_matmul();
  follow_shape(step);
  steps_.push_back(std::move(step));
}

void Importer::flush_matmul() {
  if (!pending_matmul_) return;
  steps_.push_back(std::move(*pending_matmul_));
  pending_matmul_.reset();
}

std::array<std::int64_t, 2> Importer::take_pending_pad() {
  if (!pending_pad_) return {0, 0};
  const auto pads = pending_pad_->pads;
  pending_pad_.reset();
  return pads;
}

void Importer::check_no_pending_pad(int i) {
  if (!pending_pad_) return;
  const int p = pending_pad_->node;
  LRP_FAIL(where(), ": ", node_ref(p),
           ": zero padding is imported only when a Conv or AveragePool follows (it "
           "becomes their padding), but ",
           i >= 0 ? node_ref(i) + " follows" : std::string("it is the last node"));
}

Vector to_vector(const std::vector<double>& v) {
  Vector out(static_cast<Index>(v.size()));
  for (std::size_t k = 0; k < v.size(); ++k) out[static_cast<Index>(k)] = static_cast<Scalar>(v[k]);
  return out;
}

void Importer::gemm(int i) {
  check_attributes(i, {"alpha", "beta", "transA", "transB"});
  check_inputs(i, 2, 3);
  const onnx::NodeProto& n = g_.node(i);
  if (attr_float(i, "alpha", 1.0) != 1.0 || attr_float(i, "beta", 1.0) != 1.0)
    fail_node(i, "alpha = ", attr_float(i, "alpha", 1.0), " and beta = ", attr_float(i, "beta", 1.0),
              "; lrplab imports Gemm with alpha = beta = 1");
  if (attr_int(i, "transA", 0, 0, 1) != 0) fail_node(i, "transA = 1; lrplab imports Gemm with transA = 0");
  const std::int64_t trans_b = attr_int(i, "transB", 0, 0, 1);
  const Const& b = constant_input(i, 1, "weight");
  if (!b.is_real() || b.dims.size() != 2)
    fail_node(i, "the weight must be a 2-d float tensor, got ", dims_string(b.dims));
  const std::int64_t out = trans_b ? b.dims[0] : b.dims[1];
  const std::int64_t in = trans_b ? b.dims[1] : b.dims[0];
  Step s;
  s.weight.resize(out, in);
  for (std::int64_t r = 0; r < out; ++r)
    for (std::int64_t c = 0; c < in; ++c)
      s.weight(r, c) = static_cast<Scalar>(b.real[static_cast<std::size_t>(trans_b ? r * in + c : c * out + r)]);
  const bool has_bias = n.input_size() > 2 && !n.input(2).empty();
  if (has_bias) {
    const Const& c = constant_input(i, 2, "bias");
    const bool vector_like = c.dims.size() <= 1 || (c.dims.size() == 2 && c.dims[0] == 1);
    if (!c.is_real() || !vector_like || (static_cast<std::int64_t>(c.size()) != out && c.size() != 1))
      fail_node(i, "the bias C has shape ", dims_string(c.dims), "; lrplab imports a bias of ", out, " values");
    s.bias = c.size() == 1 ? Vector::Constant(out, static_cast<Scalar>(c.real[0])) : to_vector(c.real);
  }
  s.spec.kind = "dense";
  s.spec.params = ParamMap{
      {"in", {static_cast<double>(in)}}, {"out", {static_cast<double>(out)}}, {"bias", {has_bias ? 1.0 : 0.0}}};
  s.spec.name = name_for(i, "dense", {n.input(1), has_bias ? n.input(2) : std::string()});
  s.node = i;
  emit(std::move(s));
}

void Importer::matmul(int i) {
  check_attributes(i, {});
  check_inputs(i, 2, 2);
  const onnx::NodeProto& n = g_.node(i);
  const Const& w = constant_input(i, 1, "weight");
  if (!w.is_real() || w.dims.size() != 2)
    fail_node(i, "the weight must be a 2-d float tensor [in, out], got ", dims_string(w.dims));
  const std::int64_t in = w.dims[0], out = w.dims[1];
  Step s;
  s.weight.resize(out, in);  // transposed into lrplab's [out, in]
  for (std::int64_t r = 0; r < out; ++r)
    for (std::int64_t c = 0; c < in; ++c)
      s.weight(r, c) = static_cast<Scalar>(w.real[static_cast<std::size_t>(c * out + r)]);
  s.spec.kind = "dense";
  s.spec.params = ParamMap{{"in", {static_cast<double>(in)}}, {"out", {static_cast<double>(out)}}, {"bias", {0.0}}};
  s.node = i;
  flush_matmul();
  follow_shape(s);
  s.spec.name = name_for(i, "dense", {n.input(1)});
  pending_matmul_ = std::move(s);
}

// Add after a MatMul: its bias (the layer's name comes from the bias when the weight gave none).
void Importer::add(int i) {
  check_attributes(i, {});
  check_inputs(i, 2, 2);
  const onnx::NodeProto& n = g_.node(i);
  const int k = n.input(0) == current_ ? 1 : 0;
  if (!pending_matmul_) fail_node(i, "lrplab imports Add only as the bias of the MatMul right before it (x @ W + b)");
  const Const& b = constant_input(i, k, "bias");
  Step& s = *pending_matmul_;
  const Index out = s.weight.rows();
  const bool vector_like = b.dims.size() <= 1 || (b.dims.size() == 2 && b.dims[0] == 1);
  if (!b.is_real() || !vector_like || (static_cast<Index>(b.size()) != out && b.size() != 1))
    fail_node(i, "the bias has shape ", dims_string(b.dims), "; lrplab imports a bias of ", out,
              " values after the MatMul");
  s.bias = b.size() == 1 ? Vector::Constant(out, static_cast<Scalar>(b.real[0])) : to_vector(b.real);
  s.spec.params.set("bias", 1.0);
  const onnx::NodeProto& mm = g_.node(s.node);
  if (name_from_parameter(mm.input(1)).empty() && !name_from_parameter(n.input(k)).empty()) {
    used_names_.erase(s.spec.name);
    s.spec.name.clear();
    const std::string base = name_from_parameter(n.input(k));
    std::string unique = base;
    for (int m = 2; used_names_.count(unique); ++m) unique = base + "_" + std::to_string(m);
    used_names_.insert(unique);
    s.spec.name = unique;
  }
  flush_matmul();
}

void Importer::conv(int i) {
  check_attributes(i, {"auto_pad", "dilations", "group", "kernel_shape", "pads", "strides"});
  check_inputs(i, 2, 3);
  const onnx::NodeProto& n = g_.node(i);
  const std::string auto_pad = attr_string(i, "auto_pad", "NOTSET");
  if (auto_pad != "NOTSET") fail_node(i, "auto_pad = ", auto_pad, "; lrplab imports Conv with explicit pads (NOTSET)");
  const Const& w = constant_input(i, 1, "weight");
  if (!w.is_real() || w.dims.size() != 4)
    fail_node(i, "the weight has shape ", dims_string(w.dims),
              "; lrplab imports 2-d convolutions (weight [out, in/groups, kh, kw])");
  const std::vector<std::int64_t> kernel = attr_sizes(i, "kernel_shape", {w.dims[2], w.dims[3]}, 1);
  if (kernel != std::vector<std::int64_t>{w.dims[2], w.dims[3]})
    fail_node(i, "kernel_shape ", dims_string(kernel), " does not match the weight ", dims_string(w.dims));
  const std::vector<std::int64_t> strides = attr_sizes(i, "strides", {1, 1}, 1);
  const std::vector<std::int64_t> dilations = attr_sizes(i, "dilations", {1, 1}, 1);
  const std::vector<std::int64_t> pads = attr_sizes(i, "pads", {0, 0, 0, 0}, 0);
  if (strides.size() != 2 || dilations.size() != 2 || pads.size() != 4)
    fail_node(i, "strides, dilations or pads do not describe a 2-d convolution");
  if (pads[0] != pads[2] || pads[1] != pads[3])
    fail_node(i, "pads ", dims_string(pads),
              " (begin h, w, end h, w) are asymmetric; lrplab imports symmetric "
              "zero padding only");
  const std::int64_t groups = attr_int(i, "group", 1, 1, kMaxSize);
  const std::array<std::int64_t, 2> extra = take_pending_pad();
  const bool has_bias = n.input_size() > 2 && !n.input(2).empty();
  Step s;
  const std::int64_t out = w.dims[0];
  const std::int64_t cols = w.dims[1] * w.dims[2] * w.dims[3];
  s.weight.resize(out, cols);
  for (std::int64_t k = 0; k < out * cols; ++k)
    s.weight.data()[k] = static_cast<Scalar>(w.real[static_cast<std::size_t>(k)]);
  if (has_bias) {
    const Const& b = constant_input(i, 2, "bias");
    if (!b.is_real() || static_cast<std::int64_t>(b.size()) != out)
      fail_node(i, "the bias has shape ", dims_string(b.dims), ", expected [", out, "]");
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
  s.spec.name = name_for(i, "conv2d", {n.input(1), has_bias ? n.input(2) : std::string()});
  s.node = i;
  emit(std::move(s));
}

void Importer::pool(int i, bool max) {
  if (max)
    check_attributes(i, {"auto_pad", "ceil_mode", "dilations", "kernel_shape", "pads", "storage_order", "strides"});
  else
    check_attributes(i, {"auto_pad", "ceil_mode", "count_include_pad", "kernel_shape", "pads", "strides"});
  check_inputs(i, 1, 1);
  const std::string auto_pad = attr_string(i, "auto_pad", "NOTSET");
  if (auto_pad != "NOTSET")
    fail_node(i, "auto_pad = ", auto_pad, "; lrplab imports pooling with explicit pads (NOTSET)");
  const std::int64_t ceil_mode = attr_int(i, "ceil_mode", 0, 0, 1);
  const std::vector<std::int64_t> kernel = attr_sizes(i, "kernel_shape", {}, 1);
  if (kernel.size() != 2) fail_node(i, "kernel_shape ", dims_string(kernel), "; lrplab imports 2-d pooling");
  if (kernel[0] * kernel[1] > kMaxFolded) fail_node(i, "kernel_shape ", dims_string(kernel), " is implausibly large");
  const std::vector<std::int64_t> strides = attr_sizes(i, "strides", {1, 1}, 1);  // ONNX's default stride is 1
  const std::vector<std::int64_t> pads = attr_sizes(i, "pads", {0, 0, 0, 0}, 0);
  if (strides.size() != 2 || pads.size() != 4) fail_node(i, "strides or pads do not describe 2-d pooling");
  if (max) {
    attr_int(i, "storage_order", 0, 0, 1);  // which order MaxPool's unused indices output would have
    const std::vector<std::int64_t> dilations = attr_sizes(i, "dilations", {1, 1}, 1);
    if (std::any_of(dilations.begin(), dilations.end(), [](std::int64_t d) { return d != 1; }))
      fail_node(i, "dilations ", dims_string(dilations), "; lrplab imports max pooling without dilation");
  }
  if (pads[0] != pads[2] || pads[1] != pads[3])
    fail_node(i, "pads ", dims_string(pads),
              " (begin h, w, end h, w) are asymmetric; lrplab imports symmetric "
              "padding only");
  const bool own_pads = std::any_of(pads.begin(), pads.end(), [](std::int64_t p) { return p != 0; });
  if (!max && own_pads && attr_int(i, "count_include_pad", 0, 0, 1) != 1)
    fail_node(i, "count_include_pad = 0 with pads ", dims_string(pads),
              "; lrplab's average pooling counts the padding in the divisor (count_include_pad = 1)");
  const std::array<std::int64_t, 2> extra = max ? std::array<std::int64_t, 2>{0, 0} : take_pending_pad();
  auto pair = [](std::int64_t a, std::int64_t b) { return ParamValue{static_cast<double>(a), static_cast<double>(b)}; };
  Step s;
  s.spec.kind = max ? "maxpool2d" : "avgpool2d";
  s.spec.params = ParamMap{{"kernel", pair(kernel[0], kernel[1])},
                           {"stride", pair(strides[0], strides[1])},
                           {"padding", pair(pads[0] + extra[0], pads[1] + extra[1])},
                           {"ceil_mode", {static_cast<double>(ceil_mode)}}};
  s.spec.name = name_for(i, s.spec.kind, {});
  s.node = i;
  emit(std::move(s));
}

// Zero padding of the spatial axes: kept until the Conv or AveragePool that follows takes it.
void Importer::pad(int i) {
  check_attributes(i, {"mode", "pads", "value"});
  check_inputs(i, 1, 3);
  const onnx::NodeProto& n = g_.node(i);
  const std::string mode = attr_string(i, "mode", "constant");
  if (mode != "constant") fail_node(i, "mode '", mode, "'; lrplab imports constant zero padding only");
  std::vector<std::int64_t> pads;
  if (n.input_size() > 1 && !n.input(1).empty())
    pads = known_ints(i, constant_input(i, 1, "pads"), "pads");
  else
    pads = attr_ints(i, "pads", {});
  double value = attr_float(i, "value", 0.0);
  if (n.input_size() > 2 && !n.input(2).empty())
    value = real_scalar(i, constant_input(i, 2, "constant value"), "constant value");
  if (value != 0.0) fail_node(i, "pads with the value ", value, "; lrplab imports zero padding only");
  if (current_rank_ != 4 || pads.size() != 8)
    fail_node(i, "pads ", dims_string(pads), " of a rank-", current_rank_,
              " tensor; lrplab imports padding of the two spatial axes of [N, C, H, W]");
  if (pads[0] != 0 || pads[1] != 0 || pads[4] != 0 || pads[5] != 0)
    fail_node(i, "pads ", dims_string(pads), " pad the batch or channel axis; lrplab imports spatial padding only");
  if (std::any_of(pads.begin(), pads.end(), [](std::int64_t p) { return p < 0; }))
    fail_node(i, "pads ", dims_string(pads), " crop (negative); lrplab imports zero padding only");
  if (std::any_of(pads.begin(), pads.end(), [](std::int64_t p) { return p > kMaxSize; }))
    fail_node(i, "pads ", dims_string(pads), " are implausibly large");
  if (pads[2] != pads[6] || pads[3] != pads[7])
    fail_node(i, "pads ", dims_string(pads),
              " (begin N, C, H, W, end N, C, H, W) are asymmetric; lrplab imports "
              "symmetric zero padding only (folded into the following Conv or AveragePool)");
  if (pending_pad_) {
    pending_pad_->pads[0] += pads[2];
    pending_pad_->pads[1] += pads[3];
  } else {
    pending_pad_ = PendingPad{i, {pads[2], pads[3]}};
  }
}

// Reshape to [batch, features]: a flatten.
void Importer::reshape(int i) {
  check_attributes(i, {"allowzero"});
  check_inputs(i, 2, 2);
  const Const& shape = constant_input(i, 1, "shape");
  if (shape.is_real()) fail_node(i, "the shape must be an integer tensor, got ", type_name(shape.type));
  const auto symbol = [&](std::size_t k) { return shape.symbol.empty() ? kKnown : shape.symbol[k]; };
  const bool allowzero = attr_int(i, "allowzero", 0, 0, 1) != 0;
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
                          (symbol(0) == kKnown && b > 0 && static_batch_ && b == *static_batch_);
    const bool features_ok = symbol(1) == kKnown && (f == -1 || f > 0) && !(b == -1 && symbol(0) == kKnown && f == -1);
    ok = batch_ok && features_ok;
    features = f;
  }
  if (!ok)
    fail_node(i, "reshapes to ", text.str(),
              "; lrplab imports Reshape only as a flatten to [batch, features] "
              "(e.g. [batch, -1], [0, -1], [-1, features])");
  Step s;
  s.spec.kind = "flatten";
  s.spec.name = name_for(i, "flatten", {});
  s.flatten_features = features;
  s.node = i;
  emit(std::move(s));
}

void Importer::batchnorm(int i) {
  check_attributes(i, {"epsilon", "momentum", "spatial", "training_mode"});
  check_inputs(i, 5, 5);
  const onnx::NodeProto& n = g_.node(i);
  if (attr_int(i, "training_mode", 0, 0, 1) != 0)
    fail_node(i, "training_mode = 1; lrplab imports inference batch norms");
  if (attr_int(i, "spatial", 1, 0, 1) != 1) fail_node(i, "spatial = 0; lrplab imports per-channel batch norms");
  const Const& scale = constant_input(i, 1, "scale");
  const Const& shift = constant_input(i, 2, "bias");
  const Const& mean = constant_input(i, 3, "running mean");
  const Const& var = constant_input(i, 4, "running variance");
  const std::size_t c = scale.size();
  for (const Const* t : {&scale, &shift, &mean, &var})
    if (!t->is_real() || t->size() != c || t->dims.size() != 1)
      fail_node(i, "scale, bias, mean and variance must be float vectors of equal length, got ", t->origin,
                " of shape ", dims_string(t->dims));
  Step s;
  s.weight.resize(1, static_cast<Index>(c));
  s.weight.row(0) = to_vector(scale.real).transpose();
  s.bias = to_vector(shift.real);
  s.mean = to_vector(mean.real);
  s.var = to_vector(var.real);
  s.spec.kind = "batchnorm";
  s.spec.params = ParamMap{{"channels", {static_cast<double>(c)}}, {"eps", {attr_float(i, "epsilon", 1e-5)}}};
  s.spec.name = name_for(i, "batchnorm", {n.input(1), n.input(2)});
  s.node = i;
  emit(std::move(s));
}

void Importer::dropout(int i) {
  check_attributes(i, {"ratio", "seed", "is_test"});
  check_inputs(i, 1, 3);
  const onnx::NodeProto& n = g_.node(i);
  double ratio = attr_float(i, "ratio", 0.5);  // an attribute before opset 12, an input since
  if (n.input_size() > 1 && !n.input(1).empty()) {
    const Const& r = constant_input(i, 1, "ratio");
    ratio = real_scalar(i, r, "ratio");
    if (r.type == onnx::TensorProto_DataType_FLOAT) ratio = shortest_double(static_cast<float>(ratio));
  }
  if (n.input_size() > 2 && !n.input(2).empty() &&
      real_scalar(i, constant_input(i, 2, "training_mode"), "training_mode") != 0.0)
    fail_node(i, "training_mode is true; lrplab imports inference (identity) dropout only");
  emit_layer(i, "dropout", ParamMap{{"p", {ratio}}});
}

// Clip with constant bounds: hardtanh (relu6 for [0, 6]). Opset 11 and later give the bounds as inputs, opset 6 to
// 10 as the attributes min and max.
void Importer::clip(int i) {
  check_attributes(i, {"min", "max"});
  check_inputs(i, 1, 3);
  const onnx::NodeProto& n = g_.node(i);
  const char* const supported =
      "lrplab imports Clip with two constant bounds min < max (torch's nn.ReLU6, nn.Hardtanh, clamp(x, min, max)) as "
      "the layer hardtanh";
  double bounds[2];
  for (int k = 0; k < 2; ++k) {
    const char* name = k == 0 ? "min" : "max";
    const bool as_input = n.input_size() > k + 1 && !n.input(k + 1).empty();
    const onnx::AttributeProto* a = attribute(i, name, onnx::AttributeProto_AttributeType_FLOAT);
    if (as_input) {
      if (constant(n.input(k + 1)) == nullptr)
        fail_node(i, "the ", name, " bound (input ", k + 1, " '", n.input(k + 1), "') is ",
                  chain_rank_.count(n.input(k + 1)) ? "computed from the data" : "not a constant", "; ", supported);
      const Const& c = constant_input(i, k + 1, name);
      bounds[k] = real_scalar(i, c, name);
      if (c.type == onnx::TensorProto_DataType_FLOAT) bounds[k] = shortest_double(static_cast<float>(bounds[k]));
    } else if (a != nullptr) {
      bounds[k] = attr_float(i, name, 0.0);
    } else {
      fail_node(i, "has no ", name, " bound (", k == 0 ? "clamp(x, max=...)" : "clamp(x, min=...)", "); ", supported);
    }
  }
  if (!(bounds[0] < bounds[1])) fail_node(i, "clips to [", bounds[0], ", ", bounds[1], "]; ", supported);
  if (bounds[0] == 0.0 && bounds[1] == 6.0)
    emit_layer(i, "relu6");
  else
    emit_layer(i, "hardtanh", ParamMap{{"min", {bounds[0]}}, {"max", {bounds[1]}}});
}

// The mean over H and W of [N, C, H, W]: x.mean((2, 3)) is global_avgpool + flatten ([N, C]); with keepdim=True
// global_avgpool alone ([N, C, 1, 1]).
std::int64_t Importer::reduce_mean(int i) {
  check_attributes(i, {"axes", "keepdims", "noop_with_empty_axes"});
  check_inputs(i, 1, 2);
  const onnx::NodeProto& n = g_.node(i);
  std::vector<std::int64_t> axes = attr_ints(i, "axes", {});  // an attribute up to opset 17, an input since 18
  if (n.input_size() > 1 && !n.input(1).empty()) axes = known_ints(i, constant_input(i, 1, "axes"), "axes");
  const std::int64_t keepdims = attr_int(i, "keepdims", 1, 0, 1);
  std::vector<std::int64_t> sorted = axes;
  for (std::int64_t& a : sorted)
    if (a < 0) a += current_rank_;
  std::sort(sorted.begin(), sorted.end());
  if (current_rank_ != 4 || sorted != std::vector<std::int64_t>{2, 3})
    fail_node(i, "averages a rank-", current_rank_, " tensor over the axes ",
              axes.empty() ? std::string("(all)") : dims_string(axes), " (keepdims ", keepdims,
              "); lrplab imports ReduceMean only over the spatial axes [2, 3] of [N, C, H, W] (x.mean((2, 3)), "
              "keepdims 0 or 1: global average pooling)");
  emit_layer(i, "global_avgpool");
  if (keepdims == 1) return 4;
  emit_layer(i, "flatten");
  return 2;
}

// ONNX's Gelu (opset 20): approximate "none" (erf) or "tanh".
void Importer::gelu_node(int i) {
  check_attributes(i, {"approximate"});
  check_inputs(i, 1, 1);
  const std::string approximate = attr_string(i, "approximate", "none");
  if (approximate != "none" && approximate != "tanh")
    fail_node(i, "approximate = '", approximate,
              "'; lrplab imports GELU exactly (approximate 'none', erf) or as its tanh approximation ('tanh')");
  emit_layer(i, "gelu", ParamMap{{"tanh", {approximate == "tanh" ? 1.0 : 0.0}}});
}

// GRU, RNN and attention are refused by name before the chain is walked: torch exports them with a Transpose in
// front, which the chain would otherwise report first. Attention shows as a MatMul of two tensors computed from
// the data (queries times keys, then the softmaxed weights times values); lrplab's MatMul is a dense layer with a
// constant weight.
void Importer::refuse_unsupported_structures() const {
  std::set<std::string> constant_tensors;
  for (const auto& [name, c] : consts_) constant_tensors.insert(name);
  for (int i = 0; i < g_.node_size(); ++i) {
    const onnx::NodeProto& n = g_.node(i);
    const std::string& op = n.op_type();
    if (!default_domain(n.domain())) continue;
    if (op == "GRU" || op == "RNN")
      fail_node(i, op == "GRU" ? "GRU (torch's nn.GRU)" : "RNN (torch's nn.RNN, an Elman network)",
                " is not supported (supported recurrent layer: LSTM, as torch exports nn.LSTM)");
    bool all_constant = n.input_size() > 0 || op == "Constant";
    for (const std::string& in : n.input()) all_constant = all_constant && (in.empty() || constant_tensors.count(in));
    if (all_constant || op == "Shape") {  // shape arithmetic counts as constant here
      for (const std::string& out : n.output()) constant_tensors.insert(out);
      continue;
    }
    if (op == "MatMul" && n.input_size() == 2 && !constant_tensors.count(n.input(0)) &&
        !constant_tensors.count(n.input(1)))
      fail_node(i, "multiplies two computed tensors ('", n.input(0), "' and '", n.input(1),
                "'): attention (torch's nn.MultiheadAttention / a Transformer layer) is not supported; lrplab "
                "imports MatMul only with a constant weight (a dense layer)");
  }
}

// ---- activation patterns

bool Importer::default_op(int node, const char* op) const {
  if (node < 0) return false;
  const onnx::NodeProto& n = g_.node(node);
  return default_domain(n.domain()) && n.op_type() == op;
}

int Importer::sole_reader(const std::string& t) const {
  for (const onnx::ValueInfoProto& v : g_.output())
    if (v.name() == t) return -1;
  const auto it = consumers_.find(t);
  if (it == consumers_.end() || it->second.empty()) return -1;
  for (int c : it->second)
    if (c != it->second.front()) return -1;
  return it->second.front();
}

const std::string* Importer::other_input(int node, const std::string& t) const {
  const onnx::NodeProto& n = g_.node(node);
  if (n.input_size() != 2 || n.output_size() != 1) return nullptr;
  if (n.input(0) == t) return &n.input(1);
  if (n.input(1) == t) return &n.input(0);
  return nullptr;
}

std::optional<double> Importer::scalar_constant(const std::string& t) const {
  const Const* c = constant(t);
  if (c == nullptr || c->size() != 1 || !c->is_real()) return std::nullopt;
  return c->real[0];
}

bool Importer::constant_near(const std::string& t, double want) const {
  const std::optional<double> v = scalar_constant(t);
  return v && std::abs(*v - want) <= 1e-6 * std::abs(want);
}

// 0.5·x·a with two Muls, as torch writes it, (x·a)·0.5, or grouped (x·0.5)·a or x·(a·0.5); constants on either side.
bool Importer::half_product(const std::string& x, const std::string& a, Pattern& p) const {
  const int m = sole_reader(a);
  if (!default_op(m, "Mul")) return false;
  const std::string* o = other_input(m, a);
  if (o == nullptr) return false;
  const std::string& mo = g_.node(m).output(0);
  if (*o == x) {  // (x·a)·0.5
    const int h = sole_reader(mo);
    if (!default_op(h, "Mul") || other_input(h, mo) == nullptr || !constant_near(*other_input(h, mo), 0.5))
      return false;
    p.nodes.insert(p.nodes.end(), {m, h});
    p.output = g_.node(h).output(0);
    return true;
  }
  if (constant_near(*o, 0.5)) {  // x·(a·0.5)
    const int h = sole_reader(mo);
    if (!default_op(h, "Mul") || other_input(h, mo) == nullptr || *other_input(h, mo) != x) return false;
    p.nodes.insert(p.nodes.end(), {m, h});
    p.output = g_.node(h).output(0);
    return true;
  }
  const auto it = producer_.find(*o);  // (x·0.5)·a
  if (it == producer_.end()) return false;
  const int h = it->second;
  if (!default_op(h, "Mul") || sole_reader(*o) != m || other_input(h, x) == nullptr ||
      !constant_near(*other_input(h, x), 0.5))
    return false;
  p.nodes.insert(p.nodes.end(), {h, m});
  p.output = mo;
  return true;
}

// GELU, torch's erf form: 0.5·x·(1 + erf(x / √2)) (Div by √2, or Mul by 1/√2).
bool Importer::gelu_erf(const std::string& x, int first, Pattern& p, std::string& why) const {
  const bool div = default_op(first, "Div") && g_.node(first).input(0) == x;
  if (!div && !default_op(first, "Mul")) return false;
  const std::string* c = div ? &g_.node(first).input(1) : other_input(first, x);
  const std::string& d = g_.node(first).output(0);
  const int e = sole_reader(d);
  if (c == nullptr || !default_op(e, "Erf")) return false;
  if (!constant_near(*c, div ? std::sqrt(2.0) : std::sqrt(0.5))) {
    const std::optional<double> v = scalar_constant(*c);
    why = "the Erf reads x " + std::string(div ? "divided by " : "times ") +
          (v ? detail::concat(*v) : "'" + *c + "'") + ", not GELU's " + (div ? "√2" : "1/√2");
    return false;
  }
  const std::string& eo = g_.node(e).output(0);
  const int a = sole_reader(eo);
  if (!default_op(a, "Add") || other_input(a, eo) == nullptr || !constant_near(*other_input(a, eo), 1.0)) {
    why = "the Erf's output is not followed by Add(·, 1)";
    return false;
  }
  p.kind = "gelu";
  p.params = ParamMap{{"tanh", {0.0}}};
  p.nodes = {first, e, a};
  if (half_product(x, g_.node(a).output(0), p)) return true;
  why = "1 + erf(x/√2) is not multiplied by x and 0.5";
  return false;
}

// GELU, torch's tanh approximation: 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))), x³ as Mul(x, Mul(x, x)) or Pow(x, 3).
bool Importer::gelu_tanh(const std::string& x, int first, Pattern& p, std::string& why) const {
  std::vector<int> nodes;
  std::string cube;
  if (default_op(first, "Pow") && g_.node(first).input(0) == x && constant_near(g_.node(first).input(1), 3.0)) {
    nodes = {first};
    cube = g_.node(first).output(0);
  } else if (default_op(first, "Mul") && g_.node(first).input_size() == 2 && g_.node(first).input(0) == x &&
             g_.node(first).input(1) == x) {
    const std::string& sq = g_.node(first).output(0);
    const int c = sole_reader(sq);
    if (!default_op(c, "Mul") || other_input(c, sq) == nullptr || *other_input(c, sq) != x) return false;
    nodes = {first, c};
    cube = g_.node(c).output(0);
  } else {
    return false;
  }
  why = "x³ is not used as in GELU's tanh approximation 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³)))";
  const int k = sole_reader(cube);
  if (!default_op(k, "Mul") || other_input(k, cube) == nullptr || !constant_near(*other_input(k, cube), 0.044715))
    return false;
  const std::string& ko = g_.node(k).output(0);
  const int s = sole_reader(ko);
  if (!default_op(s, "Add") || other_input(s, ko) == nullptr || *other_input(s, ko) != x) return false;
  const std::string& so = g_.node(s).output(0);
  const int u = sole_reader(so);
  if (!default_op(u, "Mul") || other_input(u, so) == nullptr ||
      !constant_near(*other_input(u, so), std::sqrt(2.0 / 3.14159265358979323846)))
    return false;
  const int t = sole_reader(g_.node(u).output(0));
  if (!default_op(t, "Tanh")) return false;
  const std::string& to = g_.node(t).output(0);
  const int a = sole_reader(to);
  if (!default_op(a, "Add") || other_input(a, to) == nullptr || !constant_near(*other_input(a, to), 1.0)) return false;
  nodes.insert(nodes.end(), {k, s, u, t, a});
  p.kind = "gelu";
  p.params = ParamMap{{"tanh", {1.0}}};
  p.nodes = nodes;
  if (half_product(x, g_.node(a).output(0), p)) return true;
  why = "1 + tanh(...) is not multiplied by x and 0.5";
  return false;
}

// SiLU: Mul(x, Sigmoid(x)), either order.
bool Importer::silu(const std::string& x, int first, Pattern& p) const {
  if (!default_op(first, "Sigmoid")) return false;
  const std::string& so = g_.node(first).output(0);
  const int m = sole_reader(so);
  if (!default_op(m, "Mul") || other_input(m, so) == nullptr || *other_input(m, so) != x) return false;
  p.kind = "silu";
  p.nodes = {first, m};
  p.output = g_.node(m).output(0);
  return true;
}

// Softplus with beta ≠ 1: Softplus(x·beta) / beta (or · 1/beta), beta > 0. ONNX's Softplus has no threshold: the
// layer gets torch's default 20.
bool Importer::softplus_beta(const std::string& x, int first, Pattern& p, std::string& why) const {
  if (!default_op(first, "Mul") || other_input(first, x) == nullptr) return false;
  const std::optional<double> beta = scalar_constant(*other_input(first, x));
  const std::string& mo = g_.node(first).output(0);
  const int sp = sole_reader(mo);
  if (!beta || !default_op(sp, "Softplus")) return false;
  const std::string& so = g_.node(sp).output(0);
  const int d = sole_reader(so);
  const bool div = default_op(d, "Div") && g_.node(d).input_size() == 2 && g_.node(d).input(0) == so;
  const bool ok = *beta > 0 && (div ? constant_near(g_.node(d).input(1), *beta)
                                    : default_op(d, "Mul") && other_input(d, so) != nullptr &&
                                          constant_near(*other_input(d, so), 1.0 / *beta));
  if (!ok) {
    why = detail::concat("Softplus(x · ", *beta, ") is not divided by the same beta > 0 (torch's Softplus(beta))");
    return false;
  }
  p.kind = "softplus";
  p.params = ParamMap{{"beta", {*beta}}, {"threshold", {20.0}}};
  p.nodes = {first, sp, d};
  p.output = g_.node(d).output(0);
  return true;
}

bool Importer::match_pattern(const std::string& x, int first, Pattern& p, std::string& why) const {
  return gelu_erf(x, first, p, why) || gelu_tanh(x, first, p, why) || silu(x, first, p) ||
         softplus_beta(x, first, p, why);
}

// Node i reads the chain's tensor x and starts a pattern: it becomes one layer, or an error naming node i.
void Importer::activation_pattern(int i) {
  const std::string x = current_;
  Pattern p;
  std::string why;
  // Each node reading x may be the pattern's anchor ((x·0.5) may come first); x must feed the pattern's nodes
  // only (else the graph branches).
  bool closed = false;
  for (int first : std::set<int>(consumers_[x].begin(), consumers_[x].end())) {
    p = Pattern{};
    if (!match_pattern(x, first, p, why)) continue;
    closed = std::find(p.nodes.begin(), p.nodes.end(), i) != p.nodes.end();
    for (int c : consumers_[x]) closed = closed && std::find(p.nodes.begin(), p.nodes.end(), c) != p.nodes.end();
    if (closed) break;
  }
  if (!closed)
    fail_node(i, "reads '", x, "'", why.empty() ? std::string() : " but " + why,
              "; lrplab imports Div, Mul, Erf and Pow, and a Sigmoid whose input is read again, only as torch "
              "exports these activations: GELU (x * 0.5 * (1 + erf(x / 1.4142135)) or the tanh approximation "
              "0.5 * x * (1 + tanh(0.7978846 * (x + 0.044715 * x^3)))), SiLU (x * sigmoid(x)) and Softplus with "
              "beta (softplus(beta * x) / beta)");
  for (int k : p.nodes) {
    check_single_output(k);
    if (k != i) absorbed_.insert(k);
  }
  emit_layer(i, p.kind, p.params);
  current_ = p.output;
  chain_rank_[current_] = current_rank_;
}

void Importer::chain_step(int i) {
  const onnx::NodeProto& n = g_.node(i);
  const std::string& op = n.op_type();
  if (default_domain(n.domain()) && (sequence_node(i) || normalization_node(i))) return;
  if (integer_input_ && steps_.empty())
    fail_node(i, "reads the graph input, which holds integers (token ids); lrplab imports integer inputs only "
                 "into an embedding (Gather from a constant table [vocab, dim], as torch exports nn.Embedding)");
  auto unsupported = [&]() {
    LRP_FAIL(where(), ": node ", i, " '", n.name(), "' has op ", op,
             default_domain(n.domain()) ? std::string() : " (domain " + n.domain() + ")",
             ", which lrplab does not import; supported: ", kSupportedOps);
  };
  // clang-format off
  static const std::set<std::string> kChainOps{
      "Gemm", "MatMul", "Add", "Conv", "Relu", "Tanh", "Sigmoid", "Identity", "MaxPool", "AveragePool",
      "GlobalAveragePool", "Pad", "Flatten", "Reshape", "BatchNormalization", "Dropout", "Softmax", "LogSoftmax",
      "LeakyRelu", "Elu", "Softplus", "Gelu", "Clip", "ReduceMean", "Div", "Mul", "Erf", "Pow"};
  // clang-format on
  if (!default_domain(n.domain()) || !kChainOps.count(op)) unsupported();
  if (dropped_softmax_ >= 0)
    fail_node(i, "follows the ", g_.node(dropped_softmax_).op_type(), " at ", node_ref(dropped_softmax_),
              "; lrplab drops a Softmax/LogSoftmax only when it is the last node");

  // The data input: the first, or for Add, Mul and Div the one that is not a constant.
  int data = 0;
  if ((op == "Add" || op == "Mul" || op == "Div") && n.input_size() == 2) {
    const bool c0 = constant(n.input(0)) != nullptr, c1 = constant(n.input(1)) != nullptr;
    if (op == "Add" && !c0 && !c1)
      fail_node(i, "adds two computed tensors ('", n.input(0), "' and '", n.input(1),
                "'): the graph branches (a skip connection?); lrplab imports sequential models only");
    data = c0 ? 1 : (!c1 && n.input(0) != current_ && n.input(1) == current_) ? 1 : 0;
  }
  if (n.input_size() <= data || n.input(data).empty()) fail_node(i, "has no data input");
  const std::string& x = n.input(data);
  if (x != current_ && lstm_ && seq_.count(x)) close_lstm(i, x);
  if (x != current_) {
    if (chain_rank_.count(x))
      fail_node(i, "reads '", x, "', not the output of the previous node ('", current_,
                "'): the graph branches (a skip connection?); lrplab imports sequential models only");
    fail_node(i, "reads '", x, "', which neither the graph input nor an earlier node provides");
  }
  if (op != "Add") flush_matmul();
  if (op != "Pad" && op != "Conv" && op != "AveragePool") check_no_pending_pad(i);
  // Div, Mul, Erf, Pow, and a Sigmoid whose input is read again, start one of torch's activation patterns.
  if (op == "Div" || op == "Mul" || op == "Erf" || op == "Pow" ||
      (op == "Sigmoid" && std::set<int>(consumers_[x].begin(), consumers_[x].end()).size() > 1)) {
    activation_pattern(i);
    return;
  }

  std::int64_t rank = current_rank_;
  auto simple = [&](const std::string& kind) {
    check_attributes(i, {});
    check_inputs(i, 1, 1);
    emit_layer(i, kind);
  };
  if (op == "Gemm") {
    gemm(i);
    rank = 2;
  } else if (op == "MatMul") {
    matmul(i);
  } else if (op == "Add") {
    add(i);
  } else if (op == "Conv") {
    conv(i);
  } else if (op == "Relu") {
    simple("relu");
  } else if (op == "Tanh") {
    simple("tanh");
  } else if (op == "Sigmoid") {
    simple("sigmoid");
  } else if (op == "LeakyRelu" || op == "Elu") {
    check_attributes(i, {"alpha"});
    check_inputs(i, 1, 1);
    const bool leaky = op == "LeakyRelu";
    emit_layer(i, leaky ? "leaky_relu" : "elu",
               ParamMap{{leaky ? "slope" : "alpha", {attr_float(i, "alpha", leaky ? 0.01 : 1.0)}}});
  } else if (op == "Softplus") {
    // ONNX's Softplus is log(1 + exp(x)): torch writes it for beta = 1 and drops the threshold, so the
    // layer gets torch's default threshold 20 (it differs from log(1 + exp(x)) by less than 2.1e-9).
    simple("softplus");
  } else if (op == "Gelu") {
    gelu_node(i);
  } else if (op == "Clip") {
    clip(i);
  } else if (op == "ReduceMean") {
    rank = reduce_mean(i);
  } else if (op == "Identity") {
    simple("identity");
  } else if (op == "MaxPool") {
    pool(i, true);
  } else if (op == "AveragePool") {
    pool(i, false);
  } else if (op == "GlobalAveragePool") {
    simple("global_avgpool");
  } else if (op == "Pad") {
    pad(i);
  } else if (op == "Flatten") {
    check_attributes(i, {"axis"});
    check_inputs(i, 1, 1);
    std::int64_t axis = attr_int(i, "axis", 1);
    if (axis < 0) axis += current_rank_;
    if (axis != 1)
      fail_node(i, "axis = ", attr_int(i, "axis", 1), "; lrplab imports Flatten with axis 1 (keeping the batch axis)");
    emit_layer(i, "flatten");
    rank = 2;
  } else if (op == "Reshape") {
    reshape(i);
    rank = 2;
  } else if (op == "BatchNormalization") {
    batchnorm(i);
  } else if (op == "Dropout") {
    dropout(i);
  } else if (op == "Softmax" || op == "LogSoftmax") {
    check_attributes(i, {"axis"});
    check_inputs(i, 1, 1);
    attr_int(i, "axis", -1, -current_rank_, current_rank_ - 1);
    dropped_softmax_ = i;
  } else {
    unsupported();
  }
  check_single_output(i);
  current_ = n.output(0);
  current_rank_ = rank;
  chain_rank_[current_] = rank;
}

void Importer::emit_layer(int i, const std::string& kind, ParamMap params) {
  Step s;
  s.spec.kind = kind;
  s.spec.params = std::move(params);
  s.spec.name = name_for(i, kind, {});
  s.node = i;
  emit(std::move(s));
}

// ---- input normalization inside the graph

// A Sub, Div, Mul or Add of a constant on the graph input, before any layer (how torchvision-style
// `(x - mean) / std` exports): folded into the model's normalization; false for every other node.
bool Importer::normalization_node(int i) {
  const onnx::NodeProto& n = g_.node(i);
  const std::string& op = n.op_type();
  if ((op != "Sub" && op != "Div" && op != "Mul" && op != "Add") || n.input_size() != 2) return false;
  if (!steps_.empty() || pending_matmul_ || pending_pad_ || lstm_ || integer_input_) return false;
  const int data = n.input(0) == current_ ? 0 : n.input(1) == current_ ? 1 : -1;
  if (data < 0) return false;
  // x read by other nodes too is no normalization (the graph branches there, as in torch's GELU and SiLU), nor is
  // the first node of an activation pattern (Mul(x, β) -> Softplus -> Div(·, β) is Softplus(β))
  if (consumers_.count(current_) == 0 || consumers_.at(current_).size() != 1) return false;
  Pattern pattern;
  std::string why;
  if (match_pattern(current_, i, pattern, why)) return false;
  const Const* c = constant(n.input(1 - data));
  if (c == nullptr) return false;
  check_attributes(i, {});
  check_single_output(i);
  const std::string what = "; lrplab folds (x - mean) / std, x * a + b and their parts on the graph input into the "
                           "model's input normalization";
  if (!c->is_real()) fail_node(i, "applies an integer constant to the graph input", what);
  if (data == 1 && (op == "Sub" || op == "Div"))
    fail_node(i, op == "Sub" ? "subtracts the graph input from a constant" : "divides a constant by the graph input", what);
  // One value, or one per channel broadcast along the channel axis ([C, 1, 1], [1, C, 1, 1], [C] for [N, C]).
  const auto C = static_cast<std::int64_t>(shape_.empty() ? 1 : shape_[0]);
  const auto r = static_cast<std::int64_t>(c->dims.size());
  bool per_channel = r <= current_rank_;
  for (std::int64_t j = 0; j < r && per_channel; ++j) {
    const std::int64_t axis = j + current_rank_ - r;  // the input axis this dimension lines up with
    per_channel = c->dims[static_cast<std::size_t>(j)] == 1 || (axis == 1 && c->dims[static_cast<std::size_t>(j)] == C);
  }
  if (!per_channel)
    fail_node(i, "applies a constant of shape ", dims_string(c->dims), " to the graph input of shape [batch, ",
              to_string(shape_).substr(1), what, " only for one value or one per input channel (", C,
              "), e.g. shaped [", C, ", 1, 1]");
  std::vector<double> v = c->real;
  if (v.size() != 1 || norm_mean_.size() != 1) {  // per channel from here on
    auto widen = [&](std::vector<double>& x) {
      if (x.size() == 1) x.assign(static_cast<std::size_t>(C), x[0]);
    };
    widen(v), widen(norm_mean_), widen(norm_std_);
  }
  // y = (x − mean) / std, then y ∘ v: Sub/Add move the mean by v·std, Div/Mul scale std.
  for (std::size_t k = 0; k < v.size(); ++k) {
    if ((op == "Div" || op == "Mul") && v[k] == 0)
      fail_node(i, op == "Div" ? "divides" : "multiplies", " the graph input by 0 (channel ", k, ")", what);
    if (op == "Sub") norm_mean_[k] += v[k] * norm_std_[k];
    if (op == "Add") norm_mean_[k] -= v[k] * norm_std_[k];
    if (op == "Div") norm_std_[k] *= v[k];
    if (op == "Mul") norm_std_[k] /= v[k];
  }
  norm_nodes_.push_back(i);
  current_ = n.output(0);
  chain_rank_[current_] = current_rank_;
  return true;
}

void Importer::finish_normalization(InputNormalization& normalization) const {
  if (norm_nodes_.empty()) {
    normalization.origin = "identity: the ONNX graph does not normalize its input";
    return;
  }
  std::string nodes;
  for (const int k : norm_nodes_) nodes += (nodes.empty() ? "" : ", ") + node_ref(k);
  for (std::size_t k = 0; k < norm_std_.size(); ++k)
    LRP_CHECK(norm_std_[k] > 0 && std::isfinite(norm_std_[k]) && std::isfinite(norm_mean_[k]), where(), ": ", nodes,
              ": the input of channel ", k, " is multiplied by ", 1.0 / norm_std_[k],
              ", which is not (x - mean) / std with std > 0; lrplab folds only a normalization with a positive scale");
  normalization.mean = norm_mean_;
  normalization.std = norm_std_;
  normalization.origin = "folded from the ONNX graph: " + nodes;
}

// ---- sequences

// Handles the nodes of an embedding or an LSTM block; false for every other node.
bool Importer::sequence_node(int i) {
  const onnx::NodeProto& n = g_.node(i);
  const std::string& op = n.op_type();
  if (n.input_size() >= 1 && zeros_.count(n.input(0)) && (op == "Slice" || op == "Identity" || op == "Expand")) {
    zeros_[n.output(0)] = zeros_.at(n.input(0));  // a part of a constant-valued tensor has the same value
    return true;
  }
  if (op == "Gather" && n.input_size() == 2 && n.input(1) == current_ && constant(n.input(0)) != nullptr) {
    embedding(i);
    return true;
  }
  if (op == "Transpose" && n.input_size() == 1 && n.input(0) == current_ && current_rank_ == 3 && !lstm_) {
    const std::vector<std::int64_t> perm = attr_ints(i, "perm", {});
    bool feeds_lstm = consumers_.count(n.output(0)) > 0;
    for (int c : consumers_[n.output(0)]) feeds_lstm = feeds_lstm && g_.node(c).op_type() == "LSTM";
    if (!feeds_lstm || perm != std::vector<std::int64_t>{1, 0, 2})
      fail_node(i, "transposes the sequence with perm ", dims_string(perm),
                "; lrplab imports a Transpose of a [batch, T, D] sequence only as the perm [1, 0, 2] in front of "
                "an LSTM (nn.LSTM with batch_first=True)");
    check_attributes(i, {"perm"});
    flush_matmul();
    check_no_pending_pad(i);
    lstm_.emplace(LstmBlock{});
    lstm_->first_node = i;
    seq_[n.output(0)] = SeqTensor{SeqRole::kInput, -1, {}};
    return true;
  }
  if (op == "LSTM") {
    lstm_node(i);
    return true;
  }
  const SeqTensor* in = nullptr;
  std::string in_name;
  for (const std::string& name : n.input())
    if (seq_.count(name)) {
      in = &seq_.at(name);
      in_name = name;
      break;
    }
  if (in == nullptr) return false;
  if (!lstm_)
    fail_node(i, "reads '", in_name, "' of an LSTM block that has already ended: the graph branches; lrplab imports "
                 "sequential models only");
  const SeqTensor t = *in;
  const std::string& out = n.output(0);
  const bool known_op = op == "Transpose" || op == "Squeeze" || op == "Reshape" || op == "Concat" ||
                        op == "Gather" || op == "Slice";
  // The rest of the graph (a Gemm, ...) reads the block's final hidden state: chain_step closes the block.
  if (!known_op) return false;
  check_single_output(i);
  const std::int64_t dirs = lstm_->dirs;
  if (op == "Transpose") {
    check_attributes(i, {"perm"});
    const std::vector<std::int64_t> perm = attr_ints(i, "perm", {});
    if (t.role == SeqRole::kY && perm == std::vector<std::int64_t>{0, 2, 1, 3}) {
      seq_[out] = SeqTensor{SeqRole::kYTransposed, t.layer, {}};
      return true;
    }
    if (t.role == SeqRole::kLayerOut && perm == std::vector<std::int64_t>{1, 0, 2}) {
      seq_[out] = SeqTensor{SeqRole::kBatchFirstOut, t.layer, {}};
      return true;
    }
    fail_node(i, "transposes '", in_name, "' with perm ", dims_string(perm),
              "; inside an LSTM block lrplab imports the perms torch emits: [0, 2, 1, 3] of an LSTM's Y and "
              "[1, 0, 2] of a layer's output sequence");
  }
  if (op == "Squeeze") {
    check_attributes(i, {"axes"});
    std::vector<std::int64_t> axes = attr_ints(i, "axes", {});
    if (n.input_size() >= 2 && !n.input(1).empty()) axes = known_ints(i, constant_input(i, 1, "axes"), "axes");
    for (std::int64_t& a : axes)
      if (a < 0) a += 4;
    if (t.role == SeqRole::kY && dirs == 1 && axes == std::vector<std::int64_t>{1}) {
      seq_[out] = SeqTensor{SeqRole::kLayerOut, t.layer, {}};
      return true;
    }
    // opset 9/10 write h_n[-1] and out[:, -1] as a one-element Slice followed by this Squeeze.
    if (t.role == SeqRole::kStates && t.states.size() == 1 && axes == std::vector<std::int64_t>{0}) {
      seq_[out] = SeqTensor{SeqRole::kPicked, -1, t.states};
      return true;
    }
    if (t.role == SeqRole::kLastStep && axes == std::vector<std::int64_t>{t.axis}) {
      if (dirs == 2)
        fail_node(i, "reads out[:, -1] of a bidirectional LSTM, whose reverse half is the state after one step, not "
                     "the final one; lrplab's lstm outputs both final states: read torch.cat((h_n[-2], h_n[-1]), dim=1)");
      seq_[out] = SeqTensor{SeqRole::kPicked, -1, {{t.layer, 0}}};
      return true;
    }
    fail_node(i, "squeezes '", in_name, "' on axes ", dims_string(axes),
              "; inside an LSTM block lrplab imports the Squeeze of axis 1 (the direction) of a unidirectional "
              "LSTM's Y, and of the axis a one-element Slice kept (h_n[-1:], out[:, -1:])");
  }
  if (op == "Reshape") {
    check_attributes(i, {"allowzero"});
    const std::vector<std::int64_t> shape = known_ints(i, constant_input(i, 1, "shape"), "shape");
    const bool ok = t.role == SeqRole::kYTransposed && attr_int(i, "allowzero", 0, 0, 1) == 0 &&
                    shape.size() == 3 && shape[0] == 0 && shape[1] == 0 &&
                    (shape[2] == -1 || shape[2] == dirs * lstm_->hidden);
    if (!ok)
      fail_node(i, "reshapes '", in_name, "' to ", dims_string(shape),
                "; inside an LSTM block lrplab imports only the Reshape to [0, 0, -1] of a transposed Y "
                "([T, batch, dirs, H] -> [T, batch, dirs·H])");
    seq_[out] = SeqTensor{SeqRole::kLayerOut, t.layer, {}};
    return true;
  }
  if (op == "Concat") {
    check_attributes(i, {"axis"});
    const std::int64_t axis = attr_int(i, "axis", 0);
    SeqTensor cat;
    cat.role = t.role;
    for (const std::string& name : n.input()) {
      const auto it = seq_.find(name);
      const bool same = it != seq_.end() && it->second.role == t.role &&
                        (t.role == SeqRole::kStates || t.role == SeqRole::kPicked);
      if (!same)
        fail_node(i, "concatenates '", name, "' with final LSTM states; lrplab imports a Concat of final hidden ",
                  "states only (torch.cat of h_n pieces)");
      cat.states.insert(cat.states.end(), it->second.states.begin(), it->second.states.end());
    }
    const bool ok = (t.role == SeqRole::kStates && axis == 0) ||
                    (t.role == SeqRole::kPicked && (axis == 1 || axis == -1));
    if (!ok)
      fail_node(i, "concatenates final LSTM states along axis ", axis, "; lrplab imports the stacking of h_n along ",
                "axis 0 and the side-by-side concatenation of [batch, H] states along axis 1");
    seq_[out] = cat;
    return true;
  }
  if (op == "Slice") {
    // One element along one axis (opset 9/10: h_n[-1] and out[:, -1] become Slice + Squeeze).
    std::vector<std::int64_t> starts, ends, axes, steps;
    if (opset_ < 10) {
      check_attributes(i, {"starts", "ends", "axes"});
      starts = attr_ints(i, "starts", {});
      ends = attr_ints(i, "ends", {});
      axes = attr_ints(i, "axes", {});
    } else {
      check_attributes(i, {});
      starts = known_ints(i, constant_input(i, 1, "starts"), "starts");
      ends = known_ints(i, constant_input(i, 2, "ends"), "ends");
      if (n.input_size() > 3 && !n.input(3).empty()) axes = known_ints(i, constant_input(i, 3, "axes"), "axes");
      if (n.input_size() > 4 && !n.input(4).empty()) steps = known_ints(i, constant_input(i, 4, "steps"), "steps");
    }
    const bool states = t.role == SeqRole::kStates;
    const bool sequence = t.role == SeqRole::kBatchFirstOut || t.role == SeqRole::kLayerOut;
    const std::int64_t axis = axes.size() == 1 ? axes[0] : -1;
    const std::int64_t wanted_axis = states ? 0 : t.role == SeqRole::kBatchFirstOut ? 1 : 0;
    const std::int64_t size = states ? static_cast<std::int64_t>(t.states.size()) : sequence_steps_;
    std::int64_t first = starts.size() == 1 ? starts[0] : -size - 1;
    if (first < 0) first += size;
    const std::int64_t last = ends.size() == 1 ? std::min(ends[0] < 0 ? ends[0] + size : ends[0], size) : -1;
    const bool one = (states || sequence) && starts.size() == 1 && axis == wanted_axis && first >= 0 &&
                     first < size && last == first + 1 && (steps.empty() || steps == std::vector<std::int64_t>{1});
    if (!one)
      fail_node(i, "slices '", in_name, "'; inside an LSTM block lrplab imports a Slice of one element of the final "
                   "states (axis 0) or of the output sequence's last step (h_n[-1:], out[:, -1:])");
    if (states) {
      seq_[out] = SeqTensor{SeqRole::kStates, -1, {t.states[static_cast<std::size_t>(first)]}};
      return true;
    }
    if (first != sequence_steps_ - 1)
      fail_node(i, "reads time step ", first, " of the LSTM's output sequence; lrplab's lstm outputs the final hidden ",
                "state, i.e. step ", sequence_steps_ - 1, " (out[:, -1])");
    SeqTensor step{SeqRole::kLastStep, t.layer, {}};
    step.axis = static_cast<int>(wanted_axis);
    seq_[out] = step;
    return true;
  }
  // Gather: one final state out of h_n, or one time step of the output sequence.
  check_attributes(i, {"axis"});
  const std::int64_t axis = attr_int(i, "axis", 0);
  const Const& index = constant_input(i, 1, "index");
  const std::vector<std::int64_t> j = known_ints(i, index, "index");
  if (!index.dims.empty() || j.size() != 1)
    fail_node(i, "gathers '", in_name, "' with an index of shape ", dims_string(index.dims),
              "; lrplab imports a Gather of one element (h_n[-1], out[:, -1])");
  if (t.role == SeqRole::kStates && axis == 0) {
    const auto count = static_cast<std::int64_t>(t.states.size());
    const std::int64_t k = j[0] < 0 ? j[0] + count : j[0];
    if (k < 0 || k >= count) fail_node(i, "index ", j[0], " is out of range for ", count, " stacked states");
    seq_[out] = SeqTensor{SeqRole::kPicked, -1, {t.states[static_cast<std::size_t>(k)]}};
    return true;
  }
  const bool step = (t.role == SeqRole::kBatchFirstOut && axis == 1) || (t.role == SeqRole::kLayerOut && axis == 0);
  if (!step)
    fail_node(i, "gathers '", in_name, "' along axis ", axis,
              "; lrplab imports h_n[k] (axis 0 of the final states) and out[:, t] (axis 1 of the output sequence)");
  const std::int64_t k = j[0] < 0 ? j[0] + sequence_steps_ : j[0];
  if (k != sequence_steps_ - 1)
    fail_node(i, "reads time step ", j[0], " of the LSTM's output sequence; lrplab's lstm outputs the final hidden ",
              "state, i.e. step ", sequence_steps_ - 1, " (out[:, -1])");
  if (dirs == 2)
    fail_node(i, "reads out[:, -1] of a bidirectional LSTM, whose reverse half is the state after one step, not the "
                 "final one; lrplab's lstm outputs both final states: read torch.cat((h_n[-2], h_n[-1]), dim=1)");
  seq_[out] = SeqTensor{SeqRole::kPicked, -1, {{t.layer, 0}}};
  return true;
}

// Gather(table [vocab, dim], ids): an embedding.
void Importer::embedding(int i) {
  const onnx::NodeProto& n = g_.node(i);
  check_attributes(i, {"axis"});
  check_single_output(i);
  if (attr_int(i, "axis", 0) != 0)
    fail_node(i, "axis = ", attr_int(i, "axis", 0), "; lrplab imports Gather from a table as an embedding (axis 0)");
  if (!steps_.empty() || !integer_input_ || current_rank_ != 2)
    fail_node(i, "gathers rows of '", n.input(0), "' by '", current_,
              "'; lrplab imports that as an embedding only as the first node, reading integer ids [batch, T]");
  const Const& table = constant_input(i, 0, "table");
  if (!table.is_real() || table.dims.size() != 2)
    fail_node(i, "the table must be a 2-d float tensor [vocab, dim], got ", type_name(table.type), " ",
              dims_string(table.dims));
  const std::int64_t vocab = table.dims[0], dim = table.dims[1];
  Step s;
  s.weight.resize(vocab, dim);
  for (std::int64_t k = 0; k < vocab * dim; ++k) s.weight.data()[k] = static_cast<Scalar>(table.real[static_cast<std::size_t>(k)]);
  s.spec.kind = "embedding";
  s.spec.params = ParamMap{{"vocab", {static_cast<double>(vocab)}}, {"dim", {static_cast<double>(dim)}}};
  s.spec.name = name_for(i, "embedding", {n.input(0)});
  s.node = i;
  emit(std::move(s));
  current_ = n.output(0);
  current_rank_ = 3;
  chain_rank_[current_] = 3;
}

void Importer::check_zero_state(int i, int k, const char* what) const {
  const onnx::NodeProto& n = g_.node(i);
  if (k >= n.input_size() || n.input(k).empty()) return;
  const std::string& name = n.input(k);
  double nonzero = 0.0;
  if (const auto z = zeros_.find(name); z != zeros_.end()) {
    nonzero = z->second;
  } else if (const Const* c = constant(name)) {
    for (double v : c->real)
      if (v != 0.0 && nonzero == 0.0) nonzero = v;
    for (std::int64_t v : c->integer)
      if (v != 0 && nonzero == 0.0) nonzero = static_cast<double>(v);
  } else {
    fail_node(i, "input ", k, " '", what, "' ('", name, "') is computed from the data; lrplab's lstm starts from ",
              "zero states");
  }
  if (nonzero != 0.0)
    fail_node(i, "input ", k, " '", what, "' ('", name, "') is not zero (it holds ", nonzero,
              "); lrplab's lstm starts from h = c = 0");
}

// One ONNX LSTM node: one layer (both directions) of the block. ONNX's gate order is i, o, f, c (RULES.md uses
// PyTorch's i, f, g, o); the weights are reordered when the block closes.
void Importer::lstm_node(int i) {
  const onnx::NodeProto& n = g_.node(i);
  check_attributes(i, {"hidden_size", "direction", "activations", "clip", "input_forget", "layout",
                       "activation_alpha", "activation_beta"});
  for (const onnx::AttributeProto& a : n.attribute()) {
    if (a.name() == "clip")
      fail_node(i, "attribute 'clip' = ", a.f(), "; lrplab's lstm does not clip the gate inputs (export without clip)");
    if (a.name() == "activation_alpha" || a.name() == "activation_beta")
      fail_node(i, "attribute '", a.name(), "' is set (non-default activations); lrplab's lstm uses Sigmoid, Tanh, Tanh");
  }
  const std::string direction = attr_string(i, "direction", "forward");
  if (direction != "forward" && direction != "bidirectional")
    fail_node(i, "attribute 'direction' = '", direction, "'; lrplab imports 'forward' and 'bidirectional' LSTMs");
  const std::int64_t dirs = direction == "bidirectional" ? 2 : 1;
  if (const onnx::AttributeProto* a = attribute(i, "activations", onnx::AttributeProto_AttributeType_STRINGS)) {
    std::string list;
    bool ok = a->strings_size() == 3 * dirs;
    for (int k = 0; k < a->strings_size(); ++k) {
      list += std::string(k ? ", " : "") + a->strings(k);
      ok = ok && a->strings(k) == (k % 3 == 0 ? "Sigmoid" : "Tanh");
    }
    if (!ok)
      fail_node(i, "attribute 'activations' = [", list, "]; lrplab's lstm uses the default activations (Sigmoid, ",
                "Tanh, Tanh per direction)");
  }
  if (attr_int(i, "input_forget", 0, 0, 1) != 0)
    fail_node(i, "attribute 'input_forget' = ", attr_int(i, "input_forget", 0),
              " (coupled input and forget gates); lrplab's lstm has independent gates (input_forget = 0)");
  if (attr_int(i, "layout", 0, 0, 1) != 0)
    fail_node(i, "attribute 'layout' = ", attr_int(i, "layout", 0),
              " (batch-major X); lrplab imports layout 0 (time-major, what torch.onnx.export writes)");
  const onnx::AttributeProto* hs = attribute(i, "hidden_size", onnx::AttributeProto_AttributeType_INT);
  if (hs == nullptr || hs->i() < 1 || hs->i() > kMaxSize)
    fail_node(i, "needs attribute 'hidden_size' in [1, ", kMaxSize, "]");
  const std::int64_t hidden = hs->i();
  check_inputs(i, 3, 8);
  if (n.input_size() > 4 && !n.input(4).empty())
    fail_node(i, "input 4 'sequence_lens' is given; lrplab imports LSTMs that run over all T steps of every sample");
  if (n.input_size() > 7 && !n.input(7).empty())
    fail_node(i, "input 7 'P' (peephole weights) is given; lrplab's lstm has no peepholes");
  check_zero_state(i, 5, "initial_h");
  check_zero_state(i, 6, "initial_c");
  for (int k = 2; k < n.output_size(); ++k) {
    const std::string& o = n.output(k);
    bool used = !o.empty() && consumers_.count(o) > 0;
    for (const onnx::ValueInfoProto& v : g_.output()) used = used || (!o.empty() && v.name() == o);
    if (used) fail_node(i, "output 2 'Y_c' (the final cell state) is used; lrplab's lstm outputs the final hidden state");
  }

  if (!lstm_)
    fail_node(i, "reads '", n.input(0), "', which is not a [batch, T, D] sequence transposed to [T, batch, D] (as ",
              "torch exports nn.LSTM(batch_first=True)), nor an earlier LSTM layer's output");
  const auto x = seq_.find(n.input(0));
  const int k = static_cast<int>(lstm_->layers.size());
  const bool first = k == 0 && x != seq_.end() && x->second.role == SeqRole::kInput;
  const bool next = k > 0 && x != seq_.end() && x->second.role == SeqRole::kLayerOut && x->second.layer == k - 1;
  if (!first && !next)
    fail_node(i, "reads '", n.input(0), "', which is not ",
              k == 0 ? "the block's transposed input sequence" : "the previous LSTM layer's output sequence");
  if (k > 0 && (hidden != lstm_->hidden || dirs != lstm_->dirs))
    fail_node(i, "has hidden_size ", hidden, " and ", dirs, " direction(s), but the LSTM layer before it has ",
              lstm_->hidden, " and ", lstm_->dirs, "; lrplab's lstm stacks equal layers");
  LstmLayerNode layer;
  layer.node = i;
  layer.w = &constant_input(i, 1, "weight W");
  layer.r = &constant_input(i, 2, "recurrence weight R");
  if (n.input_size() > 3 && !n.input(3).empty()) layer.b = &constant_input(i, 3, "bias B");
  const std::int64_t in = layer.w->dims.size() == 3 ? layer.w->dims[2] : -1;
  auto check = [&](const Const& c, const char* what, std::vector<std::int64_t> dims) {
    if (!c.is_real() || c.dims != dims)
      fail_node(i, "the ", what, " has ", c.is_real() ? "" : type_name(c.type) + " ", "shape ", dims_string(c.dims),
                ", expected ", dims_string(dims), " ([directions, ...], gates i, o, f, c)");
  };
  check(*layer.w, "weight W", {dirs, 4 * hidden, in < 1 ? 1 : in});
  check(*layer.r, "recurrence weight R", {dirs, 4 * hidden, hidden});
  if (layer.b) check(*layer.b, "bias B", {dirs, 8 * hidden});
  if (k > 0 && in != dirs * hidden)
    fail_node(i, "the weight W reads ", in, " features, but the LSTM layer before it outputs ", dirs * hidden);
  lstm_->hidden = hidden;
  lstm_->dirs = dirs;
  lstm_->layers.push_back(layer);
  if (n.output_size() > 0 && !n.output(0).empty()) seq_[n.output(0)] = SeqTensor{SeqRole::kY, k, {}};
  if (n.output_size() > 1 && !n.output(1).empty()) {
    SeqTensor states{SeqRole::kStates, k, {}};
    for (int d = 0; d < dirs; ++d) states.states.emplace_back(k, d);
    seq_[n.output(1)] = states;
  }
}

std::string Importer::describe_states(const std::vector<std::pair<int, int>>& states) const {
  std::string out = "the final hidden state";
  out += states.size() == 1 ? " of " : "s of ";
  for (std::size_t k = 0; k < states.size(); ++k)
    out += (k ? ", " : "") + std::string("layer ") + std::to_string(states[k].first) +
           (states[k].second == 1 ? " reverse" : " forward");
  return out;
}

// The rest of the graph reads `tensor`: it must be the last layer's final hidden state(s), [forward, reverse].
void Importer::close_lstm(int i, const std::string& tensor) {
  const LstmBlock block = *lstm_;
  const SeqTensor t = seq_.at(tensor);
  const int last = static_cast<int>(block.layers.size()) - 1;
  std::vector<std::pair<int, int>> expected{{last, 0}};
  if (block.dirs == 2) expected.emplace_back(last, 1);
  if (last < 0 || t.role != SeqRole::kPicked || t.states != expected) {
    const std::string what = t.role == SeqRole::kPicked ? describe_states(t.states)
                             : t.role == SeqRole::kStates
                                 ? "all final states stacked [layers·directions, batch, H] (h_n)"
                                 : "an LSTM output sequence";
    LRP_FAIL(where(), ": ", i >= 0 ? node_ref(i) : std::string("the graph output"), " reads '", tensor, "', ", what,
             "; lrplab imports an LSTM whose output is ", describe_states(expected),
             " (h_n[-1], torch.cat((h_n[-2], h_n[-1]), dim=1) when bidirectional, or out[:, -1] when unidirectional)");
  }
  const std::int64_t hidden = block.hidden, dirs = block.dirs, gates = 4 * hidden;
  const auto layers = static_cast<std::int64_t>(block.layers.size());
  const std::int64_t in0 = block.layers[0].w->dims[2];
  bool bias = false;
  for (const LstmLayerNode& l : block.layers) bias = bias || l.b != nullptr;
  std::int64_t total = 0;
  for (const LstmLayerNode& l : block.layers) total += dirs * gates * (l.w->dims[2] + hidden);
  Step s;
  s.weight.resize(1, total);
  if (bias) s.bias = Vector::Zero(layers * dirs * 2 * gates);
  // PyTorch's gate g (i, f, g, o) is ONNX's gate kOnnxGate[g] (i, o, f, c).
  constexpr std::array<std::int64_t, 4> kOnnxGate{0, 2, 3, 1};
  std::int64_t offset = 0;
  for (std::int64_t k = 0; k < layers; ++k) {
    const LstmLayerNode& l = block.layers[static_cast<std::size_t>(k)];
    for (std::int64_t d = 0; d < dirs; ++d) {
      for (const Const* m : {l.w, l.r}) {
        const std::int64_t cols = m->dims[2];
        for (std::int64_t g = 0; g < 4; ++g)
          for (std::int64_t r = 0; r < hidden; ++r)
            for (std::int64_t c = 0; c < cols; ++c)
              s.weight(0, offset + (g * hidden + r) * cols + c) = static_cast<Scalar>(
                  m->real[static_cast<std::size_t>(((d * gates) + kOnnxGate[static_cast<std::size_t>(g)] * hidden + r) * cols + c)]);
        offset += gates * cols;
      }
      if (l.b == nullptr) continue;
      const std::int64_t b = (k * dirs + d) * 2 * gates;
      for (std::int64_t half = 0; half < 2; ++half)  // Wb (b_ih), then Rb (b_hh)
        for (std::int64_t g = 0; g < 4; ++g)
          for (std::int64_t r = 0; r < hidden; ++r)
            s.bias[b + half * gates + g * hidden + r] = static_cast<Scalar>(l.b->real[static_cast<std::size_t>(
                d * 2 * gates + half * gates + kOnnxGate[static_cast<std::size_t>(g)] * hidden + r)]);
    }
  }
  s.spec.kind = "lstm";
  s.spec.params = ParamMap{{"in", {static_cast<double>(in0)}},
                           {"hidden", {static_cast<double>(hidden)}},
                           {"num_layers", {static_cast<double>(layers)}},
                           {"bidirectional", {dirs == 2 ? 1.0 : 0.0}},
                           {"bias", {bias ? 1.0 : 0.0}}};
  s.spec.name = name_for(block.layers[0].node, "lstm", {});
  s.node = block.layers[0].node;
  emit(std::move(s));
  lstm_.reset();
  current_ = tensor;
  current_rank_ = 2;
  chain_rank_[current_] = 2;
}

ModelSpec Importer::run(std::vector<Step>& steps) {
  for (const onnx::OperatorSetIdProto& o : model_.opset_import())
    if (default_domain(o.domain())) opset_ = o.version();
  LRP_CHECK(opset_ > 0, where(), ": the model imports no version of the default ONNX operator set");
  LRP_CHECK(opset_ >= 9, where(), ": opset ", opset_,
            " is too old; lrplab imports opset 9 and later (torch.onnx.export "
            "with opset_version=13 is what it is tested with)");
  LRP_CHECK(g_.node_size() > 0, where(), ": the graph has no nodes");

  for (int i = 0; i < g_.node_size(); ++i) {
    for (const std::string& in : g_.node(i).input())
      if (!in.empty()) consumers_[in].push_back(i);
    for (const std::string& out : g_.node(i).output())
      if (!out.empty()) producer_.emplace(out, i);
  }
  for (const onnx::TensorProto& t : g_.initializer()) {
    LRP_CHECK(!t.name().empty() && !consts_.count(t.name()), where(), ": ",
              t.name().empty() ? std::string("an initializer has no name")
                               : "initializer '" + t.name() + "' is defined twice");
    consts_[t.name()] = read_tensor(t, "initializer '" + t.name() + "'");
  }
  LRP_CHECK(g_.sparse_initializer_size() == 0, where(), ": sparse initializers are not imported");
  check_graph();

  // The graph input: the one input that is not an initializer.
  const onnx::ValueInfoProto* input = nullptr;
  for (const onnx::ValueInfoProto& v : g_.input()) {
    if (consts_.count(v.name())) continue;
    LRP_CHECK(input == nullptr, where(), ": the graph has more than one input ('", input ? input->name() : "", "', '",
              v.name(), "'); lrplab imports models with one input");
    input = &v;
  }
  LRP_CHECK(input != nullptr, where(), ": the graph has no input");
  LRP_CHECK(input->type().has_tensor_type(), where(), ": the graph input '", input->name(), "' is not a tensor");
  const onnx::TypeProto_Tensor& tt = input->type().tensor_type();
  integer_input_ = tt.elem_type() == onnx::TensorProto_DataType_INT64 ||
                   tt.elem_type() == onnx::TensorProto_DataType_INT32;
  LRP_CHECK(tt.elem_type() == onnx::TensorProto_DataType_FLOAT || tt.elem_type() == onnx::TensorProto_DataType_DOUBLE ||
                integer_input_,
            where(), ": the graph input '", input->name(), "' has data type ", type_name(tt.elem_type()),
            "; lrplab imports float32 and float64 models (and int64/int32 token ids into an embedding)");
  LRP_CHECK(tt.has_shape() && tt.shape().dim_size() >= 2, where(), ": the graph input '", input->name(),
            "' has no shape of rank ≥ 2 ([batch, ...]); lrplab needs the per-sample shape");
  ModelSpec spec;
  std::string declared;  // "[batch, 3, 32, 32]"
  for (const onnx::TensorShapeProto_Dimension& d : tt.shape().dim())
    declared += (declared.empty() ? "[" : ", ") + (d.has_dim_value() ? std::to_string(d.dim_value())
                                                   : d.has_dim_param() ? d.dim_param() : std::string("?"));
  const std::string input_ref = where() + ": the graph input '" + input->name() + "' of shape " + declared + "]";
  for (int a = 0; a < tt.shape().dim_size(); ++a) {
    const onnx::TensorShapeProto_Dimension& d = tt.shape().dim(a);
    if (a == 0) {  // the batch size: symbolic, unknown, or a fixed size (only compared with Reshape's shapes)
      if (d.has_dim_value() && d.dim_value() > 0) static_batch_ = d.dim_value();
      continue;
    }
    LRP_CHECK(d.has_dim_value(), input_ref, ": dimension ", a, " is ",
              d.has_dim_param() ? "symbolic ('" + d.dim_param() + "')" : std::string("unknown"),
              "; only the batch dimension may be");
    spec.input_shape.push_back(static_cast<Index>(d.dim_value()));
  }
  shape_ = checked_shape(-1, spec.input_shape, input_ref);  // before anything is sized from it
  current_ = input->name();
  current_rank_ = tt.shape().dim_size();
  sequence_steps_ = static_cast<std::int64_t>(spec.input_shape[0]);
  chain_rank_[current_] = current_rank_;

  // Constant nodes first (they read nothing): a pattern is recognized from its first node, and the constants of
  // its later nodes come later in torch's node order.
  for (int i = 0; i < g_.node_size(); ++i) {
    const onnx::NodeProto& n = g_.node(i);
    if (default_domain(n.domain()) && n.op_type() == "Constant") constant_node(i);
  }
  refuse_unsupported_structures();
  for (int i = 0; i < g_.node_size(); ++i) {
    const onnx::NodeProto& n = g_.node(i);
    const bool in_default = default_domain(n.domain());
    if ((in_default && n.op_type() == "Constant") || absorbed_.count(i)) continue;
    bool all_constant = true;
    for (const std::string& in : n.input()) all_constant = all_constant && (in.empty() || consts_.count(in));
    const bool shape_of_chain = n.op_type() == "Shape" && n.input_size() == 1 && chain_rank_.count(n.input(0));
    if (in_default && all_constant && n.op_type() == "ConstantOfShape" && n.input_size() == 1 &&
        !n.input(0).empty() && !consts_.at(n.input(0)).all_known()) {
      // Zeros of shape [dirs, batch, H]: torch's initial LSTM states. Only their value is kept.
      check_attributes(i, {"value"});
      double value = 0.0;
      if (const onnx::AttributeProto* a = attribute(i, "value", onnx::AttributeProto_AttributeType_TENSOR)) {
        const Const v = read_tensor(a->t(), node_ref(i) + " attribute 'value'");
        if (v.size() != 1) fail_node(i, "the value must hold one element");
        value = v.is_real() ? v.real[0] : static_cast<double>(v.integer[0]);
      }
      zeros_[n.output(0)] = value;
      continue;
    }
    if (in_default && (shape_of_chain || (all_constant && n.input_size() > 0)))
      fold(i);
    else
      chain_step(i);
  }
  if (lstm_ && g_.output_size() == 1 && seq_.count(g_.output(0).name())) close_lstm(-1, g_.output(0).name());
  LRP_CHECK(!lstm_, where(), ": the LSTM block that starts at ", node_ref(lstm_ ? lstm_->first_node : 0),
            " never reaches a final hidden state that the rest of the graph reads");
  flush_matmul();
  check_no_pending_pad(-1);

  LRP_CHECK(g_.output_size() == 1, where(), ": the graph has ", g_.output_size(),
            " outputs; lrplab imports models with one output (the logits)");
  LRP_CHECK(g_.output(0).name() == current_, where(), ": the graph output '", g_.output(0).name(),
            "' is not the output of the last node of the chain ('", current_, "')");
  LRP_CHECK(!steps_.empty(), where(), ": the graph computes nothing lrplab imports as a layer");
  if (dropped_softmax_ >= 0)
    logger()->info("ONNX model '{}': dropped the trailing {} at node {} '{}': lrplab explains the logits", path_,
                   g_.node(dropped_softmax_).op_type(), dropped_softmax_, g_.node(dropped_softmax_).name());

  std::string stem = std::filesystem::path(path_).stem().string();
  spec.name = stem.empty() ? "onnx_model" : stem;
  finish_normalization(spec.normalization);
  for (Step& s : steps_) {
    s.node_name = g_.node(s.node).name();
    spec.layers.push_back(s.spec);
  }
  steps = std::move(steps_);
  return spec;
}


Model import_file(const std::string& path, const Registry& registry, const Limits& limits) {
  const std::string where = "ONNX model '" + path + "'";
  // A regular file (a FIFO would block), at most protobuf's 2 GiB, and parsing needs about three
  // times its size in memory.
  const std::string bytes = read_input_file(path, "ONNX model", std::min(kMaxFileBytes, limits.memory / 3));
  LRP_CHECK(!bytes.empty(), where, ": the file is empty");

  onnx::ModelProto proto;
  LRP_CHECK(proto.ParseFromString(bytes), where,
            ": not a valid ONNX file (the protobuf ModelProto does not parse: truncated or corrupt?)");
  LRP_CHECK(proto.has_graph() && proto.ir_version() > 0 && proto.opset_import_size() > 0, where,
            ": not a valid ONNX file (",
            !proto.has_graph()        ? "no graph"
            : proto.ir_version() <= 0 ? "no IR version"
                                      : "no opset",
            ": truncated or corrupt?)");

  std::vector<Step> steps;
  Importer importer(path, proto);
  const ModelSpec spec = importer.run(steps);

  Model model = [&] {
    try {
      return build_model(spec, registry, limits);
    } catch (const Error& e) {
      LRP_FAIL(where, ": the imported layers do not form a valid lrplab network: ", e.what());
    }
  }();
  LRP_CHECK(model.network.size() == static_cast<Index>(steps.size()), where, ": build_model made ",
            model.network.size(), " layers from ", steps.size(), " layer descriptions");
  for (std::size_t k = 0; k < steps.size(); ++k) {
    Step& s = steps[k];
    Layer& layer = model.network.layer(static_cast<Index>(k));
    const std::string node = "node " + std::to_string(s.node) + " '" + s.node_name + "'";
    try {
      if (s.weight.size() > 0 || s.bias.size() > 0) layer.set_params(Params{std::move(s.weight), std::move(s.bias)});
      if (s.spec.kind == "batchnorm")
        dynamic_cast<BatchNorm&>(layer).set_statistics(std::move(s.mean), std::move(s.var));
    } catch (const Error& e) {
      LRP_FAIL(where, ": ", node, " (layer '", layer.name(), "', ", layer.kind(), "): ", e.what());
    }
  }
  model.provenance.source = "imported from " + path;
  model.provenance.lrplab_version = LRP_VERSION;
  model.provenance.created = utc_now();
  logger()->debug("ONNX model '{}': imported {} layers, input shape {}", path, model.network.size(),
                  to_string(model.network.input_shape()));
  return model;
}

}  // namespace

Model import_onnx(const std::string& path, const Registry& registry, const Limits& limits) {
  try {
    return import_file(path, registry, limits);
  } catch (const Error&) {
    throw;
  } catch (const std::bad_alloc&) {
    LRP_FAIL("ONNX model '", path, "': not enough memory to import it (std::bad_alloc)");
  } catch (const std::exception& e) {  // never an "internal error": whatever went wrong, it was this file
    LRP_FAIL("ONNX model '", path, "': could not be imported (", e.what(), ")");
  }
}

}  // namespace lrp
