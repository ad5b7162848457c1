// Pixel-flipping metrics (docs/metrics.md, Pixel flipping) on models whose answers are known without running the
// code under test:
//  - an additive model f(x) = w·x + b with its exact relevance w ⊙ x and the constant fill 0:
//    removing a region removes exactly its contribution, so the MoRF / LeRF / random curves are
//    f(x) minus prefix sums of the region scores in sorted (or shuffled) order, and AOPC, ABPC,
//    AUC follow in closed form from the sorted contributions (long double, std::sort);
//  - models that ignore their input: every curve is constant, so every AOPC-type score is exactly 0
//    and auc_morf = L·b, whatever the relevance, fill and seed;
//  - random_order_curves + the pixel_flipping overload that takes them: the same numbers as a
//    plain pixel_flipping call (bit for bit when every pass is a single row), and an lrp::Error for
//    curves computed for another call.
#include "test_util.hpp"

#include "lrp/eval/metrics.hpp"
#include "lrp/core/random.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <functional>
#include <numeric>
#include <random>
#include <string>
#include <vector>

using namespace lrp_test;

namespace {

using LongVector = std::vector<long double>;
using Member = std::function<Index(Index)>;  // feature → region (literal formula)

// (flatten,) dense(features → classes) with the given weight and bias.
lrp::Network dense_model(const Shape& shape, const Matrix& weight, const Vector& bias) {
  lrp::Network net(shape);
  if (shape.size() == 3) net.add(std::make_unique<lrp::Flatten>(), "flatten");
  auto& fc = net.add(std::make_unique<lrp::Dense>(lrp::numel(shape), weight.rows()), "fc");
  fc.set_params({weight, bias});
  return net;
}

// Region of feature f, literally: chunks of `patch` features (1-d) or the patch grid of [C, H, W].
Member member_of(const Shape& shape, Index patch) {
  if (shape.size() == 1) return [patch](Index f) { return f / patch; };
  const Index height = shape[1], width = shape[2];
  const Index columns = (width + patch - 1) / patch;
  return [=](Index f) {
    const Index y = (f % (height * width)) / width, x = f % width;
    return (y / patch) * columns + x / patch;
  };
}

// The additive model's answer for one sample: f(x) = b_c + Σ_f w_cf x_f and each region's
// contribution Σ_{f ∈ region} w_cf x_f, in long double.
struct Additive {
  long double f0 = 0;
  LongVector score;  // per region
  long double scale = 1;  // max(1, |b_c| + Σ_f |w_cf x_f|): the size of every value involved
};

Additive additive_answer(const Matrix& w, const Vector& b, const Matrix& x, Index row, Index c, Index regions,
                         const Member& member) {
  Additive a;
  a.score.assign(static_cast<size_t>(regions), 0.0L);
  a.f0 = b[c];
  long double total = std::abs(static_cast<long double>(b[c]));
  for (Index f = 0; f < x.cols(); ++f) {
    const long double t = static_cast<long double>(w(c, f)) * static_cast<long double>(x(row, f));
    a.f0 += t;
    a.score[static_cast<size_t>(member(f))] += t;
    total += std::abs(t);
  }
  a.scale = std::max(1.0L, total);
  return a;
}

// Regions by score, descending (morf) or ascending (lerf); the premise of these tests is that no
// two scores are close, which is required here so that no tie rule is involved.
std::vector<Index> sorted_regions(const LongVector& score, bool descending, long double min_gap) {
  std::vector<Index> order(score.size());
  std::iota(order.begin(), order.end(), Index(0));
  std::sort(order.begin(), order.end(), [&](Index a, Index b) {
    return descending ? score[static_cast<size_t>(a)] > score[static_cast<size_t>(b)]
                      : score[static_cast<size_t>(a)] < score[static_cast<size_t>(b)];
  });
  for (size_t k = 1; k < order.size(); ++k)
    REQUIRE(std::abs(score[static_cast<size_t>(order[k])] - score[static_cast<size_t>(order[k - 1])]) > min_gap);
  return order;
}

// f(x^(k)) = f(x) − Σ_{j<k} score[order[j]], k = 0..L.
LongVector additive_curve(const Additive& a, const std::vector<Index>& order, Index steps) {
  LongVector curve{a.f0};
  long double removed = 0;
  for (Index k = 0; k < steps; ++k) {
    removed += a.score[static_cast<size_t>(order[static_cast<size_t>(k)])];
    curve.push_back(a.f0 - removed);
  }
  return curve;
}

// AOPC in closed form: 1/(L+1) Σ_{k=1}^{L} Σ_{j<k} s_j = 1/(L+1) Σ_{j<L} (L − j) s_j, with s_j the
// j-th contribution of the order (no curve involved).
long double additive_aopc(const Additive& a, const std::vector<Index>& order, Index steps) {
  long double sum = 0;
  for (Index j = 0; j < steps; ++j)
    sum += static_cast<long double>(steps - j) * a.score[static_cast<size_t>(order[static_cast<size_t>(j)])];
  return sum / static_cast<long double>(steps + 1);
}

// Trapezoid area with unit spacing of a literal curve.
long double trapezoid(const LongVector& curve) {
  long double sum = 0;
  for (size_t k = 0; k + 1 < curve.size(); ++k) sum += (curve[k] + curve[k + 1]) / 2;
  return sum;
}

// Max |curve(row, k) − want[k]| / scale.
double curve_error(const Matrix& curve, Index row, const LongVector& want, long double scale) {
  REQUIRE(curve.cols() == static_cast<Index>(want.size()));
  long double worst = 0;
  for (size_t k = 0; k < want.size(); ++k)
    worst = std::max(worst, std::abs(static_cast<long double>(curve(row, static_cast<Index>(k))) - want[k]));
  return static_cast<double>(worst / scale);
}

double score_error(double got, long double want, long double scale) {
  return static_cast<double>(std::abs(static_cast<long double>(got) - want) / scale);
}

// The exact relevance of the additive model for target c: R_f = w_cf x_f.
Matrix additive_relevance(const Matrix& w, const Matrix& x, const std::vector<Index>& targets) {
  Matrix r(x.rows(), x.cols());
  for (Index i = 0; i < x.rows(); ++i) r.row(i) = w.row(targets[static_cast<size_t>(i)]).cwiseProduct(x.row(i));
  return r;
}

lrp::FillValues constant_fill(double value) {
  lrp::FillValues fill;
  fill.constant = {value};
  return fill;
}

// Values for every fill kind (so that changing options.fill alone is a valid call).
lrp::FillValues every_fill(Index features) {
  lrp::FillValues fill;
  fill.low = {-0.5};
  fill.high = {1.5};
  fill.constant = {0.25};
  fill.mean = random_matrix(1, features, 977, 0.0, 1.0);
  return fill;
}

// Checks every curve and score of a pixel_flipping result of the additive model against the
// closed forms, for every sample.
void check_additive(const lrp::PixelFlippingResult& r, const Matrix& w, const Vector& b, const Matrix& x,
                    const std::vector<Index>& targets, const std::vector<Index>& ids, const Member& member,
                    Index regions, const lrp::PixelFlippingOptions& options) {
  const Index steps = options.steps == 0 ? regions : options.steps;
  REQUIRE(r.regions == regions);
  REQUIRE(r.steps == steps);
  REQUIRE(r.random.size() == static_cast<size_t>(options.random_repeats));
  const double eps = tol(1e-5, 1e-12);
  for (Index i = 0; i < x.rows(); ++i) {
    INFO("sample " << i << ", steps " << steps);
    const size_t si = static_cast<size_t>(i);
    const Additive a = additive_answer(w, b, x, i, targets[si], regions, member);
    const std::vector<Index> morf = sorted_regions(a.score, true, 1e-5L * a.scale);
    const std::vector<Index> lerf = sorted_regions(a.score, false, 1e-5L * a.scale);
    for (Index k = 0; k < steps; ++k) {
      CHECK(r.morf_order(i, k) == morf[static_cast<size_t>(k)]);
      CHECK(r.lerf_order(i, k) == lerf[static_cast<size_t>(k)]);
    }
    const LongVector morf_curve = additive_curve(a, morf, steps), lerf_curve = additive_curve(a, lerf, steps);
    CHECK(curve_error(r.morf, i, morf_curve, a.scale) <= eps);
    CHECK(curve_error(r.lerf, i, lerf_curve, a.scale) <= eps);

    const long double aopc_morf = additive_aopc(a, morf, steps), aopc_lerf = additive_aopc(a, lerf, steps);
    CHECK(score_error(r.scores.aopc_morf[i], aopc_morf, a.scale) <= eps);
    CHECK(score_error(r.scores.aopc_lerf[i], aopc_lerf, a.scale) <= eps);
    CHECK(score_error(r.scores.abpc[i], aopc_morf - aopc_lerf, a.scale) <= eps);
    CHECK(score_error(r.scores.auc_morf[i], trapezoid(morf_curve), a.scale) <= eps * static_cast<double>(steps));
    // With the exact relevance of an additive model, MoRF removes the most evidence at every step
    // and LeRF the least: MoRF AOPC is the largest possible, LeRF's the smallest.
    CHECK(aopc_morf > aopc_lerf);

    // Random orders: the recorded seed is the sample's stream seed and its Fisher–Yates
    // permutation gives the curve.
    long double random_aopc = 0;
    for (size_t q = 0; q < r.random.size(); ++q) {
      INFO("random order " << q);
      const std::uint64_t seed = lrp::sample_seed(options.seed, ids[si], lrp::kPixelFlippingRandomOrderStream + q);
      CHECK(r.random_seeds[q][si] == seed);
      std::vector<Index> order(static_cast<size_t>(regions));
      std::iota(order.begin(), order.end(), Index(0));
      std::mt19937_64 rng(seed);
      lrp::shuffle(order, rng);
      CHECK(curve_error(r.random[q], i, additive_curve(a, order, steps), a.scale) <= eps);
      const long double aopc = additive_aopc(a, order, steps);
      CHECK(aopc <= aopc_morf);
      CHECK(aopc >= aopc_lerf);
      random_aopc += aopc / static_cast<long double>(r.random.size());
    }
    if (r.random.empty())
      CHECK(std::isnan(r.scores.aopc_morf_vs_random[i]));
    else
      CHECK(score_error(r.scores.aopc_morf_vs_random[i], aopc_morf - random_aopc, a.scale) <= eps);
  }
}

// Every entry of `curve` equals `value`, bit for bit.
template <typename Derived>
bool constant_curve(const Eigen::DenseBase<Derived>& curve, Scalar value) {
  return (curve.derived().array() == value).all();
}

// Every curve, order, seed and score of two results, bit for bit.
void check_identical(const lrp::PixelFlippingResult& a, const lrp::PixelFlippingResult& b) {
  CHECK(a.regions == b.regions);
  CHECK(a.steps == b.steps);
  CHECK(bit_equal(a.morf, b.morf));
  CHECK(bit_equal(a.lerf, b.lerf));
  CHECK(bit_equal(a.morf_probability, b.morf_probability));
  CHECK(bit_equal(a.lerf_probability, b.lerf_probability));
  REQUIRE(a.random.size() == b.random.size());
  REQUIRE(a.random_probability.size() == b.random_probability.size());
  for (size_t q = 0; q < a.random.size(); ++q) {
    CHECK(bit_equal(a.random[q], b.random[q]));
    CHECK(bit_equal(a.random_probability[q], b.random_probability[q]));
  }
  CHECK(a.random_seeds == b.random_seeds);
  CHECK((a.morf_order.array() == b.morf_order.array()).all());
  CHECK((a.lerf_order.array() == b.lerf_order.array()).all());
  CHECK((a.scores.aopc_morf.array() == b.scores.aopc_morf.array()).all());
  CHECK((a.scores.aopc_lerf.array() == b.scores.aopc_lerf.array()).all());
  CHECK((a.scores.abpc.array() == b.scores.abpc.array()).all());
  CHECK((a.scores.auc_morf.array() == b.scores.auc_morf.array()).all());
  CHECK((a.scores.aopc_morf_vs_random.array() == b.scores.aopc_morf_vs_random.array()).all());
}

// Same, up to `eps` relative (orders and seeds exactly).
void check_close(const lrp::PixelFlippingResult& a, const lrp::PixelFlippingResult& b, double eps) {
  CHECK(a.regions == b.regions);
  CHECK(a.steps == b.steps);
  CHECK(relative_error(a.morf, b.morf) <= eps);
  CHECK(relative_error(a.lerf, b.lerf) <= eps);
  CHECK(relative_error(a.morf_probability, b.morf_probability) <= eps);
  CHECK(relative_error(a.lerf_probability, b.lerf_probability) <= eps);
  REQUIRE(a.random.size() == b.random.size());
  for (size_t q = 0; q < a.random.size(); ++q) {
    CHECK(relative_error(a.random[q], b.random[q]) <= eps);
    CHECK(relative_error(a.random_probability[q], b.random_probability[q]) <= eps);
  }
  CHECK(a.random_seeds == b.random_seeds);
  CHECK((a.morf_order.array() == b.morf_order.array()).all());
  CHECK((a.lerf_order.array() == b.lerf_order.array()).all());
  const auto close = [&](const Eigen::VectorXd& u, const Eigen::VectorXd& v) {
    REQUIRE(u.size() == v.size());
    const double scale = std::max(1.0, v.cwiseAbs().maxCoeff());
    return (u - v).cwiseAbs().maxCoeff() <= eps * scale;
  };
  CHECK(close(a.scores.aopc_morf, b.scores.aopc_morf));
  CHECK(close(a.scores.aopc_lerf, b.scores.aopc_lerf));
  CHECK(close(a.scores.abpc, b.scores.abpc));
  CHECK(close(a.scores.auc_morf, b.scores.auc_morf));
  CHECK(close(a.scores.aopc_morf_vs_random, b.scores.aopc_morf_vs_random));
}

}  // namespace

