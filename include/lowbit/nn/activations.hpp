// SPDX-License-Identifier: Apache-2.0
// Copyright lowbit contributors
#pragma once

#include <algorithm>
#include <array>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <span>

#include "lowbit/core/fp16.hpp"
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
  const batch_f32 b =
      simd_detail::fmadd(-n, batch_f32(0x1.7f7d1cp-20f), simd_detail::fmadd(-n, batch_f32(0x1.62e4p-1f), x));
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
  const batch_f32 out_of_range =
      xsimd::select(n <= batch_f32(0.0f), batch_f32(0.0f), batch_f32(std::numeric_limits<float>::infinity()));
  return xsimd::select(xsimd::abs(n) > big, out_of_range, res);
}

/// x / (1 + exp(-x)) with `exp_ggml`, as ggml's `ggml_v_silu` (-x as 0 - x).
inline batch_f32 silu(const batch_f32& x) noexcept {
  return simd_detail::div(x, batch_f32(1.0f) + exp_ggml(batch_f32(0.0f) - x));
}

/// The tanh GELU of one float in f32 with ggml's operation order, `ggml_gelu_f32` (ggml-cpu
/// vec.h) as GCC compiles it for an FMA target (llama.cpp's default -march=native build):
/// `inner = (sqrt(2/pi) * x) * fma(0.044715 * x, x, 1)`, `y = (0.5 * x) * (1 + tanhf(inner))`.
/// The one fused multiply-add is spelt out, so the result does not depend on this file's
/// -ffp-contract; tanhf is the C library's.
inline float gelu_tanh_ggml(float x) noexcept {
  const float inner = (sqrt_2_over_pi * x) * std::fma(gelu_coef_a * x, x, 1.0f);
  return (0.5f * x) * (1.0f + std::tanh(inner));
}

/// ggml's GELU table (`ggml_table_gelu_f16`, filled by ggml_cpu_init): for every binary16 bit
/// pattern h, `f16(gelu_tanh_ggml(f32(h)))`, held here as the f32 value of that binary16 (exact),
/// so a lookup needs no conversion back. 256 KiB, built on first use (65536 tanhf calls, about a
/// millisecond), thread-safe, immutable afterwards.
inline const std::array<float, 65536>& gelu_f16_table() {
  struct table {
    std::array<float, 65536> v;
    table() {
      for (std::size_t h = 0; h < v.size(); ++h) {
        v[h] = fp16_to_f32(f32_to_fp16(gelu_tanh_ggml(fp16_to_f32(static_cast<std::uint16_t>(h)))));
      }
    }
  };
  static const table t;  // built in place: no 256 KiB temporary on the caller's stack
  return t.v;
}

/// ggml's f32 GELU of one element through the table (`ggml_vec_gelu_f32` with GGML_GELU_FP16):
/// x <= -10 gives 0, x >= 10 gives x, otherwise the table entry of x rounded to binary16.
inline float gelu_tanh_table(float x, const std::array<float, 65536>& table) noexcept {
  if (x <= -10.0f) return 0.0f;
  if (x >= 10.0f) return x;
  return table[f32_to_fp16(x)];
}

