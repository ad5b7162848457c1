// Evaluation metrics (docs docs/metrics.md): the conservation ledger of an explanation, pixel
// flipping / region perturbation with AOPC, ABPC and AUC scores (on images, feature vectors and
// [time steps, features] sequences, where it is the deletion curve of §3), and relevance accuracy
// on tasks with known relevant time steps.
//
// Every metric is computed per sample and summarized (mean, standard error) over the samples.
// Every random draw goes through lrp::sample_seed(seed, sample_id, stream): a sample's numbers
// depend on its id in its data source and on the seed, never on the batch, the thread or the
// process that computes them. Pixel flipping is also bit-for-bit independent of the batch and the
// thread count: the perturbed copies of one sample are evaluated in forward passes that hold only
// that sample's copies, split the same way whatever else is computed (Eigen rounds a product
// differently depending on how many rows it has, so mixing samples in one pass would not be).
#pragma once

#include "lrp/propagation/explain.hpp"
#include "lrp/nn/network.hpp"
#include "lrp/core/tensor.hpp"

#include <cstdint>
#include <limits>
#include <string>
#include <vector>

namespace lrp {

struct InputNormalization;

using IndexMatrix = Eigen::Matrix<Index, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

// ---------------------------------------------------------------- summaries

// Mean and standard error (sample standard deviation with n − 1, over √n) of the finite values;
// NaN and ±Inf values are left out and counted in `skipped`. With no finite value the mean is NaN;
// with fewer than two the standard error is NaN.
struct Summary {
  double mean = std::numeric_limits<double>::quiet_NaN();
  double standard_error = std::numeric_limits<double>::quiet_NaN();
  Index count = 0;    // finite values used
  Index skipped = 0;  // non-finite values left out
};
Summary summarize(const Eigen::VectorXd& values);

// ---------------------------------------------------------------- §1 conservation

// The input side of the ledger, which any explanation has (LRP or not): per sample Σ R over the
// finite values (in double), the seed S, |Σ R − S| / |S| (NaN where S = 0) and the number of NaN
// and ±Inf values left out of the sum.
struct InputLedger {
  Eigen::VectorXd input_sum, output_seed, relative_error;  // [N]
  std::vector<Index> nonfinite;                            // [N]
  explicit InputLedger(Index n = 0);
};
// Fills the rows [begin, begin + relevance.rows()) of `ledger` from a block of relevance rows and
// their seeds. conservation() and the experiment runner both use it.
void input_ledger(const Matrix& relevance, const Vector& seed, Index begin, InputLedger& ledger);

// The relevance ledger of one explanation (computed with keep_layer_relevance = true, on the
// forward pass it explains). All sums are in double, over the finite values only; every
// non-finite value is counted (never silently summed).
struct ConservationResult {
  Eigen::VectorXd input_sum;       // [N] Σ_i R_i at the input (Explanation::relevance)
  Eigen::VectorXd output_seed;     // [N] the seed S: f_c(x), or 1 for the one-hot seed
  Eigen::VectorXd relative_error;  // [N] |input_sum − S| / |S|; NaN where S = 0 (undefined)
  // [N] relevance the rules gave to quantities other than inputs: an LSTM's initial states
  // (docs/rules.md, LSTM rules; Explanation::state_relevance_total). 0 for rules without such state. With
  // lstm_gate and bias_factor 1, input_sum + state_sum = S.
  Eigen::VectorXd state_sum;
  // [N × (layers + 1)]: column v is Σ R at value v (Explanation::layer_relevance): the input,
  // then each layer's output, the last column being the output seed map's sum. In a chain column
  // l < layers is Σ R at layer l's input; in a graph a value read by several layers sums theirs.
  Eigen::MatrixXd layer_sums;
  // [N × layers]: what layer l absorbed, Σ_j R_j b_j / stab(z_j) and Σ_j R_j ε·sign₀(z_j) / stab(z_j)
  // with z the layer's output in the forward pass and R the relevance at its output, for rules that
  // report an ε-type share (Rule::ledger_share: `zero` with ε = 0, `epsilon`, `norm`). Where
  // stab(z_j) = 0 (LRP-0 at z_j = 0) the rule passes nothing and the whole R_j is counted in the
  // bias share. 0 for rules that report zero (`pass`, `wta`: no bias, no stabilizer, they conserve
  // relevance exactly); NaN for rules that report none (not computable) and for rules that do not
  // say (layer_shares: kUnknown). Then, when every layer's shares are finite:
  // input_sum + Σ_l (bias_share + stabilizer_share) = S up to rounding.
  Eigen::MatrixXd bias_share;
  Eigen::MatrixXd stabilizer_share;
  // [layers]: what each layer's rule reported (Explanation::layer_ledger_shares; kUnknown for a
  // layer the explanation has no report for).
  std::vector<LedgerShare> layer_shares;
  // Non-finite values per sample: in the input relevance, and [N × (layers + 1)] in each
  // layer's map (the columns of layer_sums); `nonfinite_total` adds all maps up.
  std::vector<Index> nonfinite_input;
  IndexMatrix nonfinite_layers;
  Index nonfinite_total = 0;
  Summary relative_error_summary;
};

// Throws lrp::Error when the explanation has no layer relevance, or when the pass, the
// explanation and the network do not fit together. `threads` split the samples (the result does
// not depend on it).
ConservationResult conservation(const Network& network, const ForwardPass& pass, const Explanation& explanation,
                                int threads = 1);

// ---------------------------------------------------------------- §2 pixel flipping

enum class PerturbationFill { kUniform, kConstant, kMean };

struct PixelFlippingOptions {
  Index patch = 4;           // side of the square regions (features per region for 1-d inputs); ≥ 1
  Index random_repeats = 10;  // random orders per sample; ≥ 0 (0: aopc_morf_vs_random is NaN)
  PerturbationFill fill = PerturbationFill::kUniform;
  Index steps = 0;           // L: regions perturbed; 0 = all regions; ≤ the number of regions
  std::uint64_t seed = 0;    // ties, uniform noise and random orders (see the streams below)
  int threads = 1;           // ≥ 1
  // Rows (perturbed copies of one sample) per forward pass; bounds the memory each thread holds.
  Index rows_per_pass = 256;
};

// The fill values in network units (map raw values with fill_to_network_units). "Channel" is the
// first axis of the per-sample shape, as in InputNormalization (so per feature for 1-d inputs).
struct FillValues {
  std::vector<double> low, high;  // kUniform: the value range, 1 value or one per channel; low < high
  std::vector<double> constant;   // kConstant: 1 value or one per channel
  Matrix mean;                    // kMean: 1 × features, the (training-set) mean image
};
// Raw-unit fill values (e.g. the range [0, 1], a constant 0, a dataset's mean image) → network
// units through the model's input normalization: (raw − mean[c]) / std[c].
FillValues fill_to_network_units(const FillValues& raw, const Shape& shape, const InputNormalization& normalization);

// The random streams of pixel flipping: sample_seed(options.seed, sample_id, stream).
inline constexpr std::uint64_t kPixelFlippingTieStream = 0x7069'7865'6c00'0001ULL;
inline constexpr std::uint64_t kPixelFlippingNoiseStream = 0x7069'7865'6c00'0002ULL;
inline constexpr std::uint64_t kPixelFlippingRandomOrderStream = 0x7069'7865'6c01'0000ULL;  // + repeat

// The regions of a per-sample shape: non-overlapping square patches of side `patch` tiling
// [C, H, W] spatially, row-major over the patch grid (the last row / column of patches is smaller
// when H or W is not a multiple of patch); a region holds its pixels of every channel, listed
// channel, row, column. A 1-d shape [F] is cut into chunks of `patch` features (the last may be
// shorter). A sequence [T, D] (time steps × features) is cut along time: region r holds the steps
// [r·patch, min(T, (r+1)·patch)) with all their D features, listed step by step, feature by feature
// (the last region is shorter when patch does not divide T). For a sequence, the "channel" of the
// fills is the first axis, a time step: a per-channel fill has one value per step, and pixel
// flipping with the constant fill 0 is the deletion curve of docs/metrics.md, Relevance accuracy. Throws lrp::Error for
// patch < 1 or another rank.
std::vector<std::vector<Index>> perturbation_regions(const Shape& shape, Index patch);

// A region's score: the signed sum (in double, in the region's listed order) of R over it.
std::vector<double> region_scores(const Scalar* relevance, const std::vector<std::vector<Index>>& regions);

enum class RegionOrder { kMorf, kLerf };
// Regions sorted by score, descending (morf) or ascending (lerf); ties are broken by a random
// permutation of the regions drawn from `tie_seed` (the same key for both orders), so the order is
// reproducible and stable: sort by (score, key).
std::vector<Index> region_order(const std::vector<double>& scores, RegionOrder order, std::uint64_t tie_seed);
// A random permutation of `regions` (lrp::shuffle of 0..regions−1 with std::mt19937_64(seed)).
std::vector<Index> random_region_order(Index regions, std::uint64_t seed);

// Scores of one curve f(x^(0)), ..., f(x^(L)) (docs/metrics.md, Pixel flipping).
double aopc(const Eigen::VectorXd& curve);                                   // 1/(L+1) Σ_k [f_0 − f_k]
double abpc(const Eigen::VectorXd& lerf, const Eigen::VectorXd& morf);      // 1/(L+1) Σ_k [lerf_k − morf_k]
double auc(const Eigen::VectorXd& curve);                                    // Σ_{k<L} (f_k + f_{k+1}) / 2

struct PixelFlippingScores {  // per sample [N]
  Eigen::VectorXd aopc_morf, aopc_lerf, abpc, auc_morf, aopc_morf_vs_random;
};
struct PixelFlippingSummary {
  Summary aopc_morf, aopc_lerf, abpc, auc_morf, aopc_morf_vs_random;
};

// The summaries of per-sample scores (what pixel_flipping puts in PixelFlippingResult::summary).
PixelFlippingSummary summarize(const PixelFlippingScores& scores);

struct PixelFlippingResult {
  Index regions = 0;  // number of regions
  Index steps = 0;    // L
  // Curves [N × (L+1)]: column k is f_c(x^(k)), the target's logit (or softmax probability).
  Matrix morf, lerf, morf_probability, lerf_probability;
  std::vector<Matrix> random, random_probability;     // [repeat] N × (L+1)
  std::vector<std::vector<std::uint64_t>> random_seeds;  // [repeat][sample]: the seed of its order
  IndexMatrix morf_order, lerf_order;  // [N × L]: the regions perturbed at steps 1..L
  PixelFlippingScores scores;
  PixelFlippingSummary summary;
};

// Pixel flipping (docs/metrics.md, Pixel flipping) of `relevance` (N × input shape, finite) for samples x (N × the
// network's input shape, in network units) and their targets. sample_ids[n] is sample n's index
// in its data source (it seeds the ties, the noise image and the random orders). `fill` holds the
// values options.fill needs, in network units. Orders are computed once on the original heatmap;
// step k replaces the k-th region of the order by the fill, cumulatively. The uniform fill draws
// one noise image per sample (i.i.d. per pixel over [low_c, high_c), stream
// kPixelFlippingNoiseStream), shared by morf, lerf and the random orders, so that the orders
// differ only in where the same noise goes. Throws lrp::Error naming the parameter or input that
// is invalid.
PixelFlippingResult pixel_flipping(const Network& network, const Tensor& x, const std::vector<Index>& targets,
                                   const Tensor& relevance, const std::vector<Index>& sample_ids,
                                   const FillValues& fill, const PixelFlippingOptions& options);

// The random-order baseline does not depend on any relevance map: for given samples, targets,
// fill and options, its curves are the same for every method. random_order_curves computes them
// alone (random_repeats orders per sample, same seeds and noise image as pixel_flipping), and the
// overload below takes them instead of recomputing, so a study of many methods evaluates the
// random orders once. (The curves are evaluated in passes of their own: their last bits can differ
// from those of a pixel_flipping call that computes them along with morf and lerf.)
struct RandomOrderCurves {
  Index regions = 0;
  Index steps = 0;
  std::vector<Matrix> random, random_probability;        // [repeat] N × (L+1)
  std::vector<std::vector<std::uint64_t>> random_seeds;  // [repeat][sample]
  // What they were computed for (pixel_flipping checks that these match its call).
  Index patch = 0;
  std::uint64_t seed = 0;
  PerturbationFill fill = PerturbationFill::kUniform;
  std::vector<Index> sample_ids, targets;
};
RandomOrderCurves random_order_curves(const Network& network, const Tensor& x, const std::vector<Index>& targets,
                                      const std::vector<Index>& sample_ids, const FillValues& fill,
                                      const PixelFlippingOptions& options);
// Pixel flipping with precomputed random-order curves (copied into the result); an lrp::Error when
// they were computed for other samples, targets, patch, steps, seed, fill or random_repeats.
PixelFlippingResult pixel_flipping(const Network& network, const Tensor& x, const std::vector<Index>& targets,
                                   const Tensor& relevance, const std::vector<Index>& sample_ids,
                                   const FillValues& fill, const PixelFlippingOptions& options,
                                   const RandomOrderCurves& random);

// ---------------------------------------------------------------- §3 relevance accuracy

// The random stream of relevance accuracy's tie-breaking: sample_seed(seed, sample_id, stream).
inline constexpr std::uint64_t kRelevanceAccuracyTieStream = 0x7265'6c61'6363'0001ULL;  // "relacc" 1

// Relevance accuracy (docs/metrics.md, Relevance accuracy) per sample [N]. `relevance` is N × [T, D] or N × [T] (a 1-d
// shape is D = 1); the score of step t is the signed sum (in double) of R over its D features. With
// K = |relevant[i]| ≥ 1 ground-truth steps (distinct, in [0, T), any order; Dataset::relevant),
// sample i's accuracy is |relevant[i] ∩ the K steps of largest score| / K, in [0, 1]. Ties in the
// score are broken by a seeded random key per step, as region_order does: the steps are sorted by
// (score descending, key), where key[t] is t's position in random_region_order(T,
// sample_seed(seed, sample_ids[i], kRelevanceAccuracyTieStream)); so the result is reproducible and
// does not depend on the batch. A sample
// whose relevance has a NaN or ±Inf value (or whose step sums overflow) gets NaN (summarize() leaves
// it out and counts it). Throws lrp::Error for another rank, a size mismatch, a negative sample id,
// or a sample with no relevant steps, a step out of range or listed twice (naming the sample).
Eigen::VectorXd relevance_accuracy(const Tensor& relevance, const std::vector<std::vector<Index>>& relevant,
                                   std::uint64_t seed, const std::vector<Index>& sample_ids);

}  // namespace lrp
