// Small example networks with seeded random weights, used by the quickstart, the tests and the
// benchmarks (trained models arrive with the models issue).
#pragma once

#include "lrp/nn/network.hpp"

#include <cstdint>

namespace lrp {

// MLP 784-64-32-10 with ReLU: dense, relu, dense, relu, dense.
Network example_mlp(std::uint64_t seed);
// CNN on 1×28×28: conv(1→8, 3×3, pad 1), relu, maxpool 2, conv(8→16, 3×3, pad 1), relu, avgpool 2,
// flatten, dense(784→10). Layer names: conv1 relu1 pool1 conv2 relu2 pool2 flatten fc.
Network example_cnn(std::uint64_t seed);

// Gives every layer plausible random values through Layer::randomize, from one seeded generator in
// layer order: dense and conv weights He-normal N(0, 2/fan_in) and biases N(0, 0.1²), batch norm
// γ, β and statistics (see BatchNorm::randomize); other built-in layers keep their values.
void randomize_parameters(Network& network, std::uint64_t seed);

// N samples of the network's input shape, i.i.d. uniform in [low, high), seeded.
Tensor random_inputs(const Shape& shape, Index count, std::uint64_t seed, double low = 0.0, double high = 1.0);

}  // namespace lrp
