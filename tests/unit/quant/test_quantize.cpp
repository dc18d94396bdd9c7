// SPDX-License-Identifier: Apache-2.0
// Copyright lowbit contributors
// quantize_row / quantize_rows: the routing to each format's encoder and the checks on bad input.

#include <cmath>
#include <cstddef>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

#include "catch.hpp"
#include "lowbit/formats/float.hpp"
#include "lowbit/formats/ggml/q4_1.hpp"
#include "lowbit/formats/ggml/q8_0.hpp"
#include "lowbit/quant/quantize.hpp"

namespace {

std::vector<float> random_floats(std::size_t n, unsigned seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> dist(0.0f, 1.0f);
  std::vector<float> v(n);
  for (auto& x : v) x = dist(rng);
  return v;
}

// The blocks quantize_block writes, one after another: the independent expectation.
template <class F>
std::vector<std::byte> blockwise(const std::vector<float>& x) {
  std::vector<std::byte> out(x.size() / F::block_size * F::block_bytes);
  for (std::size_t b = 0; b < x.size() / F::block_size; ++b) {
    typename F::block block;
    F::quantize_block(x.data() + b * F::block_size, block);
    std::memcpy(out.data() + b * F::block_bytes, &block, F::block_bytes);
  }
  return out;
}

template <class F>
void check_lowbit_error(lowbit::errc code, auto&& call) {
  try {
    call();
    FAIL("no lowbit::error thrown");
  } catch (const lowbit::error& e) {
    CHECK(e.code() == code);
    INFO(e.what());
    CHECK(std::string(e.what()).find(std::string(F::name)) != std::string::npos);
  }
}

}  // namespace

TEST_CASE("quantize_row: without importance it is quantize_block on each block", "[quant][quantize]") {
  const auto x = random_floats(32 * 7, 1);
  std::vector<std::byte> got(7 * lowbit::ggml::q8_0::block_bytes);
  lowbit::quantize_row<lowbit::ggml::q8_0>(x, got);
  CHECK(got == blockwise<lowbit::ggml::q8_0>(x));

  std::vector<std::byte> got_q41(7 * lowbit::ggml::q4_1::block_bytes);
  lowbit::quantize_row<lowbit::ggml::q4_1>(x, got_q41);
  CHECK(got_q41 == blockwise<lowbit::ggml::q4_1>(x));
}

TEST_CASE("quantize_rows: rows in parallel equal rows one by one", "[quant][quantize]") {
  constexpr std::size_t rows = 13, cols = 96;
  const auto x = random_floats(rows * cols, 2);
  using F = lowbit::ggml::q4_1;
  std::vector<std::byte> got(rows * cols / F::block_size * F::block_bytes);
  lowbit::quantize_rows<F>(x, cols, got, {}, lowbit::threads{2});
  CHECK(got == blockwise<F>(x));
}

TEST_CASE("quantize_row: bad input is a lowbit::error naming the format", "[quant][quantize][errors]") {
  using F = lowbit::ggml::q8_0;
  auto x = random_floats(64, 3);
  std::vector<std::byte> dst(2 * F::block_bytes);
  std::vector<float> x_short(x.begin(), x.begin() + 40);
  check_lowbit_error<F>(lowbit::errc::shape_mismatch, [&] { lowbit::quantize_row<F>(x_short, dst); });
  std::vector<std::byte> small(F::block_bytes);
  check_lowbit_error<F>(lowbit::errc::shape_mismatch, [&] { lowbit::quantize_row<F>(x, small); });
  const std::vector<float> wrong_importance(10, 1.0f);
  check_lowbit_error<F>(lowbit::errc::shape_mismatch, [&] { lowbit::quantize_row<F>(x, dst, wrong_importance); });

  const std::vector<std::byte> before = dst;
  x[17] = std::numeric_limits<float>::quiet_NaN();
  check_lowbit_error<F>(lowbit::errc::invalid_argument, [&] { lowbit::quantize_row<F>(x, dst); });
  x[17] = std::numeric_limits<float>::infinity();
  check_lowbit_error<F>(lowbit::errc::invalid_argument, [&] { lowbit::quantize_row<F>(x, dst); });
  CHECK(dst == before);  // nothing half-written

  x[17] = 0.5f;
  std::vector<float> negative(64, 1.0f);
  negative[3] = -1.0f;
  check_lowbit_error<F>(lowbit::errc::invalid_argument, [&] { lowbit::quantize_row<F>(x, dst, negative); });
}

TEST_CASE("quantize_row: importance on a format without a weighted encoder is unsupported", "[quant][quantize]") {
  using F = lowbit::f16;
  static_assert(!lowbit::importance_quantizable_format<F>);
  const auto x = random_floats(8, 4);
  std::vector<std::byte> dst(8 * F::block_bytes);
  const std::vector<float> importance(8, 1.0f);
  check_lowbit_error<F>(lowbit::errc::unsupported, [&] { lowbit::quantize_row<F>(x, dst, importance); });
  lowbit::quantize_row<F>(x, dst);  // without importance it works
  CHECK(dst != std::vector<std::byte>(dst.size()));
}

TEST_CASE("quantize_rows: shape errors", "[quant][quantize][errors]") {
  using F = lowbit::ggml::q4_1;
  const auto x = random_floats(64, 5);
  std::vector<std::byte> dst(2 * F::block_bytes);
  check_lowbit_error<F>(lowbit::errc::shape_mismatch, [&] { lowbit::quantize_rows<F>(x, 48, dst); });
  check_lowbit_error<F>(lowbit::errc::shape_mismatch, [&] { lowbit::quantize_rows<F>(x, 16, dst); });
  const std::vector<float> importance(64, 1.0f);
  check_lowbit_error<F>(lowbit::errc::shape_mismatch, [&] { lowbit::quantize_rows<F>(x, 32, dst, importance); });
}
