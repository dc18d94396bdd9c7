// SPDX-License-Identifier: Apache-2.0
// Copyright lowbit contributors
//
// Helpers shared by the peer benchmark programs (peer_ggml.cpp, peer_blas_dnnl.cpp): argument
// parsing, the default shapes (the same as bench_gemm.cpp's) and the reported statistic.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

namespace peer {

struct Shape {
  int64_t M, N, K;
};

/// The program's name in error messages; each peer sets it first thing in main.
inline const char* program = "peer";

[[noreturn]] inline void die(const std::string& msg) {
  std::fprintf(stderr, "%s: error: %s\n", program, msg.c_str());
  std::exit(2);
}

/// Non-empty fields of `s` separated by `sep`.
inline std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> out;
  size_t b = 0;
  while (b <= s.size()) {
    size_t e = s.find(sep, b);
    if (e == std::string::npos) e = s.size();
    if (e > b) out.push_back(s.substr(b, e - b));
    b = e + 1;
  }
  return out;
}

/// "MxNxK" with positive extents; dies otherwise.
inline Shape parse_shape(const std::string& s) {
  char x1 = 0, x2 = 0, tail = 0;
  long long m = 0, n = 0, k = 0;
  if (std::sscanf(s.c_str(), "%lld%c%lld%c%lld%c", &m, &x1, &n, &x2, &k, &tail) != 5 || x1 != 'x' || x2 != 'x' ||
      m <= 0 || n <= 0 || k <= 0)
    die("bad shape '" + s + "' (expected MxNxK, e.g. 1x4096x4096)");
  return {m, n, k};
}

/// Issue 5's shapes and SmolLM2's layers (N x K: q/o 576x576, k/v 192x576, gate/up 1536x576, down
/// 576x1536, output 49152x576), decode (M = 1) and a 128-token prefill.
inline const std::vector<std::string> default_shapes = {
    "1x4096x4096", "8x4096x4096", "128x4096x4096", "512x4096x4096", "1x11008x4096", "1x576x576",    "1x192x576",
    "1x1536x576",  "1x576x1536",  "1x49152x576",   "128x576x576",   "128x192x576",  "128x1536x576", "128x576x1536"};

/// Total bytes of weight copies a cold measurement rotates through.
inline constexpr size_t cold_bytes = size_t(512) << 20;

/// --stat min: report the best call instead of the median.
inline bool use_min = false;

/// The reported statistic of per-call times: the median, or the minimum with --stat min.
inline double statistic(std::vector<double> v) {
  if (use_min) return *std::min_element(v.begin(), v.end());
  std::sort(v.begin(), v.end());
  size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

}  // namespace peer
