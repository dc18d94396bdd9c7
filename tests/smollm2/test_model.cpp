// SPDX-License-Identifier: Apache-2.0
// Copyright lowbit contributors
//
// The main job's proof: SmolLM2-135M-Instruct on lowbit against llama.cpp's own outputs
// (tests/data/smollm2/*.json, made by scripts/make_references.py with llama-cpp-python 0.3.36).
#include <cmath>
#include <cstdio>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "catch.hpp"
#include "chat_template.hpp"
#include "model.hpp"
#include "sampler.hpp"
#include "tokenizer.hpp"

namespace {

const std::string model_path = LOWBIT_SMOLLM2_GGUF;
const std::string data_dir = std::string(LOWBIT_TEST_DATA_DIR) + "/smollm2/";
constexpr std::string_view model_sha256 = "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53";

nlohmann::json read_json(const std::string& name) {
  std::ifstream in(data_dir + name);
  REQUIRE(in.good());
  return nlohmann::json::parse(in);
}

llm::model& shared_model() {
  if (model_path.empty())
    FAIL("LOWBIT_SMOLLM2_GGUF is not set: configure with -DLOWBIT_SMOLLM2_GGUF=$(scripts/fetch_model.sh)");
  static std::unique_ptr<llm::model> m = std::make_unique<llm::model>(model_path, 512, lowbit::threads{2});
  return *m;
}

std::vector<double> log_softmax(const float* logits, std::size_t n) {
  double max = logits[0];
  for (std::size_t i = 1; i < n; ++i) max = std::max(max, double(logits[i]));
  double total = 0.0;
  for (std::size_t i = 0; i < n; ++i) total += std::exp(double(logits[i]) - max);
  const double log_total = std::log(total) + max;
  std::vector<double> out(n);
  for (std::size_t i = 0; i < n; ++i) out[i] = double(logits[i]) - log_total;
  return out;
}

}  // namespace

TEST_CASE("smollm2: prompt logits match llama.cpp (argmax and KL divergence)", "[smollm2][model][logits]") {
  const auto meta = read_json("logits_prompt.json");
  REQUIRE(meta["model_sha256"] == model_sha256);
  const auto ids = meta["ids"].get<std::vector<std::int32_t>>();
  const std::size_t n_tokens = meta["n_tokens"], n_vocab = meta["n_vocab"];
  REQUIRE(ids.size() == n_tokens);
  REQUIRE(n_tokens >= 40);
  std::vector<float> reference(n_tokens * n_vocab);
  std::ifstream in(data_dir + meta["logits_file"].get<std::string>(), std::ios::binary);
  in.read(reinterpret_cast<char*>(reference.data()), static_cast<std::streamsize>(reference.size() * sizeof(float)));
  REQUIRE(in.gcount() == static_cast<std::streamsize>(reference.size() * sizeof(float)));

  // Our tokenizer and chat template give the same prompt ids as llama.cpp.
  const auto tok = llm::tokenizer::from_gguf(shared_model().file());
  REQUIRE(tok.encode(meta["text"].get<std::string>()) == ids);

  auto& m = shared_model();
  m.reset();
  lowbit::graph::activation logits;
  m.forward(ids, 0, true, logits, lowbit::threads{2});
  REQUIRE(logits.rows == n_tokens);
  REQUIRE(logits.cols == n_vocab);

  double kl_sum = 0.0, kl_max = 0.0, max_abs_diff = 0.0;
  std::size_t argmax_checked = 0, argmax_agree = 0;
  for (std::size_t t = 0; t < n_tokens; ++t) {
    const float* ref = reference.data() + t * n_vocab;
    const float* ours = logits.row(t);
    const auto lp_ref = log_softmax(ref, n_vocab);
    const auto lp_ours = log_softmax(ours, n_vocab);
    double kl = 0.0;
    for (std::size_t v = 0; v < n_vocab; ++v) {
      kl += std::exp(lp_ref[v]) * (lp_ref[v] - lp_ours[v]);
      max_abs_diff = std::max(max_abs_diff, std::abs(double(ref[v]) - ours[v]));
    }
    kl_sum += kl;
    kl_max = std::max(kl_max, kl);
    CAPTURE(t, kl);
    // Same argmax wherever llama.cpp's top two logits are more than 0.01 apart.
    std::size_t top = 0, second = 1;
    if (ref[second] > ref[top]) std::swap(top, second);
    for (std::size_t v = 2; v < n_vocab; ++v) {
      if (ref[v] > ref[top]) {
        second = top;
        top = v;
      } else if (ref[v] > ref[second]) {
        second = v;
      }
    }
    const float margin = ref[top] - ref[second];
    const bool same = llm::sampler::argmax(std::span<const float>(ours, n_vocab)) == static_cast<std::int32_t>(top);
    if (margin > 0.01f) {
      ++argmax_checked;
      if (same) ++argmax_agree;
    }
    if (!same)
      std::printf("smollm2 logits: argmax differs at position %zu, llama.cpp's top-two margin %.4f\n", t, margin);
    CAPTURE(margin);
    CHECK((same || margin <= 0.01f));
  }
  const double kl_mean = kl_sum / static_cast<double>(n_tokens);
  // llama.cpp's own spread on this prompt (its logits without flash attention against the
  // reference, with it; measured by scripts/make_references.py), printed for scale. This model
  // amplifies last-bit differences (one 8-bit activation code rounded the other way in a block
  // holding an outlier moves that element by max/127), so only an implementation bit-identical to
  // llama.cpp through the 30 layers meets the criteria below: lowbit is (RMSNorm, the Q4_1 x Q8_1
  // dot product, RoPE, flash attention over the f16 cache and SwiGLU follow ggml's operation
  // order); only the last matrix product (Q8_0 logits, never fed back) may differ in the last bits.
  const auto& spread = meta["llama_cpp_self_divergence"]["flash_attn_off_kv_f16"];
  const double floor_mean = spread["kl_mean"], floor_max = spread["kl_max"];
  std::printf(
      "smollm2 logits vs llama.cpp: %zu positions, mean KL %.3g nats, max KL %.3g nats, max |logit diff| %.4f, "
      "same argmax at %zu of %zu positions with margin > 0.01 (llama.cpp flash-attention off vs on: mean KL "
      "%.3g, max %.3g, argmax %d of %zu)\n",
      n_tokens, kl_mean, kl_max, max_abs_diff, argmax_agree, argmax_checked, floor_mean, floor_max,
      spread["argmax_agree"].get<int>(), n_tokens);
  CHECK(kl_mean < 1e-3);     // the criteria
  CHECK(kl_max < 1e-2);
  CHECK(max_abs_diff < 1e-3);  // and what bit-identical hidden states give: last-bit logits
}

