// Reading experiment configs: --set overrides, keys, types, ranges, sweeps (see experiment.hpp).
#include "lrp/io/model_yaml.hpp"
#include "lrp/core/error.hpp"
#include "lrp/core/files.hpp"
#include "lrp/experiment/experiment.hpp"
#include "lrp/experiment/config_keys.hpp"
#include "lrp/experiment/session.hpp"
#include "lrp/core/random.hpp"
#include "metric_config.hpp"

#include <cmath>
#include <filesystem>
#include <set>
#include <sstream>

namespace lrp {

namespace fs = std::filesystem;
using namespace yaml;

constexpr ConfigFile kRun = ConfigFile::kExperiment;  // the sections of config_keys.hpp

// ---------------------------------------------------------------- kinds for `lrplab list`

const char* const kLrpMethodDoc =
    "layer-wise relevance propagation: `preset` (with its parameters in `params`) or an explicit `rules` list";

const std::vector<MetricInfo>& metric_kinds() {
  static const std::vector<MetricInfo> kinds{
      {"conservation",
       "relevance ledger (docs/metrics.md): input sum vs f_c(x), per-layer sums, bias/stabilizer shares (LRP)",
       {}},
      {"relevance_accuracy",
       "on data with known relevant steps (marked_addition, long_range; docs/metrics.md): the share of them among "
       "the top-K steps by summed relevance",
       {}},
      {"pixel_flipping",
       "region perturbation (docs/metrics.md): MoRF/LeRF/random curves, AOPC, ABPC, AUC; "
       "fill: uniform (default; low/high, raw units, default the model's raw range) | constant (value) | mean",
       {{"patch", {4}, "region side in pixels", false, 1},
        {"steps", {0}, "regions perturbed (0: all)", false, 0},
        {"random_repeats", {10}, "random orders per sample", false, 0},
        {"value", {0}, "constant fill, raw units", false},
        {"rows_per_pass", {256}, "perturbed copies per forward pass", false, 1}}},
  };
  static const std::vector<MetricInfo> all = [] {
    std::vector<MetricInfo> out = kinds;
    for (const Metric* m : metric_table())
      if (m->config_key() != nullptr) out.push_back({m->config_key(), m->meaning(), metric_param_specs(*m)});
    return out;
  }();
  return all;
}

namespace {

std::vector<std::string> names_of(const std::vector<ParamSpec>& specs) {
  std::vector<std::string> out;
  for (const ParamSpec& p : specs) out.push_back(p.name);
  return out;
}

std::string join(const std::vector<std::string>& items, const char* separator = ", ") {
  std::string out;
  for (const std::string& s : items) out += (out.empty() ? "" : separator) + s;
  return out;
}

std::uint64_t fnv1a(const std::string& text) {
  std::uint64_t h = 0xcbf29ce484222325ULL;
  for (const unsigned char c : text) {
    h ^= c;
    h *= 0x100000001b3ULL;
  }
  return h;
}

// Checks that `name` is one of `known` (declared parameters), with the closest as a suggestion.
void check_param_name(const YAML::Node& key, const std::string& name, const std::vector<std::string>& known,
                      const std::string& source, const std::string& what) {
  for (const std::string& k : known)
    if (k == name) return;
  const std::string close = closest_name(name, known);
  LRP_FAIL(where(key, source), ": unknown parameter '", name, "' in ", what,
           close.empty() ? "" : " (did you mean '" + close + "'?)",
           known.empty() ? "; it takes no parameters" : "; valid parameters: " + join(known));
}

// A `params:` mapping: name → number or list of numbers, names checked against `known`.
ParamMap read_params(const YAML::Node& node, const std::vector<std::string>& known, const std::string& source,
                     const std::string& what) {
  ParamMap out;
  if (!node) return out;
  LRP_CHECK(node.IsMap(), where(node, source), ": ", what, " must be a mapping of parameter: value");
  for (const auto& entry : node) {
    const std::string name = entry.first.as<std::string>();
    check_param_name(entry.first, name, known, source, what);
    out.set(name, numbers(entry.second, source, what + "." + name));
  }
  return out;
}

RuleEntry read_rule_entry(const YAML::Node& node, const Registry& registry, const std::string& source,
                          const std::string& what) {
  LRP_CHECK(node.IsMap(), where(node, source), ": ", what,
            " must be a mapping such as {kind: conv2d, rule: gamma, params: {gamma: 0.25}}");
  check_section_keys(node, kRun, "explain.rules", "", source, what);
  RuleEntry e;
  e.at = where(node, source);
  int matchers = 0;
  if (node["layer"]) {
    ++matchers;
    e.match = RuleEntry::Match::kLayer;
    e.layer = string(node["layer"], source, what + ".layer");
  }
  if (node["index"]) {
    ++matchers;
    e.match = RuleEntry::Match::kIndex;
    const double v = number(node["index"], source, what + ".index");
    LRP_CHECK(v == std::floor(v) && std::abs(v) < 1e9, where(node["index"], source), ": ", what,
              ".index must be a whole number (negative counts from the end), got ", node["index"].Scalar());
    e.index = static_cast<long>(v);
  }
  if (node["kind"]) {
    ++matchers;
    e.match = RuleEntry::Match::kKind;
    e.layer = string(node["kind"], source, what + ".kind");
    LRP_CHECK(registry.has_layer(e.layer), where(node["kind"], source), ": ", what, ".kind '", e.layer,
              "' is not a layer kind",
              [&] {
                std::vector<std::string> kinds;
                for (const LayerInfo& l : registry.layers()) kinds.push_back(l.kind);
                const std::string close = closest_name(e.layer, kinds);
                return (close.empty() ? "" : " (did you mean '" + close + "'?)") + std::string("; layer kinds: ") +
                       join(kinds);
              }());
  }
  for (const char* edge : {"first", "last"}) {
    if (!node[edge]) continue;
    ++matchers;
    e.match = std::string(edge) == "first" ? RuleEntry::Match::kFirst : RuleEntry::Match::kLast;
    const YAML::Node v = node[edge];
    if (v.IsScalar()) {
      LRP_CHECK(boolean(v, source, what + "." + edge), where(v, source), ": ", what, ".", edge,
                " must be true or a list of layer kinds");
    } else {
      e.kinds = strings(v, source, what + "." + edge);
    }
  }
  if (node["fallback"]) {
    ++matchers;
    e.match = RuleEntry::Match::kFallback;
    LRP_CHECK(boolean(node["fallback"], source, what + ".fallback"), where(node["fallback"], source), ": ", what,
              ".fallback must be true");
  }
  LRP_CHECK(matchers == 1, where(node, source), ": ", what,
            " must say which layers it is for with exactly one of layer, index, kind, first, last, fallback (found ",
            matchers, ")");
  require(node, "rule", source, what);
  e.choice.rule = string(node["rule"], source, what + ".rule");
  try {
    (void)registry.rule_info(e.choice.rule);
  } catch (const Error& err) {
    throw Error(where(node["rule"], source) + ": " + what + ".rule: " + err.what());
  }
  e.choice.params = read_params(node["params"], names_of(registry.rule_info(e.choice.rule).params), source,
                                what + ".params (rule '" + e.choice.rule + "')");
  return e;
}

// The parameter names a method accepts (and may sweep).
std::vector<std::string> known_params(const MethodConfig& m, const Registry& registry) {
  if (!m.lrp()) return names_of(registry.method_info(m.kind).params);
  if (!m.preset.empty()) return names_of(registry.preset_info(m.preset).params);
  std::vector<std::string> names;
  for (const RuleEntry& r : m.rules)
    for (const ParamSpec& p : registry.rule_info(r.choice.rule).params)
      if (std::find(names.begin(), names.end(), p.name) == names.end()) names.push_back(p.name);
  return names;
}

std::string describe_kinds_and_presets(const Registry& registry) {
  std::vector<std::string> kinds{kLrpKind};
  for (const MethodInfo& k : registry.methods()) kinds.push_back(k.name);
  std::vector<std::string> presets;
  for (const PresetInfo& p : registry.presets()) presets.push_back(p.name);
  return "method kinds: " + join(kinds) + "; LRP presets: " + join(presets);
}

// `maxpool_ties: first | split`.
MaxPoolTies read_ties(const YAML::Node& node, const std::string& source, const std::string& what) {
  const std::string t = string(node, source, what);
  LRP_CHECK(t == "first" || t == "split", where(node, source), ": ", what, " must be 'first' (PyTorch's routing: a tied ",
            "max-pool window sends everything to its first maximum) or 'split' (shared equally among the tied inputs), got '",
            t, "'");
  return t == "first" ? MaxPoolTies::kFirst : MaxPoolTies::kSplit;
}

// A method named by a method kind or a preset (`- gradient`, `- epsilon_plus_flat`, or `name:` alone).
void method_from_name(MethodConfig& m, const std::string& name, const YAML::Node& at, const Registry& registry,
                      const std::string& source, const std::string& what) {
  if (registry.has_method(name)) {
    m.kind = name;
    return;
  }
  if (registry.has_preset(name)) {
    m.kind = kLrpKind;
    m.preset = name;
    return;
  }
  std::vector<std::string> all;
  for (const MethodInfo& k : registry.methods()) all.push_back(k.name);
  for (const PresetInfo& p : registry.presets()) all.push_back(p.name);
  const std::string close = closest_name(name, all);
  LRP_FAIL(where(at, source), ": ", what, ": '", name, "' is neither a method kind nor an LRP preset",
           close.empty() ? "" : " (did you mean '" + close + "'?)",
           "; give `kind:` (and `preset:` or `rules:` for LRP), or use one of: ", describe_kinds_and_presets(registry));
}

// An LRP entry's `preset:` or `rules:`.
void read_lrp_entry(MethodConfig& m, const YAML::Node& node, const Registry& registry, const std::string& source,
                    const std::string& what) {
  LRP_CHECK(!(node["preset"] && node["rules"]), where(node, source), ": ", what,
            " gives both preset and rules; an LRP method takes one of them");
  if (node["preset"]) {
    m.preset = string(node["preset"], source, what + ".preset");
    try {
      (void)registry.preset_info(m.preset);
    } catch (const Error& err) {
      throw Error(where(node["preset"], source) + ": " + what + ".preset: " + err.what());
    }
    return;
  }
  const YAML::Node rules = node["rules"];
  LRP_CHECK(rules.IsSequence() && rules.size() > 0, where(rules, source), ": ", what,
            ".rules must be a non-empty list of {<layer|index|kind|first|last|fallback>: ..., rule: ..., "
            "params: ...}");
  for (std::size_t i = 0; i < rules.size(); ++i)
    m.rules.push_back(read_rule_entry(rules[i], registry, source, what + ".rules[" + std::to_string(i) + "]"));
}

// An `explain:` entry written as a mapping: {name, kind, preset, rules, params, sweep, maxpool_ties}.
void read_method_mapping(MethodConfig& m, const YAML::Node& node, const Registry& registry, const std::string& source,
                         const std::string& what) {
  LRP_CHECK(node.IsMap(), where(node, source), ": ", what,
            " must be a method name (e.g. gradient, epsilon_plus_flat) or a mapping with name, kind, preset, "
            "rules, params, sweep, maxpool_ties");
  check_section_keys(node, kRun, "explain", "", source, what);
  if (node["maxpool_ties"]) m.maxpool_ties = read_ties(node["maxpool_ties"], source, what + ".maxpool_ties");
  if (node["kind"]) {
    const std::string kind = string(node["kind"], source, what + ".kind");
    if (kind != kLrpKind && !registry.has_method(kind)) {
      std::vector<std::string> kinds{kLrpKind};
      for (const MethodInfo& info : registry.methods()) kinds.push_back(info.name);
      const std::string close = closest_name(kind, kinds);
      LRP_FAIL(where(node["kind"], source), ": ", what, ".kind '", kind, "' is not a method kind",
               close.empty() ? "" : " (did you mean '" + close + "'?)", "; method kinds: ", join(kinds));
    }
    m.kind = kind;
  } else if (node["preset"] || node["rules"]) {
    m.kind = kLrpKind;
  }
  if (node["name"]) {
    m.base_name = string(node["name"], source, what + ".name");
    LRP_CHECK(!m.base_name.empty(), where(node["name"], source), ": ", what,
              ".name is empty; give the method a name, or leave the key out to name it after its kind or preset");
  }
  if (m.lrp() && (node["preset"] || node["rules"])) {
    read_lrp_entry(m, node, registry, source, what);
    if (m.base_name.empty()) m.base_name = m.preset.empty() ? "lrp" : m.preset;
  } else if (node["kind"] && m.lrp()) {
    LRP_FAIL(where(node, source), ": ", what, ": an LRP method needs `preset:` or `rules:`");
  } else if (!node["kind"]) {
    LRP_CHECK(node["name"], where(node, source), ": ", what, " needs a name (or kind, preset or rules)");
    method_from_name(m, m.base_name, node["name"], registry, source, what);
  } else {
    LRP_CHECK(!node["preset"] && !node["rules"], where(node, source), ": ", what, ": preset and rules are for kind lrp");
  }
  if (m.base_name.empty()) m.base_name = m.kind;
  if (m.lrp() && m.rules.empty() && !m.preset.empty())
    m.params = read_params(node["params"], names_of(registry.preset_info(m.preset).params), source,
                           what + ".params (preset '" + m.preset + "')");
  else if (m.lrp())
    LRP_CHECK(!node["params"], where(node["params"], source), ": ", what,
              ".params: a rules list takes its parameters in each rule's own params");
  else
    m.params = read_params(node["params"], names_of(registry.method_info(m.kind).params), source,
                           what + ".params (" + m.kind + ")");
}

using Sweep = std::vector<std::pair<std::string, std::vector<double>>>;

// `sweep:` {parameter: [values]}, in the order the parameters are written.
Sweep read_sweep(const YAML::Node& s, const MethodConfig& m, const Registry& registry, const std::string& source,
                 const std::string& what, const Limits& limits) {
  LRP_CHECK(s.IsMap() && s.size() > 0, where(s, source), ": ", what,
            ".sweep must be a mapping of parameter: [values], e.g. {gamma: [0.01, 0.1, 0.25, 1]}");
  Sweep sweep;
  const std::vector<std::string> known = known_params(m, registry);
  for (const auto& entry : s) {
    const std::string name = entry.first.as<std::string>();
    check_param_name(entry.first, name, known, source, what + ".sweep");
    LRP_CHECK(entry.second.IsSequence() && entry.second.size() > 0, where(entry.second, source), ": ", what, ".sweep.",
              name, " must be a non-empty list of values");
    LRP_CHECK(!m.params.has(name), where(entry.first, source), ": ", what, ": '", name,
              "' is both in params and in sweep; give it in one place");
    std::vector<double> values;
    for (std::size_t i = 0; i < entry.second.size(); ++i)
      values.push_back(number(entry.second[i], source, what + ".sweep." + name + "[" + std::to_string(i) + "]"));
    sweep.emplace_back(name, values);
  }
  std::uint64_t points = 1;
  for (const auto& [name, values] : sweep) points = saturating_mul(points, values.size());
  LRP_CHECK(points <= static_cast<std::uint64_t>(limits.sweep_points), where(s, source), ": ", what, ".sweep expands to ",
            points, " methods, more than limits.sweep_points = ", limits.sweep_points,
            " (each is explained and evaluated on every sample); raise the limit if you mean it");
  return sweep;
}

// The cartesian product of a sweep's values (the last parameter varies fastest), one method each,
// named "<name>@p=v,..." with its own seed.
std::vector<MethodConfig> expand_sweep(const MethodConfig& m, const Sweep& sweep, const Registry& registry,
                                       std::uint64_t seed) {
  std::vector<MethodConfig> out;
  std::vector<std::size_t> at(sweep.size(), 0);
  while (true) {
    MethodConfig point = m;
    point.name = m.base_name;
    std::string suffix;
    for (std::size_t s = 0; s < sweep.size(); ++s) {
      const double v = sweep[s].second[at[s]];
      point.sweep_point[sweep[s].first] = v;
      suffix += (suffix.empty() ? "" : ",") + sweep[s].first + "=" + format_double(v);
      if (point.lrp() && !point.rules.empty()) {
        for (RuleEntry& r : point.rules)
          for (const ParamSpec& p : registry.rule_info(r.choice.rule).params)
            if (p.name == sweep[s].first) r.choice.params.set(p.name, v);
      } else {
        point.params.set(sweep[s].first, v);
      }
    }
    if (!suffix.empty()) point.name += "@" + suffix;
    point.seed = sample_seed(seed, 0, fnv1a(point.name));
    out.push_back(std::move(point));
    std::size_t s = sweep.size();
    while (s > 0) {
      --s;
      if (++at[s] < sweep[s].second.size()) break;
      at[s] = 0;
      if (s == 0) return out;
    }
    if (sweep.empty()) return out;
  }
}

// One `explain:` entry → one method, or one per sweep point.
std::vector<MethodConfig> read_method(const YAML::Node& node, const Registry& registry, const std::string& source,
                                      const std::string& what, std::uint64_t seed, const Limits& limits,
                                      MaxPoolTies ties) {
  MethodConfig m;
  m.at = where(node, source);
  m.maxpool_ties = ties;
  if (node.IsScalar()) {
    m.base_name = string(node, source, what);
    method_from_name(m, m.base_name, node, registry, source, what);
  } else {
    read_method_mapping(m, node, registry, source, what);
  }
  LRP_CHECK(!m.base_name.empty() && m.base_name.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                                                   "0123456789_-") == std::string::npos,
            m.at, ": ", what, ": method name '", m.base_name,
            "' must be non-empty and made of letters, digits, '_' and '-' (it names an HDF5 group and a folder)");
  const Sweep sweep = !node.IsScalar() && node["sweep"] ? read_sweep(node["sweep"], m, registry, source, what, limits)
                                                        : Sweep{};
  return expand_sweep(m, sweep, registry, seed);
}

PixelFlippingConfig read_pixel_flipping(const YAML::Node& node, const std::string& source, std::uint64_t seed,
                                        const Limits& limits) {
  PixelFlippingConfig pf;
  pf.options.seed = seed;
  const std::string what = "evaluate.pixel_flipping";
  if (node.IsScalar()) return pf;  // `pixel_flipping: true`: the defaults
  check_section_keys(node, kRun, "evaluate.pixel_flipping", "", source, what);
  if (node["patch"]) pf.options.patch = whole(node["patch"], source, what + ".patch", 1);
  if (node["steps"]) pf.options.steps = whole(node["steps"], source, what + ".steps", 0);
  if (node["random_repeats"]) {
    pf.options.random_repeats = whole(node["random_repeats"], source, what + ".random_repeats", 0);
    LRP_CHECK(pf.options.random_repeats <= limits.random_repeats, where(node["random_repeats"], source), ": ", what,
              ".random_repeats = ", pf.options.random_repeats, " is more than limits.random_repeats = ",
              limits.random_repeats, " (each order costs a pixel-flipping curve per sample); raise the limit if you mean it");
  }
  if (node["rows_per_pass"]) pf.options.rows_per_pass = whole(node["rows_per_pass"], source, what + ".rows_per_pass", 1);
  if (node["seed"]) pf.options.seed = yaml::seed(node["seed"], source, what + ".seed");
  if (node["fill"]) {
    const std::string fill = string(node["fill"], source, what + ".fill");
    if (fill == "uniform")
      pf.options.fill = PerturbationFill::kUniform;
    else if (fill == "constant")
      pf.options.fill = PerturbationFill::kConstant;
    else if (fill == "mean")
      pf.options.fill = PerturbationFill::kMean;
    else {
      const std::string close = closest_name(fill, {"uniform", "constant", "mean"});
      LRP_FAIL(where(node["fill"], source), ": ", what, ".fill '", fill, "' is not one of uniform, constant, mean",
               close.empty() ? "" : " (did you mean '" + close + "'?)");
    }
  }
  if (node["value"]) {
    LRP_CHECK(pf.options.fill == PerturbationFill::kConstant, where(node["value"], source), ": ", what,
              ".value is the constant fill's value; it needs fill: constant");
    pf.value = number(node["value"], source, what + ".value");
  }
  for (const char* key : {"low", "high"}) {
    if (!node[key]) continue;
    LRP_CHECK(pf.options.fill == PerturbationFill::kUniform, where(node[key], source), ": ", what, ".", key,
              " bounds the uniform fill; it needs fill: uniform");
    (std::string(key) == "low" ? pf.low : pf.high) = number(node[key], source, what + "." + key);
  }
  if (pf.low && pf.high)
    LRP_CHECK(*pf.low < *pf.high, where(node, source), ": ", what, ": low (", *pf.low, ") must be below high (",
              *pf.high, ")");
  return pf;
}

}  // namespace

