// Model descriptions in YAML (models/*.yaml, or inline in a config): reading them into a ModelSpec
// with positioned errors, writing a resolved spec back, and the `normalization:` mapping.
#pragma once

#include "lrp/nn/model.hpp"

#include <array>
#include <optional>
#include <string>
#include <vector>

namespace YAML {
class Node;
}

namespace lrp {

class Registry;

// A `normalization:` mapping ({mean, std, range}, each optional): the keys given replace those parts
// of a normalization (a config's model.normalization overrides what a model file or ONNX graph says).
struct NormalizationOverride {
  std::optional<std::vector<double>> mean, std;
  std::optional<std::array<double, 2>> range;
  void apply(InputNormalization& normalization) const;
};
// Reads one with positioned errors ("file:line:col: <what>.std ..."); validate the result against
// the model's channels with InputNormalization::validate.
NormalizationOverride read_normalization(const YAML::Node& node, const std::string& source, const std::string& what);
// A model description:
//   name: fmnist_cnn
//   input_shape: [1, 28, 28]
//   normalization: {mean: [0.286], std: [0.353], range: [0, 1]}   # optional (identity, [0, 1])
//   classes: [t-shirt, trouser, ...]                                # optional
//   layers:
//     - {kind: conv2d, name: conv1, out_channels: 16, kernel: 3, padding: 1}
//     - {kind: relu}
//     ...
// Errors name `source` (a file name) with the line and column, and suggest the closest valid key.
ModelSpec parse_model_spec(const YAML::Node& node, const std::string& source);
// The same, also checking every layer's keys against its kind's hyperparameters in `registry`
// (positioned errors for unknown kinds and misspelt keys).
ModelSpec parse_model_spec(const YAML::Node& node, const std::string& source, const Registry* registry);
ModelSpec read_model_spec(const std::string& path, const Registry* registry = nullptr);
// The resolved spec as YAML text that parse_model_spec reads back to the same spec.
std::string model_spec_to_yaml(const ModelSpec& spec);

}  // namespace lrp
