// The activations and pooling forms papers use (leaky_relu, elu, gelu and its tanh approximation, silu,
// softplus, hardtanh / relu6, ceil_mode pooling, the spatial mean) against PyTorch, and what the ONNX importer
// refuses by name (GRU, RNN, attention, unsupported attribute values).
//
// The references (tests/fixtures/activations/, written by tests/fixtures/make_activation_fixtures.py with torch
// 1.13 in float64): forward values and autograd input gradients on points that include the kinks, the thresholds
// and the bounds; ceil_mode max and average pooling with partial windows; small models exported by
// torch.onnx.export (opset 13) with torch's logits.
//
// Tolerances: float64 build 1e-10 relative to max(1, max |reference|) (both sides evaluate the same formulas; the
// differences are rounding: expm1 vs exp − 1, the stable softplus); float32 build 1e-5 (inputs and constants rounded
// to float). Measured worst errors are printed with INFO on failure.
#include "lrp/io/onnx.hpp"
#include "lrp/io/model_file.hpp"
#include "lrp/io/model_yaml.hpp"
#include "lrp/io/data.hpp"
#include "lrp/propagation/explain.hpp"
#include "lrp/io/hdf5.hpp"
#include "lrp/nn/layers.hpp"
#include "lrp/nn/model.hpp"
#include "lrp/train/train.hpp"

#include <yaml-cpp/yaml.h>

#include "fixture_rows.hpp"
#include "temp_dir.hpp"
#include "test_util.hpp"

#include <catch2/catch.hpp>

#include <cmath>
#include <string>
#include <utility>
#include <vector>

using namespace lrp_test;
using lrp::ParamMap;

namespace {

const std::string kDir = std::string(LRP_TEST_FIXTURES) + "/activations/";
const std::string kReference = kDir + "reference.h5";
const double kTolerance = tol(1e-5, 1e-10);

struct Kind {
  std::string name;  // the fixture's case
  std::string kind;
  ParamMap params;
};

// The lrplab layer for each case of make_activation_fixtures.py's ACTIVATIONS.
const std::vector<Kind>& kinds() {
  static const std::vector<Kind> k{
      {"leaky_relu", "leaky_relu", {}},
      {"leaky_relu_02", "leaky_relu", {{"slope", {0.2}}}},
      {"elu", "elu", {}},
      {"elu_05", "elu", {{"alpha", {0.5}}}},
      {"gelu", "gelu", {}},
      {"gelu_tanh", "gelu", {{"tanh", {1}}}},
      {"silu", "silu", {}},
      {"softplus", "softplus", {}},
      {"softplus_b2_t5", "softplus", {{"beta", {2}}, {"threshold", {5}}}},
      {"hardtanh", "hardtanh", {}},
      {"hardtanh_m2_3", "hardtanh", {{"min", {-2}}, {"max", {3}}}},
      {"relu6", "relu6", {}},
  };
  return k;
}

Matrix to_scalar(const Eigen::MatrixXd& m) { return m.cast<Scalar>(); }

lrp::LayerPtr make(const std::string& kind, const ParamMap& params, const Shape& shape) {
  lrp::LayerPtr layer = builtins().make_layer(kind, params);
  layer->configure(shape, kind);
  return layer;
}

// Central differences of Σ g ⊙ f(x) in x, computed here in long double from the layer's forward, as an
// independent check of the vjp (away from kinks).
double vjp_fd_error(const lrp::Layer& layer, const Matrix& x, const Matrix& g) {
  const Matrix analytic = run_vjp(layer, x, g);
  const double h = kFloat64 ? 1e-6 : 1e-2;
  double worst = 0;
  for (Index j = 0; j < x.cols(); ++j) {
    Matrix up = x, down = x;
    up(0, j) += static_cast<Scalar>(h);
    down(0, j) -= static_cast<Scalar>(h);
    const double step = static_cast<double>(up(0, j)) - static_cast<double>(down(0, j));
    const Matrix fu = run_forward(layer, up), fd = run_forward(layer, down);
    const double numeric = static_cast<double>(g(0, j)) * (static_cast<double>(fu(0, j)) - static_cast<double>(fd(0, j))) / step;
    worst = std::max(worst, std::abs(numeric - static_cast<double>(analytic(0, j))) /
                                std::max(1.0, std::abs(static_cast<double>(analytic(0, j)))));
  }
  return worst;
}

std::string fixture(const std::string& name) { return kDir + name + ".onnx"; }

std::string import_error(const std::string& name) {
  return error_of([&] { (void)lrp::import_onnx(fixture(name), builtins()); });
}

}  // namespace

