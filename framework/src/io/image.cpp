// PNG writing (zlib), the diverging colormap, heatmaps, montages and SVG curve plots.
#include "lrp/io/image.hpp"

#include "lrp/core/error.hpp"
#include "lrp/core/files.hpp"

#include <zlib.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <sstream>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace lrp {

namespace {

// Largest width or height of anything drawn (PNG allows 2^31 − 1; this keeps byte counts far from
// overflow and catches absurd arguments).
constexpr Index kMaxSide = Index(1) << 20;
constexpr Index kMaxPixels = Index(1) << 30;

void check_channels(int channels, const char* where) {
  LRP_CHECK(channels == 1 || channels == 3, where, ": channels is ", channels, "; expected 1 (grey) or 3 (RGB)");
}

void check_size(Index width, Index height, const char* where) {
  LRP_CHECK(width >= 1 && height >= 1 && width <= kMaxSide && height <= kMaxSide && width * height <= kMaxPixels,
            where, ": the image is ", width, " × ", height, " pixels; expected 1 to ", kMaxSide,
            " on each side and at most ", kMaxPixels, " pixels");
}

}  // namespace

std::string to_string(const Rgb& color) {
  return detail::concat("(", int(color.r), ", ", int(color.g), ", ", int(color.b), ")");
}

// ---------------------------------------------------------------- Image

Image::Image(Index width_, Index height_, int channels_, Rgb fill) : width(width_), height(height_), channels(channels_) {
  check_channels(channels, "image");
  LRP_CHECK(width >= 0 && height >= 0 && width <= kMaxSide && height <= kMaxSide && width * height <= kMaxPixels,
            "image: ", width, " × ", height, " pixels; expected 0 to ", kMaxSide, " on each side and at most ",
            kMaxPixels, " pixels");
  const auto count = static_cast<std::size_t>(width * height);
  if (channels == 1) {
    pixels.assign(count, fill.r);
  } else {
    pixels.resize(3 * count);
    for (std::size_t i = 0; i < count; ++i) {
      pixels[3 * i] = fill.r;
      pixels[3 * i + 1] = fill.g;
      pixels[3 * i + 2] = fill.b;
    }
  }
}

Rgb Image::at(Index x, Index y) const {
  LRP_CHECK(x >= 0 && x < width && y >= 0 && y < height, "image: pixel (", x, ", ", y, ") is outside the ", width,
            " × ", height, " image");
  const std::size_t i = static_cast<std::size_t>((y * width + x) * channels);
  if (channels == 1) return {pixels[i], pixels[i], pixels[i]};
  return {pixels[i], pixels[i + 1], pixels[i + 2]};
}

void Image::set(Index x, Index y, Rgb color) {
  LRP_CHECK(x >= 0 && x < width && y >= 0 && y < height, "image: pixel (", x, ", ", y, ") is outside the ", width,
            " × ", height, " image");
  const std::size_t i = static_cast<std::size_t>((y * width + x) * channels);
  pixels[i] = color.r;
  if (channels == 3) {
    pixels[i + 1] = color.g;
    pixels[i + 2] = color.b;
  }
}

void Image::paste(const Image& source, Index x, Index y) {
  LRP_CHECK(x >= 0 && y >= 0 && x + source.width <= width && y + source.height <= height, "image: a ", source.width,
            " × ", source.height, " image at (", x, ", ", y, ") does not fit into ", width, " × ", height);
  LRP_CHECK(channels == 3 || source.channels == 1, "image: cannot paste an RGB image into a grey image");
  if (source.channels == channels) {
    const auto row_bytes = static_cast<std::size_t>(source.width * channels);
    for (Index r = 0; r < source.height; ++r)
      std::copy_n(source.pixels.begin() + static_cast<std::ptrdiff_t>(r * source.width * channels), row_bytes,
                  pixels.begin() + static_cast<std::ptrdiff_t>(((y + r) * width + x) * channels));
    return;
  }
  for (Index r = 0; r < source.height; ++r)
    for (Index c = 0; c < source.width; ++c) set(x + c, y + r, source.at(c, r));
}

void Image::fill_rect(Index x, Index y, Index w, Index h, Rgb color) {
  const Index x0 = std::max<Index>(x, 0), y0 = std::max<Index>(y, 0);
  const Index x1 = std::min(x + w, width), y1 = std::min(y + h, height);
  for (Index r = y0; r < y1; ++r)
    for (Index c = x0; c < x1; ++c) set(c, r, color);
}

// ---------------------------------------------------------------- PNG

