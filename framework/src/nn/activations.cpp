// Elementwise activations and dropout.
#include "lrp/nn/activations.hpp"

#include "lrp/core/error.hpp"
#include "lrp/core/random.hpp"
#include "layer_checks.hpp"

#include <cmath>
#include <type_traits>

namespace lrp {

namespace {

constexpr double kSqrtHalf = 0.70710678118654752440;     // 1/√2
constexpr double kInvSqrt2Pi = 0.39894228040143267794;   // 1/√(2π)
constexpr double kSqrt2OverPi = 0.79788456080286535588;  // √(2/π)
constexpr double kGeluCubic = 0.044715;                  // the tanh approximation's cubic coefficient

inline Scalar logistic(Scalar x) { return Scalar(1) / (Scalar(1) + std::exp(-x)); }

// f(x) and f'(x) of the activations without a vectorized form (leaky_relu onwards).
Scalar activation_value(Activation f, const ActivationParams& c, Scalar x) {
  switch (f) {
    case Activation::kLeakyReLU: return x > 0 ? x : static_cast<Scalar>(c.slope) * x;
    case Activation::kELU: return x > 0 ? x : static_cast<Scalar>(c.alpha) * std::expm1(x);
    case Activation::kGELU: return Scalar(0.5) * x * (Scalar(1) + std::erf(x * static_cast<Scalar>(kSqrtHalf)));
    case Activation::kGELUTanh: {
      const Scalar inner = static_cast<Scalar>(kSqrt2OverPi) * (x + static_cast<Scalar>(kGeluCubic) * x * x * x);
      return Scalar(0.5) * x * (Scalar(1) + std::tanh(inner));
    }
    case Activation::kSiLU: return x * logistic(x);
    case Activation::kSoftplus: {
      const Scalar beta = static_cast<Scalar>(c.beta), z = beta * x;
      if (z > static_cast<Scalar>(c.threshold)) return x;
      // log(1 + e^z) without overflow for a large threshold
      return (std::max(z, Scalar(0)) + std::log1p(std::exp(-std::abs(z)))) / beta;
    }
    case Activation::kHardtanh: {
      const Scalar lo = static_cast<Scalar>(c.min), hi = static_cast<Scalar>(c.max);
      return x < lo ? lo : x > hi ? hi : x;  // NaN stays NaN
    }
    default: return x;  // not reached: the others are vectorized
  }
}

Scalar activation_derivative(Activation f, const ActivationParams& c, Scalar x) {
  switch (f) {
    case Activation::kLeakyReLU: return x > 0 ? Scalar(1) : static_cast<Scalar>(c.slope);
    case Activation::kELU: return x > 0 ? Scalar(1) : static_cast<Scalar>(c.alpha) * std::exp(x);
    case Activation::kGELU:
      return Scalar(0.5) * (Scalar(1) + std::erf(x * static_cast<Scalar>(kSqrtHalf))) +
             x * static_cast<Scalar>(kInvSqrt2Pi) * std::exp(Scalar(-0.5) * x * x);
    case Activation::kGELUTanh: {
      const Scalar k = static_cast<Scalar>(kSqrt2OverPi), kappa = static_cast<Scalar>(kGeluCubic);
      const Scalar t = std::tanh(k * (x + kappa * x * x * x));
      return Scalar(0.5) * (Scalar(1) + t) + Scalar(0.5) * x * (Scalar(1) - t * t) * k * (Scalar(1) + 3 * kappa * x * x);
    }
    case Activation::kSiLU: {
      const Scalar s = logistic(x);
      return s * (Scalar(1) + x * (Scalar(1) - s));
    }
    case Activation::kSoftplus: {
      const Scalar z = static_cast<Scalar>(c.beta) * x;
      return z > static_cast<Scalar>(c.threshold) ? Scalar(1) : logistic(z);
    }
    case Activation::kHardtanh:
      return x <= static_cast<Scalar>(c.min) || x >= static_cast<Scalar>(c.max) ? Scalar(0) : Scalar(1);
    default: return Scalar(1);
  }
}

const char* activation_kind(Activation f) {
  switch (f) {
    case Activation::kReLU: return "relu";
    case Activation::kTanh: return "tanh";
    case Activation::kSigmoid: return "sigmoid";
    case Activation::kIdentity: return "identity";
    case Activation::kLeakyReLU: return "leaky_relu";
    case Activation::kELU: return "elu";
    case Activation::kGELU:
    case Activation::kGELUTanh: return "gelu";
    case Activation::kSiLU: return "silu";
    case Activation::kSoftplus: return "softplus";
    case Activation::kHardtanh: return "hardtanh";
  }
  return "activation";
}

}  // namespace

ElementwiseActivation::ElementwiseActivation(Activation f, ActivationParams constants, std::string kind)
    : f_(f), c_(constants), kind_(kind.empty() ? activation_kind(f) : std::move(kind)) {
  const auto finite = [&](double v, const char* name) {
    LRP_CHECK(std::isfinite(v), kind_, ": ", name, " must be finite, got ", v);
  };
  switch (f_) {
    case Activation::kLeakyReLU: finite(c_.slope, "slope"); break;
    case Activation::kELU: finite(c_.alpha, "alpha"); break;
    case Activation::kSoftplus:
      finite(c_.threshold, "threshold");
      LRP_CHECK(std::isfinite(c_.beta) && c_.beta > 0, kind_, ": beta must be positive, got ", c_.beta);
      break;
    case Activation::kHardtanh:
      finite(c_.min, "min");
      finite(c_.max, "max");
      LRP_CHECK(c_.min < c_.max, kind_, ": min (", c_.min, ") must be below max (", c_.max, ")");
      break;
    default: break;
  }
}

std::string ElementwiseActivation::describe() const {
  switch (f_) {
    case Activation::kLeakyReLU: return detail::concat(kind_, "(slope ", c_.slope, ")");
    case Activation::kELU: return detail::concat(kind_, "(alpha ", c_.alpha, ")");
    case Activation::kGELUTanh: return kind_ + "(tanh approximation)";
    case Activation::kSoftplus: return detail::concat(kind_, "(beta ", c_.beta, ", threshold ", c_.threshold, ")");
    case Activation::kHardtanh: return detail::concat(kind_, "(min ", c_.min, ", max ", c_.max, ")");
    default: return kind_;
  }
}

void ElementwiseActivation::forward(const ConstMatrixRef& x, const Params&, MatrixRef y, Workspace&) const {
  switch (f_) {
    case Activation::kReLU: y = x.cwiseMax(Scalar(0)); break;
    case Activation::kTanh: y = x.array().tanh().matrix(); break;
    case Activation::kSigmoid: y = (Scalar(1) / (Scalar(1) + (-x.array()).exp())).matrix(); break;
    case Activation::kIdentity: y = x; break;
    default: y = x.unaryExpr([this](Scalar v) { return activation_value(f_, c_, v); }); break;
  }
}

void ElementwiseActivation::vjp(const ConstMatrixRef& at, const Params&, const ConstMatrixRef& g_out, MatrixRef g_in,
                                Workspace&, bool accumulate) const {
  if (!accumulate) g_in.setZero();
  switch (f_) {
    case Activation::kReLU:
      g_in.array() += (at.array() > Scalar(0)).select(g_out.array(), Scalar(0));
      break;
    case Activation::kTanh:
      g_in.array() += g_out.array() * (Scalar(1) - at.array().tanh().square());
      break;
    case Activation::kSigmoid: {
      // σ'(x) = σ(x)(1 − σ(x)), evaluated elementwise without a temporary matrix.
      g_in.array() += g_out.array() * (Scalar(1) / (Scalar(1) + (-at.array()).exp())) *
                      (Scalar(1) - Scalar(1) / (Scalar(1) + (-at.array()).exp()));
      break;
    }
    case Activation::kIdentity: g_in += g_out; break;
    default:
      g_in.array() += g_out.array() * at.array().unaryExpr([this](Scalar v) { return activation_derivative(f_, c_, v); });
      break;
  }
}

LayerPtr make_relu() { return std::make_unique<ElementwiseActivation>(Activation::kReLU); }
LayerPtr make_tanh() { return std::make_unique<ElementwiseActivation>(Activation::kTanh); }
LayerPtr make_sigmoid() { return std::make_unique<ElementwiseActivation>(Activation::kSigmoid); }
LayerPtr make_identity() { return std::make_unique<ElementwiseActivation>(Activation::kIdentity); }

// ---------------------------------------------------------------- dropout

Dropout::Dropout(double p) : p_(p) {
  LRP_CHECK(p >= 0.0 && p < 1.0, "dropout: probability must be in [0, 1), got ", p);
}

std::string Dropout::describe() const { return detail::concat("dropout(p ", p_, ")"); }

void Dropout::forward(const ConstMatrixRef& x, const Params&, MatrixRef y, Workspace&) const { y = x; }

void Dropout::vjp(const ConstMatrixRef&, const Params&, const ConstMatrixRef& g_out, MatrixRef g_in, Workspace&,
                  bool accumulate) const {
  detail::identity_vjp(g_out, g_in, accumulate);
}

// The mask holds 0 (dropped) or 1/(1 − p) (kept); draws go row by row, so a seed fixes it.
void Dropout::train_forward(const ConstMatrixRef& x, const Params&, MatrixRef y, Matrix& state, std::mt19937_64& rng,
                            int) {
  state.resize(x.rows(), x.cols());
  const Scalar keep = static_cast<Scalar>(1.0 / (1.0 - p_));
  for (Index r = 0; r < state.rows(); ++r)
    for (Index c = 0; c < state.cols(); ++c) state(r, c) = uniform01(rng) < p_ ? Scalar(0) : keep;
  y = x.cwiseProduct(state);
}

void Dropout::train_backward(const ConstMatrixRef&, const Params&, const Matrix& state, const ConstMatrixRef& g_out,
                             MatrixRef g_in, Params&, int) const {
  g_in = g_out.cwiseProduct(state);
}

LayerPtr make_dropout(double p) { return std::make_unique<Dropout>(p); }

}  // namespace lrp
