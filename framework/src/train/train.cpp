// Training core: see train.hpp for the contracts and the PyTorch update rules followed here.
#include "lrp/train/train.hpp"

#include "lrp/core/error.hpp"
#include "lrp/core/log.hpp"
#include "lrp/core/progress.hpp"
#include "lrp/core/random.hpp"

#include <chrono>
#include <cstdio>

#include <algorithm>
#include <cmath>
#include <limits>
#include <numbers>
#include <random>
#include <utility>

namespace lrp {

namespace {

void check_labels(const Matrix& logits, std::span<const Index> labels, const char* what) {
  LRP_CHECK(logits.rows() > 0, what, ": empty batch (0 rows of logits)");
  LRP_CHECK(static_cast<Index>(labels.size()) == logits.rows(), what, ": ", labels.size(), " labels for ",
            logits.rows(), " rows of logits; expected one label per row");
  for (std::size_t n = 0; n < labels.size(); ++n)
    LRP_CHECK(labels[n] >= 0 && labels[n] < logits.cols(), what, ": label ", labels[n], " of sample ", n,
              " is out of range; expected a class in [0, ", logits.cols(), ")");
}

// Row n's log-sum-exp, shifted by its maximum so that no exp overflows; in double.
double log_sum_exp(const Matrix& logits, Index n, double& row_max) {
  row_max = static_cast<double>(logits.row(n).maxCoeff());
  double sum = 0;
  for (Index j = 0; j < logits.cols(); ++j) sum += std::exp(static_cast<double>(logits(n, j)) - row_max);
  return row_max + std::log(sum);
}

void check_grads(const Network& network, const std::vector<Params>& grads, const char* who) {
  LRP_CHECK(static_cast<Index>(grads.size()) == network.size(), who, ": ", grads.size(),
            " parameter gradients for a network of ", network.size(), " layers; expected one per layer");
  for (Index l = 0; l < network.size(); ++l) {
    const Layer& layer = network.layer(l);
    if (!layer.trainable()) continue;
    LRP_CHECK(same_shapes(grads[static_cast<std::size_t>(l)], layer.params()), who, ": the gradient of layer '",
              layer.name(), "' does not have its parameters' shapes");
  }
}

// Optimizer state for every layer (zeros; non-trainable layers get zero-size entries).
std::vector<Params> zero_state(const Network& network) {
  std::vector<Params> state;
  state.reserve(static_cast<std::size_t>(network.size()));
  for (Index l = 0; l < network.size(); ++l)
    state.push_back(network.layer(l).trainable() ? zero_like(network.layer(l).params()) : Params{});
  return state;
}

void check_state(const Network& network, const std::vector<Params>& state, const char* who) {
  bool matches = static_cast<Index>(state.size()) == network.size();
  for (Index l = 0; matches && l < network.size(); ++l)
    if (network.layer(l).trainable())
      matches = same_shapes(state[static_cast<std::size_t>(l)], network.layer(l).params());
  LRP_CHECK(matches, who, ": step() on a network whose layers differ from the first step's; use one optimizer per network");
}

void check_learning_rate(double learning_rate, const char* who) {
  LRP_CHECK(std::isfinite(learning_rate) && learning_rate >= 0, who, ": learning rate ", learning_rate,
            " of a step must be finite and ≥ 0");
}

// Applies update(w, g, state...) elementwise to the weight and the bias of each trainable layer.
template <typename Update>
void update_network(Network& network, const std::vector<Params>& grads, Update update) {
  for (Index l = 0; l < network.size(); ++l) {
    Layer& layer = network.layer(l);
    if (!layer.trainable()) continue;
    const std::size_t i = static_cast<std::size_t>(l);
    Params& p = layer.mutable_params();
    Scalar* w = p.weight.data();
    const Scalar* g = grads[i].weight.data();
    for (Index k = 0; k < p.weight.size(); ++k) update(i, false, k, w[k], g[k]);
    Scalar* b = p.bias.data();
    const Scalar* gb = grads[i].bias.data();
    for (Index k = 0; k < p.bias.size(); ++k) update(i, true, k, b[k], gb[k]);
  }
}

Scalar* entry(std::vector<Params>& state, std::size_t layer, bool bias, Index k) {
  return bias ? state[layer].bias.data() + k : state[layer].weight.data() + k;
}

Tensor gather_rows(const Tensor& source, std::span<const Index> rows) {
  Tensor batch(static_cast<Index>(rows.size()), source.shape);
  for (std::size_t r = 0; r < rows.size(); ++r) batch.data.row(static_cast<Index>(r)) = source.data.row(rows[r]);
  if (!source.lengths.empty())
    for (Index r : rows) batch.lengths.push_back(source.lengths[static_cast<std::size_t>(r)]);
  return batch;
}

}  // namespace

double SoftmaxCrossEntropy::loss(const Matrix& logits, std::span<const Index> labels) {
  check_labels(logits, labels, "softmax cross-entropy");
  double total = 0;
  for (Index n = 0; n < logits.rows(); ++n) {
    double row_max = 0;
    total += log_sum_exp(logits, n, row_max) - static_cast<double>(logits(n, labels[static_cast<std::size_t>(n)]));
  }
  return total / static_cast<double>(logits.rows());
}

LossAndGradient SoftmaxCrossEntropy::loss_and_gradient(const Matrix& logits, std::span<const Index> labels) {
  check_labels(logits, labels, "softmax cross-entropy");
  LossAndGradient out;
  out.gradient.resize(logits.rows(), logits.cols());
  const double inv_n = 1.0 / static_cast<double>(logits.rows());
  double total = 0;
  for (Index n = 0; n < logits.rows(); ++n) {
    double row_max = 0;
    const double lse = log_sum_exp(logits, n, row_max);
    const Index y = labels[static_cast<std::size_t>(n)];
    total += lse - static_cast<double>(logits(n, y));
    for (Index j = 0; j < logits.cols(); ++j) {
      const double softmax = std::exp(static_cast<double>(logits(n, j)) - lse);
      out.gradient(n, j) = static_cast<Scalar>((softmax - (j == y ? 1.0 : 0.0)) * inv_n);
    }
  }
  out.loss = total * inv_n;
  return out;
}

Index count_correct(const Matrix& logits, std::span<const Index> labels) {
  LRP_CHECK(static_cast<Index>(labels.size()) == logits.rows(), "count_correct: ", labels.size(), " labels for ",
            logits.rows(), " rows of logits");
  Index correct = 0;
  for (Index n = 0; n < logits.rows(); ++n) {
    Index best = 0;
    logits.row(n).maxCoeff(&best);
    if (best == labels[static_cast<std::size_t>(n)]) ++correct;
  }
  return correct;
}

std::vector<Params> parameter_gradients(const Network& network, const ForwardPass& pass,
                                        const Matrix& logits_gradient, Workspace& ws) {
  LRP_CHECK(network.size() > 0, "parameter_gradients: the network has no layers");
  network.check_pass(pass, "parameter_gradients");
  LRP_CHECK(logits_gradient.rows() == pass.logits().rows() && logits_gradient.cols() == pass.logits().cols(),
            "parameter_gradients: logits gradient is ", logits_gradient.rows(), "×", logits_gradient.cols(),
            "; expected the logits' shape ", pass.logits().rows(), "×", pass.logits().cols());
  std::vector<Params> grads;
  grads.reserve(static_cast<std::size_t>(network.size()));
  for (Index l = 0; l < network.size(); ++l) grads.push_back(zero_like(network.layer(l).params()));

  network.check_lengths(pass.lengths, pass.batch(), "parameter_gradients");
  const LengthsScope lengths(ws, pass.lengths);
  // Per value (0: the input, l + 1: layer l's output), its gradient, summed over the layers that read
  // it; the input's is not needed.
  std::vector<Matrix> g(static_cast<std::size_t>(network.size()) + 1);
  g.back() = logits_gradient;
  Matrix g_in;
  for (Index l = network.size() - 1; l >= 0; --l) {
    const Layer& layer = network.layer(l);
    const Matrix& at = pass.layer_input(l);
    Matrix& g_out = g[static_cast<std::size_t>(l) + 1];
    if (g_out.size() == 0) g_out = Matrix::Zero(at.rows(), pass.activations[static_cast<std::size_t>(l) + 1].cols());
    layer.param_vjp(at, layer.params(), g_out, grads[static_cast<std::size_t>(l)], ws);
    const std::vector<Index>& inputs = network.inputs_of(l);
    if (std::all_of(inputs.begin(), inputs.end(), [](Index v) { return v == 0; })) continue;
    g_in.resize(at.rows(), at.cols());
    layer.vjp(at, layer.params(), g_out, g_in, ws, false);
    Index offset = 0;
    for (const Index v : inputs) {
      const Index cols = pass.activations[static_cast<std::size_t>(v)].cols();
      Matrix& gv = g[static_cast<std::size_t>(v)];
      if (v > 0 && gv.size() == 0)
        gv = g_in.middleCols(offset, cols);
      else if (v > 0)
        gv += g_in.middleCols(offset, cols);
      offset += cols;
    }
    g_out.resize(0, 0);
  }
  return grads;
}

void validate(const SgdOptions& o) {
  LRP_CHECK(std::isfinite(o.learning_rate) && o.learning_rate > 0, "SGD: learning_rate ", o.learning_rate,
            " must be finite and > 0");
  LRP_CHECK(o.momentum >= 0 && o.momentum < 1, "SGD: momentum ", o.momentum, " must be in [0, 1)");
  LRP_CHECK(std::isfinite(o.weight_decay) && o.weight_decay >= 0, "SGD: weight_decay ", o.weight_decay,
            " must be finite and ≥ 0");
}

void validate(const AdamOptions& o) {
  LRP_CHECK(std::isfinite(o.learning_rate) && o.learning_rate > 0, "Adam: learning_rate ", o.learning_rate,
            " must be finite and > 0");
  LRP_CHECK(o.beta1 >= 0 && o.beta1 < 1, "Adam: beta1 ", o.beta1, " must be in [0, 1)");
  LRP_CHECK(o.beta2 >= 0 && o.beta2 < 1, "Adam: beta2 ", o.beta2, " must be in [0, 1)");
  LRP_CHECK(std::isfinite(o.eps) && o.eps > 0, "Adam: eps ", o.eps, " must be finite and > 0");
  LRP_CHECK(std::isfinite(o.weight_decay) && o.weight_decay >= 0, "Adam: weight_decay ", o.weight_decay,
            " must be finite and ≥ 0");
}

Sgd::Sgd(SgdOptions options) : options_(options) { validate(options_); }

void Sgd::step(Network& network, const std::vector<Params>& grads, double learning_rate) {
  check_learning_rate(learning_rate, "SGD");
  check_grads(network, grads, "SGD");
  const bool first = momentum_buffer_.empty();
  if (first) momentum_buffer_ = zero_state(network);
  check_state(network, momentum_buffer_, "SGD");
  const double momentum = options_.momentum, decay = options_.weight_decay;
  update_network(network, grads, [&](std::size_t l, bool bias, Index k, Scalar& w, Scalar g) {
    double d = static_cast<double>(g) + decay * static_cast<double>(w);
    if (momentum > 0) {
      Scalar* buffer = entry(momentum_buffer_, l, bias, k);
      // PyTorch initializes the buffer to the first gradient (not momentum·0 + g: equal, but kept literal).
      d = first ? d : momentum * static_cast<double>(*buffer) + d;
      *buffer = static_cast<Scalar>(d);
    }
    w = static_cast<Scalar>(static_cast<double>(w) - learning_rate * d);
  });
}

Adam::Adam(AdamOptions options) : options_(options) { validate(options_); }

void Adam::step(Network& network, const std::vector<Params>& grads, double learning_rate) {
  check_learning_rate(learning_rate, "Adam");
  check_grads(network, grads, "Adam");
  if (steps_ == 0) {
    first_moment_ = zero_state(network);
    second_moment_ = zero_state(network);
  }
  check_state(network, first_moment_, "Adam");
  ++steps_;
  const double b1 = options_.beta1, b2 = options_.beta2, eps = options_.eps, decay = options_.weight_decay;
  const double correction1 = 1.0 - std::pow(b1, static_cast<double>(steps_));
  const double correction2 = 1.0 - std::pow(b2, static_cast<double>(steps_));
  update_network(network, grads, [&](std::size_t l, bool bias, Index k, Scalar& w, Scalar g) {
    const double d = static_cast<double>(g) + decay * static_cast<double>(w);
    Scalar* m = entry(first_moment_, l, bias, k);
    Scalar* v = entry(second_moment_, l, bias, k);
    const double m_new = b1 * static_cast<double>(*m) + (1 - b1) * d;
    const double v_new = b2 * static_cast<double>(*v) + (1 - b2) * d * d;
    *m = static_cast<Scalar>(m_new);
    *v = static_cast<Scalar>(v_new);
    const double m_hat = m_new / correction1;
    const double v_hat = v_new / correction2;
    w = static_cast<Scalar>(static_cast<double>(w) - learning_rate * m_hat / (std::sqrt(v_hat) + eps));
  });
}

void validate(const LrSchedule& s) {
  if (s.kind != ScheduleKind::kStep) return;
  LRP_CHECK(s.step_size >= 1, "step schedule: step_size ", s.step_size, " must be ≥ 1 epoch");
  LRP_CHECK(s.gamma > 0 && s.gamma <= 1, "step schedule: gamma ", s.gamma, " must be in (0, 1]");
}

double scheduled_learning_rate(const LrSchedule& s, double base_learning_rate, Index epoch, Index total_epochs) {
  validate(s);
  LRP_CHECK(epoch >= 0, "learning-rate schedule: epoch ", epoch, " must be ≥ 0");
  switch (s.kind) {
    case ScheduleKind::kConstant:
      return base_learning_rate;
    case ScheduleKind::kStep:
      return base_learning_rate * std::pow(s.gamma, static_cast<double>(epoch / s.step_size));
    case ScheduleKind::kCosine: {
      LRP_CHECK(total_epochs >= 1 && epoch <= total_epochs, "cosine schedule: epoch ", epoch,
                " must be in [0, total_epochs = ", total_epochs, "] with total_epochs ≥ 1");
      const double phase = std::numbers::pi * static_cast<double>(epoch) / static_cast<double>(total_epochs);
      return base_learning_rate * 0.5 * (1.0 + std::cos(phase));
    }
  }
  LRP_FAIL("learning-rate schedule: unknown kind");
}

void validate(const TrainOptions& o) {
  LRP_CHECK(o.epochs >= 1, "training: epochs ", o.epochs, " must be ≥ 1");
  LRP_CHECK(o.batch_size >= 1, "training: batch_size ", o.batch_size, " must be ≥ 1");
  LRP_CHECK(o.validation_fraction >= 0 && o.validation_fraction < 1, "training: validation_fraction ",
            o.validation_fraction, " must be in [0, 1)");
  if (o.optimizer == OptimizerKind::kSgd)
    validate(o.sgd);
  else
    validate(o.adam);
  validate(o.schedule);
  LRP_CHECK(std::isfinite(o.clip_norm) && o.clip_norm >= 0, "training: clip_norm ", o.clip_norm,
            " must be finite and ≥ 0 (0 = no gradient clipping)");
  LRP_CHECK(o.threads >= 1, "training: threads ", o.threads, " must be ≥ 1");
}

double clip_gradient_norm(std::vector<Params>& grads, double max_norm) {
  LRP_CHECK(std::isfinite(max_norm) && max_norm > 0, "clip_gradient_norm: max_norm ", max_norm,
            " must be finite and > 0");
  double sum_of_squares = 0;
  for (const Params& g : grads) {
    sum_of_squares += g.weight.cast<double>().squaredNorm();
    sum_of_squares += g.bias.cast<double>().squaredNorm();
  }
  const double norm = std::sqrt(sum_of_squares);
  if (!std::isfinite(norm)) return norm;
  const double factor = max_norm / (norm + 1e-6);
  if (factor < 1) {
    const Scalar f = static_cast<Scalar>(factor);
    for (Params& g : grads) {
      g.weight *= f;
      g.bias *= f;
    }
  }
  return norm;
}

std::unique_ptr<Optimizer> make_optimizer(const TrainOptions& options) {
  if (options.optimizer == OptimizerKind::kSgd) return std::make_unique<Sgd>(options.sgd);
  return std::make_unique<Adam>(options.adam);
}

Evaluation evaluate(const Network& network, const Tensor& inputs, std::span<const Index> labels, Index batch_size,
                    int threads) {
  LRP_CHECK(batch_size >= 1, "evaluate: batch_size ", batch_size, " must be ≥ 1");
  LRP_CHECK(inputs.batch() > 0 && static_cast<Index>(labels.size()) == inputs.batch(), "evaluate: ", labels.size(),
            " labels for ", inputs.batch(), " samples; expected one label per sample and at least one sample");
  double loss_sum = 0;
  Index correct = 0;
  ForwardPass pass;
  for (Index begin = 0; begin < inputs.batch(); begin += batch_size) {
    const Index rows = std::min(batch_size, inputs.batch() - begin);
    Tensor batch(inputs.shape, inputs.data.middleRows(begin, rows));
    const std::span<const Index> batch_lengths = row_lengths(inputs.lengths, begin, rows);
    batch.lengths.assign(batch_lengths.begin(), batch_lengths.end());
    network.forward(batch, pass, threads);
    const std::span<const Index> batch_labels = labels.subspan(static_cast<std::size_t>(begin), static_cast<std::size_t>(rows));
    loss_sum += SoftmaxCrossEntropy::loss(pass.logits(), batch_labels) * static_cast<double>(rows);
    correct += count_correct(pass.logits(), batch_labels);
    if (Progress* progress = current_progress()) progress->advance(rows);  // the caller's, if it set one
  }
  const double n = static_cast<double>(inputs.batch());
  return {loss_sum / n, static_cast<double>(correct) / n};
}

namespace {

// One minibatch step's buffers, kept across steps so that a step allocates nothing once the batch
// size is steady: the values, the stacked inputs of layers that read several, per-layer training
// state, per-value gradients and per-block parameter gradients. On a graph a value's gradient is
// the sum of what the layers reading it send back; the last of them in execution order (the first
// to run backwards) writes it, the others add.
class TrainStep {
 public:
  TrainStep(const Network& network, int threads) : threads_(threads) {
    const std::size_t layers = static_cast<std::size_t>(network.size());
    acts_.resize(layers + 1);
    stacked_.resize(layers);
    stacked_grad_.resize(layers);
    states_.resize(layers);
    block_grads_.resize(static_cast<std::size_t>(threads));
    for (auto& g : block_grads_)
      for (Index l = 0; l < network.size(); ++l) g.push_back(zero_like(network.layer(l).params()));
    for (Index l = 0; l < network.size(); ++l) grads_.push_back(zero_like(network.layer(l).params()));
  }

