// Experiment configs (`lrplab run` / `lrplab validate`): malformed configs give lrp::Errors that
// name the file, the line:column of the offending node (computed here from the config text
// itself), what was expected and, for a misspelt name, the closest valid one. Errors that need
// the model or the data come from prepare_experiment (what `lrplab validate` runs). Also: the
// --set overrides (apply_override), sweep expansion, shorthand method entries and method seeds.
#include "temp_dir.hpp"
#include "experiment_support.hpp"
#include "test_util.hpp"

#include "lrp/experiment/experiment.hpp"
#include "lrp/core/log.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <string>
#include <tuple>
#include <vector>

using namespace lrp_test;
using Catch::Contains;

// Checks the message of `expr` (evaluated first: the expected positions need the config it wrote).
#define CHECK_ERROR(expr, matcher)      \
  do {                                  \
    const std::string message_ = (expr); \
    CHECK_THAT(message_, matcher);      \
  } while (false)

namespace {

// A tiny CNN on [1, 8, 8] inputs with 3 classes (its parameters are initialized from the seed).
const char* kTinyModel = R"(name: tiny
input_shape: [1, 8, 8]
normalization: {mean: [0.5], std: [0.25], range: [0, 1]}
classes: [a, b, c]
layers:
  - {kind: conv2d, name: conv1, out_channels: 3, kernel: 3, padding: 1}
  - {kind: relu, name: relu1}
  - {kind: maxpool2d, name: pool1, kernel: 2}
  - {kind: flatten, name: flatten}
  - {kind: dense, name: fc1, out: 3}
)";

using lrp_test::QuietLog;
using lrp_test::replace_all;

// A config assembled from its sections, so that a test replaces one section. "@DIR@" is the
// temporary folder (the model file tiny.yaml is there).
struct Sections {
  std::string head = "seed: 3\n";
  std::string data = "data: {format: synthetic, shape: [1, 8, 8], count: 6, classes: 3}\n";
  std::string model = "model: {file: @DIR@/tiny.yaml}\n";
  std::string target;
  std::string explain = "explain:\n  - gradient\n";
  std::string evaluate;
  std::string output = "output: {results: @DIR@/results.h5}\n";
  std::string text() const { return head + data + model + target + explain + evaluate + output; }
};

class Env {
 public:
  Env() {
    folder_ = std::filesystem::path(dir_.file("x")).parent_path().string();
    std::ofstream(dir_.file("tiny.yaml")) << kTinyModel;
  }
  const std::string& folder() const { return folder_; }
  std::string file(const std::string& name) const { return dir_.file(name); }

  // Writes the config (with @DIR@ replaced) and remembers its text for at().
  std::string write(const std::string& text, const std::string& name = "exp.yaml") {
    text_ = replace_all(text, "@DIR@", folder_);
    path_ = dir_.file(name);
    std::ofstream(path_) << text_;
    return path_;
  }
  std::string write(const Sections& s) { return write(s.text()); }

  // "<config>:<line>:<column>" (1-based) of the first occurrence of `needle` in the config text,
  // `skip` characters further on.
  std::string at(const std::string& needle, std::size_t skip = 0) const {
    const std::size_t offset = text_.find(needle);
    REQUIRE(offset != std::string::npos);
    const std::size_t pos = offset + skip;
    const std::size_t line_start = text_.rfind('\n', pos == 0 ? 0 : pos - 1);
    const std::size_t line = 1 + static_cast<std::size_t>(std::count(text_.begin(), text_.begin() + static_cast<long>(pos), '\n'));
    const std::size_t column = line_start == std::string::npos ? pos + 1 : pos - line_start;
    return path_ + ":" + std::to_string(line) + ":" + std::to_string(column);
  }
  const std::string& path() const { return path_; }

 private:
  TempDir dir_{"lrp_experiment_config"};
  std::string folder_, text_, path_;
};

lrp::ExperimentConfig read(const std::string& path, const std::vector<std::string>& overrides = {}) {
  return lrp::read_experiment_config(path, overrides, builtins());
}

// The message of the lrp::Error that reading the config throws (the test fails when none is).
std::string read_error(const std::string& path, const std::vector<std::string>& overrides = {}) {
  try {
    (void)read(path, overrides);
  } catch (const lrp::Error& e) {
    return e.what();
  }
  FAIL("reading " << path << " gave no error");
  return {};
}

// The config reads fine; preparing it (as `lrplab validate` does) throws: its message.
std::string prepare_error(const std::string& path) {
  const lrp::ExperimentConfig config = read(path);
  try {
    (void)lrp::prepare_experiment(config, builtins(), /*train=*/false);
  } catch (const lrp::Error& e) {
    return e.what();
  }
  FAIL("preparing " << path << " gave no error");
  return {};
}

std::string override_error(YAML::Node root, const std::string& assignment) {
  try {
    lrp::apply_override(root, assignment);
  } catch (const lrp::Error& e) {
    return e.what();
  }
  FAIL("--set '" << assignment << "' gave no error");
  return {};
}

const lrp::MethodConfig& method(const lrp::ExperimentConfig& c, const std::string& name) {
  for (const lrp::MethodConfig& m : c.methods)
    if (m.name == name) return m;
  FAIL("no method '" << name << "'");
  return c.methods.front();
}

}  // namespace

TEST_CASE("The base config of this suite reads and prepares without error", "[experiment]") {
  const QuietLog quiet;
  // Every other case changes one thing of it, so the errors below come from that change.
  Env env;
  const lrp::ExperimentConfig c = read(env.write(Sections{}));
  CHECK(c.seed == 3);
  CHECK(c.threads == 1);
  REQUIRE(c.methods.size() == 1);
  CHECK(c.methods[0].name == "gradient");
  CHECK(c.output.results == env.folder() + "/results.h5");
  const lrp::PreparedExperiment p = lrp::prepare_experiment(c, builtins(), false);
  CHECK(p.data.size() == 6);
  CHECK(p.model.spec.name == "tiny");
}

