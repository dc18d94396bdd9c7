// SPDX-License-Identifier: Apache-2.0
// Copyright lowbit contributors
#pragma once

// The decoder layer of the LLaMA family as a lowbit graph (user code): `llama` (SmolLM2) and
// `qwen2` (Qwen2.5) files. Qwen2 is the same graph: its Q/K/V biases come from the file (the
// linear layers add them in the GEMM epilogue) and its NeoX-style RoPE from hparams.
//
//   block = residual(rms_norm -> self_attention(Q, K, V [+ bias]; RoPE; GQA over the KV cache) -> linear(O))
//         -> residual(rms_norm -> gated_ffn(gate, up, down; SwiGLU))
//
// Both residual sums are formed in the epilogue of the branch's last GEMM (O, down).
// Sources: Touvron et al., "LLaMA", arXiv:2302.13971; Qwen2 technical report, arXiv:2407.10671;
// as llama.cpp builds them (src/models/llama.cpp, src/models/qwen2.cpp).

#include "blocks.hpp"

namespace llm {

inline auto make_llama_block(const lowbit::io::gguf_file& f, const hparams& h, runtime_state& state, std::size_t il,
                             lowbit::threads t) {
  using namespace lowbit::graph;
  const std::string p = "blk." + std::to_string(il) + ".";
  return sequential(
      residual(sequential(load_norm(f, p + "attn_norm.weight", h.n_embd, h.rms_eps),
                          self_attention_layer(f, h, state, {.layer = il}, t),
                          load_linear(f, p + "attn_output", h.n_embd, h.n_head * h.head_dim, t))),
      residual(sequential(load_norm(f, p + "ffn_norm.weight", h.n_embd, h.rms_eps),
                          gated_ffn(load_linear(f, p + "ffn_gate", h.n_ff, h.n_embd, t),
                                    load_linear(f, p + "ffn_up", h.n_ff, h.n_embd, t),
                                    load_linear(f, p + "ffn_down", h.n_embd, h.n_ff, t), swiglu{}))));
}

}  // namespace llm