TEST_CASE("smollm2: greedy answers are token-for-token llama.cpp's", "[smollm2][model][greedy]") {
  const auto greedy = read_json("greedy.json");
  REQUIRE(greedy["model_sha256"] == model_sha256);
  REQUIRE(greedy["cases"].size() >= 3);
  auto& m = shared_model();
  const auto tok = llm::tokenizer::from_gguf(m.file());
  for (const auto& c : greedy["cases"]) {
    const auto user = c["user"].get<std::string>();
    const auto prompt_ids = c["prompt_ids"].get<std::vector<std::int32_t>>();
    const auto expected = c["output_ids"].get<std::vector<std::int32_t>>();
    CAPTURE(user);
    const std::vector<llm::chat_message> messages{{"user", user}};
    REQUIRE(tok.encode(llm::apply_chatml(messages, true)) == prompt_ids);

    m.reset();
    lowbit::graph::activation logits;
    m.forward(prompt_ids, 0, false, logits, lowbit::threads{2});
    std::vector<std::int32_t> produced;
    std::size_t pos = prompt_ids.size();
    while (produced.size() < expected.size()) {
      const std::int32_t next = llm::sampler::argmax(std::span<const float>(logits.data.data(), logits.cols));
      produced.push_back(next);
      if (next == 2 || next == 0) break;
      m.forward(std::span(&next, 1), pos++, false, logits, lowbit::threads{2});
    }
    std::size_t first_diff = 0;
    while (first_diff < std::min(produced.size(), expected.size()) && produced[first_diff] == expected[first_diff])
      ++first_diff;
    const auto& margins = c["top1_minus_top2_logit"];
    if (first_diff < expected.size()) {
      std::printf("smollm2 greedy '%s': first difference at step %zu (llama.cpp's top-two margin there: %.4f)\n",
                  user.c_str(), first_diff, first_diff < margins.size() ? margins[first_diff].get<double>() : -1.0);
    }
    CHECK(produced == expected);

    // Teacher forcing: llama.cpp's whole answer in one pass; our argmax at every step, so that
    // one flip does not hide the steps after it.
    std::vector<std::int32_t> forced = prompt_ids;
    forced.insert(forced.end(), expected.begin(), expected.end() - 1);
    m.reset();
    m.forward(forced, 0, true, logits, lowbit::threads{2});
    std::size_t agree = 0;
    for (std::size_t step = 0; step < expected.size(); ++step) {
      const float* row = logits.row(prompt_ids.size() - 1 + step);
      if (llm::sampler::argmax(std::span<const float>(row, logits.cols)) == expected[step]) ++agree;
    }
    CHECK(agree == expected.size());
    std::printf("smollm2 greedy '%s': teacher-forced argmax agrees at %zu of %zu steps\n", user.c_str(), agree,
                expected.size());
    std::printf("smollm2 greedy '%s': %zu tokens, %s\n", user.c_str(), produced.size(),
                produced == expected ? "identical to llama.cpp" : "DIFFERENT from llama.cpp");
  }
}

TEST_CASE("smollm2: a prompt longer than the context is an error", "[smollm2][model][errors]") {
  auto& m = shared_model();
  std::vector<std::int32_t> ids(m.context_size() + 1, 42);
  lowbit::graph::activation logits;
  REQUIRE_THROWS_WITH(m.forward(ids, 0, false, logits, lowbit::threads{1}),
                      Catch::Contains("exceed the context of 512"));
  std::vector<std::int32_t> bad{1, 999999};
  REQUIRE_THROWS_WITH(m.forward(bad, 0, false, logits, lowbit::threads{1}), Catch::Contains("999999"));
}
