// The HDF5 wrapper (lrp/io/hdf5.hpp): shapes and types, handles, opening, creating and closing files,
// their structure (groups, links), in-memory file images and atomic writes, and the helpers the
// other parts share (hdf5_internal.hpp). Datasets are read and written in hdf5_datasets.cpp,
// attributes in hdf5_attributes.cpp, contained reads in hdf5_contained.cpp.

#include "lrp/io/hdf5.hpp"

#include "hdf5_internal.hpp"
#include "lrp/core/error.hpp"
#include "lrp/core/files.hpp"

#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <system_error>

namespace lrp::h5 {

namespace internal {

void silence_hdf5() {
  H5open();
  H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
}

namespace {

herr_t collect_error(unsigned, const H5E_error2_t* error, void* data) {
  auto* messages = static_cast<std::vector<std::string>*>(data);
  if (error != nullptr && error->desc != nullptr && *error->desc != '\0') messages->emplace_back(error->desc);
  return 0;
}

}  // namespace

std::string last_hdf5_error(bool* corrupt) {
  std::vector<std::string> messages;
  H5Ewalk2(H5E_DEFAULT, H5E_WALK_UPWARD, collect_error, &messages);
  H5Eclear2(H5E_DEFAULT);
  if (corrupt != nullptr) {
    *corrupt = false;
    for (const std::string& m : messages)
      if (m.find("checksum") != std::string::npos || m.find("Fletcher32") != std::string::npos) *corrupt = true;
  }
  return messages.empty() ? std::string() : messages.front();
}

std::string hdf5_detail() {
  bool corrupt = false;
  const std::string message = last_hdf5_error(&corrupt);
  if (message.empty()) return "";
  return (corrupt ? " (the file is corrupt; HDF5: " : " (HDF5: ") + message + ")";
}

TypeInfo type_info(hid_t type) {
  TypeInfo info;
  info.size = H5Tget_size(type);
  switch (H5Tget_class(type)) {
    case H5T_INTEGER:
      info.type_class = TypeClass::kInteger;
      info.is_signed = H5Tget_sign(type) == H5T_SGN_2;
      break;
    case H5T_FLOAT: info.type_class = TypeClass::kFloat; break;
    case H5T_STRING:
      info.type_class = TypeClass::kString;
      info.variable_length = H5Tis_variable_str(type) > 0;
      if (info.variable_length) info.size = 0;
      break;
    case H5T_COMPOUND: info.other = "compound"; break;
    case H5T_ENUM: info.other = "enum"; break;
    case H5T_ARRAY: info.other = "array"; break;
    case H5T_VLEN: info.other = "variable-length sequence"; break;
    case H5T_OPAQUE: info.other = "opaque"; break;
    case H5T_REFERENCE: info.other = "reference"; break;
    case H5T_BITFIELD: info.other = "bitfield"; break;
    case H5T_TIME: info.other = "time"; break;
    default: info.other = "unknown type"; break;
  }
  return info;
}

Dims space_dims(hid_t space, bool& ok) {
  ok = true;
  const H5S_class_t cls = H5Sget_simple_extent_type(space);
  if (cls == H5S_SCALAR) return {};
  if (cls != H5S_SIMPLE) {
    ok = false;
    return {};
  }
  const int rank = H5Sget_simple_extent_ndims(space);
  if (rank < 0) {
    ok = false;
    return {};
  }
  Dims dims(static_cast<std::size_t>(rank));
  if (rank > 0 && H5Sget_simple_extent_dims(space, dims.data(), nullptr) < 0) ok = false;
  return dims;
}

Handle scalar_space() { return Handle(H5Screate(H5S_SCALAR), H5Sclose); }

Handle space_for(const Dims& shape) {
  if (shape.empty()) return scalar_space();
  return Handle(H5Screate_simple(static_cast<int>(shape.size()), shape.data(), nullptr), H5Sclose);
}

Handle string_type(std::size_t length, StringStorage storage) {
  const bool fixed_length = storage == StringStorage::kFixed;
  Handle type(H5Tcopy(H5T_C_S1), H5Tclose);
  if (!type.valid()) return type;
  if (fixed_length) {
    H5Tset_size(type.get(), std::max<std::size_t>(length, 1));
    H5Tset_strpad(type.get(), H5T_STR_NULLPAD);
  } else {
    H5Tset_size(type.get(), H5T_VARIABLE);
  }
  H5Tset_cset(type.get(), H5T_CSET_UTF8);
  return type;
}

std::string attribute_label(const std::string& object, const std::string& name) {
  const std::string abs = absolute_path(object);
  if (abs == "/") return "root attribute '" + name + "'";
  return "attribute '" + name + "' of '" + abs + "'";
}

std::string read_string_value(const File& file, hid_t object, bool attribute, const std::string& label) {
  Handle type(attribute ? H5Aget_type(object) : H5Dget_type(object), H5Tclose);
  Handle space(attribute ? H5Aget_space(object) : H5Dget_space(object), H5Sclose);
  if (!type.valid() || !space.valid()) file.fail("cannot read " + label + hdf5_detail());
  const TypeInfo info = type_info(type.get());
  if (info.type_class != TypeClass::kString)
    file.fail(label + " has type " + info.name() + "; expected a string");
  bool ok = true;
  const Dims dims = space_dims(space.get(), ok);
  if (!ok || element_count(dims) != 1)
    file.fail(label + " has shape " + to_string(dims) + "; expected a single string");
  auto read = [&](hid_t memory, void* buffer) {
    return attribute ? H5Aread(object, memory, buffer) : H5Dread(object, memory, H5S_ALL, H5S_ALL, H5P_DEFAULT, buffer);
  };
  if (info.variable_length) {
    Handle memory(H5Tcopy(H5T_C_S1), H5Tclose);
    if (!memory.valid() || H5Tset_size(memory.get(), H5T_VARIABLE) < 0 ||
        H5Tset_cset(memory.get(), H5Tget_cset(type.get())) < 0)
      file.fail("cannot read " + label + hdf5_detail());
    char* text = nullptr;
    if (read(memory.get(), &text) < 0) file.fail("cannot read " + label + hdf5_detail());
    std::string value = text != nullptr ? std::string(text) : std::string();
    H5Dvlen_reclaim(memory.get(), space.get(), H5P_DEFAULT, &text);
    return value;
  }
  // Fixed length: read the bytes as stored, then drop the padding.
  std::string buffer(info.size, '\0');
  if (!buffer.empty() && read(type.get(), buffer.data()) < 0) file.fail("cannot read " + label + hdf5_detail());
  const std::size_t nul = buffer.find('\0');
  if (nul != std::string::npos) buffer.resize(nul);
  if (H5Tget_strpad(type.get()) == H5T_STR_SPACEPAD) {
    while (!buffer.empty() && buffer.back() == ' ') buffer.pop_back();
  }
  return buffer;
}

Handle with_parents() {
  Handle lcpl(H5Pcreate(H5P_LINK_CREATE), H5Pclose);
  if (lcpl.valid()) H5Pset_create_intermediate_group(lcpl.get(), 1);
  return lcpl;
}

}  // namespace internal

using namespace internal;

namespace {

namespace fs = std::filesystem;

std::vector<std::string> split_path(const std::string& path) {
  std::vector<std::string> parts;
  std::size_t start = 0;
  while (start <= path.size()) {
    const std::size_t slash = path.find('/', start);
    const std::size_t end = slash == std::string::npos ? path.size() : slash;
    if (end > start) parts.push_back(path.substr(start, end - start));
    if (slash == std::string::npos) break;
    start = slash + 1;
  }
  return parts;
}

std::string kind_name(ObjectKind kind) {
  switch (kind) {
    case ObjectKind::kGroup: return "a group";
    case ObjectKind::kDataset: return "a dataset";
    case ObjectKind::kOther: return "a named datatype";
    case ObjectKind::kMissing: break;
  }
  return "missing";
}

}  // namespace

// ---------------------------------------------------------------- small helpers

Dims to_dims(const std::vector<Index>& shape) {
  Dims dims;
  dims.reserve(shape.size());
  for (Index d : shape) {
    LRP_CHECK(d >= 0, "HDF5 shape: extent ", d, " in ", lrp::to_string(shape), " is negative");
    dims.push_back(static_cast<hsize_t>(d));
  }
  return dims;
}

std::vector<Index> to_index_shape(const Dims& dims) {
  std::vector<Index> shape;
  shape.reserve(dims.size());
  for (hsize_t d : dims) {
    LRP_CHECK(d <= static_cast<hsize_t>(std::numeric_limits<Index>::max()), "HDF5 shape ", to_string(dims),
              " has an extent too large for lrplab");
    shape.push_back(static_cast<Index>(d));
  }
  return shape;
}

std::string to_string(const Dims& dims) {
  std::string out = "[";
  for (std::size_t i = 0; i < dims.size(); ++i) out += (i ? ", " : "") + std::to_string(dims[i]);
  return out + "]";
}

hsize_t element_count(const Dims& dims) {
  hsize_t n = 1;  // saturating: a corrupt shape must not wrap around to a small count
  for (hsize_t d : dims) n = d != 0 && n > std::numeric_limits<hsize_t>::max() / d ? std::numeric_limits<hsize_t>::max() : n * d;
  return n;
}

std::string TypeInfo::name() const {
  switch (type_class) {
    case TypeClass::kInteger: return (is_signed ? "int" : "uint") + std::to_string(8 * size);
    case TypeClass::kFloat: return "float" + std::to_string(8 * size);
    case TypeClass::kString: return variable_length ? "string (variable length)" : "string (fixed length)";
    case TypeClass::kOther: break;
  }
  return other.empty() ? std::string("unknown type") : other;
}

std::string absolute_path(const std::string& object) {
  if (object.empty()) return "/";
  return object.front() == '/' ? object : "/" + object;
}

Handle& Handle::operator=(Handle&& other) noexcept {
  if (this != &other) {
    reset();
    id_ = other.id_;
    closer_ = other.closer_;
    other.id_ = H5I_INVALID_HID;
  }
  return *this;
}

bool Handle::reset() {
  bool ok = true;
  if (id_ >= 0 && closer_ != nullptr) ok = closer_(id_) >= 0;
  id_ = H5I_INVALID_HID;
  return ok;
}

// ---------------------------------------------------------------- opening and closing

File::File(Handle id, std::string path, std::string what, bool writable)
    : id_(std::move(id)), path_(std::move(path)), what_(std::move(what)), writable_(writable) {}

namespace {

// A file-access property list: closing the file closes every object still open in it.
Handle strong_close_access() {
  Handle fapl(H5Pcreate(H5P_FILE_ACCESS), H5Pclose);
  if (fapl.valid()) H5Pset_fclose_degree(fapl.get(), H5F_CLOSE_STRONG);
  return fapl;
}

// New files use the HDF5 1.10 format: superblock, object headers, group and chunk indexes all
// carry checksums, so damaged metadata is reported instead of being parsed.
Handle checksummed_format_access() {
  Handle fapl = strong_close_access();
  if (fapl.valid()) H5Pset_libver_bounds(fapl.get(), H5F_LIBVER_V110, H5F_LIBVER_LATEST);
  return fapl;
}

}  // namespace

namespace {

// The end-of-file address a superblock at the start of the file declares, or 0 when it cannot be
// read with confidence (then HDF5 checks the file itself). Layouts: HDF5 file format specification,
// superblock versions 0–3. Checked before H5Fopen because HDF5 1.10.8 leaks an object header when
// it refuses a truncated file.
std::uint64_t declared_end(const unsigned char* b, std::size_t got) {
  static const unsigned char kSignature[8] = {0x89, 'H', 'D', 'F', '\r', '\n', 0x1a, '\n'};
  if (got < 16 || std::memcmp(b, kSignature, 8) != 0) return 0;
  const unsigned version = b[8];
  std::size_t offsets = 0, base_at = 0;
  if (version == 0 || version == 1) {
    offsets = b[13];
    base_at = version == 0 ? 24 : 28;
  } else if (version == 2 || version == 3) {
    offsets = b[9];
    base_at = 12;
  } else {
    return 0;
  }
  if (offsets != 2 && offsets != 4 && offsets != 8) return 0;
  const std::size_t eof_at = base_at + 2 * offsets;
  if (got < eof_at + offsets) return 0;
  auto address = [&](std::size_t at) {
    std::uint64_t v = 0;
    for (std::size_t k = offsets; k-- > 0;) v = (v << 8) | b[at + k];  // little-endian
    return v;
  };
  if (address(base_at) != 0) return 0;  // a base address (user block) changes the arithmetic
  return address(eof_at);
}

std::uint64_t declared_end(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::array<unsigned char, 64> b{};
  in.read(reinterpret_cast<char*>(b.data()), b.size());
  return declared_end(b.data(), static_cast<std::size_t>(in.gcount()));
}

}  // namespace

File File::open(const std::string& path, const std::string& what) {
  silence_hdf5();
  std::error_code ec;
  try {
    check_input_file(path, what);  // a FIFO would block HDF5's open
  } catch (const Error& e) {
    throw Error(std::string("cannot open ") + e.what());
  }
  const htri_t is_hdf5 = H5Fis_hdf5(path.c_str());
  if (is_hdf5 < 0) LRP_FAIL("cannot open ", what, " '", path, "' for reading", hdf5_detail());
  LRP_CHECK(is_hdf5 > 0, what, " '", path, "' is not an HDF5 file (it has no HDF5 signature)");
  const std::uint64_t size = fs::file_size(path, ec);
  const std::uint64_t end = declared_end(path);
  if (!ec && end > size)
    LRP_FAIL("cannot open ", what, " '", path, "': the HDF5 file is truncated or corrupt: it has ", size,
             " bytes, but its superblock says it ends at byte ", end);
  const Handle fapl = strong_close_access();
  Handle id(H5Fopen(path.c_str(), H5F_ACC_RDONLY, fapl.get()), H5Fclose);
  if (!id.valid()) {
    bool corrupt = false;
    const std::string message = last_hdf5_error(&corrupt);
    LRP_FAIL("cannot open ", what, " '", path, "': the HDF5 file is ", corrupt ? "corrupt" : "truncated or corrupt",
             message.empty() ? std::string() : " (HDF5: " + message + ")");
  }
  return File(std::move(id), path, what, false);
}

File File::create(const std::string& path, const std::string& what) {
  silence_hdf5();
  const fs::path parent = fs::path(path).parent_path();
  std::error_code ec;
  LRP_CHECK(parent.empty() || fs::is_directory(parent, ec), "cannot create ", what, " '", path, "': directory '",
            parent.string(), "' does not exist");
  LRP_CHECK(!fs::is_directory(path, ec), "cannot create ", what, " '", path, "': it is a directory");
  const Handle fapl = checksummed_format_access();
  Handle id(H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, fapl.get()), H5Fclose);
  if (!id.valid()) LRP_FAIL("cannot create ", what, " '", path, "'", hdf5_detail());
  return File(std::move(id), path, what, true);
}

