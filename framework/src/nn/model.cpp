// Models: building a network from a spec, parameter initialization, input normalization, and
// opening a model file of any supported kind. See model.hpp.
#include "lrp/nn/model.hpp"

#include "lrp/core/error.hpp"
#include "lrp/core/files.hpp"
#include "lrp/core/limits.hpp"
#include "lrp/registry/registry.hpp"

#include <chrono>
#include <cmath>
#include <ctime>
#include <fstream>
#include <random>
#include <set>
#include <sstream>

namespace lrp {

std::string utc_now() {
  const std::time_t t = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buffer[32];
  std::strftime(buffer, sizeof buffer, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buffer;
}

bool InputNormalization::is_identity() const {
  for (double m : mean)
    if (m != 0.0) return false;
  for (double s : std)
    if (s != 1.0) return false;
  return true;
}

std::string describe(const InputNormalization& n) {
  std::ostringstream s;
  auto list = [&](const std::vector<double>& v) {
    s << "[";
    for (std::size_t i = 0; i < v.size(); ++i) s << (i ? ", " : "") << v[i];
    s << "]";
  };
  s << "mean ";
  list(n.mean);
  s << ", std ";
  list(n.std);
  s << ", raw range [" << n.raw_min << ", " << n.raw_max << "]";
  return s.str();
}

void InputNormalization::validate(Index channels, const std::string& where) const {
  auto check_list = [&](const std::vector<double>& v, const char* key) {
    LRP_CHECK(v.size() == 1 || static_cast<Index>(v.size()) == channels, where, ": normalization ", key, " has ",
              v.size(), " values; expected 1 or one per input channel (", channels, ")");
    for (double x : v) LRP_CHECK(std::isfinite(x), where, ": normalization ", key, " holds a non-finite value");
  };
  check_list(mean, "mean");
  check_list(std, "std");
  for (double s : std) LRP_CHECK(s > 0, where, ": normalization std must be > 0, got ", s);
  LRP_CHECK(std::isfinite(raw_min) && std::isfinite(raw_max) && raw_min < raw_max, where,
            ": normalization range [", raw_min, ", ", raw_max, "] must be finite with low < high");
}

std::uint64_t model_bytes(std::uint64_t parameter_values, std::uint64_t activation_values) {
  // Parameters: the weights, a rule's modified copy, a gradient and two optimizer moments; one
  // sample's activations: the forward pass, its gradient and the LRP step's scratch.
  return saturating_mul(saturating_add(saturating_mul(parameter_values, 4), saturating_mul(activation_values, 8)),
                        sizeof(Scalar));
}

Model build_model(const ModelSpec& spec, const Registry& registry, const Limits& limits) {
  const std::string model_name = spec.name.empty() ? std::string("model") : "model '" + spec.name + "'";
  LRP_CHECK(!spec.input_shape.empty(), model_name, ": input_shape is empty");
  std::uint64_t activations = static_cast<std::uint64_t>(checked_numel(spec.input_shape, model_name + ": input_shape"));
  std::uint64_t parameters = 0;
  LRP_CHECK(!spec.layers.empty(), model_name, ": it has no layers");
  spec.normalization.validate(spec.input_shape[0], model_name);
  LRP_CHECK(spec.class_names.empty() || spec.class_names.size() >= 2, model_name, ": classes lists ",
            spec.class_names.size(), " name; give one per output or none");

  Model model{spec, Network(spec.input_shape), {}};
  ModelSpec& resolved = model.spec;
  std::set<std::string> names;
  for (std::size_t i = 0; i < resolved.layers.size(); ++i) {
    LayerSpec& layer = resolved.layers[i];
    if (layer.name.empty()) layer.name = layer.kind + std::to_string(i);
    LRP_CHECK(names.insert(layer.name).second, model_name, ": two layers are named '", layer.name, "'");
    const std::string owner = (layer.at.empty() ? "" : layer.at + ": ") + model_name + ", layer " + std::to_string(i) +
                              " '" + layer.name + "' (" + layer.kind + ")";
    try {
      // The shape of the (first) value it reads, for the kind's inference and parameter count.
      const Index read =
          layer.inputs.empty() ? model.network.size() : model.network.value_of(layer.inputs[0], layer.name, layer.kind);
      const Shape& in = model.network.value_shape(read);
      const LayerInfo& info = registry.layer_info(layer.kind);
      if (info.from_input) info.from_input(layer.params, in, owner);
      // Keep every hyperparameter, defaults included, so the saved spec is complete.
      layer.params = resolve_params(info.params, layer.params, owner);
      // What it will hold, checked before it is made.
      if (info.parameter_count) parameters = saturating_add(parameters, info.parameter_count(layer.params, in));
      check_memory(model_bytes(parameters, activations), limits,
                   "the model up to this layer (its parameters with working copies, one sample's activations)");
      try {
        model.network.add(registry.make_layer(layer.kind, layer.params), layer.name, layer.inputs);
      } catch (const std::bad_alloc&) {
        LRP_FAIL("out of memory while making the layer (", layer.params.to_string(), ")");
      }
      activations = saturating_add(activations, static_cast<std::uint64_t>(checked_numel(
                                                    model.network.output_shape(), "the layer's output")));
    } catch (const Error& e) {
      std::string what = e.what();
      if (what.rfind(owner, 0) == 0) throw;
      // The network names the layer too: once is enough.
      const std::string network_prefix = "network: layer '" + layer.name + "' (" + layer.kind + ")";
      if (what.rfind(network_prefix, 0) == 0) throw Error(owner + what.substr(network_prefix.size()));
      throw Error(owner + ": " + what);
    }
  }
  model.network.check_outputs_used(model_name);
  const Shape& out = model.network.output_shape();
  LRP_CHECK(out.size() == 1, model_name, ": the last layer's output has shape ", to_string(out),
            "; a classifier must end in a flat vector of logits");
  LRP_CHECK(spec.class_names.empty() || static_cast<Index>(spec.class_names.size()) == out[0], model_name,
            ": classes lists ", spec.class_names.size(), " names for ", out[0], " outputs");
  return model;
}

InitScheme parse_init_scheme(const std::string& name) {
  if (name == "he_normal") return InitScheme::kHeNormal;
  if (name == "he_uniform") return InitScheme::kHeUniform;
  if (name == "glorot_normal") return InitScheme::kGlorotNormal;
  if (name == "glorot_uniform") return InitScheme::kGlorotUniform;
  const std::vector<std::string> known{"he_normal", "he_uniform", "glorot_normal", "glorot_uniform"};
  const std::string close = closest_name(name, known);
  LRP_FAIL("unknown initialization '", name, "'; expected one of he_normal, he_uniform, glorot_normal, glorot_uniform",
           close.empty() ? "" : " (did you mean '" + close + "'?)");
}

std::string init_scheme_name(InitScheme scheme) {
  switch (scheme) {
    case InitScheme::kHeNormal: return "he_normal";
    case InitScheme::kHeUniform: return "he_uniform";
    case InitScheme::kGlorotNormal: return "glorot_normal";
    case InitScheme::kGlorotUniform: return "glorot_uniform";
  }
  return "?";
}

void initialize_parameters(Network& network, InitScheme scheme, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  for (Index l = 0; l < network.size(); ++l) network.layer(l).initialize(scheme, rng);
}

double to_network_units(double raw, Index channel, const InputNormalization& n) {
  return (raw - n.mean_of(channel)) / n.std_of(channel);
}

Tensor normalize_inputs(const Tensor& raw, const InputNormalization& n) {
  LRP_CHECK(!raw.shape.empty(), "normalize_inputs: samples have an empty shape");
  const Index channels = raw.shape[0];
  n.validate(channels, "normalize_inputs");
  Tensor out = raw;
  if (n.is_identity()) return out;
  const Index per_channel = numel(raw.shape) / channels;
  for (Index r = 0; r < out.data.rows(); ++r)
    for (Index c = 0; c < channels; ++c) {
      const Scalar m = static_cast<Scalar>(n.mean_of(c));
      const Scalar inv = static_cast<Scalar>(1.0 / n.std_of(c));
      auto block = out.data.row(r).segment(c * per_channel, per_channel);
      block.array() = (block.array() - m) * inv;
    }
  return out;
}

}  // namespace lrp
