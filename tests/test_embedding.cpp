// The embedding layer handler (nn.Embedding) and its default rule token_sum: forward against a literal lookup,
// param_vjp against finite differences, errors for bad ids and for gradients through the ids, token_sum against
// the literal sum, and an LRP explanation of embedding → lstm → dense in which the relevance at the embedding's
// output, summed per token, is the relevance token_sum gives each token.
#include "test_util.hpp"

#include "lrp/io/model_file.hpp"
#include "lrp/io/model_yaml.hpp"
#include "lrp/propagation/explain.hpp"
#include "lrp/nn/layers.hpp"
#include "lrp/nn/model.hpp"

#include "temp_dir.hpp"

#include <catch2/catch.hpp>
#include <yaml-cpp/yaml.h>

#include <cmath>
#include <string>
#include <vector>

using namespace lrp_test;
using Catch::Contains;

namespace {

constexpr Index kVocab = 7, kDim = 3, kSteps = 5;

// N samples of kSteps ids in [0, kVocab), seeded.
Matrix random_ids(Index n, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_int_distribution<int> id(0, static_cast<int>(kVocab) - 1);
  Matrix x(n, kSteps);
  for (Index r = 0; r < n; ++r)
    for (Index t = 0; t < kSteps; ++t) x(r, t) = static_cast<Scalar>(id(rng));
  return x;
}

lrp::Network embedding_net(std::uint64_t seed) {
  lrp::Network net({kSteps});
  lrp::Layer& emb = net.add(std::make_unique<lrp::Embedding>(kVocab, kDim), "emb");
  emb.set_params({random_matrix(kVocab, kDim, seed), Vector()});
  return net;
}

}  // namespace

TEST_CASE("embedding: forward is the lookup of each id's weight row", "[embedding]") {
  const lrp::Network net = embedding_net(1);
  const Matrix& w = net.layer(0).params().weight;
  CHECK(net.layer(0).output_shape() == lrp::Shape{kSteps, kDim});
  const Matrix x = random_ids(4, 2);
  const Matrix y = net.forward(lrp::Tensor({kSteps}, x)).logits();
  REQUIRE(y.rows() == 4);
  REQUIRE(y.cols() == kSteps * kDim);
  for (Index r = 0; r < 4; ++r)
    for (Index t = 0; t < kSteps; ++t)
      for (Index e = 0; e < kDim; ++e) {
        const auto id = static_cast<Index>(x(r, t));
        CHECK(y(r, t * kDim + e) == w(id, e));  // a copy: bit-identical
      }
}

TEST_CASE("embedding: param_vjp equals finite differences and accumulates into the rows used", "[embedding]") {
  const lrp::Network net = embedding_net(3);
  const lrp::Layer& layer = net.layer(0);
  const Matrix x = random_ids(3, 4);
  const Matrix g_out = random_matrix(3, kSteps * kDim, 5);
  lrp::Workspace ws;
  // f(W) = Σ g_out ⊙ forward(x; W), in double.
  auto f = [&](const lrp::Params& p) {
    Matrix y(3, kSteps * kDim);
    layer.forward(x, p, y, ws);
    return (y.cast<double>().array() * g_out.cast<double>().array()).sum();
  };
  lrp::Params grads = lrp::zero_like(layer.params());
  grads.weight.setConstant(Scalar(0.5));  // param_vjp adds to what is there
  layer.param_vjp(x, layer.params(), g_out, grads, ws);
  const double h = 0.25;  // f is linear in W: central differences are exact up to rounding
  for (Index v = 0; v < kVocab; ++v)
    for (Index e = 0; e < kDim; ++e) {
      lrp::Params plus = layer.params(), minus = layer.params();
      plus.weight(v, e) += static_cast<Scalar>(h);
      minus.weight(v, e) -= static_cast<Scalar>(h);
      const double numeric = (f(plus) - f(minus)) / (2 * h);
      INFO("row " << v << ", column " << e);
      CHECK(std::abs(static_cast<double>(grads.weight(v, e)) - 0.5 - numeric) <= tol(1e-5, 1e-12));
    }
  // A row no sample uses gets no gradient.
  Matrix same(1, kSteps);
  same.setConstant(2);
  lrp::Params only = lrp::zero_like(layer.params());
  layer.param_vjp(same, layer.params(), Matrix::Ones(1, kSteps * kDim), only, ws);
  for (Index v = 0; v < kVocab; ++v) CHECK(only.weight.row(v).cwiseAbs().sum() == (v == 2 ? kSteps * kDim : 0));
}

