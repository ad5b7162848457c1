// Reading output.heatmap: the colour map, the clipping percentile, the scale and the overlay
// (experiment.hpp, HeatmapConfig; docs/config.md).
#include "lrp/core/error.hpp"
#include "lrp/experiment/config_keys.hpp"
#include "lrp/experiment/experiment.hpp"
#include "lrp/io/yaml_util.hpp"
#include "metric_config.hpp"

#include <string>
#include <vector>

namespace lrp {

using namespace yaml;

void read_heatmap_config(const YAML::Node& node, const std::string& source, HeatmapConfig& h) {
  h.at = where(node, source);
  if (!node || node.IsNull()) return;  // not given, or `heatmap:` with nothing: the defaults
  LRP_CHECK(node.IsMap(), h.at, ": output.heatmap must be a mapping of how heatmaps are drawn (colormap, "
                                 "clip_percentile, scale, overlay, overlay_alpha); the pictures' folder is output.heatmaps");
  check_section_keys(node, ConfigFile::kExperiment, "output.heatmap", "", source, "output.heatmap");
  if (node["colormap"]) h.colormap = static_cast<Colormap>(read_choice(node["colormap"], source, "output.heatmap.colormap", colormap_names()));
  if (node["clip_percentile"]) {
    const YAML::Node& p = node["clip_percentile"];
    h.clip_percentile = number(p, source, "output.heatmap.clip_percentile");
    LRP_CHECK(h.clip_percentile > 0 && h.clip_percentile <= 100, where(p, source),
              ": output.heatmap.clip_percentile is ", p.Scalar(),
              "; expected a percentile of |R| in (0, 100] (100: no clipping, the max |R|)");
  }
  if (node["scale"]) h.figure_scale = read_choice(node["scale"], source, "output.heatmap.scale", {"sample", "figure"}) == 1;
  if (node["overlay"]) h.overlay = boolean(node["overlay"], source, "output.heatmap.overlay");
  if (node["overlay_alpha"]) {
    const YAML::Node& a = node["overlay_alpha"];
    h.overlay_alpha = number(a, source, "output.heatmap.overlay_alpha");
    LRP_CHECK(h.overlay_alpha >= 0 && h.overlay_alpha <= 1, where(a, source), ": output.heatmap.overlay_alpha is ",
              a.Scalar(), "; expected an opacity from 0 (only the input) to 1 (only the heatmap)");
  }
}

}  // namespace lrp
