// The layer-handler interface.
//
// Handlers are pure in their parameters: forward() and vjp() compute with the Params they are
// given, never with a member copy, and fix any routing (max-pool winners) from the activation
// `at`. That single property lets every rule run on every linear-like layer: a rule hands in
// modified parameters (W⁺, W + γW⁺, ones, W², ...) and gets the modified forward and
// vector-Jacobian product for free.
#pragma once

#include "lrp/core/tensor.hpp"
#include "lrp/core/workspace.hpp"

#include <memory>
#include <optional>
#include <random>
#include <span>
#include <string>
#include <vector>

namespace lrp {

class Layer;
using LayerPtr = std::unique_ptr<Layer>;

// Trainable parameters of a layer. The layouts are PyTorch's, flattened row-major:
//   dense   weight [out, in],                 bias [out]
//   conv2d  weight [out, in/groups · kh · kw], bias [out]
//   avgpool weight [1, kh · kw] (its implicit, uniform weights), no bias
//   batchnorm weight [1, C] (γ), bias [C] (β); running statistics are buffers, not parameters
struct Params {
  Matrix weight;
  Vector bias;  // size 0: no bias

  bool has_bias() const { return bias.size() > 0; }
};

// Zero-filled parameters with p's shapes (a size-0 weight or bias stays size 0): the starting
// point for accumulating param_vjp.
Params zero_like(const Params& p);
// Whether a and b have the same weight and bias shapes.
bool same_shapes(const Params& a, const Params& b);

// What a handler is, as far as rules are concerned (never its kind name).
struct LayerTraits {
  // y = W x + b for a fixed matrix W built from weight: the generic LRP step applies.
  bool linear = false;
  // Output has the input's shape and y_i depends on x_i only (activations, dropout, identity).
  bool elementwise = false;
  // Output is the input's values in another shape (flatten, reshape).
  bool reshape = false;
  // The input's first axis is time and the layer honours per-sample sequence lengths
  // (Workspace::lengths(): padding steps change neither its output nor its gradients) (lstm).
  bool sequence = false;
};

// How Layer::initialize draws weights that follow a fan-based scheme (lrp::initialize_parameters).
enum class InitScheme { kHeNormal, kHeUniform, kGlorotNormal, kGlorotUniform };

// Fills `weight` with the scheme's draws, one per entry in row-major order from rng: variance
// 2/fan_in (He) or 2/(fan_in + fan_out) (Glorot), normal or uniform U(±√(3·variance)).
void draw_fan_scheme(Matrix& weight, InitScheme scheme, std::mt19937_64& rng, double fan_in, double fan_out);

// The seeded draws of lrp::randomize_parameters (example networks, tests, benchmarks), shared by
// all layers in order. The standard's distributions are not specified exactly, so these values
// may differ between standard libraries: nothing stored depends on them.
struct ExampleDraws {
  explicit ExampleDraws(std::uint64_t seed) : rng(seed) {}
  std::mt19937_64 rng;
  std::normal_distribution<double> normal{0.0, 1.0};
  std::uniform_real_distribution<double> uniform{0.5, 1.5};
};

// One array a layer keeps in a model file (lrp/io/model_file.hpp): the dataset `name` in the
// layer's group, its stored (PyTorch) shape, and where its values live: a contiguous stretch of the
// row-major weight or of the bias, or buffer number `buffer` of Layer::buffers().
struct StoredArray {
  enum class Home { kWeight, kBias, kBuffer };
  std::string name;
  Shape shape;
  Home home = Home::kWeight;
  Index offset = 0;
  Index buffer = 0;
  // Non-empty: its values must be ≥ 0, and this says what each one is in a model file's error
  // ("a variance"); empty: any finite value.
  std::string non_negative = {};
  Index size() const { return numel(shape); }
};

// A per-channel affine map y_c = scale_c · x_c + shift_c over the first axis of a layer's input.
struct ChannelAffine {
  Vector scale, shift;
};

class Layer {
 public:
  virtual ~Layer() = default;

