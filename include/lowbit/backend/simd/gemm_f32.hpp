// SPDX-License-Identifier: Apache-2.0
// Copyright lowbit contributors
#pragma once

#include <cstddef>
#include <span>

#include "lowbit/backend/simd/float_panel_gemm.hpp"
#include "lowbit/backend/simd/float_panels.hpp"
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

/// F32 weights W(N, K) in k-major panels of 32 columns (`k_packed<32, 1>`): element W(32p + r, k)
/// of panel p at index 32k + r. See float_panels.
using packed_f32 = float_panels<f32, 1>;

/// Packs F32 weights W(N, K) (file layout) into packed_f32 panels. Threads split the panels.
inline packed_f32 pack_f32(weight_view<f32> w, threads t = {}) { return pack_float_panels<packed_f32>(w, t); }

/// Restores the file layout of packed F32 weights into `out` (N * K values): the inverse of
/// pack_f32. throws lowbit::error{errc::shape_mismatch} if out has another size.
inline void unpack_f32(const packed_f32& w, std::span<f32::block> out) { unpack_float_panels(w, out); }

namespace simd_detail {

/// B loader of the F32 panels: aligned f32 loads.
struct f32_loader {
  using element_type = f32::block;
  template <class Arch>
  static xsimd::batch<float, Arch> load(const element_type* p) noexcept {
    return xsimd::batch<float, Arch>::load_aligned(&p->value);
  }
};

/// The F32 tile policy of run_float_panels: float_tile with aligned f32 loads, k blocks of 256 (a
/// 32 KiB weight block per panel).
template <class Arch>
using f32_tile = float_tile<Arch, f32_loader, 256>;

}  // namespace simd_detail

/// F32 GEMM on the SIMD backend: y = epilogue(x · Wᵀ) with W packed once into packed_f32 panels.
///
/// Register tile f32_tile<Arch> (8 x 32 on AVX-512, 6 x 32 in two halves on AVX2, in four quarters
/// on NEON) of fused multiply-adds; cache blocking over K (256) and N (256 columns) for M > the
/// tile's rows, one whole-K stream of the panels for decode (M <= the tile's rows); threads split N; the epilogue
/// runs per 32-column tile. Each output is an f32 sum in k order (for M <= 2, two interleaved
/// partial sums of even and odd k), so it differs from the double-precision reference by f32
/// rounding (at most γ_K Σ_k |x w|, ~ sqrt(K) ulp typically) and not with the thread count.
/// Shapes: x (M, K), y (M, N), row-major f32, strides allowed; x may hold any values (NaN/Inf
/// propagate). throws lowbit::error{errc::invalid_argument} if t.count < 1. Allocation: the packed
/// copy at prepare; per call with M > the tile's rows and K > 256, workspace scratch of
/// threads x 16 MR x 256 floats until it has grown. Blocking after Goto and van de Geijn, "Anatomy
/// of high-performance matrix multiplication" (ACM TOMS 34(3), 2008) and BLIS (Van Zee and van de
/// Geijn, ACM TOMS 41(3), 2015).
template <class Arch>
struct gemm_kernel<f32, backend::simd<Arch>> : simd_detail::float_panel_kernel<f32, simd_detail::f32_tile<Arch>> {};

}  // namespace lowbit
