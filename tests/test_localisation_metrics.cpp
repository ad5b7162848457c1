// Localisation metrics (lrp/eval/localisation.hpp, docs/metric_suite.md, Localisation): hand-worked
// answers on a 3 × 3 image, a heatmap equal to the mask (1 on every metric) and one that is 0 on
// the object (0), ties broken by the seeded key against an oracle that ranks pixel by pixel, the ROC
// AUC against a count over all pairs, channels, undefined and invalid inputs; then an experiment
// on the shapes task whose stored scores are the formulas on the stored relevance and masks, and
// the errors that name the key before anything is explained.
#include "experiment_support.hpp"
#include "temp_dir.hpp"
#include "test_util.hpp"

#include "lrp/core/error.hpp"
#include "lrp/core/random.hpp"
#include "lrp/eval/localisation.hpp"
#include "lrp/eval/metrics.hpp"
#include "lrp/experiment/experiment.hpp"
#include "lrp/io/hdf5.hpp"
#include "lrp/io/shapes_task.hpp"

#include <catch2/catch.hpp>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <random>
#include <string>
#include <vector>

using namespace lrp_test;
using Catch::Matchers::Contains;
using lrp::Index;
using lrp::PixelScoring;

namespace {

std::span<const Scalar> view(const std::vector<Scalar>& v) { return {v.data(), v.size()}; }

// The six metrics of one sample with default parameters (k = top_k), in a fixed order.
std::vector<double> all_six(const std::vector<Scalar>& a, const std::vector<Scalar>& mask, Index top_k,
                            std::uint64_t seed, const PixelScoring& p = {}) {
  PixelScoring positive = p;
  positive.positive = true;
  return {lrp::relevance_mass_accuracy(view(a), view(mask), positive),
          lrp::relevance_rank_accuracy(view(a), view(mask), p, seed),
          lrp::pointing_game(view(a), view(mask), p, seed),
          lrp::top_k_intersection(view(a), view(mask), p, top_k, seed),
          lrp::attribution_localisation(view(a), view(mask), positive),
          lrp::roc_auc(view(a), view(mask), p)};
}

// A mask of `pixels` with each pixel on the object with probability `share` (at least one on, one off).
std::vector<Scalar> random_mask(Index pixels, double share, std::mt19937_64& rng) {
  std::vector<Scalar> m(static_cast<std::size_t>(pixels));
  for (Scalar& v : m) v = lrp::uniform01(rng) < share ? Scalar(1) : Scalar(0);
  m[0] = 1;
  m[1] = 0;
  return m;
}

// The tie key of pixel_order: each pixel's position in the seeded random permutation.
std::vector<Index> tie_keys(Index pixels, std::uint64_t seed) {
  const std::vector<Index> permutation = lrp::random_region_order(pixels, seed);
  std::vector<Index> key(permutation.size());
  for (std::size_t q = 0; q < permutation.size(); ++q) key[static_cast<std::size_t>(permutation[q])] = static_cast<Index>(q);
  return key;
}

// Oracle of the ranking metrics, pixel by pixel: pixel j's place is the number of pixels with a
// higher score plus the tied ones with a smaller key; the top n are those with place < n.
double top_share_oracle(const std::vector<Scalar>& a, const std::vector<Scalar>& mask, Index n, std::uint64_t seed) {
  const auto pixels = static_cast<Index>(a.size());
  const std::vector<Index> key = tie_keys(pixels, seed);
  Index hits = 0;
  for (Index j = 0; j < pixels; ++j) {
    Index place = 0;
    for (Index i = 0; i < pixels; ++i) {
      const auto ui = static_cast<std::size_t>(i), uj = static_cast<std::size_t>(j);
      place += a[ui] > a[uj] || (a[ui] == a[uj] && key[ui] < key[uj]);
    }
    hits += place < n && mask[static_cast<std::size_t>(j)] == Scalar(1);
  }
  return static_cast<double>(hits) / static_cast<double>(n);
}

bool same(double a, double b) { return (std::isnan(a) && std::isnan(b)) || a == b; }

}  // namespace

