// SPDX-License-Identifier: Apache-2.0
// Copyright lowbit contributors
#pragma once

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "lowbit/core/error.hpp"
#include "lowbit/io/gguf.hpp"
#include "tokenizer_vocab.hpp"

namespace llm {

/// SentencePiece-style tokenizer for GGUF `tokenizer.ggml.model` == "llama" (Llama 2, Gemma,
/// Mistral v1/v3 vocabularies with scores and byte fallback), as llama.cpp (0c1e57098) runs it:
/// `llm_tokenizer_spm_session` and the SPM branches of `llama_vocab::impl::tokenize`,
/// `token_to_piece` and `detokenize`.
///
/// Why it is written here rather than taken from SentencePiece (Debian libsentencepiece-dev):
/// that library needs a ModelProto (protobuf) built from the GGUF vocabulary, applies its own
/// normalizer and its own handling of user-defined and byte pieces, and knows nothing of
/// llama.cpp's special-token partition or its space prefix after every special token. Matching
/// llama.cpp's ids would need all of that wrapper logic anyway, while llama.cpp's merge loop
/// itself is a few dozen lines; so this reproduces llama.cpp directly.
///
/// Encoding, as `llama_tokenize(vocab, text, add_special = false, parse_special)`:
/// 1. Special-token partition (`vocabulary::partition`).
/// 2. Each text fragment gets a leading space when `add_space_prefix` (the file's
///    `tokenizer.ggml.add_space_prefix`, default true) and the fragment is the first or follows a
///    special token; then every ASCII space becomes U+2581 ("▁").
/// 3. The fragment is cut into UTF-8 characters by the length its lead byte announces (clipped at
///    the end; continuation bytes are not checked, so a broken sequence swallows what follows);
///    then, repeatedly, the adjacent pair whose concatenation is a token of highest score
///    (leftmost on ties) is merged (Kudo & Richardson, SentencePiece, arXiv:1808.06226; the BPE
///    variant).
/// 4. Each final symbol is its token, or, when it is not one, one byte token `<0xXX>` per byte
///    (byte fallback; a single-byte token text when `<0xXX>` is missing).
///
/// Decoding (`llama_token_to_piece`): control, unknown and user-defined tokens give their text
/// (control and unknown give nothing when `special` is false); normal tokens give their text with
/// U+2581 turned back into spaces; byte tokens give their byte; others nothing. `decode`
/// concatenates as `llama_detokenize` does: with `add_space_prefix`, one leading space of the
/// first piece is dropped (unless `remove_special` dropped a BOS before it).
///
/// Thread-safe for concurrent const use.
class spm_tokenizer {
 public:
  /// Builds the tokenizer from a vocabulary (scores required for sensible merges).
  ///
  /// Throws the `vocabulary` constructor's errors.
  spm_tokenizer(vocabulary::config cfg, bool add_space_prefix)
      : vocab_(std::move(cfg)), add_space_prefix_(add_space_prefix) {
    static constexpr char digits[] = "0123456789ABCDEF";
    for (std::size_t b = 0; b < 256; ++b) {
      const char hex[] = {'<', '0', 'x', digits[b >> 4], digits[b & 15], '>'};
      byte_ids_[b] = vocab_.find(std::string_view(hex, sizeof hex));
      if (byte_ids_[b] < 0) {
        const char c = static_cast<char>(b);
        byte_ids_[b] = vocab_.find(std::string_view(&c, 1));
      }
    }
    const auto n = static_cast<std::int32_t>(vocab_.size());
    pieces_.reserve(vocab_.size());
    for (std::int32_t id = 0; id < n; ++id) pieces_.push_back(make_piece(id));
  }

  /// Builds the tokenizer from a GGUF file's `tokenizer.ggml.*` metadata with llama.cpp's SPM
  /// defaults (BOS 1, EOS 2, UNK 0, add_bos true, add_eos false, add_space_prefix true, each
  /// overridden by the file).
  ///
  /// Throws lowbit::error{errc::unsupported} naming another `tokenizer.ggml.model`; the reader's
  /// errors for absent or mistyped keys; and the constructor's errors.
  static spm_tokenizer from_gguf(const lowbit::io::gguf_file& file) {
    const std::string model(file.get_string("tokenizer.ggml.model"));
    lowbit::check(model == "llama", lowbit::errc::unsupported, [&] {
      return "tokenizer.ggml.model is \"" + model + "\"; only \"llama\" (SentencePiece-style) is supported here";
    });
    vocabulary::config cfg = read_vocabulary_config(file, special_ids{.bos = 1, .eos = 2, .unk = 0}, true, false);
    const bool prefix =
        file.contains("tokenizer.ggml.add_space_prefix") ? file.get_bool("tokenizer.ggml.add_space_prefix") : true;
    return spm_tokenizer(std::move(cfg), prefix);
  }

