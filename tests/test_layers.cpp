// Layer handlers against naive loops written from their definitions (PyTorch semantics), the
// adjoint identity ⟨J x, y⟩ = ⟨x, Jᵀ y⟩ for every linear handler, central finite differences for
// the nonlinear ones, max-pool tie handling, vjp accumulation and parameter checks.
#include "test_util.hpp"

#include "lrp/nn/layers.hpp"

#include <catch2/catch.hpp>

#include <functional>
#include <limits>
#include <numeric>
#include <sstream>

using namespace lrp_test;
using Eigen::MatrixXd;
using lrp::Conv2dOptions;
using lrp::Pool2dOptions;

namespace {

// PyTorch's output size of a sliding window.
Index window_out(Index in, Index kernel, Index stride, Index pad, Index dilation) {
  return (in + 2 * pad - dilation * (kernel - 1) - 1) / stride + 1;
}

struct ConvCase {
  Index in_channels, out_channels, height, width;
  Conv2dOptions options;
};

std::string describe(const ConvCase& c) {
  std::ostringstream s;
  const Conv2dOptions& o = c.options;
  s << c.in_channels << "->" << c.out_channels << " on " << c.height << "x" << c.width << ", kernel " << o.kernel[0]
    << "x" << o.kernel[1] << ", stride " << o.stride[0] << "x" << o.stride[1] << ", padding " << o.padding[0] << "x"
    << o.padding[1] << ", dilation " << o.dilation[0] << "x" << o.dilation[1] << ", groups " << o.groups
    << (o.bias ? ", bias" : ", no bias");
  return s.str();
}

// Square, non-square, strided, padded, dilated, grouped, depthwise, 1×1 (also strided), whole-input kernels.
std::vector<ConvCase> conv_cases() {
  return {
      {2, 3, 5, 6, {.kernel = {3, 3}}},
      {2, 4, 7, 5, {.kernel = {2, 3}, .stride = {2, 1}, .padding = {1, 2}, .bias = false}},
      {1, 2, 9, 8, {.kernel = {3, 2}, .stride = {1, 2}, .padding = {2, 1}, .dilation = {2, 3}}},
      {4, 6, 6, 6, {.kernel = {3, 3}, .padding = {1, 1}, .groups = 2}},
      {3, 3, 8, 7, {.kernel = {3, 3}, .stride = {2, 2}, .padding = {1, 1}, .dilation = {2, 1}, .groups = 3}},
      {3, 5, 4, 6, {.kernel = {1, 1}, .bias = false}},
      // A ResNet shortcut: positions of odd row or column are read by no tap.
      {4, 3, 7, 6, {.kernel = {1, 1}, .stride = {2, 2}, .bias = false}},
      {2, 2, 8, 7, {.kernel = {3, 3}, .stride = {3, 3}}},
      {2, 3, 4, 5, {.kernel = {4, 5}}},
      {6,
       4,
       5,
       9,
       {.kernel = {2, 4}, .stride = {2, 3}, .padding = {0, 2}, .dilation = {1, 2}, .groups = 2, .bias = false}},
      // Padding wider than the input and a dilation that jumps past it: whole rows of zeros.
      {2, 2, 3, 4, {.kernel = {3, 2}, .stride = {2, 3}, .padding = {4, 3}, .dilation = {3, 5}, .bias = false}},
  };
}

// y[n, o, oh, ow] = b[o] + Σ_{c in o's group} Σ_{i,j} W[o, c', i, j] · x[n, c, oh·sh − ph + i·dh, ow·sw − pw + j·dw].
MatrixXd conv_oracle(const Matrix& x, const lrp::Params& p, const ConvCase& c) {
  const Conv2dOptions& o = c.options;
  const Index H = c.height, W = c.width;
  const Index Ho = window_out(H, o.kernel[0], o.stride[0], o.padding[0], o.dilation[0]);
  const Index Wo = window_out(W, o.kernel[1], o.stride[1], o.padding[1], o.dilation[1]);
  const Index per_group_in = c.in_channels / o.groups, per_group_out = c.out_channels / o.groups;
  MatrixXd y = MatrixXd::Zero(x.rows(), c.out_channels * Ho * Wo);
  for (Index n = 0; n < x.rows(); ++n)
    for (Index oc = 0; oc < c.out_channels; ++oc) {
      const Index group = oc / per_group_out;
      for (Index oh = 0; oh < Ho; ++oh)
        for (Index ow = 0; ow < Wo; ++ow) {
          double acc = p.has_bias() ? static_cast<double>(p.bias[oc]) : 0.0;
          for (Index cl = 0; cl < per_group_in; ++cl) {
            const Index ic = group * per_group_in + cl;
            for (Index i = 0; i < o.kernel[0]; ++i)
              for (Index j = 0; j < o.kernel[1]; ++j) {
                const Index ih = oh * o.stride[0] - o.padding[0] + i * o.dilation[0];
                const Index iw = ow * o.stride[1] - o.padding[1] + j * o.dilation[1];
                if (ih < 0 || ih >= H || iw < 0 || iw >= W) continue;
                acc += static_cast<double>(p.weight(oc, (cl * o.kernel[0] + i) * o.kernel[1] + j)) *
                       static_cast<double>(x(n, (ic * H + ih) * W + iw));
              }
          }
          y(n, (oc * Ho + oh) * Wo + ow) = acc;
        }
    }
  return y;
}

std::unique_ptr<lrp::Conv2d> make_conv(const ConvCase& c) {
  return configured(std::make_unique<lrp::Conv2d>(c.in_channels, c.out_channels, c.options),
                    Shape{c.in_channels, c.height, c.width}, "conv");
}

struct PoolCase {
  Index channels, height, width;
  Pool2dOptions options;
};

std::string describe(const PoolCase& c) {
  std::ostringstream s;
  const Pool2dOptions& o = c.options;
  s << c.channels << " channels on " << c.height << "x" << c.width << ", kernel " << o.kernel[0] << "x" << o.kernel[1]
    << ", stride " << o.stride[0] << "x" << o.stride[1] << " (0 = kernel), padding " << o.padding[0] << "x"
    << o.padding[1];
  return s.str();
}

std::vector<PoolCase> pool_cases() {
  return {
      {2, 4, 6, {.kernel = {2, 2}}},
      {2, 7, 6, {.kernel = {3, 3}, .stride = {2, 2}}},                     // overlapping windows
      {1, 5, 7, {.kernel = {3, 2}, .stride = {1, 2}, .padding = {1, 1}}},  // non-square, padded
      {3, 5, 5, {.kernel = {2, 2}, .stride = {1, 1}}},
      {2, 6, 5, {.kernel = {4, 3}, .stride = {3, 1}, .padding = {2, 1}}},
      {1, 3, 3, {.kernel = {3, 3}, .stride = {1, 1}, .padding = {1, 1}}},
  };
}

Pool2dOptions resolved(Pool2dOptions o) {
  for (int a = 0; a < 2; ++a)
    if (o.stride[a] == 0) o.stride[a] = o.kernel[a];
  return o;
}

// Max over the window's in-range positions (padding never wins), or the average with divisor kh·kw.
MatrixXd pool_oracle(const Matrix& x, const PoolCase& c, bool max) {
  const Pool2dOptions o = resolved(c.options);
  const Index H = c.height, W = c.width;
  const Index Ho = window_out(H, o.kernel[0], o.stride[0], o.padding[0], 1);
  const Index Wo = window_out(W, o.kernel[1], o.stride[1], o.padding[1], 1);
  MatrixXd y(x.rows(), c.channels * Ho * Wo);
  for (Index n = 0; n < x.rows(); ++n)
    for (Index ch = 0; ch < c.channels; ++ch)
      for (Index oh = 0; oh < Ho; ++oh)
        for (Index ow = 0; ow < Wo; ++ow) {
          double best = -std::numeric_limits<double>::infinity(), sum = 0.0;
          for (Index i = 0; i < o.kernel[0]; ++i)
            for (Index j = 0; j < o.kernel[1]; ++j) {
              const Index ih = oh * o.stride[0] - o.padding[0] + i, iw = ow * o.stride[1] - o.padding[1] + j;
              if (ih < 0 || ih >= H || iw < 0 || iw >= W) continue;
              const double v = static_cast<double>(x(n, (ch * H + ih) * W + iw));
              best = std::max(best, v);
              sum += v;
            }
          y(n, (ch * Ho + oh) * Wo + ow) = max ? best : sum / static_cast<double>(o.kernel[0] * o.kernel[1]);
        }
  return y;
}

// The max-pool vjp from its definition: each output's gradient is split equally among the inputs
// of its window that equal the window maximum; contributions of overlapping windows add up.
// Ties: `first` routes to the first maximum in the window's row-major order (torch), else an equal split.
MatrixXd maxpool_vjp_oracle(const Matrix& x, const Matrix& g, const PoolCase& c, bool first = true) {
  const Pool2dOptions o = resolved(c.options);
  const Index H = c.height, W = c.width;
  const Index Ho = window_out(H, o.kernel[0], o.stride[0], o.padding[0], 1);
  const Index Wo = window_out(W, o.kernel[1], o.stride[1], o.padding[1], 1);
  MatrixXd out = MatrixXd::Zero(x.rows(), x.cols());
  for (Index n = 0; n < x.rows(); ++n)
    for (Index ch = 0; ch < c.channels; ++ch)
      for (Index oh = 0; oh < Ho; ++oh)
        for (Index ow = 0; ow < Wo; ++ow) {
          std::vector<Index> members;
          for (Index i = 0; i < o.kernel[0]; ++i)
            for (Index j = 0; j < o.kernel[1]; ++j) {
              const Index ih = oh * o.stride[0] - o.padding[0] + i, iw = ow * o.stride[1] - o.padding[1] + j;
              if (ih >= 0 && ih < H && iw >= 0 && iw < W) members.push_back((ch * H + ih) * W + iw);
            }
          Scalar best = x(n, members.front());
          for (Index m : members) best = std::max(best, x(n, m));
          std::vector<Index> winners;
          for (Index m : members)
            if (x(n, m) == best && !(first && !winners.empty())) winners.push_back(m);
          const double share =
              static_cast<double>(g(n, (ch * Ho + oh) * Wo + ow)) / static_cast<double>(winners.size());
          for (Index m : winners) out(n, m) += share;
        }
  return out;
}

double dot(const Matrix& a, const Matrix& b) { return (a.cast<double>().array() * b.cast<double>().array()).sum(); }

// ⟨J x, y⟩ = ⟨x, Jᵀ y⟩ with J x = f(x) − f(0) (exact for an affine f) and Jᵀ y from vjp, plus the
// explicit Jacobian built column by column from forward() and row by row from vjp().
void check_adjoint(const lrp::Layer& layer, const lrp::Params& p, std::uint64_t seed) {
  const Index in = lrp::numel(layer.input_shape()), out = lrp::numel(layer.output_shape());
  const Matrix x = random_matrix(3, in, seed);
  const Matrix y = random_matrix(3, out, seed + 7);
  const Matrix f0 = run_forward(layer, Matrix::Zero(1, in), p);
  Matrix jx = run_forward(layer, x, p);
  jx.rowwise() -= f0.row(0);
  const Matrix jty = run_vjp(layer, x, y, p);
  const double lhs = dot(jx, y), rhs = dot(x, jty);
  const double scale =
      jx.cast<double>().norm() * y.cast<double>().norm() + x.cast<double>().norm() * jty.cast<double>().norm();
  CHECK(std::abs(lhs - rhs) <= tol(1e-5, 1e-13) * scale);

  // Column i of J is f(e_i) − f(0); row j of J is Jᵀ e_j.
  Matrix columns = run_forward(layer, Matrix::Identity(in, in), p);
  columns.rowwise() -= f0.row(0);
  const Matrix rows = run_vjp(layer, Matrix::Zero(out, in), Matrix::Identity(out, out), p);
  CHECK(relative_error(Matrix(columns.transpose()), rows) <= tol(1e-6, 1e-14));
}

// vjp at x against central differences of forward: ⟨g, (f(x + h e_i) − f(x − h e_i)) / 2h⟩.
void check_vjp_by_finite_differences(const lrp::Layer& layer, const Matrix& x, std::uint64_t seed) {
  const double h = tol(1e-2, 1e-6);
  const Index in = lrp::numel(layer.input_shape()), out = lrp::numel(layer.output_shape());
  const Matrix g = random_matrix(x.rows(), out, seed);
  const Matrix analytic = run_vjp(layer, x, g);
  Eigen::MatrixXd numeric(x.rows(), in);
  for (Index i = 0; i < in; ++i) {
    Matrix plus = x, minus = x;
    plus.col(i).array() += static_cast<Scalar>(h);
    minus.col(i).array() -= static_cast<Scalar>(h);
    // The step actually taken in this precision.
    const Eigen::VectorXd step = (plus.col(i).cast<double>() - minus.col(i).cast<double>());
    const Matrix diff = run_forward(layer, plus) - run_forward(layer, minus);
    for (Index n = 0; n < x.rows(); ++n)
      numeric(n, i) = (diff.row(n).cast<double>().array() * g.row(n).cast<double>().array()).sum() / step[n];
  }
  CHECK(relative_error(analytic, numeric) <= tol(2e-3, 1e-8));
}

// Uniform in ±[gap, 1]: away from ReLU's kink.
Matrix away_from_zero(Index rows, Index cols, std::uint64_t seed, double gap = 0.1) {
  Matrix m = random_matrix(rows, cols, seed);
  return m.unaryExpr([gap](Scalar v) {
    return static_cast<Scalar>((v < 0 ? -1.0 : 1.0) * (gap + (1.0 - gap) * std::abs(static_cast<double>(v))));
  });
}

// Distinct values at least 0.05 apart (a permutation of a grid): no max-pool winner changes
// under a finite-difference step, and no ties.
Matrix distinct_values(Index rows, Index cols, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  Matrix m(rows, cols);
  for (Index r = 0; r < rows; ++r) {
    std::vector<Index> order(static_cast<size_t>(cols));
    std::iota(order.begin(), order.end(), Index(0));
    std::shuffle(order.begin(), order.end(), rng);
    for (Index c = 0; c < cols; ++c)
      m(r, c) = static_cast<Scalar>(0.05 * static_cast<double>(order[static_cast<size_t>(c)]) - 1.0);
  }
  return m;
}

// The vjp in accumulate mode adds to what g_in holds.
void check_accumulate(const lrp::Layer& layer, const Matrix& at, std::uint64_t seed) {
  const Index in = lrp::numel(layer.input_shape()), out = lrp::numel(layer.output_shape());
  const Matrix g = random_matrix(at.rows(), out, seed);
  const Matrix before = random_matrix(at.rows(), in, seed + 3);
  Matrix accumulated = before;
  lrp::Workspace ws;
  layer.vjp(at, layer.params(), g, accumulated, ws, true);
  const Matrix expected = before + run_vjp(layer, at, g);
  CHECK(relative_error(accumulated, expected) <= tol(1e-6, 1e-14));
}

}  // namespace

