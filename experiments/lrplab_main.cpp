// lrplab: the command-line program.
//
//   lrplab run CONFIG [--set key.path=value]... [--threads N]
//                                        run an experiment: explain, evaluate, write the HDF5
//                                        results file, heatmaps and curves, print the table
//                                        (an MPI build: `mpirun -n K lrplab run ...` shards it
//                                        over K processes, rank 0 writes the results)
//   lrplab validate CONFIG [--set key.path=value]... [--no-plugins]
//                                        check a config (keys, types, files, model, data,
//                                        methods) without running it; says which plugins it
//                                        loads (their code runs), --no-plugins loads none
//   lrplab list [rules|layers|presets|methods|metrics]
//                                        what lrplab knows, with parameters and defaults
//   lrplab train CONFIG [--threads N] [--check]
//                                        train a model as a YAML config says (--check: only read
//                                        and check the config)
//   lrplab model FILE                    load a model file (HDF5, ONNX or YAML) and describe it
//   lrplab compare RESULTS_A RESULTS_B   compare two results files (exit 0: they agree, 2: they differ)
//   lrplab help [COMMAND | config [SECTION]]
//                                        the commands, one command's usage, or the config keys
//                                        (lrplab_help.cpp; `lrplab COMMAND --help` as well)
//   lrplab --version
// Every command takes --plugin PATH (repeatable): load a plugin (lrp/registry/plugin.hpp) at start-up. run
// and validate also load the plugins their config lists under `plugins:`.
#include "lrp/io/model_file.hpp"
#include "lrp/experiment/cluster.hpp"
#include "lrp/experiment/config.hpp"
#include "lrp/core/error.hpp"
#include "lrp/experiment/experiment.hpp"
#include "lrp/propagation/explain.hpp"
#include "lrp/core/files.hpp"
#include "lrp/core/log.hpp"
#include "lrp/core/progress.hpp"
#include "lrp/nn/model.hpp"
#include "lrp/registry/plugin.hpp"
#include "lrp/registry/registry.hpp"
#include "lrp/experiment/results_compare.hpp"
#include "lrplab_help.hpp"

#include <malloc.h>

#include <algorithm>
#include <charconv>
#include <filesystem>
#include <cstdlib>
#include <cstdio>
#include <iostream>
#include <string>
#include <vector>

namespace {

void print_usage() {
  std::cout << "usage: lrplab run CONFIG [--set key.path=value]... [--threads N]\n"
               "       lrplab validate CONFIG [--set key.path=value]... [--no-plugins]\n"
               "       lrplab list [rules|layers|presets|methods|metrics]\n"
               "       lrplab train CONFIG [--threads N] [--check]\n"
               "       lrplab model FILE\n"
               "       lrplab compare RESULTS_A RESULTS_B   (exit 0: the same results, 2: they differ)\n"
               "       lrplab help [COMMAND | config [SECTION]]   (also: lrplab COMMAND --help)\n"
               "       lrplab --version\n"
               "every command: --plugin PATH (repeatable) loads a plugin (rules, layers, presets, methods) first\n";
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
      std::printf("  %-15s %-60s %-6s %s%s\n", l.kind.c_str(), lrp::describe_params(l.params).c_str(),
                  l.default_rule.empty() ? "-" : l.default_rule.rule.c_str(), l.doc.c_str(),
                  l.origin == "built-in" ? "" : (" [" + l.origin + "]").c_str());
  }
  if (what.empty() || what == "presets") {
    header("presets (name  parameters=defaults: assignment)");
    for (const lrp::PresetInfo& p : registry.presets())
      std::printf("  %-26s %-45s %s%s\n", p.name.c_str(), lrp::describe_params(p.params).c_str(), p.doc.c_str(),
                  p.origin == "built-in" ? "" : (" [" + p.origin + "]").c_str());
  }
  if (what.empty() || what == "methods") {
    header("methods (kind  parameters=defaults  origin: description)");
    std::printf("  %-22s %-45s %s: %s\n", lrp::kLrpKind, "(see presets and rules)", "built-in", lrp::kLrpMethodDoc);
    for (const lrp::MethodInfo& m : registry.methods())
      std::printf("  %-22s %-45s %s: %s\n", m.name.c_str(), lrp::describe_params(m.params).c_str(), m.origin.c_str(),
                  m.doc.c_str());
  }
  if (what.empty() || what == "metrics") {
    header("metrics (name  parameters=defaults: description)");
    for (const lrp::MetricInfo& m : lrp::metric_kinds())
      std::printf("  %-22s %-45s %s\n", m.name.c_str(), lrp::describe_params(m.params).c_str(), m.doc.c_str());
  }
  if (!what.empty() && what != "rules" && what != "layers" && what != "presets" && what != "methods" &&
      what != "metrics")
    LRP_FAIL("lrplab list: unknown category '", what, "'; expected rules, layers, presets, methods or metrics");
}

