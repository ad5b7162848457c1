// LRP through LSTM layers (docs/rules.md, LSTM rules); see lstm_rules.hpp for the formulas.
//
// The rule recomputes the layer's forward pass for its block of rows (time-major, like the
// handler: one [T·N, in] × [in, 4H] GEMM per cell for the input projections, one [N, H] × [H, 4H]
// GEMM per step), then walks each cell backwards through time. Per step it needs one [N, ·] × [·, H]
// GEMM for the relevance of h_{t−1}; the relevance of the inputs x_t of all steps comes from one GEMM
// at the end, because it only needs the per-step quotients R / stab(z), which are kept.
#include "lrp/propagation/lstm_rules.hpp"
#include "lrp/core/slots.hpp"

#include "lrp/core/error.hpp"
#include "lrp/nn/lstm.hpp"
#include "lrp/core/scratch_carver.hpp"

#include <algorithm>
#include <cmath>

namespace lrp {
namespace {

// Its two slots of slots::kLstmRule.
constexpr int kSlotScratch = 0;   // the LSTM walk's buffers, carved from one slot
constexpr int kSlotQuotient = 1;  // dense: R / stab(z)

using detail::Carver;
Index padded(Index n) { return detail::carve_padded(n); }

Scalar sign0(Scalar z) { return z >= Scalar(0) ? Scalar(1) : Scalar(-1); }

// The share of a gate ⊙ signal product that goes to the gate.
Scalar gate_share(LstmProductSplit split, Scalar gate, Scalar signal) {
  switch (split) {
    case LstmProductSplit::kSignalTakeAll: return 0;
    case LstmProductSplit::kHalf: return Scalar(0.5);
    case LstmProductSplit::kProportional: {
      const Scalar sum = std::abs(gate) + std::abs(signal);
      return sum > Scalar(0) ? std::abs(gate) / sum : Scalar(0.5);
    }
  }
  return 0;
}

struct Walk {
  Index n = 0, steps = 0, hid = 0, dirs = 0, layers = 0, in0 = 0;
  Scalar* input = nullptr;     // [T·N, D] layer 0's input, time-major
  Scalar* sequences = nullptr;  // per layer [T·N, H·dirs]: h_t of both directions (0 on padding)
  Scalar* pre = nullptr;        // per cell [T·N, 4H]: gate pre-activations z
  Scalar* act = nullptr;        // per cell [T·N, 4H]: i, f, g, o
  Scalar* cells = nullptr;      // per cell [T·N, H]: c_t (0 on padding)
  Index seq_stride = 0, gate_stride = 0, cell_stride = 0;
  Scalar* quotient = nullptr;   // [T·N, 4H]: R_z / stab(z) of one cell
  Scalar* shares = nullptr;     // [T·N]: the bias-and-stabilizer share per lower unit, one cell
  Scalar* share_total = nullptr;  // [T·N]: the same summed over a layer's directions
  Scalar* rel[2] = {nullptr, nullptr};  // [T·N, max(D, H·dirs)]: relevance of a layer's input, ping-pong
  Scalar* rh = nullptr;         // [N, H]
  Scalar* rc = nullptr;         // [N, H]
  Scalar* tmp[3] = {nullptr, nullptr, nullptr};  // [N, H] each
};

Walk carve(Workspace& ws, const Lstm& lstm, Index n) {
  Walk w;
  w.n = n;
  w.steps = lstm.input_shape()[0];
  w.hid = lstm.hidden_size();
  w.dirs = lstm.directions();
  w.layers = lstm.num_layers();
  w.in0 = lstm.input_size();
  const Index rows = w.steps * n, width = w.hid * w.dirs, cells = w.layers * w.dirs;
  auto cut = [&](Carver& m) {
    w.input = m.take(rows * w.in0);
    w.seq_stride = padded(rows * width);
    w.sequences = m.take(w.layers * w.seq_stride);
    w.gate_stride = padded(rows * 4 * w.hid);
    w.pre = m.take(cells * w.gate_stride);
    w.act = m.take(cells * w.gate_stride);
    w.cell_stride = padded(rows * w.hid);
    w.cells = m.take(cells * w.cell_stride);
    w.quotient = m.take(rows * 4 * w.hid);
    w.shares = m.take(rows);
    w.share_total = m.take(rows);
    const Index rel_cols = std::max(w.in0, width);
    w.rel[0] = m.take(rows * rel_cols);
    w.rel[1] = m.take(rows * rel_cols);
    w.rh = m.take(n * w.hid);
    w.rc = m.take(n * w.hid);
    for (Scalar*& t : w.tmp) t = m.take(n * w.hid);
  };
  Carver count(nullptr);
  cut(count);
  Carver pieces(ws.get(slots::kLstmRule, kSlotScratch, 1, count.used()).data());
  cut(pieces);
  return w;
}

// Whether row r is a real (non-padding) step at time t.
bool active(std::span<const Index> lengths, Index r, Index t) { return lengths.empty() || t < lengths[static_cast<size_t>(r)]; }

void recompute_forward(const Lstm& lstm, const Params& p, const ConstMatrixRef& x, std::span<const Index> lengths,
                       Walk& w) {
  const Index n = w.n, steps = w.steps, hid = w.hid, rows = steps * n, width = hid * w.dirs;
  MatrixMap input(w.input, rows, w.in0);
  for (Index t = 0; t < steps; ++t) input.middleRows(t * n, n) = x.middleCols(t * w.in0, w.in0);
  MatrixMap h(w.tmp[0], n, hid), c(w.tmp[1], n, hid);
  for (Index k = 0; k < w.layers; ++k) {
    const Index in_k = lstm.layer_input_size(k);
    const ConstMatrixMap layer_input = k == 0 ? ConstMatrixMap(w.input, rows, w.in0)
                                              : ConstMatrixMap(w.sequences + (k - 1) * w.seq_stride, rows, in_k);
    MatrixMap sequence(w.sequences + k * w.seq_stride, rows, width);
    for (Index d = 0; d < w.dirs; ++d) {
      const LstmCellView cell = lstm.cell(p, k, d);
      const Index ci = k * w.dirs + d;
      MatrixMap pre(w.pre + ci * w.gate_stride, rows, 4 * hid), act(w.act + ci * w.gate_stride, rows, 4 * hid);
      MatrixMap cells(w.cells + ci * w.cell_stride, rows, hid);
      pre.noalias() = layer_input * cell.w_ih.transpose();
      if (p.has_bias()) pre.rowwise() += (cell.b_ih + cell.b_hh).transpose();
      h.setZero();
      c.setZero();
      for (Index step = 0; step < steps; ++step) {
        const Index t = d == 0 ? step : steps - 1 - step;
        auto z = pre.middleRows(t * n, n);
        if (step > 0) z.noalias() += h * cell.w_hh.transpose();
        auto a = act.middleRows(t * n, n);
        a.leftCols(2 * hid).array() = Scalar(1) / (Scalar(1) + (-z.leftCols(2 * hid).array()).exp());
        a.middleCols(2 * hid, hid).array() = z.middleCols(2 * hid, hid).array().tanh();
        a.rightCols(hid).array() = Scalar(1) / (Scalar(1) + (-z.rightCols(hid).array()).exp());
        c.array() = a.middleCols(hid, hid).array() * c.array() + a.leftCols(hid).array() * a.middleCols(2 * hid, hid).array();
        h.array() = a.rightCols(hid).array() * c.array().tanh();
        // Padding steps keep a zero state: the reverse direction then starts from zero at step L − 1.
        for (Index r = 0; r < n; ++r)
          if (!active(lengths, r, t)) {
            h.row(r).setZero();
            c.row(r).setZero();
          }
        cells.middleRows(t * n, n) = c;
        sequence.block(t * n, d * hid, n, hid) = h;
      }
    }
  }
}

// The dense-layer case: R_in = a ⊙ Wᵀq + δ/N · Σ_k (b_k + ε sign₀(z_k)) q_k, q = R / stab(z).
void propagate_dense(const LstmRuleOptions& o, const LayerContext& ctx, const ConstMatrixRef& relevance_out,
                     MatrixRef relevance_in, Workspace& ws) {
  const Scalar eps = o.epsilon, delta = o.bias_factor;
  const Index n = ctx.input.rows(), out = ctx.output.cols(), in = ctx.input.cols();
  MatrixMap q = ws.get(slots::kLstmRule, kSlotQuotient, n, out);
  for (Index r = 0; r < n; ++r)
    for (Index k = 0; k < out; ++k) q(r, k) = safe_divide(relevance_out(r, k), ctx.output(r, k), eps);
  ctx.layer.vjp(ctx.input, ctx.layer.params(), q, relevance_in, ws);
  relevance_in.array() *= ctx.input.array();
  if (delta <= 0) return;
  const Params& p = ctx.layer.params();
  for (Index r = 0; r < n; ++r) {
    Scalar share = 0;
    for (Index k = 0; k < out; ++k)
      share += ((p.has_bias() ? p.bias[k] : Scalar(0)) + eps * sign0(ctx.output(r, k))) * q(r, k);
    relevance_in.row(r).array() += delta * share / static_cast<Scalar>(in);
  }
}

// The LSTM case, after the forward pass has been recomputed into the walk's buffers: the layers
// from the top down, each cell backwards through time, then the inputs of all steps at once.
class LstmBackward {
 public:
  LstmBackward(const LstmRuleOptions& options, const Lstm& layer, std::span<const Index> lengths, Walk& w,
               const ConstMatrixRef& relevance_out, MatrixMap& state)
      : o_(options),
        layer_(layer),
        p_(layer.params()),
        lengths_(lengths),
        w_(w),
        relevance_out_(relevance_out),
        state_(state),
        n_(w.n),
        hid_(w.hid),
        rows_(w.steps * w.n),
        take_all_(options.split == LstmProductSplit::kSignalTakeAll),
        quotient_(w.quotient, rows_, 4 * hid_),
        shares_(w.shares, rows_),
        share_total_(w.share_total, rows_),
        rh_(w.rh, n_, hid_),
        rc_(w.rc, n_, hid_),
        rh_new_(w.tmp[0], n_, hid_),
        rc_new_(w.tmp[1], n_, hid_),
        recurrent_(w.tmp[2], n_, hid_) {}

