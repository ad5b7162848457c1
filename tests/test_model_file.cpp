// lrplab's HDF5 model file (save_model / load_model): save → load gives bit-identical logits, the
// stored layout is the documented one (PyTorch shapes, provenance as root attributes), a model
// written by h5py alone (tests/fixtures/hdf5/model.h5, from tests/make_hdf5_fixtures.py) gives
// PyTorch's logits, and every damaged or inconsistent file is an lrp::Error naming the file and
// what was wrong.
#include "test_util.hpp"

#include "lrp/io/model_file.hpp"
#include "lrp/io/model_yaml.hpp"
#include "lrp/propagation/canonize.hpp"
#include "lrp/io/hdf5.hpp"
#include "lrp/nn/model.hpp"

#include "hdf5_damage.hpp"
#include "temp_dir.hpp"

#include <catch2/catch.hpp>

#include <filesystem>
#include <functional>
#include <limits>
#include <map>
#include <optional>
#include <random>
#include <string>
#include <vector>

using namespace lrp_test;
using Catch::Contains;
using lrp::h5::Dims;
using lrp::h5::File;

namespace {

const std::string kFixtures = std::string(LRP_TEST_FIXTURES) + "/hdf5/";

// Conv (non-square kernel, groups, no bias), batch norm 2d and 1d, max and average pooling,
// dropout, dense without bias.
lrp::ModelSpec cnn_spec() {
  lrp::ModelSpec s;
  s.name = "test_cnn";
  s.input_shape = {2, 12, 12};
  s.normalization.mean = {0.5, 0.25};
  s.normalization.std = {0.2, 0.3};
  s.class_names = {"a", "b", "c", "d", "e"};
  s.layers = {
      {"conv2d", "conv1", {{"out_channels", {4}}, {"kernel", {3}}, {"padding", {1}}}},
      {"batchnorm", "bn1", {}},
      {"relu", "relu1", {}},
      {"maxpool2d", "pool1", {{"kernel", {2}}}},
      {"conv2d", "conv2", {{"out_channels", {6}}, {"kernel", {3, 2}}, {"padding", {1}}, {"groups", {2}}, {"bias", {0}}}},
      {"relu", "relu2", {}},
      {"avgpool2d", "pool2", {{"kernel", {2}}}},
      {"flatten", "flatten", {}},
      {"dense", "fc1", {{"out", {16}}}},
      {"batchnorm", "bn2", {{"eps", {1e-3}}}},
      {"relu", "relu3", {}},
      {"dropout", "drop", {{"p", {0.25}}}},
      {"dense", "fc2", {{"out", {5}}, {"bias", {0}}}},
  };
  return s;
}

lrp::ModelSpec mlp_spec() {
  lrp::ModelSpec s;
  s.name = "test_mlp";
  s.input_shape = {20};
  s.layers = {
      {"dense", "fc1", {{"out", {16}}}}, {"relu", "", {}},           {"dense", "fc2", {{"out", {8}}}},
      {"tanh", "", {}},                  {"dense", "fc3", {{"out", {3}}}},
  };
  return s;
}

lrp::Model make_model(const lrp::ModelSpec& spec, std::uint64_t seed) {
  lrp::Model model = lrp::build_model(spec, builtins());
  lrp::randomize_parameters(model.network, seed);
  return model;
}

Matrix logits_of(const lrp::Model& model, std::uint64_t seed) {
  const lrp::Tensor x = lrp::random_inputs(model.network.input_shape(), 7, seed, -1.0, 2.0);
  return model.network.forward(x).logits();
}

// A copy of `good` called `name`, changed by `edit`.
std::string variant(const TempDir& dir, const std::string& good, const std::string& name,
                    const std::function<void(File&)>& edit) {
  const std::string path = dir.file(name);
  std::filesystem::copy_file(good, path, std::filesystem::copy_options::overwrite_existing);
  File file = File::open_for_writing(path, "test file");
  edit(file);
  file.close();
  return path;
}

// Replaces a dataset by one of the same values (as double) in another shape or with changes.
void rewrite(File& file, const std::string& dataset, std::vector<double> values, const Dims& shape) {
  file.remove(dataset);
  file.write(dataset, values, shape);
}

}  // namespace

TEST_CASE("model file: save then load gives bit-identical parameters and logits", "[model_file]") {
  TempDir dir("lrp_test_model_file");
  for (const lrp::ModelSpec& spec : {mlp_spec(), cnn_spec()}) {
    INFO(spec.name);
    const lrp::Model model = make_model(spec, 31);
    const std::string path = dir.file(spec.name + ".h5");
    lrp::save_model(model, path);
    CHECK(lrp_test::leftovers(dir.file("")).empty());
    const lrp::Model loaded = lrp::load_model(path, builtins());

    CHECK(lrp::model_spec_to_yaml(loaded.spec) == lrp::model_spec_to_yaml(model.spec));
    REQUIRE(loaded.network.size() == model.network.size());
    for (Index l = 0; l < model.network.size(); ++l) {
      const lrp::Layer& a = model.network.layer(l);
      const lrp::Layer& b = loaded.network.layer(l);
      INFO(a.name());
      CHECK(b.name() == a.name());
      CHECK(b.kind() == a.kind());
      CHECK(bit_equal(b.params().weight, a.params().weight));
      CHECK(b.params().bias.size() == a.params().bias.size());
      CHECK((b.params().bias.array() == a.params().bias.array()).all());
      if (const auto* bn = dynamic_cast<const lrp::BatchNorm*>(&a)) {
        const auto& bn2 = dynamic_cast<const lrp::BatchNorm&>(b);
        CHECK((bn2.running_mean().array() == bn->running_mean().array()).all());
        CHECK((bn2.running_var().array() == bn->running_var().array()).all());
        CHECK(bn2.eps() == bn->eps());
      }
    }
    CHECK(bit_equal(logits_of(loaded, 5), logits_of(model, 5)));
  }
  CHECK(open_hdf5_objects() == 0);
}

