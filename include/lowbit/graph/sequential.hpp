// SPDX-License-Identifier: Apache-2.0
// Copyright lowbit contributors
#pragma once

#include <boost/hana.hpp>
#include <cstddef>
#include <utility>

#include "lowbit/graph/layer.hpp"

namespace lowbit::graph {

/// Layers applied one after another: forward(x) = L_n(...L_1(L_0(x))). The layers live in a
/// `boost::hana::tuple`, so the chain is a compile-time structure (no virtual calls) and each
/// layer is reached by a compile-time index: `net[0_c]` (with `using namespace boost::hana::literals`).
template <layer... Layers>
class sequential_layer {
 public:
  explicit sequential_layer(Layers... layers) : layers_(std::move(layers)...) {}

  void forward(activation& x, context& ctx) {
    boost::hana::for_each(layers_, [&](auto& l) { l.forward(x, ctx); });
  }

  /// The layer at compile-time index I.
  template <class I>
  auto& operator[](I index) noexcept {
    return layers_[index];
  }
  template <class I>
  const auto& operator[](I index) const noexcept {
    return layers_[index];
  }
  static constexpr std::size_t size = sizeof...(Layers);

 private:
  boost::hana::tuple<Layers...> layers_;
};

/// Builds a sequential_layer from layers (moved in).
template <layer... Layers>
sequential_layer<Layers...> sequential(Layers... layers) {
  return sequential_layer<Layers...>(std::move(layers)...);
}

}  // namespace lowbit::graph
