// Evaluation metrics (docs/metrics.md, Conservation, §2) against independent oracles: region tiling from a literal
// formula, orders on hand-made heatmaps, pixel-flipping curves of linear models computed literally
// in long double (every fill), AOPC / ABPC / AUC on given curves by hand, independence of batch
// composition and threads (bit for bit), reproducible random orders, the conservation ledger on
// hand-computed and bias-free networks, the bias/stabilizer identity, NaN counting, and errors.
#include "test_util.hpp"

#include "lrp/eval/archive.hpp"
#include "lrp/eval/metrics.hpp"
#include "lrp/nn/model.hpp"
#include "lrp/core/random.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <set>

using namespace lrp_test;

namespace {

using LongVector = std::vector<long double>;

// The region of feature (c, y, x) by the literal formula: patch row, patch column.
Index region_of(Index y, Index x, Index width, Index patch) {
  const Index columns = (width + patch - 1) / patch;
  return (y / patch) * columns + x / patch;
}

// A linear model: (flatten,) dense(features → classes) with seeded random weights and biases.
lrp::Network linear_network(const Shape& shape, Index classes, std::uint64_t seed) {
  lrp::Network net(shape);
  if (shape.size() == 3) net.add(std::make_unique<lrp::Flatten>(), "flatten");
  const Index features = lrp::numel(shape);
  auto& fc = net.add(std::make_unique<lrp::Dense>(features, classes), "fc");
  fc.set_params({random_matrix(classes, features, seed), random_vector(classes, seed + 1)});
  return net;
}

// w_c · x + b_c of the linear model's dense layer, in long double.
long double linear_logit(const lrp::Network& net, const LongVector& x, Index c) {
  const lrp::Params& p = net.layer(net.size() - 1).params();
  long double z = p.bias[c];
  for (size_t f = 0; f < x.size(); ++f) z += static_cast<long double>(p.weight(c, static_cast<Index>(f))) * x[f];
  return z;
}

long double linear_probability(const lrp::Network& net, const LongVector& x, Index c) {
  const Index classes = net.layer(net.size() - 1).params().weight.rows();
  long double sum = 0;
  for (Index j = 0; j < classes; ++j) sum += std::exp(linear_logit(net, x, j));
  return std::exp(linear_logit(net, x, c)) / sum;
}

// The literal curve: x^(k) = x with regions order[0..k) replaced by `fill`, feature by feature
// (region membership from `member`).
template <typename Member>
std::vector<LongVector> literal_copies(const Matrix& x, Index row, const std::vector<Index>& order, Index steps,
                                       const LongVector& fill, const Member& member) {
  std::vector<LongVector> copies;
  LongVector current(static_cast<size_t>(x.cols()));
  for (Index f = 0; f < x.cols(); ++f) current[static_cast<size_t>(f)] = x(row, f);
  copies.push_back(current);
  for (Index k = 0; k < steps; ++k) {
    for (Index f = 0; f < x.cols(); ++f)
      if (member(f) == order[static_cast<size_t>(k)]) current[static_cast<size_t>(f)] = fill[static_cast<size_t>(f)];
    copies.push_back(current);
  }
  return copies;
}

// Regions sorted by literal long-double scores (descending for morf); heatmaps in these tests have
// no ties.
template <typename Member>
std::vector<Index> literal_order(const Matrix& relevance, Index row, Index regions, bool descending,
                                 const Member& member) {
  std::vector<long double> score(static_cast<size_t>(regions), 0.0L);
  for (Index f = 0; f < relevance.cols(); ++f) score[static_cast<size_t>(member(f))] += relevance(row, f);
  std::vector<Index> order(static_cast<size_t>(regions));
  std::iota(order.begin(), order.end(), Index(0));
  std::stable_sort(order.begin(), order.end(), [&](Index a, Index b) {
    return descending ? score[static_cast<size_t>(a)] > score[static_cast<size_t>(b)]
                      : score[static_cast<size_t>(a)] < score[static_cast<size_t>(b)];
  });
  return order;
}

// Max |curve(row, k) − want[k]| relative to max(1, max |want|).
double curve_error(const Matrix& curve, Index row, const LongVector& want) {
  REQUIRE(curve.cols() == static_cast<Index>(want.size()));
  long double worst = 0, scale = 1;
  for (size_t k = 0; k < want.size(); ++k) {
    worst = std::max(worst, std::abs(static_cast<long double>(curve(row, static_cast<Index>(k))) - want[k]));
    scale = std::max(scale, std::abs(want[k]));
  }
  return static_cast<double>(worst / scale);
}

Eigen::VectorXd vec(std::initializer_list<double> values) {
  Eigen::VectorXd v(static_cast<Index>(values.size()));
  Index i = 0;
  for (const double value : values) v[i++] = value;
  return v;
}

Eigen::VectorXd curve_row(const Matrix& m, Index row) { return m.row(row).transpose().cast<double>(); }

lrp::Tensor tensor(const Shape& shape, const Matrix& rows) { return lrp::Tensor(shape, rows); }

std::vector<Index> iota_ids(Index n, Index first) {
  std::vector<Index> ids(static_cast<size_t>(n));
  std::iota(ids.begin(), ids.end(), first);
  return ids;
}

// Every curve and order of sample `row` of a equals sample `other` of b, bit for bit.
void check_same_sample(const lrp::PixelFlippingResult& a, Index row, const lrp::PixelFlippingResult& b, Index other) {
  CHECK(bit_equal(Matrix(a.morf.row(row)), Matrix(b.morf.row(other))));
  CHECK(bit_equal(Matrix(a.lerf.row(row)), Matrix(b.lerf.row(other))));
  CHECK(bit_equal(Matrix(a.morf_probability.row(row)), Matrix(b.morf_probability.row(other))));
  CHECK(bit_equal(Matrix(a.lerf_probability.row(row)), Matrix(b.lerf_probability.row(other))));
  REQUIRE(a.random.size() == b.random.size());
  for (size_t q = 0; q < a.random.size(); ++q) {
    CHECK(bit_equal(Matrix(a.random[q].row(row)), Matrix(b.random[q].row(other))));
    CHECK(bit_equal(Matrix(a.random_probability[q].row(row)), Matrix(b.random_probability[q].row(other))));
    CHECK(a.random_seeds[q][static_cast<size_t>(row)] == b.random_seeds[q][static_cast<size_t>(other)]);
  }
  CHECK((a.morf_order.row(row).array() == b.morf_order.row(other).array()).all());
  CHECK((a.lerf_order.row(row).array() == b.lerf_order.row(other).array()).all());
  CHECK(a.scores.aopc_morf[row] == b.scores.aopc_morf[other]);
  CHECK(a.scores.abpc[row] == b.scores.abpc[other]);
  CHECK(a.scores.auc_morf[row] == b.scores.auc_morf[other]);
  CHECK(a.scores.aopc_morf_vs_random[row] == b.scores.aopc_morf_vs_random[other]);
}

lrp::FillValues uniform_fill(double low, double high) {
  lrp::FillValues fill;
  fill.low = {low};
  fill.high = {high};
  return fill;
}

}  // namespace

// ---------------------------------------------------------------- regions and orders

