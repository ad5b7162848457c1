// read_idx: MNIST-family IDX files, plain or gzip-compressed (see lrp/io/data.hpp).
//
// What a subset costs: a plain file is read at the selected rows only (pread, neighbouring rows
// read together); a gzip stream cannot be entered in the middle, so it is decompressed from its
// start up to the last selected row, and no further when its trailer agrees with the header (see
// IdxFile::read_rows).
#include "data_internal.hpp"
#include "lrp/core/error.hpp"
#include "lrp/core/files.hpp"
#include "lrp/io/data.hpp"

#include <fcntl.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>
#include <limits>
#include <memory>

namespace lrp {

namespace {

std::uint32_t big_endian_u32(const unsigned char* bytes) {
  return (std::uint32_t{bytes[0]} << 24) | (std::uint32_t{bytes[1]} << 16) | (std::uint32_t{bytes[2]} << 8) |
         std::uint32_t{bytes[3]};
}

std::uint32_t little_endian_u32(const unsigned char* bytes) {
  return (std::uint32_t{bytes[3]} << 24) | (std::uint32_t{bytes[2]} << 16) | (std::uint32_t{bytes[1]} << 8) |
         std::uint32_t{bytes[0]};
}

std::string hex32(std::uint32_t value) {
  static const char* digits = "0123456789abcdef";
  std::string out = "0x";
  for (int shift = 28; shift >= 0; shift -= 4) out += digits[(value >> shift) & 0xf];
  return out;
}

// Selected rows this far apart (in bytes) or closer are read with one pread, the rows between
// them included: one larger read is cheaper than many small ones.
constexpr std::uint64_t kJoinGapBytes = 16 << 10;
// The largest single read (and the buffer it needs, unless one row is larger).
constexpr std::uint64_t kReadBytes = 1 << 20;

// An IDX file, plain or gzip-compressed, told by its first two bytes: 1f 8b. Its header is checked
// on opening; a plain file's size is checked against the header at once, a compressed one's as far
// as it is read: see read_rows.
class IdxFile {
 public:
  IdxFile(const std::string& path, const char* what, std::uint32_t expected_magic, const char* layout)
      : path_(path), what_(what), input_(path, std::string(what) + " file") {
    unsigned char magic[2] = {};
    gzip_ = input_.read_at(magic, 2, 0) == 2 && magic[0] == 0x1f && magic[1] == 0x8b;
    if (gzip_) open_gzip();
    read_header(expected_magic, layout);
    if (!gzip_) {
      const std::uint64_t payload = input_.size() - header_;
      LRP_CHECK(payload >= elements_, what_, " file '", path_, "' is truncated: its header announces ", announced_,
                ", but only ", payload, " follow");
      LRP_CHECK(payload == elements_, what_, " file '", path_, "' has ", payload - elements_, " bytes after the ",
                elements_, " bytes of data its header announces");
    }
  }
  IdxFile(const IdxFile&) = delete;
  IdxFile& operator=(const IdxFile&) = delete;

  const std::vector<std::uint32_t>& dims() const { return dims_; }

  // Calls take(i, bytes) with the row_bytes bytes of row rows[i], for each i in order (`rows`
  // ascending, within dims()[0]). A plain file is read at those rows only. A gzip stream is
  // decompressed up to the last selected row; when that is not the file's last row, the rest is
  // skipped if the gzip trailer's uncompressed size (ISIZE, modulo 2^32) is the one the header
  // announces, so a file cut short or with bytes appended is still refused. When it is not (a
  // damaged file, or several gzip members joined), the stream is read to its end to say exactly
  // what is wrong, or to accept it.
  template <typename Fn>
  void read_rows(const std::vector<Index>& rows, std::uint64_t row_bytes, Fn take) {
    const auto count = static_cast<Index>(dims_[0]);
    const std::uint64_t buffer_bytes = std::max(row_bytes, kReadBytes);
    std::vector<unsigned char> buffer(static_cast<std::size_t>(buffer_bytes));
    if (!gzip_) {
      read_plain_rows(rows, row_bytes, buffer, take);
      return;
    }
    const Index end = trailer_matches_ ? rows.back() + 1 : count;
    const auto chunk_rows = static_cast<Index>(buffer_bytes / row_bytes);
    std::size_t next = 0;
    for (Index first = 0; first < end; first += chunk_rows) {
      const Index n = std::min(chunk_rows, end - first);
      read_stream_data(buffer.data(), static_cast<std::uint64_t>(n) * row_bytes);
      for (; next < rows.size() && rows[next] < first + n; ++next)
        take(next, buffer.data() + static_cast<std::uint64_t>(rows[next] - first) * row_bytes);
    }
    if (end == count) check_stream_end();
  }

