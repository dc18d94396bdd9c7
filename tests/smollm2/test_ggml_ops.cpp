// SPDX-License-Identifier: Apache-2.0
// Copyright lowbit contributors
//
// Each operation of examples/smollm2's graph, fed with llama.cpp's own input tensors, gives llama.cpp's
// output tensor bit for bit: layers 0 and 29, the first 12 tokens of the logits prompt
// (tests/data/smollm2/ggml_layer_tensors.*, recorded from llama.cpp's graph by
// scripts/ggml_layer_tensors.cpp through scripts/make_references.sh).
#include <cstdint>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "catch.hpp"
#include "hparams.hpp"
#include "lowbit/backend/simd/gemm_q4.hpp"
#include "lowbit/backend/simd/tag.hpp"
#include "lowbit/formats/ggml/q4_1.hpp"
#include "lowbit/formats/ggml/q8_0.hpp"
#include "lowbit/gemm/gemm.hpp"
#include "lowbit/io/gguf_weights.hpp"
#include "lowbit/nn/activations.hpp"
#include "lowbit/nn/embedding.hpp"
#include "lowbit/nn/flash_attention_f16.hpp"
#include "lowbit/nn/kv_cache.hpp"
#include "lowbit/nn/rms_norm.hpp"
#include "lowbit/nn/rope.hpp"
#include "lowbit/quant/dequantize.hpp"

namespace {

const std::string model_path = LOWBIT_SMOLLM2_GGUF;
const std::string data_dir = std::string(LOWBIT_TEST_DATA_DIR) + "/smollm2/";

/// llama.cpp's recorded tensors, by (name, layer, occurrence).
class recorded_tensors {
 public:
  recorded_tensors() {
    std::ifstream meta(data_dir + "ggml_layer_tensors.json");
    REQUIRE(meta.good());
    index_ = nlohmann::json::parse(meta);
    std::ifstream data(data_dir + "ggml_layer_tensors.f32", std::ios::binary | std::ios::ate);
    REQUIRE(data.good());
    floats_.resize(static_cast<std::size_t>(data.tellg()) / sizeof(float));
    data.seekg(0);
    data.read(reinterpret_cast<char*>(floats_.data()), static_cast<std::streamsize>(floats_.size() * sizeof(float)));
  }
  std::vector<std::int32_t> tokens() const { return index_["tokens"].get<std::vector<std::int32_t>>(); }
  std::vector<float> get(const std::string& name, int layer, int occurrence = 0) const {
    for (const auto& t : index_["tensors"]) {
      if (t["name"] == name && t["layer"] == layer && t["occurrence"] == occurrence) {
        const std::size_t offset = t["offset"], n = std::size_t(t["rows"]) * std::size_t(t["cols"]);
        REQUIRE(offset + n <= floats_.size());
        return {floats_.begin() + std::ptrdiff_t(offset), floats_.begin() + std::ptrdiff_t(offset + n)};
      }
    }
    FAIL("no recorded tensor " << name << "-" << layer << " #" << occurrence);
    return {};
  }

 private:
  nlohmann::json index_;
  std::vector<float> floats_;
};

void require_same_bits(const std::string& what, const std::vector<float>& got, const std::vector<float>& want) {
  REQUIRE(got.size() == want.size());
  std::size_t mismatches = 0, first = 0;
  for (std::size_t i = 0; i < got.size(); ++i) {
    if (std::memcmp(&got[i], &want[i], sizeof(float)) != 0 && mismatches++ == 0) first = i;
  }
  INFO(what << ": " << mismatches << " of " << got.size() << " elements differ; first at " << first << ": "
            << got[first] << " vs llama.cpp's " << want[first]);
  CHECK(mismatches == 0);
}

}  // namespace

