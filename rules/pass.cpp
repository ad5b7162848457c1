// Pass: R_in = R_out, the default for elementwise activations (no masking: the rule of the layer
// below multiplies by the activation anyway) and for reshapes (docs/rules.md, Default rules of the other layers).
#include "lrp/registry/registry.hpp"

namespace {

class PassRule final : public lrp::Rule {
 public:
  std::string incompatibility(const lrp::Layer& layer) const override {
    const lrp::LayerTraits t = layer.traits();
    if ((t.elementwise || t.reshape) && lrp::numel(layer.input_shape()) == lrp::numel(layer.output_shape())) return "";
    return "rule 'pass' applies only to elementwise and reshape layers, and layer '" + layer.name() + "' (" +
           layer.kind() + ") is neither";
  }
  void propagate(const lrp::LayerContext&, const lrp::RuleState*, const lrp::ConstMatrixRef& relevance_out,
                 lrp::MatrixRef relevance_in, lrp::Workspace&) const override {
    relevance_in = relevance_out;
  }
  bool passes_through() const override { return true; }
  lrp::LedgerShare ledger_share(const lrp::Layer&) const override { return lrp::LedgerShare::zero(); }  // conserves exactly
};

}  // namespace

void lrp_register_rule_pass(lrp::Registry& registry) {
  registry.add_rule({"pass", "R_in = R_out (activations, reshapes)", {},
                     [](const lrp::ParamMap&) -> lrp::RulePtr { return std::make_unique<PassRule>(); }});
}