TEST_CASE("localisation metrics give the hand-worked answers on a 3 x 3 image", "[localisation]") {
  // Object: pixels 0, 1, 3 (K = 3). Positive relevance 25.5 in all, 16 on the object; signed 20.5.
  const std::vector<Scalar> a{9, 1, -3, 6, 4, -2, 0.5, 3, 2}, mask{1, 1, 0, 1, 0, 0, 0, 0, 0};
  PixelScoring p, positive, absolute;
  p.width = positive.width = absolute.width = 3;
  positive.positive = true;
  absolute.absolute = true;
  CHECK(lrp::relevance_mass_accuracy(view(a), view(mask), positive) == Approx(16.0 / 25.5).epsilon(1e-14));
  CHECK(lrp::relevance_mass_accuracy(view(a), view(mask), p) == Approx(16.0 / 20.5).epsilon(1e-14));
  // Top 3: 9 and 6 on the object, 4 off it.
  CHECK(lrp::relevance_rank_accuracy(view(a), view(mask), p, 1) == 2.0 / 3.0);
  CHECK(lrp::pointing_game(view(a), view(mask), p, 1) == 1.0);
  CHECK(lrp::pointing_game(view(a), view(mask), p, 1, 0.0, true) == Approx(1.0 - 3.0 / 9.0).epsilon(1e-15));
  CHECK(lrp::top_k_intersection(view(a), view(mask), p, 2, 1) == 1.0);
  CHECK(lrp::top_k_intersection(view(a), view(mask), p, 4, 1) == 0.5);  // 9, 6 on; 4, 3 off
  CHECK(lrp::top_k_intersection(view(a), view(mask), p, 4, 1, true) == Approx(0.5 * 9.0 / 3.0).epsilon(1e-15));
  // Normalised by 9 before the 1e-9 is added.
  const double mu = (16.0 / 9.0) / (25.5 / 9.0 + 1e-9);
  CHECK(lrp::attribution_localisation(view(a), view(mask), positive) == Approx(mu).epsilon(1e-14));
  CHECK(lrp::attribution_localisation(view(a), view(mask), positive, true) == Approx(mu * 9.0 / 3.0).epsilon(1e-14));
  CHECK(lrp::attribution_localisation(view(a), view(mask), absolute) ==
        Approx((16.0 / 9.0) / (30.5 / 9.0 + 1e-9)).epsilon(1e-14));
  // Pairs (object pixel, other pixel) won: 9 beats all 6, 6 beats all 6, 1 beats -3, -2, 0.5.
  CHECK(lrp::roc_auc(view(a), view(mask), p) == 15.0 / 18.0);

  SECTION("the pointing game with a tolerance on the image grid") {
    const std::vector<Scalar> off{0, 1, 0, 1, 0, 0, 0, 0, 0};  // the maximum (pixel 0) is off the object
    CHECK(lrp::pointing_game(view(a), view(off), p, 1) == 0.0);
    CHECK(lrp::pointing_game(view(a), view(off), p, 1, 0.9) == 0.0);
    CHECK(lrp::pointing_game(view(a), view(off), p, 1, 1.0) == 1.0);  // pixel 1 is one pixel away
    const std::vector<Scalar> far{0, 0, 0, 0, 0, 0, 0, 0, 1};     // pixel 8: (2, 2), √8 away
    CHECK(lrp::pointing_game(view(a), view(far), p, 1, 2.8) == 0.0);
    CHECK(lrp::pointing_game(view(a), view(far), p, 1, 2.9) == 1.0);
  }
  SECTION("signed relevance that is no share") {
    // 1 on the object, 0.5 in all: Quantus's rule makes the ratio NaN; the mass accuracy reports 2.
    const std::vector<Scalar> b{1, -1, 0.5}, m{1, 0, 0};
    CHECK(std::isnan(lrp::attribution_localisation(view(b), view(m), {})));
    CHECK(lrp::relevance_mass_accuracy(view(b), view(m), {}) == Approx(2.0).epsilon(1e-14));
    const std::vector<Scalar> cancel{1, -1, 0};  // Σ R = 0: undefined rather than infinite
    CHECK(std::isnan(lrp::relevance_mass_accuracy(view(cancel), view(m), {})));
  }
}

