// Winner-take-all for max pooling (RULES.md §3): R_j goes to the arg-max of its window, split
// equally among tied inputs, overlapping windows accumulating. That is exactly the vector-Jacobian
// product of a routing layer, whose winners are fixed from the activation.
#include "lrp/registry.hpp"

namespace {

class WinnerTakeAllRule final : public lrp::Rule {
 public:
  std::string incompatibility(const lrp::Layer& layer) const override {
    const lrp::LayerTraits t = layer.traits();
    if (!t.linear && !t.elementwise && !t.reshape) return "";
    return "rule 'wta' applies only to routing layers (max pooling), and layer '" + layer.name() + "' (" +
           layer.kind() + ") is not one";
  }
  void propagate(const lrp::LayerContext& ctx, const lrp::RuleState*, const lrp::ConstMatrixRef& relevance_out,
                 lrp::MatrixRef relevance_in, lrp::Workspace& ws) const override {
    ctx.layer.vjp(ctx.input, ctx.layer.params(), relevance_out, relevance_in, ws);
  }
};

}  // namespace

void lrp_register_rule_wta(lrp::Registry& registry) {
  registry.add_rule({"wta", "winner-take-all: max-pool relevance to the window's maximum (ties split equally)", {},
                     [](const lrp::ParamMap&) -> lrp::RulePtr { return std::make_unique<WinnerTakeAllRule>(); }});
}
