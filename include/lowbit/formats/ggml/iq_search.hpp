// SPDX-License-Identifier: Apache-2.0
// Copyright lowbit contributors
#pragma once

#include <algorithm>
#include <array>
#include <bit>
#include <cmath>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <span>
#include <vector>

#include "lowbit/core/exact_fp.hpp"
#include "lowbit/core/fp16.hpp"
#include "lowbit/formats/ggml/quantize_row_args.hpp"

LOWBIT_EXACT_FP_BEGIN

namespace lowbit::ggml::detail {

// The encoder shared by the codebook i-quants (IQ1_S, IQ1_M, IQ2_XXS, IQ2_XS, IQ2_S, IQ3_XXS, IQ3_S).
//
// All seven store a super-block of 256 weights as: one fp16 super-scale `d`; per sub-block (16 or 32
// weights) a small integer scale code `ls`, giving the sub-block scale `s = rule(d, ls)`; per group of
// 8 (or 4) weights the index of a codebook entry (plus signs or a shift). Decoded, `y = s * q` where q
// is the entry's value. For a fixed s, the weighted squared error of a group,
//   E(q) = sum_j w_j (x_j - s q_j)^2 = C - 2 s a(q) + s^2 b(q),  C = sum w x^2, a = sum w x q, b = sum w q^2,
// depends on q only through the two numbers a(q), b(q). The encoder therefore tabulates a and b once for
// every codebook entry of every group ("quad tables") and can then find the exact best entry of a group
// for any s by one pass over the table. On top of that exhaustive inner step it searches the scales:
//   1. per sub-block, the best continuous scale s*_b (a geometric sweep, then least-squares refits);
//   2. the super-scale d over candidates derived from the s*_b (max_b s*_b on every upper scale code,
//      each s*_b on the top code, a geometric sweep around the best of those, least-squares refits of
//      d with the codes fixed, and +-4 fp16 steps around the best), each
//      rounded to fp16 first; for each candidate every sub-block takes the best `ls` of a window of
//      +-1 code around s*_b / d, evaluated exactly;
//   3. d = 0 (all outputs 0) is always a candidate, so the result is never worse than zeros.
// The objective is exactly the importance-weighted squared error of the decoded block (unit weights
// without importance). This is lowbit's own search, not ggml's neighbour search
// (ggml/src/ggml-quants.c `quantize_row_iq2_xxs_impl` and friends); it does not reproduce ggml's bytes.

/// One codebook table of a group: a[i] = sum_j w_j x_j q_ij and b[i] = sum_j w_j q_ij^2 for entries i.
struct quad_term {
  const float* a;
  const float* b;
};

/// A set of weights whose codes are chosen together for a given scale s: error(s) = c + min over
/// options of sum over the option's terms of min_i (s^2 b[i] - 2 s a[i]).
struct quant_unit {
  float c = 0.0f;              ///< sum w x^2
  std::uint32_t n = 0;         ///< entries per table (a multiple of 8)
  std::uint8_t n_options = 1;  ///< alternatives (sign-parity fix-ups, shift signs)
  std::uint8_t n_terms = 1;    ///< tables summed per alternative
  std::array<std::array<quad_term, 4>, 2> term{};
};

/// The codes chosen for one unit: the alternative and, per term, the table entry.
struct unit_choice {
  std::uint8_t option = 0;
  std::array<std::uint16_t, 4> index{};
};

/// min over i < n of s^2 b[i] - 2 s a[i]; n a multiple of 8. Eight running minima let the compiler
/// vectorise the loop without reassociating floating-point sums.
inline float quad_min(const float* a, const float* b, std::size_t n, float s) noexcept {
  const float s2 = s * s;
  const float t = 2.0f * s;
  std::array<float, 8> acc;
  acc.fill(std::numeric_limits<float>::infinity());
  for (std::size_t i = 0; i < n; i += 8) {
    for (std::size_t k = 0; k < 8; ++k) {
      const float e = s2 * b[i + k] - t * a[i + k];
      acc[k] = e < acc[k] ? e : acc[k];
    }
  }
  float m = acc[0];
  for (std::size_t k = 1; k < 8; ++k) m = acc[k] < m ? acc[k] : m;
  return m;
}

/// The first i < n that minimises s^2 b[i] - 2 s a[i].
inline std::size_t quad_argmin(const float* a, const float* b, std::size_t n, float s) noexcept {
  const float s2 = s * s;
  const float t = 2.0f * s;
  std::size_t best = 0;
  float best_e = std::numeric_limits<float>::infinity();
  for (std::size_t i = 0; i < n; ++i) {
    const float e = s2 * b[i] - t * a[i];
    if (e < best_e) {
      best_e = e;
      best = i;
    }
  }
  return best;
}

/// The exact minimum error of unit `u` at scale s (its codes chosen optimally).
inline float unit_error(const quant_unit& u, float s) noexcept {
  float best = std::numeric_limits<float>::infinity();
  for (std::size_t o = 0; o < u.n_options; ++o) {
    float e = 0.0f;
    for (std::size_t t = 0; t < u.n_terms; ++t) e += quad_min(u.term[o][t].a, u.term[o][t].b, u.n, s);
    best = std::min(best, e);
  }
  return u.c + best;
}

/// Chooses the codes of `u` at scale s; adds the chosen entries' a and b to sum_a, sum_b (for a
/// least-squares refit of s) and returns the unit's error.
inline float unit_choose(const quant_unit& u, float s, unit_choice& out, double& sum_a, double& sum_b) noexcept {
  float best = std::numeric_limits<float>::infinity();
  double best_a = 0.0, best_b = 0.0;
  const float s2 = s * s;
  for (std::size_t o = 0; o < u.n_options; ++o) {
    float e = 0.0f;
    double ta = 0.0, tb = 0.0;
    unit_choice c;
    c.option = static_cast<std::uint8_t>(o);
    for (std::size_t t = 0; t < u.n_terms; ++t) {
      const auto& q = u.term[o][t];
      const std::size_t i = quad_argmin(q.a, q.b, u.n, s);
      c.index[t] = static_cast<std::uint16_t>(i);
      e += s2 * q.b[i] - 2.0f * s * q.a[i];
      ta += q.a[i];
      tb += q.b[i];
    }
    if (e < best) {
      best = e;
      out = c;
      best_a = ta;
      best_b = tb;
    }
  }
  sum_a += best_a;
  sum_b += best_b;
  return u.c + best;
}

/// Expands a grid of N little-endian packed entries of W byte codes into N * W floats (entry-major);
/// signed codes (IQ1) are read as int8.
template <std::size_t W, class Entry, std::size_t N>
std::vector<float> expand_grid(const std::array<Entry, N>& grid, bool is_signed) {
  std::vector<float> out(N * W);
  for (std::size_t i = 0; i < N; ++i) {
    for (std::size_t j = 0; j < W; ++j) {
      const auto byte = static_cast<std::uint8_t>(grid[i] >> (8 * j));
      out[i * W + j] = is_signed ? static_cast<float>(static_cast<std::int8_t>(byte)) : static_cast<float>(byte);
    }
  }
  return out;
}

/// Tables of a sign-free magnitude grid (IQ2, IQ3) for one group of W weights with magnitudes xa
/// (= |x|) and weights w: a[i] (where `a` is given) = sum w xa g, b[i] = sum w g^2 and, where `a_flip` is given,
/// a_flip[i] = a[i] - 2 min_j w_j xa_j g_ij (the best entry when one sign must be flipped, see
/// `iq_grids::sign_mask`: flipping element j costs 4 s w_j xa_j g_ij).
template <std::size_t W>
void build_magnitude_tables(const float* grid, std::size_t n, const float* xa, const float* w, float* a, float* b,
                            float* a_flip) noexcept {
  for (std::size_t i = 0; i < n; ++i) {
    const float* g = grid + i * W;
    float sa = 0.0f, sb = 0.0f, m = std::numeric_limits<float>::infinity();
    for (std::size_t j = 0; j < W; ++j) {
      const float p = w[j] * xa[j] * g[j];
      sa += p;
      sb += w[j] * g[j] * g[j];
      m = std::min(m, p);
    }
    if (a) a[i] = sa;
    b[i] = sb;
    if (a_flip) a_flip[i] = sa - 2.0f * m;
  }
}

/// Tables of the shifted IQ1 grid (codes g + delta, g in {-1, 0, 1}) for one group of 8 signed x.
inline void build_shifted_tables(const float* grid, std::size_t n, const float* x, const float* w, float delta,
                                 float* a, float* b) noexcept {
  for (std::size_t i = 0; i < n; ++i) {
    const float* g = grid + i * 8;
    float sa = 0.0f, sb = 0.0f;
    for (std::size_t j = 0; j < 8; ++j) {
      const float q = g[j] + delta;
      sa += w[j] * x[j] * q;
      sb += w[j] * q * q;
    }
    a[i] = sa;
    b[i] = sb;
  }
}

/// Index of the element j < W that minimises w_j xa_j g_j (the cheapest sign to flip), first on ties.
template <std::size_t W>
std::size_t cheapest_flip(const float* g, const float* xa, const float* w) noexcept {
  std::size_t best = 0;
  float m = w[0] * xa[0] * g[0];
  for (std::size_t j = 1; j < W; ++j) {
    const float p = w[j] * xa[j] * g[j];
    if (p < m) {
      m = p;
      best = j;
    }
  }
  return best;
}

/// A super-block prepared for the search: x and importance rescaled to a safe range.
///
/// x_norm = x * 2^-exponent with max|x_norm| in [0.5, 1) (exact), w_norm = w / max(w). Errors and
/// scales in the search are in these units; a super-scale d_norm is stored as fp16(d_norm * 2^exponent).
struct normalized_block {
  std::array<float, 256> x{};
  std::array<float, 256> xa{};  ///< |x|
  std::array<float, 256> w{};
  int exponent = 0;
  bool all_zero = true;  ///< every x is 0 or every weight is 0: the block encodes to d = 0
};

inline void normalize_block(const float* x, const float* importance, normalized_block& nb) noexcept {
  float amax = 0.0f, wmax = 0.0f;
  for (std::size_t j = 0; j < 256; ++j) {
    amax = std::max(amax, std::fabs(x[j]));
    wmax = std::max(wmax, importance ? importance[j] : 1.0f);
  }
  nb.all_zero = amax == 0.0f || wmax == 0.0f;
  nb.exponent = 0;
  if (amax > 0.0f) std::frexp(amax, &nb.exponent);
  for (std::size_t j = 0; j < 256; ++j) {
    nb.x[j] = std::ldexp(x[j], -nb.exponent);
    nb.xa[j] = std::fabs(nb.x[j]);
    nb.w[j] = importance ? (wmax > 0.0f ? importance[j] / wmax : 0.0f) : 1.0f;
  }
}

/// The sub-block scale rule of a format: `Rule::levels` codes and `Rule::scale(d, ls)`, the f32
/// expression the decoder evaluates.
template <class Rule>
concept scale_rule = requires(float d, int ls) {
  { Rule::levels } -> std::convertible_to<int>;
  { Rule::scale(d, ls) } -> std::convertible_to<float>;
};

/// The result of the scale search: fp16 bits of d and the scale code of every sub-block.
struct scale_choice {
  std::uint16_t d = 0;                ///< fp16 bits of the super-scale (0: every output is 0)
  std::array<std::uint8_t, 16> ls{};  ///< scale code of sub-block b (the first n_sub are used)
  double error = 0.0;                 ///< the modelled weighted squared error, normalized units
};

/// Searches d and the sub-block scale codes (steps 1-3 above).
///
/// `units`: n_sub (<= 16) equal runs of units, sub-block-major, whose tables must outlive the search;
/// `sub_amax[b]`: max |x_norm| of sub-block b; `g_lo`, `g_hi`: the smallest nonzero and the largest
/// code magnitude (bounds of the s*_b sweep); `exponent`: the block's `normalized_block::exponent`.
/// The constructor runs step 1, `run()` steps 2-3.
template <scale_rule Rule>
class scale_search {
 public:
  scale_search(std::span<const quant_unit> units, std::size_t n_sub, const float* sub_amax, float g_lo, float g_hi,
               int exponent)
      : units_(units), n_sub_(n_sub), per_sub_(units.size() / n_sub), exponent_(exponent) {
    for (const auto& u : units) c_total_ += u.c;
    for (std::size_t b = 0; b < n_sub; ++b) s_star_[b] = best_continuous_scale(b, sub_amax[b], g_lo, g_hi);
  }

