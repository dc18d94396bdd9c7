// SPDX-License-Identifier: Apache-2.0
// Copyright lowbit contributors
// Run-time dispatch: this program is built for the baseline (x86-64, Armv8.0-A); it loads each ISA module of
// gemm_module.cpp that the CPU executes and compares its GEMM with the reference backend on odd
// shapes. Levels the CPU lacks are reported as skipped: the program exits with 77 and ctest prints
// "Skipped" (SKIP_RETURN_CODE), never "Passed" (LOWBIT_TEST_HIDE_ISA=avx2 shows it on a CPU that has it).

#include <cmath>
#include <cstddef>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "catch.hpp"
#include "lowbit/backend/dispatch/isa.hpp"
#include "lowbit/backend/dispatch/isa_module.hpp"
#include "lowbit/formats/ggml/q4_1.hpp"
#include "lowbit/formats/ggml/q8_0.hpp"
#include "lowbit/gemm/reference.hpp"
#include "lowbit/quant/dequantize.hpp"
#include "skip.hpp"

namespace {

using gemm_entry = int(const float*, std::size_t, const void*, std::size_t, std::size_t, float*, int, char*,
                       std::size_t);

std::vector<float> random_floats(std::size_t n, unsigned seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> dist(0.0f, 1.0f);
  std::vector<float> v(n);
  for (auto& x : v) x = dist(rng);
  return v;
}

template <class F>
std::vector<typename F::block> quantized_weights(std::size_t n, std::size_t k, unsigned seed) {
  const auto w = random_floats(n * k, seed);
  std::vector<typename F::block> blocks(n * k / F::block_size);
  for (std::size_t b = 0; b < blocks.size(); ++b) F::quantize_block(w.data() + b * F::block_size, blocks[b]);
  return blocks;
}

// Runs the module's entry for F and the reference backend on one shape and compares them. The
// module quantizes activations to 8 bits per block of 32 (as llama.cpp); the tolerance is the
// worst case of that rounding: per block, half a step of x times sum |w|.
template <class F>
void compare_with_reference(gemm_entry* entry, std::size_t m, std::size_t n, std::size_t k, int threads) {
  INFO(F::name << " M=" << m << " N=" << n << " K=" << k << " threads=" << threads);
  const auto x = random_floats(m * k, 7 + static_cast<unsigned>(m * 31 + n * 7 + k));
  const auto w_blocks = quantized_weights<F>(n, k, 11 + static_cast<unsigned>(n + k));
  const lowbit::weight_view<F> w{.blocks = w_blocks.data(), .rows = n, .cols = k};

  std::vector<float> want(m * n);
  lowbit::gemm<lowbit::backend::reference>(lowbit::matrix_view<const float>(x.data(), m, k), w,
                                           lowbit::matrix_view<float>(want.data(), m, n));
  std::vector<float> got(m * n, -1.0f);
  char message[512] = {};
  REQUIRE(entry(x.data(), m, w_blocks.data(), n, k, got.data(), threads, message, sizeof message) == 0);

  std::vector<float> w_row(k);
  for (std::size_t j = 0; j < n; ++j) {
    lowbit::dequantize_row(w, j, w_row);
    for (std::size_t i = 0; i < m; ++i) {
      double bound = 1e-5;
      for (std::size_t b = 0; b < k / 32; ++b) {
        float amax = 0.0f;
        double wsum = 0.0;
        for (std::size_t t = 0; t < 32; ++t) {
          amax = std::max(amax, std::fabs(x[i * k + b * 32 + t]));
          wsum += std::fabs(w_row[b * 32 + t]);
        }
        bound += 0.5 * amax / 127.0 * wsum * 1.01 + 1e-6 * wsum * amax;
      }
      INFO("y(" << i << ", " << j << ")");
      CHECK(std::fabs(got[i * n + j] - want[i * n + j]) <= bound);
    }
  }
}

}  // namespace