TEST_CASE("pixel flipping regions tile the input, also when the patch does not divide it", "[metrics]") {
  struct Case {
    Index channels, height, width, patch;
  };
  for (const Case& t : {Case{1, 28, 28, 4}, Case{2, 5, 7, 3}, Case{3, 6, 6, 1}, Case{1, 4, 9, 4}, Case{2, 3, 2, 8}}) {
    INFO("[" << t.channels << ", " << t.height << ", " << t.width << "], patch " << t.patch);
    const auto regions = lrp::perturbation_regions({t.channels, t.height, t.width}, t.patch);
    const Index rows = (t.height + t.patch - 1) / t.patch, columns = (t.width + t.patch - 1) / t.patch;
    REQUIRE(static_cast<Index>(regions.size()) == rows * columns);
    // Each region is exactly the set of features the literal formula assigns to it, in channel,
    // row, column order; together they cover every feature once.
    std::vector<std::vector<Index>> want(regions.size());
    for (Index c = 0; c < t.channels; ++c)
      for (Index y = 0; y < t.height; ++y)
        for (Index x = 0; x < t.width; ++x)
          want[static_cast<size_t>(region_of(y, x, t.width, t.patch))].push_back((c * t.height + y) * t.width + x);
    for (size_t r = 0; r < regions.size(); ++r) CHECK(regions[r] == want[r]);
  }
  // 28×28 with patch 4 gives the 49 regions of docs/metrics.md; 5×7 with patch 3: the last row of
  // patches has 2 rows, the last column 1 column.
  CHECK(lrp::perturbation_regions({1, 28, 28}, 4).size() == 49);
  const auto odd = lrp::perturbation_regions({2, 5, 7}, 3);
  CHECK(odd[0].size() == 18);
  CHECK(odd[2].size() == 6);   // 2 channels × 3 rows × 1 column
  CHECK(odd[3].size() == 12);  // 2 channels × 2 rows × 3 columns
  CHECK(odd[5] == std::vector<Index>{27, 34, 62, 69});

  // 1-d inputs: chunks of `patch` features, the last one shorter.
  const auto chunks = lrp::perturbation_regions({10}, 4);
  REQUIRE(chunks.size() == 3);
  CHECK(chunks[0] == std::vector<Index>{0, 1, 2, 3});
  CHECK(chunks[1] == std::vector<Index>{4, 5, 6, 7});
  CHECK(chunks[2] == std::vector<Index>{8, 9});
  CHECK(lrp::perturbation_regions({5}, 1).size() == 5);

  REQUIRE_THROWS_WITH(lrp::perturbation_regions({1, 4, 4}, 0), Catch::Contains("'patch'"));
  // Rank 2 is a [time steps, features] sequence (tests/test_sequence_tasks.cpp); rank 4 is not supported.
  REQUIRE_THROWS_WITH(lrp::perturbation_regions({1, 4, 4, 4}, 2), Catch::Contains("[1, 4, 4, 4]"));
}

TEST_CASE("region orders on hand-made heatmaps, with ties broken by a seeded key", "[metrics]") {
  // 1×4×4, patch 2: regions 0 (top left), 1 (top right), 2 (bottom left), 3 (bottom right).
  Matrix heat(1, 16);
  heat << 1, 2, -5, 4,  //
      0, 0, 5, -6,      //
      3, 0, 0.25, 0,    //
      0, 0, 0.25, 0;
  const auto regions = lrp::perturbation_regions({1, 4, 4}, 2);
  const std::vector<double> scores = lrp::region_scores(heat.data(), regions);
  // Signed sums (not absolute values): region 1 sums -5 + 4 + 5 - 6 = -2.
  CHECK(scores == std::vector<double>{3.0, -2.0, 3.0, 0.5});

  // The tie between regions 0 and 2 follows the key: the region earlier in the tie permutation
  // comes first, in morf and in lerf alike.
  std::set<std::vector<Index>> seen_morf;
  for (std::uint64_t seed = 0; seed < 32; ++seed) {
    const std::vector<Index> key_order = lrp::random_region_order(4, seed);
    const auto position = [&](Index r) { return std::find(key_order.begin(), key_order.end(), r) - key_order.begin(); };
    const bool zero_first = position(0) < position(2);
    const std::vector<Index> morf = lrp::region_order(scores, lrp::RegionOrder::kMorf, seed);
    const std::vector<Index> lerf = lrp::region_order(scores, lrp::RegionOrder::kLerf, seed);
    const std::vector<Index> tie = zero_first ? std::vector<Index>{0, 2} : std::vector<Index>{2, 0};
    CHECK(morf == std::vector<Index>{tie[0], tie[1], 3, 1});
    CHECK(lerf == std::vector<Index>{1, 3, tie[0], tie[1]});
    CHECK(lrp::region_order(scores, lrp::RegionOrder::kMorf, seed) == morf);  // reproducible
    seen_morf.insert(morf);
  }
  CHECK(seen_morf.size() == 2);  // the tie really is broken both ways, depending on the seed

  // All equal: morf and lerf are both the key's permutation.
  const std::vector<double> flat(5, 1.0);
  CHECK(lrp::region_order(flat, lrp::RegionOrder::kMorf, 7) == lrp::random_region_order(5, 7));
  CHECK(lrp::region_order(flat, lrp::RegionOrder::kLerf, 7) == lrp::random_region_order(5, 7));

  // A random order is a permutation given by its seed.
  const std::vector<Index> random = lrp::random_region_order(49, 123);
  std::vector<Index> sorted = random;
  std::sort(sorted.begin(), sorted.end());
  std::vector<Index> all(49);
  std::iota(all.begin(), all.end(), Index(0));
  CHECK(sorted == all);
  CHECK(lrp::random_region_order(49, 123) == random);
  CHECK(lrp::random_region_order(49, 124) != random);

  // pixel_flipping uses exactly these orders, with the tie seed of each sample's id.
  const lrp::Network net = linear_network({1, 4, 4}, 2, 5);
  const Matrix x = random_matrix(1, 16, 6, 0.0, 1.0);
  lrp::PixelFlippingOptions options;
  options.patch = 2;
  options.seed = 11;
  options.random_repeats = 1;
  const auto r = lrp::pixel_flipping(net, tensor({1, 4, 4}, x), {1}, tensor({1, 4, 4}, heat), {42},
                                     uniform_fill(0.0, 1.0), options);
  const std::uint64_t tie_seed = lrp::sample_seed(11, 42, lrp::kPixelFlippingTieStream);
  const auto morf = lrp::region_order(scores, lrp::RegionOrder::kMorf, tie_seed);
  const auto lerf = lrp::region_order(scores, lrp::RegionOrder::kLerf, tie_seed);
  for (Index k = 0; k < 4; ++k) {
    CHECK(r.morf_order(0, k) == morf[static_cast<size_t>(k)]);
    CHECK(r.lerf_order(0, k) == lerf[static_cast<size_t>(k)]);
  }
}

// ---------------------------------------------------------------- curves of a linear model

