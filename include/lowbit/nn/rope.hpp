// SPDX-License-Identifier: Apache-2.0
// Copyright lowbit contributors
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <span>
#include <string>
#include <vector>

#include "lowbit/core/error.hpp"
#include "lowbit/core/parallel.hpp"
#include "lowbit/nn/detail/checks.hpp"

namespace lowbit::nn {

/// Which dimensions of a head RoPE rotates together.
enum class rope_mode {
  normal,  ///< adjacent pairs (2i, 2i + 1): ggml's GGML_ROPE_TYPE_NORMAL, used for LLaMA-family GGUFs
  neox,    ///< pairs (i, i + n_rot / 2): GPT-NeoX / Hugging Face `rotate_half`, ggml's GGML_ROPE_TYPE_NEOX
};

/// How the rotation angles `pos * theta_base^(-2i / n_rot)` are computed.
enum class rope_recipe {
  /// ggml's float recipe (ggml-cpu ops.cpp, ggml_rope_cache_init): `theta_scale =
  /// powf(theta_base, -2.0f / n_rot)`, `theta_0 = float(pos)`, `theta_{i+1} = theta_i * theta_scale`
  /// in float, then `cosf` / `sinf`. Replicates llama.cpp's rounding, so logits track its logits.
  /// The rounded angles put cos / sin off the exact values by up to ~7e-8 * pos (measured with
  /// theta_base 1e5, n_rot 64: 2.8e-4 below pos 4096, 5.6e-4 below 8192).
  ggml,
  /// Angles in double (`pos * pow(theta_base, -2i / n_rot)`), cos and sin in double, rounded to
  /// float once: the nearest float to the exact rotation.
  exact,
};

/// Every decision of a rotary position embedding, in one bundle.
struct rope_config {
  std::size_t n_rot = 0;                   ///< rotated dimensions per head: even, <= head_dim
  float theta_base = 10000.0f;             ///< frequency base (SmolLM2: 100000)
  rope_mode mode = rope_mode::normal;      ///< pairing of the rotated dimensions
  rope_recipe recipe = rope_recipe::ggml;  ///< how angles are computed
};

namespace detail {

inline void check_rope_config(const rope_config& cfg) {
  check(cfg.n_rot > 0 && cfg.n_rot % 2 == 0, errc::invalid_argument,
        [&] { return "rope: n_rot must be even and > 0, got " + std::to_string(cfg.n_rot); });
  check(cfg.theta_base > 0.0f && std::isfinite(cfg.theta_base), errc::invalid_argument,
        [&] { return "rope: theta_base must be finite and > 0, got " + std::to_string(cfg.theta_base); });
}

/// Writes cos and sin of the n_rot / 2 angles of position `pos` under `cfg.recipe`.
inline void rope_angles(const rope_config& cfg, std::size_t pos, float* cos_out, float* sin_out) {
  const std::size_t half = cfg.n_rot / 2;
  if (cfg.recipe == rope_recipe::ggml) {
    const float theta_scale = std::pow(cfg.theta_base, -2.0f / static_cast<float>(cfg.n_rot));
    float theta = static_cast<float>(pos);
    for (std::size_t i = 0; i < half; ++i) {
      cos_out[i] = std::cos(theta);
      sin_out[i] = std::sin(theta);
      theta *= theta_scale;
    }
  } else {
    for (std::size_t i = 0; i < half; ++i) {
      const double angle =
          static_cast<double>(pos) *
          std::pow(static_cast<double>(cfg.theta_base), -2.0 * static_cast<double>(i) / static_cast<double>(cfg.n_rot));
      cos_out[i] = static_cast<float>(std::cos(angle));
      sin_out[i] = static_cast<float>(std::sin(angle));
    }
  }
}

/// Rotates one head (head_dim floats) by the angles whose cos / sin are given (n_rot / 2 each):
/// (x0, x1) -> (fma(x0, c, -(x1 s)), fma(x0, s, x1 c)).
inline void rope_head(float* row, const float* c, const float* s, std::size_t n_rot, rope_mode mode) noexcept {
  const std::size_t half = n_rot / 2;
  const std::size_t stride = mode == rope_mode::normal ? 2 : 1;     // index step from pair to pair
  const std::size_t offset = mode == rope_mode::normal ? 1 : half;  // partner of element k
  for (std::size_t i = 0; i < half; ++i) {
    float* p = row + i * stride;
    const float x0 = p[0];
    const float x1 = p[offset];
    // One fused multiply-add each, the forms GCC contracts ggml's rotate_pairs into (llama.cpp's
    // CPU build): bit-identical results whatever -ffp-contract this is compiled with.
    p[0] = std::fma(x0, c[i], -(x1 * s[i]));
    p[offset] = std::fma(x0, s[i], x1 * c[i]);
  }
}

inline void check_rope_args(std::span<float> x, std::size_t n_tokens, std::size_t n_heads, std::size_t head_dim,
                            const rope_config& cfg) {
  check_extent("rope", "x", x.size(), n_tokens * n_heads * head_dim, "n_tokens * n_heads * head_dim");
  check(cfg.n_rot <= head_dim, errc::shape_mismatch, [&] {
    return "rope: n_rot = " + std::to_string(cfg.n_rot) + " exceeds head_dim = " + std::to_string(head_dim);
  });
}

}  // namespace detail

/// Precomputed cos and sin of the RoPE angles for positions [0, n_ctx).
///
/// `cos(pos)[i] = cos(pos * theta_base^(-2i / n_rot))`, likewise `sin`, for i < n_rot / 2, computed
/// by `config().recipe`.
///
/// Shapes: two f32 tables of (n_ctx, n_rot / 2), row-major. Units: radians in, unitless out.
/// Memory: n_ctx * n_rot * 4 bytes (2 MiB for n_ctx 8192, n_rot 64), allocated once in the
/// constructor. Immutable afterwards: share one table across layers and threads.
///
/// Source: Su et al., "RoFormer: Enhanced Transformer with Rotary Position Embedding",
/// arXiv:2104.09864; angle recipe of ggml-cpu ops.cpp (ggml_rope_cache_init).
class rope_table {
 public:
  /// Builds the table.
  ///
  /// throws lowbit::error{errc::invalid_argument} if n_ctx == 0, n_rot is odd or 0, or
  /// theta_base is not finite and > 0.
  rope_table(const rope_config& cfg, std::size_t n_ctx) : cfg_(cfg), n_ctx_(n_ctx) {
    detail::check_rope_config(cfg);
    detail::check_positive("rope_table", "n_ctx", n_ctx);
    const std::size_t half = cfg.n_rot / 2;
    cos_.resize(n_ctx * half);
    sin_.resize(n_ctx * half);
    for (std::size_t p = 0; p < n_ctx; ++p) detail::rope_angles(cfg, p, cos_.data() + p * half, sin_.data() + p * half);
  }

