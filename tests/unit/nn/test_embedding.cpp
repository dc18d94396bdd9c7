// SPDX-License-Identifier: Apache-2.0
// Copyright lowbit contributors
#include <cstdint>
#include <vector>

#include "catch.hpp"
#include "lowbit/nn/embedding.hpp"
#include "nn_test_support.hpp"

namespace nn = lowbit::nn;

TEST_CASE("embedding: f32 table gathers rows", "[nn][embedding]") {
  const std::size_t n_vocab = 7, dim = 65;
  const auto table = nn_test::random_floats(n_vocab * dim, 1);
  const std::vector<std::int32_t> tokens{3, 0, 6, 3};
  std::vector<float> out(tokens.size() * dim);
  nn::embedding(table, n_vocab, dim, tokens, out);
  for (std::size_t i = 0; i < tokens.size(); ++i) {
    for (std::size_t d = 0; d < dim; ++d) REQUIRE(out[i * dim + d] == table[std::size_t(tokens[i]) * dim + d]);
  }
}

TEST_CASE("embedding: a row decoder serves a quantized table", "[nn][embedding]") {
  // A toy per-row int8 table: real = scale[row] * code.
  const std::size_t n_vocab = 5, dim = 17;
  std::vector<std::int8_t> codes(n_vocab * dim);
  for (std::size_t i = 0; i < codes.size(); ++i) codes[i] = static_cast<std::int8_t>(int(i * 37 % 255) - 127);
  const std::vector<float> scales{0.5f, 0.25f, 2.0f, 1.0f, 0.125f};
  std::vector<std::size_t> calls;
  auto decode = [&](std::size_t row, std::span<float> out_row) {
    calls.push_back(row);
    REQUIRE(out_row.size() == dim);
    for (std::size_t d = 0; d < dim; ++d) out_row[d] = scales[row] * float(codes[row * dim + d]);
  };
  const std::vector<std::int32_t> tokens{4, 1, 1};
  std::vector<float> out(tokens.size() * dim);
  nn::embedding(decode, n_vocab, dim, tokens, out);
  REQUIRE(calls == std::vector<std::size_t>{4, 1, 1});
  for (std::size_t i = 0; i < tokens.size(); ++i) {
    const auto r = std::size_t(tokens[i]);
    for (std::size_t d = 0; d < dim; ++d) REQUIRE(out[i * dim + d] == scales[r] * float(codes[r * dim + d]));
  }
}

TEST_CASE("embedding: bad tokens and sizes throw before any write", "[nn][embedding][errors]") {
  const std::size_t n_vocab = 4, dim = 3;
  std::vector<float> table(n_vocab * dim, 1.0f), out(3 * dim, -5.0f);
  const std::vector<std::int32_t> bad_high{0, 1, 4}, bad_low{-1, 0, 0};
  auto msg =
      nn_test::error_message([&] { nn::embedding(table, n_vocab, dim, bad_high, out); }, lowbit::errc::out_of_range);
  CHECK(msg.find("tokens[2] = 4") != std::string::npos);
  CHECK(msg.find("n_vocab = 4") != std::string::npos);
  for (float v : out) REQUIRE(v == -5.0f);
  bool called = false;
  auto decode = [&](std::size_t, std::span<float>) { called = true; };
  msg = nn_test::error_message([&] { nn::embedding(decode, n_vocab, dim, bad_low, out); }, lowbit::errc::out_of_range);
  CHECK(msg.find("tokens[0] = -1") != std::string::npos);
  CHECK_FALSE(called);
  std::vector<float> short_out(2 * dim);
  msg = nn_test::error_message([&] { nn::embedding(table, n_vocab, dim, bad_high, short_out); },
                               lowbit::errc::shape_mismatch);
  CHECK(msg.find("out has 6") != std::string::npos);
  std::vector<float> short_table(5);
  msg = nn_test::error_message([&] { nn::embedding(short_table, n_vocab, dim, bad_high, out); },
                               lowbit::errc::shape_mismatch);
  CHECK(msg.find("table has 5") != std::string::npos);
}
