#include "lrp/propagation/canonize.hpp"

#include "lrp/core/error.hpp"
#include "lrp/core/log.hpp"
#include "lrp/nn/activations.hpp"

namespace lrp {

// Which layers fold and which absorb is theirs to say (Layer::foldable_affine, Layer::absorb_affine);
// this loop only pairs each foldable layer with the layer whose output it reads. In a graph that
// output must have no other reader: folding would change what the others see.
CanonizeReport canonize_batch_norm(Network& network) {
  CanonizeReport report;
  for (Index i = 0; i < network.size(); ++i) {
    const Layer& layer = network.layer(i);
    const std::optional<ChannelAffine> affine = layer.foldable_affine();
    if (!affine) continue;
    const Index read = network.inputs_of(i).front();  // a foldable layer reads one value
    if (read > 0 && network.consumers_of(read).size() > 1) {
      logger()->warn("{} '{}' reads the output of '{}', which other layers read too: it is not canonized and gets 'pass'",
                     layer.kind(), layer.name(), network.layer(read - 1).name());
      report.left.push_back(layer.name());
      continue;
    }
    const Layer* previous = read > 0 ? &network.layer(read - 1) : nullptr;
    if (previous != nullptr) {
      const Index channels = previous->output_shape().empty() ? 0 : previous->output_shape()[0];
      LRP_CHECK(channels == affine->scale.size(), "canonize: ", layer.kind(), " '", layer.name(), "' has ",
                affine->scale.size(), " channels, but '", previous->name(), "' has ", channels, " outputs");
    }
    LayerPtr merged = previous != nullptr ? previous->absorb_affine(*affine) : nullptr;
    if (merged == nullptr) {
      logger()->warn("{} '{}' does not follow a layer it folds into (dense, conv2d): it is not canonized and gets 'pass'",
                     layer.kind(), layer.name());
      report.left.push_back(layer.name());
      continue;
    }
    const std::string merged_name = previous->name(), folded_name = layer.name();
    network.replace(read - 1, std::move(merged));
    network.replace(i, make_identity());
    report.merged.push_back(folded_name + " -> " + merged_name);
  }
  return report;
}

}  // namespace lrp
