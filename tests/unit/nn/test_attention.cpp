// SPDX-License-Identifier: Apache-2.0
// Copyright lowbit contributors
#include <algorithm>
#include <cmath>
#include <limits>
#include <span>
#include <vector>

#include "catch.hpp"
#include "lowbit/core/fp16.hpp"
#include "lowbit/nn/attention.hpp"
#include "nn_test_support.hpp"

namespace nn = lowbit::nn;
using nn_test::close;
using nn_test::random_floats;

namespace {

struct dims {
  std::size_t n_heads, n_kv_heads, head_dim;
};

// The mask llama.cpp builds (llama-kv-cache.cpp set_input_kq_mask, llama_hparams::is_masked_swa
// with LLAMA_SWA_TYPE_STANDARD): the key at position p0 is hidden from the query at p1 if p0 > p1
// (causal) or, with a window n_swa > 0, if p1 - p0 >= n_swa.
bool masked(std::size_t p0, std::size_t p1, std::size_t n_swa) {
  if (p0 > p1) return true;
  return n_swa > 0 && static_cast<long long>(p1) - static_cast<long long>(p0) >= static_cast<long long>(n_swa);
}

// softmax(scale * Q K^T + mask) V in double over the full (M, N) score matrix, with an explicit
// mask: query i (position pos + i) sees keys t with !masked(t, pos + i, window).
// K, V: (N, n_kv_heads, head_dim).
std::vector<double> naive_attention(const std::vector<float>& q, const std::vector<float>& k,
                                    const std::vector<float>& v, dims d, std::size_t pos, std::size_t M, double scale,
                                    std::size_t window = 0) {
  const std::size_t N = pos + M;
  const std::size_t group = d.n_heads / d.n_kv_heads;
  std::vector<double> out(M * d.n_heads * d.head_dim);
  std::vector<double> s(N);
  for (std::size_t h = 0; h < d.n_heads; ++h) {
    const std::size_t g = h / group;
    for (std::size_t i = 0; i < M; ++i) {
      double m = -std::numeric_limits<double>::infinity();
      for (std::size_t t = 0; t < N; ++t) {
        double dot = 0.0;
        for (std::size_t e = 0; e < d.head_dim; ++e) {
          dot += double(q[(i * d.n_heads + h) * d.head_dim + e]) * double(k[(t * d.n_kv_heads + g) * d.head_dim + e]);
        }
        const double mask = masked(t, pos + i, window) ? -std::numeric_limits<double>::infinity() : 0.0;
        s[t] = scale * dot + mask;
        m = std::max(m, s[t]);
      }
      double sum = 0.0;
      for (std::size_t t = 0; t < N; ++t) sum += (s[t] = std::exp(s[t] - m));
      for (std::size_t e = 0; e < d.head_dim; ++e) {
        double acc = 0.0;
        for (std::size_t t = 0; t < N; ++t) acc += s[t] / sum * double(v[(t * d.n_kv_heads + g) * d.head_dim + e]);
        out[(i * d.n_heads + h) * d.head_dim + e] = acc;
      }
    }
  }
  return out;
}

std::vector<float> round_to_f16(std::vector<float> x) {
  for (auto& e : x) e = lowbit::fp16_to_f32(lowbit::f32_to_fp16(e));
  return x;
}

}  // namespace

TEST_CASE("attention: simd and reference == naive masked softmax(QK^T)V in double", "[nn][attention]") {
  struct step {
    std::size_t pos, M;
  };
  for (const dims d : {dims{9, 3, 64}, dims{4, 4, 17}, dims{6, 2, 3}, dims{2, 1, 65}, dims{3, 1, 1}}) {
    for (const step st : {step{0, 1}, step{0, 7}, step{5, 1}, step{5, 3}, step{0, 33}, step{17, 16}}) {
      const std::size_t N = st.pos + st.M;
      const auto q = random_floats(st.M * d.n_heads * d.head_dim, unsigned(1 + N + d.head_dim), -2.0f, 2.0f);
      const auto k = random_floats(N * d.n_kv_heads * d.head_dim, unsigned(2 + N + d.head_dim), -2.0f, 2.0f);
      const auto v = random_floats(N * d.n_kv_heads * d.head_dim, unsigned(3 + N + d.head_dim));
      nn::kv_cache<> cache(2, 64, d.n_kv_heads, d.head_dim);
      cache.write(1, 0, N, k, v);
      const nn::attention_params p{.layer = 1, .pos = st.pos, .n_tokens = st.M, .n_heads = d.n_heads};
      std::vector<float> fast(st.M * d.n_heads * d.head_dim), ref(fast.size());
      nn::attention_workspace ws;
      nn::attention(q, cache, p, fast, ws, lowbit::threads{2});
      nn::reference::attention(q, cache, p, ref);
      const auto want = naive_attention(q, k, v, d, st.pos, st.M, 1.0 / std::sqrt(double(d.head_dim)));
      for (std::size_t i = 0; i < want.size(); ++i) {
        INFO("heads " << d.n_heads << "/" << d.n_kv_heads << " head_dim " << d.head_dim << " pos " << st.pos << " M "
                      << st.M << " i " << i);
        REQUIRE(close(fast[i], want[i], 1e-5, 2e-6));
        REQUIRE(close(ref[i], want[i], 1e-5, 2e-6));
      }
    }
  }
}

