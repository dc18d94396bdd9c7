// SPDX-License-Identifier: Apache-2.0
// Copyright lowbit contributors
// Catch2's main for the programs whose cases can be skipped (skip.hpp): exit status
// lowbit_test::skip_exit_code when a case skipped and none failed.
#if __has_include(<catch2/catch_all.hpp>)
#include <catch2/catch_session.hpp>
#else
#define CATCH_CONFIG_RUNNER
#include <catch2/catch.hpp>
#endif
#include <iostream>

#include "skip.hpp"

int main(int argc, char** argv) {
  const int failed = Catch::Session().run(argc, argv);
  if (failed == 0 && lowbit_test::skipped_flag()) {
    std::cout << "lowbit: test skipped (exit status " << lowbit_test::skip_exit_code << ")\n";
    return lowbit_test::skip_exit_code;
  }
  return failed;
}