TEST_CASE("Unknown keys are errors at their position with the closest valid key", "[experiment]") {
  Env env;
  SECTION("top level") {
    Sections s;
    s.explain = "explian:\n  - gradient\n";
    const std::string msg = read_error(env.write(s));
    CHECK_THAT(msg, Contains(env.at("explian:") + ": unknown key 'explian' in the experiment config") &&
                        Contains("(did you mean 'explain'?)") && Contains("valid keys: seed, threads"));
  }
  SECTION("output") {
    Sections s;
    s.output = "output:\n  results: @DIR@/results.h5\n  heatmps: pictures\n";
    CHECK_ERROR(read_error(env.write(s)), Contains(env.at("heatmps:") + ": unknown key 'heatmps' in output") &&
                                             Contains("did you mean 'heatmaps'?"));
  }
  SECTION("evaluate") {
    Sections s;
    s.evaluate = "evaluate: {conservaton: true}\n";
    CHECK_ERROR(read_error(env.write(s)), Contains(env.at("conservaton") + ": unknown key 'conservaton' in evaluate") &&
                                             Contains("did you mean 'conservation'?"));
  }
  SECTION("evaluate.pixel_flipping") {
    Sections s;
    s.evaluate = "evaluate:\n  pixel_flipping: {patch: 2, random_repeat: 3}\n";
    CHECK_ERROR(read_error(env.write(s)),
               Contains(env.at("random_repeat") + ": unknown key 'random_repeat' in evaluate.pixel_flipping") &&
                   Contains("did you mean 'random_repeats'?"));
  }
  SECTION("a method entry (flow and block mappings)") {
    Sections s;
    s.explain = "explain:\n  - gradient\n  - {name: ig, kind: integrated_gradients, parms: {steps: 4}}\n";
    CHECK_ERROR(read_error(env.write(s)), Contains(env.at("parms") + ": unknown key 'parms' in explain[1]") &&
                                             Contains("did you mean 'params'?"));
    s.explain = "explain:\n  - name: e\n    preset: epsilon_plus\n    swep: {epsilon: [0.1]}\n";
    CHECK_ERROR(read_error(env.write(s)), Contains(env.at("swep") + ": unknown key 'swep' in explain[0]") &&
                                             Contains("did you mean 'sweep'?"));
  }
  SECTION("a rules entry") {
    Sections s;
    s.explain = "explain:\n  - {kind: lrp, rules: [{fallback: true, rul: zero}]}\n";
    CHECK_ERROR(read_error(env.write(s)), Contains(env.at("rul:") + ": unknown key 'rul' in explain[0].rules[0]") &&
                                             Contains("did you mean 'rule'?"));
  }
}

TEST_CASE("Values of the wrong type or out of range are errors naming the key and what it must be", "[experiment]") {
  Env env;
  Sections s;
  SECTION("threads: two") {
    s.head = "seed: 3\nthreads: two\n";
    CHECK_ERROR(read_error(env.write(s)), Contains(env.at("two") + ": threads must be a number, got 'two'"));
  }
  SECTION("threads beyond 256") {
    s.head = "seed: 3\nthreads: 1000\n";
    CHECK_ERROR(read_error(env.write(s)), Contains(env.at("1000") + ": threads must be at most 256, got 1000"));
  }
  SECTION("seed: -1") {
    s.head = "seed: -1\n";
    CHECK_ERROR(read_error(env.write(s)), Contains(env.at("-1") + ": seed must be a whole number in [0, 2^64), got '-1'"));
  }
  SECTION("batch_size: 0") {
    s.head = "seed: 3\nbatch_size: 0\n";
    CHECK_ERROR(read_error(env.write(s)), Contains(env.at("batch_size: 0", 12) + ": batch_size must be a whole number ≥ 1, got 0"));
  }
  SECTION("output.heatmap_samples: -3") {
    s.output = "output: {results: @DIR@/results.h5, heatmap_samples: -3}\n";
    CHECK_ERROR(read_error(env.write(s)),
               Contains(env.at("-3") + ": output.heatmap_samples must be a whole number ≥ 0, got -3"));
  }
  SECTION("pixel_flipping.patch: 0") {
    s.evaluate = "evaluate:\n  pixel_flipping:\n    patch: 0\n";
    CHECK_ERROR(read_error(env.write(s)),
               Contains(env.at("patch: 0", 7) + ": evaluate.pixel_flipping.patch must be a whole number ≥ 1, got 0"));
  }
  SECTION("pixel_flipping.random_repeats: 2.5") {
    s.evaluate = "evaluate:\n  pixel_flipping: {random_repeats: 2.5}\n";
    CHECK_ERROR(read_error(env.write(s)),
               Contains(env.at("2.5") + ": evaluate.pixel_flipping.random_repeats must be a whole number ≥ 0, got 2.5"));
  }
  SECTION("pixel_flipping.fill: noise lists the fills; a misspelt fill gets a suggestion") {
    s.evaluate = "evaluate:\n  pixel_flipping: {fill: noise}\n";
    std::string msg = read_error(env.write(s));
    CHECK_THAT(msg, Contains(env.at("noise") + ": evaluate.pixel_flipping.fill 'noise' is not one of uniform, constant, mean"));
    CHECK_THAT(msg, !Contains("did you mean"));
    s.evaluate = "evaluate:\n  pixel_flipping: {fill: unifrom}\n";
    msg = read_error(env.write(s));
    CHECK_THAT(msg, Contains(env.at("unifrom") + ": evaluate.pixel_flipping.fill 'unifrom' is not one of") &&
                        Contains("(did you mean 'uniform'?)"));
  }
  SECTION("evaluate.conservation: maybe") {
    s.evaluate = "evaluate: {conservation: maybe}\n";
    CHECK_ERROR(read_error(env.write(s)),
               Contains(env.at("maybe") + ": evaluate.conservation must be true or false, got 'maybe'"));
  }
  SECTION("target: best") {
    s.target = "target: best\n";
    CHECK_ERROR(read_error(env.write(s)),
               Contains(env.at("best") + ": target must be predicted, label, a class index (0, 1, ...), a list of class indices ([3, 5]), all, or {top_k: k}, got 'best'"));
  }
}

