// Robustness (docs/metrics.md, "Robustness"): how much an explanation changes when the input is
// perturbed a little. Max- and average-sensitivity (Yeh et al. 2019) and the local Lipschitz
// estimate (Alvarez-Melis & Jaakkola 2018) explain noisy copies of each sample again with the same
// method. The noise of a sample is drawn from its own seeded stream and shared by the methods; the
// copies of one sample are explained in one batch of their own, so the numbers do not depend on the
// range of samples a process computes.
#include "lrp/eval/suite.hpp"

#include "lrp/core/error.hpp"
#include "lrp/core/random.hpp"
#include "score_metric.hpp"

#include <cmath>

namespace lrp {

double sensitivity_ratio(std::span<const double> reference, std::span<const double> perturbed) {
  double difference = 0, norm = 0;
  for (std::size_t f = 0; f < reference.size(); ++f) {
    difference += (reference[f] - perturbed[f]) * (reference[f] - perturbed[f]);
    norm += reference[f] * reference[f];
  }
  return std::sqrt(difference) / std::sqrt(norm);  // NaN (0/0) or Inf for an all-zero reference
}

double lipschitz_ratio(std::span<const double> reference, std::span<const double> perturbed,
                       std::span<const double> x, std::span<const double> x_perturbed) {
  double da = 0, dx = 0;
  for (std::size_t f = 0; f < reference.size(); ++f) da += (reference[f] - perturbed[f]) * (reference[f] - perturbed[f]);
  for (std::size_t f = 0; f < x.size(); ++f) dx += (x[f] - x_perturbed[f]) * (x[f] - x_perturbed[f]);
  return std::sqrt(da) / (std::sqrt(dx) + 1e-10);
}

namespace {

constexpr std::uint64_t kSensitivityNoiseStream = 0x726f'6275'7374'0001ULL;  // "robust" 1
constexpr std::uint64_t kLipschitzNoiseStream = 0x726f'6275'7374'0002ULL;

// The two robustness metrics differ in their noise and their ratio.
class RobustnessMetric : public ScoreMetric {
 protected:
  virtual double noise(std::mt19937_64& rng, const MetricSettings& s) const = 0;  // raw units
  virtual std::uint64_t stream() const = 0;
  virtual bool lipschitz() const = 0;