// ---------------------------------------------------------------- --set

namespace {

// A copy of a YAML value without source positions: the value of an override comes from the
// command line, and the positions of its text (line 1, column 1) would be reported as positions
// in the config file.
YAML::Node without_positions(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Scalar: return YAML::Node(node.Scalar());
    case YAML::NodeType::Sequence: {
      YAML::Node out(YAML::NodeType::Sequence);
      for (const YAML::Node& item : node) out.push_back(without_positions(item));
      return out;
    }
    case YAML::NodeType::Map: {
      YAML::Node out(YAML::NodeType::Map);
      for (const auto& entry : node) out[without_positions(entry.first)] = without_positions(entry.second);
      return out;
    }
    default: return YAML::Node();
  }
}

}  // namespace

void apply_override(YAML::Node& root, const std::string& assignment) {
  const auto eq = assignment.find('=');
  LRP_CHECK(eq != std::string::npos && eq > 0, "--set '", assignment,
            "': expected key.path=value (e.g. --set evaluate.pixel_flipping.patch=2)");
  const std::string path = assignment.substr(0, eq), text = assignment.substr(eq + 1);
  std::vector<std::string> segments;
  std::stringstream ss(path);
  for (std::string seg; std::getline(ss, seg, '.');) segments.push_back(seg);
  if (!path.empty() && path.back() == '.') segments.emplace_back();
  for (const std::string& seg : segments)
    LRP_CHECK(!seg.empty(), "--set '", assignment, "': the key path '", path, "' has an empty segment");
  // Parsed and checked like a file (no duplicate keys, no alias bombs) before it is copied.
  const YAML::Node value = without_positions(load_text(text, "--set '" + assignment + "'"));
  if (!root || root.IsNull()) root = YAML::Node(YAML::NodeType::Map);
  YAML::Node node = root;
  std::string walked;
  for (std::size_t i = 0; i < segments.size(); ++i) {
    const std::string& seg = segments[i];
    const bool last = i + 1 == segments.size();
    walked += (walked.empty() ? "" : ".") + seg;
    if (node.IsSequence()) {
      LRP_CHECK(seg.size() <= 9 && seg.find_first_not_of("0123456789") == std::string::npos, "--set '", assignment,
                "': '", walked, "': a list is indexed by a number (0, 1, ...), got '", seg, "'");
      const auto index = static_cast<std::size_t>(std::stoul(seg));
      LRP_CHECK(index < node.size(), "--set '", assignment, "': '", walked, "': index ", index,
                " is past the end of a list of ", node.size());
      if (last) {
        node[index] = value;
        return;
      }
      YAML::Node child = node[index];
      node.reset(child);
    } else if (node.IsMap() || node.IsNull()) {
      if (last) {
        node[seg] = value;
        return;
      }
      if (!node[seg] || node[seg].IsNull()) node[seg] = YAML::Node(YAML::NodeType::Map);
      YAML::Node child = node[seg];
      node.reset(child);
    } else {
      LRP_FAIL("--set '", assignment, "': '", walked.substr(0, walked.size() - seg.size() - (i > 0 ? 1 : 0)),
               "' is a value, not a mapping or list, so it has no '", seg, "'");
    }
  }
}

