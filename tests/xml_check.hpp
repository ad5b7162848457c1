// A minimal XML checker for the SVG tests: well-formedness as far as lrplab's SVGs go, and every
// element with its attributes and text.
#pragma once

#include <catch2/catch.hpp>

#include <algorithm>
#include <cctype>
#include <map>
#include <string>
#include <vector>

namespace lrp_test {

struct Element {
  std::string name;
  std::map<std::string, std::string> attributes;  // values as written (escaped)
  std::string text;                               // direct text content, as written
};

// Decodes the five predefined entities and numeric character references (ASCII only here);
// fails on any other '&'.
inline std::string unescape(const std::string& s) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '&') {
      out += s[i];
      continue;
    }
    const std::size_t semi = s.find(';', i);
    REQUIRE(semi != std::string::npos);
    const std::string entity = s.substr(i + 1, semi - i - 1);
    if (entity == "amp") out += '&';
    else if (entity == "lt") out += '<';
    else if (entity == "gt") out += '>';
    else if (entity == "quot") out += '"';
    else if (entity == "apos") out += '\'';
    else FAIL("unknown entity &" << entity << ";");
    i = semi;
  }
  return out;
}

inline bool is_name_char(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '-' || c == '_' || c == ':' || c == '.';
}

// Checks well-formedness (one root, balanced and properly nested tags, quoted attributes without
// '<', no stray '<' or '&' in text) and returns every element in document order.
inline std::vector<Element> parse_xml(const std::string& xml) {
  std::vector<Element> elements;
  std::vector<std::size_t> open;  // indices into elements
  std::size_t i = 0;
  if (xml.compare(0, 5, "<?xml") == 0) {
    i = xml.find("?>");
    REQUIRE(i != std::string::npos);
    i += 2;
  }
  int roots = 0;
  while (i < xml.size()) {
    if (xml[i] != '<') {
      const std::size_t next = std::min(xml.find('<', i), xml.size());
      const std::string text = xml.substr(i, next - i);
      if (open.empty()) {
        REQUIRE(text.find_first_not_of(" \t\r\n") == std::string::npos);  // only blanks outside the root
      } else {
        unescape(text);  // fails on a stray '&'
        elements[open.back()].text += text;
      }
      i = next;
      continue;
    }
    const std::size_t close = xml.find('>', i);
    REQUIRE(close != std::string::npos);
    std::string tag = xml.substr(i + 1, close - i - 1);
    i = close + 1;
    if (tag[0] == '/') {
      REQUIRE(!open.empty());
      CHECK(elements[open.back()].name == tag.substr(1));
      open.pop_back();
      continue;
    }
    const bool self_closing = tag.back() == '/';
    if (self_closing) tag.pop_back();
    Element e;
    std::size_t k = 0;
    while (k < tag.size() && is_name_char(tag[k])) e.name += tag[k++];
    REQUIRE(!e.name.empty());
    while (true) {
      while (k < tag.size() && std::isspace(static_cast<unsigned char>(tag[k]))) ++k;
      if (k == tag.size()) break;
      std::string name;
      while (k < tag.size() && is_name_char(tag[k])) name += tag[k++];
      REQUIRE(!name.empty());
      REQUIRE(k < tag.size());
      REQUIRE(tag[k] == '=');
      REQUIRE(k + 1 < tag.size());
      REQUIRE(tag[k + 1] == '"');
      const std::size_t end = tag.find('"', k + 2);
      REQUIRE(end != std::string::npos);
      const std::string value = tag.substr(k + 2, end - k - 2);
      REQUIRE(value.find('<') == std::string::npos);
      unescape(value);
      CHECK(e.attributes.count(name) == 0);  // no duplicate attributes
      e.attributes[name] = value;
      k = end + 1;
    }
    if (open.empty()) ++roots;
    elements.push_back(e);
    if (!self_closing) open.push_back(elements.size() - 1);
  }
  CHECK(open.empty());
  CHECK(roots == 1);
  return elements;
}

}  // namespace lrp_test
