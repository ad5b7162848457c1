// The flatten layer.
#include "lrp/nn/flatten.hpp"

#include "layer_checks.hpp"

namespace lrp {

Shape Flatten::setup(const Shape& in) { return {numel(in)}; }

void Flatten::forward(const ConstMatrixRef& x, const Params&, MatrixRef y, Workspace&) const { y = x; }

void Flatten::vjp(const ConstMatrixRef&, const Params&, const ConstMatrixRef& g_out, MatrixRef g_in, Workspace&,
                  bool accumulate) const {
  detail::identity_vjp(g_out, g_in, accumulate);
}

}  // namespace lrp