// ---------------------------------------------------------------- (a) additive model, exact relevance

TEST_CASE("known answers: MoRF/LeRF curves and AOPC of a linear model with relevance w*x, pixel by pixel",
          "[metrics]") {
  // 8 features, patch 1, fill 0: step k removes the k-th contribution w_cf x_f of the order.
  // Contributions of sample 0, target 0: 1.5, -1, 0.75, -4, 1, 1.125, -0.625, 0.4375 (distinct).
  const Shape shape{8};
  Matrix w(2, 8);
  w << 3, -1, 0.5, -2, 4, 1.5, -0.5, 0.25,  //
      -1, 2, 1, 0.5, -3, 0.25, 2.5, -1.5;
  Vector b(2);
  b << 0.5, -1.25;
  Matrix x(2, 8);
  x << 0.5, 1.0, 1.5, 2.0, 0.25, 0.75, 1.25, 1.75,  //
      1.0, 0.5, 0.25, 1.5, 2.0, 0.75, 1.25, 0.125;
  const std::vector<Index> targets{0, 1}, ids{4, 9};
  const lrp::Network net = dense_model(shape, w, b);
  const Matrix relevance = additive_relevance(w, x, targets);

  // The oracle on the first sample agrees with a hand computation: f(x) = 0.5 − 0.8125, and MoRF
  // removes 1.5, 1.125, 1, 0.75, 0.4375, −0.625, −1, −4 (features 0, 5, 4, 2, 7, 6, 1, 3).
  const Additive a0 = additive_answer(w, b, x, 0, 0, 8, member_of(shape, 1));
  CHECK(a0.f0 == -0.3125L);
  CHECK(sorted_regions(a0.score, true, 0.1L) == std::vector<Index>{0, 5, 4, 2, 7, 6, 1, 3});
  CHECK(sorted_regions(a0.score, false, 0.1L) == std::vector<Index>{3, 1, 6, 7, 2, 4, 5, 0});

  lrp::PixelFlippingOptions options;
  options.patch = 1;
  options.fill = lrp::PerturbationFill::kConstant;
  options.random_repeats = 4;
  options.seed = 17;
  for (const Index steps : {Index(0), Index(3)}) {
    options.steps = steps;
    const auto r = lrp::pixel_flipping(net, lrp::Tensor(shape, x), targets, lrp::Tensor(shape, relevance), ids,
                                       constant_fill(0.0), options);
    check_additive(r, w, b, x, targets, ids, member_of(shape, 1), 8, options);
    if (steps != 0) continue;
    // Sample 0 with pencil and paper (L = 8). MoRF prefix sums S_k: 1.5, 2.625, 3.625, 4.375,
    // 4.8125, 4.1875, 3.1875, −0.8125 (sum 23.5); LeRF: −4, −5, −5.625, −5.1875, −4.4375, −3.4375,
    // −2.3125, −0.8125 (sum −30.8125). AOPC = Σ S_k / 9; AUC = 8 f(x) − Σ_{k<8} (S_k + S_{k+1}) / 2
    // = −2.5 − (24.3125 + 23.5) / 2.
    const double eps = tol(1e-5, 1e-12);
    CHECK(r.morf(0, 8) == Approx(-0.3125 + 0.8125).margin(eps));
    CHECK(r.morf(0, 5) == Approx(-0.3125 - 4.8125).margin(eps * 5));
    CHECK(r.lerf(0, 3) == Approx(-0.3125 + 5.625).margin(eps * 5));
    CHECK(r.scores.aopc_morf[0] == Approx(23.5 / 9).margin(eps * 10));
    CHECK(r.scores.aopc_lerf[0] == Approx(-30.8125 / 9).margin(eps * 10));
    CHECK(r.scores.abpc[0] == Approx(54.3125 / 9).margin(eps * 10));
    CHECK(r.scores.auc_morf[0] == Approx(-2.5 - 47.8125 / 2).margin(eps * 50));
  }
  // Without random orders the comparison with random is NaN, the rest unchanged.
  options.steps = 0;
  options.random_repeats = 0;
  const auto r = lrp::pixel_flipping(net, lrp::Tensor(shape, x), targets, lrp::Tensor(shape, relevance), ids,
                                     constant_fill(0.0), options);
  check_additive(r, w, b, x, targets, ids, member_of(shape, 1), 8, options);
}

