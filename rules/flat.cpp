// Flat (Lapuschkin et al. 2019, "Unmasking Clever Hans predictors"; Zennit's Flat): every input
// in an output's receptive field gets an equal share, R_i = Σ_j R_j / stab(z_j) with z_j the number
// of inputs output j sees (zero padding excluded). Input values, weights and bias are ignored.
#include "lrp/registry/registry.hpp"

void lrp_register_rule_flat(lrp::Registry& registry) {
  using namespace lrp;
  registry.add_rule({"flat", "flat: uniform over each output's receptive field (input values ignored)",
                     {stabilizer_param()}, [](const ParamMap& p) -> RulePtr {
                       const auto stabilizer = static_cast<Scalar>(p.scalar("stabilizer", "rule 'flat'"));
                       const ParamModifier ones{[](Scalar) { return Scalar(1); }, nullptr};
                       auto rule = std::make_unique<LinearRule>(
                           LinearRuleSpec::single_term(InputModifier::ones(), ones, stabilizer));
                       rule->set_ledger_share(LedgerShare::none());  // modified weights and inputs: no bias/stabilizer split
                       return rule;
                     }});
}
