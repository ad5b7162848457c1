// Writes the generated seeds of the fuzz corpora (tests/fuzz/corpus/<target>/gen-*): tiny lrplab
// model files (save_model of small seeded networks: dense, conv with batch norm and both poolings,
// lstm, embedding), IDX images and labels (plain and gzip), CSV tables and HDF5 data files in each
// layout, each with the leading bytes its target reads. Deterministic but for the model files'
// creation times.
//   cmake --build BUILD --target lrp_fuzz_make_seeds && BUILD/tests/fuzz/lrp_fuzz_make_seeds tests/fuzz/corpus
#include "lrp/io/model_file.hpp"
#include "lrp/io/model_yaml.hpp"
#include "lrp/io/data.hpp"
#include "lrp/io/hdf5.hpp"
#include "lrp/nn/model.hpp"
#include "lrp/registry/registry.hpp"

#include <yaml-cpp/yaml.h>
#include <zlib.h>

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <string>
#include <vector>

namespace fs = std::filesystem;

namespace {

std::string read_bytes(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void write_bytes(const fs::path& path, const std::string& bytes) {
  fs::create_directories(path.parent_path());
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  std::printf("%s (%zu bytes)\n", path.c_str(), bytes.size());
}

std::string gzip(const std::string& bytes) {
  z_stream s{};
  deflateInit2(&s, 9, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY);
  std::string out(deflateBound(&s, bytes.size()) + 32, '\0');
  s.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(bytes.data()));
  s.avail_in = static_cast<uInt>(bytes.size());
  s.next_out = reinterpret_cast<Bytef*>(out.data());
  s.avail_out = static_cast<uInt>(out.size());
  deflate(&s, Z_FINISH);
  out.resize(s.total_out);
  deflateEnd(&s);
  return out;
}

std::string be32(std::uint32_t v) {
  return {static_cast<char>(v >> 24), static_cast<char>(v >> 16), static_cast<char>(v >> 8), static_cast<char>(v)};
}

void model_files(const fs::path& dir, const lrp::Registry& registry, const fs::path& tmp) {
  const char* const specs[][2] = {
      {"mlp", "name: mlp\ninput_shape: [4]\nlayers:\n  - {kind: dense, out: 3}\n  - {kind: relu}\n"
              "  - {kind: dense, out: 2, bias: 0}\n"},
      {"cnn", "name: cnn\ninput_shape: [1, 4, 4]\nnormalization: {mean: [0.5], std: [0.25], range: [0, 1]}\n"
              "classes: [a, b]\nlayers:\n  - {kind: conv2d, out_channels: 2, kernel: 3, padding: 1}\n"
              "  - {kind: batchnorm}\n  - {kind: relu}\n  - {kind: maxpool2d, kernel: 2}\n"
              "  - {kind: avgpool2d, kernel: 2}\n  - {kind: flatten}\n  - {kind: dense, out: 2}\n"},
      {"conv_groups", "name: g\ninput_shape: [2, 3, 3]\nlayers:\n"
                      "  - {kind: conv2d, out_channels: 2, kernel: [2, 1], groups: 2, stride: 1, dilation: 1}\n"
                      "  - {kind: global_avgpool}\n  - {kind: flatten}\n  - {kind: dropout, p: 0.1}\n"
                      "  - {kind: dense, out: 2}\n"},
      {"lstm", "name: lstm\ninput_shape: [3, 2]\nlayers:\n  - {kind: lstm, hidden: 2}\n  - {kind: dense, out: 2}\n"},
      {"lstm_bi2", "name: lstm_bi2\ninput_shape: [2, 2]\nlayers:\n"
                   "  - {kind: lstm, hidden: 2, num_layers: 2, bidirectional: 1}\n  - {kind: dense, out: 2}\n"},
      {"embedding", "name: emb\ninput_shape: [3]\nlayers:\n  - {kind: embedding, vocab: 4, dim: 2}\n"
                    "  - {kind: lstm, hidden: 2, bias: 0}\n  - {kind: dense, out: 2}\n"},
  };
  for (const auto& [name, yaml] : specs) {
    lrp::Model model = lrp::build_model(lrp::parse_model_spec(YAML::Load(yaml), name, &registry), registry);
    lrp::initialize_parameters(model.network, lrp::InitScheme::kHeNormal, 1);
    model.provenance.source = "initialized";
    const fs::path path = tmp / (std::string(name) + ".h5");
    lrp::save_model(model, path.string());
    write_bytes(dir / ("gen-" + std::string(name) + ".h5"), read_bytes(path));
  }
}

void idx_files(const fs::path& dir) {
  // 3 images of 2 × 3 and their labels; byte 0 bit 0: a labels file follows the images, whose
  // length bytes 1–2 give (fuzz_idx.cpp).
  std::string images = be32(0x00000803) + be32(3) + be32(2) + be32(3);
  for (int i = 0; i < 18; ++i) images.push_back(static_cast<char>(i * 14));
  const std::string labels = be32(0x00000801) + be32(3) + std::string{0, 1, 9};
  const auto with_labels = [](const std::string& im, const std::string& lab) {
    return std::string{1, static_cast<char>(im.size() & 0xff), static_cast<char>(im.size() >> 8)} + im + lab;
  };
  write_bytes(dir / "gen-images", std::string{0} + images);
  write_bytes(dir / "gen-images-labels", with_labels(images, labels));
  write_bytes(dir / "gen-images-labels-gzip", with_labels(gzip(images), gzip(labels)));
  write_bytes(dir / "gen-images-gzip-labels", with_labels(gzip(images), labels));
}

void csv_files(const fs::path& dir) {
  // byte 0: rank − 1 (bits 0–1), header (bit 2), label column (bit 3); the extents; the column.
  write_bytes(dir / "gen-plain", std::string{0, 3} + "0.5,1,2\n-1e-3, 4 ,5.25\n\n7,8,9\n");
  write_bytes(dir / "gen-header-label-first", std::string{0x0c, 2, 0} + "label,a,b\n1,0.5,0.25\n0,1e2,-3\n");
  write_bytes(dir / "gen-label-last-2d", std::string{0x09, 2, 2, 4} + "1,2,3,4,0\n5,6,7,8,3\n");
  write_bytes(dir / "gen-3d", std::string{0x02, 1, 2, 2} + "1,2,3,4\n");
  write_bytes(dir / "gen-bad-label", std::string{0x08, 1, 1} + "1,2.5\n");
}

void hdf5_data_files(const fs::path& dir, const fs::path& tmp) {
  // byte 0: layout (bit 0), labels (bits 1–2: -, /labels, /y, /logits), lengths (bits 3–4: -, /lengths,
  // /labels, /len), inputs (bits 5–7: /images, /inputs, /x, /data, /logits, images, /nchw, /g/x);
  // byte 1 bit 0: scale 1/255 (fuzz_hdf5_data.cpp).
  const auto emit = [&](const std::string& name, unsigned char b0, unsigned char b1,
                        const std::function<void(lrp::h5::File&)>& fill) {
    const fs::path path = tmp / (name + ".h5");
    {
      lrp::h5::File f = lrp::h5::File::create(path.string());
      fill(f);
    }
    write_bytes(dir / ("gen-" + name), std::string{static_cast<char>(b0), static_cast<char>(b1)} + read_bytes(path));
  };
  emit("table", 2 << 5 | 2 << 1, 0, [](lrp::h5::File& f) {
    f.write("/x", std::vector<float>{0.5f, -1.0f, 2.0f, 3.0f, 4.0f, -5.5f}, {3, 2});
    f.write("/y", std::vector<std::int32_t>{2, 0, 7}, {3});
  });
  emit("images_uint8", 0 << 5 | 1 << 1, 1, [](lrp::h5::File& f) {
    f.write("/images", std::vector<std::uint8_t>{0, 10, 20, 30, 40, 50, 60, 70}, {2, 2, 2});
    f.write("/labels", std::vector<std::uint8_t>{1, 0}, {2, 1});
  });
  emit("nchw", 6 << 5, 0, [](lrp::h5::File& f) {
    f.write("/nchw", std::vector<double>{1, 2, 3, 4, 5, 6, 7, 8}, {2, 1, 2, 2});
  });
  emit("nhwc_float_labels", 3 << 5 | 2 << 1 | 1, 0, [](lrp::h5::File& f) {
    f.write("/data", std::vector<std::int32_t>{1, -2, 3, -4, 5, -6, 7, -8}, {1, 2, 2, 2});
    f.write("/y", std::vector<double>{3.0}, {1});
  });
  emit("sequences_lengths", 1 << 5 | 1 << 3, 0, [](lrp::h5::File& f) {
    f.write("/inputs", std::vector<float>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}, {2, 3, 2});
    f.write("/lengths", std::vector<std::int64_t>{3, 1}, {2});
  });
  emit("group", 7 << 5 | 3 << 3, 0, [](lrp::h5::File& f) {
    f.create_group("/g");
    f.write("/g/x", std::vector<std::uint64_t>{1, 2, 3, 4}, {2, 2});
    f.write("/len", std::vector<std::int64_t>{2, 1}, {2, 1});
  });
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s CORPUS_ROOT (tests/fuzz/corpus)\n", argv[0]);
    return 2;
  }
  const fs::path root = argv[1];
  const fs::path tmp = fs::temp_directory_path() / "lrp_fuzz_make_seeds";
  fs::create_directories(tmp);
  lrp::Registry registry;
  lrp::register_builtins(registry);
  registry.freeze();
  model_files(root / "model_file", registry, tmp);
  idx_files(root / "idx");
  csv_files(root / "csv");
  hdf5_data_files(root / "hdf5_data", tmp);
  fs::remove_all(tmp);
  return 0;
}