  void run(MatrixRef relevance_in) {
    const Index width = hid_ * w_.dirs;
    Index above = 0;  // which rel[] buffer holds the relevance of the layer above's input
    for (Index k = w_.layers - 1; k >= 0; --k) {
      const bool top = k == w_.layers - 1;
      const Index in_k = layer_.layer_input_size(k);
      const ConstMatrixMap layer_input = k == 0 ? ConstMatrixMap(w_.input, rows_, w_.in0)
                                                : ConstMatrixMap(w_.sequences + (k - 1) * w_.seq_stride, rows_, in_k);
      const ConstMatrixMap from_above(w_.rel[above], top ? 0 : rows_, top ? 0 : width);
      MatrixMap rel_in(w_.rel[1 - above], rows_, in_k);
      for (Index d = 0; d < w_.dirs; ++d) {
        const LstmCellView cell = layer_.cell(p_, k, d);
        walk_cell(k, d, cell, top, from_above);
        // R_x = x ⊙ (W_ihᵀ q) + share, for every step at once (padding steps have q = 0, share = 0).
        if (take_all_) {
          if (d == 0)
            rel_in.noalias() = quotient_.middleCols(2 * hid_, hid_) * cell.w_ih.middleRows(2 * hid_, hid_);
          else
            rel_in.noalias() += quotient_.middleCols(2 * hid_, hid_) * cell.w_ih.middleRows(2 * hid_, hid_);
        } else {
          if (d == 0)
            rel_in.noalias() = quotient_ * cell.w_ih;
          else
            rel_in.noalias() += quotient_ * cell.w_ih;
        }
        if (d == 0)
          share_total_ = shares_;
        else
          share_total_ += shares_;
      }
      // Both directions read the same input: R_in = x ⊙ Σ_d W_ihᵀ q_d + Σ_d share_d.
      rel_in.array() *= layer_input.array();
      rel_in.colwise() += share_total_;
      above = 1 - above;
    }
    // rel[above] holds the relevance of layer 0's input, time-major.
    const ConstMatrixMap r_x(w_.rel[above], rows_, w_.in0);
    for (Index t = 0; t < w_.steps; ++t) relevance_in.middleCols(t * w_.in0, w_.in0) = r_x.middleRows(t * n_, n_);
  }

