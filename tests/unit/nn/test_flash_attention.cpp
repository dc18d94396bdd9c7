// SPDX-License-Identifier: Apache-2.0
// Copyright lowbit contributors
#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <span>
#include <vector>

#include "catch.hpp"
#include "lowbit/core/fp16.hpp"
#include "lowbit/nn/flash_attention_f16.hpp"
#include "nn_test_support.hpp"

namespace nn = lowbit::nn;
using lowbit::f32_to_fp16;
using lowbit::fp16_to_f32;
using nn_test::random_floats;

namespace {

float f16(float x) { return fp16_to_f32(f32_to_fp16(x)); }

struct dims {
  std::size_t n_heads, n_kv_heads, head_dim;
};

// ggml's flash_attn_ext_f16_one_chunk for one query row, written from its description with scalar
// binary16 conversions: q to f16; per key, the f16 dot product in 4 x 16 lanes (tree as
// ggml_vec_dot_f16 on AVX-512, tail in double); online softmax with expf; an f16 accumulator.
// k, v: (n_keys, head_dim) rows of one KV head.
std::vector<float> ggml_row(const float* q, const std::vector<float>& k, const std::vector<float>& v, std::size_t hd,
                            std::size_t n_keys, float scale) {
  std::vector<float> qh(hd), acc(hd, 0.0f);
  for (std::size_t d = 0; d < hd; ++d) qh[d] = f16(q[d]);
  float S = 0.0f, M = -std::numeric_limits<float>::infinity();
  for (std::size_t t = 0; t < n_keys; ++t) {
    const float* kr = k.data() + t * hd;
    const float* vr = v.data() + t * hd;
    float lane[4][16] = {};
    const std::size_t full = hd - hd % 64;
    for (std::size_t e = 0; e < full; ++e) lane[(e % 64) / 16][e % 16] += f16(kr[e]) * qh[e];
    float x[16];
    for (int l = 0; l < 16; ++l) x[l] = (lane[0][l] + lane[2][l]) + (lane[1][l] + lane[3][l]);
    float y[8];
    for (int l = 0; l < 8; ++l) y[l] = x[l] + x[l + 8];
    float z[4];
    for (int l = 0; l < 4; ++l) z[l] = y[l] + y[l + 4];
    double dot = double((z[0] + z[2]) + (z[1] + z[3]));
    for (std::size_t e = full; e < hd; ++e) dot += double(f16(kr[e]) * qh[e]);
    const float s = float(dot) * scale;
    float ms = 1.0f, vs = 1.0f;
    if (s > M) {
      ms = std::exp(M - s);
      M = s;
      for (auto& a : acc) a = f16(a * ms);
    } else {
      vs = std::exp(s - M);
    }
    for (std::size_t d = 0; d < hd; ++d) acc[d] = f16(std::fma(f16(vr[d]), vs, acc[d]));
    S = std::fma(S, ms, vs);
  }
  for (auto& a : acc) a *= 1.0f / S;
  return acc;
}

// ggml's flash_attn_ext over every cell of a KV view with an explicit mask, as llama.cpp runs it:
// cells t = 0 .. n_cells - 1 in order, a masked cell (mask -inf) skipped before any arithmetic.
// Here cell t holds position t; the mask is llama.cpp's (causal, plus is_masked_swa with
// LLAMA_SWA_TYPE_STANDARD: hidden when q_pos - t >= n_swa). Built from ggml_row on the unmasked
// cells, which is what skipping them leaves.
std::vector<float> ggml_row_masked(const float* q, const std::vector<float>& k, const std::vector<float>& v,
                                   std::size_t hd, std::size_t n_cells, std::size_t q_pos, std::size_t n_swa,
                                   float scale) {
  std::vector<float> kk, vv;
  for (std::size_t t = 0; t < n_cells; ++t) {
    const bool causal_masked = t > q_pos;
    const bool swa_masked =
        n_swa > 0 && static_cast<long long>(q_pos) - static_cast<long long>(t) >= static_cast<long long>(n_swa);
    if (causal_masked || swa_masked) continue;
    kk.insert(kk.end(), k.begin() + std::ptrdiff_t(t * hd), k.begin() + std::ptrdiff_t((t + 1) * hd));
    vv.insert(vv.end(), v.begin() + std::ptrdiff_t(t * hd), v.begin() + std::ptrdiff_t((t + 1) * hd));
  }
  return ggml_row(q, kk, vv, hd, kk.size() / hd, scale);
}

// Masked softmax(scale * Q K^T) V in double, K and V as given (already rounded by the caller).
std::vector<double> naive_row(const float* q, const std::vector<float>& k, const std::vector<float>& v, std::size_t hd,
                              std::size_t n_keys, double scale) {
  std::vector<double> s(n_keys), out(hd, 0.0);
  double m = -std::numeric_limits<double>::infinity(), sum = 0.0;
  for (std::size_t t = 0; t < n_keys; ++t) {
    double dot = 0.0;
    for (std::size_t e = 0; e < hd; ++e) dot += double(q[e]) * double(k[t * hd + e]);
    m = std::max(m, s[t] = scale * dot);
  }
  for (std::size_t t = 0; t < n_keys; ++t) sum += (s[t] = std::exp(s[t] - m));
  for (std::size_t t = 0; t < n_keys; ++t) {
    for (std::size_t e = 0; e < hd; ++e) out[e] += s[t] / sum * double(v[t * hd + e]);
  }
  return out;
}

// Row `t` of KV head g, from (N, n_kv_heads, head_dim) as written to the cache.
std::vector<float> head_rows(const std::vector<float>& kv, dims d, std::size_t g, std::size_t n) {
  std::vector<float> rows(n * d.head_dim);
  for (std::size_t t = 0; t < n; ++t) {
    for (std::size_t e = 0; e < d.head_dim; ++e) rows[t * d.head_dim + e] = kv[(t * d.n_kv_heads + g) * d.head_dim + e];
  }
  return rows;
}

}  // namespace

