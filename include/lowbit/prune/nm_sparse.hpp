// SPDX-License-Identifier: Apache-2.0
// Copyright lowbit contributors
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "lowbit/core/error.hpp"
#include "lowbit/core/fp16.hpp"
#include "lowbit/core/layout.hpp"
#include "lowbit/core/matrix_view.hpp"
#include "lowbit/formats/ggml/q8_0.hpp"

/// \file
/// N:M structured-sparse storage of a weight W(N_out, K): a layout policy `nm_sparse<N, M>` composed
/// with a value format (`nm_f32`, `nm_bf16`, `nm_int8_per_channel`, `nm_q8_0`) in
/// `nm_sparse_matrix<Values, Layout>`.
///
/// Design: a *layout policy* rather than a format adaptor. Which positions are kept, and their index
/// bits, do not depend on the value format; the value format only quantizes the dense masked row (its
/// own, unchanged rule) and the layout then drops the codes of the pruned positions. So one packing
/// serves every symmetric value format (code 0 <=> value 0), a new value format is a small quantizer
/// policy and not a new sparse format, and the codes and scales are exactly those of the dense format
/// on the masked matrix (the dense GEMM on the masked matrix is the oracle, integer-exact).
/// A format adaptor would have had to redefine each format's block (a Q8_0 block of "32 kept values"
/// spans a K range that depends on N:M and leaves the activation blocks), which composes worse.
///
/// The layout axis after this: `row_major` and `k_packed<NR, KR>` are dense layouts (every element of
/// W stored, the format decides the bytes of a block); `nm_sparse<N, M>` is a *sparse* layout (only the
/// N kept elements of every M along K stored, plus their index bits). Dense formats keep the dense
/// layouts; `nm_sparse` is defined for the value policies in this header.
///
/// Byte layout of one `nm_sparse_matrix` (all arrays row-major, rows = N_out, no padding between rows
/// other than the index row's whole bytes):
/// * codes: (N_out, K * N / M) of `Values::code_type`; row n's kept values in increasing k.
/// * index: (N_out, index_row_bytes) bytes, index_row_bytes = ceil(K * N / M * B / 8),
///   B = index_bits = ceil(log2 M) (1 for M = 2). Kept value j of a row (j counts from 0 along the row)
///   lies in group g = j / N at dense column k = g * M + p, and p (0 <= p < M) is stored in bits
///   [j * B, j * B + B) of the row's little-endian bit stream (bit i of the stream is bit i % 8 of
///   byte i / 8). Within a group p strictly increases. For 2:4, byte t holds groups 2t and 2t + 1:
///   bits 0-1 and 2-3 the two positions of group 2t, bits 4-5 and 6-7 those of group 2t + 1.
/// * scales: (N_out, Values::scales_per_row(K)) of `Values::scale_type` (none for f32 and bf16; one f32 per row
///   for int8 per channel; one fp16 per 32 dense columns for Q8_0).
/// Bytes are ISA-independent. Source: Mishra et al. 2021, arXiv:2104.08378 (2:4 with 2-bit indices).

