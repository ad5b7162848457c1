// Heatmaps drawn over their input (HeatmapOptions::overlay) and the magnitudes a figure's scale is
// taken from.
#include "lrp/core/error.hpp"
#include "lrp/io/colormap.hpp"
#include "lrp/io/image.hpp"

#include <cmath>

namespace lrp {

std::vector<double> relevance_magnitudes(const Shape& shape, const SampleRow& relevance) {
  const std::vector<double> map = relevance_map(shape, relevance);
  std::vector<double> out;
  out.reserve(map.size());
  for (const double r : map)
    if (std::isfinite(r)) out.push_back(std::abs(r));
  return out;
}

Heatmap overlay_image(const Shape& relevance_shape, const SampleRow& relevance, const Shape& input_shape,
                      const SampleRow& input, const HeatmapOptions& options) {
  // Both drawn one pixel per position first (input_image and relevance_image check the shapes and
  // the options), blended, then upscaled.
  HeatmapOptions single = options;
  single.upscale = 1;
  Heatmap result = relevance_image(relevance_shape, relevance, single);
  const Image in = input_image(input_shape, input, single, &result.nonfinite_input);
  const Image& heat = result.image;
  LRP_CHECK(heat.width == in.width && heat.height == in.height, "heatmap: the relevance has shape ",
            to_string(relevance_shape), " and the input ", to_string(input_shape), "; expected the same H × W");
  const std::vector<double> map = relevance_map(relevance_shape, relevance);
  const Index plane = in.width * in.height;
  const Index channels = input.size() / plane;
  Image blended(in.width, in.height, 3);
  for (Index p = 0; p < plane; ++p) {
    const Index x = p % in.width, y = p / in.width;
    bool finite = std::isfinite(map[static_cast<std::size_t>(p)]);
    for (Index c = 0; c < channels; ++c) finite = finite && std::isfinite(static_cast<double>(input[c * plane + p]));
    if (!finite) {
      blended.set(x, y, options.nonfinite_color);
      continue;
    }
    const Rgb g = in.at(x, y);
    const auto grey = static_cast<std::uint8_t>(std::lround((g.r + g.g + g.b) / 3.0));
    blended.set(x, y, blend(heat.at(x, y), grey, options.overlay_alpha));
  }
  // Nearest-neighbour upscaling, as the side-by-side pictures.
  const Index s = options.upscale;
  result.image = Image(in.width * s, in.height * s, 3);
  for (Index y = 0; y < in.height; ++y)
    for (Index x = 0; x < in.width; ++x) result.image.fill_rect(x * s, y * s, s, s, blended.at(x, y));
  return result;
}

}  // namespace lrp
