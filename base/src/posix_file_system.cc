// The real FileSystem, over POSIX calls.
#include <fcntl.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <filesystem>
#include <system_error>

#include "sluice/base/file_system.h"

namespace sluice {
namespace {

class PosixFile final : public File {
 public:
  PosixFile(std::string path, int fd, uint64_t size)
      : path_(std::move(path)), fd_(fd), end_(size), writeback_from_(size) {}
  ~PosixFile() override { ::close(fd_); }

  Result<size_t> read_at(uint64_t offset, char* dst, size_t n) const override {
    size_t done = 0;
    while (done < n) {
      ssize_t r = ::pread(fd_, dst + done, n - done, static_cast<off_t>(offset + done));
      if (r < 0) {
        if (errno == EINTR) continue;
        return errno_status("read " + path_, errno);
      }
      if (r == 0) break;
      done += static_cast<size_t>(r);
    }
    return done;
  }

  Status append(ByteView data) override {
    uint64_t pos = end_.load(std::memory_order_relaxed);
    size_t done = 0;
    while (done < data.size()) {
      ssize_t w =
          ::pwrite(fd_, data.data() + done, data.size() - done, static_cast<off_t>(pos + done));
      if (w < 0) {
        if (errno == EINTR) continue;
        int err = errno;
        end_.store(pos + done, std::memory_order_release);
        return errno_status("write " + path_, err);
      }
      done += static_cast<size_t>(w);
    }
    end_.store(pos + done, std::memory_order_release);
    return Status();
  }

  Status sync() override {
    if (::fdatasync(fd_) != 0) return errno_status("fdatasync " + path_, errno);
    return Status();
  }

  void start_writeback() override {
    const uint64_t end = end_.load(std::memory_order_acquire);
    if (end <= writeback_from_) return;
    // Errors are sync()'s to report; a file system without the call just waits for sync().
    (void)::sync_file_range(fd_, static_cast<off_t>(writeback_from_),
                            static_cast<off_t>(end - writeback_from_), SYNC_FILE_RANGE_WRITE);
    writeback_from_ = end;
  }

  Status truncate(uint64_t size) override {
    if (::ftruncate(fd_, static_cast<off_t>(size)) != 0) {
      return errno_status("truncate " + path_, errno);
    }
    end_.store(size, std::memory_order_release);
    writeback_from_ = std::min(writeback_from_, size);
    return Status();
  }

  uint64_t size() const override { return end_.load(std::memory_order_acquire); }
  const std::string& path() const override { return path_; }

 private:
  std::string path_;
  int fd_;
  std::atomic<uint64_t> end_;  // the writer's append position
  uint64_t writeback_from_;    // writeback of everything before this has been started
};

class PosixMappedFile final : public MappedFile {
 public:
  PosixMappedFile(void* addr, size_t len) : addr_(addr), len_(len) {}
  ~PosixMappedFile() override {
    if (addr_ != nullptr) ::munmap(addr_, len_);
  }
  ByteView data() const override { return {static_cast<const char*>(addr_), len_}; }

 private:
  void* addr_;
  size_t len_;
};

class PosixFileLock final : public FileLock {
 public:
  explicit PosixFileLock(int fd) : fd_(fd) {}
  ~PosixFileLock() override {
    ::flock(fd_, LOCK_UN);
    ::close(fd_);
  }

 private:
  int fd_;
};

class PosixFileSystem final : public FileSystem {
 public:
  Result<std::unique_ptr<File>> open(const std::string& path, const OpenOptions& opts) override {
    int flags = O_CLOEXEC;
    bool writable = opts.writable || opts.create || opts.truncate;
    flags |= writable ? O_RDWR : O_RDONLY;
    if (opts.create) flags |= O_CREAT;
    if (opts.create && opts.exclusive) flags |= O_EXCL;
    if (opts.truncate) flags |= O_TRUNC;
    int fd = ::open(path.c_str(), flags, 0644);
    if (fd < 0) {
      int err = errno;
      if (err == EEXIST) return already_exists("open " + path + ": file exists");
      return errno_status("open " + path, err);
    }
    struct stat st;
    if (::fstat(fd, &st) != 0) {
      int err = errno;
      ::close(fd);
      return errno_status("stat " + path, err);
    }
    return std::unique_ptr<File>(
        std::make_unique<PosixFile>(path, fd, static_cast<uint64_t>(st.st_size)));
  }

