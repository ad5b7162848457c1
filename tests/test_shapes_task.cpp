// Ground-truth object masks (Dataset::masks) and the shapes task (lrp/io/shapes_task.hpp): the
// generator's determinism (bitwise, independent of count and subset), each mask redrawn from its
// class, extent and position by draw_shape, hand-checked masks of small shapes, the background and
// distractors kept apart from the mask, class balance, parameter and config-section errors that
// name the key, HDF5 masks in both layouts and broadcast over channels (and bad masks naming the
// dataset), and masks carried through subset, sample and select.
#include "test_util.hpp"

#include "lrp/experiment/config.hpp"
#include "lrp/io/data.hpp"
#include "lrp/io/hdf5.hpp"
#include "lrp/io/shapes_task.hpp"
#include "lrp/io/yaml_util.hpp"

#include "temp_dir.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdint>
#include <limits>
#include <set>
#include <string>
#include <vector>

using namespace lrp_test;
using Catch::Contains;
using lrp::Dataset;
using lrp::ShapeKind;
using lrp::ShapesOptions;

namespace {

// The dataset section `text` (one line of YAML) read as config "cfg.yaml", key "data".
Dataset load(const std::string& text, std::uint64_t default_seed = 7) {
  return lrp::load_dataset(lrp::yaml::load_text(text, "cfg.yaml"), "cfg.yaml", "data", default_seed);
}

// "cfg.yaml:1:<column>" of the first occurrence of `token` in a one-line config.
std::string at(const std::string& text, const std::string& token) {
  const auto column = text.find(token);
  REQUIRE(column != std::string::npos);
  return "cfg.yaml:1:" + std::to_string(column + 1);
}

ShapesOptions options(Index count, std::uint64_t seed) {
  ShapesOptions o;
  o.count = count;
  o.seed = seed;
  return o;
}

// One sample's mask as a size × size image.
Matrix mask_image(const Dataset& d, Index i, Index size) {
  Matrix m(size, size);
  for (Index r = 0; r < size; ++r)
    for (Index c = 0; c < size; ++c) m(r, c) = d.masks(i, r * size + c);
  return m;
}

// A size × size mask from rows of '#' (1) and '.' (0).
Matrix from_picture(const std::vector<std::string>& rows) {
  Matrix m = Matrix::Zero(static_cast<Index>(rows.size()), static_cast<Index>(rows.front().size()));
  for (std::size_t r = 0; r < rows.size(); ++r)
    for (std::size_t c = 0; c < rows[r].size(); ++c) m(static_cast<Index>(r), static_cast<Index>(c)) = rows[r][c] == '#';
  return m;
}

Matrix drawn(ShapeKind kind, Index extent) {
  Matrix m = Matrix::Zero(extent, extent);
  lrp::draw_shape(m, kind, extent, 0, 0);
  return m;
}

struct Box {
  Index top = 0, left = 0, bottom = -1, right = -1;  // inclusive; bottom < top: empty
};

Box box_of(const Matrix& m) {
  Box b{m.rows(), m.cols(), -1, -1};
  for (Index r = 0; r < m.rows(); ++r)
    for (Index c = 0; c < m.cols(); ++c)
      if (m(r, c) != 0) {
        b.top = std::min(b.top, r);
        b.left = std::min(b.left, c);
        b.bottom = std::max(b.bottom, r);
        b.right = std::max(b.right, c);
      }
  return b;
}

}  // namespace

// ---------------------------------------------------------------- draw_shape

TEST_CASE("draw_shape: a square of extent 3 at a known position gives exactly its 9 pixels", "[shapes]") {
  Matrix m = Matrix::Zero(10, 10);
  CHECK(lrp::draw_shape(m, ShapeKind::kSquare, 3, 2, 5) == 9);
  for (Index r = 0; r < 10; ++r)
    for (Index c = 0; c < 10; ++c) {
      INFO("pixel " << r << ", " << c);
      CHECK(m(r, c) == ((r >= 2 && r <= 4 && c >= 5 && c <= 7) ? 1 : 0));
    }
  // Drawing adds to what the mask holds.
  CHECK(lrp::draw_shape(m, ShapeKind::kSquare, 1, 0, 0) == 1);
  CHECK(m.sum() == 10);
}

