// Config sections for datasets, training settings and `lrplab train`: see config.hpp.
#include "lrp/config.hpp"

#include "lrp/error.hpp"
#include "lrp/log.hpp"
#include "lrp/registry.hpp"
#include "lrp/sequence_tasks.hpp"

#include <chrono>
#include <cmath>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace lrp {

namespace fs = std::filesystem;
using namespace yaml;

std::string resolve_path(const YAML::Node& node, const std::string& config_path, const std::string& what) {
  const std::string given = yaml::string(node, config_path, what);
  LRP_CHECK(!given.empty(), where(node, config_path), ": ", what, " is empty; expected a file path");
  const fs::path p(given);
  if (p.is_absolute() || fs::exists(p)) {
    LRP_CHECK(fs::exists(p), where(node, config_path), ": ", what, ": no such file '", given, "'");
    return given;
  }
  const fs::path beside = fs::path(config_path).parent_path() / p;
  LRP_CHECK(fs::exists(beside), where(node, config_path), ": ", what, ": no such file '", given,
            "' (looked in the current directory and in '", fs::path(config_path).parent_path().string(), "')");
  return beside.string();
}

namespace {

Shape read_shape(const YAML::Node& node, const std::string& source, const std::string& what) {
  LRP_CHECK(node.IsSequence() && node.size() > 0, where(node, source), ": ", what,
            " must be a list of dimensions such as [1, 28, 28]");
  Shape shape;
  for (std::size_t i = 0; i < node.size(); ++i)
    shape.push_back(whole(node[i], source, what + "[" + std::to_string(i) + "]", 1));
  return shape;
}

}  // namespace

