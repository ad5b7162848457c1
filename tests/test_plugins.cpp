// Plugins (lrp/plugin.hpp): the worked example (experiments/plugins/epsilon_clip) against its
// literal formula, a built-in rule's source built as a plugin giving the built-in's numbers, the
// origins, every load error, configs that list plugins, and `lrplab --plugin`.
#include "experiment_support.hpp"
#include "temp_dir.hpp"
#include "test_util.hpp"

#include "lrp/experiment.hpp"
#include "lrp/hdf5.hpp"
#include "lrp/plugin.hpp"

#include <sys/wait.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <string>

namespace {

using namespace lrp_test;
using Catch::Matchers::Contains;
using lrp::Params;

const std::string kClip = LRP_PLUGIN_EPSILON_CLIP;
const std::string kEpsilon = LRP_TEST_RULE_EPSILON;

lrp::Registry registry_with(const std::vector<std::string>& plugins, bool builtin_rules = true) {
  lrp::Registry r;
  if (builtin_rules)
    lrp::register_builtins(r);
  else {
    lrp::register_builtin_layers(r);
  }
  for (const std::string& p : plugins) lrp::load_plugin(p, r);
  r.freeze();
  return r;
}

// dense(6 → 5) → relu → dense(5 → 3), seeded, with biases large enough that some |z| < ε = 0.5.
lrp::Network small_mlp() {
  lrp::Network net({6});
  auto& fc1 = net.add(std::make_unique<lrp::Dense>(6, 5), "fc1");
  net.add(std::make_unique<lrp::ElementwiseActivation>(lrp::Activation::kReLU), "act");
  auto& fc2 = net.add(std::make_unique<lrp::Dense>(5, 3), "fc2");
  for (auto* layer : {&fc1, &fc2}) {
    Params p = layer->params();
    p.weight = random_matrix(p.weight.rows(), p.weight.cols(), 11 + p.weight.size(), -1.0, 1.0);
    p.bias = random_vector(p.bias.size(), 13 + p.bias.size(), -0.3, 0.3);
    layer->set_params(p);
  }
  return net;
}

// The rule literally: R_i = Σ_j a_i w_ji R_j / (sign₀(z_j) max(|z_j|, ε)), z = W a + b.
Eigen::VectorXd clip_rule(const Params& p, const Eigen::VectorXd& a, const Eigen::VectorXd& r_out, double eps) {
  Eigen::VectorXd r_in = Eigen::VectorXd::Zero(a.size());
  for (Index j = 0; j < p.weight.rows(); ++j) {
    double z = p.bias[j];
    for (Index i = 0; i < a.size(); ++i) z += double(p.weight(j, i)) * a[i];
    const double denominator = (z >= 0 ? 1.0 : -1.0) * std::max(std::abs(z), eps);
    for (Index i = 0; i < a.size(); ++i) r_in[i] += a[i] * double(p.weight(j, i)) * r_out[j] / denominator;
  }
  return r_in;
}

std::string run_command(const std::string& command, int& status) {
  std::string out;
  FILE* pipe = ::popen((command + " 2>&1").c_str(), "r");
  REQUIRE(pipe != nullptr);
  char buffer[4096];
  while (std::fgets(buffer, sizeof buffer, pipe) != nullptr) out += buffer;
  status = ::pclose(pipe);
  return out;
}

}  // namespace

