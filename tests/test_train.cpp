// The training core: softmax cross-entropy against an independent formula and central finite
// differences; parameter_gradients of a whole MLP and CNN against finite differences of the loss;
// one SGD-momentum and one Adam step against hand-computed updates; schedules; end-to-end training
// on synthetic blobs; determinism; hyperparameter and label errors. Gradient clipping by global
// norm against a hand-computed clipped SGD step (a two-layer network whose backpropagation is
// written out here in long double). Training through time: the parameter gradients of stacked
// uni- and bidirectional LSTM → dense networks (parameter_gradients and training_gradients, the
// step lrp::train takes) against central differences of the loss, and Adam lowering the loss of an
// LSTM on marked addition.
//
// The loss is evaluated in double from Scalar logits, so its finite differences are limited by
// truncation (h² · f''' / 6) in float32 (h = 2⁻⁷: ~1e-5) and by rounding in float64 (h = 1e-6).
// Whole-network finite differences need the forward pass itself in float64 (float32 rounding of
// the activations divided by h swamps the comparison), so they run in the float64 build only.
#include "test_util.hpp"

#include "lrp/io/data.hpp"
#include "lrp/nn/layers.hpp"
#include "lrp/nn/model.hpp"
#include "lrp/io/sequence_tasks.hpp"
#include "lrp/train/train.hpp"

#include <catch2/catch.hpp>

#include <cmath>
#include <functional>
#include <limits>
#include <numbers>
#include <vector>

using namespace lrp_test;
using lrp::Params;

namespace {

std::vector<Index> labels_for(Index n, Index classes, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<Index> labels(static_cast<std::size_t>(n));
  for (auto& y : labels) y = static_cast<Index>(rng() % static_cast<std::uint64_t>(classes));
  return labels;
}

// Independent oracle: −log(exp(z_y) / Σ exp(z)) without any shift, for moderate logits.
double naive_loss(const Matrix& z, const std::vector<Index>& y) {
  double total = 0;
  for (Index n = 0; n < z.rows(); ++n) {
    double sum = 0;
    for (Index j = 0; j < z.cols(); ++j) sum += std::exp(static_cast<double>(z(n, j)));
    total += -std::log(std::exp(static_cast<double>(z(n, y[static_cast<std::size_t>(n)]))) / sum);
  }
  return total / static_cast<double>(z.rows());
}

double network_loss(const lrp::Network& net, const lrp::Tensor& x, const std::vector<Index>& y) {
  return lrp::SoftmaxCrossEntropy::loss(net.forward(x).logits(), y);
}

// Calls visit(layer, bias, k, fd) with the central difference fd (step h) of the mean cross-entropy
// with respect to every weight (bias = false) and bias entry k of every trainable layer; restores
// the weights.
template <typename Visit>
void for_each_central_difference(lrp::Network& net, const lrp::Tensor& x, const std::vector<Index>& y, double h,
                                 Visit visit) {
  for (Index l = 0; l < net.size(); ++l) {
    if (!net.layer(l).trainable()) continue;
    const Params original = net.layer(l).params();
    auto probe = [&](bool bias, Index k) {
      Params p = original;
      Scalar& v = bias ? p.bias(k) : p.weight.data()[k];
      const Scalar v0 = v;
      v = static_cast<Scalar>(v0 + h);
      net.layer(l).set_params(p);
      const double up = network_loss(net, x, y);
      v = static_cast<Scalar>(v0 - h);
      net.layer(l).set_params(p);
      const double down = network_loss(net, x, y);
      visit(l, bias, k, (up - down) / (2 * h));
    };
    for (Index k = 0; k < original.weight.size(); ++k) probe(false, k);
    for (Index k = 0; k < original.bias.size(); ++k) probe(true, k);
    net.layer(l).set_params(original);
  }
}

// Max |analytic − central difference| / max(1, |analytic|) over every parameter entry of every
// trainable layer, with step h (float64 build).
double max_param_gradient_error(lrp::Network& net, const lrp::Tensor& x, const std::vector<Index>& y, double h) {
  const lrp::ForwardPass pass = net.forward(x);
  const lrp::LossAndGradient lg = lrp::SoftmaxCrossEntropy::loss_and_gradient(pass.logits(), y);
  lrp::Workspace ws;
  const std::vector<Params> grads = lrp::parameter_gradients(net, pass, lg.gradient, ws);
  REQUIRE(static_cast<Index>(grads.size()) == net.size());
  double worst = 0;
  for (Index l = 0; l < net.size(); ++l) {
    const Params original = net.layer(l).params();
    const Params& g = grads[static_cast<std::size_t>(l)];
    REQUIRE(g.weight.rows() == original.weight.rows());
    REQUIRE(g.weight.cols() == original.weight.cols());
    REQUIRE(g.bias.size() == original.bias.size());
    if (!net.layer(l).trainable()) CHECK(g.weight.isZero(0));  // average pooling's implicit weights get no gradient
  }
  for_each_central_difference(net, x, y, h, [&](Index l, bool bias, Index k, double fd) {
    const Params& g = grads[static_cast<std::size_t>(l)];
    const double analytic = bias ? g.bias(k) : g.weight.data()[k];
    worst = std::max(worst, std::abs(analytic - fd) / std::max(1.0, std::abs(analytic)));
  });
  return worst;
}

lrp::Network blob_mlp(std::uint64_t seed) {
  lrp::Network net({1, 8, 8});
  net.add(std::make_unique<lrp::Flatten>());
  net.add(std::make_unique<lrp::Dense>(64, 32));
  net.add(lrp::make_relu());
  net.add(std::make_unique<lrp::Dense>(32, 10));
  lrp::randomize_parameters(net, seed);
  return net;
}

lrp::TrainOptions blob_options(std::uint64_t seed) {
  lrp::TrainOptions o;
  o.epochs = 5;
  o.batch_size = 32;
  o.sgd = {.learning_rate = 0.05, .momentum = 0.9, .weight_decay = 1e-4};
  o.validation_fraction = 0.2;
  o.seed = seed;
  return o;
}

bool same_weights(const lrp::Network& a, const lrp::Network& b) {
  for (Index l = 0; l < a.size(); ++l) {
    const Params& p = a.layer(l).params();
    const Params& q = b.layer(l).params();
    if (p.weight != q.weight || p.bias != q.bias) return false;
  }
  return true;
}

lrp::Network single_dense(const Matrix& w, const Vector& b) {
  lrp::Network net({w.cols()});
  net.add(std::make_unique<lrp::Dense>(w.cols(), w.rows()));
  net.layer(0).set_params({w, b});
  return net;
}

}  // namespace

