// Baseline explanation methods (docs/metrics.md, Baseline methods) against independent oracles: the completeness of
// integrated gradients (exact on linear networks, approached at the Riemann rate on smooth ones),
// literal per-sample loops written here from the definitions (integrated gradients, SmoothGrad,
// occlusion), SmoothGrad's bit-for-bit independence of the batch and the threads, the seeded
// random relevance, and bad options.
#include "test_util.hpp"

#include "lrp/core/slots.hpp"

#include "lrp/methods/methods.hpp"
#include "lrp/core/random.hpp"
#include "lrp/core/workspace.hpp"

#include <catch2/catch.hpp>

#include <numeric>
#include <thread>

using namespace lrp_test;
using Catch::Contains;
using lrp::Conv2dOptions;
using lrp::Pool2dOptions;

namespace {

// An affine network (conv, average pooling, dense, with biases): its gradient is constant.
lrp::Network linear_network(std::uint64_t seed) {
  lrp::Network net({2, 5, 4});
  net.add(std::make_unique<lrp::Conv2d>(2, 3, Conv2dOptions{.kernel = {3, 3}, .padding = {1, 1}}), "conv1");
  net.add(std::make_unique<lrp::AvgPool2d>(Pool2dOptions{.kernel = {2, 2}}), "pool1");
  net.add(std::make_unique<lrp::Flatten>(), "flatten");
  net.add(std::make_unique<lrp::Dense>(12, 4), "fc");
  lrp::randomize_parameters(net, seed);
  return net;
}

Matrix logits_of(const lrp::Network& net, const Matrix& rows) {
  return net.forward(lrp::Tensor(net.input_shape(), rows)).logits();
}

// ∂f_c/∂x for each row of `rows`.
Matrix gradient_of(const lrp::Network& net, const Matrix& rows, const std::vector<Index>& targets) {
  const lrp::ForwardPass pass = net.forward(lrp::Tensor(net.input_shape(), rows));
  return lrp::explain_gradient(net, builtins(), pass, targets, false).relevance.data;
}

// The per-channel values as a row over the features (channel = first axis of the shape).
Matrix channel_row(const Shape& shape, const std::vector<double>& values) {
  const Index features = lrp::numel(shape), per_channel = features / shape[0];
  Matrix row(1, features);
  for (Index f = 0; f < features; ++f)
    row(0, f) = static_cast<Scalar>(values.size() == 1 ? values[0] : values[static_cast<size_t>(f / per_channel)]);
  return row;
}

Scalar alpha_of(Index m, Index steps) { return static_cast<Scalar>(static_cast<double>(m) / static_cast<double>(steps)); }

// Integrated gradients one sample and one step at a time: each interpolation point is a batch of
// its own. `baseline` has one row (every sample) or one per sample.
Eigen::MatrixXd integrated_gradients_loop(const lrp::Network& net, const Matrix& x, const Matrix& baseline,
                                          const std::vector<Index>& targets, Index steps) {
  Eigen::MatrixXd out(x.rows(), x.cols());
  for (Index i = 0; i < x.rows(); ++i) {
    const Matrix b = baseline.row(baseline.rows() == 1 ? 0 : i);
    Eigen::RowVectorXd sum = Eigen::RowVectorXd::Zero(x.cols());
    for (Index m = 1; m <= steps; ++m) {
      const Matrix point = b + alpha_of(m, steps) * (x.row(i) - b);
      sum += gradient_of(net, point, {targets[static_cast<size_t>(i)]}).row(0).cast<double>();
    }
    out.row(i) = (x.row(i) - b).cast<double>().cwiseProduct(sum) / static_cast<double>(steps);
  }
  return out;
}

// SmoothGrad from its definition, one noisy copy at a time.
Eigen::MatrixXd smoothgrad_loop(const lrp::Network& net, const Matrix& x, const std::vector<Index>& targets,
                                const std::vector<Index>& ids, Index copies, double sigma, const std::vector<double>& low,
                                const std::vector<double>& high, std::uint64_t seed) {
  const Shape& shape = net.input_shape();
  const Matrix lo = channel_row(shape, low), hi = channel_row(shape, high);
  Eigen::MatrixXd out(x.rows(), x.cols());
  for (Index i = 0; i < x.rows(); ++i) {
    Eigen::RowVectorXd sum = Eigen::RowVectorXd::Zero(x.cols());
    for (Index k = 0; k < copies; ++k) {
      std::mt19937_64 rng(lrp::sample_seed(seed, ids[static_cast<size_t>(i)], static_cast<std::uint64_t>(k)));
      Matrix noisy = x.row(i);
      for (Index f = 0; f < x.cols(); ++f) {
        const double s = sigma * (static_cast<double>(hi(0, f)) - static_cast<double>(lo(0, f)));
        noisy(0, f) += static_cast<Scalar>(s * lrp::standard_normal(rng));
      }
      sum += gradient_of(net, noisy, {targets[static_cast<size_t>(i)]}).row(0).cast<double>();
    }
    out.row(i) = sum / static_cast<double>(copies);
  }
  return out;
}

// Occlusion from its definition: slide the window over the plane, one occluded copy per forward
// pass, and average the logit drops of the windows that cover each pixel. [D] inputs are 1 × D.
Eigen::MatrixXd occlusion_loop(const lrp::Network& net, const Matrix& x, const std::vector<Index>& targets,
                               Index window_h, Index window_w, Index stride_h, Index stride_w,
                               const std::vector<double>& fill) {
  const Shape& shape = net.input_shape();
  // [C, H, W]: C planes H × W; [T, D]: one T × D plane; [D]: one 1 × D row.
  const Index channels = shape.size() == 3 ? shape[0] : 1;
  const Index height = shape.size() == 3 ? shape[1] : shape.size() == 2 ? shape[0] : 1, width = shape.back();
  const Matrix fill_row = channel_row(shape, fill);
  Eigen::MatrixXd out = Eigen::MatrixXd::Zero(x.rows(), x.cols());
  for (Index i = 0; i < x.rows(); ++i) {
    const Index c = targets[static_cast<size_t>(i)];
    const double original = static_cast<double>(logits_of(net, x.row(i))(0, c));
    Eigen::MatrixXd sum = Eigen::MatrixXd::Zero(height, width), count = Eigen::MatrixXd::Zero(height, width);
    for (Index top = 0; top + window_h <= height; top += stride_h)
      for (Index left = 0; left + window_w <= width; left += stride_w) {
        Matrix occluded = x.row(i);
        for (Index ch = 0; ch < channels; ++ch)
          for (Index h = top; h < top + window_h; ++h)
            for (Index w = left; w < left + window_w; ++w) {
              const Index f = (ch * height + h) * width + w;
              occluded(0, f) = fill_row(0, f);
            }
        const double drop = original - static_cast<double>(logits_of(net, occluded)(0, c));
        sum.block(top, left, window_h, window_w).array() += drop;
        count.block(top, left, window_h, window_w).array() += 1.0;
      }
    for (Index ch = 0; ch < channels; ++ch)
      for (Index h = 0; h < height; ++h)
        for (Index w = 0; w < width; ++w)
          if (count(h, w) > 0) out(i, (ch * height + h) * width + w) = sum(h, w) / count(h, w);
  }
  return out;
}

double row_sum(const Matrix& m, Index row) { return m.row(row).cast<double>().sum(); }

std::vector<Index> iota_ids(Index n, Index first) {
  std::vector<Index> ids(static_cast<size_t>(n));
  std::iota(ids.begin(), ids.end(), first);
  return ids;
}

}  // namespace

