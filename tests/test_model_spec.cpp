// Model descriptions (YAML), building networks from them, parameter initialization, input
// normalization and training configs: known answers, round trips and positioned errors.
#include "test_util.hpp"

#include "lrp/io/model_yaml.hpp"
#include "lrp/experiment/config.hpp"
#include "lrp/nn/model.hpp"
#include "lrp/io/yaml_util.hpp"
#include "lrp/nn/layers.hpp"
#include "lrp/registry/registry.hpp"

#include <catch2/catch.hpp>

#include <cmath>
#include <filesystem>
#include <fstream>

using namespace lrp_test;
using Catch::Matchers::Contains;

namespace {

const char* kCnn = R"(name: small
input_shape: [3, 8, 8]
normalization: {mean: [0.5, 0.4, 0.3], std: [0.25, 0.2, 0.1], range: [0, 1]}
classes: [a, b, c]
layers:
  - {kind: conv2d, name: conv1, out_channels: 4, kernel: 3, padding: 1}
  - {kind: batchnorm}
  - {kind: relu}
  - {kind: avgpool2d, kernel: 2}
  - {kind: conv2d, out_channels: 6, kernel: [3, 1], stride: 2, bias: false}
  - {kind: flatten}
  - {kind: dense, out: 3}
)";

lrp::ModelSpec parse(const std::string& text) {
  return lrp::parse_model_spec(lrp::yaml::load_text(text, "model.yaml"), "model.yaml", &builtins());
}

std::string temp_file(const std::string& name, const std::string& text) {
  const auto dir = std::filesystem::temp_directory_path() / "lrplab_model_spec_test";
  std::filesystem::create_directories(dir);
  const auto path = dir / name;
  std::ofstream(path) << text;
  return path.string();
}

}  // namespace

TEST_CASE("A YAML description builds the network it describes, inferring input sizes from the shape chain", "[model]") {
  const lrp::Model m = lrp::build_model(parse(kCnn), builtins());
  REQUIRE(m.network.size() == 7);
  CHECK(m.network.layer(0).name() == "conv1");
  CHECK(m.network.layer(1).name() == "batchnorm1");
  CHECK(m.network.layer(4).name() == "conv2d4");
  // conv2d4 reads the 4 channels of conv1; its 3x1 kernel with stride 2 maps 4x4 to 1x2.
  CHECK(m.network.layer(4).output_shape() == Shape{6, 1, 2});
  CHECK(m.spec.layers[4].params.scalar("in_channels", "") == 4);
  CHECK(m.spec.layers[4].params.scalar("bias", "") == 0);
  CHECK(m.spec.layers[1].params.scalar("channels", "") == 4);
  CHECK(m.spec.layers[6].params.scalar("in", "") == 12);
  CHECK(m.network.output_shape() == Shape{3});
  CHECK(m.spec.class_names == std::vector<std::string>{"a", "b", "c"});
  CHECK(m.spec.normalization.std == std::vector<double>{0.25, 0.2, 0.1});
}