// ---------------------------------------------------------------- the config

std::vector<std::string> experiment_inputs(const ExperimentConfig& c) {
  std::vector<std::string> files{c.path};
  for (const std::string& p : c.plugins) files.push_back(p);
  if (!c.model.file.empty()) files.push_back(c.model.file);
  if (c.model.training)
    for (const std::string& f : training_inputs(*c.model.training)) files.push_back(f);
  for (const std::string& f : c.data.files) files.push_back(f);
  if (c.reference_data)
    for (const std::string& f : c.reference_data->files) files.push_back(f);
  return files;
}

namespace {

// No output may be (or resolve to) an input of the run, and the heatmaps folder, which a run
// replaces as a whole, may hold neither an input nor the results file.
void check_outputs_against_inputs(const ExperimentConfig& c) {
  std::vector<std::pair<std::string, std::string>> outputs{{c.output.results, c.output.results_at + ": output.results"}};
  if (c.model.training && !c.model.training->output_model.empty())
    outputs.emplace_back(c.model.training->output_model, c.model.save_at + ": model.save");
  const std::vector<std::string> inputs = experiment_inputs(c);
  for (const auto& [file, what] : outputs)
    for (const std::string& input : inputs)
      LRP_CHECK(!same_file(file, input), what, " '", file, "' is an input of this run ('", input,
                "'); writing it would destroy that file");
  if (outputs.size() == 2)
    LRP_CHECK(!same_file(outputs[0].first, outputs[1].first), outputs[1].second, " '", outputs[1].first,
              "' is also output.results");
  if (c.output.heatmaps.empty()) return;
  const std::string what = c.output.heatmaps_at + ": output.heatmaps";
  for (const std::string& input : inputs)
    LRP_CHECK(!inside_folder(input, c.output.heatmaps), what, " '", c.output.heatmaps, "' holds '", input,
              "', an input of this run; a run replaces the whole heatmaps folder, so give a folder of its own");
  for (const auto& [file, file_what] : outputs)
    LRP_CHECK(!inside_folder(file, c.output.heatmaps), what, " '", c.output.heatmaps, "' would hold ", file_what, " '",
              file, "'; a run replaces the whole heatmaps folder, so keep the results file outside it");
}

}  // namespace


