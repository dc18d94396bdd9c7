// SPDX-License-Identifier: Apache-2.0
// Copyright lowbit contributors
#include <algorithm>
#include <cmath>
#include <vector>

#include "catch.hpp"
#include "lowbit/nn/rope.hpp"
#include "nn_test_support.hpp"

namespace nn = lowbit::nn;
using nn_test::close;
using nn_test::random_floats;

namespace {

// RoPE in double, written from the definition (RoFormer eq. 34 with the two pairings).
std::vector<double> rope_double(const std::vector<float>& x, std::size_t n_tokens, std::size_t n_heads,
                                std::size_t head_dim, std::size_t pos, std::size_t n_rot, double base,
                                nn::rope_mode mode) {
  std::vector<double> y(x.begin(), x.end());
  for (std::size_t t = 0; t < n_tokens; ++t) {
    for (std::size_t h = 0; h < n_heads; ++h) {
      const std::size_t row = (t * n_heads + h) * head_dim;
      for (std::size_t i = 0; i < n_rot / 2; ++i) {
        const double a = double(pos + t) / std::pow(base, double(2 * i) / double(n_rot));
        const std::size_t j0 = mode == nn::rope_mode::normal ? 2 * i : i;
        const std::size_t j1 = mode == nn::rope_mode::normal ? 2 * i + 1 : i + n_rot / 2;
        const double x0 = x[row + j0], x1 = x[row + j1];
        y[row + j0] = x0 * std::cos(a) - x1 * std::sin(a);
        y[row + j1] = x0 * std::sin(a) + x1 * std::cos(a);
      }
    }
  }
  return y;
}

}  // namespace

TEST_CASE("rope: table == reference, both == double math", "[nn][rope]") {
  struct shape {
    std::size_t n_heads, head_dim, n_rot;
  };
  for (const auto recipe : {nn::rope_recipe::ggml, nn::rope_recipe::exact}) {
    for (const auto mode : {nn::rope_mode::normal, nn::rope_mode::neox}) {
      for (const shape s : {shape{9, 64, 64}, shape{3, 64, 64}, shape{2, 18, 18}, shape{2, 65, 32}, shape{1, 2, 2}}) {
        for (const std::size_t pos : {0u, 1u, 37u, 2000u}) {
          const std::size_t n_tokens = 5;
          const nn::rope_config cfg{.n_rot = s.n_rot, .theta_base = 100000.0f, .mode = mode, .recipe = recipe};
          const nn::rope_table table(cfg, 2048);
          const auto x = random_floats(n_tokens * s.n_heads * s.head_dim, unsigned(pos + s.head_dim), -2.0f, 2.0f);
          auto fast = x, ref = x;
          nn::rope(fast, n_tokens, s.n_heads, s.head_dim, pos, table);
          nn::reference::rope(ref, n_tokens, s.n_heads, s.head_dim, pos, cfg);
          const auto want = rope_double(x, n_tokens, s.n_heads, s.head_dim, pos, s.n_rot, 100000.0, mode);
          // ggml's float angle chain: measured max cos/sin error ~7e-8 * pos (5.6e-4 at pos 8192).
          const double angle_err = recipe == nn::rope_recipe::exact ? 0.0 : double(pos + n_tokens) * 1e-7;
          for (std::size_t i = 0; i < x.size(); ++i) {
            INFO("recipe " << int(recipe) << " mode " << int(mode) << " head_dim " << s.head_dim << " pos " << pos
                           << " i " << i);
            REQUIRE(close(fast[i], ref[i], 1e-6, 1e-6));
            REQUIRE(close(fast[i], want[i], 0.0, 2e-6 + 4.0 * angle_err));
          }
        }
      }
    }
  }
}

TEST_CASE("rope: the ggml recipe is ggml's float chain", "[nn][rope]") {
  // theta_scale = powf(base, -2/n_rot); theta_0 = float(pos); theta_{i+1} = theta_i * theta_scale (float).
  const nn::rope_table table({.n_rot = 64, .theta_base = 100000.0f}, 4096);
  const float theta_scale = std::pow(100000.0f, -2.0f / 64.0f);
  for (const std::size_t pos : {0u, 1u, 100u, 4095u}) {
    float theta = float(pos);
    for (std::size_t i = 0; i < 32; ++i) {
      REQUIRE(table.cos(pos)[i] == std::cos(theta));
      REQUIRE(table.sin(pos)[i] == std::sin(theta));
      theta *= theta_scale;
    }
  }
}

TEST_CASE("rope: pairing of normal vs neox, untouched tail, position 0", "[nn][rope]") {
  const std::size_t head_dim = 8;
  for (const auto mode : {nn::rope_mode::normal, nn::rope_mode::neox}) {
    const nn::rope_table table({.n_rot = 6, .theta_base = 10000.0f, .mode = mode}, 16);
    std::vector<float> x(head_dim, 0.0f);
    x[0] = 1.0f;
    nn::rope(x, 1, 1, head_dim, 3, table);
    const std::size_t partner = mode == nn::rope_mode::normal ? 1 : 3;
    CHECK(close(x[0], std::cos(3.0), 0.0, 1e-6));
    CHECK(close(x[partner], std::sin(3.0), 0.0, 1e-6));
    for (std::size_t j = 0; j < head_dim; ++j) {
      if (j != 0 && j != partner) REQUIRE(x[j] == 0.0f);
    }
    auto y = random_floats(2 * head_dim, 9);
    const auto y0 = y;
    nn::rope(y, 1, 2, head_dim, 0, table);  // angle 0: identity
    REQUIRE(y == y0);
    nn::rope(y, 1, 2, head_dim, 5, table);
    REQUIRE(y[6] == y0[6]);  // beyond n_rot
    REQUIRE(y[7] == y0[7]);
    REQUIRE(y[head_dim + 7] == y0[head_dim + 7]);
  }
}

