// Ground-truth sequence tasks (docs/metrics.md, Relevance accuracy): the marked-addition and long-range generators
// checked sample by sample against their rules (labels and relevant steps recomputed from the
// inputs, class shares over 2,000 samples), independence of a sample from the set's size, their
// config sections and positioned errors, Dataset::relevant carried through subset and sample,
// perturbation regions on [T, D] sequences from a literal formula, the deletion curve of a linear
// model on [T, D] inputs in closed form, and relevance accuracy on hand-made heatmaps (known
// answers, signed step sums, seeded tie-breaking reproduced from its documented definition, NaN
// samples, chance level of random relevance, errors).
#include "test_util.hpp"

#include "lrp/experiment/config.hpp"
#include "lrp/io/data.hpp"
#include "lrp/eval/metrics.hpp"
#include "lrp/core/random.hpp"
#include "lrp/io/sequence_tasks.hpp"
#include "lrp/io/yaml_util.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>
#include <numeric>
#include <random>
#include <set>
#include <string>
#include <vector>

using namespace lrp_test;
using Catch::Contains;
using lrp::Dataset;

namespace {

using Steps = std::vector<Index>;

// The dataset section `text` (one line of YAML) read as config "cfg.yaml", key "data".
Dataset load(const std::string& text, std::uint64_t default_seed = 7) {
  return lrp::load_dataset(lrp::yaml::load_text(text, "cfg.yaml"), "cfg.yaml", "data", default_seed);
}

// "cfg.yaml:1:<column>" of the first occurrence of `token` in a one-line config.
std::string at(const std::string& text, const std::string& token) {
  const auto column = text.find(token);
  REQUIRE(column != std::string::npos);
  return "cfg.yaml:1:" + std::to_string(column + 1);
}


// min, max and per-feature mean of a dataset's inputs, computed here in long double.
void check_statistics(const Dataset& d) {
  const Matrix& x = d.inputs.data;
  long double low = x(0, 0), high = x(0, 0);
  for (Index i = 0; i < x.rows(); ++i)
    for (Index f = 0; f < x.cols(); ++f) {
      low = std::min<long double>(low, x(i, f));
      high = std::max<long double>(high, x(i, f));
    }
  CHECK(static_cast<long double>(d.value_min) == low);
  CHECK(static_cast<long double>(d.value_max) == high);
  REQUIRE(d.mean.rows() == 1);
  REQUIRE(d.mean.cols() == x.cols());
  double worst = 0;
  for (Index f = 0; f < x.cols(); ++f) {
    long double sum = 0;
    for (Index i = 0; i < x.rows(); ++i) sum += x(i, f);
    const long double mean = sum / static_cast<long double>(x.rows());
    worst = std::max(worst, static_cast<double>(std::abs(static_cast<long double>(d.mean(0, f)) - mean)));
  }
  CHECK(worst <= tol(1e-6, 1e-13));
}

lrp::Tensor rows_tensor(const Shape& shape, std::initializer_list<std::initializer_list<double>> rows) {
  Matrix m(static_cast<Index>(rows.size()), lrp::numel(shape));
  Index i = 0;
  for (const auto& row : rows) {
    REQUIRE(static_cast<Index>(row.size()) == m.cols());
    Index j = 0;
    for (const double v : row) m(i, j++) = static_cast<Scalar>(v);
    ++i;
  }
  return lrp::Tensor(shape, m);
}

// The tie order of the documentation: steps in the order of lrp::shuffle applied to 0..T−1 with
// std::mt19937_64(sample_seed(seed, id, kRelevanceAccuracyTieStream)); position = key.
std::vector<Index> tie_keys(Index steps, std::uint64_t seed, Index id) {
  std::vector<Index> permutation(static_cast<size_t>(steps));
  std::iota(permutation.begin(), permutation.end(), Index(0));
  std::mt19937_64 rng(lrp::sample_seed(seed, id, lrp::kRelevanceAccuracyTieStream));
  lrp::shuffle(permutation, rng);
  std::vector<Index> key(static_cast<size_t>(steps));
  for (Index p = 0; p < steps; ++p) key[static_cast<size_t>(permutation[static_cast<size_t>(p)])] = p;
  return key;
}

}  // namespace

// ---------------------------------------------------------------- generators

