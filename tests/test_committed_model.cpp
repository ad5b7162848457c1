// The trained Fashion-MNIST model committed in models/ (written by `lrplab train
// configs/fmnist_train.yaml`): it loads, matches its description, and its stored test accuracy is
// what it actually scores on the 10,000 Fashion-MNIST test images (Debian's dataset-fashion-mnist,
// which build.sh installs). Likewise the LSTM models (configs/lstm_*_train.yaml): their test
// sequences are regenerated from the data.test section of the config stored in the model file.
#include "test_util.hpp"

#include "lrp/io/model_file.hpp"
#include "lrp/io/model_yaml.hpp"
#include "lrp/experiment/config.hpp"
#include "lrp/nn/model.hpp"
#include "lrp/io/yaml_util.hpp"
#include "lrp/train/train.hpp"

#include <catch2/catch.hpp>

#include <filesystem>
#include <utility>
#include <vector>

using namespace lrp_test;


TEST_CASE("The committed Fashion-MNIST models load, match their descriptions and score their stored test accuracy",
          "[committed_model]") {
  REQUIRE(std::filesystem::exists(kFashionMnistDir + "/t10k-images-idx3-ubyte.gz"));
  const lrp::Dataset test = lrp::read_idx(kFashionMnistDir + "/t10k-images-idx3-ubyte.gz", kFashionMnistDir + "/t10k-labels-idx1-ubyte.gz");
  // The CNN (configs/fmnist_train.yaml) and the residual network (configs/fmnist_resnet_train.yaml).
  const std::vector<std::pair<std::string, double>> models{{"fmnist_cnn", 0.90}, {"fmnist_resnet", 0.93}};
  for (const auto& [name, least] : models) {
    INFO(name);
    const lrp::Model m = lrp::load_model(kModelsDir + "/" + name + ".h5", builtins());
    const lrp::ModelSpec described = lrp::read_model_spec(kModelsDir + "/" + name + ".yaml", &builtins());
    const lrp::Model fresh = lrp::build_model(described, builtins());
    CHECK(m.network.summary() == fresh.network.summary());
    CHECK(m.spec.normalization.mean == described.normalization.mean);
    CHECK(m.spec.class_names.size() == 10);
    CHECK(m.provenance.source == "trained by lrplab");
    REQUIRE(m.provenance.test_accuracy >= least);
    CHECK(std::filesystem::file_size(kModelsDir + "/" + name + ".h5") < 1'000'000);
    const lrp::Tensor x = lrp::normalize_inputs(test.inputs, m.spec.normalization);
    const lrp::Evaluation e = lrp::evaluate(m.network, x, test.labels, 500, 1);
    // Training evaluated in batches of 256 on 2 threads; other batch splits (and float64) change the
    // logits in the last bits, which may flip a near-tie or two among the 10,000 images.
    CHECK(e.accuracy == Approx(m.provenance.test_accuracy).margin(5e-4));
  }
}

TEST_CASE("The committed LSTM models load, match their descriptions and score their stored test accuracy",
          "[committed_model]") {
  for (const std::string name : {"lstm_marked_addition", "lstm_marked_addition_t50", "lstm_long_range"}) {
    INFO(name);
    const lrp::Model m = lrp::load_model(kModelsDir + "/" + name + ".h5", builtins());
    const lrp::ModelSpec described = lrp::read_model_spec(kModelsDir + "/" + name + ".yaml", &builtins());
    CHECK(m.network.summary() == lrp::build_model(described, builtins()).network.summary());
    CHECK(m.network.layer(0).kind() == "lstm");
    CHECK(m.provenance.source == "trained by lrplab");
    REQUIRE(m.provenance.test_accuracy >= 0.98);
    // The test set as the training config described it (a generated task, seeded).
    const YAML::Node config = lrp::yaml::load_text(m.provenance.config, name + " (stored config)");
    const YAML::Node test_section = config["data"]["test"];
    REQUIRE(test_section);
    const lrp::Dataset test = lrp::load_dataset(test_section, name + " (stored config)", "data.test", 0);
    CHECK(test.size() >= 1000);
    CHECK(test.source != lrp::load_dataset(config["data"]["train"], name, "data.train", 0).source);
    const lrp::Evaluation e =
        lrp::evaluate(m.network, lrp::normalize_inputs(test.inputs, m.spec.normalization), test.labels, 500, 1);
    CHECK(e.accuracy == Approx(m.provenance.test_accuracy).margin(1e-3));
  }
}


TEST_CASE("The committed shapes CNN loads and scores its stored test accuracy on the held-out shapes", "[committed_model]") {
  // configs/shapes_train.yaml: the localisation study's model (configs/shapes_localisation.yaml).
  const lrp::Model m = lrp::load_model(kModelsDir + "/shapes_cnn.h5", builtins());
  CHECK(m.provenance.source == "trained by lrplab");
  CHECK(m.spec.class_names == std::vector<std::string>{"square", "plus", "triangle", "ring"});
  REQUIRE(m.provenance.test_accuracy >= 0.99);
  CHECK(std::filesystem::file_size(kModelsDir + "/shapes_cnn.h5") < 200'000);
  const YAML::Node config = lrp::yaml::load_text(m.provenance.config, "shapes_cnn (stored config)");
  const lrp::Dataset test = lrp::load_dataset(config["data"]["test"], "shapes_cnn (stored config)", "data.test", 0);
  REQUIRE(test.size() == 2000);
  CHECK(test.masks.rows() == 2000);
  const lrp::Evaluation e =
      lrp::evaluate(m.network, lrp::normalize_inputs(test.inputs, m.spec.normalization), test.labels, 500, 1);
  CHECK(e.accuracy == Approx(m.provenance.test_accuracy).margin(1e-3));
}