TEST_CASE("draw_shape: hand-checked plus and triangle and ring of extents 5 and 6", "[shapes]") {
  CHECK(drawn(ShapeKind::kPlus, 5) == from_picture({"..#..", "..#..", "#####", "..#..", "..#.."}));
  CHECK(drawn(ShapeKind::kTriangle, 5) == from_picture({"..#..", "..#..", ".###.", ".###.", "#####"}));
  CHECK(drawn(ShapeKind::kRing, 5) == from_picture({".###.", "##.##", "#...#", "##.##", ".###."}));
  CHECK(drawn(ShapeKind::kPlus, 6) ==
        from_picture({"..##..", "..##..", "######", "######", "..##..", "..##.."}));
  CHECK(drawn(ShapeKind::kTriangle, 6) ==
        from_picture({"..##..", "..##..", ".####.", ".####.", "######", "######"}));
  CHECK(drawn(ShapeKind::kRing, 6) ==
        from_picture({".####.", "######", "##..##", "##..##", "######", ".####."}));
  CHECK(drawn(ShapeKind::kRing, 9) == from_picture({"..#####..", ".#######.", "###...###", "##.....##", "##.....##",
                                                    "##.....##", "###...###", ".#######.", "..#####.."}));
}

TEST_CASE("draw_shape: the classes differ at every extent and each fills its box to the edges", "[shapes]") {
  const std::vector<ShapeKind> kinds{ShapeKind::kSquare, ShapeKind::kPlus, ShapeKind::kTriangle, ShapeKind::kRing};
  for (Index extent = lrp::kShapesMinExtent; extent <= 16; ++extent) {
    INFO("extent " << extent);
    std::vector<Matrix> masks;
    for (const ShapeKind kind : kinds) {
      masks.push_back(drawn(kind, extent));
      const Box b = box_of(masks.back());
      CHECK(b.top == 0);
      CHECK(b.left == 0);
      CHECK(b.bottom == extent - 1);
      CHECK(b.right == extent - 1);
      // Left-right symmetric: the shapes do not depend on a side.
      CHECK(masks.back() == Matrix(masks.back().rowwise().reverse()));
    }
    for (std::size_t a = 0; a < masks.size(); ++a)
      for (std::size_t b = a + 1; b < masks.size(); ++b) CHECK(masks[a] != masks[b]);
    // The ring has a hole; the plus has empty corners; the triangle an empty top-left corner.
    CHECK(masks[3](extent / 2, extent / 2) == 0);
    CHECK(masks[1](0, 0) == 0);
    CHECK(masks[2](0, 0) == 0);
  }
  Matrix m = Matrix::Zero(8, 8);
  CHECK_THROWS_WITH(lrp::draw_shape(m, ShapeKind::kSquare, 5, 4, 0),
                    Contains("draw_shape: a box of extent 5 at (4, 0) does not lie inside the 8 × 8 mask"));
  CHECK_THROWS_WITH(lrp::draw_shape(m, static_cast<ShapeKind>(7), 3, 0, 0), Contains("kind 7 is not a shape"));
}

// ---------------------------------------------------------------- the generator