TEST_CASE("Missing required sections are errors naming the mapping that needs them", "[experiment]") {
  Env env;
  Sections s;
  // The root mapping starts at its first key, "seed" on line 1.
  SECTION("no data") {
    s.data.clear();
    CHECK_ERROR(read_error(env.write(s)), Contains(env.at("seed") + ": the experiment config needs the key 'data'"));
  }
  SECTION("no model") {
    s.model.clear();
    CHECK_ERROR(read_error(env.write(s)), Contains(env.at("seed") + ": the experiment config needs the key 'model'"));
  }
  SECTION("no explain") {
    s.explain.clear();
    CHECK_ERROR(read_error(env.write(s)), Contains(env.at("seed") + ": the experiment config needs the key 'explain'"));
  }
  SECTION("no output") {
    s.output.clear();
    CHECK_ERROR(read_error(env.write(s)), Contains(env.at("seed") + ": the experiment config needs the key 'output'"));
  }
  SECTION("no output.results") {
    s.output = "output: {heatmaps: @DIR@/pictures}\n";
    CHECK_ERROR(read_error(env.write(s)), Contains(env.at("{heatmaps") + ": output needs the key 'results'"));
  }
  SECTION("an empty explain list") {
    s.explain = "explain: []\n";
    CHECK_ERROR(read_error(env.write(s)),
               Contains(env.at("[]") + ": explain must be a non-empty list of methods"));
  }
  SECTION("a model with neither file nor architecture") {
    s.model = "model: {}\n";
    CHECK_ERROR(read_error(env.write(s)), Contains(env.at("{}") + ": model needs 'file'") && Contains("'architecture'"));
  }
}

TEST_CASE("Unknown methods, presets, rules and parameters are errors with the closest valid name", "[experiment]") {
  Env env;
  Sections s;
  SECTION("method name") {
    s.explain = "explain:\n  - random\n  - gradiant\n";
    CHECK_ERROR(read_error(env.write(s)),
               Contains(env.at("gradiant") + ": explain[1]: 'gradiant' is neither a method kind nor an LRP preset") &&
                   Contains("(did you mean 'gradient'?)") && Contains("LRP presets: "));
  }
  SECTION("method kind") {
    s.explain = "explain:\n  - {name: g, kind: smoothgrd}\n";
    CHECK_ERROR(read_error(env.write(s)), Contains(env.at("smoothgrd") + ": explain[0].kind 'smoothgrd' is not a method kind") &&
                                             Contains("(did you mean 'smoothgrad'?)"));
  }
  SECTION("preset") {
    s.explain = "explain:\n  - {name: p, preset: epsilon_plus_flt}\n";
    CHECK_ERROR(read_error(env.write(s)),
               Contains(env.at("epsilon_plus_flt") + ": explain[0].preset: unknown preset 'epsilon_plus_flt'") &&
                   Contains("(did you mean 'epsilon_plus_flat'?)"));
  }
  SECTION("both preset and rules") {
    s.explain = "explain:\n  - {name: p, preset: epsilon_plus, rules: [{fallback: true, rule: zero}]}\n";
    CHECK_ERROR(read_error(env.write(s)),
               Contains(env.at("{name: p") + ": explain[0] gives both preset and rules"));
  }
  SECTION("rule in a rules list") {
    s.explain = "explain:\n  - name: r\n    rules:\n      - {first: true, rule: flat}\n      - {fallback: true, rule: epsilom}\n";
    CHECK_ERROR(read_error(env.write(s)),
               Contains(env.at("epsilom") + ": explain[0].rules[1].rule: unknown rule 'epsilom'") &&
                   Contains("(did you mean 'epsilon'?)"));
  }
  SECTION("layer kind in a rules list") {
    s.explain = "explain:\n  - {name: r, rules: [{kind: conv, rule: zplus}]}\n";
    CHECK_ERROR(read_error(env.write(s)),
               Contains(env.at("conv,") + ": explain[0].rules[0].kind 'conv' is not a layer kind") &&
                   Contains("(did you mean 'conv2d'?)"));
  }
  SECTION("a rules entry with two matchers") {
    s.explain = "explain:\n  - {name: r, rules: [{kind: dense, index: 0, rule: zero}]}\n";
    CHECK_ERROR(read_error(env.write(s)),
               Contains(env.at("{kind: dense") + ": explain[0].rules[0] must say which layers it is for with exactly one of "
                                                 "layer, index, kind, first, last, fallback (found 2)"));
  }
  SECTION("a rules entry with no matcher") {
    s.explain = "explain:\n  - {name: r, rules: [{rule: zero}]}\n";
    CHECK_ERROR(read_error(env.write(s)), Contains(env.at("{rule: zero}") + ": explain[0].rules[0] must say which layers") &&
                                             Contains("(found 0)"));
  }
  SECTION("parameter of a method") {
    s.explain = "explain:\n  - {name: ig, kind: integrated_gradients, params: {stepz: 3}}\n";
    CHECK_ERROR(read_error(env.write(s)),
               Contains(env.at("stepz") + ": unknown parameter 'stepz' in explain[0].params (integrated_gradients)") &&
                   Contains("(did you mean 'steps'?)") && Contains("valid parameters: steps, baseline, batch_rows"));
  }
  SECTION("parameter of a method that takes none") {
    s.explain = "explain:\n  - {name: g, kind: gradient, params: {steps: 3}}\n";
    CHECK_ERROR(read_error(env.write(s)), Contains(env.at("steps") + ": unknown parameter 'steps' in explain[0].params (gradient)") &&
                                             Contains("it takes no parameters"));
  }
  SECTION("parameter of a preset") {
    s.explain = "explain:\n  - {name: p, preset: epsilon_gamma_box, params: {gama: 0.5}}\n";
    CHECK_ERROR(read_error(env.write(s)),
               Contains(env.at("gama") + ": unknown parameter 'gama' in explain[0].params (preset 'epsilon_gamma_box')") &&
                   Contains("(did you mean 'gamma'?)"));
  }
  SECTION("parameter of a rule") {
    s.explain = "explain:\n  - {name: r, rules: [{fallback: true, rule: epsilon, params: {epsilonn: 0.1}}]}\n";
    CHECK_ERROR(read_error(env.write(s)),
               Contains(env.at("epsilonn") + ": unknown parameter 'epsilonn' in explain[0].rules[0].params (rule 'epsilon')") &&
                   Contains("(did you mean 'epsilon'?)"));
  }
  SECTION("a sweep of an unknown parameter") {
    s.explain = "explain:\n  - {name: p, preset: epsilon_gamma_box, sweep: {gama: [0.1, 1]}}\n";
    CHECK_ERROR(read_error(env.write(s)), Contains(env.at("gama") + ": unknown parameter 'gama' in explain[0].sweep") &&
                                             Contains("(did you mean 'gamma'?)"));
  }
  SECTION("a sweep with an empty list") {
    s.explain = "explain:\n  - {name: p, preset: epsilon_gamma_box, sweep: {gamma: []}}\n";
    CHECK_ERROR(read_error(env.write(s)),
               Contains(env.at("[]") + ": explain[0].sweep.gamma must be a non-empty list of values"));
  }
  SECTION("a parameter both given and swept") {
    s.explain = "explain:\n  - {name: p, preset: epsilon_plus, params: {epsilon: 0.1}, sweep: {epsilon: [0.2]}}\n";
    CHECK_ERROR(read_error(env.write(s)), Contains(env.at("epsilon: [") + ": explain[0]: 'epsilon' is both in params and in sweep"));
  }
  SECTION("a method name with '@'") {
    s.explain = "explain:\n  - {name: a@b, kind: gradient}\n";
    CHECK_ERROR(read_error(env.write(s)),
               Contains(env.at("{name: a@b") + ": explain[0]: method name 'a@b' must be non-empty and made of letters, "
                                               "digits, '_' and '-'"));
  }
  SECTION("method names that would share a heatmap folder or a top-level picture's name") {
    for (const std::string name : {"\"a b\"", "methods.png", "morf.svg", "x/y"}) {
      INFO(name);
      s.explain = "explain:\n  - {name: " + name + ", kind: gradient}\n";
      CHECK_ERROR(read_error(env.write(s)), Contains("must be non-empty and made of letters, digits, '_' and '-'"));
    }
  }
}

