// Numeric and string datasets of the HDF5 wrapper (lrp/io/hdf5.hpp): writing them with checksummed
// storage, reading them whole or by rows with checked type conversion.

#include "hdf5_internal.hpp"
#include "lrp/core/error.hpp"
#include "lrp/io/hdf5.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <type_traits>

namespace lrp::h5 {

using namespace internal;

namespace {

// What a conversion callback needs to know about the stored type (it must not call HDF5 itself),
// and whether the conversion met a value outside the target type's range (then it was aborted).
struct ConversionState {
  bool source_float = false;
  std::size_t source_size = 0;
  bool out_of_range = false;
};

// Whether the source value of a float-to-float conversion is ±Inf (HDF5 passes it in native byte
// order): float64 → float32 reports Inf as out of range, but Inf stays Inf.
bool infinite_source(const ConversionState& state, const void* source) {
  if (!state.source_float || source == nullptr) return false;
  if (state.source_size == sizeof(double)) {
    double v = 0;
    std::memcpy(&v, source, sizeof v);
    return std::isinf(v);
  }
  if (state.source_size == sizeof(long double)) {
    long double v = 0;
    std::memcpy(&v, source, sizeof v);
    return std::isinf(v);
  }
  return false;
}

H5T_conv_ret_t on_conversion_exception(H5T_conv_except_t except, hid_t, hid_t, void* source, void*, void* user) {
  auto* state = static_cast<ConversionState*>(user);
  if (except == H5T_CONV_EXCEPT_RANGE_HI || except == H5T_CONV_EXCEPT_RANGE_LOW ||
      except == H5T_CONV_EXCEPT_TRUNCATE) {
    if (infinite_source(*state, source)) return H5T_CONV_UNHANDLED;  // HDF5 stores ±Inf
    state->out_of_range = true;
    return H5T_CONV_ABORT;
  }
  return H5T_CONV_UNHANDLED;  // precision loss rounds; Inf and NaN stay Inf and NaN
}

// A transfer property list whose conversions fail instead of clipping out-of-range values.
Handle checked_transfer(ConversionState& state) {
  Handle dxpl(H5Pcreate(H5P_DATASET_XFER), H5Pclose);
  if (dxpl.valid()) H5Pset_type_conv_cb(dxpl.get(), on_conversion_exception, &state);
  return dxpl;
}

// Dataset storage that a checksum covers: up to 32 KiB inside the dataset's object header
// (compact), larger arrays in chunks of at most 1 MiB with the Fletcher-32 filter.
Handle checksummed_storage(const Dims& shape, std::size_t element_size) {
  constexpr hsize_t kCompactBytes = 32 << 10, kChunkBytes = 1 << 20;
  Handle dcpl(H5Pcreate(H5P_DATASET_CREATE), H5Pclose);
  if (!dcpl.valid()) return dcpl;
  const hsize_t bytes = element_count(shape) * element_size;
  if (bytes == 0) return dcpl;  // nothing stored
  if (bytes <= kCompactBytes) {
    H5Pset_layout(dcpl.get(), H5D_COMPACT);
    return dcpl;
  }
  Dims chunk = shape;
  for (std::size_t d = 0; d < chunk.size(); ++d)
    while (chunk[d] > 1 && element_count(chunk) * element_size > kChunkBytes) chunk[d] = (chunk[d] + 1) / 2;
  H5Pset_chunk(dcpl.get(), static_cast<int>(chunk.size()), chunk.data());
  H5Pset_fletcher32(dcpl.get());
  return dcpl;
}

}  // namespace

// ---------------------------------------------------------------- numeric datasets

template <typename T>
void File::write(const std::string& dataset, const T* data, const Dims& shape) {
  const std::string abs = absolute_path(dataset);
  if (!writable_) fail("cannot write dataset '" + abs + "': the file is open read-only");
  if (exists(abs)) fail("cannot write dataset '" + abs + "': it exists already");
  const Handle space = space_for(shape);
  const Handle lcpl = with_parents();
  const Handle dcpl = checksummed_storage(shape, sizeof(T));
  Handle handle(H5Dcreate2(id(), abs.c_str(), TypeOf<T>::stored(), space.get(), lcpl.get(), dcpl.get(), H5P_DEFAULT),
                H5Dclose);
  if (!space.valid() || !dcpl.valid() || !handle.valid())
    fail("cannot create dataset '" + abs + "' of shape " + to_string(shape) + hdf5_detail());
  if (element_count(shape) == 0) return;
  if (H5Dwrite(handle.get(), TypeOf<T>::memory(), H5S_ALL, H5S_ALL, H5P_DEFAULT, data) < 0)
    fail("cannot write dataset '" + abs + "'" + hdf5_detail());
}

DatasetInfo File::dataset_info(const std::string& dataset) const {
  const Handle handle = open_dataset(dataset);
  const Handle type(H5Dget_type(handle.get()), H5Tclose);
  const Handle space(H5Dget_space(handle.get()), H5Sclose);
  if (!type.valid() || !space.valid()) fail("cannot read dataset '" + absolute_path(dataset) + "'" + hdf5_detail());
  DatasetInfo info;
  bool ok = true;
  info.shape = space_dims(space.get(), ok);
  if (!ok) fail("dataset '" + absolute_path(dataset) + "' has an empty (null) dataspace; expected an array");
  info.type = type_info(type.get());
  return info;
}

namespace {

template <typename T>
void check_readable_as(const File& file, const std::string& abs, const TypeInfo& type) {
  if constexpr (std::is_integral_v<T>) {
    if (type.type_class != TypeClass::kInteger)
      file.fail("dataset '" + abs + "' has type " + type.name() + "; expected an integer type");
  } else {
    if (!type.numeric())
      file.fail("dataset '" + abs + "' has type " + type.name() + "; expected numbers (an integer or float type)");
  }
}

}  // namespace

template <typename T>
std::vector<T> File::read(const std::string& dataset, Dims* shape) const {
  const std::string abs = absolute_path(dataset);
  const DatasetInfo info = dataset_info(abs);
  check_readable_as<T>(*this, abs, info.type);
  if (shape != nullptr) *shape = info.shape;
  if (info.elements() > (std::uint64_t{1} << 40) / sizeof(T))
    fail("dataset '" + abs + "' has shape " + to_string(info.shape) + ": too large to read at once");
  std::vector<T> values(static_cast<std::size_t>(info.elements()));
  if (values.empty()) return values;
  const Handle handle = open_dataset(abs);
  ConversionState state{info.type.type_class == TypeClass::kFloat, info.type.size, false};
  const Handle dxpl = checked_transfer(state);
  if (H5Dread(handle.get(), TypeOf<T>::memory(), H5S_ALL, H5S_ALL, dxpl.get(), values.data()) < 0) {
    const std::string detail = hdf5_detail();
    if (state.out_of_range)
      fail("dataset '" + abs + "' holds " + info.type.name() + " values outside the range of " + TypeOf<T>::name);
    fail("cannot read dataset '" + abs + "'" + detail);
  }
  return values;
}

template <typename T>
void File::read_rows(const std::string& dataset, hsize_t first, hsize_t count, T* out) const {
  const std::string abs = absolute_path(dataset);
  const DatasetInfo info = dataset_info(abs);
  check_readable_as<T>(*this, abs, info.type);
  if (info.shape.empty()) fail("dataset '" + abs + "' is a scalar; expected an array to read rows from");
  if (first > info.shape[0] || count > info.shape[0] - first)
    fail("cannot read rows [" + std::to_string(first) + ", " + std::to_string(first + count) + ") of dataset '" + abs +
         "' of shape " + to_string(info.shape));
  Dims start(info.shape.size(), 0), extent = info.shape;
  start[0] = first;
  extent[0] = count;
  if (element_count(extent) == 0) return;
  const Handle handle = open_dataset(abs);
  const Handle file_space(H5Dget_space(handle.get()), H5Sclose);
  const Dims flat{element_count(extent)};
  const Handle memory_space = space_for(flat);
  if (!file_space.valid() || !memory_space.valid() ||
      H5Sselect_hyperslab(file_space.get(), H5S_SELECT_SET, start.data(), nullptr, extent.data(), nullptr) < 0)
    fail("cannot select rows of dataset '" + abs + "'" + hdf5_detail());
  ConversionState state{info.type.type_class == TypeClass::kFloat, info.type.size, false};
  const Handle dxpl = checked_transfer(state);
  if (H5Dread(handle.get(), TypeOf<T>::memory(), memory_space.get(), file_space.get(), dxpl.get(), out) < 0) {
    const std::string detail = hdf5_detail();
    if (state.out_of_range)
      fail("dataset '" + abs + "' holds " + info.type.name() + " values outside the range of " + TypeOf<T>::name);
    fail("cannot read dataset '" + abs + "'" + detail);
  }
}

template <typename T>
void File::read_row_list(const std::string& dataset, const Index* rows, std::size_t count, T* out) const {
  const std::string abs = absolute_path(dataset);
  const DatasetInfo info = dataset_info(abs);
  check_readable_as<T>(*this, abs, info.type);
  if (info.shape.empty()) fail("dataset '" + abs + "' is a scalar; expected an array to read rows from");
  if (count == 0 || element_count(info.shape) == 0) return;
  for (std::size_t i = 0; i < count; ++i)
    if (rows[i] < 0 || static_cast<hsize_t>(rows[i]) >= info.shape[0] || (i > 0 && rows[i] <= rows[i - 1]))
      fail("cannot read row " + std::to_string(rows[i]) + " of dataset '" + abs + "' of shape " +
           to_string(info.shape) + (i > 0 && rows[i] <= rows[i - 1] ? " (rows must ascend)" : ""));
  const Handle handle = open_dataset(abs);
  const Handle file_space(H5Dget_space(handle.get()), H5Sclose);
  if (!file_space.valid()) fail("cannot select rows of dataset '" + abs + "'" + hdf5_detail());
  ConversionState state{info.type.type_class == TypeClass::kFloat, info.type.size, false};
  const Handle dxpl = checked_transfer(state);
  Dims start(info.shape.size(), 0), extent = info.shape;
  extent[0] = 1;
  const hsize_t row_elements = element_count(extent);
  // Selected rows at most 16 KiB apart (as stored) are read as one span, the rows between them
  // included, and the selected ones copied out: one larger read costs less than many small ones.
  const auto join_gap = static_cast<Index>((hsize_t{16} << 10) / std::max<hsize_t>(1, row_elements * info.type.size));
  const auto max_span = static_cast<Index>(std::max<hsize_t>(1, (hsize_t{1} << 20) / row_elements));
  std::vector<T> scratch;
  const auto read_span = [&](Index first, Index rows_in_span, T* into) {
    start[0] = static_cast<hsize_t>(first);
    extent[0] = static_cast<hsize_t>(rows_in_span);
    const Handle memory_space = space_for(Dims{extent[0] * row_elements});
    if (!memory_space.valid() ||
        H5Sselect_hyperslab(file_space.get(), H5S_SELECT_SET, start.data(), nullptr, extent.data(), nullptr) < 0)
      fail("cannot select rows of dataset '" + abs + "'" + hdf5_detail());
    if (H5Dread(handle.get(), TypeOf<T>::memory(), memory_space.get(), file_space.get(), dxpl.get(), into) < 0) {
      const std::string detail = hdf5_detail();
      if (state.out_of_range)
        fail("dataset '" + abs + "' holds " + info.type.name() + " values outside the range of " + TypeOf<T>::name);
      fail("cannot read dataset '" + abs + "'" + detail);
    }
  };
  for (std::size_t i = 0; i < count;) {
    std::size_t j = i + 1;
    while (j < count && rows[j] - rows[j - 1] - 1 <= join_gap && rows[j] - rows[i] < max_span) ++j;
    const Index span = rows[j - 1] - rows[i] + 1;
    if (span == static_cast<Index>(j - i)) {  // consecutive rows: straight into place
      read_span(rows[i], span, out + i * row_elements);
    } else {
      scratch.resize(static_cast<std::size_t>(span) * row_elements);
      read_span(rows[i], span, scratch.data());
      for (std::size_t k = i; k < j; ++k)
        std::copy_n(scratch.data() + static_cast<hsize_t>(rows[k] - rows[i]) * row_elements, row_elements,
                    out + k * row_elements);
    }
    i = j;
  }
}

std::vector<Scalar> File::read_scalars(const std::string& dataset, const Dims& expected) const {
  const std::string abs = absolute_path(dataset);
  const DatasetInfo info = dataset_info(abs);
  if (info.shape != expected)
    fail("dataset '" + abs + "' has shape " + to_string(info.shape) + ", expected " + to_string(expected));
  return read<Scalar>(abs);
}

template void File::write<double>(const std::string&, const double*, const Dims&);
template void File::write<float>(const std::string&, const float*, const Dims&);
template void File::write<std::int64_t>(const std::string&, const std::int64_t*, const Dims&);
template void File::write<std::int32_t>(const std::string&, const std::int32_t*, const Dims&);
template void File::write<std::uint64_t>(const std::string&, const std::uint64_t*, const Dims&);
template void File::write<std::uint8_t>(const std::string&, const std::uint8_t*, const Dims&);
template std::vector<double> File::read<double>(const std::string&, Dims*) const;
template std::vector<float> File::read<float>(const std::string&, Dims*) const;
template std::vector<std::int64_t> File::read<std::int64_t>(const std::string&, Dims*) const;
template std::vector<std::uint64_t> File::read<std::uint64_t>(const std::string&, Dims*) const;
template void File::read_rows<double>(const std::string&, hsize_t, hsize_t, double*) const;
template void File::read_rows<float>(const std::string&, hsize_t, hsize_t, float*) const;
template void File::read_rows<std::int64_t>(const std::string&, hsize_t, hsize_t, std::int64_t*) const;
template void File::read_row_list<double>(const std::string&, const Index*, std::size_t, double*) const;

// ---------------------------------------------------------------- string datasets

void File::write_string(const std::string& dataset, const std::string& value, StringStorage storage) {
  const bool fixed_length = storage == StringStorage::kFixed;
  const std::string abs = absolute_path(dataset);
  if (!writable_) fail("cannot write dataset '" + abs + "': the file is open read-only");
  if (exists(abs)) fail("cannot write dataset '" + abs + "': it exists already");
  const Handle type = string_type(value.size(), storage);
  const Handle space = scalar_space();
  const Handle lcpl = with_parents();
  // Kept in the object header when small; a larger fixed-length string is stored contiguously.
  const Handle dcpl(H5Pcreate(H5P_DATASET_CREATE), H5Pclose);
  if (dcpl.valid() && (!fixed_length || value.size() <= (32 << 10))) H5Pset_layout(dcpl.get(), H5D_COMPACT);
  Handle handle(H5Dcreate2(id(), abs.c_str(), type.get(), space.get(), lcpl.get(), dcpl.get(), H5P_DEFAULT), H5Dclose);
  if (!type.valid() || !space.valid() || !dcpl.valid() || !handle.valid())
    fail("cannot create string dataset '" + abs + "'" + hdf5_detail());
  herr_t status = 0;
  if (fixed_length) {
    std::string padded = value;
    padded.resize(std::max<std::size_t>(value.size(), 1), '\0');
    status = H5Dwrite(handle.get(), type.get(), H5S_ALL, H5S_ALL, H5P_DEFAULT, padded.data());
  } else {
    const char* text = value.c_str();
    status = H5Dwrite(handle.get(), type.get(), H5S_ALL, H5S_ALL, H5P_DEFAULT, &text);
  }
  if (status < 0) fail("cannot write string dataset '" + abs + "'" + hdf5_detail());
}

std::string File::read_string(const std::string& dataset) const {
  const std::string abs = absolute_path(dataset);
  const Handle handle = open_dataset(abs);
  return read_string_value(*this, handle.get(), false, "dataset '" + abs + "'");
}

}  // namespace lrp::h5
