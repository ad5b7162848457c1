// Contained reads (see lrp::h5::contained in hdf5.hpp): a whole read of an HDF5 file in a forked
// child process first, so that a file on which libhdf5 crashes or loops is an lrp::Error. Kept apart
// from hdf5.cpp, the HDF5 wrapper itself, because it is process handling, not HDF5.
#include "lrp/core/error.hpp"
#include "lrp/io/hdf5.hpp"

#include <dlfcn.h>
#include <execinfo.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>

// A sanitizer runtime's death callback (libFuzzer writes a crash report through it): replaced in
// the probing child, whose crashes are the parent's to report. Weak: absent without sanitizers.
extern "C" void __sanitizer_set_death_callback(void (*callback)(void)) __attribute__((weak));

namespace lrp::h5 {

namespace {

#if defined(__SANITIZE_ADDRESS__)
constexpr bool kSanitized = true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
constexpr bool kSanitized = true;
#else
constexpr bool kSanitized = false;
#endif
#else
constexpr bool kSanitized = false;
#endif

int g_child_report = -1;  // the probing child's end of the pipe

void write_all(int fd, const std::string& text) {
  for (std::size_t at = 0; at < text.size();) {
    const ::ssize_t n = ::write(fd, text.data() + at, text.size() - at);
    if (n <= 0) return;
    at += static_cast<std::size_t>(n);
  }
}

// The sanitizer's death callback in the child: whose crash is it? Any frame of the stack inside
// libhdf5 makes it the HDF5 library's (lrplab's own code never runs below a libhdf5 frame).
void report_child_death() {
  void* frames[256];
  const int n = ::backtrace(frames, 256);
  bool in_hdf5 = false;
  for (int i = 0; i < n && !in_hdf5; ++i) {
    Dl_info info{};
    in_hdf5 = ::dladdr(frames[i], &info) != 0 && info.dli_fname != nullptr &&
              std::strstr(info.dli_fname, "libhdf5") != nullptr;
  }
  write_all(g_child_report, in_hdf5 ? "crash:hdf5" : "crash:lrplab");
}

}  // namespace

bool contained_failures_rerun_here() { return kSanitized; }

void contained(const std::string& path, const std::string& what, double seconds, const std::function<void()>& read) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) return;
  std::fflush(stdout);
  std::fflush(stderr);
  const pid_t pid = ::fork();
  if (pid < 0) {
    ::close(fds[0]);
    ::close(fds[1]);
    return;
  }
  if (pid == 0) {
    // The child reports only through the pipe: no output; a sanitizer's report ends in
    // report_child_death; otherwise the default action of every deadly signal.
    g_child_report = fds[1];
    if (__sanitizer_set_death_callback != nullptr) {
      void* warm[1];
      (void)::backtrace(warm, 1);  // (loads the unwinder now, not in the dying process)
      __sanitizer_set_death_callback(report_child_death);
    }
    for (const int s : {SIGABRT, SIGINT, SIGTERM, SIGHUP, SIGQUIT}) ::signal(s, SIG_DFL);
    if (!kSanitized)
      for (const int s : {SIGSEGV, SIGBUS, SIGILL, SIGFPE}) ::signal(s, SIG_DFL);
    const int quiet = ::open("/dev/null", O_WRONLY);
    if (quiet >= 0) {
      ::dup2(quiet, 1);
      ::dup2(quiet, 2);
    }
    std::string report = "ok";
    try {
      read();
    } catch (const Error& e) {
      report = std::string("error:") + e.what();
    } catch (const std::bad_alloc&) {
      report = "error:" + what + " '" + path + "': reading it needs more memory than there is";
    } catch (const std::exception& e) {
      report = "error:" + what + " '" + path + "': cannot be read (" + e.what() + ")";
    } catch (...) {
      report = "error:" + what + " '" + path + "': cannot be read";
    }
    write_all(fds[1], report);
    ::_exit(0);
  }
  ::close(fds[1]);
  std::string report;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  bool timed_out = false;
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      timed_out = true;
      break;
    }
    pollfd p{fds[0], POLLIN, 0};
    const int ready = ::poll(&p, 1, static_cast<int>(std::min<std::int64_t>(left.count(), 1000)));
    if (ready < 0 && errno == EINTR) continue;
    if (ready <= 0) continue;
    char buffer[4096];
    const ::ssize_t n = ::read(fds[0], buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;  // the child closed the pipe: it exited (or died)
    report.append(buffer, static_cast<std::size_t>(n));
  }
  ::close(fds[0]);
  if (timed_out) ::kill(pid, SIGKILL);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (timed_out)
    LRP_FAIL(what, " '", path, "': reading it did not finish within ", seconds,
             " s (the HDF5 library loops forever on some damaged files; limits.read_seconds raises the limit)");
  if (report == "ok" && WIFEXITED(status) && WEXITSTATUS(status) == 0) return;
  // Sanitizer builds: what is not the HDF5 library's crash runs again here, where an error is
  // thrown again (its code covered for the fuzzer) and a bug of lrplab's own gets its report.
  if (kSanitized && (report.rfind("error:", 0) == 0 || report == "crash:lrplab")) return;
  if (report.rfind("error:", 0) == 0) throw Error(report.substr(6));
  LRP_FAIL(what, " '", path, "': the HDF5 library crashed reading it (",
           WIFSIGNALED(status) ? "signal " + std::to_string(WTERMSIG(status))
                               : "exit code " + std::to_string(WEXITSTATUS(status)),
           "): the file is damaged or crafted; lrplab refuses it");
}

}  // namespace lrp::h5
