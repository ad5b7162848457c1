// Subset reads: read_idx (plain and gzip), read_hdf5 (chunked and contiguous) and read_csv, given a
// range or a seeded draw, return exactly the rows a whole read followed by select() returns, and
// those rows hold the values the test wrote (the oracle is the generator, not the reader). Damage the
// subset reaches is still an error; what a subset no longer reads is what docs/models.md says.
#include "test_util.hpp"

#include "lrp/io/data.hpp"
#include "lrp/io/hdf5.hpp"

#include "temp_dir.hpp"

#include <catch2/catch.hpp>
#include <zlib.h>

#include <cstdint>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

using namespace lrp_test;
using Catch::Contains;
using lrp::Dataset;
using lrp::RowSelection;

namespace {

using Bytes = std::vector<unsigned char>;

void put_u32(Bytes& out, std::uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8) out.push_back(static_cast<unsigned char>(v >> shift));
}

// Seeded bytes standing for n images of rows × cols pixels (row-major, image after image).
Bytes pixel_bytes(std::uint32_t n, std::uint32_t rows, std::uint32_t cols, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  Bytes out(static_cast<std::size_t>(n) * rows * cols);
  for (unsigned char& b : out) b = static_cast<unsigned char>(rng() >> 56);
  return out;
}

Bytes idx_images(std::uint32_t n, std::uint32_t rows, std::uint32_t cols, const Bytes& pixels) {
  Bytes out;
  put_u32(out, 0x803);
  put_u32(out, n);
  put_u32(out, rows);
  put_u32(out, cols);
  out.insert(out.end(), pixels.begin(), pixels.end());
  return out;
}

Bytes idx_labels(const Bytes& labels) {
  Bytes out;
  put_u32(out, 0x801);
  put_u32(out, static_cast<std::uint32_t>(labels.size()));
  out.insert(out.end(), labels.begin(), labels.end());
  return out;
}

void write_bytes(const std::string& path, const Bytes& bytes) {
  std::ofstream out(path, std::ios::binary);
  out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
}

Bytes read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return Bytes(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// `bytes` as one gzip member appended to `path` (a new file unless append).
void write_gzip(const std::string& path, const Bytes& bytes, bool append = false) {
  gzFile gz = gzopen(path.c_str(), append ? "ab" : "wb");
  REQUIRE(gz != nullptr);
  if (!bytes.empty()) REQUIRE(gzwrite(gz, bytes.data(), static_cast<unsigned>(bytes.size())) == static_cast<int>(bytes.size()));
  REQUIRE(gzclose(gz) == Z_OK);
}

// The selections every reader is tried with, for a source of n samples.
std::vector<RowSelection> selections(Index n) {
  return {RowSelection::range(0, 1),       RowSelection::range(n - 1, n), RowSelection::range(3, n / 2),
          RowSelection::range(n / 3, -1),  RowSelection::draw(1, 5),      RowSelection::draw(20, 11),
          RowSelection::draw(n / 2, 12),   RowSelection::draw(n, 13),     RowSelection::range(0, n)};
}

std::string describe(const RowSelection& s) {
  std::ostringstream out;
  if (s.kind == RowSelection::Kind::kRange) out << "range [" << s.begin << ", " << s.end << ")";
  else out << "draw of " << s.count << " with seed " << s.seed;
  return out.str();
}

// The subset read equals the whole read followed by select(), field by field.
void check_same(const Dataset& subset, const Dataset& expected) {
  CHECK(subset.indices == expected.indices);
  CHECK(subset.labels == expected.labels);
  CHECK(subset.source == expected.source);
  REQUIRE(subset.inputs.shape == expected.inputs.shape);
  CHECK(bit_equal(subset.inputs.data, expected.inputs.data));
  CHECK(bit_equal(subset.mean, expected.mean));
  CHECK(subset.value_min == expected.value_min);
  CHECK(subset.value_max == expected.value_max);
}

// Each selected row holds pixel bytes · scale of the generated image of its index.
void check_pixels(const Dataset& d, const Bytes& pixels, Index features, double scale) {
  for (Index i = 0; i < d.size(); ++i) {
    const Index row = d.indices[static_cast<std::size_t>(i)];
    for (Index j = 0; j < features; ++j)
      REQUIRE(d.inputs.data(i, j) ==
              static_cast<Scalar>(static_cast<double>(pixels[static_cast<std::size_t>(row * features + j)]) * scale));
  }
}

}  // namespace

