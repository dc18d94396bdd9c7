// SPDX-License-Identifier: Apache-2.0
// Copyright lowbit contributors
//
// 2:4 sparse against dense GEMV/GEMM of the same value format (Q8_0), side by side in one run:
// `BM_gemm<q8_0_2:4,simd>/M/N/K/threads:T` and `BM_gemm<q8_0,simd>/M/N/K/threads:T` for GEMV
// 1x4096x4096 (cold weights: 4 rotated copies, more than the L3) and GEMM 128x4096x4096 (hot), 1 and
// 2 threads; after the table, the dense / sparse time ratio of each pair. Counters: GFLOP/s
// (2·M·N·K, the dense count for both, so the figures compare) and weight_GB/s (bytes of W read).
// Built with -DLOWBIT_BUILD_BENCHMARKS=ON (target bench_nm_sparse), or by hand:
//   g++ -std=c++20 -O3 -march=native -fopenmp -Iinclude benchmarks/bench_nm_sparse.cpp -lbenchmark -lpthread

#include <benchmark/benchmark.h>

#include <cstdio>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "lowbit/backend/simd/gemm_nm_sparse.hpp"
#include "lowbit/backend/simd/gemm_q8_0.hpp"
#include "lowbit/backend/simd/tag.hpp"
#include "lowbit/formats/ggml/q8_0.hpp"
#include "lowbit/gemm/gemm.hpp"
#include "lowbit/gemm/workspace.hpp"
#include "lowbit/prune/mask.hpp"
#include "lowbit/prune/nm.hpp"
#include "lowbit/prune/nm_sparse.hpp"

namespace {

using simd = lowbit::backend::simd<>;
using sparse_q8 = lowbit::prune::nm_sparse_matrix<lowbit::prune::nm_q8_0, lowbit::prune::nm_sparse<2, 4>>;

/// W(n, k), normal(0, 1), pruned to 2:4 by magnitude (once per shape).
const std::vector<float>& pruned_weight(std::size_t n, std::size_t k) {
  static std::map<std::pair<std::size_t, std::size_t>, std::vector<float>> cache;
  auto& w = cache[{n, k}];
  if (w.empty()) {
    std::mt19937 rng(1);
    std::normal_distribution<float> dist(0.0f, 1.0f);
    w.resize(n * k);
    for (auto& v : w) v = dist(rng);
    const lowbit::matrix_view<float> view(w.data(), n, k);
    lowbit::prune::apply_mask(view, lowbit::prune::magnitude_nm_mask(view, {.n = 2, .m = 4}));
  }
  return w;
}

std::vector<float> activations(std::size_t m, std::size_t k) {
  std::mt19937 rng(2);
  std::normal_distribution<float> dist(0.0f, 1.0f);
  std::vector<float> x(m * k);
  for (auto& v : x) v = dist(rng);
  return x;
}

void set_counters(benchmark::State& state, std::size_t m, std::size_t n, std::size_t k, double weight_bytes) {
  const double calls = static_cast<double>(state.iterations());
  state.counters["GFLOP/s"] = benchmark::Counter(2.0 * m * n * k * calls * 1e-9, benchmark::Counter::kIsRate);
  state.counters["weight_GB/s"] = benchmark::Counter(weight_bytes * calls * 1e-9, benchmark::Counter::kIsRate);
  state.SetLabel(xsimd::default_arch::name());
}

void bm_sparse(benchmark::State& state, std::size_t m, std::size_t n, std::size_t k, int threads, std::size_t copies) {
  const auto& w = pruned_weight(n, k);
  std::vector<sparse_q8> packed;
  for (std::size_t c = 0; c < copies; ++c)
    packed.push_back(sparse_q8::pack(lowbit::matrix_view<const float>(w.data(), n, k)));
  const auto x = activations(m, k);
  std::vector<float> y(m * n);
  const lowbit::matrix_view<const float> xv(x.data(), m, k);
  const lowbit::matrix_view<float> yv(y.data(), m, n);
  lowbit::prune::gemm_nm_simd<simd::arch_type>(xv, packed[0], yv, lowbit::threads{threads});  // warm-up
  std::size_t c = 0;
  for (auto _ : state) {
    lowbit::prune::gemm_nm_simd<simd::arch_type>(xv, packed[c], yv, lowbit::threads{threads});
    benchmark::DoNotOptimize(y.data());
    c = (c + 1) % copies;
  }
  set_counters(state, m, n, k, static_cast<double>(packed[0].bytes()));
}

void bm_dense(benchmark::State& state, std::size_t m, std::size_t n, std::size_t k, int threads, std::size_t copies) {
  const auto& w = pruned_weight(n, k);
  std::vector<lowbit::ggml::q8_0::block> blocks(n * k / 32);
  lowbit::ggml::q8_0::quantize_row(w.data(), nullptr, n * k, blocks.data());
  const lowbit::weight_view<lowbit::ggml::q8_0> view{blocks.data(), n, k};
  std::vector<lowbit::prepared_weight_t<simd, lowbit::ggml::q8_0>> packed;
  for (std::size_t i = 0; i < copies; ++i) packed.push_back(lowbit::prepare_weight<simd>(view, lowbit::threads{2}));
  const auto x = activations(m, k);
  std::vector<float> y(m * n);
  const lowbit::matrix_view<const float> xv(x.data(), m, k);
  const lowbit::matrix_view<float> yv(y.data(), m, n);
  lowbit::gemm_workspace ws;
  lowbit::gemm<simd>(xv, packed[0], yv, lowbit::threads{threads}, lowbit::epilogue::store{}, &ws);  // warm-up
  std::size_t c = 0;
  for (auto _ : state) {
    lowbit::gemm<simd>(xv, packed[c], yv, lowbit::threads{threads}, lowbit::epilogue::store{}, &ws);
    benchmark::DoNotOptimize(y.data());
    c = (c + 1) % copies;
  }
  set_counters(state, m, n, k, static_cast<double>(n * k / 32 * lowbit::ggml::q8_0::block_bytes));
}

std::string case_name(const char* format, std::size_t m, std::size_t n, std::size_t k, int threads) {
  return std::string("BM_gemm<") + format + ",simd>/" + std::to_string(m) + "/" + std::to_string(n) + "/" +
         std::to_string(k) + "/threads:" + std::to_string(threads);
}

/// Console output plus the mean real time of every case, for the ratios.
class ratio_reporter : public benchmark::ConsoleReporter {
 public:
  std::map<std::string, double> seconds;
  void ReportRuns(const std::vector<Run>& runs) override {
    for (const auto& r : runs)
      if (r.run_type == Run::RT_Iteration) seconds[r.benchmark_name()] = r.GetAdjustedRealTime();
    ConsoleReporter::ReportRuns(runs);
  }
};

}  // namespace

