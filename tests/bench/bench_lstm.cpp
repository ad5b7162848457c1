// Throughput of the LSTM rules (docs/rules.md, LSTM rules) on the LSTM: D = 8 features per step,
// H = 64, T = 50 steps, one layer, a dense layer with 10 classes on the final hidden state
// (PyTorch's U(±1/√H) initialization, seeded; inputs N(0, 1): the cost does not depend on values).
// Batches of 1 and 64 sequences, 1 and 2 threads (batch 1 only on 1 thread).
//   forward     the inference forward pass of the batch (the baseline)
//   <rule>      one explanation per sequence from an existing forward pass (lstm_gate, lstm_half,
//               lstm_prop; `gradient` = the BPTT vector-Jacobian product, for comparison)
//   <rule>_full forward pass + explanation, what a user pays per new batch
// Counters:
//   explanations/s  sequences explained per second
//   x_forward       time per iteration relative to the forward pass of the same batch and thread
//                   count, measured in the same run (the target: ≤ 3 for lstm_gate)
#include "lrp/propagation/explain.hpp"
#include "lrp/nn/examples.hpp"
#include "lrp/nn/layers.hpp"
#include "lrp/nn/model.hpp"
#include "lrp/registry/registry.hpp"

#include "bench_util.hpp"

#include <benchmark/benchmark.h>

#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace {

constexpr lrp::Index kD = 8, kH = 64, kT = 50, kClasses = 10;

struct Setup {
  lrp::Registry registry;
  lrp::Network net{lrp::Shape{kT, kD}};
  std::map<lrp::Index, lrp::Tensor> inputs;  // per batch size
  Setup() {
    lrp::register_builtins(registry);
    registry.freeze();
    net.add(std::make_unique<lrp::Lstm>(kD, kH), "lstm");
    net.add(std::make_unique<lrp::Dense>(kH, kClasses), "fc");
    lrp::initialize_parameters(net, lrp::InitScheme::kHeNormal, 3);
    for (lrp::Index b : {1, 64}) inputs[b] = lrp::random_inputs(net.input_shape(), b, 4, -1.0, 1.0);
  }
};

Setup& setup() {
  static Setup s;
  return s;
}

double forward_seconds(lrp::Index batch, int threads) {
  static std::map<std::pair<lrp::Index, int>, double> measured;
  const auto key = std::make_pair(batch, threads);
  if (auto it = measured.find(key); it != measured.end()) return it->second;
  return measured[key] = lrp_bench::seconds_per_forward(setup().net, setup().inputs.at(batch), threads);
}

void set_counters(benchmark::State& state, lrp::Index batch, int threads) {
  const auto iterations = static_cast<double>(state.iterations());
  state.counters["explanations/s"] = benchmark::Counter(iterations * static_cast<double>(batch), benchmark::Counter::kIsRate);
  state.counters["x_forward"] = benchmark::Counter(iterations * forward_seconds(batch, threads),
                                                   benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}

void forward(benchmark::State& state) {
  const lrp::Index batch = state.range(0);
  const int threads = static_cast<int>(state.range(1));
  Setup& s = setup();
  forward_seconds(batch, threads);
  lrp::ForwardPass pass;
  for (auto _ : state) {
    s.net.forward(s.inputs.at(batch), pass, threads);
    benchmark::DoNotOptimize(pass.logits().data());
  }
  set_counters(state, batch, threads);
}

void explain(benchmark::State& state, const std::string& rule, bool with_forward) {
  const lrp::Index batch = state.range(0);
  const int threads = static_cast<int>(state.range(1));
  Setup& s = setup();
  forward_seconds(batch, threads);
  std::vector<lrp::RulePtr> rules;
  for (lrp::Index l = 0; l < s.net.size(); ++l) rules.push_back(s.registry.make_rule(rule));
  const lrp::Explainer explainer(s.net, std::move(rules));
  lrp::ForwardPass pass;
  s.net.forward(s.inputs.at(batch), pass, threads);
  std::vector<lrp::Index> targets(static_cast<size_t>(batch));
  for (lrp::Index i = 0; i < batch; ++i) targets[static_cast<size_t>(i)] = i % kClasses;
  const lrp::ExplainOptions options{.seed = rule == "gradient" ? lrp::SeedKind::kOneHot : lrp::SeedKind::kLogit,
                                    .threads = threads};
  for (auto _ : state) {
    if (with_forward) s.net.forward(s.inputs.at(batch), pass, threads);
    const lrp::Explanation e = explainer.explain(pass, targets, options);
    benchmark::DoNotOptimize(e.relevance.data.data());
  }
  set_counters(state, batch, threads);
}

void args(benchmark::internal::Benchmark* b) {
  b->ArgNames({"batch", "threads"})->Args({1, 1})->Args({64, 1})->Args({64, 2})->Unit(benchmark::kMicrosecond)->UseRealTime();
}

}  // namespace

BENCHMARK(forward)->Name("lstm/forward")->Apply(args);
BENCHMARK_CAPTURE(explain, lstm_gate, "lstm_gate", false)->Name("lstm/lstm_gate")->Apply(args);
BENCHMARK_CAPTURE(explain, lstm_gate_full, "lstm_gate", true)->Name("lstm/lstm_gate_full")->Apply(args);
BENCHMARK_CAPTURE(explain, lstm_half, "lstm_half", false)->Name("lstm/lstm_half")->Apply(args);
BENCHMARK_CAPTURE(explain, lstm_prop, "lstm_prop", false)->Name("lstm/lstm_prop")->Apply(args);
BENCHMARK_CAPTURE(explain, gradient, "gradient", false)->Name("lstm/gradient")->Apply(args);

BENCHMARK_MAIN();