File File::open_for_writing(const std::string& path, const std::string& what) {
  File file = open(path, what);  // the same checks, and a clear message for a file that is not HDF5
  file.id_.reset();
  const Handle fapl = strong_close_access();
  Handle id(H5Fopen(path.c_str(), H5F_ACC_RDWR, fapl.get()), H5Fclose);
  if (!id.valid()) LRP_FAIL("cannot open ", what, " '", path, "' for writing", hdf5_detail());
  return File(std::move(id), path, what, true);
}

// The core driver's buffer, watched through HDF5's file-image callbacks: when the file is closed,
// the driver shrinks the buffer to the file's end and frees it, and that last buffer is the file.
struct ImageSink {
  void* buffer = nullptr;
  std::size_t size = 0;
  std::string* out = nullptr;
};

namespace {

void* image_malloc(std::size_t size, H5FD_file_image_op_t, void* udata) {
  auto* sink = static_cast<ImageSink*>(udata);
  sink->buffer = std::malloc(size);
  sink->size = sink->buffer != nullptr ? size : 0;
  return sink->buffer;
}

void* image_memcpy(void* dest, const void* src, std::size_t size, H5FD_file_image_op_t, void*) {
  return std::memcpy(dest, src, size);
}

void* image_realloc(void* ptr, std::size_t size, H5FD_file_image_op_t, void* udata) {
  auto* sink = static_cast<ImageSink*>(udata);
  void* grown = std::realloc(ptr, size);
  if (grown != nullptr) {
    sink->buffer = grown;
    sink->size = size;
  }
  return grown;
}

herr_t image_free(void* ptr, H5FD_file_image_op_t op, void* udata) {
  auto* sink = static_cast<ImageSink*>(udata);
  if (op == H5FD_FILE_IMAGE_OP_FILE_CLOSE && ptr == sink->buffer && sink->out != nullptr)
    sink->out->assign(static_cast<const char*>(ptr), sink->size);
  if (ptr == sink->buffer) sink->buffer = nullptr;
  std::free(ptr);
  return 0;
}

void* udata_copy(void* udata) { return udata; }
herr_t udata_free(void*) { return 0; }

}  // namespace

