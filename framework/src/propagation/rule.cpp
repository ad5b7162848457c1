// The generic LRP step (docs/rules.md, Notation and conventions): the one loop that runs every linear-like rule on every
// linear-like layer, using only the layer's forward() and vjp() with modified parameters.
#include "lrp/propagation/rule.hpp"
#include "lrp/core/slots.hpp"

#include "lrp/core/error.hpp"

#include <algorithm>
#include <array>
#include <optional>

namespace lrp {

std::string Rule::label() const { return name_ + "(" + params_.to_string() + ")"; }

std::unique_ptr<RuleState> Rule::bind(const Layer&) const { return nullptr; }

ParamModifier ParamModifier::unchanged() {
  auto same = [](Scalar v) { return v; };
  return {same, same, true, {}};
}

ParamModifier ParamModifier::mixed(Scalar alpha, Scalar beta, bool with_bias) {
  auto mix = [alpha, beta](Scalar v) { return alpha * v + beta * positive_part(v); };
  return {mix, with_bias ? std::function<Scalar(Scalar)>(mix) : nullptr, false, std::array<Scalar, 2>{alpha, beta}};
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
  // per ParamModifier: whether its terms may use the shared product (mixed, and the bias kept or
  // absent), and that product's parameters W⁺, b⁺ (LinearRuleSpec::share_positive_product)
  std::vector<bool> shares;
  Params positive;
  std::vector<Matrix> const_inputs;   // per input: its 1-row image when sample-independent
  std::vector<Matrix> const_outputs;  // per term: the 1-row forward of a sample-independent term
  std::vector<Matrix> zero_outputs;   // per term: the 1-row forward of an all-zero input (its bias image)
  std::vector<bool> zero_image;       // per term: whether that image is all zeros (no bias)
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
    state->shares.push_back(spec_.share_positive_product && m.mix && (m.bias || !original.has_bias()));
  }
  if (spec_.share_positive_product) {
    state->positive.weight = original.weight.cwiseMax(Scalar(0));
    if (original.has_bias()) state->positive.bias = original.bias.cwiseMax(Scalar(0));
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
    state->zero_image.push_back(bias_image.isZero(0));
    state->zero_outputs.push_back(std::move(bias_image));
  }
  return state;
}

namespace {

// One call of the generic step on one block of samples. The four stages of docs/rules.md
// (forward, divide, backward, multiply) are its methods; the members are what the stages pass on.
class LinearStep {
 public:
  LinearStep(const LinearRuleSpec& spec, const LinearState& state, const LayerContext& ctx,
             const ConstMatrixRef& relevance_out, Workspace& ws)
      : spec_(spec),
        state_(state),
        ctx_(ctx),
        a_(ctx.input),
        relevance_out_(relevance_out),
        ws_(ws),
        n_(ctx.input.rows()),
        in_(ctx.input.cols()),
        out_(ctx.output.cols()) {}

  void run(MatrixRef relevance_in) {
    prepare_inputs();
    find_needed_denominators();
    forward();
    divide();
    backward_and_multiply(relevance_in);
  }

 private:
  // Per block, from the signs present in a: a modified input that is identically zero (a⁺ of a
  // non-positive input, a⁻ of a non-negative one, e.g. after a ReLU) contributes only its terms'
  // bias images to the denominators and nothing to R_in, so its products are skipped; one that
  // equals a (a⁺ of a non-negative input) is not copied.
  void prepare_inputs() {
    Scalar lowest = 0, highest = 0;  // over the block, with 0 (Eigen's reductions are vectorized)
    for (Index r = 0; r < n_; ++r) {
      const Eigen::Map<const Eigen::Array<Scalar, Eigen::Dynamic, 1>> row(a_.row(r).data(), in_);
      lowest = std::min(lowest, row.minCoeff());
      highest = std::max(highest, row.maxCoeff());
    }
    const bool any_positive = highest > Scalar(0), any_negative = lowest < Scalar(0);
    for (size_t i = 0; i < spec_.inputs.size(); ++i) {
      const InputModifier::Kind k = spec_.inputs[i].kind;
      zero_input_[i] = (k == InputModifier::Kind::kPositive && !any_positive) ||
                       (k == InputModifier::Kind::kNegative && !any_negative);
      same_as_a_[i] = k == InputModifier::Kind::kIdentity || (k == InputModifier::Kind::kPositive && !any_negative) ||
                      (k == InputModifier::Kind::kNegative && !any_positive);
      if (zero_input_[i] || same_as_a_[i] || spec_.inputs[i].sample_independent()) continue;
      MatrixMap m = ws_.get(slots::kLinearRule, kSlotInput + static_cast<int>(i), n_, in_);
      if (k == InputModifier::Kind::kPositive)
        m = a_.cwiseMax(Scalar(0));
      else
        m = a_.cwiseMin(Scalar(0));
      modified_[i] = m.data();
    }
  }

