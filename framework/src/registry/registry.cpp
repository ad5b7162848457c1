#include "lrp/registry/registry.hpp"

#include "lrp/core/error.hpp"

#include <algorithm>

namespace lrp {
namespace {

template <typename Info, typename Key>
const Info* find(const std::vector<Info>& items, const std::string& name, Key key) {
  for (const Info& item : items)
    if (item.*key == name) return &item;
  return nullptr;
}

template <typename Info, typename Key>
const Info& lookup(const std::vector<Info>& items, const std::string& name, Key key, const char* what) {
  if (const Info* found = find(items, name, key)) return *found;
  std::vector<std::string> known;
  for (const Info& item : items) known.push_back(item.*key);
  std::sort(known.begin(), known.end());
  std::string list;
  for (const std::string& k : known) list += (list.empty() ? "" : ", ") + k;
  const std::string hint = closest_name(name, known);
  LRP_FAIL("unknown ", what, " '", name, "'", hint.empty() ? "" : " (did you mean '" + hint + "'?)", "; known ", what,
           "s: ", list);
}

template <typename Info, typename Key>
void insert(std::vector<Info>& items, Info info, Key key, const char* what) {
  LRP_CHECK(!(info.*key).empty(), "registry: a ", what, " needs a name");
  LRP_CHECK(static_cast<bool>(info.factory), "registry: ", what, " '", info.*key, "' has no factory");
  if (const Info* existing = find(items, info.*key, key))
    LRP_FAIL("registry: the ", what, " '", info.*key, "' from ", info.origin, " is already registered (from ",
             existing->origin, ")");
  items.push_back(std::move(info));
}

}  // namespace

void Registry::check_open(const std::string& what) const {
  LRP_CHECK(!frozen_, "registry: cannot add ", what, " after start-up (the registry is read-only)");
}

void Registry::roll_back(const Mark& m) {
  check_open("entries (roll back)");
  if (rules_.size() > m.rules) rules_.resize(m.rules);
  if (layers_.size() > m.layers) layers_.resize(m.layers);
  if (presets_.size() > m.presets) presets_.resize(m.presets);
  if (methods_.size() > m.methods) methods_.resize(m.methods);
}

void Registry::add_plugin_record(PluginRecord record) {
  check_open("plugin '" + record.path + "'");
  plugins_.push_back(std::move(record));
}

namespace {

// Runs a registry factory; for entries from plugins, any exception becomes an lrp::Error that names
// the entry and the plugin (built-in factories throw lrp::Error with their own messages).
template <typename Fn>
auto call_factory(const std::string& what, const std::string& origin, Fn&& fn) -> decltype(fn()) {
  if (origin == "built-in") return fn();
  try {
    return fn();
  } catch (const Error& e) {
    LRP_FAIL(what, " (from ", origin, "): ", e.what());
  } catch (const std::exception& e) {
    LRP_FAIL(what, " (from ", origin, "): its factory threw: ", e.what());
  } catch (...) {
    LRP_FAIL(what, " (from ", origin, "): its factory threw an exception that is not a std::exception");
  }
}

}  // namespace

void Registry::add_rule(RuleInfo info) {
  if (!origin_.empty()) info.origin = origin_;
  check_open("rule '" + info.name + "'");
  insert(rules_, std::move(info), &RuleInfo::name, "rule");
}

void Registry::add_layer(LayerInfo info) {
  if (!origin_.empty()) info.origin = origin_;
  check_open("layer kind '" + info.kind + "'");
  insert(layers_, std::move(info), &LayerInfo::kind, "layer kind");
}

void Registry::add_preset(PresetInfo info) {
  if (!origin_.empty()) info.origin = origin_;
  check_open("preset '" + info.name + "'");
  if (const MethodInfo* m = find(methods_, info.name, &MethodInfo::name))
    LRP_FAIL("registry: the preset '", info.name, "' from ", info.origin, " has the name of a method (from ", m->origin,
             "); a config's explain: entry could not tell them apart");
  insert(presets_, std::move(info), &PresetInfo::name, "preset");
}

void Registry::add_method(MethodInfo info) {
  if (!origin_.empty()) info.origin = origin_;
  check_open("method '" + info.name + "'");
  LRP_CHECK(info.name != "lrp", "registry: the method name 'lrp' (from ", info.origin,
            ") is reserved for layer-wise relevance propagation");
  if (const PresetInfo* p = find(presets_, info.name, &PresetInfo::name))
    LRP_FAIL("registry: the method '", info.name, "' from ", info.origin, " has the name of a preset (from ", p->origin,
             "); a config's explain: entry could not tell them apart");
  insert(methods_, std::move(info), &MethodInfo::name, "method");
}

const RuleInfo& Registry::rule_info(const std::string& name) const {
  return lookup(rules_, name, &RuleInfo::name, "rule");
}
const LayerInfo& Registry::layer_info(const std::string& kind) const {
  return lookup(layers_, kind, &LayerInfo::kind, "layer kind");
}
const PresetInfo& Registry::preset_info(const std::string& name) const {
  return lookup(presets_, name, &PresetInfo::name, "preset");
}
const MethodInfo& Registry::method_info(const std::string& name) const {
  return lookup(methods_, name, &MethodInfo::name, "method");
}
bool Registry::has_layer(const std::string& kind) const { return find(layers_, kind, &LayerInfo::kind) != nullptr; }
bool Registry::has_preset(const std::string& name) const { return find(presets_, name, &PresetInfo::name) != nullptr; }
bool Registry::has_method(const std::string& name) const { return find(methods_, name, &MethodInfo::name) != nullptr; }

RulePtr Registry::make_rule(const std::string& name, const ParamMap& given) const {
  const RuleInfo& info = rule_info(name);
  ParamMap resolved = resolve_params(info.params, given, "rule '" + name + "'");
  RulePtr rule = call_factory("rule '" + name + "'", info.origin, [&] {
    if (info.validate) info.validate(resolved);
    return info.factory(resolved);
  });
  LRP_CHECK(rule != nullptr, "rule '", name, "': its factory returned nothing");
  rule->set_identity(name, std::move(resolved));
  return rule;
}

LayerPtr Registry::make_layer(const std::string& kind, const ParamMap& given) const {
  const LayerInfo& info = layer_info(kind);
  const ParamMap resolved = resolve_params(info.params, given, "layer kind '" + kind + "'");
  LayerPtr layer = call_factory("layer kind '" + kind + "'", info.origin, [&] { return info.factory(resolved); });
  LRP_CHECK(layer != nullptr, "layer kind '", kind, "': its factory returned nothing");
  return layer;
}

Composite Registry::make_preset(const std::string& name, const ParamMap& given) const {
  const PresetInfo& info = preset_info(name);
  const ParamMap resolved = resolve_params(info.params, given, "preset '" + name + "'");
  return call_factory("preset '" + name + "'", info.origin, [&] { return info.factory(resolved); });
}

MethodPtr Registry::make_method(const std::string& name, const ParamMap& given, const MethodSetup& setup) const {
  const MethodInfo& info = method_info(name);
  const ParamMap resolved = resolve_params(info.params, given, "method '" + name + "'");
  MethodSetup named = setup;  // messages name the method by its registry name unless the caller says otherwise
  if (named.what.empty()) named.what = "method '" + name + "'";
  MethodPtr method = call_factory("method '" + name + "'", info.origin, [&] { return info.factory(resolved, named); });
  LRP_CHECK(method != nullptr, "method '", name, "': its factory returned nothing");
  return method;
}

void set_from_input(ParamMap& params, const std::string& key, Index value, const std::string& owner) {
  if (!params.has(key)) {
    params.set(key, static_cast<double>(value));
    return;
  }
  const double given = params.scalar(key, owner);
  LRP_CHECK(given == static_cast<double>(value), owner, ": '", key, "' is ", given, " but the input to this layer has ",
            value, " (from the shape chain)");
}

std::string describe_params(const std::vector<ParamSpec>& params) {
  std::string out;
  for (const ParamSpec& p : params) {
    out += (out.empty() ? "" : ", ") + p.name + "=" + (p.default_value.empty() ? "<required>" : format_value(p.default_value));
  }
  return out;
}

void register_builtins(Registry& registry) {
  register_builtin_rules(registry);
  register_builtin_layers(registry);
  register_builtin_presets(registry);
  register_builtin_methods(registry);
}

}  // namespace lrp
