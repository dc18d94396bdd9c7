// SPDX-License-Identifier: Apache-2.0
// Copyright lowbit contributors
#pragma once

// GCC 12 reports -Wuninitialized inside its own AVX-512 headers (the `__Y = __Y` idiom of
// _mm512_undefined_*) once these kernels inline them; the state at the first inclusion decides.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#include <immintrin.h>
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <string>

#include "lowbit/backend/simd/aligned_buffer.hpp"
#include "lowbit/backend/simd/packed_panels.hpp"
#include "lowbit/backend/simd/panel_schedule.hpp"
#include "lowbit/backend/simd/quantize_activations.hpp"
#include "lowbit/backend/simd/xsimd_compat.hpp"
#include "lowbit/core/backend.hpp"
#include "lowbit/core/error.hpp"
#include "lowbit/core/matrix_view.hpp"
#include "lowbit/core/parallel.hpp"
#include "lowbit/gemm/epilogue.hpp"
#include "lowbit/gemm/workspace.hpp"
#include "lowbit/quant/activation_q8.hpp"
#include "lowbit/quant/weight_view.hpp"

namespace lowbit::simd_detail {

// ---------------------------------------------------------------------------------------------
// Dword-transposed panels: the packed layout of the codebook (IQ4_NL, IQ4_XS, MXFP4, NVFP4) and
// ternary (TQ1_0, TQ2_0) kernels. The file's code bytes are moved, never re-encoded.
// ---------------------------------------------------------------------------------------------

/// A run of header bytes of a block (scales), stored in the panels as `count` planes of 16 rows:
/// element q (`elem` bytes, taken from block byte `src + elem q`) of row r lies at
/// `16 elem q + elem r` inside the field, so one load yields it for 16 (or 8) rows.
struct header_field {
  std::size_t src;
  std::size_t elem;
  std::size_t count;
};

/// Per format F (specialised next to each kernel), what the panels hold and how the kernel decodes
/// them: `code_src`, `code_bytes` (the block's code bytes, a multiple of 4), `fields` (the other
/// bytes, as header_field planes), `lut` (4-bit codebook codes, else ternary codes with offset 1),
/// `split_halves` (one weight scale per 16 elements), and `decode<V>(record, h, a, op, dw)`: the
/// eight operand vectors of activation block a (op[g] holds elements 4g..4g+3 of the 32 for each
/// row) and the per-row f32 scale(s) of that block.
template <class F>
struct block_dot_traits;

/// Offsets inside one (panel, block) record of F: `[code chunks: 16 code_bytes][fields in order]`.
/// Chunk j (64 bytes) holds in lane r (bytes 4r..4r+3) the code bytes 4j..4j+3 of row 16p + r.
template <class F>
struct block_record {
  using traits = block_dot_traits<F>;
  static constexpr std::size_t chunks = traits::code_bytes / 4;
  static constexpr std::size_t field_offset(std::size_t i) {
    std::size_t off = 16 * traits::code_bytes;
    for (std::size_t j = 0; j < i; ++j) off += 16 * traits::fields[j].elem * traits::fields[j].count;
    return off;
  }
  static constexpr std::size_t stride = 16 * F::block_bytes;
  static_assert(traits::code_bytes % 4 == 0, "code bytes must fill whole dwords");
  static_assert(field_offset(traits::fields.size()) == stride, "the panels hold exactly the file's bytes");
};

/// The panels of F: packed_panels with block_record<F>::stride (16 blocks' bytes) per (panel, block).
template <class F>
using block_packed_t = packed_panels<F, block_record<F>::stride>;

/// Packs W (file layout) into dword-transposed panels (see block_record). Padding rows are zero
/// bytes: scale 0 (or, for MXFP4, code 0 = value 0), so they contribute exactly 0. ISA-independent.
/// throws lowbit::error{errc::shape_mismatch} if K is not a multiple of F's block size.
template <class F>
block_packed_t<F> pack_blocks(weight_view<F> w, threads t = {}) {
  using record = block_record<F>;
  using traits = block_dot_traits<F>;
  check(w.cols % F::block_size == 0, errc::shape_mismatch, [&] {
    return std::string(F::name) + " weight: K = " + std::to_string(w.cols) + " is not a multiple of the block size " +
           std::to_string(F::block_size);
  });
  block_packed_t<F> out;
  out.rows = w.rows;
  out.cols = w.cols;
  const std::size_t nb = w.blocks_per_row();
  out.bytes = aligned_buffer(out.panels() * nb * record::stride);
  auto* base = reinterpret_cast<std::uint8_t*>(out.bytes.data());
  parallel_for(t, out.panels(), 1, [&](std::size_t p_begin, std::size_t p_end) {
    for (std::size_t p = p_begin; p < p_end; ++p) {
      for (std::size_t b = 0; b < nb; ++b) {
        std::uint8_t* dst = base + (p * nb + b) * record::stride;
        for (std::size_t r = 0; r < 16 && p * 16 + r < w.rows; ++r) {
          const auto* blk = reinterpret_cast<const std::uint8_t*>(&w.row(p * 16 + r)[b]);
          for (std::size_t j = 0; j < record::chunks; ++j)
            std::memcpy(dst + 64 * j + 4 * r, blk + traits::code_src + 4 * j, 4);
          for (std::size_t f = 0; f < traits::fields.size(); ++f) {
            const header_field& h = traits::fields[f];
            for (std::size_t q = 0; q < h.count; ++q)
              std::memcpy(dst + record::field_offset(f) + 16 * h.elem * q + h.elem * r, blk + h.src + h.elem * q,
                          h.elem);
          }
        }
      }
    }
  });
  return out;
}

/// Restores the file layout of panels made by pack_blocks into `out` (N * K / block_size blocks).
/// throws lowbit::error{errc::shape_mismatch} if out has another size.
template <class F>
void unpack_blocks(const block_packed_t<F>& w, std::span<typename F::block> out) {
  using record = block_record<F>;
  using traits = block_dot_traits<F>;
  const std::size_t nb = w.blocks_per_row();
  check(out.size() == w.rows * nb, errc::shape_mismatch, [&] {
    return std::string("unpack ") + std::string(F::name) + ": output holds " + std::to_string(out.size()) +
           " blocks, the matrix " + std::to_string(w.rows * nb);
  });
  for (std::size_t n = 0; n < w.rows; ++n) {
    const std::size_t p = n / 16, r = n % 16;
    for (std::size_t b = 0; b < nb; ++b) {
      const std::uint8_t* src = w.panel(p) + b * record::stride;
      auto* blk = reinterpret_cast<std::uint8_t*>(&out[n * nb + b]);
      for (std::size_t j = 0; j < record::chunks; ++j)
        std::memcpy(blk + traits::code_src + 4 * j, src + 64 * j + 4 * r, 4);
      for (std::size_t f = 0; f < traits::fields.size(); ++f) {
        const header_field& h = traits::fields[f];
        for (std::size_t q = 0; q < h.count; ++q)
          std::memcpy(blk + h.src + h.elem * q, src + record::field_offset(f) + 16 * h.elem * q + h.elem * r, h.elem);
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Register-level decoding, once per ISA: 16 rows per 512-bit vector (AVX-512), 8 per 256-bit (AVX2).
// ---------------------------------------------------------------------------------------------

#if defined(__AVX512BW__)
/// AVX-512 BW vectors: one 64-byte chunk = 4 codes of each of 16 rows. Codebook codes decode to
/// `value + 128` (unsigned, the `vpdpbusd` operand); the kernel subtracts `128 Σ x` exactly.
struct vec512 {
  using arch = xsimd::avx512bw;
  using ivec = __m512i;
  using fvec = __m512;
  static constexpr std::size_t rows = 16;
  static constexpr int lut_bias = 128;
  static ivec load(const std::uint8_t* p) noexcept { return _mm512_loadu_si512(p); }
  static ivec low_nibbles(ivec v) noexcept { return _mm512_and_si512(v, _mm512_set1_epi8(0x0f)); }
  static ivec high_nibbles(ivec v) noexcept {
    return _mm512_and_si512(_mm512_srli_epi16(v, 4), _mm512_set1_epi8(0x0f));
  }
  /// The 16-entry table `values[q] + 128` in every 128-bit lane.
  static ivec table(const std::int8_t* values) noexcept {
    const __m128i t = _mm_add_epi8(_mm_loadu_si128(reinterpret_cast<const __m128i*>(values)), _mm_set1_epi8(-128));
    return _mm512_broadcast_i32x4(t);
  }
  static ivec lookup(ivec table, ivec idx) noexcept { return _mm512_shuffle_epi8(table, idx); }
  template <int Shift>
  static ivec two_bits(ivec v) noexcept {
    return _mm512_and_si512(_mm512_srli_epi16(v, Shift), _mm512_set1_epi8(3));
  }
  /// Every byte times `factor`, modulo 256 (16-bit products, even and odd bytes apart).
  static ivec mul_bytes(ivec v, std::int16_t factor) noexcept {
    const __m512i c = _mm512_set1_epi16(factor);
    const __m512i even = _mm512_mullo_epi16(v, c);
    const __m512i odd = _mm512_mullo_epi16(_mm512_and_si512(v, _mm512_set1_epi16(static_cast<short>(0xff00))), c);
    return _mm512_mask_blend_epi8(0xaaaaaaaaaaaaaaaaull, even, odd);
  }
  /// `(3 y) >> 8` per byte, i.e. (y >= 86) + (y >= 171).
  static ivec trit(ivec y) noexcept {
    const __m512i one = _mm512_set1_epi8(1);
    const __m512i t = _mm512_maskz_mov_epi8(_mm512_cmpge_epu8_mask(y, _mm512_set1_epi8(86)), one);
    return _mm512_mask_add_epi8(t, _mm512_cmpge_epu8_mask(y, _mm512_set1_epi8(static_cast<char>(171))), t, one);
  }
  static xsimd::batch<std::int32_t, arch> widen_u8(const std::uint8_t* p) noexcept {
    return _mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
  }
  static xsimd::batch<std::int32_t, arch> widen_u16(const std::uint8_t* p) noexcept {
    return _mm512_cvtepu16_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
  }
  static fvec fp16(const std::uint8_t* p) noexcept {
    return _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
  }
  /// Half the UE4M3 scales of 16 rows (bytes p[0..16)), as ggml::detail::ue4m3_half_to_f32: the 7
  /// low bits shifted left by 7 are the fp16 of the scale times 2^-8 (E4M3's exponent and mantissa
  /// fields land in fp16's, bias 15 = 7 + 8), so h = fp16 * 2^7; the byte 0x7f reads as 0.
  static fvec ue4m3_half(const std::uint8_t* p) noexcept {
    const __m256i v = _mm256_cvtepu8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
    const __m256i bits = _mm256_slli_epi16(_mm256_and_si256(v, _mm256_set1_epi16(0x7f)), 7);
    const __mmask16 nan = _mm256_cmpeq_epi16_mask(v, _mm256_set1_epi16(0x7f));
    return _mm512_maskz_mul_ps(static_cast<__mmask16>(~nan), _mm512_cvtph_ps(bits), _mm512_set1_ps(128.0f));
  }
  /// Codebook entries of 8 byte codes (IQ2 grids) for 16 rows: `idx` holds one table index per
  /// dword lane r; on return lane r of `lo` holds bytes 0..3 of `table[idx_r]` (elements 0..3 of
  /// the group), of `hi` bytes 4..7. Two 8-lane `vpgatherdq`, then a dword de-interleave.
  static void grid8(const std::uint64_t* table, ivec idx, ivec& lo, ivec& hi) noexcept {
    const auto* base = reinterpret_cast<const long long*>(table);
    const __m512i g0 = _mm512_i32gather_epi64(_mm512_castsi512_si256(idx), base, 8);
    const __m512i g1 = _mm512_i32gather_epi64(_mm512_extracti64x4_epi64(idx, 1), base, 8);
    const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    lo = _mm512_permutex2var_epi32(g0, even, g1);
    hi = _mm512_permutex2var_epi32(g0, _mm512_add_epi32(even, _mm512_set1_epi32(1)), g1);
  }
  /// Codebook entries of 4 byte codes (IQ3 grids): lane r = `table[idx_r]` (`vpgatherdd`).
  static ivec grid4(const std::uint32_t* table, ivec idx) noexcept {
    return _mm512_i32gather_epi32(idx, reinterpret_cast<const int*>(table), 4);
  }
  /// Signs applied to 4 magnitudes per lane: byte j of lane r is negated where bit 4 Half + j of
  /// the lane's sign byte `bits` (0..255 per dword) is set; the result carries the +128 bias.
  template <int Half>
  static ivec signed_codes(ivec mag, ivec bits) noexcept {
    const __m512i spread = _mm512_shuffle_epi8(bits, _mm512_set4_epi32(0x0c0c0c0c, 0x08080808, 0x04040404, 0x00000000));
    const __mmask64 neg =
        _mm512_test_epi8_mask(spread, _mm512_set1_epi32(static_cast<int>(Half ? 0x80402010u : 0x08040201u)));
    const __m512i v = _mm512_mask_sub_epi8(mag, neg, _mm512_setzero_si512(), mag);
    return _mm512_xor_si512(v, _mm512_set1_epi8(-128));
  }
  /// The 16 bytes at p in every 128-bit lane (a `vpshufb` table, unbiased).
  static ivec bytes16(const void* p) noexcept {
    return _mm512_broadcast_i32x4(_mm_loadu_si128(static_cast<const __m128i*>(p)));
  }
  /// Per byte: `if_set` where bit Bit of `src` is set, else `if_clear`.
  template <int Bit>
  static ivec blend_on_bit(ivec src, ivec if_clear, ivec if_set) noexcept {
    return _mm512_mask_blend_epi8(_mm512_test_epi8_mask(src, _mm512_set1_epi8(static_cast<char>(1 << Bit))), if_clear,
                                  if_set);
  }
  /// Per byte: -v where bit Bit of `src` is set, else v.
  template <int Bit>
  static ivec negate_on_bit(ivec src, ivec v) noexcept {
    return _mm512_mask_sub_epi8(v, _mm512_test_epi8_mask(src, _mm512_set1_epi8(static_cast<char>(1 << Bit))),
                                _mm512_setzero_si512(), v);
  }
  /// The binary16 bits in the low half of each dword lane, widened to f32 (`vcvtph2ps`).
  static fvec fp16_lanes(ivec v) noexcept { return _mm512_cvtph_ps(_mm512_cvtepi32_epi16(v)); }
  /// Signed int8 values as the kernel's operand: v + 128 (the `vpdpbusd` unsigned operand).
  static ivec biased(ivec v) noexcept { return _mm512_xor_si512(v, _mm512_set1_epi8(-128)); }
};
#endif

#if defined(__AVX2__)
/// AVX2 vectors: half a chunk (rows 8h..8h+7). Codebook codes decode to the signed values
/// themselves (`vpmaddubsw` takes |w| and sign(w) x), so no offset.
struct vec256 {
  using arch = xsimd::avx2;
  using ivec = __m256i;
  using fvec = __m256;
  static constexpr std::size_t rows = 8;
  static constexpr int lut_bias = 0;
  static ivec load(const std::uint8_t* p) noexcept { return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)); }
  static ivec low_nibbles(ivec v) noexcept { return _mm256_and_si256(v, _mm256_set1_epi8(0x0f)); }
  static ivec high_nibbles(ivec v) noexcept {
    return _mm256_and_si256(_mm256_srli_epi16(v, 4), _mm256_set1_epi8(0x0f));
  }
  static ivec table(const std::int8_t* values) noexcept {
    return _mm256_broadcastsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(values)));
  }
  static ivec lookup(ivec table, ivec idx) noexcept { return _mm256_shuffle_epi8(table, idx); }
  template <int Shift>
  static ivec two_bits(ivec v) noexcept {
    return _mm256_and_si256(_mm256_srli_epi16(v, Shift), _mm256_set1_epi8(3));
  }
  static ivec mul_bytes(ivec v, std::int16_t factor) noexcept {
    const __m256i c = _mm256_set1_epi16(factor);
    const __m256i even = _mm256_and_si256(_mm256_mullo_epi16(v, c), _mm256_set1_epi16(0x00ff));
    const __m256i odd = _mm256_mullo_epi16(_mm256_and_si256(v, _mm256_set1_epi16(static_cast<short>(0xff00))), c);
    return _mm256_or_si256(even, odd);
  }
  static ivec trit(ivec y) noexcept {
    // y >= c  <=>  max_u8(y, c) == y (-1 where true).
    const __m256i ge86 = _mm256_cmpeq_epi8(_mm256_max_epu8(y, _mm256_set1_epi8(86)), y);
    const __m256i ge171 = _mm256_cmpeq_epi8(_mm256_max_epu8(y, _mm256_set1_epi8(static_cast<char>(171))), y);
    return _mm256_sub_epi8(_mm256_sub_epi8(_mm256_setzero_si256(), ge86), ge171);
  }
  static xsimd::batch<std::int32_t, arch> widen_u8(const std::uint8_t* p) noexcept {
    return _mm256_cvtepu8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(p)));
  }
  static xsimd::batch<std::int32_t, arch> widen_u16(const std::uint8_t* p) noexcept {
    return _mm256_cvtepu16_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
  }
  static fvec fp16(const std::uint8_t* p) noexcept {
    return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
  }
  /// Half the UE4M3 scales of 8 rows; see vec512::ue4m3_half.
  static fvec ue4m3_half(const std::uint8_t* p) noexcept {
    const __m128i v = _mm_cvtepu8_epi16(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(p)));
    const __m128i bits = _mm_slli_epi16(_mm_and_si128(v, _mm_set1_epi16(0x7f)), 7);
    const __m256i nan = _mm256_cvtepi16_epi32(_mm_cmpeq_epi16(v, _mm_set1_epi16(0x7f)));
    const __m256 h = _mm256_mul_ps(_mm256_cvtph_ps(bits), _mm256_set1_ps(128.0f));
    return _mm256_andnot_ps(_mm256_castsi256_ps(nan), h);
  }
  /// Codebook entries of 8 byte codes for 8 rows; see vec512::grid8.
  static void grid8(const std::uint64_t* table, ivec idx, ivec& lo, ivec& hi) noexcept {
    const auto* base = reinterpret_cast<const long long*>(table);
    const __m256i order = _mm256_setr_epi32(0, 2, 4, 6, 1, 3, 5, 7);
    const __m256i a = _mm256_permutevar8x32_epi32(_mm256_i32gather_epi64(base, _mm256_castsi256_si128(idx), 8), order);
    const __m256i b =
        _mm256_permutevar8x32_epi32(_mm256_i32gather_epi64(base, _mm256_extracti128_si256(idx, 1), 8), order);
    lo = _mm256_permute2x128_si256(a, b, 0x20);
    hi = _mm256_permute2x128_si256(a, b, 0x31);
  }
  /// Codebook entries of 4 byte codes; see vec512::grid4.
  static ivec grid4(const std::uint32_t* table, ivec idx) noexcept {
    return _mm256_i32gather_epi32(reinterpret_cast<const int*>(table), idx, 4);
  }
  /// Signs applied to 4 magnitudes per lane (no bias); see vec512::signed_codes.
  template <int Half>
  static ivec signed_codes(ivec mag, ivec bits) noexcept {
    const __m256i pattern = _mm256_set1_epi32(static_cast<int>(Half ? 0x80402010u : 0x08040201u));
    const __m256i spread =
        _mm256_shuffle_epi8(bits, _mm256_setr_epi8(0, 0, 0, 0, 4, 4, 4, 4, 8, 8, 8, 8, 12, 12, 12, 12, 0, 0, 0, 0, 4, 4,
                                                   4, 4, 8, 8, 8, 8, 12, 12, 12, 12));
    const __m256i neg = _mm256_cmpeq_epi8(_mm256_and_si256(spread, pattern), pattern);
    return _mm256_sub_epi8(_mm256_xor_si256(mag, neg), neg);
  }
  /// The 16 bytes at p in both 128-bit lanes; see vec512::bytes16.
  static ivec bytes16(const void* p) noexcept {
    return _mm256_broadcastsi128_si256(_mm_loadu_si128(static_cast<const __m128i*>(p)));
  }
  /// Per byte: `if_set` where bit Bit of `src` is set, else `if_clear`.
  template <int Bit>
  static ivec blend_on_bit(ivec src, ivec if_clear, ivec if_set) noexcept {
    const __m256i bit = _mm256_set1_epi8(static_cast<char>(1 << Bit));
    return _mm256_blendv_epi8(if_clear, if_set, _mm256_cmpeq_epi8(_mm256_and_si256(src, bit), bit));
  }
  /// Per byte: -v where bit Bit of `src` is set, else v.
  template <int Bit>
  static ivec negate_on_bit(ivec src, ivec v) noexcept {
    const __m256i bit = _mm256_set1_epi8(static_cast<char>(1 << Bit));
    const __m256i neg = _mm256_cmpeq_epi8(_mm256_and_si256(src, bit), bit);
    return _mm256_sub_epi8(_mm256_xor_si256(v, neg), neg);
  }
  /// The binary16 bits in the low half of each dword lane (0..65535), widened to f32.
  static fvec fp16_lanes(ivec v) noexcept {
    return _mm256_cvtph_ps(_mm_packus_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1)));
  }
  /// Signed int8 values as the kernel's operand: unchanged (`vpmaddubsw` takes |v| and sign(v) x).
  static ivec biased(ivec v) noexcept { return v; }
};
#endif

