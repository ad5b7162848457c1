// Pictures (lrp/io/image.hpp): PNG files decoded here independently of the writer (chunks, CRC-32 by
// zlib, IDAT inflated by zlib's uncompress, all five PNG filters undone) and compared pixel for
// pixel; the diverging colormap's known answers; heatmap layout, scaling and NaN handling;
// montages; SVG curve plots parsed by a minimal XML checker; atomic writes and their errors.
#include "lrp/core/error.hpp"
#include "lrp/io/image.hpp"

#include "temp_dir.hpp"
#include "xml_check.hpp"

#include <catch2/catch.hpp>
#include <zlib.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <limits>
#include <map>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <vector>

using Catch::Contains;
using lrp::Image;
using lrp::Index;
using lrp::Rgb;
using lrp::Scalar;
using lrp_test::Element;
using lrp_test::unescape;
using lrp_test::parse_xml;
using lrp_test::TempDir;

namespace {

// ---------------------------------------------------------------- an independent PNG decoder

struct DecodedPng {
  std::uint32_t width = 0;
  std::uint32_t height = 0;
  int channels = 0;
  std::vector<std::uint8_t> pixels;
  std::vector<std::string> chunk_types;  // in file order
  std::vector<int> filters;              // per row
};

std::uint32_t be32(const std::uint8_t* p) {
  return (std::uint32_t(p[0]) << 24) | (std::uint32_t(p[1]) << 16) | (std::uint32_t(p[2]) << 8) | std::uint32_t(p[3]);
}

int paeth_predictor(int a, int b, int c) {
  const int p = a + b - c;
  const int pa = std::abs(p - a), pb = std::abs(p - b), pc = std::abs(p - c);
  if (pa <= pb && pa <= pc) return a;
  if (pb <= pc) return b;
  return c;
}

DecodedPng decode_png(const std::vector<char>& file) {
  const std::vector<std::uint8_t> bytes(file.begin(), file.end());
  static const std::uint8_t kSignature[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
  REQUIRE(bytes.size() >= 8);
  REQUIRE(std::equal(kSignature, kSignature + 8, bytes.begin()));
  DecodedPng png;
  std::vector<std::uint8_t> idat;
  std::size_t at = 8;
  while (at < bytes.size()) {
    REQUIRE(at + 12 <= bytes.size());
    const std::uint32_t length = be32(&bytes[at]);
    REQUIRE(at + 12 + length <= bytes.size());
    const std::string type(bytes.begin() + static_cast<std::ptrdiff_t>(at + 4),
                           bytes.begin() + static_cast<std::ptrdiff_t>(at + 8));
    const std::uint8_t* data = &bytes[at + 8];
    const uLong crc = ::crc32(::crc32(0L, Z_NULL, 0), &bytes[at + 4], 4 + length);
    CHECK(be32(&bytes[at + 8 + length]) == static_cast<std::uint32_t>(crc));
    png.chunk_types.push_back(type);
    if (type == "IHDR") {
      REQUIRE(length == 13);
      png.width = be32(data);
      png.height = be32(data + 4);
      REQUIRE(data[8] == 8);                      // bit depth
      REQUIRE((data[9] == 0 || data[9] == 2));    // greyscale or truecolour
      png.channels = data[9] == 0 ? 1 : 3;
      REQUIRE(data[10] == 0);
      REQUIRE(data[11] == 0);
      REQUIRE(data[12] == 0);                     // not interlaced
    } else if (type == "IDAT") {
      idat.insert(idat.end(), data, data + length);
    }
    at += 12 + length;
  }
  REQUIRE(at == bytes.size());
  REQUIRE(png.chunk_types.size() >= 3);
  REQUIRE(png.chunk_types.front() == "IHDR");
  REQUIRE(png.chunk_types.back() == "IEND");

  const std::size_t stride = std::size_t(png.width) * std::size_t(png.channels);
  std::vector<std::uint8_t> raw((stride + 1) * png.height);
  uLongf raw_size = static_cast<uLongf>(raw.size());
  REQUIRE(::uncompress(raw.data(), &raw_size, idat.data(), static_cast<uLong>(idat.size())) == Z_OK);
  REQUIRE(raw_size == raw.size());

  png.pixels.assign(stride * png.height, 0);
  const auto bpp = static_cast<std::size_t>(png.channels);
  for (std::size_t y = 0; y < png.height; ++y) {
    const int filter = raw[y * (stride + 1)];
    REQUIRE(filter <= 4);
    png.filters.push_back(filter);
    const std::uint8_t* in = &raw[y * (stride + 1) + 1];
    std::uint8_t* out = &png.pixels[y * stride];
    const std::uint8_t* prev = y > 0 ? out - stride : nullptr;
    for (std::size_t i = 0; i < stride; ++i) {
      const int a = i >= bpp ? out[i - bpp] : 0;
      const int b = prev ? prev[i] : 0;
      const int c = prev && i >= bpp ? prev[i - bpp] : 0;
      int predictor = 0;
      if (filter == 1) predictor = a;
      if (filter == 2) predictor = b;
      if (filter == 3) predictor = (a + b) / 2;
      if (filter == 4) predictor = paeth_predictor(a, b, c);
      out[i] = static_cast<std::uint8_t>(in[i] + predictor);
    }
  }
  return png;
}

DecodedPng read_png(const std::string& path) { return decode_png(lrp_test::read_file_bytes(path)); }

std::vector<std::uint8_t> random_pixels(std::size_t n, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<std::uint8_t> p(n);
  for (auto& v : p) v = static_cast<std::uint8_t>(rng() & 0xff);
  return p;
}

bool no_temporaries(const TempDir& dir) { return lrp_test::leftovers(dir.file("")).empty(); }

lrp::Tensor tensor(lrp::Shape shape, const std::vector<double>& values) {
  const Index n = lrp::numel(shape);
  REQUIRE(static_cast<Index>(values.size()) % n == 0);
  lrp::Tensor t(static_cast<Index>(values.size()) / n, shape);
  for (Index i = 0; i < t.batch(); ++i)
    for (Index j = 0; j < n; ++j) t.data(i, j) = static_cast<Scalar>(values[static_cast<std::size_t>(i * n + j)]);
  return t;
}


std::size_t count_points(const std::string& points) {
  std::size_t n = 0;
  std::istringstream in(points);
  std::string pair;
  while (in >> pair) {
    CHECK(std::count(pair.begin(), pair.end(), ',') == 1);
    ++n;
  }
  return n;
}

}  // namespace

// ---------------------------------------------------------------- PNG

TEST_CASE("PNG: grey and RGB images round-trip through a file exactly", "[image]") {
  TempDir dir("lrp_image");
  struct Case {
    Index width, height;
    int channels;
    std::uint64_t seed;
  };
  for (const Case c : {Case{1, 1, 1, 1}, Case{1, 1, 3, 2}, Case{7, 5, 1, 3}, Case{13, 11, 3, 4}, Case{64, 3, 3, 5},
                       Case{2, 40, 1, 6}}) {
    const auto n = static_cast<std::size_t>(c.width * c.height * c.channels);
    // Random bytes, smooth gradients and constant runs make the encoder pick different filters.
    for (int pattern = 0; pattern < 3; ++pattern) {
      std::vector<std::uint8_t> pixels = random_pixels(n, c.seed);
      if (pattern == 1)
        for (std::size_t i = 0; i < n; ++i) pixels[i] = static_cast<std::uint8_t>((i * 7 + (i / 5) * 3) & 0xff);
      if (pattern == 2) std::fill(pixels.begin(), pixels.end(), std::uint8_t(200));
      const std::string path = dir.file("p.png");
      lrp::write_png(path, c.width, c.height, c.channels, pixels);
      const DecodedPng png = read_png(path);
      CHECK(png.width == c.width);
      CHECK(png.height == c.height);
      CHECK(png.channels == c.channels);
      CHECK(png.pixels == pixels);
      CHECK(lrp::encode_png(c.width, c.height, c.channels, pixels) ==
            [&] {
              const auto bytes = lrp_test::read_file_bytes(path);
              return std::vector<std::uint8_t>(bytes.begin(), bytes.end());
            }());
    }
  }
}

TEST_CASE("PNG: chunks, CRCs and the choice of filters", "[image]") {
  // Bands of noise, vertical stripes, diagonal ramps and curved gradients make the encoder choose
  // different filters per row; the decoder undoes whichever it finds.
  const Index w = 300, h = 200;
  std::vector<std::uint8_t> pixels(static_cast<std::size_t>(w * h * 3));
  const std::vector<std::uint8_t> noise = random_pixels(pixels.size(), 9);
  for (Index y = 0; y < h; ++y)
    for (Index x = 0; x < w; ++x)
      for (Index c = 0; c < 3; ++c) {
        const auto i = static_cast<std::size_t>((y * w + x) * 3 + c);
        if (y < 50) pixels[i] = noise[i];
        else if (y < 100) pixels[i] = static_cast<std::uint8_t>(x * 37 + c * 90);
        else if (y < 150) pixels[i] = static_cast<std::uint8_t>(x + y + c);
        else pixels[i] = static_cast<std::uint8_t>((x * x + y * y) / 50);
      }
  const std::vector<std::uint8_t> bytes = lrp::encode_png(w, h, 3, pixels);
  const DecodedPng png = decode_png(std::vector<char>(bytes.begin(), bytes.end()));
  CHECK(png.pixels == pixels);
  CHECK(png.chunk_types.front() == "IHDR");
  CHECK(png.chunk_types.back() == "IEND");
  std::set<int> used(png.filters.begin(), png.filters.end());
  CHECK(used.size() >= 2);
  CHECK(png.filters[60] == 2);  // a row identical to the previous one: "up" makes it all zeros

  // A damaged byte is caught by the CRC (the test decoder's own check).
  std::vector<std::uint8_t> damaged = lrp::encode_png(2, 2, 1, {1, 2, 3, 4});
  const uLong crc = ::crc32(::crc32(0L, Z_NULL, 0), damaged.data() + 12, 17);
  CHECK(be32(damaged.data() + 29) == static_cast<std::uint32_t>(crc));
  damaged[16] ^= 1;
  CHECK(be32(damaged.data() + 29) != static_cast<std::uint32_t>(::crc32(::crc32(0L, Z_NULL, 0), damaged.data() + 12, 17)));
}

TEST_CASE("PNG: invalid arguments are errors that name the path", "[image]") {
  TempDir dir("lrp_image");
  const std::string path = dir.file("bad.png");
  REQUIRE_THROWS_WITH(lrp::write_png(path, 2, 2, 2, std::vector<std::uint8_t>(8)),
                      Contains(path) && Contains("channels is 2; expected 1 (grey) or 3 (RGB)"));
  REQUIRE_THROWS_WITH(lrp::write_png(path, 2, 2, 3, std::vector<std::uint8_t>(11)),
                      Contains(path) && Contains("11 pixel bytes") && Contains("expected 12"));
  REQUIRE_THROWS_WITH(lrp::write_png(path, 0, 2, 1, {}), Contains(path) && Contains("0 × 2 pixels"));
  REQUIRE_THROWS_AS(lrp::encode_png(-1, 2, 1, {}), lrp::Error);
  CHECK(dir.listing().empty());
}

TEST_CASE("Pictures are written atomically - unwritable paths are errors naming them", "[image]") {
  TempDir dir("lrp_image");
  const std::string path = dir.file("a.png");
  lrp::write_png(path, 2, 1, 1, {0, 255});
  CHECK(dir.listing() == std::vector<std::string>{"a.png"});
  const std::vector<char> first = lrp_test::read_file_bytes(path);

  // Replacing works; a failed write (bad arguments) leaves the old file and no temporary.
  lrp::write_png(path, 1, 1, 3, {1, 2, 3});
  CHECK(read_png(path).pixels == std::vector<std::uint8_t>{1, 2, 3});
  lrp::write_png(path, 2, 1, 1, {0, 255});
  REQUIRE_THROWS_AS(lrp::write_png(path, 5, 5, 1, {1}), lrp::Error);
  CHECK(lrp_test::read_file_bytes(path) == first);
  CHECK(dir.listing() == std::vector<std::string>{"a.png"});

  // A missing directory, a parent that is a file, a path that is a directory.
  const std::string missing = dir.file("no/such/dir/a.png");
  REQUIRE_THROWS_WITH(lrp::write_png(missing, 1, 1, 1, {0}),
                      Contains("cannot write PNG file '" + missing + "'") && Contains("does not exist"));
  const std::string under_file = path + "/x.png";
  REQUIRE_THROWS_WITH(lrp::write_png(under_file, 1, 1, 1, {0}),
                      Contains("PNG file '" + under_file + "'") && Contains("not a folder"));
  std::filesystem::create_directory(dir.file("folder"));
  REQUIRE_THROWS_WITH(lrp::write_png(dir.file("folder"), 1, 1, 1, {0}),
                      Contains("PNG file '" + dir.file("folder") + "'") && Contains("is a directory"));
  const std::vector<lrp::CurveSeries> series{{"s", {1, 2}, ""}};
  REQUIRE_THROWS_WITH(lrp::write_curves_svg(missing, "t", "x", "y", series),
                      Contains("cannot write SVG file '" + missing + "'"));
  CHECK(dir.listing() == std::vector<std::string>{"a.png", "folder"});
  CHECK(no_temporaries(dir));
  CHECK(std::filesystem::is_empty(dir.file("folder")));

  lrp::write_curves_svg(dir.file("c.svg"), "t", "x", "y", series);
  CHECK(dir.listing() == std::vector<std::string>{"a.png", "c.svg", "folder"});
  const std::vector<char> svg = lrp_test::read_file_bytes(dir.file("c.svg"));
  CHECK(std::string(svg.begin(), svg.end()) == lrp::curves_svg("t", "x", "y", series));
}

// ---------------------------------------------------------------- colormap

TEST_CASE("Diverging colormap: white at zero, saturated ends, monotone and symmetric", "[image]") {
  CHECK(lrp::diverging_color(0.0) == Rgb{255, 255, 255});
  CHECK(lrp::diverging_color(-0.0) == Rgb{255, 255, 255});
  CHECK(lrp::diverging_color(1.0) == Rgb{255, 0, 0});
  CHECK(lrp::diverging_color(-1.0) == Rgb{0, 0, 255});
  CHECK(lrp::diverging_color(0.5) == Rgb{255, 128, 128});    // 127.5 rounds up
  CHECK(lrp::diverging_color(-0.25) == Rgb{191, 191, 255});  // 191.25
  // Clamped outside [-1, 1], infinities included.
  CHECK(lrp::diverging_color(7.0) == Rgb{255, 0, 0});
  CHECK(lrp::diverging_color(-std::numeric_limits<double>::infinity()) == Rgb{0, 0, 255});
  REQUIRE_THROWS_WITH(lrp::diverging_color(std::nan("")), Contains("NaN"));

  Rgb previous = lrp::diverging_color(-1.0);
  for (int k = -1000; k <= 1000; ++k) {
    const double v = k / 1000.0;
    const Rgb c = lrp::diverging_color(v);
    const Rgb mirror = lrp::diverging_color(-v);
    INFO("v = " << v << ", colour " << lrp::to_string(c));
    CHECK(mirror == Rgb{c.b, c.g, c.r});  // red and blue swap
    if (v <= 0) {
      // Blue half: blue saturated, red = green rising towards white.
      CHECK(c.b == 255);
      CHECK(c.r == c.g);
      CHECK(c.r >= previous.r);
    } else {
      // Red half: red saturated, green = blue falling towards red.
      CHECK(c.r == 255);
      CHECK(c.g == c.b);
      CHECK(c.g <= previous.g);
    }
    // Smooth: neighbouring values differ by at most one level per channel (steps of 1/1000).
    CHECK(std::abs(int(c.g) - int(previous.g)) <= 1);
    previous = c;
  }
}

// ---------------------------------------------------------------- heatmaps

TEST_CASE("Heatmap: input on the left, gap, heatmap on the right, upscaled", "[image]") {
  // 2 × 3 grey input in [0, 1] and relevance with max |R| = 4.
  const lrp::Tensor input = tensor({1, 2, 3}, {0.0, 0.25, 0.5, 1.0, 0.75, 0.1});
  const lrp::Tensor relevance = tensor({1, 2, 3}, {1.0, -2.0, 0.0, 4.0, -4.0, 0.5});
  lrp::HeatmapOptions options;
  options.upscale = 3;
  options.gap = 2;
  options.gap_color = {1, 2, 3};
  const lrp::Heatmap h = lrp::heatmap_image(relevance, input, 0, options);
  CHECK(h.scale == 4.0);
  CHECK(h.nonfinite == 0);
  CHECK(h.nonfinite_input == 0);
  REQUIRE(h.image.channels == 3);
  REQUIRE(h.image.width == 3 * 3 * 2 + 2);
  REQUIRE(h.image.height == 2 * 3);

  const std::vector<std::uint8_t> grey{0, 64, 128, 255, 191, 26};
  const std::vector<Rgb> heat{{255, 191, 191}, {128, 128, 255}, {255, 255, 255},
                              {255, 0, 0},     {0, 0, 255},     {255, 223, 223}};
  for (Index y = 0; y < h.image.height; ++y)
    for (Index x = 0; x < h.image.width; ++x) {
      INFO("pixel (" << x << ", " << y << ")");
      const Rgb c = h.image.at(x, y);
      if (x < 9) {
        const std::uint8_t g = grey[static_cast<std::size_t>((y / 3) * 3 + x / 3)];
        CHECK(c == Rgb{g, g, g});
      } else if (x < 11) {
        CHECK(c == Rgb{1, 2, 3});
      } else {
        CHECK(c == heat[static_cast<std::size_t>((y / 3) * 3 + (x - 11) / 3)]);
      }
    }

  // The building blocks draw the two halves.
  const Image left = lrp::input_image(input.shape, input.data.row(0), options);
  const lrp::Heatmap right = lrp::relevance_image(relevance.shape, relevance.data.row(0), options);
  Image joined(left.width + 2 + right.image.width, left.height, 3, {1, 2, 3});
  joined.paste(left, 0, 0);
  joined.paste(right.image, left.width + 2, 0);
  CHECK(joined.pixels == h.image.pixels);

  // A 28 × 28 image at the default upscale of 4: 112 × 112 on each side, 2 pixels apart.
  const lrp::Tensor big(1, {1, 28, 28});
  const lrp::Heatmap b = lrp::heatmap_image(big, big, 0);
  CHECK(b.image.width == 2 * 112 + 2);
  CHECK(b.image.height == 112);
}

TEST_CASE("Heatmap: per-image scale, a fixed scale, all-zero maps, the input range", "[image]") {
  lrp::HeatmapOptions options;
  options.upscale = 1;
  options.gap = 0;
  const lrp::Tensor input = tensor({1, 1, 4}, {-1.0, 0.0, 1.0, 3.0, -1.0, 0.0, 1.0, 3.0, -1.0, 0.0, 1.0, 3.0});
  const lrp::Tensor relevance = tensor({1, 1, 4}, {0.5, -0.25, 0.1, 0.0,     // sample 0: max |R| 0.5
                                                   0.0, 0.0, 0.0, 0.0,       // sample 1: all zero
                                                   50.0, -100.0, 25.0, 0.0});  // sample 2: max |R| 100
  const auto right = [](const lrp::Heatmap& h, Index x) { return h.image.at(4 + x, 0); };

  const lrp::Heatmap h0 = lrp::heatmap_image(relevance, input, 0, options);
  CHECK(h0.scale == Approx(0.5));
  CHECK(right(h0, 0) == Rgb{255, 0, 0});
  CHECK(right(h0, 1) == lrp::diverging_color(-0.5));
  const lrp::Heatmap h2 = lrp::heatmap_image(relevance, input, 2, options);
  CHECK(h2.scale == 100.0);
  CHECK(right(h2, 0) == lrp::diverging_color(0.5));
  CHECK(right(h2, 1) == Rgb{0, 0, 255});
  CHECK(right(h2, 2) == lrp::diverging_color(0.25));

  const lrp::Heatmap zero = lrp::heatmap_image(relevance, input, 1, options);
  CHECK(zero.scale == 0.0);
  for (Index x = 0; x < 4; ++x) CHECK(right(zero, x) == Rgb{255, 255, 255});

  // One scale for every image: beyond it the colours saturate.
  options.relevance_scale = 50.0;
  const lrp::Heatmap fixed = lrp::heatmap_image(relevance, input, 2, options);
  CHECK(fixed.scale == 50.0);
  CHECK(right(fixed, 0) == Rgb{255, 0, 0});
  CHECK(right(fixed, 1) == Rgb{0, 0, 255});
  CHECK(right(fixed, 2) == lrp::diverging_color(0.5));
  CHECK(lrp::heatmap_image(relevance, input, 0, options).image.at(4, 0) == lrp::diverging_color(0.01));

  // The input range maps to black..white, clamped outside.
  options.input_min = -1.0;
  options.input_max = 1.0;
  const Image left = lrp::heatmap_image(relevance, input, 0, options).image;
  CHECK(left.at(0, 0) == Rgb{0, 0, 0});
  CHECK(left.at(1, 0) == Rgb{128, 128, 128});
  CHECK(left.at(2, 0) == Rgb{255, 255, 255});
  CHECK(left.at(3, 0) == Rgb{255, 255, 255});
}

TEST_CASE("Heatmap: RGB inputs, other channel counts, relevance summed over channels", "[image]") {
  lrp::HeatmapOptions options;
  options.upscale = 2;
  options.gap = 1;
  // 3 channels × 1 × 2: pixel 0 = (1, 0, 0.5), pixel 1 = (0, 1, 0.2).
  const lrp::Tensor input = tensor({3, 1, 2}, {1.0, 0.0, 0.0, 1.0, 0.5, 0.2});
  // Channels sum to (1 − 0.5 + 0.5, 0 + 0 − 2) = (1, −2) → colours of 0.5 and −1.
  const lrp::Tensor relevance = tensor({3, 1, 2}, {1.0, 0.0, -0.5, 0.0, 0.5, -2.0});
  const lrp::Heatmap h = lrp::heatmap_image(relevance, input, 0, options);
  REQUIRE(h.image.width == 2 * 2 * 2 + 1);
  CHECK(h.image.at(0, 0) == Rgb{255, 0, 128});
  CHECK(h.image.at(1, 1) == Rgb{255, 0, 128});
  CHECK(h.image.at(2, 0) == Rgb{0, 255, 51});
  CHECK(h.image.at(5, 1) == lrp::diverging_color(0.5));
  CHECK(h.image.at(7, 0) == Rgb{0, 0, 255});

  // Two channels: drawn as the grey mean. A [H, W] shape is one channel.
  const lrp::Tensor two = tensor({2, 1, 1}, {0.2, 0.6});
  CHECK(lrp::input_image(two.shape, two.data.row(0), options).at(0, 0) == Rgb{102, 102, 102});
  const lrp::Tensor flat = tensor({1, 2}, {0.0, 1.0});
  const Image f = lrp::input_image(flat.shape, flat.data.row(0), options);
  CHECK(f.width == 4);
  CHECK(f.at(3, 1) == Rgb{255, 255, 255});
  // A grey input beside a relevance with another channel count.
  const lrp::Tensor grey = tensor({1, 1, 2}, {0.0, 1.0});
  const lrp::Heatmap g = lrp::heatmap_image(relevance.shape, relevance.data.row(0), grey.shape, grey.data.row(0), options);
  CHECK(g.image.pixels == lrp::heatmap_image(tensor({1, 1, 2}, {1.0, -2.0}), grey, 0, options).image.pixels);
}

TEST_CASE("Heatmap: NaN and Inf are drawn in their own colour and counted", "[image]") {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const double inf = std::numeric_limits<double>::infinity();
  lrp::HeatmapOptions options;
  options.upscale = 1;
  options.gap = 0;
  // Position 1: NaN in one channel; position 2: +Inf and −Inf (sum NaN); position 3: +Inf.
  const lrp::Tensor relevance = tensor({2, 1, 4}, {0.5, nan, inf, inf, -0.25, 1.0, -inf, 0.0});
  const lrp::Tensor input = tensor({1, 1, 4}, {0.0, 1.0, nan, 0.5});
  const lrp::Heatmap h = lrp::heatmap_image(relevance, input, 0, options);
  CHECK(h.nonfinite == 3);
  CHECK(h.nonfinite_input == 1);
  CHECK(h.scale == 0.25);  // the finite values only
  const Rgb green{0, 255, 0};
  CHECK(h.image.at(4, 0) == Rgb{255, 0, 0});
  CHECK(h.image.at(5, 0) == green);
  CHECK(h.image.at(6, 0) == green);
  CHECK(h.image.at(7, 0) == green);
  CHECK(h.image.at(2, 0) == green);  // the NaN input value
  CHECK(h.image.at(1, 0) == Rgb{255, 255, 255});

  // A map with nothing finite: all in the non-finite colour; another colour can be chosen.
  options.nonfinite_color = {0, 0, 0};
  const lrp::Tensor all_nan = tensor({1, 1, 2}, {nan, nan});
  const lrp::Heatmap n = lrp::relevance_image(all_nan.shape, all_nan.data.row(0), options);
  CHECK(n.nonfinite == 2);
  CHECK(n.scale == 0.0);
  CHECK(n.image.at(0, 0) == Rgb{0, 0, 0});
  CHECK(n.image.at(1, 0) == Rgb{0, 0, 0});
}

TEST_CASE("Heatmap: shapes, samples and options are checked", "[image]") {
  const lrp::Tensor a = tensor({1, 2, 2}, {0, 0, 0, 0});
  const lrp::Tensor b = tensor({1, 2, 3}, {0, 0, 0, 0, 0, 0});
  const lrp::Tensor vec = tensor({4}, {0, 0, 0, 0});
  REQUIRE_THROWS_WITH(lrp::heatmap_image(a, b, 0), Contains("the same H × W"));
  REQUIRE_THROWS_WITH(lrp::heatmap_image(vec, vec, 0), Contains("shape [4]; expected [C, H, W] or [H, W]"));
  REQUIRE_THROWS_WITH(lrp::heatmap_image(a, a, 1), Contains("sample 1 does not exist"));
  lrp::HeatmapOptions o;
  o.upscale = 0;
  REQUIRE_THROWS_WITH(lrp::heatmap_image(a, a, 0, o), Contains("upscale is 0"));
  o = {};
  o.input_min = 1.0;
  o.input_max = 1.0;
  REQUIRE_THROWS_WITH(lrp::heatmap_image(a, a, 0, o), Contains("input_min < input_max"));
  o = {};
  o.relevance_scale = -1.0;
  REQUIRE_THROWS_WITH(lrp::heatmap_image(a, a, 0, o), Contains("relevance_scale is -1"));
  o.relevance_scale = std::numeric_limits<double>::quiet_NaN();
  REQUIRE_THROWS_AS(lrp::heatmap_image(a, a, 0, o), lrp::Error);

  TempDir dir("lrp_image");
  const std::string path = dir.file("h.png");
  REQUIRE_THROWS_WITH(lrp::write_heatmap_png(path, a, b, 0), Contains("cannot write PNG file '" + path + "'"));
  CHECK(dir.listing().empty());
}

TEST_CASE("Heatmap and montage PNG files decode to the drawn images", "[image]") {
  TempDir dir("lrp_image");
  std::mt19937_64 rng(3);
  std::uniform_real_distribution<double> u(-1.0, 1.0);
  std::vector<double> in(3 * 28 * 28), rel(3 * 28 * 28);
  for (double& v : in) v = (u(rng) + 1.0) / 2.0;
  for (double& v : rel) v = u(rng) * u(rng) * u(rng);
  const lrp::Tensor inputs = tensor({1, 28, 28}, in);
  const lrp::Tensor relevance = tensor({1, 28, 28}, rel);

  const lrp::Heatmap h = lrp::write_heatmap_png(dir.file("h.png"), relevance, inputs, 1);
  const DecodedPng png = read_png(dir.file("h.png"));
  CHECK(png.channels == 3);
  CHECK(png.width == 226);
  CHECK(png.height == 112);
  CHECK(png.pixels == h.image.pixels);
  CHECK(h.image.pixels == lrp::heatmap_image(relevance, inputs, 1).image.pixels);

  const lrp::HeatmapMontage m =
      lrp::write_heatmap_montage_png(dir.file("m.png"), inputs, {&relevance, &relevance});
  const DecodedPng mp = read_png(dir.file("m.png"));
  CHECK(mp.width == 2 * 226 + 2);
  CHECK(mp.height == 3 * 112 + 2 * 2);
  CHECK(mp.pixels == m.image.pixels);
  CHECK(dir.listing() == std::vector<std::string>{"h.png", "m.png"});

  const Image grey(3, 2, 1, {77, 0, 0});
  lrp::write_png(dir.file("g.png"), grey);
  const DecodedPng gp = read_png(dir.file("g.png"));
  CHECK(gp.channels == 1);
  CHECK(gp.pixels == std::vector<std::uint8_t>(6, 77));
}

// ---------------------------------------------------------------- montages

TEST_CASE("Montage: rows are samples, columns methods, thin separators between cells", "[image]") {
  const lrp::Tensor inputs = tensor({1, 2, 2}, {0.0, 0.5, 1.0, 0.25, 1.0, 1.0, 0.0, 0.0});
  const lrp::Tensor method_a = tensor({1, 2, 2}, {1.0, -1.0, 0.0, 0.5, 0.0, 0.0, 0.0, 2.0});
  const lrp::Tensor method_b = tensor({1, 2, 2}, {-3.0, 0.0, 0.0, 0.0, 0.1, 0.2, -0.3, 0.4});
  lrp::HeatmapOptions heat;
  heat.upscale = 2;
  heat.gap = 1;
  lrp::MontageOptions options;
  options.separator = 3;
  options.separator_color = {10, 20, 30};
  const lrp::HeatmapMontage m = lrp::heatmap_montage(inputs, {&method_a, &method_b}, heat, options);
  const Index cw = 2 * 2 * 2 + 1, ch = 2 * 2;  // one pair: 9 × 4
  CHECK(m.rows == 2);
  CHECK(m.columns == 2);
  REQUIRE(m.image.width == 2 * cw + 3);
  REQUIRE(m.image.height == 2 * ch + 3);
  REQUIRE(m.scales.size() == 4);  // row-major: (sample 0, a), (sample 0, b), (sample 1, a), (sample 1, b)
  CHECK(m.scales[0] == 1.0);
  CHECK(m.scales[1] == 3.0);
  CHECK(m.scales[2] == 2.0);
  CHECK(m.scales[3] == Approx(0.4).epsilon(1e-6));
  CHECK(m.nonfinite == 0);

  const std::vector<const lrp::Tensor*> methods{&method_a, &method_b};
  for (Index y = 0; y < m.image.height; ++y)
    for (Index x = 0; x < m.image.width; ++x) {
      INFO("pixel (" << x << ", " << y << ")");
      const bool separator_x = x >= cw && x < cw + 3, separator_y = y >= ch && y < ch + 3;
      if (separator_x || separator_y) {
        CHECK(m.image.at(x, y) == Rgb{10, 20, 30});
        continue;
      }
      const Index row = y < ch ? 0 : 1, column = x < cw ? 0 : 1;
      const Image cell = lrp::heatmap_image(*methods[static_cast<std::size_t>(column)], inputs, row, heat).image;
      CHECK(m.image.at(x, y) == cell.at(x - column * (cw + 3), y - row * (ch + 3)));
    }

  // The generic grid: cells of different sizes sit top-left in their slots on the background; a
  // missing cell is background; grey cells become RGB.
  lrp::MontageOptions plain;
  plain.separator = 1;
  plain.separator_color = {0, 0, 0};
  plain.background = {9, 9, 9};
  const Image g = lrp::montage({{Image(2, 1, 3, {1, 1, 1}), Image(1, 2, 1, {50, 0, 0})}, {Image(1, 1, 3, {2, 2, 2})}},
                               plain);
  REQUIRE(g.width == 2 + 1 + 1);
  REQUIRE(g.height == 2 + 1 + 1);
  CHECK(g.at(0, 0) == Rgb{1, 1, 1});
  CHECK(g.at(1, 0) == Rgb{1, 1, 1});
  CHECK(g.at(0, 1) == Rgb{9, 9, 9});
  CHECK(g.at(2, 0) == Rgb{0, 0, 0});
  CHECK(g.at(3, 0) == Rgb{50, 50, 50});
  CHECK(g.at(3, 1) == Rgb{50, 50, 50});
  CHECK(g.at(0, 2) == Rgb{0, 0, 0});
  CHECK(g.at(0, 3) == Rgb{2, 2, 2});
  CHECK(g.at(1, 3) == Rgb{9, 9, 9});
  CHECK(g.at(3, 3) == Rgb{9, 9, 9});

  REQUIRE_THROWS_WITH(lrp::heatmap_montage(inputs, {}), Contains("no relevance"));
  const lrp::Tensor one = tensor({1, 2, 2}, {0, 0, 0, 0});
  REQUIRE_THROWS_WITH(lrp::heatmap_montage(inputs, {&one}), Contains("relevance 0 has 1 samples; expected 2"));
  REQUIRE_THROWS_WITH(lrp::montage({}), Contains("no cells"));
}

// ---------------------------------------------------------------- curves

TEST_CASE("SVG curves: well-formed, texts escaped, one polyline point per value", "[image]") {
  const std::vector<lrp::CurveSeries> series{
      {"epsilon <MoRF> & \"more\"", {1.0, 0.8, 0.55, 0.3, 0.2, 0.1, 0.05, 0.02, 0.01, 0.0, 0.0}, ""},
      {"LeRF 'x'", {1.0, 0.99, 0.97, 0.95, 0.9, 0.8, 0.7, 0.5, 0.3, 0.1, 0.0}, "#1a2B3c"},
      {"random", {1.0, 0.9, 0.7}, "teal"},
      {"one", {0.5}, ""}};
  const std::string svg = lrp::curves_svg("Pixel flipping <Fashion-MNIST>", "steps & fractions", "mean f_c(x)", series);
  const std::vector<Element> elements = parse_xml(svg);
  REQUIRE(!elements.empty());
  CHECK(elements.front().name == "svg");
  CHECK(elements.front().attributes.at("xmlns") == "http://www.w3.org/2000/svg");

  // Texts appear escaped, and unescape to the originals.
  CHECK(svg.find("epsilon &lt;MoRF&gt; &amp; &quot;more&quot;") != std::string::npos);
  CHECK(svg.find("LeRF &apos;x&apos;") != std::string::npos);
  CHECK(svg.find("Pixel flipping &lt;Fashion-MNIST&gt;") != std::string::npos);
  CHECK(svg.find("steps &amp; fractions") != std::string::npos);
  std::vector<std::string> texts;
  for (const Element& e : elements)
    if (e.name == "text") texts.push_back(unescape(e.text));
  for (const auto& s : series) CHECK(std::count(texts.begin(), texts.end(), s.name) == 1);  // the legend
  CHECK(std::count(texts.begin(), texts.end(), "Pixel flipping <Fashion-MNIST>") == 1);
  CHECK(std::count(texts.begin(), texts.end(), "steps & fractions") == 1);
  CHECK(std::count(texts.begin(), texts.end(), "mean f_c(x)") == 1);
  // Tick labels: x from 0 to 10, y at round numbers covering [0, 1].
  CHECK(std::count(texts.begin(), texts.end(), "0") >= 1);
  CHECK(std::count(texts.begin(), texts.end(), "10") == 1);
  CHECK(std::count(texts.begin(), texts.end(), "1.0") == 1);
  CHECK(std::count(texts.begin(), texts.end(), "0.0") == 1);

  std::vector<const Element*> polylines;
  for (const Element& e : elements)
    if (e.name == "polyline") polylines.push_back(&e);
  REQUIRE(polylines.size() == series.size());
  for (std::size_t s = 0; s < series.size(); ++s) {
    INFO("series " << series[s].name);
    CHECK(count_points(polylines[s]->attributes.at("points")) == series[s].values.size());
  }
  CHECK(polylines[0]->attributes.at("stroke") == "#1f77b4");  // the palette
  CHECK(polylines[1]->attributes.at("stroke") == "#1a2B3c");
  CHECK(polylines[2]->attributes.at("stroke") == "teal");

  // Points lie in the plot area and in order of x; y grows downwards with the value.
  std::istringstream pts(polylines[0]->attributes.at("points"));
  std::string pair;
  double last_x = -1, last_y = -1;
  while (pts >> pair) {
    const double x = std::stod(pair.substr(0, pair.find(','))), y = std::stod(pair.substr(pair.find(',') + 1));
    CHECK(x > last_x);
    CHECK(y >= last_y);
    CHECK(x >= 0);
    CHECK(x <= 720);
    CHECK(y >= 0);
    CHECK(y <= 440);
    last_x = x;
    last_y = y;
  }

  // Control characters and invalid UTF-8 become U+FFFD; valid UTF-8 stays.
  const std::string odd = lrp::curves_svg("a\x01" "b \xff ε→", "x", "y", {{"s\x1f", {0, 1}, ""}});
  parse_xml(odd);
  CHECK(odd.find("a\xEF\xBF\xBD" "b \xEF\xBF\xBD ε→") != std::string::npos);
  CHECK(odd.find('\x01') == std::string::npos);

  // Constant and single-value series still get a proper axis.
  const std::vector<Element> flat = parse_xml(lrp::curves_svg("flat", "x", "y", {{"c", {0.0, 0.0, 0.0}, ""}}));
  CHECK(std::count_if(flat.begin(), flat.end(), [](const Element& e) { return e.name == "polyline"; }) == 1);
}

TEST_CASE("SVG curves: errors name the series", "[image]") {
  REQUIRE_THROWS_WITH(lrp::curves_svg("t", "x", "y", {}), Contains("no series"));
  REQUIRE_THROWS_WITH(lrp::curves_svg("t", "x", "y", {{"empty", {}, ""}}), Contains("series 'empty' has no values"));
  REQUIRE_THROWS_WITH(lrp::curves_svg("t", "x", "y", {{"bad", {1.0, std::nan("")}, ""}}),
                      Contains("series 'bad' has the non-finite value nan at x = 1"));
  REQUIRE_THROWS_WITH(lrp::curves_svg("t", "x", "y", {{"c", {1.0}, "red\" onload=\"x"}}),
                      Contains("series 'c' has the colour"));
  REQUIRE_THROWS_WITH(lrp::curves_svg("t", "x", "y", {{"c", {1.0}, "#12345"}}), Contains("series 'c' has the colour"));
  lrp::CurvePlotOptions tiny;
  tiny.width = 10;
  REQUIRE_THROWS_WITH(lrp::curves_svg("t", "x", "y", {{"c", {1.0}, ""}}, tiny), Contains("10 × 440"));
}