TEST_CASE("Inferred hyperparameters come from each kind's registry entry, and a given one must agree", "[model]") {
  // A kind the framework does not know by name: a plugin-style entry whose from_input fills its
  // width from the input shape, as dense's does.
  lrp::Registry reg;
  lrp::register_builtins(reg);
  reg.add_layer({"wide_dense", "a dense layer whose width is inferred", {{"width", {}, "input features"},
                 {"out", {}, "outputs"}}, {"epsilon", {}},
                 [](const lrp::ParamMap& p) -> lrp::LayerPtr {
                   return std::make_unique<lrp::Dense>(static_cast<Index>(p.scalar("width", "")),
                                                       static_cast<Index>(p.scalar("out", "")), true);
                 },
                 "test", {},
                 [](lrp::ParamMap& p, const Shape& in, const std::string& owner) {
                   lrp::set_from_input(p, "width", in[0], owner);
                 }});
  auto spec_of = [&](const std::string& text) {
    return lrp::parse_model_spec(lrp::yaml::load_text(text, "m.yaml"), "m.yaml", &reg);
  };
  const lrp::Model m = lrp::build_model(spec_of("input_shape: [6]\nlayers: [{kind: wide_dense, out: 4}, {kind: dense, out: 2}]"), reg);
  CHECK(m.spec.layers[0].params.scalar("width", "") == 6);
  CHECK(m.spec.layers[1].params.scalar("in", "") == 4);
  CHECK(m.network.layer(0).input_shape() == Shape{6});
  REQUIRE_THROWS_WITH(
      lrp::build_model(spec_of("input_shape: [6]\nlayers: [{kind: wide_dense, width: 5, out: 4}]"), reg),
      Contains("layer 0 'wide_dense0' (wide_dense): 'width' is 5 but the input to this layer has 6 (from the shape chain)"));
  // The built-in kinds' checks of the input shape, with the layer named once.
  const std::string conv_then_dense = "input_shape: [1, 4, 4]\nlayers: [{kind: conv2d, out_channels: 2, kernel: 3}, {kind: dense, out: 2}]";
  REQUIRE_THROWS_WITH(lrp::build_model(spec_of(conv_then_dense), reg),
                      Contains("layer 1 'dense1' (dense): dense needs a flat input, got shape [2, 2, 2] (add a flatten"));
  REQUIRE_THROWS_WITH(lrp::build_model(spec_of("input_shape: [8]\nlayers: [{kind: conv2d, out_channels: 2, kernel: 1}]"), reg),
                      Contains("conv2d needs a [C, H, W] input, got shape [8]"));
  REQUIRE_THROWS_WITH(lrp::build_model(spec_of("input_shape: [3, 4]\nlayers: [{kind: batchnorm, channels: 4}]"), reg),
                      Contains("'channels' is 4 but the input to this layer has 3"));
}

TEST_CASE("A resolved spec written as YAML reads back to the same spec and network", "[model]") {
  const lrp::Model m = lrp::build_model(parse(kCnn), builtins());
  const std::string text = lrp::model_spec_to_yaml(m.spec);
  const lrp::ModelSpec again = parse(text);
  REQUIRE(again.layers.size() == m.spec.layers.size());
  for (std::size_t i = 0; i < again.layers.size(); ++i) {
    CHECK(again.layers[i].kind == m.spec.layers[i].kind);
    CHECK(again.layers[i].name == m.spec.layers[i].name);
    CHECK(again.layers[i].params.values() == m.spec.layers[i].params.values());
  }
  CHECK(again.input_shape == m.spec.input_shape);
  CHECK(again.normalization.mean == m.spec.normalization.mean);
  CHECK(again.normalization.std == m.spec.normalization.std);
  CHECK(again.class_names == m.spec.class_names);
  CHECK(lrp::build_model(again, builtins()).network.summary() == m.network.summary());
  // Awkward doubles survive the text form exactly.
  lrp::ModelSpec odd = m.spec;
  odd.normalization.mean = {0.1 + 0.2, 1.0 / 3.0, 1e-300};
  CHECK(parse(lrp::model_spec_to_yaml(odd)).normalization.mean == odd.normalization.mean);
}