int parse_threads(const std::vector<std::string>& args, std::size_t& i, const char* command) {
  LRP_CHECK(i + 1 < args.size(), command, ": --threads needs a value");
  const std::string& text = args[++i];
  int threads = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), threads);
  LRP_CHECK(error == std::errc() && end == text.data() + text.size() && !text.empty(), command,
            ": --threads expects a whole number, got '", text, "'");
  LRP_CHECK(threads >= 1 && threads <= 256, command, ": --threads must be between 1 and 256, got ", threads);
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

// Two results files, every dataset and attribute but a run's circumstances (lrp::compare_results):
// exit 0 when they agree, 2 when they differ (1 stays an error, e.g. a file that cannot be read).
int compare_command(const std::vector<std::string>& args) {
  LRP_CHECK(args.size() == 3, "lrplab compare: expected two results files (lrplab compare A.h5 B.h5)");
  const lrp::ResultsComparison c = lrp::compare_results(args[1], args[2]);
  for (const std::string& d : c.differences) std::cout << "differs: " << d << "\n";
  std::cout << c.datasets << " datasets compared; " << (c.differences.empty() ? "the results agree" : "the results differ")
            << " (times, host, ranks, run id, git commit and the config's overrides are not compared)\n";
  return c.differences.empty() ? 0 : 2;
}

int model_command(const lrp::Registry& registry, const std::vector<std::string>& args) {
  LRP_CHECK(args.size() == 2, "lrplab model: expected one model file (HDF5, ONNX or YAML)");
  const lrp::Model model = lrp::open_model(args[1], registry);
  std::cout << "model '" << model.spec.name << "' from " << args[1] << "\n"
            << "input shape " << lrp::to_string(model.network.input_shape()) << ", "
            << model.network.output_shape()[0] << " outputs\n"
            << model.network.summary();
  const lrp::InputNormalization& norm = model.spec.normalization;
  std::cout << "input normalization: " << lrp::describe(norm) << " (" << norm.origin << ")\n";
  const lrp::Provenance& p = model.provenance;
  if (!p.source.empty()) std::cout << "source: " << p.source << "\n";
  if (p.test_accuracy >= 0) std::cout << "test accuracy: " << p.test_accuracy << "\n";
  if (!p.lrplab_version.empty()) std::cout << "written by lrplab " << p.lrplab_version << " at " << p.created << "\n";
  return 0;
}

struct RunArgs {
  std::string path;
  std::vector<std::string> overrides;
  bool no_plugins = false;  // validate --no-plugins
};

RunArgs parse_run_args(const std::vector<std::string>& args, const char* command, bool threads_allowed) {
  RunArgs r;
  const bool validate = std::string(command) == "lrplab validate";
  for (std::size_t i = 1; i < args.size(); ++i) {
    if (validate && args[i] == "--no-plugins") {
      r.no_plugins = true;
    } else if (args[i] == "--set") {
      LRP_CHECK(i + 1 < args.size(), command, ": --set needs key.path=value");
      r.overrides.push_back(args[++i]);
    } else if (args[i].rfind("--set=", 0) == 0) {
      r.overrides.push_back(args[i].substr(6));
    } else if (threads_allowed && args[i] == "--threads") {
      r.overrides.push_back("threads=" + std::to_string(parse_threads(args, i, command)));
    } else if (r.path.empty() && args[i].rfind("--", 0) != 0) {
      r.path = args[i];
    } else {
      LRP_FAIL(command, ": unexpected argument '", args[i], "'");
    }
  }
  LRP_CHECK(!r.path.empty(), command, ": expected an experiment config (", command, " CONFIG.yaml)");
  return r;
}

