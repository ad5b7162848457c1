// The metric suite's per-sample formulas (lrp/eval/suite.hpp) against known answers and oracles
// written here from the papers' definitions: closed forms on uniform and one-hot heatmaps,
// equivalent formulas (the Gini index as a mean absolute difference), invariances.
#include "test_util.hpp"

#include "lrp/eval/suite.hpp"
#include "lrp/nn/layers.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <numeric>
#include <set>

#include <cmath>
#include <vector>

using lrp::Index;
using lrp::Scalar;
using lrp::Matrix;
using lrp::Vector;
using namespace lrp_test;

namespace {

std::span<const Scalar> view(const std::vector<Scalar>& v) { return {v.data(), v.size()}; }

// (flatten,) dense(features → classes) with the given weight and bias.
lrp::Network dense_model(const lrp::Shape& shape, const Matrix& weight, const Vector& bias) {
  lrp::Network net(shape);
  if (shape.size() == 3) net.add(std::make_unique<lrp::Flatten>(), "flatten");
  auto& fc = net.add(std::make_unique<lrp::Dense>(lrp::numel(shape), weight.rows()), "fc");
  fc.set_params({weight, bias});
  return net;
}

// A linear model on [1, 6, 6] images with its exact attribution R = w_c ⊙ (x − z) for the fill z:
// removing any set S of features (x_S := z_S) lowers the target logit by exactly Σ_S R.
struct Linear {
  lrp::Shape shape{1, 6, 6};
  Matrix w = random_matrix(3, 36, 11);
  Vector b = random_vector(3, 12);
  lrp::Network net = dense_model(shape, w, b);
  lrp::Tensor x{shape, random_matrix(4, 36, 13, 0.0, 1.0)};
  std::vector<Index> targets{0, 2, 1, 2}, ids{0, 1, 2, 3};
  lrp::Tensor fill = lrp::fill_images(x, lrp::BaselineFill::kMin);
  lrp::Tensor relevance() const {
    lrp::Tensor r(x.batch(), shape);
    for (Index i = 0; i < x.batch(); ++i)
      for (Index f = 0; f < 36; ++f)
        r.data(i, f) = w(targets[static_cast<std::size_t>(i)], f) * (x.data(i, f) - fill.data(i, f));
    return r;
  }
};

// The softmax probability of class c at logits z, in long double.
double softmax_of(const Eigen::VectorXd& z, Index c) {
  long double top = z.maxCoeff(), sum = 0;
  for (Index j = 0; j < z.size(); ++j) sum += std::exp(static_cast<long double>(z[j]) - top);
  return static_cast<double>(std::exp(static_cast<long double>(z[c]) - top) / sum);
}

// The Gini index as half the relative mean absolute difference, Σ_i Σ_j |x_i − x_j| / (2 n Σ x):
// a formula independent of the sorted one lrplab uses.
double gini_oracle(std::vector<double> x) {
  const auto n = static_cast<double>(x.size());
  double total = 0.0, differences = 0.0;
  for (const double a : x) total += a;
  for (const double a : x)
    for (const double b : x) differences += std::abs(a - b);
  return differences / (2.0 * n * total);
}

}  // namespace

TEST_CASE("complexity metrics: uniform and one-hot heatmaps have their closed forms", "[suite]") {
  const lrp::HeatmapPreprocess p;
  for (const Index n : {1, 7, 784}) {
    INFO("n = " << n);
    const std::vector<Scalar> uniform(static_cast<std::size_t>(n), Scalar(0.3));
    CHECK(std::abs(lrp::sparseness(view(uniform), p)) < 1e-12);
    CHECK(lrp::complexity(view(uniform), p) == Approx(std::log(static_cast<double>(n))).margin(1e-9));
    CHECK(lrp::effective_complexity(view(uniform), p, 1e-5) == static_cast<double>(n));

    std::vector<Scalar> one_hot(static_cast<std::size_t>(n), Scalar(0));
    one_hot[static_cast<std::size_t>(n / 2)] = Scalar(-2.5);  // abs: the sign does not matter
    const double nd = static_cast<double>(n);
    // Sorted b = (1e-7, ..., 1e-7, 1 + 1e-7): the shift's terms sum to zero, leaving (n − 1) · 1.
    CHECK(lrp::sparseness(view(one_hot), p) == Approx((nd - 1.0) / (nd * (1.0 + nd * 1e-7))).epsilon(1e-12));
    CHECK(std::abs(lrp::complexity(view(one_hot), p)) < 1e-11);
    CHECK(lrp::effective_complexity(view(one_hot), p, 1e-5) == 1.0);
  }
}

