// Named numeric parameters of rules, layers and presets: every value is a list of numbers (a
// scalar is a list of one), so that per-channel bounds like zbox's low/high fit the same type.
#pragma once

#include <limits>
#include <map>
#include <string>
#include <vector>

namespace lrp {

using ParamValue = std::vector<double>;

class ParamMap {
 public:
  ParamMap() = default;
  ParamMap(std::initializer_list<std::pair<const std::string, ParamValue>> values) : values_(values) {}

  void set(const std::string& name, ParamValue value) { values_[name] = std::move(value); }
  void set(const std::string& name, double value) { values_[name] = {value}; }
  bool has(const std::string& name) const { return values_.count(name) > 0; }
  // The value of `name`; `owner` names the rule/layer in the error when it is missing.
  const ParamValue& get(const std::string& name, const std::string& owner) const;
  // The single value of `name`; an error when it is missing or not a scalar.
  double scalar(const std::string& name, const std::string& owner) const;
  const std::map<std::string, ParamValue>& values() const { return values_; }
  // "name=value, name=[v1, v2]" in name order (empty string when there are none).
  std::string to_string() const;

 private:
  std::map<std::string, ParamValue> values_;
};

// Declared parameter of a rule, layer kind or preset, as shown by `lrplab list`.
struct ParamSpec {
  std::string name;
  ParamValue default_value;  // empty: required
  std::string doc;
  bool per_channel = false;  // may be a list (one value per input channel)
  double minimum = -std::numeric_limits<double>::infinity();  // every value must be ≥ this
};

// A scalar parameter that must be ≥ 0 (stabilizers, ε, γ, α, β).
inline ParamSpec non_negative(std::string name, double default_value, std::string doc) {
  return {std::move(name), {default_value}, std::move(doc), false, 0.0};
}
// The `stabilizer` parameter every rule but epsilon has (docs/rules.md, Notation and conventions), default 1e-6.
inline ParamSpec stabilizer_param() { return non_negative("stabilizer", 1e-6, "denominator stabilizer (≥ 0)"); }

// Checks the given names against the declared ones (an unknown name is an error that lists the
// known ones, with the closest as a suggestion), fills in defaults, and rejects a missing required
// value, a list where a scalar is expected, and values that are not finite or below the minimum. `owner` is e.g. "rule 'gamma'".
ParamMap resolve_params(const std::vector<ParamSpec>& specs, const ParamMap& given, const std::string& owner);

// The known name closest to `name` (Levenshtein distance), or "" when none is close.
std::string closest_name(const std::string& name, const std::vector<std::string>& known);

std::string format_value(const ParamValue& value);

}  // namespace lrp
