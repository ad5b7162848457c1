// Canonizers: rewrite a network into an equivalent one that the rules handle as docs/rules.md intends.
#pragma once

#include "lrp/nn/network.hpp"

#include <string>
#include <vector>

namespace lrp {

struct CanonizeReport {
  std::vector<std::string> merged;  // "bn1 -> conv1" for each batch norm folded into its predecessor
  std::vector<std::string> left;    // batch norms not folded: no dense/conv before them, or its output read elsewhere (`pass`)
};

// Folds every batch norm that reads the output of a dense or conv2d layer into it, when no other layer
// reads that output (docs/rules.md, Canonizers):
// s = γ/√(var + eps), W' = W·s per output channel, b' = (b − mean)·s + β; the batch norm becomes
// an identity layer with the same name, so indices and names stay valid. A layer declared
// without bias gains one. Other batch norms are left (and logged as a warning).
CanonizeReport canonize_batch_norm(Network& network);

}  // namespace lrp
