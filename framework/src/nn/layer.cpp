#include "lrp/nn/layer.hpp"
#include "lrp/core/slots.hpp"

#include "lrp/core/error.hpp"
#include "lrp/core/random.hpp"

#include <cmath>

namespace lrp {

void Layer::configure(const Shape& input_shape, const std::string& name) {
  name_ = name;
  input_shape_ = input_shape;
  output_shape_ = setup(input_shape);
}

Shape Layer::stack_inputs(std::span<const Shape> inputs) const {
  LRP_CHECK(inputs.size() == 1, "it reads one value, but ", inputs.size(), " were given");
  return inputs[0];
}

void Layer::check_params(const Params& p) const {
  LRP_CHECK(p.weight.size() == 0 && p.bias.size() == 0, "layer '", name_, "' (", kind(),
            ") has no parameters, but parameters were given");
}

bool same_shapes(const Params& a, const Params& b) {
  return a.weight.rows() == b.weight.rows() && a.weight.cols() == b.weight.cols() && a.bias.size() == b.bias.size();
}

Params zero_like(const Params& p) {
  Params zeros;
  zeros.weight = Matrix::Zero(p.weight.rows(), p.weight.cols());
  zeros.bias = Vector::Zero(p.bias.size());
  return zeros;
}

void Layer::param_vjp(const ConstMatrixRef&, const Params&, const ConstMatrixRef&, Params&, Workspace&) const {}

void Layer::check_input(const ConstMatrixRef&) const {}

void Layer::train_forward(const ConstMatrixRef& x, const Params& p, MatrixRef y, Matrix&, std::mt19937_64&, int) {
  forward(x, p, y, thread_workspace());
}

void Layer::train_backward(const ConstMatrixRef& x, const Params& p, const Matrix&, const ConstMatrixRef& g_out,
                           MatrixRef g_in, Params& grads, int) const {
  Workspace& ws = thread_workspace();
  vjp(x, p, g_out, g_in, ws, false);
  param_vjp(x, p, g_out, grads, ws);
}

void Layer::forward_many(const ConstMatrixRef& x, std::span<const Params* const> ps, std::span<Scalar* const> ys,
                         Workspace& ws) const {
  const Index out = numel(output_shape_);
  for (size_t k = 0; k < ps.size(); ++k) forward(x, *ps[k], MatrixMap(ys[k], x.rows(), out), ws);
}

void Layer::vjp_many(const ConstMatrixRef& at, std::span<const Params* const> ps, std::span<const Scalar* const> gs,
                     std::span<const Scalar> coefficients, MatrixRef g_in, Workspace& ws) const {
  const Index n = g_in.rows(), out = numel(output_shape_);
  for (size_t k = 0; k < ps.size(); ++k) {
    const ConstMatrixMap g(gs[k], n, out);
    if (coefficients[k] == Scalar(1)) {
      vjp(at, *ps[k], g, g_in, ws, /*accumulate=*/k > 0);
    } else {
      MatrixMap tmp = ws.get(slots::kLayerMany, 0, n, g_in.cols());
      vjp(at, *ps[k], g, tmp, ws, false);
      if (k == 0)
        g_in = coefficients[k] * tmp;
      else
        g_in += coefficients[k] * tmp;
    }
  }
}

void draw_fan_scheme(Matrix& weight, InitScheme scheme, std::mt19937_64& rng, double fan_in, double fan_out) {
  const bool he = scheme == InitScheme::kHeNormal || scheme == InitScheme::kHeUniform;
  const double variance = he ? 2.0 / fan_in : 2.0 / (fan_in + fan_out);
  const bool normal = scheme == InitScheme::kHeNormal || scheme == InitScheme::kGlorotNormal;
  const double scale = normal ? std::sqrt(variance) : std::sqrt(3.0 * variance);  // U(±a) has variance a²/3
  for (Index i = 0; i < weight.size(); ++i) {
    const double z = normal ? standard_normal(rng) : 2.0 * uniform01(rng) - 1.0;
    weight.data()[i] = static_cast<Scalar>(scale * z);
  }
}

void Layer::initialize(InitScheme scheme, std::mt19937_64& rng) {
  if (!trainable()) return;
  Params p = params_;
  draw_fan_scheme(p.weight, scheme, rng, static_cast<double>(p.weight.cols()), static_cast<double>(p.weight.rows()));
  p.bias.setZero();
  set_params(std::move(p));
}

void Layer::randomize(ExampleDraws& draws) {
  if (!traits().linear || !trainable()) return;
  Params p = params_;
  const double std_dev = std::sqrt(2.0 / static_cast<double>(p.weight.cols()));
  p.weight = p.weight.unaryExpr([&](Scalar) { return static_cast<Scalar>(std_dev * draws.normal(draws.rng)); });
  p.bias = p.bias.unaryExpr([&](Scalar) { return static_cast<Scalar>(0.1 * draws.normal(draws.rng)); });
  set_params(std::move(p));
}

std::vector<StoredArray> Layer::stored_arrays() const {
  std::vector<StoredArray> arrays;
  if (!trainable()) return arrays;
  if (params_.weight.size() > 0)
    arrays.push_back({"weight", {params_.weight.rows(), params_.weight.cols()}, StoredArray::Home::kWeight});
  if (params_.has_bias()) arrays.push_back({"bias", {params_.bias.size()}, StoredArray::Home::kBias});
  return arrays;
}

void Layer::set_buffers(std::vector<Vector> buffers) {
  LRP_CHECK(buffers.empty(), "layer '", name_, "' (", kind(), ") keeps no buffers, but ", buffers.size(),
            " were given");
}

LayerPtr Layer::absorb_affine(const ChannelAffine&) const { return nullptr; }

Params fold_channel_affine(Params p, const ChannelAffine& affine) {
  const Vector& scale = affine.scale;
  LRP_CHECK(p.weight.rows() == scale.size() && affine.shift.size() == scale.size(), "fold_channel_affine: ",
            scale.size(), " channels for a weight of ", p.weight.rows(), " output rows");
  p.weight = scale.asDiagonal() * p.weight;
  const Vector bias = p.has_bias() ? p.bias : Vector::Zero(scale.size());
  p.bias = (scale.array() * bias.array()).matrix() + affine.shift;
  return p;
}

void Layer::set_params(Params p) {
  check_params(p);
  LRP_CHECK(p.weight.allFinite(), "layer '", name_, "' (", kind(), "): weight contains NaN or Inf");
  LRP_CHECK(p.bias.allFinite(), "layer '", name_, "' (", kind(), "): bias contains NaN or Inf");
  params_ = std::move(p);
}

}  // namespace lrp
