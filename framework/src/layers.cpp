#include "lrp/layers.hpp"

#include "lrp/error.hpp"

#include <cmath>
#include <limits>
#include <sstream>

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

// Spatial output size of a sliding window, as PyTorch computes it.
Index window_out(Index in, Index kernel, Index stride, Index pad, Index dilation) {
  return (in + 2 * pad - dilation * (kernel - 1) - 1) / stride + 1;
}

Shape require_chw(const Layer& layer, const Shape& in) {
  LRP_CHECK(in.size() == 3, where(layer), ": expected an input of shape [C, H, W], got ", to_string(in));
  return in;
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

// ---------------------------------------------------------------- conv2d

namespace {

struct ConvGeometry {
  Index channels, height, width, out_height, out_width;
  Index kh, kw, sh, sw, ph, pw, dh, dw;
  Index patch() const { return kh * kw; }
  Index positions() const { return out_height * out_width; }
};

// cols[(c·kh + i)·kw + j, oh·Wo + ow] = x[c, oh·sh − ph + i·dh, ow·sw − pw + j·dw] (0 outside).
void im2col(const Scalar* x, const ConvGeometry& g, MatrixMap& cols) {
  const Index P = g.positions();
  for (Index c = 0; c < g.channels; ++c) {
    const Scalar* plane = x + c * g.height * g.width;
    for (Index i = 0; i < g.kh; ++i) {
      for (Index j = 0; j < g.kw; ++j) {
        Scalar* row = cols.data() + ((c * g.kh + i) * g.kw + j) * P;
        for (Index oh = 0; oh < g.out_height; ++oh) {
          const Index ih = oh * g.sh - g.ph + i * g.dh;
          Scalar* out = row + oh * g.out_width;
          if (ih < 0 || ih >= g.height) {
            std::fill(out, out + g.out_width, Scalar(0));
            continue;
          }
          const Scalar* in_row = plane + ih * g.width;
          const Index offset = j * g.dw - g.pw;
          if (g.sw == 1) {
            // Contiguous: copy the in-range span, zero the padded ends.
            const Index lo = std::max<Index>(0, -offset), hi = std::min<Index>(g.out_width, g.width - offset);
            for (Index ow = 0; ow < std::min(lo, g.out_width); ++ow) out[ow] = 0;
            for (Index ow = lo; ow < hi; ++ow) out[ow] = in_row[ow + offset];
            for (Index ow = std::max(hi, lo); ow < g.out_width; ++ow) out[ow] = 0;
          } else {
            for (Index ow = 0; ow < g.out_width; ++ow) {
              const Index iw = ow * g.sw + offset;
              out[ow] = (iw >= 0 && iw < g.width) ? in_row[iw] : Scalar(0);
            }
          }
        }
      }
    }
  }
}

// The adjoint of im2col: x[c, ih, iw] += cols[...] for every position that read it.
void col2im_add(const MatrixMap& cols, const ConvGeometry& g, Scalar* x) {
  const Index P = g.positions();
  for (Index c = 0; c < g.channels; ++c) {
    Scalar* plane = x + c * g.height * g.width;
    for (Index i = 0; i < g.kh; ++i) {
      for (Index j = 0; j < g.kw; ++j) {
        const Scalar* row = cols.data() + ((c * g.kh + i) * g.kw + j) * P;
        const Index offset = j * g.dw - g.pw;
        for (Index oh = 0; oh < g.out_height; ++oh) {
          const Index ih = oh * g.sh - g.ph + i * g.dh;
          if (ih < 0 || ih >= g.height) continue;
          Scalar* in_row = plane + ih * g.width;
          const Scalar* src = row + oh * g.out_width;
          for (Index ow = 0; ow < g.out_width; ++ow) {
            const Index iw = ow * g.sw + offset;
            if (iw >= 0 && iw < g.width) in_row[iw] += src[ow];
          }
        }
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
  const ConvGeometry g = conv_geometry(input_shape_, output_shape_, opt_);
  const Index P = g.positions(), K = g.channels * g.patch();
  const Index groups = opt_.groups, Kg = K / groups, Og = out_ch_ / groups;
  MatrixMap cols = ws.get(kLayerSlot0, K, P);
  for (Index n = 0; n < x.rows(); ++n) {
    im2col(x.row(n).data(), g, cols);
    MatrixMap out(y.row(n).data(), out_ch_, P);
    if (groups == 1) {
      out.noalias() = p.weight * cols;
    } else {
      for (Index gi = 0; gi < groups; ++gi)
        out.middleRows(gi * Og, Og).noalias() = p.weight.middleRows(gi * Og, Og) * cols.middleRows(gi * Kg, Kg);
    }
    if (p.has_bias()) out.colwise() += p.bias;
  }
}

void Conv2d::vjp(const ConstMatrixRef&, const Params& p, const ConstMatrixRef& g_out, MatrixRef g_in, Workspace& ws,
                 bool accumulate) const {
  const ConvGeometry g = conv_geometry(input_shape_, output_shape_, opt_);
  const Index P = g.positions(), K = g.channels * g.patch();
  const Index groups = opt_.groups, Kg = K / groups, Og = out_ch_ / groups;
  MatrixMap cols = ws.get(kLayerSlot0, K, P);
  if (!accumulate) g_in.setZero();
  for (Index n = 0; n < g_out.rows(); ++n) {
    Eigen::Map<const Matrix> grad(g_out.row(n).data(), out_ch_, P);
    if (groups == 1) {
      cols.noalias() = p.weight.transpose() * grad;
    } else {
      for (Index gi = 0; gi < groups; ++gi)
        cols.middleRows(gi * Kg, Kg).noalias() =
            p.weight.middleRows(gi * Og, Og).transpose() * grad.middleRows(gi * Og, Og);
    }
    col2im_add(cols, g, g_in.row(n).data());
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

Shape pool_output(const Layer& layer, const Shape& in, const Pool2dOptions& o) {
  require_chw(layer, in);
  const Index oh = window_out(in[1], o.kernel[0], o.stride[0], o.padding[0], 1);
  const Index ow = window_out(in[2], o.kernel[1], o.stride[1], o.padding[1], 1);
  LRP_CHECK(oh > 0 && ow > 0, where(layer), ": the input ", to_string(in), " is smaller than the pooling window");
  return {in[0], oh, ow};
}

std::string pool_describe(const char* kind, const Pool2dOptions& o) {
  return detail::concat(kind, "(kernel ", o.kernel[0], "x", o.kernel[1], ", stride ", o.stride[0], "x", o.stride[1],
                        ", padding ", o.padding[0], "x", o.padding[1], ")");
}

}  // namespace

MaxPool2d::MaxPool2d(Pool2dOptions options) : opt_(options) { check_pool_options("maxpool2d", opt_); }

std::string MaxPool2d::describe() const { return pool_describe("maxpool2d", opt_); }

Shape MaxPool2d::setup(const Shape& in) { return pool_output(*this, in, opt_); }

void MaxPool2d::forward(const ConstMatrixRef& x, const Params&, MatrixRef y, Workspace&) const {
  const Index C = input_shape_[0], H = input_shape_[1], W = input_shape_[2];
  const Index Ho = output_shape_[1], Wo = output_shape_[2];
  for (Index n = 0; n < x.rows(); ++n) {
    const Scalar* xin = x.row(n).data();
    Scalar* out = y.row(n).data();
    for (Index c = 0; c < C; ++c) {
      for (Index oh = 0; oh < Ho; ++oh) {
        for (Index ow = 0; ow < Wo; ++ow) {
          Scalar best = -std::numeric_limits<Scalar>::infinity();
          for (Index i = 0; i < opt_.kernel[0]; ++i) {
            const Index ih = oh * opt_.stride[0] - opt_.padding[0] + i;
            if (ih < 0 || ih >= H) continue;
            for (Index j = 0; j < opt_.kernel[1]; ++j) {
              const Index iw = ow * opt_.stride[1] - opt_.padding[1] + j;
              if (iw < 0 || iw >= W) continue;
              best = std::max(best, xin[(c * H + ih) * W + iw]);
            }
          }
          out[(c * Ho + oh) * Wo + ow] = best;
        }
      }
    }
  }
}

void MaxPool2d::vjp(const ConstMatrixRef& at, const Params&, const ConstMatrixRef& g_out, MatrixRef g_in, Workspace&,
                    bool accumulate) const {
  const Index C = input_shape_[0], H = input_shape_[1], W = input_shape_[2];
  const Index Ho = output_shape_[1], Wo = output_shape_[2];
  if (!accumulate) g_in.setZero();
  for (Index n = 0; n < at.rows(); ++n) {
    const Scalar* xin = at.row(n).data();
    const Scalar* g = g_out.row(n).data();
    Scalar* gi = g_in.row(n).data();
    for (Index c = 0; c < C; ++c) {
      for (Index oh = 0; oh < Ho; ++oh) {
        for (Index ow = 0; ow < Wo; ++ow) {
          const Scalar go = g[(c * Ho + oh) * Wo + ow];
          if (go == Scalar(0)) continue;
          // Winners are fixed from the activation `at`: find the maximum, then split among ties.
          Scalar best = -std::numeric_limits<Scalar>::infinity();
          int ties = 0;
          for (Index i = 0; i < opt_.kernel[0]; ++i) {
            const Index ih = oh * opt_.stride[0] - opt_.padding[0] + i;
            if (ih < 0 || ih >= H) continue;
            for (Index j = 0; j < opt_.kernel[1]; ++j) {
              const Index iw = ow * opt_.stride[1] - opt_.padding[1] + j;
              if (iw < 0 || iw >= W) continue;
              const Scalar v = xin[(c * H + ih) * W + iw];
              if (v > best) {
                best = v;
                ties = 1;
              } else if (v == best) {
                ++ties;
              }
            }
          }
          const Scalar share = go / static_cast<Scalar>(ties);
          for (Index i = 0; i < opt_.kernel[0]; ++i) {
            const Index ih = oh * opt_.stride[0] - opt_.padding[0] + i;
            if (ih < 0 || ih >= H) continue;
            for (Index j = 0; j < opt_.kernel[1]; ++j) {
              const Index iw = ow * opt_.stride[1] - opt_.padding[1] + j;
              if (iw < 0 || iw >= W) continue;
              if (xin[(c * H + ih) * W + iw] == best) gi[(c * H + ih) * W + iw] += share;
            }
          }
        }
      }
    }
  }
}

AvgPool2d::AvgPool2d(Pool2dOptions options) : opt_(options) {
  check_pool_options("avgpool2d", opt_);
  set_kernel(opt_.kernel[0], opt_.kernel[1]);
}

std::unique_ptr<AvgPool2d> AvgPool2d::global() {
  std::unique_ptr<AvgPool2d> layer(new AvgPool2d());
  layer->global_ = true;
  return layer;
}

void AvgPool2d::set_kernel(Index kh, Index kw) {
  opt_.kernel = {kh, kw};
  params_.weight = Matrix::Constant(1, kh * kw, Scalar(1) / static_cast<Scalar>(kh * kw));
}

std::string AvgPool2d::describe() const {
  return global_ ? std::string("global_avgpool") : pool_describe("avgpool2d", opt_);
}

Shape AvgPool2d::setup(const Shape& in) {
  if (global_) {
    require_chw(*this, in);
    opt_.stride = {1, 1};
    opt_.padding = {0, 0};
    set_kernel(in[1], in[2]);
  }
  return pool_output(*this, in, opt_);
}

void AvgPool2d::check_params(const Params& p) const {
  check_shape(*this, "weight", p.weight.rows(), p.weight.cols(), 1, opt_.kernel[0] * opt_.kernel[1]);
  LRP_CHECK(p.bias.size() == 0, where(*this), ": average pooling has no bias");
}

void AvgPool2d::forward(const ConstMatrixRef& x, const Params& p, MatrixRef y, Workspace&) const {
  const Index C = input_shape_[0], H = input_shape_[1], W = input_shape_[2];
  const Index Ho = output_shape_[1], Wo = output_shape_[2], kh = opt_.kernel[0], kw = opt_.kernel[1];
  const Scalar* w = p.weight.data();
  for (Index n = 0; n < x.rows(); ++n) {
    const Scalar* xin = x.row(n).data();
    Scalar* out = y.row(n).data();
    for (Index c = 0; c < C; ++c) {
      for (Index oh = 0; oh < Ho; ++oh) {
        for (Index ow = 0; ow < Wo; ++ow) {
          Scalar sum = 0;
          for (Index i = 0; i < kh; ++i) {
            const Index ih = oh * opt_.stride[0] - opt_.padding[0] + i;
            if (ih < 0 || ih >= H) continue;
            for (Index j = 0; j < kw; ++j) {
              const Index iw = ow * opt_.stride[1] - opt_.padding[1] + j;
              if (iw >= 0 && iw < W) sum += w[i * kw + j] * xin[(c * H + ih) * W + iw];
            }
          }
          out[(c * Ho + oh) * Wo + ow] = sum;
        }
      }
    }
  }
}

void AvgPool2d::vjp(const ConstMatrixRef&, const Params& p, const ConstMatrixRef& g_out, MatrixRef g_in, Workspace&,
                    bool accumulate) const {
  const Index C = input_shape_[0], H = input_shape_[1], W = input_shape_[2];
  const Index Ho = output_shape_[1], Wo = output_shape_[2], kh = opt_.kernel[0], kw = opt_.kernel[1];
  const Scalar* w = p.weight.data();
  if (!accumulate) g_in.setZero();
  for (Index n = 0; n < g_out.rows(); ++n) {
    const Scalar* g = g_out.row(n).data();
    Scalar* gi = g_in.row(n).data();
    for (Index c = 0; c < C; ++c) {
      for (Index oh = 0; oh < Ho; ++oh) {
        for (Index ow = 0; ow < Wo; ++ow) {
          const Scalar go = g[(c * Ho + oh) * Wo + ow];
          for (Index i = 0; i < kh; ++i) {
            const Index ih = oh * opt_.stride[0] - opt_.padding[0] + i;
            if (ih < 0 || ih >= H) continue;
            for (Index j = 0; j < kw; ++j) {
              const Index iw = ow * opt_.stride[1] - opt_.padding[1] + j;
              if (iw >= 0 && iw < W) gi[(c * H + ih) * W + iw] += w[i * kw + j] * go;
            }
          }
        }
      }
    }
  }
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

ElementwiseActivation::ElementwiseActivation(Activation f, std::string kind_name) : f_(f), kind_(std::move(kind_name)) {
  if (kind_.empty()) {
    switch (f_) {
      case Activation::kReLU: kind_ = "relu"; break;
      case Activation::kTanh: kind_ = "tanh"; break;
      case Activation::kSigmoid: kind_ = "sigmoid"; break;
      case Activation::kIdentity: kind_ = "identity"; break;
    }
  }
}

void ElementwiseActivation::forward(const ConstMatrixRef& x, const Params&, MatrixRef y, Workspace&) const {
  switch (f_) {
    case Activation::kReLU: y = x.cwiseMax(Scalar(0)); break;
    case Activation::kTanh: y = x.array().tanh().matrix(); break;
    case Activation::kSigmoid: y = (Scalar(1) / (Scalar(1) + (-x.array()).exp())).matrix(); break;
    case Activation::kIdentity: y = x; break;
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
  }
}

LayerPtr make_relu() { return std::make_unique<ElementwiseActivation>(Activation::kReLU); }
LayerPtr make_tanh() { return std::make_unique<ElementwiseActivation>(Activation::kTanh); }
LayerPtr make_sigmoid() { return std::make_unique<ElementwiseActivation>(Activation::kSigmoid); }
LayerPtr make_identity() { return std::make_unique<ElementwiseActivation>(Activation::kIdentity); }
LayerPtr make_dropout(double p) {
  LRP_CHECK(p >= 0.0 && p < 1.0, "dropout: probability must be in [0, 1), got ", p);
  return std::make_unique<ElementwiseActivation>(Activation::kIdentity, "dropout");
}

// ---------------------------------------------------------------- batch norm

BatchNorm::BatchNorm(Index channels, double eps)
    : channels_(channels), eps_(eps), mean_(Vector::Zero(channels)), var_(Vector::Ones(channels)) {
  LRP_CHECK(channels_ > 0, "batchnorm: channels must be positive, got ", channels_);
  LRP_CHECK(eps_ > 0.0, "batchnorm: eps must be positive, got ", eps_);
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

}  // namespace lrp
