// SPDX-License-Identifier: Apache-2.0
// Copyright lowbit contributors
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "lowbit/backend/simd/float_panel_gemm.hpp"
#include "lowbit/backend/simd/float_panels.hpp"
#include "lowbit/backend/simd/isa/isa.hpp"
#include "lowbit/backend/simd/tag.hpp"
#include "lowbit/backend/simd/xsimd_compat.hpp"
#include "lowbit/core/error.hpp"
#include "lowbit/core/matrix_view.hpp"
#include "lowbit/core/parallel.hpp"
#include "lowbit/formats/float.hpp"
#include "lowbit/gemm/epilogue.hpp"
#include "lowbit/gemm/kernel.hpp"
#include "lowbit/gemm/workspace.hpp"
#include "lowbit/quant/weight_view.hpp"

namespace lowbit {

/// F16 weights W(N, K) in k-major panels of 32 columns (`k_packed<32, 1>`): element W(32p + r, k)
/// of panel p at index 32k + r (IEEE binary16 bits); one k is 64 bytes, one cache line. See
/// float_panels.
using packed_f16 = float_panels<f16, 1>;

/// Packs F16 weights W(N, K) (file layout) into packed_f16 panels. Threads split the panels.
inline packed_f16 pack_f16(weight_view<f16> w, threads t = {}) { return pack_float_panels<packed_f16>(w, t); }

/// Restores the file layout of packed F16 weights into `out` (N * K values): the inverse of
/// pack_f16. throws lowbit::error{errc::shape_mismatch} if out has another size.
inline void unpack_f16(const packed_f16& w, std::span<f16::block> out) { unpack_float_panels(w, out); }

namespace simd_detail {

/// One batch of f32 from the binary16 values at p (the ISA layer's f16_to_f32, exact: `vcvtph2ps`
/// on x86, `fcvtl` on AArch64): batch::size values, in registers of isa_ops<Arch>::lanes (two of
/// them where the batch is wider than the layer's registers, AVX-512 without VNNI).
template <class Arch>
inline xsimd::batch<float, Arch> load_f16(const std::uint16_t* p) noexcept {
  using I = isa_ops<Arch>;
  using batch = xsimd::batch<float, Arch>;
  if constexpr (I::lanes == batch::size) {
    return batch(I::f16_to_f32(p));
  } else {
    alignas(64) float v[batch::size];
    for (std::size_t h = 0; h < batch::size; h += I::lanes) I::store_f32(v + h, I::f16_to_f32(p + h));
    return batch::load_aligned(v);
  }
}

/// B loader of the F16 panels: load_f16, exact.
struct f16_loader {
  using element_type = f16::block;
  template <class Arch>
  static xsimd::batch<float, Arch> load(const element_type* p) noexcept {
    return load_f16<Arch>(&p->bits);
  }
};

/// The F16 tile policy of run_float_panels: float_tile widening B with load_f16 (8 rows with
/// AVX-512, 6 with narrower registers), k blocks of 512 (a 32 KiB weight block per panel, the same bytes as
/// F32's 256).
template <class Arch>
using f16_tile = float_tile<Arch, f16_loader, 512>;

}  // namespace simd_detail

/// F16 GEMM on the SIMD backend: y = epilogue(x · Wᵀ) with W packed once into packed_f16 panels,
/// widened to f32 in registers (`vcvtph2ps` / `fcvtl`, exact) and multiplied with the f32 activations by FMA
/// in the register tile f16_tile<Arch>, blocked as the F32 kernel (run_float_panels). Each output
/// is an f32 sum in k order (for M <= 2 two interleaved partial sums), so it differs from the
/// double-precision reference by f32 rounding only, and not with the thread count.
/// Shapes: x (M, K), y (M, N), row-major f32, strides allowed; x may hold any values (NaN/Inf
/// propagate). throws lowbit::error{errc::invalid_argument} if t.count < 1. Allocation: the packed
/// copy at prepare; per call with M > the tile's rows and K > 512, workspace scratch.
/// Source of the format: IEEE 754-2008 binary16 (GGUF type F16).
template <class Arch>
struct gemm_kernel<f16, backend::simd<Arch>> : simd_detail::float_panel_kernel<f16, simd_detail::f16_tile<Arch>> {};

}  // namespace lowbit
