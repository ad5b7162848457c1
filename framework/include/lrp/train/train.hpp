// Training core: softmax cross-entropy, backpropagation to parameter gradients, SGD and Adam with
// PyTorch's update rules, learning-rate schedules, and a seeded minibatch training loop.
//
// Everything here is deterministic: the same network, data and options (thread count included)
// give bit-identical weights. Shuffling, the validation split and dropout masks draw from one
// std::mt19937_64 through lrp/core/random.hpp, so they are the same with every standard library; each
// minibatch is split into `threads` fixed row blocks whose parameter gradients are summed in block
// order, so the arithmetic does not depend on which thread finishes first.
#pragma once

#include "lrp/io/data.hpp"
#include "lrp/nn/network.hpp"
#include "lrp/train/augment.hpp"

#include <cstdint>
#include <memory>
#include <random>
#include <span>
#include <vector>

namespace lrp {

// Mean softmax cross-entropy over the batch, L = (1/N) Σ_n [logsumexp(z_n) − z_n,y_n], with the
// log-sum-exp shifted by the row maximum (stable for any finite logits), accumulated in double.
// Its gradient with respect to the logits is (softmax(z) − onehot(y)) / N.
struct LossAndGradient {
  double loss = 0;
  Matrix gradient;  // N × classes, same shape as the logits
};

class SoftmaxCrossEntropy {
 public:
  // Throws lrp::Error when labels.size() != logits.rows(), when a label is outside
  // [0, logits.cols()), or when the batch is empty.
  static double loss(const Matrix& logits, std::span<const Index> labels);
  static LossAndGradient loss_and_gradient(const Matrix& logits, std::span<const Index> labels);
};

// Number of rows whose arg-max (first maximum on ties) equals the label.
Index count_correct(const Matrix& logits, std::span<const Index> labels);

// Backpropagation through every layer of `network` from the gradient of a loss with respect to the
// logits of `pass` (as returned by network.forward): for each layer, param_vjp accumulates its
// parameter gradient and vjp carries the input gradient to the layer below. Returns one Params per
// layer, shaped like zero_like(layer.params()) (layers without trainable parameters get zeros).
std::vector<Params> parameter_gradients(const Network& network, const ForwardPass& pass,
                                        const Matrix& logits_gradient, Workspace& ws);

// torch.optim.SGD (dampening 0, no Nesterov). Weight decay is L2, coupled as in PyTorch: the
// gradient becomes g + weight_decay·w before the momentum buffer b ← momentum·b + g (b starts at
// g on the first step), and w ← w − lr·b.
struct SgdOptions {
  double learning_rate = 0.01;
  double momentum = 0.0;      // in [0, 1)
  double weight_decay = 0.0;  // ≥ 0
};

// torch.optim.Adam (amsgrad off) with PyTorch's defaults: g ← g + weight_decay·w (L2, not AdamW's
// decoupled decay); m ← β1·m + (1−β1)·g; v ← β2·v + (1−β2)·g²; at step t,
// w ← w − lr · (m / (1−β1ᵗ)) / (sqrt(v / (1−β2ᵗ)) + eps).
struct AdamOptions {
  double learning_rate = 1e-3;
  double beta1 = 0.9;         // in [0, 1)
  double beta2 = 0.999;       // in [0, 1)
  double eps = 1e-8;          // > 0
  double weight_decay = 0.0;  // ≥ 0
};

// Throw lrp::Error naming the offending hyperparameter, its value and the valid range.
void validate(const SgdOptions& options);
void validate(const AdamOptions& options);

class Optimizer {
 public:
  virtual ~Optimizer() = default;
  // One update of every trainable layer of `network` from `grads` (one Params per layer, as
  // parameter_gradients returns) with learning rate lr ≥ 0. The optimizer state is created on the
  // first step for this network's shapes; later steps must use the same network layout.
  virtual void step(Network& network, const std::vector<Params>& grads, double learning_rate) = 0;
};

class Sgd final : public Optimizer {
 public:
  explicit Sgd(SgdOptions options);
  void step(Network& network, const std::vector<Params>& grads, double learning_rate) override;

 private:
  SgdOptions options_;
  std::vector<Params> momentum_buffer_;  // empty until the first step
};

class Adam final : public Optimizer {
 public:
  explicit Adam(AdamOptions options);
  void step(Network& network, const std::vector<Params>& grads, double learning_rate) override;

