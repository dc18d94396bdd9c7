// SPDX-License-Identifier: Apache-2.0
// Copyright lowbit contributors
#pragma once

#include <algorithm>
#include <cstddef>

#include "lowbit/core/parallel.hpp"

namespace lowbit::simd_detail {

/// Splits an (M rows) x (panels) GEMM over threads: panels first (each thread streams its own
/// weights once), and for few panels with many rows, row blocks as well.
template <class Body>
inline void for_each_panel_tile(threads t, std::size_t panels, std::size_t m, Body&& body) {
  const std::size_t row_block = 64;
  const std::size_t row_blocks = (m + row_block - 1) / row_block;
  if (panels >= static_cast<std::size_t>(t.count) * 4 || row_blocks == 1) {
    parallel_for(t, panels, 1, [&](std::size_t p0, std::size_t p1) {
      for (std::size_t rb = 0; rb < row_blocks; ++rb) {
        for (std::size_t p = p0; p < p1; ++p) body(p, rb * row_block, std::min(m, (rb + 1) * row_block));
      }
    });
  } else {
    parallel_for(t, panels * row_blocks, 1, [&](std::size_t u0, std::size_t u1) {
      for (std::size_t u = u0; u < u1; ++u) {
        const std::size_t rb = u / panels, p = u % panels;
        body(p, rb * row_block, std::min(m, (rb + 1) * row_block));
      }
    });
  }
}

}  // namespace lowbit::simd_detail
