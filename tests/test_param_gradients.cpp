// Parameter gradients (Layer::param_vjp) of every handler with trainable parameters, against
// central finite differences of L(p) = Σ g_out ⊙ forward(x; p) for every parameter entry; that
// param_vjp adds, sums over the batch and follows Euler's identity Σ p ⊙ ∂L/∂p = L; that layers
// without trainable parameters (average pooling's implicit weights included) leave gradients alone.
//
// Every handler here is affine in its parameters, so a central difference has no truncation error
// at any step: its only error is the rounding of the two forward passes, ≈ ε · Σ|g ⊙ y| / h over the
// outputs the entry touches. The float64 build therefore uses h = 1e-6 and 1e-7 relative (measured:
// ≤ 5e-10); float32 (ε ≈ 6e-8) uses the large step h = 1e-2 and 1e-4 relative (measured: ≤ 9e-6).
// L is summed in double, and the divisor is the step actually taken (p ± h rounded to Scalar).
#include "test_util.hpp"

#include "lrp/nn/layers.hpp"

#include <catch2/catch.hpp>

#include <functional>
#include <sstream>

using namespace lrp_test;
using Eigen::MatrixXd;
using lrp::Conv2dOptions;
using lrp::Params;
using lrp::Pool2dOptions;

namespace {

struct GradCase {
  std::string name;
  std::function<lrp::LayerPtr()> make;
  Shape input;
};

lrp::LayerPtr configured_layer(const GradCase& c) {
  lrp::LayerPtr layer = c.make();
  layer->configure(c.input, c.name);
  return layer;
}

std::vector<GradCase> dense_cases() {
  return {
      {"dense 5 -> 4 with bias", [] { return std::make_unique<lrp::Dense>(5, 4, true); }, {5}},
      {"dense 6 -> 3 without bias", [] { return std::make_unique<lrp::Dense>(6, 3, false); }, {6}},
      {"dense 1 -> 7 with bias", [] { return std::make_unique<lrp::Dense>(1, 7, true); }, {1}},
  };
}

GradCase conv_case(Index in_ch, Index out_ch, Index h, Index w, Conv2dOptions o) {
  std::ostringstream s;
  s << "conv2d " << in_ch << " -> " << out_ch << " on " << h << "x" << w << ", kernel " << o.kernel[0] << "x"
    << o.kernel[1] << ", stride " << o.stride[0] << "x" << o.stride[1] << ", padding " << o.padding[0] << "x"
    << o.padding[1] << ", dilation " << o.dilation[0] << "x" << o.dilation[1] << ", groups " << o.groups
    << (o.bias ? ", bias" : ", no bias");
  return {s.str(), [=] { return std::make_unique<lrp::Conv2d>(in_ch, out_ch, o); }, {in_ch, h, w}};
}

// Square, non-square, strided, padded, dilated, grouped, depthwise, 1×1, and padding wider than
// the input (whole rows of zeros in the unfold).
std::vector<GradCase> conv_cases() {
  return {
      conv_case(2, 3, 5, 6, {.kernel = {3, 3}}),
      conv_case(2, 4, 7, 5, {.kernel = {2, 3}, .stride = {2, 1}, .padding = {1, 2}, .bias = false}),
      conv_case(1, 2, 9, 8, {.kernel = {3, 2}, .stride = {1, 2}, .padding = {2, 1}, .dilation = {2, 3}}),
      conv_case(4, 6, 6, 6, {.kernel = {3, 3}, .padding = {1, 1}, .groups = 2}),
      conv_case(3, 3, 8, 7,
                {.kernel = {3, 3}, .stride = {2, 2}, .padding = {1, 1}, .dilation = {2, 1}, .groups = 3,
                 .bias = false}),
      conv_case(3, 5, 4, 6, {.kernel = {1, 1}}),
      conv_case(6, 4, 5, 9,
                {.kernel = {2, 4}, .stride = {2, 3}, .padding = {0, 2}, .dilation = {1, 2}, .groups = 2,
                 .bias = false}),
      conv_case(2, 2, 3, 4, {.kernel = {3, 2}, .stride = {2, 3}, .padding = {4, 3}, .dilation = {3, 5}}),
  };
}

GradCase batchnorm_case(const std::string& name, Index channels, Shape input, double eps, std::uint64_t seed) {
  return {name,
          [=] {
            auto bn = std::make_unique<lrp::BatchNorm>(channels, eps);
            bn->set_statistics(random_vector(channels, seed), random_vector(channels, seed + 1, 0.1, 2.0));
            return bn;
          },
          std::move(input)};
}

std::vector<GradCase> batchnorm_cases() {
  return {
      batchnorm_case("batchnorm 1d over 5 features", 5, {5}, 1e-5, 71),
      batchnorm_case("batchnorm 2d over 3 channels of 4x5", 3, {3, 4, 5}, 1e-3, 73),
      batchnorm_case("batchnorm 2d over 2 channels of 1x1", 2, {2, 1, 1}, 1e-5, 75),
  };
}

std::vector<GradCase> all_cases() {
  std::vector<GradCase> cases = dense_cases();
  for (const std::vector<GradCase>& more : {conv_cases(), batchnorm_cases()})
    cases.insert(cases.end(), more.begin(), more.end());
  return cases;
}

// L(p) = Σ g ⊙ forward(x; p), accumulated in double.
double loss(const lrp::Layer& layer, const Matrix& x, const Params& p, const Matrix& g_out) {
  const Matrix y = run_forward(layer, x, p);
  return (g_out.cast<double>().array() * y.cast<double>().array()).sum();
}

Params run_param_vjp(const lrp::Layer& layer, const Matrix& x, const Params& p, const Matrix& g_out, Params grads) {
  lrp::Workspace ws;
  layer.param_vjp(x, p, g_out, grads, ws);
  return grads;
}

// ∂L/∂entry by a central difference; `entry` selects the perturbed scalar in a copy of p.
double central_difference(const lrp::Layer& layer, const Matrix& x, const Params& p, const Matrix& g_out, double h,
                          const std::function<Scalar&(Params&)>& entry) {
  Params plus = p, minus = p;
  entry(plus) = static_cast<Scalar>(static_cast<double>(entry(plus)) + h);
  entry(minus) = static_cast<Scalar>(static_cast<double>(entry(minus)) - h);
  const double step = static_cast<double>(entry(plus)) - static_cast<double>(entry(minus));
  return (loss(layer, x, plus, g_out) - loss(layer, x, minus, g_out)) / step;
}

struct FdErrors {
  double weight = 0, bias = 0;
};

FdErrors compare_with_finite_differences(const GradCase& c, std::uint64_t seed) {
  const lrp::LayerPtr layer = configured_layer(c);
  const Index batch = 3;
  const Matrix x = random_matrix(batch, lrp::numel(layer->input_shape()), seed);
  const Matrix g_out = random_matrix(batch, lrp::numel(layer->output_shape()), seed + 1);
  const Params p = random_params(*layer, seed + 2);
  const Params grads = run_param_vjp(*layer, x, p, g_out, lrp::zero_like(p));
  const double h = kFloat64 ? 1e-6 : 1e-2;

  MatrixXd fd_weight(p.weight.rows(), p.weight.cols());
  for (Index i = 0; i < p.weight.rows(); ++i)
    for (Index j = 0; j < p.weight.cols(); ++j)
      fd_weight(i, j) =
          central_difference(*layer, x, p, g_out, h, [i, j](Params& q) -> Scalar& { return q.weight(i, j); });
  MatrixXd fd_bias(p.bias.size(), 1);
  for (Index i = 0; i < p.bias.size(); ++i)
    fd_bias(i, 0) = central_difference(*layer, x, p, g_out, h, [i](Params& q) -> Scalar& { return q.bias[i]; });

  REQUIRE(grads.bias.size() == p.bias.size());
  return {relative_error(grads.weight, fd_weight), relative_error(Matrix(grads.bias), fd_bias)};
}

void check_against_finite_differences(const std::vector<GradCase>& cases) {
  const double tolerance = tol(1e-4, 1e-7);
  std::uint64_t seed = 1000;
  for (const GradCase& c : cases) {
    INFO(c.name);
    const FdErrors e = compare_with_finite_differences(c, seed += 10);
    CHECK(e.weight <= tolerance);
    CHECK(e.bias <= tolerance);
  }
}

double max_relative_error(const Params& a, const Params& b) {
  return std::max(relative_error(a.weight, b.weight), relative_error(Matrix(a.bias), Matrix(b.bias)));
}

Params scaled(const Params& p, Scalar factor) {
  Params q = p;
  q.weight *= factor;
  q.bias *= factor;
  return q;
}

Params sum(const Params& a, const Params& b) {
  Params q = a;
  q.weight += b.weight;
  q.bias += b.bias;
  return q;
}

}  // namespace

