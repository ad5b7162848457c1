// Graph networks: layers that read any earlier layer's output, the add and concat layers, and the
// forward pass, gradients, parameter gradients, LRP and the ledger on them, each against formulas
// written out here with Eigen (never the handlers' forward or vjp), plus the model description's
// `inputs:` and its errors.
#include "test_util.hpp"

#include "lrp/eval/metrics.hpp"
#include "lrp/io/model_file.hpp"
#include "lrp/io/model_yaml.hpp"
#include "lrp/io/yaml_util.hpp"
#include "lrp/nn/layers.hpp"
#include "lrp/nn/model.hpp"
#include "lrp/propagation/canonize.hpp"
#include "lrp/propagation/explain.hpp"
#include "lrp/train/train.hpp"

#include "temp_dir.hpp"

#include <catch2/catch.hpp>

#include <cmath>

using namespace lrp_test;
using Catch::Matchers::Contains;
using lrp::Index;
using DMat = Eigen::MatrixXd;
using DVec = Eigen::VectorXd;

namespace {

// input [6] -> fc1 -> act1 -> fc2 -> sum = fc2 + input -> act2 -> fc_a (3) -> cat [5] -> out (3), and
// act1 -> fc_b (2) -> cat: act1 is read twice (fc2 and fc_b), the input twice (fc1 and the sum).
lrp::Network residual_net(bool smooth, bool bias, std::uint64_t seed) {
  auto act = [&] { return smooth ? lrp::make_tanh() : lrp::make_relu(); };
  lrp::Network net({6});
  net.add(std::make_unique<lrp::Dense>(6, 6, bias), "fc1");
  net.add(act(), "act1");
  net.add(std::make_unique<lrp::Dense>(6, 6, bias), "fc2");
  net.add(std::make_unique<lrp::Add>(), "sum", {"fc2", "input"});
  net.add(act(), "act2");
  net.add(std::make_unique<lrp::Dense>(6, 3, bias), "fc_a");
  net.add(std::make_unique<lrp::Dense>(6, 2, bias), "fc_b", {"act1"});
  net.add(std::make_unique<lrp::Concat>(), "cat", {"fc_a", "fc_b"});
  net.add(std::make_unique<lrp::Dense>(5, 3, bias), "out");
  lrp::randomize_parameters(net, seed);
  return net;
}

struct Weights {
  DMat W1, W2, Wa, Wb, Wo;
  DVec b1, b2, ba, bb, bo;
};

Weights weights_of(const lrp::Network& net) {
  auto w = [&](const char* name) { return net.layer(net.index_of(name)).params().weight.cast<double>().eval(); };
  auto b = [&](const char* name) {
    const lrp::Params& p = net.layer(net.index_of(name)).params();
    return p.has_bias() ? DVec(p.bias.cast<double>()) : DVec(DVec::Zero(p.weight.rows()));
  };
  return {w("fc1"), w("fc2"), w("fc_a"), w("fc_b"), w("out"), b("fc1"), b("fc2"), b("fc_a"), b("fc_b"), b("out")};
}

// The graph's values for one sample, written out.
struct Values {
  DVec x, z1, h1, z2, s, h2, za, zb, c, y;
};

Values literal_forward(const Weights& w, const DVec& x, bool smooth) {
  auto act = [&](const DVec& v) -> DVec {
    return smooth ? DVec(v.array().tanh()) : DVec(v.cwiseMax(0.0));
  };
  Values v;
  v.x = x;
  v.z1 = w.W1 * x + w.b1;
  v.h1 = act(v.z1);
  v.z2 = w.W2 * v.h1 + w.b2;
  v.s = v.z2 + x;
  v.h2 = act(v.s);
  v.za = w.Wa * v.h2 + w.ba;
  v.zb = w.Wb * v.h1 + w.bb;
  v.c.resize(5);
  v.c << v.za, v.zb;
  v.y = w.Wo * v.c + w.bo;
  return v;
}

double max_abs(const DMat& m) { return m.cwiseAbs().maxCoeff(); }

}  // namespace