  // Consecutive layers without a training mode run as one segment: each row block walks through
  // all of them inside one parallel region (fewer fork/joins, and a block's activations stay in
  // cache); training-mode layers (batch norm, dropout) see the whole batch on this thread.
  const Matrix& forward(Network& network, const Tensor& batch, std::mt19937_64& rng) {
    const Index n = batch.batch();
    network.check_lengths(batch.lengths, n, "training");
    lengths_ = batch.lengths;
    acts_[0] = batch.data;
    for (Index l = 0; l < network.size(); ++l) {
      const std::size_t i = static_cast<std::size_t>(l);
      acts_[i + 1].resize(n, numel(network.layer(l).output_shape()));
      if (network.inputs_of(l).size() > 1) stacked_[i].resize(n, numel(network.layer(l).input_shape()));
    }
    for (Index l = 0; l < network.size();) {
      Layer& layer = network.layer(l);
      const std::size_t i = static_cast<std::size_t>(l);
      if (layer.has_training_mode()) {
        layer.train_forward(input_of(network, l), layer.params(), acts_[i + 1], states_[i], rng, threads_);
        ++l;
        continue;
      }
      Index end = l;
      while (end < network.size() && !network.layer(end).has_training_mode()) ++end;
      parallel_chunks(n, threads_, [&](int, Index b, Index e) {
        Workspace& ws = thread_workspace();
        const LengthsScope lengths(ws, row_lengths(lengths_, b, e - b));
        for (Index k = l; k < end; ++k) {
          const Layer& lk = network.layer(k);
          if (network.inputs_of(k).size() > 1) network.stack_rows(k, acts_, stacked_[static_cast<std::size_t>(k)], b, e - b);
          lk.forward(input_of(network, k).middleRows(b, e - b), lk.params(),
                     acts_[static_cast<std::size_t>(k) + 1].middleRows(b, e - b), ws);
        }
      });
      l = end;
    }
    return acts_.back();
  }

