// What the built-in explanation methods share (internal to framework/src/methods/): input checks,
// per-channel values, batching, parameter readers and the adapter from a function to an
// ExplanationMethod. Each method lives in its own file (its algorithm and its registry entry);
// builtin_methods.cpp lists them.
#pragma once

#include "lrp/core/error.hpp"
#include "lrp/methods/methods.hpp"
#include "lrp/propagation/explain.hpp"
#include "lrp/registry/registry.hpp"

#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace lrp::methods_detail {

// ∂f_c/∂x through Explainer::gradient. keep_layer_relevance makes every layer write its input
// gradient into the explanation's own (aligned) matrices instead of the thread's scratch buffers:
// Eigen computes the unaligned head of a destination outside its vectorized loop, and the scalar and
// packet paths of exp, tanh and small products round differently, so gradients computed into
// scratch memory would depend on where that memory lies (the thread, the history of the buffers).
// With it, the same rows give the same bits on every call and thread.
const ExplainOptions kGradientOptions{.seed = SeedKind::kOneHot, .keep_layer_relevance = true, .threads = 1};

// The per-channel `values` spread over one sample's features (1 × features).
Eigen::RowVectorXd channel_row(const ChannelValues& values, const Shape& shape, const char* method, const char* option);
// What every method checks first: the input's shape and values, one valid target per sample,
// threads ≥ 1.
void check_inputs(const char* method, const Network& network, const Tensor& x, const std::vector<Index>& targets,
                  int threads);
// `batch_rows` (0: default_batch_rows), checked.
Index batch_rows_of(Index requested, const Network& network, const char* method);

// Whole-number parameters of a registry entry: one value, or [height, width].
Index whole(const ParamMap& p, const std::string& name, const std::string& what);
std::vector<Index> whole_list(const ParamMap& p, const std::string& name, const std::string& what);

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

}  // namespace lrp::methods_detail
