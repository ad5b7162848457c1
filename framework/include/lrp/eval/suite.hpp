// The metric suite's per-sample formulas (docs/metrics.md, "The metric suite"): the families of the
// XAI evaluation literature as Quantus collects them, each following its paper and, where the paper
// leaves a choice, Quantus (docs/metrics.md names each choice and each deliberate difference).
// The experiment runs them through the metric table (evaluate.<metric>); these functions are the
// same computations on explicit inputs, for tests and for callers that bring their own draws.
//
// A heatmap `a` is one sample's relevance, all channels, flattened (C·H·W values, row-major).
#pragma once

#include "lrp/core/tensor.hpp"
#include "lrp/eval/metrics.hpp"
#include "lrp/nn/network.hpp"

#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace lrp {

// ---------------------------------------------------------------- complexity

// The preprocessing Quantus applies before a complexity or faithfulness score: divide by the
// largest |a| (unless a is all zero), then take |·|. lrplab divides by the sample's own largest |a|;
// Quantus divides by the largest over the whole batch it is called with (docs/metrics.md).
struct HeatmapPreprocess {
  bool normalise = true;
  bool absolute = true;
};
std::vector<double> preprocess_heatmap(std::span<const Scalar> a, const HeatmapPreprocess& p);

// Sparseness (Chalasani et al. 2020): the Gini index of the preprocessed heatmap b, shifted by
// 1e-7 as Quantus does: with b sorted ascending, Σ_k (2k − n − 1) b_(k) / (n Σ_k b_(k)), k = 1..n.
// 0 for a uniform heatmap, (n − 1)/n for a one-hot one (up to the shift); higher is sparser.
double sparseness(std::span<const Scalar> a, const HeatmapPreprocess& p);
// Complexity (Bhatt et al. 2020): the entropy −Σ p_i ln(p_i + 1e-12) of p = b / Σ|b|; NaN for an
// all-zero heatmap. ln n for a uniform heatmap, 0 for a one-hot one; lower is simpler.
double complexity(std::span<const Scalar> a, const HeatmapPreprocess& p);
// Effective complexity (Nguyen & Martínez 2020): the number of preprocessed values above eps.
double effective_complexity(std::span<const Scalar> a, const HeatmapPreprocess& p, double eps);

// ---------------------------------------------------------------- faithfulness

// The area under a curve sampled at n equally spaced points of [0, 1] (the trapezoid rule, as the
// RISE code computes it): (Σ c − c_0/2 − c_{n−1}/2) / (n − 1); NaN for fewer than two points.
double normalized_auc(const Eigen::VectorXd& curve);

// Each image blurred channel by channel with a separable Gaussian (side kernel_size, odd; sigma in
// pixels); at the border each output divides by the kernel weights inside the image (RISE pads
// with zeros instead, which darkens the border; docs/metrics.md).
Tensor blur_images(const Tensor& x, Index kernel_size, double sigma);

// Per sample, the units (lists of features: pixels with all their channels, patches, ...) by
// decreasing relevance, summed over the unit (mean = true: averaged over it), ties broken by a key
// drawn from sample_seed(seed, sample_id, stream) as region_order does.
IndexMatrix unit_orders(const Tensor& relevance, const std::vector<std::vector<Index>>& units, bool mean,
                        const std::vector<Index>& sample_ids, std::uint64_t seed, std::uint64_t stream);

// Quantus's patch grid: non-overlapping patch × patch squares (all channels) over the image padded
// by patch − (side mod patch) pixels, split floor/ceil before/after, and cut back to the image;
// row-major over the grid.
std::vector<std::vector<Index>> centred_patches(const Shape& shape, Index patch);

// What replaces perturbed features: the sample's minimum over all its values (Quantus's "black"),
// its mean over all its values, or a given image (network units).
enum class BaselineFill { kMin, kMean, kConstant };
Tensor fill_images(const Tensor& x, BaselineFill kind, const std::vector<Scalar>& constant = {});

// The target's softmax probability as the units of each sample's order are replaced by its fill,
// one unit per step, cumulatively: N × (units + 1), column 0 the unperturbed sample.
Eigen::MatrixXd removal_curves(const Network& network, const Tensor& x, const Tensor& fill,
                               const std::vector<Index>& targets, const std::vector<std::vector<Index>>& units,
                               const IndexMatrix& order, int threads = 1);

// Sets of features of one sample (flat indices into the C·H·W values).
using FeatureSets = std::vector<std::vector<Index>>;
// One set per entry of `sizes`, each drawn without replacement from [0, features) by a partial
// Fisher–Yates shuffle on std::mt19937_64(seed).
FeatureSets random_feature_sets(Index features, const std::vector<Index>& sizes, std::uint64_t seed);
// N × sets: f(x_i) − f(x_i with set r replaced by fill_i), f the target's logit or softmax probability.
Eigen::MatrixXd set_output_drops(const Network& network, const Tensor& x, const std::vector<Index>& targets,
                                 const Tensor& fill, const std::vector<FeatureSets>& sets, bool probability,
                                 int threads = 1);
