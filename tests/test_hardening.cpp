// Hardening: every finding of the robustness audit reproduced as a test, each now a clear error (or
// a warning) instead of a crash, a hang, runaway memory, a destroyed file or a silent wrong result.
// Special files are made in temporary folders (mkfifo, mknod), never the machine's own /dev nodes.
#include "experiment_support.hpp"
#include "run_command.hpp"
#include "temp_dir.hpp"
#include "test_util.hpp"

#include "lrp/io/onnx.hpp"
#include "lrp/io/model_file.hpp"
#include "lrp/io/model_yaml.hpp"
#include "lrp/experiment/config.hpp"
#include "lrp/experiment/experiment.hpp"
#include "lrp/core/files.hpp"
#include "lrp/io/hdf5.hpp"
#include "lrp/core/limits.hpp"
#include "lrp/nn/model.hpp"
#include "lrp/registry/plugin.hpp"

#include <catch2/catch.hpp>
#include <spdlog/sinks/ostream_sink.h>

#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <filesystem>
#include <fstream>
#include <limits>
#include <sstream>

using namespace lrp_test;
using Catch::Contains;
namespace fs = std::filesystem;

namespace {

// A folder for one test's files, with config templates whose "@DIR@" is the folder.
class Env {
 public:
  std::string file(const std::string& name) const { return dir_.file(name); }
  const std::string& folder() const { return folder_; }
  std::string write(const std::string& name, const std::string& text) const {
    std::ofstream(file(name)) << replace_all(text, "@DIR@", folder_);
    return file(name);
  }

 private:
  TempDir dir_{"lrp_hardening"};
  std::string folder_ = fs::path(dir_.file("x")).parent_path().string();
};


// Runs the lrplab program; returns its output, with its exit code in `code` (-1: killed by a signal).
std::string lrplab(const std::string& arguments, int& code) {
  int status = 0;
  const std::string out = run_command(std::string(LRPLAB_EXE) + " " + arguments, status);
  code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return out;
}

// The warnings the library logs while the object lives.
class WarningCapture {
 public:
  WarningCapture() : sink_(std::make_shared<spdlog::sinks::ostream_sink_mt>(text_)) {
    sink_->set_level(spdlog::level::warn);
    lrp::logger()->sinks().push_back(sink_);
  }
  ~WarningCapture() {
    auto& sinks = lrp::logger()->sinks();
    sinks.erase(std::remove(sinks.begin(), sinks.end(), sink_), sinks.end());
  }
  std::string text() const { return text_.str(); }

 private:
  std::ostringstream text_;
  std::shared_ptr<spdlog::sinks::ostream_sink_mt> sink_;
};

// A small experiment on synthetic data for tiny_model().
const std::string kSyntheticData = "data: {format: synthetic, shape: [1, 2, 2], count: 6, classes: 2}";
const std::string kSmallRun = R"(seed: 1
data: {format: synthetic, shape: [1, 2, 2], count: 6, classes: 2}
model: {file: @DIR@/model.h5}
explain: [gradient]
evaluate: {conservation: true}
output: {results: @DIR@/out/results.h5}
)";

// A tiny dense model [1, 2, 2] → 2 classes; weights w everywhere, biases 0.
lrp::Model tiny_model(Scalar w) {
  lrp::ModelSpec spec;
  spec.name = "tiny";
  spec.input_shape = {1, 2, 2};
  spec.normalization.std = {0.25};
  spec.layers = {{"flatten", "flat", {}}, {"dense", "fc1", {{"out", {4}}}}, {"relu", "relu", {}},
                 {"dense", "fc2", {{"out", {2}}}}};
  lrp::Model model = lrp::build_model(spec, builtins());
  for (const char* name : {"fc1", "fc2"}) {
    lrp::Layer& layer = model.network.layer(model.network.index_of(name));
    lrp::Params p = layer.params();
    p.weight.setConstant(w);
    p.bias.setZero();
    layer.set_params(p);
  }
  model.provenance.source = "test";
  return model;
}

lrp::ExperimentConfig read_config(const std::string& path, const std::vector<std::string>& overrides = {}) {
  return lrp::read_experiment_config(path, overrides, builtins());
}

}  // namespace

// ---------------------------------------------------------------- 1. crash: double free

TEST_CASE("A model whose layers would need more memory than the limit is refused before it is allocated",
          "[hardening]") {
  // A 1×1 convolution with padding 10^6, then global average pooling: a plane of 2,000,008² values
  // and a pooling kernel as large (once: a failed allocation, then a double free).
  const std::string yaml = R"(name: padded
input_shape: [1, 8, 8]
layers:
  - {kind: conv2d, name: wide, out_channels: 1, kernel: 1, padding: 1000000}
  - {kind: global_avgpool, name: pool}
  - {kind: flatten}
  - {kind: dense, out: 2}
)";
  Env env;
  const std::string path = env.write("padded.yaml", yaml);
  const std::string m = error_of([&] { (void)lrp::open_model(path, builtins()); });
  CHECK_THAT(m, Contains("'pool'") && Contains("limits.memory") && Contains("more than the limit"));
  // The same through the program: exit code 1, the message, no crash.
  int code = 0;
  const std::string out = lrplab("model " + path, code);
  CHECK(code == 1);
  CHECK_THAT(out, Contains("error: ") && Contains("limits.memory"));
  // A dense layer of 10^6 × 10^6 (4 TB): refused naming the layer, with the estimate.
  const std::string huge = env.write("huge.yaml", "input_shape: [1000000]\nlayers: [{kind: dense, name: big, out: 1000000}]\n");
  CHECK_THAT(error_of([&] { (void)lrp::open_model(huge, builtins()); }),
             Contains("'big'") && Contains("TiB") && Contains("limits.memory"));
  // Within the limit the same padded model builds (a small padding), and its pooling weights are the
  // uniform kernel of its plane.
  const std::string small = env.write("small.yaml", replace_all(yaml, "1000000", "3"));
  const lrp::Model model = lrp::open_model(small, builtins());
  const lrp::Layer& pool = model.network.layer(1);
  CHECK(pool.params().weight.size() == 14 * 14);
  CHECK(pool.params().weight(0, 0) == Scalar(1) / Scalar(196));
}

