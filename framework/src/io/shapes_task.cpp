// The synthetic shapes task with object masks: see shapes_task.hpp.
#include "lrp/io/shapes_task.hpp"

#include "data_internal.hpp"
#include "lrp/core/error.hpp"
#include "lrp/core/random.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>
#include <utility>
#include <vector>

namespace lrp {

namespace {

// The largest image side and number of distractors accepted (bounds for generated data, not for
// what the task could draw).
constexpr Index kMaxImageSize = 4096;
constexpr Index kMaxDistractors = 16;

bool in_shape(ShapeKind kind, Index extent, Index row, Index column) {
  const Index u = 2 * row - (extent - 1), v = 2 * column - (extent - 1);
  switch (kind) {
    case ShapeKind::kSquare: return true;
    case ShapeKind::kPlus: {
      Index t = std::max<Index>(1, extent / 3);
      if ((extent - t) % 2 != 0) ++t;
      const Index low = (extent - t) / 2;
      return (row >= low && row < low + t) || (column >= low && column < low + t);
    }
    case ShapeKind::kTriangle: return std::abs(v) <= row + (extent % 2 == 0 ? 1 : 0);
    case ShapeKind::kRing: {
      const Index w = std::max<Index>(3, (2 * extent + 2) / 5);
      const Index d2 = u * u + v * v;
      return d2 <= extent * extent && d2 > (extent - w) * (extent - w);
    }
  }
  return false;
}

// A value uniform in [low, high) as the build's scalar, kept below high after rounding.
Scalar draw_between(std::mt19937_64& rng, double low, double high) {
  const auto value = static_cast<Scalar>(low + (high - low) * uniform01(rng));
  return std::min(value, std::nextafter(static_cast<Scalar>(high), Scalar(0)));
}

// Whether a distractor blob with its top-left corner at (row, column) keeps one pixel of space
// from the shape's box [top, top + extent) × [left, left + extent).
bool apart(Index row, Index column, Index top, Index left, Index extent) {
  const Index b = kShapesDistractorSize;
  return row + b < top || row > top + extent || column + b < left || column > left + extent;
}

// One sample: writes the image into `image` and the shape into `mask` (both size × size, zeroed).
void draw_sample(const ShapesOptions& o, Index i, Matrix& image, Matrix& mask) {
  std::mt19937_64 rng(sample_seed(o.seed, i, kShapesStream));
  const auto kind = static_cast<ShapeKind>(i % o.classes);
  const Index extent = o.min_size + static_cast<Index>(bounded(rng, static_cast<std::uint64_t>(o.max_size - o.min_size + 1)));
  const auto positions = static_cast<std::uint64_t>(o.size - extent + 1);
  const auto top = static_cast<Index>(bounded(rng, positions));
  const auto left = static_cast<Index>(bounded(rng, positions));
  const Scalar intensity = draw_between(rng, kShapesIntensityLow, kShapesIntensityHigh);
  for (Index r = 0; r < o.size; ++r)
    for (Index c = 0; c < o.size; ++c) image(r, c) = draw_between(rng, 0.0, o.noise);
  if (o.distractors > 0) {
    // The top-left corners a blob may take, in row-major order.
    std::vector<std::pair<Index, Index>> corners;
    const Index last = o.size - kShapesDistractorSize;
    for (Index r = 0; r <= last; ++r)
      for (Index c = 0; c <= last; ++c)
        if (apart(r, c, top, left, extent)) corners.emplace_back(r, c);
    // validate() leaves room: size ≥ max_size + 5 puts a free row band or column band beside the box.
    LRP_CHECK(!corners.empty(), "shapes: no room for a distractor beside a shape of extent ", extent,
              " in an image of size ", o.size);
    for (Index k = 0; k < o.distractors; ++k) {
      const auto [r, c] = corners[static_cast<std::size_t>(bounded(rng, corners.size()))];
      const Scalar value = draw_between(rng, kShapesIntensityLow, kShapesIntensityHigh);
      image.block(r, c, kShapesDistractorSize, kShapesDistractorSize).setConstant(value);
    }
  }
  draw_shape(mask, kind, extent, top, left);
  for (Index r = 0; r < o.size; ++r)
    for (Index c = 0; c < o.size; ++c)
      if (mask(r, c) == 1) image(r, c) = intensity;
}

}  // namespace

void validate(const ShapesOptions& o) {
  LRP_CHECK(o.count >= 1, "shapes: count = ", o.count, " must be ≥ 1");
  LRP_CHECK(o.classes >= 2 && o.classes <= 4, "shapes: classes = ", o.classes,
            " is out of range; expected 2 to 4 (0 square, 1 plus, 2 triangle, 3 ring)");
  LRP_CHECK(o.size >= kShapesMinExtent && o.size <= kMaxImageSize, "shapes: size = ", o.size,
            " is out of range; expected an image side in [", kShapesMinExtent, ", ", kMaxImageSize, "]");
  LRP_CHECK(o.min_size >= kShapesMinExtent, "shapes: min_size = ", o.min_size, " must be ≥ ", kShapesMinExtent,
            " (smaller shapes of different classes look alike)");
  LRP_CHECK(o.max_size >= o.min_size, "shapes: max_size = ", o.max_size, " must be ≥ min_size = ", o.min_size);
  LRP_CHECK(o.max_size <= o.size, "shapes: max_size = ", o.max_size, " must be ≤ size = ", o.size,
            " (the shape lies inside the image)");
  LRP_CHECK(std::isfinite(o.noise) && o.noise >= 0 && o.noise < kShapesIntensityLow, "shapes: noise = ", o.noise,
            " is out of range; expected 0 ≤ noise < ", kShapesIntensityLow,
            " (the background stays below the shapes' intensities)");
  LRP_CHECK(o.distractors >= 0 && o.distractors <= kMaxDistractors, "shapes: distractors = ", o.distractors,
            " is out of range; expected 0 to ", kMaxDistractors);
  LRP_CHECK(o.distractors == 0 || o.size >= o.max_size + 5, "shapes: distractors = ", o.distractors,
            " need room beside the shape: size = ", o.size, " must be ≥ max_size + 5 = ", o.max_size + 5);
  LRP_CHECK(o.count <= std::numeric_limits<Index>::max() / (o.size * o.size), "shapes: count = ", o.count,
            " × size² = ", o.size * o.size, " is too large");
}

Index draw_shape(Matrix& mask, ShapeKind kind, Index extent, Index top, Index left) {
  const auto k = static_cast<Index>(kind);
  LRP_CHECK(k >= 0 && k <= 3, "draw_shape: kind ", k, " is not a shape; expected 0 to 3");
  LRP_CHECK(extent >= 1 && top >= 0 && left >= 0 && top + extent <= mask.rows() && left + extent <= mask.cols(),
            "draw_shape: a box of extent ", extent, " at (", top, ", ", left, ") does not lie inside the ",
            mask.rows(), " × ", mask.cols(), " mask");
  Index pixels = 0;
  for (Index r = 0; r < extent; ++r)
    for (Index c = 0; c < extent; ++c)
      if (in_shape(kind, extent, r, c)) {
        mask(top + r, left + c) = 1;
        ++pixels;
      }
  return pixels;
}

Dataset shapes_task(const ShapesOptions& o, const Limits& limits) {
  validate(o);
  const Index features = o.size * o.size;
  check_memory(saturating_add(dataset_bytes(o.count, features),
                              saturating_mul(saturating_mul(static_cast<std::uint64_t>(o.count),
                                                            static_cast<std::uint64_t>(features)),
                                             sizeof(Scalar))),
               limits, detail::concat("shapes data of ", o.count, " samples of shape [1, ", o.size, ", ", o.size, "]"));
  Dataset dataset;
  dataset.source = detail::concat("shapes(count ", o.count, ", size ", o.size, ", classes ", o.classes, ", min_size ",
                                  o.min_size, ", max_size ", o.max_size, ", noise ", o.noise, ", distractors ",
                                  o.distractors, ", seed ", o.seed, ")");
  Matrix data(o.count, features);
  dataset.masks = Matrix::Zero(o.count, features);
  Matrix image(o.size, o.size), mask(o.size, o.size);
  for (Index i = 0; i < o.count; ++i) {
    mask.setZero();
    draw_sample(o, i, image, mask);
    // Row-major rows of the image are the feature order of [1, size, size].
    for (Index r = 0; r < o.size; ++r)
      for (Index c = 0; c < o.size; ++c) {
        data(i, r * o.size + c) = image(r, c);
        dataset.masks(i, r * o.size + c) = mask(r, c);
      }
    dataset.labels.push_back(i % o.classes);
    dataset.indices.push_back(i);
  }
  dataset.inputs = Tensor(Shape{1, o.size, o.size}, std::move(data));
  return detail::finish_dataset(std::move(dataset));
}

}  // namespace lrp
