// ROAD, RemOve And Debias (Rong et al. 2022; docs/metrics.md, "ROAD"): the most (MoRF) or least
// (LeRF) relevant pixels are removed by noisy linear imputation, which fills each removed pixel
// with the weighted mean of its eight neighbours (solved jointly for all removed pixels) plus a
// little noise, so that the removal leaves no shape for the model to react to; per removed share,
// whether the model still predicts the target.
#include "lrp/eval/suite.hpp"

#include "lrp/core/error.hpp"
#include "lrp/core/random.hpp"
#include "score_metric.hpp"

#include <Eigen/SparseCholesky>

#include <cmath>

namespace lrp {

namespace {

constexpr std::uint64_t kRoadTieStream = 0x726f'6164'0000'0001ULL;   // "road" 1
constexpr std::uint64_t kRoadNoiseStream = 0x726f'6164'0001'0000ULL;  // + order·4096 + percentage index

}  // namespace

void noisy_linear_imputation(Scalar* image, const Shape& shape, std::span<const Index> pixels,
                             std::span<const double> noise) {
  LRP_CHECK(shape.size() == 3, "noisy linear imputation: images [channels, height, width] expected, got ",
            to_string(shape));
  const Index channels = shape[0], height = shape[1], width = shape[2], plane = height * width;
  const auto k = static_cast<Index>(pixels.size());
  LRP_CHECK(static_cast<Index>(noise.size()) == k * channels, "noisy linear imputation: ", noise.size(),
            " noise values for ", k, " pixels × ", channels, " channels");
  if (k == 0) return;
  std::vector<Index> unknown(static_cast<std::size_t>(plane), -1);  // pixel → its variable
  for (Index j = 0; j < k; ++j) {
    const Index p = pixels[static_cast<std::size_t>(j)];
    LRP_CHECK(p >= 0 && p < plane && unknown[static_cast<std::size_t>(p)] < 0, "noisy linear imputation: pixel ", p,
              " is out of range or listed twice");
    unknown[static_cast<std::size_t>(p)] = j;
  }
  LRP_CHECK(k < plane, "noisy linear imputation: every pixel is removed; nothing is left to impute from");
  // S_j u_j − Σ_{unknown neighbours} w u_n = Σ_{known neighbours} w x_n, with w = 1/6 for the four
  // edge neighbours and 1/12 for the four corners, and S_j the weight of j's neighbours inside the
  // image: u_j is the weighted mean of its neighbours. The matrix is symmetric and, since some pixel
  // is known, positive definite.
  std::vector<Eigen::Triplet<double>> entries;
  Eigen::MatrixXd rhs = Eigen::MatrixXd::Zero(k, channels);
  for (Index j = 0; j < k; ++j) {
    const Index p = pixels[static_cast<std::size_t>(j)], y = p / width, x = p % width;
    double inside = 0;
    for (Index dy = -1; dy <= 1; ++dy)
      for (Index dx = -1; dx <= 1; ++dx) {
        if ((dy == 0 && dx == 0) || y + dy < 0 || y + dy >= height || x + dx < 0 || x + dx >= width) continue;
        const double w = dy != 0 && dx != 0 ? 1.0 / 12.0 : 1.0 / 6.0;
        inside += w;
        const Index q = (y + dy) * width + x + dx, v = unknown[static_cast<std::size_t>(q)];
        if (v >= 0) {
          entries.emplace_back(j, v, -w);
        } else {
          for (Index c = 0; c < channels; ++c) rhs(j, c) += w * static_cast<double>(image[c * plane + q]);
        }
      }
    entries.emplace_back(j, j, inside);
  }
  Eigen::SparseMatrix<double> a(k, k);
  a.setFromTriplets(entries.begin(), entries.end());
  const Eigen::SimplicialLDLT<Eigen::SparseMatrix<double>> solver(a);
  LRP_CHECK(solver.info() == Eigen::Success, "noisy linear imputation: the system could not be factored");
  const Eigen::MatrixXd u = solver.solve(rhs);
  for (Index c = 0; c < channels; ++c)
    for (Index j = 0; j < k; ++j)
      image[c * plane + pixels[static_cast<std::size_t>(j)]] =
          static_cast<Scalar>(u(j, c) + noise[static_cast<std::size_t>(c * k + j)]);
}

std::vector<Index> road_counts(Index pixels, const std::vector<double>& percentages) {
  std::vector<Index> counts;
  for (const double p : percentages) counts.push_back(static_cast<Index>(static_cast<double>(pixels) * p / 100.0));
  return counts;
}

Road road(const Network& network, const Tensor& x, const std::vector<Index>& targets, const IndexMatrix& order,
          const std::vector<Index>& counts, const std::vector<RowMatrixXd>& noise, int threads) {
  const Shape& shape = network.input_shape();
  const auto levels = static_cast<Index>(counts.size());
  LRP_CHECK(static_cast<Index>(noise.size()) == x.batch(), "ROAD: ", noise.size(), " noise tables for ", x.batch(),
            " samples");
  Road r;
  IndexMatrix predicted;
  evaluate_copies(network, x, targets, levels, threads, [&](Index i, Index level, Scalar* row) {
    const Index k = counts[static_cast<std::size_t>(level)];
    const RowMatrixXd& z = noise[static_cast<std::size_t>(i)];  // levels × (channels · max k)
    noisy_linear_imputation(row, shape, {&order(i, 0), static_cast<std::size_t>(k)},
                            {z.row(level).data(), static_cast<std::size_t>(k * shape[0])});
  }, {.probability = &r.probability, .predicted = &predicted});
  r.correct = Eigen::MatrixXd(x.batch(), levels);
  for (Index i = 0; i < x.batch(); ++i)
    for (Index l = 0; l < levels; ++l) r.correct(i, l) = predicted(i, l) == targets[static_cast<std::size_t>(i)] ? 1 : 0;
  return r;
}

namespace {

class RoadMetric final : public ScoreMetric {
 public:
  const char* config_key() const override { return "road"; }
  const char* meaning() const override {
    return "whether the model still predicts the target as shares of the most (morf; lower is better) and least "
           "(lerf; higher is better) relevant pixels are removed by noisy linear imputation (Rong et al. 2022); the "
           "mean over the shares";
  }
  std::vector<MetricParameter> parameters() const override {
    using K = MetricParameter::Kind;
    return {{"first", K::kNumber, 10, 0, 100, {}, "smallest share removed, percent"},
            {"last", K::kNumber, 90, 0, 100, {}, "largest share removed, percent"},
            {"step", K::kNumber, 10, 1e-6, 100, {}, "percent between shares"},
            {"noise", K::kNumber, 0.01, 0, 1e6, {}, "standard deviation of the noise added to imputed values, network units"}};
  }
  std::vector<std::string> score_names() const override { return {"morf", "lerf"}; }
  Index passes(const MetricRun&, const MetricSettings&) const override { return 2; }  // MoRF, LeRF
  std::vector<Plot> plots() const override {
    return {{0, "morf_correct", "share removed (index of first..last)", "accuracy"},
            {1, "lerf_correct", "share removed (index of first..last)", "accuracy"}};
  }
  std::vector<ScoreValues::Curve> curves(const MetricRun&, const MetricSettings& s) const override {
    const auto n = static_cast<Index>(percentages(s).size());
    return {{"morf_correct", n}, {"lerf_correct", n}, {"morf_probability", n}, {"lerf_probability", n}, {"percentages", n}};
  }
  void validate(const MetricSettings& s, const Network& network, bool) const override {
    LRP_CHECK(network.input_shape().size() == 3, s.at, ": ROAD needs image inputs [channels, height, width]; the "
              "model's input is ", to_string(network.input_shape()));
    LRP_CHECK(s.number("first") <= s.number("last"), s.at, ": first (", s.number("first"), ") is above last (",
              s.number("last"), ")");
    LRP_CHECK(s.number("last") < 100, s.at, ".last must be below 100: removing every pixel leaves nothing to impute from");
  }

