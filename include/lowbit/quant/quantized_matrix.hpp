// SPDX-License-Identifier: Apache-2.0
// Copyright lowbit contributors
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <span>
#include <string>
#include <vector>

#include "lowbit/core/error.hpp"
#include "lowbit/core/exact_fp.hpp"
#include "lowbit/core/matrix_view.hpp"
#include "lowbit/formats/quant/group_quantizer.hpp"
#include "lowbit/formats/quant/packing.hpp"
#include "lowbit/formats/quant/quant.hpp"

LOWBIT_EXACT_FP_BEGIN

namespace lowbit {

/// An owning W(N, K) (out_features x in_features) in the parametric format `Q = quant<...>`.
///
/// Value: `w(n, k) = scale(n, k) * (Q::code_type::decode(q(n, k)) - zero_point(n, k))`, with
/// zero_point = 0 for symmetric formats.
/// Storage:
/// - codes: N rows of `row_bytes() = ceil(K * bits / 8)` bytes, bit-packed as `pack_codes` says
///   (element k at bit (k * bits) % 8 of byte (k * bits) / 8 of its row, LSB first; rows start on a
///   byte; ISA-independent);
/// - scales: `Q::scale_type::storage_type`, row-major (scale_rows, scale_cols) =
///   (1, 1) per_tensor, (N, 1) per_channel, (N, K / G) per_group<G>, (N / R, K / C) per_block<R, C>;
/// - zero points (asymmetric only): one `int` code value per scale, same shape, within the code range.
/// Source: layout defined here (docs/formats/parametric.md); formula gemmlowp doc/quantization.md.
template <quant_format Q>
class quantized_matrix {
 public:
  using quant_type = Q;
  using code_type = typename Q::code_type;
  using scale_type = typename Q::scale_type;
  using granularity_type = typename Q::granularity_type;
  using scale_storage = typename scale_type::storage_type;

  /// An all-zero-code matrix of shape (rows, cols), scales and zero points value-initialized.
  /// throws lowbit::error{errc::shape_mismatch} if rows or cols is 0 or they do not divide into the
  /// granularity's groups (K % G, N % R, K % C).
  quantized_matrix(std::size_t rows, std::size_t cols) : rows_(rows), cols_(cols) {
    check(rows > 0 && cols > 0, errc::shape_mismatch,
          [&] { return "quantized_matrix: empty shape " + std::to_string(rows) + " x " + std::to_string(cols); });
    granularity_type::check_shape(rows, cols);
    row_bytes_ = packed_bytes(cols, Q::bits);
    codes_.assign(rows * row_bytes_, 0);
    scales_.assign(scale_rows() * scale_cols(), scale_storage{});
    if constexpr (Q::has_zero_point) zero_points_.assign(scales_.size(), 0);
  }

  std::size_t rows() const noexcept { return rows_; }  ///< N
  std::size_t cols() const noexcept { return cols_; }  ///< K
  std::size_t row_bytes() const noexcept { return row_bytes_; }
  std::size_t scale_rows() const noexcept { return granularity_type::scale_rows(rows_); }
  std::size_t scale_cols() const noexcept { return granularity_type::scale_cols(cols_); }

  /// The packed codes, N * row_bytes() bytes.
  std::span<std::uint8_t> codes() noexcept { return codes_; }
  std::span<const std::uint8_t> codes() const noexcept { return codes_; }
  /// The stored scales, (scale_rows, scale_cols) row-major.
  std::span<scale_storage> scales() noexcept { return scales_; }
  std::span<const scale_storage> scales() const noexcept { return scales_; }
  /// The zero points, (scale_rows, scale_cols) row-major; empty for symmetric formats.
  std::span<int> zero_points() noexcept { return zero_points_; }
  std::span<const int> zero_points() const noexcept { return zero_points_; }

  /// The packed bytes of row n (unchecked: n < rows()).
  const std::uint8_t* row_codes(std::size_t n) const noexcept { return codes_.data() + n * row_bytes_; }

