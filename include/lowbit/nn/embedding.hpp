// SPDX-License-Identifier: Apache-2.0
// Copyright lowbit contributors
#pragma once

#include <algorithm>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

#include "lowbit/core/error.hpp"
#include "lowbit/nn/detail/checks.hpp"

namespace lowbit::nn {

/// A callable that writes one decoded table row: `decode(row, out)` fills `out` (dim floats) with
/// row `row` of an (n_vocab, dim) table, for any `row < n_vocab`. Used for quantized tables (a
/// Q8_0 `token_embd` dequantizes its row here).
template <class F>
concept row_decoder = std::invocable<F&, std::size_t, std::span<float>>;

namespace detail {

inline void check_embedding_args(std::size_t n_vocab, std::size_t dim, std::span<const std::int32_t> tokens,
                                 std::span<float> out) {
  check_extent("embedding", "out", out.size(), tokens.size() * dim, "n_tokens * dim");
  for (std::size_t i = 0; i < tokens.size(); ++i) {
    check(tokens[i] >= 0 && static_cast<std::size_t>(tokens[i]) < n_vocab, errc::out_of_range, [&] {
      return "embedding: tokens[" + std::to_string(i) + "] = " + std::to_string(tokens[i]) +
             " is outside [0, n_vocab = " + std::to_string(n_vocab) + ")";
    });
  }
}

}  // namespace detail

/// Embedding lookup from an f32 table: row gather.
///
/// `out[i, :] = table[tokens[i], :]`.
///
/// Shapes (row-major, contiguous): `table: (n_vocab, dim)`, `tokens: (n_tokens)`,
/// `out: (n_tokens, dim)`. Units: those of the table.
///
/// throws lowbit::error{errc::shape_mismatch} if table does not hold n_vocab * dim elements or out
/// does not hold n_tokens * dim; errc::out_of_range naming the index and value of the first token
/// outside [0, n_vocab). All checks happen before anything is written.
///
/// No allocation. `out` must not overlap `table`.
///
/// Source: the token embedding of Vaswani et al., arXiv:1706.03762; ggml's ggml_get_rows.
inline void embedding(std::span<const float> table, std::size_t n_vocab, std::size_t dim,
                      std::span<const std::int32_t> tokens, std::span<float> out) {
  detail::check_extent("embedding", "table", table.size(), n_vocab * dim, "n_vocab * dim");
  detail::check_embedding_args(n_vocab, dim, tokens, out);
  for (std::size_t i = 0; i < tokens.size(); ++i) {
    const float* row = table.data() + static_cast<std::size_t>(tokens[i]) * dim;
    std::copy(row, row + dim, out.data() + i * dim);
  }
}

/// Embedding lookup from a table reached through a row decoder (a quantized table).
///
/// `decode(tokens[i], out[i, :])` for each i, in order.
///
/// Shapes: the table is (n_vocab, dim) behind `decode`; `tokens: (n_tokens)`,
/// `out: (n_tokens, dim)`, row-major. Units: those of the decoded table.
///
/// throws lowbit::error{errc::shape_mismatch} if out does not hold n_tokens * dim elements;
/// errc::out_of_range naming the index and value of the first token outside [0, n_vocab). All
/// checks happen before `decode` is called; whatever `decode` throws propagates.
///
/// No allocation here; `decode` is called with a span of exactly dim floats.
///
/// Source: ggml's ggml_get_rows (which dequantizes the gathered rows of a quantized table).
template <row_decoder Decode>
void embedding(Decode&& decode, std::size_t n_vocab, std::size_t dim, std::span<const std::int32_t> tokens,
               std::span<float> out) {
  detail::check_embedding_args(n_vocab, dim, tokens, out);
  for (std::size_t i = 0; i < tokens.size(); ++i) {
    decode(static_cast<std::size_t>(tokens[i]), out.subspan(i * dim, dim));
  }
}

}  // namespace lowbit::nn
