// The metric table (lrp/eval/metric.hpp): the metrics an experiment computes per method.
#include "lrp/eval/metric.hpp"

#include "lrp/core/error.hpp"

#include <cmath>

namespace lrp {

void check_mean(const Summary& s, const std::string& metric, const std::string& method) {
  LRP_CHECK(std::isfinite(s.mean), "metric ", metric, " of method '", method, "' has no finite mean (",
            s.count, " finite values, ", s.skipped, " NaN or Inf over the samples); lrplab does not write "
            "non-finite metric means");
}

// The order is the order of the results file's groups and of the checks. To add a metric, write
// framework/src/eval/<metric>.cpp with a Metric subclass and `const Metric& <metric>_metric()`
// (declared in lrp/eval/metric.hpp), and add one line here:
//     &my_metric(),
// The runner then makes its values for every method, computes them while the methods explain or
// afterwards (when()), exchanges them between ranks (MetricValues::visit), checks and writes them.
const std::vector<const Metric*>& metric_table() {
  static const std::vector<const Metric*> table{
      &conservation_metric(),
      &relevance_accuracy_metric(),
      &pixel_flipping_metric(),
      &sparseness_metric(),
      &complexity_metric(),
      &effective_complexity_metric(),
  };
  return table;
}

}  // namespace lrp
