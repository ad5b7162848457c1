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
#include <random>
#include <span>
#include <string>

namespace lrp {

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
  // random mask). They see the whole minibatch at once (rows may be coupled) and run on the
  // calling thread; every other layer is trained with forward / vjp / param_vjp on row blocks.
  virtual bool has_training_mode() const { return false; }
  // y = f_train(x; p) for the minibatch x. `state` is the layer's scratch for this step (resized
  // by the layer; kept by the caller until train_backward); `rng` is the trainer's seeded
  // generator. Running statistics (buffers, not parameters) are updated here.
  virtual void train_forward(const ConstMatrixRef& x, const Params& p, MatrixRef y, Matrix& state,
                             std::mt19937_64& rng);
  // g_in = J_train(x; p)ᵀ g_out, and ADDS the parameter gradient to grads (like param_vjp).
  virtual void train_backward(const ConstMatrixRef& x, const Params& p, const Matrix& state,
                              const ConstMatrixRef& g_out, MatrixRef g_in, Params& grads) const;

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

using LayerPtr = std::unique_ptr<Layer>;

}  // namespace lrp
