// SPDX-License-Identifier: Apache-2.0
// Copyright lowbit contributors
//
// libFuzzer target: building a tokenizer of examples/llm from an untrusted GGUF vocabulary. The
// input is a GGUF file; when it parses, `llm::load_tokenizer` builds the tokenizer its
// `tokenizer.ggml.*` keys describe (tokens, types, scores, merges, special ids, flags), and a few
// fixed texts and every token's own text are encoded and decoded. Properties: each step returns
// or throws `lowbit::error`; encoded ids lie inside the vocabulary; and every id decodes.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz_common.hpp"
#include "lowbit/io/gguf.hpp"
#include "tokenizer.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using lowbit::fuzz::expect;
  lowbit::io::gguf_file f;
  std::optional<llm::text_tokenizer> tok;
  try {
    f = lowbit::io::gguf_file::parse(lowbit::fuzz::as_bytes(data, size));
    tok.emplace(llm::load_tokenizer(f));
  } catch (const lowbit::error&) {
    return 0;
  }
  const auto n = static_cast<std::int64_t>(tok->size());
  std::vector<std::string> texts = {"Hello, world!", " a  b\n\tc 123 ", "<|im_start|>user\nhi<|im_end|>",
                                    "caf\xc3\xa9 \xe2\x96\x81x \xf0\x9f\x98\x80", std::string("\x00\xff\x80", 3)};
  for (std::int32_t id = 0; id < n && id < 64; ++id) texts.push_back(tok->token_to_piece(id));
  for (const auto& text : texts) {
    for (const bool parse_special : {false, true}) {
      std::vector<std::int32_t> ids;
      try {
        ids = tok->encode(text, parse_special, parse_special);
      } catch (const lowbit::error&) {
        continue;
      }
      for (const std::int32_t id : ids) expect(id >= 0 && id < n, "encode gave an id outside the vocabulary");
      (void)tok->decode(ids, parse_special, parse_special);
    }
  }
  for (std::int32_t id = 0; id < n; ++id) (void)tok->is_end_of_generation(id);
  return 0;
}
