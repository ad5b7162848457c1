// The layers that read two or more values of a graph network: add (the residual sum) and concat.
// The network hands such a layer its inputs side by side in one row per sample, [x_1 | x_2 | ...]
// (Layer::stack_inputs gives the shape of that stacked input), so that forward, vjp and every
// rule see one input matrix as for any other layer.
#pragma once

#include "lrp/nn/layer.hpp"

namespace lrp {

// y = Σ_k w_k x_k over k ≥ 2 inputs of one shape S: a linear layer whose implicit weight [1, k] is all
// ones (like average pooling's kernel, rules may modify it; it is not trained and not stored). Its
// stacked input has shape [k, S...], its output S. Default rule: norm (Zennit's rule for the residual
// sum), R_k = x_k · R / stab(Σ_j x_j).
class Add final : public Layer {
 public:
  std::string kind() const override { return "add"; }
  LayerTraits traits() const override { return {.linear = true}; }
  std::string describe() const override;
  bool trainable() const override { return false; }  // the weights are the implicit ones
  Shape stack_inputs(std::span<const Shape> inputs) const override;
  void forward(const ConstMatrixRef& x, const Params& p, MatrixRef y, Workspace& ws) const override;
  void vjp(const ConstMatrixRef& at, const Params& p, const ConstMatrixRef& g_out, MatrixRef g_in, Workspace& ws,
           bool accumulate) const override;
  Index inputs() const { return params_.weight.cols(); }

 protected:
  Shape setup(const Shape& input_shape) override;
  void check_params(const Params& p) const override;
};

// The inputs joined along their first axis (the channels of [C, H, W] values, the features of [F]
// ones; PyTorch's torch.cat(dim=1) on a batch): the inputs must agree on every other axis. The
// stacked input already is the joined value, so forward and vjp copy; relevance splits back to the
// inputs exactly (default rule pass).
class Concat final : public Layer {
 public:
  std::string kind() const override { return "concat"; }
  LayerTraits traits() const override { return {.reshape = true}; }
  std::string describe() const override { return "concat"; }
  Shape stack_inputs(std::span<const Shape> inputs) const override;
  void forward(const ConstMatrixRef& x, const Params& p, MatrixRef y, Workspace& ws) const override;
  void vjp(const ConstMatrixRef& at, const Params& p, const ConstMatrixRef& g_out, MatrixRef g_in, Workspace& ws,
           bool accumulate) const override;

 protected:
  Shape setup(const Shape& input_shape) override { return input_shape; }
};

}  // namespace lrp
