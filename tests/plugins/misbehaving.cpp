// Test plugins that misbehave, selected by LRP_TEST_MISBEHAVIOUR at compile time:
//   1: registers a rule, then throws during registration (nothing it added may stay)
//   2: registers a rule whose factory throws, and a layer kind whose factory throws
//   3: registers explanation methods that misbehave: a factory that throws, explain() that throws,
//      relevance of the wrong shape, and relevance of the right shape with a NaN per sample
//      (and fails_on_one_rank, for the MPI tests)
//   4: registers a method with the name of a built-in preset (the load must fail)
//   5: registers a rule whose propagate() throws something that is not a std::exception
#include "lrp/registry/plugin.hpp"

#include <cmath>
#include <cstdlib>
#include <string>
#include <limits>
#include <memory>
#include <stdexcept>

namespace {

[[maybe_unused]] lrp::RuleInfo gradient_like(const char* name, std::function<lrp::RulePtr(const lrp::ParamMap&)> factory) {
  lrp::RuleInfo info;
  info.name = name;
  info.doc = "test rule";
  info.factory = std::move(factory);
  return info;
}

// A method whose explain() is `fn`.
template <typename Fn>
class TestMethod final : public lrp::ExplanationMethod {
 public:
  explicit TestMethod(Fn fn) : fn_(std::move(fn)) {}
  lrp::Tensor explain(const lrp::MethodBatch& b) const override { return fn_(b); }

 private:
  Fn fn_;
};

template <typename Fn>
lrp::MethodInfo test_method(const char* name, Fn fn) {
  lrp::MethodInfo info;
  info.name = name;
  info.doc = "test method";
  info.factory = [fn](const lrp::ParamMap&, const lrp::MethodSetup&) -> lrp::MethodPtr {
    return std::make_shared<const TestMethod<Fn>>(fn);
  };
  return info;
}

void register_misbehaving(lrp::Registry& registry) {
#if LRP_TEST_MISBEHAVIOUR == 3
  lrp::MethodInfo throwing = test_method("throwing_method_factory", [](const lrp::MethodBatch& b) { return b.x; });
  throwing.factory = [](const lrp::ParamMap&, const lrp::MethodSetup&) -> lrp::MethodPtr {
    throw std::runtime_error("method factory boom");
  };
  registry.add_method(std::move(throwing));
  registry.add_method(test_method("throwing_explain", [](const lrp::MethodBatch&) -> lrp::Tensor {
    throw std::runtime_error("explain boom");
  }));
  registry.add_method(test_method("wrong_shape", [](const lrp::MethodBatch& b) {
    return lrp::Tensor(b.x.batch() + 1, b.x.shape);  // one row too many
  }));
  registry.add_method(test_method("nan_relevance", [](const lrp::MethodBatch& b) {
    lrp::Tensor r(b.x.batch(), b.x.shape);
    r.data.setOnes();
    r.data.col(0).setConstant(std::numeric_limits<lrp::Scalar>::quiet_NaN());  // one NaN per sample
    return r;
  }));
  // Fails in an MPI run on the rank LRP_TEST_FAIL_RANK names (Open MPI tells each process its rank).
  registry.add_method(test_method("fails_on_one_rank", [](const lrp::MethodBatch& b) {
    const char* fail = std::getenv("LRP_TEST_FAIL_RANK");
    const char* rank = std::getenv("OMPI_COMM_WORLD_RANK");
    if (fail != nullptr && rank != nullptr && std::string(fail) == rank)
      throw std::runtime_error(std::string("failing on rank ") + rank + " as asked");
    return b.x;
  }));
#elif LRP_TEST_MISBEHAVIOUR == 5
  struct ThrowingRule final : lrp::Rule {
    std::string incompatibility(const lrp::Layer&) const override { return ""; }
    void propagate(const lrp::LayerContext&, const lrp::RuleState*, const lrp::ConstMatrixRef&, lrp::MatrixRef,
                   lrp::Workspace&) const override {
      throw 42;  // not a std::exception
    }
  };
  registry.add_rule(gradient_like("throws_int", [](const lrp::ParamMap&) -> lrp::RulePtr {
    return std::make_unique<ThrowingRule>();
  }));
#elif LRP_TEST_MISBEHAVIOUR == 4
  registry.add_method(test_method("epsilon_plus", [](const lrp::MethodBatch& b) { return b.x; }));
#elif LRP_TEST_MISBEHAVIOUR == 1
  registry.add_rule(gradient_like("half_registered", [](const lrp::ParamMap&) -> lrp::RulePtr { return nullptr; }));
  throw std::runtime_error("registration boom");
#else
  registry.add_rule(gradient_like("throwing_factory", [](const lrp::ParamMap&) -> lrp::RulePtr {
    throw std::runtime_error("factory boom");
  }));
  lrp::LayerInfo layer;
  layer.kind = "throwing_layer";
  layer.doc = "test layer";
  layer.factory = [](const lrp::ParamMap&) -> lrp::LayerPtr { throw 7; };
  registry.add_layer(std::move(layer));
#endif
}

}  // namespace

LRP_PLUGIN("misbehaving", register_misbehaving)
