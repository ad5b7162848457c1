// Max and average pooling: the shared window loops, and their 2×2 fast paths.
#include "lrp/nn/pooling.hpp"
#include "layer_checks.hpp"
#include "lrp/nn/network.hpp"
#include "lrp/core/limits.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

namespace lrp {

using detail::check_shape;
using detail::require_chw;
using detail::where;

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

Index set_maxpool_ties(Network& net, MaxPoolTies ties) {
  Index count = 0;
  for (Index l = 0; l < net.size(); ++l)
    if (auto* pool = dynamic_cast<MaxPool2d*>(&net.layer(l))) {
      pool->set_ties(ties);
      ++count;
    }
  return count;
}

}  // namespace lrp