TEST_CASE("model file: the stored layout is the documented one", "[model_file]") {
  TempDir dir("lrp_test_model_file");
  const lrp::Model model = make_model(cnn_spec(), 8);
  const std::string path = dir.file("cnn.h5");
  lrp::save_model(model, path);

  const File file = File::open(path);
  CHECK(file.string_attribute("/", "format") == "lrplab-model");
  CHECK(file.int_attribute("/", "format_version") == 1);
  CHECK(file.attribute_type("/", "format_version").type_class == lrp::h5::TypeClass::kInteger);
  CHECK(file.string_attribute("/", "name") == "test_cnn");
  CHECK(file.attribute_type("/", "test_accuracy").name() == "float64");
  CHECK(file.double_attribute("/", "test_accuracy") == -1.0);
  CHECK(file.attribute_names("/") ==
        std::vector<std::string>{"config", "created", "epochs", "format", "format_version", "lrplab_version", "name",
                                 "seed", "source", "test_accuracy", "train_accuracy", "validation_accuracy"});
  CHECK(file.read_string("/architecture") == lrp::model_spec_to_yaml(model.spec));
  CHECK(file.children("/") == std::vector<std::string>{"architecture", "weights"});
  // Layers with trainable parameters only: no pooling (average pooling's kernel is implicit), no dropout.
  CHECK(file.children("/weights") == std::vector<std::string>{"bn1", "bn2", "conv1", "conv2", "fc1", "fc2"});
  CHECK(file.children("/weights/conv1") == std::vector<std::string>{"bias", "weight"});
  CHECK(file.children("/weights/conv2") == std::vector<std::string>{"weight"});
  CHECK(file.children("/weights/fc2") == std::vector<std::string>{"weight"});
  CHECK(file.children("/weights/bn1") == std::vector<std::string>{"bias", "running_mean", "running_var", "weight"});

  // PyTorch's shapes, the build's precision.
  CHECK(file.dataset_info("/weights/conv1/weight").shape == Dims{4, 2, 3, 3});
  CHECK(file.dataset_info("/weights/conv2/weight").shape == Dims{6, 2, 3, 2});
  CHECK(file.dataset_info("/weights/fc1/weight").shape == Dims{16, 54});
  CHECK(file.dataset_info("/weights/fc1/bias").shape == Dims{16});
  CHECK(file.dataset_info("/weights/bn1/weight").shape == Dims{4});
  CHECK(file.dataset_info("/weights/bn2/running_var").shape == Dims{16});
  CHECK(file.dataset_info("/weights/conv1/weight").type.name() == lrp::scalar_name());

  // The conv weight [out, in/groups, kh, kw] holds the bytes of lrplab's [out, in/groups·kh·kw] matrix.
  const Matrix& w = model.network.layer(model.network.index_of("conv2")).params().weight;
  const std::vector<Scalar> stored = file.read<Scalar>("/weights/conv2/weight");
  CHECK(std::vector<Scalar>(w.data(), w.data() + w.size()) == stored);
  const auto& bn = dynamic_cast<const lrp::BatchNorm&>(model.network.layer(model.network.index_of("bn1")));
  CHECK(file.read<Scalar>("/weights/bn1/running_mean") ==
        std::vector<Scalar>(bn.running_mean().data(), bn.running_mean().data() + 4));
}

TEST_CASE("model file: provenance round-trips - an empty version and time are filled in", "[model_file]") {
  TempDir dir("lrp_test_model_file");
  lrp::Model model = make_model(mlp_spec(), 3);
  model.provenance.source = "trained by lrplab";
  model.provenance.config = "model: mlp.yaml\ntrain:\n  epochs: 12\n";
  model.provenance.seed = std::numeric_limits<std::uint64_t>::max() - 1;
  model.provenance.epochs = 12;
  model.provenance.train_accuracy = 0.9875;
  model.provenance.validation_accuracy = 0.9;
  model.provenance.test_accuracy = 0.8125;
  model.provenance.lrplab_version = "9.9.9";
  model.provenance.created = "2024-06-11T12:34:56Z";
  const std::string path = dir.file("mlp.h5");
  lrp::save_model(model, path);
  const lrp::Provenance p = lrp::load_model(path, builtins()).provenance;
  CHECK(p.source == model.provenance.source);
  CHECK(p.config == model.provenance.config);
  CHECK(p.seed == model.provenance.seed);
  CHECK(p.epochs == 12);
  CHECK(p.train_accuracy == 0.9875);
  CHECK(p.validation_accuracy == 0.9);
  CHECK(p.test_accuracy == 0.8125);
  CHECK(p.lrplab_version == "9.9.9");
  CHECK(p.created == "2024-06-11T12:34:56Z");
  CHECK(File::open(path).double_attribute("/", "test_accuracy") == 0.8125);

  model.provenance = {};
  lrp::save_model(model, path);  // replaces the file
  const lrp::Provenance q = lrp::load_model(path, builtins()).provenance;
  CHECK(q.lrplab_version == LRP_VERSION);
  REQUIRE(q.created.size() == 20);  // 2024-06-11T12:34:56Z
  CHECK(q.created[10] == 'T');
  CHECK(q.created.back() == 'Z');
  CHECK(q.seed == 0);
  CHECK(q.test_accuracy == -1.0);
  CHECK(q.source.empty());
}

