// Randomisation, the sanity checks (docs/metrics.md, "Randomisation"): an explanation that stays the
// same when the model's parameters are replaced by random ones (Adebayo et al. 2018), or when
// another class is explained (Sixt et al. 2020), does not explain the model's decision. Both
// explain again with the same method; each sample is explained on its own (a batch of one), so the
// numbers do not depend on the range of samples a process computes.
#include "lrp/eval/suite.hpp"

#include "lrp/core/error.hpp"
#include "lrp/core/random.hpp"
#include "score_metric.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>

namespace lrp {

namespace {

constexpr std::uint64_t kRandomLogitStream = 0x7261'6e64'6c6f'6701ULL;

// Average ranks (1-based; tied values share the mean of their ranks), as scipy.stats.rankdata.
std::vector<double> average_ranks(std::span<const double> v) {
  std::vector<std::size_t> order(v.size());
  std::iota(order.begin(), order.end(), std::size_t{0});
  std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return v[a] < v[b]; });
  std::vector<double> ranks(v.size());
  for (std::size_t i = 0; i < order.size();) {
    std::size_t j = i;
    while (j + 1 < order.size() && v[order[j + 1]] == v[order[i]]) ++j;
    const double rank = (static_cast<double>(i) + static_cast<double>(j)) / 2.0 + 1.0;
    for (std::size_t k = i; k <= j; ++k) ranks[order[k]] = rank;
    i = j + 1;
  }
  return ranks;
}

}  // namespace

double spearman(std::span<const double> a, std::span<const double> b) {
  const std::vector<double> ra = average_ranks(a), rb = average_ranks(b);
  return pearson(ra, rb);
}

double ssim_1d(std::span<const double> a, std::span<const double> b) {
  const std::size_t n = a.size();
  LRP_CHECK(b.size() == n && n >= 7, "ssim: two series of the same length ≥ 7 expected");
  double low = a[0], high = a[0];
  for (std::size_t i = 0; i < n; ++i) {
    low = std::min({low, a[i], b[i]});
    high = std::max({high, a[i], b[i]});
  }
  const double range = high - low, c1 = (0.01 * range) * (0.01 * range), c2 = (0.03 * range) * (0.03 * range);
  const double cov_norm = 7.0 / 6.0;  // the sample covariance of a 7-point window
  double total = 0;
  for (std::size_t centre = 3; centre + 3 < n; ++centre) {
    double ma = 0, mb = 0, aa = 0, bb = 0, ab = 0;
    for (std::size_t k = centre - 3; k <= centre + 3; ++k) {
      ma += a[k];
      mb += b[k];
      aa += a[k] * a[k];
      bb += b[k] * b[k];
      ab += a[k] * b[k];
    }
    ma /= 7;
    mb /= 7;
    const double va = cov_norm * (aa / 7 - ma * ma), vb = cov_norm * (bb / 7 - mb * mb);
    const double vab = cov_norm * (ab / 7 - ma * mb);
    total += (2 * ma * mb + c1) * (2 * vab + c2) / ((ma * ma + mb * mb + c1) * (va + vb + c2));
  }
  return total / static_cast<double>(n - 6);
}

double cosine_similarity(std::span<const double> a, std::span<const double> b) {
  double ab = 0, aa = 0, bb = 0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    ab += a[i] * b[i];
    aa += a[i] * a[i];
    bb += b[i] * b[i];
  }
  return ab / std::sqrt(aa * bb);
}

double mean_squared_error(std::span<const double> a, std::span<const double> b) {
  double sum = 0;
  for (std::size_t i = 0; i < a.size(); ++i) sum += (a[i] - b[i]) * (a[i] - b[i]);
  return sum / static_cast<double>(a.size());
}

double similarity(const std::string& kind, std::span<const double> a, std::span<const double> b) {
  if (kind == "spearman") return spearman(a, b);
  if (kind == "pearson") return pearson(a, b);
  if (kind == "ssim") return ssim_1d(a, b);
  if (kind == "cosine") return cosine_similarity(a, b);
  if (kind == "mse") return mean_squared_error(a, b);
  LRP_FAIL("similarity '", kind, "' is not one of spearman, pearson, ssim, cosine, mse");
}

std::vector<Index> randomisable_layers(const Network& network) {
  std::vector<Index> layers;
  for (Index l = 0; l < network.size(); ++l) {
    const Layer& layer = network.layer(l);
    if (layer.trainable() && (layer.traits().linear || layer.traits().sequence)) layers.push_back(l);
  }
  return layers;
}

