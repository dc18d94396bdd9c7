// SPDX-License-Identifier: Apache-2.0
// Copyright lowbit contributors
//
// GEMM / GEMV of lowbit's SIMD kernels for the non-linear and ternary GGUF formats (IQ4_NL, TQ2_0,
// MXFP4, IQ4_XS, NVFP4, TQ1_0), compiled into bench_gemm next to bench_gemm.cpp, whose main() runs
// them and whose BM_limit_* cases measure the machine's read bandwidth and VNNI peak in the same
// run. Names: BM_gemm<FORMAT,simd>/M/N/K/threads:T/(hot|cold); counters GFLOP/s (2·M·N·K per call)
// and weight_GB/s (bytes of W read per call) from the mean time, and min_us, min_GFLOP/s and
// min_weight_GB/s from the fastest single call (to compare with `peer_ggml --stat min` on a shared,
// loaded machine). Cold cases rotate > 512 MiB of weight copies so that every call streams W from
// memory. Results and the ggml comparison: docs/benchmarks_nonlinear.md.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "lowbit/backend/simd/gemm_fp4.hpp"
#include "lowbit/backend/simd/gemm_iq4.hpp"
#include "lowbit/backend/simd/gemm_tq.hpp"
#include "lowbit/backend/simd/tag.hpp"
#include "lowbit/core/parallel.hpp"
#include "lowbit/gemm/gemm.hpp"

// After the kernels, whose first inclusion of the intrinsics silences GCC 12's false -Wuninitialized.
#include <immintrin.h>

#include "bench_registration.hpp"

namespace {

using nl_simd = lowbit::backend::simd<>;

// The shapes: decode (M = 1) of a 4096 x 4096 and a 11008 x 4096 (LLaMA-7B up/gate)
// layer, prefill of 128 and 512 tokens.
const lowbit_bench::gemm_shape nl_shapes[] = {{1, 4096, 4096}, {128, 4096, 4096}, {512, 4096, 4096}, {1, 11008, 4096}};

constexpr std::size_t nl_cold_bytes = std::size_t{576} << 20;

template <class F>
void bm_gemm_nonlinear(benchmark::State& state, lowbit_bench::gemm_shape s, int threads, bool cold) {
  const auto& blocks = lowbit_bench::cached_random_blocks<F>(s.n, s.k);
  const double weight_bytes = static_cast<double>(blocks.size() * sizeof(blocks[0]));
  const std::size_t copies = lowbit_bench::weight_copies(weight_bytes, cold, nl_cold_bytes);
  std::vector<lowbit::prepared_weight_t<nl_simd, F>> packed;
  packed.reserve(copies);
  packed.push_back(
      lowbit::prepare_weight<nl_simd>(lowbit::weight_view<F>{blocks.data(), s.n, s.k}, lowbit::threads{2}));
  for (std::size_t c = 1; c < copies; ++c) packed.push_back(lowbit_bench::copy_packed(packed[0]));
  lowbit_bench::time_gemm<nl_simd>(state, s, threads, packed, weight_bytes, {.min_counters = true});
}

template <class F>
void register_nonlinear(const char* name) {
  lowbit_bench::register_gemm_cases(name, nl_shapes, bm_gemm_nonlinear<F>);
}

// The machine's limits with the same statistic as the min_* counters: the fastest read of a 16 MiB
// slice of a 1 GiB buffer (slices rotate, so each is cold, like a cold GEMV's weights), and the
// fastest ~0.3 ms burst of 12 independent `vpdpbusd` chains (128 integer ops each). One thread.
void bm_nonlinear_limits(benchmark::State& state, bool vnni) {
  const std::size_t n = (std::size_t{1} << 30) / sizeof(float), slice = (std::size_t{16} << 20) / sizeof(float);
  std::vector<float> buffer(vnni ? 0 : n, 1.0f);
  double best = 1e300;
  std::size_t offset = 0;
  for (auto _ : state) {
    const auto t0 = std::chrono::steady_clock::now();
    if (vnni) {
      __m512i acc[12];
      const __m512i a = _mm512_set1_epi8(3), b = _mm512_set1_epi8(5);
      for (auto& r : acc) r = _mm512_setzero_si512();
      for (int i = 0; i < 8192; ++i) {
        for (auto& r : acc) r = _mm512_dpbusd_epi32(r, a, b);
      }
      for (int j = 1; j < 12; ++j) acc[0] = _mm512_add_epi32(acc[0], acc[j]);
      benchmark::DoNotOptimize(acc[0]);
    } else {
      __m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
      for (std::size_t i = offset; i < offset + slice; i += 64) {
        a0 = _mm512_add_ps(a0, _mm512_loadu_ps(buffer.data() + i));
        a1 = _mm512_add_ps(a1, _mm512_loadu_ps(buffer.data() + i + 16));
        a2 = _mm512_add_ps(a2, _mm512_loadu_ps(buffer.data() + i + 32));
        a3 = _mm512_add_ps(a3, _mm512_loadu_ps(buffer.data() + i + 48));
      }
      benchmark::DoNotOptimize(_mm512_add_ps(_mm512_add_ps(a0, a1), _mm512_add_ps(a2, a3)));
      offset = offset + 2 * slice > n ? 0 : offset + slice;
    }
    best = std::min(best, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  if (vnni)
    state.counters["min_GOP/s"] = 128.0 * 12 * 8192 / best * 1e-9;
  else
    state.counters["min_GB/s"] = static_cast<double>(slice * sizeof(float)) / best * 1e-9;
}

// Registered before main() runs, next to bench_gemm.cpp's own registrations.
[[maybe_unused]] const bool nonlinear_registered = [] {
  benchmark::RegisterBenchmark("BM_nonlinear_limit_memory_read_min/threads:1",
                               [](benchmark::State& st) { bm_nonlinear_limits(st, false); })
      ->Unit(benchmark::kMicrosecond)
      ->UseRealTime();
  benchmark::RegisterBenchmark("BM_nonlinear_limit_vnni_peak_min/threads:1",
                               [](benchmark::State& st) { bm_nonlinear_limits(st, true); })
      ->Unit(benchmark::kMicrosecond)
      ->UseRealTime();
  register_nonlinear<lowbit::ggml::iq4_nl>("IQ4_NL");
  register_nonlinear<lowbit::ggml::tq2_0>("TQ2_0");
  register_nonlinear<lowbit::ggml::mxfp4>("MXFP4");
  register_nonlinear<lowbit::ggml::iq4_xs>("IQ4_XS");
  register_nonlinear<lowbit::ggml::nvfp4>("NVFP4");
  register_nonlinear<lowbit::ggml::tq1_0>("TQ1_0");
  return true;
}();

}  // namespace
