// Reading the configurable metrics' entries `evaluate.<metric>: true | false | {key: value, ...}`:
// every key, type and range is checked against the metric's own parameter list (Metric::parameters),
// so the list the metric computes with is the list the validator and `lrplab list metrics` use.
#include "metric_config.hpp"

#include "lrp/core/error.hpp"
#include "lrp/eval/metric.hpp"
#include "lrp/experiment/config_keys.hpp"
#include "lrp/io/yaml_util.hpp"

#include <algorithm>
#include <cmath>

namespace lrp {

using namespace yaml;

namespace {

std::string join_choices(const std::vector<std::string>& items) {
  std::string out;
  for (const std::string& s : items) out += (out.empty() ? "" : ", ") + s;
  return out;
}

void read_parameter(const MetricParameter& p, const YAML::Node& node, const std::string& src, const std::string& what,
                    MetricSettings& s) {
  const std::string key = what + "." + p.key;
  switch (p.kind) {
    case MetricParameter::Kind::kFlag: s.numbers[p.key] = boolean(node, src, key) ? 1.0 : 0.0; return;
    case MetricParameter::Kind::kChoice: s.choices[p.key] = p.choices[read_choice(node, src, key, p.choices)]; return;
    case MetricParameter::Kind::kWhole:
    case MetricParameter::Kind::kNumber: {
      const double v = p.kind == MetricParameter::Kind::kWhole
                           ? static_cast<double>(whole(node, src, key, static_cast<Index>(std::max(0.0, p.low))))
                           : number(node, src, key);
      LRP_CHECK(std::isfinite(v) && v >= p.low && v <= p.high, where(node, src), ": ", key, " = ", format_double(v),
                " is outside [", format_double(p.low), ", ", format_double(p.high), "] (", p.meaning, ")");
      s.numbers[p.key] = v;
      return;
    }
  }
}

}  // namespace

std::size_t read_choice(const YAML::Node& node, const std::string& src, const std::string& key,
                        const std::vector<std::string>& choices) {
  const std::string v = string(node, src, key);
  const auto it = std::find(choices.begin(), choices.end(), v);
  if (it != choices.end()) return static_cast<std::size_t>(it - choices.begin());
  const std::string close = closest_name(v, choices);
  LRP_FAIL(where(node, src), ": ", key, " '", v, "' is not one of ", join_choices(choices),
           close.empty() ? "" : " (did you mean '" + close + "'?)");
}

std::optional<MetricSettings> read_metric_entry(const Metric& metric, const YAML::Node& node, const std::string& src,
                                                std::uint64_t seed) {
  const std::string what = std::string("evaluate.") + metric.config_key();
  if (node.IsScalar() && !boolean(node, src, what)) return std::nullopt;
  MetricSettings s;
  s.at = where(node, src) + ": " + what;
  s.seed = seed;
  const std::vector<MetricParameter> parameters = metric.parameters();
  for (const MetricParameter& p : parameters) {
    if (p.kind == MetricParameter::Kind::kChoice)
      s.choices[p.key] = p.choices.front();
    else
      s.numbers[p.key] = p.default_number;
  }
  if (node.IsScalar()) return s;  // `true`: the defaults
  LRP_CHECK(node.IsMap(), where(node, src), ": ", what, " must be true, false or a mapping of its parameters");
  // The keys of the table of config keys, which has them from this metric's parameters and `seed`.
  check_section_keys(node, ConfigFile::kExperiment, what, "", src, what);
  if (node["seed"]) s.seed = yaml::seed(node["seed"], src, what + ".seed");
  for (const MetricParameter& p : parameters)
    if (const YAML::Node v = node[p.key]) read_parameter(p, v, src, what, s);
  return s;
}

std::vector<ParamSpec> metric_param_specs(const Metric& metric) {
  std::vector<ParamSpec> specs;
  for (const MetricParameter& p : metric.parameters()) {
    ParamSpec spec;
    spec.name = p.key;
    spec.doc = p.meaning;
    if (p.kind == MetricParameter::Kind::kChoice) {
      spec.doc += ": one of " + join_choices(p.choices) + ", default " + p.choices.front();
    } else {
      spec.default_value = {p.default_number};
      if (p.kind != MetricParameter::Kind::kFlag)
        spec.doc += " [" + format_double(p.low) + ", " + format_double(p.high) + "]";
      else
        spec.doc += " (true/false)";
      spec.minimum = p.kind == MetricParameter::Kind::kFlag ? 0.0 : p.low;
    }
    specs.push_back(spec);
  }
  return specs;
}

}  // namespace lrp
