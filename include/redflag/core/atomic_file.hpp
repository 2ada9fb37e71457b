#pragma once

// Crash-safe file replacement, used by redflag::save, every component's
// save(path), the model registry, and available to hosts for their own state
// files (POSIX; tested on Linux).
//
// write_file_atomically(path, bytes):
//   1. creates a unique temporary file in path's directory (O_EXCL), so the
//      rename below never crosses a file system;
//   2. writes all bytes and fsyncs the file, so its data is on disk before
//      any name points at it;
//   3. renames it over path — POSIX rename is atomic: every reader opens
//      either the old file or the new one, never a mixture;
//   4. fsyncs the directory, so the rename itself survives a power loss.
//
// A process killed at any step leaves path untouched (or already replaced)
// and at most a stray "<name>.tmp-*" file, which the registry ignores and
// removes at its next register, promote or rollback.

#include <redflag/core/error.hpp>

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <random>
#include <string>
#include <string_view>

namespace redflag::detail {

inline constexpr std::string_view temporary_marker = ".tmp-";

inline bool is_temporary_file(const std::filesystem::path& path) {
  return path.filename().string().find(temporary_marker) != std::string::npos;
}

[[noreturn]] inline void fail_io(std::string_view where, std::string_view action, const std::filesystem::path& path,
                                 int error_number) {
  raise<io_error>(where, std::string(action) + " '" + path.string() + "' failed: " + std::strerror(error_number));
}

// Closes the descriptor on every path out of write_file_atomically.
class FileDescriptor {
 public:
  explicit FileDescriptor(int descriptor) : descriptor_(descriptor) {}
  FileDescriptor(const FileDescriptor&) = delete;
  FileDescriptor& operator=(const FileDescriptor&) = delete;
  ~FileDescriptor() {
    if (descriptor_ >= 0) ::close(descriptor_);
  }
  [[nodiscard]] int get() const { return descriptor_; }
  // Reports close errors, which on some file systems are the first sign of a failed write.
  int close() {
    const int result = ::close(descriptor_);
    descriptor_ = -1;
    return result;
  }

 private:
  int descriptor_;
};

inline void fsync_directory(const std::filesystem::path& directory, std::string_view where) {
  FileDescriptor dir(::open(directory.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (dir.get() < 0) fail_io(where, "opening directory", directory, errno);
  if (::fsync(dir.get()) != 0) fail_io(where, "fsync of directory", directory, errno);
}

// Replaces `path` with `bytes` atomically (see the header comment). On
// failure the temporary is removed, `path` is unchanged, and io_error names
// the step and the operating system's reason.
inline void write_file_atomically(const std::filesystem::path& path, std::string_view bytes, std::string_view where) {
  const std::filesystem::path directory = path.has_parent_path() ? path.parent_path() : std::filesystem::path(".");
  // Process id plus a random word: unique among concurrent writers, and
  // O_EXCL refuses a leftover of the same name rather than reusing it.
  std::random_device entropy;
  std::filesystem::path temporary;
  int descriptor = -1;
  for (int attempt = 0; descriptor < 0; ++attempt) {
    temporary = path;
    temporary += std::string(temporary_marker) + std::to_string(::getpid()) + "-" + std::to_string(entropy());
    descriptor = ::open(temporary.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (descriptor < 0 && (errno != EEXIST || attempt > 100)) fail_io(where, "creating", temporary, errno);
  }
  FileDescriptor file(descriptor);
  const auto abandon = [&](std::string_view action, int error_number) {
    ::unlink(temporary.c_str());
    fail_io(where, action, temporary, error_number);
  };
  std::size_t written = 0;
  while (written < bytes.size()) {
    const ::ssize_t result = ::write(file.get(), bytes.data() + written, bytes.size() - written);
    if (result < 0) {
      if (errno == EINTR) continue;
      abandon("writing", errno);
    }
    written += static_cast<std::size_t>(result);
  }
  if (::fsync(file.get()) != 0) abandon("fsync of", errno);
  if (file.close() != 0) abandon("closing", errno);
  if (::rename(temporary.c_str(), path.c_str()) != 0) {
    const int error_number = errno;
    ::unlink(temporary.c_str());
    fail_io(where, "renaming '" + temporary.string() + "' to", path, error_number);
  }
  fsync_directory(directory, where);
}

}  // namespace redflag::detail

namespace redflag {

// Replaces the file at `path` with `bytes` as described above: after a crash
// at any point the file holds either its old or its new content. Throws
// io_error naming the path and the failing step.
inline void write_file_atomically(const std::filesystem::path& path, std::string_view bytes) {
  detail::write_file_atomically(path, bytes, "write_file_atomically");
}

}  // namespace redflag
