// The conv2d layer: im2col + a small-matrix product per sample, with shared unfolds for several
// parameter sets.
#include "lrp/nn/conv2d.hpp"
#include "layer_checks.hpp"
#include "lrp/core/slots.hpp"
#include "small_gemm.hpp"

#include <algorithm>
#include <cstring>
#include <memory>
#include <vector>

namespace lrp {

using detail::check_bias;
using detail::check_grads;
using detail::check_shape;
using detail::require_chw;
using detail::where;
using detail::window_out;

namespace {

// The unfold's grid: the columns of the unfolded input, out_height rows of grid_width() positions,
// then zero columns up to a multiple of kGemmColumns (the product kernel's block). Outputs and
// gradients on the grid have the same columns; widen and narrow move them between the grid and the
// layer's [out_channels, out_height · out_width] layout.
struct ConvGeometry {
  Index channels, height, width, out_height, out_width;
  Index kh, kw, sh, sw, ph, pw, dh, dw;
  bool operator==(const ConvGeometry&) const = default;
  Index patch() const { return kh * kw; }
  Index positions() const { return out_height * out_width; }
  Index padded_height() const { return height + 2 * ph; }
  Index padded_width() const { return width + 2 * pw; }
  // With stride 1 the grid rows have the padded input's width (see padded_size).
  bool wide() const { return sh == 1 && sw == 1; }
  Index grid_width() const { return wide() ? padded_width() : out_width; }
  Index grid_positions() const { return detail::round_up_columns(out_height * grid_width()); }
  // Whether outputs need the grid buffer (false: the grid is the output layout itself).
  bool regridded() const { return grid_positions() != positions(); }
};

// Both unfolds go through a copy of the input planes with zero borders, [C, H + 2ph, W + 2pw],
// followed by a zero tail: every read or write of a window position is then in bounds.
//
// With stride 1, the unfolded row of tap (c, i, j) is one contiguous span of the padded input: the
// grid is out_height × padded_width (the padded input's own row pitch), starting at plane c, row
// i·dh, column j·dw. The last (kw − 1)·dw columns of each grid row are not outputs (the window would
// run past the padded row into the next): the conv computes them and drops them, and gradients are
// zero there. One copy per tap replaces out_height short copies, which is what an unfold of a small
// plane spends its time on. The tail keeps the last tap's span, rounded up to the grid, inside the
// buffer.
Index padded_size(const ConvGeometry& g) {
  return g.channels * g.padded_height() * g.padded_width() + (g.kw - 1) * g.dw + detail::kGemmColumns;
}

// Writes `planes` planes [H, W] of src into dst with `top` and `bottom` zero rows and `left` and
// `right` zero columns; returns the end of what it wrote. Every element is written once.
Scalar* pad_planes(const Scalar* src, Index planes, Index H, Index W, Index top, Index bottom, Index left, Index right,
                   Scalar* dst) {
  const Index Wp = left + W + right;
  for (Index c = 0; c < planes; ++c) {
    dst = std::fill_n(dst, top * Wp + left, Scalar(0));
    for (Index h = 0; h < H; ++h) {
      dst = std::copy_n(src + (c * H + h) * W, W, dst);
      dst = std::fill_n(dst, h + 1 < H ? right + left : right, Scalar(0));
    }
    dst = std::fill_n(dst, bottom * Wp, Scalar(0));
  }
  return dst;
}

// Copies x into the zero-bordered planes of `padded`, then the zero tail; returns the planes to
// read (x itself when there is no padding and no wide grid).
const Scalar* pad_input(const Scalar* x, const ConvGeometry& g, Scalar* padded) {
  if (g.ph == 0 && g.pw == 0 && !g.wide()) return x;
  Scalar* end = pad_planes(x, g.channels, g.height, g.width, g.ph, g.ph, g.pw, g.pw, padded);
  std::fill(end, padded + padded_size(g), Scalar(0));
  return padded;
}

// A strided convolution's unfolded input (stride 1 reads its taps in place, see unfold):
// cols[(c·kh + i)·kw + j, oh·Wo + ow] = x[c, oh·sh − ph + i·dh, ow·sw − pw + j·dw] (0 outside), and
// zeros in the grid's columns past the outputs.
void im2col(const Scalar* x, const ConvGeometry& g, Scalar* padded, MatrixMap& cols) {
  const Index Hp = g.padded_height(), Wp = g.padded_width(), G = g.grid_positions(), P = g.positions();
  const Scalar* source = pad_input(x, g, padded);
  for (Index c = 0; c < g.channels; ++c) {
    for (Index i = 0; i < g.kh; ++i) {
      for (Index j = 0; j < g.kw; ++j) {
        Scalar* row = cols.data() + ((c * g.kh + i) * g.kw + j) * G;
        for (Index oh = 0; oh < g.out_height; ++oh) {
          const Scalar* __restrict src = source + (c * Hp + oh * g.sh + i * g.dh) * Wp + j * g.dw;
          Scalar* __restrict dst = row + oh * g.out_width;
          for (Index ow = 0; ow < g.out_width; ++ow) dst[ow] = src[ow * g.sw];
        }
        std::fill_n(row + P, G - P, Scalar(0));
      }
    }
  }
}

// Between outputs [rows, out_height·out_width] and the grid [rows, G]: widen puts zeros in the
// columns that are not outputs, narrow drops them.
void widen(const Scalar* out, Index rows, const ConvGeometry& g, Scalar* grid) {
  const Index Gw = g.grid_width(), Wo = g.out_width, G = g.grid_positions();
  for (Index r = 0; r < rows; ++r) {
    Scalar* dst = grid + r * G;
    for (Index oh = 0; oh < g.out_height; ++oh) {
      std::copy_n(out + (r * g.out_height + oh) * Wo, Wo, dst + oh * Gw);
      std::fill_n(dst + oh * Gw + Wo, Gw - Wo, Scalar(0));
    }
    std::fill_n(dst + g.out_height * Gw, G - g.out_height * Gw, Scalar(0));
  }
}

void narrow(const Scalar* grid, Index rows, const ConvGeometry& g, Scalar* out) {
  const Index Gw = g.grid_width(), Wo = g.out_width, G = g.grid_positions();
  for (Index r = 0; r < rows; ++r)
    for (Index oh = 0; oh < g.out_height; ++oh) std::copy_n(grid + r * G + oh * Gw, Wo, out + (r * g.out_height + oh) * Wo);
}

using detail::OffsetRows;
using detail::PitchRows;

// Where each row of the unfolded input starts: with a wide grid, tap (c, i, j)'s span of the padded
// input (see padded_size), otherwise row k of cols (k · G). The calling thread's table, refilled per call.
const Index* unfold_offsets(const ConvGeometry& g) {
  thread_local std::vector<Index> offsets;
  const Index K = g.channels * g.patch(), Hp = g.padded_height(), Wp = g.padded_width(), G = g.grid_positions();
  offsets.resize(static_cast<std::size_t>(K));
  for (Index c = 0; c < g.channels; ++c)
    for (Index i = 0; i < g.kh; ++i)
      for (Index j = 0; j < g.kw; ++j) {
        const Index k = (c * g.kh + i) * g.kw + j;
        offsets[static_cast<std::size_t>(k)] = g.wide() ? (c * Hp + i * g.dh) * Wp + j * g.dw : k * G;
      }
  return offsets.data();
}

// The unfolded input of one sample: with a wide grid the padded planes themselves (read through the
// tap offsets), otherwise the im2col copy in cols.
const Scalar* unfold(const Scalar* x, const ConvGeometry& g, Scalar* padded, MatrixMap& cols) {
  if (g.wide()) return pad_input(x, g, padded);
  im2col(x, g, padded, cols);
  return cols.data();
}

// The input gradient gathered from the output gradient, per input position, instead of scattered
// from an unfolded gradient (col2im). Along one axis, an input coordinate x = r + s·u (r < s the
// residue, s the stride) was read by output coordinate x + p − i·d = s·oh, i.e. by the taps i
// with (r + p − i·d) ≡ 0 (mod s), at oh = u + e_i, e_i = (r + p − i·d)/s. So each residue class
// (rh, rw) of input positions is a stride-1 convolution of the output gradient, zero-padded by
// `lead` and `trail` rows (columns), with the class's taps:
//   ∂x[c, rh + sh·u, rw + sw·v] = Σ_{s,o,i,j} c_s·W_s[o, (c, i, j)] · Gp_s[o, u + e_i + lead, v + e_j + lead].
// Every tap belongs to one class; a stride-1 convolution has one class holding all taps. It runs
// like the forward pass: taps read in place from the padded gradients (one per parameter set), one
// product per class and group (taps in decreasing i, j: the flipped kernel), then each input
// position is written once.
struct GatherAxis {
  Index size = 0, out = 0, k = 0, s = 1, p = 0, d = 1;  // input size, output size, kernel, stride, padding, dilation
  Index lead = 0, trail = 0;                            // zero rows (columns) before and after the output gradient