TEST_CASE("marked_addition: two marked steps, labels follow the rule, relevant = the marked steps", "[sequence]") {
  const Index n = 2000, steps = 20;
  const Dataset d = lrp::marked_addition(n, steps, 11);
  REQUIRE(d.inputs.shape == Shape{steps, 2});
  REQUIRE(d.size() == n);
  REQUIRE(static_cast<Index>(d.labels.size()) == n);
  REQUIRE(static_cast<Index>(d.relevant.size()) == n);
  REQUIRE(static_cast<Index>(d.indices.size()) == n);
  CHECK_THAT(d.source, Contains("marked_addition(") && Contains("count 2000") && Contains("steps 20") &&
                           Contains("seed 11"));

  Index bad_value = 0, bad_marker = 0, bad_count = 0, bad_relevant = 0, bad_label = 0, bad_index = 0;
  std::vector<Index> per_class(2, 0), marked_at(static_cast<size_t>(steps), 0);
  long double value_sum = 0;
  for (Index i = 0; i < n; ++i) {
    Steps marked;
    for (Index t = 0; t < steps; ++t) {
      const Scalar v = d.inputs.data(i, 2 * t), m = d.inputs.data(i, 2 * t + 1);
      bad_value += (v >= 0 && v < 1) ? 0 : 1;
      bad_marker += (m == 0 || m == 1) ? 0 : 1;
      if (m == 1) marked.push_back(t);
      value_sum += v;
    }
    if (marked.size() != 2) {
      ++bad_count;
      continue;
    }
    bad_relevant += d.relevant[static_cast<size_t>(i)] == marked ? 0 : 1;
    for (const Index t : marked) ++marked_at[static_cast<size_t>(t)];
    const double sum = static_cast<double>(d.inputs.data(i, 2 * marked[0])) +
                       static_cast<double>(d.inputs.data(i, 2 * marked[1]));
    const Index label = sum > 1.0 ? 1 : 0;
    bad_label += d.labels[static_cast<size_t>(i)] == label ? 0 : 1;
    ++per_class[static_cast<size_t>(d.labels[static_cast<size_t>(i)] == 1)];
    bad_index += d.indices[static_cast<size_t>(i)] == i ? 0 : 1;
  }
  CHECK(bad_value == 0);
  CHECK(bad_marker == 0);
  CHECK(bad_count == 0);
  CHECK(bad_relevant == 0);
  CHECK(bad_label == 0);
  CHECK(bad_index == 0);
  // P(label 1) = P(U + V > 1) = 1/2: 1000 ± 22 of 2000.
  for (const Index c : per_class) {
    CHECK(c >= 900);
    CHECK(c <= 1100);
  }
  // Marked steps uniform: 200 ± 13 per step.
  for (const Index m : marked_at) {
    CHECK(m >= 140);
    CHECK(m <= 260);
  }
  // Values uniform on [0, 1): mean 0.5 ± 0.0015.
  CHECK(std::abs(static_cast<double>(value_sum / (n * steps)) - 0.5) < 0.01);
  check_statistics(d);
}

TEST_CASE("long_range: a start marker followed by the class symbol, distractors everywhere else", "[sequence]") {
  const Index n = 2000, steps = 10, symbols = 4;
  const Dataset d = lrp::long_range(n, steps, symbols, 3);
  REQUIRE(d.inputs.shape == Shape{steps});
  REQUIRE(d.size() == n);
  REQUIRE(static_cast<Index>(d.labels.size()) == n);
  REQUIRE(static_cast<Index>(d.relevant.size()) == n);
  CHECK_THAT(d.source, Contains("long_range(") && Contains("count 2000") && Contains("steps 10") &&
                           Contains("symbols 4") && Contains("seed 3"));
  CHECK(lrp::long_range_vocabulary(symbols) == symbols + 1 + 4);
  CHECK(lrp::kLongRangeDistractors == 4);

  const Index marker = symbols;
  Index bad_token = 0, bad_marker = 0, bad_label = 0, bad_relevant = 0, bad_index = 0;
  std::vector<Index> per_class(static_cast<size_t>(symbols), 0), start_at(static_cast<size_t>(steps), 0),
      distractor(4, 0);
  for (Index i = 0; i < n; ++i) {
    Steps markers, symbol_positions;
    for (Index t = 0; t < steps; ++t) {
      const double v = d.inputs.data(i, t);
      const auto id = static_cast<Index>(v);
      if (static_cast<double>(id) != v || id < 0 || id >= lrp::long_range_vocabulary(symbols)) {
        ++bad_token;
        continue;
      }
      if (id == marker) markers.push_back(t);
      if (id < symbols) symbol_positions.push_back(t);
      if (id > marker) ++distractor[static_cast<size_t>(id - marker - 1)];
    }
    if (markers.size() != 1 || markers[0] > steps - 2 || symbol_positions != Steps{markers[0] + 1}) {
      ++bad_marker;
      continue;
    }
    const Index p = markers[0];
    ++start_at[static_cast<size_t>(p)];
    const auto symbol = static_cast<Index>(d.inputs.data(i, p + 1));
    bad_label += d.labels[static_cast<size_t>(i)] == symbol ? 0 : 1;
    ++per_class[static_cast<size_t>(d.labels[static_cast<size_t>(i)])];
    bad_relevant += d.relevant[static_cast<size_t>(i)] == Steps{p + 1} ? 0 : 1;
    bad_index += d.indices[static_cast<size_t>(i)] == i ? 0 : 1;
  }
  CHECK(bad_token == 0);
  CHECK(bad_marker == 0);
  CHECK(bad_label == 0);
  CHECK(bad_relevant == 0);
  CHECK(bad_index == 0);
  // Classes uniform: 500 ± 19 each.
  for (const Index c : per_class) {
    CHECK(c >= 400);
    CHECK(c <= 600);
  }
  // Start positions uniform over 0..T−2 (222 ± 14 each; the last step never holds the marker).
  for (Index p = 0; p < steps; ++p) {
    INFO("start position " << p);
    if (p == steps - 1) {
      CHECK(start_at[static_cast<size_t>(p)] == 0);
    } else {
      CHECK(start_at[static_cast<size_t>(p)] >= 150);
      CHECK(start_at[static_cast<size_t>(p)] <= 300);
    }
  }
  // Distractors uniform over their 4 ids: (T − 2)·N / 4 = 4000 ± 55 each.
  for (const Index c : distractor) {
    CHECK(c >= 3750);
    CHECK(c <= 4250);
  }
  CHECK(d.value_min == 0);
  CHECK(d.value_max == static_cast<Scalar>(symbols + 4));
  check_statistics(d);
}