TEST_CASE("attention: f16 cache == naive attention over f16-rounded K and V", "[nn][attention][f16]") {
  const dims d{9, 3, 64};
  const std::size_t pos = 20, M = 5, N = pos + M;
  const auto q = random_floats(M * d.n_heads * d.head_dim, 31, -2.0f, 2.0f);
  const auto k = random_floats(N * d.n_kv_heads * d.head_dim, 32, -2.0f, 2.0f);
  const auto v = random_floats(N * d.n_kv_heads * d.head_dim, 33);
  nn::kv_cache<nn::kv_f16> cache(1, N, d.n_kv_heads, d.head_dim);
  cache.write(0, 0, N, k, v);
  const nn::attention_params p{.pos = pos, .n_tokens = M, .n_heads = d.n_heads};
  std::vector<float> fast(M * d.n_heads * d.head_dim), ref(fast.size());
  nn::attention_workspace ws;
  nn::attention(q, cache, p, fast, ws);
  nn::reference::attention(q, cache, p, ref);
  const auto want = naive_attention(q, round_to_f16(k), round_to_f16(v), d, pos, M, 0.125);
  for (std::size_t i = 0; i < want.size(); ++i) {
    REQUIRE(close(fast[i], want[i], 1e-5, 2e-6));
    REQUIRE(close(ref[i], want[i], 1e-5, 2e-6));
  }
}

TEST_CASE("attention: prefill of N tokens == N single-token decode steps", "[nn][attention]") {
  const dims d{9, 3, 64};
  const std::size_t N = 24, pre = 10;
  const auto q = random_floats(N * d.n_heads * d.head_dim, 41, -2.0f, 2.0f);
  const auto k = random_floats(N * d.n_kv_heads * d.head_dim, 42, -2.0f, 2.0f);
  const auto v = random_floats(N * d.n_kv_heads * d.head_dim, 43);
  const std::size_t q_row = d.n_heads * d.head_dim, kv_row = d.n_kv_heads * d.head_dim;
  nn::attention_workspace ws;

  nn::kv_cache<> whole(1, 32, d.n_kv_heads, d.head_dim);
  whole.write(0, 0, N, k, v);
  std::vector<float> prefill(N * q_row);
  nn::attention(q, whole, {.pos = 0, .n_tokens = N, .n_heads = d.n_heads}, prefill, ws, lowbit::threads{2});

  // A prompt of `pre` tokens at once, then one token at a time, as a generation loop does.
  nn::kv_cache<> steps(1, 32, d.n_kv_heads, d.head_dim);
  std::vector<float> stepped(N * q_row);
  const std::span<const float> qs(q), ks(k), vs(v);
  steps.write(0, 0, pre, ks.first(pre * kv_row), vs.first(pre * kv_row));
  nn::attention(qs.first(pre * q_row), steps, {.pos = 0, .n_tokens = pre, .n_heads = d.n_heads},
                std::span(stepped).first(pre * q_row), ws);
  for (std::size_t t = pre; t < N; ++t) {
    steps.write(0, t, 1, ks.subspan(t * kv_row, kv_row), vs.subspan(t * kv_row, kv_row));
    nn::attention(qs.subspan(t * q_row, q_row), steps, {.pos = t, .n_tokens = 1, .n_heads = d.n_heads},
                  std::span(stepped).subspan(t * q_row, q_row), ws, lowbit::threads{int(t % 2) + 1});
  }
  REQUIRE(stepped == prefill);  // the same arithmetic per (token, head), whatever the chunking
}

