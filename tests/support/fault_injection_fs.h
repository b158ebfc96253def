// FaultInjectionFileSystem: the real file system with failures a test can switch on.
//
// - A full disk: appends fail with kNoSpace once a byte budget is used up (the part of the
//   write that fits is written, as a real short write would).
// - Failing syncs (EIO).
// - A power cut: after power_cut() (or automatically after N write operations) every operation
//   fails; apply_power_cut() then makes the files on disk look as they would after the machine
//   lost power — every file cut back to its last synced size, every file whose directory
//   entry was never synced removed, and every rename not yet made durable by a directory sync
//   undone (the file back under its old name, and a file it replaced back too). Like leveldb's
//   FaultInjectionTestEnv.
//
// Thread safety: thread-safe.
#pragma once

#include <atomic>
#include <map>
#include <memory>
#include <set>
#include <string>

#include "sluice/base/file_system.h"
#include "sluice/base/mutex.h"

namespace sluice::testing {

class FaultInjectionFileSystem final : public FileSystem {
 public:
  explicit FaultInjectionFileSystem(FileSystem& base = FileSystem::posix()) : base_(base) {}

  // Appends fail with ENOSPC after `bytes` more bytes (-1: no limit).
  void set_space_left(int64_t bytes) { space_left_.store(bytes); }
  void set_fail_syncs(bool fail) { fail_syncs_.store(fail); }
  // Cuts the power after `ops` more appends or syncs (-1: never).
  void power_cut_after(int64_t ops) { ops_until_cut_.store(ops); }
  void power_cut() { dead_.store(true); }
  bool dead() const { return dead_.load(); }
  // Rewrites the files on disk as a power cut would leave them. Call after everything that
  // used this file system is closed.
  Status apply_power_cut();

  Result<std::unique_ptr<File>> open(const std::string& path, const OpenOptions& opts) override;
  Result<std::unique_ptr<MappedFile>> map_readonly(const std::string& path) override;
  Status create_dirs(const std::string& path) override;
  Result<std::vector<std::string>> list_dir(const std::string& dir) override;
  Status remove_file(const std::string& path) override;
  Status remove_all(const std::string& path) override;
  Status rename(const std::string& from, const std::string& to) override;
  Status sync_dir(const std::string& dir) override;
  bool exists(const std::string& path) override;
  Result<uint64_t> file_size(const std::string& path) override;
  Result<std::unique_ptr<FileLock>> lock_file(const std::string& path) override;

  // Used by the file wrapper.
  Status before_write_op();
  Status take_space(size_t want, size_t& granted);
  void note_synced(const std::string& path, uint64_t size) SLUICE_EXCLUDES(mu_);
  void note_truncated(const std::string& path, uint64_t size) SLUICE_EXCLUDES(mu_);
  bool fail_syncs() const { return fail_syncs_.load(); }

 private:
  struct FileState {
    uint64_t synced_size = 0;
    bool dir_entry_synced = true;
    std::string durable_name;  // renamed from here, and the rename not yet synced
  };

  FileSystem& base_;
  std::atomic<int64_t> space_left_{-1};
  std::atomic<bool> fail_syncs_{false};
  std::atomic<int64_t> ops_until_cut_{-1};
  std::atomic<bool> dead_{false};
  Mutex mu_;
  std::map<std::string, FileState> files_ SLUICE_GUARDED_BY(mu_);
  // Rename targets that existed durably: path -> hard link to their old contents.
  std::map<std::string, std::string> replaced_ SLUICE_GUARDED_BY(mu_);
  int backups_ SLUICE_GUARDED_BY(mu_) = 0;
};

}  // namespace sluice::testing
