// lstm_prop (docs/rules.md, LSTM rules, comparison variant): a gate ⊙ signal product splits its relevance in
// proportion to |gate| and |signal|; the gate's share goes through its own pre-activation.
#include "lrp/propagation/lstm_rules.hpp"

void lrp_register_rule_lstm_prop(lrp::Registry& registry) {
  registry.add_rule(lrp::lstm_rule_info(
      "lstm_prop", "LSTM variant: gate ⊙ signal products split by |gate| : |signal|; dense layers as lstm_gate",
      lrp::LstmProductSplit::kProportional));
}
