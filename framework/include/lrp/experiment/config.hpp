// Config sections shared by `lrplab train` and `lrplab run`: datasets, model sources and training
// settings, read from YAML with positioned errors (file:line:column, closest valid key).
#pragma once

#include "lrp/io/data.hpp"
#include "lrp/io/shapes_task.hpp"
#include "lrp/core/limits.hpp"
#include "lrp/nn/model.hpp"
#include "lrp/train/train.hpp"
#include "lrp/io/yaml_util.hpp"

#include <cstdint>
#include <optional>
#include <string>

namespace lrp {

// A relative path in a config is looked up in the current directory, then next to the config file.
// A missing file is an error naming the key's position and both places looked in.
std::string resolve_path(const YAML::Node& node, const std::string& config_path, const std::string& what);

// A dataset section, read and checked once (every key, type, range and file, with positions):
//   format: idx | csv | hdf5 | synthetic | marked_addition | long_range | shapes
//   idx:             images, labels (optional), scale (default 1/255, > 0)
//   csv:             path, shape, label_column (default -1: none), header (default false)
//   hdf5:            path, inputs (dataset path), labels (optional dataset path), lengths (optional dataset
//                    path: per-sample sequence lengths), masks (optional dataset path: Dataset::masks,
//                    0/1 in the inputs' layout), layout (nchw | nhwc), scale (1, > 0)
//   synthetic:       shape, count, classes, seed (default: the config's seed)
//   marked_addition: count, steps (default 20, ≥ 2), min_steps (default: steps; < steps: variable
//                    lengths in [min_steps, steps], zero-padded), seed (default: the config's seed)
//   long_range:      count, steps (default 50, ≥ 2), symbols (default 4, ≥ 2), seed (default: the config's seed),
//                    one_hot (default false: token ids [T]; true: one-hot vectors [T, symbols + 5],
//                    lrp::one_hot_tokens; the key is an error on every other format)
//                    (the sequence tasks of lrp/io/sequence_tasks.hpp; they fill Dataset::relevant)
//   shapes:          count, size (default 28), classes (default 4, 2..4), min_size (default 7),
//                    max_size (default 11), noise (default 0.3), distractors (default 0), seed (default:
//                    the config's seed): lrp::shapes_task, images [1, size, size] with Dataset::masks
//   subset:          optional, {begin, end} (an index range) or {count, seed} (a seeded sample); file
//                    formats read only these samples
struct DatasetSpec {
  std::string format;
  std::string what;                // the key it was read from: "data", "model.train", ...
  std::string at;                  // "config.yaml:12:3": where the section is, for messages
  std::vector<std::string> files;  // the files it reads (resolved paths)
  std::string images;              // idx: images file
  std::string labels;              // idx: labels file; hdf5: labels dataset ("" : none)
  std::string path;                // csv, hdf5: the file
  std::string inputs, lengths;     // hdf5: dataset paths (lengths "" : none)
  std::string masks;               // hdf5: the masks dataset path ("" : none)
  Hdf5Layout layout = Hdf5Layout::kNCHW;
  double scale = 1.0;
  Shape shape;                     // csv, synthetic
  Index label_column = -1;         // csv
  bool header = false;             // csv
  Index count = 0, classes = 0, steps = 0, min_steps = 0, symbols = 0;  // generated data
  std::uint64_t seed = 0;
  bool one_hot = false;            // long_range
  ShapesOptions shapes;            // shapes (count and seed are also in count and seed)
  RowSelection subset;
};
DatasetSpec parse_dataset(const YAML::Node& node, const std::string& config_path, const std::string& what,
                          std::uint64_t default_seed);
// Loads the samples a spec names, within `limits` (errors are prefixed with the section's position).
Dataset load_dataset(const DatasetSpec& spec, const Limits& limits = {});
// Makes a loaded dataset's samples the model's input shape, or says why they cannot be: a `[N, T, D]`
// HDF5 dataset without `lengths` reads as images [1, T, D]; for a model that takes sequences [T, D]
// (an LSTM) the same values are its sequences. Any other mismatch is an lrp::Error naming the section,
// both shapes and, for that case, both readings.
void fit_to_model(Dataset& data, const DatasetSpec& spec, const Shape& model_shape, const std::string& model_name);
// parse_dataset, then load_dataset.
Dataset load_dataset(const YAML::Node& node, const std::string& config_path, const std::string& what,
                     std::uint64_t default_seed, const Limits& limits = {});

// A `limits:` section (every key optional; defaults as in lrp::Limits):
//   memory: 16GiB                    # bytes, or a number with B, KB, MB, GB, TB, KiB, MiB, GiB, TiB
//   integrated_gradients_steps: 4096
//   sweep_points: 1000
//   random_repeats: 1000
//   read_seconds: 300
Limits parse_limits(const YAML::Node& node, const std::string& config_path);

// A training section (every key optional; defaults as in TrainOptions):
//   epochs, batch_size, validation_fraction, clip_norm (≥ 0, 0 = off: TrainOptions::clip_norm),
//   optimizer: {kind: sgd | adam, learning_rate, momentum (sgd), beta1, beta2, eps (adam), weight_decay}
//   schedule: {kind: constant | step | cosine, step_size, gamma}
//   augment: {shift: 2, flip: true, fill: 0}   (images only; TrainOptions::augment). fill is in the
//            data's raw units (default: the lower end of the model's normalization range) and is
//            normalized per channel with the architecture's normalization.
// seed and threads come from the caller (the config's top-level keys).
TrainOptions parse_train_options(const YAML::Node& node, const std::string& config_path, const ModelSpec& architecture);

// `lrplab train CONFIG`:
//   seed: 1                        # every random choice (init, split, shuffles, dropout)
//   threads: 2
//   limits: <limits section>       # optional
//   data: {train: <dataset>, test: <dataset>}      # test optional
//   model: {architecture: models/x.yaml | {inline description}, init: he_normal}
//   training: <training section>
//   output: {model: results/x.h5}
struct TrainConfig {
  std::string path;           // the config file
  std::string resolved_yaml;  // the config as read (stored in the model's provenance)
  std::uint64_t seed = 0;
  int threads = 1;
  DatasetSpec train_data;
  std::optional<DatasetSpec> test_data;
  Limits limits;
  ModelSpec architecture;
  std::string architecture_file;  // the description file it came from ("" : inline)
  InitScheme init = InitScheme::kHeNormal;
  TrainOptions options;
  std::string output_model;  // empty: not saved
};

// The `architecture` (a model description file or an inline description) and `init` keys of a
// config's model section into c.architecture and c.init (shared by training and experiment configs).
void read_architecture(const YAML::Node& model, const std::string& path, const Registry& registry, TrainConfig& c);

// Reads and checks a training config (every key, type and file) without training. output.model may
// not be (or resolve to) one of training_inputs(): that would destroy an input.
TrainConfig read_train_config(const std::string& path, const Registry& registry);
// The files a training reads: the config, the architecture file, the data files.
std::vector<std::string> training_inputs(const TrainConfig& config);

struct TrainResult {
  Model model;
  TrainReport report;
  double test_accuracy = -1;  // -1: no test set
  double test_loss = 0;
};
// Loads the data, builds and initializes the model, trains it, evaluates on the test set and
// saves the model file (with provenance) when output.model is set. Logs progress.
TrainResult run_training(const TrainConfig& config, const Registry& registry);

}  // namespace lrp
