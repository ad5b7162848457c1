// Baseline explanation methods (docs/metrics.md, Baseline methods), to compare LRP with in every table: integrated
// gradients, SmoothGrad, occlusion and random relevance. The gradient and gradient × input are
// lrp::explain_gradient (explain.hpp).
//
// Common conventions:
// - Inputs x are in network units (after the model's input normalization), N × the network's
//   input shape; every method returns relevance of the same shape, N × input.
// - f_c is the logit (pre-softmax) of the sample's target c; targets hold one class per sample.
//   Gradients ∂f_c/∂x come from Explainer::gradient with the one-hot seed.
// - A value "per channel" is one value for every channel, or one per channel, a channel being the
//   first axis of the per-sample shape as in InputNormalization ([C, H, W]: per plane; [D]: per
//   feature).
// - Random draws depend on (seed, sample id, stream) only (lrp::sample_seed), never on the batch,
//   the position in it or the thread.
// - Sequence lengths (Tensor::lengths, checked by Network::check_lengths): every copy a method
//   builds from a sample (interpolation points, noisy copies, occluded copies) keeps that sample's
//   length, so padding never influences a result and gets relevance 0.
// - `threads` ≥ 1 splits the work across threads. Options are validated: a bad value is an
//   lrp::Error naming the method and the option.
#pragma once

#include "lrp/nn/model.hpp"
#include "lrp/nn/network.hpp"
#include "lrp/registry/registry.hpp"
#include "lrp/core/tensor.hpp"

#include <cstdint>
#include <optional>
#include <vector>

namespace lrp {

// ChannelValues (one value, or one per input channel): lrp/registry/method.hpp.

// The raw value `raw` of every channel in network units ((raw − mean[c]) / std[c]): one value per
// channel, or a single one when the normalization has a single mean and std. E.g. the occlusion
// fill for raw 0, or the data range [raw_min, raw_max] for SmoothGrad.
ChannelValues channel_values_in_network_units(double raw, const InputNormalization& normalization, Index channels);

// ---- integrated gradients (Sundararajan et al. 2017), Riemann right sum:
//   IG(x) = (x − x̄) ⊙ 1/M Σ_{m=1..M} ∂f_c/∂x (x̄ + (m/M)(x − x̄)).
// The M interpolated copies of many samples go through the network together, in passes of
// `batch_rows` rows (one forward and one gradient pass each).
struct IntegratedGradientsOptions {
  Index steps = 32;               // M ≥ 1
  ChannelValues baseline{0.0};    // x̄ as a constant per channel, network units ...
  // ... or a full baseline of the input shape: 1 row (for every sample) or one row per sample.
  // When set, `baseline` must keep its default.
  std::optional<Tensor> baseline_tensor{};
  Index batch_rows = 0;           // rows (sample × step) per pass; 0: automatic (default_batch_rows)
};

Tensor integrated_gradients(const Network& network, const Registry& registry, const Tensor& x,
                            const std::vector<Index>& targets, const IntegratedGradientsOptions& options = {},
                            int threads = 1);

// ---- SmoothGrad (Smilkov et al. 2017): the mean of ∂f_c/∂x over N noisy copies x + ε_k,
// ε_k ~ N(0, s²) i.i.d. per value with s = sigma · (high[c] − low[c]) on channel c. Copy k of the
// sample with id `sample_ids[i]` draws its noise (standard normals in feature order) from
// std::mt19937_64(sample_seed(seed, sample_ids[i], k)), k = 0..N−1. The copies are not clipped
// to the data range.
// The unit of work is one sample's N copies (one forward and one gradient pass of N rows), so a
// sample's relevance is bit-identical whatever batch it is in, its position there and `threads`.
struct SmoothGradOptions {
  Index samples = 16;          // N ≥ 1
  double sigma = 0.15;         // ≥ 0, relative to the data range
  ChannelValues low{0.0};      // data range per channel, network units (low < high)
  ChannelValues high{1.0};
  std::uint64_t seed = 0;
};

Tensor smoothgrad(const Network& network, const Registry& registry, const Tensor& x, const std::vector<Index>& targets,
                  const std::vector<Index>& sample_ids, const SmoothGradOptions& options = {}, int threads = 1);

// ---- occlusion (Zeiler & Fergus 2014): for each window position p,
//   d_p = f_c(x) − f_c(x with the window set to `fill` on every channel),
// and every value (all channels) of a pixel gets the mean of d_p over the windows that cover it;
// pixels that no window covers get 0. Windows lie fully inside the plane: top-left corners at
// 0, s, 2s, ... up to H − h (rows) and W − w (columns).
// Inputs [C, H, W] slide over the H × W plane; inputs [D] are one 1 × D row (window height 1:
// one value gives a run of that many features); sequences [T, D] are one T × D plane, where one
// value s gives windows of s time steps with all D features (a stride s moves s steps), and
// [h, w] windows of h steps × w features. Other shapes are an error.
// With sequence lengths ([T, D] or [T] inputs), a sample of length L is occluded exactly as the
// unpadded sequence of L steps would be: windows lie within its real steps, its padding steps are
// never occluded and get 0; a sample shorter than the window gets no window (0 everywhere).
// All occluded copies (many windows of many samples) are batched, `batch_rows` per forward pass.
struct OcclusionOptions {
  std::vector<Index> window{4};  // [s] (see above), or [h, w]; ≥ 1 and at most the plane
  std::vector<Index> stride{};   // same form; empty: the window (non-overlapping)
  ChannelValues fill{0.0};       // per channel, network units (raw 0 is channel_values_in_network_units(0, ...))
  Index batch_rows = 0;          // 0: automatic (default_batch_rows)
};

Tensor occlusion(const Network& network, const Tensor& x, const std::vector<Index>& targets,
                 const OcclusionOptions& options = {}, int threads = 1);

// ---- random relevance: every value i.i.d. uniform in [0, 1), row i drawn (uniform01, in feature
// order) from std::mt19937_64(sample_seed(seed, sample_ids[i], 0)). The chance level of a table.
Tensor random_relevance(const Shape& shape, const std::vector<Index>& sample_ids, std::uint64_t seed);

// Rows per pass when a method batches copies: as many as keep the pass (the input copies, every
// activation and the gradient at every layer) within about 8M values (32 MB in float32), at least 1.
Index default_batch_rows(const Network& network);

}  // namespace lrp