TEST_CASE("pixel-flipping curves of a linear model equal the literal computation for every fill", "[metrics]") {
  // Linear model: f_c(x^(k)) = w_c · x^(k) + b_c exactly, so the curves are the literal perturbed
  // copies pushed through w_c (long double). 2×5×7 with patch 3 (non-dividing, 6 regions).
  const Shape shape{2, 5, 7};
  const Index features = lrp::numel(shape), n = 3, classes = 4;
  const lrp::Network net = linear_network(shape, classes, 31);
  const Matrix x = random_matrix(n, features, 32, 0.0, 1.0);
  const Matrix heat = random_matrix(n, features, 33);
  const std::vector<Index> targets{0, 3, 1}, ids{7, 100, 3};
  const Index patch = 3, regions = 6;
  auto member = [&](Index f) { return region_of((f % 35) / 7, f % 7, 7, patch); };

  lrp::PixelFlippingOptions options;
  options.patch = patch;
  options.random_repeats = 3;
  options.seed = 99;
  options.rows_per_pass = 5;  // several passes per sample

  struct FillCase {
    std::string name;
    lrp::PerturbationFill kind;
    lrp::FillValues values;
  };
  lrp::FillValues constant;
  constant.constant = {0.5, -1.0};  // per channel
  lrp::FillValues mean;
  mean.mean = random_matrix(1, features, 34, 0.0, 1.0);
  lrp::FillValues uniform;
  uniform.low = {-0.5, 0.0};
  uniform.high = {0.5, 2.0};
  const std::vector<FillCase> cases{{"constant", lrp::PerturbationFill::kConstant, constant},
                                    {"mean", lrp::PerturbationFill::kMean, mean},
                                    {"uniform", lrp::PerturbationFill::kUniform, uniform}};
  for (const FillCase& fc : cases) {
    for (const Index steps : {Index(0), Index(4)}) {
      INFO("fill " << fc.name << ", steps " << steps);
      options.fill = fc.kind;
      options.steps = steps;
      const auto r = lrp::pixel_flipping(net, tensor(shape, x), targets, tensor(shape, heat), ids, fc.values, options);
      const Index L = steps == 0 ? regions : steps;
      REQUIRE(r.regions == regions);
      REQUIRE(r.steps == L);
      REQUIRE(r.morf.rows() == n);
      REQUIRE(r.morf.cols() == L + 1);
      REQUIRE(r.random.size() == 3);
      for (Index i = 0; i < n; ++i) {
        INFO("sample " << i);
        const size_t si = static_cast<size_t>(i);
        const Index c = targets[si];
        // The fill image, literally: per channel constant, the mean image, or the sample's noise
        // image (one uniform01 draw per feature, in feature order, from its noise stream).
        LongVector fill(static_cast<size_t>(features));
        std::mt19937_64 rng(lrp::sample_seed(99, ids[si], lrp::kPixelFlippingNoiseStream));
        for (Index f = 0; f < features; ++f) {
          const Index channel = f / 35;
          long double value = 0;
          if (fc.kind == lrp::PerturbationFill::kConstant) value = static_cast<Scalar>(constant.constant[static_cast<size_t>(channel)]);
          if (fc.kind == lrp::PerturbationFill::kMean) value = mean.mean(0, f);
          if (fc.kind == lrp::PerturbationFill::kUniform) {
            const double low = uniform.low[static_cast<size_t>(channel)], high = uniform.high[static_cast<size_t>(channel)];
            value = static_cast<Scalar>(low + (high - low) * lrp::uniform01(rng));
          }
          fill[static_cast<size_t>(f)] = value;
        }
        const auto check_curve = [&](const Matrix& logit, const Matrix& probability, const std::vector<Index>& order) {
          const auto copies = literal_copies(x, i, order, L, fill, member);
          LongVector want_logit, want_probability;
          for (const LongVector& copy : copies) {
            want_logit.push_back(linear_logit(net, copy, c));
            want_probability.push_back(linear_probability(net, copy, c));
          }
          CHECK(curve_error(logit, i, want_logit) <= tol(1e-5, 1e-12));
          CHECK(curve_error(probability, i, want_probability) <= tol(1e-5, 1e-12));
        };
        const auto morf = literal_order(heat, i, regions, true, member);
        const auto lerf = literal_order(heat, i, regions, false, member);
        check_curve(r.morf, r.morf_probability, morf);
        check_curve(r.lerf, r.lerf_probability, lerf);
        for (size_t q = 0; q < 3; ++q) {
          INFO("random order " << q);
          // The recorded seed is the sample's stream seed, and its permutation gives the curve.
          const std::uint64_t seed = r.random_seeds[q][si];
          CHECK(seed == lrp::sample_seed(99, ids[si], lrp::kPixelFlippingRandomOrderStream + q));
          std::vector<Index> order(static_cast<size_t>(regions));
          std::iota(order.begin(), order.end(), Index(0));
          std::mt19937_64 order_rng(seed);
          lrp::shuffle(order, order_rng);
          check_curve(r.random[q], r.random_probability[q], order);
        }
        for (Index k = 0; k < L; ++k) {
          CHECK(r.morf_order(i, k) == morf[static_cast<size_t>(k)]);
          CHECK(r.lerf_order(i, k) == lerf[static_cast<size_t>(k)]);
        }
      }
    }
  }
}

TEST_CASE("pixel flipping on 1-d inputs perturbs chunks of features - the curve of a constant fill in closed form",
          "[metrics]") {
  // f(x^(k)) = f(x) + Σ over the first k chunks of Σ_f w_cf (v − x_f), chunks of 3 of 10 features.
  const lrp::Network net = linear_network({10}, 3, 41);
  const Matrix x = random_matrix(2, 10, 42, 0.0, 1.0);
  Matrix heat(2, 10);
  heat << 1, 1, 1, 5, 5, 5, -2, -2, -2, 0.5,  // chunk scores 3, 15, -6, 0.5
      0, 0, 1, 0, 0, 0, 0, 0, 2, -7;          // 1, 0, 2, -7
  lrp::PixelFlippingOptions options;
  options.patch = 3;
  options.fill = lrp::PerturbationFill::kConstant;
  options.random_repeats = 0;
  lrp::FillValues fill;
  fill.constant = {0.25};
  const auto r = lrp::pixel_flipping(net, tensor({10}, x), {2, 0}, tensor({10}, heat), {0, 1}, fill, options);
  REQUIRE(r.regions == 4);
  const std::vector<std::vector<Index>> morf{{1, 0, 3, 2}, {2, 0, 1, 3}}, lerf{{2, 3, 0, 1}, {3, 1, 0, 2}};
  const lrp::Params& p = net.layer(0).params();
  for (Index i = 0; i < 2; ++i) {
    const Index c = i == 0 ? 2 : 0;
    for (int which = 0; which < 2; ++which) {
      const std::vector<Index>& order = (which == 0 ? morf : lerf)[static_cast<size_t>(i)];
      const Matrix& curve = which == 0 ? r.morf : r.lerf;
      long double value = p.bias[c];
      for (Index f = 0; f < 10; ++f) value += static_cast<long double>(p.weight(c, f)) * x(i, f);
      LongVector want{value};
      for (const Index chunk : order) {
        for (Index f = 3 * chunk; f < std::min<Index>(10, 3 * chunk + 3); ++f)
          value += static_cast<long double>(p.weight(c, f)) * (0.25L - x(i, f));
        want.push_back(value);
      }
      INFO("sample " << i << (which == 0 ? " morf" : " lerf"));
      CHECK(curve_error(curve, i, want) <= tol(1e-5, 1e-12));
    }
  }
  // No random orders: the comparison with random is not computed.
  CHECK(r.random.empty());
  CHECK(std::isnan(r.scores.aopc_morf_vs_random[0]));
  CHECK(r.summary.aopc_morf_vs_random.count == 0);
  CHECK(r.summary.aopc_morf_vs_random.skipped == 2);
}

// ---------------------------------------------------------------- scores

