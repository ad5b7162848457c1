// Config sections for datasets, training settings and `lrplab train`: see config.hpp.
#include "lrp/io/model_file.hpp"
#include "lrp/io/model_yaml.hpp"
#include "lrp/experiment/config.hpp"
#include "lrp/experiment/config_keys.hpp"

#include "lrp/core/error.hpp"
#include "lrp/core/files.hpp"
#include "lrp/core/log.hpp"
#include "lrp/core/progress.hpp"
#include "lrp/registry/registry.hpp"
#include "lrp/io/sequence_tasks.hpp"
#include "lrp/io/shapes_task.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace lrp {

namespace fs = std::filesystem;
using namespace yaml;

constexpr ConfigFile kRun = ConfigFile::kExperiment;  // the sections of config_keys.hpp
constexpr ConfigFile kTrain = ConfigFile::kTraining;

std::string resolve_path(const YAML::Node& node, const std::string& config_path, const std::string& what) {
  const std::string given = yaml::string(node, config_path, what);
  LRP_CHECK(!given.empty(), where(node, config_path), ": ", what, " is empty; expected a file path");
  const fs::path p(given);
  std::error_code ec;
  std::string path = given;
  if (!p.is_absolute() && !fs::exists(p, ec)) {
    if (ec && ec != std::errc::no_such_file_or_directory && ec != std::errc::not_a_directory) {
      try {  // e.g. a name too long for the system: say so, not "no such file"
        check_input_file(given, what);
      } catch (const Error& e) {
        throw Error(where(node, config_path) + ": " + e.what());
      }
    }
    const fs::path beside = fs::path(config_path).parent_path() / p;
    LRP_CHECK(fs::exists(beside, ec), where(node, config_path), ": ", what, ": no such file '", given,
              "' (looked in the current directory and in '", fs::path(config_path).parent_path().string(), "')");
    path = beside.string();
  }
  try {
    check_input_file(path, what);
  } catch (const Error& e) {
    throw Error(where(node, config_path) + ": " + e.what());
  }
  return path;
}

namespace {

Shape read_shape(const YAML::Node& node, const std::string& source, const std::string& what) {
  LRP_CHECK(node.IsSequence() && node.size() > 0, where(node, source), ": ", what,
            " must be a list of dimensions such as [1, 28, 28]");
  Shape shape;
  for (std::size_t i = 0; i < node.size(); ++i)
    shape.push_back(whole(node[i], source, what + "[" + std::to_string(i) + "]", 1));
  try {
    (void)checked_numel(shape, what);
  } catch (const Error& e) {
    throw Error(where(node, source) + ": " + e.what());
  }
  return shape;
}

// A dataset section's `subset`: {begin, end} (an index range) or {count, seed} (a seeded sample).
RowSelection parse_subset(const YAML::Node& sub, const std::string& config, const std::string& what,
                          std::uint64_t default_seed) {
  const std::string w = what + ".subset";
  LRP_CHECK(sub.IsMap(), where(sub, config), ": ", w, " must be {begin, end} or {count, seed}");
  RowSelection s;
  if (sub["count"]) {
    check_section_keys(sub, kRun, "data.subset", "sample", config, w);
    s = RowSelection::draw(whole(sub["count"], config, w + ".count", 1),
                           sub["seed"] ? seed(sub["seed"], config, w + ".seed") : default_seed);
    s.what = where(sub["count"], config) + ": " + w;
  } else {
    check_section_keys(sub, kRun, "data.subset", "range", config, w);
    s = RowSelection::range(sub["begin"] ? whole(sub["begin"], config, w + ".begin", 0) : 0,
                            sub["end"] ? whole(sub["end"], config, w + ".end", 1) : -1);
    s.what = where(sub, config) + ": " + w;
  }
  return s;
}

// The keys of a `format: shapes` section (count and seed are read by the caller) into `o`, checked
// by lrp::validate(ShapesOptions): its message names the key, and the error is positioned there.
void parse_shapes(const YAML::Node& node, const std::string& config, const std::string& what, ShapesOptions& o) {
  const auto get = [&](const char* key, Index& target, Index minimum) {
    if (node[key]) target = whole(node[key], config, what + "." + key, minimum);
  };
  get("size", o.size, kShapesMinExtent);
  get("classes", o.classes, 2);
  get("min_size", o.min_size, kShapesMinExtent);
  get("max_size", o.max_size, kShapesMinExtent);
  get("distractors", o.distractors, 0);
  if (node["noise"]) o.noise = number(node["noise"], config, what + ".noise");
  try {
    validate(o);
  } catch (const Error& e) {
    // "shapes: max_size = 30 must be ..." → "<position of max_size>: data.max_size = 30 must be ..."
    std::string m = e.what();
    const std::string prefix = "shapes: ";
    if (m.rfind(prefix, 0) == 0) m = m.substr(prefix.size());
    const std::string key = m.substr(0, m.find(' '));
    if (!node[key]) m.insert(std::min(m.size(), m.find(' ', key.size() + 3)), " (the default)");
    throw Error(where(node[key] ? node[key] : node, config) + ": " + what + "." + m);
  }
}

// An error from loading prefixed with the section's position (unless it has one already).
Error at_section(const DatasetSpec& spec, const Error& e) {
  const std::string m = e.what();
  const std::string file = spec.at.substr(0, spec.at.find(':'));
  return Error(m.rfind(file + ":", 0) == 0 ? m : spec.at + ": " + spec.what + ": " + m);
}

}  // namespace

