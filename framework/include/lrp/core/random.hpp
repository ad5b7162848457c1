// Seeded random draws that give the same numbers with every standard library: the standard's
// distributions (uniform_int_distribution, normal_distribution, std::shuffle) are not specified
// exactly, so everything whose result is stored or compared (subsets, shuffles, synthetic data)
// draws through these from the raw std::mt19937_64 stream.
#pragma once

#include "lrp/core/tensor.hpp"

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
// The seed of one sample's random choices (noise fills, random orders, random relevance, noisy
// copies): a SplitMix64 mix of the experiment seed, the sample's index in its data source and a
// stream number (one per purpose/repeat). Results then depend on the sample, never on the batch,
// the thread or the process that handles it.
std::uint64_t sample_seed(std::uint64_t seed, Index sample_id, std::uint64_t stream = 0);
// Fisher–Yates shuffle in place.
void shuffle(std::vector<Index>& order, std::mt19937_64& rng);

}  // namespace lrp