  /// Raw code of element (n, k). throws lowbit::error{errc::out_of_range} outside the matrix.
  std::uint8_t code(std::size_t n, std::size_t k) const {
    check_index(n, k);
    return packed_code(row_codes(n), k, Q::bits);
  }
  /// Overwrites the raw code of (n, k) (bits above Q::bits ignored). throws {errc::out_of_range}.
  void set_code(std::size_t n, std::size_t k, std::uint8_t raw) {
    check_index(n, k);
    const std::size_t bit = k * Q::bits;
    const unsigned mask = ((1u << Q::bits) - 1u) << (bit % 8);
    const unsigned v = (static_cast<unsigned>(raw) << (bit % 8)) & mask;
    std::uint8_t* p = codes_.data() + n * row_bytes_ + bit / 8;
    p[0] = static_cast<std::uint8_t>((p[0] & ~mask) | v);
    if ((mask >> 8) != 0) p[1] = static_cast<std::uint8_t>((p[1] & ~(mask >> 8)) | (v >> 8));
  }
  /// Index into scales()/zero_points() of element (n, k) (unchecked).
  std::size_t scale_index(std::size_t n, std::size_t k) const noexcept {
    return granularity_type::scale_row(n) * scale_cols() + granularity_type::scale_col(k);
  }
  /// Decoded scale of element (n, k). throws {errc::out_of_range}.
  float scale(std::size_t n, std::size_t k) const {
    check_index(n, k);
    return scale_type::decode(scales_[scale_index(n, k)]);
  }
  /// Zero point of element (n, k); 0 for symmetric formats. throws {errc::out_of_range}.
  int zero_point(std::size_t n, std::size_t k) const {
    check_index(n, k);
    if constexpr (Q::has_zero_point) {
      return zero_points_[scale_index(n, k)];
    } else {
      return 0;
    }
  }

  /// Writes the K values of row n: `out[k] = scale * (decode(q) - zero_point)` in f32.
  /// throws {errc::out_of_range} if n >= N, {errc::shape_mismatch} if out.size() != K.
  void dequantize_row(std::size_t n, std::span<float> out) const {
    check(n < rows_, errc::out_of_range,
          [&] { return "quantized_matrix: row " + std::to_string(n) + " of " + std::to_string(rows_); });
    check(out.size() == cols_, errc::shape_mismatch, [&] {
      return "quantized_matrix::dequantize_row: out has " + std::to_string(out.size()) +
             " elements, K = " + std::to_string(cols_);
    });
    dequantize_row_unchecked(n, out.data());
  }

  /// dequantize_row without checks; out holds K floats.
  void dequantize_row_unchecked(std::size_t n, float* out) const noexcept {
    const std::uint8_t* row = row_codes(n);
    const std::size_t scale_row_base = granularity_type::scale_row(n) * scale_cols();
    for (std::size_t k = 0; k < cols_; ++k) {
      const std::size_t s = scale_row_base + granularity_type::scale_col(k);
      float value = code_type::decode(packed_code(row, k, Q::bits));
      if constexpr (Q::has_zero_point) value -= static_cast<float>(zero_points_[s]);
      out[k] = scale_type::decode(scales_[s]) * value;
    }
  }

 private:
  void check_index(std::size_t n, std::size_t k) const {
    check(n < rows_ && k < cols_, errc::out_of_range, [&] {
      return "quantized_matrix: element (" + std::to_string(n) + ", " + std::to_string(k) + ") of a " +
             std::to_string(rows_) + " x " + std::to_string(cols_) + " matrix";
    });
  }

