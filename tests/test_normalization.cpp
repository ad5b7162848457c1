// Input normalization of imported models: torchvision-style normalization written into an ONNX graph
// is folded into the model's normalization (tests/fixtures/normalization, exported by torch 1.13 with
// make_normalization_fixtures.py; tests/fixtures/real/lenet_normalized.onnx, the Quantus LeNet behind
// (x - 0.1307) / 0.3081), and a config's model.normalization overrides what a model file says.
#include "experiment_support.hpp"
#include "fixture_rows.hpp"
#include "run_command.hpp"
#include "temp_dir.hpp"
#include "test_util.hpp"

#include "lrp/io/onnx.hpp"
#include "lrp/experiment/experiment.hpp"
#include "lrp/io/hdf5.hpp"
#include "lrp/nn/model.hpp"

#include <catch2/catch.hpp>

#include <fstream>
#include <iomanip>
#include <sstream>
#include <string>
#include <vector>

using namespace lrp_test;
using lrp::Index;

namespace {

const std::string kFixtures = std::string(LRP_TEST_FIXTURES) + "/normalization/";
const std::string kReal = std::string(LRP_TEST_FIXTURES) + "/real/";
const std::string kFmnist = std::string(LRP_TEST_FIXTURES) + "/../../models/fmnist_cnn.h5";

// The float32 values torch stored, as doubles (ImageNet's mean and std of torchvision's examples).
const std::vector<double> kMean{double(0.485f), double(0.456f), double(0.406f)};
const std::vector<double> kStd{double(0.229f), double(0.224f), double(0.225f)};

double relative(const Eigen::MatrixXd& got, const Eigen::MatrixXd& want) {
  return (got - want).cwiseAbs().maxCoeff() / want.cwiseAbs().maxCoeff();
}

// A config file in `dir` (text with @FIXTURES@ and @REAL@ replaced); returns its path.
std::string write_config(const TempDir& dir, const std::string& name, const std::string& text) {
  const std::string path = dir.file(name);
  std::ofstream(path) << replace_all(replace_all(text, "@FIXTURES@", kFixtures), "@REAL@", kReal);
  return path;
}

std::string prepare_error(const std::string& path) {
  return error_of([&] {
    const lrp::ExperimentConfig c = lrp::read_experiment_config(path, {}, builtins());
    (void)lrp::prepare_experiment(c, builtins(), false);
  });
}

}  // namespace

TEST_CASE("Normalization written into an ONNX graph by torch is folded into the model's normalization", "[onnx][normalization]") {
  const lrp::h5::File f = lrp::h5::File::open(kFixtures + "logits.h5");
  const Eigen::MatrixXd raw = read_rows(f, "inputs", 4);
  struct Case {
    const char* name;
    std::vector<double> mean, std;
    const char* nodes;
  };
  const std::vector<Case> cases{
      {"sub_div", kMean, kStd, "node 0 '/Sub' (Sub), node 1 '/Div' (Div)"},
      {"mul_add", {}, {}, "node 0 '/Mul' (Mul), node 1 '/Add' (Add)"},
      {"scalar", {0.5}, {0.25}, "(Sub)"},
  };
  for (const Case& c : cases) {
    INFO(c.name);
    const lrp::Model model = lrp::import_onnx(kFixtures + c.name + ".onnx", builtins());
    const lrp::InputNormalization& norm = model.spec.normalization;
    CHECK_THAT(norm.origin, Catch::StartsWith("folded from the ONNX graph: "));
    CHECK_THAT(norm.origin, Catch::Contains(c.nodes));
    CHECK(model.network.layer(0).kind() == "conv2d");  // the normalization is no layer
    if (!c.mean.empty()) {
      CHECK(norm.mean == c.mean);  // (x - m) / s folds to exactly m and s
      CHECK(norm.std == c.std);
    } else {  // x * (1 / s) + (-m / s): m and s up to the rounding of the stored float32 factors
      REQUIRE(norm.mean.size() == 3);
      for (std::size_t k = 0; k < 3; ++k) {
        CHECK(norm.mean[k] == Approx(kMean[k]).epsilon(1e-6));
        CHECK(norm.std[k] == Approx(kStd[k]).epsilon(1e-6));
      }
    }
    CHECK(norm.raw_min == 0.0);
    CHECK(norm.raw_max == 1.0);
    // lrplab normalizes raw inputs itself, and then gives torch's logits on them
    const lrp::Tensor x = lrp::normalize_inputs(lrp::Tensor({3, 8, 8}, raw.cast<Scalar>()), norm);
    const Matrix logits = model.network.forward(x).logits();
    CHECK(relative(logits.cast<double>(), read_rows(f, c.name, 4)) <= tol(1e-5, 1e-10));
  }
  // What is not a normalization is an error naming the node and what lrplab folds.
  const std::string pixel = error_of([&] { (void)lrp::import_onnx(kFixtures + "err_pixel.onnx", builtins()); });
  CHECK_THAT(pixel, Catch::Contains("node 0 '/Sub' (Sub)"));
  CHECK_THAT(pixel, Catch::Contains("shape [1, 3, 8, 8]"));
  CHECK_THAT(pixel, Catch::Contains("one value or one per input channel (3)"));
  const std::string negative = error_of([&] { (void)lrp::import_onnx(kFixtures + "err_negative.onnx", builtins()); });
  CHECK_THAT(negative, Catch::Contains("node 1 '/Mul' (Mul): the input of channel 0 is multiplied by -2"));
  CHECK_THAT(negative, Catch::Contains("positive scale"));
  // An activation straight on the graph input is not a normalization, although torch writes it with Div
  // or Mul nodes on x (GELU, SiLU, Softplus with beta): it stays a layer, with torch's logits.
  for (const char* name : {"first_gelu", "first_silu", "first_softplus"}) {
    INFO(name);
    const lrp::Model model = lrp::import_onnx(kFixtures + name + ".onnx", builtins());
    CHECK(model.spec.normalization.is_identity());
    CHECK(model.network.layer(0).kind() == std::string(name).substr(6));
    const Matrix logits = model.network.forward(lrp::Tensor({3, 8, 8}, raw.cast<Scalar>())).logits();
    CHECK(relative(logits.cast<double>(), read_rows(f, name, 4)) <= tol(1e-5, 1e-10));
  }
  // ONNX models without one say so
  CHECK(lrp::import_onnx(kReal + "lenet.onnx", builtins()).spec.normalization.origin ==
        "identity: the ONNX graph does not normalize its input");
}