TEST_CASE("flash_attention_f16: bit-identical to ggml's flash_attn_ext order, close to exact attention",
          "[nn][flash_attention]") {
  struct step {
    std::size_t pos, M;
  };
  for (const dims d :
       {dims{9, 3, 64}, dims{4, 4, 40}, dims{6, 2, 80}, dims{2, 1, 128}, dims{3, 1, 1}, dims{2, 2, 130}}) {
    for (const step st : {step{0, 1}, step{0, 7}, step{5, 1}, step{5, 3}, step{0, 33}, step{17, 16}}) {
      const std::size_t N = st.pos + st.M;
      const auto q = random_floats(st.M * d.n_heads * d.head_dim, unsigned(1 + N + d.head_dim), -2.0f, 2.0f);
      const auto k = random_floats(N * d.n_kv_heads * d.head_dim, unsigned(2 + N + d.head_dim), -2.0f, 2.0f);
      const auto v = random_floats(N * d.n_kv_heads * d.head_dim, unsigned(3 + N + d.head_dim));
      nn::kv_cache<nn::kv_f16> cache(2, 64, d.n_kv_heads, d.head_dim);
      cache.write(1, 0, N, k, v);
      const nn::attention_params p{.layer = 1, .pos = st.pos, .n_tokens = st.M, .n_heads = d.n_heads};
      std::vector<float> out(st.M * d.n_heads * d.head_dim);
      nn::flash_attention_f16(q, cache, p, out, lowbit::threads{2});
      const float scale = 1.0f / std::sqrt(float(d.head_dim));
      for (std::size_t i = 0; i < st.M; ++i) {
        for (std::size_t h = 0; h < d.n_heads; ++h) {
          const std::size_t g = h / (d.n_heads / d.n_kv_heads), n_keys = st.pos + i + 1;
          const float* qrow = q.data() + (i * d.n_heads + h) * d.head_dim;
          const auto kg = head_rows(k, d, g, N), vg = head_rows(v, d, g, N);
          const auto want_bits = ggml_row(qrow, kg, vg, d.head_dim, n_keys, scale);
          // Exact attention over the f16-rounded q, K, V; the f16 accumulator rounds once per key
          // (relative 2^-11 of at most max|v|), so the distance stays below (n_keys + 1) 2^-11.
          std::vector<float> qh(qrow, qrow + d.head_dim), kh = kg, vh = vg;
          for (auto* r : {&qh, &kh, &vh}) {
            for (auto& e : *r) e = f16(e);
          }
          const auto exact = naive_row(qh.data(), kh, vh, d.head_dim, n_keys, scale);
          const double bound = double(n_keys + 1) * std::ldexp(1.0, -11);
          for (std::size_t e = 0; e < d.head_dim; ++e) {
            const float got = out[(i * d.n_heads + h) * d.head_dim + e];
            INFO("heads " << d.n_heads << "/" << d.n_kv_heads << " head_dim " << d.head_dim << " pos " << st.pos
                          << " token " << i << " head " << h << " element " << e);
            REQUIRE(std::bit_cast<std::uint32_t>(got) == std::bit_cast<std::uint32_t>(want_bits[e]));
            REQUIRE(std::fabs(double(got) - exact[e]) <= bound);
          }
        }
      }
    }
  }
}

