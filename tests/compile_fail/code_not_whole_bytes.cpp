// SPDX-License-Identifier: Apache-2.0
// Copyright lowbit contributors
// group_format whose block of codes ends mid-byte. Bad: 4 codes of 3 bits (12 bits); good twin: 8 codes.
#include "lowbit/formats/quant/group_format.hpp"

#ifdef LOWBIT_COMPILE_FAIL_BAD
constexpr std::size_t block = 4;
#else
constexpr std::size_t block = 8;
#endif
using q = lowbit::quant<lowbit::int_code<3, true>, lowbit::scale_f32, lowbit::per_group<4>>;
static_assert(lowbit::group_format<q, block>::block_bytes > 0);
int main() { return 0; }