void randomise_layer(Layer& layer, std::uint64_t seed) {
  Params p = layer.params();
  std::mt19937_64 rng(seed);
  const double bound = 1.0 / std::sqrt(static_cast<double>(std::max<Index>(1, p.weight.cols())));
  for (Index r = 0; r < p.weight.rows(); ++r)
    for (Index c = 0; c < p.weight.cols(); ++c) p.weight(r, c) = static_cast<Scalar>(bound * (2 * uniform01(rng) - 1));
  for (Index j = 0; j < p.bias.size(); ++j) p.bias[j] = static_cast<Scalar>(bound * (2 * uniform01(rng) - 1));
  layer.set_params(std::move(p));
}

namespace {

std::vector<MetricParameter> similarity_parameters(const std::string& first, bool abs, bool normalise) {
  std::vector<std::string> choices{first};
  for (const char* c : {"spearman", "pearson", "ssim", "cosine", "mse"})
    if (first != c) choices.push_back(c);
  return {{"similarity", MetricParameter::Kind::kChoice, 0, 0, 0, choices, "how alike two explanations are"},
          {"abs", MetricParameter::Kind::kFlag, abs ? 1.0 : 0.0, 0, 1, {}, "take |R| first"},
          {"normalise", MetricParameter::Kind::kFlag, normalise ? 1.0 : 0.0, 0, 1, {},
           "divide each map by its largest |R| first"}};
}

// Sample i of the range explained again on `network` for `target`, preprocessed.
std::vector<double> explain_one(const MethodView& method, Network& network, const Tensor& inputs, Index i, Index target,
                                Index id, int threads, const HeatmapPreprocess& prep) {
  Tensor x(inputs.shape, inputs.data.row(i));
  if (!inputs.lengths.empty()) x.lengths = {inputs.lengths[static_cast<std::size_t>(i)]};
  LRP_CHECK(method.explain != nullptr, "method '", method.name, "' cannot explain again");
  const Tensor r = (*method.explain)(network, x, {target}, {id}, threads);
  ++metric_work().explained_rows;
  return preprocess_heatmap({r.data.data(), static_cast<std::size_t>(r.features())}, prep);
}

class ModelRandomisationMetric final : public ScoreMetric {
 public:
  const char* config_key() const override { return "model_randomisation"; }
  const char* meaning() const override {
    return "model parameter randomisation (Adebayo et al. 2018): layers with weights re-drawn U(+-1/sqrt(fan_in)) "
           "from the top, cascading or one at a time; similarity of each explanation to the original (last: all "
           "randomised in cascading order); lower is better";
  }
  std::vector<MetricParameter> parameters() const override {
    std::vector<MetricParameter> p = similarity_parameters("spearman", true, true);
    p.push_back({"order", MetricParameter::Kind::kChoice, 0, 0, 0, {"cascading", "independent", "bottom_up"},
                 "cascading from the top layer, one layer at a time, or cascading from the bottom"});
    return p;
  }
  std::vector<std::string> score_names() const override { return {"last", "mean"}; }
  Index passes(const MetricRun& run, const MetricSettings&) const override {  // one per randomised layer
    return static_cast<Index>(randomisable_layers(run.network).size());
  }
  std::vector<Plot> plots() const override {
    return {{0, "similarity", "layers randomised (in the chosen order)", "similarity to the original"}};
  }
  std::vector<ScoreValues::Curve> curves(const MetricRun& run, const MetricSettings&) const override {
    const auto layers = static_cast<Index>(randomisable_layers(run.network).size());
    return {{"similarity", layers}, {"layer", layers}};
  }
  void validate(const MetricSettings& s, const Network& network, bool) const override {
    LRP_CHECK(!randomisable_layers(network).empty(), s.at, ": the model has no layer with weights to randomise");
  }

