// lrplab's help: `lrplab help`, `lrplab help COMMAND`, `lrplab COMMAND --help`, and
// `lrplab help config [SECTION]` (printed from the table of config keys, lrp/experiment/config_keys.hpp).
#pragma once

#include <string>
#include <vector>

namespace lrplab {

// Whether `command` is one that has a help text (run, validate, list, train, model, compare).
bool has_command_help(const std::string& command);

// Whether a command's arguments (args[0] is the command) ask for its help: --help or -h anywhere.
bool asks_for_help(const std::vector<std::string>& args);

// The help of one command on stdout.
void print_command_help(const std::string& command);

// `lrplab help [COMMAND | config [SECTION]]`: args[0] is "help". Returns the exit code (0); an
// unknown command or section is an lrp::Error.
int help_command(const std::vector<std::string>& args);

}  // namespace lrplab
