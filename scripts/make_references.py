#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
# Copyright lowbit contributors
"""Generate golden reference data for lowbit's real models from llama.cpp.

--kind (alias --arch) picks the model and its prompts:
  smollm2  SmolLM2-135M-Instruct Q4_1 (arch llama)      -> tests/data/smollm2/
  qwen2    Qwen2.5-Coder-0.5B-Instruct (arch qwen2)     -> tests/data/qwen2/
  gemma3   Gemma 3 270M base Q4_K_M (arch gemma3)       -> tests/data/gemma3/
(--model and --out may point elsewhere, e.g. a re-quantized Qwen file with
--kind qwen2 --no-tokenize --out tests/data/qwen2_requant.)

Writes into the output directory:
  tokenize.json       llama.cpp tokenizer ids for many strings (+ detokenizations)
  logits_prompt.json  metadata of one prompt evaluated in one batch, all positions
  logits_prompt.f32   smollm2: raw little-endian float32 logits [n_tokens][n_vocab]
  logits_prompt.top1024.bin
                      qwen2, gemma3 (whose full logits are too large to commit):
                      per position the 1024 largest logits, in two sections:
                        int32 LE  ids    [n_tokens][1024], then
                        float32 LE logits[n_tokens][1024]  (logits[t][j] is the logit of ids[t][j])
                      row t sorted by logit, largest first, ties by lower id (so ids[t][0] is
                      the argmax). logits_prompt.json adds per position the log-sum-exp of ALL
                      n_vocab logits (float64 sums of the float32 logits, "lse"), the argmax, and
                      the sha256 of the full float32 LE row ("row_sha256", for bit-exact checks).
  greedy.json         greedy (argmax) continuations of three prompts

Tokenize ids are always made with add_special=false, parse_special=true; tokenize.json
records whether the model adds BOS (Gemma does, Qwen and SmolLM2 do not), and the prompts
of logits_prompt.json and greedy.json are tokenized the way llama.cpp tokenizes prompts
(add_special = the model's add_bos flag), so their ids include Gemma's BOS.

llama.cpp is used through the low-level ctypes bindings of the llama-cpp-python
sdist (llama_cpp/llama_cpp.py), loaded against the libllama.so built by
scripts/build_llama.sh (LLAMA_CPP_LIB_PATH). Only the low-level module is
imported (the package __init__ would pull in the high-level API and its extra
dependencies, jinja2 and diskcache, which are not needed here). Default CPU
configuration: flash attention "auto" (enabled on CPU), f16 KV cache, n_threads 2,
n_batch = n_ubatch = n_ctx = 512, CPU repack buffers as llama.cpp chooses.

Usually run through scripts/make_references.sh.
"""
from __future__ import annotations

import argparse
import ctypes
import hashlib
import json
import os
import re
import sys
import types
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

N_VOCAB_EXPECTED = 49152
TOK_IM_END = 2
TOK_ENDOFTEXT = 0
END_TOKENS = (TOK_IM_END, TOK_ENDOFTEXT)

SYSTEM_PROMPT = "You are a helpful AI assistant named SmolLM, trained by Hugging Face"

# ChatML exactly as the GGUF's Jinja chat template renders a single user
# message (the template inserts this default system message when the first
# message is not a system message) with add_generation_prompt=True.
def chat_prompt(user: str) -> str:
    return ("<|im_start|>system\n" + SYSTEM_PROMPT + "<|im_end|>\n"
            "<|im_start|>user\n" + user + "<|im_end|>\n"
            "<|im_start|>assistant\n")


# User message for the all-positions logits file (prompt must be 48..64 tokens).
LOGITS_USER = "Give me three short, practical tips for writing clear and readable C++ code, and explain why each one matters."

# The first one is fixed by the project. The others were picked among candidates
# for a healthy gap between the best and second-best logit at every step (a
# faithful reimplementation with a different summation order can flip a
# near-tie): e.g. "Write a haiku about the sea." was rejected, its FIRST token
# wins by only 0.001.
GREEDY_USERS = [
    "What is the capital of France?",
    "Explain in two sentences what a CPU cache is.",
    "Name three primary colors.",
    "How many days are in a week?",
]
N_PREDICT = 48

PY_SNIPPET = '''def fib(n: int) -> int:
    """Return the n-th Fibonacci number."""
    a, b = 0, 1
    for _ in range(n):
        a, b = b, a + b
    return a

print([fib(i) for i in range(10)])  # [0, 1, 1, 2, ...]
'''

CPP_SNIPPET = '''#include <vector>
template <typename T>
T sum(const std::vector<T>& v) {
\tT acc{};
\tfor (auto& x : v) acc += x;  // accumulate
\treturn acc;
}
int main() { return sum<int>({1, 2, 3}) == 6 ? 0 : 1; }'''

JSON_SNIPPET = '''{"name": "lowbit", "version": [0, 1, 0], "quant": {"type": "Q4_1", "block": 32}, "ok": true, "ptr": null}'''

BASE_CASES = [
    # English
    "Hello, world!",
    "The quick brown fox jumps over the lazy dog.",
    "SmolLM2 is a family of compact language models available in three sizes: 135M, 360M, and 1.7B parameters.",
    "a",
    "I",
    "CamelCaseIdentifier snake_case_identifier kebab-case-identifier SCREAMING_CASE",
    # whitespace
    " leading space",
    "trailing space ",
    "   three leading and three trailing   ",
    "multiple  spaces   between    words",
    "   ",
    "\n",
    "\n\n\n\n",
    "line one\nline two\n\nline four\n",
    "\ttab\tseparated\tvalues\t\n",
    "windows\r\nline\r\nendings\r\n",
    "mixed \t \n \t\n  whitespace",
    "    def indented():\n        return 4  # spaces\n",
    # code
    PY_SNIPPET,
    CPP_SNIPPET,
    JSON_SNIPPET,
    "for (int i = 0; i < n; ++i) { a[i] += b[i] * c[i]; }",
    "https://example.com/path/to-page?query=1&b=two#frag and someone@example.org",
    # numbers
    "1234567",
    "12345678901234567890",
    "pi is 3.14159 and e is 2.71828",
    "0.5 .5 5. 1e-10 -42 +7 0x1F 1,000,000",
    "Dates: 2024-03-15, 15/03/2024, March 15th, 2024 at 12:34:56.",
    "Mixed123Numbers456and7890",
    # punctuation
    "Wait... what?!?! (yes) [no] {maybe} <tag/> -- --- *** ___ ~~~ ### @@@ $$$ %%% ^^^ &&& |||",
    "$100.00 costs 50% more \u2014 \u201csmart quotes\u201d \u2018single\u2019 \u2026 \u00ab\u00bb",
    # contractions
    "It's they're we'll I'd you've can't won't she's",
    "IT'S THEY'RE WE'LL I'D YOU'VE CAN'T",
    "The dog's bone; the dogs' bones; 'quoted'; ''; '''",
    "John'S car 'S 'RE 'LL 'T",
    # non-ASCII
    "Caf\u00e9 na\u00efve r\u00e9sum\u00e9 fa\u00e7ade \u00c5ngstr\u00f6m \u00f1and\u00fa",
    "Stra\u00dfe und Gr\u00f6\u00dfe, \u00e4\u00f6\u00fc \u00c4\u00d6\u00dc \u1e9e",
    "\u039a\u03b1\u03bb\u03b7\u03bc\u03ad\u03c1\u03b1 \u03ba\u03cc\u03c3\u03bc\u03b5 (Greek)",
    "\u041f\u0440\u0438\u0432\u0435\u0442, \u043c\u0438\u0440! \u041a\u0430\u043a \u0434\u0435\u043b\u0430?",
    "\u4f60\u597d\uff0c\u4e16\u754c\uff01\u8fd9\u662f\u4e00\u4e2a\u6d4b\u8bd5\u3002",
    "\u3053\u3093\u306b\u3061\u306f\u3001\u30ab\u30bf\u30ab\u30ca\u3068\u3072\u3089\u304c\u306a\u3002\u65e5\u672c\u8a9e",
    "\uc548\ub155\ud558\uc138\uc694 \uc138\uacc4",
    "\u0645\u0631\u062d\u0628\u0627 \u0628\u0627\u0644\u0639\u0627\u0644\u0645",
    "\u0928\u092e\u0938\u094d\u0924\u0947 \u0926\u0941\u0928\u093f\u092f\u093e",
    "I \u2764\ufe0f \U0001f355 and \U0001f680!",
    "\U0001f468\u200d\U0001f469\u200d\U0001f467\u200d\U0001f466 family, \U0001f3f3\ufe0f\u200d\U0001f308 flag, \U0001f44d\U0001f3fd thumbs",
    "Math: x\u00b2 + y\u00b2 = z\u00b2, \u2211\u1d62 \u03b1\u1d62 \u2264 \u221e, \u221a2 \u2248 1.414",
    "\ufb01 ligature, \uff21\uff22\uff23 fullwidth, \u2160\u2161\u2162 roman",
    # empty
    "",
]

