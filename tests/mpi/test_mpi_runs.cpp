// Multi-process runs (built with -DLRP_MPI=ON): `mpirun -n K lrplab run CONFIG` on 2 and 3 ranks
// writes the results file a single process writes, value for value (every dataset and every
// attribute but the times, the host, the run id and the rank count); a model trained by the run is trained on
// rank 0 and explained by all; a failing rank fails the whole run with its message and leaves no
// results file.
#include "experiment_support.hpp"
#include "run_command.hpp"
#include "temp_dir.hpp"
#include "test_util.hpp"

#include "lrp/io/hdf5.hpp"
#include "lrp/experiment/results_compare.hpp"

#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>
#include <string>
#include <vector>

namespace {

using Catch::Matchers::Contains;
namespace h5 = lrp::h5;

const std::string kRoot = std::string(LRP_TEST_FIXTURES) + "/../..";

// `lrplab run CONFIG --set output.results=RESULTS EXTRA`, on `ranks` MPI processes (0: plain, no
// mpirun), with `environment` ("NAME=value ...") added to the environment mpirun passes on.
std::string lrplab(int ranks, const std::string& config, const std::string& results, int& status,
                   const std::string& extra = "", const std::string& environment = "") {
  std::string command = environment.empty() ? "" : "env " + environment + " ";
  if (ranks > 0) {
    command += std::string(LRP_MPIEXEC) + " -n " + std::to_string(ranks) + " --oversubscribe";
    if (::geteuid() == 0) command += " --allow-run-as-root";
    command += " ";
  }
  command += std::string(LRPLAB_EXE) + " run " + config + " --set output.results=" + results + extra;
  return lrp_test::run_command(command, status);
}

std::string listed(const std::vector<std::string>& items) {
  std::string out;
  for (const std::string& item : items) out += item + "\n";
  return out;
}

// Every difference between two results files (lrp::compare_results), and how many datasets were compared.
std::vector<std::string> differences(const std::string& pa, const std::string& pb, std::size_t& datasets) {
  const lrp::ResultsComparison c = lrp::compare_results(pa, pb);
  datasets = c.datasets;
  return c.differences;
}

// The opening of a config: seed 5, threads, batch_size, Fashion-MNIST test images [begin, end) and
// a committed model (models/<model>).
std::string fashion_mnist_run(int threads, int batch_size, int begin, int end, const std::string& model) {
  return "seed: 5\nthreads: " + std::to_string(threads) + "\nbatch_size: " + std::to_string(batch_size) +
         "\ndata:\n  format: idx\n  images: /usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz\n"
         "  labels: /usr/share/datasets/fashion-mnist/t10k-labels-idx1-ubyte.gz\n  subset: {begin: " +
         std::to_string(begin) + ", end: " + std::to_string(end) + "}\nmodel: {file: " + kRoot + "/models/" + model +
         "}\n";
}

std::string write(const lrp_test::TempDir& dir, const std::string& name, const std::string& text) {
  const std::string path = dir.file(name);
  std::ofstream(path) << text;
  return path;
}

// The config run as one process; returns its results file.
std::string run_single(const lrp_test::TempDir& dir, const std::string& config) {
  int status = 0;
  const std::string single = dir.file("single.h5");
  const std::string out = lrplab(0, config, single, status);
  INFO(out);
  REQUIRE(status == 0);
  return single;
}

// The config on `ranks` MPI processes writes `single`'s numbers, more than `min_datasets` of them.
void check_same_on_ranks(const lrp_test::TempDir& dir, const std::string& config, const std::string& single, int ranks,
                         std::size_t min_datasets) {
  int status = 0;
  const std::string results = dir.file("ranks" + std::to_string(ranks) + ".h5");
  const std::string out = lrplab(ranks, config, results, status);
  INFO(ranks << " ranks:\n" << out);
  REQUIRE(status == 0);
  CHECK_THAT(out, Contains("MPI, " + std::to_string(ranks) + " ranks"));
  std::size_t datasets = 0;
  const std::vector<std::string> diff = differences(single, results, datasets);
  INFO("differences:\n" << listed(diff));
  CHECK(diff.empty());
  CHECK(datasets > min_datasets);
  CHECK(h5::File::open(results).int_attribute("/meta", "ranks") == ranks);
  CHECK(h5::File::open(results).string_attribute("/meta", "cluster") == "MPI, " + std::to_string(ranks) + " ranks");
}

}  // namespace

