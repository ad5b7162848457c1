// A sequential network of layer handlers. forward() runs once and keeps every activation, which
// is all that the backward passes of every rule and every target need.
#pragma once

#include "lrp/nn/layer.hpp"

#include <functional>
#include <span>
#include <string>
#include <vector>

namespace lrp {

// The activations of one forward pass: activations[0] is the input, activations[i + 1] the output
// of layer i, activations.back() the logits.
struct ForwardPass {
  std::vector<Matrix> activations;
  // The input's per-sample sequence lengths (Tensor::lengths): empty, or one per row. Explainers
  // hand each row block's lengths to the layers and rules (Workspace::lengths()).
  std::vector<Index> lengths;
  const Matrix& input() const { return activations.front(); }
  const Matrix& logits() const { return activations.back(); }
  Index batch() const { return activations.empty() ? 0 : activations.front().rows(); }
};

class Network {
 public:
  explicit Network(Shape input_shape);
  Network(Network&&) = default;
  Network& operator=(Network&&) = default;

  // Appends a layer, configures it for the current output shape and returns it. Names must be
  // unique; an empty name becomes "<kind><index>".
  Layer& add(LayerPtr layer, std::string name = "");
  template <typename L>
  L& add_as(std::unique_ptr<L> layer, std::string name = "") {
    return static_cast<L&>(add(std::move(layer), std::move(name)));
  }
  // Replaces layer i (used by canonizers); the new layer must keep the input and output shapes.
  void replace(Index i, LayerPtr layer);

  Index size() const { return static_cast<Index>(layers_.size()); }
  Layer& layer(Index i);
  const Layer& layer(Index i) const;
  // Index of the layer called `name`; throws lrp::Error listing the names if there is none.
  Index index_of(const std::string& name) const;

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

  // One line per layer: index, name, description, output shape.
  std::string summary() const;

 private:
  Shape input_shape_;
  std::vector<LayerPtr> layers_;
};

// Sets how every max-pool layer of `net` routes ties (lrp/nn/pooling.hpp: MaxPoolTies; PyTorch's first
// maximum is the default of a new layer); returns the number of max-pool layers.
enum class MaxPoolTies;
Index set_maxpool_ties(Network& net, MaxPoolTies ties);

// Splits rows [0, n) into `parts` contiguous ranges and runs fn(part, begin, end) for each,
// on up to `parts` threads (OpenMP when available). Used by forward and explain.
void parallel_chunks(Index n, int parts, const std::function<void(int, Index, Index)>& fn);

}  // namespace lrp
