// SPDX-License-Identifier: Apache-2.0
// Copyright lowbit contributors
// The GGUF attack shapes as named regression tests: each case crafts a hostile file in memory and
// requires the exact `lowbit::error` (code and message parts) the reader gives, before it allocates
// anything sized by the file. Covers the llama.cpp GGUF CVEs (CVE-2024-23605, -21836, -23496,
// -21825, -21802; CVE-2025-53630; CVE-2026-27940; CVE-2026-33298), further size and layout attacks,
// and every corrupt-file kind of ggml's tests/test-gguf.cpp (`enum handcrafted_file_type`), and
// keeps the inputs the fuzz targets of fuzz/ found.

#include <unistd.h>

#include <array>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <limits>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "catch.hpp"
#include "lowbit/io/gguf.hpp"
#include "lowbit/io/gguf_writer.hpp"

namespace {

using lowbit::errc;
using lowbit::io::gguf_file;

constexpr std::uint64_t u64_max = std::numeric_limits<std::uint64_t>::max();
constexpr std::uint64_t i64_max = static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max());

// GGUF metadata value type ids and ggml tensor type ids used below (GGUF specification).
constexpr std::uint32_t gguf_u8 = 0, gguf_i32 = 5, gguf_u32 = 4, gguf_string = 8, gguf_array = 9, gguf_type_count = 13;
constexpr std::uint32_t ggml_f32 = 0, ggml_q8_0 = 8, ggml_i8 = 24, ggml_i64 = 27;

// A little-endian byte builder for hand-made GGUF files.
struct file_builder {
  std::vector<std::byte> bytes;

  file_builder& raw(const void* p, std::size_t n) {
    const auto* b = static_cast<const std::byte*>(p);
    bytes.insert(bytes.end(), b, b + n);
    return *this;
  }
  file_builder& le(std::uint64_t v, int n) {
    for (int i = 0; i < n; ++i) bytes.push_back(static_cast<std::byte>((v >> (8 * i)) & 0xff));
    return *this;
  }
  file_builder& u32(std::uint32_t v) { return le(v, 4); }
  file_builder& u64(std::uint64_t v) { return le(v, 8); }
  file_builder& str(std::string_view s) { return u64(s.size()).raw(s.data(), s.size()); }
  // Magic "GGUF", version, tensor_count, kv_count.
  file_builder& header(std::uint64_t n_tensors, std::uint64_t n_kv, std::uint32_t version = 3) {
    return raw("GGUF", 4).u32(version).u64(n_tensors).u64(n_kv);
  }
  file_builder& kv_u32(std::string_view key, std::uint32_t v) { return str(key).u32(gguf_u32).u32(v); }
  file_builder& kv_string(std::string_view key, std::string_view v) { return str(key).u32(gguf_string).str(v); }
  // A tensor info: name, n_dims = ne.size(), ne, ggml type, offset.
  file_builder& tensor(std::string_view name, std::initializer_list<std::uint64_t> ne, std::uint32_t type,
                       std::uint64_t offset) {
    str(name).u32(static_cast<std::uint32_t>(ne.size()));
    for (const std::uint64_t n : ne) u64(n);
    return u32(type).u64(offset);
  }
  file_builder& pad(std::size_t alignment) {
    while (bytes.size() % alignment != 0) bytes.push_back(std::byte{0});
    return *this;
  }
  file_builder& zeros(std::size_t n) {
    bytes.insert(bytes.end(), n, std::byte{0});
    return *this;
  }
};

// Parses `bytes`; requires lowbit::error with `code` whose what() contains every one of `parts`.
void require_refused(const std::vector<std::byte>& bytes, errc code, std::initializer_list<std::string_view> parts) {
  try {
    (void)gguf_file::parse(bytes);
  } catch (const lowbit::error& e) {
    const std::string what = e.what();
    INFO("what(): " << what);
    CHECK(lowbit::to_string(e.code()) == lowbit::to_string(code));
    for (const std::string_view p : parts) {
      INFO("expected to find: " << p);
      CHECK(what.find(p) != std::string::npos);
    }
    return;
  }
  FAIL("expected lowbit::error{" << lowbit::to_string(code) << "}, the file was accepted");
}