TEST_CASE("model file: saving a network that does not match its spec, or into a missing directory, fails",
          "[model_file]") {
  TempDir dir("lrp_test_model_file");
  lrp::Model model = make_model(cnn_spec(), 4);
  lrp::canonize_batch_norm(model.network);
  const std::string path = dir.file("canonized.h5");
  REQUIRE_THROWS_WITH(lrp::save_model(model, path),
                      Contains("cannot save model file '" + path + "'") && Contains("layer 1 is 'bn1' (identity)") &&
                          Contains("before canonizing"));
  CHECK(dir.listing().empty());

  const lrp::Model good = make_model(mlp_spec(), 4);
  const std::string nowhere = dir.file("missing/model.h5");
  REQUIRE_THROWS_WITH(lrp::save_model(good, nowhere),
                      Contains("cannot write model file '" + nowhere + "'") && Contains("does not exist"));
  CHECK(dir.listing().empty());
}

TEST_CASE("model file: weights in the other float precision load too", "[model_file]") {
  TempDir dir("lrp_test_model_file");
  const lrp::Model model = make_model(mlp_spec(), 12);
  const std::string good = dir.file("good.h5");
  lrp::save_model(model, good);
  // Every weight rewritten in the other precision with the same values (exact both ways).
  const std::string other = variant(dir, good, "other.h5", [&](File& f) {
    for (const std::string& layer : f.children("/weights"))
      for (const std::string& name : f.children("/weights/" + layer)) {
        const std::string ds = "/weights/" + layer + "/" + name;
        Dims shape;
        const std::vector<double> values = f.read<double>(ds, &shape);
        f.remove(ds);
        if (kFloat64) {
          std::vector<float> narrow(values.begin(), values.end());
          for (float& v : narrow) v = static_cast<float>(v);
          f.write(ds, narrow, shape);
        } else {
          f.write(ds, values, shape);
        }
      }
  });
  const lrp::Model loaded = lrp::load_model(other, builtins());
  if (kFloat64) {
    CHECK(File::open(other).dataset_info("/weights/fc1/weight").type.name() == "float32");
    const Matrix& w = model.network.layer(0).params().weight;
    CHECK(bit_equal(loaded.network.layer(0).params().weight, w.cast<float>().cast<Scalar>()));
  } else {
    CHECK(File::open(other).dataset_info("/weights/fc1/weight").type.name() == "float64");
    CHECK(bit_equal(logits_of(loaded, 1), logits_of(model, 1)));
  }
  // float64 values are rounded to the nearest float in a float32 build.
  const std::string third = variant(dir, good, "third.h5", [&](File& f) {
    std::vector<double> w = f.read<double>("/weights/fc3/weight");
    w[0] = 0.1;
    rewrite(f, "/weights/fc3/weight", w, {3, 8});
  });
  CHECK(lrp::load_model(third, builtins()).network.layer(4).params().weight(0, 0) == static_cast<Scalar>(0.1));
}

