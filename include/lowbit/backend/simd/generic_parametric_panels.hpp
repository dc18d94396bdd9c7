// SPDX-License-Identifier: Apache-2.0
// Copyright lowbit contributors
#pragma once

#include <array>
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

namespace simd_detail {

/// How the generic parametric microkernel turns a stored code u into its value (code units).
enum class generic_code_kind {
  integer,    ///< u - zero_point, u in offset binary (signed codes: raw ^ 2^(bits-1))
  table,      ///< a 16-entry f32 table built from Code::decode (codes of <= 4 bits)
  minifloat,  ///< FP6 codes: a 32-entry magnitude table and the sign bit; FP8 codes: the code's
              ///< fields moved into an f16, converted, times 2^(15 - bias)
};

/// The decode policy of a code type: what the generic microkernel is templated on (with Arch and
/// the row count), so that formats differing only in scale type or granularity share a kernel.
/// `bits`: stored width; `kind`; for minifloat, `exp_bits`, `man_bits`, `bias` and `nan_all_ones`
/// (E4M3: the codes with every exponent and mantissa bit set are NaN).
template <int Bits, generic_code_kind Kind, int ExpBits = 0, int ManBits = 0, int Bias = 0, bool NanAllOnes = false>
struct generic_decode {
  static constexpr int bits = Bits;
  static constexpr generic_code_kind kind = Kind;
  static constexpr int exp_bits = ExpBits;
  static constexpr int man_bits = ManBits;
  static constexpr int bias = Bias;
  static constexpr bool nan_all_ones = NanAllOnes;
};

template <class Code>
struct generic_decode_of {
  // binary, ternary, nf4 and 4-bit float codes: a table.
  static_assert(Code::bits <= 4, "lowbit: a non-integer code wider than 4 bits needs a minifloat decode");
  using type = generic_decode<Code::bits, generic_code_kind::table>;
};
template <int Bits, bool Signed>
struct generic_decode_of<int_code<Bits, Signed>> {
  using type = generic_decode<Bits, generic_code_kind::integer>;
};
template <class F>
requires(F::bits > 4) struct generic_decode_of<float_code<F>> {
  static_assert(F::exp_bits <= 5 && F::man_bits <= 10 && F::bias <= 15,
                "lowbit: the minifloat decode goes through f16 and needs <= 5 exponent and <= 10 mantissa bits");
  using type = generic_decode<F::bits, generic_code_kind::minifloat, F::exp_bits, F::man_bits, F::bias,
                              F::specials == minifloat_specials::fn>;
};

/// The decode policy of `Code` (see generic_decode).
template <class Code>
using generic_decode_t = typename generic_decode_of<Code>::type;

/// The bit planes a `bits`-wide code is split into, low bits first: widths from {8, 4, 2, 1}.
struct generic_planes {
  int count;
  int width[3];
  int offset[3];  ///< bit offset of the plane's field in the code
};
constexpr generic_planes generic_planes_of(int bits) noexcept {
  generic_planes p{0, {0, 0, 0}, {0, 0, 0}};
  int offset = 0;
  for (int w : {8, 4, 2, 1}) {
    if ((bits - offset) >= w) {
      p.width[p.count] = w;
      p.offset[p.count] = offset;
      ++p.count;
      offset += w;
    }
  }
  return p;
}

/// Bytes of one packed group of 16 rows: ceil(G / 4) chunks of 8 * bits bytes, 16 f32 scales and
/// (integer codes) 16 one-byte zero points.
constexpr std::size_t generic_group_bytes(std::size_t group_size, int bits, bool zero_points) noexcept {
  return (group_size + 3) / 4 * 8 * static_cast<std::size_t>(bits) + 64 + (zero_points ? 16 : 0);
}

}  // namespace simd_detail