TEST_CASE("Duplicate method names, also from sweep points, name both places", "[experiment]") {
  Env env;
  Sections s;
  SECTION("two entries with the same name") {
    s.explain = "explain:\n  - gradient\n  - random\n  - {name: gradient, kind: gradient_x_input}\n";
    CHECK_ERROR(read_error(env.write(s)),
               Contains(env.at("{name: gradient") + ": explain[2]: the method name 'gradient' is already used at " +
                        env.at("gradient\n")) &&
                   Contains("give each method its own `name:`"));
  }
  SECTION("a sweep point that collides with another entry's") {
    s.explain = "explain:\n  - {name: e, preset: epsilon_plus, sweep: {epsilon: [0.1, 0.2]}}\n"
                "  - {name: e, preset: epsilon_plus, sweep: {epsilon: [0.2]}}\n";
    const std::string msg = read_error(env.write(s));
    CHECK_THAT(msg, Contains(env.at("{name: e, preset: epsilon_plus, sweep: {epsilon: [0.2]}}") +
                             ": explain[1]: the method name 'e@epsilon=0.2' is already used at " + env.at("{name: e")));
  }
  SECTION("two sweep values that print the same") {
    s.explain = "explain:\n  - {name: e, preset: epsilon_plus, sweep: {epsilon: [0.5, 0.50]}}\n";
    CHECK_ERROR(read_error(env.write(s)), Contains(env.at("{name: e") + ": explain[0]: the method name 'e@epsilon=0.5' is already used"));
  }
}

TEST_CASE("evaluate.methods must name methods of explain (a base name selects its sweep points)", "[experiment]") {
  Env env;
  Sections s;
  s.explain = "explain:\n  - gradient_x_input\n  - {name: egb, preset: epsilon_gamma_box, sweep: {gamma: [0.1, 1]}}\n"
              "  - random\n";
  s.evaluate = "evaluate:\n  methods: [random, gradient_x_inptu]\n";
  CHECK_ERROR(read_error(env.write(s)),
             Contains(env.at("gradient_x_inptu") + ": evaluate.methods[1]: no method named 'gradient_x_inptu' in explain") &&
                 Contains("(did you mean 'gradient_x_input'?)") &&
                 Contains("methods: gradient_x_input, egb@gamma=0.1, egb@gamma=1, random"));
  s.evaluate = "evaluate:\n  methods: [egb, random, egb@gamma=1]\n";
  const lrp::ExperimentConfig c = read(env.write(s));
  CHECK(c.evaluated == std::vector<std::string>{"egb@gamma=0.1", "egb@gamma=1", "random"});
  s.evaluate.clear();
  CHECK(read(env.write(s)).evaluated == std::vector<std::string>{"gradient_x_input", "egb@gamma=0.1", "egb@gamma=1", "random"});
}

