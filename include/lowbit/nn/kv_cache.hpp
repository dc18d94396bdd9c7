// SPDX-License-Identifier: Apache-2.0
// Copyright lowbit contributors
#pragma once

#include <algorithm>
#include <bit>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "lowbit/core/error.hpp"
#include "lowbit/core/fp16.hpp"
#include "lowbit/nn/detail/checks.hpp"

namespace lowbit::nn {

/// KV cache element policy: f32 storage, exact.
struct kv_f32 {
  using storage_type = float;  ///< what one cached element is stored as
  /// The stored element as f32 (identity).
  static constexpr float decode(storage_type v) noexcept { return v; }
  /// The f32 value as stored (identity).
  static constexpr storage_type encode(float v) noexcept { return v; }
};

/// KV cache element policy: IEEE binary16 storage (llama.cpp's default cache type, GGML_TYPE_F16),
/// rounded to nearest-even on write, exact on read. Halves the cache memory.
struct kv_f16 {
  using storage_type = std::uint16_t;  ///< binary16 bits
  /// binary16 bits to f32, exact (`lowbit::fp16_to_f32`).
  static constexpr float decode(storage_type v) noexcept { return fp16_to_f32(v); }
  /// f32 to binary16 bits, round to nearest-even, overflow to infinity (`lowbit::f32_to_fp16`).
  static constexpr storage_type encode(float v) noexcept { return f32_to_fp16(v); }

  /// Decodes n elements; bit-identical to `decode` for all 65536 inputs. Branch-free so that
  /// compilers vectorize it (the hot loop of attention over an f16 cache).
  ///
  /// Source: the exponent-rebias conversion of F. Giesen, "half_to_float_fast" (2012), which
  /// renormalises subnormals with one float subtraction instead of a loop.
  static void decode_row(const storage_type* src, float* dst, std::size_t n) noexcept {
    constexpr std::uint32_t exp_mask = 0x7c00u << 13;  // binary16 exponent field, moved to binary32
    for (std::size_t i = 0; i < n; ++i) {
      const std::uint32_t h = src[i];
      std::uint32_t o = (h & 0x7fffu) << 13;  // exponent and mantissa
      const std::uint32_t e = o & exp_mask;
      o += (127u - 15u) << 23;                                 // rebias the exponent
      const std::uint32_t inf_nan = o + ((128u - 16u) << 23);  // e == 31: exponent 255
      // e == 0: value = 2^-14 * (1 + m / 1024) - 2^-14 = m * 2^-24, exact in f32
      const float sub = std::bit_cast<float>(o + (1u << 23)) - std::bit_cast<float>(113u << 23);
      const std::uint32_t bits = e == exp_mask ? inf_nan : (e == 0 ? std::bit_cast<std::uint32_t>(sub) : o);
      dst[i] = std::bit_cast<float>(bits | ((h & 0x8000u) << 16));
    }
  }
};

/// A KV cache element policy: a storage type and exact `decode` / rounding `encode` to and from f32.
/// A policy may add `static void decode_row(const storage_type*, float*, std::size_t) noexcept`,
/// which attention then uses for whole rows.
template <class E>
concept kv_element = requires(typename E::storage_type s, float f) {
  { E::decode(s) } -> std::same_as<float>;
  { E::encode(f) } -> std::same_as<typename E::storage_type>;
};

/// Rows a layer needs to serve a sliding window of `window` positions to batches of up to
/// `max_tokens` query tokens: `window + max_tokens - 1` (the first query of a batch at position p
/// needs keys from p - window + 1, the batch writes up to p + max_tokens - 1). Pass it, per
/// sliding-window layer, to `kv_cache::with_layer_rows` (llama.cpp sizes its
/// sliding-window cache the same way, n_swa + n_ubatch, padded to 256, unless swa_full).
/// Precondition: window > 0 and max_tokens > 0.
constexpr std::size_t sliding_window_rows(std::size_t window, std::size_t max_tokens) noexcept {
  return window + max_tokens - 1;
}

/// Keys and values of every layer for positions [0, n_ctx), grouped by KV head; a layer may keep
/// only its most recent positions (a ring buffer, for sliding-window attention).
///
/// Layout: layer l holds `rows(l)` rows (n_ctx unless the layer is a ring); the position p lives
/// in row `p % rows(l)`. Per layer, K and V are each (n_kv_heads, rows(l), head_dim), row-major:
/// one KV head's keys are contiguous, so attention streams them. `write` takes the projection
/// layout (M, n_kv_heads, head_dim) and scatters it.
///
/// Shapes: per layer 2 x (n_kv_heads, rows(l), head_dim) elements of `Element::storage_type`;
/// memory is exactly 2 * sum_l rows(l) * n_kv_heads * head_dim * sizeof(storage_type) bytes,
/// allocated (zeroed) in the constructor and never again.
///
/// Fill state: each layer holds positions [first_held, length): `length` is one past the last
/// position written, `first_held` is 0 for a full layer and max(0, length - rows) for a ring
/// (earlier rows were overwritten). `write` may overwrite or extend ([pos, pos + M) with
/// first_held <= pos <= length), never leave a gap; `clear` and `truncate` shorten it without
/// touching memory. Attention reads only held positions and throws if a query needs one that is
/// not. A ring layer gives the same attention results as a full one (same keys, same order).
///
/// Thread safety: const members may run concurrently; `write` to distinct layers may too.
///
/// Source: the KV cache of autoregressive decoding (Pope et al., "Efficiently Scaling
/// Transformer Inference", arXiv:2211.05102); llama.cpp's llama_kv_cache (f16 by default) and,
/// for ring layers, its sliding-window cache (llama_kv_cache_iswa); sliding-window attention:
/// Beltagy et al., "Longformer", arXiv:2004.05150.
template <kv_element Element = kv_f32>
class kv_cache {
 public:
  using element_type = Element;                         ///< the element policy
  using storage_type = typename Element::storage_type;  ///< one stored element

