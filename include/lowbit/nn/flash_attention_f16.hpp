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

#include "lowbit/backend/simd/isa/isa.hpp"
#include "lowbit/core/error.hpp"
#include "lowbit/core/fp16.hpp"
#include "lowbit/core/parallel.hpp"
#include "lowbit/nn/attention.hpp"
#include "lowbit/nn/kv_cache.hpp"

namespace lowbit::nn {

/// The largest head_dim `flash_attention_f16` takes (its per-row buffers live on the stack).
inline constexpr std::size_t flash_attention_max_head_dim = 512;

namespace detail {

/// The ISA layer of this translation unit's target (xsimd's default_arch): AVX-512 or AVX2 + F16C
/// on x86, NEON on AArch64, the baseline vector-extension struct elsewhere.
using flash_isa = simd_detail::isa_ops<xsimd::default_arch>;

/// <k, q> for a cached binary16 row k and a row q of binary16 values held as f32, n elements, with
/// ggml's `ggml_vec_dot_f16` on AVX-512 (ggml-cpu vec.cpp, simd-mappings.h): elements
/// [0, 64 * floor(n / 64)) in 4 x 16 f32 lanes (lane l of accumulator a takes elements
/// 64 s + 16 a + l, s ascending), the accumulators added as (a0 + a2) + (a1 + a3), the 16 lanes
/// reduced as ggml's AVX-512 reduce-add (halves, quarters, then (l0 + l2) + (l1 + l3)); the tail added
/// in double, in order. Products of two binary16 values are exact in f32, so fused and unfused
/// forms agree. The 16 lanes of an accumulator run as 16 / lanes registers of the ISA layer
/// (flash_isa: 1 with AVX-512, 2 with AVX2, 4 with NEON; the same sums).
inline float dot_f16_ggml(const std::uint16_t* k, const float* q, std::size_t n) noexcept {
  using I = flash_isa;
  constexpr std::size_t L = I::lanes, parts = 16 / L;
  const std::size_t full = n / 64 * 64;
  alignas(64) float x[16] = {};
  if (full > 0) {
    typename I::vf lanes[4][parts];
    for (auto& a : lanes) {
      for (auto& h : a) h = I::zero_f32();
    }
    for (std::size_t s = 0; s < full; s += 64) {
      for (std::size_t a = 0; a < 4; ++a) {
        for (std::size_t h = 0; h < parts; ++h) {
          const std::size_t e = s + 16 * a + L * h;
          lanes[a][h] = I::fmadd(I::f16_to_f32(k + e), I::load_f32(q + e), lanes[a][h]);
        }
      }
    }
    for (std::size_t h = 0; h < parts; ++h)
      I::store_f32(x + L * h, I::add(I::add(lanes[0][h], lanes[2][h]), I::add(lanes[1][h], lanes[3][h])));
  }
  float h8[8], h4[4];
  for (std::size_t l = 0; l < 8; ++l) h8[l] = x[l + 8] + x[l];
  for (std::size_t l = 0; l < 4; ++l) h4[l] = h8[l + 4] + h8[l];
  double sum = static_cast<double>((h4[0] + h4[2]) + (h4[1] + h4[3]));
  for (std::size_t i = full; i < n; ++i) sum += static_cast<double>(fp16_to_f32(k[i]) * q[i]);
  return static_cast<float>(sum);
}

/// Rounds each of n f32 values to the nearest binary16 value (ties to even; beyond 65504 to
/// infinity; NaN stays NaN), in place, as f32: fp16_to_f32(f32_to_fp16(v)), a register of
/// flash_isa at a time (round_f16), the tail one by one.
inline void round_to_f16(float* v, std::size_t n) noexcept {
  using I = flash_isa;
  std::size_t i = 0;
  for (; i + I::lanes <= n; i += I::lanes) I::store_f32(v + i, I::round_f16(I::load_f32(v + i)));
  for (; i < n; ++i) v[i] = fp16_to_f32(f32_to_fp16(v[i]));
}

/// acc = f16(fma(v, w, acc)) elementwise for a cached binary16 row v (ggml_vec_mad_f16).
inline void accumulate_f16(float* acc, const std::uint16_t* v, float w, std::size_t n) noexcept {
  using I = flash_isa;
  std::size_t d = 0;
  const typename I::vf wv = I::splat_f32(w);
  for (; d + I::lanes <= n; d += I::lanes) {
    const typename I::vf r = I::fmadd(I::f16_to_f32(v + d), wv, I::load_f32(acc + d));
    I::store_f32(acc + d, I::round_f16(r));
  }
  for (std::size_t e = d; e < n; ++e) acc[e] = std::fma(fp16_to_f32(v[e]), w, acc[e]);
  round_to_f16(acc + d, n - d);
}

/// acc = f16(acc * w) elementwise (ggml_vec_scale_f16).
inline void scale_f16(float* acc, float w, std::size_t n) noexcept {
  for (std::size_t d = 0; d < n; ++d) acc[d] *= w;
  round_to_f16(acc, n);
}

}  // namespace detail

/// Causal grouped-query attention over an f16 KV cache, optionally within a sliding window, in one
/// pass with an online softmax and an f16 output accumulator: the arithmetic of ggml's CPU
/// `flash_attn_ext` (llama.cpp's default attention for an f16 cache), reproduced bit for bit.
///
/// For query token i (position pos + i) and head h over KV head g = h / (n_heads / n_kv_heads),
/// keys t = lo_i .. pos + i in ascending position order (lo_i = 0, or pos + i + 1 - window under
/// `params.window` once the window no longer reaches 0; ggml visits every cell of the cache and
/// skips the masked ones, which leaves the same keys in the same order): q is rounded to
/// binary16; `s = <K_g[t], q> * scale` (the dot product as `ggml_vec_dot_f16`, see
/// detail::dot_f16_ggml); if s > M: M = s, ms = expf(M_old - M), acc = f16(acc * ms), vs = 1;
/// else vs = expf(s - M); acc = f16(fma(V_g[t], vs, acc)) elementwise; S = fma(S, ms, vs).
/// Finally out = f32(acc) * (1 / S). expf is the C library's. The same result as `attention` up
/// to rounding (the f16 accumulator costs about 3 decimal digits of the output, which is what
/// llama.cpp computes): use this one to reproduce llama.cpp.
///
/// Shapes: `q: (M, n_heads, head_dim)` after RoPE; the cache holds K_g, V_g per KV head (a ring
/// layer holds its last rows(layer) positions), positions [lo_0, pos + M) are read;
/// `out: (M, n_heads * head_dim)` row-major (heads concatenated). M = params.n_tokens.
/// Units: scale per unit of q.k (default 1 / sqrt(head_dim)).
///
/// throws lowbit::error: the errors of `attention` (shape_mismatch, out_of_range, also for a ring
/// layer that no longer holds a key the window needs; invalid_argument for a non-finite scale or
/// t.count < 1), and errc::unsupported if head_dim exceeds flash_attention_max_head_dim. Checks
/// happen before anything is written.
///
/// No allocation. `out` must not overlap `q`. Query rows (token, head) are split over `t` threads;
/// each row's arithmetic is independent of the split.
///
/// Which ggml path this is: ggml_compute_forward_flash_attn_ext_f16_one_chunk, the path ggml takes
/// for batches of 2 to 63 query tokens (GGML_FA_TILE_Q = 64) and for one query token over fewer
/// than 512 KV cells in the view. One token over 512 or more cells takes ggml's split-KV path,
/// chunked over its threads and merged: the same bits with one thread, not with more. Batches of
/// 64 or more tokens take ggml's tiled path, whose rounding differs.
///
/// Source: Milakov & Gimelshein, "Online normalizer calculation for softmax", arXiv:1805.02867;
/// Rabe & Staats, "Self-attention Does Not Need O(n^2) Memory", arXiv:2112.05682; Dao et al.,
/// "FlashAttention", arXiv:2205.14135; the operation order of ggml-cpu ops.cpp,
/// ggml_compute_forward_flash_attn_ext_f16_one_chunk (llama.cpp, vendored in llama-cpp-python 0.3.36);
/// the window as llama.cpp's llama_hparams::is_masked_swa (LLAMA_SWA_TYPE_STANDARD).
inline void flash_attention_f16(std::span<const float> q, const kv_cache<kv_f16>& cache, const attention_params& params,
                                std::span<float> out, threads t = {}) {
  detail::check_attention_args(q, cache, params, out);
  check(t.count >= 1, errc::invalid_argument, "flash_attention_f16: thread count must be >= 1");
  const std::size_t hd = cache.head_dim();
  check(hd <= flash_attention_max_head_dim, errc::unsupported, [&] {
    return "flash_attention_f16: head_dim = " + std::to_string(hd) + " exceeds " +
           std::to_string(flash_attention_max_head_dim);
  });
  const std::size_t M = params.n_tokens, n_heads = params.n_heads;
  if (M == 0) return;
  const std::size_t group = n_heads / cache.n_kv_heads();
  const float scale = params.scale.value_or(1.0f / std::sqrt(static_cast<float>(hd)));
  const auto* k_layer = cache.keys(params.layer, 0).data();  // (n_kv_heads, n_ctx, head_dim)
  const auto* v_layer = cache.values(params.layer, 0).data();
  const std::size_t n_rows = cache.rows(params.layer);  // position p lives in row p % n_rows
  const std::size_t head_stride = n_rows * hd;
  const std::size_t rows = M * n_heads;
  const std::size_t avg_keys = params.pos + (M + 1) / 2;
  const std::size_t work = rows * (params.window == 0 ? avg_keys : std::min(avg_keys, params.window)) * hd;
  const threads workers = work < (std::size_t{1} << 15) ? threads{1} : t;

  parallel_for(workers, rows, 1, [&](std::size_t begin, std::size_t end) {
    float qh[flash_attention_max_head_dim];   // q rounded to binary16
    float acc[flash_attention_max_head_dim];  // the binary16 accumulator, held as f32
    for (std::size_t row = begin; row < end; ++row) {
      const std::size_t i = row / n_heads, h = row % n_heads;
      const std::size_t g = h / group;
      std::copy_n(q.data() + row * hd, hd, qh);
      detail::round_to_f16(qh, hd);
      std::fill_n(acc, hd, 0.0f);
      const std::uint16_t* kb = k_layer + g * head_stride;
      const std::uint16_t* vb = v_layer + g * head_stride;
      float S = 0.0f, Mx = -std::numeric_limits<float>::infinity();
      const std::size_t end_key = params.pos + i + 1;
      for (std::size_t key = detail::first_key(params, i); key < end_key; ++key) {
        const std::size_t r = key < n_rows ? key : key % n_rows;
        const float s = detail::dot_f16_ggml(kb + r * hd, qh, hd) * scale;
        float ms = 1.0f, vs = 1.0f;
        if (s > Mx) {
          const float m_old = Mx;
          Mx = s;
          ms = std::exp(m_old - Mx);
          detail::scale_f16(acc, ms, hd);
        } else {
          vs = std::exp(s - Mx);
        }
        detail::accumulate_f16(acc, vb + r * hd, vs, hd);
        S = std::fma(S, ms, vs);
      }
      const float s_inv = S == 0.0f ? 0.0f : 1.0f / S;
      float* orow = out.data() + row * hd;
      for (std::size_t d = 0; d < hd; ++d) orow[d] = acc[d] * s_inv;
    }
  });
}

}  // namespace lowbit::nn
