// Heatmap pictures researchers read (lrp/io/colormap.hpp, lrp/io/svg_grid.hpp, output.heatmap):
// the colour maps' control points, the percentile and clipping scale against hand-computed values,
// figure against per-sample scales, the overlay's blending formula, base64 (RFC 4648's test
// vectors), labelled SVG grids checked as XML, the output.heatmap config errors, and methods.svg
// drawn by a run of the committed Fashion-MNIST CNN on real test images.
#include "experiment_support.hpp"
#include "temp_dir.hpp"
#include "test_util.hpp"
#include "xml_check.hpp"

#include "lrp/core/error.hpp"
#include "lrp/experiment/experiment.hpp"
#include "lrp/io/colormap.hpp"
#include "lrp/io/hdf5.hpp"
#include "lrp/io/image.hpp"
#include "lrp/io/svg_grid.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <limits>
#include <string>
#include <vector>

using Catch::Contains;
using lrp::Colormap;
using lrp::Index;
using lrp::Rgb;
using lrp_test::builtins;
using lrp_test::TempDir;

namespace {

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  REQUIRE(in.good());
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

// The element names of a well-formed SVG (tests/xml_check.hpp checks it).
std::vector<std::string> check_xml(const std::string& xml) {
  std::vector<std::string> names;
  for (const lrp_test::Element& e : lrp_test::parse_xml(xml)) names.push_back(e.name);
  return names;
}

// Base64 decoding (RFC 4648), for reading back the embedded PNGs.
std::string base64_decode(const std::string& text) {
  const std::string alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  std::uint32_t bits = 0;
  int count = 0;
  for (const char c : text) {
    if (c == '=') break;
    const std::size_t v = alphabet.find(c);
    REQUIRE(v != std::string::npos);
    bits = (bits << 6) | static_cast<std::uint32_t>(v);
    count += 6;
    if (count >= 8) {
      count -= 8;
      out += static_cast<char>((bits >> count) & 0xFFu);
    }
  }
  return out;
}

// The data URIs of the <image> elements, in order.
std::vector<std::string> embedded_pngs(const std::string& svg) {
  std::vector<std::string> out;
  const std::string prefix = "xlink:href=\"data:image/png;base64,";
  for (std::size_t at = svg.find(prefix); at != std::string::npos; at = svg.find(prefix, at + 1)) {
    const std::size_t begin = at + prefix.size();
    out.push_back(base64_decode(svg.substr(begin, svg.find('"', begin) - begin)));
  }
  return out;
}

lrp::Tensor row_tensor(const lrp::Shape& shape, const std::vector<double>& values) {
  lrp::Tensor t(1, shape);
  for (std::size_t k = 0; k < values.size(); ++k) t.data(0, static_cast<Index>(k)) = static_cast<lrp::Scalar>(values[k]);
  return t;
}

}  // namespace

// ---------------------------------------------------------------- colour maps

