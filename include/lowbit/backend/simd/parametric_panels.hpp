// SPDX-License-Identifier: Apache-2.0
// Copyright lowbit contributors
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <type_traits>

#include "lowbit/backend/simd/aligned_buffer.hpp"
#include "lowbit/core/error.hpp"
#include "lowbit/core/layout.hpp"
#include "lowbit/core/parallel.hpp"
#include "lowbit/formats/quant/packing.hpp"
#include "lowbit/formats/quant/quant.hpp"
#include "lowbit/quant/quantized_matrix.hpp"

namespace lowbit {

/// int8 codes, one f32 scale per output channel: `w = scale(n) * q`, q in [-128, 127].
using int8_per_channel = quant<int_code<8, true>, scale_f32, per_channel>;
/// uint4 codes in groups of 32 with an f16 scale and a zero point: `w = scale * (q - zero_point)`.
using int4_g32_asym = quant<int_code<4, false>, scale_f16, per_group<32>, asymmetric>;
/// NF4 codes (QLoRA) in groups of 64 with an f16 scale: `w = scale * nf4_values[q]`.
using nf4_g64 = quant<nf4, scale_f16, per_group<64>>;
/// FP8 E4M3 codes, one f32 scale per output channel: `w = scale(n) * e4m3(q)`.
using fp8_e4m3_per_channel = quant<fp8_e4m3, scale_f32, per_channel>;

namespace simd_detail {

/// The parametric formats that backend::simd serves (gemm_parametric.hpp), and their panel layout.
template <class Q>
struct parametric_layout {
  static constexpr bool supported = false;
};

/// int8_per_channel: per panel, for each 4-column chunk c of K padded to kp = ceil(K / 4) * 4,
/// 64 bytes where lane r (bytes 4r..4r+3) holds codes 4c..4c+3 of row r with the sign bit flipped
/// (q ^ 0x80 = q + 128 as an unsigned byte; K padding holds code 0, i.e. 0x80); then the 16 rows'
/// f32 scales (64 bytes). The bytes are the same on every ISA: the kernel turns them into its
/// ISA's s8 operand form with `from_offset_s8` (a no-op for AVX-512 VNNI's u8 x s8 `vpdpbusd`, whose
/// s8_bias is 128; the flip undone on AVX2 and NEON).
template <>
struct parametric_layout<int8_per_channel> {
  static constexpr bool supported = true;
  static constexpr std::size_t k_pad(std::size_t k) noexcept { return (k + 3) / 4 * 4; }
  static constexpr std::size_t panel_bytes(std::size_t k) noexcept { return 16 * k_pad(k) + 64; }
  static constexpr std::size_t scales_offset(std::size_t k) noexcept { return 16 * k_pad(k); }
  static std::size_t code_offset(std::size_t, std::size_t r, std::size_t k) noexcept {
    return (k / 4) * 64 + r * 4 + k % 4;
  }
  static std::uint8_t store(std::uint8_t raw) noexcept { return static_cast<std::uint8_t>(raw ^ 0x80u); }
  static std::uint8_t load(std::uint8_t byte) noexcept { return static_cast<std::uint8_t>(byte ^ 0x80u); }
  static constexpr std::uint8_t pad_byte = 0x80;
};

/// fp8_e4m3_per_channel: per panel, for each column k, 16 bytes (byte r = code of row r); the code
/// bytes are padded to a multiple of 64, then the 16 rows' f32 scales (64 bytes).
template <>
struct parametric_layout<fp8_e4m3_per_channel> {
  static constexpr bool supported = true;
  static constexpr std::size_t panel_bytes(std::size_t k) noexcept { return (16 * k + 63) / 64 * 64 + 64; }
  static constexpr std::size_t scales_offset(std::size_t k) noexcept { return (16 * k + 63) / 64 * 64; }
  static std::size_t code_offset(std::size_t, std::size_t r, std::size_t k) noexcept { return k * 16 + r; }
  static std::uint8_t store(std::uint8_t raw) noexcept { return raw; }
  static std::uint8_t load(std::uint8_t byte) noexcept { return byte; }
  static constexpr std::uint8_t pad_byte = 0;
};

/// int4_g32_asym: per panel and group g of 32 columns, 320 bytes: four 64-byte chunks, in chunk c
/// (0..3) lane r's byte t (0..3) holds code 8c+t of row r in its low nibble and code 8c+4+t in
/// its high nibble; then the 16 rows' f16 scales (32 bytes), their zero points (16 bytes, one
/// code each) and 16 zero bytes.
template <>
struct parametric_layout<int4_g32_asym> {
  static constexpr bool supported = true;
  static constexpr std::size_t group = 32;
  static constexpr std::size_t group_bytes = 320;
  static constexpr std::size_t scales_offset = 256;
  static constexpr std::size_t zero_points_offset = 288;
  static constexpr std::size_t panel_bytes(std::size_t k) noexcept { return k / group * group_bytes; }
  // Byte and nibble shift of code k (within its group) of row r.
  static std::size_t code_byte(std::size_t r, std::size_t k) noexcept { return (k / 8) * 64 + r * 4 + k % 4; }
  static unsigned code_shift(std::size_t k) noexcept { return k % 8 < 4 ? 0u : 4u; }
};

/// nf4_g64: per panel and group g of 64 columns, 544 bytes: for each column pair j (0..31),
/// 16 bytes where byte r holds code 2j of row r in its low nibble and code 2j+1 in its high nibble;
/// then the 16 rows' f16 scales (32 bytes).
template <>
struct parametric_layout<nf4_g64> {
  static constexpr bool supported = true;
  static constexpr std::size_t group = 64;
  static constexpr std::size_t group_bytes = 544;
  static constexpr std::size_t scales_offset = 512;
  static constexpr std::size_t panel_bytes(std::size_t k) noexcept { return k / group * group_bytes; }
  static std::size_t code_byte(std::size_t r, std::size_t k) noexcept { return (k / 2) * 16 + r; }
  static unsigned code_shift(std::size_t k) noexcept { return k % 2 == 0 ? 0u : 4u; }
};

template <class Q>
inline constexpr bool parametric_simd_v = parametric_layout<Q>::supported;

}  // namespace simd_detail

/// A parametric-format W(N, K) (`quantized_matrix<Q>`) repacked into panels of 16 rows
/// (`k_packed<16, 4>` for the integer-dot formats, column-major panels for the float-decode ones)
/// for the microkernels of backend/simd/gemm_parametric.hpp.
///
/// Panel p holds rows [16p, 16p + 16), the last one padded with rows of code 0 and scale 0 (they
/// contribute exactly 0). The bytes of a panel are `simd_detail::parametric_layout<Q>`'s:
/// the same codes, scales and zero points as the quantized_matrix (nothing is rounded), in an
/// ISA-independent order. `unpack_parametric` restores the quantized_matrix exactly.
/// Shapes: panels() * panel_stride bytes, 64-byte aligned.
template <quant_format Q>
struct packed_parametric {
  using quant_type = Q;
  using layout_type = k_packed<16, 4>;
  static constexpr std::size_t nr = 16;
  std::size_t n = 0;             ///< N
  std::size_t k = 0;             ///< K
  std::size_t panel_stride = 0;  ///< bytes per panel
  simd_detail::aligned_buffer bytes;

