// Progress of a long stage: "  pixel flipping MoRF/LeRF lrp.z  412/1000 samples  37.2/s  ETA 16 s".
//
//   Progress p("explain", total, "samples");
//   ... p.advance(n) from any thread (OpenMP workers included) ...
//   p.finish();  // or let the destructor do it
//
// On a terminal the line is redrawn in place (\r) at most every redraw_seconds; otherwise (stderr
// is a file or a pipe) a plain log line is written every log_seconds. When the stage is over, one
// final line gives its time and rate, but only if it took at least min_seconds: a stage under a
// second leaves nothing behind. Only one thread prints at a time; advance() itself is an atomic add
// and a clock read (no allocation, no lock) unless it is time to print.
//
// The process-wide defaults (progress_settings()) come from the environment at first use:
//   LRP_PROGRESS=0 (or off, false, no)   silence every progress display
//   LRP_PROGRESS_INTERVAL=SECONDS        seconds between log lines when stderr is not a terminal
// lrplab silences them on MPI ranks other than 0; rank 0 reports its own share of the work.
//
// A loop deep in the library that knows its per-sample structure (a metric's perturbed forward
// passes, pixel flipping's curves) advances the *current* progress of the thread that called it
// (current_progress(), set by a ProgressScope), so the stages need not pass it down every call.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <string>

namespace lrp {

// What a sink is given: a terminal redraw of the one line, a request to clear that line, a
// periodic log line, or the final line of a stage.
enum class ProgressEvent { kRedraw, kClear, kLog, kFinal };

struct ProgressSettings {
  bool enabled = true;          // false: a Progress counts but prints nothing
  bool terminal = false;        // redraw one line in place (true) or write plain log lines
  double redraw_seconds = 0.2;  // terminal: at most one redraw per this many seconds
  double log_seconds = 10;      // not a terminal: one log line per this many seconds
  double min_seconds = 1;       // the final line only for stages that took at least this long
  std::string suffix;           // appended to every name, e.g. " [rank 0 of 4]"
  // Monotonic seconds (tests pass a fake clock); null: std::chrono::steady_clock.
  std::function<double()> clock;
  // Where the text goes; null: stderr (kRedraw, kClear) and the "lrp" logger at info (kLog,
  // kFinal), and nothing at all when the logger does not print info.
  std::function<void(ProgressEvent, const std::string&)> sink;
};

// The defaults every new Progress copies (set them before work starts, not during it): enabled
// unless LRP_PROGRESS says otherwise, terminal when stderr is one, log_seconds from
// LRP_PROGRESS_INTERVAL.
ProgressSettings& progress_settings();

class Progress {
 public:
  // `total`: the units the stage will do (0: unknown; no ETA then); `unit`: what they are.
  Progress(std::string name, std::int64_t total, std::string unit);
  Progress(std::string name, std::int64_t total, std::string unit, ProgressSettings settings);
  ~Progress();
  Progress(const Progress&) = delete;
  Progress& operator=(const Progress&) = delete;

  // `n` more units done; safe from any number of threads at once.
  void advance(std::int64_t n = 1) {
    done_.fetch_add(n, std::memory_order_relaxed);
    if (!settings_.enabled) return;
    const double t = now();
    double next = next_.load(std::memory_order_relaxed);
    if (t < next) return;
    if (next_.compare_exchange_strong(next, t + interval_, std::memory_order_relaxed)) report(t);
  }
  // The stage turned out to have `n` more units to do (thread-safe).
  void add_total(std::int64_t n) { total_.fetch_add(n, std::memory_order_relaxed); }
  // What the stage is doing now, shown after the name (e.g. the method): a string that outlives
  // this Progress (or until the next call); null: nothing. Thread-safe.
  void set_detail(const char* detail) { detail_.store(detail, std::memory_order_relaxed); }
  // The final line (stages of at least min_seconds) or the terminal line cleared; once. The
  // destructor calls it (and only clears the line while an exception is unwinding the stage).
  void finish();

  std::int64_t done() const { return done_.load(std::memory_order_relaxed); }
  std::int64_t total() const { return total_.load(std::memory_order_relaxed); }
  double elapsed() const { return now() - start_; }

  // The text of a progress line: running ("  name  412/1000 samples  37.2/s  ETA 16 s") or final
  // ("  name  1000 samples in 26.9 s  37.2/s").
  static std::string format(const std::string& name, std::int64_t done, std::int64_t total, const std::string& unit,
                            double elapsed, bool finished);
  static std::string format_seconds(double seconds);  // "16 s", "3 min 05 s", "2 h 07 min"
  static std::string format_rate(double per_second);  // "37.2", "412", "0.53"

 private:
  double now() const;
  std::string label() const;
  void report(double t);  // prints one line unless another thread is printing
  void emit(ProgressEvent event, const std::string& text) const;

  ProgressSettings settings_;
  std::string name_, unit_;
  double start_ = 0, interval_ = 1;
  int exceptions_ = 0;  // std::uncaught_exceptions() when the stage began
  std::atomic<std::int64_t> done_{0}, total_{0};
  std::atomic<double> next_{0};
  std::atomic<bool> printing_{false}, shown_{false};
  std::atomic<const char*> detail_{nullptr};
  bool finished_ = false;
};

namespace detail {
// Whether a progress line is on the terminal now (stderr, the default sink); false afterwards. The
// logger calls it to clear that line before it writes a message (lrp/core/log.hpp).
bool take_terminal_line();
}  // namespace detail

// The progress that library loops of this thread advance (null: none).
Progress* current_progress();

// Makes `progress` the thread's current progress until the scope ends (then the previous one).
class ProgressScope {
 public:
  explicit ProgressScope(Progress* progress);
  ~ProgressScope();
  ProgressScope(const ProgressScope&) = delete;
  ProgressScope& operator=(const ProgressScope&) = delete;

 private:
  Progress* previous_ = nullptr;
};

}  // namespace lrp