TEST_CASE("dispatch: best_isa picks the most capable level the CPU executes", "[dispatch]") {
  using lowbit::isa;
  const auto f = lowbit::cpu_features::detect();
  INFO("cpu: " << f.to_string());
  const std::initializer_list<isa> every = {isa::baseline,    isa::avx2,         isa::avx2_vnni,
                                            isa::avx512_vnni, isa::neon_dotprod, isa::neon_i8mm};
  isa best = isa::baseline;
  for (isa level : lowbit::all_isas) {
    if (lowbit::isa_supported(level, f)) {
      best = level;
      break;
    }
  }
  CHECK(lowbit::best_isa(every, f) == best);
  CHECK(lowbit::best_isa({isa::baseline}, f) == isa::baseline);  // every CPU runs the baseline
  const lowbit::cpu_features none{};
  CHECK(lowbit::best_isa(every, none) == isa::baseline);
#if defined(__x86_64__)
  CHECK_FALSE(lowbit::isa_supported(isa::neon_dotprod, f));  // another architecture's level
  CHECK_THROWS_AS(lowbit::best_isa({isa::avx2, isa::avx512_vnni}, none), lowbit::error);
#elif defined(__aarch64__)
  CHECK_FALSE(lowbit::isa_supported(isa::avx2, f));
  CHECK_THROWS_AS(lowbit::best_isa({isa::neon_dotprod, isa::neon_i8mm}, none), lowbit::error);
#endif
  CHECK(lowbit::isa_from_string("avx512_vnni") == isa::avx512_vnni);
  CHECK(lowbit::isa_from_string("avx2_vnni") == isa::avx2_vnni);
  for (isa level : every) CHECK(lowbit::isa_from_string(lowbit::to_string(level)) == level);
  CHECK(lowbit::isa_from_string("neon_i8mm") == isa::neon_i8mm);
  CHECK_FALSE(lowbit::isa_from_string("sse9").has_value());
}

TEST_CASE("dispatch: every module this CPU executes equals the reference backend", "[dispatch][gemm]") {
  const auto f = lowbit::cpu_features::detect();
  int ran = 0;
  for (lowbit::isa level : lowbit::all_isas) {
    const std::string name(lowbit::to_string(level));
    if (!lowbit::isa_supported(level, f) || lowbit_test::isa_hidden(name)) {
      lowbit_test::skip(name + ": this CPU (" + f.to_string() + ") cannot execute it");  // ctest: Skipped
      continue;
    }
    const auto module = lowbit::isa_module::open(LOWBIT_DISPATCH_MODULE_DIR, "lowbit_dispatch_gemm", level);
    const std::string arch = module.entry<const char*()>("lowbit_test_module_arch")();
    INFO("module " << name << " runs " << arch);
    CHECK(arch.rfind(name + "/", 0) == 0);
    // The ISA layer struct the module's kernels use (include/lowbit/backend/simd/isa/).
    const char* expected = "";
    switch (level) {
      case lowbit::isa::baseline:
#if defined(__aarch64__)
        expected = "neon";
#else
        expected = "generic";
#endif
        break;
      case lowbit::isa::avx2:
        expected = "avx2";
        break;
      case lowbit::isa::avx2_vnni:
        expected = "avx2_vnni";
        break;
      case lowbit::isa::avx512_vnni:
        expected = "avx512_vnni";
        break;
      case lowbit::isa::neon_dotprod:
      case lowbit::isa::neon_i8mm:
        expected = "neon_dotprod";
        break;
    }
    CHECK(arch == name + "/" + expected);
    auto* q4_1 = module.entry<gemm_entry>("lowbit_test_gemm_q4_1");
    auto* q8_0 = module.entry<gemm_entry>("lowbit_test_gemm_q8_0");
    for (std::size_t m : {1, 3, 17}) {
      for (std::size_t n : {1, 17, 33}) {
        for (std::size_t k : {32, 96}) {
          compare_with_reference<lowbit::ggml::q4_1>(q4_1, m, n, k, 2);
          compare_with_reference<lowbit::ggml::q8_0>(q8_0, m, n, k, 1);
        }
      }
    }
    ++ran;
  }
  if (ran == 0) lowbit_test::skip("this CPU executes none of the modules");
}

TEST_CASE("dispatch: a missing module or entry is a lowbit::error", "[dispatch][errors]") {
  try {
    (void)lowbit::isa_module::open("/nonexistent/libnothing.so");
    FAIL("no error");
  } catch (const lowbit::error& e) {
    CHECK(e.code() == lowbit::errc::io_error);
    CHECK(std::string(e.what()).find("/nonexistent/libnothing.so") != std::string::npos);
  }
  const auto module =
      lowbit::isa_module::open(LOWBIT_DISPATCH_MODULE_DIR, "lowbit_dispatch_gemm", lowbit::isa::baseline);
  try {
    (void)module.entry<void()>("no_such_entry");
    FAIL("no error");
  } catch (const lowbit::error& e) {
    CHECK(e.code() == lowbit::errc::missing_key);
    CHECK(std::string(e.what()).find("no_such_entry") != std::string::npos);
  }
}
