#include "lrp/nn/network.hpp"

#include "lrp/core/error.hpp"

#include <algorithm>
#include <cmath>
#include <sstream>

#ifdef _OPENMP
#include <omp.h>
#endif

namespace lrp {

Network::Network(Shape input_shape) : input_shape_(std::move(input_shape)) {
  LRP_CHECK(!input_shape_.empty() && numel(input_shape_) > 0, "network: the input shape ", to_string(input_shape_),
            " is empty");
  for (Index d : input_shape_) LRP_CHECK(d > 0, "network: input shape ", to_string(input_shape_), " has a dimension ≤ 0");
}

Layer& Network::add(LayerPtr layer, std::string name) {
  LRP_CHECK(layer != nullptr, "network: cannot add a null layer");
  if (name.empty()) name = layer->kind() + std::to_string(layers_.size());
  for (const LayerPtr& l : layers_)
    LRP_CHECK(l->name() != name, "network: a layer called '", name, "' already exists (layer names must be unique)");
  const Shape in = layers_.empty() ? input_shape_ : layers_.back()->output_shape();
  layer->configure(in, name);
  layers_.push_back(std::move(layer));
  return *layers_.back();
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
  for (size_t i = 0; i < layers_.size(); ++i) pass.activations[i + 1].resize(n, numel(layers_[i]->output_shape()));
  const Index block = cache_block_rows();
  parallel_chunks(n, threads, [&](int, Index begin, Index end) {
    Workspace& ws = thread_workspace();
    for (Index b = begin; b < end; b += block) {
      const Index rows = std::min(block, end - b);
      const LengthsScope lengths(ws, row_lengths(pass.lengths, b, rows));
      for (size_t i = 0; i < layers_.size(); ++i) {
        const Matrix& in = pass.activations[i];
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
    s << "  " << i << "  " << l.name() << "  " << l.describe() << "  -> " << to_string(l.output_shape()) << '\n';
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
