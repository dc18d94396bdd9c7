// SPDX-License-Identifier: Apache-2.0
// Copyright lowbit contributors
#pragma once

// The hyper-parameters of a decoder-only transformer GGUF file, read from its `<arch>.*` keys for
// the architectures this example runs: `llama` (SmolLM2), `qwen2` (Qwen2.5), `gemma3` (Gemma 3).
// Key names and defaults as llama.cpp reads them (src/llama-model.cpp, src/models/<arch>.cpp,
// llama-cpp-python 0.3.36's vendored llama.cpp).

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "lowbit/core/error.hpp"
#include "lowbit/io/gguf.hpp"
#include "lowbit/nn/rope.hpp"

namespace llm {

/// The architectures this example defines graphs for (examples/llm/arch_*.hpp).
enum class architecture { llama, qwen2, gemma3 };

/// The hyper-parameters of one model file. Extents in elements; `rope_theta*` are RoPE frequency
/// bases; `rms_eps` in units of x².
struct hparams {
  architecture arch = architecture::llama;
  std::string arch_name;
  std::size_t n_layers = 0, n_embd = 0, n_ff = 0, n_head = 0, n_head_kv = 0;
  std::size_t head_dim = 0;  ///< key/value length per head (`attention.key_length`, else n_embd / n_head)
  std::size_t n_rot = 0;     ///< rotated dimensions per head
  std::size_t n_vocab = 0, n_ctx_train = 0;
  float rope_theta = 10000.0f;      ///< RoPE base of full-attention layers
  float rope_theta_swa = 10000.0f;  ///< RoPE base of sliding-window layers (gemma3)
  float rms_eps = 1e-5f;
  lowbit::nn::rope_mode rope_mode = lowbit::nn::rope_mode::normal;
  std::size_t sliding_window = 0;  ///< 0: every layer attends to the whole past
  std::size_t swa_period = 0;      ///< layer il slides when il % period < period - 1 (gemma3: 6)
  float logit_softcap = 0.0f;      ///< final logit soft-capping (0: none)

  /// True when layer `il` uses sliding-window attention.
  bool is_swa(std::size_t il) const noexcept {
    return sliding_window > 0 && swa_period > 0 && il % swa_period < swa_period - 1;
  }

  /// Reads and checks them. throws lowbit::error{errc::unsupported} naming the architecture when
  /// it is not llama, qwen2 or gemma3; {errc::missing_key} for a missing required key;
  /// {errc::corrupt} for inconsistent values (naming them).
  static hparams from_gguf(const lowbit::io::gguf_file& file) {
    using lowbit::check;
    using lowbit::errc;
    hparams h;
    h.arch_name = std::string(file.get_string("general.architecture"));
    if (h.arch_name == "llama") {
      h.arch = architecture::llama;
    } else if (h.arch_name == "qwen2") {
      h.arch = architecture::qwen2;
    } else if (h.arch_name == "gemma3") {
      h.arch = architecture::gemma3;
    } else {
      throw lowbit::error(errc::unsupported, "general.architecture is '" + h.arch_name +
                                                 "'; lowbit-llm runs 'llama', 'qwen2' and 'gemma3' models");
    }
    const std::string p = h.arch_name + ".";
    auto u32 = [&](std::string_view key) { return static_cast<std::size_t>(file.get_u32(p + std::string(key))); };
    auto u32_or = [&](std::string_view key, std::size_t fallback) {
      return static_cast<std::size_t>(
          file.get_or<std::uint32_t>(p + std::string(key), static_cast<std::uint32_t>(fallback)));
    };
    h.n_layers = u32("block_count");
    h.n_embd = u32("embedding_length");
    h.n_ff = u32("feed_forward_length");
    h.n_head = u32("attention.head_count");
    h.n_head_kv = u32_or("attention.head_count_kv", h.n_head);
    h.n_ctx_train = u32("context_length");
    h.rms_eps = file.get_f32(p + "attention.layer_norm_rms_epsilon");
    h.rope_theta = file.get_or<float>(p + "rope.freq_base", h.rope_theta);
    check(h.n_layers > 0 && h.n_embd > 0 && h.n_ff > 0, errc::corrupt,
          p + "block_count, embedding_length and feed_forward_length must be > 0");
    check(h.n_head > 0 && h.n_head_kv > 0 && h.n_head % h.n_head_kv == 0, errc::corrupt, [&] {
      return p + "attention.head_count (" + std::to_string(h.n_head) + ") is not a multiple of head_count_kv (" +
             std::to_string(h.n_head_kv) + ")";
    });
    const std::size_t default_head_dim = h.n_embd / h.n_head;
    h.head_dim = u32_or("attention.key_length", default_head_dim);
    check(u32_or("attention.value_length", h.head_dim) == h.head_dim, errc::unsupported,
          p + "attention.value_length differs from key_length");
    check(h.head_dim > 0 && (file.find(p + "attention.key_length") != nullptr || h.n_embd % h.n_head == 0),
          errc::corrupt, p + "embedding_length is not a multiple of attention.head_count");
    h.n_rot = u32_or("rope.dimension_count", h.head_dim);
    check(h.n_rot <= h.head_dim && h.n_rot % 2 == 0 && h.n_rot > 0, errc::corrupt,
          p + "rope.dimension_count must be even, > 0 and <= the head size");
    const auto& embd = file.tensor("token_embd.weight");
    h.n_vocab = static_cast<std::size_t>(embd.ne[1]);
    // llama.cpp's llama_model_rope_type: NORM for llama, NEOX for qwen2 and gemma3.
    h.rope_mode = h.arch == architecture::llama ? lowbit::nn::rope_mode::normal : lowbit::nn::rope_mode::neox;
    if (h.arch == architecture::gemma3) {
      h.sliding_window = u32_or("attention.sliding_window", 0);
      h.swa_period = file.get_or<std::uint32_t>(p + "attention.sliding_window_pattern", 6);
      h.rope_theta_swa = file.get_or<float>(p + "rope.freq_base_swa", 10000.0f);
      h.logit_softcap = file.get_or<float>(p + "final_logit_softcapping", 0.0f);
    }
    check(std::isfinite(h.rope_theta) && h.rope_theta > 0 && std::isfinite(h.rms_eps) && h.rms_eps >= 0,
          errc::corrupt, p + "rope.freq_base or attention.layer_norm_rms_epsilon is out of range");
    return h;
  }

  /// The factor Gemma 3 multiplies Q by before attention (attention then scales by 1): 1 /
  /// sqrt(head_dim) (llama.cpp src/models/gemma3.cpp, f_attention_scale; the 27B model differs).
  float gemma3_query_scale() const noexcept { return 1.0f / std::sqrt(static_cast<float>(head_dim)); }
};

}  // namespace llm
