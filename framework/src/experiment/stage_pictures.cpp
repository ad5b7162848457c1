// Stage 6: the pictures (rank 0, when the config asks for a heatmaps folder): heatmaps per method
// and sample, montages, and every metric's own pictures (Metric::draw: the pixel-flipping curves).
// They stay in memory until the results stage writes them with the results file.
#include "run_state.hpp"

#include "lrp/core/log.hpp"
#include "lrp/core/progress.hpp"
#include "lrp/io/image.hpp"
#include "lrp/io/svg_grid.hpp"
#include "lrp/io/yaml_util.hpp"

namespace lrp {

namespace {

std::string png(const Image& image) {
  const std::vector<std::uint8_t> bytes = encode_png(image.width, image.height, image.channels, image.pixels);
  return std::string(bytes.begin(), bytes.end());
}

// Class k as people read it: its name when the model has class names, else its number.
std::string class_text(const PreparedExperiment& prep, Index k) {
  const std::vector<std::string>& names = prep.model.spec.class_names;
  if (k >= 0 && k < static_cast<Index>(names.size())) return names[static_cast<std::size_t>(k)];
  return std::to_string(k);
}

// The lines naming picture row i: the sample's index in the data source, its label (when the data
// has labels), the class the model predicts and, when the explained class is another, that one.
std::vector<std::string> sample_lines(const RunState& run, Index i) {
  const PreparedExperiment& prep = *run.prepared;
  const auto row = static_cast<std::size_t>(i);
  std::vector<std::string> lines{"sample " + std::to_string(prep.data.indices[row])};
  if (!prep.data.labels.empty()) lines.push_back("true: " + class_text(prep, prep.data.labels[row]));
  Index predicted = 0;
  run.logits.row(i).maxCoeff(&predicted);
  lines.push_back("pred: " + class_text(prep, predicted));
  if (run.targets[row] != predicted) lines.push_back("explained: " + class_text(prep, run.targets[row]));
  return lines;
}

// Row i's PNG: sample_<index>.png, or sample_<index>_class_<c>.png with several targets per sample.
std::string picture_name(const RunState& run, Index i) {
  const auto row = static_cast<std::size_t>(i);
  const std::string name = "sample_" + std::to_string(run.prepared->data.indices[row]);
  return run.per_sample() == 1 ? name + ".png" : name + "_class_" + std::to_string(run.targets[row]) + ".png";
}

// One scale for the first `rows` maps of every tensor (HeatmapConfig::figure_scale).
double figure_scale(const std::vector<const Tensor*>& maps, Index rows, double clip_percentile) {
  std::vector<double> pooled;
  for (const Tensor* t : maps)
    for (Index i = 0; i < rows; ++i) {
      const std::vector<double> m = relevance_magnitudes(t->shape, t->data.row(i));
      pooled.insert(pooled.end(), m.begin(), m.end());
    }
  return clip_scale(std::move(pooled), clip_percentile);
}

// The colour bar of a figure whose maps share `scale` (0: each map its own).
ColorBar colorbar(const HeatmapConfig& h, double scale, const char* figure) {
  ColorBar bar;
  bar.colormap = h.colormap;
  bar.scale = h.figure_scale ? scale : 0.0;
  const std::string s = h.clip_percentile == 100 ? std::string("the max |R|")
                                                 : "percentile " + yaml::format_double(h.clip_percentile) + " of |R|";
  if (!h.figure_scale)
    bar.note = "s = " + s + " of each map; beyond it colours saturate";
  else if (scale == 0)
    bar.note = std::string("all relevance in ") + figure + " is 0";
  else
    bar.note = "s = " + s + " over all maps of " + figure + "; beyond it colours saturate";
  return bar;
}

// The heatmaps of the first `k_samples` samples of every method, and the methods side by side: PNGs
// and labelled SVGs.
void draw_heatmaps(RunState& run, Index k_samples, Progress& progress) {
  const PreparedExperiment& prep = *run.prepared;
  const Network& network = prep.model.network;
  const Shape& shape = network.input_shape();
  const ExperimentConfig& config = run.config;
  const HeatmapConfig& look = config.output.heatmap;
  FolderFiles& pictures = run.pictures;
  HeatmapOptions hopt;
  hopt.input_min = prep.model.spec.normalization.raw_min;
  hopt.input_max = prep.model.spec.normalization.raw_max;
  hopt.colormap = look.colormap;
  hopt.clip_percentile = look.clip_percentile;
  hopt.overlay = look.overlay;
  hopt.overlay_alpha = look.overlay_alpha;
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
  std::vector<std::vector<std::string>> labels;
  for (Index i = 0; i < k_samples; ++i) labels.push_back(sample_lines(run, i));
  const char* cell = look.overlay ? "relevance over the input" : "input | relevance";
  std::vector<const Tensor*> all;
  for (const Tensor& t : firsts) all.push_back(&t);
  // Each picture is encoded once: with scale: sample, methods.svg shows the very same pictures.
  std::vector<std::vector<SvgGridCell>> drawn(run.methods.size());
  for (std::size_t k = 0; k < run.methods.size(); ++k) {
    const std::string dir = run.methods[k].name() + "/";
    HeatmapOptions mopt = hopt;
    if (look.figure_scale) mopt.relevance_scale = figure_scale({all[k]}, k_samples, look.clip_percentile);
    std::vector<std::vector<Image>> cells;
    SvgGrid grid{.title = run.methods[k].name() + " (" + cell + ")"};
    for (Index i = 0; i < k_samples; ++i) {
      const Heatmap h = heatmap_image(firsts[k], inputs, i, mopt);
      drawn[k].push_back({h.image, {}, png(h.image)});
      pictures[dir + picture_name(run, i)] = drawn[k].back().png;
      if (i % config.output.montage_columns == 0) {
        cells.emplace_back();
        grid.cells.emplace_back();
      }
      cells.back().push_back(h.image);
      grid.cells.back().push_back({h.image, labels[static_cast<std::size_t>(i)], drawn[k].back().png});
      progress.advance();
    }
    pictures[dir + "montage.png"] = png(montage(cells));
    grid.colorbar = colorbar(look, mopt.relevance_scale, "this montage");
    pictures[dir + "montage.svg"] = grid_svg(grid);
  }
  HeatmapOptions aopt = hopt;
  if (look.figure_scale) aopt.relevance_scale = figure_scale(all, k_samples, look.clip_percentile);
  std::vector<std::vector<Image>> rows(static_cast<std::size_t>(k_samples));
  SvgGrid grid{.title = std::string("Heatmaps by method (each cell: ") + cell + ")"};
  for (Index i = 0; i < k_samples; ++i) {
    grid.cells.emplace_back();
    for (std::size_t k = 0; k < firsts.size(); ++k) {
      SvgGridCell picture = drawn[k][static_cast<std::size_t>(i)];
      if (look.figure_scale) picture = {heatmap_image(firsts[k], inputs, i, aopt).image, {}, {}};
      rows[static_cast<std::size_t>(i)].push_back(picture.image);
      grid.cells.back().push_back(std::move(picture));
    }
  }
  pictures["methods.png"] = png(montage(rows));
  for (const MethodRecord& record : run.methods) grid.column_headers.push_back(record.name());
  grid.row_headers = labels;
  grid.colorbar = colorbar(look, aopt.relevance_scale, "this figure");
  pictures["methods.svg"] = grid_svg(grid);
}

}  // namespace

void draw_pictures(RunState& run) {
  const ExperimentConfig& config = run.config;
  collectively(run.cluster, [&] {
    if (!run.writer() || config.output.heatmaps.empty() || config.output.heatmap_samples <= 0) return;
    const auto start = RunClock::now();
    // The first heatmap_samples samples, each with all its targets.
    const Index k_samples = std::min(config.output.heatmap_samples * run.per_sample(), run.samples());
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
