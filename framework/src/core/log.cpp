#include "lrp/core/log.hpp"

#include <spdlog/sinks/stdout_color_sinks.h>

namespace lrp {

std::shared_ptr<spdlog::logger> logger() {
  static std::shared_ptr<spdlog::logger> instance = [] {
    std::shared_ptr<spdlog::logger> existing = spdlog::get("lrp");
    return existing ? existing : spdlog::stderr_color_mt("lrp");
  }();
  return instance;
}

}  // namespace lrp