TEST_CASE("shapes task: two calls are bitwise equal and sample i does not depend on count or subset", "[shapes]") {
  const Dataset a = lrp::shapes_task(options(40, 5)), b = lrp::shapes_task(options(40, 5));
  CHECK(bit_equal(a.inputs.data, b.inputs.data));
  CHECK(bit_equal(a.masks, b.masks));
  CHECK(a.labels == b.labels);
  CHECK(a.source == "shapes(count 40, size 28, classes 4, min_size 7, max_size 11, noise 0.3, distractors 0, seed 5)");

  const Dataset small = lrp::shapes_task(options(7, 5));
  CHECK(bit_equal(small.inputs.data, Matrix(a.inputs.data.topRows(7))));
  CHECK(bit_equal(small.masks, Matrix(a.masks.topRows(7))));
  CHECK(small.labels == std::vector<Index>(a.labels.begin(), a.labels.begin() + 7));
  CHECK_FALSE(bit_equal(a.inputs.data, lrp::shapes_task(options(40, 6)).inputs.data));

  // Subsets through the config: the rows of the whole set, whatever the count.
  const Dataset range = load("{format: shapes, count: 60, seed: 5, subset: {begin: 10, end: 20}}");
  CHECK(range.indices == std::vector<Index>{10, 11, 12, 13, 14, 15, 16, 17, 18, 19});
  CHECK(bit_equal(range.inputs.data, Matrix(a.inputs.data.middleRows(10, 10))));
  CHECK(bit_equal(range.masks, Matrix(a.masks.middleRows(10, 10))));
  const Dataset drawn_rows = load("{format: shapes, count: 40, seed: 5, subset: {count: 6, seed: 3}}");
  REQUIRE(drawn_rows.size() == 6);
  for (Index j = 0; j < 6; ++j) {
    const Index source = drawn_rows.indices[static_cast<std::size_t>(j)];
    CHECK(bit_equal(Matrix(drawn_rows.inputs.data.row(j)), Matrix(a.inputs.data.row(source))));
    CHECK(bit_equal(Matrix(drawn_rows.masks.row(j)), Matrix(a.masks.row(source))));
  }

  // With distractors the shapes stay, only later draws change.
  ShapesOptions with = options(20, 5);
  with.distractors = 2;
  CHECK(bit_equal(lrp::shapes_task(with).masks, Matrix(a.masks.topRows(20))));
}

TEST_CASE("shapes task: each mask is its class shape and the image holds it at one intensity", "[shapes]") {
  const ShapesOptions o = options(400, 11);
  const Dataset d = lrp::shapes_task(o);
  CHECK(d.inputs.shape == Shape{1, 28, 28});
  REQUIRE(d.masks.rows() == 400);
  REQUIRE(d.masks.cols() == 28 * 28);
  CHECK(d.value_min >= 0);
  CHECK(d.value_max <= 1);
  const auto noise = static_cast<Scalar>(o.noise);
  const auto low = static_cast<Scalar>(lrp::kShapesIntensityLow);
  std::set<Index> extents, tops, lefts;
  for (Index i = 0; i < d.size(); ++i) {
    INFO("sample " << i);
    const Matrix mask = mask_image(d, i, 28);
    CHECK(((mask.array() == 0) || (mask.array() == 1)).all());
    const Box b = box_of(mask);
    REQUIRE(b.bottom >= b.top);
    const Index extent = b.bottom - b.top + 1;
    CHECK(b.right - b.left + 1 == extent);
    CHECK(extent >= o.min_size);
    CHECK(extent <= o.max_size);
    extents.insert(extent);
    tops.insert(b.top);
    lefts.insert(b.left);
    // The mask is exactly the shape of the sample's class, extent and position.
    Matrix expected = Matrix::Zero(28, 28);
    lrp::draw_shape(expected, static_cast<ShapeKind>(d.labels[static_cast<std::size_t>(i)]), extent, b.top, b.left);
    CHECK(mask == expected);
    Scalar intensity = -1;
    bool one_intensity = true, background_ok = true;
    for (Index f = 0; f < d.masks.cols(); ++f) {
      const Scalar x = d.inputs.data(i, f);
      if (d.masks(i, f) == 1) {
        if (intensity < 0) intensity = x;
        one_intensity = one_intensity && x == intensity;
      } else {
        background_ok = background_ok && x >= 0 && x <= noise;
      }
    }
    CHECK(one_intensity);
    CHECK(background_ok);
    CHECK(intensity >= low);
    CHECK(intensity < 1);
  }
  // Extents and positions vary over their whole ranges.
  CHECK(extents.size() == 5);
  CHECK(*tops.begin() == 0);
  CHECK(*lefts.begin() == 0);
  CHECK(*tops.rbegin() >= 20);
  CHECK(*lefts.rbegin() >= 20);
}

