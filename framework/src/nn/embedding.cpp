// The embedding layer handler: PyTorch's nn.Embedding(V, E) as a lookup of weight rows by token id.
#include "lrp/nn/embedding.hpp"

#include "lrp/core/error.hpp"
#include "lrp/core/random.hpp"

#include <cmath>

namespace lrp {

Embedding::Embedding(Index vocab, Index dim) : vocab_(vocab), dim_(dim) {
  LRP_CHECK(vocab_ >= 1, "embedding: the vocabulary size must be ≥ 1, got ", vocab_);
  LRP_CHECK(dim_ >= 1, "embedding: the embedding dimension must be ≥ 1, got ", dim_);
  params_.weight = Matrix::Zero(vocab_, dim_);
}

std::string Embedding::describe() const { return detail::concat("embedding(", vocab_, " tokens -> ", dim_, ")"); }

Shape Embedding::setup(const Shape& in) {
  LRP_CHECK(in.size() == 1, "layer '", name(), "' (embedding): expected an input of shape [T] (one token id per ",
            "time step), got ", to_string(in));
  return {in[0], dim_};
}

void Embedding::check_params(const Params& p) const {
  LRP_CHECK(p.weight.rows() == vocab_ && p.weight.cols() == dim_, "layer '", name(), "' (embedding): weight has shape [",
            p.weight.rows(), ", ", p.weight.cols(), "], expected [", vocab_, ", ", dim_, "] (vocab, dim)");
  LRP_CHECK(p.bias.size() == 0, "layer '", name(), "' (embedding): has no bias, but a bias of ", p.bias.size(),
            " entries was given");
}

Index Embedding::token(const ConstMatrixRef& x, Index row, Index step) const {
  const Scalar v = x(row, step);
  // A whole number in [0, V): compared as a Scalar, so that a huge value never overflows Index.
  LRP_CHECK(std::isfinite(v) && v == std::floor(v) && v >= Scalar(0) && v < static_cast<Scalar>(vocab_), "layer '",
            name(), "' (embedding): sample ", row, ", step ", step, " holds the token id ", v,
            "; expected a whole number in [0, ", vocab_, ")");
  return static_cast<Index>(v);
}

void Embedding::check_input(const ConstMatrixRef& x) const {
  for (Index r = 0; r < x.rows(); ++r)
    for (Index t = 0; t < x.cols(); ++t) token(x, r, t);
}

void Embedding::forward(const ConstMatrixRef& x, const Params& p, MatrixRef y, Workspace&) const {
  const Index steps = input_shape()[0];
  for (Index r = 0; r < x.rows(); ++r)
    for (Index t = 0; t < steps; ++t) y.row(r).segment(t * dim_, dim_) = p.weight.row(token(x, r, t));
}

void Embedding::vjp(const ConstMatrixRef&, const Params&, const ConstMatrixRef&, MatrixRef, Workspace&, bool) const {
  LRP_FAIL("layer '", name(), "' (embedding): its output is not differentiable with respect to the token ids, so ",
           "gradient-based methods (gradient, gradient × input, integrated gradients, SmoothGrad, the `gradient` rule) ",
           "cannot run through it; give the model a differentiable input instead, e.g. one-hot vectors [T, V] ",
           "through a dense layer without bias (the same lookup), or explain with LRP (token_sum on the embedding)");
}

void Embedding::param_vjp(const ConstMatrixRef& at, const Params& p, const ConstMatrixRef& g_out, Params& grads,
                          Workspace&) const {
  LRP_CHECK(grads.weight.rows() == p.weight.rows() && grads.weight.cols() == p.weight.cols() && grads.bias.size() == 0,
            "layer '", name(), "' (embedding): parameter gradients have shape [", grads.weight.rows(), ", ",
            grads.weight.cols(), "], expected [", vocab_, ", ", dim_, "] and no bias");
  const Index steps = input_shape()[0];
  for (Index r = 0; r < at.rows(); ++r)
    for (Index t = 0; t < steps; ++t) grads.weight.row(token(at, r, t)) += g_out.row(r).segment(t * dim_, dim_);
}

void Embedding::initialize(InitScheme, std::mt19937_64& rng) {
  Params p = params_;
  for (Index i = 0; i < p.weight.size(); ++i) p.weight.data()[i] = static_cast<Scalar>(standard_normal(rng));
  set_params(std::move(p));
}

}  // namespace lrp
