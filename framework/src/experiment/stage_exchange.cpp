// Stage 4 (and the exchange after stage 5): with several ranks, every rank gets every result, so
// that the metrics see all relevance of their samples and rank 0 writes all of it. The results
// travel through Cluster::all_gather, packed by the same visit functions that unpack them
// (MethodRecord::visit_explained, MetricValues::visit). On one process both are no-ops.
#include "run_state.hpp"

namespace lrp {

namespace {

// Unit (chunk, method k): its logits, targets and explanation. Packing sends `chunk` and `k`,
// unpacking reads them first.
void visit_unit(RunState& run, Archive& archive, Index& chunk, Index& k) {
  archive.value(chunk);
  archive.value(k);
  LRP_CHECK(chunk >= 0 && chunk < run.chunk_count && k >= 0 && k < static_cast<Index>(run.methods.size()),
            "internal: results gathered from the ranks name an unknown unit");
  const Index begin = run.chunk_begin(chunk), rows = run.chunk_rows(chunk);
  archive.rows(run.logits, begin, rows);
  archive.range(run.targets, begin, rows);
  run.methods[static_cast<std::size_t>(k)].visit_explained(archive, chunk, begin, rows);
}

// A rank's sample range [begin, begin + count) of every metric computed after explaining.
void visit_range(RunState& run, Archive& archive, Index& begin, Index& count) {
  archive.value(begin);
  archive.value(count);
  LRP_CHECK(begin >= 0 && count >= 0 && begin + count <= run.samples(),
            "internal: results gathered from the ranks name an unknown sample range");
  for (std::size_t i = 0; i < run.metrics.size(); ++i) {
    if (run.metrics[i] == nullptr || run.metrics[i]->when() != Metric::When::kAfterExplaining) continue;
    for (MethodRecord& record : run.methods)
      if (record.metrics[i]) record.metrics[i]->visit(archive, begin, count);
  }
}

}  // namespace

void exchange_explanations(RunState& run) {
  const Cluster& cluster = run.cluster;
  if (cluster.size() == 1) return;
  const auto start = RunClock::now();
  Archive mine;
  for (Index chunk = 0; chunk < run.chunk_count; ++chunk)
    for (std::size_t k = 0; k < run.methods.size(); ++k) {
      if (run.owner(chunk, k) != cluster.rank()) continue;
      Index c = chunk, m = static_cast<Index>(k);
      visit_unit(run, mine, c, m);
    }
  const std::vector<double> all = cluster.all_gather(mine.data());
  Archive theirs(all);
  while (!theirs.done()) {
    Index chunk = 0, k = 0;
    visit_unit(run, theirs, chunk, k);
  }
  const std::vector<double> seconds = sum_over_ranks(cluster, {run.forward_seconds, run.ledger_seconds});
  run.forward_seconds = seconds[0];
  run.ledger_seconds = seconds[1];
  run.exchange_seconds += seconds_since(start);
}

void exchange_metric_ranges(RunState& run) {
  const Cluster& cluster = run.cluster;
  if (cluster.size() == 1) return;
  const auto start = RunClock::now();
  Archive mine;
  Index begin = run.range_begin(), count = run.range_count();
  visit_range(run, mine, begin, count);
  const std::vector<double> all = cluster.all_gather(mine.data());
  Archive theirs(all);
  while (!theirs.done()) {
    begin = count = 0;
    visit_range(run, theirs, begin, count);
  }
  run.exchange_seconds += seconds_since(start);
}

}  // namespace lrp