TEST_CASE("flash_attention_f16: 1 and 2 threads, prefill and token-by-token give the same bits",
          "[nn][flash_attention]") {
  const dims d{9, 3, 64};
  const std::size_t N = 40, pre = 13;
  const auto q = random_floats(N * d.n_heads * d.head_dim, 71, -3.0f, 3.0f);
  const auto k = random_floats(N * d.n_kv_heads * d.head_dim, 72, -3.0f, 3.0f);
  const auto v = random_floats(N * d.n_kv_heads * d.head_dim, 73, -5.0f, 5.0f);
  const std::size_t q_row = d.n_heads * d.head_dim, kv_row = d.n_kv_heads * d.head_dim;
  nn::kv_cache<nn::kv_f16> whole(1, N, d.n_kv_heads, d.head_dim);
  whole.write(0, 0, N, k, v);
  std::vector<float> one(N * q_row), two(N * q_row), stepped(N * q_row);
  nn::flash_attention_f16(q, whole, {.n_tokens = N, .n_heads = d.n_heads}, one, lowbit::threads{1});
  nn::flash_attention_f16(q, whole, {.n_tokens = N, .n_heads = d.n_heads}, two, lowbit::threads{2});
  REQUIRE(one == two);

  nn::kv_cache<nn::kv_f16> steps(1, N, d.n_kv_heads, d.head_dim);
  const std::span<const float> qs(q), ks(k), vs(v);
  steps.write(0, 0, pre, ks.first(pre * kv_row), vs.first(pre * kv_row));
  nn::flash_attention_f16(qs.first(pre * q_row), steps, {.n_tokens = pre, .n_heads = d.n_heads},
                          std::span(stepped).first(pre * q_row));
  for (std::size_t t = pre; t < N; ++t) {
    steps.write(0, t, 1, ks.subspan(t * kv_row, kv_row), vs.subspan(t * kv_row, kv_row));
    nn::flash_attention_f16(qs.subspan(t * q_row, q_row), steps, {.pos = t, .n_tokens = 1, .n_heads = d.n_heads},
                            std::span(stepped).subspan(t * q_row, q_row), lowbit::threads{int(t % 2) + 1});
  }
  REQUIRE(stepped == one);
}

TEST_CASE("flash_attention_f16: binary16 rounding helper == f32_to_fp16 round trip", "[nn][flash_attention][f16]") {
  // Every exponent, a spread of mantissas (incl. ties and the last ones below each power of two),
  // zeros, the binary16 subnormal and overflow boundaries, infinities and NaNs; in runs of 8
  // (the F16C path where compiled) and of 7 (the scalar tail).
  std::vector<float> values;
  for (std::uint32_t e = 0; e < 256; ++e) {
    for (std::uint32_t m :
         {0u, 1u, 0xfffu, 0x1000u, 0x1001u, 0x2000u, 0x3000u, 0x5a5a5u, 0x7fe000u, 0x7ff000u, 0x7fefffu, 0x7fffffu}) {
      for (std::uint32_t sign : {0u, 0x80000000u}) values.push_back(std::bit_cast<float>(sign | (e << 23) | m));
    }
  }
  for (float x : {65504.0f, 65519.99f, 65520.0f, 6.1035156e-05f, 6.0975552e-05f, 2.9802322e-08f, 5.9604645e-08f,
                  8.940697e-08f, 0.0f, -0.0f}) {
    values.push_back(x);
    values.push_back(-x);
  }
  std::mt19937 rng(5);
  for (int i = 0; i < 20000; ++i) values.push_back(std::bit_cast<float>(std::uint32_t(rng())));
  for (std::size_t run : {std::size_t{8}, std::size_t{7}}) {
    for (std::size_t b = 0; b + run <= values.size(); b += run) {
      std::vector<float> got(values.begin() + std::ptrdiff_t(b), values.begin() + std::ptrdiff_t(b + run));
      nn::detail::round_to_f16(got.data(), run);
      for (std::size_t i = 0; i < run; ++i) {
        const float want = f16(values[b + i]);
        INFO("input bits " << std::hex << std::bit_cast<std::uint32_t>(values[b + i]));
        if (std::isnan(want)) {
          REQUIRE(std::isnan(got[i]));
        } else {
          REQUIRE(std::bit_cast<std::uint32_t>(got[i]) == std::bit_cast<std::uint32_t>(want));
        }
      }
    }
  }
}