File File::create_in_memory(const std::string& shown, const std::string& what, ImageSink* sink) {
  silence_hdf5();
  // HDF5 keeps one open file per name: every in-memory file gets its own.
  static std::atomic<unsigned long> counter{0};
  const std::string name = "lrplab-in-memory-" + std::to_string(::getpid()) + "-" + std::to_string(counter++);
  Handle fapl = checksummed_format_access();
  H5FD_file_image_callbacks_t callbacks{image_malloc, image_memcpy, image_realloc, image_free,
                                        udata_copy,   udata_free,   sink};
  if (!fapl.valid() || H5Pset_fapl_core(fapl.get(), 1 << 20, 0) < 0 ||
      H5Pset_file_image_callbacks(fapl.get(), &callbacks) < 0)
    LRP_FAIL("cannot create ", what, " '", shown, "' in memory", hdf5_detail());
  Handle id(H5Fcreate(name.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, fapl.get()), H5Fclose);
  if (!id.valid()) LRP_FAIL("cannot create ", what, " '", shown, "' in memory", hdf5_detail());
  return File(std::move(id), shown, what, true);
}

std::string File::where() const { return what_ + " '" + path_ + "'"; }

void File::fail(const std::string& detail) const { throw Error(where() + ": " + detail); }

hid_t File::id() const {
  if (!id_.valid()) fail("the file is closed");
  return id_.get();
}

