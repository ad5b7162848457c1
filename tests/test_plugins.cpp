// Plugins (lrp/registry/plugin.hpp): the worked example (experiments/plugins/epsilon_clip) against its
// literal formula, a built-in rule's source built as a plugin giving the built-in's numbers, the
// origins, every load error, configs that list plugins, and `lrplab --plugin`.
#include "experiment_support.hpp"
#include "run_command.hpp"
#include "temp_dir.hpp"
#include "test_util.hpp"

#include "lrp/io/model_file.hpp"
#include "lrp/experiment/experiment.hpp"
#include "lrp/io/hdf5.hpp"
#include "lrp/registry/plugin.hpp"

#include <sys/wait.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
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

// A YAML description of a dense(6 → 5) → relu → dense(5 → 3) model (initialized from the config's seed).
void write_mlp_description(const std::string& path) {
  std::ofstream(path) << "name: mlp\ninput_shape: [6]\nlayers:\n  - {kind: dense, out: 5}\n"
                         "  - {kind: relu}\n  - {kind: dense, out: 3}\n";
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
  write_mlp_description(dir.file("mlp.yaml"));
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

// ---------------------------------------------------------------- explanation-method plugins

namespace {

const std::string kAblation = LRP_PLUGIN_FEATURE_ABLATION;

// The literal formula of the feature-ablation example, one copy and one forward pass at a time:
// R_i = f_c(x) − f_c(x with value i set to fill[channel of i]); padding steps get 0.
Eigen::MatrixXd ablation_oracle(const lrp::Network& net, const lrp::Tensor& x, const std::vector<Index>& targets,
                                const std::vector<double>& fill) {
  const Index features = x.features(), per_channel = features / x.shape[0];
  Eigen::MatrixXd r = Eigen::MatrixXd::Zero(x.batch(), features);
  for (Index i = 0; i < x.batch(); ++i) {
    lrp::Tensor one(x.shape, x.data.row(i));
    if (!x.lengths.empty()) one.lengths = {x.lengths[static_cast<std::size_t>(i)]};
    const Index c = targets[static_cast<std::size_t>(i)];
    const double full = net.forward(one).logits()(0, c);
    const Index real = x.lengths.empty() ? features : x.length(i) * (features / x.shape[0]);
    for (Index f = 0; f < real; ++f) {
      lrp::Tensor copy = one;
      copy.data(0, f) = static_cast<Scalar>(fill.size() == 1 ? fill[0] : fill[static_cast<std::size_t>(f / per_channel)]);
      r(i, f) = full - net.forward(copy).logits()(0, c);
    }
  }
  return r;
}

lrp::Tensor run_method(const lrp::Registry& registry, const std::string& name, const lrp::ParamMap& params,
                       const lrp::Network& net, const lrp::InputNormalization& norm, const lrp::Tensor& x,
                       const std::vector<Index>& targets, int threads = 1) {
  const lrp::MethodPtr method = registry.make_method(name, params, lrp::MethodSetup{net, norm, 5, ""});
  const lrp::ForwardPass pass = net.forward(x, threads);
  std::vector<Index> ids(static_cast<std::size_t>(x.batch()));
  for (std::size_t i = 0; i < ids.size(); ++i) ids[i] = static_cast<Index>(i);
  return method->explain(lrp::MethodBatch{net, registry, pass, x, targets, ids, threads});
}

}  // namespace

TEST_CASE("plugin example feature_ablation: a method loaded by path, equal to its literal formula and to 1-value occlusion",
          "[plugin]") {
  const lrp::Registry registry = registry_with({kAblation});
  CHECK(registry.method_info("feature_ablation").origin == "plugin " + kAblation);
  CHECK(registry.method_info("occlusion").origin == "built-in");

  const lrp::Network net = small_mlp();
  const lrp::Tensor x({6}, random_matrix(5, 6, 41, 0.0, 1.0));
  const std::vector<Index> targets{0, 1, 2, 1, 0};
  lrp::InputNormalization norm;  // raw = 0.5 + 0.25 · network: the raw fill 0.2 is −1.2 in network units
  norm.mean = {0.5};
  norm.std = {0.25};
  lrp::ParamMap fill;
  fill.set("fill", 0.2);
  const Eigen::MatrixXd oracle = ablation_oracle(net, x, targets, {-1.2});
  for (const double rows : {0.0, 4.0, 1.0}) {  // automatic; blocks of 4 copies with a short last one; one by one
    for (const int threads : {1, 2}) {
      lrp::ParamMap p = fill;
      p.set("batch_rows", rows);
      const lrp::Tensor r = run_method(registry, "feature_ablation", p, net, norm, x, targets, threads);
      INFO("batch_rows " << rows << ", threads " << threads);
      CHECK(r.shape == x.shape);
      CHECK(relative_error(r.data, oracle) <= tol(1e-5, 1e-12));
    }
  }
  CHECK(oracle.cwiseAbs().minCoeff() > 1e-4);  // every value moves its logit (no trivially equal zeros)

  // On [D] inputs occlusion with a window of one feature is the same method (built in, batched its own way).
  lrp::ParamMap occlusion = fill;
  occlusion.set("window", 1.0);
  const lrp::Tensor occ = run_method(registry, "occlusion", occlusion, net, norm, x, targets);
  CHECK(relative_error(occ.data, oracle) <= tol(1e-5, 1e-12));

  // One fill per channel ([D]: per feature), and a count that fits neither is an error naming the method.
  lrp::ParamMap per_channel;
  per_channel.set("fill", lrp::ParamValue{0, 0.25, 0.5, 0.75, 1, 0.5});
  const lrp::Tensor rc = run_method(registry, "feature_ablation", per_channel, net, norm, x, targets);
  CHECK(relative_error(rc.data, ablation_oracle(net, x, targets, {-2, -1, 0, 1, 2, 0})) <= tol(1e-5, 1e-12));
  lrp::ParamMap wrong;
  wrong.set("fill", lrp::ParamValue{0, 1});
  CHECK_THROWS_WITH(run_method(registry, "feature_ablation", wrong, net, norm, x, targets),
                    Contains("method 'feature_ablation'") && Contains("'fill' needs 1 value or one per input channel (6), got 2"));
  lrp::ParamMap half;
  half.set("batch_rows", 2.5);
  CHECK_THROWS_WITH(run_method(registry, "feature_ablation", half, net, norm, x, targets),
                    Contains("'batch_rows' must be a whole number") && Contains("plugin " + kAblation));
}

TEST_CASE("plugin example feature_ablation on sequences with lengths: padding is not ablated and gets 0", "[plugin]") {
  const lrp::Registry registry = registry_with({kAblation});
  lrp::Network net({4, 2});
  auto& lstm = net.add_as(std::make_unique<lrp::Lstm>(2, 3), "rnn");
  Params p = lstm.params();
  p.weight = random_matrix(1, p.weight.cols(), 51, -0.8, 0.8);
  p.bias = random_vector(p.bias.size(), 52, -0.5, 0.5);
  lstm.set_params(p);
  auto& fc = net.add(std::make_unique<lrp::Dense>(3, 2), "fc");
  Params q = fc.params();
  q.weight = random_matrix(q.weight.rows(), q.weight.cols(), 53);
  q.bias = random_vector(q.bias.size(), 54);
  fc.set_params(q);

  lrp::Tensor x({4, 2}, random_matrix(3, 8, 55));
  x.lengths = {4, 2, 1};
  const std::vector<Index> targets{1, 0, 1};
  lrp::ParamMap params;
  params.set("fill", 0.3);
  params.set("batch_rows", 3.0);
  const lrp::Tensor r = run_method(registry, "feature_ablation", params, net, lrp::InputNormalization{}, x, targets);
  const Eigen::MatrixXd oracle = ablation_oracle(net, x, targets, {0.3});
  CHECK(relative_error(r.data, oracle) <= tol(1e-5, 1e-12));
  CHECK(r.data.row(1).tail(4).isZero(0));  // sample 1: steps 2 and 3 are padding
  CHECK(r.data.row(2).tail(6).isZero(0));
  CHECK(oracle.row(1).head(4).cwiseAbs().minCoeff() > 0);
}

TEST_CASE("A config runs a plugin method next to the built-ins, sweeps it, and the results record its origin",
          "[plugin][experiment]") {
  const QuietLog quiet;
  const TempDir dir("lrp_plugin_method_run");
  write_mlp_description(dir.file("mlp.yaml"));
  const std::string config = dir.file("experiment.yaml");
  std::ofstream(config) << "seed: 3\nbatch_size: 3\nplugins: [" << kAblation << "]\n"
                        << "data: {format: synthetic, shape: [6], count: 8, classes: 3}\n"
                        << "model: {file: " << dir.file("mlp.yaml") << "}\n"
                        << "explain:\n  - {name: ablation, kind: feature_ablation, sweep: {fill: [0, 1]}}\n"
                        << "  - {name: occ1, kind: occlusion, params: {window: 1, fill: 1}}\n"
                        << "  - feature_ablation\n"
                        << "evaluate: {conservation: true, pixel_flipping: {patch: 1, random_repeats: 2}}\n"
                        << "output: {results: " << dir.file("out.h5") << "}\n";
  // Not loaded: the method is unknown, and the message lists what is.
  CHECK_THROWS_WITH(lrp::read_experiment_config(config, {}, builtins()),
                    Contains("'feature_ablation' is not a method kind") && Contains("occlusion"));

  const lrp::Registry registry = registry_with(lrp::read_experiment_plugins(config, {}));
  const lrp::ExperimentReport report = lrp::run_experiment(lrp::read_experiment_config(config, {}, registry), registry);
  REQUIRE(report.methods.size() == 4);
  const lrp::h5::File f = lrp::h5::File::open(dir.file("out.h5"));
  CHECK(f.string_attribute("/explanations/ablation@fill=1", "kind") == "feature_ablation");
  CHECK(f.string_attribute("/explanations/ablation@fill=1", "origin") == "plugin " + kAblation);
  CHECK(f.string_attribute("/explanations/occ1", "origin") == "built-in");
  CHECK_THAT(f.string_attribute("/explanations/feature_ablation", "params"), Contains("fill"));
  // The sweep point fill = 1 is the same computation as occlusion with one-value windows and fill 1.
  const std::vector<double> a = f.read<double>("/explanations/ablation@fill=1/relevance");
  const std::vector<double> o = f.read<double>("/explanations/occ1/relevance");
  const std::vector<double> a0 = f.read<double>("/explanations/ablation@fill=0/relevance");
  const std::vector<double> d = f.read<double>("/explanations/feature_ablation/relevance");
  REQUIRE(a.size() == 48);
  REQUIRE(o.size() == a.size());
  double worst = 0, scale = 0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    worst = std::max(worst, std::abs(a[i] - o[i]));
    scale = std::max(scale, std::abs(o[i]));
  }
  CHECK(worst <= tol(1e-5, 1e-12) * scale);
  CHECK(a0 == d);  // the default fill is 0
  CHECK(a0 != a);
  CHECK(f.exists("/metrics/pixel_flipping/ablation@fill=1"));
}

