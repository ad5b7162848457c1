// Stage 6b: the report (output.report, rank 0): index.html in the heatmaps folder, the whole run on
// one page for a browser: the run's table (format_report's numbers), the curves, the heatmaps by
// method with every method's montage, the conservation ledger per layer, the config and the
// provenance. Self-contained: the SVGs the pictures stage drew are placed in the page (their PNGs
// are data URIs already), no script, no font, no file or address outside the page. Written as
// polyglot XHTML5 (well-formed XML that browsers read as HTML), so tests can parse it as XML.
#include "run_state.hpp"

#include "lrp/io/hdf5.hpp"
#include "lrp/io/image.hpp"
#include "lrp/registry/plugin.hpp"


#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <sstream>

namespace lrp {

namespace {

std::string esc(std::string_view text) { return xml_escape(text); }

// `value` in a printf format ("%.4f"), or "n/a" when it is not a number.
std::string number(double value, const char* format) {
  if (!std::isfinite(value)) return "n/a";
  char text[64];
  std::snprintf(text, sizeof text, format, value);
  return text;
}

// A table cell holding mean ± standard error, four decimals as the console table prints them.
std::string summary_cell(const Summary* s) {
  if (s == nullptr || !std::isfinite(s->mean)) return "<td class=\"na\">n/a</td>";
  const double se = std::isfinite(s->standard_error) ? s->standard_error : 0.0;
  return "<td><span class=\"m\">" + number(s->mean, "%.4f") + "</span> <span class=\"se\">± " + number(se, "%.4f") +
         "</span></td>";
}

// An SVG file as an element of the page: without its XML declaration.
std::string inline_svg(const std::string& svg) {
  if (svg.rfind("<?xml", 0) != 0) return svg;
  const std::size_t end = svg.find("?>");
  return end == std::string::npos ? svg : svg.substr(svg.find_first_not_of(" \r\n", end + 2));
}

constexpr const char* kStyle = R"(
body{font-family:"DejaVu Sans",Arial,Helvetica,sans-serif;font-size:14px;line-height:1.45;color:#1d1d1d;
max-width:1320px;margin:0 auto;padding:0 18px 40px;background:#fff}
h1{font-size:22px;margin:18px 0 4px}
h2{font-size:18px;margin:30px 0 8px;padding-bottom:3px;border-bottom:2px solid #d8dde3}
h3{font-size:15px;margin:16px 0 6px}
nav{font-size:13px;margin:6px 0 0}
nav a{margin-right:14px;color:#1a5fb4;text-decoration:none}
p.note{color:#4a4a4a;font-size:13px;margin:6px 0;max-width:1100px}
.facts{display:grid;grid-template-columns:max-content auto;gap:2px 14px;font-size:13px;margin:8px 0}
.facts dt{color:#555}
.facts dd{margin:0;word-break:break-all}
.scroll{overflow-x:auto;max-width:100%}
table{border-collapse:collapse;font-size:13px;margin:4px 0}
th,td{border:1px solid #d5d9de;padding:3px 9px;text-align:right;white-space:nowrap}
th{background:#eef1f4;font-weight:600}
th.name,td.name{text-align:left}
table.scores th{white-space:normal;overflow-wrap:anywhere;max-width:150px}
td.na{color:#999}
.se{color:#777;font-size:12px}
td.kept{background:#e8f5e9}
td.lost{background:#e3ecfa}
td.created{background:#fbe9e7}
.figures{display:flex;flex-wrap:wrap;gap:14px;align-items:flex-start}
.curves svg{width:640px}
svg{max-width:100%;height:auto;display:block}
details{margin:6px 0;border:1px solid #e1e4e8;border-radius:4px;padding:4px 10px}
summary{cursor:pointer;font-weight:600}
details .figures{margin:8px 0}
pre{background:#f6f8fa;border:1px solid #e1e4e8;padding:10px;font-size:12px;overflow-x:auto;white-space:pre}
)";

// One entry of a <dl class="facts">.
void write_fact(std::ostream& out, const std::string& key, const std::string& value) {
  out << "<dt>" << esc(key) << "</dt><dd>" << esc(value) << "</dd>\n";
}

// Title, the run in one paragraph, and the contents.
void write_header(std::ostream& out, const RunState& run, const std::vector<std::string>& sections) {
  const ExperimentConfig& config = run.config;
  const PreparedExperiment& prep = *run.prepared;
  const std::string name = config.path.substr(config.path.find_last_of('/') + 1);
  out << "<h1>lrplab run: " << esc(name) << "</h1>\n<dl class=\"facts\">\n";
  write_fact(out, "config", config.path);
  write_fact(out, "run", run.run_id + ", finished " + run.finished);
  std::string samples = std::to_string(run.prepared->samples) + " explained";
  if (run.per_sample() > 1) samples += " for " + std::to_string(run.per_sample()) + " targets each";
  if (run.report.accuracy >= 0) samples += "; the model's accuracy on them " + number(100 * run.report.accuracy, "%.1f") + " %";
  write_fact(out, "samples", samples);
  const std::string model_file = config.model.file.empty() ? "trained by this run" : config.model.file;
  write_fact(out, "model", prep.model.spec.name + " (" + model_file + ")");
  write_fact(out, "data", prep.data.source);
  write_fact(out, "explained class", config.target.describe());
  write_fact(out, "results file", config.output.results);
  out << "</dl>\n<nav>";
  for (const std::string& s : sections) out << "<a href=\"#" << s << "\">" << s << "</a>";
  out << "</nav>\n";
}

// The console table (format_report) as HTML: one row per method, then the metric scores.
void write_table(std::ostream& out, const ExperimentReport& r) {
  bool any_accuracy = false, any_nonfinite = false;
  for (const MethodSummary& m : r.methods) {
    any_accuracy = any_accuracy || m.relevance_accuracy.has_value();
    any_nonfinite = any_nonfinite || m.nonfinite > 0;
  }
  out << "<h2 id=\"table\">Table</h2>\n<div class=\"scroll\"><table class=\"results\">\n<tr><th class=\"name\">method</th>"
         "<th>AOPC-MoRF</th><th>AOPC-LeRF</th><th>ABPC</th><th>MoRF − random</th><th>cons. err</th><th>seconds</th>"
      << (any_accuracy ? "<th>relevance accuracy</th>" : "") << (any_nonfinite ? "<th>NaN/Inf</th>" : "") << "</tr>\n";
  for (const MethodSummary& m : r.methods) {
    const PixelFlippingSummary* p = m.pixel_flipping ? &*m.pixel_flipping : nullptr;
    out << "<tr><td class=\"name\">" << esc(m.name) << "</td>" << summary_cell(p ? &p->aopc_morf : nullptr)
        << summary_cell(p ? &p->aopc_lerf : nullptr) << summary_cell(p ? &p->abpc : nullptr)
        << summary_cell(p ? &p->aopc_morf_vs_random : nullptr) << "<td>" << number(m.relative_error.mean, "%.3e")
        << "</td><td>" << number(m.explain_seconds + m.pixel_flipping_seconds, "%.2f") << "</td>";
    if (any_accuracy) out << summary_cell(m.relevance_accuracy ? &*m.relevance_accuracy : nullptr);
    if (any_nonfinite) out << "<td>" << m.nonfinite << "</td>";
    out << "</tr>\n";
  }
  out << "</table></div>\n<p class=\"note\">Mean ± standard error over " << r.samples
      << (r.targets_per_sample > 1 ? " explanations (a sample once per target)" : " samples")
      << ". AOPC and ABPC are in target-logit units; higher is better except for AOPC-LeRF. MoRF − random: "
         "AOPC-MoRF above that of random orders. cons. err: mean |Σ R − f<sub>c</sub>(x)| / |f<sub>c</sub>(x)| "
         "(conservation). seconds: explaining and pixel flipping. n/a: not computed for the method, or undefined on "
         "every sample.</p>\n";

  const std::vector<std::string> rows = score_rows(r);  // the metric scores, in table order
  if (rows.empty()) return;
  out << "<h3>Metric scores</h3>\n<div class=\"scroll\"><table class=\"scores\">\n<tr><th class=\"name\">score</th>";
  for (const MethodSummary& m : r.methods) out << "<th>" << esc(m.name) << "</th>";
  out << "</tr>\n";
  for (const std::string& row : rows) {
    out << "<tr><td class=\"name\">" << esc(row) << "</td>";
    for (const MethodSummary& m : r.methods) {
      const auto it = std::find_if(m.scores.begin(), m.scores.end(), [&](const auto& s) { return s.first == row; });
      out << (it == m.scores.end() ? std::string("<td class=\"na\">–</td>") : summary_cell(&it->second));
    }
    out << "</tr>\n";
  }
  out << "</table></div>\n<p class=\"note\">Mean ± standard error over the samples; –: the metric does not evaluate "
         "the method; n/a: undefined on every sample. Which way is better: docs/metric_suite.md.</p>\n";
}

// The run-wide SVGs the metrics drew (top-level files other than methods.svg): MoRF and LeRF first.
std::vector<std::string> curve_files(const FolderFiles& pictures) {
  std::vector<std::string> files;
  for (const auto& [path, bytes] : pictures)
    if (path.find('/') == std::string::npos && path.ends_with(".svg") && path != "methods.svg") files.push_back(path);
  const auto rank = [](const std::string& f) { return f == "morf.svg" ? 0 : f == "lerf.svg" ? 1 : 2; };
  std::stable_sort(files.begin(), files.end(), [&](const auto& a, const auto& b) { return rank(a) < rank(b); });
  return files;
}

void write_curves(std::ostream& out, const FolderFiles& pictures) {
  out << "<h2 id=\"curves\">Curves</h2>\n";
  const std::vector<std::string> files = curve_files(pictures);
  if (files.empty()) {
    out << "<p class=\"note\">No curves: no metric of this run draws any (pixel flipping and some metrics of the "
           "suite do), or output.heatmap_samples is 0.</p>\n";
    return;
  }
  out << "<p class=\"note\">Pixel flipping: the mean target logit as regions are replaced, most relevant first (MoRF, "
         "a steep fall is good) or least relevant first (LeRF, a flat curve is good). Also in the folder as ";
  for (std::size_t k = 0; k < files.size(); ++k) out << (k ? ", " : "") << esc(files[k]);
  out << ".</p>\n<div class=\"figures curves\">\n";
  for (const std::string& f : files) out << inline_svg(pictures.at(f));
  out << "</div>\n";
}

// methods.svg, then per method its montage and its own curves, folded.
void write_heatmaps(std::ostream& out, const RunState& run) {
  const FolderFiles& pictures = run.pictures;
  out << "<h2 id=\"heatmaps\">Heatmaps</h2>\n";
  const auto grid = pictures.find("methods.svg");
  if (grid == pictures.end()) {
    out << "<p class=\"note\">No heatmaps were drawn (output.heatmap_samples is 0, or the inputs are not images or "
           "sequences).</p>\n";
    return;
  }
  out << "<p class=\"note\">The first samples (rows: index in the data, true label, predicted class) by method "
         "(columns); the colour bar gives the relevance scale. Red: relevance for the explained class, blue: "
         "against it (with the default colour map). methods.png and each method's folder hold the same "
         "pictures as PNG files.</p>\n<div class=\"scroll\">"
      << inline_svg(grid->second) << "</div>\n<h3>By method</h3>\n";
  for (const MethodRecord& record : run.methods) {
    const std::string dir = record.name() + "/";
    out << "<details class=\"method\"><summary>" << esc(record.name()) << "</summary>\n<div class=\"figures\">\n";
    for (const char* file : {"montage.svg", "pixel_flipping.svg"}) {
      const auto it = pictures.find(dir + file);
      if (it != pictures.end()) out << "<div class=\"scroll\">" << inline_svg(it->second) << "</div>\n";
    }
    out << "</div></details>\n";
  }
}

// The conservation ledger per value (layers × LRP methods): mean Σ R / f_c(x).
void write_ledger(std::ostream& out, const RunState& run) {
  out << "<h2 id=\"ledger\">Ledger</h2>\n";
  std::vector<const MethodSummary*> methods;
  for (const MethodSummary& m : run.report.methods)
    if (!m.layer_ledger.empty()) methods.push_back(&m);
  if (methods.empty()) {
    out << "<p class=\"note\">No layer ledger: it is kept for LRP methods when evaluate.conservation is on.</p>\n";
    return;
  }
  const Network& network = run.prepared->model.network;
  out << "<p class=\"note\">Conservation layer by layer: the relevance summed over each value of the network, as a "
         "fraction of the explained logit f<sub>c</sub>(x), mean over the samples. 1 at the output (the seed); "
         "below 1 relevance was lost on the way (absorbed by biases and stabilizers), above 1 it was created. "
         "Green: within 1 % of 1, blue: lost, red: created. Per sample: /metrics/conservation/&lt;method&gt;/"
         "layer_sums in the results file.</p>\n<div class=\"scroll\"><table class=\"ledger\">\n<tr><th "
         "class=\"name\">value</th>";
  for (const MethodSummary* m : methods) out << "<th>" << esc(m->name) << "</th>";
  out << "</tr>\n";
  const auto values = static_cast<Index>(methods.front()->layer_ledger.size());
  for (Index v = 0; v < values; ++v) {
    std::string label = "input";
    if (v > 0 && v - 1 < network.size())
      label = "output of " + network.layer(v - 1).name() + " (" + network.layer(v - 1).kind() + ")";
    out << "<tr><td class=\"name\">" << esc(label) << "</td>";
    for (const MethodSummary* m : methods) {
      const double x = v < std::ssize(m->layer_ledger) ? m->layer_ledger[static_cast<std::size_t>(v)] : std::numeric_limits<double>::quiet_NaN();
      const char* kind = !std::isfinite(x) ? "na" : std::abs(x - 1) <= 0.01 ? "kept" : x < 1 ? "lost" : "created";
      out << "<td class=\"" << kind << "\">" << number(x, "%.4f") << "</td>";
    }
    out << "</tr>\n";
  }
  out << "</table></div>\n";
}

// The resolved config and where the run's numbers come from.
void write_config_and_provenance(std::ostream& out, const RunState& run) {
  const ExperimentConfig& config = run.config;
  out << "<h2 id=\"config\">Config</h2>\n<p class=\"note\">" << esc(config.path)
      << " as the run read it (after the --set overrides; also /config in the results file).</p>\n<pre class=\"config\">"
      << esc(config.resolved_yaml) << "</pre>\n";
  out << "<h2 id=\"provenance\">Provenance</h2>\n<dl class=\"facts\">\n";
  write_fact(out, "lrplab", std::string(LRP_VERSION) + " (commit " + git_commit() + ", " + scalar_name() + ")");
  write_fact(out, "libraries", library_versions());
  std::string plugins;
  for (const PluginRecord& p : run.registry.plugins()) plugins += (plugins.empty() ? "" : ", ") + p.name + " " + p.path;
  if (!plugins.empty()) write_fact(out, "plugins", plugins);
  std::string overrides;
  for (const std::string& o : config.overrides) overrides += (overrides.empty() ? "" : ", ") + o;
  if (!overrides.empty()) write_fact(out, "overrides", overrides);
  write_fact(out, "seed", std::to_string(config.seed));
  write_fact(out, "threads", std::to_string(config.threads) + " per rank");
  write_fact(out, "ranks", std::to_string(run.cluster.size()) + " (" + run.cluster.describe() + ")");
  write_fact(out, "host", host_name());
  write_fact(out, "started", run.started);
  write_fact(out, "finished", run.finished);
  write_fact(out, "run id", run.run_id + " (also /meta run_id and run.txt)");
  write_fact(out, "model provenance", run.prepared->model.provenance.source);
  write_fact(out, "normalization", describe(run.prepared->model.spec.normalization));
  std::string seconds;
  for (const auto& [stage, s] : run.report.stage_seconds)
    seconds += (seconds.empty() ? "" : ", ") + stage + " " + number(s, "%.2f");
  write_fact(out, "seconds per stage", seconds);
  write_fact(out, "results file", config.output.results);
  write_fact(out, "heatmaps folder", config.output.heatmaps);
  out << "</dl>\n";
}

std::string report_page(const RunState& run) {
  std::ostringstream out;
  const std::string name = run.config.path.substr(run.config.path.find_last_of('/') + 1);
  out << "<!DOCTYPE html>\n<html xmlns=\"http://www.w3.org/1999/xhtml\" lang=\"en\">\n<head>\n<meta charset=\"utf-8\"/>\n"
         "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"/>\n<meta name=\"generator\" "
         "content=\"lrplab " LRP_VERSION "\"/>\n<title>lrplab: " << esc(name) << "</title>\n<style>"
      << kStyle << "</style>\n</head>\n<body>\n";
  write_header(out, run, {"table", "curves", "heatmaps", "ledger", "config", "provenance"});
  write_table(out, run.report);
  write_curves(out, run.pictures);
  write_heatmaps(out, run);
  write_ledger(out, run);
  write_config_and_provenance(out, run);
  out << "</body>\n</html>\n";
  return out.str();
}

}  // namespace

void draw_report(RunState& run) {
  collectively(run.cluster, [&] {
    if (!run.writer() || !run.config.output.report) return;
    const auto start = RunClock::now();
    stamp_finish(run);
    run.pictures["index.html"] = report_page(run);
    run.report.stage_seconds["report"] = seconds_since(start);
  });
}

}  // namespace lrp
