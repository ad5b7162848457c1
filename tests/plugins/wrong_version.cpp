// A plugin built against a future plugin API (version 999).
#include "lrp/registry/plugin.hpp"

namespace {
void register_nothing(lrp::Registry&) {}
const lrp::PluginDescriptor kDescriptor{999, static_cast<int>(sizeof(lrp::Scalar)), "wrong_version", register_nothing};
}  // namespace

extern "C" __attribute__((visibility("default"))) const lrp::PluginDescriptor* lrp_plugin_entry() { return &kDescriptor; }
