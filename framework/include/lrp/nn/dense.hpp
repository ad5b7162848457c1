// The dense (fully connected) layer handler.
#pragma once

#include "lrp/nn/layer.hpp"

namespace lrp {

// y = W x + b, W [out, in].
class Dense final : public Layer {
 public:
  Dense(Index in_features, Index out_features, bool bias = true);
  std::string kind() const override { return "dense"; }
  LayerTraits traits() const override { return {.linear = true}; }
  std::string describe() const override;
  void forward(const ConstMatrixRef& x, const Params& p, MatrixRef y, Workspace& ws) const override;
  void vjp(const ConstMatrixRef& at, const Params& p, const ConstMatrixRef& g_out, MatrixRef g_in,
           Workspace& ws, bool accumulate) const override;
  void param_vjp(const ConstMatrixRef& at, const Params& p, const ConstMatrixRef& g_out, Params& grads,
                 Workspace& ws) const override;
  // Folds a following per-output affine map (batch norm) into W and b.
  LayerPtr absorb_affine(const ChannelAffine& affine) const override;
  Index in_features() const { return in_; }
  Index out_features() const { return out_; }

 protected:
  Shape setup(const Shape& input_shape) override;
  void check_params(const Params& p) const override;

 private:
  Index in_, out_;
  bool bias_;
};

}  // namespace lrp
