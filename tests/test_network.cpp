// Networks and explanations: shapes and names, threading, batch independence, batch-norm
// canonization, the per-layer relevance ledger and conservation (docs/rules.md, Identities), seeds and targets,
// the gradient against finite differences, LRP-0 ≡ gradient × input, and the example networks
// under every preset.
#include "test_util.hpp"

#include "lrp/propagation/canonize.hpp"
#include "lrp/nn/layers.hpp"

#include <catch2/catch.hpp>

#include <sstream>

using namespace lrp_test;
using lrp::Conv2dOptions;
using lrp::Pool2dOptions;

namespace {

lrp::ForwardPass forward_rows(const lrp::Network& net, const Matrix& rows) {
  return net.forward(lrp::Tensor(net.input_shape(), rows));
}

double row_sum(const Matrix& m, Index row) { return m.row(row).cast<double>().sum(); }
double row_abs_sum(const Matrix& m, Index row) { return m.row(row).cast<double>().cwiseAbs().sum(); }

// Central differences of logit c of sample n with respect to every input feature.
Eigen::VectorXd logit_gradient_by_differences(const lrp::Network& net, const Matrix& x, Index n, Index c, double h) {
  const Index features = x.cols();
  Eigen::VectorXd grad(features);
  for (Index i = 0; i < features; ++i) {
    Matrix plus = x.row(n), minus = x.row(n);
    plus(0, i) += static_cast<Scalar>(h);
    minus(0, i) -= static_cast<Scalar>(h);
    const double step = static_cast<double>(plus(0, i)) - static_cast<double>(minus(0, i));
    const double fp = static_cast<double>(forward_rows(net, plus).logits()(0, c));
    const double fm = static_cast<double>(forward_rows(net, minus).logits()(0, c));
    grad[i] = (fp - fm) / step;
  }
  return grad;
}

// The example CNN and MLP, both from `seed`.
std::vector<lrp::Network> example_networks(std::uint64_t seed) {
  std::vector<lrp::Network> nets;
  nets.push_back(lrp::example_cnn(seed));
  nets.push_back(lrp::example_mlp(seed));
  return nets;
}

// A network with every dense/conv bias set to zero, for the identities that need it.
lrp::Network bias_free(lrp::Network net) {
  zero_biases(net);
  return net;
}

}  // namespace

// ---------------------------------------------------------------- structure

TEST_CASE("shapes propagate through the example networks layer by layer") {
  const lrp::Network cnn = lrp::example_cnn(1);
  const std::vector<std::string> names{"conv1", "relu1", "pool1", "conv2", "relu2", "pool2", "flatten", "fc"};
  const std::vector<Shape> shapes{{8, 28, 28},  {8, 28, 28}, {8, 14, 14}, {16, 14, 14},
                                  {16, 14, 14}, {16, 7, 7},  {784},       {10}};
  REQUIRE(cnn.size() == 8);
  CHECK(cnn.input_shape() == Shape{1, 28, 28});
  for (Index l = 0; l < cnn.size(); ++l) {
    INFO("layer " << l);
    CHECK(cnn.layer(l).name() == names[static_cast<size_t>(l)]);
    CHECK(cnn.layer(l).output_shape() == shapes[static_cast<size_t>(l)]);
    CHECK(cnn.layer(l).input_shape() == (l == 0 ? cnn.input_shape() : cnn.layer(l - 1).output_shape()));
  }
  CHECK(cnn.output_shape() == Shape{10});

  const lrp::Network mlp = lrp::example_mlp(1);
  REQUIRE(mlp.size() == 5);
  CHECK(mlp.layer(0).output_shape() == Shape{64});
  CHECK(mlp.layer(2).output_shape() == Shape{32});
  CHECK(mlp.output_shape() == Shape{10});

  const lrp::ForwardPass pass = cnn.forward(lrp::random_inputs(cnn.input_shape(), 3, 2));
  REQUIRE(pass.activations.size() == 9);
  for (size_t a = 0; a < pass.activations.size(); ++a) {
    CHECK(pass.activations[a].rows() == 3);
    CHECK(pass.activations[a].cols() ==
          lrp::numel(a == 0 ? cnn.input_shape() : cnn.layer(static_cast<Index>(a) - 1).output_shape()));
  }
}

