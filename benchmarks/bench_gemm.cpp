// SPDX-License-Identifier: Apache-2.0
// Copyright lowbit contributors
//
// GEMM / GEMV of lowbit's SIMD backend on the shapes of issue 5 and SmolLM2's layers, with the
// machine's limits measured in the same run: memory read bandwidth (vectorized, multi-threaded,
// over a buffer far larger than the caches), and the register-only peaks of AVX-512 FMA, VNNI
// (vpdpbusd) and, where the CPU has AVX512_BF16, the bf16 dot product (vdpbf16ps).
// Google Benchmark; counters: GFLOP/s (2·M·N·K per call, integer ops for quantized formats),
// weight GB/s (bytes of W read per call). benchmarks/bench_gemm.sh adds the peers and the ratios.
#include <benchmark/benchmark.h>
#include <immintrin.h>

#include <algorithm>
#include <cstdio>
#include <random>
#include <span>
#include <string>
#include <vector>

#include "bench_registration.hpp"
#include "lowbit/backend/simd.hpp"
#include "lowbit/formats/float.hpp"
#include "lowbit/formats/ggml/q4_0.hpp"
#include "lowbit/formats/ggml/q4_1.hpp"
#include "lowbit/formats/ggml/q8_0.hpp"
#include "peer_common.hpp"

namespace {

using simd = lowbit::backend::simd<>;

using lowbit_bench::gemm_shape;
using lowbit_bench::random_floats;

// The peers' shapes (peer_common.hpp), so that bench_gemm.sh can pair every measurement.
std::vector<gemm_shape> all_shapes() {
  std::vector<gemm_shape> out;
  for (const auto& s : peer::default_shapes) {
    const auto p = peer::parse_shape(s);
    out.push_back({static_cast<std::size_t>(p.M), static_cast<std::size_t>(p.N), static_cast<std::size_t>(p.K)});
  }
  return out;
}

constexpr std::size_t cold_bytes = peer::cold_bytes + (std::size_t{64} << 20);  // > 512 MiB of weight copies

template <class F>
void bm_gemm(benchmark::State& state, gemm_shape s, int threads, bool cold) {
  const auto& blocks = lowbit_bench::cached_random_blocks<F>(s.n, s.k);
  const double weight_bytes = static_cast<double>(blocks.size() * sizeof(blocks[0]));
  const std::size_t copies = lowbit_bench::weight_copies(weight_bytes, cold, cold_bytes);
  // Every format is repacked at prepare: each packed copy has its own storage.
  std::vector<lowbit::prepared_weight_t<simd, F>> packed;
  packed.reserve(copies);
  for (std::size_t c = 0; c < copies; ++c) {
    packed.push_back(lowbit::prepare_weight<simd>(lowbit::weight_view<F>{blocks.data(), s.n, s.k}, lowbit::threads{2}));
  }
  lowbit_bench::time_gemm<simd>(state, s, threads, packed, weight_bytes, {.bf16_label = true});
}

// Memory read bandwidth: each thread sums its part of a 1 GiB buffer with 512-bit loads and four
// independent accumulators (a naive scalar loop understates the bandwidth). The buffer is an
// aligned_buffer like the packed weights, so it gets the same (transparent huge) pages.
void bm_memory_read(benchmark::State& state, int threads) {
  const std::size_t n = (std::size_t{1} << 30) / sizeof(float);
  lowbit::simd_detail::aligned_buffer storage(n * sizeof(float));
  const std::span<float> buffer(reinterpret_cast<float*>(storage.data()), n);
  std::fill(buffer.begin(), buffer.end(), 1.0f);
  for (auto _ : state) {
    float totals[8] = {};
    lowbit::parallel_for(lowbit::threads{threads}, n, 4096, [&](std::size_t begin, std::size_t end) {
      __m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
      for (std::size_t i = begin; i + 64 <= end; i += 64) {
        a0 = _mm512_add_ps(a0, _mm512_loadu_ps(buffer.data() + i));
        a1 = _mm512_add_ps(a1, _mm512_loadu_ps(buffer.data() + i + 16));
        a2 = _mm512_add_ps(a2, _mm512_loadu_ps(buffer.data() + i + 32));
        a3 = _mm512_add_ps(a3, _mm512_loadu_ps(buffer.data() + i + 48));
      }
      totals[begin * 8 / n] = _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(a0, a1), _mm512_add_ps(a2, a3)));
    });
    benchmark::DoNotOptimize(totals);
  }
  state.counters["GB/s"] = benchmark::Counter(static_cast<double>(n * sizeof(float)) * state.iterations() * 1e-9,
                                              benchmark::Counter::kIsRate);
}

