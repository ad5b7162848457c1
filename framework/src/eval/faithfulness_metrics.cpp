// Faithfulness (docs/metrics.md, "Faithfulness"): faithfulness correlation (Bhatt et al. 2020),
// sensitivity-n (Ancona et al. 2018), selectivity (Montavon et al. 2018) and IROF on a grid of
// regions (Rieger & Hansen 2020). The random sets of the first two do not depend on the relevance,
// so their perturbed forward passes are computed once per sample and shared by every method.
#include "lrp/eval/suite.hpp"

#include "lrp/core/error.hpp"
#include "lrp/core/random.hpp"
#include "score_metric.hpp"

#include <cmath>

namespace lrp {

namespace {

constexpr std::uint64_t kFaithfulnessCorrelationStream = 0x6661'6974'6863'0000ULL;  // "faithc" + run
constexpr std::uint64_t kSensitivityNStream = 0x7365'6e73'6e00'0000ULL;             // "sensn" + size·K + k
constexpr std::uint64_t kSelectivityTieStream = 0x7365'6c65'6374'0001ULL;
constexpr std::uint64_t kIrofTieStream = 0x6972'6f66'0000'0001ULL;

MetricParameter output_parameter(const std::string& first) {
  return {"output", MetricParameter::Kind::kChoice, 0, 0, 0,
          first == "logit" ? std::vector<std::string>{"logit", "probability"}
                           : std::vector<std::string>{"probability", "logit"},
          "the target's output the perturbations change: its logit or its softmax probability"};
}

// The sizes of sensitivity-n: `count` sizes spaced evenly on a log scale from 1 to the largest
// (⌊max_fraction · features⌋), rounded, duplicates dropped.
std::vector<Index> sensitivity_sizes(Index features, double max_fraction, Index count) {
  const Index largest = std::max<Index>(1, static_cast<Index>(std::floor(max_fraction * static_cast<double>(features))));
  std::vector<Index> sizes;
  for (Index k = 0; k < count; ++k) {
    const double t = count == 1 ? 1.0 : static_cast<double>(k) / static_cast<double>(count - 1);
    const auto n = static_cast<Index>(std::llround(std::exp(t * std::log(static_cast<double>(largest)))));
    if (sizes.empty() || sizes.back() != n) sizes.push_back(n);
  }
  return sizes;
}

// Faithfulness correlation and sensitivity-n: random feature sets (drawn per sample from its own
// stream, so shared by the methods) replaced by the fill, and the target's output drop for each.
class SetCorrelationMetric : public ScoreMetric {
 public:
  // The perturbed forward passes are shared; each method's part is a few sums per sample.
  Index passes(const MetricRun&, const MetricSettings&) const override { return 0; }
  Index shared_passes() const override { return 1; }

 protected:
  struct Drops {
    std::vector<FeatureSets> sets;  // per sample
    Eigen::MatrixXd drops;          // N × sets
  };
  static Drops drops(const Range& range, const std::vector<Index>& sizes, std::uint64_t stream) {
    const MetricSettings& s = range.settings;
    Drops d;
    for (Index i = 0; i < range.count; ++i)
      d.sets.push_back(random_feature_sets(range.inputs.features(), sizes,
                                           sample_seed(s.seed, range.sample_ids[static_cast<std::size_t>(i)], stream)));
    d.drops = set_output_drops(range.run.network, range.inputs, range.targets, range_fill(range.run, s, range.inputs),
                               d.sets, s.choice("output") == "probability", range.run.threads);
    return d;
  }
  // Pearson's correlation of a's and b's entries [first, first + count) of row i.
  static double correlation(const Eigen::MatrixXd& a, const Eigen::MatrixXd& b, Index i, Index first, Index count) {
    const Eigen::VectorXd x = a.row(i).segment(first, count).transpose(), y = b.row(i).segment(first, count).transpose();
    return pearson({x.data(), static_cast<std::size_t>(count)}, {y.data(), static_cast<std::size_t>(count)});
  }
};

class FaithfulnessCorrelationMetric final : public SetCorrelationMetric {
 public:
  const char* config_key() const override { return "faithfulness_correlation"; }
  const char* meaning() const override {
    return "Pearson correlation over random feature sets between their relevance sum and the output drop when "
           "they are removed (Bhatt et al. 2020); in [-1, 1], higher is better";
  }
  std::vector<MetricParameter> parameters() const override {
    using K = MetricParameter::Kind;
    std::vector<MetricParameter> p{{"runs", K::kWhole, 100, 2, 1e6, {}, "random feature sets per sample"},
                                   {"subset_size", K::kWhole, 224, 1, 1e9, {}, "features per set"},
                                   output_parameter("logit")};
    for (MetricParameter& f : fill_parameters("min")) p.push_back(std::move(f));
    return p;
  }
  std::vector<std::string> score_names() const override { return {"faithfulness_correlation"}; }
  void validate(const MetricSettings& s, const Network& network, bool) const override {
    const Index features = numel(network.input_shape());
    LRP_CHECK(s.whole("subset_size") < features, s.at, ".subset_size = ", s.whole("subset_size"),
              " must be below the input's ", features, " features");
  }