TEST_CASE("The limit is the config's: a model within a larger limit loads, the same model above a smaller one is "
          "refused", "[hardening]") {
  lrp::ModelSpec spec;
  spec.input_shape = {4096};
  spec.layers = {{"dense", "fc", {{"out", {1024}}}}};  // 4M weights, 64 MiB with working copies
  lrp::Limits small;
  small.memory = 16 << 20;
  CHECK_THAT(error_of([&] { (void)lrp::build_model(spec, builtins(), small); }), Contains("'fc'") && Contains("16 MiB"));
  lrp::Limits large;
  large.memory = 1 << 30;
  CHECK(lrp::build_model(spec, builtins(), large).network.layer(0).params().weight.size() == 4096 * 1024);
}

// ---------------------------------------------------------------- 2. crash: overflowing shapes

TEST_CASE("Shapes whose element count overflows are errors, in configs, data and tensors", "[hardening]") {
  Env env;
  const std::string path = env.write("syn.yaml", replace_all(kSmallRun, "shape: [1, 2, 2]",
                                                             "shape: [4294967296, 4294967296, 4294967296]"));
  CHECK_THAT(error_of([&] { (void)read_config(path); }),
             Contains(path + ":2:") && Contains("data.shape") && Contains("more than 2^62 elements"));
  CHECK_THAT(error_of([&] { (void)lrp::numel({Index{1} << 40, Index{1} << 40}); }), Contains("64 bits"));
  CHECK_THAT(error_of([&] { (void)lrp::checked_numel({3, 0, 2}, "x"); }), Contains("extent < 1"));
  CHECK(lrp::checked_numel({3, 4, 5}, "x") == 60);
  CHECK(lrp::saturating_mul(std::uint64_t{1} << 40, std::uint64_t{1} << 40) == std::numeric_limits<std::uint64_t>::max());
  CHECK(lrp::saturating_mul(6, 7) == 42);
  // Generated data larger than the limit: refused before generation, naming the size (1000 samples
  // × 4096 values × 2 copies, 64 bytes of bookkeeping per sample, 2 class patterns in double).
  lrp::Limits limits;
  limits.memory = 1 << 20;
  CHECK_THAT(error_of([&] { (void)lrp::synthetic_blobs({1, 64, 64}, 1000, 2, 1, limits); }),
             Contains("1000 samples") && Contains(kFloat64 ? "63 MiB" : "31 MiB") && Contains("limits.memory"));
  CHECK(lrp::synthetic_blobs({1, 4, 4}, 10, 2, 1, limits).size() == 10);
}

// ---------------------------------------------------------------- 3. hang: FIFOs

TEST_CASE("A FIFO, a device or a folder named as an input is an error saying what it is, never a hang",
          "[hardening]") {
  Env env;
  const std::string fifo = env.file("pipe");
  REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
  lrp::save_model(tiny_model(0.5f), env.file("model.h5"));
  const std::string images = "data: {format: idx, images: " + fifo + "}";
  CHECK_THAT(error_of([&] {
               (void)read_config(env.write("a.yaml", replace_all(kSmallRun, kSyntheticData, images)));
             }),
             Contains(env.file("a.yaml") + ":2:") && Contains("is a named pipe (FIFO); expected a regular file"));
  CHECK_THAT(error_of([&] {
               (void)read_config(env.write("b.yaml", replace_all(kSmallRun, "@DIR@/model.h5", fifo)));
             }),
             Contains(env.file("b.yaml") + ":3:") && Contains("named pipe (FIFO)"));
  for (const auto& reader : std::vector<std::function<void()>>{
           [&] { (void)lrp::open_model(fifo, builtins()); }, [&] { (void)lrp::read_idx(fifo, ""); },
           [&] { (void)lrp::read_csv(fifo, {2}, -1, false); }, [&] { (void)lrp::import_onnx(fifo, builtins()); },
           [&] { (void)lrp::read_model_spec(fifo); }, [&] { (void)lrp::load_model(fifo, builtins()); },
           [&] { (void)lrp::read_hdf5(fifo, "x", "", lrp::Hdf5Layout::kNCHW); }}) {
    CHECK_THAT(error_of(reader), Contains(fifo) && Contains("named pipe (FIFO)"));
  }
  // The program itself, on a FIFO config and a FIFO plugin.
  int code = 0;
  CHECK_THAT(lrplab("validate " + fifo, code), Contains("named pipe (FIFO)"));
  CHECK(code == 1);
  CHECK_THAT(lrplab("list --plugin " + fifo, code), Contains("plugin '" + fifo + "': is a named pipe (FIFO)"));
  CHECK(code == 1);
  CHECK_THAT(lrplab("list --plugin " + env.folder(), code), Contains("is a directory"));
  CHECK(code == 1);
  // A character device made here (root only: the device numbers of /dev/zero).
  const std::string device = env.file("zero");
  if (::mknod(device.c_str(), S_IFCHR | 0600, makedev(1, 5)) == 0) {
    CHECK_THAT(lrplab("list --plugin " + device, code), Contains("is a character device"));
    CHECK(code == 1);
    CHECK_THAT(error_of([&] { (void)lrp::read_idx(device, ""); }), Contains("character device"));
  } else {
    WARN("mknod is not permitted here: the device-node case is checked with the FIFO only");
  }
}

// ---------------------------------------------------------------- 4. runaway memory

TEST_CASE("YAML alias bombs are refused, in files and in --set values", "[hardening]") {
  // Every line doubles the tree: 40 lines would expand to 2^40 values.
  std::ostringstream lines, map;
  lines << "a0: &a0 [x, x]\n";
  map << "{a0: &a0 [x, x]";
  for (int i = 1; i < 40; ++i) {
    lines << 'a' << i << ": &a" << i << " [*a" << i - 1 << ", *a" << i - 1 << "]\n";
    map << ", a" << i << ": &a" << i << " [*a" << i - 1 << ", *a" << i - 1 << ']';
  }
  map << '}';
  const std::string bomb = lines.str(), flow = map.str();
  CHECK_THAT(error_of([&] { (void)lrp::yaml::load_text(bomb, "bomb.yaml"); }),
             Contains("bomb.yaml") && Contains("expands to more than 1000000 values"));
  YAML::Node root(YAML::NodeType::Map);
  CHECK_THAT(error_of([&] { lrp::apply_override(root, "explain=" + flow); }),
             Contains("--set 'explain=") && Contains("expands to more than"));
  int code = 0;
  Env env;
  lrp::save_model(tiny_model(0.5f), env.file("model.h5"));
  const std::string config = env.write("c.yaml", kSmallRun);
  CHECK_THAT(lrplab("validate " + config + " --set 'explain=" + flow + "'", code), Contains("expands to more than"));
  CHECK(code == 1);
  // Legitimate anchors and aliases still work.
  const YAML::Node ok = lrp::yaml::load_text("base: &b {gamma: 0.25}\nuse: *b\n", "ok.yaml");
  CHECK(ok["use"]["gamma"].as<double>() == 0.25);
}

