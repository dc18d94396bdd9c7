// SPDX-License-Identifier: Apache-2.0
// Copyright lowbit contributors
//
// The SmolLM2 example's tokenizer against llama.cpp: golden ids from tests/data/smollm2/tokenize.json
// (llama_tokenize / llama_detokenize of llama.cpp 0c1e57098) plus edge cases below.

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "catch.hpp"
#include "chat_template.hpp"
#include "lowbit/io/gguf.hpp"
#include "tokenizer.hpp"

namespace {

using ids = std::vector<std::int32_t>;

const std::string& model_path() {
  static const std::string path = LOWBIT_SMOLLM2_GGUF;
  return path;
}

const llm::tokenizer& smollm2_tokenizer() {
  static const llm::tokenizer tok = [] {
    if (model_path().empty()) {
      FAIL(
          "LOWBIT_SMOLLM2_GGUF is empty: configure with -DLOWBIT_SMOLLM2_GGUF=<path to "
          "SmolLM2-135M-Instruct.Q4_1.gguf> (scripts/fetch_model.sh fetches it)");
    }
    return llm::tokenizer::from_gguf(lowbit::io::gguf_file::open(model_path()));
  }();
  return tok;
}

const nlohmann::json& golden() {
  static const nlohmann::json data = [] {
    const std::string path = std::string(LOWBIT_TEST_DATA_DIR) + "/smollm2/tokenize.json";
    std::ifstream in(path);
    if (!in) FAIL("cannot open " << path);
    return nlohmann::json::parse(in);
  }();
  return data;
}

std::string hex2(unsigned char byte) {
  constexpr char digits[] = "0123456789abcdef";
  return {digits[byte >> 4], digits[byte & 15]};
}

/// The text with control bytes and non-ASCII bytes escaped, for messages.
std::string escaped(std::string_view text) {
  std::string out;
  for (const char c : text) {
    const auto b = static_cast<unsigned char>(c);
    if (b == '\n') {
      out += "\\n";
    } else if (b < 0x20 || b >= 0x7F) {
      out += "\\x" + hex2(b);
    } else {
      out += c;
    }
  }
  return out;
}

std::string to_string(const ids& v) {
  std::ostringstream s;
  s << '[';
  for (std::size_t i = 0; i < v.size(); ++i) s << (i ? ", " : "") << v[i];
  s << ']';
  return s.str();
}

/// A four-token vocabulary {a, b, ab, <|x|>} for the error cases.
llm::tokenizer tiny(std::vector<std::string> merges = {"a b"}, std::string_view pre = "smollm",
                    std::vector<std::int32_t> types = {1, 1, 1, 3}) {
  return llm::tokenizer({"a", "b", "ab", "<|x|>"}, std::move(types), merges, pre);
}

template <class F>
lowbit::errc error_code_of(F&& f) {
  try {
    f();
  } catch (const lowbit::error& e) {
    return e.code();
  }
  FAIL("no lowbit::error was thrown");
  return lowbit::errc::invalid_argument;
}

}  // namespace

TEST_CASE("tokenizer: reads the SmolLM2 vocabulary from GGUF", "[tokenizer][smollm2]") {
  const auto& tok = smollm2_tokenizer();
  CHECK(tok.size() == 49152);
  CHECK(tok.bos_id() == 1);
  CHECK(tok.eos_id() == 2);
  CHECK(tok.id_of("<|im_start|>") == 1);
  CHECK(tok.id_of("<|im_end|>") == 2);
  CHECK(tok.id_of("Ġthe") == 260);
  for (std::int32_t id = 0; id < 17; ++id) CHECK(tok.is_control(id));
  CHECK_FALSE(tok.is_control(17));
  CHECK(tok.token_to_piece(2) == "<|im_end|>");
  CHECK(tok.token_to_piece(2, false).empty());
  CHECK(tok.token_to_piece(tok.id_of("Ġthe")) == " the");
  CHECK(tok.token_to_piece(tok.id_of("Ċ")) == "\n");
}

