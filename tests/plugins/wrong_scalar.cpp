// A plugin that claims the other scalar type than the one it is built with.
#include "lrp/registry/plugin.hpp"

namespace {
void register_nothing(lrp::Registry&) {}
const lrp::PluginDescriptor kDescriptor{lrp::kPluginApiVersion, sizeof(lrp::Scalar) == 4 ? 8 : 4, "wrong_scalar",
                                        register_nothing};
}  // namespace

extern "C" __attribute__((visibility("default"))) const lrp::PluginDescriptor* lrp_plugin_entry() { return &kDescriptor; }
