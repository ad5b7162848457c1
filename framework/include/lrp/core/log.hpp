// The library's logger: spdlog, named "lrp", writing to stderr (the library never writes to stdout).
#pragma once

#include <spdlog/spdlog.h>

#include <memory>

namespace lrp {

std::shared_ptr<spdlog::logger> logger();

}  // namespace lrp