TEST_CASE("activations: forward and input gradient match torch at kinks, thresholds and bounds", "[activations]") {
  const lrp::h5::File f = lrp::h5::File::open(kReference);
  for (const Kind& k : kinds()) {
    INFO(k.name);
    const std::string group = "activations/" + k.name + "/";
    const Eigen::MatrixXd all_x = read_rows(f, group + "x", 1), all_g = read_rows(f, group + "g_out", 1);
    const Eigen::MatrixXd all_y = read_rows(f, group + "y", 1), all_grad = read_rows(f, group + "grad", 1);
    // In float32 only the points float32 holds exactly: e.g. 6 ± 1e-9 and 2.5 ± 1e-7 (softplus's threshold 5 at beta 2)
    // round onto the kink, where torch's float64 answer is another branch's.
    std::vector<Index> keep;
    for (Index j = 0; j < all_x.cols(); ++j)
      if (static_cast<double>(static_cast<Scalar>(all_x(0, j))) == all_x(0, j)) keep.push_back(j);
    Eigen::MatrixXd x(1, static_cast<Index>(keep.size())), g = x, y = x, grad = x;
    for (std::size_t j = 0; j < keep.size(); ++j) {
      const Index c = static_cast<Index>(j);
      x(0, c) = all_x(0, keep[j]), g(0, c) = all_g(0, keep[j]), y(0, c) = all_y(0, keep[j]);
      grad(0, c) = all_grad(0, keep[j]);
    }
    CHECK(x.cols() == (kFloat64 ? all_x.cols() : 25));  // float32 keeps 25 of the 37 points
    const lrp::LayerPtr layer = make(k.kind, k.params, {x.cols()});
    CHECK(layer->kind() == k.kind);
    CHECK(layer->traits().elementwise);
    const double forward_error = relative_error(run_forward(*layer, to_scalar(x)), y);
    const double gradient_error = relative_error(run_vjp(*layer, to_scalar(x), to_scalar(g)), grad);
    INFO("forward error " << forward_error << ", gradient error " << gradient_error);
    CHECK(forward_error <= kTolerance);
    CHECK(gradient_error <= kTolerance);
    // accumulate mode adds to what is there
    lrp::Workspace ws;
    Matrix acc = Matrix::Ones(1, x.cols());
    layer->vjp(to_scalar(x), layer->params(), to_scalar(g), acc, ws, true);
    CHECK(relative_error(acc, Eigen::MatrixXd((grad.array() + 1.0).matrix())) <= kTolerance);
  }
}

TEST_CASE("activations: the vjp of each new activation matches central differences away from kinks",
          "[activations]") {
  // Smooth points only: no 0 (leaky_relu, elu), no bounds (hardtanh), no softplus threshold.
  const Matrix x = random_matrix(1, 40, 2101, -5.0, 5.0);
  const Matrix g = random_matrix(1, 40, 2102, -1.0, 2.0);
  for (const Kind& k : kinds()) {
    INFO(k.name);
    const lrp::LayerPtr layer = make(k.kind, k.params, {x.cols()});
    const double error = vjp_fd_error(*layer, x, g);
    INFO("finite-difference error " << error);
    CHECK(error <= tol(2e-3, 1e-8));
  }
}