TEST_CASE("tokenizer: matches llama.cpp on tokenize.json", "[tokenizer][smollm2]") {
  const auto& tok = smollm2_tokenizer();
  const auto& data = golden();
  REQUIRE(data.at("add_special") == false);
  REQUIRE(data.at("parse_special") == true);
  const auto& cases = data.at("cases");
  REQUIRE(cases.size() >= 40);
  std::size_t mismatches = 0;
  for (const auto& c : cases) {
    const auto text = c.at("text").get<std::string>();
    const auto theirs = c.at("ids").get<ids>();
    const ids ours = tok.encode(text);
    if (ours != theirs) {
      ++mismatches;
      UNSCOPED_INFO("text \"" << escaped(text) << "\"\n  ours   " << to_string(ours) << "\n  llama  "
                              << to_string(theirs));
    }
  }
  CHECK(mismatches == 0);
}

TEST_CASE("tokenizer: decode(encode(s)) == s on tokenize.json", "[tokenizer][smollm2]") {
  const auto& tok = smollm2_tokenizer();
  for (const auto& c : golden().at("cases")) {
    const auto text = c.at("text").get<std::string>();
    INFO("text \"" << escaped(text) << "\"");
    CHECK(tok.decode(tok.encode(text)) == text);
  }
}

TEST_CASE("tokenizer: detokenizes like llama.cpp", "[tokenizer][smollm2]") {
  const auto& tok = smollm2_tokenizer();
  const auto& data = golden();
  for (const auto& d : data.at("detok")) {
    const auto in = d.at("ids").get<ids>();
    const bool special = d.at("unparse_special").get<bool>();
    INFO("ids " << to_string(in) << " special " << special);
    CHECK(tok.decode(in, special) == d.at("text").get<std::string>());
  }
  const auto& example = data.at("pieces_bytes_example");
  for (const auto& p : example.at("pieces")) {
    std::string hex;
    for (const char c : tok.token_to_piece(p.at("id").get<std::int32_t>())) {
      hex += hex2(static_cast<unsigned char>(c));
    }
    CHECK(hex == p.at("hex").get<std::string>());
  }
}

