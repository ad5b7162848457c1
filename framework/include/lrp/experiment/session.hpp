// Explaining outside an experiment run: what the Python module (framework/python) and C++ callers
// use to explain a batch of their own. Everything goes through the code a run uses, so the numbers
// are the run's bit for bit:
// - the model is opened as `model.file` (+ `model.normalization`) is, and its batch norms are folded;
// - a method is an `explain:` entry (a name such as epsilon_gamma_box or gradient, or a mapping
//   {name, kind, preset, rules, params, maxpool_ties}) read by the config reader and prepared by
//   prepare_method;
// - one forward pass is shared by every target class asked for.
#pragma once

#include "lrp/eval/metrics.hpp"
#include "lrp/experiment/experiment.hpp"
#include "lrp/nn/model.hpp"
#include "lrp/propagation/explain.hpp"

#include <yaml-cpp/yaml.h>

#include <cstdint>
#include <string>
#include <vector>

namespace lrp {

// Opens a model file (HDF5, ONNX or YAML) as a run's `model.file` does. `normalization` is a
// mapping {mean, std, range} that replaces what the file says (a null node: keep it); `source`
// names the caller in messages. Batch norm is folded into the layers before it (as for LRP).
Model open_model_for_explaining(const std::string& path, const Registry& registry, const YAML::Node& normalization,
                                const std::string& source, std::uint64_t seed = 0);

// One `explain:` entry (no sweep: one method); errors name `source`.
MethodConfig read_method_entry(const YAML::Node& entry, const Registry& registry, const std::string& source,
                               std::uint64_t seed, const Limits& limits = {});

struct BatchRequest {
  bool layer_relevance = false;  // keep the relevance at every value (LRP only)
  bool ledger = false;           // the conservation ledger (per layer for LRP; the input side for others)
  int threads = 1;
  std::vector<Index> sample_ids;  // ids of the rows (the seeds of methods that draw); empty: 0..N−1
};

// What explain_batch returns, per target column k (all [K] vectors).
struct BatchExplanation {
  Matrix logits;                                     // N × classes, from the shared forward pass
  std::vector<std::vector<Index>> targets;           // [K][N]
  std::vector<Tensor> relevance;                     // [K]: N × input shape (network units)
  std::vector<std::vector<Matrix>> layer_relevance;  // [K][value]: as Explanation::layer_relevance
  std::vector<ConservationResult> ledgers;           // [K] (with BatchRequest::ledger)
  std::vector<std::string> layer_rules;              // LRP: per layer, "rule(params)"
};

// Explains x (network units, N × the network's input shape) with a prepared method. The network's
// max-pool tie routing is set to the method's, as in a run.
BatchExplanation explain_batch(const PreparedMethod& method, Network& network, const Registry& registry,
                               const Tensor& x, const TargetSetSpec& targets, const std::vector<Index>* labels,
                               const BatchRequest& request);

}  // namespace lrp
