// output.layer_relevance: the relevance at chosen layers' inputs, stored per LRP method as
// /explanations/<method>/layers/<layer>. Checked on real Fashion-MNIST images with the committed
// CNN (a chain) and ResNet (a graph) against the explainer called directly on the same batch, and
// against the conservation ledger, whose per-value sums are computed by other code.
#include "experiment_support.hpp"
#include "fixture_rows.hpp"
#include "temp_dir.hpp"
#include "test_util.hpp"

#include "lrp/experiment/experiment.hpp"
#include "lrp/io/hdf5.hpp"
#include "lrp/io/model_file.hpp"
#include "lrp/propagation/canonize.hpp"
#include "lrp/propagation/explain.hpp"

#include <catch2/catch.hpp>

#include <fstream>
#include <string>
#include <vector>

using namespace lrp_test;
using lrp::Index;

namespace {

const std::string kModels = std::string(LRP_TEST_FIXTURES) + "/../../models/";

// A run of `model` on the first `n` Fashion-MNIST test images (one batch) with epsilon_gamma_box,
// LRP-0 as a rule list and the gradient; `layers` is the value of output.layer_relevance.
std::string run_config(const TempDir& dir, const std::string& model, Index n, const std::string& layers) {
  const std::string results = dir.file("layers.h5"), config = dir.file("layers.yaml");
  std::ofstream(config) << "seed: 5\nthreads: 2\n"
                           "data:\n  format: idx\n"
                           "  images: /usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz\n"
                           "  labels: /usr/share/datasets/fashion-mnist/t10k-labels-idx1-ubyte.gz\n"
                           "  subset: {begin: 0, end: " << n << "}\n"
                           "model: {file: " << kModels << model << "}\n"
                           "explain:\n"
                           "  - epsilon_gamma_box\n"
                           "  - {name: lrp0, rules: [{fallback: true, rule: zero}]}\n"
                           "  - gradient\n"
                           "evaluate: {conservation: true}\n"
                           "output: {results: " << results << ", layer_relevance: " << layers << "}\n";
  return config;
}

lrp::h5::File run(const std::string& config) {
  (void)lrp::run_experiment(lrp::read_experiment_config(config, {}, builtins()), builtins());
  return lrp::h5::File::open(std::filesystem::path(config).replace_filename("layers.h5").string());
}

// The stored map's row sums (in double) equal the conservation ledger's sums at its value
// (conservation.cpp: `layer_sums`, column `value`) up to summation order.
void check_against_ledger(const lrp::h5::File& f, const std::string& dataset, const Eigen::MatrixXd& ledger,
                          Index value, Index n) {
  const Eigen::VectorXd sums = read_rows(f, dataset, n).rowwise().sum();
  CHECK((sums - ledger.col(value)).cwiseAbs().maxCoeff() <= 1e-9 * ledger.col(value).cwiseAbs().maxCoeff());
}

}  // namespace

