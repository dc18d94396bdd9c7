// SPDX-License-Identifier: Apache-2.0
// Copyright lowbit contributors
#pragma once

// The baseline ISA layer: GCC / Clang vector extensions only (no intrinsics header), for every
// xsimd architecture that has no struct of its own (x86-64 without -march, where xsimd's
// default_arch is sse2, or any x86 level below AVX2 + FMA + F16C; 32-bit Arm NEON). The compiler
// lowers the 16-byte vector operations to what the target has (SSE2 on x86-64), the rest to
// scalar code. Same operations, with the same semantics, as isa/avx512/ops.hpp (the reference
// list); results are bit-identical to the x86 structs' within each operation's contract wherever
// those agree (see `nan_where_equal`, `f16_lanes_to_f32`), NaN payloads aside (which NaN operand
// of an add or fmadd comes back is the compiler's or libm's choice). Layout-dependent operations
// (`repeat`, `nm24_*`) follow neon's, the other 4-lane struct. See isa/isa.hpp.

#if defined(__GNUC__)  // GCC and Clang (vector_size, __builtin_convertvector)

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>

namespace lowbit::simd_detail::isa {

/// The baseline: 16-byte vector-extension registers, 4 int32 / f32 lanes, like NEON: a 16-row
/// panel is `parts` = 4 registers (rows 4h..4h+3 are bytes 16h..16h+15 of each 64-byte chunk).
/// Signed int8 weights need no bias (s8_bias = 0): dot4_s8 multiplies s8 by s8. Integer dot
/// products are exact in int32 (accumulation modulo 2^32, as the x86 instructions); float
/// operations are IEEE per lane, `fmadd` / `fnmadd` fused (`__builtin_fmaf` per lane: an FMA
/// instruction where the target has one, else libm's correctly rounded `fmaf`).
struct generic {
  typedef std::int32_t vi __attribute__((vector_size(16)));
  typedef float vf __attribute__((vector_size(16)));
  static constexpr const char* name = "generic";
  static constexpr std::size_t bytes = 16;
  static constexpr std::size_t lanes = 4;
  static constexpr std::size_t parts = 64 / bytes;
  static constexpr int s8_bias = 0;
  /// No 2x2 int8 matrix tiles (`mmla_s8`, see isa::neon): kernels take their dot-product path.
  static constexpr bool has_int8_tiles = false;

  // The other views of a register (same 16 bytes; converted with a C cast, which reinterprets).
  typedef std::uint8_t u8x16 __attribute__((vector_size(16)));
  typedef std::int8_t s8x16 __attribute__((vector_size(16)));
  typedef std::uint16_t u16x8 __attribute__((vector_size(16)));
  typedef std::int16_t s16x8 __attribute__((vector_size(16)));
  typedef std::uint32_t u32x4 __attribute__((vector_size(16)));

  // -- loads, stores, constants -------------------------------------------------------------
  static vi load(const void* p) noexcept {
    vi v;
    std::memcpy(&v, p, sizeof v);
    return v;
  }
  static void store(void* p, vi v) noexcept { std::memcpy(p, &v, sizeof v); }
  static vf load_f32(const float* p) noexcept {
    vf v;
    std::memcpy(&v, p, sizeof v);
    return v;
  }
  static void store_f32(float* p, vf v) noexcept { std::memcpy(p, &v, sizeof v); }
  static vi zero() noexcept { return vi{0, 0, 0, 0}; }
  static vf zero_f32() noexcept { return vf{0.0f, 0.0f, 0.0f, 0.0f}; }
  static vi splat_u8(int b) noexcept { return splat_i32(static_cast<std::int32_t>(0x01010101u * (b & 0xff))); }
  static vi splat_i16(int h) noexcept { return splat_i32(static_cast<std::int32_t>(0x00010001u * (h & 0xffff))); }
  static vi splat_i32(std::int32_t d) noexcept { return vi{d, d, d, d}; }
  static vf splat_f32(float f) noexcept { return vf{f, f, f, f}; }
  /// The 16 bytes at p (a `lookup16` table: the whole register).
  static vi splat16(const void* p) noexcept { return load(p); }
  /// `lanes` (4) bytes at p, zero- / sign-extended to int32 lanes.
  static vi widen_u8(const std::uint8_t* p) noexcept { return vi{p[0], p[1], p[2], p[3]}; }
  static vi widen_s8(const void* p) noexcept {
    const auto* s = static_cast<const std::int8_t*>(p);
    return vi{s[0], s[1], s[2], s[3]};
  }
  /// `lanes` little-endian uint16 at p, zero-extended to int32 lanes.
  static vi widen_u16(const void* p) noexcept {
    std::uint16_t h[4];
    std::memcpy(h, p, sizeof h);
    return vi{h[0], h[1], h[2], h[3]};
  }