TEST_CASE("A subset of a plain or gzip IDX file holds exactly the rows a whole read then a selection holds") {
  TempDir dir;
  const std::uint32_t n = 3000, rows = 5, cols = 4;
  const Bytes pixels = pixel_bytes(n, rows, cols, 1);
  Bytes labels(n);
  for (std::uint32_t i = 0; i < n; ++i) labels[i] = static_cast<unsigned char>((i * 7) % 10);
  const bool gzip = GENERATE(false, true);
  const std::string images_path = dir.file("images"), labels_path = dir.file("labels");
  if (gzip) {
    write_gzip(images_path, idx_images(n, rows, cols, pixels));
    write_gzip(labels_path, idx_labels(labels));
  } else {
    write_bytes(images_path, idx_images(n, rows, cols, pixels));
    write_bytes(labels_path, idx_labels(labels));
  }
  const Dataset whole = lrp::read_idx(images_path, labels_path);
  for (const RowSelection& s : selections(n)) {
    INFO((gzip ? "gzip, " : "plain, ") << describe(s));
    const Dataset subset = lrp::read_idx(images_path, labels_path, 1.0 / 255.0, s);
    check_same(subset, lrp::select(whole, s));
    check_pixels(subset, pixels, rows * cols, 1.0 / 255.0);
    for (std::size_t i = 0; i < subset.labels.size(); ++i)
      REQUIRE(subset.labels[i] == Index((subset.indices[i] * 7) % 10));
  }
}

TEST_CASE("Rows larger than the read buffer and rows far apart are read whole from a plain IDX file") {
  TempDir dir;
  // 1,200 × 1,000 pixels: one row is larger than the 1 MiB the reader reads at once.
  const std::uint32_t n = 4, rows = 1200, cols = 1000;
  const Bytes pixels = pixel_bytes(n, rows, cols, 2);
  const std::string path = dir.file("large-rows");
  write_bytes(path, idx_images(n, rows, cols, pixels));
  for (const RowSelection& s : {RowSelection::range(1, 3), RowSelection::draw(2, 4), RowSelection::range(3, 4)}) {
    INFO(describe(s));
    const Dataset d = lrp::read_idx(path, "", 1.0, s);
    check_pixels(d, pixels, Index{rows} * cols, 1.0);
  }
}

TEST_CASE("A gzip IDX file cut short or with bytes appended is refused even when a subset ends before the damage") {
  TempDir dir;
  const std::uint32_t n = 2000, rows = 6, cols = 6;
  const Bytes pixels = pixel_bytes(n, rows, cols, 3);
  const std::string good = dir.file("good.gz"), bad = dir.file("bad.gz");
  write_gzip(good, idx_images(n, rows, cols, pixels));
  const RowSelection first = RowSelection::range(0, 2);

  SECTION("cut short: the damage lies after the subset and the trailer no longer matches") {
    Bytes compressed = read_bytes(good);
    compressed.resize(compressed.size() * 3 / 4);
    write_bytes(bad, compressed);
    CHECK_THAT(error_of([&] { (void)lrp::read_idx(bad, "", 1.0, first); }),
               Contains(bad) && Contains("corrupt or truncated"));
  }
  SECTION("cut short before the subset's rows") {
    Bytes compressed = read_bytes(good);
    compressed.resize(compressed.size() / 4);
    write_bytes(bad, compressed);
    CHECK_THAT(error_of([&] { (void)lrp::read_idx(bad, "", 1.0, RowSelection::range(1900, 1910)); }),
               Contains(bad) && Contains("corrupt or truncated"));
  }
  SECTION("a complete stream with fewer rows than its header announces") {
    Bytes short_pixels(pixels.begin(), pixels.end() - 36 * 10);
    write_gzip(bad, idx_images(n, rows, cols, short_pixels));
    CHECK_THAT(error_of([&] { (void)lrp::read_idx(bad, "", 1.0, first); }),
               Contains(bad) && Contains("truncated") && Contains("only 71640 follow"));
  }
  SECTION("bytes after the data") {
    Bytes long_pixels = pixels;
    long_pixels.push_back(9);
    write_gzip(bad, idx_images(n, rows, cols, long_pixels));
    CHECK_THAT(error_of([&] { (void)lrp::read_idx(bad, "", 1.0, first); }), Contains(bad) && Contains("1 bytes after"));
  }
  SECTION("two gzip members joined are one valid file, read to its end for a subset") {
    const Bytes file = idx_images(n, rows, cols, pixels);
    write_gzip(bad, Bytes(file.begin(), file.begin() + 5000));
    write_gzip(bad, Bytes(file.begin() + 5000, file.end()), true);
    const Dataset d = lrp::read_idx(bad, "", 1.0, RowSelection::draw(30, 8));
    CHECK(d.indices == lrp::sample_rows(n, 30, 8));
    check_pixels(d, pixels, rows * cols, 1.0);
  }
}

