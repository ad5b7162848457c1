#include "lrp/methods/methods.hpp"

#include "lrp/core/error.hpp"
#include "lrp/propagation/explain.hpp"
#include "lrp/core/random.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <random>

namespace lrp {

namespace {

constexpr const char* kIG = "integrated_gradients";
constexpr const char* kSmoothGrad = "smoothgrad";
constexpr const char* kOcclusion = "occlusion";
constexpr const char* kRandom = "random_relevance";

// ∂f_c/∂x through Explainer::gradient. keep_layer_relevance makes every layer write its input
// gradient into the explanation's own (aligned) matrices instead of the thread's scratch buffers:
// Eigen computes the unaligned head of a destination outside its vectorized loop, and the scalar and
// packet paths of exp, tanh and small products round differently, so gradients computed into
// scratch memory would depend on where that memory lies (the thread, the history of the buffers).
// With it, the same rows give the same bits on every call and thread.
const ExplainOptions kGradientOptions{.seed = SeedKind::kOneHot, .keep_layer_relevance = true, .threads = 1};

// The per-channel `values` spread over one sample's features (1 × features).
Eigen::RowVectorXd channel_row(const ChannelValues& values, const Shape& shape, const char* method,
                               const char* option) {
  const Index channels = shape.front(), features = numel(shape), per_channel = features / channels;
  LRP_CHECK(values.size() == 1 || static_cast<Index>(values.size()) == channels, method, ": option '", option,
            "' has ", values.size(), " values; expected 1 or one per input channel (", channels, ")");
  for (double v : values)
    LRP_CHECK(std::isfinite(v), method, ": option '", option, "' holds a non-finite value (", v, ")");
  Eigen::RowVectorXd row(features);
  for (Index c = 0; c < channels; ++c)
    row.segment(c * per_channel, per_channel).setConstant(values.size() == 1 ? values[0] : values[static_cast<size_t>(c)]);
  return row;
}

// What every method checks first: the input's shape and values, one valid target per sample,
// threads ≥ 1.
void check_inputs(const char* method, const Network& network, const Tensor& x, const std::vector<Index>& targets,
                  int threads) {
  LRP_CHECK(x.shape == network.input_shape() && x.features() == numel(network.input_shape()), method,
            ": input samples have shape ", to_string(x.shape), ", the network expects ", to_string(network.input_shape()));
  const Index n = x.batch(), classes = numel(network.output_shape());
  LRP_CHECK(static_cast<Index>(targets.size()) == n, method, ": ", targets.size(), " targets for ", n,
            " samples; expected one per sample");
  for (Index i = 0; i < n; ++i) {
    const Index c = targets[static_cast<size_t>(i)];
    LRP_CHECK(c >= 0 && c < classes, method, ": target ", c, " of sample ", i, " is out of range [0, ", classes, ")");
  }
  LRP_CHECK(threads >= 1, method, ": threads must be ≥ 1, got ", threads);
  network.check_lengths(x.lengths, n, method);
  if (!all_finite(x.data)) {
    for (Index r = 0; r < n; ++r)
      for (Index f = 0; f < x.features(); ++f)
        LRP_CHECK(std::isfinite(x.data(r, f)), method, ": the input contains NaN or Inf (sample ", r, ", feature ", f,
                  " is ", x.data(r, f), ")");
  }
}

Index batch_rows_of(Index requested, const Network& network, const char* method) {
  LRP_CHECK(requested >= 0, method, ": option 'batch_rows' must be ≥ 0 (0: automatic), got ", requested);
  return requested > 0 ? requested : default_batch_rows(network);
}

// How occlusion sees an input shape: inputs [C, H, W] are C planes H × W; [D] is one 1 × D row;
// a sequence [T, D] is one T × D plane whose windows span whole time steps by default.
enum class OcclusionLayout { kImage, kFlat, kSequence };

// An occlusion window or stride: [s] or [h, w], every value ≥ 1. A single value s means s × s on
// images, 1 × s on [D] inputs (the window), and s time steps × all `width` features on sequences.
std::array<Index, 2> window_dims(const std::vector<Index>& v, const char* option, OcclusionLayout layout, bool is_window,
                                 Index width) {
  LRP_CHECK(v.size() == 1 || v.size() == 2, kOcclusion, ": option '", option, "' has ", v.size(),
            " values; expected [size] or [height, width]");
  for (Index d : v) LRP_CHECK(d >= 1, kOcclusion, ": option '", option, "' must be ≥ 1, got ", d);
  if (v.size() == 2) return {v[0], v[1]};
  if (layout == OcclusionLayout::kSequence) return {v[0], width};
  return {layout == OcclusionLayout::kFlat && is_window ? Index{1} : v[0], v[0]};
}

}  // namespace

ChannelValues channel_values_in_network_units(double raw, const InputNormalization& normalization, Index channels) {
  normalization.validate(channels, "channel_values_in_network_units");
  const Index count = normalization.mean.size() == 1 && normalization.std.size() == 1 ? 1 : channels;
  ChannelValues out(static_cast<size_t>(count));
  for (Index c = 0; c < count; ++c) out[static_cast<size_t>(c)] = to_network_units(raw, c, normalization);
  return out;
}

Index default_batch_rows(const Network& network) {
  constexpr Index kBudgetValues = Index{1} << 23;
  // Per row: the input copy, the activations, the gradient at every layer's input (kept, see
  // kGradientOptions) and at the input.
  Index per_row = 2 * numel(network.input_shape());
  for (Index l = 0; l < network.size(); ++l)
    per_row += numel(network.layer(l).input_shape()) + numel(network.layer(l).output_shape());
  return std::max<Index>(1, kBudgetValues / per_row);
}

// ---------------------------------------------------------------- integrated gradients

Tensor integrated_gradients(const Network& network, const Registry& registry, const Tensor& x,
                            const std::vector<Index>& targets, const IntegratedGradientsOptions& options, int threads) {
  check_inputs(kIG, network, x, targets, threads);
  const Index steps = options.steps;
  LRP_CHECK(steps >= 1, kIG, ": option 'steps' must be ≥ 1, got ", steps);
  const Index chunk = batch_rows_of(options.batch_rows, network, kIG);
  const Index n = x.batch(), features = x.features();

  // The baseline: one row for every sample, or one row per sample.
  Matrix baseline;
  if (options.baseline_tensor) {
    LRP_CHECK(options.baseline == ChannelValues{0.0}, kIG,
              ": options 'baseline' and 'baseline_tensor' are both set; give one of them");
    const Tensor& b = *options.baseline_tensor;
    LRP_CHECK(b.shape == x.shape && b.features() == features, kIG, ": option 'baseline_tensor' has samples of shape ",
              to_string(b.shape), ", expected the input shape ", to_string(x.shape));
    LRP_CHECK(b.batch() == 1 || b.batch() == n, kIG, ": option 'baseline_tensor' has ", b.batch(),
              " rows; expected 1 (for every sample) or one per sample (", n, ")");
    LRP_CHECK(all_finite(b.data), kIG, ": option 'baseline_tensor' contains NaN or Inf");
    baseline = b.data;
  } else {
    baseline = channel_row(options.baseline, x.shape, kIG, "baseline").cast<Scalar>();
  }
  const auto baseline_of = [&](Index i) { return baseline.row(baseline.rows() == 1 ? 0 : i); };

  // Rows r = i·M + (m − 1) of the virtual batch of all interpolation points, in passes of `chunk`.
  const Explainer explainer = Explainer::gradient(network, registry);
  Matrix gradient_sum = Matrix::Zero(n, features);
  Tensor points;
  points.shape = x.shape;
  ForwardPass pass;
  std::vector<Index> row_targets;
  const Index total = n * steps;
  for (Index begin = 0; begin < total; begin += chunk) {
    const Index rows = std::min(chunk, total - begin);
    points.data.resize(rows, features);
    row_targets.resize(static_cast<size_t>(rows));
    points.lengths.resize(x.lengths.empty() ? 0 : static_cast<size_t>(rows));  // each copy keeps its sample's length
    for (Index r = 0; r < rows; ++r) {
      const Index i = (begin + r) / steps, m = (begin + r) % steps + 1;
      if (!x.lengths.empty()) points.lengths[static_cast<size_t>(r)] = x.lengths[static_cast<size_t>(i)];
      const Scalar alpha = static_cast<Scalar>(static_cast<double>(m) / static_cast<double>(steps));
      points.data.row(r) = baseline_of(i) + alpha * (x.data.row(i) - baseline_of(i));
      row_targets[static_cast<size_t>(r)] = targets[static_cast<size_t>(i)];
    }
    network.forward(points, pass, threads);
    ExplainOptions gradient_options = kGradientOptions;
    gradient_options.threads = threads;
    const Explanation g = explainer.explain(pass, row_targets, gradient_options);
    for (Index r = 0; r < rows; ++r) gradient_sum.row((begin + r) / steps) += g.relevance.data.row(r);
  }

  Tensor out(n, x.shape);
  out.lengths = x.lengths;
  for (Index i = 0; i < n; ++i)
    out.data.row(i) = (x.data.row(i) - baseline_of(i)).cwiseProduct(gradient_sum.row(i)) / static_cast<Scalar>(steps);
  return out;
}

// ---------------------------------------------------------------- SmoothGrad

Tensor smoothgrad(const Network& network, const Registry& registry, const Tensor& x, const std::vector<Index>& targets,
                  const std::vector<Index>& sample_ids, const SmoothGradOptions& options, int threads) {
  check_inputs(kSmoothGrad, network, x, targets, threads);
  const Index n = x.batch(), features = x.features(), copies = options.samples;
  LRP_CHECK(static_cast<Index>(sample_ids.size()) == n, kSmoothGrad, ": ", sample_ids.size(), " sample ids for ", n,
            " samples; expected one per sample");
  LRP_CHECK(copies >= 1, kSmoothGrad, ": option 'samples' must be ≥ 1, got ", copies);
  LRP_CHECK(std::isfinite(options.sigma) && options.sigma >= 0, kSmoothGrad,
            ": option 'sigma' must be finite and ≥ 0, got ", options.sigma);
  const Eigen::RowVectorXd low = channel_row(options.low, x.shape, kSmoothGrad, "low");
  const Eigen::RowVectorXd high = channel_row(options.high, x.shape, kSmoothGrad, "high");
  for (Index f = 0; f < features; ++f)
    LRP_CHECK(low[f] < high[f], kSmoothGrad, ": options 'low' and 'high' must satisfy low < high on every channel, got [",
              low[f], ", ", high[f], "]");
  const Eigen::RowVectorXd noise_std = options.sigma * (high - low);

  const Explainer explainer = Explainer::gradient(network, registry);
  Tensor out(n, x.shape);
  out.lengths = x.lengths;
  // One pass of N rows per sample, whatever the batch and the threads (see the header).
  parallel_chunks(n, threads, [&](int, Index begin, Index end) {
    Tensor noisy(copies, x.shape);
    ForwardPass pass;
    std::vector<Index> copy_targets(static_cast<size_t>(copies));
    RowVector mean(features);
    for (Index i = begin; i < end; ++i) {
      for (Index k = 0; k < copies; ++k) {
        std::mt19937_64 rng(sample_seed(options.seed, sample_ids[static_cast<size_t>(i)], static_cast<std::uint64_t>(k)));
        for (Index f = 0; f < features; ++f)
          noisy.data(k, f) = x.data(i, f) + static_cast<Scalar>(noise_std[f] * standard_normal(rng));
      }
      std::fill(copy_targets.begin(), copy_targets.end(), targets[static_cast<size_t>(i)]);
      if (!x.lengths.empty()) noisy.lengths.assign(static_cast<size_t>(copies), x.lengths[static_cast<size_t>(i)]);
      network.forward(noisy, pass, 1);
      const Explanation g = explainer.explain(pass, copy_targets, kGradientOptions);
      mean = g.relevance.data.row(0);
      for (Index k = 1; k < copies; ++k) mean += g.relevance.data.row(k);
      out.data.row(i) = mean / static_cast<Scalar>(copies);
    }
  });
  return out;
}

// ---------------------------------------------------------------- occlusion

Tensor occlusion(const Network& network, const Tensor& x, const std::vector<Index>& targets,
                 const OcclusionOptions& options, int threads) {
  check_inputs(kOcclusion, network, x, targets, threads);
  const Shape& shape = x.shape;
  LRP_CHECK(shape.size() >= 1 && shape.size() <= 3, kOcclusion, ": inputs of shape ", to_string(shape),
            " are not supported; expected [C, H, W], a sequence [T, D] or [D]");
  const OcclusionLayout layout = shape.size() == 3   ? OcclusionLayout::kImage
                                 : shape.size() == 2 ? OcclusionLayout::kSequence
                                                     : OcclusionLayout::kFlat;
  const Index planes = layout == OcclusionLayout::kImage ? shape[0] : 1;
  const Index height = layout == OcclusionLayout::kImage ? shape[1] : layout == OcclusionLayout::kSequence ? shape[0] : 1;
  const Index width = shape.back();
  const Index plane = height * width;
  const std::array<Index, 2> window = window_dims(options.window, "window", layout, true, width);
  const std::array<Index, 2> stride =
      options.stride.empty() ? window : window_dims(options.stride, "stride", layout, false, width);
  LRP_CHECK(window[0] <= height && window[1] <= width, kOcclusion, ": the window ", window[0], "×", window[1],
            " does not fit the ", height, "×", width, " input plane");
  const Eigen::RowVectorXd fill_row = channel_row(options.fill, shape, kOcclusion, "fill");
  const Index chunk = batch_rows_of(options.batch_rows, network, kOcclusion);

  // Window positions per sample. With sequence lengths a sample of length L is occluded as the
  // unpadded sequence of L steps would be: its windows lie within its real steps (the rows of a
  // [T, D] plane, the columns of a [T] row), its padding is never occluded and gets relevance 0, and
  // a sample shorter than the window gets no window (relevance 0 everywhere).
  const bool lengths = !x.lengths.empty();
  LRP_CHECK(!lengths || layout != OcclusionLayout::kImage, kOcclusion, ": inputs of shape ", to_string(shape),
            " with sequence lengths are not supported; expected a sequence [T, D] or [T]");
  struct Grid {
    Index rows = 0, cols = 0, first = 0;  // window positions rows × cols; the sample's first virtual row
    Index positions() const { return rows * cols; }
  };
  const Index n = x.batch();
  std::vector<Grid> grids(static_cast<size_t>(n));
  Index total = 0;
  for (Index i = 0; i < n; ++i) {
    const Index h = lengths && layout == OcclusionLayout::kSequence ? x.length(i) : height;
    const Index w = lengths && layout == OcclusionLayout::kFlat ? x.length(i) : width;
    Grid& g = grids[static_cast<size_t>(i)];
    g.rows = h >= window[0] ? (h - window[0]) / stride[0] + 1 : 0;
    g.cols = w >= window[1] ? (w - window[1]) / stride[1] + 1 : 0;
    g.first = total;
    total += g.positions() + 1;
  }
  const auto corner = [&](const Grid& g, Index p) {
    return std::array<Index, 2>{(p / g.cols) * stride[0], (p % g.cols) * stride[1]};
  };

  // Sample i's virtual rows are first_i + p: window p occluded, p = P_i the unoccluded input.
  std::vector<double> logit(static_cast<size_t>(total));
  Tensor copies;
  copies.shape = shape;
  ForwardPass pass;
  Index sample = 0;  // the sample of the current virtual row (rows are visited in order)
  for (Index begin = 0; begin < total; begin += chunk) {
    const Index rows = std::min(chunk, total - begin);
    copies.data.resize(rows, x.features());
    copies.lengths.resize(lengths ? static_cast<size_t>(rows) : 0);
    Index i = sample;
    for (Index r = 0; r < rows; ++r) {
      while (begin + r >= grids[static_cast<size_t>(i)].first + grids[static_cast<size_t>(i)].positions() + 1) ++i;
      const Grid& g = grids[static_cast<size_t>(i)];
      const Index p = begin + r - g.first;
      copies.data.row(r) = x.data.row(i);
      if (lengths) copies.lengths[static_cast<size_t>(r)] = x.lengths[static_cast<size_t>(i)];
      if (p == g.positions()) continue;
      const auto [top, left] = corner(g, p);
      for (Index c = 0; c < planes; ++c)
        for (Index h = top; h < top + window[0]; ++h)
          for (Index w = left; w < left + window[1]; ++w) {
            const Index f = c * plane + h * width + w;
            copies.data(r, f) = static_cast<Scalar>(fill_row[f]);
          }
    }
    network.forward(copies, pass, threads);
    i = sample;
    for (Index r = 0; r < rows; ++r) {
      while (begin + r >= grids[static_cast<size_t>(i)].first + grids[static_cast<size_t>(i)].positions() + 1) ++i;
      logit[static_cast<size_t>(begin + r)] = static_cast<double>(pass.logits()(r, targets[static_cast<size_t>(i)]));
    }
    sample = i;
  }

  Tensor out(n, shape);
  out.lengths = x.lengths;
  std::vector<double> sum(static_cast<size_t>(plane));
  std::vector<Index> cover(static_cast<size_t>(plane));  // how many windows cover each pixel
  for (Index i = 0; i < n; ++i) {
    const Grid& g = grids[static_cast<size_t>(i)];
    std::fill(sum.begin(), sum.end(), 0.0);
    std::fill(cover.begin(), cover.end(), Index{0});
    const double original = logit[static_cast<size_t>(g.first + g.positions())];
    for (Index p = 0; p < g.positions(); ++p) {
      const double drop = original - logit[static_cast<size_t>(g.first + p)];
      const auto [top, left] = corner(g, p);
      for (Index h = top; h < top + window[0]; ++h)
        for (Index w = left; w < left + window[1]; ++w) {
          sum[static_cast<size_t>(h * width + w)] += drop;
          ++cover[static_cast<size_t>(h * width + w)];
        }
    }
    for (Index q = 0; q < plane; ++q) {
      const Index k = cover[static_cast<size_t>(q)];
      const Scalar value = k > 0 ? static_cast<Scalar>(sum[static_cast<size_t>(q)] / static_cast<double>(k)) : Scalar(0);
      for (Index c = 0; c < planes; ++c) out.data(i, c * plane + q) = value;
    }
  }
  return out;
}

// ---------------------------------------------------------------- random relevance

Tensor random_relevance(const Shape& shape, const std::vector<Index>& sample_ids, std::uint64_t seed) {
  LRP_CHECK(!shape.empty() && numel(shape) > 0, kRandom, ": the sample shape ", to_string(shape), " is empty");
  for (Index d : shape) LRP_CHECK(d > 0, kRandom, ": the sample shape ", to_string(shape), " has a dimension ≤ 0");
  Tensor out(static_cast<Index>(sample_ids.size()), shape);
  const Scalar below_one = std::nextafter(Scalar(1), Scalar(0));
  for (Index i = 0; i < out.batch(); ++i) {
    std::mt19937_64 rng(sample_seed(seed, sample_ids[static_cast<size_t>(i)], 0));
    for (Index f = 0; f < out.features(); ++f)  // rounding to float32 may reach 1: keep [0, 1)
      out.data(i, f) = std::min(static_cast<Scalar>(uniform01(rng)), below_one);
  }
  return out;
}

}  // namespace lrp
