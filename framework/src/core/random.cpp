#include "lrp/core/random.hpp"

#include <cmath>
#include <numbers>
#include <utility>

namespace lrp {

std::uint64_t bounded(std::mt19937_64& rng, std::uint64_t n) {
  const std::uint64_t threshold = (0 - n) % n;  // 2^64 mod n: draws below it would bias the result
  for (;;) {
    const std::uint64_t x = rng();
    if (x >= threshold) return x % n;
  }
}

double uniform01(std::mt19937_64& rng) { return static_cast<double>(rng() >> 11) * 0x1.0p-53; }

double standard_normal(std::mt19937_64& rng) {
  const double u1 = 1.0 - uniform01(rng);  // (0, 1]: log is finite
  const double u2 = uniform01(rng);
  return std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * std::numbers::pi * u2);
}

void shuffle(std::vector<Index>& order, std::mt19937_64& rng) {
  for (auto i = order.size(); i > 1; --i) std::swap(order[i - 1], order[bounded(rng, i)]);
}

namespace {
std::uint64_t splitmix64(std::uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}
}  // namespace

std::uint64_t sample_seed(std::uint64_t seed, Index sample_id, std::uint64_t stream) {
  return splitmix64(splitmix64(splitmix64(seed) ^ static_cast<std::uint64_t>(sample_id)) ^ stream);
}

}  // namespace lrp
