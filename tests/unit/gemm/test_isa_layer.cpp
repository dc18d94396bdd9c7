// SPDX-License-Identifier: Apache-2.0
// Copyright lowbit contributors
// The ISA layer (include/lowbit/backend/simd/isa/): every operation of the struct this translation
// unit's target selects (AVX-512 VNNI natively, AVX2 in the _avx2 program, NEON under qemu, the
// portable baseline without -march) against a scalar statement of its documented semantics, on
// random registers and the edge values (0x00, 0x7f, 0x80, 0xff bytes; -128, 127; NaN, infinities).

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <random>

#include "catch.hpp"
#include "lowbit/backend/simd/isa/isa.hpp"
#include "lowbit/core/fp16.hpp"
#include "lowbit/formats/ggml/nvfp4.hpp"

namespace {

using I = lowbit::simd_detail::isa_ops<xsimd::default_arch>;
using vi = I::vi;
using vf = I::vf;
constexpr std::size_t nb = I::bytes;
constexpr std::size_t nl = I::lanes;
static_assert(lowbit::simd_detail::simd_isa<I>);

using bytes_t = std::array<std::uint8_t, nb>;

std::mt19937& rng() {
  static std::mt19937 r(12345);
  return r;
}

/// Random bytes, with the edge values planted in the first rounds.
bytes_t random_bytes(int round, unsigned max = 255) {
  bytes_t b{};
  static constexpr std::uint8_t edges[] = {0x00, 0x7f, 0x80, 0xff, 0x01, 0xfe};
  for (std::size_t i = 0; i < nb; ++i) {
    if (round < 6 && i % 3 == 0) {
      b[i] = static_cast<std::uint8_t>(edges[(round + i) % 6] % (max + 1));
    } else {
      b[i] = static_cast<std::uint8_t>(rng()() % (max + 1));
    }
  }
  return b;
}

vi to_vi(const bytes_t& b) { return I::load(b.data()); }
bytes_t bytes_of(vi v) {
  bytes_t b{};
  I::store(b.data(), v);
  return b;
}
std::int32_t lane32(const bytes_t& b, std::size_t l) {
  std::int32_t v;
  std::memcpy(&v, b.data() + 4 * l, 4);
  return v;
}
std::uint16_t lane16(const bytes_t& b, std::size_t l) {
  std::uint16_t v;
  std::memcpy(&v, b.data() + 2 * l, 2);
  return v;
}
std::array<float, nl> floats_of(vf v) {
  std::array<float, nl> f{};
  I::store_f32(f.data(), v);
  return f;
}
std::uint32_t bits(float f) {
  std::uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
}
/// Same value, NaN for NaN (payloads aside), +0 vs -0 distinguished.
bool same_float(float a, float b) { return std::isnan(a) ? std::isnan(b) : bits(a) == bits(b); }

constexpr int rounds = 64;

}  // namespace

TEST_CASE("isa layer: loads, splats, widening", "[isa]") {
  INFO("isa " << I::name);
  for (int r = 0; r < rounds; ++r) {
    const bytes_t a = random_bytes(r);
    CHECK(bytes_of(to_vi(a)) == a);
    const bytes_t z = bytes_of(I::zero());
    for (auto v : z) CHECK(v == 0);
    const std::uint8_t c = a[0];
    for (auto v : bytes_of(I::splat_u8(c))) CHECK(v == c);
    const auto h = static_cast<std::int16_t>(lane16(a, 0));
    const bytes_t s16 = bytes_of(I::splat_i16(h));
    for (std::size_t l = 0; l < nb / 2; ++l) CHECK(lane16(s16, l) == static_cast<std::uint16_t>(h));
    const std::int32_t d = lane32(a, 0);
    const bytes_t s32 = bytes_of(I::splat_i32(d));
    for (std::size_t l = 0; l < nl; ++l) CHECK(lane32(s32, l) == d);
    const bytes_t s16b = bytes_of(I::splat16(a.data()));
    for (std::size_t i = 0; i < nb; ++i) CHECK(s16b[i] == a[i % 16]);
    const bytes_t wu8 = bytes_of(I::widen_u8(a.data()));
    const bytes_t ws8 = bytes_of(I::widen_s8(a.data()));
    const bytes_t wu16 = bytes_of(I::widen_u16(a.data()));
    for (std::size_t l = 0; l < nl; ++l) {
      CHECK(lane32(wu8, l) == a[l]);
      CHECK(lane32(ws8, l) == static_cast<std::int8_t>(a[l]));
      CHECK(lane32(wu16, l) == lane16(a, l));
    }
    const float fval = std::ldexp(static_cast<float>(d % 1000), -3);
    for (float v : floats_of(I::splat_f32(fval))) CHECK(bits(v) == bits(fval));
    for (float v : floats_of(I::zero_f32())) CHECK(bits(v) == 0u);
  }
}

