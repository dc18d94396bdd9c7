// SPDX-License-Identifier: Apache-2.0
// Copyright lowbit contributors
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <type_traits>
#include <vector>

#include "lowbit/backend/simd/isa/isa.hpp"
#include "lowbit/backend/simd/quantize_activations.hpp"
#include "lowbit/backend/simd/tag.hpp"
#include "lowbit/backend/simd/xsimd_compat.hpp"
#include "lowbit/core/fp16.hpp"
#include "lowbit/core/parallel.hpp"
#include "lowbit/prune/nm_sparse.hpp"
#include "lowbit/prune/nm_sparse_gemm.hpp"
#include "lowbit/quant/activation_q8.hpp"

namespace lowbit::simd_detail {

/// The unit of the 2:4 kernels on the ISA layer I: one register of `codes` = I::bytes kept int8
/// codes, i.e. `blocks` = I::bytes / 16 Q8 activation blocks (16 kept of 32 columns each; int32
/// lane l holds kept values 4l..4l+3, of block l / 4), `cols` = 2 I::bytes dense columns and
/// `meta` = I::bytes / 4 index bytes (2 bits per kept value). AVX-512: 4 blocks (128 columns),
/// AVX2: 2 (64), NEON and the baseline: 1 (32).
template <class I>
struct nm24_chunk {
  static constexpr std::size_t codes = I::bytes;
  static constexpr std::size_t blocks = I::bytes / 16;
  static constexpr std::size_t cols = 2 * I::bytes;
  static constexpr std::size_t meta = I::bytes / 4;
  /// Chunks covering nb blocks (the last one partial when blocks does not divide nb).
  static constexpr std::size_t count(std::size_t nb) noexcept { return (nb + blocks - 1) / blocks; }
};

/// The activation byte offsets of row r's kept values, in the form the kernel for Arch gathers with:
/// per chunk (nm24_chunk) the ISA layer's `nm24_offsets` of its index bytes (AVX-512 VBMI: byte
/// t = (t / 2) * 4 + p_t in [0, 128); AVX2: ((t % 8) / 2) * 4 + p_t in [0, 16), an offset into the
/// 16-column half that `vpshufb` reads; NEON: (t / 2) * 4 + p_t in [0, 32)); a partial last chunk
/// decodes zero-padded index bytes. Out: (kept columns rounded up to 64) bytes.
template <class Arch, class Values>
void nm24_gather_offsets(const prune::nm_sparse_matrix<Values, prune::nm_sparse<2, 4>>& w, std::size_t r,
                         std::uint8_t* out) {
  using I = isa_ops<Arch>;
  using C = nm24_chunk<I>;
  const std::uint8_t* meta = w.index(r);
  const std::size_t meta_bytes = w.index_row_bytes();  // K / 8
  for (std::size_t c = 0; c * C::meta < meta_bytes; ++c) {
    if ((c + 1) * C::meta <= meta_bytes) {
      I::store(out + c * C::codes, I::nm24_offsets(meta + c * C::meta));
    } else {
      std::uint8_t m[C::meta] = {};
      std::copy(meta + c * C::meta, meta + meta_bytes, m);
      I::store(out + c * C::codes, I::nm24_offsets(m));
    }
  }
}

/// The weight scale of each activation block of row r, as f32: (K / 32) values (fp16 converted
/// exactly, by the ISA layer's f16_to_f32 where a register's worth is left).
template <class Arch, class Values>
void nm_block_scales(const prune::nm_sparse_matrix<Values, prune::nm_sparse<2, 4>>& w, std::size_t r,
                     float* out) noexcept {
  using I = isa_ops<Arch>;
  const std::size_t nb = w.cols() / 32;
  if constexpr (std::is_same_v<Values, prune::nm_q8_0>) {
    std::size_t b = 0;
    for (; b + I::lanes <= nb; b += I::lanes) I::store_f32(out + b, I::f16_to_f32(w.scales(r) + b));
    for (; b < nb; ++b) out[b] = fp16_to_f32(w.scales(r)[b]);
  } else {
    for (std::size_t b = 0; b < nb; ++b) out[b] = w.scales(r)[0];
  }
}

/// Per chunk (nm24_chunk<I>) I::lanes f32 lanes, lane l of chunk c holding s[blocks c + l / 4]
/// (0 past nb): the scale of the block whose int32 sums dot4_ss leaves in lane l.
/// out: (nm24_chunk<I>::count(nb) * I::lanes).
template <class I>
inline void nm24_expand_scales(const float* s, std::size_t nb, float* out) noexcept {
  using C = nm24_chunk<I>;
  for (std::size_t c = 0; c < C::count(nb); ++c) {
    if ((c + 1) * C::blocks <= nb) {
      I::store_f32(out + c * I::lanes, I::splat_quads_f32(s + c * C::blocks));
    } else {
      float t[C::blocks] = {};
      std::copy(s + c * C::blocks, s + nb, t);
      I::store_f32(out + c * I::lanes, I::splat_quads_f32(t));
    }
  }
}

/// The 2:4 kernel for one row of x and one row n of W, decoding the index bits in registers (no
/// offset or scale buffers: the GEMV / small-M path). Per chunk c: the kept activation codes
/// gathered by I::nm24_gather at I::nm24_offsets, isum = dot4_ss(0, codes, gathered) (exact int32
/// per lane), acc = fmadd(f32(isum), dw(b) * dx(b), acc) with b the lane's block; the result is
/// sum_halves_f32(acc). Same f32 operations, lane for lane, as nm24_rows, so both give the same y.
/// meta: row n's index bytes (K / 8); dw: row n's block scales as f32 (nm_block_scales); xq, dx:
/// the row's codes and scales. A partial last chunk runs on zero-padded copies. Cold weights: the
/// codes and index bits are fetched ahead explicitly (prefetches past the row's end fall on the
/// next rows, which follow in memory).
template <class I>
inline float nm24_row_fused(const std::int8_t* codes, const std::uint8_t* meta, const float* dw, const std::int8_t* xq,
                            const float* dx, std::size_t nb) noexcept {
  using C = nm24_chunk<I>;
  typename I::vf acc = I::zero_f32();
  const auto step = [&](const std::int8_t* wc, const std::uint8_t* m, const std::int8_t* x, const float* dwc,
                        const float* dxc) {
    const typename I::vi idx = I::nm24_offsets(m);
    const typename I::vi isum = I::dot4_ss(I::zero(), I::operand_ss(I::load(wc)), I::nm24_gather(x, idx));
    const typename I::vf scale = I::mul(I::splat_quads_f32(dwc), I::splat_quads_f32(dxc));
    acc = I::fmadd(I::to_f32(isum), scale, acc);
  };
  const std::size_t full = nb / C::blocks;
  for (std::size_t c = 0; c < full; ++c) {
    if ((c * C::codes) % 64 == 0) __builtin_prefetch(codes + c * C::codes + 2048, 0, 3);
    if ((c * C::meta) % 64 == 0) __builtin_prefetch(meta + c * C::meta + 512, 0, 3);
    step(codes + c * C::codes, meta + c * C::meta, xq + c * C::cols, dw + c * C::blocks, dx + c * C::blocks);
  }
  if (full * C::blocks < nb) {
    const std::size_t tb = nb - full * C::blocks;  // blocks in the partial chunk
    alignas(64) std::int8_t wt[C::codes] = {}, xt[C::cols] = {};
    std::uint8_t mt[C::meta] = {};
    float dwt[C::blocks] = {}, dxt[C::blocks] = {};
    std::copy_n(codes + full * C::codes, 16 * tb, wt);
    std::copy_n(meta + full * C::meta, 4 * tb, mt);
    std::copy_n(xq + full * C::cols, 32 * tb, xt);
    std::copy_n(dw + full * C::blocks, tb, dwt);
    std::copy_n(dx + full * C::blocks, tb, dxt);
    step(wt, mt, xt, dwt, dxt);
  }
  return I::sum_halves_f32(acc);
}

/// The 2:4 microkernel: y(i0 + r, n) for MR rows of x and one row n of W.
/// codes: (K / 2) kept codes; offsets: nm24_gather_offsets; dwe, dxe(r): nm24_expand_scales of the
/// weight and activation block scales (dxe rows `dxe_stride` apart); xq: MR rows of Q8 activation
/// codes, `xq_stride` apart. A partial last chunk runs on zero-padded copies of the codes and
/// activations. (Raw pointers: activation_q8's accessors are not inlined into this loop.)
template <class I, int MR>
inline void nm24_rows(const std::int8_t* codes, const std::uint8_t* offsets, const float* dwe, const std::int8_t* xq,
                      std::size_t xq_stride, const float* dxe, std::size_t dxe_stride, std::size_t nb,
                      float* out) noexcept {
  using C = nm24_chunk<I>;
  typename I::vf acc[MR];
  for (int r = 0; r < MR; ++r) acc[r] = I::zero_f32();
  const auto step = [&](std::size_t c, const std::int8_t* wc, const std::int8_t* x, std::size_t x_stride) {
    const auto w = I::operand_ss(I::load(wc));
    const typename I::vi idx = I::load(offsets + c * C::codes);
    const typename I::vf dw = I::load_f32(dwe + c * I::lanes);
    for (int r = 0; r < MR; ++r) {
      const typename I::vi isum = I::dot4_ss(I::zero(), w, I::nm24_gather(x + r * x_stride, idx));
      const typename I::vf scale = I::mul(dw, I::load_f32(dxe + r * dxe_stride + c * I::lanes));
      acc[r] = I::fmadd(I::to_f32(isum), scale, acc[r]);
    }
  };
  const std::size_t full = nb / C::blocks;
  for (std::size_t c = 0; c < full; ++c) step(c, codes + c * C::codes, xq + c * C::cols, xq_stride);
  if (full * C::blocks < nb) {
    const std::size_t tb = nb - full * C::blocks;
    alignas(64) std::int8_t wt[C::codes] = {}, xt[MR][C::cols] = {};
    std::copy_n(codes + full * C::codes, 16 * tb, wt);
    for (int r = 0; r < MR; ++r) std::copy_n(xq + r * xq_stride + full * C::cols, 32 * tb, xt[r]);
    step(full, wt, &xt[0][0], C::cols);
  }
  for (int r = 0; r < MR; ++r) out[r] = I::sum_halves_f32(acc[r]);
}

}  // namespace lowbit::simd_detail

