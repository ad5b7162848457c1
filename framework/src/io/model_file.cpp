// lrplab's HDF5 model file: save_model and load_model (see model.hpp; the layout is in the README).
//
//   /                      attributes: format = "lrplab-model", format_version = 1, name, source,
//                          config, seed, epochs, train_accuracy, validation_accuracy, test_accuracy,
//                          lrplab_version, created, normalization_origin (where the normalization in
//                          the architecture came from; optional)
//   /architecture          string: the resolved model description in YAML (model_spec_to_yaml)
//   /weights/<layer>/<array>  each array the layer lists in Layer::stored_arrays(), in PyTorch's
//                          name and shape, float32 or float64: weight, bias (PyTorch shapes);
//                          batch norm adds its buffers running_mean, running_var; an lstm stores
//                          weight_ih_l0, weight_hh_l0, bias_ih_l0, bias_hh_l0, ..._reverse (one
//                          dataset per PyTorch parameter, not the packed row)
#include "lrp/io/onnx.hpp"
#include "lrp/io/model_file.hpp"
#include "lrp/io/model_yaml.hpp"
#include "lrp/core/error.hpp"
#include "lrp/core/files.hpp"
#include "lrp/io/hdf5.hpp"
#include "lrp/nn/model.hpp"
#include "lrp/registry/registry.hpp"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <fstream>
#include <chrono>
#include <cmath>
#include <ctime>
#include <limits>
#include <map>
#include <set>

