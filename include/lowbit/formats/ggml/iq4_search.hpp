// SPDX-License-Identifier: Apache-2.0
// Copyright lowbit contributors
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "lowbit/core/exact_fp.hpp"
#include "lowbit/core/fp16.hpp"
#include "lowbit/formats/ggml/imatrix_fit.hpp"

// The non-linear 4-bit codebook of IQ4_NL and IQ4_XS and ggml's scale search for it. Every float
// operation is written in ggml's order, without fused multiply-adds, so that the bytes equal those of
// ggml_quantize_chunk.
// Source: `kvalues_iq4nl` (ggml/src/ggml-common.h), `best_index_int8` and `quantize_row_iq4_nl_impl`
// (ggml/src/ggml-quants.c), llama.cpp vendored by llama-cpp-python 0.3.36.

LOWBIT_EXACT_FP_BEGIN

namespace lowbit::ggml::detail::iq4 {

/// The 16 code values of IQ4_NL / IQ4_XS, ascending: code q decodes to `d * values[q]`.
inline constexpr std::int8_t values[16] = {-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113};

/// The code whose value is nearest to `v` (binary search; on a tie the larger code). Values below
/// the table give 0, above it 15; NaN gives a defined code.
inline int best_index(float v) noexcept {
  if (v <= static_cast<float>(values[0])) return 0;
  if (v >= static_cast<float>(values[15])) return 15;
  int lo = 0, hi = 15;
  while (hi - lo > 1) {
    const int mid = (lo + hi) / 2;
    if (v < static_cast<float>(values[mid])) {
      hi = mid;
    } else {
      lo = mid;
    }
  }
  return v - static_cast<float>(values[hi - 1]) < static_cast<float>(values[hi]) - v ? hi - 1 : hi;
}

/// Where one super-block's encoding goes: the fp16 super-block scale, the packed codes (16 bytes per
/// 32 elements), and, for more than one sub-block, the 6-bit sub-block scales (IQ4_XS layout).
struct super_block_out {
  std::uint16_t* d;
  std::uint8_t* qs;
  std::uint16_t* scales_h;  ///< null when n_sub == 1
  std::uint8_t* scales_l;   ///< null when n_sub == 1
};

/// Encodes `32 * n_sub` floats (n_sub 1 for IQ4_NL, 8 for IQ4_XS) as ggml's `quantize_row_iq4_nl_impl`
/// does with `ntry` = 7 (the path of `ggml_quantize_chunk`).
///
/// Per 32-element sub-block: weights `w = importance * sqrt(sigma2 + x^2)` with
/// `sigma2 = 2 sum(x^2) / (32 n_sub)` (or `w = x^2` without importance); the scale is the best
/// weighted least-squares fit `sum w q x / sum w q^2` over the 15 starting inverse scales
/// `(t - 127) / max`, t in [-7, 7] (max: the signed element of largest magnitude). With one sub-block
/// the scale is stored as fp16 and codes are re-chosen for it; with several, the sub-block scales are
/// quantized to 6-bit `l` in [-32, 31] against `d = -max_scale / 32` and codes re-chosen for `d * l`.
/// Precondition: finite `x` (and `importance`); `importance` null or `32 * n_sub` floats; n_sub <= 8.
inline void quantize_super_block(const float* x, const float* importance, std::size_t n_sub,
                                 const super_block_out& out) noexcept {
  constexpr int ntry = 7;
  const std::size_t n = 32 * n_sub;
  float sigma2 = 0.0f;
  for (std::size_t j = 0; j < n; ++j) sigma2 += x[j] * x[j];
  sigma2 *= 2.0f / static_cast<float>(n);

  std::uint8_t L[256];
  float scales[8];
  float w[32];
  float max_scale = 0.0f, amax_scale = 0.0f;
  for (std::size_t ib = 0; ib < n_sub; ++ib) {
    const float* xb = x + ib * 32;
    std::uint8_t* Lb = L + ib * 32;
    if (importance != nullptr) {
      const float* qw = importance + ib * 32;
      for (std::size_t j = 0; j < 32; ++j) w[j] = qw[j] * std::sqrt(sigma2 + xb[j] * xb[j]);
    } else {
      for (std::size_t j = 0; j < 32; ++j) w[j] = xb[j] * xb[j];
    }
    float amax = 0.0f, max = 0.0f;
    for (std::size_t j = 0; j < 32; ++j) {
      const float ax = std::fabs(xb[j]);
      if (ax > amax) {
        amax = ax;
        max = xb[j];
      }
    }
    if (amax < 1e-15f) {
      scales[ib] = 0.0f;
      std::memset(Lb, 0, 32);  // re-chosen below for a zero scale
      continue;
    }
    float d = -max / static_cast<float>(values[0]);
    float id = 1.0f / d;
    float sumqx = 0.0f, sumq2 = 0.0f;
    for (std::size_t j = 0; j < 32; ++j) {
      const int l = best_index(id * xb[j]);
      Lb[j] = static_cast<std::uint8_t>(l);
      const auto q = static_cast<float>(values[l]);
      sumqx += w[j] * q * xb[j];
      sumq2 += w[j] * q * q;
    }
    d = sumq2 > 0.0f ? sumqx / sumq2 : 0.0f;
    float best = d * sumqx;
    for (int itry = -ntry; itry <= ntry; ++itry) {
      id = static_cast<float>(itry + values[0]) / max;
      sumqx = sumq2 = 0.0f;
      for (std::size_t j = 0; j < 32; ++j) {
        const auto q = static_cast<float>(values[best_index(id * xb[j])]);
        sumqx += w[j] * q * xb[j];
        sumq2 += w[j] * q * q;
      }
      if (sumq2 > 0.0f && sumqx * sumqx > best * sumq2) {
        d = sumqx / sumq2;
        best = d * sumqx;
      }
    }
    scales[ib] = d;
    const float abs_d = std::fabs(d);
    if (abs_d > amax_scale) {
      amax_scale = abs_d;
      max_scale = d;
    }
  }

  if (n_sub > 1) {
    *out.scales_h = 0;
    const float d = -max_scale / 32.0f;
    *out.d = f32_to_fp16(d);
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    for (std::size_t ib = 0; ib < n_sub; ++ib) {
      int l = round_nearest(id * scales[ib]);
      l = l < -32 ? -32 : (l > 31 ? 31 : l);
      const float dl = d * static_cast<float>(l);
      const float idl = dl != 0.0f ? 1.0f / dl : 0.0f;
      for (std::size_t j = 0; j < 32; ++j) L[ib * 32 + j] = static_cast<std::uint8_t>(best_index(idl * x[ib * 32 + j]));
      const auto biased = static_cast<unsigned>(l + 32);
      const auto low = static_cast<std::uint8_t>(biased & 0x0fu);
      if (ib % 2 == 0) {
        out.scales_l[ib / 2] = low;
      } else {
        out.scales_l[ib / 2] = static_cast<std::uint8_t>(out.scales_l[ib / 2] | (low << 4));
      }
      *out.scales_h = static_cast<std::uint16_t>(*out.scales_h | ((biased >> 4) << (2 * ib)));
    }
  } else {
    *out.d = f32_to_fp16(scales[0]);
    const float id = scales[0] != 0.0f ? 1.0f / scales[0] : 0.0f;
    for (std::size_t j = 0; j < 32; ++j) L[j] = static_cast<std::uint8_t>(best_index(id * x[j]));
  }

  for (std::size_t i = 0; i < n_sub; ++i) {
    for (std::size_t j = 0; j < 16; ++j) {
      out.qs[16 * i + j] = static_cast<std::uint8_t>(L[32 * i + j] | (L[32 * i + 16 + j] << 4));
    }
  }
}

}  // namespace lowbit::ggml::detail::iq4

LOWBIT_EXACT_FP_END
