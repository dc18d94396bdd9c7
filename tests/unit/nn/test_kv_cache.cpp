// SPDX-License-Identifier: Apache-2.0
// Copyright lowbit contributors
#include <bit>
#include <cstdint>
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