  /// The configuration the table was built for.
  [[nodiscard]] const rope_config& config() const noexcept { return cfg_; }
  /// Number of positions covered: [0, n_ctx).
  [[nodiscard]] std::size_t n_ctx() const noexcept { return n_ctx_; }
  /// cos of the n_rot / 2 angles of `pos`. Precondition: pos < n_ctx().
  [[nodiscard]] std::span<const float> cos(std::size_t pos) const noexcept {
    return {cos_.data() + pos * (cfg_.n_rot / 2), cfg_.n_rot / 2};
  }
  /// sin of the n_rot / 2 angles of `pos`. Precondition: pos < n_ctx().
  [[nodiscard]] std::span<const float> sin(std::size_t pos) const noexcept {
    return {sin_.data() + pos * (cfg_.n_rot / 2), cfg_.n_rot / 2};
  }

 private:
  rope_config cfg_;
  std::size_t n_ctx_;
  std::vector<float> cos_;  // (n_ctx, n_rot / 2)
  std::vector<float> sin_;  // (n_ctx, n_rot / 2)
};

/// Rotary position embedding, in place, for the tokens at positions [pos, pos + n_tokens).
///
/// For token t (position p = pos + t), head h and pair i < n_rot / 2 with angle
/// `a = p * theta_base^(-2i / n_rot)` and pair (j0, j1) = (2i, 2i + 1) in `rope_mode::normal` or
/// (i, i + n_rot / 2) in `rope_mode::neox`:
/// `x'[j0] = x[j0] cos a - x[j1] sin a`, `x'[j1] = x[j0] sin a + x[j1] cos a`.
/// Dimensions [n_rot, head_dim) are left unchanged.
///
/// Shapes: `x: (n_tokens, n_heads, head_dim)`, row-major (a Q or K projection output).
///
/// throws lowbit::error{errc::shape_mismatch} if x does not hold n_tokens * n_heads * head_dim
/// elements or table.config().n_rot > head_dim; errc::out_of_range if pos + n_tokens >
/// table.n_ctx(), naming both; errc::invalid_argument if t.count < 1.
///
/// No allocation. Tokens are split over `t` threads when there are enough of them.
///
/// Source: Su et al., arXiv:2104.09864; pairing and angles as ggml-cpu ops.cpp
/// (ggml_compute_forward_rope_flt, rotate_pairs).
inline void rope(std::span<float> x, std::size_t n_tokens, std::size_t n_heads, std::size_t head_dim, std::size_t pos,
                 const rope_table& table, threads t = {}) {
  const rope_config& cfg = table.config();
  detail::check_rope_args(x, n_tokens, n_heads, head_dim, cfg);
  check(pos + n_tokens <= table.n_ctx(), errc::out_of_range, [&] {
    return "rope: positions [pos = " + std::to_string(pos) + ", pos + n_tokens = " + std::to_string(pos + n_tokens) +
           ") exceed the table's n_ctx = " + std::to_string(table.n_ctx());
  });
  const std::size_t token_size = n_heads * head_dim;
  const std::size_t grain = token_size == 0 ? 1 : std::max<std::size_t>(1, 16384 / token_size);
  parallel_for(t, n_tokens, grain, [&](std::size_t begin, std::size_t end) {
    for (std::size_t tok = begin; tok < end; ++tok) {
      const float* c = table.cos(pos + tok).data();
      const float* s = table.sin(pos + tok).data();
      for (std::size_t h = 0; h < n_heads; ++h) {
        detail::rope_head(x.data() + tok * token_size + h * head_dim, c, s, cfg.n_rot, cfg.mode);
      }
    }
  });
}

namespace reference {

/// Scalar twin of `lowbit::nn::rope` without a table: computes each position's angles on the fly
/// with `cfg.recipe`. Same shapes and rotation; single-threaded; allocates n_rot floats.
///
/// throws lowbit::error{errc::invalid_argument} for an invalid cfg (see rope_table) and
/// errc::shape_mismatch as `lowbit::nn::rope`.
inline void rope(std::span<float> x, std::size_t n_tokens, std::size_t n_heads, std::size_t head_dim, std::size_t pos,
                 const rope_config& cfg) {
  detail::check_rope_config(cfg);
  detail::check_rope_args(x, n_tokens, n_heads, head_dim, cfg);
  std::vector<float> c(cfg.n_rot / 2), s(cfg.n_rot / 2);
  for (std::size_t tok = 0; tok < n_tokens; ++tok) {
    detail::rope_angles(cfg, pos + tok, c.data(), s.data());
    for (std::size_t h = 0; h < n_heads; ++h) {
      float* row = x.data() + (tok * n_heads + h) * head_dim;
      const std::size_t half = cfg.n_rot / 2;
      for (std::size_t i = 0; i < half; ++i) {
        const std::size_t j0 = cfg.mode == rope_mode::normal ? 2 * i : i;
        const std::size_t j1 = cfg.mode == rope_mode::normal ? 2 * i + 1 : i + half;
        const float x0 = row[j0];
        const float x1 = row[j1];
        row[j0] = x0 * c[i] - x1 * s[i];
        row[j1] = x0 * s[i] + x1 * c[i];
      }
    }
  }
}

}  // namespace reference

}  // namespace lowbit::nn
