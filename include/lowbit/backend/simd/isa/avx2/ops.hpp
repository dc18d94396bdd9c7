// SPDX-License-Identifier: Apache-2.0
// Copyright lowbit contributors
#pragma once

// The ISA layer for AVX2 + FMA + F16C (Haswell and later; AVX-VNNI `vpdpbusd` where the target has
// it): the only place, with its sibling folders, that names raw x86 intrinsics. See isa/isa.hpp.

#if defined(__AVX2__) && defined(__FMA__) && defined(__F16C__)

#include "lowbit/backend/simd/isa/x86_intrinsics.hpp"

#include <cstddef>
#include <cstdint>
#include <cstring>

namespace lowbit::simd_detail::isa {

/// AVX2: 256-bit registers, 8 int32 / f32 lanes: a 16-row panel is `parts` = 2 registers (rows
/// 8h..8h+7 are bytes 32h..32h+31 of each 64-byte chunk). Signed int8 weights need no bias
/// (s8_bias = 0): `vpmaddubsw` takes |w| and sign(w) x.
struct avx2 {
  using vi = __m256i;
  using vf = __m256;
#if defined(__AVXVNNI__)
  static constexpr const char* name = "avx2_vnni";
#else
  static constexpr const char* name = "avx2";
#endif
  static constexpr std::size_t bytes = 32;
  static constexpr std::size_t lanes = 8;
  static constexpr std::size_t parts = 64 / bytes;
  static constexpr int s8_bias = 0;
  /// No 2x2 int8 matrix tiles (`mmla_s8`, see isa::neon): kernels take their dot-product path.
  static constexpr bool has_int8_tiles = false;

