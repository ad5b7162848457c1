// read_csv: numeric CSV, one sample per line (see lrp/io/data.hpp).
//
// What a subset costs: the file is read line by line and only the selected rows are parsed. A
// range with an end stops after its last row; a random draw, or a range to the last row, first
// counts the rows (a draw needs their number), then reads again up to the last selected row.
#include "data_internal.hpp"
#include "lrp/core/error.hpp"
#include "lrp/io/data.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstring>
#include <string_view>

namespace lrp {

namespace {

std::string_view trim(std::string_view s) {
  const auto blank = [](char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; };
  while (!s.empty() && blank(s.front())) s.remove_prefix(1);
  while (!s.empty() && blank(s.back())) s.remove_suffix(1);
  return s;
}

// The non-blank lines of a CSV file in order, read through a buffer, with their 1-based numbers;
// with `header`, the first non-blank line is skipped.
class CsvLines {
 public:
  CsvLines(const std::string& path, bool header) : input_(path, "CSV file"), header_(header) {}

  // The next data line (trimmed) into `text`; false at the end of the file.
  bool next(std::string_view& text) {
    while (read_line()) {
      ++line_number_;
      text = trim(line_);
      if (text.empty()) continue;
      any_line_ = true;
      if (header_pending_) {
        header_pending_ = false;
        continue;
      }
      return true;
    }
    return false;
  }
  Index line_number() const { return line_number_; }
  std::uint64_t file_size() const { return input_.size(); }
  // Whether any non-blank line was met (the header included).
  bool any_line() const { return any_line_; }
  // Back to the start of the file.
  void rewind() {
    offset_ = 0;
    filled_ = at_ = 0;
    line_number_ = 0;
    header_pending_ = header_;
    any_line_ = false;
  }

 private:
  // One line (without its '\n') into line_; false at the end of the file. A last line without a
  // newline counts.
  bool read_line() {
    line_.clear();
    bool any = false;
    for (;;) {
      if (at_ == filled_) {
        filled_ = static_cast<std::size_t>(input_.read_at(buffer_.data(), buffer_.size(), offset_));
        offset_ += filled_;
        at_ = 0;
        if (filled_ == 0) return any;
      }
      any = true;
      const char* start = buffer_.data() + at_;
      const auto* newline = static_cast<const char*>(std::memchr(start, '\n', filled_ - at_));
      const std::size_t n = newline != nullptr ? static_cast<std::size_t>(newline - start) : filled_ - at_;
      line_.append(start, n);
      at_ += n;
      if (newline != nullptr) {
        ++at_;
        return true;
      }
    }
  }

