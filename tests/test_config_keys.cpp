// The table of config keys (lrp/experiment/config_keys.hpp) against the readers and the shipped
// configs: every key of configs/*.yaml is in the table; every key of the table is read by its
// reader (a config with a wrong value there fails on that key, not as an unknown key); an unknown
// key lists exactly the table's keys; and `lrplab help`, `lrplab help config`, `lrplab COMMAND
// --help` print it.
#include "experiment_support.hpp"
#include "run_command.hpp"
#include "temp_dir.hpp"
#include "test_util.hpp"

#include "lrp/core/error.hpp"
#include "lrp/experiment/config.hpp"
#include "lrp/experiment/config_keys.hpp"
#include "lrp/experiment/experiment.hpp"
#include "lrp/eval/metric.hpp"

#include <catch2/catch.hpp>

#include <sys/wait.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <functional>
#include <string>
#include <vector>

using namespace lrp_test;
using Catch::Contains;
using lrp::ConfigFile;
using lrp::ConfigSection;

namespace {

const std::string kConfigs = std::string(LRP_TEST_FIXTURES) + "/../../configs";

const char* kTinyModel = R"(name: tiny
input_shape: [1, 8, 8]
normalization: {mean: [0.5], std: [0.25], range: [0, 1]}
layers:
  - {kind: conv2d, out_channels: 2, kernel: 3, padding: 1}
  - {kind: relu}
  - {kind: flatten}
  - {kind: dense, out: 3}
)";

std::string join(const std::vector<std::string>& names) {
  std::string out;
  for (const std::string& n : names) out += (out.empty() ? "" : ", ") + n;
  return out;
}

bool has(const std::vector<std::string>& names, const std::string& name) {
  return std::find(names.begin(), names.end(), name) != names.end();
}

// ---------------------------------------------------------------- the shipped configs

// Checks every key of a mapping against a section of the table, then goes into the keys that are
// sections themselves.
struct Walker {
  std::string file;
  int checked = 0;

  void keys(const YAML::Node& node, ConfigFile f, const std::string& path, const std::string& variant) {
    REQUIRE(node.IsMap());
    const std::vector<std::string> names = lrp::config_key_names(f, path, variant);
    for (const auto& entry : node) {
      INFO(file << ": key '" << entry.first.Scalar() << "' in section '" << path << "' (" << variant << ")");
      CHECK(has(names, entry.first.Scalar()));
      ++checked;
    }
  }
  void dataset(const YAML::Node& node) {
    keys(node, ConfigFile::kExperiment, "data", node["format"].Scalar());
    if (const YAML::Node s = node["subset"]) keys(s, ConfigFile::kExperiment, "data.subset", s["count"] ? "sample" : "range");
  }
  void training(const YAML::Node& node) {
    keys(node, ConfigFile::kTraining, "training", "");
    if (const YAML::Node o = node["optimizer"]) keys(o, ConfigFile::kTraining, "training.optimizer", o["kind"].Scalar());
    if (const YAML::Node s = node["schedule"]) keys(s, ConfigFile::kTraining, "training.schedule", "");
    if (const YAML::Node a = node["augment"]) keys(a, ConfigFile::kTraining, "training.augment", "");
  }
  void experiment(const YAML::Node& root);
  void training_config(const YAML::Node& root);
};

void Walker::experiment(const YAML::Node& root) {
  const ConfigFile run = ConfigFile::kExperiment;
  keys(root, run, "", "");
  if (root["limits"]) keys(root["limits"], run, "limits", "");
  dataset(root["data"]);
  if (root["reference_data"]) dataset(root["reference_data"]);
  const YAML::Node model = root["model"];
  if (model["file"]) {
    keys(model, run, "model", "from a file");
    if (model["normalization"]) keys(model["normalization"], run, "model.normalization", "");
  } else {
    keys(model, run, "model", "trained here");
    dataset(model["train"]);
    if (model["test"]) dataset(model["test"]);
    if (model["training"]) training(model["training"]);
  }
  for (const YAML::Node& entry : root["explain"]) {
    if (!entry.IsMap()) continue;
    keys(entry, run, "explain", "");
    if (entry["rules"])
      for (const YAML::Node& rule : entry["rules"]) keys(rule, run, "explain.rules", "");
  }
  if (const YAML::Node ev = root["evaluate"]) {
    keys(ev, run, "evaluate", "");
    for (const auto& entry : ev)
      if (entry.second.IsMap()) keys(entry.second, run, "evaluate." + entry.first.Scalar(), "");
  }
  keys(root["output"], run, "output", "");
  if (root["output"]["heatmap"]) keys(root["output"]["heatmap"], run, "output.heatmap", "");
}

