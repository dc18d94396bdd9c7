// SPDX-License-Identifier: Apache-2.0
// Copyright lowbit contributors
#pragma once

#include <cstddef>
#include <span>

#include "lowbit/core/parallel.hpp"
#include "lowbit/nn/detail/checks.hpp"
#include "lowbit/nn/detail/map.hpp"

namespace lowbit::nn {

/// Elementwise sum, for residual connections: `out[i] = a[i] + b[i]`.
///
/// Shapes: `a: (n)`, `b: (n)`, `out: (n)` (a (M, d) activation is its n = M * d elements).
/// Units: a and b must share units; out has them.
///
/// throws lowbit::error{errc::shape_mismatch} if b or out differ in size from a, naming both;
/// errc::invalid_argument if t.count < 1.
///
/// No allocation. `out` may be `a` or `b` (in-place residual `add(h, x, h)`); any other overlap is
/// undefined.
///
/// Source: the residual connection of He et al., arXiv:1512.03385; ggml's ggml_add.
inline void add(std::span<const float> a, std::span<const float> b, std::span<float> out, threads t = {}) {
  detail::check_same_extent("add", "a", a.size(), "b", b.size());
  detail::check_same_extent("add", "a", a.size(), "out", out.size());
  detail::map2(a.data(), b.data(), out.data(), a.size(), t,
               [](const detail::batch_f32& x, const detail::batch_f32& y) { return x + y; });
}

/// Elementwise product: `out[i] = a[i] * b[i]`.
///
/// Shapes: `a: (n)`, `b: (n)`, `out: (n)`. Units: those of a times those of b.
///
/// throws lowbit::error{errc::shape_mismatch} if b or out differ in size from a, naming both;
/// errc::invalid_argument if t.count < 1.
///
/// No allocation. `out` may be `a` or `b`; any other overlap is undefined.
///
/// Source: ggml's ggml_mul (same-shape case).
inline void mul(std::span<const float> a, std::span<const float> b, std::span<float> out, threads t = {}) {
  detail::check_same_extent("mul", "a", a.size(), "b", b.size());
  detail::check_same_extent("mul", "a", a.size(), "out", out.size());
  detail::map2(a.data(), b.data(), out.data(), a.size(), t,
               [](const detail::batch_f32& x, const detail::batch_f32& y) { return x * y; });
}

/// Multiplication by a scalar: `y[i] = alpha * x[i]`.
///
/// Shapes: `x: (n)`, `y: (n)`. Units: those of x times those of alpha.
///
/// throws lowbit::error{errc::shape_mismatch} if x and y differ in size; errc::invalid_argument
/// if t.count < 1.
///
/// No allocation. `y` may be `x`; any other overlap is undefined.
///
/// Source: ggml's ggml_scale.
inline void scale(std::span<const float> x, float alpha, std::span<float> y, threads t = {}) {
  detail::map1("scale", x, y, t, [alpha](const detail::batch_f32& v) { return detail::batch_f32(alpha) * v; });
}

}  // namespace lowbit::nn
