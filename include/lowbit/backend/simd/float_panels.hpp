// SPDX-License-Identifier: Apache-2.0
// Copyright lowbit contributors
#pragma once

#include <algorithm>
#include <cstddef>
#include <span>
#include <string>

#include "lowbit/backend/simd/aligned_buffer.hpp"
#include "lowbit/core/error.hpp"
#include "lowbit/core/layout.hpp"
#include "lowbit/core/parallel.hpp"
#include "lowbit/quant/weight_view.hpp"

namespace lowbit {

/// A float-format matrix W(N, K) (F = f32 or bf16, block size 1) repacked into k-major panels of
/// 32 columns for the register-tiled float microkernels (`k_packed<32, KR>`).
///
/// Layout: panel p holds rows n in [32p, 32p + 32) of W, i.e. columns of y. K is padded with zeros
/// to Kp = K rounded up to a multiple of KR. Within a panel, element W(32p + r, k) lies at index
/// `(k / KR) * 32 * KR + r * KR + k % KR` (in F::block units): for KR = 1 (f32) each k is one
/// contiguous row of 32 values, for KR = 2 (bf16) each pair of k is 32 dwords holding
/// (W(n, k), W(n, k + 1)), the operand order of `vdpbf16ps`. Missing rows of the last panel and
/// padded k are zero, so they contribute exactly 0. Each panel starts 64-byte aligned (32 * KR *
/// sizeof(block) * Kp / KR is a multiple of 64). The bytes are ISA-independent: AVX2 kernels read
/// a panel as two 16-column halves, AVX-512 kernels as one. `unpack_float_panels` restores the
/// file layout exactly.
template <class F, std::size_t KR>
struct float_panels {
  using format_type = F;
  using layout_type = k_packed<32, KR>;
  using element_type = typename F::block;
  static constexpr std::size_t nr = 32;
  static constexpr std::size_t kr = KR;
  std::size_t rows = 0;  ///< N
  std::size_t cols = 0;  ///< K
  simd_detail::aligned_buffer bytes;

  /// Number of 32-column panels, ceil(N / 32).
  std::size_t panels() const noexcept { return (rows + nr - 1) / nr; }
  /// Kp: K rounded up to a multiple of KR.
  std::size_t padded_cols() const noexcept { return (cols + KR - 1) / KR * KR; }
  /// The first element of panel p (unchecked); 32 * Kp elements follow.
  const element_type* panel(std::size_t p) const noexcept {
    return reinterpret_cast<const element_type*>(bytes.data()) + p * padded_cols() * nr;
  }
};

/// Packs W(N, K) (file layout) into float panels; see float_panels. Threads split the panels.
/// Allocation: one buffer of ceil(N / 32) * 32 * Kp elements.
template <class Packed>
Packed pack_float_panels(weight_view<typename Packed::format_type> w, threads t = {}) {
  using element = typename Packed::element_type;
  constexpr std::size_t nr = Packed::nr, kr = Packed::kr;
  Packed out;
  out.rows = w.rows;
  out.cols = w.cols;
  const std::size_t kp = out.padded_cols();
  out.bytes = simd_detail::aligned_buffer(out.panels() * nr * kp * sizeof(element));
  auto* base = reinterpret_cast<element*>(out.bytes.data());
  parallel_for(t, out.panels(), 1, [&](std::size_t p_begin, std::size_t p_end) {
    for (std::size_t p = p_begin; p < p_end; ++p) {
      element* dst = base + p * nr * kp;
      for (std::size_t r = 0; r < nr && p * nr + r < w.rows; ++r) {
        const element* src = w.row(p * nr + r);
        for (std::size_t k = 0; k < w.cols; ++k) dst[(k / kr) * nr * kr + r * kr + k % kr] = src[k];
      }
    }
  });
  return out;
}

/// Restores the file layout of packed float panels into `out` (N * K elements, row-major): the
/// inverse of pack_float_panels. throws lowbit::error{errc::shape_mismatch} if out has another size.
template <class Packed>
void unpack_float_panels(const Packed& w, std::span<typename Packed::element_type> out) {
  constexpr std::size_t nr = Packed::nr, kr = Packed::kr;
  check(out.size() == w.rows * w.cols, errc::shape_mismatch, [&] {
    return "unpack_float_panels: output holds " + std::to_string(out.size()) + " elements, the matrix " +
           std::to_string(w.rows) + " x " + std::to_string(w.cols);
  });
  for (std::size_t n = 0; n < w.rows; ++n) {
    const auto* src = w.panel(n / nr);
    const std::size_t r = n % nr;
    for (std::size_t k = 0; k < w.cols; ++k) out[n * w.cols + k] = src[(k / kr) * nr * kr + r * kr + k % kr];
  }
}

}  // namespace lowbit
