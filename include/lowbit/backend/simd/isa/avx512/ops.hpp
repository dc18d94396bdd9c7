// SPDX-License-Identifier: Apache-2.0
// Copyright lowbit contributors
#pragma once

// The ISA layer for AVX-512 (F, BW, VL, VNNI; BF16 and VBMI where the target has them): the only
// place, with its sibling folders, that names raw x86 intrinsics. See isa/isa.hpp for the contract.

#if defined(__AVX512F__)

#include "lowbit/backend/simd/isa/x86_intrinsics.hpp"

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>

namespace lowbit::simd_detail::isa {

/// a b + c with one rounding on 16 f32 lanes (`vfmadd`): AVX-512 F alone, for the xsimd float
/// kernels of targets with AVX-512 but without VNNI (xsimd_compat.hpp `fmadd`).
inline __m512 fmadd_avx512f(__m512 a, __m512 b, __m512 c) noexcept { return _mm512_fmadd_ps(a, b, c); }

}  // namespace lowbit::simd_detail::isa

#endif

#if defined(__AVX512VNNI__) && defined(__AVX512BW__)

namespace lowbit::simd_detail::isa {

/// AVX-512 with VNNI: 512-bit registers, 16 int32 / f32 lanes (one panel of 16 rows per register).
/// Signed int8 weights enter `vpdpbusd` (u8 x s8) as `w + 128` (s8_bias = 128); kernels subtract
/// `128 Σ x` exactly from the int32 sums.
struct avx512 {
  using vi = __m512i;
  using vf = __m512;
  static constexpr const char* name = "avx512_vnni";
  static constexpr std::size_t bytes = 64;
  static constexpr std::size_t lanes = 16;
  static constexpr std::size_t parts = 64 / bytes;
  static constexpr int s8_bias = 128;
  /// No 2x2 int8 matrix tiles (`mmla_s8`, see isa::neon): kernels take their dot-product path.
  static constexpr bool has_int8_tiles = false;