TEST_CASE("Colour maps pass through their control points and are linear between them", "[heatmap_pictures]") {
  // coldnhot (Zennit): cyan, blue, black, red, yellow, white at -1, -1/2, 0, 1/3, 2/3, 1.
  CHECK(lrp::coldnhot_color(-1.0) == Rgb{0, 255, 255});
  CHECK(lrp::coldnhot_color(-0.5) == Rgb{0, 0, 255});
  CHECK(lrp::coldnhot_color(0.0) == Rgb{0, 0, 0});
  CHECK(lrp::coldnhot_color(1.0 / 3.0) == Rgb{255, 0, 0});
  CHECK(lrp::coldnhot_color(2.0 / 3.0) == Rgb{255, 255, 0});
  CHECK(lrp::coldnhot_color(1.0) == Rgb{255, 255, 255});
  CHECK(lrp::coldnhot_color(-0.75) == Rgb{0, 128, 255});  // halfway cyan to blue: 127.5 rounds up
  CHECK(lrp::coldnhot_color(-0.25) == Rgb{0, 0, 128});    // halfway blue to black
  CHECK(lrp::coldnhot_color(1.0 / 6.0) == Rgb{128, 0, 0}); // halfway black to red
  CHECK(lrp::coldnhot_color(5.0 / 6.0) == Rgb{255, 255, 128});
  // seismic (matplotlib): (0, 0, 0.3), blue, white, red, (0.5, 0, 0) at -1, -1/2, 0, 1/2, 1.
  CHECK(lrp::seismic_color(-1.0) == Rgb{0, 0, 77});  // 0.3 · 255 = 76.5
  CHECK(lrp::seismic_color(-0.5) == Rgb{0, 0, 255});
  CHECK(lrp::seismic_color(0.0) == Rgb{255, 255, 255});
  CHECK(lrp::seismic_color(0.5) == Rgb{255, 0, 0});
  CHECK(lrp::seismic_color(1.0) == Rgb{128, 0, 0});
  CHECK(lrp::seismic_color(0.25) == Rgb{255, 128, 128});
  CHECK(lrp::seismic_color(-0.75) == Rgb{0, 0, 166});  // (0.3 + 1) / 2 · 255 = 165.75
  // Sequential maps of |v|.
  CHECK(lrp::gray_color(0.0) == Rgb{0, 0, 0});
  CHECK(lrp::gray_color(-1.0) == Rgb{255, 255, 255});
  CHECK(lrp::gray_color(0.5) == Rgb{128, 128, 128});
  CHECK(lrp::hot_color(0.0) == Rgb{0, 0, 0});
  CHECK(lrp::hot_color(1.0 / 3.0) == Rgb{255, 0, 0});
  CHECK(lrp::hot_color(-2.0 / 3.0) == Rgb{255, 255, 0});
  CHECK(lrp::hot_color(1.0) == Rgb{255, 255, 255});
  // bwr is today's diverging_color; every map clamps and refuses NaN.
  for (const double v : {-1.0, -0.3, 0.0, 0.7, 1.0}) CHECK(lrp::colormap_color(Colormap::kBwr, v) == lrp::diverging_color(v));
  const double inf = std::numeric_limits<double>::infinity();
  for (const std::string& name : lrp::colormap_names()) {
    INFO(name);
    const auto map = lrp::colormap_from_name(name);
    REQUIRE(map.has_value());
    CHECK(lrp::colormap_name(*map) == name);
    CHECK(lrp::colormap_color(*map, 7.0) == lrp::colormap_color(*map, 1.0));
    CHECK(lrp::colormap_color(*map, -inf) == lrp::colormap_color(*map, -1.0));
    CHECK_THROWS_WITH(lrp::colormap_color(*map, std::nan("")), Contains("NaN"));
    // Neighbouring values (steps of 1/1000) differ by at most 2 levels per channel: no jumps.
    Rgb previous = lrp::colormap_color(*map, -1.0);
    for (int k = -999; k <= 1000; ++k) {
      const Rgb c = lrp::colormap_color(*map, k / 1000.0);
      CHECK(std::abs(int(c.r) - int(previous.r)) + std::abs(int(c.g) - int(previous.g)) +
                std::abs(int(c.b) - int(previous.b)) <= 3);
      previous = c;
    }
  }
  CHECK_FALSE(lrp::colormap_from_name("jet").has_value());
  CHECK(lrp::colormap_diverging(Colormap::kColdnhot));
  CHECK_FALSE(lrp::colormap_diverging(Colormap::kHot));
}

// ---------------------------------------------------------------- percentile and clipping

TEST_CASE("The percentile interpolates linearly between order statistics as numpy does", "[heatmap_pictures]") {
  // Sorted 1..10: h = 9 · 0.95 = 8.55, x_8 = 9, x_9 = 10, so 9 + 0.55 · 1 = 9.55 (numpy: 9.55).
  CHECK(lrp::percentile({10, 1, 9, 2, 8, 3, 7, 4, 6, 5}, 95) == Approx(9.55).epsilon(1e-12));
  CHECK(lrp::percentile({0, 10}, 25) == Approx(2.5));
  CHECK(lrp::percentile({7, 1, 3}, 50) == 3);
  CHECK(lrp::percentile({7, 1, 3}, 100) == 7);
  CHECK(lrp::percentile({7, 1, 3}, 0) == 1);
  CHECK(lrp::percentile({4}, 99.5) == 4);
  // 0, 1, ..., 999 at 99.5: h = 999 · 0.995 = 994.005.
  std::vector<double> ramp;
  for (int k = 999; k >= 0; --k) ramp.push_back(k);
  CHECK(lrp::percentile(ramp, 99.5) == Approx(994.005).epsilon(1e-12));
  CHECK(lrp::clip_scale(ramp, 99.5) == Approx(994.005).epsilon(1e-12));
  CHECK(lrp::clip_scale(ramp, 100) == 999);
  // Mostly zeros: the percentile is 0, so the largest magnitude is the scale.
  std::vector<double> sparse(999, 0.0);
  sparse.push_back(5);
  CHECK(lrp::clip_scale(sparse, 99.5) == 5);
  CHECK(lrp::clip_scale({}, 99.5) == 0);
  CHECK(lrp::clip_scale({0, 0}, 50) == 0);
  CHECK_THROWS_WITH(lrp::percentile({}, 50), Contains("no values"));
  CHECK_THROWS_WITH(lrp::percentile({1, std::nan("")}, 50), Contains("not finite"));
  CHECK_THROWS_WITH(lrp::clip_scale({1}, 0), Contains("(0, 100]"));
  CHECK_THROWS_WITH(lrp::clip_scale({1}, 100.5), Contains("(0, 100]"));
}