TEST_CASE("Softmax cross-entropy matches the unshifted formula and stays finite for huge logits", "[train]") {
  const Matrix z = random_matrix(6, 5, 11, -3.0, 3.0);
  const std::vector<Index> y = labels_for(6, 5, 12);
  const double loss = lrp::SoftmaxCrossEntropy::loss(z, y);
  const double error = std::abs(loss - naive_loss(z, y));
  INFO("loss " << loss << ", |error| " << error);
  CHECK(error < tol(1e-6, 1e-13));
  CHECK(lrp::SoftmaxCrossEntropy::loss_and_gradient(z, y).loss == loss);

  // Shifting every logit of a row by the same constant leaves the loss unchanged, even at 1e4
  // where exp overflows without the max shift.
  Matrix shifted = z;
  shifted.array() += Scalar(10000);
  const double shifted_loss = lrp::SoftmaxCrossEntropy::loss(shifted, y);
  CHECK(std::isfinite(shifted_loss));
  CHECK(std::abs(shifted_loss - loss) < tol(5e-3, 1e-9));  // float32 loses the logits' low bits at 1e4
}

TEST_CASE("Softmax cross-entropy gradient is (softmax - onehot)/N and matches central differences", "[train]") {
  const Matrix z = random_matrix(4, 7, 21, -2.0, 2.0);
  const std::vector<Index> y = labels_for(4, 7, 22);
  const lrp::LossAndGradient lg = lrp::SoftmaxCrossEntropy::loss_and_gradient(z, y);
  double formula_error = 0, fd_error = 0;
  const double h = kFloat64 ? 1e-6 : 1.0 / 128;
  for (Index n = 0; n < z.rows(); ++n) {
    double sum = 0;
    for (Index j = 0; j < z.cols(); ++j) sum += std::exp(static_cast<double>(z(n, j)));
    for (Index j = 0; j < z.cols(); ++j) {
      const double expected = (std::exp(static_cast<double>(z(n, j))) / sum - (j == y[static_cast<std::size_t>(n)] ? 1 : 0)) /
                              static_cast<double>(z.rows());
      formula_error = std::max(formula_error, std::abs(lg.gradient(n, j) - expected));
      Matrix up = z, down = z;
      up(n, j) = static_cast<Scalar>(z(n, j) + h);
      down(n, j) = static_cast<Scalar>(z(n, j) - h);
      const double step = static_cast<double>(up(n, j)) - static_cast<double>(down(n, j));
      const double fd =
          (lrp::SoftmaxCrossEntropy::loss(up, y) - lrp::SoftmaxCrossEntropy::loss(down, y)) / step;
      fd_error = std::max(fd_error, std::abs(lg.gradient(n, j) - fd));
    }
    CHECK(std::abs(lg.gradient.row(n).sum()) < tol(1e-7, 1e-15));  // softmax sums to one
  }
  INFO("formula error " << formula_error << ", finite-difference error " << fd_error);
  CHECK(formula_error < tol(1e-7, 1e-15));
  CHECK(fd_error < tol(1e-5, 1e-9));
}

TEST_CASE("Parameter gradients of a whole MLP match central differences of the loss", "[train]") {
  if constexpr (!kFloat64) {
    SUCCEED("whole-network finite differences run in the float64 build");
    return;
  }
  lrp::Network net({6});
  net.add(std::make_unique<lrp::Dense>(6, 5));
  net.add(lrp::make_relu());
  net.add(std::make_unique<lrp::Dense>(5, 4, false));
  net.add(lrp::make_tanh());
  net.add(std::make_unique<lrp::Dense>(4, 3));
  lrp::randomize_parameters(net, 31);
  const lrp::Tensor x({6}, random_matrix(5, 6, 32));
  const std::vector<Index> y = labels_for(5, 3, 33);
  const double error = max_param_gradient_error(net, x, y, 1e-6);
  INFO("max relative error " << error);
  CHECK(error < 1e-7);
}