TEST_CASE("isa layer: bitwise, shifts, integer arithmetic", "[isa]") {
  INFO("isa " << I::name);
  for (int r = 0; r < rounds; ++r) {
    const bytes_t a = random_bytes(r), b = random_bytes(r + 1000);
    const bytes_t v_and = bytes_of(I::and_(to_vi(a), to_vi(b)));
    const bytes_t v_or = bytes_of(I::or_(to_vi(a), to_vi(b)));
    const bytes_t v_xor = bytes_of(I::xor_(to_vi(a), to_vi(b)));
    const bytes_t v_add8 = bytes_of(I::add8(to_vi(a), to_vi(b)));
    const bytes_t v_sub8 = bytes_of(I::sub8(to_vi(a), to_vi(b)));
    for (std::size_t i = 0; i < nb; ++i) {
      CHECK(v_and[i] == (a[i] & b[i]));
      CHECK(v_or[i] == (a[i] | b[i]));
      CHECK(v_xor[i] == (a[i] ^ b[i]));
      CHECK(v_add8[i] == static_cast<std::uint8_t>(a[i] + b[i]));
      CHECK(v_sub8[i] == static_cast<std::uint8_t>(a[i] - b[i]));
    }
    const bytes_t r16 = bytes_of(I::srl16<3>(to_vi(a)));
    const bytes_t l16 = bytes_of(I::sll16<5>(to_vi(a)));
    for (std::size_t l = 0; l < nb / 2; ++l) {
      CHECK(lane16(r16, l) == static_cast<std::uint16_t>(lane16(a, l) >> 3));
      CHECK(lane16(l16, l) == static_cast<std::uint16_t>(lane16(a, l) << 5));
    }
    const bytes_t r32 = bytes_of(I::srl32<7>(to_vi(a)));
    const bytes_t l32 = bytes_of(I::sll32<16>(to_vi(a)));
    const bytes_t add32 = bytes_of(I::add32(to_vi(a), to_vi(b)));
    const bytes_t sub32 = bytes_of(I::sub32(to_vi(a), to_vi(b)));
    const bytes_t mul32 = bytes_of(I::mullo32(to_vi(a), to_vi(b)));
    for (std::size_t l = 0; l < nl; ++l) {
      const auto ua = static_cast<std::uint32_t>(lane32(a, l)), ub = static_cast<std::uint32_t>(lane32(b, l));
      CHECK(static_cast<std::uint32_t>(lane32(r32, l)) == (ua >> 7));
      CHECK(static_cast<std::uint32_t>(lane32(l32, l)) == (ua << 16));
      CHECK(static_cast<std::uint32_t>(lane32(add32, l)) == ua + ub);
      CHECK(static_cast<std::uint32_t>(lane32(sub32, l)) == ua - ub);
      CHECK(static_cast<std::uint32_t>(lane32(mul32, l)) == ua * ub);
    }
    // Comparisons and select: a lane of b equal to a's in every fourth lane.
    bytes_t c = b;
    for (std::size_t l = 0; l < nl; l += 4) std::memcpy(c.data() + 4 * l, a.data() + 4 * l, 4);
    const bytes_t max32 = bytes_of(I::select32(I::cmpgt32(to_vi(a), to_vi(c)), to_vi(a), to_vi(c)));
    const bytes_t eq32 = bytes_of(I::select32(I::cmpeq32(to_vi(a), to_vi(c)), to_vi(b), I::zero()));
    for (std::size_t l = 0; l < nl; ++l) {
      CHECK(lane32(max32, l) == std::max(lane32(a, l), lane32(c, l)));
      CHECK(lane32(eq32, l) == (lane32(a, l) == lane32(c, l) ? lane32(b, l) : 0));
    }
  }
}

