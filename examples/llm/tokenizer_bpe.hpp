// SPDX-License-Identifier: Apache-2.0
// Copyright lowbit contributors
#pragma once

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "lowbit/core/error.hpp"
#include "lowbit/io/gguf.hpp"
#include "tokenizer_vocab.hpp"
#include "unicode_categories.hpp"

namespace llm {

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

/// llama.cpp's detokenizer clean-up for `clean_up_tokenization_spaces` vocabularies (the three
/// in-place passes of `llama_vocab::impl::detokenize`): " ?", " !", " .", " ," lose the space; a
/// lone "'" between two spaces loses both; " 's", " 'm", " 're", " 've" lose the space. The first
/// byte is always kept, and each pass reads the buffer as the previous writes left it.
inline void clean_up_spaces(std::string& s) {
  const auto pass = [&](auto&& step) {
    const std::size_t n = s.size();
    std::size_t out = n ? 1 : 0;
    for (std::size_t i = 1; i < n; ++i) out = step(i, out, n);
    s.resize(out);
  };
  pass([&](std::size_t i, std::size_t out, std::size_t) {
    const char x = s[i];
    if (s[i - 1] == ' ' && (x == '?' || x == '!' || x == '.' || x == ',')) --out;
    s[out++] = x;
    return out;
  });
  std::size_t skip_to = 0;  // the second pass consumes the space after a lone apostrophe
  pass([&](std::size_t i, std::size_t out, std::size_t n) {
    if (i < skip_to) return out;
    const char x = s[i];
    if (x == '\'' && i + 1 < n && s[i - 1] == ' ' && s[i + 1] == ' ') {
      --out;
      s[i + 1] = '\0';
      skip_to = i + 2;
    }
    s[out++] = x;
    return out;
  });
  pass([&](std::size_t i, std::size_t out, std::size_t n) {
    const char x = s[i];
    if (s[i - 1] == ' ' && x == '\'' && i + 1 < n) {
      const char x1 = s[i + 1];
      const char x2 = i + 2 < n ? s[i + 2] : '\0';
      if (x1 == 's' || x1 == 'm') {
        --out;
      } else if (x1 != 't' && x1 != 'd' && i + 2 < n && ((x1 == 'r' && x2 == 'e') || (x1 == 'v' && x2 == 'e'))) {
        --out;
      }
    }
    s[out++] = x;
    return out;
  });
}

}  // namespace detail

/// The pre-tokenizer regexes this tokenizer implements (llama.cpp `llama_vocab_pre_type`).
enum class bpe_pre_tokenizer {
  gpt2,    ///< "gpt-2": `'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+`
  smollm,  ///< "smollm": `\p{N}` isolated first, then the gpt2 regex
  llama3,  ///< "llama3", "llama-v3", "llama-bpe": contractions any case, `\p{N}{1,3}`, newline runs
  qwen2,   ///< "qwen2", "deepseek-r1-qwen": llama3 with `\p{N}` (one number code point per piece)
};