// ---------------------------------------------------------------- integrated gradients

TEST_CASE("integrated gradients are complete on an affine network for any number of steps", "[methods]") {
  const lrp::Network net = linear_network(1);
  const lrp::Tensor x = lrp::random_inputs(net.input_shape(), 4, 2, -1.0, 1.0);
  const std::vector<Index> targets{0, 3, 1, 2};
  const lrp::Tensor per_sample_baseline = lrp::random_inputs(net.input_shape(), 4, 3, -1.0, 1.0);
  for (Index steps : {1, 2, 3, 8, 32}) {
    INFO("steps " << steps);
    SECTION("per-channel constant baseline") {
      const std::vector<double> baseline{0.25, -0.5};
      const Matrix ig = lrp::integrated_gradients(net, builtins(), x, targets, {.steps = steps, .baseline = baseline}).data;
      const Matrix f = logits_of(net, x.data), f_bar = logits_of(net, channel_row(net.input_shape(), baseline));
      for (Index i = 0; i < x.batch(); ++i) {
        const Index c = targets[static_cast<size_t>(i)];
        const double delta = static_cast<double>(f(i, c)) - static_cast<double>(f_bar(0, c));
        CHECK(std::abs(row_sum(ig, i) - delta) <= tol(1e-4, 1e-10) * std::max(1.0, std::abs(delta)));
      }
    }
    SECTION("a baseline per sample") {
      const Matrix ig = lrp::integrated_gradients(net, builtins(), x, targets,
                                                  {.steps = steps, .baseline_tensor = per_sample_baseline})
                            .data;
      const Matrix f = logits_of(net, x.data), f_bar = logits_of(net, per_sample_baseline.data);
      for (Index i = 0; i < x.batch(); ++i) {
        const Index c = targets[static_cast<size_t>(i)];
        const double delta = static_cast<double>(f(i, c)) - static_cast<double>(f_bar(i, c));
        CHECK(std::abs(row_sum(ig, i) - delta) <= tol(1e-4, 1e-10) * std::max(1.0, std::abs(delta)));
      }
    }
  }
}