TEST_CASE("sequence tasks: sample i depends on the seed and i only, not on count", "[sequence]") {
  SECTION("marked_addition") {
    const Dataset small = lrp::marked_addition(7, 12, 5), big = lrp::marked_addition(40, 12, 5);
    CHECK(bit_equal(small.inputs.data, Matrix(big.inputs.data.topRows(7))));
    CHECK(small.labels == std::vector<Index>(big.labels.begin(), big.labels.begin() + 7));
    CHECK(small.relevant == std::vector<Steps>(big.relevant.begin(), big.relevant.begin() + 7));
    CHECK(bit_equal(small.inputs.data, lrp::marked_addition(7, 12, 5).inputs.data));
    CHECK_FALSE(bit_equal(small.inputs.data, lrp::marked_addition(7, 12, 6).inputs.data));
  }
  SECTION("long_range") {
    const Dataset small = lrp::long_range(5, 9, 3, 8), big = lrp::long_range(33, 9, 3, 8);
    CHECK(bit_equal(small.inputs.data, Matrix(big.inputs.data.topRows(5))));
    CHECK(small.labels == std::vector<Index>(big.labels.begin(), big.labels.begin() + 5));
    CHECK(small.relevant == std::vector<Steps>(big.relevant.begin(), big.relevant.begin() + 5));
    CHECK(bit_equal(small.inputs.data, lrp::long_range(5, 9, 3, 8).inputs.data));
    CHECK_FALSE(bit_equal(small.inputs.data, lrp::long_range(5, 9, 3, 9).inputs.data));
  }
}

TEST_CASE("sequence tasks: the smallest valid sizes, and parameters out of range name the parameter", "[sequence]") {
  const Dataset two = lrp::marked_addition(4, 2, 1);  // both steps are marked
  for (Index i = 0; i < two.size(); ++i) {
    CHECK(two.relevant[static_cast<size_t>(i)] == Steps{0, 1});
    CHECK(two.inputs.data(i, 1) == 1);
    CHECK(two.inputs.data(i, 3) == 1);
  }
  const Dataset pair = lrp::long_range(4, 2, 2, 1);  // [marker, symbol]
  for (Index i = 0; i < pair.size(); ++i) {
    CHECK(pair.inputs.data(i, 0) == 2);
    CHECK(pair.inputs.data(i, 1) == static_cast<Scalar>(pair.labels[static_cast<size_t>(i)]));
    CHECK(pair.relevant[static_cast<size_t>(i)] == Steps{1});
  }
  CHECK_THROWS_WITH(lrp::marked_addition(0, 5, 1), Contains("marked_addition: count must be ≥ 1, got 0"));
  CHECK_THROWS_WITH(lrp::marked_addition(5, 1, 1), Contains("marked_addition: steps must be ≥ 2") && Contains("got 1"));
  CHECK_THROWS_WITH(lrp::long_range(0, 10, 4, 1), Contains("long_range: count must be ≥ 1, got 0"));
  CHECK_THROWS_WITH(lrp::long_range(5, 1, 4, 1), Contains("long_range: steps must be ≥ 2") && Contains("got 1"));
  CHECK_THROWS_WITH(lrp::long_range(5, 10, 1, 1), Contains("long_range: symbols must be ≥ 2") && Contains("got 1"));
}

// ---------------------------------------------------------------- Dataset::relevant

TEST_CASE("subset and sample carry the relevant steps along - sources without them stay without", "[sequence]") {
  const Dataset d = lrp::long_range(30, 8, 3, 2);
  std::set<Steps> distinct(d.relevant.begin(), d.relevant.end());
  REQUIRE(distinct.size() > 3);  // the check below can tell samples apart

  const Dataset part = lrp::subset(d, 5, 12);
  REQUIRE(part.relevant.size() == 7);
  for (Index j = 0; j < 7; ++j) {
    CHECK(part.indices[static_cast<size_t>(j)] == 5 + j);
    CHECK(part.relevant[static_cast<size_t>(j)] == d.relevant[static_cast<size_t>(5 + j)]);
    CHECK(part.labels[static_cast<size_t>(j)] == d.labels[static_cast<size_t>(5 + j)]);
  }
  const Dataset drawn = lrp::sample(d, 10, 99);
  REQUIRE(drawn.relevant.size() == 10);
  for (Index j = 0; j < 10; ++j) {
    const Index source = drawn.indices[static_cast<size_t>(j)];
    CHECK(drawn.relevant[static_cast<size_t>(j)] == d.relevant[static_cast<size_t>(source)]);
    CHECK(bit_equal(Matrix(drawn.inputs.data.row(j)), Matrix(d.inputs.data.row(source))));
  }
  // Nested: a subset of a sample still points at the original samples.
  const Dataset nested = lrp::subset(drawn, 2, 6);
  for (Index j = 0; j < 4; ++j)
    CHECK(nested.relevant[static_cast<size_t>(j)] ==
          d.relevant[static_cast<size_t>(nested.indices[static_cast<size_t>(j)])]);

  const Dataset blobs = lrp::synthetic_blobs({6}, 10, 2, 1);
  CHECK(blobs.relevant.empty());
  CHECK(lrp::subset(blobs, 1, 4).relevant.empty());
  CHECK(lrp::sample(blobs, 3, 1).relevant.empty());

  Dataset short_lists = d;
  short_lists.relevant.pop_back();
  CHECK_THROWS_WITH(lrp::subset(short_lists, 0, 3), Contains("29 lists of relevant positions for 30 samples"));
  Dataset out_of_range = d;
  out_of_range.relevant[4] = {8};
  CHECK_THROWS_WITH(lrp::subset(out_of_range, 0, 10),
                    Contains("the relevant positions of sample 4 are not sorted, distinct positions in [0, 8)"));
  Dataset unsorted = d;
  unsorted.relevant[2] = {3, 1};
  CHECK_THROWS_WITH(lrp::sample(unsorted, 30, 1), Contains("sample 2"));
}

// ---------------------------------------------------------------- config sections

