// Synthetic sequence tasks with known relevant positions: see sequence_tasks.hpp.
#include "lrp/io/sequence_tasks.hpp"

#include "data_internal.hpp"
#include "lrp/core/error.hpp"
#include "lrp/core/random.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>

namespace lrp {

Dataset marked_addition(Index count, Index steps, std::uint64_t seed, Index min_steps) {
  LRP_CHECK(count >= 1, "marked_addition: count must be ≥ 1, got ", count);
  LRP_CHECK(steps >= 2, "marked_addition: steps must be ≥ 2 (two steps are marked), got ", steps);
  LRP_CHECK(min_steps == 0 || (min_steps >= 2 && min_steps <= steps), "marked_addition: min_steps must be in [2, steps = ",
            steps, "] (two steps are marked), or 0 for sequences of fixed length; got ", min_steps);
  const bool variable = min_steps != 0 && min_steps < steps;
  LRP_CHECK(steps <= std::numeric_limits<Index>::max() / 2 / count, "marked_addition: count ", count, " × steps ",
            steps, " is too large");
  // The largest scalar below 1: a value that rounds up to 1 in float32 stays in [0, 1).
  const Scalar below_one = std::nextafter(Scalar(1), Scalar(0));
  Dataset dataset;
  dataset.source = detail::concat("marked_addition(count ", count, ", steps ", steps,
                                  variable ? detail::concat(", min_steps ", min_steps) : "", ", seed ", seed, ")");
  Matrix data = Matrix::Zero(count, 2 * steps);
  for (Index i = 0; i < count; ++i) {
    std::mt19937_64 rng(sample_seed(seed, i, kMarkedAdditionStream));
    const Index length =
        variable ? min_steps + static_cast<Index>(bounded(rng, static_cast<std::uint64_t>(steps - min_steps + 1))) : steps;
    if (variable) dataset.inputs.lengths.push_back(length);
    for (Index t = 0; t < length; ++t) data(i, 2 * t) = std::min(static_cast<Scalar>(uniform01(rng)), below_one);
    const auto a = static_cast<Index>(bounded(rng, static_cast<std::uint64_t>(length)));
    auto b = static_cast<Index>(bounded(rng, static_cast<std::uint64_t>(length - 1)));
    if (b >= a) ++b;
    data(i, 2 * a + 1) = 1;
    data(i, 2 * b + 1) = 1;
    const double sum = static_cast<double>(data(i, 2 * a)) + static_cast<double>(data(i, 2 * b));
    dataset.labels.push_back(sum > 1.0 ? 1 : 0);
    dataset.relevant.push_back({std::min(a, b), std::max(a, b)});
    dataset.indices.push_back(i);
  }
  std::vector<Index> lengths = std::move(dataset.inputs.lengths);
  dataset.inputs = Tensor(Shape{steps, 2}, std::move(data));
  dataset.inputs.lengths = std::move(lengths);
  return detail::finish_dataset(std::move(dataset));
}

Dataset long_range(Index count, Index steps, Index symbols, std::uint64_t seed) {
  LRP_CHECK(count >= 1, "long_range: count must be ≥ 1, got ", count);
  LRP_CHECK(steps >= 2, "long_range: steps must be ≥ 2 (a start marker and the class symbol), got ", steps);
  LRP_CHECK(symbols >= 2, "long_range: symbols must be ≥ 2 (the number of classes), got ", symbols);
  LRP_CHECK(steps <= std::numeric_limits<Index>::max() / count, "long_range: count ", count, " × steps ", steps,
            " is too large");
  // Token ids must be exact in the scalar type (2^24 in float32).
  LRP_CHECK(symbols <= (Index{1} << 20), "long_range: symbols must be ≤ 2^20 (token ids are stored as numbers), got ",
            symbols);
  const Index marker = symbols, first_distractor = symbols + 1;
  Dataset dataset;
  dataset.source =
      detail::concat("long_range(count ", count, ", steps ", steps, ", symbols ", symbols, ", seed ", seed, ")");
  Matrix data(count, steps);
  for (Index i = 0; i < count; ++i) {
    std::mt19937_64 rng(sample_seed(seed, i, kLongRangeStream));
    const auto p = static_cast<Index>(bounded(rng, static_cast<std::uint64_t>(steps - 1)));
    const auto c = static_cast<Index>(bounded(rng, static_cast<std::uint64_t>(symbols)));
    for (Index t = 0; t < steps; ++t) {
      if (t == p || t == p + 1) continue;
      data(i, t) = static_cast<Scalar>(
          first_distractor + static_cast<Index>(bounded(rng, static_cast<std::uint64_t>(kLongRangeDistractors))));
    }
    data(i, p) = static_cast<Scalar>(marker);
    data(i, p + 1) = static_cast<Scalar>(c);
    dataset.labels.push_back(c);
    dataset.relevant.push_back({p + 1});
    dataset.indices.push_back(i);
  }
  dataset.inputs = Tensor(Shape{steps}, std::move(data));
  return detail::finish_dataset(std::move(dataset));
}

Dataset one_hot_tokens(const Dataset& tokens, Index vocabulary) {
  LRP_CHECK(tokens.inputs.shape.size() == 1, "one_hot_tokens: '", tokens.source, "' has samples of shape ",
            to_string(tokens.inputs.shape), "; expected token ids of shape [T]");
  LRP_CHECK(vocabulary >= 1 && vocabulary <= (Index{1} << 20), "one_hot_tokens: vocabulary must be in [1, 2^20], got ",
            vocabulary);
  const Index steps = tokens.inputs.shape[0], count = tokens.inputs.batch();
  LRP_CHECK(steps <= std::numeric_limits<Index>::max() / vocabulary / std::max<Index>(count, 1), "one_hot_tokens: ",
            count, " samples × ", steps, " steps × vocabulary ", vocabulary, " is too large");
  Matrix data = Matrix::Zero(count, steps * vocabulary);
  for (Index i = 0; i < count; ++i)
    for (Index t = 0; t < steps; ++t) {
      const Scalar id = tokens.inputs.data(i, t);
      LRP_CHECK(id >= 0 && id < static_cast<Scalar>(vocabulary) && std::floor(id) == id, "one_hot_tokens: '",
                tokens.source, "': sample ", i, ", step ", t, " holds ", id,
                "; expected a token id, a whole number in [0, ", vocabulary, ")");
      data(i, t * vocabulary + static_cast<Index>(id)) = 1;
    }
  Dataset out;
  out.source = detail::concat(tokens.source, ", one-hot ", vocabulary);
  out.inputs = Tensor(Shape{steps, vocabulary}, std::move(data));
  out.labels = tokens.labels;
  out.indices = tokens.indices;
  out.relevant = tokens.relevant;
  return detail::finish_dataset(std::move(out));
}

}  // namespace lrp
