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
         // W + γW⁺ = 1·W + γ·W⁺ and W + γW⁻ = (1 + γ)·W − γ·W⁺
         const ParamModifier favour_positive = ParamModifier::mixed(1, g, true);
         const ParamModifier favour_negative = ParamModifier::mixed(1 + g, -g, true);
         LinearRuleSpec s;
         s.inputs = {InputModifier::positive(), InputModifier::negative()};
         s.params = {favour_positive, ParamModifier::mixed(1 + g, -g, false), favour_negative,
                     ParamModifier::mixed(1, g, false)};
         s.denominators = {Denominator{Denominator::Gate::kPositiveOutput, 1},
                           Denominator{Denominator::Gate::kNegativeOutput, 1}};
         s.terms = {Term{0, 0, 0, 1}, Term{1, 1, 0, 1}, Term{0, 2, 1, 1}, Term{1, 3, 1, 1}};
         s.stabilizer = static_cast<Scalar>(p.scalar("stabilizer", "rule 'gamma'"));
         // Where zᵖ's gate is open (z > 0), a term on a ≥ 0 adds z and γ(W⁺a + b⁺) ≥ 0, or on a ≤ 0
         // (no bias) (1 + γ)z and −γW⁺a ≥ 0; zⁿ likewise adds two non-positive summands: no cancellation.
         s.share_positive_product = true;
         auto rule = std::make_unique<LinearRule>(std::move(s));
         rule->set_ledger_share(LedgerShare::none());  // modified weights: no bias/stabilizer split
         return rule;
       }});
}
