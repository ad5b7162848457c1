// Composites: which rule each layer of a network gets (docs/rules.md, Composites and Presets).
//
// Matching, in priority order: layer name, layer index, first / last (of the linear-like layers,
// or of the kinds given), layer kind, the layer kind's default (docs/rules.md, Default rules of the other layers: pass for
// activations, winner-take-all for max pooling, norm for average pooling), then the composite's
// fallback for linear-like layers.
#pragma once

#include "lrp/core/params.hpp"

#include <map>
#include <optional>
#include <string>
#include <vector>

namespace lrp {

class Network;
class Registry;

struct RuleChoice {
  std::string rule;  // registry name
  ParamMap params;
  bool empty() const { return rule.empty(); }
};

struct RuleAssignment {
  RuleChoice choice;
  std::string matched_by;  // "name", "index", "first", "last", "kind", "layer default", "fallback"
};

class Composite {
 public:
  Composite& by_name(const std::string& layer_name, RuleChoice choice);
  // Negative indices count from the end (-1 is the last layer).
  Composite& by_index(long index, RuleChoice choice);
  // The first / last layer whose kind is in `kinds` (default: the first / last linear-like layer,
  // which includes average pooling; the presets name their kinds).
  Composite& first(RuleChoice choice, std::vector<std::string> kinds = {});
  Composite& last(RuleChoice choice, std::vector<std::string> kinds = {});
  Composite& by_kind(const std::string& kind, RuleChoice choice);
  // For linear-like layers that nothing else matched and whose kind has no default (average
  // pooling keeps `norm`; name its kind to override).
  Composite& fallback(RuleChoice choice);

  // One assignment per layer. Throws lrp::Error naming the layer when a layer has no rule, when a
  // name, index or kind in the composite matches no layer, or when a kind is unknown.
  std::vector<RuleAssignment> assign(const Network& network, const Registry& registry) const;

  // A composite that gives `rule` to every dense and conv layer (more exactly: every linear-like
  // layer without a kind default); every other layer keeps its kind's default.
  static Composite uniform(RuleChoice choice);

 private:
  struct Edge {
    RuleChoice choice;
    std::vector<std::string> kinds;
  };
  std::map<std::string, RuleChoice> names_;
  std::map<long, RuleChoice> indices_;
  std::optional<Edge> first_, last_;
  std::map<std::string, RuleChoice> kinds_;
  std::optional<RuleChoice> fallback_;
};

}  // namespace lrp
