// SPDX-License-Identifier: Apache-2.0
// Copyright lowbit contributors
#include <vector>

#include "catch.hpp"
#include "lowbit/nn/elementwise.hpp"
#include "nn_test_support.hpp"

namespace nn = lowbit::nn;
using nn_test::random_floats;

TEST_CASE("elementwise: add, mul, scale are exact on odd sizes", "[nn][elementwise]") {
  for (std::size_t n : nn_test::odd_sizes) {
    const auto a = random_floats(n, 1 + unsigned(n));
    const auto b = random_floats(n, 2 + unsigned(n));
    std::vector<float> out(n);
    nn::add(a, b, out);
    for (std::size_t i = 0; i < n; ++i) REQUIRE(out[i] == a[i] + b[i]);
    nn::mul(a, b, out);
    for (std::size_t i = 0; i < n; ++i) REQUIRE(out[i] == a[i] * b[i]);
    nn::scale(a, 0.37f, out);
    for (std::size_t i = 0; i < n; ++i) REQUIRE(out[i] == 0.37f * a[i]);
  }
}

TEST_CASE("elementwise: in-place residual add and threads", "[nn][elementwise]") {
  const std::size_t n = 2 * 16384 + 17;
  const auto x = random_floats(n, 5);
  auto h = random_floats(n, 6);
  const auto h0 = h;
  std::vector<float> two(n);
  nn::add(h0, x, two, lowbit::threads{2});
  nn::add(h, x, h);
  REQUIRE(h == two);
  for (std::size_t i = 0; i < n; ++i) REQUIRE(h[i] == h0[i] + x[i]);
}

TEST_CASE("elementwise: wrong sizes throw naming the argument", "[nn][elementwise][errors]") {
  std::vector<float> a(4), b(3);
  auto msg = nn_test::error_message([&] { nn::add(a, b, a); }, lowbit::errc::shape_mismatch);
  CHECK(msg.find("add: a has 4 elements but b has 3") != std::string::npos);
  msg = nn_test::error_message([&] { nn::mul(a, a, b); }, lowbit::errc::shape_mismatch);
  CHECK(msg.find("out has 3") != std::string::npos);
  nn_test::error_message([&] { nn::scale(a, 2.0f, b); }, lowbit::errc::shape_mismatch);
}