TEST_CASE("A graph network computes residual sums and concatenated branches as written out", "[graph]") {
  for (const bool smooth : {false, true}) {
    INFO("smooth " << smooth);
    const lrp::Network net = residual_net(smooth, true, 11);
    CHECK_FALSE(net.is_chain());
    CHECK(net.inputs_of(net.index_of("sum")) == std::vector<Index>{3, 0});
    CHECK(net.consumers_of(0) == std::vector<Index>{0, 3});   // fc1 and the sum read the input
    CHECK(net.consumers_of(2) == std::vector<Index>{2, 6});   // act1: fc2 and fc_b
    CHECK(net.layer(net.index_of("sum")).input_shape() == Shape{2, 6});
    CHECK(net.layer(net.index_of("cat")).output_shape() == Shape{5});
    const lrp::Tensor x = lrp::random_inputs({6}, 4, 12);
    const lrp::ForwardPass pass = net.forward(x, 2);
    const Weights w = weights_of(net);
    for (Index n = 0; n < 4; ++n) {
      const Values v = literal_forward(w, x.data.row(n).cast<double>().transpose(), smooth);
      CHECK((pass.logits().row(n).cast<double>().transpose() - v.y).cwiseAbs().maxCoeff() <=
            tol(1e-5, 1e-13) * (1 + max_abs(v.y)));
      // The add layer's stacked input holds [fc2 | input], the concat's [fc_a | fc_b].
      const DVec stacked = pass.layer_input(net.index_of("sum")).row(n).cast<double>().transpose();
      CHECK((stacked.head(6) - v.z2).cwiseAbs().maxCoeff() <= tol(1e-5, 1e-13) * (1 + max_abs(v.z2)));
      CHECK((stacked.tail(6) - v.x).cwiseAbs().maxCoeff() == 0.0);
    }
  }
}

TEST_CASE("The input gradient of a graph sums what the layers reading a value send back", "[graph]") {
  // tanh everywhere: the Jacobian is a product of matrices, written out per sample.
  const lrp::Network net = residual_net(true, true, 21);
  const lrp::Tensor x = lrp::random_inputs({6}, 5, 22);
  const lrp::ForwardPass pass = net.forward(x);
  const std::vector<Index> targets{0, 1, 2, 1, 0};
  const lrp::Explanation g = lrp::explain_gradient(net, builtins(), pass, targets, false, 2);
  const Weights w = weights_of(net);
  for (Index n = 0; n < 5; ++n) {
    const Values v = literal_forward(w, x.data.row(n).cast<double>().transpose(), true);
    const DVec d1 = (1 - v.h1.array().square()).matrix(), d2 = (1 - v.h2.array().square()).matrix();
    // ∂c/∂x: the a-branch through the residual sum (W2 diag(d1) W1 + I), the b-branch through act1.
    const DMat ds = w.W2 * d1.asDiagonal() * w.W1 + DMat::Identity(6, 6);
    DMat dc(5, 6);
    dc.topRows(3) = w.Wa * d2.asDiagonal() * ds;
    dc.bottomRows(2) = w.Wb * d1.asDiagonal() * w.W1;
    const DVec want = (w.Wo * dc).row(targets[static_cast<size_t>(n)]).transpose();
    const DVec got = g.relevance.data.row(n).cast<double>().transpose();
    INFO("sample " << n);
    CHECK((got - want).cwiseAbs().maxCoeff() <= tol(1e-5, 1e-12) * (1 + max_abs(want)));
  }
}