TEST_CASE("activations: kinds, defaults, describe and bad parameters", "[activations]") {
  const lrp::Registry& reg = builtins();
  for (const char* kind : {"leaky_relu", "elu", "gelu", "silu", "softplus", "hardtanh", "relu6"}) {
    INFO(kind);
    CHECK(reg.layer_info(kind).default_rule.rule == "pass");
  }
  CHECK(make("leaky_relu", {}, {3})->describe() == "leaky_relu(slope 0.01)");
  CHECK(make("gelu", {{"tanh", {1}}}, {3})->describe() == "gelu(tanh approximation)");
  CHECK(make("softplus", {}, {3})->describe() == "softplus(beta 1, threshold 20)");
  CHECK(make("relu6", {}, {3})->describe() == "relu6(min 0, max 6)");
  CHECK_THAT(error_of([&] { (void)reg.make_layer("hardtanh", {{"min", {2}}, {"max", {1}}}); }),
             Catch::Contains("hardtanh") && Catch::Contains("min (2) must be below max (1)"));
  CHECK_THAT(error_of([&] { (void)reg.make_layer("softplus", {{"beta", {0}}}); }),
             Catch::Contains("beta must be positive"));
  CHECK_THAT(error_of([&] { (void)reg.make_layer("gelu", {{"tanh", {2}}}); }),
             Catch::Contains("'tanh' must be 0 or 1"));
  CHECK_THAT(error_of([&] { (void)reg.make_layer("maxpool2d", {{"kernel", {2}}, {"ceil_mode", {3}}}); }),
             Catch::Contains("'ceil_mode' must be 0 or 1"));
}

TEST_CASE("pooling with ceil_mode: forward and input gradient match torch, partial windows included",
          "[activations][pooling]") {
  const lrp::h5::File f = lrp::h5::File::open(kReference);
  struct Pool {
    const char* name;
    std::vector<double> kernel, stride, padding;
  };
  // make_activation_fixtures.py's POOLS
  const std::vector<Pool> pools{
      {"max_k2_odd", {2, 2}, {2, 2}, {0, 0}},       {"max_k3s2p1", {3, 3}, {2, 2}, {1, 1}},
      {"max_k2s2p1_dropped", {2, 2}, {2, 2}, {1, 1}}, {"max_k32_s21", {3, 2}, {2, 1}, {1, 0}},
      {"avg_k2_odd", {2, 2}, {2, 2}, {0, 0}},       {"avg_k3s2p1", {3, 3}, {2, 2}, {1, 1}},
      {"avg_k2s2p1_dropped", {2, 2}, {2, 2}, {1, 1}}, {"avg_k32_s21", {3, 2}, {2, 1}, {1, 0}},
      {"avg_k3s3p1", {3, 3}, {3, 3}, {1, 1}},
  };
  for (const Pool& pool : pools) {
    const std::string name = pool.name;
    INFO(name);
    const std::string group = "pooling/" + name + "/";
    lrp::h5::Dims in_dims, out_dims;
    (void)f.read<double>(group + "x", &in_dims);
    (void)f.read<double>(group + "y", &out_dims);
    const Index n = static_cast<Index>(in_dims[0]);
    const Eigen::MatrixXd x = read_rows(f, group + "x", n), g = read_rows(f, group + "g_out", n);
    const Eigen::MatrixXd y = read_rows(f, group + "y", n), grad = read_rows(f, group + "grad", n);
    const bool is_max = name.rfind("max", 0) == 0;
    const std::vector<double>& kernel = pool.kernel;
    const std::vector<double>& stride = pool.stride;
    const std::vector<double>& padding = pool.padding;
    const Shape shape{static_cast<Index>(in_dims[1]), static_cast<Index>(in_dims[2]), static_cast<Index>(in_dims[3])};
    const lrp::LayerPtr layer = make(is_max ? "maxpool2d" : "avgpool2d",
                                     {{"kernel", kernel}, {"stride", stride}, {"padding", padding}, {"ceil_mode", {1}}},
                                     shape);
    REQUIRE(layer->output_shape() ==
            Shape{static_cast<Index>(out_dims[1]), static_cast<Index>(out_dims[2]), static_cast<Index>(out_dims[3])});
    const double forward_error = relative_error(run_forward(*layer, to_scalar(x)), y);
    const double gradient_error = relative_error(run_vjp(*layer, to_scalar(x), to_scalar(g)), grad);
    INFO("forward error " << forward_error << ", gradient error " << gradient_error);
    CHECK(forward_error <= kTolerance);
    CHECK(gradient_error <= kTolerance);
  }
}

