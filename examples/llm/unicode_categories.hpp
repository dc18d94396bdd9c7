// SPDX-License-Identifier: Apache-2.0
// Copyright lowbit contributors
#pragma once

#include <unicode/uchar.h>
#include <unicode/uversion.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>
#include <vector>

#include "lowbit/core/error.hpp"

/// Code point classification and UTF-8 coding for the SmolLM2 pre-tokenizer, as llama.cpp does them.
///
/// The pre-tokenizer regexes use three classes: `\p{L}` (letter), `\p{N}` (number) and `\s`
/// (whitespace). llama.cpp answers them from tables generated from UnicodeData.txt
/// (scripts/gen-unicode-data.py, src/unicode-data.cpp); we answer them from ICU with the same
/// definitions:
///
/// * letter: general category Lu, Ll, Lt, Lm or Lo (`U_GC_L_MASK`);
/// * number: general category Nd, Nl or No (`U_GC_N_MASK`);
/// * whitespace: the Unicode `White_Space` property (`u_isUWhiteSpace`): U+0009..U+000D, U+0020,
///   U+0085, U+00A0, U+1680, U+2000..U+200A, U+2028, U+2029, U+202F, U+205F, U+3000. It is not
///   Python's `str.isspace` (which adds U+001C..U+001F) nor C's `isspace`.
///
/// llama.cpp 0c1e57098's tables are Unicode 15.1. ICU 72 (Debian bookworm) is Unicode 15.0, so
/// `classify` adds the 627 code points that Unicode 15.1 assigned (UnicodeData.txt 15.1.0: U+2EBF0..
/// U+2EE5D CJK Unified Ideographs Extension I, category Lo; U+2FFC..U+2FFF ideographic description
/// characters and U+31EF CJK STROKE HXG, category So) when the ICU it runs on is older than 15.1,
/// and, with an ICU newer than 15.1, treats code points assigned after 15.1 (by `u_charAge`) as
/// unassigned. An exhaustive comparison of all 0x110000 code points against llama.cpp's table
/// found no other difference with ICU 72.
namespace llm::unicode {

/// The general-category group of a code point, the coarse classes llama.cpp keeps per code point
/// (its `unicode_cpt_flags`: \p{N}, \p{L}, \p{Z}, \p{M}, \p{P}, \p{S}, \p{C}, or unassigned Cn).
enum class category_group : std::uint8_t {
  unassigned,   ///< Cn, and anything past U+10FFFF
  number,       ///< Nd, Nl, No
  letter,       ///< Lu, Ll, Lt, Lm, Lo
  separator,    ///< Zs, Zl, Zp
  mark,         ///< Mn, Mc, Me
  punctuation,  ///< Pc, Pd, Ps, Pe, Pi, Pf, Po
  symbol,       ///< Sm, Sc, Sk, So
  control,      ///< Cc, Cf, Co, Cs
};

/// What the pre-tokenizer regexes ask of one code point.
struct code_point_class {
  category_group group = category_group::unassigned;  ///< general-category group
  bool whitespace = false;                            ///< Unicode White_Space property (regex `\s`)

