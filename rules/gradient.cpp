// Gradient: R_in = J(a)ᵀ R_out on any layer. With every layer on `gradient` and the one-hot seed,
// the result is ∂f_c/∂x (Simonyan et al. 2014); times the input, gradient × input.
#include "lrp/registry/registry.hpp"

void lrp_register_rule_gradient(lrp::Registry& registry) {
  registry.add_rule({"gradient", "vector-Jacobian product: the plain gradient (baselines, oracles)", {},
                     [](const lrp::ParamMap&) -> lrp::RulePtr {
                       auto rule = std::make_unique<lrp::VjpRule>([](const lrp::LayerTraits&) { return true; }, "any layer");
                       rule->set_ledger_share(lrp::LedgerShare::none());  // not an LRP rule: no ledger split
                       return rule;
                     }});
}