// A valid file to start from: one KV pair, one Q8_0 tensor of 32 x 2 elements (68 bytes).
file_builder valid_prefix(std::uint64_t n_tensors, std::uint64_t n_kv) {
  file_builder b;
  b.header(n_tensors, n_kv).kv_string("general.architecture", "llama");
  return b;
}

}  // namespace

// ===================================================================================================
// The llama.cpp GGUF CVEs. The 2024 ones are Cisco Talos' reports on gguf_init_from_file
// (TALOS-2024-1912..1916); each shape is a count or length that makes a reader allocate or read past
// what the file holds.

TEST_CASE("gguf attacks: huge n_kv (CVE-2024-23605)", "[gguf][io][attack]") {
  file_builder b;
  b.header(0, u64_max / 2);
  require_refused(b.bytes, errc::corrupt, {"absurd kv_count 9223372036854775807", "byte offset 16", "2^48"});
  file_builder c;
  c.header(0, 1000).kv_u32("a", 1);  // plausible but more pairs than bytes: truncated, no allocation
  require_refused(c.bytes, errc::truncated, {"kv_count 1000", "13000 bytes"});
}

TEST_CASE("gguf attacks: n_tensors x tensor-info size wraps (CVE-2024-21836)", "[gguf][io][attack]") {
  // 2^64 / 24 + 1 infos of at least 24 bytes: the product wraps to a small number.
  file_builder b;
  b.header(u64_max / 24 + 1, 0);
  require_refused(b.bytes, errc::corrupt, {"absurd tensor_count 768614336404564651", "byte offset 8"});
  // The same with a count whose product with the size of ggml's in-memory info (~336 bytes) wraps.
  file_builder c;
  c.header((u64_max / 336) + 1, 0);
  require_refused(c.bytes, errc::corrupt, {"absurd tensor_count"});
}

TEST_CASE("gguf attacks: a string length of SIZE_MAX (CVE-2024-23496)", "[gguf][io][attack]") {
  file_builder key;
  key.header(0, 1).u64(u64_max).raw("k", 1).zeros(32);
  require_refused(key.bytes, errc::corrupt, {"absurd key length 18446744073709551615", "byte offset 24"});
  file_builder value;
  value.header(0, 1).str("k").u32(gguf_string).u64(u64_max).zeros(32);
  require_refused(value.bytes, errc::corrupt, {"absurd string value length 18446744073709551615", "key 'k'"});
  file_builder name;
  name.header(1, 0).u64(u64_max).zeros(32);
  require_refused(name.bytes, errc::corrupt, {"absurd tensor name length 18446744073709551615"});
}

TEST_CASE("gguf attacks: an array of strings whose count overflows (CVE-2024-21825)", "[gguf][io][attack]") {
  // 2^61 + 1 strings: count x sizeof(std::string) (32) and count x 8 (the u64 lengths) both wrap.
  file_builder b;
  b.header(0, 1).str("tokens").u32(gguf_array).u32(gguf_string).u64((std::uint64_t{1} << 61) + 1).str("a");
  require_refused(b.bytes, errc::corrupt, {"absurd array count 2305843009213693953 (string)", "key 'tokens'"});
  // A plausible count with fewer bytes than its strings' lengths: truncated before any allocation.
  file_builder c;
  c.header(0, 1).str("tokens").u32(gguf_array).u32(gguf_string).u64(4).str("a").str("b");
  require_refused(c.bytes, errc::truncated, {"array count 4 (string)", "key 'tokens'"});
}

TEST_CASE("gguf attacks: n_dims > 4 (CVE-2024-21802)", "[gguf][io][attack]") {
  file_builder b = valid_prefix(1, 1);
  b.str("t").u32(5).u64(32).u64(1).u64(1).u64(1).u64(1).u32(ggml_f32).u64(0);
  require_refused(b.bytes, errc::corrupt, {"tensor 't'", "n_dims 5, more than 4"});
  file_builder c = valid_prefix(1, 1);
  c.str("t").u32(0xffffffffu);
  require_refused(c.bytes, errc::corrupt, {"n_dims 4294967295, more than 4"});
}

