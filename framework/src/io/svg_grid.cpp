// Labelled picture grids as SVG (svg_grid.hpp): base64, embedded PNGs, headers, captions and the
// colour bar.
#include "lrp/io/svg_grid.hpp"

#include "lrp/core/error.hpp"
#include "lrp/core/files.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <sstream>

namespace lrp {

std::string base64_encode(std::string_view bytes) {
  static constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  std::size_t i = 0;
  for (; i + 3 <= bytes.size(); i += 3) {
    const std::uint32_t v = (std::uint32_t(static_cast<unsigned char>(bytes[i])) << 16) |
                            (std::uint32_t(static_cast<unsigned char>(bytes[i + 1])) << 8) |
                            std::uint32_t(static_cast<unsigned char>(bytes[i + 2]));
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += kAlphabet[(v >> 6) & 63];
    out += kAlphabet[v & 63];
  }
  const std::size_t rest = bytes.size() - i;
  if (rest > 0) {
    std::uint32_t v = std::uint32_t(static_cast<unsigned char>(bytes[i])) << 16;
    if (rest == 2) v |= std::uint32_t(static_cast<unsigned char>(bytes[i + 1])) << 8;
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += rest == 2 ? kAlphabet[(v >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

std::string base64_encode(const std::vector<std::uint8_t>& bytes) {
  return base64_encode(std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()));
}

std::string png_data_uri(const Image& image) {
  return "data:image/png;base64," + base64_encode(encode_png(image.width, image.height, image.channels, image.pixels));
}

std::string tick_label(double value) {
  if (value == 0 || !std::isfinite(value)) return value == 0 ? "0" : (std::isnan(value) ? "NaN" : value > 0 ? "Inf" : "-Inf");
  std::array<char, 64> buffer{};
  const auto [end, ec] = std::to_chars(buffer.data(), buffer.data() + buffer.size(), value, std::chars_format::general, 3);
  if (ec != std::errc()) return "?";
  return std::string(buffer.data(), end);
}

namespace {

// Characters (UTF-8 code points) of a text.
Index characters(const std::string& text) {
  Index n = 0;
  for (const char c : text) n += (static_cast<unsigned char>(c) & 0xC0u) != 0x80u ? 1 : 0;
  return n;
}

// An estimate of a text's width in pixels (sans-serif glyphs average about 0.6 em).
Index text_width(const std::string& text, int font_size) {
  return static_cast<Index>(std::ceil(0.6 * static_cast<double>(font_size) * static_cast<double>(characters(text))));
}

// Bold text (the column headers) runs wider.
Index bold_width(const std::string& text, int font_size) {
  return static_cast<Index>(std::ceil(0.7 * static_cast<double>(font_size) * static_cast<double>(characters(text))));
}

// A header in lines no wider than `width`, broken only before '@' and ',' (a sweep point's name,
// "egb@gamma=0.25,epsilon=0.1", breaks into "egb", "@gamma=0.25", ",epsilon=0.1"); nothing when a
// piece alone is too wide.
std::vector<std::string> wrapped(const std::string& header, Index width, int font_size) {
  std::vector<std::string> pieces{""};
  for (const char c : header) {
    if ((c == '@' || c == ',') && !pieces.back().empty()) pieces.emplace_back();
    pieces.back() += c;
  }
  std::vector<std::string> lines;
  for (const std::string& piece : pieces) {
    if (bold_width(piece, font_size) > width) return {};
    if (!lines.empty() && bold_width(lines.back() + piece, font_size) <= width)
      lines.back() += piece;
    else
      lines.push_back(piece);
  }
  return lines;
}

struct GridLayout {
  Index margin = 10, title_h = 0, header_h = 0, label_w = 0, line_h = 0;
  std::vector<std::vector<std::string>> header_lines;  // each column header, wrapped to its column
  bool rotated = false;           // column headers turned by 45° (some header does not fit even wrapped)
  Index extra_right = 0;          // room for turned headers past the last column
  std::vector<Index> col_w, row_h, col_x, row_y;
  Index grid_w = 0, grid_h = 0, width = 0, height = 0, bar_y = 0, bar_w = 0;
};

// The colour bar's full note (write_colorbar) and what its quantity is called.
std::string bar_note(const ColorBar& bar) {
  if (bar.scale > 0) return bar.note;
  std::string note = "per-sample scale";
  if (!bar.note.empty()) note.append(": ").append(bar.note);
  return note;
}

std::string bar_quantity(const ColorBar& bar) { return colormap_diverging(bar.colormap) ? "relevance R" : "|R|"; }

GridLayout lay_out(const SvgGrid& g) {
  GridLayout l;
  const int fs = g.font_size;
  l.line_h = fs + 3;
  const Index rows = static_cast<Index>(g.cells.size());
  Index cols = 0;
  for (const auto& row : g.cells) cols = std::max(cols, static_cast<Index>(row.size()));
  LRP_CHECK(rows >= 1 && cols >= 1, "SVG grid '", g.title, "': no cells; expected at least one picture");
  LRP_CHECK(static_cast<Index>(g.column_headers.size()) <= cols && static_cast<Index>(g.row_headers.size()) <= rows,
            "SVG grid '", g.title, "': ", g.column_headers.size(), " column and ", g.row_headers.size(),
            " row headers for ", cols, " columns and ", rows, " rows");
  l.col_w.assign(static_cast<std::size_t>(cols), 0);
  l.row_h.assign(static_cast<std::size_t>(rows), 0);
  for (std::size_t r = 0; r < g.cells.size(); ++r)
    for (std::size_t c = 0; c < g.cells[r].size(); ++c) {
      const SvgGridCell& cell = g.cells[r][c];
      Index caption_w = 0;
      for (const std::string& line : cell.caption) caption_w = std::max(caption_w, text_width(line, fs));
      l.col_w[c] = std::max({l.col_w[c], cell.image.width, caption_w});
      l.row_h[r] = std::max(l.row_h[r], cell.image.height + static_cast<Index>(cell.caption.size()) * l.line_h);
    }
  l.title_h = g.title.empty() ? 0 : fs + 16;
  Index widest_header = 0;
  std::size_t most_lines = 1;
  for (std::size_t c = 0; c < g.column_headers.size(); ++c) {
    widest_header = std::max(widest_header, bold_width(g.column_headers[c], fs));
    l.header_lines.push_back(wrapped(g.column_headers[c], l.col_w[c], fs));
    l.rotated = l.rotated || l.header_lines.back().empty();
    most_lines = std::max(most_lines, l.header_lines.back().size());
  }
  if (!g.column_headers.empty())
    l.header_h = l.rotated ? static_cast<Index>(std::ceil(0.71 * static_cast<double>(widest_header))) + fs + 8
                           : static_cast<Index>(most_lines) * l.line_h + 10;
  if (l.rotated) l.extra_right = static_cast<Index>(std::ceil(0.71 * static_cast<double>(widest_header)));
  for (const auto& lines : g.row_headers)
    for (const std::string& line : lines) l.label_w = std::max(l.label_w, text_width(line, fs) + 12);

  Index x = l.margin + l.label_w;
  for (const Index w : l.col_w) {
    l.col_x.push_back(x);
    x += w + g.gap;
  }
  l.grid_w = x - g.gap - l.margin - l.label_w;
  Index y = l.margin + l.title_h + l.header_h;
  for (const Index h : l.row_h) {
    l.row_y.push_back(y);
    y += h + g.gap;
  }
  l.grid_h = y - g.gap - (l.margin + l.title_h + l.header_h);
  l.bar_y = y + 8;
  const Index bar_h = g.colorbar ? 14 + 8 + 2 * l.line_h + 8 : 0;
  Index content_w = l.grid_w + l.extra_right;
  if (g.colorbar) {
    l.bar_w = std::max<Index>(200, std::min<Index>(l.grid_w, 360));
    content_w = std::max({content_w, l.bar_w + 10 + text_width(bar_quantity(*g.colorbar), fs),
                          text_width(bar_note(*g.colorbar), fs - 1)});
  }
  l.width = l.margin + l.label_w + content_w + l.margin;
  l.width = std::max(l.width, 2 * l.margin + text_width(g.title, fs + 2));
  l.height = l.bar_y + bar_h + l.margin;
  return l;
}

void write_colorbar(std::ostringstream& svg, const SvgGrid& g, const GridLayout& l) {
  const ColorBar& bar = *g.colorbar;
  const int fs = g.font_size;
  const bool diverging = colormap_diverging(bar.colormap);
  const Index bar_w = l.bar_w;
  const Index x0 = l.margin + l.label_w, y0 = l.bar_y;
  // A 256-step gradient over the bar, stretched.
  Image gradient(256, 1, 3);
  for (Index k = 0; k < 256; ++k) {
    const double t = (static_cast<double>(k) + 0.5) / 256.0;
    gradient.set(k, 0, colormap_color(bar.colormap, diverging ? 2.0 * t - 1.0 : t));
  }
  svg << "<g class=\"colorbar\">\n<image x=\"" << x0 << "\" y=\"" << y0 << "\" width=\"" << bar_w
      << "\" height=\"14\" preserveAspectRatio=\"none\" style=\"image-rendering:pixelated\" xlink:href=\""
      << png_data_uri(gradient) << "\"/>\n<rect x=\"" << x0 << "\" y=\"" << y0 << "\" width=\"" << bar_w
      << "\" height=\"14\" fill=\"none\" stroke=\"#555555\" stroke-width=\"1\"/>\n";
  const bool per_sample = !(bar.scale > 0);
  std::vector<std::pair<double, std::string>> ticks;  // position in [0, 1], text
  if (diverging) {
    std::string high = "+";  // built by appending: GCC 12 warns falsely about "+" + std::string
    high += per_sample ? std::string("s") : tick_label(bar.scale);
    ticks = {{0.0, per_sample ? "-s" : tick_label(-bar.scale)}, {0.5, "0"}, {1.0, high}};
  } else {
    ticks = {{0.0, "0"}, {1.0, per_sample ? "s" : tick_label(bar.scale)}};
  }
  for (const auto& [t, text] : ticks) {
    const Index x = x0 + static_cast<Index>(std::lround(t * static_cast<double>(bar_w)));
    const char* anchor = t == 0.0 ? "start" : t == 1.0 ? "end" : "middle";
    svg << "<line x1=\"" << x << "\" y1=\"" << y0 + 14 << "\" x2=\"" << x << "\" y2=\"" << y0 + 19
        << "\" stroke=\"#555555\" stroke-width=\"1\"/>\n<text class=\"tick\" x=\"" << x << "\" y=\"" << y0 + 20 + fs
        << "\" text-anchor=\"" << anchor << "\">" << xml_escape(text) << "</text>\n";
  }
  const std::string note = bar_note(bar);
  svg << "<text x=\"" << x0 + bar_w + 10 << "\" y=\"" << y0 + 11 << "\">" << xml_escape(bar_quantity(bar))
      << "</text>\n";
  if (!note.empty())
    svg << "<text class=\"note\" x=\"" << x0 << "\" y=\"" << y0 + 20 + fs + l.line_h << "\" font-size=\"" << fs - 1
        << "\" fill=\"#444444\">" << xml_escape(note) << "</text>\n";
  svg << "</g>\n";
}

}  // namespace

std::string grid_svg(const SvgGrid& g) {
  LRP_CHECK(g.font_size >= 6 && g.font_size <= 72, "SVG grid: font_size is ", g.font_size, "; expected 6 to 72");
  LRP_CHECK(g.gap >= 0 && g.gap <= 256, "SVG grid: gap is ", g.gap, "; expected 0 to 256");
  const GridLayout l = lay_out(g);
  const int fs = g.font_size;
  std::ostringstream svg;
  svg << "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
      << "<svg xmlns=\"http://www.w3.org/2000/svg\" xmlns:xlink=\"http://www.w3.org/1999/xlink\" version=\"1.1\" width=\""
      << l.width << "\" height=\"" << l.height << "\" viewBox=\"0 0 " << l.width << ' ' << l.height
      << "\" font-family=\"DejaVu Sans, Arial, Helvetica, sans-serif\" font-size=\"" << fs << "\">\n"
      << "<title>" << xml_escape(g.title) << "</title>\n"
      << "<rect x=\"0\" y=\"0\" width=\"" << l.width << "\" height=\"" << l.height << "\" fill=\"white\"/>\n";
  if (!g.title.empty())
    svg << "<text class=\"title\" x=\"" << l.margin << "\" y=\"" << l.margin + fs + 4 << "\" font-size=\"" << fs + 2
        << "\" font-weight=\"bold\">" << xml_escape(g.title) << "</text>\n";
  const Index header_bottom = l.margin + l.title_h + l.header_h - 6;
  for (std::size_t c = 0; c < g.column_headers.size(); ++c) {
    const Index x = l.col_x[c] + l.col_w[c] / 2;
    if (l.rotated) {
      svg << "<text class=\"column\" x=\"" << x << "\" y=\"" << header_bottom << "\" text-anchor=\"start\" "
          << "transform=\"rotate(-45 " << x << ' ' << header_bottom << ")\" font-weight=\"bold\">"
          << xml_escape(g.column_headers[c]) << "</text>\n";
      continue;
    }
    // The whole name in one element (its lines as <tspan>s), bottom-aligned.
    const std::vector<std::string>& lines = l.header_lines[c];
    svg << "<text class=\"column\" text-anchor=\"middle\" font-weight=\"bold\">";
    Index y = header_bottom - static_cast<Index>(lines.size() - 1) * l.line_h;
    for (const std::string& line : lines) {
      svg << "<tspan x=\"" << x << "\" y=\"" << y << "\">" << xml_escape(line) << "</tspan>";
      y += l.line_h;
    }
    svg << "</text>\n";
  }
  for (std::size_t r = 0; r < g.row_headers.size(); ++r) {
    const auto& lines = g.row_headers[r];
    const Index block = static_cast<Index>(lines.size()) * l.line_h;
    Index y = l.row_y[r] + (l.row_h[r] - block) / 2 + fs;
    for (const std::string& line : lines) {
      svg << "<text class=\"row\" x=\"" << l.margin + l.label_w - 8 << "\" y=\"" << y << "\" text-anchor=\"end\">"
          << xml_escape(line) << "</text>\n";
      y += l.line_h;
    }
  }
  for (std::size_t r = 0; r < g.cells.size(); ++r)
    for (std::size_t c = 0; c < g.cells[r].size(); ++c) {
      const SvgGridCell& cell = g.cells[r][c];
      const Index x = l.col_x[c], y = l.row_y[r];
      svg << "<image x=\"" << x << "\" y=\"" << y << "\" width=\"" << cell.image.width << "\" height=\""
          << cell.image.height << "\" style=\"image-rendering:pixelated\" xlink:href=\""
          << (cell.png.empty() ? png_data_uri(cell.image) : "data:image/png;base64," + base64_encode(cell.png))
          << "\"/>\n";
      Index ty = y + cell.image.height + fs;
      for (const std::string& line : cell.caption) {
        svg << "<text class=\"caption\" x=\"" << x + l.col_w[c] / 2 << "\" y=\"" << ty << "\" text-anchor=\"middle\">"
            << xml_escape(line) << "</text>\n";
        ty += l.line_h;
      }
    }
  if (g.colorbar) write_colorbar(svg, g, l);
  svg << "</svg>\n";
  return svg.str();
}

void write_grid_svg(const std::string& path, const SvgGrid& grid) {
  std::string text;
  try {
    text = grid_svg(grid);
  } catch (const Error& e) {
    LRP_FAIL("cannot write SVG file '", path, "': ", e.what());
  }
  write_file_atomically(path, "SVG file", text);
}

}  // namespace lrp