TEST_CASE("Initializations have the variance their scheme prescribes and are seeded", "[model]") {
  const char* text = R"(input_shape: [400]
layers: [{kind: dense, out: 300}, {kind: relu}, {kind: dense, out: 100}])";
  for (const char* scheme : {"he_normal", "he_uniform", "glorot_normal", "glorot_uniform"}) {
    lrp::Model m = lrp::build_model(parse(text), builtins());
    lrp::initialize_parameters(m.network, lrp::parse_init_scheme(scheme), 5);
    const std::string s = scheme;
    for (Index l : {Index(0), Index(2)}) {
      const Matrix& w = m.network.layer(l).params().weight;
      const double fan_in = static_cast<double>(w.cols()), fan_out = static_cast<double>(w.rows());
      const double expected = s.rfind("he", 0) == 0 ? 2.0 / fan_in : 2.0 / (fan_in + fan_out);
      const double mean = w.cast<double>().mean();
      const double var = (w.cast<double>().array() - mean).square().mean();
      INFO(scheme << " layer " << l);
      // 30,000–120,000 draws: the sample variance is within ±3% of its expectation here.
      CHECK(var == Approx(expected).epsilon(0.03));
      CHECK(std::abs(mean) < 4 * std::sqrt(expected / static_cast<double>(w.size())));
      if (s.find("uniform") != std::string::npos)
        CHECK(w.cwiseAbs().maxCoeff() <= static_cast<Scalar>(std::sqrt(3 * expected)));
      CHECK(m.network.layer(l).params().bias.isZero());
    }
    lrp::Model again = lrp::build_model(parse(text), builtins());
    lrp::initialize_parameters(again.network, lrp::parse_init_scheme(scheme), 5);
    CHECK(again.network.layer(0).params().weight == m.network.layer(0).params().weight);
  }
  REQUIRE_THROWS_WITH(lrp::parse_init_scheme("he_norml"), Contains("did you mean 'he_normal'"));
}

TEST_CASE("Input normalization maps raw values per channel", "[model]") {
  const lrp::Model m = lrp::build_model(parse(kCnn), builtins());
  const lrp::Tensor raw = lrp::random_inputs({3, 8, 8}, 2, 3);
  const lrp::Tensor x = lrp::normalize_inputs(raw, m.spec.normalization);
  for (Index c = 0; c < 3; ++c)
    for (Index k = 0; k < 64; ++k) {
      const double r = static_cast<double>(raw.data(1, c * 64 + k));
      CHECK(static_cast<double>(x.data(1, c * 64 + k)) ==
            Approx((r - m.spec.normalization.mean[c]) / m.spec.normalization.std[c]).epsilon(tol(1e-6, 1e-14)).margin(tol(1e-6, 1e-14)));
    }
  CHECK(lrp::to_network_units(1.0, 2, m.spec.normalization) == Approx((1.0 - 0.3) / 0.1));
}

