// Colour maps (coldnhot, seismic, gray, hot; bwr is diverging_color in image.cpp), percentiles,
// the clipping scale and alpha blending.
#include "lrp/io/colormap.hpp"

#include "lrp/core/error.hpp"
#include "lrp/io/image.hpp"

#include <algorithm>
#include <array>
#include <cmath>

namespace lrp {

namespace {

// A control point: the colour at position v, channels in [0, 1].
struct Stop {
  double v;
  double r, g, b;
};

std::uint8_t level(double channel) {
  return static_cast<std::uint8_t>(std::lround(255.0 * std::clamp(channel, 0.0, 1.0)));
}

// Linear interpolation between the stops (sorted by v, the first at the lowest v the map takes).
template <std::size_t N>
Rgb piecewise(const std::array<Stop, N>& stops, double v) {
  if (v <= stops.front().v) return {level(stops.front().r), level(stops.front().g), level(stops.front().b)};
  for (std::size_t k = 1; k < N; ++k) {
    if (v > stops[k].v) continue;
    const Stop& a = stops[k - 1];
    const Stop& b = stops[k];
    const double t = (v - a.v) / (b.v - a.v);
    return {level(a.r + t * (b.r - a.r)), level(a.g + t * (b.g - a.g)), level(a.b + t * (b.b - a.b))};
  }
  return {level(stops.back().r), level(stops.back().g), level(stops.back().b)};
}

double checked(double v, const char* map) {
  LRP_CHECK(!std::isnan(v), "colormap ", map, ": the value is NaN; expected a number (clamped to [-1, 1])");
  return std::clamp(v, -1.0, 1.0);
}

// Zennit's coldnhot (zennit/cmap.py: '0ff,00f,80:000,f00,ff0,fff'): cyan, blue, black at the middle
// (index 0x80), then red, yellow, white; colours without an index are spread evenly between their
// neighbours. Zennit places them on 8-bit indices (blue 64, black 128, red 170, yellow 212 of 0..255);
// here they sit at the exact fractions of each half (−½, 0, ⅓, ⅔), so zero is exactly black. The two
// differ by at most 3 levels per channel.
constexpr std::array<Stop, 6> kColdnhot{{{-1.0, 0, 1, 1},
                                         {-0.5, 0, 0, 1},
                                         {0.0, 0, 0, 0},
                                         {1.0 / 3.0, 1, 0, 0},
                                         {2.0 / 3.0, 1, 1, 0},
                                         {1.0, 1, 1, 1}}};

// matplotlib's seismic (a LinearSegmentedColormap from five evenly spaced colours).
constexpr std::array<Stop, 5> kSeismic{{{-1.0, 0, 0, 0.3},
                                        {-0.5, 0, 0, 1},
                                        {0.0, 1, 1, 1},
                                        {0.5, 1, 0, 0},
                                        {1.0, 0.5, 0, 0}}};

// Zennit's hot ('000,f00,ff0,fff'), over |v|.
constexpr std::array<Stop, 4> kHot{{{0.0, 0, 0, 0}, {1.0 / 3.0, 1, 0, 0}, {2.0 / 3.0, 1, 1, 0}, {1.0, 1, 1, 1}}};

constexpr std::array<Stop, 2> kGray{{{0.0, 0, 0, 0}, {1.0, 1, 1, 1}}};

}  // namespace

const std::vector<std::string>& colormap_names() {
  static const std::vector<std::string> names{"bwr", "coldnhot", "seismic", "gray", "hot"};
  return names;
}

std::string colormap_name(Colormap map) { return colormap_names()[static_cast<std::size_t>(map)]; }

std::optional<Colormap> colormap_from_name(std::string_view name) {
  const std::vector<std::string>& names = colormap_names();
  for (std::size_t k = 0; k < names.size(); ++k)
    if (names[k] == name) return static_cast<Colormap>(k);
  return std::nullopt;
}

bool colormap_diverging(Colormap map) {
  return map == Colormap::kBwr || map == Colormap::kColdnhot || map == Colormap::kSeismic;
}

Rgb coldnhot_color(double v) { return piecewise(kColdnhot, checked(v, "coldnhot")); }
Rgb seismic_color(double v) { return piecewise(kSeismic, checked(v, "seismic")); }
Rgb gray_color(double v) { return piecewise(kGray, std::abs(checked(v, "gray"))); }
Rgb hot_color(double v) { return piecewise(kHot, std::abs(checked(v, "hot"))); }

Rgb colormap_color(Colormap map, double v) {
  switch (map) {
    case Colormap::kBwr: return diverging_color(v);
    case Colormap::kColdnhot: return coldnhot_color(v);
    case Colormap::kSeismic: return seismic_color(v);
    case Colormap::kGray: return gray_color(v);
    case Colormap::kHot: return hot_color(v);
  }
  LRP_FAIL("colormap: unknown map ", static_cast<int>(map));
}

double percentile(std::vector<double> values, double p) {
  LRP_CHECK(!values.empty(), "percentile: no values");
  LRP_CHECK(p >= 0 && p <= 100, "percentile: p is ", p, "; expected 0 to 100");
  for (const double x : values) LRP_CHECK(std::isfinite(x), "percentile: the value ", x, " is not finite");
  const double h = static_cast<double>(values.size() - 1) * p / 100.0;
  const auto lo = static_cast<std::size_t>(std::floor(h));
  const std::size_t hi = std::min(lo + 1, values.size() - 1);
  // Only the two order statistics around h are needed.
  std::nth_element(values.begin(), values.begin() + static_cast<std::ptrdiff_t>(lo), values.end());
  const double x_lo = values[lo];
  double x_hi = x_lo;
  if (hi != lo) x_hi = *std::min_element(values.begin() + static_cast<std::ptrdiff_t>(hi), values.end());
  return x_lo + (h - static_cast<double>(lo)) * (x_hi - x_lo);
}

double clip_scale(std::vector<double> magnitudes, double p) {
  LRP_CHECK(p > 0 && p <= 100, "heatmap: clip_percentile is ", p, "; expected a value in (0, 100]");
  if (magnitudes.empty()) return 0.0;
  double largest = 0;
  for (const double m : magnitudes) {
    LRP_CHECK(std::isfinite(m) && m >= 0, "heatmap: the magnitude ", m, " is not finite and ≥ 0");
    largest = std::max(largest, m);
  }
  if (p == 100) return largest;
  const double s = percentile(std::move(magnitudes), p);
  return s > 0 ? s : largest;
}

Rgb blend(Rgb over, std::uint8_t grey, double alpha) {
  LRP_CHECK(alpha >= 0 && alpha <= 1, "blend: alpha is ", alpha, "; expected 0 to 1");
  const auto mix = [&](std::uint8_t c) {
    return static_cast<std::uint8_t>(std::lround(alpha * c + (1.0 - alpha) * grey));
  };
  return {mix(over.r), mix(over.g), mix(over.b)};
}

}  // namespace lrp