TEST_CASE("Parameter gradients of a whole CNN with both poolings match central differences of the loss",
          "[train]") {
  if constexpr (!kFloat64) {
    SUCCEED("whole-network finite differences run in the float64 build");
    return;
  }
  lrp::Network net({1, 8, 8});
  net.add(std::make_unique<lrp::Conv2d>(1, 2, lrp::Conv2dOptions{.kernel = {3, 3}, .padding = {1, 1}}));
  net.add(lrp::make_relu());
  net.add(std::make_unique<lrp::MaxPool2d>(lrp::Pool2dOptions{}));
  net.add(std::make_unique<lrp::Conv2d>(2, 3, lrp::Conv2dOptions{.kernel = {3, 3}, .padding = {1, 1}}));
  net.add(lrp::make_relu());
  net.add(std::make_unique<lrp::AvgPool2d>(lrp::Pool2dOptions{}));
  net.add(std::make_unique<lrp::Flatten>());
  net.add(std::make_unique<lrp::Dense>(12, 4));
  lrp::randomize_parameters(net, 41);
  // Continuous random inputs: max-pool ties and exact ReLU zeros have probability zero, and a step
  // of 1e-6 crosses a kink only if a pre-activation lies within ~1e-6 of zero.
  const lrp::Tensor x({1, 8, 8}, random_matrix(3, 64, 42));
  const std::vector<Index> y = labels_for(3, 4, 43);
  const double error = max_param_gradient_error(net, x, y, 1e-6);
  INFO("max relative error " << error);
  CHECK(error < 1e-7);
}

TEST_CASE("Two SGD steps with momentum and L2 weight decay match the hand-computed PyTorch updates", "[train]") {
  const Matrix w0 = random_matrix(2, 3, 51);
  const Vector b0 = random_vector(2, 52);
  lrp::Network net = single_dense(w0, b0);
  const double lr = 0.1, mu = 0.9, wd = 0.01;
  lrp::Sgd sgd({.learning_rate = lr, .momentum = mu, .weight_decay = wd});
  const Params g1{random_matrix(2, 3, 53), random_vector(2, 54)};
  const Params g2{random_matrix(2, 3, 55), random_vector(2, 56)};
  sgd.step(net, {g1}, lr);
  const Params p1 = net.layer(0).params();
  sgd.step(net, {g2}, lr);
  const Params& p2 = net.layer(0).params();
  double error = 0;
  for (Index k = 0; k < w0.size(); ++k) {
    const double w = w0.data()[k];
    const double buf1 = g1.weight.data()[k] + wd * w;
    const double w1 = w - lr * buf1;
    const double buf2 = mu * buf1 + g2.weight.data()[k] + wd * w1;
    const double w2 = w1 - lr * buf2;
    error = std::max({error, std::abs(p1.weight.data()[k] - w1), std::abs(p2.weight.data()[k] - w2)});
  }
  for (Index k = 0; k < b0.size(); ++k) {
    const double b = b0(k);
    const double buf1 = g1.bias(k) + wd * b;
    const double b1 = b - lr * buf1;
    const double b2 = b1 - lr * (mu * buf1 + g2.bias(k) + wd * b1);
    error = std::max({error, std::abs(p1.bias(k) - b1), std::abs(p2.bias(k) - b2)});
  }
  INFO("max |error| " << error);
  CHECK(error < tol(1e-6, 1e-15));
}

TEST_CASE("Two Adam steps with bias correction and L2 weight decay match the hand-computed PyTorch updates",
          "[train]") {
  const Matrix w0 = random_matrix(3, 2, 61);
  const Vector b0 = random_vector(3, 62);
  lrp::Network net = single_dense(w0, b0);
  const double lr = 0.01, b1 = 0.9, b2 = 0.999, eps = 1e-8, wd = 0.05;
  lrp::Adam adam({.learning_rate = lr, .weight_decay = wd});  // PyTorch's default betas and eps
  const Params g1{random_matrix(3, 2, 63), random_vector(3, 64)};
  const Params g2{random_matrix(3, 2, 65), random_vector(3, 66)};
  adam.step(net, {g1}, lr);
  const Params p1 = net.layer(0).params();
  adam.step(net, {g2}, lr);
  const Params& p2 = net.layer(0).params();
  auto check_entry = [&](double w, double ga, double gb, double got1, double got2) {
    const double d1 = ga + wd * w;
    // Step 1: m̂ = d1, v̂ = d1², so the step is lr · d1 / (|d1| + eps).
    const double w1 = w - lr * d1 / (std::abs(d1) + eps);
    const double m1 = (1 - b1) * d1, v1 = (1 - b2) * d1 * d1;
    const double d2 = gb + wd * w1;
    const double m2 = b1 * m1 + (1 - b1) * d2, v2 = b2 * v1 + (1 - b2) * d2 * d2;
    const double w2 = w1 - lr * (m2 / (1 - b1 * b1)) / (std::sqrt(v2 / (1 - b2 * b2)) + eps);
    return std::max(std::abs(got1 - w1), std::abs(got2 - w2));
  };
  double error = 0;
  for (Index k = 0; k < w0.size(); ++k)
    error = std::max(error, check_entry(w0.data()[k], g1.weight.data()[k], g2.weight.data()[k], p1.weight.data()[k],
                                        p2.weight.data()[k]));
  for (Index k = 0; k < b0.size(); ++k)
    error = std::max(error, check_entry(b0(k), g1.bias(k), g2.bias(k), p1.bias(k), p2.bias(k)));
  INFO("max |error| " << error);
  CHECK(error < tol(1e-6, 1e-15));
}