TEST_CASE("pooling with ceil_mode: the average's vjp is the adjoint of its forward", "[activations][pooling]") {
  const lrp::LayerPtr layer =
      make("avgpool2d", {{"kernel", {3}}, {"stride", {2}}, {"padding", {1}}, {"ceil_mode", {1}}}, {2, 6, 7});
  REQUIRE(layer->output_shape() == Shape{2, 4, 4});
  const Matrix x = random_matrix(2, 84, 2201), g = random_matrix(2, 32, 2202);
  const double lhs = static_cast<double>((run_forward(*layer, x).array() * g.array()).sum());
  const double rhs = static_cast<double>((x.array() * run_vjp(*layer, x, g).array()).sum());
  CHECK(std::abs(lhs - rhs) <= tol(1e-5, 1e-13) * std::max(1.0, std::abs(lhs)));
  // ceil_mode 0 keeps the floor sizes
  CHECK(make("maxpool2d", {{"kernel", {2}}}, {1, 5, 5})->output_shape() == Shape{1, 2, 2});
  CHECK(make("maxpool2d", {{"kernel", {2}}, {"ceil_mode", {1}}}, {1, 5, 5})->output_shape() == Shape{1, 3, 3});
}

TEST_CASE("training through each new activation: parameter gradients match central differences and SGD lowers "
          "the loss",
          "[activations][train]") {
  for (const Kind& k : kinds()) {
    INFO(k.name);
    lrp::Network net({4});
    net.add(std::make_unique<lrp::Dense>(4, 6), "fc1");
    net.add(builtins().make_layer(k.kind, k.params), "act");
    net.add(std::make_unique<lrp::Dense>(6, 3), "fc2");
    lrp::randomize_parameters(net, 2301);
    const lrp::Tensor x({4}, random_matrix(12, 4, 2302, -2.0, 2.0));
    std::vector<Index> y(12);
    for (Index n = 0; n < 12; ++n) y[static_cast<std::size_t>(n)] = n % 3;
    std::mt19937_64 rng(1);
    const lrp::StepGradients sg = lrp::training_gradients(net, x, y, rng);
    if (kFloat64) {  // the dense layer before the activation, against differences of the loss
      double worst = 0;
      lrp::Params& p = net.layer(0).mutable_params();
      for (Index i = 0; i < p.weight.size(); ++i) {
        const Scalar saved = p.weight.data()[i];
        p.weight.data()[i] = saved + Scalar(1e-6);
        const double up = lrp::SoftmaxCrossEntropy::loss(net.forward(x).logits(), y);
        p.weight.data()[i] = saved - Scalar(1e-6);
        const double down = lrp::SoftmaxCrossEntropy::loss(net.forward(x).logits(), y);
        p.weight.data()[i] = saved;
        const double fd = (up - down) / 2e-6;
        worst = std::max(worst, std::abs(fd - static_cast<double>(sg.grads[0].weight.data()[i])) /
                                    std::max(1e-3, std::abs(fd)));
      }
      INFO("worst relative parameter-gradient error " << worst);
      CHECK(worst < 1e-6);
    }
    lrp::Dataset data;
    data.inputs = x;
    data.labels = y;
    lrp::TrainOptions options;
    options.epochs = 30;
    options.batch_size = 4;
    options.sgd.learning_rate = 0.1;
    const double before = lrp::evaluate(net, x, y).loss;
    (void)lrp::train(net, data, options);
    const double after = lrp::evaluate(net, x, y).loss;
    INFO("loss " << before << " -> " << after);
    CHECK(after < 0.8 * before);
  }
}

