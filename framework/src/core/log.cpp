#include "lrp/core/log.hpp"

#include "lrp/core/progress.hpp"

#include <spdlog/details/null_mutex.h>
#include <spdlog/sinks/base_sink.h>
#include <spdlog/sinks/stdout_color_sinks.h>

#include <cstdio>

namespace lrp {

namespace {

// The logger's first sink: a message that comes while a progress line is redrawn on the terminal
// (lrp/core/progress.hpp) erases that line first, so the message starts at the left edge; the
// progress line comes back at its next redraw.
class ClearProgressLine final : public spdlog::sinks::base_sink<spdlog::details::null_mutex> {
 protected:
  void sink_it_(const spdlog::details::log_msg&) override {
    if (detail::take_terminal_line()) std::fputs("\r\033[K", stderr);
  }
  void flush_() override {}
};

}  // namespace

std::shared_ptr<spdlog::logger> logger() {
  static std::shared_ptr<spdlog::logger> instance = [] {
    std::shared_ptr<spdlog::logger> existing = spdlog::get("lrp");
    if (existing) return existing;
    std::shared_ptr<spdlog::logger> created = spdlog::stderr_color_mt("lrp");
    created->sinks().insert(created->sinks().begin(), std::make_shared<ClearProgressLine>());
    return created;
  }();
  return instance;
}

}  // namespace lrp