 private:
  // One cell backwards through its processing order: the forward direction from t = T − 1 down to
  // 0, the reverse direction from t = 0 up to T − 1. Leaves every step's quotients and shares in
  // quotient_ and shares_, and the relevance of the initial state h₋₁, c₋₁ in state_.
  void walk_cell(Index k, Index d, const LstmCellView& cell, bool top, const ConstMatrixMap& from_above) {
    const Index steps = w_.steps, width = hid_ * w_.dirs, ci = k * w_.dirs + d;
    const ConstMatrixMap sequence(w_.sequences + k * w_.seq_stride, rows_, width);
    quotient_.setZero();
    shares_.setZero();
    rh_.setZero();
    rc_.setZero();
    for (Index back = 0; back < steps; ++back) {
      const Index t = d == 0 ? steps - 1 - back : back;
      const Index t_prev = d == 0 ? t - 1 : t + 1;  // the step processed before t
      const bool has_prev = t_prev >= 0 && t_prev < steps;
      // Relevance arriving at h_t from above: the output seed at each row's final step, or the
      // layer above's input relevance at step t.
      if (top) {
        for (Index r = 0; r < n_; ++r) {
          const Index last = d == 0 ? (lengths_.empty() ? steps - 1 : lengths_[static_cast<size_t>(r)] - 1) : 0;
          if (t == last) rh_.row(r) += relevance_out_.block(r, d * hid_, 1, hid_);
        }
      } else {
        rh_ += from_above.block(t * n_, d * hid_, n_, hid_);
      }
      step_gates(ci, cell, t, t_prev, has_prev);
      // R_{h_{t−1}} = h_{t−1} ⊙ (W_hhᵀ q) + share; h_{−1} = 0.
      const auto q = quotient_.middleRows(t * n_, n_);
      if (take_all_)
        recurrent_.noalias() = q.middleCols(2 * hid_, hid_) * cell.w_hh.middleRows(2 * hid_, hid_);
      else
        recurrent_.noalias() = q * cell.w_hh;
      for (Index r = 0; r < n_; ++r) {
        if (!active(lengths_, r, t)) continue;
        if (has_prev)
          rh_new_.row(r).array() = sequence.block(t_prev * n_ + r, d * hid_, 1, hid_).array() * recurrent_.row(r).array();
        else
          rh_new_.row(r).setZero();
        rh_new_.row(r).array() += shares_[t * n_ + r];
      }
      rh_ = rh_new_;
      rc_ = rc_new_;
    }
    state_.middleCols(ci * 2 * hid_, hid_) = rh_;
    state_.middleCols(ci * 2 * hid_ + hid_, hid_) = rc_;
  }