TEST_CASE("gguf attacks: tensor sizes whose sum overflows (CVE-2025-53630, CVE-2026-27940)", "[gguf][io][attack]") {
  // Each tensor is 2^62 bytes of F32: ggml summed the padded sizes into a size_t that wrapped.
  file_builder b = valid_prefix(4, 1);
  // Laid out one after another at offsets 0, 2^62, 2^63 and 3 x 2^62; the sum is 2^64, i.e. 0.
  const std::string_view names[] = {"t0", "t1", "t2", "t3"};
  for (std::uint64_t i = 0; i < 4; ++i) b.tensor(names[i], {std::uint64_t{1} << 60}, ggml_f32, i << 62);
  b.pad(32).zeros(64);
  require_refused(b.bytes, errc::corrupt, {"tensor 't0'", "4611686018427387904 bytes", "absurd, beyond 2^48 bytes"});
  // An aligned offset plus size that wraps past 2^64 (CVE-2026-27940 bypassed a fix that checked
  // the sum only).
  file_builder c = valid_prefix(1, 1);
  c.tensor("t", {64}, ggml_f32, u64_max - 63).pad(32).zeros(128);
  require_refused(c.bytes, errc::corrupt,
                  {"tensor 't'", "256 bytes of data at byte offset 128 + 18446744073709551552", "beyond 2^48 bytes"});
}

TEST_CASE("gguf attacks: element count x type size wraps (CVE-2026-33298)", "[gguf][io][attack]") {
  // 2^62 F32 elements: 2^64 bytes, which wraps to 0 in 64-bit arithmetic.
  file_builder b = valid_prefix(1, 1);
  b.tensor("t", {std::uint64_t{1} << 62}, ggml_f32, 0).pad(32);
  require_refused(b.bytes, errc::corrupt, {"tensor 't'", "has more than 2^64 bytes"});
  // 2^61 + 1 I64 elements over two dimensions: 8 x (2^61 + 1) wraps to 8.
  file_builder c = valid_prefix(1, 1);
  c.tensor("t", {(std::uint64_t{1} << 60) + 1, 2}, ggml_i64, 0).pad(32).zeros(64);
  require_refused(c.bytes, errc::corrupt, {"tensor 't'", "has more than 2^64 bytes"});
}

TEST_CASE("gguf attacks: ne = (INT64_MAX, 2, ...)", "[gguf][io][attack]") {
  file_builder b = valid_prefix(1, 1);
  b.tensor("t", {i64_max, 2, 1, 1}, ggml_i8, 0).pad(32);
  require_refused(b.bytes, errc::corrupt, {"tensor 't'", "ne[1] = 2 makes more than INT64_MAX elements"});
  file_builder c = valid_prefix(1, 1);
  c.tensor("t", {i64_max + 1}, ggml_i8, 0).pad(32);  // a negative int64 extent
  require_refused(c.bytes, errc::corrupt, {"ne[0] = 9223372036854775808 makes more than INT64_MAX"});
}

TEST_CASE("gguf attacks: alignment 0, 13 and 2^30", "[gguf][io][attack]") {
  for (const std::uint32_t a : {0u, 13u, 48u, 0x80000001u}) {
    file_builder b;
    b.header(0, 1).kv_u32("general.alignment", a);
    const std::string what = "'general.alignment' is " + std::to_string(a) + ", not a non-zero power of two";
    require_refused(b.bytes, errc::corrupt, {what});
  }
  // 2^30 is a power of two, but the data section it implies starts 1 GiB into a 100-byte file.
  file_builder b;
  b.header(1, 1).kv_u32("general.alignment", 1u << 30).tensor("t", {32}, ggml_f32, 0).zeros(128);
  require_refused(b.bytes, errc::truncated,
                  {"tensor 't'", "128 bytes of data at byte offset 1073741824 + 0", "past the end"});
}

TEST_CASE("gguf attacks: a 1 GiB string in a 160-byte file", "[gguf][io][attack]") {
  file_builder b;
  b.header(0, 1).str("k").u32(gguf_string).u64(std::uint64_t{1} << 30);
  b.zeros(160 - b.bytes.size());
  REQUIRE(b.bytes.size() == 160);
  require_refused(
      b.bytes, errc::truncated,
      {"string value length 1073741824", "key 'k'", "byte offset 37", "needs 1073741824 bytes, 115 remain"});
  // The same through a mapped file (open()), which names the path.
  const std::filesystem::path path =
      std::filesystem::temp_directory_path() / ("lowbit_attack_" + std::to_string(::getpid()) + ".gguf");
  {
    std::ofstream out(path, std::ios::binary);
    out.write(reinterpret_cast<const char*>(b.bytes.data()), static_cast<std::streamsize>(b.bytes.size()));
  }
  try {
    (void)gguf_file::open(path);
    FAIL("the file was accepted");
  } catch (const lowbit::error& e) {
    CHECK(e.code() == errc::truncated);
    CHECK(std::string(e.what()).find(path.string()) != std::string::npos);
  }
  std::filesystem::remove(path);
}