TEST_CASE("complexity metrics: a hand-worked heatmap against independent formulas", "[suite]") {
  const std::vector<Scalar> a{3, -1, 0, 2, 0.5f, -0.25f};
  // normalise by max |a| = 3, then |.|
  const std::vector<double> b{1.0, 1.0 / 3, 0.0, 2.0 / 3, 0.5 / 3, 0.25 / 3};
  std::vector<double> shifted = b;
  for (double& v : shifted) v += 1e-7;
  CHECK(lrp::sparseness(view(a), {}) == Approx(gini_oracle(shifted)).epsilon(1e-12));
  double total = 0, entropy = 0;
  for (const double v : b) total += v;
  for (const double v : b)
    if (v > 0) entropy -= v / total * std::log(v / total);
  CHECK(lrp::complexity(view(a), {}) == Approx(entropy).epsilon(1e-10));
  CHECK(lrp::effective_complexity(view(a), {}, 0.1) == 4.0);   // 1, 1/3, 2/3, 1/6
  CHECK(lrp::effective_complexity(view(a), {}, 0.5) == 2.0);   // 1, 2/3
  CHECK(lrp::effective_complexity(view(a), {}, 1.0) == 0.0);   // strictly above

  SECTION("without abs the signed values are ranked") {
    const lrp::HeatmapPreprocess signed_values{true, false};
    CHECK(lrp::effective_complexity(view(a), signed_values, 0.1) == 3.0);  // 1, 2/3, 1/6
    std::vector<double> s{1.0, -1.0 / 3, 0.0, 2.0 / 3, 0.5 / 3, -0.25 / 3};
    for (double& v : s) v += 1e-7;
    std::vector<double> sorted = s;
    std::sort(sorted.begin(), sorted.end());
    double num = 0, den = 0;
    const double n = 6;
    for (std::size_t k = 0; k < sorted.size(); ++k) {
      num += (2.0 * static_cast<double>(k + 1) - n - 1) * sorted[k];
      den += sorted[k];
    }
    CHECK(lrp::sparseness(view(a), signed_values) == Approx(num / (n * den)).epsilon(1e-12));
  }
  SECTION("without normalising the threshold applies to |R| itself") {
    const lrp::HeatmapPreprocess raw{false, true};
    CHECK(lrp::effective_complexity(view(a), raw, 0.9) == 3.0);  // 3, 1, 2
    CHECK(lrp::effective_complexity(view(a), raw, 0.1) == 5.0);
  }
}

TEST_CASE("complexity metrics: scale invariance with normalise and an all-zero heatmap", "[suite]") {
  const std::vector<Scalar> a{0.2f, 0.0f, 0.9f, 0.4f, 0.1f};
  std::vector<Scalar> scaled = a;
  for (Scalar& v : scaled) v *= Scalar(1000);
  CHECK(lrp::sparseness(view(scaled), {}) == Approx(lrp::sparseness(view(a), {})).epsilon(1e-6));
  CHECK(lrp::complexity(view(scaled), {}) == Approx(lrp::complexity(view(a), {})).epsilon(1e-6));
  CHECK(lrp::effective_complexity(view(scaled), {}, 1e-3) == lrp::effective_complexity(view(a), {}, 1e-3));

  const std::vector<Scalar> zero(5, Scalar(0));
  CHECK(std::abs(lrp::sparseness(view(zero), {})) < 1e-12);  // all equal after the shift
  CHECK(std::isnan(lrp::complexity(view(zero), {})));        // 0 / 0: undefined
  CHECK(lrp::effective_complexity(view(zero), {}, 1e-5) == 0.0);
}

TEST_CASE("faithfulness: exact attributions of a linear model correlate perfectly at every set size", "[suite]") {
  const Linear m;
  const lrp::Tensor r = m.relevance();
  std::vector<lrp::FeatureSets> sets;
  for (Index i = 0; i < m.x.batch(); ++i)
    sets.push_back(lrp::random_feature_sets(36, {1, 3, 5, 8, 12, 20, 30, 35, 2, 7}, 100 + static_cast<std::uint64_t>(i)));
  const Eigen::MatrixXd drops = lrp::set_output_drops(m.net, m.x, m.targets, m.fill, sets, false);
  const Eigen::MatrixXd sums = lrp::set_sums(r, sets);
  CHECK((drops - sums).cwiseAbs().maxCoeff() < tol(2e-5, 1e-12));
  for (Index i = 0; i < m.x.batch(); ++i) {
    const Eigen::VectorXd a = sums.row(i).transpose(), d = drops.row(i).transpose();
    CHECK(lrp::pearson({a.data(), 10}, {d.data(), 10}) == Approx(1.0).margin(tol(1e-5, 1e-12)));
    // A sign flip of the attributions flips the correlation.
    const Eigen::VectorXd neg = -a;
    CHECK(lrp::pearson({neg.data(), 10}, {d.data(), 10}) == Approx(-1.0).margin(tol(1e-5, 1e-12)));
  }
}

