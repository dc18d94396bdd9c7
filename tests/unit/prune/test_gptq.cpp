// SPDX-License-Identifier: Apache-2.0
// Copyright lowbit contributors
//
// Tests of lowbit/prune/gptq.hpp and gptq_quantizer.hpp: the lazy-batch GPTQ sweep against dense
// O(K^3)-per-step OBS written here another way (fresh Gauss-Jordan inverse of H over the columns not
// yet quantized, the grid of a group fixed when its first column is reached), the output error
// ||X W^T - X Q^T|| against round-to-nearest on correlated inputs for parametric int4 g32/g128,
// act-order, lazy-batch independence, dead inputs and exact storage. GGUF formats: test_gptq_gguf.cpp.

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

#include "catch.hpp"
#include "lowbit/formats/quant/quant.hpp"
#include "lowbit/prune/gptq.hpp"
#include "lowbit/prune/magnitude.hpp"
#include "lowbit/prune/nm.hpp"
#include "lowbit/quant/block_matrix.hpp"
#include "lowbit/quant/quantized_matrix.hpp"
#include "obs_test_support.hpp"

namespace {

using namespace prune_test;  // shared data and oracles (prune_test_data.hpp, obs_test_support.hpp)

using lowbit::matrix_view;
namespace prune = lowbit::prune;
using int4_g32_sym = lowbit::quant<lowbit::int_code<4, true>, lowbit::scale_f16, lowbit::per_group<32>>;
using int4_channel_sym = lowbit::quant<lowbit::int_code<4, true>, lowbit::scale_f32, lowbit::per_channel>;
using int4_g128_asym =
    lowbit::quant<lowbit::int_code<4, false>, lowbit::scale_f16, lowbit::per_group<128>, lowbit::asymmetric>;

// Dense OBS quantization: columns are eliminated in `order` (order[j] = original column j-th); when
// the first column of a group (g consecutive original columns) is reached, the group's grid is fixed
// from the current (fully updated) weights; the column is rounded on it; then every row moves by
// dw_F = -(w_c - q_c) / [H_F^-1]_cc * [H_F^-1]_c,: with F the columns not yet eliminated and H_F^-1
// recomputed from scratch (Hassibi & Stork's OBS, one column at a time).
template <class Quantizer>
std::vector<double> dense_obs_quantize(std::vector<double> w, std::size_t n, std::size_t k,
                                       const std::vector<double>& h, Quantizer& qz,
                                       const std::vector<std::size_t>& order) {
  const std::size_t g = qz.group_size();
  std::vector<char> started(k / g, 0);
  std::vector<float> vals(g);
  for (std::size_t j = 0; j < k; ++j) {
    const std::size_t c = order[j];
    if (!started[c / g]) {
      started[c / g] = 1;
      for (std::size_t r = 0; r < n; ++r) {
        for (std::size_t i = 0; i < g; ++i) vals[i] = static_cast<float>(w[r * k + (c / g) * g + i]);
        qz.begin_group(r, c / g, vals);
      }
    }
    const std::vector<std::size_t> f(order.begin() + static_cast<std::ptrdiff_t>(j), order.end());  // f[0] == c
    std::vector<double> sub(f.size() * f.size());
    for (std::size_t a = 0; a < f.size(); ++a) {
      for (std::size_t b = 0; b < f.size(); ++b) sub[a * f.size() + b] = h[f[a] * k + f[b]];
    }
    const auto inv = gauss_jordan_inverse(sub, f.size());
    for (std::size_t r = 0; r < n; ++r) {
      const double q = qz.round(r, c, static_cast<float>(w[r * k + c]));
      const double e = (w[r * k + c] - q) / inv[0];
      for (std::size_t b = 0; b < f.size(); ++b) w[r * k + f[b]] -= e * inv[b];
      w[r * k + c] = q;
    }
  }
  return w;
}

std::vector<std::size_t> natural_order(std::size_t k) {
  std::vector<std::size_t> o(k);
  for (std::size_t i = 0; i < k; ++i) o[i] = i;
  return o;
}

// A quantizer seen through a mask, as joint pruning + quantization defines it: the group's grid sees
// pruned weights as 0, and they take the value 0.
template <class Quantizer>
struct masked_quantizer {
  Quantizer* qz;
  const prune::mask* m;
  std::size_t group_size() const { return qz->group_size(); }
  void begin_group(std::size_t n, std::size_t g, std::vector<float> v) {
    for (std::size_t c = 0; c < v.size(); ++c) {
      if (!(*m)(n, g * v.size() + c)) v[c] = 0.0f;
    }
    qz->begin_group(n, g, v);
  }
  float round(std::size_t n, std::size_t k, float w) { return (*m)(n, k) ? qz->round(n, k, w) : qz->round(n, k, 0.0f); }
};

}  // namespace

