// SPDX-License-Identifier: Apache-2.0
// Copyright lowbit contributors
#include <bit>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "catch.hpp"
#include "lowbit/core/fp16.hpp"
#include "lowbit/nn/kv_cache.hpp"
#include "nn_test_support.hpp"

namespace nn = lowbit::nn;
using nn_test::random_floats;

TEST_CASE("kv_cache: memory is exactly n_layers * 2 * n_ctx * n_kv_heads * head_dim", "[nn][kv_cache]") {
  const nn::kv_cache<> f32(30, 512, 3, 64);
  CHECK(f32.bytes() == 30u * 2 * 512 * 3 * 64 * sizeof(float));
  const nn::kv_cache<nn::kv_f16> f16(30, 512, 3, 64);
  CHECK(f16.bytes() == 30u * 2 * 512 * 3 * 64 * 2);
  CHECK(f16.n_layers() == 30);
  CHECK(f16.n_ctx() == 512);
  CHECK(f16.n_kv_heads() == 3);
  CHECK(f16.head_dim() == 64);
  CHECK(f16.length(29) == 0);
}

TEST_CASE("kv_cache: write scatters (M, n_kv_heads, head_dim) into per-head blocks", "[nn][kv_cache]") {
  const std::size_t n_kv = 3, hd = 5, n_ctx = 10;
  nn::kv_cache<> cache(2, n_ctx, n_kv, hd);
  const auto k = random_floats(4 * n_kv * hd, 1);
  const auto v = random_floats(4 * n_kv * hd, 2);
  cache.write(1, 0, 4, k, v);
  CHECK(cache.length(1) == 4);
  CHECK(cache.length(0) == 0);
  for (std::size_t g = 0; g < n_kv; ++g) {
    const auto keys = cache.keys(1, g);
    const auto values = cache.values(1, g);
    REQUIRE(keys.size() == n_ctx * hd);
    for (std::size_t m = 0; m < 4; ++m) {
      for (std::size_t d = 0; d < hd; ++d) {
        REQUIRE(keys[m * hd + d] == k[(m * n_kv + g) * hd + d]);
        REQUIRE(values[m * hd + d] == v[(m * n_kv + g) * hd + d]);
      }
    }
  }
  // Extend by one token, overwrite position 2, rewind.
  const auto k1 = random_floats(n_kv * hd, 3);
  cache.write(1, 4, 1, k1, k1);
  CHECK(cache.length(1) == 5);
  cache.write(1, 2, 1, k1, k1);
  CHECK(cache.length(1) == 5);
  CHECK(cache.keys(1, 2)[2 * hd + 4] == k1[2 * hd + 4]);
  cache.truncate(3);
  CHECK(cache.length(1) == 3);
  cache.clear();
  CHECK(cache.length(1) == 0);
}

TEST_CASE("kv_cache: f16 storage rounds to nearest binary16", "[nn][kv_cache][f16]") {
  nn::kv_cache<nn::kv_f16> cache(1, 4, 2, 17);
  const auto k = random_floats(2 * 2 * 17, 5, -70000.0f, 70000.0f);
  const auto v = random_floats(2 * 2 * 17, 6, -1e-3f, 1e-3f);
  cache.write(0, 0, 2, k, v);
  for (std::size_t g = 0; g < 2; ++g) {
    for (std::size_t m = 0; m < 2; ++m) {
      for (std::size_t d = 0; d < 17; ++d) {
        const std::size_t src = (m * 2 + g) * 17 + d;
        REQUIRE(cache.keys(0, g)[m * 17 + d] == lowbit::f32_to_fp16(k[src]));
        REQUIRE(nn::kv_f16::decode(cache.values(0, g)[m * 17 + d]) == lowbit::fp16_to_f32(lowbit::f32_to_fp16(v[src])));
      }
    }
  }
}

TEST_CASE("kv_cache: out-of-range writes and wrong sizes throw", "[nn][kv_cache][errors]") {
  nn::kv_cache<> cache(2, 8, 2, 4);
  std::vector<float> three(3 * 2 * 4), bad(3 * 2 * 4 - 1);
  auto msg = nn_test::error_message([&] { cache.write(0, 6, 3, three, three); }, lowbit::errc::out_of_range);
  CHECK(msg.find("pos = 6") != std::string::npos);
  CHECK(msg.find("M = 3") != std::string::npos);
  CHECK(msg.find("n_ctx = 8") != std::string::npos);
  msg = nn_test::error_message([&] { cache.write(0, 1, 3, three, three); }, lowbit::errc::out_of_range);
  CHECK(msg.find("gap") != std::string::npos);
  msg = nn_test::error_message([&] { cache.write(0, 0, 3, bad, three); }, lowbit::errc::shape_mismatch);
  CHECK(msg.find("k has 23 elements, expected 24") != std::string::npos);
  msg = nn_test::error_message([&] { cache.write(0, 0, 3, three, bad); }, lowbit::errc::shape_mismatch);
  CHECK(msg.find("v has 23") != std::string::npos);
  msg = nn_test::error_message([&] { cache.write(2, 0, 3, three, three); }, lowbit::errc::out_of_range);
  CHECK(msg.find("layer = 2 >= n_layers = 2") != std::string::npos);
  nn_test::error_message([&] { (void)cache.keys(0, 2); }, lowbit::errc::out_of_range);
  nn_test::error_message([] { nn::kv_cache<> c(1, 0, 1, 1); }, lowbit::errc::invalid_argument);
  CHECK(cache.length(0) == 0);  // nothing written by the failed calls
}

