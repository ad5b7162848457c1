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

}  // namespace lrp
