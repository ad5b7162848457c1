// Integrated gradients (Sundararajan et al. 2017): the function and its registry entry.
#include "method_support.hpp"

namespace lrp {

using namespace methods_detail;

namespace {

constexpr const char* kIG = "integrated_gradients";

}  // namespace

Tensor integrated_gradients(const Network& network, const Registry& registry, const Tensor& x,
                            const std::vector<Index>& targets, const IntegratedGradientsOptions& options, int threads) {
  check_inputs(kIG, network, x, targets, threads);
  const Index steps = options.steps;
  LRP_CHECK(steps >= 1, kIG, ": option 'steps' must be ≥ 1, got ", steps);
  const Index chunk = batch_rows_of(options.batch_rows, network, kIG);
  const Index n = x.batch(), features = x.features();

  // The baseline: one row for every sample, or one row per sample.
  Matrix baseline;
  if (options.baseline_tensor) {
    LRP_CHECK(options.baseline == ChannelValues{0.0}, kIG,
              ": options 'baseline' and 'baseline_tensor' are both set; give one of them");
    const Tensor& b = *options.baseline_tensor;
    LRP_CHECK(b.shape == x.shape && b.features() == features, kIG, ": option 'baseline_tensor' has samples of shape ",
              to_string(b.shape), ", expected the input shape ", to_string(x.shape));
    LRP_CHECK(b.batch() == 1 || b.batch() == n, kIG, ": option 'baseline_tensor' has ", b.batch(),
              " rows; expected 1 (for every sample) or one per sample (", n, ")");
    LRP_CHECK(all_finite(b.data), kIG, ": option 'baseline_tensor' contains NaN or Inf");
    baseline = b.data;
  } else {
    baseline = channel_row(options.baseline, x.shape, kIG, "baseline").cast<Scalar>();
  }
  const auto baseline_of = [&](Index i) { return baseline.row(baseline.rows() == 1 ? 0 : i); };

  // Rows r = i·M + (m − 1) of the virtual batch of all interpolation points, in passes of `chunk`.
  const Explainer explainer = Explainer::gradient(network, registry);
  Matrix gradient_sum = Matrix::Zero(n, features);
  Tensor points;
  points.shape = x.shape;
  ForwardPass pass;
  std::vector<Index> row_targets;
  const Index total = n * steps;
  for (Index begin = 0; begin < total; begin += chunk) {
    const Index rows = std::min(chunk, total - begin);
    points.data.resize(rows, features);
    row_targets.resize(static_cast<size_t>(rows));
    points.lengths.resize(x.lengths.empty() ? 0 : static_cast<size_t>(rows));  // each copy keeps its sample's length
    for (Index r = 0; r < rows; ++r) {
      const Index i = (begin + r) / steps, m = (begin + r) % steps + 1;
      if (!x.lengths.empty()) points.lengths[static_cast<size_t>(r)] = x.lengths[static_cast<size_t>(i)];
      const Scalar alpha = static_cast<Scalar>(static_cast<double>(m) / static_cast<double>(steps));
      points.data.row(r) = baseline_of(i) + alpha * (x.data.row(i) - baseline_of(i));
      row_targets[static_cast<size_t>(r)] = targets[static_cast<size_t>(i)];
    }
    network.forward(points, pass, threads);
    ExplainOptions gradient_options = kGradientOptions;
    gradient_options.threads = threads;
    const Explanation g = explainer.explain(pass, row_targets, gradient_options);
    for (Index r = 0; r < rows; ++r) gradient_sum.row((begin + r) / steps) += g.relevance.data.row(r);
  }

  Tensor out(n, x.shape);
  out.lengths = x.lengths;
  for (Index i = 0; i < n; ++i)
    out.data.row(i) = (x.data.row(i) - baseline_of(i)).cwiseProduct(gradient_sum.row(i)) / static_cast<Scalar>(steps);
  return out;
}

namespace {

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

}  // namespace

void register_method_integrated_gradients(Registry& registry) { registry.add_method(integrated_gradients_method()); }

}  // namespace lrp