TEST_CASE("model file: damaged or inconsistent files are errors naming the file and the problem", "[model_file]") {
  TempDir dir("lrp_test_model_file");
  const lrp::Model model = make_model(cnn_spec(), 21);
  const std::string good = dir.file("good.h5");
  lrp::save_model(model, good);
  const lrp::Registry& reg = builtins();
  auto load = [&](const std::string& path) { return lrp::load_model(path, reg); };
  auto in = [](const std::string& path) { return Contains("model file '" + path + "'"); };

  SECTION("missing, not HDF5, truncated, corrupt") {
    const std::string missing = dir.file("missing.h5");
    REQUIRE_THROWS_WITH(load(missing), Contains("cannot open model file '" + missing + "': no such file"));
    const std::string text = dir.file("model.yaml.h5");
    write_file_bytes(text, {'n', 'a', 'm', 'e', ':', ' ', 'x', '\n'});
    REQUIRE_THROWS_WITH(load(text), in(text) && Contains("is not an HDF5 file"));
    const std::vector<char> bytes = read_file_bytes(good);
    const std::string truncated = dir.file("truncated.h5");
    write_file_bytes(truncated, std::vector<char>(bytes.begin(), bytes.begin() + static_cast<long>(bytes.size() / 2)));
    const DamagedHdf5Scope damaged_files;
    REQUIRE_THROWS_WITH(load(truncated), in(truncated) && Contains("truncated or corrupt"));
    // Damaged superblock (version 3: the root group's object header address, bytes 36–43, under
    // the superblock's checksum). Random damage anywhere: see the next test case.
    std::vector<char> damaged = bytes;
    for (std::size_t k = 36; k < 44; ++k) damaged[k] = '\x55';
    const std::string corrupt = dir.file("corrupt.h5");
    write_file_bytes(corrupt, damaged);
    REQUIRE_THROWS_WITH(load(corrupt),
                        in(corrupt) && Contains("the HDF5 file is corrupt (HDF5: incorrect metadata checksum"));
  }
  SECTION("not an lrplab model file, or an unsupported version") {
    const std::string plain = dir.file("plain.h5");
    File::create(plain).close();
    REQUIRE_THROWS_WITH(load(plain),
                        in(plain) && Contains("is not an lrplab model file: it has no root attribute 'format'"));
    const std::string other =
        variant(dir, good, "other.h5", [](File& f) { f.set_string_attribute("/", "format", "keras"); });
    REQUIRE_THROWS_WITH(load(other), in(other) && Contains("root attribute 'format' is 'keras'; expected 'lrplab-model'"));
    const std::string numeric = variant(dir, good, "numeric.h5", [](File& f) { f.set_int_attribute("/", "format", 1); });
    REQUIRE_THROWS_WITH(load(numeric), in(numeric) && Contains("root attribute 'format' has type int64"));
    const std::string v2 = variant(dir, good, "v2.h5", [](File& f) { f.set_int_attribute("/", "format_version", 2); });
    REQUIRE_THROWS_WITH(load(v2), in(v2) && Contains("format_version 2 is not supported") &&
                                      Contains("reads format_version 1"));
    const std::string noversion = variant(dir, good, "noversion.h5", [](File& f) {
      f.set_string_attribute("/", "format_version", "one");
    });
    REQUIRE_THROWS_WITH(load(noversion), in(noversion) && Contains("root attribute 'format_version' has type string"));
  }
  SECTION("architecture missing, not YAML, not a valid model, or naming another model") {
    const std::string none = variant(dir, good, "none.h5", [](File& f) { f.remove("/architecture"); });
    REQUIRE_THROWS_WITH(load(none), in(none) && Contains("has no architecture"));
    const std::string yaml = variant(dir, good, "yaml.h5", [](File& f) {
      f.remove("/architecture");
      f.write_string("/architecture", "name: [unclosed\nlayers: {");
    });
    REQUIRE_THROWS_WITH(load(yaml), in(yaml) && Contains("the architecture is not valid YAML") &&
                                        Contains(yaml + ":/architecture:"));
    const std::string kind = variant(dir, good, "kind.h5", [](File& f) {
      f.remove("/architecture");
      f.write_string("/architecture", "name: test_cnn\ninput_shape: [4]\nlayers:\n  - {kind: dense, name: fc, out: 2}\n"
                                      "  - {kind: softmaks, name: sm}\n");
    });
    REQUIRE_THROWS_WITH(load(kind), Contains(kind) && Contains("softmaks"));
    const std::string name = variant(dir, good, "name.h5", [](File& f) { f.set_string_attribute("/", "name", "other"); });
    REQUIRE_THROWS_WITH(load(name), in(name) && Contains("root attribute 'name' is 'other' but the architecture names "
                                                         "the model 'test_cnn'"));
    // As an h5py user may write it: the architecture as a root attribute instead of a dataset.
    const std::string as_attribute = variant(dir, good, "as_attribute.h5", [](File& f) {
      const std::string text = f.read_string("/architecture");
      f.remove("/architecture");
      f.set_string_attribute("/", "architecture", text);
    });
    CHECK(bit_equal(logits_of(load(as_attribute), 2), logits_of(model, 2)));
  }
  SECTION("missing weights") {
    const std::string group = variant(dir, good, "group.h5", [](File& f) { f.remove("/weights/conv1"); });
    REQUIRE_THROWS_WITH(load(group), in(group) && Contains("has no weights for layer 'conv1' (conv2d): group "
                                                           "'/weights/conv1' is missing"));
    const std::string bias = variant(dir, good, "bias.h5", [](File& f) { f.remove("/weights/fc1/bias"); });
    REQUIRE_THROWS_WITH(load(bias), in(bias) && Contains("dataset '/weights/fc1/bias' is missing; layer 'fc1' (dense) "
                                                         "needs it with shape [16]"));
    const std::string stats = variant(dir, good, "stats.h5", [](File& f) { f.remove("/weights/bn2/running_var"); });
    REQUIRE_THROWS_WITH(load(stats), in(stats) && Contains("dataset '/weights/bn2/running_var' is missing"));
    const std::string all = variant(dir, good, "all.h5", [](File& f) { f.remove("/weights"); });
    REQUIRE_THROWS_WITH(load(all), in(all) && Contains("has no group '/weights'; expected the weights of layers conv1, "
                                                       "bn1, conv2, fc1, bn2, fc2"));
  }
  SECTION("wrong shapes and types") {
    const std::string shape = variant(dir, good, "shape.h5", [](File& f) {
      rewrite(f, "/weights/conv1/weight", std::vector<double>(4 * 2 * 5 * 5, 0.5), {4, 2, 5, 5});
    });
    REQUIRE_THROWS_WITH(load(shape), Contains("model file '" + shape + "': dataset '/weights/conv1/weight' has shape "
                                              "[4, 2, 5, 5], expected [4, 2, 3, 3] for layer 'conv1' (conv2d)"));
    // The lrplab matrix shape is not the stored shape of a conv weight.
    const std::string flat = variant(dir, good, "flat.h5", [](File& f) {
      rewrite(f, "/weights/conv2/weight", std::vector<double>(6 * 12, 0.5), {6, 12});
    });
    REQUIRE_THROWS_WITH(load(flat), in(flat) && Contains("has shape [6, 12], expected [6, 2, 3, 2]"));
    const std::string transposed = variant(dir, good, "transposed.h5", [](File& f) {
      rewrite(f, "/weights/fc1/weight", std::vector<double>(16 * 54, 0.5), {54, 16});
    });
    REQUIRE_THROWS_WITH(load(transposed), in(transposed) && Contains("has shape [54, 16], expected [16, 54]"));
    const std::string gamma = variant(dir, good, "gamma.h5", [](File& f) {
      rewrite(f, "/weights/bn1/weight", std::vector<double>(4, 1.0), {1, 4});
    });
    REQUIRE_THROWS_WITH(load(gamma), in(gamma) && Contains("'/weights/bn1/weight' has shape [1, 4], expected [4]"));
    const std::string ints = variant(dir, good, "ints.h5", [](File& f) {
      f.remove("/weights/fc2/weight");
      f.write("/weights/fc2/weight", std::vector<std::int64_t>(5 * 16, 1), {5, 16});
    });
    REQUIRE_THROWS_WITH(load(ints), in(ints) && Contains("dataset '/weights/fc2/weight' has type int64; expected "
                                                         "float32 or float64"));
    // An architecture whose hyperparameters do not fit the stored weights.
    const std::string arch = variant(dir, good, "arch.h5", [](File& f) {
      std::string text = f.read_string("/architecture");
      const std::string from = "kernel: 3, out_channels: 4, padding: 1", to = "kernel: 5, out_channels: 4, padding: 2";
      REQUIRE(text.find(from) != std::string::npos);
      text.replace(text.find(from), from.size(), to);
      f.remove("/architecture");
      f.write_string("/architecture", text);
    });
    REQUIRE_THROWS_WITH(load(arch), Contains("model file '" + arch + "': dataset '/weights/conv1/weight' has shape "
                                             "[4, 2, 3, 3], expected [4, 2, 5, 5]"));
  }
  SECTION("non-finite weights and invalid statistics") {
    const std::string nan = variant(dir, good, "nan.h5", [](File& f) {
      std::vector<double> w = f.read<double>("/weights/fc1/weight");
      w[20] = std::nan("");
      rewrite(f, "/weights/fc1/weight", w, {16, 54});
    });
    REQUIRE_THROWS_WITH(load(nan), in(nan) && Contains("dataset '/weights/fc1/weight' contains NaN (element 20)"));
    const std::string inf = variant(dir, good, "inf.h5", [](File& f) {
      std::vector<double> v = f.read<double>("/weights/bn1/running_mean");
      v[1] = -std::numeric_limits<double>::infinity();
      rewrite(f, "/weights/bn1/running_mean", v, {4});
    });
    REQUIRE_THROWS_WITH(load(inf), in(inf) && Contains("'/weights/bn1/running_mean' contains Inf (element 1)"));
    const std::string var = variant(dir, good, "var.h5", [](File& f) {
      std::vector<double> v = f.read<double>("/weights/bn2/running_var");
      v[3] = -0.5;
      rewrite(f, "/weights/bn2/running_var", v, {16});
    });
    REQUIRE_THROWS_WITH(load(var), in(var) && Contains("'/weights/bn2/running_var' holds -0.5 (element 3); a variance "
                                                       "must be ≥ 0"));
    if (!kFloat64) {
      const std::string big = variant(dir, good, "big.h5", [](File& f) {
        std::vector<double> w = f.read<double>("/weights/fc2/weight");
        w[0] = 1e300;
        rewrite(f, "/weights/fc2/weight", w, {5, 16});
      });
      REQUIRE_THROWS_WITH(load(big), in(big) && Contains("'/weights/fc2/weight' holds float64 values outside the range "
                                                         "of float32"));
    }
  }
  SECTION("extra, unknown weight groups and datasets") {
    const std::string extra = variant(dir, good, "extra.h5", [](File& f) {
      f.write("/weights/conv9/weight", std::vector<double>{1.0}, {1});
      f.write("/weights/relu1/weight", std::vector<double>{1.0}, {1});
      f.write("/weights/pool2/weight", std::vector<double>{0.25, 0.25, 0.25, 0.25}, {1, 4});
    });
    REQUIRE_THROWS_WITH(load(extra), in(extra) && Contains("has weight groups for no layer of the model: "
                                                           "'/weights/conv9'") &&
                                         Contains("'/weights/relu1' (relu stores no weights)") &&
                                         Contains("'/weights/pool2' (avgpool2d stores no weights)") &&
                                         Contains("the layers with weights are conv1, bn1, conv2, fc1, bn2, fc2"));
    const std::string tracked = variant(dir, good, "tracked.h5", [](File& f) {
      f.write("/weights/bn1/num_batches_tracked", std::vector<std::int64_t>{100}, {});
    });
    REQUIRE_THROWS_WITH(load(tracked), in(tracked) && Contains("group '/weights/bn1' holds unknown entries "
                                                               "'num_batches_tracked'; layer 'bn1' (batchnorm) stores "
                                                               "weight, bias, running_mean, running_var"));
    const std::string bias = variant(dir, good, "bias.h5", [](File& f) {
      f.write("/weights/fc2/bias", std::vector<double>(5, 0.0), {5});
    });
    REQUIRE_THROWS_WITH(load(bias), in(bias) && Contains("unknown entries 'bias' (the layer is declared without bias)"));
  }
  SECTION("invalid provenance") {
    const std::string accuracy = variant(dir, good, "accuracy.h5", [](File& f) {
      f.set_double_attribute("/", "test_accuracy", 97.5);
    });
    REQUIRE_THROWS_WITH(load(accuracy), in(accuracy) && Contains("root attribute 'test_accuracy' is 97.5; expected an "
                                                                 "accuracy in [0, 1], or -1 for unknown"));
    const std::string epochs = variant(dir, good, "epochs.h5", [](File& f) { f.set_int_attribute("/", "epochs", -2); });
    REQUIRE_THROWS_WITH(load(epochs), in(epochs) && Contains("root attribute 'epochs' is -2"));
    const std::string seed = variant(dir, good, "seed.h5", [](File& f) { f.set_string_attribute("/", "seed", "42"); });
    REQUIRE_THROWS_WITH(load(seed), in(seed) && Contains("root attribute 'seed' has type string"));
  }
  SECTION("optional provenance may be absent") {
    // Only format, format_version, the architecture and the weights are required.
    const std::string by_hand = dir.file("by_hand.h5");
    {
      File f = File::create(by_hand);
      f.set_string_attribute("/", "format", "lrplab-model");
      f.set_int_attribute("/", "format_version", 1);
      f.write_string("/architecture", "input_shape: [3]\nlayers:\n  - {kind: dense, name: fc, out: 2}\n");
      f.write("/weights/fc/weight", std::vector<double>{1, 2, 3, 4, 5, 6}, {2, 3});
      f.write("/weights/fc/bias", std::vector<float>{0.5f, -0.5f}, {2});
    }
    const lrp::Model m = load(by_hand);
    CHECK(m.provenance.test_accuracy == -1.0);
    CHECK(m.provenance.source.empty());
    lrp::Tensor x(1, {3});
    x.data << 1, 0, -1;
    const Matrix y = m.network.forward(x).logits();
    CHECK(y(0, 0) == Scalar(-1.5));
    CHECK(y(0, 1) == Scalar(-2.5));
  }
  CHECK(open_hdf5_objects() == 0);  // also after every error above
}

