// Winner-take-all for max pooling (RULES.md §3): R_j goes to the arg-max of its window, split
// equally among tied inputs, overlapping windows accumulating. That is exactly the vector-Jacobian
// product of a routing layer, whose winners are fixed from the activation.
#include "lrp/registry.hpp"

void lrp_register_rule_wta(lrp::Registry& registry) {
  registry.add_rule({"wta", "winner-take-all: max-pool relevance to the window's maximum (ties split equally)", {},
                     [](const lrp::ParamMap&) -> lrp::RulePtr {
                       auto routing = [](const lrp::LayerTraits& t) { return !t.linear && !t.elementwise && !t.reshape; };
                       return std::make_unique<lrp::VjpRule>(routing, "routing layers (max pooling)");
                     }});
}
