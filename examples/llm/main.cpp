// SPDX-License-Identifier: Apache-2.0
// Copyright lowbit contributors
//
// lowbit-llm: runs a GGUF language model (architectures llama, qwen2, gemma3; any mix of GGUF
// weight types) on lowbit. A file with a chat template answers the prompt as a chat (the template
// family detected as llama.cpp does without --jinja); a file without one, or --raw, continues the
// prompt as plain text. Streams the generated text to stdout, then prints prompt and generation
// speed. `--bench` measures prompt processing and generation like llama-bench.

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <string>
#include <thread>
#include <vector>

#include "chat_template.hpp"
#include "lowbit/core/error.hpp"
#include "model.hpp"
#include "sampler.hpp"
#include "tokenizer.hpp"

namespace {

struct options {
  std::string model_path;
  std::string prompt = "What is the capital of France?";
  std::string system;
  std::size_t tokens = 128;
  int threads = 0;
  std::size_t ctx = 2048;
  bool ctx_given = false;
  llm::sampler_config sampling{};
  bool raw = false;
  bool bench = false;
  std::size_t bench_pp = 128, bench_tg = 64, bench_reps = 3;
};

[[noreturn]] void usage(int code) {
  std::fprintf(code == 0 ? stdout : stderr,
               "usage: lowbit-llm --model PATH [--prompt TEXT] [--tokens N] [--threads T] [--temperature X]\n"
               "                  [--top-k K] [--top-p P] [--seed S] [--ctx N] [--system TEXT] [--raw]\n"
               "                  [--bench [--bench-pp N] [--bench-tg N] [--bench-reps R]]\n"
               "  Runs GGUF models of the llama, qwen2 and gemma3 architectures.\n"
               "  --temperature 0 (default) is greedy decoding; --raw skips the chat template (the prompt\n"
               "  may hold special tokens such as <|im_start|>); a file without a chat template always\n"
               "  runs as plain completion.\n");
  std::exit(code);
}

std::size_t parse_count(const std::string& flag, const std::string& value) {
  try {
    std::size_t used = 0;
    const long long v = std::stoll(value, &used);
    if (used == value.size() && v >= 0) return static_cast<std::size_t>(v);
  } catch (const std::exception&) {
  }
  throw lowbit::error(lowbit::errc::invalid_argument, flag + " expects a non-negative integer, got '" + value + "'");
}

float parse_float(const std::string& flag, const std::string& value) {
  try {
    std::size_t used = 0;
    const float v = std::stof(value, &used);
    if (used == value.size()) return v;
  } catch (const std::exception&) {
  }
  throw lowbit::error(lowbit::errc::invalid_argument, flag + " expects a number, got '" + value + "'");
}

options parse(int argc, char** argv) {
  options o;
  if (const char* env = std::getenv("LOWBIT_LLM_GGUF")) o.model_path = env;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) throw lowbit::error(lowbit::errc::invalid_argument, a + " needs a value");
      return argv[++i];
    };
    if (a == "--help" || a == "-h")
      usage(0);
    else if (a == "--model" || a == "-m")
      o.model_path = value();
    else if (a == "--prompt" || a == "-p")
      o.prompt = value();
    else if (a == "--system")
      o.system = value();
    else if (a == "--tokens" || a == "-n")
      o.tokens = parse_count(a, value());
    else if (a == "--threads" || a == "-t")
      o.threads = static_cast<int>(parse_count(a, value()));
    else if (a == "--ctx") {
      o.ctx = parse_count(a, value());
      o.ctx_given = true;
    } else if (a == "--temperature")
      o.sampling.temperature = parse_float(a, value());
    else if (a == "--top-k")
      o.sampling.top_k = parse_count(a, value());
    else if (a == "--top-p")
      o.sampling.top_p = parse_float(a, value());
    else if (a == "--seed")
      o.sampling.seed = parse_count(a, value());
    else if (a == "--raw")
      o.raw = true;
    else if (a == "--bench")
      o.bench = true;
    else if (a == "--bench-pp")
      o.bench_pp = parse_count(a, value());
    else if (a == "--bench-tg")
      o.bench_tg = parse_count(a, value());
    else if (a == "--bench-reps")
      o.bench_reps = std::max<std::size_t>(1, parse_count(a, value()));
    else
      throw lowbit::error(lowbit::errc::invalid_argument, "unknown option '" + a + "' (see --help)");
  }
  if (o.model_path.empty()) throw lowbit::error(lowbit::errc::invalid_argument, "no model: pass --model PATH");
  if (o.threads == 0) o.threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  return o;
}

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// Prompt processing of `pp` tokens and generation of `tg` tokens from an empty cache, as llama-bench
// measures them (pp: one batch, logits of the last token; tg: one token at a time). Best of reps.
void run_bench(llm::model& m, const options& o) {
  const lowbit::threads t{o.threads};
  lowbit::graph::activation logits;
  std::vector<std::int32_t> ids(std::max<std::size_t>(o.bench_pp, 1));
  for (std::size_t i = 0; i < ids.size(); ++i) ids[i] = static_cast<std::int32_t>((i * 7919 + 17) % m.params().n_vocab);
  m.reset();
  m.forward(std::span(ids).first(std::min<std::size_t>(ids.size(), 16)), 0, false, logits, t);  // warm-up
  double best_pp = 0.0, best_tg = 0.0;
  for (std::size_t r = 0; r < o.bench_reps; ++r) {
    if (o.bench_pp > 0) {
      m.reset();
      const auto start = std::chrono::steady_clock::now();
      m.forward(ids, 0, false, logits, t);
      best_pp = std::max(best_pp, static_cast<double>(o.bench_pp) / seconds_since(start));
    }
    if (o.bench_tg > 0) {
      m.reset();
      std::int32_t token = 1;
      const auto start = std::chrono::steady_clock::now();
      for (std::size_t i = 0; i < o.bench_tg; ++i) {
        m.forward(std::span(&token, 1), i, false, logits, t);
        token = llm::sampler::argmax(std::span<const float>(logits.data.data(), logits.cols));
      }
      best_tg = std::max(best_tg, static_cast<double>(o.bench_tg) / seconds_since(start));
    }
  }
  if (o.bench_pp > 0) std::printf("pp %zu %.2f\n", o.bench_pp, best_pp);
  if (o.bench_tg > 0) std::printf("tg %zu %.2f\n", o.bench_tg, best_tg);
}

