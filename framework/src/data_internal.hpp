// What the dataset readers share (data.cpp, hdf5_data.cpp); not part of the public API.
#pragma once

#include "lrp/data.hpp"
#include "lrp/error.hpp"

#include <vector>

namespace lrp::detail {

// Checks the dataset has samples and finite inputs, and fills value_min, value_max and the
// per-feature mean (accumulated in double: float32 sums over tens of thousands of samples lose digits).
inline Dataset finish_dataset(Dataset dataset) {
  const Matrix& data = dataset.inputs.data;
  LRP_CHECK(data.rows() > 0, dataset.source, ": the dataset has no samples");
  LRP_CHECK(all_finite(data), dataset.source, ": the inputs contain non-finite values");
  dataset.value_min = data.minCoeff();
  dataset.value_max = data.maxCoeff();
  std::vector<double> sums(static_cast<size_t>(data.cols()), 0.0);
  for (Index r = 0; r < data.rows(); ++r)
    for (Index c = 0; c < data.cols(); ++c) sums[static_cast<size_t>(c)] += data(r, c);
  dataset.mean.resize(1, data.cols());
  for (Index c = 0; c < data.cols(); ++c)
    dataset.mean(0, c) = static_cast<Scalar>(sums[static_cast<size_t>(c)] / static_cast<double>(data.rows()));
  return dataset;
}

}  // namespace lrp::detail
