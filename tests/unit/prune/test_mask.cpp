// SPDX-License-Identifier: Apache-2.0
// Copyright lowbit contributors
//
// Tests of lowbit/prune masks: magnitude (per row, per tensor, global), N:M, 2-D blocks, Wanda,
// applying a mask and the sparsity reached. Expected masks are computed here another way (a full
// sort, or by counting ranks) and compared whole; ties and bad input are checked explicitly.

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <vector>

#include "catch.hpp"
#include "lowbit/prune/block.hpp"
#include "lowbit/prune/magnitude.hpp"
#include "lowbit/prune/mask.hpp"
#include "lowbit/prune/nm.hpp"
#include "lowbit/prune/score_mask.hpp"
#include "lowbit/prune/wanda.hpp"
#include "prune_test_data.hpp"

namespace {

using namespace prune_test;  // shared data and oracles (prune_test_data.hpp, obs_test_support.hpp)

using lowbit::matrix_view;
namespace prune = lowbit::prune;

matrix_view<const float> view(const std::vector<float>& v, std::size_t rows, std::size_t cols) {
  return {v.data(), rows, cols};
}

// An element is pruned iff fewer than `k` elements of its set rank strictly before it in
// (score, index) order: the documented rule, computed by counting instead of selecting.
bool pruned_by_rank(const std::vector<double>& s, std::size_t i, std::size_t k) {
  std::size_t before = 0;
  for (std::size_t j = 0; j < s.size(); ++j) before += (s[j] < s[i] || (s[j] == s[i] && j < i)) ? 1 : 0;
  return before < k;
}

}  // namespace

TEST_CASE("prune: mask basics, apply_mask and tensor_sparsity", "[prune][mask]") {
  prune::mask m(2, 3);
  CHECK(m.kept_count() == 6);
  CHECK(m.sparsity() == 0.0);
  m.set(0, 1, false);
  m.set(1, 2, false);
  CHECK(!m.kept(0, 1));
  CHECK(m.pruned_count() == 2);
  CHECK(m.sparsity() == Approx(2.0 / 6.0));
  std::vector<float> w = {1, 2, 3, 4, 5, 6};
  prune::apply_mask(matrix_view<float>(w.data(), 2, 3), m);
  CHECK(w == std::vector<float>{1, 0, 3, 4, 5, 0});
  CHECK(prune::tensor_sparsity(view(w, 2, 3)) == Approx(2.0 / 6.0));
  CHECK_THROWS_AS(m.set(2, 0, true), lowbit::error);
  CHECK_THROWS_AS(prune::apply_mask(matrix_view<float>(w.data(), 3, 2), m), lowbit::error);
}

TEST_CASE("prune: magnitude per row and per tensor == rank rule", "[prune][magnitude]") {
  const std::size_t n = 7, k = 13;
  auto w = random_floats(n * k, 1);
  for (const double sp : {0.0, 0.25, 0.5, 0.7, 1.0}) {
    const auto row_mask = prune::magnitude_mask(view(w, n, k), sp, prune::prune_scope::per_row);
    const auto all_mask = prune::magnitude_mask(view(w, n, k), sp, prune::prune_scope::per_tensor);
    const auto k_row = static_cast<std::size_t>(std::floor(sp * k + 0.5));
    const auto k_all = static_cast<std::size_t>(std::floor(sp * n * k + 0.5));
    std::vector<double> all(n * k);
    for (std::size_t i = 0; i < n * k; ++i) all[i] = std::fabs(w[i]);
    for (std::size_t r = 0; r < n; ++r) {
      std::vector<double> row(all.begin() + r * k, all.begin() + (r + 1) * k);
      for (std::size_t j = 0; j < k; ++j) {
        CHECK(row_mask(r, j) == !pruned_by_rank(row, j, k_row));
        CHECK(all_mask(r, j) == !pruned_by_rank(all, r * k + j, k_all));
      }
    }
    CHECK(all_mask.pruned_count() == k_all);
    CHECK(row_mask.pruned_count() == k_row * n);
  }
}

TEST_CASE("prune: ties prune the lower index first, signs ignored", "[prune][magnitude]") {
  // Row 0: |w| = 1 1 1 1: half pruned -> the first two. Row 1: -2 2 1 -1 -> the two 1s, in any order.
  const std::vector<float> w = {1, -1, 1, -1, -2, 2, 1, -1};
  const auto m = prune::magnitude_mask(view(w, 2, 4), 0.5, prune::prune_scope::per_row);
  CHECK(!m(0, 0));
  CHECK(!m(0, 1));
  CHECK(m(0, 2));
  CHECK(m(0, 3));
  CHECK(m(1, 0));
  CHECK(m(1, 1));
  CHECK(!m(1, 2));
  CHECK(!m(1, 3));
  // Per tensor, 3 of 8: the 1s compete by flat index -> (0,0), (0,1), (0,2).
  const auto t = prune::magnitude_mask(view(w, 2, 4), 3.0 / 8.0, prune::prune_scope::per_tensor);
  CHECK(t.data()[0] == 0);
  CHECK(t.data()[1] == 0);
  CHECK(t.data()[2] == 0);
  CHECK(t.pruned_count() == 3);
}