TEST_CASE("AOPC, ABPC and AUC of given curves, by hand", "[metrics]") {
  const Eigen::VectorXd morf = vec({5, 3, 4, 0}), lerf = vec({5, 5, 4.5, 4});
  CHECK(lrp::aopc(morf) == 2.0);       // (0 + 2 + 1 + 5) / 4: the k = 0 term is 0, L + 1 divides
  CHECK(lrp::aopc(lerf) == 0.375);     // (0 + 0 + 0.5 + 1) / 4
  CHECK(lrp::abpc(lerf, morf) == 1.625);  // (0 + 2 + 0.5 + 4) / 4 = aopc_morf − aopc_lerf
  CHECK(lrp::auc(morf) == 9.5);        // (5+3)/2 + (3+4)/2 + (4+0)/2
  CHECK(lrp::auc(vec({2})) == 0.0);
  CHECK(lrp::aopc(vec({2})) == 0.0);
  REQUIRE_THROWS_AS(lrp::abpc(vec({1, 2}), vec({1})), lrp::Error);

  const lrp::Summary s = lrp::summarize(vec({1, 2, 3, 4}));
  CHECK(s.mean == 2.5);
  CHECK(s.standard_error == Approx(std::sqrt(5.0 / 3.0) / 2.0).epsilon(1e-15));
  CHECK(s.count == 4);
  CHECK(s.skipped == 0);
  const double nan = std::numeric_limits<double>::quiet_NaN(), inf = std::numeric_limits<double>::infinity();
  const lrp::Summary skipped = lrp::summarize(vec({1, nan, 3, inf}));
  CHECK(skipped.mean == 2.0);
  CHECK(skipped.standard_error == 1.0);  // sd √2 over √2
  CHECK(skipped.count == 2);
  CHECK(skipped.skipped == 2);
  const lrp::Summary one = lrp::summarize(vec({7}));
  CHECK(one.mean == 7.0);
  CHECK(std::isnan(one.standard_error));
  CHECK(std::isnan(lrp::summarize(Eigen::VectorXd()).mean));
}

TEST_CASE("pixel-flipping scores follow their formulas on the curves, and abpc = aopc_morf - aopc_lerf", "[metrics]") {
  const lrp::Network net = lrp::example_cnn(51);
  const lrp::Tensor x = lrp::random_inputs(net.input_shape(), 4, 52);
  const lrp::ForwardPass pass = net.forward(x);
  const auto targets = lrp::select_targets(pass.logits(), lrp::TargetSpec::predicted());
  const lrp::Explanation e = explainer_for(net, "epsilon_plus").explain(pass, targets);
  lrp::PixelFlippingOptions options;
  options.patch = 7;  // 16 regions
  options.random_repeats = 3;
  options.seed = 5;
  const auto r = lrp::pixel_flipping(net, x, targets, e.relevance, iota_ids(4, 0), uniform_fill(0.0, 1.0), options);
  REQUIRE(r.steps == 16);
  for (Index i = 0; i < 4; ++i) {
    INFO("sample " << i);
    const Eigen::VectorXd morf = curve_row(r.morf, i), lerf = curve_row(r.lerf, i);
    // Literal sums of the formulas of docs/metrics.md, Pixel flipping.
    double aopc_morf = 0, aopc_lerf = 0, abpc = 0, auc = 0, random = 0;
    for (Index k = 0; k <= 16; ++k) {
      aopc_morf += (morf[0] - morf[k]) / 17.0;
      aopc_lerf += (lerf[0] - lerf[k]) / 17.0;
      abpc += (lerf[k] - morf[k]) / 17.0;
      if (k < 16) auc += (morf[k] + morf[k + 1]) / 2.0;
    }
    for (size_t q = 0; q < 3; ++q) {
      const Eigen::VectorXd curve = curve_row(r.random[q], i);
      for (Index k = 0; k <= 16; ++k) random += (curve[0] - curve[k]) / 17.0 / 3.0;
    }
    const double scale = std::max(1.0, morf.cwiseAbs().maxCoeff() + lerf.cwiseAbs().maxCoeff());
    CHECK(std::abs(r.scores.aopc_morf[i] - aopc_morf) <= 1e-12 * scale);
    CHECK(std::abs(r.scores.aopc_lerf[i] - aopc_lerf) <= 1e-12 * scale);
    CHECK(std::abs(r.scores.abpc[i] - abpc) <= 1e-12 * scale);
    CHECK(std::abs(r.scores.auc_morf[i] - auc) <= 1e-12 * 17 * scale);
    CHECK(std::abs(r.scores.aopc_morf_vs_random[i] - (aopc_morf - random)) <= 1e-12 * scale);
    CHECK(std::abs(r.scores.abpc[i] - (r.scores.aopc_morf[i] - r.scores.aopc_lerf[i])) <= 1e-12 * scale);
    // Every curve starts at the unperturbed logit, which is the explained one up to rounding.
    CHECK(r.lerf(i, 0) == r.morf(i, 0));
    CHECK(r.random[0](i, 0) == r.morf(i, 0));
    CHECK(std::abs(static_cast<double>(r.morf(i, 0) - pass.logits()(i, targets[static_cast<size_t>(i)]))) <=
          tol(1e-5, 1e-12) * scale);
    // Probabilities are probabilities.
    CHECK((r.morf_probability.row(i).array() >= 0).all());
    CHECK((r.morf_probability.row(i).array() <= 1).all());
  }
  const lrp::Summary s = lrp::summarize(r.scores.abpc);
  CHECK(r.summary.abpc.mean == s.mean);
  CHECK(r.summary.abpc.standard_error == s.standard_error);
  CHECK(r.summary.aopc_morf.count == 4);
}

// ---------------------------------------------------------------- independence and reproducibility

TEST_CASE("pixel flipping is bit-identical alone, inside a batch, reordered, and on two threads", "[metrics]") {
  for (const char* which : {"cnn", "mlp"}) {
    INFO(which);
    const lrp::Network net = std::string(which) == "cnn" ? lrp::example_cnn(61) : lrp::example_mlp(61);
    const Index n = 5;
    const lrp::Tensor x = lrp::random_inputs(net.input_shape(), n, 62);
    const lrp::ForwardPass pass = net.forward(x);
    const auto targets = lrp::select_targets(pass.logits(), lrp::TargetSpec::predicted());
    const lrp::Explanation e = explainer_for(net, "epsilon_plus").explain(pass, targets);
    const std::vector<Index> ids{10, 11, 12, 13, 14};
    lrp::PixelFlippingOptions options;
    options.steps = 10;
    options.random_repeats = 2;
    options.seed = 3;
    options.rows_per_pass = 16;
    const lrp::FillValues fill = uniform_fill(0.0, 1.0);
    const auto all = lrp::pixel_flipping(net, x, targets, e.relevance, ids, fill, options);
    options.threads = 2;
    const auto threaded = lrp::pixel_flipping(net, x, targets, e.relevance, ids, fill, options);
    options.threads = 3;
    const auto three = lrp::pixel_flipping(net, x, targets, e.relevance, ids, fill, options);
    for (Index i = 0; i < n; ++i) {
      check_same_sample(threaded, i, all, i);
      check_same_sample(three, i, all, i);
    }
    // Alone (one thread and two).
    for (const Index i : {Index(0), Index(3)}) {
      options.threads = i == 0 ? 1 : 2;
      const size_t si = static_cast<size_t>(i);
      const lrp::Tensor xi(net.input_shape(), Matrix(x.data.row(i)));
      const lrp::Tensor ri(net.input_shape(), Matrix(e.relevance.data.row(i)));
      const auto alone = lrp::pixel_flipping(net, xi, {targets[si]}, ri, {ids[si]}, fill, options);
      check_same_sample(alone, 0, all, i);
    }
    // Reordered batch: sample i at position n − 1 − i.
    Matrix xr(n, x.features()), rr(n, x.features());
    std::vector<Index> tr, idr;
    for (Index i = n - 1; i >= 0; --i) {
      xr.row(n - 1 - i) = x.data.row(i);
      rr.row(n - 1 - i) = e.relevance.data.row(i);
      tr.push_back(targets[static_cast<size_t>(i)]);
      idr.push_back(ids[static_cast<size_t>(i)]);
    }
    const auto reordered = lrp::pixel_flipping(net, tensor(net.input_shape(), xr), tr, tensor(net.input_shape(), rr),
                                               idr, fill, options);
    for (Index i = 0; i < n; ++i) check_same_sample(reordered, n - 1 - i, all, i);

    // The random numbers depend on the sample id and the seed: another id or seed, other noise
    // and other random orders.
    const auto other_ids = lrp::pixel_flipping(net, x, targets, e.relevance, iota_ids(n, 20), fill, options);
    CHECK(other_ids.random_seeds[0][0] != all.random_seeds[0][0]);
    CHECK_FALSE(bit_equal(other_ids.morf, all.morf));
    options.seed = 4;
    const auto other_seed = lrp::pixel_flipping(net, x, targets, e.relevance, ids, fill, options);
    CHECK_FALSE(bit_equal(other_seed.random[0], all.random[0]));
  }
}

