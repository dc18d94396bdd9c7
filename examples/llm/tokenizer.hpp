// SPDX-License-Identifier: Apache-2.0
// Copyright lowbit contributors
#pragma once

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "lowbit/core/error.hpp"
#include "lowbit/io/gguf.hpp"
#include "unicode_categories.hpp"

namespace llm {

/// The kind of a vocabulary entry, as GGUF's `tokenizer.ggml.token_type` numbers it (llama.cpp
/// `enum llama_token_type`, gguf-py `TokenType`).
enum class token_type : std::int32_t {
  undefined = 0,     ///< no known kind; decodes to nothing
  normal = 1,        ///< ordinary byte-level BPE token
  unknown = 2,       ///< the unknown token; split out of text like a control token
  control = 3,       ///< `<|im_start|>` and friends; split out of text when parsing specials
  user_defined = 4,  ///< always split out of text, even when not parsing specials
  unused = 5,        ///< decodes to nothing
  byte = 6,          ///< `<0xXX>` byte token
};

namespace detail {

/// GPT-2's reversible byte -> code point map (`bytes_to_unicode` in OpenAI's gpt-2 encoder.py):
/// bytes 0x21..0x7E, 0xA1..0xAC and 0xAE..0xFF map to the code point of equal value; the other 68
/// bytes, in increasing order, map to U+0100, U+0101, ... U+0143.
constexpr std::array<char32_t, 256> gpt2_byte_to_code_point() noexcept {
  std::array<char32_t, 256> map{};
  char32_t next = 256;
  for (int b = 0; b < 256; ++b) {
    const bool printable = (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
    map[static_cast<std::size_t>(b)] = printable ? static_cast<char32_t>(b) : next++;
  }
  return map;
}

inline constexpr std::array<char32_t, 256> byte_to_code_point = gpt2_byte_to_code_point();

/// Hex of a value with `digits` lowercase digits, for messages.
inline std::string hex(std::uint32_t value, int digits) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "%0*x", digits, static_cast<unsigned>(value));
  return buf;
}

/// Transparent string hash, so maps keyed by std::string accept std::string_view.
struct string_hash {
  using is_transparent = void;
  std::size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>{}(s); }
};

}  // namespace detail

