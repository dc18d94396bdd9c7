// SPDX-License-Identifier: Apache-2.0
// Copyright lowbit contributors
#pragma once

#include <algorithm>
#include <array>
#include <cctype>
#include <cstddef>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "lowbit/core/error.hpp"
#include "lowbit/io/gguf.hpp"

/// Chat templates as llama.cpp applies them without --jinja: `llm_chat_detect_template` picks a
/// family from marker strings in the GGUF `tokenizer.chat_template`, and `llm_chat_apply_template`
/// renders a fixed format per family (llama.cpp 0c1e57098, src/llama-chat.cpp). Nothing here runs
/// Jinja. One lowbit extension: the family's default system prompt, read from a string literal of
/// the Jinja text (see `extract_default_system`).
namespace llm {

/// One turn of a conversation: `role` is "system", "user" or "assistant" (others are passed on
/// as each family does: copied, or dropped).
struct chat_message {
  std::string role;
  std::string content;
};

/// The chat formats llama.cpp knows without Jinja, by llama.cpp's names (`to_string`), that lowbit
/// renders. `none`: the file has no template (plain completion).
enum class chat_family {
  none,
  chatml,             ///< "chatml": `<|im_start|>{role}\n{content}<|im_end|>\n` (SmolLM2, Qwen2.5)
  llama2,             ///< "llama2": `[INST] ... [/INST]`, system text prepended without <<SYS>>
  llama2_sys,         ///< "llama2-sys": with `<<SYS>>\n...\n<</SYS>>\n\n`
  llama2_sys_bos,     ///< "llama2-sys-bos": and `<s>` before later turns
  llama2_sys_strip,   ///< "llama2-sys-strip": and contents trimmed
  mistral_v1,         ///< "mistral-v1": ` [INST] {user} [/INST] {assistant}</s>`
  mistral_v3,         ///< "mistral-v3": `[INST] {user}[/INST] {assistant}</s>`, assistant trimmed
  mistral_v3_tekken,  ///< "mistral-v3-tekken": `[INST]{user}[/INST]{assistant}</s>`
  mistral_v7,         ///< "mistral-v7": `[SYSTEM_PROMPT] ...[/SYSTEM_PROMPT][INST] ...[/INST]`
  mistral_v7_tekken,  ///< "mistral-v7-tekken": the same without the spaces
  phi3,               ///< "phi3": `<|{role}|>\n{content}<|end|>\n`
  phi4,               ///< "phi4": `<|im_start|>{role}<|im_sep|>{content}<|im_end|>`
  falcon3,            ///< "falcon3": `<|{role}|>\n{content}\n`
  zephyr,             ///< "zephyr": `<|{role}|>\n{content}<|endoftext|>\n`
  monarch,            ///< "monarch": `{role}\n{content}</s>\n`, `<s>` before all but the first
  gemma,              ///< "gemma": `<start_of_turn>{user|model}\n{content}<end_of_turn>\n`
  openchat,           ///< "openchat": `GPT4 Correct {Role}: {content}<|end_of_turn|>`
  vicuna,             ///< "vicuna": `USER: ...\nASSISTANT: ...</s>\n`
  vicuna_orca,        ///< "vicuna-orca": vicuna with `SYSTEM: `
  deepseek,           ///< "deepseek": `### Instruction:\n...\n### Response:\n...\n<|EOT|>\n`
  deepseek2,          ///< "deepseek2": `User: ...\n\nAssistant: ...<｜end▁of▁sentence｜>`
  deepseek3,          ///< "deepseek3": `<｜User｜>...<｜Assistant｜>...<｜end▁of▁sentence｜>`
  deepseek_ocr,       ///< "deepseek-ocr": contents only
  command_r,          ///< "command-r": `<|START_OF_TURN_TOKEN|><|USER_TOKEN|>...<|END_OF_TURN_TOKEN|>`
  llama3,             ///< "llama3": `<|start_header_id|>{role}<|end_header_id|>\n\n{content}<|eot_id|>`
  llama4,             ///< "llama4": `<|header_start|>{role}<|header_end|>\n\n{content}<|eot|>`
  chatglm3,           ///< "chatglm3": `[gMASK]sop<|{role}|>\n {content}`
  chatglm4,           ///< "chatglm4": `[gMASK]<sop><|{role}|>\n{content}`
  glmedge,            ///< "glmedge": `<|{role}|>\n{content}`
  minicpm,            ///< "minicpm": `<用户>{user}<AI>{assistant}`
  exaone3,            ///< "exaone3": `[|system|]...[|endofturn|]\n[|user|]...\n`
  exaone4,            ///< "exaone4": exaone3 with a tool role
  exaone_moe,         ///< "exaone-moe": `<|{role}|>\n{content}<|endofturn|>\n`
  granite,            ///< "granite": `<|start_of_role|>{role}<|end_of_role|>{content}<|end_of_text|>\n`
  granite_4_0,        ///< "granite-4.0"
  granite_4_1,        ///< "granite-4.1"
  megrez,             ///< "megrez": `<|role_start|>{role}<|role_end|>{content}<|turn_end|>`
  yandex,             ///< "yandex": ` Пользователь: ...\n\n Ассистент: ...\n\n`
  bailing,            ///< "bailing": `<role>{ROLE}</role>{content}`, user as HUMAN
  bailing_think,      ///< "bailing-think": bailing, generation prompt ends in `<think>`
  smolvlm,            ///< "smolvlm": `<|im_start|>User: ...<end_of_utterance>\n`
  dots1,              ///< "dots1": `<|userprompt|>...<|endofuserprompt|><|response|>...`
  hunyuan_moe,        ///< "hunyuan-moe": `<|startoftext|>...<|extra_0|>`
  gpt_oss,            ///< "gpt-oss": `<|start|>{role}<|message|>{content}<|end|>`
  kimi_k2,            ///< "kimi-k2": `<|im_user|>user<|im_middle|>{content}<|im_end|>`
  seed_oss,           ///< "seed_oss": `<seed:bos>{role}\n{content}<seed:eos>`
  grok_2,             ///< "grok-2": `Human: ...<|separator|>\n\n`
  solar_open,         ///< "solar-open": `<|begin|>{role}<|content|>{content}<|end|>`
};

/// A detected chat format: the family and its default system prompt ("" for none).
struct chat_format {
  chat_family family = chat_family::none;
  std::string default_system = {};
};

namespace detail {

/// How one role's turn renders: `prefix + content + suffix`. In `prefix`, "{role}" is the role,
/// "{Role}" the role with its first byte uppercased, "{ROLE}" all uppercased (ASCII). `trim`
/// trims the content as llama.cpp's `trim` does (C `isspace` at both ends).
struct role_format {
  std::string_view role;  ///< "*" matches any role not listed before it; "" marks an unused row
  std::string_view prefix;
  std::string_view suffix;
  bool trim = false;
};

/// A family rendered turn by turn: `begin`, then each message by the first matching
/// `role_format` (a message whose role matches none is dropped), then `generation` when asked
/// for. Families rendered by code of their own have no rows.
struct turn_table {
  chat_family family;
  std::string_view name;  ///< llama.cpp's name
  std::string_view begin;
  std::array<role_format, 5> roles;
  std::string_view generation;
};

// The fixed formats of llama.cpp's llm_chat_apply_template, one row per family (facts read from
// llama.cpp 0c1e57098, src/llama-chat.cpp). Custom-rendered families have empty tables.
inline constexpr std::string_view eos_ds = "<｜end▁of▁sentence｜>";
inline constexpr turn_table turn_tables[] = {
    {chat_family::chatml, "chatml", "", {{{"*", "<|im_start|>{role}\n", "<|im_end|>\n"}}}, "<|im_start|>assistant\n"},
    {chat_family::llama2, "llama2", "", {}, ""},
    {chat_family::llama2_sys, "llama2-sys", "", {}, ""},
    {chat_family::llama2_sys_bos, "llama2-sys-bos", "", {}, ""},
    {chat_family::llama2_sys_strip, "llama2-sys-strip", "", {}, ""},
    {chat_family::mistral_v1, "mistral-v1", "", {}, ""},
    {chat_family::mistral_v3, "mistral-v3", "", {}, ""},
    {chat_family::mistral_v3_tekken, "mistral-v3-tekken", "", {}, ""},
    {chat_family::mistral_v7,
     "mistral-v7",
     "",
     {{{"system", "[SYSTEM_PROMPT] ", "[/SYSTEM_PROMPT]"}, {"user", "[INST] ", "[/INST]"}, {"*", " ", "</s>"}}},
     ""},
    {chat_family::mistral_v7_tekken,
     "mistral-v7-tekken",
     "",
     {{{"system", "[SYSTEM_PROMPT]", "[/SYSTEM_PROMPT]"}, {"user", "[INST]", "[/INST]"}, {"*", "", "</s>"}}},
     ""},
    {chat_family::phi3, "phi3", "", {{{"*", "<|{role}|>\n", "<|end|>\n"}}}, "<|assistant|>\n"},
    {chat_family::phi4,
     "phi4",
     "",
     {{{"*", "<|im_start|>{role}<|im_sep|>", "<|im_end|>"}}},
     "<|im_start|>assistant<|im_sep|>"},
    {chat_family::falcon3, "falcon3", "", {{{"*", "<|{role}|>\n", "\n"}}}, "<|assistant|>\n"},
    {chat_family::zephyr, "zephyr", "", {{{"*", "<|{role}|>\n", "<|endoftext|>\n"}}}, "<|assistant|>\n"},
    {chat_family::monarch, "monarch", "", {}, ""},
    {chat_family::gemma, "gemma", "", {}, ""},
    {chat_family::openchat,
     "openchat",
     "",
     {{{"system", "", "<|end_of_turn|>"}, {"*", "GPT4 Correct {Role}: ", "<|end_of_turn|>"}}},
     "GPT4 Correct Assistant:"},
    {chat_family::vicuna,
     "vicuna",
     "",
     {{{"system", "", "\n\n"}, {"user", "USER: ", "\n"}, {"assistant", "ASSISTANT: ", "</s>\n"}}},
     "ASSISTANT:"},
    {chat_family::vicuna_orca,
     "vicuna-orca",
     "",
     {{{"system", "SYSTEM: ", "\n"}, {"user", "USER: ", "\n"}, {"assistant", "ASSISTANT: ", "</s>\n"}}},
     "ASSISTANT:"},
    {chat_family::deepseek,
     "deepseek",
     "",
     {{{"system", "", ""}, {"user", "### Instruction:\n", "\n"}, {"assistant", "### Response:\n", "\n<|EOT|>\n"}}},
     "### Response:\n"},
    {chat_family::deepseek2,
     "deepseek2",
     "",
     {{{"system", "", "\n\n"}, {"user", "User: ", "\n\n"}, {"assistant", "Assistant: ", eos_ds}}},
     "Assistant:"},
    {chat_family::deepseek3,
     "deepseek3",
     "",
     {{{"system", "", "\n\n"}, {"user", "<｜User｜>", ""}, {"assistant", "<｜Assistant｜>", eos_ds}}},
     "<｜Assistant｜>"},
    {chat_family::deepseek_ocr, "deepseek-ocr", "", {{{"*", "", ""}}}, ""},
    {chat_family::command_r,
     "command-r",
     "",
     {{{"system", "<|START_OF_TURN_TOKEN|><|SYSTEM_TOKEN|>", "<|END_OF_TURN_TOKEN|>", true},
       {"user", "<|START_OF_TURN_TOKEN|><|USER_TOKEN|>", "<|END_OF_TURN_TOKEN|>", true},
       {"assistant", "<|START_OF_TURN_TOKEN|><|CHATBOT_TOKEN|>", "<|END_OF_TURN_TOKEN|>", true}}},
     "<|START_OF_TURN_TOKEN|><|CHATBOT_TOKEN|>"},
    {chat_family::llama3,
     "llama3",
     "",
     {{{"*", "<|start_header_id|>{role}<|end_header_id|>\n\n", "<|eot_id|>", true}}},
     "<|start_header_id|>assistant<|end_header_id|>\n\n"},
    {chat_family::llama4,
     "llama4",
     "",
     {{{"*", "<|header_start|>{role}<|header_end|>\n\n", "<|eot|>", true}}},
     "<|header_start|>assistant<|header_end|>\n\n"},
    {chat_family::chatglm3, "chatglm3", "[gMASK]sop", {{{"*", "<|{role}|>\n ", ""}}}, "<|assistant|>"},
    {chat_family::chatglm4, "chatglm4", "[gMASK]<sop>", {{{"*", "<|{role}|>\n", ""}}}, "<|assistant|>\n"},
    {chat_family::glmedge, "glmedge", "", {{{"*", "<|{role}|>\n", ""}}}, "<|assistant|>"},
    {chat_family::minicpm, "minicpm", "", {{{"user", "<用户>", "<AI>", true}, {"*", "", "", true}}}, ""},
    {chat_family::exaone3,
     "exaone3",
     "",
     {{{"system", "[|system|]", "[|endofturn|]\n", true},
       {"user", "[|user|]", "\n", true},
       {"assistant", "[|assistant|]", "[|endofturn|]\n", true}}},
     "[|assistant|]"},
    {chat_family::exaone4,
     "exaone4",
     "",
     {{{"system", "[|system|]", "[|endofturn|]\n", true},
       {"user", "[|user|]", "\n", true},
       {"assistant", "[|assistant|]", "[|endofturn|]\n", true},
       {"tool", "[|tool|]", "[|endofturn|]\n", true}}},
     "[|assistant|]"},
    {chat_family::exaone_moe,
     "exaone-moe",
     "",
     {{{"system", "<|system|>\n", "<|endofturn|>\n", true},
       {"user", "<|user|>\n", "<|endofturn|>\n", true},
       {"assistant", "<|assistant|>\n", "<|endofturn|>\n", true},
       {"tool", "<|tool|>\n", "<|endofturn|>\n", true}}},
     "<|assistant|>\n"},
    {chat_family::granite,
     "granite",
     "",
     {{{"assistant_tool_call", "<|start_of_role|>assistant_tool_call<|end_of_role|><|tool_call|>", "<|end_of_text|>\n"},
       {"*", "<|start_of_role|>{role}<|end_of_role|>", "<|end_of_text|>\n"}}},
     "<|start_of_role|>assistant<|end_of_role|>"},
    {chat_family::granite_4_0,
     "granite-4.0",
     "",
     {{{"assistant_tool_call", "<|start_of_role|>assistant<|end_of_role|><|tool_call|>", "<|end_of_text|>\n"},
       {"*", "<|start_of_role|>{role}<|end_of_role|>", "<|end_of_text|>\n"}}},
     "<|start_of_role|>assistant<|end_of_role|>"},
    {chat_family::granite_4_1,
     "granite-4.1",
     "",
     {{{"assistant_tool_call", "<|start_of_role|>assistant<|end_of_role|><|tool_call|>", "<|end_of_text|>\n"},
       {"*", "<|start_of_role|>{role}<|end_of_role|>", "<|end_of_text|>\n"}}},
     "<|start_of_role|>assistant<|end_of_role|>"},
    {chat_family::megrez,
     "megrez",
     "",
     {{{"*", "<|role_start|>{role}<|role_end|>", "<|turn_end|>"}}},
     "<|role_start|>assistant<|role_end|>"},
    {chat_family::yandex,
     "yandex",
     "",
     {{{"user", " Пользователь: ", "\n\n"}, {"assistant", " Ассистент: ", "\n\n"}}},
     " Ассистент:[SEP]"},
    {chat_family::bailing,
     "bailing",
     "",
     {{{"user", "<role>HUMAN</role>", ""}, {"*", "<role>{ROLE}</role>", ""}}},
     "<role>ASSISTANT</role>"},
    {chat_family::bailing_think,
     "bailing-think",
     "",
     {{{"user", "<role>HUMAN</role>", ""}, {"*", "<role>{ROLE}</role>", ""}}},
     "<role>ASSISTANT</role><think>"},
    {chat_family::smolvlm,
     "smolvlm",
     "<|im_start|>",
     {{{"system", "", "\n\n"},
       {"user", "User: ", "<end_of_utterance>\n"},
       {"*", "Assistant: ", "<end_of_utterance>\n"}}},
     "Assistant:"},
    {chat_family::dots1,
     "dots1",
     "",
     {{{"system", "<|system|>", "<|endofsystem|>"},
       {"user", "<|userprompt|>", "<|endofuserprompt|>"},
       {"*", "<|response|>", "<|endofresponse|>"}}},
     "<|response|>"},
    {chat_family::hunyuan_moe,
     "hunyuan-moe",
     "",
     {{{"system", "<|startoftext|>", "<|extra_4|>"},
       {"assistant", "", "<|eos|>"},
       {"*", "<|startoftext|>", "<|extra_0|>"}}},
     ""},
    {chat_family::gpt_oss,
     "gpt-oss",
     "",
     {{{"assistant", "<|start|>assistant<|message|>", "<|return|>"}, {"*", "<|start|>{role}<|message|>", "<|end|>"}}},
     "<|start|>assistant"},
    {chat_family::kimi_k2,
     "kimi-k2",
     "",
     {{{"system", "<|im_system|>system<|im_middle|>", "<|im_end|>"},
       {"user", "<|im_user|>user<|im_middle|>", "<|im_end|>"},
       {"assistant", "<|im_assistant|>assistant<|im_middle|>", "<|im_end|>"},
       {"tool", "<|im_system|>tool<|im_middle|>", "<|im_end|>"},
       {"*", "", "<|im_end|>"}}},
     "<|im_assistant|>assistant<|im_middle|>"},
    {chat_family::seed_oss,
     "seed_oss",
     "",
     {{{"assistant", "<seed:bos>assistant\n", "<seed:eos>", true}, {"*", "<seed:bos>{role}\n", "<seed:eos>"}}},
     "<seed:bos>assistant\n"},
    {chat_family::grok_2,
     "grok-2",
     "",
     {{{"system", "System: ", "<|separator|>\n\n", true},
       {"user", "Human: ", "<|separator|>\n\n", true},
       {"assistant", "Assistant: ", "<|separator|>\n\n"}}},
     "Assistant:"},
    {chat_family::solar_open,
     "solar-open",
     "",
     {{{"*", "<|begin|>{role}<|content|>", "<|end|>"}}},
     "<|begin|>assistant"},
};

inline const turn_table& table_of(chat_family family) {
  for (const auto& t : turn_tables) {
    if (t.family == family) return t;
  }
  throw lowbit::error(lowbit::errc::invalid_argument, "no chat format for this family");
}

/// llama.cpp's `trim`: C `isspace` (space, \t, \n, \v, \f, \r) removed at both ends.
inline std::string_view trim(std::string_view s) noexcept {
  const auto space = [](char c) { return std::isspace(static_cast<unsigned char>(c)) != 0; };
  while (!s.empty() && space(s.front())) s.remove_prefix(1);
  while (!s.empty() && space(s.back())) s.remove_suffix(1);
  return s;
}

/// `prefix` with "{role}", "{Role}" and "{ROLE}" replaced (see `role_format`).
inline std::string expand_role(std::string_view prefix, std::string_view role) {
  std::string out;
  for (std::size_t i = 0; i < prefix.size();) {
    const std::string_view rest = prefix.substr(i);
    if (rest.starts_with("{role}") || rest.starts_with("{Role}") || rest.starts_with("{ROLE}")) {
      std::string r(role);
      if (rest[1] == 'R' && !r.empty()) r[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(r[0])));
      if (rest[2] == 'O') {
        for (char& c : r) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
      }
      out += r;
      i += 6;
    } else {
      out += prefix[i++];
    }
  }
  return out;
}

inline const role_format* find_role(const turn_table& t, std::string_view role) noexcept {
  for (const auto& r : t.roles) {
    if (!r.role.empty() && (r.role == "*" || r.role == role)) return &r;
  }
  return nullptr;
}

/// llama.cpp's family name for `tmpl`, as `llm_chat_detect_template` decides it (an exact family
/// name first, then marker strings in a fixed order), or "" when it recognises none.
inline std::string_view detect_family_name(std::string_view tmpl) noexcept {
  static constexpr std::string_view names[] = {
      "chatml",      "llama2",        "llama2-sys",        "llama2-sys-bos", "llama2-sys-strip",
      "mistral-v1",  "mistral-v3",    "mistral-v3-tekken", "mistral-v7",     "mistral-v7-tekken",
      "phi3",        "phi4",          "falcon3",           "zephyr",         "monarch",
      "gemma",       "orion",         "openchat",          "vicuna",         "vicuna-orca",
      "deepseek",    "deepseek2",     "deepseek3",         "deepseek-ocr",   "command-r",
      "llama3",      "chatglm3",      "chatglm4",          "glmedge",        "minicpm",
      "exaone3",     "exaone4",       "exaone-moe",        "rwkv-world",     "granite",
      "granite-4.0", "granite-4.1",   "gigachat",          "megrez",         "yandex",
      "bailing",     "bailing-think", "bailing2",          "llama4",         "smolvlm",
      "hunyuan-moe", "gpt-oss",       "hunyuan-dense",     "hunyuan-vl",     "kimi-k2",
      "seed_oss",    "grok-2",        "pangu-embedded",    "solar-open",     "dots1"};
  for (const std::string_view n : names) {
    if (tmpl == n) return n;
  }
  const auto has = [&](std::string_view s) { return tmpl.find(s) != std::string_view::npos; };
  if (has("<|im_start|>")) return has("<|im_sep|>") ? "phi4" : has("<end_of_utterance>") ? "smolvlm" : "chatml";
  if (tmpl.starts_with("mistral") || has("[INST]")) {
    if (has("[SYSTEM_PROMPT]")) return "mistral-v7";
    if (has("' [INST] ' + system_message") || has("[AVAILABLE_TOOLS]")) {
      if (has(" [INST]")) return "mistral-v1";
      if (has("\"[INST]\"")) return "mistral-v3-tekken";
      return "mistral-v3";
    }
    if (has("content.strip()")) return "llama2-sys-strip";
    if (has("bos_token + '[INST]")) return "llama2-sys-bos";
    if (has("<<SYS>>")) return "llama2-sys";
    return "llama2";
  }
  if (has("<|assistant|>") && has("<|end|>")) return "phi3";
  if (has("[gMASK]<sop>")) return "chatglm4";
  if (has("<|assistant|>") && has("<|user|>")) {
    if (has("<|tool_declare|>")) return "exaone-moe";
    return has("</s>") ? "falcon3" : "glmedge";
  }
  if (has("<|{{ item['role'] }}|>") && has("<|begin_of_image|>")) return "glmedge";
  if (has("<|user|>") && has("<|endoftext|>")) return "zephyr";
  if (has("bos_token + message['role']")) return "monarch";
  if (has("<start_of_turn>")) return "gemma";
  if (has("'\\n\\nAssistant: ' + eos_token")) return "orion";
  if (has("GPT4 Correct ")) return "openchat";
  if (has("USER: ") && has("ASSISTANT: ")) return has("SYSTEM: ") ? "vicuna-orca" : "vicuna";
  if (has("### Instruction:") && has("<|EOT|>")) return "deepseek";
  if (has("<|START_OF_TURN_TOKEN|>") && has("<|USER_TOKEN|>")) return "command-r";
  if (has("<|start_header_id|>") && has("<|end_header_id|>")) return "llama3";
  if (has("[gMASK]sop")) return "chatglm3";
  if (has("<用户>")) return "minicpm";
  if (has("'Assistant: ' + message['content'] + eos_token")) return "deepseek2";
  if (has("<｜Assistant｜>") && has("<｜User｜>") && has(eos_ds)) {
    return "deepseek3";
  }
  if (has("[|system|]") && has("[|assistant|]") && has("[|endofturn|]")) return has("[|tool|]") ? "exaone4" : "exaone3";
  if (has("rwkv-world") || has("{{- 'User: ' + message['content']|trim + '\\n\\n' -}}")) return "rwkv-world";
  if (has("<|start_of_role|>")) {
    if (has("<tool_call>") || has("<tools>")) return has("g4_default_system_message") ? "granite-4.0" : "granite-4.1";
    return "granite";
  }
  if (has("message['role'] + additional_special_tokens[0] + message['content'] + additional_special_tokens[1]")) {
    return "gigachat";
  }
  if (has("<|role_start|>")) return "megrez";
  if (has(" Ассистент:")) return "yandex";
  if (has("<role>ASSISTANT</role>") && has("'HUMAN'")) return "bailing";
  if (has("<role>ASSISTANT</role>") && has("\"HUMAN\"") && has("<think>")) return "bailing-think";
  if (has("<role>ASSISTANT</role>") && has("<role>HUMAN</role>") && has("<|role_end|>")) return "bailing2";
  if (has("<|header_start|>") && has("<|header_end|>")) return "llama4";
  if (has("<|endofuserprompt|>")) return "dots1";
  if (has("<|extra_0|>") && has("<|extra_4|>")) return "hunyuan-moe";
  if (has("<|start|>") && has("<|channel|>")) return "gpt-oss";
  if (has("<｜hy_Assistant｜>") && has("<｜hy_begin▁of▁sentence｜>")) {
    return "hunyuan-vl";
  }
  if (has("<｜hy_Assistant｜>") && has("<｜hy_place▁holder▁no▁3｜>")) {
    return "hunyuan-dense";
  }
  if (has("<|im_assistant|>assistant<|im_middle|>")) return "kimi-k2";
  if (has("<seed:bos>")) return "seed_oss";
  if (has("'Assistant: '  + message['content'] + '<|separator|>")) return "grok-2";
  if (has("[unused9]系统：[unused10]")) return "pangu-embedded";
  if (has("<|begin|>") && has("<|end|>") && has("<|content|>")) return "solar-open";
  return {};
}

/// The system turn's delimiters for default-system extraction: {prefix, suffix} with the suffix's
/// trailing whitespace removed; empty when the family has no delimited system turn.
inline std::pair<std::string, std::string> system_delimiters(chat_family family) {
  switch (family) {
    case chat_family::llama2_sys:
    case chat_family::llama2_sys_bos:
    case chat_family::llama2_sys_strip:
      return {"<<SYS>>\n", "\n<</SYS>>"};
    default:
      break;
  }
  const turn_table& t = table_of(family);
  const role_format* r = find_role(t, "system");
  if (r == nullptr || r->prefix.empty() || r->suffix.empty()) return {};
  std::string suffix(r->suffix);
  while (!suffix.empty() && std::isspace(static_cast<unsigned char>(suffix.back()))) suffix.pop_back();
  if (suffix.empty()) return {};
  return {expand_role(r->prefix, "system"), suffix};
}

/// The Jinja template's literal pieces: quoted strings inside `{{ }}` / `{% %}` (with `\n`, `\t`,
/// `\r`, `\\`, `\'`, `\"` unescaped) and the raw text between tags.
inline std::vector<std::string> template_literals(std::string_view tmpl) {
  std::vector<std::string> out;
  std::size_t i = 0;
  const std::size_t n = tmpl.size();
  while (i < n) {
    const std::string_view rest = tmpl.substr(i);
    if (rest.starts_with("{#")) {
      const std::size_t close = tmpl.find("#}", i + 2);
      i = close == std::string_view::npos ? n : close + 2;
    } else if (rest.starts_with("{{") || rest.starts_with("{%")) {
      const char closer = rest[1] == '{' ? '}' : '%';
      i += 2;
      while (i < n) {
        const char c = tmpl[i];
        if (c == '\'' || c == '"') {
          std::string lit;
          for (++i; i < n && tmpl[i] != c; ++i) {
            if (tmpl[i] == '\\' && i + 1 < n) {
              const char e = tmpl[++i];
              if (e == 'n' || e == 't' || e == 'r') {
                lit += e == 'n' ? '\n' : e == 't' ? '\t' : '\r';
              } else if (e == '\\' || e == '\'' || e == '"') {
                lit += e;
              } else {  // kept as written
                lit += '\\';
                lit += e;
              }
            } else {
              lit += tmpl[i];
            }
          }
          ++i;  // the closing quote
          out.push_back(std::move(lit));
        } else if (c == closer && i + 1 < n && tmpl[i + 1] == '}') {
          i += 2;
          break;
        } else {
          ++i;
        }
      }
    } else {
      std::size_t next = n;
      for (const std::string_view open : {"{{", "{%", "{#"}) next = std::min(next, tmpl.find(open, i));
      out.emplace_back(tmpl.substr(i, next - i));
      i = next;
    }
  }
  return out;
}

}  // namespace detail