DatasetSpec parse_dataset(const YAML::Node& node, const std::string& config, const std::string& what,
                          std::uint64_t default_seed) {
  LRP_CHECK(node.IsMap(), where(node, config), ": ", what, " must be a mapping with a 'format' key");
  require(node, "format", config, what);
  DatasetSpec d;
  d.what = what;
  d.at = where(node, config);
  d.format = string(node["format"], config, what + ".format");
  const std::string& format = d.format;
  const auto scale_or = [&](double fallback) {
    if (!node["scale"]) return fallback;
    const double scale = number(node["scale"], config, what + ".scale");
    LRP_CHECK(scale > 0, where(node["scale"], config), ": ", what, ".scale must be > 0 (raw value = stored value × scale), got ",
              node["scale"].Scalar());
    return scale;
  };
  const auto seed_or_default = [&] { return node["seed"] ? seed(node["seed"], config, what + ".seed") : default_seed; };
  const auto file = [&](const char* key) {
    std::string path = resolve_path(node[key], config, what + "." + key);
    d.files.push_back(path);
    return path;
  };
  const bool token_format = format == "long_range";
  const bool known_format = format == "idx" || format == "csv" || format == "hdf5" || format == "synthetic" ||
                            format == "marked_addition" || format == "shapes" || token_format;
  LRP_CHECK(!node["one_hot"] || !known_format || token_format, where(node["one_hot"], config), ": ", what,
            ".one_hot applies only to format long_range (token ids [T] → one-hot vectors [T, V]); format '", format,
            "' has no token ids to encode: remove the key");
  if (format == "idx") {
    check_section_keys(node, kRun, "data", format, config, what + " (idx)");
    require(node, "images", config, what);
    d.images = file("images");
    if (node["labels"]) d.labels = file("labels");
    d.scale = scale_or(1.0 / 255.0);
  } else if (format == "csv") {
    check_section_keys(node, kRun, "data", format, config, what + " (csv)");
    require(node, "path", config, what);
    require(node, "shape", config, what);
    d.path = file("path");
    d.shape = read_shape(node["shape"], config, what + ".shape");
    if (node["label_column"]) {
      const double c = number(node["label_column"], config, what + ".label_column");
      LRP_CHECK(c == std::floor(c) && c >= -1 && c <= static_cast<double>(checked_numel(d.shape, what + ".shape")),
                where(node["label_column"], config), ": ", what,
                ".label_column must be -1 (no label) or a column index from 0 to the number of features (",
                numel(d.shape), "), got ", node["label_column"].Scalar());
      d.label_column = static_cast<Index>(c);
    }
    d.header = node["header"] ? boolean(node["header"], config, what + ".header") : false;
  } else if (format == "hdf5") {
    check_section_keys(node, kRun, "data", format, config, what + " (hdf5)");
    require(node, "path", config, what);
    require(node, "inputs", config, what);
    if (node["layout"]) {
      const std::string l = string(node["layout"], config, what + ".layout");
      LRP_CHECK(l == "nchw" || l == "nhwc", where(node["layout"], config), ": ", what,
                ".layout must be nchw or nhwc, got '", l, "'");
      d.layout = l == "nhwc" ? Hdf5Layout::kNHWC : Hdf5Layout::kNCHW;
    }
    d.path = file("path");
    d.inputs = string(node["inputs"], config, what + ".inputs");
    if (node["labels"]) d.labels = string(node["labels"], config, what + ".labels");
    if (node["lengths"]) d.lengths = string(node["lengths"], config, what + ".lengths");
    if (node["masks"]) d.masks = string(node["masks"], config, what + ".masks");
    d.scale = scale_or(1.0);
  } else if (format == "synthetic") {
    check_section_keys(node, kRun, "data", format, config, what + " (synthetic)");
    require(node, "shape", config, what);
    require(node, "count", config, what);
    require(node, "classes", config, what);
    d.shape = read_shape(node["shape"], config, what + ".shape");
    d.count = whole(node["count"], config, what + ".count", 1);
    d.classes = whole(node["classes"], config, what + ".classes", 2);
    d.seed = seed_or_default();
  } else if (format == "marked_addition") {
    check_section_keys(node, kRun, "data", format, config, what + " (marked_addition)");
    require(node, "count", config, what);
    d.count = whole(node["count"], config, what + ".count", 1);
    d.steps = node["steps"] ? whole(node["steps"], config, what + ".steps", 2) : 20;
    d.min_steps = node["min_steps"] ? whole(node["min_steps"], config, what + ".min_steps", 2) : d.steps;
    LRP_CHECK(d.min_steps <= d.steps, where(node["min_steps"], config), ": ", what, ".min_steps (", d.min_steps,
              ") must be ≤ steps (", d.steps, ")");
    d.seed = seed_or_default();
  } else if (format == "long_range") {
    check_section_keys(node, kRun, "data", format, config, what + " (long_range)");
    require(node, "count", config, what);
    d.count = whole(node["count"], config, what + ".count", 1);
    d.steps = node["steps"] ? whole(node["steps"], config, what + ".steps", 2) : 50;
    d.symbols = node["symbols"] ? whole(node["symbols"], config, what + ".symbols", 2) : 4;
    d.seed = seed_or_default();
    d.one_hot = node["one_hot"] ? boolean(node["one_hot"], config, what + ".one_hot") : false;
  } else if (format == "shapes") {
    check_section_keys(node, kRun, "data", format, config, what + " (shapes)");
    require(node, "count", config, what);
    d.count = d.shapes.count = whole(node["count"], config, what + ".count", 1);
    d.seed = d.shapes.seed = seed_or_default();
    parse_shapes(node, config, what, d.shapes);
    d.classes = d.shapes.classes;
  } else {
    const std::string close =
        closest_name(format, {"idx", "csv", "hdf5", "synthetic", "marked_addition", "long_range", "shapes"});
    LRP_FAIL(where(node["format"], config), ": ", what, ".format '", format,
             "' is not one of idx, csv, hdf5, synthetic, marked_addition, long_range, shapes",
             close.empty() ? "" : " (did you mean '" + close + "'?)");
  }
  if (const YAML::Node sub = node["subset"]) d.subset = parse_subset(sub, config, what, default_seed);
  return d;
}

