// ONNX import: a network exported by torch.onnx.export (opset 13), a chain or a graph with residual sums and
// concatenated branches, becomes a ModelSpec, built by build_model() with the registry's layer kinds, and its
// weights are copied in.
//
// The import is a pipeline of passes over an in-memory graph (onnx_ir.hpp describes the passes and their files):
// read the graph, refuse GRU/RNN/attention, fold constants, fuse (input normalization, LSTM blocks, activation
// patterns, MatMul + Add, Pad before Conv/AveragePool), check that the ops form a graph lrplab builds (check_graph,
// here), and emit layers from the emitter table. Before the fusions other than the input normalization, check_data_nodes (here)
// refuses a node whose op no table reads at that node. Every refusal is an lrp::Error naming the file, and for a node its index in
// the graph, its name and op.
//
// ONNX files carry no checksums, so what can be checked is (a damaged file may still load: a changed weight is a
// valid weight): the graph is consistent (every name defined once, every node input defined before the node, the
// graph output computed), every tensor's data matches its shape and type and its real values are finite, every
// attribute is a whole number, list or finite float of the expected kind in a plausible range, and the per-sample
// shape of the chain is followed from the graph input through every layer (follow_shape), so that a weight that does
// not fit its input and a shape of more than kMaxSample elements are errors naming the node before anything is
// built. Sizes from the file are computed with saturating or checked arithmetic.

#include "lrp/io/onnx.hpp"

#include "onnx_ir.hpp"

#include "lrp/core/error.hpp"
#include "lrp/core/files.hpp"
#include "lrp/core/log.hpp"
#include "lrp/nn/layers.hpp"
#include "lrp/nn/model.hpp"
#include "lrp/registry/registry.hpp"

#include <cmath>
#include <filesystem>
#include <new>
#include <set>
#include <string>
#include <vector>