TEST_CASE("Clipping saturates exactly beyond the scale and is linear inside it", "[heatmap_pictures]") {
  // One row of five pixels: |R| sorted 0, 1, 2, 4, 400; the 75th percentile is x_3 = 4.
  const lrp::Tensor relevance = row_tensor({1, 5}, {4, -2, 1, 0, 400});
  lrp::HeatmapOptions o;
  o.upscale = 1;
  o.clip_percentile = 75;
  const lrp::Heatmap h = lrp::relevance_image(relevance.shape, relevance.data.row(0), o);
  CHECK(h.scale == 4);
  CHECK(h.image.at(0, 0) == Rgb{255, 0, 0});      // R = s: the end of the map
  CHECK(h.image.at(1, 0) == lrp::diverging_color(-0.5));
  CHECK(h.image.at(1, 0) == Rgb{128, 128, 255});
  CHECK(h.image.at(2, 0) == lrp::diverging_color(0.25));
  CHECK(h.image.at(3, 0) == Rgb{255, 255, 255});
  CHECK(h.image.at(4, 0) == Rgb{255, 0, 0});      // 100 s: saturated
  o.clip_percentile = 100;                        // no clipping: s = max |R|
  CHECK(lrp::relevance_image(relevance.shape, relevance.data.row(0), o).scale == 400);

  // A ramp with one hot pixel: every value within ±s keeps its colour R / s, the rest saturate.
  std::vector<double> values;
  for (int k = -100; k <= 100; ++k) values.push_back(k / 10.0);
  values.push_back(-1000);
  const lrp::Tensor ramp = row_tensor({1, static_cast<Index>(values.size())}, values);
  o.clip_percentile = 99.5;
  o.colormap = Colormap::kColdnhot;
  const lrp::Heatmap r = lrp::relevance_image(ramp.shape, ramp.data.row(0), o);
  std::vector<double> magnitudes;
  for (const double v : values) magnitudes.push_back(std::abs(v));
  const double s = lrp::percentile(magnitudes, 99.5);
  REQUIRE(r.scale == s);
  REQUIRE(s == 10.0);  // h = 201 · 0.995 = 199.995 falls between the two 10s: the hot pixel is clipped
  for (std::size_t k = 0; k < values.size(); ++k) {
    INFO("R = " << values[k]);
    const Rgb expected = std::abs(values[k]) >= s ? lrp::coldnhot_color(values[k] > 0 ? 1.0 : -1.0)
                                                  : lrp::coldnhot_color(values[k] / s);
    CHECK(r.image.at(static_cast<Index>(k), 0) == expected);
  }
}

