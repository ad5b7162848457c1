// Labelled picture grids as self-contained SVG files: every picture embedded as a base64 PNG
// <image>, the texts (title, column headers, row labels, captions, colour bar ticks) as SVG <text>,
// so no font or image file travels with them. lrplab draws methods.svg (samples × methods) and each
// method's montage.svg with these.
#pragma once

#include "lrp/io/colormap.hpp"
#include "lrp/io/image.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace lrp {

// Base64 of RFC 4648, section 4: the standard alphabet (A–Z, a–z, 0–9, +, /), padded with '=' to a
// multiple of four characters, no line breaks.
std::string base64_encode(std::string_view bytes);
std::string base64_encode(const std::vector<std::uint8_t>& bytes);

// "data:image/png;base64,..." of the image's PNG (encode_png).
std::string png_data_uri(const Image& image);

// Relevance tick text: three significant digits, locale-independent ("0.0123", "-4.5e-05", "0").
std::string tick_label(double value);

struct ColorBar {
  Colormap colormap = Colormap::kBwr;
  // The relevance at the bar's ends (the figure's one scale s): ticks -s, 0, +s for a diverging map,
  // 0 and s (of |R|) for a sequential one. 0 (scale: sample): every picture has its own s, and the
  // ticks say "-s", "0", "+s" (sequential: "0", "s") and the note starts with "per-sample scale".
  double scale = 0.0;
  std::string note;  // a line under the ticks (how s was chosen), may be empty
};

struct SvgGridCell {
  Image image;
  std::vector<std::string> caption{};  // lines under the picture, may be empty
  std::string png{};  // encode_png of the image when the caller has it already (else encoded here)
};

struct SvgGrid {
  std::string title{};
  std::vector<std::string> column_headers{};            // one per column, or none
  std::vector<std::vector<std::string>> row_headers{};  // lines left of each row, or none
  std::vector<std::vector<SvgGridCell>> cells{};        // [row][column]; rows may be shorter
  std::optional<ColorBar> colorbar{};
  int font_size = 12;  // 6 to 72
  int gap = 8;         // pixels between cells, 0 to 256
};

// The SVG text of the grid: the title on top, column headers (turned by 45° when a header is wider
// than its column), row headers on the left, each cell's picture at its natural size with its
// caption under it, the colour bar with its ticks under the grid. Texts are escaped for XML. Errors
// (lrp::Error): no cells, more column or row headers than columns or rows, a bad font size or gap.
std::string grid_svg(const SvgGrid& grid);

// Writes grid_svg(grid) to `path` atomically (files.hpp).
void write_grid_svg(const std::string& path, const SvgGrid& grid);

}  // namespace lrp