TEST_CASE("Optimizers leave average pooling's implicit weights alone", "[train]") {
  lrp::Network net({1, 4, 4});
  net.add(std::make_unique<lrp::AvgPool2d>(lrp::Pool2dOptions{}));
  net.add(std::make_unique<lrp::Flatten>());
  net.add(std::make_unique<lrp::Dense>(4, 2));
  lrp::randomize_parameters(net, 71);
  const Matrix pool_weight = net.layer(0).params().weight;
  std::vector<Params> grads;
  for (Index l = 0; l < net.size(); ++l) grads.push_back(lrp::zero_like(net.layer(l).params()));
  lrp::Sgd({.learning_rate = 0.1, .weight_decay = 0.5}).step(net, grads, 0.1);
  lrp::Adam({.weight_decay = 0.5}).step(net, grads, 0.1);
  CHECK(net.layer(0).params().weight == pool_weight);
}

TEST_CASE("Learning-rate schedules give the expected rate at given epochs", "[train]") {
  const lrp::LrSchedule constant{};
  CHECK(lrp::scheduled_learning_rate(constant, 0.1, 7, 10) == 0.1);
  const lrp::LrSchedule step{.kind = lrp::ScheduleKind::kStep, .step_size = 3, .gamma = 0.5};
  CHECK(lrp::scheduled_learning_rate(step, 0.1, 0, 10) == Approx(0.1));
  CHECK(lrp::scheduled_learning_rate(step, 0.1, 2, 10) == Approx(0.1));
  CHECK(lrp::scheduled_learning_rate(step, 0.1, 3, 10) == Approx(0.05));
  CHECK(lrp::scheduled_learning_rate(step, 0.1, 6, 10) == Approx(0.025));
  const lrp::LrSchedule cosine{.kind = lrp::ScheduleKind::kCosine};
  CHECK(lrp::scheduled_learning_rate(cosine, 0.2, 0, 10) == Approx(0.2));
  CHECK(lrp::scheduled_learning_rate(cosine, 0.2, 5, 10) == Approx(0.1));
  CHECK(lrp::scheduled_learning_rate(cosine, 0.2, 10, 10) == Approx(0.0).margin(1e-15));
  CHECK(lrp::scheduled_learning_rate(cosine, 0.2, 2, 10) == Approx(0.1 * (1 + std::cos(std::numbers::pi * 0.2))));
}

TEST_CASE("Training an MLP on synthetic blobs reaches high train and validation accuracy", "[train]") {
  const lrp::Dataset blobs = lrp::synthetic_blobs({1, 8, 8}, 1000, 10, 81);
  for (const lrp::OptimizerKind kind : {lrp::OptimizerKind::kSgd, lrp::OptimizerKind::kAdam}) {
    lrp::Network net = blob_mlp(82);
    lrp::TrainOptions o = blob_options(83);
    o.optimizer = kind;
    o.adam.learning_rate = 0.005;
    o.schedule = {.kind = lrp::ScheduleKind::kCosine};
    const lrp::TrainReport report = lrp::train(net, blobs, o);
    REQUIRE(report.epochs.size() == 5);
    CHECK(report.train_samples == 800);
    CHECK(report.validation_samples == 200);
    const lrp::EpochReport& last = report.epochs.back();
    INFO((kind == lrp::OptimizerKind::kSgd ? "SGD" : "Adam")
         << ": first epoch loss " << report.epochs.front().train_loss << ", last epoch loss " << last.train_loss
         << ", train accuracy " << last.train_accuracy << ", validation accuracy " << last.validation_accuracy);
    CHECK(last.train_loss < report.epochs.front().train_loss);
    CHECK(last.train_accuracy >= 0.95);
    CHECK(last.validation_accuracy >= 0.8);  // chance is 0.1
    CHECK(std::isfinite(last.validation_loss));
  }
}

TEST_CASE("The same seed gives bit-identical weights and a different seed different ones", "[train]") {
  const lrp::Dataset blobs = lrp::synthetic_blobs({1, 8, 8}, 200, 10, 91);
  lrp::TrainOptions o = blob_options(92);
  o.epochs = 2;
  lrp::Network a = blob_mlp(93), b = blob_mlp(93), c = blob_mlp(93);
  const lrp::TrainReport ra = lrp::train(a, blobs, o);
  const lrp::TrainReport rb = lrp::train(b, blobs, o);
  o.seed = 94;
  lrp::train(c, blobs, o);
  CHECK(same_weights(a, b));
  CHECK(ra.epochs.back().train_loss == rb.epochs.back().train_loss);
  CHECK_FALSE(same_weights(a, c));
}

