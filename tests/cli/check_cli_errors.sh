#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Copyright lowbit contributors
#
# Bad input to the lowbit-llm CLI: each case must exit non-zero with a lowbit::error message
# naming what is wrong. Usage: check_cli_errors.sh CLI MODEL_GGUF SMALL_GGUF
set -uo pipefail
cli="$1" model="$2" small="$3"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
failures=0 passed=0

expect_error() {  # name, expected message fragment, command...
  local name="$1" fragment="$2"
  shift 2
  local out rc
  out="$("$@" 2>&1)"
  rc=$?
  if [ "$rc" -ne 0 ] && grep -qF -- "$fragment" <<<"$out"; then
    passed=$((passed + 1))
    echo "ok: $name: $(head -n 1 <<<"$out")"
  else
    failures=$((failures + 1))
    echo "FAILED: $name: exit $rc, expected a message containing '$fragment', got: $out"
  fi
}

head -c 1000 "$small" > "$work/truncated.gguf"
printf 'GGUX' > "$work/bad_magic.gguf"; tail -c +5 "$small" >> "$work/bad_magic.gguf"
: > "$work/empty.gguf"
long_prompt="$(printf 'word %.0s' $(seq 1 200))"

expect_error "truncated file" "truncated" "$cli" --model "$work/truncated.gguf" --prompt hi
expect_error "wrong magic" "magic" "$cli" --model "$work/bad_magic.gguf" --prompt hi
expect_error "empty file" "lowbit:" "$cli" --model "$work/empty.gguf" --prompt hi
expect_error "missing file" "io_error" "$cli" --model "$work/does-not-exist.gguf" --prompt hi
expect_error "prompt longer than the context" "exceeds the context" "$cli" --model "$model" --ctx 64 --prompt "$long_prompt"
expect_error "unknown option" "unknown option" "$cli" --model "$model" --frobnicate
expect_error "bad number" "expects a non-negative integer" "$cli" --model "$model" --tokens many
expect_error "negative temperature" "temperature" "$cli" --model "$model" --temperature -1 --tokens 1

echo "$passed passed, $failures failed"
[ "$failures" -eq 0 ]
