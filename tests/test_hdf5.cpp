// The HDF5 wrapper (lrp/io/hdf5.hpp): what it writes reads back exactly, it reads what h5py writes
// (tests/fixtures/hdf5/reference.h5: every string storage, one-element arrays, unsigned and enum
// attributes), and every failure is an lrp::Error naming the file and the object — with nothing
// printed by HDF5 itself.
#include "lrp/core/error.hpp"
#include "lrp/io/hdf5.hpp"

#include "hdf5_damage.hpp"
#include "temp_dir.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdint>
#include <limits>
#include <stdexcept>
#include <string>
#include <vector>

#include <fcntl.h>
#include <unistd.h>

using Catch::Contains;
using lrp::h5::Dims;
using lrp::h5::File;
using lrp_test::TempDir;

namespace {

const std::string kReference = std::string(LRP_TEST_FIXTURES) + "/hdf5/reference.h5";

// Redirects the process's stderr (file descriptor 2) into a file while alive.
class StderrCapture {
 public:
  explicit StderrCapture(std::string path) : path_(std::move(path)) {
    std::fflush(stderr);
    saved_ = ::dup(2);
    const int fd = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    REQUIRE(fd >= 0);
    ::dup2(fd, 2);
    ::close(fd);
  }
  ~StderrCapture() { restore(); }
  StderrCapture(const StderrCapture&) = delete;
  StderrCapture& operator=(const StderrCapture&) = delete;
  std::string text() {
    restore();
    const std::vector<char> bytes = lrp_test::read_file_bytes(path_);
    return std::string(bytes.begin(), bytes.end());
  }

 private:
  void restore() {
    if (saved_ < 0) return;
    std::fflush(stderr);
    ::dup2(saved_, 2);
    ::close(saved_);
    saved_ = -1;
  }
  std::string path_;
  int saved_ = -1;
};

}  // namespace

TEST_CASE("HDF5: numeric datasets of every stored type read back exactly, in nested groups", "[hdf5]") {
  TempDir dir("lrp_test_hdf5");
  const std::string path = dir.file("numbers.h5");
  const std::vector<double> d{0.1, -2.5, 1e300, 3.0, -0.0, 7.25};
  const std::vector<float> f{0.1f, -2.5f, 3.0f, 1e30f};
  const std::vector<std::int64_t> i{-9007199254740993LL, 0, 42, std::numeric_limits<std::int64_t>::max()};
  const std::vector<std::int32_t> i32{-5, 6, 7};
  const std::vector<std::uint8_t> u8{0, 1, 128, 255, 17, 3};
  {
    File file = File::create(path);
    REQUIRE(file.writable());
    file.write("/a/b/doubles", d, {2, 3});
    file.write("floats", f, {4});
    file.write("/ints/i64", i, {2, 2});
    file.write("/ints/i32", i32, {3});
    file.write("/bytes", u8, {1, 2, 3});
    const double scalar = 4.5;
    file.write("/scalar", &scalar, Dims{});
    file.write<double>("/empty", nullptr, {0, 5});
    file.create_group("/x/y/z");
    file.create_group("/x/y");  // an existing group is fine
    file.close();
  }
  const File file = File::open(path);
  REQUIRE_FALSE(file.writable());

  Dims shape;
  CHECK(file.read<double>("/a/b/doubles", &shape) == d);
  CHECK(shape == Dims{2, 3});
  CHECK(file.read<float>("/floats") == f);
  CHECK(file.read<std::int64_t>("/ints/i64") == i);
  CHECK(file.read<std::int64_t>("/ints/i32") == std::vector<std::int64_t>{-5, 6, 7});
  CHECK(file.read<double>("bytes") == std::vector<double>{0, 1, 128, 255, 17, 3});
  CHECK(file.read<std::int64_t>("/bytes", &shape) == std::vector<std::int64_t>{0, 1, 128, 255, 17, 3});
  CHECK(shape == Dims{1, 2, 3});
  CHECK(file.read<double>("/scalar", &shape) == std::vector<double>{4.5});
  CHECK(shape.empty());
  CHECK(file.read<double>("/empty", &shape).empty());
  CHECK(shape == Dims{0, 5});
  // float32 → float64 and back is exact.
  const std::vector<double> widened = file.read<double>("/floats");
  for (std::size_t k = 0; k < f.size(); ++k) CHECK(widened[k] == static_cast<double>(f[k]));

  const lrp::h5::DatasetInfo info = file.dataset_info("/bytes");
  CHECK(info.type.name() == "uint8");
  CHECK(info.elements() == 6);
  CHECK(file.dataset_info("/a/b/doubles").type.name() == "float64");
  CHECK(file.dataset_info("/floats").type.name() == "float32");
  CHECK(file.dataset_info("/ints/i32").type.name() == "int32");

  // The build's scalar type, with the shape checked.
  const std::vector<lrp::Scalar> scalars = file.read_scalars("/ints/i32", {3});
  CHECK(scalars == std::vector<lrp::Scalar>{-5, 6, 7});
  REQUIRE_THROWS_WITH(file.read_scalars("/ints/i64", {4}),
                      Contains("HDF5 file '" + path + "': dataset '/ints/i64' has shape [2, 2], expected [4]"));

  // Rows of the outermost dimension.
  std::vector<double> rows(3);
  file.read_rows<double>("/a/b/doubles", 1, 1, rows.data());
  CHECK(rows == std::vector<double>{3.0, -0.0, 7.25});
  std::vector<std::int64_t> none;
  file.read_rows<std::int64_t>("/ints/i64", 2, 0, none.data());  // an empty range at the end is fine
  REQUIRE_THROWS_WITH(file.read_rows<double>("/a/b/doubles", 1, 2, rows.data()),
                      Contains("cannot read rows [1, 3) of dataset '/a/b/doubles' of shape [2, 3]"));
  REQUIRE_THROWS_WITH(file.read_rows<double>("/scalar", 0, 1, rows.data()), Contains("'/scalar' is a scalar"));
}