TEST_CASE("kv_cache: kv_f16::decode_row == fp16_to_f32 for all 65536 inputs", "[nn][kv_cache][f16]") {
  std::vector<std::uint16_t> all(65536);
  for (std::size_t i = 0; i < all.size(); ++i) all[i] = static_cast<std::uint16_t>(i);
  std::vector<float> out(all.size());
  nn::kv_f16::decode_row(all.data(), out.data(), all.size());
  for (std::size_t i = 0; i < all.size(); ++i) {
    INFO("bits " << i);
    REQUIRE(std::bit_cast<std::uint32_t>(out[i]) == std::bit_cast<std::uint32_t>(lowbit::fp16_to_f32(all[i])));
  }
}

TEST_CASE("kv_cache: ring layers keep their last rows positions at row p % rows", "[nn][kv_cache][ring]") {
  const std::size_t n_kv = 2, hd = 3, n_ctx = 20;
  // Layer 0 a ring of 5 rows, layer 1 full (rows beyond n_ctx are clamped to n_ctx).
  auto cache = nn::kv_cache<>::with_layer_rows({5, 64}, n_ctx, n_kv, hd);
  CHECK(cache.n_layers() == 2);
  CHECK(cache.rows(0) == 5);
  CHECK(cache.rows(1) == n_ctx);
  CHECK(cache.bytes() == 2u * (5 + n_ctx) * n_kv * hd * sizeof(float));
  CHECK(cache.keys(0, 1).size() == 5 * hd);
  const auto k = random_floats(n_ctx * n_kv * hd, 21), v = random_floats(n_ctx * n_kv * hd, 22);
  const std::size_t row = n_kv * hd;
  const std::span<const float> ks(k), vs(v);
  // Position p of the input at row p % 5 of each head, for the positions [first, end).
  auto check_held = [&](std::size_t first, std::size_t end) {
    CHECK(cache.first_held(0) == first);
    CHECK(cache.length(0) == end);
    for (std::size_t p = first; p < end; ++p) {
      for (std::size_t g = 0; g < n_kv; ++g) {
        for (std::size_t d = 0; d < hd; ++d) {
          INFO("position " << p << " head " << g);
          REQUIRE(cache.keys(0, g)[(p % 5) * hd + d] == k[p * row + g * hd + d]);
          REQUIRE(cache.values(0, g)[(p % 5) * hd + d] == v[p * row + g * hd + d]);
        }
      }
    }
  };
  cache.write(0, 0, 3, ks.first(3 * row), vs.first(3 * row));
  check_held(0, 3);
  cache.write(0, 3, 4, ks.subspan(3 * row, 4 * row), vs.subspan(3 * row, 4 * row));  // wraps
  check_held(2, 7);
  cache.write(0, 7, 1, ks.subspan(7 * row, row), vs.subspan(7 * row, row));
  check_held(3, 8);
  cache.write(0, 4, 2, ks.subspan(4 * row, 2 * row), vs.subspan(4 * row, 2 * row));  // overwrite inside: same data
  check_held(3, 8);
  // Positions before first_held are gone: writing there throws and changes nothing.
  const auto msg = nn_test::error_message(
      [&] { cache.write(0, 2, 1, ks.subspan(2 * row, row), vs.subspan(2 * row, row)); }, lowbit::errc::out_of_range);
  CHECK(msg.find("pos = 2 is before the oldest position held, 3, in layer 0 (a ring of 5 rows)") != std::string::npos);
  check_held(3, 8);
  // Rewinding keeps what is still held; rewinding past it leaves an empty ring.
  cache.truncate(6);
  check_held(3, 6);
  cache.write(0, 6, 2, ks.subspan(6 * row, 2 * row), vs.subspan(6 * row, 2 * row));
  check_held(3, 8);
  cache.truncate(2);
  check_held(2, 2);
  cache.write(0, 2, 6, ks.subspan(2 * row, 6 * row), vs.subspan(2 * row, 6 * row));  // a batch longer than the ring
  check_held(3, 8);
  cache.clear();
  check_held(0, 0);
  CHECK(cache.length(1) == 0);
  // A full layer never drops positions.
  cache.write(1, 0, n_ctx, k, v);
  CHECK(cache.first_held(1) == 0);
}

TEST_CASE("kv_cache: bad ring layouts throw", "[nn][kv_cache][ring][errors]") {
  auto msg = nn_test::error_message(
      [] {
        (void)nn::kv_cache<>::with_layer_rows({4, 0, 4}, 8, 1, 2);
      },
      lowbit::errc::invalid_argument);
  CHECK(msg.find("layer_rows[1] must be > 0") != std::string::npos);
  msg = nn_test::error_message([] { (void)nn::kv_cache<>::with_layer_rows({}, 8, 1, 2); },
                               lowbit::errc::invalid_argument);
  CHECK(msg.find("n_layers") != std::string::npos);
  nn_test::error_message([] { (void)nn::kv_cache<>::with_layer_rows({4}, 0, 1, 2); }, lowbit::errc::invalid_argument);
  const auto cache = nn::kv_cache<>::with_layer_rows({4}, 8, 1, 2);
  nn_test::error_message([&] { (void)cache.rows(1); }, lowbit::errc::out_of_range);
  nn_test::error_message([&] { (void)cache.first_held(1); }, lowbit::errc::out_of_range);
  CHECK(nn::sliding_window_rows(512, 64) == 575);
  CHECK(nn::sliding_window_rows(1, 1) == 1);
}
