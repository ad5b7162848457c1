// Random shift and horizontal flip of image minibatches.
#include "lrp/train/augment.hpp"
#include "lrp/core/error.hpp"
#include "lrp/core/random.hpp"

#include <algorithm>
#include <cmath>

namespace lrp {

void validate(const Augmentation& a, const Shape& input_shape, const std::string& where) {
  LRP_CHECK(a.shift >= 0, where, ": the shift must be ≥ 0 pixels, got ", a.shift);
  if (!a.active()) return;
  LRP_CHECK(input_shape.size() == 3, where, ": augmentation shifts and mirrors images [C, H, W], but the samples have shape ",
            to_string(input_shape));
  LRP_CHECK(a.shift < input_shape[1] && a.shift < input_shape[2], where, ": the shift (", a.shift,
            " pixels) must be smaller than the image (", input_shape[1], "x", input_shape[2], ")");
  const Index channels = input_shape[0];
  LRP_CHECK(a.fill.size() <= 1 || static_cast<Index>(a.fill.size()) == channels, where, ": ", a.fill.size(),
            " fill values for images with ", channels, " channels (give one value or one per channel)");
  for (const Scalar f : a.fill) LRP_CHECK(std::isfinite(f), where, ": the fill value ", f, " is not finite");
}

void augment_batch(Tensor& batch, const Augmentation& a, std::mt19937_64& rng) {
  if (!a.active()) return;
  const Index C = batch.shape[0], H = batch.shape[1], W = batch.shape[2];
  std::vector<Scalar> plane(static_cast<std::size_t>(H * W));
  for (Index n = 0; n < batch.batch(); ++n) {
    Index dy = 0, dx = 0;
    if (a.shift > 0) {
      const auto span = static_cast<std::uint64_t>(2 * a.shift + 1);
      dy = static_cast<Index>(bounded(rng, span)) - a.shift;
      dx = static_cast<Index>(bounded(rng, span)) - a.shift;
    }
    const bool mirror = a.flip && bounded(rng, 2) == 1;
    Scalar* sample = batch.data.row(n).data();
    for (Index c = 0; c < C; ++c) {
      const Scalar fill = a.fill.empty() ? Scalar(0) : a.fill[a.fill.size() == 1 ? 0 : static_cast<std::size_t>(c)];
      Scalar* x = sample + c * H * W;
      // out(h, w) = in(h − dy, w' − dx) with w' = W − 1 − w when mirrored, fill outside the image.
      for (Index h = 0; h < H; ++h) {
        const Index sh = h - dy;
        for (Index w = 0; w < W; ++w) {
          const Index sw = (mirror ? W - 1 - w : w) - dx;
          plane[static_cast<std::size_t>(h * W + w)] =
              sh >= 0 && sh < H && sw >= 0 && sw < W ? x[sh * W + sw] : fill;
        }
      }
      std::copy(plane.begin(), plane.end(), x);
    }
  }
}

}  // namespace lrp
