// MethodRecord (run_state.hpp): one method's results, packed, unpacked and written from one list.
#include "run_state.hpp"

#include "lrp/io/hdf5.hpp"

#include <algorithm>
#include <sstream>

namespace lrp {

namespace {

std::string layer_rules_text(const Network& network, const PreparedMethod& p) {
  std::string text;
  for (std::size_t l = 0; l < p.assignments.size(); ++l) {
    const RuleAssignment& a = p.assignments[l];
    std::ostringstream line;
    line << network.layer(static_cast<Index>(l)).name() << ": " << a.choice.rule;
    if (!a.choice.params.values().empty()) line << "(" << a.choice.params.to_string() << ")";
    line << " [" << a.matched_by << "]\n";
    text += line.str();
  }
  return text;
}

}  // namespace

MethodRecord::MethodRecord(const PreparedMethod& method, bool is_evaluated, Index samples, const Shape& shape,
                           std::optional<Explainer> lrp_explainer, Index chunks)
    : prepared(&method),
      evaluated(is_evaluated),
      explainer(std::move(lrp_explainer)),
      relevance(samples, shape),
      input(samples),
      state_sum(Eigen::VectorXd::Zero(samples)),
      unit_seconds(static_cast<std::size_t>(chunks), 0.0),
      metrics(metric_table().size()) {}

MethodView MethodRecord::view() const {
  return MethodView{name(), evaluated, lrp(), explainer ? &explainer->ledger_shares() : nullptr,
                    relevance, input, state_sum, has_state, nonfinite, reexplain ? &reexplain : nullptr};
}

void MethodRecord::visit_explained(Archive& archive, Index chunk, Index begin, Index rows) {
  archive.value(unit_seconds[static_cast<std::size_t>(chunk)]);
  archive.any(has_state);
  archive.rows(relevance.data, begin, rows);
  for (Matrix& map : layer_maps) archive.rows(map, begin, rows);
  archive.range(state_sum, begin, rows);
  archive.range(input.input_sum, begin, rows);
  archive.range(input.output_seed, begin, rows);
  archive.range(input.relative_error, begin, rows);
  archive.range(input.nonfinite, begin, rows);
  for (std::size_t i = 0; i < metrics.size(); ++i)
    if (metrics[i] && metric_table()[i]->when() == Metric::When::kWhileExplaining) metrics[i]->visit(archive, begin, rows);
}

void MethodRecord::write(h5::File& f, const MetricRun& run, const Registry& registry, const Network& network,
                         const std::vector<Index>& layers) const {
  const MethodConfig& m = *prepared->config;
  const std::string g = "/explanations/" + m.name;
  // [N, …] or, with several targets per sample, [N, K, …] (MetricRun::row_shape)
  h5::Dims dims = h5::to_dims(run.row_shape());
  for (const Index s : relevance.shape) dims.push_back(static_cast<hsize_t>(s));
  f.write(g + "/relevance", relevance.data.data(), dims);  // Matrix is row-major: sample by sample
  f.set_string_attribute(g, "kind", m.kind);
  f.set_string_attribute(g, "base_name", m.base_name);
  if (!m.preset.empty()) f.set_string_attribute(g, "preset", m.preset);
  f.set_string_attribute(g, "maxpool_ties", to_string(m.maxpool_ties));
  f.set_string_attribute(g, "params", (m.lrp() && m.preset.empty() ? m.params : prepared->resolved).to_string());
  for (const auto& [name, value] : m.sweep_point) f.set_double_attribute(g, "sweep_" + name, value);
  if (m.lrp()) {
    f.set_string_attribute(g, "layer_rules", layer_rules_text(network, *prepared));
  } else {
    f.set_string_attribute(g, "origin", registry.method_info(m.kind).origin);
    f.set_uint_attribute(g, "seed", m.seed);
  }
  f.set_double_attribute(g, "seconds", explain_seconds);
  f.set_int_attribute(g, "nonfinite", nonfinite);
  if (has_state) f.write(g + "/initial_state", state_sum.data(), h5::to_dims(run.row_shape()));
  if (!layer_maps.empty()) {
    // /layers/<layer name>: the relevance at that layer's input, rows × the input's shape.
    f.create_group(g + "/layers");
    std::string names;
    for (std::size_t j = 0; j < layer_maps.size(); ++j) {
      const Index l = layers[j], value = network.inputs_of(l)[0];
      std::string dataset = network.layer(l).name();  // a '/' would nest groups: the attribute keeps the name
      std::replace(dataset.begin(), dataset.end(), '/', '_');
      if (dataset == ".") dataset = "_";
      const std::string d = g + "/layers/" + dataset;
      h5::Dims shape = h5::to_dims(run.row_shape());
      for (const Index s : network.value_shape(value)) shape.push_back(static_cast<hsize_t>(s));
      f.write(d, layer_maps[j].data(), shape);
      f.set_string_attribute(d, "layer", network.layer(l).name());
      f.set_string_attribute(d, "kind", network.layer(l).kind());
      f.set_int_attribute(d, "index", l);
      f.set_string_attribute(d, "at", "the layer's input");
      names += network.layer(l).name() + "\n";
    }
    f.set_string_attribute(g + "/layers", "layer_names", names);
  }
  const MethodView v = view();
  for (const auto& values : metrics)
    if (values) values->write(f, run, v);
}

}  // namespace lrp