Dataset load_dataset(const DatasetSpec& d, const Limits& limits) {
  try {
    // Generated data: its size is known before it is made.
    const auto check_generated = [&](std::uint64_t features) {
      check_memory(saturating_mul(saturating_mul(static_cast<std::uint64_t>(d.count), features), 2 * sizeof(Scalar)),
                   limits, detail::concat(d.what, ": ", d.count, " ", d.format, " samples"));
    };
    if (d.format == "idx") return read_idx(d.images, d.labels, d.scale, d.subset, limits);
    if (d.format == "hdf5")
      return read_hdf5(d.path, d.inputs, d.labels, d.layout, d.scale, d.lengths, d.subset, limits, d.masks);
    if (d.format == "csv") return read_csv(d.path, d.shape, static_cast<int>(d.label_column), d.header, d.subset, limits);
    Dataset data;
    if (d.format == "synthetic") {
      data = synthetic_blobs(d.shape, d.count, d.classes, d.seed, limits);
    } else if (d.format == "marked_addition") {
      check_generated(saturating_mul(static_cast<std::uint64_t>(d.steps), 2));
      data = marked_addition(d.count, d.steps, d.seed, d.min_steps);
    } else if (d.format == "long_range") {
      check_generated(saturating_mul(static_cast<std::uint64_t>(d.steps),
                                     d.one_hot ? static_cast<std::uint64_t>(d.symbols) + 5 : 1));
      data = long_range(d.count, d.steps, d.symbols, d.seed);
      if (d.one_hot) data = one_hot_tokens(data, long_range_vocabulary(d.symbols));
    } else if (d.format == "shapes") {
      data = shapes_task(d.shapes, limits);
    }
    return select(data, d.subset);
  } catch (const Error& e) {
    throw at_section(d, e);
  }
}