void File::flush() {
  if (H5Fflush(id(), H5F_SCOPE_LOCAL) < 0) fail("cannot write the file to disk" + hdf5_detail());
}

void File::close() {
  if (!id_.valid()) return;
  if (!id_.reset()) fail("cannot close the file (data may not have been written)" + hdf5_detail());
}

// ---------------------------------------------------------------- structure

bool File::exists(const std::string& object) const {
  const hid_t file = id();
  std::string prefix;
  for (const std::string& part : split_path(object)) {
    prefix += "/" + part;
    if (H5Lexists(file, prefix.c_str(), H5P_DEFAULT) <= 0) {
      H5Eclear2(H5E_DEFAULT);
      return false;
    }
  }
  if (prefix.empty()) return true;
  const htri_t resolves = H5Oexists_by_name(file, prefix.c_str(), H5P_DEFAULT);  // false for dangling links
  H5Eclear2(H5E_DEFAULT);
  return resolves > 0;
}

ObjectKind File::kind(const std::string& object) const {
  if (!exists(object)) return ObjectKind::kMissing;
  Handle handle(H5Oopen(id(), absolute_path(object).c_str(), H5P_DEFAULT), H5Oclose);
  if (!handle.valid()) fail("cannot open '" + absolute_path(object) + "'" + hdf5_detail());
  switch (H5Iget_type(handle.get())) {
    case H5I_GROUP: return ObjectKind::kGroup;
    case H5I_DATASET: return ObjectKind::kDataset;
    default: return ObjectKind::kOther;
  }
}