TEST_CASE("Bad hyperparameters, datasets and labels are errors", "[train]") {
  using Catch::Matchers::Contains;
  CHECK_THROWS_WITH(lrp::Sgd({.learning_rate = 0}), Contains("learning_rate"));
  CHECK_THROWS_WITH(lrp::Sgd({.learning_rate = -1}), Contains("learning_rate"));
  CHECK_THROWS_WITH(lrp::Sgd({.momentum = 1.0}), Contains("momentum"));
  CHECK_THROWS_WITH(lrp::Sgd({.momentum = -0.1}), Contains("momentum"));
  CHECK_THROWS_WITH(lrp::Sgd({.weight_decay = -1}), Contains("weight_decay"));
  CHECK_THROWS_WITH(lrp::Adam({.beta1 = 1.0}), Contains("beta1"));
  CHECK_THROWS_WITH(lrp::Adam({.beta2 = -0.5}), Contains("beta2"));
  CHECK_THROWS_WITH(lrp::Adam({.eps = 0}), Contains("eps"));
  CHECK_THROWS_WITH(lrp::Adam({.learning_rate = std::nan("")}), Contains("learning_rate"));
  CHECK_THROWS_WITH(lrp::scheduled_learning_rate({.kind = lrp::ScheduleKind::kStep, .step_size = 0}, 0.1, 0, 1),
                    Contains("step_size"));
  CHECK_THROWS_WITH(lrp::scheduled_learning_rate({.kind = lrp::ScheduleKind::kStep, .gamma = 0}, 0.1, 0, 1),
                    Contains("gamma"));

  const Matrix z = random_matrix(2, 3, 101);
  CHECK_THROWS_WITH(lrp::SoftmaxCrossEntropy::loss(z, std::vector<Index>{0, 3}), Contains("label 3"));
  CHECK_THROWS_WITH(lrp::SoftmaxCrossEntropy::loss(z, std::vector<Index>{-1, 0}), Contains("label -1"));
  CHECK_THROWS_WITH(lrp::SoftmaxCrossEntropy::loss_and_gradient(z, std::vector<Index>{0}), Contains("1 labels"));

  const lrp::Dataset blobs = lrp::synthetic_blobs({1, 8, 8}, 20, 10, 102);
  lrp::Network net = blob_mlp(103);
  lrp::TrainOptions o;
  o.epochs = 0;
  CHECK_THROWS_WITH(lrp::train(net, blobs, o), Contains("epochs"));
  o = {};
  o.batch_size = 0;
  CHECK_THROWS_WITH(lrp::train(net, blobs, o), Contains("batch_size"));
  o = {};
  o.validation_fraction = 1.0;
  CHECK_THROWS_WITH(lrp::train(net, blobs, o), Contains("validation_fraction"));
  o = {};
  o.optimizer = lrp::OptimizerKind::kAdam;
  o.adam.beta1 = 1.5;
  CHECK_THROWS_WITH(lrp::train(net, blobs, o), Contains("beta1"));
  lrp::Dataset bad = blobs;
  bad.labels[3] = 10;
  CHECK_THROWS_WITH(lrp::train(net, bad, {}), Contains("label 10"));
  bad.labels.clear();
  CHECK_THROWS_WITH(lrp::train(net, bad, {}), Contains("one label per sample"));
  lrp::Sgd sgd({});
  CHECK_THROWS_WITH(sgd.step(net, {}, 0.1), Contains("one per layer"));
}

// ---------------------------------------------------------------- gradient clipping

TEST_CASE("clip_gradient_norm rescales every gradient by max_norm / (global norm + 1e-6), as PyTorch", "[train]") {
  // Global norm sqrt(3² + 4²) = 5 across two layers (a per-layer norm would be 3 and 4).
  const auto make = [] {
    std::vector<Params> g(2);
    g[0] = {Matrix::Zero(1, 2), Vector::Zero(1)};
    g[1] = {Matrix::Zero(1, 1), Vector::Zero(1)};
    g[0].weight(0, 0) = 3;
    g[1].bias(0) = -4;
    return g;
  };
  std::vector<Params> g = make();
  CHECK(lrp::clip_gradient_norm(g, 1.0) == 5.0);
  const double factor = 1.0 / (5.0 + 1e-6);
  CHECK(static_cast<double>(g[0].weight(0, 0)) == Approx(3 * factor).epsilon(tol(1e-7, 1e-15)));
  CHECK(static_cast<double>(g[1].bias(0)) == Approx(-4 * factor).epsilon(tol(1e-7, 1e-15)));
  CHECK(g[0].weight(0, 1) == 0);
  CHECK(g[0].bias(0) == 0);
  // Below the threshold nothing changes, bit for bit; at it, PyTorch's 1e-6 still scales a little.
  g = make();
  CHECK(lrp::clip_gradient_norm(g, 6.0) == 5.0);
  CHECK(g[0].weight(0, 0) == 3);
  CHECK(g[1].bias(0) == -4);
  g = make();
  (void)lrp::clip_gradient_norm(g, 5.0);
  CHECK(static_cast<double>(g[1].bias(0)) == Approx(-4 * 5 / (5 + 1e-6)).epsilon(tol(1e-7, 1e-15)));
  // Non-finite gradients: the norm says so and nothing is scaled.
  g = make();
  g[0].weight(0, 1) = std::numeric_limits<Scalar>::quiet_NaN();
  CHECK(std::isnan(lrp::clip_gradient_norm(g, 1.0)));
  CHECK(g[0].weight(0, 0) == 3);
  using Catch::Matchers::Contains;
  CHECK_THROWS_WITH(lrp::clip_gradient_norm(g, 0.0), Contains("max_norm 0 must be finite and > 0"));
  CHECK_THROWS_WITH(lrp::clip_gradient_norm(g, -1.0), Contains("max_norm -1"));
  lrp::TrainOptions o;
  o.clip_norm = -0.5;
  CHECK_THROWS_WITH(lrp::validate(o), Contains("training: clip_norm -0.5 must be finite and ≥ 0"));
  o.clip_norm = std::numeric_limits<double>::infinity();
  CHECK_THROWS_WITH(lrp::validate(o), Contains("clip_norm"));
}

