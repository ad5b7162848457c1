// Training-mode layers (batch norm with batch statistics, dropout with a mask), the threaded
// training step, determinism and divergence.
//
// Oracles: batch norm's training forward against a literal per-channel loop in double; its
// backward (and the whole network's parameter gradients through batch norm and dropout) against
// central finite differences of the training-mode loss, with the dropout masks held fixed by
// reseeding the generator before every evaluation. Batch norm is not affine in x, so the
// differences have an O(h²) truncation term: float64 uses h = 1e-5 and 1e-6 relative; float32
// (ε ≈ 6e-8) uses h = 1e-2 and 3e-2 relative, which still catches any wrong term (a missing
// mean(g) or mean(g·x̂) term changes gradients by O(1)).
#include "test_util.hpp"

#include "lrp/io/model_yaml.hpp"
#include "lrp/nn/layers.hpp"
#include "lrp/nn/model.hpp"
#include "lrp/core/random.hpp"
#include "lrp/io/yaml_util.hpp"
#include "lrp/train/train.hpp"

#include <catch2/catch.hpp>

#include <cmath>
#include <random>

using namespace lrp_test;
using Catch::Matchers::Contains;

namespace {

// Σ_n Σ_j g(n, j) · y(n, j) in double.
double dot(const Matrix& g, const Matrix& y) {
  double s = 0;
  for (Index i = 0; i < g.size(); ++i) s += static_cast<double>(g.data()[i]) * static_cast<double>(y.data()[i]);
  return s;
}

lrp::Model build(const std::string& yaml_text, std::uint64_t seed) {
  lrp::Model m = lrp::build_model(lrp::parse_model_spec(YAML::Load(yaml_text), "test", &builtins()), builtins());
  lrp::initialize_parameters(m.network, lrp::InitScheme::kHeNormal, seed);
  return m;
}

const char* kBnDropoutCnn = R"(
name: bn_dropout_cnn
input_shape: [2, 6, 6]
layers:
  - {kind: conv2d, name: conv, out_channels: 3, kernel: 3, padding: 1}
  - {kind: batchnorm, name: bn}
  - {kind: relu}
  - {kind: maxpool2d, kernel: 2}
  - {kind: flatten}
  - {kind: dense, name: fc1, out: 8}
  - {kind: batchnorm, name: bn1d}
  - {kind: tanh}
  - {kind: dropout, p: 0.3}
  - {kind: dense, name: fc2, out: 4}
)";

}  // namespace

TEST_CASE("Batch norm in training mode normalizes with batch statistics and updates running averages", "[train_modes]") {
  const Index n = 5, c = 3, plane = 4;
  lrp::BatchNorm bn(c, 1e-5, 0.1);
  bn.configure({c, 2, 2}, "bn");
  const Vector mean0 = random_vector(c, 1), var0 = random_vector(c, 2, 0.5, 2.0);
  bn.set_statistics(mean0, var0);
  lrp::Params p{random_matrix(1, c, 3, 0.5, 1.5), random_vector(c, 4)};
  bn.set_params(p);
  const Matrix x = random_matrix(n, c * plane, 5, -2.0, 3.0);
  Matrix y(n, c * plane), state;
  std::mt19937_64 rng(0);
  bn.train_forward(x, bn.params(), y, state, rng, 1);
  for (Index ch = 0; ch < c; ++ch) {
    double mu = 0, var = 0;
    for (Index r = 0; r < n; ++r)
      for (Index k = 0; k < plane; ++k) mu += static_cast<double>(x(r, ch * plane + k));
    mu /= n * plane;
    for (Index r = 0; r < n; ++r)
      for (Index k = 0; k < plane; ++k) var += std::pow(static_cast<double>(x(r, ch * plane + k)) - mu, 2);
    const double biased = var / (n * plane), unbiased = var / (n * plane - 1);
    for (Index r = 0; r < n; ++r)
      for (Index k = 0; k < plane; ++k) {
        const double expected = (static_cast<double>(x(r, ch * plane + k)) - mu) / std::sqrt(biased + 1e-5) *
                                    static_cast<double>(p.weight(0, ch)) +
                                static_cast<double>(p.bias[ch]);
        REQUIRE(static_cast<double>(y(r, ch * plane + k)) == Approx(expected).epsilon(tol(1e-5, 1e-12)).margin(tol(1e-5, 1e-12)));
      }
    CHECK(static_cast<double>(bn.running_mean()[ch]) ==
          Approx(0.9 * static_cast<double>(mean0[ch]) + 0.1 * mu).epsilon(tol(1e-6, 1e-13)));
    CHECK(static_cast<double>(bn.running_var()[ch]) ==
          Approx(0.9 * static_cast<double>(var0[ch]) + 0.1 * unbiased).epsilon(tol(1e-6, 1e-13)));
  }
}

