// Progress of a long stage (lrp/core/progress.hpp).
#include "lrp/core/progress.hpp"

#include "lrp/core/log.hpp"

#include <sys/ioctl.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <algorithm>
#include <exception>

namespace lrp {

namespace {

ProgressSettings from_environment() {
  ProgressSettings s;
  s.terminal = isatty(fileno(stderr)) != 0;
  if (const char* on = std::getenv("LRP_PROGRESS")) {
    for (const char* off : {"0", "off", "false", "no"})
      if (std::strcmp(on, off) == 0) s.enabled = false;
  }
  if (const char* interval = std::getenv("LRP_PROGRESS_INTERVAL")) {
    char* end = nullptr;
    const double v = std::strtod(interval, &end);
    if (end != interval && std::isfinite(v) && v > 0) s.log_seconds = v;
    else logger()->warn("LRP_PROGRESS_INTERVAL='{}' is not a positive number of seconds; using {} s", interval, s.log_seconds);
  }
  return s;
}

double steady_seconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

thread_local Progress* current = nullptr;
std::atomic<bool> terminal_line{false};  // a redrawn line is on stderr (detail::take_terminal_line)

}  // namespace

ProgressSettings& progress_settings() {
  static ProgressSettings settings = from_environment();
  return settings;
}

Progress::Progress(std::string name, std::int64_t total, std::string unit)
    : Progress(std::move(name), total, std::move(unit), progress_settings()) {}

Progress::Progress(std::string name, std::int64_t total, std::string unit, ProgressSettings settings)
    : settings_(std::move(settings)), name_(std::move(name)), unit_(std::move(unit)),
      exceptions_(std::uncaught_exceptions()), total_(total) {
  // The default sink writes log lines at info: a logger that hides them hides the progress too.
  if (!settings_.sink && !logger()->should_log(spdlog::level::info)) settings_.enabled = false;
  interval_ = settings_.terminal ? settings_.redraw_seconds : settings_.log_seconds;
  start_ = now();
  next_.store(start_ + interval_, std::memory_order_relaxed);
}

Progress::~Progress() {
  try {
    if (std::uncaught_exceptions() > exceptions_) {  // the stage failed: no final line, just clear
      finished_ = true;
      if (settings_.enabled && shown_.load()) emit(ProgressEvent::kClear, "");
      return;
    }
    finish();
  } catch (...) {  // a sink that throws must not end the program
  }
}

double Progress::now() const { return settings_.clock ? settings_.clock() : steady_seconds(); }

std::string Progress::label() const {
  std::string text = name_;
  if (const char* detail = detail_.load(std::memory_order_relaxed)) text.append(" ").append(detail);
  return text.append(settings_.suffix);
}

void Progress::emit(ProgressEvent event, const std::string& text) const {
  if (settings_.sink) {
    settings_.sink(event, text);
    return;
  }
  switch (event) {
    case ProgressEvent::kRedraw: {
      // Fit to the terminal's width (a line that wraps cannot be redrawn in place): the name is
      // shortened first, so the counts, the rate and the ETA stay.
      winsize size{};
      const bool known = ioctl(fileno(stderr), TIOCGWINSZ, &size) == 0 && size.ws_col > 1;
      const std::size_t width = known ? static_cast<std::size_t>(size.ws_col) - 1 : text.size();
      std::string shown = text;
      const std::size_t counts = shown.find("  ", 2);  // "  name  counts..."
      if (shown.size() > width && counts != std::string::npos && shown.size() - counts + 8 <= width) {
        const std::size_t room = width - (shown.size() - counts) - 3, head = room / 2;  // the name's middle goes
        shown = shown.substr(0, head) + "..." + shown.substr(counts - (room - head));
      }
      std::fprintf(stderr, "\r%.*s\033[K", static_cast<int>(std::min(width, shown.size())), shown.c_str());
      terminal_line.store(true);
      break;
    }
    case ProgressEvent::kClear:
      std::fprintf(stderr, "\r\033[K");
      terminal_line.store(false);
      break;
    case ProgressEvent::kLog:
    case ProgressEvent::kFinal: logger()->info("{}", text); break;
  }
  std::fflush(stderr);
}

void Progress::report(double t) {
  if (printing_.exchange(true, std::memory_order_acquire)) return;  // another thread is printing
  try {
    const std::string text = format(label(), done(), total(), unit_, t - start_, false);
    emit(settings_.terminal ? ProgressEvent::kRedraw : ProgressEvent::kLog, text);
    if (settings_.terminal) shown_.store(true);
  } catch (...) {  // a progress display never stops the work (advance() runs inside OpenMP regions)
  }
  printing_.store(false, std::memory_order_release);
}

void Progress::finish() {
  if (finished_) return;
  finished_ = true;
  if (!settings_.enabled) return;
  const double seconds = elapsed();
  if (settings_.terminal && shown_.load()) emit(ProgressEvent::kClear, "");
  if (seconds >= settings_.min_seconds) emit(ProgressEvent::kFinal, format(label(), done(), total(), unit_, seconds, true));
}

std::string Progress::format_seconds(double seconds) {
  char buf[48];
  const auto s = static_cast<long long>(std::llround(std::max(0.0, seconds)));
  if (seconds < 10 && seconds >= 0)
    std::snprintf(buf, sizeof buf, "%.1f s", seconds);
  else if (s < 60)
    std::snprintf(buf, sizeof buf, "%lld s", s);
  else if (s < 3600)
    std::snprintf(buf, sizeof buf, "%lld min %02lld s", s / 60, s % 60);
  else
    std::snprintf(buf, sizeof buf, "%lld h %02lld min", s / 3600, (s % 3600) / 60);
  return buf;
}

std::string Progress::format_rate(double per_second) {
  char buf[48];
  if (!std::isfinite(per_second)) return "?";
  if (per_second >= 100)
    std::snprintf(buf, sizeof buf, "%.0f", per_second);
  else if (per_second >= 10)
    std::snprintf(buf, sizeof buf, "%.1f", per_second);
  else
    std::snprintf(buf, sizeof buf, "%.2f", per_second);
  return buf;
}

std::string Progress::format(const std::string& name, std::int64_t done, std::int64_t total, const std::string& unit,
                             double elapsed, bool finished) {
  const double rate = elapsed > 0 ? static_cast<double>(done) / elapsed : 0.0;
  // Appended piece by piece: GCC 12 warns (-Wrestrict, falsely) about chains of string operator+.
  std::string text;
  text.reserve(name.size() + unit.size() + 64);
  text.append("  ").append(name).append("  ").append(std::to_string(done));
  if (finished) {
    text.append(" ").append(unit).append(" in ").append(format_seconds(elapsed));
    if (elapsed > 0) text.append("  ").append(format_rate(rate)).append("/s");
    return text;
  }
  if (total > 0) text.append("/").append(std::to_string(total));
  text.append(" ").append(unit).append("  ").append(format_rate(rate)).append("/s");
  if (total > 0) {
    text.append("  ETA ");
    if (done >= total)
      text.append("0 s");
    else if (rate > 0)
      text.append(format_seconds(static_cast<double>(total - done) / rate));
    else
      text.append("?");
  }
  return text;
}

bool detail::take_terminal_line() { return terminal_line.exchange(false); }

Progress* current_progress() { return current; }

ProgressScope::ProgressScope(Progress* progress) : previous_(current) { current = progress; }
ProgressScope::~ProgressScope() { current = previous_; }

}  // namespace lrp