TEST_CASE("layer names are unique and default to the kind followed by the index") {
  lrp::Network net({4});
  CHECK(net.add(std::make_unique<lrp::Dense>(4, 3)).name() == "dense0");
  CHECK(net.add(lrp::make_relu()).name() == "relu1");
  REQUIRE_THROWS_WITH(net.add(lrp::make_tanh(), "relu1"),
                      Catch::Contains("'relu1'") && Catch::Contains("already exists"));
  REQUIRE_THROWS_WITH(net.add(std::make_unique<lrp::Dense>(3, 2), "dense0"), Catch::Contains("already exists"));
  CHECK(net.size() == 2);  // failed additions leave the network as it was
  CHECK(net.add(std::make_unique<lrp::Dense>(3, 2), "out").name() == "out");
  // An unnamed layer whose default name is taken is an error too, not a silent rename.
  lrp::Network other({3});
  other.add(lrp::make_relu(), "relu1");
  REQUIRE_THROWS_WITH(other.add(lrp::make_relu()), Catch::Contains("already exists"));
}

TEST_CASE("index_of finds a layer by name and lists the names when there is none") {
  const lrp::Network cnn = lrp::example_cnn(1);
  CHECK(cnn.index_of("conv1") == 0);
  CHECK(cnn.index_of("pool2") == 5);
  CHECK(cnn.index_of("fc") == 7);
  REQUIRE_THROWS_WITH(
      cnn.index_of("conv3"),
      Catch::Contains("'conv3'") && Catch::Contains("conv1, relu1, pool1, conv2, relu2, pool2, flatten, fc"));
  REQUIRE_THROWS_AS(cnn.layer(8), lrp::Error);
  REQUIRE_THROWS_AS(cnn.layer(-1), lrp::Error);
}

TEST_CASE("summary has one line per layer with its name, description and output shape") {
  const lrp::Network cnn = lrp::example_cnn(1);
  const std::string s = cnn.summary();
  std::istringstream lines(s);
  std::vector<std::string> rows;
  for (std::string line; std::getline(lines, line);) rows.push_back(line);
  REQUIRE(rows.size() == 9);
  CHECK_THAT(rows[0], Catch::Contains("[1, 28, 28]"));
  for (Index l = 0; l < cnn.size(); ++l) {
    const std::string& row = rows[static_cast<size_t>(l) + 1];
    CHECK_THAT(row, Catch::Contains(cnn.layer(l).name()) && Catch::Contains(cnn.layer(l).describe()) &&
                        Catch::Contains(lrp::to_string(cnn.layer(l).output_shape())));
  }
  CHECK_THAT(rows[1], Catch::Contains("conv2d(1 -> 8, kernel 3x3"));
}

TEST_CASE("forward into an existing pass and a reused explainer give the same results as fresh ones") {
  const lrp::Network net = lrp::example_cnn(25);
  const lrp::Tensor big = lrp::random_inputs(net.input_shape(), 5, 26),
                    small = lrp::random_inputs(net.input_shape(), 2, 27);
  const lrp::ForwardPass fresh_big = net.forward(big), fresh_small = net.forward(small);
  lrp::ForwardPass reused;
  net.forward(big, reused);
  net.forward(small, reused);
  for (size_t a = 0; a < reused.activations.size(); ++a)
    CHECK(bit_equal(reused.activations[a], fresh_small.activations[a]));
  net.forward(big, reused, 2);
  for (size_t a = 0; a < reused.activations.size(); ++a)
    CHECK(relative_error(reused.activations[a], fresh_big.activations[a]) <= tol(1e-5, 1e-13));

  const lrp::Explainer ex = explainer_for(net, "epsilon_gamma_box", preset_params("epsilon_gamma_box"));
  const std::vector<Index> big_targets{1, 2, 3, 4, 5}, small_targets{6, 7};
  const Matrix first = ex.explain(fresh_big, big_targets).relevance.data;
  const Matrix small_once = ex.explain(fresh_small, small_targets, {.threads = 2}).relevance.data;
  CHECK(bit_equal(ex.explain(fresh_big, big_targets).relevance.data, first));
  const lrp::Explainer other = explainer_for(net, "epsilon_gamma_box", preset_params("epsilon_gamma_box"));
  CHECK(bit_equal(other.explain(fresh_small, small_targets, {.threads = 2}).relevance.data, small_once));
}

// ---------------------------------------------------------------- threads and batch independence

