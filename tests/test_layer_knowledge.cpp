// What a layer kind knows about itself, through the generic loops that use it: canonization folds
// any layer that declares a per-channel affine map into any layer that absorbs one (a layer defined
// here, unknown to the framework, takes part), the stored arrays of the built-in kinds carry
// PyTorch's names and shapes, and initialization follows each kind's own convention.
#include "test_util.hpp"

#include "lrp/core/random.hpp"
#include "lrp/nn/model.hpp"
#include "lrp/propagation/canonize.hpp"

#include <catch2/catch.hpp>

using namespace lrp_test;

namespace {

// y_c = s_c · x_c + t_c on a flat input: a layer canonization should fold like a batch norm.
class ChannelScale final : public lrp::Layer {
 public:
  ChannelScale(Vector s, Vector t) : s_(std::move(s)), t_(std::move(t)) {}
  std::string kind() const override { return "channel_scale"; }
  lrp::LayerTraits traits() const override { return {.elementwise = true}; }
  std::string describe() const override { return "channel_scale"; }
  void forward(const lrp::ConstMatrixRef& x, const lrp::Params&, lrp::MatrixRef y, lrp::Workspace&) const override {
    for (Index r = 0; r < x.rows(); ++r)
      for (Index c = 0; c < x.cols(); ++c) y(r, c) = s_[c] * x(r, c) + t_[c];
  }
  void vjp(const lrp::ConstMatrixRef&, const lrp::Params&, const lrp::ConstMatrixRef& g_out, lrp::MatrixRef g_in,
           lrp::Workspace&, bool) const override {
    g_in = g_out * s_.asDiagonal();
  }
  std::optional<lrp::ChannelAffine> foldable_affine() const override { return lrp::ChannelAffine{s_, t_}; }

 protected:
  Shape setup(const Shape& in) override { return in; }

 private:
  Vector s_, t_;
};

}  // namespace

TEST_CASE("canonization folds a layer unknown to the framework that declares a per-channel affine map",
          "[canonize]") {
  lrp::Network net({3});
  lrp::Layer& fc = net.add(std::make_unique<lrp::Dense>(3, 2, false), "fc");
  lrp::Params p;
  p.weight = Matrix(2, 3);
  p.weight << 1, -2, 3, 0.5, 4, -1;
  fc.set_params(p);
  Vector s(2), t(2);
  s << 2, -0.5;
  t << 1, 3;
  net.add(std::make_unique<ChannelScale>(s, t), "scale");
  Matrix x(2, 3);
  x << 1, 2, 3, -1, 0.5, 2;
  const Matrix before = net.forward(lrp::Tensor({3}, x)).logits();

  const lrp::CanonizeReport report = lrp::canonize_batch_norm(net);
  REQUIRE(report.merged == std::vector<std::string>{"scale -> fc"});
  CHECK(report.left.empty());
  CHECK(net.layer(1).kind() == "identity");
  CHECK(net.layer(1).name() == "scale");
  const lrp::Params& merged = net.layer(0).params();
  // By hand: W' row c = s_c · W row c, b' = s ⊙ 0 + t.
  Matrix want(2, 3);
  want << 2, -4, 6, -0.25, -2, 0.5;
  CHECK(merged.weight == want);
  REQUIRE(merged.has_bias());
  CHECK(merged.bias == t);
  CHECK(relative_error(net.forward(lrp::Tensor({3}, x)).logits(), before) < tol(1e-6, 1e-14));
}

TEST_CASE("a foldable layer after a layer that absorbs nothing is left for the pass rule", "[canonize]") {
  lrp::Network net({2});
  net.add(lrp::make_relu(), "relu");
  net.add(std::make_unique<ChannelScale>(Vector::Ones(2), Vector::Zero(2)), "scale");
  const lrp::CanonizeReport report = lrp::canonize_batch_norm(net);
  CHECK(report.merged.empty());
  CHECK(report.left == std::vector<std::string>{"scale"});
  CHECK(net.layer(1).kind() == "channel_scale");
}

