// lrp::compare_results and `lrplab compare`: two runs of one config agree in every dataset and
// attribute but their circumstances; a different seed shows up exactly where the seed matters.
#include "experiment_support.hpp"
#include "run_command.hpp"
#include "temp_dir.hpp"
#include "test_util.hpp"

#include "lrp/experiment/experiment.hpp"
#include "lrp/experiment/results_compare.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <fstream>
#include <string>
#include <sys/wait.h>
#include <vector>

using namespace lrp_test;

TEST_CASE("Results files of one config agree, and a different seed differs where the seed matters", "[experiment][compare]") {
  const QuietLog quiet;
  const TempDir dir("lrp_compare");
  const std::string model = std::string(LRP_TEST_FIXTURES) + "/../../models/fmnist_cnn.h5";
  const std::string config = dir.file("c.yaml");
  std::ofstream(config) << "seed: 2\ndata:\n  format: idx\n"
                           "  images: /usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz\n"
                           "  labels: /usr/share/datasets/fashion-mnist/t10k-labels-idx1-ubyte.gz\n"
                           "  subset: {begin: 0, end: 8}\n"
                           "model: {file: " << model << "}\n"
                           "explain: [gradient, random]\n"
                           "evaluate: {pixel_flipping: {patch: 7, random_repeats: 2}}\n"
                           "output: {results: unused.h5}\n";
  auto run = [&](const std::string& name, const std::vector<std::string>& more) {
    std::vector<std::string> overrides{"output.results=" + dir.file(name)};
    overrides.insert(overrides.end(), more.begin(), more.end());
    (void)lrp::run_experiment(lrp::read_experiment_config(config, overrides, builtins()), builtins());
    return dir.file(name);
  };
  const std::string a = run("a.h5", {}), b = run("b.h5", {}), other = run("other.h5", {"seed=3"});
  const lrp::ResultsComparison same = lrp::compare_results(a, b);
  INFO(same.differences.size() << " differences, first: " << (same.differences.empty() ? "" : same.differences[0]));
  CHECK(same.differences.empty());
  CHECK(same.datasets > 20);
  const lrp::ResultsComparison changed = lrp::compare_results(a, other);
  auto has = [&](const std::string& d) {
    return std::find(changed.differences.begin(), changed.differences.end(), d) != changed.differences.end();
  };
  CHECK(has("/explanations/random/relevance"));
  CHECK(has("/metrics/pixel_flipping/gradient/random"));  // the random orders
  CHECK(has("/meta @seed"));
  CHECK_FALSE(has("/explanations/gradient/relevance"));
  CHECK_FALSE(has("/model/logits"));

  int status = 0;
  std::string out = run_command(std::string(LRPLAB_EXE) + " compare " + a + " " + b, status);
  CHECK(WEXITSTATUS(status) == 0);
  CHECK_THAT(out, Catch::Contains("the results agree"));
  out = run_command(std::string(LRPLAB_EXE) + " compare " + a + " " + other, status);
  CHECK(WEXITSTATUS(status) == 2);
  CHECK_THAT(out, Catch::Contains("differs: /explanations/random/relevance"));
  out = run_command(std::string(LRPLAB_EXE) + " compare " + a + " " + dir.file("missing.h5"), status);
  CHECK(WEXITSTATUS(status) == 1);
  CHECK_THAT(out, Catch::Contains("missing.h5"));
}