  /// Allocates a cache of n_layers full layers (n_ctx rows each).
  ///
  /// throws lowbit::error{errc::invalid_argument} if any extent is 0.
  kv_cache(std::size_t n_layers, std::size_t n_ctx, std::size_t n_kv_heads, std::size_t head_dim)
      : kv_cache(checked_layers(n_layers, n_ctx), n_ctx, n_kv_heads, head_dim, layer_rows_tag{}) {}

  /// Allocates a cache whose layer l keeps min(layer_rows[l], n_ctx) rows: n_ctx (or more) makes
  /// a full layer, fewer a ring buffer of the most recent positions (see sliding_window_rows).
  /// n_layers = layer_rows.size(). A named function, not a constructor, so that a braced list of
  /// rows is never taken for a layer count.
  ///
  /// Example (Gemma 3 270M, 18 layers, every sixth one global, window 512, batches of up to 64
  /// tokens): rows[l] = l % 6 == 5 ? n_ctx : sliding_window_rows(512, 64).
  ///
  /// throws lowbit::error{errc::invalid_argument} if layer_rows is empty, any of its entries is 0
  /// (naming the layer), or n_ctx, n_kv_heads or head_dim is 0.
  [[nodiscard]] static kv_cache with_layer_rows(std::vector<std::size_t> layer_rows, std::size_t n_ctx,
                                                std::size_t n_kv_heads, std::size_t head_dim) {
    return kv_cache(std::move(layer_rows), n_ctx, n_kv_heads, head_dim, layer_rows_tag{});
  }

 private:
  struct layer_rows_tag {};
  kv_cache(std::vector<std::size_t> layer_rows, std::size_t n_ctx, std::size_t n_kv_heads, std::size_t head_dim,
           layer_rows_tag)
      : n_layers_(layer_rows.size()), n_ctx_(n_ctx), n_kv_heads_(n_kv_heads), head_dim_(head_dim) {
    detail::check_positive("kv_cache", "n_layers", n_layers_);
    detail::check_positive("kv_cache", "n_ctx", n_ctx);
    detail::check_positive("kv_cache", "n_kv_heads", n_kv_heads);
    detail::check_positive("kv_cache", "head_dim", head_dim);
    rows_.resize(n_layers_);
    layer_offset_.resize(n_layers_ + 1, 0);
    for (std::size_t l = 0; l < n_layers_; ++l) {
      check(layer_rows[l] > 0, errc::invalid_argument,
            [&] { return "kv_cache: layer_rows[" + std::to_string(l) + "] must be > 0"; });
      rows_[l] = std::min(layer_rows[l], n_ctx);
      layer_offset_[l + 1] = layer_offset_[l] + n_kv_heads * rows_[l] * head_dim;
    }
    k_.assign(layer_offset_.back(), storage_type{});
    v_.assign(layer_offset_.back(), storage_type{});
    length_.assign(n_layers_, 0);
    first_held_.assign(n_layers_, 0);
  }