TEST_CASE("isa layer: byte shuffles and decoding", "[isa]") {
  INFO("isa " << I::name);
  const auto bias = static_cast<std::uint8_t>(I::s8_bias);
  for (int r = 0; r < rounds; ++r) {
    const bytes_t t = random_bytes(r), idx = random_bytes(r + 7, 15), y = random_bytes(r + 9);
    const bytes_t look = bytes_of(I::lookup16(I::splat16(t.data()), to_vi(idx)));
    for (std::size_t i = 0; i < nb; ++i) CHECK(look[i] == t[idx[i]]);
    std::array<std::int8_t, 16> values{};
    std::memcpy(values.data(), t.data(), 16);
    const bytes_t tab = bytes_of(I::lookup16(I::table_s8(values.data()), to_vi(idx)));
    const bytes_t biased = bytes_of(I::bias_s8(to_vi(y)));
    const auto factor = static_cast<std::int16_t>(static_cast<std::int16_t>(lane16(t, 1)) % 512);
    const bytes_t mul = bytes_of(I::mul_bytes(to_vi(y), factor));
    const bytes_t trit = bytes_of(I::trit(to_vi(y)));
    const bytes_t blend = bytes_of(I::blend_on_bit<3>(to_vi(t), to_vi(idx), to_vi(y)));
    const bytes_t neg = bytes_of(I::negate_on_bit<6>(to_vi(t), to_vi(y)));
    for (std::size_t i = 0; i < nb; ++i) {
      CHECK(tab[i] == static_cast<std::uint8_t>(t[idx[i]] + bias));
      CHECK(biased[i] == static_cast<std::uint8_t>(y[i] + bias));
      CHECK(mul[i] == static_cast<std::uint8_t>(y[i] * factor));
      CHECK(trit[i] == (3 * y[i]) >> 8);
      CHECK(blend[i] == ((t[i] & 8) ? y[i] : idx[i]));
      CHECK(neg[i] == static_cast<std::uint8_t>((t[i] & 64) ? -y[i] : y[i]));
    }
    // apply_signs: magnitudes <= 127, one sign byte (0..255) per int32 lane.
    const bytes_t mag = random_bytes(r + 11, 127);
    bytes_t sign_bytes{};
    for (std::size_t l = 0; l < nl; ++l) sign_bytes[4 * l] = t[l];
    const bytes_t s0 = bytes_of(I::apply_signs<0>(to_vi(mag), to_vi(sign_bytes)));
    const bytes_t s1 = bytes_of(I::apply_signs<1>(to_vi(mag), to_vi(sign_bytes)));
    for (std::size_t i = 0; i < nb; ++i) {
      const std::uint8_t sb = t[i / 4];
      const int j = static_cast<int>(i % 4);
      CHECK(s0[i] == static_cast<std::uint8_t>(((sb >> j) & 1 ? -mag[i] : mag[i]) + bias));
      CHECK(s1[i] == static_cast<std::uint8_t>(((sb >> (4 + j)) & 1 ? -mag[i] : mag[i]) + bias));
    }
  }
}