  void score(const Range& range, std::span<const MethodView> methods,
             std::span<ScoreValues* const> values) const override {
    const MetricSettings& s = range.settings;
    const MetricPlan& plan = range.run.plan;
    const Shape& shape = range.inputs.shape;
    const Index copies = s.whole("samples"), features = range.inputs.features(), plane = features / shape[0];
    const HeatmapPreprocess prep{s.flag("normalise"), s.flag("abs")};
    Network& network = *range.run.mutable_network;
    for (Index i = 0; i < range.count; ++i) {
      const Index id = range.sample_ids[static_cast<std::size_t>(i)];
      // The noisy copies, shared by the methods: noise in raw units, over the channel's std in network units.
      Tensor noisy(copies, shape);
      std::mt19937_64 rng(sample_seed(s.seed, id, stream()));
      for (Index j = 0; j < copies; ++j)
        for (Index f = 0; f < features; ++f) {
          const auto c = static_cast<std::size_t>(f / plane);
          const double std = plan.input_std.size() == 1 ? plan.input_std[0] : plan.input_std[c];
          noisy.data(j, f) = range.inputs.data(i, f) + static_cast<Scalar>(noise(rng, s) / std);
        }
      if (!range.inputs.lengths.empty())
        noisy.lengths.assign(static_cast<std::size_t>(copies), range.inputs.lengths[static_cast<std::size_t>(i)]);
      std::vector<Index> ids(static_cast<std::size_t>(copies)), targets(static_cast<std::size_t>(copies),
                                                                         range.targets[static_cast<std::size_t>(i)]);
      for (Index j = 0; j < copies; ++j) ids[static_cast<std::size_t>(j)] = copy_sample_id(id, j);
      const std::vector<double> x(range.inputs.data.row(i).data(), range.inputs.data.row(i).data() + features);
      for (std::size_t k = 0; k < methods.size(); ++k) {
        if (values[k] == nullptr) continue;
        LRP_CHECK(methods[k].explain != nullptr, config_key(), ": method '", methods[k].name, "' cannot explain again");
        const Tensor again = (*methods[k].explain)(network, noisy, targets, ids, range.run.threads);
        metric_work().explained_rows += copies;
        const Scalar* a0 = methods[k].relevance.data.row(range.begin + i).data();
        const std::vector<double> reference = preprocess_heatmap({a0, static_cast<std::size_t>(features)}, prep);
        double top = -std::numeric_limits<double>::infinity(), sum = 0;
        for (Index j = 0; j < copies; ++j) {
          const std::vector<double> perturbed =
              preprocess_heatmap({again.data.row(j).data(), static_cast<std::size_t>(features)}, prep);
          double r = 0;
          if (lipschitz()) {
            const std::vector<double> xp(noisy.data.row(j).data(), noisy.data.row(j).data() + features);
            r = lipschitz_ratio(reference, perturbed, x, xp);
          } else {
            r = sensitivity_ratio(reference, perturbed);
          }
          top = std::isnan(r) || std::isnan(top) ? std::numeric_limits<double>::quiet_NaN() : std::max(top, r);
          sum += r;
        }
        values[k]->score(0)[range.begin + i] = top;
        advance_progress(1);
        if (!lipschitz()) values[k]->score(1)[range.begin + i] = sum / static_cast<double>(copies);
      }
    }
  }
};

class SensitivityMetric final : public RobustnessMetric {
 public:
  const char* config_key() const override { return "sensitivity"; }
  const char* meaning() const override {
    return "max- and average-sensitivity (Yeh et al. 2019): over noisy copies (uniform noise of the given radius, "
           "raw units), |R(x) - R(x')| / |R(x)|, its maximum and its mean; lower is better";
  }
  std::vector<MetricParameter> parameters() const override {
    using K = MetricParameter::Kind;
    return {{"samples", K::kWhole, 50, 1, 1e6, {}, "noisy copies per sample"},
            {"radius", K::kNumber, 0.2, 0, 1e300, {}, "noise uniform in [-radius, radius], raw units"},
            {"normalise", K::kFlag, 0, 0, 1, {}, "divide each map by its largest |R| first"},
            {"abs", K::kFlag, 0, 0, 1, {}, "take |R| first"}};
  }
  std::vector<std::string> score_names() const override { return {"max", "avg"}; }

 protected:
  double noise(std::mt19937_64& rng, const MetricSettings& s) const override {
    return s.number("radius") * (2.0 * uniform01(rng) - 1.0);
  }
  std::uint64_t stream() const override { return kSensitivityNoiseStream; }
  bool lipschitz() const override { return false; }
};

class LocalLipschitzMetric final : public RobustnessMetric {
 public:
  const char* config_key() const override { return "local_lipschitz"; }
  const char* meaning() const override {
    return "local Lipschitz estimate (Alvarez-Melis & Jaakkola 2018): over noisy copies (Gaussian noise, raw units), "
           "the largest |R(x) - R(x')| / |x - x'|; lower is better";
  }
  std::vector<MetricParameter> parameters() const override {
    using K = MetricParameter::Kind;
    return {{"samples", K::kWhole, 50, 1, 1e6, {}, "noisy copies per sample"},
            {"std", K::kNumber, 0.1, 0, 1e300, {}, "standard deviation of the Gaussian noise, raw units"},
            {"normalise", K::kFlag, 1, 0, 1, {}, "divide each map by its largest |R| first"},
            {"abs", K::kFlag, 0, 0, 1, {}, "take |R| first"}};
  }
  std::vector<std::string> score_names() const override { return {"local_lipschitz"}; }

 protected:
  double noise(std::mt19937_64& rng, const MetricSettings& s) const override {
    return s.number("std") * standard_normal(rng);
  }
  std::uint64_t stream() const override { return kLipschitzNoiseStream; }
  bool lipschitz() const override { return true; }
};

}  // namespace

const Metric& sensitivity_metric() {
  static const SensitivityMetric metric;
  return metric;
}
const Metric& local_lipschitz_metric() {
  static const LocalLipschitzMetric metric;
  return metric;
}

}  // namespace lrp