/// Byte offset of chunk j for row half h (h = 0 for 16-row vectors).
template <class V>
constexpr std::size_t chunk_at(std::size_t j, std::size_t h) noexcept {
  return 64 * j + 4 * V::rows * h;
}

/// The 32 codes of one activation block from four chunks of 4-bit codebook indices: chunk c's low
/// nibbles go to op[lo[c]], its high nibbles to op[lo[c] + hi_step], each looked up in `table`.
template <class V>
inline void decode_nibbles(const std::uint8_t* chunks, std::size_t h, typename V::ivec table, const int (&lo)[4],
                           int hi_step, typename V::ivec* op) noexcept {
  for (int c = 0; c < 4; ++c) {
    const typename V::ivec v = V::load(chunks + chunk_at<V>(c, h));
    op[lo[c]] = V::lookup(table, V::low_nibbles(v));
    op[lo[c] + hi_step] = V::lookup(table, V::high_nibbles(v));
  }
}

// ---------------------------------------------------------------------------------------------
// The microkernel and the GEMM.
// ---------------------------------------------------------------------------------------------

/// Microkernel: MR activation rows x one 16-row panel of F, all K blocks. Per activation block xb
/// (32 elements) and row r: `acc[i][r] += d_x[i,xb] Σ_s dw_s[r] (Σ_k (u[r,k] - o) q_x[i,k])`, the
/// integer sums exact in int32 (o = 128 for biased codebook values, 1 for ternary codes; the
/// offset removed as `o Σ q_x` with the activation sums, or the half sums `half_sums` (M, K / 32):
/// Σ of each block's first 16 codes, for split_halves formats). AVX-512 VNNI `vpdpbusd`, or AVX2
/// `vpmaddubsw` (|w| with sign(w) x for codebook values, plain for ternary codes 0..3).
template <class Arch, int MR, class F>
inline void block_dot_microkernel(const std::uint8_t* panel, std::size_t nb, const activation_q8& xq,
                                  [[maybe_unused]] const float* half_sums, std::size_t i0,
                                  float (*acc_out)[16]) noexcept {
  using traits = block_dot_traits<F>;
  constexpr std::size_t stride = block_record<F>::stride;
  constexpr std::size_t subs = F::block_size / 32;
  [[maybe_unused]] const std::size_t xnb = xq.cols / 32;
#if defined(__AVX512VNNI__) && defined(__AVX512BW__)
  if constexpr (has_vnni_v<Arch>) {
    using V = vec512;
    constexpr int offset = traits::lut ? V::lut_bias : 1;
    __m512 acc[MR];
    for (int i = 0; i < MR; ++i) acc[i] = _mm512_setzero_ps();
    for (std::size_t b = 0; b < nb; ++b) {
      const std::uint8_t* rec = panel + b * stride;
      for (std::size_t a = 0; a < subs; ++a) {
        __m512i op[8];
        __m512 dw[2];
        traits::template decode<V>(rec, 0, a, op, dw);
        const std::size_t xb = b * subs + a;
        for (int i = 0; i < MR; ++i) {
          const auto* xw = reinterpret_cast<const dword_alias*>(xq.row_qs(i0 + i) + 32 * xb);
          __m512i s0 = _mm512_dpbusd_epi32(_mm512_setzero_si512(), op[0], _mm512_set1_epi32(xw[0]));
          __m512i s1 = _mm512_dpbusd_epi32(_mm512_setzero_si512(), op[4], _mm512_set1_epi32(xw[4]));
          s0 = _mm512_dpbusd_epi32(s0, op[1], _mm512_set1_epi32(xw[1]));
          s1 = _mm512_dpbusd_epi32(s1, op[5], _mm512_set1_epi32(xw[5]));
          s0 = _mm512_dpbusd_epi32(s0, op[2], _mm512_set1_epi32(xw[2]));
          s1 = _mm512_dpbusd_epi32(s1, op[6], _mm512_set1_epi32(xw[6]));
          s0 = _mm512_dpbusd_epi32(s0, op[3], _mm512_set1_epi32(xw[3]));
          s1 = _mm512_dpbusd_epi32(s1, op[7], _mm512_set1_epi32(xw[7]));
          const std::int32_t sum = xq.row_sum(i0 + i)[xb];
          const __m512 dx = _mm512_set1_ps(xq.row_d(i0 + i)[xb]);
          if constexpr (traits::split_halves) {
            const auto first = static_cast<std::int32_t>(half_sums[(i0 + i) * xnb + xb]);
            s0 = _mm512_sub_epi32(s0, _mm512_set1_epi32(offset * first));
            s1 = _mm512_sub_epi32(s1, _mm512_set1_epi32(offset * (sum - first)));
            const __m512 part =
                _mm512_fmadd_ps(_mm512_cvtepi32_ps(s0), dw[0], _mm512_mul_ps(_mm512_cvtepi32_ps(s1), dw[1]));
            acc[i] = _mm512_fmadd_ps(part, dx, acc[i]);
          } else {
            const __m512i isum = _mm512_sub_epi32(_mm512_add_epi32(s0, s1), _mm512_set1_epi32(offset * sum));
            acc[i] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(isum), _mm512_mul_ps(dw[0], dx), acc[i]);
          }
        }
      }
    }
    for (int i = 0; i < MR; ++i) _mm512_storeu_ps(acc_out[i], acc[i]);
  } else
