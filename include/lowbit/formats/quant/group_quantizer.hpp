// SPDX-License-Identifier: Apache-2.0
// Copyright lowbit contributors
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "lowbit/core/exact_fp.hpp"
#include "lowbit/formats/quant/quant.hpp"

LOWBIT_EXACT_FP_BEGIN

namespace lowbit {

/// How `quantize` chooses each scale (and zero point).
enum class quantize_method {
  /// Round to nearest with the absmax scale (symmetric: `scale = max|x| / Code::max_value()`) or
  /// the min-max scale (asymmetric: `scale = (max(x, 0) - min(x, 0)) / (qmax - qmin)`,
  /// `zero_point = round(qmin - min / scale)`); the scale is stored rounded up, so nothing clips
  /// (unless the ideal scale exceeds the scale type's largest value, e.g. 448 for scale_fp8_e4m3).
  round_to_nearest,
  /// A grid search over clip ratios r (1, 1 - step, ... down to `clip_min_ratio`): each candidate
  /// scales the round-to-nearest range by r, then also tries the weighted least-squares scale for
  /// the codes it got (`s = Σ w x v / Σ w v²`, v = code value - zero point), and keeps the candidate
  /// with the smallest `Σ_k importance[k] * (x - dequantized)²`. r = 1 is round-to-nearest, so the
  /// result is never worse than it. As llama.cpp's `make_qx_quants` / `make_qkx2_quants`
  /// (ggml/src/ggml-quants.c) search their scales.
  clip_search,
};

/// Options of `quantize`; use designated initializers: `{.method = quantize_method::clip_search}`.
struct quantize_options {
  quantize_method method = quantize_method::round_to_nearest;
  /// Optional importance of each of the K columns (>= 0, finite), like llama.cpp's imatrix; empty
  /// means all 1. Weighs the squared error of clip_search; round_to_nearest ignores it.
  std::span<const float> importance = {};
  /// Clip ratios tried by clip_search (>= 1) and the smallest one (in (0, 1]).
  int clip_steps = 20;
  float clip_min_ratio = 0.5f;
};

namespace detail {

// The encoder of one scale group of a parametric format Q, shared by quantize<Q> (quantized_matrix)
// and group_format<Q, B>::quantize_block: chooses the stored scale (and zero point) and the codes of
// the values xs with per-value weights ws, as quantize_options says.
template <quant_format Q>
struct parametric_quantizer {
  using code = typename Q::code_type;
  using scale_t = typename Q::scale_type;
  using storage = typename scale_t::storage_type;

  // Codes of xs for the stored scale s and zero point zp; returns the weighted squared error.
  static double encode_group(const std::vector<float>& xs, const std::vector<float>& ws, float s, int zp,
                             std::vector<std::uint8_t>& q) {
    double err = 0.0;
    for (std::size_t j = 0; j < xs.size(); ++j) {
      // x / s rather than x * (1 / s): the nearest code of the exact quotient.
      const float y = s > 0.0f ? xs[j] / s : 0.0f;
      if constexpr (Q::has_zero_point) {
        // gemmlowp: q = zero_point + round(x / scale), then clamped to the code range.
        const float r = detail::round_half_even(std::clamp(y, -65536.0f, 65536.0f));
        q[j] = code::encode(r + static_cast<float>(zp));
      } else {
        q[j] = code::encode(y);
      }
      const float v = code::decode(q[j]) - static_cast<float>(zp);
      const double d = static_cast<double>(xs[j]) - static_cast<double>(s * v);
      err += static_cast<double>(ws[j]) * d * d;
    }
    return err;
  }

  // Stored scale (decoded) and zero point for the range [lo, hi] of a group (lo <= 0 <= hi when
  // asymmetric; lo unused when symmetric).
  static void range_to_scale(float lo, float hi, storage& st, int& zp) {
    if constexpr (Q::has_zero_point) {
      const float qmin = code::min_value();
      const float qmax = code::max_value();
      st = scale_t::encode_up((static_cast<double>(hi) - lo) / (static_cast<double>(qmax) - qmin));
      const float s = scale_t::decode(st);
      float z =
          s > 0.0f ? detail::round_half_even(std::clamp(qmin - lo / s, qmin, qmax)) : std::clamp(0.0f, qmin, qmax);
      zp = static_cast<int>(z);
    } else {
      st = scale_t::encode_up(static_cast<double>(hi) / code::max_value());
      zp = 0;
    }
  }

  // Chooses the scale, zero point and codes of one group; writes codes into q.
  static void quantize_group(const std::vector<float>& xs, const std::vector<float>& ws, const quantize_options& opt,
                             storage& best_st, int& best_zp, std::vector<std::uint8_t>& q) {
    float lo = 0.0f;
    float hi = 0.0f;
    for (const float x : xs) {
      if constexpr (Q::has_zero_point) {
        lo = std::min(lo, x);
        hi = std::max(hi, x);
      } else {
        hi = std::max(hi, std::abs(x));
      }
    }
    range_to_scale(lo, hi, best_st, best_zp);
    double best_err = encode_group(xs, ws, scale_t::decode(best_st), best_zp, q);
    if (opt.method != quantize_method::clip_search || hi - lo == 0.0f) return;

    std::vector<std::uint8_t> trial(xs.size());
    auto try_candidate = [&](storage st, int zp) {
      const double err = encode_group(xs, ws, scale_t::decode(st), zp, trial);
      if (err < best_err) {
        best_err = err;
        best_st = st;
        best_zp = zp;
        q.swap(trial);
      }
    };
    const int steps = opt.clip_steps;
    for (int i = 0; i < steps; ++i) {
      const float r = steps == 1 ? 1.0f : 1.0f - (1.0f - opt.clip_min_ratio) * static_cast<float>(i) / (steps - 1);
      storage st{};
      int zp = 0;
      range_to_scale(r * lo, r * hi, st, zp);
      try_candidate(st, zp);
      // Weighted least-squares scale for the codes this candidate chose (zero point kept).
      encode_group(xs, ws, scale_t::decode(st), zp, trial);
      double num = 0.0;
      double den = 0.0;
      for (std::size_t j = 0; j < xs.size(); ++j) {
        const double v = static_cast<double>(code::decode(trial[j])) - zp;
        num += static_cast<double>(ws[j]) * xs[j] * v;
        den += static_cast<double>(ws[j]) * v * v;
      }
      if (den > 0.0 && num > 0.0) {
        try_candidate(scale_t::encode_up(num / den), zp);
      }
    }
  }
};

}  // namespace detail

}  // namespace lowbit

LOWBIT_EXACT_FP_END
