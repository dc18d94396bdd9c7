// SPDX-License-Identifier: Apache-2.0
// Copyright lowbit contributors
//
// libFuzzer target: the tokenizers of examples/llm (byte-level BPE and SentencePiece-style),
// bytes -> ids -> bytes.
//
// Vocabularies: the real ones, loaded once from the GGUF files named by the environment variables
// LOWBIT_FUZZ_BPE_GGUF (SmolLM2-135M-Instruct, "gpt2" model, "smollm" pre-tokenizer) and
// LOWBIT_FUZZ_SPM_GGUF (Gemma 3 270M, "llama" model); scripts/fuzz.sh points them at the models
// scripts/test.sh fetches. A variable that is unset or names no readable file skips that
// tokenizer (with a note on stderr); with neither, the target exits with status 2.
//
// Input: byte 0 chooses the tokenizer (bit 0) and parse_special (bit 1); the rest is the text.
// Properties, for every text: encode returns ids inside the vocabulary or throws `lowbit::error`
// (BPE: errc::invalid_argument for a sequence the lenient UTF-8 decoder reads past U+10FFFF); decode
// of any ids (also the text read as raw ids) returns or throws `lowbit::error`. Round trip,
// decode(encode(text, parse_special), special = true) == text, for the texts each tokenizer can
// represent:
// - BPE: well-formed UTF-8 (shortest forms, scalar values up to U+10FFFF; UTF-16 surrogates are
//   allowed since the encoder re-encodes them unchanged) whose every byte has a byte-level token
//   (SmolLM2 has none for 0x04, 0x06, 0x13, ...: such bytes are dropped, as in llama.cpp);
//   invalid sequences become U+FFFD and are not represented.
// - SPM: well-formed UTF-8 (as above) without U+2581 ("▁", which the decoder turns into a space).
//   Invalid UTF-8 is not represented: the encoder cuts characters by the length the lead byte
//   announces without checking continuation bytes (as llama.cpp does), so a broken sequence
//   swallows the first bytes of the "▁" that stands for a following space, and the byte-fallback
//   tokens give those bytes back instead of the space.

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz_common.hpp"
#include "lowbit/io/gguf.hpp"
#include "tokenizer.hpp"