TEST_CASE("Missing files are errors naming the key, its position and where they were looked for", "[experiment]") {
  const QuietLog quiet;
  Env env;
  Sections s;
  SECTION("model file") {
    s.model = "model: {file: nothere.h5}\n";
    CHECK_ERROR(read_error(env.write(s)),
               Contains(env.at("nothere.h5") + ": model.file: no such file 'nothere.h5' (looked in the current directory and in '" +
                        env.folder() + "')"));
  }
  SECTION("model file, absolute path") {
    s.model = "model: {file: @DIR@/nothere.h5}\n";
    CHECK_ERROR(read_error(env.write(s)),
               Contains(env.at(env.folder() + "/nothere.h5") + ": model.file '" + env.folder() + "/nothere.h5': no such file"));
  }
  SECTION("data file (found when the config is read)") {
    s.data = "data: {format: idx, images: missing-images.gz}\n";
    CHECK_ERROR(read_error(env.write(s)),
               Contains(env.at("missing-images.gz") + ": data.images: no such file 'missing-images.gz'"));
  }
  SECTION("plugin file") {
    s.head = "seed: 3\nplugins: [myrules.so]\n";
    CHECK_ERROR(read_error(env.write(s)), Contains(env.at("myrules.so") + ": plugins[0]: no such file 'myrules.so'"));
  }
}

TEST_CASE("Data, targets, fills, steps and windows that do not fit the model are errors when preparing", "[experiment]") {
  const QuietLog quiet;
  Env env;
  Sections s;
  SECTION("data shape") {
    s.data = "data: {format: synthetic, shape: [1, 6, 6], count: 4, classes: 3}\n";
    CHECK_ERROR(prepare_error(env.write(s)),
               Contains(env.at("{format") + ": data has samples of shape [1, 6, 6] but the model 'tiny' expects [1, 8, 8]"));
  }
  SECTION("data labels beyond the model's classes") {
    s.data = "data: {format: synthetic, shape: [1, 8, 8], count: 6, classes: 5}\n";
    CHECK_ERROR(prepare_error(env.write(s)), Contains(env.at("{format") + ": data") && Contains("label 3 of sample 3") &&
                                                Contains("expected a class in [0, 3)"));
  }
  SECTION("target class out of range") {
    s.target = "target: 3\n";
    CHECK_ERROR(prepare_error(env.write(s)),
               Contains(env.at("target: 3", 8) + ": target class 3 is out of range: the model has 3 classes (0 to 2)"));
  }
  SECTION("target: label on data without labels") {
    {
      std::ofstream csv(env.file("unlabelled.csv"));
      for (int row = 0; row < 2; ++row)
        for (int f = 0; f < 64; ++f) csv << (f * 0.01 + row * 0.1) << (f == 63 ? "\n" : ", ");
    }
    s.data = "data: {format: csv, path: unlabelled.csv, shape: [1, 8, 8]}\n";
    s.target = "target: label\n";
    CHECK_ERROR(prepare_error(env.write(s)),
               Contains(env.at("label\n") + ": target: label needs labels, but data '") && Contains("unlabelled.csv' has none"));
    s.target = "target: predicted\n";  // the same data are fine to explain the predicted class of
    const lrp::ExperimentConfig c = read(env.write(s));
    CHECK(lrp::prepare_experiment(c, builtins(), false).data.size() == 2);
  }
  SECTION("value: with the uniform fill") {
    s.evaluate = "evaluate:\n  pixel_flipping: {patch: 2, value: 0.5}\n";
    CHECK_ERROR(read_error(env.write(s)),
               Contains(env.at("0.5") + ": evaluate.pixel_flipping.value is the constant fill's value; it needs fill: constant"));
    s.evaluate = "evaluate:\n  pixel_flipping: {patch: 2, fill: constant, low: 0}\n";
    CHECK_ERROR(read_error(env.write(s)),
               Contains(env.at("low: 0", 5) + ": evaluate.pixel_flipping.low bounds the uniform fill; it needs fill: uniform"));
  }
  SECTION("low >= high") {
    s.evaluate = "evaluate:\n  pixel_flipping: {fill: uniform, low: 0.5, high: 0.5}\n";
    CHECK_ERROR(read_error(env.write(s)),
               Contains(env.at("{fill") + ": evaluate.pixel_flipping: low (0.5) must be below high (0.5)"));
    // one bound against the model's raw range [0, 1] is found when preparing
    s.evaluate = "evaluate:\n  pixel_flipping: {fill: uniform, low: 2}\n";
    CHECK_ERROR(prepare_error(env.write(s)), Contains(env.at("{fill") + ": the uniform fill needs low < high, got [2, 1]"));
  }
  SECTION("pixel_flipping.steps larger than the number of regions") {
    s.evaluate = "evaluate:\n  pixel_flipping: {patch: 4, steps: 5}\n";
    CHECK_ERROR(prepare_error(env.write(s)),
               Contains(env.at("{patch") + ": evaluate.pixel_flipping.steps = 5 exceeds the 4 regions of patch 4 on inputs "
                                           "of shape [1, 8, 8]"));
    s.evaluate = "evaluate:\n  pixel_flipping: {patch: 4, steps: 4}\n";  // exactly the regions: fine
    CHECK_NOTHROW(lrp::prepare_experiment(read(env.write(s)), builtins(), false));
  }
  SECTION("occlusion window larger than the input") {
    s.explain = "explain:\n  - gradient\n  - {name: occ, kind: occlusion, params: {window: 9}}\n";
    CHECK_ERROR(prepare_error(env.write(s)),
               Contains(env.at("{name: occ") + ": method 'occ': the window 9 does not fit the input plane 8 × 8"));
    s.explain = "explain:\n  - {name: occ, kind: occlusion, params: {window: [2, 9]}}\n";
    CHECK_ERROR(prepare_error(env.write(s)), Contains(env.at("{name: occ") + ": method 'occ': the window [2, 9] does not fit"));
    s.explain = "explain:\n  - {name: occ, kind: occlusion, params: {window: [8, 8]}}\n";
    CHECK_NOTHROW(lrp::prepare_experiment(read(env.write(s)), builtins(), false));
  }
  SECTION("a preset's z^B bounds with the wrong number of channels") {
    s.explain = "explain:\n  - {name: egb, preset: epsilon_gamma_box, params: {low: [0, 0]}}\n";
    CHECK_ERROR(prepare_error(env.write(s)),
               Contains(env.at("{name: egb") + ": method 'egb': 'low' needs 1 value or one per input channel (1), got 2"));
  }
  SECTION("a rule named for a layer the model does not have") {
    s.explain = "explain:\n  - {name: r, rules: [{layer: conv9, rule: zplus}, {fallback: true, rule: zero}]}\n";
    CHECK_ERROR(prepare_error(env.write(s)), Contains(env.at("{name: r") + ": ") && Contains("conv9"));
  }
}