TOKENIZE_CASES = BASE_CASES + [
    # special tokens inside text
    "<|im_start|>user\nHi there!<|im_end|>\n",
    chat_prompt("What is the capital of France?"),
    "first document<|endoftext|>second document",
    "<|endoftext|>",
    "<|im_start|><|im_end|><|endoftext|>",
    "  <|im_start|>  spaced  <|im_end|>  ",
    "<|im_start|",
    "<|im_start| user",
    "<|im_end",
    "im_start|> <|IM_START|> <| im_end |>",
    "<s> </s> [INST] <unk> <pad>",
]

# Texts (from TOKENIZE_CASES) whose detokenization is also recorded in "detok".
DETOK_CASE_TEXTS = [
    "Hello, world!",
    " leading space",
    "   three leading and three trailing   ",
    "line one\nline two\n\nline four\n",
    "It's they're we'll I'd you've can't won't she's",
    "Caf\u00e9 na\u00efve r\u00e9sum\u00e9 fa\u00e7ade \u00c5ngstr\u00f6m \u00f1and\u00fa",
    "\U0001f468\u200d\U0001f469\u200d\U0001f467\u200d\U0001f466 family, \U0001f3f3\ufe0f\u200d\U0001f308 flag, \U0001f44d\U0001f3fd thumbs",
    "\u4f60\u597d\uff0c\u4e16\u754c\uff01\u8fd9\u662f\u4e00\u4e2a\u6d4b\u8bd5\u3002",
    "<|im_start|>user\nHi there!<|im_end|>\n",
    "first document<|endoftext|>second document",
]

# ------------------------------------------------------------------ qwen2, gemma3
# Cases added for the newer models (on top of BASE_CASES; SmolLM2's list stays as it was).
CPP_SPACES_SNIPPET = '''namespace demo {
class counter {
 public:
    void add(int n) {
        if (n > 0) {
            total_ += n;   // positive only
        }
    }

 private:
    long total_ = 0;
};
}  // namespace demo
'''

EXTRA_CASES = [
    "I'm",
    "DON'T",
    "I'm sure you DON'T know what you're doing, DON'T you?",
    "\n\n  \t",
    "x\n\n  \ty\n \n\t\t\n   z",
    "  two leading spaces",
    "\tleading tab",
    "\n\nleading newlines",
    " ",
    "3141592653589793238462643383279502884197",
    "Version 10.0.19045.3693, build 2024.11.05, id 00000000123",
    CPP_SPACES_SNIPPET,
    "x = [i ** 2 for i in range(1_000_000) if i % 7 == 0]\nprint(f\"{len(x):,}\")\n",
    "\u00bfD\u00f3nde est\u00e1 la biblioteca? \u00c0 bient\u00f4t, \u0142\u00f3d\u017a, \u0161\u010d\u0159\u017e\u00fd",
    "\u0417\u0434\u0440\u0430\u0432\u0441\u0442\u0432\u0443\u0439\u0442\u0435! \u0421\u044a\u0435\u0448\u044c \u0436\u0435 \u0435\u0449\u0451 \u044d\u0442\u0438\u0445 \u043c\u044f\u0433\u043a\u0438\u0445 \u0431\u0443\u043b\u043e\u043a.",
    "\u0627\u0644\u0633\u0644\u0627\u0645 \u0639\u0644\u064a\u0643\u0645 \u0648\u0631\u062d\u0645\u0629 \u0627\u0644\u0644\u0647 123 \u0661\u0662\u0663",
    "\u91cf\u5316\u6a21\u578b\u5728 CPU \u4e0a\u8fd0\u884c\uff1a4-bit \u6743\u91cd\uff0c8-bit \u6fc0\u6d3b\u3002",
    "\U0001f600\U0001f603\U0001f604 \U0001f1eb\U0001f1f7 \U0001f9d1\u200d\U0001f4bb \u2728",
]

QWEN_SYSTEM_PROMPT = "You are Qwen, created by Alibaba Cloud. You are a helpful assistant."
QWEN_SPECIAL_TEXTS = ["<|im_start|>", "<|im_end|>", "<|endoftext|>", "<|fim_prefix|>"]
GEMMA_SPECIAL_TEXTS = ["<start_of_turn>", "<end_of_turn>", "<bos>", "<eos>"]


def chatml(system: str, user: str) -> str:
    """ChatML as Qwen2.5's and SmolLM2's Jinja templates render one system and one user
    message with add_generation_prompt=True (Qwen's template inserts QWEN_SYSTEM_PROMPT
    when the first message is not a system message)."""
    return ("<|im_start|>system\n" + system + "<|im_end|>\n"
            "<|im_start|>user\n" + user + "<|im_end|>\n"
            "<|im_start|>assistant\n")


QWEN_SPECIAL_CASES = [
    *QWEN_SPECIAL_TEXTS,
    "<|im_start|>user\nHi there!<|im_end|>\n",
    chatml(QWEN_SYSTEM_PROMPT, "What is the capital of France?"),
    "first document<|endoftext|>second document",
    "<|im_start|><|im_end|><|endoftext|>",
    "  <|im_start|>  spaced  <|im_end|>  ",
    "<|fim_prefix|>def add(a, b):\n    <|fim_suffix|>\n    return c<|fim_middle|>",
    "<|im_start|",
    "<|im_end",
    "<|IM_START|> <| im_end |>",
    "<start_of_turn>user\nnot special here<end_of_turn>",
]