TEST_CASE("dataset sections marked_addition and long_range: defaults, seeds, subsets", "[sequence]") {
  const Dataset a = load("{format: marked_addition, count: 6}");
  const Dataset a_direct = lrp::marked_addition(6, 20, 7);  // steps 20, the config's seed
  CHECK(a.inputs.shape == Shape{20, 2});
  CHECK(bit_equal(a.inputs.data, a_direct.inputs.data));
  CHECK(a.relevant == a_direct.relevant);
  CHECK(a.source == a_direct.source);

  const Dataset b = load("{format: marked_addition, count: 6, steps: 5, seed: 3}");
  CHECK(b.inputs.shape == Shape{5, 2});
  CHECK(bit_equal(b.inputs.data, lrp::marked_addition(6, 5, 3).inputs.data));

  const Dataset c = load("{format: long_range, count: 6}", 12);
  const Dataset c_direct = lrp::long_range(6, 50, 4, 12);  // steps 50, symbols 4
  CHECK(c.inputs.shape == Shape{50});
  CHECK(bit_equal(c.inputs.data, c_direct.inputs.data));
  CHECK(c.labels == c_direct.labels);

  const Dataset e = load("{format: long_range, count: 9, steps: 12, symbols: 3, seed: 4, subset: {begin: 2, end: 6}}");
  const Dataset e_full = lrp::long_range(9, 12, 3, 4);
  CHECK(e.indices == std::vector<Index>{2, 3, 4, 5});
  CHECK(e.relevant == std::vector<Steps>(e_full.relevant.begin() + 2, e_full.relevant.begin() + 6));
  CHECK(bit_equal(e.inputs.data, Matrix(e_full.inputs.data.middleRows(2, 4))));

  const Dataset f = load("{format: marked_addition, count: 20, steps: 6, subset: {count: 5, seed: 1}}");
  const Dataset f_direct = lrp::sample(lrp::marked_addition(20, 6, 7), 5, 1);
  CHECK(f.indices == f_direct.indices);
  CHECK(f.relevant == f_direct.relevant);
}

TEST_CASE("dataset sections marked_addition and long_range: bad keys and values are positioned errors",
          "[sequence]") {
  struct Case {
    std::string text, token;
    std::vector<std::string> parts;
  };
  const std::vector<Case> cases{
      {"{format: marked_addition, count: 6, step: 5}", "step:",
       {"unknown key 'step' in data (marked_addition) (did you mean 'steps'?)",
        "valid keys: format, steps, min_steps, count, seed, subset"}},
      {"{format: long_range, count: 6, symbol: 3}", "symbol:",
       {"unknown key 'symbol' in data (long_range) (did you mean 'symbols'?)",
        "valid keys: format, steps, symbols, count, seed, one_hot, subset"}},
      {"{format: marked_addition, count: 6, classes: 2}", "classes", {"unknown key 'classes' in data (marked_addition)"}},
      {"{format: marked_addition, count: 6, steps: 1}", "1}", {"data.steps must be a whole number ≥ 2, got 1"}},
      {"{format: long_range, count: 6, steps: 1}", "1}", {"data.steps must be a whole number ≥ 2, got 1"}},
      {"{format: long_range, count: 6, symbols: 1.5}", "1.5", {"data.symbols must be a whole number ≥ 2, got 1.5"}},
      {"{format: long_range, count: 6, symbols: four}", "four", {"data.symbols"}},
      {"{format: marked_addition, count: 0}", "0}", {"data.count must be a whole number ≥ 1, got 0"}},
      {"{format: long_range, count: 6, seed: -1}", "-1", {"data.seed must be a whole number in [0, 2^64)"}},
      {"{format: marked_addition, steps: 5}", "{", {"data needs the key 'count'"}},
      {"{format: long_range}", "{", {"data needs the key 'count'"}},
      {"{format: marked_adition, count: 6}", "marked_adition",
       {"data.format 'marked_adition' is not one of idx, csv, hdf5, synthetic, marked_addition, long_range",
        "(did you mean 'marked_addition'?)"}},
      {"{format: longrange, count: 6}", "longrange", {"(did you mean 'long_range'?)"}},
      {"{format: marked_addition, count: 6, one_hot: true}", "true",
       {"data.one_hot applies only to format long_range", "format 'marked_addition' has no token ids"}},
      {"{format: synthetic, shape: [4], count: 6, classes: 2, one_hot: false}", "false",
       {"data.one_hot applies only to format long_range", "format 'synthetic'"}},
      {"{format: long_range, count: 6, one_hot: yes please}", "yes please", {"data.one_hot"}},
      {"{format: long_range, count: 6, subset: {begin: 4, end: 9}}", "{begin",
       {"data.subset [4, 9) is not a non-empty range within the 6 samples"}},
  };
  for (const Case& k : cases) {
    INFO(k.text);
    const std::string message = error_of([&] { (void)load(k.text); });
    CHECK_THAT(message, Contains(at(k.text, k.token) + ": "));
    for (const std::string& part : k.parts) CHECK_THAT(message, Contains(part));
  }
}

// ---------------------------------------------------------------- one-hot tokens

