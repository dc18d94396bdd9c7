// SPDX-License-Identifier: Apache-2.0
// Copyright lowbit contributors
#include <cmath>
#include <limits>
#include <vector>

#include "catch.hpp"
#include "lowbit/nn/softmax.hpp"
#include "nn_test_support.hpp"

namespace nn = lowbit::nn;
using nn_test::close;
using nn_test::random_floats;

namespace {

std::vector<double> softmax_double(const std::vector<float>& x, std::size_t rows, std::size_t cols) {
  std::vector<double> y(rows * cols);
  for (std::size_t r = 0; r < rows; ++r) {
    double m = -std::numeric_limits<double>::infinity();
    for (std::size_t j = 0; j < cols; ++j) m = std::max(m, double(x[r * cols + j]));
    double sum = 0.0;
    for (std::size_t j = 0; j < cols; ++j) sum += std::exp(double(x[r * cols + j]) - m);
    for (std::size_t j = 0; j < cols; ++j) y[r * cols + j] = std::exp(double(x[r * cols + j]) - m) / sum;
  }
  return y;
}

}  // namespace

TEST_CASE("softmax: simd == reference on odd sizes", "[nn][softmax][simd]") {
  for (std::size_t cols : nn_test::odd_sizes) {
    const std::size_t rows = 3;
    const auto x = random_floats(rows * cols, 100 + unsigned(cols), -8.0f, 8.0f);
    std::vector<float> fast(rows * cols), ref(rows * cols);
    nn::softmax(x, fast, rows, cols);
    nn::reference::softmax(x, ref, rows, cols);
    for (std::size_t i = 0; i < fast.size(); ++i) {
      INFO("cols " << cols << " i " << i);
      REQUIRE(close(fast[i], ref[i], 2e-6, 1e-30));
    }
  }
}

TEST_CASE("softmax: simd and reference match double-precision math", "[nn][softmax]") {
  for (std::size_t cols : nn_test::odd_sizes) {
    const std::size_t rows = 2;
    const auto x = random_floats(rows * cols, 200 + unsigned(cols), -20.0f, 20.0f);
    const auto want = softmax_double(x, rows, cols);
    std::vector<float> fast(rows * cols), ref(rows * cols);
    nn::softmax(x, fast, rows, cols);
    nn::reference::softmax(x, ref, rows, cols);
    for (std::size_t r = 0; r < rows; ++r) {
      double sum = 0.0;
      for (std::size_t j = 0; j < cols; ++j) {
        const std::size_t i = r * cols + j;
        INFO("cols " << cols << " i " << i);
        REQUIRE(close(fast[i], want[i], 3e-6, 1e-37));
        REQUIRE(close(ref[i], want[i], 3e-6, 1e-37));
        sum += fast[i];
      }
      REQUIRE(close(sum, 1.0, 1e-5, 0.0));
    }
  }
}

TEST_CASE("softmax: large logits, masked entries, in place, threads", "[nn][softmax]") {
  const float inf = std::numeric_limits<float>::infinity();
  std::vector<float> x{1000.0f, 999.0f, -inf, 1000.0f, -inf};
  std::vector<float> y(5);
  nn::softmax(x, y, 1, 5);
  const double e = std::exp(-1.0);
  CHECK(close(y[0], 1.0 / (2.0 + e), 1e-6, 0.0));
  CHECK(close(y[1], e / (2.0 + e), 1e-6, 0.0));
  CHECK(y[2] == 0.0f);
  CHECK(y[4] == 0.0f);

  const std::size_t rows = 200, cols = 65;
  const auto z = random_floats(rows * cols, 7, -5.0f, 5.0f);
  std::vector<float> one(rows * cols), two(rows * cols), inplace = z;
  nn::softmax(z, one, rows, cols, lowbit::threads{1});
  nn::softmax(z, two, rows, cols, lowbit::threads{2});
  nn::softmax(inplace, inplace, rows, cols);
  REQUIRE(one == two);
  REQUIRE(one == inplace);
}

TEST_CASE("softmax: wrong sizes throw naming the argument", "[nn][softmax][errors]") {
  std::vector<float> x(6), y(6), bad(5);
  auto msg = nn_test::error_message([&] { nn::softmax(bad, y, 2, 3); }, lowbit::errc::shape_mismatch);
  CHECK(msg.find("x has 5") != std::string::npos);
  CHECK(msg.find("expected 6") != std::string::npos);
  msg = nn_test::error_message([&] { nn::reference::softmax(x, bad, 2, 3); }, lowbit::errc::shape_mismatch);
  CHECK(msg.find("y has 5") != std::string::npos);
}