namespace lowbit::prune {

/// The N:M sparse layout policy: in every group of M consecutive elements along K of a row, N are
/// stored with a ceil(log2 M)-bit position each. Requires 0 < N < M <= 256.
template <std::size_t N, std::size_t M>
struct nm_sparse {
  static_assert(N > 0 && N < M && M <= 256, "lowbit: nm_sparse<N, M> needs 0 < N < M <= 256");
  static constexpr std::size_t n = N;  ///< kept per group
  static constexpr std::size_t m = M;  ///< group length along K
  /// Bits per kept value's in-group position: ceil(log2 M), at least 1.
  static constexpr std::size_t index_bits = [] {
    std::size_t b = 1;
    while ((std::size_t{1} << b) < M) ++b;
    return b;
  }();
  static constexpr std::string_view name = "nm_sparse";
};

/// True for `nm_sparse<N, M>`.
template <class L>
inline constexpr bool is_nm_sparse_v = false;
template <std::size_t N, std::size_t M>
inline constexpr bool is_nm_sparse_v<nm_sparse<N, M>> = true;

/// Value format: f32 values, no scale. Exact: unpack returns the masked f32 W bit for bit.
struct nm_f32 {
  using code_type = float;
  using scale_type = float;
  static constexpr std::string_view name = "f32";
  static constexpr std::size_t scales_per_row(std::size_t) noexcept { return 0; }
  static void check_cols(std::size_t) {}
  /// Dense row w(K) -> codes(K); no scales.
  static void quantize_row(const float* w, std::size_t k, code_type* codes, scale_type*) noexcept {
    for (std::size_t j = 0; j < k; ++j) codes[j] = w[j];
  }
  /// Value of the code at dense column k.
  static float dequantize(code_type c, const scale_type*, std::size_t) noexcept { return c; }
};

/// Value format: bfloat16 values (round to nearest even, as `lowbit::bf16`), no scale:
/// `w = bf16_to_f32(code)`. unpack returns the masked W rounded to bf16, bit for bit as the dense BF16
/// format would hold it. Source: the bfloat16 format (Google Brain; Kalamkar et al., arXiv:1905.12322).
struct nm_bf16 {
  using code_type = std::uint16_t;
  using scale_type = float;
  static constexpr std::string_view name = "bf16";
  static constexpr std::size_t scales_per_row(std::size_t) noexcept { return 0; }
  static void check_cols(std::size_t) {}
  static void quantize_row(const float* w, std::size_t k, code_type* codes, scale_type*) noexcept {
    for (std::size_t j = 0; j < k; ++j) codes[j] = f32_to_bf16(w[j]);
  }
  static float dequantize(code_type c, const scale_type*, std::size_t) noexcept { return bf16_to_f32(c); }
};

/// Value format: symmetric int8 per output channel, `w = scale * q`, `scale = max|w_row| / 127` (f32),
/// `q = round(w / scale)` (ties away from zero), q in [-127, 127]; an all-zero row has scale 0, q = 0.
/// scales: (N_out, 1) f32. Source: integer-only inference, Jacob et al. 2017, arXiv:1712.05877.
struct nm_int8_per_channel {
  using code_type = std::int8_t;
  using scale_type = float;
  static constexpr std::string_view name = "int8_per_channel";
  static constexpr std::size_t scales_per_row(std::size_t) noexcept { return 1; }
  static void check_cols(std::size_t) {}
  static void quantize_row(const float* w, std::size_t k, code_type* codes, scale_type* scales) noexcept {
    float amax = 0.0f;
    for (std::size_t j = 0; j < k; ++j) amax = std::fmax(amax, std::fabs(w[j]));
    const float scale = amax / 127.0f;
    scales[0] = scale;
    for (std::size_t j = 0; j < k; ++j) {
      const float q = scale != 0.0f ? std::round(w[j] / scale) : 0.0f;
      codes[j] = static_cast<std::int8_t>(std::fmin(127.0f, std::fmax(-127.0f, q)));
    }
  }
  static float dequantize(code_type c, const scale_type* scales, std::size_t) noexcept {
    return scales[0] * static_cast<float>(c);
  }
};

/// Value format: GGUF Q8_0 on the masked dense row: per 32 dense columns an fp16 scale `d` and int8
/// codes, byte-exact with `ggml::q8_0::quantize_block` of the masked row (pruned columns code 0);
/// `w = fp16_to_f32(d) * q`. The scale belongs to 32 *dense* columns (N * 32 / M kept values), so its
/// blocks line up with the activations' Q8 blocks. scales: (N_out, K / 32) fp16 bits.
/// Requires K % 32 == 0. Source: ggml `block_q8_0`.
struct nm_q8_0 {
  using code_type = std::int8_t;
  using scale_type = std::uint16_t;
  static constexpr std::string_view name = "Q8_0";
  static constexpr std::size_t block_size = 32;
  static constexpr std::size_t scales_per_row(std::size_t k) noexcept { return k / block_size; }
  static void check_cols(std::size_t k) {
    check(k % block_size == 0, errc::shape_mismatch,
          [&] { return "prune::nm_sparse_matrix<Q8_0>: K = " + std::to_string(k) + " is not a multiple of 32"; });
  }
  static void quantize_row(const float* w, std::size_t k, code_type* codes, scale_type* scales) noexcept {
    for (std::size_t b = 0; b < k / block_size; ++b) {
      ggml::q8_0::block blk{};
      ggml::q8_0::quantize_block(w + b * block_size, blk);
      scales[b] = blk.d;
      for (std::size_t j = 0; j < block_size; ++j) codes[b * block_size + j] = blk.qs[j];
    }
  }
  static float dequantize(code_type c, const scale_type* scales, std::size_t k) noexcept {
    return fp16_to_f32(scales[k / block_size]) * static_cast<float>(c);
  }
};

template <class Values, class Layout>
class nm_sparse_matrix;

/// A weight W(N_out, K) stored in the N:M sparse layout with `Values` codes (byte layout in the
/// file comment above). Made once by `pack` from a dense W whose rows meet the pattern; `unpack`
/// gives back the masked (and value-quantized) dense matrix exactly.
/// Allocation: codes K*N/M per row, index ceil(K*N/M*B/8) bytes per row, scales per `Values`.
template <class Values, std::size_t N, std::size_t M>
class nm_sparse_matrix<Values, nm_sparse<N, M>> {
 public:
  using values = Values;
  using layout = nm_sparse<N, M>;
  using code_type = typename Values::code_type;
  using scale_type = typename Values::scale_type;
  static constexpr std::size_t n_kept = N;
  static constexpr std::size_t m_group = M;
  static constexpr std::size_t index_bits = layout::index_bits;