TEST_CASE("known answers: linear model on [1, H, W] images, patches of 1 and of several pixels", "[metrics]") {
  // Regions of several pixels: a region's score is the sum of its contributions, and removing it
  // removes that sum. 1×6×7 with patch 1 (42 regions), 2 (4×3 = 12, last row/column smaller) and 3
  // (2×3 = 6). Premise, checked: no two region scores of a sample are within 1e-5 of the scale
  // (far above the float32 rounding of the scores, so the order is not a matter of rounding).
  const Shape shape{1, 6, 7};
  const Index features = 42, classes = 3, n = 3;
  const Matrix w = random_matrix(classes, features, 201);
  const Vector b = random_vector(classes, 202);
  const Matrix x = random_matrix(n, features, 203, 0.0, 1.0);
  const std::vector<Index> targets{2, 0, 1}, ids{30, 1, 12};
  const lrp::Network net = dense_model(shape, w, b);
  const Matrix relevance = additive_relevance(w, x, targets);
  struct Case {
    Index patch, regions;
  };
  for (const Case& t : {Case{1, 42}, Case{2, 12}, Case{3, 6}}) {
    for (const Index steps : {Index(0), Index(5)}) {
      INFO("patch " << t.patch << ", steps " << steps);
      lrp::PixelFlippingOptions options;
      options.patch = t.patch;
      options.steps = steps;
      options.fill = lrp::PerturbationFill::kConstant;
      options.random_repeats = 3;
      options.seed = 5 + static_cast<std::uint64_t>(t.patch);
      options.rows_per_pass = 7;
      const auto r = lrp::pixel_flipping(net, lrp::Tensor(shape, x), targets, lrp::Tensor(shape, relevance), ids,
                                         constant_fill(0.0), options);
      check_additive(r, w, b, x, targets, ids, member_of(shape, t.patch), t.regions, options);
    }
  }
}

