// User errors are lrp::Error with a message that says what was wrong, where, and what was
// expected (with a "did you mean" for misspelt names) — never a crash, never a silent fallback.
#include "test_util.hpp"

#include "lrp/nn/layers.hpp"

#include <catch2/catch.hpp>

#include <limits>

using namespace lrp_test;
using Catch::Contains;
using lrp::Composite;
using lrp::Conv2dOptions;
using lrp::ParamMap;
using lrp::Pool2dOptions;

namespace {

lrp::RuleInfo dummy_rule(const std::string& name, const std::string& origin = "test") {
  lrp::RuleInfo info;
  info.name = name;
  info.doc = "a rule for tests";
  info.factory = [](const ParamMap&) -> lrp::RulePtr { return nullptr; };
  info.origin = origin;
  return info;
}

lrp::LayerInfo dummy_layer(const std::string& kind, const std::string& origin = "test") {
  lrp::LayerInfo info;
  info.kind = kind;
  info.factory = [](const ParamMap&) -> lrp::LayerPtr { return lrp::make_identity(); };
  info.origin = origin;
  return info;
}

lrp::PresetInfo dummy_preset(const std::string& name, const std::string& origin = "test") {
  lrp::PresetInfo info;
  info.name = name;
  info.factory = [](const ParamMap&) { return Composite(); };
  info.origin = origin;
  return info;
}

Matrix with_value_at(Matrix m, Index row, Index col, Scalar v) {
  m(row, col) = v;
  return m;
}

constexpr Scalar kNaN = std::numeric_limits<Scalar>::quiet_NaN();
constexpr Scalar kInf = std::numeric_limits<Scalar>::infinity();

}  // namespace

// ---------------------------------------------------------------- unknown names

TEST_CASE("an unknown rule, preset or layer kind lists the known names and suggests the closest") {
  const lrp::Registry& reg = builtins();
  REQUIRE_THROWS_WITH(reg.make_rule("epsilom"), Contains("unknown rule 'epsilom'") &&
                                                    Contains("did you mean 'epsilon'?") && Contains("known rules: ") &&
                                                    Contains("alpha_beta") && Contains("zplus") && Contains("wta"));
  REQUIRE_THROWS_WITH(reg.make_rule("alphabeta"), Contains("did you mean 'alpha_beta'?"));
  REQUIRE_THROWS_WITH(reg.rule_info("Gamma"), Contains("did you mean 'gamma'?"));
  REQUIRE_THROWS_WITH(reg.make_preset("epsilon_plus_flatt"), Contains("unknown preset 'epsilon_plus_flatt'") &&
                                                                 Contains("did you mean 'epsilon_plus_flat'?") &&
                                                                 Contains("epsilon_gamma_box") &&
                                                                 Contains("epsilon_alpha2_beta1_flat"));
  REQUIRE_THROWS_WITH(reg.make_preset("epsilon_gama_box"), Contains("did you mean 'epsilon_gamma_box'?"));
  REQUIRE_THROWS_WITH(reg.make_layer("conv2"), Contains("unknown layer kind 'conv2'") &&
                                                   Contains("did you mean 'conv2d'?") && Contains("maxpool2d"));
  REQUIRE_THROWS_WITH(reg.layer_info("maxpool"), Contains("did you mean 'maxpool2d'?"));
  // Nothing close: the list, but no suggestion.
  REQUIRE_THROWS_WITH(reg.make_rule("xyzzyplugh"),
                      Contains("unknown rule 'xyzzyplugh'") && Contains("known rules: ") && !Contains("did you mean"));
  CHECK(lrp::closest_name("epsilom", {"gamma", "epsilon", "zero"}) == "epsilon");
  CHECK(lrp::closest_name("qqqqqqqq", {"gamma", "epsilon", "zero"}).empty());
}

