// A network of layer handlers: a chain, or a directed acyclic graph whose layers may read any
// earlier layer's output (residual sums, concatenated branches). forward() runs once and keeps
// every value, which is all that the backward passes of every rule and every target need.
#pragma once

#include "lrp/nn/layer.hpp"

#include <functional>
#include <span>
#include <string>
#include <vector>

namespace lrp {

// The values of one forward pass: activations[0] is the input, activations[i + 1] the output of
// layer i, activations.back() the logits. In a chain layer i reads activations[i]; in a graph it
// reads the values Network::inputs_of(i) names, and a layer reading several of them (add, concat)
// gets them side by side in stacked[i] (Layer::stack_inputs). layer_input(i) is what layer i read.
struct ForwardPass {
  std::vector<Matrix> activations;
  // Per layer: the value it reads, or −1 when it reads several (then stacked[i] holds them).
  std::vector<Index> reads;
  // Per layer: its stacked input when it reads several values; 0 × 0 for the others.
  std::vector<Matrix> stacked;
  // The input's per-sample sequence lengths (Tensor::lengths): empty, or one per row. Explainers
  // hand each row block's lengths to the layers and rules (Workspace::lengths()).
  std::vector<Index> lengths;
  const Matrix& input() const { return activations.front(); }
  const Matrix& logits() const { return activations.back(); }
  Index batch() const { return activations.empty() ? 0 : activations.front().rows(); }
  // The input layer i computed with: N × numel(layer(i).input_shape()).
  const Matrix& layer_input(Index i) const {
    const auto li = static_cast<std::size_t>(i);
    return reads[li] >= 0 ? activations[static_cast<std::size_t>(reads[li])] : stacked[li];
  }
};

// The pass of the batch whose rows are the pass's rows each repeated `times` times in place
// (repeat_rows): what the forward pass of that batch computes, without computing it again (a run
// with several targets per sample explains every sample once per target from one forward pass).
ForwardPass repeat_rows(const ForwardPass& pass, Index times);

class Network {
 public:
  explicit Network(Shape input_shape);
  Network(Network&&) = default;
  Network& operator=(Network&&) = default;

  // Appends a layer, configures it for the values it reads and returns it. Names must be unique
  // and may not be "input"; an empty name becomes "<kind><index>". `inputs` names the layers whose
  // outputs it reads ("input": the network's input), all earlier than this one, so the network is
  // a directed acyclic graph in execution order; none: the previous layer's output (the network's
  // input for the first layer), which makes a chain.
  Layer& add(LayerPtr layer, std::string name = "", const std::vector<std::string>& inputs = {});
  template <typename L>
  L& add_as(std::unique_ptr<L> layer, std::string name = "", const std::vector<std::string>& inputs = {}) {
    return static_cast<L&>(add(std::move(layer), std::move(name), inputs));
  }
  // Replaces layer i (used by canonizers); the new layer must keep the input and output shapes.
  void replace(Index i, LayerPtr layer);

  Index size() const { return static_cast<Index>(layers_.size()); }
  Layer& layer(Index i);
  const Layer& layer(Index i) const;
  // Index of the layer called `name`; throws lrp::Error listing the names if there is none.
  Index index_of(const std::string& name) const;

  // The graph. Values are numbered 0 (the network's input) and l + 1 (layer l's output). Layer l
  // reads the values inputs_of(l), in order; value v is read by the layers consumers_of(v), in
  // order (the last layer's output by none: it is the network's output).
  const std::vector<Index>& inputs_of(Index layer) const;
  const std::vector<Index>& consumers_of(Index value) const;
  // The value a name stands for in the inputs of the layer `reader` (of `kind`) added next: 0 for
  // "input", l + 1 for layer l's name; lrp::Error when there is no such earlier layer. And a value's
  // per-sample shape.
  Index value_of(const std::string& name, const std::string& reader, const std::string& kind) const;
  const Shape& value_shape(Index value) const;
  // Rows [begin, begin + rows) of the stacked input of layer l, which reads several values: those
  // values' rows side by side (values: indexed like ForwardPass::activations).
  void stack_rows(Index l, const std::vector<Matrix>& values, Matrix& stacked, Index begin, Index rows) const;
  // Throws lrp::Error starting with `who` unless `pass` is a forward pass of this network: one
  // value per layer and the input, each layer reading what the graph says.
  void check_pass(const ForwardPass& pass, const std::string& who) const;
  // Whether every layer reads just the value before it (a sequential network).
  bool is_chain() const { return chain_; }
  // Throws lrp::Error (starting with `who`) naming the first layer, other than the last, whose
  // output no layer reads: a network has one output. Call it once the network is complete.
  void check_outputs_used(const std::string& who) const;

  const Shape& input_shape() const { return input_shape_; }
  const Shape& output_shape() const;

  // Whether some layer honours per-sample sequence lengths (LayerTraits::sequence).
  bool uses_lengths() const;
  // Checks per-sample lengths for a batch of `rows` samples: none, or one per row, each in [1, T]
  // with T the first axis of the input shape, and only for a network that uses them (padding would
  // otherwise change the results). Throws lrp::Error starting with `who` and naming the sample.
  void check_lengths(std::span<const Index> lengths, Index rows, const std::string& who) const;

  // Runs the network on a batch (checks shape and finiteness of x, and its lengths with
  // check_lengths). `threads` > 1 splits the batch across threads. Each layer call sees the lengths
  // of its rows in Workspace::lengths().
  ForwardPass forward(const Tensor& x, int threads = 1) const;
  // The same into existing storage (no allocation when the batch size is unchanged).
  void forward(const Tensor& x, ForwardPass& pass, int threads = 1) const;

  // Rows per block when a pass walks all layers for a few samples at a time: as many samples as
  // keep the largest activation block within about 64k values (256 KB in float32), so that a
  // layer's input, output and scratch stay in the core's L2 cache instead of streaming the whole
  // batch through memory at every layer.
  Index cache_block_rows() const;

  // One line per layer: index, name, description, output shape, and in a graph the values it reads.
  std::string summary() const;

 private:
  Shape input_shape_;
  std::vector<LayerPtr> layers_;
  std::vector<std::vector<Index>> inputs_;     // per layer
  std::vector<std::vector<Index>> consumers_;  // per value
  bool chain_ = true;
};

// Sets how every max-pool layer of `net` routes ties (lrp/nn/pooling.hpp: MaxPoolTies; PyTorch's first
// maximum is the default of a new layer); returns the number of max-pool layers.
enum class MaxPoolTies;
Index set_maxpool_ties(Network& net, MaxPoolTies ties);

// Splits rows [0, n) into `parts` contiguous ranges and runs fn(part, begin, end) for each,
// on up to `parts` threads (OpenMP when available). Used by forward and explain.
void parallel_chunks(Index n, int parts, const std::function<void(int, Index, Index)>& fn);

}  // namespace lrp