TEST_CASE("model file: damage anywhere in a file lrplab wrote is reported, never loaded silently", "[model_file]") {
  // lrplab writes checksummed metadata (HDF5 1.10 format), Fletcher-32 checksummed chunks or
  // header-resident data, and fixed-length strings, so a changed byte is either unused or detected.
  TempDir dir("lrp_test_model_file");
  const lrp::Model model = make_model(cnn_spec(), 17);
  const std::string good = dir.file("good.h5");
  lrp::save_model(model, good);
  const std::vector<char> bytes = read_file_bytes(good);
  const Matrix reference = logits_of(model, 3);
  const std::string reference_yaml = lrp::model_spec_to_yaml(model.spec);
  std::mt19937_64 rng(2024);
  int detected = 0, unchanged = 0;
  for (int trial = 0; trial < 300; ++trial) {
    std::vector<char> damaged = bytes;
    const int changes = 1 + static_cast<int>(rng() % 3);
    for (int k = 0; k < changes; ++k)
      damaged[rng() % damaged.size()] ^= static_cast<char>(1 + rng() % 255);
    const std::string path = dir.file("damaged.h5");
    write_file_bytes(path, damaged);
    std::optional<lrp::Model> loaded;
    std::string error;
    {
      const DamagedHdf5Scope damaged_file;
      try {
        loaded = lrp::load_model(path, builtins());
      } catch (const lrp::Error& e) {
        error = e.what();
      }
    }
    if (loaded) {
      INFO("trial " << trial << ": the damaged file loaded; it must then be unchanged");
      CHECK(lrp::model_spec_to_yaml(loaded->spec) == reference_yaml);
      CHECK(bit_equal(logits_of(*loaded, 3), reference));
      ++unchanged;
    } else {
      CHECK_THAT(error, Contains("model file '" + path + "'"));
      ++detected;
    }
  }
  INFO("detected " << detected << ", unchanged " << unchanged);
  CHECK(detected > 250);
  CHECK(open_hdf5_objects() == 0);  // no identifier left open on any error path
}

