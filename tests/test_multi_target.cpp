// Several targets per sample (`target: [3, 5]`, `{top_k: k}`, `all`): each sample is explained once
// per target from one forward pass. Checked on real Fashion-MNIST images with the committed CNN:
// every (sample, target) map, ledger and pixel-flipping or insertion/deletion curve and score equals
// that of a run with that one class as its target; top_k against an independent sort of the stored
// logits; the results layout ([N, K] ahead of every per-row array); the config errors;
// and the row-repeating helpers the run shares its forward pass with.
#include "experiment_support.hpp"
#include "fixture_rows.hpp"
#include "temp_dir.hpp"
#include "test_util.hpp"

#include "lrp/experiment/experiment.hpp"
#include "lrp/io/hdf5.hpp"
#include "lrp/io/model_file.hpp"
#include "lrp/nn/network.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <numeric>
#include <optional>
#include <string>
#include <vector>

using namespace lrp_test;
using Catch::Contains;
using lrp::Index;

namespace {

constexpr Index kSamples = 12;

// The committed CNN on the first 12 Fashion-MNIST test images with epsilon_plus_flat and the
// gradient, conservation (with the layer ledger), pixel flipping (16 patches of 7 × 7, 2 random
// orders), insertion/deletion (98 pixels a step) and heatmaps; `target` is the config's target.
std::string write_config(const TempDir& dir, const std::string& name, const std::string& target) {
  const std::string config = dir.file(name + ".yaml");
  std::ofstream(config) << "seed: 4\nthreads: 2\nbatch_size: 5\n"
                           "data:\n  format: idx\n"
                           "  images: " << kFashionMnistDir << "/t10k-images-idx3-ubyte.gz\n"
                           "  labels: " << kFashionMnistDir << "/t10k-labels-idx1-ubyte.gz\n"
                           "  subset: {begin: 0, end: " << kSamples << "}\n"
                           "model: {file: " << kModelsDir << "/fmnist_cnn.h5}\n"
                           "target: " << target << "\n"
                           "explain:\n  - epsilon_plus_flat\n  - gradient\n"
                           "evaluate:\n  conservation: true\n  pixel_flipping: {patch: 7, random_repeats: 2}\n"
                           "  insertion_deletion: {step: 98}\n"
                           "output:\n  results: " << dir.file(name + ".h5") << "\n"
                           "  heatmaps: " << dir.file(name + "_pictures") << "\n  heatmap_samples: 2\n";
  return config;
}

lrp::h5::File run(const TempDir& dir, const std::string& name, const std::string& target) {
  (void)lrp::run_experiment(lrp::read_experiment_config(write_config(dir, name, target), {}, builtins()), builtins());
  return lrp::h5::File::open(dir.file(name + ".h5"));
}

std::vector<Index> ints(const lrp::h5::File& f, const std::string& dataset, lrp::h5::Dims* dims = nullptr) {
  std::vector<Index> out;
  for (const std::int64_t v : f.read<std::int64_t>(dataset, dims)) out.push_back(static_cast<Index>(v));
  return out;
}

// Rows k, k + K, k + 2K, ... of m (one target column of a multi-target dataset).
Eigen::MatrixXd column_rows(const Eigen::MatrixXd& m, Index k, Index per) {
  Eigen::MatrixXd out(m.rows() / per, m.cols());
  for (Index i = 0; i < out.rows(); ++i) out.row(i) = m.row(i * per + k);
  return out;
}

// |a − b| ≤ tol · max|b| over the whole matrix: the same explanation computed on another batch
// (float32: Eigen's products sum in another order).
void check_close(const Eigen::MatrixXd& a, const Eigen::MatrixXd& b, double tol) {
  REQUIRE(a.rows() == b.rows());
  REQUIRE(a.cols() == b.cols());
  const double scale = b.cwiseAbs().maxCoeff();
  REQUIRE(scale > 0);
  CHECK((a - b).cwiseAbs().maxCoeff() <= tol * scale);
}

const double kTol = tol(2e-5, 1e-10);

}  // namespace

