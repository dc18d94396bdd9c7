// SPDX-License-Identifier: Apache-2.0
// Copyright lowbit contributors
#pragma once

// Catch2 through one include that works with v2.13 (Debian bookworm) and v3.
#if __has_include(<catch2/catch_all.hpp>)
#include <catch2/catch_all.hpp>
#else
#include <catch2/catch.hpp>
#endif