TEST_CASE("Bad model descriptions are errors with the file, line and column", "[model]") {
  SECTION("a misspelt top-level key") {
    REQUIRE_THROWS_WITH(parse("input_shape: [4]\nlayer: []\n"),
                        Contains("model.yaml:2:1") && Contains("unknown key 'layer'") && Contains("did you mean 'layers'"));
  }
  SECTION("a misspelt hyperparameter") {
    REQUIRE_THROWS_WITH(parse("input_shape: [4]\nlayers:\n  - {kind: dense, ouT: 3}\n"),
                        Contains("model.yaml:3:19") && Contains("'ouT'") && Contains("did you mean 'out'"));
  }
  SECTION("an unknown layer kind") {
    REQUIRE_THROWS_WITH(parse("input_shape: [4]\nlayers:\n  - {kind: densee, out: 3}\n"),
                        Contains("model.yaml:3:12") && Contains("densee"));
  }
  SECTION("a non-numeric value") {
    REQUIRE_THROWS_WITH(parse("input_shape: [4]\nlayers:\n  - {kind: dense, out: many}\n"),
                        Contains("model.yaml:3:24") && Contains("must be a number"));
  }
  SECTION("shapes that do not chain") {
    const lrp::ModelSpec s = parse("input_shape: [1, 8, 8]\nlayers:\n  - {kind: conv2d, out_channels: 2, kernel: 3}\n"
                                   "  - {kind: dense, out: 3}\n");
    REQUIRE_THROWS_WITH(lrp::build_model(s, builtins()),
                        Contains("layer 1 'dense1'") && Contains("flat input") && Contains("flatten"));
  }
  SECTION("a given input size that contradicts the chain") {
    const lrp::ModelSpec s = parse("input_shape: [5]\nlayers:\n  - {kind: dense, in: 4, out: 3}\n");
    REQUIRE_THROWS_WITH(lrp::build_model(s, builtins()), Contains("'in' is 4") && Contains("has 5"));
  }
  SECTION("a kernel larger than its input") {
    const lrp::ModelSpec s = parse("input_shape: [1, 2, 2]\nlayers:\n  - {kind: conv2d, out_channels: 2, kernel: 3}\n"
                                   "  - {kind: flatten}\n");
    REQUIRE_THROWS_WITH(lrp::build_model(s, builtins()), Contains("conv2d0"));
  }
  SECTION("a model that does not end in logits") {
    const lrp::ModelSpec s = parse("input_shape: [1, 4, 4]\nlayers:\n  - {kind: relu}\n");
    REQUIRE_THROWS_WITH(lrp::build_model(s, builtins()), Contains("flat vector of logits"));
  }
  SECTION("normalization with the wrong number of channels") {
    REQUIRE_THROWS_WITH(parse("input_shape: [3, 4, 4]\nnormalization: {mean: [0.1, 0.2]}\nlayers: [{kind: flatten}]\n"),
                        Contains("model.yaml:2:16") && Contains("one per input channel (3)"));
  }
  SECTION("a zero standard deviation") {
    REQUIRE_THROWS_WITH(parse("input_shape: [3]\nnormalization: {std: [0]}\nlayers: [{kind: dense, out: 2}]\n"),
                        Contains("normalization.std must hold values > 0"));
  }
  SECTION("duplicate layer names") {
    const lrp::ModelSpec s = parse("input_shape: [3]\nlayers: [{kind: dense, name: a, out: 2}, {kind: dense, name: a, out: 2}]\n");
    REQUIRE_THROWS_WITH(lrp::build_model(s, builtins()), Contains("two layers are named 'a'"));
  }
  SECTION("a YAML syntax error") {
    REQUIRE_THROWS_WITH(parse("input_shape: [3\nlayers: []\n"), Contains("model.yaml:") && Contains("YAML syntax error"));
  }
  SECTION("a missing file") {
    REQUIRE_THROWS_WITH(lrp::read_model_spec("/nonexistent/model.yaml"), Contains("/nonexistent/model.yaml"));
  }
}