TEST_CASE("faithfulness: random feature sets are distinct features of the asked sizes and follow the seed", "[suite]") {
  const std::vector<Index> sizes{1, 5, 36, 17};
  const lrp::FeatureSets a = lrp::random_feature_sets(36, sizes, 7), b = lrp::random_feature_sets(36, sizes, 7),
                         c = lrp::random_feature_sets(36, sizes, 8);
  CHECK(a == b);
  CHECK(a != c);
  for (std::size_t k = 0; k < sizes.size(); ++k) {
    REQUIRE(static_cast<Index>(a[k].size()) == sizes[k]);
    const std::set<Index> unique(a[k].begin(), a[k].end());
    CHECK(static_cast<Index>(unique.size()) == sizes[k]);
    CHECK(*unique.begin() >= 0);
    CHECK(*unique.rbegin() < 36);
  }
  CHECK_THROWS_WITH(lrp::random_feature_sets(36, {37}, 1), Catch::Contains("37 of 36"));
}

TEST_CASE("faithfulness: pearson follows scipy on known series", "[suite]") {
  const std::vector<double> x{1, 2, 3, 4}, y{2, 4, 6, 8.5}, flat{3, 3, 3, 3};
  // Hand-computed: centred x = (−1.5, −.5, .5, 1.5), y mean 5.125, centred y = (−3.125, −1.125, .875, 3.375).
  const double sxy = 1.5 * 3.125 + 0.5 * 1.125 + 0.5 * 0.875 + 1.5 * 3.375;
  const double sxx = 5.0, syy = 3.125 * 3.125 + 1.125 * 1.125 + 0.875 * 0.875 + 3.375 * 3.375;
  CHECK(lrp::pearson(x, y) == Approx(sxy / std::sqrt(sxx * syy)).epsilon(1e-14));
  CHECK(std::isnan(lrp::pearson(x, flat)));
  CHECK(lrp::pearson(std::vector<double>{1, 5}, std::vector<double>{3, -2}) == -1.0);
}

TEST_CASE("faithfulness: centred patches tile the image once as Quantus pads it", "[suite]") {
  const lrp::Shape shape{2, 28, 28};
  for (const Index patch : {1, 4, 5, 8, 28}) {
    INFO("patch " << patch);
    const auto patches = lrp::centred_patches(shape, patch);
    const Index cells = (28 + patch - 1) / patch;
    REQUIRE(static_cast<Index>(patches.size()) == cells * cells);
    std::vector<int> seen(2 * 28 * 28, 0);
    for (const auto& p : patches)
      for (const Index f : p) ++seen[static_cast<std::size_t>(f)];
    CHECK(std::all_of(seen.begin(), seen.end(), [](int v) { return v == 1; }));
  }
  // 28 = 3·8 + 4: padded by 2 before and 2 after, the first patch covers rows and columns 0..5.
  const auto p8 = lrp::centred_patches(shape, 8);
  CHECK(p8[0].size() == 2u * 6 * 6);
  CHECK(p8[1].size() == 2u * 6 * 8);
  CHECK(p8[0].front() == 0);
  CHECK(p8[0].back() == (1 * 28 + 5) * 28 + 5);
}

