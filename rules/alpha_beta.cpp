// αβ (Bach et al. 2015; Zennit's AlphaBeta): z⁺ = W⁺a⁺ + b⁺ + W⁻a⁻, z⁻ = W⁻a⁺ + b⁻ + W⁺a⁻,
// R_in = α[a⁺(W⁺ᵀs⁺) + a⁻(W⁻ᵀs⁺)] − β[a⁺(W⁻ᵀs⁻) + a⁻(W⁺ᵀs⁻)], s^± = R / stab(z^±).
#include "lrp/core/error.hpp"
#include "lrp/registry/registry.hpp"

#include <cmath>

void lrp_register_rule_alpha_beta(lrp::Registry& registry) {
  using namespace lrp;
  registry.add_rule(
      {"alpha_beta",
       "alpha-beta: positive and negative contributions weighted by alpha and -beta (alpha - beta = 1)",
       {non_negative("alpha", 2.0, "weight of the positive part (≥ 0)"),
        non_negative("beta", 1.0, "weight of the negative part (≥ 0, alpha - beta = 1)"), stabilizer_param()},
       [](const ParamMap& p) -> RulePtr {
         const std::string owner = "rule 'alpha_beta'";
         LinearRuleSpec s;
         s.inputs = {InputModifier::positive(), InputModifier::negative()};
         s.params = {ParamModifier{positive_part, positive_part}, ParamModifier{negative_part, nullptr},
                     ParamModifier{negative_part, negative_part}, ParamModifier{positive_part, nullptr}};
         s.denominators = {Denominator{Denominator::Gate::kAll, static_cast<Scalar>(p.scalar("alpha", owner))},
                           Denominator{Denominator::Gate::kAll, static_cast<Scalar>(-p.scalar("beta", owner))}};
         s.terms = {Term{0, 0, 0, 1}, Term{1, 1, 0, 1}, Term{0, 2, 1, 1}, Term{1, 3, 1, 1}};
         s.stabilizer = static_cast<Scalar>(p.scalar("stabilizer", owner));
         auto rule = std::make_unique<LinearRule>(std::move(s));
         rule->set_ledger_share(LedgerShare::none());  // two branches: no single bias/stabilizer split
         return rule;
       },
       [](const ParamMap& p) {
         const double alpha = p.scalar("alpha", ""), beta = p.scalar("beta", "");
         LRP_CHECK(std::abs(alpha - beta - 1.0) <= 1e-12, "rule 'alpha_beta': alpha - beta must equal 1, got alpha=",
                   alpha, ", beta=", beta);
       }});
}
