// SPDX-License-Identifier: Apache-2.0
// Copyright lowbit contributors
#pragma once

// The layers the three architectures share (user code on top of lowbit::graph): a projection whose
// weight format the file chooses per tensor, the self-attention of a decoder layer (Q/K/V fan-out,
// optional bias and per-head Q/K norms, RoPE, KV cache, optional sliding window), and the token
// embedding of any GGUF type. Heavy: it compiles every format's SIMD GEMM (include it in one TU).

#include <cmath>
#include <cstddef>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "hparams.hpp"
#include "lowbit/backend/simd.hpp"
#include "lowbit/core/error.hpp"
#include "lowbit/formats/gguf_formats.hpp"
#include "lowbit/gemm/any_weight.hpp"
#include "lowbit/graph/gated_ffn.hpp"
#include "lowbit/graph/linear.hpp"
#include "lowbit/graph/repeat.hpp"
#include "lowbit/graph/residual.hpp"
#include "lowbit/graph/rms_norm.hpp"
#include "lowbit/graph/sequential.hpp"
#include "lowbit/io/gguf.hpp"
#include "lowbit/io/gguf_any_weight.hpp"
#include "lowbit/io/gguf_weights.hpp"
#include "lowbit/nn/elementwise.hpp"
#include "lowbit/nn/embedding.hpp"
#include "lowbit/nn/flash_attention_f16.hpp"
#include "lowbit/nn/kv_cache.hpp"
#include "lowbit/nn/rope.hpp"
#include "lowbit/quant/dequantize.hpp"

namespace llm {

using backend_type = lowbit::backend::simd<>;
/// Every weight format a file may use: the library's catalogue of GGUF types.
using weight_formats = lowbit::gguf_formats;
/// A weight whose format was chosen at load from `weight_formats`.
using weight = lowbit::any_weight<backend_type, weight_formats>;
/// A projection (with an optional bias) over such a weight.
using linear = lowbit::graph::linear_layer<backend_type, weight>;
using kv_element = lowbit::nn::kv_f16;  ///< llama.cpp's default KV cache type

/// Mutable state of one model instance: the KV cache (every layer), the RoPE tables (one per
/// frequency base), GEMM and activation scratch.
struct runtime_state {
  lowbit::nn::kv_cache<kv_element> cache;
  lowbit::nn::rope_table rope;      ///< full-attention layers
  lowbit::nn::rope_table rope_swa;  ///< sliding-window layers (same as `rope` when there are none)
  lowbit::gemm_workspace gemm_scratch;
  lowbit::graph::activation_pool pool;
};

/// The projection `name`.weight (and `name`.bias when the file has one), W(rows, cols), in its
/// file's format, prepared once for the SIMD backend. The mapped file pages are released after
/// packing (the packed copy is what runs).
/// throws lowbit::error naming the tensor for a missing tensor, a type outside weight_formats, or
/// an unexpected shape.
inline linear load_linear(const lowbit::io::gguf_file& f, const std::string& name, std::size_t rows, std::size_t cols,
                          lowbit::threads t) {
  const std::string w_name = name + ".weight", b_name = name + ".bias";
  auto w = lowbit::io::any_weight_of<backend_type, weight_formats>(f, w_name, {.rows = rows, .cols = cols}, t);
  std::span<const float> bias;
  if (f.find_tensor(b_name) != nullptr) bias = lowbit::io::f32_vector_of(f, b_name, rows);
  f.release_pages(f.tensor(w_name));
  return linear(std::move(w), bias);
}

/// The F32 norm weight `name` of `size` elements as an RMSNorm layer.
inline lowbit::graph::rms_norm_layer load_norm(const lowbit::io::gguf_file& f, const std::string& name,
                                               std::size_t size, float eps) {
  return lowbit::graph::rms_norm_layer(lowbit::io::f32_vector_of(f, name, size), eps);
}

/// What distinguishes one layer's self-attention from another's.
struct attention_options {
  std::size_t layer = 0;  ///< index of the layer's KV cache
  bool sliding = false;   ///< sliding-window layer: hparams::sliding_window and rope_swa
  bool qk_norm = false;   ///< per-head RMSNorm of Q and K before RoPE (gemma3)
  float query_scale = 0;  ///< Q *= query_scale after RoPE and attention scale 1 (gemma3); 0: 1/sqrt(head_dim)
};

/// Causal grouped-query self-attention of one decoder layer: x (M, n_embd) -> (M, n_head * head_dim),
/// before the output projection. Q, K, V are three projections of the same input (with the
/// file's biases, if any); [Q/K norms]; RoPE at the token positions; K and V go to the layer's KV
/// cache; flash attention over the cache (llama.cpp's order for an f16 cache), with a sliding
/// window on sliding layers. Source: Vaswani et al., arXiv:1706.03762; GQA, Ainslie et al.,
/// arXiv:2305.13245; as llama.cpp's llm_graph_context::build_attn computes it.
class self_attention_layer {
 public:
  self_attention_layer(const lowbit::io::gguf_file& f, const hparams& h, runtime_state& state, attention_options opt,
                       lowbit::threads t)
      : h_(&h),
        state_(&state),
        opt_(opt),
        wq_(load_linear(f, prefix(opt) + "attn_q", h.n_head * h.head_dim, h.n_embd, t)),
        wk_(load_linear(f, prefix(opt) + "attn_k", h.n_head_kv * h.head_dim, h.n_embd, t)),
        wv_(load_linear(f, prefix(opt) + "attn_v", h.n_head_kv * h.head_dim, h.n_embd, t)) {
    if (opt.qk_norm) {
      q_norm_.emplace(load_norm(f, prefix(opt) + "attn_q_norm.weight", h.head_dim, h.rms_eps));
      k_norm_.emplace(load_norm(f, prefix(opt) + "attn_k_norm.weight", h.head_dim, h.rms_eps));
    }
  }

