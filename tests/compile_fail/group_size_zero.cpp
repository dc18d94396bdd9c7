// SPDX-License-Identifier: Apache-2.0
// Copyright lowbit contributors
// per_group<0>: a group of no elements. Bad: G = 0; good twin: G = 32.
#include "lowbit/formats/quant/quant.hpp"

#ifdef LOWBIT_COMPILE_FAIL_BAD
constexpr std::size_t group = 0;
#else
constexpr std::size_t group = 32;
#endif
using q = lowbit::quant<lowbit::int_code<4, true>, lowbit::scale_f32, lowbit::per_group<group>>;
static_assert(q::group_size == group);
int main() { return 0; }