namespace {

void put_u32(std::vector<std::uint8_t>& out, std::uint32_t v) {
  out.push_back(static_cast<std::uint8_t>(v >> 24));
  out.push_back(static_cast<std::uint8_t>(v >> 16));
  out.push_back(static_cast<std::uint8_t>(v >> 8));
  out.push_back(static_cast<std::uint8_t>(v));
}

void put_chunk(std::vector<std::uint8_t>& out, const char (&type)[5], const std::vector<std::uint8_t>& data) {
  put_u32(out, static_cast<std::uint32_t>(data.size()));
  const std::size_t type_at = out.size();
  out.insert(out.end(), type, type + 4);
  out.insert(out.end(), data.begin(), data.end());
  // CRC-32 over the chunk type and data (not the length).
  uLong crc = ::crc32(0L, Z_NULL, 0);
  crc = ::crc32_z(crc, out.data() + type_at, 4 + data.size());
  put_u32(out, static_cast<std::uint32_t>(crc));
}

std::uint8_t paeth(int a, int b, int c) {
  const int p = a + b - c;
  const int pa = std::abs(p - a), pb = std::abs(p - b), pc = std::abs(p - c);
  if (pa <= pb && pa <= pc) return static_cast<std::uint8_t>(a);
  if (pb <= pc) return static_cast<std::uint8_t>(b);
  return static_cast<std::uint8_t>(c);
}

// Filters one row with `type` (0 none, 1 sub, 2 up, 3 average, 4 Paeth) into out; prev is the
// previous row (all zeros for the first).
void filter_row(int type, const std::uint8_t* row, const std::uint8_t* prev, std::size_t n, std::size_t bpp,
                std::uint8_t* out) {
  for (std::size_t i = 0; i < n; ++i) {
    const int a = i >= bpp ? row[i - bpp] : 0;
    const int b = prev[i];
    const int c = i >= bpp ? prev[i - bpp] : 0;
    int predictor = 0;
    switch (type) {
      case 0: predictor = 0; break;
      case 1: predictor = a; break;
      case 2: predictor = b; break;
      case 3: predictor = (a + b) / 2; break;
      default: predictor = paeth(a, b, c); break;
    }
    out[i] = static_cast<std::uint8_t>(row[i] - predictor);
  }
}

}  // namespace