  // Backpropagates the logits gradient; returns the summed parameter gradients per layer. Input
  // gradients live in one buffer per value (g_[v]: the gradient at acts_[v]).
  std::vector<Params>& backward(const Network& network, const Matrix& logits_gradient) {
    const Index n = logits_gradient.rows();
    const std::size_t layers = static_cast<std::size_t>(network.size());
    g_.resize(layers + 1);
    g_[layers] = logits_gradient;
    for (std::size_t v = 1; v < layers; ++v) {
      g_[v].resize(n, acts_[v].cols());
      if (network.consumers_of(static_cast<Index>(v)).empty()) g_[v].setZero();  // read by no layer (built by hand)
    }
    for (Params& g : grads_) set_zero(g);
    for (Index l = network.size() - 1; l >= 0;) {
      const Layer& layer = network.layer(l);
      const std::size_t i = static_cast<std::size_t>(l);
      if (layer.has_training_mode()) {
        const Index v = network.inputs_of(l)[0];  // training-mode layers read one value
        const bool direct = v > 0 && writes(network, v, l);
        Matrix& g_in = direct ? g_[static_cast<std::size_t>(v)] : scratch_;
        if (!direct) g_in.resize(n, acts_[static_cast<std::size_t>(v)].cols());
        layer.train_backward(input_of(network, l), layer.params(), states_[i], g_[i + 1], g_in, grads_[i], threads_);
        if (v > 0 && !direct) g_[static_cast<std::size_t>(v)] += g_in;
        --l;
        continue;
      }
      Index first = l;  // the segment is [first, l]
      while (first > 0 && !network.layer(first - 1).has_training_mode()) --first;
      for (Index k = first; k <= l; ++k) {
        if (network.layer(k).trainable())
          for (auto& g : block_grads_) set_zero(g[static_cast<std::size_t>(k)]);
        if (network.inputs_of(k).size() > 1)
          stacked_grad_[static_cast<std::size_t>(k)].resize(n, numel(network.layer(k).input_shape()));
      }
      parallel_chunks(n, threads_, [&](int part, Index b, Index e) {
        Workspace& ws = thread_workspace();
        const LengthsScope lengths(ws, row_lengths(lengths_, b, e - b));
        for (Index k = l; k >= first; --k) {
          const Layer& lk = network.layer(k);
          const std::size_t ik = static_cast<std::size_t>(k);
          const auto xb = input_of(network, k).middleRows(b, e - b);
          const auto gb = g_[ik + 1].middleRows(b, e - b);
          send_back(network, k, xb, gb, b, e - b, ws);
          if (lk.trainable()) lk.param_vjp(xb, lk.params(), gb, block_grads_[static_cast<std::size_t>(part)][ik], ws);
        }
      });
      for (Index k = first; k <= l; ++k) {
        const std::size_t ik = static_cast<std::size_t>(k);
        if (!network.layer(k).trainable()) continue;
        for (const auto& g : block_grads_) {
          grads_[ik].weight += g[ik].weight;
          grads_[ik].bias += g[ik].bias;
        }
      }
      l = first - 1;
    }
    return grads_;
  }

