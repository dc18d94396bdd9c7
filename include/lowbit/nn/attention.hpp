// SPDX-License-Identifier: Apache-2.0
// Copyright lowbit contributors
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <optional>
#include <span>
#include <string>
#include <type_traits>
#include <vector>

#include "lowbit/core/error.hpp"
#include "lowbit/core/parallel.hpp"
#include "lowbit/nn/detail/checks.hpp"
#include "lowbit/nn/detail/simd.hpp"
#include "lowbit/nn/kv_cache.hpp"

namespace lowbit::nn {

namespace detail {
/// n rounded up to a multiple of 16 floats (64 bytes).
constexpr std::size_t pad16(std::size_t n) noexcept { return (n + 15) / 16 * 16; }
}  // namespace detail

/// What one `attention` call computes: which layer, which query tokens, how many heads, what scale.
struct attention_params {
  std::size_t layer = 0;         ///< layer of the KV cache to read
  std::size_t pos = 0;           ///< position of the first query token
  std::size_t n_tokens = 1;      ///< M: query tokens, at positions [pos, pos + M)
  std::size_t n_heads = 0;       ///< query heads; a multiple of the cache's n_kv_heads
  std::optional<float> scale{};  ///< logit scale; empty means 1 / sqrt(head_dim)
  /// Sliding window: the query at position p sees the keys at positions (p - window, p], i.e. the
  /// last `window` positions including its own (llama.cpp's LLAMA_SWA_TYPE_STANDARD with
  /// n_swa = window: a key at p0 is masked when p - p0 >= n_swa). 0: no window, keys [0, p].
  std::size_t window = 0;
};

/// Scratch memory reused across `attention` calls, so that decoding allocates nothing.
///
/// Holds one slot per thread: one KV head's keys and values decoded to f32 (2 x max_keys x
/// head_dim) and `max_keys` f32 scores, each part padded to 64 bytes (2 x 2048 x 64 x 4 bytes = 1 MiB per thread at a
/// 2048-token context). `attention` grows it when a call needs more (more threads, a longer context); `reserve(threads,
/// n_ctx, head_dim)` once up front and no call allocates. Not thread-safe: one workspace per concurrent caller.
class attention_workspace {
 public:
  /// An empty workspace; the first `attention` call (or `reserve`) allocates.
  attention_workspace() = default;

  /// Ensures room for `n_threads` slots of `max_keys` scores and `head_dim` rows; never shrinks.
  void reserve(std::size_t n_threads, std::size_t max_keys, std::size_t head_dim) {
    const std::size_t slot = 2 * detail::pad16(max_keys * head_dim) + detail::pad16(max_keys);
    if (slot > slot_size_ || n_threads > n_slots_) {
      slot_size_ = std::max(slot, slot_size_);
      n_slots_ = std::max(n_threads, n_slots_);
      buffer_.assign(slot_size_ * n_slots_ + pad, 0.0f);
    }
  }

  /// Floats held (0 before the first use).
  [[nodiscard]] std::size_t capacity() const noexcept { return buffer_.size(); }

  /// Scratch slot `i` (< the reserved thread count), 64-byte aligned. For `attention` only.
  [[nodiscard]] float* slot(std::size_t i) noexcept {
    float* base = buffer_.data();
    const auto misalign = reinterpret_cast<std::uintptr_t>(base) % 64;
    if (misalign != 0) base += (64 - misalign) / sizeof(float);
    return base + i * slot_size_;
  }

 private:
  static constexpr std::size_t pad = 16;  // floats: room to align the first slot to 64 bytes

