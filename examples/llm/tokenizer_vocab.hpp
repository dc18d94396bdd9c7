// SPDX-License-Identifier: Apache-2.0
// Copyright lowbit contributors
#pragma once

#include <algorithm>
#include <array>
#include <cctype>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "lowbit/core/error.hpp"
#include "lowbit/io/gguf.hpp"

/// The vocabulary side of llama.cpp's tokenizers, shared by the byte-level BPE (`tokenizer_bpe.hpp`)
/// and SentencePiece-style (`tokenizer_spm.hpp`) encoders: token texts, kinds and attributes, the
/// special ids and end-of-generation set, and the special-token partition.
namespace llm {

/// The kind of a vocabulary entry, as GGUF's `tokenizer.ggml.token_type` numbers it (llama.cpp
/// `enum llama_token_type`, gguf-py `TokenType`).
enum class token_type : std::int32_t {
  undefined = 0,     ///< no known kind; decodes to nothing
  normal = 1,        ///< ordinary token
  unknown = 2,       ///< the unknown token; split out of text like a control token
  control = 3,       ///< `<|im_start|>` and friends; split out of text when parsing specials
  user_defined = 4,  ///< always split out of text, even when not parsing specials
  unused = 5,        ///< decodes to nothing
  byte = 6,          ///< `<0xXX>` byte token
};

/// Token attribute bits as llama.cpp keeps them per token (`enum llama_token_attr`). A token's
/// attributes start as its `token_type` and gain bits from name-based rules at load (e.g. a normal
/// "</s>" that counts as end of generation also becomes control).
namespace token_attr {
inline constexpr std::uint16_t unknown = 1u << 0;
inline constexpr std::uint16_t unused = 1u << 1;
inline constexpr std::uint16_t normal = 1u << 2;
inline constexpr std::uint16_t control = 1u << 3;
inline constexpr std::uint16_t user_defined = 1u << 4;
inline constexpr std::uint16_t byte = 1u << 5;
inline constexpr std::uint16_t lstrip = 1u << 7;  ///< strip ASCII whitespace left of a match
inline constexpr std::uint16_t rstrip = 1u << 8;  ///< strip ASCII whitespace right of a match
}  // namespace token_attr

/// The special token ids of a vocabulary; -1 where there is none.
struct special_ids {
  std::int32_t bos = -1;      ///< beginning of sequence
  std::int32_t eos = -1;      ///< end of sequence
  std::int32_t eot = -1;      ///< end of turn
  std::int32_t eom = -1;      ///< end of message
  std::int32_t unk = -1;      ///< unknown
  std::int32_t sep = -1;      ///< separator
  std::int32_t pad = -1;      ///< padding
  std::int32_t mask = -1;     ///< mask
  std::int32_t fim_pre = -1;  ///< fill-in-the-middle prefix
  std::int32_t fim_suf = -1;  ///< fill-in-the-middle suffix
  std::int32_t fim_mid = -1;  ///< fill-in-the-middle middle
  std::int32_t fim_pad = -1;  ///< fill-in-the-middle padding
  std::int32_t fim_rep = -1;  ///< fill-in-the-middle repository name
  std::int32_t fim_sep = -1;  ///< fill-in-the-middle file separator
};

namespace detail {

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

/// The value of the two hex digits after "<0x" in a byte token's text, read as strtol does (stops
/// at the first non-hex character); llama.cpp `token_to_byte`.
inline std::uint8_t byte_token_value(std::string_view text) noexcept {
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
  return static_cast<std::uint8_t>(value);
}

// Token texts by which llama.cpp's vocabulary loader (llama_vocab::impl::load) recognises special
// roles when the GGUF file does not name them. Facts read from llama.cpp 0c1e57098.
inline constexpr std::string_view eot_names[] = {
    "<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>",         "<|endoftext|>",     "<|end_of_text|>",
    "<EOT>",      "_<EOT>",     "[EOT]",   "<｜end▁of▁sentence｜>", "<end_of_utterance>"};
inline constexpr std::string_view eom_names[] = {"<|eom_id|>"};
inline constexpr std::string_view fim_pre_names[] = {"<|fim_prefix|>",  "<fim-prefix>", "<fim_prefix>",
                                                     "<｜fim▁begin｜>", "<PRE>",        "▁<PRE>",
                                                     "<|code_prefix|>", "<|prefix|>"};
inline constexpr std::string_view fim_suf_names[] = {"<|fim_suffix|>",  "<fim-suffix>", "<fim_suffix>",
                                                     "<｜fim▁hole｜>",  "<SUF>",        "▁<SUF>",
                                                     "<|code_suffix|>", "<|suffix|>"};
inline constexpr std::string_view fim_mid_names[] = {"<|fim_middle|>",  "<fim-middle>", "<fim_middle>",
                                                     "<｜fim▁end｜>",   "<MID>",        "▁<MID>",
                                                     "<|code_middle|>", "<|middle|>"};
inline constexpr std::string_view fim_pad_names[] = {"<|fim_pad|>", "<fim-pad>", "<fim_pad>", "<PAD>", "[PAD]"};
inline constexpr std::string_view fim_rep_names[] = {"<|fim_repo|>", "<|repo_name|>", "<fim-repo>", "<REPO>",
                                                     "<reponame>"};
inline constexpr std::string_view fim_sep_names[] = {"<|file_sep|>"};
inline constexpr std::string_view eog_names[] = {"<|eot_id|>",
                                                 "<|im_end|>",
                                                 "<|end|>",
                                                 "<|return|>",
                                                 "<|call|>",
                                                 "<|flush|>",
                                                 "<|calls|>",
                                                 "<end_of_turn>",
                                                 "<|endoftext|>",
                                                 "</s>",
                                                 "<|eom_id|>",
                                                 "<EOT>",
                                                 "_<EOT>",
                                                 "[EOT]",
                                                 "[EOS]",
                                                 "<|end_of_text|>",
                                                 "<end_of_utterance>",
                                                 "<eos>",
                                                 "<turn|>",
                                                 "<|tool_response>",
                                                 "<｜end▁of▁sentence｜>",
                                                 "[e~["};

template <std::size_t N>
constexpr bool is_one_of(std::string_view text, const std::string_view (&names)[N]) noexcept {
  return std::find(std::begin(names), std::end(names), text) != std::end(names);
}

}  // namespace detail

/// A tokenizer vocabulary as llama.cpp's `llama_vocab` loads it: texts, kinds, scores, attributes,
/// special ids, the end-of-generation set and the special-token partition.
///
/// Thread-safe for concurrent const use. Construction is O(n) in the vocabulary size.
class vocabulary {
 public:
  /// What `vocabulary` is built from. Ids are -1 for "not given".
  struct config {
    std::vector<std::string> tokens = {};        ///< texts by id; "" becomes "[EMPTY_<id>]" as in llama.cpp
    std::vector<std::int32_t> token_types = {};  ///< `token_type` values by id, or empty for all normal
    std::vector<float> scores = {};              ///< SentencePiece scores by id, or empty for all 0
    special_ids ids = {};                        ///< ids given by the file (or defaults); -1 for none
    bool add_bos = false;                        ///< llama_tokenize(add_special) prepends BOS
    bool add_eos = false;                        ///< llama_tokenize(add_special) appends EOS
    bool detect_specials = true;                 ///< name-based EOT/FIM/EOG rules of llama.cpp's loader
    std::string model_name = {};                 ///< `general.name`, for llama.cpp's per-model attribute rules
  };

