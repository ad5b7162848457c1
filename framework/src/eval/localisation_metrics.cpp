// Localisation (docs/metric_suite.md, "Localisation"): relevance mass and rank accuracy (Arras et al.
// 2022), the pointing game (Zhang et al. 2018), top-k intersection (Theiner et al. 2021),
// attribution localisation (Kohlbrenner et al. 2020) and the ROC AUC of the heatmap against the
// object's mask. They read the relevance and Dataset::masks only: no forward pass.
#include "lrp/eval/localisation.hpp"

#include "lrp/core/error.hpp"
#include "lrp/core/random.hpp"
#include "lrp/eval/metric.hpp"
#include "lrp/eval/metrics.hpp"
#include "score_metric.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

namespace lrp {

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// Whether a pixel map can be scored: finite relevance and an object to compare with.
bool scorable(const PixelMap& m) { return !m.score.empty() && m.inside > 0; }

}  // namespace

PixelMap pixel_map(std::span<const Scalar> a, std::span<const Scalar> mask, const PixelScoring& p) {
  const auto features = static_cast<Index>(a.size());
  LRP_CHECK(p.channels >= 1 && features > 0 && features % p.channels == 0, "localisation: a heatmap of ", features,
            " values does not split into ", p.channels, " channels");
  LRP_CHECK(mask.size() == a.size(), "localisation: the mask has ", mask.size(), " values, the heatmap ", features);
  const Index pixels = features / p.channels;
  LRP_CHECK(p.width >= 0 && (p.width == 0 || pixels % p.width == 0), "localisation: ", pixels,
            " pixels do not form rows of width ", p.width);
  PixelMap m;
  m.score.assign(static_cast<std::size_t>(pixels), 0.0);
  m.mask.assign(static_cast<std::size_t>(pixels), false);
  for (Index c = 0; c < p.channels; ++c)
    for (Index j = 0; j < pixels; ++j) {
      const auto f = static_cast<std::size_t>(c * pixels + j);
      LRP_CHECK(mask[f] == Scalar(0) || mask[f] == Scalar(1), "localisation: mask value ", mask[f], " at feature ", f,
                " is not 0 or 1");
      m.score[static_cast<std::size_t>(j)] += static_cast<double>(a[f]);
      if (mask[f] == Scalar(1)) m.mask[static_cast<std::size_t>(j)] = true;
    }
  m.inside = static_cast<Index>(std::count(m.mask.begin(), m.mask.end(), true));
  double top = 0.0;
  for (const double v : m.score) {
    if (!std::isfinite(v)) {  // NaN/Inf relevance (or a channel sum beyond the range): undefined
      m.score.clear();
      return m;
    }
    top = std::max(top, std::abs(v));
  }
  for (double& v : m.score) {
    if (p.normalise && top > 0.0) v /= top;  // per sample: Quantus divides by the batch's largest |a|
    if (p.absolute) v = std::abs(v);
    if (p.positive) v = std::max(v, 0.0);
  }
  return m;
}

std::vector<Index> pixel_order(const std::vector<double>& score, std::uint64_t tie_seed) {
  // Quantus sorts with numpy's unstable introsort (argsort(-a)), whose tie order depends on the
  // array's layout; region_order's seeded key makes it reproducible and fair between tied pixels.
  return region_order(score, RegionOrder::kMorf, tie_seed);
}

double relevance_mass_accuracy(std::span<const Scalar> a, std::span<const Scalar> mask, const PixelScoring& p) {
  const PixelMap m = pixel_map(a, mask, p);
  if (!scorable(m)) return kNaN;
  double inside = 0.0, total = 0.0;
  for (std::size_t j = 0; j < m.score.size(); ++j) {
    total += m.score[j];
    if (m.mask[j]) inside += m.score[j];
  }
  // No relevance at all (or signed relevance that cancels): the share is undefined, not ±Inf.
  return total == 0.0 ? kNaN : inside / total;
}

double relevance_rank_accuracy(std::span<const Scalar> a, std::span<const Scalar> mask, const PixelScoring& p,
                               std::uint64_t tie_seed) {
  const PixelMap m = pixel_map(a, mask, p);
  if (!scorable(m)) return kNaN;
  const std::vector<Index> order = pixel_order(m.score, tie_seed);
  Index hits = 0;
  for (Index r = 0; r < m.inside; ++r) hits += m.mask[static_cast<std::size_t>(order[static_cast<std::size_t>(r)])];
  return static_cast<double>(hits) / static_cast<double>(m.inside);
}