TEST_CASE("Parameter gradients on a graph agree between the trainer and the reference walk, and with finite differences",
          "[graph]") {
  lrp::Network net = residual_net(true, true, 31);
  const lrp::Tensor x = lrp::random_inputs({6}, 8, 32);
  const std::vector<Index> labels{0, 1, 2, 0, 1, 2, 0, 1};
  std::mt19937_64 rng(1);
  const lrp::StepGradients one = lrp::training_gradients(net, x, labels, rng, 1);
  const lrp::StepGradients two = lrp::training_gradients(net, x, labels, rng, 2);
  const lrp::ForwardPass pass = net.forward(x);
  const lrp::LossAndGradient lg = lrp::SoftmaxCrossEntropy::loss_and_gradient(pass.logits(), labels);
  lrp::Workspace ws;
  const std::vector<lrp::Params> reference = lrp::parameter_gradients(net, pass, lg.gradient, ws);
  for (Index l = 0; l < net.size(); ++l) {
    INFO("layer " << net.layer(l).name());
    const auto li = static_cast<size_t>(l);
    if (!net.layer(l).trainable()) continue;
    CHECK(relative_error(one.grads[li].weight, reference[li].weight) <= tol(1e-5, 1e-12));
    CHECK(relative_error(two.grads[li].weight, reference[li].weight) <= tol(1e-5, 1e-12));
    CHECK(relative_error(Matrix(one.grads[li].bias), Matrix(reference[li].bias)) <= tol(1e-5, 1e-12));
  }
  // fc1 feeds the loss along two paths (the residual branch and fc_b): central differences of the
  // mean loss in its weights.
  if (kFloat64) {
    const Index fc1 = net.index_of("fc1");
    const lrp::Params original = net.layer(fc1).params();
    for (const Index k : {Index(0), Index(7), Index(23)}) {
      const double h = 1e-6;
      auto loss_at = [&](double delta) {
        lrp::Params p = original;
        p.weight.data()[k] += static_cast<Scalar>(delta);
        net.layer(fc1).set_params(p);
        return lrp::SoftmaxCrossEntropy::loss(net.forward(x).logits(), labels);
      };
      const double fd = (loss_at(h) - loss_at(-h)) / (2 * h);
      net.layer(fc1).set_params(original);
      CHECK(std::abs(one.grads[static_cast<size_t>(fc1)].weight.data()[k] - fd) <= 1e-7 * (1 + std::abs(fd)));
    }
  }
}

TEST_CASE("LRP on a graph: epsilon through a residual sum with norm and a concat, as written out", "[graph]") {
  const lrp::Network net = residual_net(false, true, 41);
  const lrp::Tensor x = lrp::random_inputs({6}, 6, 42);
  const lrp::ForwardPass pass = net.forward(x);
  const std::vector<Index> targets = lrp::select_targets(pass.logits(), lrp::TargetSpec::predicted());
  const double eps = 0.1;
  const lrp::Explainer ex = lrp::Explainer::from_composite(
      net, builtins(), lrp::Composite::uniform({"epsilon", {{"epsilon", {eps}}}}));
  // The kinds' defaults: norm on the sum, pass on the concat and the activations.
  CHECK(ex.layer_rules()[static_cast<size_t>(net.index_of("sum"))].rfind("norm(", 0) == 0);
  CHECK(ex.layer_rules()[static_cast<size_t>(net.index_of("cat"))].rfind("pass(", 0) == 0);
  const lrp::Explanation e = ex.explain(pass, targets, {.keep_layer_relevance = true, .threads = 2});
  const lrp::Explanation plain = ex.explain(pass, targets, {.threads = 2});
  // A pass whose sum read other values (as a chain's would) is not this network's.
  lrp::ForwardPass other = pass;
  other.reads[static_cast<size_t>(net.index_of("sum"))] = net.index_of("sum");
  REQUIRE_THROWS_WITH(ex.explain(other, targets), Contains("explain: the forward pass does not belong to this network "
                                                           "(layer 3 'sum' reads other values"));
  CHECK(bit_equal(plain.relevance.data, e.relevance.data));

  const Weights w = weights_of(net);
  auto stab = [](const DVec& z, double s) { return (z.array() + (z.array() >= 0).cast<double>() * 2 * s - s).matrix(); };
  auto epsilon = [&](const DVec& a, const DMat& W, const DVec& z, const DVec& r) -> DVec {
    return a.cwiseProduct(W.transpose() * r.cwiseQuotient(stab(z, eps)));
  };
  for (Index n = 0; n < 6; ++n) {
    INFO("sample " << n);
    const Values v = literal_forward(w, x.data.row(n).cast<double>().transpose(), false);
    DVec ry = DVec::Zero(3);
    const Index c = targets[static_cast<size_t>(n)];
    ry[c] = v.y[c];
    const DVec rc = epsilon(v.c, w.Wo, v.y, ry);
    const DVec ra = rc.head(3), rb = rc.tail(2);
    const DVec rh2 = epsilon(v.h2, w.Wa, v.za, ra);
    // norm on the sum: each summand x_k · R / stab(Σ), stabilizer 1e-6
    const DVec q = rh2.cwiseQuotient(stab(v.s, 1e-6));
    const DVec r_z2 = v.z2.cwiseProduct(q), r_skip = v.x.cwiseProduct(q);
    const DVec rh1 = epsilon(v.h1, w.W2, v.z2, r_z2) + epsilon(v.h1, w.Wb, v.zb, rb);  // act1 is read twice
    const DVec rx = epsilon(v.x, w.W1, v.z1, rh1) + r_skip;                             // so is the input
    const DVec got = e.relevance.data.row(n).cast<double>().transpose();
    CHECK((got - rx).cwiseAbs().maxCoeff() <= tol(1e-4, 1e-12) * (1 + max_abs(rx)));
    // The kept relevance of a value read twice is the sum of what both readers sent.
    const DVec kept_h1 = e.layer_relevance[2].row(n).cast<double>().transpose();  // value 2: act1's output
    CHECK((kept_h1 - rh1).cwiseAbs().maxCoeff() <= tol(1e-4, 1e-12) * (1 + max_abs(rh1)));
  }
}