TEST_CASE("model file: a model written by h5py alone gives PyTorch's logits", "[model_file][fixture]") {
  // tests/fixtures/hdf5/model.h5: written by tests/make_hdf5_fixtures.py (float64 weights).
  const lrp::Model model = lrp::load_model(kFixtures + "model.h5", builtins());
  CHECK(model.spec.name == "torch_cnn");
  CHECK(model.spec.input_shape == Shape{3, 8, 8});
  CHECK(model.spec.class_names == std::vector<std::string>{"ant", "bee", "cat", "dog", "eel"});
  CHECK(model.spec.normalization.std == std::vector<double>{0.25, 0.2, 0.3});
  CHECK(model.provenance.seed == 20240611);
  CHECK(model.provenance.epochs == 3);
  CHECK(model.provenance.train_accuracy == 0.5);
  CHECK(model.provenance.validation_accuracy == -1.0);
  CHECK(model.provenance.test_accuracy == 0.75);
  CHECK(model.provenance.created == "2024-06-11T00:00:00Z");
  CHECK_THAT(model.provenance.source, Contains("make_hdf5_fixtures.py"));
  CHECK(dynamic_cast<const lrp::BatchNorm&>(model.network.layer(model.network.index_of("bn2"))).eps() == 1e-3);

  const File reference = File::open(kFixtures + "reference.h5", "reference file");
  Dims input_dims, logit_dims;
  const std::vector<double> inputs = reference.read<double>("/inputs", &input_dims);
  const std::vector<double> torch_logits = reference.read<double>("/logits", &logit_dims);
  REQUIRE(input_dims == Dims{4, 3, 8, 8});
  REQUIRE(logit_dims == Dims{4, 5});
  lrp::Tensor x(4, {3, 8, 8});
  for (Index i = 0; i < x.data.size(); ++i) x.data.data()[i] = static_cast<Scalar>(inputs[static_cast<std::size_t>(i)]);
  const Eigen::MatrixXd expected =
      Eigen::Map<const Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>>(torch_logits.data(), 4, 5);
  const Matrix logits = model.network.forward(x).logits();
  const double error = relative_error(logits, expected);
  INFO("max relative error against PyTorch: " << error);
  CHECK(error <= tol(1e-5, 1e-10));
  CHECK(expected.cwiseAbs().maxCoeff() > 0.5);  // the logits are not trivially small

  // lrplab writes it in its own precision and reads it back to the same logits.
  TempDir dir("lrp_test_model_file");
  lrp::save_model(model, dir.file("resaved.h5"));
  CHECK(bit_equal(lrp::load_model(dir.file("resaved.h5"), builtins()).network.forward(x).logits(), logits));
}

// ---------------------------------------------------------------- LSTM: one dataset per PyTorch parameter

namespace {

// D = 3, H = 4 (4H = 16), two layers, bidirectional: layer 1 reads 2H = 8 features.
lrp::ModelSpec lstm_spec(bool bidirectional, Index layers) {
  lrp::ModelSpec s;
  s.name = "test_lstm";
  s.input_shape = {5, 3};
  s.layers = {{"lstm", "rnn", {{"hidden", {4}}, {"num_layers", {static_cast<double>(layers)}},
                               {"bidirectional", {bidirectional ? 1.0 : 0.0}}}},
              {"dense", "head", {{"out", {2}}}}};
  return s;
}

lrp::Model make_lstm_model(bool bidirectional, Index layers, std::uint64_t seed) {
  lrp::Model model = lrp::build_model(lstm_spec(bidirectional, layers), builtins());
  lrp::initialize_parameters(model.network, lrp::InitScheme::kHeNormal, seed);
  return model;
}

}  // namespace