double pointing_game(std::span<const Scalar> a, std::span<const Scalar> mask, const PixelScoring& p,
                     std::uint64_t tie_seed, double tolerance, bool weighted) {
  LRP_CHECK(tolerance >= 0.0, "pointing game: the tolerance ", tolerance, " is negative");
  const PixelMap m = pixel_map(a, mask, p);
  if (!scorable(m)) return kNaN;
  const auto pixels = static_cast<Index>(m.score.size());
  const Index pointed = pixel_order(m.score, tie_seed).front();
  bool hit = m.mask[static_cast<std::size_t>(pointed)];
  if (!hit && tolerance > 0.0) {  // Zhang et al. count a hit within 15 pixels of the object
    const Index width = p.width > 0 ? p.width : pixels;
    const Index y0 = pointed / width, x0 = pointed % width;
    for (Index j = 0; j < pixels && !hit; ++j) {
      if (!m.mask[static_cast<std::size_t>(j)]) continue;
      const auto dy = static_cast<double>(j / width - y0), dx = static_cast<double>(j % width - x0);
      hit = dy * dy + dx * dx <= tolerance * tolerance;
    }
  }
  if (!hit) return 0.0;
  return weighted ? 1.0 - static_cast<double>(m.inside) / static_cast<double>(pixels) : 1.0;
}

double top_k_intersection(std::span<const Scalar> a, std::span<const Scalar> mask, const PixelScoring& p, Index k,
                          std::uint64_t tie_seed, bool concept_influence) {
  const PixelMap m = pixel_map(a, mask, p);
  const auto pixels = static_cast<Index>(m.mask.size());
  LRP_CHECK(k >= 1 && k < pixels, "top-k intersection: k = ", k, " must be at least 1 and below the ", pixels,
            " pixels");
  if (!scorable(m)) return kNaN;
  const std::vector<Index> order = pixel_order(m.score, tie_seed);
  Index hits = 0;
  for (Index r = 0; r < k; ++r) hits += m.mask[static_cast<std::size_t>(order[static_cast<std::size_t>(r)])];
  const double share = static_cast<double>(hits) / static_cast<double>(k);
  return concept_influence ? share * static_cast<double>(pixels) / static_cast<double>(m.inside) : share;
}

double attribution_localisation(std::span<const Scalar> a, std::span<const Scalar> mask, const PixelScoring& p,
                                bool weighted) {
  const PixelMap m = pixel_map(a, mask, p);
  if (!scorable(m)) return kNaN;
  double inside = 0.0, total = 0.0;
  for (std::size_t j = 0; j < m.score.size(); ++j) {
    total += m.score[j];
    if (m.mask[j]) inside += m.score[j];
  }
  // Quantus's stabiliser (attribution_localisation.py:317): a map without positive relevance scores 0.
  const double ratio = inside / (total + 1e-9);
  // Above 1 (only with negative scores) the ratio is no share of the relevance; Quantus makes it NaN too.
  if (!std::isfinite(ratio) || ratio > 1.0) return kNaN;
  return weighted ? ratio * static_cast<double>(m.score.size()) / static_cast<double>(m.inside) : ratio;
}

double roc_auc(std::span<const Scalar> a, std::span<const Scalar> mask, const PixelScoring& p) {
  const PixelMap m = pixel_map(a, mask, p);
  const auto pixels = static_cast<Index>(m.score.size());
  if (!scorable(m) || m.inside == pixels) return kNaN;
  std::vector<Index> order(m.score.size());
  std::iota(order.begin(), order.end(), Index(0));
  std::sort(order.begin(), order.end(), [&](Index x, Index y) {
    return m.score[static_cast<std::size_t>(x)] < m.score[static_cast<std::size_t>(y)];
  });
  // Ascending, one group of equal scores at a time: each object pixel wins against every other pixel
  // below its group and draws with the others in it (half a win each).
  double wins = 0.0;
  Index below = 0;  // pixels off the object with a lower score
  for (std::size_t g = 0; g < order.size();) {
    std::size_t end = g;
    Index in = 0, out = 0;
    while (end < order.size() &&
           m.score[static_cast<std::size_t>(order[end])] == m.score[static_cast<std::size_t>(order[g])]) {
      (m.mask[static_cast<std::size_t>(order[end])] ? in : out) += 1;
      ++end;
    }
    wins += static_cast<double>(in) * (static_cast<double>(below) + 0.5 * static_cast<double>(out));
    below += out;
    g = end;
  }
  return wins / (static_cast<double>(m.inside) * static_cast<double>(pixels - m.inside));
}

