// SPDX-License-Identifier: Apache-2.0
// Copyright lowbit contributors
//
// Tests of the second-order solver (lowbit/prune/hessian.hpp, obs.hpp, detail/dense_linalg.hpp)
// and SparseGPT (sparsegpt.hpp): the small dense linear algebra, the streamed Hessian, the lazy-batch
// sweep against dense O(K^3)-per-step OBS written here another way (a fresh Gauss-Jordan inverse of
// H restricted to the columns not yet eliminated, after every column), independence of the batch
// width, and the masks SparseGPT chooses (exact N:M, exact sparsity, lower output error than magnitude).

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

#include "catch.hpp"
#include "lowbit/prune/detail/dense_linalg.hpp"
#include "lowbit/prune/hessian.hpp"
#include "lowbit/prune/magnitude.hpp"
#include "lowbit/prune/nm.hpp"
#include "lowbit/prune/obs.hpp"
#include "lowbit/prune/sparsegpt.hpp"
#include "obs_test_support.hpp"

namespace {

using namespace prune_test;  // shared data and oracles (prune_test_data.hpp, obs_test_support.hpp)

using lowbit::matrix_view;
namespace prune = lowbit::prune;

// Dense OBS (Hassibi & Stork): eliminate columns 0..K-1 in order; at step j the inverse of H over the
// remaining columns F = {j..K-1} is recomputed from scratch and every row moves by
// dw_F = -(w_j - target_j) / [H_F^-1]_00 * [H_F^-1]_0,: .
template <class Target>
void dense_obs(std::vector<double>& w, std::size_t n, std::size_t k, const std::vector<double>& h, Target target) {
  for (std::size_t j = 0; j < k; ++j) {
    const std::size_t f = k - j;
    std::vector<double> sub(f * f);
    for (std::size_t a = 0; a < f; ++a) {
      for (std::size_t b = 0; b < f; ++b) sub[a * f + b] = h[(j + a) * k + j + b];
    }
    const auto inv = gauss_jordan_inverse(sub, f);
    for (std::size_t r = 0; r < n; ++r) {
      const double q = target(r, j, w[r * k + j]);
      const double e = (w[r * k + j] - q) / inv[0];
      for (std::size_t b = 0; b < f; ++b) w[r * k + j + b] -= e * inv[b];
      w[r * k + j] = q;
    }
  }
}

double max_rel_diff(const std::vector<double>& a, const std::vector<double>& b) {
  double num = 0, den = 0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    num = std::max(num, std::fabs(a[i] - b[i]));
    den = std::max(den, std::fabs(b[i]));
  }
  return num / den;
}

}  // namespace

TEST_CASE("prune: dense linear algebra: Cholesky, inverse, upper factor of the inverse", "[prune][linalg]") {
  const std::size_t k = 24;
  const auto x = correlated_x(64, k, 11);
  const auto a = damped_hessian(x, 64, k, 0.01);
  auto l = a;
  prune::detail::cholesky_lower(l, k, "test");
  const auto inv = prune::detail::inverse_from_cholesky(l, k);
  const auto u = prune::detail::upper_cholesky_of_inverse(a, k, "test");
  const auto gj = gauss_jordan_inverse(a, k);
  for (std::size_t i = 0; i < k; ++i) {
    for (std::size_t j = 0; j < k; ++j) {
      double llt = 0, utu = 0;
      for (std::size_t p = 0; p < k; ++p) {
        llt += l[i * k + p] * l[j * k + p];
        utu += u[p * k + i] * u[p * k + j];
      }
      CHECK(llt == Approx(a[i * k + j]).margin(1e-12));
      CHECK(inv[i * k + j] == Approx(gj[i * k + j]).margin(1e-10));
      CHECK(utu == Approx(gj[i * k + j]).margin(1e-10));
      if (j < i) CHECK(u[i * k + j] == 0.0);
    }
  }
  std::vector<double> bad = {1, 2, 2, 1};  // indefinite
  CHECK_THROWS_WITH(prune::detail::cholesky_lower(bad, 2, "test"), Catch::Contains("not positive definite"));
}