Handle File::open_object(const std::string& object, const char* expected) const {
  const std::string abs = absolute_path(object);
  const ObjectKind k = kind(abs);
  const std::string want = expected;
  if (k == ObjectKind::kMissing)
    fail("has no " + (want.empty() ? std::string("object") : want) + " '" + abs + "'");
  if ((want == "group" && k != ObjectKind::kGroup) || (want == "dataset" && k != ObjectKind::kDataset))
    fail("'" + abs + "' is " + kind_name(k) + "; expected a " + want);
  Handle handle(H5Oopen(id(), abs.c_str(), H5P_DEFAULT), H5Oclose);
  if (!handle.valid()) fail("cannot open '" + abs + "'" + hdf5_detail());
  return handle;
}

Handle File::open_dataset(const std::string& dataset) const {
  const std::string abs = absolute_path(dataset);
  const ObjectKind k = kind(abs);
  if (k == ObjectKind::kMissing) fail("has no dataset '" + abs + "'");
  if (k != ObjectKind::kDataset) fail("'" + abs + "' is " + kind_name(k) + "; expected a dataset");
  Handle handle(H5Dopen2(id(), abs.c_str(), H5P_DEFAULT), H5Dclose);
  if (!handle.valid()) fail("cannot open dataset '" + abs + "'" + hdf5_detail());
  return handle;
}

