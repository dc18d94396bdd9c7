// SPDX-License-Identifier: Apache-2.0
// Copyright lowbit contributors
#pragma once

#include <cstddef>
#include <utility>
#include <vector>

#include "lowbit/graph/layer.hpp"

namespace lowbit::graph {

/// The same kind of layer repeated a run-time number of times (a transformer's blocks, whose count
/// comes from the model file): forward applies each in order and sets `ctx.repetition` to its index.
template <layer Block>
class repeat_layer {
 public:
  explicit repeat_layer(std::vector<Block> blocks) : blocks_(std::move(blocks)) {}

  void forward(activation& x, context& ctx) {
    const std::size_t outer = ctx.repetition;
    for (std::size_t i = 0; i < blocks_.size(); ++i) {
      ctx.repetition = i;
      blocks_[i].forward(x, ctx);
    }
    ctx.repetition = outer;
  }

  std::size_t size() const noexcept { return blocks_.size(); }
  Block& operator[](std::size_t i) noexcept { return blocks_[i]; }

 private:
  std::vector<Block> blocks_;
};

/// Builds `n` blocks with `make_block(i)` and repeats them.
template <class MakeBlock>
auto repeat(std::size_t n, MakeBlock&& make_block) {
  using block_type = decltype(make_block(std::size_t{0}));
  std::vector<block_type> blocks;
  blocks.reserve(n);
  for (std::size_t i = 0; i < n; ++i) blocks.push_back(make_block(i));
  return repeat_layer<block_type>(std::move(blocks));
}

}  // namespace lowbit::graph