 private:
  static void set_zero(Params& p) {
    p.weight.setZero();
    p.bias.setZero();
  }

  // Whether layer k is the last reader of value v, the one whose gradient is written first.
  static bool writes(const Network& network, Index v, Index k) { return network.consumers_of(v).back() == k; }

  const Matrix& input_of(const Network& network, Index k) const {
    const std::vector<Index>& in = network.inputs_of(k);
    return in.size() == 1 ? acts_[static_cast<std::size_t>(in[0])] : stacked_[static_cast<std::size_t>(k)];
  }

  // Layer k's input gradient for rows [b, b + rows), sent to the values it reads (not the network's
  // input, whose gradient is not needed).
  template <typename X, typename G>
  void send_back(const Network& network, Index k, const X& xb, const G& gb, Index b, Index rows, Workspace& ws) {
    const Layer& lk = network.layer(k);
    const std::vector<Index>& in = network.inputs_of(k);
    if (in.size() == 1) {
      const Index v = in[0];
      if (v > 0)
        lk.vjp(xb, lk.params(), gb, g_[static_cast<std::size_t>(v)].middleRows(b, rows), ws, !writes(network, v, k));
      return;
    }
    auto stacked = stacked_grad_[static_cast<std::size_t>(k)].middleRows(b, rows);
    lk.vjp(xb, lk.params(), gb, stacked, ws, false);
    Index at = 0;
    for (const Index v : in) {
      const Index cols = acts_[static_cast<std::size_t>(v)].cols();
      if (v > 0) {
        auto target = g_[static_cast<std::size_t>(v)].middleRows(b, rows);
        if (writes(network, v, k))
          target = stacked.middleCols(at, cols);
        else
          target += stacked.middleCols(at, cols);
      }
      at += cols;
    }
  }

