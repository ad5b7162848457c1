// The built-in layer handlers. Parameters are created zero-filled with their final shapes by the
// constructor; set them with set_params() (or Network::layer(i).set_params()).
#pragma once

#include "lrp/nn/layer.hpp"

#include <array>
#include <string>
#include <vector>

namespace lrp {

// y = W x + b, W [out, in].
class Dense final : public Layer {
 public:
  Dense(Index in_features, Index out_features, bool bias = true);
  std::string kind() const override { return "dense"; }
  LayerTraits traits() const override { return {.linear = true}; }
  std::string describe() const override;
  void forward(const ConstMatrixRef& x, const Params& p, MatrixRef y, Workspace& ws) const override;
  void vjp(const ConstMatrixRef& at, const Params& p, const ConstMatrixRef& g_out, MatrixRef g_in,
           Workspace& ws, bool accumulate) const override;
  void param_vjp(const ConstMatrixRef& at, const Params& p, const ConstMatrixRef& g_out, Params& grads,
                 Workspace& ws) const override;
  Index in_features() const { return in_; }
  Index out_features() const { return out_; }

 protected:
  Shape setup(const Shape& input_shape) override;
  void check_params(const Params& p) const override;

 private:
  Index in_, out_;
  bool bias_;
};

struct Conv2dOptions {
  std::array<Index, 2> kernel{3, 3};
  std::array<Index, 2> stride{1, 1};
  std::array<Index, 2> padding{0, 0};
  std::array<Index, 2> dilation{1, 1};
  Index groups = 1;
  bool bias = true;
};

// 2-d convolution (cross-correlation, as in PyTorch) with zero padding, stride, dilation and
// groups, computed per sample as im2col + GEMM. Weight [out, in/groups · kh · kw].
class Conv2d final : public Layer {
 public:
  Conv2d(Index in_channels, Index out_channels, Conv2dOptions options);
  std::string kind() const override { return "conv2d"; }
  LayerTraits traits() const override { return {.linear = true}; }
  std::string describe() const override;
  void forward(const ConstMatrixRef& x, const Params& p, MatrixRef y, Workspace& ws) const override;
  void vjp(const ConstMatrixRef& at, const Params& p, const ConstMatrixRef& g_out, MatrixRef g_in,
           Workspace& ws, bool accumulate) const override;
  void param_vjp(const ConstMatrixRef& at, const Params& p, const ConstMatrixRef& g_out, Params& grads,
                 Workspace& ws) const override;
  void forward_many(const ConstMatrixRef& x, std::span<const Params* const> ps, std::span<Scalar* const> ys,
                    Workspace& ws) const override;
  void vjp_many(const ConstMatrixRef& at, std::span<const Params* const> ps, std::span<const Scalar* const> gs,
                std::span<const Scalar> coefficients, MatrixRef g_in, Workspace& ws) const override;
  const Conv2dOptions& options() const { return opt_; }
  Index in_channels() const { return in_ch_; }
  Index out_channels() const { return out_ch_; }

 protected:
  Shape setup(const Shape& input_shape) override;
  void check_params(const Params& p) const override;

 private:
  Index in_ch_, out_ch_;
  Conv2dOptions opt_;
};

// The input range [lo, hi) one pooling output reads along an axis, the kernel tap at lo, and the
// factor kernel / counted by which average pooling scales the window's sum along this axis: PyTorch
// divides by the window's extent within the padded input (1 except for a ceil_mode window that
// reaches past it).
struct PoolWindow {
  Index lo = 0, hi = 0, tap = 0;
  Scalar scale = 1;
};

struct Pool2dOptions {
  std::array<Index, 2> kernel{2, 2};
  std::array<Index, 2> stride{0, 0};  // 0: same as kernel (PyTorch's default)
  std::array<Index, 2> padding{0, 0};
  // PyTorch's ceil_mode: the output size rounds up, ceil((H + 2p − k)/s) + 1, less one when the last
  // window would start in the right padding; that last window may then reach past the padded input.
  bool ceil_mode = false;
};

// What max and average pooling share: the options, the output shape, and the input range of every
// output row and column (computed once by setup(), so that the loops carry no bounds tests).
class Pool2d : public Layer {
 public:
  const Pool2dOptions& options() const { return opt_; }
  std::string describe() const override;

