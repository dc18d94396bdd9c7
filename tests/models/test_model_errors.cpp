// SPDX-License-Identifier: Apache-2.0
// Copyright lowbit contributors
//
// Bad model files: a tiny llama-architecture GGUF written here loads and runs; each broken variant
// (unsupported architecture, missing tensor, tensor of an unexpected shape, tensor of a type outside
// the weight list) is a lowbit::error naming what is wrong, from llm::model and from the CLI
// (non-zero exit, the same message).

#include <cmath>
#include <cstdint>
#include <cstring>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <random>
#include <string>
#include <unistd.h>
#include <vector>

#include "catch.hpp"
#include "lowbit/io/gguf_writer.hpp"
#include "model.hpp"

namespace {

namespace fs = std::filesystem;
using lowbit::io::gguf_writer;

constexpr std::uint32_t n_embd = 64, n_ff = 96, n_vocab = 40, n_head = 4, n_head_kv = 2;

std::vector<std::byte> f32_bytes(std::size_t n, std::uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> dist(0.0f, 0.2f);
  std::vector<std::byte> out(n * 4);
  for (std::size_t i = 0; i < n; ++i) {
    const float v = dist(rng);
    std::memcpy(out.data() + i * 4, &v, 4);
  }
  return out;
}

struct tensor_spec {
  std::string name;
  std::vector<std::uint64_t> ne;
  lowbit::ggml::type type = lowbit::ggml::type::f32;
};

/// The tensors of a 1-layer llama model (all F32), with `edit` applied to the list.
std::vector<tensor_spec> llama_tensors() {
  return {{"token_embd.weight", {n_embd, n_vocab}},
          {"output_norm.weight", {n_embd}},
          {"blk.0.attn_norm.weight", {n_embd}},
          {"blk.0.attn_q.weight", {n_embd, n_embd}},
          {"blk.0.attn_k.weight", {n_embd, n_embd / n_head * n_head_kv}},
          {"blk.0.attn_v.weight", {n_embd, n_embd / n_head * n_head_kv}},
          {"blk.0.attn_output.weight", {n_embd, n_embd}},
          {"blk.0.ffn_norm.weight", {n_embd}},
          {"blk.0.ffn_gate.weight", {n_embd, n_ff}},
          {"blk.0.ffn_up.weight", {n_embd, n_ff}},
          {"blk.0.ffn_down.weight", {n_ff, n_embd}}};
}

fs::path write_model(const std::string& tag, const std::string& arch, const std::vector<tensor_spec>& tensors) {
  gguf_writer w;
  w.set_string("general.architecture", arch);
  w.set(arch + ".block_count", std::uint32_t{1});
  w.set(arch + ".embedding_length", n_embd);
  w.set(arch + ".feed_forward_length", n_ff);
  w.set(arch + ".attention.head_count", n_head);
  w.set(arch + ".attention.head_count_kv", n_head_kv);
  w.set(arch + ".context_length", std::uint32_t{64});
  w.set(arch + ".attention.layer_norm_rms_epsilon", 1e-5f);
  std::uint32_t seed = 1;
  for (const auto& t : tensors) {
    std::uint64_t n = 1;
    for (auto e : t.ne) n *= e;
    const auto traits = lowbit::ggml::find_type_traits(static_cast<std::uint32_t>(t.type));
    std::vector<std::byte> bytes = t.type == lowbit::ggml::type::f32
                                       ? f32_bytes(n, seed++)
                                       : std::vector<std::byte>(n / traits->block_size * traits->block_bytes);
    w.add_tensor(t.name, t.type, t.ne, std::move(bytes));
  }
  const fs::path path = fs::temp_directory_path() /
                        ("lowbit_model_errors_" + std::to_string(::getpid()) + "_" + tag + ".gguf");
  w.write(path);
  return path;
}

std::string load_error(const fs::path& path) {
  try {
    llm::model m(path, 0, lowbit::threads{1});
  } catch (const lowbit::error& e) {
    return e.what();
  }
  return "no error";
}

/// Runs the CLI on `path`; returns its exit status and its output (stdout and stderr).
std::pair<int, std::string> run_cli(const fs::path& path) {
  const std::string cmd = std::string(LOWBIT_LLM_CLI) + " --model '" + path.string() + "' --raw --prompt hi 2>&1";
  std::FILE* pipe = ::popen(cmd.c_str(), "r");
  REQUIRE(pipe != nullptr);
  std::string out;
  char buf[512];
  while (std::fgets(buf, sizeof buf, pipe)) out += buf;
  const int status = ::pclose(pipe);
  return {status, out};
}

void check_bad_model(const std::string& tag, const std::string& arch, const std::vector<tensor_spec>& tensors,
                     const std::vector<std::string>& fragments) {
  const auto path = write_model(tag, arch, tensors);
  const std::string message = load_error(path);
  const auto [status, cli_out] = run_cli(path);
  fs::remove(path);
  INFO(tag << ": " << message);
  INFO("CLI: " << cli_out);
  CHECK(status != 0);
  for (const auto& f : fragments) {
    CHECK_THAT(message, Catch::Matchers::Contains(f));
    CHECK_THAT(cli_out, Catch::Matchers::Contains(f));
  }
}

}  // namespace

TEST_CASE("models: a tiny llama file loads and runs (the fixture of the error cases)", "[models][errors]") {
  const auto path = write_model("good", "llama", llama_tensors());
  llm::model m(path, 0, lowbit::threads{1});
  fs::remove(path);
  CHECK(m.params().n_vocab == n_vocab);
  CHECK(m.context_size() == 64);
  lowbit::graph::activation logits;
  const std::int32_t ids[3] = {1, 5, 7};
  m.forward(ids, 0, true, logits, lowbit::threads{1});
  CHECK(logits.rows == 3);
  CHECK(logits.cols == n_vocab);
  for (float v : logits.data) CHECK(std::isfinite(v));
  const std::int32_t bad_id[1] = {static_cast<std::int32_t>(n_vocab)};
  CHECK_THROWS_AS(m.forward(bad_id, 3, false, logits, lowbit::threads{1}), lowbit::error);
}

TEST_CASE("models: bad model files are errors naming what is wrong", "[models][errors]") {
  SECTION("unsupported architecture") {
    check_bad_model("arch", "mamba", llama_tensors(), {"general.architecture is 'mamba'", "llama"});
  }
  SECTION("missing tensor") {
    auto t = llama_tensors();
    std::erase_if(t, [](const tensor_spec& s) { return s.name == "blk.0.ffn_up.weight"; });
    check_bad_model("missing", "llama", t, {"blk.0.ffn_up.weight"});
  }
  SECTION("tensor of an unexpected shape") {
    auto t = llama_tensors();
    for (auto& s : t)
      if (s.name == "blk.0.attn_k.weight") s.ne = {n_embd, n_embd};
    check_bad_model("shape", "llama", t, {"blk.0.attn_k.weight", "expected shape"});
  }
  SECTION("tensor of a type outside the weight list") {
    auto t = llama_tensors();
    for (auto& s : t)
      if (s.name == "blk.0.attn_v.weight") s.type = lowbit::ggml::type::i32;
    check_bad_model("type", "llama", t, {"blk.0.attn_v.weight", "I32", "Q4_K"});
  }
}