TEST_CASE("isa layer: codebook gathers", "[isa]") {
  INFO("isa " << I::name);
  std::array<std::uint64_t, 512> grid8{};
  std::array<std::uint32_t, 256> grid4{};
  for (auto& g : grid8) g = (static_cast<std::uint64_t>(rng()()) << 32) | rng()();
  for (auto& g : grid4) g = rng()();
  for (int r = 0; r < rounds; ++r) {
    std::array<std::int32_t, nl> i8{}, i4{};
    for (std::size_t l = 0; l < nl; ++l) {
      i8[l] = static_cast<std::int32_t>(rng()() % grid8.size());
      i4[l] = static_cast<std::int32_t>(rng()() % grid4.size());
    }
    vi lo, hi;
    I::grid8(grid8.data(), I::load(i8.data()), lo, hi);
    const bytes_t blo = bytes_of(lo), bhi = bytes_of(hi), b4 = bytes_of(I::grid4(grid4.data(), I::load(i4.data())));
    for (std::size_t l = 0; l < nl; ++l) {
      CHECK(static_cast<std::uint32_t>(lane32(blo, l)) == static_cast<std::uint32_t>(grid8[i8[l]]));
      CHECK(static_cast<std::uint32_t>(lane32(bhi, l)) == static_cast<std::uint32_t>(grid8[i8[l]] >> 32));
      CHECK(static_cast<std::uint32_t>(lane32(b4, l)) == grid4[i4[l]]);
    }
  }
}

// The tile ops exist only where J::has_int8_tiles (a template, so that the other ISAs never instantiate them).
template <class J>
void check_int8_tiles() {
  if constexpr (J::has_int8_tiles) {
    for (int r = 0; r < rounds; ++r) {
      const bytes_t a = random_bytes(r + 21), b = random_bytes(r + 22), c = random_bytes(r + 23);
      const bytes_t acc_b = random_bytes(r + 24);
      bytes_t accb{};
      for (std::size_t l = 0; l < nl; ++l) {
        const std::int32_t small = lane32(acc_b, l) % (1 << 24);
        std::memcpy(accb.data() + 4 * l, &small, 4);
      }
      const auto s8 = [](std::uint8_t v) { return static_cast<std::int8_t>(v); };
      // mmla_s8: lane 2i + j += Σ_k a[8i + k] b[8j + k].
      const bytes_t t = bytes_of(J::mmla_s8(to_vi(accb), to_vi(a), to_vi(b)));
      for (int i = 0; i < 2; ++i) {
        for (int j = 0; j < 2; ++j) {
          std::int64_t e = lane32(accb, 2 * i + j);
          for (int k = 0; k < 8; ++k) e += s8(a[8 * i + k]) * s8(b[8 * j + k]);
          CHECK(lane32(t, 2 * i + j) == e);
        }
      }
      // row_pairs8<H>: rows 2H, 2H + 1, each its 4 bytes of the first register then of the second.
      for (int half = 0; half < 2; ++half) {
        const bytes_t p = bytes_of(half == 0 ? J::template row_pairs8<0>(to_vi(a), to_vi(b))
                                             : J::template row_pairs8<1>(to_vi(a), to_vi(b)));
        for (int row = 0; row < 2; ++row) {
          for (int k = 0; k < 4; ++k) {
            CHECK(p[8 * row + k] == a[4 * (2 * half + row) + k]);
            CHECK(p[8 * row + 4 + k] == b[4 * (2 * half + row) + k]);
          }
        }
      }
      // act_pairs8: 8 bytes of each pointer.
      const bytes_t x = bytes_of(J::act_pairs8(a.data() + 3, c.data() + 5));
      for (int k = 0; k < 8; ++k) {
        CHECK(x[k] == a[3 + k]);
        CHECK(x[8 + k] == c[5 + k]);
      }
      // tile_row<R>: {t01[2R], t01[2R + 1], t23[2R], t23[2R + 1]}.
      for (int row = 0; row < 2; ++row) {
        const bytes_t tr = bytes_of(row == 0 ? J::template tile_row<0>(to_vi(a), to_vi(b))
                                             : J::template tile_row<1>(to_vi(a), to_vi(b)));
        CHECK(lane32(tr, 0) == lane32(a, 2 * row));
        CHECK(lane32(tr, 1) == lane32(a, 2 * row + 1));
        CHECK(lane32(tr, 2) == lane32(b, 2 * row));
        CHECK(lane32(tr, 3) == lane32(b, 2 * row + 1));
      }
    }
  } else {
    SUCCEED("this ISA has no int8 matrix tiles: kernels take the dot-product path");
  }
}