TEST_CASE("one_hot_tokens: step t of sample i is the unit vector of its token id, the rest carries over",
          "[sequence]") {
  const Index steps = 9, symbols = 3, vocabulary = lrp::long_range_vocabulary(symbols);
  REQUIRE(vocabulary == 8);
  const Dataset tokens = lrp::long_range(40, steps, symbols, 21);
  const Dataset onehot = lrp::one_hot_tokens(tokens, vocabulary);
  CHECK(onehot.inputs.shape == Shape{steps, vocabulary});
  REQUIRE(onehot.size() == tokens.size());
  Index mismatches = 0;
  for (Index i = 0; i < tokens.size(); ++i)
    for (Index t = 0; t < steps; ++t) {
      const auto id = static_cast<Index>(std::lround(static_cast<double>(tokens.inputs.data(i, t))));
      for (Index v = 0; v < vocabulary; ++v)
        if (onehot.inputs.data(i, t * vocabulary + v) != (v == id ? Scalar(1) : Scalar(0))) ++mismatches;
    }
  CHECK(mismatches == 0);
  // The class token at the relevant step is the label's unit vector; the step before it the marker's.
  for (Index i = 0; i < tokens.size(); ++i) {
    const Index r = tokens.relevant[static_cast<std::size_t>(i)].at(0);
    CHECK(onehot.inputs.data(i, r * vocabulary + tokens.labels[static_cast<std::size_t>(i)]) == 1);
    CHECK(onehot.inputs.data(i, (r - 1) * vocabulary + symbols) == 1);
  }
  CHECK(onehot.labels == tokens.labels);
  CHECK(onehot.relevant == tokens.relevant);
  CHECK(onehot.indices == tokens.indices);
  CHECK(onehot.source == tokens.source + ", one-hot 8");
  check_statistics(onehot);
  CHECK(onehot.value_min == 0);
  CHECK(onehot.value_max == 1);

  // A subset keeps its indices and relevant steps through the encoding.
  const Dataset part = lrp::one_hot_tokens(lrp::subset(tokens, 5, 9), vocabulary);
  CHECK(part.indices == std::vector<Index>{5, 6, 7, 8});
  CHECK(bit_equal(part.inputs.data, Matrix(onehot.inputs.data.middleRows(5, 4))));
}

TEST_CASE("one_hot_tokens: the config key one_hot, and errors for ids, shapes and vocabularies", "[sequence]") {
  const Dataset d = load("{format: long_range, count: 6, steps: 12, symbols: 3, seed: 4, one_hot: true}");
  const Dataset direct = lrp::one_hot_tokens(lrp::long_range(6, 12, 3, 4), 8);
  CHECK(d.inputs.shape == Shape{12, 8});
  CHECK(bit_equal(d.inputs.data, direct.inputs.data));
  CHECK(d.relevant == direct.relevant);
  const Dataset off = load("{format: long_range, count: 6, steps: 12, symbols: 3, seed: 4, one_hot: false}");
  CHECK(off.inputs.shape == Shape{12});
  const Dataset sub = load("{format: long_range, count: 9, steps: 12, one_hot: true, subset: {begin: 2, end: 5}}");
  CHECK(sub.inputs.shape == Shape{12, 9});
  CHECK(sub.indices == std::vector<Index>{2, 3, 4});

  Dataset bad;
  bad.inputs = rows_tensor({3}, {{0, 1, 2}, {1, 2.5, 0}});
  bad.source = "hand-made";
  CHECK_THAT(error_of([&] { (void)lrp::one_hot_tokens(bad, 4); }),
             Contains("'hand-made': sample 1, step 1 holds 2.5") && Contains("whole number in [0, 4)"));
  bad.inputs = rows_tensor({3}, {{0, 1, 2}, {1, 4, 0}});
  CHECK_THAT(error_of([&] { (void)lrp::one_hot_tokens(bad, 4); }), Contains("sample 1, step 1 holds 4"));
  bad.inputs = rows_tensor({3}, {{0, -1, 2}});
  CHECK_THAT(error_of([&] { (void)lrp::one_hot_tokens(bad, 4); }), Contains("sample 0, step 1 holds -1"));
  CHECK_THAT(error_of([&] { (void)lrp::one_hot_tokens(lrp::marked_addition(3, 4, 1), 8); }),
             Contains("shape [4, 2]") && Contains("expected token ids of shape [T]"));
  CHECK_THAT(error_of([&] { (void)lrp::one_hot_tokens(lrp::long_range(3, 4, 2, 1), 0); }),
             Contains("vocabulary must be in [1, 2^20], got 0"));
  // Ids of the task's own vocabulary do not fit a smaller one.
  CHECK_THAT(error_of([&] { (void)lrp::one_hot_tokens(lrp::long_range(3, 6, 4, 1), 5); }),
             Contains("expected a token id, a whole number in [0, 5)"));
}

// ---------------------------------------------------------------- regions on sequences

TEST_CASE("perturbation regions on [T, D] sequences: runs of patch time steps with all their features",
          "[sequence]") {
  struct Case {
    Index steps, features, patch;
  };
  for (const Case& k : {Case{7, 3, 2}, Case{6, 1, 3}, Case{5, 4, 1}, Case{3, 2, 5}, Case{8, 2, 8}}) {
    INFO("T " << k.steps << ", D " << k.features << ", patch " << k.patch);
    const auto regions = lrp::perturbation_regions({k.steps, k.features}, k.patch);
    // Literal: feature f = t·D + d belongs to region ⌊t / patch⌋; a region lists its features in
    // increasing order (step by step, feature by feature).
    const Index count = (k.steps + k.patch - 1) / k.patch;
    std::vector<std::vector<Index>> want(static_cast<size_t>(count));
    for (Index f = 0; f < k.steps * k.features; ++f)
      want[static_cast<size_t>((f / k.features) / k.patch)].push_back(f);
    CHECK(regions == want);
    // The last region is shorter when patch does not divide T.
    const Index last_steps = k.steps - (count - 1) * k.patch;
    CHECK(static_cast<Index>(regions.back().size()) == last_steps * k.features);
  }
  CHECK_THROWS_WITH(lrp::perturbation_regions({2, 3, 4, 5}, 1),
                    Contains("[2, 3, 4, 5]") && Contains("[time steps, features]"));
  CHECK_THROWS_WITH(lrp::perturbation_regions({6, 2}, 0), Contains("'patch' must be ≥ 1, got 0"));
}