TEST_CASE("tokenizer: matches llama.cpp on invalid UTF-8, rare classes and parse_special off", "[tokenizer][smollm2]") {
  // ids from llama.cpp 0c1e57098's llama-tokenize --no-bos (--no-parse-special where marked).
  struct edge_case {
    std::string_view text;
    bool parse_special;
    ids expected;
  };
  using namespace std::string_view_literals;
  const std::vector<edge_case> cases = {
      // 0x04 has no token and is dropped; C0 80 is an overlong NUL.
      {"a\x04"
       "b\xc0\x80"
       "c"sv,
       true,
       {81, 82, 190, 83}},
      // Every unreadable byte becomes U+FFFD.
      {"\xff\xfe abc \x80\x80 d\xf8\x88\x80\x80\x80"
       "e"sv,
       true,
       {24211, 24211, 43239, 216, 24211, 24211, 287, 24211, 24211, 24211, 24211, 24211, 85}},
      {"x\xe4\xbd y"sv, true, {104, 24211, 24211, 329}},
      {"pizza \xf0\x9f\x8d"sv, true, {96, 16017, 216, 24211, 24211, 24211}},
      // Encoded surrogates pass through.
      {"\xed\xa0\x80\xed\xb0\x80z"sv, true, {184, 250, 218, 184, 125, 218, 106}},
      // Unicode 15.1 additions (CJK Extension I letters, U+2FFC and U+31EF symbols).
      {"\U0002EBF0\U0002EBF1abc \u2ffc\u31ef!"sv,
       true,
       {187, 123, 124, 125, 187, 123, 124, 126, 25276, 4636, 140, 137, 174, 225, 124, 17}},
      // Non-ASCII numbers (Nd, No) are isolated one by one.
      {"\u0663\u0664\u0665 \u0661\u0662 \uff11\uff12\uff13 \u00bd \u2153 \U0001D7CF\U0001D7D0"sv,
       true,
       {164,  113, 164, 114,   164, 115, 216, 164, 111, 164,   112, 216, 8083,  235, 8083, 236,
        8083, 237, 216, 16738, 216, 173, 223, 237, 216, 23159, 249, 233, 23159, 249, 234}},
      // White_Space beyond ASCII.
      {"a\u00a0b a\u3000\u3000b x\u2028y p\u0085q a \u00a0 b"sv,
       true,
       {81, 15442, 82, 253, 12109, 218, 12109, 218, 82, 1792, 321, 118, 105, 273, 141, 223, 97, 253, 3351, 250, 278}},
      {"  \u00a0\u00a0  x"sv, true, {256, 15442, 15442, 216, 1792}},
      // U+001C..U+001F are not White_Space.
      {"\x1c\x1d\x1e\x1f x\x1c y"sv, true, {213, 214, 215, 1792, 213, 329}},
      {"  \n  \n\n   x \t  \ty\r\n\r\n  "sv, true, {256, 11181, 39892, 1792, 216, 197, 256, 197, 105, 18682, 256}},
      // Private use, unassigned (U+0378), tag, a Unicode 16 letter (U+1C89), a 2020 emoji.
      {"\ue000\U000F0000 \u0378 \U000E0001 \u1c89 \U0001F979"sv,
       true,
       {185, 218, 218, 188, 125, 218, 218, 216, 152, 133, 216, 188, 250, 218, 219, 15822, 127, 227, 15107, 115, 134}},
      {"'s'S'' 'll'LL x'd 'rex 've"sv,
       true,
       {506, 23, 67, 3816, 637, 764, 23, 16421, 1792, 6737, 637, 30542, 637, 307}},
      // Combining marks are not letters.
      {"e\u0301 a\u0308 \u0915\u094d\u0937"sv, true, {85, 151, 219, 253, 151, 226, 42034, 16525, 4300, 132}},
      {"abc\u0430\u0431\u0432123def"sv, true, {25276, 6511, 27714, 16464, 33, 34, 35, 1604}},
      {"\U0001D400\U0001D401\U0001D402 \U0001D7CE"sv, true, {45100, 218, 45100, 219, 45100, 220, 216, 23159, 249, 232}},
      {"\x00\x01\x7f\t\x0b\x0c"sv, true, {190, 191, 217, 197, 199, 200}},
      {"supercalifragilisticexpialidocious aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa ========================================"sv,
       true,
       {14174, 5020,  342,   1808,  301,   40482, 104,   96,    409,   311, 42288, 253,  46880,
        46880, 46880, 46880, 46880, 46880, 46880, 46880, 46880, 46880, 446, 12704, 2031, 28733}},
      {"<|im_start|><|im_start|><|endoftext|><|endoftext|>x<reponame><repo_name>"sv, true, {1, 1, 0, 0, 104, 4, 3}},
      {"<|im_start|>user\nhi<|im_end|>\n"sv,
       false,
       {44, 108, 306, 79, 3738, 108, 46, 4093, 198, 6004, 44, 108, 306, 79, 486, 108, 46, 198}},
      {"<|endoftext|><|endoftext|>x<reponame><repo_name>"sv, false, {44,  108,   486,   1714,  2692, 108,  21198,
                                                                     108, 486,   1714,  2692,  108,  46,   104,
                                                                     44,  10368, 21198, 22139, 79,   1245, 46}},
  };
  const auto& tok = smollm2_tokenizer();
  for (const auto& c : cases) {
    const ids ours = tok.encode(c.text, c.parse_special);
    INFO("text \"" << escaped(c.text) << "\" parse_special " << c.parse_special << "\n  ours   " << to_string(ours)
                   << "\n  llama  " << to_string(c.expected));
    CHECK(ours == c.expected);
  }
  // llama.cpp aborts on a sequence that decodes past U+10FFFF; we throw.
  CHECK(error_code_of([&] { (void)tok.encode("\xf5\x80\x80\x80"); }) == lowbit::errc::invalid_argument);
}

