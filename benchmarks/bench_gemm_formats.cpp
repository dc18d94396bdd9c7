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

#include <vector>

#include "bench_registration.hpp"
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

// The decode and prefill shapes (a subset of peer::default_shapes whose K is a multiple of 256).
const lowbit_bench::gemm_shape formats_shapes[] = {
    {1, 4096, 4096}, {8, 4096, 4096}, {128, 4096, 4096}, {512, 4096, 4096}, {1, 11008, 4096}};

constexpr std::size_t formats_cold_bytes = peer::cold_bytes + (std::size_t{64} << 20);

template <class F>
void bm_gemm_format(benchmark::State& state, lowbit_bench::gemm_shape s, int threads, bool cold) {
  const auto& blocks = lowbit_bench::cached_random_blocks<F>(s.n, s.k);
  const double weight_bytes = static_cast<double>(blocks.size() * sizeof(blocks[0]));
  const std::size_t copies = lowbit_bench::weight_copies(weight_bytes, cold, formats_cold_bytes);
  std::vector<lowbit::prepared_weight_t<simd, F>> packed;
  packed.reserve(copies);
  packed.push_back(lowbit::prepare_weight<simd>(lowbit::weight_view<F>{blocks.data(), s.n, s.k}, lowbit::threads{2}));
  for (std::size_t c = 1; c < copies; ++c) packed.push_back(lowbit_bench::copy_packed(packed[0]));
  lowbit_bench::time_gemm<simd>(state, s, threads, packed, weight_bytes);
}

template <class F>
void register_gemm_format(const char* name) {
  lowbit_bench::register_gemm_cases(name, formats_shapes, bm_gemm_format<F>);
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