  /// The best (d, ls) found; never worse (in the model) than d = 0.
  scale_choice run() {
    scale_choice best;
    best.error = c_total_;  // d = 0
    float s_ref = 0.0f;
    for (std::size_t b = 0; b < n_sub_; ++b) s_ref = std::max(s_ref, s_star_[b]);
    if (!(s_ref > 0.0f)) return best;
    const float top = Rule::scale(1.0f, Rule::levels - 1);
    // Coarse: the largest sub-block scale on each upper code, and every sub-block's scale on the top
    // code (so that one outlying sub-block can be clipped in favour of the others' resolution).
    for (int ls = Rule::levels / 2; ls < Rule::levels; ++ls) try_d(s_ref / Rule::scale(1.0f, ls), best);
    for (std::size_t b = 0; b < n_sub_; ++b) try_d(s_star_[b] / top, best);
    // Fine: a geometric sweep around the best so far.
    const float d_best = best.d != 0 ? std::ldexp(fp16_to_f32(best.d), -exponent_) : s_ref / top;
    for (int k = -12; k <= 12; ++k) try_d(d_best * std::pow(1.015f, static_cast<float>(k)), best);
    for (int it = 0; it < 3; ++it) {
      const float d = refit_d(best);
      if (!(d > 0.0f) || !try_d(d, best)) break;
    }
    const std::uint16_t bits = best.d;
    for (int k = 1; k <= 4; ++k) {
      if (bits + k < 0x7c00) try_bits(static_cast<std::uint16_t>(bits + k), best);
      if (bits > k) try_bits(static_cast<std::uint16_t>(bits - k), best);
    }
    return best;
  }

