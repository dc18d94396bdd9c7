// SPDX-License-Identifier: Apache-2.0
// Copyright lowbit contributors
//
// Writes the small GGUF seeds of fuzz/corpus/gguf_reader and fuzz/corpus/gguf_writer (run once; the
// outputs are committed): `make_seeds <dir>` writes <dir>/*.gguf. Built and run by hand:
//   clang++ -std=c++20 -I include fuzz/make_seeds.cpp -o /tmp/make_seeds && /tmp/make_seeds <dir>

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "lowbit/io/gguf_writer.hpp"

namespace {

using lowbit::ggml::type;
using lowbit::io::gguf_kv_value;
using lowbit::io::gguf_writer;

std::vector<std::byte> pattern(std::size_t n) {
  std::vector<std::byte> out(n);
  for (std::size_t i = 0; i < n; ++i) out[i] = static_cast<std::byte>((i * 37 + 11) & 0xff);
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: make_seeds <dir>\n");
    return 1;
  }
  const std::filesystem::path dir = argv[1];

  // Every value type, a nested array, and tensors of a float, a legacy and a K-quant type.
  gguf_writer all;
  all.set("general.architecture", gguf_kv_value::string("llama"));
  all.set("u8", gguf_kv_value::scalar(std::uint8_t{7}));
  all.set("i8", gguf_kv_value::scalar(std::int8_t{-7}));
  all.set("u16", gguf_kv_value::scalar(std::uint16_t{700}));
  all.set("i16", gguf_kv_value::scalar(std::int16_t{-700}));
  all.set("u32", gguf_kv_value::scalar(std::uint32_t{70000}));
  all.set("i32", gguf_kv_value::scalar(std::int32_t{-70000}));
  all.set("f32", gguf_kv_value::scalar(0.5f));
  all.set("bool", gguf_kv_value::scalar(true));
  all.set("u64", gguf_kv_value::scalar(std::uint64_t{1} << 40));
  all.set("i64", gguf_kv_value::scalar(-(std::int64_t{1} << 40)));
  all.set("f64", gguf_kv_value::scalar(0.25));
  const std::vector<float> floats = {1.0f, -2.0f, 3.5f};
  all.set("floats", gguf_kv_value::array<float>(floats));
  all.set("strings", gguf_kv_value::string_array({"a", "bc", ""}));
  const std::vector<std::int32_t> ints = {1, -1};
  all.set("nested", gguf_kv_value::array_of_arrays(
                        {gguf_kv_value::array<std::int32_t>(ints), gguf_kv_value::string_array({"x"})}));
  all.add_tensor("f32", type::f32, std::vector<std::uint64_t>{4, 2}, pattern(32));
  all.add_tensor("q4_0", type::q4_0, std::vector<std::uint64_t>{32}, pattern(18));
  all.add_tensor("q4_k", type::q4_k, std::vector<std::uint64_t>{256}, pattern(144));
  all.write(dir / "all_types.gguf");

  // A tokenizer-like file with a small alignment.
  gguf_writer vocab;
  vocab.set("general.alignment", gguf_kv_value::scalar(std::uint32_t{8}));
  vocab.set("tokenizer.ggml.model", gguf_kv_value::string("gpt2"));
  vocab.set("tokenizer.ggml.tokens", gguf_kv_value::string_array({"a", "b", "ab", "<|im_end|>"}));
  vocab.set("tokenizer.ggml.merges", gguf_kv_value::string_array({"a b"}));
  vocab.add_tensor("t", type::q8_0, std::vector<std::uint64_t>{32, 1, 1, 1}, pattern(34));
  vocab.write(dir / "vocab_align8.gguf");

  // Tokenizer vocabularies (fuzz/corpus/tokenizer_vocab): byte-level BPE with SmolLM2's
  // pre-tokenizer, and SentencePiece-style with byte fallback and scores.
  gguf_writer bpe;
  bpe.set("tokenizer.ggml.model", gguf_kv_value::string("gpt2"));
  bpe.set("tokenizer.ggml.pre", gguf_kv_value::string("smollm"));
  bpe.set("tokenizer.ggml.tokens",
          gguf_kv_value::string_array({"<|endoftext|>", "<|im_start|>", "<|im_end|>", "a", "b", "c", "\xc4\xa0", "ab",
                                       "\xc4\xa0"
                                       "a",
                                       "1"}));
  const std::vector<std::int32_t> bpe_types = {3, 3, 3, 1, 1, 1, 1, 1, 1, 1};
  bpe.set("tokenizer.ggml.token_type", gguf_kv_value::array<std::int32_t>(bpe_types));
  bpe.set("tokenizer.ggml.merges", gguf_kv_value::string_array({"a b", "\xc4\xa0 a"}));
  bpe.set("tokenizer.ggml.bos_token_id", gguf_kv_value::scalar(std::uint32_t{1}));
  bpe.set("tokenizer.ggml.eos_token_id", gguf_kv_value::scalar(std::uint32_t{2}));
  bpe.write(dir / "vocab_bpe.gguf");

  gguf_writer spm;
  spm.set("tokenizer.ggml.model", gguf_kv_value::string("llama"));
  std::vector<std::string> pieces = {"<unk>",
                                     "<s>",
                                     "</s>",
                                     "<start_of_turn>",
                                     "\xe2\x96\x81",
                                     "a",
                                     "b",
                                     "\xe2\x96\x81"
                                     "a",
                                     "ab"};
  std::vector<std::int32_t> spm_types = {2, 3, 3, 3, 1, 1, 1, 1, 1};
  std::vector<float> scores = {0, 0, 0, 0, -1, -2, -3, -1.5f, -2.5f};
  for (int b = 0; b < 256; ++b) {
    static constexpr char digits[] = "0123456789ABCDEF";
    pieces.push_back(std::string("<0x") + digits[b >> 4] + digits[b & 15] + ">");
    spm_types.push_back(6);
    scores.push_back(0);
  }
  spm.set("tokenizer.ggml.tokens", gguf_kv_value::string_array(pieces));
  spm.set("tokenizer.ggml.token_type", gguf_kv_value::array<std::int32_t>(spm_types));
  spm.set("tokenizer.ggml.scores", gguf_kv_value::array<float>(scores));
  spm.set("tokenizer.ggml.add_space_prefix", gguf_kv_value::scalar(false));
  spm.write(dir / "vocab_spm.gguf");

  // No KV pairs, no tensors.
  gguf_writer empty;
  empty.write(dir / "empty.gguf");
  return 0;
}