TEST_CASE("Training configs are checked key by key before anything runs", "[model][config]") {
  const std::string model = temp_file("m.yaml", "input_shape: [40]\nlayers: [{kind: dense, out: 3}]\n");
  const std::string good = R"(seed: 3
threads: 1
data:
  train: {format: synthetic, shape: [40], count: 120, classes: 3, subset: {begin: 0, end: 90}}
  test: {format: synthetic, shape: [40], count: 120, classes: 3, subset: {begin: 90}}
model: {architecture: m.yaml}
training: {epochs: 8, batch_size: 8, optimizer: {kind: adam, learning_rate: 0.05}}
)";
  const lrp::TrainConfig c = lrp::read_train_config(temp_file("good.yaml", good), builtins());
  CHECK(c.seed == 3);
  CHECK(c.options.epochs == 8);
  CHECK(c.options.optimizer == lrp::OptimizerKind::kAdam);
  CHECK(c.options.adam.learning_rate == 0.05);
  CHECK(c.architecture.layers.size() == 1);
  const lrp::TrainResult r = lrp::run_training(c, builtins());
  CHECK(r.test_accuracy >= 0.9);
  CHECK(r.model.provenance.test_accuracy == r.test_accuracy);
  CHECK(r.model.provenance.seed == 3);
  CHECK(r.model.provenance.config == good);
  // Without a test set (regression: reading a config without data.test threw yaml-cpp's
  // "invalid node" instead of reading it).
  std::string no_test = good;
  no_test.erase(no_test.find("  test:"), no_test.find("model:") - no_test.find("  test:"));
  const lrp::TrainConfig without = lrp::read_train_config(temp_file("no_test.yaml", no_test), builtins());
  CHECK(!without.test_data);
  const lrp::TrainResult rw = lrp::run_training(without, builtins());
  CHECK(rw.test_accuracy == -1);
  CHECK(rw.model.provenance.test_accuracy == -1);

  const auto bad = [&](const std::string& from, const std::string& to) {
    std::string text = good;
    const auto at = text.find(from);
    REQUIRE(at != std::string::npos);
    text.replace(at, from.size(), to);
    return temp_file("bad.yaml", text);
  };
  REQUIRE_THROWS_WITH(lrp::read_train_config(bad("training:", "trainng:"), builtins()),
                      Contains("bad.yaml:7:1") && Contains("did you mean 'training'"));
  REQUIRE_THROWS_WITH(lrp::read_train_config(bad("kind: adam", "kind: adamw"), builtins()),
                      Contains("bad.yaml:7:") && Contains("'adamw'"));
  REQUIRE_THROWS_WITH(lrp::read_train_config(bad("learning_rate: 0.05", "learning_rate: -1"), builtins()),
                      Contains("bad.yaml:7:") && Contains("learning_rate"));
  REQUIRE_THROWS_WITH(lrp::read_train_config(bad("m.yaml", "missing.yaml"), builtins()),
                      Contains("bad.yaml:6:") && Contains("no such file 'missing.yaml'"));
  REQUIRE_THROWS_WITH(lrp::read_train_config(bad("epochs: 8", "epochs: 0"), builtins()),
                      Contains("bad.yaml:7:") && Contains("epochs"));
  // Gradient clipping: off by default, a number ≥ 0 under training.
  CHECK(c.options.clip_norm == 0);
  CHECK(lrp::read_train_config(bad("epochs: 8", "epochs: 8, clip_norm: 2.5"), builtins()).options.clip_norm == 2.5);
  REQUIRE_THROWS_WITH(lrp::read_train_config(bad("epochs: 8", "epochs: 8, clip_norm: -1"), builtins()),
                      Contains("bad.yaml:7:34: training.clip_norm must be a finite number ≥ 0") && Contains("got -1"));
  REQUIRE_THROWS_WITH(lrp::read_train_config(bad("epochs: 8", "epochs: 8, clip_norm: .inf"), builtins()),
                      Contains("bad.yaml:7:") && Contains("training.clip_norm"));
  REQUIRE_THROWS_WITH(lrp::read_train_config(bad("epochs: 8", "epochs: 8, clip_norm: [1]"), builtins()),
                      Contains("bad.yaml:7:") && Contains("training.clip_norm"));
  REQUIRE_THROWS_WITH(lrp::read_train_config(bad("epochs: 8", "epochs: 8, clipnorm: 1"), builtins()),
                      Contains("bad.yaml:7:") && Contains("did you mean 'clip_norm'"));
  // Data errors surface when the data are loaded.
  const lrp::TrainConfig wrong_shape = lrp::read_train_config(bad("shape: [40], count: 120, classes: 3, subset: {begin: 0", "shape: [5], count: 120, classes: 3, subset: {begin: 0"), builtins());
  REQUIRE_THROWS_WITH(lrp::run_training(wrong_shape, builtins()), Contains("data.train") && Contains("[5]"));
  // Labels beyond the model's classes: synthetic data with 5 classes for a 3-class model.
  const lrp::TrainConfig more_classes = lrp::read_train_config(
      bad("shape: [40], count: 120, classes: 3, subset: {begin: 0", "shape: [40], count: 120, classes: 5, subset: {begin: 0"),
      builtins());
  REQUIRE_THROWS_WITH(lrp::run_training(more_classes, builtins()),
                      Contains("synthetic_blobs(") && Contains("label 3 of sample 3") && Contains("[0, 3)"));
  // Dataset sections are read with the config (before anything runs).
  REQUIRE_THROWS_WITH(lrp::read_train_config(bad("format: synthetic, shape: [40], count: 120, classes: 3, subset: {begin: 0",
                                                 "format: idk, shape: [40], count: 120, classes: 3, subset: {begin: 0"),
                                             builtins()),
                      Contains("bad.yaml:4:") && Contains("'idk'"));
}