TEST_CASE("a heatmap equal to the mask scores 1 and one that is 0 on the object scores 0", "[localisation]") {
  std::mt19937_64 rng(lrp::sample_seed(7, 0, 1));
  for (int trial = 0; trial < 20; ++trial) {
    INFO("trial " << trial);
    std::vector<Scalar> mask = random_mask(784, 0.05 + 0.4 * lrp::uniform01(rng), rng);
    Index inside = 0;
    for (const Scalar v : mask) inside += v == Scalar(1);
    const Index k = 1 + static_cast<Index>(lrp::bounded(rng, static_cast<std::uint64_t>(inside)));
    const std::uint64_t seed = rng();
    const std::vector<double> perfect = all_six(mask, mask, k, seed);
    for (std::size_t m = 0; m < perfect.size(); ++m) {
      INFO("metric " << m);
      CHECK(perfect[m] == Approx(1.0).epsilon(1e-8));  // attribution localisation: K / (K + 1e-9)
    }
    std::vector<Scalar> outside(mask.size());
    for (std::size_t j = 0; j < mask.size(); ++j)
      outside[j] = mask[j] == Scalar(1) ? Scalar(0) : static_cast<Scalar>(0.1 + 0.9 * lrp::uniform01(rng));
    for (const double v : all_six(outside, mask, k, seed)) CHECK(v == 0.0);
    CHECK(lrp::pointing_game(view(outside), view(mask), {}, seed, 0.0, true) == 0.0);
  }
}

TEST_CASE("localisation ties are broken by the seeded key as a pixel by pixel oracle ranks them", "[localisation]") {
  std::mt19937_64 rng(lrp::sample_seed(7, 1, 1));
  SECTION("quantised maps") {
    for (int trial = 0; trial < 200; ++trial) {
      INFO("trial " << trial);
      const std::vector<Scalar> mask = random_mask(36, 0.3, rng);
      std::vector<Scalar> a(36);
      for (Scalar& v : a) v = static_cast<Scalar>(0.5 * static_cast<double>(lrp::bounded(rng, 4)));  // 0, .5, 1, 1.5
      Index inside = 0;
      for (const Scalar v : mask) inside += v == Scalar(1);
      const std::uint64_t seed = rng();
      const PixelScoring p;
      CHECK(lrp::relevance_rank_accuracy(view(a), view(mask), p, seed) == top_share_oracle(a, mask, inside, seed));
      for (const Index k : {1, 5, 20})
        CHECK(lrp::top_k_intersection(view(a), view(mask), p, k, seed) == top_share_oracle(a, mask, k, seed));
      CHECK(lrp::pointing_game(view(a), view(mask), p, seed) == top_share_oracle(a, mask, 1, seed));
    }
  }
  SECTION("a constant map scores the key order alone and the chance level on average") {
    const std::vector<Scalar> mask = random_mask(100, 0.2, rng), flat(100, Scalar(0.25));
    Index inside = 0;
    for (const Scalar v : mask) inside += v == Scalar(1);
    double total = 0.0;
    bool varies = false;
    for (std::uint64_t seed = 0; seed < 400; ++seed) {
      const double rank = lrp::relevance_rank_accuracy(view(flat), view(mask), {}, seed);
      const std::vector<Index> order = lrp::random_region_order(100, seed);
      Index hits = 0;
      for (Index q = 0; q < inside; ++q) hits += mask[static_cast<std::size_t>(order[static_cast<std::size_t>(q)])] == Scalar(1);
      CHECK(rank == static_cast<double>(hits) / static_cast<double>(inside));
      CHECK(rank == lrp::relevance_rank_accuracy(view(flat), view(mask), {}, seed));
      varies = varies || rank != lrp::relevance_rank_accuracy(view(flat), view(mask), {}, 0);
      total += rank;
      CHECK(lrp::roc_auc(view(flat), view(mask), {}) == 0.5);
      CHECK(lrp::relevance_mass_accuracy(view(flat), view(mask), {}) ==
            Approx(static_cast<double>(inside) / 100.0).epsilon(1e-14));
    }
    CHECK(varies);
    // Expected K/P; the hypergeometric standard deviation of one score is below 0.1, of the mean of 400 below 0.005.
    CHECK(std::abs(total / 400.0 - static_cast<double>(inside) / 100.0) < 0.025);
  }
}

