// SPDX-License-Identifier: Apache-2.0
// Copyright lowbit contributors
//
// Records llama.cpp's intermediate tensors for the per-operation test of examples/smollm2
// (tests/smollm2/test_ggml_ops.cpp). Built and run by scripts/make_references.sh against the
// libllama.so of scripts/build_llama.sh:
//
//   ggml_layer_tensors [--names all|NAME,...] MODEL OUT_PREFIX THREADS LAYERS TOKEN_ID...
//
// decodes the tokens in one llama_decode call (n_ctx = n_batch = 512, default context parameters:
// f16 KV cache, flash attention "auto") with an eval callback that copies every f32 graph tensor of
// the listed layers (comma-separated, e.g. "0,29"; -1 for the tensors outside the layers, such as
// inp_scaled or result_norm) whose name is one of kNames below (or of --names; "all": every name),
// and writes
// OUT_PREFIX.f32 (the tensors' floats, little-endian, row-major (ne1, ne0), one after another) and
// OUT_PREFIX.json (name, layer, occurrence, rows, cols and float offset of each).
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "ggml-backend.h"
#include "ggml.h"
#include "llama.h"

namespace {

// Tensor names of llama.cpp's LLaMA graph (src/models/llama.cpp) that the test replays. The same
// name can occur more than once per layer (Qcur: projection, reshape, RoPE), told apart by occurrence.
const std::set<std::string> kNames{"attn_norm", "Qcur",     "Kcur",   "Vcur",       "kqv_out", "attn_out", "ffn_inp",
                                   "ffn_norm",  "ffn_gate", "ffn_up", "ffn_swiglu", "ffn_out", "l_out"};

struct recorded {
  std::string name;
  int layer = 0, occurrence = 0;
  std::int64_t rows = 0, cols = 0, offset = 0;
};

std::set<std::string> g_names = kNames;
bool g_all_names = false;
std::set<int> g_layers;
std::vector<float> g_data;
std::vector<recorded> g_index;
std::map<std::string, int> g_seen;

bool on_tensor(ggml_tensor* t, bool ask, void*) {
  if (ask) return true;
  const std::string full = t->name;
  if (t->type != GGML_TYPE_F32 || full.empty() || full.find(' ') != std::string::npos) return true;  // "(view)"
  const auto dash = full.rfind('-');
  std::string base = full;
  int layer = -1;  // cb(..., -1) names a tensor without a layer suffix
  if (dash != std::string::npos && dash + 1 < full.size() &&
      full.find_first_not_of("0123456789", dash + 1) == std::string::npos) {
    base = full.substr(0, dash);
    layer = std::atoi(full.c_str() + dash + 1);
  }
  if (!(g_all_names || g_names.count(base)) || !g_layers.count(layer)) return true;
  const int occurrence = g_seen[full]++;
  std::vector<char> raw(ggml_nbytes(t));
  ggml_backend_tensor_get(t, raw.data(), 0, raw.size());
  recorded r{base, layer, occurrence, t->ne[1] * t->ne[2] * t->ne[3], t->ne[0], std::int64_t(g_data.size())};
  for (std::int64_t i3 = 0; i3 < t->ne[3]; ++i3)
    for (std::int64_t i2 = 0; i2 < t->ne[2]; ++i2)
      for (std::int64_t i1 = 0; i1 < t->ne[1]; ++i1)
        for (std::int64_t i0 = 0; i0 < t->ne[0]; ++i0) {
          float v;
          std::memcpy(&v, raw.data() + i0 * t->nb[0] + i1 * t->nb[1] + i2 * t->nb[2] + i3 * t->nb[3], sizeof v);
          g_data.push_back(v);
        }
  g_index.push_back(r);
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc >= 3 && std::strcmp(argv[1], "--names") == 0) {
    g_all_names = std::strcmp(argv[2], "all") == 0;
    g_names.clear();
    std::stringstream names(argv[2]);
    for (std::string n; std::getline(names, n, ',');) g_names.insert(n);
    argv[2] = argv[0];
    argv += 2;
    argc -= 2;
  }
  if (argc < 6) {
    std::fprintf(stderr, "usage: %s [--names all|NAME,...] MODEL OUT_PREFIX THREADS LAYERS TOKEN_ID...\n", argv[0]);
    return 2;
  }
  const std::string out = argv[2];
  const int threads = std::atoi(argv[3]);
  std::stringstream layers(argv[4]);
  for (std::string l; std::getline(layers, l, ',');) g_layers.insert(std::atoi(l.c_str()));
  std::vector<llama_token> ids;
  for (int i = 5; i < argc; ++i) ids.push_back(std::atoi(argv[i]));

  llama_backend_init();
  llama_model* model = llama_model_load_from_file(argv[1], llama_model_default_params());
  if (!model) return 1;
  llama_context_params cp = llama_context_default_params();
  cp.n_ctx = cp.n_batch = cp.n_ubatch = 512;
  cp.n_threads = cp.n_threads_batch = threads;
  cp.cb_eval = on_tensor;
  llama_context* ctx = llama_init_from_model(model, cp);
  if (!ctx) return 1;
  llama_batch batch = llama_batch_init(std::int32_t(ids.size()), 0, 1);
  for (std::size_t i = 0; i < ids.size(); ++i) {
    batch.token[i] = ids[i];
    batch.pos[i] = llama_pos(i);
    batch.n_seq_id[i] = 1;
    batch.seq_id[i][0] = 0;
    batch.logits[i] = 1;
  }
  batch.n_tokens = std::int32_t(ids.size());
  if (llama_decode(ctx, batch) != 0) return 1;

  FILE* f = std::fopen((out + ".f32").c_str(), "wb");
  if (!f || std::fwrite(g_data.data(), sizeof(float), g_data.size(), f) != g_data.size()) return 1;
  std::fclose(f);
  f = std::fopen((out + ".json").c_str(), "w");
  if (!f) return 1;
  std::fprintf(f, "{\n  \"tokens\": [");
  for (std::size_t i = 0; i < ids.size(); ++i) std::fprintf(f, "%s%d", i ? ", " : "", ids[i]);
  std::fprintf(f, "],\n  \"threads\": %d,\n  \"tensors\": [\n", threads);
  for (std::size_t i = 0; i < g_index.size(); ++i) {
    const auto& r = g_index[i];
    std::fprintf(f,
                 "    {\"name\": \"%s\", \"layer\": %d, \"occurrence\": %d, \"rows\": %lld, \"cols\": %lld, "
                 "\"offset\": %lld}%s\n",
                 r.name.c_str(), r.layer, r.occurrence, (long long)r.rows, (long long)r.cols, (long long)r.offset,
                 i + 1 < g_index.size() ? "," : "");
  }
  std::fprintf(f, "  ]\n}\n");
  std::fclose(f);
  llama_batch_free(batch);
  llama_free(ctx);
  llama_model_free(model);
  return 0;
}
