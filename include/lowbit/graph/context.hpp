// SPDX-License-Identifier: Apache-2.0
// Copyright lowbit contributors
#pragma once

#include <cstddef>

#include "lowbit/core/parallel.hpp"
#include "lowbit/gemm/workspace.hpp"
#include "lowbit/graph/activation_pool.hpp"

namespace lowbit::graph {

/// What a forward pass needs besides its input: the threads it may use, the position of the first
/// token of this call in the sequence (for RoPE and the KV cache), which repetition of a `repeat`
/// is running (so a layer finds its own KV cache), and reusable GEMM and activation scratch.
struct context {
  threads thread_count{};
  std::size_t position = 0;    ///< position of row 0 of the input in the sequence
  std::size_t repetition = 0;  ///< index inside the innermost `repeat`, set by repeat::forward
  gemm_workspace* gemm_scratch = nullptr;
  activation_pool* pool = nullptr;  ///< scratch activations; null: layers allocate their own
};

/// A scratch activation for the current forward call, from `ctx.pool` when there is one.
inline borrowed_activation borrow(context& ctx) { return borrowed_activation(ctx.pool); }

}  // namespace lowbit::graph