  ConstMatrixRef input_of(size_t i) const {
    if (same_as_a_[i]) return a_;
    return ConstMatrixMap(modified_[i], n_, in_);
  }

  // A denominator whose gate is closed wherever R ≠ 0 has s_d ≡ 0 for this block (e.g. gamma's
  // negative branch when only outputs with z > 0 carry relevance, as after a ReLU): its terms are
  // skipped in the forward and the backward products; its s_d is set to 0.
  void find_needed_denominators() {
    // Counts per row (branch-free loops that vectorize; a row is short enough to finish).
    std::array<Index, 3> open{};  // outputs with R ≠ 0: any z, z > 0, z < 0
    for (Index r = 0; r < n_ && (open[1] == 0 || open[2] == 0); ++r) {
      const Scalar* rel = relevance_out_.row(r).data();
      const Scalar* zo = ctx_.output.row(r).data();
      int32_t any = 0, positive = 0, negative = 0;  // (32-bit lanes: twice as many per packet; rows hold < 2³¹ values)
      for (Index j = 0; j < out_; ++j) {
        const bool carries = rel[j] != Scalar(0);
        any += carries;
        positive += carries & (zo[j] > Scalar(0));
        negative += carries & (zo[j] < Scalar(0));
      }
      open[0] += any;
      open[1] += positive;
      open[2] += negative;
    }
    for (size_t d = 0; d < spec_.denominators.size(); ++d) {
      switch (spec_.denominators[d].gate) {
        case Denominator::Gate::kAll: needed_[d] = open[0] > 0; break;
        case Denominator::Gate::kPositiveOutput: needed_[d] = open[1] > 0; break;
        case Denominator::Gate::kNegativeOutput: needed_[d] = open[2] > 0; break;
      }
    }
  }

  bool term_needed(const Term& t) const { return needed_[static_cast<size_t>(t.denominator)]; }
  MatrixMap z_of(const Term& t) const { return MatrixMap(z_[static_cast<size_t>(t.denominator)], n_, out_); }

  // Adds sign_t · value to z_d: the first contribution to a denominator is written, later ones added.
  template <typename Value>
  void contribute(const Term& t, const Value& value) {
    MatrixMap zd = z_of(t);
    bool& written = z_written_[static_cast<size_t>(t.denominator)];
    if (written)
      zd += t.sign * value;
    else
      zd = t.sign * value;
    written = true;
  }
  void contribute_row(const Term& t, const Matrix& row) {  // the same 1-row image for every sample
    MatrixMap zd = z_of(t);
    bool& written = z_written_[static_cast<size_t>(t.denominator)];
    if (!written) zd.setZero();
    zd.rowwise() += t.sign * row.row(0);
    written = true;
  }

