// SPDX-License-Identifier: Apache-2.0
// Copyright lowbit contributors
#pragma once

// The SIMD backend: its tag and every kernel it has. Include after (or instead of) lowbit/gemm/gemm.hpp.
#include "lowbit/backend/simd/gemm_f32.hpp"
#include "lowbit/backend/simd/gemm_q4.hpp"
#include "lowbit/backend/simd/gemm_q8_0.hpp"
#include "lowbit/backend/simd/tag.hpp"
#include "lowbit/gemm/gemm.hpp"