TEST_CASE("integrated gradients approach completeness on a smooth network at the Riemann right-sum rate",
          "[methods]") {
  const lrp::Network net = smooth_network(4);
  const lrp::Tensor x = lrp::random_inputs(net.input_shape(), 3, 5, -1.0, 1.0);
  const std::vector<Index> targets{0, 1, 2};
  const std::vector<double> baseline{0.2, -0.3};
  const Matrix b = channel_row(net.input_shape(), baseline);
  const Matrix f = logits_of(net, x.data), f_bar = logits_of(net, b);

  // h(α) = (x − x̄)·∇f_c(x̄ + α(x − x̄)); the right sum of ∫₀¹ h exceeds it by (h(1) − h(0))/(2M) + O(1/M²).
  const Matrix diff = x.data.rowwise() - b.row(0);
  const Matrix grad_at_x = gradient_of(net, x.data, targets);
  const Matrix grad_at_baseline = gradient_of(net, b.replicate(3, 1), targets);

  for (Index i = 0; i < x.batch(); ++i) {
    INFO("sample " << i);
    const Index c = targets[static_cast<size_t>(i)];
    const double delta = static_cast<double>(f(i, c)) - static_cast<double>(f_bar(0, c));
    const double h1 = diff.row(i).cast<double>().dot(grad_at_x.row(i).cast<double>());
    const double h0 = diff.row(i).cast<double>().dot(grad_at_baseline.row(i).cast<double>());
    const double leading = (h1 - h0) / 2;
    REQUIRE(std::abs(leading) > 1e-3);  // the test needs a visible first-order error
    double previous_gap = std::numeric_limits<double>::infinity();
    for (Index steps : {4, 16, 64, 256}) {
      INFO("steps " << steps);
      const Matrix ig = lrp::integrated_gradients(net, builtins(), x, targets, {.steps = steps, .baseline = baseline}).data;
      const double gap = row_sum(ig, i) - delta;
      CHECK(std::abs(gap) < previous_gap);
      previous_gap = std::abs(gap);
      // M · gap → (h(1) − h(0))/2.
      if (steps >= 64) CHECK(std::abs(static_cast<double>(steps) * gap - leading) <= 0.05 * std::abs(leading) + tol(1e-3, 1e-8));
    }
    CHECK(previous_gap <= 0.01 * std::max(1.0, std::abs(delta)));
  }
}

TEST_CASE("integrated gradients with one step are (x − x̄) ⊙ the gradient at x", "[methods]") {
  for (const lrp::Network& net : {smooth_network(6), lrp::example_cnn(7)}) {
    const lrp::Tensor x = lrp::random_inputs(net.input_shape(), 3, 8, -1.0, 1.0);
    const std::vector<Index> targets{2, 0, 1};
    const std::vector<double> baseline{net.input_shape()[0] == 2 ? 0.5 : -0.25};
    const Matrix b = channel_row(net.input_shape(), baseline);
    const Matrix expected = (x.data.rowwise() - b.row(0)).cwiseProduct(gradient_of(net, x.data, targets));
    const Matrix ig = lrp::integrated_gradients(net, builtins(), x, targets, {.steps = 1, .baseline = baseline}).data;
    CHECK(relative_error(ig, expected) <= tol(1e-4, 1e-10));
  }
}

TEST_CASE("integrated gradients match a literal per-sample, per-step loop, however the passes are cut", "[methods]") {
  const Index steps = 5;
  for (const lrp::Network& net : {smooth_network(9), lrp::example_cnn(10), lrp::example_mlp(11)}) {
    INFO("network " << net.summary());
    const lrp::Tensor x = lrp::random_inputs(net.input_shape(), 3, 12);
    const std::vector<Index> targets{1, 2, 0};

    const std::vector<double> constant{0.1};
    const Eigen::MatrixXd expected_constant =
        integrated_gradients_loop(net, x.data, channel_row(net.input_shape(), constant), targets, steps);
    const lrp::Tensor per_sample = lrp::random_inputs(net.input_shape(), 3, 13);
    const Eigen::MatrixXd expected_per_sample = integrated_gradients_loop(net, x.data, per_sample.data, targets, steps);
    const lrp::Tensor one_row = lrp::random_inputs(net.input_shape(), 1, 14);
    const Eigen::MatrixXd expected_one_row = integrated_gradients_loop(net, x.data, one_row.data, targets, steps);

    for (Index rows : {0, 1, 4, 7, 100}) {
      for (int threads : {1, 2}) {
        INFO("batch_rows " << rows << ", threads " << threads);
        const Matrix a =
            lrp::integrated_gradients(net, builtins(), x, targets,
                                      {.steps = steps, .baseline = constant, .batch_rows = rows}, threads)
                .data;
        CHECK(relative_error(a, expected_constant) <= tol(1e-4, 1e-10));
        const Matrix b = lrp::integrated_gradients(net, builtins(), x, targets,
                                                   {.steps = steps, .baseline_tensor = per_sample, .batch_rows = rows},
                                                   threads)
                             .data;
        CHECK(relative_error(b, expected_per_sample) <= tol(1e-4, 1e-10));
        const Matrix c = lrp::integrated_gradients(net, builtins(), x, targets,
                                                   {.steps = steps, .baseline_tensor = one_row, .batch_rows = rows},
                                                   threads)
                             .data;
        CHECK(relative_error(c, expected_one_row) <= tol(1e-4, 1e-10));
      }
    }
  }
}