 private:
  void open_gzip() {
    // zlib gets its own descriptor (it closes it); pread on ours does not move the shared offset.
    const int fd = ::fcntl(input_.fd(), F_DUPFD_CLOEXEC, 0);
    LRP_CHECK(fd >= 0, "cannot open ", what_, " file '", path_, "' for reading: ", std::strerror(errno));
    stream_.reset(::gzdopen(fd, "rb"));
    if (stream_ == nullptr) {
      ::close(fd);
      LRP_FAIL("cannot open ", what_, " file '", path_, "' for reading");
    }
    ::gzbuffer(stream_.get(), 1 << 16);
    unsigned char trailer[4] = {};
    const std::uint64_t size = input_.size();
    trailer_ = size >= 18 && input_.read_at(trailer, 4, size - 4) == 4 ? little_endian_u32(trailer) : 0;
  }

  void read_header(std::uint32_t expected_magic, const char* layout) {
    const std::size_t ndim = expected_magic & 0xff;
    header_ = 4 * (1 + ndim);
    unsigned char bytes[4 * 4] = {};
    const std::uint64_t got = gzip_ ? read_stream(bytes, header_) : input_.read_at(bytes, header_, 0);
    LRP_CHECK(got > 0, what_, " file '", path_, "' is empty; expected an IDX file ", layout);
    LRP_CHECK(got >= 4, what_, " file '", path_, "' is truncated: ", got,
              " bytes, shorter than the 4-byte IDX magic number");
    const std::uint32_t magic_number = big_endian_u32(bytes);
    LRP_CHECK(magic_number == expected_magic, what_, " file '", path_, "' has magic number ", hex32(magic_number),
              "; expected ", hex32(expected_magic), " (IDX, unsigned bytes, ", layout, ")");
    LRP_CHECK(got == header_, what_, " file '", path_, "' is truncated: ", got, " bytes, shorter than its ", header_,
              "-byte header");
    elements_ = 1;
    std::string announced;
    for (std::size_t d = 0; d < ndim; ++d) {
      dims_.push_back(big_endian_u32(bytes + 4 * (1 + d)));
      // Saturating: a corrupt header must not wrap around to a size that happens to match.
      elements_ = saturating_mul(elements_, dims_.back());
      announced += (d ? ", " : "") + std::to_string(dims_.back());
    }
    announced_ = std::string(layout) + " = [" + announced + "], i.e. " +
                 (elements_ == std::numeric_limits<std::uint64_t>::max() ? std::string("more than 2^64")
                                                                          : std::to_string(elements_)) +
                 " bytes of data";
    // ISIZE is the uncompressed size modulo 2^32 (RFC 1952).
    trailer_matches_ = gzip_ && elements_ != std::numeric_limits<std::uint64_t>::max() &&
                       trailer_ == static_cast<std::uint32_t>(header_ + elements_);
  }

  // The rows of a plain file: selected rows close together are read as one span (kJoinGapBytes).
  template <typename Fn>
  void read_plain_rows(const std::vector<Index>& rows, std::uint64_t row_bytes, std::vector<unsigned char>& buffer,
                       Fn& take) {
    const auto row_at = [&](Index row) { return header_ + static_cast<std::uint64_t>(row) * row_bytes; };
    for (std::size_t i = 0; i < rows.size();) {
      std::size_t j = i + 1;
      while (j < rows.size() && row_at(rows[j]) - row_at(rows[j - 1] + 1) <= kJoinGapBytes &&
             row_at(rows[j] + 1) - row_at(rows[i]) <= buffer.size())
        ++j;
      const std::uint64_t at = row_at(rows[i]), bytes = row_at(rows[j - 1] + 1) - at;
      const std::uint64_t got = input_.read_at(buffer.data(), bytes, at);
      // The size was checked on opening: a short read means the file shrank since.
      if (got < bytes) fail_truncated(at + got - header_);
      for (; i < j; ++i) take(i, buffer.data() + (row_at(rows[i]) - at));
    }
  }

  // Reads up to n bytes of the decompressed stream; fewer only at its end. zlib errors are lrp::Errors.
  std::uint64_t read_stream(unsigned char* out, std::uint64_t n) {
    std::uint64_t total = 0;
    while (total < n) {
      const unsigned chunk = static_cast<unsigned>(std::min<std::uint64_t>(n - total, 1u << 30));
      const int got = ::gzread(stream_.get(), out + total, chunk);
      if (got < 0) zlib_failure();
      if (got == 0) break;
      total += static_cast<std::uint64_t>(got);
      data_read_ += static_cast<std::uint64_t>(got);
    }
    if (total < n) zlib_failure();  // a clean end of a stream reports Z_OK
    return total;
  }