TEST_CASE("faithfulness: removal curves of a linear model follow the sorted contributions", "[suite]") {
  const Linear m;
  const lrp::Tensor r = m.relevance();
  const auto patches = lrp::centred_patches(m.shape, 2);  // 9 patches of 4 pixels
  const lrp::IndexMatrix order = lrp::unit_orders(r, patches, false, m.ids, 5, 1);
  const Eigen::MatrixXd curve = lrp::removal_curves(m.net, m.x, m.fill, m.targets, patches, order);
  REQUIRE(curve.cols() == 10);
  for (Index i = 0; i < m.x.batch(); ++i) {
    const Index c = m.targets[static_cast<std::size_t>(i)];
    // The order: patch sums of R descending.
    std::vector<double> sums;
    for (const auto& p : patches) {
      double s = 0;
      for (const Index f : p) s += static_cast<double>(r.data(i, f));
      sums.push_back(s);
    }
    for (Index k = 1; k < 9; ++k)
      CHECK(sums[static_cast<std::size_t>(order(i, k - 1))] >= sums[static_cast<std::size_t>(order(i, k))]);
    // Step k: every logit j moves by the contributions w_j ⊙ (x − z) of the removed patches.
    Eigen::VectorXd logits = (m.w.cast<double>() * m.x.data.row(i).transpose().cast<double>() + m.b.cast<double>());
    CHECK(curve(i, 0) == Approx(softmax_of(logits, c)).epsilon(tol(1e-5, 1e-12)));
    for (Index k = 1; k <= 9; ++k) {
      for (const Index f : patches[static_cast<std::size_t>(order(i, k - 1))])
        logits -= m.w.col(f).cast<double>() * static_cast<double>(m.x.data(i, f) - m.fill.data(i, f));
      CHECK(curve(i, k) == Approx(softmax_of(logits, c)).epsilon(tol(1e-5, 1e-12)));
    }
  }
}

TEST_CASE("faithfulness: a model that ignores its input has flat curves and no correlation", "[suite]") {
  Linear m;
  m.net = dense_model(m.shape, Matrix::Zero(3, 36), m.b);
  const std::vector<lrp::FeatureSets> sets(4, lrp::random_feature_sets(36, {4, 9, 16}, 3));
  const Eigen::MatrixXd drops = lrp::set_output_drops(m.net, m.x, m.targets, m.fill, sets, true);
  CHECK(drops.cwiseAbs().maxCoeff() == 0.0);
  const Eigen::MatrixXd sums = lrp::set_sums(m.relevance(), sets);
  const Eigen::VectorXd a = sums.row(0).transpose(), d = drops.row(0).transpose();
  CHECK(std::isnan(lrp::pearson({a.data(), 3}, {d.data(), 3})));
  const auto patches = lrp::centred_patches(m.shape, 3);
  const Eigen::MatrixXd curve =
      lrp::removal_curves(m.net, m.x, m.fill, m.targets, patches, lrp::unit_orders(m.relevance(), patches, true, m.ids, 1, 2));
  const Eigen::VectorXd logits = m.b.cast<double>();
  for (Index i = 0; i < 4; ++i)
    for (Index k = 0; k < curve.cols(); ++k)
      CHECK(curve(i, k) == Approx(softmax_of(logits, m.targets[static_cast<std::size_t>(i)])).epsilon(tol(1e-6, 1e-14)));
  // IROF's area over a flat relative curve is 0; insertion and deletion areas equal the probability.
  CHECK(1.0 - lrp::normalized_auc(curve.row(0).transpose() / curve(0, 0)) == Approx(0.0).margin(1e-6));
  const lrp::IndexMatrix pixels = lrp::unit_orders(m.relevance(), lrp::perturbation_regions(m.shape, 1), false, m.ids, 1, 3);
  const lrp::InsertionDeletion id =
      lrp::insertion_deletion(m.net, m.x, m.targets, pixels, m.fill, lrp::blur_images(m.x, 3, 1.0), 5);
  REQUIRE(id.deletion_curve.cols() == 1 + 8);  // ⌈36 / 5⌉ steps
  for (Index i = 0; i < 4; ++i) {
    CHECK(id.deletion[i] == Approx(curve(i, 0)).epsilon(1e-6));
    CHECK(id.insertion[i] == Approx(curve(i, 0)).epsilon(1e-6));
  }
}

