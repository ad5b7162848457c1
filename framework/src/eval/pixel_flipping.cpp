// Pixel flipping / region perturbation (docs/metrics.md, "Pixel flipping"): regions, orders, the
// perturbed forward passes, the curves and their AOPC, ABPC and AUC scores. Its entry in the metric
// table is pixel_flipping_metric.cpp.
#include "lrp/eval/metrics.hpp"

#include "lrp/core/error.hpp"
#include "lrp/core/progress.hpp"
#include "lrp/core/random.hpp"
#include "lrp/nn/model.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>

namespace lrp {

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

}  // namespace

FillValues fill_to_network_units(const FillValues& raw, const Shape& shape, const InputNormalization& normalization) {
  LRP_CHECK(!shape.empty(), "pixel flipping fill: samples have an empty shape");
  const Index channels = shape[0];
  normalization.validate(channels, "pixel flipping fill");
  auto per_channel = [&](const std::vector<double>& values, const char* name) {
    std::vector<double> out;
    if (values.empty()) return out;
    LRP_CHECK(values.size() == 1 || static_cast<Index>(values.size()) == channels, "pixel flipping fill: '", name,
              "' has ", values.size(), " values, expected 1 or one per channel (", channels, ")");
    for (Index ch = 0; ch < channels; ++ch)
      out.push_back(to_network_units(values[values.size() == 1 ? 0 : static_cast<size_t>(ch)], ch, normalization));
    return out;
  };
  FillValues out;
  out.low = per_channel(raw.low, "low");
  out.high = per_channel(raw.high, "high");
  out.constant = per_channel(raw.constant, "constant");
  if (raw.mean.size() > 0) {
    LRP_CHECK(raw.mean.rows() == 1 && raw.mean.cols() == numel(shape), "pixel flipping fill: the mean image is ",
              raw.mean.rows(), " × ", raw.mean.cols(), ", expected 1 × ", numel(shape));
    out.mean = normalize_inputs(Tensor(shape, raw.mean), normalization).data;
  }
  return out;
}

std::vector<std::vector<Index>> perturbation_regions(const Shape& shape, Index patch) {
  LRP_CHECK(patch >= 1, "pixel flipping: 'patch' must be ≥ 1, got ", patch);
  std::vector<std::vector<Index>> regions;
  if (shape.size() == 1) {
    const Index features = shape[0];
    for (Index begin = 0; begin < features; begin += patch) {
      std::vector<Index>& region = regions.emplace_back();
      for (Index f = begin; f < std::min(features, begin + patch); ++f) region.push_back(f);
    }
    return regions;
  }
  if (shape.size() == 2) {  // [T, D]: runs of `patch` time steps with all their features
    const Index steps = shape[0], features = shape[1];
    for (Index begin = 0; begin < steps; begin += patch) {
      std::vector<Index>& region = regions.emplace_back();
      for (Index t = begin; t < std::min(steps, begin + patch); ++t)
        for (Index d = 0; d < features; ++d) region.push_back(t * features + d);
    }
    return regions;
  }
  LRP_CHECK(shape.size() == 3, "pixel flipping: samples of shape ", to_string(shape),
            " are not supported (expected [features], [time steps, features] or [channels, height, width])");
  const Index channels = shape[0], height = shape[1], width = shape[2];
  for (Index top = 0; top < height; top += patch) {
    for (Index left = 0; left < width; left += patch) {
      std::vector<Index>& region = regions.emplace_back();
      for (Index ch = 0; ch < channels; ++ch)
        for (Index y = top; y < std::min(height, top + patch); ++y)
          for (Index x = left; x < std::min(width, left + patch); ++x) region.push_back((ch * height + y) * width + x);
    }
  }
  return regions;
}

std::vector<double> region_scores(const Scalar* relevance, const std::vector<std::vector<Index>>& regions) {
  std::vector<double> scores;
  scores.reserve(regions.size());
  for (const std::vector<Index>& region : regions) {
    double sum = 0.0;
    for (const Index f : region) sum += static_cast<double>(relevance[f]);
    scores.push_back(sum);
  }
  return scores;
}

std::vector<Index> random_region_order(Index regions, std::uint64_t seed) {
  std::vector<Index> order(static_cast<size_t>(regions));
  std::iota(order.begin(), order.end(), Index(0));
  std::mt19937_64 rng(seed);
  shuffle(order, rng);
  return order;
}

