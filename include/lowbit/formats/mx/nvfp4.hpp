// SPDX-License-Identifier: Apache-2.0
// Copyright lowbit contributors
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "lowbit/core/error.hpp"
#include "lowbit/core/exact_fp.hpp"
#include "lowbit/core/format.hpp"
#include "lowbit/core/fp8.hpp"
#include "lowbit/core/minifloat.hpp"
#include "lowbit/formats/quant/packing.hpp"

LOWBIT_EXACT_FP_BEGIN

namespace lowbit::mx {

/// NVIDIA NVFP4: 16 FP4 E2M1 elements sharing one FP8 E4M3 block scale, under one f32 tensor scale.
///
/// Value: `w_i = tensor_scale * e4m3(s) * e2m1(q_i)`. The block (9 bytes, 4.5 bits per weight) holds
/// `s` (E4M3 bits) and `qs[8]` (element 2j in the low nibble of qs[j], 2j + 1 in the high nibble,
/// as `pack_codes` packs 4-bit codes). The **tensor scale is not in the blocks**: it is one f32 per
/// tensor, kept by the caller next to the blocks (see `nvfp4_tensor_scale`, `nvfp4_quantize_row`,
/// `nvfp4_dequantize_row`). So `dequantize_block` decodes `e4m3(s) * e2m1(q_i)`, the value in units
/// of the tensor scale, and a GEMM through this `lowbit::format` (gemm/reference.hpp) gives
/// x · (W / tensor_scale)ᵀ: multiply the output by the tensor scale (an epilogue), as NVIDIA's
/// kernels apply the second-level scale to the accumulator.
/// Encoding of a block of x / tensor_scale: `s = e4m3(amax_block / 6)` (round to nearest even,
/// saturating at 448), `q_i = e2m1(x_i / e4m3(s))` (round to nearest even, saturating at ±6);
/// s == 0 stores zero codes.
/// Source: NVIDIA, "Introducing NVFP4 for Efficient and Accurate Low-Precision Inference" (technical
/// blog, 2025) and the PTX ISA's block-scaled `mma` with `.kind::mxf4nvf4` (scale_vec::4X, ue4m3
/// scales); the two-level recipe of TensorRT Model Optimizer (`NVFP4QTensor`).
struct nvfp4 {
  struct block {
    std::uint8_t s;      ///< block scale, FP8 E4M3 bits (non-negative)
    std::uint8_t qs[8];  ///< 16 FP4 E2M1 codes, two per byte, low nibble first
  };
  static constexpr std::string_view name = "NVFP4";
  static constexpr std::size_t block_size = 16;
  static constexpr std::size_t block_bytes = 9;

  /// Writes the 16 values `e4m3(s) * e2m1(q_i)` (tensor scale not applied).
  static void dequantize_block(const block& b, float* out) noexcept {
    const float d = fp8_e4m3_format::to_f32(b.s);
    for (std::size_t i = 0; i < block_size; ++i) out[i] = d * fp4_e2m1_format::to_f32(packed_code(b.qs, i, 4));
  }

  /// Encodes 16 finite floats already divided by the tensor scale (see above).
  static void quantize_block(const float* x, block& out) noexcept {
    float amax = 0.0f;
    for (std::size_t i = 0; i < block_size; ++i) amax = std::max(amax, std::abs(x[i]));
    out.s = fp8_e4m3_from_f32(amax / 6.0f, true);
    const float d = fp8_e4m3_to_f32(out.s);
    std::uint8_t codes[block_size] = {};
    if (d > 0.0f) {
      for (std::size_t i = 0; i < block_size; ++i) codes[i] = fp4_e2m1_format::from_f32(x[i] / d, true);
    }
    pack_codes_unchecked(codes, block_size, 4, out.qs);
  }
};
static_assert(quantizable_format<nvfp4> && sizeof(nvfp4::block) == nvfp4::block_bytes);

namespace detail {
inline void check_nvfp4_values(std::span<const float> x, const char* what) {
  for (std::size_t i = 0; i < x.size(); ++i) {
    check(std::isfinite(x[i]), errc::invalid_argument,
          [&] { return std::string(what) + ": element " + std::to_string(i) + " is not finite"; });
  }
}
}  // namespace detail

/// The NVFP4 tensor scale of a tensor: `amax / (6 * 448)`, so that the largest element maps to the
/// largest block scale (448, E4M3) times the largest element (6, E2M1). An all-zero tensor gets 1.
/// throws lowbit::error{errc::invalid_argument} if x holds NaN or Inf.
inline float nvfp4_tensor_scale(std::span<const float> x) {
  detail::check_nvfp4_values(x, "nvfp4_tensor_scale");
  float amax = 0.0f;
  for (const float v : x) amax = std::max(amax, std::abs(v));
  return amax > 0.0f ? amax / (6.0f * 448.0f) : 1.0f;
}

/// Quantizes one row x (n floats, n a multiple of 16) to n / 16 NVFP4 blocks of `x / tensor_scale`.
/// throws lowbit::error{errc::shape_mismatch} if n % 16 != 0 or out.size() != n / 16;
/// {errc::invalid_argument} if x holds NaN/Inf or tensor_scale is not finite and > 0.
inline void nvfp4_quantize_row(std::span<const float> x, float tensor_scale, std::span<nvfp4::block> out) {
  check(x.size() % nvfp4::block_size == 0 && out.size() == x.size() / nvfp4::block_size, errc::shape_mismatch, [&] {
    return "nvfp4_quantize_row: " + std::to_string(x.size()) + " elements into " + std::to_string(out.size()) +
           " blocks of 16";
  });
  check(std::isfinite(tensor_scale) && tensor_scale > 0.0f, errc::invalid_argument,
        [&] { return "nvfp4_quantize_row: tensor scale " + std::to_string(tensor_scale) + " is not finite and > 0"; });
  detail::check_nvfp4_values(x, "nvfp4_quantize_row");
  float scaled[nvfp4::block_size];
  for (std::size_t b = 0; b < out.size(); ++b) {
    for (std::size_t i = 0; i < nvfp4::block_size; ++i) scaled[i] = x[b * nvfp4::block_size + i] / tensor_scale;
    nvfp4::quantize_block(scaled, out[b]);
  }
}

/// Decodes NVFP4 blocks with their tensor scale: `out[i] = tensor_scale * e4m3(s) * e2m1(q_i)`
/// (the block product first, then the tensor scale, in f32).
/// throws lowbit::error{errc::shape_mismatch} if out.size() != 16 * blocks.size().
inline void nvfp4_dequantize_row(std::span<const nvfp4::block> blocks, float tensor_scale, std::span<float> out) {
  check(out.size() == blocks.size() * nvfp4::block_size, errc::shape_mismatch, [&] {
    return "nvfp4_dequantize_row: " + std::to_string(blocks.size()) + " blocks into " + std::to_string(out.size()) +
           " floats";
  });
  for (std::size_t b = 0; b < blocks.size(); ++b) {
    nvfp4::dequantize_block(blocks[b], out.data() + b * nvfp4::block_size);
    for (std::size_t i = 0; i < nvfp4::block_size; ++i) out[b * nvfp4::block_size + i] *= tensor_scale;
  }
}

}  // namespace lowbit::mx

LOWBIT_EXACT_FP_END
