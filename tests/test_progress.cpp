// The progress reporter (lrp/core/progress.hpp) on a fake clock and a capturing sink: its rate and
// ETA, the throttling of terminal redraws, the periodic plain lines when stderr is not a terminal,
// the final line only for stages of a second or more, silence, exact counts from many threads; and
// a real run (the committed CNN on Fashion-MNIST images, pixel flipping on) naming its stages.
#include "experiment_support.hpp"
#include "temp_dir.hpp"
#include "test_util.hpp"

#include "lrp/core/progress.hpp"
#include "lrp/experiment/experiment.hpp"

#include <catch2/catch.hpp>

#include <fstream>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

using namespace lrp_test;
using Catch::Matchers::Contains;
using lrp::Progress;
using lrp::ProgressEvent;
using lrp::ProgressSettings;

namespace {

// A fake clock and the events a Progress sends, in order.
struct Capture {
  double now = 0;
  std::vector<std::pair<ProgressEvent, std::string>> events;
  std::mutex mutex;

  ProgressSettings settings(bool terminal) {
    ProgressSettings s;
    s.terminal = terminal;
    s.redraw_seconds = 0.2;
    s.log_seconds = 10;
    s.min_seconds = 1;
    s.clock = [this] { return now; };
    s.sink = [this](ProgressEvent e, const std::string& text) {
      const std::lock_guard<std::mutex> lock(mutex);
      events.emplace_back(e, text);
    };
    return s;
  }
  std::size_t count(ProgressEvent e) const {
    std::size_t n = 0;
    for (const auto& [event, text] : events) n += event == e ? 1 : 0;
    return n;
  }
};

}  // namespace

TEST_CASE("progress lines give the rate and the ETA from the counts and the elapsed time", "[progress]") {
  CHECK(Progress::format("pixel flipping MoRF/LeRF lrp.z", 412, 1000, "samples", 10.0, false) ==
        "  pixel flipping MoRF/LeRF lrp.z  412/1000 samples  41.2/s  ETA 14 s");
  CHECK(Progress::format("explain", 250, 1000, "passes", 2.0, false) == "  explain  250/1000 passes  125/s  ETA 6.0 s");
  CHECK(Progress::format("x", 0, 10, "samples", 3.0, false) == "  x  0/10 samples  0.00/s  ETA ?");
  CHECK(Progress::format("x", 30, 0, "samples", 3.0, false) == "  x  30 samples  10.0/s");  // no total: no ETA
  CHECK(Progress::format("x", 1000, 1000, "samples", 26.9, true) == "  x  1000 samples in 27 s  37.2/s");
  CHECK(Progress::format_seconds(125) == "2 min 05 s");
  CHECK(Progress::format_seconds(7500) == "2 h 05 min");
  CHECK(Progress::format_rate(0.5) == "0.50");

  Capture c;
  Progress p("stage", 1000, "samples", c.settings(false));
  c.now = 10;
  p.advance(250);  // the first log line is due at 10 s: 25/s, 750 left, 30 s
  REQUIRE(c.events.size() == 1);
  CHECK(c.events[0].first == ProgressEvent::kLog);
  CHECK(c.events[0].second == "  stage  250/1000 samples  25.0/s  ETA 30 s");
  CHECK(p.done() == 250);
  CHECK(p.elapsed() == Approx(10));
}

TEST_CASE("terminal redraws are throttled to one per interval", "[progress]") {
  Capture c;
  Progress p("stage", 100, "samples", c.settings(true));
  c.now = 0.1;
  for (int k = 0; k < 5; ++k) p.advance();  // before the first redraw is due
  CHECK(c.events.empty());
  c.now = 0.3;
  for (int k = 0; k < 10; ++k) p.advance();  // ten advances in one interval: one redraw
  REQUIRE(c.events.size() == 1);
  CHECK(c.events[0].first == ProgressEvent::kRedraw);
  CHECK(c.events[0].second == "  stage  6/100 samples  20.0/s  ETA 4.7 s");  // drawn at the first advance
  c.now = 0.45;
  p.advance();  // the next is due at 0.5
  CHECK(c.events.size() == 1);
  c.now = 0.55;
  p.advance();
  CHECK(c.events.size() == 2);
  CHECK(c.count(ProgressEvent::kRedraw) == 2);
}

TEST_CASE("the final line is written only for stages of a second or more", "[progress]") {
  SECTION("a short stage on a terminal clears its line and leaves nothing") {
    Capture c;
    {
      Progress p("short", 10, "samples", c.settings(true));
      c.now = 0.5;
      p.advance(10);  // shown once
    }
    CHECK(c.count(ProgressEvent::kRedraw) == 1);
    CHECK(c.count(ProgressEvent::kClear) == 1);
    CHECK(c.count(ProgressEvent::kFinal) == 0);
  }
  SECTION("a short stage in a log writes nothing") {
    Capture c;
    Progress p("short", 10, "samples", c.settings(false));
    c.now = 0.9;
    p.advance(10);
    p.finish();
    CHECK(c.events.empty());
  }
  SECTION("a long stage ends with its time and rate once") {
    Capture c;
    Progress p("long", 120, "samples", c.settings(false));
    c.now = 1.5;
    p.advance(120);
    p.finish();
    p.finish();
    REQUIRE(c.events.size() == 1);
    CHECK(c.events[0].first == ProgressEvent::kFinal);
    CHECK(c.events[0].second == "  long  120 samples in 1.5 s  80.0/s");
  }
}