TEST_CASE("Dense parameter gradients match central finite differences, with and without bias", "[param_vjp]") {
  check_against_finite_differences(dense_cases());
}

TEST_CASE("Conv2d parameter gradients match central finite differences for every stride, padding, dilation, "
          "grouping and bias",
          "[param_vjp]") {
  check_against_finite_differences(conv_cases());
}

TEST_CASE("Batch norm gradients for gamma and beta match central finite differences in 1d and 2d", "[param_vjp]") {
  check_against_finite_differences(batchnorm_cases());
}

TEST_CASE("param_vjp adds to the gradients it is given, so a second call doubles the first", "[param_vjp]") {
  const double tolerance = tol(1e-5, 1e-12);
  std::uint64_t seed = 2000;
  for (const GradCase& c : all_cases()) {
    INFO(c.name);
    const lrp::LayerPtr layer = configured_layer(c);
    const Matrix x = random_matrix(2, lrp::numel(layer->input_shape()), seed += 10);
    const Matrix g_out = random_matrix(2, lrp::numel(layer->output_shape()), seed + 1);
    const Params p = random_params(*layer, seed + 2);
    const Params once = run_param_vjp(*layer, x, p, g_out, lrp::zero_like(p));
    const Params twice = run_param_vjp(*layer, x, p, g_out, once);
    CHECK(max_relative_error(twice, scaled(once, Scalar(2))) <= tolerance);

    Params start = random_params(*layer, seed + 3);
    const Params added = run_param_vjp(*layer, x, p, g_out, start);
    CHECK(max_relative_error(added, sum(start, once)) <= tolerance);
  }
}

