// Safe inputs and outputs (see files.hpp): regular-file checks, unique temporaries, locks,
// all-or-nothing commits of a run's files, and clean-up on signals.
#include "lrp/core/files.hpp"

#include "lrp/core/error.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>
#include <random>
#include <set>
#include <sstream>
#include <system_error>
#include <thread>

#ifndef RENAME_NOREPLACE
#define RENAME_NOREPLACE (1 << 0)
#endif
#ifndef RENAME_EXCHANGE
#define RENAME_EXCHANGE (1 << 1)
#endif

namespace lrp {

namespace fs = std::filesystem;

namespace {

std::string errno_text(int error) { return std::system_category().message(error); }

// What a file of this mode is, for messages.
std::string kind_of(mode_t mode) {
  if (S_ISREG(mode)) return "a regular file";
  if (S_ISDIR(mode)) return "a directory";
  if (S_ISFIFO(mode)) return "a named pipe (FIFO)";
  if (S_ISCHR(mode)) return "a character device";
  if (S_ISBLK(mode)) return "a block device";
  if (S_ISSOCK(mode)) return "a socket";
  if (S_ISLNK(mode)) return "a symbolic link";
  return "a special file";
}

// The problem stat/lstat/open reported, worded for a user.
std::string path_problem(int error, const std::string& path) {
  switch (error) {
    case ENOENT: return "no such file";
    case ENOTDIR: return "no such file (a part of the path is not a folder)";
    case ENAMETOOLONG:
      return "the file name is too long (" + std::to_string(path.size()) +
             " characters; Linux allows 255 per name and 4095 per path)";
    case EACCES: return "permission denied";
    case ELOOP: return "too many levels of symbolic links";
    default: return errno_text(error);
  }
}

// ---------------------------------------------------------------- what to remove on a signal

// Fixed storage the signal handler can read without allocating: a slot is free (0), being filled
// (1) or active (2).
constexpr int kCleanupSlots = 64;
struct CleanupSlot {
  std::atomic<int> state{0};
  char path[4096] = {};
};
CleanupSlot g_cleanup[kCleanupSlots];
std::atomic<int> g_commits{0};          // commits in progress: signals are deferred
std::atomic<int> g_deferred_signal{0};  // a signal that arrived during a commit

int register_cleanup(const std::string& path) {
  if (path.size() >= sizeof(g_cleanup[0].path)) return -1;
  for (int i = 0; i < kCleanupSlots; ++i) {
    int expected = 0;
    if (!g_cleanup[i].state.compare_exchange_strong(expected, 1)) continue;
    std::memcpy(g_cleanup[i].path, path.c_str(), path.size() + 1);
    g_cleanup[i].state.store(2);
    return i;
  }
  return -1;  // full: the file is then only removed by the code that made it
}

void unregister_cleanup(int slot) {
  if (slot >= 0) g_cleanup[slot].state.store(0);
}

extern "C" void on_termination_signal(int signal_number) {
  if (g_commits.load() > 0) {  // OutputTransaction::commit delivers it when it is done
    g_deferred_signal.store(signal_number);
    return;
  }
  for (CleanupSlot& slot : g_cleanup)
    if (slot.state.load() == 2) ::unlink(slot.path);
  ::signal(signal_number, SIG_DFL);
  ::raise(signal_number);
}

constexpr int kDeferredSignals[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT};

// Holds termination signals back for its lifetime (in every thread: the handler, not a mask, does
// it), then delivers one that arrived through the action that was in place before.
class SignalDeferral {
 public:
  SignalDeferral() {
    g_commits.fetch_add(1);
    for (std::size_t i = 0; i < std::size(kDeferredSignals); ++i) {
      struct sigaction current {};
      ::sigaction(kDeferredSignals[i], nullptr, &current);
      if (current.sa_handler == SIG_IGN || current.sa_handler == on_termination_signal) continue;
      struct sigaction defer {};
      defer.sa_handler = on_termination_signal;
      sigemptyset(&defer.sa_mask);
      defer.sa_flags = SA_RESTART;
      if (::sigaction(kDeferredSignals[i], &defer, &previous_[i]) == 0) replaced_[i] = true;
    }
  }
  ~SignalDeferral() {
    for (std::size_t i = 0; i < std::size(kDeferredSignals); ++i)
      if (replaced_[i]) ::sigaction(kDeferredSignals[i], &previous_[i], nullptr);
    if (g_commits.fetch_sub(1) == 1) {
      if (const int s = g_deferred_signal.exchange(0); s != 0) ::raise(s);
    }
  }
  SignalDeferral(const SignalDeferral&) = delete;
  SignalDeferral& operator=(const SignalDeferral&) = delete;