TEST_CASE("plugin example epsilon_clip: loaded by path, marked with its origin, equal to its literal formula",
          "[plugin]") {
  const lrp::Registry registry = registry_with({kClip});
  REQUIRE(registry.plugins().size() == 1);
  CHECK(registry.plugins()[0].name == "epsilon_clip");
  CHECK(registry.rule_info("epsilon_clip").origin == "plugin " + kClip);
  CHECK(registry.rule_info("epsilon").origin == "built-in");

  const lrp::Network net = small_mlp();
  const lrp::Tensor x({6}, random_matrix(4, 6, 21, -1.0, 1.0));
  const lrp::ForwardPass pass = net.forward(x);
  const double eps = 0.5;
  lrp::ParamMap params;
  params.set("epsilon", eps);
  std::vector<lrp::RulePtr> rules;
  rules.push_back(registry.make_rule("epsilon_clip", params));
  rules.push_back(registry.make_rule("pass"));
  rules.push_back(registry.make_rule("epsilon_clip", params));
  const lrp::Explainer explainer(net, std::move(rules));
  int clipped = 0;  // outputs where the clip is active (|z| < ε): the case that differs from LRP-0
  for (Index target = 0; target < 3; ++target) {
    const lrp::Explanation e = explainer.explain(pass, std::vector<Index>(4, target));
    for (Index s = 0; s < 4; ++s) {
      const Eigen::VectorXd a0 = x.data.row(s).cast<double>().transpose();
      const Eigen::VectorXd a1 = pass.activations[2].row(s).cast<double>().transpose();
      Eigen::VectorXd seed = Eigen::VectorXd::Zero(3);
      seed[target] = pass.logits()(s, target);
      const Eigen::VectorXd r1 = clip_rule(net.layer(2).params(), a1, seed, eps);
      const Eigen::VectorXd r0 = clip_rule(net.layer(0).params(), a0, r1, eps);
      INFO("class " << target << " sample " << s);
      CHECK(relative_error(Matrix(e.relevance.data.row(s)), Eigen::MatrixXd(r0.transpose())) <= tol(1e-5, 1e-12));
      for (Index j = 0; j < 5; ++j) clipped += std::abs(pass.activations[1](s, j)) < eps ? 1 : 0;
    }
  }
  CHECK(clipped > 0);
  lrp::ParamMap zero;
  zero.set("epsilon", 0.0);
  CHECK_THROWS_WITH(registry.make_rule("epsilon_clip", zero),
                    Contains("epsilon must be > 0") && Contains("plugin " + kClip));
}

TEST_CASE("A built-in rule's source built as a plugin gives the built-in's numbers, and a second copy is refused",
          "[plugin]") {
  const lrp::Registry plugin_only = registry_with({kEpsilon}, /*builtin_rules=*/false);
  CHECK(plugin_only.rule_info("epsilon").origin == "plugin " + kEpsilon);
  CHECK(plugin_only.rules().size() == 1);
  const lrp::Network net = small_mlp();
  const lrp::Tensor x({6}, random_matrix(5, 6, 31, -1.0, 1.0));
  const lrp::ForwardPass pass = net.forward(x);
  lrp::ParamMap params;
  params.set("epsilon", 0.2);
  auto explain = [&](const lrp::Registry& r) {
    std::vector<lrp::RulePtr> rules;
    rules.push_back(r.make_rule("epsilon", params));
    rules.push_back(builtins().make_rule("pass"));
    rules.push_back(r.make_rule("epsilon", params));
    return lrp::Explainer(net, std::move(rules)).explain(pass, {0, 1, 2, 0, 1}).relevance.data;
  };
  CHECK(bit_equal(explain(plugin_only), explain(builtins())));

  // Into a registry that has the built-in epsilon: a duplicate naming both origins, and nothing stays.
  lrp::Registry r;
  lrp::register_builtins(r);
  const std::size_t rules_before = r.rules().size();
  CHECK_THROWS_WITH(lrp::load_plugin(kEpsilon, r), Contains("plugin '" + kEpsilon + "'") &&
                                                       Contains("the rule 'epsilon' from plugin " + kEpsilon) &&
                                                       Contains("is already registered (from built-in)"));
  CHECK(r.rules().size() == rules_before);
  CHECK(r.plugins().empty());
  CHECK(r.rule_info("epsilon").origin == "built-in");
}