TEST_CASE("the uniform fill puts the same noise image under morf, lerf and random orders", "[metrics]") {
  // An identity network (dense with W = I, no bias) shows the perturbed input itself as the logits:
  // once every region is replaced, every order ends on the sample's one noise image.
  const Shape shape{12};
  lrp::Network net(shape);
  auto& fc = net.add(std::make_unique<lrp::Dense>(12, 12, false), "fc");
  fc.set_params({Matrix::Identity(12, 12), Vector()});
  const Matrix x = random_matrix(2, 12, 71, 0.0, 1.0);
  const Matrix heat = random_matrix(2, 12, 72);
  lrp::PixelFlippingOptions options;
  options.patch = 2;
  options.random_repeats = 2;
  options.seed = 8;
  const lrp::FillValues fill = uniform_fill(-3.0, -2.0);  // far from the data: every value is noise
  for (Index c = 0; c < 12; ++c) {
    const auto r = lrp::pixel_flipping(net, tensor(shape, x), {c, c}, tensor(shape, heat), {5, 6}, fill, options);
    for (Index i = 0; i < 2; ++i) {
      const Scalar end = r.morf(i, 6);
      CHECK(end >= Scalar(-3));
      CHECK(end <= Scalar(-2));
      CHECK(r.lerf(i, 6) == end);
      CHECK(r.random[0](i, 6) == end);
      CHECK(r.random[1](i, 6) == end);
    }
    CHECK(r.morf(0, 6) != r.morf(1, 6));  // two samples, two noise images
  }
}

// ---------------------------------------------------------------- fills and errors

TEST_CASE("fill values map from raw units to network units through the normalization", "[metrics]") {
  lrp::InputNormalization norm;
  norm.mean = {0.5, 0.25};
  norm.std = {0.25, 0.5};
  lrp::FillValues raw;
  raw.low = {0.0};
  raw.high = {1.0};
  raw.constant = {0.0, 1.0};
  raw.mean = Matrix::Constant(1, 2 * 3 * 3, Scalar(0.5));
  const lrp::FillValues net = lrp::fill_to_network_units(raw, {2, 3, 3}, norm);
  CHECK(net.low == std::vector<double>{-2.0, -0.5});
  CHECK(net.high == std::vector<double>{2.0, 1.5});
  CHECK(net.constant == std::vector<double>{-2.0, 1.5});
  REQUIRE(net.mean.cols() == 18);
  CHECK(net.mean(0, 0) == Scalar(0));
  CHECK(net.mean(0, 17) == Scalar(0.5));
  raw.low = {0.0, 0.0, 0.0};
  REQUIRE_THROWS_WITH(lrp::fill_to_network_units(raw, {2, 3, 3}, norm), Catch::Contains("'low'"));
}

TEST_CASE("pixel flipping validates its options and inputs, naming the parameter", "[metrics]") {
  const Shape shape{1, 4, 4};
  const lrp::Network net = linear_network(shape, 3, 81);
  const lrp::Tensor x(shape, random_matrix(2, 16, 82, 0.0, 1.0));
  const lrp::Tensor heat(shape, random_matrix(2, 16, 83));
  const std::vector<Index> targets{0, 1}, ids{0, 1};
  const lrp::FillValues fill = uniform_fill(0.0, 1.0);
  auto run = [&](const lrp::PixelFlippingOptions& o) { return lrp::pixel_flipping(net, x, targets, heat, ids, fill, o); };
  auto with = [](auto change) {
    lrp::PixelFlippingOptions o;
    o.patch = 2;  // 4 regions
    change(o);
    return o;
  };
  REQUIRE_THROWS_WITH(run(with([](auto& o) { o.patch = 0; })), Catch::Contains("'patch'"));
  REQUIRE_THROWS_WITH(run(with([](auto& o) { o.random_repeats = -1; })), Catch::Contains("'random_repeats'"));
  REQUIRE_THROWS_WITH(run(with([](auto& o) { o.steps = 5; })),
                      Catch::Contains("'steps'") && Catch::Contains("4 regions"));
  REQUIRE_THROWS_WITH(run(with([](auto& o) { o.steps = -1; })), Catch::Contains("'steps'"));
  REQUIRE_THROWS_WITH(run(with([](auto& o) { o.threads = 0; })), Catch::Contains("'threads'"));
  REQUIRE_THROWS_WITH(run(with([](auto& o) { o.rows_per_pass = 0; })), Catch::Contains("'rows_per_pass'"));
  CHECK_NOTHROW(run(with([](auto& o) { o.steps = 4; })));

  const lrp::PixelFlippingOptions o;
  REQUIRE_THROWS_WITH(lrp::pixel_flipping(net, x, {0}, heat, ids, fill, o), Catch::Contains("1 targets for 2"));
  REQUIRE_THROWS_WITH(lrp::pixel_flipping(net, x, {0, 3}, heat, ids, fill, o), Catch::Contains("target 3"));
  REQUIRE_THROWS_WITH(lrp::pixel_flipping(net, x, targets, heat, {0}, fill, o), Catch::Contains("sample ids"));
  REQUIRE_THROWS_WITH(lrp::pixel_flipping(net, x, targets, lrp::Tensor(shape, Matrix::Zero(1, 16)), ids, fill, o),
                      Catch::Contains("relevance"));
  lrp::Tensor bad = heat;
  bad.data(1, 5) = std::numeric_limits<Scalar>::quiet_NaN();
  REQUIRE_THROWS_WITH(lrp::pixel_flipping(net, x, targets, bad, ids, fill, o),
                      Catch::Contains("sample 1") && Catch::Contains("NaN"));
  REQUIRE_THROWS_WITH(lrp::pixel_flipping(net, lrp::Tensor({16}, x.data), targets, heat, ids, fill, o),
                      Catch::Contains("shape"));

  REQUIRE_THROWS_WITH(lrp::pixel_flipping(net, x, targets, heat, ids, lrp::FillValues{}, o),
                      Catch::Contains("'uniform'") && Catch::Contains("'low'"));
  REQUIRE_THROWS_WITH(lrp::pixel_flipping(net, x, targets, heat, ids, uniform_fill(1.0, 1.0), o),
                      Catch::Contains("low < high"));
  const auto with_fill = [](lrp::PerturbationFill kind) {
    lrp::PixelFlippingOptions f;
    f.fill = kind;
    return f;
  };
  REQUIRE_THROWS_WITH(lrp::pixel_flipping(net, x, targets, heat, ids, fill, with_fill(lrp::PerturbationFill::kConstant)),
                      Catch::Contains("'constant'"));
  lrp::FillValues short_mean;
  short_mean.mean = Matrix::Zero(1, 15);
  REQUIRE_THROWS_WITH(
      lrp::pixel_flipping(net, x, targets, heat, ids, short_mean, with_fill(lrp::PerturbationFill::kMean)),
      Catch::Contains("'mean'") && Catch::Contains("1 × 16"));
  lrp::FillValues two;
  two.constant = {0.0, 1.0};  // one channel
  REQUIRE_THROWS_WITH(lrp::pixel_flipping(net, x, targets, heat, ids, two, with_fill(lrp::PerturbationFill::kConstant)),
                      Catch::Contains("'constant'") && Catch::Contains("got 2"));
}

