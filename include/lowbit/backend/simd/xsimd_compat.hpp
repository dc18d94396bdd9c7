// SPDX-License-Identifier: Apache-2.0
// Copyright lowbit contributors
#pragma once

// The one header that includes xsimd and names version-specific xsimd symbols (Debian bookworm
// ships xsimd 8.1, which has no VNNI or AVX-VNNI architecture tags: those capabilities come from
// the compiler's macros). lowbit's other headers include this one, not <xsimd/xsimd.hpp>.

#include <cstddef>
#include <cstdint>
#include <type_traits>

// The x86 intrinsics header first, with GCC's warnings inside its AVX-512 headers off (see
// isa/x86_intrinsics.hpp).
#include "lowbit/backend/simd/isa/x86_intrinsics.hpp"
#include <xsimd/xsimd.hpp>

#include "lowbit/backend/simd/isa/avx512/ops.hpp"
#include "lowbit/backend/simd/isa/neon/ops.hpp"

namespace lowbit::simd_detail {

/// True when kernels for Arch may use AVX-512 BW instructions.
template <class Arch>
inline constexpr bool has_avx512bw_v = std::is_base_of_v<xsimd::avx512bw, Arch>;

/// True when kernels for Arch may use AVX-512 VNNI `vpdpbusd` (xsimd 8.1 has no tag for it; the
/// translation unit's target flags decide).
template <class Arch>
inline constexpr bool has_vnni_v =
#if defined(__AVX512VNNI__) && defined(__AVX512BW__)
    has_avx512bw_v<Arch>;
#else
    false;
#endif

/// True when kernels for Arch may use AVX-512 BF16 `vdpbf16ps` / `vcvtne2ps2bf16` (xsimd 8.1 has
/// no tag for it; the translation unit's target flags decide).
template <class Arch>
inline constexpr bool has_avx512bf16_v =
#if defined(__AVX512BF16__) && defined(__AVX512BW__)
    has_avx512bw_v<Arch>;
#else
    false;
#endif

/// True when kernels for Arch may use AVX2 integer instructions (vpmaddubsw, vpmaddwd).
template <class Arch>
inline constexpr bool has_avx2_v = std::is_base_of_v<xsimd::avx2, Arch>;

/// An int32 that may alias other types and sit at any address: four activation codes read as one
/// dword, which compilers fold into the embedded broadcast of `vpdpbusd`.
typedef std::int32_t dword_alias __attribute__((may_alias, aligned(1)));

/// Sum of all lanes (xsimd 8.1 spells it `hadd`; later versions `reduce_add`).
template <class T, class Arch>
inline T reduce_add(const xsimd::batch<T, Arch>& v) noexcept {
#if XSIMD_VERSION_MAJOR >= 9
  return xsimd::reduce_add(v);
#else
  return xsimd::hadd(v);
#endif
}

/// x * y + z with one rounding (fused multiply-add). xsimd 8.1 has no AVX-512 kernel for
/// `xsimd::fma`: its generic fallback computes x * y + z, which -ffp-contract=off leaves as a
/// multiply and an add; here AVX-512 uses the ISA layer's `vfmadd` (isa::fmadd_avx512f).
template <class Arch>
inline xsimd::batch<float, Arch> fmadd(const xsimd::batch<float, Arch>& x, const xsimd::batch<float, Arch>& y,
                                       const xsimd::batch<float, Arch>& z) noexcept {
#if XSIMD_VERSION_MAJOR < 9 && defined(__AVX512F__)
  if constexpr (std::is_base_of_v<xsimd::avx512f, Arch>) return isa::fmadd_avx512f(x, y, z);
#endif
  return xsimd::fma(x, y, z);
}

/// x / y correctly rounded. xsimd 8.1 has no AArch64 kernel for float division: it takes the
/// 32-bit NEON one (reciprocal estimate, two Newton steps, a multiply), which is off by an ulp at
/// times and more where 1 / y is subnormal; here AArch64 uses `fdiv` (the ISA layer's isa::neon::div).
template <class Arch>
inline xsimd::batch<float, Arch> div(const xsimd::batch<float, Arch>& x, const xsimd::batch<float, Arch>& y) noexcept {
#if XSIMD_VERSION_MAJOR < 9 && defined(__aarch64__) && defined(__ARM_NEON)
  if constexpr (std::is_base_of_v<xsimd::neon64, Arch>) return isa::neon::div(x, y);
#endif
  return x / y;
}

/// Largest lane (xsimd 8.1 has no `reduce_max`).
template <class T, class Arch>
inline T reduce_max(const xsimd::batch<T, Arch>& v) noexcept {
  alignas(64) T lanes[xsimd::batch<T, Arch>::size];
  v.store_aligned(lanes);
  T best = lanes[0];
  for (std::size_t j = 1; j < xsimd::batch<T, Arch>::size; ++j) best = lanes[j] > best ? lanes[j] : best;
  return best;
}

}  // namespace lowbit::simd_detail