/// GPT-2 byte-level BPE as llama.cpp (0c1e57098) tokenizes and detokenizes it, for the
/// pre-tokenizers of `bpe_pre_tokenizer`.
///
/// Encoding, as `llama_tokenize(vocab, text, add_special = false, parse_special)` (BOS/EOS are
/// `text_tokenizer`'s business):
/// 1. Special-token partition (`vocabulary::partition`). The text between matches is kept whole.
/// 2. Pre-tokenization of each text fragment by the pre-tokenizer's regex, hand-written as
///    llama.cpp's `unicode_regex_split_custom_gpt2` / `_llama3` / `_qwen2` are: the fragment is
///    decoded leniently (`unicode::decode_utf8`) and split on code points, with the classes of
///    `unicode_categories.hpp`. "smollm" first isolates every `\p{N}` code point (numbers are
///    tokenized digit by digit), then applies the gpt2 regex to the pieces between. The gpt2 regex:
///    lowercase contractions; an optional space then a run of letters, of numbers, or of other
///    code points; a run of n > 1 whitespace code points followed by a non-space gives n - 1 of
///    them to the run. The llama3 regex: contractions in either case (`'S`, `'Ll`), a letter run
///    with one optional leading code point that is not CR, LF, a letter or a number (so " x",
///    "\tx", "(x"); numbers in groups of up to three from the left (qwen2: one by one); an
///    optional space, a run of other code points and any CR/LF after it; a whitespace run up to
///    and including its last CR or LF; else the gpt2 whitespace rules.
/// 3. Byte-level BPE of each piece: the piece is re-encoded to UTF-8 (so an invalid byte became
///    U+FFFD, EF BF BD, and an overlong form its shortest form); with llama3's `ignore_merges` a
///    piece that is itself a token is taken whole; otherwise each byte is one symbol, and the
///    adjacent pair with the lowest merge rank (leftmost on ties) is merged until no pair has a rank
///    (Sennrich et al., BPE, arXiv:1508.07909; Radford et al., GPT-2 byte-level BPE). A byte whose
///    GPT-2 code point is not a token (SmolLM2 lacks 0x04, 0x06, 0x13, ...) never merges and
///    yields the ids of its text's single bytes that are tokens, usually none, as in llama.cpp.
///
/// Decoding, as `llama_token_to_piece(vocab, id, buf, len, lstrip = 0, special)`: a normal token's
/// text is mapped back through GPT-2's byte map, so a piece may be partial UTF-8; tokens with the
/// control, unknown or user-defined attribute give their text verbatim, except that control and
/// unknown tokens give nothing when `special` is false; byte tokens give their byte; undefined and
/// unused tokens give nothing. `decode` concatenates pieces as `llama_detokenize` does, with
/// llama.cpp's space clean-up for "gpt-2" and llama3 (`clean_spaces`; off for "smollm", "qwen2").
///
/// Construction builds the id maps, the merge table keyed by id pairs and all pieces; encoding
/// allocates only per call. Thread-safe for concurrent const use.
class bpe_tokenizer {
 public:
  /// Builds the tokenizer from a vocabulary and its merges.
  ///
  /// `merges`: "left right" strings, split at the first space after the first byte, by rank (a
  /// repeated pair keeps its first rank). `pre_tokenizer`: a GGUF `tokenizer.ggml.pre` value
  /// (see `bpe_pre_tokenizer`). `cfg.add_bos`/`add_eos` are taken as given.
  ///
  /// Throws lowbit::error{errc::unsupported} naming another pre-tokenizer; lowbit::error{errc::corrupt}
  /// for a merge that does not split in two or whose halves or concatenation are not tokens, and
  /// the `vocabulary` constructor's errors.
  bpe_tokenizer(vocabulary::config cfg, const std::vector<std::string>& merges, std::string_view pre_tokenizer)
      : pre_(parse_pre(pre_tokenizer)), vocab_(std::move(cfg)) {
    init(merges);
  }

  /// Builds the tokenizer from texts, kinds and merges (see the other constructor), with
  /// llama.cpp's `add_bos` default for the pre-tokenizer (true for llama3 only); `bos_id`,
  /// `eos_id`: token ids or -1 for none. Throws as the other constructor, and
  /// lowbit::error{errc::corrupt} for a `token_types` size other than 0 or `tokens.size()`, a
  /// repeated token text, an empty vocabulary or a bos/eos id outside the vocabulary.
  bpe_tokenizer(std::vector<std::string> tokens, std::vector<std::int32_t> token_types,
                const std::vector<std::string>& merges, std::string_view pre_tokenizer, std::int32_t bos_id = -1,
                std::int32_t eos_id = -1)
      : bpe_tokenizer(vocabulary::config{.tokens = std::move(tokens),
                                         .token_types = std::move(token_types),
                                         .ids = {.bos = bos_id, .eos = eos_id},
                                         .add_bos = parse_pre(pre_tokenizer) == bpe_pre_tokenizer::llama3},
                      merges, pre_tokenizer) {}

