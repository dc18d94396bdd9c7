// SPDX-License-Identifier: Apache-2.0
// Copyright lowbit contributors
#pragma once

#include <cstddef>
#include <cstring>
#include <span>
#include <string>

#include "lowbit/core/error.hpp"
#include "lowbit/core/format.hpp"
#include "lowbit/quant/weight_view.hpp"

namespace lowbit {

/// Decodes a row of blocks of format F: `src` holds n / F::block_size blocks, `dst` n floats.
///
/// throws lowbit::error{errc::shape_mismatch} if dst.size() is not a multiple of F::block_size or
/// src.size() is not dst.size() / block_size * block_bytes. `src` may be unaligned.
template <format F>
void dequantize_row(std::span<const std::byte> src, std::span<float> dst) {
  check(dst.size() % F::block_size == 0, errc::shape_mismatch, [&] {
    return "dequantize_row<" + std::string(F::name) + ">: " + std::to_string(dst.size()) +
           " elements is not a multiple of the block size " + std::to_string(F::block_size);
  });
  const std::size_t n_blocks = dst.size() / F::block_size;
  check(src.size() == n_blocks * F::block_bytes, errc::shape_mismatch, [&] {
    return "dequantize_row<" + std::string(F::name) + ">: " + std::to_string(dst.size()) + " elements need " +
           std::to_string(n_blocks * F::block_bytes) + " bytes, got " + std::to_string(src.size());
  });
  for (std::size_t b = 0; b < n_blocks; ++b) {
    typename F::block block;
    std::memcpy(&block, src.data() + b * F::block_bytes, F::block_bytes);
    F::dequantize_block(block, dst.data() + b * F::block_size);
  }
}

/// Decodes row `n` of W into `dst` (W.cols floats).
/// throws lowbit::error{errc::out_of_range} if n >= W.rows, {errc::shape_mismatch} if dst.size() != W.cols.
template <format F>
void dequantize_row(const weight_view<F>& w, std::size_t n, std::span<float> dst) {
  check(n < w.rows, errc::out_of_range, [&] {
    return "dequantize_row<" + std::string(F::name) + ">: row " + std::to_string(n) + " of " + std::to_string(w.rows);
  });
  check(dst.size() == w.cols, errc::shape_mismatch, [&] {
    return "dequantize_row<" + std::string(F::name) + ">: destination has " + std::to_string(dst.size()) +
           " elements, the row has " + std::to_string(w.cols);
  });
  const auto* blocks = w.row(n);
  for (std::size_t b = 0; b < w.blocks_per_row(); ++b) F::dequantize_block(blocks[b], dst.data() + b * F::block_size);
}

}  // namespace lowbit
