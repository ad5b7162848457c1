// w² (Montavon et al. 2017, deep Taylor decomposition for unbounded inputs; Zennit's WSquare):
// R_i = Σ_j w_ij² R_j / stab(z_j), z_j = Σ_i w_ij² + b_j²; input values ignored, bias squared and kept.
#include "lrp/registry/registry.hpp"

void lrp_register_rule_wsquare(lrp::Registry& registry) {
  using namespace lrp;
  registry.add_rule({"wsquare", "w-square: in proportion to squared weights (input values ignored)",
                     {stabilizer_param()}, [](const ParamMap& p) -> RulePtr {
                       const auto stabilizer = static_cast<Scalar>(p.scalar("stabilizer", "rule 'wsquare'"));
                       auto square = [](Scalar v) { return v * v; };
                       auto rule = std::make_unique<LinearRule>(
                           LinearRuleSpec::single_term(InputModifier::ones(), ParamModifier{square, square}, stabilizer));
                       rule->set_ledger_share(LedgerShare::none());  // modified weights and inputs: no bias/stabilizer split
                       return rule;
                     }});
}