int run(int argc, char** argv) {
  const options o = parse(argc, argv);
  const lowbit::threads t{o.threads};
  // Like llama-bench, a benchmark's context holds exactly its prompt and generated tokens.
  const std::size_t ctx = o.bench && !o.ctx_given ? std::max<std::size_t>(o.bench_pp + o.bench_tg, 16) : o.ctx;
  llm::model m(o.model_path, ctx, t);
  if (o.bench) {
    run_bench(m, o);
    return 0;
  }
  const auto tok = llm::load_tokenizer(m.file());
  std::string text = o.prompt;
  if (!o.raw) {
    const llm::chat_format chat = llm::detect_chat_template(m.file());
    if (chat.family != llm::chat_family::none) {
      std::vector<llm::chat_message> messages;
      if (!o.system.empty()) messages.push_back({"system", o.system});
      messages.push_back({"user", o.prompt});
      text = llm::apply_chat_template(chat, messages, true);
    }
  }
  // As llama.cpp: BOS/EOS as the file says (add_special), special tokens in the text parsed.
  const std::vector<std::int32_t> prompt_ids = tok.encode(text, true, true);
  lowbit::check(!prompt_ids.empty(), lowbit::errc::invalid_argument, "the prompt is empty");
  lowbit::check(prompt_ids.size() + o.tokens <= m.context_size(), lowbit::errc::out_of_range,
                "the prompt has " + std::to_string(prompt_ids.size()) + " tokens; with --tokens " +
                    std::to_string(o.tokens) + " that exceeds the context of " + std::to_string(m.context_size()) +
                    " tokens (--ctx)");

  llm::sampler sampler(o.sampling);
  lowbit::graph::activation logits;
  const auto pp_start = std::chrono::steady_clock::now();
  m.forward(prompt_ids, 0, false, logits, t);
  const double pp_seconds = seconds_since(pp_start);

  // Generation ends at an end-of-generation token (EOS, EOT, <|im_end|>, <end_of_turn>, ...).
  std::size_t generated = 0;
  std::size_t pos = prompt_ids.size();
  const auto tg_start = std::chrono::steady_clock::now();
  while (generated < o.tokens) {
    const std::int32_t next = sampler.sample(std::span<const float>(logits.data.data(), logits.cols));
    if (tok.is_end_of_generation(next)) break;
    ++generated;
    std::cout << tok.token_to_piece(next) << std::flush;
    if (generated == o.tokens) break;
    m.forward(std::span(&next, 1), pos++, false, logits, t);
  }
  const double tg_seconds = seconds_since(tg_start);
  std::cout << "\n\n";
  std::printf("prompt:     %zu tokens in %.1f ms (%.1f tokens/s)\n", prompt_ids.size(), pp_seconds * 1e3,
              static_cast<double>(prompt_ids.size()) / pp_seconds);
  std::printf("generation: %zu tokens in %.1f ms (%.1f tokens/s), %d thread(s)\n", generated, tg_seconds * 1e3,
              generated > 1 ? static_cast<double>(generated - 1) / tg_seconds : 0.0, o.threads);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return run(argc, argv);
  } catch (const lowbit::error& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
}
