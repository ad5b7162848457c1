// Pixel flipping's entry in the metric table (docs/metrics.md, "Pixel flipping"): the random-order
// baseline once per range, MoRF and LeRF per method, one store of the random curves shared by the
// methods, the results file's groups and the curve pictures.
#include "lrp/eval/metrics.hpp"

#include "lrp/core/log.hpp"
#include "lrp/core/progress.hpp"
#include "lrp/eval/metric.hpp"
#include "lrp/io/hdf5.hpp"
#include "lrp/io/image.hpp"

#include <chrono>
#include <memory>

namespace lrp {

namespace {

std::string fill_name(PerturbationFill f) {
  switch (f) {
    case PerturbationFill::kUniform: return "uniform";
    case PerturbationFill::kConstant: return "constant";
    case PerturbationFill::kMean: return "mean";
  }
  return "?";
}

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// The random-order curves of a run ([repeat] N × (L+1), and their seeds): the same for every method,
// since they do not depend on the relevance, so the methods' values share one copy, and only the
// first of them packs it for the exchange between ranks.
struct RandomCurves {
  std::vector<Matrix> random, random_probability;
  std::vector<std::vector<std::uint64_t>> random_seeds;
};

// One method's curves, orders and scores for all N samples (or why it was skipped); the random-order
// curves are the run's shared RandomCurves (result_.random stays empty).
class PixelFlippingValues final : public MetricValues {
 public:
  // Computed: sized for n samples with the run's regions and steps.
  PixelFlippingValues(Index n, Index regions, Index steps) {
    PixelFlippingResult& w = result_;
    w.regions = regions;
    w.steps = steps;
    for (Matrix* m : {&w.morf, &w.lerf, &w.morf_probability, &w.lerf_probability}) m->resize(n, steps + 1);
    w.morf_order.resize(n, steps);
    w.lerf_order.resize(n, steps);
    for (Eigen::VectorXd* v : scores(w.scores)) v->resize(n);
  }
  // Skipped: the group says why.
  explicit PixelFlippingValues(std::string skipped) : skipped_(std::move(skipped)) {}

  bool skipped() const { return !skipped_.empty(); }
  // The run's random-order curves; `owner`: this method's values fill and pack them.
  void share_random(std::shared_ptr<RandomCurves> random, bool owner) {
    random_ = std::move(random);
    owns_random_ = owner;
  }
  // The range's random-order curves, at its first sample `begin`, into the run's store (by its owner).
  void store_random(const RandomOrderCurves& r, Index begin) {
    if (!owns_random_) return;
    RandomCurves& c = *random_;
    for (size_t q = 0; q < c.random.size(); ++q) {
      const Index rows = r.random[q].rows();
      c.random[q].middleRows(begin, rows) = r.random[q];
      c.random_probability[q].middleRows(begin, rows) = r.random_probability[q];
      std::copy(r.random_seeds[q].begin(), r.random_seeds[q].end(), c.random_seeds[q].begin() + begin);
    }
  }
  // One range's result, at its first sample `begin` (the whole run's result is taken as it is); its
  // random-order curves are the shared store's (store_random).
  void store(PixelFlippingResult&& r, Index begin) {
    PixelFlippingResult& w = result_;
    const Index rows = r.morf.rows();
    const bool whole = begin == 0 && rows == w.morf.rows();
    r.random.clear();
    r.random_probability.clear();
    r.random_seeds.clear();
    if (whole) {
      w = std::move(r);
      return;
    }
    for (auto [to, from] : {std::pair{&w.morf, &r.morf}, std::pair{&w.lerf, &r.lerf},
                            std::pair{&w.morf_probability, &r.morf_probability},
                            std::pair{&w.lerf_probability, &r.lerf_probability}})
      to->middleRows(begin, rows) = *from;
    w.morf_order.middleRows(begin, rows) = r.morf_order;
    w.lerf_order.middleRows(begin, rows) = r.lerf_order;
    const std::vector<Eigen::VectorXd*> to = scores(w.scores), from = scores(r.scores);
    for (size_t s = 0; s < to.size(); ++s) to[s]->segment(begin, rows) = *from[s];
  }

