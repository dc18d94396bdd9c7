// SPDX-License-Identifier: Apache-2.0
// Copyright lowbit contributors
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

#include "lowbit/core/error.hpp"
#include "lowbit/core/exact_fp.hpp"

LOWBIT_EXACT_FP_BEGIN

namespace lowbit {

/// Bytes that `count` codes of `bits` bits occupy when bit-packed: ceil(count * bits / 8).
constexpr std::size_t packed_bytes(std::size_t count, int bits) noexcept {
  return (count * static_cast<std::size_t>(bits) + 7) / 8;
}

/// `pack_codes` without checks. Preconditions: 1 <= bits <= 8, out holds packed_bytes(count, bits)
/// bytes; out is overwritten entirely.
inline void pack_codes_unchecked(const std::uint8_t* codes, std::size_t count, int bits, std::uint8_t* out) noexcept {
  const unsigned mask = (1u << bits) - 1u;
  const std::size_t bytes = packed_bytes(count, bits);
  for (std::size_t b = 0; b < bytes; ++b) out[b] = 0;
  for (std::size_t i = 0; i < count; ++i) {
    const std::size_t bit = i * static_cast<std::size_t>(bits);
    const unsigned v = (codes[i] & mask) << (bit % 8);  // at most 15 bits
    out[bit / 8] = static_cast<std::uint8_t>(out[bit / 8] | (v & 0xffu));
    if ((v >> 8) != 0) out[bit / 8 + 1] = static_cast<std::uint8_t>(out[bit / 8 + 1] | (v >> 8));
  }
}

/// Bit-packs raw codes, ISA-independently: code i occupies bits [(i * bits) % 8, ...) of byte
/// (i * bits) / 8, least significant bit first, spilling into the next byte's low bits when it
/// crosses a byte boundary (so 3- and 5-bit codes straddle bytes). Unused high bits of the last
/// byte are zero. Code bits above `bits` are ignored.
///
/// Shapes: codes (count), out (packed_bytes(count, bits)).
/// throws lowbit::error{errc::invalid_argument} if bits is not 1..8, {errc::shape_mismatch} if out
/// has another size.
inline void pack_codes(std::span<const std::uint8_t> codes, int bits, std::span<std::uint8_t> out) {
  check(bits >= 1 && bits <= 8, errc::invalid_argument,
        [&] { return "pack_codes: bits = " + std::to_string(bits) + ", expected 1..8"; });
  check(out.size() == packed_bytes(codes.size(), bits), errc::shape_mismatch, [&] {
    return "pack_codes: " + std::to_string(codes.size()) + " codes of " + std::to_string(bits) + " bits need " +
           std::to_string(packed_bytes(codes.size(), bits)) + " bytes, got " + std::to_string(out.size());
  });
  pack_codes_unchecked(codes.data(), codes.size(), bits, out.data());
}

/// Reads raw code i of a bit-packed row (the layout of `pack_codes`); unchecked.
/// Precondition: packed holds at least packed_bytes(i + 1, bits) bytes.
inline std::uint8_t packed_code(const std::uint8_t* packed, std::size_t i, int bits) noexcept {
  const std::size_t bit = i * static_cast<std::size_t>(bits);
  const unsigned shift = bit % 8;
  unsigned v = packed[bit / 8] >> shift;
  if (shift + static_cast<unsigned>(bits) > 8) v |= static_cast<unsigned>(packed[bit / 8 + 1]) << (8 - shift);
  return static_cast<std::uint8_t>(v & ((1u << bits) - 1u));
}

/// Unpacks `out.size()` raw codes from the layout of `pack_codes`.
/// throws lowbit::error{errc::invalid_argument} if bits is not 1..8, {errc::shape_mismatch} if
/// packed.size() != packed_bytes(out.size(), bits).
inline void unpack_codes(std::span<const std::uint8_t> packed, int bits, std::span<std::uint8_t> out) {
  check(bits >= 1 && bits <= 8, errc::invalid_argument,
        [&] { return "unpack_codes: bits = " + std::to_string(bits) + ", expected 1..8"; });
  check(packed.size() == packed_bytes(out.size(), bits), errc::shape_mismatch, [&] {
    return "unpack_codes: " + std::to_string(out.size()) + " codes of " + std::to_string(bits) + " bits need " +
           std::to_string(packed_bytes(out.size(), bits)) + " bytes, got " + std::to_string(packed.size());
  });
  for (std::size_t i = 0; i < out.size(); ++i) out[i] = packed_code(packed.data(), i, bits);
}

}  // namespace lowbit

LOWBIT_EXACT_FP_END
