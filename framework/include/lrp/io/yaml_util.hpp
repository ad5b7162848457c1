// Reading YAML (model descriptions, experiment and training configs) with errors that point at the
// file, line and column, and suggest the closest valid key for a misspelt one.
#pragma once

#include "lrp/core/error.hpp"
#include "lrp/core/params.hpp"
#include "lrp/core/tensor.hpp"

#include <yaml-cpp/yaml.h>

#include <cstdint>
#include <string>
#include <vector>

namespace lrp::yaml {

// "source:line:column" (1-based) of a node; just "source" when the node has no position.
std::string where(const YAML::Node& node, const std::string& source);

// The largest YAML file lrplab reads (configs and model descriptions are a few KB).
inline constexpr std::uint64_t kMaxYamlBytes = 64 << 20;

// Loads a YAML file (a regular file of at most kMaxYamlBytes); a missing file, a syntax error or
// a structure check_structure refuses is an lrp::Error with the position.
YAML::Node load_file(const std::string& path);
// Parses YAML text and checks its structure; `source` names it in errors.
YAML::Node load_text(const std::string& text, const std::string& source);
// Throws lrp::Error (with positions) for YAML that yaml-cpp reads but lrplab refuses: a key that is
// not a plain scalar, a key given twice in one mapping (both positions named), a tree that expands
// through aliases to more than a million values, or that nests more than 200 levels deep.
void check_structure(const YAML::Node& root, const std::string& source);

// "source:line:column: unexpected YAML structure (<yaml-cpp's message>)" for an exception yaml-cpp
// throws while a config is read (a conversion or subscript on the wrong kind of node).
std::string describe(const YAML::Exception& e, const std::string& source);
// Runs fn(), turning a YAML::Exception into an lrp::Error (describe()): whatever structure a YAML
// file has, reading it ends in a positioned lrp::Error, never in yaml-cpp's exceptions.
template <typename Fn>
auto guarded(const std::string& source, Fn&& fn) -> decltype(fn()) {
  try {
    return fn();
  } catch (const YAML::Exception& e) {
    throw Error(describe(e, source));
  }
}

// Throws unless node is a mapping whose keys are all in `allowed`; an unknown key is reported
// with its position, the valid keys and the closest one. `what` names the mapping ("model", ...).
void check_keys(const YAML::Node& node, const std::vector<std::string>& allowed, const std::string& source,
                const std::string& what);
// Throws unless node[key] exists.
void require(const YAML::Node& node, const std::string& key, const std::string& source, const std::string& what);

// Typed reads with positioned errors; `what` describes the value ("layers[2].kernel").
double number(const YAML::Node& node, const std::string& source, const std::string& what);
Index whole(const YAML::Node& node, const std::string& source, const std::string& what, Index minimum = 0);
std::uint64_t seed(const YAML::Node& node, const std::string& source, const std::string& what);
bool boolean(const YAML::Node& node, const std::string& source, const std::string& what);
std::string string(const YAML::Node& node, const std::string& source, const std::string& what);
// A name (of a model, layer or class): non-empty, valid UTF-8, no control characters (it is stored
// in HDF5 files as UTF-8 and printed in messages).
std::string name(const YAML::Node& node, const std::string& source, const std::string& what);
// Whether `text` is valid UTF-8 (no overlong forms, no surrogates, nothing above U+10FFFF).
bool valid_utf8(const std::string& text);
// A number or a list of numbers (true/false read as 1/0), as a ParamValue.
ParamValue numbers(const YAML::Node& node, const std::string& source, const std::string& what);
std::vector<std::string> strings(const YAML::Node& node, const std::string& source, const std::string& what);

// Emits a ParamValue as a YAML scalar (one value) or flow sequence, with round-trip precision.
void emit_value(YAML::Emitter& out, const ParamValue& value);
// A double as text that reads back to the same double (shortest round-trip form).
std::string format_double(double value);

}  // namespace lrp::yaml
