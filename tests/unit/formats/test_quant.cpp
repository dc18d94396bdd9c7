// SPDX-License-Identifier: Apache-2.0
// Copyright lowbit contributors
// Parametric formats quant<Code, Scale, Granularity, ZeroPoint>: the codes exhaustively (decode tables,
// encode == brute-force nearest), then laws over a list of configurations (pack/unpack identity,
// dequantize(quantize(x)) within half a code step, exact zeros, clip search never worse than
// round-to-nearest, reference GEMM == f32 GEMM of the dequantized matrix), then bad input.

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <tuple>
#include <vector>

#include "catch.hpp"
#include "lowbit/formats/quant/codes.hpp"
#include "lowbit/formats/quant/group_format.hpp"
#include "lowbit/formats/quant/packing.hpp"
#include "lowbit/formats/quant/quant.hpp"
#include "lowbit/gemm/reference.hpp"
#include "lowbit/quant/quantize.hpp"
#include "lowbit/gemm/quantized_gemm.hpp"
#include "lowbit/quant/quantized_matrix.hpp"

namespace {

using lowbit::errc;

template <class F>
errc error_code_of(F&& f) {
  try {
    f();
  } catch (const lowbit::error& e) {
    return e.code();
  }
  FAIL("no lowbit::error thrown");
  return errc::unsupported;
}

// The distinct finite values of a code, ascending.
template <class C>
std::vector<float> code_values() {
  std::vector<float> v;
  for (unsigned r = 0; r < (1u << C::bits); ++r) {
    const float x = C::decode(static_cast<std::uint8_t>(r));
    if (std::isfinite(x)) v.push_back(x);
  }
  std::sort(v.begin(), v.end());
  v.erase(std::unique(v.begin(), v.end()), v.end());
  return v;
}

// Brute force over all raw codes: nearest finite value, ties to the even raw code; clamps outside.
// Distances are compared through the midpoint (a + b) / 2, exact in double, so that a probe one
// float step off a midpoint is not mistaken for a tie.
template <class C>
float brute_force_value(float v) {
  float best = 0.0f;
  bool have = false;
  bool best_even = false;
  for (unsigned r = 0; r < (1u << C::bits); ++r) {
    const float x = C::decode(static_cast<std::uint8_t>(r));
    if (!std::isfinite(x)) continue;
    const bool even = (r & 1u) == 0;
    if (!have) {
      best = x;
      best_even = even;
      have = true;
      continue;
    }
    if (x == best) {
      if (even && !best_even) best_even = true;
      continue;
    }
    const double mid = (static_cast<double>(x) + best) / 2;
    const bool x_closer = x < best ? v < mid : v > mid;
    if (x_closer || (v == mid && even && !best_even)) {
      best = x;
      best_even = even;
    }
  }
  return best;
}

template <class C>
void check_encode_is_nearest(std::uint32_t seed) {
  const std::vector<float> values = code_values<C>();
  std::vector<float> probes;
  for (std::size_t i = 0; i + 1 < values.size(); ++i) {
    const float mid = values[i] + (values[i + 1] - values[i]) / 2;
    probes.insert(probes.end(), {values[i], mid, std::nextafter(mid, values[i]), std::nextafter(mid, values[i + 1])});
  }
  probes.insert(probes.end(), {values.back(), values.front() - 1.0f, values.back() + 1.0f, -0.0f, 0.0f});
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> d(values.front() * 1.25f - 1.0f, values.back() * 1.25f + 1.0f);
  for (int i = 0; i < 4000; ++i) probes.push_back(d(rng));
  for (const float p : probes) {
    INFO(C::name << " " << C::bits << " bits, v = " << p);
    const std::uint8_t raw = C::encode(p);
    CHECK(raw < (1u << C::bits));
    CHECK(C::decode(raw) == brute_force_value<C>(p));
  }
}

}  // namespace