TEST_CASE("Batch norm's training forward and backward give the same bits for 1 2 or 3 threads", "[train_modes]") {
  const Index n = 6, c = 5, plane = 9;
  Matrix y1, g1, state1;
  lrp::Params grads1;
  Vector mean1, var1;
  for (const int threads : {1, 2, 3}) {
    lrp::BatchNorm bn(c, 1e-5, 0.1);
    bn.configure({c, 3, 3}, "bn");
    bn.set_params({random_matrix(1, c, 21, 0.5, 1.5), random_vector(c, 22)});
    const Matrix x = random_matrix(n, c * plane, 23, -2.0, 3.0), g = random_matrix(n, c * plane, 24);
    Matrix y(n, c * plane), state, g_in(n, c * plane);
    std::mt19937_64 rng(0);
    bn.train_forward(x, bn.params(), y, state, rng, threads);
    lrp::Params grads = lrp::zero_like(bn.params());
    bn.train_backward(x, bn.params(), state, g, g_in, grads, threads);
    if (threads == 1) {
      y1 = y, g1 = g_in, state1 = state, grads1 = grads, mean1 = bn.running_mean(), var1 = bn.running_var();
      continue;
    }
    CHECK(bit_equal(y, y1));
    CHECK(bit_equal(g_in, g1));
    CHECK(bit_equal(state.topRows(n + 1).leftCols(c), state1.topRows(n + 1).leftCols(c)));  // x̂ and 1/σ (the rest of the last row is unused)
    CHECK(bit_equal(state.topRows(n), state1.topRows(n)));
    CHECK(bit_equal(grads.weight, grads1.weight));
    CHECK(bit_equal(grads.bias, grads1.bias));
    CHECK(bit_equal(bn.running_mean(), mean1));
    CHECK(bit_equal(bn.running_var(), var1));
  }
}

TEST_CASE("Batch norm's training backward matches central differences for inputs, gamma and beta", "[train_modes]") {
  const Index n = 4, c = 2;
  for (const Shape& shape : {Shape{c}, Shape{c, 3, 2}}) {
    lrp::BatchNorm bn(c);
    bn.configure(shape, "bn");
    bn.set_params({random_matrix(1, c, 11, 0.5, 1.5), random_vector(c, 12)});
    const Index cols = lrp::numel(shape);
    Matrix x = random_matrix(n, cols, 13, -1.0, 2.0);
    const Matrix g = random_matrix(n, cols, 14);
    std::mt19937_64 rng(0);
    Matrix y(n, cols), state, g_in(n, cols);
    bn.train_forward(x, bn.params(), y, state, rng, 1);
    lrp::Params grads = lrp::zero_like(bn.params());
    bn.train_backward(x, bn.params(), state, g, g_in, grads, 1);

    const double h = tol(1e-2, 1e-5), rel = tol(3e-2, 1e-6);
    const auto loss = [&](const Matrix& xx) {
      Matrix yy(n, cols), ss;
      bn.train_forward(xx, bn.params(), yy, ss, rng, 1);
      return dot(g, yy);
    };
    double worst = 0, scale = 0;
    for (Index i = 0; i < x.size(); ++i) {
      Matrix xp = x, xm = x;
      xp.data()[i] += static_cast<Scalar>(h);
      xm.data()[i] -= static_cast<Scalar>(h);
      const double fd = (loss(xp) - loss(xm)) /
                        (static_cast<double>(xp.data()[i]) - static_cast<double>(xm.data()[i]));
      worst = std::max(worst, std::abs(fd - static_cast<double>(g_in.data()[i])));
      scale = std::max(scale, std::abs(fd));
    }
    CHECK(worst <= rel * scale);
    const lrp::Params p0 = bn.params();
    for (int which = 0; which < 2; ++which)
      for (Index k = 0; k < c; ++k) {
        auto set = [&](double delta) {
          lrp::Params q = p0;
          (which == 0 ? q.weight(0, k) : q.bias[k]) += static_cast<Scalar>(delta);
          bn.set_params(q);
          return loss(x);
        };
        const double fd = (set(h) - set(-h)) / (2 * h);
        bn.set_params(p0);
        const double analytic = static_cast<double>(which == 0 ? grads.weight(0, k) : grads.bias[k]);
        CHECK(analytic == Approx(fd).epsilon(rel).margin(rel));
      }
  }
}

