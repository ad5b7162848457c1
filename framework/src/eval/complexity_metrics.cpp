// Complexity (docs/metrics.md, "Complexity"): sparseness, complexity and effective complexity of a
// heatmap. They read the heatmap only, so they need no forward pass.
#include "lrp/eval/suite.hpp"

#include "lrp/eval/metric.hpp"
#include "score_metric.hpp"

#include <algorithm>
#include <cmath>

namespace lrp {

std::vector<double> preprocess_heatmap(std::span<const Scalar> a, const HeatmapPreprocess& p) {
  std::vector<double> b(a.begin(), a.end());
  if (p.normalise) {
    double top = 0.0;
    for (const double v : b) top = std::max(top, std::abs(v));
    if (top > 0.0)
      for (double& v : b) v /= top;
  }
  if (p.absolute)
    for (double& v : b) v = std::abs(v);
  return b;
}

double sparseness(std::span<const Scalar> a, const HeatmapPreprocess& p) {
  std::vector<double> b = preprocess_heatmap(a, p);
  for (double& v : b) v += 1e-7;
  std::sort(b.begin(), b.end());
  const auto n = static_cast<double>(b.size());
  double weighted = 0.0, total = 0.0;
  for (std::size_t k = 0; k < b.size(); ++k) {
    weighted += (2.0 * static_cast<double>(k + 1) - n - 1.0) * b[k];
    total += b[k];
  }
  return weighted / (n * total);
}

double complexity(std::span<const Scalar> a, const HeatmapPreprocess& p) {
  const std::vector<double> b = preprocess_heatmap(a, p);
  double total = 0.0;
  for (const double v : b) total += std::abs(v);
  double entropy = 0.0;
  for (const double v : b) {
    const double q = v / total;  // NaN for an all-zero heatmap: the entropy is undefined
    entropy -= q * std::log(q + 1e-12);
  }
  return entropy;
}

double effective_complexity(std::span<const Scalar> a, const HeatmapPreprocess& p, double eps) {
  const std::vector<double> b = preprocess_heatmap(a, p);
  return static_cast<double>(std::count_if(b.begin(), b.end(), [eps](double v) { return v > eps; }));
}

namespace {

std::vector<MetricParameter> preprocess_parameters() {
  using K = MetricParameter::Kind;
  return {{"normalise", K::kFlag, 1, 0, 1, {}, "divide the heatmap by its largest |R| first"},
          {"abs", K::kFlag, 1, 0, 1, {}, "take |R| (after normalising)"}};
}

HeatmapPreprocess preprocess_of(const MetricSettings& s) { return {s.flag("normalise"), s.flag("abs")}; }

// A score of each heatmap alone.
class HeatmapScoreMetric : public ScoreMetric {
 public:
  std::vector<std::string> score_names() const override { return {config_key()}; }
  virtual double of(std::span<const Scalar> a, const MetricSettings& s) const = 0;

 protected:
  void score(const Range& range, std::span<const MethodView> methods,
             std::span<ScoreValues* const> values) const override {
    for (std::size_t k = 0; k < methods.size(); ++k) {
      if (values[k] == nullptr) continue;
      const Matrix& r = methods[k].relevance.data;
      for (Index i = 0; i < range.count; ++i)
        values[k]->score(0)[range.begin + i] =
            of(std::span<const Scalar>(r.row(range.begin + i).data(), static_cast<std::size_t>(r.cols())),
               range.settings);
      advance_progress(range.count);
    }
  }
};

class SparsenessMetric final : public HeatmapScoreMetric {
 public:
  const char* config_key() const override { return "sparseness"; }
  const char* meaning() const override {
    return "Gini index of |R| (Chalasani et al. 2020); in [0, 1), higher is sparser";
  }
  std::vector<MetricParameter> parameters() const override { return preprocess_parameters(); }
  double of(std::span<const Scalar> a, const MetricSettings& s) const override { return sparseness(a, preprocess_of(s)); }
};

class ComplexityMetric final : public HeatmapScoreMetric {
 public:
  const char* config_key() const override { return "complexity"; }
  const char* meaning() const override {
    return "entropy of |R| / sum |R| (Bhatt et al. 2020); in [0, ln features], lower is simpler";
  }
  std::vector<MetricParameter> parameters() const override { return preprocess_parameters(); }
  double of(std::span<const Scalar> a, const MetricSettings& s) const override { return complexity(a, preprocess_of(s)); }
};

class EffectiveComplexityMetric final : public HeatmapScoreMetric {
 public:
  const char* config_key() const override { return "effective_complexity"; }
  const char* meaning() const override {
    return "number of features with |R| / max |R| above eps (Nguyen & Martinez 2020); lower is simpler";
  }
  std::vector<MetricParameter> parameters() const override {
    std::vector<MetricParameter> p = preprocess_parameters();
    p.push_back({"eps", MetricParameter::Kind::kNumber, 1e-5, 0, 1e300, {}, "threshold on the preprocessed heatmap"});
    return p;
  }
  double of(std::span<const Scalar> a, const MetricSettings& s) const override {
    return effective_complexity(a, preprocess_of(s), s.number("eps"));
  }
};

}  // namespace

const Metric& sparseness_metric() {
  static const SparsenessMetric metric;
  return metric;
}
const Metric& complexity_metric() {
  static const ComplexityMetric metric;
  return metric;
}
const Metric& effective_complexity_metric() {
  static const EffectiveComplexityMetric metric;
  return metric;
}

}  // namespace lrp
