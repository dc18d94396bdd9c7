// SPDX-License-Identifier: Apache-2.0
// Copyright lowbit contributors
#pragma once

// SmolLM2 (LLaMA architecture) as a graph of lowbit layers, written as user code: the layer kinds,
// their order, formats and backend are compile-time types; the sizes come from the GGUF file.
//
//   model = embedding(token_embd, Q8_0)
//         -> repeat(n_layers, block) -> rms_norm(output_norm) -> linear(token_embd, Q8_0)   (tied)
//   block = residual(rms_norm -> self_attention(Q, K, V: Q4_1; RoPE; GQA over a KV cache) -> linear(O))
//         -> residual(rms_norm -> swiglu_ffn(gate, up, down: Q4_1))
//
// Source of the architecture: Touvron et al., "LLaMA", arXiv:2302.13971; SmolLM2 (Allal et al.,
// arXiv:2502.02737); tensor names and hyper-parameter keys as llama.cpp writes GGUF files.

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

// Only the SIMD kernels of the two formats this model uses (the umbrella lowbit/backend/simd.hpp
// would compile every kernel).
#include "lowbit/backend/simd/gemm_q4.hpp"
#include "lowbit/backend/simd/gemm_q8_0.hpp"
#include "lowbit/backend/simd/tag.hpp"
#include "lowbit/core/error.hpp"
#include "lowbit/formats/ggml/q4_1.hpp"
#include "lowbit/formats/ggml/q8_0.hpp"
#include "lowbit/graph/linear.hpp"
#include "lowbit/graph/repeat.hpp"
#include "lowbit/graph/residual.hpp"
#include "lowbit/graph/sequential.hpp"
#include "lowbit/io/gguf.hpp"
#include "lowbit/io/gguf_weights.hpp"
#include "lowbit/nn/activations.hpp"
#include "lowbit/nn/attention.hpp"
#include "lowbit/nn/flash_attention_f16.hpp"
#include "lowbit/nn/embedding.hpp"
#include "lowbit/nn/kv_cache.hpp"
#include "lowbit/nn/rms_norm.hpp"
#include "lowbit/nn/rope.hpp"
#include "lowbit/quant/dequantize.hpp"

namespace llm {

using backend_type = lowbit::backend::simd<>;
using layer_format = lowbit::ggml::q4_1;      ///< attention and FFN weights
using embedding_format = lowbit::ggml::q8_0;  ///< token_embd, also the tied output projection
using kv_element = lowbit::nn::kv_f16;        ///< llama.cpp's default KV cache type

/// The hyper-parameters of a LLaMA-architecture GGUF file (`llama.*` keys).
struct hparams {
  std::size_t n_layers = 0, n_embd = 0, n_ff = 0, n_head = 0, n_head_kv = 0, head_dim = 0, n_rot = 0;
  std::size_t n_vocab = 0, n_ctx_train = 0;
  float rope_theta = 10000.0f, rms_eps = 1e-5f;