GEMMA_SPECIAL_CASES = [
    *GEMMA_SPECIAL_TEXTS,
    "<start_of_turn>user\nHi there!<end_of_turn>\n<start_of_turn>model\n",
    "first document<eos>second document",
    "<bos>The start<eos>",
    "<bos><bos><eos><eos>",
    "  <start_of_turn>  spaced  <end_of_turn>  ",
    "<start_of_turn",
    "<end_of_turn",
    "<START_OF_TURN> < eos >",
    "<pad> <unk> <mask> <start_of_image>",
    "<|im_start|>user\nnot special here<|im_end|>",
]

# Texts whose detokenization (and per-token pieces) is also recorded in "detok".
NEW_DETOK_TEXTS = [
    "Hello, world!",
    " leading space",
    "   three leading and three trailing   ",
    "\n\n  \t",
    "I'm sure you DON'T know what you're doing, DON'T you?",
    "Caf\u00e9 na\u00efve r\u00e9sum\u00e9 fa\u00e7ade \u00c5ngstr\u00f6m \u00f1and\u00fa",
    "\u4f60\u597d\uff0c\u4e16\u754c\uff01\u8fd9\u662f\u4e00\u4e2a\u6d4b\u8bd5\u3002",
    "\U0001f468\u200d\U0001f469\u200d\U0001f467\u200d\U0001f466 family, \U0001f3f3\ufe0f\u200d\U0001f308 flag, \U0001f44d\U0001f3fd thumbs",
    PY_SNIPPET,
]

# Byte strings that are not valid UTF-8 (json strings cannot hold them): tokenize.json
# "byte_cases" gives them as hex.
BYTE_CASES = [
    b"ab\xffcd",
    b"\xc3",
    b"\xe4\xbd",
    b"x\x80y",
    b"\xed\xa0\x80",  # an encoded UTF-16 surrogate
    b"caf\xe9 (latin-1)",
    b"\xf0\x9f\x8d",  # a truncated emoji
]

# Qwen: ChatML with Qwen's default system prompt. The logits prompt reuses SmolLM2's user message.
QWEN_LOGITS_USER = LOGITS_USER
# The first greedy prompt is fixed by the project; the others were picked among candidates for
# a healthy gap between the best and second-best logit at every step (the smallest gap over the
# generated tokens with llama.cpp on the original Qwen file; the rejected candidates and their
# smallest gaps are in QWEN_GREEDY_REJECTED). The counting prompt runs the full 48 tokens.
QWEN_GREEDY_USERS = [
    "What is the capital of France?",
    "How many days are in a week?",
    "Count from 1 to 30, separated by commas.",
]
QWEN_GREEDY_REJECTED: dict[str, float] = {
    "What is 2 + 2?": 1.5441,
    "Write the English alphabet in uppercase letters, separated by spaces.": 1.6353,  # 2 tokens only
    "What does CPU stand for?": 0.8186,
    "Name three primary colors.": 0.8094,
    "Translate 'good morning' into French.": 0.6275,
    "What is the chemical symbol for gold?": 0.4972,
    "Who wrote Romeo and Juliet?": 0.4589,
    "Write a C++ function that adds two integers.": 0.2117,
    "Write a hello world program in C.": 0.1984,
    "What is the boiling point of water in Celsius?": 0.1423,
    "What is the largest planet in the solar system?": 0.1114,
    "Write a Python function that returns the square of a number.": 0.0202,
    "List the first ten prime numbers.": 0.0119,
    "Spell the word 'computer' one letter per line.": 0.0034,
}

# Gemma 3 270M is a base model without a chat template: plain completions after BOS.
GEMMA_LOGITS_TEXT = (
    "In the early days of computing, programs were written directly in machine code and "
    "entered by hand with switches on the front panel. Assemblers, and later compilers, let "
    "programmers describe the same work in a form that people could read, and that change made "
    "software much cheaper to write and to maintain.")
# Picked like Qwen's (a sentence, a code start, a list), among the candidates in
# GEMMA_GREEDY_REJECTED; the base model rambles, so every prompt runs the full 48 tokens.
GEMMA_GREEDY_TEXTS = [
    "The quick brown fox",
    "import numpy as np\n",
    "1, 2, 3, 4, 5, 6,",
]
GEMMA_GREEDY_REJECTED: dict[str, float] = {
    "Twinkle, twinkle, little star,": 1.1443,  # continues with <start_of_image> x 48
    "for (int i = 0; i < n; ++i) {\n": 0.1469,
    "January, February, March,": 0.1385,
    "class Stack:\n    def __init__(self):\n": 0.1364,
    "Monday, Tuesday, Wednesday,": 0.1256,
    "The sun rises in the east and sets in the": 0.1186,
    "A B C D E F": 0.1185,
    "Water boils at a temperature of": 0.1178,
    "The largest planet in the solar system is": 0.0949,
    "#include <stdio.h>\n\nint main(void) {\n": 0.0910,
    "The first law of thermodynamics states that": 0.0459,
    "def add(a, b):\n    return a + b\n\n\ndef": 0.0416,
    "Q: What is the capital of France?\nA:": 0.0381,
    "def fibonacci(n):\n": 0.0324,
    "The capital of France is Paris. The capital of Germany is": 0.0321,
    "<!DOCTYPE html>\n<html>\n": 0.0265,
    "The three primary colors are": 0.0235,
    "The capital of France is the city of": 0.0195,
    "int main() {\n    std::cout <<": 0.0167,
    "The capital of France is": 0.0154,
    "Once upon a time, there was a little": 0.0054,
    "#!/bin/bash\n": 0.0054,
}


@dataclass(frozen=True)
class Kind:
    """One model: its prompts, tokenizer cases and output layout."""
    name: str
    n_vocab: int
    default_out: str                  # directory under tests/data/
    chat_system: str | None           # ChatML system prompt; None: plain completion text
    tokenize_cases: list
    detok_texts: list
    logits_prompt: str                # the user message (chat) or the plain text
    logits_tokens: tuple              # allowed prompt length (min, max)
    greedy_prompts: list
    logits_top_k: int | None = None   # None: the full float32 matrix (logits_prompt.f32)
    smollm2_layout: bool = False      # SmolLM2's original json layout, kept byte-identical
    byte_cases: list = field(default_factory=list)
    special_texts: list = field(default_factory=list)

    def render(self, prompt: str) -> str:
        return prompt if self.chat_system is None else chatml(self.chat_system, prompt)