TEST_CASE("flash_attention_f16: bad shapes, positions and head sizes throw", "[nn][flash_attention][errors]") {
  nn::kv_cache<nn::kv_f16> cache(1, 8, 3, 4);
  std::vector<float> kv(5 * 3 * 4), q(2 * 9 * 4), out(2 * 9 * 4), bad(2 * 9 * 4 - 1);
  cache.write(0, 0, 5, kv, kv);
  auto msg = nn_test::error_message([&] { nn::flash_attention_f16(bad, cache, {.n_tokens = 2, .n_heads = 9}, out); },
                                    lowbit::errc::shape_mismatch);
  CHECK(msg.find("q has 71 elements, expected 72") != std::string::npos);
  msg = nn_test::error_message([&] { nn::flash_attention_f16(q, cache, {.pos = 4, .n_tokens = 2, .n_heads = 9}, out); },
                               lowbit::errc::out_of_range);
  CHECK(msg.find("exceeds the 5 positions") != std::string::npos);
  nn::kv_cache<nn::kv_f16> wide(1, 2, 1, 520);
  std::vector<float> wkv(520), wq(520), wout(520);
  wide.write(0, 0, 1, wkv, wkv);
  msg = nn_test::error_message([&] { nn::flash_attention_f16(wq, wide, {.n_tokens = 1, .n_heads = 1}, wout); },
                               lowbit::errc::unsupported);
  CHECK(msg.find("head_dim = 520") != std::string::npos);
  msg = nn_test::error_message(
      [&] { nn::flash_attention_f16(q, cache, {.n_tokens = 2, .n_heads = 9}, out, lowbit::threads{0}); },
      lowbit::errc::invalid_argument);
}

TEST_CASE("flash_attention_f16: sliding window == ggml's flash_attn_ext with llama.cpp's SWA mask, bit for bit",
          "[nn][flash_attention][window]") {
  struct step {
    std::size_t pos, M;
  };
  for (const dims d : {dims{4, 1, 256}, dims{2, 2, 130}, dims{3, 1, 1}, dims{6, 2, 80}}) {
    for (const std::size_t window : {1, 3, 8, 30}) {
      for (const step st : {step{0, 1}, step{0, 12}, step{9, 1}, step{21, 5}, step{40, 1}, step{17, 16}}) {
        const std::size_t N = st.pos + st.M, n_cells = N + 3;  // a view with cells past the last query, as ggml's
        const unsigned seed = unsigned(N + 5 * window + d.head_dim);
        const auto q = random_floats(st.M * d.n_heads * d.head_dim, seed, -2.0f, 2.0f);
        const auto k = random_floats(n_cells * d.n_kv_heads * d.head_dim, seed + 1, -2.0f, 2.0f);
        const auto v = random_floats(n_cells * d.n_kv_heads * d.head_dim, seed + 2);
        const std::size_t kv_row = d.n_kv_heads * d.head_dim;
        nn::kv_cache<nn::kv_f16> full(1, 64, d.n_kv_heads, d.head_dim);
        full.write(0, 0, N, std::span(k).first(N * kv_row), std::span(v).first(N * kv_row));
        auto ring = nn::kv_cache<nn::kv_f16>::with_layer_rows({nn::sliding_window_rows(window, st.M)}, 64, d.n_kv_heads,
                                                              d.head_dim);
        for (std::size_t t = 0; t < N; t += st.M) {
          const std::size_t n = std::min(st.M, N - t);
          ring.write(0, t, n, std::span(k).subspan(t * kv_row, n * kv_row),
                     std::span(v).subspan(t * kv_row, n * kv_row));
        }
        const nn::attention_params p{.pos = st.pos, .n_tokens = st.M, .n_heads = d.n_heads, .window = window};
        std::vector<float> out(st.M * d.n_heads * d.head_dim), out_ring(out.size());
        nn::flash_attention_f16(q, full, p, out, lowbit::threads{2});
        nn::flash_attention_f16(q, ring, p, out_ring, lowbit::threads{1});
        REQUIRE(out_ring == out);
        const float scale = 1.0f / std::sqrt(float(d.head_dim));
        for (std::size_t i = 0; i < st.M; ++i) {
          for (std::size_t h = 0; h < d.n_heads; ++h) {
            const std::size_t g = h / (d.n_heads / d.n_kv_heads);
            const auto want =
                ggml_row_masked(q.data() + (i * d.n_heads + h) * d.head_dim, head_rows(k, d, g, n_cells),
                                head_rows(v, d, g, n_cells), d.head_dim, n_cells, st.pos + i, window, scale);
            for (std::size_t e = 0; e < d.head_dim; ++e) {
              INFO("heads " << d.n_heads << "/" << d.n_kv_heads << " head_dim " << d.head_dim << " window " << window
                            << " pos " << st.pos << " token " << i << " head " << h << " element " << e);
              REQUIRE(std::bit_cast<std::uint32_t>(out[(i * d.n_heads + h) * d.head_dim + e]) ==
                      std::bit_cast<std::uint32_t>(want[e]));
            }
          }
        }
      }
    }
  }
}

