// z⁺ (Montavon et al. 2017, "Explaining nonlinear classification decisions with deep Taylor
// decomposition"), Zennit's ZPlus: z = W⁺a⁺ + b⁺ + W⁻a⁻; R_in = a⁺ ⊙ W⁺ᵀs + a⁻ ⊙ W⁻ᵀs, s = R/stab(z).
#include "lrp/registry/registry.hpp"

void lrp_register_rule_zplus(lrp::Registry& registry) {
  using namespace lrp;
  registry.add_rule({"zplus",
                     "z+: only positive contributions, z = W+ a+ + b+ + W- a-",
                     {stabilizer_param()},
                     [](const ParamMap& p) -> RulePtr {
                       LinearRuleSpec s;
                       s.inputs = {InputModifier::positive(), InputModifier::negative()};
                       s.params = {ParamModifier{positive_part, positive_part}, ParamModifier{negative_part, nullptr}};
                       s.denominators = {Denominator{}};
                       s.terms = {Term{0, 0, 0, 1}, Term{1, 1, 0, 1}};
                       s.stabilizer = static_cast<Scalar>(p.scalar("stabilizer", "rule 'zplus'"));
                       auto rule = std::make_unique<LinearRule>(std::move(s));
                       rule->set_ledger_share(LedgerShare::none());  // modified weights: no bias/stabilizer split
                       return rule;
                     }});
}