void fit_to_model(Dataset& data, const DatasetSpec& spec, const Shape& model_shape, const std::string& model_name) {
  const Shape& shape = data.inputs.shape;
  if (shape == model_shape) return;
  const bool images_of_rows = spec.format == "hdf5" && shape.size() == 3 && shape[0] == 1 && data.inputs.lengths.empty();
  if (images_of_rows && model_shape == Shape{shape[1], shape[2]}) {
    data.inputs.shape = model_shape;  // the same values, row-major: [1, T, D] and [T, D] are one layout
    return;
  }
  LRP_FAIL(spec.at, ": ", spec.what, " has samples of shape ", to_string(shape), " but the model '", model_name,
           "' expects ", to_string(model_shape),
           images_of_rows ? detail::concat(" (the dataset '", spec.inputs, "' is [N, ", shape[1], ", ", shape[2],
                                           "]: read as images ", to_string(shape), " or as sequences [", shape[1], ", ",
                                           shape[2], "], and neither fits)")
                          : std::string());
}

Dataset load_dataset(const YAML::Node& node, const std::string& config, const std::string& what,
                     std::uint64_t default_seed, const Limits& limits) {
  return load_dataset(parse_dataset(node, config, what, default_seed), limits);
}

Limits parse_limits(const YAML::Node& node, const std::string& config) {
  Limits l;
  if (!node) return l;
  check_section_keys(node, kRun, "limits", "", config, "limits");
  if (const YAML::Node m = node["memory"]) {
    const std::string text = string(m, config, "limits.memory");
    const std::optional<std::uint64_t> bytes = parse_size(text);
    LRP_CHECK(bytes.has_value(), where(m, config),
              ": limits.memory must be a size of at least 1 MiB, a number of bytes or with a unit (B, KB, MB, GB, TB, "
              "KiB, MiB, GiB, TiB; e.g. 16GiB), got '", text, "'");
    l.memory = *bytes;
  }
  if (node["integrated_gradients_steps"])
    l.integrated_gradients_steps = whole(node["integrated_gradients_steps"], config, "limits.integrated_gradients_steps", 1);
  if (node["sweep_points"]) l.sweep_points = whole(node["sweep_points"], config, "limits.sweep_points", 1);
  if (node["random_repeats"]) l.random_repeats = whole(node["random_repeats"], config, "limits.random_repeats", 0);
  if (const YAML::Node r = node["read_seconds"]) {
    l.read_seconds = number(r, config, "limits.read_seconds");
    LRP_CHECK(l.read_seconds > 0, where(r, config), ": limits.read_seconds must be > 0, got ", r.Scalar());
  }
  return l;
}

