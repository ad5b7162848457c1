#include "lrp/io/data.hpp"

#include "data_internal.hpp"
#include "lrp/core/error.hpp"
#include "lrp/core/files.hpp"
#include "lrp/core/random.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <sstream>
#include <limits>
#include <memory>
#include <random>
#include <string_view>
#include <unordered_map>

namespace lrp {

namespace {

using Bytes = std::vector<unsigned char>;

void check_shape(const Shape& shape, const char* where) {
  LRP_CHECK(!shape.empty(), where, ": the sample shape is empty; expected at least one dimension");
  for (Index d : shape)
    LRP_CHECK(d > 0, where, ": the sample shape ", to_string(shape), " has a dimension ≤ 0");
}

std::uint32_t big_endian_u32(const unsigned char* bytes) {
  return (std::uint32_t{bytes[0]} << 24) | (std::uint32_t{bytes[1]} << 16) | (std::uint32_t{bytes[2]} << 8) |
         std::uint32_t{bytes[3]};
}

std::string hex32(std::uint32_t value) {
  static const char* digits = "0123456789abcdef";
  std::string out = "0x";
  for (int shift = 28; shift >= 0; shift -= 4) out += digits[(value >> shift) & 0xf];
  return out;
}

// An IDX file read as a stream, plain or gzip-compressed (told by its first two bytes, 1f 8b), its
// header checked on opening. The data is read in order; a plain file's size is checked against the
// header at once, a compressed one's as it is read (see finish()).
class IdxStream {
 public:
  IdxStream(const std::string& path, const char* what, std::uint32_t expected_magic, const char* layout)
      : path_(path), what_(what) {
    check_input_file(path, std::string(what) + " file");
    const int fd = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
    LRP_CHECK(fd >= 0, "cannot open ", what, " file '", path, "' for reading: ", std::strerror(errno));
    struct stat st {};
    if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
      ::close(fd);
      LRP_FAIL(what, " file '", path, "' is not a regular file");
    }
    ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) & ~O_NONBLOCK);
    unsigned char magic[2] = {};
    gzip_ = ::pread(fd, magic, 2, 0) == 2 && magic[0] == 0x1f && magic[1] == 0x8b;
    file_size_ = static_cast<std::uint64_t>(st.st_size);
    file_.reset(::gzdopen(fd, "rb"));  // reads a plain file as it is (closed with the stream, even if
                                       // the header below is refused)
    if (file_ == nullptr) {
      ::close(fd);
      LRP_FAIL("cannot open ", what, " file '", path, "' for reading");
    }
    ::gzbuffer(file_.get(), 1 << 16);

    const std::size_t ndim = expected_magic & 0xff;
    const std::size_t header = 4 * (1 + ndim);
    unsigned char bytes[4 * 4] = {};
    const std::uint64_t got = read(bytes, header);
    LRP_CHECK(got > 0, what, " file '", path, "' is empty; expected an IDX file ", layout);
    LRP_CHECK(got >= 4, what, " file '", path, "' is truncated: ", got, " bytes, shorter than the 4-byte IDX magic number");
    const std::uint32_t magic_number = big_endian_u32(bytes);
    LRP_CHECK(magic_number == expected_magic, what, " file '", path, "' has magic number ", hex32(magic_number),
              "; expected ", hex32(expected_magic), " (IDX, unsigned bytes, ", layout, ")");
    LRP_CHECK(got == header, what, " file '", path, "' is truncated: ", got, " bytes, shorter than its ", header,
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
    if (!gzip_) {
      const std::uint64_t payload = file_size_ - header;
      LRP_CHECK(payload >= elements_, what, " file '", path, "' is truncated: its header announces ", announced_,
                ", but only ", payload, " follow");
      LRP_CHECK(payload == elements_, what, " file '", path, "' has ", payload - elements_, " bytes after the ",
                elements_, " bytes of data its header announces");
    }
  }
  IdxStream(const IdxStream&) = delete;
  IdxStream& operator=(const IdxStream&) = delete;

  const std::vector<std::uint32_t>& dims() const { return dims_; }
  // Whether the data's size is known to match the header already (a plain file).
  bool checked() const { return !gzip_; }

