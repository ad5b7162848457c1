// The embedding layer handler (PyTorch's nn.Embedding).
#pragma once

#include "lrp/nn/layer.hpp"

namespace lrp {

// A lookup table, PyTorch's nn.Embedding(V, E): per sample the input is [T] token ids stored as
// numbers (each a whole number in [0, V)), the output [T, E] holds row id_t of the weight for each
// step t. Params: weight [V, E] (nn.Embedding.weight), no bias.
// The output is not differentiable in the ids: vjp throws lrp::Error (gradient-based methods need a
// differentiable input, e.g. one-hot vectors through a dense layer); param_vjp adds each step's
// output gradient into the row of the id it used. Its default LRP rule is `token_sum`
// (R_token[t] = Σ_e R[t, e]).
class Embedding final : public Layer {
 public:
  Embedding(Index vocab, Index dim);
  std::string kind() const override { return "embedding"; }
  LayerTraits traits() const override { return {}; }
  std::string describe() const override;
  void forward(const ConstMatrixRef& x, const Params& p, MatrixRef y, Workspace& ws) const override;
  void vjp(const ConstMatrixRef& at, const Params& p, const ConstMatrixRef& g_out, MatrixRef g_in,
           Workspace& ws, bool accumulate) const override;
  void param_vjp(const ConstMatrixRef& at, const Params& p, const ConstMatrixRef& g_out, Params& grads,
                 Workspace& ws) const override;
  void check_input(const ConstMatrixRef& x) const override;
  // PyTorch's nn.Embedding.reset_parameters, whatever the scheme: every entry ~ N(0, 1).
  void initialize(InitScheme scheme, std::mt19937_64& rng) override;

  Index vocab() const { return vocab_; }
  Index dim() const { return dim_; }

 protected:
  Shape setup(const Shape& input_shape) override;
  void check_params(const Params& p) const override;

 private:
  // The id at (row, step) of x, or lrp::Error naming the layer, the sample (row) and step and the value.
  Index token(const ConstMatrixRef& x, Index row, Index step) const;
  Index vocab_, dim_;
};

}  // namespace lrp