/// llama.cpp's name of `family` ("chatml", "gemma", "llama3", ...); "none" for `none`.
inline std::string_view to_string(chat_family family) noexcept {
  if (family == chat_family::none) return "none";
  for (const auto& t : detail::turn_tables) {
    if (t.family == family) return t.name;
  }
  return "?";
}

/// The default system prompt in a Jinja chat template (lowbit extension; llama.cpp without
/// --jinja has none): the text of the first template literal that holds the family's whole
/// system turn, e.g. `'<|im_start|>system\nYou are Qwen, ...<|im_end|>\n'` for ChatML (Qwen2.5,
/// SmolLM2), between the turn's opening ("<|im_start|>system\n") and its closing ("<|im_end|>").
/// Literals are the quoted strings of `{{ }}` / `{% %}` tags (escapes `\n`, `\t`, `\r`, `\\`,
/// `\'`, `\"` resolved) and the raw text between tags; a system turn assembled from several
/// pieces (`'<|im_start|>system\n' + messages[0]['content']`) is a slot for the user's prompt,
/// not a default, and is not matched. "" when none is found or the family has no delimited system
/// turn (gemma, mistral v1/v3, llama2 without <<SYS>>).
///
/// Allocates; O(template length x literals).
inline std::string extract_default_system(chat_family family, std::string_view tmpl) {
  if (family == chat_family::none) return {};
  const auto [open, close] = detail::system_delimiters(family);
  if (open.empty()) return {};
  for (const std::string& lit : detail::template_literals(tmpl)) {
    const std::size_t a = lit.find(open);
    if (a == std::string::npos) continue;
    const std::size_t b = lit.find(close, a + open.size());
    if (b == std::string::npos || b == a + open.size()) continue;
    return lit.substr(a + open.size(), b - a - open.size());
  }
  return {};
}

