// Pictures of experiment results: PNG files (written with zlib, no image library), the diverging
// blue–white–red colormap for relevance (more maps in colormap.hpp), input | heatmap pairs or
// overlays, montages of them (labelled SVG grids: svg_grid.hpp), and SVG line plots of curves
// (e.g. mean MoRF / LeRF / random pixel-flipping curves per method).
//
// Every file is written atomically (lrp::write_file_atomically, files.hpp: a unique temporary next
// to it, flushed, then renamed), so a reader never sees a half-written file and a failed write
// leaves the old file (and no temporary). Every failure (an unwritable folder, a missing directory, bad arguments) is an
// lrp::Error that names the path and says what was wrong.
#pragma once

#include "lrp/core/tensor.hpp"
#include "lrp/io/colormap.hpp"  // Rgb, Colormap

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace lrp {

// "(r, g, b)", for messages and test output.
std::string to_string(const Rgb& color);

// An 8-bit image: `height` rows of `width` pixels, top row first, each pixel `channels` bytes
// (1: grey; 3: red, green, blue).
struct Image {
  Index width = 0;
  Index height = 0;
  int channels = 3;
  std::vector<std::uint8_t> pixels;  // height · width · channels bytes

  Image() = default;
  // Every pixel set to `fill` (a grey image takes fill.r).
  Image(Index width, Index height, int channels, Rgb fill = {255, 255, 255});

  // The pixel at column x, row y (a grey pixel as r = g = b); bounds are checked (lrp::Error).
  Rgb at(Index x, Index y) const;
  // Sets the pixel at column x, row y (a grey image takes color.r); bounds are checked.
  void set(Index x, Index y, Rgb color);
  // Copies `source` with its top-left corner at (x, y); it must fit inside this image. A grey source
  // pasted into an RGB image becomes r = g = b; an RGB source cannot go into a grey image.
  void paste(const Image& source, Index x, Index y);
  // Fills the rectangle [x, x + w) × [y, y + h), clipped to the image.
  void fill_rect(Index x, Index y, Index w, Index h, Rgb color);
};

// ---------------------------------------------------------------- PNG

// The bytes of a PNG file: 8-bit greyscale (channels 1) or RGB (channels 3), not interlaced; each
// row takes whichever of PNG's five filters (none, sub, up, average, Paeth) gives the smallest sum
// of absolute filtered bytes (libpng's heuristic), and the filtered rows are deflated by zlib at
// its best compression. pixels: height · width · channels bytes, rows top to bottom.
std::vector<std::uint8_t> encode_png(Index width, Index height, int channels, const std::vector<std::uint8_t>& pixels);

// Writes encode_png(...) to `path` (atomically, see above).
void write_png(const std::string& path, Index width, Index height, int channels, const std::vector<std::uint8_t>& pixels);
void write_png(const std::string& path, const Image& image);

// ---------------------------------------------------------------- colormap

// The diverging colormap blue–white–red, symmetric around zero (matplotlib's 'bwr', linear in
// each half): v = −1 is saturated blue (0, 0, 255), 0 is white, +1 saturated red (255, 0, 0);
// for 0 ≤ v ≤ 1: (255, c, c) and diverging_color(−v) = (c, c, 255), c = round(255 · (1 − v)).
// v outside [−1, 1] (±Inf included) is clamped; NaN is an lrp::Error (heatmaps draw non-finite
// relevance in HeatmapOptions::nonfinite_color instead).
Rgb diverging_color(double v);

// ---------------------------------------------------------------- heatmaps

struct HeatmapOptions {
  // Nearest-neighbour upscaling: every input pixel becomes an upscale × upscale block (≥ 1; 4 turns
  // 28 × 28 into 112 × 112).
  int upscale = 4;
  // The range of the input's raw values (the model's normalization range): input_min is drawn
  // black, input_max white (values outside are clamped). Finite, input_min < input_max.
  double input_min = 0.0;
  double input_max = 1.0;
  // Relevance is drawn as colormap_color(colormap, R / s) (colormap.hpp; |R| > s saturates):
  // s = relevance_scale when it is > 0 (the same scale for several images), else
  // s = clip_scale(|R| over the finite values of this image's map, clip_percentile): per-image
  // scaling, by the max |R| at 100. An all-zero map is drawn in the colour of 0.
  double relevance_scale = 0.0;
  Colormap colormap = Colormap::kBwr;
  double clip_percentile = 100.0;  // (0, 100]
  // false: the input on the left, the heatmap on the right (heatmap_image). true: one picture, the
  // heatmap's colour drawn with opacity overlay_alpha over the input's grey level (the mean over its
  // channels): blend(colour, grey, overlay_alpha), colormap.hpp.
  bool overlay = false;
  double overlay_alpha = 0.6;  // [0, 1]
  // Pixels between the input (left) and the heatmap (right), in gap_color.
  int gap = 2;
  Rgb gap_color{255, 255, 255};
  // Non-finite relevance (NaN, ±Inf; after summing over channels) and non-finite input values are
  // drawn in this colour (pure green is not in the colormap, nor in a grey input) and counted.
  Rgb nonfinite_color{0, 255, 0};
};

struct Heatmap {
  Image image;                 // RGB
  double scale = 0.0;          // the s relevance was divided by (0 for an all-zero map)
  Index nonfinite = 0;         // heatmap positions (H × W) whose summed relevance is NaN or ±Inf
  Index nonfinite_input = 0;   // input values (C × H × W) that are NaN or ±Inf
};

// One sample's values in C×H×W order (a row of a Tensor: tensor.data.row(i)).
using SampleRow = Eigen::Ref<const RowVector>;

// The input drawn as an image, upscaled: shape [C, H, W] (or [H, W], one channel); three channels
// are drawn as RGB, any other number as the grey mean over the channels. nonfinite (if not null)
// receives the count of non-finite values.
Image input_image(const Shape& shape, const SampleRow& values, const HeatmapOptions& options = {},
                  Index* nonfinite = nullptr);

// The relevance map drawn with diverging_color, upscaled: shape [C, H, W] (or [H, W]); the
// relevance is summed over the channels first.
Heatmap relevance_image(const Shape& shape, const SampleRow& relevance, const HeatmapOptions& options = {});

// The relevance map of one sample: shape [C, H, W] (or [H, W]) summed over the channels, H × W values.
std::vector<double> relevance_map(const Shape& shape, const SampleRow& relevance);
// The magnitudes |R| of the map's finite values: what clip_scale takes (several samples'
// magnitudes together give one scale for a figure).
std::vector<double> relevance_magnitudes(const Shape& shape, const SampleRow& relevance);

// The heatmap drawn over the input (what heatmap_image draws with options.overlay): per pixel,
// blend(colour of R / s, grey, overlay_alpha) with grey the mean of the input's drawn R, G, B
// levels; a pixel whose summed relevance or any input channel is not finite is nonfinite_color.
// (W·upscale) × (H·upscale) pixels.
Heatmap overlay_image(const Shape& relevance_shape, const SampleRow& relevance, const Shape& input_shape,
                      const SampleRow& input, const HeatmapOptions& options = {});

// The input on the left, options.gap pixels, the heatmap on the right: an RGB image of
// (2·W·upscale + gap) × (H·upscale) pixels; with options.overlay, the heatmap over the input's
// grey levels, (W·upscale) × (H·upscale). The relevance and the input must have the same H and W
// (their channel counts may differ: relevance is summed over its channels).
Heatmap heatmap_image(const Shape& relevance_shape, const SampleRow& relevance, const Shape& input_shape,
                      const SampleRow& input, const HeatmapOptions& options = {});
// Sample `sample` of two batches (e.g. Explanation::relevance and the explained inputs).
Heatmap heatmap_image(const Tensor& relevance, const Tensor& inputs, Index sample, const HeatmapOptions& options = {});

// Draws heatmap_image(...) and writes it to `path` as a PNG; returns what was drawn.
Heatmap write_heatmap_png(const std::string& path, const Tensor& relevance, const Tensor& inputs, Index sample,
                          const HeatmapOptions& options = {});

// ---------------------------------------------------------------- montages

struct MontageOptions {
  int separator = 2;               // pixels between neighbouring cells (rows and columns), ≥ 0
  Rgb separator_color{128, 128, 128};
  Rgb background{255, 255, 255};   // around cells smaller than their row's height or column's width
};

// A grid of images: cells[row][column] (rows may have different lengths; a missing cell is
// background). Column c is as wide as its widest cell, row r as tall as its tallest; each cell sits
// at its slot's top-left corner. Cells may be grey or RGB; the result is RGB.
Image montage(const std::vector<std::vector<Image>>& cells, const MontageOptions& options = {});

struct HeatmapMontage {
  Image image;                 // RGB
  Index rows = 0;              // samples
  Index columns = 0;           // methods
  std::vector<double> scales;  // rows × columns, row-major: each cell's relevance scale
  Index nonfinite = 0;         // summed over the cells
  Index nonfinite_input = 0;   // summed over the cells
};

// A grid of heatmap_image pairs: row i is sample i of `inputs`, column m is method m (relevances[m],
// a batch with the same samples as `inputs`, e.g. an Explanation's relevance). Pass a subset of the
// samples to draw fewer rows.
HeatmapMontage heatmap_montage(const Tensor& inputs, const std::vector<const Tensor*>& relevances,
                               const HeatmapOptions& heatmap = {}, const MontageOptions& montage = {});

HeatmapMontage write_heatmap_montage_png(const std::string& path, const Tensor& inputs,
                                         const std::vector<const Tensor*>& relevances,
                                         const HeatmapOptions& heatmap = {}, const MontageOptions& montage = {});

// ---------------------------------------------------------------- curves (SVG)

// XML text and attribute content: the five special characters escaped; bytes that are not valid
// UTF-8 and characters XML 1.0 forbids become U+FFFD.
std::string xml_escape(std::string_view text);

struct CurveSeries {
  std::string name{};           // legend entry
  std::vector<double> values{}; // y at x = 0, 1, ..., values.size() − 1; finite, at least one
  std::string color{};          // "#rgb", "#rrggbb" or a colour name (letters only); empty: a palette colour
};

struct CurvePlotOptions {
  int width = 720;              // the SVG's size in pixels (≥ 200 × 150)
  int height = 440;
};

// A self-contained SVG line plot: title, axes with ticks at round numbers and tick labels, axis
// labels, one polyline per series (one point per value) and a legend. x runs over 0..L, L + 1 the
// longest series' length; y over the values' range widened to round numbers. Texts are escaped for
// XML. Errors: no series, an empty series, a non-finite value, a malformed colour (naming the
// series).
std::string curves_svg(const std::string& title, const std::string& x_label, const std::string& y_label,
                       const std::vector<CurveSeries>& series, const CurvePlotOptions& options = {});

void write_curves_svg(const std::string& path, const std::string& title, const std::string& x_label,
                      const std::string& y_label, const std::vector<CurveSeries>& series,
                      const CurvePlotOptions& options = {});

}  // namespace lrp