namespace {

// training.augment: the shift and flip, and the raw fill value normalized per channel as the
// inputs will be.
Augmentation parse_augmentation(const YAML::Node& node, const std::string& config, const ModelSpec& architecture) {
  check_section_keys(node, kTrain, "training.augment", "", config, "training.augment");
  Augmentation a;
  if (node["shift"]) a.shift = whole(node["shift"], config, "training.augment.shift", 0);
  if (node["flip"]) a.flip = boolean(node["flip"], config, "training.augment.flip");
  const InputNormalization& norm = architecture.normalization;
  double raw = norm.raw_min;
  if (node["fill"]) {
    raw = number(node["fill"], config, "training.augment.fill");
    LRP_CHECK(std::isfinite(raw), where(node["fill"], config), ": training.augment.fill must be a finite number, got ",
              node["fill"].Scalar());
  }
  const Index channels = architecture.input_shape.empty() ? 1 : architecture.input_shape[0];
  for (Index c = 0; c < channels; ++c) a.fill.push_back(static_cast<Scalar>(to_network_units(raw, c, norm)));
  validate(a, architecture.input_shape, where(node, config) + ": training.augment");
  return a;
}

}  // namespace

TrainOptions parse_train_options(const YAML::Node& node, const std::string& config, const ModelSpec& architecture) {
  TrainOptions o;
  if (!node) return o;
  check_section_keys(node, kTrain, "training", "", config, "training");
  if (const YAML::Node aug = node["augment"]) o.augment = parse_augmentation(aug, config, architecture);
  if (node["epochs"]) o.epochs = whole(node["epochs"], config, "training.epochs", 1);
  if (node["batch_size"]) o.batch_size = whole(node["batch_size"], config, "training.batch_size", 1);
  if (node["validation_fraction"]) {
    o.validation_fraction = number(node["validation_fraction"], config, "training.validation_fraction");
    LRP_CHECK(o.validation_fraction >= 0 && o.validation_fraction < 1, where(node["validation_fraction"], config),
              ": training.validation_fraction must be in [0, 1), got ", o.validation_fraction);
  }
  if (node["clip_norm"]) {
    o.clip_norm = number(node["clip_norm"], config, "training.clip_norm");
    LRP_CHECK(std::isfinite(o.clip_norm) && o.clip_norm >= 0, where(node["clip_norm"], config),
              ": training.clip_norm must be a finite number ≥ 0 (the largest global L2 norm of the parameter "
              "gradients of a minibatch; 0 = no clipping), got ", o.clip_norm);
  }
  if (const YAML::Node opt = node["optimizer"]) {
    require(opt, "kind", config, "training.optimizer");
    const std::string kind = string(opt["kind"], config, "training.optimizer.kind");
    const auto get = [&](const char* key, double& target) {
      if (opt[key]) target = number(opt[key], config, std::string("training.optimizer.") + key);
    };
    try {
      if (kind == "sgd") {
        check_section_keys(opt, kTrain, "training.optimizer", kind, config, "training.optimizer (sgd)");
        o.optimizer = OptimizerKind::kSgd;
        get("learning_rate", o.sgd.learning_rate);
        get("momentum", o.sgd.momentum);
        get("weight_decay", o.sgd.weight_decay);
        validate(o.sgd);
      } else if (kind == "adam") {
        check_section_keys(opt, kTrain, "training.optimizer", kind, config, "training.optimizer (adam)");
        o.optimizer = OptimizerKind::kAdam;
        get("learning_rate", o.adam.learning_rate);
        get("beta1", o.adam.beta1);
        get("beta2", o.adam.beta2);
        get("eps", o.adam.eps);
        get("weight_decay", o.adam.weight_decay);
        validate(o.adam);
      } else {
        LRP_FAIL(where(opt["kind"], config), ": training.optimizer.kind '", kind, "' is not one of sgd, adam");
      }
    } catch (const Error& e) {
      const std::string m = e.what();
      if (m.rfind(config, 0) == 0) throw;
      throw Error(where(opt, config) + ": " + m);
    }
  }
  if (const YAML::Node sched = node["schedule"]) {
    check_section_keys(sched, kTrain, "training.schedule", "", config, "training.schedule");
    require(sched, "kind", config, "training.schedule");
    const std::string kind = string(sched["kind"], config, "training.schedule.kind");
    if (kind == "constant")
      o.schedule.kind = ScheduleKind::kConstant;
    else if (kind == "step")
      o.schedule.kind = ScheduleKind::kStep;
    else if (kind == "cosine")
      o.schedule.kind = ScheduleKind::kCosine;
    else
      LRP_FAIL(where(sched["kind"], config), ": training.schedule.kind '", kind,
               "' is not one of constant, step, cosine");
    if (sched["step_size"]) o.schedule.step_size = whole(sched["step_size"], config, "training.schedule.step_size", 1);
    if (sched["gamma"]) o.schedule.gamma = number(sched["gamma"], config, "training.schedule.gamma");
    try {
      validate(o.schedule);
    } catch (const Error& e) {
      throw Error(where(sched, config) + ": " + e.what());
    }
  }
  return o;
}

