// SPDX-License-Identifier: Apache-2.0
// Copyright lowbit contributors
#pragma once

// The ISA layer for AArch64 Advanced SIMD (NEON), with the dot-product extension (`sdot`, FEAT_DotProd)
// where the target has it, and plain NEON (`smull` + pairwise adds) where it has not: the only
// place, with its sibling folders, that names raw Arm intrinsics. See isa/isa.hpp for the contract.

#if defined(__aarch64__) && defined(__ARM_NEON)

#include <arm_neon.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>

namespace lowbit::simd_detail::isa {

/// AArch64 NEON: 128-bit registers, 4 int32 / f32 lanes: a 16-row panel is `parts` = 4 registers
/// (rows 4h..4h+3 are bytes 16h..16h+15 of each 64-byte chunk). Signed int8 weights need no bias
/// (s8_bias = 0): `sdot` multiplies s8 by s8. Unsigned codes (<= 127) are read as s8.
struct neon {
  using vi = int32x4_t;
  using vf = float32x4_t;
#if defined(__ARM_FEATURE_DOTPROD)
  static constexpr const char* name = "neon_dotprod";
#else
  static constexpr const char* name = "neon";
#endif
  static constexpr std::size_t bytes = 16;
  static constexpr std::size_t lanes = 4;
  static constexpr std::size_t parts = 64 / bytes;
  static constexpr int s8_bias = 0;
  /// FEAT_I8MM `smmla` (`mmla_s8`: 2x2 int32 tiles of 2x8 by 8x2 int8), where the target has it.
#if defined(__ARM_FEATURE_MATMUL_INT8)
  static constexpr bool has_int8_tiles = true;
#else
  static constexpr bool has_int8_tiles = false;
#endif

  static int8x16_t s8(vi v) noexcept { return vreinterpretq_s8_s32(v); }
  static uint8x16_t u8(vi v) noexcept { return vreinterpretq_u8_s32(v); }
  static vi from(int8x16_t v) noexcept { return vreinterpretq_s32_s8(v); }
  static vi from(uint8x16_t v) noexcept { return vreinterpretq_s32_u8(v); }
  static vi from(uint16x8_t v) noexcept { return vreinterpretq_s32_u16(v); }
  static vi from(int16x8_t v) noexcept { return vreinterpretq_s32_s16(v); }
  static vi from(uint32x4_t v) noexcept { return vreinterpretq_s32_u32(v); }

  // -- loads, stores, constants -------------------------------------------------------------
  static vi load(const void* p) noexcept { return from(vld1q_u8(static_cast<const std::uint8_t*>(p))); }
  static void store(void* p, vi v) noexcept { vst1q_u8(static_cast<std::uint8_t*>(p), u8(v)); }
  static vf load_f32(const float* p) noexcept { return vld1q_f32(p); }
  static void store_f32(float* p, vf v) noexcept { vst1q_f32(p, v); }
  static vi zero() noexcept { return vdupq_n_s32(0); }
  static vf zero_f32() noexcept { return vdupq_n_f32(0.0f); }
  static vi splat_u8(int b) noexcept { return from(vdupq_n_u8(static_cast<std::uint8_t>(b))); }
  static vi splat_i16(int h) noexcept { return from(vdupq_n_s16(static_cast<std::int16_t>(h))); }
  static vi splat_i32(std::int32_t d) noexcept { return vdupq_n_s32(d); }
  static vf splat_f32(float f) noexcept { return vdupq_n_f32(f); }
  static vi splat16(const void* p) noexcept { return load(p); }
  static vi widen_u8(const std::uint8_t* p) noexcept {
    std::uint32_t w;
    std::memcpy(&w, p, 4);
    const uint8x8_t b = vreinterpret_u8_u32(vdup_n_u32(w));
    return vreinterpretq_s32_u32(vmovl_u16(vget_low_u16(vmovl_u8(b))));
  }
  static vi widen_s8(const void* p) noexcept {
    std::uint32_t w;
    std::memcpy(&w, p, 4);
    const int8x8_t b = vreinterpret_s8_u32(vdup_n_u32(w));
    return vmovl_s16(vget_low_s16(vmovl_s8(b)));
  }
  static vi widen_u16(const void* p) noexcept {
    return vreinterpretq_s32_u32(vmovl_u16(vld1_u16(static_cast<const std::uint16_t*>(p))));
  }