TEST_CASE("Layer relevance maps of a CNN run are the explainers maps at those layers inputs", "[layer_relevance][real][experiment]") {
  const QuietLog quiet;
  const TempDir dir("lrp_layer_maps");
  const Index n = 12;
  const lrp::h5::File f = run(run_config(dir, "fmnist_cnn.h5", n, "[fc1, conv2, conv1, relu3, dropout]"));

  // The explainer called directly on the run's batch: the same inputs, the same targets.
  lrp::Model model = lrp::load_model(kModels + "fmnist_cnn.h5", builtins());
  (void)lrp::canonize_batch_norm(model.network);
  const lrp::Tensor raw({1, 28, 28}, read_rows(f, "/data/inputs", n).cast<Scalar>());
  const lrp::ForwardPass pass = model.network.forward(lrp::normalize_inputs(raw, model.spec.normalization), 2);
  std::vector<Index> targets;
  for (const std::int64_t t : f.read<std::int64_t>("/model/targets")) targets.push_back(static_cast<Index>(t));
  // z^B bounds: the raw pixel range [0, 1] in network units, (v − mean) / std
  const lrp::InputNormalization& norm = model.spec.normalization;
  lrp::ParamMap bounds;
  bounds.set("low", lrp::ParamValue{(0.0 - norm.mean[0]) / norm.std[0]});
  bounds.set("high", lrp::ParamValue{(1.0 - norm.mean[0]) / norm.std[0]});
  const lrp::Explainer explainer =
      lrp::Explainer::from_composite(model.network, builtins(), builtins().make_preset("epsilon_gamma_box", bounds));
  const lrp::Explanation e = explainer.explain(pass, targets, {.keep_layer_relevance = true, .threads = 2});

  const std::string g = "/explanations/epsilon_gamma_box/layers/";
  const Eigen::MatrixXd ledger = read_rows(f, "/metrics/conservation/epsilon_gamma_box/layer_sums", n);
  CHECK(f.string_attribute("/explanations/epsilon_gamma_box/layers", "layer_names") == "conv1\nconv2\nfc1\nrelu3\ndropout\n");
  for (const std::string layer : {"conv1", "conv2", "relu3", "dropout", "fc1"}) {
    const Index l = model.network.index_of(layer), value = model.network.inputs_of(l)[0];
    INFO(layer);
    CHECK(f.string_attribute(g + layer, "layer") == layer);
    CHECK(f.int_attribute(g + layer, "index") == l);
    const lrp::Matrix stored = read_rows(f, g + layer, n).cast<Scalar>();
    CHECK(stored == e.layer_relevance[static_cast<std::size_t>(value)]);
    check_against_ledger(f, g + layer, ledger, value, n);
  }
  // shapes: the input of conv2 is pool1's [16, 14, 14] map
  const lrp::h5::DatasetInfo conv2 = f.dataset_info(g + "conv2");
  CHECK(conv2.shape == lrp::h5::Dims{12, 16, 14, 14});
  // conv1's input is the input: the stored map is the method's relevance; relu3 and dropout pass relevance on
  CHECK(read_rows(f, g + "conv1", n) == read_rows(f, "/explanations/epsilon_gamma_box/relevance", n));
  CHECK(read_rows(f, g + "relu3", n) == read_rows(f, g + "dropout", n));
  CHECK(f.exists("/explanations/lrp0/layers/fc1"));
  CHECK_FALSE(f.exists("/explanations/gradient/layers"));  // not LRP: relevance at the input only
}

TEST_CASE("Layer relevance all on the ResNet stores every one input layer and adds up to the ledger", "[layer_relevance][real][experiment][graph]") {
  const QuietLog quiet;
  const TempDir dir("lrp_layer_maps_all");
  const Index n = 4;
  const lrp::h5::File f = run(run_config(dir, "fmnist_resnet.h5", n, "all"));
  lrp::Model model = lrp::load_model(kModels + "fmnist_resnet.h5", builtins());
  const Eigen::MatrixXd ledger = read_rows(f, "/metrics/conservation/lrp0/layer_sums", n);
  Index stored = 0, merges = 0;
  for (Index l = 0; l < model.network.size(); ++l) {
    const std::string d = "/explanations/lrp0/layers/" + model.network.layer(l).name();
    INFO(d);
    if (model.network.inputs_of(l).size() != 1) {
      ++merges;
      CHECK_FALSE(f.exists(d));
      continue;
    }
    REQUIRE(f.exists(d));
    ++stored;
    check_against_ledger(f, d, ledger, model.network.inputs_of(l)[0], n);
  }
  CHECK(merges >= 3);  // the residual sums
  CHECK(stored + merges == model.network.size());
  CHECK(read_rows(f, "/explanations/lrp0/layers/stem", n) == read_rows(f, "/explanations/lrp0/relevance", n));
}

TEST_CASE("Bad output layer_relevance values are errors naming the key", "[layer_relevance][config]") {
  const QuietLog quiet;
  const TempDir dir("lrp_layer_maps_bad");
  auto error_of = [&](const std::string& model, const std::string& layers) {
    try {
      run(run_config(dir, model, 2, layers));
    } catch (const lrp::Error& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  const std::string at = dir.file("layers.yaml") + ":14:";
  std::string m = error_of("fmnist_cnn.h5", "[conv3]");
  CHECK_THAT(m, Catch::Contains(at) && Catch::Contains("has no layer 'conv3' (did you mean 'conv1'?)"));
  m = error_of("fmnist_resnet.h5", "[b1_add]");
  CHECK_THAT(m, Catch::Contains("layer 'b1_add' (add) reads 2 values"));
  m = error_of("fmnist_cnn.h5", "[fc1, fc1]");
  CHECK_THAT(m, Catch::Contains("names layer 'fc1' twice"));
  m = error_of("fmnist_cnn.h5", "everything");
  CHECK_THAT(m, Catch::Contains("must be `all` or a list of layer names"));
  CHECK_FALSE(std::filesystem::exists(dir.file("layers.h5")));
}