  // 1. forward: z_d = Σ sign_t · ρ_t(layer)(m_t(a)). Terms that share an input are evaluated
  //    together (forward_many), so a convolution unfolds its input once for all of them; mixed
  //    terms on an input equal to a share one product (LinearRuleSpec::share_positive_product).
  void forward() {
    for (size_t d = 0; d < spec_.denominators.size(); ++d)
      z_[d] = ws_.get(slots::kLinearRule, kSlotDenominator + static_cast<int>(d), n_, out_).data();
    std::array<const Params*, kMaxTermsPerInput> ps{};
    std::array<Scalar*, kMaxTermsPerInput> ys{};
    std::array<size_t, kMaxTermsPerInput> which{};
    for (size_t i = 0; i < spec_.inputs.size(); ++i) {
      const InputModifier& m = spec_.inputs[i];
      const bool share = shares_product(i);
      size_t count = share ? 1 : 0;  // entry 0: the shared product W⁺a + b⁺
      if (share) {
        ps[0] = &state_.positive;
        ys[0] = ws_.get(slots::kLinearRule, kSlotTmpOut, n_, out_).data();
      }
      for (size_t ti = 0; ti < spec_.terms.size(); ++ti) {
        const Term& t = spec_.terms[ti];
        if (static_cast<size_t>(t.input) != i || !term_needed(t)) continue;
        if (zero_input_[i]) {
          // ρ(W)·0 + ρ(b): the term's bias image (nothing to add when it is zero; a z_d nothing
          // writes is set to zero below)
          if (!state_.zero_image[ti]) contribute_row(t, state_.zero_outputs[ti]);
        } else if (m.sample_independent()) {
          contribute_row(t, state_.const_outputs[ti]);
        } else if (m.kind == InputModifier::Kind::kIdentity && spec_.params[static_cast<size_t>(t.param)].identity) {
          contribute(t, ctx_.output);  // the layer's own output, kept from the forward pass
        } else if (!(share && state_.shares[static_cast<size_t>(t.param)])) {
          ps[count] = &state_.params[static_cast<size_t>(t.param)];
          ys[count] = ws_.get(slots::kLinearRule, kSlotTmpOut + static_cast<int>(count), n_, out_).data();
          which[count] = ti;
          ++count;
        }
      }
      if (count == 0) continue;
      ctx_.layer.forward_many(input_of(i), std::span(ps.data(), count), std::span(ys.data(), count), ws_);
      for (size_t k = share ? 1 : 0; k < count; ++k) contribute(spec_.terms[which[k]], ConstMatrixMap(ys[k], n_, out_));
      if (!share) continue;
      const ConstMatrixMap positive(ys[0], n_, out_);
      for (const Term& t : spec_.terms) {
        if (static_cast<size_t>(t.input) != i || !term_needed(t) || !state_.shares[static_cast<size_t>(t.param)]) continue;
        const std::array<Scalar, 2>& mix = *spec_.params[static_cast<size_t>(t.param)].mix;
        contribute(t, mix[0] * ctx_.output + mix[1] * positive);
      }
    }
    for (size_t d = 0; d < spec_.denominators.size(); ++d)
      if (!z_written_[d]) MatrixMap(z_[d], n_, out_).setZero();
  }

  // Whether input i's mixed terms share one product: it equals a, and two or more of its needed
  // terms may share (for one term the shared product would cost as much as its own).
  bool shares_product(size_t i) const {
    if (!same_as_a_[i] || zero_input_[i] || spec_.inputs[i].sample_independent()) return false;
    int sharing = 0;
    for (const Term& t : spec_.terms)
      sharing += static_cast<size_t>(t.input) == i && term_needed(t) && state_.shares[static_cast<size_t>(t.param)];
    return sharing >= 2;
  }

  // 2. divide: s_d = gate_d(z) · R / stab(z_d), 0 where stab(z_d) = 0; s_d overwrites z_d.
  void divide() {
    const Scalar eps = spec_.stabilizer;
    for (size_t d = 0; d < spec_.denominators.size(); ++d) {
      const Denominator::Gate gate = spec_.denominators[d].gate;
      MatrixMap s(z_[d], n_, out_);
      if (!needed_[d]) {
        s.setZero();
        continue;
      }
      for (Index r = 0; r < n_; ++r) {
        const Scalar* zo = ctx_.output.row(r).data();
        const Scalar* rel = relevance_out_.row(r).data();
        Scalar* sr = s.row(r).data();
        switch (gate) {
          case Denominator::Gate::kAll: divide_row<Denominator::Gate::kAll>(rel, zo, sr, eps); break;
          case Denominator::Gate::kPositiveOutput: divide_row<Denominator::Gate::kPositiveOutput>(rel, zo, sr, eps); break;
          case Denominator::Gate::kNegativeOutput: divide_row<Denominator::Gate::kNegativeOutput>(rel, zo, sr, eps); break;
        }
      }
    }
  }