KINDS = {
    "smollm2": Kind(
        name="smollm2", n_vocab=N_VOCAB_EXPECTED, default_out="smollm2", chat_system=SYSTEM_PROMPT,
        tokenize_cases=TOKENIZE_CASES, detok_texts=DETOK_CASE_TEXTS, logits_prompt=LOGITS_USER,
        logits_tokens=(48, 64), greedy_prompts=GREEDY_USERS, smollm2_layout=True),
    "qwen2": Kind(
        name="qwen2", n_vocab=151936, default_out="qwen2", chat_system=QWEN_SYSTEM_PROMPT,
        tokenize_cases=BASE_CASES + EXTRA_CASES + QWEN_SPECIAL_CASES,
        detok_texts=NEW_DETOK_TEXTS + ["<|im_start|>user\nHi there!<|im_end|>\n",
                                       "first document<|endoftext|>second document"],
        logits_prompt=QWEN_LOGITS_USER, logits_tokens=(40, 96), greedy_prompts=QWEN_GREEDY_USERS,
        logits_top_k=1024, byte_cases=BYTE_CASES, special_texts=QWEN_SPECIAL_TEXTS),
    "gemma3": Kind(
        name="gemma3", n_vocab=262144, default_out="gemma3", chat_system=None,
        tokenize_cases=BASE_CASES + EXTRA_CASES + GEMMA_SPECIAL_CASES,
        detok_texts=NEW_DETOK_TEXTS + ["<start_of_turn>user\nHi there!<end_of_turn>\n<start_of_turn>model\n",
                                       "first document<eos>second document"],
        logits_prompt=GEMMA_LOGITS_TEXT, logits_tokens=(40, 96), greedy_prompts=GEMMA_GREEDY_TEXTS,
        logits_top_k=1024, byte_cases=BYTE_CASES, special_texts=GEMMA_SPECIAL_TEXTS),
}


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def import_bindings(llama_src: Path, lib_dir: Path):
    """Import llama_cpp/llama_cpp.py (low-level ctypes API) without the
    package __init__ (which imports the high-level API)."""
    pkg_dir = llama_src / "llama_cpp"
    if not (pkg_dir / "llama_cpp.py").is_file():
        sys.exit(f"error: {pkg_dir}/llama_cpp.py not found (run scripts/build_llama.sh)")
    if not (lib_dir / "libllama.so").is_file():
        sys.exit(f"error: {lib_dir}/libllama.so not found (run scripts/build_llama.sh)")
    os.environ["LLAMA_CPP_LIB_PATH"] = str(lib_dir)
    pkg = types.ModuleType("llama_cpp")
    pkg.__path__ = [str(pkg_dir)]
    sys.modules["llama_cpp"] = pkg
    import llama_cpp.llama_cpp as C  # noqa: E402
    version = None
    init = (pkg_dir / "__init__.py").read_text()
    m = re.search(r'__version__\s*=\s*"([^"]+)"', init)
    if m:
        version = m.group(1)
    commit = None
    changelog = llama_src / "CHANGELOG.md"
    if changelog.is_file() and version:
        text = changelog.read_text()
        sec = text.split(f"## [{version}]", 1)
        if len(sec) == 2:
            m = re.search(r"ggml-org/llama\.cpp@([0-9a-f]{7,40})", sec[1].split("\n## [", 1)[0])
            if m:
                commit = m.group(1)
    return C, version, commit


class Llama:
    """Minimal wrapper over the low-level API."""

    def __init__(self, C, model_path: Path, n_threads: int, n_ctx: int, n_batch: int,
                 flash_attn_type: int | None = None, kv_type: int | None = None):
        self.C = C
        self.log_lines: list[str] = []

        @C.llama_log_callback
        def _log(level, text, user_data):  # noqa: ARG001
            self.log_lines.append(text.decode("utf-8", errors="replace"))

        self._log_cb = _log  # keep alive
        C.llama_log_set(self._log_cb, ctypes.c_void_p(0))
        C.llama_backend_init()

        mparams = C.llama_model_default_params()
        self.model = C.llama_model_load_from_file(str(model_path).encode(), mparams)
        if not self.model:
            raise RuntimeError(f"failed to load {model_path}:\n" + "".join(self.log_lines[-20:]))
        self.vocab = C.llama_model_get_vocab(self.model)
        self.n_vocab = C.llama_vocab_n_tokens(self.vocab)

        cparams = C.llama_context_default_params()
        cparams.n_ctx = n_ctx
        cparams.n_batch = n_batch
        cparams.n_ubatch = n_batch
        cparams.n_threads = n_threads
        cparams.n_threads_batch = n_threads
        cparams.no_perf = True
        if flash_attn_type is not None:
            cparams.flash_attn_type = flash_attn_type
        if kv_type is not None:
            cparams.type_k = kv_type
            cparams.type_v = kv_type
        self.cparams = {
            "n_ctx": n_ctx,
            "n_batch": n_batch,
            "n_ubatch": n_batch,
            "n_threads": n_threads,
            "n_threads_batch": n_threads,
            "flash_attn_type": {-1: "auto", 0: "disabled", 1: "enabled"}.get(
                cparams.flash_attn_type, str(cparams.flash_attn_type)),
            "type_k": {0: "f32", 1: "f16"}.get(cparams.type_k, str(cparams.type_k)),
            "type_v": {0: "f32", 1: "f16"}.get(cparams.type_v, str(cparams.type_v)),
            "model_params": "llama_model_default_params() (mmap, CPU only)",
        }
        self.ctx = C.llama_init_from_model(self.model, cparams)
        if not self.ctx:
            raise RuntimeError("failed to create context:\n" + "".join(self.log_lines[-20:]))
        self.n_ctx = n_ctx
        self.batch = C.llama_batch_init(n_batch, 0, 1)
        self.n_batch = n_batch

    def close(self):
        C = self.C
        C.llama_batch_free(self.batch)
        C.llama_free(self.ctx)
        C.llama_model_free(self.model)

    # --- tokenizer -----------------------------------------------------------
    def tokenize(self, text: str | bytes, add_special: bool = False, parse_special: bool = True) -> list[int]:
        C = self.C
        data = text if isinstance(text, bytes) else text.encode("utf-8")
        cap = len(data) + 16
        buf = (C.llama_token * cap)()
        n = C.llama_tokenize(self.vocab, data, len(data), buf, cap, add_special, parse_special)
        if n < 0:
            cap = -n
            buf = (C.llama_token * cap)()
            n = C.llama_tokenize(self.vocab, data, len(data), buf, cap, add_special, parse_special)
            if n < 0:
                raise RuntimeError(f"tokenize failed for {text!r}")
        return list(buf[:n])

    def detokenize(self, ids: list[int], remove_special: bool = False,
                   unparse_special: bool = True) -> bytes:
        C = self.C
        arr = (C.llama_token * max(1, len(ids)))(*ids)
        cap = 64 + 32 * len(ids)
        out = ctypes.create_string_buffer(cap)
        n = C.llama_detokenize(self.vocab, arr, len(ids), out, cap, remove_special, unparse_special)
        if n < 0:
            cap = -n
            out = ctypes.create_string_buffer(cap)
            n = C.llama_detokenize(self.vocab, arr, len(ids), out, cap, remove_special, unparse_special)
            if n < 0:
                raise RuntimeError("detokenize failed")
        return out.raw[:n]

    def piece(self, tok: int, special: bool = True) -> bytes:
        C = self.C
        buf = ctypes.create_string_buffer(256)
        n = C.llama_token_to_piece(self.vocab, tok, buf, 256, 0, special)
        if n < 0:
            raise RuntimeError("token_to_piece failed")
        return buf.raw[:n]

    def chat_template_render(self, system: str, user: str) -> str | None:
        """llama.cpp's built-in (non-Jinja) rendering of the model's template."""
        C = self.C
        tmpl = C.llama_model_chat_template(self.model, None)
        if not tmpl:
            return None
        msgs = (C.llama_chat_message * 2)(
            C.llama_chat_message(b"system", system.encode()),
            C.llama_chat_message(b"user", user.encode()))
        cap = 4096
        buf = ctypes.create_string_buffer(cap)
        n = C.llama_chat_apply_template(tmpl, msgs, 2, True, buf, cap)
        if n < 0 or n > cap:
            return None
        return buf.raw[:n].decode("utf-8")

    # --- evaluation ----------------------------------------------------------
    def clear(self):
        C = self.C
        C.llama_memory_clear(C.llama_get_memory(self.ctx), True)

    def decode(self, ids: list[int], pos0: int, logits_all: bool) -> np.ndarray:
        """Decode ids at positions pos0.. in ONE llama_decode call.
        Returns logits [n_out][n_vocab] (all positions or only the last)."""
        C = self.C
        n = len(ids)
        assert 0 < n <= self.n_batch and pos0 + n <= self.n_ctx
        b = self.batch
        for i, t in enumerate(ids):
            b.token[i] = t
            b.pos[i] = pos0 + i
            b.n_seq_id[i] = 1
            b.seq_id[i][0] = 0
            b.logits[i] = 1 if (logits_all or i == n - 1) else 0
        b.n_tokens = n
        rc = C.llama_decode(self.ctx, b)
        if rc != 0:
            raise RuntimeError(f"llama_decode returned {rc}")
        rows = range(n) if logits_all else [n - 1]
        out = np.empty((len(rows), self.n_vocab), dtype=np.float32)
        for r, i in enumerate(rows):
            p = C.llama_get_logits_ith(self.ctx, i)
            out[r] = np.ctypeslib.as_array(p, shape=(self.n_vocab,))
        return out

    def eog_ids(self) -> list[int]:
        """Every id llama.cpp treats as end of generation (llama_vocab_is_eog)."""
        return [t for t in range(self.n_vocab) if self.C.llama_vocab_is_eog(self.vocab, t)]

    def greedy(self, prompt_ids: list[int], n_predict: int, end_tokens=END_TOKENS):
        """Greedy decoding by hand: prompt in one batch, then one token per
        decode call; argmax (lowest id on ties) of the raw logits."""
        self.clear()
        logits = self.decode(prompt_ids, 0, logits_all=False)[0]
        out, margins, stopped, pos = [], [], False, len(prompt_ids)
        for step in range(n_predict):
            tok = int(np.argmax(logits))
            top2 = np.partition(logits, -2)[-2:]
            margins.append(round(float(top2[1] - top2[0]), 4))
            out.append(tok)
            if tok in end_tokens:
                stopped = True
                break
            if step == n_predict - 1:
                break
            logits = self.decode([tok], pos, logits_all=False)[0]
            pos += 1
        return out, stopped, margins


