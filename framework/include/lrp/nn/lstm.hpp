// The lstm layer handler (PyTorch's nn.LSTM).
#pragma once

#include "lrp/nn/layer.hpp"

#include <string>
#include <vector>

namespace lrp {

// One block of an Lstm's packed parameters, under the name PyTorch's nn.LSTM gives it.
struct LstmParamBlock {
  std::string name;     // weight_ih_l{k}, weight_hh_l{k}, bias_ih_l{k}, bias_hh_l{k}; "_reverse" appended
                        // for the reverse direction
  bool in_bias = false;  // where it lives: false → Params::weight (its one row), true → Params::bias
  Index offset = 0;      // its first entry in that row or vector
  Shape shape;           // PyTorch's shape: [4H, in_k] or [4H, H] for weights, [4H] for biases
  Index layer = 0;       // k
  Index direction = 0;   // 0 forward, 1 reverse
  Index size() const { return numel(shape); }
};

// Views of one (layer k, direction d) cell's parameters inside packed Params (no copies).
struct LstmCellView {
  ConstMatrixMap w_ih;                 // [4H, in_k]
  ConstMatrixMap w_hh;                 // [4H, H]
  Eigen::Map<const Vector> b_ih, b_hh;  // [4H] each; size 0 when the Params have no bias
};
struct LstmCellMutableView {
  MatrixMap w_ih, w_hh;
  Eigen::Map<Vector> b_ih, b_hh;
};

// A (stacked, optionally bidirectional) LSTM as PyTorch's nn.LSTM(batch_first=True) computes it,
// returning the last layer's final hidden state (docs/rules.md, LSTM rules):
//   per sample the input is [T, D] (time-major: step t is features t·D … t·D + D − 1), T ≥ 1;
//   per step  pre_t = W_ih x_t + W_hh h_{t−1} + b_ih + b_hh  (rows in the gate order i, f, g, o),
//             i, f, o = σ(pre), g = tanh(pre), c_t = f ⊙ c_{t−1} + i ⊙ g, h_t = o ⊙ tanh(c_t),
//             h_{−1} = c_{−1} = 0;
//   the reverse direction reads x_{T−1}, …, x_0; layer k > 0 reads the per-step outputs of layer
//   k − 1, both directions concatenated [forward, reverse] (in_k = H · dirs; in_0 = D);
//   output [H · dirs]: the forward direction's h after x_{T−1}, then the reverse direction's h after
//   x_0 (PyTorch's h_n of the last layer, concatenated).
//
// Parameter packing (what Params holds; parameter_blocks() lists it):
//   weight is ONE row (a 1 × total Matrix): for each layer k = 0 … L−1 and, within it, each
//     direction d (forward, then reverse), W_ih^(k,d) [4H, in_k] then W_hh^(k,d) [4H, H], each
//     flattened row-major (PyTorch's weight_ih_l{k}[_reverse] and weight_hh_l{k}[_reverse] bytes),
//     all concatenated; total = Σ_k dirs · 4H · (in_k + H).
//   bias (when the layer has one) is, per (k, d) in the same order, b_ih [4H] then b_hh [4H]
//     (bias_ih_l{k}[_reverse], bias_hh_l{k}[_reverse]); size L · dirs · 8H.
// forward runs the whole batch through one GEMM per (layer, direction) for the input projections
// and one [N, H] × [H, 4H] GEMM per time step; vjp and param_vjp recompute that forward from `at`
// (recording gates and cell states) and backpropagate through time. All scratch memory comes from
// one workspace slot (slots::kLstm), sized once per call.
class Lstm final : public Layer {
 public:
  Lstm(Index input_size, Index hidden_size, Index num_layers = 1, bool bidirectional = false, bool bias = true);
  std::string kind() const override { return "lstm"; }
  LayerTraits traits() const override { return {.sequence = true}; }
  std::string describe() const override;
  void forward(const ConstMatrixRef& x, const Params& p, MatrixRef y, Workspace& ws) const override;
  void vjp(const ConstMatrixRef& at, const Params& p, const ConstMatrixRef& g_out, MatrixRef g_in,
           Workspace& ws, bool accumulate) const override;
  void param_vjp(const ConstMatrixRef& at, const Params& p, const ConstMatrixRef& g_out, Params& grads,
                 Workspace& ws) const override;

  // PyTorch's nn.LSTM.reset_parameters, whatever the scheme: every weight and bias entry
  // ~ U(−1/√H, 1/√H), drawn in packing order (the weight row, then the bias).
  void initialize(InitScheme scheme, std::mt19937_64& rng) override;
  // One array per PyTorch parameter (parameter_blocks()), sliced out of the packed Params.
  std::vector<StoredArray> stored_arrays() const override;
  std::string storage_note() const override;

  Index input_size() const { return in_; }
  Index hidden_size() const { return hidden_; }
  Index num_layers() const { return layers_; }
  bool bidirectional() const { return dirs_ == 2; }
  Index directions() const { return dirs_; }
  bool has_bias() const { return bias_; }
  // in_k: D for k = 0, H · dirs above.
  Index layer_input_size(Index layer) const { return layer == 0 ? in_ : hidden_ * dirs_; }
  // Sizes of the packed weight row and bias vector (see the class comment).
  Index weight_size() const;
  Index bias_size() const { return bias_ ? layers_ * dirs_ * 8 * hidden_ : 0; }
  // Every block in packing order: per (k, d) weight_ih, weight_hh, bias_ih, bias_hh (no bias blocks
  // without bias), with PyTorch's names and shapes.
  std::vector<LstmParamBlock> parameter_blocks() const;
  // Views of cell (layer, direction) inside p, which must have this layer's sizes (lrp::Error otherwise).
  LstmCellView cell(const Params& p, Index layer, Index direction) const;
  LstmCellMutableView cell(Params& p, Index layer, Index direction) const;

 protected:
  Shape setup(const Shape& input_shape) override;
  void check_params(const Params& p) const override;

 private:
  struct Scratch;
  // Offset of W_ih^(k,d) in the weight row; W_hh^(k,d) follows it.
  Index weight_offset(Index layer, Index direction) const;
  void check_sizes(const Params& p, const char* what) const;
  // Scratch for a block of n rows in workspace slot slots::kLstm: for forward() alone, or (record)
  // for the recording forward and backward(), with room for layer 0's input gradient (input_grad).
  Scratch make_scratch(Workspace& ws, Index n, bool record, bool input_grad) const;
  // The forward pass over a block of rows into *y (when given); a recording scratch also keeps what
  // backward() needs.
  void run_forward(const ConstMatrixRef& x, const Params& p, Scratch& s, MatrixRef* y) const;
  // Backpropagation through time from g_out at the recorded forward in s: writes (or adds, with
  // accumulate) the input gradient to *g_in and/or adds the parameter gradients to *grads.
  void backward(const Params& p, const ConstMatrixRef& g_out, Scratch& s, MatrixRef* g_in, bool accumulate,
                Params* grads) const;

  Index in_, hidden_, layers_, dirs_;
  bool bias_;
};

}  // namespace lrp
