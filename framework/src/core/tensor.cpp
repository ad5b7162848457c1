#include "lrp/core/tensor.hpp"

#include "lrp/core/error.hpp"

#include <sstream>

namespace lrp {

Index numel(const Shape& shape) {
  Index n = 1;
  for (Index d : shape)
    LRP_CHECK(!__builtin_mul_overflow(n, d, &n), "the shape ", to_string(shape), " has more elements than fit in 64 bits");
  return n;
}

std::string to_string(const Shape& shape) {
  std::ostringstream out;
  out << '[';
  for (size_t i = 0; i < shape.size(); ++i) out << (i ? ", " : "") << shape[i];
  out << ']';
  return out.str();
}

Tensor::Tensor(Index batch, Shape sample_shape)
    : shape(std::move(sample_shape)), data(Matrix::Zero(batch, numel(shape))) {}

Tensor::Tensor(Shape sample_shape, Matrix values) : shape(std::move(sample_shape)), data(std::move(values)) {
  LRP_CHECK(data.cols() == numel(shape), "tensor: values have ", data.cols(),
            " features per sample, but the shape ", to_string(shape), " needs ", numel(shape));
}

const char* scalar_name() { return sizeof(Scalar) == 8 ? "float64" : "float32"; }

Matrix repeat_rows(const Matrix& m, Index times) {
  LRP_CHECK(times >= 1, "repeat_rows: times = ", times, " must be at least 1");
  Matrix out(m.rows() * times, m.cols());
  for (Index i = 0; i < m.rows(); ++i) out.middleRows(i * times, times).rowwise() = m.row(i);
  return out;
}

Tensor repeat_rows(const Tensor& t, Index times) {
  Tensor out(t.shape, repeat_rows(t.data, times));
  for (const Index length : t.lengths) out.lengths.insert(out.lengths.end(), static_cast<std::size_t>(times), length);
  return out;
}

Tensor every_nth_row(const Tensor& t, Index step) {
  LRP_CHECK(step >= 1, "every_nth_row: step = ", step, " must be at least 1");
  const Index rows = (t.batch() + step - 1) / step;
  Tensor out(rows, t.shape);
  for (Index i = 0; i < rows; ++i) {
    out.data.row(i) = t.data.row(i * step);
    if (!t.lengths.empty()) out.lengths.push_back(t.lengths[static_cast<std::size_t>(i * step)]);
  }
  return out;
}

}  // namespace lrp
