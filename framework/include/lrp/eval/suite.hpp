// The metric suite's per-sample formulas (docs/metrics.md, "The metric suite"): the families of the
// XAI evaluation literature as Quantus collects them, each following its paper and, where the paper
// leaves a choice, Quantus (docs/metrics.md names each choice and each deliberate difference).
// The experiment runs them through the metric table (evaluate.<metric>); these functions are the
// same computations on explicit inputs, for tests and for callers that bring their own draws.
//
// A heatmap `a` is one sample's relevance, all channels, flattened (C·H·W values, row-major).
#pragma once

#include "lrp/core/tensor.hpp"
#include "lrp/nn/network.hpp"

#include <cstdint>
#include <span>
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

}  // namespace lrp