  std::size_t rows() const noexcept { return n; }
  std::size_t cols() const noexcept { return k; }
  std::size_t panels() const noexcept { return (n + nr - 1) / nr; }
  const std::uint8_t* panel(std::size_t p) const noexcept {
    return reinterpret_cast<const std::uint8_t*>(bytes.data()) + p * panel_stride;
  }
};

/// Packs a quantized_matrix<Q> into panels (see packed_parametric and parametric_layout<Q>).
/// Threads split the panels.
/// throws lowbit::error{errc::invalid_argument} for int8_per_channel with K > 65536 (the int32 dot
/// of one row could overflow) and for fp8_e4m3_per_channel holding a NaN code (0x7F, 0xFF), naming
/// the element.
template <quant_format Q>
requires simd_detail::parametric_simd_v<Q> packed_parametric<Q> pack_parametric(const quantized_matrix<Q>& w,
                                                                                threads t = {}) {
  using layout = simd_detail::parametric_layout<Q>;
  const std::size_t n = w.rows(), k = w.cols();
  if constexpr (std::is_same_v<Q, int8_per_channel>) {
    check(k <= 65536, errc::invalid_argument, [&] {
      return "pack_parametric: int8_per_channel K = " + std::to_string(k) + " exceeds 65536 (int32 row dot)";
    });
  }
  if constexpr (std::is_same_v<Q, fp8_e4m3_per_channel>) {
    for (std::size_t r = 0; r < n; ++r) {
      for (std::size_t c = 0; c < k; ++c) {
        const std::uint8_t raw = packed_code(w.row_codes(r), c, 8);
        check((raw & 0x7fu) != 0x7fu, errc::invalid_argument, [&] {
          return "pack_parametric: W(" + std::to_string(r) + ", " + std::to_string(c) + ") is the E4M3 NaN code";
        });
      }
    }
  }
  packed_parametric<Q> out;
  out.n = n;
  out.k = k;
  out.panel_stride = layout::panel_bytes(k);
  out.bytes = simd_detail::aligned_buffer(out.panels() * out.panel_stride);
  auto* base = reinterpret_cast<std::uint8_t*>(out.bytes.data());
  parallel_for(t, out.panels(), 1, [&](std::size_t p_begin, std::size_t p_end) {
    for (std::size_t p = p_begin; p < p_end; ++p) {
      std::uint8_t* dst = base + p * out.panel_stride;
      for (std::size_t r = 0; r < 16; ++r) {
        const std::size_t row = p * 16 + r;
        if constexpr (Q::group_size == 0) {  // per channel: 8-bit codes, one f32 scale
          auto* scales = reinterpret_cast<float*>(dst + layout::scales_offset(k));
          if constexpr (std::is_same_v<Q, int8_per_channel>) {
            for (std::size_t c = 0; c < layout::k_pad(k); ++c) dst[layout::code_offset(p, r, c)] = layout::pad_byte;
          }
          if (row >= n) continue;  // padding row: code 0, scale 0
          scales[r] = w.scales()[row];
          const std::uint8_t* src = w.row_codes(row);
          for (std::size_t c = 0; c < k; ++c) dst[layout::code_offset(p, r, c)] = layout::store(src[c]);
        } else {
          if (row >= n) continue;
          const std::uint8_t* src = w.row_codes(row);
          for (std::size_t g = 0; g < k / layout::group; ++g) {
            std::uint8_t* blk = dst + g * layout::group_bytes;
            std::memcpy(blk + layout::scales_offset + 2 * r, &w.scales()[row * (k / layout::group) + g], 2);
            if constexpr (Q::has_zero_point) {
              blk[layout::zero_points_offset + r] =
                  static_cast<std::uint8_t>(w.zero_points()[row * (k / layout::group) + g]);
            }
            for (std::size_t c = 0; c < layout::group; ++c) {
              const std::uint8_t q = packed_code(src, g * layout::group + c, 4);
              blk[layout::code_byte(r, c)] =
                  static_cast<std::uint8_t>(blk[layout::code_byte(r, c)] | (q << layout::code_shift(c)));
            }
          }
        }
      }
    }
  });
  return out;
}

/// Restores the quantized_matrix<Q> that pack_parametric packed (codes, scales and zero points
/// bit for bit): the inverse of pack_parametric. Allocation: the result.
template <quant_format Q>
requires simd_detail::parametric_simd_v<Q> quantized_matrix<Q> unpack_parametric(const packed_parametric<Q>& w) {
  using layout = simd_detail::parametric_layout<Q>;
  quantized_matrix<Q> out(w.n, w.k);
  for (std::size_t row = 0; row < w.n; ++row) {
    const std::size_t p = row / 16, r = row % 16;
    const std::uint8_t* src = w.panel(p);
    if constexpr (Q::group_size == 0) {
      std::memcpy(&out.scales()[row], src + layout::scales_offset(w.k) + 4 * r, 4);
      for (std::size_t c = 0; c < w.k; ++c) out.set_code(row, c, layout::load(src[layout::code_offset(p, r, c)]));
    } else {
      for (std::size_t g = 0; g < w.k / layout::group; ++g) {
        const std::uint8_t* blk = src + g * layout::group_bytes;
        std::memcpy(&out.scales()[row * (w.k / layout::group) + g], blk + layout::scales_offset + 2 * r, 2);
        if constexpr (Q::has_zero_point) {
          out.zero_points()[row * (w.k / layout::group) + g] = blk[layout::zero_points_offset + r];
        }
        for (std::size_t c = 0; c < layout::group; ++c) {
          out.set_code(row, g * layout::group + c,
                       static_cast<std::uint8_t>((blk[layout::code_byte(r, c)] >> layout::code_shift(c)) & 0x0fu));
        }
      }
    }
  }
  return out;
}

}  // namespace lowbit