/// A parametric-format W(N, K) (`quantized_matrix<Q>`, any `quant<...>`) repacked into panels of
/// 16 rows for the generic microkernel of backend/simd/gemm_parametric_generic.hpp.
///
/// Columns are split into the granularity's groups of G = group_size columns (G = K for
/// per_tensor and per_channel). Panel p holds rows [16p, 16p + 16) (the last padded with rows of
/// code 0 and scale 0) as `groups` blocks of `group_stride` bytes; block g holds, for columns
/// [gG, gG + G):
/// - ceil(G / 4) chunks of 8 * bits bytes (the group padded to a multiple of 4 columns with raw
///   code 0, which the kernel never reads): chunk c holds the 64 codes j = 4r + t of row r,
///   column gG + 4c + t, split into bit planes of widths {8}, {4}, {2}, {1} (low bits first:
///   bits 3 = 2 + 1, 5 = 4 + 1, 6 = 4 + 2, 7 = 4 + 2 + 1); plane w's field of code j lies in byte
///   j % (8w) of the plane's 8w bytes, at bit w * (j / (8w)). Stored codes u are the raw codes,
///   except signed integer codes in offset binary: u = raw ^ 2^(bits-1) (value = u - 2^(bits-1));
/// - 16 f32 scales (the scale type decoded, per_block scales repeated for each row);
/// - integer codes only: 16 bytes z' = zero_point + 2^(bits-1) (signed) or zero_point (unsigned),
///   so that value - zero_point = u - z' exactly.
/// The packed weights are ISA-independent; codes and zero points are kept exactly, scales as
/// their exact f32 values (so the kernel's decoded u - z' is exactly decode(q) - zero_point).
/// Non-integer codes of <= 4 bits carry a 16-entry table (Code::decode), FP6 codes the 32 values
/// of their positive codes.
/// Shapes: panels() * panel_stride bytes, 64-byte aligned.
template <quant_format Q>
struct packed_generic_parametric {
  using quant_type = Q;
  using decode_type = simd_detail::generic_decode_t<typename Q::code_type>;
  using layout_type = k_packed<16, 4>;
  static constexpr std::size_t nr = 16;
  std::size_t n = 0;             ///< N
  std::size_t k = 0;             ///< K
  std::size_t group_size = 0;    ///< G: columns per scale group (K for per_tensor / per_channel)
  std::size_t group_stride = 0;  ///< bytes per group block of a panel
  std::size_t panel_stride = 0;  ///< bytes per panel
  /// Code::decode(u), u < 16, for table codes; Code::decode(u), u < 32 (the magnitudes), for FP6
  /// codes; unused otherwise.
  alignas(64) std::array<float, 32> table{};
  simd_detail::aligned_buffer bytes;

  std::size_t rows() const noexcept { return n; }
  std::size_t cols() const noexcept { return k; }
  std::size_t panels() const noexcept { return (n + nr - 1) / nr; }
  std::size_t groups() const noexcept { return k / group_size; }
  const std::uint8_t* panel(std::size_t p) const noexcept {
    return reinterpret_cast<const std::uint8_t*>(bytes.data()) + p * panel_stride;
  }
};

