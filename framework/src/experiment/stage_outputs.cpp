// Stage 1: the outputs are locked for the whole run (a second run writing them is refused) and
// checked before any work; nothing is created before the run succeeds.
#include "run_state.hpp"

#include "lrp/core/log.hpp"
#include "lrp/io/yaml_util.hpp"

namespace lrp {

void lock_outputs(RunState& run) {
  const ExperimentConfig& config = run.config;
  collectively(run.cluster, [&] {
    if (!run.writer()) return;
    run.results_lock.emplace(config.output.results,
                             config.output.results_at + ": output.results");
    if (!config.output.heatmaps.empty())
      run.heatmaps_lock.emplace(config.output.heatmaps,
                                config.output.heatmaps_at + ": output.heatmaps");
    // Checked again now that they are locked (reading the config checked them, but a file may have
    // taken a folder's place since): a path that cannot be written stops the run before any work,
    // not after it. The write stage checks the folder a last time.
    check_output_path(config.output.results, OutputKind::kFile, config.output.results_at + ": output.results");
    if (!config.output.heatmaps.empty())
      check_replaceable_folder(config.output.heatmaps, config.output.heatmaps_at + ": output.heatmaps");
  });
  if (run.cluster.size() > 1)
    logger()->info("running on {} ({} threads per rank)", run.cluster.describe(), config.threads);
}

}  // namespace lrp