  // Reads up to n bytes of the stream; fewer only at its end. zlib errors are lrp::Errors.
  std::uint64_t read(unsigned char* out, std::uint64_t n) {
    std::uint64_t total = 0;
    while (total < n) {
      const unsigned chunk = static_cast<unsigned>(std::min<std::uint64_t>(n - total, 1u << 30));
      const int got = ::gzread(file_.get(), out + total, chunk);
      if (got < 0) zlib_failure();
      if (got == 0) break;
      total += static_cast<std::uint64_t>(got);
      data_read_ += static_cast<std::uint64_t>(got);
    }
    if (total < n) zlib_failure();  // a clean end of a stream reports Z_OK
    return total;
  }

  // The data of `bytes` bytes read in full (else "truncated"): for a compressed file, also that
  // nothing follows it.
  void read_data(unsigned char* out, std::uint64_t bytes) {
    if (read(out, bytes) < bytes)
      LRP_FAIL(what_, " file '", path_, "' is truncated: its header announces ", announced_, ", but only ",
               data_read_ - 4 * (1 + dims_.size()), " follow");
  }
  void finish() {
    if (!gzip_) return;
    std::uint64_t extra = 0;
    std::array<unsigned char, 1 << 16> sink{};
    for (std::uint64_t got = 0; (got = read(sink.data(), sink.size())) > 0;) extra += got;
    LRP_CHECK(extra == 0, what_, " file '", path_, "' has ", extra, " bytes after the ", elements_,
              " bytes of data its header announces");
  }

 private:
  void zlib_failure() {
    int errnum = Z_OK;
    const char* message = ::gzerror(file_.get(), &errnum);
    if (errnum == Z_OK || errnum == Z_STREAM_END) return;
    LRP_FAIL("gzip ", what_, " file '", path_, "' is corrupt or truncated (zlib: ", message ? message : "unknown error",
             ") after ", data_read_, " decompressed bytes");
  }

  std::string path_;
  const char* what_;
  std::unique_ptr<gzFile_s, int (*)(gzFile)> file_{nullptr, &::gzclose};
  bool gzip_ = false;
  std::uint64_t file_size_ = 0, elements_ = 0, data_read_ = 0;
  std::vector<std::uint32_t> dims_;
  std::string announced_;
};

Dataset finish(Dataset dataset) { return detail::finish_dataset(std::move(dataset)); }

std::string_view trim(std::string_view s) {
  const auto blank = [](char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; };
  while (!s.empty() && blank(s.front())) s.remove_prefix(1);
  while (!s.empty() && blank(s.back())) s.remove_suffix(1);
  return s;
}

Dataset select_rows(const Dataset& dataset, const std::vector<Index>& rows) {
  LRP_CHECK(dataset.relevant.empty() || static_cast<Index>(dataset.relevant.size()) == dataset.size(), "'",
            dataset.source, "' has ", dataset.relevant.size(), " lists of relevant positions for ", dataset.size(),
            " samples; expected one per sample (or none)");
  Dataset out;
  out.source = dataset.source;
  Matrix data(static_cast<Index>(rows.size()), dataset.inputs.features());
  for (size_t i = 0; i < rows.size(); ++i) {
    data.row(static_cast<Index>(i)) = dataset.inputs.data.row(rows[i]);
    out.indices.push_back(dataset.indices.empty() ? rows[i] : dataset.indices[static_cast<size_t>(rows[i])]);
    if (!dataset.labels.empty()) out.labels.push_back(dataset.labels[static_cast<size_t>(rows[i])]);
    if (!dataset.relevant.empty()) out.relevant.push_back(dataset.relevant[static_cast<size_t>(rows[i])]);
  }
  out.inputs = Tensor(dataset.inputs.shape, std::move(data));
  if (!dataset.inputs.lengths.empty())
    for (Index r : rows) out.inputs.lengths.push_back(dataset.inputs.lengths[static_cast<size_t>(r)]);
  return finish(std::move(out));
}

}  // namespace