std::vector<std::uint8_t> encode_png(Index width, Index height, int channels, const std::vector<std::uint8_t>& pixels) {
  check_channels(channels, "PNG");
  check_size(width, height, "PNG");
  const auto row_bytes = static_cast<std::size_t>(width) * static_cast<std::size_t>(channels);
  const std::size_t expected = row_bytes * static_cast<std::size_t>(height);
  LRP_CHECK(pixels.size() == expected, "PNG: ", pixels.size(), " pixel bytes for a ", width, " × ", height, " image with ",
            channels, " channel(s); expected ", expected);

  // Filtered rows: a filter-type byte, then the row.
  std::vector<std::uint8_t> raw((row_bytes + 1) * static_cast<std::size_t>(height));
  const std::vector<std::uint8_t> zeros(row_bytes, 0);
  std::vector<std::uint8_t> candidate(row_bytes), best(row_bytes);
  const auto bpp = static_cast<std::size_t>(channels);
  for (Index y = 0; y < height; ++y) {
    const std::uint8_t* row = pixels.data() + static_cast<std::size_t>(y) * row_bytes;
    const std::uint8_t* prev = y == 0 ? zeros.data() : row - row_bytes;
    int best_type = -1;
    std::uint64_t best_cost = 0;
    for (int type = 0; type <= 4; ++type) {
      filter_row(type, row, prev, row_bytes, bpp, candidate.data());
      // libpng's heuristic: the filtered bytes read as signed, summed in absolute value.
      std::uint64_t cost = 0;
      for (const std::uint8_t v : candidate) cost += static_cast<std::uint64_t>(std::abs(int(static_cast<std::int8_t>(v))));
      if (best_type < 0 || cost < best_cost) {
        best_type = type;
        best_cost = cost;
        best.swap(candidate);
      }
    }
    std::uint8_t* out = raw.data() + static_cast<std::size_t>(y) * (row_bytes + 1);
    out[0] = static_cast<std::uint8_t>(best_type);
    std::copy(best.begin(), best.end(), out + 1);
  }

  uLongf compressed_size = ::compressBound(static_cast<uLong>(raw.size()));
  std::vector<std::uint8_t> compressed(compressed_size);
  const int status = ::compress2(compressed.data(), &compressed_size, raw.data(), static_cast<uLong>(raw.size()),
                                 Z_BEST_COMPRESSION);
  LRP_CHECK(status == Z_OK, "PNG: zlib's compress2 failed with status ", status);
  compressed.resize(compressed_size);

  std::vector<std::uint8_t> png{0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
  std::vector<std::uint8_t> header;
  put_u32(header, static_cast<std::uint32_t>(width));
  put_u32(header, static_cast<std::uint32_t>(height));
  header.push_back(8);                            // bit depth
  header.push_back(channels == 1 ? 0 : 2);        // colour type: greyscale / truecolour
  header.push_back(0);                            // compression: deflate
  header.push_back(0);                            // filter method: adaptive (the five types)
  header.push_back(0);                            // no interlace
  put_chunk(png, "IHDR", header);
  // IDAT chunks of at most 1 MiB each.
  constexpr std::size_t kIdatMax = std::size_t(1) << 20;
  for (std::size_t at = 0; at < compressed.size(); at += kIdatMax) {
    const std::size_t n = std::min(kIdatMax, compressed.size() - at);
    put_chunk(png, "IDAT", std::vector<std::uint8_t>(compressed.begin() + static_cast<std::ptrdiff_t>(at),
                                                     compressed.begin() + static_cast<std::ptrdiff_t>(at + n)));
  }
  put_chunk(png, "IEND", {});
  return png;
}

void write_png(const std::string& path, Index width, Index height, int channels, const std::vector<std::uint8_t>& pixels) {
  std::vector<std::uint8_t> png;
  try {
    png = encode_png(width, height, channels, pixels);
  } catch (const Error& e) {
    LRP_FAIL("cannot write PNG file '", path, "': ", e.what());
  }
  write_file_atomically(path, "PNG file",
                        std::string_view(reinterpret_cast<const char*>(png.data()), png.size()));
}

void write_png(const std::string& path, const Image& image) {
  write_png(path, image.width, image.height, image.channels, image.pixels);
}

// ---------------------------------------------------------------- colormap

Rgb diverging_color(double v) {
  LRP_CHECK(!std::isnan(v), "diverging_color: the value is NaN; expected a number (clamped to [-1, 1])");
  v = std::clamp(v, -1.0, 1.0);
  // The same expression for v and −v keeps the map exactly symmetric.
  const auto c = static_cast<std::uint8_t>(std::lround(255.0 * (1.0 - std::abs(v))));
  if (v >= 0) return {255, c, c};
  return {c, c, 255};
}

// ---------------------------------------------------------------- heatmaps

namespace {

struct Layout {
  Index channels = 0, height = 0, width = 0;
};

Layout layout_of(const Shape& shape, Index values, const char* what) {
  Layout l;
  if (shape.size() == 3) {
    l = {shape[0], shape[1], shape[2]};
  } else if (shape.size() == 2) {
    l = {1, shape[0], shape[1]};
  } else {
    LRP_FAIL("heatmap: the ", what, " has shape ", to_string(shape), "; expected [C, H, W] or [H, W]");
  }
  LRP_CHECK(l.channels >= 1 && l.height >= 1 && l.width >= 1, "heatmap: the ", what, " has shape ", to_string(shape),
            "; expected positive extents");
  LRP_CHECK(values == numel(shape), "heatmap: the ", what, " has ", values, " values; its shape ", to_string(shape),
            " needs ", numel(shape));
  return l;
}

void validate(const HeatmapOptions& o) {
  LRP_CHECK(o.upscale >= 1 && o.upscale <= 256, "heatmap: upscale is ", o.upscale, "; expected 1 to 256");
  LRP_CHECK(o.gap >= 0 && o.gap <= 4096, "heatmap: gap is ", o.gap, "; expected 0 to 4096 pixels");
  LRP_CHECK(std::isfinite(o.input_min) && std::isfinite(o.input_max) && o.input_min < o.input_max,
            "heatmap: the input range is [", o.input_min, ", ", o.input_max,
            "]; expected finite bounds with input_min < input_max");
  LRP_CHECK(std::isfinite(o.relevance_scale) && o.relevance_scale >= 0, "heatmap: relevance_scale is ",
            o.relevance_scale, "; expected a finite value ≥ 0 (0: scale each image by its own |R|)");
  LRP_CHECK(o.clip_percentile > 0 && o.clip_percentile <= 100, "heatmap: clip_percentile is ", o.clip_percentile,
            "; expected a value in (0, 100]");
  LRP_CHECK(o.overlay_alpha >= 0 && o.overlay_alpha <= 1, "heatmap: overlay_alpha is ", o.overlay_alpha,
            "; expected 0 to 1");
}

// An h × w image of colours, blown up by `upscale` (nearest neighbour).
Image upscaled(const std::vector<Rgb>& colors, Index h, Index w, int upscale) {
  const Index s = upscale;
  check_size(w * s, h * s, "heatmap");
  Image image(w * s, h * s, 3);
  for (Index y = 0; y < h; ++y)
    for (Index x = 0; x < w; ++x) image.fill_rect(x * s, y * s, s, s, colors[static_cast<std::size_t>(y * w + x)]);
  return image;
}

std::uint8_t grey_level(double t) { return static_cast<std::uint8_t>(std::lround(255.0 * std::clamp(t, 0.0, 1.0))); }

}  // namespace

Image input_image(const Shape& shape, const SampleRow& values, const HeatmapOptions& options, Index* nonfinite) {
  validate(options);
  const Layout l = layout_of(shape, values.size(), "input");
  const Index plane = l.height * l.width;
  const double span = options.input_max - options.input_min;
  std::vector<Rgb> colors(static_cast<std::size_t>(plane));
  Index bad = 0;
  for (Index p = 0; p < plane; ++p) {
    bool finite = true;
    double sum = 0;
    std::array<double, 3> rgb{};
    for (Index c = 0; c < l.channels; ++c) {
      const double v = static_cast<double>(values[c * plane + p]);
      if (!std::isfinite(v)) {
        finite = false;
        ++bad;
        continue;
      }
      sum += v;
      if (l.channels == 3) rgb[static_cast<std::size_t>(c)] = v;
    }
    Rgb& color = colors[static_cast<std::size_t>(p)];
    if (!finite) {
      color = options.nonfinite_color;
    } else if (l.channels == 3) {
      color = {grey_level((rgb[0] - options.input_min) / span), grey_level((rgb[1] - options.input_min) / span),
               grey_level((rgb[2] - options.input_min) / span)};
    } else {
      const std::uint8_t g = grey_level((sum / static_cast<double>(l.channels) - options.input_min) / span);
      color = {g, g, g};
    }
  }
  if (nonfinite) *nonfinite = bad;
  return upscaled(colors, l.height, l.width, options.upscale);
}

std::vector<double> relevance_map(const Shape& shape, const SampleRow& relevance) {
  const Layout l = layout_of(shape, relevance.size(), "relevance");
  const Index plane = l.height * l.width;
  std::vector<double> map(static_cast<std::size_t>(plane), 0.0);
  for (Index c = 0; c < l.channels; ++c)
    for (Index p = 0; p < plane; ++p) map[static_cast<std::size_t>(p)] += static_cast<double>(relevance[c * plane + p]);
  return map;
}

Heatmap relevance_image(const Shape& shape, const SampleRow& relevance, const HeatmapOptions& options) {
  validate(options);
  const Layout l = layout_of(shape, relevance.size(), "relevance");
  const std::vector<double> map = relevance_map(shape, relevance);
  Heatmap result;
  std::vector<double> magnitudes;
  for (const double r : map) {
    if (std::isfinite(r))
      magnitudes.push_back(std::abs(r));
    else
      ++result.nonfinite;
  }
  result.scale =
      options.relevance_scale > 0 ? options.relevance_scale : clip_scale(std::move(magnitudes), options.clip_percentile);

  std::vector<Rgb> colors(map.size());
  for (std::size_t p = 0; p < map.size(); ++p) {
    const double r = map[p];
    if (!std::isfinite(r))
      colors[p] = options.nonfinite_color;
    else if (result.scale == 0)
      colors[p] = colormap_color(options.colormap, 0.0);
    else  // |r / s| > 1 saturates (also when it overflows)
      colors[p] = colormap_color(options.colormap, r / result.scale);
  }
  result.image = upscaled(colors, l.height, l.width, options.upscale);
  return result;
}

Heatmap heatmap_image(const Shape& relevance_shape, const SampleRow& relevance, const Shape& input_shape,
                      const SampleRow& input, const HeatmapOptions& options) {
  validate(options);
  const Layout lr = layout_of(relevance_shape, relevance.size(), "relevance");
  const Layout li = layout_of(input_shape, input.size(), "input");
  LRP_CHECK(lr.height == li.height && lr.width == li.width, "heatmap: the relevance has shape ",
            to_string(relevance_shape), " and the input ", to_string(input_shape), "; expected the same H × W");
  if (options.overlay) return overlay_image(relevance_shape, relevance, input_shape, input, options);
  Heatmap result = relevance_image(relevance_shape, relevance, options);
  const Image left = input_image(input_shape, input, options, &result.nonfinite_input);
  const Image right = std::move(result.image);
  result.image = Image(left.width + options.gap + right.width, left.height, 3, options.gap_color);
  result.image.paste(left, 0, 0);
  result.image.paste(right, left.width + options.gap, 0);
  return result;
}

Heatmap heatmap_image(const Tensor& relevance, const Tensor& inputs, Index sample, const HeatmapOptions& options) {
  LRP_CHECK(sample >= 0 && sample < relevance.batch() && sample < inputs.batch(), "heatmap: sample ", sample,
            " does not exist; the relevance has ", relevance.batch(), " and the inputs ", inputs.batch(), " samples");
  return heatmap_image(relevance.shape, relevance.data.row(sample), inputs.shape, inputs.data.row(sample), options);
}

Heatmap write_heatmap_png(const std::string& path, const Tensor& relevance, const Tensor& inputs, Index sample,
                          const HeatmapOptions& options) {
  Heatmap heatmap;
  try {
    heatmap = heatmap_image(relevance, inputs, sample, options);
  } catch (const Error& e) {
    LRP_FAIL("cannot write PNG file '", path, "': ", e.what());
  }
  write_png(path, heatmap.image);
  return heatmap;
}

// ---------------------------------------------------------------- montages

Image montage(const std::vector<std::vector<Image>>& cells, const MontageOptions& options) {
  LRP_CHECK(options.separator >= 0 && options.separator <= 4096, "montage: separator is ", options.separator,
            "; expected 0 to 4096 pixels");
  const Index rows = static_cast<Index>(cells.size());
  Index columns = 0;
  for (const auto& row : cells) columns = std::max(columns, static_cast<Index>(row.size()));
  LRP_CHECK(rows >= 1 && columns >= 1, "montage: no cells; expected at least one image");
  std::vector<Index> widths(static_cast<std::size_t>(columns), 0), heights(static_cast<std::size_t>(rows), 0);
  for (std::size_t r = 0; r < cells.size(); ++r)
    for (std::size_t c = 0; c < cells[r].size(); ++c) {
      widths[c] = std::max(widths[c], cells[r][c].width);
      heights[r] = std::max(heights[r], cells[r][c].height);
    }
  const Index sep = options.separator;
  Index total_w = sep * (columns - 1), total_h = sep * (rows - 1);
  for (const Index w : widths) total_w += w;
  for (const Index h : heights) total_h += h;
  check_size(total_w, total_h, "montage");

  Image image(total_w, total_h, 3, options.separator_color);
  Index y = 0;
  for (std::size_t r = 0; r < cells.size(); ++r) {
    Index x = 0;
    for (std::size_t c = 0; c < static_cast<std::size_t>(columns); ++c) {
      image.fill_rect(x, y, widths[c], heights[r], options.background);
      if (c < cells[r].size()) image.paste(cells[r][c], x, y);
      x += widths[c] + sep;
    }
    y += heights[r] + sep;
  }
  return image;
}

HeatmapMontage heatmap_montage(const Tensor& inputs, const std::vector<const Tensor*>& relevances,
                               const HeatmapOptions& heatmap, const MontageOptions& options) {
  LRP_CHECK(!relevances.empty(), "heatmap montage: no relevance; expected one batch per method (column)");
  LRP_CHECK(inputs.batch() >= 1, "heatmap montage: the inputs have no samples");
  for (std::size_t m = 0; m < relevances.size(); ++m) {
    LRP_CHECK(relevances[m] != nullptr, "heatmap montage: relevance ", m, " is null");
    LRP_CHECK(relevances[m]->batch() == inputs.batch(), "heatmap montage: relevance ", m, " has ",
              relevances[m]->batch(), " samples; expected ", inputs.batch(), " (one per input sample)");
  }
  HeatmapMontage result;
  result.rows = inputs.batch();
  result.columns = static_cast<Index>(relevances.size());
  std::vector<std::vector<Image>> cells(static_cast<std::size_t>(result.rows));
  for (Index i = 0; i < result.rows; ++i)
    for (std::size_t m = 0; m < relevances.size(); ++m) {
      Heatmap h = heatmap_image(*relevances[m], inputs, i, heatmap);
      result.scales.push_back(h.scale);
      result.nonfinite += h.nonfinite;
      result.nonfinite_input += h.nonfinite_input;
      cells[static_cast<std::size_t>(i)].push_back(std::move(h.image));
    }
  result.image = montage(cells, options);
  return result;
}

HeatmapMontage write_heatmap_montage_png(const std::string& path, const Tensor& inputs,
                                         const std::vector<const Tensor*>& relevances, const HeatmapOptions& heatmap,
                                         const MontageOptions& options) {
  HeatmapMontage result;
  try {
    result = heatmap_montage(inputs, relevances, heatmap, options);
  } catch (const Error& e) {
    LRP_FAIL("cannot write PNG file '", path, "': ", e.what());
  }
  write_png(path, result.image);
  return result;
}

// ---------------------------------------------------------------- curves (SVG)

namespace {

// Appends the UTF-8 encoding of U+FFFD (the replacement character).
void put_replacement(std::string& out) { out += "\xEF\xBF\xBD"; }

}  // namespace

// Controls other than tab, newline and carriage return, U+FFFE and U+FFFF are what XML 1.0 forbids.
std::string xml_escape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  std::size_t i = 0;
  while (i < text.size()) {
    const auto b = static_cast<unsigned char>(text[i]);
    if (b < 0x80) {
      switch (b) {
        case '&': out += "&amp;"; break;
        case '<': out += "&lt;"; break;
        case '>': out += "&gt;"; break;
        case '"': out += "&quot;"; break;
        case '\'': out += "&apos;"; break;
        default:
          if (b < 0x20 && b != '\t' && b != '\n' && b != '\r')
            put_replacement(out);
          else
            out += static_cast<char>(b);
      }
      ++i;
      continue;
    }
    // A multi-byte sequence: its length from the lead byte, then continuation bytes, no overlong
    // forms, no surrogates, nothing above U+10FFFF.
    std::size_t length = 0;
    std::uint32_t code = 0;
    if (b >= 0xC2 && b <= 0xDF) {
      length = 2;
      code = b & 0x1Fu;
    } else if (b >= 0xE0 && b <= 0xEF) {
      length = 3;
      code = b & 0x0Fu;
    } else if (b >= 0xF0 && b <= 0xF4) {
      length = 4;
      code = b & 0x07u;
    }
    bool valid = length > 0 && i + length <= text.size();
    for (std::size_t k = 1; valid && k < length; ++k) {
      const auto cb = static_cast<unsigned char>(text[i + k]);
      if ((cb & 0xC0u) != 0x80u) valid = false;
      code = (code << 6) | (cb & 0x3Fu);
    }
    if (valid) {
      const std::uint32_t min_code = length == 2 ? 0x80u : length == 3 ? 0x800u : 0x10000u;
      valid = code >= min_code && code <= 0x10FFFFu && !(code >= 0xD800u && code <= 0xDFFFu) && code != 0xFFFEu &&
              code != 0xFFFFu;
    }
    if (valid) {
      out.append(text.substr(i, length));
      i += length;
    } else {
      put_replacement(out);
      ++i;
    }
  }
  return out;
}

