// What a subset of a large data file costs against the whole file (docs/performance.md, Data
// loading). The files are generated once per run in a temporary folder (removed at exit):
//   idx      100,000 images of 28×28 (78 MB), plain and gzip-compressed (seeded bytes with runs of
//            equal values, which compress to about half)
//   hdf5     the same images as a contiguous uint8 dataset [100000, 28, 28] with int64 labels (the
//            layout h5py writes by default)
//   csv      10,000 rows of 784 integers and a label (about 30 MB)
// Benchmarks (each one call of the reader, as `lrplab run` makes it; labels read where the file
// has them):
//   data/idx_whole/{plain,gzip}         every image
//   data/idx_subset/{plain,gzip}/first  images [0, 20)
//   data/idx_subset/{plain,gzip}/draw   20 images drawn with seed 1 (spread over the file)
//   data/hdf5_subset/{range,draw}       8,192 images: [40000, 48192), or drawn with seed 5
//   data/csv_whole, data/csv_subset/first, data/csv_subset/draw   the CSV, all or 20 rows
// Counter: rows/s, the samples returned per second.
#include "lrp/io/data.hpp"
#include "lrp/io/hdf5.hpp"

#include <benchmark/benchmark.h>
#include <zlib.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <unistd.h>
#include <vector>

namespace {

namespace fs = std::filesystem;

constexpr std::uint32_t kImages = 100000, kSide = 28, kCsvRows = 10000;

std::vector<unsigned char> big_endian(std::initializer_list<std::uint32_t> words) {
  std::vector<unsigned char> out;
  for (std::uint32_t w : words)
    for (int shift = 24; shift >= 0; shift -= 8) out.push_back(static_cast<unsigned char>(w >> shift));
  return out;
}

struct Files {
  fs::path dir = fs::temp_directory_path() / ("lrp_bench_data_" + std::to_string(::getpid()));
  std::string idx, idx_labels, gz, gz_labels, h5, csv;

  Files() {
    fs::create_directories(dir);
    std::vector<unsigned char> pixels(std::size_t{kImages} * kSide * kSide), labels(kImages);
    std::mt19937_64 rng(1);
    for (std::size_t i = 0; i < pixels.size(); i += 4) {
      const auto v = static_cast<unsigned char>(rng() >> 56);
      for (std::size_t k = i; k < i + 4 && k < pixels.size(); ++k) pixels[k] = v;
    }
    for (std::uint32_t i = 0; i < kImages; ++i) labels[i] = static_cast<unsigned char>(i % 10);
    std::vector<unsigned char> image_file = big_endian({0x803, kImages, kSide, kSide});
    image_file.insert(image_file.end(), pixels.begin(), pixels.end());
    std::vector<unsigned char> label_file = big_endian({0x801, kImages});
    label_file.insert(label_file.end(), labels.begin(), labels.end());
    idx = write(image_file, "images-idx3-ubyte", false);
    idx_labels = write(label_file, "labels-idx1-ubyte", false);
    gz = write(image_file, "images-idx3-ubyte.gz", true);
    gz_labels = write(label_file, "labels-idx1-ubyte.gz", true);
    write_hdf5(pixels, labels);
    write_csv(pixels, labels);
  }
  ~Files() {
    std::error_code ec;
    fs::remove_all(dir, ec);
  }

  std::string write(const std::vector<unsigned char>& bytes, const std::string& name, bool gzip) const {
    const std::string path = (dir / name).string();
    if (gzip) {
      gzFile out = gzopen(path.c_str(), "wb6");
      for (std::size_t at = 0; at < bytes.size(); at += 1 << 20) {
        const std::size_t n = std::min<std::size_t>(1 << 20, bytes.size() - at);
        gzwrite(out, bytes.data() + at, static_cast<unsigned>(n));
      }
      gzclose(out);
    } else {
      std::ofstream(path, std::ios::binary).write(reinterpret_cast<const char*>(bytes.data()),
                                                  static_cast<std::streamsize>(bytes.size()));
    }
    return path;
  }