 protected:
  static std::vector<double> percentages(const MetricSettings& s) {
    std::vector<double> p;
    for (Index k = 0;; ++k) {
      const double v = s.number("first") + static_cast<double>(k) * s.number("step");
      if (v > s.number("last") + 1e-9) break;
      p.push_back(v);
    }
    return p;
  }

  void score(const Range& range, std::span<const MethodView> methods,
             std::span<ScoreValues* const> values) const override {
    const MetricSettings& s = range.settings;
    const Shape& shape = range.run.network.input_shape();
    const std::vector<double> shares = percentages(s);
    const Index pixels = shape[1] * shape[2], channels = shape[0];
    const std::vector<Index> counts = road_counts(pixels, shares);
    const std::vector<std::vector<Index>> units = perturbation_regions(shape, 1);
    // The noise of each sample, order and share: drawn once, the same for every method.
    std::vector<RowMatrixXd> noise[2];
    for (int o = 0; o < 2; ++o)
      for (Index i = 0; i < range.count; ++i) {
        RowMatrixXd& z = noise[o].emplace_back(counts.size(), channels * counts.back());
        for (std::size_t l = 0; l < counts.size(); ++l) {
          std::mt19937_64 rng(sample_seed(s.seed, range.sample_ids[static_cast<std::size_t>(i)],
                                          kRoadNoiseStream + static_cast<std::uint64_t>(o) * 4096 + l));
          for (Index c = 0; c < channels * counts[l]; ++c) z(static_cast<Index>(l), c) = s.number("noise") * standard_normal(rng);
        }
      }
    for (std::size_t k = 0; k < methods.size(); ++k) {
      if (values[k] == nullptr) continue;
      const IndexMatrix morf = unit_orders(range.relevance(methods[k]), units, false, range.sample_ids, s.seed, kRoadTieStream);
      const IndexMatrix lerf = morf.rowwise().reverse();
      for (int o = 0; o < 2; ++o) {
        const Road r = road(range.run.network, range.inputs, range.targets, o == 0 ? morf : lerf, counts, noise[o],
                            range.run.threads);
        ScoreValues& v = *values[k];
        v.curve(static_cast<std::size_t>(o)).middleRows(range.begin, range.count) = r.correct;
        v.curve(2 + static_cast<std::size_t>(o)).middleRows(range.begin, range.count) = r.probability;
        v.score(static_cast<std::size_t>(o)).segment(range.begin, range.count) = r.correct.rowwise().mean();
      }
      for (std::size_t l = 0; l < shares.size(); ++l)
        values[k]->curve(4).block(range.begin, static_cast<Index>(l), range.count, 1).setConstant(shares[l]);
    }
  }
};

}  // namespace

const Metric& road_metric() {
  static const RoadMetric metric;
  return metric;
}

}  // namespace lrp
