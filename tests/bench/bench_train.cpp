// Training throughput of the Fashion-MNIST CNN (models/fmnist_cnn.yaml, Adam) and the residual
// network (models/fmnist_resnet.yaml, SGD with momentum and weight decay as in
// configs/fmnist_resnet_train.yaml): lrp::train for one epoch of 20 minibatches of 64
// (training-mode forward, loss, backward, update, shuffling) on 1 and 2 threads, on synthetic
// 28×28 inputs (the arithmetic does not depend on the values). Counters:
//   items_per_second  training samples per second (60,000 / this = seconds per epoch)
//   x_forward         step time relative to an inference forward pass of the same batch and
//                     thread count, measured in the same run
#include "lrp/io/model_yaml.hpp"
#include "lrp/nn/examples.hpp"
#include "lrp/nn/model.hpp"
#include "lrp/registry/registry.hpp"
#include "lrp/train/train.hpp"

#include "bench_util.hpp"

#include <benchmark/benchmark.h>


#ifndef LRP_SOURCE_DIR
#error "LRP_SOURCE_DIR must point at the repository"
#endif

namespace {

lrp::Model fmnist_model(const std::string& file) {
  static const lrp::Registry registry = [] {
    lrp::Registry r;
    lrp::register_builtins(r);
    r.freeze();
    return r;
  }();
  lrp::Model m = lrp::build_model(lrp::read_model_spec(LRP_SOURCE_DIR "/models/" + file, &registry), registry);
  lrp::initialize_parameters(m.network, lrp::InitScheme::kHeNormal, 1);
  return m;
}

void train_epoch(benchmark::State& state, const std::string& file, lrp::OptimizerKind optimizer) {
  const lrp::Index batch = state.range(0);
  const int threads = static_cast<int>(state.range(1));
  const lrp::Index steps = 20;
  lrp::Model m = fmnist_model(file);
  lrp::Dataset data = lrp::synthetic_blobs(m.network.input_shape(), batch * steps, 10, 3);
  data.inputs = lrp::normalize_inputs(data.inputs, m.spec.normalization);
  lrp::TrainOptions options;
  options.epochs = 1;
  options.batch_size = batch;
  options.optimizer = optimizer;
  options.sgd = {.learning_rate = 0.05, .momentum = 0.9, .weight_decay = 5e-4};
  options.threads = threads;

  // The inference forward pass of one batch, for the ratio.
  const lrp::Tensor x(data.inputs.shape, data.inputs.data.topRows(batch));
  const double forward = lrp_bench::seconds_per_forward(m.network, x, threads);

  for (auto _ : state) {
    const lrp::TrainReport r = lrp::train(m.network, data, options);
    benchmark::DoNotOptimize(r.epochs.back().train_loss);
  }
  state.SetItemsProcessed(state.iterations() * batch * steps);
  // Per minibatch step, relative to one forward pass of the same batch.
  state.counters["x_forward"] = benchmark::Counter(static_cast<double>(state.iterations() * steps) * forward,
                                                   benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}

}  // namespace

BENCHMARK_CAPTURE(train_epoch, cnn, "fmnist_cnn.yaml", lrp::OptimizerKind::kAdam)
    ->ArgNames({"batch", "threads"})->Args({64, 1})->Args({64, 2})->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(train_epoch, resnet, "fmnist_resnet.yaml", lrp::OptimizerKind::kSgd)
    ->ArgNames({"batch", "threads"})->Args({64, 1})->Args({64, 2})->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK_MAIN();
