// The Checkpoint base: file removal as Lightning's strategy does it (rank 0 only).
#include "volt/callbacks/checkpoint.hpp"

#include <filesystem>

#include "volt/detail/atomic_file.hpp"
#include "volt/trainer.hpp"

namespace fs = std::filesystem;

namespace volt {

void Checkpoint::remove_checkpoint(Trainer& trainer, const std::string& path) {
  if (!trainer.is_global_zero()) return;
  // TorchCheckpointIO.remove_checkpoint: `if fs.exists(path): fs.rm(path, recursive=True)`. Only once every
  // checkpoint saved before is on disk: an asynchronous replacement must be durable before the old file goes,
  // and if it failed the old file stays.
  trainer.after_pending_checkpoint_writes([path] {
    std::error_code ec;
    if (!fs::exists(fs::symlink_status(path, ec))) return;
    if (fs::is_directory(fs::symlink_status(path, ec))) fs::remove_all(path);
    else fs::remove(path);
    detail::fsync_directory(fs::path(path).parent_path().string());
  });
}

}  // namespace volt