// ---------------------------------------------------------------- the metrics

namespace {

using K = MetricParameter::Kind;

std::vector<MetricParameter> scoring_parameters(bool positive_key, bool positive) {
  std::vector<MetricParameter> p{
      {"normalise", K::kFlag, 1, 0, 1, {}, "divide the pixel scores by the sample's largest |score| first"},
      {"abs", K::kFlag, 0, 0, 1, {}, "take |score| (after normalising)"}};
  if (positive_key)
    p.push_back({"positive", K::kFlag, positive ? 1.0 : 0.0, 0, 1, {}, "set negative scores to 0 (after abs)"});
  return p;
}

// A score of each sample's heatmap against its mask.
class LocalisationMetric : public ScoreMetric {
 public:
  std::vector<std::string> score_names() const override { return {config_key()}; }
  void validate(const MetricSettings& s, const Network& network, bool has_masks) const override {
    LRP_CHECK(has_masks, s.at, " needs ground-truth masks: data format shapes, an HDF5 masks dataset, or a "
              "sequence task with known relevant steps");
    check(s, network.input_shape());
  }
  virtual double of(std::span<const Scalar> a, std::span<const Scalar> mask, const PixelScoring& p,
                    const MetricSettings& s, std::uint64_t tie_seed) const = 0;

 protected:
  virtual void check(const MetricSettings&, const Shape&) const {}

  // An image [C, H, W] is H·W pixels of C channels; any other input, one channel of features.
  static PixelScoring scoring(const Shape& shape, const MetricSettings& s) {
    PixelScoring p;
    if (shape.size() == 3) p = {shape[0], shape[2]};
    p.normalise = s.flag("normalise");
    p.absolute = s.flag("abs");
    p.positive = s.numbers.count("positive") > 0 && s.flag("positive");
    return p;
  }
  static Index pixels(const Shape& shape) { return numel(shape) / (shape.size() == 3 ? shape[0] : 1); }

  void score(const Range& range, std::span<const MethodView> methods,
             std::span<ScoreValues* const> values) const override {
    const Matrix* masks = range.run.masks;
    LRP_CHECK(masks != nullptr && masks->rows() == range.run.samples(), "internal: ", config_key(),
              " runs without a mask per sample");
    const PixelScoring p = scoring(range.run.network.input_shape(), range.settings);
    const auto features = static_cast<std::size_t>(masks->cols());
    for (std::size_t k = 0; k < methods.size(); ++k) {
      if (values[k] == nullptr) continue;
      const Matrix& r = methods[k].relevance.data;
      for (Index i = range.begin; i < range.begin + range.count; ++i) {
        const std::uint64_t tie_seed =
            sample_seed(range.settings.seed, range.run.sample_ids[static_cast<std::size_t>(i)], kLocalisationTieStream);
        values[k]->score(0)[i] = of({r.row(i).data(), features}, {masks->row(i).data(), features}, p,
                                    range.settings, tie_seed);
      }
      advance_progress(range.count);
    }
  }
};

class RelevanceMassAccuracyMetric final : public LocalisationMetric {
 public:
  const char* config_key() const override { return "relevance_mass_accuracy"; }
  const char* meaning() const override {
    return "share of the positive relevance on the object's mask (Arras et al. 2022); in [0, 1], higher is better";
  }
  std::vector<MetricParameter> parameters() const override { return scoring_parameters(true, true); }
  double of(std::span<const Scalar> a, std::span<const Scalar> mask, const PixelScoring& p, const MetricSettings&,
            std::uint64_t) const override {
    return relevance_mass_accuracy(a, mask, p);
  }
};

class RelevanceRankAccuracyMetric final : public LocalisationMetric {
 public:
  const char* config_key() const override { return "relevance_rank_accuracy"; }
  const char* meaning() const override {
    return "share of the object among the K most relevant pixels, K its size (Arras et al. 2022); in [0, 1], "
           "higher is better";
  }
  std::vector<MetricParameter> parameters() const override { return scoring_parameters(false, false); }
  double of(std::span<const Scalar> a, std::span<const Scalar> mask, const PixelScoring& p, const MetricSettings&,
            std::uint64_t tie_seed) const override {
    return relevance_rank_accuracy(a, mask, p, tie_seed);
  }
};

class PointingGameMetric final : public LocalisationMetric {
 public:
  const char* config_key() const override { return "pointing_game"; }
  const char* meaning() const override {
    return "1 when the most relevant pixel is on the object, else 0 (Zhang et al. 2018); the mean is the hit rate, "
           "higher is better";
  }
  std::vector<MetricParameter> parameters() const override {
    std::vector<MetricParameter> p = scoring_parameters(false, false);
    p.push_back({"tolerance", K::kNumber, 0, 0, 1e6, {}, "a hit within this many pixels of the object counts"});
    p.push_back({"weighted", K::kFlag, 0, 0, 1, {}, "a hit scores 1 minus the object's share of the pixels"});
    return p;
  }
  double of(std::span<const Scalar> a, std::span<const Scalar> mask, const PixelScoring& p, const MetricSettings& s,
            std::uint64_t tie_seed) const override {
    return pointing_game(a, mask, p, tie_seed, s.number("tolerance"), s.flag("weighted"));
  }

