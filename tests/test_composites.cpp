// Composites: the five presets of docs/rules.md, Composites and Presets assign exactly what the table says, the matching
// priority (name > index > first/last > kind > layer default > fallback), negative indices,
// composites that name what does not exist, layers without a rule, and the §3 layer defaults.
#include "test_util.hpp"

#include "lrp/propagation/composite.hpp"
#include "lrp/nn/layers.hpp"

#include <catch2/catch.hpp>

using namespace lrp_test;
using lrp::Composite;
using lrp::Conv2dOptions;
using lrp::Pool2dOptions;
using lrp::RuleChoice;

namespace {

// What docs/rules.md, Composites and Presets says a layer gets, as recorded by an explanation: "rule(resolved params)".
const std::string kPass = "pass()";
const std::string kWta = "wta()";
const std::string kNorm = "norm(stabilizer=1e-06)";
const std::string kEpsilon = "epsilon(epsilon=1e-06)";
const std::string kGamma = "gamma(gamma=0.25, stabilizer=1e-06)";
const std::string kZbox01 = "zbox(high=1, low=0, stabilizer=1e-06)";
const std::string kZplus = "zplus(stabilizer=1e-06)";
const std::string kAlphaBeta = "alpha_beta(alpha=2, beta=1, stabilizer=1e-06)";
const std::string kFlat = "flat(stabilizer=1e-06)";

std::vector<std::string> labels(const lrp::Network& net, const std::string& preset) {
  return explainer_for(net, preset, preset_params(preset)).layer_rules();
}

std::vector<std::string> rules_of(const std::vector<lrp::RuleAssignment>& assignment) {
  std::vector<std::string> out;
  for (const lrp::RuleAssignment& a : assignment) out.push_back(a.choice.rule);
  return out;
}
std::vector<std::string> matches_of(const std::vector<lrp::RuleAssignment>& assignment) {
  std::vector<std::string> out;
  for (const lrp::RuleAssignment& a : assignment) out.push_back(a.matched_by);
  return out;
}

// conv1 relu1 conv2 relu2 pool1(max) conv3 relu3 gap flatten fc1 relu4 fc2: three convs, two dense.
lrp::Network three_conv_two_dense() {
  lrp::Network net({3, 12, 12});
  const Conv2dOptions c3{.kernel = {3, 3}, .padding = {1, 1}};
  net.add(std::make_unique<lrp::Conv2d>(3, 4, c3), "conv1");
  net.add(lrp::make_relu(), "relu1");
  net.add(std::make_unique<lrp::Conv2d>(4, 4, c3), "conv2");
  net.add(lrp::make_relu(), "relu2");
  net.add(std::make_unique<lrp::MaxPool2d>(Pool2dOptions{.kernel = {2, 2}}), "pool1");
  net.add(std::make_unique<lrp::Conv2d>(4, 8, Conv2dOptions{.kernel = {3, 3}}), "conv3");
  net.add(lrp::make_relu(), "relu3");
  net.add(lrp::AvgPool2d::global(), "gap");
  net.add(std::make_unique<lrp::Flatten>(), "flatten");
  net.add(std::make_unique<lrp::Dense>(8, 6), "fc1");
  net.add(lrp::make_relu(), "relu4");
  net.add(std::make_unique<lrp::Dense>(6, 3), "fc2");
  lrp::randomize_parameters(net, 3);
  return net;
}

// a r1 b r2 c: three dense layers with ReLUs between them.
lrp::Network three_dense() {
  lrp::Network net({4});
  net.add(std::make_unique<lrp::Dense>(4, 4), "a");
  net.add(lrp::make_relu(), "r1");
  net.add(std::make_unique<lrp::Dense>(4, 4), "b");
  net.add(lrp::make_relu(), "r2");
  net.add(std::make_unique<lrp::Dense>(4, 2), "c");
  lrp::randomize_parameters(net, 4);
  return net;
}

// An elementwise layer kind that is not in the registry (so it has no default rule).
class Square final : public lrp::Layer {
 public:
  std::string kind() const override { return "square"; }
  lrp::LayerTraits traits() const override { return {.elementwise = true}; }
  std::string describe() const override { return "square"; }
  void forward(const lrp::ConstMatrixRef& x, const lrp::Params&, lrp::MatrixRef y, lrp::Workspace&) const override {
    y = x.cwiseProduct(x);
  }
  void vjp(const lrp::ConstMatrixRef& at, const lrp::Params&, const lrp::ConstMatrixRef& g_out, lrp::MatrixRef g_in,
           lrp::Workspace&, bool accumulate) const override {
    if (!accumulate) g_in.setZero();
    g_in += Scalar(2) * at.cwiseProduct(g_out);
  }

