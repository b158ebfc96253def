// FileSystem: the seam between Sluice's storage and the operating system.
//
// The log store does all its file I/O through a FileSystem, never through POSIX directly, so
// that tests can substitute one that injects failures (a full disk, an I/O error) or simulates a
// power cut by dropping every write that was not yet synced. FileSystem::posix() is the real one.
//
// Thread safety: a FileSystem is safe to use from many threads. A File may be read (read_at,
// size) from many threads while one thread writes it (append, sync, truncate); two writers on
// one File are a bug.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "sluice/base/bytes.h"
#include "sluice/base/result.h"
#include "sluice/base/status.h"

namespace sluice {

// An open file. Reads are positional; writes append at the file's end.
class File {
 public:
  virtual ~File() = default;

  // Reads up to `n` bytes at `offset` into `dst`; returns how many were read (fewer only at the
  // end of the file).
  virtual Result<size_t> read_at(uint64_t offset, char* dst, size_t n) const = 0;

  // Appends `data` at the end of the file. On error (kNoSpace, kIOError) some prefix of `data`
  // may have been written: the caller decides whether to truncate it away.
  virtual Status append(ByteView data) = 0;

  // Makes everything appended so far durable (fdatasync).
  virtual Status sync() = 0;

  // Starts writing what was appended since the last call to disk, without waiting for it
  // (sync_file_range), so that a later sync() has only the tail left to wait for. A hint: it
  // promises no durability and reports no errors (sync() does).
  virtual void start_writeback() {}

  // Cuts the file to `size` bytes; later appends continue from there.
  virtual Status truncate(uint64_t size) = 0;

  // The file's current size, including appended bytes not yet synced.
  virtual uint64_t size() const = 0;

  virtual const std::string& path() const = 0;
};

// A read-only memory mapping of a whole file. Empty files map to an empty view.
class MappedFile {
 public:
  virtual ~MappedFile() = default;
  virtual ByteView data() const = 0;
};

// An exclusive lock on a file (flock): held until destroyed.
class FileLock {
 public:
  virtual ~FileLock() = default;
};

// How File objects are opened.
struct OpenOptions {
  bool writable = false;   // open for append/truncate/sync as well as read
  bool create = false;     // create the file if it does not exist (implies writable)
  bool exclusive = false;  // with create: fail with kAlreadyExists if it exists
  bool truncate = false;   // empty the file on open (implies writable)
};

class FileSystem {
 public:
  virtual ~FileSystem() = default;

  virtual Result<std::unique_ptr<File>> open(const std::string& path, const OpenOptions& opts) = 0;
  virtual Result<std::unique_ptr<MappedFile>> map_readonly(const std::string& path) = 0;

  // Creates `path` and any missing parents; OK if it already exists.
  virtual Status create_dirs(const std::string& path) = 0;
  // Names in `dir` (not "." or ".."), unsorted.
  virtual Result<std::vector<std::string>> list_dir(const std::string& dir) = 0;
  virtual Status remove_file(const std::string& path) = 0;
  // Removes `path` and everything below it; OK if it does not exist.
  virtual Status remove_all(const std::string& path) = 0;
  // Atomically replaces `to` with `from` (rename(2)).
  virtual Status rename(const std::string& from, const std::string& to) = 0;
  // Makes the directory's entries (creations, renames, removals) durable.
  virtual Status sync_dir(const std::string& dir) = 0;
  virtual bool exists(const std::string& path) = 0;
  virtual Result<uint64_t> file_size(const std::string& path) = 0;
  // Takes an exclusive, non-blocking lock on `path` (created if missing). kFailedPrecondition
  // if another process holds it.
  virtual Result<std::unique_ptr<FileLock>> lock_file(const std::string& path) = 0;

  // The process-wide real file system.
  static FileSystem& posix();
};

// Writes `data` to `path` atomically and durably: to a temporary file, synced, renamed over
// `path`, directory synced. Readers see either the old or the new contents, never a mix.
Status write_file_atomically(FileSystem& fs, const std::string& path, ByteView data);

// Reads a whole file.
Result<Bytes> read_file(FileSystem& fs, const std::string& path);

}  // namespace sluice