 private:
  AdamOptions options_;
  std::vector<Params> first_moment_, second_moment_;
  Index steps_ = 0;
};

// Learning rate per epoch (0-based), given the optimizer's base learning rate:
//   constant: base;  step: base · gamma^⌊epoch / step_size⌋ (torch StepLR);
//   cosine: base · (1 + cos(π · epoch / total_epochs)) / 2 (torch CosineAnnealingLR, T_max =
//   total_epochs, eta_min = 0), which reaches 0 at epoch == total_epochs.
enum class ScheduleKind { kConstant, kStep, kCosine };

struct LrSchedule {
  ScheduleKind kind = ScheduleKind::kConstant;
  Index step_size = 1;  // step: epochs between decays, ≥ 1
  double gamma = 0.1;   // step: decay factor, in (0, 1]
};

void validate(const LrSchedule& schedule);
double scheduled_learning_rate(const LrSchedule& schedule, double base_learning_rate, Index epoch,
                               Index total_epochs);

enum class OptimizerKind { kSgd, kAdam };

struct TrainOptions {
  Index epochs = 10;       // ≥ 1
  Index batch_size = 32;   // ≥ 1; the last batch of an epoch may be smaller
  OptimizerKind optimizer = OptimizerKind::kSgd;
  SgdOptions sgd;          // used when optimizer == kSgd
  AdamOptions adam;        // used when optimizer == kAdam
  LrSchedule schedule;
  // Gradient clipping by global norm (torch.nn.utils.clip_grad_norm_, L2): before each optimizer
  // step, when the L2 norm ‖g‖ of all parameter gradients of the minibatch (every layer, weights and
  // biases, as one vector) exceeds clip_norm, every gradient is multiplied by
  // clip_norm / (‖g‖ + 1e-6). 0 = off; otherwise finite and > 0. Weight decay is added after the
  // clipping, inside the optimizer, as in PyTorch.
  double clip_norm = 0.0;
  // Fraction in [0, 1) of the samples held out for validation: the last round(fraction · N) of a
  // seeded permutation of the dataset (at least one sample remains for training).
  double validation_fraction = 0.0;
  // Random shifts and flips of each training sample as its minibatch is assembled (not of the
  // validation samples); the draws come from the run's generator, after the epoch's shuffle.
  Augmentation augment;
  std::uint64_t seed = 0;  // drives the split, the per-epoch shuffles, the augmentation and the dropout masks
  int threads = 1;         // ≥ 1: row blocks per minibatch, one thread each
  // Progress on stderr: a bar redrawn in place on a terminal, otherwise a log line about every 10
  // seconds; and one log line per epoch with loss, accuracy and time.
  bool progress = false;
};

void validate(const TrainOptions& options);

// torch.nn.utils.clip_grad_norm_(parameters, max_norm) with the L2 norm: computes the global norm
// ‖g‖ = sqrt(Σ over every entry of every weight and bias gradient of g²) in double and, when
// max_norm / (‖g‖ + 1e-6) < 1, multiplies every gradient by that factor (PyTorch's 1e-6 is kept so
// that the updates equal PyTorch's). Returns ‖g‖ before clipping (NaN or Inf when a gradient is not
// finite; the gradients are then left unchanged). max_norm must be finite and > 0.
double clip_gradient_norm(std::vector<Params>& grads, double max_norm);
// The optimizer the options select, validated.
std::unique_ptr<Optimizer> make_optimizer(const TrainOptions& options);

struct EpochReport {
  Index epoch = 0;               // 0-based
  double learning_rate = 0;
  double train_loss = 0;         // mean over the epoch's minibatches, weighted by batch size,
  double train_accuracy = 0;     // measured during the epoch (weights change between batches)
  double validation_loss = 0;    // after the epoch; NaN when there is no validation split
  double validation_accuracy = 0;
  double seconds = 0;            // wall time of the epoch's training steps (not the validation)
};

struct TrainReport {
  std::vector<EpochReport> epochs;
  Index train_samples = 0;
  Index validation_samples = 0;
};

// Minibatch training of `network` on `train_set` (which must have one label per sample, each in
// [0, classes)) with softmax cross-entropy on the logits. Each epoch visits the training samples in
// a fresh seeded Fisher–Yates order. Layers with a training mode (batch norm, dropout) use it; the
// others run forward / vjp / param_vjp on `threads` row blocks. A non-finite loss stops training
// with an lrp::Error naming the epoch and step.
TrainReport train(Network& network, const Dataset& train_set, const TrainOptions& options);

// One training-mode step without the update, as train() computes it: forward in training mode
// (batch statistics, dropout masks drawn from rng; running statistics are updated), softmax
// cross-entropy, and backpropagation on `threads` row blocks. Returns the mean loss and one
// gradient per layer (shaped like zero_like(layer.params())).
struct StepGradients {
  double loss = 0;
  std::vector<Params> grads;
};
StepGradients training_gradients(Network& network, const Tensor& batch, std::span<const Index> labels,
                                 std::mt19937_64& rng, int threads = 1);

// Mean loss and accuracy of the network on (inputs, labels), evaluated in batches of batch_size
// (each batch advances the thread's current progress, lrp/core/progress.hpp, if there is one).
struct Evaluation {
  double loss = 0;
  double accuracy = 0;
};
Evaluation evaluate(const Network& network, const Tensor& inputs, std::span<const Index> labels,
                    Index batch_size = 256, int threads = 1);

}  // namespace lrp
