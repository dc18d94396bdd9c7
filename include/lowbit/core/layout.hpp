// SPDX-License-Identifier: Apache-2.0
// Copyright lowbit contributors
#pragma once

#include <concepts>
#include <cstddef>
#include <string_view>

namespace lowbit {

/// A layout policy: how the blocks of a matrix lie in memory. A model `L` has `L::name`.
template <class L>
concept layout_policy = requires {
  { L::name } -> std::convertible_to<std::string_view>;
};

/// Row-major W(N, K): row n's blocks are contiguous, rows follow each other. What GGUF files hold.
struct row_major {
  static constexpr std::string_view name = "row_major";
};

/// Panels of `NR` rows interleaved in groups of `KR` consecutive K elements per row, so that one
/// SIMD register holds `KR` codes of each of `NR` rows (the layout the integer-dot microkernels
/// read). Made from row_major by an explicit `pack`, reversible by `unpack`; ISA-independent bytes.
template <std::size_t NR, std::size_t KR>
struct k_packed {
  static constexpr std::size_t nr = NR;
  static constexpr std::size_t kr = KR;
  static constexpr std::string_view name = "k_packed";
};

}  // namespace lowbit