TEST_CASE("HDF5: groups, existence and listing", "[hdf5]") {
  TempDir dir("lrp_test_hdf5");
  const std::string path = dir.file("tree.h5");
  {
    File file = File::create(path);
    const std::vector<double> v{1, 2};
    file.write("/w/conv1/weight", v, {2});
    file.write("/w/conv1/bias", v, {2});
    file.write("/w/fc/weight", v, {1, 2});
    file.create_group("/empty");
    file.write("/top", v, {2});
    file.remove("/w/fc/weight");
    REQUIRE_THROWS_WITH(file.remove("/w/fc/nothing"), Contains("cannot remove '/w/fc/nothing': it does not exist"));
    REQUIRE_THROWS_WITH(file.create_group("/top"), Contains("cannot create group '/top': it exists and is a dataset"));
    REQUIRE_THROWS_WITH(file.write("/top", v, {2}), Contains("cannot write dataset '/top': it exists already"));
    REQUIRE_THROWS_WITH(file.write("/short", v, {3}), Contains("2 values for shape [3] (3 elements)"));
  }
  const File file = File::open(path, "test file");
  CHECK(file.exists("/"));
  CHECK(file.exists(""));
  CHECK(file.exists("/w/conv1/weight"));
  CHECK(file.exists("w/conv1"));
  CHECK_FALSE(file.exists("/w/fc/weight"));
  CHECK_FALSE(file.exists("/nothing/deeper/still"));
  CHECK_FALSE(file.exists("/top/under_a_dataset"));
  CHECK(file.kind("/w") == lrp::h5::ObjectKind::kGroup);
  CHECK(file.kind("/top") == lrp::h5::ObjectKind::kDataset);
  CHECK(file.kind("/nope") == lrp::h5::ObjectKind::kMissing);
  CHECK(file.children("/") == std::vector<std::string>{"empty", "top", "w"});
  CHECK(file.children("/w") == std::vector<std::string>{"conv1", "fc"});
  CHECK(file.children("/w/conv1") == std::vector<std::string>{"bias", "weight"});
  CHECK(file.children("/empty").empty());
  REQUIRE_THROWS_WITH(file.children("/nope"), Contains("test file '" + path + "': has no group '/nope'"));
  REQUIRE_THROWS_WITH(file.children("/top"), Contains("'/top' is a dataset; expected a group"));
  REQUIRE_THROWS_WITH(file.read<double>("/w"), Contains("'/w' is a group; expected a dataset"));
  REQUIRE_THROWS_WITH(file.read<double>("/w/missing"), Contains("test file '" + path + "': has no dataset '/w/missing'"));
}

