// SPDX-License-Identifier: Apache-2.0
// Copyright lowbit contributors
#pragma once

#include <algorithm>
#include <array>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>

#include "lowbit/backend/simd/block_dot_panels.hpp"
#include "lowbit/backend/simd/panel_schedule.hpp"
#include "lowbit/backend/simd/tag.hpp"
#include "lowbit/core/error.hpp"
#include "lowbit/core/matrix_view.hpp"
#include "lowbit/core/parallel.hpp"
#include "lowbit/formats/ggml/e2m1_search.hpp"
#include "lowbit/formats/mx/mx_format.hpp"
#include "lowbit/formats/mx/nvfp4.hpp"
#include "lowbit/gemm/epilogue.hpp"
#include "lowbit/gemm/kernel.hpp"
#include "lowbit/gemm/workspace.hpp"
#include "lowbit/quant/weight_view.hpp"

// The SIMD GEMM/GEMV of the OCP MX v1.0 formats (lowbit::mx::mxfp4, mxfp6_e2m3, mxfp6_e3m2,
// mxfp8_e4m3, mxfp8_e5m2, mxint8) and NVIDIA NVFP4 (lowbit::mx::nvfp4). All keep the file's bytes in the
// dword-transposed k_packed<16, 4> panels of block_dot_panels.hpp (chunk j, lane r = code bytes 4j..4j+3 of row 16p +
// r; then the 16 E8M0 scales). Two kernels:
// - integer: the elements whose values are integers times a power of two that fits int8 (FP4
//   E2M1 doubled, FP6 E2M3 times 8, INT8) are decoded in registers to int8 and dotted with the
//   8-bit activations (block_dot_gemm_kernel, I::dot4_s8: `vpdpbusd`, `vpmaddubsw`, `sdot`): exact integer sums;
// - float: FP6 E3M2 (|8 v| up to 448 does not fit int8) and FP8 E4M3 / E5M2 are decoded in
//   registers to f32 (exponent and mantissa moved into f32's fields with shifts, then rescaled by a
//   power of two, exact) and FMA'd against the unquantized f32 activations.
// Source of the values: OCP Microscaling Formats (MX) Specification v1.0 (2023) §5.