TEST_CASE("prune: hessian streams batches and equals 2 X^T X / T", "[prune][hessian]") {
  const std::size_t k = 16, t = 64;
  const auto x = correlated_x(t, k, 12);
  prune::hessian one(k), two(k);
  one.add(matrix_view<const float>(x.data(), t, k));
  two.add(matrix_view<const float>(x.data(), 24, k));
  two.add(matrix_view<const float>(x.data() + 24 * k, t - 24, k));
  const auto h1 = one.matrix(), h2 = two.matrix();
  const auto want = damped_hessian(x, t, k, 0.0);
  for (std::size_t i = 0; i < k * k; ++i) {
    CHECK(h1[i] == Approx(want[i]).epsilon(1e-12));
    CHECK(h2[i] == Approx(want[i]).epsilon(1e-12));
  }
  CHECK(two.tokens() == t);
  CHECK_THROWS_AS(one.add(matrix_view<const float>(x.data(), 2, k - 1)), lowbit::error);
  CHECK_THROWS_WITH(prune::hessian(4).matrix(), Catch::Contains("no calibration tokens"));
}

TEST_CASE("prune: sparsegpt_update with a fixed mask == dense OBS, any lazy batch", "[prune][sparsegpt][obs]") {
  const std::size_t n = 12, k = 40, t = 64;
  auto x = correlated_x(t, k, 13);
  for (std::size_t r = 0; r < t; ++r) x[r * k + 5] = 0.0f;  // a dead input feature
  const auto w0 = random_floats(n * k, 14);
  prune::hessian h(k);
  h.add(matrix_view<const float>(x.data(), t, k));
  const auto m = prune::magnitude_mask(matrix_view<const float>(w0.data(), n, k), 0.5, prune::prune_scope::per_row);

  std::vector<double> want(w0.begin(), w0.end());
  for (std::size_t r = 0; r < n; ++r) want[r * k + 5] = 0.0;
  dense_obs(want, n, k, damped_hessian(x, t, k, 0.01),
            [&](std::size_t r, std::size_t j, double v) { return m(r, j) ? v : 0.0; });

  for (const std::size_t b : {std::size_t{1}, std::size_t{3}, std::size_t{16}, std::size_t{128}}) {
    std::vector<double> got(w0.begin(), w0.end());
    prune::sparsegpt_update(matrix_view<double>(got.data(), n, k), h, m, {.percdamp = 0.01, .lazy_batch = b});
    CHECK(max_rel_diff(got, want) < 1e-9);
    for (std::size_t r = 0; r < n; ++r) {
      CHECK(got[r * k + 5] == 0.0);
      for (std::size_t j = 0; j < k; ++j) {
        if (!m(r, j)) CHECK(got[r * k + j] == 0.0);
      }
    }
  }
}

