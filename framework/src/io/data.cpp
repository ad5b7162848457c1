// Selections of samples (RowSelection, subset, sample), the seeded synthetic set and label checks
// (see lrp/io/data.hpp). The file readers are idx_data.cpp, csv_data.cpp and hdf5_data.cpp.
#include "lrp/io/data.hpp"

#include "data_internal.hpp"
#include "lrp/core/error.hpp"
#include "lrp/core/random.hpp"

#include <algorithm>
#include <cmath>
#include <random>
#include <unordered_map>

namespace lrp {

namespace {

void check_shape(const Shape& shape, const char* where) {
  LRP_CHECK(!shape.empty(), where, ": the sample shape is empty; expected at least one dimension");
  for (Index d : shape)
    LRP_CHECK(d > 0, where, ": the sample shape ", to_string(shape), " has a dimension ≤ 0");
}

Dataset finish(Dataset dataset) { return detail::finish_dataset(std::move(dataset)); }

Dataset select_rows(const Dataset& dataset, const std::vector<Index>& rows) {
  LRP_CHECK(dataset.relevant.empty() || static_cast<Index>(dataset.relevant.size()) == dataset.size(), "'",
            dataset.source, "' has ", dataset.relevant.size(), " lists of relevant positions for ", dataset.size(),
            " samples; expected one per sample (or none)");
  const bool masks = dataset.masks.rows() > 0;
  LRP_CHECK(!masks || (dataset.masks.rows() == dataset.size() && dataset.masks.cols() == dataset.inputs.features()),
            "'", dataset.source, "' has masks of ", dataset.masks.rows(), " × ", dataset.masks.cols(), " for ",
            dataset.size(), " samples of ", dataset.inputs.features(),
            " features; expected one mask row per sample with one value per feature (or none)");
  Dataset out;
  out.source = dataset.source;
  Matrix data(static_cast<Index>(rows.size()), dataset.inputs.features());
  if (masks) out.masks.resize(static_cast<Index>(rows.size()), dataset.masks.cols());
  for (size_t i = 0; i < rows.size(); ++i) {
    data.row(static_cast<Index>(i)) = dataset.inputs.data.row(rows[i]);
    if (masks) out.masks.row(static_cast<Index>(i)) = dataset.masks.row(rows[i]);
    out.indices.push_back(dataset.indices.empty() ? rows[i] : dataset.indices[static_cast<size_t>(rows[i])]);
    if (!dataset.labels.empty()) out.labels.push_back(dataset.labels[static_cast<size_t>(rows[i])]);
    if (!dataset.relevant.empty()) out.relevant.push_back(dataset.relevant[static_cast<size_t>(rows[i])]);
  }
  out.inputs = Tensor(dataset.inputs.shape, std::move(data));
  if (!dataset.inputs.lengths.empty())
    for (Index r : rows) out.inputs.lengths.push_back(dataset.inputs.lengths[static_cast<size_t>(r)]);
  return finish(std::move(out));
}

}  // namespace

Dataset subset(const Dataset& dataset, Index begin, Index end) {
  LRP_CHECK(0 <= begin && begin < end && end <= dataset.size(), "subset of '", dataset.source,
            "': range [", begin, ", ", end, ") is out of bounds; expected 0 ≤ begin < end ≤ ",
            dataset.size());
  std::vector<Index> rows;
  for (Index i = begin; i < end; ++i) rows.push_back(i);
  return select_rows(dataset, rows);
}

std::vector<Index> sample_rows(Index size, Index count, std::uint64_t seed) {
  // Partial Fisher–Yates over the virtual array 0, 1, ..., size − 1: only the touched positions are
  // stored, so drawing 20 rows of a billion costs 20 entries, with the same draw as a full array.
  std::unordered_map<Index, Index> moved;
  const auto at = [&](Index i) {
    const auto it = moved.find(i);
    return it == moved.end() ? i : it->second;
  };
  std::mt19937_64 rng(seed);
  std::vector<Index> rows(static_cast<size_t>(count));
  for (Index i = 0; i < count; ++i) {
    const auto j = i + static_cast<Index>(bounded(rng, static_cast<std::uint64_t>(size - i)));
    const Index vi = at(i), vj = at(j);
    moved[j] = vi;
    rows[static_cast<size_t>(i)] = vj;
  }
  std::sort(rows.begin(), rows.end());
  return rows;
}

RowSelection RowSelection::range(Index begin, Index end) {
  RowSelection s;
  s.kind = Kind::kRange;
  s.begin = begin;
  s.end = end;
  return s;
}

RowSelection RowSelection::draw(Index count, std::uint64_t seed) {
  RowSelection s;
  s.kind = Kind::kSample;
  s.count = count;
  s.seed = seed;
  return s;
}

Index RowSelection::count_in(Index size, const std::string& source) const {
  switch (kind) {
    case Kind::kAll: return size;
    case Kind::kRange: {
      const Index stop = end < 0 ? size : end;  // end < 0: to the last sample
      LRP_CHECK(0 <= begin && begin < stop && stop <= size, what, " [", begin, ", ", stop,
                ") is not a non-empty range within the ", size, " samples of '", source, "'");
      return stop - begin;
    }
    case Kind::kSample:
      LRP_CHECK(count >= 1 && count <= size, what, ".count ", count, " exceeds the ", size, " samples of '", source,
                "'");
      return count;
  }
  return 0;
}

std::vector<Index> RowSelection::rows(Index size, const std::string& source) const {
  const Index n = count_in(size, source);
  if (kind == Kind::kSample) return sample_rows(size, count, seed);
  std::vector<Index> out(static_cast<size_t>(n));
  const Index first = kind == Kind::kRange ? begin : 0;
  for (Index i = 0; i < n; ++i) out[static_cast<size_t>(i)] = first + i;
  return out;
}

Dataset repeat_samples(const Dataset& dataset, Index times) {
  LRP_CHECK(times >= 1, "repeat_samples: times = ", times, " must be at least 1");
  std::vector<Index> rows;
  rows.reserve(static_cast<std::size_t>(dataset.size() * times));
  for (Index i = 0; i < dataset.size(); ++i) rows.insert(rows.end(), static_cast<std::size_t>(times), i);
  Dataset out = select_rows(dataset, rows);
  // The same samples: their statistics as they were (recomputed over the copies, the mean could
  // differ in the last bit).
  out.value_min = dataset.value_min;
  out.value_max = dataset.value_max;
  out.mean = dataset.mean;
  return out;
}

Dataset every_nth_sample(const Dataset& dataset, Index step) {
  LRP_CHECK(step >= 1, "every_nth_sample: step = ", step, " must be at least 1");
  std::vector<Index> rows;
  for (Index i = 0; i < dataset.size(); i += step) rows.push_back(i);
  return select_rows(dataset, rows);
}

Dataset select(const Dataset& dataset, const RowSelection& selection) {
  if (selection.kind == RowSelection::Kind::kAll) return dataset;
  return select_rows(dataset, selection.rows(dataset.size(), dataset.source));
}

Dataset sample(const Dataset& dataset, Index count, std::uint64_t seed) {
  const Index size = dataset.size();
  LRP_CHECK(count >= 1 && count <= size, "sample of '", dataset.source, "': cannot draw ", count,
            " samples without replacement from ", size, "; expected 1 ≤ count ≤ ", size);
  return select_rows(dataset, sample_rows(size, count, seed));
}

std::uint64_t dataset_bytes(Index samples, Index features) {
  const auto n = static_cast<std::uint64_t>(samples), f = static_cast<std::uint64_t>(features);
  return saturating_add(saturating_mul(saturating_mul(n, f), 2 * sizeof(Scalar)), saturating_mul(n, 64));
}

Dataset synthetic_blobs(Shape sample_shape, Index count, Index classes, std::uint64_t seed, const Limits& limits) {
  check_shape(sample_shape, "synthetic_blobs");
  LRP_CHECK(count >= 1, "synthetic_blobs: count must be ≥ 1, got ", count);
  LRP_CHECK(classes >= 1, "synthetic_blobs: classes must be ≥ 1, got ", classes);
  const Index features = checked_numel(sample_shape, "synthetic_blobs");
  check_memory(saturating_add(dataset_bytes(count, features),
                              saturating_mul(saturating_mul(static_cast<std::uint64_t>(classes),
                                                            static_cast<std::uint64_t>(features)),
                                             sizeof(double))),
               limits, detail::concat("synthetic data of ", count, " samples of shape ", to_string(sample_shape)));
  std::mt19937_64 rng(seed);
  std::vector<double> patterns(static_cast<size_t>(classes * features));
  for (double& p : patterns) p = uniform01(rng);

  Dataset dataset;
  dataset.source = detail::concat("synthetic_blobs(shape ", to_string(sample_shape), ", count ", count,
                                  ", classes ", classes, ", seed ", seed, ")");
  Matrix data(count, features);
  for (Index i = 0; i < count; ++i) {
    const Index label = i % classes;
    for (Index f = 0; f < features; ++f) {
      const double value = patterns[static_cast<size_t>(label * features + f)] + 0.3 * standard_normal(rng);
      data(i, f) = static_cast<Scalar>(std::clamp(value, 0.0, 1.0));
    }
    dataset.labels.push_back(label);
    dataset.indices.push_back(i);
  }
  dataset.inputs = Tensor(std::move(sample_shape), std::move(data));
  return finish(std::move(dataset));
}

void check_labels(const Dataset& dataset, Index classes, const std::string& what) {
  LRP_CHECK(static_cast<Index>(dataset.labels.size()) == dataset.size(), what, ": the dataset '", dataset.source,
            "' has ", dataset.labels.size(), " labels for ", dataset.size(), " samples; expected one label per sample");
  for (std::size_t i = 0; i < dataset.labels.size(); ++i)
    LRP_CHECK(dataset.labels[i] >= 0 && dataset.labels[i] < classes, what, ": the dataset '", dataset.source,
              "': label ", dataset.labels[i], " of sample ", i,
              i < dataset.indices.size() ? " (index " + std::to_string(dataset.indices[i]) + " in the source)" : "",
              " is out of range; expected a class in [0, ", classes, ")");
}

}  // namespace lrp
