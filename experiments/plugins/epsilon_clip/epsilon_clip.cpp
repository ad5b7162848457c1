// A worked example of a rule plugin: the ε-rule with a clipped stabilizer.
//
//   R_i = a_i Σ_j w_ij R_j / clip(z_j),   clip(z) = sign₀(z) · max(|z|, ε),   z = W a + b
//
// Unlike LRP-ε (z + ε·sign₀(z)), the denominator is left alone where |z| ≥ ε, so strong outputs
// keep exactly their LRP-0 relevance, and only weak outputs (|z| < ε) are damped. It runs on every
// linear layer through the layer's own vector-Jacobian product, so it needs no knowledge of the
// layer kind. Build it out of tree against an installed lrplab (see CMakeLists.txt beside this
// file), then name the library in a config's `plugins:` list or pass `lrplab --plugin PATH`.
#include "lrp/core/error.hpp"
#include "lrp/registry/plugin.hpp"

#include <algorithm>
#include <cmath>
#include <memory>
#include <string>

namespace {

class EpsilonClip final : public lrp::Rule {
 public:
  explicit EpsilonClip(lrp::Scalar epsilon) : epsilon_(epsilon) {}

  std::string incompatibility(const lrp::Layer& layer) const override {
    if (layer.traits().linear) return "";
    return "rule 'epsilon_clip' applies only to linear layers (dense, conv2d, average pooling), and layer '" +
           layer.name() + "' (" + layer.kind() + ") is not one";
  }

  void propagate(const lrp::LayerContext& ctx, const lrp::RuleState*, const lrp::ConstMatrixRef& relevance_out,
                 lrp::MatrixRef relevance_in, lrp::Workspace& ws) const override {
    // q = R / clip(z), in the plugin's own workspace slot (no allocation when warm).
    lrp::MatrixMap q = ws.get(slots_, 0, relevance_out.rows(), relevance_out.cols());
    for (lrp::Index r = 0; r < q.rows(); ++r)
      for (lrp::Index j = 0; j < q.cols(); ++j) {
        const lrp::Scalar z = ctx.output(r, j);
        const lrp::Scalar magnitude = std::max(std::abs(z), epsilon_);
        q(r, j) = relevance_out(r, j) / (z >= lrp::Scalar(0) ? magnitude : -magnitude);
      }
    ctx.layer.vjp(ctx.input, ctx.layer.params(), q, relevance_in, ws);  // Wᵀ q
    relevance_in.array() *= ctx.input.array();                          // a ⊙ Wᵀ q
  }

  // What the conservation ledger may say about this rule: clip(z) is not z + ε·sign₀(z), so the
  // ledger's bias/stabilizer split does not describe it (none: NaN shares). Without this override
  // the ledger would report the rule's shares as unknown.
  lrp::LedgerShare ledger_share(const lrp::Layer&) const override { return lrp::LedgerShare::none(); }

 private:
  lrp::Scalar epsilon_;
  // One workspace slot of its own, reserved by name: the same slot for every EpsilonClip in the process
  // (rules run one at a time on a thread's workspace), and no one else's.
  lrp::SlotRange slots_ = lrp::reserve_slots("epsilon_clip", 1);
};

void register_epsilon_clip(lrp::Registry& registry) {
  lrp::RuleInfo info;
  info.name = "epsilon_clip";
  info.doc = "epsilon with a clipped stabilizer: a ⊙ Wᵀ(R / (sign(z)·max(|z|, eps)))";
  // epsilon must be > 0 (a zero would divide by z = 0): the minimum says ≥ 0, validate says > 0.
  info.params = {lrp::non_negative("epsilon", 0.01, "smallest |denominator| (> 0)")};
  info.validate = [](const lrp::ParamMap& p) {
    LRP_CHECK(p.scalar("epsilon", "rule 'epsilon_clip'") > 0, "rule 'epsilon_clip': epsilon must be > 0");
  };
  info.factory = [](const lrp::ParamMap& p) -> lrp::RulePtr {
    return std::make_unique<EpsilonClip>(static_cast<lrp::Scalar>(p.scalar("epsilon", "rule 'epsilon_clip'")));
  };
  registry.add_rule(std::move(info));
}

}  // namespace

LRP_PLUGIN("epsilon_clip", register_epsilon_clip)