  // Registry name of the handler: "dense", "conv2d", "maxpool2d", ...
  virtual std::string kind() const = 0;
  virtual LayerTraits traits() const = 0;
  // Hyperparameters in one line, for listings and error messages.
  virtual std::string describe() const = 0;

  // Checks the per-sample input shape (throws lrp::Error naming the layer) and fixes the
  // output shape. Called once, when the layer is added to a network.
  void configure(const Shape& input_shape, const std::string& name);

  // The shape of the one input the layer computes with, given the shapes of the values it reads in
  // a network. Layers that read several (add, concat: lrp/nn/merge.hpp) get them side by side in
  // one row per sample, [x_1 | x_2 | ...], and say here what shape that stacked input has, or throw
  // lrp::Error when the shapes do not fit. The default: exactly one input, as it is.
  virtual Shape stack_inputs(std::span<const Shape> inputs) const;

  // y = f(x; p) for a batch: x is N × numel(input_shape), y is N × numel(output_shape).
  virtual void forward(const ConstMatrixRef& x, const Params& p, MatrixRef y, Workspace& ws) const = 0;

  // g_in = J_f(at; p)ᵀ g_out, the vector-Jacobian product at the input `at`. Overwrites g_in, or
  // adds to it when `accumulate` is true. For linear layers `at` is not read.
  virtual void vjp(const ConstMatrixRef& at, const Params& p, const ConstMatrixRef& g_out,
                   MatrixRef g_in, Workspace& ws, bool accumulate = false) const = 0;

  // Validates a whole batch of network inputs (rows = samples, so that a message can name the
  // sample) when this is the network's first layer; Network::forward calls it before any layer
  // runs. The default accepts everything (the network has already checked shapes and finiteness).
  virtual void check_input(const ConstMatrixRef& x) const;

  // Parameter gradient at the input `at`: ADDS to `grads` (the same shapes as p; a weight or bias
  // of size 0 means none) the gradient of Σ_n Σ_j g_out(n, j) · f(at; p)(n, j) with respect to p,
  // summed over the batch rows. Handlers with parameters throw lrp::Error when grads does not have
  // p's shapes. The default does nothing: the layer has no trainable parameters (implicit weights,
  // such as average pooling's, are not trainable).
  virtual void param_vjp(const ConstMatrixRef& at, const Params& p, const ConstMatrixRef& g_out, Params& grads,
                         Workspace& ws) const;

  // The generic LRP step evaluates one layer under several parameter sets at once; handlers
  // override these two to share work between them (conv2d: one im2col / col2im per sample).
  // ys[k] = forward(x; *ps[k]), each ys[k] an N × out row-major buffer.
  virtual void forward_many(const ConstMatrixRef& x, std::span<const Params* const> ps, std::span<Scalar* const> ys,
                            Workspace& ws) const;
  // g_in = Σ_k coefficients[k] · J(at; *ps[k])ᵀ gs[k], each gs[k] an N × out row-major buffer.
  virtual void vjp_many(const ConstMatrixRef& at, std::span<const Params* const> ps, std::span<const Scalar* const> gs,
                        std::span<const Scalar> coefficients, MatrixRef g_in, Workspace& ws) const;

  // Whether training updates params(): true for layers with learned weights, false for layers
  // without parameters and for average pooling, whose weight is its implicit uniform kernel.
  virtual bool trainable() const { return params_.weight.size() > 0 || params_.bias.size() > 0; }

  // ---- training mode (used by lrp::train). Layers whose training behaviour differs from
  // inference override all three: batch norm (batch statistics, running averages) and dropout (a
  // random mask). They see the whole minibatch at once (rows may be coupled); they may split work
  // that is independent (batch norm: its channels) over up to `threads` threads with
  // parallel_chunks, but the result must not depend on `threads`. Every other layer is trained with
  // forward / vjp / param_vjp on row blocks.
  virtual bool has_training_mode() const { return false; }
  // y = f_train(x; p) for the minibatch x. `state` is the layer's scratch for this step (resized
  // by the layer; kept by the caller until train_backward); `rng` is the trainer's seeded
  // generator. Running statistics (buffers, not parameters) are updated here.
  virtual void train_forward(const ConstMatrixRef& x, const Params& p, MatrixRef y, Matrix& state,
                             std::mt19937_64& rng, int threads);
  // g_in = J_train(x; p)ᵀ g_out, and ADDS the parameter gradient to grads (like param_vjp).
  virtual void train_backward(const ConstMatrixRef& x, const Params& p, const Matrix& state,
                              const ConstMatrixRef& g_out, MatrixRef g_in, Params& grads, int threads) const;