 public:
  [[nodiscard]] std::size_t n_layers() const noexcept { return n_layers_; }      ///< layers held
  [[nodiscard]] std::size_t n_ctx() const noexcept { return n_ctx_; }            ///< positions per layer
  [[nodiscard]] std::size_t n_kv_heads() const noexcept { return n_kv_heads_; }  ///< KV heads
  [[nodiscard]] std::size_t head_dim() const noexcept { return head_dim_; }      ///< elements per head
  /// Bytes held by K and V together.
  [[nodiscard]] std::size_t bytes() const noexcept { return (k_.size() + v_.size()) * sizeof(storage_type); }

  /// Rows of `layer` (n_ctx for a full layer, fewer for a ring); position p is row p % rows.
  ///
  /// throws lowbit::error{errc::out_of_range} if layer >= n_layers().
  [[nodiscard]] std::size_t rows(std::size_t layer) const {
    check_layer("rows", layer);
    return rows_[layer];
  }

  /// Positions [0, length) of `layer` have been written (of which [first_held, length) are held).
  ///
  /// throws lowbit::error{errc::out_of_range} if layer >= n_layers().
  [[nodiscard]] std::size_t length(std::size_t layer) const {
    check_layer("length", layer);
    return length_[layer];
  }

  /// The oldest position of `layer` still held: 0 for a full layer; for a ring, positions before
  /// it have been overwritten.
  ///
  /// throws lowbit::error{errc::out_of_range} if layer >= n_layers().
  [[nodiscard]] std::size_t first_held(std::size_t layer) const {
    check_layer("first_held", layer);
    return first_held_[layer];
  }

  /// Stores the keys and values of M tokens at positions [pos, pos + M) of `layer`, encoding to
  /// `storage_type`; the layer's length becomes max(length, pos + M), and for a ring first_held
  /// becomes max(first_held, length - rows).
  ///
  /// Shapes: `k: (M, n_kv_heads, head_dim)`, `v: (M, n_kv_heads, head_dim)`, row-major f32 (K
  /// after RoPE).
  ///
  /// throws lowbit::error{errc::shape_mismatch} if k or v does not hold M * n_kv_heads * head_dim
  /// elements; errc::out_of_range if layer >= n_layers(), if pos + M > n_ctx() (naming pos, M and
  /// n_ctx), if pos > length(layer) (a gap) or if pos < first_held(layer) (a ring's row that now
  /// holds a later position). Nothing is written when it throws.
  void write(std::size_t layer, std::size_t pos, std::size_t M, std::span<const float> k, std::span<const float> v) {
    check_layer("write", layer);
    const std::size_t row = n_kv_heads_ * head_dim_;
    detail::check_extent("kv_cache::write", "k", k.size(), M * row, "M * n_kv_heads * head_dim");
    detail::check_extent("kv_cache::write", "v", v.size(), M * row, "M * n_kv_heads * head_dim");
    check(pos <= n_ctx_ && M <= n_ctx_ - pos, errc::out_of_range, [&] {
      return "kv_cache::write: pos = " + std::to_string(pos) + " + M = " + std::to_string(M) +
             " exceeds n_ctx = " + std::to_string(n_ctx_);
    });
    check(pos <= length_[layer], errc::out_of_range, [&] {
      return "kv_cache::write: pos = " + std::to_string(pos) + " leaves a gap after the " +
             std::to_string(length_[layer]) + " positions written in layer " + std::to_string(layer);
    });
    check(pos >= first_held_[layer], errc::out_of_range, [&] {
      return "kv_cache::write: pos = " + std::to_string(pos) + " is before the oldest position held, " +
             std::to_string(first_held_[layer]) + ", in layer " + std::to_string(layer) + " (a ring of " +
             std::to_string(rows_[layer]) + " rows)";
    });
    for (std::size_t m = 0; m < M; ++m) {
      for (std::size_t g = 0; g < n_kv_heads_; ++g) {
        const std::size_t src = m * row + g * head_dim_;
        const std::size_t dst = offset(layer, g, (pos + m) % rows_[layer]);
        for (std::size_t d = 0; d < head_dim_; ++d) {
          k_[dst + d] = Element::encode(k[src + d]);
          v_[dst + d] = Element::encode(v[src + d]);
        }
      }
    }
    length_[layer] = std::max(length_[layer], pos + M);
    if (length_[layer] > rows_[layer]) first_held_[layer] = std::max(first_held_[layer], length_[layer] - rows_[layer]);
  }

