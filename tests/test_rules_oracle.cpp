// Rule oracles (docs/rules.md, The generic step, §6): every linear rule on every linear-like handler against the slow
// explicit-matrix oracle of tests/oracle.hpp, plus the rule-level identities of §6.
//
// Honest tests: every expected number comes from the oracle (long double loops over an explicit
// matrix built from our own index math) or from a hand calculation, never from the code under
// test. The library runs through its real path: registry.make_rule() → rule->bind(layer) →
// rule->propagate() (the one generic step of framework/src/propagation/rule.cpp), with the layer's own
// forward output as z and a random incoming relevance of both signs.
//
// Tolerances. Errors are max |library − oracle| over all entries, divided by max |oracle|.
//  * float64 builds (sizeof(lrp::Scalar) == 8): ≤ 1e-10.
//  * float32 builds: ≤ 1e-4. The inputs, weights and relevances are float32 numbers, converted
//    exactly to long double for the oracle, so the oracle is the exact answer for the very same
//    data and the difference is the library's float32 rounding only (u = 2⁻²⁴ ≈ 6e-8). A
//    denominator z_j summed in float32 has an error of about u · κ_j · (a small multiple) where
//    κ_j = Σ|terms| / |stab(z_j)| is its condition number (oracle::Sum); 1/z_j amplifies it into
//    every input that output j feeds. Rules with sign-coherent denominators (zplus, alpha_beta,
//    flat, wsquare) have κ ≈ 1; those with cancelling ones (zero, epsilon, norm, gamma, zbox)
//    reach any κ on random data (without a guard the worst measured float32 error here was
//    1.5e-4, LRP-0 at a z_j that nearly cancels). In float32 only, the incoming relevance is
//    therefore set to 0 at outputs with κ > 1e3 (so the library and the oracle both pass nothing
//    there; about 0.5% of the outputs, and the share is checked to stay below 5%); then u·κ ≲ 6e-5
//    and the measured errors stay below 2.2e-5. float64 builds compare every output (worst measured
//    about 3e-13).
// LRP_ORACLE_REPORT=1 in the environment prints the worst deviation of each test.
#include "oracle.hpp"

#include "lrp/core/error.hpp"
#include "lrp/propagation/explain.hpp"
#include "lrp/nn/layers.hpp"
#include "lrp/nn/network.hpp"
#include "lrp/registry/registry.hpp"
#include "lrp/propagation/rule.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <functional>
#include <iostream>
#include <limits>
#include <random>
#include <sstream>
#include <string>
#include <vector>