// Not bit for bit: Eigen's GEMM kernels round differently depending on how many rows a product
// has, and threads split the batch into blocks of rows (a sample alone takes the GEMV path). The
// differences are at rounding level, so a few ulps of relative tolerance.
TEST_CASE("forward with two threads equals one thread up to rounding") {
  for (const lrp::Network& each : example_networks(3)) {
    const lrp::Network* net = &each;
    const lrp::Tensor x = lrp::random_inputs(net->input_shape(), 7, 4);
    const lrp::ForwardPass one = net->forward(x, 1), two = net->forward(x, 2), three = net->forward(x, 3);
    REQUIRE(one.activations.size() == two.activations.size());
    for (size_t a = 0; a < one.activations.size(); ++a) {
      INFO("activation " << a);
      CHECK(relative_error(two.activations[a], one.activations[a]) <= tol(1e-5, 1e-13));
      CHECK(relative_error(three.activations[a], one.activations[a]) <= tol(1e-5, 1e-13));
    }
  }
}

TEST_CASE("a sample explained alone equals the same sample inside a batch, for every preset") {
  const double tolerance = tol(1e-5, 1e-12);
  for (const lrp::Network& each : example_networks(5)) {
    const lrp::Network* net = &each;
    const lrp::Tensor x = lrp::random_inputs(net->input_shape(), 5, 6);
    const lrp::ForwardPass batch = net->forward(x);
    const auto targets = lrp::select_targets(batch.logits(), lrp::TargetSpec::fixed(3));
    for (const std::string& preset : preset_names()) {
      INFO(preset << " on " << net->size() << " layers");
      const lrp::Explainer ex = explainer_for(*net, preset, preset_params(preset));
      const lrp::Explanation together = ex.explain(batch, targets);
      for (Index n = 0; n < x.batch(); ++n) {
        INFO("sample " << n);
        const lrp::Explanation alone = ex.explain(forward_rows(*net, x.data.row(n)), {3});
        CHECK(relative_error(alone.relevance.data, Matrix(together.relevance.data.row(n))) <= tolerance);
        CHECK(relative_error(Matrix(alone.seed.transpose()), Matrix(together.seed.segment(n, 1).transpose())) <=
              tolerance);
      }
    }
  }
}

TEST_CASE("a sample with only negative inputs is explained the same alone and inside a batch") {
  // z⁺ of zplus contains the positive bias b⁺ whether or not any input is positive (docs/rules.md, The generic step):
  // a sample whose inputs are all negative must not lose it when it is explained on its own.
  lrp::Network net({4});
  lrp::Layer& fc = net.add(std::make_unique<lrp::Dense>(4, 2), "fc");
  lrp::Params p;
  p.weight.resize(2, 4);
  p.weight << 0.5, -1.0, 0.25, -0.5, -0.75, 1.0, -0.25, 0.5;
  p.bias.resize(2);
  p.bias << 0.5, -0.25;
  fc.set_params(p);
  Matrix x(2, 4);
  x << -1.0, -0.5, -0.25, -2.0,  // all negative
      1.0, 0.5, 0.25, 2.0;
  const lrp::Explainer ex = lrp::Explainer::from_composite(
      net, builtins(), lrp::Composite().by_name("fc", {"zplus", {{"stabilizer", {0.0}}}}));
  const lrp::Explanation together = ex.explain(forward_rows(net, x), {0, 0});
  const lrp::Explanation alone = ex.explain(forward_rows(net, x.row(0)), {0});

  // The oracle for sample 0, class 0: a⁺ = 0, so R_i = a_i · w⁻_0i · f_0 / (Σ_k w⁻_0k a_k + b⁺_0).
  double z = 0.5, logit = 0.5;
  for (Index i = 0; i < 4; ++i) {
    const double w = static_cast<double>(p.weight(0, i)), a = static_cast<double>(x(0, i));
    z += std::min(w, 0.0) * a;
    logit += w * a;
  }
  Eigen::MatrixXd want(1, 4);
  for (Index i = 0; i < 4; ++i)
    want(0, i) = static_cast<double>(x(0, i)) * std::min(static_cast<double>(p.weight(0, i)), 0.0) * logit / z;
  CHECK(relative_error(Matrix(together.relevance.data.row(0)), want) <= tol(1e-6, 1e-14));
  CHECK(relative_error(alone.relevance.data, want) <= tol(1e-6, 1e-14));
}