  // -- loads, stores, constants -------------------------------------------------------------
  static vi load(const void* p) noexcept { return _mm512_loadu_si512(p); }
  static void store(void* p, vi v) noexcept { _mm512_storeu_si512(p, v); }
  static vf load_f32(const float* p) noexcept { return _mm512_loadu_ps(p); }
  static void store_f32(float* p, vf v) noexcept { _mm512_storeu_ps(p, v); }
  static vi zero() noexcept { return _mm512_setzero_si512(); }
  static vf zero_f32() noexcept { return _mm512_setzero_ps(); }
  static vi splat_u8(int b) noexcept { return _mm512_set1_epi8(static_cast<char>(b)); }
  static vi splat_i16(int h) noexcept { return _mm512_set1_epi16(static_cast<short>(h)); }
  static vi splat_i32(std::int32_t d) noexcept { return _mm512_set1_epi32(d); }
  static vf splat_f32(float f) noexcept { return _mm512_set1_ps(f); }
  /// The 16 bytes at p repeated in every 128-bit lane (a `lookup16` table).
  static vi splat16(const void* p) noexcept {
    return _mm512_broadcast_i32x4(_mm_loadu_si128(static_cast<const __m128i*>(p)));
  }
  /// `lanes` bytes at p, zero- / sign-extended to int32 lanes.
  static vi widen_u8(const std::uint8_t* p) noexcept {
    return _mm512_maskz_cvtepu8_epi32(static_cast<__mmask16>(0xffff),
                                      _mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
  }
  static vi widen_s8(const void* p) noexcept {
    return _mm512_maskz_cvtepi8_epi32(static_cast<__mmask16>(0xffff), _mm_loadu_si128(static_cast<const __m128i*>(p)));
  }
  /// `lanes` little-endian uint16 at p, zero-extended to int32 lanes.
  static vi widen_u16(const void* p) noexcept {
    return _mm512_maskz_cvtepu16_epi32(static_cast<__mmask16>(0xffff),
                                       _mm256_loadu_si256(static_cast<const __m256i*>(p)));
  }

  // -- bitwise and shifts -------------------------------------------------------------------
  static vi and_(vi a, vi b) noexcept { return _mm512_and_si512(a, b); }
  static vi or_(vi a, vi b) noexcept { return _mm512_or_si512(a, b); }
  static vi xor_(vi a, vi b) noexcept { return _mm512_xor_si512(a, b); }
  /// Logical shifts by a constant in 16-bit lanes.
  template <int S>
  static vi srl16(vi v) noexcept {
    return _mm512_srli_epi16(v, S);
  }
  template <int S>
  static vi sll16(vi v) noexcept {
    return _mm512_slli_epi16(v, S);
  }
  // 32-bit shifts through the zero-masking forms with an all-ones mask (the same `vpslld` /
  // `vpsrld`): GCC 12 reports -Wuninitialized inside its own _mm512_slli_epi32 / _mm512_srli_epi32
  // (their _mm512_undefined_epi32 operand).
  typedef std::uint32_t u32x16 __attribute__((vector_size(64)));
  template <int S>
  static vi sll32(vi v) noexcept {
    return _mm512_maskz_slli_epi32(static_cast<__mmask16>(0xffff), v, S);
  }
  template <int S>
  static vi srl32(vi v) noexcept {
    return _mm512_maskz_srli_epi32(static_cast<__mmask16>(0xffff), v, S);
  }

  // -- integer arithmetic -------------------------------------------------------------------
  static vi add8(vi a, vi b) noexcept { return _mm512_add_epi8(a, b); }
  static vi sub8(vi a, vi b) noexcept { return _mm512_sub_epi8(a, b); }
  static vi add32(vi a, vi b) noexcept { return _mm512_add_epi32(a, b); }
  static vi sub32(vi a, vi b) noexcept { return _mm512_sub_epi32(a, b); }
  static vi mullo32(vi a, vi b) noexcept { return _mm512_mullo_epi32(a, b); }

  // -- byte shuffles and decoding -----------------------------------------------------------
  /// Per byte: table[idx & 15] of its 128-bit lane (idx < 16; `vpshufb`).
  static vi lookup16(vi table, vi idx) noexcept { return _mm512_shuffle_epi8(table, idx); }
  /// Every byte times `factor`, modulo 256.
  static vi mul_bytes(vi v, std::int16_t factor) noexcept {
    const __m512i c = _mm512_set1_epi16(factor);
    const __m512i even = _mm512_mullo_epi16(v, c);
    const __m512i odd = _mm512_mullo_epi16(_mm512_and_si512(v, _mm512_set1_epi16(static_cast<short>(0xff00))), c);
    return _mm512_mask_blend_epi8(0xaaaaaaaaaaaaaaaaull, even, odd);
  }
  /// `(3 y) >> 8` per unsigned byte, i.e. (y >= 86) + (y >= 171) (a base-3 digit, TQ1_0).
  static vi trit(vi y) noexcept {
    const __m512i one = _mm512_set1_epi8(1);
    const __m512i t = _mm512_maskz_mov_epi8(_mm512_cmpge_epu8_mask(y, _mm512_set1_epi8(86)), one);
    return _mm512_mask_add_epi8(t, _mm512_cmpge_epu8_mask(y, _mm512_set1_epi8(static_cast<char>(171))), t, one);
  }
  /// Per byte: `if_set` where bit Bit of `src` is set, else `if_clear`.
  template <int Bit>
  static vi blend_on_bit(vi src, vi if_clear, vi if_set) noexcept {
    return _mm512_mask_blend_epi8(_mm512_test_epi8_mask(src, _mm512_set1_epi8(static_cast<char>(1 << Bit))), if_clear,
                                  if_set);
  }
  /// Per byte: -v where bit Bit of `src` is set, else v.
  template <int Bit>
  static vi negate_on_bit(vi src, vi v) noexcept {
    return _mm512_mask_sub_epi8(v, _mm512_test_epi8_mask(src, _mm512_set1_epi8(static_cast<char>(1 << Bit))),
                                _mm512_setzero_si512(), v);
  }
  /// Signs applied to 4 magnitudes per int32 lane: byte j of lane r is negated where bit 4 Half + j
  /// of the lane's sign byte `bits` (0..255 per lane) is set; the result is in s8 operand form
  /// (`w + s8_bias`).
  template <int Half>
  static vi apply_signs(vi mag, vi bits) noexcept {
    const __m512i spread = _mm512_shuffle_epi8(bits, _mm512_set4_epi32(0x0c0c0c0c, 0x08080808, 0x04040404, 0x00000000));
    const __mmask64 neg =
        _mm512_test_epi8_mask(spread, _mm512_set1_epi32(static_cast<int>(Half ? 0x80402010u : 0x08040201u)));
    const __m512i v = _mm512_mask_sub_epi8(mag, neg, _mm512_setzero_si512(), mag);
    return _mm512_xor_si512(v, _mm512_set1_epi8(-128));
  }
  /// Signed int8 values in s8 operand form: v + 128 (the `vpdpbusd` unsigned operand).
  static vi bias_s8(vi v) noexcept { return _mm512_xor_si512(v, _mm512_set1_epi8(-128)); }
  /// A 16-entry int8 table (`values`) in s8 operand form, for lookup16.
  static vi table_s8(const std::int8_t* values) noexcept { return bias_s8(splat16(values)); }
  /// Codebook entries of 8 byte codes: `idx` holds one table index per int32 lane r; on return lane
  /// r of `lo` holds bytes 0..3 of `table[idx_r]`, of `hi` bytes 4..7. Two `vpgatherdq`.
  static void grid8(const std::uint64_t* table, vi idx, vi& lo, vi& hi) noexcept {
    const auto* base = reinterpret_cast<const long long*>(table);
    const __m512i g0 = _mm512_i32gather_epi64(_mm512_castsi512_si256(idx), base, 8);
    const __m512i g1 = _mm512_i32gather_epi64(_mm512_extracti64x4_epi64(idx, 1), base, 8);
    const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    lo = _mm512_permutex2var_epi32(g0, even, g1);
    hi = _mm512_permutex2var_epi32(g0, _mm512_add_epi32(even, _mm512_set1_epi32(1)), g1);
  }
  /// Codebook entries of 4 byte codes: lane r = `table[idx_r]` (`vpgatherdd`).
  static vi grid4(const std::uint32_t* table, vi idx) noexcept {
    return _mm512_i32gather_epi32(idx, reinterpret_cast<const int*>(table), 4);
  }

  // -- integer dot products (4 bytes per int32 lane against one broadcast activation dword) ---
  /// acc + Σ_j c[j] x[j] over the 4 bytes of each lane: unsigned codes c (<= 127), signed x (the
  /// dword `x` holds 4 int8). `vpdpbusd`.
  static vi dot4_u8(vi acc, vi c, std::int32_t x) noexcept { return _mm512_dpbusd_epi32(acc, c, _mm512_set1_epi32(x)); }
  /// dot4_u8 twice (c0 with x0, c1 with x1), codes <= 63.
  static vi dot8_u8(vi acc, vi c0, vi c1, std::int32_t x0, std::int32_t x1) noexcept {
    return _mm512_dpbusd_epi32(_mm512_dpbusd_epi32(acc, c0, _mm512_set1_epi32(x0)), c1, _mm512_set1_epi32(x1));
  }
  /// Signed weights prepared for dot4_s8 (here the biased bytes themselves).
  using s8_operand = vi;
  /// From s8 operand form (`w + s8_bias`, as lookup16 of table_s8 / apply_signs / bias_s8 give).
  static s8_operand operand_s8(vi biased) noexcept { return biased; }
  /// acc + Σ_j (w[j] + s8_bias) x[j] over the 4 bytes of each lane.
  static vi dot4_s8(vi acc, const s8_operand& w, std::int32_t x) noexcept {
    return _mm512_dpbusd_epi32(acc, w, _mm512_set1_epi32(x));
  }
  /// acc + Σ of the two int16 products per lane (w pair x the broadcast x pair). `vpdpwssd`.
  static vi dot_pairs_i16(vi acc, vi w, std::int32_t x) noexcept {
    return _mm512_dpwssd_epi32(acc, w, _mm512_set1_epi32(x));
  }

  // -- float --------------------------------------------------------------------------------
  // The masked form: GCC 12 reports -Wuninitialized inside the unmasked one (its _mm512_undefined_ps).
  static vf to_f32(vi v) noexcept { return _mm512_maskz_cvtepi32_ps(static_cast<__mmask16>(0xffff), v); }
  static vf as_f32(vi v) noexcept { return _mm512_castsi512_ps(v); }
  static vi as_i32(vf v) noexcept { return _mm512_castps_si512(v); }
  static vf add(vf a, vf b) noexcept { return _mm512_add_ps(a, b); }
  static vf sub(vf a, vf b) noexcept { return _mm512_sub_ps(a, b); }
  static vf mul(vf a, vf b) noexcept { return _mm512_mul_ps(a, b); }
  /// a b + c, one rounding.
  static vf fmadd(vf a, vf b, vf c) noexcept { return _mm512_fmadd_ps(a, b, c); }
  /// c - a b, one rounding.
  static vf fnmadd(vf a, vf b, vf c) noexcept { return _mm512_fnmadd_ps(a, b, c); }
  /// `lanes` binary16 values at p as f32 (exact).
  static vf f16_to_f32(const void* p) noexcept {
    return _mm512_cvtph_ps(_mm256_loadu_si256(static_cast<const __m256i*>(p)));
  }
  /// The binary16 bits in each int32 lane (0..65535: the high half must be zero), as f32 (exact).
  static vf f16_lanes_to_f32(vi v) noexcept { return _mm512_cvtph_ps(_mm512_cvtepi32_epi16(v)); }
  /// Half the UE4M3 scales of `lanes` rows (bytes p[0..lanes)), as ggml::detail::ue4m3_half_to_f32:
  /// the 7 low bits shifted left by 7 are the fp16 of the scale times 2^-8 (E4M3's exponent and
  /// mantissa fields land in fp16's, bias 15 = 7 + 8), so h = fp16 * 2^7; the byte 0x7f reads as 0.
  static vf ue4m3_half(const std::uint8_t* p) noexcept {
    const __m256i v = _mm256_cvtepu8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
    const __m256i bits = _mm256_slli_epi16(_mm256_and_si256(v, _mm256_set1_epi16(0x7f)), 7);
    const __mmask16 nan = _mm256_cmpeq_epi16_mask(v, _mm256_set1_epi16(0x7f));
    return _mm512_maskz_mul_ps(static_cast<__mmask16>(~nan), _mm512_cvtph_ps(bits), _mm512_set1_ps(128.0f));
  }
  /// Per lane: table[idx] of a 16-entry f32 table (idx 0..15).
  static vf lookup16_f32(vi idx, const float* table) noexcept {
    return _mm512_permutexvar_ps(idx, _mm512_loadu_ps(table));
  }
  /// Per lane: table[idx] of a 32-entry f32 table (idx 0..31).
  static vf lookup32_f32(vi idx, const float* table) noexcept {
    return _mm512_permutex2var_ps(_mm512_loadu_ps(table), idx, _mm512_loadu_ps(table + 16));
  }
  /// v, with a quiet NaN in the lanes where a == b.
  static vf nan_where_equal(vf v, vi a, vi b) noexcept {
    return _mm512_mask_mov_ps(v, _mm512_cmpeq_epi32_mask(a, b),
                              _mm512_set1_ps(std::numeric_limits<float>::quiet_NaN()));
  }

  // -- ops added by the kernel migrations (one section per kernel family) -----------------------
  // @ops:block_dot
  /// Per int32 lane: v >> s, logical (zeros shifted in), s in 0..31 known at run time.
  static vi srl32_n(vi v, int s) noexcept { return reinterpret_cast<vi>(reinterpret_cast<u32x16>(v) >> s); }
  /// Per int32 lane: v << s, s in 0..31 known at run time.
  static vi sll32_n(vi v, int s) noexcept { return reinterpret_cast<vi>(reinterpret_cast<u32x16>(v) << s); }
  /// A per-int32-lane condition, as the comparisons give it and select32 reads it (a k-mask here).
  using mask32 = __mmask16;
  /// Per int32 lane: a == b.
  static mask32 cmpeq32(vi a, vi b) noexcept { return _mm512_cmpeq_epi32_mask(a, b); }
  /// Per int32 lane: a > b (signed).
  static mask32 cmpgt32(vi a, vi b) noexcept { return _mm512_cmpgt_epi32_mask(a, b); }
  /// Per int32 lane: if_true where the lane of m is set, else if_false (`vpblendmd`).
  static vi select32(mask32 m, vi if_true, vi if_false) noexcept {
    return _mm512_mask_blend_epi32(m, if_false, if_true);
  }
  // @ops:k_quant
  // @ops:parametric
  /// Part h (bytes `bytes h` .. `bytes h + bytes - 1`) of the 64 bytes made of the N bytes at p
  /// repeated (N = 8, 16, 32 or 64; reads N bytes).
  template <int N>
  static vi repeat(const void* p, std::size_t h) noexcept {
    static_assert(N == 8 || N == 16 || N == 32 || N == 64);
    (void)h;
    if constexpr (N == 64) {
      return load(p);
    } else if constexpr (N == 32) {
      return _mm512_broadcast_i64x4(_mm256_loadu_si256(static_cast<const __m256i*>(p)));
    } else if constexpr (N == 16) {
      return splat16(p);
    } else {
      std::uint64_t q;
      std::memcpy(&q, p, 8);
      return _mm512_set1_epi64(static_cast<long long>(q));
    }
  }
  /// Per 64-bit lane: v >> count (logical; counts 0..63).
  static vi srlv64(vi v, vi count) noexcept { return _mm512_srlv_epi64(v, count); }
  /// Signed int8 weights stored in offset binary (`w ^ 0x80`, i.e. w + 128 as a byte) to s8
  /// operand form `w + s8_bias` (here the bytes themselves).
  static vi from_offset_s8(vi v) noexcept { return v; }
  /// acc + Σ_{j<8} Σ_{b<4} c[j].byte(4 r + b) x[4 j + b] per int32 lane r: unsigned codes c <= 15,
  /// the 32 int8 at x (two `vpdpbusd` chains, even and odd j).
  static vi dot32_u4(vi acc, const vi* c, const void* x) noexcept {
    // Each dword broadcast straight from memory (one 32-byte copy would become 64-bit loads,
    // shifts and broadcasts from general registers).
    const auto* xb = static_cast<const unsigned char*>(x);
    auto xw = [xb](int j) {
      std::int32_t w;
      std::memcpy(&w, xb + 4 * j, 4);
      return _mm512_set1_epi32(w);
    };
    vi s1 = _mm512_dpbusd_epi32(_mm512_setzero_si512(), c[1], xw(1));
    acc = _mm512_dpbusd_epi32(acc, c[0], xw(0));
    for (int j = 1; j < 4; ++j) {
      acc = _mm512_dpbusd_epi32(acc, c[2 * j], xw(2 * j));
      s1 = _mm512_dpbusd_epi32(s1, c[2 * j + 1], xw(2 * j + 1));
    }
    return _mm512_add_epi32(acc, s1);
  }
  /// Per lane: table[idx & 15] of a 16-entry f32 table, any idx (`vpermps` reads 4 bits).
  static vf lookup16_f32_low4(vi idx, const float* table) noexcept { return lookup16_f32(idx, table); }
  /// Per lane: table[idx & 31] of a 32-entry f32 table, any idx (`vpermt2ps` reads 5 bits).
  static vf lookup32_f32_low5(vi idx, const float* table) noexcept { return lookup32_f32(idx, table); }
  /// `lanes` FP8 E4M3 bytes at p as f32 e4m3(q) / 2^8, exactly: the f16 with the byte's sign at
  /// bit 15, its 4 exponent bits at bits 13..10 and 3 mantissa bits at 9..7 (E4M3 subnormals land
  /// on f16 subnormals), converted; the NaN codes 0x7f / 0xff read as ±480 / 2^8.
  static vf e4m3_to_f32_over_256(const std::uint8_t* p) noexcept {
    const __m256i b = _mm256_cvtepu8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
    return _mm512_cvtph_ps(
        _mm256_and_si256(_mm256_srai_epi16(_mm256_slli_epi16(b, 8), 1), _mm256_set1_epi16(static_cast<short>(0xbfff))));
  }
  // @ops:q4_q8
  /// The number of architectural vector registers (32): the register-blocking budget of a kernel.
  static constexpr int vector_registers = 32;
  // @ops:float_sparse
  /// a / b correctly rounded, per lane.
  static vf div(vf a, vf b) noexcept { return _mm512_div_ps(a, b); }
  /// Each lane rounded to the nearest binary16 value (ties to even; beyond 65504 to infinity; NaN
  /// stays NaN), as f32 (`vcvtps2ph` then `vcvtph2ps`).
  static vf round_f16(vf v) noexcept {
    return _mm512_cvtph_ps(_mm512_cvtps_ph(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
  }
  /// The sum of the lanes by halving: the upper half of the lanes added to the lower half until one
  /// lane is left (lane l + lanes / 2 to lane l first), as GCC's `_mm512_reduce_add_ps` (whose
  /// 256-bit extracts GCC 12 flags -Wuninitialized once inlined: the same adds, on the stored lanes).
  static float sum_halves_f32(vf v) noexcept {
    alignas(64) float l[16];
    _mm512_store_ps(l, v);
    float h8[8], h4[4];
    for (int i = 0; i < 8; ++i) h8[i] = l[i + 8] + l[i];
    for (int i = 0; i < 4; ++i) h4[i] = h8[i + 4] + h8[i];
    return (h4[0] + h4[2]) + (h4[1] + h4[3]);
  }
  /// Lane l = p[l / 4] (reads lanes / 4 floats: one per 16-byte group of int32 lanes).
  static vf splat_quads_f32(const float* p) noexcept {
    return _mm512_permutexvar_ps(_mm512_set_epi32(3, 3, 3, 3, 2, 2, 2, 2, 1, 1, 1, 1, 0, 0, 0, 0),
                                 _mm512_castps128_ps512(_mm_loadu_ps(p)));
  }
  /// Signed int8 a prepared for dot4_ss (|a| and the mask of its negative bytes).
  struct ss_operand {
    vi mag;
    __mmask64 neg;
  };
  static ss_operand operand_ss(vi a) noexcept { return {_mm512_abs_epi8(a), _mm512_movepi8_mask(a)}; }
  /// acc + Σ_j a[j] b[j] over the 4 bytes of each lane, a and b signed int8, b != -128, exact:
  /// `vpdpbusd` of |a| with b negated where a < 0.
  static vi dot4_ss(vi acc, const ss_operand& a, vi b) noexcept {
    return _mm512_dpbusd_epi32(acc, a.mag, _mm512_mask_sub_epi8(b, a.neg, _mm512_setzero_si512(), b));
  }
  /// 2:4 gather offsets of `bytes` (64) kept values from their bytes / 4 (16) index bytes at `meta`
  /// (2 bits per kept value t, little-endian): byte t = (t / 2) * 4 + p_t in [0, 128), the dense
  /// column of t within the 128 columns (4 blocks of 32) that nm24_gather reads. With VBMI by
  /// `vpmultishiftqb`; without it the offsets are as avx2's (per 128-bit lane: block t / 16, byte
  /// ((t % 8) / 2) * 4 + p_t of the 16-column half (t % 16) / 8).
  static vi nm24_offsets(const std::uint8_t* meta) noexcept {
#if defined(__AVX512VBMI__)
    alignas(64) static constexpr std::uint8_t shift[64] = {
        0,  2,  4,  6,  8,  10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30, 32, 34, 36, 38, 40, 42,
        44, 46, 48, 50, 52, 54, 56, 58, 60, 62, 0,  2,  4,  6,  8,  10, 12, 14, 16, 18, 20, 22,
        24, 26, 28, 30, 32, 34, 36, 38, 40, 42, 44, 46, 48, 50, 52, 54, 56, 58, 60, 62};
    alignas(64) static constexpr std::uint8_t base[64] = {
        0,  0,  4,  4,  8,  8,  12,  12,  16,  16,  20,  20,  24,  24,  28,  28,  32,  32,  36,  36, 40, 40,
        44, 44, 48, 48, 52, 52, 56,  56,  60,  60,  64,  64,  68,  68,  72,  72,  76,  76,  80,  80, 84, 84,
        88, 88, 92, 92, 96, 96, 100, 100, 104, 104, 108, 108, 112, 112, 116, 116, 120, 120, 124, 124};
    // Qword q of the result holds the 16 index bits of kept values 8q..8q+7: meta qword q / 4.
    const __m128i m = _mm_loadu_si128(reinterpret_cast<const __m128i*>(meta));
    const __m512i mq = _mm512_permutexvar_epi64(_mm512_set_epi64(1, 1, 1, 1, 0, 0, 0, 0), _mm512_castsi128_si512(m));
    const __m512i p = _mm512_and_si512(_mm512_multishift_epi64_epi8(_mm512_load_si512(shift), mq), _mm512_set1_epi8(3));
    return _mm512_add_epi8(p, _mm512_load_si512(base));
#else
    alignas(64) std::uint8_t out[64];
    for (int t = 0; t < 64; ++t)
      out[t] = static_cast<std::uint8_t>(((t % 8) / 2) * 4 + ((meta[t / 4] >> (2 * (t % 4))) & 3u));
    return _mm512_load_si512(out);
#endif
  }
  /// The activation codes the kept values select: byte t = x[(128-column offset of t, see
  /// nm24_offsets)], x: the 2 x bytes = 128 codes of the 4 blocks (`vpermi2b`; without VBMI
  /// `vpshufb` per 16-column half).
  static vi nm24_gather(const std::int8_t* x, vi offsets) noexcept {
#if defined(__AVX512VBMI__)
    return _mm512_permutex2var_epi8(_mm512_loadu_si512(x), offsets, _mm512_loadu_si512(x + 64));
#else
    const __m512i x0 = _mm512_loadu_si512(x), x1 = _mm512_loadu_si512(x + 64);
    const __m512i lo = _mm512_shuffle_i64x2(x0, x1, 0x88), hi = _mm512_shuffle_i64x2(x0, x1, 0xdd);
    return _mm512_mask_blend_epi8(0xff00ff00ff00ff00ull, _mm512_shuffle_epi8(lo, offsets),
                                  _mm512_shuffle_epi8(hi, offsets));
#endif
  }
#if defined(__AVX512BF16__)
  /// True where the target has bf16 dot products (`bf16_pairs`, `dot_bf16` exist).
  static constexpr bool has_bf16_dot = true;
  /// The 2 lanes floats lo, hi rounded to bfloat16 (nearest even; denormals flushed to zero) as
  /// pairs: dword s holds (bf16(v[2s]), bf16(v[2s + 1])) of v = lo ++ hi (`vcvtne2ps2bf16`).
  static vi bf16_pairs(vf lo, vf hi) noexcept { return (vi)_mm512_cvtne2ps_pbh(hi, lo); }
  /// acc + a_odd b_odd, then + a_even b_even, per lane, of the bf16 pairs in a, b (products exact,
  /// each add rounded to nearest even, denormals flushed to zero: `vdpbf16ps`).
  static vf dot_bf16(vf acc, vi a, vi b) noexcept { return _mm512_dpbf16_ps(acc, (__m512bh)a, (__m512bh)b); }
#else
  static constexpr bool has_bf16_dot = false;
#endif
};

}  // namespace lowbit::simd_detail::isa

#endif
