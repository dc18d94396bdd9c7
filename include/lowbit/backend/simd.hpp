// SPDX-License-Identifier: Apache-2.0
// Copyright lowbit contributors
#pragma once

// The SIMD backend: its tag and every kernel it has. Include after (or instead of) lowbit/gemm/gemm.hpp.
#include "lowbit/backend/simd/gemm_bf16.hpp"
#include "lowbit/backend/simd/gemm_f16.hpp"
#include "lowbit/backend/simd/gemm_f32.hpp"
#include "lowbit/backend/simd/gemm_fp4.hpp"
#include "lowbit/backend/simd/gemm_iq4.hpp"
#include "lowbit/backend/simd/gemm_iq_codebook.hpp"
#include "lowbit/backend/simd/gemm_mx.hpp"
#include "lowbit/backend/simd/gemm_parametric.hpp"
#include "lowbit/backend/simd/gemm_q2_k.hpp"
#include "lowbit/backend/simd/gemm_q3_k.hpp"
#include "lowbit/backend/simd/gemm_q4.hpp"
#include "lowbit/backend/simd/gemm_q4_k.hpp"
#include "lowbit/backend/simd/gemm_q5.hpp"
#include "lowbit/backend/simd/gemm_q5_k.hpp"
#include "lowbit/backend/simd/gemm_q6_k.hpp"
#include "lowbit/backend/simd/gemm_q8_0.hpp"
#include "lowbit/backend/simd/gemm_q8_1_q8_k.hpp"
#include "lowbit/backend/simd/gemm_tq.hpp"
#include "lowbit/backend/simd/tag.hpp"
#include "lowbit/gemm/gemm.hpp"