namespace {

using lrp::Index;
using lrp::Scalar;
using oracle::Real;
using oracle::RMat;
using oracle::RuleConfig;

constexpr bool kFloat64 = sizeof(Scalar) == 8;
constexpr double kTolerance = kFloat64 ? 1e-10 : 1e-4;
constexpr double kMaxCondition = kFloat64 ? std::numeric_limits<double>::infinity() : 1e3;

// ---------------------------------------------------------------- layer cases

struct LayerCase {
  std::string label;
  lrp::Shape input_shape;
  std::function<lrp::LayerPtr(bool bias)> make;
  std::function<oracle::Structure(bool bias)> structure;
  bool has_bias = true;        // a bias exists at all (false: pooling)
  bool random_kernel = true;   // false: keep the handler's own weights (average pooling)
  bool dead_outputs = false;   // some outputs see only zero padding
  bool padded = false;         // some receptive fields reach into the padding
};

LayerCase dense_case(Index in, Index out) {
  LayerCase c;
  c.label = "dense(" + std::to_string(in) + " -> " + std::to_string(out) + ")";
  c.input_shape = {in};
  c.make = [in, out](bool bias) { return std::make_unique<lrp::Dense>(in, out, bias); };
  c.structure = [in, out](bool bias) { return oracle::dense_structure(in, out, bias); };
  return c;
}

LayerCase conv_case(const oracle::ConvGeometry& g, bool dead_outputs = false) {
  LayerCase c;
  std::ostringstream s;
  s << "conv2d(" << g.in_channels << " -> " << g.out_channels << ", input " << g.height << "x" << g.width << ", kernel "
    << g.kh << "x" << g.kw << ", stride " << g.sh << "x" << g.sw << ", padding " << g.ph << "x" << g.pw << ", dilation "
    << g.dh << "x" << g.dw << ", groups " << g.groups << ")";
  c.label = s.str();
  c.input_shape = {g.in_channels, g.height, g.width};
  c.make = [g](bool bias) {
    lrp::Conv2dOptions o;
    o.kernel = {g.kh, g.kw};
    o.stride = {g.sh, g.sw};
    o.padding = {g.ph, g.pw};
    o.dilation = {g.dh, g.dw};
    o.groups = g.groups;
    o.bias = bias;
    return std::make_unique<lrp::Conv2d>(g.in_channels, g.out_channels, o);
  };
  c.structure = [g](bool bias) {
    oracle::ConvGeometry h = g;
    h.bias = bias;
    return oracle::conv2d_structure(h);
  };
  c.dead_outputs = dead_outputs;
  c.padded = g.ph > 0 || g.pw > 0;
  return c;
}

// stride 0: the handler's default (stride = kernel); the oracle is told the stride explicitly.
LayerCase pool_case(const oracle::PoolGeometry& g, bool default_stride, bool random_kernel) {
  LayerCase c;
  std::ostringstream s;
  s << "avgpool2d(" << g.channels << "x" << g.height << "x" << g.width << ", kernel " << g.kh << "x" << g.kw
    << ", stride " << g.sh << "x" << g.sw << (default_stride ? " (default)" : "") << ", padding " << g.ph << "x" << g.pw
    << (random_kernel ? ", random kernel weights" : ", uniform weights") << ")";
  c.label = s.str();
  c.input_shape = {g.channels, g.height, g.width};
  c.make = [g, default_stride](bool) {
    lrp::Pool2dOptions o;
    o.kernel = {g.kh, g.kw};
    o.stride = default_stride ? std::array<Index, 2>{0, 0} : std::array<Index, 2>{g.sh, g.sw};
    o.padding = {g.ph, g.pw};
    return std::make_unique<lrp::AvgPool2d>(o);
  };
  c.structure = [g](bool) { return oracle::avgpool_structure(g); };
  c.has_bias = false;
  c.random_kernel = random_kernel;
  c.padded = g.ph > 0 || g.pw > 0;
  return c;
}

LayerCase global_pool_case(Index channels, Index height, Index width, bool random_kernel) {
  LayerCase c;
  c.label = "global_avgpool(" + std::to_string(channels) + "x" + std::to_string(height) + "x" + std::to_string(width) +
            (random_kernel ? ", random kernel weights)" : ", uniform weights)");
  c.input_shape = {channels, height, width};
  c.make = [](bool) -> lrp::LayerPtr { return lrp::AvgPool2d::global(); };
  c.structure = [channels, height, width](bool) {
    return oracle::avgpool_structure({channels, height, width, height, width, 1, 1, 0, 0});
  };
  c.has_bias = false;
  c.random_kernel = random_kernel;
  return c;
}

std::vector<LayerCase> dense_cases() { return {dense_case(7, 5), dense_case(1, 3), dense_case(12, 4)}; }

std::vector<LayerCase> conv_cases() {
  // ConvGeometry: in, out, H, W, kh, kw, sh, sw, ph, pw, dh, dw, groups
  return {
      conv_case({2, 3, 6, 7, 3, 3}),
      conv_case({2, 4, 7, 6, 3, 2, 2, 1, 1, 0}),
      conv_case({3, 2, 6, 6, 2, 3, 1, 1, 1, 2, 2, 1}),
      conv_case({4, 6, 7, 7, 3, 3, 2, 2, 1, 1, 1, 1, 2}),
      conv_case({3, 3, 5, 8, 1, 3, 1, 2, 0, 1, 1, 2, 3}),  // depthwise
      conv_case({3, 2, 4, 4, 1, 1}),
      conv_case({6, 4, 9, 10, 3, 3, 2, 3, 1, 2, 2, 2, 2}),
      conv_case({2, 2, 3, 3, 2, 2, 1, 1, 2, 2}, /*dead_outputs=*/true),  // corners see only padding
  };
}

std::vector<LayerCase> pool_cases() {
  std::vector<LayerCase> cases;
  for (bool random_kernel : {false, true}) {
    // PoolGeometry: C, H, W, kh, kw, sh, sw, ph, pw
    cases.push_back(pool_case({2, 4, 6, 2, 2, 2, 2}, /*default_stride=*/true, random_kernel));
    cases.push_back(pool_case({2, 5, 6, 3, 3, 2, 2, 1, 1}, false, random_kernel));
    cases.push_back(pool_case({1, 4, 5, 3, 2, 1, 2, 1, 0}, false, random_kernel));
    cases.push_back(pool_case({3, 3, 3, 2, 2, 1, 1, 1, 1}, false, random_kernel));
    cases.push_back(global_pool_case(3, 4, 5, random_kernel));
  }
  return cases;
}

// ---------------------------------------------------------------- data

struct Built {
  lrp::LayerPtr layer;
  oracle::LayerData data;
};

// The layer, configured for the case's input shape, with seeded random parameters (weights
// uniform in [−1, 1), bias in [−0.5, 0.5)), and the oracle's copy of its numbers.
Built build(const LayerCase& c, bool bias, std::uint64_t seed) {
  Built b;
  b.layer = c.make(bias);
  b.layer->configure(c.input_shape, "layer");
  if (c.random_kernel) {
    std::mt19937_64 rng(seed * 7919 + 17);
    std::uniform_real_distribution<double> w(-1.0, 1.0), v(-0.5, 0.5);
    lrp::Params p = b.layer->params();
    for (Index r = 0; r < p.weight.rows(); ++r)
      for (Index k = 0; k < p.weight.cols(); ++k) p.weight(r, k) = static_cast<Scalar>(w(rng));
    for (Index j = 0; j < p.bias.size(); ++j) p.bias(j) = static_cast<Scalar>(v(rng));
    b.layer->set_params(p);
  }
  b.data = oracle::read_layer(c.structure(bias), b.layer->params());
  return b;
}

enum class InputKind { kMixed, kNonNegative, kNonPositive };

const char* input_name(InputKind k) {
  switch (k) {
    case InputKind::kMixed: return "mixed-sign input";
    case InputKind::kNonNegative: return "non-negative input";
    case InputKind::kNonPositive: return "non-positive input";
  }
  return "";
}

// Mixed: uniform in [−1, 1). Non-negative: max(0, uniform[−0.5, 1)), a third exact zeros (as after
// a ReLU). Non-positive: its negative.
lrp::Matrix random_input(Index n, Index in, InputKind kind, std::uint64_t seed) {
  std::mt19937_64 rng(seed * 104729 + 3);
  std::uniform_real_distribution<double> mixed(-1.0, 1.0), shifted(-0.5, 1.0);
  lrp::Matrix a(n, in);
  for (Index r = 0; r < n; ++r) {
    for (Index i = 0; i < in; ++i) {
      double v = kind == InputKind::kMixed ? mixed(rng) : std::max(0.0, shifted(rng));
      if (kind == InputKind::kNonPositive) v = -v;
      a(r, i) = static_cast<Scalar>(v);
    }
  }
  return a;
}

lrp::Matrix random_relevance(Index n, Index out, std::uint64_t seed) {
  std::mt19937_64 rng(seed * 15485863 + 11);
  std::uniform_real_distribution<double> u(-1.0, 1.0);
  lrp::Matrix r(n, out);
  for (Index i = 0; i < n; ++i)
    for (Index j = 0; j < out; ++j) r(i, j) = static_cast<Scalar>(u(rng));
  return r;
}

std::vector<RuleConfig> rule_configs(const lrp::Shape& input_shape) {
  // Per-channel zbox bounds: one value per input channel (per feature for a dense layer).
  lrp::ParamValue low, high;
  for (Index c = 0; c < input_shape[0]; ++c) {
    low.push_back(-1.0 - 0.25 * static_cast<double>(c % 4));
    high.push_back(0.5 + 0.25 * static_cast<double>(c % 3));
  }
  return {
      {"zero", {}},
      {"epsilon", {}},
      {"epsilon", {{"epsilon", {0.25}}}},
      {"gamma", {}},
      {"gamma", {{"gamma", {1.0}}, {"stabilizer", {1e-3}}}},
      {"zbox", {{"low", {-1.0}}, {"high", {1.0}}}},
      {"zbox", {{"low", {0.0}}, {"high", {1.0}}}},  // a zero bound: its branch drops out of the backward pass
      {"zbox", {{"low", low}, {"high", high}}},
      {"alpha_beta", {}},
      {"alpha_beta", {{"alpha", {1.0}}, {"beta", {0.0}}}},
      {"alpha_beta", {{"alpha", {3.0}}, {"beta", {2.0}}, {"stabilizer", {1e-3}}}},
      {"zplus", {}},
      {"flat", {}},
      {"wsquare", {}},
      {"norm", {}},
      {"norm", {{"stabilizer", {0.1}}}},
  };
}

const lrp::Registry& registry() {
  static const lrp::Registry r = [] {
    lrp::Registry reg;
    lrp::register_builtins(reg);
    return reg;
  }();
  return r;
}

// ---------------------------------------------------------------- running and comparing

// The rule through its real path: bind once, then propagate R_out at the layer's forward output.
lrp::Matrix run(const lrp::Rule& rule, const lrp::Layer& layer, const lrp::Matrix& a, const lrp::Matrix& r_out) {
  REQUIRE(rule.incompatibility(layer).empty());
  lrp::Workspace ws;
  lrp::Matrix z(a.rows(), lrp::numel(layer.output_shape()));
  layer.forward(a, layer.params(), z, ws);
  const auto state = rule.bind(layer);
  lrp::Matrix r_in = lrp::Matrix::Constant(a.rows(), a.cols(), std::numeric_limits<Scalar>::quiet_NaN());
  rule.propagate(lrp::LayerContext{layer, a, z, nullptr}, state.get(), r_out, r_in, ws);
  return r_in;
}

lrp::Matrix run(const RuleConfig& cfg, const lrp::Layer& layer, const lrp::Matrix& a, const lrp::Matrix& r_out) {
  return run(*registry().make_rule(cfg.name, cfg.params), layer, a, r_out);
}

struct Deviation {
  double abs = 0, scale = 0;
  bool finite = true;
  double relative() const {
    if (!finite) return std::numeric_limits<double>::infinity();
    return scale > 0 ? abs / scale : abs;
  }
};

template <typename M>
Deviation deviation(const M& got, const RMat& want) {
  Deviation d;
  for (Index i = 0; i < want.rows(); ++i) {
    for (Index j = 0; j < want.cols(); ++j) {
      const auto g = static_cast<Real>(got(i, j));
      if (!std::isfinite(static_cast<double>(g))) d.finite = false;
      d.abs = std::max(d.abs, static_cast<double>(std::fabs(g - want(i, j))));
      d.scale = std::max(d.scale, static_cast<double>(std::fabs(want(i, j))));
    }
  }
  return d;
}

struct Stats {
  double worst = 0;
  std::string worst_where;
  Index masked = 0, outputs = 0, comparisons = 0;
  void record(double e, const std::string& where) {
    ++comparisons;
    if (e > worst) {
      worst = e;
      worst_where = where;
    }
  }
  void report(const std::string& test) const {
    if (!std::getenv("LRP_ORACLE_REPORT")) return;
    std::cout << "[oracle " << lrp::scalar_name() << "] " << test << ": " << comparisons << " comparisons, worst "
              << worst << " (" << worst_where << "), masked " << masked << "/" << outputs << " outputs\n";
  }
};

// float32 only: relevance 0 at outputs whose denominators are ill-conditioned (see the top).
lrp::Matrix well_conditioned(const lrp::Matrix& r, const RMat& kappa, Stats& stats) {
  lrp::Matrix m = r;
  for (Index i = 0; i < r.rows(); ++i) {
    for (Index j = 0; j < r.cols(); ++j) {
      ++stats.outputs;
      if (static_cast<double>(kappa(i, j)) > kMaxCondition) {
        m(i, j) = 0;
        ++stats.masked;
      }
    }
  }
  return m;
}

// Runs `cfg` on the built layer and compares with the oracle; returns the relative deviation.
double compare_with_oracle(const RuleConfig& cfg, const Built& b, const lrp::Matrix& a, const lrp::Matrix& r_out,
                           Stats& stats, const std::string& where) {
  const RMat ar = oracle::to_real(a);
  const oracle::Result first = oracle::apply(cfg, b.data, ar, oracle::to_real(r_out));
  const lrp::Matrix r = well_conditioned(r_out, first.kappa, stats);
  const oracle::Result want = kFloat64 ? first : oracle::apply(cfg, b.data, ar, oracle::to_real(r));
  const lrp::Matrix got = run(cfg, *b.layer, a, r);
  const Deviation d = deviation(got, want.relevance);
  const std::string context = where + ", rule " + cfg.label();
  INFO(context << ": max |library - oracle| = " << d.abs << ", max |oracle| = " << d.scale);
  CHECK(d.finite);
  CHECK(d.relative() <= kTolerance);
  stats.record(d.relative(), context);
  return d.relative();
}

// Every rule × both bias settings × seeds × input kinds on the given cases.
void check_all_rules(const std::vector<LayerCase>& cases, const std::string& test) {
  Stats stats;
  for (const LayerCase& c : cases) {
    for (bool bias : c.has_bias ? std::vector<bool>{true, false} : std::vector<bool>{false}) {
      for (std::uint64_t seed : {1u, 2u, 3u}) {
        const Built b = build(c, bias, seed);
        for (InputKind kind : {InputKind::kMixed, InputKind::kNonNegative, InputKind::kNonPositive}) {
          const Index n = 3;
          const lrp::Matrix a = random_input(n, b.data.structure.in, kind, seed);
          const lrp::Matrix r = random_relevance(n, b.data.structure.out, seed + 100);
          std::ostringstream where;
          where << c.label << (bias ? " with bias" : c.has_bias ? " without bias" : "") << ", seed " << seed << ", "
                << input_name(kind);
          for (const RuleConfig& cfg : rule_configs(c.input_shape)) compare_with_oracle(cfg, b, a, r, stats, where.str());
        }
      }
    }
  }
  stats.report(test);
  // The float32 masking must leave nearly every output in the comparison.
  CHECK(static_cast<double>(stats.masked) <= 0.05 * static_cast<double>(stats.outputs));
}

}  // namespace