TEST_CASE("quant codes: integer decode tables for 2..8 bits", "[quant][codes]") {
  auto check_int = []<int B>(std::integral_constant<int, B>) {
    using u = lowbit::int_code<B, false>;
    using s = lowbit::int_code<B, true>;
    for (int r = 0; r < (1 << B); ++r) {
      const auto raw = static_cast<std::uint8_t>(r);
      CHECK(u::decode(raw) == static_cast<float>(r));
      const int twos = r >= (1 << (B - 1)) ? r - (1 << B) : r;  // two's complement of B bits
      CHECK(s::decode(raw) == static_cast<float>(twos));
      CHECK(s::encode(static_cast<float>(twos)) == raw);
      CHECK(u::encode(static_cast<float>(r)) == raw);
    }
    CHECK(u::min_value() == 0.0f);
    CHECK(u::max_value() == static_cast<float>((1 << B) - 1));
    CHECK(s::min_value() == -static_cast<float>(1 << (B - 1)));
    CHECK(s::max_value() == static_cast<float>((1 << (B - 1)) - 1));
    check_encode_is_nearest<u>(B);
    check_encode_is_nearest<s>(B + 100);
  };
  check_int(std::integral_constant<int, 2>{});
  check_int(std::integral_constant<int, 3>{});
  check_int(std::integral_constant<int, 4>{});
  check_int(std::integral_constant<int, 5>{});
  check_int(std::integral_constant<int, 6>{});
  check_int(std::integral_constant<int, 7>{});
  check_int(std::integral_constant<int, 8>{});
  // Round half to even on the integers.
  using i4 = lowbit::int_code<4, true>;
  CHECK(i4::decode(i4::encode(2.5f)) == 2.0f);
  CHECK(i4::decode(i4::encode(3.5f)) == 4.0f);
  CHECK(i4::decode(i4::encode(-2.5f)) == -2.0f);
  CHECK(i4::decode(i4::encode(-7.5f)) == -8.0f);
  CHECK(i4::decode(i4::encode(-100.0f)) == -8.0f);
  CHECK(i4::decode(i4::encode(100.0f)) == 7.0f);
}

TEST_CASE("quant codes: binary, ternary, nf4 and float tables", "[quant][codes]") {
  CHECK(lowbit::binary::decode(0) == 1.0f);
  CHECK(lowbit::binary::decode(1) == -1.0f);
  CHECK(lowbit::binary::encode(0.0f) == 0);
  CHECK(lowbit::binary::encode(-1e-30f) == 1);
  check_encode_is_nearest<lowbit::binary>(1);

  const float ternary_table[4] = {-1.0f, 0.0f, 1.0f, 0.0f};
  for (std::uint8_t r = 0; r < 4; ++r) CHECK(lowbit::ternary::decode(r) == ternary_table[r]);
  CHECK(lowbit::ternary::encode(0.5f) == 2);
  CHECK(lowbit::ternary::encode(-0.5f) == 0);
  CHECK(lowbit::ternary::encode(0.49f) == 1);
  check_encode_is_nearest<lowbit::ternary>(2);

  // QLoRA NF4 (arXiv:2305.14314 appendix E; bitsandbytes functional.py), written out again here.
  const double nf4_table[16] = {-1.0,
                                -0.6961928009986877,
                                -0.5250730514526367,
                                -0.39491748809814453,
                                -0.28444138169288635,
                                -0.18477343022823334,
                                -0.09105003625154495,
                                0.0,
                                0.07958029955625534,
                                0.16093020141124725,
                                0.24611230194568634,
                                0.33791524171829224,
                                0.44070982933044434,
                                0.5626170039176941,
                                0.7229568362236023,
                                1.0};
  for (std::uint8_t r = 0; r < 16; ++r) CHECK(lowbit::nf4::decode(r) == static_cast<float>(nf4_table[r]));
  check_encode_is_nearest<lowbit::nf4>(3);

  const float e2m1[16] = {0.0f,  0.5f,  1.0f,  1.5f,  2.0f,  3.0f,  4.0f,  6.0f,
                          -0.0f, -0.5f, -1.0f, -1.5f, -2.0f, -3.0f, -4.0f, -6.0f};
  for (std::uint8_t r = 0; r < 16; ++r) CHECK(lowbit::fp4_e2m1::decode(r) == e2m1[r]);
  check_encode_is_nearest<lowbit::fp4_e2m1>(4);
  check_encode_is_nearest<lowbit::fp6_e2m3>(5);
  check_encode_is_nearest<lowbit::fp6_e3m2>(6);
  check_encode_is_nearest<lowbit::fp8_e4m3>(7);
  check_encode_is_nearest<lowbit::fp8_e5m2>(8);
  for (unsigned r = 0; r < 256; ++r) {
    const auto raw = static_cast<std::uint8_t>(r);
    const float a = lowbit::fp8_e4m3::decode(raw);
    CHECK((a == lowbit::fp8_e4m3_to_f32(raw) || std::isnan(a)));
  }
  CHECK(lowbit::fp8_e4m3::max_value() == 448.0f);
  CHECK(lowbit::fp8_e5m2::min_value() == -57344.0f);
  CHECK(lowbit::fp8_e4m3::encode(1e6f) == 0x7e);                                     // saturates
  CHECK(lowbit::fp8_e5m2::encode(-1e6f) == 0xfb);                                    // never inf
  CHECK(lowbit::fp8_e4m3::encode(std::numeric_limits<float>::quiet_NaN()) == 0x00);  // never a NaN code
}

