// Tensor decoding, the small helpers on constant values, and the Graph's accessors for constants and attributes:
// everything that reads a value out of the protobuf classes and checks it.

#include "onnx_ir.hpp"

#include "lrp/core/limits.hpp"

#include <bit>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <sstream>

namespace lrp::onnx_import {

static_assert(std::endian::native == std::endian::little, "ONNX raw_data is little-endian; this host is not");

std::int64_t product(const std::vector<std::int64_t>& dims) {
  std::uint64_t n = 1;
  for (std::int64_t d : dims) {
    if (d == 0) return 0;
    n = d > 0 ? saturating_mul(n, static_cast<std::uint64_t>(d)) : static_cast<std::uint64_t>(kTooMany);
  }
  return static_cast<std::int64_t>(std::min(n, static_cast<std::uint64_t>(kTooMany)));
}

bool plausible(const std::vector<std::int64_t>& dims) {
  std::uint64_t n = 1;
  for (std::int64_t d : dims)
    n = d < 0 ? UINT64_MAX : saturating_mul(n, static_cast<std::uint64_t>(std::max<std::int64_t>(d, 1)));
  return n < static_cast<std::uint64_t>(kTooMany);
}

std::string dims_string(const std::vector<std::int64_t>& dims) {
  std::ostringstream out;
  out << "[";
  for (std::size_t k = 0; k < dims.size(); ++k) out << (k ? ", " : "") << dims[k];
  out << "]";
  return out.str();
}

std::string type_name(int type) {
  if (!onnx::TensorProto_DataType_IsValid(type)) return "data type " + std::to_string(type);
  std::string name = onnx::TensorProto_DataType_Name(static_cast<onnx::TensorProto_DataType>(type));
  for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (name == "float") return "float32";
  if (name == "double") return "float64";
  return name;
}

bool is_integer_type(int type) {
  switch (type) {
    case onnx::TensorProto_DataType_INT64:
    case onnx::TensorProto_DataType_INT32:
    case onnx::TensorProto_DataType_INT16:
    case onnx::TensorProto_DataType_INT8:
    case onnx::TensorProto_DataType_UINT8:
    case onnx::TensorProto_DataType_UINT16:
    case onnx::TensorProto_DataType_BOOL:
      return true;
    default:
      return false;
  }
}

Const take(const Const& src, std::vector<std::int64_t> dims, const std::vector<std::int64_t>& index) {
  Const out;
  out.type = src.type;
  out.dims = std::move(dims);
  out.origin = src.origin;
  if (src.is_real()) {
    out.real.reserve(index.size());
    for (std::int64_t i : index) out.real.push_back(src.real[static_cast<std::size_t>(i)]);
  } else {
    out.integer.reserve(index.size());
    for (std::int64_t i : index) out.integer.push_back(src.integer[static_cast<std::size_t>(i)]);
    if (!src.symbol.empty()) {
      out.symbol.reserve(index.size());
      for (std::int64_t i : index) out.symbol.push_back(src.symbol[static_cast<std::size_t>(i)]);
    }
  }
  return out;
}

std::vector<std::int64_t> strides_of(const std::vector<std::int64_t>& dims) {
  std::vector<std::int64_t> s(dims.size(), 1);
  for (std::size_t a = dims.size(); a-- > 1;) s[a - 1] = s[a] * dims[a];
  return s;
}

double shortest_double(float f) {
  if (!std::isfinite(f)) return f;
  char buffer[64];
  for (int precision = 1; precision <= 9; ++precision) {
    std::snprintf(buffer, sizeof buffer, "%.*g", precision, static_cast<double>(f));
    if (std::strtof(buffer, nullptr) == f) return std::strtod(buffer, nullptr);
  }
  return f;
}

Vector to_vector(const std::vector<double>& v) {
  Vector out(static_cast<Index>(v.size()));
  for (std::size_t k = 0; k < v.size(); ++k) out[static_cast<Index>(k)] = static_cast<Scalar>(v[k]);
  return out;
}

// ---- tensors

namespace {

// The bytes of one element of an ONNX data type lrplab reads (0: a type it does not read).
std::size_t element_bytes(int type) {
  switch (type) {
    case onnx::TensorProto_DataType_FLOAT:
    case onnx::TensorProto_DataType_INT32:
      return 4;
    case onnx::TensorProto_DataType_DOUBLE:
    case onnx::TensorProto_DataType_INT64:
      return 8;
    case onnx::TensorProto_DataType_INT16:
    case onnx::TensorProto_DataType_UINT16:
      return 2;
    case onnx::TensorProto_DataType_INT8:
    case onnx::TensorProto_DataType_UINT8:
    case onnx::TensorProto_DataType_BOOL:
      return 1;
    default:
      return 0;
  }
}

// The n little-endian elements of `raw` (its size checked: n · bytes) into c.real or c.integer.
void decode_raw(const std::string& raw, std::int64_t n, std::size_t bytes, Const& c) {
  const char* p = raw.data();
  for (std::int64_t k = 0; k < n; ++k, p += bytes) {
    switch (c.type) {
      case onnx::TensorProto_DataType_FLOAT: {
        float v;
        std::memcpy(&v, p, 4);
        c.real.push_back(v);
        break;
      }
      case onnx::TensorProto_DataType_DOUBLE: {
        double v;
        std::memcpy(&v, p, 8);
        c.real.push_back(v);
        break;
      }
      case onnx::TensorProto_DataType_INT64: {
        std::int64_t v;
        std::memcpy(&v, p, 8);
        c.integer.push_back(v);
        break;
      }
      case onnx::TensorProto_DataType_INT32: {
        std::int32_t v;
        std::memcpy(&v, p, 4);
        c.integer.push_back(v);
        break;
      }
      case onnx::TensorProto_DataType_INT16: {
        std::int16_t v;
        std::memcpy(&v, p, 2);
        c.integer.push_back(v);
        break;
      }
      case onnx::TensorProto_DataType_UINT16: {
        std::uint16_t v;
        std::memcpy(&v, p, 2);
        c.integer.push_back(v);
        break;
      }
      case onnx::TensorProto_DataType_INT8:
        c.integer.push_back(static_cast<std::int8_t>(*p));
        break;
      default:  // uint8, bool
        c.integer.push_back(static_cast<unsigned char>(*p));
        break;
    }
  }
}

}  // namespace

Const Graph::read_tensor(const onnx::TensorProto& t, const std::string& origin) const {
  Const c;
  c.type = t.data_type();
  c.origin = origin;
  const std::string what = where() + ": " + origin;
  LRP_CHECK(!(t.has_data_location() && t.data_location() == onnx::TensorProto_DataLocation_EXTERNAL) &&
                t.external_data_size() == 0,
            what,
            " keeps its data in an external file, which lrplab does not read (save the model with its weights "
            "inside the .onnx file)");
  LRP_CHECK(!t.has_segment(), what, " is a segment of a tensor, which lrplab does not read");
  for (std::int64_t d : t.dims()) {
    LRP_CHECK(d >= 0, what, " has a negative dimension: ", d);
    c.dims.push_back(d);
  }
  const std::int64_t n = product(c.dims);
  LRP_CHECK(plausible(c.dims), what, " has the implausible shape ", dims_string(c.dims), " (corrupt file?)");
  const std::size_t bytes = element_bytes(c.type);
  if (bytes == 0)
    LRP_FAIL(what, " has data type ", type_name(c.type),
             ", which lrplab does not import (weights must be float32 or float64; shapes integer)");
  auto count_check = [&](std::size_t got) {
    LRP_CHECK(static_cast<std::int64_t>(got) == n, what, " of shape ", dims_string(c.dims), " holds ", got,
              " values instead of ", n, " (truncated or corrupt file?)");
  };
  const int typed = t.float_data_size() + t.double_data_size() + t.int32_data_size() + t.int64_data_size() +
                    t.uint64_data_size() + t.string_data_size();
  if (t.has_raw_data()) {
    LRP_CHECK(typed == 0, what, " has both raw_data and ", typed,
              " typed values; a valid tensor has one of them (corrupt file?)");
    const std::string& raw = t.raw_data();
    LRP_CHECK(raw.size() == static_cast<std::size_t>(n) * bytes, what, " of shape ", dims_string(c.dims), " and type ",
              type_name(c.type), " has ", raw.size(), " bytes of data instead of ", static_cast<std::size_t>(n) * bytes,
              " (truncated or corrupt file?)");
    decode_raw(raw, n, bytes, c);
    check_finite(c);
    return c;
  }
  switch (c.type) {
    case onnx::TensorProto_DataType_FLOAT:
      count_check(static_cast<std::size_t>(t.float_data_size()));
      c.real.assign(t.float_data().begin(), t.float_data().end());
      break;
    case onnx::TensorProto_DataType_DOUBLE:
      count_check(static_cast<std::size_t>(t.double_data_size()));
      c.real.assign(t.double_data().begin(), t.double_data().end());
      break;
    case onnx::TensorProto_DataType_INT64:
      count_check(static_cast<std::size_t>(t.int64_data_size()));
      c.integer.assign(t.int64_data().begin(), t.int64_data().end());
      break;
    default:  // the narrower integer types and bool live in int32_data
      count_check(static_cast<std::size_t>(t.int32_data_size()));
      c.integer.assign(t.int32_data().begin(), t.int32_data().end());
      break;
  }
  LRP_CHECK(static_cast<std::int64_t>(typed) == n, what, " of shape ", dims_string(c.dims), " holds ", typed,
            " values in its typed fields instead of ", n, " (corrupt file?)");
  check_finite(c);
  return c;
}

void Graph::check_finite(const Const& c) const {
  const auto bad = std::find_if(c.real.begin(), c.real.end(), [](double v) { return !std::isfinite(v); });
  LRP_CHECK(bad == c.real.end(), where(), ": ", c.origin, " holds ",
            std::isnan(*bad) ? "NaN" : *bad > 0 ? "Inf" : "-Inf", " at element ", bad - c.real.begin(),
            " (of shape ", dims_string(c.dims), "); lrplab imports finite values only (a damaged file?)");
}

// ---- constants

const Const& Graph::constant_input(int i, std::size_t k, const char* what) const {
  const Node& n = node(i);
  LRP_CHECK(n.has_input(k), where(), ": ", node_ref(i), ": the ", what, " (input ", k, ") is missing");
  const Const* c = constant(n.inputs[k]);
  if (c == nullptr)
    fail_node(i, "the ", what, " (input ", k, " '", n.inputs[k], "') is ",
              computed(n.inputs[k]) ? "computed from the data, not a constant: lrplab imports sequential models whose "
                                      "parameters are initializers or Constant nodes"
                                    : "neither an initializer nor the output of an earlier node");
  return *c;
}

bool Graph::computed(const std::string& value) const {
  if (value == input) return true;
  const auto p = producer.find(value);
  return p != producer.end() && !folded[static_cast<std::size_t>(p->second)] && !filled.count(value) &&
         !consts.count(value);
}

std::vector<std::int64_t> Graph::known_ints(int i, const Const& c, const char* what) const {
  if (c.is_real()) fail_node(i, "the ", what, " must be an integer tensor, got ", type_name(c.type));
  if (!c.all_known())
    fail_node(i, "the ", what, " depends on the ",
              std::find(c.symbol.begin(), c.symbol.end(), kBatch) != c.symbol.end() ? "batch size" : "data's shape",
              ", which lrplab does not evaluate here");
  return c.integer;
}

double Graph::real_scalar(int i, const Const& c, const char* what) const {
  if (c.size() != 1) fail_node(i, "the ", what, " must be a single value, got shape ", dims_string(c.dims));
  if (!c.all_known()) fail_node(i, "the ", what, " depends on the data's shape");
  return c.is_real() ? c.real[0] : static_cast<double>(c.integer[0]);
}

// ---- attributes

void Graph::check_attributes(int i, std::initializer_list<const char*> known) const {
  const auto& attributes = node(i).proto->attribute();
  for (const onnx::AttributeProto& a : attributes) {
    if (std::count_if(attributes.begin(), attributes.end(), [&](const auto& b) { return b.name() == a.name(); }) > 1)
      fail_node(i, "has attribute '", a.name(), "' more than once");
    const bool ok = std::any_of(known.begin(), known.end(), [&](const char* k) { return a.name() == k; });
    if (!ok) {
      std::string list;
      for (const char* k : known) list += std::string(list.empty() ? "" : ", ") + k;
      fail_node(i, "has attribute '", a.name(), "', which lrplab does not import",
                list.empty() ? std::string(" (it takes none)") : " (it reads: " + list + ")");
    }
  }
}

const onnx::AttributeProto* Graph::attribute(int i, const char* name,
                                                onnx::AttributeProto_AttributeType type) const {
  for (const onnx::AttributeProto& a : node(i).proto->attribute()) {
    if (a.name() != name) continue;
    if (a.type() != type)
      fail_node(i, "attribute '", name, "' has type ", onnx::AttributeProto_AttributeType_Name(a.type()), ", expected ",
                onnx::AttributeProto_AttributeType_Name(type));
    return &a;
  }
  return nullptr;
}

std::int64_t Graph::attr_int(int i, const char* name, std::int64_t fallback) const {
  const onnx::AttributeProto* a = attribute(i, name, onnx::AttributeProto_AttributeType_INT);
  return a ? a->i() : fallback;
}

std::int64_t Graph::attr_int(int i, const char* name, std::int64_t fallback, std::int64_t minimum,
                               std::int64_t maximum) const {
  const std::int64_t v = attr_int(i, name, fallback);
  if (v < minimum || v > maximum)
    fail_node(i, "attribute '", name, "' = ", v, " is outside [", minimum, ", ", maximum, "]");
  return v;
}

std::vector<std::int64_t> Graph::attr_ints(int i, const char* name, std::vector<std::int64_t> fallback) const {
  const onnx::AttributeProto* a = attribute(i, name, onnx::AttributeProto_AttributeType_INTS);
  return a ? std::vector<std::int64_t>(a->ints().begin(), a->ints().end()) : fallback;
}

std::vector<std::int64_t> Graph::attr_sizes(int i, const char* name, std::vector<std::int64_t> fallback,
                                               std::int64_t minimum) const {
  std::vector<std::int64_t> v = attr_ints(i, name, std::move(fallback));
  for (std::int64_t x : v)
    if (x < minimum || x > kMaxSize)
      fail_node(i, "attribute '", name, "' ", dims_string(v), " holds a value outside [", minimum, ", ", kMaxSize, "]");
  return v;
}

double Graph::attr_float(int i, const char* name, double fallback) const {
  const onnx::AttributeProto* a = attribute(i, name, onnx::AttributeProto_AttributeType_FLOAT);
  if (a && !std::isfinite(a->f()))
    fail_node(i, "attribute '", name, "' = ", std::isnan(a->f()) ? "NaN" : a->f() > 0 ? "Inf" : "-Inf",
              "; expected a finite number");
  return a ? shortest_double(a->f()) : fallback;
}

std::string Graph::attr_string(int i, const char* name, const std::string& fallback) const {
  const onnx::AttributeProto* a = attribute(i, name, onnx::AttributeProto_AttributeType_STRING);
  return a ? a->s() : fallback;
}

void Graph::check_inputs(int i, int min_count, int max_count) const {
  const Node& n = node(i);
  auto last = static_cast<int>(n.inputs.size());
  while (last > 0 && n.inputs[static_cast<std::size_t>(last - 1)].empty()) --last;  // trailing optional inputs left out
  if (last < min_count || last > max_count)
    fail_node(i, "has ", last, " inputs; lrplab imports it with ", min_count,
              min_count == max_count ? std::string() : " to " + std::to_string(max_count));
}

void Graph::check_single_output(int i) const {
  const Node& n = node(i);
  LRP_CHECK(!n.outputs.empty() && !n.outputs[0].empty(), where(), ": ", node_ref(i), ": has no output");
  for (std::size_t k = 1; k < n.outputs.size(); ++k) {
    const std::string& o = n.outputs[k];
    if (o.empty()) continue;
    if (consumers.count(o) > 0 || is_graph_output(o))
      fail_node(i, "output ", k, " '", o, "' is used; lrplab imports only the first output");
  }
}

}  // namespace lrp::onnx_import