TEST_CASE("explanations with two threads equal those with one thread up to rounding") {
  for (const lrp::Network& each : example_networks(7)) {
    const lrp::Network* net = &each;
    const lrp::ForwardPass pass = net->forward(lrp::random_inputs(net->input_shape(), 6, 8));
    const auto targets = lrp::select_targets(pass.logits(), lrp::TargetSpec::predicted());
    for (const std::string& preset : preset_names()) {
      INFO(preset);
      const lrp::Explainer ex = explainer_for(*net, preset, preset_params(preset));
      const lrp::Explanation one = ex.explain(pass, targets, {.keep_layer_relevance = true, .threads = 1});
      const lrp::Explanation two = ex.explain(pass, targets, {.keep_layer_relevance = true, .threads = 2});
      CHECK(relative_error(two.relevance.data, one.relevance.data) <= tol(1e-5, 1e-12));
      REQUIRE(one.layer_relevance.size() == two.layer_relevance.size());
      for (size_t l = 0; l < one.layer_relevance.size(); ++l) {
        INFO("layer " << l);
        CHECK(relative_error(two.layer_relevance[l], one.layer_relevance[l]) <= tol(1e-5, 1e-12));
      }
    }
    const lrp::Explanation g1 = lrp::explain_gradient(*net, builtins(), pass, targets, true, 1);
    const lrp::Explanation g2 = lrp::explain_gradient(*net, builtins(), pass, targets, true, 2);
    CHECK(relative_error(g2.relevance.data, g1.relevance.data) <= tol(1e-5, 1e-12));
  }
}

// ---------------------------------------------------------------- batch-norm canonization

