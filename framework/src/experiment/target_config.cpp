// Reading `target:` (experiment.hpp, read_target; docs/config.md, Several targets per sample).
#include "lrp/core/error.hpp"
#include "lrp/experiment/experiment.hpp"
#include "lrp/io/yaml_util.hpp"

#include <algorithm>
#include <string>

namespace lrp {

using namespace yaml;

TargetSetSpec read_target(const YAML::Node& target, const std::string& src) {
  const std::string at = where(target, src);
  const char* forms = "predicted, label, a class index (0, 1, ...), a list of class indices ([3, 5]), all, or {top_k: k}";
  TargetSetSpec spec;
  if (target.IsSequence()) {
    LRP_CHECK(target.size() > 0, at, ": target: the list of classes is empty; expected one or more class indices");
    spec.kind = TargetSetSpec::Kind::kClasses;
    for (std::size_t i = 0; i < target.size(); ++i) {
      const Index c = whole(target[i], src, "target[" + std::to_string(i) + "]", 0);
      LRP_CHECK(std::find(spec.classes.begin(), spec.classes.end(), c) == spec.classes.end(), where(target[i], src),
                ": target: class ", c, " is listed twice");
      spec.classes.push_back(c);
    }
    return spec;
  }
  if (target.IsMap()) {
    for (const auto& entry : target) {
      const std::string key = entry.first.as<std::string>();
      LRP_CHECK(key == "top_k", where(entry.first, src), ": target: unknown key '", key, "'; expected ", forms);
    }
    LRP_CHECK(target["top_k"], at, ": target: expected ", forms);
    spec.kind = TargetSetSpec::Kind::kTopK;
    spec.k = whole(target["top_k"], src, "target.top_k", 1);
    return spec;
  }
  const std::string t = string(target, src, "target");
  if (t == "predicted") return spec;
  if (t == "label") {
    spec.one = TargetSpec::label();
    return spec;
  }
  if (t == "all") {
    spec.kind = TargetSetSpec::Kind::kAll;
    return spec;
  }
  LRP_CHECK(!t.empty() && t.find_first_not_of("0123456789") == std::string::npos, at, ": target must be ", forms,
            ", got '", t, "'");
  spec.one = TargetSpec::fixed(whole(target, src, "target", 0));
  return spec;
}

}  // namespace lrp