void read_architecture(const YAML::Node& model, const std::string& path, const Registry& registry, TrainConfig& c) {
  const YAML::Node arch = model["architecture"];
  if (arch.IsScalar()) {
    c.architecture_file = resolve_path(arch, path, "model.architecture");
    c.architecture = read_model_spec(c.architecture_file, &registry);
  } else {
    c.architecture = parse_model_spec(arch, path, &registry);
  }
  if (model["init"]) {
    try {
      c.init = parse_init_scheme(string(model["init"], path, "model.init"));
    } catch (const Error& e) {
      throw Error(where(model["init"], path) + ": " + e.what());
    }
  }
}

TrainConfig read_train_config(const std::string& path, const Registry& registry) {
  TrainConfig c;
  c.path = path;
  c.resolved_yaml = read_input_file(path, "training config", kMaxYamlBytes);
  const YAML::Node root = load_text(c.resolved_yaml, path);
  return yaml::guarded(path, [&] {
    LRP_CHECK(root.IsMap(), path, ": a training config must be a mapping with the keys data, model, training, output");
    check_section_keys(root, kTrain, "", "", path, "the training config");
    if (root["seed"]) c.seed = seed(root["seed"], path, "seed");
    if (root["threads"]) c.threads = static_cast<int>(whole(root["threads"], path, "threads", 1));
    LRP_CHECK(c.threads <= 256, where(root["threads"], path), ": threads must be at most 256, got ", c.threads);
    c.limits = parse_limits(root["limits"], path);
    require(root, "data", path, "the training config");
    const YAML::Node data = root["data"];
    check_section_keys(data, kTrain, "data", "", path, "data");
    require(data, "train", path, "data");
    c.train_data = parse_dataset(data["train"], path, "data.train", c.seed);
    if (data["test"] && !data["test"].IsNull()) c.test_data = parse_dataset(data["test"], path, "data.test", c.seed);
    require(root, "model", path, "the training config");
    const YAML::Node model = root["model"];
    check_section_keys(model, kTrain, "model", "", path, "model");
    require(model, "architecture", path, "model");
    read_architecture(model, path, registry, c);
    c.options = parse_train_options(root["training"], path, c.architecture);
    c.options.seed = c.seed;
    c.options.threads = c.threads;
    if (const YAML::Node out = root["output"]) {
      check_section_keys(out, kTrain, "output", "", path, "output");
      if (out["model"]) {
        c.output_model = string(out["model"], path, "output.model");
        LRP_CHECK(!c.output_model.empty(), where(out["model"], path), ": output.model is empty; expected a file path");
        check_output_path(c.output_model, OutputKind::kFile, where(out["model"], path) + ": output.model");
        for (const std::string& input : training_inputs(c))
          LRP_CHECK(!same_file(c.output_model, input), where(out["model"], path), ": output.model '", c.output_model,
                    "' is an input of this training ('", input, "'); writing it would destroy that file");
      }
    }
    // Shapes chain? Build once now so that a bad architecture fails before any data is read.
    (void)build_model(c.architecture, registry, c.limits);
    return c;
  });
}

