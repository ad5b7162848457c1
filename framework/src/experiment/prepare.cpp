// Preparing an experiment (experiment.hpp): the model (loaded, or trained on rank 0 and sent to the
// others), the data, and every method resolved against them, with the run's memory estimate.
#include "lrp/core/error.hpp"
#include "lrp/core/files.hpp"
#include "lrp/core/log.hpp"
#include "lrp/core/progress.hpp"
#include "lrp/experiment/experiment.hpp"
#include "lrp/io/model_file.hpp"
#include "lrp/io/model_yaml.hpp"
#include "lrp/propagation/canonize.hpp"
#include "lrp/registry/plugin.hpp"
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <optional>

namespace lrp {

namespace fs = std::filesystem;

namespace {

using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// Parameters named low/high (z^B bounds) are raw values: default the model's raw range, checked
// per channel, mapped to network units.
void map_bounds(ParamMap& params, const std::vector<ParamSpec>& specs, const InputNormalization& norm, Index channels,
                const std::string& at, const std::string& what) {
  for (const char* key : {"low", "high"}) {
    bool declared = false;
    for (const ParamSpec& p : specs) declared = declared || p.name == key;
    if (!declared) continue;
    ParamValue raw = params.has(key) ? params.get(key, what) : ParamValue{std::string(key) == "low" ? norm.raw_min : norm.raw_max};
    LRP_CHECK(raw.size() == 1 || static_cast<Index>(raw.size()) == channels, at, ": ", what, ": '", key,
              "' needs 1 value or one per input channel (", channels, "), got ", raw.size());
    try {
      params.set(key, raw_to_network_units(raw, norm, channels));
    } catch (const Error& e) {
      throw Error(at + ": " + what + ": '" + key + "': " + e.what());
    }
  }
}

std::string rethrow_at(const std::string& at, const Error& e) {
  const std::string m = e.what();
  return m.rfind(at.substr(0, at.find(':')), 0) == 0 ? m : at + ": " + m;
}

Composite composite_from_rules(const std::vector<RuleEntry>& rules) {
  Composite c;
  for (const RuleEntry& r : rules) {
    switch (r.match) {
      case RuleEntry::Match::kLayer: c.by_name(r.layer, r.choice); break;
      case RuleEntry::Match::kIndex: c.by_index(r.index, r.choice); break;
      case RuleEntry::Match::kKind: c.by_kind(r.layer, r.choice); break;
      case RuleEntry::Match::kFirst: c.first(r.choice, r.kinds); break;
      case RuleEntry::Match::kLast: c.last(r.choice, r.kinds); break;
      case RuleEntry::Match::kFallback: c.fallback(r.choice); break;
    }
  }
  return c;
}

}  // namespace

PreparedMethod prepare_method(const MethodConfig& m, const Model& model, const Registry& registry,
                              const Limits& limits) {
  PreparedMethod p;
  p.config = &m;
  const std::string at = m.at, what = "method '" + m.name + "'";
  const InputNormalization& norm = model.spec.normalization;
  const Index channels = model.network.input_shape()[0];
  try {
    if (m.lrp()) {
      if (!m.preset.empty()) {
        ParamMap params = m.params;
        map_bounds(params, registry.preset_info(m.preset).params, norm, channels, at, what);
        p.composite = registry.make_preset(m.preset, params);
        p.resolved = resolve_params(registry.preset_info(m.preset).params, params, "preset '" + m.preset + "'");
      } else {
        std::vector<RuleEntry> rules = m.rules;
        for (RuleEntry& r : rules) {
          const RuleInfo& info = registry.rule_info(r.choice.rule);
          map_bounds(r.choice.params, info.params, norm, channels, r.at,
                     what + ", rule '" + r.choice.rule + "'");
        }
        p.composite = composite_from_rules(rules);
      }
      p.assignments = p.composite.assign(model.network, registry);
      (void)Explainer::from_composite(model.network, registry, p.composite);  // every rule fits its layer
    } else {
      p.resolved = resolve_params(registry.method_info(m.kind).params, m.params, what);
      p.method = registry.make_method(m.kind, m.params, MethodSetup{model.network, norm, m.seed, what, &limits});
    }
  } catch (const Error& e) {
    throw Error(rethrow_at(at, e));
  }
  return p;
}

namespace {


// output.layer_relevance against the network: each name a layer with one input (the relevance at
// that input is what is stored; add and concat read several values, each another layer's output).
std::vector<Index> relevance_layers(const OutputConfig& output, const Network& network, const std::string& model) {
  std::vector<Index> out;
  if (output.layer_relevance_all) {
    for (Index l = 0; l < network.size(); ++l)
      if (network.inputs_of(l).size() == 1) out.push_back(l);
    return out;
  }
  std::vector<std::string> names;
  for (Index l = 0; l < network.size(); ++l) names.push_back(network.layer(l).name());
  for (const std::string& name : output.layer_relevance) {
    const auto it = std::find(names.begin(), names.end(), name);
    if (it == names.end()) {
      const std::string close = closest_name(name, names);
      std::string all;
      for (const std::string& n : names) all += (all.empty() ? "" : ", ") + n;
      LRP_FAIL(output.layer_relevance_at, ": output.layer_relevance: the model '", model, "' has no layer '", name, "'",
               close.empty() ? "" : " (did you mean '" + close + "'?)", "; its layers: ", all);
    }
    const Index l = it - names.begin();
    LRP_CHECK(network.inputs_of(l).size() == 1, output.layer_relevance_at, ": output.layer_relevance: layer '", name,
              "' (", network.layer(l).kind(), ") reads ", network.inputs_of(l).size(),
              " values; name the layers that write them (the relevance at a layer's input is stored)");
    out.push_back(l);
  }
  std::sort(out.begin(), out.end());
  return out;
}

// What a run holds at its peak, by part (bytes; see estimate_run_memory).
struct RunMemory {
  std::vector<std::pair<std::string, std::uint64_t>> parts;
  std::uint64_t total() const {
    std::uint64_t sum = 0;
    for (const auto& part : parts) sum = saturating_add(sum, part.second);
    return sum;
  }
  std::string describe() const {
    std::string text;
    for (const auto& [name, bytes] : parts)
      if (bytes > 0) text += (text.empty() ? "" : ", ") + name + " " + format_bytes(bytes);
    return text;
  }
};

// The classes `target:` names exist, and `label` has labels.
void check_target(const ExperimentConfig& config, Index classes, const Dataset& data) {
  const TargetSetSpec& t = config.target;
  const auto check_class = [&](Index c) {
    LRP_CHECK(c < classes, config.target_at, ": target class ", c, " is out of range: the model has ", classes,
              " classes (0 to ", classes - 1, ")");
  };
  switch (t.kind) {
    case TargetSetSpec::Kind::kOne:
      if (t.one.kind == TargetSpec::Kind::kLabel)
        LRP_CHECK(!data.labels.empty(), config.target_at, ": target: label needs labels, but data '", data.source,
                  "' has none");
      if (t.one.kind == TargetSpec::Kind::kClass) check_class(t.one.class_index);
      break;
    case TargetSetSpec::Kind::kClasses:
      for (const Index c : t.classes) check_class(c);
      break;
    case TargetSetSpec::Kind::kTopK:
      LRP_CHECK(t.k <= classes, config.target_at, ": target: top_k = ", t.k, " exceeds the model's ", classes,
                " classes");
      break;
    case TargetSetSpec::Kind::kAll: break;
  }
}

// An upper-side estimate of a run's memory from its sizes: samples N, features F, methods M,
// layers L, one sample's activations A (input and every layer output), batch B.
RunMemory estimate_run_memory(const ExperimentConfig& config, const PreparedExperiment& p) {
  using U = std::uint64_t;
  const Network& network = p.model.network;
  const U n = static_cast<U>(p.data.size()), f = static_cast<U>(numel(network.input_shape()));
  const U m = config.methods.size(), layers = static_cast<U>(network.size()), s = sizeof(Scalar);
  U activations = f;
  for (Index l = 0; l < network.size(); ++l)
    activations = saturating_add(activations, static_cast<U>(numel(network.layer(l).output_shape())));
  const U batch = std::min<U>(n, static_cast<U>(config.batch_size));
  const auto mul = [](std::initializer_list<U> factors) {
    U product = 1;
    for (const U x : factors) product = saturating_mul(product, x);
    return product;
  };
  RunMemory r;
  r.parts.emplace_back("data", mul({n, f, 2, s}));
  // the maps, and their copy in the results file built in memory
  r.parts.emplace_back("relevance maps", mul({m, n, f, 2, s}));
  // the shared forward pass, one method's explanation with its layer maps, and a method's copies
  // (the threads split the rows of the same batch and keep only cache-sized scratch)
  r.parts.emplace_back("one batch's passes", mul({batch, activations, 3, s}));
  U layer_maps = 0;  // output.layer_relevance, per LRP method (and their copy in the results file)
  for (const Index l : p.relevance_layers)
    layer_maps = saturating_add(layer_maps, static_cast<U>(numel(network.value_shape(network.inputs_of(l)[0]))));
  U lrp_methods = 0;
  for (const MethodConfig& method : config.methods) lrp_methods += method.lrp() ? 1 : 0;
  r.parts.emplace_back("layer relevance maps", mul({lrp_methods, n, layer_maps, 2, s}));
  if (config.conservation) r.parts.emplace_back("conservation ledger", mul({m, n, layers + 1, 4, 8}));
  if (config.pixel_flipping) {
    const PixelFlippingOptions& o = config.pixel_flipping->options;
    const U regions = static_cast<U>(perturbation_regions(network.input_shape(), o.patch).size());
    const U steps = o.steps > 0 ? std::min(static_cast<U>(o.steps), regions) : regions;
    const U curves = mul({n, steps + 1, 2, s});
    r.parts.emplace_back("pixel-flipping curves",
                         saturating_add(mul({m, curves, static_cast<U>(o.random_repeats) + 2, 2}),
                                        mul({static_cast<U>(o.rows_per_pass), activations, 2, s})));
  }
  U parameters = 0;
  for (Index l = 0; l < network.size(); ++l) {
    const Params& params = network.layer(l).params();
    parameters = saturating_add(parameters, static_cast<U>(params.weight.size() + params.bias.size()));
  }
  r.parts.emplace_back("model", model_bytes(parameters, 0));
  return r;
}

// Several ranks: rank 0 trains, writes the model to a temporary file and sends its bytes; every
// other rank writes them to its own temporary file and loads it (the HDF5 model file holds the
// parameters exactly, so every rank explains with the same numbers).
Model train_on_rank_zero(const ExperimentConfig& config, const Registry& registry, const Cluster& cluster) {
  const fs::path scratch = fs::temp_directory_path() /
                           ("lrplab_model_" + std::to_string(::getpid()) + "_" + std::to_string(cluster.rank()) + ".h5");
  std::optional<Model> trained;
  std::string bytes;
  collectively(cluster, [&] {
    if (cluster.rank() != 0) return;
    trained.emplace(run_training(*config.model.training, registry).model);
    save_model(*trained, scratch.string());
    std::ifstream in(scratch, std::ios::binary);
    bytes.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    fs::remove(scratch);
    LRP_CHECK(!bytes.empty(), "training: could not read back the trained model from '", scratch.string(), "'");
  });
  bytes = cluster.broadcast(bytes, 0);
  std::optional<Model> received;
  collectively(cluster, [&] {
    if (cluster.rank() == 0) return;
    {
      std::ofstream out(scratch, std::ios::binary);
      out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
      LRP_CHECK(out.good(), "training: cannot write the received model to '", scratch.string(), "'");
    }
    received.emplace(load_model(scratch.string(), registry));
    fs::remove(scratch);
  });
  return cluster.rank() == 0 ? std::move(*trained) : std::move(*received);
}

// The config's plugins must be in the registry already.
void check_plugins_loaded(const ExperimentConfig& config, const Registry& registry) {
  for (std::size_t i = 0; i < config.plugins.size(); ++i) {
    const std::string& path = config.plugins[i];
    LRP_CHECK(plugin_loaded(registry, path), config.plugins_at[i], ": plugins: '", path,
              "' is not loaded into the registry (lrplab loads a config's plugins at start-up; from C++, call "
              "lrp::load_plugin with lrp::read_experiment_plugins(config path, overrides) before freezing the registry)");
  }
}

}  // namespace

PreparedExperiment prepare_experiment(const ExperimentConfig& config, const Registry& registry, bool train,
                                      const Cluster& cluster) {
  auto log = logger();
  check_plugins_loaded(config, registry);
  auto start = Clock::now();
  const bool trained_here = config.model.file.empty() && train;
  PreparedExperiment p([&] {
    if (!config.model.file.empty()) {
      Model m = [&] {
        try {
          return open_model(config.model.file, registry, config.seed, config.limits);
        } catch (const Error& e) {
          throw Error(rethrow_at(config.model.file_at + ": model.file", e));
        }
      }();
      if (config.model.normalization) {
        InputNormalization& norm = m.spec.normalization;
        config.model.normalization->apply(norm);
        norm.validate(m.network.input_shape()[0], config.model.normalization_at + ": model.normalization");
        norm.origin = config.model.normalization_at + " (model.normalization), replacing " + norm.origin;
      }
      log->info("model '{}' from {} ({}); input normalization {} ({})", m.spec.name, config.model.file,
                m.provenance.source, describe(m.spec.normalization), m.spec.normalization.origin);
      return m;
    }
    if (train && cluster.size() > 1) return train_on_rank_zero(config, registry, cluster);
    if (train) return run_training(*config.model.training, registry).model;
    return build_model(config.model.training->architecture, registry);  // validate: shapes only
  }());
  p.config = &config;
  p.trained_here = trained_here;
  p.stage_seconds[p.trained_here ? "train" : "model"] = seconds_since(start);
  const CanonizeReport canon = canonize_batch_norm(p.model.network);
  for (const std::string& m : canon.merged) log->debug("canonized: {}", m);

  start = Clock::now();
  Progress loading("data", 0, "samples");  // one read: no live line, a final one when it took a second or more
  const Shape& shape = p.model.network.input_shape();
  const Index classes = p.model.network.output_shape()[0];
  const InputNormalization& norm = p.model.spec.normalization;
  p.data = load_dataset(config.data, config.limits);
  const std::string& data_at = config.data.at;
  LRP_CHECK(p.data.size() > 0, data_at, ": data holds no samples");
  fit_to_model(p.data, config.data, shape, p.model.spec.name);
  if (!p.data.labels.empty()) check_labels(p.data, classes, data_at + ": data");
  // Values far outside the model's raw range usually mean a wrong data.scale (or normalization).
  const double span = norm.raw_max - norm.raw_min;
  if (p.data.value_min < norm.raw_min - span || p.data.value_max > norm.raw_max + span)
    log->warn("{}: data values span [{:.4g}, {:.4g}], far outside the raw range [{:.4g}, {:.4g}] the model '{}' expects "
              "(its normalization range); check data.scale", data_at, p.data.value_min, p.data.value_max, norm.raw_min,
              norm.raw_max, p.model.spec.name);
  check_target(config, classes, p.data);
  if (config.relevance_accuracy.value_or(false))
    LRP_CHECK(!p.data.relevant.empty(), config.relevance_accuracy_at,
              ": evaluate.relevance_accuracy needs data with known relevant steps (format marked_addition or "
              "long_range), but '", p.data.source, "' has none");
  // The sequence tasks' relevant steps are the localisation metrics' ground truth too: every feature
  // of a relevant step is in the mask.
  if (p.data.masks.rows() == 0 && !p.data.relevant.empty()) {
    const Index steps = shape[0], per_step = numel(shape) / steps;
    p.data.masks = Matrix::Zero(p.data.size(), numel(shape));
    for (Index i = 0; i < p.data.size(); ++i)
      for (const Index t : p.data.relevant[static_cast<std::size_t>(i)])
        p.data.masks.row(i).segment(t * per_step, per_step).setOnes();
  }
  p.raw_inputs = p.data.inputs;
  p.data.inputs = normalize_inputs(p.data.inputs, norm);
  // Several targets per sample: a row per (sample, target), sample by sample (row i·K + k); the
  // run explains rows, and shares one forward pass between a sample's rows.
  p.targets_per_sample = config.target.count(classes);
  p.samples = p.data.size();
  if (p.targets_per_sample > 1) {
    p.data = repeat_samples(p.data, p.targets_per_sample);
    p.raw_inputs = repeat_rows(p.raw_inputs, p.targets_per_sample);
  }
  if (config.reference_data) {
    Dataset ref = load_dataset(*config.reference_data, config.limits);
    LRP_CHECK(ref.size() > 0, config.reference_data->at, ": reference_data holds no samples");
    fit_to_model(ref, *config.reference_data, shape, p.model.spec.name);
    p.reference_mean = ref.mean;
  } else {
    p.reference_mean = p.data.mean;
  }
  p.stage_seconds["data"] = seconds_since(start);
  loading.advance(p.samples);
  loading.finish();
  log->info("data: {} samples of shape {} from {}{}", p.samples, to_string(shape), p.data.source,
            p.data.masks.rows() > 0 ? " (with object masks)" : "");

  for (const MethodConfig& m : config.methods)
    p.methods.push_back(prepare_method(m, p.model, registry, config.limits));
  p.relevance_layers = relevance_layers(config.output, p.model.network, p.model.spec.name);
  if (config.pixel_flipping) {
    const PixelFlippingConfig& pf = *config.pixel_flipping;
    const std::string at = config.pixel_flipping->at;
    Index regions = 0;
    try {
      regions = static_cast<Index>(perturbation_regions(shape, pf.options.patch).size());
    } catch (const Error& e) {
      throw Error(rethrow_at(at, e));
    }
    LRP_CHECK(pf.options.steps <= regions, at, ": evaluate.pixel_flipping.steps = ", pf.options.steps, " exceeds the ",
              regions, " regions of patch ", pf.options.patch, " on inputs of shape ", to_string(shape));
    const double low = pf.low.value_or(norm.raw_min), high = pf.high.value_or(norm.raw_max);
    LRP_CHECK(low < high, at, ": the uniform fill needs low < high, got [", low, ", ", high, "]");
    for (const auto& [key, value] : {std::pair{"low", low}, std::pair{"high", high}, std::pair{"value", pf.value}}) {
      try {
        (void)raw_to_network_units({value}, norm, shape[0]);
      } catch (const Error& e) {
        throw Error(at + ": evaluate.pixel_flipping." + key + ": " + e.what());
      }
    }
  }
  // The run's appetite, checked before its big buffers exist (validate reports it too).
  const RunMemory memory = estimate_run_memory(config, p);
  check_memory(memory.total(), config.limits, "the run (" + memory.describe() + ")");
  log->info("memory estimate: {} (limit {}: limits.memory)", format_bytes(memory.total()),
            format_bytes(config.limits.memory));
  return p;
}

}  // namespace lrp