TEST_CASE("An IDX file is streamed: a subset reads only its samples, and the whole file is refused above the limit",
          "[hardening]") {
  // 100,000 images of 4×4 (about 19 MiB once loaded); a limit of 4 MiB.
  Env env;
  const std::uint32_t n = 100000;
  std::vector<char> bytes{0, 0, 8, 3, static_cast<char>(n >> 24), static_cast<char>(n >> 16), static_cast<char>(n >> 8),
                          static_cast<char>(n), 0, 0, 0, 4, 0, 0, 0, 4};
  for (std::uint32_t i = 0; i < n; ++i)
    for (int p = 0; p < 16; ++p) bytes.push_back(static_cast<char>((i * 7 + static_cast<std::uint32_t>(p)) % 251));
  const std::string images = env.file("images-idx3-ubyte");
  write_file_bytes(images, bytes);
  lrp::Limits limits;
  limits.memory = 4 << 20;
  CHECK_THAT(error_of([&] { (void)lrp::read_idx(images, "", 1.0, {}, limits); }),
             Contains("100000 images of 4×4") && Contains("limits.memory"));
  // 20 images drawn from the 100,000: within the limit, with exactly the drawn rows' pixels.
  const lrp::Dataset drawn = lrp::read_idx(images, "", 1.0, lrp::RowSelection::draw(20, 7), limits);
  REQUIRE(drawn.size() == 20);
  CHECK(drawn.indices == lrp::sample_rows(n, 20, 7));
  for (Index i = 0; i < 20; ++i) {
    const auto row = static_cast<std::uint32_t>(drawn.indices[static_cast<std::size_t>(i)]);
    for (Index p = 0; p < 16; ++p)
      CHECK(drawn.inputs.data(i, p) == Scalar(static_cast<double>((row * 7 + static_cast<std::uint32_t>(p)) % 251)));
  }
  // A range at the end of the file, and the range past it.
  const lrp::Dataset tail = lrp::read_idx(images, "", 1.0, lrp::RowSelection::range(99990, 100000), limits);
  CHECK(tail.indices.front() == 99990);
  CHECK(tail.inputs.data(9, 3) == Scalar(static_cast<double>((99999u * 7 + 3) % 251)));
  CHECK_THAT(error_of([&] { (void)lrp::read_idx(images, "", 1.0, lrp::RowSelection::range(99990, 100001), limits); }),
             Contains("[99990, 100001) is not a non-empty range within the 100000 samples"));
  // The draw is the one sample() makes from the loaded set (the same rows, whatever the source size).
  const lrp::Dataset small = lrp::read_idx(images, "", 1.0, lrp::RowSelection::range(0, 1000), limits);
  CHECK(lrp::sample(small, 5, 3).indices == lrp::sample_rows(1000, 5, 3));
}

TEST_CASE("An HDF5 dataset declaring a billion samples: a subset reads its rows, the whole set is refused",
          "[hardening]") {
  Env env;
  const std::string path = env.file("big.h5");
  {
    // Chunked and never written: the file is small, the declared shape is [10^9, 4, 4].
    const hid_t file = H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    const hsize_t dims[3] = {1000000000ULL, 4, 4}, chunk[3] = {1024, 4, 4};
    const hid_t space = H5Screate_simple(3, dims, nullptr);
    const hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
    H5Pset_chunk(dcpl, 3, chunk);
    const hid_t set = H5Dcreate2(file, "x", H5T_IEEE_F32LE, space, H5P_DEFAULT, dcpl, H5P_DEFAULT);
    REQUIRE(set >= 0);
    // One sample written (2.5 everywhere); every other reads as the fill value 0.
    const std::vector<float> one(16, 2.5f);
    const hsize_t start[3] = {123456789, 0, 0}, count[3] = {1, 4, 4}, flat[1] = {16};
    const hid_t memory = H5Screate_simple(1, flat, nullptr);
    H5Sselect_hyperslab(space, H5S_SELECT_SET, start, nullptr, count, nullptr);
    REQUIRE(H5Dwrite(set, H5T_NATIVE_FLOAT, memory, space, H5P_DEFAULT, one.data()) >= 0);
    H5Sclose(memory);
    H5Dclose(set);
    H5Pclose(dcpl);
    H5Sclose(space);
    H5Fclose(file);
  }
  REQUIRE(fs::file_size(path) < (1 << 20));
  const lrp::Limits limits;  // the default (at most 16 GiB)
  CHECK_THAT(error_of([&] { (void)lrp::read_hdf5(path, "x", "", lrp::Hdf5Layout::kNCHW, 1.0, "", {}, limits); }),
             Contains("1000000000 samples of shape [1, 4, 4]") && Contains("limits.memory"));
  const lrp::Dataset rows =
      lrp::read_hdf5(path, "x", "", lrp::Hdf5Layout::kNCHW, 1.0, "", lrp::RowSelection::range(123456788, 123456791), limits);
  REQUIRE(rows.size() == 3);
  CHECK(rows.indices == std::vector<Index>{123456788, 123456789, 123456790});
  CHECK(rows.inputs.data.row(0).isZero());
  CHECK((rows.inputs.data.row(1).array() == Scalar(2.5)).all());
  CHECK(rows.inputs.data.row(2).isZero());
}

// ---------------------------------------------------------------- 5. destroying inputs