// ---------------------------------------------------------------- the oracle's own footing

TEST_CASE("the oracle's explicit matrices equal each handler's forward pass probed with unit vectors", "[oracle]") {
  std::vector<LayerCase> cases = dense_cases();
  for (const auto& c : conv_cases()) cases.push_back(c);
  for (const auto& c : pool_cases()) cases.push_back(c);
  for (const LayerCase& c : cases) {
    for (bool bias : c.has_bias ? std::vector<bool>{true, false} : std::vector<bool>{false}) {
      INFO(c.label << (bias ? " with bias" : ""));
      const Built b = build(c, bias, 5);
      const oracle::Structure& s = b.data.structure;
      REQUIRE(lrp::numel(b.layer->input_shape()) == s.in);
      REQUIRE(lrp::numel(b.layer->output_shape()) == s.out);
      // Each (output, input) pair is connected through at most one kernel weight.
      std::vector<int> seen(static_cast<size_t>(s.in * s.out), 0);
      for (const oracle::Connection& k : s.connections) REQUIRE(++seen[static_cast<size_t>(k.out * s.in + k.in)] == 1);

      lrp::Workspace ws;
      const lrp::Matrix eye = lrp::Matrix::Identity(s.in, s.in);
      lrp::Matrix y(s.in, s.out);
      // Column i of W is the response to e_i with the bias removed; f(e_i) with unit-kernel
      // weights is column i of the connectivity mask (the explicit matrix of the ones-kernel).
      const lrp::Params weight_only{b.layer->params().weight, lrp::Vector()};
      const lrp::Params ones{lrp::Matrix::Ones(b.layer->params().weight.rows(), b.layer->params().weight.cols()),
                             lrp::Vector()};
      for (const auto& [params, f] : std::vector<std::pair<lrp::Params, oracle::Modifier>>{
               {weight_only, oracle::same}, {ones, [](Real) { return Real(1); }}}) {
        b.layer->forward(eye, params, y, ws);
        const RMat w = b.data.matrix(f);
        Index mismatches = 0;
        for (Index i = 0; i < s.in; ++i)
          for (Index j = 0; j < s.out; ++j) mismatches += static_cast<Real>(y(i, j)) != w(j, i);
        CHECK(mismatches == 0);
      }
      // The bias: the response to the zero input.
      lrp::Matrix y0(1, s.out);
      b.layer->forward(lrp::Matrix::Zero(1, s.in), b.layer->params(), y0, ws);
      const oracle::RVec bias_vector = b.data.bias_vector(oracle::same);
      Index mismatches = 0;
      for (Index j = 0; j < s.out; ++j) mismatches += static_cast<Real>(y0(0, j)) != bias_vector[static_cast<size_t>(j)];
      CHECK(mismatches == 0);
    }
  }
}

