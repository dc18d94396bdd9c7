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
#include "lowbit/quant/quantized_matrix.hpp"
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
/// of packed_generic_parametric<Q> for 8-bit signed symmetric Q with group_size == block_size:
/// the blocks' codes and `scale_of(block)` (Q's scale storage, exact) copied into a
/// quantized_matrix<Q>, then pack_generic_parametric. Threads split the panels.
template <quant_format Q, class F, class ScaleOf>
packed_generic_parametric<Q> pack_q8_blocks(weight_view<F> w, threads t, ScaleOf scale_of) {
  static_assert(Q::bits == 8 && Q::code_type::is_signed && !Q::has_zero_point && Q::group_size == F::block_size);
  quantized_matrix<Q> values(w.rows, w.cols);  // 8-bit codes: one byte per element, rows of K bytes
  const std::size_t nb = w.blocks_per_row();
  for (std::size_t n = 0; n < w.rows; ++n) {
    for (std::size_t b = 0; b < nb; ++b) {
      const typename F::block& blk = w.row(n)[b];
      std::memcpy(values.codes().data() + n * w.cols + b * F::block_size, blk.qs, F::block_size);
      values.scales()[n * nb + b] = scale_of(blk);
    }
  }
  return pack_generic_parametric(values, t);
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
  out.values = simd_detail::pack_q8_blocks<q8_1_values>(w, t, [](const ggml::q8_1::block& b) { return b.d; });
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
      ggml::q8_1::block& blk = out[n * nb + b];
      blk.d = simd_detail::fp16_bits_of(packed_generic_scale(w.values, n, 32 * b));
      blk.s = w.s[n * nb + b];
      for (std::size_t c = 0; c < 32; ++c)
        blk.qs[c] = static_cast<std::int8_t>(packed_generic_code(w.values, n, 32 * b + c));
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
      ggml::q8_k::block& blk = out[n * nb + b];
      blk.d = packed_generic_scale(w.values, n, 256 * b);
      for (std::size_t c = 0; c < 256; ++c)
        blk.qs[c] = static_cast<std::int8_t>(packed_generic_code(w.values, n, 256 * b + c));
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
/// (gemm_parametric_generic.hpp: codes decoded in registers, f32 FMA, scale per block; on every
/// ISA of the layer, isa/isa.hpp). Activations: f32 as given. Error against the reference: f32 rounding only,
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
