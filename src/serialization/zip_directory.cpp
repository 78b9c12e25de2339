#include "zip_directory.hpp"

#include <algorithm>

#include "volt/error.hpp"

namespace volt::detail {
namespace {

// Zip record signatures and sizes (PKWARE APPNOTE.TXT 4.3).
constexpr uint32_t kEndSig = 0x06054b50, kEnd64LocatorSig = 0x07064b50, kEnd64Sig = 0x06064b50;
constexpr uint32_t kCentralSig = 0x02014b50, kLocalSig = 0x04034b50;
constexpr uint64_t kEndSize = 22, kEnd64LocatorSize = 20, kEnd64Size = 56, kCentralSize = 46, kLocalSize = 30;
constexpr uint64_t kMaxCommentSize = 0xFFFF;
constexpr uint32_t kSaturated32 = 0xFFFFFFFF;

uint64_t le(const uint8_t* p, int n) {
  uint64_t v = 0;
  for (int i = n - 1; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}

std::vector<uint8_t> read_at(const caffe2::serialize::ReadAdapterInterface& in, uint64_t pos, uint64_t n) {
  if (pos > in.size() || n > in.size() - pos) throw ZipError("the zip directory points outside the file (truncated?)");
  std::vector<uint8_t> buf(n);
  if (n && in.read(pos, buf.data(), n, "reading the zip directory") != n) throw ZipError("short read");
  return buf;
}

struct Directory {
  uint64_t entries, offset, size;
};

/// Finds the end-of-central-directory record, searching back over a possible archive comment.
uint64_t find_end_record(const caffe2::serialize::ReadAdapterInterface& in) {
  const uint64_t size = in.size();
  if (size < kEndSize) throw ZipError("the file is too short to be a zip archive");
  const uint64_t tail = std::min(size, kEndSize + kMaxCommentSize);
  const auto buf = read_at(in, size - tail, tail);
  for (uint64_t i = tail - kEndSize + 1; i-- > 0;)
    if (le(&buf[i], 4) == kEndSig) return size - tail + i;
  throw ZipError("no zip end-of-central-directory record (the file is truncated or not a zip archive)");
}

Directory read_directory_location(const caffe2::serialize::ReadAdapterInterface& in) {
  const uint64_t end = find_end_record(in);
  const auto rec = read_at(in, end, kEndSize);
  Directory dir{le(&rec[10], 2), le(&rec[16], 4), le(&rec[12], 4)};
  if (dir.entries != 0xFFFF && dir.offset != kSaturated32 && dir.size != kSaturated32) return dir;
  // Zip64: the real values are in the zip64 end record that a locator just before this record points to.
  if (end < kEnd64LocatorSize) throw ZipError("zip64 archive without its end-record locator");
  const auto loc = read_at(in, end - kEnd64LocatorSize, kEnd64LocatorSize);
  if (le(&loc[0], 4) != kEnd64LocatorSig) throw ZipError("zip64 archive without its end-record locator");
  const auto rec64 = read_at(in, le(&loc[8], 8), kEnd64Size);
  if (le(&rec64[0], 4) != kEnd64Sig) throw ZipError("corrupt zip64 end record");
  return {le(&rec64[32], 8), le(&rec64[48], 8), le(&rec64[40], 8)};
}

/// An entry's uncompressed size, local header offset and compressed size, taking zip64 extra fields into account.
struct Sizes {
  uint64_t size, compressed, local_offset;
};

Sizes entry_sizes(const uint8_t* h, const uint8_t* extra, uint64_t extra_len) {
  Sizes s{le(h + 24, 4), le(h + 20, 4), le(h + 42, 4)};
  for (uint64_t i = 0; i + 4 <= extra_len;) {
    const uint64_t id = le(extra + i, 2), len = le(extra + i + 2, 2);
    if (i + 4 + len > extra_len) throw ZipError("corrupt extra field in the zip directory");
    if (id == 0x0001) {  // zip64: 8-byte values, present only for the fields that are saturated
      const uint8_t* p = extra + i + 4;
      const uint8_t* end = p + len;
      for (uint64_t* field : {&s.size, &s.compressed, &s.local_offset}) {
        if (*field != kSaturated32) continue;
        if (p + 8 > end) throw ZipError("corrupt zip64 extra field");
        *field = le(p, 8);
        p += 8;
      }
    }
    i += 4 + len;
  }
  return s;
}

}  // namespace

std::vector<ZipEntry> read_zip_directory(const caffe2::serialize::ReadAdapterInterface& in) {
  const uint64_t archive_size = in.size();
  const Directory dir = read_directory_location(in);
  if (dir.entries > dir.size / kCentralSize) throw ZipError("the zip directory is shorter than its entry count");
  const auto cd = read_at(in, dir.offset, dir.size);

  std::vector<ZipEntry> entries;
  uint64_t pos = 0, total = 0;
  for (uint64_t i = 0; i < dir.entries; ++i) {
    if (dir.size - pos < kCentralSize || le(&cd[pos], 4) != kCentralSig) throw ZipError("corrupt zip directory entry");
    const uint8_t* h = &cd[pos];
    const uint64_t name_len = le(h + 28, 2), extra_len = le(h + 30, 2), comment_len = le(h + 32, 2);
    if (dir.size - pos - kCentralSize < name_len + extra_len + comment_len)
      throw ZipError("corrupt zip directory entry");
    std::string name(reinterpret_cast<const char*>(h + kCentralSize), name_len);
    const Sizes s = entry_sizes(h, h + kCentralSize + name_len, extra_len);

    if (le(h + 8, 2) & 1) throw ZipError(concat("record '", name, "' is encrypted"));
    // miniz "extracts" a directory entry without writing the buffer, which would hand out uninitialised memory.
    const bool directory = (!name.empty() && name.back() == '/') || (le(h + 38, 4) & 0x10);
    if (directory && s.size > 0) throw ZipError(concat("record '", name, "' is marked as a directory but holds data"));
    if (le(h + 10, 2) != 0)
      throw ZipError(concat("record '", name, "' is compressed; torch.save stores records uncompressed"));
    if (s.compressed != s.size) throw ZipError(concat("record '", name, "' has inconsistent sizes"));
    if (s.local_offset > archive_size || s.size > archive_size - s.local_offset ||
        archive_size - s.local_offset - s.size < kLocalSize)
      throw ZipError(concat("record '", name, "' (", s.size, " bytes at offset ", s.local_offset,
                            ") extends past the end of the file (truncated?)"));
    total += s.size;
    if (total > archive_size) throw ZipError("the zip records claim more bytes than the file holds");
    entries.push_back({std::move(name), s.size, s.local_offset});
    pos += kCentralSize + name_len + extra_len + comment_len;
  }
  return entries;
}

std::string read_zip_entry(const caffe2::serialize::ReadAdapterInterface& in, const ZipEntry& entry) {
  const auto header = read_at(in, entry.local_offset, kLocalSize);
  if (le(&header[0], 4) != kLocalSig) throw ZipError(concat("record '", entry.name, "' has a corrupt local header"));
  const uint64_t data = entry.local_offset + kLocalSize + le(&header[26], 2) + le(&header[28], 2);
  const auto bytes = read_at(in, data, entry.size);
  return std::string(bytes.begin(), bytes.end());
}

}  // namespace volt::detail