def cross_check_tokenizer(tool: Path, model: Path, cases: list[dict]) -> None:
    """Tokenize every case again with the llama-tokenize CLI (separate process,
    same libllama) and fail on any difference."""
    import ast
    import subprocess
    for c in cases:
        r = subprocess.run([str(tool), "-m", str(model), "--stdin", "--ids", "--log-disable", "--no-bos"],
                           input=c["text"].encode(), capture_output=True, check=False)
        lines = r.stdout.decode().strip().splitlines()
        if r.returncode != 0 or not lines:
            sys.exit(f"error: llama-tokenize failed (rc={r.returncode}) for {c['text']!r}:\n{r.stderr.decode()[-2000:]}")
        ids = ast.literal_eval(lines[-1])
        if ids != c["ids"]:
            sys.exit(f"error: llama-tokenize disagrees with llama_tokenize for {c['text']!r}:\n"
                     f"  tool:     {ids}\n  bindings: {c['ids']}")


def system_info(C) -> str:
    return C.llama_print_system_info().decode("utf-8", errors="replace").strip()


def log_facts(lines: list[str]) -> dict:
    """Facts from llama.cpp's load/context log that affect the numerics."""
    text = "".join(lines)
    facts = {}
    m = re.search(r"flash_attn\s*=\s*(\S+)", text)
    fa = m.group(1) if m else "?"
    m = re.search(r"Flash Attention (enabled|disabled)", text)
    if m:
        fa += " -> " + m.group(1)
    facts["flash_attn"] = fa
    facts["model_buffers"] = sorted(set(re.findall(r"(\w+) model buffer size", text)))
    repacked = re.findall(r"repack: repack tensor (\S+) with (\S+)", text)
    if repacked:
        by_layout: dict[str, list[str]] = {}
        for name, layout in repacked:
            by_layout.setdefault(layout, []).append(name)
        facts["cpu_repack"] = {
            "note": ("llama.cpp repacks these tensors into the CPU_REPACK buffer at load and multiplies "
                     "them with its repacked GEMM/GEMV kernels; every other tensor stays in CPU_Mapped"),
            "repacked": by_layout,
        }
    elif "cannot be used with preferred buffer type CPU_REPACK" in text:
        facts["cpu_repack"] = "not used: llama.cpp reports the tensors cannot use CPU_REPACK"
    return facts


def gguf_tensor_facts(model: Path) -> dict:
    """Tensor types of the file (gguf-py), whether the output projection is tied to
    token_embd, and the bytes of the weights."""
    try:
        import gguf  # noqa: PLC0415
    except ImportError:
        return {"note": "gguf-py not installed (python3 -m pip install gguf==0.19.0): no tensor facts"}
    r = gguf.GGUFReader(str(model))
    counts: dict[str, int] = {}
    for t in r.tensors:
        counts[t.tensor_type.name] = counts.get(t.tensor_type.name, 0) + 1
    by_name = {t.name: t for t in r.tensors}
    emb = by_name["token_embd.weight"]
    out = by_name.get("output.weight")
    return {
        "tensor_types": dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))),
        "token_embd": emb.tensor_type.name,
        "output": (f"output.weight ({out.tensor_type.name}), not tied: token_embd is only gathered"
                   if out is not None else f"tied: token_embd.weight ({emb.tensor_type.name}) is the output matrix"),
        "tensor_bytes": int(sum(int(t.n_bytes) for t in r.tensors)),
    }


