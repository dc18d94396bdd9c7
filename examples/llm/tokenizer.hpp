// SPDX-License-Identifier: Apache-2.0
// Copyright lowbit contributors
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "lowbit/core/error.hpp"
#include "lowbit/io/gguf.hpp"
#include "tokenizer_bpe.hpp"
#include "tokenizer_spm.hpp"
#include "tokenizer_vocab.hpp"

namespace llm {

/// The byte-level BPE tokenizer under its first name (SmolLM2's CLI and tests).
using tokenizer = bpe_tokenizer;

/// The tokenizer a GGUF file describes, token for token as llama.cpp (0c1e57098) runs it: byte-level
/// BPE for `tokenizer.ggml.model` "gpt2" (`bpe_tokenizer`), SentencePiece-style for "llama"
/// (`spm_tokenizer`). Made by `load_tokenizer`.
///
/// Thread-safe for concurrent const use.
class text_tokenizer {
 public:
  explicit text_tokenizer(bpe_tokenizer t) : impl_(std::move(t)) {}
  explicit text_tokenizer(spm_tokenizer t) : impl_(std::move(t)) {}

  /// Token ids of `text`, as `llama_tokenize(vocab, text, add_special, parse_special)`:
  /// `add_special` prepends BOS and appends EOS where the file says so (`add_bos()`, `add_eos()`);
  /// `parse_special` turns the texts of control tokens (`<|im_start|>`, `<start_of_turn>`) into
  /// those tokens; user-defined tokens are always split out.
  ///
  /// Throws lowbit::error{errc::corrupt} when BOS/EOS is to be added but the vocabulary has none
  /// (llama.cpp asserts), and the encoder's errors (`bpe_tokenizer::encode`, `spm_tokenizer::encode`).
  [[nodiscard]] std::vector<std::int32_t> encode(std::string_view text, bool add_special, bool parse_special) const {
    const vocabulary& v = vocab();
    const bool bos = add_special && v.add_bos();
    const bool eos = add_special && v.add_eos();
    lowbit::check(!(bos && v.ids().bos < 0) && !(eos && v.ids().eos < 0), lowbit::errc::corrupt,
                  "the vocabulary asks for BOS/EOS to be added but has no such token");
    std::vector<std::int32_t> body = std::visit([&](const auto& t) { return t.encode(text, parse_special); }, impl_);
    if (!bos && !eos) return body;
    std::vector<std::int32_t> out;
    out.reserve(body.size() + 2);
    if (bos) out.push_back(v.ids().bos);
    out.insert(out.end(), body.begin(), body.end());
    if (eos) out.push_back(v.ids().eos);
    return out;
  }

  /// The bytes of token `id`, as `llama_token_to_piece(vocab, id, buf, len, lstrip = 0, special)`:
  /// with `special` false, control and unknown tokens give "". May be partial UTF-8.
  ///
  /// Throws lowbit::error{errc::out_of_range} for an id outside [0, size()).
  [[nodiscard]] std::string token_to_piece(std::int32_t id, bool special = true) const {
    return std::visit([&](const auto& t) { return t.token_to_piece(id, special); }, impl_);
  }

  /// The text of `ids`, as `llama_detokenize(vocab, ids, n, buf, len, remove_special,
  /// unparse_special = special)`.
  ///
  /// Throws lowbit::error{errc::out_of_range} naming the first id outside [0, size()).
  [[nodiscard]] std::string decode(std::span<const std::int32_t> ids, bool special = true,
                                   bool remove_special = false) const {
    return std::visit([&](const auto& t) { return t.decode(ids, special, remove_special); }, impl_);
  }

  /// Beginning / end of sequence / end of turn ids, or -1 (`llama_vocab_bos`, `_eos`, `_eot`).
  [[nodiscard]] std::int32_t bos_id() const noexcept { return vocab().ids().bos; }
  [[nodiscard]] std::int32_t eos_id() const noexcept { return vocab().ids().eos; }
  [[nodiscard]] std::int32_t eot_id() const noexcept { return vocab().ids().eot; }

  /// Whether `encode(..., add_special = true, ...)` adds BOS / EOS (`llama_vocab_get_add_bos`, `_eos`).
  [[nodiscard]] bool add_bos() const noexcept { return vocab().add_bos(); }
  [[nodiscard]] bool add_eos() const noexcept { return vocab().add_eos(); }

  /// True when `id` ends generation (`llama_vocab_is_eog`): EOS, EOT, EOM, the FIM pad/repo/file
  /// separator tokens, and tokens named like ends (`<|im_end|>`, `<|endoftext|>`, `<end_of_turn>`,
  /// `<eos>`, ...); false for ids outside the vocabulary.
  [[nodiscard]] bool is_end_of_generation(std::int32_t id) const noexcept { return vocab().is_eog(id); }

  /// The number of tokens in the vocabulary.
  [[nodiscard]] std::size_t size() const noexcept { return vocab().size(); }

  /// The id of the token whose stored text is `token_text` (the file's form: "Ġthe" for byte-level
  /// BPE, "▁the" for SentencePiece, "<|im_end|>").
  ///
  /// Throws lowbit::error{errc::missing_key} naming the text when no token has it.
  [[nodiscard]] std::int32_t id_of(std::string_view token_text) const {
    return std::visit([&](const auto& t) { return t.id_of(token_text); }, impl_);
  }

  /// The vocabulary (texts, attributes, special ids, end-of-generation set).
  [[nodiscard]] const vocabulary& vocab() const noexcept {
    return std::visit([](const auto& t) -> const vocabulary& { return t.vocab(); }, impl_);
  }

  /// The GGUF `tokenizer.ggml.model` this implements: "gpt2" or "llama".
  [[nodiscard]] std::string_view model() const noexcept {
    return std::holds_alternative<bpe_tokenizer>(impl_) ? "gpt2" : "llama";
  }

  /// The BPE tokenizer, or nullptr for a SentencePiece vocabulary.
  [[nodiscard]] const bpe_tokenizer* bpe() const noexcept { return std::get_if<bpe_tokenizer>(&impl_); }

  /// The SentencePiece tokenizer, or nullptr for a BPE vocabulary.
  [[nodiscard]] const spm_tokenizer* spm() const noexcept { return std::get_if<spm_tokenizer>(&impl_); }

 private:
  std::variant<bpe_tokenizer, spm_tokenizer> impl_;
};

/// The tokenizer of a GGUF file, chosen by `tokenizer.ggml.model` ("gpt2": `bpe_tokenizer::from_gguf`,
/// "llama": `spm_tokenizer::from_gguf`).
///
/// Throws lowbit::error{errc::unsupported} naming another `tokenizer.ggml.model` or an unsupported
/// `tokenizer.ggml.pre`; the reader's errors (errc::missing_key, errc::type_mismatch) for absent or
/// mistyped keys; and the vocabulary's errc::corrupt.
inline text_tokenizer load_tokenizer(const lowbit::io::gguf_file& file) {
  const std::string model(file.get_string("tokenizer.ggml.model"));
  if (model == "gpt2") return text_tokenizer(bpe_tokenizer::from_gguf(file));
  if (model == "llama") return text_tokenizer(spm_tokenizer::from_gguf(file));
  throw lowbit::error(lowbit::errc::unsupported,
                      "tokenizer.ggml.model \"" + model +
                          "\" is not supported; supported: \"gpt2\" (byte-level BPE), \"llama\" (SentencePiece)");
}

}  // namespace llm
