// The tools of the faithfulness metrics that perturb sets of features (docs/metrics.md): seeded
// random sets, the output drop when a set is replaced by a fill, relevance sums over sets, Pearson's
// correlation as scipy computes it, Quantus's centred patch grid, unit orders, and the fills.
#include "lrp/eval/suite.hpp"

#include "lrp/core/error.hpp"
#include "lrp/core/random.hpp"
#include "score_metric.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>

namespace lrp {

FeatureSets random_feature_sets(Index features, const std::vector<Index>& sizes, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<Index> pool(static_cast<std::size_t>(features));
  FeatureSets sets;
  sets.reserve(sizes.size());
  for (const Index size : sizes) {
    LRP_CHECK(size >= 1 && size <= features, "random feature sets: a set of ", size, " of ", features, " features");
    std::iota(pool.begin(), pool.end(), Index(0));
    // Partial Fisher–Yates: the first `size` entries are a uniform draw without replacement.
    for (Index i = 0; i < size; ++i) {
      const auto j = i + static_cast<Index>(bounded(rng, static_cast<std::uint64_t>(features - i)));
      std::swap(pool[static_cast<std::size_t>(i)], pool[static_cast<std::size_t>(j)]);
    }
    sets.emplace_back(pool.begin(), pool.begin() + size);
  }
  return sets;
}

Eigen::MatrixXd set_output_drops(const Network& network, const Tensor& x, const std::vector<Index>& targets,
                                 const Tensor& fill, const std::vector<FeatureSets>& sets, bool probability,
                                 int threads) {
  const Index n = x.batch();
  LRP_CHECK(static_cast<Index>(sets.size()) == n && fill.batch() == n && fill.features() == x.features(),
            "set output drops: ", sets.size(), " lists of sets and ", fill.batch(), " fills for ", n, " samples");
  Index count = n > 0 ? static_cast<Index>(sets[0].size()) : 0;
  for (const FeatureSets& s : sets)
    LRP_CHECK(static_cast<Index>(s.size()) == count, "set output drops: every sample needs the same number of sets");
  // Copy 0 is the sample itself; copy 1 + r has set r replaced.
  Eigen::MatrixXd out;
  CopyOutputs wanted;
  (probability ? wanted.probability : wanted.logit) = &out;
  evaluate_copies(network, x, targets, count + 1, threads, [&](Index i, Index j, Scalar* row) {
    if (j == 0) return;
    const Scalar* from = fill.data.row(i).data();
    for (const Index f : sets[static_cast<std::size_t>(i)][static_cast<std::size_t>(j - 1)]) row[f] = from[f];
  }, wanted);
  Eigen::MatrixXd drops(n, count);
  for (Index i = 0; i < n; ++i)
    for (Index r = 0; r < count; ++r) drops(i, r) = out(i, 0) - out(i, r + 1);
  return drops;
}

Eigen::MatrixXd set_sums(const Tensor& relevance, const std::vector<FeatureSets>& sets) {
  const Index n = relevance.batch();
  LRP_CHECK(static_cast<Index>(sets.size()) == n, "set sums: ", sets.size(), " lists of sets for ", n, " samples");
  const Index count = n > 0 ? static_cast<Index>(sets[0].size()) : 0;
  Eigen::MatrixXd sums(n, count);
  for (Index i = 0; i < n; ++i) {
    const Scalar* r = relevance.data.row(i).data();
    for (Index s = 0; s < count; ++s) {
      double sum = 0.0;
      for (const Index f : sets[static_cast<std::size_t>(i)][static_cast<std::size_t>(s)]) sum += static_cast<double>(r[f]);
      sums(i, s) = sum;
    }
  }
  return sums;
}

double pearson(std::span<const double> a, std::span<const double> b) {
  const std::size_t n = a.size();
  LRP_CHECK(b.size() == n && n >= 2, "pearson: two series of the same length ≥ 2 expected (", a.size(), ", ", b.size(), ")");
  const auto constant = [](std::span<const double> v) {
    return std::all_of(v.begin(), v.end(), [&](double x) { return x == v[0]; });
  };
  if (constant(a) || constant(b)) return std::numeric_limits<double>::quiet_NaN();
  const auto sign = [](double v) { return static_cast<double>((v > 0) - (v < 0)); };
  if (n == 2) return sign(a[1] - a[0]) * sign(b[1] - b[0]);
  double ma = 0, mb = 0;
  for (std::size_t i = 0; i < n; ++i) {
    ma += a[i];
    mb += b[i];
  }
  ma /= static_cast<double>(n);
  mb /= static_cast<double>(n);
  double na = 0, nb = 0;
  for (std::size_t i = 0; i < n; ++i) {
    na += (a[i] - ma) * (a[i] - ma);
    nb += (b[i] - mb) * (b[i] - mb);
  }
  na = std::sqrt(na);
  nb = std::sqrt(nb);
  double r = 0;
  for (std::size_t i = 0; i < n; ++i) r += ((a[i] - ma) / na) * ((b[i] - mb) / nb);
  return std::clamp(r, -1.0, 1.0);
}

std::vector<std::vector<Index>> centred_patches(const Shape& shape, Index patch) {
  LRP_CHECK(shape.size() == 3, "patches: images [channels, height, width] expected, got ", to_string(shape));
  LRP_CHECK(patch >= 1, "patches: the patch side must be ≥ 1, got ", patch);
  const Index channels = shape[0], height = shape[1], width = shape[2];
  const auto offset = [patch](Index side) {
    const Index rest = side % patch;
    return rest == 0 ? Index(0) : (patch - rest) / 2;  // the padding before: floor of the total over 2
  };
  const Index top0 = -offset(height), left0 = -offset(width);
  std::vector<std::vector<Index>> patches;
  for (Index top = top0; top < height; top += patch)
    for (Index left = left0; left < width; left += patch) {
      std::vector<Index>& p = patches.emplace_back();
      for (Index c = 0; c < channels; ++c)
        for (Index y = std::max(top, Index(0)); y < std::min(top + patch, height); ++y)
          for (Index x = std::max(left, Index(0)); x < std::min(left + patch, width); ++x)
            p.push_back((c * height + y) * width + x);
    }
  return patches;
}

IndexMatrix unit_orders(const Tensor& relevance, const std::vector<std::vector<Index>>& units, bool mean,
                        const std::vector<Index>& sample_ids, std::uint64_t seed, std::uint64_t stream) {
  IndexMatrix order(relevance.batch(), static_cast<Index>(units.size()));
  for (Index i = 0; i < relevance.batch(); ++i) {
    std::vector<double> scores = region_scores(relevance.data.row(i).data(), units);
    if (mean)
      for (std::size_t u = 0; u < units.size(); ++u) scores[u] /= static_cast<double>(units[u].size());
    const std::vector<Index> o =
        region_order(scores, RegionOrder::kMorf, sample_seed(seed, sample_ids[static_cast<std::size_t>(i)], stream));
    for (std::size_t m = 0; m < o.size(); ++m) order(i, static_cast<Index>(m)) = o[m];
  }
  return order;
}

Eigen::MatrixXd removal_curves(const Network& network, const Tensor& x, const Tensor& fill,
                               const std::vector<Index>& targets, const std::vector<std::vector<Index>>& units,
                               const IndexMatrix& order, int threads) {
  LRP_CHECK(order.rows() == x.batch() && order.cols() == static_cast<Index>(units.size()) && fill.batch() == x.batch(),
            "removal curves: ", order.rows(), " × ", order.cols(), " orders and ", fill.batch(), " fills for ",
            x.batch(), " samples of ", units.size(), " units");
  Eigen::MatrixXd curve;
  cumulative_curves(network, x, fill, targets, units, order, 1, order.cols(), threads, {.probability = &curve});
  return curve;
}

Tensor fill_images(const Tensor& x, BaselineFill kind, const std::vector<Scalar>& constant) {
  Tensor fill(x.batch(), x.shape);
  for (Index i = 0; i < x.batch(); ++i) {
    switch (kind) {
      case BaselineFill::kMin: fill.data.row(i).setConstant(x.data.row(i).minCoeff()); break;
      case BaselineFill::kMean:
        fill.data.row(i).setConstant(static_cast<Scalar>(x.data.row(i).cast<double>().mean()));
        break;
      case BaselineFill::kConstant:
        LRP_CHECK(static_cast<Index>(constant.size()) == x.features(), "fill: the constant image has ",
                  constant.size(), " values, expected ", x.features());
        fill.data.row(i) = Eigen::Map<const RowVector>(constant.data(), x.features());
        break;
    }
  }
  return fill;
}

}  // namespace lrp