TEST_CASE("output.results naming a folder and plugins are errors", "[experiment]") {
  const QuietLog quiet;
  Env env;
  Sections s;
  SECTION("output.results is a directory") {
    std::filesystem::create_directories(env.file("results_folder"));
    s.output = "output: {results: @DIR@/results_folder}\n";
    CHECK_ERROR(read_error(env.write(s)), Contains(env.at(env.folder() + "/results_folder") + ": output.results '" +
                                                  env.folder() + "/results_folder': is a directory; expected a file path"));
  }
  SECTION("output.results empty") {
    s.output = "output: {results: ''}\n";
    CHECK_ERROR(read_error(env.write(s)), Contains(env.at("''") + ": output.results is empty; expected a file path"));
  }
  SECTION("output.heatmaps is a file") {
    std::ofstream(env.file("a_file")) << "x";
    s.output = "output: {results: @DIR@/r.h5, heatmaps: @DIR@/a_file}\n";
    CHECK_ERROR(read_error(env.write(s)), Contains(env.at(env.folder() + "/a_file") + ": output.heatmaps '" + env.folder() +
                                                  "/a_file': exists and is a regular file, not a folder"));
  }
  SECTION("plugins that were not loaded into the registry") {
    std::ofstream(env.file("myrules.so")) << "not a library";
    s.head = "seed: 3\nplugins: [myrules.so]\n";
    const std::string path = env.write(s);
    const lrp::ExperimentConfig c = read(path);
    REQUIRE(c.plugins.size() == 1);
    CHECK(c.plugins[0] == env.file("myrules.so"));
    CHECK_ERROR(prepare_error(path), Contains(env.at("myrules.so]") + ": plugins: '" + env.file("myrules.so") +
                                              "' is not loaded into the registry"));
  }
}

TEST_CASE("apply_override sets nested keys and list items, creates missing keys and takes YAML values", "[experiment]") {
  YAML::Node root = YAML::Load(R"(seed: 1
evaluate: {pixel_flipping: {patch: 4}}
explain:
  - gradient
  - {name: ig, kind: integrated_gradients, params: {steps: 32}}
)");
  lrp::apply_override(root, "evaluate.pixel_flipping.patch=2");
  CHECK(root["evaluate"]["pixel_flipping"]["patch"].as<int>() == 2);
  lrp::apply_override(root, "explain.1.params.steps=8");
  CHECK(root["explain"][1]["params"]["steps"].as<int>() == 8);
  CHECK(root["explain"][1]["name"].as<std::string>() == "ig");  // the rest of the entry stays
  CHECK(root["explain"][0].as<std::string>() == "gradient");
  lrp::apply_override(root, "explain.0=random");  // a list item replaced
  CHECK(root["explain"][0].as<std::string>() == "random");
  lrp::apply_override(root, "output.heatmaps.deep=x");  // missing mappings are created
  REQUIRE(root["output"].IsMap());
  CHECK(root["output"]["heatmaps"]["deep"].as<std::string>() == "x");
  lrp::apply_override(root, "evaluate.methods=[ig, random]");  // a YAML list value
  REQUIRE(root["evaluate"]["methods"].IsSequence());
  CHECK(root["evaluate"]["methods"].size() == 2);
  CHECK(root["evaluate"]["methods"][1].as<std::string>() == "random");
  lrp::apply_override(root, "explain.1.sweep={steps: [4, 8]}");  // a YAML mapping value
  CHECK(root["explain"][1]["sweep"]["steps"][1].as<int>() == 8);
  lrp::apply_override(root, "seed=");  // an empty value is YAML null
  CHECK(root["seed"].IsNull());
  CHECK(root["evaluate"]["pixel_flipping"]["patch"].as<int>() == 2);  // earlier overrides kept

  YAML::Node empty;  // an empty document becomes a mapping
  lrp::apply_override(empty, "a.b=3");
  CHECK(empty["a"]["b"].as<int>() == 3);
}

TEST_CASE("apply_override errors name the override and what is wrong", "[experiment]") {
  const YAML::Node root = YAML::Load("seed: 1\nexplain: [gradient, {name: ig, kind: integrated_gradients}]\n");
  CHECK_THAT(override_error(root, "seed"), Contains("--set 'seed': expected key.path=value"));
  CHECK_THAT(override_error(root, "=3"), Contains("--set '=3': expected key.path=value"));
  CHECK_THAT(override_error(root, "a..b=1"), Contains("--set 'a..b=1': the key path 'a..b' has an empty segment"));
  CHECK_THAT(override_error(root, "a.=1"), Contains("--set 'a.=1': the key path 'a.' has an empty segment"));
  CHECK_THAT(override_error(root, ".a=1"), Contains("has an empty segment"));
  CHECK_THAT(override_error(root, "explain.2.name=x"),
             Contains("--set 'explain.2.name=x': 'explain.2': index 2 is past the end of a list of 2"));
  CHECK_THAT(override_error(root, "explain.first.name=x"),
             Contains("--set 'explain.first.name=x': 'explain.first': a list is indexed by a number (0, 1, ...), got 'first'"));
  CHECK_THAT(override_error(root, "explain.-1=x"),
             Contains("--set 'explain.-1=x': 'explain.-1': a list is indexed by a number (0, 1, ...), got '-1'"));
  CHECK_THAT(override_error(root, "explain. 1=x"), Contains("a list is indexed by a number (0, 1, ...), got ' 1'"));
  CHECK_THAT(override_error(root, "explain.1x=x"), Contains("got '1x'"));
  CHECK_THAT(override_error(root, "seed.x=1"),
             Contains("--set 'seed.x=1': 'seed' is a value, not a mapping or list, so it has no 'x'"));
  CHECK_THAT(override_error(root, "explain.0.params.steps=8"),
             Contains("'explain.0' is a value, not a mapping or list, so it has no 'params'"));
  CHECK_THAT(override_error(root, "seed=[1, 2"), Contains("--set 'seed=[1, 2':1:1: YAML syntax error"));
  // A failed override leaves the config's text alone: read_experiment_config reports it.
  Env env;
  const std::string path = env.write(Sections{});
  CHECK_ERROR(read_error(path, {"output.results.x=1"}), Contains("--set 'output.results.x=1'"));
}