// ---------------------------------------------------------------- forward against definitions

TEST_CASE("dense forward computes W x + b as a naive double loop does") {
  for (bool bias : {true, false}) {
    INFO("bias " << bias);
    auto layer = configured(std::make_unique<lrp::Dense>(7, 4, bias), Shape{7}, "fc");
    const lrp::Params p = random_params(*layer, 11);
    layer->set_params(p);
    const Matrix x = random_matrix(5, 7, 12);
    MatrixXd want(5, 4);
    for (Index n = 0; n < 5; ++n)
      for (Index o = 0; o < 4; ++o) {
        double acc = bias ? static_cast<double>(p.bias[o]) : 0.0;
        for (Index i = 0; i < 7; ++i) acc += static_cast<double>(p.weight(o, i)) * static_cast<double>(x(n, i));
        want(n, o) = acc;
      }
    REQUIRE(layer->output_shape() == Shape{4});
    CHECK(relative_error(run_forward(*layer, x), want) <= tol(1e-6, 1e-14));
  }
}

TEST_CASE("conv2d forward matches a naive convolution for strides, padding, dilation, groups and bias") {
  std::uint64_t seed = 100;
  for (const ConvCase& c : conv_cases()) {
    INFO(describe(c));
    auto layer = make_conv(c);
    const Conv2dOptions& o = c.options;
    const Index Ho = window_out(c.height, o.kernel[0], o.stride[0], o.padding[0], o.dilation[0]);
    const Index Wo = window_out(c.width, o.kernel[1], o.stride[1], o.padding[1], o.dilation[1]);
    REQUIRE(layer->output_shape() == Shape{c.out_channels, Ho, Wo});
    REQUIRE(layer->params().weight.rows() == c.out_channels);
    REQUIRE(layer->params().weight.cols() == c.in_channels / o.groups * o.kernel[0] * o.kernel[1]);
    REQUIRE(layer->params().has_bias() == o.bias);
    const lrp::Params p = random_params(*layer, seed++);
    const Matrix x = random_matrix(3, c.in_channels * c.height * c.width, seed++);
    CHECK(relative_error(run_forward(*layer, x, p), conv_oracle(x, p, c)) <= tol(1e-5, 1e-13));
  }
}

