// The metric suite's per-sample formulas (lrp/eval/suite.hpp) against known answers and oracles
// written here from the papers' definitions: closed forms on uniform and one-hot heatmaps,
// equivalent formulas (the Gini index as a mean absolute difference), invariances.
#include "test_util.hpp"

#include "lrp/eval/suite.hpp"

#include <catch2/catch.hpp>

#include <cmath>
#include <vector>

using lrp::Index;
using lrp::Scalar;

namespace {

std::span<const Scalar> view(const std::vector<Scalar>& v) { return {v.data(), v.size()}; }

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