namespace {

// Locale-independent fixed-point text.
std::string fixed(double v, int decimals) {
  std::array<char, 64> buffer{};
  const auto [end, ec] = std::to_chars(buffer.data(), buffer.data() + buffer.size(), v, std::chars_format::fixed, decimals);
  if (ec != std::errc()) return "0";
  std::string s(buffer.data(), end);
  if (s.find_first_not_of("-0.") == std::string::npos && s.front() == '-') s.erase(0, 1);  // no "-0.00"
  return s;
}

std::string coordinate(double v) { return fixed(v, 2); }

// A round step (1, 2 or 5 times a power of ten) giving about `target` intervals over `span`.
double nice_step(double span, int target) {
  const double raw = span / target;
  const double magnitude = std::pow(10.0, std::floor(std::log10(raw)));
  const double normalized = raw / magnitude;
  const double factor = normalized < 1.5 ? 1 : normalized < 3 ? 2 : normalized < 7 ? 5 : 10;
  return factor * magnitude;
}

int decimals_for(double step) { return std::max(0, static_cast<int>(-std::floor(std::log10(step) + 1e-9))); }

bool valid_color(const std::string& color) {
  if (color.empty()) return false;
  if (color[0] == '#') {
    if (color.size() != 4 && color.size() != 7) return false;
    return std::all_of(color.begin() + 1, color.end(), [](char ch) { return std::isxdigit(static_cast<unsigned char>(ch)) != 0; });
  }
  return color.size() <= 32 &&
         std::all_of(color.begin(), color.end(), [](char ch) { return std::isalpha(static_cast<unsigned char>(ch)) != 0; });
}

constexpr std::array<const char*, 10> kPalette{"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
                                               "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"};

// Where a curve plot's values land: axis ranges at round numbers, the plotting area (title on top,
// y label on the left, x label at the bottom, legend on the right) and the mapping of values to
// pixels.
struct PlotFrame {
  double y_lo = 0, y_hi = 0, y_step = 0, x_hi = 0, x_step = 0;
  double W = 0, H = 0, left = 0, right = 0, top = 0, bottom = 0;
  double px(double x) const { return left + (right - left) * x / x_hi; }
  double py(double y) const { return bottom - (bottom - top) * (y - y_lo) / (y_hi - y_lo); }
};

// Checks the series and lays out their plot.
PlotFrame plot_frame(const std::string& title, const std::vector<CurveSeries>& series,
                     const CurvePlotOptions& options) {
  LRP_CHECK(options.width >= 200 && options.width <= 20000 && options.height >= 150 && options.height <= 20000,
            "curves: the plot is ", options.width, " × ", options.height, " pixels; expected 200 to 20000 wide and 150 to 20000 high");
  LRP_CHECK(!series.empty(), "curves '", title, "': no series; expected at least one");
  double y_min = std::numeric_limits<double>::infinity(), y_max = -y_min;
  std::size_t longest = 0;
  std::size_t longest_name = 0;
  for (const CurveSeries& s : series) {
    LRP_CHECK(!s.values.empty(), "curves '", title, "': series '", s.name, "' has no values; expected at least one");
    for (std::size_t i = 0; i < s.values.size(); ++i) {
      LRP_CHECK(std::isfinite(s.values[i]), "curves '", title, "': series '", s.name, "' has the non-finite value ",
                s.values[i], " at x = ", i, "; expected finite values");
      y_min = std::min(y_min, s.values[i]);
      y_max = std::max(y_max, s.values[i]);
    }
    LRP_CHECK(s.color.empty() || valid_color(s.color), "curves '", title, "': series '", s.name, "' has the colour '",
              s.color, "'; expected \"#rgb\", \"#rrggbb\" or a colour name (letters only)");
    longest = std::max(longest, s.values.size());
    longest_name = std::max(longest_name, s.name.size());
  }

  // Axis ranges at round numbers.
  if (y_min == y_max) {
    const double pad = y_min == 0 ? 1.0 : std::abs(y_min) * 0.1;
    y_min -= pad;
    y_max += pad;
  }
  LRP_CHECK(std::isfinite(y_max - y_min), "curves '", title, "': the values span [", y_min, ", ", y_max,
            "], too wide to plot");
  PlotFrame f;
  f.y_step = nice_step(y_max - y_min, 6);
  f.y_lo = std::floor(y_min / f.y_step + 1e-9) * f.y_step;
  f.y_hi = std::ceil(y_max / f.y_step - 1e-9) * f.y_step;
  f.x_hi = std::max<double>(1.0, static_cast<double>(longest) - 1.0);
  f.x_step = std::max(1.0, nice_step(f.x_hi, 8));

  // Layout: title on top, y label on the left, x label at the bottom, legend on the right.
  f.W = options.width;
  f.H = options.height;
  const double legend_w =
      std::min(f.W / 3.0, 40.0 + 7.0 * static_cast<double>(std::min<std::size_t>(longest_name, 40)));
  f.left = 72;
  f.right = f.W - legend_w - 24;
  f.top = 44;
  f.bottom = f.H - 56;
  return f;
}

// Grid lines, axes, ticks, tick labels and axis labels.
void write_axes(std::ostringstream& svg, const PlotFrame& f, const std::string& x_label, const std::string& y_label) {
  svg << "<g stroke=\"#dddddd\" stroke-width=\"1\">\n";
  const int y_ticks = static_cast<int>(std::lround((f.y_hi - f.y_lo) / f.y_step));
  const int x_ticks = static_cast<int>(std::floor(f.x_hi / f.x_step + 1e-9));
  for (int k = 0; k <= y_ticks; ++k) {
    const double y = f.py(f.y_lo + k * f.y_step);
    svg << "<line x1=\"" << coordinate(f.left) << "\" y1=\"" << coordinate(y) << "\" x2=\"" << coordinate(f.right)
        << "\" y2=\"" << coordinate(y) << "\"/>\n";
  }
  for (int k = 0; k <= x_ticks; ++k) {
    const double x = f.px(k * f.x_step);
    svg << "<line x1=\"" << coordinate(x) << "\" y1=\"" << coordinate(f.top) << "\" x2=\"" << coordinate(x)
        << "\" y2=\"" << coordinate(f.bottom) << "\"/>\n";
  }
  svg << "</g>\n<g stroke=\"black\" stroke-width=\"1\">\n"
      << "<line x1=\"" << coordinate(f.left) << "\" y1=\"" << coordinate(f.bottom) << "\" x2=\"" << coordinate(f.right)
      << "\" y2=\"" << coordinate(f.bottom) << "\"/>\n"
      << "<line x1=\"" << coordinate(f.left) << "\" y1=\"" << coordinate(f.top) << "\" x2=\"" << coordinate(f.left)
      << "\" y2=\"" << coordinate(f.bottom) << "\"/>\n";
  for (int k = 0; k <= y_ticks; ++k) {
    const double y = f.py(f.y_lo + k * f.y_step);
    svg << "<line x1=\"" << coordinate(f.left - 5) << "\" y1=\"" << coordinate(y) << "\" x2=\"" << coordinate(f.left)
        << "\" y2=\"" << coordinate(y) << "\"/>\n";
  }
  for (int k = 0; k <= x_ticks; ++k) {
    const double x = f.px(k * f.x_step);
    svg << "<line x1=\"" << coordinate(x) << "\" y1=\"" << coordinate(f.bottom) << "\" x2=\"" << coordinate(x)
        << "\" y2=\"" << coordinate(f.bottom + 5) << "\"/>\n";
  }
  svg << "</g>\n<g fill=\"black\">\n";
  const int y_decimals = decimals_for(f.y_step);
  for (int k = 0; k <= y_ticks; ++k)
    svg << "<text x=\"" << coordinate(f.left - 8) << "\" y=\"" << coordinate(f.py(f.y_lo + k * f.y_step) + 4)
        << "\" text-anchor=\"end\">" << fixed(f.y_lo + k * f.y_step, y_decimals) << "</text>\n";
  for (int k = 0; k <= x_ticks; ++k)
    svg << "<text x=\"" << coordinate(f.px(k * f.x_step)) << "\" y=\"" << coordinate(f.bottom + 19)
        << "\" text-anchor=\"middle\">" << fixed(k * f.x_step, 0) << "</text>\n";
  svg << "<text x=\"" << coordinate((f.left + f.right) / 2) << "\" y=\"" << coordinate(f.H - 14)
      << "\" text-anchor=\"middle\" font-size=\"13\">" << xml_escape(x_label) << "</text>\n"
      << "<text x=\"18\" y=\"" << coordinate((f.top + f.bottom) / 2) << "\" text-anchor=\"middle\" font-size=\"13\" "
      << "transform=\"rotate(-90 18 " << coordinate((f.top + f.bottom) / 2) << ")\">" << xml_escape(y_label) << "</text>\n"
      << "</g>\n";

}

// The curves (a point for a one-value series) and the legend.
void write_series(std::ostringstream& svg, const PlotFrame& f, const std::vector<CurveSeries>& series) {
  for (std::size_t s = 0; s < series.size(); ++s) {
    const CurveSeries& curve = series[s];
    const std::string color = curve.color.empty() ? kPalette[s % kPalette.size()] : curve.color;
    svg << "<polyline fill=\"none\" stroke=\"" << color
        << "\" stroke-width=\"2\" stroke-linejoin=\"round\" stroke-linecap=\"round\" points=\"";
    for (std::size_t i = 0; i < curve.values.size(); ++i)
      svg << (i ? " " : "") << coordinate(f.px(static_cast<double>(i))) << ',' << coordinate(f.py(curve.values[i]));
    svg << "\"><title>" << xml_escape(curve.name) << "</title></polyline>\n";
    if (curve.values.size() == 1)  // a one-point polyline draws nothing: mark the point
      svg << "<circle cx=\"" << coordinate(f.px(0)) << "\" cy=\"" << coordinate(f.py(curve.values[0])) << "\" r=\"3\" fill=\""
          << color << "\"/>\n";
  }
  svg << "<g font-size=\"12\">\n";
  for (std::size_t s = 0; s < series.size(); ++s) {
    const std::string color = series[s].color.empty() ? kPalette[s % kPalette.size()] : series[s].color;
    const double y = f.top + 10 + 20.0 * static_cast<double>(s);
    svg << "<line x1=\"" << coordinate(f.right + 14) << "\" y1=\"" << coordinate(y) << "\" x2=\"" << coordinate(f.right + 38)
        << "\" y2=\"" << coordinate(y) << "\" stroke=\"" << color << "\" stroke-width=\"2\"/>\n"
        << "<text x=\"" << coordinate(f.right + 44) << "\" y=\"" << coordinate(y + 4) << "\">"
        << xml_escape(series[s].name) << "</text>\n";
  }
  svg << "</g>\n</svg>\n";
}

}  // namespace