std::vector<std::string> File::children(const std::string& group) const {
  const Handle handle = open_object(group, "group");
  H5G_info_t info{};
  if (H5Gget_info(handle.get(), &info) < 0) fail("cannot list group '" + absolute_path(group) + "'" + hdf5_detail());
  std::vector<std::string> names;
  for (hsize_t i = 0; i < info.nlinks; ++i) {
    const ssize_t length =
        H5Lget_name_by_idx(handle.get(), ".", H5_INDEX_NAME, H5_ITER_INC, i, nullptr, 0, H5P_DEFAULT);
    if (length < 0) fail("cannot list group '" + absolute_path(group) + "'" + hdf5_detail());
    std::string name(static_cast<std::size_t>(length) + 1, '\0');
    if (H5Lget_name_by_idx(handle.get(), ".", H5_INDEX_NAME, H5_ITER_INC, i, name.data(), name.size(), H5P_DEFAULT) < 0)
      fail("cannot list group '" + absolute_path(group) + "'" + hdf5_detail());
    name.resize(static_cast<std::size_t>(length));
    names.push_back(std::move(name));
  }
  return names;
}

void File::create_group(const std::string& group) {
  const std::string abs = absolute_path(group);
  if (!writable_) fail("cannot create group '" + abs + "': the file is open read-only");
  const ObjectKind k = kind(abs);
  if (k == ObjectKind::kGroup) return;
  if (k != ObjectKind::kMissing) fail("cannot create group '" + abs + "': it exists and is " + kind_name(k));
  const Handle lcpl = with_parents();
  Handle handle(H5Gcreate2(id(), abs.c_str(), lcpl.get(), H5P_DEFAULT, H5P_DEFAULT), H5Gclose);
  if (!handle.valid()) fail("cannot create group '" + abs + "'" + hdf5_detail());
}

void File::remove(const std::string& object) {
  const std::string abs = absolute_path(object);
  if (!writable_) fail("cannot remove '" + abs + "': the file is open read-only");
  if (abs == "/") fail("cannot remove the root group");
  if (!exists(abs)) fail("cannot remove '" + abs + "': it does not exist");
  if (H5Ldelete(id(), abs.c_str(), H5P_DEFAULT) < 0) fail("cannot remove '" + abs + "'" + hdf5_detail());
}

// ---------------------------------------------------------------- atomic writes

std::string build_file_image(const std::string& shown, const std::string& what, const std::function<void(File&)>& fill) {
  std::string bytes;
  ImageSink sink;
  {
    File file = File::create_in_memory(shown, what, &sink);
    fill(file);
    sink.out = &bytes;
    file.close();
  }
  // The driver's buffer grows in steps; the file ends where its superblock says.
  const std::uint64_t end = declared_end(reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size());
  if (end == 0 || end > bytes.size()) LRP_FAIL("cannot write ", what, " '", shown, "': HDF5 gave no complete file image");
  bytes.resize(static_cast<std::size_t>(end));
  return bytes;
}

void write_atomically(const std::string& path, const std::string& what, const std::function<void(File&)>& fill) {
  write_file_atomically(path, what, build_file_image(path, what, fill));
}

}  // namespace lrp::h5