TEST_CASE("quant: policy members re-export the parameters", "[quant]") {
  using q = lowbit::quant<lowbit::int_code<4, false>, lowbit::scale_f16, lowbit::per_group<128>, lowbit::asymmetric>;
  STATIC_REQUIRE(std::is_same_v<q::code_type, lowbit::int_code<4, false>>);
  STATIC_REQUIRE(std::is_same_v<q::scale_type, lowbit::scale_f16>);
  STATIC_REQUIRE(std::is_same_v<q::granularity_type, lowbit::per_group<128>>);
  STATIC_REQUIRE(q::bits == 4);
  STATIC_REQUIRE(q::group_size == 128);
  STATIC_REQUIRE(q::has_zero_point);
  // 4 bits + (16-bit scale + 8-bit zero point) / 128 = 4.1875 bits per weight.
  CHECK(q::bits_per_weight(4096, 4096) == 4.1875);
  using b = lowbit::quant<lowbit::nf4, lowbit::scale_f32, lowbit::per_block<4, 16>>;
  STATIC_REQUIRE(!b::has_zero_point);
  STATIC_REQUIRE(b::group_size == 16 && b::block_rows == 4);
  CHECK(b::bits_per_weight(8, 64) == 4.5);
}

TEST_CASE("quant packing: byte order is LSB first, codes straddle bytes", "[quant][pack]") {
  const std::vector<std::uint8_t> codes = {1, 2, 3, 4, 5, 6, 7, 0};
  std::vector<std::uint8_t> packed(lowbit::packed_bytes(codes.size(), 3));
  lowbit::pack_codes(codes, 3, packed);
  // Bits LSB first: 001 010 011 100 101 110 111 000 -> bytes 0xD1 0x58 0x1F (worked out by hand).
  CHECK(packed == std::vector<std::uint8_t>{0xd1, 0x58, 0x1f});
  std::vector<std::uint8_t> nibbles(2);
  lowbit::pack_codes(std::vector<std::uint8_t>{0x3, 0xa, 0xf}, 4, nibbles);
  CHECK(nibbles == std::vector<std::uint8_t>{0xa3, 0x0f});
  CHECK(error_code_of([&] { lowbit::pack_codes(codes, 3, std::span<std::uint8_t>(packed).first(2)); }) ==
        errc::shape_mismatch);
  CHECK(error_code_of([&] { lowbit::pack_codes(codes, 9, packed); }) == errc::invalid_argument);

  // Every width, odd lengths: pack then unpack is the identity, and the bytes equal an independent
  // bit-by-bit layout.
  std::mt19937 rng(7);
  for (int bits = 1; bits <= 8; ++bits) {
    for (std::size_t count : {1u, 7u, 13u, 64u, 101u}) {
      std::vector<std::uint8_t> raw(count);
      for (auto& r : raw) r = static_cast<std::uint8_t>(rng() & ((1u << bits) - 1u));
      std::vector<std::uint8_t> bytes(lowbit::packed_bytes(count, bits));
      lowbit::pack_codes(raw, bits, bytes);
      std::vector<std::uint8_t> expect(bytes.size(), 0);
      for (std::size_t i = 0; i < count; ++i) {
        for (int b = 0; b < bits; ++b) {
          const std::size_t bit = i * bits + b;
          if ((raw[i] >> b) & 1u) expect[bit / 8] = static_cast<std::uint8_t>(expect[bit / 8] | (1u << (bit % 8)));
        }
      }
      CHECK(bytes == expect);
      std::vector<std::uint8_t> back(count);
      lowbit::unpack_codes(bytes, bits, back);
      CHECK(back == raw);
    }
  }
}

