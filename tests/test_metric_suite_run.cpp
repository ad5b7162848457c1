// The metric suite in experiment runs on real data (the committed CNN on Fashion-MNIST test images):
// the results file holds every metric's per-sample scores, curves and settings; the stored scores
// are the formulas applied to the stored relevance; a run repeats exactly (the metrics' independence
// of the thread count is tested on the formulas: explanations themselves round differently when a
// batch is split over threads); and bad settings are errors naming the key before anything is explained.
#include "experiment_support.hpp"
#include "temp_dir.hpp"
#include "test_util.hpp"

#include "lrp/eval/suite.hpp"
#include "lrp/experiment/experiment.hpp"
#include "lrp/experiment/results_compare.hpp"
#include "lrp/io/hdf5.hpp"

#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <iterator>

using namespace lrp_test;
using Catch::Matchers::Contains;
using lrp::Index;

namespace {

const std::string kRoot = std::string(LRP_TEST_FIXTURES) + "/../..";

std::string config_text(const std::string& results, int threads, const std::string& evaluate) {
  return "seed: 3\nthreads: " + std::to_string(threads) + R"(
batch_size: 5
data:
  format: idx
  images: /usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz
  labels: /usr/share/datasets/fashion-mnist/t10k-labels-idx1-ubyte.gz
  subset: {begin: 20, end: 32}
model: {file: )" + kRoot + R"(/models/fmnist_cnn.h5}
target: label
explain:
  - epsilon_plus_flat
  - gradient_x_input
  - random
evaluate:
  conservation: false
)" + evaluate + "output: {results: " + results + ", heatmaps: " + results + ".pictures, heatmap_samples: 2}\n";
}

const std::string kSuite = R"(  sparseness: true
  complexity: {abs: true, normalise: true}
  effective_complexity: {eps: 0.001}
  faithfulness_correlation: {runs: 12, subset_size: 60}
  sensitivity_n: {sizes: 4, subsets: 6, max_fraction: 0.5}
  selectivity: {patch: 7}
  irof: {patch: 4}
  insertion_deletion: {step: 56}
  road: {first: 10, last: 90, step: 20}
)";

std::string run(const TempDir& dir, const std::string& name, int threads, const std::string& evaluate = kSuite) {
  const std::string path = dir.file(name + ".yaml"), results = dir.file(name + ".h5");
  std::ofstream(path) << config_text(results, threads, evaluate);
  const QuietLog quiet;
  (void)lrp::run_experiment(lrp::read_experiment_config(path, {}, builtins()), builtins());
  return results;
}

std::string config_error(const TempDir& dir, const std::string& evaluate) {
  const std::string path = dir.file("bad.yaml");
  std::ofstream(path) << config_text(dir.file("bad.h5"), 1, evaluate);
  const QuietLog quiet;
  return error_of([&] { (void)lrp::run_experiment(lrp::read_experiment_config(path, {}, builtins()), builtins()); });
}

}  // namespace