/// The chat format of template text `tmpl`, as llama.cpp's `llm_chat_detect_template` picks it
/// (an exact family name such as "chatml" also selects that family), with its default system
/// prompt (`extract_default_system`).
///
/// Throws lowbit::error{errc::unsupported} quoting the template's first 80 bytes when llama.cpp
/// recognises no family in it, or naming the family when llama.cpp knows it but lowbit does not
/// render it (orion, rwkv-world, gigachat, bailing2, hunyuan-dense, hunyuan-vl, pangu-embedded).
inline chat_format detect_chat_template(std::string_view tmpl) {
  const std::string_view name = detail::detect_family_name(tmpl);
  const auto quote = [&] {
    std::string q;
    for (const char c : tmpl.substr(0, 80)) q += c == '\n' ? std::string("\\n") : std::string(1, c);
    return q + (tmpl.size() > 80 ? "..." : "");
  };
  lowbit::check(!name.empty(), lowbit::errc::unsupported, [&] {
    return "tokenizer.chat_template is not a template llama.cpp recognises without --jinja; it begins \"" + quote() +
           "\"";
  });
  for (const auto& t : detail::turn_tables) {
    if (t.name == name) return {t.family, extract_default_system(t.family, tmpl)};
  }
  throw lowbit::error(lowbit::errc::unsupported, "chat template family \"" + std::string(name) +
                                                     "\" (llama.cpp's name) is not rendered by lowbit; the template "
                                                     "begins \"" +
                                                     quote() + "\"");
}

