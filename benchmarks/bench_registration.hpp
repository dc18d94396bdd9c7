// SPDX-License-Identifier: Apache-2.0
// Copyright lowbit contributors
#pragma once

// What the GEMM benchmarks of bench_gemm (bench_gemm*.cpp) share: the case names that
// benchmarks/bench_gemm.sh pairs with the peers, `BM_gemm<FORMAT,simd>/M/N/K/threads:T/(hot|cold)`,
// registered for 1 and 2 threads over a list of shapes (cold only for M <= 8); the rotation of
// weight copies of a cold case; and the timed loop with its counters: GFLOP/s (2·M·N·K per call)
// and weight_GB/s (bytes of W read per call) from the mean time, optionally min_us, min_GFLOP/s
// and min_weight_GB/s from the fastest single call (to compare with `peer_ggml --stat min` on a
// shared, loaded machine).

#include <benchmark/benchmark.h>

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstring>
#include <random>
#include <span>
#include <string>
#include <vector>

#include "lowbit/backend/simd/aligned_buffer.hpp"
#include "lowbit/backend/simd/tag.hpp"
#include "lowbit/core/matrix_view.hpp"
#include "lowbit/core/parallel.hpp"
#include "lowbit/gemm/epilogue.hpp"
#include "lowbit/gemm/gemm.hpp"
#include "lowbit/gemm/workspace.hpp"

