// The LSTM pass: torch's nn.Embedding + nn.LSTM(batch_first=True) + a readout of the final hidden state. An LSTM
// block starts at the Transpose [batch, T, D] -> [T, batch, D] in front of the first ONNX LSTM node and spans every
// LSTM node (one per torch layer) and the Squeeze / Transpose + Reshape torch puts between layers; it ends, as ONE
// lrplab lstm layer, at the value that is the last layer's final hidden state (h_n[-1], the Concat of h_n[-2] and
// h_n[-1] when bidirectional, or out[:, -1] when unidirectional), which the rest of the graph reads. The values
// inside the block are tracked by role (SeqTensor); zero initial states, which torch computes from the batch size
// with ConstantOfShape, are filled values (fold_constants).

#include "onnx_ir.hpp"

#include <array>

namespace lrp::onnx_import {
namespace {

// What a value inside an LSTM block holds.
enum class SeqRole {
  kInput,          // [T, batch, D]: the block's input, time-major
  kY,              // [T, dirs, batch, H]: an LSTM node's Y
  kYTransposed,    // [T, batch, dirs, H]
  kLayerOut,       // [T, batch, dirs·H]: a layer's output sequence (the next layer's input)
  kBatchFirstOut,  // [batch, T, dirs·H]: torch's `out`
  kStates,         // [k, batch, H]: final hidden states, one (layer, direction) per entry along axis 0
  kPicked,         // [batch, k·H]: final hidden states side by side, one (layer, direction) per H columns
  kLastStep,       // the last step of an output sequence, its time axis (`axis`) kept (opset 9/10's Slice)
};
struct SeqTensor {
  SeqRole role = SeqRole::kInput;
  int layer = -1;                           // kY ... kBatchFirstOut, kLastStep: the LSTM layer that made it
  std::vector<std::pair<int, int>> states;  // kStates, kPicked: (layer, direction) entries
  int axis = -1;                            // kLastStep: the kept time axis
};

std::string describe_states(const std::vector<std::pair<int, int>>& states) {
  std::string out = "the final hidden state";
  out += states.size() == 1 ? " of " : "s of ";
  for (std::size_t k = 0; k < states.size(); ++k)
    out += (k ? ", " : "") + std::string("layer ") + std::to_string(states[k].first) +
           (states[k].second == 1 ? " reverse" : " forward");
  return out;
}


class LstmPass {
 public:
  explicit LstmPass(const Graph& g) : g_(g), sequence_steps_(g.input_shape.empty() ? 0 : g.input_shape[0]) {}
  void run(std::vector<Op>& ops);

 private:
  using Handler = bool (LstmPass::*)(int, const SeqTensor&, const std::string&, const std::string&);
  // Whether op starts a block (a Transpose of a rank-3 value); an error for another Transpose of such a value.
  bool starts_block(const Op& op) const;
  void lstm_node(int i);
  void check_zero_state(int i, std::size_t k, const char* what) const;
  // A node of the block reading the block's value `in_name` (the ops torch writes between and after the layers).
  bool transpose(int i, const SeqTensor& t, const std::string& in_name, const std::string& out);
  bool squeeze(int i, const SeqTensor& t, const std::string& in_name, const std::string& out);
  bool reshape(int i, const SeqTensor& t, const std::string& in_name, const std::string& out);
  bool concat(int i, const SeqTensor& t, const std::string& in_name, const std::string& out);
  bool slice(int i, const SeqTensor& t, const std::string& in_name, const std::string& out);
  bool gather(int i, const SeqTensor& t, const std::string& in_name, const std::string& out);

 public:
  // The block ops by op type: each updates the role of what it computes.
  static const std::map<std::string, Handler>& block_ops();

 private:
  // The rest of the graph reads `tensor` (node i; -1: the graph output): the block ends there.
  void close(int i, const std::string& tensor, std::vector<Op>& out);

