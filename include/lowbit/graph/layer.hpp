// SPDX-License-Identifier: Apache-2.0
// Copyright lowbit contributors
#pragma once

#include <cstddef>
#include <type_traits>

#include "lowbit/graph/activation.hpp"
#include "lowbit/graph/context.hpp"

namespace lowbit::graph {

/// A layer: anything with `forward(activation& x, context& ctx)` that replaces x with the layer's
/// output (it may change x's column count). Layers compose with sequential, residual and repeat.
template <class L>
concept layer = requires(L& l, activation& x, context& ctx) {
  l.forward(x, ctx);
};

/// A layer that can also add its output to a residual held elsewhere:
/// `accumulate(x, residual, ctx)` does `residual += layer(x)` (x may be overwritten), so that a
/// residual connection ending in a projection costs no copy and no extra add (the GEMM's
/// accumulate epilogue).
template <class L>
concept accumulating_layer = layer<L> && requires(L& l, activation& x, activation& residual, context& ctx) {
  l.accumulate(x, residual, ctx);
};

/// A compile-time index for `sequential_layer::operator[]`: `net[layer_index<1>]`.
template <std::size_t I>
inline constexpr std::integral_constant<std::size_t, I> layer_index{};

}  // namespace lowbit::graph
