// Localisation metrics (docs/metric_suite.md, Localisation): how much of a heatmap lies on the object
// that decides the sample's class, given the object's ground-truth mask (Dataset::masks: the
// synthetic shapes task or an HDF5 masks dataset). Each follows its paper and, where the paper
// leaves a choice, Quantus 0.6.0; the docs name every deliberate difference. The experiment runs
// them through the metric table (evaluate.<metric>); these functions compute one sample's score.
//
// One sample is a heatmap `a` and a mask of the same size: `channels` planes of equal size
// (C·H·W values, row-major, as Dataset::inputs and Explanation::relevance hold them), each mask
// value exactly 0 or 1. The metrics compare pixels: a pixel's relevance is the sum of its channels'
// relevance (the usual pixel heatmap of LRP), and a pixel is on the object when the mask marks it in
// any channel. Quantus compares one-channel maps only (its masks are [B, 1, H, W]).
//
// Every score is NaN (undefined) for an empty mask and for a heatmap holding NaN or ±Inf; sizes
// that do not fit, or a mask value other than 0 and 1, are an lrp::Error.
#pragma once

#include "lrp/core/tensor.hpp"

#include <cstdint>
#include <span>
#include <vector>

namespace lrp {

// The random stream of the ranking metrics' tie-breaking: sample_seed(seed, sample_id, stream).
inline constexpr std::uint64_t kLocalisationTieStream = 0x6c6f'6361'6c00'0001ULL;  // "local" 1

// How a heatmap becomes the pixel scores the metrics compare with the mask, in this order:
// channels summed per pixel; divided by the largest |score| of the sample (normalise; an all-zero
// map stays as it is); |·| (absolute); negative scores set to 0 (positive).
struct PixelScoring {
  Index channels = 1;      // ≥ 1, dividing the heatmap's size
  Index width = 0;         // an image's width (the pointing game's tolerance); 0: one row of pixels
  bool normalise = true;
  bool absolute = false;
  bool positive = false;
};

// One sample as pixels: the scores (after PixelScoring) and the mask (true: on the object). Empty
// scores when the heatmap holds NaN or ±Inf.
struct PixelMap {
  std::vector<double> score;
  std::vector<bool> mask;
  Index inside = 0;  // pixels on the object
};
PixelMap pixel_map(std::span<const Scalar> a, std::span<const Scalar> mask, const PixelScoring& p);

// The pixels by decreasing score, ties broken by a seeded random key: (score descending, key) with
// key[j] the position of pixel j in random_region_order(pixels, tie_seed), as pixel flipping breaks
// its ties. The ranking metrics share it, so that the pointing game's pixel is the first of the
// order the rank accuracy and top-k intersection count in.
std::vector<Index> pixel_order(const std::vector<double>& score, std::uint64_t tie_seed);

// Relevance mass accuracy (Arras et al. 2022, CLEVR-XAI): Σ_{p on the object} R_p / Σ_p R_p, the
// share of the relevance that lies on the object; 1 when all of it does. NaN when Σ R = 0.
// CLEVR-XAI counts positive relevance only (p.positive; the metric's default).
double relevance_mass_accuracy(std::span<const Scalar> a, std::span<const Scalar> mask, const PixelScoring& p);

// Relevance rank accuracy (Arras et al. 2022): with K the object's pixel count, the share of the
// object among the K pixels of highest score (pixel_order); 1 when the object holds the K top scores.
double relevance_rank_accuracy(std::span<const Scalar> a, std::span<const Scalar> mask, const PixelScoring& p,
                               std::uint64_t tie_seed);

// Pointing game (Zhang et al. 2018): 1 when the pixel of highest score (the first of pixel_order)
// lies within `tolerance` pixels (Euclidean, on the image grid of width p.width) of the object, else
// 0. weighted: a hit scores 1 − (object pixels / pixels) instead, Quantus's variant that rewards a
// hit on a small object more.
double pointing_game(std::span<const Scalar> a, std::span<const Scalar> mask, const PixelScoring& p,
                     std::uint64_t tie_seed, double tolerance = 0.0, bool weighted = false);

// Top-k intersection (Theiner et al. 2021, as Quantus computes it): the share of the k pixels of
// highest score (pixel_order) that lie on the object, 1 ≤ k < pixels (an lrp::Error otherwise).
// concept_influence: divided by the object's share of the pixels (its value for a random order).
double top_k_intersection(std::span<const Scalar> a, std::span<const Scalar> mask, const PixelScoring& p, Index k,
                          std::uint64_t tie_seed, bool concept_influence = false);

// Attribution localisation (Kohlbrenner et al. 2020): μ = Σ_{p on the object} R_p / (Σ_p R_p + 1e-9)
// on positive relevance (p.positive, or p.absolute as Quantus's default), NaN when μ > 1 (possible
// only with negative scores). weighted: μ · pixels / object pixels, the inverse of the object's
// relative size, so that a uniform heatmap scores 1 whatever the object's size.
double attribution_localisation(std::span<const Scalar> a, std::span<const Scalar> mask, const PixelScoring& p,
                                bool weighted = false);

// The area under the ROC curve of the pixel scores as a detector of the object, in the Mann–Whitney
// form P(R_in > R_out) + ½ P(R_in = R_out) over pairs of an object pixel and another pixel
// (sklearn's roc_auc, which Quantus calls, groups ties the same way). 1: every object pixel scores
// above every other; 0.5: chance. NaN also when the object covers every pixel.
double roc_auc(std::span<const Scalar> a, std::span<const Scalar> mask, const PixelScoring& p);

}  // namespace lrp
