// Gradient: R_in = J(a)ᵀ R_out on any layer. With every layer on `gradient` and the one-hot seed,
// the result is ∂f_c/∂x (Simonyan et al. 2014); times the input, gradient × input.
#include "lrp/registry.hpp"

namespace {

class GradientRule final : public lrp::Rule {
 public:
  std::string incompatibility(const lrp::Layer&) const override { return ""; }
  void propagate(const lrp::LayerContext& ctx, const lrp::RuleState*, const lrp::ConstMatrixRef& relevance_out,
                 lrp::MatrixRef relevance_in, lrp::Workspace& ws) const override {
    ctx.layer.vjp(ctx.input, ctx.layer.params(), relevance_out, relevance_in, ws);
  }
};

}  // namespace

void lrp_register_rule_gradient(lrp::Registry& registry) {
  registry.add_rule({"gradient", "vector-Jacobian product: the plain gradient (baselines, oracles)", {},
                     [](const lrp::ParamMap&) -> lrp::RulePtr { return std::make_unique<GradientRule>(); }});
}