  // Step t of cell ci, every row: h_t = o ⊙ tanh(c_t), then the cell split c_t = f ⊙ c_prev + i ⊙ g;
  // each gate's relevance R_G becomes its quotient R_G / stab(z_G) (in quotient_) and its bias share
  // (in shares_); rc_new_ receives the relevance of c_prev.
  void step_gates(Index ci, const LstmCellView& cell, Index t, Index t_prev, bool has_prev) {
    const Scalar eps = o_.epsilon, delta = o_.bias_factor;
    const Scalar units_per_gate = static_cast<Scalar>(cell.w_ih.cols() + hid_);  // N of a gate's ε-rule
    const Scalar units_per_cell = static_cast<Scalar>(2 * hid_);                 // N of the cell split
    const ConstMatrixMap pre(w_.pre + ci * w_.gate_stride, rows_, 4 * hid_);
    const ConstMatrixMap act(w_.act + ci * w_.gate_stride, rows_, 4 * hid_);
    const ConstMatrixMap cells(w_.cells + ci * w_.cell_stride, rows_, hid_);
    const auto a = act.middleRows(t * n_, n_);
    const auto z = pre.middleRows(t * n_, n_);
    const auto c_t = cells.middleRows(t * n_, n_);
    auto q = quotient_.middleRows(t * n_, n_);
    for (Index r = 0; r < n_; ++r) {
      if (!active(lengths_, r, t)) {  // padding: nothing moves
        rh_new_.row(r) = rh_.row(r);
        rc_new_.row(r) = rc_.row(r);
        continue;
      }
      Scalar cell_share = 0;
      for (Index j = 0; j < hid_; ++j) {
        const Scalar o = a(r, 3 * hid_ + j), tanh_c = std::tanh(c_t(r, j));
        const Scalar alpha_o = gate_share(o_.split, o, tanh_c);
        q(r, 3 * hid_ + j) = alpha_o * rh_(r, j);  // R_o, divided below
        const Scalar r_c = rc_(r, j) + (Scalar(1) - alpha_o) * rh_(r, j);
        const Scalar qc = safe_divide(r_c, c_t(r, j), eps);
        recurrent_(r, j) = qc;
        cell_share += eps * sign0(c_t(r, j)) * qc;
      }
      cell_share *= delta / units_per_cell;
      Scalar gate_shares = 0;
      for (Index j = 0; j < hid_; ++j) {
        const Scalar i = a(r, j), f = a(r, hid_ + j), g = a(r, 2 * hid_ + j);
        const Scalar c_prev = has_prev ? cells(t_prev * n_ + r, j) : Scalar(0);
        const Scalar qc = recurrent_(r, j);
        const Scalar share_fc = f * c_prev * qc + cell_share, share_ig = i * g * qc + cell_share;
        const Scalar alpha_f = gate_share(o_.split, f, c_prev), alpha_i = gate_share(o_.split, i, g);
        rc_new_(r, j) = (Scalar(1) - alpha_f) * share_fc;
        const Scalar r_gate[4] = {alpha_i * share_ig, alpha_f * share_fc, (Scalar(1) - alpha_i) * share_ig,
                                  q(r, 3 * hid_ + j)};
        for (int gate = 0; gate < 4; ++gate) {
          if (take_all_ && gate != 2) {
            q(r, gate * hid_ + j) = 0;
            continue;
          }
          const Index col = gate * hid_ + j;
          const Scalar qz = safe_divide(r_gate[gate], z(r, col), eps);
          q(r, col) = qz;
          const Scalar b = p_.has_bias() ? cell.b_ih[col] + cell.b_hh[col] : Scalar(0);
          gate_shares += (b + eps * sign0(z(r, col))) * qz;
        }
      }
      shares_[t * n_ + r] = delta * gate_shares / units_per_gate;
    }
  }

