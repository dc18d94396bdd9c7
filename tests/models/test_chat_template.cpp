// SPDX-License-Identifier: Apache-2.0
// Copyright lowbit contributors
//
// Chat templates as llama.cpp (0c1e57098) applies them without --jinja: family detection from
// `tokenizer.chat_template` (llm_chat_detect_template), rendering (llm_chat_apply_template), and
// lowbit's default system prompt read from the Jinja text. Expected renders were produced by
// llama.cpp's llama_chat_apply_template on the same messages. Real templates: SmolLM2's (from
// tests/data/gguf/small.gguf, which carries its metadata), Qwen2.5's (from the Qwen GGUF:
// LOWBIT_QWEN2_GGUF, else ~/.cache/lowbit/models/; skipped with a warning when absent).

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "catch.hpp"
#include "chat_template.hpp"
#include "lowbit/io/gguf.hpp"

namespace {

using llm::chat_family;
using llm::chat_message;

std::string qwen_path() {
  if (const char* p = std::getenv("LOWBIT_QWEN2_GGUF"); p != nullptr && *p != 0) return p;
  const char* home = std::getenv("HOME");
  return std::string(home ? home : "") + "/.cache/lowbit/models/qwen2.5-coder-0.5b-instruct.gguf";
}

std::string small_gguf() { return std::string(LOWBIT_TEST_DATA_DIR) + "/gguf/small.gguf"; }

lowbit::errc error_code_of(auto&& f, std::string* message = nullptr) {
  try {
    f();
  } catch (const lowbit::error& e) {
    if (message) *message = e.what();
    return e.code();
  }
  FAIL("no lowbit::error was thrown");
  return lowbit::errc::invalid_argument;
}

const std::vector<chat_message> conversation = {
    {"system", "Be brief. "}, {"user", " What is 2+2?\n"}, {"assistant", "  4.  "}, {"user", "And 3+3?"}};

}  // namespace

TEST_CASE("chat template: SmolLM2's template is ChatML with its default system prompt", "[chat][smollm2]") {
  const auto file = lowbit::io::gguf_file::open(small_gguf());
  const llm::chat_format f = llm::detect_chat_template(file);
  CHECK(f.family == chat_family::chatml);
  CHECK(llm::to_string(f.family) == "chatml");
  CHECK(f.default_system == "You are a helpful AI assistant named SmolLM, trained by Hugging Face");
  CHECK(f.default_system == llm::default_system_prompt);

  const std::vector<chat_message> question = {{"user", "What is the capital of France?"}};
  CHECK(llm::apply_chat_template(f, question, true) ==
        "<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n"
        "<|im_start|>user\nWhat is the capital of France?<|im_end|>\n<|im_start|>assistant\n");
  CHECK(llm::apply_chat_template(f, question, true) == llm::apply_chatml(question, true));
  // A system message replaces the default; no messages, no default.
  const std::vector<chat_message> with_system = {{"system", "Be brief."}, {"user", "Hi"}};
  CHECK(llm::apply_chat_template(f, with_system, false) ==
        "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n");
  CHECK(llm::apply_chat_template(f, {}, true) == "<|im_start|>assistant\n");
}

TEST_CASE("chat template: Qwen2.5's template is ChatML with its default system prompt", "[chat][qwen2]") {
  const std::string path = qwen_path();
  if (!std::filesystem::exists(path)) {
    WARN("skipped: no Qwen2.5 model file (set LOWBIT_QWEN2_GGUF or run scripts/fetch_model.sh qwen2)");
    return;
  }
  const auto file = lowbit::io::gguf_file::open(path);
  const llm::chat_format f = llm::detect_chat_template(file);
  CHECK(f.family == chat_family::chatml);
  CHECK(f.default_system == "You are Qwen, created by Alibaba Cloud. You are a helpful assistant.");

  // The prompts of llama.cpp's greedy references: llama_chat_apply_template's ChatML with the
  // default system message that the Jinja template inserts.
  std::ifstream in(std::string(LOWBIT_TEST_DATA_DIR) + "/qwen2/greedy.json");
  REQUIRE(in.good());
  const auto greedy = nlohmann::json::parse(in);
  for (const auto& c : greedy.at("cases")) {
    const std::vector<chat_message> m = {{"user", c.at("user").get<std::string>()}};
    CHECK(llm::apply_chat_template(f, m, true) == c.at("prompt_text").get<std::string>());
  }
}