// N × sets: Σ R over each set.
Eigen::MatrixXd set_sums(const Tensor& relevance, const std::vector<FeatureSets>& sets);
// Pearson's correlation as scipy.stats.pearsonr computes it: NaN when either series is constant;
// for two points the product of the signs of the differences; else the dot product of the centred
// series each divided by its norm, clipped to [−1, 1].
double pearson(std::span<const double> a, std::span<const double> b);

// Insertion and deletion (Petsiuk et al. 2018) along given pixel orders (N × pixels): deletion sets
// the pixels order(i, 0..k·step) of x to `black`, insertion sets those of `blurred` to x's values;
// the curves are the target's softmax probability at k = 0..⌈pixels/step⌉ and the scores their
// normalized_auc (deletion: lower is better; insertion: higher).
struct InsertionDeletion {
  Eigen::MatrixXd insertion_curve, deletion_curve;  // N × (steps + 1)
  Eigen::VectorXd insertion, deletion;              // [N]
};
InsertionDeletion insertion_deletion(const Network& network, const Tensor& x, const std::vector<Index>& targets,
                                     const IndexMatrix& order, const Tensor& black, const Tensor& blurred, Index step,
                                     int threads = 1);

// ---------------------------------------------------------------- robustness

// Yeh et al.'s sensitivity of one perturbed explanation: ‖a − a'‖₂ / ‖a‖₂ (NaN or Inf when a = 0).
double sensitivity_ratio(std::span<const double> reference, std::span<const double> perturbed);
// The local Lipschitz ratio ‖a − a'‖₂ / (‖x − x'‖₂ + 1e-10) (Quantus's stabilizer).
double lipschitz_ratio(std::span<const double> reference, std::span<const double> perturbed,
                       std::span<const double> x, std::span<const double> x_perturbed);

// ---------------------------------------------------------------- randomisation

// Spearman's rank correlation: pearson of the average ranks (ties share their mean rank), as scipy.
double spearman(std::span<const double> a, std::span<const double> b);
// SSIM of two series as Quantus computes it for flattened maps (skimage's structural_similarity
// on 1-d data): 7-point windows with the sample covariance (factor 7/6), C1 = (0.01 R)², C2 =
// (0.03 R)² for the joint range R, averaged over the windows that fit inside (length ≥ 7).
double ssim_1d(std::span<const double> a, std::span<const double> b);
double cosine_similarity(std::span<const double> a, std::span<const double> b);
double mean_squared_error(std::span<const double> a, std::span<const double> b);
// One of spearman, pearson, ssim, cosine, mse by name.
double similarity(const std::string& kind, std::span<const double> a, std::span<const double> b);
// The layers model parameter randomisation redraws (trainable linear and sequence layers), in
// execution order; and one redraw: weight and bias i.i.d. U(±1/√fan_in), fan_in = weight.cols()
// (PyTorch's default initialization of conv and dense layers), from std::mt19937_64(seed).
// Layer l is redrawn with seed sample_seed(seed, l, kModelRandomisationStream).
inline constexpr std::uint64_t kModelRandomisationStream = 0x7261'6e64'6c61'7900ULL;  // "randlay"
std::vector<Index> randomisable_layers(const Network& network);
void randomise_layer(Layer& layer, std::uint64_t seed);

// ---------------------------------------------------------------- faithfulness: ROAD

using RowMatrixXd = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

// Noisy linear imputation (Rong et al. 2022) of one image [C, H, W] in place: the listed pixels
// (flat indices into H·W) get, channel by channel, the values u that make each the weighted mean of
// its neighbours inside the image (edge neighbours 1/6, corner neighbours 1/12), solved jointly,
// plus noise[c·k + j] (k = pixels). An lrp::Error when every pixel is listed.
void noisy_linear_imputation(Scalar* image, const Shape& shape, std::span<const Index> pixels,
                             std::span<const double> noise);
// ROAD's pixel counts: ⌊pixels · p / 100⌋ per percentage p (Quantus's int(a_size · p / 100)).
std::vector<Index> road_counts(Index pixels, const std::vector<double>& percentages);
// ROAD along given pixel orders (N × pixels): for each count k, the first k pixels of the order
// imputed with the noise of noise[i].row(level) (channels · k values used), then whether the model
// predicts the target (argmax, first maximum on ties) and the target's softmax probability.
struct Road {
  Eigen::MatrixXd correct, probability;  // N × levels
};
Road road(const Network& network, const Tensor& x, const std::vector<Index>& targets, const IndexMatrix& order,
          const std::vector<Index>& counts, const std::vector<RowMatrixXd>& noise, int threads = 1);

}  // namespace lrp
