// Private to the ONNX importer: the state the layer emitters share (onnx_emit.cpp has the emitter table and the
// small emitters, onnx_emit_layers.cpp the emitters of layers with weights or parameters).
#pragma once

#include "onnx_ir.hpp"

#include "lrp/core/limits.hpp"

#include <array>

namespace lrp::onnx_import {

// The state of the emission: the layers so far and the shape of the value the op reads.
class LayerEmitter {
 public:
  explicit LayerEmitter(const Graph& graph) : g(graph) {}

  const Graph& g;
  std::vector<Step> steps;
  std::set<std::string> used_names;
  int next_node = -1;        // the node of the op after the current one (-1: it is the last)
  int dropped_softmax = -1;  // a trailing Softmax/LogSoftmax

  // The value the op reads (its per-sample shape and rank); afterwards, the value it computes.
  void read(const Shape& shape, std::int64_t rank) {
    shape_ = shape;
    rank_ = rank;
  }
  const Shape& shape() const { return shape_; }
  std::int64_t rank() const { return rank_; }
  void set_rank(std::int64_t rank) { rank_ = rank; }

  // The layer name: from a parameter name, else the node name, else the kind and the layer count; made unique.
  std::string name_for(int i, const std::string& kind, std::initializer_list<std::string> tensors);
  // Checks that the layer s reads the current per-sample shape and moves it to the layer's output.
  void follow_shape(const Step& s);
  void emit(Step step) {
    follow_shape(step);
    steps.push_back(std::move(step));
  }
  // A layer of `kind` (with `params`) made from node i, named after it.
  void emit_layer(int i, const std::string& kind, ParamMap params = {});
  // The Pad nodes of op, each checked, their spatial padding added up.
  std::array<std::int64_t, 2> take_pads(const Op& op) const {
    std::array<std::int64_t, 2> total{0, 0};
    for (int p : op.pads) {
      const std::array<std::int64_t, 2> pads = read_pad(p);
      total[0] += pads[0];
      total[1] += pads[1];
      g.check_single_output(p);
    }
    return total;
  }

 private:
  std::array<std::int64_t, 2> read_pad(int i) const;
  // `shape` (what node i computes) if every extent is ≥ 1 and it has at most kMaxSample elements.
  Shape checked_shape(int i, const Shape& shape, const std::string& what) const {
    const std::string context = g.where() + ": " + g.node_ref(i) + ": " + what;
    const Index n = checked_numel(shape, context);  // every extent ≥ 1, the product without overflow
    LRP_CHECK(n <= kMaxSample, context, ": the per-sample shape ", to_string(shape), " has ", n,
              " elements, more than the 2^31 lrplab imports");
    return shape;
  }

  Shape shape_;
  std::int64_t rank_ = 0;
};

// "conv1.weight" -> "conv1", "features.0.weight" -> "features.0"; "" for torch's generated names ("onnx::Conv_61")
// and names without a '.'.
std::string name_from_parameter(const std::string& tensor);

// The emitters of onnx_emit_layers.cpp (each: check node op.node, add its layer(s) to e).
void emit_gemm(LayerEmitter& e, const Op& op);
void emit_matmul(LayerEmitter& e, const Op& op);  // and the Add of its bias (Op::bias_add)
void emit_conv(LayerEmitter& e, const Op& op);
void emit_pool(LayerEmitter& e, const Op& op);  // MaxPool, AveragePool
void emit_reshape(LayerEmitter& e, const Op& op);
void emit_batchnorm(LayerEmitter& e, const Op& op);
void emit_dropout(LayerEmitter& e, const Op& op);
void emit_clip(LayerEmitter& e, const Op& op);
void emit_reduce_mean(LayerEmitter& e, const Op& op);
void emit_gelu(LayerEmitter& e, const Op& op);
void emit_embedding(LayerEmitter& e, const Op& op);

}  // namespace lrp::onnx_import
