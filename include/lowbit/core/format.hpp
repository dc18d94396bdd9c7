// SPDX-License-Identifier: Apache-2.0
// Copyright lowbit contributors
#pragma once

#include <concepts>
#include <cstddef>
#include <string_view>
#include <type_traits>

namespace lowbit {

/// A number format: how `block_size` consecutive elements of a row are stored in `block_bytes`
/// bytes, and how to decode them exactly.
///
/// A model `F` provides
/// - `F::block`: a trivially copyable struct whose bytes are exactly the stored block
///   (`sizeof(F::block) == F::block_bytes`, no padding, little-endian fields);
/// - `F::block_size`: elements per block; a row of K elements needs K % block_size == 0;
/// - `F::name`: the format's name as its defining source spells it ("Q4_1", "F32");
/// - `F::dequantize_block(const block&, float* out)`: writes `block_size` floats, exactly as the
///   format's definition computes them.
/// Formats are data about bytes; they hold no SIMD code (docs/design.md, "Formats").
template <class F>
concept format = requires(const typename F::block& b, float* out) {
  typename F::block;
  { F::block_size } -> std::convertible_to<std::size_t>;
  { F::block_bytes } -> std::convertible_to<std::size_t>;
  { F::name } -> std::convertible_to<std::string_view>;
  F::dequantize_block(b, out);
}
&&std::is_trivially_copyable_v<typename F::block> && sizeof(typename F::block) == F::block_bytes;

/// A format that also has an encoder: `F::quantize_block(const float* x, block& out)` reads
/// `block_size` floats and writes the block its definition's quantizer writes (for the GGUF types:
/// what ggml's `ggml_quantize_chunk` writes without an importance matrix).
template <class F>
concept quantizable_format = format<F> && requires(const float* x, typename F::block& out) {
  F::quantize_block(x, out);
};

}  // namespace lowbit
