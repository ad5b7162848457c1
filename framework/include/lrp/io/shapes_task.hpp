// A synthetic image task whose object is known pixel by pixel (docs/models.md, Shapes task): every
// sample stores, in Dataset::masks, the pixels of the one shape that decides its class, so that
// explanations can be scored by where their relevance lies (localisation metrics).
//
// A sample is a grayscale image [1, size, size] with values in [0, 1]: a noisy background (each
// pixel i.i.d. uniform in [0, noise)) and one class-defining shape, drawn at a uniformly random
// position fully inside the image, of a random extent and a random intensity that are drawn
// independently of the class (so that only the shape tells the classes apart, not its area or its
// brightness). Optionally `distractors` small blobs of the shapes' intensities lie elsewhere, apart
// from the shape and outside the mask.
//
// Sample i is drawn from its own generator, std::mt19937_64(sample_seed(seed, i, kShapesStream)),
// through the library-independent draws of lrp/core/random.hpp: it does not depend on `count` (a
// longer set starts with the samples of a shorter one) nor on a subset, and is the same with every
// standard library. source describes every parameter; indices are 0..count−1; value_min, value_max
// and the per-feature mean are set as the other loaders set them. A parameter out of range is an
// lrp::Error naming it.
#pragma once

#include "lrp/core/limits.hpp"
#include "lrp/io/data.hpp"

#include <cstdint>

namespace lrp {

// The random stream of the task (the third argument of sample_seed).
inline constexpr std::uint64_t kShapesStream = 0x7368'6170'6573'0001ULL;  // "shapes" 1

// The shapes' intensity range: a shape's pixels all hold one value drawn uniformly in [low, high).
inline constexpr double kShapesIntensityLow = 0.7;
inline constexpr double kShapesIntensityHigh = 1.0;
// A distractor is a kShapesDistractorSize × kShapesDistractorSize blob.
inline constexpr Index kShapesDistractorSize = 2;
// The smallest shape extent that keeps the four classes apart.
inline constexpr Index kShapesMinExtent = 5;

// The classes, by label.
enum class ShapeKind : Index { kSquare = 0, kPlus = 1, kTriangle = 2, kRing = 3 };

struct ShapesOptions {
  Index count = 1;          // samples, ≥ 1
  Index size = 28;          // images [1, size, size]; size ≥ max_size
  Index classes = 4;        // 2..4: the first `classes` kinds of ShapeKind
  Index min_size = 7;       // the shape's extent (its bounding box is extent × extent) is drawn
  Index max_size = 11;      // uniformly in [min_size, max_size], kShapesMinExtent ≤ min_size ≤ max_size
  double noise = 0.3;       // background values uniform in [0, noise), 0 ≤ noise < kShapesIntensityLow
  Index distractors = 0;    // blobs per image, 0..16 (with any, size ≥ max_size + 5: room beside the shape)
  std::uint64_t seed = 0;
};

// Throws lrp::Error naming the first parameter out of range (as the config key: "max_size", ...).
void validate(const ShapesOptions& options);

// The pixels of one shape of `kind` and `extent` (≥ 1) whose bounding box has its top-left corner at
// (top, left), drawn into mask (size × size, row-major: mask(row, column)): those pixels are set to
// 1, the others are left as they are. The box must lie inside the mask. Within the box, with
// u = 2·row − (extent − 1) and v = 2·column − (extent − 1) (twice the offsets from its centre):
//   kSquare    every pixel;
//   kPlus      two centred bars, a row band and a column band of thickness t: t = max(1, extent / 3),
//              plus 1 when extent − t is odd;
//   kTriangle  pointing up, filled: |v| ≤ row (+ 1 for an even extent), the last row is full;
//   kRing      a circle outline: (extent − w)² < u² + v² ≤ extent² with w = max(3, (2·extent + 2) / 5).
// Returns the number of pixels of the shape.
Index draw_shape(Matrix& mask, ShapeKind kind, Index extent, Index top, Index left);

// `count` samples of the task: sample i has label i mod classes (every prefix is nearly balanced)
// and is drawn in this order: the extent s ~ U{min_size..max_size}, the top row and the left column
// of its box, each ~ U{0..size − s}, the intensity a = low + (high − low)·u, the background row by
// row (noise·u each), then per distractor its position, uniform over the top-left corners whose
// blob keeps one pixel of space from the shape's box (in row-major order), and its intensity as for
// the shape. The shape's pixels hold a, the distractors' theirs (they may overlap one another),
// every other pixel its background value. masks: 1 on the shape's pixels, 0 elsewhere.
// Its memory (inputs and masks) is checked against limits.memory before it is generated.
Dataset shapes_task(const ShapesOptions& options, const Limits& limits = {});

}  // namespace lrp