namespace {

using namespace lowbit;  // test file only: keeps the configuration list readable
using quant_configs = std::tuple<quant<int_code<4, false>, scale_f16, per_group<32>, asymmetric>,  //
                                 quant<int_code<8, true>, scale_f32, per_channel>,                 //
                                 quant<int_code<3, true>, scale_bf16, per_group<16>>,              //
                                 quant<int_code<5, false>, scale_f32, per_block<2, 8>, asymmetric>,
                                 quant<int_code<7, true>, scale_f16, per_group<16>, asymmetric>,
                                 quant<int_code<6, false>, scale_fp8_e4m3, per_group<8>, asymmetric>,
                                 quant<int_code<2, true>, scale_e8m0, per_tensor>,  //
                                 quant<binary, scale_f32, per_channel>,             //
                                 quant<ternary, scale_f16, per_group<16>>,          //
                                 quant<nf4, scale_f32, per_group<64>>,              //
                                 quant<fp4_e2m1, scale_e8m0, per_group<32>>,        //
                                 quant<fp8_e4m3, scale_f32, per_channel>,           //
                                 quant<fp8_e5m2, scale_bf16, per_block<4, 16>>>;

struct test_shape {
  std::size_t n;
  std::size_t k;
};

template <class Q>
std::vector<test_shape> shapes_for() {
  std::vector<test_shape> s = {{8, 64}, {4, 192}};
  if constexpr (Q::group_size == 0) s.push_back({5, 37});  // odd K: rows end mid-byte
  return s;
}

// Heavy-tailed values with exact zeros, one all-zero row and one large-magnitude row.
std::vector<float> make_weights(std::size_t n, std::size_t k, std::uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::student_t_distribution<float> tail(3.0f);
  std::vector<float> w(n * k);
  for (std::size_t i = 0; i < w.size(); ++i) w[i] = i % 5 == 0 ? tail(rng) : normal(rng) * 0.5f;
  for (std::size_t i = 0; i < w.size(); i += 7) w[i] = 0.0f;
  for (std::size_t j = 0; j < k; ++j) w[1 * k + j] = 0.0f;
  for (std::size_t j = 0; j < k; ++j) w[(n - 1) * k + j] *= 100.0f;
  return w;
}

// Half the gap between the code values around y (in code units, zero point already added); -1 when
// y lies outside [min, max] (outside the clip range).
float half_gap_around(float y, const std::vector<float>& values) {
  if (y < values.front() || y > values.back()) return -1.0f;
  const auto it = std::lower_bound(values.begin(), values.end(), y);
  if (*it == y) return 0.0f;
  return (*it - *(it - 1)) / 2;
}

}  // namespace