 private:
  struct sigaction previous_[std::size(kDeferredSignals)] {};
  bool replaced_[std::size(kDeferredSignals)] = {};
};

// ---------------------------------------------------------------- names

std::string random_suffix() {
  static const char kAlphabet[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
  static thread_local std::mt19937_64 rng{std::random_device{}()};
  std::string out(12, 'x');
  for (char& c : out) c = kAlphabet[rng() % (sizeof kAlphabet - 1)];
  return out;
}

// The folder a path lives in ("." for a bare name).
fs::path folder_of(const fs::path& path) {
  const fs::path parent = path.parent_path();
  return parent.empty() ? fs::path(".") : parent;
}

// The prefix of every temporary of a target: ".<name>.lrplab-tmp-" (the name shortened so that a
// temporary's name stays within 255 bytes).
std::string temporary_prefix(const fs::path& target) {
  std::string name = target.filename().string();
  if (name.size() > 200) name.resize(200);
  return "." + name + ".lrplab-tmp-";
}

// ---------------------------------------------------------------- low-level writing

struct Fd {
  int fd = -1;
  explicit Fd(int f = -1) : fd(f) {}
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int release() {
    const int f = fd;
    fd = -1;
    return f;
  }
};

// Writes all bytes to fd; returns 0 or the errno of the failure.
int write_all(int fd, std::string_view bytes) {
  std::size_t written = 0;
  while (written < bytes.size()) {
    const ::ssize_t n = ::write(fd, bytes.data() + written, bytes.size() - written);
    if (n < 0) {
      if (errno == EINTR) continue;
      return errno;
    }
    written += static_cast<std::size_t>(n);
  }
  return 0;
}

// Writes all bytes through fd, flushes them to disk when asked, and closes it. Throws naming
// `shown` and `what`.
void write_and_close(Fd& fd, std::string_view bytes, bool flush, const std::string& what, const std::string& shown) {
  if (const int error = write_all(fd.fd, bytes); error != 0)
    LRP_FAIL("cannot write ", what, " '", shown, "': ", errno_text(error), " (", bytes.size(), " bytes to write)");
  if (flush && ::fsync(fd.fd) != 0) {
    const int error = errno;
    LRP_FAIL("cannot write ", what, " '", shown, "': flushing it to disk failed: ", errno_text(error));
  }
  if (::close(fd.release()) != 0) {
    const int error = errno;
    LRP_FAIL("cannot write ", what, " '", shown, "': closing it failed: ", errno_text(error));
  }
}

// Creates a new file `name` in the folder `dir_fd` (never following a link, never reusing a name)
// and writes it.
void write_new_file_at(int dir_fd, const std::string& name, std::string_view bytes, const std::string& what,
                       const std::string& shown) {
  Fd fd(::openat(dir_fd, name.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0666));
  if (fd.fd < 0) {
    const int error = errno;
    LRP_FAIL("cannot write ", what, " '", shown, "': cannot create it: ", errno_text(error));
  }
  write_and_close(fd, bytes, false, what, shown);
}

// Creates the missing folders of `folder` (outermost first), appending the ones it made to `made`.
void make_folders(const fs::path& folder, std::vector<fs::path>& made, const std::string& what) {
  if (folder.empty() || folder == ".") return;
  std::vector<fs::path> missing;
  for (fs::path p = folder; !p.empty(); p = p.parent_path()) {
    struct stat st {};
    if (::lstat(p.c_str(), &st) == 0) {
      LRP_CHECK(S_ISDIR(st.st_mode) || (S_ISLNK(st.st_mode) && fs::is_directory(p)), "cannot write ", what,
                ": '", p.string(), "' is ", kind_of(st.st_mode), ", not a folder");
      break;
    }
    missing.push_back(p);
    if (p == p.parent_path()) break;
  }
  for (auto it = missing.rbegin(); it != missing.rend(); ++it) {
    if (::mkdir(it->c_str(), 0777) != 0) {
      const int error = errno;
      if (error == EEXIST && fs::is_directory(*it)) continue;
      LRP_FAIL("cannot write ", what, ": cannot create the folder '", it->string(), "': ", errno_text(error));
    }
    made.push_back(*it);
  }
}

void remove_made_folders(std::vector<fs::path>& made) {
  for (auto it = made.rbegin(); it != made.rend(); ++it) ::rmdir(it->c_str());  // only empty ones go
  made.clear();
}

void fsync_folder(const fs::path& folder) {
  Fd fd(::open(folder.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (fd.fd >= 0) ::fsync(fd.fd);
}

// Writes a folder's files below the open folder dir_fd, making sub-folders as needed.
void write_folder_files(int dir_fd, const std::string& shown, const FolderFiles& files, const std::string& what) {
  for (const auto& [relative, bytes] : files) {
    std::vector<std::string> parts;
    std::stringstream split(relative);
    for (std::string part; std::getline(split, part, '/');) parts.push_back(part);
    for (const std::string& part : parts)
      LRP_CHECK(!part.empty() && part != "." && part != "..", "internal: bad relative path '", relative, "' in ", what);
    int at = dir_fd;
    std::vector<std::unique_ptr<Fd>> opened;
    for (std::size_t i = 0; i + 1 < parts.size(); ++i) {
      if (::mkdirat(at, parts[i].c_str(), 0777) != 0 && errno != EEXIST) {
        const int error = errno;
        LRP_FAIL("cannot write ", what, " '", shown, "/", relative, "': cannot create its folder: ", errno_text(error));
      }
      opened.push_back(std::make_unique<Fd>(::openat(at, parts[i].c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)));
      if (opened.back()->fd < 0) {
        const int error = errno;
        LRP_FAIL("cannot write ", what, " '", shown, "/", relative, "': cannot open its folder: ", errno_text(error));
      }
      at = opened.back()->fd;
    }
    write_new_file_at(at, parts.back(), bytes, what, shown + "/" + relative);
  }
}

// Swaps two directory entries in one step (renameat2 RENAME_EXCHANGE); on a file system without it,
// through a third name (three renames). Returns 0 or the errno of the failure.
int exchange(const std::string& a, const std::string& b, const std::string& third) {
  if (::renameat2(AT_FDCWD, a.c_str(), AT_FDCWD, b.c_str(), RENAME_EXCHANGE) == 0) return 0;
  if (errno != EINVAL && errno != ENOSYS && errno != ENOTSUP) return errno;
  if (::rename(b.c_str(), third.c_str()) != 0) return errno;
  if (::rename(a.c_str(), b.c_str()) != 0) {
    const int error = errno;
    ::rename(third.c_str(), b.c_str());
    return error;
  }
  return ::rename(third.c_str(), a.c_str()) == 0 ? 0 : errno;
}

// Moves `from` to the absent path `to` (renameat2 RENAME_NOREPLACE; without it, a check and a
// rename). Returns 0 or the errno of the failure.
int move_to_new(const std::string& from, const std::string& to) {
  if (::renameat2(AT_FDCWD, from.c_str(), AT_FDCWD, to.c_str(), RENAME_NOREPLACE) == 0) return 0;
  if (errno != EINVAL && errno != ENOSYS && errno != ENOTSUP) return errno;
  struct stat st {};
  if (::lstat(to.c_str(), &st) == 0) return EEXIST;
  return ::rename(from.c_str(), to.c_str()) == 0 ? 0 : errno;
}

// Old-style heatmaps folders (before manifests): the files earlier lrplab versions drew.
bool legacy_picture_name(const fs::path& relative) {
  const std::string name = relative.filename().string();
  const auto ends_with = [&](const char* suffix) {
    const std::size_t n = std::strlen(suffix);
    return name.size() >= n && name.compare(name.size() - n, n, suffix) == 0;
  };
  if (relative.has_parent_path() && relative.parent_path().has_parent_path()) return false;
  if (!relative.has_parent_path()) return name == "methods.png" || name == "morf.svg" || name == "lerf.svg";
  return name == "montage.png" || name == "pixel_flipping.svg" || (name.rfind("sample_", 0) == 0 && ends_with(".png"));
}

}  // namespace

// ---------------------------------------------------------------- inputs

void check_input_file(const std::string& path, const std::string& what) {
  LRP_CHECK(!path.empty(), what, ": the path is empty; expected a file");
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    const int error = errno;
    LRP_FAIL(what, " '", path, "': ", path_problem(error, path));
  }
  if (S_ISREG(st.st_mode)) return;
  if (S_ISDIR(st.st_mode)) LRP_FAIL(what, " '", path, "': is a directory; expected a file");
  LRP_FAIL(what, " '", path, "': is ", kind_of(st.st_mode), "; expected a regular file");
}

std::string read_input_file(const std::string& path, const std::string& what, std::uint64_t max_bytes) {
  check_input_file(path, what);
  Fd fd(::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY));
  if (fd.fd < 0) {
    const int error = errno;
    LRP_FAIL(what, " '", path, "': cannot open it: ", path_problem(error, path));
  }
  struct stat st {};
  if (::fstat(fd.fd, &st) != 0 || !S_ISREG(st.st_mode))
    LRP_FAIL(what, " '", path, "': is ", kind_of(st.st_mode), "; expected a regular file");
  LRP_CHECK(static_cast<std::uint64_t>(st.st_size) <= max_bytes, what, " '", path, "' has ", st.st_size,
            " bytes, more than the ", max_bytes, " lrplab reads from such a file");
  std::string bytes(static_cast<std::size_t>(st.st_size), '\0');
  std::size_t got = 0;
  while (got < bytes.size()) {
    const ::ssize_t n = ::read(fd.fd, bytes.data() + got, bytes.size() - got);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const int error = errno;
      LRP_FAIL(what, " '", path, "': reading it failed: ", errno_text(error));
    }
    if (n == 0) break;  // shrank while reading
    got += static_cast<std::size_t>(n);
  }
  bytes.resize(got);
  return bytes;
}

namespace {

// An absolute, normalized path with the symbolic links of its existing leading part resolved.
fs::path resolved(const std::string& path) {
  std::error_code ec;
  fs::path p = fs::weakly_canonical(fs::absolute(path, ec), ec);
  if (ec) p = fs::absolute(path, ec).lexically_normal();
  return p;
}

}  // namespace

bool same_file(const std::string& a, const std::string& b) {
  struct stat sa {}, sb {};
  if (::stat(a.c_str(), &sa) == 0 && ::stat(b.c_str(), &sb) == 0) return sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
  return resolved(a) == resolved(b);
}

bool inside_folder(const std::string& path, const std::string& folder) {
  const fs::path p = resolved(path), f = resolved(folder);
  auto pi = p.begin();
  for (auto fi = f.begin(); fi != f.end(); ++fi, ++pi) {
    if (fi->empty() && std::next(fi) == f.end()) break;  // a trailing separator
    if (pi == p.end() || *pi != *fi) return false;
  }
  return true;
}

// ---------------------------------------------------------------- outputs

void check_output_path(const std::string& path, OutputKind kind, const std::string& what) {
  LRP_CHECK(!path.empty(), what, ": the path is empty");
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0) {
    const int error = errno;
    if (error != ENOENT) LRP_FAIL(what, " '", path, "': ", path_problem(error, path));
    // A new path: the nearest existing ancestor must be a folder we can write into.
    for (fs::path p = fs::path(path).parent_path();; p = p.parent_path()) {
      const fs::path folder = p.empty() ? fs::path(".") : p;
      struct stat pst {};
      if (::stat(folder.c_str(), &pst) == 0) {
        LRP_CHECK(S_ISDIR(pst.st_mode), what, " '", path, "': '", folder.string(), "' is ", kind_of(pst.st_mode),
                  ", not a folder, so the path cannot be created");
        LRP_CHECK(::access(folder.c_str(), W_OK | X_OK) == 0, what, " '", path, "': the folder '", folder.string(),
                  "' is not writable");
        return;
      }
      if (p.empty() || p == p.parent_path()) return;
    }
  }
  if (S_ISLNK(st.st_mode)) {
    std::error_code ec;
    const fs::path to = fs::read_symlink(path, ec);
    LRP_FAIL(what, " '", path, "': is a symbolic link", ec ? std::string() : " (to '" + to.string() + "')",
             "; lrplab writes only to new paths and to regular files, so that a link cannot redirect a run's output: "
             "remove the link or give the path it points to");
  }
  if (kind == OutputKind::kFolder) {
    LRP_CHECK(S_ISDIR(st.st_mode), what, " '", path, "': exists and is ", kind_of(st.st_mode), ", not a folder");
    return;
  }
  if (S_ISDIR(st.st_mode)) LRP_FAIL(what, " '", path, "': is a directory; expected a file path such as results/run.h5");
  LRP_CHECK(S_ISREG(st.st_mode), what, " '", path, "': is ", kind_of(st.st_mode),
            "; lrplab writes only to new paths and to regular files");
}

