// The dense layer: y = W x + b.
#include "lrp/nn/dense.hpp"
#include "layer_checks.hpp"

namespace lrp {

using detail::check_bias;
using detail::check_grads;
using detail::check_shape;
using detail::where;

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

LayerPtr Dense::absorb_affine(const ChannelAffine& affine) const {
  auto merged = std::make_unique<Dense>(in_, out_, true);
  merged->configure(input_shape_, name_);
  merged->set_params(fold_channel_affine(params_, affine));
  return merged;
}

}  // namespace lrp