TEST_CASE("lrplab model shows the normalization and where it came from", "[onnx][normalization][cli]") {
  int status = 0;
  std::string out = run_command(std::string(LRPLAB_EXE) + " model " + kReal + "lenet_normalized.onnx", status);
  CHECK(status == 0);
  CHECK_THAT(out, Catch::Contains("input normalization: mean [0.1307], std [0.3081], raw range [0, 1] (folded from the "
                                  "ONNX graph: node 0 '/Sub' (Sub), node 1 '/Div' (Div))"));
  out = run_command(std::string(LRPLAB_EXE) + " model " + kFmnist, status);
  CHECK(status == 0);
  CHECK_THAT(out, Catch::Contains("input normalization: mean [0.286], std [0.353], raw range [0, 1] (the model file)"));
}

// Real digits, a real model: the LeNet with its normalization inside the graph explains exactly as the
// plain LeNet does with the same normalization given in the config (z^B bounds included), and the
// results file says which normalization was used and where it came from.
TEST_CASE("On real MNIST digits a folded ONNX normalization equals the same normalization given in the config",
          "[onnx][normalization][real][experiment]") {
  const QuietLog quiet;
  const TempDir dir("lrp_normalization");
  std::ostringstream norm;
  norm << std::setprecision(17) << "{mean: [" << double(0.1307f) << "], std: [" << double(0.3081f) << "]}";
  const std::string body =
      "data: {format: hdf5, path: @REAL@lenet_digits.h5, inputs: /inputs, labels: /labels}\n"
      "target: label\n"
      "explain: [gradient, epsilon_gamma_box]\n"
      "evaluate: {conservation: false}\n";
  const std::string folded = write_config(dir, "folded.yaml", "model: {file: @REAL@lenet_normalized.onnx}\n" + body +
                                                                  "output: {results: " + dir.file("folded.h5") + "}\n");
  const std::string given = write_config(dir, "given.yaml", "model: {file: @REAL@lenet.onnx, normalization: " + norm.str() +
                                                                "}\n" + body + "output: {results: " + dir.file("given.h5") + "}\n");
  const std::string plain = write_config(dir, "plain.yaml", "model: {file: @REAL@lenet.onnx}\n" + body +
                                                                "output: {results: " + dir.file("plain.h5") + "}\n");
  for (const std::string& path : {folded, given, plain})
    (void)lrp::run_experiment(lrp::read_experiment_config(path, {}, builtins()), builtins());
  const lrp::h5::File a = lrp::h5::File::open(dir.file("folded.h5"));
  const lrp::h5::File b = lrp::h5::File::open(dir.file("given.h5"));
  const lrp::h5::File c = lrp::h5::File::open(dir.file("plain.h5"));
  for (const char* name : {"/model/logits", "/explanations/gradient/relevance", "/explanations/epsilon_gamma_box/relevance"}) {
    INFO(name);
    CHECK(a.read<double>(name) == b.read<double>(name));
    CHECK(a.read<double>(name) != c.read<double>(name));
  }
  // the z^B bounds: the raw range [0, 1] in network units, (0 - m) / s and (1 - m) / s
  // (the same rules; the layer names differ: torch names the wrapped LeNet's layers net.0, net.1, ...)
  const std::string rules = a.string_attribute("/explanations/epsilon_gamma_box", "layer_rules");
  CHECK(replace_all(rules, "net.", "") == b.string_attribute("/explanations/epsilon_gamma_box", "layer_rules"));
  std::ostringstream low;
  low << "low=" << (0 - double(0.1307f)) / double(0.3081f);
  INFO(rules);
  CHECK_THAT(rules, Catch::Contains(low.str().substr(0, 12)));
  CHECK(a.string_attribute("/model", "normalization") == "mean [0.1307], std [0.3081], raw range [0, 1]");
  CHECK_THAT(a.string_attribute("/model", "normalization_origin"), Catch::StartsWith("folded from the ONNX graph"));
  CHECK_THAT(b.string_attribute("/model", "normalization_origin"),
             Catch::Contains("given.yaml:1:"));
  CHECK_THAT(b.string_attribute("/model", "normalization_origin"),
             Catch::Contains("(model.normalization), replacing identity: the ONNX graph does not normalize its input"));
}