 protected:
  void score(const Range& range, std::span<const MethodView> methods,
             std::span<ScoreValues* const> values) const override {
    const MetricSettings& s = range.settings;
    const Index runs = s.whole("runs");
    const Drops d = drops(range, std::vector<Index>(static_cast<std::size_t>(runs), s.whole("subset_size")),
                          kFaithfulnessCorrelationStream);
    for (std::size_t k = 0; k < methods.size(); ++k) {
      if (values[k] == nullptr) continue;
      const Eigen::MatrixXd sums = set_sums(range.relevance(methods[k]), d.sets);
      for (Index i = 0; i < range.count; ++i) values[k]->score(0)[range.begin + i] = correlation(sums, d.drops, i, 0, runs);
    }
  }
};

class SensitivityNMetric final : public SetCorrelationMetric {
 public:
  const char* config_key() const override { return "sensitivity_n"; }
  const char* meaning() const override {
    return "per set size n, the Pearson correlation over random sets of n features between their relevance sum and "
           "the output drop when they are removed (Ancona et al. 2018); the mean over the sizes, higher is better";
  }
  std::vector<MetricParameter> parameters() const override {
    using K = MetricParameter::Kind;
    std::vector<MetricParameter> p{{"sizes", K::kWhole, 10, 1, 1000, {}, "set sizes, log-spaced from 1"},
                                   {"max_fraction", K::kNumber, 0.8, 1e-9, 1, {}, "largest set, as a share of the features"},
                                   {"subsets", K::kWhole, 50, 2, 1e6, {}, "random sets per size and sample"},
                                   output_parameter("probability")};
    for (MetricParameter& f : fill_parameters("min")) p.push_back(std::move(f));
    return p;
  }
  std::vector<std::string> score_names() const override { return {"sensitivity_n"}; }
  std::vector<Plot> plots() const override { return {{0, "correlation", "set size (index of the log-spaced sizes)", "correlation"}}; }
  std::vector<ScoreValues::Curve> curves(const MetricRun& run, const MetricSettings& s) const override {
    const auto sizes = sensitivity_sizes(numel(run.network.input_shape()), s.number("max_fraction"), s.whole("sizes"));
    return {{"correlation", static_cast<Index>(sizes.size())}, {"sizes", static_cast<Index>(sizes.size())}};
  }

 protected:
  void score(const Range& range, std::span<const MethodView> methods,
             std::span<ScoreValues* const> values) const override {
    const MetricSettings& s = range.settings;
    const Index features = range.inputs.features(), per_size = s.whole("subsets");
    const std::vector<Index> sizes = sensitivity_sizes(features, s.number("max_fraction"), s.whole("sizes"));
    std::vector<Index> all;  // per_size sets of each size, size by size
    for (const Index n : sizes) all.insert(all.end(), static_cast<std::size_t>(per_size), n);
    const Drops d = drops(range, all, kSensitivityNStream);
    for (std::size_t k = 0; k < methods.size(); ++k) {
      if (values[k] == nullptr) continue;
      const Eigen::MatrixXd sums = set_sums(range.relevance(methods[k]), d.sets);
      for (Index i = 0; i < range.count; ++i) {
        double total = 0;
        Index defined = 0;
        for (std::size_t z = 0; z < sizes.size(); ++z) {
          const double r = correlation(sums, d.drops, i, static_cast<Index>(z) * per_size, per_size);
          values[k]->curve(0)(range.begin + i, static_cast<Index>(z)) = r;
          values[k]->curve(1)(range.begin + i, static_cast<Index>(z)) = static_cast<double>(sizes[z]);
          if (std::isnan(r)) continue;  // e.g. every set of this size changed nothing: left out of the mean
          total += r;
          ++defined;
        }
        values[k]->score(0)[range.begin + i] =
            defined > 0 ? total / static_cast<double>(defined) : std::numeric_limits<double>::quiet_NaN();
      }
    }
  }
};

// Selectivity and IROF: the cells of Quantus's patch grid removed cumulatively in order of
// decreasing relevance (summed, or averaged over the cell), the target's probability after each.
class RegionCurveMetric : public ScoreMetric {
 public:
  // side: the default cell side; fill: the default fill; mean: order by mean relevance per cell.
  RegionCurveMetric(Index side, const char* fill, bool mean, std::uint64_t tie_stream)
      : side_(side), fill_(fill), mean_(mean), tie_stream_(tie_stream) {}
  std::vector<MetricParameter> parameters() const override {
    std::vector<MetricParameter> p{
        {"patch", MetricParameter::Kind::kWhole, static_cast<double>(side_), 1, 1e6, {}, "cell side in pixels"}};
    for (MetricParameter& f : fill_parameters(fill_)) p.push_back(std::move(f));
    return p;
  }
  std::vector<Plot> plots() const override { return {{0, "curve", "cells removed", "target probability"}}; }
  std::vector<ScoreValues::Curve> curves(const MetricRun& run, const MetricSettings& s) const override {
    return {{"curve", static_cast<Index>(centred_patches(run.network.input_shape(), s.whole("patch")).size()) + 1}};
  }
  void validate(const MetricSettings& s, const Network& network, bool) const override {
    LRP_CHECK(network.input_shape().size() == 3, s.at, ": ", config_key(),
              " needs image inputs [channels, height, width]; the model's input is ", to_string(network.input_shape()));
    LRP_CHECK(s.whole("patch") <= std::min(network.input_shape()[1], network.input_shape()[2]), s.at, ".patch = ",
              s.whole("patch"), " is larger than the image");
  }

