// SPDX-License-Identifier: Apache-2.0
// Copyright lowbit contributors
#include <cmath>
#include <limits>
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

// softmax(scale * Q K^T + mask) V in double over the full (M, N) score matrix, with an explicit
// causal mask: query i (position pos + i) sees keys t <= pos + i. K, V: (N, n_kv_heads, head_dim).
std::vector<double> naive_attention(const std::vector<float>& q, const std::vector<float>& k,
                                    const std::vector<float>& v, dims d, std::size_t pos, std::size_t M, double scale) {
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
        const double mask = t <= pos + i ? 0.0 : -std::numeric_limits<double>::infinity();
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