TEST_CASE("HDF5: strings and attributes read back, variable and fixed length", "[hdf5]") {
  TempDir dir("lrp_test_hdf5");
  const std::string path = dir.file("attrs.h5");
  const std::string utf8 = "Größe ✓ — relevance";
  const std::string yaml = "name: m\nlayers:\n  - {kind: relu}\n";
  {
    File file = File::create(path);
    const std::vector<float> v{1, 2};
    file.write("/data", v, {2});
    file.write_string("/text", yaml, lrp::h5::StringStorage::kVariable);
    file.write_string("/fixed_text", utf8);
    file.write_string("/empty_text", "", lrp::h5::StringStorage::kVariable);
    file.write_string("/empty_fixed_text", "");
    file.set_string_attribute("/", "format", "lrplab-model", lrp::h5::StringStorage::kVariable);
    file.set_string_attribute("/", "utf8", utf8, lrp::h5::StringStorage::kVariable);
    file.set_string_attribute("/", "fixed", utf8);
    file.set_string_attribute("/", "empty", "", lrp::h5::StringStorage::kVariable);
    file.set_string_attribute("/", "empty_fixed", "");
    file.set_double_attribute("/data", "scale", 0.125);
    file.set_int_attribute("/data", "count", -7);
    file.set_uint_attribute("/", "seed", std::numeric_limits<std::uint64_t>::max());
    file.set_double_attribute("/", "whole", 12.0);
    file.set_double_attribute("/", "half", 2.5);
    file.set_int_attribute("/", "negative", -3);
    file.set_int_attribute("/", "replaced", 1);
    file.set_string_attribute("/", "replaced", "now a string");
    REQUIRE_THROWS_WITH(file.set_double_attribute("/missing", "x", 1.0), Contains("has no object '/missing'"));
  }
  const File file = File::open(path, "attribute file");
  CHECK(file.read_string("/text") == yaml);
  CHECK(file.read_string("/fixed_text") == utf8);
  CHECK(file.read_string("/empty_text").empty());
  CHECK(file.read_string("/empty_fixed_text").empty());
  CHECK(file.attribute_type("/", "fixed").name() == "string (fixed length)");
  CHECK(file.attribute_type("/", "utf8").name() == "string (variable length)");
  CHECK(file.string_attribute("/", "format") == "lrplab-model");
  CHECK(file.string_attribute("/", "utf8") == utf8);
  CHECK(file.string_attribute("/", "fixed") == utf8);
  CHECK(file.string_attribute("/", "empty").empty());
  CHECK(file.string_attribute("/", "empty_fixed").empty());
  CHECK(file.string_attribute("/", "replaced") == "now a string");
  CHECK(file.double_attribute("/data", "scale") == 0.125);
  CHECK(file.int_attribute("/data", "count") == -7);
  CHECK(file.double_attribute("/data", "count") == -7.0);
  CHECK(file.uint_attribute("/", "seed") == std::numeric_limits<std::uint64_t>::max());
  CHECK(file.int_attribute("/", "whole") == 12);
  CHECK(file.uint_attribute("/", "whole") == 12);
  CHECK(file.has_attribute("/data", "scale"));
  CHECK_FALSE(file.has_attribute("/data", "nope"));
  CHECK(file.attribute_names("/data") == std::vector<std::string>{"count", "scale"});
  CHECK(file.attribute_type("/", "format").type_class == lrp::h5::TypeClass::kString);
  CHECK(file.attribute_type("/", "seed").name() == "uint64");

  const std::string where = "attribute file '" + path + "': ";
  REQUIRE_THROWS_WITH(file.string_attribute("/", "nope"), Contains(where + "has no root attribute 'nope'"));
  REQUIRE_THROWS_WITH(file.double_attribute("/data", "nope"), Contains("has no attribute 'nope' of '/data'"));
  REQUIRE_THROWS_WITH(file.double_attribute("/", "format"),
                      Contains(where + "root attribute 'format' has type string (variable length); expected a number"));
  REQUIRE_THROWS_WITH(file.string_attribute("/data", "scale"),
                      Contains("attribute 'scale' of '/data' has type float64; expected a string"));
  REQUIRE_THROWS_WITH(file.int_attribute("/", "half"), Contains("root attribute 'half' is 2.5; expected a whole number"));
  REQUIRE_THROWS_WITH(file.int_attribute("/", "seed"),
                      Contains("root attribute 'seed' is 18446744073709551615; expected an integer within int64"));
  REQUIRE_THROWS_WITH(file.uint_attribute("/", "negative"),
                      Contains("root attribute 'negative' is -3; expected a whole number ≥ 0"));
  REQUIRE_THROWS_WITH(file.read_string("/data"), Contains("dataset '/data' has type float32; expected a string"));
  REQUIRE_THROWS_WITH(file.read<double>("/text"),
                      Contains("dataset '/text' has type string (variable length); expected numbers"));
}