/// SmolLM2's tokenizer: GPT-2 byte-level BPE behind the "smollm" pre-tokenizer, token for token
/// as llama.cpp (0c1e57098) tokenizes and detokenizes it.
///
/// Encoding, as `llama_tokenize(vocab, text, add_special = false, parse_special)`:
/// 1. Special-token partition (llama.cpp `tokenizer_st_partition`): the texts of control and
///    unknown tokens (only with `parse_special`) and of user-defined tokens (always) are cut out of
///    the text. Tokens are tried longest text first (ties by id); each one splits every remaining
///    text fragment at all its non-overlapping occurrences, left to right. The text between
///    matches is kept whole (no whitespace stripping: llama.cpp sets the lstrip/rstrip attributes
///    only for a few models chosen by name, none of them SmolLM).
/// 2. Pre-tokenization of each text fragment (llama.cpp `LLAMA_VOCAB_PRE_TYPE_SMOLLM`): the
///    fragment is decoded leniently (`unicode::decode_utf8`), then split by the regex `\p{N}` (every
///    number code point becomes its own piece, so numbers are tokenized digit by digit), then each
///    piece by the GPT-2 regex `'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+`
///    (contractions are lowercase only; a run of n > 1 whitespace code points followed by a
///    non-space gives n - 1 of them to the run and leaves the last to prefix the next word).
///    Classes as in `unicode_categories.hpp`.
/// 3. Byte-level BPE of each word: the word is re-encoded to UTF-8 (so an invalid byte became
///    U+FFFD, EF BF BD, and an overlong form its shortest form), each byte is one initial symbol,
///    and the adjacent pair with the lowest merge rank (leftmost on ties) is merged until no pair
///    has a rank (Sennrich et al., BPE, arXiv:1508.07909; Radford et al., GPT-2 byte-level BPE).
///    A byte whose GPT-2 code point is not a token (SmolLM2 lacks 0x04, 0x06, 0x13, 0x14, 0x16,
///    0x1D, 0xC0, 0xC1, 0xF1, 0xF2 and 0xF5..0xFF) never merges and yields no id, as in llama.cpp.
///
/// Decoding, as `llama_token_to_piece(vocab, id, buf, len, lstrip = 0, special)`: a normal token's
/// text is mapped back through GPT-2's byte map, so a piece may be partial UTF-8; control, unknown
/// and user-defined tokens give their text verbatim, except that control and unknown tokens give
/// nothing when `special` is false; byte tokens give their byte; undefined and unused tokens give
/// nothing. `decode` concatenates pieces as `llama_detokenize(..., remove_special = false,
/// unparse_special = special)` does for this vocabulary (no space prefix to remove, no space
/// clean-up: `clean_spaces` is false for "smollm").
///
/// Construction builds the id maps, the merge table keyed by id pairs and all pieces; encoding
/// allocates only per call. Thread-safe for concurrent const use.
class tokenizer {
 public:
  /// Builds the tokenizer from a vocabulary.
  ///
  /// `tokens`: token texts in GPT-2 byte-to-unicode form, by id (an empty text becomes
  /// "[EMPTY_<id>]" as in llama.cpp). `token_types`: one `token_type` value per token, or empty for
  /// all normal (llama.cpp's default when the GGUF key is absent); values outside 0..6 count as
  /// undefined. `merges`: "left right" strings, split at the first space after the first byte, by
  /// rank (a repeated pair keeps its first rank). `pre_tokenizer`: must be "smollm". `bos_id`,
  /// `eos_id`: token ids or -1 for none.
  ///
  /// Throws lowbit::error{errc::unsupported} for another pre-tokenizer; lowbit::error{errc::corrupt}
  /// for an empty vocabulary, a `token_types` size other than 0 or `tokens.size()`, a repeated token
  /// text, a merge that does not split in two or whose halves or concatenation are not tokens, or a
  /// bos/eos id outside the vocabulary.
  tokenizer(std::vector<std::string> tokens, std::vector<std::int32_t> token_types,
            const std::vector<std::string>& merges, std::string_view pre_tokenizer, std::int32_t bos_id = -1,
            std::int32_t eos_id = -1)
      : tokens_(std::move(tokens)), bos_id_(bos_id), eos_id_(eos_id) {
    using lowbit::errc;
    lowbit::check(pre_tokenizer == "smollm", errc::unsupported, [&] {
      return "pre-tokenizer \"" + std::string(pre_tokenizer) + "\" is not supported; only \"smollm\" is";
    });
    lowbit::check(!tokens_.empty(), errc::corrupt, "the vocabulary has no tokens");
    lowbit::check(token_types.empty() || token_types.size() == tokens_.size(), errc::corrupt, [&] {
      return "token_type has " + std::to_string(token_types.size()) + " entries but the vocabulary has " +
             std::to_string(tokens_.size()) + " tokens";
    });
    lowbit::check(tokens_.size() < std::size_t{1} << 31, errc::corrupt, "the vocabulary has over 2^31 tokens");
    const auto n = static_cast<std::int32_t>(tokens_.size());

    types_.resize(tokens_.size(), token_type::normal);
    ids_.reserve(tokens_.size());
    for (std::int32_t id = 0; id < n; ++id) {
      auto& text = tokens_[static_cast<std::size_t>(id)];
      if (text.empty()) text = "[EMPTY_" + std::to_string(id) + "]";
      if (!token_types.empty()) {
        const std::int32_t t = token_types[static_cast<std::size_t>(id)];
        types_[static_cast<std::size_t>(id)] = (t >= 0 && t <= 6) ? token_type{t} : token_type::undefined;
      }
      const auto [it, inserted] = ids_.emplace(text, id);
      lowbit::check(inserted, errc::corrupt, [&] {
        return "token " + std::to_string(id) + " repeats the text \"" + text + "\" of token " +
               std::to_string(it->second);
      });
    }
    for (const std::int32_t special : {bos_id_, eos_id_}) {
      lowbit::check(special >= -1 && special < n, errc::corrupt, [&] {
        return "special token id " + std::to_string(special) + " is outside the vocabulary of " + std::to_string(n) +
               " tokens";
      });
    }

    merges_.reserve(merges.size());
    for (std::size_t rank = 0; rank < merges.size(); ++rank) {
      const std::string& merge = merges[rank];
      const std::size_t space = merge.empty() ? std::string::npos : merge.find(' ', 1);
      lowbit::check(space != std::string::npos, errc::corrupt, [&] {
        return "merge " + std::to_string(rank) + " \"" + merge + "\" does not split in two at a space";
      });
      const std::string_view left = std::string_view(merge).substr(0, space);
      const std::string_view right = std::string_view(merge).substr(space + 1);
      const std::int32_t left_id = find_id(left);
      const std::int32_t right_id = find_id(right);
      const std::int32_t merged_id = find_id(std::string(left) + std::string(right));
      lowbit::check(left_id >= 0 && right_id >= 0 && merged_id >= 0, errc::corrupt, [&] {
        return "merge " + std::to_string(rank) + " \"" + merge + "\" names " +
               (left_id < 0    ? "the unknown token \"" + std::string(left) + "\""
                : right_id < 0 ? "the unknown token \"" + std::string(right) + "\""
                               : "a pair whose concatenation is not a token");
      });
      merges_.emplace(pair_key(left_id, right_id), merge_entry{static_cast<std::int32_t>(rank), merged_id});
    }

    for (std::size_t b = 0; b < 256; ++b) {
      std::string text;
      unicode::append_utf8(text, detail::byte_to_code_point[b]);
      byte_ids_[b] = find_id(text);
      // llama.cpp's fallback for a symbol that is not a token: each byte of its text, looked up as
      // a one-byte token text.
      if (byte_ids_[b] < 0) {
        for (const char c : text) {
          if (const std::int32_t id = find_id(std::string_view(&c, 1)); id >= 0) byte_fallback_[b].push_back(id);
        }
      }
    }

    for (std::int32_t id = 0; id < n; ++id) {
      const token_type t = types_[static_cast<std::size_t>(id)];
      if (t == token_type::control || t == token_type::unknown || t == token_type::user_defined) {
        special_order_.push_back(id);
      }
    }
    std::stable_sort(special_order_.begin(), special_order_.end(), [&](std::int32_t a, std::int32_t b) {
      return tokens_[static_cast<std::size_t>(a)].size() > tokens_[static_cast<std::size_t>(b)].size();
    });

    pieces_.reserve(tokens_.size());
    for (std::int32_t id = 0; id < n; ++id) pieces_.push_back(make_piece(id));
  }