  /// A piece of text after the special-token partition: a byte range of the input, or one token.
  struct fragment {
    std::size_t offset;
    std::size_t length;
    std::int32_t token;  ///< -1 for text
  };

  /// Builds the vocabulary as llama.cpp's loader does (`llama_vocab::impl::load`):
  /// 1. attributes from the token types (no types: all normal; values outside 0..6: undefined);
  /// 2. when `detect_specials`: the first token with a known EOT, EOM or FIM text fills
  ///    each role the file left empty, and becomes control; every token with a known
  ///    end-of-generation text (`<|im_end|>`, `<|endoftext|>`, `<end_of_turn>`, `</s>`, `<eos>`,
  ///    ...) joins the end-of-generation set and becomes control, as do the FIM pad, repo and
  ///    file-separator tokens, EOS, EOT and EOM; llama.cpp's gpt-oss and solar-open `<|end|>` and
  ///    gemma4 `</s>` exceptions apply;
  /// 3. special tokens (control, unknown and user-defined attributes) ordered longest text first
  ///    (ties as llama.cpp's std::sort leaves them);
  /// 4. for a `general.name` containing "phi-3" or "phi3" (lowercased), the rstrip attribute on the
  ///    special tokens and "</s>" except "<unk>", "<s>" and "<|endoftext|>".
  ///
  /// Where one vocabulary holds several texts for one role (Qwen2.5: `<|endoftext|>` and
  /// `<|im_end|>` for EOT), llama.cpp takes the first in its std::unordered_map's iteration order;
  /// this builds the same map the same way to find it (same order with the same standard library,
  /// libstdc++ here as in llama.cpp's build), else takes the only candidate.
  ///
  /// Throws lowbit::error{errc::corrupt} for an empty vocabulary, a repeated token text, a
  /// `token_types` or `scores` size other than 0 or the token count, or a given id outside the
  /// vocabulary.
  explicit vocabulary(config cfg)
      : tokens_(std::move(cfg.tokens)), scores_(std::move(cfg.scores)), add_bos_(cfg.add_bos), add_eos_(cfg.add_eos) {
    using lowbit::errc;
    lowbit::check(!tokens_.empty(), errc::corrupt, "the vocabulary has no tokens");
    lowbit::check(tokens_.size() < std::size_t{1} << 31, errc::corrupt, "the vocabulary has over 2^31 tokens");
    const auto sizes_match = [&](std::size_t n) { return n == 0 || n == tokens_.size(); };
    lowbit::check(sizes_match(cfg.token_types.size()), errc::corrupt, [&] {
      return "token_type has " + std::to_string(cfg.token_types.size()) + " entries but the vocabulary has " +
             std::to_string(tokens_.size()) + " tokens";
    });
    lowbit::check(sizes_match(scores_.size()), errc::corrupt, [&] {
      return "scores has " + std::to_string(scores_.size()) + " entries but the vocabulary has " +
             std::to_string(tokens_.size()) + " tokens";
    });
    const auto n = static_cast<std::int32_t>(tokens_.size());

    types_.assign(tokens_.size(), token_type::normal);
    attrs_.assign(tokens_.size(), token_attr::normal);
    ids_.reserve(tokens_.size());
    for (std::int32_t id = 0; id < n; ++id) {
      const auto i = static_cast<std::size_t>(id);
      auto& text = tokens_[i];
      if (text.empty()) text = "[EMPTY_" + std::to_string(id) + "]";
      if (!cfg.token_types.empty()) {
        const std::int32_t t = cfg.token_types[i];
        types_[i] = (t >= 0 && t <= 6) ? token_type{t} : token_type::undefined;
        attrs_[i] = attr_of(types_[i]);
      }
      // Not a structured binding: Clang 14 (the fuzz build) cannot capture one in a lambda.
      const auto emplaced = ids_.emplace(text, id);
      lowbit::check(emplaced.second, errc::corrupt, [&] {
        return "token " + std::to_string(id) + " repeats the text \"" + text + "\" of token " +
               std::to_string(emplaced.first->second);
      });
    }

    special_ = cfg.ids;
    for (const std::int32_t* id : all_ids()) {
      lowbit::check(*id >= -1 && *id < n, errc::corrupt, [&] {
        return "special token id " + std::to_string(*id) + " is outside the vocabulary of " + std::to_string(n) +
               " tokens";
      });
    }
    if (cfg.detect_specials) detect_specials();

    for (std::int32_t id = 0; id < n; ++id) {
      if (attrs_[static_cast<std::size_t>(id)] &
          (token_attr::control | token_attr::user_defined | token_attr::unknown)) {
        special_order_.push_back(id);
      }
    }
    // std::sort on ids in increasing order, as llama.cpp sorts its cache_special_tokens: ties between
    // equal lengths fall in std::sort's unspecified order, which matters only for overlapping texts
    // or with lstrip/rstrip (phi-3); the same standard library gives llama.cpp's order.
    std::sort(special_order_.begin(), special_order_.end(), [&](std::int32_t a, std::int32_t b) {
      return tokens_[static_cast<std::size_t>(a)].size() > tokens_[static_cast<std::size_t>(b)].size();
    });

    std::string name = cfg.model_name;
    for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (name.find("phi-3") != std::string::npos || name.find("phi3") != std::string::npos) {
      for (const std::int32_t id : special_order_) attrs_[static_cast<std::size_t>(id)] |= token_attr::rstrip;
      set_attr("</s>", token_attr::rstrip, true);
      for (const std::string_view t : {"<unk>", "<s>", "<|endoftext|>"}) set_attr(t, token_attr::rstrip, false);
    }
  }