void write_file_atomically(const std::string& path, const std::string& what, std::string_view bytes) {
  OutputTransaction t;
  t.add_file(path, std::string(bytes), what);
  t.commit();
}

void check_replaceable_folder(const std::string& path, const std::string& what) {
  check_output_path(path, OutputKind::kFolder, what);
  std::error_code ec;
  if (!fs::exists(path, ec)) return;
  std::set<std::string> listed;
  const fs::path manifest = fs::path(path) / kFolderManifest;
  const bool has_manifest = fs::is_regular_file(fs::symlink_status(manifest, ec));
  if (has_manifest) {
    std::istringstream lines(read_input_file(manifest.string(), what + " manifest", 16 << 20));
    std::string line;
    std::getline(lines, line);  // "lrplab heatmaps <version>"
    while (std::getline(lines, line))
      if (!line.empty()) listed.insert(line);
  }
  std::vector<std::string> foreign;
  for (auto it = fs::recursive_directory_iterator(path, ec); !ec && it != fs::recursive_directory_iterator();
       it.increment(ec)) {
    const fs::path relative = it->path().lexically_relative(path);
    const fs::file_status st = it->symlink_status(ec);
    if (fs::is_directory(st)) continue;  // judged by what is in it
    const bool ours = fs::is_regular_file(st) &&
                      (relative == kFolderManifest || listed.count(relative.generic_string()) > 0 ||
                       (!has_manifest && legacy_picture_name(relative)));
    if (!ours && foreign.size() < 5) foreign.push_back(relative.generic_string());
    else if (!ours) foreign.push_back("...");
    if (foreign.size() > 5) break;
  }
  LRP_CHECK(!ec, what, " '", path, "': cannot list the folder: ", ec.message());
  if (foreign.empty()) return;
  std::string list;
  for (const std::string& f : foreign) list += (list.empty() ? "'" : ", '") + f + "'";
  LRP_FAIL(what, " '", path, "': the folder holds files lrplab did not write (", list,
           "); a run replaces the whole heatmaps folder with its pictures, so give a new folder or move those files");
}