TEST_CASE("A list of targets explains every sample for each class as single-class runs do", "[multi_target][real][experiment]") {
  const QuietLog quiet;
  const TempDir dir("lrp_multi_target");
  const lrp::h5::File multi = run(dir, "multi", "[3, 5]");
  const Index per = 2;

  lrp::h5::Dims dims;
  (void)multi.read<double>("/explanations/epsilon_plus_flat/relevance", &dims);
  CHECK(dims == lrp::h5::Dims{kSamples, per, 1, 28, 28});
  const std::vector<Index> targets = ints(multi, "/model/targets", &dims);
  CHECK(dims == lrp::h5::Dims{kSamples, per});
  for (Index i = 0; i < kSamples; ++i) {
    CHECK(targets[static_cast<std::size_t>(i * per)] == 3);
    CHECK(targets[static_cast<std::size_t>(i * per + 1)] == 5);
  }
  // One entry per sample in /data and /model/logits, as a single-target run writes them.
  (void)multi.read<double>("/data/inputs", &dims);
  CHECK(dims == lrp::h5::Dims{kSamples, 1, 28, 28});
  (void)multi.read<double>("/model/logits", &dims);
  CHECK(dims == lrp::h5::Dims{kSamples, 10});
  CHECK(ints(multi, "/data/indices") == [] {
    std::vector<Index> v(kSamples);
    std::iota(v.begin(), v.end(), Index{0});
    return v;
  }());
  CHECK(multi.int_attribute("/model", "targets_per_sample") == per);
  CHECK(multi.string_attribute("/model", "target") == "[3, 5]");

  // Each column equals the run whose target is that class: maps, the conservation ledger per row,
  // the logits.
  const std::vector<std::pair<Index, std::string>> singles{{3, "three"}, {5, "five"}};
  for (Index k = 0; k < per; ++k) {
    const auto& [cls, name] = singles[static_cast<std::size_t>(k)];
    const lrp::h5::File one = run(dir, name, std::to_string(cls));
    CHECK(read_rows(multi, "/data/inputs", kSamples) == read_rows(one, "/data/inputs", kSamples));
    CHECK(read_rows(multi, "/model/logits", kSamples) == read_rows(one, "/model/logits", kSamples));
    for (const std::string method : {"epsilon_plus_flat", "gradient"}) {
      INFO(method << ", class " << cls);
      const std::string g = "/explanations/" + method + "/relevance";
      check_close(column_rows(read_rows(multi, g, kSamples * per), k, per), read_rows(one, g, kSamples), kTol);
      const std::string c = "/metrics/conservation/" + method + "/";
      for (const std::string d : {"input_sum", "output_seed"})
        check_close(column_rows(read_rows(multi, c + d, kSamples * per), k, per), read_rows(one, c + d, kSamples), kTol);
    }
    const std::string sums = "/metrics/conservation/epsilon_plus_flat/layer_sums";
    check_close(column_rows(read_rows(multi, sums, kSamples * per), k, per), read_rows(one, sums, kSamples), kTol);
    // The metrics that perturb the input follow the target's logit or probability: the same
    // curves as the single-class run (same patches, same random orders: a sample's rows share its
    // draws), and the same scores.
    for (const std::string d : {"pixel_flipping/epsilon_plus_flat/morf", "pixel_flipping/gradient/lerf",
                                "pixel_flipping/gradient/random", "pixel_flipping/epsilon_plus_flat/aopc_morf",
                                "insertion_deletion/epsilon_plus_flat/deletion_curve",
                                "insertion_deletion/gradient/insertion"}) {
      INFO(d << ", class " << cls);
      const std::string m = "/metrics/" + d;
      check_close(column_rows(read_rows(multi, m, kSamples * per), k, per), read_rows(one, m, kSamples), kTol);
    }
  }
  // Every per-row array of the metrics leads with [N, K], as the maps do: the single-class run's
  // shape [N, …] with K after N. `rest`: the trailing dimensions, where they are known here.
  const lrp::h5::File one = lrp::h5::File::open(dir.file("five.h5"));
  const auto leading = [&](const std::string& dataset, std::optional<lrp::h5::Dims> rest) {
    INFO(dataset);
    lrp::h5::Dims d, single;
    (void)multi.read<double>(dataset, &d);
    (void)one.read<double>(dataset, &single);
    REQUIRE_FALSE(single.empty());
    CHECK(single.front() == static_cast<hsize_t>(kSamples));
    lrp::h5::Dims expected = single;
    expected.insert(expected.begin() + 1, static_cast<hsize_t>(per));
    CHECK(d == expected);
    if (rest) CHECK(lrp::h5::Dims(single.begin() + 1, single.end()) == *rest);
  };
  const std::string c = "/metrics/conservation/epsilon_plus_flat/", pf = "/metrics/pixel_flipping/gradient/";
  leading(c + "input_sum", lrp::h5::Dims{});
  leading(c + "relative_error", lrp::h5::Dims{});
  leading(c + "layer_sums", std::nullopt);
  leading(c + "bias_share", std::nullopt);
  leading(pf + "morf", lrp::h5::Dims{17});
  leading(pf + "morf_order", lrp::h5::Dims{16});
  leading(pf + "random", lrp::h5::Dims{2, 17});
  leading(pf + "random_seeds", lrp::h5::Dims{2});
  leading(pf + "abpc", lrp::h5::Dims{});
  leading("/metrics/insertion_deletion/gradient/deletion", lrp::h5::Dims{});
  leading("/metrics/insertion_deletion/gradient/insertion_curve", lrp::h5::Dims{9});
  // The pictures: the first two samples with both of their targets.
  const std::filesystem::path pictures = dir.file("multi_pictures");
  for (const std::string file : {"sample_0_class_3.png", "sample_0_class_5.png", "sample_1_class_3.png",
                                 "sample_1_class_5.png"})
    CHECK(std::filesystem::exists(pictures / "epsilon_plus_flat" / file));
  CHECK_FALSE(std::filesystem::exists(pictures / "epsilon_plus_flat" / "sample_2_class_3.png"));
}