  // -- bitwise and shifts -------------------------------------------------------------------
  static vi and_(vi a, vi b) noexcept { return vandq_s32(a, b); }
  static vi or_(vi a, vi b) noexcept { return vorrq_s32(a, b); }
  static vi xor_(vi a, vi b) noexcept { return veorq_s32(a, b); }
  template <int S>
  static vi srl16(vi v) noexcept {
    if constexpr (S == 0) {
      return v;
    } else {
      return from(vshrq_n_u16(vreinterpretq_u16_s32(v), S));
    }
  }
  template <int S>
  static vi sll16(vi v) noexcept {
    if constexpr (S == 0) {
      return v;
    } else {
      return from(vshlq_n_u16(vreinterpretq_u16_s32(v), S));
    }
  }
  template <int S>
  static vi sll32(vi v) noexcept {
    if constexpr (S == 0) {
      return v;
    } else {
      return from(vshlq_n_u32(vreinterpretq_u32_s32(v), S));
    }
  }
  template <int S>
  static vi srl32(vi v) noexcept {
    if constexpr (S == 0) {
      return v;
    } else {
      return from(vshrq_n_u32(vreinterpretq_u32_s32(v), S));
    }
  }

  // -- integer arithmetic -------------------------------------------------------------------
  static vi add8(vi a, vi b) noexcept { return from(vaddq_s8(s8(a), s8(b))); }
  static vi sub8(vi a, vi b) noexcept { return from(vsubq_s8(s8(a), s8(b))); }
  static vi add32(vi a, vi b) noexcept { return vaddq_s32(a, b); }
  static vi sub32(vi a, vi b) noexcept { return vsubq_s32(a, b); }
  static vi mullo32(vi a, vi b) noexcept { return vmulq_s32(a, b); }

  // -- byte shuffles and decoding -----------------------------------------------------------
  /// Per byte: table[idx] (idx < 16; `tbl`).
  static vi lookup16(vi table, vi idx) noexcept { return from(vqtbl1q_u8(u8(table), u8(idx))); }
  static vi mul_bytes(vi v, std::int16_t factor) noexcept {
    return from(vmulq_u8(u8(v), vdupq_n_u8(static_cast<std::uint8_t>(factor & 0xff))));
  }
  static vi trit(vi y) noexcept {
    const uint8x16_t ge86 = vcgeq_u8(u8(y), vdupq_n_u8(86));
    const uint8x16_t ge171 = vcgeq_u8(u8(y), vdupq_n_u8(171));
    return from(vsubq_u8(vsubq_u8(vdupq_n_u8(0), ge86), ge171));
  }
  template <int Bit>
  static vi blend_on_bit(vi src, vi if_clear, vi if_set) noexcept {
    const uint8x16_t set = vtstq_u8(u8(src), vdupq_n_u8(static_cast<std::uint8_t>(1 << Bit)));
    return from(vbslq_u8(set, u8(if_set), u8(if_clear)));
  }
  template <int Bit>
  static vi negate_on_bit(vi src, vi v) noexcept {
    const uint8x16_t neg = vtstq_u8(u8(src), vdupq_n_u8(static_cast<std::uint8_t>(1 << Bit)));
    return from(vsubq_u8(veorq_u8(u8(v), neg), neg));
  }
  template <int Half>
  static vi apply_signs(vi mag, vi bits) noexcept {
    static constexpr std::uint8_t spread_idx[16] = {0, 0, 0, 0, 4, 4, 4, 4, 8, 8, 8, 8, 12, 12, 12, 12};
    const uint8x16_t spread = vqtbl1q_u8(u8(bits), vld1q_u8(spread_idx));
    const uint8x16_t pattern = vreinterpretq_u8_u32(vdupq_n_u32(Half ? 0x80402010u : 0x08040201u));
    const uint8x16_t neg = vtstq_u8(spread, pattern);
    return from(vsubq_u8(veorq_u8(u8(mag), neg), neg));
  }
  static vi bias_s8(vi v) noexcept { return v; }
  static vi table_s8(const std::int8_t* values) noexcept { return splat16(values); }
  /// No gather on NEON: four scalar loads, then a dword de-interleave (`uzp1`, `uzp2`).
  static void grid8(const std::uint64_t* table, vi idx, vi& lo, vi& hi) noexcept {
    const auto i = vreinterpretq_u32_s32(idx);
    const uint64x2_t g01 = vcombine_u64(vld1_u64(table + vgetq_lane_u32(i, 0)), vld1_u64(table + vgetq_lane_u32(i, 1)));
    const uint64x2_t g23 = vcombine_u64(vld1_u64(table + vgetq_lane_u32(i, 2)), vld1_u64(table + vgetq_lane_u32(i, 3)));
    lo = from(vuzp1q_u32(vreinterpretq_u32_u64(g01), vreinterpretq_u32_u64(g23)));
    hi = from(vuzp2q_u32(vreinterpretq_u32_u64(g01), vreinterpretq_u32_u64(g23)));
  }
  static vi grid4(const std::uint32_t* table, vi idx) noexcept {
    const auto i = vreinterpretq_u32_s32(idx);
    const std::uint32_t g[4] = {table[vgetq_lane_u32(i, 0)], table[vgetq_lane_u32(i, 1)], table[vgetq_lane_u32(i, 2)],
                                table[vgetq_lane_u32(i, 3)]};
    return from(vld1q_u32(g));
  }

