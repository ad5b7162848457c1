// Reading the ModelProto into the Graph: the nodes, the initializers and Constant nodes decoded, the graph checked
// for consistency, the graph input's shape; then the structures refused by name (GRU, RNN, attention).

#include "onnx_ir.hpp"

#include "lrp/core/limits.hpp"

#include <set>

namespace lrp::onnx_import {
namespace {

// Every tensor name is defined once (an initializer, a graph input or one node's output), every node reads only
// names defined before it, and the graph outputs are computed.
void check_graph(const Graph& g, const onnx::GraphProto& proto) {
  std::map<std::string, std::string> defined;  // name -> what defines it
  for (const onnx::TensorProto& t : proto.initializer()) defined.emplace(t.name(), "initializer '" + t.name() + "'");
  for (const onnx::ValueInfoProto& v : proto.input()) {
    if (g.consts.count(v.name())) continue;  // exporters before IR version 4 list the initializers as inputs too
    LRP_CHECK(!v.name().empty() && defined.emplace(v.name(), "the graph input").second, g.where(),
              ": the graph input '", v.name(), "' ", v.name().empty() ? "has no name" : "is listed twice");
  }
  const auto count = static_cast<int>(g.nodes.size());
  for (int i = 0; i < count; ++i) {
    const Node& n = g.node(i);
    if (n.op.empty()) g.fail_node(i, "has no op type (corrupt file?)");
    for (const std::string& in : n.inputs) {
      if (in.empty() || defined.count(in)) continue;
      std::string later;
      for (int k = i + 1; k < count && later.empty(); ++k)
        for (const std::string& out : g.node(k).outputs)
          if (out == in) later = " (" + g.node_ref(k) + " computes it later: the nodes are not in order)";
      g.fail_node(i, "reads '", in, "', which is not a graph input, an initializer or the output of an earlier node",
                  later);
    }
    bool computes = false;
    for (const std::string& out : n.outputs) {
      if (out.empty()) continue;
      computes = true;
      const auto [it, fresh] = defined.emplace(out, g.node_ref(i));
      if (!fresh) g.fail_node(i, "output '", out, "' is already defined by ", it->second, " (names must be unique)");
    }
    if (!computes) g.fail_node(i, "has no output");
  }
  for (const std::string& out : g.outputs)
    LRP_CHECK(defined.count(out), g.where(), ": the graph output '", out, "' is computed by no node");
}

// The graph input: the one input that is not an initializer, with its per-sample shape.
void read_input(Graph& g, const onnx::GraphProto& proto) {
  const onnx::ValueInfoProto* input = nullptr;
  for (const onnx::ValueInfoProto& v : proto.input()) {
    if (g.consts.count(v.name())) continue;
    LRP_CHECK(input == nullptr, g.where(), ": the graph has more than one input ('", input ? input->name() : "",
              "', '", v.name(), "'); lrplab imports models with one input");
    input = &v;
  }
  LRP_CHECK(input != nullptr, g.where(), ": the graph has no input");
  LRP_CHECK(input->type().has_tensor_type(), g.where(), ": the graph input '", input->name(), "' is not a tensor");
  const onnx::TypeProto_Tensor& tt = input->type().tensor_type();
  g.integer_input = tt.elem_type() == onnx::TensorProto_DataType_INT64 ||
                    tt.elem_type() == onnx::TensorProto_DataType_INT32;
  LRP_CHECK(tt.elem_type() == onnx::TensorProto_DataType_FLOAT ||
                tt.elem_type() == onnx::TensorProto_DataType_DOUBLE || g.integer_input,
            g.where(), ": the graph input '", input->name(), "' has data type ", type_name(tt.elem_type()),
            "; lrplab imports float32 and float64 models (and int64/int32 token ids into an embedding)");
  LRP_CHECK(tt.has_shape() && tt.shape().dim_size() >= 2, g.where(), ": the graph input '", input->name(),
            "' has no shape of rank ≥ 2 ([batch, ...]); lrplab needs the per-sample shape");
  std::string declared;  // "[batch, 3, 32, 32]"
  for (const onnx::TensorShapeProto_Dimension& d : tt.shape().dim())
    declared += (declared.empty() ? "[" : ", ") + (d.has_dim_value()   ? std::to_string(d.dim_value())
                                                   : d.has_dim_param() ? d.dim_param()
                                                                       : std::string("?"));
  const std::string input_ref = g.where() + ": the graph input '" + input->name() + "' of shape " + declared + "]";
  for (int a = 0; a < tt.shape().dim_size(); ++a) {
    const onnx::TensorShapeProto_Dimension& d = tt.shape().dim(a);
    if (a == 0) {  // the batch size: symbolic, unknown, or a fixed size (only compared with Reshape's shapes)
      if (d.has_dim_value() && d.dim_value() > 0) g.static_batch = d.dim_value();
      continue;
    }
    LRP_CHECK(d.has_dim_value(), input_ref, ": dimension ", a, " is ",
              d.has_dim_param() ? "symbolic ('" + d.dim_param() + "')" : std::string("unknown"),
              "; only the batch dimension may be");
    g.input_shape.push_back(static_cast<Index>(d.dim_value()));
  }
  // Before anything is sized from it: every extent ≥ 1, at most kMaxSample elements.
  const Index n = checked_numel(g.input_shape, input_ref);
  LRP_CHECK(n <= kMaxSample, input_ref, ": the per-sample shape ", to_string(g.input_shape), " has ", n,
            " elements, more than the 2^31 lrplab imports");
  g.input = input->name();
  g.input_rank = tt.shape().dim_size();
  g.rank[g.input] = g.input_rank;
}

}  // namespace

Graph read_graph(const std::string& path, const onnx::ModelProto& model) {
  Graph g;
  g.path = path;
  for (const onnx::OperatorSetIdProto& o : model.opset_import())
    if (default_domain(o.domain())) g.opset = o.version();
  LRP_CHECK(g.opset > 0, g.where(), ": the model imports no version of the default ONNX operator set");
  LRP_CHECK(g.opset >= 9, g.where(), ": opset ", g.opset,
            " is too old; lrplab imports opset 9 and later (torch.onnx.export "
            "with opset_version=13 is what it is tested with)");
  const onnx::GraphProto& proto = model.graph();
  LRP_CHECK(proto.node_size() > 0, g.where(), ": the graph has no nodes");

  for (int i = 0; i < proto.node_size(); ++i) {
    const onnx::NodeProto& p = proto.node(i);
    Node n{i, p.name(), p.op_type(), p.domain(), {p.input().begin(), p.input().end()},
           {p.output().begin(), p.output().end()}, &p};
    for (const std::string& in : n.inputs)
      if (!in.empty()) g.consumers[in].push_back(i);
    for (const std::string& out : n.outputs)
      if (!out.empty()) g.producer.emplace(out, i);
    g.nodes.push_back(std::move(n));
  }
  g.folded.assign(g.nodes.size(), 0);
  for (const onnx::ValueInfoProto& v : proto.output()) g.outputs.push_back(v.name());
  for (const onnx::TensorProto& t : proto.initializer()) {
    LRP_CHECK(!t.name().empty() && !g.consts.count(t.name()), g.where(), ": ",
              t.name().empty() ? std::string("an initializer has no name")
                               : "initializer '" + t.name() + "' is defined twice");
    g.consts[t.name()] = g.read_tensor(t, "initializer '" + t.name() + "'");
  }
  LRP_CHECK(proto.sparse_initializer_size() == 0, g.where(), ": sparse initializers are not imported");
  check_graph(g, proto);
  read_input(g, proto);
  return g;
}

// GRU, RNN and attention are refused by name before anything else: torch exports them with a Transpose in front,
// which the chain would otherwise report first. Attention shows as a MatMul of two tensors computed from the data
// (queries times keys, then the softmaxed weights times values); lrplab's MatMul is a dense layer with a constant
// weight.
void refuse_unsupported_structures(const Graph& g) {
  std::set<std::string> constant_tensors;
  for (const auto& [name, c] : g.consts) constant_tensors.insert(name);
  for (const Node& n : g.nodes) {
    if (!default_domain(n.domain)) continue;
    if (n.op == "GRU" || n.op == "RNN")
      g.fail_node(n.index, n.op == "GRU" ? "GRU (torch's nn.GRU)" : "RNN (torch's nn.RNN, an Elman network)",
                  " is not supported (supported recurrent layer: LSTM, as torch exports nn.LSTM)");
    bool all_constant = !n.inputs.empty() || n.op == "Constant";
    for (const std::string& in : n.inputs) all_constant = all_constant && (in.empty() || constant_tensors.count(in));
    if (all_constant || n.op == "Shape") {  // shape arithmetic counts as constant here
      for (const std::string& out : n.outputs) constant_tensors.insert(out);
      continue;
    }
    if (n.op == "MatMul" && n.inputs.size() == 2 && !constant_tensors.count(n.inputs[0]) &&
        !constant_tensors.count(n.inputs[1]))
      g.fail_node(n.index, "multiplies two computed tensors ('", n.inputs[0], "' and '", n.inputs[1],
                  "'): attention (torch's nn.MultiheadAttention / a Transformer layer) is not supported; lrplab "
                  "imports MatMul only with a constant weight (a dense layer)");
  }
}

}  // namespace lrp::onnx_import