// ---------------------------------------------------------------- §1 conservation

TEST_CASE("conservation of one epsilon dense layer, by hand", "[metrics]") {
  // z = W x + b with W = [[1, 2, -1], [0.5, -1, 1]], b = [0.5, -0.25], x = [1, 1, 2]:
  // z = [1.5, 1.25]. Target 0, logit seed R = [1.5, 0], ε = 0.5: stab(z_0) = 2.
  // bias share 1.5 · 0.5 / 2 = 0.375, stabilizer share 1.5 · 0.5 / 2 = 0.375,
  // input relevance 1.5 · (1, 2, -2) / 2 = (0.75, 1.5, -1.5), sum 0.75 = 1.5 − 0.375 − 0.375.
  lrp::Network net({3});
  auto& fc = net.add(std::make_unique<lrp::Dense>(3, 2), "fc");
  Matrix w(2, 3);
  w << 1, 2, -1, 0.5, -1, 1;
  Vector b(2);
  b << 0.5, -0.25;
  fc.set_params({w, b});
  Matrix x(1, 3);
  x << 1, 1, 2;
  const lrp::ForwardPass pass = net.forward(lrp::Tensor({3}, x));
  const lrp::Explainer ex =
      lrp::Explainer::from_composite(net, builtins(), lrp::Composite::uniform({"epsilon", {{"epsilon", {0.5}}}}));
  const lrp::Explanation e = ex.explain(pass, {0}, {.keep_layer_relevance = true});
  REQUIRE(e.layer_rule_choices.size() == 1);
  CHECK(e.layer_rule_choices[0].rule == "epsilon");
  CHECK(e.layer_rule_choices[0].params.scalar("epsilon", "test") == 0.5);
  const lrp::ConservationResult c = lrp::conservation(net, pass, e);
  CHECK(c.output_seed[0] == 1.5);
  CHECK(c.input_sum[0] == 0.75);
  CHECK(c.relative_error[0] == 0.5);
  CHECK(c.layer_sums(0, 0) == 0.75);
  CHECK(c.layer_sums(0, 1) == 1.5);
  CHECK(c.bias_share(0, 0) == 0.375);
  CHECK(c.stabilizer_share(0, 0) == 0.375);
  CHECK(c.nonfinite_total == 0);
  CHECK(c.relative_error_summary.mean == 0.5);

  // A negative z: target 1 with x = [1, 3, 0] gives z_1 = -2.75, stab = -3.25, seed -2.75;
  // bias share (-2.75)(-0.25)/(-3.25), stabilizer share (-2.75)(-0.5)/(-3.25).
  Matrix x2(1, 3);
  x2 << 1, 3, 0;
  const lrp::ForwardPass pass2 = net.forward(lrp::Tensor({3}, x2));
  const lrp::Explanation e2 = ex.explain(pass2, {1}, {.keep_layer_relevance = true});
  const lrp::ConservationResult c2 = lrp::conservation(net, pass2, e2);
  CHECK(c2.bias_share(0, 0) == Approx(-2.75 * -0.25 / -3.25).epsilon(tol(1e-6, 1e-14)));
  CHECK(c2.stabilizer_share(0, 0) == Approx(-2.75 * -0.5 / -3.25).epsilon(tol(1e-6, 1e-14)));
  CHECK(c2.input_sum[0] + c2.bias_share(0, 0) + c2.stabilizer_share(0, 0) == Approx(-2.75).epsilon(tol(1e-6, 1e-14)));
}

TEST_CASE("conservation: LRP-0 on bias-free ReLU networks loses nothing at any layer", "[metrics]") {
  for (const char* which : {"cnn", "mlp"}) {
    INFO(which);
    lrp::Network net = std::string(which) == "cnn" ? lrp::example_cnn(91) : lrp::example_mlp(91);
    zero_biases(net);
    const lrp::ForwardPass pass = net.forward(lrp::random_inputs(net.input_shape(), 4, 92));
    const auto targets = lrp::select_targets(pass.logits(), lrp::TargetSpec::predicted());
    const lrp::Explainer ex = lrp::Explainer::from_composite(
        net, builtins(), lrp::Composite::uniform({"zero", {}}).by_kind("avgpool2d", {"zero", {}}));
    const lrp::Explanation e = ex.explain(pass, targets, {.keep_layer_relevance = true});
    const lrp::ConservationResult c = lrp::conservation(net, pass, e);
    REQUIRE(c.layer_sums.cols() == net.size() + 1);
    for (Index i = 0; i < 4; ++i) {
      INFO("sample " << i);
      const double seed = static_cast<double>(e.seed[i]);
      CHECK(c.output_seed[i] == seed);
      CHECK(c.relative_error[i] <= tol(1e-4, 1e-10));
      for (Index l = 0; l <= net.size(); ++l) {
        // The literal sum of the map, in long double.
        const Matrix& map = e.layer_relevance[static_cast<size_t>(l)];
        long double sum = 0, abs_sum = 0;
        for (Index j = 0; j < map.cols(); ++j) {
          sum += map(i, j);
          abs_sum += std::abs(static_cast<long double>(map(i, j)));
        }
        CHECK(std::abs(c.layer_sums(i, l) - static_cast<double>(sum)) <= 1e-12 * static_cast<double>(abs_sum));
        CHECK(std::abs(c.layer_sums(i, l) - seed) <= tol(1e-4, 1e-10) * std::max(std::abs(seed), static_cast<double>(abs_sum)));
      }
      for (Index l = 0; l < net.size(); ++l) {
        CHECK(c.bias_share(i, l) == 0.0);  // no bias, ε = 0 (or pass / wta): nothing absorbed
        CHECK(c.stabilizer_share(i, l) == 0.0);
      }
    }
  }
}

TEST_CASE("conservation: input sum plus bias and stabilizer shares give the seed under epsilon with biases", "[metrics]") {
  // Biases everywhere, a large ε on dense/conv, norm on average pooling, wta on max pooling, pass
  // on activations: every layer's shares are computable and account for all that is lost.
  for (const char* which : {"cnn", "mlp"}) {
    for (const double epsilon : {0.0, 1e-3, 0.5}) {
      INFO(which << ", epsilon " << epsilon);
      const lrp::Network net = std::string(which) == "cnn" ? lrp::example_cnn(101) : lrp::example_mlp(101);
      const lrp::ForwardPass pass = net.forward(lrp::random_inputs(net.input_shape(), 3, 102));
      const auto targets = lrp::select_targets(pass.logits(), lrp::TargetSpec::predicted());
      const lrp::RuleChoice rule = epsilon == 0.0 ? lrp::RuleChoice{"zero", {}}
                                                  : lrp::RuleChoice{"epsilon", {{"epsilon", {epsilon}}}};
      const lrp::Explainer ex = lrp::Explainer::from_composite(net, builtins(), lrp::Composite::uniform(rule));
      const lrp::Explanation e = ex.explain(pass, targets, {.keep_layer_relevance = true});
      const lrp::ConservationResult c = lrp::conservation(net, pass, e);
      for (Index i = 0; i < 3; ++i) {
        INFO("sample " << i);
        double absorbed = 0, scale = std::abs(c.output_seed[i]);
        for (Index l = 0; l < net.size(); ++l) {
          REQUIRE(std::isfinite(c.bias_share(i, l)));
          REQUIRE(std::isfinite(c.stabilizer_share(i, l)));
          absorbed += c.bias_share(i, l) + c.stabilizer_share(i, l);
          scale = std::max(scale, static_cast<double>(e.layer_relevance[static_cast<size_t>(l)].row(i).cwiseAbs().sum()));
          // Per layer: Σ R_in = Σ R_out − shares.
          CHECK(std::abs(c.layer_sums(i, l) + c.bias_share(i, l) + c.stabilizer_share(i, l) - c.layer_sums(i, l + 1)) <=
                tol(1e-4, 1e-10) * scale);
          if (e.layer_rule_choices[static_cast<size_t>(l)].rule == "zero") CHECK(c.stabilizer_share(i, l) == 0.0);
        }
        CHECK(std::abs(c.input_sum[i] + absorbed - c.output_seed[i]) <= tol(1e-4, 1e-10) * scale);
        // The stabilizer of a large ε absorbs a visible part.
        if (epsilon == 0.5) CHECK(std::abs(c.stabilizer_share.row(i).sum()) > 1e-3 * std::abs(c.output_seed[i]));
      }
    }
  }
}

