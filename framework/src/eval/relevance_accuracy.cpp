// Relevance accuracy (docs/metrics.md, "Relevance accuracy") on data with known relevant steps, and
// its entry in the metric table.
#include "lrp/eval/metrics.hpp"

#include "lrp/core/error.hpp"
#include "lrp/core/progress.hpp"
#include "lrp/core/random.hpp"
#include "lrp/eval/metric.hpp"
#include "lrp/io/hdf5.hpp"

#include <algorithm>
#include <cmath>

namespace lrp {

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

}  // namespace

Eigen::VectorXd relevance_accuracy(const Tensor& relevance, const std::vector<std::vector<Index>>& relevant,
                                   std::uint64_t seed, const std::vector<Index>& sample_ids) {
  const Shape& shape = relevance.shape;
  LRP_CHECK(shape.size() == 1 || shape.size() == 2, "relevance accuracy: relevance of shape ", to_string(shape),
            " is not supported (expected [time steps] or [time steps, features])");
  const Index n = relevance.batch(), steps = shape[0], features = shape.size() == 2 ? shape[1] : 1;
  LRP_CHECK(steps >= 1 && features >= 1 && relevance.features() == steps * features, "relevance accuracy: the relevance is ",
            relevance.batch(), " × ", relevance.features(), " values, which does not fit the shape ", to_string(shape));
  LRP_CHECK(static_cast<Index>(relevant.size()) == n, "relevance accuracy: ", relevant.size(),
            " lists of relevant steps for ", n, " samples");
  LRP_CHECK(static_cast<Index>(sample_ids.size()) == n, "relevance accuracy: ", sample_ids.size(), " sample ids for ", n,
            " samples");
  for (Index i = 0; i < n; ++i) {
    const auto si = static_cast<size_t>(i);
    const std::vector<Index>& r = relevant[si];
    // Messages name the sample by its id in the data source: the position is only the one in this
    // call, a range of the run on one rank.
    LRP_CHECK(sample_ids[si] >= 0, "relevance accuracy: the sample id at position ", i, " is negative (",
              sample_ids[si], ")");
    const Index id = sample_ids[si];
    LRP_CHECK(!r.empty(), "relevance accuracy: sample ", id, " has no relevant steps; expected at least one");
    std::vector<Index> sorted = r;
    std::sort(sorted.begin(), sorted.end());
    for (size_t k = 0; k < sorted.size(); ++k) {
      LRP_CHECK(sorted[k] >= 0 && sorted[k] < steps, "relevance accuracy: relevant step ", sorted[k], " of sample ", id,
                " is out of range [0, ", steps, ")");
      LRP_CHECK(k == 0 || sorted[k - 1] != sorted[k], "relevance accuracy: relevant step ", sorted[k], " of sample ",
                id, " is listed twice");
    }
  }

  Eigen::VectorXd accuracy(n);
  std::vector<double> scores(static_cast<size_t>(steps));
  std::vector<char> is_relevant(static_cast<size_t>(steps));
  for (Index i = 0; i < n; ++i) {
    const auto si = static_cast<size_t>(i);
    const Scalar* row = relevance.data.row(i).data();
    bool finite = true;
    for (Index t = 0; t < steps; ++t) {
      double sum = 0.0;
      for (Index d = 0; d < features; ++d) sum += static_cast<double>(row[t * features + d]);
      scores[static_cast<size_t>(t)] = sum;
      finite = finite && std::isfinite(sum);  // also false for a NaN or ±Inf value in the step
    }
    if (!finite) {
      accuracy[i] = kNaN;
      continue;
    }
    // Descending score, ties by the seeded key (region_order's morf order).
    const std::vector<Index> order =
        region_order(scores, RegionOrder::kMorf, sample_seed(seed, sample_ids[si], kRelevanceAccuracyTieStream));
    std::fill(is_relevant.begin(), is_relevant.end(), 0);
    for (const Index t : relevant[si]) is_relevant[static_cast<size_t>(t)] = 1;
    const auto k = static_cast<Index>(relevant[si].size());
    Index hits = 0;
    for (Index j = 0; j < k; ++j) hits += is_relevant[static_cast<size_t>(order[static_cast<size_t>(j)])];
    accuracy[i] = static_cast<double>(hits) / static_cast<double>(k);
  }
  return accuracy;
}

// ---------------------------------------------------------------- the metric table's entry

namespace {

class RelevanceAccuracyValues final : public MetricValues {
 public:
  explicit RelevanceAccuracyValues(Index n) : accuracy_(n) {}
  void store(const Eigen::VectorXd& accuracy, Index begin) { accuracy_.segment(begin, accuracy.size()) = accuracy; }

  void visit(Archive& archive, Index begin, Index count) override { archive.range(accuracy_, begin, count); }
  void finish(const MethodView&) override { summary_ = summarize(accuracy_); }
  void check(const MethodView& method) const override { check_mean(summary_, "relevance_accuracy", method.name); }
  void add_to(MethodSummary& summary) const override { summary.relevance_accuracy = summary_; }
  void write(h5::File& f, const MetricRun& run, const MethodView& method) const override {
    const std::string g = "/metrics/relevance_accuracy/" + method.name;
    f.write(g + "/accuracy", accuracy_.data(), h5::to_dims(run.row_shape()));
    f.set_double_attribute(g, "mean_accuracy", summary_.mean);
    f.set_double_attribute(g, "se_accuracy", summary_.standard_error);
    f.set_int_attribute(g, "skipped", summary_.skipped);
    f.set_uint_attribute(g, "seed", run.plan.seed);
    f.set_string_attribute(g, "score", "signed sum of relevance over a step's features; ties by seeded key");
  }

 private:
  Eigen::VectorXd accuracy_;  // [N]
  Summary summary_;
};

class RelevanceAccuracyMetric final : public Metric {
 public:
  const char* name() const override { return "relevance_accuracy"; }
  When when() const override { return When::kAfterExplaining; }
  bool applies(const MetricRun& run) const override {
    return !run.relevant.empty() && run.plan.relevance_accuracy.value_or(true);
  }
  std::unique_ptr<MetricValues> make_values(const MetricRun& run, const MethodView& method) const override {
    if (!method.evaluated) return nullptr;
    return std::make_unique<RelevanceAccuracyValues>(run.samples());
  }
  double compute(const MetricRun& run, Index begin, Index count, std::span<const MethodView> methods,
                 std::span<MetricValues* const> values) const override {
    if (count == 0) return 0;
    const auto first = run.relevant.begin() + begin;
    const std::vector<std::vector<Index>> relevant(first, first + count);
    const std::vector<Index> ids(run.sample_ids.begin() + begin, run.sample_ids.begin() + begin + count);
    Index evaluated = 0;
    for (MetricValues* v : values) evaluated += v != nullptr ? 1 : 0;
    Progress progress("relevance_accuracy", count * evaluated, "sample passes");
    for (size_t k = 0; k < methods.size(); ++k) {
      if (values[k] == nullptr) continue;
      const Tensor& r = methods[k].relevance;
      const Eigen::VectorXd accuracy = relevance_accuracy(Tensor(r.shape, r.data.middleRows(begin, count)), relevant,
                                                          run.plan.seed, ids);
      static_cast<RelevanceAccuracyValues*>(values[k])->store(accuracy, begin);
      progress.advance(count);
    }
    return 0;
  }
};

}  // namespace

const Metric& relevance_accuracy_metric() {
  static const RelevanceAccuracyMetric metric;
  return metric;
}

}  // namespace lrp
