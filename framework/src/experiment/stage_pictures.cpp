// Stage 6: the pictures (rank 0, when the config asks for a heatmaps folder): heatmaps per method
// and sample, montages, and every metric's own pictures (Metric::draw: the pixel-flipping curves).
// They stay in memory until the results stage writes them with the results file.
#include "run_state.hpp"

#include "lrp/core/log.hpp"
#include "lrp/core/progress.hpp"
#include "lrp/io/image.hpp"

namespace lrp {

namespace {

std::string png(const Image& image) {
  const std::vector<std::uint8_t> bytes = encode_png(image.width, image.height, image.channels, image.pixels);
  return std::string(bytes.begin(), bytes.end());
}

// The heatmaps of the first `k_samples` samples of every method, and the methods side by side.
void draw_heatmaps(RunState& run, Index k_samples, Progress& progress) {
  const PreparedExperiment& prep = *run.prepared;
  const Network& network = prep.model.network;
  const Shape& shape = network.input_shape();
  const ExperimentConfig& config = run.config;
  FolderFiles& pictures = run.pictures;
  HeatmapOptions hopt;
  hopt.input_min = prep.model.spec.normalization.raw_min;
  hopt.input_max = prep.model.spec.normalization.raw_max;
  // Sequences [T, D] (data with known relevant steps, or a model that starts with an lstm) are
  // drawn as strips with time along x: the pictures show [D, T], one row per feature.
  const bool sequence = shape.size() == 2 && (!prep.data.relevant.empty() || network.layer(0).kind() == "lstm");
  const auto picture_rows = [&](const Matrix& rows) {
    if (!sequence) return Tensor(shape, rows.topRows(k_samples));
    const Index steps = shape[0], features = shape[1];
    Tensor strip(k_samples, Shape{features, steps});
    for (Index i = 0; i < k_samples; ++i)
      for (Index t = 0; t < steps; ++t)
        for (Index d = 0; d < features; ++d) strip.data(i, d * steps + t) = rows(i, t * features + d);
    return strip;
  };
  const Tensor inputs = picture_rows(prep.raw_inputs.data);
  const bool drawable = shape.size() == 3 || shape.size() == 2;
  std::vector<Tensor> firsts;
  for (const MethodRecord& record : run.methods) firsts.push_back(picture_rows(record.relevance.data));
  if (!drawable) {
    logger()->warn("heatmaps: inputs of shape {} are not images; no PNGs drawn", to_string(shape));
    return;
  }
  for (std::size_t k = 0; k < run.methods.size(); ++k) {
    const std::string dir = run.methods[k].name() + "/";
    std::vector<std::vector<Image>> cells;
    for (Index i = 0; i < k_samples; ++i) {
      const Heatmap h = heatmap_image(firsts[k], inputs, i, hopt);
      pictures[dir + "sample_" + std::to_string(prep.data.indices[static_cast<std::size_t>(i)]) + ".png"] = png(h.image);
      progress.advance();
      if (i % config.output.montage_columns == 0) cells.emplace_back();
      cells.back().push_back(h.image);
    }
    pictures[dir + "montage.png"] = png(montage(cells));
  }
  std::vector<const Tensor*> all;
  for (const Tensor& t : firsts) all.push_back(&t);
  pictures["methods.png"] = png(heatmap_montage(inputs, all, hopt).image);
}

}  // namespace

void draw_pictures(RunState& run) {
  const ExperimentConfig& config = run.config;
  collectively(run.cluster, [&] {
    if (!run.writer() || config.output.heatmaps.empty() || config.output.heatmap_samples <= 0) return;
    const auto start = RunClock::now();
    const Index k_samples = std::min(config.output.heatmap_samples, run.samples());
    Index metric_pictures = 0;
    for (const Metric* metric : run.metrics) metric_pictures += metric != nullptr ? 1 : 0;
    // The heatmaps, then one step per metric that draws.
    Progress progress("pictures", k_samples * static_cast<Index>(run.methods.size()) + metric_pictures, "pictures");
    draw_heatmaps(run, k_samples, progress);
    std::vector<MethodView> views;
    for (const MethodRecord& record : run.methods) views.push_back(record.view());
    for (std::size_t i = 0; i < run.metrics.size(); ++i) {
      if (run.metrics[i] == nullptr) continue;
      std::vector<const MetricValues*> values;
      for (const MethodRecord& record : run.methods) values.push_back(record.metrics[i].get());
      progress.set_detail(run.metrics[i]->name());
      run.metrics[i]->draw(*run.metric_run, views, values, run.pictures);
      progress.advance();
    }
    progress.set_detail(nullptr);
    progress.finish();
    run.report.stage_seconds["pictures"] = seconds_since(start);
    run.report.heatmap_folder = config.output.heatmaps;
  });
}

}  // namespace lrp