  Result<std::unique_ptr<MappedFile>> map_readonly(const std::string& path) override {
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return errno_status("open " + path, errno);
    struct stat st;
    if (::fstat(fd, &st) != 0) {
      int err = errno;
      ::close(fd);
      return errno_status("stat " + path, err);
    }
    auto len = static_cast<size_t>(st.st_size);
    void* addr = nullptr;
    if (len > 0) {
      addr = ::mmap(nullptr, len, PROT_READ, MAP_SHARED, fd, 0);
      if (addr == MAP_FAILED) {
        int err = errno;
        ::close(fd);
        return errno_status("mmap " + path, err);
      }
    }
    ::close(fd);  // the mapping keeps the file alive
    return std::unique_ptr<MappedFile>(std::make_unique<PosixMappedFile>(addr, len));
  }

  Status create_dirs(const std::string& path) override {
    std::error_code ec;
    std::filesystem::create_directories(path, ec);
    if (ec) return errno_status("create directory " + path, ec.value());
    return Status();
  }

  Result<std::vector<std::string>> list_dir(const std::string& dir) override {
    std::error_code ec;
    std::vector<std::string> names;
    for (std::filesystem::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
      names.push_back(it->path().filename().string());
    }
    if (ec) return errno_status("list directory " + dir, ec.value());
    return names;
  }

  Status remove_file(const std::string& path) override {
    if (::unlink(path.c_str()) != 0) return errno_status("remove " + path, errno);
    return Status();
  }

  Status remove_all(const std::string& path) override {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
    if (ec) return errno_status("remove " + path, ec.value());
    return Status();
  }

  Status rename(const std::string& from, const std::string& to) override {
    if (::rename(from.c_str(), to.c_str()) != 0) {
      return errno_status("rename " + from + " to " + to, errno);
    }
    return Status();
  }

  Status sync_dir(const std::string& dir) override {
    int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return errno_status("open directory " + dir, errno);
    int rc = ::fsync(fd);
    int err = errno;
    ::close(fd);
    if (rc != 0) return errno_status("fsync directory " + dir, err);
    return Status();
  }

  bool exists(const std::string& path) override { return ::access(path.c_str(), F_OK) == 0; }

  Result<uint64_t> file_size(const std::string& path) override {
    struct stat st;
    if (::stat(path.c_str(), &st) != 0) return errno_status("stat " + path, errno);
    return static_cast<uint64_t>(st.st_size);
  }

  Result<std::unique_ptr<FileLock>> lock_file(const std::string& path) override {
    int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) return errno_status("open lock file " + path, errno);
    if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
      int err = errno;
      ::close(fd);
      if (err == EWOULDBLOCK) {
        return failed_precondition(path +
                                   " is locked by another process: is another sluice using this "
                                   "data directory?");
      }
      return errno_status("lock " + path, err);
    }
    return std::unique_ptr<FileLock>(std::make_unique<PosixFileLock>(fd));
  }
};

}  // namespace

FileSystem& FileSystem::posix() {
  static PosixFileSystem fs;
  return fs;
}

Status write_file_atomically(FileSystem& fs, const std::string& path, ByteView data) {
  std::string tmp = path + ".tmp";
  {
    SLUICE_ASSIGN_OR_RETURN(auto file, fs.open(tmp, {.create = true, .truncate = true}));
    SLUICE_RETURN_IF_ERROR(file->append(data));
    SLUICE_RETURN_IF_ERROR(file->sync());
  }
  SLUICE_RETURN_IF_ERROR(fs.rename(tmp, path));
  std::string dir = std::filesystem::path(path).parent_path().string();
  return fs.sync_dir(dir.empty() ? "." : dir);
}

Result<Bytes> read_file(FileSystem& fs, const std::string& path) {
  SLUICE_ASSIGN_OR_RETURN(auto file, fs.open(path, {}));
  Bytes out(file->size(), '\0');
  SLUICE_ASSIGN_OR_RETURN(size_t n, file->read_at(0, out.data(), out.size()));
  out.resize(n);
  return out;
}

}  // namespace sluice