TEST_CASE("integrated gradients: a constant baseline tensor gives the bits of the per-channel baseline",
          "[methods]") {
  const lrp::Network net = smooth_network(15);
  const lrp::Tensor x = lrp::random_inputs(net.input_shape(), 4, 16, -1.0, 1.0);
  const std::vector<Index> targets{0, 1, 2, 0};
  const std::vector<double> baseline{-0.4, 0.7};
  const lrp::Tensor tensor(net.input_shape(), channel_row(net.input_shape(), baseline));
  const Matrix by_channel =
      lrp::integrated_gradients(net, builtins(), x, targets, {.steps = 6, .baseline = baseline}).data;
  // On a fresh thread, whose scratch buffers lie elsewhere: the same passes give the same bits.
  Matrix by_tensor;
  std::thread worker([&] {
    by_tensor = lrp::integrated_gradients(net, builtins(), x, targets, {.steps = 6, .baseline_tensor = tensor}).data;
  });
  worker.join();
  CHECK(bit_equal(by_channel, by_tensor));
  // The default baseline is 0.
  const lrp::Tensor zeros(1, net.input_shape());
  CHECK(bit_equal(lrp::integrated_gradients(net, builtins(), x, targets, {.steps = 6}).data,
                  lrp::integrated_gradients(net, builtins(), x, targets, {.steps = 6, .baseline_tensor = zeros}).data));
  // An empty batch gives an empty result.
  const lrp::Tensor none(0, net.input_shape());
  CHECK(lrp::integrated_gradients(net, builtins(), none, {}).data.rows() == 0);
}

// ---------------------------------------------------------------- SmoothGrad

TEST_CASE("SmoothGrad with sigma 0 is the gradient", "[methods]") {
  for (const lrp::Network& net : {smooth_network(20), lrp::example_cnn(21)}) {
    const lrp::Tensor x = lrp::random_inputs(net.input_shape(), 3, 22);
    const std::vector<Index> targets{0, 2, 1};
    const Matrix sg = lrp::smoothgrad(net, builtins(), x, targets, {4, 5, 6}, {.samples = 4, .sigma = 0.0}).data;
    CHECK(relative_error(sg, gradient_of(net, x.data, targets)) <= tol(1e-4, 1e-10));
  }
}

TEST_CASE("SmoothGrad averages the gradients of the seeded noisy copies of each sample", "[methods]") {
  const std::vector<double> low{-1.0, -0.5}, high{1.0, 2.0};
  const lrp::Network net = smooth_network(23);
  const lrp::Tensor x = lrp::random_inputs(net.input_shape(), 3, 24, -1.0, 1.0);
  const std::vector<Index> targets{1, 0, 2}, ids{7, 3, 100};
  const lrp::SmoothGradOptions options{.samples = 5, .sigma = 0.3, .low = low, .high = high, .seed = 99};
  const Eigen::MatrixXd expected = smoothgrad_loop(net, x.data, targets, ids, 5, 0.3, low, high, 99);
  const Matrix sg = lrp::smoothgrad(net, builtins(), x, targets, ids, options).data;
  CHECK(relative_error(sg, expected) <= tol(1e-4, 1e-10));
  // The noise matters: it is not the plain gradient, and another seed gives other numbers.
  CHECK(relative_error(sg, gradient_of(net, x.data, targets)) > 1e-3);
  lrp::SmoothGradOptions other = options;
  other.seed = 100;
  CHECK(relative_error(lrp::smoothgrad(net, builtins(), x, targets, ids, other).data, sg) > 1e-3);

  // The example CNN with its (one channel) data range [0, 1] and the defaults.
  const lrp::Network cnn = lrp::example_cnn(25);
  const lrp::Tensor images = lrp::random_inputs(cnn.input_shape(), 2, 26);
  const std::vector<Index> cnn_targets{3, 8}, cnn_ids{0, 1};
  CHECK(relative_error(lrp::smoothgrad(cnn, builtins(), images, cnn_targets, cnn_ids).data,
                       smoothgrad_loop(cnn, images.data, cnn_targets, cnn_ids, 16, 0.15, {0.0}, {1.0}, 0)) <=
        tol(1e-4, 1e-10));
}