// Real images have flat regions: every position there sees the same patch, and torch gives them
// the same output bit for bit, so max pooling over them ties. lrplab's GEMM kernel rounds edge tiles
// differently, which the conv undoes by copying outputs between equal patches.
TEST_CASE("conv2d gives bitwise-equal outputs at positions that see equal patches") {
  std::uint64_t seed = 300;
  for (const ConvCase& c : {ConvCase{1, 6, 28, 28, {.kernel = {5, 5}}}, ConvCase{16, 32, 14, 14, {.padding = {1, 1}}},
                            ConvCase{3, 16, 13, 11, {.kernel = {3, 3}, .stride = {2, 1}, .padding = {1, 1}}}}) {
    INFO(describe(c));
    auto layer = make_conv(c);
    const lrp::Params p = random_params(*layer, seed++);
    Matrix x = random_matrix(2, c.in_channels * c.height * c.width, seed++);
    // the lower half of every plane is flat: a value of its own per channel (as a normalized black background)
    for (Index n = 0; n < x.rows(); ++n)
      for (Index ch = 0; ch < c.in_channels; ++ch)
        for (Index h = c.height / 2; h < c.height; ++h)
          for (Index w = 0; w < c.width; ++w) x(n, (ch * c.height + h) * c.width + w) = Scalar(-0.8 + 0.1 * ch);
    const Matrix y = run_forward(*layer, x, p);
    CHECK(relative_error(y, conv_oracle(x, p, c)) <= tol(1e-5, 1e-13));
    // positions whose patch (padding included) lies in the flat half and away from the borders
    const Conv2dOptions& o = c.options;
    const Index Ho = window_out(c.height, o.kernel[0], o.stride[0], o.padding[0], o.dilation[0]);
    const Index Wo = window_out(c.width, o.kernel[1], o.stride[1], o.padding[1], o.dilation[1]);
    std::vector<Index> flat;
    for (Index oh = 0; oh < Ho; ++oh)
      for (Index ow = 0; ow < Wo; ++ow) {
        const Index top = oh * o.stride[0] - o.padding[0], left = ow * o.stride[1] - o.padding[1];
        if (top >= c.height / 2 && top + o.kernel[0] <= c.height && left >= 0 && left + o.kernel[1] <= c.width)
          flat.push_back(oh * Wo + ow);
      }
    REQUIRE(flat.size() >= 8);
    Index unequal = 0;
    for (Index n = 0; n < y.rows(); ++n)
      for (Index oc = 0; oc < c.out_channels; ++oc)
        for (const Index q : flat) unequal += y(n, oc * Ho * Wo + q) != y(n, oc * Ho * Wo + flat.front());
    CHECK(unequal == 0);
  }
}