  /// Reads and checks them. throws lowbit::error{errc::unsupported} for another architecture,
  /// {errc::missing_key} for a missing key, {errc::corrupt} for inconsistent values.
  static hparams from_gguf(const lowbit::io::gguf_file& file) {
    const auto arch = file.get_string("general.architecture");
    lowbit::check(arch == "llama", lowbit::errc::unsupported,
                  "general.architecture is '" + std::string(arch) + "'; this example runs 'llama' models");
    hparams h;
    h.n_layers = file.get_u32("llama.block_count");
    h.n_embd = file.get_u32("llama.embedding_length");
    h.n_ff = file.get_u32("llama.feed_forward_length");
    h.n_head = file.get_u32("llama.attention.head_count");
    h.n_head_kv = file.get_or<std::uint32_t>("llama.attention.head_count_kv", static_cast<std::uint32_t>(h.n_head));
    h.n_ctx_train = file.get_u32("llama.context_length");
    h.rms_eps = file.get_f32("llama.attention.layer_norm_rms_epsilon");
    h.rope_theta = file.get_or<float>("llama.rope.freq_base", h.rope_theta);
    lowbit::check(h.n_head > 0 && h.n_embd % h.n_head == 0, lowbit::errc::corrupt,
                  "llama.embedding_length is not a multiple of llama.attention.head_count");
    lowbit::check(h.n_head_kv > 0 && h.n_head % h.n_head_kv == 0, lowbit::errc::corrupt,
                  "llama.attention.head_count is not a multiple of head_count_kv");
    h.head_dim = h.n_embd / h.n_head;
    h.n_rot = file.get_or<std::uint32_t>("llama.rope.dimension_count", static_cast<std::uint32_t>(h.head_dim));
    lowbit::check(h.n_rot <= h.head_dim && h.n_rot % 2 == 0, lowbit::errc::corrupt,
                  "llama.rope.dimension_count must be even and <= head_dim");
    h.n_vocab = file.tensor("token_embd.weight").ne[1];
    return h;
  }
};

/// Mutable state of one model instance: KV cache, RoPE table and scratch memory.
struct runtime_state {
  lowbit::nn::kv_cache<kv_element> cache;
  lowbit::nn::rope_table rope;
  lowbit::gemm_workspace gemm_scratch;
  lowbit::graph::activation_pool pool;
};

/// RMSNorm over the features of each token, in place.
class rms_norm_layer {
 public:
  rms_norm_layer(std::span<const float> weight, float eps) : weight_(weight), eps_(eps) {}
  void forward(lowbit::graph::activation& x, lowbit::graph::context& ctx) {
    lowbit::nn::rms_norm(x.data, weight_, x.data, x.rows, x.cols, eps_, ctx.thread_count);
  }

 private:
  std::span<const float> weight_;
  float eps_;
};

/// Causal grouped-query self-attention with RoPE over the KV cache of layer `ctx.repetition`:
/// x (M, n_embd) -> (M, n_head * head_dim), before the output projection.
class self_attention_layer {
 public:
  using linear_type = lowbit::graph::linear_layer<layer_format, backend_type>;
  self_attention_layer(const hparams& h, runtime_state& state, linear_type wq, linear_type wk, linear_type wv)
      : h_(&h), state_(&state), wq_(std::move(wq)), wk_(std::move(wk)), wv_(std::move(wv)) {}

  void forward(lowbit::graph::activation& x, lowbit::graph::context& ctx) {
    const std::size_t M = x.rows;
    auto q = lowbit::graph::borrow(ctx), k = lowbit::graph::borrow(ctx), v = lowbit::graph::borrow(ctx);
    project(wq_, x, *q, ctx);
    project(wk_, x, *k, ctx);
    project(wv_, x, *v, ctx);
    lowbit::nn::rope(q->data, M, h_->n_head, h_->head_dim, ctx.position, state_->rope, ctx.thread_count);
    lowbit::nn::rope(k->data, M, h_->n_head_kv, h_->head_dim, ctx.position, state_->rope, ctx.thread_count);
    state_->cache.write(ctx.repetition, ctx.position, M, k->data, v->data);
    x.resize(M, h_->n_head * h_->head_dim);
    lowbit::nn::attention_params params{
        .layer = ctx.repetition, .pos = ctx.position, .n_tokens = M, .n_heads = h_->n_head};
    // llama.cpp's attention for an f16 cache (flash attention, f16 accumulator), bit for bit.
    lowbit::nn::flash_attention_f16(q->data, state_->cache, params, x.data, ctx.thread_count);
  }