// ---------------------------------------------------------------- the lock

OutputLock::OutputLock(const std::string& path, const std::string& what) {
  // The lock lives next to the target, or in the nearest folder that exists (named after the rest
  // of the path), so that no folder is created before a run succeeds.
  fs::path folder = folder_of(path);
  std::string name = fs::path(path).filename().string();
  while (!fs::is_directory(folder)) {
    name = folder.filename().string() + "%" + name;
    const fs::path up = folder.parent_path();
    folder = up.empty() ? fs::path(".") : up;
    if (folder == folder.parent_path() && !fs::is_directory(folder)) break;
  }
  if (name.size() > 200) name = name.substr(name.size() - 200);
  lock_path_ = (folder / ("." + name + ".lrplab-lock")).string();
  for (int attempt = 0;; ++attempt) {
    Fd fd(::open(lock_path_.c_str(), O_RDWR | O_CREAT | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC, 0666));
    if (fd.fd < 0) {
      const int error = errno;
      LRP_FAIL(what, " '", path, "': cannot create the lock file '", lock_path_, "': ",
               error == ELOOP ? std::string("it is a symbolic link") : errno_text(error));
    }
    struct stat st {};
    LRP_CHECK(::fstat(fd.fd, &st) == 0 && S_ISREG(st.st_mode), what, " '", path, "': the lock file '", lock_path_,
              "' is ", kind_of(st.st_mode), ", not a regular file");
    if (::flock(fd.fd, LOCK_EX | LOCK_NB) != 0) {
      const int error = errno;
      char holder[32] = {};
      const ::ssize_t n = ::pread(fd.fd, holder, sizeof holder - 1, 0);
      std::string pid = n > 0 ? std::string(holder, static_cast<std::size_t>(n)) : std::string();
      while (!pid.empty() && (pid.back() == '\n' || pid.back() == ' ')) pid.pop_back();
      LRP_CHECK(error != EWOULDBLOCK, what, " '", path, "': another lrplab run",
                pid.empty() ? std::string() : " (process " + pid + ")",
                " is writing it; wait until it has finished, or write to another path (the lock is '", lock_path_,
                "')");
      LRP_FAIL(what, " '", path, "': cannot lock '", lock_path_, "': ", errno_text(error));
    }
    // The file may have been removed by its previous holder between our open and our lock: then
    // the lock is on a file nobody else can find, so take a fresh one.
    struct stat now {};
    if (::stat(lock_path_.c_str(), &now) != 0 || now.st_ino != st.st_ino || now.st_dev != st.st_dev) {
      LRP_CHECK(attempt < 100, what, " '", path, "': cannot settle the lock file '", lock_path_, "'");
      continue;
    }
    const std::string pid = std::to_string(::getpid()) + "\n";
    if (::ftruncate(fd.fd, 0) == 0) (void)::pwrite(fd.fd, pid.data(), pid.size(), 0);
    fd_ = fd.release();
    break;
  }
  slot_ = register_cleanup(lock_path_);
  // Temporaries of earlier runs of this path that were killed before they could remove them.
  std::error_code ec;
  const fs::path target_folder = folder_of(path);
  const std::string prefix = temporary_prefix(path);
  if (fs::is_directory(target_folder, ec)) {
    for (auto it = fs::directory_iterator(target_folder, ec); !ec && it != fs::directory_iterator(); it.increment(ec)) {
      if (it->path().filename().string().rfind(prefix, 0) != 0) continue;
      const fs::file_status st = it->symlink_status(ec);
      std::error_code ignored;
      if (fs::is_regular_file(st)) fs::remove(it->path(), ignored);
      else if (fs::is_directory(st)) fs::remove_all(it->path(), ignored);
    }
  }
}