void Walker::training_config(const YAML::Node& root) {
  const ConfigFile train = ConfigFile::kTraining;
  keys(root, train, "", "");
  if (root["limits"]) keys(root["limits"], ConfigFile::kExperiment, "limits", "");
  keys(root["data"], train, "data", "");
  dataset(root["data"]["train"]);
  if (root["data"]["test"]) dataset(root["data"]["test"]);
  keys(root["model"], train, "model", "");
  if (root["training"]) training(root["training"]);
  if (root["output"]) keys(root["output"], train, "output", "");
}

// ---------------------------------------------------------------- every table key is read

// A valid config (experiment or training) with a section of the table in it, to put keys into.
struct Recipe {
  YAML::Node root;
  std::function<YAML::Node(YAML::Node&)> section;  // the section's node inside root
};

class Setup {
 public:
  Setup() {
    std::ofstream(dir_.file("tiny.yaml")) << kTinyModel;
    tiny_ = dir_.file("tiny.yaml");
  }

  YAML::Node experiment() const {
    return YAML::Load("seed: 3\ndata: {format: synthetic, shape: [1, 8, 8], count: 6, classes: 3}\nmodel: {file: " +
                      tiny_ + "}\nexplain: [gradient]\noutput: {results: " + dir_.file("results.h5") + "}\n");
  }
  YAML::Node training() const {
    return YAML::Load("seed: 1\ndata: {train: {format: synthetic, shape: [1, 8, 8], count: 6, classes: 3}}\n"
                      "model: {architecture: " + tiny_ + "}\n");
  }
  YAML::Node dataset(const std::string& format) const {
    if (format == "idx") return YAML::Load("{format: idx, images: " + tiny_ + "}");
    if (format == "csv") return YAML::Load("{format: csv, path: " + tiny_ + ", shape: [1, 8, 8]}");
    if (format == "hdf5") return YAML::Load("{format: hdf5, path: " + tiny_ + ", inputs: x}");
    if (format == "synthetic") return YAML::Load("{format: synthetic, shape: [1, 8, 8], count: 6, classes: 3}");
    return YAML::Load("{format: " + format + ", count: 4}");
  }

  Recipe recipe(const ConfigSection& s) const;

  // The error of reading the config (empty: none).
  std::string error_of(const YAML::Node& root, ConfigFile file) const {
    YAML::Emitter out;
    out << root;
    const std::string path = dir_.file(file == ConfigFile::kExperiment ? "exp.yaml" : "train.yaml");
    std::ofstream(path) << out.c_str() << "\n";
    try {
      if (file == ConfigFile::kExperiment)
        (void)lrp::read_experiment_config(path, {}, builtins());
      else
        (void)lrp::read_train_config(path, builtins());
    } catch (const lrp::Error& e) {
      return e.what();
    }
    return "";
  }

 private:
  TempDir dir_;
  std::string tiny_;
};

YAML::Node map_at(YAML::Node node, const std::string& key) {
  if (!node[key] || !node[key].IsMap()) node[key] = YAML::Node(YAML::NodeType::Map);
  return node[key];
}

Recipe Setup::recipe(const ConfigSection& s) const {
  const std::string& p = s.path;
  if (s.file == ConfigFile::kTraining) {
    Recipe r{training(), nullptr};
    if (p.empty()) r.section = [](YAML::Node& root) { return root; };
    if (p == "data" || p == "model") r.section = [p](YAML::Node& root) { return root[p]; };
    if (p == "output" || p == "training") r.section = [p](YAML::Node& root) { return map_at(root, p); };
    if (p == "training.schedule") r.root["training"]["schedule"] = YAML::Load("{kind: constant}");
    if (p == "training.optimizer") r.root["training"]["optimizer"] = YAML::Load("{kind: " + s.variant + "}");
    if (p.rfind("training.", 0) == 0)
      r.section = [p](YAML::Node& root) { return map_at(root["training"], p.substr(9)); };
    return r;
  }
  Recipe r{experiment(), nullptr};
  if (p.empty()) r.section = [](YAML::Node& root) { return root; };
  if (p == "output" || p == "limits" || p == "evaluate") r.section = [p](YAML::Node& root) { return map_at(root, p); };
  if (p == "model" && s.variant == "from a file") r.section = [](YAML::Node& root) { return root["model"]; };
  if (p == "model.normalization") r.section = [](YAML::Node& root) { return map_at(root["model"], "normalization"); };
  if (p == "output.heatmap") r.section = [](YAML::Node& root) { return map_at(root["output"], "heatmap"); };
  if (p == "model" && s.variant == "trained here") {
    r.root["model"] = YAML::Load(kTrainedHereModel)["model"];
    r.section = [](YAML::Node& root) { return root["model"]; };
  }
  if (p == "data") {
    r.root["data"] = dataset(s.variant);
    r.section = [](YAML::Node& root) { return root["data"]; };
  }
  if (p == "data.subset") {
    r.root["data"]["subset"] = YAML::Load(s.variant == "sample" ? "{count: 2}" : "{begin: 0}");
    r.section = [](YAML::Node& root) { return root["data"]["subset"]; };
  }
  if (p == "explain") {
    r.root["explain"] = YAML::Load("[{name: gradient}]");
    r.section = [](YAML::Node& root) { return root["explain"][0]; };
  }
  if (p == "explain.rules") {
    r.root["explain"] = YAML::Load("[{name: mine, rules: [{fallback: true, rule: epsilon}]}]");
    r.section = [](YAML::Node& root) { return root["explain"][0]["rules"][0]; };
  }
  if (p.rfind("evaluate.", 0) == 0)
    r.section = [p](YAML::Node& root) { return map_at(map_at(root, "evaluate"), p.substr(9)); };
  return r;
}