TEST_CASE("Plugin methods that misbehave give errors naming the method and the plugin, never a crash",
          "[plugin][experiment]") {
  const std::string bad = LRP_TEST_PLUGIN_BAD_METHODS;
  {
    lrp::Registry r;
    lrp::register_builtins(r);
    const std::size_t methods = r.methods().size();
    CHECK_THROWS_WITH(lrp::load_plugin(LRP_TEST_PLUGIN_METHOD_NAMED_LIKE_PRESET, r),
                      Contains(LRP_TEST_PLUGIN_METHOD_NAMED_LIKE_PRESET) &&
                          Contains("the method 'epsilon_plus' from plugin") && Contains("has the name of a preset"));
    CHECK(r.methods().size() == methods);
    lrp::MethodInfo lrp_named;
    lrp_named.name = "lrp";
    lrp_named.factory = [](const lrp::ParamMap&, const lrp::MethodSetup&) -> lrp::MethodPtr { return nullptr; };
    CHECK_THROWS_WITH(r.add_method(lrp_named), Contains("'lrp'") && Contains("reserved"));
    lrp::MethodInfo twice = lrp_named;
    twice.name = "gradient";
    CHECK_THROWS_WITH(r.add_method(twice), Contains("the method 'gradient'") && Contains("is already registered (from built-in)"));
    lrp::PresetInfo preset;
    preset.name = "occlusion";
    preset.factory = [](const lrp::ParamMap&) { return lrp::Composite{}; };
    CHECK_THROWS_WITH(r.add_preset(preset), Contains("the preset 'occlusion'") && Contains("has the name of a method"));
  }
  const lrp::Registry registry = registry_with({bad});
  const lrp::Network net = small_mlp();
  const lrp::Tensor x({6}, random_matrix(2, 6, 61));
  CHECK_THROWS_WITH(run_method(registry, "throwing_method_factory", {}, net, {}, x, {0, 1}),
                    Contains("method 'throwing_method_factory' (from plugin " + bad + ")") && Contains("method factory boom"));

  const QuietLog quiet;
  const TempDir dir("lrp_plugin_bad_method");
  write_mlp_description(dir.file("mlp.yaml"));
  auto run = [&](const std::string& method) {
    const std::string config = dir.file(method + ".yaml");
    std::ofstream(config) << "plugins: [" << bad << "]\ndata: {format: synthetic, shape: [6], count: 4, classes: 3}\n"
                          << "model: {file: " << dir.file("mlp.yaml") << "}\nexplain: [{name: m, kind: " << method << "}]\n"
                          << "output: {results: " << dir.file(method + ".h5") << "}\n";
    return lrp::run_experiment(lrp::read_experiment_config(config, {}, registry), registry);
  };
  CHECK_THROWS_WITH(run("throwing_explain"),
                    Contains("method 'm' (throwing_explain, from plugin " + bad + "): explain threw: explain boom"));
  CHECK_THROWS_WITH(run("wrong_shape"), Contains("method 'm' (wrong_shape, from plugin " + bad + ")") &&
                                            Contains("returned relevance of shape 5 × [6]") &&
                                            Contains("for a batch of 4 × [6]"));
  CHECK_THROWS_WITH(run("throwing_method_factory"), Contains("throwing_method_factory.yaml:") &&
                                                        Contains("method factory boom"));
  for (const char* failed : {"throwing_explain", "wrong_shape", "throwing_method_factory"})
    CHECK_FALSE(std::filesystem::exists(dir.file(std::string(failed) + ".h5")));  // no half-written results
  // NaN relevance is not an error: it is counted and reported (docs/metrics.md), the file is complete.
  const lrp::ExperimentReport report = run("nan_relevance");
  REQUIRE(report.methods.size() == 1);
  CHECK(report.methods[0].nonfinite == 4);  // one per sample
  const lrp::h5::File f = lrp::h5::File::open(dir.file("nan_relevance.h5"));
  CHECK(f.int_attribute("/explanations/m", "nonfinite") == 4);
}

