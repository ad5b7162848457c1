// The framework's workspace slots (workspace.hpp): one named range per owner, in one table so that
// the compiler checks them disjoint. Owners nest, which is why none may share a slot:
//   the explainer holds its two relevance buffers while a rule propagates;
//   the generic LRP step (and the LSTM rules) hold theirs while a layer's forward or vjp runs;
//   Layer::vjp_many (the default) holds its buffer while the handler's vjp runs.
// A new owner in the framework adds its range here (after the last, and to kFramework); plugins
// reserve theirs at run time with reserve_slots(), which hands out slots from kFrameworkEnd on.
#pragma once

#include "lrp/core/workspace.hpp"

#include <array>

namespace lrp::slots {

// Layer::vjp_many's default: one coefficient's vjp before it is scaled and added.
inline constexpr SlotRange kLayerMany{"Layer::vjp_many", 0, 1};
// conv2d: the unfolded input (im2col) or the zero-padded output gradients of vjp_many, an input
// gradient to add or the transposed output gradient of param_vjp, the zero-padded input plane, the
// output or a gradient on a grid, param_vjp's transposed weight gradient.
inline constexpr SlotRange kConv2d{"conv2d", kLayerMany.end(), 5};
// lstm: every buffer of its forward and backward pass, carved from one slot.
inline constexpr SlotRange kLstm{"lstm", kConv2d.end(), 1};
// The generic LRP step (propagation/rule.cpp): 4 denominators, 8 term outputs, 1 group sum, 8 inputs.
inline constexpr SlotRange kLinearRule{"the generic LRP step", kLstm.end(), 21};
// The LSTM rules: the walk's buffers carved from one slot; a linear layer's quotients R / stab(z).
inline constexpr SlotRange kLstmRule{"the LSTM rules", kLinearRule.end(), 2};
// The explainer: the relevance of the current layer and of the next (ping-pong).
inline constexpr SlotRange kExplainer{"the explainer", kLstmRule.end(), 2};
// The explainer on a graph network: slot 0 a layer's stacked input relevance before it is split to
// the values it read, the others the relevance of the values whose consumers are not all done yet.
inline constexpr SlotRange kExplainerGraph{"the explainer (graph)", kExplainer.end(), 64};

inline constexpr std::array kFramework{kLayerMany, kConv2d, kLstm, kLinearRule, kLstmRule, kExplainer, kExplainerGraph};
static_assert(first_overlap(kFramework) < 0, "two framework owners share a workspace slot");

// The first slot after the framework's: where reserve_slots() starts.
inline constexpr int kFrameworkEnd = kExplainerGraph.end();

}  // namespace lrp::slots