TEST_CASE("an unknown parameter names the owner, lists the known parameters and suggests the closest") {
  const lrp::Registry& reg = builtins();
  REQUIRE_THROWS_WITH(reg.make_rule("gamma", {{"gama", {0.1}}}),
                      Contains("rule 'gamma'") && Contains("unknown parameter 'gama'") &&
                          Contains("did you mean 'gamma'?") && Contains("known parameters: gamma, stabilizer"));
  REQUIRE_THROWS_WITH(reg.make_rule("zero", {{"epsilon", {0.1}}}), Contains("rule 'zero'") &&
                                                                       Contains("unknown parameter 'epsilon'") &&
                                                                       Contains("known parameters: none"));
  REQUIRE_THROWS_WITH(reg.make_preset("epsilon_plus", {{"epsilom", {0.1}}}),
                      Contains("preset 'epsilon_plus'") && Contains("did you mean 'epsilon'?"));
  REQUIRE_THROWS_WITH(reg.make_layer("dense", {{"in", {3}}, {"out", {2}}, {"bais", {0}}}),
                      Contains("layer kind 'dense'") && Contains("did you mean 'bias'?"));
}

// ---------------------------------------------------------------- invalid parameter values

TEST_CASE("invalid rule parameters are errors naming the rule and the parameter") {
  const lrp::Registry& reg = builtins();
  SECTION("alpha_beta needs alpha, beta >= 0 and alpha - beta = 1") {
    REQUIRE_THROWS_WITH(reg.make_rule("alpha_beta", {{"alpha", {3.0}}, {"beta", {1.0}}}),
                        Contains("rule 'alpha_beta'") && Contains("alpha - beta must equal 1"));
    REQUIRE_THROWS_WITH(reg.make_rule("alpha_beta", {{"alpha", {-1.0}}, {"beta", {-2.0}}}),
                        Contains("rule 'alpha_beta'") && Contains("'alpha' must be ≥ 0"));
    REQUIRE_THROWS_WITH(reg.make_rule("alpha_beta", {{"alpha", {0.5}}, {"beta", {-0.5}}}),
                        Contains("rule 'alpha_beta'") && Contains("'beta' must be ≥ 0"));
    REQUIRE_THROWS_AS(reg.make_rule("alpha_beta", {{"alpha", {1.0}}}), lrp::Error);  // beta defaults to 1
    REQUIRE_NOTHROW(reg.make_rule("alpha_beta", {{"alpha", {1.0}}, {"beta", {0.0}}}));
    REQUIRE_NOTHROW(reg.make_rule("alpha_beta", {{"alpha", {1.5}}, {"beta", {0.5}}}));
  }
  SECTION("zbox needs low < high, per channel too") {
    REQUIRE_THROWS_WITH(reg.make_rule("zbox", {{"low", {1.0}}, {"high", {0.0}}}),
                        Contains("rule 'zbox'") && Contains("'low' must be below 'high'"));
    REQUIRE_THROWS_WITH(reg.make_rule("zbox", {{"low", {0.5}}, {"high", {0.5}}}),
                        Contains("'low' must be below 'high'"));
    REQUIRE_THROWS_WITH(reg.make_rule("zbox", {{"low", {0.0, 0.0}}, {"high", {1.0, -1.0}}}),
                        Contains("channel 1") && Contains("'low' must be below 'high'"));
    REQUIRE_THROWS_WITH(reg.make_rule("zbox", {{"low", {0.0, 0.0}}, {"high", {1.0, 1.0, 1.0}}}),
                        Contains("same number of values"));
    REQUIRE_THROWS_WITH(reg.make_rule("zbox"), Contains("rule 'zbox'") && Contains("parameter 'low' is required"));
    REQUIRE_NOTHROW(reg.make_rule("zbox", {{"low", {-1.0, 0.0}}, {"high", {1.0}}}));
  }
  SECTION("negative epsilon, gamma or stabilizer") {
    REQUIRE_THROWS_WITH(reg.make_rule("epsilon", {{"epsilon", {-0.1}}}),
                        Contains("rule 'epsilon'") && Contains("'epsilon' must be ≥ 0"));
    REQUIRE_THROWS_WITH(reg.make_rule("gamma", {{"gamma", {-0.25}}}),
                        Contains("rule 'gamma'") && Contains("'gamma' must be ≥ 0"));
    for (const std::string rule : {"zplus", "gamma", "alpha_beta", "flat", "wsquare", "norm"}) {
      INFO(rule);
      REQUIRE_THROWS_WITH(reg.make_rule(rule, {{"stabilizer", {-1e-6}}}),
                          Contains("rule '" + rule + "'") && Contains("'stabilizer' must be ≥ 0"));
    }
    REQUIRE_THROWS_WITH(reg.make_rule("zbox", {{"low", {0.0}}, {"high", {1.0}}, {"stabilizer", {-1.0}}}),
                        Contains("'stabilizer' must be ≥ 0"));
    REQUIRE_NOTHROW(reg.make_rule("epsilon", {{"epsilon", {0.0}}}));
  }
  SECTION("a list where a single number is expected, or a value that is not finite") {
    REQUIRE_THROWS_WITH(
        reg.make_rule("epsilon", {{"epsilon", {0.1, 0.2}}}),
        Contains("rule 'epsilon'") && Contains("'epsilon' must be a single number") && Contains("[0.1, 0.2]"));
    REQUIRE_THROWS_WITH(reg.make_rule("gamma", {{"gamma", {}}}), Contains("rule 'gamma'") && Contains("'gamma'"));
    REQUIRE_THROWS_WITH(reg.make_rule("epsilon", {{"epsilon", {std::numeric_limits<double>::quiet_NaN()}}}),
                        Contains("'epsilon' must be finite"));
    REQUIRE_THROWS_WITH(reg.make_rule("zbox", {{"low", {0.0}}, {"high", {std::numeric_limits<double>::infinity()}}}),
                        Contains("'high' must be finite"));
    REQUIRE_THROWS_WITH(reg.make_preset("epsilon_gamma_box", {{"low", {0.0}}, {"high", {1.0}}, {"gamma", {0.1, 0.2}}}),
                        Contains("preset 'epsilon_gamma_box'") && Contains("'gamma' must be a single number"));
  }
  SECTION("preset parameters are checked by the rules they configure") {
    const lrp::Network cnn = lrp::example_cnn(1);
    REQUIRE_THROWS_WITH(explainer_for(cnn, "epsilon_gamma_box"),
                        Contains("preset 'epsilon_gamma_box'") && Contains("'low' is required"));
    REQUIRE_THROWS_WITH(explainer_for(cnn, "epsilon_gamma_box", {{"low", {1.0}}, {"high", {0.0}}}),
                        Contains("'low' must be below 'high'"));
    REQUIRE_THROWS_WITH(explainer_for(cnn, "epsilon_gamma_box", {{"low", {0.0}}, {"high", {1.0}}, {"gamma", {-1.0}}}),
                        Contains("'gamma' must be ≥ 0"));
    REQUIRE_THROWS_WITH(explainer_for(cnn, "epsilon_plus", {{"epsilon", {-1.0}}}), Contains("'epsilon' must be ≥ 0"));
  }
  SECTION("layer parameters") {
    REQUIRE_THROWS_WITH(reg.make_layer("dense", {{"in", {2.5}}, {"out", {2}}}),
                        Contains("layer kind 'dense'") && Contains("'in' must be a whole number"));
    REQUIRE_THROWS_WITH(reg.make_layer("dense", {{"out", {2}}}), Contains("'in' is required"));
    REQUIRE_THROWS_WITH(reg.make_layer("dense", {{"in", {2}}, {"out", {2}}, {"bias", {2}}}),
                        Contains("'bias' must be 0 or 1"));
    REQUIRE_THROWS_WITH(reg.make_layer("conv2d", {{"in_channels", {1}}, {"out_channels", {2}}, {"kernel", {3, 3, 3}}}),
                        Contains("'kernel' takes 1 or 2 values"));
    REQUIRE_THROWS_WITH(reg.make_layer("conv2d", {{"in_channels", {1}}, {"out_channels", {2}}, {"kernel", {0}}}),
                        Contains("'kernel' must hold whole numbers ≥ 1"));
    REQUIRE_THROWS_WITH(reg.make_layer("dropout", {{"p", {1.0}}}), Contains("dropout") && Contains("[0, 1)"));
    REQUIRE_THROWS_WITH(reg.make_layer("batchnorm", {{"channels", {2}}, {"eps", {0.0}}}),
                        Contains("eps must be positive"));
    REQUIRE_NOTHROW(reg.make_layer("conv2d", {{"in_channels", {1}}, {"out_channels", {2}}, {"kernel", {3, 2}}}));
  }
}