std::vector<Index> region_order(const std::vector<double>& scores, RegionOrder order, std::uint64_t tie_seed) {
  const auto count = static_cast<Index>(scores.size());
  for (Index r = 0; r < count; ++r)
    LRP_CHECK(std::isfinite(scores[static_cast<size_t>(r)]), "pixel flipping: the score of region ", r,
              " is not finite");
  std::vector<Index> key(scores.size());
  const std::vector<Index> permutation = random_region_order(count, tie_seed);
  for (Index p = 0; p < count; ++p) key[static_cast<size_t>(permutation[static_cast<size_t>(p)])] = p;
  std::vector<Index> result(scores.size());
  std::iota(result.begin(), result.end(), Index(0));
  const double sign = order == RegionOrder::kMorf ? -1.0 : 1.0;  // morf: descending score
  std::sort(result.begin(), result.end(), [&](Index a, Index b) {
    const double sa = sign * scores[static_cast<size_t>(a)], sb = sign * scores[static_cast<size_t>(b)];
    if (sa != sb) return sa < sb;
    return key[static_cast<size_t>(a)] < key[static_cast<size_t>(b)];
  });
  return result;
}

double aopc(const Eigen::VectorXd& curve) {
  LRP_CHECK(curve.size() >= 1, "aopc: empty curve");
  double sum = 0.0;
  for (Index k = 0; k < curve.size(); ++k) sum += curve[0] - curve[k];
  return sum / static_cast<double>(curve.size());
}

double abpc(const Eigen::VectorXd& lerf, const Eigen::VectorXd& morf) {
  LRP_CHECK(lerf.size() >= 1 && lerf.size() == morf.size(), "abpc: curves of ", lerf.size(), " and ", morf.size(),
            " values, expected two curves of the same non-zero length");
  double sum = 0.0;
  for (Index k = 0; k < lerf.size(); ++k) sum += lerf[k] - morf[k];
  return sum / static_cast<double>(lerf.size());
}

double auc(const Eigen::VectorXd& curve) {
  LRP_CHECK(curve.size() >= 1, "auc: empty curve");
  double sum = 0.0;
  for (Index k = 0; k + 1 < curve.size(); ++k) sum += 0.5 * (curve[k] + curve[k + 1]);
  return sum;
}