TEST_CASE("SmoothGrad of a sample does not depend on its batch, its position or the threads, bit for bit",
          "[methods]") {
  for (const lrp::Network& net : {smooth_network(30), lrp::example_cnn(31), lrp::example_mlp(32)}) {
    INFO("network " << net.summary());
    const lrp::Tensor x = lrp::random_inputs(net.input_shape(), 5, 33);
    const std::vector<Index> targets{0, 1, 2, 1, 0}, ids = iota_ids(5, 10);
    const lrp::SmoothGradOptions options{.samples = 6, .sigma = 0.2, .seed = 34};
    const Matrix batch = lrp::smoothgrad(net, builtins(), x, targets, ids, options).data;

    // Sample 3 alone.
    const lrp::Tensor alone(net.input_shape(), x.data.row(3));
    CHECK(bit_equal(lrp::smoothgrad(net, builtins(), alone, {targets[3]}, {ids[3]}, options).data, batch.row(3)));
    // The batch reversed.
    Matrix reversed = x.data.colwise().reverse();
    const std::vector<Index> reversed_targets(targets.rbegin(), targets.rend()), reversed_ids(ids.rbegin(), ids.rend());
    const Matrix r =
        lrp::smoothgrad(net, builtins(), lrp::Tensor(net.input_shape(), reversed), reversed_targets, reversed_ids, options)
            .data;
    CHECK(bit_equal(r.colwise().reverse(), batch));
    // Threads.
    for (int threads : {2, 3, 5}) {
      INFO("threads " << threads);
      CHECK(bit_equal(lrp::smoothgrad(net, builtins(), x, targets, ids, options, threads).data, batch));
    }
    // On fresh threads, whose scratch buffers lie elsewhere (shifted by other allocations first).
    for (int shift : {1, 2, 3, 5, 8}) {
      INFO("fresh thread, shift " << shift);
      Matrix on_thread;
      std::string failure;
      std::thread worker([&] {
        try {
          std::vector<std::vector<char>> junk;
          for (int j = 0; j < shift; ++j) junk.emplace_back(static_cast<size_t>(8 * j + 4));
          lrp::Workspace& ws = lrp::thread_workspace();
          int slot = 0;
          for (const lrp::SlotRange& range : lrp::slots::kFramework)
            for (int i = 0; i < range.count; ++i, ++slot) ws.get(range, i, 1, shift + slot);
          on_thread = lrp::smoothgrad(net, builtins(), alone, {targets[3]}, {ids[3]}, options).data;
        } catch (const std::exception& e) {
          failure = e.what();
        }
      });
      worker.join();
      REQUIRE(failure.empty());
      CHECK(bit_equal(on_thread, batch.row(3)));
    }
    // The same sample under another id gets other noise.
    const std::vector<Index> other_id{ids[3] + 1000};
    CHECK_FALSE(bit_equal(lrp::smoothgrad(net, builtins(), alone, {targets[3]}, other_id, options).data, batch.row(3)));
  }
}

// ---------------------------------------------------------------- occlusion

