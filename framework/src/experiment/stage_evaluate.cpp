// Stage 5: the metrics computed after explaining (relevance accuracy, pixel flipping), each rank on
// a contiguous range of samples (every sample's results are computed on their own, so they do not
// depend on the range); then every rank gets every range (stage_exchange.cpp), the metrics
// summarize, and every metric mean must be a number.
#include "run_state.hpp"

namespace lrp {

void evaluate_metrics(RunState& run) {
  const Cluster& cluster = run.cluster;
  const MetricRun& metric_run = *run.metric_run;
  const Index begin = run.range_begin(), count = run.range_count();
  std::vector<MethodView> views;
  for (const MethodRecord& record : run.methods) views.push_back(record.view());

  // Per applied metric: its forward rows, explained rows and shared seconds, then its methods'
  // seconds (summed over ranks below).
  std::vector<double> seconds;
  for (std::size_t i = 0; i < run.metrics.size(); ++i) {
    const Metric* metric = run.metrics[i];
    if (metric == nullptr || metric->when() != Metric::When::kAfterExplaining) continue;
    std::vector<MetricValues*> values;
    for (MethodRecord& record : run.methods) {
      record.metrics[i] = metric->make_values(metric_run, record.view());
      values.push_back(record.metrics[i].get());
    }
    double shared = 0;
    MetricWork& work = metric_work();
    const std::int64_t forward0 = work.forward_rows, explained0 = work.explained_rows;
    collectively(cluster, [&] { shared = metric->compute(metric_run, begin, count, views, values); });
    seconds.push_back(static_cast<double>(work.forward_rows - forward0));
    seconds.push_back(static_cast<double>(work.explained_rows - explained0));
    seconds.push_back(shared);
    for (const MetricValues* v : values) seconds.push_back(v ? v->seconds : 0.0);
  }
  exchange_metric_ranges(run);
  if (cluster.size() > 1 && !seconds.empty()) seconds = sum_over_ranks(cluster, seconds);

  std::size_t at = 0;
  for (std::size_t i = 0; i < run.metrics.size(); ++i) {
    const Metric* metric = run.metrics[i];
    if (metric == nullptr) continue;
    if (metric->when() == Metric::When::kAfterExplaining) {
      double total = 0;
      const double forward_rows = seconds[at++], explained_rows = seconds[at++];
      if (forward_rows > 0) run.report.forward_rows[metric->name()] = forward_rows;
      if (explained_rows > 0) run.report.explained_rows[metric->name()] = explained_rows;
      const double shared = seconds[at++];
      for (MethodRecord& record : run.methods) {
        const double s = seconds[at++];
        if (!record.metrics[i]) continue;
        record.metrics[i]->seconds = s;
        total += s;
      }
      if (metric->shared_stage() != nullptr) run.report.stage_seconds[metric->shared_stage()] = shared;
      if (metric->stage() != nullptr) run.report.stage_seconds[metric->stage()] = total;
    }
    for (MethodRecord& record : run.methods)
      if (record.metrics[i]) record.metrics[i]->finish(record.view());
  }
  if (cluster.size() > 1) run.report.stage_seconds["exchange"] = run.exchange_seconds;

  // Metric means must be numbers (per-sample NaNs are skipped and counted; no finite value at all
  // stops the run), checked method by method.
  for (const MethodRecord& record : run.methods)
    for (const auto& values : record.metrics)
      if (values) values->check(record.view());
}

}  // namespace lrp
