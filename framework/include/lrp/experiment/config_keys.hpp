// The keys of experiment and training configs, in one table that both the config readers and
// `lrplab help config` use: a reader checks a mapping's keys against its section of the table
// (check_section_keys), and the help prints the same sections with each key's type, default and
// meaning. A key the table lacks is an unknown key to the validator; a key in the table that no
// reader reads is caught by tests/test_config_keys.cpp.
//
// The suite metrics' entries (evaluate.<metric>) are generated from the metric table
// (Metric::parameters). Method, rule and preset parameters come from the registry (`lrplab list`);
// the keys of a model description (model.architecture) are checked by lrp/io/model_yaml.hpp.
#pragma once

#include <yaml-cpp/yaml.h>

#include <string>
#include <vector>

namespace lrp {

// Which file a section belongs to.
enum class ConfigFile { kExperiment, kTraining };

struct ConfigKey {
  std::string name;
  std::string type;           // "whole ≥ 1", "path", "bool", "first | split", ...
  std::string default_value;  // "required" when the key must be given
  std::string meaning;        // one line
};

struct ConfigSection {
  ConfigFile file = ConfigFile::kExperiment;
  std::string path;     // dotted path in the config: "" (top level), "output", "training.optimizer"
  std::string variant;  // "" or which form: a data format ("idx"), an optimizer kind ("sgd"), ...
  std::string about;    // one line: what the section is, where it appears, what selects the variant
  std::vector<ConfigKey> keys;
};

// Every section: the experiment config's, then the training config's.
const std::vector<ConfigSection>& config_sections();

// One section (an lrp::Error if the table has none: a reader asking for a section that is not there).
const ConfigSection& config_section(ConfigFile file, const std::string& path, const std::string& variant = "");

// The key names of a section, in table order.
std::vector<std::string> config_key_names(ConfigFile file, const std::string& path, const std::string& variant = "");

// yaml::check_keys with the section's names: an unknown key is an error at its position, naming
// `what` (e.g. "data (idx)", "explain[2]") with the closest valid key and the valid keys.
void check_section_keys(const YAML::Node& node, ConfigFile file, const std::string& path, const std::string& variant,
                        const std::string& source, const std::string& what);

// The section as help text: a heading ("output", "data (idx)", with its `about`), then each key with
// its type, default and meaning.
std::string describe_section(const ConfigSection& section);

}  // namespace lrp
