// Limits and checked size arithmetic (see limits.hpp).
#include "lrp/core/limits.hpp"

#include "lrp/core/error.hpp"

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <string>
#include <cstdio>
#include <limits>

namespace lrp {

std::optional<std::uint64_t> parse_size(const std::string& text) {
  std::size_t end = 0;
  double value = 0;
  try {
    value = std::stod(text, &end);
  } catch (const std::exception&) {
    return std::nullopt;
  }
  std::string unit = text.substr(end);
  unit.erase(0, unit.find_first_not_of(' '));
  static const std::pair<const char*, double> kUnits[] = {
      {"", 1},          {"B", 1},           {"KB", 1e3},          {"MB", 1e6},             {"GB", 1e9},
      {"TB", 1e12},     {"KiB", 1024.0},    {"MiB", 1048576.0},   {"GiB", 1073741824.0},   {"TiB", 1099511627776.0}};
  for (const auto& [name, factor] : kUnits) {
    if (unit != name) continue;
    const double bytes = value * factor;
    if (!(std::isfinite(bytes) && bytes >= 1048576.0 && bytes < 1.8e19)) return std::nullopt;
    return static_cast<std::uint64_t>(bytes);
  }
  return std::nullopt;
}

std::uint64_t default_memory_limit() {
  if (const char* text = std::getenv("LRPLAB_MEMORY_LIMIT"); text != nullptr) {
    const std::optional<std::uint64_t> bytes = parse_size(text);
    LRP_CHECK(bytes.has_value(), "LRPLAB_MEMORY_LIMIT='", text,
              "' is not a size of at least 1 MiB (a number of bytes, or e.g. 16GiB, 512MB)");
    return *bytes;
  }
  constexpr std::uint64_t kCap = std::uint64_t{16} << 30;
  const long pages = ::sysconf(_SC_PHYS_PAGES), page = ::sysconf(_SC_PAGESIZE);
  if (pages <= 0 || page <= 0) return kCap;
  const std::uint64_t physical = saturating_mul(static_cast<std::uint64_t>(pages), static_cast<std::uint64_t>(page));
  return std::min(kCap, physical / 4 * 3);
}

Limits::Limits() : memory(default_memory_limit()) {}

std::string format_bytes(std::uint64_t bytes) {
  static const char* const kUnits[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
  if (bytes == std::numeric_limits<std::uint64_t>::max()) return "more than 16 EiB";
  double value = static_cast<double>(bytes);
  int unit = 0;
  while (value >= 1024.0 && unit < 6) {
    value /= 1024.0;
    ++unit;
  }
  char text[32];
  if (unit == 0)
    std::snprintf(text, sizeof text, "%llu B", static_cast<unsigned long long>(bytes));
  else
    std::snprintf(text, sizeof text, value < 10 ? "%.1f %s" : "%.0f %s", value, kUnits[unit]);
  return text;
}

std::uint64_t saturating_mul(std::uint64_t a, std::uint64_t b) {
  if (a != 0 && b > std::numeric_limits<std::uint64_t>::max() / a) return std::numeric_limits<std::uint64_t>::max();
  return a * b;
}

std::uint64_t saturating_add(std::uint64_t a, std::uint64_t b) {
  return b > std::numeric_limits<std::uint64_t>::max() - a ? std::numeric_limits<std::uint64_t>::max() : a + b;
}

Index checked_numel(const Shape& shape, const std::string& what) {
  LRP_CHECK(!shape.empty(), what, ": the shape is empty; expected at least one dimension");
  constexpr std::uint64_t kMax = std::uint64_t{1} << 62;
  std::uint64_t n = 1;
  for (const Index d : shape) {
    LRP_CHECK(d >= 1, what, ": the shape ", to_string(shape), " has an extent < 1");
    n = saturating_mul(n, static_cast<std::uint64_t>(d));
    LRP_CHECK(n < kMax, what, ": the shape ", to_string(shape), " has more than 2^62 elements");
  }
  return static_cast<Index>(n);
}

void check_memory(std::uint64_t bytes, const Limits& limits, const std::string& what, const std::string& key) {
  LRP_CHECK(bytes <= limits.memory, what, " needs about ", format_bytes(bytes), " of memory, more than the limit of ",
            format_bytes(limits.memory), " (", key, ")");
}

}  // namespace lrp
