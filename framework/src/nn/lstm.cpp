// The LSTM layer handler (PyTorch's nn.LSTM, docs/rules.md, LSTM rules forward convention): packing of the
// parameters, the batched forward pass, and backpropagation through time for vjp and param_vjp.
//
// Every buffer is time-major over the rows of the call: row t·N + n holds sample n at step t, so
// that one step of the whole batch is a contiguous [N, ·] block, the input projections of a
// (layer, direction) are one [T·N, in_k] × [in_k, 4H] GEMM, and the recurrent-weight gradient is
// one GEMM over the rows shifted by one step.
//
// Per-sample lengths (Workspace::lengths()): a row of length L has real steps 0 … L−1 and padding
// steps L … T−1. At a padding step every gate of that row is set to 0 after the batched step is
// computed (one row of the [N, 4H] gate block; no per-sample GEMMs), so the row's cell and hidden
// state there are exactly 0: the reverse direction then starts from a zero state at step L−1, as
// if the sequence had L steps, and the forward direction's final state is its h after step L−1,
// copied out at that step (in backward, the output gradient enters there). The recorded gates and
// cells of padding steps being 0, the unchanged backward recursion gives those steps exactly zero
// ∂pre (so zero input gradient and no parameter-gradient contribution) and carries zero ∂h, ∂c
// across them.
#include "lrp/nn/lstm.hpp"
#include "lrp/core/slots.hpp"

#include "lrp/core/error.hpp"
#include "lrp/core/random.hpp"
#include "lrp/core/scratch_carver.hpp"

#include <algorithm>
#include <cmath>
#include <span>
#include <utility>

