// Explanations: run the rules of a composite backwards over one forward pass.
#pragma once

#include "lrp/propagation/composite.hpp"
#include "lrp/nn/network.hpp"
#include "lrp/registry/registry.hpp"
#include "lrp/propagation/rule.hpp"

#include <optional>
#include <string>
#include <vector>

namespace lrp {

// The relevance at the output: e_c · f_c(x) (docs/rules.md, Notation and conventions) or the plain one-hot e_c.
enum class SeedKind { kLogit, kOneHot };

struct TargetSpec {
  enum class Kind { kPredicted, kClass, kLabel };
  Kind kind = Kind::kPredicted;
  Index class_index = 0;  // kClass only

  static TargetSpec predicted() { return {}; }
  static TargetSpec fixed(Index c) { return {Kind::kClass, c}; }
  static TargetSpec label() { return {Kind::kLabel, 0}; }
};

// The class to explain per sample; labels are required for Kind::kLabel. Out-of-range classes
// and labels are errors.
std::vector<Index> select_targets(const Matrix& logits, const TargetSpec& spec, const std::vector<Index>* labels = nullptr);

// The classes to explain for every sample: one class (TargetSpec), a list of classes, the k
// highest logits, or every class (a config's `target:`). Several targets share one forward pass.
struct TargetSetSpec {
  enum class Kind { kOne, kClasses, kTopK, kAll };
  Kind kind = Kind::kOne;
  TargetSpec one;              // kOne
  std::vector<Index> classes;  // kClasses: in this order, each < the model's classes
  Index k = 1;                 // kTopK: 1 ≤ k ≤ classes
  // How many targets each sample gets, for a model with `classes` outputs.
  Index count(Index classes_of_model) const;
  // As a config writes it: predicted, label, 3, [3, 5], {top_k: 3}, all.
  std::string describe() const;
};

// [K][N]: column k of the targets, per sample. kTopK ranks a sample's logits from the highest, a
// tie going to the lower class; kAll is 0..classes−1.
std::vector<std::vector<Index>> select_target_sets(const Matrix& logits, const TargetSetSpec& spec,
                                                   const std::vector<Index>* labels = nullptr);

struct ExplainOptions {
  SeedKind seed = SeedKind::kLogit;
  // Keep the relevance of every value (Explanation::layer_relevance; for the conservation ledger).
  bool keep_layer_relevance = false;
  // Threads over the batch (1 = this thread only).
  int threads = 1;
};

struct Explanation {
  Tensor relevance;                      // at the input: N × input shape
  std::vector<Index> targets;            // per sample
  Vector seed;                           // per sample: f_c(x), or 1 for the one-hot seed
  std::vector<std::string> layer_rules;  // per layer: "rule(params)"
  // Per layer: the rule's registry name and resolved parameters (the same as layer_rules, as data;
  // the conservation ledger reads the ε of epsilon-type rules from it). Empty names for rules not
  // made by a registry.
  std::vector<RuleChoice> layer_rule_choices;
  // Per layer: what its rule reports for the conservation ledger (Rule::ledger_share).
  std::vector<LedgerShare> layer_ledger_shares;
  // With keep_layer_relevance: [v] is the relevance of value v (N × its size; values as in
  // ForwardPass: [0] the input, [l + 1] layer l's output, [L] the output seed). In a chain [l] is
  // the relevance at layer l's input; in a graph a value that several layers read holds the sum of
  // what they send back.
  std::vector<Matrix> layer_relevance;
  // Per layer: relevance its rule assigned to quantities other than the layer's input (an LSTM's
  // initial states, docs/rules.md, LSTM rules), N × that rule's state_relevance_size (0 columns for most rules).
  std::vector<Matrix> state_relevance;

  // Per sample: the sum over layers and values of state_relevance (0 when no rule reports any).
  Vector state_relevance_total() const;
};

// Holds one rule (and its prepared state) per layer. Built once, then explains any number of
// forward passes and targets; explain() is const and may be called from several threads at once
// (scratch memory is per thread, see thread_workspace()).
class Explainer {
 public:
  Explainer(const Network& network, std::vector<RulePtr> rules);
  // The rules a composite assigns (checks that each applies to its layer).
  static Explainer from_composite(const Network& network, const Registry& registry, const Composite& composite);
  // The registry's `gradient` rule on every layer: with the one-hot seed this is ∂f_c/∂x.
  static Explainer gradient(const Network& network, const Registry& registry);

  Explanation explain(const ForwardPass& pass, const std::vector<Index>& targets, const ExplainOptions& options = {}) const;

  const std::vector<std::string>& layer_rules() const { return labels_; }
  // Per layer: its rule's Rule::ledger_share, asked once when the explainer is built.
  const std::vector<LedgerShare>& ledger_shares() const { return ledger_shares_; }
  const Network& network() const { return *network_; }

 private:
  const Network* network_;
  std::vector<RulePtr> rules_;
  std::vector<std::unique_ptr<RuleState>> states_;
  std::vector<std::string> labels_;
  std::vector<LedgerShare> ledger_shares_;
  std::vector<std::string> origins_;  // per layer, where its rule comes from (from_composite; else empty)
  // "the rule 'r' (from plugin p) of layer l 'name'", for an exception a rule's code threw.
  std::string rule_at(Index layer) const;
  // Layer l's rule from relevance_out to relevance_in, reporting what its code throws and refusing
  // relevance that is not finite.
  void propagate_layer(Index l, const LayerContext& ctx, const ConstMatrixRef& relevance_out, MatrixRef relevance_in,
                       Workspace& ws) const;
  // One block of rows [begin, begin + rows) from the seed back to the input: through a chain with
  // two buffers, or through a graph, summing the relevance of a value its consumers send back.
  void walk_chain(const ForwardPass& pass, const Matrix& seed, Index begin, Index rows, const ExplainOptions& options,
                  Explanation& e, Workspace& ws) const;
  void walk_graph(const ForwardPass& pass, const Matrix& seed, Index begin, Index rows, const ExplainOptions& options,
                  Explanation& e, Workspace& ws) const;
};

// Baselines from the same machinery: ∂f_c/∂x, and x ⊙ ∂f_c/∂x.
Explanation explain_gradient(const Network& network, const Registry& registry, const ForwardPass& pass,
                             const std::vector<Index>& targets, bool times_input, int threads = 1);

}  // namespace lrp
