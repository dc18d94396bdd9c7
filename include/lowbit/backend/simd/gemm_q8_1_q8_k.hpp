// SPDX-License-Identifier: Apache-2.0
// Copyright lowbit contributors
#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <type_traits>
#include <vector>

#include "lowbit/backend/simd/gemm_parametric_generic.hpp"
#include "lowbit/backend/simd/generic_parametric_panels.hpp"
#include "lowbit/backend/simd/tag.hpp"
#include "lowbit/core/error.hpp"
#include "lowbit/core/fp16.hpp"
#include "lowbit/core/matrix_view.hpp"
#include "lowbit/core/parallel.hpp"
#include "lowbit/formats/ggml/q8_1.hpp"
#include "lowbit/formats/ggml/q8_k.hpp"
#include "lowbit/formats/quant/quant.hpp"
#include "lowbit/gemm/epilogue.hpp"
#include "lowbit/gemm/kernel.hpp"
#include "lowbit/gemm/quantized_gemm.hpp"
#include "lowbit/gemm/workspace.hpp"
#include "lowbit/quant/weight_view.hpp"

namespace lowbit {

/// The parametric format whose values are exactly those of a Q8_1 block, `fp16(d) * q`:
/// signed 8-bit codes, one f16 scale per 32 columns, no zero point.
using q8_1_values = quant<int_code<8, true>, scale_f16, per_group<32>>;

/// The parametric format whose values are exactly those of a Q8_K block, `d * q` (f32 product):
/// signed 8-bit codes, one f32 scale per 256 columns, no zero point.
using q8_k_values = quant<int_code<8, true>, scale_f32, per_group<256>>;

/// Q8_1 weights W(N, K) for the SIMD backend: the codes and scales in the generic parametric
/// panels of q8_1_values (packed_generic_parametric, see there for the bytes), plus the blocks'
/// `s` fields, which the GEMM does not read but unpack_q8_1 restores (s = fp16(d Σ q) with the
/// unrounded d of the encoder: not recomputable from the stored d).
/// Shapes: `values` N x K; `s` (N, K / 32) fp16 bits, row-major. Memory: 9.75 bits per weight
/// (panels 9.25, s 0.5; the file: 9).
struct packed_q8_1 {
  using format_type = ggml::q8_1;
  std::size_t rows = 0;  ///< N
  std::size_t cols = 0;  ///< K
  packed_generic_parametric<q8_1_values> values;
  std::vector<std::uint16_t> s;
};

/// Q8_K weights W(N, K) for the SIMD backend: the codes and scales in the generic parametric
/// panels of q8_k_values (packed_generic_parametric, see there for the bytes). The blocks' bsums
/// are not kept: unpack_q8_k recomputes them as the sums of the codes.
/// Shapes: `values` N x K. Memory: 8.16 bits per weight (the file: 9.125).
struct packed_q8_k {
  using format_type = ggml::q8_k;
  std::size_t rows = 0;  ///< N
  std::size_t cols = 0;  ///< K
  packed_generic_parametric<q8_k_values> values;
};

namespace simd_detail {

/// Packs W(N, K) of 8-bit block format F (blocks with `qs[block_size]` int8 codes) into the panels
/// of packed_generic_parametric<Q> for 8-bit signed symmetric Q with group_size == block_size,
/// writing the layout directly from the blocks: one plane of 8-bit fields, stored code
/// u = q ^ 0x80, zero point z' = 128, scale `scale_of(block)` (f32, exact); padding rows all 0,
/// as pack_generic_parametric leaves them. Threads split the panels.
template <quant_format Q, class F, class ScaleOf>
packed_generic_parametric<Q> pack_q8_blocks(weight_view<F> w, threads t, ScaleOf scale_of) {
  static_assert(Q::bits == 8 && Q::code_type::is_signed && !Q::has_zero_point && Q::group_size == F::block_size);
  static_assert(generic_planes_of(8).count == 1, "lowbit: 8-bit codes are one plane of bytes");
  constexpr std::size_t g_size = F::block_size, chunks = g_size / 4;
  packed_generic_parametric<Q> out;
  out.n = w.rows;
  out.k = w.cols;
  out.group_size = g_size;
  out.group_stride = generic_group_bytes(g_size, 8, true);
  out.panel_stride = out.groups() * out.group_stride;
  out.bytes = aligned_buffer(out.panels() * out.panel_stride);
  auto* base = reinterpret_cast<std::uint8_t*>(out.bytes.data());
  parallel_for(t, out.panels(), 1, [&](std::size_t p_begin, std::size_t p_end) {
    for (std::size_t p = p_begin; p < p_end; ++p) {
      for (std::size_t r = 0; r < 16 && p * 16 + r < out.n; ++r) {
        const typename F::block* row = w.row(p * 16 + r);
        for (std::size_t g = 0; g < out.groups(); ++g) {
          std::uint8_t* blk = base + p * out.panel_stride + g * out.group_stride;
          const float scale = scale_of(row[g]);
          std::memcpy(blk + chunks * 64 + 4 * r, &scale, 4);
          blk[chunks * 64 + 64 + r] = 0x80;
          for (std::size_t c = 0; c < g_size; ++c) {
            blk[c / 4 * 64 + 4 * r + c % 4] =
                static_cast<std::uint8_t>(static_cast<std::uint8_t>(row[g].qs[c]) ^ 0x80u);
          }
        }
      }
    }
  });
  return out;
}

/// The codes (q, int8) and the f32 scale of row n, group g of a pack_q8_blocks panel set.
struct q8_group_view {
  const std::uint8_t* blk;
  std::size_t r;
  std::size_t chunks;
  std::int8_t code(std::size_t c) const noexcept {
    return static_cast<std::int8_t>(blk[c / 4 * 64 + 4 * r + c % 4] ^ 0x80u);
  }
  float scale() const noexcept {
    float s;
    std::memcpy(&s, blk + chunks * 64 + 4 * r, 4);
    return s;
  }
};
/// Row n, group g of w (unchecked).
template <quant_format Q>
q8_group_view q8_group(const packed_generic_parametric<Q>& w, std::size_t n, std::size_t g) noexcept {
  return {w.panel(n / 16) + g * w.group_stride, n % 16, w.group_size / 4};
}

/// The binary16 bits h with fp16_to_f32(h) == f (f one of its results): f32_to_fp16, except for
/// NaNs, whose payload (signalling ones included) is kept bit for bit.
inline std::uint16_t fp16_bits_of(float f) noexcept {
  const std::uint32_t bits = std::bit_cast<std::uint32_t>(f);
  if ((bits & 0x7fffffffu) > 0x7f800000u) {
    return static_cast<std::uint16_t>(((bits >> 16) & 0x8000u) | 0x7c00u | ((bits >> 13) & 0x3ffu));
  }
  return f32_to_fp16(f);
}

/// throws lowbit::error{errc::shape_mismatch} naming `name` unless got == want (blocks).
inline void check_unpack_size(const char* name, std::size_t got, std::size_t want) {
  check(got == want, errc::shape_mismatch, [&] {
    return std::string(name) + ": output holds " + std::to_string(got) + " blocks, the matrix " + std::to_string(want);
  });
}

}  // namespace simd_detail

/// Packs a Q8_1 W (file layout) for the SIMD GEMM (see packed_q8_1): codes and fp16 scales
/// copied exactly (no re-quantization), `s` kept aside. Threads split the panels.
/// Allocation: the result (1.08 x the file's bytes).
inline packed_q8_1 pack_q8_1(weight_view<ggml::q8_1> w, threads t = {}) {
  packed_q8_1 out;
  out.rows = w.rows;
  out.cols = w.cols;
  out.values =
      simd_detail::pack_q8_blocks<q8_1_values>(w, t, [](const ggml::q8_1::block& b) { return fp16_to_f32(b.d); });
  out.s.resize(w.rows * w.blocks_per_row());
  for (std::size_t b = 0; b < out.s.size(); ++b) out.s[b] = w.blocks[b].s;
  return out;
}

/// Packs a Q8_K W (file layout) for the SIMD GEMM (see packed_q8_k): codes and f32 scales copied
/// exactly (no re-quantization). Threads split the panels. Allocation: the result.
inline packed_q8_k pack_q8_k(weight_view<ggml::q8_k> w, threads t = {}) {
  packed_q8_k out;
  out.rows = w.rows;
  out.cols = w.cols;
  out.values = simd_detail::pack_q8_blocks<q8_k_values>(w, t, [](const ggml::q8_k::block& b) { return b.d; });
  return out;
}

/// Restores the file layout of a packed Q8_1 matrix into `out` (N * K / 32 blocks), byte for
/// byte: the inverse of pack_q8_1 (d from its exact f32 value, NaN payloads included).
/// throws lowbit::error{errc::shape_mismatch} if out has another size.
inline void unpack_q8_1(const packed_q8_1& w, std::span<ggml::q8_1::block> out) {
  const std::size_t nb = w.cols / 32;
  simd_detail::check_unpack_size("unpack_q8_1", out.size(), w.rows * nb);
  for (std::size_t n = 0; n < w.rows; ++n) {
    for (std::size_t b = 0; b < nb; ++b) {
      const simd_detail::q8_group_view v = simd_detail::q8_group(w.values, n, b);
      ggml::q8_1::block& blk = out[n * nb + b];
      blk.d = simd_detail::fp16_bits_of(v.scale());
      blk.s = w.s[n * nb + b];
      for (std::size_t c = 0; c < 32; ++c) blk.qs[c] = v.code(c);
    }
  }
}

/// Restores the file layout of a packed Q8_K matrix into `out` (N * K / 256 blocks): the inverse
/// of pack_q8_k, with bsums recomputed as the sums of each 16 codes (byte for byte what the file
/// held when its bsums were those sums, as ggml writes them).
/// throws lowbit::error{errc::shape_mismatch} if out has another size.
inline void unpack_q8_k(const packed_q8_k& w, std::span<ggml::q8_k::block> out) {
  const std::size_t nb = w.cols / 256;
  simd_detail::check_unpack_size("unpack_q8_k", out.size(), w.rows * nb);
  for (std::size_t n = 0; n < w.rows; ++n) {
    for (std::size_t b = 0; b < nb; ++b) {
      const simd_detail::q8_group_view v = simd_detail::q8_group(w.values, n, b);
      ggml::q8_k::block& blk = out[n * nb + b];
      blk.d = v.scale();
      for (std::size_t c = 0; c < 256; ++c) blk.qs[c] = v.code(c);
      for (std::size_t g = 0; g < 16; ++g) {
        int sum = 0;
        for (std::size_t c = 16 * g; c < 16 * g + 16; ++c) sum += blk.qs[c];
        blk.bsums[g] = static_cast<std::int16_t>(sum);
      }
    }
  }
}

namespace simd_detail {

/// The gemm_kernel of a GGUF 8-bit format whose values are those of parametric format Q: the
/// generic parametric kernel on the packed panels (f32 activations, not quantized).
template <class Packed, quant_format Q, class Arch>
struct q8_values_gemm_kernel {
  using generic = quantized_gemm_kernel<Q, backend::simd<Arch>>;
  static_assert(std::is_same_v<typename generic::weight_type, packed_generic_parametric<Q>>,
                "lowbit: the Q8_1 / Q8_K kernels reuse the generic parametric kernel");
  using weight_type = Packed;
  template <epilogue::stage E>
  static void run(matrix_view<const float> x, const weight_type& w, matrix_view<float> y, threads t, const E& e,
                  gemm_workspace& ws) {
    generic::run(x, w.values, y, t, e, ws);
  }
};

}  // namespace simd_detail

/// Q8_1 GEMM on the SIMD backend: y(M, N) = epilogue(x(M, K) · W(N, K)ᵀ) with W's values
/// fp16(d) * q read exactly from packed_q8_1 by the generic parametric kernel of q8_1_values
/// (gemm_parametric_generic.hpp: codes decoded in registers, f32 FMA, scale per block; AVX-512
/// BW or AVX2). Activations: f32 as given. Error against the reference: f32 rounding only,
/// |y - y_ref| <= ~(K + 2) ulps of Σ_k |x w|. Allocation: none. Source: ggml `block_q8_1`.
template <class Arch>
struct gemm_kernel<ggml::q8_1, backend::simd<Arch>>
    : simd_detail::q8_values_gemm_kernel<packed_q8_1, q8_1_values, Arch> {
  static packed_q8_1 prepare(weight_view<ggml::q8_1> w, threads t) { return pack_q8_1(w, t); }
};

/// Q8_K GEMM on the SIMD backend: as the Q8_1 kernel, with W's values d * q (f32 d) read from
/// packed_q8_k by the generic parametric kernel of q8_k_values. Source: ggml `block_q8_K`.
template <class Arch>
struct gemm_kernel<ggml::q8_k, backend::simd<Arch>>
    : simd_detail::q8_values_gemm_kernel<packed_q8_k, q8_k_values, Arch> {
  static packed_q8_k prepare(weight_view<ggml::q8_k> w, threads t) { return pack_q8_k(w, t); }
};

}  // namespace lowbit