  /// The number of tokens.
  [[nodiscard]] std::size_t size() const noexcept { return tokens_.size(); }

  /// The special ids after the name-based rules.
  [[nodiscard]] const special_ids& ids() const noexcept { return special_; }

  /// Whether `llama_tokenize(add_special = true)` prepends BOS / appends EOS.
  [[nodiscard]] bool add_bos() const noexcept { return add_bos_; }
  [[nodiscard]] bool add_eos() const noexcept { return add_eos_; }

  /// True when `id` ends generation (llama.cpp `llama_vocab_is_eog`); false for ids outside.
  [[nodiscard]] bool is_eog(std::int32_t id) const noexcept { return std::binary_search(eog_.begin(), eog_.end(), id); }

  /// The end-of-generation ids, ascending.
  [[nodiscard]] const std::vector<std::int32_t>& eog_ids() const noexcept { return eog_; }

  /// Throws lowbit::error{errc::out_of_range} for an id outside [0, size()).
  void check_id(std::int32_t id) const {
    lowbit::check(id >= 0 && static_cast<std::size_t>(id) < tokens_.size(), lowbit::errc::out_of_range, [&] {
      return "token id " + std::to_string(id) + " is outside the vocabulary of " + std::to_string(tokens_.size()) +
             " tokens";
    });
  }

