// Datasets: the samples an experiment trains, explains and evaluates on, with where they came from.
//
// Readers for MNIST-family IDX files (plain or gzip), numeric CSV and arrays in HDF5 files,
// index-range and seeded random subsets that keep pointing into the original source, and a seeded
// synthetic set for tests (the synthetic sequence tasks with known relevant positions are in
// lrp/io/sequence_tasks.hpp, the synthetic image task with object masks in lrp/io/shapes_task.hpp).
// Every reader validates its input completely: bad files are an lrp::Error that names the file,
// what was found and what was expected (never a crash, never a silently short dataset).
#pragma once

#include "lrp/core/limits.hpp"
#include "lrp/core/tensor.hpp"

#include <cstdint>
#include <string>
#include <vector>

namespace lrp {

struct Dataset {
  Tensor inputs;                // N samples of one per-sample shape; inputs.lengths: the per-sample
                                // sequence lengths (empty: none), carried like labels
                                // by subset() and sample() (and by training's shuffles and minibatches)
  std::vector<Index> labels;    // N class labels, or empty when the source has none
  std::vector<Index> indices;   // which samples of the source these are (0-based), in order
  // Ground truth for relevance accuracy (docs/metrics.md, Relevance accuracy): per sample, the positions along the first
  // axis of the sample shape (the time steps of a [T, D] or [T] sequence) that carry its class,
  // sorted, distinct and in [0, T). Empty (no lists at all) when the source has none: the file
  // readers and synthetic_blobs; the sequence tasks fill it. subset() and sample() carry it along.
  std::vector<std::vector<Index>> relevant;
  // Ground truth for localisation (where the object is): N × numel(sample shape), in the layout of
  // inputs.data, each value exactly 0 or 1; 1 marks the input features of the object that defines
  // the sample's class (every channel of its pixels). Empty (0 rows) when the source has none: the
  // generated sets other than the shapes task (lrp/io/shapes_task.hpp), which fills it, and the
  // file readers, except HDF5 files read with a masks dataset. subset(), sample() and select() carry
  // it along.
  Matrix masks;
  std::string source;           // file path(s), or a description for generated data
  Scalar value_min = 0;         // smallest and largest input value over the loaded samples
  Scalar value_max = 0;
  Matrix mean;                  // 1 × numel: per-feature mean over the loaded samples

  Index size() const { return inputs.batch(); }
};

// Which samples of a source to load: all of them, an index range [begin, end), or `count` samples
// drawn without replacement with `seed` (the draw sample() makes). File readers read only the
// selected samples, so a small subset of a large file costs only what the subset holds.
struct RowSelection {
  enum class Kind { kAll, kRange, kSample };
  Kind kind = Kind::kAll;
  Index begin = 0, end = 0;  // kRange (end < 0: to the last sample)
  Index count = 0;           // kSample
  std::uint64_t seed = 0;    // kSample
  std::string what = "subset";  // how errors name it (a config key with its position)

