// Crash-safe writes (temporary file, fsync, rename, fsync of the directory) and the background writer.
#include "volt/detail/atomic_file.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <iostream>

namespace fs = std::filesystem;

namespace volt::detail {
namespace {

std::atomic<uint64_t> g_temp_counter{0};
std::atomic<int> g_test_delay_ms{0};

// ".<name>.tmp.<pid>.<n>" next to the target: the rename stays inside one file system, and two writers (the
// training thread and the background writer) never share a temporary name.
fs::path temp_name(const fs::path& target) {
  return target.parent_path() / ("." + target.filename().string() + ".tmp." + std::to_string(::getpid()) + "." +
                                 std::to_string(g_temp_counter.fetch_add(1)));
}

fs::path directory_of(const fs::path& target) {
  return target.parent_path().empty() ? fs::path(".") : target.parent_path();
}

[[noreturn]] void fail(const std::string& path, const std::string& step, int error) {
  std::string reason = std::strerror(error);
  std::string hint;
  if (error == ENOSPC || error == EDQUOT || error == EFBIG)
    hint = "; free space on the disk (or raise the file size limit) and save again";
  else if (error == EACCES || error == EPERM || error == EROFS)
    hint = "; make the directory writable or choose another one";
  throw AtomicWriteError("Cannot write '" + path + "': " + step + " failed (" + reason + ")" + hint +
                         ". The previous file, if any, is unchanged.");
}

}  // namespace

void fsync_directory(const std::string& dir) {
  int fd = ::open(dir.empty() ? "." : dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return;
  ::fsync(fd);
  ::close(fd);
}

void atomic_write_file(const std::string& path, const void* data, std::size_t size) {
  atomic_write_file(path, [&](const ByteSink& sink) { sink(data, size); });
}

void atomic_write_file(const std::string& path, const std::function<void(const ByteSink&)>& produce) {
  const fs::path target(path);
  const fs::path dir = directory_of(target);
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec && !fs::is_directory(dir)) fail(path, "creating the directory '" + dir.string() + "'", ec.value());
  const fs::path tmp = temp_name(target);
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) fail(path, "creating the temporary file '" + tmp.string() + "'", errno);
  auto abandon = [&](const std::string& step, int error) {
    ::close(fd);
    ::unlink(tmp.c_str());
    fail(path, step, error);
  };
  // The sink never throws: producers such as libtorch's zip writer are not exception-safe (its destructor writes
  // again), so the first failed write is remembered, later pieces are dropped, and the failure is reported once
  // the producer has returned.
  std::size_t written = 0;
  int write_error = 0;
  auto sink = [&](const void* data, std::size_t size) {
    const char* p = static_cast<const char*>(data);
    for (std::size_t left = size; left > 0 && write_error == 0;) {
      ssize_t n = ::write(fd, p, left);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        write_error = n < 0 ? errno : EIO;
        break;
      }
      p += n;
      left -= static_cast<std::size_t>(n);
      written += static_cast<std::size_t>(n);
    }
  };
  try {
    produce(sink);
  } catch (...) {
    ::close(fd);
    ::unlink(tmp.c_str());
    throw;
  }
  if (write_error != 0) abandon("writing byte " + std::to_string(written), write_error);
  if (::fsync(fd) != 0) abandon("fsync", errno);
  if (::close(fd) != 0) {
    int error = errno;
    ::unlink(tmp.c_str());
    fail(path, "closing the temporary file", error);
  }
  if (::rename(tmp.c_str(), target.c_str()) != 0) {
    int error = errno;
    ::unlink(tmp.c_str());
    fail(path, "renaming the temporary file over it", error);
  }
  fsync_directory(dir.string());
}