TEST_CASE("occlusion matches a literal loop over the windows", "[methods]") {
  struct Case {
    std::string what;
    lrp::Network net;
    lrp::OcclusionOptions options;
    Index window_h, window_w, stride_h, stride_w;
  };
  std::vector<Case> cases;
  cases.push_back({"CNN, 4×4 windows tiling the image", lrp::example_cnn(40), {.window = {4}, .fill = {0.0}}, 4, 4, 4, 4});
  cases.push_back({"CNN, overlapping 5×5 windows at stride 3 that leave the last rows and columns uncovered",
                   lrp::example_cnn(41),
                   {.window = {5}, .stride = {3}, .fill = {-0.5}},
                   5, 5, 3, 3});
  cases.push_back({"smooth net, 2×3 windows at stride [1, 2], a fill per channel",
                   smooth_network(42),
                   {.window = {2, 3}, .stride = {1, 2}, .fill = {0.3, -0.7}},
                   2, 3, 1, 2});
  cases.push_back({"smooth net, one window covering the whole plane", smooth_network(43),
                   {.window = {6, 5}, .fill = {1.0}}, 6, 5, 1, 1});
  cases.push_back({"smooth net, 1×1 windows", smooth_network(44), {.window = {1}, .fill = {0.0, 0.5}}, 1, 1, 1, 1});
  cases.push_back({"MLP on [784], runs of 50 features at stride 30", lrp::example_mlp(45),
                   {.window = {50}, .stride = {30}, .fill = {0.1}}, 1, 50, 1, 30});
  const auto sequence_net = [](std::uint64_t seed) {
    lrp::Network net({6, 3});  // 6 time steps × 3 features
    net.add(std::make_unique<lrp::Flatten>(), "flatten");
    net.add(std::make_unique<lrp::Dense>(18, 7), "fc1");
    net.add(lrp::make_relu(), "relu");
    net.add(std::make_unique<lrp::Dense>(7, 3), "fc2");
    lrp::randomize_parameters(net, seed);
    return net;
  };
  cases.push_back({"sequence [6, 3], windows of 2 whole time steps at stride 1, a fill per time step",
                   sequence_net(47),
                   {.window = {2}, .stride = {1}, .fill = {0.0, 0.1, 0.2, -0.3, 0.4, 0.5}},
                   2, 3, 1, 3});
  cases.push_back({"sequence [6, 3], 1 step × 2 features at stride [2, 1]", sequence_net(48),
                   {.window = {1, 2}, .stride = {2, 1}, .fill = {-1.0}}, 1, 2, 2, 1});
  for (Case& c : cases) {
    INFO(c.what);
    const lrp::Tensor x = lrp::random_inputs(c.net.input_shape(), 3, 46);
    const std::vector<Index> targets{2, 0, 1};
    const Eigen::MatrixXd expected =
        occlusion_loop(c.net, x.data, targets, c.window_h, c.window_w, c.stride_h, c.stride_w, c.options.fill);
    for (Index rows : {0, 1, 5, 1000}) {
      for (int threads : {1, 2}) {
        INFO("batch_rows " << rows << ", threads " << threads);
        c.options.batch_rows = rows;
        const Matrix r = lrp::occlusion(c.net, x, targets, c.options, threads).data;
        CHECK(relative_error(r, expected) <= tol(1e-4, 1e-10));
      }
    }
  }
}

TEST_CASE("occlusion: uncovered pixels get 0, one window gives its drop everywhere, channels share a pixel's value",
          "[methods]") {
  const lrp::Network cnn = lrp::example_cnn(50);
  const lrp::Tensor x = lrp::random_inputs(cnn.input_shape(), 2, 51);
  const std::vector<Index> targets{4, 7};
  // 5×5 at stride 3 on 28×28: corners 0, 3, ..., 21, so rows and columns 26 and 27 are uncovered.
  const Matrix r = lrp::occlusion(cnn, x, targets, {.window = {5}, .stride = {3}}).data;
  for (Index i = 0; i < 2; ++i)
    for (Index k = 0; k < 28; ++k) {
      CHECK(r(i, 26 * 28 + k) == 0);
      CHECK(r(i, 27 * 28 + k) == 0);
      CHECK(r(i, k * 28 + 26) == 0);
      CHECK(r(i, k * 28 + 27) == 0);
    }
  CHECK(r.row(0).head(26).cwiseAbs().maxCoeff() > 0);

  const lrp::Network net = smooth_network(52);
  const lrp::Tensor y = lrp::random_inputs(net.input_shape(), 2, 53);
  const std::vector<Index> t{1, 2};
  const std::vector<double> fill{0.25, -0.25};
  const Matrix whole = lrp::occlusion(net, y, t, {.window = {6, 5}, .fill = fill}).data;
  const Matrix f = logits_of(net, y.data), f_fill = logits_of(net, channel_row(net.input_shape(), fill));
  for (Index i = 0; i < 2; ++i) {
    const double drop = static_cast<double>(f(i, t[static_cast<size_t>(i)])) -
                        static_cast<double>(f_fill(0, t[static_cast<size_t>(i)]));
    const Eigen::MatrixXd expected = Eigen::MatrixXd::Constant(1, y.features(), drop);
    CHECK(relative_error(whole.row(i), expected) <= tol(1e-4, 1e-10));
  }
  const Matrix overlapping = lrp::occlusion(net, y, t, {.window = {3}, .stride = {1}, .fill = fill}).data;
  CHECK(bit_equal(overlapping.leftCols(30), overlapping.rightCols(30)));  // both channels of every pixel
}

// ---------------------------------------------------------------- random relevance

