// The metric table: every metric an experiment computes per method (conservation, relevance
// accuracy, pixel flipping), behind one interface, so that the experiment runner knows no metric
// by name. An entry says when it applies (from the run's MetricPlan), computes its per-sample
// results (while the methods explain, batch by batch, or afterwards, over a range of samples),
// packs them for the exchange between ranks (one visit(Archive&) for both directions), summarizes
// them, and writes its group of the results file. metric_table() lists the entries; adding a
// metric is one file under framework/src/eval/ and one line there.
#pragma once

#include "lrp/eval/archive.hpp"
#include "lrp/eval/metrics.hpp"

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace lrp {

namespace h5 {
class File;
}

// ---------------------------------------------------------------- configurable metrics

// One parameter of a metric configured by its own entry `evaluate.<metric>: true | {key: value}`.
// The metric lists them (Metric::parameters); the config reader checks every key, type and range
// against the list and fills in the defaults, and the docs' key tables are written from it.
struct MetricParameter {
  enum class Kind { kNumber, kWhole, kFlag, kChoice };
  std::string key;
  Kind kind = Kind::kNumber;
  double default_number = 0;        // kNumber, kWhole, kFlag (0 or 1)
  double low = 0, high = 0;          // kNumber, kWhole: the inclusive range
  std::vector<std::string> choices;  // kChoice: the allowed values; the first is the default
  std::string meaning;               // one line, for messages and docs
};

// One configured metric: every parameter of its list resolved (given or default).
struct MetricSettings {
  std::string at;  // where its entry is in the config ("config.yaml:12:3: evaluate.selectivity")
  std::map<std::string, double> numbers;       // kNumber, kWhole, kFlag
  std::map<std::string, std::string> choices;  // kChoice
  std::uint64_t seed = 0;                      // its `seed` key, or the experiment's seed

  double number(const std::string& key) const;
  Index whole(const std::string& key) const { return static_cast<Index>(number(key)); }
  bool flag(const std::string& key) const { return number(key) != 0; }
  const std::string& choice(const std::string& key) const;
};

// Which metrics a run computes, and with what: the experiment fills it from its config.
struct MetricPlan {
  bool conservation = false;
  struct PixelFlipping {
    PixelFlippingOptions options;              // with the run's threads
    FillValues fill;                           // network units
    double fill_low = 0, fill_high = 1, fill_value = 0;  // raw units, as the results file records them
  };
  std::optional<PixelFlipping> pixel_flipping;
  std::optional<bool> relevance_accuracy;  // unset: on when the data has known relevant steps
  std::uint64_t seed = 0;                  // the experiment's seed
  // The metrics configured by their own entries, by config key (Metric::config_key).
  std::map<std::string, MetricSettings> settings;
  // The model's input normalization: raw-unit baselines (e.g. black = raw 0) → network units.
  std::vector<double> input_mean{0.0}, input_std{1.0};
  double raw_min = 0, raw_max = 1;
};

// What the metrics see of a run. The explain stage fills the targets; after it (and the exchange)
// every rank holds all of it.
struct MetricRun {
  const MetricPlan& plan;
  const Network& network;
  // The same network for the metrics that change its parameters for a while (model parameter
  // randomisation): they restore every parameter bit for bit before they return.
  Network* mutable_network = nullptr;
  const Tensor& inputs;                              // N × input shape, network units
  const std::vector<Index>& sample_ids;              // per sample, its index in the data source
  const std::vector<Index>& targets;                 // per sample, the explained class
  const std::vector<std::vector<Index>>& relevant;   // known relevant steps per sample (empty: none)
  int threads = 1;
  // Ground-truth object masks, N × input features with values 0 or 1 (Dataset::masks; 0 rows: none).
  const Matrix* masks = nullptr;
  // The leading dimensions of a per-row dataset in the results file: [samples()], or [N, K] when
  // every sample is explained for a set of K targets (row i·K + k is sample i's k-th target).
  // Empty means [samples()].
  std::vector<Index> leading_rows = {};
  Index samples() const { return inputs.batch(); }
  // The shape a per-row array is written with: the leading dimensions, then `trailing`.
  std::vector<Index> row_shape(std::initializer_list<Index> trailing = {}) const;
};

// Explains a batch again, as the run explained it (robustness and randomisation metrics): the
// method's relevance of x (network units, N × input shape) for `targets` on `network`, which is the
// run's network or the same layers with other parameters. sample_ids seed the methods that draw
// (random, smoothgrad): a perturbed copy gets an id of its own (copy_sample_id) so it draws afresh.
using Reexplain = std::function<Tensor(Network& network, const Tensor& x, const std::vector<Index>& targets,
                                       const std::vector<Index>& sample_ids, int threads)>;

// The id a perturbed copy of a sample is explained under (copy ≥ 0): a SplitMix64 mix of the
// two, in [2^40, 2^41), so that it never collides with an index of a data source, and methods that
// draw per sample id draw afresh for every copy, reproducibly.
Index copy_sample_id(Index sample_id, Index copy);

// One method as the metrics see it (a view of the experiment's per-method record).
struct MethodView {
  const std::string& name;
  bool evaluated = false;                          // listed in evaluate.methods
  bool lrp = false;                                // an LRP explanation: it has a layer ledger
  const std::vector<LedgerShare>* ledger_shares;   // LRP: per layer, what its rule reports
  const Tensor& relevance;                         // N × input shape
  const InputLedger& input;                        // the input side of the ledger, every sample
  const Eigen::VectorXd& state_sum;                // per sample, relevance of initial states (0: none)
  bool has_state = false;                          // some rule reported initial-state relevance
  Index nonfinite = 0;                             // NaN/Inf relevance values
  const Reexplain* explain = nullptr;              // explains again (null: the run cannot)
};

// One explained batch of one method, as the explain stage hands it to the metrics that compute
// while the methods explain.
struct ExplainedBatch {
  Index begin = 0, rows = 0;                  // the samples [begin, begin + rows)
  const ForwardPass& pass;
  const Explanation* explanation = nullptr;   // LRP (with layer relevance when a metric asked); else null
};

// The per-method summaries of the console table (ExperimentReport).
struct MethodSummary {
  std::string name;
  double explain_seconds = 0;
  Summary relative_error;
  std::optional<PixelFlippingSummary> pixel_flipping;
  std::optional<Summary> relevance_accuracy;
  // The configurable metrics' scores ("sparseness", "selectivity.auc", ...), in table order.
  std::vector<std::pair<std::string, Summary>> scores;
  double pixel_flipping_seconds = 0;
  Index nonfinite = 0;  // NaN/Inf values in the relevance (and layer maps for LRP)
  // Conservation of an LRP method: per value of its ledger (the columns of layer_sums: the input,
  // then each layer's output), the mean over samples of Σ R / f_c(x) (samples with f_c(x) = 0 or a
  // non-finite ratio left out; NaN when none is left). Empty for other methods.
  std::vector<double> layer_ledger{};
};

// One method's results of one metric, for all N samples, filled range by range.
class MetricValues {
 public:
  virtual ~MetricValues() = default;
  // The per-sample results of samples [begin, begin + count), in one order for packing and for
  // unpacking (the layout may depend only on what every rank knows before the exchange).
  virtual void visit(Archive& archive, Index begin, Index count) = 0;
  // Once every rank holds every sample: summaries and logs.
  virtual void finish(const MethodView& method) = 0;
  // That the means are numbers: a mean of NaN (no finite sample) or ±Inf stops the run (check_mean).
  virtual void check(const MethodView& method) const = 0;
  // The method's group of this metric in the results file.
  virtual void write(h5::File& file, const MetricRun& run, const MethodView& method) const = 0;
  // The method's line of the console table.
  virtual void add_to(MethodSummary& summary) const = 0;
  double seconds = 0;  // the method's time in this metric (summed over ranks by the runner)
};

class Metric {
 public:
  enum class When { kWhileExplaining, kAfterExplaining };
  virtual ~Metric() = default;
  virtual const char* name() const = 0;
  virtual When when() const = 0;
  // Whether the run computes it at all (from the plan and the data).
  virtual bool applies(const MetricRun& run) const = 0;
  // The values of one method (nullptr: not for this method, e.g. a method not evaluated).
  virtual std::unique_ptr<MetricValues> make_values(const MetricRun& run, const MethodView& method) const = 0;
  // kWhileExplaining: whether an LRP method must keep its layer relevance, and one batch's results.
  virtual bool needs_layer_relevance() const { return false; }
  virtual void add_batch(const MetricRun&, const ExplainedBatch&, const MethodView&, MetricValues&) const {}
  // kAfterExplaining: this rank's samples [begin, begin + count) of every method at once (values[k]
  // null: not for method k); returns the seconds of work shared by the methods (pixel flipping's
  // random-order baseline).
  virtual double compute(const MetricRun&, Index /*begin*/, Index /*count*/, std::span<const MethodView>,
                         std::span<MetricValues* const>) const {
    return 0;
  }
  // Its pictures in the heatmaps folder (file name → bytes), drawn by rank 0 when the run draws
  // pictures; values[k] as for compute().
  virtual void draw(const MetricRun&, std::span<const MethodView>, std::span<const MetricValues* const>,
                    std::map<std::string, std::string>& /*pictures*/) const {}
  // The stage names in ExperimentReport::stage_seconds: the methods' seconds summed, and the
  // shared seconds (nullptr: not reported).
  virtual const char* stage() const { return nullptr; }
  virtual const char* shared_stage() const { return nullptr; }
  // A metric configured by its own entry evaluate.<config_key()> (nullptr: the experiment config
  // reads it, as conservation and pixel flipping), with these parameters and this one-line meaning.
  virtual const char* config_key() const { return nullptr; }
  virtual std::vector<MetricParameter> parameters() const { return {}; }
  virtual const char* meaning() const { return ""; }
  // Before anything is explained: an lrp::Error naming settings.at and the key when the metric
  // cannot run on this network and data (a parameter beyond the input's size, no ground truth, ...).
  virtual void validate(const MetricSettings& /*settings*/, const Network& /*network*/,
                        bool /*has_masks*/) const {}
};

// What the metrics computed, counted for the run's report: rows of perturbed copies evaluated by a
// forward pass, and samples explained again (robustness, randomisation). Counted on every thread.
struct MetricWork {
  std::atomic<std::int64_t> forward_rows{0}, explained_rows{0};
};
MetricWork& metric_work();

// A metric's mean over the samples must be a number: NaN (no sample gave a finite value) or ±Inf is
// an lrp::Error naming the metric and the method.
void check_mean(const Summary& summary, const std::string& metric, const std::string& method);

// The metrics, in the order the runner computes, checks and writes them.
const std::vector<const Metric*>& metric_table();

// The entries (one file each under framework/src/eval/).
const Metric& conservation_metric();
const Metric& relevance_accuracy_metric();
const Metric& pixel_flipping_metric();
const Metric& sparseness_metric();  // complexity_metrics.cpp
const Metric& complexity_metric();
const Metric& effective_complexity_metric();
const Metric& faithfulness_correlation_metric();  // faithfulness_metrics.cpp
const Metric& sensitivity_n_metric();
const Metric& selectivity_metric();
const Metric& irof_metric();
const Metric& insertion_deletion_metric();  // insertion_deletion.cpp
const Metric& road_metric();                 // road.cpp
const Metric& sensitivity_metric();  // robustness_metrics.cpp
const Metric& local_lipschitz_metric();
const Metric& model_randomisation_metric();  // randomisation_metrics.cpp
const Metric& random_logit_metric();
const Metric& relevance_mass_accuracy_metric();  // localisation_metrics.cpp
const Metric& relevance_rank_accuracy_metric();
const Metric& pointing_game_metric();
const Metric& top_k_intersection_metric();
const Metric& attribution_localisation_metric();
const Metric& roc_auc_metric();

}  // namespace lrp
