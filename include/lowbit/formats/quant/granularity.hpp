// SPDX-License-Identifier: Apache-2.0
// Copyright lowbit contributors
#pragma once

#include <concepts>
#include <cstddef>
#include <string>
#include <string_view>

#include "lowbit/core/error.hpp"
#include "lowbit/core/exact_fp.hpp"

LOWBIT_EXACT_FP_BEGIN

namespace lowbit {

/// Which elements of W(N, K) share one scale (and zero point).
///
/// A model `G` provides `G::name`, `G::group_size` (consecutive K elements of a row sharing a scale;
/// 0 when the whole row shares it), `G::block_rows` (rows sharing a scale; 0 for all rows) and
/// - `G::check_shape(N, K)`: throws lowbit::error{errc::shape_mismatch} when K (or N) does not
///   divide into the groups;
/// - `G::scale_rows(N)`, `G::scale_cols(K)`: the shape of the scale matrix;
/// - `G::scale_row(n)`, `G::scale_col(k)`: which scale element (n, k) uses.
template <class G>
concept quant_granularity = requires(std::size_t n) {
  { G::name } -> std::convertible_to<std::string_view>;
  { G::group_size } -> std::convertible_to<std::size_t>;
  { G::block_rows } -> std::convertible_to<std::size_t>;
  G::check_shape(n, n);
  { G::scale_rows(n) } -> std::same_as<std::size_t>;
  { G::scale_cols(n) } -> std::same_as<std::size_t>;
  { G::scale_row(n) } -> std::same_as<std::size_t>;
  { G::scale_col(n) } -> std::same_as<std::size_t>;
};

/// One scale for the whole matrix: scales shaped (1, 1).
struct per_tensor {
  static constexpr std::string_view name = "per_tensor";
  static constexpr std::size_t group_size = 0;
  static constexpr std::size_t block_rows = 0;
  static void check_shape(std::size_t, std::size_t) noexcept {}
  static constexpr std::size_t scale_rows(std::size_t) noexcept { return 1; }
  static constexpr std::size_t scale_cols(std::size_t) noexcept { return 1; }
  static constexpr std::size_t scale_row(std::size_t) noexcept { return 0; }
  static constexpr std::size_t scale_col(std::size_t) noexcept { return 0; }
};

/// One scale per output channel (row n of W): scales shaped (N, 1).
struct per_channel {
  static constexpr std::string_view name = "per_channel";
  static constexpr std::size_t group_size = 0;
  static constexpr std::size_t block_rows = 1;
  static void check_shape(std::size_t, std::size_t) noexcept {}
  static constexpr std::size_t scale_rows(std::size_t n) noexcept { return n; }
  static constexpr std::size_t scale_cols(std::size_t) noexcept { return 1; }
  static constexpr std::size_t scale_row(std::size_t n) noexcept { return n; }
  static constexpr std::size_t scale_col(std::size_t) noexcept { return 0; }
};

/// One scale per `GroupSize` consecutive elements of a row: scales shaped (N, K / GroupSize).
/// K must be divisible by GroupSize.
template <std::size_t GroupSize>
struct per_group {
  static_assert(GroupSize > 0, "lowbit: per_group<G> needs a group size G > 0");
  static constexpr std::string_view name = "per_group";
  static constexpr std::size_t group_size = GroupSize;
  static constexpr std::size_t block_rows = 1;
  /// throws lowbit::error{errc::shape_mismatch} if K % GroupSize != 0.
  static void check_shape(std::size_t, std::size_t k) {
    check(k % GroupSize == 0, errc::shape_mismatch, [&] {
      return "per_group<" + std::to_string(GroupSize) + ">: K = " + std::to_string(k) +
             " is not divisible by the group size";
    });
  }
  static constexpr std::size_t scale_rows(std::size_t n) noexcept { return n; }
  static constexpr std::size_t scale_cols(std::size_t k) noexcept { return k / GroupSize; }
  static constexpr std::size_t scale_row(std::size_t n) noexcept { return n; }
  static constexpr std::size_t scale_col(std::size_t k) noexcept { return k / GroupSize; }
};

/// One scale per 2-D block of `Rows` x `Cols` elements: scales shaped (N / Rows, K / Cols).
/// N must be divisible by Rows and K by Cols.
template <std::size_t Rows, std::size_t Cols>
struct per_block {
  static_assert(Rows > 0 && Cols > 0, "lowbit: per_block<R, C> needs R > 0 and C > 0");
  static constexpr std::string_view name = "per_block";
  static constexpr std::size_t group_size = Cols;
  static constexpr std::size_t block_rows = Rows;
  /// throws lowbit::error{errc::shape_mismatch} if N % Rows != 0 or K % Cols != 0.
  static void check_shape(std::size_t n, std::size_t k) {
    check(n % Rows == 0 && k % Cols == 0, errc::shape_mismatch, [&] {
      return "per_block<" + std::to_string(Rows) + ", " + std::to_string(Cols) + ">: W is " + std::to_string(n) +
             " x " + std::to_string(k) + ", not a whole number of blocks";
    });
  }
  static constexpr std::size_t scale_rows(std::size_t n) noexcept { return n / Rows; }
  static constexpr std::size_t scale_cols(std::size_t k) noexcept { return k / Cols; }
  static constexpr std::size_t scale_row(std::size_t n) noexcept { return n / Rows; }
  static constexpr std::size_t scale_col(std::size_t k) noexcept { return k / Cols; }
};

}  // namespace lowbit

LOWBIT_EXACT_FP_END