  /// The id whose text is `text`, or -1.
  [[nodiscard]] std::int32_t find(std::string_view text) const {
    const auto it = ids_.find(text);
    return it == ids_.end() ? -1 : it->second;
  }

  /// The stored text of `id` (unchecked).
  [[nodiscard]] const std::string& text(std::int32_t id) const noexcept {
    return tokens_[static_cast<std::size_t>(id)];
  }

  /// The file's kind of `id` (unchecked).
  [[nodiscard]] token_type type(std::int32_t id) const noexcept { return types_[static_cast<std::size_t>(id)]; }

  /// The attribute bits of `id` (unchecked).
  [[nodiscard]] std::uint16_t attrs(std::int32_t id) const noexcept { return attrs_[static_cast<std::size_t>(id)]; }

  /// The score of `id` (unchecked; 0 when the file has none).
  [[nodiscard]] float score(std::int32_t id) const noexcept {
    return scores_.empty() ? 0.0f : scores_[static_cast<std::size_t>(id)];
  }

  /// True when `llama_token_to_piece(special = false)` gives nothing for `id` (unchecked).
  [[nodiscard]] bool is_control_or_unknown(std::int32_t id) const noexcept {
    return (attrs(id) & (token_attr::control | token_attr::unknown)) != 0;
  }