/// The chat format of a GGUF file's `tokenizer.chat_template`; family `none` when the file has no
/// template (e.g. Gemma 3 270M base), for plain completion.
///
/// Throws as the string overload, and errc::type_mismatch when the key is not a string.
inline chat_format detect_chat_template(const lowbit::io::gguf_file& file) {
  if (!file.contains("tokenizer.chat_template")) return {};
  return detect_chat_template(file.get_string("tokenizer.chat_template"));
}

/// Renders `messages` in `format`, exactly as llama.cpp's `llm_chat_apply_template` renders that
/// family (`add_generation_prompt` is its `add_ass`), after one lowbit step: when
/// `format.default_system` is set, `messages` is non-empty and `messages[0].role` is not "system",
/// a system message with the default is put first, as the model's Jinja template does.
///
/// Roles and contents are copied verbatim (or trimmed, where the family trims): a content holding a
/// control token's text is tokenized as that token when parsed with specials, as in llama.cpp.
///
/// Throws lowbit::error{errc::unsupported} for family `none`. Allocates the result.
inline std::string apply_chat_template(const chat_format& format, std::span<const chat_message> messages,
                                       bool add_generation_prompt) {
  lowbit::check(format.family != chat_family::none, lowbit::errc::unsupported,
                "the model has no chat template; use plain completion");
  std::vector<chat_message> with_default;
  if (!format.default_system.empty() && !messages.empty() && messages[0].role != "system") {
    with_default.reserve(messages.size() + 1);
    with_default.push_back({"system", format.default_system});
    with_default.insert(with_default.end(), messages.begin(), messages.end());
    messages = with_default;
  }
  std::string out;
  const auto trimmed = [](const chat_message& m) { return std::string(detail::trim(m.content)); };

  switch (format.family) {
    case chat_family::llama2:
    case chat_family::llama2_sys:
    case chat_family::llama2_sys_bos:
    case chat_family::llama2_sys_strip: {
      const bool sys_block = format.family != chat_family::llama2;
      const bool strip = format.family == chat_family::llama2_sys_strip;
      bool in_turn = true;  // the first [INST] is written up front, without BOS
      out += "[INST] ";
      for (const auto& m : messages) {
        const std::string content = strip ? trimmed(m) : m.content;
        if (!in_turn) {
          in_turn = true;
          out += format.family == chat_family::llama2_sys_bos ? "<s>[INST] " : "[INST] ";
        }
        if (m.role == "system") {
          out += sys_block ? "<<SYS>>\n" + content + "\n<</SYS>>\n\n" : content + "\n";
        } else if (m.role == "user") {
          out += content + " [/INST]";
        } else {
          out += content + "</s>";
          in_turn = false;
        }
      }
      return out;  // no generation prompt in this family
    }
    case chat_family::mistral_v1:
    case chat_family::mistral_v3:
    case chat_family::mistral_v3_tekken: {
      const std::string_view lead = format.family == chat_family::mistral_v1 ? " " : "";
      const std::string_view gap = format.family == chat_family::mistral_v3_tekken ? "" : " ";
      bool in_turn = false;
      for (const auto& m : messages) {
        if (!in_turn) {
          out += lead;
          out += "[INST]";
          out += gap;
          in_turn = true;
        }
        if (m.role == "system") {
          out += m.content + "\n\n";
        } else if (m.role == "user") {
          out += m.content;
          out += lead;
          out += "[/INST]";
        } else {
          out += gap;
          out += format.family == chat_family::mistral_v3 ? trimmed(m) : m.content;
          out += "</s>";
          in_turn = false;
        }
      }
      return out;
    }
    case chat_family::gemma: {
      // No system turn: system text goes, trimmed, at the top of the next non-model turn.
      std::string system;
      for (const auto& m : messages) {
        if (m.role == "system") {
          system += trimmed(m);
          continue;
        }
        const std::string role = m.role == "assistant" ? "model" : m.role;
        out += "<start_of_turn>" + role + "\n";
        if (!system.empty() && role != "model") {
          out += system + "\n\n";
          system.clear();
        }
        out += trimmed(m) + "<end_of_turn>\n";
      }
      if (add_generation_prompt) out += "<start_of_turn>model\n";
      return out;
    }
    case chat_family::monarch: {
      for (std::size_t i = 0; i < messages.size(); ++i) {
        out += (i == 0 ? "" : "<s>") + messages[i].role + "\n" + messages[i].content + "</s>\n";
      }
      if (add_generation_prompt) out += "<s>assistant\n";
      return out;
    }
    default:
      break;
  }

  const detail::turn_table& t = detail::table_of(format.family);
  out += t.begin;
  for (const auto& m : messages) {
    const detail::role_format* r = detail::find_role(t, m.role);
    if (r == nullptr) continue;
    out += detail::expand_role(r->prefix, m.role);
    out += r->trim ? trimmed(m) : m.content;
    out += r->suffix;
  }
  if (add_generation_prompt) out += t.generation;
  return out;
}