TEST_CASE("An output that is an input of the run is refused, however the path is written", "[hardening]") {
  Env env;
  lrp::save_model(tiny_model(0.5f), env.file("model.h5"));
  fs::create_directories(env.file("sub"));
  const auto with_results = [&](const std::string& results) {
    return replace_all(kSmallRun, "@DIR@/out/results.h5", results);
  };
  CHECK_THAT(error_of([&] { (void)read_config(env.write("a.yaml", with_results("@DIR@/model.h5"))); }),
             Contains("output.results") && Contains("is an input of this run") && Contains("model.h5"));
  CHECK_THAT(error_of([&] { (void)read_config(env.write("b.yaml", with_results("@DIR@/sub/../model.h5"))); }),
             Contains("is an input of this run"));
  CHECK_THAT(error_of([&] { (void)read_config(env.write("c.yaml", with_results("@DIR@/c.yaml"))); }),
             Contains("is an input of this run") && Contains("c.yaml"));
  fs::create_symlink(env.file("model.h5"), env.file("link.h5"));
  CHECK_THAT(error_of([&] { (void)read_config(env.write("d.yaml", with_results("@DIR@/link.h5"))); }),
             Contains("symbolic link"));
  // A data file, named through the CSV reader.
  std::ofstream(env.file("data.csv")) << "0,1,2,3\n";
  const std::string csv = replace_all(with_results("@DIR@/data.csv"), kSyntheticData,
                                      "data: {format: csv, path: @DIR@/data.csv, shape: [1, 2, 2]}");
  CHECK_THAT(error_of([&] { (void)read_config(env.write("e.yaml", csv)); }),
             Contains("output.results") && Contains("data.csv") && Contains("is an input of this run"));
  // A heatmaps folder that holds an input (it is replaced as a whole), or the results file.
  const std::string whole_folder = replace_all(kSmallRun, "output: {results: @DIR@/out/results.h5}",
                                               "output: {results: @DIR@/r.h5, heatmaps: @DIR@}");
  CHECK_THAT(error_of([&] { (void)read_config(env.write("f.yaml", whole_folder)); }), Contains("output.heatmaps"));
  const std::string nested = replace_all(kSmallRun, "output: {results: @DIR@/out/results.h5}",
                                         "output: {results: @DIR@/pics/r.h5, heatmaps: @DIR@/pics}");
  CHECK_THAT(error_of([&] { (void)read_config(env.write("g.yaml", nested)); }),
             Contains("output.heatmaps") && Contains("keep the results file outside it"));
  // The training program: output.model may not be its own data.
  const std::string train = env.write("train.yaml", R"(data: {train: {format: csv, path: @DIR@/data.csv, shape: [4]}}
model: {architecture: {input_shape: [4], layers: [{kind: dense, out: 2}]}}
output: {model: @DIR@/data.csv}
)");
  CHECK_THAT(error_of([&] { (void)lrp::read_train_config(train, builtins()); }),
             Contains("output.model") && Contains("is an input of this training"));
  CHECK(read_file_bytes(env.file("data.csv")).size() == 8);  // untouched
}

// ---------------------------------------------------------------- 6, 7, 8: special files, links, concurrent runs

TEST_CASE("Outputs are written only to new paths and regular files: FIFOs, devices and links are refused",
          "[hardening]") {
  Env env;
  const std::string fifo = env.file("results_fifo");
  REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
  CHECK_THAT(error_of([&] { lrp::write_file_atomically(fifo, "results file", "x"); }),
             Contains("is a named pipe (FIFO)") && Contains("only to new paths and to regular files"));
  CHECK(fs::is_fifo(fifo));  // not replaced by the rename
  const std::string device = env.file("null");
  if (::mknod(device.c_str(), S_IFCHR | 0666, makedev(1, 3)) == 0) {  // /dev/null's numbers, in our folder
    CHECK_THAT(error_of([&] { lrp::write_file_atomically(device, "results file", "x"); }),
               Contains("is a character device"));
    struct stat st {};
    REQUIRE(::stat(device.c_str(), &st) == 0);
    CHECK(S_ISCHR(st.st_mode));
  } else {
    WARN("mknod is not permitted here: the device-node case is checked with the FIFO only");
  }
  // A link at the target, to a file someone wants destroyed: refused, the file untouched.
  write_file_bytes(env.file("victim"), {'k', 'e', 'e', 'p'});
  fs::create_symlink(env.file("victim"), env.file("results.h5"));
  CHECK_THAT(error_of([&] { lrp::write_file_atomically(env.file("results.h5"), "results file", "x"); }),
             Contains("is a symbolic link") && Contains(env.file("victim")));
  CHECK(read_file_bytes(env.file("victim")) == std::vector<char>{'k', 'e', 'e', 'p'});
  // The old, predictable temporary names are not used: a link planted there changes nothing.
  fs::create_symlink(env.file("victim"), env.file("new.h5.tmp"));
  lrp::write_file_atomically(env.file("new.h5"), "results file", "new contents");
  CHECK(read_file_bytes(env.file("victim")) == std::vector<char>{'k', 'e', 'e', 'p'});
  const std::vector<char> written = read_file_bytes(env.file("new.h5"));
  CHECK(std::string(written.begin(), written.end()) == "new contents");
  // A link planted at the lock file's name is not followed either.
  fs::create_symlink(env.file("victim"), env.file(".locked.h5.lrplab-lock"));
  CHECK_THAT(error_of([&] { lrp::OutputLock lock(env.file("locked.h5"), "output.results"); }),
             Contains("lock file") && Contains("symbolic link"));
  CHECK(read_file_bytes(env.file("victim")) == std::vector<char>{'k', 'e', 'e', 'p'});
}

TEST_CASE("Two runs writing the same results path: the second is refused while the first holds the lock",
          "[hardening]") {
  Env env;
  const std::string results = env.file("out/results.h5");
  {
    const lrp::OutputLock first(results, "output.results");
    // The folder does not exist yet: the lock lives in the nearest existing folder.
    CHECK(first.lock_file() == env.file(".out%results.h5.lrplab-lock"));
    CHECK_FALSE(fs::exists(env.file("out")));
    CHECK_THAT(error_of([&] { lrp::OutputLock second(results, "output.results"); }),
               Contains("another lrplab run (process " + std::to_string(::getpid()) + ") is writing it"));
    // The program, run while this process holds the lock: exit code 1, the message, nothing written.
    lrp::save_model(tiny_model(0.5f), env.file("model.h5"));
    const std::string config = env.write("c.yaml", kSmallRun);
    int code = 0;
    CHECK_THAT(lrplab("run " + config, code), Contains("another lrplab run") && Contains("is writing it"));
    CHECK(code == 1);
    CHECK_FALSE(fs::exists(results));
  }
  CHECK(leftovers(env.folder()).empty());  // the lock file goes with the lock
  // Stale temporaries of a killed run are removed by the next lock on the same path.
  fs::create_directories(env.file("out"));
  write_file_bytes(env.file("out/.results.h5.lrplab-tmp-abcdefghijkl"), {'x'});
  write_file_bytes(env.file("out/.other.h5.lrplab-tmp-abcdefghijkl"), {'y'});
  { const lrp::OutputLock again(results, "output.results"); }
  CHECK_FALSE(fs::exists(env.file("out/.results.h5.lrplab-tmp-abcdefghijkl")));
  CHECK(fs::exists(env.file("out/.other.h5.lrplab-tmp-abcdefghijkl")));  // another path's: left alone
}

