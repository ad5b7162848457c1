// A worked example of an explanation-method plugin: feature ablation (leave one value out).
//
//   R_i = f_c(x) − f_c(x with value i set to `fill`)
//
// for every input value i: a pixel of every channel separately, a feature, a time step's feature.
// It is the finest occlusion (a 1 × 1 window per channel) and a model-agnostic baseline that needs
// one forward pass per input value, batched here many copies at a time. f_c(x) is read from the
// forward pass the host shares with every method; `fill` is in raw data units (one value, or one
// per channel) and mapped through the model's normalization by the host's MethodSetup. With
// sequence lengths, the padding steps of a sample are not ablated and get 0.
//
// Build it out of tree against an installed lrplab (see CMakeLists.txt beside this file), then
// name the library in a config's `plugins:` list and the method in `explain:`:
//   explain: [{name: ablation, kind: feature_ablation, params: {fill: 0}}]
#include "lrp/core/error.hpp"
#include "lrp/methods/methods.hpp"
#include "lrp/registry/plugin.hpp"

#include <algorithm>
#include <memory>
#include <string>
#include <vector>

namespace {

class FeatureAblation final : public lrp::ExplanationMethod {
 public:
  FeatureAblation(std::vector<double> fill, lrp::Index batch_rows) : fill_(std::move(fill)), batch_rows_(batch_rows) {}

  lrp::Tensor explain(const lrp::MethodBatch& b) const override {
    const lrp::Tensor& x = b.x;
    const lrp::Index n = x.batch(), features = x.features();
    const lrp::Index channels = x.shape[0], per_channel = features / channels;
    const lrp::Index per_step = x.lengths.empty() ? features : features / x.shape[0];  // values per time step
    const lrp::Index rows = batch_rows_ > 0 ? batch_rows_ : lrp::default_batch_rows(b.network);

    // The (sample, value) pairs to ablate, in order; padding steps are left out.
    std::vector<std::pair<lrp::Index, lrp::Index>> work;
    for (lrp::Index i = 0; i < n; ++i)
      for (lrp::Index f = 0; f < (x.lengths.empty() ? features : x.length(i) * per_step); ++f) work.emplace_back(i, f);

    lrp::Tensor relevance(n, x.shape);
    relevance.data.setZero();
    lrp::Tensor copies(std::min<lrp::Index>(rows, static_cast<lrp::Index>(work.size())), x.shape);
    for (std::size_t begin = 0; begin < work.size(); begin += static_cast<std::size_t>(copies.batch())) {
      const lrp::Index count = std::min<lrp::Index>(copies.batch(), static_cast<lrp::Index>(work.size() - begin));
      if (count < copies.batch()) copies.data.conservativeResize(count, features);  // the last, shorter block
      copies.lengths.clear();
      for (lrp::Index r = 0; r < count; ++r) {
        const auto [i, f] = work[begin + static_cast<std::size_t>(r)];
        copies.data.row(r) = x.data.row(i);
        copies.data(r, f) = static_cast<lrp::Scalar>(fill_.size() == 1 ? fill_[0] : fill_[static_cast<std::size_t>(f / per_channel)]);
        if (!x.lengths.empty()) copies.lengths.push_back(x.length(i));
      }
      const lrp::ForwardPass pass = b.network.forward(copies, b.threads);
      for (lrp::Index r = 0; r < count; ++r) {
        const auto [i, f] = work[begin + static_cast<std::size_t>(r)];
        const lrp::Index c = b.targets[static_cast<std::size_t>(i)];
        relevance.data(i, f) = b.pass.logits()(i, c) - pass.logits()(r, c);
      }
    }
    return relevance;
  }

 private:
  std::vector<double> fill_;  // network units: one value, or one per channel
  lrp::Index batch_rows_;
};

void register_feature_ablation(lrp::Registry& registry) {
  lrp::MethodInfo info;
  info.name = "feature_ablation";
  info.doc = "f_c(x) - f_c(x with one input value set to fill), for every input value (plugin example)";
  info.params = {{"fill", {0}, "fill value, raw units, one or one per channel", true},
                 {"batch_rows", {0}, "copies per forward pass (0: automatic)", false, 0}};
  info.factory = [](const lrp::ParamMap& p, const lrp::MethodSetup& setup) -> lrp::MethodPtr {
    const double rows = p.scalar("batch_rows", setup.what);
    LRP_CHECK(rows == static_cast<double>(static_cast<lrp::Index>(rows)), setup.what,
              ": 'batch_rows' must be a whole number, got ", rows);
    return std::make_shared<const FeatureAblation>(setup.network_units(p, "fill"), static_cast<lrp::Index>(rows));
  };
  registry.add_method(std::move(info));
}

}  // namespace

LRP_PLUGIN("feature_ablation", register_feature_ablation)