TEST_CASE("LRP-0 without biases conserves relevance through add and concat, and the ledger accounts for the rest",
          "[graph]") {
  const lrp::Network net = residual_net(false, false, 51);
  lrp::Tensor x = lrp::random_inputs({6}, 8, 52);
  x.data = x.data.cwiseAbs();  // positive inputs: the residual sums do not cancel
  const lrp::ForwardPass pass = net.forward(x);
  const std::vector<Index> targets = lrp::select_targets(pass.logits(), lrp::TargetSpec::predicted());
  const lrp::Explainer ex =
      lrp::Explainer::from_composite(net, builtins(), lrp::Composite::uniform({"zero", {}}));
  const lrp::Explanation e = ex.explain(pass, targets, {.keep_layer_relevance = true});
  const lrp::ConservationResult c = lrp::conservation(net, pass, e, 2);
  for (Index n = 0; n < 8; ++n) {
    INFO("sample " << n);
    double absorbed = 0;
    for (Index l = 0; l < net.size(); ++l) absorbed += c.bias_share(n, l) + c.stabilizer_share(n, l);
    // Only the sum's stabilizer (1e-6) absorbs anything.
    CHECK(std::abs(c.input_sum[n] + absorbed - c.output_seed[n]) <= tol(1e-4, 1e-10) * std::abs(c.output_seed[n]));
    CHECK(std::abs(c.input_sum[n] - c.output_seed[n]) <= 1e-5 * std::abs(c.output_seed[n]));
    // The concat passes exactly: its output's relevance sum equals fc_a's plus fc_b's.
    const Index cat = net.index_of("cat");
    CHECK(c.layer_sums(n, cat + 1) == Approx(c.layer_sums(n, net.index_of("fc_a") + 1) +
                                             c.layer_sums(n, net.index_of("fc_b") + 1)).epsilon(1e-5));
  }
}

TEST_CASE("A model description reads inputs:, writes them back, saves and loads a graph model", "[graph][model]") {
  const std::string text = R"(name: tiny_resnet
input_shape: [2, 6, 6]
layers:
  - {kind: conv2d, name: stem, out_channels: 4, kernel: 3, padding: 1}
  - {kind: relu, name: r0}
  - {kind: conv2d, name: c1, out_channels: 4, kernel: 3, padding: 1}
  - {kind: batchnorm, name: bn1}
  - {kind: relu, name: r1}
  - {kind: conv2d, name: c2, out_channels: 4, kernel: 3, padding: 1}
  - {kind: add, name: res, inputs: [c2, r0]}
  - {kind: relu, name: r2}
  - {kind: conv2d, name: side, out_channels: 2, kernel: 1, inputs: r0}
  - {kind: concat, name: cat, inputs: [r2, side]}
  - {kind: global_avgpool, name: gap}
  - {kind: flatten}
  - {kind: dense, out: 3}
)";
  lrp::Model m = lrp::build_model(
      lrp::parse_model_spec(lrp::yaml::load_text(text, "m.yaml"), "m.yaml", &builtins()), builtins());
  CHECK(m.network.layer(m.network.index_of("cat")).output_shape() == Shape{6, 6, 6});
  CHECK(m.network.layer(m.network.index_of("side")).input_shape() == Shape{4, 6, 6});
  CHECK(m.spec.layers[8].params.scalar("in_channels", "") == 4);  // inferred from r0, not from r2
  CHECK_THAT(m.network.summary(), Contains("res  add of 2 inputs  -> [4, 6, 6]  <- c2, r0"));
  lrp::randomize_parameters(m.network, 3);
  const std::string yaml = lrp::model_spec_to_yaml(m.spec);
  CHECK_THAT(yaml, Contains("inputs: [c2, r0]"));
  const lrp::ModelSpec again = lrp::parse_model_spec(lrp::yaml::load_text(yaml, "again.yaml"), "again.yaml", &builtins());
  CHECK(again.layers[9].inputs == std::vector<std::string>{"r2", "side"});
  TempDir dir("graph_model");
  const std::string path = dir.file("tiny_resnet.h5");
  lrp::save_model(m, path);
  const lrp::Model loaded = lrp::load_model(path, builtins());
  const lrp::Tensor x = lrp::random_inputs({2, 6, 6}, 3, 4);
  CHECK(bit_equal(loaded.network.forward(x).logits(), m.network.forward(x).logits()));
  CHECK(loaded.network.summary() == m.network.summary());

  // Batch norm folds into c1 (read by bn1 alone); after it the logits are the same.
  lrp::Model folded = lrp::load_model(path, builtins());
  const lrp::CanonizeReport report = lrp::canonize_batch_norm(folded.network);
  CHECK(report.merged == std::vector<std::string>{"bn1 -> c1"});
  CHECK(relative_error(folded.network.forward(x).logits(), m.network.forward(x).logits()) <= tol(1e-5, 1e-12));
}