TEST_CASE("conservation: rules without a bias/stabilizer split report NaN shares - pass and wta report 0",
          "[metrics]") {
  const lrp::Network net = lrp::example_cnn(111);
  const lrp::ForwardPass pass = net.forward(lrp::random_inputs(net.input_shape(), 2, 112));
  const auto targets = lrp::select_targets(pass.logits(), lrp::TargetSpec::predicted());
  const lrp::Explanation e = explainer_for(net, "epsilon_gamma_box", preset_params("epsilon_gamma_box"))
                                 .explain(pass, targets, {.keep_layer_relevance = true});
  const lrp::ConservationResult c = lrp::conservation(net, pass, e);
  // conv1 zbox, relu1 pass, pool1 wta, conv2 gamma, relu2 pass, pool2 norm, flatten pass, fc epsilon
  const std::vector<std::string> want{"zbox", "pass", "wta", "gamma", "pass", "norm", "pass", "epsilon"};
  for (Index l = 0; l < net.size(); ++l) {
    const size_t li = static_cast<size_t>(l);
    INFO("layer " << l << " " << e.layer_rule_choices[li].rule);
    CHECK(e.layer_rule_choices[li].rule == want[li]);
    REQUIRE(c.layer_shares.size() == want.size());
    const lrp::LedgerShare::Kind kind = c.layer_shares[li].kind;
    if (want[li] == "zbox" || want[li] == "gamma")
      CHECK(kind == lrp::LedgerShare::Kind::kNone);
    else if (want[li] == "pass" || want[li] == "wta")
      CHECK(kind == lrp::LedgerShare::Kind::kZero);
    else
      CHECK(kind == lrp::LedgerShare::Kind::kEpsilon);
    for (Index i = 0; i < 2; ++i) {
      if (want[li] == "zbox" || want[li] == "gamma") {
        CHECK(std::isnan(c.bias_share(i, l)));
        CHECK(std::isnan(c.stabilizer_share(i, l)));
      } else if (want[li] == "pass" || want[li] == "wta") {
        CHECK(c.bias_share(i, l) == 0.0);
        CHECK(c.stabilizer_share(i, l) == 0.0);
      } else {
        CHECK(std::isfinite(c.bias_share(i, l)));
        CHECK(std::isfinite(c.stabilizer_share(i, l)));
      }
    }
  }
  // The gradient's explanation (no LRP rule at all): every linear layer NaN.
  const lrp::Explanation g = lrp::Explainer::gradient(net, builtins()).explain(pass, targets, {.keep_layer_relevance = true});
  const lrp::ConservationResult cg = lrp::conservation(net, pass, g);
  CHECK(std::isnan(cg.bias_share(0, 0)));
  CHECK(std::isnan(cg.bias_share(0, 7)));
}

TEST_CASE("every built-in rule reports its ledger share and the epsilon-type ones carry their stabilizer", "[metrics]") {
  const lrp::Network net = lrp::example_mlp(131);
  const lrp::Layer& dense = net.layer(0);
  REQUIRE(dense.traits().linear);
  const auto share = [&](const std::string& rule, lrp::ParamMap params) {
    if (rule == "zbox") params = {{"low", {0.0}}, {"high", {1.0}}};  // required parameters
    return builtins().make_rule(rule, params)->ledger_share(dense);
  };
  using Kind = lrp::LedgerShare::Kind;
  CHECK(share("zero", {}).kind == Kind::kEpsilon);
  CHECK(share("zero", {}).epsilon == 0);
  CHECK(share("epsilon", {{"epsilon", {0.25}}}).kind == Kind::kEpsilon);
  CHECK(share("epsilon", {{"epsilon", {0.25}}}).epsilon == static_cast<Scalar>(0.25));
  CHECK(share("norm", {{"stabilizer", {0.125}}}).epsilon == static_cast<Scalar>(0.125));
  CHECK(share("pass", {}).kind == Kind::kZero);
  CHECK(share("wta", {}).kind == Kind::kZero);
  for (const char* none : {"gamma", "zplus", "alpha_beta", "flat", "wsquare", "zbox", "gradient", "token_sum",
                           "lstm_gate", "lstm_half", "lstm_prop"})
    CHECK(share(none, {}).kind == Kind::kNone);
  // No built-in rule is left to the default: every one says what the ledger may compute.
  for (const lrp::RuleInfo& info : builtins().rules()) {
    INFO("rule " << info.name);
    CHECK(share(info.name, {}).kind != Kind::kUnknown);
  }
}

TEST_CASE("a rule that does not report its ledger share gets unknown shares - not guessed from its name", "[metrics]") {
  // LRP-0 made as a plain LinearRule without set_ledger_share: the same numbers as the registry's
  // `zero`, but the ledger must not claim to know its shares.
  lrp::Network net = lrp::example_mlp(141);
  const lrp::ForwardPass pass = net.forward(lrp::random_inputs(net.input_shape(), 3, 142));
  const auto targets = lrp::select_targets(pass.logits(), lrp::TargetSpec::predicted());
  std::vector<lrp::RulePtr> reported, unreported;
  for (Index l = 0; l < net.size(); ++l) {
    const bool linear = net.layer(l).traits().linear;
    reported.push_back(builtins().make_rule(linear ? "zero" : "pass"));
    if (linear)
      unreported.push_back(std::make_unique<lrp::LinearRule>(lrp::LinearRuleSpec::single_term(
          lrp::InputModifier::identity(), lrp::ParamModifier::unchanged(), 0)));
    else
      unreported.push_back(builtins().make_rule("pass"));
  }
  const lrp::Explainer known(net, std::move(reported)), unknown(net, std::move(unreported));
  const lrp::Explanation ek = known.explain(pass, targets, {.keep_layer_relevance = true});
  const lrp::Explanation eu = unknown.explain(pass, targets, {.keep_layer_relevance = true});
  REQUIRE(ek.relevance.data == eu.relevance.data);  // the same rule
  const lrp::ConservationResult ck = lrp::conservation(net, pass, ek);
  const lrp::ConservationResult cu = lrp::conservation(net, pass, eu);
  CHECK(cu.input_sum == ck.input_sum);
  Index unknown_layers = 0;
  for (Index l = 0; l < net.size(); ++l) {
    INFO("layer " << l);
    const bool linear = net.layer(l).traits().linear;
    CHECK(cu.layer_shares[static_cast<size_t>(l)].kind ==
          (linear ? lrp::LedgerShare::Kind::kUnknown : lrp::LedgerShare::Kind::kZero));
    unknown_layers += linear ? 1 : 0;
    for (Index i = 0; i < 3; ++i) {
      if (linear) {
        CHECK(std::isfinite(ck.bias_share(i, l)));
        CHECK(std::isnan(cu.bias_share(i, l)));
        CHECK(std::isnan(cu.stabilizer_share(i, l)));
      } else {
        CHECK(cu.bias_share(i, l) == 0.0);
      }
    }
  }
  CHECK(unknown_layers >= 2);
  // An explanation without the reports (made by hand) is unknown everywhere.
  lrp::Explanation bare = ek;
  bare.layer_ledger_shares.clear();
  const lrp::ConservationResult cb = lrp::conservation(net, pass, bare);
  for (const lrp::LedgerShare& s : cb.layer_shares) CHECK(s.kind == lrp::LedgerShare::Kind::kUnknown);
  CHECK(std::isnan(cb.bias_share(0, 0)));
}