  void write_hdf5(const std::vector<unsigned char>& pixels, const std::vector<unsigned char>& labels) {
    h5 = (dir / "images.h5").string();
    const hid_t file = H5Fcreate(h5.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    const hsize_t dims[3] = {kImages, kSide, kSide}, label_dims[1] = {kImages};
    const hid_t space = H5Screate_simple(3, dims, nullptr), label_space = H5Screate_simple(1, label_dims, nullptr);
    const hid_t images = H5Dcreate2(file, "images", H5T_STD_U8LE, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    H5Dwrite(images, H5T_NATIVE_UINT8, H5S_ALL, H5S_ALL, H5P_DEFAULT, pixels.data());
    const std::vector<std::int64_t> wide(labels.begin(), labels.end());
    const hid_t set = H5Dcreate2(file, "labels", H5T_STD_I64LE, label_space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    H5Dwrite(set, H5T_NATIVE_INT64, H5S_ALL, H5S_ALL, H5P_DEFAULT, wide.data());
    H5Dclose(set);
    H5Dclose(images);
    H5Sclose(label_space);
    H5Sclose(space);
    H5Fclose(file);
  }

  void write_csv(const std::vector<unsigned char>& pixels, const std::vector<unsigned char>& labels) {
    csv = (dir / "images.csv").string();
    std::ofstream out(csv);
    std::string line;
    for (std::uint32_t i = 0; i < kCsvRows; ++i) {
      line.clear();
      for (std::uint32_t j = 0; j < kSide * kSide; ++j) line += std::to_string(pixels[std::size_t{i} * kSide * kSide + j]) + ",";
      line += std::to_string(labels[i]) + "\n";
      out << line;
    }
  }
};

const Files& files() {
  static const Files f;
  return f;
}

void report(benchmark::State& state, const lrp::Dataset& last) {
  state.counters["rows/s"] =
      benchmark::Counter(static_cast<double>(last.size()) * static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
}

void idx(benchmark::State& state, bool gzip, lrp::RowSelection selection) {
  const Files& f = files();
  lrp::Dataset d;
  for (auto _ : state) {
    d = gzip ? lrp::read_idx(f.gz, f.gz_labels, 1.0 / 255.0, selection) : lrp::read_idx(f.idx, f.idx_labels, 1.0 / 255.0, selection);
    benchmark::DoNotOptimize(d.inputs.data.data());
  }
  report(state, d);
}

void hdf5(benchmark::State& state, lrp::RowSelection selection) {
  const Files& f = files();
  lrp::Dataset d;
  for (auto _ : state) {
    d = lrp::read_hdf5(f.h5, "images", "labels", lrp::Hdf5Layout::kNCHW, 1.0 / 255.0, "", selection);
    benchmark::DoNotOptimize(d.inputs.data.data());
  }
  report(state, d);
}

void csv(benchmark::State& state, lrp::RowSelection selection) {
  const Files& f = files();
  lrp::Dataset d;
  for (auto _ : state) {
    d = lrp::read_csv(f.csv, {1, kSide, kSide}, kSide * kSide, false, selection);
    benchmark::DoNotOptimize(d.inputs.data.data());
  }
  report(state, d);
}

const lrp::RowSelection kFirst20 = lrp::RowSelection::range(0, 20);
const lrp::RowSelection kDraw20 = lrp::RowSelection::draw(20, 1);

}  // namespace

BENCHMARK_CAPTURE(idx, idx_whole/plain, false, lrp::RowSelection{})->Name("data/idx_whole/plain")->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(idx, idx_subset/plain/first, false, kFirst20)->Name("data/idx_subset/plain/first")->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(idx, idx_subset/plain/draw, false, kDraw20)->Name("data/idx_subset/plain/draw")->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(idx, idx_whole/gzip, true, lrp::RowSelection{})->Name("data/idx_whole/gzip")->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(idx, idx_subset/gzip/first, true, kFirst20)->Name("data/idx_subset/gzip/first")->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(idx, idx_subset/gzip/draw, true, kDraw20)->Name("data/idx_subset/gzip/draw")->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(hdf5, hdf5_subset/range, lrp::RowSelection::range(40000, 48192))
    ->Name("data/hdf5_subset/range")->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(hdf5, hdf5_subset/draw, lrp::RowSelection::draw(8192, 5))
    ->Name("data/hdf5_subset/draw")->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(csv, csv_whole, lrp::RowSelection{})->Name("data/csv_whole")->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(csv, csv_subset/first, kFirst20)->Name("data/csv_subset/first")->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(csv, csv_subset/draw, kDraw20)->Name("data/csv_subset/draw")->Unit(benchmark::kMillisecond);

BENCHMARK_MAIN();