// ---------------------------------------------------------------- 9. pictures and results together

TEST_CASE("A failing run creates no folder, and a run replaces the heatmaps folder whole and only if lrplab wrote it",
          "[hardening]") {
  const QuietLog quiet;
  Env env;
  lrp::save_model(tiny_model(0.5f), env.file("model.h5"));
  const std::string base = replace_all(kSmallRun, "output: {results: @DIR@/out/results.h5}",
                                       "output: {results: @DIR@/out/results.h5, heatmaps: @DIR@/out/maps/run1}");
  // target 5 of a 2-class model fails after the config is read: nothing may be created.
  const lrp::ExperimentConfig failing = read_config(env.write("fail.yaml", base + "target: 5\n"));
  CHECK_THROWS_WITH(lrp::run_experiment(failing, builtins()), Contains("target class 5 is out of range"));
  CHECK_FALSE(fs::exists(env.file("out")));
  CHECK(leftovers(env.folder()).empty());
  // A good run writes both; the pictures name the results file and the run.
  const lrp::ExperimentConfig good = read_config(env.write("good.yaml", base));
  (void)lrp::run_experiment(good, builtins());
  const lrp::h5::File results = lrp::h5::File::open(env.file("out/results.h5"));
  const std::string run_id = results.string_attribute("/meta", "run_id");
  CHECK(run_id.size() == 32);
  const std::vector<char> run_txt = read_file_bytes(env.file("out/maps/run1/run.txt"));
  CHECK_THAT(std::string(run_txt.begin(), run_txt.end()), Contains("run: " + run_id));
  CHECK(fs::exists(env.file("out/maps/run1/gradient/sample_0.png")));
  // A second run replaces the folder: a picture the first wrote and the second does not is gone.
  write_file_bytes(env.file("out/maps/run1/gradient/sample_99.png"), {'x'});
  CHECK_THAT(error_of([&] { (void)read_config(env.write("again.yaml", base)); }),
             Contains("output.heatmaps") && Contains("gradient/sample_99.png") && Contains("did not write"));
  fs::remove(env.file("out/maps/run1/gradient/sample_99.png"));
  (void)lrp::run_experiment(read_config(env.write("again.yaml", replace_all(base, "[gradient]", "[random]"))),
                            builtins());
  CHECK_FALSE(fs::exists(env.file("out/maps/run1/gradient")));
  CHECK(fs::exists(env.file("out/maps/run1/random/sample_0.png")));
  const std::string second_id = lrp::h5::File::open(env.file("out/results.h5")).string_attribute("/meta", "run_id");
  CHECK(second_id != run_id);
  const std::vector<char> second_txt = read_file_bytes(env.file("out/maps/run1/run.txt"));
  CHECK_THAT(std::string(second_txt.begin(), second_txt.end()), Contains("run: " + second_id));
  CHECK(leftovers(env.folder()).empty());
}

TEST_CASE("A write that fails for lack of space is an error naming the file and the system's reason, and the old "
          "file stays", "[hardening]") {
  // The file-size limit stands in for a full disk: writes beyond it fail with EFBIG, as they would
  // with ENOSPC (SIGXFSZ ignored so that the write returns the error). In a child process, so that
  // the limit stays there.
  Env env;
  const std::string path = env.file("results.h5");
  const auto write_results = [&](Index values) {
    lrp::h5::write_atomically(path, "results file", [&](lrp::h5::File& f) {
      f.write("x", std::vector<double>(static_cast<std::size_t>(values), 1.5), {static_cast<hsize_t>(values)});
    });
  };
  write_results(10);
  const std::vector<char> old = read_file_bytes(path);
  int pipe_fds[2];
  REQUIRE(::pipe(pipe_fds) == 0);
  std::fflush(stdout);
  const pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    ::close(pipe_fds[0]);
    const rlimit limit{64 * 1024, 64 * 1024};
    ::setrlimit(RLIMIT_FSIZE, &limit);
    ::signal(SIGXFSZ, SIG_IGN);
    std::string message = "no error";
    try {
      write_results(1 << 17);  // 1 MiB of data
    } catch (const lrp::Error& e) {
      message = e.what();
    }
    (void)!::write(pipe_fds[1], message.data(), message.size());
    ::_exit(0);
  }
  ::close(pipe_fds[1]);
  std::string message;
  char buffer[4096];
  for (::ssize_t n; (n = ::read(pipe_fds[0], buffer, sizeof buffer)) > 0;) message.append(buffer, static_cast<std::size_t>(n));
  ::close(pipe_fds[0]);
  int status = 0;
  REQUIRE(::waitpid(pid, &status, 0) == pid);
  CHECK_THAT(message, Contains("cannot write results file '" + path + "': File too large"));
  CHECK(read_file_bytes(path) == old);
  CHECK(leftovers(env.folder()).empty());
}

// ---------------------------------------------------------------- 10. silent wrong results

TEST_CASE("A key given twice is an error naming both positions", "[hardening]") {
  CHECK_THAT(error_of([&] { (void)lrp::yaml::load_text("seed: 1\nthreads: 2\nseed: 2\n", "c.yaml"); }),
             Contains("c.yaml:3:1: the key 'seed' is given twice in one mapping (first at c.yaml:1:1)"));
  CHECK_THAT(error_of([&] {
               (void)lrp::yaml::load_text("output: {results: a.h5}\nexplain: [x]\noutput: {results: b.h5}\n", "c.yaml");
             }),
             Contains("c.yaml:3:1") && Contains("'output'") && Contains("first at c.yaml:1:1"));
  CHECK_THAT(error_of([&] { (void)lrp::yaml::load_text("layers:\n  - {kind: dense, out: 2, out: 3}\n", "m.yaml"); }),
             Contains("m.yaml:2:") && Contains("'out' is given twice"));
  CHECK_THAT(error_of([&] { (void)lrp::yaml::load_text("? [a, b]\n: 1\n", "k.yaml"); }),
             Contains("k.yaml:1:") && Contains("a key must be a plain name, got a list"));
  // The same key in different mappings is fine.
  CHECK(lrp::yaml::load_text("a: {x: 1}\nb: {x: 2}\n", "ok.yaml")["b"]["x"].as<int>() == 2);
}

