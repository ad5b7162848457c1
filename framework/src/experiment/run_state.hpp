// What the stages of an experiment run share (experiment_run.cpp lists the stages; each has its
// own stage_*.cpp). Private to lrp::experiment.
#pragma once

#include "lrp/core/files.hpp"
#include "lrp/eval/metric.hpp"
#include "lrp/experiment/experiment.hpp"

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace lrp {

namespace h5 {
class File;
}

using RunClock = std::chrono::steady_clock;
inline double seconds_since(RunClock::time_point start) {
  return std::chrono::duration<double>(RunClock::now() - start).count();
}

// One method's results: its explanation of every sample, the input side of its conservation
// ledger, and the values of every metric of the table that evaluates it. Each per-sample field is
// listed once, in visit_explained() (the exchange between ranks) and in write() (the results file).
struct MethodRecord {
  MethodRecord(const PreparedMethod& method, bool is_evaluated, Index samples, const Shape& shape,
               std::optional<Explainer> lrp_explainer, Index chunks);

  const PreparedMethod* prepared;
  bool evaluated;                      // listed in evaluate.methods
  std::optional<Explainer> explainer;  // LRP
  Tensor relevance;                    // N × input shape
  InputLedger input;                   // Σ R, the seed, relative error and NaN/Inf count per sample
  Eigen::VectorXd state_sum;           // LRP: relevance of initial states per sample (lstm rules), else 0
  // LRP with output.layer_relevance: per PreparedExperiment::relevance_layers entry, the relevance at
  // that layer's input, N × the input's size.
  std::vector<Matrix> layer_maps;
  bool has_state = false;              // some layer's rule reports initial-state relevance
  std::vector<double> unit_seconds;    // explanation seconds per chunk of samples
  double explain_seconds = 0;          // summed over the chunks (and ranks)
  Index nonfinite = 0;                 // NaN/Inf relevance values, summed over the samples
  // Per entry of metric_table(): its values for this method (null: the metric does not evaluate it).
  std::vector<std::unique_ptr<MetricValues>> metrics;
  Reexplain reexplain;  // explains a batch again (make_reexplain)

  const std::string& name() const { return prepared->config->name; }
  bool lrp() const { return prepared->config->lrp(); }
  MethodView view() const;
  // The explanation of samples [begin, begin + rows) (chunk `chunk`) and the values of the metrics
  // computed while explaining: one list for packing and unpacking.
  void visit_explained(Archive& archive, Index chunk, Index begin, Index rows);
  // /explanations/<name> (with /layers when it holds layer maps; `layers`: their layers) and the
  // method's groups of every metric. Per-row arrays lead with run.row_shape(): [N], or [N, K] with
  // several targets per sample.
  void write(h5::File& file, const MetricRun& run, const Registry& registry, const Network& network,
             const std::vector<Index>& layers) const;
};

struct RunState {
  RunState(const ExperimentConfig& c, const Registry& r, const Cluster& k)
      : config(c), registry(r), cluster(k), start(RunClock::now()) {}

  const ExperimentConfig& config;
  const Registry& registry;
  const Cluster& cluster;
  RunClock::time_point start;
  std::string started;  // UTC, for /meta start_time
  bool writer() const { return cluster.rank() == 0; }  // rank 0 draws the pictures and writes the results

  std::optional<OutputLock> results_lock, heatmaps_lock;
  std::optional<PreparedExperiment> prepared;
  ExperimentReport report;

  // Filled by the explain stage: per sample, the logits and the explained class.
  Matrix logits;
  std::vector<Index> targets;
  std::vector<MethodRecord> methods;
  MetricPlan plan;
  std::optional<MetricRun> metric_run;  // refers to prepared, targets and plan
  std::vector<const Metric*> metrics;   // the entries of metric_table() that apply (others: null)

  // Units of explanation work: (chunk of batch_size samples, method), dealt round-robin over the
  // ranks. A chunk's rows are its samples' rows: batch_size × K with K targets per sample.
  Index chunk_count = 0;
  int owner(Index chunk, std::size_t method) const {
    return static_cast<int>((static_cast<std::size_t>(chunk) * methods.size() + method) %
                            static_cast<std::size_t>(cluster.size()));
  }
  Index chunk_begin(Index chunk) const { return chunk * chunk_size(); }
  Index chunk_rows(Index chunk) const { return std::min(chunk_size(), samples() - chunk_begin(chunk)); }
  Index chunk_size() const { return config.batch_size * per_sample(); }
  // Rows: one per (sample, target); per_sample() = K targets per sample (PreparedExperiment::data).
  Index samples() const { return prepared->data.size(); }
  Index per_sample() const { return prepared->targets_per_sample; }
  // This rank's contiguous range of samples for the metrics computed after explaining.
  Index range_begin() const { return samples() * cluster.rank() / cluster.size(); }
  Index range_count() const { return samples() * (cluster.rank() + 1) / cluster.size() - range_begin(); }

  double forward_seconds = 0;
  double ledger_seconds = 0;    // the input ledger and the metrics computed while explaining
  double exchange_seconds = 0;  // moving results between ranks (0 on one process)
  FolderFiles pictures;         // rank 0: the heatmaps folder's files, written with the results
  // Rank 0, set once by stamp_finish: the run id (/meta run_id, run.txt, the report) and the UTC
  // time the run finished (/meta end_time).
  std::string run_id, finished;
};

// A registry method on one batch, its errors naming the method (stage_explain.cpp).
Tensor run_method(const PreparedMethod& pm, const MethodBatch& batch, const Registry& registry);
// The method explaining a batch again, as the explain stage does (MethodView::explain).
Reexplain make_reexplain(const PreparedMethod& pm, const Registry& registry);
// Where the forward pass of a batch (rows: samples `ids`) first turns finite inputs into NaN or
// ±Inf, naming the sample and the layer: the message of the error that stops explaining.
std::string nonfinite_forward(const Network& network, const ForwardPass& pass, const std::vector<Index>& ids);

// Sets run.run_id and run.finished the first time it is called (stage_write.cpp): the report page
// and the results file show the same ones.
void stamp_finish(RunState& run);
// The machine's name (/meta host and the report's provenance).
std::string host_name();
// The versions of the libraries and the compiler lrplab was built with (/meta libraries, the report).
std::string library_versions();
// The commit lrplab was built from (generated by cmake/git_commit.cmake; /meta and the report).
const char* git_commit();

// The names of the metric scores any method has, in the order the methods list them: the rows of
// the scores table (the console's format_report and the HTML report).
std::vector<std::string> score_rows(const ExperimentReport& r);

// The stages, in the order run_experiment runs them.
void lock_outputs(RunState& run);           // stage_outputs.cpp: check and lock the output paths
void prepare_run(RunState& run);            // stage_prepare.cpp: data, model, methods, metric plan
void explain_samples(RunState& run);        // stage_explain.cpp: forward passes and explanations
void exchange_explanations(RunState& run);  // stage_exchange.cpp: every rank gets every unit
void summarize_explanations(RunState& run); // stage_explain.cpp: seconds, NaN counts, accuracy, logs
void evaluate_metrics(RunState& run);       // stage_evaluate.cpp: the metrics computed after explaining
void exchange_metric_ranges(RunState& run); // stage_exchange.cpp: every rank gets every sample range
void summarize_methods(RunState& run);      // experiment_run.cpp: report.methods, the table's rows
void draw_pictures(RunState& run);          // stage_pictures.cpp: heatmaps and curves (rank 0)
void draw_report(RunState& run);            // stage_report.cpp: index.html, the run on one page (rank 0)
void write_results(RunState& run);          // stage_write.cpp: the results file and the pictures (rank 0)

}  // namespace lrp