  // `bytes` bytes of data from the stream, in full (else "truncated").
  void read_stream_data(unsigned char* out, std::uint64_t bytes) {
    if (read_stream(out, bytes) < bytes) fail_truncated(data_read_ - header_);
  }

  // After the last row of a compressed file: nothing may follow the data.
  void check_stream_end() {
    std::uint64_t extra = 0;
    std::array<unsigned char, 1 << 16> sink{};
    for (std::uint64_t got = 0; (got = read_stream(sink.data(), sink.size())) > 0;) extra += got;
    LRP_CHECK(extra == 0, what_, " file '", path_, "' has ", extra, " bytes after the ", elements_,
              " bytes of data its header announces");
  }

  [[noreturn]] void fail_truncated(std::uint64_t data_bytes) const {
    LRP_FAIL(what_, " file '", path_, "' is truncated: its header announces ", announced_, ", but only ", data_bytes,
             " follow");
  }

  void zlib_failure() {
    int errnum = Z_OK;
    const char* message = ::gzerror(stream_.get(), &errnum);
    if (errnum == Z_OK || errnum == Z_STREAM_END) return;
    LRP_FAIL("gzip ", what_, " file '", path_, "' is corrupt or truncated (zlib: ", message ? message : "unknown error",
             ") after ", data_read_, " decompressed bytes");
  }

  std::string path_;
  const char* what_;
  detail::InputFile input_;
  std::unique_ptr<gzFile_s, int (*)(gzFile)> stream_{nullptr, &::gzclose};
  bool gzip_ = false, trailer_matches_ = false;
  std::uint32_t trailer_ = 0;
  std::uint64_t header_ = 0, elements_ = 0, data_read_ = 0;
  std::vector<std::uint32_t> dims_;
  std::string announced_;
};

}  // namespace

Dataset read_idx(const std::string& images_path, const std::string& labels_path, double scale,
                 const RowSelection& selection, const Limits& limits) {
  LRP_CHECK(std::isfinite(scale) && scale > 0.0, "read_idx: scale must be finite and > 0, got ", scale);
  IdxFile images(images_path, "IDX images", 0x00000803, "[N, rows, cols]");
  const std::vector<std::uint32_t>& dims = images.dims();
  LRP_CHECK(dims[0] > 0, "IDX images file '", images_path, "' contains no images (N = 0)");
  LRP_CHECK(dims[1] > 0 && dims[2] > 0, "IDX images file '", images_path, "' has images of ",
            dims[1], "×", dims[2], "; expected rows and cols ≥ 1");
  const auto count = static_cast<Index>(dims[0]);
  const Shape shape{1, static_cast<Index>(dims[1]), static_cast<Index>(dims[2])};
  const Index features = checked_numel(shape, "IDX images file '" + images_path + "'");
  const Index selected = selection.count_in(count, images_path);
  check_memory(dataset_bytes(selected, features), limits,
               detail::concat("IDX images file '", images_path, "': ", selected, " images of ", dims[1], "×", dims[2]));
  const std::vector<Index> rows = selection.rows(count, images_path);

  Dataset dataset;
  dataset.source = images_path;
  if (!labels_path.empty()) {
    IdxFile labels(labels_path, "IDX labels", 0x00000801, "[N]");
    LRP_CHECK(labels.dims()[0] == dims[0], "IDX labels file '", labels_path, "' has ", labels.dims()[0],
              " labels, but images file '", images_path, "' has ", dims[0], " images; expected one label per image");
    dataset.labels.resize(rows.size());
    labels.read_rows(rows, 1, [&](std::size_t i, const unsigned char* label) { dataset.labels[i] = *label; });
    dataset.source += ", " + labels_path;
  }

  Matrix data(selected, features);
  images.read_rows(rows, static_cast<std::uint64_t>(features), [&](std::size_t i, const unsigned char* pixels) {
    Scalar* out = data.data() + static_cast<Index>(i) * features;
    for (Index j = 0; j < features; ++j) out[j] = static_cast<Scalar>(static_cast<double>(pixels[j]) * scale);
  });
  dataset.inputs = Tensor(shape, std::move(data));
  dataset.indices = rows;
  LRP_CHECK(all_finite(dataset.inputs.data), "IDX images file '", images_path,
            "': scaling by ", scale, " gives non-finite values");
  return detail::finish_dataset(std::move(dataset));
}

}  // namespace lrp