Dataset load_dataset(const YAML::Node& node, const std::string& config, const std::string& what,
                     std::uint64_t default_seed) {
  LRP_CHECK(node.IsMap(), where(node, config), ": ", what, " must be a mapping with a 'format' key");
  require(node, "format", config, what);
  const std::string format = string(node["format"], config, what + ".format");
  Dataset data;
  const auto scale_or = [&](double fallback) {
    return node["scale"] ? number(node["scale"], config, what + ".scale") : fallback;
  };
  const bool token_format = format == "long_range";
  const bool known_format = format == "idx" || format == "csv" || format == "hdf5" || format == "synthetic" ||
                            format == "marked_addition" || token_format;
  LRP_CHECK(!node["one_hot"] || !known_format || token_format, where(node["one_hot"], config), ": ", what,
            ".one_hot applies only to format long_range (token ids [T] → one-hot vectors [T, V]); format '", format,
            "' has no token ids to encode: remove the key");
  if (format == "idx") {
    check_keys(node, {"format", "images", "labels", "scale", "subset"}, config, what + " (idx)");
    require(node, "images", config, what);
    const std::string labels = node["labels"] ? resolve_path(node["labels"], config, what + ".labels") : "";
    data = read_idx(resolve_path(node["images"], config, what + ".images"), labels, scale_or(1.0 / 255.0));
  } else if (format == "csv") {
    check_keys(node, {"format", "path", "shape", "label_column", "header", "subset"}, config, what + " (csv)");
    require(node, "path", config, what);
    require(node, "shape", config, what);
    const int label_column =
        node["label_column"] ? static_cast<int>(number(node["label_column"], config, what + ".label_column")) : -1;
    const bool header = node["header"] ? boolean(node["header"], config, what + ".header") : false;
    data = read_csv(resolve_path(node["path"], config, what + ".path"), read_shape(node["shape"], config, what + ".shape"),
                    label_column, header);
  } else if (format == "hdf5") {
    check_keys(node, {"format", "path", "inputs", "labels", "lengths", "layout", "scale", "subset"}, config,
               what + " (hdf5)");
    require(node, "path", config, what);
    require(node, "inputs", config, what);
    Hdf5Layout layout = Hdf5Layout::kNCHW;
    if (node["layout"]) {
      const std::string l = string(node["layout"], config, what + ".layout");
      LRP_CHECK(l == "nchw" || l == "nhwc", where(node["layout"], config), ": ", what,
                ".layout must be nchw or nhwc, got '", l, "'");
      layout = l == "nhwc" ? Hdf5Layout::kNHWC : Hdf5Layout::kNCHW;
    }
    data = read_hdf5(resolve_path(node["path"], config, what + ".path"), string(node["inputs"], config, what + ".inputs"),
                     node["labels"] ? string(node["labels"], config, what + ".labels") : "", layout, scale_or(1.0),
                     node["lengths"] ? string(node["lengths"], config, what + ".lengths") : "");
  } else if (format == "synthetic") {
    check_keys(node, {"format", "shape", "count", "classes", "seed", "subset"}, config, what + " (synthetic)");
    require(node, "shape", config, what);
    require(node, "count", config, what);
    require(node, "classes", config, what);
    const std::uint64_t s = node["seed"] ? seed(node["seed"], config, what + ".seed") : default_seed;
    data = synthetic_blobs(read_shape(node["shape"], config, what + ".shape"), whole(node["count"], config, what + ".count", 1),
                           whole(node["classes"], config, what + ".classes", 2), s);
  } else if (format == "marked_addition") {
    check_keys(node, {"format", "steps", "min_steps", "count", "seed", "subset"}, config, what + " (marked_addition)");
    require(node, "count", config, what);
    const Index steps = node["steps"] ? whole(node["steps"], config, what + ".steps", 2) : 20;
    const Index min_steps = node["min_steps"] ? whole(node["min_steps"], config, what + ".min_steps", 2) : steps;
    LRP_CHECK(min_steps <= steps, where(node["min_steps"], config), ": ", what, ".min_steps (", min_steps,
              ") must be ≤ steps (", steps, ")");
    const std::uint64_t s = node["seed"] ? seed(node["seed"], config, what + ".seed") : default_seed;
    data = marked_addition(whole(node["count"], config, what + ".count", 1), steps, s, min_steps);
  } else if (format == "long_range") {
    check_keys(node, {"format", "steps", "symbols", "count", "seed", "one_hot", "subset"}, config,
               what + " (long_range)");
    require(node, "count", config, what);
    const Index steps = node["steps"] ? whole(node["steps"], config, what + ".steps", 2) : 50;
    const Index symbols = node["symbols"] ? whole(node["symbols"], config, what + ".symbols", 2) : 4;
    const std::uint64_t s = node["seed"] ? seed(node["seed"], config, what + ".seed") : default_seed;
    const bool one_hot = node["one_hot"] ? boolean(node["one_hot"], config, what + ".one_hot") : false;
    data = long_range(whole(node["count"], config, what + ".count", 1), steps, symbols, s);
    if (one_hot) data = one_hot_tokens(data, long_range_vocabulary(symbols));
  } else {
    const std::string close =
        closest_name(format, {"idx", "csv", "hdf5", "synthetic", "marked_addition", "long_range"});
    LRP_FAIL(where(node["format"], config), ": ", what, ".format '", format,
             "' is not one of idx, csv, hdf5, synthetic, marked_addition, long_range",
             close.empty() ? "" : " (did you mean '" + close + "'?)");
  }
  if (const YAML::Node sub = node["subset"]) {
    const std::string w = what + ".subset";
    if (sub["count"]) {
      check_keys(sub, {"count", "seed"}, config, w);
      const Index count = whole(sub["count"], config, w + ".count", 1);
      LRP_CHECK(count <= data.size(), where(sub["count"], config), ": ", w, ".count ", count, " exceeds the ",
                data.size(), " samples of '", data.source, "'");
      data = sample(data, count, sub["seed"] ? seed(sub["seed"], config, w + ".seed") : default_seed);
    } else {
      check_keys(sub, {"begin", "end"}, config, w);
      const Index begin = sub["begin"] ? whole(sub["begin"], config, w + ".begin", 0) : 0;
      const Index end = sub["end"] ? whole(sub["end"], config, w + ".end", 1) : data.size();
      LRP_CHECK(begin < end && end <= data.size(), where(sub, config), ": ", w, " [", begin, ", ", end,
                ") is not a non-empty range within the ", data.size(), " samples of '", data.source, "'");
      data = subset(data, begin, end);
    }
  }
  return data;
}

