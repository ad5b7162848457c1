// LRP-0 (Bach et al. 2015, "On pixel-wise explanations ... by layer-wise relevance propagation"):
// R_i = a_i Σ_j w_ij R_j / z_j with z = W a + b; an output with z_j = 0 passes nothing.
#include "lrp/registry/registry.hpp"

void lrp_register_rule_zero(lrp::Registry& registry) {
  using namespace lrp;
  registry.add_rule({"zero", "LRP-0: a ⊙ Wᵀ(R / z), z = W a + b; 0 where z = 0", {}, [](const ParamMap&) -> RulePtr {
                       auto rule = std::make_unique<LinearRule>(
                           LinearRuleSpec::single_term(InputModifier::identity(), ParamModifier::unchanged(), 0));
                       rule->set_ledger_share(LedgerShare::epsilon_type(0));  // LRP-0 absorbs the bias share only
                       return rule;
                     }});
}