  void forward(lowbit::graph::activation& x, lowbit::graph::context& ctx) {
    const std::size_t M = x.rows;
    const auto t = ctx.thread_count;
    auto q = lowbit::graph::borrow(ctx), k = lowbit::graph::borrow(ctx), v = lowbit::graph::borrow(ctx);
    wq_.apply(x, *q, ctx);
    wk_.apply(x, *k, ctx);
    wv_.apply(x, *v, ctx);
    if (q_norm_) {
      q_norm_->forward(*q, ctx);
      k_norm_->forward(*k, ctx);
    }
    const auto& rope = opt_.sliding ? state_->rope_swa : state_->rope;
    lowbit::nn::rope(q->data, M, h_->n_head, h_->head_dim, ctx.position, rope, t);
    lowbit::nn::rope(k->data, M, h_->n_head_kv, h_->head_dim, ctx.position, rope, t);
    if (opt_.query_scale != 0) lowbit::nn::scale(q->data, opt_.query_scale, q->data, t);
    state_->cache.write(opt_.layer, ctx.position, M, k->data, v->data);
    x.resize(M, h_->n_head * h_->head_dim);
    lowbit::nn::attention_params params{.layer = opt_.layer,
                                        .pos = ctx.position,
                                        .n_tokens = M,
                                        .n_heads = h_->n_head,
                                        .scale = opt_.query_scale != 0 ? std::optional<float>(1.0f) : std::nullopt,
                                        .window = opt_.sliding ? h_->sliding_window : 0};
    lowbit::nn::flash_attention_f16(q->data, state_->cache, params, x.data, t);
  }

 private:
  static std::string prefix(const attention_options& opt) { return "blk." + std::to_string(opt.layer) + "."; }

  const hparams* h_;
  runtime_state* state_;
  attention_options opt_;
  linear wq_, wk_, wv_;
  std::optional<lowbit::graph::rms_norm_layer> q_norm_, k_norm_;
};

/// The token embedding table `token_embd.weight` (n_vocab, n_embd) of any GGUF type in
/// weight_formats, read in place from the mapped file: the row decoder is chosen once, at load.
class embedding_table {
 public:
  embedding_table(const lowbit::io::gguf_file& f, const hparams& h) : rows_(h.n_vocab), cols_(h.n_embd) {
    const auto& info = f.tensor("token_embd.weight");
    lowbit::check(info.n_dims == 2 && info.ne[0] == h.n_embd, lowbit::errc::shape_mismatch, [&] {
      return "tensor 'token_embd.weight': expected " + std::to_string(h.n_embd) + " columns, the file has " +
             std::to_string(info.ne[0]);
    });
    lowbit::check(weight_formats::contains(info.type), lowbit::errc::unsupported, [&] {
      return "tensor 'token_embd.weight' has type " + std::string(lowbit::ggml::name(info.type)) +
             ", which is not in this program's list of weight formats (" + weight_formats::names() + ")";
    });
    bytes_ = info.data;
    row_bytes_ = static_cast<std::size_t>(info.row_bytes());
    decode_ = lowbit::visit_format(weight_formats{}, info.type, []<class F>(F) {
      return static_cast<void (*)(std::span<const std::byte>, std::span<float>)>(&lowbit::dequantize_row<F>);
    });
  }

  /// x (ids.size(), n_embd) <- the rows of `ids`, times `scale` when it is not 1 (gemma3: sqrt(n_embd)).
  /// throws lowbit::error{errc::out_of_range} naming an id outside the vocabulary.
  void lookup(std::span<const std::int32_t> ids, lowbit::graph::activation& x, float scale, lowbit::threads t) const {
    x.resize(ids.size(), cols_);
    lowbit::nn::embedding(
        [&](std::size_t row, std::span<float> out) { decode_(bytes_.subspan(row * row_bytes_, row_bytes_), out); },
        rows_, cols_, ids, x.data);
    if (scale != 1.0f) lowbit::nn::scale(x.data, scale, x.data, t);
  }

 private:
  std::span<const std::byte> bytes_;
  std::size_t rows_, cols_, row_bytes_ = 0;
  void (*decode_)(std::span<const std::byte>, std::span<float>) = nullptr;
};

}  // namespace llm
