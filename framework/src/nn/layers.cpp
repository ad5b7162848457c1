// The built-in layers (dense, conv, pooling, batch norm, reshapes, activations). One file over 800
// lines: the pooling, convolution and elementwise kernels share local helpers; issue 16 (module
// layout) splits it by layer family.

#include "lrp/nn/layers.hpp"

#include "lrp/core/error.hpp"
#include "lrp/core/limits.hpp"
#include "lrp/core/random.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <sstream>
#include <type_traits>
#include <vector>

namespace lrp {
namespace {

std::string where(const Layer& layer) { return "layer '" + layer.name() + "' (" + layer.kind() + ")"; }

void check_shape(const Layer& layer, const char* what, Index rows, Index cols, Index want_rows, Index want_cols) {
  LRP_CHECK(rows == want_rows && cols == want_cols, where(layer), ": ", what, " has shape [", rows, ", ", cols,
            "], expected [", want_rows, ", ", want_cols, "]");
}

void check_bias(const Layer& layer, const Vector& bias, Index want) {
  LRP_CHECK(bias.size() == 0 || bias.size() == want, where(layer), ": bias has ", bias.size(),
            " entries, expected ", want, " (or none)");
}

// Spatial output size of a sliding window, as PyTorch computes it; 0 when the (dilated) window
// does not fit into the padded input even once.
Index window_out(Index in, Index kernel, Index stride, Index pad, Index dilation) {
  const Index span = in + 2 * pad - dilation * (kernel - 1) - 1;
  return span < 0 ? 0 : span / stride + 1;
}

Shape require_chw(const Layer& layer, const Shape& in) {
  LRP_CHECK(in.size() == 3, where(layer), ": expected an input of shape [C, H, W], got ", to_string(in));
  return in;
}

// param_vjp accumulates into grads, so its shapes must be p's (checked once per call, not per sample).
void check_grads(const Layer& layer, const Params& p, const Params& grads) {
  LRP_CHECK(same_shapes(grads, p),
            where(layer), ": parameter gradients have shapes [", grads.weight.rows(), ", ", grads.weight.cols(),
            "] and [", grads.bias.size(), "], expected the parameters' [", p.weight.rows(), ", ", p.weight.cols(),
            "] and [", p.bias.size(), "]");
}

}  // namespace

// ---------------------------------------------------------------- dense

Dense::Dense(Index in_features, Index out_features, bool bias) : in_(in_features), out_(out_features), bias_(bias) {
  LRP_CHECK(in_ > 0 && out_ > 0, "dense: in_features and out_features must be positive, got ", in_, " and ", out_);
  params_.weight = Matrix::Zero(out_, in_);
  if (bias_) params_.bias = Vector::Zero(out_);
}

std::string Dense::describe() const {
  return detail::concat("dense(", in_, " -> ", out_, bias_ ? "" : ", no bias", ")");
}

Shape Dense::setup(const Shape& in) {
  LRP_CHECK(in.size() == 1 && in[0] == in_, where(*this), ": expected an input of shape [", in_, "], got ",
            to_string(in), in.size() > 1 ? " (add a flatten layer before it)" : "");
  return {out_};
}

void Dense::check_params(const Params& p) const {
  check_shape(*this, "weight", p.weight.rows(), p.weight.cols(), out_, in_);
  check_bias(*this, p.bias, out_);
  LRP_CHECK(bias_ || p.bias.size() == 0, where(*this), ": the layer was declared without bias, but a bias was given");
}

void Dense::forward(const ConstMatrixRef& x, const Params& p, MatrixRef y, Workspace&) const {
  y.noalias() = x * p.weight.transpose();
  if (p.has_bias()) y.rowwise() += p.bias.transpose();
}

void Dense::vjp(const ConstMatrixRef&, const Params& p, const ConstMatrixRef& g_out, MatrixRef g_in, Workspace&,
                bool accumulate) const {
  if (accumulate)
    g_in.noalias() += g_out * p.weight;
  else
    g_in.noalias() = g_out * p.weight;
}

// y = x Wᵀ + b: ∂/∂W Σ g ⊙ y = g_outᵀ x and ∂/∂b = the column sums of g_out, both summed over the batch
// by the product itself.
void Dense::param_vjp(const ConstMatrixRef& at, const Params& p, const ConstMatrixRef& g_out, Params& grads,
                      Workspace&) const {
  check_grads(*this, p, grads);
  grads.weight.noalias() += g_out.transpose() * at;
  if (grads.has_bias()) grads.bias += g_out.colwise().sum().transpose();
}

// ---------------------------------------------------------------- conv2d

namespace {

struct ConvGeometry {
  Index channels, height, width, out_height, out_width;
  Index kh, kw, sh, sw, ph, pw, dh, dw;
  Index patch() const { return kh * kw; }
  Index positions() const { return out_height * out_width; }
};

using Span = Eigen::Array<Scalar, Eigen::Dynamic, 1>;
using SpanMap = Eigen::Map<Span>;
using ConstSpanMap = Eigen::Map<const Span>;

// Both unfolds go through a copy of the input planes with zero borders, [C, H + 2ph, W + 2pw]: every
// read or write of a window position is then in bounds, and each (channel, tap, output row) is one
// contiguous span of output columns.
Index padded_size(const ConvGeometry& g) { return g.channels * (g.height + 2 * g.ph) * (g.width + 2 * g.pw); }

// cols[(c·kh + i)·kw + j, oh·Wo + ow] = x[c, oh·sh − ph + i·dh, ow·sw − pw + j·dw] (0 outside).
void im2col(const Scalar* x, const ConvGeometry& g, Scalar* padded, MatrixMap& cols) {
  const Index Hp = g.height + 2 * g.ph, Wp = g.width + 2 * g.pw, P = g.positions();
  const Scalar* source = x;  // without padding, the input itself
  if (g.ph != 0 || g.pw != 0) {
    std::fill_n(padded, padded_size(g), Scalar(0));
    for (Index c = 0; c < g.channels; ++c)
      for (Index h = 0; h < g.height; ++h)
        SpanMap(padded + (c * Hp + h + g.ph) * Wp + g.pw, g.width) = ConstSpanMap(x + (c * g.height + h) * g.width, g.width);
    source = padded;
  }
  for (Index c = 0; c < g.channels; ++c) {
    for (Index i = 0; i < g.kh; ++i) {
      for (Index j = 0; j < g.kw; ++j) {
        Scalar* row = cols.data() + ((c * g.kh + i) * g.kw + j) * P;
        for (Index oh = 0; oh < g.out_height; ++oh) {
          const Scalar* __restrict src = source + (c * Hp + oh * g.sh + i * g.dh) * Wp + j * g.dw;
          Scalar* __restrict dst = row + oh * g.out_width;
          for (Index ow = 0; ow < g.out_width; ++ow) dst[ow] = src[ow * g.sw];
        }
      }
    }
  }
}

// Equal patches must give bitwise-equal outputs, as they do in PyTorch: real images have flat regions
// whose positions all see the same patch, and max pooling over them has ties that torch routes to
// the first maximum (MaxPool2d). A GEMM kernel does not promise that: its edge tiles accumulate in
// another order than its main tiles (Eigen with AVX-512 rounds 14% of the positions of a 14 x 14
// plane differently), which would break ties torch keeps. So the conv finds the columns of `cols`
// that repeat an earlier column (bit for bit) and copies the earlier column's outputs to them.
// Returns rep, rep[p] the first column equal to column p (p itself when it is the first), or nullptr
// when no column repeats. The buffers are the calling thread's: they grow to the largest plane once
// and are reused.
const Index* repeated_columns(const MatrixMap& cols) {
  using Bits = std::conditional_t<sizeof(Scalar) == 8, std::uint64_t, std::uint32_t>;
  thread_local std::vector<std::uint64_t> hash;
  thread_local std::vector<Index> table, rep;
  const Index K = cols.rows(), P = cols.cols();
  hash.assign(static_cast<std::size_t>(P), 0xcbf29ce484222325ULL);
  for (Index k = 0; k < K; ++k) {
    const Scalar* row = cols.data() + k * P;
    for (Index p = 0; p < P; ++p) {
      Bits b;
      std::memcpy(&b, row + p, sizeof b);
      hash[static_cast<std::size_t>(p)] = (hash[static_cast<std::size_t>(p)] ^ b) * 0x100000001b3ULL;
    }
  }
  std::size_t size = 1;
  while (size < 2 * static_cast<std::size_t>(P)) size <<= 1;
  table.assign(size, -1);
  rep.resize(static_cast<std::size_t>(P));
  bool any = false;
  for (Index p = 0; p < P; ++p) {
    const std::uint64_t h = hash[static_cast<std::size_t>(p)];
    std::size_t slot = static_cast<std::size_t>(h ^ (h >> 29)) & (size - 1);
    Index found = p;
    for (; table[slot] >= 0; slot = (slot + 1) & (size - 1)) {
      const Index q = table[slot];
      if (hash[static_cast<std::size_t>(q)] != h) continue;
      Index k = 0;
      while (k < K && std::memcmp(cols.data() + k * P + p, cols.data() + k * P + q, sizeof(Scalar)) == 0) ++k;
      if (k == K) {
        found = q;
        break;
      }
    }
    if (found == p) table[slot] = p;
    rep[static_cast<std::size_t>(p)] = found;
    any = any || found != p;
  }
  return any ? rep.data() : nullptr;
}

// The adjoint of im2col: x[c, ih, iw] += cols[...] for every position that read it.
void col2im_add(const MatrixMap& cols, const ConvGeometry& g, Scalar* padded, Scalar* x) {
  const Index Hp = g.height + 2 * g.ph, Wp = g.width + 2 * g.pw, P = g.positions();
  std::fill_n(padded, padded_size(g), Scalar(0));
  for (Index c = 0; c < g.channels; ++c) {
    for (Index i = 0; i < g.kh; ++i) {
      for (Index j = 0; j < g.kw; ++j) {
        const Scalar* row = cols.data() + ((c * g.kh + i) * g.kw + j) * P;
        for (Index oh = 0; oh < g.out_height; ++oh) {
          Scalar* __restrict dst = padded + (c * Hp + oh * g.sh + i * g.dh) * Wp + j * g.dw;
          const Scalar* __restrict src = row + oh * g.out_width;
          for (Index ow = 0; ow < g.out_width; ++ow) dst[ow * g.sw] += src[ow];
        }
      }
    }
  }
  for (Index c = 0; c < g.channels; ++c)
    for (Index h = 0; h < g.height; ++h)
      SpanMap(x + (c * g.height + h) * g.width, g.width) += ConstSpanMap(padded + (c * Hp + h + g.ph) * Wp + g.pw, g.width);
}

ConvGeometry conv_geometry(const Shape& in, const Shape& out, const Conv2dOptions& o) {
  return {in[0], in[1], in[2], out[1], out[2], o.kernel[0], o.kernel[1], o.stride[0], o.stride[1],
          o.padding[0], o.padding[1], o.dilation[0], o.dilation[1]};
}

}  // namespace

Conv2d::Conv2d(Index in_channels, Index out_channels, Conv2dOptions options)
    : in_ch_(in_channels), out_ch_(out_channels), opt_(options) {
  LRP_CHECK(in_ch_ > 0 && out_ch_ > 0, "conv2d: channel counts must be positive, got ", in_ch_, " and ", out_ch_);
  for (int a = 0; a < 2; ++a) {
    LRP_CHECK(opt_.kernel[a] > 0, "conv2d: kernel size must be positive, got ", opt_.kernel[a]);
    LRP_CHECK(opt_.stride[a] > 0, "conv2d: stride must be positive, got ", opt_.stride[a]);
    LRP_CHECK(opt_.padding[a] >= 0, "conv2d: padding must be ≥ 0, got ", opt_.padding[a]);
    LRP_CHECK(opt_.dilation[a] > 0, "conv2d: dilation must be positive, got ", opt_.dilation[a]);
  }
  LRP_CHECK(opt_.groups > 0 && in_ch_ % opt_.groups == 0 && out_ch_ % opt_.groups == 0,
            "conv2d: groups (", opt_.groups, ") must divide in_channels (", in_ch_, ") and out_channels (", out_ch_,
            ")");
  params_.weight = Matrix::Zero(out_ch_, (in_ch_ / opt_.groups) * opt_.kernel[0] * opt_.kernel[1]);
  if (opt_.bias) params_.bias = Vector::Zero(out_ch_);
}

std::string Conv2d::describe() const {
  std::ostringstream s;
  s << "conv2d(" << in_ch_ << " -> " << out_ch_ << ", kernel " << opt_.kernel[0] << "x" << opt_.kernel[1]
    << ", stride " << opt_.stride[0] << "x" << opt_.stride[1] << ", padding " << opt_.padding[0] << "x"
    << opt_.padding[1] << ", dilation " << opt_.dilation[0] << "x" << opt_.dilation[1];
  if (opt_.groups != 1) s << ", groups " << opt_.groups;
  if (!opt_.bias) s << ", no bias";
  s << ")";
  return s.str();
}

Shape Conv2d::setup(const Shape& in) {
  require_chw(*this, in);
  LRP_CHECK(in[0] == in_ch_, where(*this), ": expected ", in_ch_, " input channels, got ", in[0], " (input shape ",
            to_string(in), ")");
  const Index oh = window_out(in[1], opt_.kernel[0], opt_.stride[0], opt_.padding[0], opt_.dilation[0]);
  const Index ow = window_out(in[2], opt_.kernel[1], opt_.stride[1], opt_.padding[1], opt_.dilation[1]);
  LRP_CHECK(oh > 0 && ow > 0, where(*this), ": the input ", to_string(in),
            " is smaller than the (dilated) kernel; the output would be empty");
  return {out_ch_, oh, ow};
}

void Conv2d::check_params(const Params& p) const {
  check_shape(*this, "weight", p.weight.rows(), p.weight.cols(), out_ch_,
              (in_ch_ / opt_.groups) * opt_.kernel[0] * opt_.kernel[1]);
  check_bias(*this, p.bias, out_ch_);
  LRP_CHECK(opt_.bias || p.bias.size() == 0, where(*this), ": the layer was declared without bias, but a bias was given");
}

void Conv2d::forward(const ConstMatrixRef& x, const Params& p, MatrixRef y, Workspace& ws) const {
  const Params* ps[1] = {&p};
  Scalar* ys[1] = {y.data()};
  LRP_CHECK(y.outerStride() == y.cols(), "conv2d: output rows must be contiguous");
  forward_many(x, ps, ys, ws);
}

void Conv2d::forward_many(const ConstMatrixRef& x, std::span<const Params* const> ps, std::span<Scalar* const> ys,
                          Workspace& ws) const {
  const ConvGeometry g = conv_geometry(input_shape_, output_shape_, opt_);
  const Index P = g.positions(), K = g.channels * g.patch();
  const Index groups = opt_.groups, Kg = K / groups, Og = out_ch_ / groups, out_size = out_ch_ * P;
  MatrixMap cols = ws.get(kLayerSlot0, K, P);
  Scalar* padded = ws.get(kLayerSlot0 + 3, 1, padded_size(g)).data();
  for (Index n = 0; n < x.rows(); ++n) {
    im2col(x.row(n).data(), g, padded, cols);  // once per sample, shared by every parameter set
    const Index* rep = repeated_columns(cols);
    for (size_t k = 0; k < ps.size(); ++k) {
      const Params& p = *ps[k];
      MatrixMap out(ys[k] + n * out_size, out_ch_, P);
      if (groups == 1) {
        out.noalias() = p.weight * cols;
      } else {
        for (Index gi = 0; gi < groups; ++gi)
          out.middleRows(gi * Og, Og).noalias() = p.weight.middleRows(gi * Og, Og) * cols.middleRows(gi * Kg, Kg);
      }
      if (p.has_bias())
        for (Index o = 0; o < out_ch_; ++o) out.row(o).array() += p.bias[o];
      if (rep != nullptr)
        for (Index o = 0; o < out_ch_; ++o) {
          Scalar* y = out.row(o).data();
          for (Index q = 0; q < P; ++q) y[q] = y[rep[q]];
        }
    }
  }
}

void Conv2d::vjp(const ConstMatrixRef& at, const Params& p, const ConstMatrixRef& g_out, MatrixRef g_in, Workspace& ws,
                 bool accumulate) const {
  LRP_CHECK(g_out.outerStride() == g_out.cols(), "conv2d: gradient rows must be contiguous");
  const Params* ps[1] = {&p};
  const Scalar* gs[1] = {g_out.data()};
  const Scalar one[1] = {Scalar(1)};
  if (accumulate) {
    // vjp_many overwrites: add through a scratch buffer.
    MatrixMap tmp = ws.get(kLayerSlot0 + 2, g_in.rows(), g_in.cols());
    vjp_many(at, ps, gs, one, tmp, ws);
    g_in += tmp;
  } else {
    vjp_many(at, ps, gs, one, g_in, ws);
  }
}

void Conv2d::vjp_many(const ConstMatrixRef&, std::span<const Params* const> ps, std::span<const Scalar* const> gs,
                      std::span<const Scalar> coefficients, MatrixRef g_in, Workspace& ws) const {
  const ConvGeometry g = conv_geometry(input_shape_, output_shape_, opt_);
  const Index P = g.positions(), K = g.channels * g.patch();
  const Index groups = opt_.groups, Kg = K / groups, Og = out_ch_ / groups, out_size = out_ch_ * P;
  MatrixMap cols = ws.get(kLayerSlot0, K, P);
  Scalar* padded = ws.get(kLayerSlot0 + 3, 1, padded_size(g)).data();
  g_in.setZero();
  for (Index n = 0; n < g_in.rows(); ++n) {
    // cols = Σ_k c_k W_kᵀ G_k, then one col2im per sample.
    for (size_t k = 0; k < ps.size(); ++k) {
      const Matrix& w = ps[k]->weight;
      const Scalar c = coefficients[k];
      const ConstMatrixMap grad(gs[k] + n * out_size, out_ch_, P);
      if (groups == 1) {
        if (k == 0)
          cols.noalias() = c * (w.transpose() * grad);
        else
          cols.noalias() += c * (w.transpose() * grad);
      } else {
        for (Index gi = 0; gi < groups; ++gi) {
          auto block = cols.middleRows(gi * Kg, Kg);
          if (k == 0)
            block.noalias() = c * (w.middleRows(gi * Og, Og).transpose() * grad.middleRows(gi * Og, Og));
          else
            block.noalias() += c * (w.middleRows(gi * Og, Og).transpose() * grad.middleRows(gi * Og, Og));
        }
      }
    }
    col2im_add(cols, g, padded, g_in.row(n).data());
  }
}

// Per sample, Y = W · cols + b (block-diagonal over groups), so ∂/∂W Σ G ⊙ Y = G · colsᵀ (per group:
// the group's output rows of G against its input rows of cols) and ∂/∂b = the row sums of G, i.e.
// each channel's sum over positions. The unfold reuses forward_many's workspace slots.
void Conv2d::param_vjp(const ConstMatrixRef& at, const Params& p, const ConstMatrixRef& g_out, Params& grads,
                       Workspace& ws) const {
  check_grads(*this, p, grads);
  const ConvGeometry g = conv_geometry(input_shape_, output_shape_, opt_);
  const Index P = g.positions(), K = g.channels * g.patch();
  const Index groups = opt_.groups, Kg = K / groups, Og = out_ch_ / groups;
  MatrixMap cols = ws.get(kLayerSlot0, K, P);
  Scalar* padded = ws.get(kLayerSlot0 + 3, 1, padded_size(g)).data();
  for (Index n = 0; n < g_out.rows(); ++n) {
    const ConstMatrixMap grad(g_out.row(n).data(), out_ch_, P);
    im2col(at.row(n).data(), g, padded, cols);
    if (groups == 1) {
      grads.weight.noalias() += grad * cols.transpose();
    } else {
      for (Index gi = 0; gi < groups; ++gi)
        grads.weight.middleRows(gi * Og, Og).noalias() +=
            grad.middleRows(gi * Og, Og) * cols.middleRows(gi * Kg, Kg).transpose();
    }
    if (grads.has_bias()) grads.bias += grad.rowwise().sum();
  }
}

// ---------------------------------------------------------------- pooling

namespace {

void check_pool_options(const char* kind, Pool2dOptions& o) {
  for (int a = 0; a < 2; ++a) {
    LRP_CHECK(o.kernel[a] > 0, kind, ": kernel size must be positive, got ", o.kernel[a]);
    if (o.stride[a] == 0) o.stride[a] = o.kernel[a];
    LRP_CHECK(o.stride[a] > 0, kind, ": stride must be positive, got ", o.stride[a]);
    LRP_CHECK(o.padding[a] >= 0 && 2 * o.padding[a] <= o.kernel[a], kind,
              ": padding must be between 0 and half the kernel size, got ", o.padding[a]);
  }
}

// Pooling's output size along one axis, as PyTorch computes it (0 when the window does not fit).
Index pool_out(Index in, Index kernel, Index stride, Index pad, bool ceil_mode) {
  const Index span = in + 2 * pad - kernel;
  if (span < 0) return 0;
  if (!ceil_mode) return span / stride + 1;
  const Index out = (span + stride - 1) / stride + 1;
  return (out - 1) * stride >= in + pad ? out - 1 : out;  // the last window must start before the right padding
}

Shape pool_output(const Layer& layer, const Shape& in, const Pool2dOptions& o) {
  require_chw(layer, in);
  const Index oh = pool_out(in[1], o.kernel[0], o.stride[0], o.padding[0], o.ceil_mode);
  const Index ow = pool_out(in[2], o.kernel[1], o.stride[1], o.padding[1], o.ceil_mode);
  LRP_CHECK(oh > 0 && ow > 0, where(layer), ": the input ", to_string(in), " is smaller than the pooling window");
  return {in[0], oh, ow};
}

std::string pool_describe(const char* kind, const Pool2dOptions& o) {
  return detail::concat(kind, "(kernel ", o.kernel[0], "x", o.kernel[1], ", stride ", o.stride[0], "x", o.stride[1],
                        ", padding ", o.padding[0], "x", o.padding[1], o.ceil_mode ? ", ceil_mode" : "", ")");
}

// The input range [lo, hi) each output position reads along one axis (padding clipped away), the
// kernel tap at lo, and the average's scale kernel / (the window's extent within the padded input),
// computed once per layer so that the pooling loops carry no bounds tests.
std::vector<PoolWindow> pool_windows(Index in, Index out, Index kernel, Index stride, Index pad) {
  std::vector<PoolWindow> w(static_cast<size_t>(out));
  for (Index o = 0; o < out; ++o) {
    const Index start = o * stride - pad;
    const Index lo = std::max<Index>(0, start), hi = std::min<Index>(in, start + kernel);
    const Index counted = std::min<Index>(in + pad, start + kernel) - start;
    w[static_cast<size_t>(o)] = {lo, hi, lo - start, static_cast<Scalar>(kernel) / static_cast<Scalar>(counted)};
  }
  return w;
}

}  // namespace

Pool2d::Pool2d(Pool2dOptions options, const char* kind) : opt_(options) { check_pool_options(kind, opt_); }

std::string Pool2d::describe() const { return pool_describe(kind().c_str(), opt_); }

Shape Pool2d::setup(const Shape& in) {
  Shape out = pool_output(*this, in, opt_);
  rows_ = pool_windows(in[1], out[1], opt_.kernel[0], opt_.stride[0], opt_.padding[0]);
  cols_ = pool_windows(in[2], out[2], opt_.kernel[1], opt_.stride[1], opt_.padding[1]);
  return out;
}

bool Pool2d::two_by_two() const {
  // (ceil_mode on an odd extent adds a partial window the fast path would read past)
  return opt_.kernel == std::array<Index, 2>{2, 2} && opt_.stride == std::array<Index, 2>{2, 2} &&
         opt_.padding == std::array<Index, 2>{0, 0} && 2 * output_shape_[1] <= input_shape_[1] &&
         2 * output_shape_[2] <= input_shape_[2];
}

// The loops every pooling pass shares: each (sample, channel) plane, each output window, with the
// 2×2 fast path. `fast(r0, r1)` and `general(plane, rows, cols)` reduce one window: r0 and r1 point
// at the top-left value of a 2×2 window and the value below it.
template <typename Fast, typename General>
void Pool2d::forward_windows(const ConstMatrixRef& x, MatrixRef y, Fast fast, General general) const {
  const Index C = input_shape_[0], H = input_shape_[1], W = input_shape_[2];
  const Index Ho = output_shape_[1], Wo = output_shape_[2];
  const bool fast_2x2 = two_by_two();
  for (Index n = 0; n < x.rows(); ++n) {
    for (Index c = 0; c < C; ++c) {
      const Scalar* plane = x.row(n).data() + c * H * W;
      Scalar* out = y.row(n).data() + c * Ho * Wo;
      if (fast_2x2) {
        for (Index oh = 0; oh < Ho; ++oh)
          for (Index ow = 0; ow < Wo; ++ow) *out++ = fast(plane + 2 * oh * W + 2 * ow, plane + (2 * oh + 1) * W + 2 * ow);
      } else {
        for (const PoolWindow& r : rows_)
          for (const PoolWindow& q : cols_) *out++ = general(plane, r, q);
      }
    }
  }
}

// The same for vector-Jacobian products: `fast(r0, r1, q0, q1, g, overwrite)` and
// `general(plane, g_plane, rows, cols, g)` spread one output's g over its window (q0, q1, g_plane
// point into g_in). Disjoint 2×2 windows tiling an even plane write every input once, so then
// they assign (`overwrite`) instead of zero-filling and adding.
template <typename Fast, typename General>
void Pool2d::vjp_windows(const ConstMatrixRef& at, const ConstMatrixRef& g_out, MatrixRef g_in, bool accumulate,
                         Fast fast, General general) const {
  const Index C = input_shape_[0], H = input_shape_[1], W = input_shape_[2];
  const Index Ho = output_shape_[1], Wo = output_shape_[2];
  const bool fast_2x2 = two_by_two();
  const bool overwrite = !accumulate && fast_2x2 && H % 2 == 0 && W % 2 == 0;
  if (!accumulate && !overwrite) g_in.setZero();
  for (Index n = 0; n < g_out.rows(); ++n) {
    for (Index c = 0; c < C; ++c) {
      const Scalar* plane = at.rows() > 0 ? at.row(n).data() + c * H * W : nullptr;
      const Scalar* g = g_out.row(n).data() + c * Ho * Wo;
      Scalar* gi = g_in.row(n).data() + c * H * W;
      if (fast_2x2) {
        for (Index oh = 0; oh < Ho; ++oh) {
          for (Index ow = 0; ow < Wo; ++ow) {
            const Index top = 2 * oh * W + 2 * ow, below = top + W;
            fast(plane ? plane + top : nullptr, plane ? plane + below : nullptr, gi + top, gi + below, *g++, overwrite);
          }
        }
      } else {
        for (const PoolWindow& r : rows_)
          for (const PoolWindow& q : cols_) general(plane, gi, r, q, *g++);
      }
    }
  }
}

// Adds (or, when overwrite, assigns) v to *dst.
inline void put(Scalar* dst, Scalar v, bool overwrite) { *dst = overwrite ? v : *dst + v; }

const char* to_string(MaxPoolTies ties) { return ties == MaxPoolTies::kFirst ? "first" : "split"; }

namespace {

// torch's arg-max step: a value wins over the maximum so far if it is larger or NaN.
inline bool wins(Scalar v, Scalar best) { return v > best || std::isnan(v); }

// The index (0–3) of a 2×2 window's arg-max in row-major order, as torch scans it.
inline int first_max_2x2(const Scalar* r0, const Scalar* r1) {
  int k = 0;
  Scalar best = r0[0];
  if (wins(r0[1], best)) best = r0[1], k = 1;
  if (wins(r1[0], best)) best = r1[0], k = 2;
  if (wins(r1[1], best)) k = 3;
  return k;
}

}  // namespace

void MaxPool2d::forward(const ConstMatrixRef& x, const Params&, MatrixRef y, Workspace&) const {
  const Index W = input_shape_[2];
  forward_windows(
      x, y,
      [](const Scalar* r0, const Scalar* r1) {
        const int k = first_max_2x2(r0, r1);
        return k < 2 ? r0[k] : r1[k - 2];
      },
      [W](const Scalar* plane, const PoolWindow& r, const PoolWindow& q) {
        Scalar best = -std::numeric_limits<Scalar>::infinity();
        for (Index ih = r.lo; ih < r.hi; ++ih)
          for (Index iw = q.lo; iw < q.hi; ++iw)
            if (wins(plane[ih * W + iw], best)) best = plane[ih * W + iw];
        return best;
      });
}

void MaxPool2d::vjp(const ConstMatrixRef& at, const Params&, const ConstMatrixRef& g_out, MatrixRef g_in, Workspace&,
                    bool accumulate) const {
  // Winners are fixed from the activation `at`.
  const Index W = input_shape_[2];
  if (ties_ == MaxPoolTies::kFirst) {
    vjp_windows(
        at, g_out, g_in, accumulate,
        [](const Scalar* r0, const Scalar* r1, Scalar* q0, Scalar* q1, Scalar g, bool overwrite) {
          const int k = first_max_2x2(r0, r1);
          put(q0, k == 0 ? g : Scalar(0), overwrite);
          put(q0 + 1, k == 1 ? g : Scalar(0), overwrite);
          put(q1, k == 2 ? g : Scalar(0), overwrite);
          put(q1 + 1, k == 3 ? g : Scalar(0), overwrite);
        },
        [W](const Scalar* plane, Scalar* gi, const PoolWindow& r, const PoolWindow& q, Scalar g) {
          // torch starts from the window's first element with -inf, so an all -inf window routes there.
          Index winner = r.lo * W + q.lo;
          Scalar best = -std::numeric_limits<Scalar>::infinity();
          for (Index ih = r.lo; ih < r.hi; ++ih)
            for (Index iw = q.lo; iw < q.hi; ++iw)
              if (wins(plane[ih * W + iw], best)) best = plane[ih * W + iw], winner = ih * W + iw;
          gi[winner] += g;
        });
    return;
  }
  // Equal split among ties. Branch-free: 0/1 masks are multiplied in, and `v >= best` stands for
  // `v == best` (best is the maximum) because it compiles without the unordered-compare jumps of `==`.
  vjp_windows(
      at, g_out, g_in, accumulate,
      [](const Scalar* r0, const Scalar* r1, Scalar* q0, Scalar* q1, Scalar g, bool overwrite) {
        const Scalar best = std::max(std::max(r0[0], r0[1]), std::max(r1[0], r1[1]));
        const Scalar m00 = Scalar(r0[0] >= best), m01 = Scalar(r0[1] >= best);
        const Scalar m10 = Scalar(r1[0] >= best), m11 = Scalar(r1[1] >= best);
        const Scalar share = g / (m00 + m01 + m10 + m11);
        put(q0, share * m00, overwrite);
        put(q0 + 1, share * m01, overwrite);
        put(q1, share * m10, overwrite);
        put(q1 + 1, share * m11, overwrite);
      },
      [W](const Scalar* plane, Scalar* gi, const PoolWindow& r, const PoolWindow& q, Scalar g) {
        Scalar best = -std::numeric_limits<Scalar>::infinity();
        for (Index ih = r.lo; ih < r.hi; ++ih)
          for (Index iw = q.lo; iw < q.hi; ++iw) best = std::max(best, plane[ih * W + iw]);
        Scalar ties = 0;
        for (Index ih = r.lo; ih < r.hi; ++ih)
          for (Index iw = q.lo; iw < q.hi; ++iw) ties += Scalar(plane[ih * W + iw] >= best);
        const Scalar share = g / ties;
        for (Index ih = r.lo; ih < r.hi; ++ih)
          for (Index iw = q.lo; iw < q.hi; ++iw) gi[ih * W + iw] += share * Scalar(plane[ih * W + iw] >= best);
      });
}

AvgPool2d::AvgPool2d(Pool2dOptions options) : Pool2d(options, "avgpool2d") { set_kernel(opt_.kernel[0], opt_.kernel[1]); }

std::unique_ptr<AvgPool2d> AvgPool2d::global() {
  // The kernel is the whole plane, fixed by setup(); until then a 1×1 placeholder.
  auto layer = std::make_unique<AvgPool2d>(Pool2dOptions{.kernel = {1, 1}});
  layer->global_ = true;
  return layer;
}

void AvgPool2d::set_kernel(Index kh, Index kw) {
  const Index taps = checked_numel({kh, kw}, where(*this) + ": the pooling window");
  // Built as a new matrix and moved in: Eigen's resize of an existing matrix frees the old storage
  // before it allocates, and a failed allocation would then leave a dangling pointer behind (freed
  // again by the destructor).
  Matrix weight = Matrix::Constant(1, taps, Scalar(1) / static_cast<Scalar>(taps));
  opt_.kernel = {kh, kw};
  params_.weight = std::move(weight);
}

std::string AvgPool2d::describe() const { return global_ ? std::string("global_avgpool") : Pool2d::describe(); }

Shape AvgPool2d::setup(const Shape& in) {
  if (global_) {
    require_chw(*this, in);
    opt_.stride = {1, 1};
    opt_.padding = {0, 0};
    set_kernel(in[1], in[2]);
  }
  return Pool2d::setup(in);
}

void AvgPool2d::check_params(const Params& p) const {
  check_shape(*this, "weight", p.weight.rows(), p.weight.cols(), 1, opt_.kernel[0] * opt_.kernel[1]);
  LRP_CHECK(p.bias.size() == 0, where(*this), ": average pooling has no bias");
}

void AvgPool2d::forward(const ConstMatrixRef& x, const Params& p, MatrixRef y, Workspace&) const {
  const Index W = input_shape_[2], kw = opt_.kernel[1];
  const Scalar* w = p.weight.data();
  forward_windows(
      x, y, [w](const Scalar* r0, const Scalar* r1) { return w[0] * r0[0] + w[1] * r0[1] + w[2] * r1[0] + w[3] * r1[1]; },
      [w, W, kw](const Scalar* plane, const PoolWindow& r, const PoolWindow& q) {
        Scalar sum = 0;
        for (Index ih = r.lo, ti = r.tap; ih < r.hi; ++ih, ++ti) {
          const Scalar* taps = w + ti * kw + q.tap - q.lo;
          for (Index iw = q.lo; iw < q.hi; ++iw) sum += taps[iw] * plane[ih * W + iw];
        }
        return sum * (r.scale * q.scale);
      });
}

void AvgPool2d::vjp(const ConstMatrixRef& at, const Params& p, const ConstMatrixRef& g_out, MatrixRef g_in, Workspace&,
                    bool accumulate) const {
  const Index W = input_shape_[2], kw = opt_.kernel[1];
  const Scalar* w = p.weight.data();
  vjp_windows(
      at, g_out, g_in, accumulate,
      [w](const Scalar*, const Scalar*, Scalar* q0, Scalar* q1, Scalar g, bool overwrite) {
        put(q0, w[0] * g, overwrite);
        put(q0 + 1, w[1] * g, overwrite);
        put(q1, w[2] * g, overwrite);
        put(q1 + 1, w[3] * g, overwrite);
      },
      [w, W, kw](const Scalar*, Scalar* gi, const PoolWindow& r, const PoolWindow& q, Scalar g) {
        g *= r.scale * q.scale;
        for (Index ih = r.lo, ti = r.tap; ih < r.hi; ++ih, ++ti) {
          const Scalar* taps = w + ti * kw + q.tap - q.lo;
          for (Index iw = q.lo; iw < q.hi; ++iw) gi[ih * W + iw] += taps[iw] * g;
        }
      });
}

// ---------------------------------------------------------------- flatten

Shape Flatten::setup(const Shape& in) { return {numel(in)}; }

void Flatten::forward(const ConstMatrixRef& x, const Params&, MatrixRef y, Workspace&) const { y = x; }

void Flatten::vjp(const ConstMatrixRef&, const Params&, const ConstMatrixRef& g_out, MatrixRef g_in, Workspace&,
                  bool accumulate) const {
  if (accumulate)
    g_in += g_out;
  else
    g_in = g_out;
}

// ---------------------------------------------------------------- activations

namespace {

constexpr double kSqrtHalf = 0.70710678118654752440;     // 1/√2
constexpr double kInvSqrt2Pi = 0.39894228040143267794;   // 1/√(2π)
constexpr double kSqrt2OverPi = 0.79788456080286535588;  // √(2/π)
constexpr double kGeluCubic = 0.044715;                  // the tanh approximation's cubic coefficient

inline Scalar logistic(Scalar x) { return Scalar(1) / (Scalar(1) + std::exp(-x)); }

// f(x) and f'(x) of the activations without a vectorized form (leaky_relu onwards).
Scalar activation_value(Activation f, const ActivationParams& c, Scalar x) {
  switch (f) {
    case Activation::kLeakyReLU: return x > 0 ? x : static_cast<Scalar>(c.slope) * x;
    case Activation::kELU: return x > 0 ? x : static_cast<Scalar>(c.alpha) * std::expm1(x);
    case Activation::kGELU: return Scalar(0.5) * x * (Scalar(1) + std::erf(x * static_cast<Scalar>(kSqrtHalf)));
    case Activation::kGELUTanh: {
      const Scalar inner = static_cast<Scalar>(kSqrt2OverPi) * (x + static_cast<Scalar>(kGeluCubic) * x * x * x);
      return Scalar(0.5) * x * (Scalar(1) + std::tanh(inner));
    }
    case Activation::kSiLU: return x * logistic(x);
    case Activation::kSoftplus: {
      const Scalar beta = static_cast<Scalar>(c.beta), z = beta * x;
      if (z > static_cast<Scalar>(c.threshold)) return x;
      // log(1 + e^z) without overflow for a large threshold
      return (std::max(z, Scalar(0)) + std::log1p(std::exp(-std::abs(z)))) / beta;
    }
    case Activation::kHardtanh: {
      const Scalar lo = static_cast<Scalar>(c.min), hi = static_cast<Scalar>(c.max);
      return x < lo ? lo : x > hi ? hi : x;  // NaN stays NaN
    }
    default: return x;  // not reached: the others are vectorized
  }
}

Scalar activation_derivative(Activation f, const ActivationParams& c, Scalar x) {
  switch (f) {
    case Activation::kLeakyReLU: return x > 0 ? Scalar(1) : static_cast<Scalar>(c.slope);
    case Activation::kELU: return x > 0 ? Scalar(1) : static_cast<Scalar>(c.alpha) * std::exp(x);
    case Activation::kGELU:
      return Scalar(0.5) * (Scalar(1) + std::erf(x * static_cast<Scalar>(kSqrtHalf))) +
             x * static_cast<Scalar>(kInvSqrt2Pi) * std::exp(Scalar(-0.5) * x * x);
    case Activation::kGELUTanh: {
      const Scalar k = static_cast<Scalar>(kSqrt2OverPi), kappa = static_cast<Scalar>(kGeluCubic);
      const Scalar t = std::tanh(k * (x + kappa * x * x * x));
      return Scalar(0.5) * (Scalar(1) + t) + Scalar(0.5) * x * (Scalar(1) - t * t) * k * (Scalar(1) + 3 * kappa * x * x);
    }
    case Activation::kSiLU: {
      const Scalar s = logistic(x);
      return s * (Scalar(1) + x * (Scalar(1) - s));
    }
    case Activation::kSoftplus: {
      const Scalar z = static_cast<Scalar>(c.beta) * x;
      return z > static_cast<Scalar>(c.threshold) ? Scalar(1) : logistic(z);
    }
    case Activation::kHardtanh:
      return x <= static_cast<Scalar>(c.min) || x >= static_cast<Scalar>(c.max) ? Scalar(0) : Scalar(1);
    default: return Scalar(1);
  }
}

const char* activation_kind(Activation f) {
  switch (f) {
    case Activation::kReLU: return "relu";
    case Activation::kTanh: return "tanh";
    case Activation::kSigmoid: return "sigmoid";
    case Activation::kIdentity: return "identity";
    case Activation::kLeakyReLU: return "leaky_relu";
    case Activation::kELU: return "elu";
    case Activation::kGELU:
    case Activation::kGELUTanh: return "gelu";
    case Activation::kSiLU: return "silu";
    case Activation::kSoftplus: return "softplus";
    case Activation::kHardtanh: return "hardtanh";
  }
  return "activation";
}

}  // namespace

ElementwiseActivation::ElementwiseActivation(Activation f, ActivationParams constants, std::string kind)
    : f_(f), c_(constants), kind_(kind.empty() ? activation_kind(f) : std::move(kind)) {
  const auto finite = [&](double v, const char* name) {
    LRP_CHECK(std::isfinite(v), kind_, ": ", name, " must be finite, got ", v);
  };
  switch (f_) {
    case Activation::kLeakyReLU: finite(c_.slope, "slope"); break;
    case Activation::kELU: finite(c_.alpha, "alpha"); break;
    case Activation::kSoftplus:
      finite(c_.threshold, "threshold");
      LRP_CHECK(std::isfinite(c_.beta) && c_.beta > 0, kind_, ": beta must be positive, got ", c_.beta);
      break;
    case Activation::kHardtanh:
      finite(c_.min, "min");
      finite(c_.max, "max");
      LRP_CHECK(c_.min < c_.max, kind_, ": min (", c_.min, ") must be below max (", c_.max, ")");
      break;
    default: break;
  }
}

std::string ElementwiseActivation::describe() const {
  switch (f_) {
    case Activation::kLeakyReLU: return detail::concat(kind_, "(slope ", c_.slope, ")");
    case Activation::kELU: return detail::concat(kind_, "(alpha ", c_.alpha, ")");
    case Activation::kGELUTanh: return kind_ + "(tanh approximation)";
    case Activation::kSoftplus: return detail::concat(kind_, "(beta ", c_.beta, ", threshold ", c_.threshold, ")");
    case Activation::kHardtanh: return detail::concat(kind_, "(min ", c_.min, ", max ", c_.max, ")");
    default: return kind_;
  }
}

void ElementwiseActivation::forward(const ConstMatrixRef& x, const Params&, MatrixRef y, Workspace&) const {
  switch (f_) {
    case Activation::kReLU: y = x.cwiseMax(Scalar(0)); break;
    case Activation::kTanh: y = x.array().tanh().matrix(); break;
    case Activation::kSigmoid: y = (Scalar(1) / (Scalar(1) + (-x.array()).exp())).matrix(); break;
    case Activation::kIdentity: y = x; break;
    default: y = x.unaryExpr([this](Scalar v) { return activation_value(f_, c_, v); }); break;
  }
}

void ElementwiseActivation::vjp(const ConstMatrixRef& at, const Params&, const ConstMatrixRef& g_out, MatrixRef g_in,
                                Workspace&, bool accumulate) const {
  if (!accumulate) g_in.setZero();
  switch (f_) {
    case Activation::kReLU:
      g_in.array() += (at.array() > Scalar(0)).select(g_out.array(), Scalar(0));
      break;
    case Activation::kTanh:
      g_in.array() += g_out.array() * (Scalar(1) - at.array().tanh().square());
      break;
    case Activation::kSigmoid: {
      // σ'(x) = σ(x)(1 − σ(x)), evaluated elementwise without a temporary matrix.
      g_in.array() += g_out.array() * (Scalar(1) / (Scalar(1) + (-at.array()).exp())) *
                      (Scalar(1) - Scalar(1) / (Scalar(1) + (-at.array()).exp()));
      break;
    }
    case Activation::kIdentity: g_in += g_out; break;
    default:
      g_in.array() += g_out.array() * at.array().unaryExpr([this](Scalar v) { return activation_derivative(f_, c_, v); });
      break;
  }
}

LayerPtr make_relu() { return std::make_unique<ElementwiseActivation>(Activation::kReLU); }
LayerPtr make_tanh() { return std::make_unique<ElementwiseActivation>(Activation::kTanh); }
LayerPtr make_sigmoid() { return std::make_unique<ElementwiseActivation>(Activation::kSigmoid); }
LayerPtr make_identity() { return std::make_unique<ElementwiseActivation>(Activation::kIdentity); }

// ---------------------------------------------------------------- dropout

Dropout::Dropout(double p) : p_(p) {
  LRP_CHECK(p >= 0.0 && p < 1.0, "dropout: probability must be in [0, 1), got ", p);
}

std::string Dropout::describe() const { return detail::concat("dropout(p ", p_, ")"); }

void Dropout::forward(const ConstMatrixRef& x, const Params&, MatrixRef y, Workspace&) const { y = x; }

void Dropout::vjp(const ConstMatrixRef&, const Params&, const ConstMatrixRef& g_out, MatrixRef g_in, Workspace&,
                  bool accumulate) const {
  if (accumulate)
    g_in += g_out;
  else
    g_in = g_out;
}

// The mask holds 0 (dropped) or 1/(1 − p) (kept); draws go row by row, so a seed fixes it.
void Dropout::train_forward(const ConstMatrixRef& x, const Params&, MatrixRef y, Matrix& state, std::mt19937_64& rng) {
  state.resize(x.rows(), x.cols());
  const Scalar keep = static_cast<Scalar>(1.0 / (1.0 - p_));
  for (Index r = 0; r < state.rows(); ++r)
    for (Index c = 0; c < state.cols(); ++c) state(r, c) = uniform01(rng) < p_ ? Scalar(0) : keep;
  y = x.cwiseProduct(state);
}

void Dropout::train_backward(const ConstMatrixRef&, const Params&, const Matrix& state, const ConstMatrixRef& g_out,
                             MatrixRef g_in, Params&) const {
  g_in = g_out.cwiseProduct(state);
}

LayerPtr make_dropout(double p) { return std::make_unique<Dropout>(p); }

// ---------------------------------------------------------------- batch norm

BatchNorm::BatchNorm(Index channels, double eps, double momentum)
    : channels_(channels), eps_(eps), momentum_(momentum), mean_(Vector::Zero(channels)), var_(Vector::Ones(channels)) {
  LRP_CHECK(channels_ > 0, "batchnorm: channels must be positive, got ", channels_);
  LRP_CHECK(eps_ > 0.0, "batchnorm: eps must be positive, got ", eps_);
  LRP_CHECK(momentum_ >= 0.0 && momentum_ <= 1.0, "batchnorm: momentum must be in [0, 1], got ", momentum_);
  params_.weight = Matrix::Ones(1, channels_);
  params_.bias = Vector::Zero(channels_);
}

std::string BatchNorm::describe() const { return detail::concat("batchnorm(", channels_, ", eps ", eps_, ")"); }

Shape BatchNorm::setup(const Shape& in) {
  LRP_CHECK((in.size() == 1 || in.size() == 3) && in[0] == channels_, where(*this), ": expected an input of shape [",
            channels_, "] or [", channels_, ", H, W], got ", to_string(in));
  return in;
}

void BatchNorm::check_params(const Params& p) const {
  check_shape(*this, "weight", p.weight.rows(), p.weight.cols(), 1, channels_);
  LRP_CHECK(p.bias.size() == channels_, where(*this), ": bias has ", p.bias.size(), " entries, expected ", channels_);
}

void BatchNorm::set_statistics(Vector mean, Vector var) {
  LRP_CHECK(mean.size() == channels_ && var.size() == channels_, where(*this), ": running statistics have ",
            mean.size(), " and ", var.size(), " entries, expected ", channels_);
  LRP_CHECK(mean.allFinite() && var.allFinite(), where(*this), ": running statistics contain NaN or Inf");
  LRP_CHECK((var.array() >= Scalar(0)).all(), where(*this), ": running variance must be ≥ 0");
  mean_ = std::move(mean);
  var_ = std::move(var);
}

Vector BatchNorm::scale(const Params& p) const {
  return (p.weight.row(0).transpose().array() / (var_.array() + static_cast<Scalar>(eps_)).sqrt()).matrix();
}

Vector BatchNorm::shift(const Params& p) const { return p.bias - (mean_.array() * scale(p).array()).matrix(); }

void BatchNorm::forward(const ConstMatrixRef& x, const Params& p, MatrixRef y, Workspace&) const {
  const Vector s = scale(p), t = shift(p);
  const Index plane = x.cols() / channels_;
  for (Index c = 0; c < channels_; ++c)
    y.middleCols(c * plane, plane) = ((x.middleCols(c * plane, plane).array() * s[c]) + t[c]).matrix();
}

void BatchNorm::vjp(const ConstMatrixRef&, const Params& p, const ConstMatrixRef& g_out, MatrixRef g_in, Workspace&,
                    bool accumulate) const {
  const Vector s = scale(p);
  const Index plane = g_out.cols() / channels_;
  if (!accumulate) g_in.setZero();
  for (Index c = 0; c < channels_; ++c) g_in.middleCols(c * plane, plane) += g_out.middleCols(c * plane, plane) * s[c];
}

// The inference form y = (x − mean)/√(var + eps) · γ + β is affine in (γ, β): ∂/∂γ_c Σ g ⊙ y is
// Σ g ⊙ x̂ over channel c's entries of every sample, with x̂ = (x − mean_c)/√(var_c + eps), and
// ∂/∂β_c = Σ g over the same entries. The running statistics are buffers and get no gradient.
void BatchNorm::param_vjp(const ConstMatrixRef& at, const Params& p, const ConstMatrixRef& g_out, Params& grads,
                          Workspace&) const {
  check_grads(*this, p, grads);
  const Index plane = g_out.cols() / channels_;
  for (Index c = 0; c < channels_; ++c) {
    const Scalar inv_std = Scalar(1) / std::sqrt(var_[c] + static_cast<Scalar>(eps_));
    grads.weight(0, c) +=
        (g_out.middleCols(c * plane, plane).array() * (at.middleCols(c * plane, plane).array() - mean_[c])).sum() *
        inv_std;
    grads.bias[c] += g_out.middleCols(c * plane, plane).sum();
  }
}

// Training: x̂ = (x − μ_B)/√(σ²_B + eps) with the minibatch's per-channel mean μ_B and biased
// variance σ²_B over M = N·plane values (accumulated in double), y = γ x̂ + β. state holds x̂ in
// its first N rows and 1/√(σ²_B + eps) per channel in an extra last row.
void BatchNorm::train_forward(const ConstMatrixRef& x, const Params& p, MatrixRef y, Matrix& state, std::mt19937_64&) {
  const Index n = x.rows(), plane = x.cols() / channels_;
  const double m = static_cast<double>(n * plane);
  LRP_CHECK(n * plane >= 2, where(*this), ": training needs more than one value per channel (batch of ", n, ")");
  state.resize(n + 1, x.cols());
  for (Index c = 0; c < channels_; ++c) {
    const auto block = x.middleCols(c * plane, plane);
    // Row sums in the working precision (vectorized), their total in double.
    const Vector row_sums = block.rowwise().sum();
    double sum = 0;
    for (Index r = 0; r < n; ++r) sum += static_cast<double>(row_sums[r]);
    const double mu = sum / m;
    const Vector row_sq = (block.array() - static_cast<Scalar>(mu)).square().rowwise().sum();
    double sum_sq = 0;
    for (Index r = 0; r < n; ++r) sum_sq += static_cast<double>(row_sq[r]);
    const double var = sum_sq / m;
    const double inv_std = 1.0 / std::sqrt(var + eps_);
    const Scalar gamma = p.weight(0, c), beta = p.bias[c];
    auto xhat = state.block(0, c * plane, n, plane);
    xhat = ((block.array() - static_cast<Scalar>(mu)) * static_cast<Scalar>(inv_std)).matrix();
    y.middleCols(c * plane, plane) = ((xhat.array() * gamma) + beta).matrix();
    state(n, c) = static_cast<Scalar>(inv_std);
    mean_[c] = static_cast<Scalar>((1.0 - momentum_) * static_cast<double>(mean_[c]) + momentum_ * mu);
    var_[c] = static_cast<Scalar>((1.0 - momentum_) * static_cast<double>(var_[c]) + momentum_ * var * m / (m - 1.0));
  }
}

// With g = ∂L/∂y: ∂L/∂β = Σ g, ∂L/∂γ = Σ g x̂, and through the batch statistics
// ∂L/∂x = γ/√(σ²_B + eps) · (g − mean(g) − x̂ · mean(g x̂)), means over the channel's M values.
void BatchNorm::train_backward(const ConstMatrixRef&, const Params& p, const Matrix& state, const ConstMatrixRef& g_out,
                               MatrixRef g_in, Params& grads) const {
  check_grads(*this, p, grads);
  const Index n = g_out.rows(), plane = g_out.cols() / channels_;
  const double m = static_cast<double>(n * plane);
  for (Index c = 0; c < channels_; ++c) {
    const auto g = g_out.middleCols(c * plane, plane);
    const auto xhat = state.block(0, c * plane, n, plane);
    const Vector row_g = g.rowwise().sum();
    const Vector row_gx = (g.array() * xhat.array()).rowwise().sum();
    double sum_g = 0, sum_gx = 0;
    for (Index r = 0; r < n; ++r) {
      sum_g += static_cast<double>(row_g[r]);
      sum_gx += static_cast<double>(row_gx[r]);
    }
    grads.weight(0, c) += static_cast<Scalar>(sum_gx);
    grads.bias[c] += static_cast<Scalar>(sum_g);
    const Scalar factor = p.weight(0, c) * state(n, c);
    const Scalar mean_g = static_cast<Scalar>(sum_g / m), mean_gx = static_cast<Scalar>(sum_gx / m);
    g_in.middleCols(c * plane, plane) = (factor * (g.array() - mean_g - xhat.array() * mean_gx)).matrix();
  }
}

}  // namespace lrp
