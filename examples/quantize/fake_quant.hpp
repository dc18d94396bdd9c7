// SPDX-License-Identifier: Apache-2.0
// Copyright lowbit contributors
// lowbit-quantize --fake-quant SPEC: re-quantizes a weight matrix with one of lowbit's parametric
// formats (formats that no GGUF type stores) and decodes it back to f32, so that any GGUF reader
// (llama.cpp's llama-perplexity in scripts/accuracy_table.sh) can measure the accuracy the format
// keeps. The bits per weight are the format's, not the F32 file's.
#pragma once

#include <cstddef>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "lowbit/core/error.hpp"
#include "lowbit/core/matrix_view.hpp"
#include "lowbit/formats/quant/codes.hpp"
#include "lowbit/formats/quant/granularity.hpp"
#include "lowbit/formats/quant/quant.hpp"
#include "lowbit/formats/quant/scale.hpp"
#include "lowbit/formats/quant/zero_point.hpp"
#include "lowbit/quant/quantized_matrix.hpp"

namespace quantize_tool {

/// The parametric formats --fake-quant offers, by name.
using int8_per_channel = lowbit::quant<lowbit::int_code<8, true>, lowbit::scale_f32, lowbit::per_channel>;
using int4_g32_asym =
    lowbit::quant<lowbit::int_code<4, false>, lowbit::scale_f16, lowbit::per_group<32>, lowbit::asymmetric>;
using nf4_g64 = lowbit::quant<lowbit::nf4, lowbit::scale_f16, lowbit::per_group<64>>;
using fp8_e4m3_per_channel = lowbit::quant<lowbit::fp8_e4m3, lowbit::scale_f32, lowbit::per_channel>;
using mxfp4_g32 = lowbit::quant<lowbit::fp4_e2m1, lowbit::scale_e8m0, lowbit::per_group<32>>;
using binary_g128 = lowbit::quant<lowbit::binary, lowbit::scale_f16, lowbit::per_group<128>>;
/// binary_g128's fallback for rows whose length 128 does not divide (SmolLM2's 576-wide rows), as
/// llama.cpp falls back to another type when a row is not a multiple of a K-quant's 256.
using binary_g64 = lowbit::quant<lowbit::binary, lowbit::scale_f16, lowbit::per_group<64>>;

/// The spellings accepted by --fake-quant.
inline constexpr std::string_view fake_quant_names[] = {"int8_per_channel",     "int4_g32_asym", "nf4_g64",
                                                        "fp8_e4m3_per_channel", "mxfp4_g32",     "binary_g128"};

/// What fake_quantize did to one matrix.
struct fake_quant_result {
  std::vector<float> decoded;  ///< (N, K): dequantize(quantize(W))
  double bits_per_weight = 0;  ///< of the packed format (codes, scales, zero points)
  std::size_t packed_bytes = 0;
};

namespace detail {
template <class Q>
fake_quant_result run(std::span<const float> w, std::size_t rows, std::size_t cols, lowbit::quantize_method method) {
  const lowbit::matrix_view<const float> view(w.data(), rows, cols);
  const auto q = lowbit::quantize<Q>(view, {.method = method});
  fake_quant_result r;
  r.decoded = lowbit::dequantize(q);
  r.bits_per_weight = Q::bits_per_weight(rows, cols);
  r.packed_bytes = static_cast<std::size_t>(r.bits_per_weight * static_cast<double>(rows * cols) / 8.0 + 0.5);
  return r;
}
}  // namespace detail

/// Quantizes W(rows, cols) with the format named `spec` and decodes it (binary_g128 uses groups
/// of 64 when 128 does not divide `cols`). The 8-bit per-channel formats use round to nearest
/// with the absmax scale (the clipping search gains < 1 % there); the 1- and 4-bit group formats
/// the clipping search (least squared error), the choice a user makes for accuracy.
/// throws lowbit::error{errc::invalid_argument} for an unknown spec, and what lowbit::quantize
/// throws (a K the group does not divide, NaN/Inf weights).
inline fake_quant_result fake_quantize(std::string_view spec, std::span<const float> w, std::size_t rows,
                                       std::size_t cols) {
  constexpr auto rtn = lowbit::quantize_method::round_to_nearest;
  constexpr auto clip = lowbit::quantize_method::clip_search;
  if (spec == "int8_per_channel") return detail::run<int8_per_channel>(w, rows, cols, rtn);
  if (spec == "int4_g32_asym") return detail::run<int4_g32_asym>(w, rows, cols, clip);
  if (spec == "nf4_g64") return detail::run<nf4_g64>(w, rows, cols, clip);
  if (spec == "fp8_e4m3_per_channel") return detail::run<fp8_e4m3_per_channel>(w, rows, cols, rtn);
  if (spec == "mxfp4_g32") return detail::run<mxfp4_g32>(w, rows, cols, clip);
  if (spec == "binary_g128") {
    return cols % 128 == 0 ? detail::run<binary_g128>(w, rows, cols, clip)
                           : detail::run<binary_g64>(w, rows, cols, clip);
  }
  std::string names;
  for (auto n : fake_quant_names) names += std::string(names.empty() ? "" : ", ") + std::string(n);
  throw lowbit::error(lowbit::errc::invalid_argument,
                      "--fake-quant: unknown format '" + std::string(spec) + "' (known: " + names + ")");
}

}  // namespace quantize_tool
