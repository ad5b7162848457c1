// Plugins: shared libraries that add rules, layer handlers, composite presets and explanation
// methods (lrp/registry/method.hpp) to a registry at start-up, without rebuilding lrplab.
//
// A plugin is one shared library that defines the C entry point `lrp_plugin_entry`, most simply
// with the macro below:
//
//   #include "lrp/registry/plugin.hpp"
//   void register_my_rules(lrp::Registry& registry) { registry.add_rule({...}); }
//   LRP_PLUGIN("my_rules", register_my_rules)
//
// The host (lrp::load_plugin; `lrplab --plugin PATH`, a config's `plugins:` list) opens the
// library, checks the API version and the scalar type it was built for, and calls its register
// function with the registry while the registry is still open. Every entry the plugin adds is
// marked with its origin ("plugin <path>"), which `lrplab list` shows and errors name. If the
// registration throws, nothing it added stays. Plugins are never unloaded (their code backs the
// rules and methods for the rest of the program), and the registry is read-only once start-up is over.
#pragma once

#include "lrp/registry/registry.hpp"

#include <string>

namespace lrp {

// Raised whenever the plugin interface changes incompatibly (the layout of PluginDescriptor, the
// Registry, Rule, Layer or ExplanationMethod interfaces).
// 2: explanation methods (Registry::add_method); 3: LayerInfo::parameter_count, MethodSetup::limits;
// 4: InputNormalization::origin (MethodSetup hands a plugin the normalization), MaxPool2d's tie policy,
// Pool2dOptions::ceil_mode and PoolWindow::scale, ElementwiseActivation's ActivationParams;
// 5: Rule::ledger_share (a new virtual: the Rule vtable changed); 6: LayerInfo::from_input;
// 7: graph networks (Layer::stack_inputs, the layouts of Network and ForwardPass);
// 8: Layer::train_forward/train_backward take the thread count.
inline constexpr int kPluginApiVersion = 9;

struct PluginDescriptor {
  int api_version;                    // kPluginApiVersion of the headers the plugin was built with
  int scalar_bytes;                   // sizeof(lrp::Scalar): 4 (float32) or 8 (float64 build)
  const char* name;                   // a short name for messages and listings
  void (*register_fn)(Registry&);     // adds the plugin's entries
};

// Loads the plugin at `path` into `registry` (which must not be frozen yet) and returns what was
// recorded. Throws lrp::Error naming the path for: a missing file, a library that cannot be
// opened, no entry point, an API-version or scalar-type mismatch, and a registration that throws
// (for example a name that is already registered; the message names both origins).
PluginRecord load_plugin(const std::string& path, Registry& registry);

// Whether the library at `path` (compared as a canonical path, so "./x.so" and "/dir/x.so" are the
// same) is among registry.plugins().
bool plugin_loaded(const Registry& registry, const std::string& path);

}  // namespace lrp

// The entry point the host looks up (C linkage, so the name is not mangled).
#define LRP_PLUGIN_ENTRY_NAME "lrp_plugin_entry"
#define LRP_PLUGIN(NAME, REGISTER_FN)                                                                   \
  extern "C" __attribute__((visibility("default"))) const ::lrp::PluginDescriptor* lrp_plugin_entry() { \
    static const ::lrp::PluginDescriptor descriptor{::lrp::kPluginApiVersion,                          \
                                                    static_cast<int>(sizeof(::lrp::Scalar)), NAME, REGISTER_FN}; \
    return &descriptor;                                                                                 \
  }