TEST_CASE("localisation roc auc equals the count over all pairs with ties as one half", "[localisation]") {
  std::mt19937_64 rng(lrp::sample_seed(7, 2, 1));
  for (int trial = 0; trial < 100; ++trial) {
    INFO("trial " << trial);
    const auto pixels = static_cast<Index>(2 + lrp::bounded(rng, 300));
    const std::vector<Scalar> mask = random_mask(pixels, lrp::uniform01(rng), rng);
    std::vector<Scalar> a(static_cast<std::size_t>(pixels));
    const auto levels = 2 + lrp::bounded(rng, 20);  // few levels: many ties
    for (Scalar& v : a) v = static_cast<Scalar>(0.25 * static_cast<double>(lrp::bounded(rng, levels)) - 2.0);
    double wins = 0.0, pairs = 0.0;
    for (std::size_t i = 0; i < a.size(); ++i)
      for (std::size_t j = 0; j < a.size(); ++j)
        if (mask[i] == Scalar(1) && mask[j] == Scalar(0)) {
          wins += a[i] > a[j] ? 1.0 : a[i] == a[j] ? 0.5 : 0.0;
          pairs += 1.0;
        }
    CHECK(lrp::roc_auc(view(a), view(mask), {}) == wins / pairs);
    // Normalising is a positive rescaling: the same pairs win.
    PixelScoring raw;
    raw.normalise = false;
    CHECK(lrp::roc_auc(view(a), view(mask), raw) == wins / pairs);
  }
}

TEST_CASE("localisation metrics sum channels per pixel and take the mask of any channel", "[localisation]") {
  std::mt19937_64 rng(lrp::sample_seed(7, 3, 1));
  const Index channels = 3, pixels = 16;
  for (int trial = 0; trial < 20; ++trial) {
    std::vector<Scalar> a(static_cast<std::size_t>(channels * pixels)), mask(a.size(), Scalar(0));
    std::vector<Scalar> summed(static_cast<std::size_t>(pixels), Scalar(0)), any(summed.size(), Scalar(0));
    for (Index c = 0; c < channels; ++c)
      for (Index j = 0; j < pixels; ++j) {
        const auto f = static_cast<std::size_t>(c * pixels + j), uj = static_cast<std::size_t>(j);
        a[f] = static_cast<Scalar>(0.25 * static_cast<double>(lrp::bounded(rng, 16)) - 2.0);  // exact sums
        summed[uj] += a[f];
        if (lrp::uniform01(rng) < 0.2) mask[f] = any[uj] = 1;  // marked in some channels only
      }
    any[0] = 1;
    mask[0] = 1;
    any[1] = 0;
    for (Index c = 0; c < channels; ++c) mask[static_cast<std::size_t>(c * pixels + 1)] = 0;
    PixelScoring three;
    three.channels = channels;
    three.width = 4;
    const std::uint64_t seed = rng();
    const std::vector<double> got = all_six(a, mask, 3, seed, three), want = all_six(summed, any, 3, seed);
    for (std::size_t m = 0; m < got.size(); ++m) CHECK(same(got[m], want[m]));
  }
}

