// z^B (Montavon et al. 2017, deep Taylor decomposition for bounded inputs; Zennit's ZBox):
// z = (W a + b) − (W⁺l + b⁺) − (W⁻h + b⁻), R_in = a ⊙ Wᵀs − l ⊙ W⁺ᵀs − h ⊙ W⁻ᵀs, s = R/stab(z).
// The bounds l, h are images in the model's input space (a scalar or one value per channel) and
// go through the layer's zero padding like the input; the bias cancels.
#include "lrp/core/error.hpp"
#include "lrp/registry/registry.hpp"

void lrp_register_rule_zbox(lrp::Registry& registry) {
  using namespace lrp;
  registry.add_rule(
      {"zbox",
       "z-box: for bounded inputs low <= a <= high (first layer)",
       {{"low", {}, "lowest input value, scalar or per channel", true},
        {"high", {}, "highest input value, scalar or per channel", true},
        stabilizer_param()},
       [](const ParamMap& p) -> RulePtr {
         auto image = [&](const char* name) {
           std::vector<Scalar> v;
           for (double x : p.get(name, "rule 'zbox'")) v.push_back(static_cast<Scalar>(x));
           return v;
         };
         LinearRuleSpec s;
         s.inputs = {InputModifier::identity(), InputModifier::constant(image("low")),
                     InputModifier::constant(image("high"))};
         s.params = {ParamModifier::unchanged(), ParamModifier{positive_part, positive_part},
                     ParamModifier{negative_part, negative_part}};
         s.denominators = {Denominator{}};
         s.terms = {Term{0, 0, 0, 1}, Term{1, 1, 0, -1}, Term{2, 2, 0, -1}};
         s.stabilizer = static_cast<Scalar>(p.scalar("stabilizer", "rule 'zbox'"));
         auto rule = std::make_unique<LinearRule>(std::move(s));
         rule->set_ledger_share(LedgerShare::none());  // three terms: no single bias/stabilizer split
         return rule;
       },
       [](const ParamMap& p) {
         const ParamValue& low = p.get("low", "rule 'zbox'");
         const ParamValue& high = p.get("high", "rule 'zbox'");
         LRP_CHECK(low.size() == high.size() || low.size() == 1 || high.size() == 1,
                   "rule 'zbox': 'low' and 'high' must have the same number of values (or one of them a single value), got ",
                   format_value(low), " and ", format_value(high));
         for (size_t i = 0; i < std::max(low.size(), high.size()); ++i) {
           const double l = low[low.size() == 1 ? 0 : i], h = high[high.size() == 1 ? 0 : i];
           LRP_CHECK(l < h, "rule 'zbox': 'low' must be below 'high' (channel ", i, ": low=", l, ", high=", h, ")");
         }
       }});
}
