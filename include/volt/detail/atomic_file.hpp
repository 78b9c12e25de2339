// Crash-safe file writes, shared by everything volt writes (checkpoints, "last" links, logger files, ksuit
// checkpoints, the CLI's config.yaml), and the background writer of asynchronous checkpoints.
// docs/reliability.md states the guarantees.
#pragma once
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <exception>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "volt/error.hpp"

namespace volt::detail {

/// A write that failed: the message names the file, the step (create, write, fsync, rename) and the system's
/// reason (e.g. "No space left on device"). The previous file at `path`, if any, is untouched.
class AtomicWriteError : public Error {
 public:
  using Error::Error;
};

/// Writes `size` bytes to `path` so that a crash at any moment leaves either the old file or the complete new one:
/// a temporary file in the same directory (created with its parents), write, fsync the file, rename over `path`,
/// fsync the directory. On failure the temporary file is removed and AtomicWriteError is thrown.
void atomic_write_file(const std::string& path, const void* data, std::size_t size);
/// Receives the bytes of a file in order, in as many pieces as the producer likes.
using ByteSink = std::function<void(const void* data, std::size_t size)>;
/// The same guarantees for a file produced piece by piece: `produce` is called once with a sink that writes
/// straight to the temporary file, so a large file never needs a copy in memory. If `produce` throws, the temporary
/// file is removed and the exception propagates. The sink itself never throws: after a failed write (a full disk)
/// it drops the remaining pieces, and AtomicWriteError is thrown once `produce` has returned.
void atomic_write_file(const std::string& path, const std::function<void(const ByteSink&)>& produce);
inline void atomic_write_file(const std::string& path, const std::vector<char>& bytes) {
  atomic_write_file(path, bytes.data(), bytes.size());
}
inline void atomic_write_file(const std::string& path, const std::string& text) {
  atomic_write_file(path, text.data(), text.size());
}
/// Points `linkpath` at `target` (a relative path is taken from the link's directory) by creating the link under a
/// temporary name and renaming it over `linkpath`: there is always either the old entry or the new link. Returns
/// false (nothing changed) if the file system has no symbolic links.
bool atomic_symlink(const std::string& target, const std::string& linkpath);
/// Copies `from` to `to` with atomic_write_file.
void atomic_copy_file(const std::string& from, const std::string& to);
/// fsync of a directory, so that a rename or unlink in it survives a crash (errors ignored: best effort).
void fsync_directory(const std::string& dir);

/// One background thread that runs tasks in submission order. submit() blocks while `capacity` tasks wait; the
/// first exception a task throws is kept and rethrown by the next submit() or wait().
/// Tests only: every background task first sleeps this long (0: no delay), to make "the write is still pending"
/// observable.
void set_background_write_delay_for_tests(int milliseconds);

class BackgroundWriter {
 public:
  explicit BackgroundWriter(std::size_t capacity);
  ~BackgroundWriter();  // finishes the queue; errors left unreported are printed
  BackgroundWriter(const BackgroundWriter&) = delete;
  BackgroundWriter& operator=(const BackgroundWriter&) = delete;

  /// skip_if_earlier_failed: the task does not run if a task submitted before it fails (an old checkpoint is not
  /// removed when its replacement could not be written).
  void submit(std::function<void()> task, bool skip_if_earlier_failed = false);
  /// Waits until the queue is empty and nothing runs; rethrows (and clears) the first failure.
  void wait();
  /// Whether a task is queued or running.
  bool busy() const;
  /// Whether a task has failed since the last wait()/submit() reported it.
  bool failed() const;

 private:
  void loop();
  void rethrow_failure_locked(std::unique_lock<std::mutex>& lock);

  std::size_t capacity_;
  mutable std::mutex mutex_;
  std::condition_variable changed_;
  struct Task {
    std::function<void()> run;
    bool skip_if_earlier_failed;
    uint64_t failures_at_submit;
  };
  std::deque<Task> queue_;
  uint64_t failures_total_ = 0;
  bool running_task_ = false;
  bool stop_ = false;
  std::exception_ptr failure_;
  std::thread thread_;
};

}  // namespace volt::detail