TEST_CASE("flash_attention_f16: a window >= the context is no window, and prefill == decoding with a ring",
          "[nn][flash_attention][window]") {
  const dims d{4, 1, 256};
  const std::size_t N = 40, pre = 11, window = 9;
  const auto q = random_floats(N * d.n_heads * d.head_dim, 171, -3.0f, 3.0f);
  const auto k = random_floats(N * d.n_kv_heads * d.head_dim, 172, -3.0f, 3.0f);
  const auto v = random_floats(N * d.n_kv_heads * d.head_dim, 173, -5.0f, 5.0f);
  const std::size_t q_row = d.n_heads * d.head_dim, kv_row = d.n_kv_heads * d.head_dim;
  nn::kv_cache<nn::kv_f16> whole(1, N, d.n_kv_heads, d.head_dim);
  whole.write(0, 0, N, k, v);
  std::vector<float> none(N * q_row), wide(N * q_row), windowed(N * q_row), stepped(N * q_row);
  nn::flash_attention_f16(q, whole, {.n_tokens = N, .n_heads = d.n_heads}, none, lowbit::threads{2});
  for (const std::size_t w : {N, N + 1, std::size_t{512}}) {
    nn::flash_attention_f16(q, whole, {.n_tokens = N, .n_heads = d.n_heads, .window = w}, wide);
    REQUIRE(wide == none);
  }
  nn::flash_attention_f16(q, whole, {.n_tokens = N, .n_heads = d.n_heads, .window = window}, windowed);
  REQUIRE(windowed != none);

  auto ring =
      nn::kv_cache<nn::kv_f16>::with_layer_rows({nn::sliding_window_rows(window, pre)}, N, d.n_kv_heads, d.head_dim);
  const std::span<const float> qs(q), ks(k), vs(v);
  ring.write(0, 0, pre, ks.first(pre * kv_row), vs.first(pre * kv_row));
  nn::flash_attention_f16(qs.first(pre * q_row), ring, {.n_tokens = pre, .n_heads = d.n_heads, .window = window},
                          std::span(stepped).first(pre * q_row));
  for (std::size_t t = pre; t < N; ++t) {
    ring.write(0, t, 1, ks.subspan(t * kv_row, kv_row), vs.subspan(t * kv_row, kv_row));
    nn::flash_attention_f16(qs.subspan(t * q_row, q_row), ring,
                            {.pos = t, .n_tokens = 1, .n_heads = d.n_heads, .window = window},
                            std::span(stepped).subspan(t * q_row, q_row), lowbit::threads{int(t % 2) + 1});
  }
  REQUIRE(stepped == windowed);
  // The ring no longer holds position 0: attending without the window must throw, not read garbage.
  const auto msg = nn_test::error_message(
      [&] {
        nn::flash_attention_f16(qs.subspan((N - 1) * q_row, q_row), ring,
                                {.pos = N - 1, .n_tokens = 1, .n_heads = d.n_heads},
                                std::span(stepped).subspan((N - 1) * q_row, q_row));
      },
      lowbit::errc::out_of_range);
  CHECK(msg.find("needs keys from position 0 (window = 0)") != std::string::npos);
}