TEST_CASE("conv2d handles a dilated kernel tap that only ever reads padding") {
  // Width 3, padding 4, kernel width 3 with dilation 4: output width (3 + 8 - 8 - 1) + 1 = 3, and
  // the first kernel column reads input columns ow - 4 ∈ [-4, -2], always padding (as in dilated
  // "atrous" convolutions on small feature maps). Its im2col row must be all zeros.
  const ConvCase c{1, 2, 2, 3, {.kernel = {2, 3}, .padding = {3, 4}, .dilation = {1, 4}}};
  auto layer = make_conv(c);
  REQUIRE(layer->output_shape() == Shape{2, 7, 3});
  const lrp::Params p = random_params(*layer, 150);
  const Matrix x = random_matrix(2, 6, 151);
  CHECK(relative_error(run_forward(*layer, x, p), conv_oracle(x, p, c)) <= tol(1e-5, 1e-13));
  lrp::Params no_bias = p;
  no_bias.bias.setZero();
  check_adjoint(*layer, no_bias, 152);
}

TEST_CASE("conv2d gives the hand-computed answer on a 3x3 image") {
  // x = [1 2 3; 4 5 6; 7 8 9], kernel [1 2; 3 4], bias 0.5.
  auto layer = configured(std::make_unique<lrp::Conv2d>(1, 1, Conv2dOptions{.kernel = {2, 2}}), Shape{1, 3, 3});
  lrp::Params p;
  p.weight = Matrix(1, 4);
  p.weight << 1, 2, 3, 4;
  p.bias = Vector::Constant(1, Scalar(0.5));
  layer->set_params(p);
  Matrix x(1, 9);
  x << 1, 2, 3, 4, 5, 6, 7, 8, 9;
  Matrix want(1, 4);
  want << 37.5, 47.5, 67.5, 77.5;
  CHECK(bit_equal(run_forward(*layer, x), want));

  // A 3×3 box filter with padding 1 on a 2×2 image sees the whole image from every position.
  auto padded =
      configured(std::make_unique<lrp::Conv2d>(1, 1, Conv2dOptions{.kernel = {3, 3}, .padding = {1, 1}, .bias = false}),
                 Shape{1, 2, 2});
  lrp::Params ones;
  ones.weight = Matrix::Ones(1, 9);
  Matrix small(1, 4);
  small << 1, 2, 3, 4;
  CHECK(bit_equal(run_forward(*padded, small, ones), Matrix::Constant(1, 4, 10)));
}

TEST_CASE("max pooling forward takes the window maximum, padding never wins") {
  std::uint64_t seed = 200;
  for (const PoolCase& c : pool_cases()) {
    INFO(describe(c));
    auto layer = configured(std::make_unique<lrp::MaxPool2d>(c.options), Shape{c.channels, c.height, c.width});
    // All-negative inputs: a zero-valued padding would win if padding were not -inf.
    const Matrix x = random_matrix(3, c.channels * c.height * c.width, seed++, -2.0, -0.5);
    const MatrixXd want = pool_oracle(x, c, true);
    REQUIRE(lrp::numel(layer->output_shape()) == want.cols());
    CHECK(relative_error(run_forward(*layer, x), want) == 0.0);
  }
}