  /// The sub-block scale (normalized units) that `choice` gives sub-block b.
  [[nodiscard]] float sub_scale(const scale_choice& choice, std::size_t b) const noexcept {
    return scale_of(fp16_to_f32(choice.d), choice.ls[b]);
  }

 private:
  static constexpr int ls_window = 1;  // codes tried on each side of the one nearest to s*_b / d

  float scale_of(float d_real, int ls) const noexcept { return std::ldexp(Rule::scale(d_real, ls), -exponent_); }

  float sub_error(std::size_t b, float s) const noexcept {
    float e = 0.0f;
    for (std::size_t u = b * per_sub_; u < (b + 1) * per_sub_; ++u) e += unit_error(units_[u], s);
    return e;
  }

  float sub_choose(std::size_t b, float s, double& sa, double& sb) const noexcept {
    float e = 0.0f;
    unit_choice c;
    for (std::size_t u = b * per_sub_; u < (b + 1) * per_sub_; ++u) e += unit_choose(units_[u], s, c, sa, sb);
    return e;
  }

  float best_continuous_scale(std::size_t b, float amax, float g_lo, float g_hi) const noexcept {
    if (!(amax > 0.0f)) return 0.0f;
    const float lo = 0.1f * amax / g_hi;  // low enough to clip a single outlier of small weight
    const float hi = 1.25f * amax / g_lo;
    if (!std::isnormal(lo)) return 0.0f;  // negligible next to the block's largest value
    const float ratio = 1.05f;
    float best_s = lo, best_e = std::numeric_limits<float>::infinity();
    for (float s = lo; s <= hi; s *= ratio) {
      const float e = sub_error(b, s);
      if (e < best_e) {
        best_e = e;
        best_s = s;
      }
    }
    for (int it = 0; it < 4; ++it) {  // least-squares refit with the codes fixed, kept while it helps
      double sa = 0.0, sb = 0.0;
      sub_choose(b, best_s, sa, sb);
      if (!(sb > 0.0) || !(sa > 0.0)) break;
      const auto s = static_cast<float>(sa / sb);
      const float e = sub_error(b, s);
      if (!(e < best_e)) break;
      best_e = e;
      best_s = s;
    }
    return best_s;
  }

