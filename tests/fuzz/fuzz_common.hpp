// Shared by the fuzz targets (tests/fuzz/fuzz_*.cpp): the registry built once, logging silenced,
// one scratch folder per process for the files the readers take, and a small forward pass through
// the models the model targets obtain.
//
// The contract every target checks: lrplab turns bad input into lrp::Error. Each target catches
// lrp::Error and nothing else, so any other exception, a crash, a sanitizer report, a leak, a hang
// or a huge allocation is a finding.
#pragma once

#include "lrp/core/error.hpp"
#include "lrp/core/limits.hpp"
#include "lrp/core/log.hpp"
#include "lrp/io/model_file.hpp"
#include "lrp/io/onnx.hpp"
#include "lrp/nn/model.hpp"
#include "lrp/registry/registry.hpp"
#include "lrp/core/tensor.hpp"

#include <algorithm>
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>
#include <system_error>

#include <signal.h>
#include <unistd.h>

namespace lrp_fuzz {

// The built-in registry, frozen, built on first use (with logging turned off, and a memory limit
// of 1 GiB for everything lrplab reads, well below the fuzzer's 2.5 GB: a refusal is an lrp::Error,
// an allocation beyond it a finding).
inline const lrp::Registry& registry() {
  static const lrp::Registry instance = [] {
    lrp::logger()->set_level(spdlog::level::off);
    ::setenv("LRPLAB_MEMORY_LIMIT", "1GiB", 1);
    lrp::Registry r;
    lrp::register_builtins(r);
    r.freeze();
    return r;
  }();
  return instance;
}

// A folder of this process for the temporary input files (in /dev/shm when there is one: no disk
// writes at fuzzing speed), removed when the process exits normally. One path per file name is
// reused for every input.
class Scratch {
 public:
  Scratch() {
    std::error_code ec;
    const std::filesystem::path base =
        std::filesystem::is_directory("/dev/shm", ec) ? std::filesystem::path("/dev/shm")
                                                      : std::filesystem::temp_directory_path();
    // Folders of earlier processes that died (a crash skips the destructor; libFuzzer's fork mode
    // leaves one per crashed job) are removed first; so are the registration files of clang's
    // OpenMP runtime (/dev/shm/__KMP_REGISTERED_LIB_<pid>_<n>) of dead processes: every child of
    // a contained HDF5 read that reaches OpenMP registers one, and its _exit never removes it.
    for (const auto& entry : std::filesystem::directory_iterator(base, ec)) {
      const std::string name = entry.path().filename().string();
      std::string digits;
      if (name.rfind("lrp_fuzz_", 0) == 0) digits = name.substr(9);
      if (name.rfind("__KMP_REGISTERED_LIB_", 0) == 0) digits = name.substr(21, name.find('_', 21) - 21);
      if (digits.empty() || digits.size() > 9 || digits.find_first_not_of("0123456789") != std::string::npos) continue;
      const pid_t pid = static_cast<pid_t>(std::stol(digits));
      if (::kill(pid, 0) != 0 && errno == ESRCH) std::filesystem::remove_all(entry.path(), ec);
    }
    dir_ = base / ("lrp_fuzz_" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir_);
  }
  ~Scratch() {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  Scratch(const Scratch&) = delete;
  Scratch& operator=(const Scratch&) = delete;

  // Writes the bytes to <scratch>/<name> (replacing what was there) and returns its path.
  std::string write(const std::string& name, std::string_view bytes) const {
    const std::string path = (dir_ / name).string();
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    out.close();
    if (!out) std::abort();  // the harness itself failed (full /dev/shm?): not a finding in lrplab
    return path;
  }

 private:
  std::filesystem::path dir_;
};

// The limits of the readers that take them: 1 GiB, and 2 s for an HDF5 file (a sound one takes
// milliseconds; the libFuzzer timeout is 10 s, and libFuzzer runs an input twice when it suspects
// a leak: a file that hangs the HDF5 library must be an lrp::Error well before that).
inline lrp::Limits limits() {
  (void)registry();
  lrp::Limits l;
  l.read_seconds = 2;
  return l;
}

inline const Scratch& scratch() {
  static const Scratch instance;
  return instance;
}

// Called with every lrp::Error a target catches: prints the message when LRP_FUZZ_VERBOSE is set
// (to see which seeds a reader accepts and why it refuses the others), otherwise nothing.
inline void rejected(const lrp::Error& e) {
  static const bool verbose = std::getenv("LRP_FUZZ_VERBOSE") != nullptr;
  if (verbose) std::fprintf(stderr, "lrp::Error: %s\n", e.what());
}

inline std::string_view as_text(const uint8_t* data, size_t size) {
  return {reinterpret_cast<const char*>(data), size};
}

// One forward pass of a single all-zero sample (zero is a valid token id for an embedding) through
// a model, when the model is small enough for a fuzzing iteration (about 2^24 multiply-adds and
// 2^20 activation values at most); otherwise nothing. Loading a model checks its shapes; running
// it checks that what was accepted also computes.
inline void run_small_forward(const lrp::Model& model) {
  const lrp::Network& net = model.network;
  double values = 0, work = 0;
  const auto numel = [](const lrp::Shape& s) {
    double n = 1;
    for (lrp::Index d : s) n *= static_cast<double>(d);
    return n;
  };
  values += numel(net.input_shape());
  for (lrp::Index i = 0; i < net.size(); ++i) {
    const lrp::Layer& layer = net.layer(i);
    const double out = numel(layer.output_shape());
    values += out;
    const auto& w = layer.params().weight;
    work += out * static_cast<double>(std::max<lrp::Index>(1, w.cols())) + static_cast<double>(w.size());
  }
  if (values > double(1 << 20) || work > double(1 << 24)) return;
  lrp::Tensor x(1, net.input_shape());
  x.data.setZero();
  const lrp::ForwardPass pass = net.forward(x);
  if (pass.activations.size() != static_cast<std::size_t>(net.size()) + 1) std::abort();
}

}  // namespace lrp_fuzz