TEST_CASE("A figure scale is one percentile over every map while a sample scale is each map's own", "[heatmap_pictures]") {
  // Two samples, 1 × 4 each: sample 0 weak (max |R| 1), sample 1 strong (max |R| 10).
  lrp::Tensor relevance(2, lrp::Shape{1, 4});
  relevance.data << 1, -0.5, 0.25, 0, 10, -5, 2.5, 0;
  const lrp::Tensor inputs(2, lrp::Shape{1, 4});
  lrp::HeatmapOptions o;
  o.upscale = 1;
  o.gap = 0;
  // Sample scale: each map reaches the end of the colour map.
  CHECK(lrp::relevance_image(relevance.shape, relevance.data.row(0), o).scale == 1);
  CHECK(lrp::relevance_image(relevance.shape, relevance.data.row(1), o).scale == 10);
  // Figure scale: the magnitudes of both maps pooled, at the 100th percentile the max over both.
  std::vector<double> pooled = lrp::relevance_magnitudes(relevance.shape, relevance.data.row(0));
  const std::vector<double> second = lrp::relevance_magnitudes(relevance.shape, relevance.data.row(1));
  pooled.insert(pooled.end(), second.begin(), second.end());
  REQUIRE(pooled.size() == 8);
  o.relevance_scale = lrp::clip_scale(pooled, 100);
  CHECK(o.relevance_scale == 10);
  const lrp::Heatmap weak = lrp::heatmap_image(relevance, inputs, 0, o);
  CHECK(weak.scale == 10);
  CHECK(weak.image.at(4, 0) == lrp::diverging_color(0.1));  // right half: R = 1 of s = 10
  const lrp::Heatmap strong = lrp::heatmap_image(relevance, inputs, 1, o);
  CHECK(strong.image.at(4, 0) == Rgb{255, 0, 0});
  // At the 50th percentile of the 8 magnitudes (0, 0, 0.25, 0.5, 1, 2.5, 5, 10): (0.5 + 1) / 2.
  CHECK(lrp::clip_scale(pooled, 50) == 0.75);
}

TEST_CASE("Overlay blends the heatmap colour over the grey input with the given opacity", "[heatmap_pictures]") {
  CHECK(lrp::blend({255, 0, 0}, 100, 0.5) == Rgb{178, 50, 50});  // 177.5 rounds up
  CHECK(lrp::blend({10, 20, 30}, 200, 1.0) == Rgb{10, 20, 30});
  CHECK(lrp::blend({10, 20, 30}, 200, 0.0) == Rgb{200, 200, 200});
  // Input (grey) 0, 1, 0.5 and relevance 1, -1, NaN over [0, 1]; s = max |R| = 1, alpha 0.6.
  const lrp::Tensor input = row_tensor({1, 1, 3}, {0, 1, 0.5});
  const lrp::Tensor relevance = row_tensor({1, 1, 3}, {1, -1, std::nan("")});
  lrp::HeatmapOptions o;
  o.upscale = 2;
  o.overlay = true;
  o.overlay_alpha = 0.6;
  const lrp::Heatmap h = lrp::heatmap_image(relevance, input, 0, o);
  REQUIRE(h.image.width == 3 * 2);  // one picture, no input beside it
  REQUIRE(h.image.height == 2);
  CHECK(h.nonfinite == 1);
  // Red over black: 0.6 · 255 = 153. Blue over white: 0.4 · 255 = 102 in red and green, 255 in blue.
  CHECK(h.image.at(0, 0) == Rgb{153, 0, 0});
  CHECK(h.image.at(1, 1) == Rgb{153, 0, 0});
  CHECK(h.image.at(2, 0) == Rgb{102, 102, 255});
  CHECK(h.image.at(4, 1) == o.nonfinite_color);
  CHECK(lrp::overlay_image(relevance.shape, relevance.data.row(0), input.shape, input.data.row(0), o).image.pixels ==
        h.image.pixels);
  o.overlay_alpha = 1.5;
  CHECK_THROWS_WITH(lrp::heatmap_image(relevance, input, 0, o), Contains("overlay_alpha"));
}

// ---------------------------------------------------------------- base64 and SVG grids

TEST_CASE("Base64 gives the test vectors of RFC 4648", "[heatmap_pictures]") {
  CHECK(lrp::base64_encode(std::string_view("")) == "");
  CHECK(lrp::base64_encode(std::string_view("f")) == "Zg==");
  CHECK(lrp::base64_encode(std::string_view("fo")) == "Zm8=");
  CHECK(lrp::base64_encode(std::string_view("foo")) == "Zm9v");
  CHECK(lrp::base64_encode(std::string_view("foob")) == "Zm9vYg==");
  CHECK(lrp::base64_encode(std::string_view("fooba")) == "Zm9vYmE=");
  CHECK(lrp::base64_encode(std::string_view("foobar")) == "Zm9vYmFy");
  // The last two letters of the alphabet and bytes with the high bit set.
  CHECK(lrp::base64_encode(std::vector<std::uint8_t>{0xfb, 0xff}) == "+/8=");
  CHECK(lrp::base64_encode(std::vector<std::uint8_t>{0x00, 0x10, 0x83, 0x10, 0x51, 0x87}) == "ABCDEFGH");
  std::string all;
  for (int b = 0; b < 256; ++b) all += static_cast<char>(b);
  CHECK(base64_decode(lrp::base64_encode(all)) == all);
}