TEST_CASE("insertion and deletion: the blur keeps constants and the areas follow the trapezoid rule", "[suite]") {
  lrp::Tensor flat(2, lrp::Shape{2, 5, 7});
  flat.data.setConstant(Scalar(0.375));
  const lrp::Tensor blurred = lrp::blur_images(flat, 5, 2.0);
  CHECK((blurred.data.array() - Scalar(0.375)).abs().maxCoeff() < 1e-6);
  // A single bright pixel spreads symmetrically and keeps its total away from the border.
  lrp::Tensor dot(1, lrp::Shape{1, 9, 9});
  dot.data.setZero();
  dot.data(0, 4 * 9 + 4) = 1;
  const lrp::Tensor spread = lrp::blur_images(dot, 3, 1.0);
  CHECK(spread.data(0, 3 * 9 + 4) == Approx(spread.data(0, 4 * 9 + 3)).epsilon(1e-6));
  CHECK(spread.data(0, 3 * 9 + 3) == Approx(spread.data(0, 5 * 9 + 5)).epsilon(1e-6));
  CHECK(spread.data.cast<double>().sum() == Approx(1.0).epsilon(1e-6));
  const double g = std::exp(-0.5);  // the 1-d kernel (g, 1, g) / (1 + 2g)
  CHECK(spread.data(0, 4 * 9 + 4) == Approx(1.0 / ((1 + 2 * g) * (1 + 2 * g))).epsilon(1e-6));

  Eigen::VectorXd c(5);
  c << 1.0, 0.5, 0.25, 0.25, 0.0;
  CHECK(lrp::normalized_auc(c) == Approx((0.75 + 0.375 + 0.25 + 0.125) / 4).epsilon(1e-15));
}

TEST_CASE("ROAD: linear imputation reproduces a linear ramp inside the image", "[suite]") {
  const lrp::Shape shape{2, 7, 8};
  std::vector<Scalar> image(2 * 7 * 8);
  for (Index c = 0; c < 2; ++c)
    for (Index y = 0; y < 7; ++y)
      for (Index x = 0; x < 8; ++x) image[static_cast<std::size_t>((c * 7 + y) * 8 + x)] = Scalar(0.5 * y - 0.25 * x + c);
  const std::vector<Scalar> original = image;
  // A block of interior pixels (each removed pixel has all eight neighbours inside the image):
  // a weighted mean with symmetric weights of a linear function is its value at the centre.
  const std::vector<Index> pixels{2 * 8 + 2, 2 * 8 + 3, 3 * 8 + 2, 3 * 8 + 3, 3 * 8 + 4, 4 * 8 + 5, 5 * 8 + 5};
  std::vector<double> noise(pixels.size() * 2, 0.0);
  for (const Index p : pixels) {  // the removed values must not be used
    image[static_cast<std::size_t>(p)] = 99;
    image[static_cast<std::size_t>(56 + p)] = -99;
  }
  lrp::noisy_linear_imputation(image.data(), shape, pixels, noise);
  for (std::size_t f = 0; f < image.size(); ++f) CHECK(image[f] == Approx(original[f]).margin(tol(1e-5, 1e-12)));
  // Noise is added to the imputed values: noise[c·k + j] on pixel j of channel c.
  noise[3] = 0.5;
  noise[7 + 1] = -0.25;
  lrp::noisy_linear_imputation(image.data(), shape, pixels, noise);
  CHECK(image[static_cast<std::size_t>(pixels[3])] == Approx(original[static_cast<std::size_t>(pixels[3])] + 0.5).margin(tol(1e-5, 1e-12)));
  CHECK(image[static_cast<std::size_t>(56 + pixels[1])] ==
        Approx(original[static_cast<std::size_t>(56 + pixels[1])] - 0.25).margin(tol(1e-5, 1e-12)));
  const std::vector<Index> all = [] {
    std::vector<Index> v(56);
    std::iota(v.begin(), v.end(), Index(0));
    return v;
  }();
  CHECK_THROWS_WITH(lrp::noisy_linear_imputation(image.data(), shape, all, std::vector<double>(112, 0.0)),
                    Catch::Contains("every pixel is removed"));
  CHECK(lrp::road_counts(784, {1, 50, 99}) == std::vector<Index>{7, 392, 776});
}

TEST_CASE("faithfulness: perturbed copies give the same bits on one thread and on two", "[suite]") {
  const Linear m;
  std::vector<lrp::FeatureSets> sets;
  for (Index i = 0; i < m.x.batch(); ++i) sets.push_back(lrp::random_feature_sets(36, {3, 9, 27}, 40 + static_cast<std::uint64_t>(i)));
  CHECK(lrp::set_output_drops(m.net, m.x, m.targets, m.fill, sets, true, 1) ==
        lrp::set_output_drops(m.net, m.x, m.targets, m.fill, sets, true, 2));
  const auto patches = lrp::centred_patches(m.shape, 4);
  const lrp::IndexMatrix order = lrp::unit_orders(m.relevance(), patches, false, m.ids, 1, 1);
  CHECK(lrp::removal_curves(m.net, m.x, m.fill, m.targets, patches, order, 1) ==
        lrp::removal_curves(m.net, m.x, m.fill, m.targets, patches, order, 2));
}
