// Reading inputs and writing outputs safely: the one place lrplab opens, creates and renames files.
//
// Inputs are regular files only: a FIFO, a device or a directory named as a model, data, config
// or plugin file is an error that says what it is (a FIFO would otherwise block the open forever).
//
// Outputs are never written in place. A file is written to a temporary
// ".<name>.lrplab-tmp-XXXXXX" created next to it with O_CREAT | O_EXCL | O_NOFOLLOW (a fresh,
// unpredictable name that no symbolic link can redirect), flushed, and renamed over the target.
// lrplab writes only to new paths and to regular files: an existing target that is a symbolic
// link, a FIFO, a device or a directory is refused, so a link planted at a results path cannot
// make a run overwrite the file it points to, and `results: /dev/null` does not replace the device.
// A run's outputs (the results file and the heatmaps folder) are staged in memory and made visible
// together by an OutputTransaction; an OutputLock keeps a second run from writing the same paths.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace lrp {

// ---------------------------------------------------------------- inputs

// Throws lrp::Error unless `path` names an existing regular file (a symbolic link to one is fine).
// The message is "<what> '<path>': <problem>", the problem being e.g. "no such file", "is a
// directory; expected a file", "is a named pipe (FIFO); expected a regular file" or "the file name
// is too long".
void check_input_file(const std::string& path, const std::string& what);

// The whole file, read through a descriptor opened without blocking and checked again to be a
// regular file (a FIFO swapped in after a check cannot hang the read). More than `max_bytes` is an
// error naming the size.
std::string read_input_file(const std::string& path, const std::string& what, std::uint64_t max_bytes);

// Whether the two paths name the same file: the same device and inode when both exist, otherwise
// the same absolute path once the symbolic links of its existing part are resolved.
bool same_file(const std::string& a, const std::string& b);
// Whether `path` is `folder` or lies inside it (resolved as same_file does).
bool inside_folder(const std::string& path, const std::string& folder);

// ---------------------------------------------------------------- outputs

enum class OutputKind { kFile, kFolder };

// Throws lrp::Error unless `path` may be written as `kind`: it does not exist, or it is a regular
// file (kFile) or a directory (kFolder) and not a symbolic link; its parent, if it exists, is a
// folder. Nothing is created. `what` names it ("output.results: results file").
void check_output_path(const std::string& path, OutputKind kind, const std::string& what);

// Writes `bytes` to `path`: `path` then holds either its old contents or all of the new ones (see
// the top of this file). The folder must exist.
void write_file_atomically(const std::string& path, const std::string& what, std::string_view bytes);

// An exclusive lock on an output path, held for the life of the object: a second OutputLock on the
// same path, in this or another process, throws lrp::Error naming the path and the process that
// holds it. The lock is a hidden file ".<name>.lrplab-lock" in the path's folder (or, when that
// folder does not exist yet, in its nearest existing ancestor), locked with flock(2) (released by
// the kernel when the process ends, however it ends) and removed when the lock is released.
// Taking the lock also removes temporaries that runs of the same path left when they were killed.
class OutputLock {
 public:
  OutputLock(const std::string& path, const std::string& what);
  ~OutputLock();
  OutputLock(const OutputLock&) = delete;
  OutputLock& operator=(const OutputLock&) = delete;
  const std::string& lock_file() const { return lock_path_; }

 private:
  int fd_ = -1;
  int slot_ = -1;  // its place in the list of files removed on SIGINT/SIGTERM/SIGHUP
  std::string lock_path_;
};

// A folder's contents to write: relative path ("gradient/sample_3.png") → bytes.
using FolderFiles = std::map<std::string, std::string>;

// The name of the manifest every heatmaps folder gets: the list of the files lrplab wrote there,
// one relative path per line, after a first line "lrplab heatmaps <version>".
inline constexpr const char* kFolderManifest = ".lrplab-files";

// Throws lrp::Error unless the existing folder `path` may be replaced by a run's pictures: it is
// empty, or everything in it was written by lrplab (listed in its manifest, or, for folders older
// than manifests, named as lrplab's pictures are). Lists what lrplab did not write.
void check_replaceable_folder(const std::string& path, const std::string& what);

// The files of a run, made visible together. add_* stage them in memory; commit() writes every
// file to a temporary next to its target and every folder to a temporary folder next to it, checks
// the targets again, then swaps each folder in (renameat2 RENAME_EXCHANGE: atomic) and renames each
// file over its target, and finally deletes the replaced folders. While it commits, SIGINT,
// SIGTERM, SIGHUP and SIGQUIT are held back (and delivered when it is done), so an interrupted run
// leaves either the old set of outputs or the complete new one. If any step fails, what was
// already swapped is swapped back and the temporaries are removed. (SIGKILL cannot be held back:
// killed between the folder swap and the file rename, a few microseconds, a run leaves the new
// pictures next to the old results file; the heatmaps folder's run.txt and the results' /meta
// run_id then differ. Killed anywhere else, it leaves the old set and hidden temporaries, which the
// next run of the same outputs removes.) For tests, LRPLAB_TEST_COMMIT_PAUSE=<seconds> pauses the
// commit once every temporary is written and before anything is renamed.
class OutputTransaction {
 public:
  void add_file(const std::string& path, std::string bytes, const std::string& what);
  // The folder's manifest (kFolderManifest) is added by commit().
  void add_folder(const std::string& path, FolderFiles files, const std::string& what);
  // Whether commit() creates missing parent folders (default: no, a missing folder is an error).
  // Folders it creates are removed again when the commit fails.
  void create_missing_folders(bool on) { create_folders_ = on; }
  void commit();

 private:
  struct Staged {
    std::string path, what;
    std::string bytes;   // a file
    FolderFiles files;   // a folder
    bool folder = false;
  };
  std::vector<Staged> staged_;
  bool create_folders_ = false;
};

// The CLI's signal set-up: on SIGINT, SIGTERM or SIGHUP, remove the lock files and temporaries
// still registered, then die of the signal as before. (A library user who installs no handler
// keeps the default actions; OutputTransaction::commit holds signals back either way.)
void remove_temporaries_on_signals();

}  // namespace lrp
