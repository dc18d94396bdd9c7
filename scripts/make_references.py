#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
# Copyright lowbit contributors
"""Generate the golden reference data for examples/smollm2 from llama.cpp.

Writes into tests/data/smollm2/ (or --out):
  tokenize.json       llama.cpp tokenizer ids for many strings (+ a few detokenizations)
  logits_prompt.json  metadata of a ChatML prompt evaluated in one batch
  logits_prompt.f32   raw little-endian float32 logits [n_tokens][n_vocab]
  greedy.json         greedy (argmax) continuations of three chat prompts

llama.cpp is used through the low-level ctypes bindings of the llama-cpp-python
sdist (llama_cpp/llama_cpp.py), loaded against the libllama.so built by
scripts/build_llama.sh (LLAMA_CPP_LIB_PATH). Only the low-level module is
imported (the package __init__ would pull in the high-level API and its extra
dependencies, jinja2 and diskcache, which are not needed here).

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

TOKENIZE_CASES = [
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
    def tokenize(self, text: str, add_special: bool = False, parse_special: bool = True) -> list[int]:
        C = self.C
        data = text.encode("utf-8")
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

    def greedy(self, prompt_ids: list[int], n_predict: int):
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
            if tok in END_TOKENS:
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
    if "cannot be used with preferred buffer type CPU_REPACK" in text:
        facts["cpu_repack"] = "not used: llama.cpp reports the tensors cannot use CPU_REPACK"
    return facts


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", required=True, type=Path, help="SmolLM2-135M-Instruct.Q4_1.gguf")
    ap.add_argument("--llama-src", required=True, type=Path,
                    help="extracted llama-cpp-python sdist (contains llama_cpp/)")
    ap.add_argument("--lib-dir", required=True, type=Path, help="dir with libllama.so")
    ap.add_argument("--out", type=Path, default=Path(__file__).resolve().parent.parent / "tests/data/smollm2")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--n-ctx", type=int, default=512)
    ap.add_argument("--n-batch", type=int, default=512)
    ap.add_argument("--llama-tokenize", type=Path,
                    help="path of llama.cpp's llama-tokenize tool to cross-check all tokenize cases")
    ap.add_argument("--no-thread-check", action="store_true",
                    help="skip re-running logits/greedy with 1 thread to compare")
    args = ap.parse_args()

    C, py_version, llama_commit = import_bindings(args.llama_src.resolve(), args.lib_dir.resolve())
    model_sha = sha256_file(args.model)
    generator = (f"llama-cpp-python {py_version} (vendored llama.cpp {llama_commit or 'unknown'}), "
                 "low-level ctypes API against libllama.so built by scripts/build_llama.sh "
                 "(CPU backend, GGML_NATIVE=ON, default llamafile sgemm + CPU repack)")

    llm = Llama(C, args.model, args.threads, args.n_ctx, args.n_batch)
    if llm.n_vocab != N_VOCAB_EXPECTED:
        sys.exit(f"error: n_vocab {llm.n_vocab} != {N_VOCAB_EXPECTED}")
    sysinfo = system_info(C)
    facts = log_facts(llm.log_lines)
    settings = dict(llm.cparams)
    settings.update(facts)
    notes: list[str] = []

    args.out.mkdir(parents=True, exist_ok=True)

    # ---------------------------------------------------------------- tokenize
    assert len(set(TOKENIZE_CASES)) == len(TOKENIZE_CASES), "duplicate tokenize case"
    cases = []
    roundtrip_bad = []
    for text in TOKENIZE_CASES:
        ids = llm.tokenize(text, add_special=False, parse_special=True)
        cases.append({"text": text, "ids": ids})
        if llm.detokenize(ids, remove_special=False, unparse_special=True) != text.encode():
            roundtrip_bad.append(text)
    if args.llama_tokenize:
        cross_check_tokenizer(args.llama_tokenize, args.model, cases)
    detok = []
    for text in DETOK_CASE_TEXTS:
        ids = llm.tokenize(text, add_special=False, parse_special=True)
        for unparse in (True, False):
            raw = llm.detokenize(ids, remove_special=False, unparse_special=unparse)
            concat = b"".join(llm.piece(t, special=unparse) for t in ids)
            if raw != concat:
                notes.append(f"detokenize != concatenated pieces for {text!r} (unparse_special={unparse})")
            entry = {"ids": ids, "text": raw.decode("utf-8"), "unparse_special": unparse}
            if unparse is False and raw == llm.detokenize(ids, False, True):
                continue  # no special tokens in this case: the False variant adds nothing
            detok.append(entry)
    # single-token pieces that are not valid UTF-8 on their own (byte-level BPE)
    emoji_ids = llm.tokenize("\U0001f355", False, True)
    partial = [{"id": t, "hex": llm.piece(t).hex()} for t in emoji_ids]
    tok_json = {
        "model_sha256": model_sha,
        "generator": generator,
        "add_special": False,
        "parse_special": True,
        "api": "llama_tokenize(vocab, text, len, out, cap, add_special=false, parse_special=true)",
        "cases": cases,
        "detok_api": "llama_detokenize(vocab, ids, n, out, cap, remove_special=false, unparse_special=<entry.unparse_special>)",
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
    }
    write_json(args.out / "tokenize.json", tok_json)

    # ------------------------------------------------------------ chat prompt
    rendered = llm.chat_template_render(SYSTEM_PROMPT, LOGITS_USER)
    if rendered is not None and rendered != chat_prompt(LOGITS_USER):
        sys.exit(f"error: llama.cpp renders the chat template differently:\n{rendered!r}\n"
                 f"vs\n{chat_prompt(LOGITS_USER)!r}")
    if rendered is None:
        notes.append("could not cross-check the chat format with llama_chat_apply_template")

    # ----------------------------------------------------------------- logits
    text = chat_prompt(LOGITS_USER)
    ids = llm.tokenize(text, False, True)
    T = len(ids)
    if not 48 <= T <= 64:
        sys.exit(f"error: logits prompt has {T} tokens, want 48..64; change LOGITS_USER")
    llm.clear()
    logits = llm.decode(ids, 0, logits_all=True)
    assert logits.shape == (T, N_VOCAB_EXPECTED)
    if not np.isfinite(logits).all():
        sys.exit("error: non-finite logits")
    f32_name = "logits_prompt.f32"
    logits.astype("<f4").tofile(args.out / f32_name)
    argmax = [int(i) for i in logits.argmax(axis=1)]

    # ----------------------------------------------------------------- greedy
    greedy_cases = []
    for user in GREEDY_USERS:
        p_ids = llm.tokenize(chat_prompt(user), False, True)
        out_ids, stopped, margins = llm.greedy(p_ids, N_PREDICT)
        body = [t for t in out_ids if t not in END_TOKENS]
        greedy_cases.append({
            "user": user,
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

    # ------------------------------------------- thread-count (in)dependence
    thread_check = None
    if not args.no_thread_check and args.threads != 1:
        llm1 = Llama(C, args.model, 1, args.n_ctx, args.n_batch)
        llm1.clear()
        l1 = llm1.decode(ids, 0, logits_all=True)
        diff = float(np.abs(l1 - logits).max())
        same_greedy = all(llm1.greedy(c["prompt_ids"], N_PREDICT)[0] == c["output_ids"] for c in greedy_cases)
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

    common_notes = notes + [
        "llama.cpp CPU numerics (ggml-cpu type traits of this version): Q4_1 weight matmuls quantize the "
        "f32 activations to Q8_1 blocks first (ggml_vec_dot_q4_1_q8_1); token_embd is Q8_0 and, as there is "
        "no output.weight, is also the tied output matrix, multiplied with Q8_0-quantized activations; "
        "the KV cache is f16 and flash attention is on (see settings)",
        "greedy.json top1_minus_top2_logit: per step, the gap between the chosen logit and the runner-up; "
        "a reimplementation may legitimately flip steps with a tiny gap",
        "built with -march=native (GGML_NATIVE=ON): llama.cpp's exact float results depend on the "
        "CPU's SIMD paths (see system_info); token ids should not",
    ]

    logits_json = {
        "model_sha256": model_sha,
        "generator": generator,
        "text": text,
        "user": LOGITS_USER,
        "ids": ids,
        "n_vocab": N_VOCAB_EXPECTED,
        "n_tokens": T,
        "logits_file": f32_name,
        "logits_layout": "little-endian float32, row-major [n_tokens][n_vocab], row i = logits after token i",
        "logits_sha256": sha256_file(args.out / f32_name),
        "argmax": argmax,
        "threads": args.threads,
        "eval": "one llama_decode call with all tokens, logits requested for every position",
        "settings": settings,
        "system_info": sysinfo,
        "thread_check": thread_check,
        "llama_cpp_self_divergence": self_divergence,
        "notes": common_notes,
    }
    write_json(args.out / "logits_prompt.json", logits_json)

    greedy_json = {
        "model_sha256": model_sha,
        "generator": generator,
        "n_predict": N_PREDICT,
        "threads": args.threads,
        "method": ("prompt (ChatML, default system message) in one llama_decode call; then repeatedly "
                   "take argmax of the last logits (lowest id on ties, no repetition penalty, no "
                   "sampling) and decode that single token; stop after n_predict tokens or when the "
                   "token is <|im_end|> (2) or <|endoftext|> (0). output_ids include that end token; "
                   "output_text is the detokenized output without it (unparse_special=false)."),
        "end_tokens": list(END_TOKENS),
        "cases": greedy_cases,
        "settings": settings,
        "system_info": sysinfo,
        "notes": common_notes,
    }
    write_json(args.out / "greedy.json", greedy_json)

    # ---------------------------------------------------------------- summary
    print(f"generator: {generator}")
    print(f"model sha256: {model_sha}")
    print(f"settings: {json.dumps(settings)}")
    print(f"tokenize.json: {len(cases)} cases, {len(detok)} detok entries"
          + (f", {len(roundtrip_bad)} non-roundtripping" if roundtrip_bad else ""))
    print(f"logits_prompt: {T} tokens, file {T * N_VOCAB_EXPECTED * 4} bytes, "
          f"last-position argmax {argmax[-1]} ({llm.piece(argmax[-1])!r})")
    for c in greedy_cases:
        print(f"greedy [{c['user']}] -> {c['n_generated']} tokens"
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