  void visit(Archive& archive, Index begin, Index count) override {
    if (skipped()) return;
    if (owns_random_) {
      RandomCurves& c = *random_;
      for (size_t q = 0; q < c.random.size(); ++q) {
        archive.rows(c.random[q], begin, count);
        archive.rows(c.random_probability[q], begin, count);
        archive.range(c.random_seeds[q], begin, count);
      }
    }
    PixelFlippingResult& w = result_;
    for (Matrix* m : {&w.morf, &w.lerf, &w.morf_probability, &w.lerf_probability}) archive.rows(*m, begin, count);
    archive.rows(w.morf_order, begin, count);
    archive.rows(w.lerf_order, begin, count);
    for (Eigen::VectorXd* v : scores(w.scores)) archive.range(*v, begin, count);
  }

  void finish(const MethodView& method) override {
    if (skipped()) return;
    result_.summary = lrp::summarize(result_.scores);
    logger()->info("pixel flipping '{}': AOPC-MoRF {:.4f}, ABPC {:.4f} ({:.2f} s)", method.name,
                   result_.summary.aopc_morf.mean, result_.summary.abpc.mean, seconds);
  }
  void check(const MethodView& method) const override {
    if (skipped()) return;
    const PixelFlippingSummary& p = result_.summary;
    for (const auto& [metric, summary] : {std::pair{"pixel_flipping AOPC-MoRF", &p.aopc_morf},
                                          std::pair{"pixel_flipping AOPC-LeRF", &p.aopc_lerf},
                                          std::pair{"pixel_flipping ABPC", &p.abpc}})
      check_mean(*summary, metric, method.name);
  }
  void add_to(MethodSummary& summary) const override {
    if (!skipped()) summary.pixel_flipping = result_.summary;
    summary.pixel_flipping_seconds = seconds;
  }
  void write(h5::File& f, const MetricRun& run, const MethodView& method) const override;
  const PixelFlippingResult* result() const { return skipped() ? nullptr : &result_; }
  const RandomCurves& random() const { return *random_; }

 private:
  static std::vector<Eigen::VectorXd*> scores(PixelFlippingScores& s) {
    return {&s.aopc_morf, &s.aopc_lerf, &s.abpc, &s.auc_morf, &s.aopc_morf_vs_random};
  }

  std::string skipped_;  // why the method was not evaluated (NaN/Inf relevance); empty: it was
  PixelFlippingResult result_;
  std::shared_ptr<RandomCurves> random_;
  bool owns_random_ = false;
};

std::vector<Scalar> row_major(const Matrix& m) { return std::vector<Scalar>(m.data(), m.data() + m.size()); }

void PixelFlippingValues::write(h5::File& f, const MetricRun& run, const MethodView& method) const {
  const std::string g = "/metrics/pixel_flipping/" + method.name;
  f.create_group(g);
  const MetricPlan::PixelFlipping& pf = *run.plan.pixel_flipping;
  f.set_int_attribute(g, "patch", pf.options.patch);
  f.set_int_attribute(g, "random_repeats", pf.options.random_repeats);
  f.set_string_attribute(g, "fill", fill_name(pf.options.fill));
  f.set_uint_attribute(g, "seed", pf.options.seed);
  f.set_double_attribute(g, "fill_low", pf.fill_low);
  f.set_double_attribute(g, "fill_high", pf.fill_high);
  f.set_double_attribute(g, "fill_value", pf.fill_value);
  f.set_string_attribute(g, "fill_units", "raw");
  f.set_string_attribute(g, "curve", "logit of the target (probability curves: *_probability)");
  if (skipped()) {
    f.set_string_attribute(g, "skipped", skipped_);
    return;
  }
  const PixelFlippingResult& r = result_;
  const RandomCurves& c = *random_;
  const auto n = static_cast<hsize_t>(r.morf.rows()), L = static_cast<hsize_t>(r.steps);
  const auto R = static_cast<hsize_t>(c.random.size());
  // Per row: [N, …], or [N, K, …] with several targets per sample
  const h5::Dims rows = h5::to_dims(run.row_shape()), curves = h5::to_dims(run.row_shape({r.steps + 1})),
                 orders = h5::to_dims(run.row_shape({r.steps}));
  f.set_int_attribute(g, "regions", r.regions);
  f.set_int_attribute(g, "steps", r.steps);
  f.set_double_attribute(g, "seconds", seconds);
  f.write(g + "/morf", row_major(r.morf), curves);
  f.write(g + "/lerf", row_major(r.lerf), curves);
  f.write(g + "/morf_probability", row_major(r.morf_probability), curves);
  f.write(g + "/lerf_probability", row_major(r.lerf_probability), curves);
  for (const auto& [name, order] : {std::pair{"morf_order", &r.morf_order}, std::pair{"lerf_order", &r.lerf_order}}) {
    const std::vector<std::int64_t> v(order->data(), order->data() + order->size());  // row-major
    f.write(g + "/" + name, v, orders);
  }
  if (R > 0) {  // [rows, R, L + 1]: row by row, repeat by repeat
    std::vector<Scalar> rnd(static_cast<size_t>(n * R * (L + 1))), rndp(rnd.size());
    std::vector<std::uint64_t> seeds(static_cast<size_t>(n * R));
    for (hsize_t i = 0; i < n; ++i)
      for (hsize_t q = 0; q < R; ++q) {
        seeds[i * R + q] = c.random_seeds[q][i];
        for (hsize_t j = 0; j <= L; ++j) {
          rnd[(i * R + q) * (L + 1) + j] = c.random[q](static_cast<Index>(i), static_cast<Index>(j));
          rndp[(i * R + q) * (L + 1) + j] = c.random_probability[q](static_cast<Index>(i), static_cast<Index>(j));
        }
      }
    const Index repeats = std::ssize(c.random);
    f.write(g + "/random", rnd, h5::to_dims(run.row_shape({repeats, r.steps + 1})));
    f.write(g + "/random_probability", rndp, h5::to_dims(run.row_shape({repeats, r.steps + 1})));
    f.write(g + "/random_seeds", seeds, h5::to_dims(run.row_shape({repeats})));
  }
  const PixelFlippingScores& s = r.scores;
  for (const auto& [name, v] : {std::pair{"aopc_morf", &s.aopc_morf}, std::pair{"aopc_lerf", &s.aopc_lerf},
                                std::pair{"abpc", &s.abpc}, std::pair{"auc_morf", &s.auc_morf},
                                std::pair{"aopc_morf_vs_random", &s.aopc_morf_vs_random}}) {
    f.write(g + "/" + name, v->data(), rows);
    const Summary sum = lrp::summarize(*v);
    f.set_double_attribute(g, std::string("mean_") + name, sum.mean);
    f.set_double_attribute(g, std::string("se_") + name, sum.standard_error);
  }
}

class PixelFlippingMetric final : public Metric {
 public:
  const char* name() const override { return "pixel_flipping"; }
  When when() const override { return When::kAfterExplaining; }
  bool applies(const MetricRun& run) const override { return run.plan.pixel_flipping.has_value(); }
  const char* stage() const override { return "pixel_flipping"; }
  const char* shared_stage() const override { return "pixel_flipping_random"; }