TEST_CASE("localisation metrics are undefined for an empty mask or a non-finite heatmap and check their inputs",
          "[localisation]") {
  const std::vector<Scalar> a{0.5, 2, -1, 3}, empty(4, Scalar(0)), full(4, Scalar(1));
  for (const double v : all_six(a, empty, 2, 1)) CHECK(std::isnan(v));
  CHECK(std::isnan(lrp::pointing_game(view(a), view(empty), {}, 1, 0.0, true)));  // Quantus: True
  CHECK(std::isnan(lrp::attribution_localisation(view(a), view(empty), {}, true)));
  // The whole image is the object: every share is 1, the AUC has no pair to count.
  const std::vector<double> whole = all_six(a, full, 2, 1);
  CHECK(whole[0] == 1.0);
  CHECK(whole[1] == 1.0);
  CHECK(whole[2] == 1.0);
  CHECK(whole[3] == 1.0);
  CHECK(std::isnan(whole[5]));
  std::vector<Scalar> bad = a;
  bad[2] = std::numeric_limits<Scalar>::quiet_NaN();
  for (const double v : all_six(bad, full, 2, 1)) CHECK(std::isnan(v));
  bad[2] = std::numeric_limits<Scalar>::infinity();
  for (const double v : all_six(bad, full, 2, 1)) CHECK(std::isnan(v));
  // An all-zero heatmap: no share of nothing; attribution localisation's 1e-9 makes it 0 (Quantus).
  const std::vector<Scalar> zero(4, Scalar(0)), half{1, 0, 0, 0};
  CHECK(std::isnan(lrp::relevance_mass_accuracy(view(zero), view(half), {})));
  CHECK(lrp::attribution_localisation(view(zero), view(half), {}) == 0.0);

  const std::vector<Scalar> fuzzy{1, 0.5, 0, 0}, short_mask{1, 0, 0};
  CHECK_THAT(error_of([&] { (void)lrp::roc_auc(view(a), view(fuzzy), {}); }),
             Contains("mask value 0.5 at feature 1 is not 0 or 1"));
  CHECK_THAT(error_of([&] { (void)lrp::roc_auc(view(a), view(short_mask), {}); }),
             Contains("the mask has 3 values, the heatmap 4"));
  PixelScoring three;
  three.channels = 3;
  CHECK_THAT(error_of([&] { (void)lrp::roc_auc(view(a), view(full), three); }),
             Contains("a heatmap of 4 values does not split into 3 channels"));
  for (const Index k : {0, 4})
    CHECK_THAT(error_of([&] { (void)lrp::top_k_intersection(view(a), view(full), {}, k, 1); }),
               Contains("k = " + std::to_string(k) + " must be at least 1 and below the 4 pixels"));
}

namespace {

const std::string kRoot = std::string(LRP_TEST_FIXTURES) + "/../..";

// A run of the committed shapes CNN (configs/shapes_train.yaml) on 24 held-out shapes images with
// every localisation metric, some with parameters of their own. run_config returns the run's error
// ("" when it succeeds).
const std::string kShapesRun = R"(seed: 5
threads: 2
batch_size: 8
data: {format: shapes, count: 24, distractors: 2, seed: 32}
model: {file: @ROOT@/models/shapes_cnn.h5}
target: label
explain:
  - epsilon_plus_flat
  - gradient
  - {name: occlusion, params: {window: 3, stride: 1}}
  - random
evaluate:
  conservation: false
  relevance_mass_accuracy: true
  relevance_rank_accuracy: {abs: true}
  pointing_game: {tolerance: 1.5}
  top_k_intersection: {k: 10, concept_influence: true}
  attribution_localisation: {weighted: true}
  roc_auc: true
output: {results: @OUT@}
)";