  std::vector<float> buffer_;
  std::size_t slot_size_ = 0;
  std::size_t n_slots_ = 0;
};

namespace detail {

/// The first key position that query token i (position p.pos + i) sees: 0, or p + 1 - window
/// under a sliding window that no longer reaches position 0. It sees keys [first_key, p.pos + i].
constexpr std::size_t first_key(const attention_params& p, std::size_t i) noexcept {
  const std::size_t q_pos = p.pos + i;
  return p.window != 0 && q_pos >= p.window ? q_pos + 1 - p.window : 0;
}

template <kv_element E>
void check_attention_args(std::span<const float> q, const kv_cache<E>& cache, const attention_params& p,
                          std::span<float> out) {
  const std::size_t hd = cache.head_dim();
  const std::size_t n_kv = cache.n_kv_heads();
  check(p.n_heads > 0 && p.n_heads % n_kv == 0, errc::shape_mismatch, [&] {
    return "attention: n_heads = " + std::to_string(p.n_heads) +
           " is not a positive multiple of the cache's n_kv_heads = " + std::to_string(n_kv);
  });
  check_extent("attention", "q", q.size(), p.n_tokens * p.n_heads * hd, "n_tokens * n_heads * head_dim");
  check_extent("attention", "out", out.size(), p.n_tokens * p.n_heads * hd, "n_tokens * n_heads * head_dim");
  const std::size_t written = cache.length(p.layer);  // throws out_of_range for a bad layer
  check(p.pos + p.n_tokens <= written, errc::out_of_range, [&] {
    return "attention: pos = " + std::to_string(p.pos) + " + n_tokens = " + std::to_string(p.n_tokens) +
           " exceeds the " + std::to_string(written) + " positions written in layer " + std::to_string(p.layer) +
           " (n_ctx = " + std::to_string(cache.n_ctx()) + ")";
  });
  const std::size_t held = cache.first_held(p.layer);
  check(p.n_tokens == 0 || first_key(p, 0) >= held, errc::out_of_range, [&] {
    return "attention: the query at pos = " + std::to_string(p.pos) + " needs keys from position " +
           std::to_string(first_key(p, 0)) + " (window = " + std::to_string(p.window) + ") but layer " +
           std::to_string(p.layer) + " holds only positions [" + std::to_string(held) + ", " + std::to_string(written) +
           ") (a ring of " + std::to_string(cache.rows(p.layer)) + " rows)";
  });
  if (p.scale) {
    check(std::isfinite(*p.scale), errc::invalid_argument, "attention: scale must be finite");
  }
}

/// Row `t` of a cached (n_ctx, head_dim) block as f32: the row itself for f32 storage, otherwise
/// decoded into `scratch`.
template <kv_element E>
const float* cached_row(const typename E::storage_type* block, std::size_t t, std::size_t hd, float* scratch) noexcept {
  const auto* row = block + t * hd;
  if constexpr (std::is_same_v<typename E::storage_type, float>) {
    return row;
  } else {
    if constexpr (requires { E::decode_row(row, scratch, hd); }) {
      E::decode_row(row, scratch, hd);
    } else {
      for (std::size_t d = 0; d < hd; ++d) scratch[d] = E::decode(row[d]);
    }
    return scratch;
  }
}

/// Decodes n cached elements to f32 (the policy's row decoder when it has one).
template <kv_element E>
void decode_rows(const typename E::storage_type* src, float* dst, std::size_t n) noexcept {
  if constexpr (requires { E::decode_row(src, dst, n); }) {
    E::decode_row(src, dst, n);
  } else {
    for (std::size_t d = 0; d < n; ++d) dst[d] = E::decode(src[d]);
  }
}

/// Positions [lo, lo + n) of a cached (rows, hd) ring block (position p in row p % rows) as
/// contiguous f32 rows in `dst`: decoded for f16 storage, copied for f32. n <= rows.
template <kv_element E>
void gather_rows(const typename E::storage_type* block, std::size_t rows, std::size_t lo, std::size_t n, std::size_t hd,
                 float* dst) noexcept {
  const std::size_t r0 = lo % rows;
  const std::size_t first = std::min(n, rows - r0);  // rows before the ring wraps
  if constexpr (std::is_same_v<typename E::storage_type, float>) {
    std::copy_n(block + r0 * hd, first * hd, dst);
    std::copy_n(block, (n - first) * hd, dst + first * hd);
  } else {
    decode_rows<E>(block + r0 * hd, dst, first * hd);
    decode_rows<E>(block, dst + first * hd, (n - first) * hd);
  }
}

/// out[d] = sum_t p[t] * V[t, d] for f32 rows V: (n, hd), accumulating in registers
/// four batches of d at a time.
inline void weighted_row_sum(float* out, const float* p, const float* v, std::size_t n, std::size_t hd) noexcept {
  constexpr std::size_t w = batch_width;
  std::size_t d = 0;
  for (; d + 4 * w <= hd; d += 4 * w) {
    batch_f32 a0(0.0f), a1(0.0f), a2(0.0f), a3(0.0f);
    for (std::size_t t = 0; t < n; ++t) {
      const batch_f32 pt(p[t]);
      const float* r = v + t * hd + d;
      a0 = xsimd::fma(pt, batch_f32::load_unaligned(r), a0);
      a1 = xsimd::fma(pt, batch_f32::load_unaligned(r + w), a1);
      a2 = xsimd::fma(pt, batch_f32::load_unaligned(r + 2 * w), a2);
      a3 = xsimd::fma(pt, batch_f32::load_unaligned(r + 3 * w), a3);
    }
    a0.store_unaligned(out + d);
    a1.store_unaligned(out + d + w);
    a2.store_unaligned(out + d + 2 * w);
    a3.store_unaligned(out + d + 3 * w);
  }
  for (; d + w <= hd; d += w) {
    batch_f32 a(0.0f);
    for (std::size_t t = 0; t < n; ++t) a = xsimd::fma(batch_f32(p[t]), batch_f32::load_unaligned(v + t * hd + d), a);
    a.store_unaligned(out + d);
  }
  for (; d < hd; ++d) {
    float a = 0.0f;
    for (std::size_t t = 0; t < n; ++t) a += p[t] * v[t * hd + d];
    out[d] = a;
  }
}

}  // namespace detail

/// Grouped-query causal scaled-dot-product attention of M new tokens against a KV cache, with an
/// optional sliding window.
///
/// For token i (position pos + i), query head h and its KV head g = h / (n_heads / n_kv_heads):
/// `s_t = scale * <q[i, h, :], K_g[t, :]>` for t in [lo_i, pos + i] (causal: later keys are
/// masked; lo_i = 0, or pos + i + 1 - window under a window that no longer reaches 0),
/// `a_t = exp(s_t - max_t s_t) / sum_t exp(s_t - max_t s_t)`, `out[i, h * head_dim + d] =
/// sum_t a_t V_g[t, d]`. All f32; cached f16 elements are decoded exactly before use.
///
/// Shapes: `q: (M, n_heads, head_dim)` after RoPE; the cache holds K_g, V_g: (n_ctx, head_dim)
/// per KV head (a ring layer holds its last rows(layer) positions), of which positions
/// [lo_0, pos + M) are read; `out: (M, n_heads * head_dim)`, row-major (heads concatenated, the
/// input of the output projection). M = params.n_tokens.
/// Units: scale is per unit of q.k (default 1 / sqrt(head_dim)); out has the units of V.
///
/// throws lowbit::error{errc::shape_mismatch} if n_heads is not a positive multiple of
/// n_kv_heads (naming both) or q / out do not hold M * n_heads * head_dim elements;
/// errc::out_of_range if layer >= n_layers or pos + M exceeds the positions written in that
/// layer (naming pos, M, the length and n_ctx), or if lo_0 is before the layer's first held
/// position (a ring too small for the window and batch, see sliding_window_rows);
/// errc::invalid_argument if scale is not finite or t.count < 1. Checks happen before anything
/// is written.
///
/// Allocation: none when `ws` was reserved for (threads, pos + M, head_dim) (with a window,
/// min(pos + M, window + M - 1) keys suffice); otherwise `ws`
/// grows once. `out` must not overlap `q`. Work is split over (KV head, block of up to 16 query
/// tokens) units, assigned round-robin so that causal blocks of unequal length balance; small
/// problems stay on one thread. A unit decodes its KV head's cached rows (in position order) to
/// f32 once (in `ws`; f32 rows are read in place unless a ring wraps)
/// and serves every query head of its group; scores live in a per-thread row of `ws` (two passes:
/// scores and max, then exp and sum).
///
/// Source: Vaswani et al., arXiv:1706.03762 (scaled dot-product attention); Ainslie et al.,
/// "GQA", arXiv:2305.13245 (grouped KV heads); masking and head mapping as llama.cpp
/// (ggml-cpu ops.cpp, soft_max with the causal KQ mask and flash_attn_ext's h / (n_head / n_head_kv));
/// the window as llama.cpp's llama_hparams::is_masked_swa (LLAMA_SWA_TYPE_STANDARD).
template <kv_element E>
void attention(std::span<const float> q, const kv_cache<E>& cache, const attention_params& params, std::span<float> out,
               attention_workspace& ws, threads t = {}) {
  detail::check_attention_args(q, cache, params, out);
  check(t.count >= 1, errc::invalid_argument, "attention: thread count must be >= 1");
  const std::size_t M = params.n_tokens;
  const std::size_t n_heads = params.n_heads;
  const std::size_t hd = cache.head_dim();
  if (M == 0) return;
  const std::size_t group = n_heads / cache.n_kv_heads();
  const float scale = params.scale.value_or(1.0f / std::sqrt(static_cast<float>(hd)));

  // Work units are (KV head, block of query tokens): a unit decodes its KV head's rows once and
  // serves all `group` query heads of every token in the block.
  const std::size_t n_kv = cache.n_kv_heads();
  const std::size_t token_block = M <= 8 ? M : 16;
  const std::size_t blocks = (M + token_block - 1) / token_block;
  const std::size_t units = n_kv * blocks;
  // Keys per unit: at most pos + M, and window + token_block - 1 under a window.
  const std::size_t keys_cap = params.window == 0 ? params.pos + M : std::min(params.pos + M, params.window + M - 1);
  // About 4 * keys * head_dim flops per query head; below ~64k flops a parallel region costs more than it saves.
  const std::size_t avg_keys = params.pos + (M + 1) / 2;
  const std::size_t work = M * n_heads * (params.window == 0 ? avg_keys : std::min(avg_keys, params.window)) * hd;
  std::size_t workers = std::min<std::size_t>(static_cast<std::size_t>(t.count), units);
  if (work < (std::size_t{1} << 15)) workers = 1;
  ws.reserve(workers, keys_cap, hd);

  // The cache keeps a layer's KV heads contiguous, (n_kv_heads, n_ctx, head_dim): resolve (and
  // bounds-check) the layer once here, so the parallel body cannot throw.
  const auto* k_layer = cache.keys(params.layer, 0).data();
  const auto* v_layer = cache.values(params.layer, 0).data();
  const std::size_t n_rows = cache.rows(params.layer);  // position p lives in row p % n_rows
  const std::size_t head_stride = n_rows * hd;
  constexpr bool f16_storage = !std::is_same_v<typename E::storage_type, float>;

  // The slot layout below fits what reserve() sized.
  auto run_unit = [&](std::size_t u, float* slot) {
    const std::size_t g = u % n_kv;
    const std::size_t i_begin = (u / n_kv) * token_block;
    const std::size_t i_end = std::min(M, i_begin + token_block);
    const std::size_t lo = detail::first_key(params, i_begin);  // the block's first token sees the earliest key
    const std::size_t n_span = params.pos + i_end - lo;         // keys [lo, pos + i_end) in position order
    float* k_f32 = slot;                                        // (n_span, head_dim)
    float* v_f32 = k_f32 + detail::pad16(keys_cap * hd);        // (n_span, head_dim)
    float* scores = v_f32 + detail::pad16(keys_cap * hd);       // (n_span)
    const auto* kb = k_layer + g * head_stride;                 // K_g: (n_rows, head_dim)
    const auto* vb = v_layer + g * head_stride;                 // V_g: (n_rows, head_dim)
    const float* keys = nullptr;                                // row t: position lo + t
    const float* values = nullptr;
    if (f16_storage || lo % n_rows + n_span > n_rows) {
      detail::gather_rows<E>(kb, n_rows, lo, n_span, hd, k_f32);
      detail::gather_rows<E>(vb, n_rows, lo, n_span, hd, v_f32);
      keys = k_f32;
      values = v_f32;
    } else if constexpr (!f16_storage) {
      keys = kb + lo % n_rows * hd;
      values = vb + lo % n_rows * hd;
    }
    for (std::size_t i = i_begin; i < i_end; ++i) {
      const std::size_t k0 = detail::first_key(params, i) - lo;  // this token's first key, as a row of `keys`
      const std::size_t n_keys = params.pos + i + 1 - detail::first_key(params, i);
      for (std::size_t h = g * group; h < (g + 1) * group; ++h) {
        const std::size_t row = i * n_heads + h;
        const float* qrow = q.data() + row * hd;
        float* orow = out.data() + row * hd;
        for (std::size_t k = 0; k < n_keys; ++k) scores[k] = scale * detail::dot(qrow, keys + (k0 + k) * hd, hd);
        const float m = detail::max_element(scores, n_keys);
        const float sum = detail::exp_shifted_sum(scores, scores, m, n_keys);
        detail::weighted_row_sum(orow, scores, values + k0 * hd, n_keys, hd);
        detail::scale(orow, 1.0f / sum, orow, hd);
      }
    }
  };

  if (workers == 1) {
    for (std::size_t u = 0; u < units; ++u) run_unit(u, ws.slot(0));
    return;
  }
  // Worker c takes units c, c + workers, ... (round-robin: later token blocks have more keys).
  parallel_for(threads{static_cast<int>(workers)}, workers, 1, [&](std::size_t begin, std::size_t end) {
    for (std::size_t c = begin; c < end; ++c) {
      for (std::size_t u = c; u < units; u += workers) run_unit(u, ws.slot(c));
    }
  });
}

namespace reference {

/// Scalar twin of `lowbit::nn::attention`: the same formula (window included) with plain loops,
/// dot products and weighted sums accumulated in double, the softmax sum in double;
/// single-threaded; allocates one score row per call.
///
/// Same shapes and errors as `lowbit::nn::attention`.
template <kv_element E>
void attention(std::span<const float> q, const kv_cache<E>& cache, const attention_params& params,
               std::span<float> out) {
  detail::check_attention_args(q, cache, params, out);
  const std::size_t M = params.n_tokens;
  const std::size_t n_heads = params.n_heads;
  const std::size_t hd = cache.head_dim();
  const std::size_t group = n_heads / cache.n_kv_heads();
  const float scale = params.scale.value_or(1.0f / std::sqrt(static_cast<float>(hd)));
  const std::size_t n_rows = cache.rows(params.layer);
  std::vector<float> scores(params.pos + M);
  for (std::size_t i = 0; i < M; ++i) {
    for (std::size_t h = 0; h < n_heads; ++h) {
      const std::size_t g = h / group;
      const std::size_t lo = detail::first_key(params, i);
      const std::size_t n_keys = params.pos + i + 1 - lo;  // scores[k]: position lo + k, row (lo + k) % n_rows
      const float* qrow = q.data() + (i * n_heads + h) * hd;
      const auto keys = cache.keys(params.layer, g);
      const auto values = cache.values(params.layer, g);
      float m = -std::numeric_limits<float>::infinity();
      for (std::size_t k = 0; k < n_keys; ++k) {
        const std::size_t r = (lo + k) % n_rows;
        double acc = 0.0;
        for (std::size_t d = 0; d < hd; ++d) acc += static_cast<double>(qrow[d]) * E::decode(keys[r * hd + d]);
        scores[k] = scale * static_cast<float>(acc);
        m = std::max(m, scores[k]);
      }
      double sum = 0.0;
      for (std::size_t k = 0; k < n_keys; ++k) {
        scores[k] = std::exp(scores[k] - m);
        sum += scores[k];
      }
      for (std::size_t d = 0; d < hd; ++d) {
        double acc = 0.0;
        for (std::size_t k = 0; k < n_keys; ++k) {
          acc += static_cast<double>(scores[k]) * E::decode(values[(lo + k) % n_rows * hd + d]);
        }
        out[(i * n_heads + h) * hd + d] = static_cast<float>(acc / sum);
      }
    }
  }
}

}  // namespace reference

}  // namespace lowbit::nn