TEST_CASE("smollm2: every operation reproduces llama.cpp's tensors bit for bit", "[smollm2][ggml]") {
  if (model_path.empty()) FAIL("LOWBIT_SMOLLM2_GGUF is not set");
  const recorded_tensors ggml;
  const auto ids = ggml.tokens();
  const std::size_t M = ids.size();
  const lowbit::threads t{2};
  const auto file = lowbit::io::gguf_file::open(model_path);
  const auto h = llm::hparams::from_gguf(file);
  const lowbit::nn::rope_table rope(lowbit::nn::rope_config{.n_rot = h.n_rot, .theta_base = h.rope_theta}, 64);
  lowbit::gemm_workspace ws;
  auto project = [&](const std::string& weight, const std::vector<float>& x) {
    using backend = lowbit::backend::simd<>;
    const auto w = lowbit::prepare_weight<backend>(lowbit::io::weight_of<lowbit::ggml::q4_1>(file, weight), t);
    std::vector<float> y(M * w.rows);
    lowbit::gemm<backend>(lowbit::matrix_view<const float>(x.data(), M, x.size() / M), w,
                          lowbit::matrix_view<float>(y.data(), M, w.rows), t, lowbit::epilogue::store{}, &ws);
    return y;
  };
  auto norm = [&](const std::string& weight, const std::vector<float>& x) {
    std::vector<float> y(x.size());
    lowbit::nn::rms_norm(x, lowbit::io::f32_vector_of(file, weight, h.n_embd), y, M, h.n_embd, h.rms_eps, t);
    return y;
  };
  auto add = [](std::vector<float> a, const std::vector<float>& b) {
    for (std::size_t i = 0; i < a.size(); ++i) a[i] += b[i];
    return a;
  };

  for (int layer : {0, 29}) {
    const std::string p = "blk." + std::to_string(layer) + ".";
    CAPTURE(layer);
    if (layer == 0) {  // the layer's input: token embeddings (Q8_0 rows, decoded exactly)
      std::vector<float> embd(M * h.n_embd);
      const auto table = lowbit::io::weight_of<lowbit::ggml::q8_0>(file, "token_embd.weight");
      lowbit::nn::embedding([&](std::size_t row, std::span<float> out) { lowbit::dequantize_row(table, row, out); },
                            h.n_vocab, h.n_embd, ids, embd);
      require_same_bits("rms_norm (attn_norm)", norm(p + "attn_norm.weight", embd), ggml.get("attn_norm", 0));
      require_same_bits("residual add (ffn_inp)", add(ggml.get("attn_out", 0), embd), ggml.get("ffn_inp", 0));
    }
    const auto x = ggml.get("attn_norm", layer);
    require_same_bits("Q4_1 GEMM (Q)", project(p + "attn_q.weight", x), ggml.get("Qcur", layer, 0));
    require_same_bits("Q4_1 GEMM (K)", project(p + "attn_k.weight", x), ggml.get("Kcur", layer, 0));
    require_same_bits("Q4_1 GEMM (V)", project(p + "attn_v.weight", x), ggml.get("Vcur", layer, 0));
    auto q = ggml.get("Qcur", layer, 1), k = ggml.get("Kcur", layer, 1);
    lowbit::nn::rope(q, M, h.n_head, h.head_dim, 0, rope, t);
    lowbit::nn::rope(k, M, h.n_head_kv, h.head_dim, 0, rope, t);
    require_same_bits("RoPE (Q)", q, ggml.get("Qcur", layer, 2));
    require_same_bits("RoPE (K)", k, ggml.get("Kcur", layer, 2));

    lowbit::nn::kv_cache<lowbit::nn::kv_f16> cache(1, 64, h.n_head_kv, h.head_dim);
    cache.write(0, 0, M, ggml.get("Kcur", layer, 2), ggml.get("Vcur", layer, 1));
    std::vector<float> attention(M * h.n_embd);
    lowbit::nn::flash_attention_f16(ggml.get("Qcur", layer, 2), cache, {.n_tokens = M, .n_heads = h.n_head},
                                    attention, t);
    require_same_bits("flash_attention_f16", attention, ggml.get("kqv_out", layer));
    require_same_bits("Q4_1 GEMM (attn_output)", project(p + "attn_output.weight", ggml.get("kqv_out", layer)),
                      ggml.get("attn_out", layer));

    const auto ffn_in = ggml.get("ffn_inp", layer);
    require_same_bits("rms_norm (ffn_norm)", norm(p + "ffn_norm.weight", ffn_in), ggml.get("ffn_norm", layer));
    const auto xn = ggml.get("ffn_norm", layer);
    require_same_bits("Q4_1 GEMM (gate)", project(p + "ffn_gate.weight", xn), ggml.get("ffn_gate", layer));
    require_same_bits("Q4_1 GEMM (up)", project(p + "ffn_up.weight", xn), ggml.get("ffn_up", layer));
    std::vector<float> swiglu(M * h.n_ff);
    lowbit::nn::swiglu(ggml.get("ffn_gate", layer), ggml.get("ffn_up", layer), swiglu, t);
    require_same_bits("SwiGLU", swiglu, ggml.get("ffn_swiglu", layer));
    require_same_bits("Q4_1 GEMM (down)", project(p + "ffn_down.weight", ggml.get("ffn_swiglu", layer)),
                      ggml.get("ffn_out", layer));
    require_same_bits("residual add (l_out)", add(ggml.get("ffn_out", layer), ffn_in), ggml.get("l_out", layer));
  }
}
