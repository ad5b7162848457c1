// read_hdf5: arrays of any numeric type become samples of the documented shapes (NHWC transposed
// to C, H, W), labels of integer or whole-float type, statistics as the other readers compute them,
// and bad files are errors naming the file and the dataset. The fixture data_nhwc.h5 (uint8 NHWC
// images written by h5py) run through the h5py-written model gives PyTorch's logits.
#include "test_util.hpp"

#include "lrp/io/model_file.hpp"
#include "lrp/io/data.hpp"
#include "lrp/io/hdf5.hpp"
#include "lrp/nn/model.hpp"

#include "temp_dir.hpp"

#include <catch2/catch.hpp>

#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

using namespace lrp_test;
using Catch::Contains;
using lrp::Dataset;
using lrp::Hdf5Layout;
using lrp::h5::Dims;
using lrp::h5::File;

namespace {

const std::string kFixtures = std::string(LRP_TEST_FIXTURES) + "/hdf5/";

// min, max and per-feature mean, computed here in double.
void check_statistics(const Dataset& d) {
  const Matrix& x = d.inputs.data;
  CHECK(d.value_min == x.minCoeff());
  CHECK(d.value_max == x.maxCoeff());
  REQUIRE(d.mean.cols() == x.cols());
  for (Index c = 0; c < x.cols(); ++c) {
    double sum = 0;
    for (Index r = 0; r < x.rows(); ++r) sum += x(r, c);
    CHECK(d.mean(0, c) == static_cast<Scalar>(sum / static_cast<double>(x.rows())));
  }
  REQUIRE(static_cast<Index>(d.indices.size()) == d.size());
  for (Index i = 0; i < d.size(); ++i) CHECK(d.indices[static_cast<std::size_t>(i)] == i);
}

}  // namespace

TEST_CASE("read_hdf5: [N, features] float32 with integer labels", "[hdf5_data]") {
  TempDir dir("lrp_test_hdf5_data");
  const std::string path = dir.file("table.h5");
  {
    File f = File::create(path);
    f.write("/x", std::vector<float>{0.5f, -1.0f, 2.0f, 3.0f, 4.0f, -5.5f}, {3, 2});
    f.write("/y", std::vector<std::int32_t>{2, 0, 7}, {3});
    f.write("/y_column", std::vector<std::uint8_t>{1, 1, 0}, {3, 1});
    f.write("/y_float", std::vector<double>{3.0, 0.0, 1.0}, {3});
  }
  const Dataset d = lrp::read_hdf5(path, "/x", "/y", Hdf5Layout::kNCHW);
  CHECK(d.inputs.shape == Shape{2});
  REQUIRE(d.size() == 3);
  CHECK(d.inputs.data(0, 0) == Scalar(0.5));
  CHECK(d.inputs.data(2, 1) == Scalar(-5.5));
  CHECK(d.labels == std::vector<Index>{2, 0, 7});
  CHECK(d.source == path + ":/x, " + path + ":/y");
  check_statistics(d);

  CHECK(lrp::read_hdf5(path, "x", "y_column", Hdf5Layout::kNHWC).labels == std::vector<Index>{1, 1, 0});
  CHECK(lrp::read_hdf5(path, "x", "/y_float", Hdf5Layout::kNCHW).labels == std::vector<Index>{3, 0, 1});
  const Dataset unlabelled = lrp::read_hdf5(path, "/x", "", Hdf5Layout::kNCHW, 2.0);
  CHECK(unlabelled.labels.empty());
  CHECK(unlabelled.source == path + ":/x");
  CHECK(unlabelled.inputs.data(1, 0) == Scalar(4.0));
}

TEST_CASE("read_hdf5: [N, H, W] uint8 becomes {1, H, W}, scaled like read_idx", "[hdf5_data]") {
  TempDir dir("lrp_test_hdf5_data");
  const std::string path = dir.file("gray.h5");
  std::vector<std::uint8_t> pixels(4 * 3 * 5);
  for (std::size_t i = 0; i < pixels.size(); ++i) pixels[i] = static_cast<std::uint8_t>((i * 37) % 256);
  {
    File f = File::create(path);
    f.write("/images", pixels, {4, 3, 5});
    f.write("/labels", std::vector<std::int64_t>{9, 8, 7, 6}, {4});
  }
  const Dataset d = lrp::read_hdf5(path, "/images", "/labels", Hdf5Layout::kNHWC, 1.0 / 255.0);
  CHECK(d.inputs.shape == Shape{1, 3, 5});
  REQUIRE(d.size() == 4);
  for (Index i = 0; i < 4 * 15; ++i) {
    const double pixel = pixels[static_cast<std::size_t>(i)];
    CHECK(d.inputs.data.data()[i] == static_cast<Scalar>(pixel * (1.0 / 255.0)));
  }
  CHECK(d.labels == std::vector<Index>{9, 8, 7, 6});
  check_statistics(d);
}