  nm_sparse_matrix() = default;

  /// Packs a dense w(N_out, K) (row-major f32, strides allowed) whose every group of M along K has at
  /// most N non-zero weights (apply an N:M mask first, e.g. `apply_mask(w, magnitude_nm_mask(w, p))`).
  /// The kept positions of a group are its non-zeros, completed with its lowest zero columns.
  /// Each row is quantized densely by `Values` (its rule on the masked row), then compacted.
  /// throws lowbit::error{errc::shape_mismatch} if K % M != 0 (or the value format's K rule fails);
  /// {errc::invalid_argument} naming row, group and columns if a group has more than N non-zeros or a
  /// weight is NaN or infinite.
  static nm_sparse_matrix pack(matrix_view<const float> w) {
    const char* what = "prune::nm_sparse_matrix::pack";
    check(w.cols % M == 0, errc::shape_mismatch, [&] {
      return std::string(what) + ": K = " + std::to_string(w.cols) + " is not a multiple of M = " + std::to_string(M) +
             " for the " + std::to_string(N) + ":" + std::to_string(M) + " pattern";
    });
    Values::check_cols(w.cols);
    nm_sparse_matrix out;
    out.rows_ = w.rows;
    out.cols_ = w.cols;
    out.codes_.assign(w.rows * out.kept_cols(), code_type{});
    out.index_.assign(w.rows * out.index_row_bytes(), 0);
    out.scales_.assign(w.rows * Values::scales_per_row(w.cols), scale_type{});
    std::vector<code_type> dense(w.cols);
    std::size_t pos[M];
    for (std::size_t r = 0; r < w.rows; ++r) {
      const float* row = w.row(r);
      for (std::size_t g = 0; g < w.cols / M; ++g) {
        std::size_t nz = 0;
        for (std::size_t p = 0; p < M; ++p) {
          const float v = row[g * M + p];
          check(std::isfinite(v), errc::invalid_argument, [&] {
            return std::string(what) + ": w(" + std::to_string(r) + ", " + std::to_string(g * M + p) +
                   ") is NaN or infinite";
          });
          nz += v != 0.0f ? 1 : 0;
        }
        check(nz <= N, errc::invalid_argument, [&] {
          return std::string(what) + ": row " + std::to_string(r) + ", group " + std::to_string(g) + " (columns [" +
                 std::to_string(g * M) + ", " + std::to_string(g * M + M) + ")) has " + std::to_string(nz) +
                 " non-zero weights, more than the " + std::to_string(N) + " of the " + std::to_string(N) + ":" +
                 std::to_string(M) + " pattern";
        });
      }
      Values::quantize_row(row, w.cols, dense.data(), out.scales_.data() + r * Values::scales_per_row(w.cols));
      code_type* codes = out.codes_.data() + r * out.kept_cols();
      std::uint8_t* index = out.index_.data() + r * out.index_row_bytes();
      for (std::size_t g = 0; g < w.cols / M; ++g) {
        // Non-zeros first, then the lowest zero columns, then sorted: p strictly increases in a group.
        bool taken[M] = {};
        std::size_t c = 0;
        for (std::size_t p = 0; p < M; ++p)
          if (row[g * M + p] != 0.0f) taken[p] = true, ++c;
        for (std::size_t p = 0; p < M && c < N; ++p)
          if (!taken[p]) taken[p] = true, ++c;
        c = 0;
        for (std::size_t p = 0; p < M; ++p)
          if (taken[p]) pos[c++] = p;
        for (std::size_t t = 0; t < N; ++t) {
          const std::size_t j = g * N + t;
          codes[j] = dense[g * M + pos[t]];
          for (std::size_t b = 0; b < index_bits; ++b) {
            const std::size_t bit = j * index_bits + b;
            index[bit / 8] = static_cast<std::uint8_t>(index[bit / 8] | (((pos[t] >> b) & 1u) << (bit % 8)));
          }
        }
      }
    }
    return out;
  }