std::vector<PluginEntry> read_experiment_plugin_entries(const std::string& path,
                                                        const std::vector<std::string>& overrides) {
  YAML::Node root = load_text(read_input_file(path, "experiment config", kMaxYamlBytes), path);
  if (!root.IsDefined() || root.IsNull() || !root.IsMap()) return {};
  return guarded(path, [&] {
    for (const std::string& o : overrides) apply_override(root, o);
    std::vector<PluginEntry> plugins;
    if (root["plugins"]) {
      const std::vector<std::string> given = strings(root["plugins"], path, "plugins");
      for (std::size_t i = 0; i < given.size(); ++i) {
        const YAML::Node node = root["plugins"][i];
        const std::string what = "plugins[" + std::to_string(i) + "]";
        plugins.push_back({resolve_path(node, path, what), where(node, path) + ": " + what});
      }
    }
    return plugins;
  });
}

std::vector<std::string> read_experiment_plugins(const std::string& path, const std::vector<std::string>& overrides) {
  std::vector<std::string> paths;
  for (const PluginEntry& e : read_experiment_plugin_entries(path, overrides)) paths.push_back(e.path);
  return paths;
}

namespace {

// The sections of an experiment config, each read in one place (read_experiment_config calls them
// in this order, so errors come in the order of the file's usual layout).

void read_run_settings(const YAML::Node& root, const std::string& src, ExperimentConfig& c) {
  c.limits = parse_limits(root["limits"], src);
  if (root["seed"]) c.seed = seed(root["seed"], src, "seed");
  if (root["threads"]) c.threads = static_cast<int>(whole(root["threads"], src, "threads", 1));
  LRP_CHECK(c.threads <= 256, where(root["threads"], src), ": threads must be at most 256, got ", c.threads);
  if (root["batch_size"]) c.batch_size = whole(root["batch_size"], src, "batch_size", 1);
  if (root["maxpool_ties"]) c.maxpool_ties = read_ties(root["maxpool_ties"], src, "maxpool_ties");
  if (root["plugins"]) {
    c.plugins = strings(root["plugins"], src, "plugins");
    for (std::size_t i = 0; i < c.plugins.size(); ++i) {
      c.plugins[i] = resolve_path(root["plugins"][i], src, "plugins[" + std::to_string(i) + "]");
      c.plugins_at.push_back(where(root["plugins"][i], src));
    }
  }
}

// model: a file, or an architecture trained here.
void read_model_section(const YAML::Node& model, const std::string& src, const Registry& registry, ExperimentConfig& c) {
  LRP_CHECK(model.IsMap(), where(model, src), ": model must be a mapping: {file: ...} or {architecture: ..., train: ..., "
                                              "training: ...}");
  if (model["file"]) {
    check_section_keys(model, kRun, "model", "from a file", src, "model (from a file)");
    c.model.file = resolve_path(model["file"], src, "model.file");
    c.model.file_at = where(model["file"], src);
    if (model["normalization"]) {
      c.model.normalization = read_normalization(model["normalization"], src, "model.normalization");
      c.model.normalization_at = where(model["normalization"], src);
    }
    return;
  }
  // `file` is listed so that a misspelt one gets it as the suggestion (given, it takes the branch above).
  std::vector<std::string> trained = config_key_names(kRun, "model", "trained here");
  trained.insert(trained.begin(), "file");
  check_keys(model, trained, src, "model");
  LRP_CHECK(model["architecture"], where(model, src),
            ": model needs 'file' (a model file) or 'architecture' (with 'train' data and 'training' settings)");
  require(model, "train", src, "model (trained here)");
  TrainConfig t;
  t.path = c.path;
  t.resolved_yaml = c.resolved_yaml;
  t.seed = c.seed;
  t.threads = c.threads;
  t.limits = c.limits;
  t.train_data = parse_dataset(model["train"], src, "model.train", c.seed);
  if (model["test"] && !model["test"].IsNull()) t.test_data = parse_dataset(model["test"], src, "model.test", c.seed);
  read_architecture(model, src, registry, t);
  t.options = parse_train_options(model["training"], src, t.architecture);
  t.options.seed = c.seed;
  t.options.threads = c.threads;
  if (model["save"]) {
    t.output_model = string(model["save"], src, "model.save");
    c.model.save_at = where(model["save"], src);
    LRP_CHECK(!t.output_model.empty(), c.model.save_at, ": model.save is empty; expected a file path");
    check_output_path(t.output_model, OutputKind::kFile, c.model.save_at + ": model.save");
  }
  c.model.training = std::move(t);
}

void read_explain(const YAML::Node& explain, const std::string& src, const Registry& registry, ExperimentConfig& c) {
  LRP_CHECK(explain.IsSequence() && explain.size() > 0, where(explain, src),
            ": explain must be a non-empty list of methods (e.g. - gradient, - epsilon_plus_flat, or "
            "- {name: ..., kind: ..., ...})");
  std::map<std::string, std::string> seen;  // name → where
  for (std::size_t i = 0; i < explain.size(); ++i) {
    const std::string what = "explain[" + std::to_string(i) + "]";
    for (MethodConfig& m : read_method(explain[i], registry, src, what, c.seed, c.limits, c.maxpool_ties)) {
      const auto [it, fresh] = seen.emplace(m.name, where(explain[i], src));
      LRP_CHECK(fresh, where(explain[i], src), ": ", what, ": the method name '", m.name, "' is already used at ",
                it->second, "; give each method its own `name:`");
      c.methods.push_back(std::move(m));
    }
  }
  for (const MethodConfig& m : c.methods) c.evaluated.push_back(m.name);
}

// evaluate.methods: names (or base names, selecting all their sweep points) of explain entries.
std::vector<std::string> read_evaluated(const YAML::Node& list, const std::string& src,
                                        const std::vector<MethodConfig>& methods) {
  const std::vector<std::string> names = strings(list, src, "evaluate.methods");
  LRP_CHECK(!names.empty(), where(list, src),
            ": evaluate.methods is empty; name the methods to evaluate, or leave the key out to evaluate all "
            "(and set conservation and pixel_flipping to false to evaluate none)");
  std::vector<std::string> all, evaluated;
  for (const MethodConfig& m : methods) all.push_back(m.name);
  for (std::size_t i = 0; i < names.size(); ++i) {
    bool found = false;
    for (const MethodConfig& m : methods) {
      if (m.name == names[i] || m.base_name == names[i]) {
        if (std::find(evaluated.begin(), evaluated.end(), m.name) == evaluated.end()) evaluated.push_back(m.name);
        found = true;
      }
    }
    if (!found) {
      const std::string close = closest_name(names[i], all);
      LRP_FAIL(where(list[i], src), ": evaluate.methods[", i, "]: no method named '", names[i], "' in explain",
               close.empty() ? "" : " (did you mean '" + close + "'?)", "; methods: ", join(all));
    }
  }
  return evaluated;
}

void read_evaluate(const YAML::Node& ev, const std::string& src, ExperimentConfig& c) {
  c.relevance_accuracy_at = src;
  if (!ev) return;  // (a look-up in a key that is not there would throw)
  c.relevance_accuracy_at = where(ev["relevance_accuracy"], src);
  check_section_keys(ev, kRun, "evaluate", "", src, "evaluate");
  if (ev["conservation"]) c.conservation = boolean(ev["conservation"], src, "evaluate.conservation");
  if (ev["relevance_accuracy"]) c.relevance_accuracy = boolean(ev["relevance_accuracy"], src, "evaluate.relevance_accuracy");
  if (const YAML::Node pf = ev["pixel_flipping"]) {
    if (!pf.IsScalar() || boolean(pf, src, "evaluate.pixel_flipping")) {
      c.pixel_flipping = read_pixel_flipping(pf, src, c.seed, c.limits);
      c.pixel_flipping->at = where(pf, src);
    }
  }
  if (const YAML::Node list = ev["methods"]) c.evaluated = read_evaluated(list, src, c.methods);
  for (const Metric* m : metric_table())
    if (m->config_key() != nullptr && ev[m->config_key()])
      if (std::optional<MetricSettings> s = read_metric_entry(*m, ev[m->config_key()], src, c.seed))
        c.metrics.emplace(m->config_key(), std::move(*s));
}

void read_output(const YAML::Node& out, const std::string& src, OutputConfig& o) {
  check_section_keys(out, kRun, "output", "", src, "output");
  require(out, "results", src, "output");
  o.results = string(out["results"], src, "output.results");
  o.results_at = where(out["results"], src);
  LRP_CHECK(!o.results.empty(), o.results_at, ": output.results is empty; expected a file path");
  check_output_path(o.results, OutputKind::kFile, o.results_at + ": output.results");
  o.heatmaps_at = where(out["heatmaps"], src);
  if (out["heatmaps"]) {
    o.heatmaps = string(out["heatmaps"], src, "output.heatmaps");
    LRP_CHECK(!o.heatmaps.empty(), o.heatmaps_at, ": output.heatmaps is empty; expected a folder");
    check_replaceable_folder(o.heatmaps, o.heatmaps_at + ": output.heatmaps");
  }
  o.report = out["report"] ? boolean(out["report"], src, "output.report") : !o.heatmaps.empty();
  LRP_CHECK(!o.report || !o.heatmaps.empty(), where(out["report"], src),
            ": output.report needs output.heatmaps, the folder its index.html goes in");
  if (out["heatmap_samples"]) o.heatmap_samples = whole(out["heatmap_samples"], src, "output.heatmap_samples", 0);
  if (out["montage_columns"]) o.montage_columns = whole(out["montage_columns"], src, "output.montage_columns", 1);
  if (const YAML::Node layers = out["layer_relevance"]) {
    o.layer_relevance_at = where(layers, src);
    if (layers.IsScalar() && layers.Scalar() == "all") {
      o.layer_relevance_all = true;
    } else {
      LRP_CHECK(layers.IsSequence(), o.layer_relevance_at,
                ": output.layer_relevance must be `all` or a list of layer names, e.g. [conv1, fc1]");
      o.layer_relevance = strings(layers, src, "output.layer_relevance");
      std::set<std::string> seen;
      for (const std::string& name : o.layer_relevance)
        LRP_CHECK(seen.insert(name).second, o.layer_relevance_at, ": output.layer_relevance names layer '", name,
                  "' twice");
    }
  }
  read_heatmap_config(out["heatmap"], src, o.heatmap);
}

}  // namespace