TEST_CASE("chat template: no template in the file means plain completion", "[chat]") {
  const std::string path = std::string(LOWBIT_TEST_DATA_DIR) + "/gguf/small.gguf";
  const auto with_template = lowbit::io::gguf_file::open(path);
  CHECK(llm::detect_chat_template(with_template).family == chat_family::chatml);
  const llm::chat_format none{};
  CHECK(none.family == chat_family::none);
  CHECK(llm::to_string(none.family) == "none");
  CHECK(error_code_of([&] { (void)llm::apply_chat_template(none, conversation, true); }) == lowbit::errc::unsupported);
  const char* home = std::getenv("HOME");
  const std::string gemma = std::string(home ? home : "") + "/.cache/lowbit/models/gemma-3-270m-q4_k_m.gguf";
  const char* env = std::getenv("LOWBIT_GEMMA3_GGUF");
  const std::string gemma_path = env != nullptr && *env != 0 ? env : gemma;
  if (std::filesystem::exists(gemma_path)) {
    CHECK(llm::detect_chat_template(lowbit::io::gguf_file::open(gemma_path)).family == chat_family::none);
  } else {
    WARN("Gemma 3 270M check skipped: no model file");
  }
}

TEST_CASE("chat template: families detected from template snippets as llama.cpp does", "[chat]") {
  struct example {
    std::string_view tmpl;
    chat_family family;
  };
  const std::vector<example> examples = {
      {"{% for m in messages %}{{'<|im_start|>' + m['role'] + '\\n' + m['content'] + '<|im_end|>\\n'}}{% endfor %}",
       chat_family::chatml},
      {"{{'<|im_start|>' + m['role'] + '<|im_sep|>' + m['content'] + '<|im_end|>'}}", chat_family::phi4},
      {"{{ bos_token }}{% for m in messages %}{{ '[INST] ' + m['content'] + ' [/INST]' }}{% endfor %}",
       chat_family::llama2},
      {"[INST] <<SYS>>\\n{{ system }}\\n<</SYS>>\\n\\n", chat_family::llama2_sys},
      {"{{ bos_token + '[INST] ' + content }} <<SYS>>", chat_family::llama2_sys_bos},
      {"{{ '[INST] ' + message['content'].strip() }} content.strip()", chat_family::llama2_sys_strip},
      {"{{ ' [INST] ' + system_message }} [INST]", chat_family::mistral_v1},
      {"[AVAILABLE_TOOLS][INST]", chat_family::mistral_v3},
      {"[AVAILABLE_TOOLS] {{ \"[INST]\" }}", chat_family::mistral_v3_tekken},
      {"[SYSTEM_PROMPT]{{ system }}[/SYSTEM_PROMPT][INST]", chat_family::mistral_v7},
      {"{{ '<|user|>\\n' + m['content'] + '<|end|>\\n<|assistant|>\\n' }}", chat_family::phi3},
      {"<|user|>{{ c }}<|assistant|></s>", chat_family::falcon3},
      {"{{ '<|user|>\\n' + m['content'] + eos_token }} <|endoftext|>", chat_family::zephyr},
      {"{{ '<start_of_turn>' + role + '\\n' + message['content'] | trim + '<end_of_turn>\\n' }}", chat_family::gemma},
      {"{{ 'GPT4 Correct ' + role }}", chat_family::openchat},
      {"USER: {{ c }} ASSISTANT: ", chat_family::vicuna},
      {"### Instruction:\\n{{ c }}\\n### Response:\\n<|EOT|>", chat_family::deepseek},
      {"<|START_OF_TURN_TOKEN|><|USER_TOKEN|>", chat_family::command_r},
      {"{{ '<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n' + message['content'] | trim + "
       "'<|eot_id|>' }}",
       chat_family::llama3},
      {"<｜User｜><｜Assistant｜><｜end▁of▁sentence｜>", chat_family::deepseek3},
      {"<|start_of_role|>system<|end_of_role|>", chat_family::granite},
      {"<|header_start|>user<|header_end|>", chat_family::llama4},
      {"<|start|>user<|channel|>", chat_family::gpt_oss},
      {"gemma", chat_family::gemma},  // a family name selects the family
      {"llama3", chat_family::llama3},
      {"dots1", chat_family::dots1},  // fuzz finding: the family's own name did not select it
      {"<|userprompt|>{{ c }}<|endofuserprompt|><|response|>", chat_family::dots1},
  };
  for (const auto& e : examples) {
    INFO("template: " << e.tmpl);
    CHECK(llm::detect_chat_template(e.tmpl).family == e.family);
  }
}

