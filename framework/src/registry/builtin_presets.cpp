// The composite presets of docs/rules.md, Composites and Presets, with Zennit's names and semantics: the "first" layer is
// the first layer of the listed kinds in execution order (EpsilonGammaBox: the first conv only;
// the *Flat presets: the first dense or conv); pooling, activations and batch norm keep their
// §3 defaults.
#include "lrp/registry/registry.hpp"

namespace lrp {
namespace {

const std::vector<std::string> kConv{"conv2d"};
const std::vector<std::string> kDenseOrConv{"dense", "conv2d"};

ParamSpec epsilon_param() { return {"epsilon", {1e-6}, "epsilon of the dense layers' epsilon rule"}; }

Composite conv_dense(RuleChoice conv, const ParamMap& p) {
  return Composite()
      .by_kind("conv2d", std::move(conv))
      .by_kind("dense", {"epsilon", {{"epsilon", {p.scalar("epsilon", "preset")}}}});
}

}  // namespace

void register_builtin_presets(Registry& r) {
  r.add_preset({"epsilon_gamma_box",
                "first conv: zbox(low, high); other conv: gamma; dense: epsilon",
                {{"low", {}, "lowest input value (model input space), scalar or per channel", true},
                 {"high", {}, "highest input value, scalar or per channel", true},
                 epsilon_param(),
                 {"gamma", {0.25}, "gamma of the conv layers"}},
                [](const ParamMap& p) {
                  return conv_dense({"gamma", {{"gamma", {p.scalar("gamma", "preset 'epsilon_gamma_box'")}}}}, p)
                      .first({"zbox", {{"low", p.get("low", "preset")}, {"high", p.get("high", "preset")}}}, kConv);
                }});
  r.add_preset({"epsilon_plus", "conv: zplus; dense: epsilon", {epsilon_param()},
                [](const ParamMap& p) { return conv_dense({"zplus", {}}, p); }});
  r.add_preset({"epsilon_alpha2_beta1", "conv: alpha_beta(2, 1); dense: epsilon", {epsilon_param()},
                [](const ParamMap& p) { return conv_dense({"alpha_beta", {{"alpha", {2.0}}, {"beta", {1.0}}}}, p); }});
  r.add_preset({"epsilon_plus_flat", "first dense or conv: flat; conv: zplus; dense: epsilon", {epsilon_param()},
                [](const ParamMap& p) { return conv_dense({"zplus", {}}, p).first({"flat", {}}, kDenseOrConv); }});
  r.add_preset({"epsilon_alpha2_beta1_flat", "first dense or conv: flat; conv: alpha_beta(2, 1); dense: epsilon",
                {epsilon_param()}, [](const ParamMap& p) {
                  return conv_dense({"alpha_beta", {{"alpha", {2.0}}, {"beta", {1.0}}}}, p)
                      .first({"flat", {}}, kDenseOrConv);
                }});
}

}  // namespace lrp