TEST_CASE("attention: query head h reads KV head h / (n_heads / n_kv_heads)", "[nn][attention][gqa]") {
  const dims d{9, 3, 16};
  const std::size_t N = 6;
  const auto q = random_floats(d.n_heads * d.head_dim, 51);
  const auto k = random_floats(N * d.n_kv_heads * d.head_dim, 52);
  std::vector<float> v(N * d.n_kv_heads * d.head_dim);
  for (std::size_t t = 0; t < N; ++t) {
    for (std::size_t g = 0; g < d.n_kv_heads; ++g) {
      for (std::size_t e = 0; e < d.head_dim; ++e) v[(t * d.n_kv_heads + g) * d.head_dim + e] = float(10 * g + 1);
    }
  }
  nn::kv_cache<> cache(1, N, d.n_kv_heads, d.head_dim);
  cache.write(0, 0, N, k, v);
  std::vector<float> out(d.n_heads * d.head_dim);
  nn::attention_workspace ws;
  nn::attention(q, cache, {.pos = N - 1, .n_tokens = 1, .n_heads = d.n_heads}, out, ws);
  for (std::size_t h = 0; h < d.n_heads; ++h) {
    const float want = float(10 * (h / 3) + 1);  // heads 0-2 -> KV 0, 3-5 -> KV 1, 6-8 -> KV 2
    for (std::size_t e = 0; e < d.head_dim; ++e) REQUIRE(close(out[h * d.head_dim + e], want, 1e-6, 0.0));
  }
}

TEST_CASE("attention: prefill of 512 tokens, threads, reused workspace", "[nn][attention]") {
  const dims d{9, 3, 64};
  const std::size_t M = 512;
  const auto q = random_floats(M * d.n_heads * d.head_dim, 61, -2.0f, 2.0f);
  const auto k = random_floats(M * d.n_kv_heads * d.head_dim, 62, -2.0f, 2.0f);
  const auto v = random_floats(M * d.n_kv_heads * d.head_dim, 63);
  nn::kv_cache<> cache(1, M, d.n_kv_heads, d.head_dim);
  cache.write(0, 0, M, k, v);
  nn::attention_workspace ws;
  ws.reserve(2, M, d.head_dim);
  const std::size_t capacity = ws.capacity();
  std::vector<float> one(M * d.n_heads * d.head_dim), two(one.size()), ref(one.size());
  const nn::attention_params p{.pos = 0, .n_tokens = M, .n_heads = d.n_heads, .scale = 0.125f};
  nn::attention(q, cache, p, one, ws, lowbit::threads{1});
  nn::attention(q, cache, p, two, ws, lowbit::threads{2});
  CHECK(ws.capacity() == capacity);  // reserved once, no growth
  REQUIRE(one == two);
  nn::reference::attention(q, cache, p, ref);
  for (std::size_t i = 0; i < ref.size(); ++i) REQUIRE(close(one[i], ref[i], 1e-5, 2e-6));
}

TEST_CASE("attention: bad heads, sizes and positions throw naming them", "[nn][attention][errors]") {
  nn::kv_cache<> cache(2, 8, 3, 4);
  std::vector<float> kv(5 * 3 * 4);
  cache.write(0, 0, 5, kv, kv);
  nn::attention_workspace ws;
  std::vector<float> q(2 * 9 * 4), out(2 * 9 * 4), bad(2 * 9 * 4 - 1);
  auto msg = nn_test::error_message(
      [&] {
        nn::attention(std::span(q).first(2 * 4 * 4), cache, {.n_tokens = 2, .n_heads = 4}, std::span(out).first(32),
                      ws);
      },
      lowbit::errc::shape_mismatch);
  CHECK(msg.find("n_heads = 4") != std::string::npos);
  CHECK(msg.find("n_kv_heads = 3") != std::string::npos);
  msg = nn_test::error_message([&] { nn::attention(bad, cache, {.n_tokens = 2, .n_heads = 9}, out, ws); },
                               lowbit::errc::shape_mismatch);
  CHECK(msg.find("q has 71 elements, expected 72") != std::string::npos);
  msg = nn_test::error_message([&] { nn::reference::attention(q, cache, {.n_tokens = 2, .n_heads = 9}, bad); },
                               lowbit::errc::shape_mismatch);
  CHECK(msg.find("out has 71") != std::string::npos);
  msg = nn_test::error_message([&] { nn::attention(q, cache, {.pos = 4, .n_tokens = 2, .n_heads = 9}, out, ws); },
                               lowbit::errc::out_of_range);
  CHECK(msg.find("pos = 4 + n_tokens = 2 exceeds the 5 positions written in layer 0") != std::string::npos);
  msg = nn_test::error_message([&] { nn::attention(q, cache, {.layer = 1, .n_tokens = 2, .n_heads = 9}, out, ws); },
                               lowbit::errc::out_of_range);
  CHECK(msg.find("positions written in layer 1") != std::string::npos);
  msg = nn_test::error_message([&] { nn::attention(q, cache, {.layer = 2, .n_tokens = 2, .n_heads = 9}, out, ws); },
                               lowbit::errc::out_of_range);
  CHECK(msg.find("layer = 2") != std::string::npos);
}

