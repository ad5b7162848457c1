// read_hdf5: samples, labels, sequence lengths and masks from arrays in an HDF5 file (see lrp/io/data.hpp).
#include "data_internal.hpp"
#include "lrp/io/data.hpp"
#include "lrp/core/error.hpp"
#include "lrp/io/hdf5.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

namespace lrp {

namespace {

constexpr const char* kWhat = "HDF5 data file";

// Checks the dataset exists; a missing one lists what the file has at the top level.
void require_dataset(const h5::File& file, const std::string& dataset, const char* role) {
  const std::string abs = h5::absolute_path(dataset);
  if (file.kind(abs) != h5::ObjectKind::kMissing) return;
  std::string listing;
  for (const std::string& name : file.children("/")) listing += (listing.empty() ? "" : ", ") + ("/" + name);
  file.fail("has no " + std::string(role) + " dataset '" + abs + "' (its top level holds: " +
            (listing.empty() ? std::string("nothing") : listing) + ")");
}

// The per-sample shape for the inputs' stored shape.
Shape sample_shape_of(const h5::File& file, const std::string& abs, const h5::Dims& dims, Hdf5Layout layout) {
  const auto bad_shape = [&](const std::string& why) {
    file.fail("dataset '" + abs + "' has shape " + h5::to_string(dims) + ": " + why +
              "; expected [N, features], [N, H, W], or rank 4 (" +
              (layout == Hdf5Layout::kNCHW ? "[N, C, H, W] for layout NCHW" : "[N, H, W, C] for layout NHWC") + ")");
  };
  if (dims.size() < 2 || dims.size() > 4) bad_shape("rank " + std::to_string(dims.size()));
  if (dims[0] == 0) bad_shape("it holds no samples");
  for (std::size_t a = 1; a < dims.size(); ++a)
    if (dims[a] == 0) bad_shape("a sample has an extent 0");
  const std::vector<Index> d = h5::to_index_shape(dims);
  if (d.size() == 2) return {d[1]};
  if (d.size() == 3) return {1, d[1], d[2]};
  if (layout == Hdf5Layout::kNCHW) return {d[1], d[2], d[3]};
  return {d[3], d[1], d[2]};
}

// The selected rows of a per-sample dataset ([N] or [N, 1]) as doubles; `role` names it.
std::vector<double> read_per_sample(const h5::File& file, const std::string& abs, const char* role, hsize_t samples,
                                    const std::string& inputs, const std::vector<Index>& rows) {
  require_dataset(file, abs, role);
  const h5::DatasetInfo info = file.dataset_info(abs);
  const bool shape_ok = (info.shape.size() == 1) || (info.shape.size() == 2 && info.shape[1] == 1);
  if (!shape_ok)
    file.fail(std::string(role) + " dataset '" + abs + "' has shape " + h5::to_string(info.shape) +
              "; expected [N] or [N, 1]");
  if (info.shape[0] != samples)
    file.fail(std::string(role) + " dataset '" + abs + "' has " + std::to_string(info.shape[0]) + " " + role +
              ", but inputs dataset '" + inputs + "' has " + std::to_string(samples) +
              " samples; expected one per sample");
  if (info.type.type_class != h5::TypeClass::kInteger && info.type.type_class != h5::TypeClass::kFloat)
    file.fail(std::string(role) + " dataset '" + abs + "' has type " + info.type.name() + "; expected integers");
  std::vector<double> values(rows.size());
  file.read_row_list<double>(abs, rows.data(), rows.size(), values.data());
  return values;
}

std::vector<Index> read_labels(const h5::File& file, const std::string& dataset, hsize_t samples,
                               const std::string& inputs, const std::vector<Index>& rows) {
  const std::string abs = h5::absolute_path(dataset);
  const std::vector<double> values = read_per_sample(file, abs, "labels", samples, inputs, rows);
  std::vector<Index> labels;
  labels.reserve(values.size());
  for (std::size_t i = 0; i < values.size(); ++i) {
    const double v = values[i];
    if (!(std::isfinite(v) && v >= 0 && v == std::floor(v) && v < 9.0e15))
      file.fail("labels dataset '" + abs + "': label " + std::to_string(rows[i]) + " is " + detail::concat(v) +
                "; expected a class index (a whole number ≥ 0)");
    labels.push_back(static_cast<Index>(v));
  }
  return labels;
}

// Per-sample sequence lengths: [N] or [N, 1] whole numbers in [1, steps].
std::vector<Index> read_lengths(const h5::File& file, const std::string& dataset, hsize_t samples, Index steps,
                                const std::string& inputs, const std::vector<Index>& rows) {
  const std::string abs = h5::absolute_path(dataset);
  const std::vector<double> values = read_per_sample(file, abs, "lengths", samples, inputs, rows);
  std::vector<Index> lengths;
  lengths.reserve(values.size());
  for (std::size_t i = 0; i < values.size(); ++i) {
    const double v = values[i];
    if (!(std::isfinite(v) && v == std::floor(v) && v >= 1 && v <= static_cast<double>(steps)))
      file.fail("lengths dataset '" + abs + "': sample " + std::to_string(rows[i]) + " has length " +
                detail::concat(v) + " but the inputs have T = " + std::to_string(steps) +
                " steps; expected a whole number in [1, " + std::to_string(steps) + "]");
    lengths.push_back(static_cast<Index>(v));
  }
  return lengths;
}

// Dataset::masks from `dataset`: the inputs' stored shape (transposed like them for NHWC), or
// [N, H, W] for rank-4 inputs (a pixel's value marks all its channels); every value 0 or 1.
Matrix read_masks(const h5::File& file, const std::string& dataset, const h5::Dims& in, Hdf5Layout layout,
                  const std::string& inputs, const Shape& shape, const std::vector<Index>& rows) {
  const std::string abs = h5::absolute_path(dataset);
  require_dataset(file, abs, "masks");
  const h5::DatasetInfo info = file.dataset_info(abs);
  if (!info.type.numeric())
    file.fail("masks dataset '" + abs + "' has type " + info.type.name() + "; expected numbers (0 or 1)");
  if (info.shape.empty() || info.shape[0] != in[0])
    file.fail("masks dataset '" + abs + "' has shape " + h5::to_string(info.shape) + ", " +
              (info.shape.empty() ? std::string("no samples") : std::to_string(info.shape[0]) + " masks") +
              ", but inputs dataset '" + inputs + "' has " + std::to_string(in[0]) +
              " samples; expected one mask per sample");
  const bool rank4 = in.size() == 4, nhwc = layout == Hdf5Layout::kNHWC;
  const h5::Dims planes = rank4 ? h5::Dims{in[0], in[nhwc ? 1 : 2], in[nhwc ? 2 : 3]} : h5::Dims{};
  const bool broadcast = rank4 && info.shape == planes;
  if (info.shape != in && !broadcast)
    file.fail("masks dataset '" + abs + "' has shape " + h5::to_string(info.shape) + "; expected the shape of inputs '" +
              inputs + "', " + h5::to_string(in) + (rank4 ? ", or " + h5::to_string(planes) + " (one mask for all channels)" : ""));
  const Index features = numel(shape), channels = shape[0];
  const Index plane = shape.size() == 3 ? shape[1] * shape[2] : 0;
  const Index stored = broadcast ? plane : features;  // values per sample in the file
  const bool transpose = rank4 && nhwc && !broadcast;
  const auto selected = static_cast<Index>(rows.size());
  Matrix masks(selected, features);
  const Index block = std::max<Index>(1, (Index{1} << 20) / stored);
  std::vector<double> buffer(static_cast<std::size_t>(std::min(block, selected) * stored));
  for (Index done = 0; done < selected; done += block) {
    const Index n = std::min(block, selected - done);
    file.read_row_list<double>(abs, rows.data() + done, static_cast<std::size_t>(n), buffer.data());
    for (Index r = 0; r < n; ++r) {
      const double* values = buffer.data() + r * stored;
      Scalar* out = masks.data() + (done + r) * features;
      for (Index j = 0; j < stored; ++j) {
        const double v = values[j];
        if (v != 0.0 && v != 1.0)
          file.fail("masks dataset '" + abs + "': sample " + std::to_string(rows[static_cast<std::size_t>(done + r)]) +
                    " holds " + detail::concat(v) + " at element " + std::to_string(j) + "; expected 0 or 1");
        if (broadcast) {
          for (Index c = 0; c < channels; ++c) out[c * plane + j] = static_cast<Scalar>(v);
        } else {
          out[transpose ? (j % channels) * plane + j / channels : j] = static_cast<Scalar>(v);
        }
      }
    }
  }
  return masks;
}

}  // namespace

namespace {

Dataset read_hdf5_here(const std::string& path, const std::string& inputs_dataset, const std::string& labels_dataset,
                       Hdf5Layout layout, double scale, const std::string& lengths_dataset,
                       const RowSelection& selection, const Limits& limits, const std::string& masks_dataset) {
  LRP_CHECK(std::isfinite(scale) && scale > 0.0, "read_hdf5 '", path, "': scale must be finite and > 0, got ", scale);
  const h5::File file = h5::File::open(path, kWhat);
  const std::string inputs = h5::absolute_path(inputs_dataset);
  require_dataset(file, inputs, "inputs");
  const h5::DatasetInfo info = file.dataset_info(inputs);
  if (!info.type.numeric())
    file.fail("inputs dataset '" + inputs + "' has type " + info.type.name() +
              "; expected numbers (an integer or float type)");
  Shape shape = sample_shape_of(file, inputs, info.shape, layout);
  // Sequences with lengths: [N, T] gives [T] (token ids), [N, T, D] gives [T, D] (not an image [1, T, D]).
  if (!lengths_dataset.empty()) {
    if (info.shape.size() == 4)
      file.fail("inputs dataset '" + inputs + "' has shape " + h5::to_string(info.shape) +
                ", but with sequence lengths the inputs must be sequences [N, T] or [N, T, D]");
    if (info.shape.size() == 3) shape = {shape[1], shape[2]};
  }
  const Index count = static_cast<Index>(info.shape[0]);
  const Index features = checked_numel(shape, file.where() + ": inputs dataset '" + inputs + "'");
  const std::string source = path + ":" + inputs;
  const Index selected = selection.count_in(count, source);
  const std::uint64_t mask_bytes =
      masks_dataset.empty() ? 0
                            : saturating_mul(saturating_mul(static_cast<std::uint64_t>(selected),
                                                            static_cast<std::uint64_t>(features)),
                                             sizeof(Scalar));
  check_memory(saturating_add(dataset_bytes(selected, features), mask_bytes), limits,
               file.where() + ": " + std::to_string(selected) + " samples of shape " + to_string(shape) +
                   " from dataset '" + inputs + "'");
  const std::vector<Index> rows = selection.rows(count, source);
  const bool transpose = info.shape.size() == 4 && layout == Hdf5Layout::kNHWC;
  const Index channels = shape[0];
  const Index plane = shape.size() == 3 ? shape[1] * shape[2] : 0;

  Matrix data(selected, features);
  // Read blocks of about a million values: the conversion buffer stays small for large files.
  const Index block = std::max<Index>(1, (Index{1} << 20) / features);
  std::vector<double> buffer(static_cast<std::size_t>(std::min(block, selected) * features));
  for (Index done = 0; done < selected; done += block) {
    const Index n = std::min(block, selected - done);
    file.read_row_list<double>(inputs, rows.data() + done, static_cast<std::size_t>(n), buffer.data());
    for (Index r = 0; r < n; ++r) {
      const double* in = buffer.data() + r * features;
      Scalar* out = data.data() + (done + r) * features;
      for (Index j = 0; j < features; ++j) {
        // NHWC element j = (h·W + w)·C + c goes to c·H·W + h·W + w.
        const Index to = transpose ? (j % channels) * plane + j / channels : j;
        const double v = in[j] * scale;
        const auto s = static_cast<Scalar>(v);
        if (!std::isfinite(s))
          file.fail("inputs dataset '" + inputs + "': sample " + std::to_string(rows[static_cast<std::size_t>(done + r)]) +
                    " holds " +
                    (std::isfinite(in[j]) ? detail::concat(in[j], ", which times scale ", scale, " overflows ",
                                                           scalar_name())
                                          : detail::concat("a non-finite value (", in[j], ")")));
        out[to] = s;
      }
    }
  }

  Dataset dataset;
  dataset.source = source;
  if (!labels_dataset.empty()) {
    dataset.labels = read_labels(file, labels_dataset, info.shape[0], inputs, rows);
    dataset.source += ", " + path + ":" + h5::absolute_path(labels_dataset);
  }
  dataset.inputs = Tensor(shape, std::move(data));
  if (!lengths_dataset.empty()) {
    dataset.inputs.lengths = read_lengths(file, lengths_dataset, info.shape[0], shape.front(), inputs, rows);
    dataset.source += ", " + path + ":" + h5::absolute_path(lengths_dataset);
  }
  if (!masks_dataset.empty()) {
    dataset.masks = read_masks(file, masks_dataset, info.shape, layout, inputs, shape, rows);
    dataset.source += ", " + path + ":" + h5::absolute_path(masks_dataset);
  }
  dataset.indices = rows;
  return detail::finish_dataset(std::move(dataset));
}

}  // namespace

Dataset read_hdf5(const std::string& path, const std::string& inputs_dataset, const std::string& labels_dataset,
                  Hdf5Layout layout, double scale, const std::string& lengths_dataset, const RowSelection& selection,
                  const Limits& limits, const std::string& masks_dataset) {
  // First in a child process: a file that crashes or hangs the HDF5 library is refused.
  const auto read = [&] {
    return read_hdf5_here(path, inputs_dataset, labels_dataset, layout, scale, lengths_dataset, selection, limits,
                          masks_dataset);
  };
  h5::contained(path, kWhat, limits.read_seconds, [&] { (void)read(); });
  return read();
}

}  // namespace lrp