#endif
#if defined(__AVX2__)
      if constexpr (has_avx2_v<Arch>) {
    using V = vec256;
    const __m256i ones = _mm256_set1_epi16(1);
    __m256 acc[MR][2];
    for (int i = 0; i < MR; ++i) acc[i][0] = acc[i][1] = _mm256_setzero_ps();
    for (std::size_t b = 0; b < nb; ++b) {
      const std::uint8_t* rec = panel + b * stride;
      for (std::size_t h = 0; h < 2; ++h) {
        for (std::size_t a = 0; a < subs; ++a) {
          __m256i op[8], mag[8];
          __m256 dw[2];
          traits::template decode<V>(rec, h, a, op, dw);
          if constexpr (traits::lut) {
            for (int g = 0; g < 8; ++g) mag[g] = _mm256_abs_epi8(op[g]);
          }
          const std::size_t xb = b * subs + a;
          for (int i = 0; i < MR; ++i) {
            std::int32_t xw[8];
            std::memcpy(xw, xq.row_qs(i0 + i) + 32 * xb, 32);
            __m256i s[2];
            for (int half = 0; half < 2; ++half) {
              if constexpr (traits::lut) {
                // |w| <= 127, |x| <= 127: each pair sum <= 32258 fits int16; widen per product.
                __m256i sum32 = _mm256_setzero_si256();
                for (int g = 4 * half; g < 4 * half + 4; ++g) {
                  const __m256i sx = _mm256_sign_epi8(_mm256_set1_epi32(xw[g]), op[g]);
                  sum32 = _mm256_add_epi32(sum32, _mm256_madd_epi16(_mm256_maddubs_epi16(mag[g], sx), ones));
                }
                s[half] = sum32;
              } else {
                // Ternary codes <= 3: four pair sums <= 3072 in int16, widened once.
                __m256i sum16 = _mm256_setzero_si256();
                for (int g = 4 * half; g < 4 * half + 4; ++g)
                  sum16 = _mm256_add_epi16(sum16, _mm256_maddubs_epi16(op[g], _mm256_set1_epi32(xw[g])));
                s[half] = _mm256_madd_epi16(sum16, ones);
              }
            }
            const __m256 dx = _mm256_set1_ps(xq.row_d(i0 + i)[xb]);
            if constexpr (traits::split_halves) {
              static_assert(traits::lut, "split scales are only implemented for codebook formats");
              const __m256 part =
                  _mm256_fmadd_ps(_mm256_cvtepi32_ps(s[0]), dw[0], _mm256_mul_ps(_mm256_cvtepi32_ps(s[1]), dw[1]));
              acc[i][h] = _mm256_fmadd_ps(part, dx, acc[i][h]);
            } else {
              __m256i isum = _mm256_add_epi32(s[0], s[1]);
              if constexpr (!traits::lut) isum = _mm256_sub_epi32(isum, _mm256_set1_epi32(xq.row_sum(i0 + i)[xb]));
              acc[i][h] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(isum), _mm256_mul_ps(dw[0], dx), acc[i][h]);
            }
          }
        }
      }
    }
    for (int i = 0; i < MR; ++i) {
      _mm256_storeu_ps(acc_out[i], acc[i][0]);
      _mm256_storeu_ps(acc_out[i] + 8, acc[i][1]);
    }
  } else