 protected:
  Pool2d(Pool2dOptions options, const char* kind);
  Shape setup(const Shape& input_shape) override;
  // The common 2×2, stride-2 window without padding, which has straight-line fast paths.
  bool two_by_two() const;
  // The shared loops over planes and windows (defined and instantiated in layers.cpp).
  template <typename Fast, typename General>
  void forward_windows(const ConstMatrixRef& x, MatrixRef y, Fast fast, General general) const;
  template <typename Fast, typename General>
  void vjp_windows(const ConstMatrixRef& at, const ConstMatrixRef& g_out, MatrixRef g_in, bool accumulate, Fast fast,
                   General general) const;

  Pool2dOptions opt_;
  std::vector<PoolWindow> rows_, cols_;
};

// How max pooling routes a window's gradient (and winner-take-all relevance) when several inputs
// hold the window's maximum. kFirst is PyTorch's: the first maximum in the window's row-major scan
// (what torch's max-pool backward does, and so Zennit, Captum and every autograd gradient); kSplit
// shares it equally among the tied inputs. They agree wherever the maximum is unique; real images
// (flat backgrounds) have many ties.
enum class MaxPoolTies { kFirst, kSplit };
const char* to_string(MaxPoolTies ties);

// Max pooling; padding counts as -inf. The vjp routes each output's gradient to the arg-max of
// its window, ties as ties() says, and overlapping windows add up. A NaN counts as a maximum, as
// in torch's CPU kernel: the window's last NaN is its arg-max and its output (kSplit compares
// with the largest non-NaN value only).
class MaxPool2d final : public Pool2d {
 public:
  explicit MaxPool2d(Pool2dOptions options, MaxPoolTies ties = MaxPoolTies::kFirst)
      : Pool2d(options, "maxpool2d"), ties_(ties) {}
  std::string kind() const override { return "maxpool2d"; }
  LayerTraits traits() const override { return {}; }
  MaxPoolTies ties() const { return ties_; }
  void set_ties(MaxPoolTies ties) { ties_ = ties; }
  void forward(const ConstMatrixRef& x, const Params& p, MatrixRef y, Workspace& ws) const override;
  void vjp(const ConstMatrixRef& at, const Params& p, const ConstMatrixRef& g_out, MatrixRef g_in,
           Workspace& ws, bool accumulate) const override;

 private:
  MaxPoolTies ties_;
};

// Average pooling with zero padding counted in the divisor (PyTorch's count_include_pad=True; with
// ceil_mode, the part of a window past the padded input is not counted, as in PyTorch):
// a depthwise linear map with implicit uniform weights 1/(kh·kw), exposed as its weight [1, kh·kw]
// so that rules can modify them like any other weights. `global` averages each channel over the
// whole plane (the kernel is fixed by configure()). Those weights are implicit, not trainable: it
// keeps the default param_vjp, which leaves the gradients unchanged.
class AvgPool2d final : public Pool2d {
 public:
  explicit AvgPool2d(Pool2dOptions options);
  static std::unique_ptr<AvgPool2d> global();
  std::string kind() const override { return global_ ? "global_avgpool" : "avgpool2d"; }
  bool trainable() const override { return false; }  // the weights are the implicit kernel
  LayerTraits traits() const override { return {.linear = true}; }
  std::string describe() const override;
  void forward(const ConstMatrixRef& x, const Params& p, MatrixRef y, Workspace& ws) const override;
  void vjp(const ConstMatrixRef& at, const Params& p, const ConstMatrixRef& g_out, MatrixRef g_in,
           Workspace& ws, bool accumulate) const override;

 protected:
  Shape setup(const Shape& input_shape) override;
  void check_params(const Params& p) const override;

 private:
  void set_kernel(Index kh, Index kw);
  bool global_ = false;
};

// {C, H, W} (or any shape) → {C·H·W}.
class Flatten final : public Layer {
 public:
  std::string kind() const override { return "flatten"; }
  LayerTraits traits() const override { return {.reshape = true}; }
  std::string describe() const override { return "flatten"; }
  void forward(const ConstMatrixRef& x, const Params& p, MatrixRef y, Workspace& ws) const override;
  void vjp(const ConstMatrixRef& at, const Params& p, const ConstMatrixRef& g_out, MatrixRef g_in,
           Workspace& ws, bool accumulate) const override;