TEST_CASE("Labelled SVG grids hold headers labels captions and colour bar ticks as well-formed XML", "[heatmap_pictures]") {
  lrp::SvgGrid grid;
  grid.title = "Heatmaps <test>";
  grid.column_headers = {"lrp & friends", "gradient"};
  grid.row_headers = {{"sample 3", "true: coat"}, {"sample 7", "pred: bag"}};
  for (int r = 0; r < 2; ++r) {
    grid.cells.emplace_back();
    for (int c = 0; c < 2; ++c) grid.cells.back().push_back({lrp::Image(20, 10, 3, {static_cast<std::uint8_t>(r * 100 + c), 0, 0}), {}});
  }
  grid.colorbar = lrp::ColorBar{.colormap = Colormap::kBwr, .scale = 0.0123, .note = "s = percentile 99.5 of |R|"};
  const std::string svg = lrp::grid_svg(grid);
  const std::vector<std::string> elements = check_xml(svg);
  CHECK(std::count(elements.begin(), elements.end(), "image") == 5);  // 4 cells and the colour bar
  CHECK_THAT(svg, Contains(">Heatmaps &lt;test&gt;</text>") && Contains(">lrp &amp; friends</text>") &&
                      Contains(">gradient</text>") && Contains(">sample 3</text>") && Contains(">true: coat</text>") &&
                      Contains(">pred: bag</text>"));
  CHECK_THAT(svg, Contains(">-0.0123</text>") && Contains(">0</text>") && Contains(">+0.0123</text>") &&
                      Contains("s = percentile 99.5 of |R|"));
  // The embedded pictures decode to PNGs of the cells.
  const std::vector<std::string> pngs = embedded_pngs(svg);
  REQUIRE(pngs.size() == 5);
  const std::vector<std::uint8_t> first = lrp::encode_png(20, 10, 3, grid.cells[0][0].image.pixels);
  CHECK(pngs[0] == std::string(first.begin(), first.end()));

  // Per-sample scale, a sequential map, captions, a long header (turned by 45 degrees).
  grid.colorbar = lrp::ColorBar{.colormap = Colormap::kBwr, .scale = 0, .note = ""};
  grid.column_headers = {"a_method_name_far_wider_than_its_column", "b"};
  grid.cells[1][1].caption = {"sample 7", "pred: bag"};
  const std::string per_sample = lrp::grid_svg(grid);
  check_xml(per_sample);
  CHECK_THAT(per_sample, Contains(">-s</text>") && Contains(">+s</text>") && Contains("per-sample scale") &&
                             Contains("rotate(-45"));
  grid.colorbar->colormap = Colormap::kHot;
  grid.colorbar->scale = 2.5;
  const std::string hot = lrp::grid_svg(grid);
  CHECK_THAT(hot, Contains(">2.5</text>") && Contains(">|R|</text>"));
  CHECK(hot.find(">-2.5</text>") == std::string::npos);

  // A sweep point's name too wide for its column breaks before '@' instead.
  grid.cells = {{{lrp::Image(100, 10, 3), {}}, {lrp::Image(100, 10, 3), {}}}};
  grid.row_headers.clear();
  grid.column_headers = {"egb@gamma=0.25", "lrp"};
  const std::string wrapped = lrp::grid_svg(grid);
  check_xml(wrapped);
  CHECK_THAT(wrapped, Contains(">egb</tspan><tspan") && Contains(">@gamma=0.25</tspan></text>") &&
                          Contains(">lrp</tspan></text>"));
  CHECK(wrapped.find("rotate(-45") == std::string::npos);

  CHECK(lrp::tick_label(0.000012345) == "1.23e-05");
  CHECK(lrp::tick_label(-4.0) == "-4");
  grid.cells.clear();
  CHECK_THROWS_WITH(lrp::grid_svg(grid), Contains("no cells"));
}

// ---------------------------------------------------------------- output.heatmap