// Whether an MPI launcher (Open MPI's mpirun, MPICH's mpiexec, srun with PMI or PMIx) started this
// process: they put the job's rank into the environment.
bool launched_by_mpi() {
  for (const char* variable : {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMI_RANK", "PMIX_RANK", "PMIX_SIZE"})
    if (std::getenv(variable) != nullptr) return true;
  return false;
}

// The processes of this run: the MPI job's ranks when an MPI build was started by an MPI launcher,
// else this process alone (MPI is not initialized then: Open MPI would start its `orted` singleton
// daemon, about 0.3 s per run). A build without MPI started by mpirun with several processes is an
// error (they would all write the same results file).
const lrp::Cluster& cluster_of_this_run() {
  if (!launched_by_mpi()) return lrp::single_process();
  if (lrp::built_with_mpi()) return *lrp::mpi_world();
  for (const char* variable : {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_SIZE"}) {
    const char* value = std::getenv(variable);
    LRP_CHECK(value == nullptr || std::atoi(value) <= 1, "lrplab run: started as one of ", value,
              " MPI processes, but this lrplab was built without MPI; build it with cmake -DLRP_MPI=ON (as "
              "./build.sh does) or run it as one process");
  }
  return lrp::single_process();
}

// What each metric cost per perturbed copy (a forward pass of one perturbed input) and per sample
// explained again, against the run's plain forward pass per sample.
void print_metric_costs(const lrp::ExperimentReport& report) {
  const auto forward = report.stage_seconds.find("forward");
  if (forward == report.stage_seconds.end() || report.samples == 0) return;
  // (the forward pass is computed once per sample, however many targets each has)
  const double plain = forward->second / static_cast<double>(report.distinct_samples());
  for (const auto& [metric, seconds] : report.stage_seconds) {
    const auto f = report.forward_rows.find(metric), e = report.explained_rows.find(metric);
    if (f == report.forward_rows.end() && e == report.explained_rows.end()) continue;
    const double rows = (f == report.forward_rows.end() ? 0 : f->second) + (e == report.explained_rows.end() ? 0 : e->second);
    std::printf("  %s: %.0f perturbed forward passes, %.0f explanations again; %.3f ms per copy = %.2f x the plain "
                "forward pass per sample (%.3f ms)\n", metric.c_str(), f == report.forward_rows.end() ? 0.0 : f->second,
                e == report.explained_rows.end() ? 0.0 : e->second, 1e3 * seconds / rows, seconds / rows / plain,
                1e3 * plain);
  }
}

int run_command(const lrp::Registry& registry, const std::vector<std::string>& args) {
  const RunArgs a = parse_run_args(args, "lrplab run", true);
  const lrp::ExperimentConfig config = lrp::read_experiment_config(a.path, a.overrides, registry);
  const lrp::Cluster& cluster = cluster_of_this_run();
  const bool speaker = cluster.rank() == 0;  // rank 0 prints; the other ranks log warnings and errors only
  if (!speaker) lrp::logger()->set_level(spdlog::level::warn);
  // Progress lines (lrp/core/progress.hpp): rank 0 only, and it can only see its own share of the work.
  if (!speaker) lrp::progress_settings().enabled = false;
  if (cluster.size() > 1) lrp::progress_settings().suffix = " (rank 0's share of " + std::to_string(cluster.size()) + " ranks)";
  if (speaker)
    std::cout << "lrplab " << LRP_VERSION << " (" << lrp::scalar_name() << "): " << a.path << ", "
              << config.methods.size() << " methods, " << config.threads << " thread(s), seed " << config.seed
              << (cluster.size() > 1 ? ", " + cluster.describe() : "") << "\n";
  const lrp::ExperimentReport report = lrp::run_experiment(config, registry, cluster);
  if (!speaker) return 0;
  std::cout << "\n" << lrp::format_report(report) << "\n";
  if (report.accuracy >= 0)
    std::printf("model accuracy on these %lld samples: %.4f\n",
                static_cast<long long>(report.distinct_samples()), report.accuracy);
  std::printf("time per stage:");
  for (const auto& [stage, seconds] : report.stage_seconds) std::printf(" %s %.2f s;", stage.c_str(), seconds);
  std::printf(" total %.2f s\n", report.total_seconds);
  print_metric_costs(report);
  std::cout << "results: " << report.results_path << "\n";
  if (!report.heatmap_folder.empty()) std::cout << "heatmaps and curves: " << report.heatmap_folder << "/\n";
  if (config.output.report) std::cout << "report: " << config.output.heatmaps << "/index.html\n";
  return 0;
}

int validate_command(const lrp::Registry& registry, const std::vector<std::string>& args) {
  const RunArgs a = parse_run_args(args, "lrplab validate", false);
  if (a.no_plugins) {
    // Only what needs no plugin code: the YAML, the keys, the files; rules and methods that only a
    // plugin defines are reported as unknown.
    const std::vector<std::string> plugins = lrp::read_experiment_plugins(a.path, a.overrides);
    for (const std::string& p : plugins) std::cout << "not loaded (--no-plugins): plugin " << p << "\n";
  }
  lrp::ExperimentConfig config = lrp::read_experiment_config(a.path, a.overrides, registry);
  if (a.no_plugins) config.plugins.clear();  // checked without them, as said above
  const lrp::PreparedExperiment p = lrp::prepare_experiment(config, registry, false);
  std::vector<std::string> metrics;
  if (config.conservation) metrics.push_back("conservation");
  if (config.pixel_flipping) metrics.push_back("pixel flipping");
  for (const lrp::Metric* m : lrp::metric_table()) {  // the suite's own checks against the model and data
    if (m->config_key() == nullptr || config.metrics.count(m->config_key()) == 0) continue;
    m->validate(config.metrics.at(m->config_key()), p.model.network, p.data.masks.rows() > 0);
    metrics.push_back(m->config_key());
  }
  std::cout << a.path << ": OK: model '" << p.model.spec.name << "'"
            << (config.model.training ? " (trained by the run)" : "") << ", " << p.samples << " samples"
            << (p.targets_per_sample > 1 ? " × " + std::to_string(p.targets_per_sample) + " targets" : "") << ", "
            << config.methods.size() << " methods:";
  for (const lrp::MethodConfig& m : config.methods) std::cout << " " << m.name;
  std::cout << "\n  evaluate:";
  for (std::size_t k = 0; k < metrics.size(); ++k) std::cout << (k ? ", " : " ") << metrics[k];
  std::cout << " of " << config.evaluated.size() << " methods; results to " << config.output.results << "\n";
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  // Keep freed blocks in the heap instead of returning them to the kernel: training and
  // explaining allocate the same large per-batch buffers again and again, and glibc's default
  // (mmap above 128 KB, trim on free) would turn each reuse into fresh page faults.
  mallopt(M_MMAP_THRESHOLD, 256 << 20);
  mallopt(M_TRIM_THRESHOLD, 512 << 20);
  lrp::remove_temporaries_on_signals();  // a killed run removes its lock files (lrp/core/files.hpp)
  try {
    std::vector<std::string> args(argv + 1, argv + argc);
    if (args.empty()) {
      print_usage();
      return 2;
    }
    if (args[0] == "--help" || args[0] == "-h") return lrplab::help_command({"help"});
    // Help before anything else: `--help` among a command's arguments wins over their errors.
    std::size_t first = 0;
    while (first < args.size() && args[first] == "--plugin") first += 2;
    if (first < args.size()) {
      const std::vector<std::string> rest(args.begin() + static_cast<std::ptrdiff_t>(first), args.end());
      if (rest[0] == "help") return lrplab::help_command(rest);
      if (lrplab::has_command_help(rest[0]) && lrplab::asks_for_help(rest)) {
        lrplab::print_command_help(rest[0]);
        return 0;
      }
    }
    // --plugin PATH anywhere after the program name: collected and removed before dispatch.
    std::vector<lrp::PluginEntry> plugins;
    for (std::size_t i = 0; i < args.size();) {
      if (args[i] != "--plugin") {
        ++i;
        continue;
      }
      LRP_CHECK(i + 1 < args.size(), "lrplab: --plugin needs a path to a plugin library");
      plugins.push_back({args[i + 1], ""});  // (the message names the path)
      args.erase(args.begin() + static_cast<std::ptrdiff_t>(i), args.begin() + static_cast<std::ptrdiff_t>(i) + 2);
    }
    LRP_CHECK(!args.empty(), "lrplab: no command (run, validate, list, train, model)");
    lrp::Registry registry;
    lrp::register_builtins(registry);
    bool no_plugins = false;
    if ((args[0] == "run" || args[0] == "validate") && args.size() >= 2) {
      const std::string command = "lrplab " + args[0];
      const RunArgs a = parse_run_args(args, command.c_str(), args[0] == "run");
      no_plugins = a.no_plugins;
      if (!no_plugins)
        for (const lrp::PluginEntry& p : lrp::read_experiment_plugin_entries(a.path, a.overrides)) plugins.push_back(p);
    }
    // A plugin is code that runs with this process's rights as soon as it is loaded: say which.
    for (const lrp::PluginEntry& p : plugins) {
      if (lrp::plugin_loaded(registry, p.path)) continue;  // named twice: loaded once
      if (args[0] == "validate")
        std::cout << "loading plugin " << p.path << " (its code runs now; --no-plugins skips it)\n";
      try {
        lrp::load_plugin(p.path, registry);
      } catch (const lrp::Error& e) {
        if (p.at.empty()) throw;
        throw lrp::Error(p.at + ": " + e.what());
      }
    }
    registry.freeze();
    if (args[0] == "--version") {
      std::cout << "lrplab " << LRP_VERSION << " (" << lrp::scalar_name() << ")\n";
      return 0;
    }
    if (args[0] == "list") {
      LRP_CHECK(args.size() <= 2, "lrplab list: expected at most one category (rules, layers, presets, methods or metrics)");
      list(registry, args.size() == 2 ? args[1] : "");
      return 0;
    }
    if (args[0] == "run") return run_command(registry, args);
    if (args[0] == "validate") return validate_command(registry, args);
    if (args[0] == "train") return train_command(registry, args);
    if (args[0] == "model") return model_command(registry, args);
    if (args[0] == "compare") return compare_command(args);
    print_usage();
    LRP_FAIL("lrplab: unknown command '", args[0], "'");
  } catch (const lrp::CollectiveError& e) {
    // Every rank of a multi-process run has this error (the failing rank's message): rank 0 says it.
    if (e.rank() == 0) std::cerr << "error: " << e.what() << '\n';
    return 1;
  } catch (const lrp::Error& e) {
    std::cerr << "error: " << e.what() << '\n';
    return 1;
  } catch (const std::bad_alloc&) {
    // Every large allocation is estimated and checked against limits.memory first; this is what
    // slipped through (or another process took the memory).
    std::cerr << "error: out of memory (the machine could not provide memory lrplab asked for; lower batch_size, "
                 "the number of samples or methods, or limits.memory)\n";
    return 1;
  } catch (const std::filesystem::filesystem_error& e) {
    std::cerr << "error: " << e.what() << '\n';
    return 1;
  } catch (const std::exception& e) {
    std::cerr << "internal error: " << e.what() << '\n';
    return 3;
  }
}
