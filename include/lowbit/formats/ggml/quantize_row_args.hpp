// SPDX-License-Identifier: Apache-2.0
// Copyright lowbit contributors
#pragma once

#include <cmath>
#include <cstddef>
#include <string>
#include <string_view>

#include "lowbit/core/error.hpp"
#include "lowbit/core/exact_fp.hpp"

LOWBIT_EXACT_FP_BEGIN

namespace lowbit::ggml::detail {

/// Validates the arguments of a GGUF format's `quantize_row(x, importance, n, out)`.
///
/// Checks that `n` is a multiple of `block_size`, that `x` and `out` are not null when `n > 0`, that
/// every `x[i]` is finite and that every `importance[i]` (when `importance` is not null) is finite and
/// non-negative (an importance matrix holds mean squared activations).
/// throws lowbit::error{errc::shape_mismatch} for a bad `n`, {errc::invalid_argument} for a null
/// pointer, a NaN or infinite input, or a negative, NaN or infinite importance; the message names the
/// format and the first offending index. Reads `n` floats of `x` (and of `importance`); allocates nothing.
inline void check_quantize_row_args(std::string_view format_name, std::size_t block_size, const float* x,
                                    const float* importance, std::size_t n, const void* out) {
  const auto prefix = [&] { return "quantize_row<" + std::string(format_name) + ">: "; };
  check(n % block_size == 0, errc::shape_mismatch, [&] {
    return prefix() + std::to_string(n) + " elements is not a multiple of the block size " + std::to_string(block_size);
  });
  if (n == 0) return;
  check(x != nullptr && out != nullptr, errc::invalid_argument,
        [&] { return prefix() + "null input or output pointer for " + std::to_string(n) + " elements"; });
  for (std::size_t i = 0; i < n; ++i) {
    check(std::isfinite(x[i]), errc::invalid_argument, [&] {
      return prefix() + "input element " + std::to_string(i) + " is " + std::to_string(x[i]) + " (must be finite)";
    });
  }
  if (importance == nullptr) return;
  for (std::size_t i = 0; i < n; ++i) {
    check(std::isfinite(importance[i]) && importance[i] >= 0.0f, errc::invalid_argument, [&] {
      return prefix() + "importance element " + std::to_string(i) + " is " + std::to_string(importance[i]) +
             " (must be finite and >= 0)";
    });
  }
}

}  // namespace lowbit::ggml::detail

LOWBIT_EXACT_FP_END