TEST_CASE("output.heatmap keys are read with defaults and checked with positioned errors", "[heatmap_pictures]") {
  const lrp_test::QuietLog quiet;
  TempDir dir("lrp_heatmap_config");
  const auto config = [&](const std::string& heatmap) {
    const std::string path = dir.file("exp.yaml");
    std::ofstream(path) << "data: {format: synthetic, shape: [1, 8, 8], count: 6, classes: 3}\n"
                        << lrp_test::kTrainedHereModel << "explain: [gradient]\n"
                        << "output:\n  results: " << dir.file("r.h5") << "\n" << heatmap;
    return path;
  };
  const auto error = [&](const std::string& heatmap) -> std::string {
    try {
      (void)lrp::read_experiment_config(config(heatmap), {}, builtins());
    } catch (const lrp::Error& e) {
      return e.what();
    }
    FAIL("no error for " << heatmap);
    return {};
  };
  // Line 16 of the config is the first line under output.heatmap.
  const std::string line = dir.file("exp.yaml") + ":16:";
  const lrp::HeatmapConfig defaults = lrp::read_experiment_config(config(""), {}, builtins()).output.heatmap;
  CHECK(defaults.colormap == Colormap::kBwr);
  CHECK(defaults.clip_percentile == 99.5);
  CHECK_FALSE(defaults.figure_scale);
  CHECK_FALSE(defaults.overlay);
  CHECK(defaults.overlay_alpha == 0.6);
  const lrp::HeatmapConfig set = lrp::read_experiment_config(
      config("  heatmap:\n    colormap: coldnhot\n    clip_percentile: 100\n    scale: figure\n    overlay: true\n"
             "    overlay_alpha: 0.25\n"),
      {}, builtins()).output.heatmap;
  CHECK(set.colormap == Colormap::kColdnhot);
  CHECK(set.clip_percentile == 100);
  CHECK(set.figure_scale);
  CHECK(set.overlay);
  CHECK(set.overlay_alpha == 0.25);

  CHECK_THAT(error("  heatmap:\n    colormap: coldhot\n"),
             Contains(line + "15: output.heatmap.colormap 'coldhot' is not one of bwr, coldnhot, seismic, gray, hot "
                                 "(did you mean 'coldnhot'?)"));
  CHECK_THAT(error("  heatmap:\n    clip_percentile: 0\n"),
             Contains(line + "22: output.heatmap.clip_percentile is 0; expected a percentile of |R| in (0, 100]"));
  CHECK_THAT(error("  heatmap:\n    clip_percentile: 100.5\n"), Contains("in (0, 100]"));
  CHECK_THAT(error("  heatmap:\n    clip_percentile: high\n"), Contains("clip_percentile must be a number"));
  CHECK_THAT(error("  heatmap:\n    clip: 99\n"),
             Contains(line + "5: unknown key 'clip' in output.heatmap") && Contains("valid keys: colormap, clip_percentile"));
  CHECK_THAT(error("  heatmap:\n    scale: figures\n"),
             Contains(line + "12: output.heatmap.scale 'figures' is not one of sample, figure (did you mean 'figure'?)"));
  CHECK_THAT(error("  heatmap:\n    overlay: maybe\n"), Contains("output.heatmap.overlay must be true or false"));
  CHECK_THAT(error("  heatmap:\n    overlay_alpha: 2\n"), Contains(line + "20: output.heatmap.overlay_alpha is 2; expected"));
  CHECK_THAT(error("  heatmap: pictures\n"), Contains("output.heatmap must be a mapping") && Contains("output.heatmaps"));
}

// ---------------------------------------------------------------- real data

