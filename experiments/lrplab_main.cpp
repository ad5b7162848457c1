// lrplab: the command-line program.
//
//   lrplab list [rules|layers|presets]   what the registry holds, with parameters and defaults
//   lrplab quickstart [--threads N] [--model FILE] [--data DIR]
//                                        explain Fashion-MNIST test images with the committed
//                                        trained model and every preset, print relevance sums
//                                        (grows into `lrplab run configs/quickstart.yaml` later)
//   lrplab train CONFIG [--threads N] [--check]
//                                        train a model as a YAML config says (--check: only read
//                                        and check the config)
//   lrplab model FILE                    load a model file (HDF5, ONNX or YAML) and describe it
//   lrplab --version
#include "lrp/canonize.hpp"
#include "lrp/config.hpp"
#include "lrp/error.hpp"
#include "lrp/explain.hpp"
#include "lrp/log.hpp"
#include "lrp/model.hpp"
#include "lrp/registry.hpp"

#include <malloc.h>

#include <chrono>
#include <cstdio>
#include <iostream>
#include <string>
#include <vector>

namespace {

void print_usage() {
  std::cout << "usage: lrplab list [rules|layers|presets]\n"
               "       lrplab quickstart [--threads N] [--model FILE] [--data DIR]\n"
               "       lrplab train CONFIG [--threads N] [--check]\n"
               "       lrplab model FILE\n"
               "       lrplab --version\n";
}

void list(const lrp::Registry& registry, const std::string& what) {
  auto header = [](const char* title) { std::cout << title << '\n'; };
  if (what.empty() || what == "rules") {
    header("rules (name  parameters=defaults  origin: description)");
    for (const lrp::RuleInfo& r : registry.rules())
      std::printf("  %-12s %-45s %s: %s\n", r.name.c_str(), lrp::describe_params(r.params).c_str(), r.origin.c_str(),
                  r.doc.c_str());
  }
  if (what.empty() || what == "layers") {
    header("layers (kind  parameters=defaults  default rule: description)");
    for (const lrp::LayerInfo& l : registry.layers())
      std::printf("  %-15s %-60s %-6s %s\n", l.kind.c_str(), lrp::describe_params(l.params).c_str(),
                  l.default_rule.empty() ? "-" : l.default_rule.rule.c_str(), l.doc.c_str());
  }
  if (what.empty() || what == "presets") {
    header("presets (name  parameters=defaults: assignment)");
    for (const lrp::PresetInfo& p : registry.presets())
      std::printf("  %-26s %-45s %s\n", p.name.c_str(), lrp::describe_params(p.params).c_str(), p.doc.c_str());
  }
  if (!what.empty() && what != "rules" && what != "layers" && what != "presets")
    LRP_FAIL("lrplab list: unknown category '", what, "'; expected rules, layers or presets");
}

int parse_threads(const std::vector<std::string>& args, std::size_t& i, const char* command) {
  LRP_CHECK(i + 1 < args.size(), command, ": --threads needs a value");
  int threads = 0;
  try {
    threads = std::stoi(args[++i]);
  } catch (const std::exception&) {
    LRP_FAIL(command, ": --threads expects a whole number, got '", args[i], "'");
  }
  LRP_CHECK(threads >= 1, command, ": --threads must be ≥ 1, got ", threads);
  return threads;
}

int train_command(const lrp::Registry& registry, const std::vector<std::string>& args) {
  std::string path;
  int threads = 0;
  bool check_only = false;
  for (std::size_t i = 1; i < args.size(); ++i) {
    if (args[i] == "--threads")
      threads = parse_threads(args, i, "lrplab train");
    else if (args[i] == "--check")
      check_only = true;
    else if (path.empty() && args[i].rfind("--", 0) != 0)
      path = args[i];
    else
      LRP_FAIL("lrplab train: unexpected argument '", args[i], "'");
  }
  LRP_CHECK(!path.empty(), "lrplab train: expected a config file (lrplab train CONFIG.yaml)");
  lrp::TrainConfig config = lrp::read_train_config(path, registry);
  if (threads > 0) config.threads = config.options.threads = threads;
  if (check_only) {
    std::cout << path << ": OK (" << config.options.epochs << " epochs, model '" << config.architecture.name << "')\n";
    return 0;
  }
  const lrp::TrainResult r = lrp::run_training(config, registry);
  const lrp::EpochReport& last = r.report.epochs.back();
  double seconds = 0;
  for (const auto& e : r.report.epochs) seconds += e.seconds;
  std::printf("trained %s: %zu epochs, %.1f s per epoch (%d threads)\n", config.architecture.name.c_str(),
              r.report.epochs.size(), seconds / static_cast<double>(r.report.epochs.size()), config.threads);
  std::printf("  train accuracy %.4f", last.train_accuracy);
  if (r.report.validation_samples > 0) std::printf(", validation accuracy %.4f", last.validation_accuracy);
  if (r.test_accuracy >= 0) std::printf(", test accuracy %.4f", r.test_accuracy);
  std::printf("\n");
  if (!config.output_model.empty()) std::printf("  model written to %s\n", config.output_model.c_str());
  return 0;
}

int model_command(const lrp::Registry& registry, const std::vector<std::string>& args) {
  LRP_CHECK(args.size() == 2, "lrplab model: expected one model file (HDF5, ONNX or YAML)");
  const lrp::Model model = lrp::open_model(args[1], registry);
  std::cout << "model '" << model.spec.name << "' from " << args[1] << "\n"
            << "input shape " << lrp::to_string(model.network.input_shape()) << ", "
            << model.network.output_shape()[0] << " outputs\n"
            << model.network.summary();
  const lrp::Provenance& p = model.provenance;
  if (!p.source.empty()) std::cout << "source: " << p.source << "\n";
  if (p.test_accuracy >= 0) std::cout << "test accuracy: " << p.test_accuracy << "\n";
  if (!p.lrplab_version.empty()) std::cout << "written by lrplab " << p.lrplab_version << " at " << p.created << "\n";
  return 0;
}

int quickstart(const lrp::Registry& registry, int threads, const std::string& model_path, const std::string& data_dir) {
  using lrp::Index;
  struct Method {
    std::string name;
    lrp::Composite composite;
  };
  lrp::Model model = lrp::load_model(model_path, registry);
  lrp::Dataset test = lrp::read_idx(data_dir + "/t10k-images-idx3-ubyte.gz", data_dir + "/t10k-labels-idx1-ubyte.gz");
  test = lrp::subset(test, 0, 1000);
  lrp::Tensor input = lrp::normalize_inputs(test.inputs, model.spec.normalization);
  std::cout << "lrplab quickstart (" << lrp::scalar_name() << ", " << threads << " thread(s)): model '"
            << model.spec.name << "' from " << model_path << " (" << model.provenance.source << ", test accuracy "
            << model.provenance.test_accuracy << ")\n"
            << "explaining the first " << test.size() << " Fashion-MNIST test images from " << data_dir << "\n\n"
            << model.network.summary();
  const lrp::Evaluation eval = lrp::evaluate(model.network, input, test.labels, 256, threads);
  std::printf("accuracy on these images: %.4f\n", eval.accuracy);
  lrp::canonize_batch_norm(model.network);
  const lrp::ForwardPass pass = model.network.forward(input, threads);
  const std::vector<Index> targets = lrp::select_targets(pass.logits(), lrp::TargetSpec::predicted());
  // z^B bounds: the raw pixel range [0, 1] in the network's (normalized) units.
  const lrp::InputNormalization& norm = model.spec.normalization;
  const double low = lrp::to_network_units(norm.raw_min, 0, norm), high = lrp::to_network_units(norm.raw_max, 0, norm);
  std::printf("\n  %-28s %14s %14s %14s %12s\n", "method (target: predicted)", "mean sum R_in", "mean f_c(x)",
              "mean rel.err", "expl/s");
  std::vector<Method> methods{
      {"epsilon_gamma_box", registry.make_preset("epsilon_gamma_box", {{"low", {low}}, {"high", {high}}})},
      {"epsilon_plus", registry.make_preset("epsilon_plus")},
      {"epsilon_alpha2_beta1", registry.make_preset("epsilon_alpha2_beta1")},
      {"epsilon_plus_flat", registry.make_preset("epsilon_plus_flat")},
      {"epsilon_alpha2_beta1_flat", registry.make_preset("epsilon_alpha2_beta1_flat")},
      {"zero (everywhere)", lrp::Composite::uniform({"zero", {}})},
      {"gradient", lrp::Composite::uniform({"gradient", {}})},
  };
  for (const Method& m : methods) {
    const lrp::Explainer explainer = lrp::Explainer::from_composite(model.network, registry, m.composite);
    const auto start = std::chrono::steady_clock::now();
    const lrp::Explanation e = explainer.explain(pass, targets, {.threads = threads});
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    const lrp::Vector sums = e.relevance.data.rowwise().sum();
    const double rel_err = ((sums - e.seed).array().abs() / e.seed.array().abs()).mean();
    std::printf("  %-28s %14.6f %14.6f %14.3e %12.0f\n", m.name.c_str(), static_cast<double>(sums.mean()),
                static_cast<double>(e.seed.mean()), rel_err, static_cast<double>(input.batch()) / seconds);
  }
  std::cout << "\n(relevance sums of LRP rules differ from f_c(x) by what biases and stabilizers absorb; the "
               "experiment runner with metrics, HDF5 results and heatmaps arrives with the experiments issue)\n";
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  // Keep freed blocks in the heap instead of returning them to the kernel: training and
  // explaining allocate the same large per-batch buffers again and again, and glibc's default
  // (mmap above 128 KB, trim on free) would turn each reuse into fresh page faults.
  mallopt(M_MMAP_THRESHOLD, 256 << 20);
  mallopt(M_TRIM_THRESHOLD, 512 << 20);
  try {
    std::vector<std::string> args(argv + 1, argv + argc);
    if (args.empty() || args[0] == "--help" || args[0] == "-h") {
      print_usage();
      return args.empty() ? 2 : 0;
    }
    lrp::Registry registry;
    lrp::register_builtins(registry);
    registry.freeze();
    if (args[0] == "--version") {
      std::cout << "lrplab " << LRP_VERSION << " (" << lrp::scalar_name() << ")\n";
      return 0;
    }
    if (args[0] == "list") {
      LRP_CHECK(args.size() <= 2, "lrplab list: expected at most one category (rules, layers or presets)");
      list(registry, args.size() == 2 ? args[1] : "");
      return 0;
    }
    if (args[0] == "quickstart") {
      int threads = 2;
      std::string model_path = "models/fmnist_cnn.h5", data_dir = "/usr/share/datasets/fashion-mnist";
      for (size_t i = 1; i < args.size(); ++i) {
        if (args[i] == "--threads") {
          threads = parse_threads(args, i, "lrplab quickstart");
        } else if (args[i] == "--model" && i + 1 < args.size()) {
          model_path = args[++i];
        } else if (args[i] == "--data" && i + 1 < args.size()) {
          data_dir = args[++i];
        } else {
          LRP_FAIL("lrplab quickstart: unknown argument '", args[i], "'");
        }
      }
      return quickstart(registry, threads, model_path, data_dir);
    }
    if (args[0] == "train") return train_command(registry, args);
    if (args[0] == "model") return model_command(registry, args);
    print_usage();
    LRP_FAIL("lrplab: unknown command '", args[0], "'");
  } catch (const lrp::Error& e) {
    std::cerr << "error: " << e.what() << '\n';
    return 1;
  } catch (const std::exception& e) {
    std::cerr << "internal error: " << e.what() << '\n';
    return 3;
  }
}
