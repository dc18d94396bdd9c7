// SPDX-License-Identifier: Apache-2.0
// Copyright lowbit contributors
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
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

/// exp(x) in f32, lane by lane, by the polynomial that ggml vectorises (ggml-cpu vec.h,
/// `ggml_v_expf`, after ARM's optimized-routines expf): n = rint(x / ln 2) through the 1.5 * 2^23
/// shifter, b = x - n ln 2 with ln 2 in two parts, j = a degree-5 polynomial in b (Horner pairs),
/// result j * 2^n; |n| > 192 gives 0 (n < 0) or +inf. Every step is one f32 operation (fused
/// where ggml fuses), so the results are bit-identical to ggml's AVX-512 / AVX2 forms; within
/// 1.5 ulp of exp. j * 2^n is applied as two exact-range power-of-two products so that
/// subnormal and overflowing results round once, as `vscalefps` does.
inline batch_f32 exp_ggml(const batch_f32& x) noexcept {
  using ibatch = xsimd::batch<std::int32_t, batch_f32::arch_type>;
  const batch_f32 shifter(0x1.8p23f);
  const batch_f32 n = simd_detail::fmadd(x, batch_f32(0x1.715476p+0f), shifter) - shifter;
  const batch_f32 b = simd_detail::fmadd(-n, batch_f32(0x1.7f7d1cp-20f), simd_detail::fmadd(-n, batch_f32(0x1.62e4p-1f), x));
  const batch_f32 u = b * b;
  const batch_f32 j = simd_detail::fmadd(
      simd_detail::fmadd(simd_detail::fmadd(batch_f32(0x1.0e4020p-7f), b, batch_f32(0x1.573e2ep-5f)), u,
                 simd_detail::fmadd(batch_f32(0x1.555e66p-3f), b, batch_f32(0x1.fffdb6p-2f))),
      u, simd_detail::fmadd(batch_f32(0x1.ffffecp-1f), b, batch_f32(1.0f)));
  const batch_f32 big(192.0f);
  const batch_f32 nc = xsimd::min(xsimd::max(n, -big), big);  // keeps the exponent arithmetic in range
  const ibatch ni = xsimd::to_int(nc);
  const ibatch n1 = ni >> 1, n2 = ni - n1;  // |n1|, |n2| <= 96: 2^n1 and 2^n2 are normal floats
  const auto pow2 = [](const ibatch& e) { return xsimd::bitwise_cast<batch_f32>((e + ibatch(127)) << 23); };
  const batch_f32 res = (j * pow2(n1)) * pow2(n2);
  const batch_f32 out_of_range = xsimd::select(n <= batch_f32(0.0f), batch_f32(0.0f),
                                               batch_f32(std::numeric_limits<float>::infinity()));
  return xsimd::select(xsimd::abs(n) > big, out_of_range, res);
}

/// x / (1 + exp(-x)) with `exp_ggml`, as ggml's `ggml_v_silu` (-x as 0 - x).
inline batch_f32 silu(const batch_f32& x) noexcept {
  return x / (batch_f32(1.0f) + exp_ggml(batch_f32(0.0f) - x));
}

}  // namespace detail

/// Sigmoid-weighted linear unit, elementwise.
///
/// `y = x * sigmoid(x) = x / (1 + exp(-x))`.
///
/// Shapes: `x: (n)`, `y: (n)`, any n (treat a matrix as its n = rows * cols elements).
/// Units: those of x. exp by ggml's f32 polynomial (`detail::exp_ggml`), so y is bit-identical to
/// llama.cpp's CPU `ggml_v_silu`; x <= -88.8 gives -0 (exp(-x) overflows), x -> +inf gives x.
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
/// Units: those of gate times those of up. `(gate / (1 + exp(-gate))) * up` with ggml's exp
/// polynomial (`detail::exp_ggml`): bit-identical to ggml_vec_swiglu_f32 wherever ggml takes its
/// SIMD path (all of a row whose length is a multiple of 16; ggml's scalar row tail uses libm expf).
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