ExperimentConfig read_experiment_config(const std::string& path, const std::vector<std::string>& overrides,
                                        const Registry& registry) {
  ExperimentConfig c;
  c.path = path;
  c.overrides = overrides;
  YAML::Node root = load_text(read_input_file(path, "experiment config", kMaxYamlBytes), path);
  if (!root.IsDefined() || root.IsNull()) root = YAML::Node(YAML::NodeType::Map);
  return guarded(path, [&] {
    for (const std::string& o : overrides) apply_override(root, o);
    {
      YAML::Emitter out;
      out << root;
      c.resolved_yaml = std::string(out.c_str()) + "\n";
    }
    const std::string& src = path;
    const YAML::Node& top = root;  // read only from here on (a const node never grows a key)
    LRP_CHECK(top.IsMap(), where(top, src), ": an experiment config must be a mapping with the keys data, model, "
                                            "explain, evaluate, output");
    check_section_keys(top, kRun, "", "", src, "the experiment config");
    read_run_settings(top, src, c);
    require(top, "data", src, "the experiment config");
    c.data = parse_dataset(top["data"], src, "data", c.seed);
    if (top["reference_data"] && !top["reference_data"].IsNull())
      c.reference_data = parse_dataset(top["reference_data"], src, "reference_data", c.seed);
    require(top, "model", src, "the experiment config");
    read_model_section(top["model"], src, registry, c);
    c.target_at = where(top["target"], src);
    if (top["target"]) c.target = read_target(top["target"], src);
    require(top, "explain", src, "the experiment config");
    read_explain(top["explain"], src, registry, c);
    read_evaluate(top["evaluate"], src, c);
    require(top, "output", src, "the experiment config");
    read_output(top["output"], src, c.output);
    check_outputs_against_inputs(c);
    return c;
  });
}

}  // namespace lrp

namespace lrp {

MethodConfig read_method_entry(const YAML::Node& entry, const Registry& registry, const std::string& source,
                               std::uint64_t seed, const Limits& limits) {
  const std::string what = "method";
  LRP_CHECK(!entry.IsMap() || !entry["sweep"], where(entry["sweep"], source), ": ", what,
            ": sweep is for experiment configs; explain once per parameter value instead");
  std::vector<MethodConfig> methods = read_method(entry, registry, source, what, seed, limits, MaxPoolTies::kFirst);
  LRP_CHECK(methods.size() == 1, source, ": ", what, " expands to ", methods.size(), " methods; expected one");
  return std::move(methods.front());
}

}  // namespace lrp