#endif
  {
    static_assert(dependent_false<Arch>, "lowbit: the simd codebook/ternary kernels need AVX2 or AVX-512 VNNI");
  }
}

/// The SIMD GEMM of a dword-transposed format F (IQ4_NL, IQ4_XS, MXFP4, NVFP4, TQ1_0, TQ2_0):
/// activations quantized on the fly (activation_q8, ggml's Q8_0 rules), weights in block_packed_t
/// panels decoded in registers, integer dot products, f32 accumulation of the per-block scaled
/// sums, fused epilogue. Threads split panels (and row blocks) as for_each_panel_tile does.
/// Workspace: for split_halves formats on AVX-512, `ws.scratch` holds the half sums (M x K / 32).
template <class F, class Arch>
struct block_dot_gemm_kernel {
  using weight_type = block_packed_t<F>;
  static constexpr bool needs_half_sums = block_dot_traits<F>::split_halves && has_vnni_v<Arch>;

  struct microkernel {
    const float* half_sums;
    template <int MR>
    void operator()(const std::uint8_t* panel, std::size_t nb, const activation_q8& xq, std::size_t i0,
                    float (*acc)[16]) const noexcept {
      block_dot_microkernel<Arch, MR, F>(panel, nb, xq, half_sums, i0, acc);
    }
  };