namespace lowbit {

namespace simd_detail {

/// The MX block scale 2^(e - 127) times `factor` (a power of two) per lane, as f32: e << 23 for
/// e >= 1, the subnormal 2^-127 for e = 0, NaN for e = 255 (spec §5.4.1, lowbit::e8m0_to_f32).
/// Exact while the product stays >= 2^-149.
template <class I>
inline typename I::vf mx_scale(lanes32<I> e, float factor) noexcept {
  using ib = lanes32<I>;
  ib bits = select32<I>(I::cmpeq32(e, ib(0)), ib(0x00400000), e << 23);
  bits = select32<I>(I::cmpeq32(e, ib(255)), ib(0x7fc00000), bits);
  return I::mul(I::as_f32(bits), I::splat_f32(factor));
}

/// Four 4-bit codes (bits 4j..4j+3 of t) moved to the low nibbles of the four bytes of each lane.
template <class B>
inline B spread_nibbles(B t) noexcept {
  return (t & B(0xf)) | ((t << 4) & B(0xf00)) | ((t << 8) & B(0xf0000)) | ((t << 12) & B(0xf000000));
}

/// Four 6-bit codes (bits 6j..6j+5 of t) moved to the low 6 bits of the four bytes of each lane.
template <class B>
inline B spread_sextets(B t) noexcept {
  return (t & B(0x3f)) | ((t << 2) & B(0x3f00)) | ((t << 4) & B(0x3f0000)) | ((t << 6) & B(0x3f000000));
}

/// The 24 bits of FP6 quad g (elements 4g..4g+3, block code bytes 3g..3g+2, LSB first) of each
/// row, from the six chunks of a block (chunk_at<I>(j, h) of `rec`), in the low 24 bits per lane.
template <class I, int G>
inline lanes32<I> fp6_quad(const std::uint8_t* rec, std::size_t h) noexcept {
  using ib = lanes32<I>;
  constexpr int byte = 3 * G, chunk = byte / 4, off = byte % 4;
  const ib lo = I::load(rec + chunk_at<I>(chunk, h));
  if constexpr (off == 0) {
    return lo;
  } else {
    const ib hi = I::load(rec + chunk_at<I>(chunk + 1, h));
    return ((lo >> (8 * off)) & ib((1 << (32 - 8 * off)) - 1)) | (hi << (32 - 8 * off));
  }
}

/// Calls f(std::integral_constant<int, I>{}) for I = 0..N-1, unrolled.
template <int N, class F>
inline void mx_unroll(F&& f) {
  [&]<int... I>(std::integer_sequence<int, I...>) { (f(std::integral_constant<int, I>{}), ...); }
  (std::make_integer_sequence<int, N>{});
}

/// MXINT8 (lowbit::mx::mxint8): e @0, 32 int8 codes @1; value = 2^(e - 127) code / 64. Chunk c
/// holds elements 4c..4c+3 as they are.
template <>
struct block_dot_traits<mx::mxint8> {
  static constexpr std::size_t code_src = 1, code_bytes = 32;
  static constexpr std::array<header_field, 1> fields{{{0, 1, 1}}};
  static constexpr bool lut = true;
  static constexpr bool split_halves = false;
  template <class I>
  static void decode(const std::uint8_t* rec, std::size_t h, std::size_t, typename I::vi* op,
                     typename I::vf* dw) noexcept {
    for (std::size_t c = 0; c < 8; ++c) op[c] = I::bias_s8(I::load(rec + chunk_at<I>(c, h)));
    dw[0] = mx_scale<I>(I::widen_u8(rec + 16 * code_bytes + I::lanes * h), 1.0f / 64.0f);
  }
};

/// MXFP4 (lowbit::mx::mxfp4): e @0, 16 code bytes @1 (element 2j the low nibble of byte j); value
/// = 2^(e - 127) e2m1(q) = 2^(e - 128) doubled(q), the doubled E2M1 values looked up by I::lookup16.
/// Chunk c holds elements 8c..8c+7: its low two bytes give op[2c], its high two op[2c + 1].
template <>
struct block_dot_traits<mx::mxfp4> {
  static constexpr std::size_t code_src = 1, code_bytes = 16;
  static constexpr std::array<header_field, 1> fields{{{0, 1, 1}}};
  static constexpr bool lut = true;
  static constexpr bool split_halves = false;
  template <class I>
  static void decode(const std::uint8_t* rec, std::size_t h, std::size_t, typename I::vi* op,
                     typename I::vf* dw) noexcept {
    using ib = lanes32<I>;
    const typename I::vi table = I::table_s8(ggml::detail::e2m1::doubled_values);
    for (std::size_t c = 0; c < 4; ++c) {
      const ib v = I::load(rec + chunk_at<I>(c, h));
      op[2 * c] = I::lookup16(table, spread_nibbles(v));
      op[2 * c + 1] = I::lookup16(table, spread_nibbles(v >> 16));
    }
    dw[0] = mx_scale<I>(I::widen_u8(rec + 16 * code_bytes + I::lanes * h), 0.5f);
  }
};

/// MXFP6 E2M3 (lowbit::mx::mxfp6_e2m3): e @0, 24 code bytes @1 (6-bit codes LSB first); value =
/// 2^(e - 127) e2m3(q) = 2^(e - 130) (8 e2m3(q)), where 8 e2m3(q) is an integer: the magnitude code
/// itself for codes 0..15, {16, 18, ..., 30, 32, 36, ..., 60} for 16..31 (one I::lookup16), negated
/// by bit 5.
template <>
struct block_dot_traits<mx::mxfp6_e2m3> {
  static constexpr std::size_t code_src = 1, code_bytes = 24;
  static constexpr std::array<header_field, 1> fields{{{0, 1, 1}}};
  static constexpr bool lut = true;
  static constexpr bool split_halves = false;
  static constexpr std::int8_t upper[16] = {16, 18, 20, 22, 24, 26, 28, 30, 32, 36, 40, 44, 48, 52, 56, 60};
  template <class I>
  static void decode(const std::uint8_t* rec, std::size_t h, std::size_t, typename I::vi* op,
                     typename I::vf* dw) noexcept {
    using ib = lanes32<I>;
    const typename I::vi table = I::splat16(upper);
    mx_unroll<8>([&](auto gc) {
      constexpr int g = decltype(gc)::value;
      const ib codes = spread_sextets(fp6_quad<I, g>(rec, h));
      const ib low = codes & ib(0x0f0f0f0f);
      const typename I::vi mag = I::template blend_on_bit<4>(codes, low, I::lookup16(table, low));
      op[g] = I::bias_s8(I::template negate_on_bit<5>(codes, mag));
    });
    dw[0] = mx_scale<I>(I::widen_u8(rec + 16 * code_bytes + I::lanes * h), 0.125f);
  }
};

/// The panel layout of the float-decoded MX formats (FP6 E3M2, FP8): e @0, the code bytes @1; no
/// integer decode (see mx_float_gemm_kernel).
template <class F>
struct mx_float_layout {
  static constexpr std::size_t code_src = 1, code_bytes = F::block_bytes - 1;
  static constexpr std::array<header_field, 1> fields{{{0, 1, 1}}};
};
template <>
struct block_dot_traits<mx::mxfp6_e3m2> : mx_float_layout<mx::mxfp6_e3m2> {};
template <>
struct block_dot_traits<mx::mxfp8_e4m3> : mx_float_layout<mx::mxfp8_e4m3> {};
template <>
struct block_dot_traits<mx::mxfp8_e5m2> : mx_float_layout<mx::mxfp8_e5m2> {};

/// Element codes (one per lane, sign at bit Bits - 1) to their exact f32 values: the exponent and
/// mantissa fields shifted into f32's (`mag << (23 - Mbits)`, an f32 of the same fields with
/// exponent bias 127, a subnormal for exponent 0) times 2^(127 - Bias); E4M3's 0x7f magnitude is
/// NaN, E5M2's exponent 31 is ±inf / NaN.
template <class E, class I>
inline typename I::vf mx_element_to_f32(lanes32<I> code) noexcept {
  using ib = lanes32<I>;
  constexpr int bits = E::bits;
  constexpr int mbits = std::is_same_v<E, fp8_e4m3_format> ? 3 : 2;
  constexpr int bias = std::is_same_v<E, fp8_e4m3_format> ? 7 : std::is_same_v<E, fp8_e5m2_format> ? 15 : 3;
  const ib mag = code & ib((1 << (bits - 1)) - 1);
  const ib sign = (code >> (bits - 1)) << 31;
  const typename I::vf scaled = I::mul(
      I::as_f32(mag << (23 - mbits)), I::splat_f32(std::bit_cast<float>(static_cast<std::uint32_t>(254 - bias) << 23)));
  ib v = I::as_i32(scaled);
  if constexpr (std::is_same_v<E, fp8_e4m3_format>) {
    v = select32<I>(I::cmpeq32(mag, ib(0x7f)), ib(0x7fc00000), v);
  } else if constexpr (std::is_same_v<E, fp8_e5m2_format>) {
    v = select32<I>(I::cmpgt32(mag, ib(0x7b)), ib(0x7f800000) | ((mag & ib(3)) << 21), v);
  }
  return I::as_f32(v | sign);
}

/// Microkernel of the float-decoded MX formats: MR rows of x (f32, row stride lda, from row i0)
/// times one 16-row panel, all K blocks, over the ISA layer I = isa_ops<Arch> (I::parts registers
/// of I::lanes rows). Per block and row r: `acc[i][r] += s[r] Σ_k w[r,k] x[i,k]`, the inner sum an
/// f32 FMA chain (`I::fmadd`, one rounding per step) over the block's 32 k (k in order), then
/// `acc = fmadd(part, s, acc)`, s = 2^(e - 127).
template <class Arch, int MR, class F>
inline void mx_float_microkernel(const std::uint8_t* panel, std::size_t nb, const float* x, std::size_t lda,
                                 float (*acc_out)[16]) noexcept {
  using I = isa_ops<Arch>;
  using ib = lanes32<I>;
  using vf = typename I::vf;
  using E = typename F::element_type;
  constexpr std::size_t stride = block_record<F>::stride;
  constexpr std::size_t code_bytes = F::block_bytes - 1;
  for (std::size_t h = 0; h < I::parts; ++h) {
    vf acc[MR];
    for (int i = 0; i < MR; ++i) acc[i] = I::zero_f32();
    for (std::size_t b = 0; b < nb; ++b) {
      const std::uint8_t* rec = panel + b * stride;
      const float* xb = x + 32 * b;
      vf part[MR];
      for (int i = 0; i < MR; ++i) part[i] = I::zero_f32();
      auto quad = [&](ib codes, std::size_t k0, int width) {
        for (int q = 0; q < 4; ++q) {
          const vf w = mx_element_to_f32<E, I>((codes >> (8 * q)) & ib((1 << width) - 1));
          for (int i = 0; i < MR; ++i) part[i] = I::fmadd(I::splat_f32(xb[i * lda + k0 + q]), w, part[i]);
        }
      };
      if constexpr (E::bits == 8) {
        for (std::size_t c = 0; c < 8; ++c) quad(I::load(rec + chunk_at<I>(c, h)), 4 * c, 8);
      } else {
        mx_unroll<8>([&](auto gc) {
          constexpr int g = decltype(gc)::value;
          quad(spread_sextets(fp6_quad<I, g>(rec, h)), 4 * g, 6);
        });
      }
      const vf s = mx_scale<I>(I::widen_u8(rec + 16 * code_bytes + I::lanes * h), 1.0f);
      for (int i = 0; i < MR; ++i) acc[i] = I::fmadd(part[i], s, acc[i]);
    }
    for (int i = 0; i < MR; ++i) I::store_f32(acc_out[i] + I::lanes * h, acc[i]);
  }
}

/// The SIMD GEMM of the float-decoded MX formats (FP6 E3M2, FP8 E4M3, FP8 E5M2): weights in
/// block_packed_t panels (the file's bytes), decoded to f32 in registers, FMA against the f32
/// activations (not quantized: x may hold any values, NaN/Inf propagate), fused epilogue. Threads
/// split panels (and row blocks) as for_each_panel_tile does; results do not depend on the count.
template <class F, class Arch>
struct mx_float_gemm_kernel {
  using weight_type = block_packed_t<F>;

