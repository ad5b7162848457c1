// The conv2d layer handler.
#pragma once

#include "lrp/nn/layer.hpp"

#include <array>

namespace lrp {

struct Conv2dOptions {
  std::array<Index, 2> kernel{3, 3};
  std::array<Index, 2> stride{1, 1};
  std::array<Index, 2> padding{0, 0};
  std::array<Index, 2> dilation{1, 1};
  Index groups = 1;
  bool bias = true;
};

// 2-d convolution (cross-correlation, as in PyTorch) with zero padding, stride, dilation and
// groups. Per sample, every product goes through one kernel (small_gemm.hpp): the forward pass is
// the weights times the unfolded input (stride-1 taps read in place from the padded input), the
// input gradient a convolution of the padded output gradient per residue class of the stride (no
// col2im), the weight gradient the unfolded input times the transposed output gradient; see
// conv2d.cpp. Weight [out, in/groups · kh · kw].
class Conv2d final : public Layer {
 public:
  Conv2d(Index in_channels, Index out_channels, Conv2dOptions options);
  std::string kind() const override { return "conv2d"; }
  LayerTraits traits() const override { return {.linear = true}; }
  std::string describe() const override;
  void forward(const ConstMatrixRef& x, const Params& p, MatrixRef y, Workspace& ws) const override;
  void vjp(const ConstMatrixRef& at, const Params& p, const ConstMatrixRef& g_out, MatrixRef g_in,
           Workspace& ws, bool accumulate) const override;
  void param_vjp(const ConstMatrixRef& at, const Params& p, const ConstMatrixRef& g_out, Params& grads,
                 Workspace& ws) const override;
  void forward_many(const ConstMatrixRef& x, std::span<const Params* const> ps, std::span<Scalar* const> ys,
                    Workspace& ws) const override;
  void vjp_many(const ConstMatrixRef& at, std::span<const Params* const> ps, std::span<const Scalar* const> gs,
                std::span<const Scalar> coefficients, MatrixRef g_in, Workspace& ws) const override;
  // PyTorch's fans: in/groups·kh·kw and out/groups·kh·kw.
  void initialize(InitScheme scheme, std::mt19937_64& rng) override;
  // weight in PyTorch's [out, in/groups, kh, kw] (the same bytes as lrplab's [out, in/groups·kh·kw]).
  std::vector<StoredArray> stored_arrays() const override;
  // Folds a following per-output-channel affine map (batch norm) into the kernels and the bias.
  LayerPtr absorb_affine(const ChannelAffine& affine) const override;
  const Conv2dOptions& options() const { return opt_; }
  Index in_channels() const { return in_ch_; }
  Index out_channels() const { return out_ch_; }

 protected:
  Shape setup(const Shape& input_shape) override;
  void check_params(const Params& p) const override;

 private:
  Index in_ch_, out_ch_;
  Conv2dOptions opt_;
};

}  // namespace lrp
