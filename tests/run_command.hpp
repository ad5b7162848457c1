// Running a shell command from a test: its output (stdout and stderr) and its wait status.
#pragma once

#include <catch2/catch.hpp>

#include <cstdio>
#include <string>

namespace lrp_test {

inline std::string run_command(const std::string& command, int& status) {
  std::string out;
  FILE* pipe = ::popen((command + " 2>&1").c_str(), "r");
  REQUIRE(pipe != nullptr);
  char buffer[4096];
  while (std::fgets(buffer, sizeof buffer, pipe) != nullptr) out += buffer;
  status = ::pclose(pipe);
  return out;
}

}  // namespace lrp_test
