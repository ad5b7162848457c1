// Colour maps for relevance and the scale a heatmap divides relevance by.
//
// Every colour map takes v in [−1, 1] (relevance divided by the heatmap's scale s, clamped) to an
// 8-bit RGB colour. The diverging maps (bwr, coldnhot, seismic) draw the sign; the sequential maps
// (gray, hot) draw |v| only. Between their control points the maps are linear in each channel, and
// a channel is rounded to the nearest level (halves away from zero).
//
// The scale s is a percentile of |R| (clip_scale): relevance beyond ±s saturates at the map's ends,
// so that a few hot pixels do not leave the rest of the map faint.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace lrp {

struct Rgb {
  std::uint8_t r = 0;
  std::uint8_t g = 0;
  std::uint8_t b = 0;
  friend bool operator==(const Rgb&, const Rgb&) = default;
};

enum class Colormap {
  kBwr,       // blue – white – red (diverging_color, image.hpp): −1 blue, 0 white, +1 red
  kColdnhot,  // Zennit's coldnhot: −1 cyan, −½ blue, 0 black, +⅓ red, +⅔ yellow, +1 white
  kSeismic,   // matplotlib's seismic: −1 dark blue (0, 0, 0.3), −½ blue, 0 white, +½ red, +1 dark red (0.5, 0, 0)
  kGray,      // |v|: 0 black, 1 white
  kHot,       // |v|: 0 black, ⅓ red, ⅔ yellow, 1 white (Zennit's hot)
};

// The config names, in the order of the enum: "bwr", "coldnhot", "seismic", "gray", "hot".
const std::vector<std::string>& colormap_names();
std::string colormap_name(Colormap map);
// The map called `name`, or nothing.
std::optional<Colormap> colormap_from_name(std::string_view name);
// Whether the map draws the sign (bwr, coldnhot, seismic) or |v| only (gray, hot).
bool colormap_diverging(Colormap map);

// The colour of v: v outside [−1, 1] (±Inf included) is clamped; NaN is an lrp::Error.
Rgb colormap_color(Colormap map, double v);
Rgb coldnhot_color(double v);
Rgb seismic_color(double v);
Rgb gray_color(double v);  // of |v|
Rgb hot_color(double v);   // of |v|

// The p-th percentile (0 ≤ p ≤ 100) of `values`, as numpy.percentile's default ("linear"): with the
// values sorted, x_0 ≤ … ≤ x_{n−1}, and h = (n − 1) · p / 100, it is
// x_⌊h⌋ + (h − ⌊h⌋) · (x_⌊h⌋+1 − x_⌊h⌋). p = 100 is the largest value, p = 0 the smallest. The values
// must be finite and not empty (lrp::Error otherwise).
double percentile(std::vector<double> values, double p);

// The scale of a heatmap from the magnitudes |R| of its pixels (finite, ≥ 0): their p-th
// percentile (0 < p ≤ 100); when that is 0 but some magnitude is not (a map with more than
// 100 − p percent zeros), the largest magnitude instead. 0 for no values or all zeros.
double clip_scale(std::vector<double> magnitudes, double p);

// `over` drawn with opacity alpha (0 ≤ alpha ≤ 1) over the grey level `grey`, per channel:
// round(alpha · over + (1 − alpha) · grey).
Rgb blend(Rgb over, std::uint8_t grey, double alpha);

}  // namespace lrp