TEST_CASE("isa layer: 2x2 int8 matrix tiles", "[isa]") {
  INFO("isa " << I::name);
  check_int8_tiles<I>();
}

TEST_CASE("isa layer: integer dot products", "[isa]") {
  INFO("isa " << I::name);
  for (int r = 0; r < rounds; ++r) {
    const bytes_t acc_b = random_bytes(r + 3);
    bytes_t accb{};
    for (std::size_t l = 0; l < nl; ++l) {
      const std::int32_t small = lane32(acc_b, l) % (1 << 24);
      std::memcpy(accb.data() + 4 * l, &small, 4);
    }
    const bytes_t c127 = random_bytes(r, 127), c63 = random_bytes(r + 5, 63), c63b = random_bytes(r + 6, 63);
    // Activations in [-127, 127] (the quantizers' range).
    bytes_t xb = random_bytes(r + 8);
    for (auto& v : xb) v = (v == 0x80) ? 0x81 : v;
    const std::int32_t x0 = lane32(xb, 0), x1 = lane32(xb, 1);
    const auto xs = [&](std::int32_t x, int j) {
      return static_cast<std::int8_t>((static_cast<std::uint32_t>(x) >> (8 * j)) & 0xff);
    };
    const bytes_t d4 = bytes_of(I::dot4_u8(to_vi(accb), to_vi(c127), x0));
    const bytes_t d8 = bytes_of(I::dot8_u8(to_vi(accb), to_vi(c63), to_vi(c63b), x0, x1));
    // s8 weights in operand form (w + s8_bias), w in [-128, 127].
    const bytes_t w = random_bytes(r + 13);
    const bytes_t ds8 = bytes_of(I::dot4_s8(to_vi(accb), I::operand_s8(I::bias_s8(to_vi(w))), x0));
    const bytes_t wp = random_bytes(r + 17);
    const bytes_t dp = bytes_of(I::dot_pairs_i16(to_vi(accb), to_vi(wp), x1));
    for (std::size_t l = 0; l < nl; ++l) {
      std::int64_t e4 = lane32(accb, l), e8 = lane32(accb, l), es8 = lane32(accb, l), ep = lane32(accb, l);
      for (int j = 0; j < 4; ++j) {
        e4 += c127[4 * l + j] * xs(x0, j);
        e8 += c63[4 * l + j] * xs(x0, j) + c63b[4 * l + j] * xs(x1, j);
        es8 += (static_cast<std::int8_t>(w[4 * l + j]) + I::s8_bias) * xs(x0, j);
      }
      for (int j = 0; j < 2; ++j) {
        const auto wv = static_cast<std::int16_t>(lane16(wp, 2 * l + j));
        const auto xv = static_cast<std::int16_t>(static_cast<std::uint32_t>(x1) >> (16 * j));
        ep += static_cast<std::int64_t>(wv) * xv;
      }
      CHECK(lane32(d4, l) == e4);
      CHECK(lane32(d8, l) == e8);
      CHECK(lane32(ds8, l) == es8);
      CHECK(lane32(dp, l) == static_cast<std::int32_t>(static_cast<std::uint32_t>(ep)));
    }
  }
}

