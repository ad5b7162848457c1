// Shared helpers for the layer, network, composite and error suites: tolerances that follow the
// build's scalar type, seeded random data, comparisons, and small network builders.
#pragma once

#include "lrp/core/error.hpp"
#include "lrp/io/data.hpp"
#include "lrp/nn/examples.hpp"
#include "lrp/propagation/explain.hpp"
#include "lrp/nn/layers.hpp"
#include "lrp/nn/network.hpp"
#include "lrp/registry/registry.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <functional>
#include <cmath>
#include <cstdint>
#include <memory>
#include <random>
#include <string>
#include <vector>

namespace lrp_test {

using lrp::Index;
using lrp::Matrix;
using lrp::Scalar;
using lrp::Shape;
using lrp::Vector;

// The message of the lrp::Error f() throws; the test fails when it throws none.
inline std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const lrp::Error& e) {
    return e.what();
  }
  FAIL("no lrp::Error was thrown");
  return "";
}

// The committed models (models/ of the repository) and Debian's Fashion-MNIST (dataset-fashion-mnist).
inline const std::string kModelsDir = std::string(LRP_TEST_FIXTURES) + "/../../models";
inline const std::string kFashionMnistDir = "/usr/share/datasets/fashion-mnist";

// Fashion-MNIST test images [begin, end) scaled to [0, 1], with their labels.
inline lrp::Dataset fashion_mnist_test(lrp::Index begin, lrp::Index end) {
  return lrp::read_idx(kFashionMnistDir + "/t10k-images-idx3-ubyte.gz", kFashionMnistDir + "/t10k-labels-idx1-ubyte.gz",
                       1.0 / 255.0, lrp::RowSelection::range(begin, end));
}

inline constexpr bool kFloat64 = sizeof(Scalar) == 8;

// The tolerance for this build: `f32` in float32 mode, `f64` in the float64 reference mode.
inline double tol(double f32, double f64) { return kFloat64 ? f64 : f32; }

// The registry with every built-in, filled once and frozen (read-only, as a program uses it).
inline const lrp::Registry& builtins() {
  static const lrp::Registry registry = [] {
    lrp::Registry r;
    lrp::register_builtins(r);
    r.freeze();
    return r;
  }();
  return registry;
}

// rows × cols, i.i.d. uniform in [low, high), seeded.
inline Matrix random_matrix(Index rows, Index cols, std::uint64_t seed, double low = -1.0, double high = 1.0) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> u(low, high);
  Matrix m(rows, cols);
  for (Index i = 0; i < rows; ++i)
    for (Index j = 0; j < cols; ++j) m(i, j) = static_cast<Scalar>(u(rng));
  return m;
}

inline Vector random_vector(Index n, std::uint64_t seed, double low = -1.0, double high = 1.0) {
  const Matrix m = random_matrix(n, 1, seed, low, high);
  return m.col(0);
}

// Max |a − b| relative to max(1, max |b|); shapes must agree.
inline double relative_error(const Matrix& a, const Matrix& b) {
  REQUIRE(a.rows() == b.rows());
  REQUIRE(a.cols() == b.cols());
  if (a.size() == 0) return 0.0;
  const double scale = std::max(1.0, static_cast<double>(b.cwiseAbs().maxCoeff()));
  return static_cast<double>((a - b).cwiseAbs().maxCoeff()) / scale;
}

// Same, with a double-precision oracle.
inline double relative_error(const Matrix& a, const Eigen::MatrixXd& b) {
  REQUIRE(a.rows() == b.rows());
  REQUIRE(a.cols() == b.cols());
  if (a.size() == 0) return 0.0;
  const double scale = std::max(1.0, b.cwiseAbs().maxCoeff());
  return (a.cast<double>() - b).cwiseAbs().maxCoeff() / scale;
}

inline bool bit_equal(const Matrix& a, const Matrix& b) {
  return a.rows() == b.rows() && a.cols() == b.cols() && (a.array() == b.array()).all();
}

// Configures a stand-alone layer for `input_shape` (as Network::add would) and returns it.
template <typename L>
std::unique_ptr<L> configured(std::unique_ptr<L> layer, const Shape& input_shape, const std::string& name = "layer") {
  layer->configure(input_shape, name);
  return layer;
}

