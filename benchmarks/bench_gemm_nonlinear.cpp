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
#include <map>
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

namespace {

using nl_simd = lowbit::backend::simd<>;

struct nl_shape {
  std::size_t m, n, k;
};

// The shapes: decode (M = 1) of a 4096 x 4096 and a 11008 x 4096 (LLaMA-7B up/gate)
// layer, prefill of 128 and 512 tokens.
const nl_shape nl_shapes[] = {{1, 4096, 4096}, {128, 4096, 4096}, {512, 4096, 4096}, {1, 11008, 4096}};

constexpr std::size_t nl_cold_bytes = std::size_t{576} << 20;

std::vector<float> nl_random(std::size_t n, unsigned seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> dist(0.0f, 1.0f);
  std::vector<float> v(n);
  for (auto& x : v) x = dist(rng);
  return v;
}

// Quantized weights per (format, N, K), made once per process: every case of a shape reuses them
// (the encoders' searches are slower than the measurements).
template <class F>
const std::vector<typename F::block>& nl_weights(std::size_t n, std::size_t k) {
  static std::map<std::pair<std::size_t, std::size_t>, std::vector<typename F::block>> cache;
  auto it = cache.find({n, k});
  if (it == cache.end()) {
    const auto w = nl_random(n * k, 1);
    std::vector<typename F::block> blocks(n * k / F::block_size);
    lowbit::parallel_for(lowbit::threads{2}, blocks.size(), 64, [&](std::size_t b0, std::size_t b1) {
      for (std::size_t b = b0; b < b1; ++b) F::quantize_block(w.data() + b * F::block_size, blocks[b]);
    });
    it = cache.emplace(std::make_pair(n, k), std::move(blocks)).first;
  }
  return it->second;
}

template <class F>
void bm_gemm_nonlinear(benchmark::State& state, nl_shape s, int threads, bool cold) {
  using packed_t = lowbit::prepared_weight_t<nl_simd, F>;
  const auto& blocks = nl_weights<F>(s.n, s.k);
  const double weight_bytes = static_cast<double>(blocks.size() * sizeof(blocks[0]));
  const std::size_t copies =
      cold ? std::max<std::size_t>(2, nl_cold_bytes / static_cast<std::size_t>(weight_bytes) + 1) : 1;
  std::vector<packed_t> packed;
  packed.reserve(copies);
  packed.push_back(
      lowbit::prepare_weight<nl_simd>(lowbit::weight_view<F>{blocks.data(), s.n, s.k}, lowbit::threads{2}));
  for (std::size_t c = 1; c < copies; ++c) {  // each copy in its own storage
    packed_t p;
    p.rows = packed[0].rows;
    p.cols = packed[0].cols;
    p.bytes = lowbit::simd_detail::aligned_buffer(packed[0].bytes.size());
    std::memcpy(p.bytes.data(), packed[0].bytes.data(), p.bytes.size());
    packed.push_back(std::move(p));
  }
  const auto x = nl_random(s.m * s.k, 2);
  std::vector<float> y(s.m * s.n);
  lowbit::gemm_workspace ws;
  const lowbit::matrix_view<const float> xv(x.data(), s.m, s.k);
  const lowbit::matrix_view<float> yv(y.data(), s.m, s.n);
  lowbit::gemm<nl_simd>(xv, packed[0], yv, lowbit::threads{threads}, lowbit::epilogue::store{}, &ws);  // warm-up
  std::size_t c = 0;
  double best = 1e300;  // the fastest single call: robust to preemption on a shared machine
  for (auto _ : state) {
    const auto t0 = std::chrono::steady_clock::now();
    lowbit::gemm<nl_simd>(xv, packed[c], yv, lowbit::threads{threads}, lowbit::epilogue::store{}, &ws);
    benchmark::DoNotOptimize(y.data());
    best = std::min(best, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    c = c + 1 == copies ? 0 : c + 1;
  }
  state.counters["min_us"] = best * 1e6;
  state.counters["min_GFLOP/s"] = 2.0 * s.m * s.n * s.k / best * 1e-9;
  state.counters["min_weight_GB/s"] = weight_bytes / best * 1e-9;
  const double calls = static_cast<double>(state.iterations());
  state.counters["GFLOP/s"] = benchmark::Counter(2.0 * s.m * s.n * s.k * calls * 1e-9, benchmark::Counter::kIsRate);
  state.counters["weight_GB/s"] = benchmark::Counter(weight_bytes * calls * 1e-9, benchmark::Counter::kIsRate);
  state.SetLabel(std::string(xsimd::default_arch::name()) +
                 (lowbit::simd_detail::has_vnni_v<xsimd::default_arch> ? "+vnni" : ""));
}

template <class F>
void register_nonlinear(const char* name) {
  for (int threads : {1, 2}) {
    for (const auto& s : nl_shapes) {
      for (bool cold : {false, true}) {
        if (cold && s.m > 8) continue;
        const std::string bm = std::string("BM_gemm<") + name + ",simd>/" + std::to_string(s.m) + "/" +
                               std::to_string(s.n) + "/" + std::to_string(s.k) + "/threads:" + std::to_string(threads) +
                               (cold ? "/cold" : "/hot");
        benchmark::RegisterBenchmark(bm.c_str(),
                                     [=](benchmark::State& st) { bm_gemm_nonlinear<F>(st, s, threads, cold); })
            ->Unit(benchmark::kMicrosecond)
            ->UseRealTime();
      }
    }
  }
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