  GatherAxis() = default;
  GatherAxis(Index size_, Index out_, Index k_, Index s_, Index p_, Index d_)
      : size(size_), out(out_), k(k_), s(s_), p(p_), d(d_) {
    for (Index r = 0; r < std::min(s, size); ++r)
      for (Index i = 0; i < k; ++i)
        if (hits(r, i)) {
          lead = std::max(lead, -e(r, i));
          trail = std::max(trail, count(r) - 1 + e(r, i) - (out - 1));
        }
  }
  Index count(Index r) const { return r < size ? (size - r + s - 1) / s : 0; }  // input positions of class r
  bool hits(Index r, Index i) const { return ((r + p - i * d) % s + s) % s == 0; }
  Index e(Index r, Index i) const { return (r + p - i * d) / s; }  // exact where hits
  Index padded() const { return lead + out + trail; }
};

// The residue classes of gather_vjp, and its product factors: per class, row c of `kernel` holds
// c_s·W_s[o, (c, i, j)] for the class's taps (s, o, i, j), and `offsets` where each tap row starts
// in the padded gradients. They depend only on the geometry, the parameter sets and their
// coefficients, which is also what identifies a plan.
struct GatherClass {
  Index rh, rw, rows, cols, first, K;  // residues, positions, first column in `kernel`, factor width
};

struct GatherPlan {
  ConvGeometry g{};
  Index groups = 0, out_channels = 0;
  std::vector<Scalar> coefficients, weights;  // every set's weights, one after another
  GatherAxis rows, cols;                      // the padding of the output gradient, the classes per axis
  Matrix kernel;
  std::vector<Index> offsets;  // per group: sets · Og · taps tap rows, the classes side by side
  std::vector<GatherClass> classes;
  std::vector<Index> ti, tj, tap_weight, tap_read;  // build's scratch, kept for the next build