TEST_CASE("Plugin load errors name the plugin and say what is wrong, and none leaves entries behind", "[plugin]") {
  const TempDir dir("lrp_plugins");
  lrp::Registry r;
  lrp::register_builtins(r);
  const std::size_t rules_before = r.rules().size(), layers_before = r.layers().size();

  CHECK_THROWS_WITH(lrp::load_plugin(dir.file("missing.so"), r), Contains(dir.file("missing.so")) && Contains("no such file"));
  const std::string text = dir.file("not_a_library.so");
  std::ofstream(text) << "not an ELF file\n";
  CHECK_THROWS_WITH(lrp::load_plugin(text, r), Contains(text) && Contains("cannot be loaded as a shared library"));
  CHECK_THROWS_WITH(lrp::load_plugin(LRP_TEST_PLUGIN_NO_ENTRY, r),
                    Contains(LRP_TEST_PLUGIN_NO_ENTRY) && Contains("has no entry point 'lrp_plugin_entry'"));
  CHECK_THROWS_WITH(lrp::load_plugin(LRP_TEST_PLUGIN_WRONG_VERSION, r),
                    Contains(LRP_TEST_PLUGIN_WRONG_VERSION) && Contains("built for plugin API version 999") &&
                        Contains("this lrplab has version " + std::to_string(lrp::kPluginApiVersion)));
  CHECK_THROWS_WITH(lrp::load_plugin(LRP_TEST_PLUGIN_WRONG_SCALAR, r),
                    Contains(LRP_TEST_PLUGIN_WRONG_SCALAR) && Contains(std::string("this lrplab computes in ") + lrp::scalar_name()));
  CHECK_THROWS_WITH(lrp::load_plugin(LRP_TEST_PLUGIN_THROWS_ON_REGISTER, r),
                    Contains(LRP_TEST_PLUGIN_THROWS_ON_REGISTER) && Contains("registration failed: registration boom"));
  CHECK(r.rules().size() == rules_before);  // its half_registered rule was rolled back
  CHECK(r.layers().size() == layers_before);
  CHECK(r.plugins().empty());

  // A plugin whose factories throw loads; using them is an error naming the entry and the plugin.
  lrp::load_plugin(LRP_TEST_PLUGIN_THROWING_FACTORY, r);
  CHECK_THROWS_WITH(r.make_rule("throwing_factory"), Contains("rule 'throwing_factory'") &&
                                                         Contains(LRP_TEST_PLUGIN_THROWING_FACTORY) &&
                                                         Contains("factory boom"));
  CHECK_THROWS_WITH(r.make_layer("throwing_layer"), Contains("layer kind 'throwing_layer'") &&
                                                        Contains(LRP_TEST_PLUGIN_THROWING_FACTORY) &&
                                                        Contains("not a std::exception"));
  CHECK_THROWS_WITH(lrp::load_plugin(LRP_TEST_PLUGIN_THROWING_FACTORY, r), Contains("is already loaded"));
  r.freeze();
  CHECK_THROWS_WITH(lrp::load_plugin(kClip, r), Contains("before the registry becomes read-only"));
}

TEST_CASE("An experiment config lists plugins: they are loaded first, used by methods and recorded in the results",
          "[plugin][experiment]") {
  const QuietLog quiet;
  const TempDir dir("lrp_plugin_run");
  std::ofstream(dir.file("mlp.yaml")) << "name: mlp\ninput_shape: [6]\nlayers:\n  - {kind: dense, out: 5}\n"
                                         "  - {kind: relu}\n  - {kind: dense, out: 3}\n";
  const std::string config = dir.file("experiment.yaml");
  std::ofstream(config) << "seed: 3\nplugins: [" << kClip << "]\n"
                        << "data: {format: synthetic, shape: [6], count: 8, classes: 3}\n"
                        << "model: {file: " << dir.file("mlp.yaml") << "}\n"
                        << "explain:\n  - {name: clip, kind: lrp, rules: [{fallback: true, rule: epsilon_clip, "
                           "params: {epsilon: 0.3}}]}\n"
                        << "evaluate: {conservation: true}\noutput: {results: " << dir.file("out.h5") << "}\n";
  const std::vector<std::string> listed = lrp::read_experiment_plugins(config, {});
  REQUIRE(listed.size() == 1);
  CHECK(listed[0] == kClip);

  // Without loading them first, the run says how.
  CHECK_THROWS_WITH(lrp::run_experiment(lrp::read_experiment_config(config, {}, builtins()), builtins()),
                    Contains("is not loaded into the registry") || Contains("unknown rule 'epsilon_clip'"));

  const lrp::Registry registry = registry_with(listed);
  (void)lrp::run_experiment(lrp::read_experiment_config(config, {}, registry), registry);
  const lrp::h5::File f = lrp::h5::File::open(dir.file("out.h5"));
  CHECK_THAT(f.string_attribute("/meta", "plugins"), Contains("epsilon_clip " + kClip));
  CHECK_THAT(f.string_attribute("/explanations/clip", "layer_rules"), Contains("epsilon_clip"));
}

TEST_CASE("lrplab --plugin loads a plugin for any command, list shows its origin, bad plugins exit 1", "[plugin]") {
  int status = 0;
  const std::string out = run_command(std::string(LRPLAB_EXE) + " list rules --plugin " + kClip, status);
  CHECK(status == 0);
  CHECK_THAT(out, Contains("epsilon_clip") && Contains("plugin " + kClip));
  const std::string bad = run_command(std::string(LRPLAB_EXE) + " --plugin " + LRP_TEST_PLUGIN_NO_ENTRY + " list", status);
  CHECK(WEXITSTATUS(status) == 1);
  CHECK_THAT(bad, Contains("error: plugin '") && Contains("has no entry point"));
}
