// libFuzzer target: volt's checkpoint reader (torch's zip format and Python's pickle protocol 2) on any bytes.
// Every input must either load or raise volt::CheckpointError; anything else (another exception, a crash, a
// sanitizer report, a timeout, an allocation over -malloc_limit_mb) is a bug in the reader.
#include <cstddef>
#include <cstdint>
#include <string>

#include "volt/error.hpp"
#include "volt/serialization/pickle_reader.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    volt::read_checkpoint_bytes(std::string(reinterpret_cast<const char*>(data), size), "fuzz input");
  } catch (const volt::CheckpointError&) {
    // the expected outcome for almost every input
  }
  return 0;
}