  // The same layer and rule, whatever the weights: a plan that can be rebuilt in place without
  // allocating.
  bool same_shape(const ConvGeometry& g_, Index groups_, Index out_channels_, std::span<const Params* const> ps,
                  std::span<const Scalar> coefficients_) const {
    size_t size = 0;
    for (const Params* p : ps) size += static_cast<size_t>(p->weight.size());
    return g == g_ && groups == groups_ && out_channels == out_channels_ && coefficients.size() == coefficients_.size() &&
           weights.size() == size;
  }

  // Built from these very parameter sets and coefficients (compared bit for bit).
  bool matches(const ConvGeometry& g_, Index groups_, Index out_channels_, std::span<const Params* const> ps,
               std::span<const Scalar> coefficients_) const {
    if (!same_shape(g_, groups_, out_channels_, ps, coefficients_) ||
        std::memcmp(coefficients.data(), coefficients_.data(), coefficients.size() * sizeof(Scalar)) != 0)
      return false;
    size_t at = 0;
    for (const Params* p : ps) {
      const auto size = static_cast<size_t>(p->weight.size());
      if (std::memcmp(weights.data() + at, p->weight.data(), size * sizeof(Scalar)) != 0) return false;
      at += size;
    }
    return true;
  }

  size_t bytes() const {
    return (weights.size() + static_cast<size_t>(kernel.size())) * sizeof(Scalar) + offsets.size() * sizeof(Index);
  }

