// SPDX-License-Identifier: Apache-2.0
// Copyright lowbit contributors
#pragma once

#include <cstddef>
#include <span>
#include <string>

#include "lowbit/core/error.hpp"
#include "lowbit/core/format.hpp"

namespace lowbit {

/// A non-owning, row-major matrix W(N, K) of format `F` in its canonical (file) layout: row n holds
/// K / F::block_size consecutive blocks, rows follow each other without padding. This is how
/// GGUF stores a 2-D tensor with ne = {K, N}.
template <format F>
struct weight_view {
  using format_type = F;
  const typename F::block* blocks = nullptr;  ///< N * (K / block_size) blocks
  std::size_t rows = 0;                       ///< N, output features
  std::size_t cols = 0;                       ///< K, input features (a multiple of block_size)

  /// Blocks per row.
  constexpr std::size_t blocks_per_row() const noexcept { return cols / F::block_size; }
  /// The first block of row n (unchecked).
  constexpr const typename F::block* row(std::size_t n) const noexcept { return blocks + n * blocks_per_row(); }
};

/// Views `bytes` as W(rows, cols) of format F.
///
/// throws lowbit::error{errc::shape_mismatch} if cols is not a multiple of F::block_size or
/// bytes.size() != rows * cols / block_size * block_bytes; {errc::invalid_argument} if the bytes
/// are not aligned for F::block.
template <format F>
weight_view<F> make_weight_view(std::span<const std::byte> bytes, std::size_t rows, std::size_t cols) {
  check(cols % F::block_size == 0, errc::shape_mismatch, [&] {
    return std::string(F::name) + " weight: K = " + std::to_string(cols) + " is not a multiple of the block size " +
           std::to_string(F::block_size);
  });
  const std::size_t expected = rows * (cols / F::block_size) * F::block_bytes;
  check(bytes.size() == expected, errc::shape_mismatch, [&] {
    return std::string(F::name) + " weight (" + std::to_string(rows) + " x " + std::to_string(cols) + "): expected " +
           std::to_string(expected) + " bytes, got " + std::to_string(bytes.size());
  });
  check(reinterpret_cast<std::uintptr_t>(bytes.data()) % alignof(typename F::block) == 0, errc::invalid_argument,
        [&] { return std::string(F::name) + " weight: data is not aligned for its block type"; });
  return {reinterpret_cast<const typename F::block*>(bytes.data()), rows, cols};
}

}  // namespace lowbit
