// SPDX-License-Identifier: Apache-2.0
// Copyright lowbit contributors
#pragma once

/// lowbit's version, MAJOR.MINOR.PATCH; CMake parses these three lines.
#define LOWBIT_VERSION_MAJOR 0
#define LOWBIT_VERSION_MINOR 1
#define LOWBIT_VERSION_PATCH 0
