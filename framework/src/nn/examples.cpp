#include "lrp/nn/examples.hpp"

#include "lrp/nn/layers.hpp"

#include <cmath>
#include <random>

namespace lrp {

void randomize_parameters(Network& network, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> normal(0.0, 1.0);
  std::uniform_real_distribution<double> uniform(0.5, 1.5);
  for (Index l = 0; l < network.size(); ++l) {
    Layer& layer = network.layer(l);
    const std::string kind = layer.kind();
    Params p = layer.params();
    if (kind == "dense" || kind == "conv2d") {
      const double std_dev = std::sqrt(2.0 / static_cast<double>(p.weight.cols()));
      p.weight = p.weight.unaryExpr([&](Scalar) { return static_cast<Scalar>(std_dev * normal(rng)); });
      p.bias = p.bias.unaryExpr([&](Scalar) { return static_cast<Scalar>(0.1 * normal(rng)); });
      layer.set_params(std::move(p));
    } else if (auto* bn = dynamic_cast<BatchNorm*>(&layer)) {
      p.weight = p.weight.unaryExpr([&](Scalar) { return static_cast<Scalar>(uniform(rng)); });
      p.bias = p.bias.unaryExpr([&](Scalar) { return static_cast<Scalar>(0.1 * normal(rng)); });
      layer.set_params(std::move(p));
      Vector mean = Vector::NullaryExpr(bn->channels(), [&]() { return static_cast<Scalar>(0.2 * normal(rng)); });
      Vector var = Vector::NullaryExpr(bn->channels(), [&]() { return static_cast<Scalar>(uniform(rng)); });
      bn->set_statistics(std::move(mean), std::move(var));
    }
  }
}

Network example_mlp(std::uint64_t seed) {
  Network net({784});
  net.add(std::make_unique<Dense>(784, 64), "fc1");
  net.add(make_relu(), "relu1");
  net.add(std::make_unique<Dense>(64, 32), "fc2");
  net.add(make_relu(), "relu2");
  net.add(std::make_unique<Dense>(32, 10), "fc3");
  randomize_parameters(net, seed);
  return net;
}

Network example_cnn(std::uint64_t seed) {
  Network net({1, 28, 28});
  Conv2dOptions c3{.kernel = {3, 3}, .padding = {1, 1}};
  net.add(std::make_unique<Conv2d>(1, 8, c3), "conv1");
  net.add(make_relu(), "relu1");
  net.add(std::make_unique<MaxPool2d>(Pool2dOptions{.kernel = {2, 2}}), "pool1");
  net.add(std::make_unique<Conv2d>(8, 16, c3), "conv2");
  net.add(make_relu(), "relu2");
  net.add(std::make_unique<AvgPool2d>(Pool2dOptions{.kernel = {2, 2}}), "pool2");
  net.add(std::make_unique<Flatten>(), "flatten");
  net.add(std::make_unique<Dense>(784, 10), "fc");
  randomize_parameters(net, seed);
  return net;
}

Tensor random_inputs(const Shape& shape, Index count, std::uint64_t seed, double low, double high) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> uniform(low, high);
  Tensor x(count, shape);
  x.data = x.data.unaryExpr([&](Scalar) { return static_cast<Scalar>(uniform(rng)); });
  return x;
}

}  // namespace lrp
