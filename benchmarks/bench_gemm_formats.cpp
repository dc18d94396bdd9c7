// SPDX-License-Identifier: Apache-2.0
// Copyright lowbit contributors
//
// GEMM / GEMV of the SIMD kernels of Q5_0, Q5_1 and the K-quants (Q4_K, Q6_K, Q5_K, Q2_K, Q3_K),
// linked into bench_gemm (which measures the machine's limits in the same run). Names and
// counters follow bench_gemm.cpp, so benchmarks/bench_gemm.sh pairs them with peer_ggml:
// `BM_gemm<FORMAT,simd>/M/N/K/threads:T/(hot|cold)`; GFLOP/s counts 2·M·N·K per call, weight_GB/s
// the bytes of the packed weights (the file's size) per call. Cold: a rotation of weight copies
// larger than 512 MiB, so each GEMV streams its weights from DRAM.
#include <benchmark/benchmark.h>

#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "lowbit/backend/simd.hpp"
#include "lowbit/formats/ggml/q2_k.hpp"
#include "lowbit/formats/ggml/q3_k.hpp"
#include "lowbit/formats/ggml/q4_k.hpp"
#include "lowbit/formats/ggml/q5_0.hpp"
#include "lowbit/formats/ggml/q5_k.hpp"
#include "lowbit/formats/ggml/q6_k.hpp"
#include "peer_common.hpp"

namespace {

using simd = lowbit::backend::simd<>;

struct formats_shape {
  std::size_t m, n, k;
};

// The decode and prefill shapes (a subset of peer::default_shapes whose K is a multiple of 256).
const formats_shape formats_shapes[] = {
    {1, 4096, 4096}, {8, 4096, 4096}, {128, 4096, 4096}, {512, 4096, 4096}, {1, 11008, 4096}};

constexpr std::size_t formats_cold_bytes = peer::cold_bytes + (std::size_t{64} << 20);

std::vector<float> formats_random(std::size_t n, unsigned seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> dist(0.0f, 1.0f);
  std::vector<float> v(n);
  for (auto& x : v) x = dist(rng);
  return v;
}

template <class F>
void bm_gemm_format(benchmark::State& state, formats_shape s, int threads, bool cold) {
  using packed_t = lowbit::prepared_weight_t<simd, F>;
  const auto w = formats_random(s.n * s.k, 1);
  std::vector<typename F::block> blocks(s.n * s.k / F::block_size);
  for (std::size_t b = 0; b < blocks.size(); ++b) F::quantize_block(w.data() + b * F::block_size, blocks[b]);
  const double weight_bytes = static_cast<double>(blocks.size() * sizeof(blocks[0]));
  const std::size_t copies =
      cold ? std::max<std::size_t>(2, formats_cold_bytes / static_cast<std::size_t>(weight_bytes) + 1) : 1;
  std::vector<packed_t> packed;
  packed.reserve(copies);
  packed.push_back(lowbit::prepare_weight<simd>(lowbit::weight_view<F>{blocks.data(), s.n, s.k}, lowbit::threads{2}));
  for (std::size_t c = 1; c < copies; ++c) {  // each copy in its own storage, bytes copied (packing is slow)
    packed_t p;
    p.rows = packed[0].rows;
    p.cols = packed[0].cols;
    p.bytes = lowbit::simd_detail::aligned_buffer(packed[0].bytes.size());
    std::memcpy(p.bytes.data(), packed[0].bytes.data(), p.bytes.size());
    packed.push_back(std::move(p));
  }
  const auto x = formats_random(s.m * s.k, 2);
  std::vector<float> y(s.m * s.n);
  lowbit::gemm_workspace ws;
  const lowbit::matrix_view<const float> xv(x.data(), s.m, s.k);
  const lowbit::matrix_view<float> yv(y.data(), s.m, s.n);
  lowbit::gemm<simd>(xv, packed[0], yv, lowbit::threads{threads}, lowbit::epilogue::store{}, &ws);  // warm-up
  std::size_t c = 0;
  for (auto _ : state) {
    lowbit::gemm<simd>(xv, packed[c], yv, lowbit::threads{threads}, lowbit::epilogue::store{}, &ws);
    benchmark::DoNotOptimize(y.data());
    c = c + 1 == copies ? 0 : c + 1;
  }
  const double calls = static_cast<double>(state.iterations());
  state.counters["GFLOP/s"] = benchmark::Counter(2.0 * s.m * s.n * s.k * calls * 1e-9, benchmark::Counter::kIsRate);
  state.counters["weight_GB/s"] = benchmark::Counter(weight_bytes * calls * 1e-9, benchmark::Counter::kIsRate);
  state.SetLabel(std::string(xsimd::default_arch::name()) +
                 (lowbit::simd_detail::has_vnni_v<xsimd::default_arch> ? "+vnni" : ""));
}

template <class F>
void register_gemm_format(const char* name) {
  for (int threads : {1, 2}) {
    for (const auto& s : formats_shapes) {
      for (bool cold : {false, true}) {
        if (cold && s.m > 8) continue;
        const std::string bm = std::string("BM_gemm<") + name + ",simd>/" + std::to_string(s.m) + "/" +
                               std::to_string(s.n) + "/" + std::to_string(s.k) + "/threads:" + std::to_string(threads) +
                               (cold ? "/cold" : "/hot");
        benchmark::RegisterBenchmark(bm.c_str(), [=](benchmark::State& st) { bm_gemm_format<F>(st, s, threads, cold); })
            ->Unit(benchmark::kMicrosecond)
            ->UseRealTime();
      }
    }
  }
}

// Registered before main() runs, next to bench_gemm.cpp's own registrations.
[[maybe_unused]] const bool formats_registered = [] {
  register_gemm_format<lowbit::ggml::q5_0>("Q5_0");
  register_gemm_format<lowbit::ggml::q5_1>("Q5_1");
  register_gemm_format<lowbit::ggml::q4_k>("Q4_K");
  register_gemm_format<lowbit::ggml::q6_k>("Q6_K");
  register_gemm_format<lowbit::ggml::q5_k>("Q5_K");
  register_gemm_format<lowbit::ggml::q2_k>("Q2_K");
  register_gemm_format<lowbit::ggml::q3_k>("Q3_K");
  return true;
}();

}  // namespace
