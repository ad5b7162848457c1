// lrplab: the command-line program.
//
//   lrplab list [rules|layers|presets]   what the registry holds, with parameters and defaults
//   lrplab quickstart [--threads N]      explain the built-in example networks with every preset
//                                        and print relevance sums (grows into `lrplab run` later)
//   lrplab --version
#include "lrp/canonize.hpp"
#include "lrp/error.hpp"
#include "lrp/examples.hpp"
#include "lrp/explain.hpp"
#include "lrp/log.hpp"
#include "lrp/registry.hpp"

#include <chrono>
#include <cstdio>
#include <iostream>
#include <string>
#include <vector>

namespace {

void print_usage() {
  std::cout << "usage: lrplab list [rules|layers|presets]\n"
               "       lrplab quickstart [--threads N]\n"
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

int quickstart(const lrp::Registry& registry, int threads) {
  using lrp::Index;
  struct Method {
    std::string name;
    lrp::Composite composite;
  };
  const lrp::Tensor x = lrp::random_inputs({1, 28, 28}, 256, 7);
  std::cout << "lrplab quickstart (" << lrp::scalar_name() << ", " << threads << " thread(s)): 256 random 28x28 "
            << "inputs through example networks with seeded random weights\n";
  for (const char* which : {"cnn", "mlp"}) {
    lrp::Network net = std::string(which) == "cnn" ? lrp::example_cnn(1) : lrp::example_mlp(1);
    lrp::canonize_batch_norm(net);
    lrp::Tensor input = x;
    input.shape = net.input_shape();
    const lrp::ForwardPass pass = net.forward(input, threads);
    const std::vector<Index> targets = lrp::select_targets(pass.logits(), lrp::TargetSpec::predicted());
    std::cout << "\n" << which << ":\n" << net.summary();
    std::printf("  %-28s %14s %14s %14s %12s\n", "method", "mean sum R_in", "mean f_c(x)", "mean rel.err",
                "expl/s");
    std::vector<Method> methods{
        {"epsilon_gamma_box", registry.make_preset("epsilon_gamma_box", {{"low", {0.0}}, {"high", {1.0}}})},
        {"epsilon_plus", registry.make_preset("epsilon_plus")},
        {"epsilon_alpha2_beta1", registry.make_preset("epsilon_alpha2_beta1")},
        {"epsilon_plus_flat", registry.make_preset("epsilon_plus_flat")},
        {"epsilon_alpha2_beta1_flat", registry.make_preset("epsilon_alpha2_beta1_flat")},
        {"zero (everywhere)", lrp::Composite::uniform({"zero", {}})},
        {"zplus (everywhere)", lrp::Composite::uniform({"zplus", {}})},
    };
    for (const Method& m : methods) {
      const lrp::Explainer explainer = lrp::Explainer::from_composite(net, registry, m.composite);
      const auto start = std::chrono::steady_clock::now();
      const lrp::Explanation e = explainer.explain(pass, targets, {.threads = threads});
      const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      const lrp::Vector sums = e.relevance.data.rowwise().sum();
      const double rel_err = ((sums - e.seed).array().abs() / e.seed.array().abs()).mean();
      std::printf("  %-28s %14.6f %14.6f %14.3e %12.0f\n", m.name.c_str(), static_cast<double>(sums.mean()),
                  static_cast<double>(e.seed.mean()), rel_err, static_cast<double>(input.batch()) / seconds);
    }
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
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
      for (size_t i = 1; i < args.size(); ++i) {
        if (args[i] == "--threads" && i + 1 < args.size()) {
          try {
            threads = std::stoi(args[++i]);
          } catch (const std::exception&) {
            LRP_FAIL("lrplab quickstart: --threads expects a whole number, got '", args[i], "'");
          }
          LRP_CHECK(threads >= 1, "lrplab quickstart: --threads must be ≥ 1, got ", threads);
        } else {
          LRP_FAIL("lrplab quickstart: unknown argument '", args[i], "'");
        }
      }
      return quickstart(registry, threads);
    }
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
