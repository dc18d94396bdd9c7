// SPDX-License-Identifier: Apache-2.0
// Copyright lowbit contributors
#pragma once

#include <algorithm>
#include <cstddef>

#include "lowbit/core/error.hpp"

#if defined(_OPENMP)
#include <omp.h>
#endif

namespace lowbit {

/// How many threads a kernel may use. `count` >= 1; 1 runs on the calling thread alone.
struct threads {
  int count = 1;
};

/// Splits [0, n) into `t.count` contiguous chunks (chunk boundaries on multiples of `grain`) and
/// calls `body(begin, end)` once per non-empty chunk, on up to `t.count` threads (OpenMP when the
/// translation unit is compiled with it, otherwise sequentially). Returns when all calls returned.
///
/// throws lowbit::error{errc::invalid_argument} if t.count < 1 or grain == 0. `body` must not throw.
template <class Body>
void parallel_for(threads t, std::size_t n, std::size_t grain, Body&& body) {
  check(t.count >= 1, errc::invalid_argument, "parallel_for: thread count must be >= 1");
  check(grain >= 1, errc::invalid_argument, "parallel_for: grain must be >= 1");
  const std::size_t units = (n + grain - 1) / grain;
  const int workers = static_cast<int>(std::min<std::size_t>(static_cast<std::size_t>(t.count), units));
  if (workers <= 1) {
    if (n > 0) body(std::size_t{0}, n);
    return;
  }
  auto run_chunk = [&](int w) {
    const std::size_t u0 = units * static_cast<std::size_t>(w) / static_cast<std::size_t>(workers);
    const std::size_t u1 = units * static_cast<std::size_t>(w + 1) / static_cast<std::size_t>(workers);
    const std::size_t begin = u0 * grain;
    const std::size_t end = std::min(n, u1 * grain);
    if (begin < end) body(begin, end);
  };
#if defined(_OPENMP)
#pragma omp parallel num_threads(workers)
  {
    // The runtime may grant fewer threads than asked (nested regions): cover every chunk anyway.
    for (int w = omp_get_thread_num(); w < workers; w += omp_get_num_threads()) run_chunk(w);
  }
#else
  for (int w = 0; w < workers; ++w) run_chunk(w);
#endif
}

}  // namespace lowbit