  // ---- what a layer kind knows about itself: initialize_parameters, the model file and the
  // canonizers are generic loops over these.

  // Fresh parameters (and buffers) for training from scratch, drawn from rng in a fixed order, so
  // that a seed gives the same values everywhere. The default, for a trainable layer: the weight
  // from draw_fan_scheme with fan_in = weight.cols(), fan_out = weight.rows(), the bias zero;
  // nothing for a layer that is not trainable.
  virtual void initialize(InitScheme scheme, std::mt19937_64& rng);
  // Plausible random values for the example networks and tests (lrp::randomize_parameters). The
  // default, for a trainable linear layer: weight ~ N(0, 2/weight.cols()) then bias ~ N(0, 0.1²),
  // entry by entry; other layers keep their values and draw nothing.
  virtual void randomize(ExampleDraws& draws);

  // The arrays a model file stores for this layer, in the order they are written; empty: none (a
  // layer without parameters, or whose implicit weights follow from the architecture). The default,
  // for a trainable layer: "weight" [rows, cols] and, when there is one, "bias" [size].
  virtual std::vector<StoredArray> stored_arrays() const;
  // Values a layer keeps besides its parameters, which training does not differentiate (batch norm's
  // running statistics); StoredArray::buffer indexes them. The default: none.
  virtual std::vector<Vector> buffers() const { return {}; }
  // Replaces the buffers after checking them (lrp::Error naming the layer). The default refuses any.
  virtual void set_buffers(std::vector<Vector> buffers);
  // For a layer whose stored arrays are slices of packed parameters (lstm): a note, starting with a
  // space, that a model file's error appends when the layer's group holds datasets it does not store
  // (the message then also gives each dataset's path and shape). Empty (the default): names only.
  virtual std::string storage_note() const { return {}; }

  // Canonization (lrp/propagation/canonize.hpp). The per-channel affine map this layer computes,
  // when it is one that folds into a preceding affine layer (batch norm with its running
  // statistics); nullopt (the default) otherwise.
  virtual std::optional<ChannelAffine> foldable_affine() const { return std::nullopt; }
  // An equivalent of this layer followed by `affine` on its output channels (the rows of its weight),
  // configured with this layer's input shape and name, with a bias even if this one has none; nullptr
  // (the default) when this layer cannot absorb one.
  virtual LayerPtr absorb_affine(const ChannelAffine& affine) const;

  const Params& params() const { return params_; }
  // In-place access for optimizers, which change values but never shapes (set_params checks
  // shapes and finiteness; a training step instead checks its loss).
  Params& mutable_params() { return params_; }
  // Replaces the parameters after checking their shapes and that they are finite.
  void set_params(Params p);

  const Shape& input_shape() const { return input_shape_; }
  const Shape& output_shape() const { return output_shape_; }
  const std::string& name() const { return name_; }

 protected:
  // Returns the output shape for a valid input shape (throws lrp::Error otherwise); a layer whose
  // implicit weights depend on the input shape (global pooling) sets them here.
  virtual Shape setup(const Shape& input_shape) = 0;
  // Throws lrp::Error when p does not fit this layer (called by set_params after configure).
  virtual void check_params(const Params& p) const;

  Params params_;
  Shape input_shape_;
  Shape output_shape_;
  std::string name_;
};

// p with the per-output-channel map y_c ← scale_c · y_c + shift_c folded in: W' = diag(scale) W,
// b' = scale ⊙ b + shift (b = 0 when p has no bias). For absorb_affine of layers whose weight rows
// are their output channels (dense, conv2d).
Params fold_channel_affine(Params p, const ChannelAffine& affine);

}  // namespace lrp