 protected:
  Shape setup(const Shape& input_shape) override { return input_shape; }
};

}  // namespace

// ---------------------------------------------------------------- presets (docs/rules.md, Composites and Presets)

TEST_CASE("the presets assign the RULES table on the example CNN") {
  const lrp::Network cnn = lrp::example_cnn(1);  // conv1 relu1 pool1 conv2 relu2 pool2 flatten fc
  using V = std::vector<std::string>;
  CHECK(labels(cnn, "epsilon_gamma_box") == V{kZbox01, kPass, kWta, kGamma, kPass, kNorm, kPass, kEpsilon});
  CHECK(labels(cnn, "epsilon_plus") == V{kZplus, kPass, kWta, kZplus, kPass, kNorm, kPass, kEpsilon});
  CHECK(labels(cnn, "epsilon_alpha2_beta1") == V{kAlphaBeta, kPass, kWta, kAlphaBeta, kPass, kNorm, kPass, kEpsilon});
  CHECK(labels(cnn, "epsilon_plus_flat") == V{kFlat, kPass, kWta, kZplus, kPass, kNorm, kPass, kEpsilon});
  CHECK(labels(cnn, "epsilon_alpha2_beta1_flat") == V{kFlat, kPass, kWta, kAlphaBeta, kPass, kNorm, kPass, kEpsilon});

  const auto assignment =
      builtins().make_preset("epsilon_gamma_box", preset_params("epsilon_gamma_box")).assign(cnn, builtins());
  CHECK(matches_of(assignment) == V{"first", "layer default", "layer default", "kind", "layer default", "layer default",
                                    "layer default", "kind"});
}

TEST_CASE("the presets assign the RULES table on an MLP: no zbox without a conv, flat on the first dense") {
  const lrp::Network mlp = lrp::example_mlp(1);  // fc1 relu1 fc2 relu2 fc3
  using V = std::vector<std::string>;
  const V all_epsilon{kEpsilon, kPass, kEpsilon, kPass, kEpsilon};
  const V flat_first{kFlat, kPass, kEpsilon, kPass, kEpsilon};
  CHECK(labels(mlp, "epsilon_gamma_box") == all_epsilon);
  CHECK(labels(mlp, "epsilon_plus") == all_epsilon);
  CHECK(labels(mlp, "epsilon_alpha2_beta1") == all_epsilon);
  CHECK(labels(mlp, "epsilon_plus_flat") == flat_first);
  CHECK(labels(mlp, "epsilon_alpha2_beta1_flat") == flat_first);
  const auto assignment =
      builtins().make_preset("epsilon_gamma_box", preset_params("epsilon_gamma_box")).assign(mlp, builtins());
  CHECK(assignment[0].matched_by == "kind");
}

TEST_CASE("the presets assign the RULES table on a CNN with three convs and two dense layers") {
  const lrp::Network net = three_conv_two_dense();
  // conv1 relu1 conv2 relu2 pool1 conv3 relu3 gap flatten fc1 relu4 fc2
  using V = std::vector<std::string>;
  auto expect = [&](const std::string& first, const std::string& conv) {
    return V{first, kPass, conv, kPass, kWta, conv, kPass, kNorm, kPass, kEpsilon, kPass, kEpsilon};
  };
  CHECK(labels(net, "epsilon_gamma_box") == expect(kZbox01, kGamma));
  CHECK(labels(net, "epsilon_plus") == expect(kZplus, kZplus));
  CHECK(labels(net, "epsilon_alpha2_beta1") == expect(kAlphaBeta, kAlphaBeta));
  CHECK(labels(net, "epsilon_plus_flat") == expect(kFlat, kZplus));
  CHECK(labels(net, "epsilon_alpha2_beta1_flat") == expect(kFlat, kAlphaBeta));
  // And the explanations run.
  const lrp::ForwardPass pass = net.forward(lrp::random_inputs(net.input_shape(), 2, 5));
  for (const std::string& preset : preset_names())
    CHECK(explainer_for(net, preset, preset_params(preset)).explain(pass, {0, 2}).relevance.data.allFinite());
}