TEST_CASE("MPI runs on 2 and 3 ranks write the single-process results file, value for value", "[mpi]") {
  const lrp_test::TempDir dir("lrp_mpi_runs");
  // 30 images in 4 batches of 8 (the last one short) and 9 methods: 36 units of work for 2 or 3 ranks.
  const std::string config =
      write(dir, "experiment.yaml", fashion_mnist_run(2, 8, 100, 130, "fmnist_cnn.h5") + R"(target: predicted
explain:
  - {name: egb, preset: epsilon_gamma_box, sweep: {gamma: [0.1, 1]}}
  - epsilon_plus_flat
  - gradient
  - gradient_x_input
  - {name: ig, kind: integrated_gradients, params: {steps: 4}}
  - {name: sg, kind: smoothgrad, params: {samples: 3}}
  - {name: occ, kind: occlusion, params: {window: 7}}
  - random
evaluate:
  conservation: true
  pixel_flipping: {patch: 7, random_repeats: 3, fill: uniform}
  sparseness: true
  complexity: true
  effective_complexity: true
  faithfulness_correlation: {runs: 8, subset_size: 40}
  sensitivity_n: {sizes: 3, subsets: 4}
  selectivity: {patch: 7}
  irof: {patch: 7}
  insertion_deletion: {step: 98}
  road: {first: 10, last: 90, step: 40}
  sensitivity: {samples: 3}
  local_lipschitz: {samples: 2}
  model_randomisation: true
  random_logit: true
output: {results: unused.h5, layer_relevance: [conv2, fc1]}
)");
  const std::string single = run_single(dir, config);
  // Started without mpirun, the MPI build runs as one process and never initializes MPI (which
  // would start Open MPI's singleton daemon).
  CHECK(h5::File::open(single).string_attribute("/meta", "cluster") == "1 process");
  // relevance, conservation and pixel-flipping datasets of 9 methods are compared
  for (const int ranks : {2, 3}) check_same_on_ranks(dir, config, single, ranks, 250);
  int status = 0;
  // The comparison is not blind: a different seed changes the random methods, the pixel-flipping
  // noise and orders.
  const std::string other = dir.file("other_seed.h5");
  (void)lrplab(2, config, other, status, " --set seed=6");
  REQUIRE(status == 0);
  std::size_t datasets = 0;
  const std::vector<std::string> diff = differences(single, other, datasets);
  CHECK(std::find(diff.begin(), diff.end(), "/explanations/random/relevance") != diff.end());
  CHECK(std::find(diff.begin(), diff.end(), "/metrics/pixel_flipping/egb@gamma=0.1/random") != diff.end());
  CHECK(std::find(diff.begin(), diff.end(), "/metrics/faithfulness_correlation/egb@gamma=0.1/faithfulness_correlation") !=
        diff.end());
  CHECK(std::find(diff.begin(), diff.end(), "/metrics/road/random/morf_correct") != diff.end());
  CHECK(std::find(diff.begin(), diff.end(), "/explanations/egb@gamma=0.1/relevance") == diff.end());
}

TEST_CASE("An MPI run of the residual network matches the single process, value for value", "[mpi][graph]") {
  const lrp_test::TempDir dir("lrp_mpi_resnet");
  const std::string config =
      write(dir, "resnet.yaml", fashion_mnist_run(1, 4, 200, 214, "fmnist_resnet.h5") + R"(explain:
  [epsilon_gamma_box, epsilon_plus_flat, gradient, random]
evaluate:
  conservation: true
  pixel_flipping: {patch: 7, random_repeats: 2, fill: uniform}
output: {results: unused.h5}
)");
  const std::string single = run_single(dir, config);
  check_same_on_ranks(dir, config, single, 2, 30);
}

