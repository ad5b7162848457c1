// Model descriptions in YAML: parsing with positioned errors, and emitting a resolved spec.
#include "lrp/io/model_yaml.hpp"
#include "lrp/core/error.hpp"
#include "lrp/nn/model.hpp"
#include "lrp/registry/registry.hpp"
#include "lrp/io/yaml_util.hpp"

namespace lrp {

namespace {

const std::vector<std::string> kModelKeys{"name", "input_shape", "normalization", "classes", "layers"};
const std::vector<std::string> kNormalizationKeys{"mean", "std", "range"};

}  // namespace

void NormalizationOverride::apply(InputNormalization& n) const {
  if (mean) n.mean = *mean;
  if (std) n.std = *std;
  if (range) n.raw_min = (*range)[0], n.raw_max = (*range)[1];
}

NormalizationOverride read_normalization(const YAML::Node& node, const std::string& source, const std::string& what) {
  using namespace yaml;
  LRP_CHECK(node.IsMap(), where(node, source), ": ", what, " must be a mapping {mean: [...], std: [...], range: [low, high]}");
  check_keys(node, kNormalizationKeys, source, what);
  NormalizationOverride o;
  if (node["mean"]) o.mean = numbers(node["mean"], source, what + ".mean");
  if (node["std"]) {
    o.std = numbers(node["std"], source, what + ".std");
    for (const double s : *o.std)
      LRP_CHECK(s > 0, where(node["std"], source), ": ", what, ".std must hold values > 0 (one, or one per input channel), got ", s);
  }
  if (node["range"]) {
    const ParamValue range = numbers(node["range"], source, what + ".range");
    LRP_CHECK(range.size() == 2 && range[0] < range[1], where(node["range"], source), ": ", what,
              ".range must be [low, high] with low < high (the raw data range)");
    o.range = std::array<double, 2>{range[0], range[1]};
  }
  return o;
}

ModelSpec parse_model_spec(const YAML::Node& node, const std::string& source, const Registry* registry) {
  using namespace yaml;
  return guarded(source, [&] {
    LRP_CHECK(node && node.IsMap(), where(node, source), ": a model description must be a mapping with the keys ",
              "input_shape and layers (and optionally name, normalization, classes)");
    check_keys(node, kModelKeys, source, "the model description");
    require(node, "input_shape", source, "the model description");
    require(node, "layers", source, "the model description");

    ModelSpec spec;
    if (node["name"]) spec.name = yaml::name(node["name"], source, "name");
    const YAML::Node shape = node["input_shape"];
    LRP_CHECK(shape.IsSequence() && shape.size() > 0, where(shape, source),
              ": input_shape must be a list of dimensions such as [1, 28, 28]");
    for (std::size_t i = 0; i < shape.size(); ++i)
      spec.input_shape.push_back(whole(shape[i], source, "input_shape[" + std::to_string(i) + "]", 1));

    if (const YAML::Node norm = node["normalization"]) {
      read_normalization(norm, source, "normalization").apply(spec.normalization);
      spec.normalization.validate(spec.input_shape[0], where(norm, source));
      spec.normalization.origin = "the model description";
    } else {
      spec.normalization.origin = "identity: the model description gives none";
    }
    if (const YAML::Node classes = node["classes"]) {
      LRP_CHECK(classes.IsSequence(), where(classes, source), ": classes must be a list of names");
      for (std::size_t i = 0; i < classes.size(); ++i)
        spec.class_names.push_back(yaml::name(classes[i], source, "classes[" + std::to_string(i) + "]"));
    }

    const YAML::Node layers = node["layers"];
    LRP_CHECK(layers.IsSequence() && layers.size() > 0, where(layers, source),
              ": layers must be a non-empty list of {kind: ..., ...} entries");
    for (std::size_t i = 0; i < layers.size(); ++i) {
      const YAML::Node entry = layers[i];
      const std::string what = "layers[" + std::to_string(i) + "]";
      LRP_CHECK(entry.IsMap(), where(entry, source), ": ", what, " must be a mapping such as {kind: relu}");
      require(entry, "kind", source, what);
      LayerSpec layer;
      layer.kind = string(entry["kind"], source, what + ".kind");
      layer.at = where(entry, source);
      std::vector<std::string> allowed{"kind", "name", "inputs"};
      if (registry) {
        try {
          for (const ParamSpec& p : registry->layer_info(layer.kind).params) allowed.push_back(p.name);
        } catch (const Error& e) {
          LRP_FAIL(where(entry["kind"], source), ": ", e.what());
        }
        check_keys(entry, allowed, source, what + " (" + layer.kind + ")");
      }
      for (const auto& kv : entry) {
        const std::string key = kv.first.as<std::string>();
        if (key == "kind") continue;
        if (key == "name") {
          layer.name = yaml::name(kv.second, source, what + ".name");
          continue;
        }
        if (key == "inputs") {
          const YAML::Node list = kv.second;
          LRP_CHECK((list.IsSequence() && list.size() > 0) || list.IsScalar(), where(list, source), ": ", what,
                    ".inputs must be a layer name or a non-empty list of them (input: the model's input)");
          if (list.IsScalar()) layer.inputs.push_back(yaml::name(list, source, what + ".inputs"));
          for (std::size_t k = 0; list.IsSequence() && k < list.size(); ++k)
            layer.inputs.push_back(yaml::name(list[k], source, what + ".inputs[" + std::to_string(k) + "]"));
          continue;
        }
        layer.params.set(key, numbers(kv.second, source, what + "." + key));
      }
      spec.layers.push_back(std::move(layer));
    }
    return spec;
  });
}

ModelSpec parse_model_spec(const YAML::Node& node, const std::string& source) {
  return parse_model_spec(node, source, nullptr);
}

ModelSpec read_model_spec(const std::string& path, const Registry* registry) {
  return parse_model_spec(yaml::load_file(path), path, registry);
}

std::string model_spec_to_yaml(const ModelSpec& spec) {
  YAML::Emitter out;
  out << YAML::BeginMap;
  if (!spec.name.empty()) out << YAML::Key << "name" << YAML::Value << spec.name;
  out << YAML::Key << "input_shape" << YAML::Value << YAML::Flow << YAML::BeginSeq;
  for (Index d : spec.input_shape) out << d;
  out << YAML::EndSeq;
  out << YAML::Key << "normalization" << YAML::Value << YAML::Flow << YAML::BeginMap;
  out << YAML::Key << "mean" << YAML::Value;
  yaml::emit_value(out, spec.normalization.mean);
  out << YAML::Key << "std" << YAML::Value;
  yaml::emit_value(out, spec.normalization.std);
  out << YAML::Key << "range" << YAML::Value;
  yaml::emit_value(out, {spec.normalization.raw_min, spec.normalization.raw_max});
  out << YAML::EndMap;
  if (!spec.class_names.empty()) {
    out << YAML::Key << "classes" << YAML::Value << YAML::Flow << YAML::BeginSeq;
    for (const std::string& c : spec.class_names) out << c;
    out << YAML::EndSeq;
  }
  out << YAML::Key << "layers" << YAML::Value << YAML::BeginSeq;
  for (const LayerSpec& layer : spec.layers) {
    out << YAML::Flow << YAML::BeginMap << YAML::Key << "kind" << YAML::Value << layer.kind;
    if (!layer.name.empty()) out << YAML::Key << "name" << YAML::Value << layer.name;
    if (!layer.inputs.empty()) {
      out << YAML::Key << "inputs" << YAML::Value << YAML::Flow << YAML::BeginSeq;
      for (const std::string& in : layer.inputs) out << in;
      out << YAML::EndSeq;
    }
    for (const auto& [key, value] : layer.params.values()) {
      out << YAML::Key << key << YAML::Value;
      yaml::emit_value(out, value);
    }
    out << YAML::EndMap;
  }
  out << YAML::EndSeq << YAML::EndMap;
  LRP_CHECK(out.good(), "model_spec_to_yaml: ", out.GetLastError());
  return std::string(out.c_str()) + "\n";
}

}  // namespace lrp
