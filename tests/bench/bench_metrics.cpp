// Throughput of pixel flipping (docs/metrics.md, Pixel flipping) on the Fashion-MNIST CNN (models/fmnist_cnn.yaml,
// He-normal weights, synthetic 28×28 inputs: the arithmetic does not depend on the values), on 1
// and 2 threads:
//   forward        an inference forward pass of 256 rows (the baseline)
//   pixel_flipping 64 samples, patch 4 (49 regions, L = 49), uniform fill, MoRF + LeRF only: the
//                  random-order baseline (10 repeats) is precomputed once and passed in as
//                  RandomOrderCurves; 1 + 2·49 = 99 forward rows per sample
//   random_curves  random_order_curves with 10 repeats for the same 64 samples:
//                  1 + 10·49 = 491 forward rows per sample
// Counters:
//   rows/s         forward rows evaluated per second (perturbed copies and the unperturbed input)
//   samples/s      samples per second (rows for the forward baseline)
//   x_forward_row  time per evaluated row relative to a row of the 256-row forward pass of the same
//                  thread count, measured in the same run (1 = no overhead beyond the forward pass)
#include "lrp/io/model_yaml.hpp"
#include "lrp/nn/examples.hpp"
#include "lrp/eval/metrics.hpp"
#include "lrp/nn/model.hpp"
#include "lrp/registry/registry.hpp"

#include "bench_util.hpp"

#include <benchmark/benchmark.h>

#include <map>
#include <vector>

#ifndef LRP_SOURCE_DIR
#error "LRP_SOURCE_DIR must point at the repository"
#endif

namespace {

constexpr lrp::Index kForwardRows = 256;
constexpr lrp::Index kSamples = 64;
constexpr lrp::Index kPatch = 4;
constexpr lrp::Index kRepeats = 10;

lrp::Model fmnist_cnn() {
  lrp::Registry registry;
  lrp::register_builtins(registry);
  registry.freeze();
  lrp::Model m = lrp::build_model(lrp::read_model_spec(LRP_SOURCE_DIR "/models/fmnist_cnn.yaml", &registry), registry);
  lrp::initialize_parameters(m.network, lrp::InitScheme::kHeNormal, 1);
  return m;
}

struct Setup {
  lrp::Model model = fmnist_cnn();
  lrp::Tensor forward_x;  // 256 rows, network units
  lrp::Tensor x;          // 64 samples, network units
  lrp::Tensor relevance;  // 64 maps (values do not change the cost)
  std::vector<lrp::Index> targets, ids;
  lrp::FillValues fill;   // uniform over the raw range [0, 1], in network units

  Setup() {
    const lrp::Shape& shape = model.network.input_shape();
    const lrp::InputNormalization& norm = model.spec.normalization;
    forward_x = lrp::normalize_inputs(lrp::random_inputs(shape, kForwardRows, 11), norm);
    x = lrp::normalize_inputs(lrp::random_inputs(shape, kSamples, 12), norm);
    relevance = lrp::random_inputs(shape, kSamples, 13, -1.0, 1.0);
    for (lrp::Index i = 0; i < kSamples; ++i) {
      targets.push_back(i % 10);
      ids.push_back(i);
    }
    lrp::FillValues raw;
    raw.low = {norm.raw_min};
    raw.high = {norm.raw_max};
    fill = lrp::fill_to_network_units(raw, shape, norm);
  }
};

Setup& setup() {
  static Setup s;
  return s;
}

lrp::PixelFlippingOptions options(int threads) {
  lrp::PixelFlippingOptions o;
  o.patch = kPatch;
  o.random_repeats = kRepeats;
  o.fill = lrp::PerturbationFill::kUniform;
  o.seed = 7;
  o.threads = threads;
  return o;
}

// Seconds per forward pass of the 256-row batch, measured once per thread count in this run.
double forward_seconds(int threads) {
  static std::map<int, double> measured;
  if (auto it = measured.find(threads); it != measured.end()) return it->second;
  return measured[threads] = lrp_bench::seconds_per_forward(setup().model.network, setup().forward_x, threads);
}

void set_counters(benchmark::State& state, lrp::Index rows_per_iteration, lrp::Index samples_per_iteration,
                  int threads) {
  const auto iterations = static_cast<double>(state.iterations());
  state.counters["rows/s"] =
      benchmark::Counter(iterations * static_cast<double>(rows_per_iteration), benchmark::Counter::kIsRate);
  state.counters["samples/s"] =
      benchmark::Counter(iterations * static_cast<double>(samples_per_iteration), benchmark::Counter::kIsRate);
  const double seconds_per_row = forward_seconds(threads) / static_cast<double>(kForwardRows);
  state.counters["x_forward_row"] =
      benchmark::Counter(iterations * static_cast<double>(rows_per_iteration) * seconds_per_row,
                         benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}

void forward(benchmark::State& state) {
  const int threads = static_cast<int>(state.range(0));
  Setup& s = setup();
  forward_seconds(threads);
  lrp::ForwardPass pass;
  for (auto _ : state) {
    s.model.network.forward(s.forward_x, pass, threads);
    benchmark::DoNotOptimize(pass.logits().data());
  }
  set_counters(state, kForwardRows, kForwardRows, threads);
}

void pixel_flipping(benchmark::State& state) {
  const int threads = static_cast<int>(state.range(0));
  Setup& s = setup();
  forward_seconds(threads);
  const lrp::PixelFlippingOptions o = options(threads);
  const lrp::RandomOrderCurves curves = lrp::random_order_curves(s.model.network, s.x, s.targets, s.ids, s.fill, o);
  const lrp::Index regions = curves.regions;  // 49
  for (auto _ : state) {
    const lrp::PixelFlippingResult r =
        lrp::pixel_flipping(s.model.network, s.x, s.targets, s.relevance, s.ids, s.fill, o, curves);
    benchmark::DoNotOptimize(r.scores.aopc_morf.data());
  }
  state.counters["regions"] = static_cast<double>(regions);
  set_counters(state, kSamples * (1 + 2 * regions), kSamples, threads);
}

void random_curves(benchmark::State& state) {
  const int threads = static_cast<int>(state.range(0));
  Setup& s = setup();
  forward_seconds(threads);
  const lrp::PixelFlippingOptions o = options(threads);
  lrp::Index regions = 0;
  for (auto _ : state) {
    const lrp::RandomOrderCurves c = lrp::random_order_curves(s.model.network, s.x, s.targets, s.ids, s.fill, o);
    regions = c.regions;
    benchmark::DoNotOptimize(c.random.back().data());
  }
  state.counters["regions"] = static_cast<double>(regions);
  set_counters(state, kSamples * (1 + kRepeats * regions), kSamples, threads);
}

}  // namespace

BENCHMARK(forward)->Name("fmnist_cnn/forward_256")->ArgName("threads")->Arg(1)->Arg(2)->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK(pixel_flipping)
    ->Name("fmnist_cnn/pixel_flipping_morf_lerf_64")
    ->ArgName("threads")
    ->Arg(1)
    ->Arg(2)
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);
BENCHMARK(random_curves)
    ->Name("fmnist_cnn/random_order_curves_64x10")
    ->ArgName("threads")
    ->Arg(1)
    ->Arg(2)
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);
BENCHMARK_MAIN();