TEST_CASE("random relevance is reproducible, uniform below 1 and depends on the sample id, not the position",
          "[methods]") {
  const Shape shape{1, 28, 28};
  const std::vector<Index> ids{5, 9, 5, 12};
  const Matrix r = lrp::random_relevance(shape, ids, 77).data;
  REQUIRE(r.rows() == 4);
  REQUIRE(r.cols() == 784);
  CHECK(bit_equal(lrp::random_relevance(shape, ids, 77).data, r));
  CHECK(bit_equal(r.row(0), r.row(2)));  // the same id
  CHECK_FALSE(bit_equal(r.row(0), r.row(1)));
  const std::vector<Index> reordered{12, 9};
  const Matrix s = lrp::random_relevance(shape, reordered, 77).data;
  CHECK(bit_equal(s.row(0), r.row(3)));
  CHECK(bit_equal(s.row(1), r.row(1)));
  CHECK_FALSE(bit_equal(lrp::random_relevance(shape, ids, 78).data.row(0), r.row(0)));
  CHECK(r.minCoeff() >= 0);
  CHECK(r.maxCoeff() < 1);
  CHECK(std::abs(r.cast<double>().mean() - 0.5) < 0.02);
  // The stream: uniform01 in feature order from sample_seed(seed, id, 0).
  std::mt19937_64 rng(lrp::sample_seed(77, 9, 0));
  for (Index f = 0; f < 784; ++f) CHECK(r(1, f) == static_cast<Scalar>(lrp::uniform01(rng)));
  CHECK(lrp::random_relevance({3}, {}, 1).data.rows() == 0);
}

// ---------------------------------------------------------------- helpers and errors

TEST_CASE("channel_values_in_network_units maps a raw value through the normalization", "[methods]") {
  lrp::InputNormalization n;
  n.mean = {0.5, 0.25};
  n.std = {0.5, 2.0};
  const lrp::ChannelValues v = lrp::channel_values_in_network_units(0.0, n, 2);
  REQUIRE(v.size() == 2);
  CHECK(v[0] == Approx(-1.0));
  CHECK(v[1] == Approx(-0.125));
  lrp::InputNormalization single;
  single.mean = {0.2860};
  single.std = {0.3530};
  const lrp::ChannelValues w = lrp::channel_values_in_network_units(1.0, single, 3);
  REQUIRE(w.size() == 1);
  CHECK(w[0] == Approx((1.0 - 0.2860) / 0.3530));
  REQUIRE_THROWS_WITH(lrp::channel_values_in_network_units(0.0, n, 3), Contains("one per input channel (3)"));
}