TEST_CASE("batch-norm canonization leaves the forward output unchanged") {
  const double tolerance = tol(2e-6, 1e-12);
  auto set_bn = [](lrp::Network& net, const std::string& name, Index channels, std::uint64_t seed) {
    auto& bn = dynamic_cast<lrp::BatchNorm&>(net.layer(net.index_of(name)));
    lrp::Params p;
    p.weight = random_matrix(1, channels, seed, -2.0, 2.0);
    p.bias = random_vector(channels, seed + 1);
    bn.set_params(p);
    bn.set_statistics(random_vector(channels, seed + 2, -1.0, 1.0), random_vector(channels, seed + 3, 0.01, 4.0));
  };

  SECTION("dense followed by a 1d batch norm") {
    for (bool bias : {true, false}) {
      INFO("dense bias " << bias);
      lrp::Network net({6});
      net.add(std::make_unique<lrp::Dense>(6, 5, bias), "fc1");
      net.add(std::make_unique<lrp::BatchNorm>(5, 1e-3), "bn1");
      net.add(lrp::make_relu(), "relu1");
      net.add(std::make_unique<lrp::Dense>(5, 3), "fc2");
      lrp::randomize_parameters(net, 20);
      set_bn(net, "bn1", 5, 21);
      const lrp::Tensor x = lrp::random_inputs(net.input_shape(), 8, 22, -1.0, 1.0);
      const Matrix before = net.forward(x).logits();
      const Matrix bn_out_before = net.forward(x).activations[2];
      const lrp::CanonizeReport report = lrp::canonize_batch_norm(net);
      CHECK(report.merged == std::vector<std::string>{"bn1 -> fc1"});
      CHECK(report.left.empty());
      CHECK(net.layer(1).kind() == "identity");
      CHECK(net.layer(1).name() == "bn1");
      CHECK(net.index_of("bn1") == 1);
      CHECK(net.layer(0).kind() == "dense");
      CHECK(net.layer(0).params().bias.size() == 5);  // gains a bias when declared without
      CHECK(relative_error(net.forward(x).activations[2], bn_out_before) <= tolerance);
      CHECK(relative_error(net.forward(x).logits(), before) <= tolerance);
      // Canonizing again finds nothing to do.
      const lrp::CanonizeReport again = lrp::canonize_batch_norm(net);
      CHECK(again.merged.empty());
      CHECK(again.left.empty());
    }
  }
  SECTION("conv2d followed by a 2d batch norm, with and without conv bias") {
    for (bool bias : {true, false}) {
      INFO("conv bias " << bias);
      lrp::Network net({2, 6, 5});
      net.add(std::make_unique<lrp::Conv2d>(2, 4, Conv2dOptions{.kernel = {3, 2}, .padding = {1, 1}, .bias = bias}),
              "conv1");
      net.add(std::make_unique<lrp::BatchNorm>(4), "bn1");
      net.add(lrp::make_relu(), "relu1");
      net.add(std::make_unique<lrp::Conv2d>(4, 3, Conv2dOptions{.kernel = {2, 2}, .stride = {2, 2}}), "conv2");
      net.add(std::make_unique<lrp::BatchNorm>(3), "bn2");
      net.add(std::make_unique<lrp::Flatten>(), "flatten");
      net.add(std::make_unique<lrp::Dense>(lrp::numel(net.layer(4).output_shape()), 3), "fc");
      lrp::randomize_parameters(net, 30);
      set_bn(net, "bn1", 4, 31);
      set_bn(net, "bn2", 3, 35);
      const lrp::Tensor x = lrp::random_inputs(net.input_shape(), 5, 32, -1.0, 1.0);
      const lrp::ForwardPass before = net.forward(x);
      const lrp::CanonizeReport report = lrp::canonize_batch_norm(net);
      CHECK(report.merged == std::vector<std::string>{"bn1 -> conv1", "bn2 -> conv2"});
      CHECK(report.left.empty());
      CHECK(net.layer(0).params().bias.size() == 4);
      const lrp::ForwardPass after = net.forward(x);
      for (size_t a = 0; a < before.activations.size(); ++a) {
        INFO("activation " << a);
        if (a == 1 || a == 4) continue;  // the conv outputs themselves change (they absorbed the BN)
        CHECK(relative_error(after.activations[a], before.activations[a]) <= tolerance);
      }
      // Explaining the canonized network: the former batch norms get `pass`.
      const lrp::Explainer ex = explainer_for(net, "epsilon_plus");
      CHECK(ex.layer_rules()[1] == "pass()");
      CHECK(ex.layer_rules()[4] == "pass()");
      CHECK(ex.explain(after, {0, 1, 2, 0, 1}).relevance.data.allFinite());
    }
  }
  SECTION("a batch norm that does not follow a dense or conv layer is left and gets pass") {
    lrp::Network net({3, 4, 4});
    net.add(std::make_unique<lrp::BatchNorm>(3), "bn_in");
    net.add(std::make_unique<lrp::Conv2d>(3, 2, Conv2dOptions{.kernel = {3, 3}}), "conv");
    net.add(lrp::make_relu(), "relu");
    net.add(std::make_unique<lrp::BatchNorm>(2), "bn_relu");
    net.add(std::make_unique<lrp::Flatten>(), "flatten");
    net.add(std::make_unique<lrp::Dense>(8, 2), "fc");
    lrp::randomize_parameters(net, 40);
    set_bn(net, "bn_in", 3, 41);
    set_bn(net, "bn_relu", 2, 45);
    const lrp::Tensor x = lrp::random_inputs(net.input_shape(), 3, 42);
    const Matrix before = net.forward(x).logits();
    const lrp::CanonizeReport report = lrp::canonize_batch_norm(net);
    CHECK(report.merged.empty());
    CHECK(report.left == std::vector<std::string>{"bn_in", "bn_relu"});
    CHECK(net.layer(0).kind() == "batchnorm");
    CHECK(net.layer(3).kind() == "batchnorm");
    CHECK(bit_equal(net.forward(x).logits(), before));
    const auto assignment = builtins().make_preset("epsilon_plus").assign(net, builtins());
    for (Index l : {0, 3}) {
      CHECK(assignment[static_cast<size_t>(l)].choice.rule == "pass");
      CHECK(assignment[static_cast<size_t>(l)].matched_by == "layer default");
    }
    const lrp::Explainer ex = explainer_for(net, "epsilon_plus");
    CHECK(ex.explain(net.forward(x), {0, 1, 0}).relevance.data.allFinite());
  }
}

// ---------------------------------------------------------------- the per-layer ledger