TEST_CASE(
    "the presets' first layer is the first conv (zbox) or the first dense/conv (flat), never an average pooling") {
  lrp::Network net({1, 8, 8});
  net.add(std::make_unique<lrp::AvgPool2d>(Pool2dOptions{.kernel = {2, 2}}), "pool0");
  net.add(std::make_unique<lrp::Conv2d>(1, 2, Conv2dOptions{.kernel = {3, 3}}), "conv1");
  net.add(lrp::make_relu(), "relu1");
  net.add(std::make_unique<lrp::Flatten>(), "flatten");
  net.add(std::make_unique<lrp::Dense>(8, 2), "fc");
  lrp::randomize_parameters(net, 6);
  using V = std::vector<std::string>;
  CHECK(labels(net, "epsilon_gamma_box") == V{kNorm, kZbox01, kPass, kPass, kEpsilon});
  CHECK(labels(net, "epsilon_plus_flat") == V{kNorm, kFlat, kPass, kPass, kEpsilon});
}

TEST_CASE("preset parameters reach the rules they configure") {
  lrp::Network net({3, 6, 6});
  net.add(std::make_unique<lrp::Conv2d>(3, 2, Conv2dOptions{.kernel = {3, 3}}), "conv1");
  net.add(lrp::make_relu(), "relu1");
  net.add(std::make_unique<lrp::Conv2d>(2, 2, Conv2dOptions{.kernel = {3, 3}}), "conv2");
  net.add(std::make_unique<lrp::Flatten>(), "flatten");
  net.add(std::make_unique<lrp::Dense>(8, 2), "fc");
  lrp::randomize_parameters(net, 7);
  const lrp::ParamMap params{
      {"low", {-1.0, -2.0, -3.0}}, {"high", {1.0, 2.0, 3.0}}, {"gamma", {0.5}}, {"epsilon", {0.01}}};
  const lrp::Explainer ex = explainer_for(net, "epsilon_gamma_box", params);
  CHECK(ex.layer_rules() == std::vector<std::string>{"zbox(high=[1, 2, 3], low=[-1, -2, -3], stabilizer=1e-06)", kPass,
                                                     "gamma(gamma=0.5, stabilizer=1e-06)", kPass,
                                                     "epsilon(epsilon=0.01)"});
  const lrp::ForwardPass pass = net.forward(lrp::random_inputs(net.input_shape(), 2, 8, -1.0, 1.0));
  const lrp::Explanation e = ex.explain(pass, {0, 1});
  CHECK(e.relevance.data.allFinite());
  CHECK(e.layer_rules == ex.layer_rules());  // every explanation records the rules
  CHECK(explainer_for(net, "epsilon_plus", {{"epsilon", {0.5}}}).layer_rules().back() == "epsilon(epsilon=0.5)");
}

// ---------------------------------------------------------------- matching priority

TEST_CASE("composite matching goes name, index, first/last, kind, layer default, fallback") {
  const lrp::Network net = three_dense();  // a r1 b r2 c
  const lrp::Registry& reg = builtins();
  using V = std::vector<std::string>;

  SECTION("name beats index, first and last beat kind, the relus keep their default") {
    const Composite c = Composite()
                            .by_name("b", {"zero", {}})
                            .by_index(2, {"zplus", {}})
                            .first({"flat", {}})
                            .last({"wsquare", {}})
                            .by_kind("dense", {"epsilon", {}})
                            .fallback({"gamma", {}});
    const auto a = c.assign(net, reg);
    CHECK(rules_of(a) == V{"flat", "pass", "zero", "pass", "wsquare"});
    CHECK(matches_of(a) == V{"first", "layer default", "name", "layer default", "last"});
  }
  SECTION("index beats first and last") {
    const Composite c = Composite()
                            .by_index(0, {"zplus", {}})
                            .by_index(-1, {"zero", {}})
                            .first({"flat", {}})
                            .last({"wsquare", {}})
                            .fallback({"epsilon", {}});
    const auto a = c.assign(net, reg);
    CHECK(rules_of(a)[0] == "zplus");
    CHECK(rules_of(a)[4] == "zero");
    CHECK(a[0].matched_by == "index");
    CHECK(a[4].matched_by == "index");
  }
  SECTION("index beats kind; kind beats fallback") {
    const Composite c =
        Composite().by_index(2, {"zplus", {}}).by_kind("dense", {"epsilon", {}}).fallback({"gamma", {}});
    const auto a = c.assign(net, reg);
    CHECK(rules_of(a) == V{"epsilon", "pass", "zplus", "pass", "epsilon"});
    CHECK(matches_of(a) == V{"kind", "layer default", "index", "layer default", "kind"});
  }
  SECTION("kind beats the layer default, the layer default beats the fallback") {
    const Composite c = Composite().by_kind("relu", {"gradient", {}}).fallback({"gamma", {}});
    const auto a = c.assign(net, reg);
    CHECK(rules_of(a) == V{"gamma", "gradient", "gamma", "gradient", "gamma"});
    CHECK(matches_of(a) == V{"fallback", "kind", "fallback", "kind", "fallback"});
    const auto d = Composite().fallback({"gamma", {}}).assign(net, reg);
    CHECK(matches_of(d) == V{"fallback", "layer default", "fallback", "layer default", "fallback"});
  }
  SECTION("a name overrides a layer default") {
    const auto a = Composite::uniform({"epsilon", {}}).by_name("r2", {"gradient", {}}).assign(net, reg);
    CHECK(rules_of(a) == V{"epsilon", "pass", "epsilon", "gradient", "epsilon"});
    CHECK(a[3].matched_by == "name");
  }
  SECTION("first and last with explicit kinds") {
    const auto a = Composite()
                       .first({"gradient", {}}, {"relu"})
                       .last({"pass", {}}, {"relu"})
                       .fallback({"zero", {}})
                       .assign(net, reg);
    CHECK(rules_of(a) == V{"zero", "gradient", "zero", "pass", "zero"});
    CHECK(matches_of(a) == V{"fallback", "first", "fallback", "last", "fallback"});
  }
  SECTION("first wins when first and last are the same layer") {
    lrp::Network single({3});
    single.add(std::make_unique<lrp::Dense>(3, 2), "only");
    const auto a = Composite().first({"flat", {}}).last({"zero", {}}).assign(single, reg);
    CHECK(a[0].choice.rule == "flat");
    CHECK(a[0].matched_by == "first");
  }
  SECTION("rule parameters travel with the choice") {
    const lrp::Explainer ex = lrp::Explainer::from_composite(
        net, reg,
        Composite().by_kind("dense", {"epsilon", {{"epsilon", {0.25}}}}).by_name("c", {"gamma", {{"gamma", {1.0}}}}));
    CHECK(ex.layer_rules() ==
          V{"epsilon(epsilon=0.25)", kPass, "epsilon(epsilon=0.25)", kPass, "gamma(gamma=1, stabilizer=1e-06)"});
  }
}

