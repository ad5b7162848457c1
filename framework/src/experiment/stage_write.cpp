// Stage 7: the results file (rank 0), built in memory, then made visible together with the
// pictures (lrp::OutputTransaction): the config, /meta, the data, the model, and every method's
// record (MethodRecord::write: its explanation and its metric groups).
#include "run_state.hpp"

#include "lrp/core/log.hpp"
#include "lrp/core/progress.hpp"
#include "lrp/io/hdf5.hpp"
#include "lrp/io/model_yaml.hpp"
#include "lrp/io/yaml_util.hpp"
#include "lrp/registry/plugin.hpp"

#include <spdlog/version.h>
#include <unistd.h>

#include <cstdio>
#include <random>
#include <sstream>

namespace lrp {

namespace {

// 128 random bits in hex: ties a results file to the pictures of the same run (/meta run_id and
// the heatmaps folder's run.txt).
std::string random_run_id() {
  std::random_device device;
  char text[40];
  std::snprintf(text, sizeof text, "%08x%08x%08x%08x", device(), device(), device(), device());
  return text;
}

std::vector<Scalar> to_row_major(const Matrix& m) {  // Matrix is row-major already
  return std::vector<Scalar>(m.data(), m.data() + m.size());
}

h5::Dims dims_with_batch(Index n, const Shape& shape) {
  h5::Dims d{static_cast<hsize_t>(n)};
  for (const Index s : shape) d.push_back(static_cast<hsize_t>(s));
  return d;
}

// /config and /meta.
void write_meta(h5::File& f, const RunState& run, const std::string& finished, const std::string& run_id) {
  const ExperimentConfig& config = run.config;
  const Registry& registry = run.registry;
  const Cluster& cluster = run.cluster;
  const std::string& started = run.started;
  const int threads = config.threads, ranks = cluster.size();
  const ExperimentReport& report = run.report;
  f.write_string("/config", config.resolved_yaml);
  f.set_string_attribute("/config", "path", config.path);
  std::string overrides;
  for (const std::string& o : config.overrides) overrides += o + "\n";
  f.set_string_attribute("/config", "overrides", overrides);

  f.create_group("/meta");
  f.set_string_attribute("/meta", "lrplab_version", LRP_VERSION);
  f.set_string_attribute("/meta", "git_commit", git_commit());
  f.set_string_attribute("/meta", "libraries", library_versions());
  {
    std::string plugins;  // one line per plugin loaded into the registry: name, path
    for (const PluginRecord& r : registry.plugins()) plugins += r.name + " " + r.path + "\n";
    f.set_string_attribute("/meta", "plugins", plugins);
  }
  f.set_string_attribute("/meta", "scalar", scalar_name());
  f.set_uint_attribute("/meta", "seed", config.seed);
  f.set_string_attribute("/meta", "maxpool_ties", to_string(config.maxpool_ties));
  f.set_string_attribute("/meta", "start_time", started);
  f.set_string_attribute("/meta", "end_time", finished);
  f.set_string_attribute("/meta", "host", host_name());
  f.set_int_attribute("/meta", "threads", threads);
  f.set_int_attribute("/meta", "ranks", ranks);
  f.set_string_attribute("/meta", "cluster", cluster.describe());
  f.set_int_attribute("/meta", "format_version", 1);
  f.set_string_attribute("/meta", "run_id", run_id);
  f.create_group("/meta/seconds");
  for (const auto& [stage, s] : report.stage_seconds) f.set_double_attribute("/meta/seconds", stage, s);
}

// /data: the inputs in raw units, indices, labels, lengths, the known relevant steps.
void write_samples(h5::File& f, const Dataset& data, const Tensor& raw_inputs, const Shape& shape) {
  const Index n = data.size();
  f.write("/data/inputs", to_row_major(raw_inputs.data), dims_with_batch(n, shape));
  f.set_string_attribute("/data/inputs", "units", "raw (before the model's input normalization)");
  f.set_string_attribute("/data", "source", data.source);
  const std::vector<std::int64_t> indices(data.indices.begin(), data.indices.end());
  f.write("/data/indices", indices, {static_cast<hsize_t>(n)});
  if (!data.labels.empty()) {
    const std::vector<std::int64_t> labels(data.labels.begin(), data.labels.end());
    f.write("/data/labels", labels, {static_cast<hsize_t>(n)});
  }
  if (data.masks.rows() > 0) {  // the object masks of localisation, 0/1 per input feature
    const Matrix& m = data.masks;
    std::vector<std::uint8_t> masks(static_cast<std::size_t>(m.size()));
    for (std::size_t k = 0; k < masks.size(); ++k) masks[k] = m.data()[k] != Scalar(0);
    f.write("/data/masks", masks, dims_with_batch(n, shape));
  }
  if (!data.inputs.lengths.empty()) {  // per-sample sequence lengths (the rest is padding)
    const std::vector<std::int64_t> lengths(data.inputs.lengths.begin(), data.inputs.lengths.end());
    f.write("/data/lengths", lengths, {static_cast<hsize_t>(n)});
  }
  if (!data.relevant.empty()) {  // the known relevant steps: [N, K], or flat with offsets
    std::vector<std::int64_t> flat, offsets{0};
    bool same_k = true;
    for (const std::vector<Index>& r : data.relevant) {
      flat.insert(flat.end(), r.begin(), r.end());
      offsets.push_back(static_cast<std::int64_t>(flat.size()));
      same_k = same_k && r.size() == data.relevant.front().size();
    }
    if (same_k) {
      f.write("/data/relevant", flat, {static_cast<hsize_t>(n), static_cast<hsize_t>(data.relevant.front().size())});
    } else {
      f.write("/data/relevant_flat", flat, {static_cast<hsize_t>(flat.size())});
      f.write("/data/relevant_offsets", offsets, {static_cast<hsize_t>(offsets.size())});
    }
  }
}

// One entry per sample: with several targets per sample, a sample's rows hold the same data.
void write_data(h5::File& f, const RunState& run) {
  const PreparedExperiment& prep = *run.prepared;
  const Index per = run.per_sample();
  const Shape& shape = prep.model.network.input_shape();
  if (per == 1)
    write_samples(f, prep.data, prep.raw_inputs, shape);
  else
    write_samples(f, every_nth_sample(prep.data, per), every_nth_row(prep.raw_inputs, per), shape);
}

// /model: logits, targets, what the model is.
void write_model(h5::File& f, const RunState& run) {
  const ExperimentConfig& config = run.config;
  const PreparedExperiment& prep = *run.prepared;
  const ExperimentReport& report = run.report;
  const Index n = prep.samples, per = run.per_sample(), classes = prep.model.network.output_shape()[0];
  const Matrix logits = per == 1 ? run.logits : every_nth_row(Tensor({classes}, run.logits), per).data;
  const std::vector<Index>& targets = run.targets;
  f.write("/model/logits", to_row_major(logits), {static_cast<hsize_t>(n), static_cast<hsize_t>(classes)});
  const std::vector<std::int64_t> t(targets.begin(), targets.end());
  // One per row: [N], or [N, K] for a set of targets (a list, top_k, all).
  f.write("/model/targets", t, h5::to_dims(run.metric_run->row_shape()));
  f.set_int_attribute("/model", "targets_per_sample", per);
  f.set_string_attribute("/model", "name", prep.model.spec.name);
  f.set_string_attribute("/model", "file", config.model.file.empty() ? "(trained by this run)" : config.model.file);
  f.set_string_attribute("/model", "provenance", prep.model.provenance.source);
  f.set_string_attribute("/model", "normalization", describe(prep.model.spec.normalization));
  f.set_string_attribute("/model", "normalization_origin", prep.model.spec.normalization.origin);
  f.set_string_attribute("/model", "target", config.target.describe());
  f.write_string("/model/architecture", model_spec_to_yaml(prep.model.spec));
  if (report.accuracy >= 0) f.set_double_attribute("/model", "accuracy", report.accuracy);
  if (prep.model.provenance.test_accuracy >= 0)
    f.set_double_attribute("/model", "test_accuracy", prep.model.provenance.test_accuracy);
}

}  // namespace

std::string host_name() {
  char buffer[256] = {};
  if (gethostname(buffer, sizeof buffer - 1) != 0) return "unknown";
  return buffer;
}

std::string library_versions() {
  std::ostringstream v;
  v << "Eigen " << EIGEN_WORLD_VERSION << '.' << EIGEN_MAJOR_VERSION << '.' << EIGEN_MINOR_VERSION << ", HDF5 "
    << H5_VERS_MAJOR << '.' << H5_VERS_MINOR << '.' << H5_VERS_RELEASE << ", spdlog " << SPDLOG_VER_MAJOR << '.'
    << SPDLOG_VER_MINOR << '.' << SPDLOG_VER_PATCH;
#ifdef LRP_YAML_CPP_VERSION
  v << ", yaml-cpp " << LRP_YAML_CPP_VERSION;
#endif
#if defined(__GNUC__) && !defined(__clang__)
  v << ", GCC " << __GNUC__ << '.' << __GNUC_MINOR__ << '.' << __GNUC_PATCHLEVEL__;
#elif defined(__clang__)
  v << ", Clang " << __clang_major__ << '.' << __clang_minor__ << '.' << __clang_patchlevel__;
#endif
  return v.str();
}

void stamp_finish(RunState& run) {
  if (!run.run_id.empty()) return;
  run.finished = utc_now();
  run.run_id = random_run_id();
}

void write_results(RunState& run) {
  const ExperimentConfig& config = run.config;
  collectively(run.cluster, [&] {
    if (!run.writer()) return;
    const auto start = RunClock::now();
    stamp_finish(run);
    const std::string& finished = run.finished;
    const std::string& run_id = run.run_id;
    FolderFiles& pictures = run.pictures;
    if (!pictures.empty())
      pictures["run.txt"] = "results: " + config.output.results + "\nrun: " + run_id + "\nfinished: " + finished + "\n";
    // Parts: /meta, /data and /model; each method; the files written out.
    Progress progress("write results", 2 + std::ssize(run.methods), "parts");
    const std::string results_file = h5::build_file_image(config.output.results, "results file", [&](h5::File& f) {
      write_meta(f, run, finished, run_id);
      write_data(f, run);
      write_model(f, run);
      progress.advance();
      for (const MethodRecord& record : run.methods) {
        record.write(f, *run.metric_run, run.registry, run.prepared->model.network, run.prepared->relevance_layers);
        progress.advance();
      }
      f.set_double_attribute("/meta", "wall_seconds", seconds_since(run.start));
    });
    OutputTransaction outputs;
    outputs.create_missing_folders(true);
    if (!pictures.empty()) {
      const std::string what = config.output.heatmaps_at + ": output.heatmaps";
      check_replaceable_folder(config.output.heatmaps, what);  // again: files may have appeared meanwhile
      outputs.add_folder(config.output.heatmaps, std::move(pictures), "heatmaps folder");
    }
    outputs.add_file(config.output.results, results_file, "results file");
    outputs.commit();
    progress.advance();
    progress.finish();
    run.report.stage_seconds["write"] = seconds_since(start);
    run.report.results_path = config.output.results;
  });
}

}  // namespace lrp