namespace lrp {

namespace {

constexpr const char* kWhat = "model file";
constexpr const char* kFormat = "lrplab-model";
constexpr std::int64_t kFormatVersion = 1;
constexpr const char* kArchitecture = "/architecture";
constexpr const char* kWeights = "/weights";

std::string describe_layer(const Layer& layer) { return "layer '" + layer.name() + "' (" + layer.kind() + ")"; }

// Whether the file holds weights for this layer: every layer that lists stored arrays (layers with
// trainable parameters; average pooling's implicit kernel is rebuilt from the architecture instead).
bool stores_weights(const Layer& layer) { return !layer.stored_arrays().empty(); }

std::string join(const std::vector<std::string>& items) {
  std::string out;
  for (const std::string& s : items) out += (out.empty() ? "" : ", ") + s;
  return out;
}


// Where a stored array's values live: in p's weight or bias, or in one of `buffers`.
template <typename P, typename B>
auto* home_of(const StoredArray& a, P& p, B& buffers) {
  switch (a.home) {
    case StoredArray::Home::kWeight: return p.weight.data() + a.offset;
    case StoredArray::Home::kBias: return p.bias.data() + a.offset;
    case StoredArray::Home::kBuffer: break;
  }
  return buffers[static_cast<std::size_t>(a.buffer)].data() + a.offset;
}

// The network must be the one its spec describes (same layers, names and kinds, in order): a
// canonized network, whose batch norms became identities, is not.
void check_matches_spec(const Model& model, const std::string& path) {
  const Network& net = model.network;
  const ModelSpec& spec = model.spec;
  const std::string where = std::string("cannot save ") + kWhat + " '" + path + "'";
  LRP_CHECK(net.size() == static_cast<Index>(spec.layers.size()), where, ": the network has ", net.size(),
            " layers but its spec describes ", spec.layers.size(), "; save the model as built by build_model");
  LRP_CHECK(net.input_shape() == spec.input_shape, where, ": the network's input shape ", to_string(net.input_shape()),
            " differs from the spec's ", to_string(spec.input_shape));
  for (Index l = 0; l < net.size(); ++l) {
    const Layer& layer = net.layer(l);
    const LayerSpec& ls = spec.layers[static_cast<std::size_t>(l)];
    LRP_CHECK(layer.name() == ls.name && layer.kind() == ls.kind, where, ": layer ", l, " is '", layer.name(), "' (",
              layer.kind(), ") but the spec says '", ls.name, "' (", ls.kind,
              "); save the model before canonizing it, as built by build_model");
    LRP_CHECK(!layer.name().empty() && layer.name().find('/') == std::string::npos && layer.name() != "." &&
                  layer.name() != "..",
              where, ": layer name '", layer.name(), "' cannot name an HDF5 group (no '/', not empty, '.' or '..')");
  }
}

void write_file(h5::File& file, const Model& model) {
  const Provenance& p = model.provenance;
  file.set_string_attribute("/", "format", kFormat);
  file.set_int_attribute("/", "format_version", kFormatVersion);
  file.set_string_attribute("/", "name", model.spec.name);
  file.set_string_attribute("/", "source", p.source);
  file.set_string_attribute("/", "config", p.config);
  file.set_uint_attribute("/", "seed", p.seed);
  file.set_int_attribute("/", "epochs", static_cast<std::int64_t>(p.epochs));
  file.set_double_attribute("/", "train_accuracy", p.train_accuracy);
  file.set_double_attribute("/", "validation_accuracy", p.validation_accuracy);
  file.set_double_attribute("/", "test_accuracy", p.test_accuracy);
  file.set_string_attribute("/", "lrplab_version", p.lrplab_version.empty() ? std::string(LRP_VERSION) : p.lrplab_version);
  file.set_string_attribute("/", "created", p.created.empty() ? utc_now() : p.created);
  file.write_string(kArchitecture, model_spec_to_yaml(model.spec));
  if (!model.spec.normalization.origin.empty())
    file.set_string_attribute("/", "normalization_origin", model.spec.normalization.origin);

  file.create_group(kWeights);
  const Network& net = model.network;
  for (Index l = 0; l < net.size(); ++l) {
    const Layer& layer = net.layer(l);
    const std::vector<StoredArray> arrays = layer.stored_arrays();
    if (arrays.empty()) continue;
    const std::string group = std::string(kWeights) + "/" + layer.name();
    file.create_group(group);
    const std::vector<Vector> buffers = layer.buffers();
    for (const StoredArray& a : arrays)
      file.write<Scalar>(group + "/" + a.name, home_of(a, layer.params(), buffers), h5::to_dims(a.shape));
  }
}

// ---------------------------------------------------------------- loading

// Runs fn; an lrp::Error that does not name the file yet gets the file's prefix.
template <typename Fn>
auto naming_file(const h5::File& file, Fn&& fn) -> decltype(fn()) {
  try {
    return fn();
  } catch (const Error& e) {
    const std::string what = e.what();
    if (what.find(file.path()) != std::string::npos) throw;
    throw Error(file.where() + ": " + what);
  }
}

void check_format(const h5::File& file) {
  if (!file.has_attribute("/", "format"))
    file.fail(std::string("is not an lrplab model file: it has no root attribute 'format' (expected format = '") +
              kFormat + "')");
  const h5::TypeInfo type = file.attribute_type("/", "format");
  if (type.type_class != h5::TypeClass::kString)
    file.fail("root attribute 'format' has type " + type.name() + "; expected the string '" + kFormat + "'");
  const std::string format = file.string_attribute("/", "format");
  if (format != kFormat)
    file.fail("is not an lrplab model file: root attribute 'format' is '" + format + "'; expected '" + kFormat + "'");
  if (!file.has_attribute("/", "format_version"))
    file.fail("has no root attribute 'format_version'; expected format_version = " + std::to_string(kFormatVersion));
  const std::int64_t version = file.int_attribute("/", "format_version");
  if (version != kFormatVersion)
    file.fail("format_version " + std::to_string(version) + " is not supported; this lrplab (" + LRP_VERSION +
              ") reads format_version " + std::to_string(kFormatVersion));
}

// The architecture YAML: the dataset /architecture, or (as h5py users may write it) a root attribute.
std::string read_architecture(const h5::File& file) {
  const h5::ObjectKind kind = file.kind(kArchitecture);
  if (kind == h5::ObjectKind::kDataset) return file.read_string(kArchitecture);
  if (kind != h5::ObjectKind::kMissing) file.fail("'/architecture' is not a dataset; expected a string dataset");
  if (file.has_attribute("/", "architecture")) return file.string_attribute("/", "architecture");
  file.fail("has no architecture: expected a string dataset '/architecture' (or root attribute 'architecture') "
            "holding the model description in YAML");
}

ModelSpec parse_architecture(const h5::File& file, const std::string& text) {
  const std::string source = file.path() + ":/architecture";
  YAML::Node node;
  try {
    node = YAML::Load(text);
  } catch (const YAML::Exception& e) {
    const std::string at = e.mark.is_null() ? source
                                            : source + ":" + std::to_string(e.mark.line + 1) + ":" +
                                                  std::to_string(e.mark.column + 1);
    file.fail("the architecture is not valid YAML: " + at + ": " + e.msg);
  }
  return naming_file(file, [&] { return parse_model_spec(node, source); });
}

std::string optional_string(const h5::File& file, const char* name) {
  return file.has_attribute("/", name) ? file.string_attribute("/", name) : std::string();
}

double optional_accuracy(const h5::File& file, const char* name) {
  if (!file.has_attribute("/", name)) return -1;
  const double v = file.double_attribute("/", name);
  if (!(v == -1 || (v >= 0 && v <= 1)))
    file.fail(std::string("root attribute '") + name + "' is " + detail::concat(v) +
              "; expected an accuracy in [0, 1], or -1 for unknown");
  return v;
}

Provenance read_provenance(const h5::File& file) {
  Provenance p;
  p.source = optional_string(file, "source");
  p.config = optional_string(file, "config");
  if (file.has_attribute("/", "seed")) p.seed = file.uint_attribute("/", "seed");
  if (file.has_attribute("/", "epochs")) {
    const std::int64_t epochs = file.int_attribute("/", "epochs");
    if (epochs < 0) file.fail("root attribute 'epochs' is " + std::to_string(epochs) + "; expected a count ≥ 0");
    p.epochs = static_cast<Index>(epochs);
  }
  p.train_accuracy = optional_accuracy(file, "train_accuracy");
  p.validation_accuracy = optional_accuracy(file, "validation_accuracy");
  p.test_accuracy = optional_accuracy(file, "test_accuracy");
  p.lrplab_version = optional_string(file, "lrplab_version");
  p.created = optional_string(file, "created");
  return p;
}

// One stored parameter array: a float dataset of exactly `dims`, all finite.
std::vector<Scalar> read_parameter(const h5::File& file, const std::string& dataset, const h5::Dims& dims,
                                   const Layer& layer) {
  if (file.kind(dataset) == h5::ObjectKind::kMissing)
    file.fail("dataset '" + dataset + "' is missing; " + describe_layer(layer) + " needs it with shape " +
              h5::to_string(dims));
  const h5::DatasetInfo info = file.dataset_info(dataset);
  if (info.type.type_class != h5::TypeClass::kFloat)
    file.fail("dataset '" + dataset + "' has type " + info.type.name() + "; expected float32 or float64");
  if (info.shape != dims) {
    const bool transposed = dims.size() == 2 && info.shape.size() == 2 && info.shape[0] == dims[1] &&
                            info.shape[1] == dims[0];
    file.fail("dataset '" + dataset + "' has shape " + h5::to_string(info.shape) + ", expected " + h5::to_string(dims) +
              (transposed ? " (it looks transposed; lrplab stores PyTorch's [out, in] layout)" : "") + " for " +
              describe_layer(layer) + ": " + layer.describe());
  }
  std::vector<Scalar> values = file.read<Scalar>(dataset);
  for (std::size_t i = 0; i < values.size(); ++i)
    if (!std::isfinite(values[i]))
      file.fail("dataset '" + dataset + "' contains " + (std::isnan(values[i]) ? "NaN" : "Inf") + " (element " +
                std::to_string(i) + "); weights must be finite");
  return values;
}

// The message for datasets in a layer's group that it does not store. A layer with a storage note
// (its datasets are slices of packed parameters, as an lstm's) gets each dataset's path and shape,
// and the shapes it expects, so that the blocks of another architecture are recognizable.
void fail_unknown_entries(const h5::File& file, const Layer& layer, const std::string& group,
                          const std::vector<StoredArray>& arrays, const std::vector<std::string>& children) {
  const std::string note = layer.storage_note();
  const bool detailed = !note.empty();
  std::vector<std::string> expected, unknown;
  for (const StoredArray& a : arrays) expected.push_back(a.name);
  for (const std::string& child : children) {
    if (std::find(expected.begin(), expected.end(), child) != expected.end()) continue;
    const std::string path = group + "/" + child;
    const bool shaped = detailed && file.kind(path) == h5::ObjectKind::kDataset;
    unknown.push_back("'" + (detailed ? path : child) + "'" +
                      (shaped ? " with shape " + h5::to_string(file.dataset_info(path).shape) : ""));
  }
  if (unknown.empty()) return;
  std::string why = note, stores;
  if (detailed) {
    for (const StoredArray& a : arrays)
      stores += (stores.empty() ? "" : ", ") + a.name + " " + h5::to_string(h5::to_dims(a.shape));
  } else {
    if (!layer.params().has_bias() && std::find(unknown.begin(), unknown.end(), "'bias'") != unknown.end())
      why = " (the layer is declared without bias)";
    stores = join(expected);
  }
  file.fail("group '" + group + "' holds unknown entries " + join(unknown) + why + "; " + describe_layer(layer) +
            " stores " + stores);
}

void load_layer(const h5::File& file, Layer& layer) {
  const std::string group = std::string(kWeights) + "/" + layer.name();
  const h5::ObjectKind kind = file.kind(group);
  if (kind == h5::ObjectKind::kMissing)
    file.fail("has no weights for " + describe_layer(layer) + ": group '" + group + "' is missing");
  if (kind != h5::ObjectKind::kGroup) file.fail("'" + group + "' is not a group; expected the weights of " +
                                                describe_layer(layer));
  const std::vector<StoredArray> arrays = layer.stored_arrays();
  fail_unknown_entries(file, layer, group, arrays, file.children(group));

  Params params = layer.params();
  std::vector<Vector> buffers = layer.buffers();
  bool has_buffers = false;
  for (const StoredArray& a : arrays) {
    const std::string dataset = group + "/" + a.name;
    const std::vector<Scalar> values = read_parameter(file, dataset, h5::to_dims(a.shape), layer);
    if (!a.non_negative.empty())
      for (std::size_t i = 0; i < values.size(); ++i)
        if (values[i] < 0)
          file.fail("dataset '" + dataset + "' holds " + detail::concat(values[i]) + " (element " + std::to_string(i) +
                    "); " + a.non_negative + " must be ≥ 0");
    std::copy(values.begin(), values.end(), home_of(a, params, buffers));
    has_buffers = has_buffers || a.home == StoredArray::Home::kBuffer;
  }
  naming_file(file, [&] { layer.set_params(std::move(params)); });
  if (has_buffers) naming_file(file, [&] { layer.set_buffers(std::move(buffers)); });
}

void load_weights(const h5::File& file, Network& net) {
  std::vector<std::string> with_weights;
  std::map<std::string, const Layer*> by_name;
  for (Index l = 0; l < net.size(); ++l) {
    by_name[net.layer(l).name()] = &net.layer(l);
    if (stores_weights(net.layer(l))) with_weights.push_back(net.layer(l).name());
  }
  const h5::ObjectKind kind = file.kind(kWeights);
  if (kind == h5::ObjectKind::kMissing) {
    if (with_weights.empty()) return;
    file.fail("has no group '/weights'; expected the weights of layers " + join(with_weights));
  }
  if (kind != h5::ObjectKind::kGroup) file.fail("'/weights' is not a group; expected a group of weight groups");

  std::vector<std::string> unknown, without;
  for (const std::string& child : file.children(kWeights)) {
    const auto found = by_name.find(child);
    if (found == by_name.end())
      unknown.push_back("'/weights/" + child + "'");
    else if (!stores_weights(*found->second))
      without.push_back("'/weights/" + child + "' (" + found->second->kind() + " stores no weights)");
  }
  if (!unknown.empty() || !without.empty()) {
    std::string message = "has weight groups for no layer of the model: ";
    message += join(unknown);
    if (!without.empty()) message += (unknown.empty() ? "" : ", ") + join(without);
    message += "; the layers with weights are " + (with_weights.empty() ? std::string("none") : join(with_weights));
    file.fail(message);
  }
  for (Index l = 0; l < net.size(); ++l)
    if (stores_weights(net.layer(l))) load_layer(file, net.layer(l));
}

}  // namespace

void save_model(const Model& model, const std::string& path) {
  check_matches_spec(model, path);
  h5::write_atomically(path, kWhat, [&](h5::File& file) { write_file(file, model); });
}

namespace {

Model read_model_file(const std::string& path, const Registry& registry, const Limits& limits) {
  const h5::File file = h5::File::open(path, kWhat);
  check_format(file);
  const ModelSpec spec = parse_architecture(file, read_architecture(file));
  Model model = naming_file(file, [&] { return build_model(spec, registry, limits); });
  if (file.has_attribute("/", "name")) {
    const std::string name = file.string_attribute("/", "name");
    if (name != model.spec.name)
      file.fail("root attribute 'name' is '" + name + "' but the architecture names the model '" + model.spec.name + "'");
  }
  model.provenance = read_provenance(file);
  const std::string origin = optional_string(file, "normalization_origin");
  model.spec.normalization.origin = origin.empty() ? "the model file" : origin;
  load_weights(file, model.network);
  return model;
}

}  // namespace

Model load_model(const std::string& path, const Registry& registry, const Limits& limits) {
  // First in a child process: a file that crashes or hangs the HDF5 library is refused.
  h5::contained(path, kWhat, limits.read_seconds, [&] { (void)read_model_file(path, registry, limits); });
  return read_model_file(path, registry, limits);
}

Model open_model(const std::string& path, const Registry& registry, std::uint64_t seed, const Limits& limits) {
  check_input_file(path, "model file");
  std::ifstream in(path, std::ios::binary);
  LRP_CHECK(in.good(), "model file '", path, "': cannot open the file");
  char magic[8] = {};
  in.read(magic, sizeof magic);
  const std::string head(magic, static_cast<std::size_t>(in.gcount()));
  if (head == std::string("\x89HDF\r\n\x1a\n", 8)) return load_model(path, registry, limits);
  auto ends_with = [&](const std::string& suffix) {
    return path.size() >= suffix.size() && path.compare(path.size() - suffix.size(), suffix.size(), suffix) == 0;
  };
  if (ends_with(".onnx")) return import_onnx(path, registry, limits);
  if (ends_with(".yaml") || ends_with(".yml")) {
    Model model = build_model(read_model_spec(path, &registry), registry, limits);
    initialize_parameters(model.network, InitScheme::kHeNormal, seed);
    model.provenance.source = "initialized (he_normal) from " + path;
    model.provenance.seed = seed;
    return model;
  }
  LRP_FAIL("model '", path, "': not an lrplab HDF5 model file (no HDF5 signature), and the name ends in neither ",
           ".onnx nor .yaml/.yml");
}

}  // namespace lrp
