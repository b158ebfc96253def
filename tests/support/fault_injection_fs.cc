#include "fault_injection_fs.h"

#include <cerrno>
#include <filesystem>

namespace sluice::testing {
namespace {

Status power_is_off() { return io_error("simulated power cut: the machine is off"); }

std::string parent_of(const std::string& path) {
  return std::filesystem::path(path).parent_path().string();
}

class FaultFile final : public File {
 public:
  FaultFile(FaultInjectionFileSystem& fs, std::unique_ptr<File> base)
      : fs_(fs), base_(std::move(base)) {}

  Result<size_t> read_at(uint64_t offset, char* dst, size_t n) const override {
    return base_->read_at(offset, dst, n);
  }

  Status append(ByteView data) override {
    SLUICE_RETURN_IF_ERROR(fs_.before_write_op());
    size_t granted = data.size();
    Status space = fs_.take_space(data.size(), granted);
    if (granted > 0) SLUICE_RETURN_IF_ERROR(base_->append(data.substr(0, granted)));
    return space;
  }

  Status sync() override {
    SLUICE_RETURN_IF_ERROR(fs_.before_write_op());
    if (fs_.fail_syncs()) return errno_status("fdatasync " + path(), EIO);
    SLUICE_RETURN_IF_ERROR(base_->sync());
    fs_.note_synced(path(), base_->size());
    return Status();
  }

  // (Durability is still only what sync() reached: writes begun here count for nothing.)
  void start_writeback() override {
    if (!fs_.dead()) base_->start_writeback();
  }

  Status truncate(uint64_t size) override {
    if (fs_.dead()) return power_is_off();
    SLUICE_RETURN_IF_ERROR(base_->truncate(size));
    fs_.note_truncated(path(), size);
    return Status();
  }

  uint64_t size() const override { return base_->size(); }
  const std::string& path() const override { return base_->path(); }