namespace {

// What the law checks need from a quantized matrix, per element (so that the checks themselves are
// not instantiated once per configuration).
struct quantized_values {
  std::vector<float> dequantized;  // (N, K)
  std::vector<float> scale;        // (N, K)
  std::vector<float> zero_point;   // (N, K)
};

template <class Q>
quantized_values values_of(const quantized_matrix<Q>& q) {
  quantized_values v{dequantize(q), {}, {}};
  for (std::size_t n = 0; n < q.rows(); ++n) {
    for (std::size_t k = 0; k < q.cols(); ++k) {
      v.scale.push_back(q.scale(n, k));
      v.zero_point.push_back(static_cast<float>(q.zero_point(n, k)));
    }
  }
  return v;
}

// |dequantize(quantize(x)) - x| <= scale * (half the code gap around x / scale + zero_point), for
// the elements inside the clip range (all of them when `all`, where half a step past the ends is
// allowed); integer codes: <= scale / 2. Zeros stay exactly zero when `zero_exact`.
// Returns the number of elements inside the clip range.
std::size_t check_half_step_law(const std::vector<float>& w, const quantized_values& q,
                                const std::vector<float>& values, bool integer_code, bool zero_exact, bool all) {
  std::size_t inside = 0;
  std::size_t bad = 0;
  std::size_t bad_zero = 0;
  std::size_t first_bad = w.size();
  for (std::size_t i = 0; i < w.size(); ++i) {
    const float x = w[i];
    const float s = q.scale[i];
    const float y = s > 0.0f ? x / s + q.zero_point[i] : 0.0f;
    const float yc = std::clamp(y, values.front(), values.back());
    float h = half_gap_around(yc, values);
    if (y == yc) {
      ++inside;
    } else if (all) {
      h = std::max(h, std::abs(y - yc));
    } else {
      continue;
    }
    if (integer_code) h = std::min(h, 0.5f);
    const float err = std::abs(q.dequantized[i] - x);
    if (!(err <= s * h * (1.0f + 1e-5f) + 1e-6f * std::abs(x))) {
      ++bad;
      first_bad = std::min(first_bad, i);
    }
    if (zero_exact && x == 0.0f && q.dequantized[i] != 0.0f) ++bad_zero;
  }
  INFO("first element past the bound: " << first_bad << " of " << w.size());
  CHECK(bad == 0);
  CHECK(bad_zero == 0);
  return inside;
}

double weighted_error(const quantized_values& q, const std::vector<float>& w, const std::vector<float>& imp) {
  double e = 0.0;
  for (std::size_t i = 0; i < w.size(); ++i) {
    const double diff = static_cast<double>(w[i]) - q.dequantized[i];
    e += imp[i % imp.size()] * diff * diff;
  }
  return e;
}

// y (M, N) against the double-accumulated product of x (M, K) and the dequantized W (N, K), 1e-5 relative.
void check_gemm_result(const std::vector<float>& x, const std::vector<float>& wd, const std::vector<float>& y,
                       std::size_t m, std::size_t n, std::size_t k) {
  std::size_t bad = 0;
  for (std::size_t i = 0; i < m; ++i) {
    for (std::size_t j = 0; j < n; ++j) {
      double want = 0.0;
      double mag = 0.0;
      for (std::size_t kk = 0; kk < k; ++kk) {
        want += static_cast<double>(x[i * k + kk]) * wd[j * k + kk];
        mag += std::abs(static_cast<double>(x[i * k + kk]) * wd[j * k + kk]);
      }
      if (!(std::abs(y[i * n + j] - want) <= 1e-5 * mag + 1e-30)) ++bad;
    }
  }
  CHECK(bad == 0);
}

}  // namespace