TEST_CASE("Dropout in training zeroes about p of the values, scales the rest by 1/(1-p), and backpropagates through the mask",
          "[train_modes]") {
  lrp::Dropout d(0.3);
  d.configure({1000}, "dropout");
  const Matrix x = random_matrix(20, 1000, 21, 0.5, 1.5);
  Matrix y(20, 1000), state, g_in(20, 1000);
  std::mt19937_64 rng(7);
  d.train_forward(x, d.params(), y, state, rng, 1);
  Index dropped = 0;
  for (Index i = 0; i < x.size(); ++i) {
    if (y.data()[i] == 0) {
      ++dropped;
    } else {
      REQUIRE(static_cast<double>(y.data()[i]) ==
              Approx(static_cast<double>(x.data()[i]) / 0.7).epsilon(tol(1e-6, 1e-14)));
    }
  }
  // 20,000 Bernoulli(0.3) draws: the standard deviation of the fraction is 0.0032; allow 5 of them.
  CHECK(std::abs(static_cast<double>(dropped) / 20000.0 - 0.3) < 0.016);
  const Matrix g = random_matrix(20, 1000, 22);
  lrp::Params none;
  d.train_backward(x, d.params(), state, g, g_in, none, 1);
  for (Index i = 0; i < x.size(); ++i)
    REQUIRE(g_in.data()[i] == (y.data()[i] == 0 ? Scalar(0) : g.data()[i] * state.data()[i]));
  // The same seed gives the same mask; inference is the identity.
  Matrix y2(20, 1000), state2;
  std::mt19937_64 rng2(7);
  d.train_forward(x, d.params(), y2, state2, rng2, 1);
  CHECK(y2 == y);
  Matrix yi(20, 1000);
  d.forward(x, d.params(), yi, lrp::thread_workspace());
  CHECK(yi == x);
}