// ---------------------------------------------------------------- every rule × every handler

TEST_CASE("every linear rule matches the explicit-matrix oracle on dense layers", "[oracle][dense]") {
  check_all_rules(dense_cases(), "dense");
}

TEST_CASE("every linear rule matches the explicit-matrix oracle on conv2d layers with stride, padding, dilation and groups",
          "[oracle][conv2d]") {
  check_all_rules(conv_cases(), "conv2d");
}

TEST_CASE("every linear rule matches the explicit-matrix oracle on average pooling, including padding and global pooling",
          "[oracle][avgpool]") {
  check_all_rules(pool_cases(), "avgpool");
}

// ---------------------------------------------------------------- outputs with z exactly 0

namespace {

// dense(4 -> 3) with small dyadic numbers, so that z is exact in float32 and float64:
// sample 0 has z_0 = 1 − 1 + 0 + 0 = 0, sample 1 has z_2 = 0.5 + 0.5 − 1 = 0, sample 2 is all
// zeros (z = b, so z_0 = 0 there as well).
Built exact_zero_dense() {
  LayerCase c = dense_case(4, 3);
  Built b;
  b.layer = c.make(true);
  b.layer->configure(c.input_shape, "dense");
  lrp::Params p;
  p.weight.resize(3, 4);
  p.weight << 1, -1, 2, 0,  //
      0.5, 1, -1, 1,        //
      1, 1, 1, 1;
  p.bias.resize(3);
  p.bias << 0, 0.5, -1;
  b.layer->set_params(p);
  b.data = oracle::read_layer(c.structure(true), b.layer->params());
  return b;
}

lrp::Matrix exact_zero_input() {
  lrp::Matrix a(3, 4);
  a << 1, 1, 0, 3,  //
      0.5, 0, 0.5, 0,  //
      0, 0, 0, 0;
  return a;
}

lrp::Matrix exact_zero_relevance() {
  lrp::Matrix r(3, 3);
  r << 1, -2, 0.5,  //
      3, 1, -1,     //
      2, -1, 4;
  return r;
}

// The same relevance with the outputs where z = 0 exactly set to 0.
lrp::Matrix without_dead_outputs(const lrp::Matrix& r) {
  lrp::Matrix m = r;
  m(0, 0) = 0;
  m(1, 2) = 0;
  m(2, 0) = 0;
  return m;
}

}  // namespace

TEST_CASE("LRP-0 passes zero relevance, never NaN, through an output whose z is exactly 0", "[oracle][zero]") {
  const Built b = exact_zero_dense();
  const lrp::Matrix a = exact_zero_input(), r = exact_zero_relevance();
  // The hand-made z (and that the library's forward agrees, so the case is what it claims).
  lrp::Workspace ws;
  lrp::Matrix z(3, 3);
  b.layer->forward(a, b.layer->params(), z, ws);
  CHECK(z(0, 0) == 0);
  CHECK(z(1, 2) == 0);
  CHECK(z(2, 0) == 0);
  const RuleConfig zero{"zero", {}};
  const lrp::Matrix got = run(zero, *b.layer, a, r);
  REQUIRE(got.allFinite());
  const RMat want = oracle::apply(zero, b.data, oracle::to_real(a), oracle::to_real(r)).relevance;
  CHECK(deviation(got, want).relative() <= kTolerance);
  // By hand, sample 0: only outputs 1 (z = 5, R = −2) and 2 (z = 4, R = 0.5) pass:
  // R_in = a ⊙ (w_1 · (−2/5) + w_2 · (0.5/4)) = [1·(0.5·−0.4 + 0.125), 1·(1·−0.4 + 0.125), 0, 3·(−0.4 + 0.125)].
  CHECK(std::fabs(got(0, 0) - Scalar(-0.075)) <= 1e-6);
  CHECK(std::fabs(got(0, 1) - Scalar(-0.275)) <= 1e-6);
  CHECK(got(0, 2) == 0);
  CHECK(std::fabs(got(0, 3) - Scalar(-0.825)) <= 1e-6);
  // The dead outputs contribute exactly nothing: the same numbers as with R = 0 there.
  CHECK(got == run(zero, *b.layer, a, without_dead_outputs(r)));
  // All-zero input: every input gets exactly 0 (a_i = 0), and nothing is NaN.
  CHECK(got.row(2).isZero(0));
  // A bias-free layer on the all-zero input: every z is 0, every relevance 0.
  LayerCase c = dense_case(4, 3);
  lrp::LayerPtr nobias = c.make(false);
  nobias->configure(c.input_shape, "dense");
  nobias->set_params({b.layer->params().weight, lrp::Vector()});
  const lrp::Matrix dead = run(zero, *nobias, lrp::Matrix::Zero(1, 4), r.topRows(1));
  CHECK(dead.allFinite());
  CHECK(dead.isZero(0));
}

TEST_CASE("gamma passes nothing through outputs whose unmodified z is exactly 0", "[oracle][gamma]") {
  const Built b = exact_zero_dense();
  const lrp::Matrix a = exact_zero_input(), r = exact_zero_relevance();
  for (const RuleConfig& cfg : {RuleConfig{"gamma", {}}, RuleConfig{"gamma", {{"gamma", {1.0}}, {"stabilizer", {0.0}}}}}) {
    INFO(cfg.label());
    const lrp::Matrix got = run(cfg, *b.layer, a, r);
    REQUIRE(got.allFinite());
    const RMat want = oracle::apply(cfg, b.data, oracle::to_real(a), oracle::to_real(r)).relevance;
    CHECK(deviation(got, want).relative() <= kTolerance);
    CHECK(got == run(cfg, *b.layer, a, without_dead_outputs(r)));
  }
  // The case is not vacuous: at output 0 of sample 0, zᵖ = 1.25·1 − 1·1 = 0.25 ≠ 0, so a gate on
  // zᵖ instead of z would pass relevance, and the oracle's mutant with that gate differs.
  const RuleConfig mutant{"mutant:gamma_gated_by_own_denominator", {}};
  const RMat wrong = oracle::apply(mutant, b.data, oracle::to_real(a), oracle::to_real(r)).relevance;
  CHECK(deviation(run(RuleConfig{"gamma", {}}, *b.layer, a, r), wrong).relative() > 1e-2);
  // And epsilon, which has no gate, does pass relevance there.
  const RuleConfig eps{"epsilon", {}};
  CHECK(run(eps, *b.layer, a, r) != run(eps, *b.layer, a, without_dead_outputs(r)));
}