TEST_CASE("A batch norm reading a value other layers read too is not folded", "[graph]") {
  lrp::Network net({3});
  net.add(std::make_unique<lrp::Dense>(3, 4), "fc");
  net.add(std::make_unique<lrp::BatchNorm>(4), "bn");
  net.add(std::make_unique<lrp::Add>(), "sum", {"bn", "fc"});
  net.add(std::make_unique<lrp::Dense>(4, 2), "out");
  lrp::randomize_parameters(net, 5);
  const lrp::Tensor x = lrp::random_inputs({3}, 2, 6);
  const Matrix before = net.forward(x).logits();
  const lrp::CanonizeReport report = lrp::canonize_batch_norm(net);
  CHECK(report.merged.empty());
  CHECK(report.left == std::vector<std::string>{"bn"});
  CHECK(bit_equal(net.forward(x).logits(), before));
}

TEST_CASE("Graph descriptions that cannot be built are refused, naming the layer and its position", "[graph][errors]") {
  auto error_for = [](const std::string& layers) {
    const std::string text = "input_shape: [4]\nlayers:\n" + layers;
    return error_of([&] {
      (void)lrp::build_model(lrp::parse_model_spec(lrp::yaml::load_text(text, "g.yaml"), "g.yaml", &builtins()),
                             builtins());
    });
  };
  const std::string a = "  - {kind: dense, name: a, out: 4}\n";
  CHECK_THAT(error_for(a + "  - {kind: dense, name: b, out: 4, inputs: [nowhere]}\n"),
             Contains("g.yaml:4:5: model, layer 1 'b' (dense) reads 'nowhere', which is not an earlier layer nor 'input'"));
  CHECK_THAT(error_for(a + "  - {kind: dense, name: b, out: 4, inputs: [c]}\n  - {kind: dense, name: c, out: 4}\n"),
             Contains("layer 1 'b' (dense) reads 'c', which is not an earlier layer"));
  CHECK_THAT(error_for(a + "  - {kind: dense, name: b, out: 4, inputs: [b]}\n"),
             Contains("a layer cannot read its own output"));
  CHECK_THAT(error_for(a + "  - {kind: add, name: s, inputs: [a, a]}\n"), Contains("layer 1 's' (add) reads 'a' twice"));
  CHECK_THAT(error_for(a + "  - {kind: dense, name: b, out: 3}\n  - {kind: add, name: s, inputs: [a, b]}\n"),
             Contains("g.yaml:5:5: model, layer 2 's' (add): its inputs must have one shape, got [4], [3]"));
  CHECK_THAT(error_for(a + "  - {kind: add, name: s}\n"), Contains("'s' (add): it reads 1 value; it needs two or more"));
  CHECK_THAT(error_for(a + "  - {kind: dense, name: b, out: 4, inputs: input}\n"),
             Contains("the output of layer 0 'a' is read by no layer; a network has one output"));
  CHECK_THAT(error_for("  - {kind: dense, name: input, out: 4}\n"), Contains("a layer may not be called 'input'"));
  CHECK_THAT(error_for(a + "  - {kind: dense, name: b, out: 4, inputs: []}\n"),
             Contains("g.yaml:4:44: layers[1].inputs must be a layer name or a non-empty list"));
}