enum class peak { fma, vnni, bf16 };

// Register-only peaks: 12 independent accumulators per thread, no memory traffic.
template <peak Kind>
void bm_peak(benchmark::State& state, int threads) {
  constexpr long iterations = 1 << 22;
  for (auto _ : state) {
    lowbit::parallel_for(lowbit::threads{threads}, static_cast<std::size_t>(threads), 1, [&](std::size_t, std::size_t) {
      if constexpr (Kind == peak::bf16) {
#if defined(__AVX512BF16__)
        __m512 acc[12];
        const __m512bh a = _mm512_cvtne2ps_pbh(_mm512_set1_ps(1.0f), _mm512_set1_ps(0.5f));
        const __m512bh b = _mm512_cvtne2ps_pbh(_mm512_set1_ps(0.25f), _mm512_set1_ps(-0.25f));
        for (auto& r : acc) r = _mm512_setzero_ps();
        for (long i = 0; i < iterations; ++i) {
          for (auto& r : acc) r = _mm512_dpbf16_ps(r, a, b);
        }
        __m512 sum = acc[0];
        for (int j = 1; j < 12; ++j) sum = _mm512_add_ps(sum, acc[j]);
        benchmark::DoNotOptimize(sum);
#endif
      } else if constexpr (Kind == peak::vnni) {
        __m512i acc[12];
        const __m512i a = _mm512_set1_epi8(3), b = _mm512_set1_epi8(5);
        for (auto& r : acc) r = _mm512_setzero_si512();
        for (long i = 0; i < iterations; ++i) {
          for (auto& r : acc) r = _mm512_dpbusd_epi32(r, a, b);
        }
        __m512i sum = acc[0];
        for (int j = 1; j < 12; ++j) sum = _mm512_add_epi32(sum, acc[j]);
        benchmark::DoNotOptimize(sum);
      } else {
        __m512 acc[12];
        const __m512 a = _mm512_set1_ps(1.0001f), b = _mm512_set1_ps(0.9999f);
        for (auto& r : acc) r = _mm512_setzero_ps();
        for (long i = 0; i < iterations; ++i) {
          for (auto& r : acc) r = _mm512_fmadd_ps(r, a, b);
        }
        __m512 sum = acc[0];
        for (int j = 1; j < 12; ++j) sum = _mm512_add_ps(sum, acc[j]);
        benchmark::DoNotOptimize(sum);
      }
    });
  }
  // vpdpbusd: 64 multiply-adds = 128 integer ops; vdpbf16ps: 32 multiply-adds = 64 flops;
  // vfmadd 512-bit: 16 FMAs = 32 flops.
  const double ops_per_instruction = Kind == peak::vnni ? 128.0 : Kind == peak::bf16 ? 64.0 : 32.0;
  state.counters["GOP/s"] = benchmark::Counter(
      ops_per_instruction * 12.0 * iterations * threads * state.iterations() * 1e-9, benchmark::Counter::kIsRate);
}

template <class F>
void register_format(const char* name) {
  const auto shapes = all_shapes();
  lowbit_bench::register_gemm_cases(name, shapes, bm_gemm<F>);
}

}  // namespace

int main(int argc, char** argv) {
  for (int threads : {1, 2}) {
    const std::string t = "/threads:" + std::to_string(threads);
    benchmark::RegisterBenchmark(("BM_limit_memory_read" + t).c_str(),
                                 [=](benchmark::State& s) { bm_memory_read(s, threads); })
        ->Unit(benchmark::kMillisecond)
        ->UseRealTime();
    benchmark::RegisterBenchmark(("BM_limit_fma_peak" + t).c_str(),
                                 [=](benchmark::State& s) { bm_peak<peak::fma>(s, threads); })
        ->Unit(benchmark::kMillisecond)
        ->UseRealTime();
    benchmark::RegisterBenchmark(("BM_limit_vnni_peak" + t).c_str(),
                                 [=](benchmark::State& s) { bm_peak<peak::vnni>(s, threads); })
        ->Unit(benchmark::kMillisecond)
        ->UseRealTime();
#if defined(__AVX512BF16__)
    benchmark::RegisterBenchmark(("BM_limit_bf16_peak" + t).c_str(),
                                 [=](benchmark::State& s) { bm_peak<peak::bf16>(s, threads); })
        ->Unit(benchmark::kMillisecond)
        ->UseRealTime();
#endif
  }
  register_format<lowbit::ggml::q4_0>("Q4_0");
  register_format<lowbit::ggml::q4_1>("Q4_1");
  register_format<lowbit::ggml::q8_0>("Q8_0");
  register_format<lowbit::f32>("F32");
  register_format<lowbit::bf16>("BF16");
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