TEST_CASE("shapes task: distractors are bright blobs apart from the shape and outside the mask", "[shapes]") {
  ShapesOptions o = options(200, 3);
  o.distractors = 3;
  o.noise = 0.2;
  const Dataset d = lrp::shapes_task(o);
  const auto noise = static_cast<Scalar>(o.noise);
  for (Index i = 0; i < d.size(); ++i) {
    INFO("sample " << i);
    const Matrix mask = mask_image(d, i, 28);
    const Box b = box_of(mask);
    Index bright = 0;
    bool apart = true, bright_enough = true;
    for (Index r = 0; r < 28; ++r)
      for (Index c = 0; c < 28; ++c) {
        const Scalar x = d.inputs.data(i, r * 28 + c);
        if (mask(r, c) == 1 || x <= noise) continue;
        ++bright;
        bright_enough = bright_enough && x >= static_cast<Scalar>(lrp::kShapesIntensityLow);
        // One pixel of space around the shape's box.
        apart = apart && (r < b.top - 1 || r > b.bottom + 1 || c < b.left - 1 || c > b.right + 1);
      }
    CHECK(bright >= 4);  // at least one 2 × 2 blob (blobs may overlap)
    CHECK(bright <= 12);
    CHECK(apart);
    CHECK(bright_enough);
  }
}

TEST_CASE("shapes task: labels cycle through the classes so every class has its share", "[shapes]") {
  for (Index classes = 2; classes <= 4; ++classes) {
    ShapesOptions o = options(1001, 2);
    o.classes = classes;
    const Dataset d = lrp::shapes_task(o);
    std::vector<Index> counts(static_cast<std::size_t>(classes), 0);
    for (Index i = 0; i < d.size(); ++i) {
      CHECK(d.labels[static_cast<std::size_t>(i)] == i % classes);
      ++counts[static_cast<std::size_t>(d.labels[static_cast<std::size_t>(i)])];
    }
    const auto [low, high] = std::minmax_element(counts.begin(), counts.end());
    CHECK(*high - *low <= 1);
  }
  // Area and brightness vary within a class: class 0 squares of several extents and intensities.
  const Dataset d = lrp::shapes_task(options(200, 4));
  std::set<Scalar> areas, intensities;
  for (Index i = 0; i < d.size(); i += 4) {
    areas.insert(d.masks.row(i).sum());
    for (Index f = 0; f < d.masks.cols(); ++f)
      if (d.masks(i, f) == 1) intensities.insert(d.inputs.data(i, f));
  }
  CHECK(areas.size() == 5);
  CHECK(intensities.size() > 40);
}

TEST_CASE("shapes task: parameters out of range are errors naming the parameter", "[shapes]") {
  const auto error = [](auto change) {
    ShapesOptions o = options(10, 1);
    change(o);
    return error_of([&] { (void)lrp::shapes_task(o); });
  };
  CHECK_THAT(error([](ShapesOptions& o) { o.count = 0; }), Contains("shapes: count = 0 must be ≥ 1"));
  CHECK_THAT(error([](ShapesOptions& o) { o.classes = 5; }), Contains("shapes: classes = 5 is out of range"));
  CHECK_THAT(error([](ShapesOptions& o) { o.classes = 1; }), Contains("expected 2 to 4"));
  CHECK_THAT(error([](ShapesOptions& o) { o.size = 4; }), Contains("shapes: size = 4 is out of range"));
  CHECK_THAT(error([](ShapesOptions& o) { o.min_size = 4; }), Contains("shapes: min_size = 4 must be ≥ 5"));
  CHECK_THAT(error([](ShapesOptions& o) {
               o.min_size = 9;
               o.max_size = 8;
             }),
             Contains("shapes: max_size = 8 must be ≥ min_size = 9"));
  CHECK_THAT(error([](ShapesOptions& o) { o.size = 10; }), Contains("shapes: max_size = 11 must be ≤ size = 10"));
  CHECK_THAT(error([](ShapesOptions& o) { o.noise = 0.7; }), Contains("shapes: noise = 0.7 is out of range"));
  CHECK_THAT(error([](ShapesOptions& o) { o.noise = std::numeric_limits<double>::quiet_NaN(); }),
             Contains("shapes: noise = nan"));
  CHECK_THAT(error([](ShapesOptions& o) { o.distractors = 17; }), Contains("shapes: distractors = 17 is out of range"));
  CHECK_THAT(error([](ShapesOptions& o) {
               o.distractors = 1;
               o.size = 15;
             }),
             Contains("shapes: distractors = 1 need room beside the shape: size = 15 must be ≥ max_size + 5 = 16"));
  lrp::Limits tight;
  tight.memory = 1 << 20;
  CHECK_THAT(error_of([&] { (void)lrp::shapes_task(options(100000, 1), tight); }), Contains("shapes data of 100000"));
  // The smallest images: a shape of extent 5 fills a 5 × 5 image.
  ShapesOptions tiny = options(8, 1);
  tiny.size = tiny.min_size = tiny.max_size = 5;
  tiny.noise = 0;
  const Dataset t = lrp::shapes_task(tiny);
  CHECK(bit_equal(Matrix(t.masks.row(0)), Matrix::Ones(1, 25)));
  CHECK(t.value_min == 0);
}

