// SPDX-License-Identifier: Apache-2.0
// Copyright lowbit contributors
#pragma once

#include "lowbit/graph/activation.hpp"
#include "lowbit/graph/context.hpp"

namespace lowbit::graph {

/// A layer: anything with `forward(activation& x, context& ctx)` that replaces x with the layer's
/// output (it may change x's column count). Layers compose with sequential, residual and repeat.
template <class L>
concept layer = requires(L& l, activation& x, context& ctx) {
  l.forward(x, ctx);
};

}  // namespace lowbit::graph
