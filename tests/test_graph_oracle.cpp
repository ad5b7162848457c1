// Every linear rule on every linear-like handler (conv2d, average pooling, dense) inside a residual
// block, against the explicit oracle of oracle.hpp walked over the graph by hand: the forward pass
// from the oracle's explicit matrices (never a handler's forward), each layer's rule from the
// oracle's table, the residual sum's rule written out, and the relevance of a value read twice
// summed. In long double; lrplab's float64 build must agree to 1e-10 relative.
#include "oracle.hpp"
#include "test_util.hpp"

#include "lrp/nn/layers.hpp"
#include "lrp/propagation/explain.hpp"

#include <catch2/catch.hpp>

using namespace lrp_test;
using lrp::Index;
using oracle::Real;
using oracle::RMat;

namespace {

// input [2, 5, 5] -> c1 conv 3x3 (2 -> 3) -> relu -> c2 conv 3x3 (3 -> 2) -> sum = c2 + input -> relu
//   -> pool avg 2x2 stride 1 -> flatten -> fc dense (32 -> 3). The input is read by c1 and the sum.
struct Block {
  lrp::Network net{{2, 5, 5}};
  oracle::LayerData c1, c2, pool, fc;
};

Block make_block(std::uint64_t seed) {
  Block b;
  const lrp::Conv2dOptions k3{.kernel = {3, 3}, .padding = {1, 1}};
  b.net.add(std::make_unique<lrp::Conv2d>(2, 3, k3), "c1");
  b.net.add(lrp::make_relu(), "r1");
  b.net.add(std::make_unique<lrp::Conv2d>(3, 2, k3), "c2");
  b.net.add(std::make_unique<lrp::Add>(), "sum", {"c2", "input"});
  b.net.add(lrp::make_relu(), "r2");
  b.net.add(std::make_unique<lrp::AvgPool2d>(lrp::Pool2dOptions{.kernel = {2, 2}, .stride = {1, 1}}), "pool");
  b.net.add(std::make_unique<lrp::Flatten>(), "flatten");
  b.net.add(std::make_unique<lrp::Dense>(32, 3), "fc");
  lrp::randomize_parameters(b.net, seed);
  auto conv = [&](Index in, Index out) {
    oracle::ConvGeometry g{.in_channels = in, .out_channels = out, .height = 5, .width = 5, .kh = 3, .kw = 3};
    g.ph = g.pw = 1;
    return oracle::conv2d_structure(g);
  };
  b.c1 = oracle::read_layer(conv(2, 3), b.net.layer(0).params());
  b.c2 = oracle::read_layer(conv(3, 2), b.net.layer(2).params());
  b.pool = oracle::read_layer(oracle::avgpool_structure({.channels = 2, .height = 5, .width = 5, .kh = 2, .kw = 2,
                                                         .sh = 1, .sw = 1}),
                              b.net.layer(5).params());
  b.fc = oracle::read_layer(oracle::dense_structure(32, 3, true), b.net.layer(7).params());
  return b;
}

// z = W a + b from the explicit matrix, per sample (rows).
RMat affine(const oracle::LayerData& L, const RMat& a) {
  const RMat W = L.matrix(oracle::same);
  RMat z = a * W.transpose();
  for (Index j = 0; j < z.cols(); ++j) {
    const Index k = L.structure.bias_index[static_cast<size_t>(j)];
    if (k >= 0) z.col(j).array() += L.bias[static_cast<size_t>(k)];
  }
  return z;
}

RMat relu(const RMat& z) { return z.cwiseMax(Real(0)); }

}  // namespace

TEST_CASE("Every linear rule on conv, pooling and dense layers in a residual block equals the explicit oracle",
          "[graph][oracle]") {
  const std::vector<oracle::RuleConfig> rules{
      {"zero", {}},
      {"epsilon", {{"epsilon", {0.25}}}},
      {"zplus", {}},
      {"alpha_beta", {{"alpha", {2.0}}, {"beta", {1.0}}}},
      {"gamma", {{"gamma", {0.25}}}},
      {"flat", {}},
      {"wsquare", {}},
      {"norm", {}},
  };
  for (const std::uint64_t seed : {3u, 4u}) {
    const Block b = make_block(seed);
    const lrp::Tensor x = lrp::random_inputs({2, 5, 5}, 3, seed + 10);
    const lrp::ForwardPass pass = b.net.forward(x);
    const std::vector<Index> targets{0, 1, 2};
    // The oracle's forward pass.
    const RMat a0 = oracle::to_real(x.data);
    const RMat z1 = affine(b.c1, a0), h1 = relu(z1), z2 = affine(b.c2, h1), s = z2 + a0, h2 = relu(s),
               p = affine(b.pool, h2), y = affine(b.fc, p);
    CHECK((oracle::to_real(pass.logits()) - y).cwiseAbs().maxCoeff() <= tol(1e-5, 1e-12) * (1 + y.cwiseAbs().maxCoeff()));
    for (const oracle::RuleConfig& rule : rules) {
      INFO("seed " << seed << ", rule " << rule.label());
      lrp::Composite composite;
      for (const char* kind : {"conv2d", "avgpool2d", "dense"}) composite.by_kind(kind, {rule.name, rule.params});
      const lrp::Explanation e =
          lrp::Explainer::from_composite(b.net, builtins(), composite).explain(pass, targets);
      // The oracle, from the output back.
      RMat r_y = RMat::Zero(3, 3);
      for (Index n = 0; n < 3; ++n) r_y(n, targets[static_cast<size_t>(n)]) = y(n, targets[static_cast<size_t>(n)]);
      const RMat r_p = oracle::apply(rule, b.fc, p, r_y).relevance;
      const RMat r_h2 = oracle::apply(rule, b.pool, h2, r_p).relevance;  // flatten and relu pass
      // norm on the sum (stabilizer 1e-6): each summand x_k · R / stab(Σ)
      RMat q(r_h2.rows(), r_h2.cols());
      for (Index n = 0; n < q.rows(); ++n)
        for (Index j = 0; j < q.cols(); ++j) q(n, j) = oracle::divide(r_h2(n, j), s(n, j), Real(1e-6));
      const RMat r_z2 = z2.cwiseProduct(q), r_skip = a0.cwiseProduct(q);
      const RMat r_h1 = oracle::apply(rule, b.c2, h1, r_z2).relevance;
      const RMat want = oracle::apply(rule, b.c1, a0, r_h1).relevance + r_skip;
      const RMat got = oracle::to_real(e.relevance.data);
      // float32: norm divides by the residual sum, which nearly cancels at some positions (the summands
      // have mixed signs), and amplifies the rounding of the layers above by up to |x_k| / |Σ x|; the
      // largest deviation seen is 2.6e-4 (flat, whose relevance ignores the values it divides).
      for (Index n = 0; n < 3; ++n) {
        const Real scale = want.row(n).cwiseAbs().maxCoeff();
        INFO("sample " << n);
        CHECK(static_cast<double>((got.row(n) - want.row(n)).cwiseAbs().maxCoeff() / scale) <= tol(1e-3, 1e-10));
      }
    }
  }
}