TEST_CASE("isa layer: float operations and conversions", "[isa]") {
  INFO("isa " << I::name);
  std::normal_distribution<float> nd(0.0f, 100.0f);
  for (int r = 0; r < rounds; ++r) {
    std::array<float, nl> a{}, b{}, c{};
    for (std::size_t l = 0; l < nl; ++l) {
      a[l] = nd(rng());
      b[l] = nd(rng());
      c[l] = nd(rng());
    }
    if (r < 4) {
      a[0] = std::numeric_limits<float>::infinity();
      b[nl - 1] = std::numeric_limits<float>::quiet_NaN();
      c[1 % nl] = -0.0f;
    }
    const vf va = I::load_f32(a.data()), vb = I::load_f32(b.data()), vc = I::load_f32(c.data());
    const auto add = floats_of(I::add(va, vb)), sub = floats_of(I::sub(va, vb)), mul = floats_of(I::mul(va, vb));
    const auto fma = floats_of(I::fmadd(va, vb, vc)), fnma = floats_of(I::fnmadd(va, vb, vc));
    for (std::size_t l = 0; l < nl; ++l) {
      CHECK(same_float(add[l], a[l] + b[l]));
      CHECK(same_float(sub[l], a[l] - b[l]));
      CHECK(same_float(mul[l], a[l] * b[l]));
      CHECK(same_float(fma[l], std::fma(a[l], b[l], c[l])));
      CHECK(same_float(fnma[l], std::fma(-a[l], b[l], c[l])));
    }
    const bytes_t ib = random_bytes(r);
    const auto cv = floats_of(I::to_f32(to_vi(ib)));
    const auto asf = floats_of(I::as_f32(to_vi(ib)));
    CHECK(bytes_of(I::as_i32(I::as_f32(to_vi(ib)))) == ib);
    for (std::size_t l = 0; l < nl; ++l) {
      CHECK(bits(cv[l]) == bits(static_cast<float>(lane32(ib, l))));
      CHECK(bits(asf[l]) == static_cast<std::uint32_t>(lane32(ib, l)));
    }
    // Every binary16 pattern class: random bits, then the f16 of each lane via the load form.
    const auto h = floats_of(I::f16_to_f32(ib.data()));
    const auto hl = floats_of(I::f16_lanes_to_f32(I::and_(to_vi(ib), I::splat_i32(0xffff))));
    const auto ue = floats_of(I::ue4m3_half(ib.data()));
    for (std::size_t l = 0; l < nl; ++l) {
      CHECK(same_float(h[l], lowbit::fp16_to_f32(lane16(ib, l))));
      CHECK(same_float(hl[l], lowbit::fp16_to_f32(static_cast<std::uint16_t>(lane32(ib, l)))));
      CHECK(same_float(ue[l], lowbit::ggml::detail::ue4m3_half_to_f32(ib[l])));
    }
    std::array<float, 32> table{};
    for (auto& t : table) t = nd(rng());
    std::array<std::int32_t, nl> i16{}, i32{};
    for (std::size_t l = 0; l < nl; ++l) {
      i16[l] = static_cast<std::int32_t>(rng()() % 16);
      i32[l] = static_cast<std::int32_t>(rng()() % 32);
    }
    const auto l16 = floats_of(I::lookup16_f32(I::load(i16.data()), table.data()));
    const auto l32 = floats_of(I::lookup32_f32(I::load(i32.data()), table.data()));
    const auto nan = floats_of(I::nan_where_equal(va, I::load(i16.data()), I::load(i32.data())));
    for (std::size_t l = 0; l < nl; ++l) {
      CHECK(bits(l16[l]) == bits(table[i16[l]]));
      CHECK(bits(l32[l]) == bits(table[i32[l]]));
      if (i16[l] == i32[l]) {
        CHECK(std::isnan(nan[l]));
      } else {
        CHECK(same_float(nan[l], a[l]));
      }
    }
  }
}