TEST_CASE("keep_layer_relevance records every layer's input relevance, ending with the seed") {
  const lrp::Network net = lrp::example_cnn(9);
  const lrp::ForwardPass pass = net.forward(lrp::random_inputs(net.input_shape(), 3, 10));
  const std::vector<Index> targets{2, 5, 9};
  const lrp::Explainer ex = explainer_for(net, "epsilon_plus");
  const lrp::Explanation e = ex.explain(pass, targets, {.keep_layer_relevance = true});
  REQUIRE(e.layer_relevance.size() == static_cast<size_t>(net.size()) + 1);
  for (Index l = 0; l < net.size(); ++l) {
    CHECK(e.layer_relevance[static_cast<size_t>(l)].rows() == 3);
    CHECK(e.layer_relevance[static_cast<size_t>(l)].cols() == lrp::numel(net.layer(l).input_shape()));
  }
  Matrix seed = Matrix::Zero(3, 10);
  for (Index n = 0; n < 3; ++n)
    seed(n, targets[static_cast<size_t>(n)]) = pass.logits()(n, targets[static_cast<size_t>(n)]);
  CHECK(bit_equal(e.layer_relevance.back(), seed));
  CHECK(bit_equal(e.layer_relevance.front(), e.relevance.data));
  // Pass layers copy: the relevance at relu2's input equals that at its output.
  CHECK(bit_equal(e.layer_relevance[4], e.layer_relevance[5]));
  // Without the option, the ledger is empty and the result the same.
  const lrp::Explanation plain = ex.explain(pass, targets);
  CHECK(plain.layer_relevance.empty());
  CHECK(bit_equal(plain.relevance.data, e.relevance.data));
}

TEST_CASE("relevance is conserved layer by layer on bias-free networks under zero and zplus") {
  const double tolerance = tol(1e-5, 1e-12);
  for (const char* which : {"cnn", "mlp"}) {
    const lrp::Network net = bias_free(std::string(which) == "cnn" ? lrp::example_cnn(11) : lrp::example_mlp(11));
    const lrp::ForwardPass pass = net.forward(lrp::random_inputs(net.input_shape(), 4, 12));
    const auto targets = lrp::select_targets(pass.logits(), lrp::TargetSpec::predicted());
    // The average pooling gets the same rule (its default `norm` has a stabilizer of 1e-6).
    const std::vector<std::pair<std::string, lrp::RuleChoice>> rules{{"zero", {"zero", {}}},
                                                                     {"zplus", {"zplus", {{"stabilizer", {0.0}}}}}};
    for (const auto& [label, rule] : rules) {
      INFO(which << " with " << label);
      const lrp::Composite composite = lrp::Composite::uniform(rule).by_kind("avgpool2d", rule);
      const lrp::Explainer ex = lrp::Explainer::from_composite(net, builtins(), composite);
      const lrp::Explanation e = ex.explain(pass, targets, {.keep_layer_relevance = true});
      for (Index n = 0; n < 4; ++n) {
        const double seed = static_cast<double>(e.seed[n]);
        for (size_t l = 0; l < e.layer_relevance.size(); ++l) {
          INFO("sample " << n << ", layer " << l);
          const double scale = std::max(std::abs(seed), row_abs_sum(e.layer_relevance[l], n));
          CHECK(std::abs(row_sum(e.layer_relevance[l], n) - seed) <= tolerance * scale);
        }
      }
    }
  }
}

// ---------------------------------------------------------------- seeds and targets

TEST_CASE("the logit seed is the one-hot seed scaled by the target logit") {
  const lrp::Network net = lrp::example_cnn(13);
  const lrp::ForwardPass pass = net.forward(lrp::random_inputs(net.input_shape(), 3, 14));
  const std::vector<Index> targets{0, 4, 7};
  for (const std::string& preset : preset_names()) {
    INFO(preset);
    const lrp::Explainer ex = explainer_for(net, preset, preset_params(preset));
    const lrp::Explanation logit = ex.explain(pass, targets, {.seed = lrp::SeedKind::kLogit});
    const lrp::Explanation one_hot = ex.explain(pass, targets, {.seed = lrp::SeedKind::kOneHot});
    for (Index n = 0; n < 3; ++n) {
      const Scalar f = pass.logits()(n, targets[static_cast<size_t>(n)]);
      CHECK(logit.seed[n] == f);
      CHECK(one_hot.seed[n] == Scalar(1));
      // Every rule is linear in the relevance it receives.
      CHECK(relative_error(Matrix(logit.relevance.data.row(n)), Matrix(f * one_hot.relevance.data.row(n))) <=
            tol(1e-5, 1e-12));
    }
  }
}

