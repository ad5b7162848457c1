// The elementwise layer handlers: activations and dropout.
#pragma once

#include "lrp/nn/layer.hpp"

#include <string>

namespace lrp {

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
                     std::mt19937_64& rng, int threads) override;
  void train_backward(const ConstMatrixRef& x, const Params& p, const Matrix& state, const ConstMatrixRef& g_out,
                      MatrixRef g_in, Params& grads, int threads) const override;
  double probability() const { return p_; }

 protected:
  Shape setup(const Shape& input_shape) override { return input_shape; }

 private:
  double p_;
};
LayerPtr make_dropout(double p);

}  // namespace lrp
