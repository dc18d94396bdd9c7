// SPDX-License-Identifier: Apache-2.0
// Copyright lowbit contributors
#pragma once

#include <cstddef>
#include <tuple>
#include <utility>

#include "lowbit/graph/layer.hpp"

namespace lowbit::graph {

/// Layers applied one after another: forward(x) = L_n(...L_1(L_0(x))). The layers live in a
/// `std::tuple`, so the chain is a compile-time structure (no virtual calls, every call inlinable)
/// and each layer is reached by a compile-time index: `net[layer_index<0>]` (any type with a static
/// `value`, such as `std::integral_constant<std::size_t, 0>`, works as the index).
///
/// When the last layer can add its output to a residual (`accumulating_layer`), so can the chain:
/// `accumulate(x, residual, ctx)` runs the others on x, then the last one into `residual`.
template <layer... Layers>
class sequential_layer {
 public:
  explicit sequential_layer(Layers... layers) : layers_(std::move(layers)...) {}

  void forward(activation& x, context& ctx) {
    std::apply([&](auto&... l) { (l.forward(x, ctx), ...); }, layers_);
  }

  /// residual <- residual + this(x); x is overwritten with the input of the last layer.
  void accumulate(activation& x, activation& residual, context& ctx)
  requires(sizeof...(Layers) > 0 && accumulating_layer<std::tuple_element_t<sizeof...(Layers) - 1, std::tuple<Layers...>>>)
  {
    [&]<std::size_t... I>(std::index_sequence<I...>) {
      (std::get<I>(layers_).forward(x, ctx), ...);
    }(std::make_index_sequence<sizeof...(Layers) - 1>{});
    std::get<sizeof...(Layers) - 1>(layers_).accumulate(x, residual, ctx);
  }

  /// The layer at compile-time index I.
  template <class I>
  auto& operator[](I) noexcept {
    return std::get<I::value>(layers_);
  }
  template <class I>
  const auto& operator[](I) const noexcept {
    return std::get<I::value>(layers_);
  }
  static constexpr std::size_t size = sizeof...(Layers);

 private:
  std::tuple<Layers...> layers_;
};

/// Builds a sequential_layer from layers (moved in).
template <layer... Layers>
sequential_layer<Layers...> sequential(Layers... layers) {
  return sequential_layer<Layers...>(std::move(layers)...);
}

}  // namespace lowbit::graph