// forward() into a fresh output matrix.
inline Matrix run_forward(const lrp::Layer& layer, const Matrix& x, const lrp::Params& p) {
  lrp::Workspace ws;
  Matrix y(x.rows(), lrp::numel(layer.output_shape()));
  layer.forward(x, p, y, ws);
  return y;
}
inline Matrix run_forward(const lrp::Layer& layer, const Matrix& x) { return run_forward(layer, x, layer.params()); }

// vjp() into a fresh matrix (overwrite mode).
inline Matrix run_vjp(const lrp::Layer& layer, const Matrix& at, const Matrix& g_out, const lrp::Params& p) {
  lrp::Workspace ws;
  Matrix g_in(g_out.rows(), lrp::numel(layer.input_shape()));
  g_in.setConstant(Scalar(12345));  // must be overwritten
  layer.vjp(at, p, g_out, g_in, ws, false);
  return g_in;
}
inline Matrix run_vjp(const lrp::Layer& layer, const Matrix& at, const Matrix& g_out) {
  return run_vjp(layer, at, g_out, layer.params());
}

// Random weights (uniform in [-1, 1)) and bias of the layer's declared shapes.
inline lrp::Params random_params(const lrp::Layer& layer, std::uint64_t seed) {
  lrp::Params p = layer.params();
  p.weight = random_matrix(p.weight.rows(), p.weight.cols(), seed);
  if (p.has_bias()) p.bias = random_vector(p.bias.size(), seed + 1);
  return p;
}

// Sets every bias of a network to zero (the layers keep their bias vectors).
inline void zero_biases(lrp::Network& net) {
  for (Index l = 0; l < net.size(); ++l) {
    lrp::Layer& layer = net.layer(l);
    if (layer.kind() != "dense" && layer.kind() != "conv2d") continue;
    lrp::Params p = layer.params();
    p.bias.setZero();
    layer.set_params(std::move(p));
  }
}

// A small smooth network (tanh, sigmoid, average pooling): finite differences are accurate on it.
inline lrp::Network smooth_network(std::uint64_t seed) {
  lrp::Network net({2, 6, 5});
  net.add(std::make_unique<lrp::Conv2d>(2, 3, lrp::Conv2dOptions{.kernel = {3, 2}, .padding = {1, 1}}), "conv1");
  net.add(lrp::make_tanh(), "tanh1");
  net.add(std::make_unique<lrp::AvgPool2d>(lrp::Pool2dOptions{.kernel = {2, 2}, .stride = {2, 1}, .padding = {1, 0}}),
          "pool1");
  net.add(std::make_unique<lrp::Conv2d>(3, 4, lrp::Conv2dOptions{.kernel = {2, 2}, .stride = {1, 2}, .dilation = {2, 1}}),
          "conv2");
  net.add(lrp::make_sigmoid(), "sig2");
  net.add(std::make_unique<lrp::Flatten>(), "flatten");
  const Index features = lrp::numel(net.layer(4).output_shape());
  net.add(std::make_unique<lrp::Dense>(features, 6), "fc1");
  net.add(lrp::make_tanh(), "tanh3");
  net.add(std::make_unique<lrp::Dense>(6, 3), "fc2");
  lrp::randomize_parameters(net, seed);
  return net;
}

inline lrp::Explainer explainer_for(const lrp::Network& net, const std::string& preset,
                                    const lrp::ParamMap& params = {}) {
  return lrp::Explainer::from_composite(net, builtins(), builtins().make_preset(preset, params));
}

// Parameters every preset accepts for a network whose inputs lie in [0, 1].
inline lrp::ParamMap preset_params(const std::string& preset) {
  if (preset == "epsilon_gamma_box") return {{"low", {0.0}}, {"high", {1.0}}};
  return {};
}

inline const std::vector<std::string>& preset_names() {
  static const std::vector<std::string> names{"epsilon_gamma_box", "epsilon_plus", "epsilon_alpha2_beta1",
                                              "epsilon_plus_flat", "epsilon_alpha2_beta1_flat"};
  return names;
}

}  // namespace lrp_test