  /// Cuts special-token texts out of `text` (llama.cpp `tokenizer_st_partition`): the texts of
  /// control and unknown tokens (only with `parse_special`) and of user-defined tokens (always) are
  /// tried longest first; each splits every remaining text fragment at all its non-overlapping
  /// occurrences, left to right. A token with the lstrip (rstrip) attribute also drops the ASCII
  /// whitespace (C `isspace`) just left (right) of each match.
  ///
  /// Allocates the result; O(specials x text length).
  [[nodiscard]] std::vector<fragment> partition(std::string_view text, bool parse_special) const {
    std::vector<fragment> fragments{{0, text.size(), -1}};
    if (text.empty()) return {};
    std::vector<fragment> next;
    for (const std::int32_t id : special_order_) {
      const std::uint16_t a = attrs(id);
      if (!parse_special && (a & (token_attr::control | token_attr::unknown))) continue;
      const std::string& special = this->text(id);
      // A fragment is a substring of `text`: no match in `text`, no match anywhere.
      if (text.find(special) == std::string_view::npos) continue;
      next.clear();
      for (const fragment& f : fragments) {
        if (f.token >= 0) {
          next.push_back(f);
          continue;
        }
        std::size_t pos = f.offset;
        std::size_t end = f.offset + f.length;
        const std::string_view window = text.substr(0, end);
        for (std::size_t match; pos < end && (match = window.find(special, pos)) != std::string_view::npos;) {
          std::size_t left_end = match;
          if (a & token_attr::lstrip) {
            while (left_end > pos && is_space(text[left_end - 1])) --left_end;
          }
          if (left_end > pos) next.push_back({pos, left_end - pos, -1});
          next.push_back({match, special.size(), id});
          pos = match + special.size();
          if (a & token_attr::rstrip) {
            while (pos < end && is_space(text[pos])) ++pos;
          }
        }
        if (pos < end) next.push_back({pos, end - pos, -1});
      }
      fragments.swap(next);
    }
    return fragments;
  }

 private:
  static constexpr std::uint16_t attr_of(token_type t) noexcept {
    switch (t) {
      case token_type::normal:
        return token_attr::normal;
      case token_type::unknown:
        return token_attr::unknown;
      case token_type::control:
        return token_attr::control;
      case token_type::user_defined:
        return token_attr::user_defined;
      case token_type::unused:
        return token_attr::unused;
      case token_type::byte:
        return token_attr::byte;
      default:
        return 0;
    }
  }

  static bool is_space(char c) noexcept { return std::isspace(static_cast<unsigned char>(c)) != 0; }

  std::array<std::int32_t*, 14> all_ids() noexcept {
    auto& s = special_;
    return {&s.bos,  &s.eos,     &s.eot,     &s.eom,     &s.unk,     &s.sep,     &s.pad,
            &s.mask, &s.fim_pre, &s.fim_suf, &s.fim_mid, &s.fim_pad, &s.fim_rep, &s.fim_sep};
  }

  void set_attr(std::string_view token, std::uint16_t bit, bool on) {
    const std::int32_t id = find(token);
    if (id < 0) return;
    auto& a = attrs_[static_cast<std::size_t>(id)];
    a = on ? static_cast<std::uint16_t>(a | bit) : static_cast<std::uint16_t>(a & ~bit);
  }

  void make_control(std::int32_t id) { attrs_[static_cast<std::size_t>(id)] |= token_attr::control; }