 private:
  static void project(const linear_type& w, const lowbit::graph::activation& x, lowbit::graph::activation& out,
                      lowbit::graph::context& ctx) {
    out.resize(x.rows, w.weight().rows);
    lowbit::gemm<backend_type>(x.view(), w.weight(), out.view(), ctx.thread_count, lowbit::epilogue::store{},
                               ctx.gemm_scratch);
  }
  const hparams* h_;
  runtime_state* state_;
  linear_type wq_, wk_, wv_;
};

/// The SwiGLU feed-forward network: down(silu(gate(x)) * up(x)) (Shazeer, "GLU Variants Improve
/// Transformer", arXiv:2002.05202).
class swiglu_ffn_layer {
 public:
  using linear_type = lowbit::graph::linear_layer<layer_format, backend_type>;
  swiglu_ffn_layer(linear_type gate, linear_type up, linear_type down)
      : gate_(std::move(gate)), up_(std::move(up)), down_(std::move(down)) {}

  void forward(lowbit::graph::activation& x, lowbit::graph::context& ctx) {
    const auto& t = ctx.thread_count;
    auto gate_out = lowbit::graph::borrow(ctx), up_out = lowbit::graph::borrow(ctx);
    gate_out->resize(x.rows, gate_.weight().rows);
    up_out->resize(x.rows, up_.weight().rows);
    lowbit::gemm<backend_type>(x.view(), gate_.weight(), gate_out->view(), t, lowbit::epilogue::store{},
                               ctx.gemm_scratch);
    lowbit::gemm<backend_type>(x.view(), up_.weight(), up_out->view(), t, lowbit::epilogue::store{}, ctx.gemm_scratch);
    lowbit::nn::swiglu(gate_out->data, up_out->data, gate_out->data, t);
    down_.forward(*gate_out, ctx);
    std::swap(x, *gate_out);
  }

 private:
  linear_type gate_, up_, down_;
};

namespace detail {

inline auto make_block(const lowbit::io::gguf_file& f, const hparams& h, runtime_state& state, std::size_t i,
                       lowbit::threads t) {
  using namespace lowbit::graph;
  using lowbit::io::f32_vector_of;
  using lowbit::io::weight_of;
  const std::string p = "blk." + std::to_string(i) + ".";
  auto lin = [&](const char* name) {
    auto layer = linear<backend_type>(weight_of<layer_format>(f, p + name), t);
    f.release_pages(f.tensor(p + name));  // repacked: the mapped copy need not stay resident
    return layer;
  };
  return sequential(
      residual(
          sequential(rms_norm_layer(f32_vector_of(f, p + "attn_norm.weight", h.n_embd), h.rms_eps),
                     self_attention_layer(h, state, lin("attn_q.weight"), lin("attn_k.weight"), lin("attn_v.weight")),
                     lin("attn_output.weight"))),
      residual(sequential(rms_norm_layer(f32_vector_of(f, p + "ffn_norm.weight", h.n_embd), h.rms_eps),
                          swiglu_ffn_layer(lin("ffn_gate.weight"), lin("ffn_up.weight"), lin("ffn_down.weight")))));
}

inline auto make_body(const lowbit::io::gguf_file& f, const hparams& h, runtime_state& state, lowbit::threads t) {
  return lowbit::graph::sequential(
      lowbit::graph::repeat(h.n_layers, [&](std::size_t i) { return make_block(f, h, state, i, t); }),
      rms_norm_layer(lowbit::io::f32_vector_of(f, "output_norm.weight", h.n_embd), h.rms_eps));
}

}  // namespace detail

/// A SmolLM2 model loaded from a GGUF file (weights mapped, repacked once for the SIMD backend).
class model {
 public:
  using body_type =
      decltype(detail::make_body(std::declval<const lowbit::io::gguf_file&>(), std::declval<const hparams&>(),
                                 std::declval<runtime_state&>(), lowbit::threads{}));