TEST_CASE("gguf attacks: an array length of 2^63", "[gguf][io][attack]") {
  for (const std::uint32_t element : {gguf_u8, gguf_i32, gguf_string, gguf_array}) {
    INFO("element type " << element);
    file_builder b;
    b.header(0, 1).str("a").u32(gguf_array).u32(element).u64(std::uint64_t{1} << 63).zeros(64);
    require_refused(b.bytes, errc::corrupt, {"absurd array count 9223372036854775808", "key 'a'"});
  }
  // Nested: an array of arrays whose inner count is 2^63.
  file_builder c;
  c.header(0, 1).str("a").u32(gguf_array).u32(gguf_array).u64(1).u32(gguf_u8).u64(std::uint64_t{1} << 63);
  require_refused(c.bytes, errc::corrupt, {"absurd array count 9223372036854775808 (u8)"});
}

TEST_CASE("gguf attacks: duplicate keys and duplicate tensor names", "[gguf][io][attack]") {
  file_builder b;
  b.header(0, 3).kv_u32("a", 1).kv_u32("b", 2).kv_string("a", "x");
  require_refused(b.bytes, errc::corrupt, {"duplicate key 'a' in KV pair 2", "first in KV pair 0"});
  file_builder c = valid_prefix(2, 1);
  c.tensor("w", {32}, ggml_f32, 0).tensor("w", {32}, ggml_f32, 128).pad(32).zeros(256);
  require_refused(c.bytes, errc::corrupt, {"tensor 'w'", "duplicates the name of tensor 0"});
}

TEST_CASE("gguf attacks: overlapping tensor data", "[gguf][io][attack]") {
  // b (64 bytes at 0) and a (offset 32) share bytes 32..63; also the same offset twice.
  file_builder b = valid_prefix(2, 1);
  b.tensor("a", {8}, ggml_f32, 32).tensor("b", {16}, ggml_f32, 0).pad(32).zeros(128);
  require_refused(b.bytes, errc::corrupt, {"tensors 'b'", "and 'a' (data offset 32) overlap"});
  file_builder c = valid_prefix(2, 1);
  c.tensor("a", {32}, ggml_q8_0, 0).tensor("b", {32}, ggml_q8_0, 0).pad(32).zeros(64);
  require_refused(c.bytes, errc::corrupt, {"overlap"});
}

TEST_CASE("gguf attacks: tensor names the writer could not write", "[gguf][io][attack]") {
  file_builder b = valid_prefix(1, 1);
  b.tensor("", {32}, ggml_f32, 0).pad(32).zeros(128);
  require_refused(b.bytes, errc::corrupt, {"tensor info 0", "name of 0 bytes", "GGML_MAX_NAME"});
  file_builder c = valid_prefix(1, 1);
  c.tensor(std::string(64, 'n'), {32}, ggml_f32, 0).pad(32).zeros(128);
  require_refused(c.bytes, errc::corrupt, {"name of 64 bytes; names have 1 to 63 bytes"});
  file_builder d = valid_prefix(1, 1);  // 63 bytes is the longest name ggml allows
  d.tensor(std::string(63, 'n'), {32}, ggml_f32, 0).pad(32).zeros(128);
  CHECK_NOTHROW(gguf_file::parse(d.bytes));
}

// ===================================================================================================
// Each kind of ggml's tests/test-gguf.cpp (`enum handcrafted_file_type`, llama.cpp as vendored by
// llama-cpp-python 0.3.36: 33 kinds, plus KV_BAD_VALUE_SIZE, which ggml's test dropped). The 27 that
// ggml's gguf_init refuses come first, one section each, named after the kind; each builds the
// defect that kind writes, without ggml's random KV pairs and tensors around it.
// HANDCRAFTED_TENSORS_ZERO_DIM is no corrupt file for ggml (it loads a tensor with ne[1] = 0);
// lowbit refuses it. The six kinds ggml loads follow in the next test case.