namespace {

struct loaded {
  lowbit::io::gguf_file file;
  std::optional<llm::text_tokenizer> tok;
  std::array<bool, 256> byte_has_token{};  // BPE: byte b's GPT-2 code point is a token
};

std::unique_ptr<loaded> bpe_vocab, spm_vocab;

std::unique_ptr<loaded> load(const char* env, std::string_view want_model) {
  const char* path = std::getenv(env);
  if (path == nullptr || *path == '\0') {
    std::fprintf(stderr, "fuzz_tokenizer: %s is not set; that tokenizer is skipped\n", env);
    return nullptr;
  }
  auto v = std::make_unique<loaded>();
  try {
    v->file = lowbit::io::gguf_file::open(path);
    v->tok.emplace(llm::load_tokenizer(v->file));
  } catch (const lowbit::error& e) {
    std::fprintf(stderr, "fuzz_tokenizer: %s=%s cannot be loaded (%s); that tokenizer is skipped\n", env, path,
                 e.what());
    return nullptr;
  }
  if (v->tok->model() != want_model) {
    std::fprintf(stderr, "fuzz_tokenizer: %s=%s holds a \"%.*s\" tokenizer, expected \"%.*s\"\n", env, path,
                 static_cast<int>(v->tok->model().size()), v->tok->model().data(), static_cast<int>(want_model.size()),
                 want_model.data());
    std::exit(2);
  }
  if (v->tok->bpe() != nullptr) {
    for (int b = 0; b < 256; ++b) {
      std::string text;
      llm::unicode::append_utf8(text, llm::detail::byte_to_code_point[static_cast<std::size_t>(b)]);
      try {
        (void)v->tok->id_of(text);
        v->byte_has_token[static_cast<std::size_t>(b)] = true;
      } catch (const lowbit::error&) {
      }
    }
  }
  return v;
}

// True when `s` is well-formed UTF-8 in shortest form with values up to U+10FFFF (surrogates allowed).
bool well_formed_utf8(std::string_view s) {
  std::size_t i = 0;
  const auto at = [&](std::size_t k) { return static_cast<unsigned char>(s[k]); };
  while (i < s.size()) {
    const unsigned b = at(i);
    std::size_t n = 0;
    char32_t c = 0;
    if (b < 0x80) {
      ++i;
      continue;
    } else if ((b & 0xE0) == 0xC0) {
      n = 2, c = b & 0x1F;
    } else if ((b & 0xF0) == 0xE0) {
      n = 3, c = b & 0x0F;
    } else if ((b & 0xF8) == 0xF0) {
      n = 4, c = b & 0x07;
    } else {
      return false;
    }
    if (i + n > s.size()) return false;
    for (std::size_t k = 1; k < n; ++k) {
      if ((at(i + k) & 0xC0) != 0x80) return false;
      c = c << 6 | (at(i + k) & 0x3F);
    }
    const char32_t min = n == 2 ? 0x80 : n == 3 ? 0x800 : 0x10000;
    if (c < min || c > 0x10FFFF) return false;
    i += n;
  }
  return true;
}

bool representable(const loaded& v, std::string_view text, bool parse_special) {
  if (v.tok->bpe() != nullptr) {
    if (!well_formed_utf8(text)) return false;
    for (const char c : text) {
      if (!v.byte_has_token[static_cast<unsigned char>(c)]) return false;
    }
    return true;
  }
  (void)parse_special;
  return well_formed_utf8(text) && text.find("\xe2\x96\x81") == std::string_view::npos;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  bpe_vocab = load("LOWBIT_FUZZ_BPE_GGUF", "gpt2");
  spm_vocab = load("LOWBIT_FUZZ_SPM_GGUF", "llama");
  if (!bpe_vocab && !spm_vocab) {
    std::fprintf(stderr, "fuzz_tokenizer: no vocabulary; set LOWBIT_FUZZ_BPE_GGUF and/or LOWBIT_FUZZ_SPM_GGUF\n");
    std::exit(2);
  }
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using lowbit::fuzz::expect;
  if (size == 0) return 0;
  const loaded* v = (data[0] & 1) != 0 ? spm_vocab.get() : bpe_vocab.get();
  if (v == nullptr) v = bpe_vocab ? bpe_vocab.get() : spm_vocab.get();
  const bool parse_special = (data[0] & 2) != 0;
  const std::string_view text(reinterpret_cast<const char*>(data) + 1, size - 1);
  const llm::text_tokenizer& tok = *v->tok;
  const auto n = static_cast<std::int64_t>(tok.size());

  // The text's bytes read as ids: decode either works or names a bad id.
  std::vector<std::int32_t> raw(text.size() / 4);
  if (!raw.empty()) std::memcpy(raw.data(), text.data(), raw.size() * 4);
  try {
    (void)tok.decode(raw, (data[0] & 4) != 0, (data[0] & 8) != 0);
  } catch (const lowbit::error& e) {
    expect(e.code() == lowbit::errc::out_of_range, "decode of raw ids threw other than out_of_range");
  }

  std::vector<std::int32_t> ids;
  try {
    ids = tok.encode(text, false, parse_special);
  } catch (const lowbit::error& e) {
    expect(tok.bpe() != nullptr && e.code() == lowbit::errc::invalid_argument && !well_formed_utf8(text),
           "encode threw for a text it should take");
    return 0;
  }
  for (const std::int32_t id : ids) expect(id >= 0 && id < n, "encode gave an id outside the vocabulary");
  const std::string back = tok.decode(ids, true, false);
  if (representable(*v, text, parse_special) && back != text) {
    std::fprintf(stderr, "tokenizer %.*s, parse_special %d: %zu ids decode to %zu bytes, text has %zu\n",
                 static_cast<int>(tok.model().size()), tok.model().data(), parse_special ? 1 : 0, ids.size(),
                 back.size(), text.size());
    lowbit::fuzz::finding("decode(encode(text)) != text for a representable text");
  }
  return 0;
}
