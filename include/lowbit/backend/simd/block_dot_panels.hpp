// SPDX-License-Identifier: Apache-2.0
// Copyright lowbit contributors
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <string>

#include "lowbit/backend/simd/aligned_buffer.hpp"
#include "lowbit/backend/simd/isa/isa.hpp"
#include "lowbit/backend/simd/packed_panels.hpp"
#include "lowbit/backend/simd/panel_schedule.hpp"
#include "lowbit/backend/simd/quantize_activations.hpp"
#include "lowbit/backend/simd/xsimd_compat.hpp"
#include "lowbit/core/backend.hpp"
#include "lowbit/core/error.hpp"
#include "lowbit/core/matrix_view.hpp"
#include "lowbit/core/parallel.hpp"
#include "lowbit/gemm/epilogue.hpp"
#include "lowbit/gemm/workspace.hpp"
#include "lowbit/quant/activation_q8.hpp"
#include "lowbit/quant/weight_view.hpp"

namespace lowbit::simd_detail {

// ---------------------------------------------------------------------------------------------
// Dword-transposed panels: the packed layout of the codebook (IQ4_NL, IQ4_XS, MXFP4, NVFP4) and
// ternary (TQ1_0, TQ2_0) kernels. The file's code bytes are moved, never re-encoded.
// ---------------------------------------------------------------------------------------------

/// A run of header bytes of a block (scales), stored in the panels as `count` planes of 16 rows:
/// element q (`elem` bytes, taken from block byte `src + elem q`) of row r lies at
/// `16 elem q + elem r` inside the field, so one load yields it for the I::lanes rows of a
/// part (16 on AVX-512, 8 on AVX2, 4 on NEON).
struct header_field {
  std::size_t src;
  std::size_t elem;
  std::size_t count;
};

/// Per format F (specialised next to each kernel), what the panels hold and how the kernel decodes
/// them: `code_src`, `code_bytes` (the block's code bytes, a multiple of 4), `fields` (the other
/// bytes, as header_field planes), `lut` (signed int8 codebook values, else ternary codes with offset 1),
/// `split_halves` (one weight scale per 16 elements; codebook formats only), and
/// `decode<I>(record, h, a, op, dw)` over the ISA layer I: the eight operand registers of activation
/// block a for part h of the panel (op[g] holds elements 4g..4g+3 of the 32 for each of the rows
/// I::lanes h + r; codebook values in s8 operand form, `value + I::s8_bias`, ternary codes as they
/// are) and the per-row f32 scale(s) of that block.
template <class F>
struct block_dot_traits;

/// Offsets inside one (panel, block) record of F: `[code chunks: 16 code_bytes][fields in order]`.
/// Chunk j (64 bytes) holds in lane r (bytes 4r..4r+3) the code bytes 4j..4j+3 of row 16p + r.
template <class F>
struct block_record {
  using traits = block_dot_traits<F>;
  static constexpr std::size_t chunks = traits::code_bytes / 4;
  static constexpr std::size_t field_offset(std::size_t i) {
    std::size_t off = 16 * traits::code_bytes;
    for (std::size_t j = 0; j < i; ++j) off += 16 * traits::fields[j].elem * traits::fields[j].count;
    return off;
  }
  static constexpr std::size_t stride = 16 * F::block_bytes;
  static_assert(traits::code_bytes % 4 == 0, "code bytes must fill whole dwords");
  static_assert(field_offset(traits::fields.size()) == stride, "the panels hold exactly the file's bytes");
};

/// The panels of F: packed_panels with block_record<F>::stride (16 blocks' bytes) per (panel, block).
template <class F>
using block_packed_t = packed_panels<F, block_record<F>::stride>;

/// Packs W (file layout) into dword-transposed panels (see block_record). Padding rows are zero
/// bytes: scale 0 (or, for MXFP4, code 0 = value 0), so they contribute exactly 0. ISA-independent.
/// throws lowbit::error{errc::shape_mismatch} if K is not a multiple of F's block size.
template <class F>
block_packed_t<F> pack_blocks(weight_view<F> w, threads t = {}) {
  using record = block_record<F>;
  using traits = block_dot_traits<F>;
  check(w.cols % F::block_size == 0, errc::shape_mismatch, [&] {
    return std::string(F::name) + " weight: K = " + std::to_string(w.cols) + " is not a multiple of the block size " +
           std::to_string(F::block_size);
  });
  block_packed_t<F> out;
  out.rows = w.rows;
  out.cols = w.cols;
  const std::size_t nb = w.blocks_per_row();
  out.bytes = aligned_buffer(out.panels() * nb * record::stride);
  auto* base = reinterpret_cast<std::uint8_t*>(out.bytes.data());
  parallel_for(t, out.panels(), 1, [&](std::size_t p_begin, std::size_t p_end) {
    for (std::size_t p = p_begin; p < p_end; ++p) {
      for (std::size_t b = 0; b < nb; ++b) {
        std::uint8_t* dst = base + (p * nb + b) * record::stride;
        for (std::size_t r = 0; r < 16 && p * 16 + r < w.rows; ++r) {
          const auto* blk = reinterpret_cast<const std::uint8_t*>(&w.row(p * 16 + r)[b]);
          for (std::size_t j = 0; j < record::chunks; ++j)
            std::memcpy(dst + 64 * j + 4 * r, blk + traits::code_src + 4 * j, 4);
          for (std::size_t f = 0; f < traits::fields.size(); ++f) {
            const header_field& h = traits::fields[f];
            for (std::size_t q = 0; q < h.count; ++q)
              std::memcpy(dst + record::field_offset(f) + 16 * h.elem * q + h.elem * r, blk + h.src + h.elem * q,
                          h.elem);
          }
        }
      }
    }
  });
  return out;
}

/// Restores the file layout of panels made by pack_blocks into `out` (N * K / block_size blocks).
/// throws lowbit::error{errc::shape_mismatch} if out has another size.
template <class F>
void unpack_blocks(const block_packed_t<F>& w, std::span<typename F::block> out) {
  using record = block_record<F>;
  using traits = block_dot_traits<F>;
  const std::size_t nb = w.blocks_per_row();
  check(out.size() == w.rows * nb, errc::shape_mismatch, [&] {
    return std::string("unpack ") + std::string(F::name) + ": output holds " + std::to_string(out.size()) +
           " blocks, the matrix " + std::to_string(w.rows * nb);
  });
  for (std::size_t n = 0; n < w.rows; ++n) {
    const std::size_t p = n / 16, r = n % 16;
    for (std::size_t b = 0; b < nb; ++b) {
      const std::uint8_t* src = w.panel(p) + b * record::stride;
      auto* blk = reinterpret_cast<std::uint8_t*>(&out[n * nb + b]);
      for (std::size_t j = 0; j < record::chunks; ++j)
        std::memcpy(blk + traits::code_src + 4 * j, src + 64 * j + 4 * r, 4);
      for (std::size_t f = 0; f < traits::fields.size(); ++f) {
        const header_field& h = traits::fields[f];
        for (std::size_t q = 0; q < h.count; ++q)
          std::memcpy(blk + h.src + h.elem * q, src + record::field_offset(f) + 16 * h.elem * q + h.elem * r, h.elem);
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Register-level decoding, written once over the ISA layer I (isa/isa.hpp): a 64-byte chunk (4
// code bytes of each of 16 rows) is I::parts registers of I::lanes rows.
// ---------------------------------------------------------------------------------------------

/// Byte offset of chunk j for part h (rows I::lanes h .. I::lanes h + I::lanes - 1).
template <class I>
constexpr std::size_t chunk_at(std::size_t j, std::size_t h) noexcept {
  return 64 * j + I::bytes * h;
}

/// The 32 codes of one activation block from four chunks of 4-bit codebook indices: chunk c's low
/// nibbles go to op[lo[c]], its high nibbles to op[lo[c] + hi_step], each looked up in `table`.
template <class I>
inline void decode_nibbles(const std::uint8_t* chunks, std::size_t h, typename I::vi table, const int (&lo)[4],
                           int hi_step, typename I::vi* op) noexcept {
  const typename I::vi mask = I::splat_u8(0x0f);
  for (int c = 0; c < 4; ++c) {
    const typename I::vi v = I::load(chunks + chunk_at<I>(c, h));
    op[lo[c]] = I::lookup16(table, I::and_(v, mask));
    op[lo[c] + hi_step] = I::lookup16(table, I::and_(I::template srl16<4>(v), mask));
  }
}

// ---------------------------------------------------------------------------------------------
// The microkernel and the GEMM.
// ---------------------------------------------------------------------------------------------

/// Microkernel: MR activation rows x one 16-row panel of F, all K blocks, over the ISA layer
/// I = isa_ops<Arch> (the panel as I::parts registers of I::lanes rows). Per activation block xb
/// (32 elements) and row r: `acc[i][r] += d_x[i,xb] Σ_s dw_s[r] (Σ_k (u[r,k] - o) q_x[i,k])`, the
/// integer sums exact in int32 (u: codebook values in s8 operand form, o = I::s8_bias; or ternary
/// codes, o = 1; the offset removed as `o Σ q_x` with the activation sums, or the half sums
/// `half_sums` (M, K / 32): Σ of each block's first 16 codes, for split_halves formats when o != 0).
/// Codebook values through I::dot4_s8 (AVX-512 VNNI `vpdpbusd`, AVX2 `vpmaddubsw` of |w| and
/// sign(w) x, NEON `sdot`), ternary codes 0..3 through I::dot8_u8. Per lane the f32 operations are
/// the same on every ISA: `fmadd(float(s0), dw0, float(s1) dw1)` then `fmadd(part, d_x, acc)` for
/// split halves, else `fmadd(float(s0 + s1 - o Σ q_x), dw0 d_x, acc)`. Where the ISA has 2x2 int8
/// tiles (I::has_int8_tiles: AArch64 I8MM `smmla`), codebook formats take pairs of activation rows through
/// them: the same int32 sums s0, s1, so the same outputs.
template <class Arch, int MR, class F>
[[gnu::flatten]] inline void block_dot_microkernel(const std::uint8_t* panel, std::size_t nb, const activation_q8& xq,
                                  [[maybe_unused]] const float* half_sums, std::size_t i0,
                                  float (*acc_out)[16]) noexcept {
  using I = isa_ops<Arch>;
  using vi = typename I::vi;
  using vf = typename I::vf;
  using traits = block_dot_traits<F>;
  constexpr std::size_t stride = block_record<F>::stride;
  constexpr std::size_t subs = F::block_size / 32;
  constexpr int offset = traits::lut ? I::s8_bias : 1;
  static_assert(traits::lut || !traits::split_halves, "split scales are only implemented for codebook formats");
  [[maybe_unused]] const std::size_t xnb = xq.cols / 32;
  vf acc[MR][I::parts];
  for (int i = 0; i < MR; ++i)
    for (std::size_t h = 0; h < I::parts; ++h) acc[i][h] = I::zero_f32();
  for (std::size_t b = 0; b < nb; ++b) {
    const std::uint8_t* rec = panel + b * stride;
    for (std::size_t h = 0; h < I::parts; ++h) {
      for (std::size_t a = 0; a < subs; ++a) {
        vi op[8];
        vf dw[2];
        traits::template decode<I>(rec, h, a, op, dw);
        [[maybe_unused]] typename I::s8_operand w[8];
        if constexpr (traits::lut) {
          for (int g = 0; g < 8; ++g) w[g] = I::operand_s8(op[g]);
        }
        const std::size_t xb = b * subs + a;
        auto accumulate = [&](int i, vi s0, vi s1) {
          const std::int32_t sum = xq.row_sum(i0 + i)[xb];
          const vf dx = I::splat_f32(xq.row_d(i0 + i)[xb]);
          if constexpr (traits::split_halves) {
            if constexpr (offset != 0) {
              const auto first = static_cast<std::int32_t>(half_sums[(i0 + i) * xnb + xb]);
              s0 = I::sub32(s0, I::splat_i32(offset * first));
              s1 = I::sub32(s1, I::splat_i32(offset * (sum - first)));
            }
            const vf part = I::fmadd(I::to_f32(s0), dw[0], I::mul(I::to_f32(s1), dw[1]));
            acc[i][h] = I::fmadd(part, dx, acc[i][h]);
          } else {
            vi isum = I::add32(s0, s1);
            if constexpr (offset != 0) isum = I::sub32(isum, I::splat_i32(offset * sum));
            acc[i][h] = I::fmadd(I::to_f32(isum), I::mul(dw[0], dx), acc[i][h]);
          }
        };
        int i = 0;
        if constexpr (I::has_int8_tiles && traits::lut) {
          // Two activation rows at a time in 2x2 int8 tiles (`smmla`): op[2t], op[2t + 1] are
          // elements 8t..8t+7 of each weight row. The same exact int32 sums as the dot path.
          static_assert(I::s8_bias == 0, "mmla_s8 takes the codebook values themselves");
          for (; i + 2 <= MR; i += 2) {
            const std::int8_t* x0 = xq.row_qs(i0 + i) + 32 * xb;
            const std::int8_t* x1 = xq.row_qs(i0 + i + 1) + 32 * xb;
            vi t01[2] = {I::zero(), I::zero()}, t23[2] = {I::zero(), I::zero()};  // [s0, s1] halves
            for (int t = 0; t < 4; ++t) {
              const vi xa = I::act_pairs8(x0 + 8 * t, x1 + 8 * t);
              t01[t / 2] = I::mmla_s8(t01[t / 2], xa, I::template row_pairs8<0>(op[2 * t], op[2 * t + 1]));
              t23[t / 2] = I::mmla_s8(t23[t / 2], xa, I::template row_pairs8<1>(op[2 * t], op[2 * t + 1]));
            }
            accumulate(i, I::template tile_row<0>(t01[0], t23[0]), I::template tile_row<0>(t01[1], t23[1]));
            accumulate(i + 1, I::template tile_row<1>(t01[0], t23[0]), I::template tile_row<1>(t01[1], t23[1]));
          }
        }
        for (; i < MR; ++i) {
          const auto* xw = reinterpret_cast<const dword_alias*>(xq.row_qs(i0 + i) + 32 * xb);
          vi s0, s1;
          if constexpr (traits::lut) {
            s0 = I::dot4_s8(I::zero(), w[0], xw[0]);
            s1 = I::dot4_s8(I::zero(), w[4], xw[4]);
            s0 = I::dot4_s8(s0, w[1], xw[1]);
            s1 = I::dot4_s8(s1, w[5], xw[5]);
            s0 = I::dot4_s8(s0, w[2], xw[2]);
            s1 = I::dot4_s8(s1, w[6], xw[6]);
            s0 = I::dot4_s8(s0, w[3], xw[3]);
            s1 = I::dot4_s8(s1, w[7], xw[7]);
          } else {
            // Ternary codes <= 3 (dot8_u8 wants codes <= 63).
            s0 = I::dot8_u8(I::dot8_u8(I::zero(), op[0], op[1], xw[0], xw[1]), op[2], op[3], xw[2], xw[3]);
            s1 = I::dot8_u8(I::dot8_u8(I::zero(), op[4], op[5], xw[4], xw[5]), op[6], op[7], xw[6], xw[7]);
          }
          accumulate(i, s0, s1);
        }
      }
    }
  }
  for (int i = 0; i < MR; ++i)
    for (std::size_t h = 0; h < I::parts; ++h) I::store_f32(acc_out[i] + I::lanes * h, acc[i][h]);
}

/// The SIMD GEMM of a dword-transposed format F (IQ4_NL, IQ4_XS, MXFP4, NVFP4, TQ1_0, TQ2_0):
/// activations quantized on the fly (activation_q8, ggml's Q8_0 rules), weights in block_packed_t
/// panels decoded in registers, integer dot products, f32 accumulation of the per-block scaled
/// sums, fused epilogue. Threads split panels (and row blocks) as for_each_panel_tile does.
/// Workspace: for split_halves formats on an ISA with s8_bias != 0 (AVX-512 VNNI), `ws.scratch`
/// holds the half sums (M x K / 32).
template <class F, class Arch>
struct block_dot_gemm_kernel {
  using weight_type = block_packed_t<F>;
  static constexpr bool needs_half_sums = block_dot_traits<F>::split_halves && isa_ops<Arch>::s8_bias != 0;

  struct microkernel {
    const float* half_sums;
    template <int MR>
    void operator()(const std::uint8_t* panel, std::size_t nb, const activation_q8& xq, std::size_t i0,
                    float (*acc)[16]) const noexcept {
      block_dot_microkernel<Arch, MR, F>(panel, nb, xq, half_sums, i0, acc);
    }
  };

  static weight_type prepare(weight_view<F> w, threads t) { return pack_blocks(w, t); }

  template <epilogue::stage E>
  static void run(matrix_view<const float> x, const weight_type& w, matrix_view<float> y, threads t, const E& e,
                  gemm_workspace& ws) {
    quantize_activations<Arch>(x, ws.x_q8);
    const activation_q8& xq = ws.x_q8;
    const float* half_sums = nullptr;
    if constexpr (needs_half_sums) {
      const std::size_t xnb = x.cols / 32;
      ws.scratch.resize(x.rows * xnb);
      for (std::size_t i = 0; i < x.rows; ++i) {
        for (std::size_t b = 0; b < xnb; ++b) {
          const std::int8_t* q = xq.row_qs(i) + 32 * b;
          std::int32_t s = 0;
          for (int k = 0; k < 16; ++k) s += q[k];
          ws.scratch[i * xnb + b] = static_cast<float>(s);  // |s| <= 2032: exact
        }
      }
      half_sums = ws.scratch.data();
    }
    const microkernel mk{half_sums};
    for_each_panel_tile(t, w.panels(), x.rows,
                        [&](std::size_t p, std::size_t i0, std::size_t i1) { run_panel(w, p, xq, i0, i1, y, e, mk); });
  }
};

}  // namespace lowbit::simd_detail