  // -- bitwise and shifts -------------------------------------------------------------------
  static vi and_(vi a, vi b) noexcept { return a & b; }
  static vi or_(vi a, vi b) noexcept { return a | b; }
  static vi xor_(vi a, vi b) noexcept { return a ^ b; }
  /// Logical shifts by a constant in 16- / 32-bit lanes (a count >= the lane width gives 0).
  template <int S>
  static vi srl16(vi v) noexcept {
    if constexpr (S >= 16) {
      return zero();
    } else {
      return (vi)((u16x8)v >> S);
    }
  }
  template <int S>
  static vi sll16(vi v) noexcept {
    if constexpr (S >= 16) {
      return zero();
    } else {
      return (vi)((u16x8)v << S);
    }
  }
  template <int S>
  static vi sll32(vi v) noexcept {
    if constexpr (S >= 32) {
      return zero();
    } else {
      return (vi)((u32x4)v << S);
    }
  }
  template <int S>
  static vi srl32(vi v) noexcept {
    if constexpr (S >= 32) {
      return zero();
    } else {
      return (vi)((u32x4)v >> S);
    }
  }

  // -- integer arithmetic (modulo 2^8 / 2^32) ------------------------------------------------
  static vi add8(vi a, vi b) noexcept { return (vi)((u8x16)a + (u8x16)b); }
  static vi sub8(vi a, vi b) noexcept { return (vi)((u8x16)a - (u8x16)b); }
  static vi add32(vi a, vi b) noexcept { return (vi)((u32x4)a + (u32x4)b); }
  static vi sub32(vi a, vi b) noexcept { return (vi)((u32x4)a - (u32x4)b); }
  static vi mullo32(vi a, vi b) noexcept { return (vi)((u32x4)a * (u32x4)b); }