  const Graph& g_;
  std::map<std::string, SeqTensor> seq_;  // values inside the current (or an ended) LSTM block
  std::optional<LstmBlock> lstm_;         // the block being read
  std::size_t block_op_ = 0;              // its op's index in the output
  std::int64_t sequence_steps_ = 0;       // T: the first per-sample axis of the graph input
};

void LstmPass::run(std::vector<Op>& ops) {
  std::vector<Op> out;
  for (Op& op : ops) {
    const int i = op.node;
    const Node& n = g_.node(i);
    if (starts_block(op)) {
      lstm_.emplace(LstmBlock{});
      lstm_->first_node = i;
      seq_[n.outputs[0]] = SeqTensor{SeqRole::kInput, -1, {}, -1};
      block_op_ = out.size();
      Op block;
      block.op = kLstmOp;
      block.node = i;
      block.input = n.inputs[0];
      out.push_back(std::move(block));
      continue;
    }
    if (n.is("LSTM")) {
      lstm_node(i);
      continue;
    }
    const auto in = std::find_if(n.inputs.begin(), n.inputs.end(), [&](const std::string& v) { return seq_.count(v); });
    if (!default_domain(n.domain) || in == n.inputs.end()) {
      out.push_back(std::move(op));
      continue;
    }
    if (!lstm_)
      g_.fail_node(i, "reads '", *in, "' of an LSTM block that has already ended: the graph branches; lrplab "
                   "imports sequential models only");
    const auto handler = block_ops().find(n.op);
    if (handler != block_ops().end()) {
      g_.check_single_output(i);
      const SeqTensor t = seq_.at(*in);  // a copy: the handler adds to seq_
      (this->*handler->second)(i, t, *in, n.outputs[0]);
      continue;
    }
    // The rest of the graph (a Gemm, ...) reads the block's final hidden state.
    if (!emits(n.op) && !starts_pattern(g_, n)) g_.fail_unsupported(i);
    const int data = data_input(g_, i, out[block_op_].input);
    if (data >= 0 && seq_.count(n.inputs[static_cast<std::size_t>(data)]))
      close(i, n.inputs[static_cast<std::size_t>(data)], out);
    out.push_back(std::move(op));
  }
  if (lstm_ && g_.outputs.size() == 1 && seq_.count(g_.outputs[0])) close(-1, g_.outputs[0], out);
  LRP_CHECK(!lstm_, g_.where(), ": the LSTM block that starts at ", g_.node_ref(lstm_ ? lstm_->first_node : 0),
            " never reaches a final hidden state that the rest of the graph reads");
  ops = std::move(out);
}

bool LstmPass::starts_block(const Op& op) const {
  const Node& n = g_.node(op.node);
  if (!n.is("Transpose") || n.inputs.size() != 1 || lstm_ || seq_.count(n.inputs[0])) return false;
  const auto rank = g_.rank.find(n.inputs[0]);
  if (rank == g_.rank.end() || rank->second != 3) return false;
  const int i = op.node;
  const std::vector<std::int64_t> perm = g_.attr_ints(i, "perm", {});
  const auto readers = g_.consumers.find(n.outputs[0]);
  bool feeds_lstm = readers != g_.consumers.end();
  if (feeds_lstm)
    for (int c : readers->second) feeds_lstm = feeds_lstm && g_.node(c).op == "LSTM";
  if (!feeds_lstm || perm != std::vector<std::int64_t>{1, 0, 2})
    g_.fail_node(i, "transposes the sequence with perm ", dims_string(perm),
                 "; lrplab imports a Transpose of a [batch, T, D] sequence only as the perm [1, 0, 2] in front of "
                 "an LSTM (nn.LSTM with batch_first=True)");
  g_.check_attributes(i, {"perm"});
  return true;
}

void LstmPass::check_zero_state(int i, std::size_t k, const char* what) const {
  const Node& n = g_.node(i);
  if (k >= n.inputs.size() || n.inputs[k].empty()) return;
  const std::string& name = n.inputs[k];
  double nonzero = 0.0;
  if (const auto z = g_.filled.find(name); z != g_.filled.end()) {
    nonzero = z->second;
  } else if (const Const* c = g_.constant(name)) {
    for (double v : c->real)
      if (v != 0.0 && nonzero == 0.0) nonzero = v;
    for (std::int64_t v : c->integer)
      if (v != 0 && nonzero == 0.0) nonzero = static_cast<double>(v);
  } else {
    g_.fail_node(i, "input ", k, " '", what, "' ('", name, "') is computed from the data; lrplab's lstm starts from ",
              "zero states");
  }
  if (nonzero != 0.0)
    g_.fail_node(i, "input ", k, " '", what, "' ('", name, "') is not zero (it holds ", nonzero,
              "); lrplab's lstm starts from h = c = 0");
}


// One ONNX LSTM node: one layer (both directions) of the block. ONNX's gate order is i, o, f, c (docs/rules.md uses
// PyTorch's i, f, g, o); the weights are reordered when the block closes.
void LstmPass::lstm_node(int i) {
  const Node& n = g_.node(i);
  g_.check_attributes(i, {"hidden_size", "direction", "activations", "clip", "input_forget", "layout",
                       "activation_alpha", "activation_beta"});
  for (const onnx::AttributeProto& a : n.proto->attribute()) {
    if (a.name() == "clip")
      g_.fail_node(i, "attribute 'clip' = ", a.f(), "; lrplab's lstm does not clip the gate inputs (export without clip)");
    if (a.name() == "activation_alpha" || a.name() == "activation_beta")
      g_.fail_node(i, "attribute '", a.name(), "' is set (non-default activations); lrplab's lstm uses Sigmoid, Tanh, Tanh");
  }
  const std::string direction = g_.attr_string(i, "direction", "forward");
  if (direction != "forward" && direction != "bidirectional")
    g_.fail_node(i, "attribute 'direction' = '", direction, "'; lrplab imports 'forward' and 'bidirectional' LSTMs");
  const std::int64_t dirs = direction == "bidirectional" ? 2 : 1;
  if (const onnx::AttributeProto* a = g_.attribute(i, "activations", onnx::AttributeProto_AttributeType_STRINGS)) {
    std::string list;
    bool ok = a->strings_size() == 3 * dirs;
    for (int k = 0; k < a->strings_size(); ++k) {
      list += std::string(k ? ", " : "") + a->strings(k);
      ok = ok && a->strings(k) == (k % 3 == 0 ? "Sigmoid" : "Tanh");
    }
    if (!ok)
      g_.fail_node(i, "attribute 'activations' = [", list, "]; lrplab's lstm uses the default activations (Sigmoid, ",
                "Tanh, Tanh per direction)");
  }
  if (g_.attr_int(i, "input_forget", 0, 0, 1) != 0)
    g_.fail_node(i, "attribute 'input_forget' = ", g_.attr_int(i, "input_forget", 0),
              " (coupled input and forget gates); lrplab's lstm has independent gates (input_forget = 0)");
  if (g_.attr_int(i, "layout", 0, 0, 1) != 0)
    g_.fail_node(i, "attribute 'layout' = ", g_.attr_int(i, "layout", 0),
              " (batch-major X); lrplab imports layout 0 (time-major, what torch.onnx.export writes)");
  const onnx::AttributeProto* hs = g_.attribute(i, "hidden_size", onnx::AttributeProto_AttributeType_INT);
  if (hs == nullptr || hs->i() < 1 || hs->i() > kMaxSize)
    g_.fail_node(i, "needs attribute 'hidden_size' in [1, ", kMaxSize, "]");
  const std::int64_t hidden = hs->i();
  g_.check_inputs(i, 3, 8);
  if (n.inputs.size() > 4 && !n.inputs[4].empty())
    g_.fail_node(i, "input 4 'sequence_lens' is given; lrplab imports LSTMs that run over all T steps of every sample");
  if (n.inputs.size() > 7 && !n.inputs[7].empty())
    g_.fail_node(i, "input 7 'P' (peephole weights) is given; lrplab's lstm has no peepholes");
  check_zero_state(i, 5, "initial_h");
  check_zero_state(i, 6, "initial_c");
  for (std::size_t k = 2; k < n.outputs.size(); ++k) {
    const std::string& o = n.outputs[k];
    if (!o.empty() && (g_.consumers.count(o) > 0 || g_.is_graph_output(o))) g_.fail_node(i, "output 2 'Y_c' (the final cell state) is used; lrplab's lstm outputs the final hidden state");
  }

  if (!lstm_)
    g_.fail_node(i, "reads '", n.inputs[0], "', which is not a [batch, T, D] sequence transposed to [T, batch, D] (as ",
              "torch exports nn.LSTM(batch_first=True)), nor an earlier LSTM layer's output");
  const auto x = seq_.find(n.inputs[0]);
  const auto k = static_cast<int>(lstm_->layers.size());
  const bool first = k == 0 && x != seq_.end() && x->second.role == SeqRole::kInput;
  const bool next = k > 0 && x != seq_.end() && x->second.role == SeqRole::kLayerOut && x->second.layer == k - 1;
  if (!first && !next)
    g_.fail_node(i, "reads '", n.inputs[0], "', which is not ",
              k == 0 ? "the block's transposed input sequence" : "the previous LSTM layer's output sequence");
  if (k > 0 && (hidden != lstm_->hidden || dirs != lstm_->dirs))
    g_.fail_node(i, "has hidden_size ", hidden, " and ", dirs, " direction(s), but the LSTM layer before it has ",
              lstm_->hidden, " and ", lstm_->dirs, "; lrplab's lstm stacks equal layers");
  LstmLayerNode layer;
  layer.node = i;
  layer.w = &g_.constant_input(i, 1, "weight W");
  layer.r = &g_.constant_input(i, 2, "recurrence weight R");
  if (n.inputs.size() > 3 && !n.inputs[3].empty()) layer.b = &g_.constant_input(i, 3, "bias B");
  const std::int64_t in = layer.w->dims.size() == 3 ? layer.w->dims[2] : -1;
  auto check = [&](const Const& c, const char* what, std::vector<std::int64_t> dims) {
    if (!c.is_real() || c.dims != dims)
      g_.fail_node(i, "the ", what, " has ", c.is_real() ? "" : type_name(c.type) + " ", "shape ", dims_string(c.dims),
                ", expected ", dims_string(dims), " ([directions, ...], gates i, o, f, c)");
  };
  check(*layer.w, "weight W", {dirs, 4 * hidden, in < 1 ? 1 : in});
  check(*layer.r, "recurrence weight R", {dirs, 4 * hidden, hidden});
  if (layer.b) check(*layer.b, "bias B", {dirs, 8 * hidden});
  if (k > 0 && in != dirs * hidden)
    g_.fail_node(i, "the weight W reads ", in, " features, but the LSTM layer before it outputs ", dirs * hidden);
  lstm_->hidden = hidden;
  lstm_->dirs = dirs;
  lstm_->layers.push_back(layer);
  if (n.outputs.size() > 0 && !n.outputs[0].empty()) seq_[n.outputs[0]] = SeqTensor{SeqRole::kY, k, {}};
  if (n.outputs.size() > 1 && !n.outputs[1].empty()) {
    SeqTensor states{SeqRole::kStates, k, {}};
    for (int d = 0; d < dirs; ++d) states.states.emplace_back(k, d);
    seq_[n.outputs[1]] = states;
  }
}


// Transpose of an LSTM's Y or of a layer's output sequence.
bool LstmPass::transpose(int i, const SeqTensor& t, const std::string& in_name, const std::string& out) {
  g_.check_attributes(i, {"perm"});
  const std::vector<std::int64_t> perm = g_.attr_ints(i, "perm", {});
  if (t.role == SeqRole::kY && perm == std::vector<std::int64_t>{0, 2, 1, 3}) {
    seq_[out] = SeqTensor{SeqRole::kYTransposed, t.layer, {}};
    return true;
  }
  if (t.role == SeqRole::kLayerOut && perm == std::vector<std::int64_t>{1, 0, 2}) {
    seq_[out] = SeqTensor{SeqRole::kBatchFirstOut, t.layer, {}};
    return true;
  }
  g_.fail_node(i, "transposes '", in_name, "' with perm ", dims_string(perm),
            "; inside an LSTM block lrplab imports the perms torch emits: [0, 2, 1, 3] of an LSTM's Y and "
            "[1, 0, 2] of a layer's output sequence");
}

// Squeeze of the direction axis of Y, or of the axis a one-element Slice kept.
bool LstmPass::squeeze(int i, const SeqTensor& t, const std::string& in_name, const std::string& out) {
  const Node& n = g_.node(i);
  const std::int64_t dirs = lstm_->dirs;
  g_.check_attributes(i, {"axes"});
  std::vector<std::int64_t> axes = g_.attr_ints(i, "axes", {});
  if (n.inputs.size() >= 2 && !n.inputs[1].empty()) axes = g_.known_ints(i, g_.constant_input(i, 1, "axes"), "axes");
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
      g_.fail_node(i, "reads out[:, -1] of a bidirectional LSTM, whose reverse half is the state after one step, not "
                   "the final one; lrplab's lstm outputs both final states: read torch.cat((h_n[-2], h_n[-1]), dim=1)");
    seq_[out] = SeqTensor{SeqRole::kPicked, -1, {{t.layer, 0}}};
    return true;
  }
  g_.fail_node(i, "squeezes '", in_name, "' on axes ", dims_string(axes),
            "; inside an LSTM block lrplab imports the Squeeze of axis 1 (the direction) of a unidirectional "
            "LSTM's Y, and of the axis a one-element Slice kept (h_n[-1:], out[:, -1:])");
}

// Reshape of a transposed Y to [T, batch, dirs·H].
bool LstmPass::reshape(int i, const SeqTensor& t, const std::string& in_name, const std::string& out) {
  const std::int64_t dirs = lstm_->dirs;
  g_.check_attributes(i, {"allowzero"});
  const std::vector<std::int64_t> shape = g_.known_ints(i, g_.constant_input(i, 1, "shape"), "shape");
  const bool ok = t.role == SeqRole::kYTransposed && g_.attr_int(i, "allowzero", 0, 0, 1) == 0 &&
                  shape.size() == 3 && shape[0] == 0 && shape[1] == 0 &&
                  (shape[2] == -1 || shape[2] == dirs * lstm_->hidden);
  if (!ok)
    g_.fail_node(i, "reshapes '", in_name, "' to ", dims_string(shape),
              "; inside an LSTM block lrplab imports only the Reshape to [0, 0, -1] of a transposed Y "
              "([T, batch, dirs, H] -> [T, batch, dirs·H])");
  seq_[out] = SeqTensor{SeqRole::kLayerOut, t.layer, {}};
  return true;
}

// Concat of final hidden states.
bool LstmPass::concat(int i, const SeqTensor& t, const std::string& /*in_name*/, const std::string& out) {
  const Node& n = g_.node(i);
  g_.check_attributes(i, {"axis"});
  const std::int64_t axis = g_.attr_int(i, "axis", 0);
  SeqTensor cat;
  cat.role = t.role;
  for (const std::string& name : n.inputs) {
    const auto it = seq_.find(name);
    const bool same = it != seq_.end() && it->second.role == t.role &&
                      (t.role == SeqRole::kStates || t.role == SeqRole::kPicked);
    if (!same)
      g_.fail_node(i, "concatenates '", name, "' with final LSTM states; lrplab imports a Concat of final hidden ",
                "states only (torch.cat of h_n pieces)");
    cat.states.insert(cat.states.end(), it->second.states.begin(), it->second.states.end());
  }
  const bool ok = (t.role == SeqRole::kStates && axis == 0) ||
                  (t.role == SeqRole::kPicked && (axis == 1 || axis == -1));
  if (!ok)
    g_.fail_node(i, "concatenates final LSTM states along axis ", axis, "; lrplab imports the stacking of h_n along ",
              "axis 0 and the side-by-side concatenation of [batch, H] states along axis 1");
  seq_[out] = cat;
  return true;
}

// Slice of one element: opset 9/10 write h_n[-1] and out[:, -1] as Slice + Squeeze.
bool LstmPass::slice(int i, const SeqTensor& t, const std::string& in_name, const std::string& out) {
  const Node& n = g_.node(i);
  // One element along one axis (opset 9/10: h_n[-1] and out[:, -1] become Slice + Squeeze).
  std::vector<std::int64_t> starts, ends, axes, steps;
  if (g_.opset < 10) {
    g_.check_attributes(i, {"starts", "ends", "axes"});
    starts = g_.attr_ints(i, "starts", {});
    ends = g_.attr_ints(i, "ends", {});
    axes = g_.attr_ints(i, "axes", {});
  } else {
    g_.check_attributes(i, {});
    starts = g_.known_ints(i, g_.constant_input(i, 1, "starts"), "starts");
    ends = g_.known_ints(i, g_.constant_input(i, 2, "ends"), "ends");
    if (n.inputs.size() > 3 && !n.inputs[3].empty()) axes = g_.known_ints(i, g_.constant_input(i, 3, "axes"), "axes");
    if (n.inputs.size() > 4 && !n.inputs[4].empty()) steps = g_.known_ints(i, g_.constant_input(i, 4, "steps"), "steps");
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
    g_.fail_node(i, "slices '", in_name, "'; inside an LSTM block lrplab imports a Slice of one element of the final "
                 "states (axis 0) or of the output sequence's last step (h_n[-1:], out[:, -1:])");
  if (states) {
    seq_[out] = SeqTensor{SeqRole::kStates, -1, {t.states[static_cast<std::size_t>(first)]}};
    return true;
  }
  if (first != sequence_steps_ - 1)
    g_.fail_node(i, "reads time step ", first, " of the LSTM's output sequence; lrplab's lstm outputs the final hidden ",
              "state, i.e. step ", sequence_steps_ - 1, " (out[:, -1])");
  SeqTensor step{SeqRole::kLastStep, t.layer, {}};
  step.axis = static_cast<int>(wanted_axis);
  seq_[out] = step;
  return true;
}

// Gather: one final state out of h_n, or one time step of the output sequence.
bool LstmPass::gather(int i, const SeqTensor& t, const std::string& in_name, const std::string& out) {
  const std::int64_t dirs = lstm_->dirs;
  g_.check_attributes(i, {"axis"});
  const std::int64_t axis = g_.attr_int(i, "axis", 0);
  const Const& index = g_.constant_input(i, 1, "index");
  const std::vector<std::int64_t> j = g_.known_ints(i, index, "index");
  if (!index.dims.empty() || j.size() != 1)
    g_.fail_node(i, "gathers '", in_name, "' with an index of shape ", dims_string(index.dims),
              "; lrplab imports a Gather of one element (h_n[-1], out[:, -1])");
  if (t.role == SeqRole::kStates && axis == 0) {
    const auto count = static_cast<std::int64_t>(t.states.size());
    const std::int64_t k = j[0] < 0 ? j[0] + count : j[0];
    if (k < 0 || k >= count) g_.fail_node(i, "index ", j[0], " is out of range for ", count, " stacked states");
    seq_[out] = SeqTensor{SeqRole::kPicked, -1, {t.states[static_cast<std::size_t>(k)]}};
    return true;
  }
  const bool step = (t.role == SeqRole::kBatchFirstOut && axis == 1) || (t.role == SeqRole::kLayerOut && axis == 0);
  if (!step)
    g_.fail_node(i, "gathers '", in_name, "' along axis ", axis,
              "; lrplab imports h_n[k] (axis 0 of the final states) and out[:, t] (axis 1 of the output sequence)");
  const std::int64_t k = j[0] < 0 ? j[0] + sequence_steps_ : j[0];
  if (k != sequence_steps_ - 1)
    g_.fail_node(i, "reads time step ", j[0], " of the LSTM's output sequence; lrplab's lstm outputs the final hidden ",
              "state, i.e. step ", sequence_steps_ - 1, " (out[:, -1])");
  if (dirs == 2)
    g_.fail_node(i, "reads out[:, -1] of a bidirectional LSTM, whose reverse half is the state after one step, not the "
                 "final one; lrplab's lstm outputs both final states: read torch.cat((h_n[-2], h_n[-1]), dim=1)");
  seq_[out] = SeqTensor{SeqRole::kPicked, -1, {{t.layer, 0}}};
  return true;
}

const std::map<std::string, LstmPass::Handler>& LstmPass::block_ops() {
  static const std::map<std::string, LstmPass::Handler> kTable{
      {"Transpose", &LstmPass::transpose}, {"Squeeze", &LstmPass::squeeze}, {"Reshape", &LstmPass::reshape},
      {"Concat", &LstmPass::concat},       {"Slice", &LstmPass::slice},     {"Gather", &LstmPass::gather}};
  return kTable;
}

// The rest of the graph reads `tensor`: it must be the last layer's final hidden state(s), [forward, reverse].
void LstmPass::close(int i, const std::string& tensor, std::vector<Op>& out) {
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
    LRP_FAIL(g_.where(), ": ", i >= 0 ? g_.node_ref(i) : std::string("the graph output"), " reads '", tensor, "', ", what,
             "; lrplab imports an LSTM whose output is ", describe_states(expected),
             " (h_n[-1], torch.cat((h_n[-2], h_n[-1]), dim=1) when bidirectional, or out[:, -1] when unidirectional)");
  }
  Op& op = out[block_op_];
  op.output = tensor;
  op.lstm = block;
  lstm_.reset();
  seq_.erase(tensor);  // its readers are the rest of the chain
}

}  // namespace

void fuse_lstm(const Graph& g, std::vector<Op>& ops) { LstmPass(g).run(ops); }

std::vector<std::string> lstm_op_types() {
  std::vector<std::string> ops{"LSTM"};
  for (const auto& [op, handler] : LstmPass::block_ops()) ops.push_back(op);
  return ops;
}

// ONNX's weights W [dirs, 4H, D], R [dirs, 4H, H], B [dirs, 8H] (Wb then Rb), reordered from ONNX's gate order
// i, o, f, c to PyTorch's i, f, g, o, into lrplab's packed weight row and bias.
Step lstm_step(const LstmBlock& block) {
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
  s.node = block.layers[0].node;
  return s;
}

}  // namespace lrp::onnx_import