  // s[j] = safe_divide(rel[j], s[j], eps) where the gate is open at j (by the sign of the kept
  // output zo[j]), else 0. Packets of the same operations (the compiler does not vectorize the
  // branches of the scalar form), then the scalar form for the tail: bitwise the same results.
  template <Denominator::Gate kGate>
  void divide_row(const Scalar* rel, const Scalar* zo, Scalar* s, Scalar eps) const {
    using namespace Eigen::internal;
    using Packet = packet_traits<Scalar>::type;
    constexpr Index kSize = packet_traits<Scalar>::size;
    const Packet zero = pset1<Packet>(Scalar(0)), plus = pset1<Packet>(eps), minus = pset1<Packet>(-eps);
    Index j = 0;
    for (; j + kSize <= out_; j += kSize) {
      const Packet z = ploadu<Packet>(s + j);
      const Packet d = padd(z, pselect(pcmp_le(zero, z), plus, minus));  // stabilize(z, eps)
      Packet open = pandnot(ptrue(zero), pcmp_eq(d, zero));
      if constexpr (kGate == Denominator::Gate::kPositiveOutput) open = pand(open, pcmp_lt(zero, ploadu<Packet>(zo + j)));
      if constexpr (kGate == Denominator::Gate::kNegativeOutput) open = pand(open, pcmp_lt(ploadu<Packet>(zo + j), zero));
      pstoreu(s + j, pand(open, pdiv(ploadu<Packet>(rel + j), d)));
    }
    for (; j < out_; ++j) {
      const bool open = kGate == Denominator::Gate::kAll || (kGate == Denominator::Gate::kPositiveOutput ? zo[j] > 0 : zo[j] < 0);
      s[j] = open ? safe_divide(rel[j], s[j], eps) : Scalar(0);
    }
  }

  // 3. backward and 4. multiply, grouped by input: c_i = Σ_{t: input i} weight_d · sign_t · ρ_tᵀ s_d
  //    (one vjp_many call), R_in = Σ_i m_i(a) ⊙ c_i. An input image that is one value v everywhere
  //    needs no multiplication: v·ρᵀs. All such inputs share one vjp_many call with v folded into
  //    the coefficients, and v = 0 (e.g. zbox's low = 0) drops out altogether.
  void backward_and_multiply(MatrixRef relevance_in) {
    MatrixMap group = ws_.get(slots::kLinearRule, kSlotGroup, n_, in_);
    std::array<const Params*, kMaxTermsPerInput> ps{};
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
    for (size_t i = 0; i < spec_.inputs.size(); ++i) {
      if (zero_input_[i]) continue;
      const std::optional<Scalar>& uniform = state_.uniform[i];
      if (uniform && *uniform == Scalar(0)) continue;
      size_t count = 0;
      for (const Term& t : spec_.terms) {
        if (static_cast<size_t>(t.input) != i || !term_needed(t)) continue;
        const Scalar coefficient = t.sign * spec_.denominators[static_cast<size_t>(t.denominator)].weight;
        const Params* p = &state_.params[static_cast<size_t>(t.param)];
        const Scalar* g = z_[static_cast<size_t>(t.denominator)];
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
      ctx_.layer.vjp_many(a_, std::span(ps.data(), count), std::span(gs.data(), count),
                          std::span(coefficients.data(), count), group, ws_);
      if (spec_.inputs[i].sample_independent())
        add_to_relevance(group.array().rowwise() * state_.const_inputs[i].row(0).array());
      else
        add_to_relevance(input_of(i).array() * group.array());
    }
    if (uniform_count > 0) {
      ctx_.layer.vjp_many(a_, std::span(uniform_ps.data(), uniform_count), std::span(uniform_gs.data(), uniform_count),
                          std::span(uniform_coefficients.data(), uniform_count), group, ws_);
      add_to_relevance(group.array());
    }
    if (first_group) relevance_in.setZero();  // every input was zero
  }

  const LinearRuleSpec& spec_;
  const LinearState& state_;
  const LayerContext& ctx_;
  const ConstMatrixRef& a_;
  const ConstMatrixRef& relevance_out_;
  Workspace& ws_;
  const Index n_, in_, out_;
  std::array<bool, kMaxInputs> zero_input_{}, same_as_a_{};
  std::array<Scalar*, kMaxInputs> modified_{};
  std::array<bool, kMaxDenominators> needed_{};
  std::array<Scalar*, kMaxDenominators> z_{};
  std::array<bool, kMaxDenominators> z_written_{};
};

}  // namespace

void LinearRule::propagate(const LayerContext& ctx, const RuleState* state_base, const ConstMatrixRef& relevance_out,
                           MatrixRef relevance_in, Workspace& ws) const {
  LinearStep(spec_, static_cast<const LinearState&>(*state_base), ctx, relevance_out, ws).run(relevance_in);
}

}  // namespace lrp
