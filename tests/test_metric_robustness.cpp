// Robustness and randomisation metrics in experiment runs, with answers known in closed form: a
// linear model (trained by the run) whose gradient explanation is the target's weight row, the same
// for every input, so that noise changes nothing (sensitivity and the Lipschitz estimate are 0),
// randomising the layer replaces it by the redrawn row (the similarity is recomputed here from the
// redraw), and the random logit test compares two weight rows.
#include "experiment_support.hpp"
#include "temp_dir.hpp"
#include "test_util.hpp"

#include "lrp/core/random.hpp"
#include "lrp/eval/suite.hpp"
#include "lrp/experiment/experiment.hpp"
#include "lrp/io/hdf5.hpp"
#include "lrp/io/model_file.hpp"
#include "lrp/nn/model.hpp"

#include <catch2/catch.hpp>

#include <fstream>

using namespace lrp_test;
using lrp::Index;

namespace {

const std::string kConfig = R"(seed: 4
threads: 2
data: {format: synthetic, shape: [1, 8, 8], count: 12, classes: 3, seed: 21}
model:
  architecture:
    name: linear
    input_shape: [1, 8, 8]
    layers:
      - {kind: flatten}
      - {kind: dense, out: 3}
  train: {format: synthetic, shape: [1, 8, 8], count: 60, classes: 3, seed: 9}
  training: {epochs: 2, batch_size: 16}
  save: @DIR@/linear.h5
target: predicted
explain: [gradient, gradient_x_input, random]
evaluate:
  conservation: false
  sensitivity: {samples: 6, radius: 0.1}
  local_lipschitz: {samples: 6}
  model_randomisation: {similarity: spearman}
  random_logit: {similarity: ssim}
output: {results: @DIR@/results.h5}
)";

std::vector<double> prepared(const Eigen::RowVectorXd& row, bool abs) {
  std::vector<Scalar> v(static_cast<std::size_t>(row.size()));
  for (Index f = 0; f < row.size(); ++f) v[static_cast<std::size_t>(f)] = static_cast<Scalar>(row[f]);
  return lrp::preprocess_heatmap(v, {true, abs});
}

}  // namespace

TEST_CASE("robustness and randomisation of gradients on a linear model have their closed forms", "[suite][experiment]") {
  const TempDir dir("lrp_suite_robustness");
  const std::string folder = std::filesystem::path(dir.file("x")).parent_path().string();
  const std::string path = dir.file("config.yaml");
  std::ofstream(path) << replace_all(kConfig, "@DIR@", folder);
  {
    const QuietLog quiet;
    (void)lrp::run_experiment(lrp::read_experiment_config(path, {}, builtins()), builtins());
  }
  const lrp::h5::File f = lrp::h5::File::open(dir.file("results.h5"));
  const lrp::Model model = lrp::load_model(dir.file("linear.h5"), builtins());
  const Index dense = model.network.size() - 1;
  const Matrix w = model.network.layer(dense).params().weight;  // 3 × 64
  const std::vector<std::int64_t> targets = f.read<std::int64_t>("/model/targets");

  // The gradient is w_c whatever the input: no noise changes it.
  for (const double v : f.read<double>("/metrics/sensitivity/gradient/max")) CHECK(v == 0.0);
  for (const double v : f.read<double>("/metrics/sensitivity/gradient/avg")) CHECK(v == 0.0);
  for (const double v : f.read<double>("/metrics/local_lipschitz/gradient/local_lipschitz")) CHECK(v == 0.0);
  // Gradient × input moves with the input: strictly positive.
  for (const double v : f.read<double>("/metrics/sensitivity/gradient_x_input/avg")) CHECK(v > 0.0);

  // Model randomisation: the one dense layer redrawn; the explanation becomes the redrawn row.
  lrp::Model redrawn = lrp::load_model(dir.file("linear.h5"), builtins());
  REQUIRE(lrp::randomisable_layers(redrawn.network) == std::vector<Index>{dense});
  lrp::randomise_layer(redrawn.network.layer(dense), lrp::sample_seed(4, dense, lrp::kModelRandomisationStream));
  const Matrix w2 = redrawn.network.layer(dense).params().weight;
  const double bound = 1.0 / std::sqrt(64.0);
  CHECK(w2.cwiseAbs().maxCoeff() <= bound);
  const std::vector<double> last = f.read<double>("/metrics/model_randomisation/gradient/last");
  const std::vector<double> other = f.read<double>("/metrics/random_logit/gradient/other_class");
  const std::vector<double> logit = f.read<double>("/metrics/random_logit/gradient/random_logit");
  REQUIRE(last.size() == 12u);
  for (Index i = 0; i < 12; ++i) {
    const Index c = static_cast<Index>(targets[static_cast<std::size_t>(i)]);
    const std::vector<double> a = prepared(w.row(c).cast<double>(), true), b = prepared(w2.row(c).cast<double>(), true);
    CHECK(last[static_cast<std::size_t>(i)] == Approx(lrp::spearman(a, b)).margin(1e-12));
    const auto o = static_cast<Index>(other[static_cast<std::size_t>(i)]);
    CHECK(o != c);
    CHECK((o >= 0 && o < 3));
    const std::vector<double> ac = prepared(w.row(c).cast<double>(), false), ao = prepared(w.row(o).cast<double>(), false);
    CHECK(logit[static_cast<std::size_t>(i)] == Approx(lrp::ssim_1d(ac, ao)).margin(1e-6));
  }
  // A random heatmap ignores the model: it passes neither check.
  for (const double v : f.read<double>("/metrics/model_randomisation/random/last")) CHECK(v == Approx(1.0));
}