Dataset read_idx(const std::string& images_path, const std::string& labels_path, double scale,
                 const RowSelection& selection, const Limits& limits) {
  LRP_CHECK(std::isfinite(scale) && scale > 0.0, "read_idx: scale must be finite and > 0, got ", scale);
  IdxStream images(images_path, "IDX images", 0x00000803, "[N, rows, cols]");
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
    IdxStream labels(labels_path, "IDX labels", 0x00000801, "[N]");
    LRP_CHECK(labels.dims()[0] == dims[0], "IDX labels file '", labels_path, "' has ", labels.dims()[0],
              " labels, but images file '", images_path, "' has ", dims[0], " images; expected one label per image");
    std::vector<unsigned char> chunk(static_cast<size_t>(std::min<Index>(count, 1 << 16)));
    std::size_t next = 0;
    for (Index first = 0; first < count; first += static_cast<Index>(chunk.size())) {
      const Index n = std::min<Index>(static_cast<Index>(chunk.size()), count - first);
      if (labels.checked() && next == rows.size()) break;  // a plain file's size was checked already
      labels.read_data(chunk.data(), static_cast<std::uint64_t>(n));
      for (; next < rows.size() && rows[next] < first + n; ++next)
        dataset.labels.push_back(chunk[static_cast<size_t>(rows[next] - first)]);
    }
    labels.finish();
    dataset.source += ", " + labels_path;
  }

  Matrix data(selected, features);
  const Index chunk_rows = std::max<Index>(1, std::min<Index>(count, (Index{1} << 20) / features));
  std::vector<unsigned char> chunk(static_cast<size_t>(chunk_rows * features));
  std::size_t next = 0;
  for (Index first = 0; first < count; first += chunk_rows) {
    if (images.checked() && next == rows.size()) break;  // the rest of a plain file is not needed
    const Index n = std::min(chunk_rows, count - first);
    images.read_data(chunk.data(), static_cast<std::uint64_t>(n * features));
    for (; next < rows.size() && rows[next] < first + n; ++next) {
      const unsigned char* pixels = chunk.data() + (rows[next] - first) * features;
      Scalar* out = data.data() + static_cast<Index>(next) * features;
      for (Index j = 0; j < features; ++j) out[j] = static_cast<Scalar>(static_cast<double>(pixels[j]) * scale);
    }
  }
  images.finish();
  dataset.inputs = Tensor(shape, std::move(data));
  dataset.indices = rows;
  LRP_CHECK(all_finite(dataset.inputs.data), "IDX images file '", images_path,
            "': scaling by ", scale, " gives non-finite values");
  return finish(std::move(dataset));
}

