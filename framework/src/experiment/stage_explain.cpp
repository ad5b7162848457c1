// Stage 3: the forward passes (one per chunk of batch_size samples, shared by every method) and
// the explanations, unit by unit (chunk, method) as the ranks own them; the metrics computed while
// explaining (conservation's layer ledger) see every batch. Then, once every rank holds every unit
// (stage_exchange.cpp), the explanations' seconds, NaN counts and logs.
#include "run_state.hpp"

#include "lrp/core/log.hpp"
#include "lrp/core/progress.hpp"

namespace lrp {

// A registry method on one batch: its relevance must have x's shape; what goes wrong is an error
// naming the method (and the plugin it comes from).
Tensor run_method(const PreparedMethod& pm, const MethodBatch& batch, const Registry& registry) {
  const MethodConfig& m = *pm.config;
  const std::string origin = registry.method_info(m.kind).origin;
  const std::string who = "method '" + m.name + "' (" + m.kind + (origin == "built-in" ? "" : ", from " + origin) + ")";
  Tensor r;
  try {
    r = pm.method->explain(batch);
  } catch (const Error& e) {
    throw Error(who + ": " + e.what());
  } catch (const std::exception& e) {
    throw Error(who + ": explain threw: " + e.what());
  } catch (...) {
    throw Error(who + ": explain threw an exception that is not a std::exception");
  }
  LRP_CHECK(r.shape == batch.x.shape && r.data.rows() == batch.x.data.rows() && r.data.cols() == batch.x.data.cols(), who,
            ": returned relevance of shape ", r.data.rows(), " × ", to_string(r.shape), " (", r.data.cols(),
            " values per row) for a batch of ", batch.x.data.rows(), " × ", to_string(batch.x.shape));
  return r;
}

Reexplain make_reexplain(const PreparedMethod& pm, const Registry& registry) {
  return [&pm, &registry](Network& network, const Tensor& x, const std::vector<Index>& targets,
                          const std::vector<Index>& ids, int threads) -> Tensor {
    set_maxpool_ties(network, pm.config->maxpool_ties);
    const ForwardPass pass = network.forward(x, threads);
    if (pm.config->lrp()) {
      // A new explainer each time: the network's parameters may have changed since the last call.
      const Explainer explainer = Explainer::from_composite(network, registry, pm.composite);
      return explainer.explain(pass, targets, {.seed = SeedKind::kLogit, .threads = threads}).relevance;
    }
    return run_method(pm, MethodBatch{network, registry, pass, x, targets, ids, threads}, registry);
  };
}

// Where the forward pass of a batch first turns finite inputs into NaN or ±Inf: the message names
// the sample and the layer (lrplab stops rather than explain or evaluate non-finite logits).
std::string nonfinite_forward(const Network& network, const ForwardPass& pass, const std::vector<Index>& ids) {
  for (Index r = 0; r < pass.batch(); ++r) {
    if (all_finite(pass.logits().row(r))) continue;
    for (Index l = 0; l < network.size(); ++l) {
      if (all_finite(pass.activations[static_cast<std::size_t>(l + 1)].row(r))) continue;
      const Layer& layer = network.layer(l);
      return detail::concat("the model's logits are not finite for sample ", ids[static_cast<std::size_t>(r)],
                            ": layer ", l, " '", layer.name(), "' (", layer.describe(),
                            ") turns finite inputs into NaN or Inf (weights or values too large for ", scalar_name(),
                            "?); lrplab does not explain or evaluate non-finite logits");
    }
  }
  return "the model's logits are not finite";
}


namespace {

// Unit (chunk, method k): its explanation, the input side of its ledger and the metrics computed
// while explaining. `target_logit` is the seed f_c(x) of each row.
void explain_unit(RunState& run, std::size_t k, Index chunk, const ForwardPass& pass, const Tensor& x,
                  const std::vector<Index>& ids, const std::vector<Index>& targets, const Vector& target_logit,
                  Progress& progress) {
  MethodRecord& record = run.methods[k];
  progress.set_detail(record.name().c_str());
  const PreparedMethod& pm = *record.prepared;
  Network& network = run.prepared->model.network;
  const Index begin = run.chunk_begin(chunk), rows = x.batch();
  const int threads = run.config.threads;
  set_maxpool_ties(network, pm.config->maxpool_ties);
  bool keep_layers = false;  // some metric computed while explaining asks for the layer relevance
  for (std::size_t i = 0; i < record.metrics.size(); ++i)
    keep_layers = keep_layers || (record.metrics[i] && run.metrics[i]->needs_layer_relevance());
  keep_layers = keep_layers || !record.layer_maps.empty();
  double& seconds = record.unit_seconds[static_cast<std::size_t>(chunk)];
  const auto start = RunClock::now();
  std::optional<Explanation> explanation;
  Tensor method_relevance;
  if (record.lrp()) {
    explanation.emplace(record.explainer->explain(
        pass, targets, {.seed = SeedKind::kLogit, .keep_layer_relevance = keep_layers, .threads = threads}));
    seconds += seconds_since(start);
    for (const Matrix& st : explanation->state_relevance) record.has_state = record.has_state || st.cols() > 0;
    record.state_sum.segment(begin, rows) = explanation->state_relevance_total().cast<double>();
    const std::vector<Index>& layers = run.prepared->relevance_layers;
    for (std::size_t j = 0; j < record.layer_maps.size(); ++j) {
      const Index value = network.inputs_of(layers[j])[0];
      record.layer_maps[j].middleRows(begin, rows) = explanation->layer_relevance[static_cast<std::size_t>(value)];
    }
  } else {
    method_relevance = run_method(pm, MethodBatch{network, run.registry, pass, x, targets, ids, threads}, run.registry);
    seconds += seconds_since(start);
  }
  const auto ledger_start = RunClock::now();
  const Matrix& relevance = explanation ? explanation->relevance.data : method_relevance.data;
  record.relevance.data.middleRows(begin, rows) = relevance;
  input_ledger(relevance, target_logit, begin, record.input);
  const ExplainedBatch batch{begin, rows, pass, explanation ? &*explanation : nullptr};
  const MethodView view = record.view();
  for (std::size_t i = 0; i < record.metrics.size(); ++i)
    if (record.metrics[i]) run.metrics[i]->add_batch(*run.metric_run, batch, view, *record.metrics[i]);
  run.ledger_seconds += seconds_since(ledger_start);
  progress.advance(rows);
}

// The forward pass of a chunk's rows, computed once per sample (with K targets per sample, a
// sample's K rows share its pass: repeat_rows), and the targets of its rows.
ForwardPass chunk_pass(RunState& run, const Tensor& x, const std::vector<Index>& ids, const std::vector<Index>& labels,
                       std::vector<Index>& targets) {
  const Network& network = run.prepared->model.network;
  const Index per = run.per_sample(), samples = x.batch() / per;
  const std::optional<Tensor> once = per == 1 ? std::nullopt : std::optional<Tensor>(every_nth_row(x, per));
  ForwardPass pass = network.forward(once ? *once : x, run.config.threads);
  std::vector<Index> sample_ids, sample_labels;
  for (Index i = 0; i < samples; ++i) {
    sample_ids.push_back(ids[static_cast<std::size_t>(i * per)]);
    if (!labels.empty()) sample_labels.push_back(labels[static_cast<std::size_t>(i * per)]);
  }
  if (!all_finite(pass.logits())) throw Error(nonfinite_forward(network, pass, sample_ids));
  const std::vector<std::vector<Index>> sets =
      select_target_sets(pass.logits(), run.config.target, sample_labels.empty() ? nullptr : &sample_labels);
  targets.assign(static_cast<std::size_t>(x.batch()), 0);
  for (Index i = 0; i < samples; ++i)
    for (Index k = 0; k < per; ++k)
      targets[static_cast<std::size_t>(i * per + k)] = sets[static_cast<std::size_t>(k)][static_cast<std::size_t>(i)];
  if (per == 1) return pass;
  return repeat_rows(pass, per);
}

// One chunk: its forward pass, its targets and logits, and this rank's units of it.
void explain_chunk(RunState& run, Index chunk, Progress& progress) {
  const PreparedExperiment& prep = *run.prepared;
  const Network& network = prep.model.network;
  const Index begin = run.chunk_begin(chunk), rows = run.chunk_rows(chunk);
  Tensor x(network.input_shape(), prep.data.inputs.data.middleRows(begin, rows));
  const std::span<const Index> x_lengths = row_lengths(prep.data.inputs.lengths, begin, rows);
  x.lengths.assign(x_lengths.begin(), x_lengths.end());  // sequence lengths (none: empty)
  const std::vector<Index> ids(prep.data.indices.begin() + begin, prep.data.indices.begin() + begin + rows);
  std::vector<Index> labels;
  if (!prep.data.labels.empty()) labels.assign(prep.data.labels.begin() + begin, prep.data.labels.begin() + begin + rows);
  const auto start = RunClock::now();
  progress.set_detail("forward pass");
  std::vector<Index> targets;
  const ForwardPass pass = chunk_pass(run, x, ids, labels, targets);
  run.forward_seconds += seconds_since(start);
  progress.advance(rows / run.per_sample());
  run.logits.middleRows(begin, rows) = pass.logits();
  std::copy(targets.begin(), targets.end(), run.targets.begin() + begin);
  Vector target_logit(rows);
  for (Index i = 0; i < rows; ++i) target_logit[i] = pass.logits()(i, targets[static_cast<std::size_t>(i)]);
  for (std::size_t k = 0; k < run.methods.size(); ++k)
    if (run.owner(chunk, k) == run.cluster.rank()) explain_unit(run, k, chunk, pass, x, ids, targets, target_logit, progress);
}

}  // namespace

void explain_samples(RunState& run) {
  const Index n = run.samples();
  if (run.per_sample() == 1)
    logger()->info("explaining {} samples with {} methods ({} threads)", n, run.methods.size(), run.config.threads);
  else
    logger()->info("explaining {} samples × {} targets ({}) with {} methods ({} threads), one forward pass per sample",
                   run.prepared->samples, run.per_sample(), run.config.target.describe(), run.methods.size(),
                   run.config.threads);
  // This rank's passes over a row: the chunk's forward pass (once per sample) and each of its units'
  // explanations.
  const auto passes = [&](Index chunk) {
    Index units = 0;
    for (std::size_t k = 0; k < run.methods.size(); ++k) units += run.owner(chunk, k) == run.cluster.rank() ? 1 : 0;
    return units == 0 ? 0 : run.chunk_rows(chunk) / run.per_sample() + run.chunk_rows(chunk) * units;
  };
  Index total = 0;
  for (Index chunk = 0; chunk < run.chunk_count; ++chunk) total += passes(chunk);
  Progress progress("explain", total, "passes");
  collectively(run.cluster, [&] {
    for (Index chunk = 0; chunk < run.chunk_count; ++chunk) {
      if (passes(chunk) == 0) continue;
      explain_chunk(run, chunk, progress);
      logger()->debug("  explained samples {}-{} of {}", run.chunk_begin(chunk) + 1,
                      run.chunk_begin(chunk) + run.chunk_rows(chunk), n);
    }
    progress.set_detail(nullptr);
    progress.finish();
  });
}

void summarize_explanations(RunState& run) {
  auto log = logger();
  ExperimentReport& report = run.report;
  for (MethodRecord& record : run.methods) {
    for (const double s : record.unit_seconds) record.explain_seconds += s;
    for (const Index bad : record.input.nonfinite) record.nonfinite += bad;
  }
  for (const MethodRecord& record : run.methods) {
    if (!record.has_state) continue;
    const Eigen::VectorXd gap = (record.input.input_sum + record.state_sum - record.input.output_seed).cwiseAbs();
    log->info("  {}: initial-state relevance mean {:.4g}; mean |sum R_x + R_initial - f_c(x)| = {:.3g}", record.name(),
              record.state_sum.mean(), gap.mean());
  }
  report.stage_seconds["forward"] = run.forward_seconds;
  report.stage_seconds["ledger"] = run.ledger_seconds;
  double explain_total = 0;
  for (const MethodRecord& record : run.methods) {
    explain_total += record.explain_seconds;
    log->info("  {}: {:.2f} s{}{}", record.name(), record.explain_seconds,
              record.explain_seconds > 0
                  ? fmt::format(" ({} samples/s)", Progress::format_rate(static_cast<double>(run.samples()) / record.explain_seconds))
                  : "",
              record.nonfinite > 0 ? fmt::format(" ({} NaN/Inf relevance values)", record.nonfinite) : "");
  }
  report.stage_seconds["explain"] = explain_total;
  const Dataset& data = run.prepared->data;
  if (!data.labels.empty()) {
    Index correct = 0;
    for (Index i = 0; i < data.size(); ++i) {
      Index best = 0;
      run.logits.row(i).maxCoeff(&best);
      correct += best == data.labels[static_cast<std::size_t>(i)] ? 1 : 0;
    }
    report.accuracy = static_cast<double>(correct) / static_cast<double>(data.size());
  }
}

}  // namespace lrp