  /// Step 2 of the constructor comment (llama.cpp `llama_vocab::impl::load`, "auto-detect special
  /// tokens by text" and "maintain a list of tokens that cause end-of-generation").
  void detect_specials() {
    const auto n = static_cast<std::int32_t>(tokens_.size());
    // The candidates of every role still empty, in id order.
    std::vector<std::int32_t> candidates;
    bool ambiguous = false;
    const auto count = [&](std::int32_t role, const auto& names) {
      if (role >= 0) return;
      int found = 0;
      for (const std::string_view name : names) {
        if (const std::int32_t id = find(name); id >= 0) {
          candidates.push_back(id);
          ++found;
        }
      }
      ambiguous = ambiguous || found > 1;
    };
    count(special_.eot, detail::eot_names);
    count(special_.eom, detail::eom_names);
    count(special_.fim_pre, detail::fim_pre_names);
    count(special_.fim_suf, detail::fim_suf_names);
    count(special_.fim_mid, detail::fim_mid_names);
    count(special_.fim_pad, detail::fim_pad_names);
    count(special_.fim_rep, detail::fim_rep_names);
    count(special_.fim_sep, detail::fim_sep_names);
    std::sort(candidates.begin(), candidates.end());
    if (ambiguous) {
      // llama.cpp takes the first candidate in the iteration order of its token map, a
      // std::unordered_map<std::string, llama_token> filled in id order; the same map built the
      // same way iterates in the same order with the same standard library.
      std::unordered_map<std::string, std::int32_t> token_to_id;
      for (std::int32_t id = 0; id < n; ++id) token_to_id[tokens_[static_cast<std::size_t>(id)]] = id;
      std::vector<std::int32_t> ordered;
      for (const auto& entry : token_to_id) {
        if (std::binary_search(candidates.begin(), candidates.end(), entry.second)) ordered.push_back(entry.second);
      }
      candidates = std::move(ordered);
    }
    const auto fill = [&](std::int32_t& role, const auto& names) {
      if (role >= 0) return;
      for (const std::int32_t id : candidates) {
        if (detail::is_one_of(text(id), names)) {
          role = id;
          make_control(id);
          return;
        }
      }
    };
    fill(special_.eot, detail::eot_names);
    fill(special_.eom, detail::eom_names);
    fill(special_.fim_pre, detail::fim_pre_names);
    fill(special_.fim_suf, detail::fim_suf_names);
    fill(special_.fim_mid, detail::fim_mid_names);
    fill(special_.fim_pad, detail::fim_pad_names);
    fill(special_.fim_rep, detail::fim_rep_names);
    fill(special_.fim_sep, detail::fim_sep_names);

    std::vector<std::int32_t> eog;
    for (const std::int32_t id : {special_.fim_pad, special_.fim_rep, special_.fim_sep}) {
      if (id >= 0) eog.push_back(id);
    }
    for (std::int32_t id = 0; id < n; ++id) {
      if (detail::is_one_of(text(id), detail::eog_names)) {
        eog.push_back(id);
        make_control(id);
      }
    }
    // llama.cpp's gpt-oss rule: these are always rendered, as user-defined tokens.
    for (const std::string_view t : {"<|channel|>", "<|message|>", "<|start|>", "<|constrain|>"}) {
      if (const std::int32_t id = find(t); id >= 0) attrs_[static_cast<std::size_t>(id)] = token_attr::user_defined;
    }
    for (const std::int32_t id : {special_.eos, special_.eot, special_.eom}) {
      if (id >= 0) eog.push_back(id);
    }
    std::sort(eog.begin(), eog.end());
    eog.erase(std::unique(eog.begin(), eog.end()), eog.end());
    const auto in_eog = [&](std::string_view t) {
      const std::int32_t id = find(t);
      return id >= 0 && std::binary_search(eog.begin(), eog.end(), id) ? id : -1;
    };
    const auto drop = [&](std::int32_t id, std::uint16_t attr) {
      eog.erase(std::find(eog.begin(), eog.end(), id));
      attrs_[static_cast<std::size_t>(id)] = attr;
    };
    // o200k_harmony / solar-open: "<|end|>" is not an end of generation there.
    const std::int32_t end = in_eog("<|end|>");
    const bool has_return = in_eog("<|return|>") >= 0;
    const bool has_call = in_eog("<|call|>") >= 0 || in_eog("<|calls|>") >= 0;
    const bool has_flush = in_eog("<|flush|>") >= 0;
    if (end >= 0 && has_call && (has_return || has_flush)) drop(end, token_attr::user_defined);
    // gemma4 / plamo: "</s>" is a normal token there.
    const std::int32_t s = in_eog("</s>");
    if (s >= 0 && (in_eog("<|tool_response>") >= 0 || in_eog("<|plamo:eos|>") >= 0)) drop(s, token_attr::normal);
    eog_ = std::move(eog);
  }

