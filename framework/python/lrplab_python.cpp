// The Python module's compiled part, `lrplab._lrplab` (pybind11). The package lrplab/__init__.py
// wraps it into the API a researcher uses (docs/python.md); this file only converts between numpy
// and lrplab and calls the C++ API (lrp/experiment/session.hpp, experiment.hpp, hdf5.hpp):
// - arrays in: a float32 or float64 numpy array, C-contiguous, of the model's input shape with a
//   batch axis, every value finite; anything else is an lrplab.Error naming the argument;
// - arrays out: numpy arrays that own lrplab's buffers (no copy);
// - the GIL is released while lrplab computes;
// - lrp::Error becomes lrplab.Error (a ValueError) with lrplab's message.
#include "lrp/core/error.hpp"
#include "lrp/core/log.hpp"
#include "lrp/experiment/experiment.hpp"
#include "lrp/experiment/session.hpp"
#include "lrp/io/hdf5.hpp"
#include "lrp/registry/plugin.hpp"
#include "lrp/registry/registry.hpp"

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cmath>
#include <cstdio>
#include <memory>
#include <thread>

namespace py = pybind11;

namespace {

// ---------------------------------------------------------------- the registry
// One registry for the module: the built-ins and the plugins load_plugin() added. It is frozen by
// the first model loaded (a plugin loaded later would change what earlier explanations meant).
lrp::Registry& registry() {
  static lrp::Registry r = [] {
    lrp::Registry out;
    lrp::register_builtins(out);
    return out;
  }();
  return r;
}

std::vector<std::string>& loaded_plugins() {
  static std::vector<std::string> paths;
  return paths;
}

const lrp::Registry& frozen_registry() {
  if (!registry().frozen()) registry().freeze();
  return registry();
}

void load_plugin(const std::string& path) {
  LRP_CHECK(!registry().frozen(), "load_plugin('", path,
            "'): plugins must be loaded before the first model (lrplab.load_model freezes the registry)");
  if (lrp::plugin_loaded(registry(), path)) return;
  lrp::load_plugin(path, registry());
  loaded_plugins().push_back(path);
}

int default_threads() { return static_cast<int>(std::max(1u, std::thread::hardware_concurrency())); }

// Text of Python objects for messages.
std::string text_of(const py::handle& h) { return py::str(h).cast<std::string>(); }
std::string repr_of(const py::handle& h) { return py::repr(h).cast<std::string>(); }
std::string type_name(const py::handle& h) { return text_of(py::type::of(h).attr("__name__")); }

// ---------------------------------------------------------------- Python values → YAML
// A method entry or a normalization given as Python dicts, lists and scalars becomes the YAML the
// config reader reads (so Python and configs accept exactly the same things).
YAML::Node to_yaml(py::handle value, const std::string& what) {
  if (value.is_none()) return YAML::Node(YAML::NodeType::Null);
  if (py::isinstance<py::bool_>(value)) return YAML::Node(value.cast<bool>() ? "true" : "false");
  if (py::isinstance<py::int_>(value)) return YAML::Node(std::to_string(value.cast<long long>()));
  if (py::isinstance<py::float_>(value)) {
    char text[40];
    std::snprintf(text, sizeof text, "%.17g", value.cast<double>());
    return YAML::Node(std::string(text));
  }
  if (py::isinstance<py::str>(value)) return YAML::Node(value.cast<std::string>());
  if (py::isinstance<py::dict>(value)) {
    YAML::Node map(YAML::NodeType::Map);
    for (const auto& [key, item] : value.cast<py::dict>()) {
      LRP_CHECK(py::isinstance<py::str>(key), what, ": keys must be strings, got ", repr_of(key));
      const std::string name = key.cast<std::string>();
      map[name] = to_yaml(item, what + "." + name);
    }
    return map;
  }
  if (py::isinstance<py::list>(value) || py::isinstance<py::tuple>(value) || py::isinstance<py::array>(value)) {
    YAML::Node list(YAML::NodeType::Sequence);
    std::size_t i = 0;
    for (const py::handle item : value) list.push_back(to_yaml(item, what + "[" + std::to_string(i++) + "]"));
    return list;
  }
  if (py::hasattr(value, "item")) return to_yaml(value.attr("item")(), what);  // numpy scalars
  LRP_FAIL(what, ": expected a number, a string, a list or a dict, got ",
           type_name(value));
}

// ---------------------------------------------------------------- numpy ↔ lrplab
// A numpy array → lrplab values of `shape` per sample, checked (see the file's comment).
lrp::Tensor input_tensor(const py::handle& object, const lrp::Shape& shape, const std::string& what) {
  LRP_CHECK(py::isinstance<py::array>(object), what, ": expected a numpy array, got ",
            type_name(object));
  const py::array a = py::reinterpret_borrow<py::array>(object);
  const py::dtype dtype = a.dtype();
  const bool f32 = dtype.is(py::dtype::of<float>()), f64 = dtype.is(py::dtype::of<double>());
  LRP_CHECK(f32 || f64, what, ": expected a float32 or float64 array, got dtype ", text_of(dtype),
            " (convert with x.astype(numpy.float32))");
  LRP_CHECK(a.flags() & py::array::c_style, what,
            ": the array is not C-contiguous (a transposed or strided view); pass numpy.ascontiguousarray(x)");
  const std::string expected = "[N, " + [&] {
    std::string s;
    for (std::size_t d = 0; d < shape.size(); ++d) s += (d ? ", " : "") + std::to_string(shape[d]);
    return s;
  }() + "]";
  bool fits = a.ndim() == static_cast<py::ssize_t>(shape.size()) + 1;
  for (std::size_t d = 0; fits && d < shape.size(); ++d) fits = a.shape(static_cast<py::ssize_t>(d) + 1) == shape[d];
  if (!fits) {
    std::string got;
    for (py::ssize_t d = 0; d < a.ndim(); ++d) got += (d ? ", " : "") + std::to_string(a.shape(d));
    LRP_FAIL(what, ": expected an array of shape ", expected, " (a batch of the model's inputs), got [", got, "]",
             a.ndim() == static_cast<py::ssize_t>(shape.size()) ? "; for one sample, pass x[None]" : "");
  }
  const lrp::Index n = a.shape(0), features = lrp::numel(shape);
  LRP_CHECK(n >= 1, what, ": the batch is empty");
  lrp::Tensor t(n, shape);
  auto copy = [&](const auto* data) {
    for (lrp::Index i = 0; i < n; ++i)
      for (lrp::Index j = 0; j < features; ++j) {
        const double v = static_cast<double>(data[i * features + j]);
        LRP_CHECK(std::isfinite(v), what, ": sample ", i, " has a non-finite value (", v, ") at flat position ", j);
        t.data(i, j) = static_cast<lrp::Scalar>(v);
      }
  };
  if (f32)
    copy(static_cast<const float*>(a.data()));
  else
    copy(static_cast<const double*>(a.data()));
  return t;
}

// A buffer handed to numpy without copying: numpy's array owns the moved matrix or vector.
template <typename Owner>
py::array owned_array(Owner&& value, const std::vector<py::ssize_t>& shape) {
  using O = std::decay_t<Owner>;
  auto* owner = new O(std::forward<Owner>(value));
  using T = std::remove_const_t<std::remove_pointer_t<decltype(owner->data())>>;
  py::capsule free_when_done(owner, [](void* p) { delete static_cast<O*>(p); });
  return py::array_t<T>(shape, owner->data(), free_when_done);
}

template <typename M>
py::array to_numpy(M&& matrix, const std::vector<py::ssize_t>& shape) {
  static_assert(std::decay_t<M>::IsRowMajor || std::decay_t<M>::ColsAtCompileTime == 1, "numpy arrays are C-ordered");
  return owned_array(std::forward<M>(matrix), shape);
}

std::vector<py::ssize_t> batch_shape(lrp::Index n, const lrp::Shape& shape) {
  std::vector<py::ssize_t> out{static_cast<py::ssize_t>(n)};
  for (const lrp::Index d : shape) out.push_back(static_cast<py::ssize_t>(d));
  return out;
}

py::array vector_to_numpy(const Eigen::VectorXd& v) { return to_numpy(Eigen::VectorXd(v), {v.size()}); }

py::array index_array(const std::vector<lrp::Index>& v) {
  Eigen::Matrix<std::int64_t, Eigen::Dynamic, 1> out(static_cast<Eigen::Index>(v.size()));
  for (std::size_t i = 0; i < v.size(); ++i) out[static_cast<Eigen::Index>(i)] = v[i];
  return to_numpy(std::move(out), {static_cast<py::ssize_t>(v.size())});
}

// ---------------------------------------------------------------- models
class PyModel {
 public:
  PyModel(const std::string& path, const py::object& normalization)
      : model_(lrp::open_model_for_explaining(path, frozen_registry(), to_yaml(normalization, "normalization"),
                                              "lrplab.load_model('" + path + "')")),
        path_(path) {}