TEST_CASE("deletion curve: pixel flipping of a linear model on [T, D] inputs in closed form", "[sequence]") {
  // f_c(x) = b_c + Σ_t s_t with s_t = Σ_d w_c[t, d] x[t, d], relevance R = w_c ⊙ x. Deleting step t
  // (fill 0) removes s_t, so with patch 1 the MoRF curve is f_c(x^(k)) = b_c + Σ_t s_t − (the k
  // largest s_t), the LeRF curve likewise with the k smallest.
  const Index steps = 6, features = 3, classes = 2, n = 3;
  const Shape shape{steps, features};
  lrp::Network net(shape);
  CHECK_THROWS_WITH(lrp::Network(shape).add(std::make_unique<lrp::Dense>(steps * features, classes), "fc"),
                    Contains("add a flatten layer before it"));
  net.add(std::make_unique<lrp::Flatten>(), "flatten");
  auto& fc = net.add(std::make_unique<lrp::Dense>(steps * features, classes), "fc");
  const Matrix w = random_matrix(classes, steps * features, 21);
  const Vector b = random_vector(classes, 22);
  fc.set_params({w, b});
  const Matrix x = random_matrix(n, steps * features, 23, -1.0, 1.0);
  const std::vector<Index> targets{0, 1, 1};
  Matrix r(n, steps * features);
  for (Index i = 0; i < n; ++i)
    for (Index f = 0; f < steps * features; ++f) r(i, f) = w(targets[static_cast<size_t>(i)], f) * x(i, f);

  SECTION("patch 1, constant fill 0") {
    lrp::PixelFlippingOptions options;
    options.patch = 1;
    options.fill = lrp::PerturbationFill::kConstant;
    options.random_repeats = 0;
    lrp::FillValues fill;
    fill.constant = {0.0};
    const lrp::PixelFlippingResult result =
        lrp::pixel_flipping(net, lrp::Tensor(shape, x), targets, lrp::Tensor(shape, r), {0, 1, 2}, fill, options);
    REQUIRE(result.regions == steps);
    REQUIRE(result.steps == steps);
    for (Index i = 0; i < n; ++i) {
      INFO("sample " << i);
      const Index c = targets[static_cast<size_t>(i)];
      std::vector<long double> s(static_cast<size_t>(steps), 0.0L);
      for (Index t = 0; t < steps; ++t)
        for (Index d = 0; d < features; ++d)
          s[static_cast<size_t>(t)] += static_cast<long double>(w(c, t * features + d)) * x(i, t * features + d);
      std::vector<Index> descending(static_cast<size_t>(steps));
      std::iota(descending.begin(), descending.end(), Index(0));
      std::sort(descending.begin(), descending.end(),
                [&](Index p, Index q) { return s[static_cast<size_t>(p)] > s[static_cast<size_t>(q)]; });
      for (Index k = 0; k + 1 < steps; ++k)  // no near-ties: rounding cannot reorder the steps
        REQUIRE(s[static_cast<size_t>(descending[static_cast<size_t>(k)])] -
                    s[static_cast<size_t>(descending[static_cast<size_t>(k + 1)])] >
                1e-3L);
      const long double full = b[c] + std::accumulate(s.begin(), s.end(), 0.0L);
      long double morf = full, lerf = full, aopc_sum = 0;
      for (Index k = 0; k <= steps; ++k) {
        CHECK(std::abs(static_cast<long double>(result.morf(i, k)) - morf) <= tol(2e-5, 1e-12));
        CHECK(std::abs(static_cast<long double>(result.lerf(i, k)) - lerf) <= tol(2e-5, 1e-12));
        aopc_sum += full - morf;
        if (k == steps) break;
        CHECK(result.morf_order(i, k) == descending[static_cast<size_t>(k)]);
        CHECK(result.lerf_order(i, k) == descending[static_cast<size_t>(steps - 1 - k)]);
        morf -= s[static_cast<size_t>(descending[static_cast<size_t>(k)])];
        lerf -= s[static_cast<size_t>(descending[static_cast<size_t>(steps - 1 - k)])];
      }
      CHECK(std::abs(morf - b[c]) <= tol(2e-5, 1e-12));  // everything deleted: the bias is left
      CHECK(std::abs(result.scores.aopc_morf[i] - static_cast<double>(aopc_sum / (steps + 1))) <= tol(2e-5, 1e-12));
    }
  }

  SECTION("patch 2 on an odd length, one fill value per time step (the 'channel' of a sequence)") {
    const Index odd = 5;
    const Shape odd_shape{odd, features};
    lrp::Network net5(odd_shape);
    net5.add(std::make_unique<lrp::Flatten>(), "flatten");
    auto& fc5 = net5.add(std::make_unique<lrp::Dense>(odd * features, classes), "fc");
    const Matrix w5 = random_matrix(classes, odd * features, 31);
    fc5.set_params({w5, b});
    const Matrix x5 = random_matrix(1, odd * features, 32);
    Matrix r5(1, odd * features);
    for (Index f = 0; f < odd * features; ++f) r5(0, f) = w5(1, f) * x5(0, f);
    const std::vector<double> per_step{0.5, -1.0, 2.0, 0.25, -0.75};
    lrp::PixelFlippingOptions options;
    options.patch = 2;
    options.fill = lrp::PerturbationFill::kConstant;
    options.random_repeats = 0;
    lrp::FillValues fill;
    fill.constant = per_step;
    const lrp::PixelFlippingResult result =
        lrp::pixel_flipping(net5, lrp::Tensor(odd_shape, x5), {1}, lrp::Tensor(odd_shape, r5), {4}, fill, options);
    REQUIRE(result.regions == 3);  // steps {0, 1}, {2, 3}, {4}
    const auto region_of = [](Index f) { return (f / 3) / 2; };
    std::vector<long double> score(3, 0.0L);
    for (Index f = 0; f < odd * features; ++f) score[static_cast<size_t>(region_of(f))] += r5(0, f);
    std::vector<Index> order{0, 1, 2};
    std::sort(order.begin(), order.end(),
              [&](Index p, Index q) { return score[static_cast<size_t>(p)] > score[static_cast<size_t>(q)]; });
    for (Index k = 0; k + 1 < 3; ++k)  // no near-ties
      REQUIRE(score[static_cast<size_t>(order[static_cast<size_t>(k)])] -
                  score[static_cast<size_t>(order[static_cast<size_t>(k + 1)])] >
              1e-3L);
    std::vector<bool> deleted(3, false);
    for (Index k = 0; k <= 3; ++k) {
      long double want = b[1];
      for (Index f = 0; f < odd * features; ++f) {
        const long double value =
            deleted[static_cast<size_t>(region_of(f))] ? per_step[static_cast<size_t>(f / features)] : x5(0, f);
        want += static_cast<long double>(w5(1, f)) * value;
      }
      CHECK(std::abs(static_cast<long double>(result.morf(0, k)) - want) <= tol(2e-5, 1e-12));
      if (k < 3) {
        CHECK(result.morf_order(0, k) == order[static_cast<size_t>(k)]);
        deleted[static_cast<size_t>(order[static_cast<size_t>(k)])] = true;
      }
    }
  }
}