  /// Builds the tokenizer from a GGUF file's `tokenizer.ggml.*` metadata: `model` (must be "gpt2"),
  /// `pre` ("default" when absent, which is then unsupported), `tokens`, `token_type` (optional),
  /// `merges`, `bos_token_id` and `eos_token_id` (optional).
  ///
  /// Throws lowbit::error{errc::unsupported} for another model or pre-tokenizer; the reader's
  /// errors (errc::missing_key, errc::type_mismatch) for absent or mistyped keys; and the
  /// constructor's errors.
  static tokenizer from_gguf(const lowbit::io::gguf_file& file) {
    const std::string model(file.get_string("tokenizer.ggml.model"));
    lowbit::check(model == "gpt2", lowbit::errc::unsupported, [&] {
      return "tokenizer.ggml.model is \"" + model + "\"; only \"gpt2\" (byte-level BPE) is supported";
    });
    const std::string pre =
        file.find("tokenizer.ggml.pre") != nullptr ? std::string(file.get_string("tokenizer.ggml.pre")) : "default";
    const auto strings = [&](const char* key) {
      std::vector<std::string> out;
      for (const auto& s : file.get_string_array(key)) out.emplace_back(s);
      return out;
    };
    std::vector<std::int32_t> types;
    if (file.find("tokenizer.ggml.token_type") != nullptr)
      types = file.get_array<std::int32_t>("tokenizer.ggml.token_type");
    const auto id_or_none = [&](const char* key) -> std::int32_t {
      if (file.find(key) == nullptr) return -1;
      const std::uint32_t id = file.get_u32(key);
      lowbit::check(id < (std::uint32_t{1} << 31), lowbit::errc::corrupt,
                    [&] { return std::string(key) + " = " + std::to_string(id) + " is not a token id"; });
      return static_cast<std::int32_t>(id);
    };
    return tokenizer(strings("tokenizer.ggml.tokens"), std::move(types), strings("tokenizer.ggml.merges"), pre,
                     id_or_none("tokenizer.ggml.bos_token_id"), id_or_none("tokenizer.ggml.eos_token_id"));
  }

