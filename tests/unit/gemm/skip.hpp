// SPDX-License-Identifier: Apache-2.0
// Copyright lowbit contributors
#pragma once

// Skips for Catch2 2.13, which has no SKIP macro: a test that cannot run on this CPU calls
// lowbit_test::skip(reason), and the program's main (skip_main.cpp) then exits with
// lowbit_test::skip_exit_code instead of 0 when nothing failed. ctest registers the cases with
// SKIP_RETURN_CODE set to that code and prints "Skipped", never "Passed".
// LOWBIT_TEST_HIDE_ISA=<name> (e.g. avx2, avx512_vnni) makes a test treat that ISA as missing, to
// check the skip path on a CPU that has it.
#include <cstdlib>
#include <string>
#include <string_view>

#include "catch.hpp"

namespace lowbit_test {

inline constexpr int skip_exit_code = 77;

/// Set by skip(); read by skip_main.cpp.
inline bool& skipped_flag() {
  static bool flag = false;
  return flag;
}

/// Records that (part of) the running test case was skipped, with the reason in the output.
inline void skip(const std::string& reason) {
  WARN("SKIPPED: " << reason);
  skipped_flag() = true;
}

/// True if LOWBIT_TEST_HIDE_ISA names `isa` (a test then treats it as missing).
inline bool isa_hidden(std::string_view isa) {
  const char* hide = std::getenv("LOWBIT_TEST_HIDE_ISA");
  return hide != nullptr && std::string_view(hide) == isa;
}

}  // namespace lowbit_test
