// The generic LRP step (docs/rules.md, Notation and conventions): the one loop that runs every linear-like rule on every
// linear-like layer, using only the layer's forward() and vjp() with modified parameters.
#include "lrp/propagation/rule.hpp"
#include "lrp/core/slots.hpp"

#include "lrp/core/error.hpp"

#include <array>
#include <optional>

namespace lrp {

std::string Rule::label() const { return name_ + "(" + params_.to_string() + ")"; }

std::unique_ptr<RuleState> Rule::bind(const Layer&) const { return nullptr; }

ParamModifier ParamModifier::unchanged() {
  auto same = [](Scalar v) { return v; };
  return {same, same, true};
}

LinearRuleSpec LinearRuleSpec::single_term(InputModifier input, ParamModifier param, Scalar stabilizer) {
  LinearRuleSpec s;
  s.inputs = {std::move(input)};
  s.params = {std::move(param)};
  s.denominators = {Denominator{}};
  s.terms = {Term{0, 0, 0, 1}};
  s.stabilizer = stabilizer;
  return s;
}

VjpRule::VjpRule(Applicability applies, std::string requirement)
    : applies_(std::move(applies)), requirement_(std::move(requirement)) {}

std::string VjpRule::incompatibility(const Layer& layer) const {
  if (applies_(layer.traits())) return "";
  return "rule '" + name() + "' applies only to " + requirement_ + ", and layer '" + layer.name() + "' (" +
         layer.kind() + ") is not one";
}

void VjpRule::propagate(const LayerContext& ctx, const RuleState*, const ConstMatrixRef& relevance_out,
                        MatrixRef relevance_in, Workspace& ws) const {
  ctx.layer.vjp(ctx.input, ctx.layer.params(), relevance_out, relevance_in, ws);
}

namespace {

struct LinearState : RuleState {
  std::vector<Params> params;         // per ParamModifier
  std::vector<Matrix> const_inputs;   // per input: its 1-row image when sample-independent
  std::vector<Matrix> const_outputs;  // per term: the 1-row forward of a sample-independent term
  std::vector<Matrix> zero_outputs;   // per term: the 1-row forward of an all-zero input (its bias image)
  // per input: the value of a sample-independent image that is the same everywhere (ones; a scalar
  // zbox bound), which lets its backward products fold the value into their coefficients
  std::vector<std::optional<Scalar>> uniform;
};

// The generic step's workspace slots, indices into slots::kLinearRule.
constexpr size_t kMaxDenominators = 4;
constexpr size_t kMaxTermsPerInput = 8;
constexpr size_t kMaxInputs = 8;
constexpr int kSlotDenominator = 0;                                                 // + d: z_d, then s_d
constexpr int kSlotTmpOut = kSlotDenominator + static_cast<int>(kMaxDenominators);  // + k: forward of an input's k-th term
constexpr int kSlotGroup = kSlotTmpOut + static_cast<int>(kMaxTermsPerInput);       // c_i, over an input's terms
constexpr int kSlotInput = kSlotGroup + 1;                                          // + i: m_i(a)
static_assert(kSlotInput + static_cast<int>(kMaxInputs) == slots::kLinearRule.count);

}  // namespace

LinearRule::LinearRule(LinearRuleSpec spec) : spec_(std::move(spec)) {
  LRP_CHECK(!spec_.terms.empty(), "linear rule: no terms");
  LRP_CHECK(!spec_.denominators.empty() && spec_.denominators.size() <= kMaxDenominators,
            "linear rule: 1 to ", kMaxDenominators, " denominators are supported");
  for (const Term& t : spec_.terms) {
    LRP_CHECK(t.input >= 0 && t.input < static_cast<int>(spec_.inputs.size()) && t.param >= 0 &&
                  t.param < static_cast<int>(spec_.params.size()) && t.denominator >= 0 &&
                  t.denominator < static_cast<int>(spec_.denominators.size()),
              "linear rule: a term refers to a missing input, parameter modifier or denominator");
  }
  LRP_CHECK(!spec_.inputs.empty() && spec_.inputs.size() <= kMaxInputs, "linear rule: 1 to ", kMaxInputs,
            " inputs are supported");
  for (size_t i = 0; i < spec_.inputs.size(); ++i) {
    size_t count = 0;
    for (const Term& t : spec_.terms) count += static_cast<size_t>(t.input) == i ? 1 : 0;
    LRP_CHECK(count <= kMaxTermsPerInput, "linear rule: at most ", kMaxTermsPerInput, " terms may share an input");
  }
  LRP_CHECK(spec_.stabilizer >= Scalar(0), "linear rule: the stabilizer must be ≥ 0");
}

std::string LinearRule::incompatibility(const Layer& layer) const {
  if (layer.traits().linear) return "";
  return "rule '" + name() + "' applies only to linear-like layers (y = W x + b), and layer '" + layer.name() +
         "' (" + layer.kind() + ") is not one";
}

std::unique_ptr<RuleState> LinearRule::bind(const Layer& layer) const {
  auto state = std::make_unique<LinearState>();
  const Params& original = layer.params();
  for (const ParamModifier& m : spec_.params) {
    Params p;
    p.weight = original.weight.unaryExpr(m.weight);
    if (m.bias && original.has_bias()) p.bias = original.bias.unaryExpr(m.bias);
    state->params.push_back(std::move(p));
  }
  const Shape& in_shape = layer.input_shape();
  const Index in = numel(in_shape), channels = in_shape[0], plane = in / channels;
  for (const InputModifier& m : spec_.inputs) {
    Matrix row;
    if (m.kind == InputModifier::Kind::kOnes) {
      row = Matrix::Ones(1, in);
    } else if (m.kind == InputModifier::Kind::kConstant) {
      const auto count = static_cast<Index>(m.values.size());
      LRP_CHECK(count == 1 || count == channels, "rule '", name(), "' on layer '", layer.name(), "': ", count,
                " bound values given, expected 1 or one per input channel (", channels, ")");
      row.resize(1, in);
      for (Index c = 0; c < channels; ++c)
        row.middleCols(c * plane, plane).setConstant(m.values[static_cast<size_t>(count == 1 ? 0 : c)]);
    }
    std::optional<Scalar> uniform;
    if (row.size() > 0 && (row.array() == row(0, 0)).all()) uniform = row(0, 0);
    state->uniform.push_back(uniform);
    state->const_inputs.push_back(std::move(row));
  }
  Workspace ws;
  const Index out_size = numel(layer.output_shape());
  const Matrix zero_input = Matrix::Zero(1, in);
  for (const Term& t : spec_.terms) {
    const Params& p = state->params[static_cast<size_t>(t.param)];
    Matrix out;
    if (spec_.inputs[static_cast<size_t>(t.input)].sample_independent()) {
      out.resize(1, out_size);
      layer.forward(state->const_inputs[static_cast<size_t>(t.input)], p, out, ws);
    }
    state->const_outputs.push_back(std::move(out));
    Matrix bias_image(1, out_size);
    layer.forward(zero_input, p, bias_image, ws);
    state->zero_outputs.push_back(std::move(bias_image));
  }
  return state;
}

void LinearRule::propagate(const LayerContext& ctx, const RuleState* state_base, const ConstMatrixRef& relevance_out,
                           MatrixRef relevance_in, Workspace& ws) const {
  const auto& state = static_cast<const LinearState&>(*state_base);
  const Layer& layer = ctx.layer;
  const ConstMatrixRef& a = ctx.input;
  const Index n = a.rows(), in = a.cols(), out = ctx.output.cols();
  const auto input_count = spec_.inputs.size();

  // Per block, from the signs present in a: a modified input that is identically zero (a⁺ of a
  // non-positive input, a⁻ of a non-negative one, e.g. after a ReLU) contributes only its terms'
  // bias images to the denominators and nothing to R_in, so its products are skipped; one that
  // equals a (a⁺ of a non-negative input) is not copied.
  bool any_positive = false, any_negative = false;
  for (Index r = 0; r < n; ++r) {
    any_positive = any_positive || (a.row(r).array() > Scalar(0)).any();
    any_negative = any_negative || (a.row(r).array() < Scalar(0)).any();
  }
  std::array<bool, kMaxInputs> zero_input{}, same_as_a{};
  std::array<Scalar*, kMaxInputs> modified{};
  for (size_t i = 0; i < input_count; ++i) {
    const InputModifier::Kind k = spec_.inputs[i].kind;
    zero_input[i] = (k == InputModifier::Kind::kPositive && !any_positive) ||
                    (k == InputModifier::Kind::kNegative && !any_negative);
    same_as_a[i] = k == InputModifier::Kind::kIdentity || (k == InputModifier::Kind::kPositive && !any_negative) ||
                   (k == InputModifier::Kind::kNegative && !any_positive);
    if (zero_input[i] || same_as_a[i] || spec_.inputs[i].sample_independent()) continue;
    MatrixMap m = ws.get(slots::kLinearRule, kSlotInput + static_cast<int>(i), n, in);
    if (k == InputModifier::Kind::kPositive)
      m = a.cwiseMax(Scalar(0));
    else
      m = a.cwiseMin(Scalar(0));
    modified[i] = m.data();
  }
  auto input_of = [&](size_t i) -> ConstMatrixRef {
    if (same_as_a[i]) return a;
    return ConstMatrixMap(modified[i], n, in);
  };

  // A denominator whose gate is closed wherever R ≠ 0 has s_d ≡ 0 for this block (e.g. gamma's
  // negative branch when only outputs with z > 0 carry relevance, as after a ReLU): its terms are
  // skipped in the forward and the backward products; its s_d is set to 0.
  std::array<bool, kMaxDenominators> needed{};
  for (size_t d = 0; d < spec_.denominators.size(); ++d) {
    const Denominator::Gate gate = spec_.denominators[d].gate;
    for (Index r = 0; r < n && !needed[d]; ++r) {
      const auto rel = relevance_out.row(r).array();
      const auto zo = ctx.output.row(r).array();
      switch (gate) {
        case Denominator::Gate::kAll: needed[d] = (rel != Scalar(0)).any(); break;
        case Denominator::Gate::kPositiveOutput: needed[d] = (rel != Scalar(0) && zo > Scalar(0)).any(); break;
        case Denominator::Gate::kNegativeOutput: needed[d] = (rel != Scalar(0) && zo < Scalar(0)).any(); break;
      }
    }
  }
  auto term_needed = [&](const Term& t) { return needed[static_cast<size_t>(t.denominator)]; };

  // 1. forward: z_d = Σ sign_t · ρ_t(layer)(m_t(a)). Terms that share an input are evaluated
  //    together (forward_many), so a convolution unfolds its input once for all of them; the first
  //    contribution to a denominator is written, later ones added.
  std::array<Scalar*, kMaxDenominators> z{};
  std::array<bool, kMaxDenominators> z_written{};
  for (size_t d = 0; d < spec_.denominators.size(); ++d)
    z[d] = ws.get(slots::kLinearRule, kSlotDenominator + static_cast<int>(d), n, out).data();
  auto z_of = [&](const Term& t) { return MatrixMap(z[static_cast<size_t>(t.denominator)], n, out); };
  auto contribute = [&](const Term& t, const auto& value) {
    MatrixMap zd = z_of(t);
    bool& written = z_written[static_cast<size_t>(t.denominator)];
    if (written)
      zd += t.sign * value;
    else
      zd = t.sign * value;
    written = true;
  };
  auto contribute_row = [&](const Term& t, const Matrix& row) {  // the same 1-row image for every sample
    MatrixMap zd = z_of(t);
    bool& written = z_written[static_cast<size_t>(t.denominator)];
    if (!written) zd.setZero();
    zd.rowwise() += t.sign * row.row(0);
    written = true;
  };
  std::array<const Params*, kMaxTermsPerInput> ps{};
  std::array<Scalar*, kMaxTermsPerInput> ys{};
  std::array<size_t, kMaxTermsPerInput> which{};
  for (size_t i = 0; i < input_count; ++i) {
    const InputModifier& m = spec_.inputs[i];
    size_t count = 0;
    for (size_t ti = 0; ti < spec_.terms.size(); ++ti) {
      const Term& t = spec_.terms[ti];
      if (static_cast<size_t>(t.input) != i || !term_needed(t)) continue;
      if (zero_input[i]) {
        contribute_row(t, state.zero_outputs[ti]);  // ρ(W)·0 + ρ(b): the term's bias image
      } else if (m.sample_independent()) {
        contribute_row(t, state.const_outputs[ti]);
      } else if (m.kind == InputModifier::Kind::kIdentity && spec_.params[static_cast<size_t>(t.param)].identity) {
        contribute(t, ctx.output);  // the layer's own output, kept from the forward pass
      } else {
        ps[count] = &state.params[static_cast<size_t>(t.param)];
        ys[count] = ws.get(slots::kLinearRule, kSlotTmpOut + static_cast<int>(count), n, out).data();
        which[count] = ti;
        ++count;
      }
    }
    if (count == 0) continue;
    layer.forward_many(input_of(i), std::span(ps.data(), count), std::span(ys.data(), count), ws);
    for (size_t k = 0; k < count; ++k) contribute(spec_.terms[which[k]], ConstMatrixMap(ys[k], n, out));
  }
  for (size_t d = 0; d < spec_.denominators.size(); ++d)
    if (!z_written[d]) MatrixMap(z[d], n, out).setZero();

  // 2. divide: s_d = gate_d(z) · R / stab(z_d), 0 where stab(z_d) = 0.
  const Scalar eps = spec_.stabilizer;
  for (size_t d = 0; d < spec_.denominators.size(); ++d) {
    const Denominator::Gate gate = spec_.denominators[d].gate;
    MatrixMap s(z[d], n, out);
    if (!needed[d]) {
      s.setZero();
      continue;
    }
    for (Index r = 0; r < n; ++r) {
      const Scalar* zo = ctx.output.row(r).data();
      const Scalar* rel = relevance_out.row(r).data();
      Scalar* sr = s.row(r).data();
      switch (gate) {
        case Denominator::Gate::kAll:
          for (Index j = 0; j < out; ++j) sr[j] = safe_divide(rel[j], sr[j], eps);
          break;
        case Denominator::Gate::kPositiveOutput:
          for (Index j = 0; j < out; ++j) sr[j] = zo[j] > 0 ? safe_divide(rel[j], sr[j], eps) : Scalar(0);
          break;
        case Denominator::Gate::kNegativeOutput:
          for (Index j = 0; j < out; ++j) sr[j] = zo[j] < 0 ? safe_divide(rel[j], sr[j], eps) : Scalar(0);
          break;
      }
    }
  }

  // 3. backward and 4. multiply, grouped by input: c_i = Σ_{t: input i} weight_d · sign_t · ρ_tᵀ s_d
  //    (one vjp_many call), R_in = Σ_i m_i(a) ⊙ c_i. An input image that is one value v everywhere
  //    needs no multiplication: v·ρᵀs. All such inputs share one vjp_many call with v folded into
  //    the coefficients, and v = 0 (e.g. zbox's low = 0) drops out altogether.
  MatrixMap group = ws.get(slots::kLinearRule, kSlotGroup, n, in);
  std::array<const Scalar*, kMaxTermsPerInput> gs{};
  std::array<Scalar, kMaxTermsPerInput> coefficients{};
  constexpr size_t kMaxUniformTerms = kMaxTermsPerInput * kMaxInputs;
  std::array<const Params*, kMaxUniformTerms> uniform_ps{};
  std::array<const Scalar*, kMaxUniformTerms> uniform_gs{};
  std::array<Scalar, kMaxUniformTerms> uniform_coefficients{};
  size_t uniform_count = 0;
  bool first_group = true;
  auto add_to_relevance = [&](const auto& contribution) {
    if (first_group)
      relevance_in.array() = contribution;
    else
      relevance_in.array() += contribution;
    first_group = false;
  };
  for (size_t i = 0; i < input_count; ++i) {
    if (zero_input[i]) continue;
    const std::optional<Scalar>& uniform = state.uniform[i];
    if (uniform && *uniform == Scalar(0)) continue;
    size_t count = 0;
    for (const Term& t : spec_.terms) {
      if (static_cast<size_t>(t.input) != i || !term_needed(t)) continue;
      const Scalar coefficient = t.sign * spec_.denominators[static_cast<size_t>(t.denominator)].weight;
      const Params* p = &state.params[static_cast<size_t>(t.param)];
      const Scalar* g = z[static_cast<size_t>(t.denominator)];
      if (uniform) {
        uniform_ps[uniform_count] = p;
        uniform_gs[uniform_count] = g;
        uniform_coefficients[uniform_count] = coefficient * *uniform;
        ++uniform_count;
      } else {
        ps[count] = p;
        gs[count] = g;
        coefficients[count] = coefficient;
        ++count;
      }
    }
    if (count == 0) continue;  // an input no (needed) term uses, or a uniform one
    layer.vjp_many(a, std::span(ps.data(), count), std::span(gs.data(), count), std::span(coefficients.data(), count),
                   group, ws);
    if (spec_.inputs[i].sample_independent())
      add_to_relevance(group.array().rowwise() * state.const_inputs[i].row(0).array());
    else
      add_to_relevance(input_of(i).array() * group.array());
  }
  if (uniform_count > 0) {
    layer.vjp_many(a, std::span(uniform_ps.data(), uniform_count), std::span(uniform_gs.data(), uniform_count),
                   std::span(uniform_coefficients.data(), uniform_count), group, ws);
    add_to_relevance(group.array());
  }
  if (first_group) relevance_in.setZero();  // every input was zero
}

}  // namespace lrp