TEST_CASE("gguf attacks: ggml test-gguf.cpp corrupt files", "[gguf][io][attack][ggml]") {
  SECTION("HEADER_BAD_MAGIC") {
    file_builder b;
    b.raw("FUGG", 4).u32(3).u64(0).u64(0).pad(32);
    require_refused(b.bytes, errc::corrupt, {"bad magic", "46 55 47 47"});
  }
  SECTION("HEADER_BAD_VERSION_0") {
    file_builder b;
    b.header(0, 0, 0).pad(32);
    require_refused(b.bytes, errc::corrupt, {"GGUF version 0"});
  }
  SECTION("HEADER_BAD_VERSION_1") {
    file_builder b;
    b.header(0, 0, 1).pad(32);
    require_refused(b.bytes, errc::unsupported, {"GGUF version 1 is not supported"});
  }
  SECTION("HEADER_BAD_VERSION_FUTURE") {
    file_builder b;
    b.header(0, 0, 4).pad(32);
    require_refused(b.bytes, errc::unsupported, {"GGUF version 4 is not supported"});
  }
  SECTION("HEADER_BAD_N_TENSORS (CVE-2024-21836)") {
    file_builder b;
    b.header(u64_max, 0).pad(32);
    require_refused(b.bytes, errc::corrupt, {"absurd tensor_count 18446744073709551615"});
  }
  SECTION("HEADER_BAD_N_KV (CVE-2024-23605)") {
    file_builder b;
    b.header(0, u64_max).pad(32);
    require_refused(b.bytes, errc::corrupt, {"absurd kv_count 18446744073709551615"});
  }
  SECTION("KV_BAD_KEY_SIZE (CVE-2024-23496)") {
    file_builder b;
    b.header(0, 1).u64(u64_max).u32(gguf_u32).u32(1).pad(32);
    require_refused(b.bytes, errc::corrupt, {"absurd key length 18446744073709551615"});
  }
  SECTION("KV_EMPTY_KEY") {
    file_builder b;
    b.header(0, 2).kv_u32("a", 1).kv_u32("", 2).pad(32);
    require_refused(b.bytes, errc::corrupt, {"empty key in KV pair 1", "byte offset 41"});
  }
  SECTION("KV_BAD_TYPE") {
    file_builder b;
    b.header(0, 1).str("my_key_0").u32(gguf_type_count).zeros(1).pad(32);
    require_refused(b.bytes, errc::unknown_type, {"unknown value type id 13", "key 'my_key_0'"});
  }
  SECTION("KV_DUPLICATE_KEY") {
    file_builder b;
    b.header(0, 2).kv_u32("my_key_0", 1).kv_u32("my_key_0", 2).pad(32);
    require_refused(b.bytes, errc::corrupt, {"duplicate key 'my_key_0' in KV pair 1"});
  }
  SECTION("KV_BAD_ALIGN") {
    file_builder b;
    b.header(0, 1).kv_u32("general.alignment", 13).pad(32);
    require_refused(b.bytes, errc::corrupt, {"'general.alignment' is 13, not a non-zero power of two"});
  }
  SECTION("KV_WRONG_TYPE_ALIGN") {
    file_builder b;
    b.header(0, 1).str("general.alignment").u32(gguf_i32).u32(32).pad(32);
    require_refused(b.bytes, errc::type_mismatch, {"'general.alignment' holds i32, must be u32"});
  }
  SECTION("TENSORS_BAD_NAME_SIZE") {
    const std::string name = "my_tensor_0_with_a_very_long_name_which_is_longer_than_what_is_allowed_for_ggml_tensors";
    file_builder b = valid_prefix(1, 1);
    b.tensor(name, {32}, ggml_f32, 0).pad(32).zeros(128);
    require_refused(b.bytes, errc::corrupt, {"name of 87 bytes", "GGML_MAX_NAME"});
  }
  SECTION("TENSORS_BAD_N_DIMS (CVE-2024-21802)") {
    file_builder b = valid_prefix(1, 1);
    b.str("my_tensor_0").u32(5).u64(32).u64(1).u64(1).u64(1).u64(1).u32(ggml_f32).u64(0).pad(32).zeros(128);
    require_refused(b.bytes, errc::corrupt, {"n_dims 5, more than 4"});
  }
  SECTION("TENSORS_BAD_SHAPE") {
    // Every extent -1 as int64.
    file_builder b = valid_prefix(1, 1);
    b.tensor("my_tensor_0", {u64_max, u64_max}, ggml_f32, 0).pad(32).zeros(128);
    require_refused(b.bytes, errc::corrupt, {"ne[0] = 18446744073709551615 makes more than INT64_MAX elements"});
  }
  SECTION("TENSORS_NE_TOO_BIG") {
    const std::uint64_t big = 4 * std::uint64_t{0x7fffffff};
    file_builder b = valid_prefix(1, 1);
    b.tensor("my_tensor_0", {big, big}, ggml_f32, 0).pad(32).zeros(128);
    require_refused(b.bytes, errc::corrupt, {"ne[1] = 8589934588 makes more than INT64_MAX elements"});
  }
  SECTION("TENSORS_NBYTES_TOO_BIG (CVE-2026-33298)") {
    // I64 with two extents of about 1.01 x sqrt(SIZE_MAX / 8): fewer than INT64_MAX elements, but
    // more than 2^64 bytes.
    const double big_ne = static_cast<double>(u64_max / 8);
    const auto big = static_cast<std::uint64_t>(1.01 * std::sqrt(big_ne)) + 1;
    file_builder b = valid_prefix(1, 1);
    b.tensor("my_tensor_0", {big, big}, ggml_i64, 0).pad(32).zeros(128);
    require_refused(b.bytes, errc::corrupt, {"has more than 2^64 bytes"});
  }
  SECTION("TENSORS_NBYTES_PAD_WRAP (CVE-2026-27940)") {
    // F32 [4, 2^30 - 1, 2^30 + 1]: 2^64 - 16 bytes, which padding to the alignment wraps to 0.
    file_builder b = valid_prefix(1, 1);
    b.tensor("my_tensor_0", {4, (1u << 30) - 1, (1u << 30) + 1}, ggml_f32, 0).pad(32).zeros(128);
    require_refused(b.bytes, errc::corrupt, {"18446744073709551600 bytes of data", "absurd, beyond 2^48 bytes"});
  }
  SECTION("TENSORS_BAD_TYPE") {
    // GGML_TYPE_COUNT: an id past the last ggml type (here: past the last one this build knows).
    std::uint32_t id = 40;
    while (lowbit::ggml::find_type_traits(id).has_value()) ++id;
    file_builder b = valid_prefix(1, 1);
    b.tensor("my_tensor_0", {32}, id, 0).pad(32).zeros(128);
    const std::string what = "unknown ggml type id " + std::to_string(id);
    require_refused(b.bytes, errc::unknown_type, {"tensor 'my_tensor_0'", what});
  }
  SECTION("TENSORS_BAD_OFFSET") {
    file_builder b = valid_prefix(1, 1);
    b.tensor("my_tensor_0", {32}, ggml_f32, u64_max).pad(32).zeros(128);
    require_refused(b.bytes, errc::corrupt, {"data offset 18446744073709551615, not a multiple of the alignment 32"});
  }
  SECTION("TENSORS_DUPLICATE_NAME") {
    file_builder b = valid_prefix(2, 1);
    b.tensor("my_tensor", {32}, ggml_f32, 0).tensor("my_tensor", {32}, ggml_f32, 128).pad(32).zeros(256);
    require_refused(b.bytes, errc::corrupt, {"tensor 'my_tensor'", "duplicates the name of tensor 0"});
  }
  SECTION("TENSORS_BAD_ALIGN") {
    file_builder b;
    b.header(1, 1).kv_u32("general.alignment", 13).tensor("my_tensor_0", {32}, ggml_f32, 0);
    require_refused(b.bytes, errc::corrupt, {"'general.alignment' is 13"});
  }
  SECTION("TENSORS_INCONSISTENT_ALIGN") {
    // Offsets laid out with alignment 1 in a file that declares none (so 32): the second is misaligned.
    file_builder b = valid_prefix(2, 1);
    b.tensor("my_tensor_0", {3}, ggml_f32, 0).tensor("my_tensor_1", {3}, ggml_f32, 12);
    require_refused(b.bytes, errc::corrupt,
                    {"tensor 'my_tensor_1'", "data offset 12, not a multiple of the alignment 32"});
  }
  SECTION("DATA_NOT_ENOUGH_DATA") {
    file_builder b = valid_prefix(1, 1);
    b.tensor("my_tensor_0", {32, 2}, ggml_q8_0, 0).pad(32).zeros(67);
    require_refused(b.bytes, errc::truncated, {"tensor 'my_tensor_0'", "68 bytes of data", "past the end of the data"});
  }
  SECTION("DATA_BAD_ALIGN") {
    file_builder b;
    b.header(1, 1).kv_u32("general.alignment", 13).tensor("my_tensor_0", {32}, ggml_f32, 0).pad(13).zeros(128);
    require_refused(b.bytes, errc::corrupt, {"'general.alignment' is 13"});
  }
  SECTION("DATA_INCONSISTENT_ALIGN") {
    file_builder b = valid_prefix(2, 1);
    b.tensor("my_tensor_0", {3}, ggml_f32, 0).tensor("my_tensor_1", {3}, ggml_f32, 12).pad(32).zeros(64);
    require_refused(b.bytes, errc::corrupt, {"tensor 'my_tensor_1'", "not a multiple of the alignment 32"});
  }
  SECTION("DATA_MEM_SIZE_OVERFLOW (CVE-2025-53630)") {
    // Two I8 tensors of 0x7FFFFFFFFFFFFFC0 elements: their padded sizes sum past 2^64.
    const std::uint64_t n = 0x7FFFFFFFFFFFFFC0;
    file_builder b = valid_prefix(2, 1);
    b.tensor("my_tensor_0", {n}, ggml_i8, 0).tensor("my_tensor_1", {n}, ggml_i8, n).pad(32).zeros(64);
    require_refused(b.bytes, errc::corrupt, {"tensor 'my_tensor_0'", "absurd, beyond 2^48 bytes"});
  }
  SECTION("TENSORS_ZERO_DIM (accepted by ggml, refused by lowbit)") {
    file_builder b = valid_prefix(1, 1);
    b.tensor("my_tensor_0", {32, 0}, ggml_f32, 0).pad(32);
    require_refused(b.bytes, errc::corrupt, {"tensor 'my_tensor_0'", "ne[1] = 0"});
  }
  SECTION("KV_BAD_VALUE_SIZE (dropped by ggml: it allocated more than 1 TB)") {
    // A 1 TiB string and a 4 TiB array: plausible sizes (below 2^48), so truncated, and nothing
    // is allocated for them.
    file_builder b;
    b.header(0, 1).str("my_key_0").u32(gguf_string).u64(std::uint64_t{1} << 40).zeros(64);
    require_refused(b.bytes, errc::truncated, {"string value length 1099511627776", "key 'my_key_0'"});
    file_builder c;
    c.header(0, 1).str("my_key_0").u32(gguf_array).u32(gguf_u32).u64(std::uint64_t{1} << 40).zeros(64);
    require_refused(c.bytes, errc::truncated, {"array count 1099511627776 (u32)", "needs 4398046511104 bytes"});
  }
}