OutputLock::~OutputLock() {
  unregister_cleanup(slot_);
  if (fd_ >= 0) {
    ::unlink(lock_path_.c_str());
    ::close(fd_);
  }
}

void remove_temporaries_on_signals() {
  for (const int s : {SIGINT, SIGTERM, SIGHUP}) {
    struct sigaction current {};
    ::sigaction(s, nullptr, &current);
    if (current.sa_handler == SIG_IGN) continue;  // e.g. SIGHUP under nohup
    struct sigaction action {};
    action.sa_handler = on_termination_signal;
    sigemptyset(&action.sa_mask);
    action.sa_flags = SA_RESTART;
    ::sigaction(s, &action, nullptr);
  }
}

// ---------------------------------------------------------------- the transaction

void OutputTransaction::add_file(const std::string& path, std::string bytes, const std::string& what) {
  Staged s;
  s.path = path;
  s.what = what;
  s.bytes = std::move(bytes);
  staged_.push_back(std::move(s));
}

void OutputTransaction::add_folder(const std::string& path, FolderFiles files, const std::string& what) {
  Staged s;
  s.path = path;
  s.what = what;
  s.files = std::move(files);
  s.folder = true;
  staged_.push_back(std::move(s));
}

namespace {

// A temporary a commit made: a folder or a file next to its target, registered for removal on a
// termination signal.
struct CommitTemporary {
  std::string path;
  int slot = -1;
  bool folder = false;
};

// A target put in place, and how to undo it.
struct CommitSwap {
  std::string target, temporary;
  bool exchanged = false;  // the old folder now sits at `temporary`
  bool file = false;
  std::string backup;  // a file's old contents, hard-linked aside
  std::string third;   // a spare name for swapping folders without RENAME_EXCHANGE
};

// What a commit has done so far: undone when it fails, tidied up when it succeeds.
struct CommitLog {
  std::vector<fs::path> made;                // folders this commit created
  std::vector<CommitTemporary> temporaries;  // removed at the end unless they became targets
  std::vector<CommitSwap> done;

