// Shared by the benchmarks: the baseline every ratio is measured against.
#pragma once

#include "lrp/nn/network.hpp"

#include <chrono>

namespace lrp_bench {

// Seconds per inference forward pass of the batch x, averaged over at least 0.2 s of repetitions
// after one warm-up pass.
inline double seconds_per_forward(const lrp::Network& net, const lrp::Tensor& x, int threads) {
  lrp::ForwardPass pass;
  net.forward(x, pass, threads);
  int reps = 0;
  const auto start = std::chrono::steady_clock::now();
  double elapsed = 0;
  do {
    net.forward(x, pass, threads);
    ++reps;
    elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  } while (elapsed < 0.2);
  return elapsed / reps;
}

}  // namespace lrp_bench
