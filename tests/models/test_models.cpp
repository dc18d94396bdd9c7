// SPDX-License-Identifier: Apache-2.0
// Copyright lowbit contributors
//
// The real models against llama.cpp (references in tests/data/<model>/, made by
// scripts/make_references.sh from the llama.cpp that llama-cpp-python 0.3.36 vendors):
// Qwen2.5-Coder-0.5B-Instruct (qwen2; Q5_0, Q8_0, Q4_K, Q6_K), Gemma 3 270M (gemma3; Q5_0, Q8_0,
// Q4_K, Q6_K; sliding-window layers) and the Qwen file re-quantized to another type mix
// (scripts/make_requant.sh). For each: the prompt's token ids, the prompt logits (KL divergence to
// llama.cpp's distribution, same argmax), and greedy answers token for token.
//
// The model files come from the environment (LOWBIT_QWEN2_GGUF, LOWBIT_GEMMA3_GGUF,
// LOWBIT_QWEN2_REQUANT_GGUF; scripts/test.sh sets them), else from ~/.cache/lowbit/models/.

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "catch.hpp"
#include "model.hpp"
#include "tokenizer.hpp"

namespace {

namespace fs = std::filesystem;

struct model_case {
  std::string name;      // tests/data/<name>/
  std::string env;       // environment variable with the model path
  std::string filename;  // under ~/.cache/lowbit/models/
};

std::string model_path(const model_case& c) {
  if (const char* p = std::getenv(c.env.c_str()); p != nullptr && *p != 0) return p;
  const char* home = std::getenv("HOME");
  return std::string(home ? home : "") + "/.cache/lowbit/models/" + c.filename;
}

nlohmann::json read_json(const std::string& path) {
  std::ifstream in(path);
  REQUIRE(in.good());
  return nlohmann::json::parse(in);
}

/// log(sum(exp(x))) in double over n logits.
double log_sum_exp(const float* x, std::size_t n) {
  double max = x[0];
  for (std::size_t i = 1; i < n; ++i) max = std::max(max, double(x[i]));
  double total = 0;
  for (std::size_t i = 0; i < n; ++i) total += std::exp(double(x[i]) - max);
  return std::log(total) + max;
}

/// The prompt-logits comparison. llama.cpp's logits are stored as each position's 1024 largest
/// (id, logit) pairs and the log-sum-exp of the whole row. KL(llama.cpp || lowbit) is summed
/// exactly over those 1024 tokens, and the rest of the vocabulary (at most a few 1e-4 of
/// llama.cpp's mass) counts as one bucket: p_tail * log(p_tail / q_tail), a lower bound of its
/// share by the log-sum inequality.
void check_logits(llm::model& m, const std::string& data_dir, const std::string& name) {
  const auto meta = read_json(data_dir + "logits_prompt.json");
  const auto ids = meta["ids"].get<std::vector<std::int32_t>>();
  const std::size_t n_tokens = meta["n_tokens"], n_vocab = meta["n_vocab"], top_k = meta["top_k"];
  REQUIRE(ids.size() == n_tokens);
  REQUIRE(n_tokens >= 40);
  REQUIRE(m.params().n_vocab == n_vocab);
  const auto lse_ref = meta["lse"].get<std::vector<double>>();
  std::vector<std::int32_t> top_ids(n_tokens * top_k);
  std::vector<float> top_logits(n_tokens * top_k);
  {
    std::ifstream in(data_dir + meta["logits_file"].get<std::string>(), std::ios::binary);
    REQUIRE(in.good());
    in.seekg(meta["ids_offset"].get<std::size_t>());
    in.read(reinterpret_cast<char*>(top_ids.data()), static_cast<std::streamsize>(top_ids.size() * 4));
    in.seekg(meta["logits_offset"].get<std::size_t>());
    in.read(reinterpret_cast<char*>(top_logits.data()), static_cast<std::streamsize>(top_logits.size() * 4));
    REQUIRE(in.good());
  }
  // The tokenizer gives llama.cpp's ids for the prompt text.
  const auto tok = llm::load_tokenizer(m.file());
  CHECK(tok.encode(meta["text"].get<std::string>(), meta["add_special"].get<bool>(), true) == ids);

  m.reset();
  lowbit::graph::activation logits;
  m.forward(ids, 0, true, logits, lowbit::threads{2});
  REQUIRE(logits.rows == n_tokens);
  REQUIRE(logits.cols == n_vocab);
  double kl_sum = 0, kl_max = 0, max_diff = 0;
  std::size_t argmax_checked = 0, argmax_same = 0, exact_rows = 0;
  for (std::size_t t = 0; t < n_tokens; ++t) {
    const float* ours = logits.row(t);
    const double lse_ours = log_sum_exp(ours, n_vocab);
    const std::int32_t* ri = top_ids.data() + t * top_k;
    const float* rl = top_logits.data() + t * top_k;
    double kl = 0, p_top = 0, q_top = 0;
    bool exact = true;
    for (std::size_t j = 0; j < top_k; ++j) {
      exact = exact && rl[j] == ours[ri[j]];
      const double lp = double(rl[j]) - lse_ref[t], lq = double(ours[ri[j]]) - lse_ours;
      const double p = std::exp(lp);
      kl += p * (lp - lq);
      p_top += p;
      q_top += std::exp(lq);
      max_diff = std::max(max_diff, std::abs(double(rl[j]) - double(ours[ri[j]])));
    }
    const double p_tail = std::max(0.0, 1.0 - p_top), q_tail = std::max(1e-300, 1.0 - q_top);
    if (p_tail > 0) kl += p_tail * std::log(p_tail / q_tail);
    kl = std::max(kl, 0.0);
    if (exact) ++exact_rows;
    kl_sum += kl;
    kl_max = std::max(kl_max, kl);
    if (rl[0] - rl[1] > 0.01f) {
      ++argmax_checked;
      const auto best = std::max_element(ours, ours + n_vocab) - ours;
      if (best == ri[0]) ++argmax_same;
    }
  }
  const double kl_mean = kl_sum / double(n_tokens);
  std::printf(
      "%s logits vs llama.cpp: %zu positions, mean KL %.3g nats, max KL %.3g nats, max |logit diff| over llama.cpp's "
      "top %zu %.4f (bit-identical at %zu of %zu positions), same argmax at %zu of %zu positions with margin > 0.01\n",
      name.c_str(), n_tokens, kl_mean, kl_max, top_k, max_diff, exact_rows, n_tokens, argmax_same, argmax_checked);
  CHECK(kl_mean < 1e-3);
  CHECK(kl_max < 1e-2);
  CHECK(argmax_same == argmax_checked);
}

/// Greedy answers: the same tokens as llama.cpp, token for token, from the same prompt ids.
void check_greedy(llm::model& m, const std::string& data_dir, const std::string& name) {
  const auto greedy = read_json(data_dir + "greedy.json");
  const auto tok = llm::load_tokenizer(m.file());
  for (const auto& c : greedy["cases"]) {
    const auto prompt = c["prompt_ids"].get<std::vector<std::int32_t>>();
    const auto expected = c["output_ids"].get<std::vector<std::int32_t>>();
    const std::string text = c["prompt_text"].get<std::string>();
    INFO(name << " prompt: " << text);
    CHECK(tok.encode(text, c["add_special"].get<bool>(), true) == prompt);
    m.reset();
    lowbit::graph::activation logits;
    m.forward(prompt, 0, false, logits, lowbit::threads{2});
    std::vector<std::int32_t> got;
    std::size_t pos = prompt.size();
    while (got.size() < expected.size()) {
      const auto best = static_cast<std::int32_t>(
          std::max_element(logits.data.begin(), logits.data.begin() + static_cast<std::ptrdiff_t>(logits.cols)) -
          logits.data.begin());
      got.push_back(best);
      if (got.size() == expected.size() || best != expected[got.size() - 1]) break;
      m.forward(std::span(&best, 1), pos++, false, logits, lowbit::threads{2});
    }
    std::printf("%s greedy '%s': %zu tokens, %s llama.cpp's\n", name.c_str(),
                c.contains("user") ? c["user"].get<std::string>().c_str() : text.c_str(), expected.size(),
                got == expected ? "identical to" : "DIFFERENT from");
    CHECK(got == expected);
    CHECK(tok.decode(got, false).find(c["output_text"].get<std::string>()) == 0);
  }
}

void check_model(const model_case& c) {
  const std::string path = model_path(c);
  if (!fs::exists(path)) FAIL(c.env + " is not set and " + path + " does not exist: run scripts/fetch_model.sh");
  const std::string data_dir = std::string(LOWBIT_TEST_DATA_DIR) + "/" + c.name + "/";
  llm::model m(path, 512, lowbit::threads{2});
  check_logits(m, data_dir, c.name);
  check_greedy(m, data_dir, c.name);
}

}  // namespace

TEST_CASE("qwen2: Qwen2.5-Coder-0.5B-Instruct matches llama.cpp (ids, logits KL, greedy answers)",
          "[models][qwen2]") {
  check_model({"qwen2", "LOWBIT_QWEN2_GGUF", "qwen2.5-coder-0.5b-instruct.gguf"});
}

TEST_CASE("gemma3: Gemma 3 270M matches llama.cpp (ids, logits KL, greedy completions)", "[models][gemma3]") {
  check_model({"gemma3", "LOWBIT_GEMMA3_GGUF", "gemma-3-270m-q4_k_m.gguf"});
}

TEST_CASE("qwen2 re-quantized: the Q3_K_M mix made by lowbit-quantize matches llama.cpp", "[models][qwen2][requant]") {
  check_model({"qwen2_requant", "LOWBIT_QWEN2_REQUANT_GGUF", "qwen2.5-coder-0.5b-instruct-q3_k_m.gguf"});
}