TEST_CASE("zplus, alpha_beta and gamma keep the positive bias in z when no input is positive", "[oracle][bias]") {
  // By hand: dense(2 -> 1), w = [1, −1], b = 0.5, a = [−1, −2] (no positive input), R = 1.
  //  zplus:      z = W⁺a⁺ + b⁺ + W⁻a⁻ = 0 + 0.5 + 2 = 2.5;  R_in = [0, (−2)(−1)/2.5] = [0, 0.8].
  //  alpha_beta: z⁺ = 2.5, z⁻ = W⁻a⁺ + b⁻ + W⁺a⁻ = −1;
  //              R_in = 2·[0, (−2)(−1)/2.5] − 1·[(−1)(1)/(−1), 0] = [−1, 1.6].
  //  gamma(¼):   z = 1.5 > 0; zᵖ = Wᵖa⁺ + bᵖ + Wⁿa⁻ = 0 + 0.625 + (−1 + 2.5) = 2.125;
  //              R_in = a⁻ ⊙ Wⁿᵀ/zᵖ = [(−1)(1), (−2)(−1.25)] / 2.125.
  // The b⁺ (bᵖ) term belongs to the a⁺ branch of the generic step; it must stay in z even when
  // a⁺ is 0 for every sample of the block. The same sample inside a batch with a positive input
  // must give the same numbers (batch independence, docs/rules.md, Identities).
  LayerCase c = dense_case(2, 1);
  lrp::LayerPtr layer = c.make(true);
  layer->configure(c.input_shape, "dense");
  lrp::Params p;
  p.weight.resize(1, 2);
  p.weight << 1, -1;
  p.bias.resize(1);
  p.bias << 0.5;
  layer->set_params(p);
  const oracle::LayerData data = oracle::read_layer(c.structure(true), layer->params());
  lrp::Matrix alone(1, 2), batch(2, 2), r1(1, 1), r2(2, 1);
  alone << -1, -2;
  batch << -1, -2,  //
      1, 1;
  r1 << 1;
  r2 << 1, 1;
  const double e = 1e-6;
  struct Case {
    RuleConfig rule;
    double want0, want1;
  };
  for (const Case& k : {Case{{"zplus", {}}, 0.0, 2.0 / (2.5 + e)},
                        Case{{"alpha_beta", {}}, -1.0 / (-1.0 - e) * -1.0, 2.0 * 2.0 / (2.5 + e)},
                        Case{{"gamma", {}}, -1.0 / (2.125 + e), 2.5 / (2.125 + e)}}) {
    const lrp::Matrix got_alone = run(k.rule, *layer, alone, r1);
    const lrp::Matrix got_batch = run(k.rule, *layer, batch, r2);
    const RMat want = oracle::apply(k.rule, data, oracle::to_real(alone), oracle::to_real(r1)).relevance;
    INFO(k.rule.label() << ": expected [" << k.want0 << ", " << k.want1 << "], alone [" << got_alone(0, 0) << ", "
                        << got_alone(0, 1) << "], in a batch [" << got_batch(0, 0) << ", " << got_batch(0, 1) << "]");
    CHECK(std::fabs(static_cast<double>(want(0, 0)) - k.want0) <= 1e-12);  // the oracle agrees with the hand
    CHECK(std::fabs(static_cast<double>(want(0, 1)) - k.want1) <= 1e-12);
    CHECK(std::fabs(got_batch(0, 0) - k.want0) <= 1e-6);
    CHECK(std::fabs(got_batch(0, 1) - k.want1) <= 1e-6);
    CHECK(std::fabs(got_alone(0, 0) - k.want0) <= 1e-6);
    CHECK(std::fabs(got_alone(0, 1) - k.want1) <= 1e-6);
  }
}

// ---------------------------------------------------------------- identities (docs/rules.md, Identities)

namespace {

std::vector<LayerCase> all_cases() {
  std::vector<LayerCase> cases = dense_cases();
  for (const auto& c : conv_cases()) cases.push_back(c);
  for (const auto& c : pool_cases()) cases.push_back(c);
  return cases;
}

// Relative deviation of two library results (relative to max |want|).
double library_deviation(const lrp::Matrix& got, const lrp::Matrix& want) {
  return deviation(got, oracle::to_real(want)).relative();
}

}  // namespace

TEST_CASE("alpha_beta(1, 0) gives the numbers of zplus", "[oracle][identity]") {
  Stats stats;
  const RuleConfig ab{"alpha_beta", {{"alpha", {1.0}}, {"beta", {0.0}}}}, zplus{"zplus", {}};
  for (const LayerCase& c : all_cases()) {
    for (std::uint64_t seed : {4u, 5u}) {
      const Built b = build(c, c.has_bias, seed);
      for (InputKind kind : {InputKind::kMixed, InputKind::kNonNegative}) {
        const lrp::Matrix a = random_input(2, b.data.structure.in, kind, seed);
        const lrp::Matrix r = random_relevance(2, b.data.structure.out, seed);
        INFO(c.label << ", seed " << seed << ", " << input_name(kind));
        const double e = library_deviation(run(ab, *b.layer, a, r), run(zplus, *b.layer, a, r));
        CHECK(e <= kTolerance);
        stats.record(e, c.label);
        // The oracle's two formulas agree as well (in long double).
        const RMat ar = oracle::to_real(a), rr = oracle::to_real(r);
        const RMat o1 = oracle::apply(ab, b.data, ar, rr).relevance, o2 = oracle::apply(zplus, b.data, ar, rr).relevance;
        CHECK(deviation(o1, o2).relative() <= 1e-15);
      }
    }
  }
  stats.report("alpha_beta(1,0) == zplus");
}