// The other kinds of ggml's enum, which ggml loads: lowbit loads those that carry their tensor data
// and refuses those that do not (ggml's metadata-only load accepts tensor infos without data; every
// lowbit tensor view lies inside the file).

namespace {

// ggml's files for the success kinds: KV pairs of every type, then (with `n_tensors`) tensors of
// several types and shapes laid out at `alignment`, then (with `data`) their bytes.
file_builder ggml_success_file(std::uint32_t alignment, bool custom_align, int n_tensors, bool data) {
  file_builder b;
  b.header(static_cast<std::uint64_t>(n_tensors), 6 + (custom_align ? 1 : 0));
  b.kv_u32("my_key_0", 7).kv_string("my_key_1", "value");
  b.str("my_key_2").u32(gguf_i32).u32(0xffffffffu);
  b.str("my_key_3").u32(gguf_array).u32(gguf_string).u64(2).str("a").str("");
  b.str("my_key_4").u32(gguf_array).u32(gguf_u8).u64(3).zeros(3);
  b.str("my_key_5").u32(gguf_array).u32(gguf_i32).u64(0);
  if (custom_align) b.kv_u32("general.alignment", alignment);
  struct shape {
    std::initializer_list<std::uint64_t> ne;
    std::uint32_t type;
    std::uint64_t bytes;
  };
  const shape shapes[] = {{{32, 3}, ggml_q8_0, 3 * 34}, {{5}, ggml_f32, 20}, {{2, 2, 2, 2}, ggml_i8, 16}};
  std::uint64_t offset = 0, total = 0;
  for (int i = 0; i < n_tensors; ++i) {
    const shape& s = shapes[i % 3];
    b.tensor("my_tensor_" + std::to_string(i), s.ne, s.type, offset);
    offset += (s.bytes + alignment - 1) / alignment * alignment;
    total = offset;
  }
  b.pad(alignment);
  if (data) b.zeros(static_cast<std::size_t>(total));
  return b;
}

}  // namespace

