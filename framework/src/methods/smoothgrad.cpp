// SmoothGrad (Smilkov et al. 2017): the function and its registry entry.
#include "method_support.hpp"

#include "lrp/core/random.hpp"

#include <cmath>
#include <random>

namespace lrp {

using namespace methods_detail;

namespace {

constexpr const char* kSmoothGrad = "smoothgrad";

}  // namespace

Tensor smoothgrad(const Network& network, const Registry& registry, const Tensor& x, const std::vector<Index>& targets,
                  const std::vector<Index>& sample_ids, const SmoothGradOptions& options, int threads) {
  check_inputs(kSmoothGrad, network, x, targets, threads);
  const Index n = x.batch(), features = x.features(), copies = options.samples;
  LRP_CHECK(static_cast<Index>(sample_ids.size()) == n, kSmoothGrad, ": ", sample_ids.size(), " sample ids for ", n,
            " samples; expected one per sample");
  LRP_CHECK(copies >= 1, kSmoothGrad, ": option 'samples' must be ≥ 1, got ", copies);
  LRP_CHECK(std::isfinite(options.sigma) && options.sigma >= 0, kSmoothGrad,
            ": option 'sigma' must be finite and ≥ 0, got ", options.sigma);
  const Eigen::RowVectorXd low = channel_row(options.low, x.shape, kSmoothGrad, "low");
  const Eigen::RowVectorXd high = channel_row(options.high, x.shape, kSmoothGrad, "high");
  for (Index f = 0; f < features; ++f)
    LRP_CHECK(low[f] < high[f], kSmoothGrad, ": options 'low' and 'high' must satisfy low < high on every channel, got [",
              low[f], ", ", high[f], "]");
  const Eigen::RowVectorXd noise_std = options.sigma * (high - low);

  const Explainer explainer = Explainer::gradient(network, registry);
  Tensor out(n, x.shape);
  out.lengths = x.lengths;
  // One pass of N rows per sample, whatever the batch and the threads (see the header).
  parallel_chunks(n, threads, [&](int, Index begin, Index end) {
    Tensor noisy(copies, x.shape);
    ForwardPass pass;
    std::vector<Index> copy_targets(static_cast<size_t>(copies));
    RowVector mean(features);
    for (Index i = begin; i < end; ++i) {
      for (Index k = 0; k < copies; ++k) {
        std::mt19937_64 rng(sample_seed(options.seed, sample_ids[static_cast<size_t>(i)], static_cast<std::uint64_t>(k)));
        for (Index f = 0; f < features; ++f)
          noisy.data(k, f) = x.data(i, f) + static_cast<Scalar>(noise_std[f] * standard_normal(rng));
      }
      std::fill(copy_targets.begin(), copy_targets.end(), targets[static_cast<size_t>(i)]);
      if (!x.lengths.empty()) noisy.lengths.assign(static_cast<size_t>(copies), x.lengths[static_cast<size_t>(i)]);
      network.forward(noisy, pass, 1);
      const Explanation g = explainer.explain(pass, copy_targets, kGradientOptions);
      mean = g.relevance.data.row(0);
      for (Index k = 1; k < copies; ++k) mean += g.relevance.data.row(k);
      out.data.row(i) = mean / static_cast<Scalar>(copies);
    }
  });
  return out;
}

namespace {

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

}  // namespace

void register_method_smoothgrad(Registry& registry) { registry.add_method(smoothgrad_method()); }

}  // namespace lrp
