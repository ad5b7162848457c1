// The baseline methods of METRICS.md §4 as registry entries (lrp/registry/method.hpp), through the same
// Registry::add_method a plugin uses: their parameters, the checks of those against the model, and
// the call into methods.hpp / explain_gradient for each batch.
#include "lrp/core/error.hpp"
#include "lrp/propagation/explain.hpp"
#include "lrp/methods/methods.hpp"
#include "lrp/registry/registry.hpp"

#include <cmath>

namespace lrp {

// ---------------------------------------------------------------- MethodSetup

Index MethodSetup::channels() const { return network.input_shape()[0]; }

ChannelValues MethodSetup::network_units(const ParamMap& params, const std::string& name) const {
  const ParamValue& raw = params.get(name, what);
  const Index c = channels();
  LRP_CHECK(raw.size() == 1 || static_cast<Index>(raw.size()) == c, what, ": '", name,
            "' needs 1 value or one per input channel (", c, "), got ", raw.size());
  return raw_to_network_units(raw, normalization, c);
}

ChannelValues raw_to_network_units(const ParamValue& raw, const InputNormalization& normalization, Index channels) {
  const bool single = raw.size() == 1 && normalization.mean.size() == 1 && normalization.std.size() == 1;
  ChannelValues out;
  for (Index k = 0; k < (single ? 1 : channels); ++k) {
    const double value = raw[raw.size() == 1 ? 0 : static_cast<std::size_t>(k)];
    out.push_back(to_network_units(value, k, normalization));
    LRP_CHECK(std::isfinite(static_cast<Scalar>(out.back())), "the raw value ", value, " is ", out.back(),
              " in network units (after the model's input normalization), beyond the range of ", scalar_name());
  }
  return out;
}

namespace {

// Whole-number parameters.
Index whole(const ParamMap& p, const std::string& name, const std::string& what) {
  const double v = p.scalar(name, what);
  LRP_CHECK(v == std::floor(v) && v < 1e12, what, ": '", name, "' must be a whole number, got ", v);
  return static_cast<Index>(v);
}
std::vector<Index> whole_list(const ParamMap& p, const std::string& name, const std::string& what) {
  const ParamValue& v = p.get(name, what);
  LRP_CHECK(v.size() == 1 || v.size() == 2, what, ": '", name, "' must be one value or [height, width], got ", v.size(),
            " values");
  std::vector<Index> out;
  for (const double x : v) {
    LRP_CHECK(x == std::floor(x) && x < 1e9, what, ": '", name, "' must hold whole numbers, got ", x);
    out.push_back(static_cast<Index>(x));
  }
  return out;
}

// A method that is a function of the batch and options fixed at set-up.
template <typename Fn>
class Baseline final : public ExplanationMethod {
 public:
  explicit Baseline(Fn fn) : fn_(std::move(fn)) {}
  Tensor explain(const MethodBatch& b) const override { return fn_(b); }

