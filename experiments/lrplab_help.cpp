// lrplab's help texts: see lrplab_help.hpp. The config keys are not written here: `help config`
// prints the table the config readers check keys against (lrp/experiment/config_keys.hpp).
#include "lrplab_help.hpp"

#include "lrp/core/error.hpp"
#include "lrp/experiment/config_keys.hpp"

#include <algorithm>
#include <iostream>

namespace lrplab {

namespace {

struct CommandHelp {
  const char* name;
  const char* text;  // usage, what it does, arguments, options, an example
};

const CommandHelp kCommands[] = {
    {"run", R"(usage: lrplab run CONFIG [--set key.path=value]... [--threads N] [--plugin PATH]...

Runs an experiment: explains the config's data with each of its methods, evaluates the
explanations with its metrics, writes the HDF5 results file (and heatmaps and curves when
output.heatmaps is given) and prints the table of results and the time per stage.
Under mpirun -n K (an MPI build) the samples are shared among K processes (docs/mpi.md).

arguments:
  CONFIG                an experiment config, YAML (its keys: lrplab help config)
options:
  --set key.path=value  change the config before it is checked (repeatable); the value is YAML,
                        list entries are numbered: --set explain.0.params.steps=64
  --threads N           threads, 1 to 256 (the config's `threads`)
  --plugin PATH         load a plugin library first (repeatable); the config's `plugins:` are
                        loaded too
  -h, --help            this help

example:
  lrplab run configs/quickstart.yaml --set evaluate.pixel_flipping.fill=mean --threads 4
)"},
    {"validate", R"(usage: lrplab validate CONFIG [--set key.path=value]... [--no-plugins] [--plugin PATH]...

Checks an experiment config without running it: every key, type and range, the files, the
model (a model to be trained is only built), the data, each method against the network and
the memory estimate. Prints a summary and exits 0, or the first error (file:line:column) and
exits 1. Says which of the config's plugins it loads: their code runs.

arguments:
  CONFIG                an experiment config, YAML (its keys: lrplab help config)
options:
  --set key.path=value  change the config before it is checked (repeatable)
  --no-plugins          load none of the config's plugins (names only they define are unknown)
  --plugin PATH         load a plugin library first (repeatable)
  -h, --help            this help

example:
  lrplab validate configs/fmnist_pixel_flipping.yaml --set evaluate.pixel_flipping.patch=2
)"},
    {"list", R"(usage: lrplab list [rules|layers|presets|methods|metrics] [--plugin PATH]...

Prints what lrplab knows, with parameters, defaults and where each comes from (built-in or a
plugin): LRP rules, layer kinds (with their default rule), LRP presets, explanation methods
and metrics. These names and parameters are what an experiment config's explain entries
(kind, preset, rules, params, sweep) and evaluate entries take.

arguments:
  CATEGORY              one of rules, layers, presets, methods, metrics (default: all)
options:
  --plugin PATH         load a plugin library first, to list what it adds (repeatable)
  -h, --help            this help

example:
  lrplab list presets
)"},
    {"train", R"(usage: lrplab train CONFIG [--threads N] [--check] [--plugin PATH]...

Trains a model as a training config says (data, architecture, optimizer, schedule, ...) and
writes it to output.model with its provenance; prints the accuracies.

arguments:
  CONFIG                a training config, YAML (its keys: lrplab help config, the training config part)
options:
  --threads N           threads, 1 to 256 (the config's `threads`; the weights depend on it)
  --check               only read and check the config (and build the model), train nothing
  --plugin PATH         load a plugin library first (repeatable)
  -h, --help            this help

example:
  lrplab train configs/fmnist_train.yaml --check
)"},
    {"model", R"(usage: lrplab model FILE [--plugin PATH]...

Loads a model and prints its layers, input shape, outputs, input normalization (and where it
came from) and provenance.

arguments:
  FILE                  an lrplab HDF5 model file, an .onnx file or a YAML model description
options:
  --plugin PATH         load a plugin library first, e.g. one that defines a layer kind (repeatable)
  -h, --help            this help

example:
  lrplab model models/fmnist_cnn.h5
)"},
    {"compare", R"(usage: lrplab compare RESULTS_A RESULTS_B

Compares two results files dataset by dataset and attribute by attribute, except a run's
circumstances (times, host, ranks, run id, git commit, the config text and its overrides).
Exits 0 when they agree, 2 when they differ (each difference is printed), 1 on an error.

arguments:
  RESULTS_A, RESULTS_B  two HDF5 results files written by lrplab run
options:
  -h, --help            this help

example:
  lrplab compare results/a.h5 results/b.h5
)"},
};

const char* const kOverview = R"(lrplab: Layer-wise Relevance Propagation experiments

commands:
  run CONFIG             run an experiment: explain, evaluate, write the results and pictures
  validate CONFIG        check an experiment config, its files, model, data and methods
  list [CATEGORY]        the rules, layer kinds, presets, methods and metrics lrplab knows
  train CONFIG           train a model as a training config says
  model FILE             load a model file and describe it
  compare A B            compare two results files (exit 0: they agree, 2: they differ)
  help [COMMAND]         this overview, or a command's usage, options and an example
  help config [SECTION]  every config key with its type, default and meaning
  --version              the version

More: lrplab help COMMAND (or lrplab COMMAND --help); lrplab help config for the keys of the
configs. Every command takes --plugin PATH (repeatable): load a plugin library first.
)";

const char* file_heading(lrp::ConfigFile file) {
  return file == lrp::ConfigFile::kExperiment ? "experiment config (lrplab run, lrplab validate)"
                                              : "training config (lrplab train)";
}

// The name a section goes by on the command line: its path, "top" for the top level.
std::string section_name(const lrp::ConfigSection& s) { return s.path.empty() ? "top" : s.path; }

// A section selected by `name`: the same path, or one below it (data → data.subset).
bool selected(const lrp::ConfigSection& s, const std::string& name) {
  if (name == "top") return s.path.empty();
  return s.path == name || s.path.rfind(name + ".", 0) == 0;
}

int help_config(const std::string& name) {
  std::string out;
  const lrp::ConfigSection* previous = nullptr;
  for (const lrp::ConfigSection& s : lrp::config_sections()) {
    if (!name.empty() && !selected(s, name)) continue;
    if (previous == nullptr || previous->file != s.file) {
      if (previous != nullptr) out.append("\n");
      out.append("== ").append(file_heading(s.file)).append(" ==\n");
    }
    out.append("\n").append(lrp::describe_section(s));
    previous = &s;
  }
  if (previous == nullptr) {
    std::vector<std::string> names;
    for (const lrp::ConfigSection& s : lrp::config_sections())
      if (std::find(names.begin(), names.end(), section_name(s)) == names.end()) names.push_back(section_name(s));
    std::string list;
    for (const std::string& n : names) {
      if (!list.empty()) list.append(", ");
      list.append(n);
    }
    LRP_FAIL("lrplab help config: no section '", name, "'; sections: ", list);
  }
  if (name.empty())
    std::cout << "The keys of the configs, from the table the config validator checks them against: for each\n"
                 "key its type, its default (or \"required\") and its meaning. One section and those below it:\n"
                 "lrplab help config SECTION (e.g. output, data, evaluate.pixel_flipping, training; top for the\n"
                 "top levels). The parameters of methods, presets and rules (params:, sweep:) and of layers are\n"
                 "those of lrplab list; the keys of a model description are in docs/models.md.\n\n";
  std::cout << out;
  return 0;
}

}  // namespace

bool has_command_help(const std::string& command) {
  for (const CommandHelp& c : kCommands)
    if (command == c.name) return true;
  return false;
}

bool asks_for_help(const std::vector<std::string>& args) {
  for (std::size_t i = 1; i < args.size(); ++i)
    if (args[i] == "--help" || args[i] == "-h") return true;
  return false;
}

void print_command_help(const std::string& command) {
  for (const CommandHelp& c : kCommands)
    if (command == c.name) std::cout << c.text;
}

int help_command(const std::vector<std::string>& args) {
  if (args.size() < 2 || args[1] == "--help" || args[1] == "-h") {
    std::cout << kOverview;
    return 0;
  }
  const std::string& topic = args[1];
  if (topic == "config") {
    LRP_CHECK(args.size() <= 3, "lrplab help config: expected at most one section (lrplab help config SECTION)");
    return help_config(args.size() == 3 ? args[2] : "");
  }
  LRP_CHECK(args.size() == 2, "lrplab help: expected one command (lrplab help COMMAND)");
  if (topic == "help") {
    std::cout << kOverview;
    return 0;
  }
  if (!has_command_help(topic)) {
    std::string names;
    for (const CommandHelp& c : kCommands) names.append(c.name).append(", ");
    LRP_FAIL("lrplab help: no command '", topic, "'; commands: ", names, "config");
  }
  print_command_help(topic);
  return 0;
}

}  // namespace lrplab
