// lstm_gate, "signal-take-all" (Arras et al. 2017; docs/rules.md, LSTM rules): in every gate ⊙ signal product of
// an LSTM the signal takes all of the relevance; on dense layers the ε-rule with bias_factor δ.
#include "lrp/propagation/lstm_rules.hpp"

void lrp_register_rule_lstm_gate(lrp::Registry& registry) {
  registry.add_rule(lrp::lstm_rule_info(
      "lstm_gate", "LSTM gate-aware rule (signal-take-all); on dense layers the ε-rule with bias_factor",
      lrp::LstmProductSplit::kSignalTakeAll));
}
