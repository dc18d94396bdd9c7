// SPDX-License-Identifier: Apache-2.0
// Copyright lowbit contributors
#pragma once

// Int32-lane arithmetic over any struct of the ISA layer (isa/isa.hpp), with C++ operators, for
// the decoders' bit manipulation (MX, FP4, i-quant and ternary decoding): written once, each
// operator one operation of the ISA struct I.

#include <cstdint>

namespace lowbit::simd_detail {

/// The int32 lanes of an I register, with the C++ operators the decoders' bit arithmetic uses (each
/// one op of I: `>>` is a logical shift, `*` keeps the low 32 bits). Converts to and from `I::vi`.
template <class I>
struct lanes32 {
  typename I::vi v;
  lanes32(typename I::vi r) noexcept : v(r) {}  // NOLINT(google-explicit-constructor)
  /// c in every lane.
  explicit lanes32(std::int32_t c) noexcept : v(I::splat_i32(c)) {}
  operator typename I::vi() const noexcept { return v; }  // NOLINT(google-explicit-constructor)
  friend lanes32 operator&(lanes32 a, lanes32 b) noexcept { return I::and_(a.v, b.v); }
  friend lanes32 operator|(lanes32 a, lanes32 b) noexcept { return I::or_(a.v, b.v); }
  friend lanes32 operator^(lanes32 a, lanes32 b) noexcept { return I::xor_(a.v, b.v); }
  friend lanes32 operator+(lanes32 a, lanes32 b) noexcept { return I::add32(a.v, b.v); }
  friend lanes32 operator-(lanes32 a, lanes32 b) noexcept { return I::sub32(a.v, b.v); }
  friend lanes32 operator*(lanes32 a, lanes32 b) noexcept { return I::mullo32(a.v, b.v); }
  friend lanes32 operator>>(lanes32 a, int s) noexcept { return I::srl32_n(a.v, s); }
  friend lanes32 operator<<(lanes32 a, int s) noexcept { return I::sll32_n(a.v, s); }
};

/// Per lane: `if_true` where `mask` (I::cmpeq32 / I::cmpgt32) holds, else `if_false` (I::select32).
template <class I>
inline lanes32<I> select32(typename I::mask32 mask, lanes32<I> if_true, lanes32<I> if_false) noexcept {
  return I::select32(mask, if_true.v, if_false.v);
}

}  // namespace lowbit::simd_detail