TEST_CASE("model file and YAML: the new kinds and ceil_mode round-trip", "[activations][model_file]") {
  lrp::ModelSpec spec;
  spec.name = "acts";
  spec.input_shape = {1, 9, 9};
  spec.layers = {
      {"conv2d", "conv", {{"out_channels", {2}}, {"kernel", {2}}}},
      {"leaky_relu", "leaky", {{"slope", {0.2}}}},
      {"maxpool2d", "max", {{"kernel", {2}}, {"ceil_mode", {1}}}},
      {"elu", "elu", {{"alpha", {0.5}}}},
      {"avgpool2d", "avg", {{"kernel", {3}}, {"stride", {2}}, {"padding", {1}}, {"ceil_mode", {1}}}},
      {"gelu", "gelu", {{"tanh", {1}}}},
      {"flatten", "flat", {}},
      {"dense", "fc1", {{"out", {6}}}},
      {"silu", "silu", {}},
      {"softplus", "softplus", {{"beta", {2}}, {"threshold", {5}}}},
      {"hardtanh", "hardtanh", {{"min", {-0.25}}, {"max", {0.75}}}},
      {"relu6", "relu6", {}},
      {"gelu", "gelu_erf", {}},
      {"dense", "fc2", {{"out", {3}}}},
  };
  lrp::Model model = lrp::build_model(spec, builtins());
  lrp::randomize_parameters(model.network, 2401);
  TempDir dir("lrp_test_activations");
  const std::string path = dir.file("acts.h5");
  lrp::save_model(model, path);
  const lrp::Model loaded = lrp::load_model(path, builtins());
  REQUIRE(loaded.network.size() == model.network.size());
  for (Index i = 0; i < model.network.size(); ++i) {
    INFO(model.network.layer(i).name());
    CHECK(loaded.network.layer(i).describe() == model.network.layer(i).describe());
  }
  CHECK(loaded.network.layer(2).output_shape() == Shape{2, 4, 4});
  CHECK(loaded.network.layer(4).output_shape() == Shape{2, 3, 3});
  const lrp::Tensor x = lrp::random_inputs(model.network.input_shape(), 3, 2402, -1.0, 2.0);
  CHECK(bit_equal(loaded.network.forward(x).logits(), model.network.forward(x).logits()));
  // and through the YAML text
  const lrp::ModelSpec again =
      lrp::parse_model_spec(YAML::Load(lrp::model_spec_to_yaml(model.spec)), "round trip", &builtins());
  REQUIRE(again.layers.size() == model.spec.layers.size());
  for (std::size_t i = 0; i < again.layers.size(); ++i) CHECK(again.layers[i].params.values() == model.spec.layers[i].params.values());
}

// ---------------------------------------------------------------- ONNX

TEST_CASE("ONNX import: torch 1.13 exports of each activation, the spatial mean and ceil_mode pooling give "
          "torch's logits",
          "[activations][onnx]") {
  const lrp::h5::File f = lrp::h5::File::open(kReference);
  const std::vector<std::pair<std::string, std::vector<std::string>>> models{
      {"leaky_relu", {"dense", "leaky_relu", "dense"}},
      {"elu", {"dense", "elu", "dense"}},
      {"gelu", {"dense", "gelu", "dense"}},
      {"gelu_tanh", {"dense", "gelu", "dense"}},
      {"gelu_op", {"dense", "gelu", "dense"}},
      {"silu", {"dense", "silu", "dense"}},
      {"softplus", {"dense", "softplus", "dense"}},
      {"softplus_beta", {"dense", "softplus", "dense"}},
      {"relu6", {"dense", "relu6", "dense"}},
      {"relu6_opset10", {"dense", "relu6", "dense"}},
      {"hardtanh", {"dense", "hardtanh", "dense"}},
      {"mean", {"conv2d", "relu", "global_avgpool", "flatten", "flatten", "dense"}},  // torch.flatten of [N, C] too
      {"mean_keepdim", {"conv2d", "relu", "global_avgpool", "flatten", "dense"}},
      {"pool_ceil", {"conv2d", "maxpool2d", "avgpool2d", "flatten", "dense"}},
  };
  for (const auto& [name, layers] : models) {
    INFO(name);
    const lrp::Model model = lrp::import_onnx(fixture(name), builtins());
    std::vector<std::string> got;
    for (Index i = 0; i < model.network.size(); ++i) got.push_back(model.network.layer(i).kind());
    CHECK(got == layers);
    const std::string ref = name == "gelu_op" ? "gelu" : name;
    lrp::h5::Dims dims;
    (void)f.read<double>("onnx/" + ref + "/input", &dims);
    const Index n = static_cast<Index>(dims[0]);
    const Eigen::MatrixXd input = read_rows(f, "onnx/" + ref + "/input", n), logits = read_rows(f, "onnx/" + ref + "/logits", n);
    const lrp::Tensor x(model.network.input_shape(), to_scalar(input));
    const double error = relative_error(model.network.forward(x).logits(), logits);
    INFO("logit error " << error);
    CHECK(error <= kTolerance);
    // A preset explains through the new layers (their default rule, pass, for the activations).
    const lrp::Explainer explainer = explainer_for(model.network, "epsilon_plus");
    const lrp::Explanation e = explainer.explain(model.network.forward(x), std::vector<Index>(static_cast<std::size_t>(n), 0));
    CHECK(e.relevance.data.allFinite());
    if (model.network.layer(1).traits().elementwise) CHECK(e.layer_rules[1].rfind("pass", 0) == 0);
  }
  // What the patterns became.
  const lrp::Model gelu_tanh = lrp::import_onnx(fixture("gelu_tanh"), builtins());
  CHECK(gelu_tanh.network.layer(1).describe() == "gelu(tanh approximation)");
  CHECK(gelu_tanh.network.layer(1).name() == "act");
  const lrp::Model softplus = lrp::import_onnx(fixture("softplus_beta"), builtins());
  CHECK(softplus.network.layer(1).describe() == "softplus(beta 2, threshold 20)");
  CHECK(lrp::import_onnx(fixture("leaky_relu"), builtins()).network.layer(1).describe() == "leaky_relu(slope 0.2)");
  CHECK(lrp::import_onnx(fixture("hardtanh"), builtins()).network.layer(1).describe() == "hardtanh(min -2, max 3)");
  const lrp::Model pool = lrp::import_onnx(fixture("pool_ceil"), builtins());
  CHECK(pool.network.layer(1).describe() == "maxpool2d(kernel 2x2, stride 2x2, padding 0x0, ceil_mode)");
  CHECK(pool.network.layer(2).describe() == "avgpool2d(kernel 3x3, stride 2x2, padding 1x1, ceil_mode)");
}