  /// Token ids of `text`, as llama.cpp's `llama_tokenize(vocab, text, add_special = false,
  /// parse_special)` gives them (see the class comment). No BOS is added (SmolLM2's
  /// `add_bos_token` is false).
  ///
  /// Throws lowbit::error{errc::invalid_argument} when the text holds a byte sequence that the
  /// lenient decoder reads as a value past U+10FFFF (F4 90.. to F7 leads), where llama.cpp aborts.
  /// Allocates the result and per-call scratch; O(n log n) in the text length.
  [[nodiscard]] std::vector<std::int32_t> encode(std::string_view text, bool parse_special = true) const {
    std::vector<std::int32_t> out;
    if (text.empty()) return out;
    out.reserve(text.size() / 3 + 4);
    bpe_scratch scratch;
    for (const fragment& f : partition(text, parse_special)) {
      if (f.token >= 0) {
        out.push_back(f.token);
      } else {
        encode_fragment(text.substr(f.offset, f.length), scratch, out);
      }
    }
    return out;
  }

  /// The bytes of token `id` (see the class comment); with `special` false, control and unknown
  /// tokens give "" (llama.cpp `llama_token_to_piece(..., special)`).
  ///
  /// Throws lowbit::error{errc::out_of_range} for an id outside [0, size()).
  [[nodiscard]] std::string token_to_piece(std::int32_t id, bool special = true) const {
    check_id(id);
    if (!special && is_control_or_unknown(id)) return {};
    return pieces_[static_cast<std::size_t>(id)];
  }

  /// The concatenated pieces of `ids` (llama.cpp `llama_detokenize(..., remove_special = false,
  /// unparse_special = special)`). The result may be invalid UTF-8 when `ids` end inside a
  /// character.
  ///
  /// Throws lowbit::error{errc::out_of_range} naming the first id outside [0, size()).
  [[nodiscard]] std::string decode(std::span<const std::int32_t> ids, bool special = true) const {
    std::string out;
    for (const std::int32_t id : ids) {
      check_id(id);
      if (!special && is_control_or_unknown(id)) continue;
      out += pieces_[static_cast<std::size_t>(id)];
    }
    return out;
  }

  /// The number of tokens in the vocabulary.
  [[nodiscard]] std::size_t size() const noexcept { return tokens_.size(); }

  /// The beginning-of-sequence id (SmolLM2: 1, `<|im_start|>`), or -1 when there is none.
  [[nodiscard]] std::int32_t bos_id() const noexcept { return bos_id_; }

  /// The end-of-sequence id (SmolLM2: 2, `<|im_end|>`), or -1 when there is none.
  [[nodiscard]] std::int32_t eos_id() const noexcept { return eos_id_; }

  /// The id of the token whose (GPT-2 byte-to-unicode form) text is `token_text`, e.g. "Ġthe" or
  /// "<|im_end|>".
  ///
  /// Throws lowbit::error{errc::missing_key} naming the text when no token has it.
  [[nodiscard]] std::int32_t id_of(std::string_view token_text) const {
    const std::int32_t id = find_id(token_text);
    lowbit::check(id >= 0, lowbit::errc::missing_key,
                  [&] { return "no token has the text \"" + std::string(token_text) + "\""; });
    return id;
  }

  /// The stored text of token `id` (GPT-2 byte-to-unicode form for normal tokens).
  ///
  /// Throws lowbit::error{errc::out_of_range} for an id outside [0, size()).
  [[nodiscard]] const std::string& token_text(std::int32_t id) const {
    check_id(id);
    return tokens_[static_cast<std::size_t>(id)];
  }

