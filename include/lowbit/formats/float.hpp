// SPDX-License-Identifier: Apache-2.0
// Copyright lowbit contributors
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "lowbit/core/fp16.hpp"
#include "lowbit/formats/ggml/type.hpp"
#include "lowbit/core/exact_fp.hpp"

LOWBIT_EXACT_FP_BEGIN

namespace lowbit {

/// IEEE binary32 as a format of block size 1 (GGUF type F32). Decode is the identity.
struct f32 {
  struct block {
    float value;
  };
  static constexpr ggml::type type_id = ggml::type::f32;
  static constexpr std::string_view name = "F32";
  static constexpr std::size_t block_size = 1;
  static constexpr std::size_t block_bytes = 4;
  static void dequantize_block(const block& b, float* out) noexcept { *out = b.value; }
  static void quantize_block(const float* x, block& out) noexcept { out.value = *x; }
};

/// IEEE binary16 as a format of block size 1 (GGUF type F16); encode rounds to nearest-even.
struct f16 {
  struct block {
    std::uint16_t bits;
  };
  static constexpr ggml::type type_id = ggml::type::f16;
  static constexpr std::string_view name = "F16";
  static constexpr std::size_t block_size = 1;
  static constexpr std::size_t block_bytes = 2;
  static void dequantize_block(const block& b, float* out) noexcept { *out = fp16_to_f32(b.bits); }
  static void quantize_block(const float* x, block& out) noexcept { out.bits = f32_to_fp16(*x); }
};

/// bfloat16 as a format of block size 1 (GGUF type BF16); encode rounds to nearest-even.
struct bf16 {
  struct block {
    std::uint16_t bits;
  };
  static constexpr ggml::type type_id = ggml::type::bf16;
  static constexpr std::string_view name = "BF16";
  static constexpr std::size_t block_size = 1;
  static constexpr std::size_t block_bytes = 2;
  static void dequantize_block(const block& b, float* out) noexcept { *out = bf16_to_f32(b.bits); }
  static void quantize_block(const float* x, block& out) noexcept { out.bits = f32_to_bf16(*x); }
};

}  // namespace lowbit

LOWBIT_EXACT_FP_END