TEST_CASE("chat template: renders each family as llama_chat_apply_template", "[chat]") {
  const auto render = [&](chat_family family, bool add_generation_prompt = true) {
    return llm::apply_chat_template({family, ""}, conversation, add_generation_prompt);
  };
  CHECK(render(chat_family::chatml) ==
        "<|im_start|>system\nBe brief. <|im_end|>\n<|im_start|>user\n What is 2+2?\n<|im_end|>\n<|im_start|>assistant\n"
        "  4.  <|im_end|>\n<|im_start|>user\nAnd 3+3?<|im_end|>\n<|im_start|>assistant\n");
  CHECK(render(chat_family::gemma) ==
        "<start_of_turn>user\nBe brief.\n\nWhat is 2+2?<end_of_turn>\n<start_of_turn>model\n4.<end_of_turn>\n"
        "<start_of_turn>user\nAnd 3+3?<end_of_turn>\n<start_of_turn>model\n");
  CHECK(render(chat_family::llama3) ==
        "<|start_header_id|>system<|end_header_id|>\n\nBe brief.<|eot_id|><|start_header_id|>user<|end_header_id|>\n\n"
        "What is 2+2?<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n4.<|eot_id|><|start_header_id|>user"
        "<|end_header_id|>\n\nAnd 3+3?<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n");
  CHECK(render(chat_family::llama2_sys) ==
        "[INST] <<SYS>>\nBe brief. \n<</SYS>>\n\n What is 2+2?\n [/INST]  4.  </s>[INST] And 3+3? [/INST]");
  CHECK(render(chat_family::llama2_sys_bos) ==
        "[INST] <<SYS>>\nBe brief. \n<</SYS>>\n\n What is 2+2?\n [/INST]  4.  </s><s>[INST] And 3+3? [/INST]");
  CHECK(render(chat_family::llama2_sys_strip) ==
        "[INST] <<SYS>>\nBe brief.\n<</SYS>>\n\nWhat is 2+2? [/INST]4.</s>[INST] And 3+3? [/INST]");
  CHECK(render(chat_family::mistral_v1) ==
        " [INST] Be brief. \n\n What is 2+2?\n [/INST]   4.  </s> [INST] And 3+3? [/INST]");
  CHECK(render(chat_family::mistral_v3) == "[INST] Be brief. \n\n What is 2+2?\n[/INST] 4.</s>[INST] And 3+3?[/INST]");
  CHECK(render(chat_family::mistral_v7) ==
        "[SYSTEM_PROMPT] Be brief. [/SYSTEM_PROMPT][INST]  What is 2+2?\n[/INST]   4.  </s>[INST] And 3+3?[/INST]");
  CHECK(render(chat_family::phi3, false) ==
        "<|system|>\nBe brief. <|end|>\n<|user|>\n What is 2+2?\n<|end|>\n<|assistant|>\n  4.  <|end|>\n<|user|>\n"
        "And 3+3?<|end|>\n");
  CHECK(render(chat_family::zephyr) ==
        "<|system|>\nBe brief. <|endoftext|>\n<|user|>\n What is 2+2?\n<|endoftext|>\n<|assistant|>\n  4.  "
        "<|endoftext|>\n<|user|>\nAnd 3+3?<|endoftext|>\n<|assistant|>\n");
  CHECK(render(chat_family::deepseek) ==
        "Be brief. ### Instruction:\n What is 2+2?\n\n### Response:\n  4.  \n<|EOT|>\n### Instruction:\nAnd 3+3?\n"
        "### Response:\n");
  CHECK(render(chat_family::vicuna) ==
        "Be brief. \n\nUSER:  What is 2+2?\n\nASSISTANT:   4.  </s>\nUSER: And 3+3?\nASSISTANT:");
  CHECK(render(chat_family::openchat) ==
        "Be brief. <|end_of_turn|>GPT4 Correct User:  What is 2+2?\n<|end_of_turn|>GPT4 Correct Assistant:   4.  "
        "<|end_of_turn|>GPT4 Correct User: And 3+3?<|end_of_turn|>GPT4 Correct Assistant:");
  CHECK(render(chat_family::command_r) ==
        "<|START_OF_TURN_TOKEN|><|SYSTEM_TOKEN|>Be brief.<|END_OF_TURN_TOKEN|><|START_OF_TURN_TOKEN|><|USER_TOKEN|>"
        "What is 2+2?<|END_OF_TURN_TOKEN|><|START_OF_TURN_TOKEN|><|CHATBOT_TOKEN|>4.<|END_OF_TURN_TOKEN|>"
        "<|START_OF_TURN_TOKEN|><|USER_TOKEN|>And 3+3?<|END_OF_TURN_TOKEN|><|START_OF_TURN_TOKEN|><|CHATBOT_TOKEN|>");
  CHECK(render(chat_family::monarch) ==
        "system\nBe brief. </s>\n<s>user\n What is 2+2?\n</s>\n<s>assistant\n  4.  </s>\n<s>user\nAnd 3+3?</s>\n"
        "<s>assistant\n");
  CHECK(render(chat_family::gpt_oss) ==
        "<|start|>system<|message|>Be brief. <|end|><|start|>user<|message|> What is 2+2?\n<|end|><|start|>assistant"
        "<|message|>  4.  <|return|><|start|>user<|message|>And 3+3?<|end|><|start|>assistant");
}