// ---------------------------------------------------------------- the config section

TEST_CASE("dataset section shapes: defaults and every key", "[shapes]") {
  const Dataset a = load("{format: shapes, count: 6}");
  const Dataset a_direct = lrp::shapes_task(options(6, 7));  // the config's seed
  CHECK(bit_equal(a.inputs.data, a_direct.inputs.data));
  CHECK(bit_equal(a.masks, a_direct.masks));
  CHECK(a.labels == a_direct.labels);
  CHECK(a.source == a_direct.source);

  const Dataset b = load("{format: shapes, count: 9, size: 20, classes: 3, min_size: 5, max_size: 9, noise: 0.1, "
                         "distractors: 2, seed: 4}");
  ShapesOptions o = options(9, 4);
  o.size = 20;
  o.classes = 3;
  o.min_size = 5;
  o.max_size = 9;
  o.noise = 0.1;
  o.distractors = 2;
  const Dataset b_direct = lrp::shapes_task(o);
  CHECK(b.inputs.shape == Shape{1, 20, 20});
  CHECK(bit_equal(b.inputs.data, b_direct.inputs.data));
  CHECK(bit_equal(b.masks, b_direct.masks));
  CHECK(b.source == b_direct.source);
}

TEST_CASE("dataset section shapes: bad keys and values are positioned errors naming the key", "[shapes]") {
  struct Case {
    std::string text, token;
    std::vector<std::string> parts;
  };
  const std::vector<Case> cases{
      {"{format: shapes, count: 6, sizes: 20}", "sizes",
       {"unknown key 'sizes' in data (shapes)",
        "valid keys: format, count, size, classes, min_size, max_size, noise, distractors, seed, subset"}},
      {"{format: shapes, size: 20}", "{", {"data needs the key 'count'"}},
      {"{format: shapes, count: 0}", "0}", {"data.count must be a whole number ≥ 1, got 0"}},
      {"{format: shapes, count: 6, size: 4}", "4}", {"data.size must be a whole number ≥ 5, got 4"}},
      {"{format: shapes, count: 6, size: 10}", "{", {"data.max_size = 11 (the default) must be ≤ size = 10"}},
      {"{format: shapes, count: 6, size: 20, max_size: 21}", "21}", {"data.max_size = 21 must be ≤ size = 20"}},
      {"{format: shapes, count: 6, min_size: 9, max_size: 8}", "8}", {"data.max_size = 8 must be ≥ min_size = 9"}},
      {"{format: shapes, count: 6, min_size: 12}", "{", {"data.max_size = 11 (the default) must be ≥ min_size = 12"}},
      {"{format: shapes, count: 6, min_size: 3}", "3}", {"data.min_size must be a whole number ≥ 5, got 3"}},
      {"{format: shapes, count: 6, classes: 5}", "5}", {"data.classes = 5 is out of range; expected 2 to 4"}},
      {"{format: shapes, count: 6, classes: 1}", "1}", {"data.classes must be a whole number ≥ 2, got 1"}},
      {"{format: shapes, count: 6, noise: 0.8}", "0.8", {"data.noise = 0.8 is out of range"}},
      {"{format: shapes, count: 6, noise: -0.1}", "-0.1", {"data.noise = -0.1 is out of range"}},
      {"{format: shapes, count: 6, noise: lots}", "lots", {"data.noise"}},
      {"{format: shapes, count: 6, distractors: -1}", "-1", {"data.distractors must be a whole number ≥ 0, got -1"}},
      {"{format: shapes, count: 6, distractors: 2, size: 15}", "2,",
       {"data.distractors = 2 need room beside the shape: size = 15 must be ≥ max_size + 5 = 16"}},
      {"{format: shapes, count: 6, seed: -1}", "-1", {"data.seed must be a whole number in [0, 2^64)"}},
      {"{format: shapes, count: 6, one_hot: true}", "true", {"data.one_hot applies only to format long_range"}},
      {"{format: shape, count: 6}", "shape",
       {"is not one of idx, csv, hdf5, synthetic, marked_addition, long_range, shapes", "(did you mean 'shapes'?)"}},
      {"{format: shapes, count: 6, subset: {begin: 4, end: 9}}", "{begin",
       {"data.subset [4, 9) is not a non-empty range within the 6 samples"}},
  };
  for (const Case& k : cases) {
    INFO(k.text);
    const std::string message = error_of([&] { (void)load(k.text); });
    CHECK_THAT(message, Contains(at(k.text, k.token) + ": "));
    for (const std::string& part : k.parts) CHECK_THAT(message, Contains(part));
  }
}