TEST_CASE("model file: an lstm is stored as one dataset per PyTorch parameter and round-trips bit-identically",
          "[model_file][lstm]") {
  TempDir dir("lrp_test_model_file");
  const lrp::Model model = make_lstm_model(true, 2, 12);
  const std::string path = dir.file("lstm.h5");
  lrp::save_model(model, path);
  {
    const File file = File::open(path);
    // PyTorch's state_dict names and shapes, written out here by hand: [4H, in_k], [4H, H], [4H].
    const std::map<std::string, Dims> expected{
        {"weight_ih_l0", {16, 3}}, {"weight_hh_l0", {16, 4}}, {"bias_ih_l0", {16}}, {"bias_hh_l0", {16}},
        {"weight_ih_l0_reverse", {16, 3}}, {"weight_hh_l0_reverse", {16, 4}}, {"bias_ih_l0_reverse", {16}},
        {"bias_hh_l0_reverse", {16}}, {"weight_ih_l1", {16, 8}}, {"weight_hh_l1", {16, 4}}, {"bias_ih_l1", {16}},
        {"bias_hh_l1", {16}}, {"weight_ih_l1_reverse", {16, 8}}, {"weight_hh_l1_reverse", {16, 4}},
        {"bias_ih_l1_reverse", {16}}, {"bias_hh_l1_reverse", {16}}};
    std::vector<std::string> names;
    for (const auto& [name, dims] : expected) {
      names.push_back(name);
      CHECK(file.dataset_info("/weights/rnn/" + name).shape == dims);
    }
    CHECK(file.children("/weights/rnn") == names);  // nothing else (no packed row)
    // The values are the cell's matrices: W_hh of layer 1, reverse direction, row-major.
    const auto& lstm = dynamic_cast<const lrp::Lstm&>(model.network.layer(0));
    const lrp::LstmCellView cell = lstm.cell(lstm.params(), 1, 1);
    const std::vector<Scalar> stored = file.read<Scalar>("/weights/rnn/weight_hh_l1_reverse");
    REQUIRE(stored.size() == 64);
    for (Index r = 0; r < 16; ++r)
      for (Index c = 0; c < 4; ++c) CHECK(stored[static_cast<std::size_t>(r * 4 + c)] == cell.w_hh(r, c));
    const std::vector<Scalar> b_ih = file.read<Scalar>("/weights/rnn/bias_ih_l0_reverse");
    for (Index r = 0; r < 16; ++r) CHECK(b_ih[static_cast<std::size_t>(r)] == lstm.cell(lstm.params(), 0, 1).b_ih(r));
  }
  const lrp::Model loaded = lrp::load_model(path, builtins());
  CHECK(bit_equal(loaded.network.layer(0).params().weight, model.network.layer(0).params().weight));
  CHECK((loaded.network.layer(0).params().bias.array() == model.network.layer(0).params().bias.array()).all());
  CHECK(bit_equal(logits_of(loaded, 4), logits_of(model, 4)));

  // Without bias: no bias datasets.
  lrp::ModelSpec no_bias = lstm_spec(false, 1);
  no_bias.layers[0].params.set("bias", 0.0);
  lrp::Model plain = lrp::build_model(no_bias, builtins());
  lrp::initialize_parameters(plain.network, lrp::InitScheme::kHeNormal, 3);
  lrp::save_model(plain, dir.file("plain.h5"));
  CHECK(File::open(dir.file("plain.h5")).children("/weights/rnn") ==
        std::vector<std::string>{"weight_hh_l0", "weight_ih_l0"});
  CHECK(bit_equal(logits_of(lrp::load_model(dir.file("plain.h5"), builtins()), 2), logits_of(plain, 2)));
  CHECK(open_hdf5_objects() == 0);
}