// ---------------------------------------------------------------- relevance accuracy

TEST_CASE("relevance accuracy: known answers on [T, D] and [T] heatmaps", "[sequence]") {
  SECTION("[T, D]: signed sums over the features of a step") {
    const lrp::Tensor r = rows_tensor({5, 2}, {
                                                  {0.5, 0.5, 2.0, 3.0, 0.0, 1.0, 4.0, 0.0, 0.2, 0.0},    // top 1, 3
                                                  {3.0, 1.0, 5.0, 0.0, 0.0, 0.0, 0.5, 0.5, 0.0, 0.0},    // top 1, 0
                                                  {3.0, 1.0, 0.1, 0.0, 2.0, 2.0, 0.0, 0.0, 0.3, 0.0},    // top 0, 2
                                                  {0.0, 0.0, 0.0, 0.0, 10.0, -9.5, 2.0, 0.0, 1.0, 0.0},  // 3 > 4 > 2
                                                  {-1.0, 0.0, -1.0, -0.5, -2.0, 0.0, -1.0, 0.0, -0.05, -0.05},
                                                  {1.0, 0.0, 9.0, 0.0, 2.0, 0.0, 8.0, 0.0, 3.0, 0.0},  // 1, 3, 4
                                              });
    const std::vector<Steps> relevant{{1, 3}, {3, 1}, {1, 3}, {3}, {4}, {0, 2, 4}};
    const Eigen::VectorXd a = lrp::relevance_accuracy(r, relevant, 5, {0, 1, 2, 3, 4, 5});
    REQUIRE(a.size() == 6);
    CHECK(a[0] == 1.0);            // both relevant steps on top
    CHECK(a[1] == 0.5);            // one of two (the order of the list does not matter)
    CHECK(a[2] == 0.0);            // none
    CHECK(a[3] == 1.0);            // step 2 sums to 0.5: a signed sum, not the largest |R|
    CHECK(a[4] == 1.0);            // all negative: the least negative step is the most relevant
    CHECK(a[5] == Approx(1.0 / 3.0));  // top 3 = {1, 3, 4}: one of {0, 2, 4}
  }
  SECTION("[T]: one feature per step") {
    const lrp::Tensor r = rows_tensor({4}, {{0.1, 3.0, -2.0, 2.5}, {0.1, 3.0, -2.0, 2.5}, {0.1, 3.0, -2.0, 2.5}});
    const Eigen::VectorXd a = lrp::relevance_accuracy(r, {{1, 3}, {2}, {0, 1, 2, 3}}, 0, {7, 8, 9});
    CHECK(a[0] == 1.0);
    CHECK(a[1] == 0.0);
    CHECK(a[2] == 1.0);  // K = T: every step is in the top T
  }
  SECTION("the ground truth of the tasks: an oracle heatmap scores 1, its negation 0, random ≈ K/T") {
    const Dataset m = lrp::marked_addition(2000, 20, 4);
    Matrix marker_only = Matrix::Zero(m.size(), m.inputs.features());
    for (Index t = 0; t < 20; ++t) marker_only.col(2 * t + 1) = m.inputs.data.col(2 * t + 1);
    const lrp::Tensor oracle(m.inputs.shape, marker_only), negated(m.inputs.shape, Matrix(-marker_only));
    CHECK((lrp::relevance_accuracy(oracle, m.relevant, 1, m.indices).array() == 1.0).all());
    CHECK((lrp::relevance_accuracy(negated, m.relevant, 1, m.indices).array() == 0.0).all());
    // Uniform random relevance: E[accuracy] = K/T = 0.1, standard error ≈ 0.005 over 2000 samples.
    const lrp::Tensor noise(m.inputs.shape, random_matrix(m.size(), m.inputs.features(), 41, 0.0, 1.0));
    const lrp::Summary chance = lrp::summarize(lrp::relevance_accuracy(noise, m.relevant, 1, m.indices));
    CHECK(chance.mean > 0.08);
    CHECK(chance.mean < 0.12);

    const Dataset l = lrp::long_range(300, 16, 5, 2);
    Matrix symbol_only(l.size(), 16);
    for (Index i = 0; i < l.size(); ++i)
      for (Index t = 0; t < 16; ++t) symbol_only(i, t) = l.inputs.data(i, t) < 5 ? 1 : 0;
    CHECK((lrp::relevance_accuracy(lrp::Tensor(l.inputs.shape, symbol_only), l.relevant, 3, l.indices).array() == 1.0)
              .all());
  }
}