def vec_dot_note(facts: dict) -> str:
    """How llama.cpp's CPU backend multiplies the weight types of a file (ggml-cpu type traits)."""
    act = {"Q4_0": "Q8_0", "Q5_0": "Q8_0", "Q8_0": "Q8_0", "IQ4_NL": "Q8_0", "Q4_1": "Q8_1", "Q5_1": "Q8_1",
           "Q2_K": "Q8_K", "Q3_K": "Q8_K", "Q4_K": "Q8_K", "Q5_K": "Q8_K", "Q6_K": "Q8_K", "IQ4_XS": "Q8_K"}
    types = [t for t in facts.get("tensor_types", {}) if t != "F32"]
    parts = [f"{t} x {act[t]}" if t in act else f"{t} (see ggml-cpu)" for t in types]
    return ("llama.cpp CPU numerics (ggml-cpu type traits of this version): each quantized weight matmul first "
            "quantizes the f32 activations to the weight type's vec_dot_type (" + ", ".join(parts) + "); "
            f"output projection: {facts.get('output', '?')}; norms and biases F32; the KV cache is f16 and "
            "flash attention is on (see settings)")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--kind", "--arch", dest="kind", choices=sorted(KINDS), default="smollm2",
                    help="which model's prompts and layout (default smollm2)")
    ap.add_argument("--model", required=True, type=Path, help="the .gguf file (scripts/fetch_model.sh KIND)")
    ap.add_argument("--llama-src", required=True, type=Path,
                    help="extracted llama-cpp-python sdist (contains llama_cpp/)")
    ap.add_argument("--lib-dir", required=True, type=Path, help="dir with libllama.so")
    ap.add_argument("--out", type=Path, help="output dir (default tests/data/<kind>)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--n-ctx", type=int, default=512)
    ap.add_argument("--n-batch", type=int, default=512)
    ap.add_argument("--llama-tokenize", type=Path,
                    help="path of llama.cpp's llama-tokenize tool to cross-check all tokenize cases")
    ap.add_argument("--no-thread-check", action="store_true",
                    help="skip re-running logits/greedy with 1 thread to compare")
    ap.add_argument("--no-tokenize", action="store_true",
                    help="do not write tokenize.json (e.g. for a re-quantized file with the same vocabulary)")
    args = ap.parse_args()
    kind = KINDS[args.kind]
    legacy = kind.smollm2_layout
    if args.out is None:
        args.out = Path(__file__).resolve().parent.parent / "tests/data" / kind.default_out

    C, py_version, llama_commit = import_bindings(args.llama_src.resolve(), args.lib_dir.resolve())
    model_sha = sha256_file(args.model)
    generator = (f"llama-cpp-python {py_version} (vendored llama.cpp {llama_commit or 'unknown'}), "
                 "low-level ctypes API against libllama.so built by scripts/build_llama.sh "
                 "(CPU backend, GGML_NATIVE=ON, default llamafile sgemm + CPU repack)")

    llm = Llama(C, args.model, args.threads, args.n_ctx, args.n_batch)
    if llm.n_vocab != kind.n_vocab:
        sys.exit(f"error: n_vocab {llm.n_vocab} != {kind.n_vocab}")
    add_bos = bool(C.llama_vocab_get_add_bos(llm.vocab))
    if add_bos != (kind.name == "gemma3"):  # Gemma adds BOS, SmolLM2 and Qwen do not
        sys.exit(f"error: unexpected add_bos={add_bos} for {kind.name}")
    prompt_add_special = add_bos  # how llama.cpp's tools tokenize a prompt
    end_tokens = END_TOKENS if legacy else tuple(llm.eog_ids())
    sysinfo = system_info(C)
    facts = log_facts(llm.log_lines)
    settings = dict(llm.cparams)
    settings.update(facts)
    tensor_facts = {} if legacy else gguf_tensor_facts(args.model)
    if tensor_facts:
        settings["model_tensors"] = tensor_facts
    notes: list[str] = []

    args.out.mkdir(parents=True, exist_ok=True)

    def pieces_hex(ids: list[int], special: bool = True) -> list[str]:
        return [llm.piece(t, special=special).hex() for t in ids]

    # ---------------------------------------------------------------- tokenize
    cases = []
    detok = []
    if not args.no_tokenize:
        assert len(set(kind.tokenize_cases)) == len(kind.tokenize_cases), "duplicate tokenize case"
        roundtrip_bad = []
        for text in kind.tokenize_cases:
            ids = llm.tokenize(text, add_special=False, parse_special=True)
            cases.append({"text": text, "ids": ids})
            if llm.detokenize(ids, remove_special=False, unparse_special=True) != text.encode():
                roundtrip_bad.append(text)
        if args.llama_tokenize:
            cross_check_tokenizer(args.llama_tokenize, args.model, cases)
        for text in kind.detok_texts:
            ids = llm.tokenize(text, add_special=False, parse_special=True)
            for unparse in (True, False):
                raw = llm.detokenize(ids, remove_special=False, unparse_special=unparse)
                concat = b"".join(llm.piece(t, special=unparse) for t in ids)
                if raw != concat:
                    notes.append(f"detokenize != concatenated pieces for {text!r} (unparse_special={unparse})")
                entry = {"ids": ids, "text": raw.decode("utf-8"), "unparse_special": unparse}
                if not legacy:
                    entry["pieces_hex"] = pieces_hex(ids, special=unparse)
                if unparse is False and raw == llm.detokenize(ids, False, True):
                    continue  # no special tokens in this case: the False variant adds nothing
                detok.append(entry)
        # single-token pieces that are not valid UTF-8 on their own (byte-level BPE)
        emoji_ids = llm.tokenize("\U0001f355", False, True)
        partial = [{"id": t, "hex": llm.piece(t).hex()} for t in emoji_ids]
        tok_json = {
            "model_sha256": model_sha,
            "generator": generator,
        }
        if not legacy:
            V = llm.vocab
            tok_json.update({
                "model_kind": kind.name,
                "n_vocab": llm.n_vocab,
                "model_add_bos": add_bos,
                "model_add_eos": bool(C.llama_vocab_get_add_eos(V)),
                "bos_id": C.llama_vocab_bos(V),
                "eos_id": C.llama_vocab_eos(V),
                "eot_id": C.llama_vocab_eot(V),
                "eog_ids": list(end_tokens),
                "special_token_ids": {t: llm.tokenize(t, False, True) for t in kind.special_texts},
            })
        tok_json.update({
            "add_special": False,
            "parse_special": True,
            "api": "llama_tokenize(vocab, text, len, out, cap, add_special=false, parse_special=true)",
        })
        if not legacy:
            tok_json["add_special_note"] = (
                "ids never include BOS; " + ("the model adds BOS (tokenizer.ggml.add_bos_token): llama.cpp's "
                                             f"prompts are [bos_id={C.llama_vocab_bos(llm.vocab)}] + ids"
                                             if add_bos else "the model adds no BOS: llama.cpp's prompts are ids"))
        tok_json["cases"] = cases
        if not legacy:
            byte_cases = []
            for data in kind.byte_cases:
                ids = llm.tokenize(data, add_special=False, parse_special=True)
                byte_cases.append({"hex": data.hex(), "ids": ids,
                                   "detok_hex": llm.detokenize(ids, False, True).hex()})
            tok_json["byte_cases_note"] = ("byte strings that are not valid UTF-8, as hex; same API; "
                                           "detok_hex: llama_detokenize(unparse_special=true) of ids")
            tok_json["byte_cases"] = byte_cases
        tok_json.update({
            "detok_api": ("llama_detokenize(vocab, ids, n, out, cap, remove_special=false, "
                          "unparse_special=<entry.unparse_special>)"
                          + ("" if legacy else "; pieces_hex: llama_token_to_piece(lstrip=0, "
                             "special=<entry.unparse_special>) of each id, hex")),
            "detok": detok,
            "pieces_bytes_example": {
                "text": "\U0001f355",
                "note": "llama_token_to_piece(special=true) bytes of each id, hex; pieces may be partial UTF-8",
                "pieces": partial,
            },
            "notes": [
                *(["ids cross-checked: identical to the llama-tokenize tool's output (--no-bos, parse special)"]
                  if args.llama_tokenize else []),
                ("detokenize(tokenize(text)) == text (unparse_special=true) for every case" if not roundtrip_bad else
                 f"detokenize(tokenize(text)) != text for {len(roundtrip_bad)} cases: {roundtrip_bad!r}"),
            ],
        })
        write_json(args.out / "tokenize.json", tok_json)

    # ------------------------------------------------------------ chat prompt
    if kind.chat_system is not None:
        rendered = llm.chat_template_render(kind.chat_system, kind.logits_prompt)
        if rendered is not None and rendered != kind.render(kind.logits_prompt):
            sys.exit(f"error: llama.cpp renders the chat template differently:\n{rendered!r}\n"
                     f"vs\n{kind.render(kind.logits_prompt)!r}")
        if rendered is None:
            notes.append("could not cross-check the chat format with llama_chat_apply_template")
        elif not legacy:
            notes.append("the ChatML prompts are identical to llama_chat_apply_template's rendering of the "
                         "file's template (system + user, add_ass=true)")

    # ----------------------------------------------------------------- logits
    text = kind.render(kind.logits_prompt)
    ids = llm.tokenize(text, prompt_add_special, True)
    T = len(ids)
    lo, hi = kind.logits_tokens
    if not lo <= T <= hi:
        sys.exit(f"error: logits prompt has {T} tokens, want {lo}..{hi}; change the logits prompt")
    llm.clear()
    logits = llm.decode(ids, 0, logits_all=True)
    assert logits.shape == (T, kind.n_vocab)
    if not np.isfinite(logits).all():
        sys.exit("error: non-finite logits")
    argmax = [int(i) for i in logits.argmax(axis=1)]
    if kind.logits_top_k is None:
        f32_name = "logits_prompt.f32"
        logits.astype("<f4").tofile(args.out / f32_name)
    else:
        K = kind.logits_top_k
        f32_name = f"logits_prompt.top{K}.bin"
        # descending by logit, ties by lower id: a stable sort of -logit (negation is exact)
        order = np.argsort(-logits, axis=1, kind="stable")[:, :K].astype("<i4")
        top = np.take_along_axis(logits, order, axis=1).astype("<f4")
        with open(args.out / f32_name, "wb") as f:
            f.write(order.tobytes())
            f.write(top.tobytes())
        assert [int(r[0]) for r in order] == argmax
        x = logits.astype(np.float64)
        m = x.max(axis=1, keepdims=True)
        lse = (m[:, 0] + np.log(np.exp(x - m).sum(axis=1))).tolist()
        row_sha = [hashlib.sha256(r.astype("<f4").tobytes()).hexdigest() for r in logits]

    # ----------------------------------------------------------------- greedy
    greedy_cases = []
    for prompt in kind.greedy_prompts:
        p_text = kind.render(prompt)
        p_ids = llm.tokenize(p_text, prompt_add_special, True)
        out_ids, stopped, margins = llm.greedy(p_ids, N_PREDICT, end_tokens)
        body = [t for t in out_ids if t not in end_tokens]
        case = {}
        if kind.chat_system is not None:
            case["user"] = prompt
        if not legacy:
            case["prompt_text"] = p_text
            case["add_special"] = prompt_add_special
        case.update({
            "prompt_ids": p_ids,
            "output_ids": out_ids,
            "stopped_on_end_token": stopped,
            "end_token": out_ids[-1] if stopped else None,
            "n_generated": len(out_ids),
            "output_text": llm.detokenize(body, False, False).decode("utf-8", errors="replace"),
            "min_margin": min(margins),
            "min_margin_step": margins.index(min(margins)),
            "top1_minus_top2_logit": margins,
        })
        greedy_cases.append(case)

    # ------------------------------------------- thread-count (in)dependence
    thread_check = None
    if not args.no_thread_check and args.threads != 1:
        llm1 = Llama(C, args.model, 1, args.n_ctx, args.n_batch)
        llm1.clear()
        l1 = llm1.decode(ids, 0, logits_all=True)
        diff = float(np.abs(l1 - logits).max())
        same_greedy = all(llm1.greedy(c["prompt_ids"], N_PREDICT, end_tokens)[0] == c["output_ids"]
                          for c in greedy_cases)
        llm1.close()
        thread_check = {"max_abs_logit_diff_threads_1_vs_%d" % args.threads: diff,
                        "greedy_identical": same_greedy}
        if diff == 0.0:
            notes.append(f"logits are bitwise identical with n_threads=1 and n_threads={args.threads}")
        else:
            notes.append(f"logits differ between n_threads=1 and n_threads={args.threads}: "
                         f"max |diff| = {diff:.3g}")
        notes.append("greedy outputs identical with n_threads=1" if same_greedy
                     else "greedy outputs DIFFER with n_threads=1")

    # ------------------- llama.cpp against itself: how far its own variants lie
    # The same prompt without flash attention (f16 and f32 KV cache). The KL divergence between
    # these and the reference is llama.cpp's own numerical spread on this model: a reimplementation
    # whose arithmetic is not bit-identical cannot be expected to land closer than this.
    def kl_stats(p_logits: np.ndarray, q_logits: np.ndarray) -> dict:
        def log_softmax(x):
            x = x.astype(np.float64)
            x = x - x.max(axis=1, keepdims=True)
            return x - np.log(np.exp(x).sum(axis=1, keepdims=True))
        lp, lq = log_softmax(p_logits), log_softmax(q_logits)
        kl = (np.exp(lp) * (lp - lq)).sum(axis=1)
        return {"kl_mean": float(kl.mean()), "kl_max": float(kl.max()),
                "max_abs_logit_diff": float(np.abs(p_logits - q_logits).max()),
                "argmax_agree": int((p_logits.argmax(1) == q_logits.argmax(1)).sum())}
    self_divergence = {}
    for label, fa, kv in (("flash_attn_off_kv_f16", 0, 1), ("flash_attn_off_kv_f32", 0, 0)):
        variant = Llama(C, args.model, args.threads, args.n_ctx, args.n_batch, flash_attn_type=fa, kv_type=kv)
        variant.clear()
        self_divergence[label] = kl_stats(logits, variant.decode(ids, 0, logits_all=True))
        variant.close()

    # ------------------------------------- batch vs token-by-token evaluation
    llm.clear()
    inc = np.stack([llm.decode([t], i, logits_all=False)[0] for i, t in enumerate(ids)])
    inc_diff = float(np.abs(inc - logits).max())
    if inc_diff == 0.0:
        notes.append("prompt logits are bitwise identical whether the prompt is decoded in one batch "
                     "or one token per llama_decode call")
    else:
        notes.append(f"prompt logits decoded one token per call differ from the one-batch logits: "
                     f"max |diff| = {inc_diff:.3g}")

    if legacy:
        numerics = ("llama.cpp CPU numerics (ggml-cpu type traits of this version): Q4_1 weight matmuls quantize the "
                    "f32 activations to Q8_1 blocks first (ggml_vec_dot_q4_1_q8_1); token_embd is Q8_0 and, as there is "
                    "no output.weight, is also the tied output matrix, multiplied with Q8_0-quantized activations; "
                    "the KV cache is f16 and flash attention is on (see settings)")
    else:
        numerics = vec_dot_note(tensor_facts)
    common_notes = notes + [
        numerics,
        "greedy.json top1_minus_top2_logit: per step, the gap between the chosen logit and the runner-up; "
        "a reimplementation may legitimately flip steps with a tiny gap",
        "built with -march=native (GGML_NATIVE=ON): llama.cpp's exact float results depend on the "
        "CPU's SIMD paths (see system_info); token ids should not",
    ]

    logits_json = {
        "model_sha256": model_sha,
        "generator": generator,
    }
    if not legacy:
        logits_json["model_kind"] = kind.name
    logits_json["text"] = text
    if kind.chat_system is not None:
        logits_json["user"] = kind.logits_prompt
    if not legacy:
        logits_json["add_special"] = prompt_add_special
    logits_json.update({
        "ids": ids,
        "n_vocab": kind.n_vocab,
        "n_tokens": T,
        "logits_file": f32_name,
    })
    if kind.logits_top_k is None:
        logits_json["logits_layout"] = ("little-endian float32, row-major [n_tokens][n_vocab], "
                                        "row i = logits after token i")
    else:
        K = kind.logits_top_k
        logits_json.update({
            "top_k": K,
            "logits_layout": (f"two sections, no header: int32 LE ids[n_tokens][{K}] at byte 0, then float32 LE "
                              f"logits[n_tokens][{K}] at byte n_tokens*{K}*4; row t = the {K} largest logits after "
                              "token t, largest first (ties: lower id first), logits[t][j] belongs to ids[t][j]"),
            "ids_offset": 0,
            "logits_offset": T * K * 4,
        })
    logits_json["logits_sha256"] = sha256_file(args.out / f32_name)
    logits_json["argmax"] = argmax
    if kind.logits_top_k is not None:
        logits_json.update({
            "lse_note": ("log(sum_v exp(logit[t][v])) over all n_vocab logits of row t, computed in float64 "
                         "from the float32 logits (max-shifted); log_softmax(logit) = logit - lse"),
            "lse": lse,
            "row_sha256_note": "sha256 of the full float32 LE row t (n_vocab*4 bytes): for bit-exact comparison",
            "row_sha256": row_sha,
        })
    logits_json.update({
        "threads": args.threads,
        "eval": "one llama_decode call with all tokens, logits requested for every position",
        "settings": settings,
        "system_info": sysinfo,
        "thread_check": thread_check,
        "llama_cpp_self_divergence": self_divergence,
        "notes": common_notes,
    })
    write_json(args.out / "logits_prompt.json", logits_json)

    if legacy:
        method = ("prompt (ChatML, default system message) in one llama_decode call; then repeatedly "
                  "take argmax of the last logits (lowest id on ties, no repetition penalty, no "
                  "sampling) and decode that single token; stop after n_predict tokens or when the "
                  "token is <|im_end|> (2) or <|endoftext|> (0). output_ids include that end token; "
                  "output_text is the detokenized output without it (unparse_special=false).")
    else:
        fmt = ("ChatML with the default system prompt, add_special=false" if kind.chat_system is not None
               else "plain text, add_special=true (BOS first)")
        method = (f"prompt_text ({fmt}) tokenized with parse_special=true and decoded in one llama_decode "
                  "call; then repeatedly take argmax of the last logits (lowest id on ties, no repetition "
                  "penalty, no sampling) and decode that single token; stop after n_predict tokens or at a "
                  "token in end_tokens (llama_vocab_is_eog). output_ids include that end token; output_text "
                  "is the detokenized output without it (unparse_special=false).")
    greedy_json = {
        "model_sha256": model_sha,
        "generator": generator,
    }
    if not legacy:
        greedy_json["model_kind"] = kind.name
    greedy_json.update({
        "n_predict": N_PREDICT,
        "threads": args.threads,
        "method": method,
        "end_tokens": list(end_tokens),
    })
    if not legacy:
        greedy_json["min_margin_all_cases"] = min(c["min_margin"] for c in greedy_cases)
        greedy_json["prompt_selection"] = (
            "the prompts after the first were picked among candidates for the largest smallest "
            "top1_minus_top2_logit; rejected_prompts_min_margin: the smallest gap of each rejected candidate, "
            "measured with llama.cpp on the original (not re-quantized) file")
        greedy_json["rejected_prompts_min_margin"] = (QWEN_GREEDY_REJECTED if kind.name == "qwen2"
                                                      else GEMMA_GREEDY_REJECTED)
    greedy_json.update({
        "cases": greedy_cases,
        "settings": settings,
        "system_info": sysinfo,
        "notes": common_notes,
    })
    write_json(args.out / "greedy.json", greedy_json)

    # ---------------------------------------------------------------- summary
    print(f"generator: {generator}")
    print(f"model sha256: {model_sha}")
    print(f"settings: {json.dumps(settings)}")
    if not args.no_tokenize:
        print(f"tokenize.json: {len(cases)} cases, {len(detok)} detok entries"
              + (f", {len(roundtrip_bad)} non-roundtripping" if roundtrip_bad else ""))
    print(f"logits_prompt: {T} tokens, file {(args.out / f32_name).stat().st_size} bytes, "
          f"last-position argmax {argmax[-1]} ({llm.piece(argmax[-1])!r})")
    for c in greedy_cases:
        label = c.get("user", c.get("prompt_text"))
        print(f"greedy [{label}] -> {c['n_generated']} tokens"
              f"{' (stopped on end token)' if c['stopped_on_end_token'] else ''}, "
              f"min margin {min(c['top1_minus_top2_logit']):.4f}: {c['output_text']!r}")
    for n in notes:
        print(f"note: {n}")
    llm.close()
    return 0


def to_json(obj, indent: int = 0) -> str:
    """json with one key per line but lists of scalars on a single line."""
    pad, pad1 = " " * indent, " " * (indent + 1)
    if isinstance(obj, dict):
        if not obj:
            return "{}"
        items = [f"{pad1}{json.dumps(k, ensure_ascii=False)}: {to_json(v, indent + 1)}" for k, v in obj.items()]
        return "{\n" + ",\n".join(items) + "\n" + pad + "}"
    if isinstance(obj, list) and any(isinstance(v, (dict, list)) for v in obj):
        items = [pad1 + to_json(v, indent + 1) for v in obj]
        return "[\n" + ",\n".join(items) + "\n" + pad + "]"
    return json.dumps(obj, ensure_ascii=False, separators=(", ", ": "))


def write_json(path: Path, obj) -> None:
    text = to_json(obj) + "\n"
    assert json.loads(text) == obj
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        f.write(text)


if __name__ == "__main__":
    sys.exit(main())