  detail::InputFile input_;
  std::vector<char> buffer_ = std::vector<char>(1 << 16);
  std::uint64_t offset_ = 0;
  std::size_t filled_ = 0, at_ = 0;
  std::string line_;
  Index line_number_ = 0;
  bool header_ = false, header_pending_ = header_, any_line_ = false;
};

// How a line is laid out: `features` values and, at label_column (−1: none), a label.
struct CsvColumns {
  std::string path;
  Index features = 0;
  Index columns = 0;
  int label_column = -1;
};

// Parses one data line into out[0, features) and *label (when there is a label column).
void parse_row(const CsvColumns& c, std::string_view text, Index line_number, Scalar* out, Index* label) {
  Index column = 0;
  Index feature = 0;
  std::size_t start = 0;
  for (;;) {
    const std::size_t comma = text.find(',', start);
    const std::string_view field =
        trim(text.substr(start, comma == std::string_view::npos ? std::string_view::npos : comma - start));
    ++column;
    LRP_CHECK(column <= c.columns, "CSV file '", c.path, "', line ", line_number, ": more than the expected ",
              c.columns, " columns (", c.features, " features", c.label_column >= 0 ? " plus a label" : "", ")");
    double value = 0;
    const char* end = field.data() + field.size();
    const auto [ptr, err] = std::from_chars(field.data(), end, value);
    LRP_CHECK(!field.empty() && err == std::errc() && ptr == end, "CSV file '", c.path, "', line ", line_number,
              ", column ", column, ": '", field, "' is not a number");
    LRP_CHECK(std::isfinite(value), "CSV file '", c.path, "', line ", line_number, ", column ", column,
              ": non-finite value '", field, "'");
    if (column - 1 == c.label_column) {
      LRP_CHECK(value >= 0 && value == std::floor(value) && value < 9.0e15, "CSV file '", c.path, "', line ",
                line_number, ", column ", column, ": label '", field, "' is not a non-negative integer");
      *label = static_cast<Index>(value);
    } else {
      LRP_CHECK(std::isfinite(static_cast<Scalar>(value)), "CSV file '", c.path, "', line ", line_number,
                ", column ", column, ": value '", field, "' overflows ", scalar_name());
      out[feature++] = static_cast<Scalar>(value);
    }
    if (comma == std::string_view::npos) break;
    start = comma + 1;
  }
  LRP_CHECK(column == c.columns, "CSV file '", c.path, "', line ", line_number, ": ", column, " columns; expected ",
            c.columns, " (", c.features, " features", c.label_column >= 0 ? " plus a label" : "", ")");
}

// After the last line: the file had data rows.
void check_has_rows(const CsvLines& lines, Index rows, const std::string& path) {
  LRP_CHECK(lines.any_line(), "CSV file '", path, "' is empty; expected one sample per line");
  LRP_CHECK(rows > 0, "CSV file '", path, "' has a header but no data rows");
}

// The whole file: its size bounds the memory it needs (every value takes at least two bytes of
// text, "0,"), checked before reading.
Dataset read_all_rows(CsvLines& lines, const CsvColumns& c, Shape sample_shape, const Limits& limits,
                      std::uint64_t file_size) {
  check_memory(saturating_add(file_size, dataset_bytes(static_cast<Index>(file_size / 2 / static_cast<std::uint64_t>(
                                                                                         c.features) + 1),
                                                       c.features)),
               limits, "CSV file '" + c.path + "' (" + format_bytes(file_size) + ")");
  Dataset dataset;
  std::vector<Scalar> values;
  std::string_view text;
  for (Index row = 0; lines.next(text); ++row) {
    values.resize(values.size() + static_cast<std::size_t>(c.features));
    Index label = 0;
    parse_row(c, text, lines.line_number(), values.data() + row * c.features, &label);
    if (c.label_column >= 0) dataset.labels.push_back(label);
  }
  const auto count = static_cast<Index>(values.size()) / c.features;
  check_has_rows(lines, count, c.path);
  Matrix data(count, c.features);
  std::copy(values.begin(), values.end(), data.data());
  dataset.inputs = Tensor(std::move(sample_shape), std::move(data));
  dataset.indices.resize(static_cast<std::size_t>(count));
  for (Index i = 0; i < count; ++i) dataset.indices[static_cast<std::size_t>(i)] = i;
  return dataset;
}

}  // namespace

Dataset read_csv(const std::string& path, Shape sample_shape, int label_column, bool header,
                 const RowSelection& selection, const Limits& limits) {
  LRP_CHECK(!sample_shape.empty(), "read_csv: the sample shape is empty; expected at least one dimension");
  for (Index d : sample_shape)
    LRP_CHECK(d > 0, "read_csv: the sample shape ", to_string(sample_shape), " has a dimension ≤ 0");
  CsvColumns c;
  c.path = path;
  c.features = checked_numel(sample_shape, "read_csv '" + path + "'");
  c.columns = c.features + (label_column >= 0 ? 1 : 0);
  c.label_column = label_column;
  LRP_CHECK(label_column >= -1 && label_column < c.columns, "read_csv '", path, "': label column ", label_column,
            " is out of range; expected -1 (none) or 0..", c.columns - 1, " for ", c.features,
            " features plus a label");
  CsvLines lines(path, header);
  Dataset dataset;
  if (selection.kind == RowSelection::Kind::kAll) {
    dataset = read_all_rows(lines, c, std::move(sample_shape), limits, lines.file_size());
  } else {
    // A range with an end needs no count of the rows; anything else does (a draw depends on it).
    std::vector<Index> rows;
    if (selection.kind == RowSelection::Kind::kRange && 0 <= selection.begin && selection.begin < selection.end) {
      for (Index r = selection.begin; r < selection.end; ++r) rows.push_back(r);
    } else {
      Index count = 0;
      for (std::string_view text; lines.next(text);) ++count;
      check_has_rows(lines, count, path);
      rows = selection.rows(count, path);
      lines.rewind();
    }
    const auto selected = static_cast<Index>(rows.size());
    check_memory(dataset_bytes(selected, c.features), limits,
                 detail::concat("CSV file '", path, "': ", selected, " samples of shape ", to_string(sample_shape)));
    Matrix data(selected, c.features);
    std::size_t next = 0;
    Index row = 0;
    std::string_view text;
    for (; next < rows.size() && lines.next(text); ++row) {
      if (row != rows[next]) continue;  // rows outside the selection are counted, not parsed
      Index label = 0;
      parse_row(c, text, lines.line_number(), data.data() + static_cast<Index>(next) * c.features, &label);
      if (label_column >= 0) dataset.labels.push_back(label);
      ++next;
    }
    if (next < rows.size()) {  // the file ended before the range did
      check_has_rows(lines, row, path);
      (void)selection.count_in(row, path);
    }
    dataset.inputs = Tensor(std::move(sample_shape), std::move(data));
    dataset.indices = std::move(rows);
  }
  dataset.source = path;
  return detail::finish_dataset(std::move(dataset));
}

}  // namespace lrp
