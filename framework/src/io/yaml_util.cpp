// Positioned YAML reading: see yaml_util.hpp.
#include "lrp/io/yaml_util.hpp"

#include "lrp/core/error.hpp"
#include "lrp/core/files.hpp"

#include <charconv>
#include <cmath>
#include <filesystem>
#include <limits>
#include <map>

namespace lrp::yaml {

std::string where(const YAML::Node& node, const std::string& source) {
  // A key that is not there (a const look-up gives an invalid node, whose Mark() throws): the file.
  if (!node.IsDefined()) return source;
  const YAML::Mark m = node.Mark();
  if (m.is_null() || m.line < 0) return source;
  return source + ":" + std::to_string(m.line + 1) + ":" + std::to_string(m.column + 1);
}

namespace {

// YAML that yaml-cpp accepts but a config must not hold: keys that are not plain scalars, a key
// written twice in one mapping (yaml-cpp keeps the first silently), and trees that aliases expand
// beyond any config's size (an "alias bomb": `a: &a [x, x]`, `b: &b [*a, *a]`, ... doubles with
// every line) or nest deeper than any config does.
constexpr std::size_t kMaxValues = 1'000'000;
constexpr int kMaxDepth = 200;

void check_node(const YAML::Node& node, const std::string& source, int depth, std::size_t& values) {
  LRP_CHECK(++values <= kMaxValues, source, ": the YAML text expands to more than ", kMaxValues,
            " values (anchors and aliases that repeat each other?); lrplab refuses it");
  LRP_CHECK(depth <= kMaxDepth, where(node, source), ": the YAML text nests more than ", kMaxDepth,
            " levels deep (an alias inside its own anchor?)");
  if (node.IsSequence()) {
    for (const YAML::Node& item : node) check_node(item, source, depth + 1, values);
  } else if (node.IsMap()) {
    std::map<std::string, YAML::Mark> seen;
    for (const auto& entry : node) {
      const YAML::Node& key = entry.first;
      LRP_CHECK(key.IsScalar(), where(key, source), ": a key must be a plain name, got ",
                key.IsMap() ? "a mapping" : key.IsSequence() ? "a list" : "nothing");
      const auto [at, fresh] = seen.emplace(key.Scalar(), key.Mark());
      if (!fresh) {
        const YAML::Mark& first = at->second;
        LRP_FAIL(where(key, source), ": the key '", key.Scalar(), "' is given twice in one mapping (first at ",
                 source, ":", first.line + 1, ":", first.column + 1, "); remove one of them");
      }
      check_node(entry.second, source, depth + 1, values);
    }
  }
}

}  // namespace

void check_structure(const YAML::Node& root, const std::string& source) {
  std::size_t values = 0;
  check_node(root, source, 0, values);
}

YAML::Node load_file(const std::string& path) {
  return load_text(read_input_file(path, "YAML file", kMaxYamlBytes), path);
}

YAML::Node load_text(const std::string& text, const std::string& source) {
  YAML::Node root;
  try {
    root = YAML::Load(text);
  } catch (const YAML::ParserException& e) {
    LRP_FAIL(source, ":", e.mark.line + 1, ":", e.mark.column + 1, ": YAML syntax error: ", e.msg);
  } catch (const YAML::Exception& e) {  // e.g. yaml-cpp's nesting limit
    LRP_FAIL(source, ": cannot read the YAML text: ", e.msg);
  }
  check_structure(root, source);
  return root;
}

std::string describe(const YAML::Exception& e, const std::string& source) {
  const std::string at = e.mark.is_null() || e.mark.line < 0
                             ? source
                             : source + ":" + std::to_string(e.mark.line + 1) + ":" + std::to_string(e.mark.column + 1);
  return at + ": unexpected YAML structure (" + e.msg + ")";
}

void check_keys(const YAML::Node& node, const std::vector<std::string>& allowed, const std::string& source,
                const std::string& what) {
  LRP_CHECK(node.IsMap(), where(node, source), ": ", what, " must be a mapping (key: value lines)");
  for (const auto& entry : node) {
    const std::string key = entry.first.as<std::string>();
    bool known = false;
    for (const std::string& a : allowed) known = known || a == key;
    if (known) continue;
    std::string list;
    for (const std::string& a : allowed) list += (list.empty() ? "" : ", ") + a;
    const std::string close = closest_name(key, allowed);
    LRP_FAIL(where(entry.first, source), ": unknown key '", key, "' in ", what,
             close.empty() ? "" : " (did you mean '" + close + "'?)", "; valid keys: ", list);
  }
}

void require(const YAML::Node& node, const std::string& key, const std::string& source, const std::string& what) {
  LRP_CHECK(node.IsMap() && node[key], where(node, source), ": ", what, " needs the key '", key, "'");
}

namespace {

bool parse_double(const std::string& text, double& out) {
  if (text == ".inf" || text == ".Inf" || text == "+.inf") {
    out = std::numeric_limits<double>::infinity();
    return true;
  }
  if (text == "-.inf" || text == "-.Inf") {
    out = -std::numeric_limits<double>::infinity();
    return true;
  }
  const char* begin = text.data();
  const char* end = begin + text.size();
  if (begin != end && *begin == '+') ++begin;
  const auto [ptr, ec] = std::from_chars(begin, end, out);
  return ec == std::errc() && ptr == end && begin != end;
}

}  // namespace

double number(const YAML::Node& node, const std::string& source, const std::string& what) {
  LRP_CHECK(node.IsScalar(), where(node, source), ": ", what, " must be a number");
  const std::string text = node.Scalar();
  double v = 0;
  if (text == "true" || text == "false") return text == "true" ? 1.0 : 0.0;
  LRP_CHECK(parse_double(text, v), where(node, source), ": ", what, " must be a number, got '", text, "'");
  LRP_CHECK(std::isfinite(v), where(node, source), ": ", what, " must be finite, got ", text);
  return v;
}

Index whole(const YAML::Node& node, const std::string& source, const std::string& what, Index minimum) {
  const double v = number(node, source, what);
  LRP_CHECK(v == std::floor(v) && v >= static_cast<double>(minimum) && v < 9.0e15, where(node, source), ": ", what,
            " must be a whole number ≥ ", minimum, ", got ", node.Scalar());
  return static_cast<Index>(v);
}

std::uint64_t seed(const YAML::Node& node, const std::string& source, const std::string& what) {
  LRP_CHECK(node.IsScalar(), where(node, source), ": ", what, " must be a whole number ≥ 0");
  const std::string text = node.Scalar();
  std::uint64_t v = 0;
  const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  LRP_CHECK(ec == std::errc() && ptr == text.data() + text.size() && !text.empty(), where(node, source), ": ", what,
            " must be a whole number in [0, 2^64), got '", text, "'");
  return v;
}

bool boolean(const YAML::Node& node, const std::string& source, const std::string& what) {
  LRP_CHECK(node.IsScalar(), where(node, source), ": ", what, " must be true or false");
  const std::string t = node.Scalar();
  if (t == "true" || t == "True" || t == "yes" || t == "1") return true;
  if (t == "false" || t == "False" || t == "no" || t == "0") return false;
  LRP_FAIL(where(node, source), ": ", what, " must be true or false, got '", t, "'");
}

std::string string(const YAML::Node& node, const std::string& source, const std::string& what) {
  LRP_CHECK(node.IsScalar(), where(node, source), ": ", what, " must be a string");
  return node.Scalar();
}

bool valid_utf8(const std::string& text) {
  std::size_t i = 0;
  while (i < text.size()) {
    const auto c = static_cast<unsigned char>(text[i]);
    const std::size_t length = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xe ? 3 : (c >> 3) == 0x1e ? 4 : 0;
    if (length == 0 || i + length > text.size()) return false;
    std::uint32_t code = length == 1 ? c : c & (0xff >> (length + 1));
    for (std::size_t k = 1; k < length; ++k) {
      const auto next = static_cast<unsigned char>(text[i + k]);
      if ((next >> 6) != 0x2) return false;
      code = (code << 6) | (next & 0x3f);
    }
    static const std::uint32_t kSmallest[] = {0, 0, 0x80, 0x800, 0x10000};
    if (code < kSmallest[length] || code > 0x10ffff || (code >= 0xd800 && code <= 0xdfff)) return false;
    i += length;
  }
  return true;
}

std::string name(const YAML::Node& node, const std::string& source, const std::string& what) {
  const std::string text = string(node, source, what);
  LRP_CHECK(!text.empty(), where(node, source), ": ", what, " is empty; give a name or leave the key out");
  LRP_CHECK(valid_utf8(text), where(node, source), ": ", what, " is not valid UTF-8 text");
  for (const char c : text)
    LRP_CHECK(static_cast<unsigned char>(c) >= 0x20 && c != 0x7f, where(node, source), ": ", what,
              " holds a control character");
  return text;
}

ParamValue numbers(const YAML::Node& node, const std::string& source, const std::string& what) {
  if (node.IsScalar()) return {number(node, source, what)};
  LRP_CHECK(node.IsSequence() && node.size() > 0, where(node, source), ": ", what,
            " must be a number or a non-empty list of numbers");
  ParamValue out;
  for (std::size_t i = 0; i < node.size(); ++i)
    out.push_back(number(node[i], source, what + "[" + std::to_string(i) + "]"));
  return out;
}

std::vector<std::string> strings(const YAML::Node& node, const std::string& source, const std::string& what) {
  LRP_CHECK(node.IsSequence(), where(node, source), ": ", what, " must be a list of strings");
  std::vector<std::string> out;
  for (std::size_t i = 0; i < node.size(); ++i)
    out.push_back(string(node[i], source, what + "[" + std::to_string(i) + "]"));
  return out;
}

std::string format_double(double value) {
  if (std::isinf(value)) return value > 0 ? ".inf" : "-.inf";
  char buffer[64];
  const auto [ptr, ec] = std::to_chars(buffer, buffer + sizeof buffer, value);
  return ec == std::errc() ? std::string(buffer, ptr) : std::to_string(value);
}

void emit_value(YAML::Emitter& out, const ParamValue& value) {
  if (value.size() == 1) {
    out << format_double(value[0]);
    return;
  }
  out << YAML::Flow << YAML::BeginSeq;
  for (double v : value) out << format_double(v);
  out << YAML::EndSeq;
}

}  // namespace lrp::yaml