  static RowSelection range(Index begin, Index end);
  static RowSelection draw(Index count, std::uint64_t seed);
  // How many rows it selects from a source of `size` samples (checked as rows() checks, without
  // listing them: the memory of a selection is checked before anything is allocated).
  Index count_in(Index size, const std::string& source) const;
  // The selected rows of a source of `size` samples, ascending; an lrp::Error naming `what` and the
  // source when the selection does not fit in it.
  std::vector<Index> rows(Index size, const std::string& source) const;
};

// The samples `selection` picks (all of them for kAll), as subset() and sample() pick them.
Dataset select(const Dataset& dataset, const RowSelection& selection);

// The rows sample() draws: `count` of [0, size) without replacement, ascending (a partial
// Fisher–Yates shuffle on std::mt19937_64, with an explicit unbiased bounded draw).
std::vector<Index> sample_rows(Index size, Index count, std::uint64_t seed);

// MNIST-family IDX files: images with magic 0x00000803 (uint8, [N, rows, cols]) become samples of
// shape {1, rows, cols} with values byte·scale; labels (magic 0x00000801, uint8, [N]) are optional
// (pass an empty labels_path). Each file may be gzip-compressed: detected by its first two bytes
// (1f 8b), not by its name. Sizes must match the headers exactly (no missing or extra bytes). Only
// the rows `selection` picks are read from a plain file; a gzip file is decompressed up to the last
// of them, and further only when its trailer's size disagrees with the header (so that a file cut
// short or with bytes appended is refused; docs/models.md says what is not detected). Their memory
// is estimated from the header and checked against limits.memory before anything is read. scale
// must be finite and > 0.
Dataset read_idx(const std::string& images_path, const std::string& labels_path, double scale = 1.0 / 255.0,
                 const RowSelection& selection = {}, const Limits& limits = {});

// Numeric CSV, one sample per line: numel(sample_shape) features in row-major order, plus a label
// in the 0-based column label_column (-1: no label column). With header, the first non-blank line
// is skipped. Blank lines are ignored; fields are separated by ',' and may carry surrounding
// blanks; labels must be non-negative integers. Errors name the line and the (1-based) column.
// Only the rows `selection` picks are parsed (the others are counted, not checked), and reading
// stops after the last of them once the number of rows is known: a range with an end needs no
// count, a draw or a range to the last row counts the rows first. The whole file's size bounds the
// memory it needs; a selection's memory is its samples' (checked against limits.memory before
// anything is parsed).
Dataset read_csv(const std::string& path, Shape sample_shape, int label_column, bool header,
                 const RowSelection& selection = {}, const Limits& limits = {});

// Arrays in an HDF5 file (written by h5py, NumPy or lrplab). `inputs_dataset` is the path of a
// numeric dataset (any integer or float type) of rank 2, 3 or 4, the outermost axis indexing the
// samples: [N, features] gives samples of shape {features}; [N, H, W] gives {1, H, W}; rank 4 is
// [N, C, H, W] with kNCHW (PyTorch's order) or [N, H, W, C] with kNHWC (TensorFlow's and most image
// libraries'), both giving {C, H, W}. Values become value·scale (computed in double, then rounded
// to the build's scalar type once). `labels_dataset` (empty: no labels) holds N class labels, shape
// [N] or [N, 1], of an integer type or a float type holding whole numbers, all ≥ 0.
// `lengths_dataset` (empty: none) holds the samples' sequence lengths (inputs.lengths), shape [N] or
// [N, 1], whole numbers in [1, T] with T the first axis of the sample shape; the steps after a
// sample's length are padding. `masks_dataset` (empty: none) holds Dataset::masks: the inputs'
// stored shape (the same rank, N and per-sample extents, transposed like them for kNHWC), or [N, H, W]
// for rank-4 inputs of C channels (each pixel's value then marks all C channels), of any integer or
// float type, every value exactly 0 or 1 (the scale does not apply). Errors name the file, the
// dataset, the sample and what was expected.
enum class Hdf5Layout { kNCHW, kNHWC };
// Only the rows `selection` picks are read (their memory is checked against limits.memory first).
Dataset read_hdf5(const std::string& path, const std::string& inputs_dataset, const std::string& labels_dataset,
                  Hdf5Layout layout, double scale = 1.0, const std::string& lengths_dataset = "",
                  const RowSelection& selection = {}, const Limits& limits = {},
                  const std::string& masks_dataset = "");

// Samples [begin, end) of the dataset (non-empty range). indices keep pointing into the original
// source; labels, relevant positions and masks come along; min, max and mean are recomputed for the
// subset.
Dataset subset(const Dataset& dataset, Index begin, Index end);

// Every sample repeated `times` times in place (sample i becomes rows i·times … i·times + times − 1)
// with its label, index, relevant positions, mask and length (min, max and mean stay the samples'):
// the rows of a run that explains each sample for several targets.
Dataset repeat_samples(const Dataset& dataset, Index times);
// The inverse: rows 0, step, 2·step, ... (each sample once).
Dataset every_nth_sample(const Dataset& dataset, Index step);

// count samples drawn without replacement (1 ≤ count ≤ size), seeded: a partial Fisher–Yates
// shuffle driven by std::mt19937_64 with an explicit unbiased bounded draw, so the choice is the
// same with every standard library. The chosen samples keep their source order (with their labels
// relevant positions and masks).
Dataset sample(const Dataset& dataset, Index count, std::uint64_t seed);
// Throws lrp::Error unless the dataset has one label per sample, each in [0, classes); the
// message starts with `what` and names the dataset's source and the sample (with its index in
// the source).
void check_labels(const Dataset& dataset, Index classes, const std::string& what);

// A seeded, learnable classification set for tests. Each class c has a mean pattern with features
// i.i.d. uniform in [0, 1); sample i has label i mod classes (so every prefix is nearly balanced)
// and inputs = clamp(pattern[label] + N(0, 0.3²) noise, 0, 1). Class means are ~sqrt(D/6) apart
// and the noise per sample ~0.3·sqrt(D), so a nearest-class-mean classifier separates them well
// once D is a few dozen features. Normal draws use Box–Muller on the raw mt19937_64 stream, so the
// data are the same with every standard library.
// Its memory is checked against limits.memory before it is generated.
Dataset synthetic_blobs(Shape sample_shape, Index count, Index classes, std::uint64_t seed, const Limits& limits = {});

// The memory `samples` samples of `features` values take once loaded (inputs, the copy a
// selection or normalization makes, per-sample bookkeeping), for the limits checks.
std::uint64_t dataset_bytes(Index samples, Index features);

}  // namespace lrp