TEST_CASE("rope: threads give identical results", "[nn][rope]") {
  const nn::rope_table table({.n_rot = 64, .theta_base = 100000.0f}, 1024);
  const auto x = random_floats(512 * 9 * 64, 4);
  auto one = x, two = x;
  nn::rope(one, 512, 9, 64, 3, table, lowbit::threads{1});
  nn::rope(two, 512, 9, 64, 3, table, lowbit::threads{2});
  REQUIRE(one == two);
}

TEST_CASE("rope: bad configurations and sizes throw naming the argument", "[nn][rope][errors]") {
  const nn::rope_table table({.n_rot = 4, .theta_base = 10000.0f}, 8);
  std::vector<float> x(2 * 3 * 4);
  auto msg = nn_test::error_message([&] { nn::rope(x, 2, 3, 4, 7, table); }, lowbit::errc::out_of_range);
  CHECK(msg.find("pos = 7") != std::string::npos);
  CHECK(msg.find("n_ctx = 8") != std::string::npos);
  msg = nn_test::error_message([&] { nn::rope(x, 2, 3, 5, 0, table); }, lowbit::errc::shape_mismatch);
  CHECK(msg.find("x has 24 elements, expected 30") != std::string::npos);
  msg = nn_test::error_message([&] { nn::rope(x, 4, 3, 2, 0, table); }, lowbit::errc::shape_mismatch);
  CHECK(msg.find("n_rot = 4 exceeds head_dim = 2") != std::string::npos);
  msg = nn_test::error_message([] { nn::rope_table({.n_rot = 5}, 8); }, lowbit::errc::invalid_argument);
  CHECK(msg.find("n_rot") != std::string::npos);
  nn_test::error_message([] { nn::rope_table({.n_rot = 4, .theta_base = -1.0f}, 8); }, lowbit::errc::invalid_argument);
  nn_test::error_message([] { nn::rope_table({.n_rot = 4}, 0); }, lowbit::errc::invalid_argument);
}

TEST_CASE("rope: Gemma 3's two NeoX tables (head_dim 256, bases 1e4 and 1e6) == ggml's float chain",
          "[nn][rope][neox]") {
  // llama.cpp (gemma3): NeoX pairs (i, i + 128) over all 256 dimensions, sliding-window layers
  // with rope_freq_base_train_swa (10000 unless the file says otherwise), global layers with the
  // file's rope.freq_base (1e6). One table per base; a layer picks its table. The rotation is
  // ggml's rotate_pairs as GCC contracts it: (fma(x0, c, -(x1 s)), fma(x0, s, x1 c)), with cos / sin
  // of ggml's float angle chain.
  const std::size_t hd = 256, n_heads = 4, M = 5;
  for (const float base : {10000.0f, 1000000.0f}) {
    const nn::rope_table table({.n_rot = hd, .theta_base = base, .mode = nn::rope_mode::neox}, 2048);
    const float theta_scale = std::pow(base, -2.0f / float(hd));
    for (const std::size_t pos : {0u, 1u, 511u, 2040u}) {
      const auto x0 = random_floats(M * n_heads * hd, unsigned(pos) + 3, -3.0f, 3.0f);
      auto x = x0;
      const std::size_t n = std::min<std::size_t>(M, 2048 - pos);
      x.resize(n * n_heads * hd);
      nn::rope(x, n, n_heads, hd, pos, table);
      for (std::size_t t = 0; t < n; ++t) {
        float theta = float(pos + t);
        for (std::size_t i = 0; i < hd / 2; ++i) {
          const float c = std::cos(theta), s = std::sin(theta);
          for (std::size_t h = 0; h < n_heads; ++h) {
            const std::size_t row = (t * n_heads + h) * hd;
            const float a = x0[row + i], b = x0[row + i + hd / 2];
            INFO("base " << base << " position " << pos + t << " head " << h << " pair " << i);
            REQUIRE(x[row + i] == std::fma(a, c, -(b * s)));
            REQUIRE(x[row + i + hd / 2] == std::fma(a, s, b * c));
          }
          theta *= theta_scale;
        }
      }
    }
  }
  const nn::rope_table local({.n_rot = hd, .theta_base = 10000.0f, .mode = nn::rope_mode::neox}, 8);
  const nn::rope_table global({.n_rot = hd, .theta_base = 1000000.0f, .mode = nn::rope_mode::neox}, 8);
  CHECK(local.cos(3)[0] == global.cos(3)[0]);  // i = 0: angle = pos for every base
  CHECK(local.cos(3)[1] != global.cos(3)[1]);
}