TEMPLATE_LIST_TEST_CASE("quant laws: pack, round trip, zeros, clip search, gemm", "[quant][laws]", quant_configs) {
  using Q = TestType;
  using C = typename Q::code_type;
  const std::vector<float> values = code_values<C>();
  const bool code_has_zero = std::find(values.begin(), values.end(), 0.0f) != values.end();
  for (const test_shape sh : shapes_for<Q>()) {
    INFO(C::name << " " << Q::bits << " bits, " << Q::scale_type::name << " scale, " << Q::granularity_type::name
                 << ", " << Q::zero_point_type::name << ", W " << sh.n << " x " << sh.k);
    const std::vector<float> w = make_weights(sh.n, sh.k, static_cast<std::uint32_t>(sh.n * 1000 + sh.k));
    const matrix_view<const float> wv(w.data(), sh.n, sh.k);

    // pack∘unpack: the codes read back are what the packed rows hold, and set_code/code round-trip.
    const quantized_matrix<Q> rtn = quantize<Q>(wv);
    quantized_matrix<Q> copy(sh.n, sh.k);
    std::size_t mismatches = 0;
    std::vector<std::uint8_t> raw(sh.k);
    for (std::size_t n = 0; n < sh.n; ++n) {
      lowbit::unpack_codes(std::span<const std::uint8_t>(rtn.row_codes(n), rtn.row_bytes()), Q::bits, raw);
      for (std::size_t k = 0; k < sh.k; ++k) {
        mismatches += raw[k] != rtn.code(n, k);
        copy.set_code(n, k, raw[k]);
      }
    }
    CHECK(mismatches == 0);
    CHECK(std::equal(copy.codes().begin(), copy.codes().end(), rtn.codes().begin(), rtn.codes().end()));

    // Round to nearest: every element within half a step (the stored scale is rounded up; the zero
    // point keeps min and max within half a step); zeros exact wherever the code has a zero.
    const quantized_values qr = values_of(rtn);
    const std::size_t inside = check_half_step_law(w, qr, values, C::is_integer, code_has_zero, true);
    if constexpr (!Q::has_zero_point) CHECK(inside == sh.n * sh.k);

    // Clip search never loses to round to nearest in importance-weighted squared error, and keeps
    // the half-step law inside its clip range.
    std::mt19937 rng(11);
    std::uniform_real_distribution<float> u(0.0f, 4.0f);
    std::vector<float> imp(sh.k);
    for (auto& i : imp) i = u(rng);
    imp[0] = 0.0f;
    const std::vector<float> ones(sh.k, 1.0f);
    const auto searched = quantize<Q>(wv, {.method = quantize_method::clip_search, .importance = imp});
    const quantized_values qs = values_of(searched);
    const quantized_values qp = values_of(quantize<Q>(wv, {.method = quantize_method::clip_search}));
    const double e_rtn = weighted_error(qr, w, imp);
    const double e_clip = weighted_error(qs, w, imp);
    INFO("weighted squared error: rtn " << e_rtn << ", clip search " << e_clip);
    CHECK(e_clip <= e_rtn * (1.0 + 1e-12));
    CHECK(weighted_error(qp, w, ones) <= weighted_error(qr, w, ones) * (1.0 + 1e-12));
    check_half_step_law(w, qs, values, C::is_integer, code_has_zero, false);

    // Reference GEMM on the quantized matrix == f32 GEMM (double accumulation) on the dequantized one.
    const std::size_t m = 3;
    std::vector<float> x(m * sh.k);
    std::normal_distribution<float> nd(0.0f, 1.0f);
    for (auto& v : x) v = nd(rng);
    std::vector<float> y(m * sh.n, -1.0f);
    gemm<backend::reference>(matrix_view<const float>(x.data(), m, sh.k), searched,
                             matrix_view<float>(y.data(), m, sh.n), threads{2});
    check_gemm_result(x, qs.dequantized, y, m, sh.n, sh.k);
    std::vector<float> yv(sh.n);
    gemv<backend::reference>(x.data(), searched, yv.data());
    CHECK(std::equal(yv.begin(), yv.end(), y.begin()));
  }
}

