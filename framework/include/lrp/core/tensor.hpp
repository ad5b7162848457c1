// Tensors: a batch of samples as a row-major matrix (one row per sample) plus a per-sample shape.
//
// The scalar type is fixed at compile time: float32 by default, float64 when lrplab is configured
// with -DLRP_FLOAT64=ON (the reference mode the test suite also passes at 1e-10).
#pragma once

#include <Eigen/Core>

#include <cstdint>
#include <string>
#include <vector>

namespace lrp {

#ifdef LRP_FLOAT64
using Scalar = double;
#else
using Scalar = float;
#endif

using Index = Eigen::Index;
// Rows are samples; a sample's features are stored in C×H×W (or D) order in its row.
using Matrix = Eigen::Matrix<Scalar, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
using Vector = Eigen::Matrix<Scalar, Eigen::Dynamic, 1>;
using RowVector = Eigen::Matrix<Scalar, 1, Eigen::Dynamic>;
using MatrixMap = Eigen::Map<Matrix>;
using ConstMatrixMap = Eigen::Map<const Matrix>;
using MatrixRef = Eigen::Ref<Matrix>;
using ConstMatrixRef = Eigen::Ref<const Matrix>;

// Per-sample shape, without the batch dimension: {D} or {C, H, W}.
using Shape = std::vector<Index>;

Index numel(const Shape& shape);
std::string to_string(const Shape& shape);

// A batch of samples: data is N × numel(shape).
struct Tensor {
  Shape shape;
  Matrix data;
  // Per-sample sequence lengths, for sequences whose first axis is time ([T, D] or [T]): empty (every
  // sample uses all T steps) or one per row, row n using steps 0 … lengths[n] − 1 and the rest being
  // padding that changes nothing (1 ≤ lengths[n] ≤ T; Network::forward checks them).
  std::vector<Index> lengths;

  Tensor() = default;
  Tensor(Index batch, Shape sample_shape);
  Tensor(Shape sample_shape, Matrix values);

  Index batch() const { return data.rows(); }
  Index features() const { return data.cols(); }
  // Sample n's length: lengths[n], or T (the first axis of the shape) when there are no lengths.
  Index length(Index n) const { return lengths.empty() ? shape.front() : lengths[static_cast<size_t>(n)]; }
};

// Several targets per sample (a run's `target: [3, 5]`): each row repeated `times` times in place,
// row i becoming rows i·times … i·times + times − 1 (with its sequence length); and the inverse
// selection, rows 0, step, 2·step, ...
Matrix repeat_rows(const Matrix& m, Index times);
Tensor repeat_rows(const Tensor& t, Index times);
Tensor every_nth_row(const Tensor& t, Index step);

// True when every value is finite. Vectorized (x·0 is 0 for finite x and NaN otherwise), unlike
// Eigen's allFinite(), which runs as a scalar loop and showed up in explanation profiles.
template <typename Derived>
bool all_finite(const Eigen::DenseBase<Derived>& m) {
  return (m.derived().array() * typename Derived::Scalar(0)).sum() == typename Derived::Scalar(0);
}

// Name of the scalar type this build computes in ("float32" or "float64").
const char* scalar_name();

}  // namespace lrp
