#include "lrp/propagation/canonize.hpp"

#include "lrp/core/error.hpp"
#include "lrp/nn/layers.hpp"
#include "lrp/core/log.hpp"

namespace lrp {

CanonizeReport canonize_batch_norm(Network& network) {
  CanonizeReport report;
  for (Index i = 0; i < network.size(); ++i) {
    auto* bn = dynamic_cast<BatchNorm*>(&network.layer(i));
    if (bn == nullptr) continue;
    Layer* previous = i > 0 ? &network.layer(i - 1) : nullptr;
    auto* dense = dynamic_cast<Dense*>(previous);
    auto* conv = dynamic_cast<Conv2d*>(previous);
    if (dense == nullptr && conv == nullptr) {
      logger()->warn("batch norm '{}' does not follow a dense or conv2d layer: it is not canonized and gets 'pass'",
                     bn->name());
      report.left.push_back(bn->name());
      continue;
    }
    const Vector scale = bn->scale(bn->params());
    const Vector shift = bn->shift(bn->params());
    Params merged = previous->params();
    LRP_CHECK(merged.weight.rows() == scale.size(), "canonize: batch norm '", bn->name(), "' has ", scale.size(),
              " channels, but '", previous->name(), "' has ", merged.weight.rows(), " outputs");
    // W' = diag(s) W; b' = s ⊙ b + (β − s ⊙ mean) = (b − mean)·s + β.
    merged.weight = scale.asDiagonal() * merged.weight;
    const Vector bias = merged.has_bias() ? merged.bias : Vector::Zero(scale.size());
    merged.bias = (scale.array() * bias.array()).matrix() + shift;
    LayerPtr replacement;
    if (dense != nullptr) {
      replacement = std::make_unique<Dense>(dense->in_features(), dense->out_features(), true);
    } else {
      Conv2dOptions options = conv->options();
      options.bias = true;
      replacement = std::make_unique<Conv2d>(conv->in_channels(), conv->out_channels(), options);
    }
    const std::string merged_name = previous->name(), bn_name = bn->name();
    network.replace(i - 1, std::move(replacement));
    network.layer(i - 1).set_params(std::move(merged));
    network.replace(i, make_identity());
    report.merged.push_back(bn_name + " -> " + merged_name);
  }
  return report;
}

}  // namespace lrp