  // -- integer dot products -----------------------------------------------------------------
  /// acc + Σ over the 4 bytes of each lane of w[j] x[j], both signed (`sdot`; without the
  /// dot-product extension `smull` / `smull2`, then pairwise adds, exact in int32).
  static vi dot4_signed(vi acc, vi w, vi x) noexcept {
#if defined(__ARM_FEATURE_DOTPROD)
    return vdotq_s32(acc, s8(w), s8(x));
#else
    const int16x8_t lo = vmull_s8(vget_low_s8(s8(w)), vget_low_s8(s8(x)));
    const int16x8_t hi = vmull_high_s8(s8(w), s8(x));
    return vaddq_s32(acc, vpaddq_s32(vpaddlq_s16(lo), vpaddlq_s16(hi)));
#endif
  }
  /// Unsigned codes <= 127 read as s8.
  static vi dot4_u8(vi acc, vi c, std::int32_t x) noexcept { return dot4_signed(acc, c, vdupq_n_s32(x)); }
  static vi dot8_u8(vi acc, vi c0, vi c1, std::int32_t x0, std::int32_t x1) noexcept {
    return dot4_signed(dot4_signed(acc, c0, vdupq_n_s32(x0)), c1, vdupq_n_s32(x1));
  }
  using s8_operand = vi;
  static s8_operand operand_s8(vi w) noexcept { return w; }
  static vi dot4_s8(vi acc, const s8_operand& w, std::int32_t x) noexcept {
    return dot4_signed(acc, w, vdupq_n_s32(x));
  }
  // -- 2x2 int8 matrix tiles (FEAT_I8MM), the Armv8.6 operand layout of `smmla` ---------------
  /// The weight operand of mmla_s8 for rows 2 Half and 2 Half + 1 of a part: row r's 4 bytes of
  /// `first` (int32 lane r) then its 4 bytes of `next`, i.e. 8 consecutive k codes of each of the
  /// two rows (bytes 0..7: row 2 Half, bytes 8..15: row 2 Half + 1; `zip1` / `zip2` of 32-bit lanes).
  template <int Half>
  static vi row_pairs8(vi first, vi next) noexcept {
    static_assert(Half == 0 || Half == 1);
    if constexpr (Half == 0) {
      return vzip1q_s32(first, next);
    } else {
      return vzip2q_s32(first, next);
    }
  }
  /// The activation operand of mmla_s8: the 8 int8 at x0 (bytes 0..7) and the 8 at x1 (bytes 8..15).
  static vi act_pairs8(const void* x0, const void* x1) noexcept {
    return from(vcombine_s8(vld1_s8(static_cast<const std::int8_t*>(x0)), vld1_s8(static_cast<const std::int8_t*>(x1))));
  }
#if defined(__ARM_FEATURE_MATMUL_INT8)
  /// acc + the 2x2 int32 tile of a (two rows of 8 int8) times b (two columns of 8 int8): lane
  /// 2i + j += Σ_{k<8} a.byte(8i + k) b.byte(8j + k), exact (`smmla`).
  static vi mmla_s8(vi acc, vi a, vi b) noexcept { return vmmlaq_s32(acc, s8(a), s8(b)); }
#endif
  /// Activation row Row (0 or 1) of two mmla_s8 tiles, one int32 lane per weight row of the part:
  /// `t01` holds weight rows 0, 1 and `t23` rows 2, 3 -> {t01[2 Row], t01[2 Row + 1], t23[2 Row],
  /// t23[2 Row + 1]} (`zip1` / `zip2` of 64-bit lanes).
  template <int Row>
  static vi tile_row(vi t01, vi t23) noexcept {
    static_assert(Row == 0 || Row == 1);
    const int64x2_t a = vreinterpretq_s64_s32(t01), b = vreinterpretq_s64_s32(t23);
    if constexpr (Row == 0) {
      return vreinterpretq_s32_s64(vzip1q_s64(a, b));
    } else {
      return vreinterpretq_s32_s64(vzip2q_s64(a, b));
    }
  }