  /// Token ids of `text`, as `llama_tokenize(vocab, text, add_special = false, parse_special)`.
  ///
  /// Throws lowbit::error{errc::unsupported} when a byte needs the fallback and the vocabulary has
  /// no token for it (llama.cpp throws std::out_of_range there). Allocates the result and scratch;
  /// O(n log n) in the text length.
  [[nodiscard]] std::vector<std::int32_t> encode(std::string_view text, bool parse_special = true) const {
    std::vector<std::int32_t> out;
    if (text.empty()) return out;
    out.reserve(text.size() / 3 + 4);
    session s;
    bool prev_special = true;
    for (const auto& f : vocab_.partition(text, parse_special)) {
      if (f.token >= 0) {
        out.push_back(f.token);
        prev_special = true;
        continue;
      }
      s.text.clear();
      if (add_space_prefix_ && prev_special) s.text = "\xe2\x96\x81";
      for (const char c : text.substr(f.offset, f.length)) {
        if (c == ' ') {
          s.text += "\xe2\x96\x81";
        } else {
          s.text += c;
        }
      }
      merge(s, out);
      prev_special = false;
    }
    return out;
  }

  /// The bytes of token `id` (see the class comment). Throws lowbit::error{errc::out_of_range} for
  /// an id outside [0, size()).
  [[nodiscard]] std::string token_to_piece(std::int32_t id, bool special = true) const {
    vocab_.check_id(id);
    if (!special && vocab_.is_control_or_unknown(id)) return {};
    return pieces_[static_cast<std::size_t>(id)];
  }

  /// The concatenated pieces of `ids`, as `llama_detokenize(..., remove_special, unparse_special =
  /// special)` (see the class comment). Throws lowbit::error{errc::out_of_range} naming the first
  /// id outside [0, size()).
  [[nodiscard]] std::string decode(std::span<const std::int32_t> ids, bool special = true,
                                   bool remove_special = false) const {
    for (const std::int32_t id : ids) vocab_.check_id(id);
    bool remove_space = add_space_prefix_;
    if (remove_special && vocab_.add_bos() && !ids.empty() && ids.front() == vocab_.ids().bos) {
      remove_space = false;
      ids = ids.subspan(1);
    }
    if (remove_special && vocab_.add_eos() && !ids.empty() && ids.back() == vocab_.ids().eos) {
      ids = ids.first(ids.size() - 1);
    }
    std::string out;
    for (const std::int32_t id : ids) {
      if (special || !vocab_.is_control_or_unknown(id)) {
        std::string_view piece = pieces_[static_cast<std::size_t>(id)];
        if (remove_space && !piece.empty() && piece.front() == ' ') piece.remove_prefix(1);
        out += piece;
      }
      remove_space = false;
    }
    return out;
  }

  /// The number of tokens in the vocabulary.
  [[nodiscard]] std::size_t size() const noexcept { return vocab_.size(); }

  /// The beginning-of-sequence id (Gemma 3: 2, `<bos>`), or -1.
  [[nodiscard]] std::int32_t bos_id() const noexcept { return vocab_.ids().bos; }

  /// The end-of-sequence id (Gemma 3: 1, `<eos>`), or -1.
  [[nodiscard]] std::int32_t eos_id() const noexcept { return vocab_.ids().eos; }

  /// Whether text fragments get a leading space (`tokenizer.ggml.add_space_prefix`).
  [[nodiscard]] bool add_space_prefix() const noexcept { return add_space_prefix_; }

  /// The vocabulary (special ids, end-of-generation set, attributes).
  [[nodiscard]] const vocabulary& vocab() const noexcept { return vocab_; }

  /// The id of the token whose stored text is `token_text` (spaces as U+2581, e.g. "▁the").
  ///
  /// Throws lowbit::error{errc::missing_key} naming the text when no token has it.
  [[nodiscard]] std::int32_t id_of(std::string_view token_text) const {
    const std::int32_t id = vocab_.find(token_text);
    lowbit::check(id >= 0, lowbit::errc::missing_key,
                  [&] { return "no token has the text \"" + std::string(token_text) + "\""; });
    return id;
  }

 private:
  struct symbol {
    std::uint32_t start;  // byte offset in the session text
    std::uint32_t n;      // byte length; 0 once merged into its left neighbour
    std::int32_t prev;
    std::int32_t next;
  };

  struct bigram {
    float score;
    std::int32_t left;
    std::int32_t right;
    std::uint32_t size;  // bytes when queued; a bigram is stale once either symbol changed
  };

