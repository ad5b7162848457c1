// detail::InputFile (data_internal.hpp): a regular file open for reading, for the dataset readers.
#include "data_internal.hpp"
#include "lrp/core/files.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace lrp::detail {

InputFile::InputFile(const std::string& path, const std::string& what) : path_(path), what_(what) {
  check_input_file(path, what);
  // O_NONBLOCK: a FIFO put in the file's place since the check must not block the open.
  fd_ = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
  LRP_CHECK(fd_ >= 0, "cannot open ", what, " '", path, "' for reading: ", std::strerror(errno));
  struct stat st {};
  if (::fstat(fd_, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd_);
    LRP_FAIL(what, " '", path, "' is not a regular file");
  }
  ::fcntl(fd_, F_SETFL, ::fcntl(fd_, F_GETFL) & ~O_NONBLOCK);
  size_ = static_cast<std::uint64_t>(st.st_size);
}

InputFile::~InputFile() {
  if (fd_ >= 0) ::close(fd_);
}

std::uint64_t InputFile::read_at(void* out, std::uint64_t n, std::uint64_t offset) const {
  auto* bytes = static_cast<unsigned char*>(out);
  std::uint64_t total = 0;
  while (total < n) {
    const ::ssize_t got = ::pread(fd_, bytes + total, static_cast<std::size_t>(std::min<std::uint64_t>(n - total, 1u << 30)),
                                  static_cast<off_t>(offset + total));
    if (got < 0 && errno == EINTR) continue;
    LRP_CHECK(got >= 0, what_, " '", path_, "': reading it failed: ", std::strerror(errno));
    if (got == 0) break;
    total += static_cast<std::uint64_t>(got);
  }
  return total;
}

}  // namespace lrp::detail