  const lrp::Model& model() const { return model_; }
  lrp::Model& model() { return model_; }
  const std::string& path() const { return path_; }

  py::dict describe() const {
    const lrp::Network& net = model_.network;
    py::dict d;
    d["name"] = model_.spec.name;
    d["path"] = path_;
    d["input_shape"] = py::tuple(py::cast(std::vector<lrp::Index>(net.input_shape().begin(), net.input_shape().end())));
    d["classes"] = net.output_shape()[0];
    d["class_names"] = model_.spec.class_names;
    std::vector<std::string> names, kinds;
    for (lrp::Index l = 0; l < net.size(); ++l) {
      names.push_back(net.layer(l).name());
      kinds.push_back(net.layer(l).kind());
    }
    d["layer_names"] = names;
    d["layer_kinds"] = kinds;
    const lrp::InputNormalization& norm = model_.spec.normalization;
    py::dict n;
    n["mean"] = norm.mean;
    n["std"] = norm.std;
    n["range"] = std::vector<double>{norm.raw_min, norm.raw_max};
    n["origin"] = norm.origin;
    d["normalization"] = n;
    d["summary"] = net.summary();
    return d;
  }

  // The logits of a raw batch.
  py::array forward(const py::handle& x, int threads) {
    lrp::Tensor raw = input_tensor(x, model_.network.input_shape(), "x");
    lrp::Matrix logits;
    {
      py::gil_scoped_release release;
      const lrp::Tensor net_x = lrp::normalize_inputs(raw, model_.spec.normalization);
      logits = model_.network.forward(net_x, threads > 0 ? threads : default_threads()).logits();
    }
    const lrp::Index n = logits.rows(), c = logits.cols();
    return to_numpy(std::move(logits), {n, c});
  }