TEST_CASE("read_hdf5: rank 4 NCHW stays, NHWC is transposed to C, H, W", "[hdf5_data]") {
  TempDir dir("lrp_test_hdf5_data");
  const std::string path = dir.file("color.h5");
  const std::size_t N = 2, C = 3, H = 4, W = 5;
  // value(n, c, h, w) = 1000 n + 100 c + 10 h + w, stored in both orders.
  std::vector<double> nchw(N * C * H * W), nhwc(N * H * W * C);
  for (std::size_t n = 0; n < N; ++n)
    for (std::size_t c = 0; c < C; ++c)
      for (std::size_t h = 0; h < H; ++h)
        for (std::size_t w = 0; w < W; ++w) {
          const double v = 1000.0 * n + 100.0 * c + 10.0 * h + w;
          nchw[((n * C + c) * H + h) * W + w] = v;
          nhwc[((n * H + h) * W + w) * C + c] = v;
        }
  {
    File f = File::create(path);
    f.write("/nchw", nchw, {N, C, H, W});
    f.write("/nhwc", nhwc, {N, H, W, C});
  }
  const Dataset a = lrp::read_hdf5(path, "/nchw", "", Hdf5Layout::kNCHW);
  const Dataset b = lrp::read_hdf5(path, "/nhwc", "", Hdf5Layout::kNHWC);
  CHECK(a.inputs.shape == Shape{3, 4, 5});
  CHECK(b.inputs.shape == Shape{3, 4, 5});
  CHECK(bit_equal(a.inputs.data, b.inputs.data));
  CHECK(b.inputs.data(1, 2 * 20 + 3 * 5 + 4) == Scalar(1234));
  // The same NHWC array read as NCHW is a different ([N, 4, 5, 3]) sample shape.
  CHECK(lrp::read_hdf5(path, "/nhwc", "", Hdf5Layout::kNCHW).inputs.shape == Shape{4, 5, 3});
}

TEST_CASE("read_hdf5: large inputs are read in blocks, every value in place", "[hdf5_data]") {
  TempDir dir("lrp_test_hdf5_data");
  const std::string path = dir.file("large.h5");
  const std::size_t N = 2100, H = 10, W = 10, C = 10;  // more than 2^20 values: three blocks
  std::vector<std::uint8_t> pixels(N * H * W * C);
  for (std::size_t i = 0; i < pixels.size(); ++i) pixels[i] = static_cast<std::uint8_t>((i * 7919 + i / 1000) % 251);
  {
    File f = File::create(path);
    f.write("/images", pixels, {N, H, W, C});
  }
  const Dataset d = lrp::read_hdf5(path, "/images", "", Hdf5Layout::kNHWC, 0.5);
  REQUIRE(d.size() == static_cast<Index>(N));
  std::size_t wrong = 0;
  for (std::size_t n = 0; n < N; ++n)
    for (std::size_t h = 0; h < H; ++h)
      for (std::size_t w = 0; w < W; ++w)
        for (std::size_t c = 0; c < C; ++c) {
          const Scalar expected = static_cast<Scalar>(0.5 * pixels[((n * H + h) * W + w) * C + c]);
          if (d.inputs.data(static_cast<Index>(n), static_cast<Index>((c * H + h) * W + w)) != expected) ++wrong;
        }
  CHECK(wrong == 0);
}