  /// Builds the tokenizer from a GGUF file's `tokenizer.ggml.*` metadata (`read_vocabulary_config`
  /// with llama.cpp's BPE defaults: BOS and EOS 11, add_bos false except for llama3) plus `model`
  /// (must be "gpt2"), `pre` ("default" when absent, which is unsupported) and `merges`.
  ///
  /// Throws lowbit::error{errc::unsupported} naming another model or pre-tokenizer; the reader's
  /// errors (errc::missing_key, errc::type_mismatch) for absent or mistyped keys; and the
  /// constructor's errors.
  static bpe_tokenizer from_gguf(const lowbit::io::gguf_file& file) {
    const std::string model(file.get_string("tokenizer.ggml.model"));
    lowbit::check(model == "gpt2", lowbit::errc::unsupported, [&] {
      return "tokenizer.ggml.model is \"" + model + "\"; only \"gpt2\" (byte-level BPE) is supported here";
    });
    const std::string pre =
        file.contains("tokenizer.ggml.pre") ? std::string(file.get_string("tokenizer.ggml.pre")) : "default";
    const bpe_pre_tokenizer kind = parse_pre(pre);
    vocabulary::config cfg =
        read_vocabulary_config(file, special_ids{.bos = 11, .eos = 11}, kind == bpe_pre_tokenizer::llama3, false);
    std::vector<std::string> merges;
    for (const auto& s : file.get_string_array("tokenizer.ggml.merges")) merges.emplace_back(s);
    return bpe_tokenizer(std::move(cfg), merges, pre);
  }