TrainOptions parse_train_options(const YAML::Node& node, const std::string& config) {
  TrainOptions o;
  if (!node) return o;
  check_keys(node, {"epochs", "batch_size", "validation_fraction", "optimizer", "schedule", "clip_norm"}, config,
             "training");
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
        check_keys(opt, {"kind", "learning_rate", "momentum", "weight_decay"}, config, "training.optimizer (sgd)");
        o.optimizer = OptimizerKind::kSgd;
        get("learning_rate", o.sgd.learning_rate);
        get("momentum", o.sgd.momentum);
        get("weight_decay", o.sgd.weight_decay);
        validate(o.sgd);
      } else if (kind == "adam") {
        check_keys(opt, {"kind", "learning_rate", "beta1", "beta2", "eps", "weight_decay"}, config,
                   "training.optimizer (adam)");
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
    check_keys(sched, {"kind", "step_size", "gamma"}, config, "training.schedule");
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
  c.architecture = arch.IsScalar() ? read_model_spec(resolve_path(arch, path, "model.architecture"), &registry)
                                   : parse_model_spec(arch, path, &registry);
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
  LRP_CHECK(fs::is_regular_file(path), "'", path, "': no such file");
  {
    std::ifstream in(path);
    std::stringstream text;
    text << in.rdbuf();
    LRP_CHECK(in.good() || in.eof(), "'", path, "': cannot read the file");
    c.resolved_yaml = text.str();
  }
  const YAML::Node root = load_text(c.resolved_yaml, path);
  LRP_CHECK(root.IsMap(), path, ": a training config must be a mapping with the keys data, model, training, output");
  check_keys(root, {"seed", "threads", "data", "model", "training", "output"}, path, "the training config");
  if (root["seed"]) c.seed = seed(root["seed"], path, "seed");
  if (root["threads"]) c.threads = static_cast<int>(whole(root["threads"], path, "threads", 1));
  require(root, "data", path, "the training config");
  const YAML::Node data = root["data"];
  check_keys(data, {"train", "test"}, path, "data");
  require(data, "train", path, "data");
  c.train_data = data["train"];
  if (data["test"]) c.test_data = data["test"];  // (assigning a missing key's node would throw)
  require(root, "model", path, "the training config");
  const YAML::Node model = root["model"];
  check_keys(model, {"architecture", "init"}, path, "model");
  require(model, "architecture", path, "model");
  read_architecture(model, path, registry, c);
  c.options = parse_train_options(root["training"], path);
  c.options.seed = c.seed;
  c.options.threads = c.threads;
  if (const YAML::Node out = root["output"]) {
    check_keys(out, {"model"}, path, "output");
    if (out["model"]) c.output_model = string(out["model"], path, "output.model");
  }
  // Shapes chain? Build once now so that a bad architecture fails before any data is read.
  (void)build_model(c.architecture, registry);
  return c;
}

TrainResult run_training(const TrainConfig& c, const Registry& registry) {
  auto log = logger();
  Dataset train_set = load_dataset(c.train_data, c.path, "data.train", c.seed);
  log->info("training data: {} samples of shape {} from {}", train_set.size(), to_string(train_set.inputs.shape),
            train_set.source);
  TrainResult result{build_model(c.architecture, registry), {}, -1, 0};
  Model& model = result.model;
  initialize_parameters(model.network, c.init, c.seed);
  LRP_CHECK(train_set.inputs.shape == model.network.input_shape(), c.path, ": data.train has samples of shape ",
            to_string(train_set.inputs.shape), " but the model expects ", to_string(model.network.input_shape()));
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
  if (c.test_data && !c.test_data.IsNull()) {
    Dataset test_set = load_dataset(c.test_data, c.path, "data.test", c.seed);
    LRP_CHECK(test_set.inputs.shape == model.network.input_shape(), c.path, ": data.test has samples of shape ",
              to_string(test_set.inputs.shape), " but the model expects ", to_string(model.network.input_shape()));
    check_labels(test_set, model.network.output_shape()[0], c.path + ": data.test");
    test_set.inputs = normalize_inputs(test_set.inputs, model.spec.normalization);
    const Evaluation e = evaluate(model.network, test_set.inputs, test_set.labels, 256, c.threads);
    result.test_accuracy = e.accuracy;
    result.test_loss = e.loss;
    model.provenance.test_accuracy = e.accuracy;
    log->info("test: {} samples, loss {:.4f}, accuracy {:.4f}", test_set.size(), e.loss, e.accuracy);
  }
  model.provenance.lrplab_version = LRP_VERSION;
  model.provenance.created = utc_now();
  if (!c.output_model.empty()) {
    const fs::path out(c.output_model);
    if (out.has_parent_path()) fs::create_directories(out.parent_path());
    save_model(model, c.output_model);
    log->info("model saved to {}", c.output_model);
  }
  return result;
}

}  // namespace lrp