TEST_CASE("embedding: ids that are not whole numbers from 0 to vocab - 1 and gradients through the ids are errors",
          "[embedding]") {
  const lrp::Network net = embedding_net(6);
  for (const double bad : {7.0, -1.0, 2.5, 1e30}) {
    Matrix x = random_ids(4, 7);
    x(2, 3) = static_cast<Scalar>(bad);
    INFO(bad);
    // Through Network::forward the sample is the batch index, also with several threads.
    CHECK_THROWS_WITH(net.forward(lrp::Tensor({kSteps}, x), 2),
                      Contains("layer 'emb' (embedding): sample 2, step 3 holds the token id") &&
                          Contains("expected a whole number in [0, 7)"));
  }
  const Matrix x = random_ids(2, 8);
  const lrp::ForwardPass pass = net.forward(lrp::Tensor({kSteps}, x));
  lrp::Workspace ws;
  Matrix g_in(2, kSteps);
  CHECK_THROWS_WITH(net.layer(0).vjp(x, net.layer(0).params(), Matrix::Ones(2, kSteps * kDim), g_in, ws, false),
                    Contains("layer 'emb' (embedding): its output is not differentiable with respect to the token ids") &&
                        Contains("one-hot"));
  CHECK_THROWS_WITH(lrp::Embedding(0, 3), Contains("vocabulary size must be ≥ 1"));
  lrp::Network two_d({kSteps, 2});
  CHECK_THROWS_WITH(two_d.add(std::make_unique<lrp::Embedding>(kVocab, kDim), "e"),
                    Contains("expected an input of shape [T]"));
}

TEST_CASE("token_sum: the relevance of a token is the sum over its embedding dimensions", "[embedding][rules]") {
  const lrp::Network net = embedding_net(9);
  const lrp::RulePtr rule = builtins().make_rule("token_sum");
  CHECK(rule->incompatibility(net.layer(0)).empty());
  const Matrix x = random_ids(3, 10);
  const lrp::ForwardPass pass = net.forward(lrp::Tensor({kSteps}, x));
  const Matrix relevance_out = random_matrix(3, kSteps * kDim, 11);
  Matrix relevance_in(3, kSteps);
  lrp::Workspace ws;
  rule->propagate({net.layer(0), pass.activations[0], pass.activations[1]}, nullptr, relevance_out, relevance_in, ws);
  for (Index r = 0; r < 3; ++r)
    for (Index t = 0; t < kSteps; ++t) {
      double sum = 0;
      for (Index e = 0; e < kDim; ++e) sum += static_cast<double>(relevance_out(r, t * kDim + e));
      CHECK(std::abs(static_cast<double>(relevance_in(r, t)) - sum) <= tol(1e-6, 1e-15));
    }
  // Only for [T] -> [T, E] layers.
  lrp::Network dense({4});
  dense.add(std::make_unique<lrp::Dense>(4, 2), "fc");
  CHECK_THAT(rule->incompatibility(dense.layer(0)), Contains("applies only to layers mapping a [T] input to a [T, E]"));
  CHECK(builtins().layer_info("embedding").default_rule.rule == "token_sum");
}