TEST_CASE("Non-finite logits stop a run naming the layer, and a metric with no finite mean stops it naming the metric",
          "[hardening]") {
  const QuietLog quiet;
  Env env;
  // Inputs 1 and weights of half the largest value: fc1's outputs (4 × w) overflow to Inf.
  lrp::save_model(tiny_model(std::numeric_limits<Scalar>::max() / 2), env.file("model.h5"));
  std::ofstream(env.file("ones.csv")) << "1,1,1,1\n1,1,1,1\n1,1,1,1\n1,1,1,1\n1,1,1,1\n1,1,1,1\n";
  const std::string config =
      replace_all(kSmallRun, kSyntheticData, "data: {format: csv, path: @DIR@/ones.csv, shape: [1, 2, 2]}");
  const lrp::ExperimentConfig overflow = read_config(env.write("a.yaml", config));
  CHECK_THROWS_WITH(lrp::run_experiment(overflow, builtins()),
                    Contains("logits are not finite for sample 0") && Contains("layer 1 'fc1'") &&
                        Contains("NaN or Inf"));
  CHECK_FALSE(fs::exists(env.file("out/results.h5")));
  // All-zero weights: every target logit is 0, so the conservation error |ΣR − f|/|f| is NaN for all.
  lrp::save_model(tiny_model(0), env.file("model.h5"));
  const lrp::ExperimentConfig zero = read_config(env.write("b.yaml", config));
  CHECK_THROWS_WITH(lrp::run_experiment(zero, builtins()),
                    Contains("metric conservation of method 'gradient' has no finite mean") &&
                        Contains("0 finite values, 6 NaN or Inf"));
  CHECK_FALSE(fs::exists(env.file("out/results.h5")));
}

TEST_CASE("Values out of range are errors with their position, and unusual data ranges are warnings", "[hardening]") {
  Env env;
  lrp::save_model(tiny_model(0.5f), env.file("model.h5"));
  const std::string& base = kSmallRun;
  const auto config_error = [&](const std::string& from, const std::string& to) {
    return error_of([&] { (void)read_config(env.write("c.yaml", replace_all(base, from, to))); });
  };
  std::ofstream(env.file("data.csv")) << "0,1,2,3\n";
  const std::string& synthetic = kSyntheticData;
  CHECK_THAT(config_error(synthetic, "data: {format: hdf5, path: @DIR@/model.h5, inputs: x, scale: -1}"),
             Contains("c.yaml:2:") && Contains("data.scale must be > 0"));
  CHECK_THAT(config_error(synthetic, "data: {format: idx, images: @DIR@/data.csv, scale: 0}"),
             Contains("c.yaml:2:") && Contains("data.scale must be > 0"));
  CHECK_THAT(config_error(synthetic, "data: {format: csv, path: @DIR@/data.csv, shape: [3], label_column: 1e20}"),
             Contains("c.yaml:2:") && Contains("label_column must be -1") && Contains("got 1e20"));
  CHECK_THAT(config_error("explain: [gradient]", "explain: [{name: '', kind: gradient}]"),
             Contains("c.yaml:4:") && Contains("explain[0].name is empty"));
  CHECK_THAT(config_error("evaluate: {conservation: true}", "evaluate: {conservation: true, methods: []}"),
             Contains("c.yaml:5:") && Contains("evaluate.methods is empty"));
  CHECK_THAT(config_error("explain: [gradient]", "explain: [{name: ig, kind: integrated_gradients, sweep: {steps: [1, 2, 3]}}]\n"
                                             "limits: {sweep_points: 2}"),
             Contains("c.yaml:4:") && Contains("expands to 3 methods, more than limits.sweep_points = 2"));
  CHECK_THAT(config_error("evaluate: {conservation: true}", "evaluate: {pixel_flipping: {random_repeats: 5000}}"),
             Contains("c.yaml:5:") && Contains("more than limits.random_repeats = 1000"));
  CHECK_THAT(config_error("seed: 1", "seed: 1\nlimits: {memory: 12 parsecs}"),
             Contains("c.yaml:2:") && Contains("limits.memory must be a size"));
  // Raw values that overflow once mapped to network units (the scalar type's range).
  // tiny_model divides by std 0.25: a quarter of the largest value, and beyond, overflows.
  const std::string far = kFloat64 ? "-1e308" : "-1e38";
  const lrp::ExperimentConfig fill = read_config(env.write("pf.yaml", replace_all(base, "evaluate: {conservation: true}",
                                                                               "evaluate: {pixel_flipping: {low: " + far + "}}")));
  CHECK_THAT(error_of([&] { (void)lrp::prepare_experiment(fill, builtins(), false); }),
             Contains(env.file("pf.yaml") + ":5:") && Contains("evaluate.pixel_flipping.low") &&
                 Contains("beyond the range of " + std::string(lrp::scalar_name())));
  const lrp::ExperimentConfig zbox = read_config(env.write("zb.yaml", replace_all(base, "explain: [gradient]",
                                                                                 "explain: [{preset: epsilon_gamma_box, params: {low: " + far + "}}]")));
  CHECK_THAT(error_of([&] { (void)lrp::prepare_experiment(zbox, builtins(), false); }),
             Contains(env.file("zb.yaml") + ":4:") && Contains("'low'") && Contains("beyond the range"));
  // integrated_gradients steps beyond the limit: refused when the method is made for the model.
  const lrp::ExperimentConfig ig = read_config(env.write("ig.yaml", replace_all(base, "explain: [gradient]",
                                                                               "explain: [{name: ig, kind: integrated_gradients, params: {steps: 5000}}]")));
  CHECK_THAT(error_of([&] { (void)lrp::prepare_experiment(ig, builtins(), false); }),
             Contains("steps = 5000 is more than limits.integrated_gradients_steps = 4096"));
  // The program: a malformed --threads.
  int code = 0;
  CHECK_THAT(lrplab("run " + env.write("d.yaml", base) + " --threads 3abc", code),
             Contains("--threads expects a whole number, got '3abc'"));
  CHECK(code == 1);
  // Data far outside the model's raw range [0, 1]: a warning naming the range and data.scale.
  const lrp::h5::Dims dims{3, 1, 2, 2};
  lrp::h5::write_atomically(env.file("huge.h5"), "data", [&](lrp::h5::File& f) {
    f.write("x", std::vector<std::uint64_t>(12, 10000000000000000000ULL), dims);
  });
  const lrp::ExperimentConfig huge = read_config(env.write("e.yaml", replace_all(base, synthetic,
                                                                                "data: {format: hdf5, path: @DIR@/huge.h5, inputs: x}")));
  const QuietLog quiet;
  const WarningCapture warnings;
  (void)lrp::prepare_experiment(huge, builtins(), false);
  CHECK_THAT(warnings.text(), Contains("data values span [1e+19, 1e+19], far outside the raw range [0, 1]") &&
                                  Contains("data.scale"));
}