TEST_CASE("top_k explains the k highest logits of each sample and all explains every class", "[multi_target][real][experiment]") {
  const QuietLog quiet;
  const TempDir dir("lrp_multi_target_topk");
  const Index k = 3;
  const lrp::h5::File top = run(dir, "top", "{top_k: 3}");
  const Eigen::MatrixXd logits = read_rows(top, "/model/logits", kSamples);
  const std::vector<Index> targets = ints(top, "/model/targets");
  REQUIRE(std::ssize(targets) == kSamples * k);
  for (Index i = 0; i < kSamples; ++i) {
    // An independent ranking: the class with the highest logit not yet taken, k times.
    std::vector<Index> taken;
    for (Index j = 0; j < k; ++j) {
      Index best = -1;
      for (Index c = 0; c < logits.cols(); ++c)
        if (std::find(taken.begin(), taken.end(), c) == taken.end() && (best < 0 || logits(i, c) > logits(i, best)))
          best = c;
      taken.push_back(best);
    }
    for (Index j = 0; j < k; ++j) CHECK(targets[static_cast<std::size_t>(i * k + j)] == taken[static_cast<std::size_t>(j)]);
  }
  // The seed of each row is its class's logit: the ledger's output side.
  const Eigen::MatrixXd seed = read_rows(top, "/metrics/conservation/epsilon_plus_flat/output_seed", kSamples * k);
  for (Index r = 0; r < kSamples * k; ++r)
    CHECK(seed(r, 0) == Approx(logits(r / k, targets[static_cast<std::size_t>(r)])).epsilon(1e-6));

  const lrp::h5::File all = run(dir, "all", "all");
  const std::vector<Index> every = ints(all, "/model/targets");
  REQUIRE(std::ssize(every) == kSamples * 10);
  for (Index r = 0; r < std::ssize(every); ++r) CHECK(every[static_cast<std::size_t>(r)] == r % 10);
  // Each class has a map of its own.
  const Eigen::MatrixXd maps = read_rows(all, "/explanations/gradient/relevance", kSamples * 10);
  CHECK((maps.row(0) - maps.row(1)).cwiseAbs().maxCoeff() > 0);
}

TEST_CASE("Config errors of target sets name the key and the accepted forms", "[multi_target][config]") {
  const QuietLog quiet;
  const TempDir dir("lrp_multi_target_errors");
  const auto error_of = [&](const std::string& target) {
    try {
      const lrp::ExperimentConfig c = lrp::read_experiment_config(write_config(dir, "bad", target), {}, builtins());
      (void)lrp::prepare_experiment(c, builtins());
    } catch (const lrp::Error& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  CHECK_THAT(error_of("[]"), Contains("bad.yaml:") && Contains("target: the list of classes is empty"));
  CHECK_THAT(error_of("[3, 3]"), Contains("target: class 3 is listed twice"));
  CHECK_THAT(error_of("[3, 12]"), Contains("target class 12 is out of range: the model has 10 classes"));
  CHECK_THAT(error_of("[3, -1]"), Contains("target[1] must be a whole number ≥ 0"));
  CHECK_THAT(error_of("{top_k: 0}"), Contains("target.top_k must be a whole number ≥ 1"));
  CHECK_THAT(error_of("{top_k: 11}"), Contains("target: top_k = 11 exceeds the model's 10 classes"));
  CHECK_THAT(error_of("{k: 2}"), Contains("target: unknown key 'k'; expected predicted, label, a class index"));
  CHECK_THAT(error_of("everything"), Contains("target must be predicted, label, a class index (0, 1, ...), a list of "
                                              "class indices ([3, 5]), all, or {top_k: k}, got 'everything'"));
}

TEST_CASE("A forward pass with repeated rows equals the forward pass of the repeated batch", "[multi_target][real]") {
  const lrp::Model model = lrp::load_model(kModelsDir + "/fmnist_cnn.h5", builtins());
  const lrp::Tensor x = lrp::normalize_inputs(fashion_mnist_test(0, 4).inputs, model.spec.normalization);
  const lrp::ForwardPass once = model.network.forward(x, 1);
  const lrp::ForwardPass repeated = lrp::repeat_rows(once, 3);
  const lrp::ForwardPass direct = model.network.forward(lrp::repeat_rows(x, 3), 1);
  REQUIRE(repeated.activations.size() == direct.activations.size());
  for (std::size_t v = 0; v < direct.activations.size(); ++v) {
    REQUIRE(repeated.activations[v].rows() == 12);
    for (Index r = 0; r < 12; ++r) CHECK(repeated.activations[v].row(r) == once.activations[v].row(r / 3));
    const double scale = std::max(1.0, static_cast<double>(direct.activations[v].cwiseAbs().maxCoeff()));
    CHECK((repeated.activations[v] - direct.activations[v]).cwiseAbs().maxCoeff() <= 1e-5 * scale);
  }
  CHECK(lrp::every_nth_row(lrp::repeat_rows(x, 3), 3).data == x.data);
}
