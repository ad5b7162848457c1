// Reading the configurable metrics' config entries (metric_config.cpp). Private to lrp::experiment.
#pragma once

#include "lrp/core/params.hpp"
#include "lrp/eval/metric.hpp"

#include <yaml-cpp/yaml.h>

#include <optional>
#include <string>
#include <vector>

namespace lrp {

// The keys evaluate.<key> of the metric table's configurable entries.
// One entry `evaluate.<metric.config_key()>`: nullopt for `false`; the defaults for `true`; else
// each given key checked (type, range, choices) and the rest defaulted. `seed` is the experiment's.
std::optional<MetricSettings> read_metric_entry(const Metric& metric, const YAML::Node& node, const std::string& src,
                                                std::uint64_t seed);
// A key whose value is one of `choices`: its index; else an error at its position naming `key`, the
// choices and the closest one (the metric suite's choices and output.heatmap's).
std::size_t read_choice(const YAML::Node& node, const std::string& src, const std::string& key,
                        const std::vector<std::string>& choices);
// A metric's parameters as `lrplab list metrics` shows them.
std::vector<ParamSpec> metric_param_specs(const Metric& metric);

}  // namespace lrp