 private:
  lrp::Model model_;
  std::string path_;
};

lrp::TargetSetSpec target_spec(const py::handle& target, const py::handle& top_k) {
  lrp::TargetSetSpec spec;
  if (!top_k.is_none()) {
    LRP_CHECK(target.is_none() || (py::isinstance<py::str>(target) && target.cast<std::string>() == "predicted"),
              "top_k: give either top_k or target, not both");
    spec.kind = lrp::TargetSetSpec::Kind::kTopK;
    spec.k = top_k.cast<lrp::Index>();
    return spec;
  }
  if (target.is_none()) return spec;
  if (py::isinstance<py::str>(target)) {
    const std::string t = target.cast<std::string>();
    if (t == "predicted") return spec;
    if (t == "label") {
      spec.one = lrp::TargetSpec::label();
      return spec;
    }
    if (t == "all") {
      spec.kind = lrp::TargetSetSpec::Kind::kAll;
      return spec;
    }
    LRP_FAIL("target: expected 'predicted', 'label', 'all', a class index or a list of class indices, got '", t, "'");
  }
  if (py::isinstance<py::int_>(target) && !py::isinstance<py::bool_>(target)) {
    const long long c = target.cast<long long>();
    LRP_CHECK(c >= 0, "target: a class index must be ≥ 0, got ", c);
    spec.one = lrp::TargetSpec::fixed(static_cast<lrp::Index>(c));
    return spec;
  }
  if (py::isinstance<py::list>(target) || py::isinstance<py::tuple>(target)) {
    spec.kind = lrp::TargetSetSpec::Kind::kClasses;
    for (const py::handle c : target) {
      LRP_CHECK(py::isinstance<py::int_>(c) && !py::isinstance<py::bool_>(c) && c.cast<long long>() >= 0,
                "target: a list of classes must hold class indices ≥ 0, got ", repr_of(c));
      spec.classes.push_back(c.cast<lrp::Index>());
    }
    LRP_CHECK(!spec.classes.empty(), "target: the list of classes is empty");
    return spec;
  }
  LRP_FAIL("target: expected 'predicted', 'label', 'all', a class index or a list of class indices, got ",
           repr_of(target));
}

std::vector<lrp::Index> index_list(const py::handle& values, lrp::Index n, const std::string& what) {
  const py::array_t<long long> a = py::array_t<long long>::ensure(values);
  LRP_CHECK(a && a.ndim() == 1 && a.shape(0) == n, what, ": expected ", n, " whole numbers (one per sample)");
  std::vector<lrp::Index> out;
  for (py::ssize_t i = 0; i < a.shape(0); ++i) out.push_back(static_cast<lrp::Index>(a.at(i)));
  return out;
}

// An [N × k] double matrix of the ledger (column-major in Eigen) as a C-ordered numpy array.
py::array matrix_to_numpy(const Eigen::MatrixXd& m) {
  using RowMajor = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
  return to_numpy(RowMajor(m), {m.rows(), m.cols()});
}

py::dict ledger_dict(lrp::ConservationResult&& c) {
  py::dict d;
  d["input_sum"] = vector_to_numpy(c.input_sum);
  d["output_seed"] = vector_to_numpy(c.output_seed);
  d["relative_error"] = vector_to_numpy(c.relative_error);
  d["nonfinite_input"] = index_array(c.nonfinite_input);
  if (c.layer_sums.size() > 0) {
    d["layer_sums"] = matrix_to_numpy(c.layer_sums);
    d["bias_share"] = matrix_to_numpy(c.bias_share);
    d["stabilizer_share"] = matrix_to_numpy(c.stabilizer_share);
    d["state_sum"] = vector_to_numpy(c.state_sum);
  }
  return d;
}

// Model.explain's compiled part: one method, one batch, one or several targets. Returns a dict the
// package turns into an Explanation (targets stacked on axis 1 when there are several).
py::dict explain(PyModel& self, const py::handle& x, const py::object& method_entry, const py::handle& target,
                 const py::handle& top_k, const py::handle& labels, const py::handle& sample_ids, bool layer_relevance,
                 bool ledger, int threads, std::uint64_t seed) {
  lrp::Model& model = self.model();
  lrp::Network& net = model.network;
  const lrp::Registry& reg = frozen_registry();
  const lrp::Tensor raw = input_tensor(x, net.input_shape(), "x");
  const lrp::Index n = raw.batch();
  const lrp::MethodConfig config = lrp::read_method_entry(to_yaml(method_entry, "method"), reg, "lrplab.explain", seed);
  const lrp::PreparedMethod prepared = lrp::prepare_method(config, model, reg, lrp::Limits{});
  const lrp::TargetSetSpec spec = target_spec(target, top_k);
  std::vector<lrp::Index> label_list;
  if (!labels.is_none()) label_list = index_list(labels, n, "labels");
  LRP_CHECK(spec.one.kind != lrp::TargetSpec::Kind::kLabel || !labels.is_none(),
            "target='label' needs labels=[...] (one class per sample)");
  lrp::BatchRequest request;
  request.layer_relevance = layer_relevance;
  request.ledger = ledger;
  request.threads = threads > 0 ? threads : default_threads();
  if (!sample_ids.is_none()) request.sample_ids = index_list(sample_ids, n, "sample_ids");
  lrp::BatchExplanation e;
  {
    py::gil_scoped_release release;
    const lrp::Tensor net_x = lrp::normalize_inputs(raw, model.spec.normalization);
    e = lrp::explain_batch(prepared, net, reg, net_x, spec, label_list.empty() ? nullptr : &label_list, request);
  }
  py::dict out;
  out["method"] = config.name;
  const lrp::Index classes = e.logits.cols();
  out["logits"] = to_numpy(std::move(e.logits), {n, classes});
  py::list relevance, targets, layers, ledgers;
  for (std::size_t k = 0; k < e.relevance.size(); ++k) {
    relevance.append(to_numpy(std::move(e.relevance[k].data), batch_shape(n, net.input_shape())));
    targets.append(index_array(e.targets[k]));
    if (layer_relevance) {
      // The relevance at each layer's input (a value several layers read: what they send back, summed).
      py::dict by_layer;
      std::vector<lrp::Matrix>& values = e.layer_relevance[k];
      for (lrp::Index l = 0; l < net.size(); ++l) {
        const std::vector<lrp::Index>& in = net.inputs_of(l);
        if (in.size() != 1) continue;  // add / concat: their inputs are other layers' outputs
        const lrp::Index v = in[0];
        by_layer[py::str(net.layer(l).name())] =
            to_numpy(lrp::Matrix(values[static_cast<std::size_t>(v)]), batch_shape(n, net.value_shape(v)));
      }
      by_layer[py::str("output")] =
          to_numpy(std::move(values.back()), batch_shape(n, net.output_shape()));
      layers.append(by_layer);
    }
    if (ledger) ledgers.append(ledger_dict(std::move(e.ledgers[k])));
  }
  out["relevance"] = relevance;
  out["targets"] = targets;
  out["layer_relevance"] = layers;
  out["ledger"] = ledgers;
  out["layer_rules"] = e.layer_rules;
  std::vector<std::string> names;
  for (lrp::Index l = 0; l < net.size(); ++l) names.push_back(net.layer(l).name());
  out["layer_names"] = names;
  return out;
}

// ---------------------------------------------------------------- runs
py::dict summary_dict(const lrp::Summary& s) {
  py::dict d;
  d["mean"] = s.mean;
  d["standard_error"] = s.standard_error;
  d["count"] = s.count;
  d["skipped"] = s.skipped;
  return d;
}

py::dict run(const std::string& path, const std::vector<std::string>& overrides) {
  lrp::Registry reg;
  lrp::register_builtins(reg);
  for (const std::string& p : loaded_plugins()) lrp::load_plugin(p, reg);
  for (const lrp::PluginEntry& p : lrp::read_experiment_plugin_entries(path, overrides)) {
    if (lrp::plugin_loaded(reg, p.path)) continue;
    try {
      lrp::load_plugin(p.path, reg);
    } catch (const lrp::Error& e) {
      throw lrp::Error(p.at + ": " + e.what());
    }
  }
  reg.freeze();
  const lrp::ExperimentConfig config = lrp::read_experiment_config(path, overrides, reg);
  lrp::ExperimentReport report;
  {
    py::gil_scoped_release release;
    report = lrp::run_experiment(config, reg);
  }
  py::dict out;
  out["table"] = lrp::format_report(report);
  out["results"] = report.results_path;
  out["heatmaps"] = report.heatmap_folder;
  out["samples"] = report.samples;
  out["accuracy"] = report.accuracy;
  out["seconds"] = report.stage_seconds;
  out["total_seconds"] = report.total_seconds;
  py::list methods;
  for (const lrp::MethodSummary& m : report.methods) {
    py::dict d;
    d["name"] = m.name;
    d["explain_seconds"] = m.explain_seconds;
    d["relative_error"] = summary_dict(m.relative_error);
    if (m.pixel_flipping) {
      const lrp::PixelFlippingSummary& p = *m.pixel_flipping;
      d["aopc_morf"] = summary_dict(p.aopc_morf);
      d["aopc_lerf"] = summary_dict(p.aopc_lerf);
      d["abpc"] = summary_dict(p.abpc);
      d["auc_morf"] = summary_dict(p.auc_morf);
      d["aopc_morf_vs_random"] = summary_dict(p.aopc_morf_vs_random);
    }
    if (m.relevance_accuracy) d["relevance_accuracy"] = summary_dict(*m.relevance_accuracy);
    py::dict scores;
    for (const auto& [name, s] : m.scores) scores[py::str(name)] = summary_dict(s);
    d["scores"] = scores;
    methods.append(d);
  }
  out["methods"] = methods;
  return out;
}

// ---------------------------------------------------------------- results files
py::object read_attribute(const lrp::h5::File& f, const std::string& object, const std::string& name) {
  const lrp::h5::TypeInfo t = f.attribute_type(object, name);
  switch (t.type_class) {
    case lrp::h5::TypeClass::kString: return py::str(f.string_attribute(object, name));
    case lrp::h5::TypeClass::kFloat: return py::float_(f.double_attribute(object, name));
    case lrp::h5::TypeClass::kInteger:
      return t.is_signed ? py::object(py::int_(f.int_attribute(object, name)))
                         : py::object(py::int_(f.uint_attribute(object, name)));
    default: return py::none();
  }
}

py::object read_dataset(const lrp::h5::File& f, const std::string& path) {
  const lrp::h5::DatasetInfo info = f.dataset_info(path);
  if (info.type.type_class == lrp::h5::TypeClass::kString) return py::str(f.read_string(path));
  std::vector<py::ssize_t> shape;
  for (const hsize_t d : info.shape) shape.push_back(static_cast<py::ssize_t>(d));
  if (info.type.type_class == lrp::h5::TypeClass::kFloat && info.type.size == 4) {
    return owned_array(f.read<float>(path), shape);
  }
  if (info.type.type_class == lrp::h5::TypeClass::kFloat) {
    return owned_array(f.read<double>(path), shape);
  }
  if (info.type.type_class == lrp::h5::TypeClass::kInteger && !info.type.is_signed && info.type.size == 8) {
    return owned_array(f.read<std::uint64_t>(path), shape);  // seeds
  }
  if (info.type.type_class == lrp::h5::TypeClass::kInteger) {
    return owned_array(f.read<std::int64_t>(path), shape);
  }
  return py::none();
}

// A group as (children, attributes): children maps a name to a dataset's value or a sub-group's pair.
py::tuple read_group(const lrp::h5::File& f, const std::string& group) {
  py::dict children, attributes;
  for (const std::string& name : f.attribute_names(group)) attributes[py::str(name)] = read_attribute(f, group, name);
  for (const std::string& name : f.children(group)) {
    const std::string path = (group == "/" ? "" : group) + "/" + name;
    if (f.kind(path) == lrp::h5::ObjectKind::kGroup) {
      children[py::str(name)] = read_group(f, path);
    } else {
      py::dict dataset_attributes;
      for (const std::string& a : f.attribute_names(path)) dataset_attributes[py::str(a)] = read_attribute(f, path, a);
      children[py::str(name)] = py::make_tuple(read_dataset(f, path), dataset_attributes);
    }
  }
  return py::make_tuple(children, attributes);
}

py::tuple read_results(const std::string& path) {
  const lrp::h5::File f = lrp::h5::File::open(path, "results file");
  return read_group(f, "/");
}

}  // namespace

