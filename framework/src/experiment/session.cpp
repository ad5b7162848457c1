// Explaining outside an experiment run (session.hpp): the run's own pieces, put together for one batch.
#include "lrp/experiment/session.hpp"

#include "lrp/core/error.hpp"
#include "lrp/io/model_file.hpp"
#include "lrp/io/model_yaml.hpp"
#include "lrp/propagation/canonize.hpp"
#include "run_state.hpp"

#include <algorithm>
#include <numeric>

namespace lrp {

Model open_model_for_explaining(const std::string& path, const Registry& registry, const YAML::Node& normalization,
                                const std::string& source, std::uint64_t seed) {
  Model model = open_model(path, registry, seed);
  if (normalization && !normalization.IsNull()) {
    const NormalizationOverride override_ = read_normalization(normalization, source, "normalization");
    InputNormalization& norm = model.spec.normalization;
    override_.apply(norm);
    norm.validate(model.network.input_shape()[0], source + ": normalization");
    norm.origin = source + " (normalization), replacing " + norm.origin;
  }
  (void)canonize_batch_norm(model.network);
  return model;
}


BatchExplanation explain_batch(const PreparedMethod& method, Network& network, const Registry& registry,
                               const Tensor& x, const TargetSetSpec& targets, const std::vector<Index>* labels,
                               const BatchRequest& request) {
  const MethodConfig& m = *method.config;
  LRP_CHECK(m.lrp() || !request.layer_relevance, "method '", m.name,
            "': layer relevance is computed by LRP methods only (", m.kind, " gives relevance at the input)");
  set_maxpool_ties(network, m.maxpool_ties);
  const int threads = std::max(1, request.threads);
  BatchExplanation out;
  std::vector<Index> ids = request.sample_ids;
  if (ids.empty()) {
    ids.resize(static_cast<std::size_t>(x.batch()));
    std::iota(ids.begin(), ids.end(), Index{0});
  }
  LRP_CHECK(static_cast<Index>(ids.size()) == x.batch(), "sample_ids: ", ids.size(), " ids for ", x.batch(), " samples");
  const ForwardPass pass = network.forward(x, threads);
  if (!all_finite(pass.logits())) throw Error(nonfinite_forward(network, pass, ids));
  out.logits = pass.logits();
  out.targets = select_target_sets(pass.logits(), targets, labels);
  std::optional<Explainer> explainer;
  if (m.lrp()) {
    explainer.emplace(Explainer::from_composite(network, registry, method.composite));
    out.layer_rules = explainer->layer_rules();
  }
  for (const std::vector<Index>& column : out.targets) {
    if (explainer) {
      Explanation e = explainer->explain(
          pass, column,
          {.seed = SeedKind::kLogit, .keep_layer_relevance = request.layer_relevance || request.ledger, .threads = threads});
      if (request.ledger) out.ledgers.push_back(conservation(network, pass, e, threads));
      if (request.layer_relevance) out.layer_relevance.push_back(std::move(e.layer_relevance));
      out.relevance.push_back(std::move(e.relevance));
      continue;
    }
    out.relevance.push_back(run_method(method, MethodBatch{network, registry, pass, x, column, ids, threads}, registry));
    if (request.ledger) {
      ConservationResult ledger;
      InputLedger input(x.batch());
      Vector seed(x.batch());
      for (Index i = 0; i < x.batch(); ++i) seed[i] = pass.logits()(i, column[static_cast<std::size_t>(i)]);
      input_ledger(out.relevance.back().data, seed, 0, input);
      ledger.input_sum = input.input_sum;
      ledger.output_seed = input.output_seed;
      ledger.relative_error = input.relative_error;
      ledger.nonfinite_input = input.nonfinite;
      out.ledgers.push_back(std::move(ledger));
    }
  }
  return out;
}

}  // namespace lrp