TEST_CASE("A batch's parameter gradient is the sum of its samples' parameter gradients", "[param_vjp]") {
  const double tolerance = tol(1e-5, 1e-12);
  std::uint64_t seed = 3000;
  for (const GradCase& c : all_cases()) {
    INFO(c.name);
    const lrp::LayerPtr layer = configured_layer(c);
    const Index batch = 4;
    const Matrix x = random_matrix(batch, lrp::numel(layer->input_shape()), seed += 10);
    const Matrix g_out = random_matrix(batch, lrp::numel(layer->output_shape()), seed + 1);
    const Params p = random_params(*layer, seed + 2);
    const Params whole = run_param_vjp(*layer, x, p, g_out, lrp::zero_like(p));
    Params per_sample = lrp::zero_like(p);
    for (Index n = 0; n < batch; ++n)
      per_sample = run_param_vjp(*layer, x.row(n), p, g_out.row(n), per_sample);
    CHECK(max_relative_error(whole, per_sample) <= tolerance);
  }
}

// Every handler here is linear in its parameters jointly (dense and conv: in (W, b); batch norm: in
// (γ, β)), so Euler's theorem gives Σ p ⊙ ∂L/∂p = L = Σ g ⊙ y; without bias, Σ W ⊙ dW = Σ g ⊙ y.
TEST_CASE("Parameters dotted with their gradients reproduce g_out dotted with the output", "[param_vjp]") {
  const double tolerance = tol(1e-5, 1e-12);
  std::uint64_t seed = 4000;
  for (const GradCase& c : all_cases()) {
    INFO(c.name);
    const lrp::LayerPtr layer = configured_layer(c);
    const Matrix x = random_matrix(3, lrp::numel(layer->input_shape()), seed += 10);
    const Matrix g_out = random_matrix(3, lrp::numel(layer->output_shape()), seed + 1);
    const Params p = random_params(*layer, seed + 2);
    const Params grads = run_param_vjp(*layer, x, p, g_out, lrp::zero_like(p));
    const Matrix y = run_forward(*layer, x, p);
    const double output_dot = (g_out.cast<double>().array() * y.cast<double>().array()).sum();
    const double scale = std::max(1.0, (g_out.cast<double>().array() * y.cast<double>().array()).abs().sum());
    const double weight_dot = (p.weight.cast<double>().array() * grads.weight.cast<double>().array()).sum();
    const double bias_dot = p.has_bias() ? p.bias.cast<double>().dot(grads.bias.cast<double>()) : 0.0;
    CHECK(std::abs(weight_dot + bias_dot - output_dot) / scale <= tolerance);
  }
}