TEST_CASE("gamma(0) gives the numbers of epsilon(stabilizer) wherever z is not 0", "[oracle][identity]") {
  Stats stats;
  for (double stabilizer : {1e-6, 0.1}) {
    const RuleConfig gamma0{"gamma", {{"gamma", {0.0}}, {"stabilizer", {stabilizer}}}};
    const RuleConfig eps{"epsilon", {{"epsilon", {stabilizer}}}};
    for (const LayerCase& c : all_cases()) {
      const Built b = build(c, c.has_bias, 6);
      const lrp::Matrix a = random_input(3, b.data.structure.in, InputKind::kMixed, 6);
      const oracle::Result o = oracle::apply(gamma0, b.data, oracle::to_real(a),
                                             oracle::to_real(random_relevance(3, b.data.structure.out, 6)));
      // float32: both sides sum z in a different order; compare where that cannot flip a sign
      // or blow up (see the top of the file).
      const lrp::Matrix r = well_conditioned(random_relevance(3, b.data.structure.out, 6), o.kappa, stats);
      INFO(c.label << ", stabilizer " << stabilizer);
      const double e = library_deviation(run(gamma0, *b.layer, a, r), run(eps, *b.layer, a, r));
      CHECK(e <= kTolerance);
      stats.record(e, c.label);
    }
  }
  // With outputs whose z is exactly 0: equal once epsilon's relevance there is removed.
  const Built b = exact_zero_dense();
  const lrp::Matrix a = exact_zero_input(), r = exact_zero_relevance();
  const RuleConfig gamma0{"gamma", {{"gamma", {0.0}}}}, eps{"epsilon", {}};
  const lrp::Matrix g = run(gamma0, *b.layer, a, r);
  CHECK(library_deviation(g, run(eps, *b.layer, a, without_dead_outputs(r))) <= kTolerance);
  CHECK(library_deviation(g, run(eps, *b.layer, a, r)) > 1e-2);
  stats.report("gamma(0) == epsilon");
}

TEST_CASE("zbox with low = high = 0 gives the numbers of epsilon(stabilizer) on the same layer without its bias",
          "[oracle][identity]") {
  // The registry validates low < high and rejects this rule, so it is built through the rule's
  // factory directly (registry.rule_info("zbox").factory), which skips the validation.
  lrp::ParamMap params{{"low", {0.0}}, {"high", {0.0}}, {"stabilizer", {1e-6}}};
  CHECK_THROWS_AS(registry().make_rule("zbox", params), lrp::Error);
  const lrp::RulePtr zbox = registry().rule_info("zbox").factory(params);
  const lrp::RulePtr eps = registry().make_rule("epsilon", {{"epsilon", {1e-6}}});
  Stats stats;
  for (const LayerCase& c : all_cases()) {
    for (InputKind kind : {InputKind::kMixed, InputKind::kNonNegative}) {
      const Built b = build(c, c.has_bias, 7);
      // The same layer without its bias, same weights.
      lrp::LayerPtr plain = c.make(false);
      plain->configure(c.input_shape, "plain");
      plain->set_params({b.layer->params().weight, lrp::Vector()});
      const oracle::LayerData plain_data = oracle::read_layer(c.structure(false), plain->params());
      const lrp::Matrix a = random_input(3, b.data.structure.in, kind, 7);
      lrp::Matrix r = random_relevance(3, b.data.structure.out, 7);
      const RuleConfig eps_cfg{"epsilon", {{"epsilon", {1e-6}}}};
      // float32: zbox computes W a as (W a + b) − b⁺ − b⁻; mask by the conditioning of that sum.
      const RuleConfig zbox_cfg{"zbox", params};
      r = well_conditioned(r, oracle::apply(zbox_cfg, b.data, oracle::to_real(a), oracle::to_real(r)).kappa, stats);
      INFO(c.label << ", " << input_name(kind));
      const lrp::Matrix got = run(*zbox, *b.layer, a, r);
      const double e = library_deviation(got, run(*eps, *plain, a, r));
      CHECK(e <= kTolerance);
      stats.record(e, c.label);
      // And both equal the oracle's epsilon on the bias-free layer.
      const RMat want = oracle::apply(eps_cfg, plain_data, oracle::to_real(a), oracle::to_real(r)).relevance;
      CHECK(deviation(got, want).relative() <= kTolerance);
    }
  }
  stats.report("zbox(0, 0) == epsilon without bias");
}

TEST_CASE("flat on a dense layer gives every input the same relevance", "[oracle][identity]") {
  for (bool bias : {true, false}) {
    for (std::uint64_t seed : {8u, 9u}) {
      const LayerCase c = dense_case(9, 4);
      const Built b = build(c, bias, seed);
      const lrp::Matrix a = random_input(3, 9, InputKind::kMixed, seed);
      const lrp::Matrix r = random_relevance(3, 4, seed);
      const lrp::Matrix got = run(RuleConfig{"flat", {}}, *b.layer, a, r);
      for (Index n = 0; n < 3; ++n) {
        // By hand: every output sees all 9 inputs, so R_i = Σ_j R_j / (9 + 1e-6) for every i.
        const double want = r.row(n).cast<double>().sum() / (9.0 + 1e-6);
        const double scale = r.row(n).cast<double>().cwiseAbs().sum() / 9.0;  // against cancellation in Σ_j R_j
        INFO("bias " << bias << ", seed " << seed << ", sample " << n << ": expected " << want);
        for (Index i = 0; i < 9; ++i) {
          CHECK(std::fabs(static_cast<double>(got(n, i)) - want) <= kTolerance * scale);
          CHECK(std::fabs(static_cast<double>(got(n, i)) - static_cast<double>(got(n, 0))) <= kTolerance * scale);
        }
      }
    }
  }
}

