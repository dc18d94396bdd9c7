// SPDX-License-Identifier: Apache-2.0
// Copyright lowbit contributors
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <utility>

#include "lowbit/backend/simd/aligned_buffer.hpp"
#include "lowbit/backend/simd/panel_schedule.hpp"
#include "lowbit/backend/simd/quantize_activations.hpp"
#include "lowbit/core/layout.hpp"
#include "lowbit/core/matrix_view.hpp"
#include "lowbit/core/parallel.hpp"
#include "lowbit/gemm/epilogue.hpp"
#include "lowbit/gemm/workspace.hpp"

namespace lowbit {

/// A matrix W(N, K) of block format F repacked into panels of 16 rows (`k_packed<16, 4>`), with
/// `BlockStride` bytes per (panel, K block); panel p holds rows [16p, 16p + 16), the last one padded
/// with rows that contribute exactly 0. What the bytes of one (panel, block) are is the business
/// of the format's pack function (pack_q4_1, pack_q8_0), which documents it.
template <class F, std::size_t BlockStride>
struct packed_panels {
  using format_type = F;
  using layout_type = k_packed<16, 4>;
  static constexpr std::size_t nr = 16;
  static constexpr std::size_t block_stride = BlockStride;
  std::size_t rows = 0;  ///< N
  std::size_t cols = 0;  ///< K
  simd_detail::aligned_buffer bytes;

  std::size_t panels() const noexcept { return (rows + nr - 1) / nr; }
  std::size_t blocks_per_row() const noexcept { return cols / F::block_size; }
  const std::uint8_t* panel(std::size_t p) const noexcept {
    return reinterpret_cast<const std::uint8_t*>(bytes.data()) + p * blocks_per_row() * block_stride;
  }
};

namespace simd_detail {

/// Rows of x per microkernel call: one decoded panel block serves this many activation rows.
inline constexpr std::size_t tile_rows = 8;

/// Activation rows that the Q4_1 / Q8_0 microkernels (eight f32 group accumulators per row) take
/// per pass over a panel on ISA layer I: two where it has 32 vector registers, else one.
template <class I>
inline constexpr int rows_per_pass_v = I::vector_registers >= 32 ? 2 : 1;

/// Runs `microkernel.template operator()<MR>(panel, n_blocks, xq, i0, acc)` over rows
/// [i_begin, i_end) of the quantized activations against panel p, in tiles of up to tile_rows
/// rows, and hands each row's 16 accumulators to the epilogue.
template <class Packed, class Microkernel, class Epilogue>
inline void run_panel(const Packed& w, std::size_t p, const activation_q8& xq, std::size_t i_begin, std::size_t i_end,
                      matrix_view<float> y, const Epilogue& e, const Microkernel& microkernel) {
  float acc[tile_rows][16];
  const std::size_t n0 = p * Packed::nr;
  const std::size_t count = std::min<std::size_t>(Packed::nr, w.rows - n0);
  const std::size_t nb = w.blocks_per_row();
  std::size_t i = i_begin;
  for (; i + tile_rows <= i_end; i += tile_rows) {
    microkernel.template operator()<tile_rows>(w.panel(p), nb, xq, i, acc);
    for (std::size_t r = 0; r < tile_rows; ++r) e(y.row(i + r), acc[r], n0, count);
  }
  const std::size_t rest = i_end - i;
  // The remaining rows, as one tile of their own size.
  [&]<std::size_t... R>(std::index_sequence<R...>) {
    ((rest == R + 1 ? (microkernel.template operator()<static_cast<int>(R + 1)>(w.panel(p), nb, xq, i, acc), 0) : 0),
     ...);
  }
  (std::make_index_sequence<tile_rows - 1>{});
  for (std::size_t r = 0; r < rest; ++r) e(y.row(i + r), acc[r], n0, count);
}

/// The whole GEMM over packed panels: quantize x once (activation_q8), then every (panel, row
/// block) tile through `microkernel`, split over threads by for_each_panel_tile.
template <class Arch, class Packed, class Microkernel, class Epilogue>
inline void run_packed_gemm(matrix_view<const float> x, const Packed& w, matrix_view<float> y, threads t,
                            const Epilogue& e, gemm_workspace& ws, const Microkernel& microkernel) {
  quantize_activations<Arch>(x, ws.x_q8);
  const activation_q8& xq = ws.x_q8;
  for_each_panel_tile(t, w.panels(), x.rows, [&](std::size_t p, std::size_t i0, std::size_t i1) {
    run_panel(w, p, xq, i0, i1, y, e, microkernel);
  });
}

}  // namespace simd_detail

}  // namespace lowbit
