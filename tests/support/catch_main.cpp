// SPDX-License-Identifier: Apache-2.0
// Copyright lowbit contributors
// The one translation unit that holds Catch2's main (v2 single header); compiled once for all tests.
#if !__has_include(<catch2/catch_all.hpp>)
#define CATCH_CONFIG_MAIN
#include <catch2/catch.hpp>
#endif