std::vector<std::string> training_inputs(const TrainConfig& c) {
  std::vector<std::string> files{c.path};
  if (!c.architecture_file.empty()) files.push_back(c.architecture_file);
  for (const std::string& f : c.train_data.files) files.push_back(f);
  if (c.test_data)
    for (const std::string& f : c.test_data->files) files.push_back(f);
  return files;
}

TrainResult run_training(const TrainConfig& c, const Registry& registry) {
  auto log = logger();
  Dataset train_set = load_dataset(c.train_data, c.limits);
  log->info("training data: {} samples of shape {} from {}", train_set.size(), to_string(train_set.inputs.shape),
            train_set.source);
  TrainResult result{build_model(c.architecture, registry, c.limits), {}, -1, 0};
  Model& model = result.model;
  initialize_parameters(model.network, c.init, c.seed);
  fit_to_model(train_set, c.train_data, model.network.input_shape(), model.spec.name);
  train_set.inputs = normalize_inputs(train_set.inputs, model.spec.normalization);
  log->info("model '{}':\n{}", model.spec.name, model.network.summary());
  TrainOptions options = c.options;
  options.progress = true;
  result.report = train(model.network, train_set, options);

  const EpochReport& last = result.report.epochs.back();
  model.provenance.source = "trained by lrplab";
  model.provenance.config = c.resolved_yaml;
  model.provenance.seed = c.seed;
  model.provenance.epochs = options.epochs;
  model.provenance.train_accuracy = last.train_accuracy;
  model.provenance.validation_accuracy = result.report.validation_samples > 0 ? last.validation_accuracy : -1;
  if (c.test_data) {
    Dataset test_set = load_dataset(*c.test_data, c.limits);
    fit_to_model(test_set, *c.test_data, model.network.input_shape(), model.spec.name);
    check_labels(test_set, model.network.output_shape()[0], c.path + ": data.test");
    test_set.inputs = normalize_inputs(test_set.inputs, model.spec.normalization);
    Progress progress("test", test_set.size(), "samples");
    const Evaluation e = [&] {
      const ProgressScope scope(&progress);  // evaluate() advances it batch by batch
      return evaluate(model.network, test_set.inputs, test_set.labels, 256, c.threads);
    }();
    progress.finish();
    result.test_accuracy = e.accuracy;
    result.test_loss = e.loss;
    model.provenance.test_accuracy = e.accuracy;
    log->info("test: {} samples, loss {:.4f}, accuracy {:.4f}", test_set.size(), e.loss, e.accuracy);
  }
  model.provenance.lrplab_version = LRP_VERSION;
  model.provenance.created = utc_now();
  if (!c.output_model.empty()) {
    const fs::path out(c.output_model);
    if (out.has_parent_path()) {
      std::error_code ec;
      fs::create_directories(out.parent_path(), ec);
      LRP_CHECK(!ec, "output.model '", c.output_model, "': cannot create the folder '", out.parent_path().string(),
                "': ", ec.message());
    }
    save_model(model, c.output_model);
    log->info("model saved to {}", c.output_model);
  }
  return result;
}

}  // namespace lrp
