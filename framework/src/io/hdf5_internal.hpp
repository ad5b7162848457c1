// What the HDF5 wrapper's sources share (hdf5.cpp, hdf5_datasets.cpp, hdf5_attributes.cpp); not
// part of the public API.
#pragma once

#include "lrp/io/hdf5.hpp"

#include <hdf5.h>

#include <cstdint>
#include <string>

namespace lrp::h5::internal {

// HDF5 prints its error stack to stderr on every failed call unless told not to; lrplab reports
// errors itself. (Cheap and idempotent: done whenever a file is opened or created.)
void silence_hdf5();
// HDF5's innermost error message of the failed call ("" when there is none), and whether it is a
// checksum failure (metadata, or the Fletcher-32 filter on data): damage, not a bug. Must be
// called right after the failing call: the next HDF5 call clears the stack.
std::string last_hdf5_error(bool* corrupt = nullptr);
// The same as " (HDF5: ...)" to append to a message, "(the file is corrupt; HDF5: ...)" for damage.
std::string hdf5_detail();

// The HDF5 memory and stored (little-endian) types of a C++ type.
template <typename T>
struct TypeOf;
template <>
struct TypeOf<double> {
  static hid_t memory() { return H5T_NATIVE_DOUBLE; }
  static hid_t stored() { return H5T_IEEE_F64LE; }
  static constexpr const char* name = "float64";
};
template <>
struct TypeOf<float> {
  static hid_t memory() { return H5T_NATIVE_FLOAT; }
  static hid_t stored() { return H5T_IEEE_F32LE; }
  static constexpr const char* name = "float32";
};
template <>
struct TypeOf<std::int64_t> {
  static hid_t memory() { return H5T_NATIVE_INT64; }
  static hid_t stored() { return H5T_STD_I64LE; }
  static constexpr const char* name = "int64";
};
template <>
struct TypeOf<std::uint64_t> {
  static hid_t memory() { return H5T_NATIVE_UINT64; }
  static hid_t stored() { return H5T_STD_U64LE; }
  static constexpr const char* name = "uint64";
};
template <>
struct TypeOf<std::int32_t> {
  static hid_t memory() { return H5T_NATIVE_INT32; }
  static hid_t stored() { return H5T_STD_I32LE; }
};
template <>
struct TypeOf<std::uint8_t> {
  static hid_t memory() { return H5T_NATIVE_UINT8; }
  static hid_t stored() { return H5T_STD_U8LE; }
};

TypeInfo type_info(hid_t type);
// The dataspace's shape; `ok` is false for a null dataspace or a failure.
Dims space_dims(hid_t space, bool& ok);
Handle scalar_space();
Handle space_for(const Dims& shape);
// A string type: variable-length, or fixed with room for `length` bytes (null-padded); UTF-8.
Handle string_type(std::size_t length, StringStorage storage);
// Link creation that makes missing parent groups.
Handle with_parents();
// "root attribute 'x'", "attribute 'x' of '/a/b'".
std::string attribute_label(const std::string& object, const std::string& name);
// One string from a dataset or attribute (a scalar or an array of one). `label` names it.
std::string read_string_value(const File& file, hid_t object, bool attribute, const std::string& label);

}  // namespace lrp::h5::internal