  /// Loads `path` with a context of `n_ctx` positions (0 = the training context).
  /// throws lowbit::error from the reader (corrupt, truncated, unknown type), for a tensor of an
  /// unexpected type or shape (naming it), or for an unsupported architecture.
  model(const std::filesystem::path& path, std::size_t n_ctx, lowbit::threads t)
      : file_(lowbit::io::gguf_file::open(path)), h_(hparams::from_gguf(file_)) {
    n_ctx_ = n_ctx == 0 ? h_.n_ctx_train : std::min(n_ctx, h_.n_ctx_train);
    const auto embd = lowbit::io::weight_of<embedding_format>(file_, "token_embd.weight");
    lowbit::check(embd.cols == h_.n_embd, lowbit::errc::shape_mismatch,
                  "token_embd.weight has " + std::to_string(embd.cols) + " columns, embedding_length is " +
                      std::to_string(h_.n_embd));
    token_embd_ = embd;
    // Tied embeddings: without output.weight, the output projection is token_embd (as llama.cpp).
    const auto* out = file_.find_tensor("output.weight");
    lm_head_.emplace(out ? lowbit::io::weight_of<embedding_format>(file_, "output.weight") : embd, t);
    // Repacked for the output projection; the embedding lookup maps back in only the rows it reads.
    file_.release_pages(out ? *out : file_.tensor("token_embd.weight"));
    state_ = std::make_unique<runtime_state>(runtime_state{
        lowbit::nn::kv_cache<kv_element>(h_.n_layers, n_ctx_, h_.n_head_kv, h_.head_dim),
        lowbit::nn::rope_table(lowbit::nn::rope_config{.n_rot = h_.n_rot, .theta_base = h_.rope_theta}, n_ctx_),
        {},
        {}});
    body_.emplace(detail::make_body(file_, h_, *state_, t));
  }

  const hparams& params() const noexcept { return h_; }
  std::size_t context_size() const noexcept { return n_ctx_; }
  const lowbit::io::gguf_file& file() const noexcept { return file_; }

  /// Runs `ids` at positions [pos, pos + ids.size()) and writes logits (rows, n_vocab) to `logits`:
  /// one row per token if `all_logits`, else only the last token's row.
  /// throws lowbit::error{errc::out_of_range} if pos + ids.size() exceeds the context or an id is
  /// outside the vocabulary; {errc::invalid_argument} for an empty ids.
  void forward(std::span<const std::int32_t> ids, std::size_t pos, bool all_logits, lowbit::graph::activation& logits,
               lowbit::threads t) {
    lowbit::check(!ids.empty(), lowbit::errc::invalid_argument, "forward: no tokens");
    lowbit::check(pos + ids.size() <= n_ctx_, lowbit::errc::out_of_range, [&] {
      return "forward: positions up to " + std::to_string(pos + ids.size()) + " exceed the context of " +
             std::to_string(n_ctx_) + " tokens";
    });
    x_.resize(ids.size(), h_.n_embd);
    lowbit::nn::embedding([&](std::size_t row, std::span<float> out) { lowbit::dequantize_row(token_embd_, row, out); },
                          h_.n_vocab, h_.n_embd, ids, x_.data);
    lowbit::graph::context ctx{.thread_count = t,
                               .position = pos,
                               .repetition = 0,
                               .gemm_scratch = &state_->gemm_scratch,
                               .pool = &state_->pool};
    if (!all_logits && x_.rows > 1) {
      // Only the last token's logits are wanted: the blocks see every token (they fill the KV
      // cache), the output projection only the last.
      (*body_)[boost::hana::size_c<0>].forward(x_, ctx);
      std::copy_n(x_.row(x_.rows - 1), x_.cols, x_.data.begin());
      x_.resize(1, h_.n_embd);
      (*body_)[boost::hana::size_c<1>].forward(x_, ctx);
    } else {
      body_->forward(x_, ctx);
    }
    lm_head_->forward(x_, ctx);
    std::swap(logits, x_);
  }

  /// Forgets every cached position (a new conversation).
  void reset() { state_->cache.clear(); }

 private:
  lowbit::io::gguf_file file_;
  hparams h_;
  std::size_t n_ctx_ = 0;
  lowbit::weight_view<embedding_format> token_embd_;
  std::optional<lowbit::graph::linear_layer<embedding_format, backend_type>> lm_head_;
  std::unique_ptr<runtime_state> state_;
  std::optional<body_type> body_;
  lowbit::graph::activation x_;
};

}  // namespace llm