TEST_CASE("Overrides apply before checking, in order, and are kept with the resolved YAML", "[experiment]") {
  Env env;
  Sections s;
  s.explain = "explain:\n  - gradient\n  - {name: ig, kind: integrated_gradients, params: {steps: 32}}\n";
  const std::string path = env.write(s);
  const lrp::ExperimentConfig c =
      read(path, {"explain.1.params.steps=8", "seed=11", "seed=12", "evaluate.pixel_flipping={patch: 2, random_repeats: 3}"});
  CHECK(c.seed == 12);
  CHECK(c.overrides.size() == 4);
  CHECK(method(c, "ig").params.get("steps", "") == lrp::ParamValue{8});
  REQUIRE(c.pixel_flipping);
  CHECK(c.pixel_flipping->options.patch == 2);
  CHECK(c.pixel_flipping->options.random_repeats == 3);
  CHECK(c.pixel_flipping->options.seed == 12);  // pixel flipping's seed defaults to the config's
  const YAML::Node resolved = YAML::Load(c.resolved_yaml);
  CHECK(resolved["explain"][1]["params"]["steps"].as<int>() == 8);
  CHECK(resolved["seed"].as<int>() == 12);
  CHECK(resolved["evaluate"]["pixel_flipping"]["random_repeats"].as<int>() == 3);
  // An override that makes the config invalid is reported like the same error in the file, but
  // without a line:column (the value comes from the command line, not from the file).
  CHECK_ERROR(read_error(path, {"explain.0=gradiant"}), Contains(path + ": explain[0]: 'gradiant' is neither a method kind") &&
                                                          Contains("did you mean 'gradient'?"));
  CHECK_ERROR(read_error(path, {"threads=two"}), Contains(path + ": threads must be"));
  CHECK_ERROR(read_error(path, {"output.heatmap_samples=[1, 2]"}), Contains(path + ": output.heatmap_samples"));
}

TEST_CASE("Sweeps expand to one method per point, named and parameterized by the point", "[experiment]") {
  const QuietLog quiet;
  Env env;
  Sections s;
  s.explain = R"(explain:
  - {name: egb, preset: epsilon_gamma_box, sweep: {gamma: [0.1, 1]}}
  - {name: two, preset: epsilon_gamma_box, params: {low: 0}, sweep: {gamma: [0.25, 0.5], epsilon: [0.01, 1e-3]}}
  - name: rl
    rules:
      - {first: true, rule: flat}
      - {kind: conv2d, rule: gamma, params: {gamma: 0.3}}
      - {fallback: true, rule: epsilon}
    sweep: {epsilon: [0.5, 2]}
  - {name: ig, kind: integrated_gradients, sweep: {steps: [4, 16]}}
)";
  const lrp::ExperimentConfig c = read(env.write(s));
  std::vector<std::string> names;
  for (const lrp::MethodConfig& m : c.methods) names.push_back(m.name);
  CHECK(names == std::vector<std::string>{"egb@gamma=0.1", "egb@gamma=1", "two@gamma=0.25,epsilon=0.01",
                                          "two@gamma=0.25,epsilon=0.001", "two@gamma=0.5,epsilon=0.01",
                                          "two@gamma=0.5,epsilon=0.001", "rl@epsilon=0.5", "rl@epsilon=2", "ig@steps=4",
                                          "ig@steps=16"});
  const lrp::MethodConfig& e1 = method(c, "egb@gamma=1");
  CHECK(e1.kind == "lrp");
  CHECK(e1.lrp());
  CHECK(e1.preset == "epsilon_gamma_box");
  CHECK(e1.base_name == "egb");
  CHECK(e1.params.values() == std::map<std::string, lrp::ParamValue>{{"gamma", {1.0}}});
  CHECK(e1.sweep_point == std::map<std::string, double>{{"gamma", 1.0}});
  CHECK(method(c, "egb@gamma=0.1").params.get("gamma", "") == lrp::ParamValue{0.1});

  const lrp::MethodConfig& t = method(c, "two@gamma=0.5,epsilon=0.001");
  CHECK(t.params.values() ==
        std::map<std::string, lrp::ParamValue>{{"epsilon", {1e-3}}, {"gamma", {0.5}}, {"low", {0.0}}});
  CHECK(t.sweep_point == std::map<std::string, double>{{"epsilon", 1e-3}, {"gamma", 0.5}});

  // A rules list: the swept parameter goes to every rule that has it, and only to those.
  const lrp::MethodConfig& r = method(c, "rl@epsilon=2");
  REQUIRE(r.rules.size() == 3);
  CHECK(r.rules[0].match == lrp::RuleEntry::Match::kFirst);
  CHECK(r.rules[0].choice.rule == "flat");
  CHECK(r.rules[0].choice.params.values().empty());
  CHECK(r.rules[1].match == lrp::RuleEntry::Match::kKind);
  CHECK(r.rules[1].layer == "conv2d");
  CHECK(r.rules[1].choice.params.values() == std::map<std::string, lrp::ParamValue>{{"gamma", {0.3}}});
  CHECK(r.rules[2].match == lrp::RuleEntry::Match::kFallback);
  CHECK(r.rules[2].choice.params.values() == std::map<std::string, lrp::ParamValue>{{"epsilon", {2.0}}});
  CHECK(method(c, "rl@epsilon=0.5").rules[2].choice.params.get("epsilon", "") == lrp::ParamValue{0.5});

  CHECK(method(c, "ig@steps=16").kind == "integrated_gradients");
  CHECK_FALSE(method(c, "ig@steps=16").lrp());
  CHECK(method(c, "ig@steps=16").params.get("steps", "") == lrp::ParamValue{16});

  // Every sweep point prepares against the model (rules resolved, bounds mapped to network units).
  const lrp::PreparedExperiment p = lrp::prepare_experiment(c, builtins(), false);
  REQUIRE(p.methods.size() == c.methods.size());
  // The z^B bounds default to the model's raw range [0, 1], i.e. (0 − 0.5) / 0.25 = −2 and 2.
  CHECK(p.methods[0].resolved.get("low", "") == lrp::ParamValue{-2.0});
  CHECK(p.methods[0].resolved.get("high", "") == lrp::ParamValue{2.0});
  CHECK(p.methods[0].resolved.get("gamma", "") == lrp::ParamValue{0.1});
  CHECK(p.methods[0].assignments[0].choice.rule == "zbox");
  CHECK(p.methods[0].assignments[4].choice.rule == "epsilon");
  CHECK(p.methods[6].assignments[0].choice.rule == "flat");
  CHECK(p.methods[6].assignments[4].choice.rule == "epsilon");
  CHECK(p.methods[6].assignments[4].choice.params.get("epsilon", "") == lrp::ParamValue{0.5});
}

