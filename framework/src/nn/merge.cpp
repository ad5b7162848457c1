// The add and concat layers (lrp/nn/merge.hpp).
#include "lrp/nn/merge.hpp"

#include "layer_checks.hpp"

#include <algorithm>

namespace lrp {

using detail::where;

namespace {

// stack_inputs runs before the layer has its name: the network puts it in front of these messages.
void require_several(std::span<const Shape> inputs) {
  LRP_CHECK(inputs.size() >= 2, "it reads ", inputs.size(), " value; it needs two or more (name them in its inputs)");
}

std::string shapes_text(std::span<const Shape> inputs) {
  std::string text;
  for (const Shape& s : inputs) text += (text.empty() ? "" : ", ") + to_string(s);
  return text;
}

}  // namespace

std::string Add::describe() const { return "add of " + std::to_string(inputs()) + " inputs"; }

Shape Add::stack_inputs(std::span<const Shape> inputs) const {
  require_several(inputs);
  for (const Shape& s : inputs) LRP_CHECK(s == inputs[0], "its inputs must have one shape, got ", shapes_text(inputs));
  Shape stacked{static_cast<Index>(inputs.size())};
  stacked.insert(stacked.end(), inputs[0].begin(), inputs[0].end());
  return stacked;
}

Shape Add::setup(const Shape& in) {
  LRP_CHECK(in.size() >= 2 && in[0] >= 2, where(*this), ": expected a stacked input [k ≥ 2, ...], got ", to_string(in));
  Matrix weight = Matrix::Ones(1, in[0]);
  params_.weight = std::move(weight);
  return Shape(in.begin() + 1, in.end());
}

void Add::check_params(const Params& p) const {
  detail::check_shape(*this, "weight", p.weight.rows(), p.weight.cols(), 1, inputs());
  LRP_CHECK(p.bias.size() == 0, where(*this), ": add has no bias");
}

void Add::forward(const ConstMatrixRef& x, const Params& p, MatrixRef y, Workspace&) const {
  const Index m = y.cols(), k = p.weight.cols();
  y = p.weight(0, 0) * x.leftCols(m);
  for (Index i = 1; i < k; ++i) y += p.weight(0, i) * x.middleCols(i * m, m);
}

void Add::vjp(const ConstMatrixRef&, const Params& p, const ConstMatrixRef& g_out, MatrixRef g_in, Workspace&,
              bool accumulate) const {
  const Index m = g_out.cols(), k = p.weight.cols();
  for (Index i = 0; i < k; ++i) {
    if (accumulate)
      g_in.middleCols(i * m, m) += p.weight(0, i) * g_out;
    else
      g_in.middleCols(i * m, m) = p.weight(0, i) * g_out;
  }
}

Shape Concat::stack_inputs(std::span<const Shape> inputs) const {
  require_several(inputs);
  Shape joined = inputs[0];
  for (std::size_t k = 1; k < inputs.size(); ++k) {
    const Shape& s = inputs[k];
    LRP_CHECK(s.size() == joined.size() && std::equal(s.begin() + 1, s.end(), joined.begin() + 1),
              "its inputs must agree on every axis but the first, got ", shapes_text(inputs));
    joined[0] += s[0];
  }
  return joined;
}

void Concat::forward(const ConstMatrixRef& x, const Params&, MatrixRef y, Workspace&) const { y = x; }

void Concat::vjp(const ConstMatrixRef&, const Params&, const ConstMatrixRef& g_out, MatrixRef g_in, Workspace&,
                 bool accumulate) const {
  detail::identity_vjp(g_out, g_in, accumulate);
}

}  // namespace lrp