TEST_CASE("prune: global magnitude across tensors == one concatenated tensor", "[prune][magnitude][global]") {
  const auto a = random_floats(3 * 8, 2);
  auto b = random_floats(5 * 4, 3);
  for (auto& x : b) x *= 0.5f;  // b's weights are smaller: it must end sparser than a
  const std::vector<matrix_view<const float>> ws = {view(a, 3, 8), view(b, 5, 4)};
  const auto masks = prune::magnitude_mask_global(ws, 0.5);
  REQUIRE(masks.size() == 2);
  std::vector<float> cat(a);
  cat.insert(cat.end(), b.begin(), b.end());
  const auto one = prune::magnitude_mask(view(cat, 1, cat.size()), 0.5);
  for (std::size_t i = 0; i < a.size(); ++i) CHECK(masks[0].data()[i] == one.data()[i]);
  for (std::size_t i = 0; i < b.size(); ++i) CHECK(masks[1].data()[i] == one.data()[a.size() + i]);
  CHECK(masks[0].pruned_count() + masks[1].pruned_count() == 22);
  CHECK(masks[1].sparsity() > masks[0].sparsity());
}

TEST_CASE("prune: N:M keeps exactly the N largest of each group", "[prune][nm]") {
  const std::size_t n = 5, k = 24;
  const auto w = random_floats(n * k, 4);
  for (const prune::nm_pattern p :
       {prune::nm_pattern{2, 4}, prune::nm_pattern{4, 8}, prune::nm_pattern{1, 3}, prune::nm_pattern{5, 6}}) {
    const auto m = prune::magnitude_nm_mask(view(w, n, k), p);
    CHECK(prune::is_nm(m, p));
    CHECK(m.sparsity() == Approx(1.0 - static_cast<double>(p.n) / static_cast<double>(p.m)));
    for (std::size_t r = 0; r < n; ++r) {
      for (std::size_t g = 0; g < k; g += p.m) {
        for (std::size_t j = 0; j < p.m; ++j) {
          // Kept iff fewer than N of the group are larger (ties: lower k kept).
          std::size_t larger = 0;
          const float v = std::fabs(w[r * k + g + j]);
          for (std::size_t i = 0; i < p.m; ++i) {
            const float u = std::fabs(w[r * k + g + i]);
            larger += (u > v || (u == v && i < j)) ? 1 : 0;
          }
          CHECK(m(r, g + j) == (larger < p.n));
        }
      }
    }
  }
  // Ties inside a group: equal magnitudes keep the lower k.
  const std::vector<float> flat = {3, -3, 3, 3};
  const auto t = prune::magnitude_nm_mask(view(flat, 1, 4), {.n = 2, .m = 4});
  CHECK(t(0, 0));
  CHECK(t(0, 1));
  CHECK(!t(0, 2));
  CHECK(!t(0, 3));
}

TEST_CASE("prune: N:M bad input is a clear error", "[prune][nm][errors]") {
  const auto w = random_floats(2 * 10, 5);
  CHECK_THROWS_WITH(prune::magnitude_nm_mask(view(w, 2, 10), {.n = 2, .m = 4}),
                    Catch::Contains("K = 10 is not a multiple of M = 4"));
  CHECK_THROWS_WITH(prune::magnitude_nm_mask(view(w, 2, 10), {.n = 2, .m = 2}), Catch::Contains("0 < N < M"));
  CHECK_THROWS_WITH(prune::magnitude_nm_mask(view(w, 2, 10), {.n = 0, .m = 5}), Catch::Contains("0 < N < M"));
  auto bad = w;
  bad[13] = std::numeric_limits<float>::quiet_NaN();
  CHECK_THROWS_WITH(prune::magnitude_nm_mask(view(bad, 2, 10), {.n = 1, .m = 5}),
                    Catch::Contains("(1, 3)") && Catch::Contains("NaN"));
  CHECK_THROWS_WITH(prune::magnitude_mask(view(w, 2, 10), 1.5), Catch::Contains("sparsity"));
  CHECK(!prune::is_nm(prune::mask(1, 4), {.n = 2, .m = 4}));
}