  /// acc + Σ of the two int16 products per lane (`smull` / `smull2`, pairwise add).
  static vi dot_pairs_i16(vi acc, vi w, std::int32_t x) noexcept {
    const int16x8_t wv = vreinterpretq_s16_s32(w);
    const int16x8_t xv = vreinterpretq_s16_s32(vdupq_n_s32(x));
    const int32x4_t lo = vmull_s16(vget_low_s16(wv), vget_low_s16(xv));
    const int32x4_t hi = vmull_high_s16(wv, xv);
    return vaddq_s32(acc, vpaddq_s32(lo, hi));
  }

  // -- float --------------------------------------------------------------------------------
  static vf to_f32(vi v) noexcept { return vcvtq_f32_s32(v); }
  static vf as_f32(vi v) noexcept { return vreinterpretq_f32_s32(v); }
  static vi as_i32(vf v) noexcept { return vreinterpretq_s32_f32(v); }
  static vf add(vf a, vf b) noexcept { return vaddq_f32(a, b); }
  static vf sub(vf a, vf b) noexcept { return vsubq_f32(a, b); }
  static vf mul(vf a, vf b) noexcept { return vmulq_f32(a, b); }
  static vf fmadd(vf a, vf b, vf c) noexcept { return vfmaq_f32(c, a, b); }
  static vf fnmadd(vf a, vf b, vf c) noexcept { return vfmsq_f32(c, a, b); }
  static vf f16_to_f32(const void* p) noexcept {
    return vcvt_f32_f16(vreinterpret_f16_u16(vld1_u16(static_cast<const std::uint16_t*>(p))));
  }
  static vf f16_lanes_to_f32(vi v) noexcept {
    return vcvt_f32_f16(vreinterpret_f16_u16(vmovn_u32(vreinterpretq_u32_s32(v))));
  }
  static vf ue4m3_half(const std::uint8_t* p) noexcept {
    std::uint32_t w;
    std::memcpy(&w, p, 4);
    const uint16x4_t v = vget_low_u16(vmovl_u8(vreinterpret_u8_u32(vdup_n_u32(w))));
    const uint16x4_t bits = vshl_n_u16(vand_u16(v, vdup_n_u16(0x7f)), 7);
    const uint32x4_t nan = vreinterpretq_u32_s32(vmovl_s16(vreinterpret_s16_u16(vceq_u16(v, vdup_n_u16(0x7f)))));
    const float32x4_t h = vmulq_f32(vcvt_f32_f16(vreinterpret_f16_u16(bits)), vdupq_n_f32(128.0f));
    return vreinterpretq_f32_u32(vbicq_u32(vreinterpretq_u32_f32(h), nan));
  }
  /// Per lane: table[idx] of a 16-entry f32 table (idx 0..15), as a byte lookup of 4 `tbl` tables.
  static vf lookup16_f32(vi idx, const float* table) noexcept {
    const uint8x16x4_t t = vld1q_u8_x4(reinterpret_cast<const std::uint8_t*>(table));
    return vreinterpretq_f32_u8(vqtbl4q_u8(t, byte_offsets(idx)));
  }
  static vf lookup32_f32(vi idx, const float* table) noexcept {
    const vf lo = lookup16_f32(vandq_s32(idx, vdupq_n_s32(15)), table);
    const vf hi = lookup16_f32(vandq_s32(idx, vdupq_n_s32(15)), table + 16);
    return vbslq_f32(vcgtq_s32(idx, vdupq_n_s32(15)), hi, lo);
  }
  static vf nan_where_equal(vf v, vi a, vi b) noexcept {
    return vbslq_f32(vceqq_s32(a, b), vdupq_n_f32(std::numeric_limits<float>::quiet_NaN()), v);
  }

