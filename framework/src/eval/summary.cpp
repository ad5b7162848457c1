// Summaries of per-sample metric values: mean and standard error of the finite values (metrics.hpp).
#include "lrp/eval/metrics.hpp"

#include <cmath>

namespace lrp {

Summary summarize(const Eigen::VectorXd& values) {
  Summary s;
  double sum = 0.0;
  for (Index i = 0; i < values.size(); ++i) {
    if (std::isfinite(values[i])) {
      sum += values[i];
      ++s.count;
    } else {
      ++s.skipped;
    }
  }
  if (s.count == 0) return s;
  s.mean = sum / static_cast<double>(s.count);
  if (s.count < 2) return s;
  double squares = 0.0;
  for (Index i = 0; i < values.size(); ++i)
    if (std::isfinite(values[i])) squares += (values[i] - s.mean) * (values[i] - s.mean);
  const auto count = static_cast<double>(s.count);
  s.standard_error = std::sqrt(squares / (count - 1.0)) / std::sqrt(count);
  return s;
}

}  // namespace lrp
