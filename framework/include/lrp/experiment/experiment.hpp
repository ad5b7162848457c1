// Experiments: `lrplab run CONFIG.yaml` and `lrplab validate CONFIG.yaml`. One YAML file names the
// data, the model (a file, or an architecture trained on the spot), the explanation methods (LRP
// presets or explicit rule lists, and the baselines of docs/metrics.md, Baseline methods, with parameter sweeps), the
// metrics (conservation, pixel flipping) and the outputs (an HDF5 results file, heatmap PNGs,
// curve plots). The README's "Experiment configs" section is the reference of every key.
//
// Reading a config is split in two, so that `validate` can check everything a run would:
//   read_experiment_config  parses the YAML (after the --set overrides) into ExperimentConfig,
//                           checking keys, types, ranges and the model and plugin files with
//                           file:line:column errors (dataset sections are read, and so checked,
//                           by prepare_experiment);
//   prepare_experiment      loads (or builds) the model and the data, resolves every method
//                           against them (composites assigned to the layers, raw-unit values
//                           mapped to network units), without explaining anything.
// run_experiment then explains, evaluates and writes the results, stage by stage (see
// experiment_run.cpp).
//
// Units: every input value a config gives (z^B bounds, occlusion and pixel-flipping fills, the
// integrated-gradients baseline, value ranges) is in raw data units, as the data files hold them
// (Fashion-MNIST pixels in [0, 1]); lrplab maps them through the model's input normalization.
#pragma once
#include "lrp/io/model_yaml.hpp"
#include "lrp/io/colormap.hpp"
#include "lrp/experiment/cluster.hpp"
#include "lrp/propagation/composite.hpp"
#include "lrp/experiment/config.hpp"
#include "lrp/propagation/explain.hpp"
#include "lrp/nn/layers.hpp"
#include "lrp/methods/methods.hpp"
#include "lrp/eval/metric.hpp"
#include "lrp/eval/metrics.hpp"
#include "lrp/nn/model.hpp"
#include "lrp/core/params.hpp"
#include "lrp/registry/registry.hpp"
#include <yaml-cpp/yaml.h>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace lrp {

// ---------------------------------------------------------------- what `lrplab list` shows
// A metric with its parameters (defaults as ParamSpecs). The explanation methods are LRP (below)
// and the registry's methods (Registry::methods(): the baselines and plugin methods).
struct MetricInfo {
  std::string name;
  std::string doc;
  std::vector<ParamSpec> params;
};
const std::vector<MetricInfo>& metric_kinds();
// The `lrp` method kind, as `lrplab list methods` shows it.
extern const char* const kLrpMethodDoc;

// ---------------------------------------------------------------- command-line overrides
// `--set key.path=value`: the path's segments are mapping keys or, on a list, 0-based indices
// ("explain.1.params.gamma=0.1"); the value is YAML ("0.5", "[0.1, 1]", "{steps: 16}"). Missing
// mapping keys are created; an index past a list's end, a path through a scalar, or a malformed
// override is an lrp::Error naming the override.
void apply_override(YAML::Node& root, const std::string& assignment);

// ---------------------------------------------------------------- the parsed config
// An explain: entry's kind: "lrp" (kLrpKind), or the name of a registry method.
inline constexpr const char* kLrpKind = "lrp";

// One entry of an explicit LRP rule list: what it matches and the rule it assigns.
struct RuleEntry {
  enum class Match { kLayer, kIndex, kKind, kFirst, kLast, kFallback };
  Match match = Match::kFallback;
  std::string layer;               // kLayer: a layer name; kKind: a layer kind
  long index = 0;                  // kIndex (negative counts from the end)
  std::vector<std::string> kinds;  // kFirst / kLast: the kinds to look at (empty: linear-like layers)
  RuleChoice choice;               // rule name and the parameters given (raw units for zbox bounds)
  std::string at;                  // "config.yaml:12:7": where the entry is, for messages
};

// One method to explain with, after sweep expansion (a sweep over k values gives k methods).
struct MethodConfig {
  std::string name;       // unique: the entry's name, plus "@param=value,..." for a sweep point
  std::string base_name;  // the entry's name
  std::string kind = kLrpKind;   // "lrp" or a registry method (Registry::method_info)
  std::string preset;            // LRP with a preset (else `rules`)
  std::vector<RuleEntry> rules;  // LRP with an explicit rule list
  ParamMap params;               // preset or method parameters as given (sweep values applied)
  std::map<std::string, double> sweep_point;  // the swept parameters' values (empty: no sweep)
  std::uint64_t seed = 0;        // its own random stream (MethodSetup::seed: SmoothGrad, random, plugins)
  // Max-pool ties for this method's backward pass: its `maxpool_ties:` key, else the experiment's.
  MaxPoolTies maxpool_ties = MaxPoolTies::kFirst;
  std::string at;                // "config.yaml:9:5": where the entry is, for messages
  bool lrp() const { return kind == kLrpKind; }
};

