// The configurable metrics' shared parts (score_metric.hpp): their values, their range work and the
// forward passes over perturbed copies.
#include "score_metric.hpp"

#include "lrp/core/error.hpp"
#include "lrp/core/log.hpp"
#include "lrp/core/workspace.hpp"
#include "lrp/eval/suite.hpp"
#include "lrp/io/hdf5.hpp"
#include "lrp/io/image.hpp"
#include "lrp/nn/network.hpp"

#include <cmath>

namespace lrp {

double MetricSettings::number(const std::string& key) const {
  const auto it = numbers.find(key);
  LRP_CHECK(it != numbers.end(), "internal: metric setting '", key, "' was not resolved (", at, ")");
  return it->second;
}

const std::string& MetricSettings::choice(const std::string& key) const {
  const auto it = choices.find(key);
  LRP_CHECK(it != choices.end(), "internal: metric setting '", key, "' was not resolved (", at, ")");
  return it->second;
}

// ---------------------------------------------------------------- ScoreValues

ScoreValues::ScoreValues(const Metric& metric, const MetricSettings& settings, Index n,
                         const std::vector<std::string>& scores, const std::vector<Curve>& curves)
    : metric_(metric), settings_(settings), names_(scores), curve_shapes_(curves) {
  for (std::size_t k = 0; k < scores.size(); ++k)
    scores_.emplace_back(Eigen::VectorXd::Constant(n, std::numeric_limits<double>::quiet_NaN()));
  for (const Curve& c : curves) curves_.emplace_back(Eigen::MatrixXd::Zero(n, c.length));
}

ScoreValues::ScoreValues(const Metric& metric, const MetricSettings& settings, std::string skipped)
    : metric_(metric), settings_(settings), skipped_(std::move(skipped)) {}

void ScoreValues::visit(Archive& archive, Index begin, Index count) {
  for (Eigen::VectorXd& v : scores_) archive.range(v, begin, count);
  for (Eigen::MatrixXd& m : curves_) archive.rows(m, begin, count);
}

void ScoreValues::finish(const MethodView& method) {
  summaries_.clear();
  for (const Eigen::VectorXd& v : scores_) summaries_.push_back(summarize(v));
  if (skipped()) return;
  std::string line;
  for (std::size_t k = 0; k < names_.size(); ++k) {
    char buf[96];
    std::snprintf(buf, sizeof buf, "%s%s %.4g", k ? ", " : "", names_[k].c_str(), summaries_[k].mean);
    line += buf;
  }
  logger()->info("{} '{}': {}", metric_.config_key(), method.name, line);
  for (std::size_t k = 0; k < names_.size(); ++k)
    if (summaries_[k].skipped > 0)
      logger()->warn("{} '{}': {} is undefined (NaN or Inf) for {} of {} samples (docs/metric_suite.md says when)",
                     metric_.config_key(), method.name, names_[k], summaries_[k].skipped,
                     summaries_[k].skipped + summaries_[k].count);
}

// A score that is undefined on a sample (NaN, e.g. a correlation with a constant heatmap, or ±Inf,
// e.g. a sensitivity relative to an all-zero heatmap) is a finding, not a failure: summarize() leaves
// it out and counts it, finish() warns. Only a mean that overflows stops the run.
void ScoreValues::check(const MethodView& method) const {
  for (std::size_t k = 0; k < names_.size(); ++k)
    LRP_CHECK(!std::isinf(summaries_[k].mean), "metric ", metric_.config_key(), ".", names_[k], " of method '",
              method.name, "' has an infinite mean");
}

void ScoreValues::write(h5::File& f, const MetricRun& run, const MethodView& method) const {
  const std::string g = std::string("/metrics/") + metric_.config_key() + "/" + method.name;
  f.create_group(g);
  for (const auto& [key, value] : settings_.numbers) f.set_double_attribute(g, key, value);
  for (const auto& [key, value] : settings_.choices) f.set_string_attribute(g, key, value);
  f.set_uint_attribute(g, "seed", settings_.seed);
  f.set_string_attribute(g, "meaning", metric_.meaning());
  if (skipped()) {
    f.set_string_attribute(g, "skipped", skipped_);
    return;
  }
  for (std::size_t k = 0; k < names_.size(); ++k) {
    f.write(g + "/" + names_[k], scores_[k].data(), h5::to_dims(run.row_shape()));
    f.set_double_attribute(g, "mean_" + names_[k], summaries_[k].mean);
    f.set_double_attribute(g, "se_" + names_[k], summaries_[k].standard_error);
    f.set_int_attribute(g, "undefined_" + names_[k], summaries_[k].skipped);
  }
  for (std::size_t k = 0; k < curves_.size(); ++k) {
    const Eigen::MatrixXd& m = curves_[k];
    std::vector<double> rows(static_cast<std::size_t>(m.size()));
    for (Index i = 0; i < m.rows(); ++i)
      for (Index j = 0; j < m.cols(); ++j) rows[static_cast<std::size_t>(i * m.cols() + j)] = m(i, j);
    f.write(g + "/" + curve_shapes_[k].name, rows, h5::to_dims(run.row_shape({m.cols()})));
  }
}

void ScoreValues::add_to(MethodSummary& summary) const {
  if (skipped()) return;
  for (std::size_t k = 0; k < names_.size(); ++k) {
    const std::string key = metric_.config_key();
    summary.scores.emplace_back(names_[k] == key ? key : key + "." + names_[k], summaries_[k]);
  }
}

// ---------------------------------------------------------------- ScoreMetric

std::unique_ptr<MetricValues> ScoreMetric::make_values(const MetricRun& run, const MethodView& method) const {
  if (!method.evaluated) return nullptr;
  const MetricSettings& settings = run.plan.settings.at(config_key());
  if (method.nonfinite > 0) {
    std::string why = std::to_string(method.nonfinite) + " NaN/Inf relevance values";
    logger()->warn("{}: skipping '{}': its relevance has {}", config_key(), method.name, why);
    return std::make_unique<ScoreValues>(*this, settings, std::move(why));
  }
  return std::make_unique<ScoreValues>(*this, settings, run.samples(), score_names(), curves(run, settings));
}

Tensor ScoreMetric::Range::relevance(const MethodView& method) const {
  return Tensor(method.relevance.shape, method.relevance.data.middleRows(begin, count));
}

double ScoreMetric::compute(const MetricRun& run, Index begin, Index count, std::span<const MethodView> methods,
                            std::span<MetricValues* const> values) const {
  const auto start = std::chrono::steady_clock::now();
  logger()->info("{}: {} samples", config_key(), count);
  if (count == 0) return 0;
  Range range{run, run.plan.settings.at(config_key()), begin, count,
              Tensor(run.inputs.shape, run.inputs.data.middleRows(begin, count)), {}, {}};
  const std::span<const Index> lengths = row_lengths(run.inputs.lengths, begin, count);
  range.inputs.lengths.assign(lengths.begin(), lengths.end());
  range.targets.assign(run.targets.begin() + begin, run.targets.begin() + begin + count);
  range.sample_ids.assign(run.sample_ids.begin() + begin, run.sample_ids.begin() + begin + count);
  std::vector<ScoreValues*> own;
  Index evaluated = 0;
  for (MetricValues* v : values) {
    auto* s = static_cast<ScoreValues*>(v);
    own.push_back(s != nullptr && !s->skipped() ? s : nullptr);
    evaluated += own.back() != nullptr ? 1 : 0;
  }
  Progress progress(config_key(), count * (evaluated * passes(run, range.settings) + shared_passes()), "sample passes");
  const ProgressScope scope(&progress);
  score(range, methods, own);
  progress.finish();
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

void ScoreMetric::draw(const MetricRun&, std::span<const MethodView> methods,
                       std::span<const MetricValues* const> values, std::map<std::string, std::string>& pictures) const {
  for (const Plot& plot : plots()) {
    std::vector<CurveSeries> series;
    for (std::size_t k = 0; k < methods.size(); ++k) {
      const auto* v = static_cast<const ScoreValues*>(values[k]);
      if (v == nullptr || v->skipped()) continue;
      const Eigen::MatrixXd& m = v->curve(plot.curve);
      std::vector<double> mean;
      for (Index j = 0; j < m.cols(); ++j) {  // the mean of the samples where the point is defined
        double sum = 0;
        Index count = 0;
        for (Index i = 0; i < m.rows(); ++i)
          if (std::isfinite(m(i, j))) sum += m(i, j), ++count;
        if (count == 0) break;
        mean.push_back(sum / static_cast<double>(count));
      }
      if (!mean.empty()) series.push_back({methods[k].name, mean, ""});
    }
    if (series.empty()) continue;
    pictures[std::string(config_key()) + "_" + plot.name + ".svg"] =
        curves_svg(std::string(config_key()) + ": " + plot.name + " (mean over samples)", plot.x_label, plot.y_label, series);
  }
}

// ---------------------------------------------------------------- tools

void evaluate_copies(const Network& network, const Tensor& x, const std::vector<Index>& targets, Index copies,
                     int threads, const std::function<void(Index, Index, Scalar*)>& make_copy,
                     const CopyOutputs& out, Index rows_per_pass) {
  const Shape& shape = network.input_shape();
  const Index features = numel(shape), n = x.batch(), classes = numel(network.output_shape());
  if (n == 0 || copies == 0) return;
  for (Eigen::MatrixXd* m : {out.logit, out.probability})
    if (m != nullptr) m->resize(n, copies);
  if (out.predicted != nullptr) out.predicted->resize(n, copies);
  const Index pass_rows = std::min(rows_per_pass, copies);
  const Index passes = (copies + pass_rows - 1) / pass_rows;
  Progress* const progress = current_progress();  // the calling thread's; advanced by the workers
  parallel_chunks(n * passes, threads, [&](int, Index begin, Index end) {
    Tensor batch(pass_rows, shape);
    ForwardPass pass;
    for (Index item = begin; item < end; ++item) {
      const Index i = item / passes, first = (item % passes) * pass_rows;
      const Index rows = std::min(pass_rows, copies - first);
      if (batch.data.rows() != rows) batch.data.resize(rows, features);
      if (!x.lengths.empty()) batch.lengths.assign(static_cast<std::size_t>(rows), x.lengths[static_cast<std::size_t>(i)]);
      for (Index r = 0; r < rows; ++r) {
        batch.data.row(r) = x.data.row(i);
        make_copy(i, first + r, batch.data.row(r).data());
      }
      network.forward(batch, pass, 1);
      metric_work().forward_rows += rows;
      const Matrix& logits = pass.logits();
      const Index c = targets[static_cast<std::size_t>(i)];
      for (Index r = 0; r < rows; ++r) {
        const Scalar* row = logits.row(r).data();
        Index top = 0;
        for (Index j = 1; j < classes; ++j)
          if (row[j] > row[top]) top = j;
        if (out.logit != nullptr) (*out.logit)(i, first + r) = static_cast<double>(row[c]);
        if (out.predicted != nullptr) (*out.predicted)(i, first + r) = top;
        if (out.probability != nullptr) {
          double sum = 0.0;
          for (Index j = 0; j < classes; ++j) sum += std::exp(static_cast<double>(row[j]) - static_cast<double>(row[top]));
          (*out.probability)(i, first + r) = std::exp(static_cast<double>(row[c]) - static_cast<double>(row[top])) / sum;
        }
      }
      if (progress != nullptr && (item + 1) % passes == 0) progress->advance();  // sample i is done
    }
  });
}

void cumulative_curves(const Network& network, const Tensor& base, const Tensor& substrate,
                       const std::vector<Index>& targets, const std::vector<std::vector<Index>>& units,
                       const IndexMatrix& order, Index per_step, Index steps, int threads, const CopyOutputs& out) {
  const auto unit_count = static_cast<Index>(units.size());
  evaluate_copies(network, base, targets, steps + 1, threads, [&](Index i, Index k, Scalar* row) {
    const Index changed = std::min(k * per_step, std::min(unit_count, order.cols()));
    const Scalar* from = substrate.data.row(i).data();
    for (Index m = 0; m < changed; ++m)
      for (const Index f : units[static_cast<std::size_t>(order(i, m))]) row[f] = from[f];
  }, out);
}

std::vector<Scalar> raw_to_network(const MetricPlan& plan, const Shape& shape, double raw) {
  const Index features = numel(shape), plane = features / shape[0];
  std::vector<Scalar> v(static_cast<std::size_t>(features));
  for (Index f = 0; f < features; ++f) {
    const auto c = static_cast<std::size_t>(f / plane);
    const double mean = plan.input_mean.size() == 1 ? plan.input_mean[0] : plan.input_mean[c];
    const double std = plan.input_std.size() == 1 ? plan.input_std[0] : plan.input_std[c];
    v[static_cast<std::size_t>(f)] = static_cast<Scalar>((raw - mean) / std);
  }
  return v;
}

}  // namespace lrp

namespace lrp {

std::vector<MetricParameter> fill_parameters(const std::string& first_choice) {
  std::vector<std::string> choices{first_choice};
  for (const char* c : {"min", "mean", "constant"})
    if (first_choice != c) choices.push_back(c);
  return {{"fill", MetricParameter::Kind::kChoice, 0, 0, 0, choices,
           "what replaces removed features: the sample's minimum (Quantus's black), its mean, or `value`"},
          {"value", MetricParameter::Kind::kNumber, 0, -1e300, 1e300, {}, "the constant fill, raw units"}};
}

Tensor range_fill(const MetricRun& run, const MetricSettings& settings, const Tensor& x) {
  const std::string& kind = settings.choice("fill");
  if (kind == "min") return fill_images(x, BaselineFill::kMin);
  if (kind == "mean") return fill_images(x, BaselineFill::kMean);
  return fill_images(x, BaselineFill::kConstant, raw_to_network(run.plan, x.shape, settings.number("value")));
}

}  // namespace lrp