// ---------------------------------------------------------------- the registry itself

TEST_CASE("registering a name twice is an error naming both origins") {
  lrp::Registry reg;
  lrp::register_builtins(reg);
  REQUIRE_THROWS_WITH(reg.add_rule(dummy_rule("epsilon", "plugin 'mine'")),
                      Contains("rule 'epsilon' from plugin 'mine' is already registered (from built-in)"));
  REQUIRE_THROWS_WITH(reg.add_layer(dummy_layer("relu", "plugin 'mine'")),
                      Contains("layer kind 'relu'") && Contains("already registered"));
  REQUIRE_THROWS_WITH(reg.add_preset(dummy_preset("epsilon_plus", "plugin 'mine'")),
                      Contains("preset 'epsilon_plus'") && Contains("already registered"));
  REQUIRE_THROWS_AS(lrp::register_builtin_rules(reg), lrp::Error);
  reg.add_rule(dummy_rule("mine"));
  REQUIRE_THROWS_WITH(reg.add_rule(dummy_rule("mine", "another")),
                      Contains("from another is already registered (from test)"));
  // A rule without a name or a factory is refused.
  REQUIRE_THROWS_WITH(reg.add_rule(dummy_rule("")), Contains("needs a name"));
  lrp::RuleInfo no_factory = dummy_rule("nofactory");
  no_factory.factory = nullptr;
  REQUIRE_THROWS_WITH(reg.add_rule(no_factory), Contains("'nofactory' has no factory"));
  // A factory that returns nothing is caught when the rule is made.
  REQUIRE_THROWS_WITH(reg.make_rule("mine"), Contains("rule 'mine'") && Contains("returned nothing"));
}