TEST_CASE("HDF5: reads the string and number storages h5py writes", "[hdf5][fixture]") {
  const File file = File::open(kReference, "reference file");
  CHECK(file.string_attribute("/", "s_vlen_utf8") == "Größe ✓");
  CHECK(file.string_attribute("/", "s_vlen_ascii") == "plain");
  CHECK(file.string_attribute("/", "s_fixed_nullpad") == "fixed");
  CHECK(file.string_attribute("/", "s_fixed_spacepad") == "padded");
  CHECK(file.read_string("/text_fixed") == "fixed dataset");
  CHECK(file.read_string("/text_vlen") == "variable dataset ✓");
  CHECK(file.int_attribute("/", "one_element") == 7);
  CHECK(file.double_attribute("/", "one_element") == 7.0);
  CHECK(file.uint_attribute("/", "unsigned") == (std::uint64_t{1} << 63) + 5);
  CHECK(file.int_attribute("/", "whole_float") == 3);
  REQUIRE_THROWS_WITH(file.double_attribute("/", "flag"),
                      Contains("root attribute 'flag' has type enum; expected a number"));
  CHECK(file.dataset_info("/inputs").shape == Dims{4, 3, 8, 8});
  CHECK(file.dataset_info("/logits").type.name() == "float64");
}

TEST_CASE("HDF5: values outside the target type's range are an error, never clipped", "[hdf5]") {
  TempDir dir("lrp_test_hdf5");
  const std::string path = dir.file("range.h5");
  {
    File file = File::create(path);
    const std::vector<double> big{1.0, 1e300};
    file.write("/big", big, {2});
    const std::vector<double> special{std::numeric_limits<double>::infinity(), std::nan("")};
    file.write("/special", special, {2});
  }
  const File file = File::open(path, "range file");
  REQUIRE_THROWS_WITH(file.read<std::int64_t>("/big"),
                      Contains("range file '" + path + "': dataset '/big' has type float64; expected an integer type"));
  REQUIRE_THROWS_WITH(file.read<float>("/big"),
                      Contains("dataset '/big' holds float64 values outside the range of float32"));
  const std::vector<float> special = file.read<float>("/special");  // Inf and NaN stay what they are
  CHECK(std::isinf(special[0]));
  CHECK(std::isnan(special[1]));
}