namespace lowbit_bench {

/// One GEMM problem: y(M, N) = x(M, K) · W(N, K)ᵀ.
struct gemm_shape {
  std::size_t m, n, k;
};

/// n values drawn from normal(0, 1) by std::mt19937(seed).
inline std::vector<float> random_floats(std::size_t n, unsigned seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> dist(0.0f, 1.0f);
  std::vector<float> v(n);
  for (auto& x : v) x = dist(rng);
  return v;
}

/// W(n, k) = random_floats(n * k, 1) quantized to the blocks of GGUF-style format F (F::quantize_block,
/// 2 threads), for the shape of the last call: the cases of a format run shape by shape
/// (register_gemm_cases), so each shape is quantized once rather than once per case.
template <class F>
const std::vector<typename F::block>& cached_random_blocks(std::size_t n, std::size_t k) {
  static std::size_t cached_n = 0, cached_k = 0;
  static std::vector<typename F::block> blocks;
  if (n != cached_n || k != cached_k) {
    const auto w = random_floats(n * k, 1);
    blocks.assign(n * k / F::block_size, typename F::block{});
    lowbit::parallel_for(lowbit::threads{2}, blocks.size(), 64, [&](std::size_t b0, std::size_t b1) {
      for (std::size_t b = b0; b < b1; ++b) F::quantize_block(w.data() + b * F::block_size, blocks[b]);
    });
    cached_n = n;
    cached_k = k;
  }
  return blocks;
}

/// How many weight copies a case rotates: 1 when hot; when cold, enough copies of `weight_bytes`
/// to exceed `cold_bytes` (at least 2), so that every call streams W from memory.
inline std::size_t weight_copies(double weight_bytes, bool cold, std::size_t cold_bytes) {
  return cold ? std::max<std::size_t>(2, cold_bytes / static_cast<std::size_t>(weight_bytes) + 1) : 1;
}

/// A copy of prepared weights in their own storage (the bytes copied: packing again is slow). Packed:
/// a panel layout with `bytes` (simd_detail::aligned_buffer) and either `rows`, `cols` (GGUF block
/// panels) or `n`, `k`, `panel_stride` (parametric panels; the generic ones also `group_size`,
/// `group_stride`, `table`).
template <class Packed>
Packed copy_packed(const Packed& from) {
  Packed p;
  if constexpr (requires { from.panel_stride; }) {
    p.n = from.n;
    p.k = from.k;
    p.panel_stride = from.panel_stride;
    if constexpr (requires { from.group_stride; }) {  // packed_generic_parametric
      p.group_size = from.group_size;
      p.group_stride = from.group_stride;
      p.table = from.table;
    }
  } else {
    p.rows = from.rows;
    p.cols = from.cols;
  }
  p.bytes = lowbit::simd_detail::aligned_buffer(from.bytes.size());
  std::memcpy(p.bytes.data(), from.bytes.data(), p.bytes.size());
  return p;
}

/// Options of time_gemm.
struct timing {
  bool min_counters = false;  ///< also report the fastest single call (min_us, min_GFLOP/s, min_weight_GB/s)
  bool bf16_label = false;    ///< the label names AVX512_BF16 where the build has it
};

/// The measured loop of a GEMM case on backend B: one warm-up call, then per iteration one
/// gemm<B>(x, packed[c], y) with x = random_floats(M * K, 2), the store epilogue and one reused
/// workspace, c rotating over the copies. Sets the counters (see the file comment) and the label
/// (the arch, "+vnni", optionally "+bf16").
template <class B, class Packed>
void time_gemm(benchmark::State& state, gemm_shape s, int threads, const std::vector<Packed>& packed,
               double weight_bytes, timing options = {}) {
  using arch = typename B::arch_type;
  const auto x = random_floats(s.m * s.k, 2);
  std::vector<float> y(s.m * s.n);
  lowbit::gemm_workspace ws;
  const lowbit::matrix_view<const float> xv(x.data(), s.m, s.k);
  const lowbit::matrix_view<float> yv(y.data(), s.m, s.n);
  lowbit::gemm<B>(xv, packed[0], yv, lowbit::threads{threads}, lowbit::epilogue::store{}, &ws);  // warm-up
  std::size_t c = 0;
  double best = 1e300;  // the fastest single call: robust to preemption on a shared machine
  for (auto _ : state) {
    if (options.min_counters) {
      const auto t0 = std::chrono::steady_clock::now();
      lowbit::gemm<B>(xv, packed[c], yv, lowbit::threads{threads}, lowbit::epilogue::store{}, &ws);
      benchmark::DoNotOptimize(y.data());
      best = std::min(best, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    } else {
      lowbit::gemm<B>(xv, packed[c], yv, lowbit::threads{threads}, lowbit::epilogue::store{}, &ws);
      benchmark::DoNotOptimize(y.data());
    }
    c = c + 1 == packed.size() ? 0 : c + 1;
  }
  const double flops = 2.0 * s.m * s.n * s.k;
  if (options.min_counters) {
    state.counters["min_us"] = best * 1e6;
    state.counters["min_GFLOP/s"] = flops / best * 1e-9;
    state.counters["min_weight_GB/s"] = weight_bytes / best * 1e-9;
  }
  const double calls = static_cast<double>(state.iterations());
  state.counters["GFLOP/s"] = benchmark::Counter(flops * calls * 1e-9, benchmark::Counter::kIsRate);
  state.counters["weight_GB/s"] = benchmark::Counter(weight_bytes * calls * 1e-9, benchmark::Counter::kIsRate);
  state.SetLabel(std::string(arch::name()) + (lowbit::simd_detail::has_vnni_v<arch> ? "+vnni" : "") +
                 (options.bf16_label && lowbit::simd_detail::has_avx512bf16_v<arch> ? "+bf16" : ""));
}

/// `BM_gemm<name,simd>/M/N/K/threads:T/hot` (or `/cold`).
inline std::string gemm_case_name(const char* name, gemm_shape s, int threads, bool cold) {
  return std::string("BM_gemm<") + name + ",simd>/" + std::to_string(s.m) + "/" + std::to_string(s.n) + "/" +
         std::to_string(s.k) + "/threads:" + std::to_string(threads) + (cold ? "/cold" : "/hot");
}

/// Registers the cases of format `name` (gemm_case_name, microseconds, real time): every shape,
/// threads 1 and 2, hot, and cold where M <= 8; each runs `run(state, shape, threads, cold)`. The
/// cases of one shape are registered (and run) together, so a case may reuse its predecessor's W.
template <class Run>
void register_gemm_cases(const char* name, std::span<const gemm_shape> shapes, Run run) {
  for (const auto& s : shapes) {
    for (int threads : {1, 2}) {
      for (bool cold : {false, true}) {
        if (cold && s.m > 8) continue;
        benchmark::RegisterBenchmark(gemm_case_name(name, s, threads, cold).c_str(),
                                     [=](benchmark::State& st) { run(st, s, threads, cold); })
            ->Unit(benchmark::kMicrosecond)
            ->UseRealTime();
      }
    }
  }
}

}  // namespace lowbit_bench