TEST_CASE("a frozen registry refuses additions") {
  lrp::Registry reg;
  lrp::register_builtins(reg);
  reg.freeze();
  REQUIRE_THROWS_WITH(reg.add_rule(dummy_rule("late")), Contains("cannot add rule 'late'") && Contains("read-only"));
  REQUIRE_THROWS_WITH(reg.add_layer(dummy_layer("late")), Contains("cannot add layer kind 'late'"));
  REQUIRE_THROWS_WITH(reg.add_preset(dummy_preset("late")), Contains("cannot add preset 'late'"));
  // Reading still works.
  REQUIRE_NOTHROW(reg.make_rule("epsilon"));
}

// ---------------------------------------------------------------- rules on layers they do not fit

TEST_CASE("a rule that cannot apply to a layer is an error naming the layer") {
  const lrp::Registry& reg = builtins();
  const lrp::Network mlp = lrp::example_mlp(1);
  const lrp::Network cnn = lrp::example_cnn(1);
  auto build = [&](const lrp::Network& net, const Composite& c) { return lrp::Explainer::from_composite(net, reg, c); };
  const Composite base = Composite::uniform({"epsilon", {}});
  REQUIRE_THROWS_WITH(build(mlp, Composite(base).by_kind("relu", {"epsilon", {}})),
                      Contains("rule 'epsilon'") && Contains("'relu1' (relu)") && Contains("linear"));
  REQUIRE_THROWS_WITH(build(mlp, Composite(base).by_name("fc1", {"pass", {}})),
                      Contains("rule 'pass'") && Contains("'fc1' (dense)"));
  REQUIRE_THROWS_WITH(build(mlp, Composite(base).by_name("fc2", {"wta", {}})),
                      Contains("rule 'wta'") && Contains("'fc2' (dense)"));
  REQUIRE_THROWS_WITH(build(mlp, Composite(base).by_kind("relu", {"wta", {}})),
                      Contains("rule 'wta'") && Contains("'relu1'"));
  REQUIRE_THROWS_WITH(build(cnn, Composite(base).by_name("pool1", {"zplus", {}})),
                      Contains("rule 'zplus'") && Contains("'pool1' (maxpool2d)"));
  REQUIRE_THROWS_WITH(build(cnn, Composite(base).by_name("pool1", {"pass", {}})), Contains("'pool1'"));
  REQUIRE_THROWS_WITH(build(cnn, Composite(base).by_name("flatten", {"norm", {}})), Contains("'flatten' (flatten)"));
  // zbox bounds: one value, or one per input channel of the layer.
  REQUIRE_THROWS_WITH(
      build(cnn, Composite(base).by_name("conv1", {"zbox", {{"low", {0.0, 0.0}}, {"high", {1.0, 1.0}}}})),
      Contains("'conv1'") && Contains("2 bound values given, expected 1 or one per input channel (1)"));
  REQUIRE_NOTHROW(build(cnn, Composite(base).by_name("conv1", {"zbox", {{"low", {0.0}}, {"high", {1.0}}}})));
  // The gradient applies anywhere; average pooling is linear-like (any linear rule fits).
  REQUIRE_NOTHROW(build(cnn, Composite(base).by_name("pool1", {"gradient", {}}).by_name("pool2", {"alpha_beta", {}})));
}