TEST_CASE("HDF5: opening a missing, foreign, truncated or corrupt file is an error naming it", "[hdf5]") {
  TempDir dir("lrp_test_hdf5");
  REQUIRE_THROWS_WITH(File::open(dir.file("absent.h5"), "model file"),
                      Contains("cannot open model file '" + dir.file("absent.h5") + "': no such file"));
  REQUIRE_THROWS_WITH(File::open(dir.file(""), "model file"), Contains("is a directory"));

  lrp_test::write_file_bytes(dir.file("text.h5"), {'n', 'o', 't', ' ', 'h', 'd', 'f', '5', '\n'});
  REQUIRE_THROWS_WITH(File::open(dir.file("text.h5"), "model file"),
                      Contains("model file '" + dir.file("text.h5") + "' is not an HDF5 file"));
  lrp_test::write_file_bytes(dir.file("empty.h5"), {});
  REQUIRE_THROWS_WITH(File::open(dir.file("empty.h5")), Contains("is not an HDF5 file"));

  const lrp_test::DamagedHdf5Scope damaged_files;
  const std::vector<char> good = lrp_test::read_file_bytes(kReference);
  REQUIRE(good.size() > 4000);
  lrp_test::write_file_bytes(dir.file("truncated.h5"), std::vector<char>(good.begin(), good.begin() + 2000));
  REQUIRE_THROWS_WITH(File::open(dir.file("truncated.h5"), "model file"),
                      Contains("cannot open model file '" + dir.file("truncated.h5") + "'") &&
                          Contains("the HDF5 file is truncated or corrupt: it has 2000 bytes, but its superblock says it "
                                   "ends at byte " + std::to_string(good.size())));

  // Damaged metadata: the superblock's root group address points past the end of the file.
  std::vector<char> damaged = good;
  for (std::size_t k = 64; k < 72; ++k) damaged[k] = '\x7f';
  lrp_test::write_file_bytes(dir.file("damaged.h5"), damaged);
  REQUIRE_THROWS_WITH(File::open(dir.file("damaged.h5"), "model file"),
                      Contains("model file '" + dir.file("damaged.h5") + "'") && Contains("truncated or corrupt"));

  // Writing needs a directory that exists.
  REQUIRE_THROWS_WITH(File::create(dir.file("no/such/dir/x.h5"), "results file"),
                      Contains("cannot create results file '" + dir.file("no/such/dir/x.h5") + "': directory '" +
                               dir.file("no/such/dir") + "' does not exist"));
}

TEST_CASE("HDF5: written data is checksummed - a damaged chunk is reported", "[hdf5]") {
  TempDir dir("lrp_test_hdf5");
  const std::string path = dir.file("chunked.h5");
  const std::vector<double> values(200 * 100, 1234.5678);  // 160 KB: chunked, Fletcher-32
  {
    File file = File::create(path);
    file.write("/big", values, {200, 100});
  }
  CHECK(File::open(path).read<double>("/big") == values);
  std::vector<char> bytes = lrp_test::read_file_bytes(path);
  const double marker = 1234.5678;
  const char* m = reinterpret_cast<const char*>(&marker);
  const auto at = std::search(bytes.begin(), bytes.end(), m, m + sizeof marker);
  REQUIRE(at != bytes.end());
  *(at + 8 * 5000 + 3) ^= 0x10;  // one bit of a value in the middle of the data
  lrp_test::write_file_bytes(path, bytes);
  const lrp_test::DamagedHdf5Scope damaged_file;
  REQUIRE_THROWS_WITH(File::open(path, "results file").read<double>("/big"),
                      Contains("results file '" + path + "': cannot read dataset '/big' (the file is corrupt; HDF5:"));
}

TEST_CASE("HDF5: a read-only file refuses writes", "[hdf5]") {
  File writable = File::open(kReference);
  const std::vector<double> v{1};
  REQUIRE_THROWS_WITH(writable.write("/new", v, {1}), Contains("cannot write dataset '/new': the file is open read-only"));
  REQUIRE_THROWS_WITH(writable.set_int_attribute("/", "x", 1), Contains("the file is open read-only"));
  REQUIRE_THROWS_WITH(writable.create_group("/g"), Contains("the file is open read-only"));
}