Dataset read_csv(const std::string& path, Shape sample_shape, int label_column, bool header, const Limits& limits) {
  check_shape(sample_shape, "read_csv");
  const Index features = checked_numel(sample_shape, "read_csv '" + path + "'");
  const Index columns = features + (label_column >= 0 ? 1 : 0);
  LRP_CHECK(label_column >= -1 && label_column < columns, "read_csv '", path, "': label column ",
            label_column, " is out of range; expected -1 (none) or 0..", columns - 1, " for ",
            features, " features plus a label");

  // Every value takes at least two bytes of text ("0,"): the file's size bounds what it holds.
  check_input_file(path, "CSV file");
  std::error_code ec;
  const std::uintmax_t size = std::filesystem::file_size(path, ec);
  if (!ec)
    check_memory(saturating_add(size, dataset_bytes(static_cast<Index>(size / 2 / static_cast<std::uintmax_t>(features) + 1),
                                                    features)),
                 limits, "CSV file '" + path + "' (" + format_bytes(size) + ")");
  std::istringstream in(read_input_file(path, "CSV file", limits.memory));

  std::vector<Scalar> values;
  Dataset dataset;
  dataset.source = path;
  std::string line;
  Index line_number = 0;
  bool header_pending = header;
  bool any_line = false;
  while (std::getline(in, line)) {
    ++line_number;
    const std::string_view text = trim(line);
    if (text.empty()) continue;
    any_line = true;
    if (header_pending) {
      header_pending = false;
      continue;
    }
    Index column = 0;
    size_t start = 0;
    for (;;) {
      const size_t comma = text.find(',', start);
      const std::string_view field =
          trim(text.substr(start, comma == std::string_view::npos ? std::string_view::npos : comma - start));
      ++column;
      LRP_CHECK(column <= columns, "CSV file '", path, "', line ", line_number, ": more than the expected ",
                columns, " columns (", features, " features", label_column >= 0 ? " plus a label" : "", ")");
      double value = 0;
      const char* end = field.data() + field.size();
      const auto [ptr, err] = std::from_chars(field.data(), end, value);
      LRP_CHECK(!field.empty() && err == std::errc() && ptr == end, "CSV file '", path, "', line ",
                line_number, ", column ", column, ": '", field, "' is not a number");
      LRP_CHECK(std::isfinite(value), "CSV file '", path, "', line ", line_number, ", column ", column,
                ": non-finite value '", field, "'");
      if (column - 1 == label_column) {
        LRP_CHECK(value >= 0 && value == std::floor(value) && value < 9.0e15, "CSV file '", path,
                  "', line ", line_number, ", column ", column, ": label '", field,
                  "' is not a non-negative integer");
        dataset.labels.push_back(static_cast<Index>(value));
      } else {
        LRP_CHECK(std::isfinite(static_cast<Scalar>(value)), "CSV file '", path, "', line ", line_number,
                  ", column ", column, ": value '", field, "' overflows ", scalar_name());
        values.push_back(static_cast<Scalar>(value));
      }
      if (comma == std::string_view::npos) break;
      start = comma + 1;
    }
    LRP_CHECK(column == columns, "CSV file '", path, "', line ", line_number, ": ", column,
              " columns; expected ", columns, " (", features, " features",
              label_column >= 0 ? " plus a label" : "", ")");
  }
  LRP_CHECK(!in.bad(), "error while reading CSV file '", path, "'");
  LRP_CHECK(any_line, "CSV file '", path, "' is empty; expected one sample per line");
  const auto count = static_cast<Index>(values.size()) / features;
  LRP_CHECK(count > 0, "CSV file '", path, "' has a header but no data rows");

  Matrix data(count, features);
  std::copy(values.begin(), values.end(), data.data());
  dataset.inputs = Tensor(std::move(sample_shape), std::move(data));
  dataset.indices.resize(static_cast<size_t>(count));
  for (Index i = 0; i < count; ++i) dataset.indices[static_cast<size_t>(i)] = i;
  return finish(std::move(dataset));
}

Dataset subset(const Dataset& dataset, Index begin, Index end) {
  LRP_CHECK(0 <= begin && begin < end && end <= dataset.size(), "subset of '", dataset.source,
            "': range [", begin, ", ", end, ") is out of bounds; expected 0 ≤ begin < end ≤ ",
            dataset.size());
  std::vector<Index> rows;
  for (Index i = begin; i < end; ++i) rows.push_back(i);
  return select_rows(dataset, rows);
}

std::vector<Index> sample_rows(Index size, Index count, std::uint64_t seed) {
  // Partial Fisher–Yates over the virtual array 0, 1, ..., size − 1: only the touched positions are
  // stored, so drawing 20 rows of a billion costs 20 entries, with the same draw as a full array.
  std::unordered_map<Index, Index> moved;
  const auto at = [&](Index i) {
    const auto it = moved.find(i);
    return it == moved.end() ? i : it->second;
  };
  std::mt19937_64 rng(seed);
  std::vector<Index> rows(static_cast<size_t>(count));
  for (Index i = 0; i < count; ++i) {
    const auto j = i + static_cast<Index>(bounded(rng, static_cast<std::uint64_t>(size - i)));
    const Index vi = at(i), vj = at(j);
    moved[j] = vi;
    rows[static_cast<size_t>(i)] = vj;
  }
  std::sort(rows.begin(), rows.end());
  return rows;
}

RowSelection RowSelection::range(Index begin, Index end) {
  RowSelection s;
  s.kind = Kind::kRange;
  s.begin = begin;
  s.end = end;
  return s;
}

RowSelection RowSelection::draw(Index count, std::uint64_t seed) {
  RowSelection s;
  s.kind = Kind::kSample;
  s.count = count;
  s.seed = seed;
  return s;
}

Index RowSelection::count_in(Index size, const std::string& source) const {
  switch (kind) {
    case Kind::kAll: return size;
    case Kind::kRange: {
      const Index stop = end < 0 ? size : end;  // end < 0: to the last sample
      LRP_CHECK(0 <= begin && begin < stop && stop <= size, what, " [", begin, ", ", stop,
                ") is not a non-empty range within the ", size, " samples of '", source, "'");
      return stop - begin;
    }
    case Kind::kSample:
      LRP_CHECK(count >= 1 && count <= size, what, ".count ", count, " exceeds the ", size, " samples of '", source,
                "'");
      return count;
  }
  return 0;
}

