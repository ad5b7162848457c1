#include "lrp/nn/network.hpp"

#include "lrp/core/error.hpp"

#include <algorithm>
#include <cmath>
#include <sstream>

#ifdef _OPENMP
#include <omp.h>
#endif

namespace lrp {

Network::Network(Shape input_shape) : input_shape_(std::move(input_shape)), consumers_(1) {
  LRP_CHECK(!input_shape_.empty() && numel(input_shape_) > 0, "network: the input shape ", to_string(input_shape_),
            " is empty");
  for (Index d : input_shape_) LRP_CHECK(d > 0, "network: input shape ", to_string(input_shape_), " has a dimension ≤ 0");
}

namespace {

constexpr const char* kInputName = "input";

}  // namespace

Layer& Network::add(LayerPtr layer, std::string name, const std::vector<std::string>& inputs) {
  LRP_CHECK(layer != nullptr, "network: cannot add a null layer");
  if (name.empty()) name = layer->kind() + std::to_string(layers_.size());
  LRP_CHECK(name != kInputName, "network: a layer may not be called 'input' (the name stands for the network's input)");
  for (const LayerPtr& l : layers_)
    LRP_CHECK(l->name() != name, "network: a layer called '", name, "' already exists (layer names must be unique)");
  const std::string who = "network: layer '" + name + "' (" + layer->kind() + ")";
  std::vector<Index> values;
  if (inputs.empty()) values.push_back(size());  // the previous layer's output, or the input
  for (const std::string& in : inputs) {
    const Index v = value_of(in, name, layer->kind());
    LRP_CHECK(std::find(values.begin(), values.end(), v) == values.end(), who, " reads '", in, "' twice");
    values.push_back(v);
  }
  std::vector<Shape> shapes;
  for (const Index v : values) shapes.push_back(value_shape(v));
  Shape stacked;
  try {
    stacked = layer->stack_inputs(shapes);
  } catch (const Error& e) {
    throw Error(who + ": " + e.what());
  }
  layer->configure(stacked, name);
  for (const Index v : values) consumers_[static_cast<size_t>(v)].push_back(size());
  chain_ = chain_ && values.size() == 1 && values[0] == size();
  inputs_.push_back(std::move(values));
  consumers_.emplace_back();
  layers_.push_back(std::move(layer));
  return *layers_.back();
}

const std::vector<Index>& Network::inputs_of(Index layer) const {
  LRP_CHECK(layer >= 0 && layer < size(), "network: no layer with index ", layer, " (the network has ", size(), " layers)");
  return inputs_[static_cast<size_t>(layer)];
}

const std::vector<Index>& Network::consumers_of(Index value) const {
  LRP_CHECK(value >= 0 && value <= size(), "network: no value with index ", value, " (the network has ", size() + 1,
            " values)");
  return consumers_[static_cast<size_t>(value)];
}

Index Network::value_of(const std::string& name, const std::string& reader, const std::string& kind) const {
  if (name == kInputName) return 0;
  for (Index l = 0; l < size(); ++l)
    if (layers_[static_cast<size_t>(l)]->name() == name) return l + 1;
  LRP_FAIL("network: layer '", reader, "' (", kind, ") reads '", name, "', which is not an earlier layer",
           name == reader ? " (a layer cannot read its own output)" : "", " nor 'input'");
}

const Shape& Network::value_shape(Index value) const {
  return value == 0 ? input_shape_ : layer(value - 1).output_shape();
}

void Network::stack_rows(Index l, const std::vector<Matrix>& values, Matrix& stacked, Index begin, Index rows) const {
  Index at = 0;
  for (const Index v : inputs_of(l)) {
    const Matrix& value = values[static_cast<size_t>(v)];
    stacked.block(begin, at, rows, value.cols()) = value.middleRows(begin, rows);
    at += value.cols();
  }
}

void Network::check_pass(const ForwardPass& pass, const std::string& who) const {
  const auto layers = static_cast<size_t>(size());
  LRP_CHECK(pass.activations.size() == layers + 1 && pass.reads.size() == layers && pass.stacked.size() == layers, who,
            ": the forward pass does not belong to this network (", pass.activations.size(), " values for ", size(),
            " layers)");
  for (size_t l = 0; l < layers; ++l) {
    const std::vector<Index>& in = inputs_[l];
    const Index reads = in.size() == 1 ? in[0] : -1;
    LRP_CHECK(pass.reads[l] == reads && pass.layer_input(static_cast<Index>(l)).cols() == numel(layers_[l]->input_shape()) &&
                  pass.activations[l + 1].cols() == numel(layers_[l]->output_shape()),
              who, ": the forward pass does not belong to this network (layer ", l, " '", layers_[l]->name(),
              "' reads other values or of other sizes)");
  }
}

void Network::check_outputs_used(const std::string& who) const {
  for (Index l = 0; l + 1 < size(); ++l)
    LRP_CHECK(!consumers_[static_cast<size_t>(l + 1)].empty(), who, ": the output of layer ", l, " '",
              layers_[static_cast<size_t>(l)]->name(), "' is read by no layer; a network has one output, its last ",
              "layer's (remove the layer or name it in a later layer's inputs)");
}

void Network::replace(Index i, LayerPtr layer) {
  LRP_CHECK(i >= 0 && i < size(), "network: no layer with index ", i, " (the network has ", size(), " layers)");
  const Layer& old = *layers_[static_cast<size_t>(i)];
  layer->configure(old.input_shape(), old.name());
  LRP_CHECK(layer->output_shape() == old.output_shape(), "network: replacing layer '", old.name(),
            "' changes its output shape from ", to_string(old.output_shape()), " to ", to_string(layer->output_shape()));
  layers_[static_cast<size_t>(i)] = std::move(layer);
}

Layer& Network::layer(Index i) {
  LRP_CHECK(i >= 0 && i < size(), "network: no layer with index ", i, " (the network has ", size(), " layers)");
  return *layers_[static_cast<size_t>(i)];
}

const Layer& Network::layer(Index i) const {
  LRP_CHECK(i >= 0 && i < size(), "network: no layer with index ", i, " (the network has ", size(), " layers)");
  return *layers_[static_cast<size_t>(i)];
}

Index Network::index_of(const std::string& name) const {
  std::string known;
  for (Index i = 0; i < size(); ++i) {
    if (layers_[static_cast<size_t>(i)]->name() == name) return i;
    known += (i ? ", " : "") + layers_[static_cast<size_t>(i)]->name();
  }
  LRP_FAIL("network: no layer called '", name, "'; the layers are: ", known);
}

const Shape& Network::output_shape() const { return layers_.empty() ? input_shape_ : layers_.back()->output_shape(); }

ForwardPass repeat_rows(const ForwardPass& pass, Index times) {
  ForwardPass out;
  out.reads = pass.reads;
  for (const Matrix& a : pass.activations) out.activations.push_back(repeat_rows(a, times));
  for (const Matrix& s : pass.stacked) out.stacked.push_back(s.size() == 0 ? Matrix() : repeat_rows(s, times));
  for (const Index length : pass.lengths) out.lengths.insert(out.lengths.end(), static_cast<std::size_t>(times), length);
  return out;
}

ForwardPass Network::forward(const Tensor& x, int threads) const {
  ForwardPass pass;
  forward(x, pass, threads);
  return pass;
}

void Network::forward(const Tensor& x, ForwardPass& pass, int threads) const {
  LRP_CHECK(x.shape == input_shape_, "network: input samples have shape ", to_string(x.shape), ", expected ",
            to_string(input_shape_));
  LRP_CHECK(x.data.cols() == numel(input_shape_), "network: input has ", x.data.cols(),
            " features per sample, expected ", numel(input_shape_));
  if (!all_finite(x.data)) {
    for (Index r = 0; r < x.data.rows(); ++r)
      for (Index c = 0; c < x.data.cols(); ++c)
        LRP_CHECK(std::isfinite(x.data(r, c)), "network: the input contains NaN or Inf (sample ", r, ", feature ", c,
                  " is ", x.data(r, c), ")");
  }
  check_lengths(x.lengths, x.batch(), "network");
  // Input checks that need sample indices of the whole batch (an embedding's token ids).
  if (!layers_.empty()) layers_.front()->check_input(x.data);
  const Index n = x.batch();
  pass.lengths = x.lengths;
  pass.activations.resize(layers_.size() + 1);
  pass.activations[0] = x.data;
  pass.reads.resize(layers_.size());
  pass.stacked.resize(layers_.size());
  for (size_t i = 0; i < layers_.size(); ++i) {
    pass.activations[i + 1].resize(n, numel(layers_[i]->output_shape()));
    const std::vector<Index>& in = inputs_[i];
    pass.reads[i] = in.size() == 1 ? in[0] : -1;
    if (in.size() == 1)
      pass.stacked[i].resize(0, 0);
    else
      pass.stacked[i].resize(n, numel(layers_[i]->input_shape()));
  }
  const Index block = cache_block_rows();
  parallel_chunks(n, threads, [&](int, Index begin, Index end) {
    Workspace& ws = thread_workspace();
    for (Index b = begin; b < end; b += block) {
      const Index rows = std::min(block, end - b);
      const LengthsScope lengths(ws, row_lengths(pass.lengths, b, rows));
      for (size_t i = 0; i < layers_.size(); ++i) {
        if (pass.reads[i] < 0) stack_rows(static_cast<Index>(i), pass.activations, pass.stacked[i], b, rows);
        const Matrix& in = pass.layer_input(static_cast<Index>(i));
        Matrix& out = pass.activations[i + 1];
        layers_[i]->forward(in.middleRows(b, rows), layers_[i]->params(), out.middleRows(b, rows), ws);
      }
    }
  });
}

bool Network::uses_lengths() const {
  return std::any_of(layers_.begin(), layers_.end(), [](const LayerPtr& l) { return l->traits().sequence; });
}

void Network::check_lengths(std::span<const Index> lengths, Index rows, const std::string& who) const {
  if (lengths.empty()) return;
  LRP_CHECK(uses_lengths(), who, ": the samples have sequence lengths, but no layer of the network honours them (",
            "only sequence layers such as lstm do), so their padding would change the results; give no lengths");
  LRP_CHECK(static_cast<Index>(lengths.size()) == rows, who, ": ", lengths.size(), " sequence lengths for ", rows,
            " samples; expected one per sample (or none)");
  const Index steps = input_shape_.front();
  for (size_t n = 0; n < lengths.size(); ++n)
    LRP_CHECK(lengths[n] >= 1 && lengths[n] <= steps, who, ": sample ", n, " has length ", lengths[n],
              " but the input has T = ", steps, " steps (expected a length in [1, ", steps, "])");
}

Index Network::cache_block_rows() const {
  constexpr Index kBlockValues = 64 * 1024;
  Index widest = numel(input_shape_);
  for (const LayerPtr& l : layers_) widest = std::max(widest, numel(l->output_shape()));
  return std::max<Index>(1, kBlockValues / widest);
}

std::string Network::summary() const {
  std::ostringstream s;
  s << "input " << to_string(input_shape_) << '\n';
  for (Index i = 0; i < size(); ++i) {
    const Layer& l = layer(i);
    s << "  " << i << "  " << l.name() << "  " << l.describe() << "  -> " << to_string(l.output_shape());
    if (!chain_) {
      s << "  <- ";
      const std::vector<Index>& in = inputs_[static_cast<size_t>(i)];
      for (size_t k = 0; k < in.size(); ++k)
        s << (k ? ", " : "") << (in[k] == 0 ? std::string(kInputName) : layers_[static_cast<size_t>(in[k] - 1)]->name());
    }
    s << '\n';
  }
  return s.str();
}

void parallel_chunks(Index n, int parts, const std::function<void(int, Index, Index)>& fn) {
  parts = static_cast<int>(std::max<Index>(1, std::min<Index>(parts, n)));
  if (parts <= 1) {
    fn(0, 0, n);
    return;
  }
  std::exception_ptr failure;
#ifdef _OPENMP
#pragma omp parallel for num_threads(parts) schedule(static, 1)
#endif
  for (int p = 0; p < parts; ++p) {
    try {
      fn(p, n * p / parts, n * (p + 1) / parts);
    } catch (...) {
#ifdef _OPENMP
#pragma omp critical(lrp_parallel_failure)
#endif
      if (!failure) failure = std::current_exception();
    }
  }
  if (failure) std::rethrow_exception(failure);
}

}  // namespace lrp
