// SPDX-License-Identifier: Apache-2.0
// Copyright lowbit contributors
#pragma once

// Helpers shared by the nn tests: seeded random data, sizes to sweep, and error-message capture.

#include <cmath>
#include <cstddef>
#include <random>
#include <string>
#include <vector>

#include "catch.hpp"
#include "lowbit/core/error.hpp"

namespace nn_test {

/// Sizes that exercise SIMD tails: smaller than, equal to and just past batch widths.
inline const std::vector<std::size_t> odd_sizes{1, 3, 17, 63, 64, 65, 576};

/// n uniform floats in [lo, hi), reproducible from `seed`.
inline std::vector<float> random_floats(std::size_t n, unsigned seed, float lo = -1.0f, float hi = 1.0f) {
  std::mt19937 gen(seed);
  std::uniform_real_distribution<float> dist(lo, hi);
  std::vector<float> v(n);
  for (auto& x : v) x = dist(gen);
  return v;
}

/// Runs `f`, requires it to throw lowbit::error with `expected` code, and returns what().
template <class F>
std::string error_message(F&& f, lowbit::errc expected) {
  try {
    f();
  } catch (const lowbit::error& e) {
    CHECK(e.code() == expected);
    return e.what();
  }
  FAIL("no lowbit::error was thrown");
  return {};
}

/// True when |got - want| <= abs_tol + rel_tol * |want|.
inline bool close(double got, double want, double rel_tol, double abs_tol) {
  return std::abs(got - want) <= abs_tol + rel_tol * std::abs(want);
}

}  // namespace nn_test