namespace {

// Checks that `values` has 1 or `channels` finite values (parameter `name` of the fill).
void check_per_channel(const std::vector<double>& values, Index channels, const char* fill, const char* name) {
  LRP_CHECK(values.size() == 1 || static_cast<Index>(values.size()) == channels, "pixel flipping: fill '", fill,
            "' needs '", name, "' with 1 value or one per channel (", channels, "), got ", values.size());
  for (const double v : values) LRP_CHECK(std::isfinite(v), "pixel flipping: fill '", fill, "': '", name, "' is not finite");
}

double channel_value(const std::vector<double>& values, Index channel) {
  return values[values.size() == 1 ? 0 : static_cast<size_t>(channel)];
}

void check_fill(const FillValues& fill, PerturbationFill kind, const Shape& shape) {
  const Index channels = shape[0];
  switch (kind) {
    case PerturbationFill::kUniform:
      check_per_channel(fill.low, channels, "uniform", "low");
      check_per_channel(fill.high, channels, "uniform", "high");
      for (Index ch = 0; ch < channels; ++ch)
        LRP_CHECK(channel_value(fill.low, ch) < channel_value(fill.high, ch), "pixel flipping: fill 'uniform' needs low < high",
                  " (channel ", ch, ": low ", channel_value(fill.low, ch), ", high ", channel_value(fill.high, ch), ")");
      break;
    case PerturbationFill::kConstant: check_per_channel(fill.constant, channels, "constant", "constant"); break;
    case PerturbationFill::kMean:
      LRP_CHECK(fill.mean.rows() == 1 && fill.mean.cols() == numel(shape), "pixel flipping: fill 'mean' needs a 1 × ",
                numel(shape), " mean image, got ", fill.mean.rows(), " × ", fill.mean.cols());
      LRP_CHECK(all_finite(fill.mean), "pixel flipping: fill 'mean': the mean image has NaN or Inf values");
      break;
  }
}

// The fill image of one sample (1 × features): its noise image, the constant or the mean image.
void make_fill_row(const FillValues& fill, const PixelFlippingOptions& options, const Shape& shape, Index sample_id,
                   Scalar* out) {
  const Index features = numel(shape), plane = features / shape[0];
  switch (options.fill) {
    case PerturbationFill::kUniform: {
      std::mt19937_64 rng(sample_seed(options.seed, sample_id, kPixelFlippingNoiseStream));
      for (Index f = 0; f < features; ++f) {
        const double low = channel_value(fill.low, f / plane), high = channel_value(fill.high, f / plane);
        out[f] = static_cast<Scalar>(low + (high - low) * uniform01(rng));
      }
      break;
    }
    case PerturbationFill::kConstant:
      for (Index f = 0; f < features; ++f) out[f] = static_cast<Scalar>(channel_value(fill.constant, f / plane));
      break;
    case PerturbationFill::kMean:
      for (Index f = 0; f < features; ++f) out[f] = fill.mean(0, f);
      break;
  }
}

// Softmax probability of class c for one row of logits (in double, shifted by the maximum).
double softmax_probability(const Scalar* logits, Index classes, Index c) {
  double top = static_cast<double>(logits[0]);
  for (Index j = 1; j < classes; ++j) top = std::max(top, static_cast<double>(logits[j]));
  double sum = 0.0;
  for (Index j = 0; j < classes; ++j) sum += std::exp(static_cast<double>(logits[j]) - top);
  return std::exp(static_cast<double>(logits[c]) - top) / sum;
}

// Checks the options and inputs shared by pixel_flipping and random_order_curves (relevance may
// be null: the random baseline needs none); returns the regions.
std::vector<std::vector<Index>> check_pixel_flipping(const Network& network, const Tensor& x,
                                                     const std::vector<Index>& targets, const Tensor* relevance,
                                                     const std::vector<Index>& sample_ids, const FillValues& fill,
                                                     const PixelFlippingOptions& options) {
  LRP_CHECK(options.patch >= 1, "pixel flipping: 'patch' must be ≥ 1, got ", options.patch);
  LRP_CHECK(options.random_repeats >= 0, "pixel flipping: 'random_repeats' must be ≥ 0, got ", options.random_repeats);
  LRP_CHECK(options.steps >= 0, "pixel flipping: 'steps' must be ≥ 0 (0 = all regions), got ", options.steps);
  LRP_CHECK(options.threads >= 1, "pixel flipping: 'threads' must be ≥ 1, got ", options.threads);
  LRP_CHECK(options.rows_per_pass >= 1, "pixel flipping: 'rows_per_pass' must be ≥ 1, got ", options.rows_per_pass);

  const Shape& shape = network.input_shape();
  const Index features = numel(shape), n = x.batch();
  LRP_CHECK(x.shape == shape && x.features() == features, "pixel flipping: the inputs have shape ", to_string(x.shape),
            ", the network expects ", to_string(shape));
  if (relevance != nullptr)
    LRP_CHECK(relevance->shape == shape && relevance->features() == features && relevance->batch() == n,
              "pixel flipping: the relevance is ", relevance->batch(), " × ", to_string(relevance->shape), ", expected ",
              n, " × ", to_string(shape), " (one map per input sample)");
  LRP_CHECK(static_cast<Index>(targets.size()) == n, "pixel flipping: ", targets.size(), " targets for ", n, " samples");
  LRP_CHECK(static_cast<Index>(sample_ids.size()) == n, "pixel flipping: ", sample_ids.size(), " sample ids for ", n,
            " samples");
  const Index classes = numel(network.output_shape());
  for (Index i = 0; i < n; ++i) {
    const Index c = targets[static_cast<size_t>(i)];
    LRP_CHECK(c >= 0 && c < classes, "pixel flipping: target ", c, " of sample ", i, " is out of range [0, ", classes, ")");
    LRP_CHECK(sample_ids[static_cast<size_t>(i)] >= 0, "pixel flipping: sample id ", sample_ids[static_cast<size_t>(i)],
              " of sample ", i, " is negative");
    if (relevance != nullptr)
      LRP_CHECK(all_finite(relevance->data.row(i)), "pixel flipping: the relevance of sample ", i,
                " has NaN or Inf values");
  }
  LRP_CHECK(all_finite(x.data), "pixel flipping: the inputs have NaN or Inf values");
  network.check_lengths(x.lengths, n, "pixel flipping");
  check_fill(fill, options.fill, shape);

  std::vector<std::vector<Index>> regions = perturbation_regions(shape, options.patch);
  LRP_CHECK(options.steps <= static_cast<Index>(regions.size()), "pixel flipping: 'steps' = ", options.steps,
            " exceeds the ", regions.size(), " regions of patch ", options.patch, " on samples of shape ",
            to_string(shape));
  return regions;
}

// One order of regions per sample and the two curves it produces.
struct OrderedCurves {
  const IndexMatrix* order;  // N × L
  Matrix* logit;             // N × (L+1)
  Matrix* probability;
};

// Evaluates f_c along every order. Sample i's rows: j = 0 is x itself, then for order o the copies
// k = 1..L at j = 1 + o·L + (k − 1). They are cut into passes of rows_per_pass rows counted from
// the sample's first row, each pass holding this sample only, so its numbers do not depend on the
// other samples or on the threads.
void evaluate_orders(const Network& network, const Tensor& x, const std::vector<Index>& targets,
                     const std::vector<Index>& sample_ids, const FillValues& fill, const PixelFlippingOptions& options,
                     const std::vector<std::vector<Index>>& regions, Index steps,
                     const std::vector<OrderedCurves>& orders) {
  const Shape& shape = network.input_shape();
  const Index features = numel(shape), n = x.batch(), classes = numel(network.output_shape());
  const auto order_count = static_cast<Index>(orders.size());
  if (order_count == 0 || n == 0) return;
  const Index rows_per_sample = 1 + order_count * steps;
  const Index pass_rows = std::min(options.rows_per_pass, rows_per_sample);
  const Index passes_per_sample = (rows_per_sample + pass_rows - 1) / pass_rows;

  Progress* const progress = current_progress();  // the caller's thread's; advanced by the workers
  parallel_chunks(n * passes_per_sample, options.threads, [&](int, Index begin, Index end) {
    Tensor batch(pass_rows, shape);
    ForwardPass pass;
    Matrix fill_row(1, features);
    Index fill_sample = -1;
    for (Index item = begin; item < end; ++item) {
      const Index i = item / passes_per_sample;
      const Index first = (item % passes_per_sample) * pass_rows;
      const Index rows = std::min(pass_rows, rows_per_sample - first);
      if (fill_sample != i) {
        make_fill_row(fill, options, shape, sample_ids[static_cast<size_t>(i)], fill_row.data());
        fill_sample = i;
      }
      if (batch.data.rows() != rows) batch.data.resize(rows, features);
      // Every copy keeps the sample's sequence length: perturbing its padding changes nothing.
      if (!x.lengths.empty()) batch.lengths.assign(static_cast<size_t>(rows), x.lengths[static_cast<size_t>(i)]);
      auto perturb = [&](Index r, Index region) {
        for (const Index f : regions[static_cast<size_t>(region)]) batch.data(r, f) = fill_row(0, f);
      };
      for (Index r = 0; r < rows; ++r) {
        const Index j = first + r;
        if (j == 0) {
          batch.data.row(r) = x.data.row(i);
          continue;
        }
        const Index o = (j - 1) / steps, k = (j - 1) % steps + 1;
        const Index* order = &(*orders[static_cast<size_t>(o)].order)(i, 0);
        if (r > 0 && k > 1) {  // the previous row is step k − 1 of the same order
          batch.data.row(r) = batch.data.row(r - 1);
          perturb(r, order[k - 1]);
        } else {
          batch.data.row(r) = x.data.row(i);
          for (Index m = 0; m < k; ++m) perturb(r, order[m]);
        }
      }
      network.forward(batch, pass, 1);
      const Matrix& logits = pass.logits();
      const Index c = targets[static_cast<size_t>(i)];
      for (Index r = 0; r < rows; ++r) {
        const Index j = first + r;
        const Scalar logit = logits(r, c);
        const auto probability = static_cast<Scalar>(softmax_probability(logits.row(r).data(), classes, c));
        if (j == 0) {
          for (const OrderedCurves& oc : orders) {
            (*oc.logit)(i, 0) = logit;
            (*oc.probability)(i, 0) = probability;
          }
          continue;
        }
        const OrderedCurves& oc = orders[static_cast<size_t>((j - 1) / steps)];
        const Index k = (j - 1) % steps + 1;
        (*oc.logit)(i, k) = logit;
        (*oc.probability)(i, k) = probability;
      }
      if (progress != nullptr && (item + 1) % passes_per_sample == 0) progress->advance();  // sample i is done
    }
  });
}

// The random orders of every sample (only the first `steps` regions are kept) and their seeds.
void draw_random_orders(const std::vector<Index>& sample_ids, Index region_count, Index steps,
                        const PixelFlippingOptions& options, std::vector<IndexMatrix>& orders,
                        std::vector<std::vector<std::uint64_t>>& seeds) {
  const auto n = static_cast<Index>(sample_ids.size());
  const auto repeat_count = static_cast<size_t>(options.random_repeats);
  orders.assign(repeat_count, IndexMatrix(n, steps));
  seeds.assign(repeat_count, std::vector<std::uint64_t>(static_cast<size_t>(n)));
  parallel_chunks(n, options.threads, [&](int, Index begin, Index end) {
    for (Index i = begin; i < end; ++i) {
      for (size_t q = 0; q < repeat_count; ++q) {
        const std::uint64_t seed =
            sample_seed(options.seed, sample_ids[static_cast<size_t>(i)], kPixelFlippingRandomOrderStream + q);
        seeds[q][static_cast<size_t>(i)] = seed;
        const std::vector<Index> order = random_region_order(region_count, seed);
        for (Index k = 0; k < steps; ++k) orders[q](i, k) = order[static_cast<size_t>(k)];
      }
    }
  });
}

PixelFlippingResult run_pixel_flipping(const Network& network, const Tensor& x, const std::vector<Index>& targets,
                                       const Tensor& relevance, const std::vector<Index>& sample_ids,
                                       const FillValues& fill, const PixelFlippingOptions& options,
                                       const RandomOrderCurves* shared) {
  const std::vector<std::vector<Index>> regions =
      check_pixel_flipping(network, x, targets, &relevance, sample_ids, fill, options);
  const auto region_count = static_cast<Index>(regions.size());
  const Index steps = options.steps == 0 ? region_count : options.steps;
  const Index n = x.batch();
  if (shared != nullptr) {
    LRP_CHECK(shared->regions == region_count && shared->steps == steps && shared->patch == options.patch &&
                  shared->seed == options.seed && shared->fill == options.fill &&
                  static_cast<Index>(shared->random.size()) == options.random_repeats &&
                  shared->sample_ids == sample_ids && shared->targets == targets,
              "pixel flipping: the shared random-order curves were computed for other samples, targets or options "
              "(patch, steps, seed, fill, random_repeats)");
  }

  PixelFlippingResult result;
  result.regions = region_count;
  result.steps = steps;
  result.morf.resize(n, steps + 1);
  result.lerf.resize(n, steps + 1);
  result.morf_probability.resize(n, steps + 1);
  result.lerf_probability.resize(n, steps + 1);
  result.morf_order.resize(n, steps);
  result.lerf_order.resize(n, steps);

  // 1. orders, once per sample on the original heatmap (only the first L regions are kept).
  parallel_chunks(n, options.threads, [&](int, Index begin, Index end) {
    for (Index i = begin; i < end; ++i) {
      const Index id = sample_ids[static_cast<size_t>(i)];
      const std::vector<double> scores = region_scores(relevance.data.row(i).data(), regions);
      const std::uint64_t tie_seed = sample_seed(options.seed, id, kPixelFlippingTieStream);
      const std::vector<Index> morf = region_order(scores, RegionOrder::kMorf, tie_seed);
      const std::vector<Index> lerf = region_order(scores, RegionOrder::kLerf, tie_seed);
      for (Index k = 0; k < steps; ++k) {
        result.morf_order(i, k) = morf[static_cast<size_t>(k)];
        result.lerf_order(i, k) = lerf[static_cast<size_t>(k)];
      }
    }
  });
  std::vector<OrderedCurves> orders{{&result.morf_order, &result.morf, &result.morf_probability},
                                    {&result.lerf_order, &result.lerf, &result.lerf_probability}};
  const auto repeat_count = static_cast<size_t>(options.random_repeats);
  std::vector<IndexMatrix> random_orders;
  if (shared != nullptr) {
    result.random = shared->random;
    result.random_probability = shared->random_probability;
    result.random_seeds = shared->random_seeds;
  } else {
    draw_random_orders(sample_ids, region_count, steps, options, random_orders, result.random_seeds);
    result.random.assign(repeat_count, Matrix(n, steps + 1));
    result.random_probability.assign(repeat_count, Matrix(n, steps + 1));
    for (size_t q = 0; q < repeat_count; ++q)
      orders.push_back({&random_orders[q], &result.random[q], &result.random_probability[q]});
  }

  // 2. curves.
  evaluate_orders(network, x, targets, sample_ids, fill, options, regions, steps, orders);

  // 3. scores per sample and their summaries.
  PixelFlippingScores& s = result.scores;
  s.aopc_morf.resize(n);
  s.aopc_lerf.resize(n);
  s.abpc.resize(n);
  s.auc_morf.resize(n);
  s.aopc_morf_vs_random.resize(n);
  for (Index i = 0; i < n; ++i) {
    const Eigen::VectorXd morf = result.morf.row(i).transpose().cast<double>();
    const Eigen::VectorXd lerf = result.lerf.row(i).transpose().cast<double>();
    s.aopc_morf[i] = aopc(morf);
    s.aopc_lerf[i] = aopc(lerf);
    s.abpc[i] = abpc(lerf, morf);
    s.auc_morf[i] = auc(morf);
    if (repeat_count == 0) {
      s.aopc_morf_vs_random[i] = kNaN;
      continue;
    }
    double random_mean = 0.0;
    for (size_t q = 0; q < repeat_count; ++q) random_mean += aopc(result.random[q].row(i).transpose().cast<double>());
    s.aopc_morf_vs_random[i] = s.aopc_morf[i] - random_mean / static_cast<double>(repeat_count);
  }
  result.summary = summarize(s);
  return result;
}

}  // namespace

