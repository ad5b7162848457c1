#include "lrp/propagation/composite.hpp"

#include "lrp/core/error.hpp"
#include "lrp/nn/network.hpp"
#include "lrp/registry/registry.hpp"

#include <algorithm>

namespace lrp {
namespace {
// first/last without kinds: among the linear-like layers (docs/rules.md, Composites and Presets); with kinds: among those.
bool edge_candidate(const Layer& layer, const std::vector<std::string>& kinds) {
  if (kinds.empty()) return layer.traits().linear;
  return std::find(kinds.begin(), kinds.end(), layer.kind()) != kinds.end();
}
}  // namespace

Composite& Composite::by_name(const std::string& layer_name, RuleChoice choice) {
  names_[layer_name] = std::move(choice);
  return *this;
}
Composite& Composite::by_index(long index, RuleChoice choice) {
  indices_[index] = std::move(choice);
  return *this;
}
Composite& Composite::first(RuleChoice choice, std::vector<std::string> kinds) {
  first_ = Edge{std::move(choice), std::move(kinds)};
  return *this;
}
Composite& Composite::last(RuleChoice choice, std::vector<std::string> kinds) {
  last_ = Edge{std::move(choice), std::move(kinds)};
  return *this;
}
Composite& Composite::by_kind(const std::string& kind, RuleChoice choice) {
  kinds_[kind] = std::move(choice);
  return *this;
}
Composite& Composite::fallback(RuleChoice choice) {
  fallback_ = std::move(choice);
  return *this;
}

Composite Composite::uniform(RuleChoice choice) { return Composite().fallback(std::move(choice)); }

std::vector<RuleAssignment> Composite::assign(const Network& network, const Registry& registry) const {
  const Index count = network.size();
  // Validate what the composite names before matching, so that a typo is an error, not a no-op.
  for (const auto& [name, choice] : names_) network.index_of(name);
  for (const auto& [index, choice] : indices_)
    LRP_CHECK(index >= -count && index < count, "composite: layer index ", index, " is out of range (the network has ",
              count, " layers)");
  for (const auto& [kind, choice] : kinds_) registry.layer_info(kind);
  for (const auto* edge : {&first_, &last_})
    if (*edge)
      for (const std::string& kind : (*edge)->kinds) registry.layer_info(kind);

  Index first_index = -1, last_index = -1;
  for (Index i = 0; i < count; ++i) {
    const Layer& layer = network.layer(i);
    if (first_ && first_index < 0 && edge_candidate(layer, first_->kinds)) first_index = i;
    if (last_ && edge_candidate(layer, last_->kinds)) last_index = i;
  }

  std::vector<RuleAssignment> out;
  for (Index i = 0; i < count; ++i) {
    const Layer& layer = network.layer(i);
    RuleAssignment a;
    if (auto it = names_.find(layer.name()); it != names_.end()) {
      a = {it->second, "name"};
    } else if (auto it2 = indices_.find(i); it2 != indices_.end()) {
      a = {it2->second, "index"};
    } else if (auto it3 = indices_.find(i - count); it3 != indices_.end()) {
      a = {it3->second, "index"};
    } else if (i == first_index) {
      a = {first_->choice, "first"};
    } else if (i == last_index) {
      a = {last_->choice, "last"};
    } else if (auto it4 = kinds_.find(layer.kind()); it4 != kinds_.end()) {
      a = {it4->second, "kind"};
    } else if (registry.has_layer(layer.kind()) && !registry.layer_info(layer.kind()).default_rule.empty()) {
      a = {registry.layer_info(layer.kind()).default_rule, "layer default"};
    } else if (fallback_ && layer.traits().linear) {
      a = {*fallback_, "fallback"};
    } else {
      LRP_FAIL("composite: layer ", i, " '", layer.name(), "' (", layer.kind(),
               ") gets no rule; assign one by name, index, first/last, kind, or a fallback for linear layers");
    }
    out.push_back(std::move(a));
  }
  return out;
}

}  // namespace lrp
