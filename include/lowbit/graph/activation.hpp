// SPDX-License-Identifier: Apache-2.0
// Copyright lowbit contributors
#pragma once

#include <cstddef>
#include <vector>

#include "lowbit/core/matrix_view.hpp"

namespace lowbit::graph {

/// The value that flows between layers: a dense row-major f32 matrix (tokens, features) that a
/// layer may overwrite or reshape. Storage is reused across calls (resize keeps capacity).
struct activation {
  std::vector<float> data;
  std::size_t rows = 0;  ///< M, tokens
  std::size_t cols = 0;  ///< features

  void resize(std::size_t r, std::size_t c) {
    rows = r;
    cols = c;
    data.resize(r * c);
  }
  matrix_view<float> view() noexcept { return {data.data(), rows, cols}; }
  matrix_view<const float> view() const noexcept { return {data.data(), rows, cols}; }
  float* row(std::size_t i) noexcept { return data.data() + i * cols; }
  const float* row(std::size_t i) const noexcept { return data.data() + i * cols; }
};

}  // namespace lowbit::graph
