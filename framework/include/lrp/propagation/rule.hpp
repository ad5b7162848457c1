// Propagation rules.
//
// A rule turns the relevance at a layer's output into relevance at its input. Rules for
// linear-like layers are data about the one generic LRP step (docs/rules.md, Notation and conventions), a LinearRuleSpec:
//   1. forward:  z_d = Σ_{terms t of d} sign_t · ρ_t(layer)(m_t(a))        (m: input modifier,
//                                                                             ρ: parameter modifier)
//   2. divide:   s_d = gate_d(z) · R / stab(z_d)   (0 where stab(z_d) = 0; z = the layer's output)
//   3. backward: c_t = ρ_t(W)ᵀ s_d                  (the layer's own vjp with modified parameters)
//   4. multiply: R_in = Σ_t weight_d · sign_t · m_t(a) ⊙ c_t
// LinearRule::propagate() in the framework is the only implementation of that loop; a rule never asks
// what kind of layer it runs on.
#pragma once

#include "lrp/nn/layer.hpp"
#include "lrp/core/params.hpp"

#include <array>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace lrp {

// What a rule sees of one layer during the backward pass (a block of rows of the batch).
struct LayerContext {
  const Layer& layer;
  ConstMatrixRef input;   // a: the layer's input activation, N × in
  ConstMatrixRef output;  // z: the layer's original output f(a), N × out
  // N × state_relevance_size(layer) when the rule reports relevance of quantities other than the
  // layer's input (an LSTM's initial states); null otherwise.
  MatrixMap* state_relevance = nullptr;
};

// What a rule says about the relevance a layer absorbs, for the conservation ledger (docs/metrics.md):
// the ledger cannot tell from the outside how a rule splits what it loses, so the rule reports it.
struct LedgerShare {
  enum class Kind {
    kUnknown,  // the rule does not say (the default): the ledger reports the layer's shares as unknown
    kNone,     // no bias/stabilizer split to compute (gamma, zbox, the gradient, ...): the shares are NaN
    kZero,     // nothing absorbed, relevance passes conserved (pass, wta): the shares are 0
    kEpsilon,  // R_in = a ⊙ Wᵀ(R / stab(z)) with z = W a + b the layer's output and stab(z) = z + ε·sign₀(z)
  };
  Kind kind = Kind::kUnknown;
  Scalar epsilon = 0;  // kEpsilon: the stabilizer ε (0 for LRP-0)

  static LedgerShare unknown() { return {}; }
  static LedgerShare none() { return {Kind::kNone, 0}; }
  static LedgerShare zero() { return {Kind::kZero, 0}; }
  static LedgerShare epsilon_type(Scalar stabilizer) { return {Kind::kEpsilon, stabilizer}; }
};

// Per-layer state a rule prepares once per explainer (e.g. its modified parameters).
struct RuleState {
  virtual ~RuleState() = default;
};

class Rule {
 public:
  virtual ~Rule() = default;
  // Registry name and resolved parameters, e.g. "gamma" and "gamma=0.25, stabilizer=1e-06".
  const std::string& name() const { return name_; }
  const ParamMap& params() const { return params_; }
  // "gamma(gamma=0.25, stabilizer=1e-06)": what an explanation records for a layer.
  std::string label() const;

  // Empty when the rule can run on `layer`; otherwise the reason (from the layer's traits).
  virtual std::string incompatibility(const Layer& layer) const = 0;
  // Prepares what propagate() needs for `layer`; called once per layer per explainer.
  virtual std::unique_ptr<RuleState> bind(const Layer& layer) const;
  // relevance_in = the rule applied to relevance_out (overwritten), for the rows in ctx.
  virtual void propagate(const LayerContext& ctx, const RuleState* state, const ConstMatrixRef& relevance_out,
                         MatrixRef relevance_in, Workspace& ws) const = 0;
  // How many values per sample of relevance the rule assigns to quantities that are not the
  // layer's input, such as an LSTM's initial states h₋₁ and c₋₁ (docs/rules.md, LSTM rules). propagate() writes
  // them to *ctx.state_relevance, which the explainer provides when this is > 0.
  virtual Index state_relevance_size(const Layer&) const { return 0; }
  // True when propagate() copies relevance_out unchanged (same number of values): the explainer
  // then passes the buffer on instead of copying it.
  virtual bool passes_through() const { return false; }
  // How the conservation ledger splits what this rule absorbs at `layer` (see LedgerShare): what
  // set_ledger_share() recorded, by default unknown (never guessed from the rule's name). A rule
  // whose share depends on the layer overrides it.
  virtual LedgerShare ledger_share(const Layer&) const { return ledger_share_; }
  // Set by the rule's file (rules/*.cpp): a LinearRuleSpec or a vjp alone does not say whether the
  // rule keeps the bias and stabilizer shares of the plain ε-rule.
  void set_ledger_share(LedgerShare share) { ledger_share_ = share; }

  void set_identity(std::string name, ParamMap params) {
    name_ = std::move(name);
    params_ = std::move(params);
  }

 private:
  std::string name_;
  ParamMap params_;
  LedgerShare ledger_share_;
};

using RulePtr = std::unique_ptr<Rule>;

// ---------------------------------------------------------------- the generic step, as data

struct InputModifier {
  enum class Kind {
    kIdentity,  // a
    kPositive,  // a⁺
    kNegative,  // a⁻
    kOnes,      // 1 (input values ignored)
    kConstant,  // a constant image: one value, or one per input channel (zbox bounds)
  };
  Kind kind = Kind::kIdentity;
  std::vector<Scalar> values;  // kConstant only

