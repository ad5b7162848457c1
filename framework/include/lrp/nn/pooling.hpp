// The pooling layer handlers: max pooling, average pooling (and global average pooling).
#pragma once

#include "lrp/nn/layer.hpp"

#include <array>
#include <memory>
#include <vector>

namespace lrp {

// The input range [lo, hi) one pooling output reads along an axis, the kernel tap at lo, and the
// factor kernel / counted by which average pooling scales the window's sum along this axis: PyTorch
// divides by the window's extent within the padded input (1 except for a ceil_mode window that
// reaches past it).
struct PoolWindow {
  Index lo = 0, hi = 0, tap = 0;
  Scalar scale = 1;
};

struct Pool2dOptions {
  std::array<Index, 2> kernel{2, 2};
  std::array<Index, 2> stride{0, 0};  // 0: same as kernel (PyTorch's default)
  std::array<Index, 2> padding{0, 0};
  // PyTorch's ceil_mode: the output size rounds up, ceil((H + 2p − k)/s) + 1, less one when the last
  // window would start in the right padding; that last window may then reach past the padded input.
  bool ceil_mode = false;
};

// What max and average pooling share: the options, the output shape, and the input range of every
// output row and column (computed once by setup(), so that the loops carry no bounds tests).
class Pool2d : public Layer {
 public:
  const Pool2dOptions& options() const { return opt_; }
  std::string describe() const override;

 protected:
  Pool2d(Pool2dOptions options, const char* kind);
  Shape setup(const Shape& input_shape) override;
  // The common 2×2, stride-2 window without padding, which has straight-line fast paths.
  bool two_by_two() const;
  // The shared loops over planes and windows (defined and instantiated in layers.cpp).
  template <typename Fast, typename General>
  void forward_windows(const ConstMatrixRef& x, MatrixRef y, Fast fast, General general) const;
  template <typename Fast, typename General>
  void vjp_windows(const ConstMatrixRef& at, const ConstMatrixRef& g_out, MatrixRef g_in, bool accumulate, Fast fast,
                   General general) const;

  Pool2dOptions opt_;
  std::vector<PoolWindow> rows_, cols_;
};

// How max pooling routes a window's gradient (and winner-take-all relevance) when several inputs
// hold the window's maximum. kFirst is PyTorch's: the first maximum in the window's row-major scan
// (what torch's max-pool backward does, and so Zennit, Captum and every autograd gradient); kSplit
// shares it equally among the tied inputs. They agree wherever the maximum is unique; real images
// (flat backgrounds) have many ties.
enum class MaxPoolTies { kFirst, kSplit };
const char* to_string(MaxPoolTies ties);

// Max pooling; padding counts as -inf. The vjp routes each output's gradient to the arg-max of
// its window, ties as ties() says, and overlapping windows add up. A NaN counts as a maximum, as
// in torch's CPU kernel: the window's last NaN is its arg-max and its output (kSplit compares
// with the largest non-NaN value only).
class MaxPool2d final : public Pool2d {
 public:
  explicit MaxPool2d(Pool2dOptions options, MaxPoolTies ties = MaxPoolTies::kFirst)
      : Pool2d(options, "maxpool2d"), ties_(ties) {}
  std::string kind() const override { return "maxpool2d"; }
  LayerTraits traits() const override { return {}; }
  MaxPoolTies ties() const { return ties_; }
  void set_ties(MaxPoolTies ties) { ties_ = ties; }
  void forward(const ConstMatrixRef& x, const Params& p, MatrixRef y, Workspace& ws) const override;
  void vjp(const ConstMatrixRef& at, const Params& p, const ConstMatrixRef& g_out, MatrixRef g_in,
           Workspace& ws, bool accumulate) const override;

 private:
  MaxPoolTies ties_;
};

// Average pooling with zero padding counted in the divisor (PyTorch's count_include_pad=True; with
// ceil_mode, the part of a window past the padded input is not counted, as in PyTorch):
// a depthwise linear map with implicit uniform weights 1/(kh·kw), exposed as its weight [1, kh·kw]
// so that rules can modify them like any other weights. `global` averages each channel over the
// whole plane (the kernel is fixed by configure()). Those weights are implicit, not trainable: it
// keeps the default param_vjp, which leaves the gradients unchanged.
class AvgPool2d final : public Pool2d {
 public:
  explicit AvgPool2d(Pool2dOptions options);
  static std::unique_ptr<AvgPool2d> global();
  std::string kind() const override { return global_ ? "global_avgpool" : "avgpool2d"; }
  bool trainable() const override { return false; }  // the weights are the implicit kernel
  LayerTraits traits() const override { return {.linear = true}; }
  std::string describe() const override;
  void forward(const ConstMatrixRef& x, const Params& p, MatrixRef y, Workspace& ws) const override;
  void vjp(const ConstMatrixRef& at, const Params& p, const ConstMatrixRef& g_out, MatrixRef g_in,
           Workspace& ws, bool accumulate) const override;

 protected:
  Shape setup(const Shape& input_shape) override;
  void check_params(const Params& p) const override;

 private:
  void set_kernel(Index kh, Index kw);
  bool global_ = false;
};

}  // namespace lrp