TEST_CASE("HDF5: an existing file can be opened for writing", "[hdf5]") {
  TempDir dir("lrp_test_hdf5");
  const std::string path = dir.file("update.h5");
  {
    File file = File::create(path);
    file.set_int_attribute("/", "version", 1);
  }
  {
    File file = File::open_for_writing(path);
    file.set_int_attribute("/", "version", 2);
    const std::vector<std::int64_t> v{5};
    file.write("/added", v, {1});
  }
  const File file = File::open(path);
  CHECK(file.int_attribute("/", "version") == 2);
  CHECK(file.read<std::int64_t>("/added") == std::vector<std::int64_t>{5});
}

TEST_CASE("HDF5: failures print nothing on stderr (HDF5's error stack printing is off)", "[hdf5]") {
  TempDir dir("lrp_test_hdf5");
  const std::string path = dir.file("quiet.h5");
  {
    File file = File::create(path);
    const std::vector<double> v{1, 2};
    file.write("/data", v, {2});
  }
  std::string printed;
  {
    StderrCapture capture(dir.file("stderr.txt"));
    const File file = File::open(path);
    CHECK_THROWS_AS(file.read<double>("/missing/deeper"), lrp::Error);
    CHECK_THROWS_AS(file.string_attribute("/data", "nope"), lrp::Error);
    CHECK_THROWS_AS(file.children("/data"), lrp::Error);
    CHECK_FALSE(file.exists("/data/x/y"));
    lrp_test::write_file_bytes(dir.file("bad.h5"), {'\x89', 'H', 'D', 'F', '\r', '\n', '\x1a', '\n', 0, 0});
    CHECK_THROWS_AS(File::open(dir.file("bad.h5")), lrp::Error);
    printed = capture.text();
  }
  CHECK(printed.empty());
}

TEST_CASE("HDF5: atomic writes leave the old file or the complete new one, never a temporary", "[hdf5]") {
  TempDir dir("lrp_test_hdf5");
  const std::string path = dir.file("results.h5");
  lrp::h5::write_atomically(path, "results file", [&path](File& file) {
    file.set_int_attribute("/", "round", 1);
    CHECK(file.path() == path);  // messages name the final path
  });
  CHECK(dir.listing() == std::vector<std::string>{"results.h5"});
  CHECK(File::open(path).int_attribute("/", "round") == 1);

  // A failure while filling: the old file stays, the temporary is removed, the error passes on.
  REQUIRE_THROWS_WITH(lrp::h5::write_atomically(path, "results file",
                                                [](File& file) {
                                                  file.set_int_attribute("/", "round", 2);
                                                  file.fail("something went wrong");
                                                }),
                      Contains("results file '" + path + "': something went wrong"));
  CHECK(dir.listing() == std::vector<std::string>{"results.h5"});
  CHECK(File::open(path).int_attribute("/", "round") == 1);
  REQUIRE_THROWS_AS(lrp::h5::write_atomically(path, "results file", [](File&) { throw std::runtime_error("boom"); }),
                    std::runtime_error);
  CHECK(dir.listing() == std::vector<std::string>{"results.h5"});

  lrp::h5::write_atomically(path, "results file", [](File& file) { file.set_int_attribute("/", "round", 3); });
  CHECK(File::open(path).int_attribute("/", "round") == 3);
  CHECK(dir.listing() == std::vector<std::string>{"results.h5"});

  REQUIRE_THROWS_WITH(lrp::h5::write_atomically(dir.file("missing/r.h5"), "results file", [](File&) {}),
                      Contains("cannot write results file '" + dir.file("missing/r.h5") + "'") &&
                          Contains("does not exist"));
}

