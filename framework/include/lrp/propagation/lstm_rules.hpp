// LRP through LSTM layers (docs/rules.md, LSTM rules): the gate-aware rule `lstm_gate` ("signal-take-all") and
// its comparison variants `lstm_half` and `lstm_prop`, which differ only in how a gate ⊙ signal
// product shares its relevance. The rule files in rules/ register them with their parameters.
//
// The building block is the ε-rule with optional redistribution of the bias and the stabilizer
// over the N lower units that share a denominator:
//   R_i = Σ_k (w_ik a_i + δ · (b_k + ε·sign₀(z_k)) / N) · R_k / (z_k + ε·sign₀(z_k)).
// On an lstm layer (per cell, backwards through time):
//   h_t = o ⊙ tanh(c_t)              signal-take-all: R_c += R_h (o gets nothing);
//                                     half / prop: o gets α_o·R_h, c_t gets (1 − α_o)·R_h
//   c_t = f ⊙ c_{t−1} + i ⊙ g         ε-rule with identity weights, z = c_t, b = 0, N = 2H, onto the
//                                     two summands; signal-take-all gives the f⊙c share to c_{t−1}
//                                     and the i⊙g share to g; half / prop split each share between
//                                     the gate (f, i) and the signal (c_{t−1}, g)
//   gate or g pre-activation z = W_ih x_t + W_hh h_{t−1} + b_ih + b_hh (its own rows): the ε-rule
//                                     onto x_t and h_{t−1} together, N = in + H
// α = 1/2 for lstm_half and |gate| / (|gate| + |signal|) for lstm_prop. What is left on h₋₁ and
// c₋₁ is the relevance of the initial state (ctx.state_relevance: per cell (layer k, direction d),
// H values for h₋₁ then H for c₋₁). On a fully connected linear layer (dense) the same rule is
// the ε-rule with the δ-redistribution, N = the layer's inputs (docs/rules.md, LSTM rules, output layer).
// Stacked layers: the relevance of layer k's input sequence is the relevance of layer k − 1's
// output h_t at every step (both directions' halves), added to the recurrence there.
// Per-sample lengths (ws.lengths()): padding steps get no relevance and do not take part.
#pragma once

#include "lrp/registry/registry.hpp"
#include "lrp/propagation/rule.hpp"

#include <string>

namespace lrp {

enum class LstmProductSplit {
  kSignalTakeAll,  // lstm_gate: the signal takes all, the gate nothing
  kHalf,           // lstm_half: half to the gate, half to the signal
  kProportional,   // lstm_prop: in proportion to |gate| and |signal|
};

struct LstmRuleOptions {
  Scalar epsilon = Scalar(1e-3);  // ε ≥ 0
  Scalar bias_factor = 0;         // δ ∈ [0, 1]
  LstmProductSplit split = LstmProductSplit::kSignalTakeAll;
};

class LstmRule final : public Rule {
 public:
  explicit LstmRule(LstmRuleOptions options);
  // Runs on lstm layers and on linear layers; with δ > 0 only on fully connected ones (dense),
  // where "the N lower units" is every input.
  std::string incompatibility(const Layer& layer) const override;
  Index state_relevance_size(const Layer& layer) const override;
  // Gates and products split relevance in ways the ledger's bias/stabilizer shares do not describe.
  LedgerShare ledger_share(const Layer&) const override { return LedgerShare::none(); }
  void propagate(const LayerContext& ctx, const RuleState* state, const ConstMatrixRef& relevance_out,
                 MatrixRef relevance_in, Workspace& ws) const override;
  const LstmRuleOptions& options() const { return options_; }

 private:
  LstmRuleOptions options_;
};

// The registry entry of an LSTM rule with the given split: parameters `epsilon` (default 0.001,
// ≥ 0) and `bias_factor` (default 0, in [0, 1]). Used by rules/lstm_gate.cpp, lstm_half.cpp and
// lstm_prop.cpp.
RuleInfo lstm_rule_info(std::string name, std::string doc, LstmProductSplit split);

}  // namespace lrp