TEST_CASE("quant: asymmetric min-max scale and zero point by hand", "[quant][asymmetric]") {
  using q = quant<int_code<4, false>, scale_f32, per_group<4>, asymmetric>;
  // Row [-1, 0, 2, 0.5]: range [-1, 2], scale 3/15 = 0.2, zero point round(0 + 1/0.2) = 5.
  const std::vector<float> w = {-1.0f, 0.0f, 2.0f, 0.5f};
  const auto m = quantize<q>(matrix_view<const float>(w.data(), 1, 4));
  CHECK(m.scale(0, 0) == 3.0f / 15.0f);
  CHECK(m.zero_point(0, 0) == 5);
  CHECK(m.code(0, 0) == 0);
  CHECK(m.code(0, 1) == 5);
  CHECK(m.code(0, 2) == 15);
  CHECK(m.code(0, 3) == static_cast<std::uint8_t>(std::nearbyint(0.5f / (3.0f / 15.0f)) + 5));
  // An all-positive group still represents 0 exactly: the range is widened to include it.
  const std::vector<float> p = {1.0f, 2.0f, 3.0f, 4.0f};
  const auto mp = quantize<q>(matrix_view<const float>(p.data(), 1, 4));
  CHECK(mp.zero_point(0, 0) == 0);
  CHECK(dequantize(mp)[3] == 4.0f);
}

TEST_CASE("quant: bad input is a lowbit::error", "[quant][errors]") {
  using g32 = quant<int_code<4, true>, scale_f32, per_group<32>>;
  using blk = quant<int_code<4, true>, scale_f32, per_block<2, 16>>;
  std::vector<float> w(4 * 64, 0.5f);
  CHECK(error_code_of([&] { quantize<g32>(matrix_view<const float>(w.data(), 4, 48)); }) == errc::shape_mismatch);
  CHECK(error_code_of([&] { quantize<blk>(matrix_view<const float>(w.data(), 3, 64)); }) == errc::shape_mismatch);
  CHECK(error_code_of([&] { quantize<g32>(matrix_view<const float>(w.data(), 0, 64)); }) == errc::shape_mismatch);
  CHECK(error_code_of([&] { quantized_matrix<g32>(2, 33); }) == errc::shape_mismatch);
  w[70] = std::numeric_limits<float>::quiet_NaN();
  CHECK(error_code_of([&] { quantize<g32>(matrix_view<const float>(w.data(), 4, 64)); }) == errc::invalid_argument);
  w[70] = -std::numeric_limits<float>::infinity();
  CHECK(error_code_of([&] { quantize<g32>(matrix_view<const float>(w.data(), 4, 64)); }) == errc::invalid_argument);
  try {
    quantize<g32>(matrix_view<const float>(w.data(), 4, 64));
  } catch (const lowbit::error& e) {
    CHECK(std::string(e.what()).find("W(1, 6)") != std::string::npos);
  }
  w[70] = 0.5f;
  const matrix_view<const float> wv(w.data(), 4, 64);
  std::vector<float> imp(63, 1.0f);
  CHECK(error_code_of([&] { quantize<g32>(wv, {.importance = imp}); }) == errc::shape_mismatch);
  imp.push_back(-1.0f);
  CHECK(error_code_of([&] { quantize<g32>(wv, {.importance = imp}); }) == errc::invalid_argument);
  CHECK(error_code_of([&] { quantize<g32>(wv, {.method = quantize_method::clip_search, .clip_steps = 0}); }) ==
        errc::invalid_argument);
  CHECK(error_code_of([&] { quantize<g32>(wv, {.clip_min_ratio = 1.5f}); }) == errc::invalid_argument);

  const auto q = quantize<g32>(wv);
  std::vector<float> x(2 * 63), y(2 * 4);
  CHECK(error_code_of([&] {
          gemm<backend::reference>(matrix_view<const float>(x.data(), 2, 63), q, matrix_view<float>(y.data(), 2, 4));
        }) == errc::shape_mismatch);
  CHECK(error_code_of([&] {
          gemm<backend::reference>(matrix_view<const float>(x.data(), 2, 64), q, matrix_view<float>(y.data(), 2, 3));
        }) == errc::shape_mismatch);
  std::vector<float> out(4 * 63);
  CHECK(error_code_of([&] { dequantize(q, matrix_view<float>(out.data(), 4, 63)); }) == errc::shape_mismatch);
  CHECK(error_code_of([&] { (void)q.code(4, 0); }) == errc::out_of_range);
  CHECK(error_code_of([&] { (void)q.scale(0, 64); }) == errc::out_of_range);
  std::vector<float> row(63);
  CHECK(error_code_of([&] { q.dequantize_row(0, row); }) == errc::shape_mismatch);
}