PYBIND11_MODULE(_lrplab, m) {
  m.doc() = "lrplab's compiled core; use the package `lrplab`";
  lrp::logger()->set_level(spdlog::level::warn);  // Python callers see errors as exceptions
  static py::exception<lrp::Error> error(m, "Error", PyExc_ValueError);
  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const lrp::Error& e) {
      PyErr_SetString(error.ptr(), e.what());
    }
  });
  m.attr("version") = LRP_VERSION;
  m.attr("scalar") = lrp::scalar_name();
  m.def("load_plugin", &load_plugin, py::arg("path"));
  m.def("set_log_level", [](const std::string& level) { lrp::logger()->set_level(spdlog::level::from_str(level)); });
  m.def("catalogue", [] {
    const lrp::Registry& reg = frozen_registry();
    py::dict d;
    auto params = [](const std::vector<lrp::ParamSpec>& specs) { return lrp::describe_params(specs); };
    py::dict rules, presets, methods, layers, metrics;
    for (const lrp::RuleInfo& r : reg.rules()) rules[py::str(r.name)] = py::make_tuple(params(r.params), r.doc);
    for (const lrp::PresetInfo& p : reg.presets()) presets[py::str(p.name)] = py::make_tuple(params(p.params), p.doc);
    methods[py::str(lrp::kLrpKind)] = py::make_tuple("(preset or rules)", lrp::kLrpMethodDoc);
    for (const lrp::MethodInfo& x : reg.methods()) methods[py::str(x.name)] = py::make_tuple(params(x.params), x.doc);
    for (const lrp::LayerInfo& l : reg.layers()) layers[py::str(l.kind)] = py::make_tuple(params(l.params), l.doc);
    for (const lrp::MetricInfo& x : lrp::metric_kinds()) metrics[py::str(x.name)] = py::make_tuple(params(x.params), x.doc);
    d["rules"] = rules;
    d["presets"] = presets;
    d["methods"] = methods;
    d["layers"] = layers;
    d["metrics"] = metrics;
    return d;
  });
  py::class_<PyModel>(m, "Model")
      .def(py::init<const std::string&, const py::object&>(), py::arg("path"), py::arg("normalization") = py::none())
      .def("describe", &PyModel::describe)
      .def("forward", &PyModel::forward, py::arg("x"), py::arg("threads") = 0)
      .def("explain", &explain, py::arg("x"), py::arg("method"), py::arg("target") = py::none(),
           py::arg("top_k") = py::none(), py::arg("labels") = py::none(), py::arg("sample_ids") = py::none(),
           py::arg("layer_relevance") = false, py::arg("ledger") = false, py::arg("threads") = 0, py::arg("seed") = 0);
  m.def("run", &run, py::arg("path"), py::arg("overrides") = std::vector<std::string>{});
  m.def("read_results", &read_results, py::arg("path"));
}
