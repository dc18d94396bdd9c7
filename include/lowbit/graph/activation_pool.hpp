// SPDX-License-Identifier: Apache-2.0
// Copyright lowbit contributors
#pragma once

#include <utility>
#include <vector>

#include "lowbit/graph/activation.hpp"

namespace lowbit::graph {

/// Scratch activations shared by every layer of a graph: a layer borrows a buffer for the length
/// of its forward call and gives it back, so memory grows with the widest layer and the deepest
/// nesting, not with the number of layers, and a warm decode step allocates nothing.
/// Not thread-safe: one pool per concurrent forward pass.
class activation_pool {
 public:
  /// A buffer from the pool (capacity kept from earlier use), or a new empty one.
  activation take() {
    if (free_.empty()) return {};
    activation a = std::move(free_.back());
    free_.pop_back();
    return a;
  }
  /// Returns a buffer to the pool.
  void give_back(activation&& a) { free_.push_back(std::move(a)); }

 private:
  std::vector<activation> free_;
};

/// A buffer borrowed from a pool for one scope (RAII): `*b` is the activation; it goes back to
/// the pool when `b` is destroyed. With a null pool, it is a plain local activation.
class borrowed_activation {
 public:
  explicit borrowed_activation(activation_pool* pool) : pool_(pool), value_(pool ? pool->take() : activation{}) {}
  borrowed_activation(const borrowed_activation&) = delete;
  borrowed_activation& operator=(const borrowed_activation&) = delete;
  ~borrowed_activation() {
    if (pool_) pool_->give_back(std::move(value_));
  }
  activation& operator*() noexcept { return value_; }
  activation* operator->() noexcept { return &value_; }

 private:
  activation_pool* pool_;
  activation value_;
};

}  // namespace lowbit::graph
