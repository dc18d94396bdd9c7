// SPDX-License-Identifier: Apache-2.0
// Copyright lowbit contributors
#pragma once

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "lowbit/core/exact_fp.hpp"
#include "lowbit/core/format.hpp"
#include "lowbit/core/minifloat.hpp"
#include "lowbit/formats/quant/packing.hpp"

LOWBIT_EXACT_FP_BEGIN

namespace lowbit::mx {

/// The MXINT8 element: 8-bit two's complement with an implicit scale of 2^-6, values
/// `code / 64` in [-2, 127/64]. Encoding rounds to nearest even and saturates to [-128, 127].
/// Source: OCP Microscaling Formats (MX) v1.0 §5.3.4.
struct int8_element {
  static constexpr int bits = 8;
  static constexpr float max() noexcept { return 127.0f / 64.0f; }
  static constexpr float to_f32(std::uint8_t code) noexcept {
    return static_cast<float>(static_cast<std::int8_t>(code)) * (1.0f / 64.0f);
  }
  static constexpr std::uint8_t from_f32(float x, bool = true) noexcept {
    if (!(x == x)) return 0;
    float v = std::clamp(x * 64.0f, -128.0f, 127.0f);  // exact scaling by 2^6, then saturate
    float f = static_cast<float>(static_cast<std::int32_t>(v));
    if (f > v) f -= 1.0f;
    const float frac = v - f;
    if (frac > 0.5f || (frac == 0.5f && static_cast<std::int32_t>(f) % 2 != 0)) f += 1.0f;
    return static_cast<std::uint8_t>(static_cast<std::int8_t>(std::min(f, 127.0f)));
  }
};

/// An OCP MX block format: 32 elements of type `Element` sharing one E8M0 scale X = 2^(e - 127);
/// element i decodes to `X * Element::to_f32(p_i)`.
///
/// Bytes (lowbit's layout; the spec fixes the values, not the memory layout): `e` (the E8M0 scale),
/// then the 32 element codes bit-packed LSB first as `pack_codes` does (element i at bit
/// (i * bits) % 8 of byte (i * bits) / 8 of `qs`; for FP4, element 2j is the low nibble of qs[j]).
/// This is not the byte order of GGUF's MXFP4 type (ggml puts element j + 16 in the high nibble).
/// Quantization (spec §6.3, "Algorithm 1"): `shared_exp = floor(log2(max_i |V_i|)) - EmaxElem`,
/// clamped to [-127, 127]; `P_i = Element(V_i / 2^shared_exp)`, rounded to nearest even and
/// saturated to ±Element::max(). An all-zero block stores e = 0 (2^-127) and zero codes.
/// `quantize_block` takes finite input (the checked entry point `quantize_row` in
/// quant/quantize.hpp throws lowbit::error{errc::invalid_argument} on NaN/Inf).
/// Source: OCP Microscaling Formats (MX) Specification v1.0 (2023), §5 and §6.3.
template <class Element, int EmaxElem>
struct mx_block_format {
  using element_type = Element;
  static constexpr int emax_elem = EmaxElem;
  static constexpr int element_bits = Element::bits;
  static constexpr std::size_t block_size = 32;
  struct block {
    std::uint8_t e;                                   ///< shared scale, E8M0
    std::uint8_t qs[block_size * Element::bits / 8];  ///< element codes, bit-packed LSB first
  };
  static constexpr std::size_t block_bytes = 1 + block_size * Element::bits / 8;

  /// Writes the 32 values `2^(e - 127) * element(p_i)`; an E8M0 NaN scale (0xFF) gives 32 NaNs.
  static void dequantize_block(const block& b, float* out) noexcept {
    const float x = e8m0_to_f32(b.e);
    for (std::size_t i = 0; i < block_size; ++i) out[i] = x * Element::to_f32(packed_code(b.qs, i, Element::bits));
  }

  /// The spec's quantization of 32 finite floats (see above).
  static void quantize_block(const float* v, block& out) noexcept {
    float amax = 0.0f;
    for (std::size_t i = 0; i < block_size; ++i) amax = std::max(amax, std::abs(v[i]));
    std::uint8_t codes[block_size] = {};
    int shared_exp = -127;
    if (amax > 0.0f) {
      shared_exp = std::clamp(std::ilogb(amax) - EmaxElem, -127, 127);  // ilogb = floor(log2) for finite
      for (std::size_t i = 0; i < block_size; ++i) {
        const double scaled = std::ldexp(static_cast<double>(v[i]), -shared_exp);  // exact
        codes[i] = Element::from_f32(static_cast<float>(scaled), true);
      }
    } else {
      const std::uint8_t zero = Element::from_f32(0.0f, true);
      std::fill(codes, codes + block_size, zero);
    }
    out.e = e8m0_from_exponent(shared_exp);
    pack_codes_unchecked(codes, block_size, Element::bits, out.qs);
  }
};

/// MXFP4: FP4 E2M1 elements (emax 2), 17 bytes per 32 elements, 4.25 bits per weight.
struct mxfp4 : mx_block_format<fp4_e2m1_format, 2> {
  static constexpr std::string_view name = "MXFP4";
};
/// MXFP6 (E2M3): FP6 E2M3 elements (emax 2), 25 bytes per 32 elements, 6.25 bits per weight.
struct mxfp6_e2m3 : mx_block_format<fp6_e2m3_format, 2> {
  static constexpr std::string_view name = "MXFP6_E2M3";
};
/// MXFP6 (E3M2): FP6 E3M2 elements (emax 4), 25 bytes per 32 elements, 6.25 bits per weight.
struct mxfp6_e3m2 : mx_block_format<fp6_e3m2_format, 4> {
  static constexpr std::string_view name = "MXFP6_E3M2";
};
/// MXFP8 (E4M3): FP8 E4M3 elements (emax 8), 33 bytes per 32 elements, 8.25 bits per weight.
struct mxfp8_e4m3 : mx_block_format<fp8_e4m3_format, 8> {
  static constexpr std::string_view name = "MXFP8_E4M3";
};
/// MXFP8 (E5M2): FP8 E5M2 elements (emax 15), 33 bytes per 32 elements, 8.25 bits per weight.
struct mxfp8_e5m2 : mx_block_format<fp8_e5m2_format, 15> {
  static constexpr std::string_view name = "MXFP8_E5M2";
};
/// MXINT8: int8 elements with an implicit 2^-6 (emax 0), 33 bytes per 32 elements, 8.25 bits per weight.
struct mxint8 : mx_block_format<int8_element, 0> {
  static constexpr std::string_view name = "MXINT8";
};

static_assert(quantizable_format<mxfp4> && sizeof(mxfp4::block) == 17);
static_assert(quantizable_format<mxfp6_e2m3> && sizeof(mxfp6_e2m3::block) == 25);
static_assert(quantizable_format<mxfp6_e3m2> && sizeof(mxfp6_e3m2::block) == 25);
static_assert(quantizable_format<mxfp8_e4m3> && sizeof(mxfp8_e4m3::block) == 33);
static_assert(quantizable_format<mxfp8_e5m2> && sizeof(mxfp8_e5m2::block) == 33);
static_assert(quantizable_format<mxint8> && sizeof(mxint8::block) == 33);

}  // namespace lowbit::mx

LOWBIT_EXACT_FP_END