TEST_CASE("similarities follow their definitions on hand-worked series", "[suite]") {
  const std::vector<double> a{0.5, 2.0, 2.0, -1.0, 3.0, 0.0, 4.0, 1.0};
  // Ranks of a with ties averaged: (3, 5.5, 5.5, 1, 7, 2, 8, 4); a monotone map keeps them.
  std::vector<double> b = a;
  for (double& v : b) v = std::exp(v);
  CHECK(lrp::spearman(a, b) == Approx(1.0).margin(1e-15));
  const std::vector<double> ranks{3, 5.5, 5.5, 1, 7, 2, 8, 4}, plain{1, 2, 3, 4, 5, 6, 7, 8};
  CHECK(lrp::spearman(a, plain) == Approx(lrp::pearson(ranks, plain)).epsilon(1e-15));
  CHECK(lrp::ssim_1d(a, a) == Approx(1.0).epsilon(1e-15));
  CHECK(lrp::cosine_similarity(a, b) < 1.0);
  CHECK(lrp::cosine_similarity(a, a) == Approx(1.0).epsilon(1e-15));
  CHECK(lrp::mean_squared_error(a, plain) == Approx((0.25 + 0 + 1 + 25 + 4 + 36 + 9 + 49) / 8.0).epsilon(1e-15));
  // SSIM on 8 points: windows centred at 3 and 4. Window 1 = a[0..6], window 2 = a[1..7] against
  // the constant-shifted copy a + 1: means differ by 1, variances and covariance are equal.
  std::vector<double> shifted = a;
  for (double& v : shifted) v += 1;
  const double range = 5.0 - (-1.0);  // joint min −1, max 5
  const double c1 = (0.01 * range) * (0.01 * range), c2 = (0.03 * range) * (0.03 * range);
  double expected = 0;
  for (int start : {0, 1}) {
    double m = 0, sq = 0;
    for (int k = start; k < start + 7; ++k) m += a[static_cast<std::size_t>(k)];
    m /= 7;
    for (int k = start; k < start + 7; ++k) sq += (a[static_cast<std::size_t>(k)] - m) * (a[static_cast<std::size_t>(k)] - m);
    const double var = sq / 6;  // the sample variance
    expected += (2 * m * (m + 1) + c1) * (2 * var + c2) / ((m * m + (m + 1) * (m + 1) + c1) * (2 * var + c2)) / 2;
  }
  CHECK(lrp::ssim_1d(a, shifted) == Approx(expected).epsilon(1e-12));
  CHECK(lrp::sensitivity_ratio(std::vector<double>{3, 4}, std::vector<double>{3, 4}) == 0.0);
  CHECK(lrp::sensitivity_ratio(std::vector<double>{3, 4}, std::vector<double>{0, 0}) == 1.0);
  CHECK(lrp::lipschitz_ratio(std::vector<double>{3, 4}, std::vector<double>{0, 0}, std::vector<double>{1, 1},
                             std::vector<double>{1, 3}) == Approx(5.0 / (2.0 + 1e-10)).epsilon(1e-15));
}
