// A residual network against Zennit: tests/fixtures/make_resnet_fixtures.py builds a small ResNet from
// torchvision's BasicBlock (an identity shortcut and a stride-2 1x1-conv shortcut), trains it briefly on
// Fashion-MNIST, exports it to ONNX in float64 and computes with Zennit 0.5.1 and its ResNetCanonizer (the residual
// sum through Zennit's Sum module, which the composites give Norm) the relevance of 16 real test images for three
// presets, an epsilon composite and the gradient. lrplab imports the ONNX graph and explains it.
#include "fixture_rows.hpp"
#include "test_util.hpp"

#include "lrp/io/hdf5.hpp"
#include "lrp/io/onnx.hpp"
#include "lrp/nn/model.hpp"
#include "lrp/propagation/explain.hpp"

#include <catch2/catch.hpp>

#include <map>
#include <string>

using namespace lrp_test;
using lrp::Index;

namespace {

const std::string kDir = std::string(LRP_TEST_FIXTURES) + "/resnet";

struct Reference {
  Eigen::MatrixXd inputs, logits;
  std::vector<Index> targets;
  std::map<std::string, Eigen::MatrixXd> relevance;
};

Reference read_reference() {
  const lrp::h5::File f = lrp::h5::File::open(kDir + "/resnet_zennit.h5");
  Reference r;
  for (const std::int64_t t : f.read<std::int64_t>("targets")) r.targets.push_back(static_cast<Index>(t));
  const auto n = static_cast<Index>(r.targets.size());
  r.inputs = read_rows(f, "inputs", n);
  r.logits = read_rows(f, "logits", n);
  for (const char* name : {"epsilon_gamma_box", "epsilon_plus_flat", "epsilon_alpha2_beta1", "epsilon", "gradient"})
    r.relevance[name] = read_rows(f, std::string("relevance_") + name, n);
  return r;
}

}  // namespace

TEST_CASE("A torchvision ResNet imported from ONNX gives torch's logits and Zennit's relevance", "[graph][zennit][real]") {
  const Reference ref = read_reference();
  const lrp::Model model = lrp::import_onnx(kDir + "/resnet_basic.onnx", builtins());
  const lrp::Network& net = model.network;
  REQUIRE_FALSE(net.is_chain());
  Index adds = 0;
  for (Index l = 0; l < net.size(); ++l) adds += net.layer(l).kind() == "add" ? 1 : 0;
  CHECK(adds == 2);
  // The stride-2 block's shortcut (its 1x1 conv) reads the first block's output, as its main path does.
  const Index second_add = net.index_of("layer2");  // named after its node, /layer2/Add
  const std::vector<Index>& summands = net.inputs_of(second_add);
  REQUIRE(summands.size() == 2);
  CHECK(net.layer(summands[0] - 1).kind() == "conv2d");
  CHECK(net.layer(summands[1] - 1).kind() == "conv2d");
  CHECK(net.inputs_of(summands[0] - 1) != net.inputs_of(summands[1] - 1));

  const lrp::ForwardPass pass = net.forward(lrp::Tensor({1, 28, 28}, ref.inputs.cast<Scalar>()), 2);
  CHECK(worst_relative(pass.logits(), ref.logits) <= tol(1e-5, 1e-12));
  for (const std::string preset : {"epsilon_gamma_box", "epsilon_plus_flat", "epsilon_alpha2_beta1"}) {
    INFO(preset);
    const lrp::ParamMap params = preset == "epsilon_gamma_box" ? lrp::ParamMap{{"low", {0.0}}, {"high", {1.0}}}
                                                               : lrp::ParamMap{};
    const lrp::Explanation e = explainer_for(net, preset, params).explain(pass, ref.targets, {.threads = 2});
    const double worst = worst_relative(e.relevance.data, ref.relevance.at(preset));
    INFO("worst relative difference " << worst);
    CHECK(worst <= tol(1e-4, 1e-10));
  }
  const lrp::Explainer epsilon =
      lrp::Explainer::from_composite(net, builtins(), lrp::Composite::uniform({"epsilon", {{"epsilon", {0.1}}}}));
  CHECK(worst_relative(epsilon.explain(pass, ref.targets).relevance.data, ref.relevance.at("epsilon")) <=
        tol(1e-4, 1e-10));
  const lrp::Explanation g = lrp::explain_gradient(net, builtins(), pass, ref.targets, false, 2);
  CHECK(worst_relative(g.relevance.data, ref.relevance.at("gradient")) <= tol(1e-4, 1e-10));
}
