// The conv2d layer: im2col + GEMM per sample, with shared unfolds for several parameter sets.
#include "lrp/nn/conv2d.hpp"
#include "layer_checks.hpp"
#include "lrp/core/slots.hpp"

#include <algorithm>
#include <cstring>
#include <vector>

namespace lrp {

using detail::check_bias;
using detail::check_grads;
using detail::check_shape;
using detail::require_chw;
using detail::where;
using detail::window_out;

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
  MatrixMap cols = ws.get(slots::kConv2d, 0, K, P);
  Scalar* padded = ws.get(slots::kConv2d, 2, 1, padded_size(g)).data();
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
    MatrixMap tmp = ws.get(slots::kConv2d, 1, g_in.rows(), g_in.cols());
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
  MatrixMap cols = ws.get(slots::kConv2d, 0, K, P);
  Scalar* padded = ws.get(slots::kConv2d, 2, 1, padded_size(g)).data();
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
  MatrixMap cols = ws.get(slots::kConv2d, 0, K, P);
  Scalar* padded = ws.get(slots::kConv2d, 2, 1, padded_size(g)).data();
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

void Conv2d::initialize(InitScheme scheme, std::mt19937_64& rng) {
  Params p = params_;
  const double fan_out = static_cast<double>(out_ch_ / opt_.groups * opt_.kernel[0] * opt_.kernel[1]);
  draw_fan_scheme(p.weight, scheme, rng, static_cast<double>(p.weight.cols()), fan_out);
  p.bias.setZero();
  set_params(std::move(p));
}

std::vector<StoredArray> Conv2d::stored_arrays() const {
  std::vector<StoredArray> arrays{
      {"weight", {out_ch_, in_ch_ / opt_.groups, opt_.kernel[0], opt_.kernel[1]}, StoredArray::Home::kWeight}};
  if (params_.has_bias()) arrays.push_back({"bias", {params_.bias.size()}, StoredArray::Home::kBias});
  return arrays;
}

LayerPtr Conv2d::absorb_affine(const ChannelAffine& affine) const {
  Conv2dOptions options = opt_;
  options.bias = true;
  auto merged = std::make_unique<Conv2d>(in_ch_, out_ch_, options);
  merged->configure(input_shape_, name_);
  merged->set_params(fold_channel_affine(params_, affine));
  return merged;
}

}  // namespace lrp