  struct session {
    std::string text;
    std::vector<symbol> symbols;
    std::vector<bigram> heap;
  };

  std::string make_piece(std::int32_t id) const {
    const std::string& text = vocab_.text(id);
    const std::uint16_t a = vocab_.attrs(id);
    if (a & (token_attr::control | token_attr::unknown | token_attr::user_defined)) return text;
    if (a & token_attr::normal) {
      std::string piece;
      for (std::size_t i = 0; i < text.size();) {
        if (text.compare(i, 3, "\xe2\x96\x81") == 0) {
          piece += ' ';
          i += 3;
        } else {
          piece += text[i++];
        }
      }
      return piece;
    }
    if (a & token_attr::byte) return std::string(1, static_cast<char>(detail::byte_token_value(text)));
    return {};
  }

  static std::size_t utf8_length(char lead) noexcept {
    static constexpr std::array<std::uint8_t, 16> by_high_nibble = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 3, 4};
    return by_high_nibble[static_cast<std::uint8_t>(lead) >> 4];
  }

  /// Steps 3 and 4 on `s.text`, appending ids to `out`.
  void merge(session& s, std::vector<std::int32_t>& out) const {
    const std::string_view text = s.text;
    auto& symbols = s.symbols;
    symbols.clear();
    for (std::size_t offset = 0; offset < text.size();) {
      const std::size_t len = std::min(utf8_length(text[offset]), text.size() - offset);
      const auto index = static_cast<std::int32_t>(symbols.size());
      offset += len;
      symbols.push_back({static_cast<std::uint32_t>(offset - len), static_cast<std::uint32_t>(len), index - 1,
                         offset == text.size() ? -1 : index + 1});
    }
    if (symbols.empty()) return;

    // A max-heap on (score, -left): llama.cpp's llm_bigram_spm queue order.
    auto& heap = s.heap;
    heap.clear();
    const auto before = [](const bigram& a, const bigram& b) {
      return a.score < b.score || (a.score == b.score && a.left > b.left);
    };
    const auto push = [&](std::int32_t left, std::int32_t right) {
      if (left < 0 || right < 0) return;
      const symbol& l = symbols[static_cast<std::size_t>(left)];
      const symbol& r = symbols[static_cast<std::size_t>(right)];
      const std::int32_t id = vocab_.find(text.substr(l.start, l.n + r.n));
      if (id < 0) return;
      heap.push_back({vocab_.score(id), left, right, l.n + r.n});
      std::push_heap(heap.begin(), heap.end(), before);
    };
    for (std::size_t i = 1; i < symbols.size(); ++i)
      push(static_cast<std::int32_t>(i - 1), static_cast<std::int32_t>(i));

    while (!heap.empty()) {
      std::pop_heap(heap.begin(), heap.end(), before);
      const bigram top = heap.back();
      heap.pop_back();
      symbol& left = symbols[static_cast<std::size_t>(top.left)];
      symbol& right = symbols[static_cast<std::size_t>(top.right)];
      // A live left symbol can only have grown by absorbing `right`; a live right one only by
      // absorbing its own right neighbour. Either changes the sum.
      if (left.n == 0 || right.n == 0 || left.n + right.n != top.size) continue;
      left.n += right.n;
      right.n = 0;
      left.next = right.next;
      if (right.next >= 0) symbols[static_cast<std::size_t>(right.next)].prev = top.left;
      push(left.prev, top.left);
      push(top.left, left.next);
    }

    for (std::int32_t i = 0; i >= 0; i = symbols[static_cast<std::size_t>(i)].next) {
      const symbol& sym = symbols[static_cast<std::size_t>(i)];
      const std::string_view piece = text.substr(sym.start, sym.n);
      if (const std::int32_t id = vocab_.find(piece); id >= 0) {
        out.push_back(id);
        continue;
      }
      // llama.cpp's resegment() would first look the text up among merged pairs, but every merged
      // symbol is a token, so a symbol that is not a token is an unmerged character: its bytes.
      for (const char c : piece) {
        const std::int32_t id = byte_ids_[static_cast<std::uint8_t>(c)];
        lowbit::check(id >= 0, lowbit::errc::unsupported, [&] {
          return "the vocabulary has no byte token <0x" + detail::hex(static_cast<std::uint8_t>(c), 2) +
                 "> for the byte fallback";
        });
        out.push_back(id);
      }
    }
  }

  vocabulary vocab_;
  bool add_space_prefix_ = true;
  std::array<std::int32_t, 256> byte_ids_{};
  std::vector<std::string> pieces_;
};

}  // namespace llm