TEST_CASE("average pooling divides by kh*kw, counting zero padding (count_include_pad)") {
  std::uint64_t seed = 300;
  for (const PoolCase& c : pool_cases()) {
    INFO(describe(c));
    auto layer = configured(std::make_unique<lrp::AvgPool2d>(c.options), Shape{c.channels, c.height, c.width});
    const Matrix x = random_matrix(3, c.channels * c.height * c.width, seed++);
    const MatrixXd want = pool_oracle(x, c, false);
    REQUIRE(lrp::numel(layer->output_shape()) == want.cols());
    CHECK(relative_error(run_forward(*layer, x), want) <= tol(1e-6, 1e-15));
  }
  SECTION("known answer: ones, 3x3 window, stride 1, padding 1") {
    auto layer = configured(
        std::make_unique<lrp::AvgPool2d>(Pool2dOptions{.kernel = {3, 3}, .stride = {1, 1}, .padding = {1, 1}}),
        Shape{1, 3, 3});
    Eigen::MatrixXd want(1, 9);
    want << 4, 6, 4, 6, 9, 6, 4, 6, 4;
    want /= 9.0;
    CHECK(relative_error(run_forward(*layer, Matrix::Ones(1, 9)), want) <= tol(1e-7, 1e-15));
  }
  SECTION("its implicit weights are uniform 1/(kh*kw)") {
    auto layer = configured(std::make_unique<lrp::AvgPool2d>(Pool2dOptions{.kernel = {2, 3}}), Shape{1, 4, 6});
    REQUIRE(layer->params().weight.rows() == 1);
    REQUIRE(layer->params().weight.cols() == 6);
    CHECK((layer->params().weight.array() == Scalar(1) / Scalar(6)).all());
    CHECK_FALSE(layer->params().has_bias());
  }
}

TEST_CASE("global average pooling averages every channel over its plane") {
  auto layer = configured(lrp::AvgPool2d::global(), Shape{3, 4, 5});
  CHECK(layer->kind() == "global_avgpool");
  REQUIRE(layer->output_shape() == Shape{3, 1, 1});
  const Matrix x = random_matrix(4, 60, 400);
  MatrixXd want(4, 3);
  for (Index n = 0; n < 4; ++n)
    for (Index c = 0; c < 3; ++c) want(n, c) = x.row(n).segment(c * 20, 20).cast<double>().mean();
  CHECK(relative_error(run_forward(*layer, x), want) <= tol(1e-6, 1e-15));
}

TEST_CASE("flatten keeps the values and reports the flat shape") {
  auto layer = configured(std::make_unique<lrp::Flatten>(), Shape{3, 2, 4});
  REQUIRE(layer->output_shape() == Shape{24});
  const Matrix x = random_matrix(2, 24, 500);
  CHECK(bit_equal(run_forward(*layer, x), x));
  CHECK(bit_equal(run_vjp(*layer, x, x), x));
}

TEST_CASE("elementwise activations compute relu, tanh, sigmoid, identity and dropout") {
  const Matrix x = random_matrix(3, 10, 600, -4.0, 4.0);
  struct Case {
    lrp::LayerPtr layer;
    std::string kind;
    std::function<double(double)> f;
  };
  std::vector<Case> cases;
  cases.push_back({lrp::make_relu(), "relu", [](double v) { return std::max(v, 0.0); }});
  cases.push_back({lrp::make_tanh(), "tanh", [](double v) { return std::tanh(v); }});
  cases.push_back({lrp::make_sigmoid(), "sigmoid", [](double v) { return 1.0 / (1.0 + std::exp(-v)); }});
  cases.push_back({lrp::make_identity(), "identity", [](double v) { return v; }});
  cases.push_back({lrp::make_dropout(0.3), "dropout", [](double v) { return v; }});
  for (Case& c : cases) {
    INFO(c.kind);
    c.layer->configure(Shape{2, 5}, "act");
    CHECK(c.layer->kind() == c.kind);
    CHECK(c.layer->output_shape() == Shape{2, 5});
    const MatrixXd want = x.cast<double>().unaryExpr(c.f);
    CHECK(relative_error(run_forward(*c.layer, x), want) <= tol(1e-6, 1e-15));
  }
}

TEST_CASE("batch norm computes (x - mean) / sqrt(var + eps) * gamma + beta per channel, 1d and 2d") {
  for (const Shape& shape : {Shape{4}, Shape{4, 3, 2}}) {
    INFO("input shape " << lrp::to_string(shape));
    const double eps = 1e-3;
    auto bn = configured(std::make_unique<lrp::BatchNorm>(4, eps), shape, "bn");
    lrp::Params p;
    p.weight = random_matrix(1, 4, 700, 0.5, 1.5);
    p.bias = random_vector(4, 701);
    bn->set_params(p);
    const Vector mean = random_vector(4, 702), var = random_vector(4, 703, 0.1, 2.0);
    bn->set_statistics(mean, var);
    const Index plane = lrp::numel(shape) / 4;
    const Matrix x = random_matrix(3, lrp::numel(shape), 704, -3.0, 3.0);
    MatrixXd want(3, x.cols());
    for (Index n = 0; n < 3; ++n)
      for (Index c = 0; c < 4; ++c)
        for (Index k = 0; k < plane; ++k) {
          const double v = static_cast<double>(x(n, c * plane + k));
          want(n, c * plane + k) = (v - static_cast<double>(mean[c])) / std::sqrt(static_cast<double>(var[c]) + eps) *
                                       static_cast<double>(p.weight(0, c)) +
                                   static_cast<double>(p.bias[c]);
        }
    CHECK(relative_error(run_forward(*bn, x), want) <= tol(1e-6, 1e-14));
  }
}

// ---------------------------------------------------------------- adjoint and finite differences

