// LRP-ε (Bach et al. 2015): R_i = a_i Σ_j w_ij R_j / stab_ε(z_j), z = W a + b.
#include "lrp/registry/registry.hpp"

void lrp_register_rule_epsilon(lrp::Registry& registry) {
  using namespace lrp;
  registry.add_rule({"epsilon", "LRP-epsilon: a ⊙ Wᵀ(R / stab_eps(z)), z = W a + b",
                     {non_negative("epsilon", 1e-6, "stabilizer added to |z| (≥ 0)")},
                     [](const ParamMap& p) -> RulePtr {
                       const auto eps = static_cast<Scalar>(p.scalar("epsilon", "rule 'epsilon'"));
                       auto rule = std::make_unique<LinearRule>(
                           LinearRuleSpec::single_term(InputModifier::identity(), ParamModifier::unchanged(), eps));
                       rule->set_ledger_share(LedgerShare::epsilon_type(eps));  // z + ε·sign₀(z): bias and ε share
                       return rule;
                     }});
}
