// Internal to the nn module: the checks and shape arithmetic the built-in layer handlers share
// (dense.cpp, conv2d.cpp, pooling.cpp, activations.cpp, batchnorm.cpp, flatten.cpp, merge.cpp).
#pragma once

#include "lrp/core/error.hpp"
#include "lrp/nn/layer.hpp"

#include <string>

namespace lrp::detail {


inline std::string where(const Layer& layer) { return "layer '" + layer.name() + "' (" + layer.kind() + ")"; }

inline void check_shape(const Layer& layer, const char* what, Index rows, Index cols, Index want_rows, Index want_cols) {
  LRP_CHECK(rows == want_rows && cols == want_cols, where(layer), ": ", what, " has shape [", rows, ", ", cols,
            "], expected [", want_rows, ", ", want_cols, "]");
}

inline void check_bias(const Layer& layer, const Vector& bias, Index want) {
  LRP_CHECK(bias.size() == 0 || bias.size() == want, where(layer), ": bias has ", bias.size(),
            " entries, expected ", want, " (or none)");
}

// Spatial output size of a sliding window, as PyTorch computes it; 0 when the (dilated) window
// does not fit into the padded input even once.
inline Index window_out(Index in, Index kernel, Index stride, Index pad, Index dilation) {
  const Index span = in + 2 * pad - dilation * (kernel - 1) - 1;
  return span < 0 ? 0 : span / stride + 1;
}

inline Shape require_chw(const Layer& layer, const Shape& in) {
  LRP_CHECK(in.size() == 3, where(layer), ": expected an input of shape [C, H, W], got ", to_string(in));
  return in;
}

// The vjp of a layer whose output is its input's values (flatten, dropout at inference, concat):
// g_in = g_out, or g_in += g_out.
inline void identity_vjp(const ConstMatrixRef& g_out, MatrixRef g_in, bool accumulate) {
  if (accumulate)
    g_in += g_out;
  else
    g_in = g_out;
}

// param_vjp accumulates into grads, so its shapes must be p's (checked once per call, not per sample).
inline void check_grads(const Layer& layer, const Params& p, const Params& grads) {
  LRP_CHECK(same_shapes(grads, p),
            where(layer), ": parameter gradients have shapes [", grads.weight.rows(), ", ", grads.weight.cols(),
            "] and [", grads.bias.size(), "], expected the parameters' [", p.weight.rows(), ", ", p.weight.cols(),
            "] and [", p.bias.size(), "]");
}

}  // namespace lrp::detail