  // -- byte shuffles and decoding -----------------------------------------------------------
  /// Per byte: table[idx & 15], or 0 where bit 7 of idx is set (`pshufb`; the contract is idx < 16).
  static vi lookup16(vi table, vi idx) noexcept {
    const u8x16 i = (u8x16)idx;
#if defined(__clang__)
    const u8x16 t = (u8x16)table;
    u8x16 r{};
    for (int k = 0; k < 16; ++k) r[k] = static_cast<std::uint8_t>(t[i[k] & 15]);
#else
    const u8x16 r = __builtin_shuffle((u8x16)table, static_cast<u8x16>(i & 15));
#endif
    return (vi)(r & (u8x16)(i < 0x80));
  }
  /// Every byte times `factor`, modulo 256.
  static vi mul_bytes(vi v, std::int16_t factor) noexcept { return (vi)((u8x16)v * (u8x16)splat_u8(factor)); }
  /// `(3 y) >> 8` per unsigned byte, i.e. (y >= 86) + (y >= 171) (a base-3 digit, TQ1_0).
  static vi trit(vi y) noexcept {
    const u8x16 u = (u8x16)y;
    const u8x16 ge86 = (u8x16)(u >= 86);
    const u8x16 ge171 = (u8x16)(u >= 171);
    return (vi)(u8x16{} - ge86 - ge171);
  }
  /// Per byte: `if_set` where bit Bit of `src` is set, else `if_clear`.
  template <int Bit>
  static vi blend_on_bit(vi src, vi if_clear, vi if_set) noexcept {
    const vi set = bit_mask<Bit>(src);
    return (if_set & set) | (if_clear & ~set);
  }
  /// Per byte: -v where bit Bit of `src` is set, else v.
  template <int Bit>
  static vi negate_on_bit(vi src, vi v) noexcept {
    const vi neg = bit_mask<Bit>(src);
    return sub8(v ^ neg, neg);
  }
  /// Signs applied to 4 magnitudes per int32 lane: byte j of lane r is negated where bit 4 Half + j
  /// of the lane's sign byte `bits` (its low byte) is set; the result is in s8 operand form (s8_bias 0).
  template <int Half>
  static vi apply_signs(vi mag, vi bits) noexcept {
    const u8x16 spread = (u8x16)(((u32x4)bits & 0xffu) * 0x01010101u);
    const u8x16 pattern = (u8x16)splat_i32(static_cast<std::int32_t>(Half ? 0x80402010u : 0x08040201u));
    const vi neg = (vi)((spread & pattern) != 0);
    return sub8(mag ^ neg, neg);
  }
  /// Signed int8 values in s8 operand form (here the values themselves).
  static vi bias_s8(vi v) noexcept { return v; }
  /// A 16-entry int8 table (`values`) in s8 operand form, for lookup16.
  static vi table_s8(const std::int8_t* values) noexcept { return splat16(values); }
  /// Codebook entries of 8 byte codes: lane r of `lo` holds bytes 0..3 of `table[idx_r]`, of `hi`
  /// bytes 4..7 (four scalar loads).
  static void grid8(const std::uint64_t* table, vi idx, vi& lo, vi& hi) noexcept {
    for (int r = 0; r < 4; ++r) {
      const std::uint64_t e = table[static_cast<std::uint32_t>(idx[r])];
      lo[r] = static_cast<std::int32_t>(static_cast<std::uint32_t>(e));
      hi[r] = static_cast<std::int32_t>(static_cast<std::uint32_t>(e >> 32));
    }
  }
  /// Codebook entries of 4 byte codes: lane r = `table[idx_r]`.
  static vi grid4(const std::uint32_t* table, vi idx) noexcept {
    vi r{};
    for (int k = 0; k < 4; ++k) r[k] = static_cast<std::int32_t>(table[static_cast<std::uint32_t>(idx[k])]);
    return r;
  }

  // -- integer dot products (4 bytes per int32 lane against one broadcast activation dword) ---
  /// acc + Σ_j c[j] x[j] over the 4 bytes of each lane, c read unsigned (codes <= 127 in the
  /// contract), x (the dword holds 4 int8) signed; exact in int32 (as `vpdpbusd`).
  static vi dot4_u8(vi acc, vi c, std::int32_t x) noexcept {
    const u32x4 u = (u32x4)c;
    vi sum = zero();
    for (int j = 0; j < 4; ++j) sum += (vi)((u >> (8 * j)) & 0xffu) * byte_s8(x, j);
    return add32(acc, sum);
  }
  /// dot4_u8 twice (c0 with x0, c1 with x1), codes <= 63.
  static vi dot8_u8(vi acc, vi c0, vi c1, std::int32_t x0, std::int32_t x1) noexcept {
    return dot4_u8(dot4_u8(acc, c0, x0), c1, x1);
  }
  /// Signed weights prepared for dot4_s8 (here the bytes themselves).
  using s8_operand = vi;
  static s8_operand operand_s8(vi w) noexcept { return w; }
  /// acc + Σ_j w[j] x[j] over the 4 bytes of each lane, both signed (s8_bias 0), exact in int32.
  static vi dot4_s8(vi acc, const s8_operand& w, std::int32_t x) noexcept {
    vi sum = zero();
    for (int j = 0; j < 4; ++j) sum += ((vi)((u32x4)w << (24 - 8 * j)) >> 24) * byte_s8(x, j);
    return add32(acc, sum);
  }
  /// acc + Σ of the two int16 products per lane (w pair x the broadcast x pair), modulo 2^32
  /// (`pmaddwd`: the one overflow, 2 x (-32768)^2, wraps as there).
  static vi dot_pairs_i16(vi acc, vi w, std::int32_t x) noexcept {
    const vi lo = ((vi)((u32x4)w << 16) >> 16) * static_cast<std::int16_t>(x & 0xffff);
    const vi hi = (w >> 16) * static_cast<std::int16_t>(static_cast<std::uint32_t>(x) >> 16);
    return add32(acc, add32(lo, hi));
  }