std::vector<Index> RowSelection::rows(Index size, const std::string& source) const {
  const Index n = count_in(size, source);
  if (kind == Kind::kSample) return sample_rows(size, count, seed);
  std::vector<Index> out(static_cast<size_t>(n));
  const Index first = kind == Kind::kRange ? begin : 0;
  for (Index i = 0; i < n; ++i) out[static_cast<size_t>(i)] = first + i;
  return out;
}

Dataset select(const Dataset& dataset, const RowSelection& selection) {
  if (selection.kind == RowSelection::Kind::kAll) return dataset;
  return select_rows(dataset, selection.rows(dataset.size(), dataset.source));
}

Dataset sample(const Dataset& dataset, Index count, std::uint64_t seed) {
  const Index size = dataset.size();
  LRP_CHECK(count >= 1 && count <= size, "sample of '", dataset.source, "': cannot draw ", count,
            " samples without replacement from ", size, "; expected 1 ≤ count ≤ ", size);
  return select_rows(dataset, sample_rows(size, count, seed));
}

std::uint64_t dataset_bytes(Index samples, Index features) {
  const auto n = static_cast<std::uint64_t>(samples), f = static_cast<std::uint64_t>(features);
  return saturating_add(saturating_mul(saturating_mul(n, f), 2 * sizeof(Scalar)), saturating_mul(n, 64));
}

Dataset synthetic_blobs(Shape sample_shape, Index count, Index classes, std::uint64_t seed, const Limits& limits) {
  check_shape(sample_shape, "synthetic_blobs");
  LRP_CHECK(count >= 1, "synthetic_blobs: count must be ≥ 1, got ", count);
  LRP_CHECK(classes >= 1, "synthetic_blobs: classes must be ≥ 1, got ", classes);
  const Index features = checked_numel(sample_shape, "synthetic_blobs");
  check_memory(saturating_add(dataset_bytes(count, features),
                              saturating_mul(saturating_mul(static_cast<std::uint64_t>(classes),
                                                            static_cast<std::uint64_t>(features)),
                                             sizeof(double))),
               limits, detail::concat("synthetic data of ", count, " samples of shape ", to_string(sample_shape)));
  std::mt19937_64 rng(seed);
  std::vector<double> patterns(static_cast<size_t>(classes * features));
  for (double& p : patterns) p = uniform01(rng);

  Dataset dataset;
  dataset.source = detail::concat("synthetic_blobs(shape ", to_string(sample_shape), ", count ", count,
                                  ", classes ", classes, ", seed ", seed, ")");
  Matrix data(count, features);
  for (Index i = 0; i < count; ++i) {
    const Index label = i % classes;
    for (Index f = 0; f < features; ++f) {
      const double value = patterns[static_cast<size_t>(label * features + f)] + 0.3 * standard_normal(rng);
      data(i, f) = static_cast<Scalar>(std::clamp(value, 0.0, 1.0));
    }
    dataset.labels.push_back(label);
    dataset.indices.push_back(i);
  }
  dataset.inputs = Tensor(std::move(sample_shape), std::move(data));
  return finish(std::move(dataset));
}

void check_labels(const Dataset& dataset, Index classes, const std::string& what) {
  LRP_CHECK(static_cast<Index>(dataset.labels.size()) == dataset.size(), what, ": the dataset '", dataset.source,
            "' has ", dataset.labels.size(), " labels for ", dataset.size(), " samples; expected one label per sample");
  for (std::size_t i = 0; i < dataset.labels.size(); ++i)
    LRP_CHECK(dataset.labels[i] >= 0 && dataset.labels[i] < classes, what, ": the dataset '", dataset.source,
              "': label ", dataset.labels[i], " of sample ", i,
              i < dataset.indices.size() ? " (index " + std::to_string(dataset.indices[i]) + " in the source)" : "",
              " is out of range; expected a class in [0, ", classes, ")");
}

}  // namespace lrp