/// Packs a quantized_matrix<Q> of any parametric format into packed_generic_parametric<Q> (see
/// there for the layout), once at load. Threads split the panels.
/// throws lowbit::error{errc::invalid_argument} for a zero point outside the code range
/// [min_int, max_int] (quantized_matrix's invariant), naming the scale element. Allocation: the result.
template <quant_format Q>
packed_generic_parametric<Q> pack_generic_parametric(const quantized_matrix<Q>& w, threads t = {}) {
  using code = typename Q::code_type;
  using decode = simd_detail::generic_decode_t<code>;
  constexpr int bits = Q::bits;
  constexpr bool integer = decode::kind == simd_detail::generic_code_kind::integer;
  constexpr simd_detail::generic_planes planes = simd_detail::generic_planes_of(bits);
  unsigned flip = 0;  // offset binary of signed integer codes
  if constexpr (integer) flip = code::is_signed ? 1u << (bits - 1) : 0u;

  if constexpr (Q::has_zero_point) {
    for (std::size_t s = 0; s < w.zero_points().size(); ++s) {
      const int zp = w.zero_points()[s];
      check(zp >= code::min_int && zp <= code::max_int, errc::invalid_argument, [&] {
        return "pack_generic_parametric: zero point " + std::to_string(zp) + " (scale element " + std::to_string(s) +
               ") is outside the code range";
      });
    }
  }
  packed_generic_parametric<Q> out;
  out.n = w.rows();
  out.k = w.cols();
  out.group_size = Q::group_size == 0 ? w.cols() : Q::group_size;
  out.group_stride = simd_detail::generic_group_bytes(out.group_size, bits, integer);
  out.panel_stride = out.groups() * out.group_stride;
  if constexpr (decode::kind == simd_detail::generic_code_kind::table) {
    for (unsigned u = 0; u < 16; ++u) out.table[u] = code::decode(static_cast<std::uint8_t>(u));
  } else if constexpr (decode::kind == simd_detail::generic_code_kind::minifloat && bits == 6) {
    for (unsigned u = 0; u < 32; ++u) out.table[u] = code::decode(static_cast<std::uint8_t>(u));
  }
  out.bytes = simd_detail::aligned_buffer(out.panels() * out.panel_stride);
  const std::size_t g_size = out.group_size, chunk_bytes = 8 * static_cast<std::size_t>(bits);
  const std::size_t chunks = (g_size + 3) / 4;
  auto* base = reinterpret_cast<std::uint8_t*>(out.bytes.data());
  parallel_for(t, out.panels(), 1, [&](std::size_t p_begin, std::size_t p_end) {
    for (std::size_t p = p_begin; p < p_end; ++p) {
      for (std::size_t r = 0; r < 16; ++r) {
        const std::size_t row = p * 16 + r;
        if (row >= out.n) continue;  // padding row: code 0, scale 0, zero point 0
        const std::uint8_t* src = w.row_codes(row);
        for (std::size_t g = 0; g < out.groups(); ++g) {
          std::uint8_t* blk = base + p * out.panel_stride + g * out.group_stride;
          const std::size_t s = w.scale_index(row, g * g_size);
          const float scale = Q::scale_type::decode(w.scales()[s]);
          std::memcpy(blk + chunks * chunk_bytes + 4 * r, &scale, 4);
          if constexpr (integer) {
            int zp = 0;
            if constexpr (Q::has_zero_point) zp = w.zero_points()[s];
            blk[chunks * chunk_bytes + 64 + r] = static_cast<std::uint8_t>(zp + static_cast<int>(flip));
          }
          for (std::size_t col = 0; col < g_size; ++col) {
            const unsigned u = packed_code(src, g * g_size + col, bits) ^ flip;
            const std::size_t j = 4 * r + col % 4;
            std::uint8_t* chunk = blk + col / 4 * chunk_bytes;
            for (int q = 0, plane_offset = 0; q < planes.count; plane_offset += 8 * planes.width[q], ++q) {
              const std::size_t pw = static_cast<std::size_t>(planes.width[q]);
              const unsigned field = (u >> planes.offset[q]) & ((1u << pw) - 1u);
              chunk[plane_offset + j % (8 * pw)] |= static_cast<std::uint8_t>(field << (pw * (j / (8 * pw))));
            }
          }
        }
      }
    }
  });
  return out;
}

/// The raw code of element (n, k) of packed weights `w` (the inverse of pack_generic_parametric's
/// code placement; unchecked: n < N, k < K).
template <quant_format Q>
std::uint8_t packed_generic_code(const packed_generic_parametric<Q>& w, std::size_t n, std::size_t k) noexcept {
  using code = typename Q::code_type;
  using decode = simd_detail::generic_decode_t<code>;
  constexpr int bits = Q::bits;
  constexpr simd_detail::generic_planes planes = simd_detail::generic_planes_of(bits);
  unsigned flip = 0;
  if constexpr (decode::kind == simd_detail::generic_code_kind::integer) flip = code::is_signed ? 1u << (bits - 1) : 0u;
  const std::size_t chunk_bytes = 8 * static_cast<std::size_t>(bits), col = k % w.group_size;
  const std::size_t j = 4 * (n % 16) + col % 4;
  const std::uint8_t* chunk = w.panel(n / 16) + k / w.group_size * w.group_stride + col / 4 * chunk_bytes;
  unsigned u = 0;
  for (int q = 0, plane_offset = 0; q < planes.count; plane_offset += 8 * planes.width[q], ++q) {
    const std::size_t pw = static_cast<std::size_t>(planes.width[q]);
    const unsigned field = (chunk[plane_offset + j % (8 * pw)] >> (pw * (j / (8 * pw)))) & ((1u << pw) - 1u);
    u |= field << planes.offset[q];
  }
  return static_cast<std::uint8_t>(u ^ flip);
}

/// The f32 scale of element (n, k) of packed weights `w` (as pack_generic_parametric decoded it;
/// unchecked: n < N, k < K).
template <quant_format Q>
float packed_generic_scale(const packed_generic_parametric<Q>& w, std::size_t n, std::size_t k) noexcept {
  const std::size_t chunks = (w.group_size + 3) / 4, chunk_bytes = 8 * static_cast<std::size_t>(Q::bits);
  float scale;
  std::memcpy(&scale, w.panel(n / 16) + k / w.group_size * w.group_stride + chunks * chunk_bytes + 4 * (n % 16), 4);
  return scale;
}

}  // namespace lowbit