  /// Token ids of `text`, as llama.cpp's `llama_tokenize(vocab, text, add_special = false,
  /// parse_special)` gives them (see the class comment).
  ///
  /// Throws lowbit::error{errc::invalid_argument} when the text holds a byte sequence that the
  /// lenient decoder reads as a value past U+10FFFF (F4 90.. to F7 leads), where llama.cpp aborts.
  /// Allocates the result and per-call scratch; O(n log n) in the text length.
  [[nodiscard]] std::vector<std::int32_t> encode(std::string_view text, bool parse_special = true) const {
    std::vector<std::int32_t> out;
    if (text.empty()) return out;
    out.reserve(text.size() / 3 + 4);
    bpe_scratch scratch;
    for (const auto& f : vocab_.partition(text, parse_special)) {
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
    vocab_.check_id(id);
    if (!special && vocab_.is_control_or_unknown(id)) return {};
    return pieces_[static_cast<std::size_t>(id)];
  }

  /// The concatenated pieces of `ids`, as `llama_detokenize(..., remove_special,
  /// unparse_special = special)`: `remove_special` drops a leading BOS when the vocabulary adds
  /// one and a trailing EOS when it adds one; "gpt-2" and llama3 vocabularies then get llama.cpp's
  /// space clean-up. The result may be invalid UTF-8 when `ids` end inside a character.
  ///
  /// Throws lowbit::error{errc::out_of_range} naming the first id outside [0, size()).
  [[nodiscard]] std::string decode(std::span<const std::int32_t> ids, bool special = true,
                                   bool remove_special = false) const {
    for (const std::int32_t id : ids) vocab_.check_id(id);
    if (remove_special && vocab_.add_bos() && !ids.empty() && ids.front() == vocab_.ids().bos) ids = ids.subspan(1);
    if (remove_special && vocab_.add_eos() && !ids.empty() && ids.back() == vocab_.ids().eos) {
      ids = ids.first(ids.size() - 1);
    }
    std::string out;
    for (const std::int32_t id : ids) {
      if (!special && vocab_.is_control_or_unknown(id)) continue;
      out += pieces_[static_cast<std::size_t>(id)];
    }
    if (clean_spaces_) detail::clean_up_spaces(out);
    return out;
  }

  /// The number of tokens in the vocabulary.
  [[nodiscard]] std::size_t size() const noexcept { return vocab_.size(); }

  /// The beginning-of-sequence id (SmolLM2: 1, `<|im_start|>`), or -1 when there is none.
  [[nodiscard]] std::int32_t bos_id() const noexcept { return vocab_.ids().bos; }

  /// The end-of-sequence id (SmolLM2: 2, `<|im_end|>`), or -1 when there is none.
  [[nodiscard]] std::int32_t eos_id() const noexcept { return vocab_.ids().eos; }

  /// The vocabulary (special ids, end-of-generation set, attributes).
  [[nodiscard]] const vocabulary& vocab() const noexcept { return vocab_; }

  /// The pre-tokenizer.
  [[nodiscard]] bpe_pre_tokenizer pre_tokenizer() const noexcept { return pre_; }

  /// The id of the token whose (GPT-2 byte-to-unicode form) text is `token_text`, e.g. "Ġthe" or
  /// "<|im_end|>".
  ///
  /// Throws lowbit::error{errc::missing_key} naming the text when no token has it.
  [[nodiscard]] std::int32_t id_of(std::string_view token_text) const {
    const std::int32_t id = vocab_.find(token_text);
    lowbit::check(id >= 0, lowbit::errc::missing_key,
                  [&] { return "no token has the text \"" + std::string(token_text) + "\""; });
    return id;
  }

  /// The stored text of token `id` (GPT-2 byte-to-unicode form for normal tokens).
  ///
  /// Throws lowbit::error{errc::out_of_range} for an id outside [0, size()).
  [[nodiscard]] const std::string& token_text(std::int32_t id) const {
    vocab_.check_id(id);
    return vocab_.text(id);
  }

  /// The file's kind of token `id`. Throws lowbit::error{errc::out_of_range} for an id outside
  /// [0, size()).
  [[nodiscard]] token_type type_of(std::int32_t id) const {
    vocab_.check_id(id);
    return vocab_.type(id);
  }

  /// True when token `id` has the control attribute (SmolLM2: ids 0..16, `<|endoftext|>` to
  /// `<empty_output>`). Throws lowbit::error{errc::out_of_range} for an id outside [0, size()).
  [[nodiscard]] bool is_control(std::int32_t id) const {
    vocab_.check_id(id);
    return (vocab_.attrs(id) & token_attr::control) != 0;
  }

 private:
  struct merge_entry {
    std::int32_t rank;
    std::int32_t merged_id;
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
    std::string encoded;  // the word in GPT-2 byte-to-unicode form (ignore_merges only)
    std::vector<symbol> symbols;
    std::vector<bigram> heap;
  };

  static bpe_pre_tokenizer parse_pre(std::string_view pre) {
    if (pre == "smollm") return bpe_pre_tokenizer::smollm;
    if (pre == "qwen2" || pre == "deepseek-r1-qwen") return bpe_pre_tokenizer::qwen2;
    if (pre == "llama3" || pre == "llama-v3" || pre == "llama-bpe") return bpe_pre_tokenizer::llama3;
    if (pre == "gpt-2") return bpe_pre_tokenizer::gpt2;
    throw lowbit::error(lowbit::errc::unsupported,
                        "pre-tokenizer \"" + std::string(pre) +
                            "\" is not supported; supported: \"smollm\", \"qwen2\", \"deepseek-r1-qwen\", "
                            "\"llama3\", \"llama-v3\", \"llama-bpe\", \"gpt-2\"");
  }

  static constexpr std::uint64_t pair_key(std::int32_t left, std::int32_t right) noexcept {
    return std::uint64_t(std::uint32_t(left)) << 32 | std::uint32_t(right);
  }

  void init(const std::vector<std::string>& merges) {
    using lowbit::errc;
    ignore_merges_ = pre_ == bpe_pre_tokenizer::llama3;
    clean_spaces_ = pre_ == bpe_pre_tokenizer::gpt2 || pre_ == bpe_pre_tokenizer::llama3;

    merges_.reserve(merges.size());
    for (std::size_t rank = 0; rank < merges.size(); ++rank) {
      const std::string& merge = merges[rank];
      const std::size_t space = merge.empty() ? std::string::npos : merge.find(' ', 1);
      lowbit::check(space != std::string::npos, errc::corrupt, [&] {
        return "merge " + std::to_string(rank) + " \"" + merge + "\" does not split in two at a space";
      });
      const std::string_view left = std::string_view(merge).substr(0, space);
      const std::string_view right = std::string_view(merge).substr(space + 1);
      const std::int32_t left_id = vocab_.find(left);
      const std::int32_t right_id = vocab_.find(right);
      const std::int32_t merged_id = vocab_.find(std::string(left) + std::string(right));
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
      byte_ids_[b] = vocab_.find(text);
      // llama.cpp's fallback for a symbol that is not a token: each byte of its text, looked up as
      // a one-byte token text.
      if (byte_ids_[b] < 0) {
        for (const char c : text) {
          if (const std::int32_t id = vocab_.find(std::string_view(&c, 1)); id >= 0) byte_fallback_[b].push_back(id);
        }
      }
    }

    const auto n = static_cast<std::int32_t>(vocab_.size());
    pieces_.reserve(vocab_.size());
    for (std::int32_t id = 0; id < n; ++id) pieces_.push_back(make_piece(id));
  }

  /// llama.cpp's `token_to_piece(id, special = true)` for a GPT-2 byte-level vocabulary.
  std::string make_piece(std::int32_t id) const {
    const std::string& text = vocab_.text(id);
    const std::uint16_t a = vocab_.attrs(id);
    if (a & (token_attr::control | token_attr::unknown | token_attr::user_defined)) return text;
    if (a & token_attr::normal) {
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
    if (a & token_attr::byte) return std::string(1, static_cast<char>(detail::byte_token_value(text)));
    return {};
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

    switch (pre_) {
      case bpe_pre_tokenizer::gpt2:
        split_gpt2(cpts, cls, 0, cpts.size(), emit);
        break;
      case bpe_pre_tokenizer::smollm: {
        // Regex `\p{N}` isolates every number code point; the gpt2 regex splits the pieces between.
        std::size_t begin = 0;
        for (std::size_t i = 0; i <= cpts.size(); ++i) {
          if (i == cpts.size() || cls[i].is_number()) {
            split_gpt2(cpts, cls, begin, i, emit);
            if (i < cpts.size()) emit(i, i + 1);
            begin = i + 1;
          }
        }
        break;
      }
      case bpe_pre_tokenizer::llama3:
        split_llama3(cpts, cls, 3, emit);
        break;
      case bpe_pre_tokenizer::qwen2:
        split_llama3(cpts, cls, 1, emit);
        break;
    }
  }

  /// The gpt2 regex `'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+` on
  /// code points [begin, end), which it sees as the whole subject (nothing matches past `end`);
  /// llama.cpp `unicode_regex_split_custom_gpt2`.
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
      pos = split_whitespace(cls, pos, end, emit);
    }
  }

