// Explanation methods other than LRP (the baselines of docs/metrics.md, Baseline methods, and any a plugin adds): the
// interface an experiment runs them through. A method is registered by name (Registry::add_method,
// lrp/registry/registry.hpp) with its parameters and a factory; an experiment makes it once per config
// entry (or sweep point) for its model, then calls explain() on every batch.
//
// What the host guarantees to a method:
// - the factory gets the resolved parameters (defaults filled in, names checked, scalars checked
//   against their declared minimum) and the setup (network, input normalization, its own seed);
//   it validates the values against the model (throwing lrp::Error naming the parameter) and
//   converts raw-unit values with MethodSetup::network_units;
// - explain() gets a batch in network units with the forward pass of exactly that batch (computed
//   once and shared by every method of the run: read f_c(x) from pass.logits(), start a gradient
//   from it), the targets, the samples' ids (for random draws that do not depend on the batch)
//   and the threads it may use. It returns relevance of x's shape (N × the input shape);
// - a method object is used from one thread at a time and lives for the whole run; explain() is
//   const, so per-batch scratch belongs in explain() (or in thread-local storage), not in members;
// - a wrong shape, an exception from explain() or the factory, and non-finite relevance are
//   reported naming the method and its origin (non-finite values are counted in the results).
#pragma once

#include "lrp/core/limits.hpp"
#include "lrp/nn/model.hpp"
#include "lrp/core/params.hpp"

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace lrp {

class Registry;

// One value, or one per input channel (a channel being the first axis of the per-sample shape, as
// in InputNormalization: [C, H, W] per plane, [D] per feature).
using ChannelValues = std::vector<double>;

// Raw values (one, or one per channel) in network units: one per channel, or a single value when
// both `raw` and the normalization have a single value.
ChannelValues raw_to_network_units(const ParamValue& raw, const InputNormalization& normalization, Index channels);

// What a method's factory sees: the model it will explain.
struct MethodSetup {
  const Network& network;
  const InputNormalization& normalization;
  std::uint64_t seed = 0;  // the method's own random stream (from the config's seed and the method's name)
  std::string what;        // how messages name it, e.g. "method 'ig'" (empty: Registry::make_method names it)
  const Limits* limits = nullptr;  // the run's limits (lrp/core/limits.hpp); nullptr: the defaults

  // The number of input channels (the first axis of the input shape).
  Index channels() const;
  // The raw-unit value(s) of parameter `name` (one, or one per channel) in network units; any other
  // count is an lrp::Error naming the method (`what`) and the parameter.
  ChannelValues network_units(const ParamMap& params, const std::string& name) const;
};

// One batch to explain.
struct MethodBatch {
  const Network& network;
  const Registry& registry;            // for Explainer / explain_gradient
  const ForwardPass& pass;             // network.forward(x), shared by every method of the run
  const Tensor& x;                     // N × input shape, network units (with sequence lengths, if any)
  const std::vector<Index>& targets;   // one class per sample
  const std::vector<Index>& sample_ids;  // the samples' ids in the dataset
  int threads = 1;
};

class ExplanationMethod {
 public:
  virtual ~ExplanationMethod() = default;
  // Relevance of x's shape (N × input shape).
  virtual Tensor explain(const MethodBatch& batch) const = 0;
};
using MethodPtr = std::shared_ptr<const ExplanationMethod>;

}  // namespace lrp
