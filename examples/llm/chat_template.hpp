// SPDX-License-Identifier: Apache-2.0
// Copyright lowbit contributors
#pragma once

#include <span>
#include <string>
#include <string_view>

#include "lowbit/core/error.hpp"
#include "lowbit/io/gguf.hpp"

namespace llm {

/// One turn of a conversation: `role` is "system", "user" or "assistant" (not checked: the
/// template copies any role).
struct chat_message {
  std::string role;
  std::string content;
};

/// The system prompt SmolLM2-Instruct's template inserts when the first message is not a system
/// message (its GGUF's `tokenizer.chat_template`).
inline constexpr std::string_view default_system_prompt =
    "You are a helpful AI assistant named SmolLM, trained by Hugging Face";

/// Renders `messages` as ChatML, exactly as SmolLM2-Instruct's Jinja template does:
///
///     [<|im_start|>system\n{default_system}<|im_end|>\n]   if messages[0].role != "system"
///     <|im_start|>{role}\n{content}<|im_end|>\n            for each message
///     <|im_start|>assistant\n                              if add_generation_prompt
///
/// With no messages nothing but the generation prompt is rendered (the default system turn is
/// emitted inside the template's loop). Roles and contents are copied verbatim: a content holding
/// "<|im_end|>" is tokenized as that control token when parsed with specials, as in llama.cpp.
///
/// Source: the `tokenizer.chat_template` of SmolLM2-135M-Instruct (HuggingFaceTB); ChatML as in
/// llama.cpp's `LLM_CHAT_TEMPLATE_CHATML`. Allocates the result.
inline std::string apply_chatml(std::span<const chat_message> messages, bool add_generation_prompt,
                                std::string_view default_system = default_system_prompt) {
  std::string out;
  for (std::size_t i = 0; i < messages.size(); ++i) {
    if (i == 0 && messages[0].role != "system") {
      out += "<|im_start|>system\n";
      out += default_system;
      out += "<|im_end|>\n";
    }
    out += "<|im_start|>";
    out += messages[i].role;
    out += '\n';
    out += messages[i].content;
    out += "<|im_end|>\n";
  }
  if (add_generation_prompt) out += "<|im_start|>assistant\n";
  return out;
}

/// Checks that `chat_template` (a GGUF `tokenizer.chat_template`) belongs to the ChatML family
/// that `apply_chatml` renders: it must contain "<|im_start|>", the test llama.cpp's
/// `llm_chat_detect_template` uses for ChatML.
///
/// Throws lowbit::error{errc::unsupported} otherwise.
inline void check_chatml_template(std::string_view chat_template) {
  lowbit::check(chat_template.find("<|im_start|>") != std::string_view::npos, lowbit::errc::unsupported, [&] {
    return "tokenizer.chat_template is not a ChatML template (no \"<|im_start|>\"); it begins \"" +
           std::string(chat_template.substr(0, 80)) + "\"";
  });
}

/// Checks that `file`'s `tokenizer.chat_template` is a ChatML template (see the string overload).
///
/// Throws lowbit::error{errc::unsupported} when the key is absent or the template is not ChatML.
inline void check_chatml_template(const lowbit::io::gguf_file& file) {
  lowbit::check(file.find("tokenizer.chat_template") != nullptr, lowbit::errc::unsupported,
                "the GGUF file has no tokenizer.chat_template, so its chat format is unknown");
  check_chatml_template(std::string_view(file.get_string("tokenizer.chat_template")));
}

}  // namespace llm
