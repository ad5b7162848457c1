// Batch normalization: inference, training with batch statistics, and its running statistics.
#include "lrp/nn/batchnorm.hpp"
#include "lrp/nn/network.hpp"
#include "layer_checks.hpp"

#include <cmath>

namespace lrp {

using detail::check_grads;
using detail::check_shape;
using detail::where;

BatchNorm::BatchNorm(Index channels, double eps, double momentum)
    : channels_(channels), eps_(eps), momentum_(momentum), mean_(Vector::Zero(channels)), var_(Vector::Ones(channels)) {
  LRP_CHECK(channels_ > 0, "batchnorm: channels must be positive, got ", channels_);
  LRP_CHECK(eps_ > 0.0, "batchnorm: eps must be positive, got ", eps_);
  LRP_CHECK(momentum_ >= 0.0 && momentum_ <= 1.0, "batchnorm: momentum must be in [0, 1], got ", momentum_);
  params_.weight = Matrix::Ones(1, channels_);
  params_.bias = Vector::Zero(channels_);
}

std::string BatchNorm::describe() const { return detail::concat("batchnorm(", channels_, ", eps ", eps_, ")"); }

Shape BatchNorm::setup(const Shape& in) {
  LRP_CHECK((in.size() == 1 || in.size() == 3) && in[0] == channels_, where(*this), ": expected an input of shape [",
            channels_, "] or [", channels_, ", H, W], got ", to_string(in));
  return in;
}

void BatchNorm::check_params(const Params& p) const {
  check_shape(*this, "weight", p.weight.rows(), p.weight.cols(), 1, channels_);
  LRP_CHECK(p.bias.size() == channels_, where(*this), ": bias has ", p.bias.size(), " entries, expected ", channels_);
}

void BatchNorm::set_statistics(Vector mean, Vector var) {
  LRP_CHECK(mean.size() == channels_ && var.size() == channels_, where(*this), ": running statistics have ",
            mean.size(), " and ", var.size(), " entries, expected ", channels_);
  LRP_CHECK(mean.allFinite() && var.allFinite(), where(*this), ": running statistics contain NaN or Inf");
  for (Index c = 0; c < var.size(); ++c)
    LRP_CHECK(var(c) >= Scalar(0), where(*this), ": running variance must be ≥ 0, but channel ", c, " holds ", var(c));
  mean_ = std::move(mean);
  var_ = std::move(var);
}

Vector BatchNorm::scale(const Params& p) const {
  return (p.weight.row(0).transpose().array() / (var_.array() + static_cast<Scalar>(eps_)).sqrt()).matrix();
}

Vector BatchNorm::shift(const Params& p) const { return p.bias - (mean_.array() * scale(p).array()).matrix(); }

void BatchNorm::forward(const ConstMatrixRef& x, const Params& p, MatrixRef y, Workspace&) const {
  const Vector s = scale(p), t = shift(p);
  const Index plane = x.cols() / channels_;
  for (Index c = 0; c < channels_; ++c)
    y.middleCols(c * plane, plane) = ((x.middleCols(c * plane, plane).array() * s[c]) + t[c]).matrix();
}

void BatchNorm::vjp(const ConstMatrixRef&, const Params& p, const ConstMatrixRef& g_out, MatrixRef g_in, Workspace&,
                    bool accumulate) const {
  const Vector s = scale(p);
  const Index plane = g_out.cols() / channels_;
  if (!accumulate) g_in.setZero();
  for (Index c = 0; c < channels_; ++c) g_in.middleCols(c * plane, plane) += g_out.middleCols(c * plane, plane) * s[c];
}

// The inference form y = (x − mean)/√(var + eps) · γ + β is affine in (γ, β): ∂/∂γ_c Σ g ⊙ y is
// Σ g ⊙ x̂ over channel c's entries of every sample, with x̂ = (x − mean_c)/√(var_c + eps), and
// ∂/∂β_c = Σ g over the same entries. The running statistics are buffers and get no gradient.
void BatchNorm::param_vjp(const ConstMatrixRef& at, const Params& p, const ConstMatrixRef& g_out, Params& grads,
                          Workspace&) const {
  check_grads(*this, p, grads);
  const Index plane = g_out.cols() / channels_;
  for (Index c = 0; c < channels_; ++c) {
    const Scalar inv_std = Scalar(1) / std::sqrt(var_[c] + static_cast<Scalar>(eps_));
    grads.weight(0, c) +=
        (g_out.middleCols(c * plane, plane).array() * (at.middleCols(c * plane, plane).array() - mean_[c])).sum() *
        inv_std;
    grads.bias[c] += g_out.middleCols(c * plane, plane).sum();
  }
}

// Training: x̂ = (x − μ_B)/√(σ²_B + eps) with the minibatch's per-channel mean μ_B and biased
// variance σ²_B over M = N·plane values (accumulated in double), y = γ x̂ + β. state holds x̂ in
// its first N rows and 1/√(σ²_B + eps) per channel in an extra last row. Channels are independent:
// they are split over the threads, each computed in the same order whatever the split.
void BatchNorm::train_forward(const ConstMatrixRef& x, const Params& p, MatrixRef y, Matrix& state, std::mt19937_64&,
                              int threads) {
  const Index n = x.rows(), plane = x.cols() / channels_;
  const double m = static_cast<double>(n * plane);
  LRP_CHECK(n * plane >= 2, where(*this), ": training needs more than one value per channel (batch of ", n, ")");
  state.resize(n + 1, x.cols());
  parallel_chunks(channels_, threads, [&](int, Index begin, Index end) {
    for (Index c = begin; c < end; ++c) {
      // Each row's sum in the working precision (vectorized), their total in double.
      double sum = 0;
      for (Index r = 0; r < n; ++r) sum += static_cast<double>(x.row(r).segment(c * plane, plane).sum());
      const double mu = sum / m;
      double sum_sq = 0;
      for (Index r = 0; r < n; ++r)
        sum_sq += static_cast<double>(
            (x.row(r).segment(c * plane, plane).array() - static_cast<Scalar>(mu)).square().sum());
      const double var = sum_sq / m;
      const double inv_std = 1.0 / std::sqrt(var + eps_);
      const Scalar gamma = p.weight(0, c), beta = p.bias[c];
      for (Index r = 0; r < n; ++r) {
        auto xhat = state.row(r).segment(c * plane, plane);
        xhat = ((x.row(r).segment(c * plane, plane).array() - static_cast<Scalar>(mu)) * static_cast<Scalar>(inv_std)).matrix();
        y.row(r).segment(c * plane, plane) = ((xhat.array() * gamma) + beta).matrix();
      }
      state(n, c) = static_cast<Scalar>(inv_std);
      mean_[c] = static_cast<Scalar>((1.0 - momentum_) * static_cast<double>(mean_[c]) + momentum_ * mu);
      var_[c] = static_cast<Scalar>((1.0 - momentum_) * static_cast<double>(var_[c]) + momentum_ * var * m / (m - 1.0));
    }
  });
}

// With g = ∂L/∂y: ∂L/∂β = Σ g, ∂L/∂γ = Σ g x̂, and through the batch statistics
// ∂L/∂x = γ/√(σ²_B + eps) · (g − mean(g) − x̂ · mean(g x̂)), means over the channel's M values.
void BatchNorm::train_backward(const ConstMatrixRef&, const Params& p, const Matrix& state, const ConstMatrixRef& g_out,
                               MatrixRef g_in, Params& grads, int threads) const {
  check_grads(*this, p, grads);
  const Index n = g_out.rows(), plane = g_out.cols() / channels_;
  const double m = static_cast<double>(n * plane);
  parallel_chunks(channels_, threads, [&](int, Index begin, Index end) {
    for (Index c = begin; c < end; ++c) {
      double sum_g = 0, sum_gx = 0;
      for (Index r = 0; r < n; ++r) {
        const auto g = g_out.row(r).segment(c * plane, plane);
        sum_g += static_cast<double>(g.sum());
        sum_gx += static_cast<double>((g.array() * state.row(r).segment(c * plane, plane).array()).sum());
      }
      grads.weight(0, c) += static_cast<Scalar>(sum_gx);
      grads.bias[c] += static_cast<Scalar>(sum_g);
      const Scalar factor = p.weight(0, c) * state(n, c);
      const Scalar mean_g = static_cast<Scalar>(sum_g / m), mean_gx = static_cast<Scalar>(sum_gx / m);
      for (Index r = 0; r < n; ++r)
        g_in.row(r).segment(c * plane, plane) =
            (factor * (g_out.row(r).segment(c * plane, plane).array() - mean_g -
                       state.row(r).segment(c * plane, plane).array() * mean_gx))
                .matrix();
    }
  });
}

void BatchNorm::initialize(InitScheme, std::mt19937_64&) {
  set_params({Matrix::Ones(1, channels_), Vector::Zero(channels_)});
  set_statistics(Vector::Zero(channels_), Vector::Ones(channels_));
}

void BatchNorm::randomize(ExampleDraws& draws) {
  Params p = params_;
  p.weight = p.weight.unaryExpr([&](Scalar) { return static_cast<Scalar>(draws.uniform(draws.rng)); });
  p.bias = p.bias.unaryExpr([&](Scalar) { return static_cast<Scalar>(0.1 * draws.normal(draws.rng)); });
  set_params(std::move(p));
  Vector mean = Vector::NullaryExpr(channels_, [&]() { return static_cast<Scalar>(0.2 * draws.normal(draws.rng)); });
  Vector var = Vector::NullaryExpr(channels_, [&]() { return static_cast<Scalar>(draws.uniform(draws.rng)); });
  set_statistics(std::move(mean), std::move(var));
}

std::vector<StoredArray> BatchNorm::stored_arrays() const {
  using Home = StoredArray::Home;
  return {{"weight", {channels_}, Home::kWeight},
          {"bias", {channels_}, Home::kBias},
          {"running_mean", {channels_}, Home::kBuffer, 0, 0},
          {"running_var", {channels_}, Home::kBuffer, 0, 1, "a variance"}};
}

void BatchNorm::set_buffers(std::vector<Vector> buffers) {
  LRP_CHECK(buffers.size() == 2, where(*this), ": ", buffers.size(),
            " buffers given, expected 2 (running mean and running variance)");
  set_statistics(std::move(buffers[0]), std::move(buffers[1]));
}

std::optional<ChannelAffine> BatchNorm::foldable_affine() const {
  return ChannelAffine{scale(params_), shift(params_)};
}

}  // namespace lrp
