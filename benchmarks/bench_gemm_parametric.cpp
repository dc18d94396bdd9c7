// SPDX-License-Identifier: Apache-2.0
// Copyright lowbit contributors
//
// GEMM / GEMV of the parametric formats on lowbit's SIMD backend (backend/simd/gemm_parametric.hpp):
// int8 per channel (INT8_PC), uint4 g32 with zero points (INT4_G32), NF4 g64 (NF4_G64) and FP8 E4M3
// per channel (FP8_E4M3_PC), on the decode and prefill shapes of a 7B layer; and three formats of
// the generic kernel (backend/simd/gemm_parametric_generic.hpp: uint3 g64 with zero points
// UINT3_G64, int5 per channel INT5_PC, FP6 E3M2 g32 FP6_E3M2_G32) at 1 and 128 x 4096 x 4096,
// what any other quant<...> costs. Linked into bench_gemm, whose BM_limit_* benchmarks measure the
// read bandwidth and the FMA/VNNI peaks in the same run.
// Names: BM_gemm<FORMAT,simd>/M/N/K/threads:T/(hot|cold); counters GFLOP/s (2·M·N·K per call) and
// weight_GB/s (packed bytes of W read per call); cold rotates > 512 MiB of weight copies.
// docs/benchmarks_parametric.md has the results and the oneDNN u8s8 comparison.
#include <benchmark/benchmark.h>

#include <cstring>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "bench_registration.hpp"
#include "lowbit/backend/simd.hpp"
#include "lowbit/gemm/quantized_gemm.hpp"

namespace {

using simd = lowbit::backend::simd<>;

struct parametric_shape {
  std::size_t m, n, k;
};

const parametric_shape parametric_shapes[] = {{1, 4096, 4096}, {128, 4096, 4096}, {512, 4096, 4096}, {1, 11008, 4096}};

constexpr std::size_t parametric_cold_bytes = (std::size_t{512} << 20) + (std::size_t{64} << 20);

// A W(N, K) of random codes and scales (the speed does not depend on the values; quantizing 45 M
// weights would dominate the setup). FP8 avoids the NaN codes, zero points are in the code range.
template <class Q>
lowbit::quantized_matrix<Q> random_weight(std::size_t n, std::size_t k) {
  lowbit::quantized_matrix<Q> w(n, k);
  std::mt19937 rng(1);
  for (auto& b : w.codes()) {
    b = static_cast<std::uint8_t>(rng());
    if constexpr (std::is_same_v<Q, lowbit::fp8_e4m3_per_channel>) {
      if ((b & 0x7f) == 0x7f) b = 0x7e;
    }
  }
  for (auto& s : w.scales()) s = Q::scale_type::encode_up(0.01 + 0.001 * static_cast<double>(rng() % 100));
  if constexpr (Q::has_zero_point) {
    using code = typename Q::code_type;
    for (auto& z : w.zero_points()) z = code::min_int + static_cast<int>(rng() % (code::max_int - code::min_int + 1));
  }
  return w;
}

template <class Q>
void bm_gemm_parametric(benchmark::State& state, parametric_shape s, int threads, bool cold) {
  using packed_t = lowbit::prepared_quantized_t<simd, Q>;
  const auto w = random_weight<Q>(s.n, s.k);
  std::vector<packed_t> packed;
  packed.push_back(lowbit::prepare_weight<simd>(w, lowbit::threads{2}));
  const double weight_bytes = static_cast<double>(packed[0].bytes.size());
  const std::size_t copies =
      cold ? std::max<std::size_t>(2, parametric_cold_bytes / static_cast<std::size_t>(weight_bytes) + 1) : 1;
  for (std::size_t c = 1; c < copies; ++c) packed.push_back(lowbit_bench::copy_packed(packed[0]));  // own storage
  std::mt19937 rng(2);
  std::normal_distribution<float> dist(0.0f, 1.0f);
  std::vector<float> x(s.m * s.k);
  for (auto& v : x) v = dist(rng);
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

template <class Q>
void register_parametric(const char* name, bool all_shapes = true) {
  for (int threads : {1, 2}) {
    for (const auto& s : parametric_shapes) {
      if (!all_shapes && s.n != s.k) continue;  // the generic formats: 1 and 128 x 4096 x 4096 only
      if (!all_shapes && s.m > 128) continue;
      for (bool cold : {false, true}) {
        if (cold && s.m > 8) continue;
        const std::string bm = std::string("BM_gemm<") + name + ",simd>/" + std::to_string(s.m) + "/" +
                               std::to_string(s.n) + "/" + std::to_string(s.k) + "/threads:" + std::to_string(threads) +
                               (cold ? "/cold" : "/hot");
        benchmark::RegisterBenchmark(bm.c_str(),
                                     [=](benchmark::State& st) { bm_gemm_parametric<Q>(st, s, threads, cold); })
            ->Unit(benchmark::kMicrosecond)
            ->UseRealTime();
      }
    }
  }
}

// Registered before main() runs, next to bench_gemm.cpp's own registrations.
[[maybe_unused]] const bool parametric_registered = [] {
  register_parametric<lowbit::int8_per_channel>("INT8_PC");
  register_parametric<lowbit::int4_g32_asym>("INT4_G32");
  register_parametric<lowbit::nf4_g64>("NF4_G64");
  register_parametric<lowbit::fp8_e4m3_per_channel>("FP8_E4M3_PC");
  // The generic kernel (every other quant<...>).
  register_parametric<
      lowbit::quant<lowbit::int_code<3, false>, lowbit::scale_f16, lowbit::per_group<64>, lowbit::asymmetric>>(
      "UINT3_G64", false);
  register_parametric<lowbit::quant<lowbit::int_code<5, true>, lowbit::scale_f32, lowbit::per_channel>>("INT5_PC",
                                                                                                        false);
  register_parametric<lowbit::quant<lowbit::fp6_e3m2, lowbit::scale_f16, lowbit::per_group<32>>>("FP6_E3M2_G32", false);
  return true;
}();

}  // namespace