std::string section_title(const ConfigSection& s) {
  return std::string(s.file == ConfigFile::kExperiment ? "experiment" : "training") + " config, section '" + s.path +
         "'" + (s.variant.empty() ? "" : " (" + s.variant + ")");
}

}  // namespace

TEST_CASE("config keys: every key of the shipped configs is in the table", "[config_keys]") {
  int configs = 0;
  for (const auto& entry : std::filesystem::directory_iterator(kConfigs)) {
    if (entry.path().extension() != ".yaml") continue;
    Walker w{entry.path().string()};
    const YAML::Node root = YAML::LoadFile(w.file);
    if (root["explain"])
      w.experiment(root);
    else
      w.training_config(root);
    CHECK(w.checked > 5);
    ++configs;
  }
  CHECK(configs >= 10);
}

TEST_CASE("config keys: every key of the table is read by its reader", "[config_keys]") {
  QuietLog quiet;
  const Setup setup;
  for (const ConfigSection& s : lrp::config_sections()) {
    INFO(section_title(s));
    Recipe r = setup.recipe(s);
    REQUIRE(r.section);
    REQUIRE(setup.error_of(r.root, s.file).empty());  // the recipe alone is a valid config
    for (const lrp::ConfigKey& k : s.keys) {
      INFO("key '" << k.name << "'");
      Recipe bad = setup.recipe(s);
      bad.section(bad.root)[k.name] = YAML::Load("{poison_value: 1}");
      const std::string error = setup.error_of(bad.root, s.file);
      // Read, and refused: the message names the key, or the reader looked inside the value.
      CHECK_THAT(error, !Contains("unknown key '" + k.name + "'") &&
                            (Contains(k.name) || Contains("poison_value")));
    }
  }
}

TEST_CASE("config keys: an unknown key lists exactly the keys of its section", "[config_keys]") {
  QuietLog quiet;
  const Setup setup;
  for (const ConfigSection& s : lrp::config_sections()) {
    INFO(section_title(s));
    Recipe r = setup.recipe(s);
    r.section(r.root)["zzqx_unknown"] = 1;
    std::vector<std::string> names = lrp::config_key_names(s.file, s.path, s.variant);
    if (s.path == "model" && s.variant == "trained here") names.insert(names.begin(), "file");
    CHECK_THAT(setup.error_of(r.root, s.file),
               Contains("unknown key 'zzqx_unknown' in ") && Contains("; valid keys: " + join(names)));
  }
}

TEST_CASE("config keys: a misspelt key gets the closest one from the table", "[config_keys]") {
  QuietLog quiet;
  const Setup setup;
  YAML::Node run = setup.experiment();
  run["output"]["heatmap_sample"] = 3;
  CHECK_THAT(setup.error_of(run, ConfigFile::kExperiment),
             Contains("unknown key 'heatmap_sample' in output (did you mean 'heatmap_samples'?)"));
  YAML::Node train = setup.training();
  train["training"]["epoch"] = 3;
  CHECK_THAT(setup.error_of(train, ConfigFile::kTraining),
             Contains("unknown key 'epoch' in training (did you mean 'epochs'?)"));
  YAML::Node suite = setup.experiment();
  suite["evaluate"]["road"] = YAML::Load("{seeds: 1}");
  CHECK_THAT(setup.error_of(suite, ConfigFile::kExperiment),
             Contains("unknown key 'seeds' in evaluate.road (did you mean 'seed'?)"));
}

