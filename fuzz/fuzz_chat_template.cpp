// SPDX-License-Identifier: Apache-2.0
// Copyright lowbit contributors
//
// libFuzzer target: chat-template detection and rendering of examples/llm/chat_template.hpp.
// The input is a `tokenizer.chat_template` text. Properties: `detect_chat_template` returns or
// throws `lowbit::error{errc::unsupported}`, and returns exactly when `detect_family_name` names a
// family lowbit renders; a family's own llama.cpp name detects as that family; a detected format
// renders conversations made from the input (any roles, any bytes) without error; and a default
// system prompt found in the template appears (trimmed, as the families that trim contents render
// it) in the rendering of a conversation that has no system message.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "chat_template.hpp"
#include "fuzz_common.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using lowbit::fuzz::expect;
  const std::string_view tmpl(reinterpret_cast<const char*>(data), size);
  const std::string_view name = llm::detail::detect_family_name(tmpl);
  llm::chat_format format;
  try {
    format = llm::detect_chat_template(tmpl);
  } catch (const lowbit::error& e) {
    expect(e.code() == lowbit::errc::unsupported, "detect_chat_template threw other than unsupported");
    return 0;
  }
  expect(!name.empty(), "a family was detected where detect_family_name found none");
  expect(llm::to_string(format.family) == name, "the detected family is not the one detect_family_name named");
  const llm::chat_format again = llm::detect_chat_template(llm::to_string(format.family));
  expect(again.family == format.family, "a family's own name does not detect as that family");
  (void)llm::detail::template_literals(tmpl);

  // A conversation made of the input's halves.
  const std::string first(tmpl.substr(0, size / 2));
  const std::string second(tmpl.substr(size / 2));
  const std::vector<llm::chat_message> messages = {
      {.role = "system", .content = first},
      {.role = "user", .content = second},
      {.role = "assistant", .content = first},
      {.role = std::string(tmpl.substr(0, 8)), .content = second},
  };
  expect(format.family != llm::chat_family::none, "a template detected as family none");
  for (const bool generation : {false, true}) (void)llm::apply_chat_template(format, messages, generation);
  if (!format.default_system.empty()) {
    const std::vector<llm::chat_message> user_only = {{.role = "user", .content = second}};
    const std::string out = llm::apply_chat_template(format, user_only, true);
    // Families that trim contents (llama2-sys-strip, ...) trim the default too.
    const std::string_view wanted = llm::detail::trim(format.default_system);
    expect(out.find(wanted) != std::string::npos, "the default system prompt is not rendered");
  }
  return 0;
}
