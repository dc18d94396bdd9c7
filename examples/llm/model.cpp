// SPDX-License-Identifier: Apache-2.0
// Copyright lowbit contributors
//
// llm::model: the architectures' graphs over one shared runtime. The only translation unit of the
// example that compiles the SIMD GEMM of every GGUF format (lowbit::gguf_formats).

#include "model.hpp"

#include <algorithm>
#include <cmath>
#include <optional>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "arch_gemma3.hpp"
#include "arch_llama.hpp"
#include "blocks.hpp"
#include "lowbit/core/error.hpp"
#include "lowbit/graph/repeat.hpp"

namespace llm {

namespace {

template <class MakeBlock>
using body_of = lowbit::graph::repeat_layer<decltype(std::declval<MakeBlock>()(
    std::declval<const lowbit::io::gguf_file&>(), std::declval<const hparams&>(), std::declval<runtime_state&>(),
    std::size_t{}, lowbit::threads{}))>;

using llama_body = body_of<decltype(&make_llama_block)>;
using gemma3_body = body_of<decltype(&make_gemma3_block)>;

template <class MakeBlock>
auto make_body(const lowbit::io::gguf_file& f, const hparams& h, runtime_state& state, lowbit::threads t,
               MakeBlock make_block) {
  return lowbit::graph::repeat(h.n_layers, [&](std::size_t il) { return make_block(f, h, state, il, t); });
}

}  // namespace

struct model::impl {
  static constexpr std::size_t max_batch = 512;  ///< tokens per forward pass of the graph

  lowbit::io::gguf_file file;
  hparams h;
  std::size_t n_ctx = 0;
  std::optional<embedding_table> token_embd;
  std::optional<lowbit::graph::rms_norm_layer> output_norm;
  std::optional<linear> lm_head;
  std::unique_ptr<runtime_state> state;
  std::variant<std::monostate, llama_body, gemma3_body> body;
  lowbit::graph::activation x;

  impl(const std::filesystem::path& path, std::size_t ctx, lowbit::threads t)
      : file(lowbit::io::gguf_file::open(path)), h(hparams::from_gguf(file)) {
    n_ctx = ctx == 0 ? h.n_ctx_train : std::min(ctx, h.n_ctx_train);
    token_embd.emplace(file, h);
    output_norm.emplace(load_norm(file, "output_norm.weight", h.n_embd, h.rms_eps));
    // Tied embeddings: without output.weight the output projection is token_embd (as llama.cpp).
    lm_head.emplace(load_linear(file, file.find_tensor("output.weight") ? "output" : "token_embd", h.n_vocab,
                                h.n_embd, t));
    using lowbit::nn::rope_config;
    // Sliding-window layers keep a ring of window + max_batch - 1 positions, not the whole context.
    std::vector<std::size_t> cache_rows(h.n_layers, n_ctx);
    for (std::size_t il = 0; il < h.n_layers; ++il) {
      if (h.is_swa(il)) cache_rows[il] = lowbit::nn::sliding_window_rows(h.sliding_window, max_batch);
    }
    state = std::make_unique<runtime_state>(runtime_state{
        lowbit::nn::kv_cache<kv_element>::with_layer_rows(std::move(cache_rows), n_ctx, h.n_head_kv, h.head_dim),
        lowbit::nn::rope_table(rope_config{.n_rot = h.n_rot, .theta_base = h.rope_theta, .mode = h.rope_mode}, n_ctx),
        lowbit::nn::rope_table(
            rope_config{.n_rot = h.n_rot,
                        .theta_base = h.sliding_window > 0 ? h.rope_theta_swa : h.rope_theta,
                        .mode = h.rope_mode},
            n_ctx),
        {},
        {}});
    switch (h.arch) {
      case architecture::llama:
      case architecture::qwen2:
        body.emplace<llama_body>(make_body(file, h, *state, t, &make_llama_block));
        break;
      case architecture::gemma3:
        body.emplace<gemma3_body>(make_body(file, h, *state, t, &make_gemma3_block));
        break;
    }
  }

  void forward(std::span<const std::int32_t> ids, std::size_t pos, bool all_logits, lowbit::graph::activation& logits,
               lowbit::threads t) {
    lowbit::check(!ids.empty(), lowbit::errc::invalid_argument, "forward: no tokens");
    lowbit::check(pos + ids.size() <= n_ctx, lowbit::errc::out_of_range, [&] {
      return "forward: positions up to " + std::to_string(pos + ids.size()) + " exceed the context of " +
             std::to_string(n_ctx) + " tokens";
    });
    // Batches of at most max_batch tokens (llama.cpp's n_ubatch), as the ring caches assume.
    if (ids.size() <= max_batch) return forward_batch(ids, pos, all_logits, logits, t);
    lowbit::graph::activation part;
    logits.resize(0, 0);
    for (std::size_t start = 0; start < ids.size(); start += max_batch) {
      const auto chunk = ids.subspan(start, std::min(max_batch, ids.size() - start));
      const bool last = start + chunk.size() == ids.size();
      forward_batch(chunk, pos + start, all_logits, part, t);
      if (all_logits || last) {
        const std::size_t rows = logits.rows;
        logits.cols = part.cols;
        logits.rows = rows + part.rows;
        logits.data.insert(logits.data.end(), part.data.begin(), part.data.end());
      }
    }
  }

  void forward_batch(std::span<const std::int32_t> ids, std::size_t pos, bool all_logits,
                     lowbit::graph::activation& logits, lowbit::threads t) {
    // Gemma scales the embedding by sqrt(n_embd), rounded to f32 (llama.cpp: ggml_scale by sqrtf).
    const float embd_scale = h.arch == architecture::gemma3 ? std::sqrt(static_cast<float>(h.n_embd)) : 1.0f;
    token_embd->lookup(ids, x, embd_scale, t);
    lowbit::graph::context ctx{.thread_count = t,
                               .position = pos,
                               .repetition = 0,
                               .gemm_scratch = &state->gemm_scratch,
                               .pool = &state->pool};
    std::visit(
        [&](auto& b) {
          if constexpr (!std::is_same_v<std::decay_t<decltype(b)>, std::monostate>) b.forward(x, ctx);
        },
        body);
    if (!all_logits && x.rows > 1) {
      // Only the last token's logits are wanted: the blocks saw every token (they fill the KV
      // cache); the final norm and the output projection see only the last.
      std::copy_n(x.row(x.rows - 1), x.cols, x.data.begin());
      x.resize(1, h.n_embd);
    }
    output_norm->forward(x, ctx);
    lm_head->forward(x, ctx);
    if (h.logit_softcap > 0) {
      const float c = h.logit_softcap;
      for (float& v : x.data) v = std::tanh(v / c) * c;
    }
    std::swap(logits, x);
  }
};

model::model(const std::filesystem::path& path, std::size_t n_ctx, lowbit::threads t)
    : impl_(std::make_unique<impl>(path, n_ctx, t)) {}
model::~model() = default;
model::model(model&&) noexcept = default;
model& model::operator=(model&&) noexcept = default;

const hparams& model::params() const noexcept { return impl_->h; }
std::size_t model::context_size() const noexcept { return impl_->n_ctx; }
const lowbit::io::gguf_file& model::file() const noexcept { return impl_->file; }

void model::forward(std::span<const std::int32_t> ids, std::size_t pos, bool all_logits,
                    lowbit::graph::activation& logits, lowbit::threads t) {
  impl_->forward(ids, pos, all_logits, logits, t);
}

void model::reset() { impl_->state->cache.clear(); }

}  // namespace llm
