// Stage 2: prepare the data, the model and the methods (prepare_experiment), then what the other
// stages fill: a record per method, the metric plan from the config, and the metric values
// computed while the methods explain.
#include "run_state.hpp"

#include "lrp/core/log.hpp"

#include <algorithm>

namespace lrp {

namespace {

// The metric plan from the config: which metrics run, with the pixel-flipping fill in network units.
MetricPlan metric_plan(const ExperimentConfig& config, const PreparedExperiment& prep) {
  MetricPlan plan;
  plan.conservation = config.conservation;
  plan.relevance_accuracy = config.relevance_accuracy;
  plan.seed = config.seed;
  plan.settings = config.metrics;
  const InputNormalization& normalization = prep.model.spec.normalization;
  plan.input_mean = normalization.mean;
  plan.input_std = normalization.std;
  plan.raw_min = normalization.raw_min;
  plan.raw_max = normalization.raw_max;
  // Every configured metric checks that it can run on this network and data before anything is explained.
  for (const Metric* m : metric_table())
    if (m->config_key() != nullptr && plan.settings.count(m->config_key()))
      m->validate(plan.settings.at(m->config_key()), prep.model.network, prep.data.masks.rows() > 0);
  if (config.pixel_flipping) {
    const PixelFlippingConfig& pf = *config.pixel_flipping;
    const InputNormalization& norm = prep.model.spec.normalization;
    MetricPlan::PixelFlipping& p = plan.pixel_flipping.emplace();
    p.options = pf.options;
    p.options.threads = config.threads;
    p.fill_low = pf.low.value_or(norm.raw_min);
    p.fill_high = pf.high.value_or(norm.raw_max);
    p.fill_value = pf.value;
    FillValues raw;
    raw.low = {p.fill_low};
    raw.high = {p.fill_high};
    raw.constant = {p.fill_value};
    if (p.options.fill == PerturbationFill::kMean) raw.mean = prep.reference_mean;
    p.fill = fill_to_network_units(raw, prep.model.network.input_shape(), norm);
  }
  return plan;
}

}  // namespace

void prepare_run(RunState& run) {
  const ExperimentConfig& config = run.config;
  collectively(run.cluster, [&] { run.prepared.emplace(prepare_experiment(config, run.registry, true, run.cluster)); });
  const PreparedExperiment& prep = *run.prepared;
  const Network& network = prep.model.network;
  const Index n = prep.data.size();
  run.report.stage_seconds = prep.stage_seconds;
  run.report.samples = n;
  run.logits.resize(n, network.output_shape()[0]);
  run.targets.assign(static_cast<std::size_t>(n), 0);
  run.report.targets_per_sample = prep.targets_per_sample;
  run.chunk_count = (prep.samples + config.batch_size - 1) / config.batch_size;
  run.plan = metric_plan(config, prep);
  run.metric_run.emplace(MetricRun{run.plan, network, &run.prepared->model.network, prep.data.inputs,
                                   prep.data.indices, run.targets, prep.data.relevant, config.threads,
                                   &prep.data.masks});
  // The results' per-row arrays: [N] for one class per sample, [N, K] for a set of targets.
  if (config.target.kind != TargetSetSpec::Kind::kOne)
    run.metric_run->leading_rows = {prep.samples, prep.targets_per_sample};

  run.methods.reserve(prep.methods.size());
  for (const PreparedMethod& pm : prep.methods) {
    const bool evaluated =
        std::find(config.evaluated.begin(), config.evaluated.end(), pm.config->name) != config.evaluated.end();
    std::optional<Explainer> explainer;
    if (pm.config->lrp()) explainer.emplace(Explainer::from_composite(network, run.registry, pm.composite));
    run.methods.emplace_back(pm, evaluated, n, network.input_shape(), std::move(explainer), run.chunk_count);
    run.methods.back().reexplain = make_reexplain(pm, run.registry);
    if (pm.config->lrp())
      for (const Index l : prep.relevance_layers)
        run.methods.back().layer_maps.emplace_back(n, numel(network.value_shape(network.inputs_of(l)[0])));
    else if (!prep.relevance_layers.empty())
      logger()->info("output.layer_relevance: method '{}' is not LRP; it has relevance at the input only",
                     pm.config->name);
  }
  for (const Metric* metric : metric_table()) run.metrics.push_back(metric->applies(*run.metric_run) ? metric : nullptr);
  for (std::size_t i = 0; i < run.metrics.size(); ++i) {
    if (run.metrics[i] == nullptr || run.metrics[i]->when() != Metric::When::kWhileExplaining) continue;
    for (MethodRecord& record : run.methods) record.metrics[i] = run.metrics[i]->make_values(*run.metric_run, record.view());
  }
}

}  // namespace lrp