  std::vector<std::string> tokens_;
  std::vector<token_type> types_;
  std::vector<std::uint16_t> attrs_;
  std::vector<float> scores_;
  std::unordered_map<std::string, std::int32_t, detail::string_hash, std::equal_to<>> ids_;
  std::vector<std::int32_t> special_order_;  // control, unknown, user-defined; longest text first
  std::vector<std::int32_t> eog_;
  special_ids special_;
  bool add_bos_ = false;
  bool add_eos_ = false;
};

/// Reads the parts of `tokenizer.ggml.*` that every tokenizer kind shares into a
/// `vocabulary::config`, applying llama.cpp's defaults for the kind:
/// `default_ids` are the ids llama.cpp assumes before reading the file (SPM: BOS 1, EOS 2, UNK 0;
/// BPE: BOS and EOS 11), dropped when outside the vocabulary; a file id outside the vocabulary is
/// ignored (llama.cpp warns and keeps the default). `add_bos`/`add_eos` are the kind's defaults,
/// overridden by `tokenizer.ggml.add_bos_token` / `add_eos_token`.
///
/// Throws the reader's lowbit::error (errc::missing_key, errc::type_mismatch) for an absent token
/// list or mistyped keys.
inline vocabulary::config read_vocabulary_config(const lowbit::io::gguf_file& file, special_ids default_ids,
                                                 bool add_bos, bool add_eos) {
  vocabulary::config cfg;
  for (const auto& s : file.get_string_array("tokenizer.ggml.tokens")) cfg.tokens.emplace_back(s);
  if (file.contains("tokenizer.ggml.token_type"))
    cfg.token_types = file.get_array<std::int32_t>("tokenizer.ggml.token_type");
  if (file.contains("tokenizer.ggml.scores")) cfg.scores = file.get_array<float>("tokenizer.ggml.scores");
  // llama.cpp reads as many types and scores as tokens and rejects fewer.
  if (cfg.token_types.size() > cfg.tokens.size()) cfg.token_types.resize(cfg.tokens.size());
  if (cfg.scores.size() > cfg.tokens.size()) cfg.scores.resize(cfg.tokens.size());

  const auto n = static_cast<std::uint64_t>(cfg.tokens.size());
  special_ids ids = default_ids;
  const auto read_id = [&](std::int32_t& id, const char* key) {
    if (id >= 0 && static_cast<std::uint64_t>(id) >= n) id = -1;
    if (const auto* v = file.find(key); v != nullptr) {
      const std::uint64_t value = v->as<std::uint64_t>();
      if (value < n) id = static_cast<std::int32_t>(value);
    }
  };
  read_id(ids.bos, "tokenizer.ggml.bos_token_id");
  read_id(ids.eos, "tokenizer.ggml.eos_token_id");
  read_id(ids.eot, "tokenizer.ggml.eot_token_id");
  read_id(ids.eom, "tokenizer.ggml.eom_token_id");
  read_id(ids.unk, "tokenizer.ggml.unknown_token_id");
  read_id(ids.sep, "tokenizer.ggml.seperator_token_id");  // sic: llama.cpp's key
  read_id(ids.pad, "tokenizer.ggml.padding_token_id");
  read_id(ids.mask, "tokenizer.ggml.mask_token_id");
  read_id(ids.fim_pre, "tokenizer.ggml.fim_pre_token_id");
  read_id(ids.fim_suf, "tokenizer.ggml.fim_suf_token_id");
  read_id(ids.fim_mid, "tokenizer.ggml.fim_mid_token_id");
  read_id(ids.fim_pad, "tokenizer.ggml.fim_pad_token_id");
  read_id(ids.fim_rep, "tokenizer.ggml.fim_rep_token_id");
  read_id(ids.fim_sep, "tokenizer.ggml.fim_sep_token_id");
  read_id(ids.fim_pre, "tokenizer.ggml.prefix_token_id");  // deprecated spellings
  read_id(ids.fim_suf, "tokenizer.ggml.suffix_token_id");
  read_id(ids.fim_mid, "tokenizer.ggml.middle_token_id");
  cfg.ids = ids;

  cfg.add_bos = file.contains("tokenizer.ggml.add_bos_token") ? file.get_bool("tokenizer.ggml.add_bos_token") : add_bos;
  cfg.add_eos = file.contains("tokenizer.ggml.add_eos_token") ? file.get_bool("tokenizer.ggml.add_eos_token") : add_eos;
  if (file.contains("general.name")) cfg.model_name = std::string(file.get_string("general.name"));
  return cfg;
}

}  // namespace llm