TEST_CASE("A subset of an HDF5 dataset, chunked or contiguous, holds exactly the rows a whole read then a selection holds") {
  TempDir dir;
  const std::string path = dir.file("data.h5");
  const Index n = 1500, h = 4, w = 3, c = 2;
  const Bytes pixels = pixel_bytes(static_cast<std::uint32_t>(n), h * w * c, 1, 4);
  std::vector<double> values(pixels.begin(), pixels.end());
  std::vector<std::int64_t> labels(static_cast<std::size_t>(n));
  for (Index i = 0; i < n; ++i) labels[static_cast<std::size_t>(i)] = (i * 3) % 7;
  lrp::h5::write_atomically(path, "test data", [&](lrp::h5::File& file) {
    // lrplab writes arrays chunked (here 48 KiB: more than the 32 KiB kept compact).
    file.write("/chunked", values, lrp::h5::Dims{static_cast<hsize_t>(n), static_cast<hsize_t>(h),
                                                 static_cast<hsize_t>(w), static_cast<hsize_t>(c)});
    file.write("/labels", labels, lrp::h5::Dims{static_cast<hsize_t>(n)});
  });
  {
    // h5py's default: contiguous storage, written here through the C API.
    const hid_t file = H5Fopen(path.c_str(), H5F_ACC_RDWR, H5P_DEFAULT);
    const hsize_t dims[4] = {static_cast<hsize_t>(n), static_cast<hsize_t>(h), static_cast<hsize_t>(w),
                             static_cast<hsize_t>(c)};
    const hid_t space = H5Screate_simple(4, dims, nullptr);
    const hid_t set = H5Dcreate2(file, "contiguous", H5T_STD_U8LE, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    REQUIRE(set >= 0);
    REQUIRE(H5Dwrite(set, H5T_NATIVE_UINT8, H5S_ALL, H5S_ALL, H5P_DEFAULT, pixels.data()) >= 0);
    H5Dclose(set);
    H5Sclose(space);
    H5Fclose(file);
  }
  const std::string dataset = GENERATE(std::string("/chunked"), std::string("/contiguous"));
  const lrp::Hdf5Layout layout = GENERATE(lrp::Hdf5Layout::kNCHW, lrp::Hdf5Layout::kNHWC);
  const Dataset whole = lrp::read_hdf5(path, dataset, "/labels", layout, 0.5);
  for (const RowSelection& s : selections(n)) {
    INFO(dataset << (layout == lrp::Hdf5Layout::kNHWC ? " NHWC, " : " NCHW, ") << describe(s));
    const Dataset subset = lrp::read_hdf5(path, dataset, "/labels", layout, 0.5, "", s);
    check_same(subset, lrp::select(whole, s));
    for (Index i = 0; i < subset.size(); ++i) {
      const Index row = subset.indices[static_cast<std::size_t>(i)];
      REQUIRE(subset.labels[static_cast<std::size_t>(i)] == (row * 3) % 7);
      // Element (hh, ww, cc) of the stored row; its place in the sample depends on the layout.
      for (Index e = 0; e < h * w * c; ++e) {
        const Index to = layout == lrp::Hdf5Layout::kNHWC ? (e % c) * h * w + e / c : e;
        REQUIRE(subset.inputs.data(i, to) == Scalar(0.5 * pixels[static_cast<std::size_t>(row * h * w * c + e)]));
      }
    }
  }
}

TEST_CASE("A subset of a CSV file parses only its rows and stops after the last of them") {
  TempDir dir;
  const std::string path = dir.file("data.csv");
  const Index n = 400, features = 3;
  // Values v(i, j) = i + j / 8 (exact in binary), the label i mod 5; a header and blank lines.
  std::ostringstream text;
  text << "a,b,c,label\n\n";
  for (Index i = 0; i < n; ++i) {
    text << i << "," << i + 0.125 << ", " << i + 0.25 << "," << i % 5 << "\n";
    if (i % 50 == 7) text << "   \n";
  }
  std::ofstream(path) << text.str();
  const Dataset whole = lrp::read_csv(path, {features}, 3, true);
  REQUIRE(whole.size() == n);
  for (const RowSelection& s : selections(n)) {
    INFO(describe(s));
    const Dataset subset = lrp::read_csv(path, {features}, 3, true, s);
    check_same(subset, lrp::select(whole, s));
    for (Index i = 0; i < subset.size(); ++i) {
      const Index row = subset.indices[static_cast<std::size_t>(i)];
      for (Index j = 0; j < features; ++j) REQUIRE(subset.inputs.data(i, j) == Scalar(static_cast<double>(row) + j / 8.0));
      REQUIRE(subset.labels[static_cast<std::size_t>(i)] == row % 5);
    }
  }
}

TEST_CASE("A CSV subset reports bad rows it reads with their line and ignores rows after its end") {
  TempDir dir;
  const std::string path = dir.file("data.csv");
  // Line 1 a header; lines 2 to 101 rows 0 to 99; row 60 (line 62) has a word, row 90 (line 92) too few columns.
  std::ostringstream text;
  text << "x,y\n";
  for (int i = 0; i < 100; ++i) {
    if (i == 60) text << "1,oops\n";
    else if (i == 90) text << "7\n";
    else text << i << "," << 2 * i << "\n";
  }
  std::ofstream(path) << text.str();
  CHECK_THAT(error_of([&] { (void)lrp::read_csv(path, {2}, -1, true); }),
             Contains("line 62, column 2") && Contains("'oops' is not a number"));
  CHECK_THAT(error_of([&] { (void)lrp::read_csv(path, {2}, -1, true, RowSelection::range(55, 65)); }),
             Contains(path) && Contains("line 62, column 2"));
  CHECK_THAT(error_of([&] { (void)lrp::read_csv(path, {2}, -1, true, RowSelection::range(85, 95)); }),
             Contains("line 92: 1 columns; expected 2"));
  // Rows 0 to 49 end before the damage: it is never parsed.
  const Dataset head = lrp::read_csv(path, {2}, -1, true, RowSelection::range(0, 50));
  REQUIRE(head.size() == 50);
  CHECK(head.inputs.data(49, 1) == Scalar(98));
  // A range past the end names the number of rows the file has.
  CHECK_THAT(error_of([&] { (void)lrp::read_csv(path, {2}, -1, true, RowSelection::range(95, 101)); }),
             Contains("[95, 101) is not a non-empty range within the 100 samples"));
  CHECK_THAT(error_of([&] { (void)lrp::read_csv(path, {2}, -1, true, RowSelection::draw(101, 1)); }),
             Contains("count 101 exceeds the 100 samples"));
  std::ofstream(path) << "x,y\n\n";
  CHECK_THAT(error_of([&] { (void)lrp::read_csv(path, {2}, -1, true, RowSelection::range(0, 1)); }),
             Contains("has a header but no data rows"));
  CHECK_THAT(error_of([&] { (void)lrp::read_csv(path, {2}, -1, true, RowSelection::draw(1, 1)); }),
             Contains("has a header but no data rows"));
}