TEST_CASE("an explainer needs one rule per layer") {
  const lrp::Network mlp = lrp::example_mlp(1);
  std::vector<lrp::RulePtr> too_few;
  too_few.push_back(builtins().make_rule("epsilon"));
  REQUIRE_THROWS_WITH(lrp::Explainer(mlp, std::move(too_few)), Contains("1 rules given for a network of 5 layers"));
  std::vector<lrp::RulePtr> with_null;
  for (int i = 0; i < 5; ++i) with_null.push_back(i == 2 ? nullptr : builtins().make_rule("gradient"));
  REQUIRE_THROWS_WITH(lrp::Explainer(mlp, std::move(with_null)), Contains("layer 'fc2' has no rule"));
}

// ---------------------------------------------------------------- non-finite data

TEST_CASE("NaN or Inf in the input, the weights or the batch-norm statistics is an error") {
  const lrp::Network cnn = lrp::example_cnn(1);
  const lrp::Tensor x = lrp::random_inputs(cnn.input_shape(), 2, 1);
  SECTION("input") {
    REQUIRE_THROWS_WITH(cnn.forward(lrp::Tensor(x.shape, with_value_at(x.data, 1, 300, kNaN))),
                        Contains("input contains NaN or Inf"));
    REQUIRE_THROWS_WITH(cnn.forward(lrp::Tensor(x.shape, with_value_at(x.data, 0, 0, -kInf)), 2),
                        Contains("NaN or Inf"));
  }
  SECTION("weights and biases") {
    lrp::Network net = lrp::example_mlp(1);
    lrp::Params p = net.layer(2).params();
    p.weight(3, 4) = kNaN;
    REQUIRE_THROWS_WITH(net.layer(2).set_params(p),
                        Contains("'fc2' (dense)") && Contains("weight contains NaN or Inf"));
    p = net.layer(0).params();
    p.bias[5] = kInf;
    REQUIRE_THROWS_WITH(net.layer(0).set_params(p), Contains("'fc1' (dense)") && Contains("bias contains NaN or Inf"));
    lrp::Network conv_net({1, 4, 4});
    lrp::Layer& conv = conv_net.add(std::make_unique<lrp::Conv2d>(1, 2, Conv2dOptions{.kernel = {2, 2}}), "conv");
    p = conv.params();
    p.weight(1, 1) = -kInf;
    REQUIRE_THROWS_WITH(conv.set_params(p), Contains("'conv' (conv2d)") && Contains("NaN or Inf"));
  }
  SECTION("batch-norm parameters and statistics") {
    lrp::Network net({3});
    auto& bn = net.add_as(std::make_unique<lrp::BatchNorm>(3), "bn");
    lrp::Params p = bn.params();
    p.weight(0, 1) = kNaN;
    REQUIRE_THROWS_WITH(bn.set_params(p), Contains("'bn' (batchnorm)") && Contains("NaN or Inf"));
    REQUIRE_THROWS_WITH(bn.set_statistics(Vector::Constant(3, kNaN), Vector::Ones(3)),
                        Contains("'bn' (batchnorm)") && Contains("running statistics contain NaN or Inf"));
    REQUIRE_THROWS_WITH(bn.set_statistics(Vector::Zero(3), Vector::Constant(3, kInf)), Contains("NaN or Inf"));
    REQUIRE_THROWS_WITH(bn.set_statistics(Vector::Zero(3), Vector::Constant(3, Scalar(-1))),
                        Contains("variance must be ≥ 0"));
    REQUIRE_THROWS_WITH(bn.set_statistics(Vector::Zero(2), Vector::Ones(2)), Contains("expected 3"));
  }
  SECTION("relevance that overflows is reported, not returned") {
    // A weight near the largest finite value makes the logit overflow to Inf.
    lrp::Network net({2});
    lrp::Layer& fc = net.add(std::make_unique<lrp::Dense>(2, 2, false), "fc");
    lrp::Params p;
    p.weight = Matrix::Constant(2, 2, std::numeric_limits<Scalar>::max() / 2);
    fc.set_params(p);
    const lrp::ForwardPass pass = net.forward(lrp::Tensor({2}, Matrix::Constant(3, 2, Scalar(10))));
    const lrp::Explainer ex = lrp::Explainer::from_composite(net, builtins(), Composite::uniform({"epsilon", {}}));
    REQUIRE_THROWS_WITH(ex.explain(pass, {0, 1, 0}), Contains("NaN or Inf") && Contains("'fc'"));
    REQUIRE_THROWS_WITH(ex.explain(pass, {0, 1, 0}, {.threads = 2}), Contains("NaN or Inf") && Contains("'fc'"));
  }
}

