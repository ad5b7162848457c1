#include "lrp/core/params.hpp"

#include "lrp/core/error.hpp"

#include <algorithm>
#include <cmath>
#include <sstream>

namespace lrp {

const ParamValue& ParamMap::get(const std::string& name, const std::string& owner) const {
  auto it = values_.find(name);
  LRP_CHECK(it != values_.end(), owner, ": parameter '", name, "' is missing");
  return it->second;
}

double ParamMap::scalar(const std::string& name, const std::string& owner) const {
  const ParamValue& v = get(name, owner);
  LRP_CHECK(v.size() == 1, owner, ": parameter '", name, "' must be a single number, got ", format_value(v));
  return v[0];
}

std::string format_value(const ParamValue& value) {
  std::ostringstream s;
  s.precision(10);
  if (value.size() == 1) {
    s << value[0];
    return s.str();
  }
  s << '[';
  for (size_t i = 0; i < value.size(); ++i) s << (i ? ", " : "") << value[i];
  s << ']';
  return s.str();
}

std::string ParamMap::to_string() const {
  std::string out;
  for (const auto& [name, value] : values_) out += (out.empty() ? "" : ", ") + name + "=" + format_value(value);
  return out;
}

std::string closest_name(const std::string& name, const std::vector<std::string>& known) {
  std::string best;
  size_t best_distance = std::max<size_t>(2, name.size() / 3) + 1;
  for (const std::string& candidate : known) {
    // Levenshtein distance with one rolling row.
    std::vector<size_t> row(candidate.size() + 1);
    for (size_t j = 0; j <= candidate.size(); ++j) row[j] = j;
    for (size_t i = 1; i <= name.size(); ++i) {
      size_t diagonal = row[0];
      row[0] = i;
      for (size_t j = 1; j <= candidate.size(); ++j) {
        const size_t up = row[j];
        row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (name[i - 1] == candidate[j - 1] ? 0 : 1)});
        diagonal = up;
      }
    }
    if (row[candidate.size()] < best_distance) {
      best_distance = row[candidate.size()];
      best = candidate;
    }
  }
  return best;
}

ParamMap resolve_params(const std::vector<ParamSpec>& specs, const ParamMap& given, const std::string& owner) {
  std::vector<std::string> known;
  for (const ParamSpec& s : specs) known.push_back(s.name);
  for (const auto& [name, value] : given.values()) {
    if (std::find(known.begin(), known.end(), name) == known.end()) {
      std::string list;
      for (const std::string& k : known) list += (list.empty() ? "" : ", ") + k;
      const std::string hint = closest_name(name, known);
      LRP_FAIL(owner, ": unknown parameter '", name, "'", hint.empty() ? "" : " (did you mean '" + hint + "'?)",
               "; known parameters: ", list.empty() ? "none" : list);
    }
  }
  ParamMap resolved;
  for (const ParamSpec& s : specs) {
    ParamValue value = given.has(s.name) ? given.get(s.name, owner) : s.default_value;
    LRP_CHECK(!value.empty(), owner, ": parameter '", s.name, "' is required (", s.doc, ")");
    LRP_CHECK(s.per_channel || value.size() == 1, owner, ": parameter '", s.name,
              "' must be a single number, got ", format_value(value));
    for (double v : value) {
      LRP_CHECK(std::isfinite(v), owner, ": parameter '", s.name, "' must be finite, got ", format_value(value));
      LRP_CHECK(v >= s.minimum, owner, ": parameter '", s.name, "' must be ≥ ", s.minimum, ", got ", format_value(value));
    }
    resolved.set(s.name, std::move(value));
  }
  return resolved;
}

}  // namespace lrp