TEST_CASE("bad inputs and options of the baseline methods are errors naming the method and the option", "[methods]") {
  const lrp::Network net = smooth_network(60);
  const lrp::Tensor x = lrp::random_inputs(net.input_shape(), 2, 61);
  const std::vector<Index> targets{0, 1}, ids{0, 1};
  const auto& reg = builtins();
  using lrp::IntegratedGradientsOptions;
  using lrp::OcclusionOptions;
  using lrp::SmoothGradOptions;

  SECTION("common: input shape, targets, threads, non-finite input") {
    const lrp::Tensor wrong = lrp::random_inputs({2, 5, 6}, 2, 62);
    REQUIRE_THROWS_WITH(lrp::integrated_gradients(net, reg, wrong, targets),
                        Contains("integrated_gradients") && Contains("[2, 5, 6]") && Contains("[2, 6, 5]"));
    REQUIRE_THROWS_WITH(lrp::smoothgrad(net, reg, x, {0}, ids), Contains("smoothgrad") && Contains("1 targets for 2"));
    REQUIRE_THROWS_WITH(lrp::occlusion(net, x, {0, 3}), Contains("occlusion") && Contains("target 3 of sample 1"));
    REQUIRE_THROWS_WITH(lrp::occlusion(net, x, {-1, 0}), Contains("occlusion") && Contains("out of range"));
    REQUIRE_THROWS_WITH(lrp::integrated_gradients(net, reg, x, targets, {}, 0),
                        Contains("integrated_gradients") && Contains("threads"));
    lrp::Tensor nan = x;
    nan.data(1, 4) = std::numeric_limits<Scalar>::quiet_NaN();
    REQUIRE_THROWS_WITH(lrp::smoothgrad(net, reg, nan, targets, ids),
                        Contains("smoothgrad") && Contains("NaN") && Contains("sample 1, feature 4"));
  }
  SECTION("integrated gradients") {
    REQUIRE_THROWS_WITH(lrp::integrated_gradients(net, reg, x, targets, {.steps = 0}),
                        Contains("integrated_gradients") && Contains("'steps'") && Contains("≥ 1"));
    REQUIRE_THROWS_WITH(lrp::integrated_gradients(net, reg, x, targets, {.baseline = {0.0, 1.0, 2.0}}),
                        Contains("integrated_gradients") && Contains("'baseline'") && Contains("3 values"));
    REQUIRE_THROWS_WITH(
        lrp::integrated_gradients(net, reg, x, targets, {.baseline = {std::numeric_limits<double>::infinity()}}),
        Contains("'baseline'") && Contains("non-finite"));
    REQUIRE_THROWS_WITH(
        lrp::integrated_gradients(net, reg, x, targets, {.baseline_tensor = lrp::random_inputs({2, 6, 5}, 3, 1)}),
        Contains("integrated_gradients") && Contains("'baseline_tensor'") && Contains("3 rows"));
    REQUIRE_THROWS_WITH(
        lrp::integrated_gradients(net, reg, x, targets, {.baseline_tensor = lrp::random_inputs({60}, 1, 1)}),
        Contains("'baseline_tensor'") && Contains("[60]"));
    REQUIRE_THROWS_WITH(lrp::integrated_gradients(net, reg, x, targets,
                                                  {.baseline = {0.5}, .baseline_tensor = lrp::random_inputs({2, 6, 5}, 1, 1)}),
                        Contains("'baseline'") && Contains("'baseline_tensor'") && Contains("both"));
    REQUIRE_THROWS_WITH(lrp::integrated_gradients(net, reg, x, targets, {.batch_rows = -1}),
                        Contains("integrated_gradients") && Contains("'batch_rows'"));
  }
  SECTION("SmoothGrad") {
    REQUIRE_THROWS_WITH(lrp::smoothgrad(net, reg, x, targets, {0}),
                        Contains("smoothgrad") && Contains("1 sample ids for 2"));
    REQUIRE_THROWS_WITH(lrp::smoothgrad(net, reg, x, targets, ids, {.samples = 0}),
                        Contains("smoothgrad") && Contains("'samples'") && Contains("≥ 1"));
    REQUIRE_THROWS_WITH(lrp::smoothgrad(net, reg, x, targets, ids, {.sigma = -0.1}),
                        Contains("smoothgrad") && Contains("'sigma'"));
    REQUIRE_THROWS_WITH(lrp::smoothgrad(net, reg, x, targets, ids, {.sigma = std::numeric_limits<double>::quiet_NaN()}),
                        Contains("smoothgrad") && Contains("'sigma'"));
    REQUIRE_THROWS_WITH(lrp::smoothgrad(net, reg, x, targets, ids, {.low = {0.0, 1.0}, .high = {1.0}}),
                        Contains("smoothgrad") && Contains("'low'") && Contains("low < high"));
    REQUIRE_THROWS_WITH(lrp::smoothgrad(net, reg, x, targets, ids, {.high = {1.0, 2.0, 3.0}}),
                        Contains("smoothgrad") && Contains("'high'") && Contains("one per input channel (2)"));
  }
  SECTION("occlusion") {
    REQUIRE_THROWS_WITH(lrp::occlusion(net, x, targets, {.window = {0}}),
                        Contains("occlusion") && Contains("'window'") && Contains("≥ 1"));
    REQUIRE_THROWS_WITH(lrp::occlusion(net, x, targets, {.window = {2, 2, 2}}),
                        Contains("occlusion") && Contains("'window'") && Contains("3 values"));
    REQUIRE_THROWS_WITH(lrp::occlusion(net, x, targets, {.window = {}}), Contains("occlusion") && Contains("'window'"));
    REQUIRE_THROWS_WITH(lrp::occlusion(net, x, targets, {.window = {6}}),
                        Contains("occlusion") && Contains("6×6") && Contains("6×5"));
    REQUIRE_THROWS_WITH(lrp::occlusion(net, x, targets, {.window = {2}, .stride = {0, 1}}),
                        Contains("occlusion") && Contains("'stride'"));
    REQUIRE_THROWS_WITH(lrp::occlusion(net, x, targets, {.fill = {1.0, 2.0, 3.0}}),
                        Contains("occlusion") && Contains("'fill'"));
    REQUIRE_THROWS_WITH(lrp::occlusion(net, x, targets, {.batch_rows = -2}),
                        Contains("occlusion") && Contains("'batch_rows'"));
    lrp::Network rank4({1, 2, 3, 4});
    rank4.add(std::make_unique<lrp::Flatten>(), "flatten");
    rank4.add(std::make_unique<lrp::Dense>(24, 2), "fc");
    REQUIRE_THROWS_WITH(lrp::occlusion(rank4, lrp::random_inputs({1, 2, 3, 4}, 1, 1), {0}),
                        Contains("occlusion") && Contains("[1, 2, 3, 4]") && Contains("not supported"));
    lrp::Network sequence({4, 5});  // a sequence: the window may not be longer than its 4 steps
    sequence.add(std::make_unique<lrp::Flatten>(), "flatten");
    sequence.add(std::make_unique<lrp::Dense>(20, 2), "fc");
    REQUIRE_THROWS_WITH(lrp::occlusion(sequence, lrp::random_inputs({4, 5}, 1, 1), {0}, {.window = {5}}),
                        Contains("occlusion") && Contains("5×5") && Contains("4×5"));
  }
  SECTION("random relevance") {
    REQUIRE_THROWS_WITH(lrp::random_relevance({}, {0}, 1), Contains("random_relevance") && Contains("empty"));
    REQUIRE_THROWS_WITH(lrp::random_relevance({3, 0}, {0}, 1), Contains("random_relevance"));
  }
}