TEST_CASE("gguf attacks: ggml test-gguf.cpp files that ggml loads", "[gguf][io][attack][ggml]") {
  SECTION("HEADER_EMPTY") {
    file_builder b;
    b.header(0, 0).pad(32);
    const gguf_file f = gguf_file::parse(b.bytes);
    CHECK(f.metadata().empty());
    CHECK(f.tensors().empty());
  }
  SECTION("KV_RANDOM_KV (HANDCRAFTED_KV_SUCCESS)") {
    const file_builder b = ggml_success_file(32, false, 0, false);
    const gguf_file f = gguf_file::parse(b.bytes);
    CHECK(f.metadata().size() == 6);
    CHECK(f.get_i32("my_key_2") == -1);
    CHECK(f.get_string_array("my_key_3").size() == 2);
  }
  SECTION("TENSORS_SUCCESS (infos without data: refused by lowbit)") {
    const file_builder b = ggml_success_file(32, false, 3, false);
    require_refused(b.bytes, errc::truncated, {"tensor 'my_tensor_0'", "past the end of the data"});
  }
  SECTION("TENSORS_CUSTOM_ALIGN (infos without data: refused by lowbit)") {
    const file_builder b = ggml_success_file(1, true, 3, false);
    require_refused(b.bytes, errc::truncated, {"tensor 'my_tensor_0'", "past the end of the data"});
  }
  SECTION("DATA_SUCCESS") {
    const file_builder b = ggml_success_file(32, false, 3, true);
    const gguf_file f = gguf_file::parse(b.bytes);
    REQUIRE(f.tensors().size() == 3);
    CHECK(f.tensor("my_tensor_0").n_bytes == 102);
    CHECK(f.tensor("my_tensor_2").ne == std::array<std::uint64_t, 4>{2, 2, 2, 2});
  }
  SECTION("DATA_CUSTOM_ALIGN") {
    const file_builder b = ggml_success_file(1, true, 3, true);
    const gguf_file f = gguf_file::parse(b.bytes);
    CHECK(f.alignment() == 1);
    REQUIRE(f.tensors().size() == 3);
    CHECK(f.tensor("my_tensor_1").offset == 102);
  }
}