  std::size_t rows_ = 0;
  std::size_t cols_ = 0;
  std::size_t row_bytes_ = 0;
  std::vector<std::uint8_t> codes_;
  std::vector<scale_storage> scales_;
  std::vector<int> zero_points_;
};

/// Quantizes W(N, K) (row-major f32, out_features x in_features) into the parametric format Q.
///
/// Each scale group (Q's granularity) is quantized on its own, as `opt.method` says; codes are
/// `Code::encode(x / scale)` (nearest code, saturating), asymmetric `clamp(round(x / scale) + zero_point)`
/// (round half to even).
/// Shapes: w (N, K), opt.importance (K) or empty.
/// throws lowbit::error{errc::shape_mismatch} if N or K is 0, K is not divisible by the group size
/// (N by the block rows), or importance has a size other than K; {errc::invalid_argument} if w holds
/// NaN or Inf (naming the element), importance holds a negative or non-finite value, or the clip
/// options are out of range.
/// Allocation: the result, plus O(N * K) bytes of scratch.
template <quant_format Q>
quantized_matrix<Q> quantize(matrix_view<const float> w, const quantize_options& opt = {}) {
  using g = typename Q::granularity_type;
  check(w.rows > 0 && w.cols > 0, errc::shape_mismatch,
        [&] { return "quantize: empty weight " + std::to_string(w.rows) + " x " + std::to_string(w.cols); });
  g::check_shape(w.rows, w.cols);
  check(opt.importance.empty() || opt.importance.size() == w.cols, errc::shape_mismatch, [&] {
    return "quantize: importance has " + std::to_string(opt.importance.size()) +
           " weights, K = " + std::to_string(w.cols);
  });
  for (std::size_t k = 0; k < opt.importance.size(); ++k) {
    check(std::isfinite(opt.importance[k]) && opt.importance[k] >= 0.0f, errc::invalid_argument, [&] {
      return "quantize: importance[" + std::to_string(k) + "] = " + std::to_string(opt.importance[k]) +
             ", expected a finite value >= 0";
    });
  }
  check(opt.clip_steps >= 1 && opt.clip_min_ratio > 0.0f && opt.clip_min_ratio <= 1.0f, errc::invalid_argument, [&] {
    return "quantize: clip_steps = " + std::to_string(opt.clip_steps) +
           " (>= 1) and clip_min_ratio = " + std::to_string(opt.clip_min_ratio) + " (in (0, 1]) are out of range";
  });
  for (std::size_t n = 0; n < w.rows; ++n) {
    for (std::size_t k = 0; k < w.cols; ++k) {
      check(std::isfinite(w.row(n)[k]), errc::invalid_argument, [&] {
        return "quantize: W(" + std::to_string(n) + ", " + std::to_string(k) + ") = " + std::to_string(w.row(n)[k]) +
               " is not finite";
      });
    }
  }

  quantized_matrix<Q> out(w.rows, w.cols);
  const std::size_t group_rows = w.rows / out.scale_rows();
  const std::size_t group_cols = w.cols / out.scale_cols();
  std::vector<std::uint8_t> raw(w.rows * w.cols);  // (N, K), one code per byte
  std::vector<float> xs(group_rows * group_cols);
  std::vector<float> ws(xs.size());
  std::vector<std::uint8_t> q(xs.size());
  using quantizer = detail::parametric_quantizer<Q>;
  for (std::size_t sr = 0; sr < out.scale_rows(); ++sr) {
    for (std::size_t sc = 0; sc < out.scale_cols(); ++sc) {
      for (std::size_t i = 0; i < group_rows; ++i) {
        for (std::size_t j = 0; j < group_cols; ++j) {
          const std::size_t k = sc * group_cols + j;
          xs[i * group_cols + j] = w.row(sr * group_rows + i)[k];
          ws[i * group_cols + j] = opt.importance.empty() ? 1.0f : opt.importance[k];
        }
      }
      typename quantizer::storage st{};
      int zp = 0;
      quantizer::quantize_group(xs, ws, opt, st, zp, q);
      out.scales()[sr * out.scale_cols() + sc] = st;
      if constexpr (Q::has_zero_point) out.zero_points()[sr * out.scale_cols() + sc] = zp;
      for (std::size_t i = 0; i < group_rows; ++i) {
        for (std::size_t j = 0; j < group_cols; ++j) {
          raw[(sr * group_rows + i) * w.cols + sc * group_cols + j] = q[i * group_cols + j];
        }
      }
    }
  }
  for (std::size_t n = 0; n < w.rows; ++n) {
    pack_codes(std::span<const std::uint8_t>(raw.data() + n * w.cols, w.cols), Q::bits,
               out.codes().subspan(n * out.row_bytes(), out.row_bytes()));
  }
  return out;
}

/// Writes the dequantized W(N, K) of `w` to `out` (row-major f32, strides allowed).
/// throws lowbit::error{errc::shape_mismatch} if out is not N x K.
template <quant_format Q>
void dequantize(const quantized_matrix<Q>& w, matrix_view<float> out) {
  check(out.rows == w.rows() && out.cols == w.cols(), errc::shape_mismatch, [&] {
    return "dequantize: out is " + std::to_string(out.rows) + " x " + std::to_string(out.cols) + ", W is " +
           std::to_string(w.rows()) + " x " + std::to_string(w.cols());
  });
  for (std::size_t n = 0; n < w.rows(); ++n) w.dequantize_row_unchecked(n, out.row(n));
}

/// The dequantized W(N, K) of `w` as a dense row-major vector of N * K floats.
template <quant_format Q>
std::vector<float> dequantize(const quantized_matrix<Q>& w) {
  std::vector<float> out(w.rows() * w.cols());
  dequantize(w, matrix_view<float>(out.data(), w.rows(), w.cols()));
  return out;
}

}  // namespace lowbit

LOWBIT_EXACT_FP_END