// ---------------------------------------------------------------- shapes

TEST_CASE("inputs and layers of the wrong shape are errors that say what was expected") {
  const lrp::Network cnn = lrp::example_cnn(1);
  SECTION("network input") {
    REQUIRE_THROWS_WITH(cnn.forward(lrp::Tensor(2, {1, 28, 27})),
                        Contains("input samples have shape [1, 28, 27], expected [1, 28, 28]"));
    REQUIRE_THROWS_WITH(cnn.forward(lrp::Tensor(2, {784})), Contains("expected [1, 28, 28]"));
    REQUIRE_THROWS_WITH(lrp::Tensor(Shape{2, 3}, Matrix::Zero(1, 5)), Contains("needs 6"));
    lrp::Tensor mismatched(2, {1, 28, 28});
    mismatched.data = Matrix::Zero(2, 780);
    REQUIRE_THROWS_WITH(cnn.forward(mismatched), Contains("780 features per sample, expected 784"));
  }
  SECTION("a dense layer after a conv without flatten") {
    lrp::Network net({1, 4, 4});
    net.add(std::make_unique<lrp::Conv2d>(1, 2, Conv2dOptions{.kernel = {3, 3}}), "conv");
    REQUIRE_THROWS_WITH(net.add(std::make_unique<lrp::Dense>(8, 2), "fc"),
                        Contains("'fc' (dense)") && Contains("[2, 2, 2]") && Contains("add a flatten layer before it"));
    CHECK(net.size() == 1);
    net.add(std::make_unique<lrp::Flatten>(), "flatten");
    REQUIRE_THROWS_WITH(net.add(std::make_unique<lrp::Dense>(9, 2), "fc"),
                        Contains("expected an input of shape [9], got [8]"));
    REQUIRE_NOTHROW(net.add(std::make_unique<lrp::Dense>(8, 2), "fc"));
  }
  SECTION("convolution, pooling and batch norm on inputs that do not fit") {
    lrp::Network net({3, 5, 5});
    REQUIRE_THROWS_WITH(net.add(std::make_unique<lrp::Conv2d>(2, 4, Conv2dOptions{}), "conv"),
                        Contains("'conv' (conv2d)") && Contains("expected 2 input channels, got 3"));
    REQUIRE_THROWS_WITH(
        net.add(std::make_unique<lrp::Conv2d>(3, 4, Conv2dOptions{.kernel = {3, 3}, .dilation = {3, 3}}), "conv"),
        Contains("smaller than the (dilated) kernel"));
    CHECK_THROWS_WITH(
        net.add(std::make_unique<lrp::AvgPool2d>(Pool2dOptions{.kernel = {6, 2}, .stride = {1, 1}}), "avg"),
        Contains("'avg' (avgpool2d)") && Contains("smaller than the pooling window"));
    REQUIRE_THROWS_WITH(net.add(std::make_unique<lrp::BatchNorm>(4), "bn"),
                        Contains("'bn' (batchnorm)") && Contains("[4]"));
    lrp::Network flat({12});
    REQUIRE_THROWS_WITH(flat.add(std::make_unique<lrp::Conv2d>(1, 1, Conv2dOptions{}), "conv"),
                        Contains("expected an input of shape [C, H, W], got [12]"));
    REQUIRE_THROWS_WITH(flat.add(lrp::AvgPool2d::global(), "gap"), Contains("[C, H, W]"));
  }
  SECTION("invalid layer hyperparameters") {
    REQUIRE_THROWS_WITH(lrp::Conv2d(4, 6, Conv2dOptions{.groups = 4}), Contains("groups (4) must divide"));
    REQUIRE_THROWS_WITH(lrp::Conv2d(2, 2, Conv2dOptions{.stride = {0, 1}}), Contains("stride must be positive"));
    REQUIRE_THROWS_WITH(lrp::Conv2d(2, 2, Conv2dOptions{.padding = {-1, 0}}), Contains("padding"));
    REQUIRE_THROWS_WITH(lrp::Conv2d(2, 2, Conv2dOptions{.dilation = {1, 0}}), Contains("dilation must be positive"));
    REQUIRE_THROWS_WITH(lrp::MaxPool2d(Pool2dOptions{.kernel = {2, 2}, .padding = {2, 0}}),
                        Contains("padding must be between 0 and half the kernel size"));
    REQUIRE_THROWS_WITH(lrp::AvgPool2d(Pool2dOptions{.kernel = {0, 2}}), Contains("kernel size must be positive"));
    REQUIRE_THROWS_WITH(lrp::Dense(0, 3), Contains("must be positive"));
    REQUIRE_THROWS_WITH(lrp::make_dropout(-0.1), Contains("[0, 1)"));
    REQUIRE_THROWS_WITH(lrp::Network(Shape{}), Contains("empty"));
    REQUIRE_THROWS_WITH(lrp::Network(Shape{3, 0, 2}), Contains("[3, 0, 2]"));
  }
  SECTION("a forward pass from another network") {
    const lrp::Network mlp = lrp::example_mlp(1);
    const lrp::ForwardPass pass = mlp.forward(lrp::random_inputs(mlp.input_shape(), 1, 1));
    const lrp::Explainer ex = explainer_for(cnn, "epsilon_plus");
    REQUIRE_THROWS_WITH(ex.explain(pass, {0}), Contains("does not belong to this network"));
  }
}