TEST_CASE("read_hdf5: bad files and datasets are errors naming the file and the dataset", "[hdf5_data]") {
  TempDir dir("lrp_test_hdf5_data");
  const std::string path = dir.file("bad.h5");
  {
    File f = File::create(path);
    f.write("/x", std::vector<double>(12, 0.5), {3, 4});
    f.write("/vector", std::vector<double>(3, 0.5), {3});
    f.write("/rank5", std::vector<double>(32, 0.5), {2, 2, 2, 2, 2});
    f.write("/none", std::vector<double>{}, {0, 4});
    f.write("/zero_width", std::vector<double>{}, {3, 0});
    f.write_string("/text", "hello");
    f.write("/nan", std::vector<double>{0, 1, std::nan(""), 3}, {2, 2});
    f.write("/huge", std::vector<double>{0, 1e38, 2, 3}, {2, 2});
    f.write("/y_short", std::vector<std::int64_t>{0, 1}, {2});
    f.write("/y_negative", std::vector<std::int64_t>{0, -1, 2}, {3});
    f.write("/y_fraction", std::vector<double>{0, 1.5, 2}, {3});
    f.write("/y_matrix", std::vector<std::int64_t>(6, 1), {3, 2});
    f.write("/group/inner", std::vector<double>{1}, {1});
  }
  const auto read = [&](const std::string& inputs, const std::string& labels = "", double scale = 1.0) {
    return lrp::read_hdf5(path, inputs, labels, Hdf5Layout::kNCHW, scale);
  };
  const std::string where = "HDF5 data file '" + path + "': ";
  REQUIRE_THROWS_WITH(lrp::read_hdf5(dir.file("missing.h5"), "/x", "", Hdf5Layout::kNCHW),
                      Contains("cannot open HDF5 data file '" + dir.file("missing.h5") + "': no such file"));
  REQUIRE_THROWS_WITH(read("/images"),
                      Contains(where + "has no inputs dataset '/images' (its top level holds: /group, /huge, /nan"));
  REQUIRE_THROWS_WITH(read("/group"), Contains(where + "'/group' is a group; expected a dataset"));
  REQUIRE_THROWS_WITH(read("/vector"), Contains(where + "dataset '/vector' has shape [3]: rank 1; expected [N, "
                                                        "features], [N, H, W], or rank 4 ([N, C, H, W] for layout NCHW)"));
  REQUIRE_THROWS_WITH(read("/rank5"), Contains("dataset '/rank5' has shape [2, 2, 2, 2, 2]: rank 5"));
  REQUIRE_THROWS_WITH(read("/none"), Contains("dataset '/none' has shape [0, 4]: it holds no samples"));
  REQUIRE_THROWS_WITH(read("/zero_width"), Contains("dataset '/zero_width' has shape [3, 0]: a sample has an extent 0"));
  REQUIRE_THROWS_WITH(read("/text"), Contains(where + "inputs dataset '/text' has type string (fixed length); "
                                                      "expected numbers"));
  REQUIRE_THROWS_WITH(read("/nan"), Contains(where + "inputs dataset '/nan': sample 1 holds a non-finite value"));
  REQUIRE_THROWS_WITH(read("/x", "", 0.0), Contains("scale must be finite and > 0"));
  if (!kFloat64)
    REQUIRE_THROWS_WITH(read("/huge", "", 10.0), Contains("sample 0 holds 1e+38, which times scale 10 overflows float32"));
  else
    CHECK(read("/huge", "", 10.0).value_max == Scalar(1e39));
  REQUIRE_THROWS_WITH(read("/x", "/y_short"), Contains(where + "labels dataset '/y_short' has 2 labels, but inputs "
                                                               "dataset '/x' has 3 samples"));
  REQUIRE_THROWS_WITH(read("/x", "/y_negative"), Contains("labels dataset '/y_negative': label 1 is -1; expected a "
                                                          "class index (a whole number ≥ 0)"));
  REQUIRE_THROWS_WITH(read("/x", "/y_fraction"), Contains("labels dataset '/y_fraction': label 1 is 1.5; expected a "
                                                          "class index (a whole number ≥ 0)"));
  REQUIRE_THROWS_WITH(read("/x", "/y_matrix"), Contains("labels dataset '/y_matrix' has shape [3, 2]; expected [N] or "
                                                        "[N, 1]"));
  REQUIRE_THROWS_WITH(read("/x", "/text"), Contains("labels dataset '/text' has shape []; expected [N] or [N, 1]"));
  REQUIRE_THROWS_WITH(read("/x", "/nolabels"), Contains(where + "has no labels dataset '/nolabels'"));
}

TEST_CASE("read_hdf5: h5py's uint8 NHWC images through the h5py-written model give PyTorch's logits",
          "[hdf5_data][fixture]") {
  const std::string data = kFixtures + "data_nhwc.h5";
  const Dataset d = lrp::read_hdf5(data, "/images", "/labels", Hdf5Layout::kNHWC, 1.0 / 255.0);
  CHECK(d.inputs.shape == Shape{3, 8, 8});
  REQUIRE(d.size() == 6);
  CHECK(d.labels == std::vector<Index>{4, 0, 3, 1, 2, 4});
  CHECK(d.value_min >= 0);
  CHECK(d.value_max <= 1);

  const lrp::Model model = lrp::load_model(kFixtures + "model.h5", builtins());
  Dims dims;
  const std::vector<double> torch_logits = File::open(data).read<double>("/logits", &dims);
  REQUIRE(dims == Dims{6, 5});
  const Eigen::MatrixXd expected =
      Eigen::Map<const Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>>(torch_logits.data(), 6, 5);
  const double error = relative_error(model.network.forward(d.inputs).logits(), expected);
  INFO("max relative error against PyTorch: " << error);
  CHECK(error <= tol(1e-5, 1e-10));
}