  std::unique_ptr<MetricValues> make_values(const MetricRun& run, const MethodView& method) const override {
    if (!method.evaluated) return nullptr;
    if (method.nonfinite > 0) {  // the orders need finite region scores
      std::string why = std::to_string(method.nonfinite) + " NaN/Inf relevance values";
      logger()->warn("pixel flipping: skipping '{}': its relevance has {}", method.name, why);
      return std::make_unique<PixelFlippingValues>(std::move(why));
    }
    const PixelFlippingOptions& o = run.plan.pixel_flipping->options;
    const auto regions = static_cast<Index>(perturbation_regions(run.network.input_shape(), o.patch).size());
    return std::make_unique<PixelFlippingValues>(run.samples(), regions, o.steps == 0 ? regions : o.steps);
  }

  // One RandomCurves for the run's methods, sized for every sample; the first evaluated method's
  // values own it.
  static void share_random_curves(const MetricRun& run, std::span<MetricValues* const> values) {
    const MetricPlan::PixelFlipping& pf = *run.plan.pixel_flipping;
    auto curves = std::make_shared<RandomCurves>();
    bool owner = true;
    for (MetricValues* v : values) {
      auto* p = static_cast<PixelFlippingValues*>(v);
      if (p == nullptr || p->skipped()) continue;
      if (owner) {
        const Index n = run.samples(), columns = p->result()->steps + 1;
        const auto repeats = static_cast<size_t>(pf.options.random_repeats);
        curves->random.assign(repeats, Matrix(n, columns));
        curves->random_probability.assign(repeats, Matrix(n, columns));
        curves->random_seeds.assign(repeats, std::vector<std::uint64_t>(static_cast<size_t>(n)));
      }
      p->share_random(curves, owner);
      owner = false;
    }
  }

