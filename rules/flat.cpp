// Flat (Lapuschkin et al. 2019, "Unmasking Clever Hans predictors"; Zennit's Flat): every input
// in an output's receptive field gets an equal share, R_i = Σ_j R_j / stab(z_j) with z_j the number
// of inputs output j sees (zero padding excluded). Input values, weights and bias are ignored.
#include "lrp/error.hpp"
#include "lrp/registry.hpp"

void lrp_register_rule_flat(lrp::Registry& registry) {
  using namespace lrp;
  registry.add_rule({"flat",
                     "flat: uniform over each output's receptive field (input values ignored)",
                     {{"stabilizer", {1e-6}, "denominator stabilizer (≥ 0)"}},
                     [](const ParamMap& p) -> RulePtr {
                       LinearRuleSpec s;
                       s.inputs = {InputModifier::ones()};
                       s.params = {ParamModifier{[](Scalar) { return Scalar(1); }, nullptr}};
                       s.denominators = {Denominator{}};
                       s.terms = {Term{0, 0, 0, 1}};
                       s.stabilizer = static_cast<Scalar>(p.scalar("stabilizer", "rule 'flat'"));
                       return std::make_unique<LinearRule>(std::move(s));
                     },
                     [](const ParamMap& p) {
                       LRP_CHECK(p.scalar("stabilizer", "") >= 0.0, "rule 'flat': parameter 'stabilizer' must be ≥ 0");
                     }});
}