 protected:
  // The score of one sample from its curve (target probability after k = 0..cells removed).
  virtual double score_of(const Eigen::VectorXd& curve) const = 0;

  void score(const Range& range, std::span<const MethodView> methods,
             std::span<ScoreValues* const> values) const override {
    const MetricSettings& s = range.settings;
    const std::vector<std::vector<Index>> units = centred_patches(range.run.network.input_shape(), s.whole("patch"));
    const Tensor fill = range_fill(range.run, s, range.inputs);
    for (std::size_t k = 0; k < methods.size(); ++k) {
      if (values[k] == nullptr) continue;
      const IndexMatrix order = unit_orders(range.relevance(methods[k]), units, mean_, range.sample_ids, s.seed, tie_stream_);
      const Eigen::MatrixXd curve =
          removal_curves(range.run.network, range.inputs, fill, range.targets, units, order, range.run.threads);
      values[k]->curve(0).middleRows(range.begin, range.count) = curve;
      for (Index i = 0; i < range.count; ++i) values[k]->score(0)[range.begin + i] = score_of(curve.row(i).transpose());
    }
  }

 private:
  Index side_;
  const char* fill_;
  bool mean_;
  std::uint64_t tie_stream_;
};

class SelectivityMetric final : public RegionCurveMetric {
 public:
  SelectivityMetric() : RegionCurveMetric(8, "min", false, kSelectivityTieStream) {}
  const char* config_key() const override { return "selectivity"; }
  const char* meaning() const override {
    return "area under the target probability as the most relevant patches are removed one by one (Montavon et al. "
           "2018; Quantus's patches and area); lower is better";
  }
  std::vector<std::string> score_names() const override { return {"auc"}; }

 protected:
  // Quantus's area: the trapezoids over the curve after 1, 2, ..., all patches (not the unperturbed point).
  double score_of(const Eigen::VectorXd& curve) const override { return auc(curve.tail(curve.size() - 1)); }
};

class IrofMetric final : public RegionCurveMetric {
 public:
  IrofMetric() : RegionCurveMetric(4, "mean", true, kIrofTieStream) {}
  const char* config_key() const override { return "irof"; }
  const char* meaning() const override {
    return "area over the target probability, relative to the unperturbed one, as the regions of highest mean "
           "relevance are replaced one by one (Rieger & Hansen 2020, on a grid); in [0, 1] over the share of regions "
           "removed, higher is better";
  }
  std::vector<std::string> score_names() const override { return {"aoc"}; }

 protected:
  // The curve stored is the probability; the score uses it relative to the unperturbed point.
  double score_of(const Eigen::VectorXd& curve) const override { return 1.0 - normalized_auc(curve / curve[0]); }
};

}  // namespace

const Metric& faithfulness_correlation_metric() {
  static const FaithfulnessCorrelationMetric metric;
  return metric;
}
const Metric& sensitivity_n_metric() {
  static const SensitivityNMetric metric;
  return metric;
}
const Metric& selectivity_metric() {
  static const SelectivityMetric metric;
  return metric;
}
const Metric& irof_metric() {
  static const IrofMetric metric;
  return metric;
}

}  // namespace lrp