TEST_CASE("attention: sliding window == naive attention with llama.cpp's explicit SWA mask",
          "[nn][attention][window]") {
  struct step {
    std::size_t pos, M;
  };
  // Gemma 3's shape (4 query heads over 1 KV head of 256), odd head dims, GQA groups.
  for (const dims d : {dims{4, 1, 256}, dims{6, 2, 3}, dims{2, 1, 65}, dims{9, 3, 64}}) {
    for (const std::size_t window : {1, 2, 5, 16, 40}) {
      for (const step st : {step{0, 1}, step{0, 9}, step{7, 1}, step{11, 6}, step{0, 33}, step{20, 17}}) {
        const std::size_t N = st.pos + st.M;
        const unsigned seed = unsigned(N + 7 * window + d.head_dim);
        const auto q = random_floats(st.M * d.n_heads * d.head_dim, seed, -2.0f, 2.0f);
        const auto k = random_floats(N * d.n_kv_heads * d.head_dim, seed + 1, -2.0f, 2.0f);
        const auto v = random_floats(N * d.n_kv_heads * d.head_dim, seed + 2);
        const nn::attention_params p{
            .layer = 1, .pos = st.pos, .n_tokens = st.M, .n_heads = d.n_heads, .window = window};
        const auto want = naive_attention(q, k, v, d, st.pos, st.M, 1.0 / std::sqrt(double(d.head_dim)), window);
        // A full cache, and one whose layer 1 is a ring of exactly the rows the window needs.
        nn::kv_cache<> full(2, 64, d.n_kv_heads, d.head_dim);
        auto ring =
            nn::kv_cache<>::with_layer_rows({64, nn::sliding_window_rows(window, st.M)}, 64, d.n_kv_heads, d.head_dim);
        full.write(1, 0, N, k, v);
        const std::size_t kv_row = d.n_kv_heads * d.head_dim;
        for (std::size_t t = 0; t < N; t += st.M) {  // the ring is filled in batches of at most M tokens
          const std::size_t n = std::min(st.M, N - t);
          ring.write(1, t, n, std::span(k).subspan(t * kv_row, n * kv_row),
                     std::span(v).subspan(t * kv_row, n * kv_row));
        }
        std::vector<float> fast(st.M * d.n_heads * d.head_dim), ref(fast.size()), fast_ring(fast.size()),
            ref_ring(fast.size());
        nn::attention_workspace ws;
        nn::attention(q, full, p, fast, ws, lowbit::threads{2});
        nn::reference::attention(q, full, p, ref);
        nn::attention(q, ring, p, fast_ring, ws, lowbit::threads{2});
        nn::reference::attention(q, ring, p, ref_ring);
        REQUIRE(fast_ring == fast);  // same keys in the same order: the same bits
        REQUIRE(ref_ring == ref);
        for (std::size_t i = 0; i < want.size(); ++i) {
          INFO("heads " << d.n_heads << "/" << d.n_kv_heads << " head_dim " << d.head_dim << " window " << window
                        << " pos " << st.pos << " M " << st.M << " i " << i);
          REQUIRE(close(fast[i], want[i], 1e-5, 2e-6));
          REQUIRE(close(ref[i], want[i], 1e-5, 2e-6));
        }
      }
    }
  }
}

TEST_CASE("attention: a window >= the context is no window (same bits)", "[nn][attention][window]") {
  const dims d{4, 1, 256};
  const std::size_t pos = 9, M = 12, N = pos + M;
  const auto q = random_floats(M * d.n_heads * d.head_dim, 81, -2.0f, 2.0f);
  const auto k = random_floats(N * d.n_kv_heads * d.head_dim, 82, -2.0f, 2.0f);
  const auto v = random_floats(N * d.n_kv_heads * d.head_dim, 83);
  nn::kv_cache<nn::kv_f16> cache(1, 32, d.n_kv_heads, d.head_dim);
  cache.write(0, 0, N, k, v);
  nn::attention_workspace ws;
  std::vector<float> none(M * d.n_heads * d.head_dim), wide(none.size()), ref_none(none.size()), ref_wide(none.size());
  nn::attention(q, cache, {.pos = pos, .n_tokens = M, .n_heads = d.n_heads}, none, ws);
  nn::reference::attention(q, cache, {.pos = pos, .n_tokens = M, .n_heads = d.n_heads}, ref_none);
  for (const std::size_t window : {N, N + 1, std::size_t{512}}) {
    const nn::attention_params p{.pos = pos, .n_tokens = M, .n_heads = d.n_heads, .window = window};
    nn::attention(q, cache, p, wide, ws);
    nn::reference::attention(q, cache, p, ref_wide);
    REQUIRE(wide == none);
    REQUIRE(ref_wide == ref_none);
  }
}

