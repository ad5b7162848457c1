// The flatten layer handler.
#pragma once

#include "lrp/nn/layer.hpp"

namespace lrp {

// {C, H, W} (or any shape) → {C·H·W}.
class Flatten final : public Layer {
 public:
  std::string kind() const override { return "flatten"; }
  LayerTraits traits() const override { return {.reshape = true}; }
  std::string describe() const override { return "flatten"; }
  void forward(const ConstMatrixRef& x, const Params& p, MatrixRef y, Workspace& ws) const override;
  void vjp(const ConstMatrixRef& at, const Params& p, const ConstMatrixRef& g_out, MatrixRef g_in,
           Workspace& ws, bool accumulate) const override;

 protected:
  Shape setup(const Shape& input_shape) override;
};

}  // namespace lrp