TEST_CASE("HDF5: no identifier stays open, after success or failure", "[hdf5]") {
  using lrp_test::open_hdf5_objects;
  REQUIRE(open_hdf5_objects() == 0);
  TempDir dir("lrp_test_hdf5");
  const std::string path = dir.file("ids.h5");
  {
    File file = File::create(path);
    file.write("/g/values", std::vector<double>(10000, 0.5), {100, 100});  // chunked
    file.write("/g/small", std::vector<std::int64_t>{1, 2}, {2});
    file.write_string("/fixed", "text");
    file.write_string("/variable", "text", lrp::h5::StringStorage::kVariable);
    file.set_string_attribute("/g", "a", "x", lrp::h5::StringStorage::kVariable);
    file.set_string_attribute("/g", "a", "y");
    file.set_double_attribute("/g/small", "d", 1.5);
    file.set_uint_attribute("/", "u", 3);
    file.create_group("/h/i");
    file.remove("/h");
    CHECK_THROWS_AS(file.write("/g/small", std::vector<double>{1}, {1}), lrp::Error);
    CHECK(open_hdf5_objects() == 1);  // the file itself
    file.close();
    CHECK(open_hdf5_objects() == 0);
  }
  {
    const File file = File::open(path);
    CHECK(file.read<float>("/g/values").size() == 10000);
    std::vector<double> row(100);
    file.read_rows<double>("/g/values", 3, 1, row.data());
    CHECK(file.read_string("/fixed") == "text");
    CHECK(file.read_string("/variable") == "text");
    CHECK(file.string_attribute("/g", "a") == "y");
    CHECK(file.double_attribute("/g/small", "d") == 1.5);
    CHECK(file.int_attribute("/", "u") == 3);
    CHECK(file.children("/g").size() == 2);
    CHECK(file.attribute_names("/g").size() == 1);
    CHECK(file.kind("/g") == lrp::h5::ObjectKind::kGroup);
    CHECK_FALSE(file.exists("/g/values/x"));
    CHECK_THROWS_AS(file.read<std::int64_t>("/g/values"), lrp::Error);
    CHECK_THROWS_AS(file.read<double>("/fixed"), lrp::Error);
    CHECK_THROWS_AS(file.read_string("/g/small"), lrp::Error);
    CHECK_THROWS_AS(file.string_attribute("/g/small", "d"), lrp::Error);
    CHECK_THROWS_AS(file.double_attribute("/g", "a"), lrp::Error);
    CHECK_THROWS_AS(file.int_attribute("/g/small", "d"), lrp::Error);
    CHECK_THROWS_AS(file.children("/g/small"), lrp::Error);
    CHECK_THROWS_AS(file.read_scalars("/g/small", {3}), lrp::Error);
    CHECK(open_hdf5_objects() == 1);
  }
  CHECK(open_hdf5_objects() == 0);
  {
    const lrp_test::DamagedHdf5Scope damaged_files;
    std::vector<char> bytes = lrp_test::read_file_bytes(path);
    lrp_test::write_file_bytes(dir.file("short.h5"), std::vector<char>(bytes.begin(), bytes.begin() + 600));
    CHECK_THROWS_AS(File::open(dir.file("short.h5")), lrp::Error);
    for (std::size_t k = 36; k < 44; ++k) bytes[k] ^= 0x20;
    lrp_test::write_file_bytes(dir.file("damaged.h5"), bytes);
    CHECK_THROWS_AS(File::open(dir.file("damaged.h5")), lrp::Error);
  }
  CHECK(open_hdf5_objects() == 0);
}

TEST_CASE("HDF5: shape helpers", "[hdf5]") {
  CHECK(lrp::h5::to_string(Dims{16, 1, 3, 3}) == "[16, 1, 3, 3]");
  CHECK(lrp::h5::to_string(Dims{}) == "[]");
  CHECK(lrp::h5::element_count(Dims{}) == 1);
  CHECK(lrp::h5::element_count(Dims{2, 0}) == 0);
  CHECK(lrp::h5::to_dims({2, 3}) == Dims{2, 3});
  CHECK(lrp::h5::to_index_shape(Dims{4, 5}) == std::vector<lrp::Index>{4, 5});
  REQUIRE_THROWS_WITH(lrp::h5::to_dims({2, -1}), Contains("negative"));
  CHECK(lrp::h5::absolute_path("a/b") == "/a/b");
  CHECK(lrp::h5::absolute_path("") == "/");
}