TEST_CASE("negative composite indices count from the end") {
  const lrp::Network net = three_dense();  // 5 layers
  const lrp::Registry& reg = builtins();
  const auto last = Composite().by_index(-1, {"zero", {}}).fallback({"epsilon", {}}).assign(net, reg);
  CHECK(last[4].choice.rule == "zero");
  CHECK(last[4].matched_by == "index");
  CHECK(last[0].choice.rule == "epsilon");
  const auto first =
      Composite().by_index(-5, {"zero", {}}).by_index(-3, {"zplus", {}}).fallback({"epsilon", {}}).assign(net, reg);
  CHECK(rules_of(first) == std::vector<std::string>{"zero", "pass", "zplus", "pass", "epsilon"});
  REQUIRE_THROWS_WITH(Composite().by_index(-6, {"zero", {}}).fallback({"epsilon", {}}).assign(net, reg),
                      Catch::Contains("index -6") && Catch::Contains("out of range") && Catch::Contains("5 layers"));
  REQUIRE_THROWS_WITH(Composite().by_index(5, {"zero", {}}).fallback({"epsilon", {}}).assign(net, reg),
                      Catch::Contains("index 5") && Catch::Contains("out of range"));
  REQUIRE_NOTHROW(Composite().by_index(4, {"zero", {}}).fallback({"epsilon", {}}).assign(net, reg));
}

TEST_CASE("a composite that names a missing layer, index or kind is an error, not a no-op") {
  const lrp::Network net = three_dense();
  const lrp::Registry& reg = builtins();
  const Composite base = Composite::uniform({"epsilon", {}});
  REQUIRE_THROWS_WITH(Composite(base).by_name("d", {"zero", {}}).assign(net, reg),
                      Catch::Contains("'d'") && Catch::Contains("a, r1, b, r2, c"));
  REQUIRE_THROWS_WITH(Composite(base).by_kind("dens", {"zero", {}}).assign(net, reg),
                      Catch::Contains("unknown layer kind 'dens'") && Catch::Contains("did you mean 'dense'?"));
  REQUIRE_THROWS_WITH(Composite(base).first({"zero", {}}, {"conv"}).assign(net, reg),
                      Catch::Contains("unknown layer kind 'conv'") && Catch::Contains("conv2d"));
  REQUIRE_THROWS_WITH(Composite(base).last({"zero", {}}, {"relu", "tahn"}).assign(net, reg),
                      Catch::Contains("unknown layer kind 'tahn'") && Catch::Contains("did you mean 'tanh'?"));
  // A known kind that the network does not contain is fine (presets name conv2d on MLPs).
  REQUIRE_NOTHROW(Composite(base).by_kind("conv2d", {"zero", {}}).assign(net, reg));
  // An unknown rule is found when the explainer is built.
  REQUIRE_THROWS_WITH(lrp::Explainer::from_composite(net, reg, Composite(base).by_name("b", {"zeros", {}})),
                      Catch::Contains("unknown rule 'zeros'") && Catch::Contains("did you mean 'zero'?"));
}

