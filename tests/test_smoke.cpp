#include "lrp/examples.hpp"
#include "lrp/explain.hpp"

#include <catch2/catch.hpp>

TEST_CASE("the example CNN runs forward and explains with epsilon_gamma_box") {
  lrp::Registry registry;
  lrp::register_builtins(registry);
  lrp::Network net = lrp::example_cnn(1);
  const lrp::ForwardPass pass = net.forward(lrp::random_inputs(net.input_shape(), 4, 3));
  const auto targets = lrp::select_targets(pass.logits(), lrp::TargetSpec::predicted());
  const lrp::Explainer ex = lrp::Explainer::from_composite(
      net, registry, registry.make_preset("epsilon_gamma_box", {{"low", {0.0}}, {"high", {1.0}}}));
  const lrp::Explanation e = ex.explain(pass, targets);
  REQUIRE(e.relevance.data.rows() == 4);
  REQUIRE(e.relevance.data.allFinite());
}