TEST_CASE("An MPI run with several targets per sample matches the single process value for value", "[mpi][multi_target]") {
  const lrp_test::TempDir dir("lrp_mpi_multi_target");
  // 10 images × 2 targets in batches of 3 samples (6 rows; the last batch short).
  const std::string config =
      write(dir, "targets.yaml", fashion_mnist_run(1, 3, 300, 310, "fmnist_cnn.h5") + R"(target: {top_k: 2}
explain: [epsilon_plus_flat, gradient, random]
evaluate:
  conservation: true
  pixel_flipping: {patch: 7, random_repeats: 2, fill: uniform}
  sparseness: true
output: {results: unused.h5, layer_relevance: [fc1]}
)");
  const std::string single = run_single(dir, config);
  lrp::h5::Dims dims;
  const h5::File file = h5::File::open(single);
  (void)file.read<double>("/explanations/gradient/relevance", &dims);
  CHECK(dims == lrp::h5::Dims{10, 2, 1, 28, 28});
  (void)file.read<double>("/metrics/pixel_flipping/gradient/morf", &dims);  // 16 patches of 7 × 7
  CHECK(dims == lrp::h5::Dims{10, 2, 17});
  check_same_on_ranks(dir, config, single, 2, 20);
}

TEST_CASE("An MPI run trains the model on rank 0 and every rank explains with it", "[mpi]") {
  const lrp_test::TempDir dir("lrp_mpi_train");
  const std::string config = write(dir, "experiment.yaml", R"(seed: 4
threads: 1
batch_size: 4
data: {format: synthetic, shape: [1, 8, 8], count: 10, classes: 3, seed: 9}
)" + lrp_test::kTrainedHereModel + R"(  training: {epochs: 2, batch_size: 16}
explain: [epsilon_plus, gradient, random]
evaluate: {conservation: true, pixel_flipping: {patch: 2, random_repeats: 2}}
output: {results: unused.h5}
)");
  int status = 0;
  const std::string single = dir.file("single.h5"), three = dir.file("three.h5");
  const std::string out1 = lrplab(0, config, single, status);
  INFO(out1);
  REQUIRE(status == 0);
  const std::string out3 = lrplab(3, config, three, status);
  INFO(out3);
  REQUIRE(status == 0);
  std::size_t datasets = 0;
  const std::vector<std::string> diff = differences(single, three, datasets);
  INFO("differences:\n" << listed(diff));
  CHECK(diff.empty());
  CHECK(h5::File::open(three).string_attribute("/model", "file") == "(trained by this run)");
}

TEST_CASE("A rank that fails fails the whole MPI run with its message, and no results file is written", "[mpi]") {
  const lrp_test::TempDir dir("lrp_mpi_fail");
  // Rank 1 explains the second unit: its method throws there only (the test plugin method fails on
  // the rank named by LRP_TEST_FAIL_RANK).
  const std::string config = write(dir, "experiment.yaml", R"(seed: 1
plugins: [)" + std::string(LRP_TEST_PLUGIN_BAD_METHODS) + R"(]
data: {format: synthetic, shape: [6], count: 8, classes: 3}
model: {file: )" + write(dir, "mlp.yaml", "name: mlp\ninput_shape: [6]\nlayers:\n  - {kind: dense, out: 3}\n") + R"(}
explain: [gradient, fails_on_one_rank]
output: {results: unused.h5}
)");
  int status = 0;
  const std::string results = dir.file("results.h5");
  const std::string out = lrplab(2, config, results, status, "", "LRP_TEST_FAIL_RANK=1");
  INFO(out);
  CHECK(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) != 0);
  CHECK_THAT(out, Contains("error: rank 1: method 'fails_on_one_rank'") && Contains("failing on rank 1 as asked"));
  CHECK_FALSE(std::filesystem::exists(results));
  // The same config on 2 ranks without the failure writes its results.
  (void)lrplab(2, config, results, status);
  CHECK(status == 0);
  CHECK(std::filesystem::exists(results));
}
