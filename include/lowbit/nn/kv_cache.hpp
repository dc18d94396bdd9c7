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

/// Keys and values of every layer for positions [0, n_ctx), grouped by KV head.
///
/// Layout: per layer, K and V are each (n_kv_heads, n_ctx, head_dim), row-major: one KV head's
/// keys for all positions are contiguous, so attention streams them. `write` takes the projection
/// layout (M, n_kv_heads, head_dim) and scatters it.
///
/// Shapes: n_layers x 2 x (n_kv_heads, n_ctx, head_dim) elements of `Element::storage_type`;
/// memory is exactly 2 * n_layers * n_ctx * n_kv_heads * head_dim * sizeof(storage_type) bytes,
/// allocated (zeroed) in the constructor and never again.
///
/// Fill state: each layer has a length, the number of leading positions written; `write` may
/// overwrite or extend ([pos, pos + M) with pos <= length), never leave a gap; `clear` and
/// `truncate` shorten it without touching memory. Attention reads only below the length.
///
/// Thread safety: const members may run concurrently; `write` to distinct layers may too.
///
/// Source: the KV cache of autoregressive decoding (Pope et al., "Efficiently Scaling
/// Transformer Inference", arXiv:2211.05102); llama.cpp's llama_kv_cache (f16 by default).
template <kv_element Element = kv_f32>
class kv_cache {
 public:
  using element_type = Element;                         ///< the element policy
  using storage_type = typename Element::storage_type;  ///< one stored element

  /// Allocates the cache.
  ///
  /// throws lowbit::error{errc::invalid_argument} if any extent is 0.
  kv_cache(std::size_t n_layers, std::size_t n_ctx, std::size_t n_kv_heads, std::size_t head_dim)
      : n_layers_(n_layers), n_ctx_(n_ctx), n_kv_heads_(n_kv_heads), head_dim_(head_dim) {
    detail::check_positive("kv_cache", "n_layers", n_layers);
    detail::check_positive("kv_cache", "n_ctx", n_ctx);
    detail::check_positive("kv_cache", "n_kv_heads", n_kv_heads);
    detail::check_positive("kv_cache", "head_dim", head_dim);
    k_.assign(n_layers * layer_size(), storage_type{});
    v_.assign(n_layers * layer_size(), storage_type{});
    length_.assign(n_layers, 0);
  }

  [[nodiscard]] std::size_t n_layers() const noexcept { return n_layers_; }      ///< layers held
  [[nodiscard]] std::size_t n_ctx() const noexcept { return n_ctx_; }            ///< positions per layer
  [[nodiscard]] std::size_t n_kv_heads() const noexcept { return n_kv_heads_; }  ///< KV heads
  [[nodiscard]] std::size_t head_dim() const noexcept { return head_dim_; }      ///< elements per head
  /// Bytes held by K and V together.
  [[nodiscard]] std::size_t bytes() const noexcept { return (k_.size() + v_.size()) * sizeof(storage_type); }

  /// Positions [0, length) of `layer` hold written data.
  ///
  /// throws lowbit::error{errc::out_of_range} if layer >= n_layers().
  [[nodiscard]] std::size_t length(std::size_t layer) const {
    check_layer("length", layer);
    return length_[layer];
  }

  /// Stores the keys and values of M tokens at positions [pos, pos + M) of `layer`, encoding to
  /// `storage_type`; the layer's length becomes max(length, pos + M).
  ///
  /// Shapes: `k: (M, n_kv_heads, head_dim)`, `v: (M, n_kv_heads, head_dim)`, row-major f32 (K
  /// after RoPE).
  ///
  /// throws lowbit::error{errc::shape_mismatch} if k or v does not hold M * n_kv_heads * head_dim
  /// elements; errc::out_of_range if layer >= n_layers(), if pos + M > n_ctx() (naming pos, M and
  /// n_ctx), or if pos > length(layer) (a gap). Nothing is written when it throws.
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
    for (std::size_t m = 0; m < M; ++m) {
      for (std::size_t g = 0; g < n_kv_heads_; ++g) {
        const std::size_t src = m * row + g * head_dim_;
        const std::size_t dst = offset(layer, g, pos + m);
        for (std::size_t d = 0; d < head_dim_; ++d) {
          k_[dst + d] = Element::encode(k[src + d]);
          v_[dst + d] = Element::encode(v[src + d]);
        }
      }
    }
    length_[layer] = std::max(length_[layer], pos + M);
  }

  /// Forgets every position of every layer (lengths become 0); memory is kept, not zeroed.
  void clear() noexcept { std::fill(length_.begin(), length_.end(), std::size_t{0}); }

  /// Keeps positions [0, n) of every layer: length becomes min(length, n). For rewinding.
  void truncate(std::size_t n) noexcept {
    for (auto& len : length_) len = std::min(len, n);
  }

  /// Keys of one KV head: (n_ctx, head_dim), row-major; rows >= length(layer) are stale.
  ///
  /// throws lowbit::error{errc::out_of_range} if layer >= n_layers() or kv_head >= n_kv_heads().
  [[nodiscard]] std::span<const storage_type> keys(std::size_t layer, std::size_t kv_head) const {
    check_head("keys", layer, kv_head);
    return {k_.data() + offset(layer, kv_head, 0), n_ctx_ * head_dim_};
  }

  /// Values of one KV head: (n_ctx, head_dim), row-major; rows >= length(layer) are stale.
  ///
  /// throws lowbit::error{errc::out_of_range} if layer >= n_layers() or kv_head >= n_kv_heads().
  [[nodiscard]] std::span<const storage_type> values(std::size_t layer, std::size_t kv_head) const {
    check_head("values", layer, kv_head);
    return {v_.data() + offset(layer, kv_head, 0), n_ctx_ * head_dim_};
  }

 private:
  [[nodiscard]] std::size_t layer_size() const noexcept { return n_kv_heads_ * n_ctx_ * head_dim_; }
  [[nodiscard]] std::size_t offset(std::size_t layer, std::size_t g, std::size_t p) const noexcept {
    return layer * layer_size() + (g * n_ctx_ + p) * head_dim_;
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
  std::vector<storage_type> k_;      // (n_layers, n_kv_heads, n_ctx, head_dim)
  std::vector<storage_type> v_;      // (n_layers, n_kv_heads, n_ctx, head_dim)
  std::vector<std::size_t> length_;  // (n_layers)
};

}  // namespace lowbit::nn