struct PixelFlippingConfig {
  PixelFlippingOptions options;  // patch, steps, random_repeats, fill, seed, rows_per_pass
  // Fill values in raw units: uniform range (default: the model's raw range), constant value.
  std::optional<double> low, high;
  double value = 0.0;
  std::string at;  // where `evaluate.pixel_flipping` is, for messages
};

// output.heatmap: how relevance is drawn (docs/config.md; lrp/io/colormap.hpp).
struct HeatmapConfig {
  Colormap colormap = Colormap::kBwr;
  double clip_percentile = 99.5;  // s = this percentile of |R|; (0, 100], 100: the max |R|
  bool figure_scale = false;      // scale: figure (one s per picture file) or sample (one per map)
  bool overlay = false;           // the heatmap blended over the grey input instead of beside it
  double overlay_alpha = 0.6;     // [0, 1]
  std::string at;                 // where output.heatmap is (the config file when it is not given)
};

struct OutputConfig {
  std::string results;   // the HDF5 results file
  std::string heatmaps;  // folder for PNGs and SVGs; empty: no pictures
  Index heatmap_samples = 8;
  Index montage_columns = 4;
  // output.layer_relevance: the layers whose input relevance LRP methods store, by name, or every
  // layer with one input (`all`); empty: none.
  std::vector<std::string> layer_relevance;
  bool layer_relevance_all = false;
  HeatmapConfig heatmap;
  // output.report: index.html in the heatmaps folder, the whole run on one page (docs/results.md,
  // The HTML report); on by default when there is a heatmaps folder.
  bool report = false;
  std::string results_at, heatmaps_at, layer_relevance_at;  // where the keys are, for messages
};

// Reads the mapping output.heatmap (heatmap_config.cpp): every key checked, errors at file:line:column.
void read_heatmap_config(const YAML::Node& node, const std::string& source, HeatmapConfig& heatmap);
// `target:` predicted | label | a class index | a list of class indices | all | {top_k: k}; errors
// name the position in `source` and the accepted forms.
TargetSetSpec read_target(const YAML::Node& node, const std::string& source);

struct ModelSource {
  std::string file;          // a model file (HDF5, ONNX or YAML) ...
  // model.normalization: replaces what the file says (keys given only); normalization_at is its position
  std::optional<NormalizationOverride> normalization;
  std::string normalization_at;
  std::optional<TrainConfig> training;  // ... or an architecture trained here
  std::string file_at, save_at;         // where model.file and model.save are, for messages
};

struct ExperimentConfig {
  std::string path;            // the config file
  std::string resolved_yaml;   // the config after overrides, as YAML text
  std::vector<std::string> overrides;  // the --set assignments, in order
  std::uint64_t seed = 0;
  int threads = 1;
  Index batch_size = 500;      // samples per forward pass shared by the methods
  MaxPoolTies maxpool_ties = MaxPoolTies::kFirst;  // `maxpool_ties:` first (PyTorch) or split
  Limits limits;               // the `limits:` section (defaults: lrp::Limits)
  std::vector<std::string> plugins;
  std::vector<std::string> plugins_at;  // where each plugin is named, for messages
  DatasetSpec data;
  std::optional<DatasetSpec> reference_data;
  ModelSource model;
  TargetSetSpec target;  // `target:` one class per sample, or several (each sample explained once per class)
  std::vector<MethodConfig> methods;
  std::vector<std::string> evaluated;  // method names evaluated by the metrics
  bool conservation = true;
  std::optional<PixelFlippingConfig> pixel_flipping;
  // docs/metrics.md, Relevance accuracy on data with known relevant steps; unset: on when the data has them.
  std::optional<bool> relevance_accuracy;
  // The metrics configured by their own entries evaluate.<key> (the metric table's config_key()).
  std::map<std::string, MetricSettings> metrics;
  OutputConfig output;
  // Where `target` and `evaluate.relevance_accuracy` are (the config file when they are not given).
  std::string target_at, relevance_accuracy_at;
};