// ===================================================================================================
// What the writer makes of what the reader accepts: read, write, read gives the same file (the
// property of fuzz/fuzz_gguf_writer.cpp), here for a file with every attack-adjacent legal extreme.

TEST_CASE("gguf attacks: legal extremes survive read, write, read", "[gguf][io][attack]") {
  file_builder b;
  b.header(2, 3).kv_u32("general.alignment", 64).str("empty").u32(gguf_array).u32(gguf_string).u64(0);
  b.str("nested").u32(gguf_array).u32(gguf_array).u64(1).u32(gguf_u8).u64(0);
  b.tensor(std::string(63, 'n'), {32}, ggml_q8_0, 0).tensor("one", {1, 1, 1, 1}, ggml_f32, 64).pad(64).zeros(128);
  const gguf_file f = gguf_file::parse(b.bytes);
  lowbit::io::gguf_writer w;
  for (const auto& [key, value] : f.metadata()) w.set(key, lowbit::io::gguf_kv_value::from(value));
  for (const auto& t : f.tensors()) {
    w.add_tensor(t.name, t.type, std::span<const std::uint64_t>(t.ne.data(), t.n_dims), t.data);
  }
  const std::vector<std::byte> bytes = w.to_bytes();
  const gguf_file g = gguf_file::parse(bytes);
  REQUIRE(g.tensors().size() == 2);
  CHECK(g.alignment() == 64);
  CHECK(g.tensors()[0].name == f.tensors()[0].name);
  CHECK(g.tensors()[1].ne == f.tensors()[1].ne);
  CHECK(g.at("empty").size() == 0);
  CHECK(g.at("nested")[0].size() == 0);
}
