// Internal: reads and sanity-checks a zip archive's central directory before libtorch's PyTorchStreamReader
// opens it. miniz trusts the sizes of zip64 and compressed entries, and PyTorchStreamReader allocates whatever
// size an entry claims; checking here keeps a corrupt or hostile file from costing more memory than its size.
#pragma once
#include <caffe2/serialize/read_adapter_interface.h>

#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

namespace volt::detail {

struct ZipEntry {
  std::string name;
  uint64_t size = 0;
  uint64_t local_offset = 0;  // of the entry's local header
};

/// The archive is not a zip file torch could have written; what() says why.
class ZipError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// Lists the entries of the zip archive `in`. Throws ZipError unless every entry is stored uncompressed (as
/// torch.save and torch::pickle_save write them), lies inside the archive, and the entries' sizes add up to no
/// more than the archive's size.
std::vector<ZipEntry> read_zip_directory(const caffe2::serialize::ReadAdapterInterface& in);

/// The content of a small stored entry, read through its local header. Throws ZipError if the header is corrupt.
std::string read_zip_entry(const caffe2::serialize::ReadAdapterInterface& in, const ZipEntry& entry);

}  // namespace volt::detail
