// w² (Montavon et al. 2017, deep Taylor decomposition for unbounded inputs; Zennit's WSquare):
// R_i = Σ_j w_ij² R_j / stab(z_j), z_j = Σ_i w_ij² + b_j²; input values ignored, bias squared and kept.
#include "lrp/error.hpp"
#include "lrp/registry.hpp"

void lrp_register_rule_wsquare(lrp::Registry& registry) {
  using namespace lrp;
  auto square = [](Scalar v) { return v * v; };
  registry.add_rule({"wsquare",
                     "w-square: in proportion to squared weights (input values ignored)",
                     {{"stabilizer", {1e-6}, "denominator stabilizer (≥ 0)"}},
                     [square](const ParamMap& p) -> RulePtr {
                       LinearRuleSpec s;
                       s.inputs = {InputModifier::ones()};
                       s.params = {ParamModifier{square, square}};
                       s.denominators = {Denominator{}};
                       s.terms = {Term{0, 0, 0, 1}};
                       s.stabilizer = static_cast<Scalar>(p.scalar("stabilizer", "rule 'wsquare'"));
                       return std::make_unique<LinearRule>(std::move(s));
                     },
                     [](const ParamMap& p) {
                       LRP_CHECK(p.scalar("stabilizer", "") >= 0.0, "rule 'wsquare': parameter 'stabilizer' must be ≥ 0");
                     }});
}