 private:
  FaultInjectionFileSystem& fs_;
  std::unique_ptr<File> base_;
};

}  // namespace

Status FaultInjectionFileSystem::before_write_op() {
  if (dead_.load()) return power_is_off();
  int64_t left = ops_until_cut_.load();
  if (left >= 0) {
    if (left == 0) {
      dead_.store(true);
      return power_is_off();
    }
    ops_until_cut_.store(left - 1);
  }
  return Status();
}

Status FaultInjectionFileSystem::take_space(size_t want, size_t& granted) {
  int64_t left = space_left_.load();
  if (left < 0 || static_cast<uint64_t>(left) >= want) {
    if (left >= 0) space_left_.store(left - static_cast<int64_t>(want));
    granted = want;
    return Status();
  }
  granted = static_cast<size_t>(left);
  space_left_.store(0);
  return errno_status("write", ENOSPC);
}

void FaultInjectionFileSystem::note_synced(const std::string& path, uint64_t size) {
  MutexLock lock(mu_);
  files_[path].synced_size = size;
}

void FaultInjectionFileSystem::note_truncated(const std::string& path, uint64_t size) {
  MutexLock lock(mu_);
  auto it = files_.find(path);
  if (it != files_.end() && it->second.synced_size > size) it->second.synced_size = size;
}

Result<std::unique_ptr<File>> FaultInjectionFileSystem::open(const std::string& path,
                                                             const OpenOptions& opts) {
  const bool writes = opts.writable || opts.create || opts.truncate;
  if (writes && dead_.load()) return power_is_off();
  const bool existed = base_.exists(path);
  SLUICE_ASSIGN_OR_RETURN(auto file, base_.open(path, opts));
  if (writes) {
    MutexLock lock(mu_);
    auto [it, inserted] = files_.try_emplace(path);
    if (inserted) it->second.synced_size = existed ? file->size() : 0;
    if (!existed) it->second.dir_entry_synced = false;
    if (opts.truncate) it->second.synced_size = 0;
  }
  return std::unique_ptr<File>(std::make_unique<FaultFile>(*this, std::move(file)));
}

Result<std::unique_ptr<MappedFile>> FaultInjectionFileSystem::map_readonly(
    const std::string& path) {
  return base_.map_readonly(path);
}

Status FaultInjectionFileSystem::create_dirs(const std::string& path) {
  if (dead_.load()) return power_is_off();
  return base_.create_dirs(path);
}

Result<std::vector<std::string>> FaultInjectionFileSystem::list_dir(const std::string& dir) {
  return base_.list_dir(dir);
}

Status FaultInjectionFileSystem::remove_file(const std::string& path) {
  if (dead_.load()) return power_is_off();
  SLUICE_RETURN_IF_ERROR(base_.remove_file(path));
  MutexLock lock(mu_);
  files_.erase(path);
  return Status();
}

Status FaultInjectionFileSystem::remove_all(const std::string& path) {
  if (dead_.load()) return power_is_off();
  SLUICE_RETURN_IF_ERROR(base_.remove_all(path));
  MutexLock lock(mu_);
  std::erase_if(files_, [&](const auto& kv) { return kv.first.starts_with(path + "/"); });
  return Status();
}

Status FaultInjectionFileSystem::rename(const std::string& from, const std::string& to) {
  if (dead_.load()) return power_is_off();
  MutexLock lock(mu_);
  // Until the directory is synced, a power cut undoes the rename: `from` is back, and a `to`
  // it replaced is back with its old contents (kept meanwhile through a hard link).
  auto target = files_.find(to);
  const bool target_durable =
      base_.exists(to) && (target == files_.end() || target->second.dir_entry_synced);
  if (target_durable && !replaced_.count(to)) {
    std::string backup = to + ".power-cut-backup-" + std::to_string(++backups_);
    std::error_code ec;
    std::filesystem::create_hard_link(to, backup, ec);
    if (ec) return errno_status("link " + to, ec.value());
    replaced_[to] = backup;
  }
  SLUICE_RETURN_IF_ERROR(base_.rename(from, to));
  FileState state;
  auto it = files_.find(from);
  if (it != files_.end()) {
    state = it->second;
    files_.erase(it);
  } else {
    SLUICE_ASSIGN_OR_RETURN(state.synced_size, base_.file_size(to));  // untouched: all durable
  }
  if (state.dir_entry_synced) state.durable_name = from;
  state.dir_entry_synced = false;
  files_[to] = state;
  return Status();
}

Status FaultInjectionFileSystem::sync_dir(const std::string& dir) {
  SLUICE_RETURN_IF_ERROR(before_write_op());
  SLUICE_RETURN_IF_ERROR(base_.sync_dir(dir));
  MutexLock lock(mu_);
  for (auto& [path, state] : files_) {
    if (parent_of(path) == dir) {
      state.dir_entry_synced = true;
      state.durable_name.clear();
    }
  }
  for (auto it = replaced_.begin(); it != replaced_.end();) {
    if (parent_of(it->first) != dir) {
      ++it;
      continue;
    }
    SLUICE_RETURN_IF_ERROR(base_.remove_file(it->second));  // the rename is durable now
    it = replaced_.erase(it);
  }
  return Status();
}

bool FaultInjectionFileSystem::exists(const std::string& path) { return base_.exists(path); }

Result<uint64_t> FaultInjectionFileSystem::file_size(const std::string& path) {
  return base_.file_size(path);
}

Result<std::unique_ptr<FileLock>> FaultInjectionFileSystem::lock_file(const std::string& path) {
  return base_.lock_file(path);
}

Status FaultInjectionFileSystem::apply_power_cut() {
  MutexLock lock(mu_);
  for (const auto& [path, state] : files_) {
    if (!base_.exists(path)) continue;
    std::string name = path;
    if (!state.dir_entry_synced) {
      if (state.durable_name.empty()) {
        // Created and never made durable under any name: gone.
        SLUICE_RETURN_IF_ERROR(base_.remove_file(path));
        continue;
      }
      // Renamed but not synced: it is back under its durable name.
      SLUICE_RETURN_IF_ERROR(base_.rename(path, state.durable_name));
      name = state.durable_name;
    }
    SLUICE_ASSIGN_OR_RETURN(auto file, base_.open(name, {.writable = true}));
    if (file->size() > state.synced_size) SLUICE_RETURN_IF_ERROR(file->truncate(state.synced_size));
  }
  for (const auto& [path, backup] : replaced_) {
    SLUICE_RETURN_IF_ERROR(base_.rename(backup, path));  // the file an undone rename replaced
  }
  files_.clear();
  replaced_.clear();
  return Status();
}

}  // namespace sluice::testing