  /// The kind of token `id`. Throws lowbit::error{errc::out_of_range} for an id outside [0, size()).
  [[nodiscard]] token_type type_of(std::int32_t id) const {
    check_id(id);
    return types_[static_cast<std::size_t>(id)];
  }

  /// True when token `id` is a control token (SmolLM2: ids 0..16, `<|endoftext|>` to
  /// `<empty_output>`). Throws lowbit::error{errc::out_of_range} for an id outside [0, size()).
  [[nodiscard]] bool is_control(std::int32_t id) const { return type_of(id) == token_type::control; }

 private:
  struct merge_entry {
    std::int32_t rank;
    std::int32_t merged_id;
  };

  struct fragment {
    std::size_t offset;
    std::size_t length;
    std::int32_t token;  // -1 for text
  };

  struct symbol {
    std::int32_t id;    // -1 for a byte that is not a token
    std::int32_t prev;  // -1 at the start of the word
    std::int32_t next;  // -1 at the end of the word
    std::uint8_t byte;  // the first byte, for the fallback of id -1
    bool alive;
  };

  struct bigram {
    std::int32_t rank;
    std::int32_t left;  // symbol indices
    std::int32_t right;
    std::int32_t left_id;  // ids when queued; a bigram is stale once either symbol changed
    std::int32_t right_id;
    std::int32_t merged_id;
  };

  struct bpe_scratch {
    std::string word;
    std::vector<symbol> symbols;
    std::vector<bigram> heap;
  };

  static constexpr std::uint64_t pair_key(std::int32_t left, std::int32_t right) noexcept {
    return std::uint64_t(std::uint32_t(left)) << 32 | std::uint32_t(right);
  }

  void check_id(std::int32_t id) const {
    lowbit::check(id >= 0 && static_cast<std::size_t>(id) < tokens_.size(), lowbit::errc::out_of_range, [&] {
      return "token id " + std::to_string(id) + " is outside the vocabulary of " + std::to_string(tokens_.size()) +
             " tokens";
    });
  }

  bool is_control_or_unknown(std::int32_t id) const noexcept {
    const token_type t = types_[static_cast<std::size_t>(id)];
    return t == token_type::control || t == token_type::unknown;
  }

  std::int32_t find_id(std::string_view text) const {
    const auto it = ids_.find(text);
    return it == ids_.end() ? -1 : it->second;
  }

  /// llama.cpp's `token_to_piece(id, special = true)` for a GPT-2 byte-level vocabulary.
  std::string make_piece(std::int32_t id) const {
    const std::string& text = tokens_[static_cast<std::size_t>(id)];
    switch (types_[static_cast<std::size_t>(id)]) {
      case token_type::control:
      case token_type::unknown:
      case token_type::user_defined:
        return text;
      case token_type::byte: {
        // "<0xXX>": llama.cpp reads the two characters after "<0x" as hex.
        unsigned value = 0;
        for (std::size_t i = 3; i < 5 && i < text.size(); ++i) {
          const char c = text[i];
          const int digit = (c >= '0' && c <= '9')   ? c - '0'
                            : (c >= 'a' && c <= 'f') ? c - 'a' + 10
                            : (c >= 'A' && c <= 'F') ? c - 'A' + 10
                                                     : -1;
          if (digit < 0) break;
          value = value * 16 + static_cast<unsigned>(digit);
        }
        return std::string(1, static_cast<char>(value));
      }
      case token_type::normal: {
        std::string piece;
        for (const char32_t cpt : unicode::decode_utf8(text)) {
          const int byte = code_point_to_byte(cpt);
          if (byte >= 0) {
            piece.push_back(static_cast<char>(byte));
          } else {
            // llama.cpp's llama_decode_text marks a character outside the byte map this way.
            std::string utf8;
            unicode::append_utf8(utf8, cpt);
            piece += "[UNK_BYTE_0x";
            for (const char c : utf8) piece += detail::hex(static_cast<std::uint8_t>(c), 2);
            piece += text + "]";
          }
        }
        return piece;
      }
      default:
        return {};
    }
  }