TEST_CASE("A run of the committed Fashion-MNIST CNN draws labelled methods.svg and montages", "[heatmap_pictures]") {
  const lrp_test::QuietLog quiet;
  REQUIRE(std::filesystem::exists(lrp_test::kFashionMnistDir + "/t10k-images-idx3-ubyte.gz"));
  TempDir dir("lrp_heatmap_run");
  const auto run = [&](const std::string& heatmap) {
    const std::string path = dir.file("exp.yaml");
    std::ofstream(path) << "data:\n  format: idx\n  images: " << lrp_test::kFashionMnistDir
                        << "/t10k-images-idx3-ubyte.gz\n  labels: " << lrp_test::kFashionMnistDir
                        << "/t10k-labels-idx1-ubyte.gz\n  subset: {begin: 0, end: 4}\n"
                        << "model: {file: " << lrp_test::kModelsDir << "/fmnist_cnn.h5}\n"
                        << "explain: [epsilon_plus_flat, gradient]\nevaluate: {conservation: false}\n"
                        << "output:\n  results: " << dir.file("r.h5") << "\n  heatmaps: " << dir.file("pics")
                        << "\n  heatmap_samples: 4\n  montage_columns: 2\n" << heatmap;
    return lrp::run_experiment(lrp::read_experiment_config(path, {}, builtins()), builtins());
  };
  const lrp::Dataset data = lrp_test::fashion_mnist_test(0, 4);
  // The stored relevance of a method as a batch [4, 1, 28, 28].
  const auto relevance = [&](const std::string& method) {
    const lrp::h5::File f = lrp::h5::File::open(dir.file("r.h5"));
    const std::vector<lrp::Scalar> r = f.read<lrp::Scalar>("/explanations/" + method + "/relevance");
    REQUIRE(r.size() == 4 * 784);
    lrp::Tensor t(4, lrp::Shape{1, 28, 28});
    std::copy(r.begin(), r.end(), t.data.data());
    return t;
  };
  const auto png_of = [](const lrp::Image& image) {
    const std::vector<std::uint8_t> bytes = lrp::encode_png(image.width, image.height, image.channels, image.pixels);
    return std::string(bytes.begin(), bytes.end());
  };

  SECTION("defaults: bwr, percentile 99.5, each map its own scale") {
    run("");
    const std::string svg = slurp(dir.file("pics/methods.svg"));
    check_xml(svg);
    // The first test images are an ankle boot, a pullover, a trouser and a trouser.
    CHECK_THAT(svg, Contains(">epsilon_plus_flat</") && Contains(">gradient</") &&
                        Contains(">sample 0</text>") && Contains(">sample 3</text>") &&
                        Contains(">true: ankle boot</text>") && Contains(">true: pullover</text>") &&
                        Contains(">pred: ankle boot</text>") && Contains("per-sample scale") &&
                        Contains(">-s</text>") && Contains(">+s</text>"));
    CHECK(embedded_pngs(svg).size() == 4 * 2 + 1);
    const std::string montage = slurp(dir.file("pics/gradient/montage.svg"));
    check_xml(montage);
    CHECK_THAT(montage, Contains("gradient (input | relevance)") && Contains(">true: trouser</text>"));
    CHECK(std::filesystem::exists(dir.file("pics/methods.png")));
    // sample_0.png is the input | heatmap pair scaled by the 99.5th percentile of its |R|.
    lrp::HeatmapOptions o;
    o.clip_percentile = 99.5;
    const lrp::Tensor r = relevance("gradient");
    CHECK(slurp(dir.file("pics/gradient/sample_0.png")) == png_of(lrp::heatmap_image(r, data.inputs, 0, o).image));
  }

  SECTION("one scale for the figure with seismic drawn over the inputs") {
    run("  heatmap: {colormap: seismic, scale: figure, overlay: true}\n");
    const lrp::Tensor eps = relevance("epsilon_plus_flat"), grad = relevance("gradient");
    std::vector<double> method_pool, figure_pool;
    for (const lrp::Tensor* t : {&eps, &grad})
      for (Index i = 0; i < 4; ++i) {
        const std::vector<double> m = lrp::relevance_magnitudes(t->shape, t->data.row(i));
        figure_pool.insert(figure_pool.end(), m.begin(), m.end());
        if (t == &grad) method_pool.insert(method_pool.end(), m.begin(), m.end());
      }
    const double figure = lrp::clip_scale(figure_pool, 99.5), method = lrp::clip_scale(method_pool, 99.5);
    const std::string svg = slurp(dir.file("pics/methods.svg"));
    check_xml(svg);
    CHECK_THAT(svg, Contains(">" + lrp::tick_label(-figure) + "</text>") &&
                        Contains(">+" + lrp::tick_label(figure) + "</text>") && Contains("over all maps of this figure"));
    CHECK_THAT(slurp(dir.file("pics/gradient/montage.svg")), Contains(">+" + lrp::tick_label(method) + "</text>"));
    lrp::HeatmapOptions o;
    o.colormap = Colormap::kSeismic;
    o.overlay = true;
    o.relevance_scale = method;  // the montage's scale: all samples of the method
    const lrp::Heatmap h = lrp::heatmap_image(grad, data.inputs, 2, o);
    CHECK(h.image.width == 28 * 4);
    CHECK(slurp(dir.file("pics/gradient/sample_2.png")) == png_of(h.image));
  }
}
