// Norm (Zennit's parameter-free ε rule, the default for average pooling): R_in = a ⊙ Wᵀ(R / stab(z))
// with z = f(a), the layer's own output, parameters unmodified.
#include "lrp/registry/registry.hpp"

void lrp_register_rule_norm(lrp::Registry& registry) {
  using namespace lrp;
  registry.add_rule({"norm", "a ⊙ Wᵀ(R / stab(f(a))): relevance in proportion to the inputs' contributions",
                     {stabilizer_param()}, [](const ParamMap& p) -> RulePtr {
                       const auto stabilizer = static_cast<Scalar>(p.scalar("stabilizer", "rule 'norm'"));
                       auto rule = std::make_unique<LinearRule>(LinearRuleSpec::single_term(
                           InputModifier::identity(), ParamModifier::unchanged(), stabilizer));
                       rule->set_ledger_share(LedgerShare::epsilon_type(stabilizer));  // as epsilon, with its stabilizer
                       return rule;
                     }});
}