TEST_CASE("The committed plugin comparison config runs with this build's plugins, on the CNN and on the residual network",
          "[plugin][experiment]") {
  const QuietLog quiet;
  const std::string root = std::string(LRP_TEST_FIXTURES) + "/../..";
  const std::string config = root + "/configs/plugins_fmnist.yaml";
  for (const std::string model_name : {"fmnist_cnn", "fmnist_resnet"}) {
    INFO(model_name);
    const TempDir dir("lrp_plugins_fmnist");
    const std::string model_file = root + "/models/" + model_name + ".h5";
    const std::vector<std::string> overrides{"plugins=[" + kClip + ", " + kAblation + "]",
                                             "model.file=" + model_file,
                                             "data.subset={begin: 0, end: 3}",
                                             "evaluate.pixel_flipping.random_repeats=1",
                                             "output.results=" + dir.file("out.h5"),
                                             "output.heatmaps=" + dir.file("pictures")};
    const lrp::Registry registry = registry_with(lrp::read_experiment_plugins(config, overrides));
    const lrp::ExperimentReport report =
        lrp::run_experiment(lrp::read_experiment_config(config, overrides, registry), registry);
    CHECK(report.samples == 3);
    CHECK(report.methods.size() == 11);
    const lrp::h5::File f = lrp::h5::File::open(dir.file("out.h5"));
    CHECK(f.string_attribute("/explanations/ablation", "origin") == "plugin " + kAblation);
    CHECK_THAT(f.string_attribute("/explanations/clip@epsilon=0.25", "layer_rules"), Contains("epsilon_clip"));
    // Feature ablation on the 1 × 28 × 28 images against the literal formula, for the first image.
    const lrp::Model model = lrp::open_model(model_file, registry);
    const std::vector<double> inputs = f.read<double>("/data/inputs");
    const std::vector<double> relevance = f.read<double>("/explanations/ablation/relevance");
    const std::vector<std::int64_t> targets = f.read<std::int64_t>("/model/targets");
    REQUIRE(relevance.size() == 3 * 784);
    Matrix x0(1, 784);
    for (Index i = 0; i < 784; ++i)
      x0(0, i) =
          static_cast<Scalar>(lrp::to_network_units(inputs[static_cast<std::size_t>(i)], 0, model.spec.normalization));
    const Eigen::MatrixXd oracle = ablation_oracle(model.network, lrp::Tensor({1, 28, 28}, x0), {targets[0]},
                                                   {lrp::to_network_units(0.0, 0, model.spec.normalization)});
    double worst = 0;
    for (Index i = 0; i < 784; ++i)
      worst = std::max(worst, std::abs(relevance[static_cast<std::size_t>(i)] - oracle(0, i)));
    CHECK(worst <= tol(1e-4, 1e-10) * oracle.cwiseAbs().maxCoeff());
  }
}
