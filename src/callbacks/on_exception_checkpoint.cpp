// OnExceptionCheckpoint, as Lightning 2.2.5's callbacks/on_exception_checkpoint.py.
#include "volt/callbacks/on_exception_checkpoint.hpp"

#include <filesystem>

#include "volt/error.hpp"
#include "volt/trainer.hpp"

namespace volt {

OnExceptionCheckpoint::OnExceptionCheckpoint(OnExceptionCheckpointOptions options) : options_(std::move(options)) {
  if (options_.filename.empty()) throw MisconfigurationError("The filename cannot be empty");
  // not resolved later: an exception could occur at any moment, so the path cannot wait for `setup`
}

OnExceptionCheckpoint::OnExceptionCheckpoint(std::string dirpath, std::string filename)
    : OnExceptionCheckpoint(OnExceptionCheckpointOptions{std::move(dirpath), std::move(filename)}) {}

std::string OnExceptionCheckpoint::ckpt_path() const {
  return (std::filesystem::path(options_.dirpath) / (options_.filename + kFileExtension)).string();
}

void OnExceptionCheckpoint::on_exception(Trainer& trainer, Module&, const std::exception&) {
  trainer.save_checkpoint(ckpt_path());
}

void OnExceptionCheckpoint::teardown(Trainer& trainer, Module&, const std::string&) {
  remove_checkpoint(trainer, ckpt_path());
}

}  // namespace volt