TEST_CASE("embedding → lstm → dense: LRP with token_sum gives each token the summed relevance of its embedding",
          "[embedding][lstm]") {
  const std::string yaml = R"(name: tokens
input_shape: [5]
layers:
  - {kind: embedding, name: emb, vocab: 7, dim: 3}
  - {kind: lstm, name: rnn, hidden: 4, bidirectional: 1}
  - {kind: dense, name: head, out: 2}
)";
  lrp::Model model = lrp::build_model(lrp::parse_model_spec(YAML::Load(yaml), "tokens.yaml", &builtins()), builtins());
  lrp::initialize_parameters(model.network, lrp::InitScheme::kHeNormal, 12);
  const lrp::Network& net = model.network;
  CHECK(net.layer(1).input_shape() == lrp::Shape{5, 3});  // the lstm's `in` follows from the embedding

  const Matrix x = random_ids(4, 13);
  const lrp::ForwardPass pass = net.forward(lrp::Tensor({kSteps}, x), 2);
  const std::vector<Index> targets = lrp::select_targets(pass.logits(), lrp::TargetSpec::predicted());
  // The embedding keeps its default (token_sum); the lstm gets `gradient` (its LRP rule is not built in yet).
  const lrp::Composite composite = lrp::Composite().by_kind("lstm", {"gradient", {}}).by_kind("dense", {"epsilon", {}});
  const lrp::Explainer explainer = lrp::Explainer::from_composite(net, builtins(), composite);
  lrp::ExplainOptions keep;
  keep.keep_layer_relevance = true;
  const lrp::Explanation e = explainer.explain(pass, targets, keep);
  CHECK(e.layer_rules[0] == "token_sum()");
  REQUIRE(e.relevance.shape == lrp::Shape{kSteps});
  // The relevance at the lstm's input is the relevance at the embedding's output: [T, E] per sample.
  const Matrix& at_embedding_output = e.layer_relevance[1];
  REQUIRE(at_embedding_output.cols() == kSteps * kDim);
  CHECK(at_embedding_output.cwiseAbs().maxCoeff() > 0);  // not trivially zero
  for (Index r = 0; r < 4; ++r)
    for (Index t = 0; t < kSteps; ++t) {
      double sum = 0;
      for (Index k = 0; k < kDim; ++k) sum += static_cast<double>(at_embedding_output(r, t * kDim + k));
      CHECK(std::abs(static_cast<double>(e.relevance.data(r, t)) - sum) <= tol(1e-6, 1e-14));
    }
  // Gradient methods cannot start below the embedding.
  CHECK_THROWS_WITH(lrp::explain_gradient(net, builtins(), pass, targets, false), Contains("one-hot"));
}

TEST_CASE("embedding: PyTorch's N(0, 1) initialization, YAML keys, and the model file round trip", "[embedding]") {
  lrp::ModelSpec spec;
  spec.name = "emb";
  spec.input_shape = {6};
  spec.layers = {{"embedding", "emb", {{"vocab", {200}}, {"dim", {10}}}},
                 {"lstm", "rnn", {{"hidden", {3}}}},
                 {"dense", "head", {{"out", {2}}}}};
  lrp::Model model = lrp::build_model(spec, builtins());
  lrp::initialize_parameters(model.network, lrp::InitScheme::kGlorotUniform, 14);  // the scheme does not apply
  const Matrix& w = model.network.layer(0).params().weight;
  REQUIRE(w.rows() == 200);
  REQUIRE(w.cols() == 10);
  const double mean = static_cast<double>(w.sum()) / 2000.0;
  const double var = (w.cast<double>().array() - mean).square().sum() / 1999.0;
  CHECK(std::abs(mean) < 0.1);            // 4.5 standard errors of N(0, 1) over 2000 draws
  CHECK(std::abs(var - 1.0) < 0.15);      // about 4.7 standard errors of the sample variance
  CHECK(w.cwiseAbs().maxCoeff() > 2.0);   // not a uniform scheme bounded by ~0.17
  spec.layers[0].params.set("vocab", 0.0);
  CHECK_THROWS_WITH(lrp::build_model(spec, builtins()), Contains("'vocab' must be a whole number ≥ 1"));

  TempDir dir("lrp_test_embedding");
  lrp::save_model(model, dir.file("emb.h5"));
  const lrp::Model loaded = lrp::load_model(dir.file("emb.h5"), builtins());
  CHECK(bit_equal(loaded.network.layer(0).params().weight, w));
  Matrix x(3, 6);
  for (Index i = 0; i < x.size(); ++i) x.data()[i] = static_cast<Scalar>((i * 37) % 200);
  CHECK(bit_equal(loaded.network.forward(lrp::Tensor({6}, x)).logits(),
                  model.network.forward(lrp::Tensor({6}, x)).logits()));
}
