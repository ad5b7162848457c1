// Helpers of the experiment suites: a quiet log and text substitution for config templates.
#pragma once

#include "lrp/core/log.hpp"

#include <string>

namespace lrp_test {

// The `model:` section of a config whose small CNN (input [1, 8, 8], 3 classes) is trained by the
// run on synthetic blobs (seed 9); the `training:` and `save:` keys follow it.
inline const std::string kTrainedHereModel = R"(model:
  architecture:
    name: trained_here
    input_shape: [1, 8, 8]
    layers:
      - {kind: conv2d, out_channels: 2, kernel: 3, padding: 1}
      - {kind: relu}
      - {kind: flatten}
      - {kind: dense, out: 3}
  train: {format: synthetic, shape: [1, 8, 8], count: 60, classes: 3, seed: 9}
)";

// Keeps the library's progress lines (info) off the test output while a test runs.
class QuietLog {
 public:
  QuietLog() : level_(lrp::logger()->level()) { lrp::logger()->set_level(spdlog::level::warn); }
  ~QuietLog() { lrp::logger()->set_level(level_); }
  QuietLog(const QuietLog&) = delete;
  QuietLog& operator=(const QuietLog&) = delete;

 private:
  spdlog::level::level_enum level_;
};

// `text` with every occurrence of `from` replaced by `to` (e.g. "@DIR@" in a config template).
inline std::string replace_all(std::string text, const std::string& from, const std::string& to) {
  for (std::size_t at = text.find(from); at != std::string::npos; at = text.find(from, at + to.size()))
    text.replace(at, from.size(), to);
  return text;
}

}  // namespace lrp_test