TEST_CASE("every linear handler's vjp is the adjoint of its forward") {
  SECTION("dense") {
    auto layer = configured(std::make_unique<lrp::Dense>(9, 5, true), Shape{9}, "fc");
    lrp::Params p = random_params(*layer, 800);
    p.bias.setZero();
    check_adjoint(*layer, p, 801);
  }
  SECTION("conv2d") {
    std::uint64_t seed = 810;
    for (const ConvCase& c : conv_cases()) {
      INFO(describe(c));
      auto layer = make_conv(c);
      lrp::Params p = random_params(*layer, seed++);
      if (p.has_bias()) p.bias.setZero();
      check_adjoint(*layer, p, seed++);
    }
  }
  SECTION("average pooling, with its uniform and with modified weights") {
    std::uint64_t seed = 830;
    for (const PoolCase& c : pool_cases()) {
      INFO(describe(c));
      auto layer = configured(std::make_unique<lrp::AvgPool2d>(c.options), Shape{c.channels, c.height, c.width});
      check_adjoint(*layer, layer->params(), seed++);
      check_adjoint(*layer, random_params(*layer, seed), seed + 1);
      seed += 2;
    }
  }
  SECTION("global average pooling") {
    auto layer = configured(lrp::AvgPool2d::global(), Shape{2, 3, 4});
    check_adjoint(*layer, layer->params(), 850);
  }
  SECTION("flatten, identity, dropout") {
    check_adjoint(*configured(std::make_unique<lrp::Flatten>(), Shape{2, 3, 2}), {}, 860);
    check_adjoint(*configured(lrp::make_identity(), Shape{7}), {}, 861);
    check_adjoint(*configured(lrp::make_dropout(0.5), Shape{2, 2, 2}), {}, 862);
  }
  SECTION("batch norm (affine per channel)") {
    auto bn = configured(std::make_unique<lrp::BatchNorm>(3), Shape{3, 2, 2}, "bn");
    lrp::Params p;
    p.weight = random_matrix(1, 3, 870, 0.5, 1.5);
    p.bias = random_vector(3, 871);
    bn->set_params(p);
    bn->set_statistics(random_vector(3, 872), random_vector(3, 873, 0.2, 2.0));
    check_adjoint(*bn, p, 874);
  }
}

TEST_CASE("conv2d input gradients follow weights changed in place and the coefficient of every call") {
  // vjp_many keeps its product factors per thread and recognizes them by the weights' values: a
  // change in place (the same address) or another coefficient must give the new answer, against
  // the naive convolution's explicit matrix.
  const std::vector<ConvCase> all = conv_cases();
  for (const ConvCase& c : {all[0], all[4], all[6]}) {
    INFO(describe(c));
    auto layer = make_conv(c);
    lrp::Params p = random_params(*layer, 900);
    p.bias.resize(0);
    const Index in = lrp::numel(layer->input_shape()), out = lrp::numel(layer->output_shape());
    const Matrix g = random_matrix(2, out, 901);
    lrp::Workspace ws;
    // Consecutive calls with one coefficient and weights changed in place in between, then the
    // same weights with another coefficient.
    for (const Scalar coefficient : {Scalar(1), Scalar(-0.5)}) {
      for (int round = 0; round < 3; ++round) {
        if (round > 0) p.weight.array() = p.weight.array() * Scalar(-1.5) + Scalar(0.25);  // in place
        const MatrixXd columns = conv_oracle(Matrix::Identity(in, in), p, c);  // row i: the response to e_i
        const lrp::Params* ps[1] = {&p};
        const Scalar* gs[1] = {g.data()};
        const Scalar cs[1] = {coefficient};
        Matrix got(2, in);
        layer->vjp_many(Matrix::Zero(2, in), ps, gs, cs, got, ws);
        const MatrixXd expected = static_cast<double>(coefficient) * g.cast<double>() * columns.transpose();
        CHECK(relative_error(got, expected) <= tol(1e-6, 1e-14));
      }
    }
  }
}

TEST_CASE("nonlinear handlers' vjp matches central finite differences of forward") {
  SECTION("relu, away from the kink") {
    auto layer = configured(lrp::make_relu(), Shape{12});
    check_vjp_by_finite_differences(*layer, away_from_zero(3, 12, 900), 901);
  }
  SECTION("tanh and sigmoid") {
    auto t = configured(lrp::make_tanh(), Shape{3, 2, 2});
    check_vjp_by_finite_differences(*t, random_matrix(3, 12, 910, -2.0, 2.0), 911);
    auto s = configured(lrp::make_sigmoid(), Shape{12});
    check_vjp_by_finite_differences(*s, random_matrix(3, 12, 912, -3.0, 3.0), 913);
  }
  SECTION("max pooling, with distinct values (no ties)") {
    std::uint64_t seed = 920;
    for (const PoolCase& c : pool_cases()) {
      INFO(describe(c));
      auto layer = configured(std::make_unique<lrp::MaxPool2d>(c.options), Shape{c.channels, c.height, c.width});
      check_vjp_by_finite_differences(*layer, distinct_values(2, c.channels * c.height * c.width, seed), seed + 1);
      seed += 2;
    }
  }
  SECTION("batch norm with running statistics") {
    auto bn = configured(std::make_unique<lrp::BatchNorm>(2), Shape{2, 2, 3}, "bn");
    lrp::Params p;
    p.weight = random_matrix(1, 2, 930, 0.5, 1.5);
    p.bias = random_vector(2, 931);
    bn->set_params(p);
    bn->set_statistics(random_vector(2, 932), random_vector(2, 933, 0.2, 2.0));
    check_vjp_by_finite_differences(*bn, random_matrix(2, 12, 934), 935);
  }
}

// ---------------------------------------------------------------- max-pool ties