TEST_CASE("attention: sliding window, prefill == token-by-token decoding, full cache == ring",
          "[nn][attention][window]") {
  const dims d{4, 1, 256};
  const std::size_t N = 40, pre = 13, window = 8;
  const auto q = random_floats(N * d.n_heads * d.head_dim, 91, -2.0f, 2.0f);
  const auto k = random_floats(N * d.n_kv_heads * d.head_dim, 92, -2.0f, 2.0f);
  const auto v = random_floats(N * d.n_kv_heads * d.head_dim, 93);
  const std::size_t q_row = d.n_heads * d.head_dim, kv_row = d.n_kv_heads * d.head_dim;
  nn::attention_workspace ws;
  nn::kv_cache<nn::kv_f16> whole(1, N, d.n_kv_heads, d.head_dim);
  whole.write(0, 0, N, k, v);
  std::vector<float> prefill(N * q_row);
  nn::attention(q, whole, {.n_tokens = N, .n_heads = d.n_heads, .window = window}, prefill, ws, lowbit::threads{2});

  // A ring of window + pre - 1 rows: the prompt of `pre` tokens, then one token at a time.
  auto ring =
      nn::kv_cache<nn::kv_f16>::with_layer_rows({nn::sliding_window_rows(window, pre)}, N, d.n_kv_heads, d.head_dim);
  CHECK(ring.rows(0) == window + pre - 1);
  CHECK(ring.bytes() * N == whole.bytes() * (window + pre - 1));
  std::vector<float> stepped(N * q_row);
  const std::span<const float> qs(q), ks(k), vs(v);
  ring.write(0, 0, pre, ks.first(pre * kv_row), vs.first(pre * kv_row));
  nn::attention(qs.first(pre * q_row), ring, {.n_tokens = pre, .n_heads = d.n_heads, .window = window},
                std::span(stepped).first(pre * q_row), ws);
  for (std::size_t t = pre; t < N; ++t) {
    ring.write(0, t, 1, ks.subspan(t * kv_row, kv_row), vs.subspan(t * kv_row, kv_row));
    nn::attention(qs.subspan(t * q_row, q_row), ring, {.pos = t, .n_tokens = 1, .n_heads = d.n_heads, .window = window},
                  std::span(stepped).subspan(t * q_row, q_row), ws, lowbit::threads{int(t % 2) + 1});
  }
  CHECK(ring.first_held(0) == N - ring.rows(0));
  REQUIRE(stepped == prefill);
}

TEST_CASE("attention: a ring too small for the window and batch throws", "[nn][attention][window][errors]") {
  const dims d{4, 1, 8};
  auto ring = nn::kv_cache<>::with_layer_rows({6}, 32, d.n_kv_heads, d.head_dim);
  std::vector<float> kv(20 * d.head_dim), q(4 * d.n_heads * d.head_dim), out(q.size());
  ring.write(0, 0, 16, std::span(kv).first(16 * d.head_dim), std::span(kv).first(16 * d.head_dim));
  CHECK(ring.first_held(0) == 10);
  nn::attention_workspace ws;
  // Window 3 with 4 tokens at 12..15 needs keys from 10: held. Window 4 needs 9: overwritten.
  nn::attention(q, ring, {.pos = 12, .n_tokens = 4, .n_heads = 4, .window = 3}, out, ws);
  auto msg = nn_test::error_message(
      [&] { nn::attention(q, ring, {.pos = 12, .n_tokens = 4, .n_heads = 4, .window = 4}, out, ws); },
      lowbit::errc::out_of_range);
  CHECK(msg.find("needs keys from position 9 (window = 4)") != std::string::npos);
  CHECK(msg.find("holds only positions [10, 16)") != std::string::npos);
  nn_test::error_message([&] { nn::reference::attention(q, ring, {.pos = 12, .n_tokens = 4, .n_heads = 4}, out); },
                         lowbit::errc::out_of_range);
}