  static int code_point_to_byte(char32_t cpt) noexcept {
    static const std::array<std::int16_t, 324> table = [] {
      std::array<std::int16_t, 324> t{};
      t.fill(-1);
      for (int b = 0; b < 256; ++b)
        t[detail::byte_to_code_point[static_cast<std::size_t>(b)]] = static_cast<std::int16_t>(b);
      return t;
    }();
    return cpt < table.size() ? table[cpt] : -1;
  }

  /// Step 1: cuts special-token texts out of `text`.
  std::vector<fragment> partition(std::string_view text, bool parse_special) const {
    std::vector<fragment> fragments{{0, text.size(), -1}};
    std::vector<fragment> next;
    for (const std::int32_t id : special_order_) {
      if (!parse_special && types_[static_cast<std::size_t>(id)] != token_type::user_defined) continue;
      const std::string& special = tokens_[static_cast<std::size_t>(id)];
      next.clear();
      for (const fragment& f : fragments) {
        if (f.token >= 0) {
          next.push_back(f);
          continue;
        }
        const std::size_t end = f.offset + f.length;
        const std::string_view window = text.substr(0, end);
        std::size_t pos = f.offset;
        for (std::size_t match; (match = window.find(special, pos)) != std::string_view::npos;) {
          if (match > pos) next.push_back({pos, match - pos, -1});
          next.push_back({match, special.size(), id});
          pos = match + special.size();
        }
        if (pos < end) next.push_back({pos, end - pos, -1});
      }
      fragments.swap(next);
    }
    return fragments;
  }

  /// Steps 2 and 3 for one text fragment.
  void encode_fragment(std::string_view text, bpe_scratch& scratch, std::vector<std::int32_t>& out) const {
    const std::vector<char32_t> cpts = unicode::decode_utf8(text);
    std::vector<unicode::code_point_class> cls(cpts.size());
    for (std::size_t i = 0; i < cpts.size(); ++i) cls[i] = unicode::classify(cpts[i]);

    const auto emit = [&](std::size_t begin, std::size_t end) {
      scratch.word.clear();
      for (std::size_t i = begin; i < end; ++i) unicode::append_utf8(scratch.word, cpts[i]);
      bpe(scratch, out);
    };

    // Regex `\p{N}` isolates every number code point; the GPT-2 regex splits the pieces between.
    std::size_t begin = 0;
    for (std::size_t i = 0; i <= cpts.size(); ++i) {
      if (i == cpts.size() || cls[i].is_number()) {
        split_gpt2(cpts, cls, begin, i, emit);
        if (i < cpts.size()) emit(i, i + 1);
        begin = i + 1;
      }
    }
  }

  /// The GPT-2 regex `'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+` on
  /// code points [begin, end), which it sees as the whole subject (nothing matches past `end`).
  template <class Emit>
  static void split_gpt2(const std::vector<char32_t>& cpts, const std::vector<unicode::code_point_class>& cls,
                         std::size_t begin, std::size_t end, Emit& emit) {
    const auto other = [&](std::size_t p) {  // [^\s\p{L}\p{N}]
      return !cls[p].whitespace && !cls[p].is_letter() && !cls[p].is_number();
    };
    std::size_t pos = begin;
    while (pos < end) {
      const char32_t c = cpts[pos];
      if (c == U'\'' && pos + 1 < end) {
        const char32_t n1 = cpts[pos + 1];
        if (n1 == U's' || n1 == U't' || n1 == U'm' || n1 == U'd') {
          emit(pos, pos + 2);
          pos += 2;
          continue;
        }
        if (pos + 2 < end) {
          const char32_t n2 = cpts[pos + 2];
          if ((n1 == U'r' && n2 == U'e') || (n1 == U'v' && n2 == U'e') || (n1 == U'l' && n2 == U'l')) {
            emit(pos, pos + 3);
            pos += 3;
            continue;
          }
        }
      }
      // ` ?X+`: an optional leading space, then a run of one class.
      const std::size_t run = c == U' ' ? pos + 1 : pos;
      if (run < end) {
        std::size_t p = run;
        if (cls[run].is_letter()) {
          while (p < end && cls[p].is_letter()) ++p;
        } else if (cls[run].is_number()) {
          while (p < end && cls[p].is_number()) ++p;
        } else if (other(run)) {
          while (p < end && other(p)) ++p;
        }
        if (p > run) {
          emit(pos, p);
          pos = p;
          continue;
        }
      }
      // `\s+(?!\S)|\s+`: a whitespace run, less its last code point when a non-space follows it.
      std::size_t n = 0;
      while (pos + n < end && cls[pos + n].whitespace) ++n;
      const std::size_t take = (n > 1 && pos + n < end) ? n - 1 : (n > 0 ? n : 1);
      emit(pos, pos + take);
      pos += take;
    }
  }