TEST_CASE("prune: gptq sweep == dense OBS with the same grids (int4 g32 sym, int4 g128 asym)", "[prune][gptq][obs]") {
  const std::size_t n = 8, t = 64;
  SECTION("int4 g32 sym, K = 64") {
    const std::size_t k = 64;
    const auto x = correlated_x(t, k, 21);
    const auto w = random_floats(n * k, 22, 0.5f);
    prune::parametric_gptq_quantizer<int4_g32_sym> dense_q(n, k);
    const auto want = dense_obs_quantize(std::vector<double>(w.begin(), w.end()), n, k, damped_hessian(x, t, k, 0.01),
                                         dense_q, natural_order(k));
    for (const std::size_t b : {std::size_t{1}, std::size_t{7}, std::size_t{128}}) {
      const auto r =
          prune::gptq<int4_g32_sym>(matrix_view<const float>(w.data(), n, k), make_hessian(x, t, k), {.lazy_batch = b});
      for (std::size_t i = 0; i < n * k; ++i) CHECK(r.dequantized[i] == static_cast<float>(want[i]));
      CHECK(r.quantized.codes().size() == dense_q.result().codes().size());
      CHECK(std::equal(r.quantized.codes().begin(), r.quantized.codes().end(), dense_q.result().codes().begin()));
    }
  }
  SECTION("int4 g32 sym, K = 64, act-order == dense OBS in descending diag(H) order") {
    const std::size_t k = 64;
    const auto x = correlated_x(t, k, 25);
    const auto w = random_floats(n * k, 26, 0.5f);
    const auto hd = damped_hessian(x, t, k, 0.01);
    auto order = natural_order(k);
    std::stable_sort(order.begin(), order.end(),
                     [&](std::size_t a, std::size_t b) { return hd[a * k + a] > hd[b * k + b]; });
    REQUIRE(order != natural_order(k));
    prune::parametric_gptq_quantizer<int4_g32_sym> dense_q(n, k);
    const auto want = dense_obs_quantize(std::vector<double>(w.begin(), w.end()), n, k, hd, dense_q, order);
    const auto r = prune::gptq<int4_g32_sym>(matrix_view<const float>(w.data(), n, k), make_hessian(x, t, k),
                                             {.lazy_batch = 16, .act_order = true});
    for (std::size_t i = 0; i < n * k; ++i) CHECK(r.dequantized[i] == static_cast<float>(want[i]));
    CHECK(std::equal(r.quantized.codes().begin(), r.quantized.codes().end(), dense_q.result().codes().begin()));
  }
  SECTION("int4 g128 asym, K = 128") {
    const std::size_t k = 128;
    const auto x = correlated_x(t, k, 23);
    const auto w = random_floats(n * k, 24, 0.5f);
    prune::parametric_gptq_quantizer<int4_g128_asym> dense_q(n, k);
    const auto want = dense_obs_quantize(std::vector<double>(w.begin(), w.end()), n, k, damped_hessian(x, t, k, 0.01),
                                         dense_q, natural_order(k));
    const auto r = prune::gptq<int4_g128_asym>(matrix_view<const float>(w.data(), n, k), make_hessian(x, t, k),
                                               {.lazy_batch = 32});
    for (std::size_t i = 0; i < n * k; ++i) CHECK(r.dequantized[i] == static_cast<float>(want[i]));
  }
}

