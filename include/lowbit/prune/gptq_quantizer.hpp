// SPDX-License-Identifier: Apache-2.0
// Copyright lowbit contributors
#pragma once

#include <algorithm>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <span>
#include <type_traits>
#include <vector>

#include "lowbit/core/exact_fp.hpp"
#include "lowbit/core/format.hpp"
#include "lowbit/formats/quant/group_quantizer.hpp"
#include "lowbit/formats/quant/quant.hpp"
#include "lowbit/quant/block_matrix.hpp"
#include "lowbit/quant/quantized_matrix.hpp"

LOWBIT_EXACT_FP_BEGIN

namespace lowbit::prune {

/// What GPTQ needs of a value format: the callback that fixes one group of one row from its current
/// weights, then rounds each of the group's weights as the sweep reaches it.
///
/// A model `C` provides
/// - `c.group_size()`: consecutive K columns of a row that share a grid (scale, zero point, or a whole
///   GGUF block / super-block); K must be a multiple of it;
/// - `c.begin_group(n, g, values)`: row n, group g (columns g * G .. g * G + G - 1) starts; `values`
///   holds the group's G current weights (updated by every column processed so far), in column order;
/// - `c.round(n, k, w) -> float`: the dequantized value that weight (n, k) of the started group takes,
///   given its current value w (called once per weight, after its group's begin_group);
/// - `c.result()`: the owning quantized matrix, which dequantizes exactly to the values returned.
template <class C>
concept gptq_quantizer = requires(C& c, const C& cc, std::size_t i, std::span<const float> v, float w) {
  { cc.group_size() } -> std::convertible_to<std::size_t>;
  c.begin_group(i, i, v);
  { c.round(i, i, w) } -> std::convertible_to<float>;
  c.result();
};

/// GPTQ's grid for a parametric `quant<...>` with per_channel or per_group<G> scales: when a group
/// starts, its scale (and zero point) is the round-to-nearest absmax (symmetric) or min-max
/// (asymmetric) choice of `quantize<Q>` for the group's current weights; each weight is then rounded
/// to the nearest code of that grid as the sweep reaches it, with the updated value.
/// Result: `quantized_matrix<Q>` (N, K), scales stored as Q's scale type.
/// Source: GPTQ (arXiv:2210.17323) and its reference code (IST-DASLab/gptq, `--groupsize`: the grid
/// is found from the current weights when the sweep reaches a group's first column).
template <quant_format Q>
class parametric_gptq_quantizer {
  static_assert(Q::block_rows == 1, "lowbit: GPTQ quantizes row by row: use per_channel or per_group<G> scales");
  using pq = lowbit::detail::parametric_quantizer<Q>;

 public:
  /// throws lowbit::error{errc::shape_mismatch} as quantized_matrix<Q>(rows, cols).
  parametric_gptq_quantizer(std::size_t rows, std::size_t cols) : m_(rows, cols), one_(1), ones_(1, 1.0f), q_(1) {}

  std::size_t group_size() const noexcept { return Q::group_size == 0 ? m_.cols() : Q::group_size; }

  void begin_group(std::size_t n, std::size_t g, std::span<const float> values) {
    float lo = 0.0f;
    float hi = 0.0f;
    for (const float x : values) {
      if constexpr (Q::has_zero_point) {
        lo = std::min(lo, x);
        hi = std::max(hi, x);
      } else {
        hi = std::max(hi, std::abs(x));
      }
    }
    const std::size_t s = m_.scale_index(n, g * group_size());
    int zp = 0;
    pq::range_to_scale(lo, hi, m_.scales()[s], zp);
    if constexpr (Q::has_zero_point) m_.zero_points()[s] = zp;
  }

  float round(std::size_t n, std::size_t k, float w) {
    const std::size_t s = m_.scale_index(n, k);
    const float scale = Q::scale_type::decode(m_.scales()[s]);
    const int zp = Q::has_zero_point ? m_.zero_points()[s] : 0;
    one_[0] = w;
    pq::encode_group(one_, ones_, scale, zp, q_);
    m_.set_code(n, k, q_[0]);
    // The value quantized_matrix::dequantize_row computes, in the same f32 steps.
    float value = Q::code_type::decode(q_[0]);
    if constexpr (Q::has_zero_point) value -= static_cast<float>(zp);
    return scale * value;
  }

  quantized_matrix<Q>& result() noexcept { return m_; }

 private:
  quantized_matrix<Q> m_;
  std::vector<float> one_, ones_;
  std::vector<std::uint8_t> q_;
};

/// GPTQ's grid for a block format F (GGUF Q4_0, Q8_0, IQ4_NL, the K-quants, ...): a group is one
/// block of F::block_size columns (a 256-wide super-block for the K-quants, whose sub-block scales
/// are chosen jointly). When the block starts, F's own encoder (`F::quantize_block`, what
/// llama-quantize writes without an imatrix) quantizes the block's current weights; every weight of
/// the block then takes its decoded value as the sweep reaches it, and the OBS update carries the
/// error (w - value), with w updated by the block's earlier columns, to the columns after it. So the
/// compensation between blocks is GPTQ's; inside a block the codes are fixed when the block starts.
/// Result: `block_matrix<F>` (N, K), byte-exact F blocks.
template <quantizable_format F>
class block_gptq_quantizer {
 public:
  /// throws lowbit::error{errc::shape_mismatch} as block_matrix<F>(rows, cols).
  block_gptq_quantizer(std::size_t rows, std::size_t cols) : m_(rows, cols), values_(rows * cols) {}

  std::size_t group_size() const noexcept { return F::block_size; }

  void begin_group(std::size_t n, std::size_t g, std::span<const float> values) {
    auto& b = m_.blocks()[n * (m_.cols() / F::block_size) + g];
    F::quantize_block(values.data(), b);
    F::dequantize_block(b, values_.data() + n * m_.cols() + g * F::block_size);
  }

  float round(std::size_t n, std::size_t k, float) const noexcept { return values_[n * m_.cols() + k]; }

  block_matrix<F>& result() noexcept { return m_; }

 private:
  block_matrix<F> m_;
  std::vector<float> values_;
};

/// The GPTQ quantizer lowbit uses for a format: `parametric_gptq_quantizer<F>` for `quant<...>`,
/// `block_gptq_quantizer<F>` for the block formats.
namespace detail {
template <class F>
struct gptq_quantizer_for {
  using type = block_gptq_quantizer<F>;
};
template <quant_format F>
struct gptq_quantizer_for<F> {
  using type = parametric_gptq_quantizer<F>;
};
}  // namespace detail

template <class F>
using gptq_quantizer_t = typename detail::gptq_quantizer_for<F>::type;

}  // namespace lowbit::prune

LOWBIT_EXACT_FP_END