/// The system prompt SmolLM2-Instruct's template inserts when the first message is not a system
/// message (its GGUF's `tokenizer.chat_template`).
inline constexpr std::string_view default_system_prompt =
    "You are a helpful AI assistant named SmolLM, trained by Hugging Face";

/// Renders `messages` as ChatML with SmolLM2's default system prompt:
/// `apply_chat_template({chat_family::chatml, default_system}, messages, add_generation_prompt)`.
/// With no messages nothing but the generation prompt is rendered.
inline std::string apply_chatml(std::span<const chat_message> messages, bool add_generation_prompt,
                                std::string_view default_system = default_system_prompt) {
  return apply_chat_template({chat_family::chatml, std::string(default_system)}, messages, add_generation_prompt);
}

/// Checks that `chat_template` (a GGUF `tokenizer.chat_template`) is detected as ChatML.
///
/// Throws lowbit::error{errc::unsupported} otherwise.
inline void check_chatml_template(std::string_view chat_template) {
  lowbit::check(detail::detect_family_name(chat_template) == "chatml", lowbit::errc::unsupported, [&] {
    return "tokenizer.chat_template is not a ChatML template (no \"<|im_start|>\"); it begins \"" +
           std::string(chat_template.substr(0, 80)) + "\"";
  });
}

/// Checks that `file`'s `tokenizer.chat_template` is a ChatML template (see the string overload).
///
/// Throws lowbit::error{errc::unsupported} when the key is absent or the template is not ChatML.
inline void check_chatml_template(const lowbit::io::gguf_file& file) {
  lowbit::check(file.contains("tokenizer.chat_template"), lowbit::errc::unsupported,
                "the GGUF file has no tokenizer.chat_template, so its chat format is unknown");
  check_chatml_template(file.get_string("tokenizer.chat_template"));
}

}  // namespace llm
