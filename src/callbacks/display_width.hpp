// Shared by the text progress bars (tqdm and rich styles): how many terminal columns UTF-8 text takes.
#pragma once
#include <cstddef>
#include <string>

namespace volt::detail {

/// One column per code point (tqdm's disp_len for the characters volt prints; no wide glyphs are used).
inline size_t display_width(const std::string& utf8) {
  size_t n = 0;
  for (unsigned char c : utf8)
    if ((c & 0xC0) != 0x80) ++n;
  return n;
}

}  // namespace volt::detail