  // The random-order baseline once for the range, then MoRF and LeRF per method. Every sample's
  // curves are computed in passes of their own, so they do not depend on the range.
  double compute(const MetricRun& run, Index begin, Index count, std::span<const MethodView> methods,
                 std::span<MetricValues* const> values) const override {
    const MetricPlan::PixelFlipping& pf = *run.plan.pixel_flipping;
    share_random_curves(run, values);  // on every rank, before one returns early: each unpacks into it
    logger()->info("pixel flipping: random-order baseline ({} orders per sample)", pf.options.random_repeats);
    if (count == 0) return 0;
    const Shape& shape = run.network.input_shape();
    Tensor x(shape, run.inputs.data.middleRows(begin, count));
    const std::span<const Index> lengths = row_lengths(run.inputs.lengths, begin, count);
    x.lengths.assign(lengths.begin(), lengths.end());
    const std::vector<Index> ids(run.sample_ids.begin() + begin, run.sample_ids.begin() + begin + count);
    const std::vector<Index> targets(run.targets.begin() + begin, run.targets.begin() + begin + count);
    auto start = std::chrono::steady_clock::now();
    // Each pass advances the thread's current progress by a sample when it finishes one (pixel_flipping.cpp).
    Progress random_progress("pixel flipping random-order baseline", pf.options.random_repeats > 0 ? count : 0, "samples");
    RandomOrderCurves random;
    {
      const ProgressScope scope(&random_progress);
      random = random_order_curves(run.network, x, targets, ids, pf.fill, pf.options);
    }
    random_progress.finish();
    const double random_seconds = seconds_since(start);
    for (size_t k = 0; k < methods.size(); ++k) {
      auto* v = static_cast<PixelFlippingValues*>(values[k]);
      if (v == nullptr || v->skipped()) continue;
      start = std::chrono::steady_clock::now();
      Progress progress("pixel flipping MoRF/LeRF " + methods[k].name, count, "samples");
      const ProgressScope scope(&progress);
      PixelFlippingResult r = pixel_flipping(run.network, x, targets,
                                             Tensor(shape, methods[k].relevance.data.middleRows(begin, count)), ids,
                                             pf.fill, pf.options, random);
      progress.finish();
      v->seconds = seconds_since(start);
      v->store_random(random, begin);
      v->store(std::move(r), begin);
    }
    return random_seconds;
  }

  // Per method its mean MoRF, LeRF and random-order curves (<method>/pixel_flipping.svg), and the
  // methods side by side (morf.svg, lerf.svg, with the random order once).
  void draw(const MetricRun&, std::span<const MethodView> methods, std::span<const MetricValues* const> values,
            std::map<std::string, std::string>& pictures) const override {
    const auto mean_of = [](const Matrix& m) {
      std::vector<double> v(static_cast<size_t>(m.cols()));
      for (Index j = 0; j < m.cols(); ++j) v[static_cast<size_t>(j)] = m.col(j).cast<double>().mean();
      return v;
    };
    bool any_curve = false;
    std::vector<CurveSeries> morf, lerf;
    for (size_t k = 0; k < methods.size(); ++k) {
      const auto* v = static_cast<const PixelFlippingValues*>(values[k]);
      if (v == nullptr || v->result() == nullptr) continue;
      const PixelFlippingResult& r = *v->result();
      const std::string& name = methods[k].name;
      std::vector<CurveSeries> own{{"MoRF", mean_of(r.morf), "#d62728"}, {"LeRF", mean_of(r.lerf), "#1f77b4"}};
      const std::vector<Matrix>& random = v->random().random;
      if (!random.empty()) {
        std::vector<double> rnd(static_cast<size_t>(r.steps + 1), 0.0);
        for (const Matrix& q : random) {
          const std::vector<double> m = mean_of(q);
          for (size_t j = 0; j < rnd.size(); ++j) rnd[j] += m[j] / static_cast<double>(random.size());
        }
        own.push_back({"random order", rnd, "#7f7f7f"});
        if (!any_curve) {
          morf.push_back({"random order", rnd, "#7f7f7f"});
          lerf.push_back({"random order", rnd, "#7f7f7f"});
        }
      }
      any_curve = true;
      morf.push_back({name, own[0].values, ""});
      lerf.push_back({name, own[1].values, ""});
      pictures[name + "/pixel_flipping.svg"] =
          curves_svg("pixel flipping: " + name, "regions perturbed", "mean target logit", own);
    }
    if (!any_curve) return;
    pictures["morf.svg"] =
        curves_svg("MoRF curves (most relevant regions first)", "regions perturbed", "mean target logit", morf);
    pictures["lerf.svg"] =
        curves_svg("LeRF curves (least relevant regions first)", "regions perturbed", "mean target logit", lerf);
  }
};

}  // namespace

const Metric& pixel_flipping_metric() {
  static const PixelFlippingMetric metric;
  return metric;
}

}  // namespace lrp
