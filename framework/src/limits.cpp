// Limits and checked size arithmetic (see limits.hpp).
#include "lrp/limits.hpp"

#include "lrp/error.hpp"

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <limits>

namespace lrp {

std::uint64_t default_memory_limit() {
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
