// Seeded data augmentation of image minibatches during training: random shifts (translations with
// a constant fill) and random horizontal mirroring, drawn from the training run's generator so that
// a seed fixes every choice.
#pragma once

#include "lrp/core/tensor.hpp"

#include <random>
#include <string>
#include <vector>

namespace lrp {

struct Augmentation {
  // Each sample is translated by (dy, dx), both drawn uniformly from [-shift, shift]: the pixel at
  // (h, w) moves to (h + dy, w + dx), pixels pushed past the border are dropped and the uncovered
  // ones get `fill`. This is torchvision's RandomCrop(size, padding=shift) with a constant fill.
  Index shift = 0;
  // Each sample is mirrored left to right (w → W − 1 − w) with probability 1/2, after the shift.
  bool flip = false;
  // The value of uncovered pixels per channel, in the network's (normalized) input units: one value
  // for every channel or one per channel. Empty means 0.
  std::vector<Scalar> fill;

  bool active() const { return shift > 0 || flip; }
};

// Throws lrp::Error (prefixed by `where`) unless the options fit samples of `input_shape`: an image
// shape [C, H, W] when active, shift ≥ 0 and smaller than H and W, and 0, 1 or C finite fill values.
void validate(const Augmentation& a, const Shape& input_shape, const std::string& where);

// Augments every row of `batch` (samples of shape [C, H, W]) in place. Per sample, in row order,
// it draws dy, then dx (when shift > 0), then the flip (when flip is on) from `rng`, through
// lrp/core/random.hpp, so the draws are the same with every standard library.
void augment_batch(Tensor& batch, const Augmentation& a, std::mt19937_64& rng);

}  // namespace lrp