namespace {
using group_configs = std::tuple<group_format<quant<int_code<4, false>, scale_f16, per_group<32>, asymmetric>>,
                                 group_format<quant<nf4, scale_f32, per_group<32>>, 64>,
                                 group_format<quant<int_code<3, true>, scale_bf16, per_group<16>>, 16>,
                                 group_format<quant<fp4_e2m1, scale_e8m0, per_group<32>>, 32>>;
}  // namespace

TEMPLATE_LIST_TEST_CASE("quant group_format: same numbers as quantized_matrix, through the format path",
                        "[quant][group_format]", group_configs) {
  using F = TestType;
  using Q = typename F::quant_type;
  STATIC_REQUIRE(quantizable_format<F>);
  STATIC_REQUIRE(sizeof(typename F::block) == F::block_bytes);
  const std::size_t n = 6;
  const std::size_t k = 128;
  const std::vector<float> w = make_weights(n, k, 99);
  std::vector<float> imp(k);
  std::mt19937 rng(5);
  std::uniform_real_distribution<float> u(0.1f, 3.0f);
  for (auto& v : imp) v = u(rng);
  for (const bool with_importance : {false, true}) {
    INFO("importance: " << with_importance);
    std::vector<typename F::block> blocks(n * k / F::block_size);
    quantize_rows<F>(w, k, std::as_writable_bytes(std::span(blocks)),
                     with_importance ? std::span<const float>(imp) : std::span<const float>());
    const auto qm =
        quantize<Q>(matrix_view<const float>(w.data(), n, k),
                    {.method = with_importance ? quantize_method::clip_search : quantize_method::round_to_nearest,
                     .importance = with_importance ? std::span<const float>(imp) : std::span<const float>()});
    std::vector<float> from_blocks(n * k);
    for (std::size_t b = 0; b < blocks.size(); ++b)
      F::dequantize_block(blocks[b], from_blocks.data() + b * F::block_size);
    const std::vector<float> from_matrix = dequantize(qm);
    for (std::size_t i = 0; i < n * k; ++i) {
      INFO("element " << i);
      REQUIRE(std::bit_cast<std::uint32_t>(from_blocks[i]) == std::bit_cast<std::uint32_t>(from_matrix[i]));
    }
    // The reference kernel of the lowbit::format path and the quantized_matrix overload agree exactly.
    const std::size_t m = 2;
    std::vector<float> x(m * k);
    for (auto& v : x) v = u(rng) - 1.5f;
    std::vector<float> y1(m * n), y2(m * n);
    gemm<backend::reference>(matrix_view<const float>(x.data(), m, k), weight_view<F>{blocks.data(), n, k},
                             matrix_view<float>(y1.data(), m, n));
    gemm<backend::reference>(matrix_view<const float>(x.data(), m, k), qm, matrix_view<float>(y2.data(), m, n));
    CHECK(y1 == y2);
  }
}
