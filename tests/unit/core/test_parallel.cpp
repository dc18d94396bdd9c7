// SPDX-License-Identifier: Apache-2.0
// Copyright lowbit contributors
//
// parallel_for on its own: every index of [0, n) visited exactly once, chunk starts on multiples of
// the grain, at most t.count calls, for grains > 1, n not a multiple of the grain, n = 0 and 1,
// more threads than chunks, and (under OpenMP) a runtime that grants fewer threads than asked.
#include <atomic>
#include <cstddef>
#include <mutex>
#include <utility>
#include <vector>

#include "catch.hpp"
#include "lowbit/core/parallel.hpp"

#if defined(_OPENMP)
#include <omp.h>
#endif

namespace {

struct visit_log {
  std::vector<std::atomic<int>> hits;
  std::mutex mutex;
  std::vector<std::pair<std::size_t, std::size_t>> calls;
  explicit visit_log(std::size_t n) : hits(n) {}
};

// Runs parallel_for and checks its contract.
void check_cover(int threads, std::size_t n, std::size_t grain) {
  CAPTURE(threads, n, grain);
  visit_log log(n);
  lowbit::parallel_for(lowbit::threads{threads}, n, grain, [&](std::size_t begin, std::size_t end) {
    {
      const std::lock_guard<std::mutex> lock(log.mutex);
      log.calls.emplace_back(begin, end);
    }
    for (std::size_t e = begin; e < end && e < n; ++e) log.hits[e].fetch_add(1);
  });
  for (std::size_t e = 0; e < n; ++e) {
    CAPTURE(e);
    REQUIRE(log.hits[e].load() == 1);
  }
  const std::size_t units = (n + grain - 1) / grain;
  REQUIRE(log.calls.size() <= static_cast<std::size_t>(threads));
  REQUIRE(log.calls.size() <= units);
  for (const auto& [begin, end] : log.calls) {
    CAPTURE(begin, end);
    REQUIRE(begin < end);  // no empty calls
    REQUIRE(end <= n);
    REQUIRE(begin % grain == 0);
    REQUIRE((end % grain == 0 || end == n));
  }
  // With as many chunks as threads allow, the work is split: min(threads, units) calls.
  REQUIRE(log.calls.size() == std::min<std::size_t>(static_cast<std::size_t>(threads), units));
}

}  // namespace

TEST_CASE("parallel_for: every index exactly once, grain 1", "[core][parallel]") {
  for (int t : {1, 2, 3, 4, 7}) {
    for (std::size_t n : {0, 1, 2, 3, 5, 8, 64, 1000}) check_cover(t, n, 1);
  }
}

TEST_CASE("parallel_for: grain > 1 and n not a multiple of the grain", "[core][parallel]") {
  for (int t : {1, 2, 3, 4, 8}) {
    for (std::size_t grain : {2, 3, 16, 64}) {
      for (std::size_t n : {0, 1, 2, 3, 15, 16, 17, 63, 64, 65, 100, 129, 1000, 1023}) check_cover(t, n, grain);
    }
  }
}

TEST_CASE("parallel_for: more threads than chunks", "[core][parallel]") {
  check_cover(16, 3, 1);
  check_cover(16, 33, 16);  // 3 chunks of 16, 16, 1
  check_cover(64, 1, 8);
}

TEST_CASE("parallel_for: bad thread count or grain throws lowbit::error", "[core][parallel][errors]") {
  const auto body = [](std::size_t, std::size_t) {};
  REQUIRE_THROWS_WITH(lowbit::parallel_for(lowbit::threads{0}, 10, 1, body), Catch::Contains("thread count"));
  REQUIRE_THROWS_WITH(lowbit::parallel_for(lowbit::threads{-2}, 10, 1, body), Catch::Contains("thread count"));
  REQUIRE_THROWS_WITH(lowbit::parallel_for(lowbit::threads{2}, 10, 0, body), Catch::Contains("grain"));
}

#if defined(_OPENMP)
TEST_CASE("parallel_for: fewer threads granted than asked still covers every chunk", "[core][parallel][openmp]") {
  // Inside an active parallel region with nesting off, the runtime grants a nested region 1 thread.
  const int saved_levels = omp_get_max_active_levels();
  omp_set_max_active_levels(1);
  std::atomic<int> failures{0}, granted{0};
#pragma omp parallel num_threads(2)
  {
#pragma omp single
    {
      for (std::size_t grain : {1, 3, 16}) {
        for (std::size_t n : {1, 17, 100, 1000}) {
          std::vector<std::atomic<int>> hits(n);
          lowbit::parallel_for(lowbit::threads{4}, n, grain, [&](std::size_t begin, std::size_t end) {
            granted.store(omp_get_num_threads());
            for (std::size_t e = begin; e < end; ++e) hits[e].fetch_add(1);
          });
          for (std::size_t e = 0; e < n; ++e) failures += hits[e].load() != 1;
        }
      }
    }
  }
  omp_set_max_active_levels(saved_levels);
  REQUIRE(granted.load() == 1);  // the case tested: one thread for four chunks
  REQUIRE(failures.load() == 0);
}
#endif
