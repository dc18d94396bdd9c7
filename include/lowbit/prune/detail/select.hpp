// SPDX-License-Identifier: Apache-2.0
// Copyright lowbit contributors
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <numeric>
#include <string>
#include <vector>

#include "lowbit/core/error.hpp"
#include "lowbit/core/matrix_view.hpp"

namespace lowbit::prune::detail {

// Elements pruned for a sparsity over `count` elements: round(sparsity * count), halves up.
inline std::size_t pruned_count_for(double sparsity, std::size_t count, const char* what) {
  check(std::isfinite(sparsity) && sparsity >= 0.0 && sparsity <= 1.0, errc::invalid_argument,
        [&] { return std::string(what) + ": sparsity " + std::to_string(sparsity) + " is not in [0, 1]"; });
  const auto k = static_cast<std::size_t>(std::floor(sparsity * static_cast<double>(count) + 0.5));
  return std::min(k, count);
}

// Indices (into scores) of the `k` lowest scores; ties go to the lower index, so the choice is a
// function of the values alone (a total order on (score, index)).
inline std::vector<std::size_t> lowest_k(const std::vector<double>& scores, std::size_t k) {
  std::vector<std::size_t> idx(scores.size());
  std::iota(idx.begin(), idx.end(), std::size_t{0});
  const auto before = [&](std::size_t a, std::size_t b) {
    return scores[a] < scores[b] || (scores[a] == scores[b] && a < b);
  };
  if (k < idx.size()) std::nth_element(idx.begin(), idx.begin() + static_cast<std::ptrdiff_t>(k), idx.end(), before);
  idx.resize(k);
  return idx;
}

// Throws invalid_argument naming (n, k) if a value of m is NaN or infinite.
template <class T>
void check_finite(matrix_view<const T> m, const char* what, const char* tensor = "weight") {
  for (std::size_t n = 0; n < m.rows; ++n) {
    for (std::size_t k = 0; k < m.cols; ++k) {
      check(std::isfinite(m.row(n)[k]), errc::invalid_argument, [&] {
        return std::string(what) + ": " + tensor + " element (" + std::to_string(n) + ", " + std::to_string(k) +
               ") is " + (std::isnan(m.row(n)[k]) ? "NaN" : "infinite");
      });
    }
  }
}

}  // namespace lowbit::prune::detail