TEST_CASE("ONNX import: GRU, RNN and attention are refused by name, naming the node", "[activations][onnx][errors]") {
  CHECK_THAT(import_error("err_gru"), Catch::Contains(fixture("err_gru")) &&
                                          Catch::Contains("node 10 '/rnn/GRU' (GRU)") &&
                                          Catch::Contains("GRU (torch's nn.GRU) is not supported") &&
                                          Catch::Contains("supported recurrent layer: LSTM"));
  CHECK_THAT(import_error("err_rnn"), Catch::Contains("node 10 '/rnn/RNN' (RNN)") &&
                                          Catch::Contains("RNN (torch's nn.RNN, an Elman network) is not supported") &&
                                          Catch::Contains("supported recurrent layer: LSTM"));
  for (const char* name : {"err_mha", "err_transformer"}) {
    INFO(name);
    const std::string e = import_error(name);
    CHECK_THAT(e, Catch::Contains(fixture(name)) && Catch::Contains("(MatMul)") &&
                      Catch::Contains("multiplies two computed tensors") &&
                      Catch::Contains("attention (torch's nn.MultiheadAttention / a Transformer layer) is not supported"));
    CHECK_THAT(e, !Catch::Contains("(Transpose)"));  // the message before: a Transpose the chain could not place
  }
}

TEST_CASE("ONNX import: unsupported activation forms name the node, its op and what is supported",
          "[activations][onnx][errors]") {
  CHECK_THAT(import_error("err_selu"), Catch::Contains(fixture("err_selu")) &&
                                           Catch::Contains("node 1 '/act/Selu' has op Selu") &&
                                           Catch::Contains("which lrplab does not import") &&
                                           Catch::Contains("supported: Gemm") && Catch::Contains("LeakyRelu"));
  CHECK_THAT(import_error("err_clip_computed"),
             Catch::Contains("node 3 '/act/Clip' (Clip)") && Catch::Contains("the min bound") &&
                 Catch::Contains("computed from the data") && Catch::Contains("two constant bounds"));
  CHECK_THAT(import_error("err_mean_channels"),
             Catch::Contains("'/ReduceMean' (ReduceMean)") && Catch::Contains("over the axes [1]") &&
                 Catch::Contains("only over the spatial axes [2, 3]"));
  CHECK_THAT(import_error("err_mean_width"),
             Catch::Contains("'/ReduceMean' (ReduceMean)") && Catch::Contains("over the axes [3]") &&
                 Catch::Contains("keepdims 0 or 1"));
  CHECK_THAT(import_error("err_gelu_constant"),
             Catch::Contains("node 2 '/act/Div' (Div)") && Catch::Contains("divided by 2, not GELU's √2") &&
                 Catch::Contains("GELU (x * 0.5 * (1 + erf(x / 1.4142135))"));
  CHECK_THAT(import_error("err_gelu_approximate"),
             Catch::Contains("'/act/Gelu' (Gelu)") && Catch::Contains("approximate = 'sigmoid'") &&
                 Catch::Contains("'none'") && Catch::Contains("'tanh'"));
}

