// The registry: rules, layer handlers, composite presets and explanation methods by name. It is an object owned by the
// program (never a global), filled at start-up by explicit calls (register_builtins() for what
// ships with lrplab; plugins later use the same add_* calls) and read-only afterwards.
#pragma once

#include "lrp/propagation/composite.hpp"
#include "lrp/nn/layer.hpp"
#include "lrp/registry/method.hpp"
#include "lrp/core/params.hpp"
#include "lrp/propagation/rule.hpp"

#include <functional>
#include <string>
#include <vector>

namespace lrp {

struct RuleInfo {
  std::string name;
  std::string doc;
  std::vector<ParamSpec> params;
  // Builds the rule from resolved parameters.
  std::function<RulePtr(const ParamMap&)> factory;
  // Checks resolved parameters against the rule's constraints (α − β = 1, low < high, ...) and
  // throws lrp::Error naming the parameter; make_rule() calls it before the factory.
  std::function<void(const ParamMap&)> validate = nullptr;
  std::string origin = "built-in";
};

struct LayerInfo {
  std::string kind;
  std::string doc;
  std::vector<ParamSpec> params;
  // The rule a layer of this kind gets when the composite says nothing (docs/rules.md, Default rules of the other layers); an empty
  // rule name means "must be assigned by the composite".
  RuleChoice default_rule;
  std::function<LayerPtr(const ParamMap&)> factory;
  std::string origin = "built-in";
  // Optional: how many values (weights, biases, buffers) a layer of these hyperparameters holds on
  // this per-sample input shape, computed without making it, so that a model too large for the
  // memory limit is refused before it is allocated. Empty: the layer is taken to hold none.
  std::function<std::uint64_t(const ParamMap& params, const Shape& input)> parameter_count = {};
  // Optional: checks that a layer of this kind accepts this per-sample input shape and fills in the
  // hyperparameters that follow from it (dense's `in`, conv2d's `in_channels`; see
  // set_from_input), so a model description may leave them out. Throws lrp::Error naming what
  // was expected; `owner` names the layer for messages about its parameters.
  std::function<void(ParamMap& params, const Shape& input, const std::string& owner)> from_input = {};
};

// For LayerInfo::from_input: sets `key` to `value` when the description leaves it out; when given,
// it must equal `value` (the size the input shape dictates).
void set_from_input(ParamMap& params, const std::string& key, Index value, const std::string& owner);

struct PresetInfo {
  std::string name;
  std::string doc;
  std::vector<ParamSpec> params;
  std::function<Composite(const ParamMap&)> factory;
  std::string origin = "built-in";
};

// An explanation method other than LRP (lrp/registry/method.hpp): the baselines and plugin methods. Its
// name is what a config's `explain:` entry gives (as a name or as `kind:`); it may not be "lrp" nor
// the name of a preset.
struct MethodInfo {
  std::string name;
  std::string doc;
  std::vector<ParamSpec> params;
  // Builds the method for a model from resolved parameters (raw units where the doc says so);
  // throws lrp::Error naming the parameter for a value that does not fit the model.
  std::function<MethodPtr(const ParamMap&, const MethodSetup&)> factory;
  std::string origin = "built-in";
};

// A plugin loaded into a registry (lrp/registry/plugin.hpp).
struct PluginRecord {
  std::string path;  // as given to load_plugin
  std::string name;  // the name the plugin reports
};

class Registry {
 public:
  // Adding a name that exists is an error naming both origins. Adding after freeze() is an error.
  void add_rule(RuleInfo info);
  void add_layer(LayerInfo info);
  void add_preset(PresetInfo info);
  void add_method(MethodInfo info);
  // Makes the registry read-only (done once start-up is over).
  void freeze() { frozen_ = true; }
  bool frozen() const { return frozen_; }

  // ---- for the plugin loader (lrp::load_plugin)
  // Entries added from now on get this origin (e.g. "plugin /path/lib.so"); empty: keep theirs.
  void set_origin(std::string origin) { origin_ = std::move(origin); }
  // How many entries there are, and removing everything added after such a mark (a plugin whose
  // registration fails leaves nothing behind).
  struct Mark {
    std::size_t rules = 0, layers = 0, presets = 0, methods = 0;
  };
  Mark mark() const { return {rules_.size(), layers_.size(), presets_.size(), methods_.size()}; }
  void roll_back(const Mark& m);
  void add_plugin_record(PluginRecord record);
  const std::vector<PluginRecord>& plugins() const { return plugins_; }

  // Look-ups: an unknown name is an lrp::Error that lists the known names and the closest one.
  const RuleInfo& rule_info(const std::string& name) const;
  const LayerInfo& layer_info(const std::string& kind) const;
  const PresetInfo& preset_info(const std::string& name) const;
  const MethodInfo& method_info(const std::string& name) const;
  bool has_layer(const std::string& kind) const;
  bool has_preset(const std::string& name) const;
  bool has_method(const std::string& name) const;

  // Resolves the parameters (unknown names, defaults, scalars) and calls the factory. An exception
  // from a plugin's factory becomes an lrp::Error naming the entry and the plugin.
  RulePtr make_rule(const std::string& name, const ParamMap& given = {}) const;
  LayerPtr make_layer(const std::string& kind, const ParamMap& given = {}) const;
  Composite make_preset(const std::string& name, const ParamMap& given = {}) const;
  MethodPtr make_method(const std::string& name, const ParamMap& given, const MethodSetup& setup) const;

  const std::vector<RuleInfo>& rules() const { return rules_; }
  const std::vector<LayerInfo>& layers() const { return layers_; }
  const std::vector<PresetInfo>& presets() const { return presets_; }
  const std::vector<MethodInfo>& methods() const { return methods_; }

 private:
  void check_open(const std::string& what) const;
  std::vector<RuleInfo> rules_;
  std::vector<LayerInfo> layers_;
  std::vector<PresetInfo> presets_;
  std::vector<MethodInfo> methods_;
  std::vector<PluginRecord> plugins_;
  std::string origin_;
  bool frozen_ = false;
};

// Registers every built-in rule (one call per file in rules/, generated by CMake).
void register_builtin_rules(Registry& registry);
// Registers the built-in layer handlers with their §3 default rules.
void register_builtin_layers(Registry& registry);
// Registers the five presets of docs/rules.md, Composites and Presets.
void register_builtin_presets(Registry& registry);
// Registers the baseline methods of docs/metrics.md, Baseline methods (gradient, sensitivity, gradient_x_input,
// integrated_gradients, smoothgrad, occlusion, random).
void register_builtin_methods(Registry& registry);
// All four.
void register_builtins(Registry& registry);

// "name(p=default, ...)" lines for `lrplab list`.
std::string describe_params(const std::vector<ParamSpec>& params);

}  // namespace lrp