int main(int argc, char** argv) {
  struct shape {
    std::size_t m, n, k, copies;
  };
  const shape shapes[] = {{1, 4096, 4096, 4}, {128, 4096, 4096, 1}};
  std::vector<std::pair<std::string, std::string>> pairs;
  for (const auto& s : shapes) {
    for (int t : {1, 2}) {
      const auto sparse = case_name("q8_0_2:4", s.m, s.n, s.k, t);
      const auto dense = case_name("q8_0", s.m, s.n, s.k, t);
      benchmark::RegisterBenchmark(dense.c_str(),
                                   [=](benchmark::State& st) { bm_dense(st, s.m, s.n, s.k, t, s.copies); })
          ->Unit(benchmark::kMillisecond)
          ->UseRealTime();
      benchmark::RegisterBenchmark(sparse.c_str(),
                                   [=](benchmark::State& st) { bm_sparse(st, s.m, s.n, s.k, t, s.copies); })
          ->Unit(benchmark::kMillisecond)
          ->UseRealTime();
      pairs.emplace_back(dense, sparse);
    }
  }
  benchmark::Initialize(&argc, argv);
  ratio_reporter reporter;
  benchmark::RunSpecifiedBenchmarks(&reporter);
  std::printf("\ndense / sparse time (> 1: 2:4 faster); indicative only on a shared machine\n");
  for (const auto& [dense, sparse] : pairs) {
    const auto d = reporter.seconds.find(dense + "/real_time"), s = reporter.seconds.find(sparse + "/real_time");
    if (d != reporter.seconds.end() && s != reporter.seconds.end())
      std::printf("%-45s %.2fx\n", sparse.c_str(), d->second / s->second);
  }
  benchmark::Shutdown();
  return 0;
}