bool atomic_symlink(const std::string& target, const std::string& linkpath) {
  const fs::path link(linkpath);
  const fs::path tmp = temp_name(link);
  if (::symlink(target.c_str(), tmp.c_str()) != 0) {
    if (errno == EPERM || errno == ENOSYS || errno == EOPNOTSUPP) return false;
    fail(linkpath, "creating the symbolic link '" + tmp.string() + "'", errno);
  }
  std::error_code ec;
  if (fs::is_directory(fs::symlink_status(link, ec))) fs::remove_all(link, ec);  // rename cannot replace one
  if (::rename(tmp.c_str(), link.c_str()) != 0) {
    int error = errno;
    ::unlink(tmp.c_str());
    fail(linkpath, "renaming the symbolic link over it", error);
  }
  fsync_directory(directory_of(link).string());
  return true;
}

void atomic_copy_file(const std::string& from, const std::string& to) {
  int fd = ::open(from.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) fail(to, "opening the source '" + from + "'", errno);
  std::vector<char> bytes;
  char buffer[1 << 16];
  for (;;) {
    ssize_t n = ::read(fd, buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      int error = errno;
      ::close(fd);
      fail(to, "reading the source '" + from + "'", error);
    }
    if (n == 0) break;
    bytes.insert(bytes.end(), buffer, buffer + n);
  }
  ::close(fd);
  atomic_write_file(to, bytes);
}

void set_background_write_delay_for_tests(int milliseconds) { g_test_delay_ms.store(milliseconds); }

// ---- BackgroundWriter -----------------------------------------------------------------------------------------

BackgroundWriter::BackgroundWriter(std::size_t capacity)
    : capacity_(capacity == 0 ? 1 : capacity), thread_([this] { loop(); }) {}

BackgroundWriter::~BackgroundWriter() {
  {
    std::unique_lock<std::mutex> lock(mutex_);
    stop_ = true;
  }
  changed_.notify_all();
  thread_.join();
  if (failure_) {
    try {
      std::rethrow_exception(failure_);
    } catch (const std::exception& e) {
      std::cerr << "volt: a background checkpoint write failed and was never reported: " << e.what() << "\n";
    } catch (...) {
      std::cerr << "volt: a background checkpoint write failed and was never reported\n";
    }
  }
}

void BackgroundWriter::loop() {
  std::unique_lock<std::mutex> lock(mutex_);
  for (;;) {
    changed_.wait(lock, [&] { return stop_ || !queue_.empty(); });
    if (queue_.empty()) return;  // stop_ and drained
    Task task = std::move(queue_.front());
    queue_.pop_front();
    if (task.skip_if_earlier_failed && failures_total_ > task.failures_at_submit) {
      changed_.notify_all();
      continue;
    }
    running_task_ = true;
    lock.unlock();
    std::exception_ptr error;
    try {
      if (int ms = g_test_delay_ms.load(); ms > 0) std::this_thread::sleep_for(std::chrono::milliseconds(ms));
      task.run();
    } catch (...) {
      error = std::current_exception();
    }
    lock.lock();
    running_task_ = false;
    if (error) {
      ++failures_total_;
      if (!failure_) failure_ = error;
    }
    changed_.notify_all();
  }
}

void BackgroundWriter::rethrow_failure_locked(std::unique_lock<std::mutex>&) {
  if (!failure_) return;
  std::exception_ptr error = failure_;
  failure_ = nullptr;
  std::rethrow_exception(error);
}

void BackgroundWriter::submit(std::function<void()> task, bool skip_if_earlier_failed) {
  std::unique_lock<std::mutex> lock(mutex_);
  rethrow_failure_locked(lock);
  changed_.wait(lock, [&] { return queue_.size() < capacity_; });
  rethrow_failure_locked(lock);  // a write that failed while this one waited for a slot
  queue_.push_back(Task{std::move(task), skip_if_earlier_failed, failures_total_});
  changed_.notify_all();
}

void BackgroundWriter::wait() {
  std::unique_lock<std::mutex> lock(mutex_);
  changed_.wait(lock, [&] { return queue_.empty() && !running_task_; });
  rethrow_failure_locked(lock);
}

bool BackgroundWriter::busy() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return running_task_ || !queue_.empty();
}

bool BackgroundWriter::failed() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return failure_ != nullptr;
}

}  // namespace volt::detail