TEST_CASE("max pooling routes a tie to the first maximum as torch does, or splits it equally on request") {
  const auto pool = [](lrp::MaxPoolTies ties) {
    return configured(std::make_unique<lrp::MaxPool2d>(Pool2dOptions{.kernel = {2, 2}}, ties), Shape{1, 2, 2});
  };
  SECTION("a window of four equal values: all to the first, or a quarter each") {
    const Matrix x = Matrix::Constant(1, 4, Scalar(0.5));
    Matrix first = Matrix::Zero(1, 4);
    first(0, 0) = 1;
    CHECK(bit_equal(run_vjp(*pool(lrp::MaxPoolTies::kFirst), x, Matrix::Constant(1, 1, 1)), first));
    CHECK(bit_equal(run_vjp(*pool(lrp::MaxPoolTies::kSplit), x, Matrix::Constant(1, 1, 1)),
                    Matrix::Constant(1, 4, Scalar(0.25))));
  }
  SECTION("two tied maxima: the first in row-major order takes all, or they share") {
    Matrix x(1, 4);
    x << 1, 3, 2, 3;
    Matrix first(1, 4), split(1, 4);
    first << 0, 6, 0, 0;
    split << 0, 3, 0, 3;
    CHECK(bit_equal(run_vjp(*pool(lrp::MaxPoolTies::kFirst), x, Matrix::Constant(1, 1, 6)), first));
    CHECK(bit_equal(run_vjp(*pool(lrp::MaxPoolTies::kSplit), x, Matrix::Constant(1, 1, 6)), split));
  }
  SECTION("NaN counts as a maximum, as in torch's CPU kernel: the last NaN is the output and the winner") {
    const Scalar nan = std::numeric_limits<Scalar>::quiet_NaN();
    const auto layer = pool(lrp::MaxPoolTies::kFirst);
    for (const bool general : {false, true}) {  // the 2×2 fast path, and a padded window (general loop)
      INFO("general " << general);
      auto padded = configured(std::make_unique<lrp::MaxPool2d>(Pool2dOptions{.kernel = {2, 2}, .stride = {2, 2}, .padding = {0, 0}}),
                               Shape{1, 2, 2});
      if (general)
        padded = configured(std::make_unique<lrp::MaxPool2d>(Pool2dOptions{.kernel = {3, 3}, .stride = {3, 3}, .padding = {1, 1}}),
                            Shape{1, 2, 2});
      Matrix x(1, 4);
      x << 5, nan, 7, nan;
      Matrix y(1, 1);
      lrp::Workspace ws;
      padded->forward(x, padded->params(), y, ws);
      CHECK(std::isnan(y(0, 0)));
      Matrix want(1, 4);
      want << 0, 0, 0, 2;
      CHECK(bit_equal(run_vjp(*padded, x, Matrix::Constant(1, 1, 2)), want));
    }
    // An all −inf window routes to its first element (torch starts there).
    Matrix x = Matrix::Constant(1, 4, -std::numeric_limits<Scalar>::infinity());
    Matrix want = Matrix::Zero(1, 4);
    want(0, 0) = 1;
    CHECK(bit_equal(run_vjp(*layer, x, Matrix::Constant(1, 1, 1)), want));
  }
  SECTION("overlapping windows accumulate at a shared maximum") {
    // 3×3 input, the centre is the strict maximum of all four 2×2 windows (stride 1).
    for (const auto ties : {lrp::MaxPoolTies::kFirst, lrp::MaxPoolTies::kSplit}) {
      auto layer = configured(std::make_unique<lrp::MaxPool2d>(Pool2dOptions{.kernel = {2, 2}, .stride = {1, 1}}, ties),
                              Shape{1, 3, 3});
      Matrix x(1, 9);
      x << 1, 2, 3, 4, 9, 5, 6, 7, 8;
      Matrix g(1, 4);
      g << 1, 2, 4, 8;
      Matrix want = Matrix::Zero(1, 9);
      want(0, 4) = 15;
      CHECK(bit_equal(run_vjp(*layer, x, g), want));
    }
  }
  SECTION("many ties, overlapping and padded windows, against the definition, for both policies") {
    std::uint64_t seed = 1000;
    for (const PoolCase& c : pool_cases()) {
      INFO(describe(c));
      // Values from {-1, 0, 1}: plenty of ties.
      const Matrix x = random_matrix(3, c.channels * c.height * c.width, seed++, -1.5, 1.5).unaryExpr([](Scalar v) {
        return std::round(v);
      });
      for (const bool first : {true, false}) {
        auto layer = configured(
            std::make_unique<lrp::MaxPool2d>(c.options, first ? lrp::MaxPoolTies::kFirst : lrp::MaxPoolTies::kSplit),
            Shape{c.channels, c.height, c.width});
        const Matrix g = random_matrix(3, lrp::numel(layer->output_shape()), seed);
        CHECK(relative_error(run_vjp(*layer, x, g), maxpool_vjp_oracle(x, g, c, first)) <= tol(1e-6, 1e-15));
      }
      ++seed;
    }
  }
  SECTION("winner-take-all relevance through a network follows the layer's policy") {
    // 1×2×2 → maxpool 2 → flatten → dense(1 → 1, weight 1): every input is 0.5, the logit 0.5.
    for (const auto ties : {lrp::MaxPoolTies::kFirst, lrp::MaxPoolTies::kSplit}) {
      lrp::Network net({1, 2, 2});
      net.add(std::make_unique<lrp::MaxPool2d>(Pool2dOptions{.kernel = {2, 2}}, ties), "pool");
      net.add(std::make_unique<lrp::Flatten>(), "flatten");
      lrp::Layer& fc = net.add(std::make_unique<lrp::Dense>(1, 1, false), "fc");
      lrp::Params p;
      p.weight = Matrix::Ones(1, 1);
      fc.set_params(p);
      const lrp::Tensor x({1, 2, 2}, Matrix::Constant(1, 4, Scalar(0.5)));
      const lrp::ForwardPass pass = net.forward(x);
      const lrp::Explainer ex = lrp::Explainer::from_composite(net, builtins(), lrp::Composite::uniform({"zero", {}}));
      CHECK(ex.layer_rules()[0] == "wta()");
      Matrix want = Matrix::Constant(1, 4, Scalar(0.125));
      if (ties == lrp::MaxPoolTies::kFirst) want << Scalar(0.5), 0, 0, 0;
      CHECK(bit_equal(ex.explain(pass, {0}).relevance.data, want));
    }
  }
}

// ---------------------------------------------------------------- accumulation