// ---------------------------------------------------------------- (b) models that ignore their input

TEST_CASE("known answers: a model that ignores its input has constant curves, zero AOPC and auc_morf = L*b",
          "[metrics]") {
  // Two such models: a dense layer with all-zero weights, and the example CNN whose last (dense)
  // layer has zero weights (its features are multiplied by zero). The logits are exactly the bias
  // (0·h = 0 for finite h), so every curve is the constant b_c, every AOPC-type score is exactly 0
  // and the trapezoid area is L·b_c (b_c has few significant bits: the sums are exact).
  struct Model {
    std::string name;
    lrp::Network net;
    Index patch, regions;
  };
  std::vector<Model> models;
  {
    const Shape shape{2, 3, 4};
    Vector b(3);
    b << 1.25, -0.375, 2.5;
    models.push_back({"zero dense", dense_model(shape, Matrix::Zero(3, 24), b), 1, 12});
  }
  {
    lrp::Network cnn = lrp::example_cnn(301);
    lrp::Layer& fc = cnn.layer(cnn.size() - 1);
    REQUIRE(fc.kind() == "dense");
    lrp::Params p = fc.params();
    p.weight.setZero();
    for (Index j = 0; j < p.bias.size(); ++j) p.bias[j] = static_cast<Scalar>(0.25 * static_cast<double>(j) - 1.375);
    fc.set_params(std::move(p));
    models.push_back({"cnn with zero last layer", std::move(cnn), 7, 16});
  }

  for (const Model& m : models) {
    const Shape& shape = m.net.input_shape();
    const Index features = lrp::numel(shape), n = 3;
    const Vector& bias = m.net.layer(m.net.size() - 1).params().bias;
    const Index classes = bias.size();
    const lrp::Tensor x(shape, random_matrix(n, features, 302, 0.0, 1.0));
    const std::vector<Index> targets{0, classes - 1, 1}, ids{2, 40, 7};
    const lrp::FillValues fill = every_fill(features);
    const std::vector<std::pair<std::string, Matrix>> maps{
        {"random", random_matrix(n, features, 303)},
        {"zero (all tied)", Matrix::Zero(n, features)},
        {"input", x.data},
    };
    for (const auto& [map_name, map] : maps) {
      for (const lrp::PerturbationFill kind :
           {lrp::PerturbationFill::kUniform, lrp::PerturbationFill::kConstant, lrp::PerturbationFill::kMean}) {
        for (const std::uint64_t seed : {std::uint64_t(0), std::uint64_t(12345)}) {
          for (const Index steps : {Index(0), Index(3)}) {
            INFO(m.name << ", relevance " << map_name << ", fill " << static_cast<int>(kind) << ", seed " << seed
                        << ", steps " << steps);
            lrp::PixelFlippingOptions options;
            options.patch = m.patch;
            options.steps = steps;
            options.fill = kind;
            options.seed = seed;
            options.random_repeats = 3;
            const auto r = lrp::pixel_flipping(m.net, x, targets, lrp::Tensor(shape, map), ids, fill, options);
            const Index L = steps == 0 ? m.regions : steps;
            REQUIRE(r.steps == L);
            REQUIRE(r.random.size() == 3);
            for (Index i = 0; i < n; ++i) {
              INFO("sample " << i);
              const Scalar b = bias[targets[static_cast<size_t>(i)]];
              CHECK(constant_curve(r.morf.row(i), b));
              CHECK(constant_curve(r.lerf.row(i), b));
              for (const Matrix& curve : r.random) CHECK(constant_curve(curve.row(i), b));
              CHECK(constant_curve(r.lerf_probability.row(i), r.morf_probability(i, 0)));
              CHECK(constant_curve(r.morf_probability.row(i), r.morf_probability(i, 0)));
              for (const Matrix& curve : r.random_probability) CHECK(constant_curve(curve.row(i), r.morf_probability(i, 0)));
              CHECK(r.scores.aopc_morf[i] == 0.0);
              CHECK(r.scores.aopc_lerf[i] == 0.0);
              CHECK(r.scores.abpc[i] == 0.0);
              CHECK(r.scores.aopc_morf_vs_random[i] == 0.0);
              CHECK(r.scores.auc_morf[i] == static_cast<double>(L) * static_cast<double>(b));
            }
            CHECK(r.summary.aopc_morf.mean == 0.0);
            CHECK(r.summary.abpc.mean == 0.0);
            CHECK(r.summary.aopc_morf_vs_random.mean == 0.0);
          }
        }
      }
    }
  }
}

