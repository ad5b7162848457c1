#include "lrp/data.hpp"

#include "data_internal.hpp"
#include "lrp/error.hpp"
#include "lrp/random.hpp"

#include <zlib.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>
#include <random>
#include <string_view>

namespace lrp {

namespace {

using Bytes = std::vector<unsigned char>;

void check_shape(const Shape& shape, const char* where) {
  LRP_CHECK(!shape.empty(), where, ": the sample shape is empty; expected at least one dimension");
  for (Index d : shape)
    LRP_CHECK(d > 0, where, ": the sample shape ", to_string(shape), " has a dimension ≤ 0");
}

// Whole file contents, decompressed when it starts with the gzip magic bytes 1f 8b.
Bytes read_file_bytes(const std::string& path, const char* what) {
  std::error_code ec;
  LRP_CHECK(std::filesystem::exists(path, ec), what, " file '", path, "' does not exist");
  LRP_CHECK(!std::filesystem::is_directory(path, ec), what, " file '", path,
            "' is a directory; expected a file");
  std::ifstream in(path, std::ios::binary);
  LRP_CHECK(in.good(), "cannot open ", what, " file '", path, "' for reading");
  std::array<char, 2> magic{};
  in.read(magic.data(), 2);
  const bool gzip = in.gcount() == 2 && static_cast<unsigned char>(magic[0]) == 0x1f &&
                    static_cast<unsigned char>(magic[1]) == 0x8b;
  Bytes bytes;
  if (!gzip) {
    in.clear();
    in.seekg(0, std::ios::end);
    const std::streamoff size = in.tellg();
    LRP_CHECK(size >= 0, "cannot determine the size of ", what, " file '", path, "'");
    in.seekg(0, std::ios::beg);
    bytes.resize(static_cast<size_t>(size));
    if (size > 0) in.read(reinterpret_cast<char*>(bytes.data()), size);
    LRP_CHECK(in.gcount() == size, "cannot read ", what, " file '", path, "' (read ", in.gcount(),
              " of ", size, " bytes)");
    return bytes;
  }
  in.close();
  gzFile file = gzopen(path.c_str(), "rb");
  LRP_CHECK(file != nullptr, "cannot open gzip ", what, " file '", path, "' for reading");
  std::array<unsigned char, 1 << 16> chunk{};
  for (;;) {
    const int got = gzread(file, chunk.data(), static_cast<unsigned>(chunk.size()));
    if (got <= 0) break;
    bytes.insert(bytes.end(), chunk.begin(), chunk.begin() + got);
  }
  int errnum = Z_OK;
  const char* message = gzerror(file, &errnum);
  const std::string reason = message ? message : "unknown error";
  gzclose(file);
  LRP_CHECK(errnum == Z_OK, "gzip ", what, " file '", path, "' is corrupt or truncated (zlib: ",
            reason, ") after ", bytes.size(), " decompressed bytes");
  return bytes;
}

std::uint32_t big_endian_u32(const Bytes& bytes, size_t offset) {
  return (std::uint32_t{bytes[offset]} << 24) | (std::uint32_t{bytes[offset + 1]} << 16) |
         (std::uint32_t{bytes[offset + 2]} << 8) | std::uint32_t{bytes[offset + 3]};
}

std::string hex32(std::uint32_t value) {
  static const char* digits = "0123456789abcdef";
  std::string out = "0x";
  for (int shift = 28; shift >= 0; shift -= 4) out += digits[(value >> shift) & 0xf];
  return out;
}

// Header of an IDX file: magic, then the dimensions; returns the dimensions after checking the
// payload (one byte per element) has exactly the size they announce.
std::vector<std::uint32_t> idx_header(const Bytes& bytes, const std::string& path, const char* what,
                                      std::uint32_t expected_magic, const char* layout) {
  const size_t ndim = expected_magic & 0xff;
  const size_t header_bytes = 4 * (1 + ndim);
  LRP_CHECK(!bytes.empty(), what, " file '", path, "' is empty; expected an IDX file ", layout);
  LRP_CHECK(bytes.size() >= 4, what, " file '", path, "' is truncated: ", bytes.size(),
            " bytes, shorter than the 4-byte IDX magic number");
  const std::uint32_t magic = big_endian_u32(bytes, 0);
  LRP_CHECK(magic == expected_magic, what, " file '", path, "' has magic number ", hex32(magic),
            "; expected ", hex32(expected_magic), " (IDX, unsigned bytes, ", layout, ")");
  LRP_CHECK(bytes.size() >= header_bytes, what, " file '", path, "' is truncated: ", bytes.size(),
            " bytes, shorter than its ", header_bytes, "-byte header");
  std::vector<std::uint32_t> dims(ndim);
  std::uint64_t elements = 1;
  for (size_t d = 0; d < ndim; ++d) {
    dims[d] = big_endian_u32(bytes, 4 * (1 + d));
    // Saturating: a corrupt header must not wrap around to a size that happens to match.
    const std::uint64_t limit = std::numeric_limits<std::uint64_t>::max();
    elements = (dims[d] != 0 && elements > limit / dims[d]) ? limit : elements * dims[d];
  }
  const std::uint64_t payload = bytes.size() - header_bytes;
  if (payload < elements) {
    std::string announced;
    for (size_t d = 0; d < ndim; ++d) announced += (d ? ", " : "") + std::to_string(dims[d]);
    const std::string size = elements == std::numeric_limits<std::uint64_t>::max()
                                 ? std::string("more than 2^64")
                                 : std::to_string(elements);
    LRP_FAIL(what, " file '", path, "' is truncated: its header announces ", layout, " = [", announced,
             "], i.e. ", size, " bytes of data, but only ", payload, " follow");
  }
  LRP_CHECK(payload == elements, what, " file '", path, "' has ", payload - elements,
            " bytes after the ", elements, " bytes of data its header announces");
  return dims;
}

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

Dataset read_idx(const std::string& images_path, const std::string& labels_path, double scale) {
  LRP_CHECK(std::isfinite(scale) && scale != 0.0, "read_idx: scale must be finite and non-zero, got ",
            scale);
  const Bytes images = read_file_bytes(images_path, "IDX images");
  const std::vector<std::uint32_t> dims =
      idx_header(images, images_path, "IDX images", 0x00000803, "[N, rows, cols]");
  LRP_CHECK(dims[0] > 0, "IDX images file '", images_path, "' contains no images (N = 0)");
  LRP_CHECK(dims[1] > 0 && dims[2] > 0, "IDX images file '", images_path, "' has images of ",
            dims[1], "×", dims[2], "; expected rows and cols ≥ 1");
  const auto count = static_cast<Index>(dims[0]);
  const Index features = static_cast<Index>(dims[1]) * static_cast<Index>(dims[2]);

  Dataset dataset;
  dataset.source = images_path;
  if (!labels_path.empty()) {
    const Bytes labels = read_file_bytes(labels_path, "IDX labels");
    const std::vector<std::uint32_t> label_dims =
        idx_header(labels, labels_path, "IDX labels", 0x00000801, "[N]");
    LRP_CHECK(label_dims[0] == dims[0], "IDX labels file '", labels_path, "' has ", label_dims[0],
              " labels, but images file '", images_path, "' has ", dims[0],
              " images; expected one label per image");
    dataset.labels.assign(labels.begin() + 8, labels.end());
    dataset.source += ", " + labels_path;
  }

  Matrix data(count, features);
  const unsigned char* pixels = images.data() + 16;
  for (Index i = 0; i < count * features; ++i)
    data.data()[i] = static_cast<Scalar>(static_cast<double>(pixels[i]) * scale);
  dataset.inputs = Tensor(Shape{1, static_cast<Index>(dims[1]), static_cast<Index>(dims[2])}, std::move(data));
  dataset.indices.resize(static_cast<size_t>(count));
  for (Index i = 0; i < count; ++i) dataset.indices[static_cast<size_t>(i)] = i;
  LRP_CHECK(all_finite(dataset.inputs.data), "IDX images file '", images_path,
            "': scaling by ", scale, " gives non-finite values");
  return finish(std::move(dataset));
}

Dataset read_csv(const std::string& path, Shape sample_shape, int label_column, bool header) {
  check_shape(sample_shape, "read_csv");
  const Index features = numel(sample_shape);
  const Index columns = features + (label_column >= 0 ? 1 : 0);
  LRP_CHECK(label_column >= -1 && label_column < columns, "read_csv '", path, "': label column ",
            label_column, " is out of range; expected -1 (none) or 0..", columns - 1, " for ",
            features, " features plus a label");

  std::error_code ec;
  LRP_CHECK(std::filesystem::exists(path, ec), "CSV file '", path, "' does not exist");
  LRP_CHECK(!std::filesystem::is_directory(path, ec), "CSV file '", path, "' is a directory; expected a file");
  std::ifstream in(path);
  LRP_CHECK(in.good(), "cannot open CSV file '", path, "' for reading");

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

Dataset sample(const Dataset& dataset, Index count, std::uint64_t seed) {
  const Index size = dataset.size();
  LRP_CHECK(count >= 1 && count <= size, "sample of '", dataset.source, "': cannot draw ", count,
            " samples without replacement from ", size, "; expected 1 ≤ count ≤ ", size);
  std::vector<Index> order(static_cast<size_t>(size));
  for (Index i = 0; i < size; ++i) order[static_cast<size_t>(i)] = i;
  std::mt19937_64 rng(seed);
  // Partial Fisher–Yates: after step i, order[0..i] is a uniform draw without replacement.
  for (Index i = 0; i < count; ++i) {
    const auto j = i + static_cast<Index>(bounded(rng, static_cast<std::uint64_t>(size - i)));
    std::swap(order[static_cast<size_t>(i)], order[static_cast<size_t>(j)]);
  }
  order.resize(static_cast<size_t>(count));
  std::sort(order.begin(), order.end());
  return select_rows(dataset, order);
}

Dataset synthetic_blobs(Shape sample_shape, Index count, Index classes, std::uint64_t seed) {
  check_shape(sample_shape, "synthetic_blobs");
  LRP_CHECK(count >= 1, "synthetic_blobs: count must be ≥ 1, got ", count);
  LRP_CHECK(classes >= 1, "synthetic_blobs: classes must be ≥ 1, got ", classes);
  const Index features = numel(sample_shape);
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