TEST_CASE("vjp with accumulate=true adds to the existing gradient") {
  SECTION("dense and conv2d") {
    auto dense = configured(std::make_unique<lrp::Dense>(6, 4), Shape{6}, "fc");
    dense->set_params(random_params(*dense, 1100));
    check_accumulate(*dense, random_matrix(2, 6, 1101), 1102);
    std::uint64_t seed = 1110;
    for (const ConvCase& c : conv_cases()) {
      INFO(describe(c));
      auto conv = make_conv(c);
      conv->set_params(random_params(*conv, seed++));
      check_accumulate(*conv, random_matrix(2, c.in_channels * c.height * c.width, seed), seed + 1);
      seed += 2;
    }
  }
  SECTION("pooling") {
    std::uint64_t seed = 1140;
    for (const PoolCase& c : pool_cases()) {
      INFO(describe(c));
      const Shape shape{c.channels, c.height, c.width};
      auto maxpool = configured(std::make_unique<lrp::MaxPool2d>(c.options), shape);
      check_accumulate(*maxpool, distinct_values(2, lrp::numel(shape), seed), seed + 1);
      auto avgpool = configured(std::make_unique<lrp::AvgPool2d>(c.options), shape);
      check_accumulate(*avgpool, random_matrix(2, lrp::numel(shape), seed + 2), seed + 3);
      seed += 4;
    }
    auto global = configured(lrp::AvgPool2d::global(), Shape{2, 3, 3});
    check_accumulate(*global, random_matrix(2, 18, 1170), 1171);
  }
  SECTION("flatten, activations and batch norm") {
    check_accumulate(*configured(std::make_unique<lrp::Flatten>(), Shape{2, 2, 2}), random_matrix(2, 8, 1180), 1181);
    check_accumulate(*configured(lrp::make_relu(), Shape{8}), away_from_zero(2, 8, 1182), 1183);
    check_accumulate(*configured(lrp::make_tanh(), Shape{8}), random_matrix(2, 8, 1184), 1185);
    check_accumulate(*configured(lrp::make_sigmoid(), Shape{8}), random_matrix(2, 8, 1186), 1187);
    check_accumulate(*configured(lrp::make_identity(), Shape{8}), random_matrix(2, 8, 1188), 1189);
    check_accumulate(*configured(lrp::make_dropout(0.1), Shape{8}), random_matrix(2, 8, 1190), 1191);
    auto bn = configured(std::make_unique<lrp::BatchNorm>(2), Shape{2, 2, 2}, "bn");
    bn->set_statistics(random_vector(2, 1192), random_vector(2, 1193, 0.5, 1.5));
    check_accumulate(*bn, random_matrix(2, 8, 1194), 1195);
  }
}

// ---------------------------------------------------------------- parameter checks

TEST_CASE("set_params rejects parameters of the wrong shape with an error naming the layer") {
  lrp::Network net({2, 6, 6});
  lrp::Layer& conv =
      net.add(std::make_unique<lrp::Conv2d>(2, 4, Conv2dOptions{.kernel = {3, 3}, .groups = 2}), "conv_a");
  lrp::Layer& nobias =
      net.add(std::make_unique<lrp::Conv2d>(4, 2, Conv2dOptions{.kernel = {1, 1}, .bias = false}), "conv_b");
  lrp::Layer& pool = net.add(std::make_unique<lrp::AvgPool2d>(Pool2dOptions{.kernel = {2, 2}}), "pool");
  lrp::Layer& bn = net.add(std::make_unique<lrp::BatchNorm>(2), "norm");
  lrp::Layer& relu = net.add(lrp::make_relu(), "act");
  net.add(std::make_unique<lrp::Flatten>(), "flat");
  lrp::Layer& fc = net.add(std::make_unique<lrp::Dense>(8, 3), "fc");

  auto params = [](Index rows, Index cols, Index bias) {
    lrp::Params p;
    p.weight = Matrix::Ones(rows, cols);
    p.bias = Vector::Ones(bias);
    return p;
  };
  SECTION("dense") {
    REQUIRE_THROWS_WITH(fc.set_params(params(8, 3, 3)), Catch::Contains("'fc'") && Catch::Contains("expected [3, 8]"));
    REQUIRE_THROWS_WITH(fc.set_params(params(3, 8, 2)), Catch::Contains("'fc'") && Catch::Contains("bias"));
    REQUIRE_NOTHROW(fc.set_params(params(3, 8, 3)));
    REQUIRE_NOTHROW(fc.set_params(params(3, 8, 0)));  // "or none"
  }
  SECTION("conv2d: weight is [out, in/groups * kh * kw]") {
    REQUIRE_THROWS_WITH(conv.set_params(params(4, 18, 4)),
                        Catch::Contains("'conv_a'") && Catch::Contains("expected [4, 9]"));
    REQUIRE_NOTHROW(conv.set_params(params(4, 9, 4)));
    REQUIRE_THROWS_WITH(nobias.set_params(params(2, 4, 2)),
                        Catch::Contains("'conv_b'") && Catch::Contains("without bias"));
    REQUIRE_NOTHROW(nobias.set_params(params(2, 4, 0)));
  }
  SECTION("average pooling: weight [1, kh*kw], no bias") {
    REQUIRE_THROWS_WITH(pool.set_params(params(1, 9, 0)),
                        Catch::Contains("'pool'") && Catch::Contains("expected [1, 4]"));
    REQUIRE_THROWS_WITH(pool.set_params(params(1, 4, 1)), Catch::Contains("'pool'") && Catch::Contains("no bias"));
  }
  SECTION("batch norm: weight [1, C], bias [C]") {
    REQUIRE_THROWS_WITH(bn.set_params(params(2, 1, 2)),
                        Catch::Contains("'norm'") && Catch::Contains("expected [1, 2]"));
    REQUIRE_THROWS_WITH(bn.set_params(params(1, 2, 3)), Catch::Contains("'norm'") && Catch::Contains("bias"));
  }
  SECTION("a layer without parameters") {
    REQUIRE_THROWS_WITH(relu.set_params(params(1, 1, 0)), Catch::Contains("'act'") && Catch::Contains("no parameters"));
  }
  SECTION("a rejected call leaves the parameters unchanged") {
    const Matrix before = fc.params().weight;
    REQUIRE_THROWS_AS(fc.set_params(params(2, 2, 0)), lrp::Error);
    CHECK(bit_equal(fc.params().weight, before));
  }
}