// ---------------------------------------------------------------- (c) shared random-order curves

TEST_CASE("known answers: shared random-order curves give the numbers of a plain pixel_flipping call",
          "[metrics]") {
  const lrp::Network net = lrp::example_cnn(401);
  const Shape& shape = net.input_shape();
  const Index n = 3;
  const lrp::Tensor x = lrp::random_inputs(shape, n, 402);
  const lrp::ForwardPass pass = net.forward(x);
  const auto targets = lrp::select_targets(pass.logits(), lrp::TargetSpec::predicted());
  const lrp::Explanation e = explainer_for(net, "epsilon_plus").explain(pass, targets);
  const std::vector<Index> ids{3, 17, 5};
  const lrp::FillValues fill = every_fill(lrp::numel(shape));

  for (const lrp::PerturbationFill kind : {lrp::PerturbationFill::kUniform, lrp::PerturbationFill::kMean}) {
    for (const Index steps : {Index(0), Index(5)}) {
      INFO("fill " << static_cast<int>(kind) << ", steps " << steps);
      lrp::PixelFlippingOptions options;
      options.patch = 7;  // 16 regions
      options.steps = steps;
      options.fill = kind;
      options.random_repeats = 3;
      options.seed = 21;
      {
        // Every pass a single row: the split cannot matter, the numbers are the same bit for bit
        // (also when the curves and the call run on different thread counts).
        options.rows_per_pass = 1;
        const lrp::PixelFlippingResult plain = lrp::pixel_flipping(net, x, targets, e.relevance, ids, fill, options);
        lrp::PixelFlippingOptions curve_options = options;
        curve_options.threads = 2;
        const lrp::RandomOrderCurves curves = lrp::random_order_curves(net, x, targets, ids, fill, curve_options);
        CHECK(curves.regions == 16);
        CHECK(curves.steps == (steps == 0 ? 16 : steps));
        CHECK(curves.patch == 7);
        CHECK(curves.seed == 21);
        CHECK(curves.fill == kind);
        CHECK(curves.sample_ids == ids);
        CHECK(curves.targets == targets);
        REQUIRE(curves.random.size() == 3);
        for (size_t q = 0; q < 3; ++q) {
          CHECK(bit_equal(curves.random[q], plain.random[q]));
          CHECK(bit_equal(curves.random_probability[q], plain.random_probability[q]));
        }
        CHECK(curves.random_seeds == plain.random_seeds);
        const lrp::PixelFlippingResult shared =
            lrp::pixel_flipping(net, x, targets, e.relevance, ids, fill, options, curves);
        check_identical(shared, plain);
      }
      {
        // The default split: the random curves are evaluated in passes of their own, equal up to
        // rounding.
        options.rows_per_pass = lrp::PixelFlippingOptions{}.rows_per_pass;
        const lrp::PixelFlippingResult plain = lrp::pixel_flipping(net, x, targets, e.relevance, ids, fill, options);
        const lrp::RandomOrderCurves curves = lrp::random_order_curves(net, x, targets, ids, fill, options);
        const lrp::PixelFlippingResult shared =
            lrp::pixel_flipping(net, x, targets, e.relevance, ids, fill, options, curves);
        check_close(shared, plain, tol(1e-5, 1e-12));
        // The shared curves are copied into the result as they are.
        for (size_t q = 0; q < 3; ++q) CHECK(bit_equal(shared.random[q], curves.random[q]));
      }
    }
  }
}