 protected:
  void check(const MetricSettings& s, const Shape& shape) const override {
    LRP_CHECK(s.number("tolerance") == 0 || shape.size() == 3, s.at, ".tolerance needs image inputs [channels, "
              "height, width]; the model's input is ", to_string(shape));
  }
};

class TopKIntersectionMetric final : public LocalisationMetric {
 public:
  const char* config_key() const override { return "top_k_intersection"; }
  const char* meaning() const override {
    return "share of the k most relevant pixels that lie on the object (Theiner et al. 2021); in [0, 1], higher is "
           "better";
  }
  std::vector<MetricParameter> parameters() const override {
    std::vector<MetricParameter> p = scoring_parameters(false, false);
    p.push_back({"k", K::kWhole, 16, 1, 1e9, {}, "the number of most relevant pixels"});
    p.push_back({"concept_influence", K::kFlag, 0, 0, 1, {}, "divide by the object's share of the pixels"});
    return p;
  }
  double of(std::span<const Scalar> a, std::span<const Scalar> mask, const PixelScoring& p, const MetricSettings& s,
            std::uint64_t tie_seed) const override {
    return top_k_intersection(a, mask, p, s.whole("k"), tie_seed, s.flag("concept_influence"));
  }

 protected:
  void check(const MetricSettings& s, const Shape& shape) const override {
    LRP_CHECK(s.whole("k") < pixels(shape), s.at, ".k = ", s.whole("k"), " must be below the input's ", pixels(shape),
              " pixels");
  }
};

class AttributionLocalisationMetric final : public LocalisationMetric {
 public:
  const char* config_key() const override { return "attribution_localisation"; }
  const char* meaning() const override {
    return "share of the positive relevance inside the object's mask (Kohlbrenner et al. 2020); in [0, 1] (weighted: "
           "divided by the object's share), higher is better";
  }
  std::vector<MetricParameter> parameters() const override {
    std::vector<MetricParameter> p = scoring_parameters(true, true);
    p.push_back({"weighted", K::kFlag, 0, 0, 1, {}, "divide by the object's share of the pixels"});
    return p;
  }
  double of(std::span<const Scalar> a, std::span<const Scalar> mask, const PixelScoring& p, const MetricSettings& s,
            std::uint64_t) const override {
    return attribution_localisation(a, mask, p, s.flag("weighted"));
  }
};

class RocAucMetric final : public LocalisationMetric {
 public:
  const char* config_key() const override { return "roc_auc"; }
  const char* meaning() const override {
    return "area under the ROC curve of the pixel relevance as a detector of the object, ties counting one half "
           "(Quantus's AUC); 0.5 is chance, higher is better";
  }
  std::vector<MetricParameter> parameters() const override { return scoring_parameters(false, false); }
  double of(std::span<const Scalar> a, std::span<const Scalar> mask, const PixelScoring& p, const MetricSettings&,
            std::uint64_t) const override {
    return roc_auc(a, mask, p);
  }
};

}  // namespace

const Metric& relevance_mass_accuracy_metric() {
  static const RelevanceMassAccuracyMetric metric;
  return metric;
}
const Metric& relevance_rank_accuracy_metric() {
  static const RelevanceRankAccuracyMetric metric;
  return metric;
}
const Metric& pointing_game_metric() {
  static const PointingGameMetric metric;
  return metric;
}
const Metric& top_k_intersection_metric() {
  static const TopKIntersectionMetric metric;
  return metric;
}
const Metric& attribution_localisation_metric() {
  static const AttributionLocalisationMetric metric;
  return metric;
}
const Metric& roc_auc_metric() {
  static const RocAucMetric metric;
  return metric;
}

}  // namespace lrp