  const LstmRuleOptions& o_;
  const Lstm& layer_;
  const Params& p_;
  const std::span<const Index> lengths_;
  Walk& w_;
  const ConstMatrixRef& relevance_out_;
  MatrixMap& state_;
  const Index n_, hid_, rows_;
  const bool take_all_;
  MatrixMap quotient_;
  Eigen::Map<Vector> shares_, share_total_;
  MatrixMap rh_, rc_, rh_new_, rc_new_, recurrent_;
};

}  // namespace

LstmRule::LstmRule(LstmRuleOptions options) : options_(options) {
  LRP_CHECK(options_.epsilon >= 0, "LSTM rule: epsilon must be ≥ 0, got ", options_.epsilon);
  LRP_CHECK(options_.bias_factor >= 0 && options_.bias_factor <= 1, "LSTM rule: bias_factor must be in [0, 1], got ",
            options_.bias_factor);
}

std::string LstmRule::incompatibility(const Layer& layer) const {
  if (dynamic_cast<const Lstm*>(&layer) != nullptr) return "";
  const std::string who = "rule '" + name() + "' ";
  const std::string what = "layer '" + layer.name() + "' (" + layer.kind() + ")";
  if (!layer.traits().linear) return who + "applies to lstm layers and to linear layers (dense), and " + what + " is neither";
  const Params& p = layer.params();
  const bool fully_connected = p.weight.rows() == numel(layer.output_shape()) &&
                               p.weight.cols() == numel(layer.input_shape()) &&
                               (!p.has_bias() || p.bias.size() == p.weight.rows());
  if (options_.bias_factor > 0 && !fully_connected)
    return who + "with bias_factor > 0 redistributes a bias over all inputs and needs a fully connected layer (dense); " +
           what + " is not one";
  return "";
}

Index LstmRule::state_relevance_size(const Layer& layer) const {
  const auto* lstm = dynamic_cast<const Lstm*>(&layer);
  return lstm == nullptr ? 0 : lstm->num_layers() * lstm->directions() * 2 * lstm->hidden_size();
}

void LstmRule::propagate(const LayerContext& ctx, const RuleState*, const ConstMatrixRef& relevance_out,
                         MatrixRef relevance_in, Workspace& ws) const {
  const Index n = ctx.input.rows();
  const auto* lstm = dynamic_cast<const Lstm*>(&ctx.layer);
  if (lstm == nullptr) {
    propagate_dense(options_, ctx, relevance_out, relevance_in, ws);
    return;
  }
  const std::span<const Index> lengths = ws.lengths();
  LRP_CHECK(lengths.empty() || static_cast<Index>(lengths.size()) == n, "rule '", name(), "': ", lengths.size(),
            " sequence lengths for ", n, " rows");
  LRP_CHECK(ctx.state_relevance != nullptr && ctx.state_relevance->rows() == n &&
                ctx.state_relevance->cols() == state_relevance_size(*lstm),
            "rule '", name(), "': the explainer did not provide the initial-state relevance buffer");
  if (n == 0) return;
  Walk w = carve(ws, *lstm, n);
  recompute_forward(*lstm, lstm->params(), ctx.input, lengths, w);
  LstmBackward(options_, *lstm, lengths, w, relevance_out, *ctx.state_relevance).run(relevance_in);
}

RuleInfo lstm_rule_info(std::string name, std::string doc, LstmProductSplit split) {
  RuleInfo info{std::move(name), std::move(doc),
                {non_negative("epsilon", 1e-3, "stabilizer of every ε-rule step (≥ 0)"),
                 non_negative("bias_factor", 0.0,
                              "δ in [0, 1]: share of bias and stabilizer redistributed to the inputs (1 conserves)")},
                nullptr};
  const std::string owner = "rule '" + info.name + "'";
  info.factory = [split, owner](const ParamMap& p) -> RulePtr {
    LstmRuleOptions options;
    options.epsilon = static_cast<Scalar>(p.scalar("epsilon", owner));
    options.bias_factor = static_cast<Scalar>(p.scalar("bias_factor", owner));
    options.split = split;
    return std::make_unique<LstmRule>(options);
  };
  info.validate = [owner](const ParamMap& p) {
    const double delta = p.scalar("bias_factor", owner);
    LRP_CHECK(delta <= 1, owner, ": bias_factor must be in [0, 1], got ", delta);
  };
  return info;
}

}  // namespace lrp