  /// Forgets every position of every layer (lengths become 0); memory is kept, not zeroed.
  void clear() noexcept {
    std::fill(length_.begin(), length_.end(), std::size_t{0});
    std::fill(first_held_.begin(), first_held_.end(), std::size_t{0});
  }

  /// Keeps positions [0, n) of every layer: length becomes min(length, n). For rewinding. A ring
  /// layer cannot bring back overwritten positions: its held range becomes [min(first_held,
  /// length), length), and attention throws if a query needs a position before it.
  void truncate(std::size_t n) noexcept {
    for (std::size_t l = 0; l < n_layers_; ++l) {
      length_[l] = std::min(length_[l], n);
      first_held_[l] = std::min(first_held_[l], length_[l]);
    }
  }

  /// Keys of one KV head: (rows(layer), head_dim), row-major; position p is row p % rows(layer);
  /// rows of positions outside [first_held, length) are stale.
  ///
  /// throws lowbit::error{errc::out_of_range} if layer >= n_layers() or kv_head >= n_kv_heads().
  [[nodiscard]] std::span<const storage_type> keys(std::size_t layer, std::size_t kv_head) const {
    check_head("keys", layer, kv_head);
    return {k_.data() + offset(layer, kv_head, 0), rows_[layer] * head_dim_};
  }

  /// Values of one KV head: (rows(layer), head_dim), row-major, as `keys`.
  ///
  /// throws lowbit::error{errc::out_of_range} if layer >= n_layers() or kv_head >= n_kv_heads().
  [[nodiscard]] std::span<const storage_type> values(std::size_t layer, std::size_t kv_head) const {
    check_head("values", layer, kv_head);
    return {v_.data() + offset(layer, kv_head, 0), rows_[layer] * head_dim_};
  }

 private:
  static std::vector<std::size_t> checked_layers(std::size_t n_layers, std::size_t n_ctx) {
    detail::check_positive("kv_cache", "n_layers", n_layers);
    detail::check_positive("kv_cache", "n_ctx", n_ctx);
    return std::vector<std::size_t>(n_layers, n_ctx);
  }
  [[nodiscard]] std::size_t offset(std::size_t layer, std::size_t g, std::size_t r) const noexcept {
    return layer_offset_[layer] + (g * rows_[layer] + r) * head_dim_;
  }
  void check_layer(const char* op, std::size_t layer) const {
    check(layer < n_layers_, errc::out_of_range, [&] {
      return std::string("kv_cache::") + op + ": layer = " + std::to_string(layer) +
             " >= n_layers = " + std::to_string(n_layers_);
    });
  }
  void check_head(const char* op, std::size_t layer, std::size_t kv_head) const {
    check_layer(op, layer);
    check(kv_head < n_kv_heads_, errc::out_of_range, [&] {
      return std::string("kv_cache::") + op + ": kv_head = " + std::to_string(kv_head) +
             " >= n_kv_heads = " + std::to_string(n_kv_heads_);
    });
  }

  std::size_t n_layers_, n_ctx_, n_kv_heads_, head_dim_;
  std::vector<std::size_t> rows_;          // (n_layers): rows per layer, <= n_ctx
  std::vector<std::size_t> layer_offset_;  // (n_layers + 1): first element of each layer in k_ / v_
  std::vector<storage_type> k_;            // per layer (n_kv_heads, rows, head_dim)
  std::vector<storage_type> v_;            // per layer (n_kv_heads, rows, head_dim)
  std::vector<std::size_t> length_;        // (n_layers)
  std::vector<std::size_t> first_held_;    // (n_layers)
};

}  // namespace lowbit::nn