PixelFlippingSummary summarize(const PixelFlippingScores& s) {
  return {summarize(s.aopc_morf), summarize(s.aopc_lerf), summarize(s.abpc), summarize(s.auc_morf),
          summarize(s.aopc_morf_vs_random)};
}

RandomOrderCurves random_order_curves(const Network& network, const Tensor& x, const std::vector<Index>& targets,
                                      const std::vector<Index>& sample_ids, const FillValues& fill,
                                      const PixelFlippingOptions& options) {
  const std::vector<std::vector<Index>> regions =
      check_pixel_flipping(network, x, targets, nullptr, sample_ids, fill, options);
  RandomOrderCurves r;
  r.regions = static_cast<Index>(regions.size());
  r.steps = options.steps == 0 ? r.regions : options.steps;
  r.patch = options.patch;
  r.seed = options.seed;
  r.fill = options.fill;
  r.sample_ids = sample_ids;
  r.targets = targets;
  const Index n = x.batch();
  std::vector<IndexMatrix> random_orders;
  draw_random_orders(sample_ids, r.regions, r.steps, options, random_orders, r.random_seeds);
  const auto repeat_count = static_cast<size_t>(options.random_repeats);
  r.random.assign(repeat_count, Matrix(n, r.steps + 1));
  r.random_probability.assign(repeat_count, Matrix(n, r.steps + 1));
  std::vector<OrderedCurves> orders;
  for (size_t q = 0; q < repeat_count; ++q) orders.push_back({&random_orders[q], &r.random[q], &r.random_probability[q]});
  evaluate_orders(network, x, targets, sample_ids, fill, options, regions, r.steps, orders);
  return r;
}

PixelFlippingResult pixel_flipping(const Network& network, const Tensor& x, const std::vector<Index>& targets,
                                   const Tensor& relevance, const std::vector<Index>& sample_ids,
                                   const FillValues& fill, const PixelFlippingOptions& options) {
  return run_pixel_flipping(network, x, targets, relevance, sample_ids, fill, options, nullptr);
}

PixelFlippingResult pixel_flipping(const Network& network, const Tensor& x, const std::vector<Index>& targets,
                                   const Tensor& relevance, const std::vector<Index>& sample_ids,
                                   const FillValues& fill, const PixelFlippingOptions& options,
                                   const RandomOrderCurves& random) {
  return run_pixel_flipping(network, x, targets, relevance, sample_ids, fill, options, &random);
}

}  // namespace lrp