TEST_CASE("Names in model descriptions are non-empty UTF-8 text without control characters", "[hardening]") {
  const auto spec_error = [](const std::string& layer_name) {
    return error_of([&] {
      (void)lrp::parse_model_spec(
          lrp::yaml::load_text("input_shape: [2]\nlayers:\n  - {kind: dense, name: " + layer_name + ", out: 1}\n", "m.yaml"),
          "m.yaml", &builtins());
    });
  };
  CHECK_THAT(spec_error("a\xff"), Contains("m.yaml:3:") && Contains("layers[0].name is not valid UTF-8"));  // a raw byte
  CHECK_THAT(spec_error("\"a\\x0e\""), Contains("layers[0].name holds a control character"));
  CHECK_THAT(spec_error("''"), Contains("layers[0].name is empty"));
  // Valid UTF-8 reads back through the stored description unchanged.
  const lrp::ModelSpec spec = lrp::parse_model_spec(
      lrp::yaml::load_text("input_shape: [2]\nlayers:\n  - {kind: dense, name: Schicht_ü_層, out: 1}\n", "m.yaml"),
      "m.yaml", &builtins());
  const lrp::Model model = lrp::build_model(spec, builtins());
  const lrp::ModelSpec again = lrp::parse_model_spec(lrp::yaml::load_text(lrp::model_spec_to_yaml(model.spec), "again"),
                                                     "again", &builtins());
  CHECK(again.layers[0].name == "Schicht_ü_層");
  CHECK_FALSE(lrp::yaml::valid_utf8("\xc0\xaf"));    // an overlong '/'
  CHECK_FALSE(lrp::yaml::valid_utf8("\xed\xa0\x80"));  // a surrogate
  CHECK(lrp::yaml::valid_utf8("\xf0\x9f\x98\x80"));      // U+1F600
}

// ---------------------------------------------------------------- 11. messages

TEST_CASE("What used to be an internal error is a positioned error with exit code 1", "[hardening]") {
  Env env;
  lrp::save_model(tiny_model(0.5f), env.file("model.h5"));
  int code = 0;
  // A mapping used as a key.
  const std::string complex = env.write("complex.yaml", "{a: 1}: 2\n" + kSmallRun);
  CHECK_THAT(lrplab("validate " + complex, code), Contains(complex + ":1:1: a key must be a plain name"));
  CHECK(code == 1);
  // A file name longer than the system allows.
  const std::string long_name = std::string(300, 'x') + ".h5";
  CHECK_THAT(lrplab("model " + long_name, code), Contains("file name is too long"));
  CHECK(code == 1);
  CHECK_THAT(lrplab("validate " + env.write("long.yaml", replace_all(kSmallRun, "@DIR@/model.h5", long_name)), code),
             Contains("long.yaml:3:") && Contains("file name is too long"));
  CHECK(code == 1);
  // A structure yaml-cpp cannot convert where lrplab expects a map (an explain entry that is a list of lists).
  CHECK_THAT(lrplab("validate " + env.write("nested.yaml", replace_all(kSmallRun, "explain: [gradient]", "explain: [[[x]]]")), code),
             Contains("nested.yaml:4:"));
  CHECK(code == 1);
  // File contents are reported with the position of the key that named the file.
  write_file_bytes(env.file("short-idx"), {0, 0, 8, 3, 0, 0, 0, 2});
  const std::string idx = env.write("idx.yaml", replace_all(kSmallRun, kSyntheticData,
                                                            "data: {format: idx, images: @DIR@/short-idx}"));
  const lrp::ExperimentConfig config = read_config(idx);
  CHECK_THAT(error_of([&] { (void)lrp::prepare_experiment(config, builtins(), false); }),
             Contains(idx + ":2:") && Contains("short-idx") && Contains("truncated"));
}

TEST_CASE("A plugin rule that throws something other than a std::exception is reported naming the rule and the plugin",
          "[hardening]") {
  lrp::Registry registry;
  lrp::register_builtins(registry);
  lrp::load_plugin(LRP_TEST_PLUGIN_THROWING_RULE, registry);
  registry.freeze();
  const lrp::Model model = tiny_model(0.5f);
  lrp::Composite composite;
  composite.fallback({"throws_int", {}});
  const lrp::Explainer explainer = lrp::Explainer::from_composite(model.network, registry, composite);
  const lrp::ForwardPass pass = model.network.forward(lrp::Tensor({1, 2, 2}, Matrix::Ones(2, 4)));
  CHECK_THAT(error_of([&] { (void)explainer.explain(pass, {0, 1}); }),
             Contains("the rule 'throws_int' (from plugin " + std::string(LRP_TEST_PLUGIN_THROWING_RULE) + ")") &&
                 Contains("of layer 3 'fc2'") && Contains("not a std::exception"));
}

// ---------------------------------------------------------------- 12. validate and plugin code

TEST_CASE("validate says which plugins it loads, and --no-plugins loads none", "[hardening]") {
  Env env;
  lrp::save_model(tiny_model(0.5f), env.file("model.h5"));
  const std::string plugins = "plugins: [" + std::string(LRP_PLUGIN_EPSILON_CLIP) + "]\n";
  const std::string config = env.write("c.yaml", plugins + kSmallRun);
  int code = 0;
  const std::string loaded = lrplab("validate " + config, code);
  CHECK(code == 0);
  CHECK_THAT(loaded, Contains("loading plugin " + std::string(LRP_PLUGIN_EPSILON_CLIP) + " (its code runs now"));
  const std::string skipped = lrplab("validate --no-plugins " + config, code);
  CHECK(code == 0);
  CHECK_THAT(skipped, Contains("not loaded (--no-plugins): plugin " + std::string(LRP_PLUGIN_EPSILON_CLIP)));
  CHECK_THAT(skipped, !Contains("loading plugin"));
  // A config that uses a plugin's rule cannot be checked without it: the rule is unknown.
  const std::string uses = env.write("u.yaml", plugins + replace_all(kSmallRun, "explain: [gradient]",
                                                                     "explain: [{kind: lrp, rules: [{fallback: true, rule: epsilon_clip}]}]"));
  CHECK_THAT(lrplab("validate --no-plugins " + uses, code), Contains("epsilon_clip"));
  CHECK(code == 1);
  // A plugin that cannot be loaded is reported at its place in the config.
  const std::string broken = env.write("b.yaml", "plugins: [" + std::string(LRP_TEST_PLUGIN_NO_ENTRY) + "]\n" + kSmallRun);
  CHECK_THAT(lrplab("validate " + broken, code), Contains(broken + ":1:11: plugins[0]: plugin '") && Contains("no entry point"));
  CHECK(code == 1);
}

