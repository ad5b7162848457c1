// Test plugins that misbehave, selected by LRP_TEST_MISBEHAVIOUR at compile time:
//   1: registers a rule, then throws during registration (nothing it added may stay)
//   2: registers a rule whose factory throws, and a layer kind whose factory throws
#include "lrp/plugin.hpp"

#include <memory>
#include <stdexcept>

namespace {

lrp::RuleInfo gradient_like(const char* name, std::function<lrp::RulePtr(const lrp::ParamMap&)> factory) {
  lrp::RuleInfo info;
  info.name = name;
  info.doc = "test rule";
  info.factory = std::move(factory);
  return info;
}

void register_misbehaving(lrp::Registry& registry) {
#if LRP_TEST_MISBEHAVIOUR == 1
  registry.add_rule(gradient_like("half_registered", [](const lrp::ParamMap&) -> lrp::RulePtr { return nullptr; }));
  throw std::runtime_error("registration boom");
#else
  registry.add_rule(gradient_like("throwing_factory", [](const lrp::ParamMap&) -> lrp::RulePtr {
    throw std::runtime_error("factory boom");
  }));
  lrp::LayerInfo layer;
  layer.kind = "throwing_layer";
  layer.doc = "test layer";
  layer.factory = [](const lrp::ParamMap&) -> lrp::LayerPtr { throw 7; };
  registry.add_layer(std::move(layer));
#endif
}

}  // namespace

LRP_PLUGIN("misbehaving", register_misbehaving)