  // -- ops added by the kernel migrations (one section per kernel family) -----------------------
  // @ops:block_dot
  /// Per int32 lane: v >> s, logical (zeros shifted in), s in 0..31 known at run time (`ushl` by -s).
  static vi srl32_n(vi v, int s) noexcept { return from(vshlq_u32(vreinterpretq_u32_s32(v), vdupq_n_s32(-s))); }
  /// Per int32 lane: v << s, s in 0..31 known at run time.
  static vi sll32_n(vi v, int s) noexcept { return from(vshlq_u32(vreinterpretq_u32_s32(v), vdupq_n_s32(s))); }
  /// A per-int32-lane condition (all ones or 0 per lane), as the comparisons give it.
  using mask32 = uint32x4_t;
  /// Per int32 lane: a == b.
  static mask32 cmpeq32(vi a, vi b) noexcept { return vceqq_s32(a, b); }
  /// Per int32 lane: a > b (signed).
  static mask32 cmpgt32(vi a, vi b) noexcept { return vcgtq_s32(a, b); }
  /// Per int32 lane: if_true where the lane of m is set, else if_false (`bsl`).
  static vi select32(mask32 m, vi if_true, vi if_false) noexcept { return vbslq_s32(m, if_true, if_false); }
  // @ops:k_quant
  // @ops:parametric
  template <int N>
  static vi repeat(const void* p, std::size_t h) noexcept {
    static_assert(N == 8 || N == 16 || N == 32 || N == 64);
    if constexpr (N >= 16) {
      return load(static_cast<const std::uint8_t*>(p) + (16 * h) % N);
    } else {
      (void)h;
      std::uint64_t q;
      std::memcpy(&q, p, 8);
      return vreinterpretq_s32_u64(vdupq_n_u64(q));
    }
  }
  /// `ushl` by the negated counts.
  static vi srlv64(vi v, vi count) noexcept {
    return vreinterpretq_s32_u64(vshlq_u64(vreinterpretq_u64_s32(v), vnegq_s64(vreinterpretq_s64_s32(count))));
  }
  static vi from_offset_s8(vi v) noexcept { return from(veorq_u8(u8(v), vdupq_n_u8(0x80))); }
  /// Two `sdot` chains (codes <= 15 read as s8).
  static vi dot32_u4(vi acc, const vi* c, const void* x) noexcept {
    std::int32_t xw[8];
    std::memcpy(xw, x, 32);
    vi s1 = dot4_signed(vdupq_n_s32(0), c[1], vdupq_n_s32(xw[1]));
    acc = dot4_signed(acc, c[0], vdupq_n_s32(xw[0]));
    for (int j = 1; j < 4; ++j) {
      acc = dot4_signed(acc, c[2 * j], vdupq_n_s32(xw[2 * j]));
      s1 = dot4_signed(s1, c[2 * j + 1], vdupq_n_s32(xw[2 * j + 1]));
    }
    return vaddq_s32(acc, s1);
  }
  static vf lookup16_f32_low4(vi idx, const float* table) noexcept {
    return lookup16_f32(vandq_s32(idx, vdupq_n_s32(15)), table);
  }
  static vf lookup32_f32_low5(vi idx, const float* table) noexcept {
    return lookup32_f32(vandq_s32(idx, vdupq_n_s32(31)), table);
  }
  static vf e4m3_to_f32_over_256(const std::uint8_t* p) noexcept {
    std::uint32_t w;
    std::memcpy(&w, p, 4);
    const int16x4_t b = vreinterpret_s16_u16(vget_low_u16(vmovl_u8(vreinterpret_u8_u32(vdup_n_u32(w)))));
    const int16x4_t f16 = vand_s16(vshr_n_s16(vshl_n_s16(b, 8), 1), vdup_n_s16(static_cast<std::int16_t>(0xbfff)));
    return vcvt_f32_f16(vreinterpret_f16_s16(f16));
  }
  // @ops:q4_q8
  /// The number of architectural vector registers (32): the register-blocking budget of a kernel.
  static constexpr int vector_registers = 32;
  // @ops:float_sparse
  static vf div(vf a, vf b) noexcept { return vdivq_f32(a, b); }
  static vf round_f16(vf v) noexcept { return vcvt_f32_f16(vcvt_f16_f32(v)); }
  /// (l0 + l2) + (l1 + l3) (the halving order).
  static float sum_halves_f32(vf v) noexcept {
    const float32x2_t h = vadd_f32(vget_low_f32(v), vget_high_f32(v));
    return vget_lane_f32(h, 0) + vget_lane_f32(h, 1);
  }
  static vf splat_quads_f32(const float* p) noexcept { return vld1q_dup_f32(p); }
  using ss_operand = vi;
  static ss_operand operand_ss(vi a) noexcept { return a; }
  /// `sdot` (or smull + pairwise adds), exact for every byte value.
  static vi dot4_ss(vi acc, const ss_operand& a, vi b) noexcept { return dot4_signed(acc, a, b); }
  /// 16 offsets from 4 index bytes, per 32 dense columns (1 block): byte t = (t / 2) * 4 + p_t in
  /// [0, 32) (index byte t / 4 by `tbl`, shifted right by 2 (t % 4) by `ushl`).
  static vi nm24_offsets(const std::uint8_t* meta) noexcept {
    static constexpr std::uint8_t rep[16] = {0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3};
    static constexpr std::int8_t shift[16] = {0, -2, -4, -6, 0, -2, -4, -6, 0, -2, -4, -6, 0, -2, -4, -6};
    static constexpr std::uint8_t base[16] = {0, 0, 4, 4, 8, 8, 12, 12, 16, 16, 20, 20, 24, 24, 28, 28};
    std::uint32_t w;
    std::memcpy(&w, meta, 4);
    const uint8x16_t b = vqtbl1q_u8(vreinterpretq_u8_u32(vdupq_n_u32(w)), vld1q_u8(rep));
    const uint8x16_t p = vandq_u8(vshlq_u8(b, vld1q_s8(shift)), vdupq_n_u8(3));
    return from(vaddq_u8(p, vld1q_u8(base)));
  }
  /// byte t = x[offset t] of the block's 32 codes (`tbl` of two registers).
  static vi nm24_gather(const std::int8_t* x, vi offsets) noexcept {
    const uint8x16x2_t t = {vld1q_u8(reinterpret_cast<const std::uint8_t*>(x)),
                            vld1q_u8(reinterpret_cast<const std::uint8_t*>(x) + 16)};
    return from(vqtbl2q_u8(t, u8(offsets)));
  }
#if defined(__ARM_FEATURE_BF16_VECTOR_ARITHMETIC)
  static constexpr bool has_bf16_dot = true;
  /// `bfcvtn` / `bfcvtn2` (round to nearest even per FPCR; no flush with Linux's default FPCR).
  static vi bf16_pairs(vf lo, vf hi) noexcept {
    return vreinterpretq_s32_bf16(vcvtq_high_bf16_f32(vcvtq_low_bf16_f32(lo), hi));
  }
  /// `bfdot`: acc + (a_even b_even + a_odd b_odd), the exact products summed and the sum added to
  /// acc with Arm's BFDOT rounding (without FEAT_EBF16: round to odd, denormals flushed), not
  /// vdpbf16ps's two nearest-even steps: the same value up to those roundings (gemm_bf16's bound).
  static vf dot_bf16(vf acc, vi a, vi b) noexcept {
    return vbfdotq_f32(acc, vreinterpretq_bf16_s32(a), vreinterpretq_bf16_s32(b));
  }
#else
  static constexpr bool has_bf16_dot = false;
#endif

 private:
  /// Byte indices 4 idx + 0..3 of each lane (a `tbl` index vector for f32 entries).
  static uint8x16_t byte_offsets(vi idx) noexcept {
    const uint32x4_t base = vmulq_n_u32(vreinterpretq_u32_s32(idx), 0x04040404u);
    return vaddq_u8(vreinterpretq_u8_u32(base), vreinterpretq_u8_u32(vdupq_n_u32(0x03020100u)));
  }
};

}  // namespace lowbit::simd_detail::isa

#endif