TEST_CASE("prune: sparsegpt masks: exact sparsity, exact N:M, batch-width independent, beats magnitude",
          "[prune][sparsegpt]") {
  const std::size_t n = 16, k = 64, t = 64;
  const auto x = correlated_x(t, k, 15);
  const auto w = random_floats(n * k, 16);
  const matrix_view<const float> wv(w.data(), n, k);
  prune::hessian h(k);
  h.add(matrix_view<const float>(x.data(), t, k));

  SECTION("unstructured 50 %") {
    const auto a = prune::sparsegpt(wv, h, {.sparsity = 0.5, .mask_block = 16, .lazy_batch = 1});
    const auto b = prune::sparsegpt(wv, h, {.sparsity = 0.5, .mask_block = 16, .lazy_batch = 128});
    const auto c = prune::sparsegpt(wv, h, {.sparsity = 0.5, .mask_block = 16, .lazy_batch = 5});
    CHECK(a.mask.sparsity() == 0.5);
    CHECK(a.mask == b.mask);
    CHECK(a.mask == c.mask);
    for (std::size_t i = 0; i < n * k; ++i) {
      CHECK(b.weight[i] == Approx(a.weight[i]).margin(1e-5));
      CHECK(c.weight[i] == Approx(a.weight[i]).margin(1e-5));
      if (a.mask.data()[i] == 0) CHECK(a.weight[i] == 0.0f);
    }
    // Each 16-column mask block prunes exactly half of its N x 16 weights.
    for (std::size_t j0 = 0; j0 < k; j0 += 16) {
      std::size_t pruned = 0;
      for (std::size_t r = 0; r < n; ++r) {
        for (std::size_t j = j0; j < j0 + 16; ++j) pruned += a.mask(r, j) ? 0 : 1;
      }
      CHECK(pruned == n * 8);
    }
    auto mag = w;
    prune::apply_mask(matrix_view<float>(mag.data(), n, k), prune::magnitude_mask(wv, 0.5));
    CHECK(output_error(x, t, k, w, a.weight, n) < output_error(x, t, k, w, mag, n));
  }
  SECTION("N:M") {
    for (const prune::nm_pattern p : {prune::nm_pattern{2, 4}, prune::nm_pattern{4, 8}, prune::nm_pattern{1, 4}}) {
      const auto a = prune::sparsegpt(wv, h, {.pattern = p, .lazy_batch = 1});
      const auto b = prune::sparsegpt(wv, h, {.pattern = p, .lazy_batch = 128});
      CHECK(prune::is_nm(a.mask, p));
      CHECK(a.mask == b.mask);
      for (std::size_t i = 0; i < n * k; ++i) {
        CHECK(b.weight[i] == Approx(a.weight[i]).margin(1e-5));
        if (a.mask.data()[i] == 0) CHECK(a.weight[i] == 0.0f);
      }
      auto mag = w;
      prune::apply_mask(matrix_view<float>(mag.data(), n, k), prune::magnitude_nm_mask(wv, p));
      CHECK(output_error(x, t, k, w, a.weight, n) < output_error(x, t, k, w, mag, n));
    }
  }
  SECTION("errors") {
    CHECK_THROWS_WITH(prune::sparsegpt(matrix_view<const float>(w.data(), n * 2, k / 2), h),
                      Catch::Contains("the Hessian is for K = 64"));
    CHECK_THROWS_WITH(prune::sparsegpt(wv, h, {.pattern = prune::nm_pattern{2, 6}}),
                      Catch::Contains("not a multiple of M = 6"));
    CHECK_THROWS_WITH(prune::sparsegpt(wv, h, {.sparsity = -0.5}), Catch::Contains("sparsity"));
    CHECK_THROWS_WITH(prune::sparsegpt(wv, h, {.percdamp = -1.0}), Catch::Contains("percdamp"));
  }
}

TEST_CASE("prune: inverse_factor: dead inputs, damping, processing order, errors", "[prune][obs]") {
  const std::size_t k = 12, t = 64;
  auto x = correlated_x(t, k, 17);
  for (std::size_t r = 0; r < t; ++r) x[r * k + 4] = 0.0f;
  prune::hessian h(k);
  h.add(matrix_view<const float>(x.data(), t, k));
  const std::vector<std::size_t> order = {11, 3, 0, 7, 4, 1, 2, 10, 9, 8, 6, 5};
  const auto f = prune::inverse_factor(h, 0.05, order);
  REQUIRE(f.dead == std::vector<std::size_t>{4});
  // U^T U == (P H_d P^T)^-1 with H_d the damped Hessian written from its definition.
  const auto hd = damped_hessian(x, t, k, 0.05);
  std::vector<double> p(k * k);
  for (std::size_t i = 0; i < k; ++i) {
    for (std::size_t j = 0; j < k; ++j) p[i * k + j] = hd[order[i] * k + order[j]];
  }
  const auto inv = gauss_jordan_inverse(p, k);
  for (std::size_t i = 0; i < k; ++i) {
    for (std::size_t j = 0; j < k; ++j) {
      double utu = 0;
      for (std::size_t q = 0; q < k; ++q) utu += f.u[q * k + i] * f.u[q * k + j];
      CHECK(utu == Approx(inv[i * k + j]).margin(1e-10));
    }
  }
  const std::vector<std::size_t> twice = {0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10};
  CHECK_THROWS_WITH(prune::inverse_factor(h, 0.01, twice), Catch::Contains("not a permutation"));
  // Without damping a singular H cannot be factored: H = [[4, 4], [4, 4]] has the exact pivot 4 - 2 * 2 = 0.
  prune::hessian singular(2);
  const std::vector<float> rows = {2, 2, 0, 0};
  singular.add(matrix_view<const float>(rows.data(), 2, 2));
  CHECK_THROWS_WITH(prune::inverse_factor(singular, 0.0), Catch::Contains("raise the dampening"));
  CHECK_NOTHROW(prune::inverse_factor(singular, 0.01));
  std::vector<double> w(2 * k, 1.0);
  CHECK_THROWS_WITH(prune::sparsegpt_update(matrix_view<double>(w.data(), 2, k), h, prune::mask(2, k - 1)),
                    Catch::Contains("mask is 2 x 11"));
}