// ---------------------------------------------------------------- HDF5 masks

TEST_CASE("read_hdf5 with masks: both layouts and one mask for all channels", "[shapes]") {
  TempDir dir("lrp_test_shapes");
  const std::string path = dir.file("masks.h5");
  // 3 samples of 2 channels × 2 × 3 pixels; mask element j of sample i is 1 when (i + j) % 3 == 0.
  const Index n = 3, c = 2, h = 2, w = 3, f = c * h * w;
  std::vector<float> nchw(static_cast<std::size_t>(n * f)), nhwc(nchw.size());
  std::vector<std::uint8_t> mask_nchw(nchw.size()), mask_nhwc(nchw.size()), planes(static_cast<std::size_t>(n * h * w));
  std::vector<double> mask_rows(static_cast<std::size_t>(n * 4));
  for (Index i = 0; i < n; ++i)
    for (Index ch = 0; ch < c; ++ch)
      for (Index p = 0; p < h * w; ++p) {
        const Index j = ch * h * w + p;  // NCHW element within the sample
        const auto at_nchw = static_cast<std::size_t>(i * f + j), at_nhwc = static_cast<std::size_t>(i * f + p * c + ch);
        nchw[at_nchw] = nhwc[at_nhwc] = static_cast<float>(i * 100 + j);
        mask_nchw[at_nchw] = mask_nhwc[at_nhwc] = (i + j) % 3 == 0 ? 1 : 0;
        planes[static_cast<std::size_t>(i * h * w + p)] = (i + p) % 2 == 0 ? 1 : 0;
      }
  for (std::size_t k = 0; k < mask_rows.size(); ++k) mask_rows[k] = k % 2 == 0 ? 1.0 : 0.0;
  {
    lrp::h5::File file = lrp::h5::File::create(path);
    file.write("/nchw", nchw, {3, 2, 2, 3});
    file.write("/nhwc", nhwc, {3, 2, 3, 2});
    file.write("/mask_nchw", mask_nchw, {3, 2, 2, 3});
    file.write("/mask_nhwc", mask_nhwc, {3, 2, 3, 2});
    file.write("/planes", planes, {3, 2, 3});
    file.write("/rows", std::vector<float>(12, 0.5f), {3, 4});
    file.write("/mask_rows", mask_rows, {3, 4});
  }
  const Dataset a = lrp::read_hdf5(path, "/nchw", "", lrp::Hdf5Layout::kNCHW, 1.0, "", {}, {}, "/mask_nchw");
  const Dataset b = lrp::read_hdf5(path, "/nhwc", "", lrp::Hdf5Layout::kNHWC, 1.0, "", {}, {}, "mask_nhwc");
  REQUIRE(a.masks.rows() == 3);
  REQUIRE(a.masks.cols() == f);
  CHECK(a.source == path + ":/nchw, " + path + ":/mask_nchw");
  CHECK(bit_equal(a.inputs.data, b.inputs.data));
  CHECK(bit_equal(a.masks, b.masks));
  for (Index i = 0; i < n; ++i)
    for (Index j = 0; j < f; ++j) CHECK(a.masks(i, j) == ((i + j) % 3 == 0 ? 1 : 0));

  // [N, H, W] marks every channel of its pixels, in either layout.
  for (const auto& [inputs, layout] : {std::pair{"/nchw", lrp::Hdf5Layout::kNCHW}, std::pair{"/nhwc", lrp::Hdf5Layout::kNHWC}}) {
    const Dataset d = lrp::read_hdf5(path, inputs, "", layout, 1.0, "", {}, {}, "/planes");
    for (Index i = 0; i < n; ++i)
      for (Index ch = 0; ch < c; ++ch)
        for (Index p = 0; p < h * w; ++p) CHECK(d.masks(i, ch * h * w + p) == ((i + p) % 2 == 0 ? 1 : 0));
  }
  // Rank 2, and only the selected rows.
  const Dataset rows =
      lrp::read_hdf5(path, "/rows", "", lrp::Hdf5Layout::kNCHW, 1.0, "", lrp::RowSelection::range(1, 3), {}, "/mask_rows");
  CHECK(rows.indices == std::vector<Index>{1, 2});
  CHECK(bit_equal(rows.masks, Matrix(Eigen::Map<const Eigen::Matrix<double, 3, 4, Eigen::RowMajor>>(mask_rows.data())
                                         .bottomRows(2)
                                         .cast<Scalar>())));
  // Without a masks dataset there are none.
  CHECK(lrp::read_hdf5(path, "/nchw", "", lrp::Hdf5Layout::kNCHW).masks.rows() == 0);

  // The config key.
  const Dataset c_cfg = load("{format: hdf5, path: " + path + ", inputs: /nhwc, layout: nhwc, masks: /planes}");
  CHECK(c_cfg.masks.rows() == 3);
  CHECK(c_cfg.masks(0, 0) == 1);
  CHECK(c_cfg.masks(0, 6) == 1);
  CHECK_THAT(error_of([&] { (void)load("{format: hdf5, path: " + path + ", inputs: /nchw, mask: /planes}"); }),
             Contains("unknown key 'mask' in data (hdf5) (did you mean 'masks'?)"));
}