TEST_CASE("chat template: default system prompts are read from template literals only when whole", "[chat]") {
  // A literal with the whole system turn (escaped or real newlines) is a default.
  CHECK(llm::extract_default_system(chat_family::chatml,
                                    "{{- '<|im_start|>system\\nYou are X.<|im_end|>\\n' }}{% for m in messages %}") ==
        "You are X.");
  CHECK(llm::extract_default_system(chat_family::chatml, "{{ \"<|im_start|>system\nSay \\\"hi\\\".<|im_end|>\" }}") ==
        "Say \"hi\".");
  // Raw text between tags counts as a literal too.
  CHECK(llm::extract_default_system(chat_family::chatml, "<|im_start|>system\nRaw.<|im_end|>\n{% for m in x %}") ==
        "Raw.");
  // A turn assembled around the user's system message is not a default.
  CHECK(llm::extract_default_system(chat_family::chatml,
                                    "{{ '<|im_start|>system\\n' + messages[0]['content'] + '<|im_end|>\\n' }}") == "");
  CHECK(llm::extract_default_system(chat_family::chatml, "{{ '<|im_start|>system\\n<|im_end|>' }}") == "");
  // Other families' delimiters; gemma has no system turn.
  CHECK(llm::extract_default_system(chat_family::llama3,
                                    "{{ '<|start_header_id|>system<|end_header_id|>\\n\\nBe kind.<|eot_id|>' }}") ==
        "Be kind.");
  CHECK(llm::extract_default_system(chat_family::llama2_sys, "{{ '[INST] <<SYS>>\\nBe safe.\\n<</SYS>>\\n\\n' }}") ==
        "Be safe.");
  CHECK(llm::extract_default_system(chat_family::gemma, "<start_of_turn>system\nX<end_of_turn>") == "");
  // The default goes first only when the conversation does not start with a system message.
  const llm::chat_format f{chat_family::llama3, "Be kind."};
  const std::vector<chat_message> user_only = {{"user", "Hi"}};
  CHECK(llm::apply_chat_template(f, user_only, false) ==
        "<|start_header_id|>system<|end_header_id|>\n\nBe kind.<|eot_id|><|start_header_id|>user<|end_header_id|>"
        "\n\nHi<|eot_id|>");
  const std::vector<chat_message> own_system = {{"system", "Mine."}, {"user", "Hi"}};
  CHECK(llm::apply_chat_template(f, own_system, false).find("Be kind.") == std::string::npos);
}

TEST_CASE("chat template: unknown and unrendered templates are errors that quote them", "[chat][errors]") {
  std::string message;
  CHECK(error_code_of([] { (void)llm::detect_chat_template("{{ bos_token }}{{ messages[0]['content'] }}"); },
                      &message) == lowbit::errc::unsupported);
  CHECK(message.find("it begins \"{{ bos_token }}{{ messages[0]['content'] }}\"") != std::string::npos);
  CHECK(error_code_of([] { (void)llm::detect_chat_template("{{ '\\n\\nAssistant: ' + eos_token }}"); }, &message) ==
        lowbit::errc::unsupported);
  CHECK(message.find("\"orion\"") != std::string::npos);
  // The ChatML-only checks of the first CLI keep working.
  CHECK_NOTHROW(llm::check_chatml_template(lowbit::io::gguf_file::open(small_gguf())));
  CHECK(error_code_of([] { llm::check_chatml_template("{{ bos_token }}[INST] {{ message }} [/INST]"); }) ==
        lowbit::errc::unsupported);
}