  // -- float --------------------------------------------------------------------------------
  static vf to_f32(vi v) noexcept { return __builtin_convertvector(v, vf); }
  static vf as_f32(vi v) noexcept { return (vf)v; }
  static vi as_i32(vf v) noexcept { return (vi)v; }
  static vf add(vf a, vf b) noexcept { return a + b; }
  static vf sub(vf a, vf b) noexcept { return a - b; }
  static vf mul(vf a, vf b) noexcept { return a * b; }
  /// a b + c, one rounding (`__builtin_fmaf` per lane).
  static vf fmadd(vf a, vf b, vf c) noexcept {
    return vf{__builtin_fmaf(a[0], b[0], c[0]), __builtin_fmaf(a[1], b[1], c[1]), __builtin_fmaf(a[2], b[2], c[2]),
              __builtin_fmaf(a[3], b[3], c[3])};
  }
  /// c - a b, one rounding.
  static vf fnmadd(vf a, vf b, vf c) noexcept { return fmadd(-a, b, c); }
  /// `lanes` binary16 values at p as f32 (exact; a signalling NaN comes back quiet, as F16C's).
  static vf f16_to_f32(const void* p) noexcept { return f16_bits_to_f32((u32x4)widen_u16(p)); }
  /// The binary16 bits in the low half of each int32 lane, as f32 (exact; the high half is ignored).
  static vf f16_lanes_to_f32(vi v) noexcept { return f16_bits_to_f32((u32x4)v & 0xffffu); }
  /// Half the UE4M3 scales of `lanes` rows (bytes p[0..lanes)), as ggml::detail::ue4m3_half_to_f32:
  /// the 7 low bits shifted left by 7 are the fp16 of the scale times 2^-8, so h = fp16 * 2^7; the
  /// byte 0x7f reads as 0.
  static vf ue4m3_half(const std::uint8_t* p) noexcept {
    const u32x4 v = (u32x4)widen_u8(p);
    const vf h = f16_bits_to_f32((v & 0x7fu) << 7) * 128.0f;
    return (vf)((vi)h & (vi)(v != 0x7fu));
  }
  /// Per lane: table[idx & 15] of a 16-entry f32 table (the contract is idx 0..15).
  static vf lookup16_f32(vi idx, const float* table) noexcept {
    return vf{table[idx[0] & 15], table[idx[1] & 15], table[idx[2] & 15], table[idx[3] & 15]};
  }
  /// Per lane: table[idx & 31] of a 32-entry f32 table (the contract is idx 0..31).
  static vf lookup32_f32(vi idx, const float* table) noexcept {
    return vf{table[idx[0] & 31], table[idx[1] & 31], table[idx[2] & 31], table[idx[3] & 31]};
  }
  /// v, with a quiet NaN (0x7fc00000, as avx512 / neon; avx2 writes all-ones) in the lanes where a == b.
  static vf nan_where_equal(vf v, vi a, vi b) noexcept {
    const vi eq = (vi)(a == b);
    return (vf)(((vi)v & ~eq) | (splat_i32(0x7fc00000) & eq));
  }