TEST_CASE("read_hdf5 with masks: values other than 0 and 1 and shapes that do not fit name the dataset",
          "[shapes]") {
  TempDir dir("lrp_test_shapes");
  const std::string path = dir.file("bad_masks.h5");
  std::vector<double> two(4 * 6, 0.0), nan(4 * 6, 1.0);
  two[2 * 6 + 5] = 2;
  nan[3 * 6 + 1] = std::numeric_limits<double>::quiet_NaN();
  {
    lrp::h5::File file = lrp::h5::File::create(path);
    file.write("/x", std::vector<float>(4 * 6, 0.25f), {4, 2, 3});
    file.write("/two", two, {4, 2, 3});
    file.write("/nan", nan, {4, 2, 3});
    file.write("/half", std::vector<double>(4 * 6, 0.5), {4, 2, 3});
    file.write("/short", std::vector<std::uint8_t>(3 * 6, 1), {3, 2, 3});
    file.write("/wide", std::vector<std::uint8_t>(4 * 8, 1), {4, 2, 4});
    file.write("/flat", std::vector<std::uint8_t>(4 * 6, 1), {4, 6});
    file.write_string("/text", "mask");
  }
  const auto error = [&](const std::string& masks, const lrp::RowSelection& selection = {}) {
    return error_of([&] { (void)lrp::read_hdf5(path, "/x", "", lrp::Hdf5Layout::kNCHW, 1.0, "", selection, {}, masks); });
  };
  const std::string file = "HDF5 data file '" + path + "'";
  CHECK_THAT(error("/two"), Contains(file) && Contains("masks dataset '/two': sample 2 holds 2 at element 5; expected 0 or 1"));
  CHECK_THAT(error("/nan"), Contains("masks dataset '/nan': sample 3 holds nan at element 1; expected 0 or 1"));
  CHECK_THAT(error("/half"), Contains("masks dataset '/half': sample 0 holds 0.5"));
  CHECK_THAT(error("/short"), Contains(file) && Contains("masks dataset '/short' has shape [3, 2, 3], 3 masks, but inputs "
                                                          "dataset '/x' has 4 samples; expected one mask per sample"));
  CHECK_THAT(error("/wide"), Contains("masks dataset '/wide' has shape [4, 2, 4]; expected the shape of inputs '/x', "
                                     "[4, 2, 3]"));
  CHECK_THAT(error("/flat"), Contains("masks dataset '/flat' has shape [4, 6]"));
  CHECK_THAT(error("/text"), Contains("masks dataset '/text' has type string"));
  CHECK_THAT(error("/none"), Contains("has no masks dataset '/none'"));
  // Only the selected rows are read: a bad value elsewhere is not seen.
  CHECK(lrp::read_hdf5(path, "/x", "", lrp::Hdf5Layout::kNCHW, 1.0, "", lrp::RowSelection::range(0, 2), {}, "/two")
            .masks.sum() == 0);
  CHECK_THAT(error("/two", lrp::RowSelection::range(2, 3)), Contains("sample 2 holds 2"));
  // Through the config, prefixed with the section's position.
  const std::string text = "{format: hdf5, path: " + path + ", inputs: /x, masks: /two}";
  CHECK_THAT(error_of([&] { (void)load(text); }), Contains("masks dataset '/two': sample 2"));
}

