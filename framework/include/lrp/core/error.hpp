// lrp::Error and LRP_CHECK: the one way lrplab reports user, config and data errors.
#pragma once

#include <sstream>
#include <stdexcept>
#include <string>

namespace lrp {

// Thrown for every error a user can cause (bad shapes, unknown names, invalid parameters,
// non-finite data). The message says what was wrong, where, and what was expected.
class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& message) : std::runtime_error(message) {}
};

namespace detail {
template <typename... Parts>
std::string concat(const Parts&... parts) {
  std::ostringstream out;
  (out << ... << parts);
  return out.str();
}
}  // namespace detail

}  // namespace lrp

// Always on (also in release builds): user errors are not internal invariants.
#define LRP_CHECK(cond, ...)                                        \
  do {                                                              \
    if (!(cond)) throw ::lrp::Error(::lrp::detail::concat(__VA_ARGS__)); \
  } while (false)

#define LRP_FAIL(...) throw ::lrp::Error(::lrp::detail::concat(__VA_ARGS__))
