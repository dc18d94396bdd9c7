// SPDX-License-Identifier: Apache-2.0
// Copyright lowbit contributors
// Catch2's main for the test programs built for one ISA level other than the build's own (the
// `_<level>` twins of tests/CMakeLists.txt): when the CPU cannot execute LOWBIT_TEST_REQUIRED_ISA
// (a lowbit::isa name), the program runs nothing and exits with 77, which ctest reports as
// Skipped (SKIP_RETURN_CODE), never as Passed. Nothing built for the level runs before that check.

#if __has_include(<catch2/catch_all.hpp>)
#include <catch2/catch_session.hpp>
#else
#define CATCH_CONFIG_RUNNER
#include <catch2/catch.hpp>
#endif
#include <iostream>
#include <string_view>

#include "lowbit/backend/dispatch/isa.hpp"

#ifndef LOWBIT_TEST_REQUIRED_ISA
#error "isa_guard_main.cpp needs LOWBIT_TEST_REQUIRED_ISA (a lowbit::isa name)"
#endif

int main(int argc, char** argv) {
  // Listing the tests (ctest's discovery at build time) runs no code of the level.
  for (int i = 1; i < argc; ++i) {
    if (std::string_view(argv[i]).starts_with("--list")) return Catch::Session().run(argc, argv);
  }
  const auto level = lowbit::isa_from_string(LOWBIT_TEST_REQUIRED_ISA);
  const auto cpu = lowbit::cpu_features::detect();
  if (!level || !lowbit::isa_supported(*level, cpu)) {
    std::cout << "lowbit: test skipped (exit status 77): this CPU (" << cpu.to_string() << ") cannot execute "
              << LOWBIT_TEST_REQUIRED_ISA << "\n";
    return 77;
  }
  return Catch::Session().run(argc, argv);
}
