// Interrupted runs: SIGINT, SIGTERM and SIGKILL sent to `lrplab run` early, in the middle of the
// work and while the outputs are being written leave either the old complete set of outputs (the
// results file and the heatmaps folder of the previous run) or the new complete set, never a mix,
// and never a leftover that looks like a result.
#include "experiment_support.hpp"
#include "temp_dir.hpp"

#include "lrp/io/hdf5.hpp"

#include <catch2/catch.hpp>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <thread>

using Catch::Contains;
using lrp_test::TempDir;
namespace fs = std::filesystem;

namespace {

// What a folder holds: the results file's run id (empty: no results file) and the pictures' run.txt.
struct Outputs {
  std::string results_run, pictures_run;
  std::vector<char> results_bytes;
};

Outputs outputs_in(const std::string& folder) {
  Outputs o;
  const std::string results = folder + "/results.h5";
  if (fs::exists(results)) {
    o.results_bytes = lrp_test::read_file_bytes(results);
    o.results_run = lrp::h5::File::open(results).string_attribute("/meta", "run_id");  // a complete file
  }
  const std::vector<char> run_txt = lrp_test::read_file_bytes(folder + "/maps/run.txt");
  const std::string text(run_txt.begin(), run_txt.end());
  const auto at = text.find("run: ");
  if (at != std::string::npos) o.pictures_run = text.substr(at + 5, 32);
  return o;
}

// Starts `lrplab run config` (output discarded) with an extra environment variable (or none).
pid_t start_run(const std::string& config, const std::string& environment) {
  std::fflush(stdout);  // (the child would print what is still buffered)
  std::fflush(stderr);
  const pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    if (!environment.empty()) ::putenv(const_cast<char*>(environment.c_str()));
    std::freopen("/dev/null", "w", stdout);
    std::freopen("/dev/null", "w", stderr);
    ::execl(LRPLAB_EXE, LRPLAB_EXE, "run", config.c_str(), static_cast<char*>(nullptr));
    ::_exit(127);
  }
  return pid;
}

// Waits (at most 300 s: a sanitizer build on a busy machine is slow) until some entry of `folder` has a name containing `part`.
bool wait_for_entry(const std::string& folder, const std::string& part, pid_t pid) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(300);
  while (std::chrono::steady_clock::now() < deadline) {
    std::error_code ec;
    for (const auto& e : fs::recursive_directory_iterator(folder, ec))
      if (e.path().filename().string().find(part) != std::string::npos) return true;
    int status = 0;
    if (::waitpid(pid, &status, WNOHANG) == pid) return false;  // it ended first
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  return false;
}

// Everything in the folder that lrplab left besides the outputs must be hidden (".name...").
std::vector<std::string> visible_leftovers(const std::string& folder) {
  std::vector<std::string> found;
  for (const auto& e : fs::directory_iterator(folder)) {
    const std::string name = e.path().filename().string();
    if (name != "results.h5" && name != "maps" && name != "run.yaml" && name[0] != '.') found.push_back(name);
  }
  return found;
}

}  // namespace

TEST_CASE("Interrupted runs leave the old outputs or the new ones complete, never a mix", "[signals]") {
  TempDir dir("lrp_signals");
  const std::string folder = fs::path(dir.file("x")).parent_path().string();
  const std::string config = dir.file("run.yaml");
  std::ofstream(config) << "seed: 1\nthreads: 1\n"
                        << "data: {format: synthetic, shape: [1, 28, 28], count: 30, classes: 10}\n"
                        << "model: {file: " << LRP_TEST_FIXTURES << "/../../models/fmnist_cnn.h5}\n"
                        << "explain: [gradient, epsilon_plus_flat]\n"
                        << "evaluate: {pixel_flipping: {patch: 4, random_repeats: 2}}\n"
                        << "output: {results: " << folder << "/results.h5, heatmaps: " << folder << "/maps}\n";
  // The complete outputs of a first run.
  {
    const pid_t pid = start_run(config, "");
    int status = 0;
    REQUIRE(::waitpid(pid, &status, 0) == pid);
    REQUIRE(WIFEXITED(status));
    REQUIRE(WEXITSTATUS(status) == 0);
  }
  Outputs before = outputs_in(folder);
  REQUIRE(before.results_run.size() == 32);
  REQUIRE(before.pictures_run == before.results_run);

  enum class When { kEarly, kWorking, kWriting };
  for (const int signal_number : {SIGINT, SIGTERM, SIGKILL}) {
    for (const When when : {When::kEarly, When::kWorking, When::kWriting}) {
      INFO("signal " << signal_number << ", moment " << static_cast<int>(when));
      const pid_t pid = start_run(config, when == When::kWriting ? "LRPLAB_TEST_COMMIT_PAUSE=1.5" : "");
      if (when == When::kEarly) std::this_thread::sleep_for(std::chrono::milliseconds(5));
      // Working: the run holds its lock; writing: its temporaries exist and nothing is renamed yet.
      if (when == When::kWorking) REQUIRE(wait_for_entry(folder, ".lrplab-lock", pid));
      if (when == When::kWorking) std::this_thread::sleep_for(std::chrono::milliseconds(100));
      if (when == When::kWriting) REQUIRE(wait_for_entry(folder, ".lrplab-tmp-", pid));
      REQUIRE(::kill(pid, signal_number) == 0);
      int status = 0;
      REQUIRE(::waitpid(pid, &status, 0) == pid);
      CHECK(WIFSIGNALED(status));  // it died of the signal (SIGINT/SIGTERM: after the commit, if writing)
      if (WIFSIGNALED(status)) CHECK(WTERMSIG(status) == signal_number);

      const Outputs after = outputs_in(folder);
      REQUIRE(after.results_run.size() == 32);  // a complete results file is always there
      CHECK(after.pictures_run == after.results_run);  // and its own pictures
      if (when == When::kWriting && signal_number != SIGKILL) {
        CHECK(after.results_run != before.results_run);  // held back until the new set was in place
      } else {
        CHECK(after.results_run == before.results_run);  // the old set, unchanged
        CHECK(after.results_bytes == before.results_bytes);
      }
      CHECK(visible_leftovers(folder).empty());
      // SIGINT and SIGTERM: the run removed its lock file and temporaries itself.
      if (signal_number != SIGKILL) CHECK(lrp_test::leftovers(folder).empty());
      before = after;
    }
  }
  // After the SIGKILLs, the next run removes their hidden leftovers and completes.
  const pid_t pid = start_run(config, "");
  int status = 0;
  REQUIRE(::waitpid(pid, &status, 0) == pid);
  CHECK(WIFEXITED(status));
  const Outputs last = outputs_in(folder);
  CHECK(last.results_run != before.results_run);
  CHECK(last.pictures_run == last.results_run);
  CHECK(lrp_test::leftovers(folder).empty());
}
