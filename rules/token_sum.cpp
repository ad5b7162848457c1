// Token sum: the relevance of a token is the sum of the relevance of its embedding vector,
// R_token[t] = Σ_e R[t, e] (Arras et al. 2017 pool word relevance over the embedding dimensions the
// same way). Conservative by construction; the default for embedding layers.
#include "lrp/registry/registry.hpp"

namespace {

class TokenSumRule final : public lrp::Rule {
 public:
  // Any layer that maps a [T] input to a [T, E] output: one value per step in, E per step out.
  std::string incompatibility(const lrp::Layer& layer) const override {
    const lrp::Shape& in = layer.input_shape();
    const lrp::Shape& out = layer.output_shape();
    if (in.size() == 1 && out.size() == 2 && out[0] == in[0]) return "";
    return "rule 'token_sum' applies only to layers mapping a [T] input to a [T, E] output, and layer '" +
           layer.name() + "' (" + layer.kind() + ") maps " + lrp::to_string(in) + " to " + lrp::to_string(out);
  }
  void propagate(const lrp::LayerContext& ctx, const lrp::RuleState*, const lrp::ConstMatrixRef& relevance_out,
                 lrp::MatrixRef relevance_in, lrp::Workspace&) const override {
    const lrp::Index steps = ctx.layer.output_shape()[0], dim = ctx.layer.output_shape()[1];
    for (lrp::Index r = 0; r < relevance_out.rows(); ++r)
      for (lrp::Index t = 0; t < steps; ++t) relevance_in(r, t) = relevance_out.row(r).segment(t * dim, dim).sum();
  }
  // Conservative, but reported as before this interface existed (NaN shares): 0 would change results files.
  lrp::LedgerShare ledger_share(const lrp::Layer&) const override { return lrp::LedgerShare::none(); }
};

}  // namespace

void lrp_register_rule_token_sum(lrp::Registry& registry) {
  registry.add_rule({"token_sum", "R_token[t] = sum over e of R[t, e] (embedding layers)", {},
                     [](const lrp::ParamMap&) -> lrp::RulePtr { return std::make_unique<TokenSumRule>(); }});
}