std::string run_config(const TempDir& dir, const std::string& text) {
  const std::string path = dir.file("run.yaml");
  std::ofstream(path) << replace_all(replace_all(text, "@ROOT@", kRoot), "@OUT@", dir.file("run.h5"));
  const QuietLog quiet;
  try {
    (void)lrp::run_experiment(lrp::read_experiment_config(path, {}, builtins()), builtins());
  } catch (const lrp::Error& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST_CASE("localisation metrics in a shapes run store the formulas of the stored relevance and masks",
          "[localisation][experiment]") {
  const TempDir dir("lrp_localisation_run");
  REQUIRE(run_config(dir, kShapesRun).empty());
  const lrp::h5::File f = lrp::h5::File::open(dir.file("run.h5"));
  // The masks are written next to the inputs, as the shapes task drew them.
  lrp::h5::Dims dims;
  const std::vector<std::int64_t> stored = f.read<std::int64_t>("/data/masks", &dims);
  CHECK(dims == lrp::h5::Dims{24, 1, 28, 28});
  lrp::ShapesOptions o;
  o.count = 24;
  o.distractors = 2;
  o.seed = 32;
  const lrp::Dataset shapes = lrp::shapes_task(o);
  std::vector<Scalar> masks(stored.size());
  for (std::size_t k = 0; k < stored.size(); ++k) {
    masks[k] = static_cast<Scalar>(stored[k]);
    REQUIRE(masks[k] == shapes.masks.data()[k]);
  }
  const std::vector<std::int64_t> ids = f.read<std::int64_t>("/data/indices");
  PixelScoring p, absolute, positive;
  p.width = absolute.width = positive.width = 28;
  absolute.absolute = true;
  positive.positive = true;
  std::map<std::string, double> mean;
  for (const std::string method : {"epsilon_plus_flat", "gradient", "occlusion", "random"}) {
    INFO(method);
    const std::vector<Scalar> relevance = f.read_scalars("/explanations/" + method + "/relevance", {24, 1, 28, 28});
    const auto scores = [&](const std::string& key) {
      CHECK(f.uint_attribute("/metrics/" + key + "/" + method, "seed") == 5);
      mean[key + " " + method] = f.double_attribute("/metrics/" + key + "/" + method, "mean_" + key);
      return f.read<double>("/metrics/" + key + "/" + method + "/" + key);
    };
    const std::vector<double> mass = scores("relevance_mass_accuracy"), rank = scores("relevance_rank_accuracy"),
                              pointing = scores("pointing_game"), top = scores("top_k_intersection"),
                              localisation = scores("attribution_localisation"), auc = scores("roc_auc");
    REQUIRE(mass.size() == 24u);
    for (std::size_t i = 0; i < 24; ++i) {
      INFO("sample " << i);
      const std::span<const Scalar> a(relevance.data() + i * 784, 784), m(masks.data() + i * 784, 784);
      const std::uint64_t seed = lrp::sample_seed(5, static_cast<Index>(ids[i]), lrp::kLocalisationTieStream);
      CHECK(same(mass[i], lrp::relevance_mass_accuracy(a, m, positive)));
      CHECK(same(rank[i], lrp::relevance_rank_accuracy(a, m, absolute, seed)));
      CHECK(same(pointing[i], lrp::pointing_game(a, m, p, seed, 1.5)));
      CHECK(same(top[i], lrp::top_k_intersection(a, m, p, 10, seed, true)));
      CHECK(same(localisation[i], lrp::attribution_localisation(a, m, positive, true)));
      CHECK(same(auc[i], lrp::roc_auc(a, m, p)));
    }
    CHECK(f.double_attribute("/metrics/top_k_intersection/" + method, "k") == 10);
    CHECK(f.double_attribute("/metrics/pointing_game/" + method, "tolerance") == 1.5);
  }
  // The model looks at the shape: LRP and occlusion localise it far better than random relevance.
  for (const std::string method : {"epsilon_plus_flat", "occlusion"}) {
    CHECK(mean["roc_auc " + method] > mean["roc_auc random"] + 0.2);
    CHECK(mean["pointing_game " + method] > mean["pointing_game random"] + 0.5);
  }
}

TEST_CASE("localisation metrics without ground-truth masks are errors naming the key before explaining",
          "[localisation][experiment]") {
  const TempDir dir("lrp_localisation_errors");
  const std::string fmnist = R"(seed: 1
data:
  format: idx
  images: /usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz
  labels: /usr/share/datasets/fashion-mnist/t10k-labels-idx1-ubyte.gz
  subset: {begin: 0, end: 4}
model: {file: @ROOT@/models/fmnist_cnn.h5}
explain: [gradient]
evaluate:
  conservation: false
)";
  for (const std::string key : {"relevance_mass_accuracy", "relevance_rank_accuracy", "pointing_game",
                                "top_k_intersection", "attribution_localisation", "roc_auc"}) {
    const std::string error = run_config(dir, fmnist + "  " + key + ": true\noutput: {results: @OUT@}\n");
    const std::string at = "run.yaml:11:" + std::to_string(5 + key.size()) + ": evaluate.";  // at its value
    CHECK_THAT(error, Contains(at + key +
                               " needs ground-truth masks: data format shapes, an HDF5 masks dataset"));
  }
  CHECK_FALSE(std::filesystem::exists(dir.file("run.h5")));
  // On the shapes task: k must leave pixels out of the top k.
  const std::string k784 = replace_all(kShapesRun, "{k: 10, concept_influence: true}", "{k: 784}");
  CHECK_THAT(run_config(dir, k784), Contains("evaluate.top_k_intersection.k = 784 must be below the input's 784 pixels"));
  CHECK_FALSE(std::filesystem::exists(dir.file("run.h5")));
}
