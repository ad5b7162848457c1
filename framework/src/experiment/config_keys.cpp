// The table of config keys: see config_keys.hpp. Types, defaults and meanings follow the readers
// (experiment_config.cpp, config.cpp) and the option structs they fill; docs/config.md says the same.
#include "lrp/experiment/config_keys.hpp"

#include "lrp/core/error.hpp"
#include "lrp/eval/metric.hpp"
#include "lrp/io/yaml_util.hpp"

#include <algorithm>
#include <sstream>

namespace lrp {

namespace {

constexpr ConfigFile kRun = ConfigFile::kExperiment;
constexpr ConfigFile kTrain = ConfigFile::kTraining;

const char* const kFormats = "idx | csv | hdf5 | synthetic | marked_addition | long_range | shapes";
const char* const kSubset = "mapping (section data.subset)";
const char* const kConfigSeed = "the config's seed";

ConfigKey format_key(const char* format) {
  return {"format", kFormats, "required", std::string("the kind of data; '") + format + "' selects this section's keys"};
}

ConfigKey subset_key() {
  return {"subset", kSubset, "all samples", "which samples: {begin, end} (an index range) or {count, seed} (a seeded draw)"};
}

ConfigKey seed_key(const char* what) { return {"seed", "whole ≥ 0", kConfigSeed, what}; }

// ---------------------------------------------------------------- experiment config: top level

std::vector<ConfigSection> run_sections() {
  return {
      {kRun, "", "", "the top level of an experiment config (lrplab run, lrplab validate)",
       {{"seed", "whole ≥ 0", "0",
         "every random choice of the run: subsets, random relevance, SmoothGrad noise, metric draws, training here"},
        {"threads", "whole 1–256", "1", "threads for forward passes, explanations and metrics (--threads N sets it)"},
        {"batch_size", "whole ≥ 1", "500", "samples per forward pass shared by all methods (bounds memory)"},
        {"maxpool_ties", "first | split", "first",
         "a tied max-pool window: everything to its first maximum (PyTorch) or shared equally; per method: its own key"},
        {"limits", "mapping (section limits)", "the limits' defaults",
         "bounds on memory, integrated-gradients steps, sweeps, random orders and HDF5 read time"},
        {"plugins", "list of paths", "none", "plugin libraries loaded before the config is read (relative to the config)"},
        {"data", "dataset (section data)", "required",
         "the samples to explain (reference_data, model.train, model.test and a training config's data.train, "
         "data.test are dataset sections too)"},
        {"reference_data", "dataset (section data)", "the explained data",
         "the data whose per-pixel mean is pixel flipping's `fill: mean` (e.g. the training set)"},
        {"model", "mapping (section model)", "required", "a model file, or an architecture the run trains"},
        {"target", "predicted | label | class index | [class indices] | all | {top_k: k}", "predicted",
         "the classes explained for each sample (label needs labels); several: one explanation per (sample, class), "
         "one forward pass"},
        {"explain", "non-empty list of methods (section explain)", "required",
         "the methods: a method kind or preset name, or a mapping; names must be unique"},
        {"evaluate", "mapping (section evaluate)", "conservation (and relevance_accuracy where it applies)",
         "the metrics and the methods they evaluate"},
        {"output", "mapping (section output)", "required", "the results file and the pictures"}}},
  };
}

std::vector<ConfigSection> model_sections() {
  return {
      {kRun, "model", "from a file", "the model section when it has `file`",
       {{"file", "path", "required", "an lrplab HDF5 model file, an .onnx file or a YAML model description"},
        {"normalization", "mapping {mean, std, range}", "the file's",
         "replaces the file's input normalization key by key: mean, std (one or per channel, > 0), range [low, high]"}}},
      {kRun, "model.normalization", "", "with model.file: the input normalization, replacing the file's key by key",
       {{"mean", "number or list (one per input channel)", "the file's", "subtracted from the raw inputs"},
        {"std", "number > 0 or list (one per input channel)", "the file's", "what the centred inputs are divided by"},
        {"range", "[low, high], low < high", "the file's", "the raw data range (zbox bounds, fills)"}}},
      {kRun, "model", "trained here", "the model section without `file`: an architecture the run trains first",
       {{"architecture", "path or mapping", "required",
         "a model description (file or inline; its keys: docs/models.md) trained by the run"},
        {"init", "he_normal | he_uniform | glorot_normal | glorot_uniform", "he_normal", "the initialization scheme"},
        {"train", "dataset (section data)", "required", "the training data"},
        {"test", "dataset (section data)", "none", "test data: its accuracy is logged and stored in the model"},
        {"training", "mapping (training config's section training)", "its defaults",
         "epochs, batch size, optimizer, schedule, clipping, augmentation"},
        {"save", "path", "none", "where to write the trained model file (as the training config's output.model)"}}},
  };
}

std::vector<ConfigSection> output_sections() {
  return {
      {kRun, "output", "", "where a run writes",
       {{"results", "path", "required",
         "the HDF5 results file (missing folders are created); never a link, a device or an input of the run"},
        {"heatmaps", "folder", "none (no pictures)",
         "PNG heatmaps, montages and SVG curves; a run replaces the whole folder, so give one of its own"},
        {"heatmap_samples", "whole ≥ 0", "8", "samples drawn per method (the first ones)"},
        {"montage_columns", "whole ≥ 1", "4", "samples per row of a method's montage"},
        {"layer_relevance", "all | list of layer names", "none",
         "LRP methods also store the relevance at these layers' inputs (all: every layer with one input)"},
        {"heatmap", "mapping (section output.heatmap)", "its defaults",
         "how relevance is drawn: colour map, clipping, scale, overlay"},
        {"report", "bool", "true with output.heatmaps",
         "index.html in the heatmaps folder: the table, curves, heatmaps, ledger, config and provenance on one page "
         "(needs output.heatmaps)"}}},
      {kRun, "output.heatmap", "", "how every heatmap is drawn (PNG and SVG)",
       {{"colormap", "bwr | coldnhot | seismic | gray | hot", "bwr",
         "the colour map of R / s (gray and hot draw |R| only)"},
        {"clip_percentile", "number in (0, 100]", "99.5",
         "the scale s is this percentile of |R|; beyond ±s the colour saturates (100: s = max |R|)"},
        {"scale", "sample | figure", "sample", "each map its own s, or one s for all maps of a picture file"},
        {"overlay", "bool", "false", "the heatmap blended over the grey input instead of beside it"},
        {"overlay_alpha", "number in [0, 1]", "0.6", "the heatmap's opacity over the input (overlay: true)"}}},
      {kRun, "limits", "", "bounds on what a config can make lrplab do (also in a training config)",
       {{"memory", "size: bytes or with a unit (512MiB, 16GiB, 2GB)",
         "16 GiB, or 3/4 of the machine's memory if less (LRPLAB_MEMORY_LIMIT replaces it)",
         "the largest estimated peak memory of the run (at least 1 MiB)"},
        {"integrated_gradients_steps", "whole ≥ 1", "4096", "the largest `steps` of integrated gradients"},
        {"sweep_points", "whole ≥ 1", "1000", "the most methods one `sweep:` may expand to"},
        {"random_repeats", "whole ≥ 0", "1000", "the largest evaluate.pixel_flipping.random_repeats"},
        {"read_seconds", "number > 0", "300", "the longest one HDF5 file may take to read before it is refused"}}},
  };
}

// ---------------------------------------------------------------- dataset sections

std::vector<ConfigSection> file_dataset_sections() {
  const char* const where = "a dataset section";
  return {
      {kRun, "data", "idx", std::string(where) + ", format: idx (MNIST-family files, plain or gzip)",
       {format_key("idx"),
        {"images", "path", "required", "the IDX image file"},
        {"labels", "path", "none", "the IDX label file"},
        {"scale", "number > 0", "1/255", "raw value = stored value × scale"},
        subset_key()}},
      {kRun, "data", "csv", std::string(where) + ", format: csv (one sample per row)",
       {format_key("csv"),
        {"path", "path", "required", "the CSV file"},
        {"shape", "list of whole ≥ 1", "required", "the shape of one sample, e.g. [1, 28, 28]"},
        {"label_column", "whole from -1 to the number of features", "-1 (no label)", "the column that holds the label"},
        {"header", "bool", "false", "whether the first row is a header"},
        subset_key()}},
      {kRun, "data", "hdf5", std::string(where) + ", format: hdf5",
       {format_key("hdf5"),
        {"path", "path", "required", "the HDF5 file"},
        {"inputs", "HDF5 dataset path", "required", "the inputs, samples along the first axis"},
        {"labels", "HDF5 dataset path", "none", "the labels"},
        {"lengths", "HDF5 dataset path", "none", "per-sample sequence lengths (padded sequences)"},
        {"masks", "HDF5 dataset path", "none", "0/1 object masks laid out like the inputs, or [N, H, W] for every channel"},
        {"layout", "nchw | nhwc", "nchw", "the axis order of image inputs"},
        {"scale", "number > 0", "1", "raw value = stored value × scale"},
        subset_key()}},
  };
}

std::vector<ConfigSection> generated_dataset_sections() {
  return {
      {kRun, "data", "synthetic", "a dataset section, format: synthetic (noisy class patterns in [0, 1])",
       {format_key("synthetic"),
        {"shape", "list of whole ≥ 1", "required", "the shape of one sample, e.g. [1, 8, 8]"},
        {"count", "whole ≥ 1", "required", "samples"},
        {"classes", "whole ≥ 2", "required", "classes (sample i has label i mod classes)"},
        seed_key("the patterns and the noise"),
        subset_key()}},
      {kRun, "data", "marked_addition", "a dataset section, format: marked_addition (the adding problem, [steps, 2])",
       {format_key("marked_addition"),
        {"steps", "whole ≥ 2", "20", "sequence length T"},
        {"min_steps", "whole from 2 to steps", "steps", "below steps: lengths drawn in [min_steps, steps], zero-padded"},
        {"count", "whole ≥ 1", "required", "samples"},
        seed_key("the sequences"),
        subset_key()}},
      {kRun, "data", "long_range", "a dataset section, format: long_range (token sequences [steps])",
       {format_key("long_range"),
        {"steps", "whole ≥ 2", "50", "sequence length T"},
        {"symbols", "whole ≥ 2", "4", "distinct symbols"},
        {"count", "whole ≥ 1", "required", "samples"},
        seed_key("the sequences"),
        {"one_hot", "bool", "false", "true: one-hot vectors [steps, symbols + 5] instead of token ids"},
        subset_key()}},
      {kRun, "data", "shapes", "a dataset section, format: shapes (images [1, size, size] with object masks)",
       {format_key("shapes"),
        {"count", "whole ≥ 1", "required", "samples"},
        {"size", "whole ≥ 5, ≥ max_size", "28", "image side"},
        {"classes", "whole 2–4", "4", "shape kinds: square, plus, triangle, ring (the first `classes`)"},
        {"min_size", "whole ≥ 5", "7", "smallest shape extent"},
        {"max_size", "whole from min_size to size", "11", "largest shape extent"},
        {"noise", "number in [0, 0.7)", "0.3", "background values uniform in [0, noise)"},
        {"distractors", "whole 0–16", "0", "blobs per image beside the shape (needs size ≥ max_size + 5)"},
        seed_key("the images"),
        subset_key()}},
      {kRun, "data.subset", "range", "a dataset's subset as an index range (without `count`)",
       {{"begin", "whole ≥ 0", "0", "the first sample"},
        {"end", "whole ≥ 1", "the end of the data", "one past the last sample"}}},
      {kRun, "data.subset", "sample", "a dataset's subset as a seeded draw (with `count`)",
       {{"count", "whole ≥ 1", "required", "samples drawn without replacement"}, seed_key("the draw")}},
  };
}

// ---------------------------------------------------------------- explain and evaluate

std::vector<ConfigSection> method_sections() {
  return {
      {kRun, "explain", "",
       "an explain entry written as a mapping (an entry may also be just a method kind or preset name)",
       {{"name", "letters, digits, _ and -", "the kind or preset",
         "the method's name (an HDF5 group and a folder); alone, a method kind or preset to use"},
        {"kind", "lrp or a method kind (lrplab list methods)", "lrp with preset or rules, else from name",
         "the explanation method"},
        {"preset", "an LRP preset (lrplab list presets)", "none", "LRP with the preset's rules"},
        {"rules", "non-empty list of rule entries (section explain.rules)", "none", "LRP with an explicit rule list"},
        {"params", "mapping parameter: number or list", "the defaults",
         "the method's or preset's parameters (lrplab list methods, lrplab list presets)"},
        {"sweep", "mapping parameter: [values]", "none",
         "one method per value (the cartesian product for several), named <name>@<parameter>=<value>"},
        {"maxpool_ties", "first | split", "the run's maxpool_ties", "this method's max-pool tie policy"}}},
      {kRun, "explain.rules", "",
       "one entry of an LRP rules list: exactly one of layer, index, kind, first, last, fallback, and a rule",
       {{"layer", "a layer name", "(one matcher)", "the layer of that name"},
        {"index", "whole number (negative: from the end)", "(one matcher)", "the layer at that position"},
        {"kind", "a layer kind (lrplab list layers)", "(one matcher)", "every layer of that kind"},
        {"first", "true or list of layer kinds", "(one matcher)", "the first linear-like layer (or of those kinds)"},
        {"last", "true or list of layer kinds", "(one matcher)", "the last linear-like layer (or of those kinds)"},
        {"fallback", "true", "(one matcher)", "the linear-like layers nothing else matched"},
        {"rule", "a rule name (lrplab list rules)", "required", "the rule these layers get"},
        {"params", "mapping parameter: number or list", "the rule's defaults", "the rule's parameters"}}},
  };
}

ConfigSection evaluate_section() {
  ConfigSection s{kRun, "evaluate", "", "the metrics computed for the explanations",
                  {{"methods", "list of method names", "all methods",
                    "the methods the metrics evaluate (a swept entry's name selects all its points)"},
                   {"conservation", "bool", "true", "the relevance ledger: input sum vs f_c(x), per-layer sums"},
                   {"pixel_flipping", "bool or mapping (section evaluate.pixel_flipping)", "off",
                    "region perturbation: MoRF, LeRF and random curves, AOPC, ABPC; true takes the defaults"},
                   {"relevance_accuracy", "bool", "on when the data knows its relevant steps",
                    "the share of the known relevant steps among the top-K steps (marked_addition, long_range)"}}};
  for (const Metric* m : metric_table())
    if (m->config_key() != nullptr)
      s.keys.push_back({m->config_key(), std::string("bool or mapping (section evaluate.") + m->config_key() + ")",
                        "off", m->meaning()});
  return s;
}

ConfigSection pixel_flipping_section() {
  return {kRun, "evaluate.pixel_flipping", "", "region perturbation's settings (`pixel_flipping: true`: all defaults)",
          {{"patch", "whole ≥ 1", "4", "region side in pixels (features per region for 1-d inputs)"},
           {"steps", "whole ≥ 0", "0 (all regions)", "regions perturbed"},
           {"random_repeats", "whole from 0 to limits.random_repeats", "10", "random orders per sample"},
           {"fill", "uniform | constant | mean", "uniform", "what replaces a region (mean: of reference_data)"},
           {"value", "number", "0", "the constant (fill: constant only), raw units"},
           {"low", "number", "the model's raw minimum", "the uniform noise's lower end (fill: uniform only), raw units"},
           {"high", "number", "the model's raw maximum", "the uniform noise's upper end (fill: uniform only), raw units"},
           {"rows_per_pass", "whole ≥ 1", "256", "perturbed copies per forward pass"},
           seed_key("ties, noise images and random orders")}};
}

std::string range_text(double low, double high) {
  return "[" + yaml::format_double(low) + ", " + yaml::format_double(high) + "]";
}

// evaluate.<metric>: the metric's own parameter list (Metric::parameters), and `seed`.
ConfigSection metric_section(const Metric& m) {
  ConfigSection s{kRun, std::string("evaluate.") + m.config_key(), "",
                  std::string(m.meaning()) + " (`" + m.config_key() + ": true`: all defaults)",
                  {seed_key("the metric's random draws")}};
  for (const MetricParameter& p : m.parameters()) {
    ConfigKey k{p.key, "", yaml::format_double(p.default_number), p.meaning};
    switch (p.kind) {
      case MetricParameter::Kind::kNumber: k.type = "number in " + range_text(p.low, p.high); break;
      case MetricParameter::Kind::kWhole: k.type = "whole in " + range_text(p.low, p.high); break;
      case MetricParameter::Kind::kFlag:
        k.type = "bool";
        k.default_value = p.default_number != 0 ? "true" : "false";
        break;
      case MetricParameter::Kind::kChoice: {
        k.type.clear();
        for (const std::string& c : p.choices) k.type += (k.type.empty() ? "" : " | ") + c;
        k.default_value = p.choices.front();
        break;
      }
    }
    s.keys.push_back(std::move(k));
  }
  return s;
}

// ---------------------------------------------------------------- training config

std::vector<ConfigSection> train_sections() {
  return {
      {kTrain, "", "", "the top level of a training config (lrplab train)",
       {{"seed", "whole ≥ 0", "0", "the initialization, the validation split, the shuffles, augmentation, dropout"},
        {"threads", "whole 1–256", "1",
         "row blocks per minibatch, one thread each (--threads N sets it); same seed and threads: same weights"},
        {"limits", "mapping (the experiment config's section limits)", "the limits' defaults",
         "as in an experiment config"},
        {"data", "mapping (section data)", "required", "the training and test data"},
        {"model", "mapping (section model)", "required", "the architecture and its initialization"},
        {"training", "mapping (section training)", "its defaults", "epochs, batch size, optimizer, schedule, ..."},
        {"output", "mapping (section output)", "nothing saved", "where the trained model goes"}}},
      {kTrain, "data", "", "a training config's data",
       {{"train", "dataset (the experiment config's section data)", "required", "the training data"},
        {"test", "dataset (the experiment config's section data)", "none",
         "test data: its accuracy is printed and stored in the model file"}}},
      {kTrain, "model", "", "a training config's model",
       {{"architecture", "path or mapping", "required", "a model description (docs/models.md), a file or inline"},
        {"init", "he_normal | he_uniform | glorot_normal | glorot_uniform", "he_normal",
         "the initialization scheme (LSTM and embedding layers use PyTorch's own)"}}},
      {kTrain, "training", "", "training settings (also an experiment config's model.training)",
       {{"epochs", "whole ≥ 1", "10", "passes over the training data"},
        {"batch_size", "whole ≥ 1", "32", "minibatch size (the last batch of an epoch may be smaller)"},
        {"validation_fraction", "number in [0, 1)", "0", "held out from the training data (a seeded permutation)"},
        {"optimizer", "mapping (section training.optimizer)", "sgd with its defaults", "the update rule"},
        {"schedule", "mapping (section training.schedule)", "constant", "the learning rate per epoch"},
        {"clip_norm", "number ≥ 0", "0 (off)", "clip the global L2 norm of a minibatch's parameter gradients"},
        {"augment", "mapping (section training.augment)", "none", "random shifts and flips of training images"}}},
      {kTrain, "training.optimizer", "sgd", "kind: sgd (PyTorch's SGD, L2 weight decay)",
       {{"kind", "sgd | adam", "required", "the optimizer; selects this section's keys"},
        {"learning_rate", "number > 0", "0.01", "the base learning rate"},
        {"momentum", "number in [0, 1)", "0", "momentum"},
        {"weight_decay", "number ≥ 0", "0", "L2 weight decay, added to the gradient"}}},
      {kTrain, "training.optimizer", "adam", "kind: adam (PyTorch's Adam, L2 weight decay)",
       {{"kind", "sgd | adam", "required", "the optimizer; selects this section's keys"},
        {"learning_rate", "number > 0", "0.001", "the base learning rate"},
        {"beta1", "number in [0, 1)", "0.9", "decay of the first moment"},
        {"beta2", "number in [0, 1)", "0.999", "decay of the second moment"},
        {"eps", "number > 0", "1e-8", "added to the root of the second moment"},
        {"weight_decay", "number ≥ 0", "0", "L2 weight decay, added to the gradient"}}},
      {kTrain, "training.schedule", "", "the learning rate per epoch",
       {{"kind", "constant | step | cosine", "required",
         "constant; step: base · gamma^⌊epoch / step_size⌋; cosine: base · (1 + cos(π · epoch / epochs)) / 2"},
        {"step_size", "whole ≥ 1", "1", "step only: epochs between decays"},
        {"gamma", "number in (0, 1]", "0.1", "step only: the decay factor"}}},
      {kTrain, "training.augment", "", "random changes of each training image as its minibatch is built",
       {{"shift", "whole ≥ 0, smaller than the image", "0", "moves by (dy, dx) drawn from [-shift, shift]"},
        {"flip", "bool", "false", "mirrors left to right with probability 1/2"},
        {"fill", "number", "the model's raw minimum", "the raw value of uncovered pixels"}}},
      {kTrain, "output", "", "what a training writes",
       {{"model", "path", "none (nothing is saved)",
         "the lrplab model file written at the end, with provenance; never an input of the training"}}},
  };
}

std::vector<ConfigSection> all_sections() {
  std::vector<ConfigSection> out;
  const auto add = [&out](std::vector<ConfigSection> sections) {
    for (ConfigSection& s : sections) out.push_back(std::move(s));
  };
  // In the order of a config's usual layout.
  add(run_sections());
  add(file_dataset_sections());
  add(generated_dataset_sections());
  add(model_sections());
  add(method_sections());
  out.push_back(evaluate_section());
  out.push_back(pixel_flipping_section());
  for (const Metric* m : metric_table())
    if (m->config_key() != nullptr) out.push_back(metric_section(*m));
  add(output_sections());
  add(train_sections());
  return out;
}

}  // namespace

const std::vector<ConfigSection>& config_sections() {
  static const std::vector<ConfigSection> sections = all_sections();
  return sections;
}

const ConfigSection& config_section(ConfigFile file, const std::string& path, const std::string& variant) {
  for (const ConfigSection& s : config_sections())
    if (s.file == file && s.path == path && s.variant == variant) return s;
  LRP_FAIL("the table of config keys has no section '", path, variant.empty() ? "" : " (" + variant + ")", "'");
}

std::vector<std::string> config_key_names(ConfigFile file, const std::string& path, const std::string& variant) {
  std::vector<std::string> names;
  for (const ConfigKey& k : config_section(file, path, variant).keys) names.push_back(k.name);
  return names;
}

void check_section_keys(const YAML::Node& node, ConfigFile file, const std::string& path, const std::string& variant,
                        const std::string& source, const std::string& what) {
  yaml::check_keys(node, config_key_names(file, path, variant), source, what);
}

std::string describe_section(const ConfigSection& s) {
  std::ostringstream out;
  out << (s.path.empty() ? "(top level)" : s.path) << (s.variant.empty() ? "" : " (" + s.variant + ")") << ": "
      << s.about << "\n";
  for (const ConfigKey& k : s.keys) {
    out << "  " << k.name << ": " << k.type << "; "
        << (k.default_value == "required" ? "required" : "default: " + k.default_value) << "\n"
        << "      " << k.meaning << "\n";
  }
  return out.str();
}

}  // namespace lrp