/// out[i] = f(a[i], b[i]) for scalar f, split over threads in elementwise_grain blocks.
template <class ScalarFn>
void map2_scalar(const float* a, const float* b, float* out, std::size_t n, threads t, ScalarFn f) {
  parallel_for(t, n, elementwise_grain, [&](std::size_t begin, std::size_t end) {
    for (std::size_t i = begin; i < end; ++i) out[i] = f(a[i], b[i]);
  });
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
/// Shapes: `x: (n)`, `y: (n)`. Units: those of x. tanh by `xsimd::tanh` in f32: the formula
/// itself, within 1e-5 relative of it. llama.cpp's CPU backend reads a binary16 table instead
/// (3 decimal digits): `gelu_tanh_table` reproduces that bit for bit.
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

/// Gaussian error linear unit, tanh form, as llama.cpp's CPU backend computes it: through ggml's
/// binary16 table.
///
/// `y = 0` for x <= -10; `y = x` for x >= 10; otherwise `y = f16(g(f16(x)))` with
/// `g(v) = 0.5 v (1 + tanh(sqrt(2 / pi) (v + 0.044715 v^3)))` evaluated in f32 as
/// `detail::gelu_tanh_ggml` and f16(.) rounding to the nearest binary16 (ties to even).
///
/// Shapes: `x: (n)`, `y: (n)`, any n. Units: those of x. Bit-identical to ggml's
/// `ggml_vec_gelu_f32` in its default build (GGML_GELU_FP16 defined in ggml-cpu vec.h), i.e. to
/// llama.cpp's `ggml_gelu` on the CPU, with ggml built for an FMA target; for every binary16 input
/// the table equals the one llama.cpp builds (checked against libggml-cpu's
/// `ggml_table_gelu_f16`; a build without FMA differs in one entry, x = -1.999). Accuracy: the
/// two binary16 roundings cost up to 2^-11 |g(x)| + 2^-11 |x| |g'(x)| (|g'| < 1.13), about
/// 3 decimal digits; use `gelu_tanh` for the formula in f32. NaN gives NaN, -inf gives 0, +inf
/// gives +inf.
///
/// throws lowbit::error{errc::shape_mismatch} if x and y differ in size; errc::invalid_argument
/// if t.count < 1.
///
/// Allocation: the first call in a process builds the 256 KiB table (`detail::gelu_f16_table`).
/// `y` may be `x`; any other overlap is undefined.
///
/// Source: Hendrycks & Gimpel, "Gaussian Error Linear Units (GELUs)", arXiv:1606.08415; ggml-cpu
/// vec.h (ggml_vec_gelu_f32, ggml_gelu_f32) and ggml-cpu.c (the table, in ggml_cpu_init).
inline void gelu_tanh_table(std::span<const float> x, std::span<float> y, threads t = {}) {
  detail::check_same_extent("gelu_tanh_table", "x", x.size(), "y", y.size());
  const auto& table = detail::gelu_f16_table();
  detail::map2_scalar(x.data(), x.data(), y.data(), x.size(), t,
                      [&](float v, float) { return detail::gelu_tanh_table(v, table); });
}

/// Gated linear unit with a tanh-GELU gate (GeGLU), as llama.cpp's CPU backend computes it:
/// ggml's `ggml_geglu_split(gate, up)`, the feed-forward activation of Gemma 3.
///
/// `out = 0` where gate <= -10 (whatever up holds); `out = gate * up` where gate >= 10;
/// otherwise `out = T(gate) * up` with T(gate) = `gelu_tanh_table`'s value (f16(g(f16(gate)))),
/// one f32 product.
///
/// Shapes: `gate: (n)`, `up: (n)`, `out: (n)` (for a block: (M, n_ff) each, flattened).
/// Units: those of gate times those of up. Bit-identical to ggml's `ggml_vec_geglu_f32` in its
/// default build (GGML_GELU_FP16), the op that llama.cpp's build_ffn emits for LLM_FFN_GELU with
/// LLM_FFN_PAR (gate = the gate projection, up = the up projection). Accuracy as
/// `gelu_tanh_table`, times |up|. NaN in gate gives NaN; NaN or inf in up gives NaN or inf unless
/// gate <= -10, which gives 0.
///
/// throws lowbit::error{errc::shape_mismatch} if up or out differ in size from gate, naming both;
/// errc::invalid_argument if t.count < 1.
///
/// Allocation: the first GELU-table call in a process builds the table. `out` may be `gate` or
/// `up`; any other overlap is undefined.
///
/// Source: Shazeer, "GLU Variants Improve Transformer", arXiv:2002.05202 (GEGLU); ggml-cpu
/// vec.h (ggml_vec_geglu_f32), ops.cpp (ggml_compute_forward_geglu_f32); llama.cpp
/// llama-graph.cpp (build_ffn).
inline void geglu(std::span<const float> gate, std::span<const float> up, std::span<float> out, threads t = {}) {
  detail::check_same_extent("geglu", "gate", gate.size(), "up", up.size());
  detail::check_same_extent("geglu", "gate", gate.size(), "out", out.size());
  const auto& table = detail::gelu_f16_table();
  detail::map2_scalar(gate.data(), up.data(), out.data(), gate.size(), t, [&](float g, float u) {
    if (g <= -10.0f) return 0.0f;
    if (g >= 10.0f) return g * u;
    return table[f32_to_fp16(g)] * u;
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

/// Scalar twin of `lowbit::nn::gelu_tanh_table` without the table: each element is
/// f16(detail::gelu_tanh_ggml(f16(x))) (0 for x <= -10, x for x >= 10), computed directly.
/// Same shapes, errors and aliasing.
inline void gelu_tanh_table(std::span<const float> x, std::span<float> y) {
  detail::check_same_extent("gelu_tanh_table", "x", x.size(), "y", y.size());
  for (std::size_t i = 0; i < x.size(); ++i) {
    const float v = x[i];
    y[i] = v <= -10.0f  ? 0.0f
           : v >= 10.0f ? v
                        : fp16_to_f32(f32_to_fp16(detail::gelu_tanh_ggml(fp16_to_f32(f32_to_fp16(v)))));
  }
}

/// Scalar twin of `lowbit::nn::geglu` without the table (see reference::gelu_tanh_table); same
/// shapes, errors and aliasing.
inline void geglu(std::span<const float> gate, std::span<const float> up, std::span<float> out) {
  detail::check_same_extent("geglu", "gate", gate.size(), "up", up.size());
  detail::check_same_extent("geglu", "gate", gate.size(), "out", out.size());
  for (std::size_t i = 0; i < gate.size(); ++i) {
    const float g = gate[i];
    out[i] = g <= -10.0f  ? 0.0f
             : g >= 10.0f ? g * up[i]
                          : fp16_to_f32(f32_to_fp16(detail::gelu_tanh_ggml(fp16_to_f32(f32_to_fp16(g))))) * up[i];
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