TEST_CASE("prune: block pruning by L2 and L1 norm", "[prune][block]") {
  // 4 x 6 in 2 x 3 blocks: block (0,0) L2 big, L1 small; block (1,1) the opposite.
  std::vector<float> w(4 * 6, 1.0f);
  const auto set_block = [&](std::size_t br, std::size_t bc, std::vector<float> v) {
    for (std::size_t i = 0; i < 6; ++i) w[(br * 2 + i / 3) * 6 + bc * 3 + i % 3] = v[i];
  };
  set_block(0, 0, {2.4f, 0, 0, 0, 0, 0});                 // L2 2.4, L1 2.4
  set_block(0, 1, {1, 1, 1, 1, 1, 1});                    // L2 2.45, L1 6
  set_block(1, 0, {3, 3, 3, 3, 3, 3});                    // big in both
  set_block(1, 1, {0.9f, 0.9f, 0.9f, 0.9f, 0.9f, 0.9f});  // L2 2.2, L1 5.4
  const auto l2 = prune::block_mask(view(w, 4, 6), {.rows = 2, .cols = 3}, 0.5, prune::block_norm::l2);
  const auto l1 = prune::block_mask(view(w, 4, 6), {.rows = 2, .cols = 3}, 0.5, prune::block_norm::l1);
  const auto block_kept = [](const prune::mask& m, std::size_t br, std::size_t bc) {
    std::size_t kept = 0;
    for (std::size_t i = 0; i < 6; ++i) kept += m(br * 2 + i / 3, bc * 3 + i % 3) ? 1 : 0;
    REQUIRE((kept == 0 || kept == 6));
    return kept == 6;
  };
  // L2: smallest are (1,1) 2.2 and (0,0) 2.4.
  CHECK(!block_kept(l2, 0, 0));
  CHECK(block_kept(l2, 0, 1));
  CHECK(block_kept(l2, 1, 0));
  CHECK(!block_kept(l2, 1, 1));
  // L1: smallest are (0,0) 2.4 and (1,1) 5.4 -> same pair; 1 block: (0,0) under L1, (1,1) under L2.
  CHECK(!block_kept(l1, 0, 0));
  CHECK(!block_kept(l1, 1, 1));
  const auto l2_one = prune::block_mask(view(w, 4, 6), {.rows = 2, .cols = 3}, 0.25, prune::block_norm::l2);
  const auto l1_one = prune::block_mask(view(w, 4, 6), {.rows = 2, .cols = 3}, 0.25, prune::block_norm::l1);
  CHECK(!block_kept(l2_one, 1, 1));
  CHECK(block_kept(l2_one, 0, 0));
  CHECK(!block_kept(l1_one, 0, 0));
  CHECK(block_kept(l1_one, 1, 1));
  CHECK_THROWS_WITH(prune::block_mask(view(w, 4, 6), {.rows = 3, .cols = 3}, 0.5),
                    Catch::Contains("not a whole number of 3 x 3 blocks"));
}

TEST_CASE("prune: Wanda scores, per-row mask and N:M from streamed activations", "[prune][wanda]") {
  const std::size_t n = 6, k = 16, t = 64;
  const auto w = random_floats(n * k, 6);
  auto x = random_floats(t * k, 7);
  for (std::size_t r = 0; r < t; ++r) {
    for (std::size_t j = 0; j < k; ++j) x[r * k + j] *= static_cast<float>(1 + j % 5);  // uneven features
  }
  prune::input_norms acc(k);
  acc.add(view(x, 40, k));  // two batches == one
  acc.add(matrix_view<const float>(x.data() + 40 * k, t - 40, k));
  CHECK(acc.tokens() == t);
  const auto norm = acc.norms();
  for (std::size_t j = 0; j < k; ++j) {
    double s = 0;
    for (std::size_t r = 0; r < t; ++r) s += static_cast<double>(x[r * k + j]) * x[r * k + j];
    CHECK(norm[j] == Approx(std::sqrt(s)).epsilon(1e-6));
  }
  const auto scores = prune::wanda_scores(view(w, n, k), norm);
  const auto m = prune::wanda_mask(view(w, n, k), norm, 0.5);
  for (std::size_t r = 0; r < n; ++r) {
    std::vector<double> row(k);
    for (std::size_t j = 0; j < k; ++j) {
      CHECK(scores[r * k + j] == Approx(std::fabs(w[r * k + j]) * norm[j]));
      row[j] = scores[r * k + j];
    }
    for (std::size_t j = 0; j < k; ++j) CHECK(m(r, j) == !pruned_by_rank(row, j, k / 2));
  }
  const auto nm = prune::wanda_nm_mask(view(w, n, k), norm, {.n = 2, .m = 4});
  CHECK(prune::is_nm(nm, {.n = 2, .m = 4}));
  CHECK(nm == prune::nm_mask_from_scores(view(scores, n, k), {.n = 2, .m = 4}));
  // With uneven norms Wanda differs from magnitude on this data.
  CHECK(!(m == prune::magnitude_mask(view(w, n, k), 0.5, prune::prune_scope::per_row)));
  CHECK_THROWS_AS(acc.add(view(x, 2, k - 1)), lowbit::error);
  std::vector<float> short_norm(k - 1, 1.0f);
  CHECK_THROWS_WITH(prune::wanda_mask(view(w, n, k), short_norm, 0.5), Catch::Contains("15 input norms for K = 16"));
}