TEST_CASE("targets are the predicted class, a fixed class or the label, and out-of-range ones are errors") {
  Matrix logits(4, 3);
  logits << 0.1, 0.7, -0.2,  //
      2.0, -1.0, 1.5,        //
      -3.0, -2.0, -2.5,      //
      0.0, 0.25, 0.5;
  CHECK(lrp::select_targets(logits, lrp::TargetSpec::predicted()) == std::vector<Index>{1, 0, 1, 2});
  CHECK(lrp::select_targets(logits, lrp::TargetSpec::fixed(2)) == std::vector<Index>{2, 2, 2, 2});
  const std::vector<Index> labels{2, 1, 0, 0};
  CHECK(lrp::select_targets(logits, lrp::TargetSpec::label(), &labels) == labels);

  REQUIRE_THROWS_WITH(lrp::select_targets(logits, lrp::TargetSpec::fixed(3)),
                      Catch::Contains("class 3") && Catch::Contains("out of range [0, 3)"));
  REQUIRE_THROWS_AS(lrp::select_targets(logits, lrp::TargetSpec::fixed(-1)), lrp::Error);
  const std::vector<Index> bad_label{0, 1, 3, 0}, negative_label{0, -1, 0, 0}, short_labels{0, 1};
  REQUIRE_THROWS_WITH(lrp::select_targets(logits, lrp::TargetSpec::label(), &bad_label),
                      Catch::Contains("sample 2") && Catch::Contains("out of range"));
  REQUIRE_THROWS_AS(lrp::select_targets(logits, lrp::TargetSpec::label(), &negative_label), lrp::Error);
  REQUIRE_THROWS_WITH(lrp::select_targets(logits, lrp::TargetSpec::label(), &short_labels),
                      Catch::Contains("one label per sample"));
  REQUIRE_THROWS_WITH(lrp::select_targets(logits, lrp::TargetSpec::label()), Catch::Contains("one label per sample"));

  // explain() checks the targets it is given too.
  const lrp::Network net = lrp::example_mlp(1);
  const lrp::ForwardPass pass = net.forward(lrp::random_inputs(net.input_shape(), 2, 1));
  const lrp::Explainer ex = explainer_for(net, "epsilon_plus");
  REQUIRE_THROWS_WITH(ex.explain(pass, {0, 10}), Catch::Contains("target 10") && Catch::Contains("out of range"));
  REQUIRE_THROWS_WITH(ex.explain(pass, {0}), Catch::Contains("1 targets for 2 samples"));
  // The explained class is the one asked for: the seed sits at that logit.
  const lrp::Explanation e = ex.explain(pass, {3, 8}, {.keep_layer_relevance = true});
  CHECK(e.targets == std::vector<Index>{3, 8});
  CHECK(e.layer_relevance.back()(0, 3) == pass.logits()(0, 3));
  CHECK(e.layer_relevance.back()(1, 8) == pass.logits()(1, 8));
  CHECK(e.layer_relevance.back().cwiseAbs().sum() == std::abs(pass.logits()(0, 3)) + std::abs(pass.logits()(1, 8)));
}

// ---------------------------------------------------------------- gradient and LRP-0

TEST_CASE("the gradient baseline matches central finite differences of the target logit") {
  SECTION("a smooth network, in either precision") {
    const lrp::Network net = smooth_network(15);
    const lrp::Tensor x = lrp::random_inputs(net.input_shape(), 3, 16, -1.0, 1.0);
    const lrp::ForwardPass pass = net.forward(x);
    const std::vector<Index> targets{0, 2, 1};
    const lrp::Explanation g = lrp::explain_gradient(net, builtins(), pass, targets, false);
    const lrp::Explanation gx = lrp::explain_gradient(net, builtins(), pass, targets, true);
    for (Index n = 0; n < 3; ++n) {
      INFO("sample " << n);
      CHECK(g.seed[n] == Scalar(1));
      const Eigen::VectorXd fd =
          logit_gradient_by_differences(net, x.data, n, targets[static_cast<size_t>(n)], tol(1e-2, 1e-6));
      CHECK(relative_error(Matrix(g.relevance.data.row(n)), Eigen::MatrixXd(fd.transpose())) <= tol(2e-3, 1e-8));
      CHECK(relative_error(Matrix(gx.relevance.data.row(n)),
                           Matrix(g.relevance.data.row(n).cwiseProduct(x.data.row(n)))) == 0.0);
    }
  }
  SECTION("the example CNN and MLP (ReLU, max pooling), float64 only") {
    if (!kFloat64) {
      SUCCEED("finite differences across ReLU kinks need float64");
      return;
    }
    for (const lrp::Network& each : example_networks(17)) {
      const lrp::Network* net = &each;
      const lrp::Tensor x = lrp::random_inputs(net->input_shape(), 2, 18);
      const lrp::ForwardPass pass = net->forward(x);
      const auto targets = lrp::select_targets(pass.logits(), lrp::TargetSpec::predicted());
      const lrp::Explanation g = lrp::explain_gradient(*net, builtins(), pass, targets, false);
      for (Index n = 0; n < 2; ++n) {
        const Eigen::VectorXd fd =
            logit_gradient_by_differences(*net, x.data, n, targets[static_cast<size_t>(n)], 1e-6);
        CHECK(relative_error(Matrix(g.relevance.data.row(n)), Eigen::MatrixXd(fd.transpose())) <= 1e-7);
      }
    }
  }
}