TEST_CASE("A training step's parameter gradients through batch norm and dropout match central differences of the loss",
          "[train_modes]") {
  lrp::Model m = build(kBnDropoutCnn, 3);
  const lrp::Tensor x = lrp::random_inputs(m.network.input_shape(), 6, 31, -1.0, 1.0);
  const std::vector<Index> labels{0, 1, 2, 3, 1, 0};
  const auto step = [&](int threads) {
    std::mt19937_64 rng(99);
    return lrp::training_gradients(m.network, x, labels, rng, threads);
  };
  const lrp::StepGradients base = step(1);
  const double h = tol(1e-2, 1e-5), rel = tol(5e-2, 1e-6);
  for (Index l = 0; l < m.network.size(); ++l) {
    lrp::Layer& layer = m.network.layer(l);
    if (!layer.trainable()) continue;
    const lrp::Params p0 = layer.params();
    double worst = 0, scale = 1e-3;
    // Every bias entry and up to 12 spread-out weight entries of each layer.
    std::vector<std::pair<bool, Index>> entries;
    for (Index k = 0; k < p0.bias.size(); ++k) entries.push_back({true, k});
    for (Index k = 0; k < p0.weight.size(); k += std::max<Index>(1, p0.weight.size() / 12)) entries.push_back({false, k});
    for (const auto& [is_bias, k] : entries) {
      const auto loss_at = [&](double delta) {
        lrp::Params q = p0;
        (is_bias ? q.bias.data() : q.weight.data())[k] += static_cast<Scalar>(delta);
        layer.set_params(q);
        return step(1).loss;
      };
      const double fd = (loss_at(h) - loss_at(-h)) / (2 * h);
      layer.set_params(p0);
      const lrp::Params& g = base.grads[static_cast<std::size_t>(l)];
      const double analytic = static_cast<double>((is_bias ? g.bias.data() : g.weight.data())[k]);
      worst = std::max(worst, std::abs(fd - analytic));
      scale = std::max(scale, std::abs(fd));
    }
    INFO("layer " << layer.name());
    CHECK(worst <= rel * scale);
  }
  // Two row blocks give the same gradients up to the order of the final sum.
  const lrp::StepGradients two = step(2);
  CHECK(two.loss == Approx(base.loss).epsilon(tol(1e-5, 1e-13)));
  for (std::size_t l = 0; l < base.grads.size(); ++l) {
    if (base.grads[l].weight.size() == 0) continue;
    const double s = std::max<double>(1e-6, base.grads[l].weight.cwiseAbs().maxCoeff());
    CHECK(static_cast<double>((two.grads[l].weight - base.grads[l].weight).cwiseAbs().maxCoeff()) <= tol(1e-5, 1e-13) * s);
  }
}

TEST_CASE("Training with batch norm and dropout on two threads is bit-identical for the same seed and learns", "[train_modes]") {
  const lrp::Dataset data = lrp::synthetic_blobs({2, 6, 6}, 240, 4, 5);
  lrp::TrainOptions o;
  o.epochs = 4;
  o.batch_size = 16;
  o.optimizer = lrp::OptimizerKind::kAdam;
  o.adam.learning_rate = 0.01;
  o.validation_fraction = 0.25;
  o.threads = 2;
  o.seed = 11;
  const auto run = [&](std::uint64_t seed) {
    lrp::Model m = build(kBnDropoutCnn, 1);
    lrp::TrainOptions oo = o;
    oo.seed = seed;
    const lrp::TrainReport r = lrp::train(m.network, data, oo);
    return std::make_pair(std::move(m), r);
  };
  auto [a, ra] = run(11);
  auto [b, rb] = run(11);
  auto [c, rc] = run(12);
  bool any_different = false;
  for (Index l = 0; l < a.network.size(); ++l) {
    CHECK(a.network.layer(l).params().weight == b.network.layer(l).params().weight);
    CHECK(a.network.layer(l).params().bias == b.network.layer(l).params().bias);
    any_different = any_different || a.network.layer(l).params().weight != c.network.layer(l).params().weight;
  }
  const auto& bn_a = dynamic_cast<const lrp::BatchNorm&>(a.network.layer(a.network.index_of("bn")));
  const auto& bn_b = dynamic_cast<const lrp::BatchNorm&>(b.network.layer(b.network.index_of("bn")));
  CHECK(bn_a.running_mean() == bn_b.running_mean());
  CHECK(bn_a.running_var() == bn_b.running_var());
  CHECK(any_different);
  CHECK(ra.epochs.back().validation_accuracy >= 0.9);
  CHECK(ra.epochs.back().train_loss < ra.epochs.front().train_loss);
}

TEST_CASE("A diverging run stops with an error naming the epoch and step", "[train_modes]") {
  lrp::Model m = build(kBnDropoutCnn, 2);
  lrp::Dataset data = lrp::synthetic_blobs({2, 6, 6}, 64, 4, 5);
  lrp::TrainOptions o;
  o.epochs = 3;
  o.batch_size = 16;
  o.sgd.learning_rate = 1e300;  // overflows float64 too
  REQUIRE_THROWS_WITH(lrp::train(m.network, data, o), Contains("training: epoch 1, step") && Contains("diverged"));
}