TEST_CASE("the built-in kinds store their arrays under PyTorch's names and shapes", "[model_file]") {
  using Home = lrp::StoredArray::Home;
  lrp::Network net({2, 6, 6});
  net.add(std::make_unique<lrp::Conv2d>(2, 4, lrp::Conv2dOptions{.kernel = {3, 2}, .groups = 2}), "conv");
  auto& bn = net.add_as(std::make_unique<lrp::BatchNorm>(4), "bn");
  net.add(std::make_unique<lrp::AvgPool2d>(lrp::Pool2dOptions{.kernel = {2, 2}}), "pool");
  net.add(std::make_unique<lrp::Flatten>(), "flat");
  net.add(std::make_unique<lrp::Dense>(4 * 2 * 2, 3, false), "fc");

  const std::vector<lrp::StoredArray> conv = net.layer(0).stored_arrays();
  REQUIRE(conv.size() == 2);
  CHECK(conv[0].name == "weight");
  CHECK(conv[0].shape == Shape{4, 1, 3, 2});
  CHECK(conv[1].name == "bias");
  CHECK(conv[1].shape == Shape{4});
  CHECK(conv[1].home == Home::kBias);

  const std::vector<lrp::StoredArray> norm = bn.stored_arrays();
  REQUIRE(norm.size() == 4);
  CHECK(norm[0].shape == Shape{4});
  CHECK(norm[2].name == "running_mean");
  CHECK(norm[2].home == Home::kBuffer);
  CHECK(norm[2].buffer == 0);
  CHECK(norm[3].name == "running_var");
  CHECK(norm[3].buffer == 1);
  CHECK(norm[3].non_negative == "a variance");
  Vector mean(4), var(4);
  mean << 1, 2, 3, 4;
  var << 0.5, 1, 1.5, 2;
  bn.set_buffers({mean, var});
  CHECK(bn.running_mean() == mean);
  CHECK(bn.buffers().at(1) == var);
  REQUIRE_THROWS_WITH(bn.set_buffers({mean}), Catch::Contains("expected 2"));

  CHECK(net.layer(2).stored_arrays().empty());  // average pooling's kernel is implicit
  CHECK(net.layer(3).stored_arrays().empty());
  const std::vector<lrp::StoredArray> fc = net.layer(4).stored_arrays();
  REQUIRE(fc.size() == 1);
  CHECK(fc[0].shape == Shape{3, 16});
  REQUIRE_THROWS_WITH(net.layer(4).set_buffers({mean}), Catch::Contains("keeps no buffers"));

  lrp::Lstm lstm(3, 2, 2, true, true);
  const std::vector<lrp::StoredArray> blocks = lstm.stored_arrays();
  REQUIRE(blocks.size() == 16);  // 2 layers × 2 directions × (weight_ih, weight_hh, bias_ih, bias_hh)
  CHECK(blocks[0].name == "weight_ih_l0");
  CHECK(blocks[0].shape == Shape{8, 3});
  CHECK(blocks[4].name == "weight_ih_l0_reverse");
  CHECK(blocks[8].name == "weight_ih_l1");
  CHECK(blocks[8].shape == Shape{8, 4});  // layer 1 reads both directions of layer 0
  CHECK(blocks[2].home == Home::kBias);
  CHECK(lstm.storage_note().find("num_layers = 2, bidirectional = 1, bias = 1") != std::string::npos);
}

TEST_CASE("initialization draws each kind's own convention from one stream", "[init]") {
  lrp::Network net({2, 4, 4});
  net.add(std::make_unique<lrp::Conv2d>(2, 6, lrp::Conv2dOptions{.kernel = {3, 3}, .groups = 2}), "conv");
  auto& bn = net.add_as(std::make_unique<lrp::BatchNorm>(6), "bn");
  net.add(std::make_unique<lrp::Flatten>(), "flat");
  net.add(std::make_unique<lrp::Dense>(6 * 2 * 2, 5), "fc");
  bn.set_statistics(Vector::Constant(6, 3), Vector::Constant(6, 2));
  lrp::initialize_parameters(net, lrp::InitScheme::kGlorotUniform, 11);

  // The oracle: the same stream drawn here by the formulas, conv first (fans of PyTorch:
  // in/groups·kh·kw = 9, out/groups·kh·kw = 27), then the dense layer (fans 24 and 5).
  std::mt19937_64 rng(11);
  auto uniform = [&](double fan_in, double fan_out) {
    const double a = std::sqrt(6.0 / (fan_in + fan_out));
    return static_cast<Scalar>(a * (2.0 * lrp::uniform01(rng) - 1.0));
  };
  const Matrix& conv = net.layer(0).params().weight;
  for (Index i = 0; i < conv.size(); ++i) CHECK(conv.data()[i] == Approx(uniform(9, 27)).epsilon(1e-6));
  CHECK(net.layer(0).params().bias.isZero());
  CHECK(bn.params().weight.isOnes());
  CHECK(bn.params().bias.isZero());
  CHECK(bn.running_mean().isZero());
  CHECK(bn.running_var().isOnes());
  const Matrix& fc = net.layer(3).params().weight;
  for (Index i = 0; i < fc.size(); ++i) CHECK(fc.data()[i] == Approx(uniform(24, 5)).epsilon(1e-6));
}