TEST_CASE("config keys: every section has keys with a type a default and a meaning", "[config_keys]") {
  for (const ConfigSection& s : lrp::config_sections()) {
    INFO(section_title(s));
    CHECK(!s.about.empty());
    CHECK(!s.keys.empty());
    std::vector<std::string> seen;
    for (const lrp::ConfigKey& k : s.keys) {
      INFO("key '" << k.name << "'");
      CHECK(!has(seen, k.name));
      seen.push_back(k.name);
      CHECK((!k.type.empty() && !k.default_value.empty() && !k.meaning.empty()));
    }
  }
  // The suite's entries come from the metric table: one section per configurable metric.
  for (const lrp::Metric* m : lrp::metric_table()) {
    if (m->config_key() == nullptr) continue;
    const std::string path = std::string("evaluate.") + m->config_key();
    CHECK(lrp::config_key_names(ConfigFile::kExperiment, path).size() == m->parameters().size() + 1);
    CHECK(has(lrp::config_key_names(ConfigFile::kExperiment, "evaluate"), m->config_key()));
  }
}

// ---------------------------------------------------------------- the CLI

namespace {

std::string lrplab(const std::string& arguments, int& code) {
  int status = 0;
  const std::string out = run_command(std::string(LRPLAB_EXE) + " " + arguments, status);
  code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return out;
}

}  // namespace

TEST_CASE("lrplab help: the overview and each command", "[config_keys][cli]") {
  int code = -1;
  std::string out = lrplab("help", code);
  CHECK(code == 0);
  for (const char* c : {"run", "validate", "list", "train", "model", "compare", "help config"}) CHECK_THAT(out, Contains(c));
  for (const char* c : {"run", "validate", "list", "train", "model", "compare"}) {
    INFO(c);
    out = lrplab(std::string("help ") + c, code);
    CHECK(code == 0);
    CHECK_THAT(out, Contains(std::string("usage: lrplab ") + c) && Contains("example:"));
    CHECK(lrplab(std::string(c) + " --help", code) == out);
    CHECK(code == 0);
    CHECK(lrplab(std::string(c) + " -h", code) == out);
    CHECK(code == 0);
  }
  // --help wins over the other arguments' errors.
  CHECK_THAT(lrplab("run /no/such/config.yaml --bogus --threads x --help", code), Contains("usage: lrplab run"));
  CHECK(code == 0);
  CHECK_THAT(lrplab("compare a --help", code), Contains("usage: lrplab compare"));
  CHECK(code == 0);
  out = lrplab("help nosuch", code);
  CHECK(code == 1);
  CHECK_THAT(out, Contains("error: lrplab help: no command 'nosuch'") && Contains("run, validate"));
  (void)lrplab("", code);
  CHECK(code == 2);  // no command: the usage, as before
}

TEST_CASE("lrplab help config: every section of the table", "[config_keys][cli]") {
  int code = -1;
  const std::string out = lrplab("help config", code);
  CHECK(code == 0);
  for (const ConfigSection& s : lrp::config_sections()) {
    INFO(section_title(s));
    CHECK_THAT(out, Contains(lrp::describe_section(s)));
  }
  CHECK_THAT(out, Contains("lrplab list"));
  CHECK(out.find("== experiment config") < out.find("== training config"));
}

TEST_CASE("lrplab help config output: one section", "[config_keys][cli]") {
  int code = -1;
  const std::string out = lrplab("help config output", code);
  CHECK(code == 0);
  CHECK_THAT(out, Contains(lrp::describe_section(lrp::config_section(ConfigFile::kExperiment, "output"))) &&
                      Contains(lrp::describe_section(lrp::config_section(ConfigFile::kTraining, "output"))));
  for (const char* key : {"results", "heatmaps", "heatmap_samples", "montage_columns"}) CHECK_THAT(out, Contains(key));
  CHECK_THAT(out, !Contains("read_seconds") && !Contains("epochs"));
  const std::string data = lrplab("help config data", code);
  CHECK(code == 0);
  CHECK_THAT(data, Contains("data (idx)") && Contains("data.subset (sample)") && !Contains("results"));
  const std::string bad = lrplab("help config outptu", code);
  CHECK(code == 1);
  CHECK_THAT(bad, Contains("no section 'outptu'") && Contains("output") && Contains("evaluate.pixel_flipping"));
}
