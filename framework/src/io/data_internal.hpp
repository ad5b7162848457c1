// What the dataset readers share (data.cpp, idx_data.cpp, csv_data.cpp, hdf5_data.cpp); not part of
// the public API.
#pragma once

#include "lrp/io/data.hpp"
#include "lrp/core/error.hpp"

#include <cstdint>
#include <string>
#include <vector>

namespace lrp::detail {

// A regular file open for reading, closed on destruction. Opened without blocking and checked to
// be a regular file first, so that a FIFO or a device named as a data file is an error, not a hang.
class InputFile {
 public:
  // `what` names the file in messages ("IDX images file").
  InputFile(const std::string& path, const std::string& what);
  InputFile(const InputFile&) = delete;
  InputFile& operator=(const InputFile&) = delete;
  ~InputFile();

  int fd() const { return fd_; }
  std::uint64_t size() const { return size_; }
  // Up to n bytes from `offset` into out; fewer only where the file ends. Errors are lrp::Errors.
  std::uint64_t read_at(void* out, std::uint64_t n, std::uint64_t offset) const;

 private:
  std::string path_, what_;
  int fd_ = -1;
  std::uint64_t size_ = 0;
};

// Checks the dataset has samples, finite inputs and (when it has any) one list of relevant
// positions per sample, each sorted, distinct and within the first axis of the sample shape; fills
// value_min, value_max and the per-feature mean (accumulated in double: float32 sums over tens of
// thousands of samples lose digits).
inline Dataset finish_dataset(Dataset dataset) {
  const Matrix& data = dataset.inputs.data;
  LRP_CHECK(data.rows() > 0, dataset.source, ": the dataset has no samples");
  LRP_CHECK(all_finite(data), dataset.source, ": the inputs contain non-finite values");
  const std::vector<Index>& lengths = dataset.inputs.lengths;
  if (!lengths.empty()) {
    LRP_CHECK(static_cast<Index>(lengths.size()) == data.rows(), dataset.source, ": ", lengths.size(),
              " sequence lengths for ", data.rows(), " samples; expected one per sample (or none)");
    const Index steps = dataset.inputs.shape.front();
    for (std::size_t i = 0; i < lengths.size(); ++i)
      LRP_CHECK(lengths[i] >= 1 && lengths[i] <= steps, dataset.source, ": sample ", i, " has length ", lengths[i],
                " but the samples have T = ", steps, " steps (expected a length in [1, ", steps, "])");
  }
  if (!dataset.relevant.empty()) {
    LRP_CHECK(static_cast<Index>(dataset.relevant.size()) == data.rows(), dataset.source, ": ",
              dataset.relevant.size(), " lists of relevant positions for ", data.rows(),
              " samples; expected one per sample (or none)");
    for (std::size_t i = 0; i < dataset.relevant.size(); ++i) {
      // Relevant positions lie within the sample's real steps.
      const Index steps = lengths.empty() ? (dataset.inputs.shape.empty() ? 0 : dataset.inputs.shape[0]) : lengths[i];
      const std::vector<Index>& r = dataset.relevant[i];
      for (std::size_t k = 0; k < r.size(); ++k)
        LRP_CHECK(r[k] >= 0 && r[k] < steps && (k == 0 || r[k - 1] < r[k]), dataset.source,
                  ": the relevant positions of sample ", i, " are not sorted, distinct positions in [0, ", steps, ")",
                  lengths.empty() ? "" : " (its length)");
    }
  }
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