 private:
  Fn fn_;
};
template <typename Fn>
MethodPtr baseline(Fn fn) {
  return std::make_shared<const Baseline<Fn>>(std::move(fn));
}

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

MethodInfo integrated_gradients_method() {
  MethodInfo info;
  info.name = "integrated_gradients";
  info.doc = "Riemann right sum of gradients from a baseline (raw units) to x, times x - baseline";
  info.params = {{"steps", {32}, "interpolation points M (whole, >= 1)", false, 1},
                 {"baseline", {0}, "baseline value, raw units, one or one per channel", true},
                 {"batch_rows", {0}, "rows per pass (0: automatic)", false, 0}};
  info.factory = [](const ParamMap& p, const MethodSetup& setup) {
    const std::string& what = setup.what;
    IntegratedGradientsOptions o;
    o.steps = whole(p, "steps", what);
    const Index limit = setup.limits ? setup.limits->integrated_gradients_steps : Limits().integrated_gradients_steps;
    LRP_CHECK(o.steps <= limit, what, ": steps = ", o.steps, " is more than limits.integrated_gradients_steps = ", limit,
              " (each step is a forward and a backward pass per sample); raise the limit if you mean it");
    o.batch_rows = whole(p, "batch_rows", what);
    o.baseline = setup.network_units(p, "baseline");
    return baseline([o](const MethodBatch& b) {
      return integrated_gradients(b.network, b.registry, b.x, b.targets, o, b.threads);
    });
  };
  return info;
}

MethodInfo smoothgrad_method() {
  MethodInfo info;
  info.name = "smoothgrad";
  info.doc = "mean gradient over noisy copies (noise sigma relative to the model's raw value range)";
  info.params = {{"samples", {16}, "noisy copies N (whole, >= 1)", false, 1}, non_negative("sigma", 0.15, "noise level")};
  info.factory = [](const ParamMap& p, const MethodSetup& setup) {
    const std::string& what = setup.what;
    SmoothGradOptions o;
    o.samples = whole(p, "samples", what);
    o.sigma = p.scalar("sigma", what);
    o.low = channel_values_in_network_units(setup.normalization.raw_min, setup.normalization, setup.channels());
    o.high = channel_values_in_network_units(setup.normalization.raw_max, setup.normalization, setup.channels());
    o.seed = setup.seed;
    return baseline([o](const MethodBatch& b) {
      return smoothgrad(b.network, b.registry, b.x, b.targets, b.sample_ids, o, b.threads);
    });
  };
  return info;
}

MethodInfo occlusion_method() {
  MethodInfo info;
  info.name = "occlusion";
  info.doc = "f_c(x) - f_c(x with a window filled), averaged over the windows covering a pixel";
  info.params = {{"window", {4}, "window side, or [height, width]", true, 1},
                 {"stride", {0}, "stride, or [rows, columns] (0: the window)", true, 0},
                 {"fill", {0}, "fill value, raw units, one or one per channel", true},
                 {"batch_rows", {0}, "rows per pass (0: automatic)", false, 0}};
  info.factory = [](const ParamMap& p, const MethodSetup& setup) {
    const std::string& what = setup.what;
    const Shape& shape = setup.network.input_shape();
    LRP_CHECK(shape.size() >= 1 && shape.size() <= 3, what, ": occlusion needs inputs [C, H, W], [T, D] or [D], the model takes ",
              to_string(shape));
    // The plane windows slide over (methods.hpp): H × W, T × D, or 1 × D.
    const Index height = shape.size() == 3 ? shape[1] : shape.size() == 2 ? shape[0] : 1, width = shape.back();
    const std::vector<Index> window = whole_list(p, "window", what);
    const std::vector<Index> stride = whole_list(p, "stride", what);
    const Index wh = window.size() == 2 || shape.size() != 1 ? window[0] : 1;
    const Index ww = window.size() == 2 ? window[1] : shape.size() == 2 ? width : window[0];
    LRP_CHECK(wh <= height && ww <= width, what, ": the window ", format_value(p.get("window", what)),
              " does not fit the input plane ", height, " × ", width);
    for (const Index s : stride) LRP_CHECK(s >= 0, what, ": 'stride' must be ≥ 0 (0: the window)");
    OcclusionOptions o;
    o.window = window;
    if (!(stride.size() == 1 && stride[0] == 0)) o.stride = stride;
    o.fill = setup.network_units(p, "fill");
    o.batch_rows = whole(p, "batch_rows", what);
    return baseline([o](const MethodBatch& b) { return occlusion(b.network, b.x, b.targets, o, b.threads); });
  };
  return info;
}

MethodInfo random_method() {
  MethodInfo info;
  info.name = "random";
  info.doc = "i.i.d. uniform relevance in [0, 1) (the chance level)";
  info.factory = [](const ParamMap&, const MethodSetup& setup) {
    return baseline([seed = setup.seed](const MethodBatch& b) {
      return random_relevance(b.network.input_shape(), b.sample_ids, seed);
    });
  };
  return info;
}

}  // namespace

void register_builtin_methods(Registry& registry) {
  registry.add_method(gradient_method("gradient", "the gradient of the target logit, df_c/dx", GradientForm::kGradient));
  registry.add_method(gradient_method(
      "sensitivity", "sensitivity analysis, (df_c/dx)^2 (Samek et al. 2017): relevance without a sign", GradientForm::kSquared));
  registry.add_method(
      gradient_method("gradient_x_input", "the input times the gradient, x * df_c/dx", GradientForm::kTimesInput));
  registry.add_method(integrated_gradients_method());
  registry.add_method(smoothgrad_method());
  registry.add_method(occlusion_method());
  registry.add_method(random_method());
}

}  // namespace lrp