TEST_CASE("conservation counts NaN and Inf values, sums the finite ones, and needs the layer ledger", "[metrics]") {
  const lrp::Network net = lrp::example_mlp(121);
  const lrp::ForwardPass pass = net.forward(lrp::random_inputs(net.input_shape(), 3, 122));
  const std::vector<Index> targets{1, 2, 3};
  const lrp::Explainer ex = explainer_for(net, "epsilon_plus");
  lrp::Explanation e = ex.explain(pass, targets, {.keep_layer_relevance = true});
  const lrp::ConservationResult clean = lrp::conservation(net, pass, e);
  CHECK(clean.nonfinite_total == 0);

  const Scalar nan = std::numeric_limits<Scalar>::quiet_NaN(), inf = std::numeric_limits<Scalar>::infinity();
  e.relevance.data(1, 7) = nan;
  e.layer_relevance[0](1, 7) = nan;
  // Map 3 is fc2's output (relu2's input).
  e.layer_relevance[3](2, 3) = inf;
  e.layer_relevance[3](2, 4) = -inf;
  e.layer_relevance[3](2, 5) = nan;
  const lrp::ConservationResult c = lrp::conservation(net, pass, e);
  CHECK(c.nonfinite_input == std::vector<Index>{0, 1, 0});
  CHECK(c.nonfinite_layers(1, 0) == 1);
  CHECK(c.nonfinite_layers(2, 3) == 3);
  CHECK(c.nonfinite_layers.sum() == 4);
  CHECK(c.nonfinite_total == 5);
  // The sums are those of the finite values (literally, in long double).
  const auto finite_sum = [](const Matrix& m, Index row) {
    long double sum = 0;
    for (Index j = 0; j < m.cols(); ++j)
      if (std::isfinite(m(row, j))) sum += m(row, j);
    return static_cast<double>(sum);
  };
  CHECK(std::abs(c.input_sum[1] - finite_sum(e.relevance.data, 1)) <= 1e-12);
  CHECK(std::abs(c.layer_sums(1, 0) - finite_sum(e.layer_relevance[0], 1)) <= 1e-12);
  CHECK(std::abs(c.layer_sums(2, 3) - finite_sum(e.layer_relevance[3], 2)) <= 1e-12);
  CHECK(std::isfinite(c.relative_error[1]));
  CHECK(std::isfinite(c.bias_share(2, 2)));  // fc2: the non-finite terms of its output are skipped
  CHECK(std::isfinite(c.stabilizer_share(2, 2)));

  // A zero seed makes the relative error undefined: NaN, and the summary says it left it out.
  e.seed[0] = 0;
  const lrp::ConservationResult zero_seed = lrp::conservation(net, pass, e);
  CHECK(std::isnan(zero_seed.relative_error[0]));
  CHECK(zero_seed.relative_error_summary.count == 2);
  CHECK(zero_seed.relative_error_summary.skipped == 1);

  const lrp::Explanation no_ledger = ex.explain(pass, targets);
  REQUIRE_THROWS_WITH(lrp::conservation(net, pass, no_ledger), Catch::Contains("keep_layer_relevance"));
  const lrp::ForwardPass other = net.forward(lrp::random_inputs(net.input_shape(), 2, 123));
  REQUIRE_THROWS_AS(lrp::conservation(net, other, e), lrp::Error);
}

// ---------------------------------------------------------------- the exchange between ranks

TEST_CASE("an Archive unpacks exactly what it packed with the same visit function - seeds bit for bit", "[metrics]") {
  struct Record {
    Index count = 0;
    double seconds = 0;
    bool flag = false;
    std::vector<std::uint64_t> seeds = std::vector<std::uint64_t>(4, 0);
    Matrix rows = Matrix::Zero(4, 3);
    lrp::IndexMatrix orders = lrp::IndexMatrix::Zero(4, 2);
    Eigen::VectorXd scores = Eigen::VectorXd::Zero(4);
    void visit(lrp::Archive& a, Index begin, Index n) {  // one list for both directions
      a.value(count);
      a.value(seconds);
      a.any(flag);
      a.range(seeds, begin, n);
      a.rows(rows, begin, n);
      a.rows(orders, begin, n);
      a.range(scores, begin, n);
    }
  };
  Record sent;
  sent.count = (Index(1) << 52) + 3;  // integers below 2^53 travel exactly
  sent.seconds = 0.1;
  sent.flag = true;
  sent.seeds = {0xffff'ffff'ffff'ffffULL, 0x7ff8'0000'0000'0001ULL, 1, 0x8000'0000'0000'0000ULL};  // NaN patterns too
  sent.rows = random_matrix(4, 3, 151);
  sent.orders << 3, 1, 0, 2, 2, 2, 1, 0;
  sent.scores << -1.5, 2.25, 1e-300, -0.0;
  lrp::Archive out;
  REQUIRE(out.packing());
  sent.visit(out, 1, 2);  // rows 1 and 2 only
  CHECK(out.data().size() == 3 + 2 * (1 + 3 + 2 + 1));

  Record got;
  lrp::Archive in(out.data());
  REQUIRE_FALSE(in.packing());
  got.visit(in, 1, 2);
  CHECK(in.done());
  CHECK(got.count == sent.count);
  CHECK(got.seconds == sent.seconds);
  CHECK(got.flag);
  for (Index i = 0; i < 4; ++i) {
    const bool moved = i == 1 || i == 2;
    INFO("row " << i);
    CHECK(got.seeds[static_cast<size_t>(i)] == (moved ? sent.seeds[static_cast<size_t>(i)] : 0));
    CHECK(got.rows.row(i) == (moved ? Matrix(sent.rows.row(i)) : Matrix::Zero(1, 3)));
    CHECK(got.orders.row(i) == (moved ? lrp::IndexMatrix(sent.orders.row(i)) : lrp::IndexMatrix::Zero(1, 2)));
    CHECK(got.scores[i] == (moved ? sent.scores[i] : 0.0));
  }
  // `any` keeps a flag the receiver already has; a short archive is an error, not garbage.
  Record quiet;
  lrp::Archive off;
  quiet.visit(off, 0, 0);
  Record already;
  already.flag = true;
  lrp::Archive back(off.data());
  already.visit(back, 0, 0);
  CHECK(already.flag);
  const std::vector<double> cut(out.data().begin(), out.data().end() - 1);
  lrp::Archive short_in(cut);
  Record broken;
  REQUIRE_THROWS_WITH(broken.visit(short_in, 1, 2), Catch::Contains("end early"));
}