TEST_CASE("metric suite runs store per-sample scores that follow the stored relevance", "[suite][experiment]") {
  const TempDir dir("lrp_suite_run");
  const std::string one = run(dir, "one", 2), two = run(dir, "two", 2);
  SECTION("a second run gives the same explanations and metrics") {
    const lrp::ResultsComparison c = lrp::compare_results(one, two);
    std::vector<std::string> results;  // (the configs differ in their threads and paths)
    for (const std::string& d : c.differences)
      if (d.rfind("/metrics", 0) == 0 || d.rfind("/explanations", 0) == 0) results.push_back(d);
    INFO(results.size() << " differences, first: " << (results.empty() ? "" : results[0]));
    CHECK(results.empty());
    CHECK(c.datasets > 60);
  }
  // The curves are drawn: the methods' mean curves, one picture per curve.
  for (const std::string picture : {"selectivity_curve.svg", "irof_curve.svg", "insertion_deletion_insertion_curve.svg",
                                    "insertion_deletion_deletion_curve.svg", "road_morf_correct.svg",
                                    "sensitivity_n_correlation.svg"}) {
    INFO(picture);
    const std::string path = one + ".pictures/" + picture;
    REQUIRE(std::filesystem::exists(path));
    std::ifstream in(path);
    const std::string svg((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    CHECK_THAT(svg, Contains("epsilon_plus_flat") && Contains("gradient_x_input") && Contains("<polyline"));
  }
  const lrp::h5::File f = lrp::h5::File::open(one);
  for (const std::string method : {"epsilon_plus_flat", "gradient_x_input", "random"}) {
    INFO(method);
    const std::vector<Scalar> relevance = f.read_scalars("/explanations/" + method + "/relevance", {12, 1, 28, 28});
    const std::vector<double> sparseness = f.read<double>("/metrics/sparseness/" + method + "/sparseness");
    const std::vector<double> effective = f.read<double>("/metrics/effective_complexity/" + method + "/effective_complexity");
    REQUIRE(sparseness.size() == 12u);
    for (Index i = 0; i < 12; ++i) {
      const std::span<const Scalar> a(relevance.data() + i * 784, 784);
      CHECK(sparseness[static_cast<std::size_t>(i)] == lrp::sparseness(a, {}));
      CHECK(effective[static_cast<std::size_t>(i)] == lrp::effective_complexity(a, {}, 0.001));
    }
    CHECK(f.double_attribute("/metrics/effective_complexity/" + method, "eps") == 0.001);
    // Every score is a number with its mean and standard error; correlations lie in [−1, 1].
    for (const std::string& score : {std::string("faithfulness_correlation/") + method + "/faithfulness_correlation",
                                     std::string("sensitivity_n/") + method + "/sensitivity_n"}) {
      for (const double v : f.read<double>("/metrics/" + score)) CHECK((std::isnan(v) || std::abs(v) <= 1.0));
    }
    const std::vector<double> correct = f.read<double>("/metrics/road/" + method + "/morf_correct");
    REQUIRE(correct.size() == 12u * 5);
    for (const double v : correct) CHECK((v == 0.0 || v == 1.0));
    lrp::h5::Dims dims;
    (void)f.read<double>("/metrics/insertion_deletion/" + method + "/deletion_curve", &dims);
    CHECK(dims == lrp::h5::Dims{12, 1 + 14});  // ⌈784 / 56⌉ steps
    (void)f.read<double>("/metrics/selectivity/" + method + "/curve", &dims);
    CHECK(dims == lrp::h5::Dims{12, 1 + 16});  // 28 = 4 · 7: a 4 × 4 grid, no padding
  }
  // The relevance-free draws are shared: the random method's faithfulness is near chance on average,
  // while LRP's exact-by-construction conservation is not what is measured here; so only check that
  // the methods' scores differ (the metric sees the relevance).
  CHECK(f.read<double>("/metrics/irof/epsilon_plus_flat/aoc") != f.read<double>("/metrics/irof/random/aoc"));
}

TEST_CASE("metric suite settings out of range are errors naming the key before explaining", "[suite][experiment]") {
  const TempDir dir("lrp_suite_errors");
  CHECK_THAT(config_error(dir, "  faithfulness_correlation: {subset_size: 784}\n"),
             Contains("evaluate.faithfulness_correlation.subset_size = 784 must be below the input's 784 features"));
  CHECK_THAT(config_error(dir, "  selectivity: {patch: 0}\n"),
             Contains("evaluate.selectivity.patch") && Contains("≥ 1"));
  CHECK_THAT(config_error(dir, "  selectivity: {patch: 29}\n"), Contains("evaluate.selectivity.patch = 29 is larger than the image"));
  CHECK_THAT(config_error(dir, "  irof: {pach: 2}\n"), Contains("unknown key 'pach' in evaluate.irof") && Contains("did you mean 'patch'?"));
  CHECK_THAT(config_error(dir, "  road: {fill: min}\n"), Contains("unknown key 'fill' in evaluate.road"));
  CHECK_THAT(config_error(dir, "  irof: {fill: black}\n"), Contains("evaluate.irof.fill 'black' is not one of mean, min, constant"));
  CHECK_THAT(config_error(dir, "  road: {first: 50, last: 20}\n"), Contains("first (50) is above last (20)"));
  CHECK_THAT(config_error(dir, "  road: {last: 100}\n"), Contains("evaluate.road.last must be below 100"));
  CHECK_THAT(config_error(dir, "  sensitivity_n: {max_fraction: 1.5}\n"),
             Contains("evaluate.sensitivity_n.max_fraction = 1.5 is outside [1e-09, 1]"));
  CHECK_THAT(config_error(dir, "  insertion_deletion: {blur_size: 4}\n"), Contains("blur_size = 4 must be odd"));
  CHECK_THAT(config_error(dir, "  sparseness: maybe\n"), Contains("evaluate.sparseness"));
  CHECK_FALSE(std::filesystem::exists(dir.file("bad.h5")));
}

TEST_CASE("a sequence task gives localisation metrics its relevant steps as masks", "[suite][experiment]") {
  const TempDir dir("lrp_suite_sequence");
  const std::string path = dir.file("seq.yaml"), results = dir.file("seq.h5");
  std::ofstream(path) << "seed: 2\nthreads: 1\ndata: {format: marked_addition, steps: 20, count: 16, seed: 12}\n"
                         "model: {file: " + kRoot + "/models/lstm_marked_addition.h5}\ntarget: predicted\n"
                         "explain:\n  - {name: gate, kind: lrp, rules: [{kind: lstm, rule: lstm_gate}, {fallback: true, rule: lstm_gate}]}\n"
                         "evaluate: {conservation: false, relevance_rank_accuracy: true}\noutput: {results: " + results + "}\n";
  {
    const QuietLog quiet;
    (void)lrp::run_experiment(lrp::read_experiment_config(path, {}, builtins()), builtins());
  }
  const lrp::h5::File f = lrp::h5::File::open(results);
  lrp::h5::Dims dims;
  const std::vector<std::int64_t> masks = f.read<std::int64_t>("/data/masks", &dims);
  REQUIRE(dims == lrp::h5::Dims{16, 20, 2});
  // marked addition: two marked steps per sequence, each with both of its features in the mask.
  for (Index i = 0; i < 16; ++i) {
    std::int64_t marked = 0;
    for (Index k = 0; k < 40; ++k) marked += masks[static_cast<std::size_t>(i * 40 + k)];
    CHECK(marked == 4);
  }
  for (const double v : f.read<double>("/metrics/relevance_rank_accuracy/gate/relevance_rank_accuracy"))
    CHECK((v >= 0.0 && v <= 1.0));
}