  // -- ops added by the kernel migrations (one section per kernel family) -----------------------
  // @ops:block_dot
  /// Per int32 lane: v >> s, logical (zeros shifted in), s in 0..31 known at run time.
  static vi srl32_n(vi v, int s) noexcept { return (vi)((u32x4)v >> s); }
  /// Per int32 lane: v << s, s in 0..31 known at run time.
  static vi sll32_n(vi v, int s) noexcept { return (vi)((u32x4)v << s); }
  /// A per-int32-lane condition (all ones or 0 per lane), as the comparisons give it.
  using mask32 = vi;
  /// Per int32 lane: a == b.
  static mask32 cmpeq32(vi a, vi b) noexcept { return (vi)(a == b); }
  /// Per int32 lane: a > b (signed).
  static mask32 cmpgt32(vi a, vi b) noexcept { return (vi)(a > b); }
  /// Per int32 lane: if_true where the lane of m is set, else if_false.
  static vi select32(mask32 m, vi if_true, vi if_false) noexcept { return if_false ^ ((if_true ^ if_false) & m); }
  // @ops:k_quant
  // @ops:parametric
  /// Part h (bytes `bytes h` .. `bytes h + bytes - 1`) of the 64 bytes made of the N bytes at p
  /// repeated (N = 8, 16, 32 or 64; reads N bytes).
  template <int N>
  static vi repeat(const void* p, std::size_t h) noexcept {
    static_assert(N == 8 || N == 16 || N == 32 || N == 64);
    if constexpr (N >= 16) {
      return load(static_cast<const std::uint8_t*>(p) + (16 * h) % N);
    } else {
      (void)h;
      std::uint64_t q;
      std::memcpy(&q, p, 8);
      typedef std::uint64_t u64x2 __attribute__((vector_size(16)));
      return (vi)(u64x2{q, q});
    }
  }
  /// Per 64-bit lane: v >> count (logical; counts 0..63).
  static vi srlv64(vi v, vi count) noexcept {
    typedef std::uint64_t u64x2 __attribute__((vector_size(16)));
    return (vi)((u64x2)v >> ((u64x2)count & 63u));
  }
  /// Signed int8 weights stored in offset binary (`w ^ 0x80`) to s8 operand form (here w).
  static vi from_offset_s8(vi v) noexcept { return (vi)((u8x16)v ^ 0x80u); }
  /// acc + Σ_{j<8} Σ_{b<4} c[j].byte(4 r + b) x[4 j + b] per int32 lane r: unsigned codes c <= 15,
  /// the 32 int8 at x; exact in int32.
  static vi dot32_u4(vi acc, const vi* c, const void* x) noexcept {
    std::int32_t xw[8];
    std::memcpy(xw, x, 32);
    for (int j = 0; j < 8; ++j) acc = dot4_u8(acc, c[j], xw[j]);
    return acc;
  }
  /// Per lane: table[idx & 15] of a 16-entry f32 table, any idx.
  static vf lookup16_f32_low4(vi idx, const float* table) noexcept { return lookup16_f32(idx, table); }
  /// Per lane: table[idx & 31] of a 32-entry f32 table, any idx.
  static vf lookup32_f32_low5(vi idx, const float* table) noexcept { return lookup32_f32(idx, table); }
  /// `lanes` FP8 E4M3 bytes at p as f32 e4m3(q) / 2^8, exactly: the f16 with the byte's sign at
  /// bit 15, its 4 exponent bits at bits 13..10 and 3 mantissa bits at 9..7, converted; the NaN
  /// codes 0x7f / 0xff read as ±480 / 2^8.
  static vf e4m3_to_f32_over_256(const std::uint8_t* p) noexcept {
    const u32x4 b = (u32x4)widen_u8(p);
    return f16_bits_to_f32(((b & 0x80u) << 8) | ((b & 0x7fu) << 7));
  }
  // @ops:q4_q8
  /// The number of architectural vector registers assumed (16, as x86-64's SSE2 file): the
  /// register-blocking budget of a kernel.
  static constexpr int vector_registers = 16;
  // @ops:float_sparse
  /// a / b correctly rounded, per lane.
  static vf div(vf a, vf b) noexcept { return a / b; }
  /// Each lane rounded to the nearest binary16 value (ties to even; beyond 65504 to infinity; NaN
  /// stays NaN, quieted, its payload's top bits kept, as `vcvtps2ph`), as f32.
  static vf round_f16(vf v) noexcept {
    return f16_bits_to_f32(
        u32x4{f32_to_f16_bits(v[0]), f32_to_f16_bits(v[1]), f32_to_f16_bits(v[2]), f32_to_f16_bits(v[3])});
  }
  /// The sum of the lanes by halving: (l0 + l2) + (l1 + l3).
  static float sum_halves_f32(vf v) noexcept { return (v[0] + v[2]) + (v[1] + v[3]); }
  /// Lane l = p[l / 4] (reads lanes / 4 floats: here p[0]).
  static vf splat_quads_f32(const float* p) noexcept { return splat_f32(p[0]); }
  /// Signed int8 a prepared for dot4_ss (here the bytes themselves).
  using ss_operand = vi;
  static ss_operand operand_ss(vi a) noexcept { return a; }
  /// acc + Σ_j a[j] b[j] over the 4 bytes of each lane, a and b signed int8, exact in int32.
  static vi dot4_ss(vi acc, const ss_operand& a, vi b) noexcept {
    vi sum = zero();
    for (int j = 0; j < 4; ++j) sum += ((vi)((u32x4)a << (24 - 8 * j)) >> 24) * ((vi)((u32x4)b << (24 - 8 * j)) >> 24);
    return add32(acc, sum);
  }
  /// 2:4 gather offsets of 16 kept values from their 4 index bytes at `meta` (2 bits per kept value
  /// t, little-endian), per 32 dense columns (1 block): byte t = (t / 2) * 4 + p_t in [0, 32).
  static vi nm24_offsets(const std::uint8_t* meta) noexcept {
    u8x16 out;
    for (int t = 0; t < 16; ++t)
      out[t] = static_cast<std::uint8_t>((t / 2) * 4 + ((meta[t / 4] >> (2 * (t % 4))) & 3u));
    return (vi)out;
  }
  /// The activation codes the kept values select: byte t = x[offset t], x: the block's 32 codes.
  static vi nm24_gather(const std::int8_t* x, vi offsets) noexcept {
    const u8x16 o = (u8x16)offsets;
    s8x16 out;
    for (int t = 0; t < 16; ++t) out[t] = x[o[t] & 31];
    return (vi)out;
  }
  /// True where the target has bf16 dot products (`bf16_pairs`, `dot_bf16` exist).
  static constexpr bool has_bf16_dot = false;
  /// f as binary16 bits (round to nearest even; overflow to infinity; NaN quieted, payload's top bits).
  static std::uint32_t f32_to_f16_bits(float f) noexcept {
    std::uint32_t x;
    std::memcpy(&x, &f, 4);
    const std::uint32_t sign = (x >> 16) & 0x8000u, ax = x & 0x7fffffffu;
    if (ax > 0x7f800000u) return sign | 0x7e00u | ((ax >> 13) & 0x3ffu);
    if (ax >= 0x477ff000u) return sign | 0x7c00u;  // >= 65520 rounds to infinity
    if (ax >= 0x38800000u) return sign | ((ax - 0x38000000u + 0xfffu + ((ax >> 13) & 1u)) >> 13);
    const std::uint32_t e = ax >> 23;
    if (e < 102) return sign;  // below 2^-25: rounds to 0
    const std::uint32_t mant = (ax & 0x7fffffu) | 0x800000u, shift = 126 - e;
    std::uint32_t r = mant >> shift;
    const std::uint32_t rem = mant & ((1u << shift) - 1u), half = 1u << (shift - 1);
    if (rem > half || (rem == half && (r & 1u))) ++r;
    return sign | r;
  }