  // A fresh temporary next to `target`: a folder (fd = -1), or a file kept open for writing (so
  // nothing can be swapped in between its creation and its writing).
  std::string unique_temporary(const std::string& target, bool folder, const std::string& what, int& fd) {
    const fs::path dir = folder_of(target);
    fd = -1;
    for (int attempt = 0; attempt < 100; ++attempt) {
      const std::string candidate = (dir / (temporary_prefix(target) + random_suffix())).string();
      const int slot = register_cleanup(candidate);
      const bool created =
          folder ? ::mkdir(candidate.c_str(), 0777) == 0
                 : (fd = ::open(candidate.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0666)) >= 0;
      if (created) {
        temporaries.push_back({candidate, slot, folder});
        return candidate;
      }
      const int error = errno;
      unregister_cleanup(slot);
      if (error != EEXIST)
        LRP_FAIL("cannot write ", what, " '", target, "': cannot create a temporary in '", dir.string(), "': ",
                 errno_text(error));
    }
    LRP_FAIL("cannot write ", what, " '", target, "': no free temporary name in '", dir.string(), "'");
  }

  // Puts the written temporary `t` in place of `path`: a folder swapped with (or moved to) its
  // target, a file renamed over it with its old contents kept aside until everything is in place.
  void put_in_place(const std::string& path, const std::string& t, bool folder, const std::string& what) {
    CommitSwap swap{path, t, false, !folder, "", ""};
    struct stat st {};
    const bool exists = ::lstat(path.c_str(), &st) == 0;
    if (folder) {
      swap.third = (folder_of(path) / (temporary_prefix(path) + random_suffix())).string();
      if (exists) {
        if (const int error = exchange(t, path, swap.third); error != 0)
          LRP_FAIL("cannot write ", what, " '", path, "': swapping the new folder in failed: ", errno_text(error));
        swap.exchanged = true;
      } else if (const int error = move_to_new(t, path); error != 0) {
        LRP_FAIL("cannot write ", what, " '", path, "': moving the new folder in failed: ", errno_text(error));
      }
    } else {
      if (exists) {  // keep the old contents reachable until every target is in place
        swap.backup = (folder_of(path) / (temporary_prefix(path) + random_suffix())).string();
        const int slot = register_cleanup(swap.backup);
        if (::link(path.c_str(), swap.backup.c_str()) != 0) {
          const int error = errno;
          unregister_cleanup(slot);
          LRP_FAIL("cannot write ", what, " '", path, "': cannot keep its old version aside: ", errno_text(error));
        }
        temporaries.push_back({swap.backup, slot, false});
      }
      if (::rename(t.c_str(), path.c_str()) != 0) {
        const int error = errno;
        LRP_FAIL("cannot write ", what, " '", path, "': renaming its temporary over it failed: ", errno_text(error));
      }
    }
    done.push_back(swap);
  }

