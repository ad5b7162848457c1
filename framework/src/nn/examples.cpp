#include "lrp/nn/examples.hpp"

#include "lrp/nn/layers.hpp"

#include <cmath>
#include <random>

namespace lrp {

void randomize_parameters(Network& network, std::uint64_t seed) {
  ExampleDraws draws(seed);
  for (Index l = 0; l < network.size(); ++l) network.layer(l).randomize(draws);
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