TEST_CASE("a stage that is not on a terminal writes a plain log line per interval", "[progress]") {
  Capture c;
  ProgressSettings s = c.settings(false);
  s.suffix = " (rank 0's share of 2 ranks)";
  Progress p("pixel flipping MoRF/LeRF m", 100, "samples", s);
  p.set_detail("now");
  for (int t = 1; t <= 25; ++t) {
    c.now = t;
    p.advance(2);
  }
  REQUIRE(c.events.size() == 2);  // at 10 s and at 20 s
  for (const auto& [event, text] : c.events) {
    CHECK(event == ProgressEvent::kLog);
    CHECK(text.find('\r') == std::string::npos);
  }
  CHECK(c.events[0].second == "  pixel flipping MoRF/LeRF m now (rank 0's share of 2 ranks)  20/100 samples  2.00/s  ETA 40 s");
  CHECK(c.events[1].second == "  pixel flipping MoRF/LeRF m now (rank 0's share of 2 ranks)  40/100 samples  2.00/s  ETA 30 s");
  p.set_detail(nullptr);
  p.finish();
  REQUIRE(c.events.size() == 3);
  CHECK(c.events[2].second == "  pixel flipping MoRF/LeRF m (rank 0's share of 2 ranks)  50 samples in 25 s  2.00/s");
}

TEST_CASE("a silenced progress counts and prints nothing", "[progress]") {
  Capture c;
  ProgressSettings s = c.settings(true);
  s.enabled = false;
  Progress p("quiet", 10, "samples", s);
  for (int t = 0; t < 30; ++t) {
    c.now = t;
    p.advance();
  }
  p.finish();
  CHECK(p.done() == 30);
  CHECK(c.events.empty());
}

TEST_CASE("advances from many OpenMP threads sum exactly", "[progress]") {
  ProgressSettings s;
  s.terminal = false;
  s.log_seconds = 1e-4;  // real clock: lines while the threads count
  std::vector<std::string> lines;
  std::mutex mutex;
  s.sink = [&](ProgressEvent, const std::string& text) {
    const std::lock_guard<std::mutex> lock(mutex);
    lines.push_back(text);
  };
  constexpr long kPer = 200000;
  Progress p("threads", 4 * kPer, "steps", s);
#pragma omp parallel for num_threads(4) schedule(static)
  for (int thread = 0; thread < 4; ++thread)
    for (long k = 0; k < kPer; ++k) p.advance();
  CHECK(p.done() == 4 * kPer);
  CHECK(p.total() == 4 * kPer);
}

TEST_CASE("a progress scope sets the current progress of its thread and restores the previous one", "[progress]") {
  Capture c;
  Progress outer("outer", 0, "x", c.settings(false)), inner("inner", 0, "x", c.settings(false));
  CHECK(lrp::current_progress() == nullptr);
  {
    const lrp::ProgressScope a(&outer);
    CHECK(lrp::current_progress() == &outer);
    {
      const lrp::ProgressScope b(&inner);
      CHECK(lrp::current_progress() == &inner);
    }
    CHECK(lrp::current_progress() == &outer);
  }
  CHECK(lrp::current_progress() == nullptr);
}

TEST_CASE("a real run reports explaining and pixel flipping per method with rates", "[progress][experiment]") {
  const TempDir dir;
  const std::string root = std::string(LRP_TEST_FIXTURES) + "/../..";
  const std::string path = dir.file("run.yaml");
  std::ofstream(path) << "seed: 1\nthreads: 2\nbatch_size: 4\n"
                         "data:\n  format: idx\n"
                         "  images: /usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz\n"
                         "  labels: /usr/share/datasets/fashion-mnist/t10k-labels-idx1-ubyte.gz\n"
                         "  subset: {begin: 0, end: 8}\n"
                         "model: {file: " << root << "/models/fmnist_cnn.h5}\n"
                         "target: label\n"
                         "explain:\n  - epsilon_gamma_box\n  - gradient_x_input\n"
                         "evaluate: {pixel_flipping: {patch: 2, random_repeats: 2}}\n"
                         "output: {results: " << dir.file("run.h5") << "}\n";
  ProgressSettings& global = lrp::progress_settings();
  const ProgressSettings saved = global;
  std::vector<std::string> lines;
  std::mutex mutex;
  global.enabled = true;
  global.terminal = false;
  global.log_seconds = 1e-4;  // a line at nearly every advance
  global.sink = [&](ProgressEvent, const std::string& text) {
    const std::lock_guard<std::mutex> lock(mutex);
    lines.push_back(text);
  };
  {
    const QuietLog quiet;  // the progress goes to the sink above, not through the logger
    (void)lrp::run_experiment(lrp::read_experiment_config(path, {}, builtins()), builtins());
  }
  global = saved;
  std::string all;
  for (const std::string& line : lines) all += line + "\n";
  INFO(all);
  const auto has = [&](const std::string& stage) {
    for (const std::string& line : lines)
      if (line.rfind("  " + stage, 0) == 0 && line.find("/s") != std::string::npos) return true;
    return false;
  };
  CHECK(has("explain forward pass"));
  CHECK(has("explain epsilon_gamma_box"));
  CHECK(has("explain gradient_x_input"));
  CHECK(has("pixel flipping random-order baseline"));
  CHECK(has("pixel flipping MoRF/LeRF epsilon_gamma_box"));
  CHECK(has("pixel flipping MoRF/LeRF gradient_x_input"));
  CHECK_THAT(all, Contains("samples") && Contains("ETA"));
}