  static weight_type prepare(weight_view<F> w, threads t) { return pack_blocks(w, t); }

  template <epilogue::stage E>
  static void run(matrix_view<const float> x, const weight_type& w, matrix_view<float> y, threads t, const E& e,
                  gemm_workspace&) {
    const std::size_t nb = w.blocks_per_row();
    for_each_panel_tile(t, w.panels(), x.rows, [&](std::size_t p, std::size_t i0, std::size_t i1) {
      float acc[tile_rows][16];
      const std::size_t n0 = p * 16, count = std::min<std::size_t>(16, w.rows - n0);
      for (std::size_t i = i0; i < i1; i += tile_rows) {
        const std::size_t rows = std::min(tile_rows, i1 - i);
        [&]<int... R>(std::integer_sequence<int, R...>) {
          ((rows == static_cast<std::size_t>(R + 1)
                ? (mx_float_microkernel<Arch, R + 1, F>(w.panel(p), nb, x.row(i), x.row_stride, acc), 0)
                : 0),
           ...);
        }
        (std::make_integer_sequence<int, static_cast<int>(tile_rows)>{});
        for (std::size_t r = 0; r < rows; ++r) e(y.row(i + r), acc[r], n0, count);
      }
    });
  }
};

/// Two consecutive NVFP4 blocks (32 elements, 18 bytes) seen as one block: the unit of the NVFP4
/// kernel's panels (whose activation blocks are 32 elements). Not a file format of its own.
struct nvfp4_pair {
  struct block {
    mx::nvfp4::block half[2];
  };
  static constexpr std::string_view name = "NVFP4";
  static constexpr std::size_t block_size = 32;
  static constexpr std::size_t block_bytes = 18;
  static void dequantize_block(const block& b, float* out) noexcept {
    mx::nvfp4::dequantize_block(b.half[0], out);
    mx::nvfp4::dequantize_block(b.half[1], out + 16);
  }
};

/// NVFP4 in pair records (pack_nvfp4_pairs, not pack_blocks): [0, 256) four chunks, lane r of chunk
/// c = qs bytes 4c..4c+3 of the pair's 16 code bytes (block 2b's qs[8], then block 2b + 1's) of row
/// r, i.e. elements 8c..8c+7 (element 2j the low nibble of byte j); [256, 288) the two E4M3 block
/// scales as byte planes. value = e4m3(s) e2m1(q) = (e4m3(s) / 2) doubled(q): the doubled E2M1
/// values by I::lookup16, one weight scale per 16 elements (split halves).
template <>
struct block_dot_traits<nvfp4_pair> {
  static constexpr std::size_t code_src = 0, code_bytes = 16;
  static constexpr std::array<header_field, 1> fields{{{0, 1, 2}}};
  static constexpr bool lut = true;
  static constexpr bool split_halves = true;
  template <class I>
  static void decode(const std::uint8_t* rec, std::size_t h, std::size_t, typename I::vi* op,
                     typename I::vf* dw) noexcept {
    using ib = lanes32<I>;
    const typename I::vi table = I::table_s8(ggml::detail::e2m1::doubled_values);
    for (std::size_t c = 0; c < 4; ++c) {
      const ib v = I::load(rec + chunk_at<I>(c, h));
      op[2 * c] = I::lookup16(table, spread_nibbles(v));
      op[2 * c + 1] = I::lookup16(table, spread_nibbles(v >> 16));
    }
    for (std::size_t q = 0; q < 2; ++q) {
      const ib s = I::widen_u8(rec + 256 + 16 * q + I::lanes * h);
      dw[q] = I::mul(mx_element_to_f32<fp8_e4m3_format, I>(s), I::splat_f32(0.5f));
    }
  }
};

/// Packs NVFP4 weights W(N, K) into nvfp4_pair panels (see block_dot_traits<nvfp4_pair>); padding
/// rows are zero bytes (scale 0). throws lowbit::error{errc::shape_mismatch} if K % 32 != 0.
inline block_packed_t<nvfp4_pair> pack_nvfp4_pairs(weight_view<mx::nvfp4> w, threads t) {
  check(w.cols % 32 == 0, errc::shape_mismatch, [&] {
    return "NVFP4 weight: K = " + std::to_string(w.cols) + " is not a multiple of 32 (the SIMD kernel's block pairs)";
  });
  block_packed_t<nvfp4_pair> out;
  out.rows = w.rows;
  out.cols = w.cols;
  const std::size_t nb = w.cols / 32;
  out.bytes = aligned_buffer(out.panels() * nb * 288);
  auto* base = reinterpret_cast<std::uint8_t*>(out.bytes.data());
  parallel_for(t, out.panels(), 1, [&](std::size_t p_begin, std::size_t p_end) {
    for (std::size_t p = p_begin; p < p_end; ++p) {
      for (std::size_t b = 0; b < nb; ++b) {
        std::uint8_t* dst = base + (p * nb + b) * 288;
        for (std::size_t r = 0; r < 16 && p * 16 + r < w.rows; ++r) {
          const mx::nvfp4::block* blk = w.row(p * 16 + r) + 2 * b;
          for (std::size_t q = 0; q < 2; ++q) {
            std::memcpy(dst + 64 * (2 * q) + 4 * r, blk[q].qs, 4);
            std::memcpy(dst + 64 * (2 * q + 1) + 4 * r, blk[q].qs + 4, 4);
            dst[256 + 16 * q + r] = blk[q].s;
          }
        }
      }
    }
  });
  return out;
}

/// Restores the file layout of nvfp4_pair panels into `out` (N * K / 16 blocks).
/// throws lowbit::error{errc::shape_mismatch} if out has another size.
inline void unpack_nvfp4_pairs(const block_packed_t<nvfp4_pair>& w, std::span<mx::nvfp4::block> out) {
  const std::size_t nb = w.cols / 32;
  check(out.size() == w.rows * 2 * nb, errc::shape_mismatch, [&] {
    return "unpack NVFP4: output holds " + std::to_string(out.size()) + " blocks, the matrix " +
           std::to_string(w.rows * 2 * nb);
  });
  for (std::size_t n = 0; n < w.rows; ++n) {
    for (std::size_t b = 0; b < nb; ++b) {
      const std::uint8_t* src = w.panel(n / 16) + b * 288;
      const std::size_t r = n % 16;
      for (std::size_t q = 0; q < 2; ++q) {
        mx::nvfp4::block& blk = out[n * 2 * nb + 2 * b + q];
        std::memcpy(blk.qs, src + 64 * (2 * q) + 4 * r, 4);
        std::memcpy(blk.qs + 4, src + 64 * (2 * q + 1) + 4 * r, 4);
        blk.s = src[256 + 16 * q + r];
      }
    }
  }
}

}  // namespace simd_detail

/// MX weights W(N, K) of format F in `k_packed<16, 4>` panels (simd_detail::pack_blocks): per
/// (panel, 32-element block) 16 F::block_bytes bytes, the file's size: 16 (F::block_bytes - 1) / 4
/// chunks of 64 bytes (lane r of chunk j = code bytes 4j..4j+3 of row 16p + r), then the 16 E8M0
/// scales. ISA-independent.
template <class F>
using packed_mx = simd_detail::block_packed_t<F>;

/// Packs MX weights (mxfp4, mxfp6_e2m3, mxfp6_e3m2, mxfp8_e4m3, mxfp8_e5m2, mxint8); see packed_mx.
/// throws lowbit::error{errc::shape_mismatch} if K % 32 != 0.
template <class F>
packed_mx<F> pack_mx(weight_view<F> w, threads t = {}) {
  return simd_detail::pack_blocks(w, t);
}

/// Restores the file layout of packed MX weights into `out` (N * K / 32 blocks).
/// throws lowbit::error{errc::shape_mismatch} if out has another size.
template <class F>
void unpack_mx(const packed_mx<F>& w, std::span<typename F::block> out) {
  simd_detail::unpack_blocks<F>(w, out);
}

/// NVIDIA NVFP4 weights (lowbit::mx::nvfp4) in panels of block pairs (simd_detail::nvfp4_pair):
/// per (panel, 32 elements) 288 bytes, the file's size; see simd_detail::pack_nvfp4_pairs. The
/// panels of nvfp4_pair, naming mx::nvfp4 as their format (what gemm() dispatches on).
struct packed_mx_nvfp4 : simd_detail::block_packed_t<simd_detail::nvfp4_pair> {
  using format_type = mx::nvfp4;
};

/// Packs NVFP4 weights; see packed_mx_nvfp4. throws lowbit::error{errc::shape_mismatch} if K % 32 != 0.
inline packed_mx_nvfp4 pack_mx_nvfp4(weight_view<mx::nvfp4> w, threads t = {}) {
  packed_mx_nvfp4 out;
  static_cast<simd_detail::block_packed_t<simd_detail::nvfp4_pair>&>(out) = simd_detail::pack_nvfp4_pairs(w, t);
  return out;
}
/// Restores the file layout of packed NVFP4 weights into `out` (N * K / 16 blocks).
/// throws lowbit::error{errc::shape_mismatch} if out has another size.
inline void unpack_mx_nvfp4(const packed_mx_nvfp4& w, std::span<mx::nvfp4::block> out) {
  simd_detail::unpack_nvfp4_pairs(w, out);
}

/// NVFP4 GEMM on the SIMD backend (simd_detail::block_dot_gemm_kernel over block pairs), K a
/// multiple of 32: x quantized per 32 to 8 bits, Σ doubled(q) q_x per 16 elements exact in int32,
/// times e4m3(s) / 2 d_x. Like the reference, the result is x · (W / tensor_scale)ᵀ: the tensor
/// scale is the caller's (an epilogue scale).
template <class Arch>
struct gemm_kernel<mx::nvfp4, backend::simd<Arch>> {
  using weight_type = packed_mx_nvfp4;
  static weight_type prepare(weight_view<mx::nvfp4> w, threads t) { return pack_mx_nvfp4(w, t); }
  template <epilogue::stage E>
  static void run(matrix_view<const float> x, const weight_type& w, matrix_view<float> y, threads t, const E& e,
                  gemm_workspace& ws) {
    simd_detail::block_dot_gemm_kernel<simd_detail::nvfp4_pair, Arch>::run(x, w, y, t, e, ws);
  }
};

/// MXINT8 GEMM on the SIMD backend (simd_detail::block_dot_gemm_kernel): x quantized per 32 to 8
/// bits, Σ code q_x exact in int32, times 2^(e - 133) d_x.
template <class Arch>
struct gemm_kernel<mx::mxint8, backend::simd<Arch>> : simd_detail::block_dot_gemm_kernel<mx::mxint8, Arch> {};
/// MXFP4 GEMM on the SIMD backend: doubled E2M1 values by I::lookup16, integer dot, times 2^(e - 128) d_x.
template <class Arch>
struct gemm_kernel<mx::mxfp4, backend::simd<Arch>> : simd_detail::block_dot_gemm_kernel<mx::mxfp4, Arch> {};
/// MXFP6 E2M3 GEMM on the SIMD backend: 8 e2m3(q) as int8 in registers, integer dot, times 2^(e - 130) d_x.
template <class Arch>
struct gemm_kernel<mx::mxfp6_e2m3, backend::simd<Arch>> : simd_detail::block_dot_gemm_kernel<mx::mxfp6_e2m3, Arch> {};
/// MXFP6 E3M2 GEMM on the SIMD backend (simd_detail::mx_float_gemm_kernel): f32 decode and FMA.
template <class Arch>
struct gemm_kernel<mx::mxfp6_e3m2, backend::simd<Arch>> : simd_detail::mx_float_gemm_kernel<mx::mxfp6_e3m2, Arch> {};
/// MXFP8 E4M3 GEMM on the SIMD backend (simd_detail::mx_float_gemm_kernel): f32 decode and FMA.
template <class Arch>
struct gemm_kernel<mx::mxfp8_e4m3, backend::simd<Arch>> : simd_detail::mx_float_gemm_kernel<mx::mxfp8_e4m3, Arch> {};
/// MXFP8 E5M2 GEMM on the SIMD backend (simd_detail::mx_float_gemm_kernel): f32 decode and FMA.
template <class Arch>
struct gemm_kernel<mx::mxfp8_e5m2, backend::simd<Arch>> : simd_detail::mx_float_gemm_kernel<mx::mxfp8_e5m2, Arch> {};

}  // namespace lowbit
