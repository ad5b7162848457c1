// LRP-ε (Bach et al. 2015): R_i = a_i Σ_j w_ij R_j / stab_ε(z_j), z = W a + b.
#include "lrp/error.hpp"
#include "lrp/registry.hpp"

void lrp_register_rule_epsilon(lrp::Registry& registry) {
  using namespace lrp;
  registry.add_rule({"epsilon",
                     "LRP-epsilon: a ⊙ Wᵀ(R / stab_eps(z)), z = W a + b",
                     {{"epsilon", {1e-6}, "stabilizer added to |z| (≥ 0)"}},
                     [](const ParamMap& p) -> RulePtr {
                       LinearRuleSpec s;
                       s.inputs = {InputModifier::identity()};
                       s.params = {ParamModifier::unchanged()};
                       s.denominators = {Denominator{}};
                       s.terms = {Term{0, 0, 0, 1}};
                       s.stabilizer = static_cast<Scalar>(p.scalar("epsilon", "rule 'epsilon'"));
                       return std::make_unique<LinearRule>(std::move(s));
                     },
                     [](const ParamMap& p) {
                       LRP_CHECK(p.scalar("epsilon", "") >= 0.0, "rule 'epsilon': parameter 'epsilon' must be ≥ 0, got ",
                                 p.scalar("epsilon", ""));
                     }});
}