  // After a failure: every target gets its old contents (or is absent) again, in reverse order.
  void undo() {
    for (auto it = done.rbegin(); it != done.rend(); ++it) {
      if (it->file) {
        if (!it->backup.empty()) ::rename(it->backup.c_str(), it->target.c_str());
        else ::unlink(it->target.c_str());
      } else if (it->exchanged) {
        exchange(it->temporary, it->target, it->third);
      } else {
        ::rename(it->target.c_str(), it->temporary.c_str());
      }
    }
    remove_temporaries();
    remove_made_folders(made);
  }

  // Removes the temporaries: after a failure, or after success what was replaced (old folders now
  // sit at their temporary names) and the backups.
  void remove_temporaries() {
    for (const CommitTemporary& t : temporaries) {
      std::error_code ignored;
      fs::remove_all(t.path, ignored);
      unregister_cleanup(t.slot);
    }
  }
};

// A staged folder's files and manifest, written into its temporary folder.
void write_folder_temporary(const std::string& temporary, const std::string& path, const FolderFiles& files,
                            const std::string& what) {
  Fd dir(::open(temporary.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (dir.fd < 0) {
    const int error = errno;
    LRP_FAIL("cannot write ", what, " '", path, "': cannot open its temporary folder: ", errno_text(error));
  }
  std::string manifest = "lrplab heatmaps " LRP_VERSION "\n";
  for (const auto& entry : files) manifest += entry.first + "\n";
  write_folder_files(dir.fd, path, files, what);
  write_new_file_at(dir.fd, kFolderManifest, manifest, what, path + "/" + kFolderManifest);
  ::fsync(dir.fd);
}

}  // namespace

void OutputTransaction::commit() {
  // Folders first, files last: the results file appears only once its pictures are in place.
  std::stable_partition(staged_.begin(), staged_.end(), [](const Staged& s) { return s.folder; });
  for (const Staged& s : staged_) check_output_path(s.path, s.folder ? OutputKind::kFolder : OutputKind::kFile, s.what);

  SignalDeferral deferral;
  CommitLog log;
  try {
    for (const Staged& s : staged_) {
      const fs::path folder = folder_of(s.path);
      if (create_folders_) make_folders(folder, log.made, s.what);
      LRP_CHECK(fs::is_directory(folder), "cannot write ", s.what, " '", s.path, "': the folder '", folder.string(),
                "' does not exist");
    }
    std::vector<std::string> temporary_of(staged_.size());
    for (std::size_t i = 0; i < staged_.size(); ++i) {
      const Staged& s = staged_[i];
      int file_fd = -1;
      temporary_of[i] = log.unique_temporary(s.path, s.folder, s.what, file_fd);
      if (s.folder) {
        write_folder_temporary(temporary_of[i], s.path, s.files, s.what);
      } else {
        Fd fd(file_fd);
        write_and_close(fd, s.bytes, true, s.what, s.path);
      }
    }
    // Fault injection for the signal tests: a pause with every temporary written and nothing renamed.
    if (const char* pause = std::getenv("LRPLAB_TEST_COMMIT_PAUSE"); pause != nullptr)
      std::this_thread::sleep_for(std::chrono::duration<double>(std::atof(pause)));
    // Everything is written: check the targets once more, then put the new files in place.
    for (const Staged& s : staged_) check_output_path(s.path, s.folder ? OutputKind::kFolder : OutputKind::kFile, s.what);
    for (std::size_t i = 0; i < staged_.size(); ++i)
      log.put_in_place(staged_[i].path, temporary_of[i], staged_[i].folder, staged_[i].what);
  } catch (...) {
    log.undo();
    throw;
  }
  // Committed: remove what was replaced and the backups; flush the folders' entries.
  log.remove_temporaries();
  std::set<std::string> folders;
  for (const Staged& s : staged_) folders.insert(folder_of(s.path).string());
  for (const std::string& f : folders) fsync_folder(f);
}

}  // namespace lrp