TEST_CASE("zero, zplus, gamma and zbox conserve relevance per layer without bias and with a tiny stabilizer",
          "[oracle][identity][conservation]") {
  // Σ_i R_in = Σ_j R_out per sample, exactly in exact arithmetic at every output whose denominator
  // is not 0 (up to ε/z, with the tiny ε = 1e-15 here). Where a denominator is exactly 0 the rule
  // passes nothing by definition (LRP-0 with z = 0; zplus where no input contributes positively,
  // e.g. positive inputs under negative weights only; gamma where z = 0); those outputs get
  // R_out = 0 here, found by the oracle (oracle::Result::dead). Conservation is a statement about
  // exact arithmetic: in both precisions the outputs whose denominator sum is ill-conditioned
  // (κ > 1e3, see the top of the file) get R_out = 0 as well, and inputs are bounded away from 0
  // (|a| ≥ 0.05) so that no denominator is tiny. zbox inputs lie strictly inside [low, high].
  const std::vector<RuleConfig> rules{
      {"zero", {}},
      {"zplus", {{"stabilizer", {1e-15}}}},
      {"gamma", {{"stabilizer", {1e-15}}}},
      {"gamma", {{"gamma", {1.0}}, {"stabilizer", {1e-15}}}},
      {"zbox", {{"low", {-1.0}}, {"high", {1.0}}, {"stabilizer", {1e-15}}}},
  };
  const double tolerance = kFloat64 ? 1e-12 : 1e-4;
  Stats stats;
  Index dead = 0, ill = 0, outputs = 0;
  for (const LayerCase& c : all_cases()) {
    for (std::uint64_t seed : {10u, 11u}) {
      const Built b = build(c, false, seed);
      for (bool positive : {false, true}) {
        lrp::Matrix a = random_input(3, b.data.structure.in, InputKind::kMixed, seed);
        // |a| in [0.05, 0.95], with the sign of the mixed input or positive.
        const lrp::Matrix magnitude = (a.array().abs() * Scalar(0.9) + Scalar(0.05)).matrix();
        a = positive ? magnitude : lrp::Matrix(magnitude.array() * a.array().sign());
        for (const RuleConfig& cfg : rules) {
          lrp::Matrix r = random_relevance(3, b.data.structure.out, seed);
          const oracle::Result o = oracle::apply(cfg, b.data, oracle::to_real(a), oracle::to_real(r));
          for (Index n = 0; n < r.rows(); ++n) {
            for (Index j = 0; j < r.cols(); ++j) {
              ++outputs;
              if (o.dead(n, j) != 0) {
                r(n, j) = 0;
                ++dead;
              } else if (o.kappa(n, j) > 1e3) {
                r(n, j) = 0;
                ++ill;
              }
            }
          }
          const lrp::Matrix got = run(cfg, *b.layer, a, r);
          for (Index n = 0; n < 3; ++n) {
            const double in_sum = got.row(n).cast<double>().sum(), out_sum = r.row(n).cast<double>().sum();
            const double scale = r.row(n).cast<double>().cwiseAbs().sum();
            const double e = scale > 0 ? std::fabs(in_sum - out_sum) / scale : std::fabs(in_sum);
            INFO(c.label << ", seed " << seed << (positive ? ", positive input" : ", mixed input") << ", rule "
                         << cfg.label() << ", sample " << n << ": Σ R_in = " << in_sum << ", Σ R_out = " << out_sum
                         << ", relative deviation " << e);
            CHECK(e <= tolerance);
            stats.record(e, c.label + " " + cfg.label());
          }
        }
      }
    }
  }
  stats.masked = ill;
  stats.outputs = outputs;
  stats.report("conservation");
  INFO(dead << " of " << outputs << " outputs have a zero denominator, " << ill << " an ill-conditioned one");
  CHECK(static_cast<double>(dead) <= 0.1 * static_cast<double>(outputs));
  CHECK(static_cast<double>(ill) <= 0.05 * static_cast<double>(outputs));
  if (std::getenv("LRP_ORACLE_REPORT")) std::cout << "  dead outputs " << dead << "/" << outputs << "\n";
}

TEST_CASE("alpha_beta(2, 1) does not conserve relevance: it creates relevance where z- = 0", "[oracle][identity][conservation]") {
  // By hand: dense(2 -> 1) without bias, w = [1, 1], a = [1, 2], R = 1. z⁺ = 3, z⁻ = 0 (no negative
  // contribution). R_in = 2·[1, 2]/(3 + 1e-6) − 1·[0, 0] = [0.6666664, 1.3333329]: Σ R_in ≈ 2 = 2·R.
  LayerCase c = dense_case(2, 1);
  lrp::LayerPtr layer = c.make(false);
  layer->configure(c.input_shape, "dense");
  layer->set_params({lrp::Matrix::Ones(1, 2), lrp::Vector()});
  lrp::Matrix a(1, 2), r(1, 1);
  a << 1, 2;
  r << 1;
  const lrp::Matrix got = run(RuleConfig{"alpha_beta", {}}, *layer, a, r);
  CHECK(std::fabs(got(0, 0) - 2.0 / (3.0 + 1e-6)) <= 1e-6);
  CHECK(std::fabs(got(0, 1) - 4.0 / (3.0 + 1e-6)) <= 1e-6);
  CHECK(std::fabs(got.sum() - 2.0) <= 1e-5);
  // zplus on the same layer conserves: [1, 2] / 3.
  CHECK(std::fabs(run(RuleConfig{"zplus", {}}, *layer, a, r).sum() - 1.0) <= 1e-5);

  // Average pooling has no negative weights, so on a non-negative input z⁻ = 0 at every output:
  // alpha_beta(2, 1) doubles the total relevance (Σ_j R_j · 2z⁺/stab(z⁺)), zplus keeps it.
  // Where both z⁺ and z⁻ are nonzero the α and β shares cancel to R_j (2 − 1 = 1), so a layer
  // with mixed weights and inputs loses or creates relevance only at its outputs with z⁻ = 0.
  const LayerCase pool = pool_cases()[1];
  const Built b = build(pool, false, 12);
  const lrp::Matrix x = random_input(2, b.data.structure.in, InputKind::kNonNegative, 12);
  const lrp::Matrix rel = random_relevance(2, b.data.structure.out, 12).cwiseAbs();
  const RuleConfig ab{"alpha_beta", {}};
  const lrp::Matrix created = run(ab, *b.layer, x, rel);
  const RMat want = oracle::apply(ab, b.data, oracle::to_real(x), oracle::to_real(rel)).relevance;
  CHECK(deviation(created, want).relative() <= kTolerance);
  const lrp::Matrix kept = run(RuleConfig{"zplus", {}}, *b.layer, x, rel);
  const RMat wp = b.data.matrix(oracle::pos);
  for (Index n = 0; n < 2; ++n) {
    const double out_sum = rel.row(n).cast<double>().sum();
    INFO(pool.label << ", sample " << n << ": Σ R_out = " << out_sum << ", alpha_beta Σ R_in = " << created.row(n).sum()
                    << ", zplus Σ R_in = " << kept.row(n).sum());
    // Outputs whose window holds only zeros of the input pass nothing (z⁺ = 0 as well): the
    // expected totals are over the outputs with z⁺ ≠ 0.
    double live_sum = 0;
    for (Index j = 0; j < rel.cols(); ++j) {
      Real zp = 0;
      for (Index i = 0; i < x.cols(); ++i) zp += wp(j, i) * oracle::pos(x(n, i));
      if (zp != 0) live_sum += static_cast<double>(rel(n, j));
    }
    CHECK(live_sum > 0.5 * out_sum);
    CHECK(std::fabs(created.row(n).cast<double>().sum() - 2.0 * live_sum) <= 1e-4 * out_sum);
    CHECK(std::fabs(kept.row(n).cast<double>().sum() - live_sum) <= 1e-4 * out_sum);
  }
}

// ---------------------------------------------------------------- the tests can fail

