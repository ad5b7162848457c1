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

std::vector<Index> MetricRun::row_shape(std::initializer_list<Index> trailing) const {
  std::vector<Index> shape = leading_rows.empty() ? std::vector<Index>{samples()} : leading_rows;
  Index rows = 1;
  for (const Index d : shape) rows *= d;
  LRP_CHECK(rows == samples(), "internal: the leading dimensions of the results' per-row arrays cover ", rows,
            " rows, not the run's ", samples());
  shape.insert(shape.end(), trailing.begin(), trailing.end());
  return shape;
}

MetricWork& metric_work() {
  static MetricWork work;
  return work;
}

Index copy_sample_id(Index sample_id, Index copy) {
  std::uint64_t z = static_cast<std::uint64_t>(sample_id) * 0x9e3779b97f4a7c15ULL + static_cast<std::uint64_t>(copy) +
                    0x6a09e667f3bcc909ULL;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  z ^= z >> 31;
  return static_cast<Index>((std::uint64_t(1) << 40) | (z >> 24));
}

// The order is the order of the results file's groups and of the checks. To add a metric, write
// framework/src/eval/<metric>.cpp with a Metric subclass and `const Metric& <metric>_metric()`
// (declared in lrp/eval/metric.hpp), and add one line here:
//     &my_metric(),
// A metric configured by its own entry evaluate.<key> is best written as a ScoreMetric
// (score_metric.hpp): it then only lists its parameters and scores and computes them.
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
      &faithfulness_correlation_metric(),
      &sensitivity_n_metric(),
      &selectivity_metric(),
      &irof_metric(),
      &insertion_deletion_metric(),
      &road_metric(),
      &sensitivity_metric(),
      &local_lipschitz_metric(),
      &model_randomisation_metric(),
      &random_logit_metric(),
      &relevance_mass_accuracy_metric(),
      &relevance_rank_accuracy_metric(),
      &pointing_game_metric(),
      &top_k_intersection_metric(),
      &attribution_localisation_metric(),
      &roc_auc_metric(),
  };
  return table;
}

}  // namespace lrp