  // -- loads, stores, constants -------------------------------------------------------------
  static vi load(const void* p) noexcept { return _mm256_loadu_si256(static_cast<const __m256i*>(p)); }
  static void store(void* p, vi v) noexcept { _mm256_storeu_si256(static_cast<__m256i*>(p), v); }
  static vf load_f32(const float* p) noexcept { return _mm256_loadu_ps(p); }
  static void store_f32(float* p, vf v) noexcept { _mm256_storeu_ps(p, v); }
  static vi zero() noexcept { return _mm256_setzero_si256(); }
  static vf zero_f32() noexcept { return _mm256_setzero_ps(); }
  static vi splat_u8(int b) noexcept { return _mm256_set1_epi8(static_cast<char>(b)); }
  static vi splat_i16(int h) noexcept { return _mm256_set1_epi16(static_cast<short>(h)); }
  static vi splat_i32(std::int32_t d) noexcept { return _mm256_set1_epi32(d); }
  static vf splat_f32(float f) noexcept { return _mm256_set1_ps(f); }
  static vi splat16(const void* p) noexcept {
    return _mm256_broadcastsi128_si256(_mm_loadu_si128(static_cast<const __m128i*>(p)));
  }
  static vi widen_u8(const std::uint8_t* p) noexcept {
    return _mm256_cvtepu8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(p)));
  }
  static vi widen_s8(const void* p) noexcept {
    return _mm256_cvtepi8_epi32(_mm_loadl_epi64(static_cast<const __m128i*>(p)));
  }
  static vi widen_u16(const void* p) noexcept {
    return _mm256_cvtepu16_epi32(_mm_loadu_si128(static_cast<const __m128i*>(p)));
  }

  // -- bitwise and shifts -------------------------------------------------------------------
  static vi and_(vi a, vi b) noexcept { return _mm256_and_si256(a, b); }
  static vi or_(vi a, vi b) noexcept { return _mm256_or_si256(a, b); }
  static vi xor_(vi a, vi b) noexcept { return _mm256_xor_si256(a, b); }
  template <int S>
  static vi srl16(vi v) noexcept {
    return _mm256_srli_epi16(v, S);
  }
  template <int S>
  static vi sll16(vi v) noexcept {
    return _mm256_slli_epi16(v, S);
  }
  template <int S>
  static vi sll32(vi v) noexcept {
    return _mm256_slli_epi32(v, S);
  }
  template <int S>
  static vi srl32(vi v) noexcept {
    return _mm256_srli_epi32(v, S);
  }

  // -- integer arithmetic -------------------------------------------------------------------
  static vi add8(vi a, vi b) noexcept { return _mm256_add_epi8(a, b); }
  static vi sub8(vi a, vi b) noexcept { return _mm256_sub_epi8(a, b); }
  static vi add32(vi a, vi b) noexcept { return _mm256_add_epi32(a, b); }
  static vi sub32(vi a, vi b) noexcept { return _mm256_sub_epi32(a, b); }
  static vi mullo32(vi a, vi b) noexcept { return _mm256_mullo_epi32(a, b); }

  // -- byte shuffles and decoding -----------------------------------------------------------
  static vi lookup16(vi table, vi idx) noexcept { return _mm256_shuffle_epi8(table, idx); }
  static vi mul_bytes(vi v, std::int16_t factor) noexcept {
    const __m256i c = _mm256_set1_epi16(factor);
    const __m256i even = _mm256_and_si256(_mm256_mullo_epi16(v, c), _mm256_set1_epi16(0x00ff));
    const __m256i odd = _mm256_mullo_epi16(_mm256_and_si256(v, _mm256_set1_epi16(static_cast<short>(0xff00))), c);
    return _mm256_or_si256(even, odd);
  }
  static vi trit(vi y) noexcept {
    // y >= c  <=>  max_u8(y, c) == y (-1 where true).
    const __m256i ge86 = _mm256_cmpeq_epi8(_mm256_max_epu8(y, _mm256_set1_epi8(86)), y);
    const __m256i ge171 = _mm256_cmpeq_epi8(_mm256_max_epu8(y, _mm256_set1_epi8(static_cast<char>(171))), y);
    return _mm256_sub_epi8(_mm256_sub_epi8(_mm256_setzero_si256(), ge86), ge171);
  }
  template <int Bit>
  static vi blend_on_bit(vi src, vi if_clear, vi if_set) noexcept {
    const __m256i bit = _mm256_set1_epi8(static_cast<char>(1 << Bit));
    return _mm256_blendv_epi8(if_clear, if_set, _mm256_cmpeq_epi8(_mm256_and_si256(src, bit), bit));
  }
  template <int Bit>
  static vi negate_on_bit(vi src, vi v) noexcept {
    const __m256i bit = _mm256_set1_epi8(static_cast<char>(1 << Bit));
    const __m256i neg = _mm256_cmpeq_epi8(_mm256_and_si256(src, bit), bit);
    return _mm256_sub_epi8(_mm256_xor_si256(v, neg), neg);
  }
  template <int Half>
  static vi apply_signs(vi mag, vi bits) noexcept {
    const __m256i pattern = _mm256_set1_epi32(static_cast<int>(Half ? 0x80402010u : 0x08040201u));
    const __m256i spread =
        _mm256_shuffle_epi8(bits, _mm256_setr_epi8(0, 0, 0, 0, 4, 4, 4, 4, 8, 8, 8, 8, 12, 12, 12, 12, 0, 0, 0, 0, 4, 4,
                                                   4, 4, 8, 8, 8, 8, 12, 12, 12, 12));
    const __m256i neg = _mm256_cmpeq_epi8(_mm256_and_si256(spread, pattern), pattern);
    return _mm256_sub_epi8(_mm256_xor_si256(mag, neg), neg);
  }
  static vi bias_s8(vi v) noexcept { return v; }
  static vi table_s8(const std::int8_t* values) noexcept { return splat16(values); }
  static void grid8(const std::uint64_t* table, vi idx, vi& lo, vi& hi) noexcept {
    const auto* base = reinterpret_cast<const long long*>(table);
    const __m256i order = _mm256_setr_epi32(0, 2, 4, 6, 1, 3, 5, 7);
    const __m256i a = _mm256_permutevar8x32_epi32(_mm256_i32gather_epi64(base, _mm256_castsi256_si128(idx), 8), order);
    const __m256i b =
        _mm256_permutevar8x32_epi32(_mm256_i32gather_epi64(base, _mm256_extracti128_si256(idx, 1), 8), order);
    lo = _mm256_permute2x128_si256(a, b, 0x20);
    hi = _mm256_permute2x128_si256(a, b, 0x31);
  }
  static vi grid4(const std::uint32_t* table, vi idx) noexcept {
    return _mm256_i32gather_epi32(reinterpret_cast<const int*>(table), idx, 4);
  }

  // -- integer dot products -----------------------------------------------------------------
  /// `vpmaddubsw` then `vpmaddwd` (codes <= 127 and |x| <= 127 keep each pair sum <= 32258: no
  /// int16 saturation), or AVX-VNNI `vpdpbusd`.
  static vi dot4_u8(vi acc, vi c, std::int32_t x) noexcept {
#if defined(__AVXVNNI__)
    return _mm256_dpbusd_avx_epi32(acc, c, _mm256_set1_epi32(x));
#else
    return _mm256_add_epi32(acc,
                            _mm256_madd_epi16(_mm256_maddubs_epi16(c, _mm256_set1_epi32(x)), _mm256_set1_epi16(1)));
#endif
  }
  /// Codes <= 63: the two `vpmaddubsw` results are added in int16 (<= 32004) and widened once.
  static vi dot8_u8(vi acc, vi c0, vi c1, std::int32_t x0, std::int32_t x1) noexcept {
#if defined(__AVXVNNI__)
    return _mm256_dpbusd_avx_epi32(_mm256_dpbusd_avx_epi32(acc, c0, _mm256_set1_epi32(x0)), c1, _mm256_set1_epi32(x1));
#else
    const __m256i p = _mm256_add_epi16(_mm256_maddubs_epi16(c0, _mm256_set1_epi32(x0)),
                                       _mm256_maddubs_epi16(c1, _mm256_set1_epi32(x1)));
    return _mm256_add_epi32(acc, _mm256_madd_epi16(p, _mm256_set1_epi16(1)));
#endif
  }
  /// |w| and w: `vpmaddubsw` multiplies |w| by sign(w) x.
  struct s8_operand {
    vi mag;
    vi w;
  };
  static s8_operand operand_s8(vi w) noexcept { return {_mm256_abs_epi8(w), w}; }
  static vi dot4_s8(vi acc, const s8_operand& w, std::int32_t x) noexcept {
    const __m256i sx = _mm256_sign_epi8(_mm256_set1_epi32(x), w.w);
    return _mm256_add_epi32(acc, _mm256_madd_epi16(_mm256_maddubs_epi16(w.mag, sx), _mm256_set1_epi16(1)));
  }
  static vi dot_pairs_i16(vi acc, vi w, std::int32_t x) noexcept {
    return _mm256_add_epi32(acc, _mm256_madd_epi16(w, _mm256_set1_epi32(x)));
  }

  // -- float --------------------------------------------------------------------------------
  static vf to_f32(vi v) noexcept { return _mm256_cvtepi32_ps(v); }
  static vf as_f32(vi v) noexcept { return _mm256_castsi256_ps(v); }
  static vi as_i32(vf v) noexcept { return _mm256_castps_si256(v); }
  static vf add(vf a, vf b) noexcept { return _mm256_add_ps(a, b); }
  static vf sub(vf a, vf b) noexcept { return _mm256_sub_ps(a, b); }
  static vf mul(vf a, vf b) noexcept { return _mm256_mul_ps(a, b); }
  static vf fmadd(vf a, vf b, vf c) noexcept { return _mm256_fmadd_ps(a, b, c); }
  static vf fnmadd(vf a, vf b, vf c) noexcept { return _mm256_fnmadd_ps(a, b, c); }
  static vf f16_to_f32(const void* p) noexcept {
    return _mm256_cvtph_ps(_mm_loadu_si128(static_cast<const __m128i*>(p)));
  }
  static vf f16_lanes_to_f32(vi v) noexcept {
    return _mm256_cvtph_ps(_mm_packus_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1)));
  }
  static vf ue4m3_half(const std::uint8_t* p) noexcept {
    const __m128i v = _mm_cvtepu8_epi16(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(p)));
    const __m128i bits = _mm_slli_epi16(_mm_and_si128(v, _mm_set1_epi16(0x7f)), 7);
    const __m256i nan = _mm256_cvtepi16_epi32(_mm_cmpeq_epi16(v, _mm_set1_epi16(0x7f)));
    const __m256 h = _mm256_mul_ps(_mm256_cvtph_ps(bits), _mm256_set1_ps(128.0f));
    return _mm256_andnot_ps(_mm256_castsi256_ps(nan), h);
  }
  static vf lookup16_f32(vi idx, const float* table) noexcept {
    return _mm256_blendv_ps(_mm256_permutevar8x32_ps(_mm256_loadu_ps(table), idx),
                            _mm256_permutevar8x32_ps(_mm256_loadu_ps(table + 8), idx),
                            _mm256_castsi256_ps(_mm256_slli_epi32(idx, 28)));
  }
  static vf lookup32_f32(vi idx, const float* table) noexcept {
    const vf lo = lookup16_f32(idx, table);
    const vf hi = lookup16_f32(idx, table + 16);
    return _mm256_blendv_ps(lo, hi, _mm256_castsi256_ps(_mm256_slli_epi32(idx, 27)));
  }
  static vf nan_where_equal(vf v, vi a, vi b) noexcept {
    return _mm256_or_ps(v, _mm256_castsi256_ps(_mm256_cmpeq_epi32(a, b)));  // all-ones is a NaN
  }

  // -- ops added by the kernel migrations (one section per kernel family) -----------------------
  // @ops:block_dot
  /// Per int32 lane: v >> s, logical (zeros shifted in), s in 0..31 known at run time.
  static vi srl32_n(vi v, int s) noexcept { return _mm256_srli_epi32(v, s); }
  /// Per int32 lane: v << s, s in 0..31 known at run time.
  static vi sll32_n(vi v, int s) noexcept { return _mm256_slli_epi32(v, s); }
  /// A per-int32-lane condition (all ones or 0 per lane), as the comparisons give it.
  using mask32 = vi;
  /// Per int32 lane: a == b.
  static mask32 cmpeq32(vi a, vi b) noexcept { return _mm256_cmpeq_epi32(a, b); }
  /// Per int32 lane: a > b (signed).
  static mask32 cmpgt32(vi a, vi b) noexcept { return _mm256_cmpgt_epi32(a, b); }
  /// Per int32 lane: if_true where the lane of m is set, else if_false (`vpblendvb`).
  static vi select32(mask32 m, vi if_true, vi if_false) noexcept { return _mm256_blendv_epi8(if_false, if_true, m); }
  // @ops:k_quant
  // @ops:parametric
  template <int N>
  static vi repeat(const void* p, std::size_t h) noexcept {
    static_assert(N == 8 || N == 16 || N == 32 || N == 64);
    if constexpr (N == 64) {
      return load(static_cast<const unsigned char*>(p) + 32 * h);
    } else if constexpr (N == 32) {
      return load(p);
    } else if constexpr (N == 16) {
      return splat16(p);
    } else {
      std::uint64_t q;
      std::memcpy(&q, p, 8);
      return _mm256_set1_epi64x(static_cast<long long>(q));
    }
  }
  static vi srlv64(vi v, vi count) noexcept { return _mm256_srlv_epi64(v, count); }
  static vi from_offset_s8(vi v) noexcept { return _mm256_xor_si256(v, _mm256_set1_epi8(static_cast<char>(0x80))); }
  /// Without AVX-VNNI: the eight `vpmaddubsw` pair sums (each |.| <= 2 * 15 * 128) added in int16
  /// (<= 30720), widened once by `vpmaddwd`.
  static vi dot32_u4(vi acc, const vi* c, const void* x) noexcept {
    // Each dword broadcast straight from memory (`vpbroadcastd m32`).
    const auto* xb = static_cast<const unsigned char*>(x);
    auto xw = [xb](int j) {
      std::int32_t w;
      std::memcpy(&w, xb + 4 * j, 4);
      return _mm256_set1_epi32(w);
    };
#if defined(__AVXVNNI__)
    vi s1 = _mm256_dpbusd_avx_epi32(_mm256_setzero_si256(), c[1], xw(1));
    acc = _mm256_dpbusd_avx_epi32(acc, c[0], xw(0));
    for (int j = 1; j < 4; ++j) {
      acc = _mm256_dpbusd_avx_epi32(acc, c[2 * j], xw(2 * j));
      s1 = _mm256_dpbusd_avx_epi32(s1, c[2 * j + 1], xw(2 * j + 1));
    }
    return _mm256_add_epi32(acc, s1);
#else
    __m256i s16 = _mm256_maddubs_epi16(c[0], xw(0));
    for (int j = 1; j < 8; ++j) s16 = _mm256_add_epi16(s16, _mm256_maddubs_epi16(c[j], xw(j)));
    return _mm256_add_epi32(acc, _mm256_madd_epi16(s16, _mm256_set1_epi16(1)));
#endif
  }
  /// `vpermps` reads 3 bits, the blend bit 3: table[idx & 15] as it is.
  static vf lookup16_f32_low4(vi idx, const float* table) noexcept { return lookup16_f32(idx, table); }
  static vf lookup32_f32_low5(vi idx, const float* table) noexcept { return lookup32_f32(idx, table); }
  static vf e4m3_to_f32_over_256(const std::uint8_t* p) noexcept {
    const __m128i b = _mm_cvtepu8_epi16(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(p)));
    return _mm256_cvtph_ps(
        _mm_and_si128(_mm_srai_epi16(_mm_slli_epi16(b, 8), 1), _mm_set1_epi16(static_cast<short>(0xbfff))));
  }
  // @ops:q4_q8
  /// The number of architectural vector registers (16): the register-blocking budget of a kernel.
  static constexpr int vector_registers = 16;
  // @ops:float_sparse
  static vf div(vf a, vf b) noexcept { return _mm256_div_ps(a, b); }
  static vf round_f16(vf v) noexcept {
    return _mm256_cvtph_ps(_mm256_cvtps_ph(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
  }
  /// (l0 + l4) ... then (m0 + m2), (m1 + m3), then the two (the halving order).
  static float sum_halves_f32(vf v) noexcept {
    __m128 h = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    h = _mm_add_ps(h, _mm_movehl_ps(h, h));
    return _mm_cvtss_f32(_mm_add_ss(h, _mm_movehdup_ps(h)));
  }
  static vf splat_quads_f32(const float* p) noexcept { return _mm256_set_m128(_mm_set1_ps(p[1]), _mm_set1_ps(p[0])); }
  /// |a| and a: `vpmaddubsw` multiplies |a| by sign(a) b.
  struct ss_operand {
    vi mag;
    vi a;
  };
  static ss_operand operand_ss(vi a) noexcept { return {_mm256_abs_epi8(a), a}; }
  /// `vpmaddubsw` (|a| |b| <= 128 x 127: no int16 saturation) then `vpmaddwd`.
  static vi dot4_ss(vi acc, const ss_operand& a, vi b) noexcept {
    const __m256i sum16 = _mm256_maddubs_epi16(a.mag, _mm256_sign_epi8(b, a.a));
    return _mm256_add_epi32(acc, _mm256_madd_epi16(sum16, _mm256_set1_epi16(1)));
  }
  /// 32 offsets from 8 index bytes, per 64 dense columns (2 blocks): byte t = ((t % 8) / 2) * 4 + p_t
  /// in [0, 16), an offset into the 16-column half (t % 16) / 8 of block t / 16 (`vpshufb`).
  static vi nm24_offsets(const std::uint8_t* meta) noexcept {
    // Byte t takes index byte t / 4, then its nibble (t % 4 >= 2: high), then that nibble's low or
    // high 2 bits (t odd: high), by table lookups; plus the position of its group in the half.
    const __m256i rep = _mm256_setr_epi8(0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 6, 6,
                                         6, 6, 7, 7, 7, 7);
    const __m256i high_nibble = _mm256_set1_epi32(static_cast<int>(0xffff0000u));
    const __m256i odd = _mm256_set1_epi16(static_cast<short>(0xff00));
    const __m256i low2 = _mm256_setr_epi8(0, 1, 2, 3, 0, 1, 2, 3, 0, 1, 2, 3, 0, 1, 2, 3, 0, 1, 2, 3, 0, 1, 2, 3, 0, 1,
                                          2, 3, 0, 1, 2, 3);
    const __m256i high2 = _mm256_setr_epi8(0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2,
                                           2, 2, 3, 3, 3, 3);
    const __m256i base = _mm256_setr_epi8(0, 0, 4, 4, 8, 8, 12, 12, 0, 0, 4, 4, 8, 8, 12, 12, 0, 0, 4, 4, 8, 8, 12, 12,
                                          0, 0, 4, 4, 8, 8, 12, 12);
    const __m256i nibble = _mm256_set1_epi8(0x0f);
    long long bits;
    std::memcpy(&bits, meta, 8);
    const __m256i b = _mm256_shuffle_epi8(_mm256_set1_epi64x(bits), rep);
    const __m256i nib =
        _mm256_blendv_epi8(_mm256_and_si256(b, nibble), _mm256_and_si256(_mm256_srli_epi16(b, 4), nibble), high_nibble);
    const __m256i p = _mm256_blendv_epi8(_mm256_shuffle_epi8(low2, nib), _mm256_shuffle_epi8(high2, nib), odd);
    return _mm256_add_epi8(p, base);
  }
  /// Lane 0 gathers block 0 (columns 0..31), lane 1 block 1 (32..63); kept 0..7 of a block from
  /// its first 16-column half, 8..15 from its second.
  static vi nm24_gather(const std::int8_t* x, vi offsets) noexcept {
    const __m256i x0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x));
    const __m256i x1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x + 32));
    const __m256i a = _mm256_permute2x128_si256(x0, x1, 0x20);
    const __m256i b = _mm256_permute2x128_si256(x0, x1, 0x31);
    return _mm256_blend_epi32(_mm256_shuffle_epi8(a, offsets), _mm256_shuffle_epi8(b, offsets), 0xcc);
  }
  static constexpr bool has_bf16_dot = false;
};

}  // namespace lowbit::simd_detail::isa

#endif