TEST_CASE("relevance accuracy: ties are broken by the seeded key of each sample, reproducibly", "[sequence]") {
  const Index steps = 8;
  SECTION("all steps tied: the top-1 step is the first of the seeded permutation") {
    const lrp::Tensor zeros({steps}, Matrix::Zero(1, steps));
    Index hits = 0;
    std::set<double> seen;
    for (std::uint64_t seed = 0; seed < 200; ++seed) {
      const Eigen::VectorXd a = lrp::relevance_accuracy(zeros, {{3}}, seed, {17});
      const std::vector<Index> key = tie_keys(steps, seed, 17);
      CHECK(a[0] == (key[3] == 0 ? 1.0 : 0.0));
      CHECK(lrp::relevance_accuracy(zeros, {{3}}, seed, {17})[0] == a[0]);  // reproducible
      hits += a[0] == 1.0 ? 1 : 0;
      seen.insert(a[0]);
    }
    CHECK(seen == std::set<double>{0.0, 1.0});  // the result depends on the seed
    CHECK(hits >= 8);                            // 1/8 of 200 = 25 ± 5
    CHECK(hits <= 50);
  }
  SECTION("some steps tied: only the tied ones are reordered, by their keys") {
    // Scores [0, 2, 2, 2, -1, 1, 2, 0]: steps 1, 2, 3, 6 tie at the top; relevant {1, 2}, K = 2.
    const lrp::Tensor r({steps, 1}, Matrix(rows_tensor({steps}, {{0, 2, 2, 2, -1, 1, 2, 0}}).data));
    std::set<double> seen;
    for (std::uint64_t seed = 0; seed < 60; ++seed) {
      const std::vector<Index> key = tie_keys(steps, seed, 5);
      std::vector<Index> tied{1, 2, 3, 6};
      std::sort(tied.begin(), tied.end(),
                [&](Index p, Index q) { return key[static_cast<size_t>(p)] < key[static_cast<size_t>(q)]; });
      const double want = ((tied[0] <= 2 ? 1 : 0) + (tied[1] <= 2 ? 1 : 0)) / 2.0;
      const double got = lrp::relevance_accuracy(r, {{1, 2}}, seed, {5})[0];
      CHECK(got == want);
      seen.insert(got);
    }
    CHECK(seen == std::set<double>{0.0, 0.5, 1.0});
  }
  SECTION("the key belongs to the sample id, not to the position in the batch") {
    const Matrix zeros = Matrix::Zero(3, steps);
    const std::vector<Steps> relevant{{0, 5}, {2, 7}, {1, 4}};
    const Eigen::VectorXd batch = lrp::relevance_accuracy(lrp::Tensor({steps}, zeros), relevant, 9, {30, 31, 32});
    for (Index i = 0; i < 3; ++i) {
      const Eigen::VectorXd alone = lrp::relevance_accuracy(lrp::Tensor({steps}, Matrix::Zero(1, steps)),
                                                            {relevant[static_cast<size_t>(i)]}, 9, {30 + i});
      CHECK(alone[0] == batch[i]);
    }
  }
}

TEST_CASE("relevance accuracy: NaN for non-finite relevance, errors for bad ground truth", "[sequence]") {
  constexpr double nan = std::numeric_limits<double>::quiet_NaN(), inf = std::numeric_limits<double>::infinity();
  const lrp::Tensor r = rows_tensor({3, 2}, {{1, 0, 0, 0, 0, 0}, {1, nan, 0, 0, 0, 0}, {0, 0, inf, 0, 0, 0},
                                              {0, 0, inf, -inf, 0, 1}});
  const Eigen::VectorXd a = lrp::relevance_accuracy(r, {{0}, {0}, {1}, {2}}, 0, {0, 1, 2, 3});
  CHECK(a[0] == 1.0);
  CHECK(std::isnan(a[1]));
  CHECK(std::isnan(a[2]));
  CHECK(std::isnan(a[3]));
  const lrp::Summary s = lrp::summarize(a);
  CHECK(s.count == 1);
  CHECK(s.skipped == 3);

  const lrp::Tensor ok = rows_tensor({3, 2}, {{1, 0, 0, 0, 0, 0}, {0, 0, 1, 0, 0, 0}});
  CHECK_THROWS_WITH(lrp::relevance_accuracy(ok, {{0}, {}}, 0, {10, 11}),
                    Contains("sample 11 has no relevant steps"));
  CHECK_THROWS_WITH(lrp::relevance_accuracy(ok, {{0}, {3}}, 0, {10, 11}),
                    Contains("relevant step 3 of sample 11 is out of range [0, 3)"));
  CHECK_THROWS_WITH(lrp::relevance_accuracy(ok, {{-1}, {0}}, 0, {10, 11}), Contains("relevant step -1 of sample 10 "));
  CHECK_THROWS_WITH(lrp::relevance_accuracy(ok, {{2, 2}, {0}}, 0, {10, 11}),
                    Contains("relevant step 2 of sample 10 is listed twice"));
  CHECK_THROWS_WITH(lrp::relevance_accuracy(ok, {{0}}, 0, {10, 11}), Contains("1 lists of relevant steps for 2 samples"));
  CHECK_THROWS_WITH(lrp::relevance_accuracy(ok, {{0}, {1}}, 0, {10}), Contains("1 sample ids for 2 samples"));
  CHECK_THROWS_WITH(lrp::relevance_accuracy(ok, {{0}, {1}}, 0, {10, -2}), Contains("the sample id at position 1 is negative (-2)"));
  CHECK_THROWS_WITH(lrp::relevance_accuracy(lrp::Tensor({1, 2, 3}, Matrix::Zero(1, 6)), {{0}}, 0, {0}),
                    Contains("[1, 2, 3]") && Contains("[time steps, features]"));
}
