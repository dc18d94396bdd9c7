// SPDX-License-Identifier: Apache-2.0
// Copyright lowbit contributors
#pragma once

#include <algorithm>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <span>

#include "lowbit/backend/simd/float_panel_gemm.hpp"
#include "lowbit/backend/simd/float_panels.hpp"
#include "lowbit/backend/simd/isa/isa.hpp"
#include "lowbit/backend/simd/tag.hpp"
#include "lowbit/backend/simd/xsimd_compat.hpp"
#include "lowbit/core/error.hpp"
#include "lowbit/core/fp16.hpp"
#include "lowbit/core/matrix_view.hpp"
#include "lowbit/core/parallel.hpp"
#include "lowbit/formats/float.hpp"
#include "lowbit/gemm/epilogue.hpp"
#include "lowbit/gemm/kernel.hpp"
#include "lowbit/gemm/workspace.hpp"
#include "lowbit/quant/weight_view.hpp"

namespace lowbit {

/// BF16 weights W(N, K) in k-major panels of 32 columns holding pairs of k (`k_packed<32, 2>`):
/// element W(32p + r, k) of panel p at index 64 (k / 2) + 2r + k % 2, K padded with a zero to an
/// even Kp. 64 bytes of a panel's row are the `vdpbf16ps` operand for 16 columns. See float_panels.
using packed_bf16 = float_panels<bf16, 2>;

/// Packs BF16 weights W(N, K) (file layout) into packed_bf16 panels. Threads split the panels.
inline packed_bf16 pack_bf16(weight_view<bf16> w, threads t = {}) { return pack_float_panels<packed_bf16>(w, t); }

/// Restores the file layout of packed BF16 weights into `out` (N * K values): the inverse of
/// pack_bf16. throws lowbit::error{errc::shape_mismatch} if out has another size.
inline void unpack_bf16(const packed_bf16& w, std::span<bf16::block> out) { unpack_float_panels(w, out); }

namespace simd_detail {

/// True when the ISA layer for Arch has bf16 dot products (`bf16_pairs`, `dot_bf16`: AVX-512 BF16).
template <class Arch>
inline constexpr bool has_bf16_dot_v = isa_ops<Arch>::has_bf16_dot;

/// Rounds x(M, K) to bfloat16 (round to nearest even) into pairs: out[i * Kp / 2 + s] holds
/// (bf16(x(i, 2s)), bf16(x(i, 2s + 1))) in its (low, high) halves, a zero padding an odd K.
/// Where the ISA layer has bf16 dot products by its `bf16_pairs` (AVX-512 BF16 `vcvtne2ps2bf16`,
/// which also flushes denormal inputs to zero), 2 lanes floats at a time, the row's tail through a
/// zero-padded copy; otherwise by lowbit::f32_to_bf16; NaN stays NaN. out: M * Kp / 2 dwords.
template <class Arch>
inline void activations_to_bf16_pairs(matrix_view<const float> x, std::size_t kp, dword_alias* out) noexcept {
  const std::size_t pairs = kp / 2;
  for (std::size_t i = 0; i < x.rows; ++i) {
    const float* row = x.row(i);
    dword_alias* dst = out + i * pairs;
    if constexpr (has_bf16_dot_v<Arch>) {
      using I = isa_ops<Arch>;
      constexpr std::size_t step = 2 * I::lanes;
      std::size_t k = 0;
      for (; k + step <= x.cols; k += step)
        I::store(dst + k / 2, I::bf16_pairs(I::load_f32(row + k), I::load_f32(row + k + I::lanes)));
      if (k < x.cols) {
        alignas(64) float tail[step] = {};
        alignas(64) std::int32_t packed[I::lanes];
        std::copy(row + k, row + x.cols, tail);
        I::store(packed, I::bf16_pairs(I::load_f32(tail), I::load_f32(tail + I::lanes)));
        std::copy_n(packed, (x.cols - k + 1) / 2, dst + k / 2);
      }
    } else {
      for (std::size_t s = 0; s < pairs; ++s) {
        const std::uint32_t lo = f32_to_bf16(row[2 * s]);
        const std::uint32_t hi = 2 * s + 1 < x.cols ? f32_to_bf16(row[2 * s + 1]) : 0u;
        dst[s] = static_cast<std::int32_t>(lo | (hi << 16));
      }
    }
  }
}

/// The BF16 register tile: MR rows of bf16 activation pairs times 32 columns of one panel.
///
/// c_out(i, j) = c_in(i, j) + Σ_{s < steps} (a_odd(i, s) b_odd(s, j) + a_even(i, s) b_even(s, j)),
/// the pairs of k (2s, 2s + 1) of a (M rows of `lda` dwords) and of b (32 dwords per s), c_in = 0
/// when null. Where the ISA layer has bf16 dot products (AVX-512 BF16): its `dot_bf16`
/// (`vdpbf16ps`), MR x 32 / lanes accumulators; otherwise the portable path widens each bf16 to f32
/// (a shift by 16 bits, exact) and issues two xsimd FMAs, odd k first as Intel's pseudo-code of
/// VDPBF16PS does (products of two bf16 are exact in f32). For MR <= 2 even and odd pair steps
/// feed separate accumulators. Preconditions: b 64-byte aligned, MR <= bf16_tile<Arch>::mr.
/// Source: Intel SDM, VDPBF16PS; bfloat16 per Kalamkar et al. arXiv:1905.12322.
template <class Arch, int MR>
[[gnu::flatten]] inline void bf16_microkernel(const dword_alias* a, std::size_t lda, const bf16::block* b_blocks,
                                              std::size_t steps, const float* c_in, std::size_t ldc_in, float* c_out,
                                              std::size_t ldc_out) noexcept {
  constexpr int ku = MR <= 2 ? 2 : 1;
  const auto* b = reinterpret_cast<const std::uint32_t*>(b_blocks);
  if constexpr (has_bf16_dot_v<Arch>) {
    using I = isa_ops<Arch>;
    using vf = typename I::vf;
    using vi = typename I::vi;
    constexpr std::size_t lanes = I::lanes;
    constexpr int nb = 2, tiles = MR * nb;
    for (std::size_t j0 = 0; j0 < 32; j0 += nb * lanes) {
      vf acc[ku * tiles];  // acc[(u * MR + i) * nb + j]
      unroll<ku * tiles>([&](auto t) {
        constexpr int u = decltype(t)::value / tiles, i = decltype(t)::value % tiles / nb, j = decltype(t)::value % nb;
        acc[t] = (u == 0 && c_in != nullptr) ? I::load_f32(c_in + i * ldc_in + j0 + j * lanes) : I::zero_f32();
      });
      for (std::size_t s = 0; s < steps; s += ku) {
        unroll<ku>([&](auto u) {
          if (u > 0 && s + u >= steps) return;
          vi bv[nb];
          unroll<nb>([&](auto j) { bv[j] = I::load(b + (s + u) * 32 + j0 + j * lanes); });
          unroll<MR>([&](auto i) {
            const vi av = I::splat_i32(a[i * lda + s + u]);
            unroll<nb>([&](auto j) {
              constexpr int t = (decltype(u)::value * MR + decltype(i)::value) * nb + decltype(j)::value;
              acc[t] = I::dot_bf16(acc[t], av, bv[j]);
            });
          });
        });
      }
      unroll<tiles>([&](auto t) {
        vf sum = acc[t];
        if constexpr (ku == 2) sum = I::add(sum, acc[tiles + t]);
        I::store_f32(c_out + (t / nb) * ldc_out + j0 + (t % nb) * lanes, sum);
      });
    }
  } else {
    using batch = xsimd::batch<float, Arch>;
    using ubatch = xsimd::batch<std::uint32_t, Arch>;
    constexpr std::size_t lanes = batch::size;
    constexpr int nb = 2, tiles = MR * nb;
    const ubatch high_half(0xffff0000u);
    for (std::size_t j0 = 0; j0 < 32; j0 += nb * lanes) {
      batch acc[ku * tiles];  // acc[(u * MR + i) * nb + j]
      unroll<ku * tiles>([&](auto t) {
        constexpr int u = decltype(t)::value / tiles, i = decltype(t)::value % tiles / nb, j = decltype(t)::value % nb;
        acc[t] = (u == 0 && c_in != nullptr) ? batch::load_unaligned(c_in + i * ldc_in + j0 + j * lanes) : batch(0.0f);
      });
      for (std::size_t s = 0; s < steps; s += ku) {
        unroll<ku>([&](auto u) {
          if (u > 0 && s + u >= steps) return;
          batch b_even[nb], b_odd[nb];
          unroll<nb>([&](auto j) {
            const ubatch pair = ubatch::load_aligned(b + (s + u) * 32 + j0 + j * lanes);
            b_even[j] = xsimd::bitwise_cast<batch>(pair << 16);
            b_odd[j] = xsimd::bitwise_cast<batch>(pair & high_half);
          });
          unroll<MR>([&](auto i) {
            const auto pair = static_cast<std::uint32_t>(a[i * lda + s + u]);
            const batch a_even(std::bit_cast<float>(pair << 16)), a_odd(std::bit_cast<float>(pair & 0xffff0000u));
            unroll<nb>([&](auto j) {
              constexpr int t = (decltype(u)::value * MR + decltype(i)::value) * nb + decltype(j)::value;
              acc[t] = fmadd<Arch>(a_odd, b_odd[j], acc[t]);
              acc[t] = fmadd<Arch>(a_even, b_even[j], acc[t]);
            });
          });
        });
      }
      unroll<tiles>([&](auto t) {
        batch sum = acc[t];
        if constexpr (ku == 2) sum += acc[tiles + t];
        sum.store_unaligned(c_out + (t / nb) * ldc_out + j0 + (t % nb) * lanes);
      });
    }
  }
}

/// The x operand of bf16_tile: M rows of `stride` dwords of bf16 pairs (see float_activations).
struct bf16_activations {
  const dword_alias* data = nullptr;
  std::size_t stride = 0;
};

/// The BF16 tile policy of run_float_panels: 8 rows with AVX-512 (16 zmm accumulators), 6 with
/// narrower registers; k blocks of 512 (256 pairs: a 32 KiB weight block per panel). The
/// activations are x rounded to bf16 pairs (activations_to_bf16_pairs) in M * Kp / 2 dwords of
/// workspace, rounded up to 16 floats.
template <class Arch>
struct bf16_tile {
  static constexpr int mr = xsimd::batch<float, Arch>::size >= 16 ? 8 : 6;
  static constexpr std::size_t kr = 2;
  static constexpr std::size_t kc = 512;
  static constexpr std::size_t activation_floats(std::size_t m, std::size_t kp) noexcept {
    return (m * kp / 2 + 15) / 16 * 16;
  }
  static bf16_activations activations(matrix_view<const float> x, std::size_t kp, float* scratch) noexcept {
    auto* a = reinterpret_cast<dword_alias*>(scratch);
    activations_to_bf16_pairs<Arch>(x, kp, a);
    return {a, kp / 2};
  }
  template <int MR>
  static void compute(const dword_alias* a, std::size_t lda, const bf16::block* b, std::size_t steps, const float* c_in,
                      std::size_t ldc_in, float* c_out, std::size_t ldc_out) noexcept {
    bf16_microkernel<Arch, MR>(a, lda, b, steps, c_in, ldc_in, c_out, ldc_out);
  }
};

}  // namespace simd_detail

/// BF16 GEMM on the SIMD backend: y = epilogue(bf16(x) · Wᵀ) with W packed once into packed_bf16.
///
/// The activations are rounded to bf16 on the fly (round to nearest even, once per call, into the
/// workspace), as oneDNN's bf16 x bf16 -> f32 matmul takes them; the products are exact, the sums
/// f32. With AVX-512 BF16 the register tile (8 rows x 32 columns) issues `vdpbf16ps`; without it
/// the portable path widens bf16 to f32 and issues xsimd FMAs (AVX2: 6 x 32 in two halves; NEON:
/// in four quarters).
/// Blocking (K in 512, N in 256 columns), threads (over N) and epilogue as gemm_kernel<f32, simd>;
/// results do not depend on the thread count. Against the reference (exact bf16 W, f32 x, double
/// sums) the rounding of x adds |Δy| <= 2^-8 Σ_k |x w| (~ 2^-8 sqrt(K) |x| |w| typically) to the
/// f32 summation error. Shapes: x (M, K), y (M, N), row-major f32, strides allowed; NaN/Inf in x
/// propagate. throws lowbit::error{errc::invalid_argument} if t.count < 1. Allocation: the packed
/// copy at prepare; per call, workspace scratch of M * ceil(K / 2) floats (+ the K-blocking partial
/// sums) until it has grown. Source: oneDNN's bf16 matmul convention; Intel SDM (VDPBF16PS).
template <class Arch>
struct gemm_kernel<bf16, backend::simd<Arch>> : simd_detail::float_panel_kernel<bf16, simd_detail::bf16_tile<Arch>> {};

}  // namespace lowbit