namespace {

// The oracle of one full-batch SGD step on dense(3→4) → tanh → dense(4→2) with mean softmax
// cross-entropy, backpropagation written out by hand in long double, the global gradient norm
// clipped to clip (0: off) with PyTorch's formula. Returns the parameters after the step and, in
// norm, the unclipped global gradient norm.
struct TwoLayer {
  std::vector<std::vector<long double>> w1, w2;
  std::vector<long double> b1, b2;
};

TwoLayer params_of(const lrp::Network& net) {
  TwoLayer p;
  const Params& a = net.layer(0).params();
  const Params& b = net.layer(2).params();
  p.w1.assign(4, std::vector<long double>(3));
  p.w2.assign(2, std::vector<long double>(4));
  for (int i = 0; i < 4; ++i) {
    for (int j = 0; j < 3; ++j) p.w1[i][j] = a.weight(i, j);
    p.b1.push_back(a.bias(i));
  }
  for (int i = 0; i < 2; ++i) {
    for (int j = 0; j < 4; ++j) p.w2[i][j] = b.weight(i, j);
    p.b2.push_back(b.bias(i));
  }
  return p;
}

TwoLayer clipped_sgd_step(const TwoLayer& p, const Matrix& x, const std::vector<Index>& y, long double lr,
                          long double clip, long double& norm) {
  TwoLayer g = p;  // the gradient, same shapes
  for (auto& row : g.w1) std::fill(row.begin(), row.end(), 0.0L);
  for (auto& row : g.w2) std::fill(row.begin(), row.end(), 0.0L);
  std::fill(g.b1.begin(), g.b1.end(), 0.0L);
  std::fill(g.b2.begin(), g.b2.end(), 0.0L);
  const long double n = static_cast<long double>(x.rows());
  for (Index s = 0; s < x.rows(); ++s) {
    long double h[4], z[2];
    for (int i = 0; i < 4; ++i) {
      long double a = p.b1[i];
      for (int j = 0; j < 3; ++j) a += p.w1[i][j] * x(s, j);
      h[i] = std::tanh(a);
    }
    for (int k = 0; k < 2; ++k) {
      z[k] = p.b2[k];
      for (int i = 0; i < 4; ++i) z[k] += p.w2[k][i] * h[i];
    }
    const long double m = std::max(z[0], z[1]);
    const long double e0 = std::exp(z[0] - m), e1 = std::exp(z[1] - m);
    long double gz[2] = {e0 / (e0 + e1), e1 / (e0 + e1)};
    gz[y[static_cast<std::size_t>(s)]] -= 1;
    for (int k = 0; k < 2; ++k) {
      gz[k] /= n;
      g.b2[k] += gz[k];
      for (int i = 0; i < 4; ++i) g.w2[k][i] += gz[k] * h[i];
    }
    for (int i = 0; i < 4; ++i) {
      const long double ga = (p.w2[0][i] * gz[0] + p.w2[1][i] * gz[1]) * (1 - h[i] * h[i]);
      g.b1[i] += ga;
      for (int j = 0; j < 3; ++j) g.w1[i][j] += ga * x(s, j);
    }
  }
  long double squares = 0;
  for (const auto& row : g.w1) for (long double v : row) squares += v * v;
  for (const auto& row : g.w2) for (long double v : row) squares += v * v;
  for (long double v : g.b1) squares += v * v;
  for (long double v : g.b2) squares += v * v;
  norm = std::sqrt(squares);
  const long double factor = clip > 0 ? std::min(1.0L, clip / (norm + 1e-6L)) : 1.0L;
  TwoLayer out = p;
  for (int i = 0; i < 4; ++i) {
    for (int j = 0; j < 3; ++j) out.w1[i][j] -= lr * factor * g.w1[i][j];
    out.b1[i] -= lr * factor * g.b1[i];
  }
  for (int k = 0; k < 2; ++k) {
    for (int i = 0; i < 4; ++i) out.w2[k][i] -= lr * factor * g.w2[k][i];
    out.b2[k] -= lr * factor * g.b2[k];
  }
  return out;
}

double max_difference(const TwoLayer& expected, const lrp::Network& net) {
  const TwoLayer got = params_of(net);
  double worst = 0;
  for (int i = 0; i < 4; ++i) {
    for (int j = 0; j < 3; ++j) worst = std::max(worst, static_cast<double>(std::abs(got.w1[i][j] - expected.w1[i][j])));
    worst = std::max(worst, static_cast<double>(std::abs(got.b1[i] - expected.b1[i])));
  }
  for (int k = 0; k < 2; ++k) {
    for (int i = 0; i < 4; ++i) worst = std::max(worst, static_cast<double>(std::abs(got.w2[k][i] - expected.w2[k][i])));
    worst = std::max(worst, static_cast<double>(std::abs(got.b2[k] - expected.b2[k])));
  }
  return worst;
}

}  // namespace

