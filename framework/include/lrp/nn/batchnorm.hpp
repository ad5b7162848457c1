// The batch normalization layer handler.
#pragma once

#include "lrp/nn/layer.hpp"

namespace lrp {

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
                     std::mt19937_64& rng, int threads) override;
  void train_backward(const ConstMatrixRef& x, const Params& p, const Matrix& state, const ConstMatrixRef& g_out,
                      MatrixRef g_in, Params& grads, int threads) const override;
  double momentum() const { return momentum_; }
  // Running statistics (buffers, not parameters): checked for shape, finiteness and var ≥ 0.
  void set_statistics(Vector mean, Vector var);
  // γ = 1, β = 0, running mean 0 and variance 1, whatever the scheme (nothing is drawn).
  void initialize(InitScheme scheme, std::mt19937_64& rng) override;
  // γ ~ U(0.5, 1.5), β ~ N(0, 0.1²), mean ~ N(0, 0.2²), variance ~ U(0.5, 1.5).
  void randomize(ExampleDraws& draws) override;
  // weight [C] (γ), bias [C] (β), running_mean [C], running_var [C] (the buffers, in this order).
  std::vector<StoredArray> stored_arrays() const override;
  std::vector<Vector> buffers() const override { return {mean_, var_}; }
  void set_buffers(std::vector<Vector> buffers) override;  // {mean, var}, as set_statistics
  // scale() and shift() of its parameters: canonization folds it into the dense or conv2d before it.
  std::optional<ChannelAffine> foldable_affine() const override;
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

}  // namespace lrp