TEST_CASE("LRP-0 on a bias-free ReLU network equals gradient times input") {
  for (const char* which : {"cnn", "mlp"}) {
    INFO(which);
    const lrp::Network net = bias_free(std::string(which) == "cnn" ? lrp::example_cnn(19) : lrp::example_mlp(19));
    const lrp::ForwardPass pass = net.forward(lrp::random_inputs(net.input_shape(), 3, 20));
    const auto targets = lrp::select_targets(pass.logits(), lrp::TargetSpec::predicted());
    // Max pooling keeps its winner-take-all default; average pooling gets LRP-0 like the rest.
    const lrp::Explainer ex = lrp::Explainer::from_composite(
        net, builtins(), lrp::Composite::uniform({"zero", {}}).by_kind("avgpool2d", {"zero", {}}));
    const lrp::Explanation lrp0 = ex.explain(pass, targets);
    const lrp::Explanation gxi = lrp::explain_gradient(net, builtins(), pass, targets, true);
    CHECK(relative_error(lrp0.relevance.data, gxi.relevance.data) <= tol(1e-4, 1e-10));
    // and both sum to the logit (a bias-free ReLU network is positively homogeneous).
    for (Index n = 0; n < 3; ++n)
      CHECK(std::abs(row_sum(gxi.relevance.data, n) - static_cast<double>(lrp0.seed[n])) <=
            tol(1e-4, 1e-10) * row_abs_sum(gxi.relevance.data, n));
  }
}

// ---------------------------------------------------------------- the example networks

TEST_CASE("the example networks explained with every preset give finite relevance of the right shape") {
  for (const lrp::Network& each : example_networks(21)) {
    const lrp::Network* net = &each;
    const lrp::Tensor x = lrp::random_inputs(net->input_shape(), 4, 22);
    const lrp::ForwardPass pass = net->forward(x);
    const auto targets = lrp::select_targets(pass.logits(), lrp::TargetSpec::predicted());
    for (const std::string& preset : preset_names()) {
      INFO(preset);
      const lrp::Explainer ex = explainer_for(*net, preset, preset_params(preset));
      const lrp::Explanation e = ex.explain(pass, targets);
      CHECK(e.relevance.shape == net->input_shape());
      CHECK(e.relevance.data.rows() == 4);
      CHECK(e.relevance.data.allFinite());
      CHECK(e.layer_rules.size() == static_cast<size_t>(net->size()));
      CHECK(e.targets == targets);
      // Something reaches the input.
      CHECK(e.relevance.data.cwiseAbs().sum() > 0);
    }
  }
}

TEST_CASE("conservative presets bring the seed down to the input on bias-free example networks") {
  // Bias-free, inputs in [0, 1]: flat, zbox, zplus, gamma, wta and norm conserve exactly; only the
  // stabilizers of epsilon (1e-6) and norm absorb a little. The alpha-beta presets are left out
  // (β > 0 creates relevance where z⁻ = 0).
  for (const char* which : {"cnn", "mlp"}) {
    const lrp::Network net = bias_free(std::string(which) == "cnn" ? lrp::example_cnn(23) : lrp::example_mlp(23));
    const lrp::ForwardPass pass = net.forward(lrp::random_inputs(net.input_shape(), 4, 24));
    const auto targets = lrp::select_targets(pass.logits(), lrp::TargetSpec::predicted());
    for (const std::string preset : {"epsilon_gamma_box", "epsilon_plus", "epsilon_plus_flat"}) {
      INFO(which << " with " << preset);
      const lrp::Explanation e = explainer_for(net, preset, preset_params(preset)).explain(pass, targets);
      for (Index n = 0; n < 4; ++n) {
        INFO("sample " << n << ": input sum " << row_sum(e.relevance.data, n) << ", seed " << e.seed[n]);
        CHECK(std::abs(row_sum(e.relevance.data, n) - static_cast<double>(e.seed[n])) <= 1e-4 * std::abs(e.seed[n]));
      }
    }
  }
}