TEST_CASE("a pooling window or kernel larger than the unpadded input is an error, whatever the stride") {
  // No window position fits (PyTorch: "output size is too small"); output sizes are
  // floor((in + 2p - d(k-1) - 1) / s) + 1 and must be positive.
  auto add_to_5x5 = [](lrp::LayerPtr layer) {
    lrp::Network net({3, 5, 5});
    net.add(std::move(layer), "layer");
    return net.layer(0).output_shape();
  };
  CHECK_THROWS_WITH(add_to_5x5(std::make_unique<lrp::MaxPool2d>(Pool2dOptions{.kernel = {6, 6}})),
                    Contains("'layer' (maxpool2d)") && Contains("smaller than the pooling window"));
  CHECK_THROWS_WITH(add_to_5x5(std::make_unique<lrp::AvgPool2d>(Pool2dOptions{.kernel = {6, 6}})),
                    Contains("'layer' (avgpool2d)") && Contains("smaller than the pooling window"));
  CHECK_THROWS_WITH(
      add_to_5x5(std::make_unique<lrp::Conv2d>(3, 4, Conv2dOptions{.kernel = {6, 6}, .stride = {2, 2}})),
      Contains("'layer' (conv2d)") && Contains("smaller than the (dilated) kernel"));
  CHECK_THROWS_WITH(add_to_5x5(std::make_unique<lrp::Conv2d>(
                        3, 4, Conv2dOptions{.kernel = {3, 3}, .stride = {3, 3}, .dilation = {3, 3}})),
                    Contains("smaller than the (dilated) kernel"));
  // With padding the same windows fit once: floor((5 + 2 - 6) / 6) + 1 = 1.
  CHECK(add_to_5x5(std::make_unique<lrp::MaxPool2d>(Pool2dOptions{.kernel = {6, 6}, .padding = {1, 1}})) ==
        Shape{3, 1, 1});
  CHECK(add_to_5x5(std::make_unique<lrp::AvgPool2d>(Pool2dOptions{.kernel = {6, 6}, .padding = {1, 1}})) ==
        Shape{3, 1, 1});
}