 private:
  /// -1 in the bytes of src whose bit Bit is set, else 0.
  template <int Bit>
  static vi bit_mask(vi src) noexcept {
    return (vi)(((u8x16)src & static_cast<std::uint8_t>(1u << Bit)) != 0);
  }
  /// Signed byte j of the dword x.
  static std::int32_t byte_s8(std::int32_t x, int j) noexcept {
    return static_cast<std::int8_t>(static_cast<std::uint32_t>(x) >> (8 * j));
  }
  /// binary16 bits (one per uint32 lane, high half 0) as f32: normals by rebiasing the exponent,
  /// subnormals as m 2^-24 (exact), Inf and NaN with the exponent all ones (NaN quieted).
  static vf f16_bits_to_f32(u32x4 h) noexcept {
    const u32x4 sign = (h & 0x8000u) << 16;
    const u32x4 em = h & 0x7fffu;
    const u32x4 e = em >> 10;
    const u32x4 normal = (em << 13) + ((127u - 15u) << 23);
    const u32x4 special = (em << 13) | 0x7f800000u | ((u32x4)((h & 0x3ffu) != 0) & 0x00400000u);
    const u32x4 sub = (u32x4)(__builtin_convertvector((vi)(h & 0x3ffu), vf) * 0x1p-24f);
    const u32x4 is_sub = (u32x4)(e == 0);
    const u32x4 is_special = (u32x4)(e == 31);
    const u32x4 mag = (sub & is_sub) | (special & is_special) | (normal & ~(is_sub | is_special));
    return (vf)(sign | mag);
  }
};

}  // namespace lowbit::simd_detail::isa

#endif
