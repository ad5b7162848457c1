// Throughput of forward and explanation on the example MLP (784-64-32-10) and CNN of the core
// engine issue, and on the committed residual network (models/fmnist_resnet.h5, batch norms folded
// as the experiment runner folds them before LRP). Every explanation benchmark times a full explanation of new inputs: the forward
// pass plus the backward relevance pass. Counters:
//   items_per_second  images (explanations) per second
//   x_forward         time per iteration relative to a forward pass of the same batch and thread
//                     count, measured in the same run just before
#include "lrp/io/model_file.hpp"
#include "lrp/nn/examples.hpp"
#include "lrp/propagation/canonize.hpp"
#include "lrp/propagation/explain.hpp"

#include "bench_util.hpp"

#include <benchmark/benchmark.h>

#include <chrono>
#include <map>
#include <tuple>
#include <string>

namespace {

struct Setup {
  lrp::Registry registry;
  lrp::Network mlp = lrp::example_mlp(1);
  lrp::Network cnn = lrp::example_cnn(1);
  lrp::Network resnet{{1, 28, 28}};
  Setup() {
    lrp::register_builtins(registry);
    resnet = lrp::load_model(std::string(LRP_SOURCE_DIR) + "/models/fmnist_resnet.h5", registry).network;
    (void)lrp::canonize_batch_norm(resnet);
  }
};

Setup& setup() {
  static Setup s;
  return s;
}

lrp::Composite composite_for(const std::string& method) {
  const lrp::Registry& r = setup().registry;
  if (method == "epsilon_gamma_box") return r.make_preset("epsilon_gamma_box", {{"low", {0.0}}, {"high", {1.0}}});
  if (method == "zbox") return lrp::Composite::uniform({"zbox", {{"low", {-1.0}}, {"high", {1.0}}}});
  return lrp::Composite::uniform({method, {}});
}

// Seconds per forward pass of `batch` images, measured once per network, batch size and thread
// count in this run.
double forward_seconds(const lrp::Network& net, const lrp::Tensor& x, int threads) {
  static std::map<std::tuple<const lrp::Network*, lrp::Index, int>, double> measured;
  const auto key = std::make_tuple(&net, x.batch(), threads);
  if (auto it = measured.find(key); it != measured.end()) return it->second;
  return measured[key] = lrp_bench::seconds_per_forward(net, x, threads);
}

// mode "full": forward + explanation of new inputs; "reuse": the explanation alone, on a forward
// pass computed once (how an experiment explains with several rules and targets).
void run(benchmark::State& state, lrp::Network& net, const std::string& method, const std::string& mode) {
  const auto batch = static_cast<lrp::Index>(state.range(0));
  const int threads = static_cast<int>(state.range(1));
  const lrp::Tensor x = lrp::random_inputs(net.input_shape(), batch, 11);
  const double forward = forward_seconds(net, x, threads);
  lrp::ForwardPass pass;
  if (method == "forward") {
    for (auto _ : state) {
      net.forward(x, pass, threads);
      benchmark::DoNotOptimize(pass.logits().data());
    }
  } else {
    const lrp::Explainer explainer = lrp::Explainer::from_composite(net, setup().registry, composite_for(method));
    net.forward(x, pass, threads);
    const std::vector<lrp::Index> targets = lrp::select_targets(pass.logits(), lrp::TargetSpec::predicted());
    const lrp::ExplainOptions options{.threads = threads};
    for (auto _ : state) {
      if (mode == "full") net.forward(x, pass, threads);
      lrp::Explanation e = explainer.explain(pass, targets, options);
      benchmark::DoNotOptimize(e.relevance.data.data());
    }
  }
  state.SetItemsProcessed(state.iterations() * batch);
  state.counters["x_forward"] = benchmark::Counter(
      static_cast<double>(state.iterations()) * forward, benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}

void args(benchmark::internal::Benchmark* b) {
  for (int batch : {1, 64})
    for (int threads : {1, 2}) b->Args({batch, threads});
  b->ArgNames({"batch", "threads"})->UseRealTime()->MinTime(0.3);
}

#define LRP_BENCH(net, method)                                                                       \
  BENCHMARK_CAPTURE(run, net##_##method, setup().net, #method, "full")->Name(#net "/" #method)->Apply(args); \
  BENCHMARK_CAPTURE(run, net##_##method##_reuse, setup().net, #method, "reuse")                            \
      ->Name(#net "/" #method "/reuse_forward")                                                            \
      ->Apply(args);

}  // namespace

BENCHMARK_CAPTURE(run, mlp_forward, setup().mlp, "forward", "full")->Name("mlp/forward")->Apply(args);
LRP_BENCH(mlp, epsilon)
LRP_BENCH(mlp, zplus)
LRP_BENCH(mlp, gamma)
LRP_BENCH(mlp, zbox)
LRP_BENCH(mlp, alpha_beta)
LRP_BENCH(mlp, epsilon_gamma_box)
BENCHMARK_CAPTURE(run, cnn_forward, setup().cnn, "forward", "full")->Name("cnn/forward")->Apply(args);
LRP_BENCH(cnn, epsilon)
LRP_BENCH(cnn, zplus)
LRP_BENCH(cnn, gamma)
LRP_BENCH(cnn, zbox)
LRP_BENCH(cnn, alpha_beta)
LRP_BENCH(cnn, epsilon_gamma_box)
BENCHMARK_CAPTURE(run, resnet_forward, setup().resnet, "forward", "full")->Name("resnet/forward")->Apply(args);
LRP_BENCH(resnet, epsilon)
LRP_BENCH(resnet, epsilon_gamma_box)

BENCHMARK_MAIN();