std::string curves_svg(const std::string& title, const std::string& x_label, const std::string& y_label,
                       const std::vector<CurveSeries>& series, const CurvePlotOptions& options) {
  const PlotFrame f = plot_frame(title, series, options);
  std::ostringstream svg;
  svg << "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
      << "<svg xmlns=\"http://www.w3.org/2000/svg\" version=\"1.1\" width=\"" << options.width << "\" height=\""
      << options.height << "\" viewBox=\"0 0 " << options.width << ' ' << options.height
      << "\" font-family=\"DejaVu Sans, Arial, Helvetica, sans-serif\" font-size=\"12\">\n"
      << "<title>" << xml_escape(title) << "</title>\n"
      << "<rect x=\"0\" y=\"0\" width=\"" << options.width << "\" height=\"" << options.height
      << "\" fill=\"white\"/>\n"
      << "<text x=\"" << coordinate((f.left + f.right) / 2) << "\" y=\"26\" text-anchor=\"middle\" font-size=\"16\">"
      << xml_escape(title) << "</text>\n";

  write_axes(svg, f, x_label, y_label);
  write_series(svg, f, series);
  return svg.str();
}

void write_curves_svg(const std::string& path, const std::string& title, const std::string& x_label,
                      const std::string& y_label, const std::vector<CurveSeries>& series,
                      const CurvePlotOptions& options) {
  std::string text;
  try {
    text = curves_svg(title, x_label, y_label, series, options);
  } catch (const Error& e) {
    LRP_FAIL("cannot write SVG file '", path, "': ", e.what());
  }
  write_file_atomically(path, "SVG file", text);
}

}  // namespace lrp