// Real data: a small CNN with each new activation (and a ceil_mode pooling) trained by lrplab on 1,500
// Fashion-MNIST training images learns the task (accuracy on 1,000 test images far above the 10% of
// chance), and an LRP preset explains it with the conservation the composite promises on a real image.
TEST_CASE("On real Fashion-MNIST images each new activation trains and explains", "[activations][real][train]") {
  const std::string dir = "/usr/share/datasets/fashion-mnist/";
  const lrp::Dataset train_set =
      lrp::read_idx(dir + "train-images-idx3-ubyte.gz", dir + "train-labels-idx1-ubyte.gz", 1.0 / 255, lrp::RowSelection::range(0, 1500));
  const lrp::Dataset test_set =
      lrp::read_idx(dir + "t10k-images-idx3-ubyte.gz", dir + "t10k-labels-idx1-ubyte.gz", 1.0 / 255, lrp::RowSelection::range(0, 1000));
  const std::vector<lrp::LayerSpec> activations{
      {"leaky_relu", "act", {{"slope", {0.1}}}}, {"elu", "act", {}},  {"gelu", "act", {}},     {"gelu", "act", {{"tanh", {1}}}},
      {"silu", "act", {}},                       {"softplus", "act", {}}, {"relu6", "act", {}}, {"hardtanh", "act", {}}};
  for (const lrp::LayerSpec& act : activations) {
    INFO(act.kind << " " << act.params.to_string());
    lrp::ModelSpec spec;
    spec.name = "real_" + act.kind;
    spec.input_shape = {1, 28, 28};
    spec.layers = {{"conv2d", "conv", {{"out_channels", {4}}, {"kernel", {3}}, {"padding", {1}}}},
                   act,
                   {"maxpool2d", "pool", {{"kernel", {3}}, {"stride", {2}}, {"ceil_mode", {1}}}},  // 28 -> 14 with ceil
                   {"flatten", "flat", {}},
                   {"dense", "fc", {{"out", {10}}}}};
    lrp::Model model = lrp::build_model(spec, builtins());
    REQUIRE(model.network.layer(2).output_shape() == lrp::Shape{4, 14, 14});
    lrp::initialize_parameters(model.network, lrp::InitScheme::kHeNormal, 5);
    lrp::TrainOptions options;
    options.epochs = 2;
    options.batch_size = 32;
    options.optimizer = lrp::OptimizerKind::kAdam;
    options.adam.learning_rate = 0.002;
    options.seed = 3;
    (void)lrp::train(model.network, train_set, options);
    const lrp::Evaluation e = lrp::evaluate(model.network, test_set.inputs, test_set.labels);
    INFO("accuracy " << e.accuracy);
    CHECK(e.accuracy > 0.5);
    // epsilon_plus on a real image: the activation gets its default rule `pass` (R_in = R_out exactly),
    // the max pool winner-take-all (which moves relevance without changing its sum).
    const lrp::ForwardPass pass = model.network.forward(lrp::Tensor({1, 28, 28}, test_set.inputs.data.topRows(4)));
    const std::vector<Index> targets(test_set.labels.begin(), test_set.labels.begin() + 4);
    const lrp::Explanation r =
        explainer_for(model.network, "epsilon_plus").explain(pass, targets, {.keep_layer_relevance = true});
    CHECK(r.layer_rules[1] == "pass()");
    CHECK(r.layer_relevance[1] == r.layer_relevance[2]);
    const Eigen::VectorXd at_pool_out = r.layer_relevance[3].cast<double>().rowwise().sum();
    const Eigen::VectorXd at_pool_in = r.layer_relevance[2].cast<double>().rowwise().sum();
    CHECK((at_pool_in - at_pool_out).cwiseAbs().maxCoeff() <= tol(1e-5, 1e-12) * at_pool_out.cwiseAbs().maxCoeff());
    CHECK(r.relevance.data.allFinite());
    CHECK(r.relevance.data.cwiseAbs().maxCoeff() > 0);
  }
}
