// SPDX-License-Identifier: Apache-2.0
// Copyright lowbit contributors
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <span>

#include "lowbit/core/parallel.hpp"
#include "lowbit/nn/detail/checks.hpp"
#include "lowbit/nn/detail/map.hpp"
#include "lowbit/nn/detail/simd.hpp"

namespace lowbit::nn {

namespace detail {

inline constexpr float sqrt_2_over_pi = 0.79788456080286535587989211986876f;
inline constexpr float gelu_coef_a = 0.044715f;
inline constexpr float inv_sqrt_2 = 0.70710678118654752440084436210485f;

inline batch_f32 silu(const batch_f32& x) noexcept { return x / (batch_f32(1.0f) + xsimd::exp(-x)); }

}  // namespace detail

/// Sigmoid-weighted linear unit, elementwise.
///
/// `y = x * sigmoid(x) = x / (1 + exp(-x))`.
///
/// Shapes: `x: (n)`, `y: (n)`, any n (treat a matrix as its n = rows * cols elements).
/// Units: those of x. exp by `xsimd::exp` in f32; x -> -inf gives -0, x -> +inf gives x.
///
/// throws lowbit::error{errc::shape_mismatch} if x and y differ in size; errc::invalid_argument
/// if t.count < 1.
///
/// No allocation. `y` may be `x`; any other overlap is undefined.
///
/// Source: Elfwing, Uchibe & Doya, "Sigmoid-Weighted Linear Units", arXiv:1702.03118
/// (also Hendrycks & Gimpel's SiLU, arXiv:1606.08415); ggml's ggml_silu_f32.
inline void silu(std::span<const float> x, std::span<float> y, threads t = {}) {
  detail::map1("silu", x, y, t, [](const detail::batch_f32& v) { return detail::silu(v); });
}

/// Gated linear unit with a SiLU gate, as in LLaMA's feed-forward block.
///
/// `out = silu(gate) * up = gate / (1 + exp(-gate)) * up`.
///
/// Shapes: `gate: (n)`, `up: (n)`, `out: (n)` (for a block: (M, n_ff) each, flattened).
/// Units: those of gate times those of up.
///
/// throws lowbit::error{errc::shape_mismatch} if up or out differ in size from gate, naming both;
/// errc::invalid_argument if t.count < 1.
///
/// No allocation. `out` may be `gate` or `up`; any other overlap is undefined.
///
/// Source: Shazeer, "GLU Variants Improve Transformer", arXiv:2002.05202; ggml's
/// ggml_vec_swiglu_f32.
inline void swiglu(std::span<const float> gate, std::span<const float> up, std::span<float> out, threads t = {}) {
  detail::check_same_extent("swiglu", "gate", gate.size(), "up", up.size());
  detail::check_same_extent("swiglu", "gate", gate.size(), "out", out.size());
  detail::map2(gate.data(), up.data(), out.data(), gate.size(), t,
               [](const detail::batch_f32& g, const detail::batch_f32& u) { return detail::silu(g) * u; });
}

/// Gaussian error linear unit, tanh approximation, elementwise.
///
/// `y = 0.5 * x * (1 + tanh(sqrt(2 / pi) * (x + 0.044715 * x^3)))`.
///
/// Shapes: `x: (n)`, `y: (n)`. Units: those of x. tanh by `xsimd::tanh` in f32 (ggml by default
/// reads an f16 table instead; this is the formula itself).
///
/// throws lowbit::error{errc::shape_mismatch} if x and y differ in size; errc::invalid_argument
/// if t.count < 1. No allocation; `y` may be `x`.
///
/// Source: Hendrycks & Gimpel, "Gaussian Error Linear Units (GELUs)", arXiv:1606.08415.
inline void gelu_tanh(std::span<const float> x, std::span<float> y, threads t = {}) {
  detail::map1("gelu_tanh", x, y, t, [](const detail::batch_f32& v) {
    using b = detail::batch_f32;
    const b inner = b(detail::sqrt_2_over_pi) * v * (b(1.0f) + b(detail::gelu_coef_a) * v * v);
    return b(0.5f) * v * (b(1.0f) + xsimd::tanh(inner));
  });
}

/// Gaussian error linear unit, exact (erf) form, elementwise.
///
/// `y = 0.5 * x * (1 + erf(x / sqrt(2)))`.
///
/// Shapes: `x: (n)`, `y: (n)`. Units: those of x. erf by `xsimd::erf` in f32.
///
/// throws lowbit::error{errc::shape_mismatch} if x and y differ in size; errc::invalid_argument
/// if t.count < 1. No allocation; `y` may be `x`.
///
/// Source: Hendrycks & Gimpel, "Gaussian Error Linear Units (GELUs)", arXiv:1606.08415.
inline void gelu_erf(std::span<const float> x, std::span<float> y, threads t = {}) {
  detail::map1("gelu_erf", x, y, t, [](const detail::batch_f32& v) {
    using b = detail::batch_f32;
    return b(0.5f) * v * (b(1.0f) + xsimd::erf(v * b(detail::inv_sqrt_2)));
  });
}

/// Rectified linear unit, elementwise: `y = max(x, 0)`.
///
/// Shapes: `x: (n)`, `y: (n)`. Units: those of x.
///
/// throws lowbit::error{errc::shape_mismatch} if x and y differ in size; errc::invalid_argument
/// if t.count < 1. No allocation; `y` may be `x`.
///
/// Source: Nair & Hinton, "Rectified Linear Units Improve Restricted Boltzmann Machines", ICML 2010.
inline void relu(std::span<const float> x, std::span<float> y, threads t = {}) {
  detail::map1("relu", x, y, t, [](const detail::batch_f32& v) { return xsimd::max(v, detail::batch_f32(0.0f)); });
}

namespace reference {

/// Scalar twin of `lowbit::nn::silu` (`std::exp`); same shapes, errors and aliasing.
inline void silu(std::span<const float> x, std::span<float> y) {
  detail::check_same_extent("silu", "x", x.size(), "y", y.size());
  for (std::size_t i = 0; i < x.size(); ++i) y[i] = x[i] / (1.0f + std::exp(-x[i]));
}

/// Scalar twin of `lowbit::nn::swiglu` (`std::exp`); same shapes, errors and aliasing.
inline void swiglu(std::span<const float> gate, std::span<const float> up, std::span<float> out) {
  detail::check_same_extent("swiglu", "gate", gate.size(), "up", up.size());
  detail::check_same_extent("swiglu", "gate", gate.size(), "out", out.size());
  for (std::size_t i = 0; i < gate.size(); ++i) out[i] = gate[i] / (1.0f + std::exp(-gate[i])) * up[i];
}

/// Scalar twin of `lowbit::nn::gelu_tanh` (`std::tanh`); same shapes, errors and aliasing.
inline void gelu_tanh(std::span<const float> x, std::span<float> y) {
  detail::check_same_extent("gelu_tanh", "x", x.size(), "y", y.size());
  for (std::size_t i = 0; i < x.size(); ++i) {
    const float v = x[i];
    y[i] = 0.5f * v * (1.0f + std::tanh(detail::sqrt_2_over_pi * v * (1.0f + detail::gelu_coef_a * v * v)));
  }
}

/// Scalar twin of `lowbit::nn::gelu_erf` (`std::erf`); same shapes, errors and aliasing.
inline void gelu_erf(std::span<const float> x, std::span<float> y) {
  detail::check_same_extent("gelu_erf", "x", x.size(), "y", y.size());
  for (std::size_t i = 0; i < x.size(); ++i) y[i] = 0.5f * x[i] * (1.0f + std::erf(x[i] * detail::inv_sqrt_2));
}

/// Scalar twin of `lowbit::nn::relu`; same shapes, errors and aliasing.
inline void relu(std::span<const float> x, std::span<float> y) {
  detail::check_same_extent("relu", "x", x.size(), "y", y.size());
  for (std::size_t i = 0; i < x.size(); ++i) y[i] = std::max(x[i], 0.0f);
}

}  // namespace reference

}  // namespace lowbit::nn