TEST_CASE("adding a null layer or replacing a layer with one of another shape is an error") {
  lrp::Network net({4});
  REQUIRE_THROWS_WITH(net.add(nullptr), Contains("null layer"));
  net.add(std::make_unique<lrp::Dense>(4, 3), "fc");
  net.add(lrp::make_relu(), "relu");
  REQUIRE_THROWS_WITH(net.replace(0, std::make_unique<lrp::Dense>(4, 2)),
                      Contains("'fc'") && Contains("changes its output shape from [3] to [2]"));
  REQUIRE_THROWS_WITH(net.replace(0, std::make_unique<lrp::Dense>(5, 3)),
                      Contains("expected an input of shape [5], got [4]"));
  REQUIRE_THROWS_WITH(net.replace(2, lrp::make_relu()), Contains("no layer with index 2"));
  REQUIRE_NOTHROW(net.replace(1, lrp::make_tanh()));
  CHECK(net.layer(1).name() == "relu");  // the name stays
  CHECK(net.layer(1).kind() == "tanh");
}

TEST_CASE("an empty batch runs forward and explains without failing") {
  const lrp::Network cnn = lrp::example_cnn(1);
  const lrp::ForwardPass pass = cnn.forward(lrp::Tensor(0, cnn.input_shape()), 2);
  CHECK(pass.logits().rows() == 0);
  const auto targets = lrp::select_targets(pass.logits(), lrp::TargetSpec::predicted());
  CHECK(targets.empty());
  const lrp::Explanation e =
      explainer_for(cnn, "epsilon_plus").explain(pass, targets, {.keep_layer_relevance = true, .threads = 2});
  CHECK(e.relevance.data.rows() == 0);
  CHECK(e.relevance.data.cols() == 784);
}