TEST_CASE("A config's model.normalization overrides a model file's, key by key, with errors naming the key",
          "[normalization][experiment]") {
  const QuietLog quiet;
  const TempDir dir("lrp_normalization_override");
  auto prepared_norm = [&](const std::string& normalization) {
    const std::string path = write_config(dir, "c.yaml", "model: {file: " + kFmnist + ", normalization: " + normalization +
                                                             "}\ndata: {format: synthetic, shape: [1, 28, 28], count: 2, "
                                                             "classes: 10, seed: 1}\nexplain: [gradient]\noutput: {results: " +
                                                             dir.file("r.h5") + "}\n");
    const lrp::ExperimentConfig c = lrp::read_experiment_config(path, {}, builtins());
    return lrp::prepare_experiment(c, builtins(), false).model.spec.normalization;
  };
  // Only the range: mean and std stay the file's (pixels given as 0..255 with the statistics scaled too).
  lrp::InputNormalization n = prepared_norm("{range: [0, 255], mean: [72.93], std: [90.015]}");
  CHECK(n.mean == std::vector<double>{72.93});
  CHECK(n.std == std::vector<double>{90.015});
  CHECK(n.raw_max == 255.0);
  CHECK_THAT(n.origin, Catch::Contains("c.yaml:1:"));
  CHECK_THAT(n.origin, Catch::EndsWith("(model.normalization), replacing the model file"));
  n = prepared_norm("{range: [-1, 1]}");
  CHECK(n.mean == std::vector<double>{0.286});
  CHECK(n.std == std::vector<double>{0.353});
  CHECK(n.raw_min == -1.0);

  auto error = [&](const std::string& normalization) {
    return prepare_error(write_config(dir, "e.yaml", "model: {file: " + kFmnist + ", normalization: " + normalization +
                                                         "}\ndata: {format: synthetic, shape: [1, 28, 28], count: 2, "
                                                         "classes: 10, seed: 1}\nexplain: [gradient]\noutput: {results: " +
                                                         dir.file("r.h5") + "}\n"));
  };
  std::string m = error("{std: [0]}");
  CHECK_THAT(m, Catch::Contains("e.yaml:1:"));
  CHECK_THAT(m, Catch::Contains("model.normalization.std must hold values > 0"));
  m = error("{mean: [0.1, 0.2]}");
  CHECK_THAT(m, Catch::Contains("model.normalization"));
  CHECK_THAT(m, Catch::Contains("mean has 2 values; expected 1 or one per input channel (1)"));
  m = error("{range: [1, 0]}");
  CHECK_THAT(m, Catch::Contains("model.normalization.range must be [low, high] with low < high"));
  m = error("{mean: [0.1], sdt: [1]}");
  CHECK_THAT(m, Catch::Contains("sdt"));
  CHECK_THAT(m, Catch::Contains("std"));
}