 protected:
  Shape setup(const Shape& input_shape) override;
};

enum class Activation { kReLU, kTanh, kSigmoid, kIdentity, kLeakyReLU, kELU, kGELU, kGELUTanh, kSiLU, kSoftplus, kHardtanh };

// The constants of the parameterized activations (PyTorch's defaults); each function reads its own.
struct ActivationParams {
  double slope = 0.01;                  // leaky_relu: x for x > 0, slope·x otherwise
  double alpha = 1.0;                   // elu: x for x > 0, alpha·(exp(x) − 1) otherwise
  double beta = 1.0, threshold = 20.0;  // softplus: log(1 + exp(beta·x))/beta, x where beta·x > threshold
  double min = -1.0, max = 1.0;         // hardtanh: clamp(x, min, max)
};

// Elementwise activations, each with PyTorch's forward and gradient (the gradient at a kink is
// PyTorch's one-sided choice):
//   relu, tanh, sigmoid, identity;
//   leaky_relu (slope at 0), elu (alpha at 0);
//   gelu x·Φ(x) (Φ the normal CDF, through erf) and gelu_tanh, its tanh approximation
//     0.5x(1 + tanh(√(2/π)(x + 0.044715x³))) (kind "gelu" with tanh 1);
//   silu x·σ(x); softplus (with PyTorch's threshold; 1 there);
//   hardtanh clamp(x, min, max), gradient 1 strictly inside (min, max) and 0 from the bounds on, as
//     PyTorch's; relu6 is hardtanh(0, 6) under its own kind name.
class ElementwiseActivation final : public Layer {
 public:
  // `kind` overrides the kind name (relu6); empty: the function's.
  explicit ElementwiseActivation(Activation f, ActivationParams constants = {}, std::string kind = "");
  std::string kind() const override { return kind_; }
  LayerTraits traits() const override { return {.elementwise = true}; }
  std::string describe() const override;
  void forward(const ConstMatrixRef& x, const Params& p, MatrixRef y, Workspace& ws) const override;
  void vjp(const ConstMatrixRef& at, const Params& p, const ConstMatrixRef& g_out, MatrixRef g_in,
           Workspace& ws, bool accumulate) const override;
  Activation function() const { return f_; }
  const ActivationParams& constants() const { return c_; }

 protected:
  Shape setup(const Shape& input_shape) override { return input_shape; }

 private:
  Activation f_;
  ActivationParams c_;
  std::string kind_;
};

LayerPtr make_relu();
LayerPtr make_tanh();
LayerPtr make_sigmoid();
LayerPtr make_identity();
// Dropout: the identity at inference. In training each value is zeroed with probability p and the
// survivors are scaled by 1/(1 − p) (inverted dropout, as PyTorch), with a mask drawn from the
// trainer's seeded generator.
class Dropout final : public Layer {
 public:
  explicit Dropout(double p);
  std::string kind() const override { return "dropout"; }
  LayerTraits traits() const override { return {.elementwise = true}; }
  std::string describe() const override;
  void forward(const ConstMatrixRef& x, const Params& p, MatrixRef y, Workspace& ws) const override;
  void vjp(const ConstMatrixRef& at, const Params& p, const ConstMatrixRef& g_out, MatrixRef g_in,
           Workspace& ws, bool accumulate) const override;
  bool has_training_mode() const override { return p_ > 0; }
  void train_forward(const ConstMatrixRef& x, const Params& p, MatrixRef y, Matrix& state,
                     std::mt19937_64& rng) override;
  void train_backward(const ConstMatrixRef& x, const Params& p, const Matrix& state, const ConstMatrixRef& g_out,
                      MatrixRef g_in, Params& grads) const override;
  double probability() const { return p_; }

 protected:
  Shape setup(const Shape& input_shape) override { return input_shape; }