  /// Step 3: byte-level BPE of `scratch.word`, appending ids to `out`.
  void bpe(bpe_scratch& scratch, std::vector<std::int32_t>& out) const {
    const std::string& word = scratch.word;
    const auto n = static_cast<std::int32_t>(word.size());
    if (n == 0) return;
    auto& symbols = scratch.symbols;
    symbols.clear();
    for (std::int32_t i = 0; i < n; ++i) {
      const auto b = static_cast<std::uint8_t>(word[static_cast<std::size_t>(i)]);
      symbols.push_back({byte_ids_[b], i - 1, i + 1 < n ? i + 1 : -1, b, true});
    }

    // A min-heap on (rank, left index), the order llama.cpp's llm_bigram_bpe queue pops.
    auto& heap = scratch.heap;
    heap.clear();
    const auto later = [](const bigram& a, const bigram& b) {
      return a.rank > b.rank || (a.rank == b.rank && a.left > b.left);
    };
    const auto push = [&](std::int32_t left, std::int32_t right) {
      if (left < 0 || right < 0) return;
      const std::int32_t left_id = symbols[static_cast<std::size_t>(left)].id;
      const std::int32_t right_id = symbols[static_cast<std::size_t>(right)].id;
      if (left_id < 0 || right_id < 0) return;
      const auto it = merges_.find(pair_key(left_id, right_id));
      if (it == merges_.end()) return;
      heap.push_back({it->second.rank, left, right, left_id, right_id, it->second.merged_id});
      std::push_heap(heap.begin(), heap.end(), later);
    };
    for (std::int32_t i = 0; i + 1 < n; ++i) push(i, i + 1);

    while (!heap.empty()) {
      std::pop_heap(heap.begin(), heap.end(), later);
      const bigram top = heap.back();
      heap.pop_back();
      symbol& left = symbols[static_cast<std::size_t>(top.left)];
      symbol& right = symbols[static_cast<std::size_t>(top.right)];
      // Both alive means still adjacent: a symbol's start never moves, and the one between two
      // live neighbours can only die by merging into its left neighbour.
      if (!left.alive || !right.alive || left.id != top.left_id || right.id != top.right_id) continue;
      left.id = top.merged_id;
      right.alive = false;
      left.next = right.next;
      if (right.next >= 0) symbols[static_cast<std::size_t>(right.next)].prev = top.left;
      push(left.prev, top.left);
      push(top.left, left.next);
    }

    for (std::int32_t i = 0; i >= 0; i = symbols[static_cast<std::size_t>(i)].next) {
      const symbol& s = symbols[static_cast<std::size_t>(i)];
      if (s.id >= 0) {
        out.push_back(s.id);
      } else {
        const auto& fallback = byte_fallback_[s.byte];
        out.insert(out.end(), fallback.begin(), fallback.end());
      }
    }
  }

  std::vector<std::string> tokens_;
  std::vector<token_type> types_;
  std::unordered_map<std::string, std::int32_t, detail::string_hash, std::equal_to<>> ids_;
  std::unordered_map<std::uint64_t, merge_entry> merges_;
  std::array<std::int32_t, 256> byte_ids_{};
  std::array<std::vector<std::int32_t>, 256> byte_fallback_{};
  std::vector<std::int32_t> special_order_;  // control, unknown, user-defined; longest text first
  std::vector<std::string> pieces_;
  std::int32_t bos_id_ = -1;
  std::int32_t eos_id_ = -1;
};

}  // namespace llm