 protected:
  void score(const Range& range, std::span<const MethodView> methods,
             std::span<ScoreValues* const> values) const override {
    const MetricSettings& s = range.settings;
    Network& network = *range.run.mutable_network;
    std::vector<Index> layers = randomisable_layers(network);
    if (s.choice("order") != "bottom_up") std::reverse(layers.begin(), layers.end());
    std::vector<Params> saved;
    for (const Index l : layers) saved.push_back(network.layer(l).params());
    const auto restore = [&] {
      for (std::size_t k = 0; k < layers.size(); ++k) network.layer(layers[k]).set_params(saved[k]);
    };
    const HeatmapPreprocess prep{s.flag("normalise"), s.flag("abs")};
    try {
      for (std::size_t step = 0; step < layers.size(); ++step) {
        if (s.choice("order") == "independent") restore();
        randomise_layer(network.layer(layers[step]), sample_seed(s.seed, layers[step], kModelRandomisationStream));
        for (std::size_t k = 0; k < methods.size(); ++k) {
          if (values[k] == nullptr) continue;
          for (Index i = 0; i < range.count; ++i) {
            const Scalar* a0 = methods[k].relevance.data.row(range.begin + i).data();
            const std::vector<double> reference =
                preprocess_heatmap({a0, static_cast<std::size_t>(range.inputs.features())}, prep);
            const std::vector<double> again =
                explain_one(methods[k], network, range.inputs, i, range.targets[static_cast<std::size_t>(i)],
                            range.sample_ids[static_cast<std::size_t>(i)], range.run.threads, prep);
            values[k]->curve(0)(range.begin + i, static_cast<Index>(step)) = similarity(s.choice("similarity"), reference, again);
            values[k]->curve(1)(range.begin + i, static_cast<Index>(step)) = static_cast<double>(layers[step]);
            advance_progress(1);
          }
        }
      }
    } catch (...) {
      restore();
      throw;
    }
    restore();
    for (std::size_t k = 0; k < methods.size(); ++k) {
      if (values[k] == nullptr) continue;
      const Eigen::MatrixXd block = values[k]->curve(0).middleRows(range.begin, range.count);
      values[k]->score(0).segment(range.begin, range.count) = block.col(block.cols() - 1);
      values[k]->score(1).segment(range.begin, range.count) = block.rowwise().mean();
    }
  }
};

class RandomLogitMetric final : public ScoreMetric {
 public:
  const char* config_key() const override { return "random_logit"; }
  const char* meaning() const override {
    return "random logit test (Sixt et al. 2020): similarity of the explanation of the target to that of a random "
           "other class; lower is better";
  }
  std::vector<MetricParameter> parameters() const override { return similarity_parameters("ssim", false, true); }
  std::vector<std::string> score_names() const override { return {"random_logit"}; }
  std::vector<ScoreValues::Curve> curves(const MetricRun&, const MetricSettings&) const override {
    return {{"other_class", 1}};
  }
  void validate(const MetricSettings& s, const Network& network, bool) const override {
    LRP_CHECK(numel(network.output_shape()) >= 2, s.at, ": the random logit test needs a model with two or more classes");
  }

 protected:
  void score(const Range& range, std::span<const MethodView> methods,
             std::span<ScoreValues* const> values) const override {
    const MetricSettings& s = range.settings;
    Network& network = *range.run.mutable_network;
    const Index classes = numel(network.output_shape());
    const HeatmapPreprocess prep{s.flag("normalise"), s.flag("abs")};
    for (Index i = 0; i < range.count; ++i) {
      const Index id = range.sample_ids[static_cast<std::size_t>(i)], target = range.targets[static_cast<std::size_t>(i)];
      std::mt19937_64 rng(sample_seed(s.seed, id, kRandomLogitStream));
      Index other = static_cast<Index>(bounded(rng, static_cast<std::uint64_t>(classes - 1)));
      if (other >= target) ++other;  // uniform over the classes but the target
      for (std::size_t k = 0; k < methods.size(); ++k) {
        if (values[k] == nullptr) continue;
        const Scalar* a0 = methods[k].relevance.data.row(range.begin + i).data();
        const std::vector<double> reference =
            preprocess_heatmap({a0, static_cast<std::size_t>(range.inputs.features())}, prep);
        const std::vector<double> again = explain_one(methods[k], network, range.inputs, i, other, id, range.run.threads, prep);
        values[k]->score(0)[range.begin + i] = similarity(s.choice("similarity"), reference, again);
        values[k]->curve(0)(range.begin + i, 0) = static_cast<double>(other);
        advance_progress(1);
      }
    }
  }
};

}  // namespace

const Metric& model_randomisation_metric() {
  static const ModelRandomisationMetric metric;
  return metric;
}
const Metric& random_logit_metric() {
  static const RandomLogitMetric metric;
  return metric;
}

}  // namespace lrp
