// SPDX-License-Identifier: Apache-2.0
// Copyright lowbit contributors
#pragma once

// The list of formats lowbit-quantize can read and write: lowbit's catalogue
// (lowbit/formats/gguf_formats.hpp).

#include <cstddef>
#include <span>

#include "lowbit/core/format.hpp"
#include "lowbit/formats/gguf_formats.hpp"

namespace quantize_tool {

/// Every format the tool decodes (input tensors) and encodes (output tensors): the library's
/// catalogue of GGUF types.
using quantize_formats = lowbit::gguf_formats;

/// A format whose encoder takes a whole row and an optional importance (imatrix) per element:
/// `F::quantize_row(const float* x, const float* importance, std::size_t n, block* out)`.
template <class F>
concept row_quantizable = requires(const float* x, std::size_t n, typename F::block* out) {
  F::quantize_row(x, static_cast<const float*>(nullptr), n, out);
};

/// Encodes `n` floats (n % F::block_size == 0) into n / block_size blocks at `out`, as ggml's
/// `ggml_quantize_chunk` does: `F::quantize_row` with `importance` (n floats, or null) where the format
/// has one, else `F::quantize_block` block by block (the plain float formats, which ignore importance).
template <lowbit::quantizable_format F>
void quantize_row(const float* x, const float* importance, std::size_t n, typename F::block* out) {
  if constexpr (row_quantizable<F>) {
    F::quantize_row(x, importance, n, out);
  } else {
    for (std::size_t b = 0; b < n / F::block_size; ++b) F::quantize_block(x + b * F::block_size, out[b]);
  }
}

}  // namespace quantize_tool
