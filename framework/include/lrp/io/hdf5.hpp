// A small RAII layer over the HDF5 C API (serial HDF5 1.10+): the one place lrplab talks to HDF5,
// used by model files, HDF5 data sets and results files.
//
// A File is an open HDF5 file; every operation names its object by an absolute path inside the file
// ("/weights/conv1/weight"; a path without the leading '/' is taken from the root) and opens and
// closes the identifiers it needs, so no HDF5 identifier outlives the call that made it. HDF5's
// automatic printing of its error stack is switched off: every failure is an lrp::Error of the form
//   <what> '<file path>': <object> '<object path>' <what was wrong>; expected <what was expected>
// where `what` describes the file ("model file", "HDF5 data file"), and HDF5's own innermost error
// message is appended where HDF5 reported one.
//
// Reading accepts what h5py writes: numeric data of any integer or floating-point type (converted
// to the requested type; values out of its range are an error, never silently clipped), and strings
// stored as variable-length or fixed-length (null- or space-padded) strings, ASCII or UTF-8, as
// scalars or one-element arrays.
//
// Writing makes damage detectable: files use the HDF5 1.10 format (readable by HDF5 ≥ 1.10, h5py
// included), whose metadata carry checksums; array datasets are chunked with a Fletcher-32
// checksum filter, scalar datasets are kept inside their (checksummed) object header, and strings
// are fixed-length UTF-8 by default (variable-length strings live in HDF5's global heap, which has
// no checksum and which HDF5 1.10 reads unchecked). Numbers are little-endian IEEE floats and
// two's-complement integers. (h5py returns fixed-length strings as bytes: .decode() them.)
//
// Serial HDF5 is not thread-safe: use one File per thread only if HDF5 was built thread-safe;
// lrplab reads and writes HDF5 from one thread.
#pragma once

#include "lrp/core/tensor.hpp"

