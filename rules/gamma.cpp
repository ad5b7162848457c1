// Generalized γ (Montavon et al. 2019, "Layer-wise relevance propagation: an overview"; Zennit's
// Gamma): Wᵖ = W + γW⁺, Wⁿ = W + γW⁻ (biases likewise); the sign of the unmodified z picks the
// branch: zᵖ = Wᵖa⁺ + bᵖ + Wⁿa⁻ where z > 0, zⁿ = Wⁿa⁺ + bⁿ + Wᵖa⁻ where z < 0.
#include "lrp/registry/registry.hpp"

void lrp_register_rule_gamma(lrp::Registry& registry) {
  using namespace lrp;
  registry.add_rule(
      {"gamma",
       "generalized gamma: favours positive (negative) contributions of positive (negative) outputs",
       {non_negative("gamma", 0.25, "weight of the favoured part (≥ 0)"), stabilizer_param()},
       [](const ParamMap& p) -> RulePtr {
         const auto g = static_cast<Scalar>(p.scalar("gamma", "rule 'gamma'"));
         auto favour_positive = [g](Scalar v) { return v + g * positive_part(v); };
         auto favour_negative = [g](Scalar v) { return v + g * negative_part(v); };
         LinearRuleSpec s;
         s.inputs = {InputModifier::positive(), InputModifier::negative()};
         s.params = {ParamModifier{favour_positive, favour_positive}, ParamModifier{favour_negative, nullptr},
                     ParamModifier{favour_negative, favour_negative}, ParamModifier{favour_positive, nullptr}};
         s.denominators = {Denominator{Denominator::Gate::kPositiveOutput, 1},
                           Denominator{Denominator::Gate::kNegativeOutput, 1}};
         s.terms = {Term{0, 0, 0, 1}, Term{1, 1, 0, 1}, Term{0, 2, 1, 1}, Term{1, 3, 1, 1}};
         s.stabilizer = static_cast<Scalar>(p.scalar("stabilizer", "rule 'gamma'"));
         auto rule = std::make_unique<LinearRule>(std::move(s));
         rule->set_ledger_share(LedgerShare::none());  // modified weights: no bias/stabilizer split
         return rule;
       }});
}