  // Evaluates fp16 super-scale bits `bits`; updates `best`; true when it improved.
  bool try_bits(std::uint16_t bits, scale_choice& best) {
    for (std::size_t i = 0; i < n_tried_; ++i) {
      if (tried_[i] == bits) return false;
    }
    if (n_tried_ < tried_.size()) tried_[n_tried_++] = bits;
    const float d_real = fp16_to_f32(bits);
    if (!(d_real > 0.0f)) return false;
    scale_choice c;
    c.d = bits;
    double total = 0.0;
    for (std::size_t b = 0; b < n_sub_; ++b) {
      int center = 0;
      float center_dist = std::numeric_limits<float>::infinity();
      for (int ls = 0; ls < Rule::levels; ++ls) {
        const float dist = std::fabs(scale_of(d_real, ls) - s_star_[b]);
        if (dist < center_dist) {
          center_dist = dist;
          center = ls;
        }
      }
      float e_best = std::numeric_limits<float>::infinity();
      for (int ls = std::max(0, center - ls_window); ls <= std::min(Rule::levels - 1, center + ls_window); ++ls) {
        const float e = sub_error(b, scale_of(d_real, ls));
        if (e < e_best) {
          e_best = e;
          c.ls[b] = static_cast<std::uint8_t>(ls);
        }
      }
      total += e_best;
      if (total >= best.error) return false;
    }
    c.error = total;
    best = c;
    return true;
  }