TEST_CASE("prune: gptq output error < round-to-nearest, parametric int4 g32, g128 asym, per channel", "[prune][gptq]") {
  check_beats_rtn<int4_g32_sym>(16, 64, 31);
  check_beats_rtn<int4_g128_asym>(16, 128, 32);
  check_beats_rtn<int4_channel_sym>(16, 64, 33);
}

TEST_CASE("prune: gptq dead inputs, lazy batch, errors", "[prune][gptq]") {
  const std::size_t n = 8, k = 64, t = 64;
  auto x = correlated_x(t, k, 51);
  for (std::size_t r = 0; r < t; ++r) x[r * k + 9] = 0.0f;
  const auto w = random_floats(n * k, 52, 0.5f);
  const auto h = make_hessian(x, t, k);
  const matrix_view<const float> wv(w.data(), n, k);
  const auto a = prune::gptq<int4_g32_sym>(wv, h, {.lazy_batch = 1, .act_order = true});
  const auto b = prune::gptq<int4_g32_sym>(wv, h, {.lazy_batch = 128, .act_order = true});
  for (std::size_t r = 0; r < n; ++r) CHECK(a.dequantized[r * k + 9] == 0.0f);
  std::size_t same = 0;
  for (std::size_t i = 0; i < n * k; ++i) same += a.dequantized[i] == b.dequantized[i] ? 1 : 0;
  CHECK(same == n * k);
  CHECK_THROWS_WITH(prune::gptq<int4_g32_sym>(matrix_view<const float>(w.data(), 2 * n, k / 2), h),
                    Catch::Contains("the Hessian is for K = 64"));
  const auto h48 = make_hessian(correlated_x(t, 48, 53), t, 48);
  CHECK_THROWS_WITH(prune::gptq<int4_g32_sym>(matrix_view<const float>(w.data(), n, 48), h48),
                    Catch::Contains("shape"));
}

TEST_CASE("prune: gptq with a 2:4 mask (joint pruning and quantization) == dense OBS, beats prune-then-RTN",
          "[prune][gptq][sparsegpt]") {
  const std::size_t n = 8, k = 64, t = 64;
  const auto x = correlated_x(t, k, 61);
  const auto w = random_floats(n * k, 62, 0.5f);
  const matrix_view<const float> wv(w.data(), n, k);
  const auto m = prune::magnitude_nm_mask(wv, {.n = 2, .m = 4});
  prune::parametric_gptq_quantizer<int4_g32_sym> inner(n, k);
  masked_quantizer<prune::parametric_gptq_quantizer<int4_g32_sym>> dense_q{&inner, &m};
  const auto want = dense_obs_quantize(std::vector<double>(w.begin(), w.end()), n, k, damped_hessian(x, t, k, 0.01),
                                       dense_q, natural_order(k));
  const auto r = prune::gptq<int4_g32_sym>(wv, make_hessian(x, t, k), {.lazy_batch = 16, .mask = &m});
  for (std::size_t i = 0; i < n * k; ++i) {
    CHECK(r.dequantized[i] == static_cast<float>(want[i]));
    if (m.data()[i] == 0) CHECK(r.dequantized[i] == 0.0f);
  }
  CHECK(lowbit::dequantize(r.quantized) == r.dequantized);
  auto pruned = w;
  prune::apply_mask(matrix_view<float>(pruned.data(), n, k), m);
  auto rtn_pruned = rtn<int4_g32_sym>(pruned, n, k);
  CHECK(output_error(x, t, k, w, r.dequantized, n) < output_error(x, t, k, w, rtn_pruned, n));
  const prune::mask wrong(n, k + 1);
  CHECK_THROWS_WITH(prune::gptq<int4_g32_sym>(wv, make_hessian(x, t, k), {.mask = &wrong}),
                    Catch::Contains("mask is 8 x 65"));
}