// ---------------------------------------------------------------- masks through selections

TEST_CASE("subset and sample and select carry the masks along - sources without them stay without", "[shapes]") {
  const Dataset d = lrp::shapes_task(options(30, 9));
  const Dataset part = lrp::subset(d, 5, 12);
  REQUIRE(part.masks.rows() == 7);
  CHECK(bit_equal(part.masks, Matrix(d.masks.middleRows(5, 7))));
  const Dataset drawn_rows = lrp::sample(d, 10, 99);
  REQUIRE(drawn_rows.masks.rows() == 10);
  for (Index j = 0; j < 10; ++j) {
    const Index source = drawn_rows.indices[static_cast<std::size_t>(j)];
    CHECK(bit_equal(Matrix(drawn_rows.masks.row(j)), Matrix(d.masks.row(source))));
  }
  const Dataset nested = lrp::subset(drawn_rows, 2, 6);
  for (Index j = 0; j < 4; ++j)
    CHECK(bit_equal(Matrix(nested.masks.row(j)), Matrix(d.masks.row(nested.indices[static_cast<std::size_t>(j)]))));
  const Dataset selected = lrp::select(d, lrp::RowSelection::draw(4, 2));
  for (Index j = 0; j < 4; ++j)
    CHECK(bit_equal(Matrix(selected.masks.row(j)), Matrix(d.masks.row(selected.indices[static_cast<std::size_t>(j)]))));
  CHECK(bit_equal(lrp::select(d, {}).masks, d.masks));

  const Dataset blobs = lrp::synthetic_blobs({6}, 10, 2, 1);
  CHECK(blobs.masks.rows() == 0);
  CHECK(lrp::subset(blobs, 1, 4).masks.rows() == 0);
  CHECK(lrp::sample(blobs, 3, 1).masks.rows() == 0);

  Dataset short_masks = d;
  short_masks.masks.conservativeResize(29, Eigen::NoChange);
  CHECK_THROWS_WITH(lrp::subset(short_masks, 0, 3), Contains("has masks of 29 × 784 for 30 samples of 784 features"));
}