TEST_CASE("the oracle tells the rules apart, and the library matches only its own rule's oracle", "[oracle][sanity]") {
  const std::vector<RuleConfig> distinct{
      {"zero", {}},
      {"epsilon", {{"epsilon", {0.25}}}},
      {"gamma", {}},
      {"zbox", {{"low", {-1.0}}, {"high", {1.0}}}},
      {"alpha_beta", {}},
      {"zplus", {}},
      {"flat", {}},
      {"wsquare", {}},
  };
  for (const LayerCase& c : {dense_case(7, 5), conv_cases()[3], pool_cases()[6]}) {
    const Built b = build(c, c.has_bias, 13);
    const lrp::Matrix a = random_input(3, b.data.structure.in, InputKind::kMixed, 13);
    const lrp::Matrix r = random_relevance(3, b.data.structure.out, 13);
    const RMat ar = oracle::to_real(a), rr = oracle::to_real(r);
    std::vector<RMat> oracles;
    std::vector<lrp::Matrix> library;
    for (const RuleConfig& cfg : distinct) {
      oracles.push_back(oracle::apply(cfg, b.data, ar, rr).relevance);
      library.push_back(run(cfg, *b.layer, a, r));
    }
    for (size_t x = 0; x < distinct.size(); ++x) {
      for (size_t y = 0; y < distinct.size(); ++y) {
        if (x == y) continue;
        INFO(c.label << ": oracle of " << distinct[x].label() << " vs " << distinct[y].label());
        CHECK(deviation(oracles[x], oracles[y]).relative() > 1e-2);
        // A library result for rule x would fail the comparison with the oracle of rule y.
        CHECK(deviation(library[x], oracles[y]).relative() > 100 * kTolerance);
      }
    }
  }
}

TEST_CASE("the library does not match plausible wrong conventions (oracle mutants)", "[oracle][sanity]") {
  struct Mutant {
    RuleConfig right, wrong;
    LayerCase layer;
    InputKind input;
  };
  const LayerCase padded_conv = conv_cases()[2];  // padding 1x2, dilation 2x1
  const std::vector<Mutant> mutants{
      // flat: z_j counts only real inputs, not the padded taps.
      {{"flat", {}}, {"mutant:flat_counts_padding", {}}, padded_conv, InputKind::kMixed},
      {{"flat", {}}, {"mutant:flat_counts_padding", {}}, pool_cases()[1], InputKind::kMixed},
      // zbox: the bound images go through zero padding (no bound where the input is padding).
      {{"zbox", {{"low", {-1.0}}, {"high", {1.0}}}}, {"mutant:zbox_bounds_in_padding", {{"low", {-1.0}}, {"high", {1.0}}}},
       padded_conv, InputKind::kMixed},
      // gamma: the sign of the unmodified z picks the branch.
      {{"gamma", {{"gamma", {1.0}}}}, {"mutant:gamma_gated_by_own_denominator", {{"gamma", {1.0}}}}, dense_case(12, 4),
       InputKind::kMixed},
      // zplus keeps only b⁺.
      {{"zplus", {}}, {"mutant:zplus_full_bias", {}}, dense_case(7, 5), InputKind::kNonNegative},
      // wsquare squares the bias and keeps it.
      {{"wsquare", {}}, {"mutant:wsquare_without_bias", {}}, conv_cases()[0], InputKind::kMixed},
  };
  for (const Mutant& m : mutants) {
    const Built b = build(m.layer, m.layer.has_bias, 14);
    const lrp::Matrix a = random_input(3, b.data.structure.in, m.input, 14);
    const lrp::Matrix r = random_relevance(3, b.data.structure.out, 14);
    const RMat ar = oracle::to_real(a), rr = oracle::to_real(r);
    const RMat right = oracle::apply(m.right, b.data, ar, rr).relevance;
    const RMat wrong = oracle::apply(m.wrong, b.data, ar, rr).relevance;
    const lrp::Matrix got = run(m.right, *b.layer, a, r);
    INFO(m.layer.label << ": " << m.right.label() << " vs " << m.wrong.name);
    CHECK(deviation(right, wrong).relative() > 1e-3);
    CHECK(deviation(got, wrong).relative() > 100 * kTolerance);
    CHECK(deviation(got, right).relative() <= kTolerance);
  }
}

// ---------------------------------------------------------------- through the explainer

TEST_CASE("the explainer runs a one-layer network with the oracle's numbers, also split across threads", "[oracle][explain]") {
  const LayerCase c = conv_cases()[3];  // groups 2, stride 2, padding 1
  lrp::Network net(c.input_shape);
  lrp::Layer& layer = net.add(c.make(true), "conv");
  const Built reference = build(c, true, 15);
  layer.set_params(reference.layer->params());
  const oracle::LayerData& data = reference.data;
  const Index n = 5;
  const lrp::Tensor x(c.input_shape, random_input(n, data.structure.in, InputKind::kMixed, 15));
  const lrp::ForwardPass pass = net.forward(x);
  const RMat ar = oracle::to_real(x.data);
  // The logits as the oracle computes them: z = W a + b.
  const RMat w = data.matrix(oracle::same);
  const oracle::RVec bias = data.bias_vector(oracle::same);
  for (const RuleConfig& cfg : {RuleConfig{"gamma", {}}, RuleConfig{"zbox", {{"low", {-1.0}}, {"high", {1.0}}}},
                                RuleConfig{"alpha_beta", {}}, RuleConfig{"epsilon", {}}}) {
    // Targets: per sample an output whose denominators are well conditioned (for float32).
    const oracle::Result probe = oracle::apply(cfg, data, ar, RMat::Ones(n, data.structure.out));
    std::vector<Index> targets;
    for (Index s = 0; s < n; ++s) {
      Index t = (s * 37 + 11) % data.structure.out;
      while (static_cast<double>(probe.kappa(s, t)) > 10) t = (t + 1) % data.structure.out;
      targets.push_back(t);
    }
    std::vector<lrp::RulePtr> rules;
    rules.push_back(registry().make_rule(cfg.name, cfg.params));
    const lrp::Explainer explainer(net, std::move(rules));
    for (int threads : {1, 2}) {
      for (lrp::SeedKind seed : {lrp::SeedKind::kOneHot, lrp::SeedKind::kLogit}) {
        INFO(cfg.label() << ", threads " << threads << (seed == lrp::SeedKind::kOneHot ? ", one-hot seed" : ", logit seed"));
        const lrp::Explanation e = explainer.explain(pass, targets, {.seed = seed, .threads = threads});
        RMat r = RMat::Zero(n, data.structure.out);
        for (Index s = 0; s < n; ++s) {
          const Index t = targets[static_cast<size_t>(s)];
          Real z = bias[static_cast<size_t>(t)];
          for (Index i = 0; i < data.structure.in; ++i) z += w(t, i) * ar(s, i);
          const Real want_seed = seed == lrp::SeedKind::kOneHot ? Real(1) : z;
          CHECK(std::fabs(static_cast<double>(e.seed(s)) - static_cast<double>(want_seed)) <=
                kTolerance * std::max(1.0, std::fabs(static_cast<double>(want_seed))));
          r(s, t) = static_cast<Real>(e.seed(s));  // the seed the library used, exactly
        }
        const RMat want = oracle::apply(cfg, data, ar, r).relevance;
        CHECK(deviation(e.relevance.data, want).relative() <= kTolerance);
      }
    }
  }
}