  static InputModifier identity() { return {Kind::kIdentity, {}}; }
  static InputModifier positive() { return {Kind::kPositive, {}}; }
  static InputModifier negative() { return {Kind::kNegative, {}}; }
  static InputModifier ones() { return {Kind::kOnes, {}}; }
  static InputModifier constant(std::vector<Scalar> per_channel) { return {Kind::kConstant, std::move(per_channel)}; }
  // The same for every sample (computed once per batch, not per sample).
  bool sample_independent() const { return kind == Kind::kOnes || kind == Kind::kConstant; }
};

// Applied elementwise to the weight and to the bias. An empty bias function drops the bias.
struct ParamModifier {
  std::function<Scalar(Scalar)> weight;
  std::function<Scalar(Scalar)> bias;
  bool identity = false;  // weight and bias unchanged: the term's forward is the layer's output
  // Set by mixed(): ρ(v) = mix[0]·v + mix[1]·v⁺, so that ρ(W)·a + ρ(b) = mix[0]·(W·a + b) +
  // mix[1]·(W⁺·a + b⁺) (see LinearRuleSpec::share_positive_product).
  std::optional<std::array<Scalar, 2>> mix = std::nullopt;

  static ParamModifier unchanged();
  // ρ(v) = α·v + β·v⁺ on the weight, and on the bias when with_bias (otherwise the bias is dropped).
  static ParamModifier mixed(Scalar alpha, Scalar beta, bool with_bias);
};

struct Term {
  int input = 0;        // index into LinearRuleSpec::inputs
  int param = 0;        // index into LinearRuleSpec::params
  int denominator = 0;  // index into LinearRuleSpec::denominators
  Scalar sign = 1;      // +1 or −1, in the forward sum and in the reduction
};

struct Denominator {
  enum class Gate { kAll, kPositiveOutput, kNegativeOutput };  // which outputs (by the original z) use it
  Gate gate = Gate::kAll;
  Scalar weight = 1;  // weight in the reduction (α, −β)
};

struct LinearRuleSpec {
  std::vector<InputModifier> inputs;
  std::vector<ParamModifier> params;
  std::vector<Denominator> denominators;
  std::vector<Term> terms;
  Scalar stabilizer = 0;  // stab(z) = z + stabilizer · sign₀(z)
  // Where an input equals a itself (a⁺ of a non-negative block, a⁻ of a non-positive one, or a),
  // the terms on it whose parameters are mixed() (and keep the bias, or the layer has none) get
  // z_t = α·z + β·(W⁺a + b⁺) from the layer's kept output z and one product shared by all of them,
  // instead of one product each. Set it only for rules where, wherever a term's gate is open, the
  // two summands have the same sign, so that the sum loses no precision to cancellation (gamma).
  bool share_positive_product = false;

  // The one-branch rules (LRP-0, ε, norm, flat, w²): z = ρ(W)·m(a) (+ ρ(b)), R_in = m(a) ⊙ ρ(W)ᵀs.
  static LinearRuleSpec single_term(InputModifier input, ParamModifier param, Scalar stabilizer);
};

// A rule for linear-like layers defined by a LinearRuleSpec and run by the generic step.
class LinearRule : public Rule {
 public:
  explicit LinearRule(LinearRuleSpec spec);
  std::string incompatibility(const Layer& layer) const override;
  std::unique_ptr<RuleState> bind(const Layer& layer) const override;
  void propagate(const LayerContext& ctx, const RuleState* state, const ConstMatrixRef& relevance_out,
                 MatrixRef relevance_in, Workspace& ws) const override;
  const LinearRuleSpec& spec() const { return spec_; }

 private:
  LinearRuleSpec spec_;
};

inline Scalar positive_part(Scalar v) { return v > Scalar(0) ? v : Scalar(0); }
inline Scalar negative_part(Scalar v) { return v < Scalar(0) ? v : Scalar(0); }

// R_in = J(a)ᵀ R_out with the layer's own vector-Jacobian product and parameters: the gradient on
// any layer, and winner-take-all on a routing layer such as max pooling (its vjp sends each
// output to the window's maximum). `applies` says on which layers (by traits) it may run.
class VjpRule : public Rule {
 public:
  using Applicability = std::function<bool(const LayerTraits&)>;
  VjpRule(Applicability applies, std::string requirement);
  std::string incompatibility(const Layer& layer) const override;
  void propagate(const LayerContext& ctx, const RuleState* state, const ConstMatrixRef& relevance_out,
                 MatrixRef relevance_in, Workspace& ws) const override;

 private:
  Applicability applies_;
  std::string requirement_;  // for the error message, e.g. "routing layers (max pooling)"
};

// stab(z) = z + ε · sign₀(z), sign₀(0) = +1 (docs/rules.md, Notation and conventions).
inline Scalar stabilize(Scalar z, Scalar epsilon) { return z + (z >= Scalar(0) ? epsilon : -epsilon); }
// R / stab(z), and 0 where stab(z) is exactly 0 (LRP-0 on a dead output).
inline Scalar safe_divide(Scalar r, Scalar z, Scalar epsilon) {
  const Scalar d = stabilize(z, epsilon);
  return d == Scalar(0) ? Scalar(0) : r / d;
}

}  // namespace lrp
