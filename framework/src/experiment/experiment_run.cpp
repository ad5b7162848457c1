// Running an experiment (experiment.hpp): the stages, each in its own file (run_state.hpp lists
// them), sharing one RunState; and the console table.
#include "run_state.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <sstream>

namespace lrp {

ExperimentReport run_experiment(const ExperimentConfig& config, const Registry& registry, const Cluster& cluster) {
  RunState run(config, registry, cluster);
  run.started = utc_now();
  lock_outputs(run);            // check and lock the output paths
  prepare_run(run);             // data, model, methods; the metric plan
  explain_samples(run);         // forward passes, explanations, metrics computed while explaining
  exchange_explanations(run);   // MPI: every rank gets every unit
  summarize_explanations(run);  // seconds, NaN counts, accuracy
  evaluate_metrics(run);        // metrics computed afterwards, their exchange, summaries and checks
  summarize_methods(run);       // the table's rows
  draw_pictures(run);           // heatmaps and metric pictures (rank 0)
  draw_report(run);             // index.html (rank 0)
  write_results(run);           // the results file and the pictures (rank 0)
  run.report.total_seconds = seconds_since(run.start);
  return std::move(run.report);
}

void summarize_methods(RunState& run) {
  for (const MethodRecord& record : run.methods) {
    MethodSummary s;
    s.name = record.name();
    s.explain_seconds = record.explain_seconds;
    s.nonfinite = record.nonfinite;
    for (const auto& values : record.metrics)
      if (values) values->add_to(s);
    run.report.methods.push_back(s);
  }
}

std::vector<std::string> score_rows(const ExperimentReport& r) {
  std::vector<std::string> rows;
  for (const MethodSummary& m : r.methods)
    for (const auto& [name, summary] : m.scores)
      if (std::find(rows.begin(), rows.end(), name) == rows.end()) rows.push_back(name);
  return rows;
}

namespace {

// The configurable metrics' scores: one row per score, one column per method (a method has a score
// only when the metric evaluated it).
template <typename Cell>
void format_scores(const ExperimentReport& r, std::ostringstream& out, const Cell& cell) {
  const std::vector<std::string> rows = score_rows(r);
  if (rows.empty()) return;
  std::size_t width = 6;
  for (const std::string& name : rows) width = std::max(width, name.size());
  // A column is as wide as its cells (17 characters) or its method's full name (sweep points differ
  // only at the end of theirs).
  std::vector<std::size_t> columns;
  for (const MethodSummary& m : r.methods) columns.push_back(std::max<std::size_t>(17, m.name.size()));
  const auto pad = [](const std::string& text, std::size_t w) { return text + std::string(w - std::min(w, text.size()), ' '); };
  out << "\n" << std::string(width, ' ');
  for (std::size_t k = 0; k < r.methods.size(); ++k) out << "  " << pad(r.methods[k].name, columns[k]);
  out << "\n";
  for (const std::string& name : rows) {
    out << pad(name, width);
    for (std::size_t k = 0; k < r.methods.size(); ++k) {
      const MethodSummary& m = r.methods[k];
      const auto it = std::find_if(m.scores.begin(), m.scores.end(), [&](const auto& s) { return s.first == name; });
      out << "  " << pad(it == m.scores.end() ? "      -" : cell(it->second.mean, it->second.standard_error), columns[k]);
    }
    out << "\n";
  }
  out << "(metric scores, mean ± standard error; n/a: undefined on every sample; docs/metric_suite.md says which way is "
         "better)\n";
}

}  // namespace

std::string format_report(const ExperimentReport& r) {
  std::ostringstream out;
  std::size_t width = 6;
  for (const MethodSummary& m : r.methods) width = std::max(width, m.name.size());
  auto cell = [](double mean, double se) {
    if (!std::isfinite(mean)) return std::string("      n/a        ");
    char buf[64];
    std::snprintf(buf, sizeof buf, "%8.4f ±%7.4f", mean, std::isfinite(se) ? se : 0.0);
    return std::string(buf);
  };
  bool any_accuracy = false;
  for (const MethodSummary& m : r.methods) any_accuracy = any_accuracy || m.relevance_accuracy.has_value();
  char line[512];
  std::snprintf(line, sizeof line, "%-*s  %-17s  %-17s  %-17s  %-17s  %-10s  %8s%s\n", static_cast<int>(width), "method",
                "AOPC-MoRF", "AOPC-LeRF", "ABPC", "MoRF - random", "cons. err", "seconds",
                any_accuracy ? "  relevance accuracy" : "");
  out << line;
  for (const MethodSummary& m : r.methods) {
    const double nan = std::numeric_limits<double>::quiet_NaN();
    const PixelFlippingSummary* p = m.pixel_flipping ? &*m.pixel_flipping : nullptr;
    char cons[32];
    if (std::isfinite(m.relative_error.mean))
      std::snprintf(cons, sizeof cons, "%10.3e", m.relative_error.mean);
    else
      std::snprintf(cons, sizeof cons, "%10s", "n/a");
    const std::string acc =
        !any_accuracy ? "" : m.relevance_accuracy ? "  " + cell(m.relevance_accuracy->mean, m.relevance_accuracy->standard_error) : "        n/a";
    std::snprintf(line, sizeof line, "%-*s  %s  %s  %s  %s  %s  %8.2f%s%s\n", static_cast<int>(width), m.name.c_str(),
                  cell(p ? p->aopc_morf.mean : nan, p ? p->aopc_morf.standard_error : nan).c_str(),
                  cell(p ? p->aopc_lerf.mean : nan, p ? p->aopc_lerf.standard_error : nan).c_str(),
                  cell(p ? p->abpc.mean : nan, p ? p->abpc.standard_error : nan).c_str(),
                  cell(p ? p->aopc_morf_vs_random.mean : nan, p ? p->aopc_morf_vs_random.standard_error : nan).c_str(),
                  cons, m.explain_seconds + m.pixel_flipping_seconds, acc.c_str(),
                  m.nonfinite > 0 ? ("  (" + std::to_string(m.nonfinite) + " NaN/Inf)").c_str() : "");
    out << line;
  }
  out << "(mean ± standard error over " << r.samples
      << (r.targets_per_sample > 1 ? " explanations (" + std::to_string(r.distinct_samples()) + " samples × " +
                                         std::to_string(r.targets_per_sample) + " targets)"
                                   : std::string(" samples"))
      << "; AOPC and ABPC in target-logit units, higher is "
         "better except AOPC-LeRF; cons. err = mean |sum R - f_c(x)| / |f_c(x)|)\n";
  format_scores(r, out, cell);
  return out.str();
}

}  // namespace lrp