TEST_CASE("known answers: curves computed for another call are rejected by the pixel_flipping overload",
          "[metrics]") {
  const lrp::Network net = lrp::example_cnn(501);
  const Shape& shape = net.input_shape();
  const Index n = 3;
  const lrp::Tensor x = lrp::random_inputs(shape, n, 502);
  const lrp::Tensor heat(shape, random_matrix(n, lrp::numel(shape), 503));
  const std::vector<Index> targets{1, 4, 7}, ids{3, 17, 5};
  const lrp::FillValues fill = every_fill(lrp::numel(shape));
  lrp::PixelFlippingOptions base;
  base.patch = 7;  // 16 regions
  base.random_repeats = 3;
  base.seed = 21;
  base.steps = 0;
  base.fill = lrp::PerturbationFill::kUniform;
  const lrp::RandomOrderCurves curves = lrp::random_order_curves(net, x, targets, ids, fill, base);

  const auto rejected = [&](const lrp::Tensor& xs, const std::vector<Index>& ts, const lrp::Tensor& rs,
                            const std::vector<Index>& is, const lrp::PixelFlippingOptions& o,
                            const lrp::RandomOrderCurves& c) {
    REQUIRE_THROWS_AS(lrp::pixel_flipping(net, xs, ts, rs, is, fill, o, c), lrp::Error);
    REQUIRE_THROWS_WITH(lrp::pixel_flipping(net, xs, ts, rs, is, fill, o, c),
                        Catch::Contains("shared random-order curves"));
  };
  const auto with = [&](auto change) {
    lrp::PixelFlippingOptions o = base;
    change(o);
    return o;
  };

  // The matching call is accepted (the premise of every rejection below).
  CHECK_NOTHROW(lrp::pixel_flipping(net, x, targets, heat, ids, fill, base, curves));

  SECTION("another seed") { rejected(x, targets, heat, ids, with([](auto& o) { o.seed = 22; }), curves); }
  SECTION("another patch, also one with as many regions") {
    rejected(x, targets, heat, ids, with([](auto& o) { o.patch = 4; }), curves);  // 49 regions
    // Patches 10 and 13 both cut 28×28 into 3×3 regions.
    const lrp::RandomOrderCurves ten =
        lrp::random_order_curves(net, x, targets, ids, fill, with([](auto& o) { o.patch = 10; }));
    REQUIRE(ten.regions == 9);
    CHECK_NOTHROW(lrp::pixel_flipping(net, x, targets, heat, ids, fill, with([](auto& o) { o.patch = 10; }), ten));
    rejected(x, targets, heat, ids, with([](auto& o) { o.patch = 13; }), ten);
  }
  SECTION("other steps") {
    rejected(x, targets, heat, ids, with([](auto& o) { o.steps = 5; }), curves);
    const lrp::RandomOrderCurves five =
        lrp::random_order_curves(net, x, targets, ids, fill, with([](auto& o) { o.steps = 5; }));
    rejected(x, targets, heat, ids, with([](auto& o) { o.steps = 6; }), five);
    rejected(x, targets, heat, ids, base, five);
    // steps = 16 is all 16 regions, as steps = 0: the same curves.
    CHECK_NOTHROW(lrp::pixel_flipping(net, x, targets, heat, ids, fill, with([](auto& o) { o.steps = 16; }), curves));
  }
  SECTION("another fill") {
    rejected(x, targets, heat, ids, with([](auto& o) { o.fill = lrp::PerturbationFill::kConstant; }), curves);
    rejected(x, targets, heat, ids, with([](auto& o) { o.fill = lrp::PerturbationFill::kMean; }), curves);
  }
  SECTION("another number of random repeats") {
    rejected(x, targets, heat, ids, with([](auto& o) { o.random_repeats = 2; }), curves);
    rejected(x, targets, heat, ids, with([](auto& o) { o.random_repeats = 4; }), curves);
    rejected(x, targets, heat, ids, with([](auto& o) { o.random_repeats = 0; }), curves);
  }
  SECTION("other sample ids: other ids, the batch reordered, a subset") {
    rejected(x, targets, heat, {3, 18, 5}, base, curves);
    // Reordered: sample 0 and 2 swapped, with their targets and maps.
    Matrix xr = x.data, hr = heat.data;
    xr.row(0).swap(xr.row(2));
    hr.row(0).swap(hr.row(2));
    rejected(lrp::Tensor(shape, xr), {7, 4, 1}, lrp::Tensor(shape, hr), {5, 17, 3}, base, curves);
    const lrp::Tensor x2(shape, Matrix(x.data.topRows(2))), h2(shape, Matrix(heat.data.topRows(2)));
    rejected(x2, {1, 4}, h2, {3, 17}, base, curves);
  }
  SECTION("other targets") { rejected(x, {1, 4, 8}, heat, ids, base, curves); }
  SECTION("what does not change the curves is accepted: relevance, threads, rows per pass") {
    const lrp::Tensor other_heat(shape, random_matrix(n, lrp::numel(shape), 504));
    CHECK_NOTHROW(lrp::pixel_flipping(net, x, targets, other_heat, ids, fill, base, curves));
    CHECK_NOTHROW(lrp::pixel_flipping(net, x, targets, heat, ids, fill, with([](auto& o) { o.threads = 2; }), curves));
    CHECK_NOTHROW(
        lrp::pixel_flipping(net, x, targets, heat, ids, fill, with([](auto& o) { o.rows_per_pass = 7; }), curves));
  }
}
