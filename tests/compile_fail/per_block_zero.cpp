// SPDX-License-Identifier: Apache-2.0
// Copyright lowbit contributors
// A 2-D scale block with no rows. Bad: per_block<0, 16>; good twin: per_block<2, 16>.
#include "lowbit/formats/quant/quant.hpp"

#ifdef LOWBIT_COMPILE_FAIL_BAD
constexpr std::size_t rows = 0;
#else
constexpr std::size_t rows = 2;
#endif
using q = lowbit::quant<lowbit::int_code<4, true>, lowbit::scale_bf16, lowbit::per_block<rows, 16>>;
static_assert(q::block_rows == rows);
int main() { return 0; }
