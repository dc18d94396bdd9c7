// SPDX-License-Identifier: Apache-2.0
// Copyright lowbit contributors
// group_format<Q, BlockSize> with a group size that does not divide the block. Bad: G = 32 in a
// block of 48; good twin: a block of 64.
#include "lowbit/formats/quant/group_format.hpp"

#ifdef LOWBIT_COMPILE_FAIL_BAD
constexpr std::size_t block = 48;
#else
constexpr std::size_t block = 64;
#endif
using q = lowbit::quant<lowbit::int_code<4, true>, lowbit::scale_f32, lowbit::per_group<32>>;
using f = lowbit::group_format<q, block>;
static_assert(f::block_bytes > 0);
int main() { return 0; }
