// Winner-take-all for max pooling: R_j goes to the arg-max of its window (on ties, as the layer's
// MaxPoolTies says: PyTorch's first maximum by default, or an equal split), overlapping windows
// accumulating. That is exactly the vector-Jacobian product of a routing layer, whose winners are
// fixed from the activation.
#include "lrp/registry/registry.hpp"

void lrp_register_rule_wta(lrp::Registry& registry) {
  registry.add_rule({"wta", "winner-take-all: max-pool relevance to the window's maximum (ties: the first maximum, as PyTorch, or split)", {},
                     [](const lrp::ParamMap&) -> lrp::RulePtr {
                       auto routing = [](const lrp::LayerTraits& t) { return !t.linear && !t.elementwise && !t.reshape; };
                       auto rule = std::make_unique<lrp::VjpRule>(routing, "routing layers (max pooling)");
                       rule->set_ledger_share(lrp::LedgerShare::zero());  // routes R_out unchanged: nothing absorbed
                       return rule;
                     }});
}