  std::size_t rows() const noexcept { return rows_; }               ///< N_out
  std::size_t cols() const noexcept { return cols_; }               ///< dense K
  std::size_t kept_cols() const noexcept { return cols_ / M * N; }  ///< K * N / M
  std::size_t index_row_bytes() const noexcept { return (kept_cols() * index_bits + 7) / 8; }
  std::size_t scales_per_row() const noexcept { return Values::scales_per_row(cols_); }

  /// Row r's kept codes, (K * N / M). Unchecked: r < rows().
  const code_type* codes(std::size_t r) const noexcept { return codes_.data() + r * kept_cols(); }
  /// Row r's index bytes, (index_row_bytes()). Unchecked.
  const std::uint8_t* index(std::size_t r) const noexcept { return index_.data() + r * index_row_bytes(); }
  /// Row r's scales, (scales_per_row()). Unchecked.
  const scale_type* scales(std::size_t r) const noexcept { return scales_.data() + r * scales_per_row(); }

  /// The dense column of row r's kept value j (0 <= j < kept_cols()). Unchecked.
  std::size_t column(std::size_t r, std::size_t j) const noexcept {
    const std::uint8_t* index = this->index(r);
    std::size_t p = 0;
    for (std::size_t b = 0; b < index_bits; ++b) {
      const std::size_t bit = j * index_bits + b;
      p |= static_cast<std::size_t>((index[bit / 8] >> (bit % 8)) & 1u) << b;
    }
    return j / N * M + p;
  }

  /// Sets `out` to the dense codes (N_out, K), row-major, 0 at pruned columns. Allocation: out.
  void unpack_codes(std::vector<code_type>& out) const {
    out.assign(rows_ * cols_, code_type{});
    for (std::size_t r = 0; r < rows_; ++r)
      for (std::size_t j = 0; j < kept_cols(); ++j) out[r * cols_ + column(r, j)] = codes(r)[j];
  }

  /// Writes the dense dequantized matrix w(N_out, K): `Values::dequantize` at kept columns, +0 elsewhere
  /// (a -0.0 weight in a pruned position reads back as +0.0).
  /// Exactly the masked W for nm_f32, and the dense value format's dequantization of the masked W
  /// otherwise. throws lowbit::error{errc::shape_mismatch} if out is not (N_out, K).
  void unpack(matrix_view<float> out) const {
    check(out.rows == rows_ && out.cols == cols_, errc::shape_mismatch, [&] {
      return "prune::nm_sparse_matrix::unpack: output is " + std::to_string(out.rows) + " x " +
             std::to_string(out.cols) + ", expected " + std::to_string(rows_) + " x " + std::to_string(cols_);
    });
    for (std::size_t r = 0; r < rows_; ++r) {
      float* o = out.row(r);
      for (std::size_t k = 0; k < cols_; ++k) o[k] = 0.0f;
      for (std::size_t j = 0; j < kept_cols(); ++j) {
        const std::size_t k = column(r, j);
        o[k] = Values::dequantize(codes(r)[j], scales(r), k);
      }
    }
  }
  /// The dense dequantized matrix (N_out, K), row-major, as `unpack(view)`.
  std::vector<float> unpack() const {
    std::vector<float> out(rows_ * cols_);
    unpack(matrix_view<float>(out.data(), rows_, cols_));
    return out;
  }

  /// Bytes held: codes + index + scales.
  std::size_t bytes() const noexcept {
    return codes_.size() * sizeof(code_type) + index_.size() + scales_.size() * sizeof(scale_type);
  }

 private:
  std::size_t rows_ = 0;
  std::size_t cols_ = 0;
  std::vector<code_type> codes_;
  std::vector<std::uint8_t> index_;
  std::vector<scale_type> scales_;
};

}  // namespace lowbit::prune