  void build(const ConvGeometry& g_, Index groups_, Index out_channels_, std::span<const Params* const> ps,
             std::span<const Scalar> coefficients_);
};

void GatherPlan::build(const ConvGeometry& g_, Index groups_, Index out_channels_, std::span<const Params* const> ps,
                       std::span<const Scalar> coefficients_) {
  g = g_;
  groups = groups_;
  out_channels = out_channels_;
  coefficients.assign(coefficients_.begin(), coefficients_.end());
  weights.clear();
  for (const Params* p : ps) weights.insert(weights.end(), p->weight.data(), p->weight.data() + p->weight.size());
  rows = GatherAxis(g.height, g.out_height, g.kh, g.sh, g.ph, g.dh);
  cols = GatherAxis(g.width, g.out_width, g.kw, g.sw, g.pw, g.dw);
  const GatherAxis &ax_h = rows, &ax_w = cols;
  const Index C = g.channels, Cg = C / groups, Og = out_channels / groups, taps = g.patch();
  const Index sets = static_cast<Index>(ps.size()), Wg = ax_w.padded(), plane = ax_h.padded() * Wg;
  kernel.resize(C, sets * Og * taps);
  offsets.resize(static_cast<size_t>(groups * sets * Og * taps));
  classes.clear();
  Index first = 0;
  for (Index rh = 0; rh < std::min(g.sh, g.height); ++rh) {
    for (Index rw = 0; rw < std::min(g.sw, g.width); ++rw) {
      ti.clear();
      tj.clear();
      for (Index i = g.kh - 1; i >= 0; --i)
        if (ax_h.hits(rh, i)) ti.push_back(i);
      for (Index j = g.kw - 1; j >= 0; --j)
        if (ax_w.hits(rw, j)) tj.push_back(j);
      const Index ni = static_cast<Index>(ti.size()), nj = static_cast<Index>(tj.size()), nt = ni * nj, K = sets * Og * nt;
      classes.push_back({rh, rw, ax_h.count(rh), ax_w.count(rw), first, K});
      // the class's taps t = (a, b): where each sits in a weight row, and where it reads a gradient plane
      tap_weight.resize(static_cast<size_t>(nt));
      tap_read.resize(static_cast<size_t>(nt));
      for (Index a = 0; a < ni; ++a)
        for (Index b = 0; b < nj; ++b) {
          const Index i = ti[static_cast<size_t>(a)], j = tj[static_cast<size_t>(b)];
          tap_weight[static_cast<size_t>(a * nj + b)] = i * g.kw + j;
          tap_read[static_cast<size_t>(a * nj + b)] = (ax_h.e(rh, i) + ax_h.lead) * Wg + ax_w.e(rw, j) + ax_w.lead;
        }
      for (Index k = 0; k < sets; ++k) {
        const Matrix& w = ps[static_cast<size_t>(k)]->weight;
        const Index ldw = w.cols();
        const Scalar coefficient = coefficients[static_cast<size_t>(k)];
        for (Index c = 0; c < C; ++c) {  // row c of the factor, written in order
          const Scalar* src = w.data() + (c / Cg) * Og * ldw + (c % Cg) * taps;
          Scalar* dst = kernel.data() + c * kernel.cols() + first + k * Og * nt;
          for (Index o = 0; o < Og; ++o, src += ldw, dst += nt)
            for (Index t = 0; t < nt; ++t) dst[t] = coefficient * src[tap_weight[static_cast<size_t>(t)]];
        }
        for (Index gi = 0; gi < groups; ++gi) {
          Index* at = offsets.data() + gi * sets * Og * taps + first + k * Og * nt;
          for (Index o = 0; o < Og; ++o)
            for (Index t = 0; t < nt; ++t) at[o * nt + t] = (k * out_channels + gi * Og + o) * plane + tap_read[static_cast<size_t>(t)];
        }
      }
      first += K;
    }
  }
}

// The calling thread's recent plans, most recent first. A rule calls vjp_many with the same
// parameter sets for every block of rows (LinearRule keeps its modified parameters for its
// explainer's life), so at batch size 1 building the factors again would cost as much as a tenth
// of an explanation. A plan is recognized by its weights themselves, compared bit for bit (not by
// their address, which a new matrix may reuse). On a miss, a plan of the same shape (training: the
// same layer with the last step's weights) is rebuilt in place, which allocates nothing; otherwise
// a new plan is added, or the least recent one rebuilt once the list is full.
const GatherPlan& gather_plan(const ConvGeometry& g, Index groups, Index out_channels, std::span<const Params* const> ps,
                              std::span<const Scalar> coefficients) {
  constexpr size_t kMaxPlans = 32, kMaxBytes = size_t{32} << 20;
  thread_local std::vector<std::unique_ptr<GatherPlan>> plans;
  auto to_front = [&](size_t i) {
    std::rotate(plans.begin(), plans.begin() + static_cast<std::ptrdiff_t>(i), plans.begin() + static_cast<std::ptrdiff_t>(i) + 1);
  };
  size_t same_shape = plans.size(), bytes = 0;
  for (size_t i = 0; i < plans.size(); ++i) {
    if (plans[i]->matches(g, groups, out_channels, ps, coefficients)) {
      to_front(i);
      return *plans.front();
    }
    if (same_shape == plans.size() && plans[i]->same_shape(g, groups, out_channels, ps, coefficients)) same_shape = i;
    bytes += plans[i]->bytes();
  }
  if (same_shape < plans.size())
    to_front(same_shape);
  else if (plans.size() < kMaxPlans && bytes < kMaxBytes)
    plans.insert(plans.begin(), std::make_unique<GatherPlan>());
  else
    to_front(plans.size() - 1);
  plans.front()->build(g, groups, out_channels, ps, coefficients);
  return *plans.front();
}

void gather_vjp(const ConvGeometry& g, Index groups, Index out_channels, std::span<const Params* const> ps,
                std::span<const Scalar* const> gs, std::span<const Scalar> coefficients, MatrixRef g_in, Workspace& ws) {
  const GatherPlan& plan = gather_plan(g, groups, out_channels, ps, coefficients);
  const GatherAxis &ax_h = plan.rows, &ax_w = plan.cols;
  const Index C = g.channels, Cg = C / groups, Og = out_channels / groups, taps = g.patch();
  const Index sets = static_cast<Index>(ps.size());
  const Index Wg = ax_w.padded(), plane = ax_h.padded() * Wg;
  const Index out_size = out_channels * g.positions(), in_plane = g.height * g.width;
  Scalar* padded = ws.get(slots::kConv2d, 0, 1, sets * out_channels * plane + Wg + detail::kGemmColumns).data();
  Scalar* grid = ws.get(slots::kConv2d, 3, C, detail::round_up_columns(ax_h.count(0) * Wg)).data();
  const Matrix& kernel = plan.kernel;
  for (Index n = 0; n < g_in.rows(); ++n) {
    Scalar* end = padded;
    for (Index k = 0; k < sets; ++k)
      end = pad_planes(gs[static_cast<size_t>(k)] + n * out_size, out_channels, g.out_height, g.out_width, ax_h.lead,
                       ax_h.trail, ax_w.lead, ax_w.trail, end);
    std::fill_n(end, Wg + detail::kGemmColumns, Scalar(0));
    Scalar* x = g_in.row(n).data();
    for (const GatherClass& cl : plan.classes) {
      const Index G = detail::round_up_columns(cl.rows * Wg);
      if (cl.K == 0)  // no tap reads these positions
        std::fill_n(grid, C * G, Scalar(0));
      for (Index gi = 0; gi < groups && cl.K > 0; ++gi)
        detail::small_gemm(PitchRows<const Scalar>{kernel.data() + gi * Cg * kernel.cols() + cl.first, kernel.cols()},
                           OffsetRows<const Scalar>{padded, plan.offsets.data() + gi * sets * Og * taps + cl.first},
                           PitchRows<Scalar>{grid + gi * Cg * G, G}, Cg, G, cl.K, false);
      // The class's positions of x: rows rh + sh·u, columns rw + sw·v.
      for (Index c = 0; c < C; ++c)
        for (Index u = 0; u < cl.rows; ++u) {
          const Scalar* __restrict src = grid + c * G + u * Wg;
          Scalar* __restrict dst = x + c * in_plane + (cl.rh + g.sh * u) * g.width + cl.rw;
          if (g.sw == 1)
            std::copy_n(src, cl.cols, dst);
          else
            for (Index v = 0; v < cl.cols; ++v) dst[g.sw * v] = src[v];
        }
    }
  }
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

// Per sample and parameter set: the grid output W · cols (per group: the group's weight rows against
// its input rows of cols), narrowed to the output layout, plus the bias. small_gemm computes every
// column alike, so equal patches give bitwise-equal outputs, as they do in PyTorch: real images have
// flat regions whose positions all see the same patch, and max pooling over them has ties that
// torch routes to the first maximum.
void Conv2d::forward_many(const ConstMatrixRef& x, std::span<const Params* const> ps, std::span<Scalar* const> ys,
                          Workspace& ws) const {
  const ConvGeometry g = conv_geometry(input_shape_, output_shape_, opt_);
  const Index P = g.positions(), G = g.grid_positions(), K = g.channels * g.patch();
  const Index groups = opt_.groups, Kg = K / groups, Og = out_ch_ / groups, out_size = out_ch_ * P;
  MatrixMap cols = ws.get(slots::kConv2d, 0, g.wide() ? 1 : K, G);
  Scalar* padded = ws.get(slots::kConv2d, 2, 1, padded_size(g)).data();
  Scalar* grid = g.regridded() ? ws.get(slots::kConv2d, 3, out_ch_, G).data() : nullptr;
  const Index* offsets = unfold_offsets(g);
  for (Index n = 0; n < x.rows(); ++n) {
    const Scalar* unfolded = unfold(x.row(n).data(), g, padded, cols);  // shared by every parameter set
    for (size_t k = 0; k < ps.size(); ++k) {
      const Params& p = *ps[k];
      Scalar* out = grid != nullptr ? grid : ys[k] + n * out_size;
      for (Index gi = 0; gi < groups; ++gi)
        detail::small_gemm(PitchRows<const Scalar>{p.weight.data() + gi * Og * Kg, Kg}, OffsetRows<const Scalar>{unfolded, offsets + gi * Kg},
                           PitchRows<Scalar>{out + gi * Og * G, G}, Og, G, Kg, false);
      MatrixMap y(ys[k] + n * out_size, out_ch_, P);
      if (grid != nullptr) narrow(grid, out_ch_, g, y.data());
      if (p.has_bias())
        for (Index o = 0; o < out_ch_; ++o) y.row(o).array() += p.bias[o];
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

// The input gradient, gathered per input position (gather_vjp).
void Conv2d::vjp_many(const ConstMatrixRef&, std::span<const Params* const> ps, std::span<const Scalar* const> gs,
                      std::span<const Scalar> coefficients, MatrixRef g_in, Workspace& ws) const {
  LRP_CHECK(g_in.outerStride() == g_in.cols(), "conv2d: gradient rows must be contiguous");
  gather_vjp(conv_geometry(input_shape_, output_shape_, opt_), opt_.groups, out_ch_, ps, gs, coefficients, g_in, ws);
}

// Per sample, Y = W · U + b with U the unfolded input (per group its rows), so ∂/∂W Σ G ⊙ Y = G · Uᵀ,
// i.e. ∂Wᵀ = U · Gᵀ: a product like the forward pass, with U the left factor (with stride 1 its tap
// rows read in place from the padded input, otherwise the im2col copy) and the rows of B the output
// gradient on the grid, transposed (positions × output channels, zero where the grid has no output
// and in the columns up to the kernel's block). The sums over positions accumulate in ∂Wᵀ over the
// block's samples, which is added to the gradient once. ∂/∂b = the row sums of G.
void Conv2d::param_vjp(const ConstMatrixRef& at, const Params& p, const ConstMatrixRef& g_out, Params& grads,
                       Workspace& ws) const {
  check_grads(*this, p, grads);
  const ConvGeometry g = conv_geometry(input_shape_, output_shape_, opt_);
  const Index P = g.positions(), G = g.grid_positions(), K = g.channels * g.patch();
  const Index groups = opt_.groups, Kg = K / groups, Og = out_ch_ / groups, Ob = detail::round_up_columns(Og);
  MatrixMap cols = ws.get(slots::kConv2d, 0, g.wide() ? 1 : K, G);
  Scalar* padded = ws.get(slots::kConv2d, 2, 1, padded_size(g)).data();
  Scalar* grid = g.regridded() ? ws.get(slots::kConv2d, 3, out_ch_, G).data() : nullptr;
  MatrixMap transposed = ws.get(slots::kConv2d, 1, G, groups * Ob);  // group gi: columns from gi · Ob
  MatrixMap dwt = ws.get(slots::kConv2d, 4, K, Ob);                   // ∂Wᵀ: row k, its group's outputs
  transposed.setZero();
  dwt.setZero();
  const Index* offsets = unfold_offsets(g);
  for (Index n = 0; n < g_out.rows(); ++n) {
    if (grads.has_bias()) grads.bias += ConstMatrixMap(g_out.row(n).data(), out_ch_, P).rowwise().sum();
    const Scalar* grad = g_out.row(n).data();
    if (grid != nullptr) {
      widen(grad, out_ch_, g, grid);
      grad = grid;
    }
    for (Index gi = 0; gi < groups; ++gi)
      transposed.middleCols(gi * Ob, Og) = ConstMatrixMap(grad + gi * Og * G, Og, G).transpose();
    const Scalar* unfolded = unfold(at.row(n).data(), g, padded, cols);
    for (Index gi = 0; gi < groups; ++gi)
      detail::small_gemm(OffsetRows<const Scalar>{unfolded, offsets + gi * Kg},
                         PitchRows<const Scalar>{transposed.data() + gi * Ob, transposed.cols()},
                         PitchRows<Scalar>{dwt.data() + gi * Kg * Ob, Ob}, Kg, Ob, G, true);
  }
  for (Index gi = 0; gi < groups; ++gi)
    grads.weight.middleRows(gi * Og, Og) += dwt.middleRows(gi * Kg, Kg).leftCols(Og).transpose();
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