TEST_CASE("One SGD step of lrp::train with clip_norm equals the hand-computed clipped step", "[train]") {
  const auto make_network = [] {
    lrp::Network net({3});
    net.add(std::make_unique<lrp::Dense>(3, 4));
    net.add(lrp::make_tanh());
    net.add(std::make_unique<lrp::Dense>(4, 2));
    lrp::randomize_parameters(net, 71);
    return net;
  };
  const lrp::Network start = make_network();
  lrp::Dataset data;
  data.inputs = lrp::Tensor({3}, random_matrix(2, 3, 72, -2.0, 2.0));
  data.labels = {1, 0};
  data.indices = {0, 1};
  data.source = "two samples";
  const double lr = 0.5;
  long double norm = 0;
  const TwoLayer before = params_of(start);
  const TwoLayer plain = clipped_sgd_step(before, data.inputs.data, data.labels, lr, 0, norm);
  INFO("global gradient norm " << static_cast<double>(norm));
  REQUIRE(norm > 0.05);  // a step worth clipping

  lrp::TrainOptions o;
  o.epochs = 1;
  o.batch_size = 2;  // one full-batch step
  o.sgd = {.learning_rate = lr};
  const auto step_with = [&](double clip) {
    lrp::Network net = make_network();
    lrp::TrainOptions with = o;
    with.clip_norm = clip;
    lrp::train(net, data, with);
    return net;
  };
  const double tolerance = tol(2e-6, 1e-13);
  for (const double share : {0.1, 0.5, 0.9}) {
    const double clip = share * static_cast<double>(norm);
    INFO("clip_norm " << clip);
    long double unused = 0;
    const TwoLayer clipped = clipped_sgd_step(before, data.inputs.data, data.labels, lr, clip, unused);
    const lrp::Network net = step_with(clip);
    CHECK(max_difference(clipped, net) <= tolerance);
    // The clipped step is shorter than the plain one: the oracles differ, so the check above can fail.
    CHECK(max_difference(plain, net) > 100 * tolerance);
  }
  // A threshold above the norm, and 0 (off), give the plain step.
  CHECK(max_difference(plain, step_with(2 * static_cast<double>(norm))) <= tolerance);
  CHECK(max_difference(plain, step_with(0)) <= tolerance);
}

// ---------------------------------------------------------------- training through time (LSTM)

namespace {

// [T, D] → lstm(H, layers, directions) → dense(classes), LSTM weights U(−0.8, 0.8) (larger than
// PyTorch's ±1/√H so that the gates are far from linear), dense He-normal.
lrp::Network lstm_network(Index steps, Index d, Index hidden, Index layers, bool bidirectional, Index classes,
                          std::uint64_t seed) {
  lrp::Network net({steps, d});
  net.add(std::make_unique<lrp::Lstm>(d, hidden, layers, bidirectional), "rnn");
  net.add(std::make_unique<lrp::Dense>((bidirectional ? 2 : 1) * hidden, classes), "fc");
  lrp::initialize_parameters(net, lrp::InitScheme::kHeNormal, seed);
  Params p = net.layer(0).params();
  p.weight = random_matrix(p.weight.rows(), p.weight.cols(), seed + 1, -0.8, 0.8);
  p.bias = random_vector(p.bias.size(), seed + 2, -0.8, 0.8);
  net.layer(0).set_params(p);
  return net;
}

// Central differences of the mean cross-entropy for every parameter entry of every layer.
std::vector<Params> finite_difference_gradients(lrp::Network& net, const lrp::Tensor& x, const std::vector<Index>& y,
                                                double h) {
  std::vector<Params> fd;
  for (Index l = 0; l < net.size(); ++l) fd.push_back(lrp::zero_like(net.layer(l).params()));
  for_each_central_difference(net, x, y, h, [&](Index l, bool bias, Index k, double d) {
    Params& g = fd[static_cast<std::size_t>(l)];
    (bias ? g.bias(k) : g.weight.data()[k]) = static_cast<Scalar>(d);
  });
  return fd;
}

// Max |a − b| / max(1, |b|) over every entry.
double max_gradient_error(const std::vector<Params>& analytic, const std::vector<Params>& reference) {
  REQUIRE(analytic.size() == reference.size());
  double worst = 0;
  for (std::size_t l = 0; l < analytic.size(); ++l) {
    REQUIRE(analytic[l].weight.size() == reference[l].weight.size());
    REQUIRE(analytic[l].bias.size() == reference[l].bias.size());
    const auto entry = [&](Scalar a, Scalar b) {
      worst = std::max(worst, std::abs(static_cast<double>(a) - static_cast<double>(b)) /
                                  std::max(1.0, std::abs(static_cast<double>(b))));
    };
    for (Index k = 0; k < analytic[l].weight.size(); ++k)
      entry(analytic[l].weight.data()[k], reference[l].weight.data()[k]);
    for (Index k = 0; k < analytic[l].bias.size(); ++k) entry(analytic[l].bias(k), reference[l].bias(k));
  }
  return worst;
}

}  // namespace

