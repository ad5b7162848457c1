// The shared shape of the configurable metrics (docs/metrics.md, "The metric suite"): per sample a
// few named scores (the first is the headline the console table shows) and optionally named
// curves, computed after explaining over each rank's range of samples, for every evaluated method
// at once so that work that does not depend on the relevance (a subset's perturbed forward pass,
// a noise image) is done once for all methods. ScoreValues packs, summarizes, checks and writes
// them the same way for every such metric; a metric only says what its scores are and computes
// them. Private to lrp::eval.
#pragma once

#include "lrp/core/progress.hpp"
#include "lrp/eval/metric.hpp"

#include <chrono>
#include <functional>

namespace lrp {

// One method's scores and curves of one metric, for all N samples.
class ScoreValues final : public MetricValues {
 public:
  struct Curve {
    std::string name;
    Index length = 0;
  };
  ScoreValues(const Metric& metric, const MetricSettings& settings, Index n, const std::vector<std::string>& scores,
              const std::vector<Curve>& curves);
  // Not computed (NaN/Inf relevance); the group says why.
  ScoreValues(const Metric& metric, const MetricSettings& settings, std::string skipped);

  bool skipped() const { return !skipped_.empty(); }
  Eigen::VectorXd& score(std::size_t k) { return scores_[k]; }
  const Eigen::VectorXd& score(std::size_t k) const { return scores_[k]; }
  Eigen::MatrixXd& curve(std::size_t k) { return curves_[k]; }
  const Eigen::MatrixXd& curve(std::size_t k) const { return curves_[k]; }
  const std::vector<Summary>& summaries() const { return summaries_; }

  void visit(Archive& archive, Index begin, Index count) override;
  void finish(const MethodView& method) override;
  void check(const MethodView& method) const override;
  void write(h5::File& file, const MetricRun& run, const MethodView& method) const override;
  void add_to(MethodSummary& summary) const override;

 private:
  const Metric& metric_;
  const MetricSettings& settings_;
  std::string skipped_;
  std::vector<std::string> names_;
  std::vector<Eigen::VectorXd> scores_;  // [N] each
  std::vector<Curve> curve_shapes_;
  std::vector<Eigen::MatrixXd> curves_;  // N × length each
  std::vector<Summary> summaries_;
};

class ScoreMetric : public Metric {
 public:
  const char* name() const override { return config_key(); }  // one name: its key, its group, its stage
  When when() const override { return When::kAfterExplaining; }
  bool applies(const MetricRun& run) const override { return run.plan.settings.count(config_key()) > 0; }
  const char* shared_stage() const override { return config_key(); }
  std::unique_ptr<MetricValues> make_values(const MetricRun& run, const MethodView& method) const override;
  double compute(const MetricRun& run, Index begin, Index count, std::span<const MethodView> methods,
                 std::span<MetricValues* const> values) const override;

  // compute()'s progress counts passes over a sample of the range: passes() per evaluated method
  // (e.g. ROAD's MoRF and LeRF curves: 2) and shared_passes() for the work the methods share (e.g.
  // faithfulness correlation's perturbed forward passes). evaluate_copies advances it by a sample
  // as it finishes one; work that does not go through it calls advance_progress.
  virtual Index passes(const MetricRun&, const MetricSettings&) const { return 1; }
  virtual Index shared_passes() const { return 0; }

  // The per-sample scores (the first is the headline) and curves this metric stores.
  virtual std::vector<std::string> score_names() const = 0;
  virtual std::vector<ScoreValues::Curve> curves(const MetricRun&, const MetricSettings&) const { return {}; }

  // The curves drawn (each: the methods' mean curves in <metric>_<curve>.svg of the heatmaps folder).
  struct Plot {
    std::size_t curve = 0;
    std::string name, x_label, y_label;
  };
  virtual std::vector<Plot> plots() const { return {}; }
  void draw(const MetricRun& run, std::span<const MethodView> methods, std::span<const MetricValues* const> values,
            std::map<std::string, std::string>& pictures) const override;

 protected:
  // The samples [begin, begin + count) of every method (values[k] null: not for method k); row i of
  // a value is sample begin + i.
  struct Range {
    const MetricRun& run;
    const MetricSettings& settings;
    Index begin = 0, count = 0;
    Tensor inputs;                 // the range's samples, network units
    std::vector<Index> targets, sample_ids;
    Tensor relevance(const MethodView& method) const;  // the range's rows of a method's relevance
  };
  virtual void score(const Range& range, std::span<const MethodView> methods,
                     std::span<ScoreValues* const> values) const = 0;
};

// ---------------------------------------------------------------- shared tools

// `n` more passes over a sample done, on the progress of compute() (none outside it).
inline void advance_progress(Index n) {
  if (Progress* progress = current_progress()) progress->advance(n);
}

// f on perturbed copies of each sample, in forward passes that hold copies of one sample only (so
// the numbers do not depend on the batch, the range or the threads): copy j of sample i starts as
// x_i and make_copy(i, j, row) perturbs it. Fills the N × copies matrices that are not null with the
// target's logit, its softmax probability and the predicted class (argmax, first on ties).
struct CopyOutputs {
  Eigen::MatrixXd* logit = nullptr;
  Eigen::MatrixXd* probability = nullptr;
  IndexMatrix* predicted = nullptr;
};
void evaluate_copies(const Network& network, const Tensor& x, const std::vector<Index>& targets, Index copies,
                     int threads, const std::function<void(Index sample, Index copy, Scalar* row)>& make_copy,
                     const CopyOutputs& out, Index rows_per_pass = 256);

// Cumulative perturbation: copy k = 0..steps of sample i is base_i with the features of the units
// order(i, 0 .. min(k·per_step, units) − 1) set to substrate_i's values (base and substrate: N ×
// input shape). Fills the N × (steps + 1) target logits and softmax probabilities (null: not wanted).
void cumulative_curves(const Network& network, const Tensor& base, const Tensor& substrate,
                       const std::vector<Index>& targets, const std::vector<std::vector<Index>>& units,
                       const IndexMatrix& order, Index per_step, Index steps, int threads, const CopyOutputs& out);

// A raw-unit value (e.g. black = 0) in network units, per feature of a per-sample shape.
std::vector<Scalar> raw_to_network(const MetricPlan& plan, const Shape& shape, double raw);

// The parameters `fill` (min | mean | constant, first_choice first) and `value` (the constant, raw
// units) of a metric that replaces features, and the fills of a range they give.
std::vector<MetricParameter> fill_parameters(const std::string& first_choice);
Tensor range_fill(const MetricRun& run, const MetricSettings& settings, const Tensor& x);

}  // namespace lrp
