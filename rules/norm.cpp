// Norm (Zennit's parameter-free ε rule, the default for average pooling): R_in = a ⊙ Wᵀ(R / stab(z))
// with z = f(a), the layer's own output, parameters unmodified.
#include "lrp/error.hpp"
#include "lrp/registry.hpp"

void lrp_register_rule_norm(lrp::Registry& registry) {
  using namespace lrp;
  registry.add_rule({"norm",
                     "a ⊙ Wᵀ(R / stab(f(a))): relevance in proportion to the inputs' contributions",
                     {{"stabilizer", {1e-6}, "denominator stabilizer (≥ 0)"}},
                     [](const ParamMap& p) -> RulePtr {
                       LinearRuleSpec s;
                       s.inputs = {InputModifier::identity()};
                       s.params = {ParamModifier::unchanged()};
                       s.denominators = {Denominator{}};
                       s.terms = {Term{0, 0, 0, 1}};
                       s.stabilizer = static_cast<Scalar>(p.scalar("stabilizer", "rule 'norm'"));
                       return std::make_unique<LinearRule>(std::move(s));
                     },
                     [](const ParamMap& p) {
                       LRP_CHECK(p.scalar("stabilizer", "") >= 0.0, "rule 'norm': parameter 'stabilizer' must be ≥ 0");
                     }});
}
