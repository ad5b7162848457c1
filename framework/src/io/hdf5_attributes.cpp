// Attributes of the HDF5 wrapper (lrp/io/hdf5.hpp): listing, writing (replacing) and reading
// scalar string and numeric attributes without loss.

#include "hdf5_internal.hpp"
#include "lrp/core/error.hpp"
#include "lrp/io/hdf5.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

namespace lrp::h5 {

using namespace internal;

namespace {

// A numeric scalar attribute, read without loss into one of three types.
struct Number {
  enum class Kind { kSigned, kUnsigned, kFloat } kind = Kind::kFloat;
  std::int64_t s = 0;
  std::uint64_t u = 0;
  double d = 0;
};

std::string format_number(const Number& n) {
  switch (n.kind) {
    case Number::Kind::kSigned: return std::to_string(n.s);
    case Number::Kind::kUnsigned: return std::to_string(n.u);
    case Number::Kind::kFloat: break;
  }
  return detail::concat(n.d);
}

}  // namespace

// ---------------------------------------------------------------- attributes

bool File::has_attribute(const std::string& object, const std::string& name) const {
  const Handle handle = open_object(object, "");
  const htri_t found = H5Aexists(handle.get(), name.c_str());
  if (found < 0) fail("cannot look up " + attribute_label(object, name) + hdf5_detail());
  return found > 0;
}

namespace {

herr_t collect_attribute(hid_t, const char* name, const H5A_info_t*, void* data) {
  static_cast<std::vector<std::string>*>(data)->emplace_back(name);
  return 0;
}

}  // namespace

std::vector<std::string> File::attribute_names(const std::string& object) const {
  const Handle handle = open_object(object, "");
  std::vector<std::string> names;
  if (H5Aiterate2(handle.get(), H5_INDEX_NAME, H5_ITER_INC, nullptr, collect_attribute, &names) < 0)
    fail("cannot list the attributes of '" + absolute_path(object) + "'" + hdf5_detail());
  return names;
}

Handle File::open_attribute(const std::string& object, const std::string& name) const {
  const Handle handle = open_object(object, "");
  const htri_t found = H5Aexists(handle.get(), name.c_str());
  if (found < 0) fail("cannot look up " + attribute_label(object, name) + hdf5_detail());
  if (found == 0) fail("has no " + attribute_label(object, name));
  Handle attribute(H5Aopen(handle.get(), name.c_str(), H5P_DEFAULT), H5Aclose);
  if (!attribute.valid()) fail("cannot open " + attribute_label(object, name) + hdf5_detail());
  return attribute;
}

TypeInfo File::attribute_type(const std::string& object, const std::string& name) const {
  const Handle attribute = open_attribute(object, name);
  const Handle type(H5Aget_type(attribute.get()), H5Tclose);
  if (!type.valid()) fail("cannot read " + attribute_label(object, name) + hdf5_detail());
  return type_info(type.get());
}

namespace {

// Creates (replacing) a scalar attribute of `type` and writes `value` (in memory type `memory`).
void put_attribute(File& file, hid_t object_id, const std::string& object, const std::string& name, hid_t type,
                   hid_t memory, const void* value) {
  const htri_t found = H5Aexists(object_id, name.c_str());
  if (found > 0 && H5Adelete(object_id, name.c_str()) < 0)
    file.fail("cannot replace " + attribute_label(object, name) + hdf5_detail());
  const Handle space = scalar_space();
  Handle attribute(H5Acreate2(object_id, name.c_str(), type, space.get(), H5P_DEFAULT, H5P_DEFAULT), H5Aclose);
  if (!space.valid() || !attribute.valid()) file.fail("cannot create " + attribute_label(object, name) + hdf5_detail());
  if (H5Awrite(attribute.get(), memory, value) < 0)
    file.fail("cannot write " + attribute_label(object, name) + hdf5_detail());
}

}  // namespace

void File::set_string_attribute(const std::string& object, const std::string& name, const std::string& value,
                                StringStorage storage) {
  const bool fixed_length = storage == StringStorage::kFixed;
  if (!writable_) fail("cannot write " + attribute_label(object, name) + ": the file is open read-only");
  const Handle handle = open_object(object, "");
  const Handle type = string_type(value.size(), storage);
  if (!type.valid()) fail("cannot write " + attribute_label(object, name) + hdf5_detail());
  if (fixed_length) {
    std::string padded = value;
    padded.resize(std::max<std::size_t>(value.size(), 1), '\0');
    put_attribute(*this, handle.get(), object, name, type.get(), type.get(), padded.data());
  } else {
    const char* text = value.c_str();
    put_attribute(*this, handle.get(), object, name, type.get(), type.get(), &text);
  }
}

void File::set_double_attribute(const std::string& object, const std::string& name, double value) {
  if (!writable_) fail("cannot write " + attribute_label(object, name) + ": the file is open read-only");
  const Handle handle = open_object(object, "");
  put_attribute(*this, handle.get(), object, name, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, &value);
}

void File::set_int_attribute(const std::string& object, const std::string& name, std::int64_t value) {
  if (!writable_) fail("cannot write " + attribute_label(object, name) + ": the file is open read-only");
  const Handle handle = open_object(object, "");
  put_attribute(*this, handle.get(), object, name, H5T_STD_I64LE, H5T_NATIVE_INT64, &value);
}

void File::set_uint_attribute(const std::string& object, const std::string& name, std::uint64_t value) {
  if (!writable_) fail("cannot write " + attribute_label(object, name) + ": the file is open read-only");
  const Handle handle = open_object(object, "");
  put_attribute(*this, handle.get(), object, name, H5T_STD_U64LE, H5T_NATIVE_UINT64, &value);
}

std::string File::string_attribute(const std::string& object, const std::string& name) const {
  const Handle attribute = open_attribute(object, name);
  return read_string_value(*this, attribute.get(), true, attribute_label(object, name));
}

namespace {

Number read_number(const File& file, hid_t attribute, const std::string& label) {
  const Handle type(H5Aget_type(attribute), H5Tclose);
  const Handle space(H5Aget_space(attribute), H5Sclose);
  if (!type.valid() || !space.valid()) file.fail("cannot read " + label + hdf5_detail());
  const TypeInfo info = type_info(type.get());
  if (!info.numeric()) file.fail(label + " has type " + info.name() + "; expected a number");
  bool ok = true;
  const Dims dims = space_dims(space.get(), ok);
  if (!ok || element_count(dims) != 1) file.fail(label + " has shape " + to_string(dims) + "; expected a single number");
  Number n;
  herr_t status = 0;
  if (info.type_class == TypeClass::kFloat) {
    n.kind = Number::Kind::kFloat;
    status = H5Aread(attribute, H5T_NATIVE_DOUBLE, &n.d);
  } else if (info.is_signed) {
    n.kind = Number::Kind::kSigned;
    status = H5Aread(attribute, H5T_NATIVE_INT64, &n.s);
  } else {
    n.kind = Number::Kind::kUnsigned;
    status = H5Aread(attribute, H5T_NATIVE_UINT64, &n.u);
  }
  if (status < 0) file.fail("cannot read " + label + hdf5_detail());
  return n;
}

}  // namespace

double File::double_attribute(const std::string& object, const std::string& name) const {
  const Handle attribute = open_attribute(object, name);
  const Number n = read_number(*this, attribute.get(), attribute_label(object, name));
  switch (n.kind) {
    case Number::Kind::kSigned: return static_cast<double>(n.s);
    case Number::Kind::kUnsigned: return static_cast<double>(n.u);
    case Number::Kind::kFloat: break;
  }
  return n.d;
}

std::int64_t File::int_attribute(const std::string& object, const std::string& name) const {
  const std::string label = attribute_label(object, name);
  const Handle attribute = open_attribute(object, name);
  const Number n = read_number(*this, attribute.get(), label);
  switch (n.kind) {
    case Number::Kind::kSigned: return n.s;
    case Number::Kind::kUnsigned:
      if (n.u > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()))
        fail(label + " is " + format_number(n) + "; expected an integer within int64");
      return static_cast<std::int64_t>(n.u);
    case Number::Kind::kFloat: break;
  }
  // 2^63 is exactly representable; every whole double below it converts exactly.
  if (!(std::isfinite(n.d) && n.d == std::floor(n.d) && n.d >= -9223372036854775808.0 && n.d < 9223372036854775808.0))
    fail(label + " is " + format_number(n) + "; expected a whole number");
  return static_cast<std::int64_t>(n.d);
}

std::uint64_t File::uint_attribute(const std::string& object, const std::string& name) const {
  const std::string label = attribute_label(object, name);
  const Handle attribute = open_attribute(object, name);
  const Number n = read_number(*this, attribute.get(), label);
  switch (n.kind) {
    case Number::Kind::kSigned:
      if (n.s < 0) fail(label + " is " + format_number(n) + "; expected a whole number ≥ 0");
      return static_cast<std::uint64_t>(n.s);
    case Number::Kind::kUnsigned: return n.u;
    case Number::Kind::kFloat: break;
  }
  if (!(std::isfinite(n.d) && n.d == std::floor(n.d) && n.d >= 0.0 && n.d < 18446744073709551616.0))
    fail(label + " is " + format_number(n) + "; expected a whole number ≥ 0");
  return static_cast<std::uint64_t>(n.d);
}

}  // namespace lrp::h5
