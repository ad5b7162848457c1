// lstm_half (docs/rules.md, LSTM rules, comparison variant): a gate ⊙ signal product gives half of its relevance
// to the gate and half to the signal; the gate's half goes through its own pre-activation.
#include "lrp/propagation/lstm_rules.hpp"

void lrp_register_rule_lstm_half(lrp::Registry& registry) {
  registry.add_rule(lrp::lstm_rule_info(
      "lstm_half", "LSTM variant: gate ⊙ signal products split half and half; dense layers as lstm_gate",
      lrp::LstmProductSplit::kHalf));
}
