// SPDX-License-Identifier: Apache-2.0
// Copyright lowbit contributors
#pragma once

// The ISA layer of the SIMD backend: the few register operations the microkernels need, written
// once per instruction set, in one folder per ISA (isa/avx512, isa/avx2, isa/neon). These folders
// are the only place in lowbit that names raw intrinsics or includes an intrinsics header; kernels
// are written once against `isa_ops<Arch>`. isa/generic is the baseline every other target gets
// (GCC / Clang vector extensions, no intrinsics). Adding an ISA is one folder (a struct meeting
// `simd_isa`) plus one line in `isa_select` (docs/adding_a_format.md, "Adding an ISA").

#include <concepts>
#include <cstddef>
#include <cstdint>
#include <type_traits>

#include "lowbit/backend/simd/isa/avx2/ops.hpp"
#include "lowbit/backend/simd/isa/avx512/ops.hpp"
#include "lowbit/backend/simd/isa/generic/ops.hpp"
#include "lowbit/backend/simd/isa/lanes32.hpp"
#include "lowbit/backend/simd/isa/neon/ops.hpp"
#include "lowbit/backend/simd/xsimd_compat.hpp"
#include "lowbit/core/backend.hpp"

namespace lowbit::simd_detail {

/// What a microkernel needs of an instruction set. The register model: `vi` holds `bytes` bytes,
/// read as bytes, int16 or `lanes` int32 lanes; `vf` holds `lanes` f32 lanes. A 16-row panel's
/// 64-byte chunk (4 bytes of each row) spans `parts` registers; int32 lane r of part h is row
/// `lanes h + r`. Signed int8 weights are kept in "s8 operand form", `w + s8_bias` (128 where the
/// dot product is u8 x s8, as AVX-512 VNNI `vpdpbusd`; 0 elsewhere); `dot4_s8` returns
/// `acc + Σ (w + s8_bias) x` and the kernel subtracts `s8_bias Σ x` exactly.
/// The full list of operations, with their exact semantics, is the avx512 struct's (isa/avx512/ops.hpp);
/// this concept checks the core that every kernel uses.
template <class I>
concept simd_isa = requires(typename I::vi v, typename I::vf f, const std::uint8_t* p, float* out) {
  { I::bytes } -> std::convertible_to<std::size_t>;
  { I::lanes } -> std::convertible_to<std::size_t>;
  { I::parts } -> std::convertible_to<std::size_t>;
  { I::s8_bias } -> std::convertible_to<int>;
  { I::load(p) } -> std::same_as<typename I::vi>;
  { I::and_(v, v) } -> std::same_as<typename I::vi>;
  { I::select32(I::cmpgt32(v, v), v, v) } -> std::same_as<typename I::vi>;
  { I::lookup16(v, v) } -> std::same_as<typename I::vi>;
  { I::dot4_u8(v, v, std::int32_t{}) } -> std::same_as<typename I::vi>;
  { I::dot4_s8(v, I::operand_s8(v), std::int32_t{}) } -> std::same_as<typename I::vi>;
  { I::dot_pairs_i16(v, v, std::int32_t{}) } -> std::same_as<typename I::vi>;
  { I::to_f32(v) } -> std::same_as<typename I::vf>;
  { I::fmadd(f, f, f) } -> std::same_as<typename I::vf>;
  { I::f16_to_f32(p) } -> std::same_as<typename I::vf>;
  I::store_f32(out, f);
} && (I::bytes == I::lanes * 4) && (64 % I::bytes == 0) && (I::parts * I::bytes == 64);

#if defined(__GNUC__)
static_assert(simd_isa<isa::generic>);
#endif

/// The ISA layer struct for the xsimd architecture tag Arch: AVX-512 with VNNI; else AVX2 + FMA +
/// F16C; else AArch64 NEON (with `sdot` when the target has FEAT_DotProd); else (x86-64 without
/// -march, whose xsimd default_arch is sse2; any other target) the baseline `isa::generic`, or
/// `void` with a compiler that has no GNU vector extensions. The translation unit's target flags
/// decide which structs exist.
template <class Arch>
struct isa_select {
#if defined(__GNUC__)
  using type = isa::generic;
#else
  using type = void;
#endif
};
#if defined(__AVX512VNNI__) && defined(__AVX512BW__)
template <class Arch>
requires has_vnni_v<Arch>
struct isa_select<Arch> {
  using type = isa::avx512;
};
#endif
#if defined(__AVX2__) && defined(__FMA__) && defined(__F16C__)
template <class Arch>
requires(has_avx2_v<Arch> && !has_vnni_v<Arch>)
struct isa_select<Arch> {
  using type = isa::avx2;
};
#endif
#if defined(__aarch64__) && defined(__ARM_NEON)
template <class Arch>
requires std::is_base_of_v<xsimd::neon64, Arch>
struct isa_select<Arch> {
  using type = isa::neon;
};
#endif

/// True when lowbit has an ISA layer (and so SIMD integer kernels) for Arch: always with GCC or
/// Clang (the baseline `isa::generic` at worst).
template <class Arch>
inline constexpr bool has_isa_v = !std::is_void_v<typename isa_select<Arch>::type>;

/// The ISA layer struct for Arch. A configuration without one fails to compile here, naming the
/// flags that give one.
template <class Arch>
struct isa_ops_checked {
  static_assert(has_isa_v<Arch>,
                "lowbit: the simd backend needs GCC or Clang (its baseline ISA layer, isa/generic, "
                "is written with their vector extensions); use backend::reference (docs/dispatch.md)");
  using type = typename isa_select<Arch>::type;
};
template <class Arch>
using isa_ops = typename isa_ops_checked<Arch>::type;

}  // namespace lowbit::simd_detail
