// Random relevance (the chance level): the function and its registry entry.
#include "method_support.hpp"

#include "lrp/core/random.hpp"

#include <random>

namespace lrp {

using namespace methods_detail;

namespace {

constexpr const char* kRandom = "random_relevance";

}  // namespace

Tensor random_relevance(const Shape& shape, const std::vector<Index>& sample_ids, std::uint64_t seed) {
  LRP_CHECK(!shape.empty() && numel(shape) > 0, kRandom, ": the sample shape ", to_string(shape), " is empty");
  for (Index d : shape) LRP_CHECK(d > 0, kRandom, ": the sample shape ", to_string(shape), " has a dimension ≤ 0");
  Tensor out(static_cast<Index>(sample_ids.size()), shape);
  const Scalar below_one = std::nextafter(Scalar(1), Scalar(0));
  for (Index i = 0; i < out.batch(); ++i) {
    std::mt19937_64 rng(sample_seed(seed, sample_ids[static_cast<size_t>(i)], 0));
    for (Index f = 0; f < out.features(); ++f)  // rounding to float32 may reach 1: keep [0, 1)
      out.data(i, f) = std::min(static_cast<Scalar>(uniform01(rng)), below_one);
  }
  return out;
}

namespace {

MethodInfo random_method() {
  MethodInfo info;
  info.name = "random";
  info.doc = "i.i.d. uniform relevance in [0, 1) (the chance level)";
  info.factory = [](const ParamMap&, const MethodSetup& setup) {
    return baseline([seed = setup.seed](const MethodBatch& b) {
      return random_relevance(b.network.input_shape(), b.sample_ids, seed);
    });
  };
  return info;
}

}  // namespace

void register_method_random(Registry& registry) { registry.add_method(random_method()); }

}  // namespace lrp
