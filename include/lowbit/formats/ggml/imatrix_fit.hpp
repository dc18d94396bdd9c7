// SPDX-License-Identifier: Apache-2.0
// Copyright lowbit contributors
#pragma once

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include "lowbit/core/exact_fp.hpp"

// Scale searches that ggml's importance-weighted quantizers of the 32-element formats (Q4_0, Q4_1,
// Q5_0, Q5_1) run per block. Every float operation is written in ggml's order, without fused
// multiply-adds, so that the bytes equal those of ggml_quantize_chunk.
// Source: `nearest_int`, `make_qx_quants`, `make_qkx3_quants` and `quantize_row_q4_0_impl` ..
// `quantize_row_q5_1_impl` in ggml/src/ggml-quants.c (llama.cpp vendored by llama-cpp-python 0.3.36).

LOWBIT_EXACT_FP_BEGIN

namespace lowbit::ggml::detail::imatrix_fit {

/// Rounds to the nearest integer, ties to even, as ggml's `nearest_int` does (adds 1.5 * 2^23 and
/// reads the low mantissa bits). Precondition: |v| <= 4194303 (beyond it the result is meaningless, as
/// in ggml, but defined).
inline int nearest_int(float v) noexcept {
  const float shifted = v + 12582912.0f;
  return static_cast<int>(std::bit_cast<std::uint32_t>(shifted) & 0x007fffffu) - 0x00400000;
}

/// The row statistic of ggml's legacy imatrix quantizers: `sigma2 = sum(x[j]^2) / n`, summed in
/// element order in f32.
inline float row_sigma2(const float* x, std::size_t n) noexcept {
  float sum_x2 = 0.0f;
  for (std::size_t j = 0; j < n; ++j) sum_x2 += x[j] * x[j];
  return sum_x2 / static_cast<float>(n);
}

/// Per-element weights of one 32-element block: `w[j] = importance[j] * sqrt(sigma2 + x[j]^2)`.
inline void block_weights(const float* x, const float* importance, float sigma2, float* w) noexcept {
  for (std::size_t j = 0; j < 32; ++j) w[j] = importance[j] * std::sqrt(sigma2 + x[j] * x[j]);
}

/// Symmetric weighted fit (ggml `make_qx_quants` with explicit weights): codes `L[i]` in
/// [0, 2 nmax) with `x[i] ~ scale * (L[i] - nmax)`; tries the 19 inverse scales
/// `-(nmax + 0.1 t) / max`, t in [-9, 9], and keeps the one that maximises `(sum w x l)^2 / sum w l^2`.
/// Returns the scale (0 and all codes 0 when max|x| < 1e-15). `max` is the element of largest
/// magnitude with its sign.
inline float make_qx_quants(int n, int nmax, const float* x, std::int8_t* L, const float* w) noexcept {
  float max = 0.0f, amax = 0.0f;
  for (int i = 0; i < n; ++i) {
    const float ax = std::fabs(x[i]);
    if (ax > amax) {
      amax = ax;
      max = x[i];
    }
  }
  if (amax < 1e-15f) {
    std::fill(L, L + n, std::int8_t{0});
    return 0.0f;
  }
  const auto code = [&](float iscale, int i) {
    return std::max(-nmax, std::min(nmax - 1, nearest_int(iscale * x[i])));
  };
  float iscale = static_cast<float>(-nmax) / max;
  float sumlx = 0.0f, suml2 = 0.0f;
  for (int i = 0; i < n; ++i) {
    const int l = code(iscale, i);
    L[i] = static_cast<std::int8_t>(l + nmax);
    sumlx += w[i] * x[i] * static_cast<float>(l);
    suml2 += w[i] * static_cast<float>(l) * static_cast<float>(l);
  }
  float scale = suml2 != 0.0f ? sumlx / suml2 : 0.0f;
  float best = scale * sumlx;
  for (int is = -9; is <= 9; ++is) {
    if (is == 0) continue;
    iscale = -(static_cast<float>(nmax) + 0.1f * static_cast<float>(is)) / max;
    sumlx = suml2 = 0.0f;
    for (int i = 0; i < n; ++i) {
      const int l = code(iscale, i);
      sumlx += w[i] * x[i] * static_cast<float>(l);
      suml2 += w[i] * static_cast<float>(l) * static_cast<float>(l);
    }
    if (suml2 > 0.0f && sumlx * sumlx > best * suml2) {
      for (int i = 0; i < n; ++i) L[i] = static_cast<std::int8_t>(nmax + code(iscale, i));
      scale = sumlx / suml2;
      best = scale * sumlx;
    }
  }
  return scale;
}

/// Asymmetric weighted fit (ggml `make_qkx3_quants` with explicit weights, squared error): codes
/// `L[i]` in [0, nmax] with `x[i] ~ scale * L[i] - the_min`, where `-the_min = min(0, min x)` to
/// start; tries the inverse scales `(rmin + rdelta t + nmax) / (max - min)`, t in [0, nstep], solves
/// the weighted least-squares scale and offset for each set of codes and keeps the best. Writes
/// `*the_min` (the negated offset) and returns the scale (0 when max <= min).
inline float make_qkx3_quants(int n, int nmax, const float* x, const float* w, std::uint8_t* L, float* the_min,
                              std::uint8_t* Laux, float rmin, float rdelta, int nstep) noexcept {
  float min = x[0], max = x[0];
  float sum_w = w[0];
  float sum_x = sum_w * x[0];
  for (int i = 1; i < n; ++i) {
    if (x[i] < min) min = x[i];
    if (x[i] > max) max = x[i];
    sum_w += w[i];
    sum_x += w[i] * x[i];
  }
  if (min > 0.0f) min = 0.0f;
  if (max <= min) {
    std::fill(L, L + n, std::uint8_t{0});
    *the_min = -min;
    return 0.0f;
  }
  float iscale = static_cast<float>(nmax) / (max - min);
  float scale = 1.0f / iscale;
  float best_err = 0.0f;
  for (int i = 0; i < n; ++i) {
    const int l = nearest_int(iscale * (x[i] - min));
    L[i] = static_cast<std::uint8_t>(std::max(0, std::min(nmax, l)));
    float diff = scale * static_cast<float>(L[i]) + min - x[i];
    diff = diff * diff;
    best_err += w[i] * diff;
  }
  for (int is = 0; is <= nstep; ++is) {
    iscale = (rmin + rdelta * static_cast<float>(is) + static_cast<float>(nmax)) / (max - min);
    float sum_l = 0.0f, sum_l2 = 0.0f, sum_xl = 0.0f;
    for (int i = 0; i < n; ++i) {
      const int l = std::max(0, std::min(nmax, nearest_int(iscale * (x[i] - min))));
      Laux[i] = static_cast<std::uint8_t>(l);
      const auto fl = static_cast<float>(l);
      sum_l += w[i] * fl;
      sum_l2 += w[i] * fl * fl;
      sum_xl += w[i] * fl * x[i];
    }
    const float D = sum_w * sum_l2 - sum_l * sum_l;
    if (D > 0.0f) {
      float this_scale = (sum_w * sum_xl - sum_x * sum_l) / D;
      float this_min = (sum_l2 * sum_x - sum_l * sum_xl) / D;
      if (this_min > 0.0f) {
        this_min = 0.0f;
        this_scale = sum_xl / sum_l2;
      }
      float err = 0.0f;
      for (int i = 0; i < n; ++i) {
        float diff = this_scale * static_cast<float>(Laux[i]) + this_min - x[i];
        diff = diff * diff;
        err += w[i] * diff;
      }
      if (err < best_err) {
        std::copy(Laux, Laux + n, L);
        best_err = err;
        scale = this_scale;
        min = this_min;
      }
    }
  }
  *the_min = -min;
  return scale;
}

}  // namespace lowbit::ggml::detail::imatrix_fit

LOWBIT_EXACT_FP_END