 private:
  double p_;
};
LayerPtr make_dropout(double p);

// Batch normalization with inference statistics, over the channel axis of {C} (1d) or {C,H,W}
// (2d): y = (x − mean)/√(var + eps) · γ + β. γ is weight [1, C], β is bias [C].
// In training (PyTorch's semantics) it normalizes with the minibatch's statistics per channel
// (biased variance over the N·H·W values) and updates the running statistics
// r ← (1 − momentum)·r + momentum·batch value, the variance with the unbiased batch variance.
class BatchNorm final : public Layer {
 public:
  BatchNorm(Index channels, double eps = 1e-5, double momentum = 0.1);
  std::string kind() const override { return "batchnorm"; }
  LayerTraits traits() const override { return {.elementwise = true}; }
  std::string describe() const override;
  void forward(const ConstMatrixRef& x, const Params& p, MatrixRef y, Workspace& ws) const override;
  void vjp(const ConstMatrixRef& at, const Params& p, const ConstMatrixRef& g_out, MatrixRef g_in,
           Workspace& ws, bool accumulate) const override;
  void param_vjp(const ConstMatrixRef& at, const Params& p, const ConstMatrixRef& g_out, Params& grads,
                 Workspace& ws) const override;

  bool has_training_mode() const override { return true; }
  void train_forward(const ConstMatrixRef& x, const Params& p, MatrixRef y, Matrix& state,
                     std::mt19937_64& rng) override;
  void train_backward(const ConstMatrixRef& x, const Params& p, const Matrix& state, const ConstMatrixRef& g_out,
                      MatrixRef g_in, Params& grads) const override;
  double momentum() const { return momentum_; }
  // Running statistics (buffers, not parameters): checked for shape, finiteness and var ≥ 0.
  void set_statistics(Vector mean, Vector var);
  const Vector& running_mean() const { return mean_; }
  const Vector& running_var() const { return var_; }
  double eps() const { return eps_; }
  Index channels() const { return channels_; }
  // Per-channel scale γ/√(var+eps) and shift β − mean·scale of the affine map it computes.
  Vector scale(const Params& p) const;
  Vector shift(const Params& p) const;

 protected:
  Shape setup(const Shape& input_shape) override;
  void check_params(const Params& p) const override;

 private:
  Index channels_;
  double eps_;
  double momentum_;
  Vector mean_, var_;
};

// ---------------------------------------------------------------- LSTM

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
// returning the last layer's final hidden state (RULES.md §5):
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
// one workspace slot (kLayerSlot0), sized once per call.
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
  // Scratch for a block of n rows in workspace slot kLayerSlot0: for forward() alone, or (record)
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

// ---------------------------------------------------------------- embedding

// A lookup table, PyTorch's nn.Embedding(V, E): per sample the input is [T] token ids stored as
// numbers (each a whole number in [0, V)), the output [T, E] holds row id_t of the weight for each
// step t. Params: weight [V, E] (nn.Embedding.weight), no bias.
// The output is not differentiable in the ids: vjp throws lrp::Error (gradient-based methods need a
// differentiable input, e.g. one-hot vectors through a dense layer); param_vjp adds each step's
// output gradient into the row of the id it used. Its default LRP rule is `token_sum`
// (R_token[t] = Σ_e R[t, e]).
class Embedding final : public Layer {
 public:
  Embedding(Index vocab, Index dim);
  std::string kind() const override { return "embedding"; }
  LayerTraits traits() const override { return {}; }
  std::string describe() const override;
  void forward(const ConstMatrixRef& x, const Params& p, MatrixRef y, Workspace& ws) const override;
  void vjp(const ConstMatrixRef& at, const Params& p, const ConstMatrixRef& g_out, MatrixRef g_in,
           Workspace& ws, bool accumulate) const override;
  void param_vjp(const ConstMatrixRef& at, const Params& p, const ConstMatrixRef& g_out, Params& grads,
                 Workspace& ws) const override;
  void check_input(const ConstMatrixRef& x) const override;

  Index vocab() const { return vocab_; }
  Index dim() const { return dim_; }

 protected:
  Shape setup(const Shape& input_shape) override;
  void check_params(const Params& p) const override;

 private:
  // The id at (row, step) of x, or lrp::Error naming the layer, the sample (row) and step and the value.
  Index token(const ConstMatrixRef& x, Index row, Index step) const;
  Index vocab_, dim_;
};

}  // namespace lrp
