// SPDX-License-Identifier: Apache-2.0
// Copyright lowbit contributors
#pragma once

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

#include "lowbit/core/error.hpp"
#include "lowbit/core/fp16.hpp"
#include "lowbit/formats/ggml/k_quant_layout.hpp"
#include "lowbit/core/exact_fp.hpp"

LOWBIT_EXACT_FP_BEGIN

namespace lowbit::ggml::detail {

// The scale searches of ggml's K-quant encoders (Q2_K..Q6_K). Each one picks, for a small group of
// values, a scale (and for the affine ones a minimum) by minimising a weighted squared (or absolute)
// reconstruction error over a handful of candidate clipping points, then refits the scale in closed
// form. They are written here for byte-exactness with ggml: every f32 operation happens in the order
// of the defining code (ggml/src/ggml-quants.c of llama.cpp as vendored by llama-cpp-python 0.3.36:
// `make_qx_quants`, `make_q3_quants`, `make_qkx2_quants`, `make_qkx3_quants`, `make_qp_quants`), so
// the code must be compiled without floating-point contraction (-ffp-contract=off; lowbit's own
// targets are) and without -ffast-math.

/// Groups whose largest magnitude is below this are treated as all zero (ggml `GROUP_MAX_EPS`).
inline constexpr float group_max_eps = 1e-15f;

/// Round to nearest, ties to even, as ggml's `nearest_int`: adds 1.5 * 2^23 so that the f32 sum
/// has unit spacing and reads the integer from the low mantissa bits.
///
/// Exact (equal to `std::nearbyint` in the default rounding mode) for |v| <= 2^22 - 1; larger
/// magnitudes, infinities and NaN give the same unspecified integer as ggml (no UB), which keeps
/// encoders byte-exact on degenerate input.
inline int round_nearest(float v) noexcept {
  const float shifted = v + 12582912.0f;  // 1.5 * 2^23
  const auto bits = std::bit_cast<std::int32_t>(shifted);
  return (bits & 0x007fffff) - 0x00400000;
}

/// Symmetric scale with clipping search: codes `l in [-nmax, nmax - 1]` and a scale `s` with
/// `x[i] ≈ s * l[i]`, chosen to maximise `(Σ w x l)^2 / Σ w l^2` (equivalently to minimise
/// `Σ w (x - s l)^2` with `s = Σ w x l / Σ w l^2`).
///
/// Candidates: the grids whose extreme code `-nmax ± 0.1 k` (k = -9..9) lands on the signed value
/// of largest magnitude `max` (its sign goes to the negative code, which has one more level).
/// Weights `w[i] = weights[i]`, or `x[i]^2` when `weights` is null.
/// Writes `codes[i] = l[i] + nmax` (in [0, 2 nmax)) and returns `s`; all-zero codes and 0 when
/// max|x| < group_max_eps. n >= 1 values; `codes` must not alias `x`.
/// Source: ggml `make_qx_quants` with rmse_type 1 (the variant the K-quants use).
inline float symmetric_scale_search(int n, int nmax, const float* x, std::int8_t* codes,
                                    const float* weights) noexcept {
  float max = 0.0f;
  float amax = 0.0f;
  for (int i = 0; i < n; ++i) {
    const float ax = std::fabs(x[i]);
    if (ax > amax) {
      amax = ax;
      max = x[i];
    }
  }
  if (amax < group_max_eps) {
    std::fill(codes, codes + n, std::int8_t{0});
    return 0.0f;
  }
  const auto weight = [&](int i) { return weights ? weights[i] : x[i] * x[i]; };
  const auto code = [&](float iscale, int i) { return std::clamp(round_nearest(iscale * x[i]), -nmax, nmax - 1); };

  float iscale = static_cast<float>(-nmax) / max;
  float sumlx = 0.0f;
  float suml2 = 0.0f;
  for (int i = 0; i < n; ++i) {
    const int l = code(iscale, i);
    codes[i] = static_cast<std::int8_t>(l + nmax);
    const float w = weight(i);
    sumlx += w * x[i] * static_cast<float>(l);
    suml2 += w * static_cast<float>(l) * static_cast<float>(l);
  }
  float scale = suml2 != 0.0f ? sumlx / suml2 : 0.0f;
  // With the least-squares scale, the weighted error is Σ w x^2 - (Σ w x l)^2 / Σ w l^2: a
  // candidate is better when sumlx^2 / suml2 is larger.
  float best = scale * sumlx;
  for (int step = -9; step <= 9; ++step) {
    if (step == 0) continue;
    iscale = -(static_cast<float>(nmax) + 0.1f * static_cast<float>(step)) / max;
    sumlx = 0.0f;
    suml2 = 0.0f;
    for (int i = 0; i < n; ++i) {
      const int l = code(iscale, i);
      const float w = weight(i);
      sumlx += w * x[i] * static_cast<float>(l);
      suml2 += w * static_cast<float>(l) * static_cast<float>(l);
    }
    if (suml2 > 0.0f && sumlx * sumlx > best * suml2) {
      for (int i = 0; i < n; ++i) codes[i] = static_cast<std::int8_t>(nmax + code(iscale, i));
      scale = sumlx / suml2;
      best = scale * sumlx;
    }
  }
  return scale;
}

/// Symmetric scale by coordinate descent, for Q3_K's reference encoder: starts from the grid whose
/// code -nmax lands on the signed value of largest magnitude, then (up to 5 sweeps) moves each code
/// to `round(x[i] / s_i)`, where `s_i` is the least-squares scale of the other codes, whenever that
/// raises `(Σ w x l)^2 / Σ w l^2` (lowers the weighted squared error), with weights `w = x^2`.
///
/// Writes `codes[i] = l[i] + nmax`, l in [-nmax, nmax - 1], and returns the least-squares scale
/// `Σ w x l / Σ w l^2`; all-zero codes and 0 when max|x| < group_max_eps.
/// Source: ggml `make_q3_quants` with do_rmse = true.
inline float symmetric_scale_descent(int n, int nmax, const float* x, std::int8_t* codes) noexcept {
  float max = 0.0f;
  float amax = 0.0f;
  for (int i = 0; i < n; ++i) {
    const float ax = std::fabs(x[i]);
    if (ax > amax) {
      amax = ax;
      max = x[i];
    }
  }
  if (amax < group_max_eps) {
    std::fill(codes, codes + n, std::int8_t{0});
    return 0.0f;
  }
  const float iscale = static_cast<float>(-nmax) / max;
  float sumlx = 0.0f;
  float suml2 = 0.0f;
  for (int i = 0; i < n; ++i) {
    const int l = std::clamp(round_nearest(iscale * x[i]), -nmax, nmax - 1);
    codes[i] = static_cast<std::int8_t>(l);
    const float w = x[i] * x[i];
    sumlx += w * x[i] * static_cast<float>(l);
    suml2 += w * static_cast<float>(l) * static_cast<float>(l);
  }
  for (int sweep = 0; sweep < 5; ++sweep) {
    int changed = 0;
    for (int i = 0; i < n; ++i) {
      const float w = x[i] * x[i];
      const auto li = static_cast<float>(codes[i]);
      float slx = sumlx - w * x[i] * li;
      if (slx > 0.0f) {
        float sl2 = suml2 - w * li * li;
        // The code that best fits x[i] given the others' least-squares scale slx / sl2.
        const int new_l = std::clamp(round_nearest(x[i] * sl2 / slx), -nmax, nmax - 1);
        if (new_l != codes[i]) {
          slx += w * x[i] * static_cast<float>(new_l);
          sl2 += w * static_cast<float>(new_l) * static_cast<float>(new_l);
          if (sl2 > 0.0f && slx * slx * suml2 > sumlx * sumlx * sl2) {
            codes[i] = static_cast<std::int8_t>(new_l);
            sumlx = slx;
            suml2 = sl2;
            ++changed;
          }
        }
      }
    }
    if (changed == 0) break;
  }
  for (int i = 0; i < n; ++i) codes[i] = static_cast<std::int8_t>(codes[i] + nmax);
  return suml2 > 0.0f ? sumlx / suml2 : 0.0f;
}

/// The result of an affine (scale and minimum) search.
struct scale_min {
  float scale;  ///< real units per code step
  float min;    ///< the value of code 0 is `-min`; min >= 0 (ggml stores the negated minimum)
};

/// Affine scale and minimum with clipping search: codes `l in [0, nmax]` with `x[i] ≈ s l[i] - m`,
/// minimising `Σ w (s l - m - x)^2` (or `Σ w |s l - m - x|` when `use_abs_error`).
///
/// The grid's lower end is min(x, 0) (the represented minimum never exceeds 0). Starting from
/// min-max rounding, it tries `nsteps + 1` grids with `(nmax + rmin + rdelta k) / (max - min)`
/// codes per unit (k = 0..nsteps), rounds x on each, solves the 2x2 weighted least-squares problem
/// for (s, -m) given those codes (falling back to m = 0, `s = Σ w x l / Σ w l^2` when the fit wants
/// a positive lower end), and keeps the candidate with the smallest error.
/// Weights `w[i] = weights[i]`, or `x[i]^2` when `weights` is null. `scratch` holds n bytes.
/// Writes codes in [0, nmax]; returns {0, -min(x, 0)} when all values are equal to that lower end.
/// Source: ggml `make_qkx2_quants` (non-null weights) and `make_qkx3_quants` (nullable weights);
/// they compute the same thing.
inline scale_min affine_scale_search(int n, int nmax, const float* x, const float* weights, std::uint8_t* codes,
                                     std::uint8_t* scratch, float rmin, float rdelta, int nsteps,
                                     bool use_abs_error) noexcept {
  const auto weight = [&](int i) { return weights ? weights[i] : x[i] * x[i]; };
  float min = x[0];
  float max = x[0];
  float sum_w = weight(0);
  float sum_x = sum_w * x[0];
  for (int i = 1; i < n; ++i) {
    if (x[i] < min) min = x[i];
    if (x[i] > max) max = x[i];
    const float w = weight(i);
    sum_w += w;
    sum_x += w * x[i];
  }
  if (min > 0.0f) min = 0.0f;
  if (max <= min) {
    std::fill(codes, codes + n, std::uint8_t{0});
    return {0.0f, -min};
  }
  const auto error_of = [&](float diff) { return use_abs_error ? std::fabs(diff) : diff * diff; };

  float iscale = static_cast<float>(nmax) / (max - min);
  float scale = 1.0f / iscale;
  float best_error = 0.0f;
  for (int i = 0; i < n; ++i) {
    const int l = round_nearest(iscale * (x[i] - min));
    codes[i] = static_cast<std::uint8_t>(std::clamp(l, 0, nmax));
    const float diff = scale * static_cast<float>(codes[i]) + min - x[i];
    best_error += weight(i) * error_of(diff);
  }
  if (nsteps < 1) return {scale, -min};

  for (int step = 0; step <= nsteps; ++step) {
    iscale = (rmin + rdelta * static_cast<float>(step) + static_cast<float>(nmax)) / (max - min);
    float sum_l = 0.0f;
    float sum_l2 = 0.0f;
    float sum_xl = 0.0f;
    for (int i = 0; i < n; ++i) {
      const int l = std::clamp(round_nearest(iscale * (x[i] - min)), 0, nmax);
      scratch[i] = static_cast<std::uint8_t>(l);
      const float w = weight(i);
      const auto lf = static_cast<float>(l);
      sum_l += w * lf;
      sum_l2 += w * lf * lf;
      sum_xl += w * lf * x[i];
    }
    // Normal equations of min over (s, b) of Σ w (s l + b - x)^2; D is their determinant.
    const float det = sum_w * sum_l2 - sum_l * sum_l;
    if (det > 0.0f) {
      float this_scale = (sum_w * sum_xl - sum_x * sum_l) / det;
      float this_min = (sum_l2 * sum_x - sum_l * sum_xl) / det;
      if (this_min > 0.0f) {
        this_min = 0.0f;
        this_scale = sum_xl / sum_l2;
      }
      float error = 0.0f;
      for (int i = 0; i < n; ++i) {
        const float diff = this_scale * static_cast<float>(scratch[i]) + this_min - x[i];
        error += weight(i) * error_of(diff);
      }
      if (error < best_error) {
        std::memcpy(codes, scratch, static_cast<std::size_t>(n));
        best_error = error;
        scale = this_scale;
        min = this_min;
      }
    }
  }
  return {scale, -min};
}

/// Non-negative scale with clipping search for second-level quantization (sub-block scales or
/// minimums, all >= 0, coded as unsigned integers in [0, nmax]): `x[i] ≈ s l[i]`.
///
/// Tries the grids that put `nmax + 0.1 k` (k = -4..4) on the largest value, keeps the one with
/// the smallest `Σ w (x - s l)^2`, then refines the codes by coordinate descent (up to 5 sweeps:
/// move a code to `round(x[i] / s_i)`, `s_i` the least-squares scale of the others, when that
/// raises `(Σ w x l)^2 / Σ w l^2`), and returns the least-squares scale `Σ w x l / Σ w l^2`.
/// `weights` must be non-null. Codes are stored as ggml's `uint8_t` (a negative code, which only
/// a negative input can produce, wraps modulo 256 as in ggml). All-zero codes and 0 when
/// max(x) < group_max_eps.
/// Source: ggml `make_qp_quants`.
inline float positive_scale_search(int n, int nmax, const float* x, std::uint8_t* codes,
                                   const float* weights) noexcept {
  float max = 0.0f;
  for (int i = 0; i < n; ++i) max = std::max(max, x[i]);
  if (max < group_max_eps) {
    std::fill(codes, codes + n, std::uint8_t{0});
    return 0.0f;
  }
  float iscale = static_cast<float>(nmax) / max;
  for (int i = 0; i < n; ++i) codes[i] = static_cast<std::uint8_t>(round_nearest(iscale * x[i]));
  const float scale0 = 1.0f / iscale;
  float best_mse = 0.0f;
  for (int i = 0; i < n; ++i) {
    const float diff = x[i] - scale0 * static_cast<float>(codes[i]);
    best_mse += weights[i] * diff * diff;
  }
  for (int step = -4; step <= 4; ++step) {
    if (step == 0) continue;
    const float iscale_step = (0.1f * static_cast<float>(step) + static_cast<float>(nmax)) / max;
    const float scale_step = 1.0f / iscale_step;
    float mse = 0.0f;
    for (int i = 0; i < n; ++i) {
      const int l = std::min(nmax, round_nearest(iscale_step * x[i]));
      const float diff = x[i] - scale_step * static_cast<float>(l);
      mse += weights[i] * diff * diff;
    }
    if (mse < best_mse) {
      best_mse = mse;
      iscale = iscale_step;
    }
  }
  float sumlx = 0.0f;
  float suml2 = 0.0f;
  for (int i = 0; i < n; ++i) {
    const int l = std::min(nmax, round_nearest(iscale * x[i]));
    codes[i] = static_cast<std::uint8_t>(l);
    const float w = weights[i];
    sumlx += w * x[i] * static_cast<float>(l);
    suml2 += w * static_cast<float>(l) * static_cast<float>(l);
  }
  for (int sweep = 0; sweep < 5; ++sweep) {
    int changed = 0;
    for (int i = 0; i < n; ++i) {
      const float w = weights[i];
      const auto li = static_cast<float>(codes[i]);
      float slx = sumlx - w * x[i] * li;
      float sl2 = suml2 - w * li * li;
      if (slx > 0.0f && sl2 > 0.0f) {
        const int new_l = std::min(nmax, round_nearest(x[i] * sl2 / slx));
        if (new_l != codes[i]) {
          slx += w * x[i] * static_cast<float>(new_l);
          sl2 += w * static_cast<float>(new_l) * static_cast<float>(new_l);
          if (slx * slx * suml2 > sumlx * sumlx * sl2) {
            codes[i] = static_cast<std::uint8_t>(new_l);
            sumlx = slx;
            suml2 = sl2;
            ++changed;
          }
        }
      }
    }
    if (changed == 0) break;
  }
  return suml2 > 0.0f ? sumlx / suml2 : 0.0f;
}

/// The encoded header and codes of a Q4_K / Q5_K super-block.
struct scale_min_super_block {
  std::uint16_t d;                    ///< fp16 bits: real units per step of a sub-block scale code
  std::uint16_t dmin;                 ///< fp16 bits: real units per step of a sub-block min code
  std::uint8_t scales[12];            ///< 8 packed 6-bit (scale, min) code pairs
  std::uint8_t codes[k_super_block];  ///< element codes in [0, nmax], element order
};

/// Search parameters of the reference (no importance) path of a scale-min K-quant.
struct scale_min_reference_search {
  float rmin;  ///< first candidate grid: nmax + rmin codes across the range
  int nsteps;  ///< candidates rmin, rmin + 0.1, ..., rmin + 0.1 nsteps
};

/// Encodes 256 values as 8 sub-blocks of 32 with a 6-bit scale and a 6-bit minimum each (the
/// shared encoder of Q4_K, nmax = 15, and Q5_K, nmax = 31): `x ≈ d sc_j q - dmin m_j`.
///
/// Without importance (ggml's `quantize_row_q{4,5}_K_ref`): each sub-block's (scale, min) comes
/// from `affine_scale_search` with weights `sqrt(mean(x_sub^2)) + |x|` and the candidates of
/// `reference`; the scales are then coded as `round(63 scale / max scale)` with `d = max scale / 63`
/// (and the same for the minimums).
/// With importance `q` (256 values, ggml's `quantize_row_q{4,5}_K_impl`): weights
/// `q * sqrt(sigma2 + x^2)` with `sigma2 = 2 Σ x^2 / 256`, candidates (-0.9, 0.05, 36 steps), and
/// the 8 scales and 8 minimums are each coded by `positive_scale_search` (nmax 63) weighted by the
/// sub-block weight sums; `clamp_scale_codes` applies Q5_K's extra clamp of those codes to 63.
/// Finally every element is re-rounded against the decoded (fp16, 6-bit) scale and minimum:
/// `q = clamp(round((x + dmin m_j) / (d sc_j)), 0, nmax)` (sub-blocks whose decoded scale is 0
/// keep their search codes).
inline void quantize_scale_min_super_block(const float* x, const float* importance, int nmax,
                                           scale_min_reference_search reference, bool clamp_scale_codes,
                                           scale_min_super_block& out) noexcept {
  float scales[8];
  float mins[8];
  float weights[32];
  std::uint8_t scratch[32];
  std::uint8_t ls[8];
  std::uint8_t lm[8];
  if (importance == nullptr) {
    float max_scale = 0.0f;
    float max_min = 0.0f;
    for (int j = 0; j < 8; ++j) {
      const float* xs = x + 32 * j;
      float sum_x2 = 0.0f;
      for (int l = 0; l < 32; ++l) sum_x2 += xs[l] * xs[l];
      const float av_x = std::sqrt(sum_x2 / 32.0f);
      for (int l = 0; l < 32; ++l) weights[l] = av_x + std::fabs(xs[l]);
      const scale_min r = affine_scale_search(32, nmax, xs, weights, out.codes + 32 * j, scratch, reference.rmin, 0.1f,
                                              reference.nsteps, false);
      scales[j] = r.scale;
      mins[j] = r.min;
      if (r.scale > max_scale) max_scale = r.scale;
      if (r.min > max_min) max_min = r.min;
    }
    const float inv_scale = max_scale > 0.0f ? 63.0f / max_scale : 0.0f;
    const float inv_min = max_min > 0.0f ? 63.0f / max_min : 0.0f;
    for (int j = 0; j < 8; ++j) {
      ls[j] = std::min<std::uint8_t>(63, static_cast<std::uint8_t>(round_nearest(inv_scale * scales[j])));
      lm[j] = std::min<std::uint8_t>(63, static_cast<std::uint8_t>(round_nearest(inv_min * mins[j])));
    }
    out.d = f32_to_fp16(max_scale / 63.0f);
    out.dmin = f32_to_fp16(max_min / 63.0f);
  } else {
    float sum_x2 = 0.0f;
    for (std::size_t l = 0; l < k_super_block; ++l) sum_x2 += x[l] * x[l];
    const float sigma2 = 2.0f * sum_x2 / 256.0f;
    float sub_block_weight[8];
    for (int j = 0; j < 8; ++j) {
      const float* xs = x + 32 * j;
      const float* q = importance + 32 * j;
      for (int l = 0; l < 32; ++l) weights[l] = q[l] * std::sqrt(sigma2 + xs[l] * xs[l]);
      float sum_w = 0.0f;
      for (int l = 0; l < 32; ++l) sum_w += weights[l];
      sub_block_weight[j] = sum_w;
      const scale_min r =
          affine_scale_search(32, nmax, xs, weights, out.codes + 32 * j, scratch, -0.9f, 0.05f, 36, false);
      scales[j] = r.scale;
      mins[j] = r.min;
    }
    const float d_block = positive_scale_search(8, 63, scales, ls, sub_block_weight);
    const float m_block = positive_scale_search(8, 63, mins, lm, sub_block_weight);
    if (clamp_scale_codes) {
      for (int j = 0; j < 8; ++j) {
        ls[j] = std::min<std::uint8_t>(63, ls[j]);
        lm[j] = std::min<std::uint8_t>(63, lm[j]);
      }
    }
    out.d = f32_to_fp16(d_block);
    out.dmin = f32_to_fp16(m_block);
  }
  pack_scale_min_k4(ls, lm, out.scales);

  const float d_all = fp16_to_f32(out.d);
  const float dmin_all = fp16_to_f32(out.dmin);
  for (std::size_t j = 0; j < 8; ++j) {
    const scale_min_codes c = unpack_scale_min_k4(j, out.scales);
    const float d = d_all * static_cast<float>(c.scale);
    if (d == 0.0f) continue;
    const float dm = dmin_all * static_cast<float>(c.min);
    for (std::size_t l = 0; l < 32; ++l) {
      const int q = round_nearest((x[32 * j + l] + dm) / d);
      out.codes[32 * j + l] = static_cast<std::uint8_t>(std::clamp(q, 0, nmax));
    }
  }
}

/// The argument check of every K-quant `quantize_block`: 256 finite values.
/// throws lowbit::error{errc::invalid_argument} naming the first NaN or infinite element.
inline void check_quantize_block_input(std::string_view format_name, const float* x) {
  for (std::size_t i = 0; i < k_super_block; ++i) {
    check(std::isfinite(x[i]), errc::invalid_argument, [&] {
      return "quantize_block<" + std::string(format_name) + ">: input element " + std::to_string(i) + " is " +
             std::to_string(x[i]);
    });
  }
}

}  // namespace lowbit::ggml::detail

LOWBIT_EXACT_FP_END