// Backpropagation through time in float64 against h = 1e-6 (measured errors are listed in the INFO);
// float32 computes the loss from float32 forward passes, whose rounding divided by 2h limits the
// differences, so it uses h = 2⁻⁶ and a looser tolerance (10× the measured error); a wrong gate
// derivative or a missing recurrent term changes gradients by far more than either tolerance.
TEST_CASE("Training gradients of stacked uni- and bidirectional LSTM → dense networks match central differences",
          "[train][lstm]") {
  struct Case {
    Index steps, d, hidden, layers;
    bool bidirectional;
  };
  const std::vector<Case> cases{{6, 3, 4, 2, false}, {6, 3, 4, 2, true}, {1, 2, 3, 2, true}, {9, 2, 5, 1, false}};
  const double h = kFloat64 ? 1e-6 : std::ldexp(1.0, -6);
  const double tolerance = tol(5e-4, 1e-8);  // measured: float32 ≤ 4.3e-5, float64 ≤ 3.3e-10
  std::uint64_t seed = 1200;
  for (const Case& c : cases) {
    INFO("T " << c.steps << ", D " << c.d << ", H " << c.hidden << ", " << c.layers << " layer(s), "
              << (c.bidirectional ? "bidirectional" : "forward only"));
    lrp::Network net = lstm_network(c.steps, c.d, c.hidden, c.layers, c.bidirectional, 3, seed += 10);
    const lrp::Tensor x({c.steps, c.d}, random_matrix(5, c.steps * c.d, seed + 3, -1.5, 1.5));
    const std::vector<Index> y = labels_for(5, 3, seed + 4);
    const std::vector<Params> fd = finite_difference_gradients(net, x, y, h);

    const lrp::ForwardPass pass = net.forward(x);
    const lrp::LossAndGradient lg = lrp::SoftmaxCrossEntropy::loss_and_gradient(pass.logits(), y);
    lrp::Workspace ws;
    const std::vector<Params> backprop = lrp::parameter_gradients(net, pass, lg.gradient, ws);
    std::mt19937_64 rng(1);
    const lrp::StepGradients step = lrp::training_gradients(net, x, y, rng, 2);  // what lrp::train uses
    const double e_backprop = max_gradient_error(backprop, fd), e_step = max_gradient_error(step.grads, fd);
    INFO("max error: parameter_gradients " << e_backprop << ", training_gradients (2 threads) " << e_step);
    CHECK(e_backprop <= tolerance);
    CHECK(e_step <= tolerance);
    CHECK(step.loss == Approx(lg.loss).epsilon(tol(1e-6, 1e-14)));
    // The oracle is not trivially satisfied: the LSTM gradient is far from zero.
    CHECK(fd[0].weight.cwiseAbs().maxCoeff() > 1e-2);
  }
}

TEST_CASE("Adam lowers the training loss of an LSTM classifier on marked addition", "[train][lstm]") {
  const lrp::Dataset data = lrp::marked_addition(512, 10, 1301);
  lrp::Network net({10, 2});
  net.add(std::make_unique<lrp::Lstm>(2, 16), "rnn");
  net.add(std::make_unique<lrp::Dense>(16, 2), "fc");
  lrp::initialize_parameters(net, lrp::InitScheme::kHeNormal, 1302);
  const lrp::Evaluation before = lrp::evaluate(net, data.inputs, data.labels);
  lrp::TrainOptions o;
  o.epochs = 20;
  o.batch_size = 32;
  o.optimizer = lrp::OptimizerKind::kAdam;
  o.adam.learning_rate = 0.01;
  o.clip_norm = 1.0;
  o.seed = 1303;
  o.threads = 2;
  const lrp::TrainReport report = lrp::train(net, data, o);
  const lrp::Evaluation after = lrp::evaluate(net, data.inputs, data.labels);
  INFO("loss " << before.loss << " -> " << after.loss << ", accuracy " << before.accuracy << " -> " << after.accuracy
               << "; epoch losses " << report.epochs.front().train_loss << " ... " << report.epochs.back().train_loss);
  CHECK(report.epochs.back().train_loss < 0.6 * report.epochs.front().train_loss);
  CHECK(after.loss < 0.6 * before.loss);
  CHECK(after.accuracy > 0.8);  // chance: 0.5
}