TEST_CASE("tokenizer: ChatML render round-trips through encode and decode", "[tokenizer][smollm2][chat]") {
  const auto& tok = smollm2_tokenizer();
  const std::vector<llm::chat_message> conversation = {{"user", "What is 2+2?"}, {"assistant", "4."}};
  const std::string rendered = llm::apply_chatml(conversation, true);
  CHECK(rendered ==
        "<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n"
        "<|im_start|>user\nWhat is 2+2?<|im_end|>\n<|im_start|>assistant\n4.<|im_end|>\n<|im_start|>assistant\n");
  const ids encoded = tok.encode(rendered);
  CHECK(tok.decode(encoded) == rendered);
  CHECK(std::count(encoded.begin(), encoded.end(), tok.bos_id()) == 4);
  CHECK(std::count(encoded.begin(), encoded.end(), tok.eos_id()) == 3);

  // A system message replaces the default; no generation prompt.
  const std::vector<llm::chat_message> with_system = {{"system", "Be brief."}, {"user", "Hi"}};
  CHECK(llm::apply_chatml(with_system, false) ==
        "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n");
  CHECK(llm::apply_chatml({}, true) == "<|im_start|>assistant\n");

  // The golden chat prompt of tokenize.json is this render of one user message.
  const std::vector<llm::chat_message> question = {{"user", "What is the capital of France?"}};
  const std::string prompt = llm::apply_chatml(question, true);
  bool found = false;
  for (const auto& c : golden().at("cases")) {
    if (c.at("text").get<std::string>() == prompt) {
      found = true;
      CHECK(tok.encode(prompt) == c.at("ids").get<ids>());
    }
  }
  CHECK(found);

  const auto file = lowbit::io::gguf_file::open(model_path());
  CHECK_NOTHROW(llm::check_chatml_template(file));
  CHECK(error_code_of([] { llm::check_chatml_template("{{ bos_token }}[INST] {{ message }} [/INST]"); }) ==
        lowbit::errc::unsupported);
}

TEST_CASE("tokenizer: rejects bad ids, pre-tokenizers and vocabularies", "[tokenizer][smollm2][errors]") {
  using lowbit::errc;
  const auto& tok = smollm2_tokenizer();
  const std::int32_t past = static_cast<std::int32_t>(tok.size());
  CHECK(error_code_of([&] { (void)tok.token_to_piece(-1); }) == errc::out_of_range);
  CHECK(error_code_of([&] { (void)tok.token_to_piece(past); }) == errc::out_of_range);
  const ids bad = {17, past};
  CHECK(error_code_of([&] { (void)tok.decode(bad); }) == errc::out_of_range);
  CHECK(error_code_of([&] { (void)tok.is_control(past); }) == errc::out_of_range);
  CHECK(error_code_of([&] { (void)tok.id_of("no such token"); }) == errc::missing_key);
  try {
    (void)tok.token_to_piece(past);
  } catch (const lowbit::error& e) {
    CHECK(std::string(e.what()).find("49152") != std::string::npos);
  }

  CHECK(tiny().encode("ab<|x|>ba") == ids{2, 3, 1, 0});
  CHECK(tiny().encode("<|x|>", false) == ids{});  // no single-byte tokens for '<', '|', 'x', '>'
  CHECK(error_code_of([] { (void)tiny({"a b"}, "deepseek-coder"); }) == errc::unsupported);
  try {
    (void)tiny({"a b"}, "gpt-4o");
  } catch (const lowbit::error& e) {
    CHECK(std::string(e.what()).find("gpt-4o") != std::string::npos);
  }
  CHECK(error_code_of([] { (void)tiny({"ab"}); }) == errc::corrupt);
  CHECK(error_code_of([] { (void)tiny({"a c"}); }) == errc::corrupt);
  CHECK(error_code_of([] { (void)tiny({"b a"}); }) == errc::corrupt);  // "ba" is not a token
  CHECK(error_code_of([] { (void)tiny({"a b"}, "smollm", {1, 1}); }) == errc::corrupt);
  CHECK(error_code_of([] { (void)llm::tokenizer({"a", "a"}, {}, {}, "smollm"); }) == errc::corrupt);
  CHECK(error_code_of([] { (void)llm::tokenizer({}, {}, {}, "smollm"); }) == errc::corrupt);
  CHECK(error_code_of([] { (void)llm::tokenizer({"a"}, {}, {}, "smollm", 1); }) == errc::corrupt);
}

TEST_CASE("tokenizer: encode speed on 20 KB", "[.][benchmark][tokenizer][smollm2]") {
  const auto& tok = smollm2_tokenizer();
  std::string text;
  const auto& cases = golden().at("cases");
  while (text.size() < 20000) {
    for (const auto& c : cases) text += c.at("text").get<std::string>() + "\n";
  }
  text.resize(20000);
  const auto start = std::chrono::steady_clock::now();
  constexpr int repeats = 20;
  std::size_t n = 0;
  for (int i = 0; i < repeats; ++i) n += tok.encode(text).size();
  const double ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count() / repeats;
  WARN("encode of " << text.size() << " bytes: " << ms << " ms, " << n / repeats << " tokens");
  CHECK(ms < 100.0);
}
