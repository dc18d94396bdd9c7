// SPDX-License-Identifier: Apache-2.0
// Copyright lowbit contributors
//
// Tests of lowbit/prune/gptq.hpp with the GGUF block formats (block_gptq_quantizer): a block (a
// 256-wide super-block for Q4_K) is quantized by the format's own encoder when its first column is
// reached; the output error ||X W^T - X Q^T|| must stay below round-to-nearest's on correlated
// inputs, and the block_matrix must dequantize exactly to the returned values.

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

#include "catch.hpp"
#include "lowbit/formats/ggml/iq4_nl.hpp"
#include "lowbit/formats/ggml/q4_0.hpp"
#include "lowbit/formats/ggml/q4_k.hpp"
#include "lowbit/formats/ggml/q8_0.hpp"
#include "lowbit/prune/gptq.hpp"
#include "lowbit/prune/nm.hpp"
#include "lowbit/quant/block_matrix.hpp"

namespace {

using lowbit::matrix_view;
namespace prune = lowbit::prune;

std::vector<float> random_floats(std::size_t n, std::uint32_t seed, float scale = 1.0f) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> dist(0.0f, scale);
  std::vector<float> v(n);
  for (auto& x : v) x = dist(rng);
  return v;
}

// Correlated activations X(T, K) = Z (I + 2 A) with a random mixing A, every 7th feature louder.
std::vector<float> correlated_x(std::size_t t, std::size_t k, std::uint32_t seed) {
  const auto z = random_floats(t * k, seed);
  const auto a = random_floats(k * k, seed + 1, 1.0f / std::sqrt(static_cast<float>(k)));
  std::vector<float> x(t * k, 0.0f);
  for (std::size_t r = 0; r < t; ++r) {
    for (std::size_t j = 0; j < k; ++j) {
      double s = z[r * k + j];
      for (std::size_t p = 0; p < k; ++p) s += 2.0 * z[r * k + p] * a[p * k + j];
      x[r * k + j] = static_cast<float>(s * (j % 7 == 0 ? 3.0 : 1.0));
    }
  }
  return x;
}

prune::hessian make_hessian(const std::vector<float>& x, std::size_t t, std::size_t k) {
  prune::hessian h(k);
  h.add(matrix_view<const float>(x.data(), t, k));
  return h;
}

double output_error(const std::vector<float>& x, std::size_t t, std::size_t k, const std::vector<float>& w,
                    const std::vector<float>& v, std::size_t n) {
  double e = 0;
  for (std::size_t r = 0; r < t; ++r) {
    for (std::size_t o = 0; o < n; ++o) {
      double d = 0;
      for (std::size_t j = 0; j < k; ++j) {
        d += static_cast<double>(x[r * k + j]) * (static_cast<double>(w[o * k + j]) - v[o * k + j]);
      }
      e += d * d;
    }
  }
  return std::sqrt(e);
}

template <class F>
std::vector<float> rtn(const std::vector<float>& w, std::size_t n, std::size_t k) {
  return lowbit::dequantize(lowbit::quantize<F>(matrix_view<const float>(w.data(), n, k)));
}

template <class F>
void check_beats_rtn(std::size_t n, std::size_t k, std::uint32_t seed) {
  const std::size_t t = 64;
  const auto x = correlated_x(t, k, seed);
  const auto w = random_floats(n * k, seed + 7, 0.5f);
  const auto h = make_hessian(x, t, k);
  const matrix_view<const float> wv(w.data(), n, k);
  const auto base = output_error(x, t, k, w, rtn<F>(w, n, k), n);
  for (const bool act : {false, true}) {
    const auto r = prune::gptq<F>(wv, h, {.act_order = act});
    CHECK(lowbit::dequantize(r.quantized) == r.dequantized);  // the storage holds exactly these values
    const auto e = output_error(x, t, k, w, r.dequantized, n);
    INFO("act_order " << act << ": gptq " << e << " vs rtn " << base);
    CHECK(e < base);
  }
}

}  // namespace

TEST_CASE("prune: gptq output error < round-to-nearest, GGUF Q4_0, Q8_0, IQ4_NL, Q4_K", "[prune][gptq][gguf]") {
  check_beats_rtn<lowbit::ggml::q4_0>(12, 64, 41);
  check_beats_rtn<lowbit::ggml::q8_0>(12, 64, 44);
  check_beats_rtn<lowbit::ggml::iq4_nl>(12, 64, 42);
  check_beats_rtn<lowbit::ggml::q4_k>(8, 512, 43);  // two super-blocks: the first is fixed at its start
}

TEST_CASE("prune: gptq with a 2:4 mask: Q4_0 stores the zeros, IQ4_NL cannot", "[prune][gptq][gguf]") {
  const std::size_t n = 8, k = 64, t = 64;
  const auto x = correlated_x(t, k, 71);
  const auto w = random_floats(n * k, 72, 0.5f);
  const matrix_view<const float> wv(w.data(), n, k);
  const auto h = make_hessian(x, t, k);
  const auto m = prune::magnitude_nm_mask(wv, {.n = 2, .m = 4});
  const auto r = prune::gptq<lowbit::ggml::q4_0>(wv, h, {.mask = &m});
  CHECK(lowbit::dequantize(r.quantized) == r.dequantized);
  for (std::size_t i = 0; i < n * k; ++i) {
    if (m.data()[i] == 0) CHECK(r.dequantized[i] == 0.0f);
  }
  CHECK_THROWS_WITH(prune::gptq<lowbit::ggml::iq4_nl>(wv, h, {.mask = &m}), Catch::Contains("cannot store the mask"));
}
