// Fuzz target: the experiment config reader with --set overrides.
//
// Input: the config text, then optionally a line that is exactly "#--set" followed by one override
// ("key.path=value") per line. The config is written to a scratch file and read with
// lrp::read_experiment_config(path, overrides, registry); then every override is also applied on
// its own with lrp::apply_override to the parsed YAML (a failing override does not stop the next).
// The working directory is the repository (LRP_FUZZ_SOURCE_DIR), so that the committed configs'
// relative paths (models/fmnist_cnn.h5, ...) name real files, as they do for `lrplab run`.
#include "fuzz_common.hpp"

#include "lrp/experiment/experiment.hpp"
#include "lrp/io/yaml_util.hpp"

#include <string>
#include <vector>

namespace {

struct Input {
  std::string config;
  std::vector<std::string> overrides;
};

Input split(std::string_view text) {
  static constexpr std::string_view kSeparator = "#--set";
  Input in;
  std::size_t at = 0;
  bool in_overrides = false;
  while (at <= text.size()) {
    std::size_t end = text.find('\n', at);
    if (end == std::string_view::npos) end = text.size();
    const std::string_view line = text.substr(at, end - at);
    if (in_overrides) {
      if (!line.empty()) in.overrides.emplace_back(line);
    } else if (line == kSeparator) {
      in_overrides = true;
    } else {
      in.config.append(line);
      if (end < text.size()) in.config.push_back('\n');
    }
    at = end + 1;
  }
  return in;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const bool in_repository = ::chdir(LRP_FUZZ_SOURCE_DIR) == 0;
  if (!in_repository) std::abort();  // the harness cannot work (the repository moved)
  const lrp::Registry& registry = lrp_fuzz::registry();
  const Input in = split(lrp_fuzz::as_text(data, size));
  const std::string path = lrp_fuzz::scratch().write("config.yaml", in.config);
  try {
    const lrp::ExperimentConfig config = lrp::read_experiment_config(path, in.overrides, registry);
    if (config.methods.empty()) std::abort();  // a config needs at least one method
  } catch (const lrp::Error& e) {
    lrp_fuzz::rejected(e);
  }
  // Each override on its own, on the config as YAML (what read_experiment_config does first).
  YAML::Node root;
  try {
    root = lrp::yaml::load_text(in.config, "fuzz.yaml");
  } catch (const lrp::Error&) {
    return 0;  // the config reader reported this above
  }
  for (const std::string& assignment : in.overrides) {
    try {
      lrp::apply_override(root, assignment);
    } catch (const lrp::Error& e) {
      lrp_fuzz::rejected(e);
    }
  }
  return 0;
}