// ---------------------------------------------------------------- 13. files that crash or hang libhdf5

TEST_CASE("A file that crashes or hangs the HDF5 library is refused in a child process, and the caller lives on",
          "[hardening]") {
  // The mechanism: what the child does decides, and nothing of it reaches this process.
  int calls = 0;
  lrp::h5::contained("f.h5", "test file", 10, [&] { ++calls; });
  CHECK(calls == 0);  // (the child's own copy counted)
  // An error, or a crash outside libhdf5: refused here; a sanitizer build returns instead, and the
  // caller's own read repeats the failure (a bug of lrplab's is then reported, never hidden).
  const bool rerun = lrp::h5::contained_failures_rerun_here();
  const auto outcome = [](const std::function<void()>& read) -> std::string {
    try {
      lrp::h5::contained("f.h5", "test file", 10, read);
    } catch (const lrp::Error& e) {
      return e.what();
    }
    return "returned";
  };
  CHECK(outcome([] { throw lrp::Error("the child's message"); }) == (rerun ? "returned" : "the child's message"));
  CHECK(outcome([] { throw std::bad_alloc(); }) ==
        (rerun ? "returned" : "test file 'f.h5': reading it needs more memory than there is"));
  const std::string segv = outcome([] { std::raise(SIGSEGV); });
  if (rerun) {
    CHECK(segv == "returned");
  } else {
    CHECK_THAT(segv, Contains("test file 'f.h5': the HDF5 library crashed reading it (signal 11)") &&
                         Contains("refuses it"));
  }
  // An abort (glibc's verdict on a corrupted heap) and a hang are refused in every build.
  CHECK_THAT(error_of([] { lrp::h5::contained("f.h5", "test file", 10, [] { std::abort(); }); }),
             Contains("crashed reading it (signal 6)"));
  CHECK_THAT(error_of([] { lrp::h5::contained("f.h5", "test file", 0.2, [] { ::sleep(60); }); }),
             Contains("test file 'f.h5': reading it did not finish within 0.2 s") && Contains("limits.read_seconds"));

  // Real files (the fuzzing corpus): damaged lrplab model files on which HDF5 1.10 reads out of
  // bounds or frees a wild pointer, and one on which it loops forever.
  const std::string corpus = std::string(LRP_TEST_FIXTURES) + "/../fuzz/corpus/model_file/";
  for (const char* name : {"crash-hdf5-global-heap-segv", "crash-hdf5-dense-links-bad-free",
                           "crash-hdf5-dataset-read-null-memcpy"}) {
    INFO(name);
    const std::string m = error_of([&] { (void)lrp::load_model(corpus + name, builtins()); });
    CHECK_THAT(m, Contains("model file '" + corpus + name + "'"));
    // (HDF5 may also notice the damage itself, depending on the build: then it is its error)
    CHECK((m.find("crashed reading it") != std::string::npos || m.find("HDF5") != std::string::npos));
  }
  lrp::Limits quick;
  quick.read_seconds = 1;
  CHECK_THAT(error_of([&] { (void)lrp::load_model(corpus + "timeout-hdf5-global-heap", builtins(), quick); }),
             Contains("timeout-hdf5-global-heap': reading it did not finish within 1 s"));
  // A sound model file still loads, and gives the model it held.
  Env env;
  lrp::save_model(tiny_model(0.5f), env.file("model.h5"));
  const lrp::Model model = lrp::load_model(env.file("model.h5"), builtins(), quick);
  CHECK(model.network.layer(model.network.index_of("fc2")).params().weight(1, 3) == Scalar(0.5));
  // Through a run: limits.read_seconds is the config's, checked where it is read.
  const std::string hang = replace_all(kSmallRun, "@DIR@/model.h5", corpus + "timeout-hdf5-global-heap");
  const lrp::ExperimentConfig config = read_config(env.write("c.yaml", hang + "limits: {read_seconds: 1}\n"));
  CHECK(config.limits.read_seconds == 1);
  CHECK_THAT(error_of([&] { (void)lrp::prepare_experiment(config, builtins(), false); }),
             Contains("did not finish within 1 s"));
  CHECK_THAT(error_of([&] { (void)read_config(env.write("z.yaml", kSmallRun + "limits: {read_seconds: 0}\n")); }),
             Contains("z.yaml:7:") && Contains("limits.read_seconds must be > 0"));
}

TEST_CASE("LRPLAB_MEMORY_LIMIT sets the default memory limit, and a malformed one is an error", "[hardening]") {
  struct Restore {
    ~Restore() { ::unsetenv("LRPLAB_MEMORY_LIMIT"); }
  } restore;
  ::setenv("LRPLAB_MEMORY_LIMIT", "512MiB", 1);
  CHECK(lrp::Limits{}.memory == 512u << 20);
  ::setenv("LRPLAB_MEMORY_LIMIT", "2GB", 1);
  CHECK(lrp::Limits{}.memory == 2000000000u);
  ::setenv("LRPLAB_MEMORY_LIMIT", "lots", 1);
  CHECK_THAT(error_of([] { (void)lrp::Limits{}; }), Contains("LRPLAB_MEMORY_LIMIT='lots' is not a size"));
  // A run's memory check uses it: a model above it is refused naming the key.
  ::setenv("LRPLAB_MEMORY_LIMIT", "16MiB", 1);
  lrp::ModelSpec spec;
  spec.input_shape = {4096};
  spec.layers = {{"dense", "fc", {{"out", {1024}}}}};
  CHECK_THAT(error_of([&] { (void)lrp::build_model(spec, builtins(), lrp::Limits{}); }),
             Contains("'fc'") && Contains("16 MiB"));
}
