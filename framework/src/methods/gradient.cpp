// The gradient, sensitivity and gradient × input as registry entries: one backward pass of
// Explainer::gradient (explain_gradient) per batch.
#include "method_support.hpp"

namespace lrp {

using namespace methods_detail;

namespace {

enum class GradientForm { kGradient, kSquared, kTimesInput };

MethodInfo gradient_method(const char* name, const char* doc, GradientForm form) {
  MethodInfo info;
  info.name = name;
  info.doc = doc;
  info.factory = [form](const ParamMap&, const MethodSetup&) {
    return baseline([form](const MethodBatch& b) {
      Tensor r = explain_gradient(b.network, b.registry, b.pass, b.targets, form == GradientForm::kTimesInput, b.threads)
                     .relevance;
      if (form == GradientForm::kSquared) r.data = r.data.array().square().matrix();
      return r;
    });
  };
  return info;
}

}  // namespace

void register_method_gradients(Registry& registry) {
  registry.add_method(gradient_method("gradient", "the gradient of the target logit, df_c/dx", GradientForm::kGradient));
  registry.add_method(gradient_method(
      "sensitivity", "sensitivity analysis, (df_c/dx)^2 (Samek et al. 2017): relevance without a sign", GradientForm::kSquared));
  registry.add_method(
      gradient_method("gradient_x_input", "the input times the gradient, x * df_c/dx", GradientForm::kTimesInput));
}

}  // namespace lrp