  static weight_type prepare(weight_view<F> w, threads t) { return pack_blocks(w, t); }

  template <epilogue::stage E>
  static void run(matrix_view<const float> x, const weight_type& w, matrix_view<float> y, threads t, const E& e,
                  gemm_workspace& ws) {
    quantize_activations<Arch>(x, ws.x_q8);
    const activation_q8& xq = ws.x_q8;
    const float* half_sums = nullptr;
    if constexpr (needs_half_sums) {
      const std::size_t xnb = x.cols / 32;
      ws.scratch.resize(x.rows * xnb);
      for (std::size_t i = 0; i < x.rows; ++i) {
        for (std::size_t b = 0; b < xnb; ++b) {
          const std::int8_t* q = xq.row_qs(i) + 32 * b;
          std::int32_t s = 0;
          for (int k = 0; k < 16; ++k) s += q[k];
          ws.scratch[i * xnb + b] = static_cast<float>(s);  // |s| <= 2032: exact
        }
      }
      half_sums = ws.scratch.data();
    }
    const microkernel mk{half_sums};
    for_each_panel_tile(t, w.panels(), x.rows,
                        [&](std::size_t p, std::size_t i0, std::size_t i1) { run_panel(w, p, xq, i0, i1, y, e, mk); });
  }
};

}  // namespace lowbit::simd_detail