#include <hdf5.h>

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace lrp::h5 {

// A dataset's shape (outermost dimension first, as in NumPy); empty for a scalar.
using Dims = std::vector<hsize_t>;

// Conversions from and to lrplab's Index shapes (negative extents are an lrp::Error).
Dims to_dims(const std::vector<Index>& shape);
std::vector<Index> to_index_shape(const Dims& dims);
// "[16, 1, 3, 3]"; "[]" for a scalar.
std::string to_string(const Dims& dims);
// The number of elements (1 for a scalar).
hsize_t element_count(const Dims& dims);

enum class TypeClass { kInteger, kFloat, kString, kOther };

struct TypeInfo {
  TypeClass type_class = TypeClass::kOther;
  std::size_t size = 0;          // bytes per element (a fixed-length string: its length)
  bool is_signed = false;        // integers
  bool variable_length = false;  // strings
  std::string other;             // kOther: HDF5's class ("compound", "enum", ...)
  // "uint8", "int64", "float32", "float64", "string", "compound", ...
  std::string name() const;
  bool numeric() const { return type_class == TypeClass::kInteger || type_class == TypeClass::kFloat; }
};

struct DatasetInfo {
  Dims shape;
  TypeInfo type;
  hsize_t elements() const { return element_count(shape); }
};

enum class ObjectKind { kMissing, kGroup, kDataset, kOther };

// How a string is written: fixed-length UTF-8 (checksummed with its object's metadata) or
// variable-length UTF-8 (what h5py writes for a Python str).
enum class StringStorage { kFixed, kVariable };

// An HDF5 identifier and the function that closes it; closes on destruction. Move-only.
class Handle {
 public:
  using Closer = herr_t (*)(hid_t);
  Handle() = default;
  Handle(hid_t id, Closer closer) : id_(id), closer_(closer) {}
  Handle(Handle&& other) noexcept : id_(other.id_), closer_(other.closer_) { other.id_ = H5I_INVALID_HID; }
  Handle& operator=(Handle&& other) noexcept;
  Handle(const Handle&) = delete;
  Handle& operator=(const Handle&) = delete;
  ~Handle() { reset(); }

  hid_t get() const { return id_; }
  bool valid() const { return id_ >= 0; }
  // Closes now; returns false when HDF5 reported an error while closing.
  bool reset();

 private:
  hid_t id_ = H5I_INVALID_HID;
  Closer closer_ = nullptr;
};

struct ImageSink;  // hdf5.cpp: collects an in-memory file's bytes

class File {
 public:
  // Opens an existing file read-only. A missing file ("cannot open ..."), a directory, a file that
  // is not HDF5 and a truncated or corrupt file are lrp::Errors. `what` names the file in messages.
  static File open(const std::string& path, const std::string& what = "HDF5 file");
  // Creates a file for writing (an existing file is replaced).
  static File create(const std::string& path, const std::string& what = "HDF5 file");
  // Opens an existing file for reading and writing (to add to or change it).
  static File open_for_writing(const std::string& path, const std::string& what = "HDF5 file");

  File(File&&) noexcept = default;
  File& operator=(File&&) noexcept = default;
  ~File() = default;  // closes silently; call close() to see errors

  const std::string& path() const { return path_; }
  bool writable() const { return writable_; }
  // "<what> '<path>'", the prefix of every message about this file.
  std::string where() const;
  // Throws lrp::Error("<where()>: <detail>").
  [[noreturn]] void fail(const std::string& detail) const;

  // ---- structure
  // Whether a link of that path exists (every intermediate group included); "/" always exists.
  bool exists(const std::string& object) const;
  ObjectKind kind(const std::string& object) const;
  // Names of a group's members in name order; an error when `group` is missing or not a group.
  std::vector<std::string> children(const std::string& group) const;
  // Creates a group and any missing parents; an existing group is fine.
  void create_group(const std::string& group);
  // Unlinks a group (with everything in it) or a dataset; a missing object is an error. (HDF5 does
  // not give the space back to the file system.)
  void remove(const std::string& object);

  // ---- numeric datasets
  // Writes a new dataset (parents are created) of element_count(shape) values, stored as
  // little-endian T. T is double, float, std::int64_t, std::int32_t, std::uint64_t or std::uint8_t.
  template <typename T>
  void write(const std::string& dataset, const T* data, const Dims& shape);
  template <typename T>
  void write(const std::string& dataset, const std::vector<T>& data, const Dims& shape);

  DatasetInfo dataset_info(const std::string& dataset) const;
  // All values, converted to T (double, float, std::int64_t or std::uint64_t) from any stored integer
  // or float type; the integer types need a stored integer type. Values outside T's range are an error.
  // `shape` (optional) receives the dataset's shape.
  template <typename T>
  std::vector<T> read(const std::string& dataset, Dims* shape = nullptr) const;
  // Rows [first, first + count) of the outermost dimension into out (count × the inner extents).
  template <typename T>
  void read_rows(const std::string& dataset, hsize_t first, hsize_t count, T* out) const;
  // Rows rows[0], ..., rows[count − 1] (ascending, distinct) of the outermost dimension into out, one
  // after another, in one read of their union: HDF5 reads only the chunks, or for contiguous
  // storage the bytes, that hold them.
  template <typename T>
  void read_row_list(const std::string& dataset, const Index* rows, std::size_t count, T* out) const;
  // The values as the build's scalar type, after checking the shape is `expected` (the message
  // names both shapes).
  std::vector<Scalar> read_scalars(const std::string& dataset, const Dims& expected) const;

  // ---- string datasets (a scalar, or an array of one)
  void write_string(const std::string& dataset, const std::string& value,
                    StringStorage storage = StringStorage::kFixed);
  std::string read_string(const std::string& dataset) const;

  // ---- attributes of an object: the root group "/", a group or a dataset. Setting replaces an
  // existing attribute of that name.
  bool has_attribute(const std::string& object, const std::string& name) const;
  std::vector<std::string> attribute_names(const std::string& object) const;
  TypeInfo attribute_type(const std::string& object, const std::string& name) const;
  void set_string_attribute(const std::string& object, const std::string& name, const std::string& value,
                            StringStorage storage = StringStorage::kFixed);
  void set_double_attribute(const std::string& object, const std::string& name, double value);
  void set_int_attribute(const std::string& object, const std::string& name, std::int64_t value);
  void set_uint_attribute(const std::string& object, const std::string& name, std::uint64_t value);
  // Readers; the attribute must exist and be a scalar (or an array of one) of a fitting type:
  // string_attribute a string; double_attribute any number; int_attribute an integer, or a float
  // holding a whole number, within int64; uint_attribute the same, ≥ 0.
  std::string string_attribute(const std::string& object, const std::string& name) const;
  double double_attribute(const std::string& object, const std::string& name) const;
  std::int64_t int_attribute(const std::string& object, const std::string& name) const;
  std::uint64_t uint_attribute(const std::string& object, const std::string& name) const;

  // Writes buffered data to disk.
  void flush();
  // Closes the file (errors are lrp::Error); the File can then only be destroyed or assigned.
  void close();

 private:
  friend std::string build_file_image(const std::string&, const std::string&, const std::function<void(File&)>&);
  File(Handle id, std::string path, std::string what, bool writable);
  // A new file that lives in memory only (HDF5's core driver), named `shown` in messages; `sink`
  // receives its bytes when it is closed.
  static File create_in_memory(const std::string& shown, const std::string& what, ImageSink* sink);
  hid_t id() const;
  Handle open_object(const std::string& object, const char* expected) const;
  Handle open_dataset(const std::string& dataset) const;
  Handle open_attribute(const std::string& object, const std::string& name) const;

  Handle id_;
  std::string path_;
  std::string what_;
  bool writable_ = false;
};

// An absolute object path: "weights/x" → "/weights/x"; "" → "/".
std::string absolute_path(const std::string& object);

// Reading a file through libhdf5 is not safe against every damaged or crafted file: HDF5 1.10 can
// crash (out-of-bounds reads and writes, bad frees) or loop forever on some. contained() runs
// `read` (the whole read of `path`, as the caller will do it) in a forked child process first, with
// a time limit. When the child finishes, the caller reads the file itself; an lrp::Error in the
// child is thrown here with the child's message; a crash or a hang of the child is an lrp::Error
// naming the file. Nothing the child allocates or prints reaches this process. (If fork fails,
// the read is not contained.)
// In builds with AddressSanitizer (the sanitizer test build, the fuzzing build) only the HDF5
// library's crashes (a libhdf5 frame on the child's stack) are contained: when the child threw an
// error or crashed in lrplab's own code, contained() returns and the caller's own read repeats
// it, so that a bug of lrplab's is reported by the sanitizer, never hidden as a damaged file, and
// the fuzzer sees the coverage of lrplab's error paths. contained_failures_rerun_here() says which.
void contained(const std::string& path, const std::string& what, double seconds, const std::function<void()>& read);
bool contained_failures_rerun_here();

// The bytes of a new HDF5 file that fill() writes: the file is built in memory (HDF5's core driver:
// nothing touches the disk, so a full disk or a planted link cannot meet HDF5's own writing) and
// `shown` names it in messages.
std::string build_file_image(const std::string& shown, const std::string& what, const std::function<void(File&)>& fill);

// Writes an HDF5 file so that `path` either keeps its old contents or gets the complete new file:
// build_file_image, then lrp::write_file_atomically (files.hpp: a unique temporary, renamed).
void write_atomically(const std::string& path, const std::string& what, const std::function<void(File&)>& fill);

extern template void File::write<double>(const std::string&, const double*, const Dims&);
extern template void File::write<float>(const std::string&, const float*, const Dims&);
extern template void File::write<std::int64_t>(const std::string&, const std::int64_t*, const Dims&);
extern template void File::write<std::int32_t>(const std::string&, const std::int32_t*, const Dims&);
extern template void File::write<std::uint64_t>(const std::string&, const std::uint64_t*, const Dims&);
extern template void File::write<std::uint8_t>(const std::string&, const std::uint8_t*, const Dims&);
extern template std::vector<double> File::read<double>(const std::string&, Dims*) const;
extern template std::vector<float> File::read<float>(const std::string&, Dims*) const;
extern template std::vector<std::int64_t> File::read<std::int64_t>(const std::string&, Dims*) const;
extern template std::vector<std::uint64_t> File::read<std::uint64_t>(const std::string&, Dims*) const;
extern template void File::read_rows<double>(const std::string&, hsize_t, hsize_t, double*) const;
extern template void File::read_rows<float>(const std::string&, hsize_t, hsize_t, float*) const;
extern template void File::read_rows<std::int64_t>(const std::string&, hsize_t, hsize_t, std::int64_t*) const;
extern template void File::read_row_list<double>(const std::string&, const Index*, std::size_t, double*) const;

template <typename T>
void File::write(const std::string& dataset, const std::vector<T>& data, const Dims& shape) {
  if (static_cast<hsize_t>(data.size()) != element_count(shape))
    fail("cannot write dataset '" + absolute_path(dataset) + "': " + std::to_string(data.size()) +
         " values for shape " + to_string(shape) + " (" + std::to_string(element_count(shape)) + " elements)");
  write(dataset, data.data(), shape);
}

}  // namespace lrp::h5
