// Models: a network architecture as data (ModelSpec), the network built from it, the input
// normalization it expects and where it came from.
//
// Every way to get a model ends in the same place: a YAML description (models/*.yaml or inline in
// a config), lrplab's HDF5 model file and ONNX import all produce a ModelSpec, and build_model()
// turns a ModelSpec into a Network through the registry's layer factories. The spec kept in a
// Model is the *resolved* one: every layer has its unique name and every hyperparameter, including
// those inferred from the shape chain (dense `in`, conv2d `in_channels`, batchnorm `channels`, lstm
// `in` from a [T, D] input), so that saving it and building it again gives the same network.
#pragma once

#include "lrp/core/limits.hpp"
#include "lrp/nn/network.hpp"
#include "lrp/core/params.hpp"

#include <cstdint>
#include <string>
#include <vector>

namespace lrp {

class Registry;

struct LayerSpec {
  std::string kind;  // a registered layer kind: "dense", "conv2d", ...
  std::string name;  // unique in the model; empty in a description: "<kind><index>" is used
  ParamMap params;   // hyperparameters (the kind's ParamSpecs); booleans are 0/1
  // The earlier layers whose outputs it reads ("input": the model's input); empty: the previous
  // layer's (Network::add).
  std::vector<std::string> inputs = {};
  // Where the entry is written ("file:line:column"), for messages; empty when not from a file.
  std::string at = {};
};

// The network sees (raw − mean[c]) / std[c] on input channel c (channel = first axis of the
// per-sample shape; a single value applies to every channel). raw_min/raw_max is the range of raw
// data values (pixels: [0, 1]): the z^B bounds and the pixel-flipping fills are stated in raw
// units and mapped through this.
struct InputNormalization {
  std::vector<double> mean{0.0};
  std::vector<double> std{1.0};
  double raw_min = 0.0;
  double raw_max = 1.0;
  // Where it came from, for people ("the model description", "folded from the ONNX graph: ...",
  // "config.yaml:7:5 (model.normalization) over ..."); stored in model files, not part of the maths.
  std::string origin;

  bool is_identity() const;
  // Throws lrp::Error (prefixed by `where`) unless mean/std have 1 or `channels` values, std > 0,
  // all finite and raw_min < raw_max.
  void validate(Index channels, const std::string& where) const;
  // The per-channel value for channel c.
  double mean_of(Index c) const { return mean.size() == 1 ? mean[0] : mean[static_cast<std::size_t>(c)]; }
  double std_of(Index c) const { return std.size() == 1 ? std[0] : std[static_cast<std::size_t>(c)]; }
};

struct ModelSpec {
  std::string name;                       // e.g. "fmnist_cnn"
  Shape input_shape;                      // per sample, e.g. {1, 28, 28}
  std::vector<LayerSpec> layers;
  InputNormalization normalization;
  std::vector<std::string> class_names;   // optional: one per output, or empty
};

// Where a model's weights came from (stored in the model file).
struct Provenance {
  std::string source;         // "trained by lrplab", "imported from <file>", "initialized", ...
  std::string config;         // the resolved YAML of the run that produced it (may be empty)
  std::uint64_t seed = 0;
  Index epochs = 0;
  double train_accuracy = -1;       // -1: unknown
  double validation_accuracy = -1;
  double test_accuracy = -1;
  std::string lrplab_version;  // of the program that wrote it
  std::string created;         // ISO 8601 UTC time
};

// The current time as ISO 8601 UTC ("2026-11-26T16:21:33Z"), for provenance records.
std::string utc_now();

struct Model {
  ModelSpec spec;  // resolved (see above)
  Network network;
  Provenance provenance;
};

// Builds the network a spec describes with zero parameters: checks the layer kinds against the
// registry, fills the hyperparameters the shape chain determines when they are missing (dense `in`,
// conv2d `in_channels`, batchnorm `channels`, lstm `in` = D of a [T, D] input) and checks them when
// given, names unnamed layers "<kind><index>", and configures every layer (an architecture whose
// shapes don't chain is an lrp::Error naming the layer). Returns the resolved spec with the network.
// Before each layer is made, the memory the model will need (model_bytes of the parameter counts
// the layer kinds declare and of one sample's activations) is checked against limits.memory.
Model build_model(const ModelSpec& spec, const Registry& registry, const Limits& limits = {});
// The memory a model needs to be trained or explained one sample at a time: parameters with their
// working copies and one sample's activations with their gradients and scratch.
std::uint64_t model_bytes(std::uint64_t parameter_values, std::uint64_t activation_values);

// Parameter initialization, seeded: one std::mt19937_64 stream that every layer's
// Layer::initialize draws from in layer order (normal draws by Box–Muller so the values are the same
// with every standard library). The built-in kinds: fan_in / fan_out are PyTorch's (dense: in / out;
// conv2d: in/groups·kh·kw / out/groups·kh·kw),
//   he_normal:      W ~ N(0, 2 / fan_in)        he_uniform:     W ~ U(±sqrt(6 / fan_in))
//   glorot_normal:  W ~ N(0, 2 / (fan_in + fan_out))   glorot_uniform: W ~ U(±sqrt(6 / (fan_in + fan_out)))
// with zero biases; batch norm gets γ = 1, β = 0, running mean 0 and variance 1. LSTM layers ignore
// the scheme and get PyTorch's nn.LSTM initialization: every weight and bias entry ~ U(±1/√H)
// (H = hidden size), drawn in packing order (the weight row, then the bias); embedding ignores it
// too and gets nn.Embedding's N(0, 1). InitScheme itself is in layer.hpp.
InitScheme parse_init_scheme(const std::string& name);  // lrp::Error listing the valid names
std::string init_scheme_name(InitScheme scheme);
void initialize_parameters(Network& network, InitScheme scheme, std::uint64_t seed);

// raw → what the network expects: (raw − mean[c]) / std[c] per channel, for a batch of samples of
// the model's input shape (throws lrp::Error on a shape mismatch).
Tensor normalize_inputs(const Tensor& raw, const InputNormalization& normalization);
// A raw value of channel c in network units.
double to_network_units(double raw, Index channel, const InputNormalization& normalization);

// "mean [0.286], std [0.353], raw range [0, 1]"
std::string describe(const InputNormalization& normalization);

}  // namespace lrp