  /// `\s+(?!\S)|\s+` at `pos`: a whitespace run, less its last code point when a non-space
  /// follows it; one code point when `pos` is not whitespace. Returns the new position.
  template <class Emit>
  static std::size_t split_whitespace(const std::vector<unicode::code_point_class>& cls, std::size_t pos,
                                      std::size_t end, Emit& emit) {
    std::size_t n = 0;
    while (pos + n < end && cls[pos + n].whitespace) ++n;
    const std::size_t take = (n > 1 && pos + n < end) ? n - 1 : (n > 0 ? n : 1);
    emit(pos, pos + take);
    return pos + take;
  }

  /// The llama3 regex `(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}|
  /// ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+` over the whole fragment, with
  /// `\p{N}{1,max_digits}`: max_digits 3 is llama.cpp's `unicode_regex_split_custom_llama3`, 1 its
  /// `unicode_regex_split_custom_qwen2`.
  template <class Emit>
  static void split_llama3(const std::vector<char32_t>& cpts, const std::vector<unicode::code_point_class>& cls,
                           std::size_t max_digits, Emit& emit) {
    const std::size_t end = cpts.size();
    const auto lower = [&](std::size_t p) -> char32_t {  // only ASCII letters lowercase to s t r e v m l d
      const char32_t c = cpts[p];
      return (c >= U'A' && c <= U'Z') ? c + 32 : c;
    };
    const auto other = [&](std::size_t p) {  // [^\s\p{L}\p{N}]
      return !cls[p].whitespace && !cls[p].is_letter() && !cls[p].is_number();
    };
    const auto is_crlf = [&](std::size_t p) { return cpts[p] == U'\r' || cpts[p] == U'\n'; };
    std::size_t pos = 0;
    while (pos < end) {
      if (cpts[pos] == U'\'' && pos + 1 < end) {
        const char32_t n1 = lower(pos + 1);
        if (n1 == U's' || n1 == U't' || n1 == U'm' || n1 == U'd') {
          emit(pos, pos + 2);
          pos += 2;
          continue;
        }
        if (pos + 2 < end) {
          const char32_t n2 = lower(pos + 2);
          if ((n1 == U'r' && n2 == U'e') || (n1 == U'v' && n2 == U'e') || (n1 == U'l' && n2 == U'l')) {
            emit(pos, pos + 3);
            pos += 3;
            continue;
          }
        }
      }
      // `[^\r\n\p{L}\p{N}]?\p{L}+`
      if (!is_crlf(pos) && !cls[pos].is_number() &&
          (cls[pos].is_letter() || (pos + 1 < end && cls[pos + 1].is_letter()))) {
        std::size_t p = pos + 1;
        while (p < end && cls[p].is_letter()) ++p;
        emit(pos, p);
        pos = p;
        continue;
      }
      // `\p{N}{1,max_digits}`
      if (cls[pos].is_number()) {
        std::size_t p = pos;
        while (p < end && p - pos < max_digits && cls[p].is_number()) ++p;
        emit(pos, p);
        pos = p;
        continue;
      }
      // ` ?[^\s\p{L}\p{N}]+[\r\n]*`
      const std::size_t run = cpts[pos] == U' ' ? pos + 1 : pos;
      if (run < end && other(run)) {
        std::size_t p = run;
        while (p < end && other(p)) ++p;
        while (p < end && is_crlf(p)) ++p;
        emit(pos, p);
        pos = p;
        continue;
      }
      // `\s*[\r\n]+`: a whitespace run up to and including its last CR or LF.
      std::size_t last_crlf = 0;
      for (std::size_t p = pos; p < end && cls[p].whitespace; ++p) {
        if (is_crlf(p)) last_crlf = p + 1;
      }
      if (last_crlf > 0) {
        emit(pos, last_crlf);
        pos = last_crlf;
        continue;
      }
      pos = split_whitespace(cls, pos, end, emit);
    }
  }

  /// Step 3: byte-level BPE of `scratch.word`, appending ids to `out`.
  void bpe(bpe_scratch& scratch, std::vector<std::int32_t>& out) const {
    const std::string& word = scratch.word;
    const auto n = static_cast<std::int32_t>(word.size());
    if (n == 0) return;
    if (ignore_merges_) {
      scratch.encoded.clear();
      for (const char c : word)
        unicode::append_utf8(scratch.encoded, detail::byte_to_code_point[static_cast<std::uint8_t>(c)]);
      if (const std::int32_t id = vocab_.find(scratch.encoded); id >= 0) {
        out.push_back(id);
        return;
      }
    }
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

  bpe_pre_tokenizer pre_;
  vocabulary vocab_;
  bool ignore_merges_ = false;
  bool clean_spaces_ = false;
  std::unordered_map<std::uint64_t, merge_entry> merges_;
  std::array<std::int32_t, 256> byte_ids_{};
  std::array<std::vector<std::int32_t>, 256> byte_fallback_{};
  std::vector<std::string> pieces_;
};

}  // namespace llm
