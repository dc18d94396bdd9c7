// SPDX-License-Identifier: Apache-2.0
// Copyright lowbit contributors
#pragma once

// The decoder layer of Gemma 3 as a lowbit graph (user code): per-head RMSNorm of Q and K, Q
// scaled by 1/sqrt(head_dim) after RoPE, post-attention and post-FFN norms inside the residual
// branches, a GELU-gated FFN, and sliding-window attention with its own RoPE base on 5 of every
// 6 layers (hparams::is_swa). The embedding is scaled by sqrt(n_embd) (model.cpp).
//
//   block = residual(rms_norm -> self_attention(Q, K, V; Q/K norm; RoPE; window) -> linear(O) -> rms_norm)
//         -> residual(rms_norm -> gated_ffn(gate, up, down; GeGLU) -> rms_norm)
//
// Sources: Gemma 3 technical report, arXiv:2503.19786; as llama.cpp builds it
// (src/models/gemma3.cpp).

#include "blocks.hpp"
#include "lowbit/nn/activations.hpp"

namespace llm {

/// GeGLU: gelu(gate) * up, GELU in its tanh form as ggml computes it (`nn::geglu`).
struct geglu {
  void operator()(std::span<const float> gate, std::span<const float> up, std::span<float> out,
                  lowbit::threads t) const {
    lowbit::nn::geglu(gate, up, out, t);
  }
};

inline auto make_gemma3_block(const lowbit::io::gguf_file& f, const hparams& h, runtime_state& state, std::size_t il,
                              lowbit::threads t) {
  using namespace lowbit::graph;
  const std::string p = "blk." + std::to_string(il) + ".";
  const attention_options attn{
      .layer = il, .sliding = h.is_swa(il), .qk_norm = true, .query_scale = h.gemma3_query_scale()};
  return sequential(
      residual(sequential(load_norm(f, p + "attn_norm.weight", h.n_embd, h.rms_eps),
                          self_attention_layer(f, h, state, attn, t),
                          load_linear(f, p + "attn_output", h.n_embd, h.n_head * h.head_dim, t),
                          load_norm(f, p + "post_attention_norm.weight", h.n_embd, h.rms_eps))),
      residual(sequential(load_norm(f, p + "ffn_norm.weight", h.n_embd, h.rms_eps),
                          gated_ffn(load_linear(f, p + "ffn_gate", h.n_ff, h.n_embd, t),
                                    load_linear(f, p + "ffn_up", h.n_ff, h.n_embd, t),
                                    load_linear(f, p + "ffn_down", h.n_embd, h.n_ff, t), geglu{}),
                          load_norm(f, p + "post_ffw_norm.weight", h.n_embd, h.rms_eps))));
}

}  // namespace llm