  bool try_d(float d_norm, scale_choice& best) {
    if (!(d_norm > 0.0f) || !std::isfinite(d_norm)) return false;
    const float d_real = std::ldexp(d_norm, exponent_);
    const std::uint16_t bits = d_real >= 65504.0f ? std::uint16_t{0x7bff} : f32_to_fp16(d_real);
    return try_bits(bits, best);
  }

  // The least-squares super-scale for the codes `c` chooses: with s_b = d * m_b the error is
  // C - 2 d sum_b m_b a_b + d^2 sum_b m_b^2 b_b, minimal at d = sum m a / sum m^2 b (normalized units).
  float refit_d(const scale_choice& c) const noexcept {
    const float d_real = fp16_to_f32(c.d);
    double num = 0.0, den = 0.0;
    for (std::size_t b = 0; b < n_sub_; ++b) {
      const double m = Rule::scale(1.0f, c.ls[b]);  // s_b = d_norm * m
      double sa = 0.0, sb = 0.0;
      sub_choose(b, scale_of(d_real, c.ls[b]), sa, sb);
      num += m * sa;
      den += m * m * sb;
    }
    return den > 0.0 ? static_cast<float>(num / den) : 0.0f;
  }

  std::span<const quant_unit> units_;
  std::size_t n_sub_;
  std::size_t per_sub_;
  int exponent_;
  double c_total_ = 0.0;
  std::array<float, 16> s_star_{};
  std::array<std::uint16_t, 128> tried_{};
  std::size_t n_tried_ = 0;
};

/// Sign bits of a group of W values: bit j set when x_j < 0 (0 counts as positive).
template <std::size_t W>
std::uint8_t natural_signs(const float* x) noexcept {
  std::uint8_t s = 0;
  for (std::size_t j = 0; j < W; ++j) s = static_cast<std::uint8_t>(s | (x[j] < 0.0f ? 1u : 0u) << j);
  return s;
}

/// One unit for a group of 8 on a magnitude grid of n entries (IQ2_XXS, IQ2_XS, IQ2_S). With
/// `even_signs` the stored sign pattern must have an even number of minus signs: when x has an odd
/// number of negative values the table holds a_flip (the best single flip folded in, see
/// `build_magnitude_tables`). `storage` receives 2 n floats.
inline void build_grid8_unit(const float* grid, std::size_t n, const float* x, const float* xa, const float* w,
                             bool even_signs, float* storage, quant_unit& u) noexcept {
  float* a = storage;
  float* b = storage + n;
  const bool odd = even_signs && (std::popcount(natural_signs<8>(x)) & 1) != 0;
  build_magnitude_tables<8>(grid, n, xa, w, odd ? nullptr : a, b, odd ? a : nullptr);
  u = quant_unit{};
  u.n = static_cast<std::uint32_t>(n);
  u.term[0][0] = {a, b};
  for (std::size_t j = 0; j < 8; ++j) u.c += w[j] * x[j] * x[j];
}

/// The stored sign bits of a group of 8 coded with grid entry `g` (8 magnitudes): x's own signs, with
/// the cheapest one flipped when `even_signs` and their count is odd.
inline std::uint8_t grid8_signs(const float* g, const float* x, const float* xa, const float* w,
                                bool even_signs) noexcept {
  std::uint8_t s = natural_signs<8>(x);
  if (even_signs && (std::popcount(s) & 1) != 0) s = static_cast<std::uint8_t>(s ^ (1u << cheapest_flip<8>(g, xa, w)));
  return s;
}

/// One unit for a group of 8 coded as two entries (elements 0..3, 4..7) of a grid of n 4-magnitude
/// entries (IQ3_XXS, IQ3_S). With `even_signs` (IQ3_XXS) and an odd number of negative x, the unit has
/// two options: the flipped sign lies in the first half (option 0) or in the second (option 1).
/// `storage` receives 6 n floats.
inline void build_grid4x2_unit(const float* grid, std::size_t n, const float* x, const float* xa, const float* w,
                               bool even_signs, float* storage, quant_unit& u) noexcept {
  float* a1 = storage;
  float* f1 = storage + n;
  float* b1 = storage + 2 * n;
  float* a2 = storage + 3 * n;
  float* f2 = storage + 4 * n;
  float* b2 = storage + 5 * n;
  const bool odd = even_signs && (std::popcount(natural_signs<8>(x)) & 1) != 0;
  build_magnitude_tables<4>(grid, n, xa, w, a1, b1, odd ? f1 : nullptr);
  build_magnitude_tables<4>(grid, n, xa + 4, w + 4, a2, b2, odd ? f2 : nullptr);
  u = quant_unit{};
  u.n = static_cast<std::uint32_t>(n);
  u.n_terms = 2;
  if (odd) {
    u.n_options = 2;
    u.term[0] = {quad_term{f1, b1}, quad_term{a2, b2}};
    u.term[1] = {quad_term{a1, b1}, quad_term{f2, b2}};
  } else {
    u.term[0] = {quad_term{a1, b1}, quad_term{a2, b2}};
  }
  for (std::size_t j = 0; j < 8; ++j) u.c += w[j] * x[j] * x[j];
}

/// The stored sign bits of a group of 8 coded with 4-magnitude entries g1, g2 and option `option` of
/// `build_grid4x2_unit`.
inline std::uint8_t grid4x2_signs(const float* g1, const float* g2, std::size_t option, const float* x, const float* xa,
                                  const float* w, bool even_signs) noexcept {
  std::uint8_t s = natural_signs<8>(x);
  if (even_signs && (std::popcount(s) & 1) != 0) {
    const std::size_t j = option == 0 ? cheapest_flip<4>(g1, xa, w) : 4 + cheapest_flip<4>(g2, xa + 4, w + 4);
    s = static_cast<std::uint8_t>(s ^ (1u << j));
  }
  return s;
}

/// One unit for `groups` consecutive groups of 8 on the shifted IQ1 grid (n entries of 8 codes in
/// {-1, 0, 1}) sharing one shift: option 0 is delta = +delta_abs, option 1 delta = -delta_abs.
/// `storage` receives 4 n groups floats.
inline void build_shifted_unit(const float* grid, std::size_t n, const float* x, const float* w, std::size_t groups,
                               float delta_abs, float* storage, quant_unit& u) noexcept {
  u = quant_unit{};
  u.n = static_cast<std::uint32_t>(n);
  u.n_options = 2;
  u.n_terms = static_cast<std::uint8_t>(groups);
  for (std::size_t o = 0; o < 2; ++o) {
    for (std::size_t k = 0; k < groups; ++k) {
      float* a = storage + (o * groups + k) * 2 * n;
      float* b = a + n;
      build_shifted_tables(grid, n, x + 8 * k, w + 8 * k, o == 0 ? delta_abs : -delta_abs, a, b);
      u.term[o][k] = {a, b};
    }
  }
  for (std::size_t j = 0; j < 8 * groups; ++j) u.c += w[j] * x[j] * x[j];
}

/// Max |x| of each sub-block of `size` elements of a normalized block.
inline std::array<float, 16> sub_block_amax(const normalized_block& nb, std::size_t size) noexcept {
  std::array<float, 16> out{};
  for (std::size_t j = 0; j < 256; ++j) out[j / size] = std::max(out[j / size], nb.xa[j]);
  return out;
}

/// A little-endian u32 from 4 bytes (IQ3_XXS's sign-and-scale words).
inline std::uint32_t read_iq_u32(const std::uint8_t* p) noexcept {
  return static_cast<std::uint32_t>(p[0]) | static_cast<std::uint32_t>(p[1]) << 8 |
         static_cast<std::uint32_t>(p[2]) << 16 | static_cast<std::uint32_t>(p[3]) << 24;
}

/// Writes a u32 as 4 little-endian bytes.
inline void write_iq_u32(std::uint8_t* p, std::uint32_t v) noexcept {
  for (int i = 0; i < 4; ++i) p[i] = static_cast<std::uint8_t>(v >> (8 * i));
}

/// The same block with x negated: IQ1's grids are not symmetric under negation, so its encoders also
/// try a negative super-scale d, which is the positive search on -x with the sign bit of d set.
inline normalized_block negated(const normalized_block& nb) noexcept {
  normalized_block out = nb;
  for (float& v : out.x) v = -v;
  return out;
}

/// The part of a codebook i-quant's row encoder that is its own (a policy; quantize_iq_row runs the
/// rest). Members: `format` (the GGUF type: its `block`, `scale_rule`, `name`, `block_size`);
/// `units` (quant units per block, each of block_size / units weights, sub-block-major) and
/// `unit_floats` (quad-table floats of one unit); `sub_blocks` (scale codes per block);
/// `grid_min`, `grid_max` (the smallest nonzero and the largest code magnitude, for scale_search);
/// `both_signs` (also search d < 0: the grid is not symmetric); `grid()` (the expanded codebook);
/// `build_unit(grid, v, u, storage, unit)` (unit u's quad tables for the block v, in storage);
/// `encode(y, choice, search, units, v, sign)` (writes the chosen scales, codes and signs into the
/// zeroed block y; sign 1: v is the negated block).
template <class E>
concept iq_row_encoder = requires(const float* grid, const normalized_block& v, std::size_t u, float* storage,
                                  quant_unit& unit) {
  typename E::format;
  typename E::format::block;
  { E::units } -> std::convertible_to<std::size_t>;
  { E::unit_floats } -> std::convertible_to<std::size_t>;
  { E::sub_blocks } -> std::convertible_to<std::size_t>;
  { E::grid_min } -> std::convertible_to<float>;
  { E::grid_max } -> std::convertible_to<float>;
  { E::both_signs } -> std::convertible_to<bool>;
  { E::grid() } -> std::same_as<const std::vector<float>&>;
  E::build_unit(grid, v, u, storage, unit);
};

/// Encodes n floats (n a multiple of the format's block size) into n / block_size blocks of
/// E::format with the search above: per block, normalize (normalize_block; an all-zero block
/// stays zero), build the quad tables of every unit (E::build_unit), search the scales
/// (scale_search over E::sub_blocks sub-blocks), and, unless d rounds to 0, let E::encode write
/// the block; with E::both_signs the same on -x (negated), kept where its modelled error is lower.
/// `importance`: n weights or nullptr (unit weights).
/// throws lowbit::error{errc::shape_mismatch} if n % block_size != 0, {errc::invalid_argument} if an
/// element of x is not finite or an importance is negative or not finite. Allocates scratch.
template <iq_row_encoder E>
void quantize_iq_row(const float* x, const float* importance, std::size_t n, typename E::format::block* out) {
  using format = typename E::format;
  using block = typename format::block;
  check_quantize_row_args(format::name, format::block_size, x, importance, n, out);
  const std::vector<float>& grid = E::grid();
  std::vector<float> storage(E::units * E::unit_floats);
  std::array<quant_unit, E::units> units;
  normalized_block nb;
  for (std::size_t ibl = 0; ibl < n / format::block_size; ++ibl) {
    block& y = out[ibl];
    y = block{};
    normalize_block(x + ibl * format::block_size, importance ? importance + ibl * format::block_size : nullptr, nb);
    if (nb.all_zero) continue;
    const auto amax = sub_block_amax(nb, format::block_size / E::sub_blocks);
    double best_error = 0.0;
    for (int sign = 0; sign < (E::both_signs ? 2 : 1); ++sign) {
      const normalized_block& v = sign == 0 ? nb : negated(nb);
      for (std::size_t u = 0; u < E::units; ++u) {
        E::build_unit(grid.data(), v, u, storage.data() + u * E::unit_floats, units[u]);
      }
      scale_search<typename format::scale_rule> search(units, E::sub_blocks, amax.data(), E::grid_min, E::grid_max,
                                                       v.exponent);
      const scale_choice c = search.run();
      if (sign == 0) best_error = c.error;  // d = 0 at worst
      if (fp16_to_f32(c.d) == 0.0f || (sign == 1 && !(c.error < best_error))) continue;
      best_error = c.error;
      y = block{};
      E::encode(y, c, search, units, v, sign);
    }
  }
}

}  // namespace lowbit::ggml::detail

LOWBIT_EXACT_FP_END