namespace lrp {
namespace {

std::string where(const Layer& layer) { return "layer '" + layer.name() + "' (" + layer.kind() + ")"; }

using detail::Carver;
Index padded(Index n) { return detail::carve_padded(n); }

template <typename Block>
void sigmoid_in_place(Block&& b) {
  b.array() = Scalar(1) / (Scalar(1) + (-b.array()).exp());
}

template <typename Block>
void tanh_in_place(Block&& b) {
  b.array() = b.array().tanh();
}

}  // namespace

// ---------------------------------------------------------------- sizes and packing

Lstm::Lstm(Index input_size, Index hidden_size, Index num_layers, bool bidirectional, bool bias)
    : in_(input_size), hidden_(hidden_size), layers_(num_layers), dirs_(bidirectional ? 2 : 1), bias_(bias) {
  LRP_CHECK(in_ >= 1, "lstm: the input size (features per time step) must be ≥ 1, got ", in_);
  LRP_CHECK(hidden_ >= 1, "lstm: the hidden size must be ≥ 1, got ", hidden_);
  LRP_CHECK(layers_ >= 1, "lstm: num_layers must be ≥ 1, got ", layers_);
  params_.weight = Matrix::Zero(1, weight_size());
  if (bias_) params_.bias = Vector::Zero(bias_size());
}

std::string Lstm::describe() const {
  return detail::concat("lstm(", in_, " -> ", hidden_, layers_ > 1 ? detail::concat(", ", layers_, " layers") : "",
                        dirs_ == 2 ? ", bidirectional" : "", bias_ ? "" : ", no bias", ")");
}

Index Lstm::weight_size() const { return weight_offset(layers_, 0); }

Index Lstm::weight_offset(Index layer, Index direction) const {
  const Index gates = 4 * hidden_;
  Index offset = 0;
  for (Index k = 0; k < layer; ++k) offset += dirs_ * gates * (layer_input_size(k) + hidden_);
  if (layer < layers_) offset += direction * gates * (layer_input_size(layer) + hidden_);
  return offset;
}

std::vector<LstmParamBlock> Lstm::parameter_blocks() const {
  const Index gates = 4 * hidden_;
  std::vector<LstmParamBlock> blocks;
  for (Index k = 0; k < layers_; ++k) {
    for (Index d = 0; d < dirs_; ++d) {
      const std::string suffix = "_l" + std::to_string(k) + (d == 1 ? "_reverse" : "");
      const Index w = weight_offset(k, d), in_k = layer_input_size(k);
      blocks.push_back({"weight_ih" + suffix, false, w, {gates, in_k}, k, d});
      blocks.push_back({"weight_hh" + suffix, false, w + gates * in_k, {gates, hidden_}, k, d});
      if (!bias_) continue;
      const Index b = (k * dirs_ + d) * 2 * gates;
      blocks.push_back({"bias_ih" + suffix, true, b, {gates}, k, d});
      blocks.push_back({"bias_hh" + suffix, true, b + gates, {gates}, k, d});
    }
  }
  return blocks;
}

void Lstm::check_sizes(const Params& p, const char* what) const {
  LRP_CHECK(p.weight.rows() == 1 && p.weight.cols() == weight_size(), where(*this), ": ", what,
            " weight has shape [", p.weight.rows(), ", ", p.weight.cols(), "], expected [1, ", weight_size(),
            "] (every W_ih and W_hh packed into one row; see Lstm in lstm.hpp)");
  LRP_CHECK(p.bias.size() == 0 || p.bias.size() == bias_size(), where(*this), ": ", what, " bias has ",
            p.bias.size(), " entries, expected ", bias_size(), bias_ ? " (b_ih and b_hh of every cell) or none" : "");
}

LstmCellView Lstm::cell(const Params& p, Index layer, Index direction) const {
  check_sizes(p, "the");
  LRP_CHECK(layer >= 0 && layer < layers_ && direction >= 0 && direction < dirs_, where(*this), ": no cell (layer ",
            layer, ", direction ", direction, "); it has ", layers_, " layers and ", dirs_, " directions");
  const Index gates = 4 * hidden_, in_k = layer_input_size(layer), w = weight_offset(layer, direction);
  const Scalar* weight = p.weight.data() + w;
  const Scalar* bias = p.has_bias() ? p.bias.data() + (layer * dirs_ + direction) * 2 * gates : nullptr;
  const Index bias_len = p.has_bias() ? gates : 0;
  return {ConstMatrixMap(weight, gates, in_k), ConstMatrixMap(weight + gates * in_k, gates, hidden_),
          Eigen::Map<const Vector>(bias, bias_len), Eigen::Map<const Vector>(bias ? bias + gates : nullptr, bias_len)};
}

LstmCellMutableView Lstm::cell(Params& p, Index layer, Index direction) const {
  const LstmCellView v = cell(static_cast<const Params&>(p), layer, direction);
  auto mut = [](const Scalar* q) { return const_cast<Scalar*>(q); };  // views into p, which is mutable here
  return {MatrixMap(mut(v.w_ih.data()), v.w_ih.rows(), v.w_ih.cols()),
          MatrixMap(mut(v.w_hh.data()), v.w_hh.rows(), v.w_hh.cols()),
          Eigen::Map<Vector>(mut(v.b_ih.data()), v.b_ih.size()), Eigen::Map<Vector>(mut(v.b_hh.data()), v.b_hh.size())};
}

Shape Lstm::setup(const Shape& in) {
  LRP_CHECK(in.size() == 2 && in[1] == in_, where(*this), ": expected an input of shape [T, ", in_,
            "] (time steps, features per step), got ", to_string(in),
            in.size() == 1 ? " (a sequence of one step is [1, D])" : "");
  return {hidden_ * dirs_};
}

void Lstm::check_params(const Params& p) const {
  LRP_CHECK(bias_ || p.bias.size() == 0, where(*this), ": the layer was declared without bias, but a bias of ",
            p.bias.size(), " entries was given");
  check_sizes(p, "the");
  LRP_CHECK(!bias_ || p.bias.size() == bias_size(), where(*this), ": bias has ", p.bias.size(), " entries, expected ",
            bias_size(), " (b_ih and b_hh of every cell)");
}

// ---------------------------------------------------------------- scratch memory

// Pointers into one workspace slot. `record` keeps every (layer, direction)'s gates (after their
// activation functions) and cell states and every layer's output sequence, for backward(); without
// it one gates buffer and two output sequences (ping-pong between layers) suffice.
struct Lstm::Scratch {
  Index rows = 0;  // N
  bool record = false;
  std::span<const Index> lengths;  // per row, or empty: every row has T steps
  Index min_length = 0;            // the shortest length (T without lengths)
  Scalar* input = nullptr;    // [T·N, D]: the layer input, time-major
  Scalar* gates = nullptr;    // [T·N, 4H] per (k, d) (record) or one
  Scalar* cells = nullptr;    // [T·N, H] per (k, d) (record only)
  Scalar* outputs = nullptr;  // [T·N, H·dirs] per layer (record) or two
  Index gates_stride = 0, cells_stride = 0, outputs_stride = 0;
  Scalar* h = nullptr;         // [N, H] state
  Scalar* c = nullptr;         // [N, H] state
  Scalar* tanh_c = nullptr;    // [N, H]
  Scalar* bias_sum = nullptr;  // [4H]
  // backward only
  Scalar* d_gates = nullptr;           // [T·N, 4H]: ∂/∂pre of one (k, d)
  Scalar* d_sequence[2] = {nullptr, nullptr};  // [T·N, max(D, H·dirs)]: ∂/∂(input of layer k), ping-pong
  Scalar* dh = nullptr;                // [N, H]
  Scalar* dc = nullptr;                // [N, H]
};

Lstm::Scratch Lstm::make_scratch(Workspace& ws, Index n, bool record, bool input_grad) const {
  const Index rows = input_shape_[0] * n, hid = hidden_, gates = 4 * hid, width = hid * dirs_, cells = layers_ * dirs_;
  Scratch s;
  auto carve = [&](Carver& m) {
    s.rows = n;
    s.record = record;
    s.input = m.take(rows * in_);
    s.gates_stride = padded(rows * gates);
    s.gates = m.take((record ? cells : 1) * s.gates_stride);
    s.cells_stride = padded(rows * hid);
    if (record) s.cells = m.take(cells * s.cells_stride);
    s.outputs_stride = padded(rows * width);
    const Index sequences = record ? layers_ : (layers_ > 1 ? 2 : 0);
    if (sequences > 0) s.outputs = m.take(sequences * s.outputs_stride);
    s.h = m.take(n * hid);
    s.c = m.take(n * hid);
    s.tanh_c = m.take(n * hid);
    s.bias_sum = m.take(gates);
    if (!record) return;
    s.d_gates = m.take(rows * gates);
    // The input gradient of layer 0 has D columns, those of the layers above H·dirs.
    const Index d_cols = input_grad ? std::max(in_, width) : width;
    s.d_sequence[0] = m.take(rows * d_cols);
    s.d_sequence[1] = m.take(rows * d_cols);
    s.dh = m.take(n * hid);
    s.dc = m.take(n * hid);
  };
  Carver count(nullptr);
  carve(count);
  Carver pieces(ws.get(slots::kLstm, 0, 1, count.used()).data());
  carve(pieces);
  const Index steps = input_shape_[0];
  s.lengths = ws.lengths();
  s.min_length = steps;
  if (!s.lengths.empty()) {
    LRP_CHECK(static_cast<Index>(s.lengths.size()) == n, where(*this), ": ", s.lengths.size(),
              " sequence lengths for a block of ", n, " rows; expected one per row (or none)");
    for (size_t r = 0; r < s.lengths.size(); ++r) {
      LRP_CHECK(s.lengths[r] >= 1 && s.lengths[r] <= steps, where(*this), ": row ", r, " of the block has length ",
                s.lengths[r], " but the input has T = ", steps, " steps (expected a length in [1, ", steps, "])");
      s.min_length = std::min(s.min_length, s.lengths[r]);
    }
  }
  return s;
}

// ---------------------------------------------------------------- forward

void Lstm::run_forward(const ConstMatrixRef& x, const Params& p, Scratch& s, MatrixRef* y) const {
  const bool record = s.record;
  const Index n = s.rows, steps = input_shape_[0], d_in = in_, hid = hidden_, gates = 4 * hid, width = hid * dirs_,
              rows = steps * n;
  MatrixMap input(s.input, rows, d_in);
  for (Index t = 0; t < steps; ++t) input.middleRows(t * n, n) = x.middleCols(t * d_in, d_in);

  MatrixMap h(s.h, n, hid), c(s.c, n, hid), tanh_c(s.tanh_c, n, hid);
  Eigen::Map<RowVector> bias_sum(s.bias_sum, gates);
  for (Index k = 0; k < layers_; ++k) {
    const bool last = k == layers_ - 1;
    const Index in_k = layer_input_size(k);
    const ConstMatrixMap layer_input =
        k == 0 ? ConstMatrixMap(s.input, rows, d_in)
               : ConstMatrixMap(s.outputs + (record ? k - 1 : (k - 1) % 2) * s.outputs_stride, rows, in_k);
    // The output sequence is needed by the next layer, and by backward() for the recurrent gradient.
    const bool keep_sequence = record || !last;
    MatrixMap sequence(keep_sequence ? s.outputs + (record ? k : k % 2) * s.outputs_stride : s.h,
                       keep_sequence ? rows : 0, keep_sequence ? width : 0);
    for (Index d = 0; d < dirs_; ++d) {
      const LstmCellView w = cell(p, k, d);
      MatrixMap pre(s.gates + (record ? k * dirs_ + d : 0) * s.gates_stride, rows, gates);
      pre.noalias() = layer_input * w.w_ih.transpose();
      if (p.has_bias()) {
        bias_sum = (w.b_ih + w.b_hh).transpose();
        pre.rowwise() += bias_sum;
      }
      for (Index step = 0; step < steps; ++step) {
        const Index t = d == 0 ? step : steps - 1 - step;
        auto a = pre.middleRows(t * n, n);
        if (step > 0) a.noalias() += h * w.w_hh.transpose();  // h_{−1} = 0
        sigmoid_in_place(a.leftCols(2 * hid));                 // i, f
        tanh_in_place(a.middleCols(2 * hid, hid));             // g
        sigmoid_in_place(a.rightCols(hid));                    // o
        if (t >= s.min_length)  // some rows are padding at t: zero gates give them c = h = 0
          for (Index r = 0; r < n; ++r)
            if (t >= s.lengths[static_cast<size_t>(r)]) a.row(r).setZero();
        const auto i = a.leftCols(hid).array(), f = a.middleCols(hid, hid).array(),
                   g = a.middleCols(2 * hid, hid).array(), o = a.rightCols(hid).array();
        if (step == 0)
          c.array() = i * g;  // c_{−1} = 0
        else
          c.array() = f * c.array() + i * g;
        tanh_c.array() = c.array().tanh();
        h.array() = o * tanh_c.array();
        if (record) MatrixMap(s.cells + (k * dirs_ + d) * s.cells_stride, rows, hid).middleRows(t * n, n) = c;
        if (keep_sequence) sequence.block(t * n, d * hid, n, hid) = h;
        // The forward direction's output is its state after each row's last real step.
        if (d == 0 && last && y != nullptr && !s.lengths.empty() && t + 1 >= s.min_length)
          for (Index r = 0; r < n; ++r)
            if (t + 1 == s.lengths[static_cast<size_t>(r)]) y->block(r, 0, 1, hid) = h.row(r);
      }
      if (last && y != nullptr && (d == 1 || s.lengths.empty())) y->middleCols(d * hid, hid) = h;
    }
  }
}

void Lstm::forward(const ConstMatrixRef& x, const Params& p, MatrixRef y, Workspace& ws) const {
  check_sizes(p, "forward:");
  const Index n = x.rows(), steps = input_shape_[0];
  LRP_CHECK(x.cols() == steps * in_ && y.rows() == n && y.cols() == hidden_ * dirs_, where(*this),
            ": forward of an input with ", x.cols(), " features per sample into ", y.cols(), ", expected ",
            steps * in_, " into ", hidden_ * dirs_);
  if (n == 0) return;
  Scratch s = make_scratch(ws, n, /*record=*/false, /*input_grad=*/false);
  run_forward(x, p, s, &y);
}

// ---------------------------------------------------------------- backpropagation through time

void Lstm::backward(const Params& p, const ConstMatrixRef& g_out, Scratch& s, MatrixRef* g_in, bool accumulate,
                    Params* grads) const {
  const Index n = s.rows, steps = input_shape_[0], hid = hidden_, gates = 4 * hid, width = hid * dirs_,
              rows = steps * n;
  MatrixMap d_pre(s.d_gates, rows, gates), dh(s.dh, n, hid), dc(s.dc, n, hid), tanh_c(s.tanh_c, n, hid);
  Eigen::Map<Vector> bias_grad(s.bias_sum, gates);
  // ∂/∂(output sequence of layer k) is read from d_above; ∂/∂(input of layer k) is written to d_below.
  Scalar* d_above = s.d_sequence[0];
  Scalar* d_below = s.d_sequence[1];
  for (Index k = layers_ - 1; k >= 0; --k) {
    const bool last = k == layers_ - 1;
    const Index in_k = layer_input_size(k);
    const bool need_input_grad = k > 0 || g_in != nullptr;
    const ConstMatrixMap layer_input(k == 0 ? s.input : s.outputs + (k - 1) * s.outputs_stride, rows, in_k);
    const ConstMatrixMap sequence(s.outputs + k * s.outputs_stride, rows, width);
    const ConstMatrixMap d_sequence(d_above, last ? 0 : rows, last ? 0 : width);
    MatrixMap d_input(d_below, rows, in_k);
    for (Index d = 0; d < dirs_; ++d) {
      const LstmCellView w = cell(p, k, d);
      const ConstMatrixMap act(s.gates + (k * dirs_ + d) * s.gates_stride, rows, gates);
      const ConstMatrixMap cells(s.cells + (k * dirs_ + d) * s.cells_stride, rows, hid);
      if (last)
        dh = g_out.middleCols(d * hid, hid);  // only the final state is an output
      else
        dh.setZero();
      dc.setZero();
      for (Index step = steps - 1; step >= 0; --step) {
        const Index t = d == 0 ? step : steps - 1 - step;
        const Index t_prev = d == 0 ? t - 1 : t + 1;  // the step read before t (valid when step > 0)
        // A shorter row's output gradient enters at its last real step (dh is 0 there: the padding
        // steps after it zeroed it).
        if (d == 0 && last && !s.lengths.empty() && t + 1 >= s.min_length && t + 1 < steps)
          for (Index r = 0; r < n; ++r)
            if (t + 1 == s.lengths[static_cast<size_t>(r)]) dh.row(r) = g_out.block(r, 0, 1, hid);
        if (!last) dh += d_sequence.block(t * n, d * hid, n, hid);
        const auto a = act.middleRows(t * n, n);
        const auto i = a.leftCols(hid).array(), f = a.middleCols(hid, hid).array(),
                   g = a.middleCols(2 * hid, hid).array(), o = a.rightCols(hid).array();
        tanh_c.array() = cells.middleRows(t * n, n).array().tanh();
        auto dp = d_pre.middleRows(t * n, n);
        // h = o ⊙ tanh(c): ∂o = dh ⊙ tanh(c); ∂c += dh ⊙ o ⊙ (1 − tanh²(c)).
        dp.rightCols(hid).array() = dh.array() * tanh_c.array() * o * (Scalar(1) - o);
        dc.array() += dh.array() * o * (Scalar(1) - tanh_c.array().square());
        // c = f ⊙ c_prev + i ⊙ g, then through σ' = σ(1 − σ) and tanh' = 1 − tanh².
        dp.leftCols(hid).array() = dc.array() * g * i * (Scalar(1) - i);
        dp.middleCols(2 * hid, hid).array() = dc.array() * i * (Scalar(1) - g.square());
        if (step > 0) {
          dp.middleCols(hid, hid).array() = dc.array() * cells.middleRows(t_prev * n, n).array() * f * (Scalar(1) - f);
          dc.array() *= f;
          dh.noalias() = dp * w.w_hh;
        } else {
          dp.middleCols(hid, hid).setZero();  // c_{−1} = 0
        }
      }
      if (need_input_grad) {
        if (d == 0)
          d_input.noalias() = d_pre * w.w_ih;
        else
          d_input.noalias() += d_pre * w.w_ih;
      }
      if (grads != nullptr) {
        LstmCellMutableView gw = cell(*grads, k, d);
        gw.w_ih.noalias() += d_pre.transpose() * layer_input;
        if (steps > 1) {
          // Σ_t ∂pre_tᵀ h_{t_prev}: forward, rows t ≥ 1 against h_{t−1}; reverse, t ≤ T−2 against h_{t+1}.
          const Index m = rows - n;
          if (d == 0)
            gw.w_hh.noalias() += d_pre.bottomRows(m).transpose() * sequence.block(0, d * hid, m, hid);
          else
            gw.w_hh.noalias() += d_pre.topRows(m).transpose() * sequence.block(n, d * hid, m, hid);
        }
        if (gw.b_ih.size() > 0) {
          bias_grad = d_pre.colwise().sum().transpose();
          gw.b_ih += bias_grad;
          gw.b_hh += bias_grad;
        }
      }
    }
    std::swap(d_above, d_below);
  }
  if (g_in == nullptr) return;
  // d_above now holds ∂/∂(layer 0's input), time-major; g_in is sample-major.
  const ConstMatrixMap d_x(d_above, rows, in_);
  for (Index t = 0; t < steps; ++t) {
    if (accumulate)
      g_in->middleCols(t * in_, in_) += d_x.middleRows(t * n, n);
    else
      g_in->middleCols(t * in_, in_) = d_x.middleRows(t * n, n);
  }
}

void Lstm::vjp(const ConstMatrixRef& at, const Params& p, const ConstMatrixRef& g_out, MatrixRef g_in, Workspace& ws,
               bool accumulate) const {
  check_sizes(p, "vjp:");
  const Index n = at.rows(), steps = input_shape_[0];
  LRP_CHECK(at.cols() == steps * in_ && g_out.rows() == n && g_out.cols() == hidden_ * dirs_ && g_in.rows() == n &&
                g_in.cols() == steps * in_,
            where(*this), ": vjp with an input of ", at.cols(), " features, an output gradient of ", g_out.cols(),
            " and an input gradient of ", g_in.cols(), " per sample, expected ", steps * in_, ", ", hidden_ * dirs_,
            " and ", steps * in_);
  if (n == 0) return;
  Scratch s = make_scratch(ws, n, /*record=*/true, /*input_grad=*/true);
  run_forward(at, p, s, nullptr);
  backward(p, g_out, s, &g_in, accumulate, nullptr);
}

void Lstm::param_vjp(const ConstMatrixRef& at, const Params& p, const ConstMatrixRef& g_out, Params& grads,
                     Workspace& ws) const {
  check_sizes(p, "param_vjp:");
  LRP_CHECK(same_shapes(grads, p), where(*this), ": parameter gradients have shapes [", grads.weight.rows(), ", ",
            grads.weight.cols(), "] and [", grads.bias.size(), "], expected the parameters' [", p.weight.rows(), ", ",
            p.weight.cols(), "] and [", p.bias.size(), "]");
  const Index n = at.rows(), steps = input_shape_[0];
  LRP_CHECK(at.cols() == steps * in_ && g_out.rows() == n && g_out.cols() == hidden_ * dirs_, where(*this),
            ": param_vjp with an input of ", at.cols(), " and an output gradient of ", g_out.cols(),
            " features per sample, expected ", steps * in_, " and ", hidden_ * dirs_);
  if (n == 0) return;
  Scratch s = make_scratch(ws, n, /*record=*/true, /*input_grad=*/false);
  run_forward(at, p, s, nullptr);
  backward(p, g_out, s, nullptr, false, &grads);
}

void Lstm::initialize(InitScheme, std::mt19937_64& rng) {
  Params p = params_;
  const double bound = 1.0 / std::sqrt(static_cast<double>(hidden_));
  for (Index i = 0; i < p.weight.size(); ++i)
    p.weight.data()[i] = static_cast<Scalar>(bound * (2.0 * uniform01(rng) - 1.0));
  for (Index i = 0; i < p.bias.size(); ++i) p.bias[i] = static_cast<Scalar>(bound * (2.0 * uniform01(rng) - 1.0));
  set_params(std::move(p));
}

std::vector<StoredArray> Lstm::stored_arrays() const {
  std::vector<StoredArray> arrays;
  for (const LstmParamBlock& b : parameter_blocks())
    arrays.push_back({b.name, b.shape, b.in_bias ? StoredArray::Home::kBias : StoredArray::Home::kWeight, b.offset});
  return arrays;
}

std::string Lstm::storage_note() const {
  return detail::concat(" (the architecture declares num_layers = ", layers_, ", bidirectional = ", dirs_ == 2 ? 1 : 0,
                        ", bias = ", bias_ ? 1 : 0,
                        "; an lstm stores one dataset per PyTorch parameter, not a packed 'weight' row)");
}

}  // namespace lrp