TEST_CASE("Layers without trainable parameters leave the parameter gradients unchanged", "[param_vjp]") {
  struct Parameterless {
    lrp::LayerPtr layer;
    Shape input;
  };
  std::vector<Parameterless> layers;
  layers.push_back({lrp::make_relu(), {2, 4, 4}});
  layers.push_back({lrp::make_tanh(), {6}});
  layers.push_back({lrp::make_dropout(0.5), {6}});
  layers.push_back({std::make_unique<lrp::Flatten>(), {2, 4, 4}});
  layers.push_back({std::make_unique<lrp::MaxPool2d>(Pool2dOptions{}), {2, 4, 4}});
  // Average pooling exposes implicit weights for the rules, but they are not trainable.
  layers.push_back({std::make_unique<lrp::AvgPool2d>(Pool2dOptions{}), {2, 4, 4}});
  layers.push_back({std::make_unique<lrp::AvgPool2d>(Pool2dOptions{.kernel = {3, 2}, .padding = {1, 1}}), {2, 5, 4}});
  layers.push_back({lrp::AvgPool2d::global(), {2, 4, 3}});
  std::uint64_t seed = 5000;
  for (Parameterless& l : layers) {
    l.layer->configure(l.input, "layer");
    INFO(l.layer->describe());
    const Params& p = l.layer->params();
    const Matrix x = random_matrix(2, lrp::numel(l.layer->input_shape()), seed += 10);
    const Matrix g_out = random_matrix(2, lrp::numel(l.layer->output_shape()), seed + 1);
    Params start = lrp::zero_like(p);
    start.weight = random_matrix(p.weight.rows(), p.weight.cols(), seed + 2);
    const Params after = run_param_vjp(*l.layer, x, p, g_out, start);
    CHECK(bit_equal(after.weight, start.weight));
    CHECK(after.bias.size() == start.bias.size());
  }
}

TEST_CASE("zero_like gives zero-filled parameters of the same shapes and keeps a missing bias missing", "[param_vjp]") {
  Params p;
  p.weight = random_matrix(3, 4, 1);
  p.bias = random_vector(3, 2);
  const Params z = lrp::zero_like(p);
  CHECK(z.weight.rows() == 3);
  CHECK(z.weight.cols() == 4);
  CHECK(z.bias.size() == 3);
  CHECK((z.weight.array() == Scalar(0)).all());
  CHECK((z.bias.array() == Scalar(0)).all());

  p.bias.resize(0);
  CHECK_FALSE(lrp::zero_like(p).has_bias());
  CHECK(lrp::zero_like(Params{}).weight.size() == 0);
}

TEST_CASE("param_vjp rejects gradients whose shapes differ from the parameters'", "[param_vjp]") {
  for (const GradCase& c : {dense_cases()[0], conv_cases()[0], batchnorm_cases()[1]}) {
    INFO(c.name);
    const lrp::LayerPtr layer = configured_layer(c);
    const Matrix x = random_matrix(2, lrp::numel(layer->input_shape()), 6000);
    const Matrix g_out = random_matrix(2, lrp::numel(layer->output_shape()), 6001);
    const Params p = random_params(*layer, 6002);
    lrp::Workspace ws;

    Params wrong_weight = lrp::zero_like(p);
    wrong_weight.weight = Matrix::Zero(p.weight.rows() + 1, p.weight.cols());
    CHECK_THROWS_AS(layer->param_vjp(x, p, g_out, wrong_weight, ws), lrp::Error);

    Params missing_bias = lrp::zero_like(p);
    missing_bias.bias.resize(0);
    CHECK_THROWS_AS(layer->param_vjp(x, p, g_out, missing_bias, ws), lrp::Error);
  }
}