  int threads_;
  std::vector<Index> lengths_;  // the minibatch's sequence lengths (empty: none)
  std::vector<Matrix> acts_, stacked_, stacked_grad_, states_, g_;
  Matrix scratch_;  // a training-mode layer's input gradient before it is added
  std::vector<std::vector<Params>> block_grads_;
  std::vector<Params> grads_;
};

// How an epoch shows its progress (lrp/core/progress.hpp): as the defaults say, silent unless `enabled`.
ProgressSettings epoch_display(bool enabled) {
  ProgressSettings s = progress_settings();
  s.enabled = s.enabled && enabled;
  return s;
}

}  // namespace

StepGradients training_gradients(Network& network, const Tensor& batch, std::span<const Index> labels,
                                 std::mt19937_64& rng, int threads) {
  LRP_CHECK(threads >= 1, "training_gradients: threads ", threads, " must be ≥ 1");
  LRP_CHECK(batch.shape == network.input_shape(), "training_gradients: samples of shape ", to_string(batch.shape),
            " for a network that expects ", to_string(network.input_shape()));
  TrainStep step(network, threads);
  const Matrix& logits = step.forward(network, batch, rng);
  const LossAndGradient lg = SoftmaxCrossEntropy::loss_and_gradient(logits, labels);
  return {lg.loss, step.backward(network, lg.gradient)};
}

TrainReport train(Network& network, const Dataset& train_set, const TrainOptions& options) {
  validate(options);
  const Index n = train_set.size();
  LRP_CHECK(n > 0, "training: the dataset '", train_set.source, "' is empty");
  LRP_CHECK(train_set.inputs.shape == network.input_shape(), "training: samples of shape ",
            to_string(train_set.inputs.shape), " for a network that expects ", to_string(network.input_shape()));
  const Shape& out_shape = network.output_shape();
  LRP_CHECK(out_shape.size() == 1, "training: the network's output shape ", to_string(out_shape),
            " is not a vector of logits");
  check_labels(train_set, out_shape[0], "training");
  validate(options.augment, network.input_shape(), "training: augment");
  network.check_lengths(train_set.inputs.lengths, n, "training on '" + train_set.source + "'");

  // One generator for the whole run: first the split permutation, then one shuffle per epoch.
  std::mt19937_64 rng(options.seed);
  std::vector<Index> permutation(static_cast<std::size_t>(n));
  for (Index i = 0; i < n; ++i) permutation[static_cast<std::size_t>(i)] = i;
  Index validation_count = 0;
  if (options.validation_fraction > 0) {
    shuffle(permutation, rng);
    validation_count = static_cast<Index>(std::llround(options.validation_fraction * static_cast<double>(n)));
    LRP_CHECK(validation_count < n, "training: validation_fraction ", options.validation_fraction, " of ", n,
              " samples leaves none for training");
  }
  std::vector<Index> train_rows(permutation.begin(), permutation.end() - validation_count);
  const std::vector<Index> validation_rows(permutation.end() - validation_count, permutation.end());
  Tensor validation_inputs;
  std::vector<Index> validation_labels;
  if (validation_count > 0) {
    validation_inputs = gather_rows(train_set.inputs, validation_rows);
    for (Index r : validation_rows) validation_labels.push_back(train_set.labels[static_cast<std::size_t>(r)]);
  }

  std::unique_ptr<Optimizer> optimizer = make_optimizer(options);
  const double base_lr =
      options.optimizer == OptimizerKind::kSgd ? options.sgd.learning_rate : options.adam.learning_rate;
  TrainReport report;
  report.train_samples = static_cast<Index>(train_rows.size());
  report.validation_samples = validation_count;

  TrainStep step(network, options.threads);
  const Index steps_per_epoch =
      (static_cast<Index>(train_rows.size()) + options.batch_size - 1) / options.batch_size;
  const ProgressSettings display = epoch_display(options.progress);
  std::vector<Index> batch_labels;
  Tensor batch;
  for (Index epoch = 0; epoch < options.epochs; ++epoch) {
    const auto start = std::chrono::steady_clock::now();
    EpochReport stats;
    stats.epoch = epoch;
    stats.learning_rate = scheduled_learning_rate(options.schedule, base_lr, epoch, options.epochs);
    shuffle(train_rows, rng);
    char running[96] = "";  // the epoch's loss and accuracy so far, shown after the progress's name
    Progress progress(detail::concat("epoch ", epoch + 1, "/", options.epochs), std::ssize(train_rows), "samples", display);
    progress.set_detail(running);
    double loss_sum = 0;
    Index correct = 0, seen = 0, step_index = 0;
    for (std::size_t begin = 0; begin < train_rows.size(); begin += static_cast<std::size_t>(options.batch_size)) {
      const std::size_t end = std::min(train_rows.size(), begin + static_cast<std::size_t>(options.batch_size));
      const std::span<const Index> rows(train_rows.data() + begin, end - begin);
      batch.shape = train_set.inputs.shape;
      batch.data.resize(static_cast<Index>(rows.size()), train_set.inputs.data.cols());
      for (std::size_t r = 0; r < rows.size(); ++r)
        batch.data.row(static_cast<Index>(r)) = train_set.inputs.data.row(rows[r]);
      batch.lengths.clear();
      if (!train_set.inputs.lengths.empty())
        for (Index r : rows) batch.lengths.push_back(train_set.inputs.lengths[static_cast<std::size_t>(r)]);
      augment_batch(batch, options.augment, rng);
      batch_labels.assign(rows.size(), 0);
      for (std::size_t r = 0; r < rows.size(); ++r) batch_labels[r] = train_set.labels[static_cast<std::size_t>(rows[r])];
      const std::string where = detail::concat("training: epoch ", epoch + 1, ", step ", step_index + 1, " of ",
                                               steps_per_epoch, " (global step ", epoch * steps_per_epoch + step_index + 1, ")");
      try {
        const Matrix& logits = step.forward(network, batch, rng);
        const LossAndGradient lg = SoftmaxCrossEntropy::loss_and_gradient(logits, batch_labels);
        LRP_CHECK(std::isfinite(lg.loss), "the loss became ", lg.loss,
                  " (training diverged; lower the learning rate or check the inputs)");
        loss_sum += lg.loss * static_cast<double>(rows.size());
        correct += count_correct(logits, batch_labels);
        std::vector<Params>& grads = step.backward(network, lg.gradient);
        if (options.clip_norm > 0) {
          const double norm = clip_gradient_norm(grads, options.clip_norm);
          LRP_CHECK(std::isfinite(norm), "the gradient norm became ", norm,
                    " (training diverged; lower the learning rate or check the inputs)");
        }
        optimizer->step(network, grads, stats.learning_rate);
      } catch (const Error& e) {
        throw Error(where + ": " + e.what());
      }
      seen += static_cast<Index>(rows.size());
      std::snprintf(running, sizeof running, "loss %.4f acc %.4f", loss_sum / static_cast<double>(seen),
                    static_cast<double>(correct) / static_cast<double>(seen));
      progress.advance(static_cast<std::int64_t>(rows.size()));
      ++step_index;
    }
    progress.finish();
    stats.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    const double count = static_cast<double>(train_rows.size());
    stats.train_loss = loss_sum / count;
    stats.train_accuracy = static_cast<double>(correct) / count;
    if (validation_count > 0) {
      const Evaluation v = evaluate(network, validation_inputs, validation_labels, 256, options.threads);
      stats.validation_loss = v.loss;
      stats.validation_accuracy = v.accuracy;
    } else {
      stats.validation_loss = stats.validation_accuracy = std::numeric_limits<double>::quiet_NaN();
    }
    if (options.progress) {
      if (validation_count > 0)
        logger()->info("epoch {}/{}: {:.1f} s, lr {:.3g}, train loss {:.4f}, train accuracy {:.4f}, validation loss {:.4f}, validation accuracy {:.4f}",
                       epoch + 1, options.epochs, stats.seconds, stats.learning_rate, stats.train_loss,
                       stats.train_accuracy, stats.validation_loss, stats.validation_accuracy);
      else
        logger()->info("epoch {}/{}: {:.1f} s, lr {:.3g}, train loss {:.4f}, train accuracy {:.4f}", epoch + 1,
                       options.epochs, stats.seconds, stats.learning_rate, stats.train_loss, stats.train_accuracy);
    }
    report.epochs.push_back(stats);
  }
  return report;
}

}  // namespace lrp