TEST_CASE("model file: lstm datasets of the wrong shape, missing, extra or of another architecture are errors naming "
          "the dataset and both shapes",
          "[model_file][lstm]") {
  TempDir dir("lrp_test_model_file");
  const std::string good = dir.file("good.h5");
  lrp::save_model(make_lstm_model(true, 2, 5), good);
  auto load = [](const std::string& path) { return lrp::load_model(path, builtins()); };
  auto in = [](const std::string& path) { return Contains("model file '" + path + "'"); };

  const std::string transposed = variant(dir, good, "transposed.h5", [](File& f) {
    rewrite(f, "/weights/rnn/weight_ih_l0", std::vector<double>(48, 0.1), {3, 16});
  });
  REQUIRE_THROWS_WITH(load(transposed), in(transposed) && Contains("dataset '/weights/rnn/weight_ih_l0' has shape "
                                                                   "[3, 16], expected [16, 3] (it looks transposed") &&
                                            Contains("layer 'rnn' (lstm)"));
  const std::string shape = variant(dir, good, "shape.h5", [](File& f) {
    rewrite(f, "/weights/rnn/weight_ih_l1_reverse", std::vector<double>(16 * 4, 0.1), {16, 4});
  });
  REQUIRE_THROWS_WITH(load(shape), in(shape) && Contains("dataset '/weights/rnn/weight_ih_l1_reverse' has shape "
                                                         "[16, 4], expected [16, 8]"));
  const std::string bias = variant(dir, good, "bias.h5", [](File& f) {
    rewrite(f, "/weights/rnn/bias_hh_l1", std::vector<double>(32, 0.1), {32});
  });
  REQUIRE_THROWS_WITH(load(bias), in(bias) && Contains("dataset '/weights/rnn/bias_hh_l1' has shape [32], "
                                                       "expected [16]"));
  const std::string missing = variant(dir, good, "missing.h5", [](File& f) { f.remove("/weights/rnn/bias_ih_l0"); });
  REQUIRE_THROWS_WITH(load(missing), in(missing) && Contains("dataset '/weights/rnn/bias_ih_l0' is missing; layer "
                                                             "'rnn' (lstm) needs it with shape [16]"));
  // A third layer's blocks in a file for two layers.
  const std::string extra = variant(dir, good, "extra.h5", [](File& f) {
    f.write("/weights/rnn/weight_ih_l2", std::vector<double>(16 * 8, 0.1), {16, 8});
  });
  REQUIRE_THROWS_WITH(load(extra), in(extra) && Contains("group '/weights/rnn' holds unknown entries "
                                                         "'/weights/rnn/weight_ih_l2' with shape [16, 8]") &&
                                       Contains("num_layers = 2, bidirectional = 1") &&
                                       Contains("stores weight_ih_l0 [16, 3], weight_hh_l0 [16, 4]"));
  // lrplab's old packed layout.
  const std::string packed = variant(dir, good, "packed.h5", [](File& f) {
    f.write("/weights/rnn/weight", std::vector<double>(10, 0.1), {1, 10});
  });
  REQUIRE_THROWS_WITH(load(packed), in(packed) && Contains("'/weights/rnn/weight' with shape [1, 10]") &&
                                        Contains("not a packed 'weight' row"));

  // A bidirectional file for a unidirectional architecture: the reverse blocks are extra; the other way round
  // they are missing. One layer's blocks for two layers: layer 1's are missing.
  const std::string uni = dir.file("uni.h5");
  lrp::save_model(make_lstm_model(false, 2, 6), uni);
  const std::string bi_into_uni = variant(dir, uni, "bi_into_uni.h5", [](File& f) {
    f.write("/weights/rnn/weight_ih_l0_reverse", std::vector<double>(48, 0.1), {16, 3});
  });
  REQUIRE_THROWS_WITH(load(bi_into_uni), in(bi_into_uni) && Contains("'/weights/rnn/weight_ih_l0_reverse' with shape "
                                                                     "[16, 3]") &&
                                             Contains("bidirectional = 0"));
  const std::string uni_into_bi = variant(dir, good, "uni_into_bi.h5", [](File& f) {
    for (const char* name : {"weight_ih_l0_reverse", "weight_hh_l0_reverse", "bias_ih_l0_reverse", "bias_hh_l0_reverse",
                             "weight_ih_l1_reverse", "weight_hh_l1_reverse", "bias_ih_l1_reverse", "bias_hh_l1_reverse"})
      f.remove(std::string("/weights/rnn/") + name);
  });
  REQUIRE_THROWS_WITH(load(uni_into_bi), in(uni_into_bi) && Contains("dataset '/weights/rnn/weight_ih_l0_reverse' is "
                                                                     "missing; layer 'rnn' (lstm) needs it with shape "
                                                                     "[16, 3]"));
  const std::string one_layer = variant(dir, uni, "one_layer.h5", [](File& f) {
    for (const char* name : {"weight_ih_l1", "weight_hh_l1", "bias_ih_l1", "bias_hh_l1"})
      f.remove(std::string("/weights/rnn/") + name);
  });
  REQUIRE_THROWS_WITH(load(one_layer), in(one_layer) && Contains("dataset '/weights/rnn/weight_ih_l1' is missing; "
                                                                 "layer 'rnn' (lstm) needs it with shape [16, 4]"));
  CHECK(open_hdf5_objects() == 0);
}

TEST_CASE("model file: an lstm model written by h5py from torch's state_dict gives PyTorch's logits",
          "[model_file][lstm][fixture]") {
  // tests/fixtures/hdf5/lstm_model.h5: written by tests/make_sequence_fixtures.py (float64 weights of a seeded
  // nn.LSTM(4, 5, num_layers=2, bidirectional=True) + nn.Linear(10, 3) reading cat(h_n[-2], h_n[-1])).
  const lrp::Model model = lrp::load_model(kFixtures + "lstm_model.h5", builtins());
  REQUIRE(model.network.size() == 2);
  const auto& lstm = dynamic_cast<const lrp::Lstm&>(model.network.layer(0));
  CHECK(lstm.input_size() == 4);
  CHECK(lstm.hidden_size() == 5);
  CHECK(lstm.num_layers() == 2);
  CHECK(lstm.bidirectional());
  const File reference = File::open(kFixtures + "lstm_reference.h5", "reference file");
  Dims input_dims, logit_dims;
  const std::vector<double> inputs = reference.read<double>("/inputs", &input_dims);
  const std::vector<double> torch_logits = reference.read<double>("/logits", &logit_dims);
  REQUIRE(input_dims == Dims{6, 7, 4});
  REQUIRE(logit_dims == Dims{6, 3});
  lrp::Tensor x(6, {7, 4});
  for (Index i = 0; i < x.data.size(); ++i) x.data.data()[i] = static_cast<Scalar>(inputs[static_cast<std::size_t>(i)]);
  const Eigen::MatrixXd expected =
      Eigen::Map<const Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>>(torch_logits.data(), 6, 3);
  const Matrix logits = model.network.forward(x).logits();
  const double error = relative_error(logits, expected);
  INFO("max relative error against PyTorch: " << error);
  CHECK(error <= tol(1e-5, 1e-10));
  CHECK(expected.cwiseAbs().maxCoeff() > 0.1);
  // Saved by lrplab, loaded again: the same logits.
  TempDir dir("lrp_test_model_file");
  lrp::save_model(model, dir.file("resaved.h5"));
  CHECK(bit_equal(lrp::load_model(dir.file("resaved.h5"), builtins()).network.forward(x).logits(), logits));
}
