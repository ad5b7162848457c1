// Seeded random draws that give the same numbers with every standard library: the standard's
// distributions (uniform_int_distribution, normal_distribution, std::shuffle) are not specified
// exactly, so everything whose result is stored or compared (subsets, shuffles, synthetic data)
// draws through these from the raw std::mt19937_64 stream.
#pragma once

#include "lrp/tensor.hpp"

#include <cstdint>
#include <random>
#include <vector>

namespace lrp {

// Unbiased integer in [0, n), n ≥ 1 (rejection of the short last block of the 64-bit range).
std::uint64_t bounded(std::mt19937_64& rng, std::uint64_t n);
// Uniform in [0, 1) with 53 random bits.
double uniform01(std::mt19937_64& rng);
// Standard normal by Box–Muller.
double standard_normal(std::mt19937_64& rng);
// Fisher–Yates shuffle in place.
void shuffle(std::vector<Index>& order, std::mt19937_64& rng);

}  // namespace lrp