// Reads a config file, applies the overrides and checks every key, type and range (datasets: see
// prepare_experiment).
// Errors are lrp::Error with "file:line:column" and, for an unknown key, the closest valid one.
// The resolved paths of a config's `plugins:` list (after the overrides), for loading them into
// the registry before it is frozen and the config is read for real (lrplab does this at start-up).
std::vector<std::string> read_experiment_plugins(const std::string& path, const std::vector<std::string>& overrides);
// The same with where each is named ("config.yaml:3:12: plugins[0]"), for messages about loading it.
struct PluginEntry {
  std::string path;
  std::string at;
};
std::vector<PluginEntry> read_experiment_plugin_entries(const std::string& path, const std::vector<std::string>& overrides);
ExperimentConfig read_experiment_config(const std::string& path, const std::vector<std::string>& overrides,
                                        const Registry& registry);
// The files a run reads: the config, its plugins, the model file or architecture file, and the
// data files (no output may be one of them: read_experiment_config checks).
std::vector<std::string> experiment_inputs(const ExperimentConfig& config);

// ---------------------------------------------------------------- prepared and run
// A method ready to run: for LRP the composite (checked against the network: every layer gets a
// rule that applies to it), for the others the resolved parameters.
struct PreparedMethod {
  const MethodConfig* config = nullptr;
  Composite composite;                      // LRP
  std::vector<RuleAssignment> assignments;  // LRP: the rule of each layer and why
  ParamMap resolved;                        // parameters with defaults (preset bounds: network units; methods: raw)
  MethodPtr method;                         // a registry method, made for the model (checked once)
};

// Resolves one method against a model: checks its rules or parameters, maps z^B bounds from raw
// to network units, makes a registry method. Errors name the method's entry (m.at).
PreparedMethod prepare_method(const MethodConfig& m, const Model& model, const Registry& registry,
                              const Limits& limits);

struct PreparedExperiment {
  explicit PreparedExperiment(Model m) : model(std::move(m)) {}
  const ExperimentConfig* config = nullptr;
  Model model;            // batch norm folded into the convolutions (canonized) for LRP
  // Inputs in network units: one row per (sample, target), sample by sample (row i·K + k for K
  // targets per sample; K = 1: a row per sample).
  Dataset data;
  Tensor raw_inputs;      // the same rows in raw units (for pictures and /data/inputs)
  Index samples = 0;             // the samples loaded (data holds samples × targets_per_sample rows)
  Index targets_per_sample = 1;  // K: config.target's classes per sample
  Matrix reference_mean;  // 1 × features, raw units (the mean fill)
  std::vector<PreparedMethod> methods;
  // output.layer_relevance resolved: the layers (indices, in network order) whose input relevance
  // the LRP methods store.
  std::vector<Index> relevance_layers;
  bool trained_here = false;
  std::map<std::string, double> stage_seconds;  // load, train
};

// Loads or trains the model, loads the data, resolves every method. `train` false: a model that
// the config trains is only built (for validate).
// With several ranks (run_experiment on an MPI cluster), a model the config trains is trained on rank
// 0 only and sent to the other ranks.
PreparedExperiment prepare_experiment(const ExperimentConfig& config, const Registry& registry, bool train = true,
                                      const Cluster& cluster = single_process());

// MethodSummary (a method's line of the console table): lrp/eval/metric.hpp.

struct ExperimentReport {
  std::vector<MethodSummary> methods;
  std::map<std::string, double> stage_seconds;
  // Per metric computed after explaining: perturbed copies evaluated and samples explained again
  // (summed over ranks), for the cost per copy against the plain forward pass.
  std::map<std::string, double> forward_rows, explained_rows;
  double total_seconds = 0;
  std::string results_path;
  std::string heatmap_folder;
  Index samples = 0;             // rows explained: samples × targets_per_sample
  Index targets_per_sample = 1;  // K (config.target)
  Index distinct_samples() const { return samples / targets_per_sample; }  // the samples loaded
  double accuracy = -1;  // on the explained samples, when they have labels
};

// Runs the experiment on the processes of `cluster`: the explanation work is cut into units of (one
// batch of batch_size samples, one method), dealt round-robin to the ranks; pixel flipping into
// contiguous sample ranges, one per rank. Each unit is computed exactly as a single process computes
// it (same batches, same passes), so the results are bit-identical to a single-process run. Rank 0
// gathers everything, draws the pictures and writes the results file; the other ranks write
// nothing. A failure on any rank fails the run on every rank with that rank's message, before the
// results file is written. Every rank returns the same report (stage seconds summed over ranks).
ExperimentReport run_experiment(const ExperimentConfig& config, const Registry& registry,
                                const Cluster& cluster = single_process());

// The table printed at the end of a run: method × (AOPC-MoRF, AOPC-LeRF, ABPC, MoRF − random,
// conservation error, seconds).
std::string format_report(const ExperimentReport& report);

}  // namespace lrp
