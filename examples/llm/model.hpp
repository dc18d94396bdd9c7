// SPDX-License-Identifier: Apache-2.0
// Copyright lowbit contributors
#pragma once

// A decoder-only language model loaded from a GGUF file and run as a graph of lowbit layers
// (user code). The architecture (llama, qwen2, gemma3) and every tensor's format are read from
// the file at load; the graphs are compile-time types (arch_llama.hpp, arch_gemma3.hpp) and every
// weight is an lowbit::any_weight chosen once per tensor, so one program runs any mix of GGUF types.
// The heavy part (every format's SIMD kernels) is compiled once, in model.cpp.

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <span>

#include "hparams.hpp"
#include "lowbit/core/parallel.hpp"
#include "lowbit/graph/activation.hpp"
#include "lowbit/io/gguf.hpp"

namespace llm {

/// A model loaded from a GGUF file: weights mapped, each projection repacked once for the SIMD
/// backend in its file's format, a KV cache of `context_size()` positions.
class model {
 public:
  /// Loads `path` with a context of `n_ctx` positions (0 = the training context; larger values
  /// are cut to it).
  /// throws lowbit::error from the reader (corrupt, truncated, unknown type), naming the tensor for
  /// a missing tensor or one of an unexpected shape or type, and naming the architecture when it
  /// is not one of llama, qwen2, gemma3.
  model(const std::filesystem::path& path, std::size_t n_ctx, lowbit::threads t);
  ~model();
  model(model&&) noexcept;
  model& operator=(model&&) noexcept;

  const hparams& params() const noexcept;
  std::size_t context_size() const noexcept;
  const lowbit::io::gguf_file& file() const noexcept;

  /// Runs `ids` at positions [pos, pos + ids.size()) and writes logits (rows, n_vocab) to `logits`:
  /// one row per token if `all_logits`, else only the last token's row.
  /// throws lowbit::error{errc::out_of_range} if pos + ids.size() exceeds the context or an id is
  /// outside the vocabulary; {errc::invalid_argument} for an empty ids.
  void forward(std::span<const std::int32_t> ids, std::size_t pos, bool all_logits, lowbit::graph::activation& logits,
               lowbit::threads t);

  /// Forgets every cached position (a new conversation).
  void reset();

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

}  // namespace llm