TEST_CASE("a layer that gets no rule is an error naming it") {
  const lrp::Network net = three_dense();
  REQUIRE_THROWS_WITH(Composite().assign(net, builtins()),
                      Catch::Contains("layer 0 'a' (dense)") && Catch::Contains("gets no rule"));
  REQUIRE_THROWS_WITH(Composite().by_name("a", {"zero", {}}).by_index(2, {"zero", {}}).assign(net, builtins()),
                      Catch::Contains("layer 4 'c' (dense)") && Catch::Contains("gets no rule"));

  // A kind the registry does not know has no default; the fallback is only for linear layers.
  lrp::Network custom({3});
  custom.add(std::make_unique<lrp::Dense>(3, 3), "fc");
  custom.add(std::make_unique<Square>(), "sq");
  custom.add(std::make_unique<lrp::Dense>(3, 2), "out");
  REQUIRE_THROWS_WITH(Composite::uniform({"epsilon", {}}).assign(custom, builtins()),
                      Catch::Contains("layer 1 'sq' (square)") && Catch::Contains("gets no rule"));
  const auto a = Composite::uniform({"epsilon", {}}).by_name("sq", {"pass", {}}).assign(custom, builtins());
  CHECK(rules_of(a) == std::vector<std::string>{"epsilon", "pass", "epsilon"});
}

TEST_CASE("layer kinds have the RULES section 3 defaults") {
  const lrp::Registry& reg = builtins();
  const std::vector<std::pair<std::string, std::string>> defaults{
      {"relu", "pass"},      {"tanh", "pass"},          {"sigmoid", "pass"},   {"identity", "pass"},
      {"dropout", "pass"},   {"flatten", "pass"},       {"batchnorm", "pass"}, {"maxpool2d", "wta"},
      {"avgpool2d", "norm"}, {"global_avgpool", "norm"}};
  for (const auto& [kind, rule] : defaults) {
    INFO(kind);
    CHECK(reg.layer_info(kind).default_rule.rule == rule);
  }
  // Dense and conv layers must be assigned by the composite.
  CHECK(reg.layer_info("dense").default_rule.empty());
  CHECK(reg.layer_info("conv2d").default_rule.empty());

  // The same through assign() on a network holding every kind.
  lrp::Network net({2, 8, 8});
  net.add(std::make_unique<lrp::Conv2d>(2, 2, Conv2dOptions{.kernel = {3, 3}, .padding = {1, 1}}), "conv");
  net.add(std::make_unique<lrp::BatchNorm>(2), "bn");
  net.add(lrp::make_relu(), "relu");
  net.add(std::make_unique<lrp::MaxPool2d>(Pool2dOptions{.kernel = {2, 2}}), "maxpool");
  net.add(lrp::make_tanh(), "tanh");
  net.add(std::make_unique<lrp::AvgPool2d>(Pool2dOptions{.kernel = {2, 2}}), "avgpool");
  net.add(lrp::make_sigmoid(), "sigmoid");
  net.add(lrp::make_dropout(0.5), "dropout");
  net.add(lrp::make_identity(), "identity");
  net.add(lrp::AvgPool2d::global(), "gap");
  net.add(std::make_unique<lrp::Flatten>(), "flatten");
  net.add(std::make_unique<lrp::Dense>(2, 2), "fc");
  lrp::randomize_parameters(net, 9);
  const auto a = Composite::uniform({"zplus", {}}).assign(net, reg);
  using V = std::vector<std::string>;
  CHECK(rules_of(a) ==
        V{"zplus", "pass", "pass", "wta", "pass", "norm", "pass", "pass", "pass", "norm", "pass", "zplus"});
  CHECK(matches_of(a) == V{"fallback", "layer default", "layer default", "layer default", "layer default",
                           "layer default", "layer default", "layer default", "layer default", "layer default",
                           "layer default", "fallback"});
  // and it explains.
  const lrp::Explainer ex = lrp::Explainer::from_composite(net, reg, Composite::uniform({"zplus", {}}));
  CHECK(ex.explain(net.forward(lrp::random_inputs(net.input_shape(), 2, 10)), {0, 1}).relevance.data.allFinite());
}