namespace lrp {
namespace onnx_import {

std::string supported_ops_text() {
  std::string text;
  for (const std::string& op : emitted_ops_text()) text += op + ", ";
  text += normalization_text();
  text += ", and constant subgraphs (";
  const std::vector<std::string> folded = fold_ops();
  for (std::size_t k = 0; k < folded.size(); ++k) text += (k ? ", " : "") + folded[k];
  return text + ")";
}

void Graph::fail_unsupported(int i) const {
  const Node& n = node(i);
  LRP_FAIL(where(), ": node ", i, " '", n.name, "' has op ", n.op,
           default_domain(n.domain) ? std::string() : " (domain " + n.domain + ")",
           ", which lrplab does not import; supported: ", supported_ops_text());
}

// Each data node on its own, in file order, after the input normalization and before the other fusions: its op is
// one some table reads in this form, it has a data input, and integer ids go into an embedding first. (An unsupported
// op is then reported at its node, not where a pattern or an LSTM block it breaks ends.)
void check_data_nodes(const Graph& g, const std::vector<Op>& ops) {
  const std::vector<std::string> block = lstm_op_types();
  std::set<std::string> from_lstm;  // values an LSTM node or a block op after it computes
  for (std::size_t k = 0; k < ops.size(); ++k) {
    const int i = ops[k].node;
    const Node& n = g.node(i);
    if (n.is("LSTM")) {  // fuse_lstm checks its nodes
      from_lstm.insert(n.outputs.begin(), n.outputs.end());
      continue;
    }
    if (g.integer_input && k == 0 && !(n.is("Gather") && emitter_reads(g, ops[k])))
      g.fail_node(i, "reads the graph input, which holds integers (token ids); lrplab imports integer inputs only "
                     "into an embedding (Gather from a constant table [vocab, dim], as torch exports nn.Embedding)");
    // A block op (Transpose, Squeeze, ...) is read by fuse_lstm when it reads what an LSTM node computed, or (a
    // Transpose) feeds LSTM nodes only or transposes a [batch, T, D] sequence (which fuse_lstm then refuses).
    const bool block_op = default_domain(n.domain) && std::find(block.begin(), block.end(), n.op) != block.end();
    const bool after_lstm = std::any_of(n.inputs.begin(), n.inputs.end(), [&](const auto& v) { return from_lstm.count(v); });
    const auto readers = g.consumers.find(n.outputs[0]);
    const bool feeds_lstm = readers != g.consumers.end() &&
                            std::all_of(readers->second.begin(), readers->second.end(),
                                        [&](int r) { return g.node(r).is("LSTM"); });
    if (block_op && after_lstm) from_lstm.insert(n.outputs[0]);
    const auto rank = n.inputs.empty() ? g.rank.end() : g.rank.find(n.inputs[0]);
    const bool sequence = rank != g.rank.end() && rank->second == 3;
    const bool in_block = block_op && (after_lstm || (n.is("Transpose") && (feeds_lstm || sequence)));
    if (!default_domain(n.domain) || !(emitter_reads(g, ops[k]) || starts_pattern(g, n) || in_block))
      g.fail_unsupported(i);
    if (data_input(g, i, std::string()) < 0) g.fail_node(i, "has no data input");
  }
}

namespace {

// Whether node i combines two or more computed values into one: the residual sum (Add) or joined
// branches (Concat). Their ops read several values (Op::inputs).
bool merges(const Graph& g, int i) {
  const Node& n = g.node(i);
  if (!(n.is("Add") || n.is("Concat")) || n.inputs.size() < 2) return false;
  return std::all_of(n.inputs.begin(), n.inputs.end(), [&](const std::string& v) { return !v.empty() && g.computed(v); });
}

}  // namespace

// The graph: every op reads values the (normalized) graph input or earlier ops computed (ONNX
// lists nodes in a topological order), a trailing Softmax comes last, every op's output is read
// by a later op or is the graph's one output, which the last op computes.
void check_graph(const Graph& g, std::vector<Op>& ops, const FoldedNormalization& norm) {
  std::set<std::string> seen{g.input};  // every value of the data path so far, inputs of folded nodes included
  for (int k : norm.nodes) seen.insert(g.node(k).outputs[0]);
  std::set<std::string> available{norm.output};  // the values a layer may read
  std::map<std::string, int> unread;             // value -> the op's node that computes it, until something reads it
  std::string last = norm.output;
  int softmax = -1;
  for (std::size_t k = 0; k < ops.size(); ++k) {
    Op& op = ops[k];
    const int i = op.node;
    const Node& n = g.node(i);
    if (g.integer_input && k == 0 && !(op.op == "Gather" && emitter_reads(g, op)))
      g.fail_node(i, "reads the graph input, which holds integers (token ids); lrplab imports integer inputs only "
                     "into an embedding (Gather from a constant table [vocab, dim], as torch exports nn.Embedding)");
    if (!emitter_reads(g, op)) g.fail_unsupported(i);
    if (softmax >= 0)
      g.fail_node(i, "follows the ", g.node(softmax).op, " at ", g.node_ref(softmax),
                  "; lrplab drops a Softmax/LogSoftmax only when it is the last node");
    if (op.input.empty() && !op.pattern && !op.lstm && merges(g, i)) {
      op.inputs = n.inputs;
      op.input = n.inputs[0];
    } else if (op.input.empty()) {  // a node: the first input, or for Add, Mul and Div the one that is not a constant
      const int data = data_input(g, i, last);
      if (data < 0) g.fail_node(i, "has no data input");
      op.input = n.inputs[static_cast<std::size_t>(data)];
    }
    if (op.inputs.empty()) op.inputs = {op.input};
    for (const std::string& v : op.inputs) {
      if (!available.count(v))
        g.fail_node(i, "reads '", v, "', which ",
                    seen.count(v) ? "lies inside a group of nodes lrplab imports as one layer"
                                  : "neither the graph input nor an earlier node provides");
      unread.erase(v);
    }
    if (op.output.empty()) g.check_single_output(i);  // "has no output"
    if (!op.pattern && !op.lstm && (n.is("Softmax") || n.is("LogSoftmax"))) softmax = i;
    seen.insert(op.internal.begin(), op.internal.end());
    seen.insert(op.output);
    available.insert(op.output);
    unread[op.output] = i;
    last = op.output;
  }
  LRP_CHECK(g.outputs.size() == 1, g.where(), ": the graph has ", g.outputs.size(),
            " outputs; lrplab imports models with one output (the logits)");
  LRP_CHECK(g.outputs[0] == last, g.where(), ": the graph output '", g.outputs[0],
            "' is not the output of the last node ('", last, "')");
  unread.erase(last);
  if (!unread.empty())
    g.fail_node(unread.begin()->second, "computes '", unread.begin()->first,
                "', which no later node reads and which is not the graph output; lrplab imports models with one "
                "output");
}

namespace {

InputNormalization finish_normalization(const Graph& g, const FoldedNormalization& norm) {
  InputNormalization normalization;
  if (norm.nodes.empty()) {
    normalization.origin = "identity: the ONNX graph does not normalize its input";
    return normalization;
  }
  std::string nodes;
  for (const int k : norm.nodes) nodes += (nodes.empty() ? "" : ", ") + g.node_ref(k);
  for (std::size_t k = 0; k < norm.std.size(); ++k)
    LRP_CHECK(norm.std[k] > 0 && std::isfinite(norm.std[k]) && std::isfinite(norm.mean[k]), g.where(), ": ", nodes,
              ": the input of channel ", k, " is multiplied by ", 1.0 / norm.std[k],
              ", which is not (x - mean) / std with std > 0; lrplab folds only a normalization with a positive scale");
  normalization.mean = norm.mean;
  normalization.std = norm.std;
  normalization.origin = "folded from the ONNX graph: " + nodes;
  return normalization;
}

// The passes, in order; `steps` receives the layers' weights.
ModelSpec import_spec(const std::string& path, const onnx::ModelProto& proto, std::vector<Step>& steps) {
  Graph g = read_graph(path, proto);
  decode_constant_nodes(g);
  refuse_unsupported_structures(g);
  fold_constants(g);
  std::vector<Op> ops = data_ops(g);
  const FoldedNormalization norm = fold_input_normalization(g, ops);
  check_data_nodes(g, ops);
  fuse_lstm(g, ops);
  fuse_activations(g, ops);
  fuse_matmul_add(g, ops);
  fuse_pads(g, ops);
  check_graph(g, ops, norm);
  int softmax = -1;
  steps = emit_layers(g, ops, norm.output, softmax);
  LRP_CHECK(!steps.empty(), g.where(), ": the graph computes nothing lrplab imports as a layer");
  if (softmax >= 0)
    logger()->info("ONNX model '{}': dropped the trailing {} at node {} '{}': lrplab explains the logits", path,
                   g.node(softmax).op, softmax, g.node(softmax).name);

  ModelSpec spec;
  const std::string stem = std::filesystem::path(path).stem().string();
  spec.name = stem.empty() ? "onnx_model" : stem;
  spec.input_shape = g.input_shape;
  spec.normalization = finish_normalization(g, norm);
  for (Step& s : steps) {
    s.node_name = g.node(s.node).name;
    spec.layers.push_back(s.spec);
  }
  return spec;
}

Model import_file(const std::string& path, const Registry& registry, const Limits& limits) {
  const std::string where = "ONNX model '" + path + "'";
  // A regular file (a FIFO would block), at most protobuf's 2 GiB, and parsing needs about three
  // times its size in memory.
  const std::string bytes = read_input_file(path, "ONNX model", std::min(kMaxFileBytes, limits.memory / 3));
  LRP_CHECK(!bytes.empty(), where, ": the file is empty");

  onnx::ModelProto proto;
  LRP_CHECK(proto.ParseFromString(bytes), where,
            ": not a valid ONNX file (the protobuf ModelProto does not parse: truncated or corrupt?)");
  LRP_CHECK(proto.has_graph() && proto.ir_version() > 0 && proto.opset_import_size() > 0, where,
            ": not a valid ONNX file (",
            !proto.has_graph()        ? "no graph"
            : proto.ir_version() <= 0 ? "no IR version"
                                      : "no opset",
            ": truncated or corrupt?)");

  std::vector<Step> steps;
  const ModelSpec spec = import_spec(path, proto, steps);

  Model model = [&] {
    try {
      return build_model(spec, registry, limits);
    } catch (const Error& e) {
      LRP_FAIL(where, ": the imported layers do not form a valid lrplab network: ", e.what());
    }
  }();
  LRP_CHECK(model.network.size() == static_cast<Index>(steps.size()), where, ": build_model made ",
            model.network.size(), " layers from ", steps.size(), " layer descriptions");
  for (std::size_t k = 0; k < steps.size(); ++k) {
    Step& s = steps[k];
    Layer& layer = model.network.layer(static_cast<Index>(k));
    const std::string node = "node " + std::to_string(s.node) + " '" + s.node_name + "'";
    try {
      if (s.weight.size() > 0 || s.bias.size() > 0) layer.set_params(Params{std::move(s.weight), std::move(s.bias)});
      if (s.spec.kind == "batchnorm")
        dynamic_cast<BatchNorm&>(layer).set_statistics(std::move(s.mean), std::move(s.var));
    } catch (const Error& e) {
      LRP_FAIL(where, ": ", node, " (layer '", layer.name(), "', ", layer.kind(), "): ", e.what());
    }
  }
  model.provenance.source = "imported from " + path;
  model.provenance.lrplab_version = LRP_VERSION;
  model.provenance.created = utc_now();
  logger()->debug("ONNX model '{}': imported {} layers, input shape {}", path, model.network.size(),
                  to_string(model.network.input_shape()));
  return model;
}

}  // namespace
}  // namespace onnx_import

std::string onnx_supported_ops() { return onnx_import::supported_ops_text(); }

std::vector<std::string> onnx_op_types() {
  using namespace onnx_import;
  std::set<std::string> ops;
  for (const auto& list : {emitted_op_types(), fold_ops(), fill_ops(), normalization_op_types(), pattern_op_types(),
                           lstm_op_types()})
    ops.insert(list.begin(), list.end());
  return {ops.begin(), ops.end()};
}

Model import_onnx(const std::string& path, const Registry& registry, const Limits& limits) {
  try {
    return onnx_import::import_file(path, registry, limits);
  } catch (const Error&) {
    throw;
  } catch (const std::bad_alloc&) {
    LRP_FAIL("ONNX model '", path, "': not enough memory to import it (std::bad_alloc)");
  } catch (const std::exception& e) {  // never an "internal error": whatever went wrong, it was this file
    LRP_FAIL("ONNX model '", path, "': could not be imported (", e.what(), ")");
  }
}

}  // namespace lrp