TEST_CASE("Shorthand method entries and names give the right kinds, presets and names", "[experiment]") {
  Env env;
  Sections s;
  s.explain = R"(explain:
  - gradient
  - gradient_x_input
  - epsilon_plus_flat
  - random
  - smoothgrad
  - occlusion
  - {name: integrated_gradients, params: {steps: 16}}
  - {name: ep, preset: epsilon_plus}
  - {preset: epsilon_alpha2_beta1}
  - {kind: lrp, rules: [{fallback: true, rule: zero}]}
  - {name: sg2, kind: smoothgrad, params: {samples: 2, sigma: 0.3}}
)";
  const lrp::ExperimentConfig c = read(env.write(s));
  const std::vector<std::tuple<std::string, std::string, std::string>> expected{
      {"gradient", "gradient", ""},
      {"gradient_x_input", "gradient_x_input", ""},
      {"epsilon_plus_flat", "lrp", "epsilon_plus_flat"},
      {"random", "random", ""},
      {"smoothgrad", "smoothgrad", ""},
      {"occlusion", "occlusion", ""},
      {"integrated_gradients", "integrated_gradients", ""},
      {"ep", "lrp", "epsilon_plus"},
      {"epsilon_alpha2_beta1", "lrp", "epsilon_alpha2_beta1"},
      {"lrp", "lrp", ""},
      {"sg2", "smoothgrad", ""}};
  REQUIRE(c.methods.size() == expected.size());
  for (std::size_t i = 0; i < expected.size(); ++i) {
    INFO("method " << i);
    CHECK(c.methods[i].name == std::get<0>(expected[i]));
    CHECK(c.methods[i].base_name == std::get<0>(expected[i]));
    CHECK(c.methods[i].kind == std::get<1>(expected[i]));
    CHECK(c.methods[i].preset == std::get<2>(expected[i]));
    CHECK(c.methods[i].sweep_point.empty());
  }
  CHECK(c.methods[6].params.get("steps", "") == lrp::ParamValue{16});
  CHECK(c.methods[9].rules.size() == 1);
  CHECK(c.methods[9].rules[0].choice.rule == "zero");
  CHECK(c.methods[10].params.get("sigma", "") == lrp::ParamValue{0.3});
  // Everything defaults: all methods evaluated, conservation on, no pixel flipping, predicted target.
  CHECK(c.evaluated.size() == expected.size());
  CHECK(c.conservation);
  CHECK_FALSE(c.pixel_flipping);
  CHECK(c.target.kind == lrp::TargetSetSpec::Kind::kOne);
  CHECK(c.target.one.kind == lrp::TargetSpec::Kind::kPredicted);
  CHECK(c.batch_size == 500);
  CHECK(c.output.heatmap_samples == 8);
}

TEST_CASE("Each method has its own seed, fixed by the config seed and the method's name", "[experiment]") {
  Env env;
  Sections s;
  s.explain = "explain:\n  - random\n  - smoothgrad\n  - {name: r2, kind: random}\n"
              "  - {name: sg, kind: smoothgrad, sweep: {samples: [2, 3, 4]}}\n";
  const std::string path = env.write(s);
  const lrp::ExperimentConfig a = read(path);
  std::set<std::uint64_t> seeds;
  for (const lrp::MethodConfig& m : a.methods) seeds.insert(m.seed);
  CHECK(seeds.size() == a.methods.size());  // all distinct (also the sweep points)
  const lrp::ExperimentConfig again = read(path);
  const lrp::ExperimentConfig other = read(path, {"seed=4"});
  for (std::size_t i = 0; i < a.methods.size(); ++i) {
    CHECK(again.methods[i].seed == a.methods[i].seed);  // reproducible
    CHECK(other.methods[i].seed != a.methods[i].seed);  // the config seed matters
  }
  // A method's seed depends on its name, not on its position in the list.
  s.explain = "explain:\n  - {name: r2, kind: random}\n  - random\n";
  const lrp::ExperimentConfig swapped = read(env.write(s));
  CHECK(swapped.methods[0].seed == a.methods[2].seed);
  CHECK(swapped.methods[1].seed == a.methods[0].seed);
}