  /// Regex `\p{L}`.
  [[nodiscard]] constexpr bool is_letter() const noexcept { return group == category_group::letter; }
  /// Regex `\p{N}`.
  [[nodiscard]] constexpr bool is_number() const noexcept { return group == category_group::number; }
};

namespace detail {

/// Maps an ICU general category (`u_charType`) to its group.
constexpr category_group group_of_char_type(std::int8_t type) noexcept {
  switch (type) {
    case U_UPPERCASE_LETTER:
    case U_LOWERCASE_LETTER:
    case U_TITLECASE_LETTER:
    case U_MODIFIER_LETTER:
    case U_OTHER_LETTER:
      return category_group::letter;
    case U_DECIMAL_DIGIT_NUMBER:
    case U_LETTER_NUMBER:
    case U_OTHER_NUMBER:
      return category_group::number;
    case U_SPACE_SEPARATOR:
    case U_LINE_SEPARATOR:
    case U_PARAGRAPH_SEPARATOR:
      return category_group::separator;
    case U_NON_SPACING_MARK:
    case U_ENCLOSING_MARK:
    case U_COMBINING_SPACING_MARK:
      return category_group::mark;
    case U_DASH_PUNCTUATION:
    case U_START_PUNCTUATION:
    case U_END_PUNCTUATION:
    case U_CONNECTOR_PUNCTUATION:
    case U_OTHER_PUNCTUATION:
    case U_INITIAL_PUNCTUATION:
    case U_FINAL_PUNCTUATION:
      return category_group::punctuation;
    case U_MATH_SYMBOL:
    case U_CURRENCY_SYMBOL:
    case U_MODIFIER_SYMBOL:
    case U_OTHER_SYMBOL:
      return category_group::symbol;
    case U_CONTROL_CHAR:
    case U_FORMAT_CHAR:
    case U_PRIVATE_USE_CHAR:
    case U_SURROGATE:
      return category_group::control;
    default:
      return category_group::unassigned;
  }
}

/// How the running ICU's Unicode version compares with 15.1, the version of llama.cpp's tables.
struct unicode_version_gap {
  bool older_than_15_1 = false;
  bool newer_than_15_1 = false;
};

inline unicode_version_gap icu_version_gap() noexcept {
  static const unicode_version_gap gap = [] {
    UVersionInfo version{};
    u_getUnicodeVersion(version);
    const int v = version[0] * 100 + version[1];
    return unicode_version_gap{.older_than_15_1 = v<1501, .newer_than_15_1 = v> 1501};
  }();
  return gap;
}

/// The class of every ASCII code point, built once (the hot path of English text and code).
inline const std::array<code_point_class, 128>& ascii_classes() noexcept {
  static const std::array<code_point_class, 128> table = [] {
    std::array<code_point_class, 128> t{};
    for (UChar32 c = 0; c < 128; ++c) {
      t[static_cast<std::size_t>(c)] = {group_of_char_type(u_charType(c)), u_isUWhiteSpace(c) != 0};
    }
    return t;
  }();
  return table;
}

}  // namespace detail

/// Classifies one code point the way llama.cpp's `unicode_cpt_flags_from_cpt` does.
///
/// Code points past U+10FFFF (which llama.cpp's lenient UTF-8 decoder can produce) are unassigned
/// and not whitespace.
inline code_point_class classify(char32_t cpt) noexcept {
  if (cpt < 128) return detail::ascii_classes()[cpt];
  if (cpt > 0x10FFFF) return {};
  const auto c = static_cast<UChar32>(cpt);
  const auto gap = detail::icu_version_gap();
  code_point_class result{detail::group_of_char_type(u_charType(c)), u_isUWhiteSpace(c) != 0};
  if (gap.older_than_15_1 && result.group == category_group::unassigned) {
    // Unicode 15.1.0 additions (UnicodeData.txt 15.1.0).
    if (c >= 0x2EBF0 && c <= 0x2EE5D) result.group = category_group::letter;
    if ((c >= 0x2FFC && c <= 0x2FFF) || c == 0x31EF) result.group = category_group::symbol;
  } else if (gap.newer_than_15_1 && result.group != category_group::unassigned) {
    UVersionInfo age{};
    u_charAge(c, age);
    if (age[0] * 100 + age[1] > 1501) result = {};
  }
  return result;
}

/// The replacement character that stands for each byte the decoder cannot read.
inline constexpr char32_t replacement_character = 0xFFFD;

/// Decodes UTF-8 into code points with llama.cpp's lenient rules (`unicode_cpts_from_utf8`).
///
/// A lead byte 0xxxxxxx, 110xxxxx, 1110xxxx or 11110xxx followed by enough 10xxxxxx bytes gives
/// the code point its bits spell, without further checks: overlong forms (C0 80 -> U+0000),
/// surrogates (ED A0 80 -> U+D800) and values up to U+1FFFFF (F5..F7 leads) are accepted. Any
/// other byte (a stray continuation byte, F8..FF, or a lead byte whose sequence is cut short or
/// broken) gives one U+FFFD and decoding resumes at the next byte.
///
/// Allocates the result; `text` is not retained.
inline std::vector<char32_t> decode_utf8(std::string_view text) {
  std::vector<char32_t> cpts;
  cpts.reserve(text.size());
  const auto byte = [&](std::size_t i) { return static_cast<std::uint8_t>(text[i]); };
  const auto continuation = [&](std::size_t i) { return i < text.size() && (byte(i) & 0xC0) == 0x80; };
  std::size_t i = 0;
  while (i < text.size()) {
    const std::uint8_t b0 = byte(i);
    if (b0 < 0x80) {
      cpts.push_back(b0);
      i += 1;
    } else if ((b0 & 0xE0) == 0xC0 && continuation(i + 1)) {
      cpts.push_back(char32_t(b0 & 0x1F) << 6 | char32_t(byte(i + 1) & 0x3F));
      i += 2;
    } else if ((b0 & 0xF0) == 0xE0 && continuation(i + 1) && continuation(i + 2)) {
      cpts.push_back(char32_t(b0 & 0x0F) << 12 | char32_t(byte(i + 1) & 0x3F) << 6 | char32_t(byte(i + 2) & 0x3F));
      i += 3;
    } else if ((b0 & 0xF8) == 0xF0 && continuation(i + 1) && continuation(i + 2) && continuation(i + 3)) {
      cpts.push_back(char32_t(b0 & 0x07) << 18 | char32_t(byte(i + 1) & 0x3F) << 12 |
                     char32_t(byte(i + 2) & 0x3F) << 6 | char32_t(byte(i + 3) & 0x3F));
      i += 4;
    } else {
      cpts.push_back(replacement_character);
      i += 1;
    }
  }
  return cpts;
}

/// Appends the UTF-8 form of `cpt` to `out` (1 to 4 bytes; surrogates are encoded like any other
/// value, as llama.cpp's `unicode_cpt_to_utf8` does).
///
/// Throws lowbit::error{errc::invalid_argument} for a value past U+10FFFF: llama.cpp throws
/// std::invalid_argument("invalid codepoint") there, which aborts its tokenizer.
inline void append_utf8(std::string& out, char32_t cpt) {
  if (cpt < 0x80) {
    out.push_back(static_cast<char>(cpt));
  } else if (cpt < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (cpt >> 6)));
    out.push_back(static_cast<char>(0x80 | (cpt & 0x3F)));
  } else if (cpt < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (cpt >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cpt >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cpt & 0x3F)));
  } else if (cpt <= 0x10FFFF) {
    out.push_back(static_cast<char>(0xF0 | (cpt >> 18)));
    out.push_back(static_cast<char>(0x80 | ((cpt >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((cpt >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cpt & 0x3F)));
  } else {
    char name[16];
    std::snprintf(name, sizeof name, "U+%X", static_cast<unsigned>(cpt));
    throw lowbit::error(lowbit::errc::invalid_argument, std::string("text holds a UTF-8 sequence that decodes to ") +
                                                            name +
                                                            ", past U+10FFFF; llama.cpp cannot tokenize it either");
  }
}

}  // namespace llm::unicode