namespace lowbit::prune {

/// The SIMD 2:4 sparse x dense GEMM for int8 value formats (`nm_int8_per_channel`, `nm_q8_0`):
/// y(M, N) = x(M, K) · Wᵀ skipping the pruned half of W.
///
/// x is quantized per row in Q8 blocks of 32 (`activation_q8`, as the dense Q8_0 path does); for each
/// row of W the kept values' activation codes are gathered by the 2-bit indices (the ISA layer's
/// nm24_offsets / nm24_gather: AVX-512 VBMI `vpermi2b` over 128 columns, indices expanded by
/// `vpmultishiftqb`; AVX2 `vpshufb` per 16-column half; NEON `tbl` over 32 columns) and dotted with
/// the K / 2 kept codes (dot4_ss: AVX-512 VNNI `vpdpbusd`, AVX2 `vpmaddubsw`, NEON `sdot`), so each
/// block's int32 sum equals `gemm_nm_q8_reference`'s exactly; only the f32 combination
/// `sum_b dw * dx * isum` is summed in another order (per f32 lane of the ISA layer, then the lanes
/// by halving). M < 4 decodes the index bits in registers per row pair (GEMV, cold weights
/// prefetched); M >= 4 decodes each row of W once into gather offsets and runs tiles of 4 rows of x
/// against it; both give the same y.
/// Shapes: x (M, K) f32, K % 32 == 0; W (N, K) in nm_sparse<2, 4>; y (M, N). Threads split N.
/// throws lowbit::error{errc::shape_mismatch} for disagreeing shapes or K % 32 != 0;
/// {errc::invalid_argument} for NaN or infinite x. Allocation: the Q8 activations, and per thread
/// the gather offsets and scales of 8 rows of W (K / 2 bytes + K / 2 floats per row; M < 4: K / 32
/// floats). y must not alias x. Source: arXiv:2104.08378 (2:4).
template <class Arch, class Values>
requires(std::is_same_v<typename Values::code_type, std::int8_t>) void gemm_nm_simd(
    matrix_view<const float> x, const nm_sparse_matrix<Values, nm_sparse<2, 4>>& w, matrix_view<float> y,
    threads t = {}) {
  detail::check_nm_gemm_shapes(x.rows, x.cols, w, y, "prune::gemm_nm_simd");
  check(x.cols % 32 == 0, errc::shape_mismatch, [&] {
    return "prune::gemm_nm_simd: K = " + std::to_string(x.cols) + " is not a multiple of 32 (Q8 activation blocks)";
  });
  using I = simd_detail::isa_ops<Arch>;
  using C = simd_detail::nm24_chunk<I>;
  activation_q8 xq;
  simd_detail::quantize_activations<Arch>(x, xq);
  const std::size_t nb = x.cols / 32;
  if (x.rows < 4) {  // too few rows of x to repay decoding the indices into a buffer
    parallel_for(t, w.rows(), 8, [&](std::size_t n_begin, std::size_t n_end) {
      std::vector<float> dw(nb);
      for (std::size_t n = n_begin; n < n_end; ++n) {
        simd_detail::nm_block_scales<Arch>(w, n, dw.data());
        for (std::size_t i = 0; i < x.rows; ++i)
          y.row(i)[n] =
              simd_detail::nm24_row_fused<I>(w.codes(n), w.index(n), dw.data(), xq.row_qs(i), xq.row_d(i), nb);
      }
    });
    return;
  }
  const std::size_t offset_bytes = (w.kept_cols() + 63) / 64 * 64;
  const std::size_t scale_lanes = C::count(nb) * I::lanes;
  std::vector<float> dxe(x.rows * scale_lanes);  // expanded activation scales, (M, scale_lanes)
  for (std::size_t i = 0; i < x.rows; ++i)
    simd_detail::nm24_expand_scales<I>(xq.row_d(i), nb, dxe.data() + i * scale_lanes);
  constexpr std::size_t nr = 8;  // rows of W whose offsets stay in L1 while tiles of x pass
  parallel_for(t, w.rows(), nr, [&](std::size_t n_begin, std::size_t n_end) {
    std::vector<std::uint8_t> offsets(nr * offset_bytes);
    std::vector<float> dw(nb), dwe(nr * scale_lanes);
    float out[4];
    for (std::size_t n0 = n_begin; n0 < n_end; n0 += nr) {
      const std::size_t count = std::min(nr, n_end - n0);
      for (std::size_t j = 0; j < count; ++j) {
        simd_detail::nm24_gather_offsets<Arch>(w, n0 + j, offsets.data() + j * offset_bytes);
        simd_detail::nm_block_scales<Arch>(w, n0 + j, dw.data());
        simd_detail::nm24_expand_scales<I>(dw.data(), nb, dwe.data() + j * scale_lanes);
      }
      for (std::size_t i0 = 0; i0 < x.rows; i0 += 4) {
        const std::size_t mr = std::min<std::size_t>(4, x.rows - i0);
        for (std::size_t j = 0; j < count; ++j) {
          const auto* codes = w.codes(n0 + j);
          const auto* offs = offsets.data() + j * offset_bytes;
          const float* dwj = dwe.data() + j * scale_lanes;
          const float* dxi = dxe.data() + i0 * scale_lanes;
          const std::int8_t* xrow = xq.row_qs(i0);
          switch (mr) {
            case 4:
              simd_detail::nm24_rows<I, 4>(codes, offs, dwj, xrow, x.cols, dxi, scale_lanes, nb, out);
              break;
            case 3:
              simd_detail::nm24_rows<I, 3>(codes, offs, dwj, xrow, x.cols, dxi, scale_lanes, nb, out);
              break;
            case 2:
              simd_detail::nm24_rows<I, 2>(codes, offs, dwj, xrow, x.cols, dxi, scale_lanes, nb, out);
              break;
            default:
              simd_detail::nm24_rows<I, 1>(codes, offs, dwj, xrow, x.cols, dxi, scale_lanes, nb, out);
              break;
          }
          for (std::size_t r = 0; r < mr; ++r) y.row(i0 + r)[n0 + j] = out[r];
        }
      }
    }
  });
}

/// GEMV form of `gemm_nm_simd`: y(N) = W · x(K). Same rules, with M = 1.
template <class Arch, class Values>
requires(std::is_same_v<typename Values::code_type, std::int8_t>) void gemv_nm_simd(
    const float* x, const nm_sparse_matrix<Values, nm_sparse<2, 4>>& w, float* y, threads t = {}) {
  gemm_nm_simd<Arch>(matrix_view<const float>(x, 1, w.cols()), w, matrix_view<float>(y, 1, w.rows()), t);
}

/// `gemm<backend::simd<Arch>>` on an N:M sparse weight: `gemm_nm_simd` then the epilogue per row
/// (prune::gemm for the reference backend has the same contract), so a `graph::linear` layer on
/// the SIMD backend takes an `nm_sparse_matrix` as its weight. Only 2:4 with int8 values
/// (`nm_int8_per_channel`, `nm_q8_0`) has a SIMD kernel: any other pattern or value format fails to
/// compile with a message saying so. Shapes and errors as `gemm_nm_simd`.
template <backend_policy B, class Values, class Layout, epilogue::stage E = epilogue::store>
requires std::is_same_v<B, backend::simd<typename B::arch_type>>
void gemm(matrix_view<const float> x, const nm_sparse_matrix<Values, Layout>& w, matrix_view<float> y, threads t = {},
          const E& e = {}, gemm_workspace* ws = nullptr) {
  static_assert(std::is_same_v<Layout, nm_sparse<2, 4>> && std::is_same_v<typename Values::code_type, std::int8_t>,
                "lowbit: the SIMD N:M sparse GEMM is 2:4 with int8 values (nm_int8_per_channel, nm_q8_0); run "
                "other patterns and value formats on backend::reference");
  detail::run_with_epilogue(y, e, ws,
                            [&](matrix_view<float> out) { gemm_nm_simd<typename B::arch_type>(x, w, out, t); });
}

}  // namespace lowbit::prune
