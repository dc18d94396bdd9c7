// SPDX-License-Identifier: Apache-2.0
// Copyright lowbit contributors
// Tests of lowbit/io/gguf_writer.hpp: round trips through lowbit::io::gguf_file (every value type, nested
// arrays, alignment 32 and 64, zero tensors), a byte-for-byte rewrite of the gguf-py-written small.gguf,
// the exact header bytes of a hand-computed file, the errors, and atomic writing.

#include <unistd.h>

#include <array>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <limits>
#include <string>
#include <string_view>
#include <vector>

#include "catch.hpp"
#include "lowbit/io/gguf.hpp"
#include "lowbit/io/gguf_writer.hpp"

namespace {

using lowbit::errc;
using lowbit::ggml::type;
using lowbit::io::gguf_file;
using lowbit::io::gguf_kv_value;
using lowbit::io::gguf_value;
using lowbit::io::gguf_value_type;
using lowbit::io::gguf_writer;
namespace fs = std::filesystem;

std::vector<std::byte> read_bytes(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  REQUIRE(in.good());
  std::vector<char> chars((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::vector<std::byte> out(chars.size());
  if (!chars.empty()) std::memcpy(out.data(), chars.data(), chars.size());
  return out;
}

template <class F>
void require_error(F&& f, errc code, std::initializer_list<std::string_view> parts) {
  try {
    f();
  } catch (const lowbit::error& e) {
    const std::string what = e.what();
    INFO("what(): " << what);
    CHECK(lowbit::to_string(e.code()) == lowbit::to_string(code));
    for (std::string_view p : parts) {
      INFO("expected to find: " << p);
      CHECK(what.find(p) != std::string::npos);
    }
    return;
  }
  FAIL("expected lowbit::error{" << lowbit::to_string(code) << "}, nothing was thrown");
}

// A fresh, empty directory under the system temp dir, removed at scope exit.
struct temp_dir {
  fs::path path;
  temp_dir() {
    path = fs::temp_directory_path() / ("lowbit_gguf_writer_" + std::to_string(::getpid()) + "_" +
                                        std::to_string(reinterpret_cast<std::uintptr_t>(this)));
    fs::remove_all(path);
    fs::create_directories(path);
  }
  ~temp_dir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
  temp_dir(const temp_dir&) = delete;
  temp_dir& operator=(const temp_dir&) = delete;
};

std::vector<std::byte> pattern_bytes(std::size_t n, unsigned seed) {
  std::vector<std::byte> v(n);
  std::uint32_t s = seed * 2654435761u + 1;
  for (auto& b : v) {
    s = s * 1664525u + 1013904223u;
    b = static_cast<std::byte>(s >> 24);
  }
  return v;
}

// Q4_0/Q8_0 blocks with finite fp16 scales are not needed by the writer (it never decodes), so the
// tensor data below is arbitrary bytes of the right size.
struct tensor_spec {
  std::string name;
  type t;
  std::vector<std::uint64_t> ne;
  std::vector<std::byte> data;
};

std::vector<tensor_spec> sample_tensors() {
  std::vector<tensor_spec> ts;
  ts.push_back({"norm.weight", type::f32, {7}, pattern_bytes(7 * 4, 1)});               // odd size: padding
  ts.push_back({"blk.0.w.weight", type::q4_0, {64, 3}, pattern_bytes(2 * 3 * 18, 2)});  // 2 blocks per row
  ts.push_back({"blk.0.x.weight", type::q8_0, {32, 2, 2}, pattern_bytes(4 * 34, 3)});
  ts.push_back({"four_d", type::f16, {3, 2, 2, 2}, pattern_bytes(24 * 2, 4)});
  ts.push_back({"q4_k", type::q4_k, {256, 1}, pattern_bytes(144, 5)});
  return ts;
}

// A writer with one KV of every scalar type, strings, arrays of every scalar type, string arrays,
// empty arrays and nested arrays (mixed element types, three levels).
gguf_writer every_value_writer() {
  gguf_writer w;
  w.set<std::uint8_t>("t.u8", 200);
  w.set<std::int8_t>("t.i8", -100);
  w.set<std::uint16_t>("t.u16", 60000);
  w.set<std::int16_t>("t.i16", -30000);
  w.set<std::uint32_t>("t.u32", 4000000000u);
  w.set<std::int32_t>("t.i32", -2000000000);
  w.set("t.f32", 0.1f);
  w.set("t.bool", true);
  w.set_string("t.string", "h\xc3\xa9llo");
  w.set_string("t.empty_string", "");
  w.set_string("t.nul_string", std::string("a\0b", 3));
  w.set<std::uint64_t>("t.u64", std::numeric_limits<std::uint64_t>::max());
  w.set<std::int64_t>("t.i64", std::numeric_limits<std::int64_t>::min());
  w.set("t.f64", 0.1);
  const std::vector<std::uint8_t> u8s{0, 1, 255};
  const std::vector<std::int8_t> i8s{-128, 0, 127};
  const std::vector<std::uint16_t> u16s{1, 65535};
  const std::vector<std::int16_t> i16s{-32768, 32767};
  const std::vector<std::uint32_t> u32s{7, 4294967295u};
  const std::vector<std::int32_t> i32s{-5, 6, 7};
  const std::vector<float> f32s{1.5f, -0.0f, std::numeric_limits<float>::infinity()};
  const std::vector<std::uint64_t> u64s{1, std::uint64_t{1} << 63};
  const std::vector<std::int64_t> i64s{-1, std::numeric_limits<std::int64_t>::max()};
  const std::vector<double> f64s{0.25, -1e300};
  const std::array<bool, 3> bools{true, false, true};
  w.set("t.u8_array", gguf_kv_value::array<std::uint8_t>(u8s));
  w.set("t.i8_array", gguf_kv_value::array<std::int8_t>(i8s));
  w.set("t.u16_array", gguf_kv_value::array<std::uint16_t>(u16s));
  w.set("t.i16_array", gguf_kv_value::array<std::int16_t>(i16s));
  w.set("t.u32_array", gguf_kv_value::array<std::uint32_t>(u32s));
  w.set("t.i32_array", gguf_kv_value::array<std::int32_t>(i32s));
  w.set("t.f32_array", gguf_kv_value::array<float>(f32s));
  w.set("t.u64_array", gguf_kv_value::array<std::uint64_t>(u64s));
  w.set("t.i64_array", gguf_kv_value::array<std::int64_t>(i64s));
  w.set("t.f64_array", gguf_kv_value::array<double>(f64s));
  w.set("t.bool_array", gguf_kv_value::array<bool>(bools));
  w.set("t.empty_array", gguf_kv_value::array<std::int32_t>(std::span<const std::int32_t>()));
  w.set("t.string_array", gguf_kv_value::string_array({"a", "", "\xe2\x96\x81the"}));
  w.set("t.empty_string_array", gguf_kv_value::string_array({}));
  const std::vector<std::int32_t> a{1, 2}, b{3};
  w.set("t.nested",
        gguf_kv_value::array_of_arrays({gguf_kv_value::array<std::int32_t>(a), gguf_kv_value::string_array({"x", "yz"}),
                                        gguf_kv_value::array_of_arrays({gguf_kv_value::array<std::int32_t>(b)})}));
  return w;
}

void check_every_value(const gguf_file& f) {
  CHECK(f.get<std::uint8_t>("t.u8") == 200);
  CHECK(f.at("t.u8").type() == gguf_value_type::u8);
  CHECK(f.get<std::int8_t>("t.i8") == -100);
  CHECK(f.at("t.i8").type() == gguf_value_type::i8);
  CHECK(f.get<std::uint16_t>("t.u16") == 60000);
  CHECK(f.at("t.u16").type() == gguf_value_type::u16);
  CHECK(f.get<std::int16_t>("t.i16") == -30000);
  CHECK(f.at("t.i16").type() == gguf_value_type::i16);
  CHECK(f.get<std::uint32_t>("t.u32") == 4000000000u);
  CHECK(f.at("t.u32").type() == gguf_value_type::u32);
  CHECK(f.get<std::int32_t>("t.i32") == -2000000000);
  CHECK(f.at("t.i32").type() == gguf_value_type::i32);
  CHECK(std::bit_cast<std::uint32_t>(f.get<float>("t.f32")) == std::bit_cast<std::uint32_t>(0.1f));
  CHECK(f.at("t.f32").type() == gguf_value_type::f32);
  CHECK(f.get<bool>("t.bool"));
  CHECK(f.at("t.bool").type() == gguf_value_type::boolean);
  CHECK(f.get_string("t.string") == "h\xc3\xa9llo");
  CHECK(f.get_string("t.empty_string").empty());
  CHECK(f.get_string("t.nul_string") == std::string_view("a\0b", 3));
  CHECK(f.get<std::uint64_t>("t.u64") == std::numeric_limits<std::uint64_t>::max());
  CHECK(f.at("t.u64").type() == gguf_value_type::u64);
  CHECK(f.get<std::int64_t>("t.i64") == std::numeric_limits<std::int64_t>::min());
  CHECK(f.at("t.i64").type() == gguf_value_type::i64);
  CHECK(std::bit_cast<std::uint64_t>(f.get<double>("t.f64")) == std::bit_cast<std::uint64_t>(0.1));
  CHECK(f.at("t.f64").type() == gguf_value_type::f64);

  CHECK(f.get_array<std::uint8_t>("t.u8_array") == std::vector<std::uint8_t>{0, 1, 255});
  CHECK(f.at("t.u8_array").array_type() == gguf_value_type::u8);
  CHECK(f.get_array<std::int8_t>("t.i8_array") == std::vector<std::int8_t>{-128, 0, 127});
  CHECK(f.at("t.i8_array").array_type() == gguf_value_type::i8);
  CHECK(f.get_array<std::uint16_t>("t.u16_array") == std::vector<std::uint16_t>{1, 65535});
  CHECK(f.get_array<std::int16_t>("t.i16_array") == std::vector<std::int16_t>{-32768, 32767});
  CHECK(f.get_array<std::uint32_t>("t.u32_array") == std::vector<std::uint32_t>{7, 4294967295u});
  CHECK(f.get_array<std::int32_t>("t.i32_array") == std::vector<std::int32_t>{-5, 6, 7});
  CHECK(f.at("t.i32_array").array_type() == gguf_value_type::i32);
  const auto f32s = f.get_array<float>("t.f32_array");
  REQUIRE(f32s.size() == 3);
  CHECK(f32s[0] == 1.5f);
  CHECK(std::bit_cast<std::uint32_t>(f32s[1]) == 0x80000000u);
  CHECK(f32s[2] == std::numeric_limits<float>::infinity());
  CHECK(f.at("t.f32_array").array_type() == gguf_value_type::f32);
  CHECK(f.get_array<std::uint64_t>("t.u64_array") == std::vector<std::uint64_t>{1, std::uint64_t{1} << 63});
  CHECK(f.at("t.u64_array").array_type() == gguf_value_type::u64);
  CHECK(f.get_array<std::int64_t>("t.i64_array") ==
        std::vector<std::int64_t>{-1, std::numeric_limits<std::int64_t>::max()});
  CHECK(f.at("t.i64_array").array_type() == gguf_value_type::i64);
  CHECK(f.get_array<double>("t.f64_array") == std::vector<double>{0.25, -1e300});
  CHECK(f.at("t.f64_array").array_type() == gguf_value_type::f64);
  CHECK(f.get_array<bool>("t.bool_array") == std::vector<bool>{true, false, true});
  CHECK(f.at("t.empty_array").size() == 0);
  CHECK(f.at("t.empty_array").array_type() == gguf_value_type::i32);
  CHECK(f.get_string_array("t.string_array") == std::vector<std::string_view>{"a", "", "\xe2\x96\x81the"});
  CHECK(f.get_string_array("t.empty_string_array").empty());

  const gguf_value& n = f.at("t.nested");
  REQUIRE(n.array_type() == gguf_value_type::array);
  REQUIRE(n.size() == 3);
  CHECK(n[0].as_array<std::int32_t>() == std::vector<std::int32_t>{1, 2});
  CHECK(n[1].as_string_array() == std::vector<std::string_view>{"x", "yz"});
  REQUIRE(n[2].array_type() == gguf_value_type::array);
  REQUIRE(n[2].size() == 1);
  CHECK(n[2][0].as_array<std::int32_t>() == std::vector<std::int32_t>{3});
}

}  // namespace

TEST_CASE("gguf_writer: every value type, nested arrays and tensors round-trip through gguf_file",
          "[io][gguf][writer]") {
  const std::uint32_t alignment = GENERATE(32u, 64u);
  INFO("alignment " << alignment);
  gguf_writer w = every_value_writer();
  if (alignment != 32) w.set<std::uint32_t>("general.alignment", alignment);
  CHECK(w.alignment() == alignment);
  const auto specs = sample_tensors();
  for (const auto& s : specs) w.add_tensor(s.name, s.t, s.ne, s.data);  // views
  CHECK(w.tensor_count() == specs.size());

  const std::vector<std::byte> bytes = w.to_bytes();
  CHECK(bytes.size() % alignment == 0);
  const gguf_file f = gguf_file::parse(bytes);
  CHECK(f.version() == 3);
  CHECK(f.alignment() == alignment);
  CHECK(f.data_offset() % alignment == 0);
  CHECK(f.data_offset() == w.header().size());
  check_every_value(f);
  // Metadata in insertion order.
  REQUIRE(f.metadata().size() == w.metadata().size());
  for (std::size_t i = 0; i < w.metadata().size(); ++i) CHECK(f.metadata()[i].first == w.metadata()[i].first);

  REQUIRE(f.tensors().size() == specs.size());
  std::uint64_t expected_offset = 0;
  for (std::size_t i = 0; i < specs.size(); ++i) {
    const auto& t = f.tensors()[i];
    INFO("tensor " << specs[i].name);
    CHECK(t.name == specs[i].name);
    CHECK(t.type == specs[i].t);
    CHECK(t.n_dims == specs[i].ne.size());
    for (std::size_t d = 0; d < 4; ++d) CHECK(t.ne[d] == (d < specs[i].ne.size() ? specs[i].ne[d] : 1));
    CHECK(t.offset == expected_offset);
    CHECK(t.offset % alignment == 0);
    REQUIRE(t.data.size() == specs[i].data.size());
    CHECK(std::memcmp(t.data.data(), specs[i].data.data(), t.data.size()) == 0);
    expected_offset = (expected_offset + t.n_bytes + alignment - 1) / alignment * alignment;
  }
  // Padding after the last tensor too (as ggml writes it), all zeros.
  CHECK(bytes.size() == f.data_offset() + expected_offset);
  const auto& last = f.tensors().back();
  for (std::size_t i = f.data_offset() + last.offset + last.n_bytes; i < bytes.size(); ++i) {
    CHECK(bytes[i] == std::byte{0});
  }

  // The file written to disk holds the same bytes, and gguf_file::open reads it.
  temp_dir dir;
  const fs::path path = dir.path / "every.gguf";
  w.write(path);
  CHECK(!fs::exists(path.string() + ".tmp"));
  CHECK(read_bytes(path) == bytes);
  const gguf_file g = gguf_file::open(path);
  check_every_value(g);
  CHECK(g.tensors().size() == specs.size());
}

TEST_CASE("gguf_writer: zero tensors, zero keys, owned tensor data", "[io][gguf][writer]") {
  SECTION("nothing at all: a 24-byte header padded to 32") {
    const gguf_writer w;
    const auto bytes = w.to_bytes();
    CHECK(bytes.size() == 32);
    const gguf_file f = gguf_file::parse(bytes);
    CHECK(f.metadata().empty());
    CHECK(f.tensors().empty());
    CHECK(f.data_offset() == 32);
  }
  SECTION("metadata but no tensors, alignment 64") {
    gguf_writer w = every_value_writer();
    w.set<std::uint32_t>("general.alignment", 64);
    const auto bytes = w.to_bytes();
    CHECK(bytes.size() % 64 == 0);
    const gguf_file f = gguf_file::parse(bytes);
    check_every_value(f);
    CHECK(f.tensors().empty());
    CHECK(bytes.size() == f.data_offset());
  }
  SECTION("owned data survives the caller's buffer") {
    gguf_writer w;
    std::vector<std::byte> expected = pattern_bytes(34 * 3, 9);
    {
      std::vector<std::byte> data = expected;
      w.add_tensor("owned", type::q8_0, std::vector<std::uint64_t>{96}, std::move(data));
    }
    for (int i = 0; i < 20; ++i) {  // grows the tensor table: owned buffers must not move
      std::string name = "t";
      name += std::to_string(i);
      w.add_tensor(name, type::f32, std::vector<std::uint64_t>{1}, pattern_bytes(4, static_cast<unsigned>(i)));
    }
    const auto bytes = w.to_bytes();
    const gguf_file f = gguf_file::parse(bytes);
    const auto& t = f.tensor("owned");
    REQUIRE(t.data.size() == expected.size());
    CHECK(std::memcmp(t.data.data(), expected.data(), expected.size()) == 0);
    CHECK(f.tensors().size() == 21);
  }
  SECTION("set replaces a key and moves it last, as ggml's gguf_set_val_*") {
    gguf_writer w;
    w.set<std::uint32_t>("a", 1);
    w.set<std::uint32_t>("b", 2);
    w.set("a", 3.0f);
    REQUIRE(w.metadata().size() == 2);
    CHECK(w.metadata()[0].first == "b");
    CHECK(w.metadata()[1].first == "a");
    const auto bytes = w.to_bytes();
    const gguf_file f = gguf_file::parse(bytes);
    CHECK(f.get<float>("a") == 3.0f);
    CHECK(w.remove("a"));
    CHECK(!w.remove("a"));
    w.set<std::uint32_t>("general.alignment", 128);
    CHECK(w.alignment() == 128);
    CHECK(w.remove("general.alignment"));
    CHECK(w.alignment() == 32);
  }
}

TEST_CASE("gguf_writer: rewriting gguf-py's small.gguf gives the same bytes", "[io][gguf][writer]") {
  // small.gguf was written by gguf-py's GGUFWriter (tests/data/gguf/make_gguf_golden.py): alignment 64,
  // every value type, nested arrays, six tensors. Copying its metadata and tensors in file order must
  // reproduce it byte for byte.
  const fs::path src = fs::path(LOWBIT_TEST_DATA_DIR) / "gguf" / "small.gguf";
  const gguf_file in = gguf_file::open(src);
  gguf_writer w;
  for (const auto& [key, value] : in.metadata()) w.set(key, gguf_kv_value::from(value));
  for (const auto& t : in.tensors()) {
    w.add_tensor(t.name, t.type, std::span<const std::uint64_t>(t.ne.data(), t.n_dims), t.data);
  }
  CHECK(w.alignment() == 64);
  const auto original = read_bytes(src);
  const auto bytes = w.to_bytes();
  REQUIRE(bytes.size() == original.size());
  std::size_t first_difference = bytes.size();
  for (std::size_t i = 0; i < bytes.size(); ++i) {
    if (bytes[i] != original[i]) {
      first_difference = i;
      break;
    }
  }
  CHECK(first_difference == bytes.size());
}

TEST_CASE("gguf_writer: header bytes match the GGUF v3 layout", "[io][gguf][writer]") {
  // One u32 KV "ab" = 0x01020304 and one F32 tensor "t" of shape [3]: every byte computed by hand from
  // ggml docs/gguf.md.
  gguf_writer w;
  w.set<std::uint32_t>("ab", 0x01020304u);
  const std::vector<std::byte> data = pattern_bytes(12, 7);
  w.add_tensor("t", type::f32, std::vector<std::uint64_t>{3}, data);
  const auto bytes = w.to_bytes();

  std::vector<unsigned> expected = {
      'G', 'G', 'U', 'F',              // magic
      3,   0,   0,   0,                // version 3
      1,   0,   0,   0,   0, 0, 0, 0,  // tensor_count
      1,   0,   0,   0,   0, 0, 0, 0,  // kv_count
      2,   0,   0,   0,   0, 0, 0, 0,  // key length
      'a', 'b',                        // key
      4,   0,   0,   0,                // value type u32
      4,   3,   2,   1,                // value, little-endian
      1,   0,   0,   0,   0, 0, 0, 0,  // name length
      't',                             // name
      1,   0,   0,   0,                // n_dims
      3,   0,   0,   0,   0, 0, 0, 0,  // ne[0]
      0,   0,   0,   0,                // ggml type F32
      0,   0,   0,   0,   0, 0, 0, 0,  // offset in the data section
  };
  REQUIRE(expected.size() == 75);    // 24 header + 18 KV + 33 tensor info
  expected.resize(96, 0);            // padding to the 32-byte alignment
  REQUIRE(bytes.size() == 96 + 32);  // 12 data bytes padded to 32
  for (std::size_t i = 0; i < expected.size(); ++i) {
    INFO("byte " << i);
    CHECK(std::to_integer<unsigned>(bytes[i]) == expected[i]);
  }
  CHECK(std::memcmp(bytes.data() + 96, data.data(), data.size()) == 0);
  for (std::size_t i = 96 + 12; i < bytes.size(); ++i) CHECK(bytes[i] == std::byte{0});
  CHECK(w.header().size() == 96);
}

TEST_CASE("gguf_writer: bad tensors and keys are errors naming them", "[io][gguf][writer]") {
  gguf_writer w;
  const std::vector<std::uint64_t> ne64{64, 2};
  w.add_tensor("blk.0.w", type::q4_0, ne64, pattern_bytes(4 * 18, 1));

  require_error([&] { w.add_tensor("blk.0.w", type::q4_0, ne64, pattern_bytes(4 * 18, 1)); }, errc::invalid_argument,
                {"'blk.0.w'", "duplicate"});
  require_error([&] { w.add_tensor("short", type::q4_0, ne64, pattern_bytes(4 * 18 - 1, 1)); }, errc::shape_mismatch,
                {"'short'", "Q4_0", "[64, 2]", "needs 72 bytes", "got 71"});
  require_error(
      [&] {
        w.add_tensor("odd", type::q8_0, std::vector<std::uint64_t>{48, 2}, pattern_bytes(102, 1));
      },
      errc::shape_mismatch, {"'odd'", "Q8_0", "ne[0] = 48", "block size 32"});
  require_error([&] { w.add_tensor("k", type::q4_k, std::vector<std::uint64_t>{576}, pattern_bytes(144 * 2, 1)); },
                errc::shape_mismatch, {"'k'", "Q4_K", "block size 256"});
  require_error([&] { w.add_tensor("unknown", static_cast<type>(4), ne64, pattern_bytes(8, 1)); }, errc::unknown_type,
                {"'unknown'", "type id 4"});
  require_error([&] { w.add_tensor("none", type::f32, std::vector<std::uint64_t>{}, pattern_bytes(4, 1)); },
                errc::shape_mismatch, {"'none'", "0 dimensions"});
  require_error(
      [&] {
        w.add_tensor("five", type::f32, std::vector<std::uint64_t>{1, 1, 1, 1, 1}, pattern_bytes(4, 1));
      },
      errc::shape_mismatch, {"'five'", "5 dimensions"});
  require_error(
      [&] {
        w.add_tensor("zero", type::f32, std::vector<std::uint64_t>{4, 0}, pattern_bytes(0, 1));
      },
      errc::shape_mismatch, {"'zero'", "ne[1] = 0"});
  require_error(
      [&] {
        w.add_tensor("huge", type::f32, std::vector<std::uint64_t>{std::uint64_t{1} << 40, std::uint64_t{1} << 40},
                     pattern_bytes(0, 1));
      },
      errc::shape_mismatch, {"'huge'", "INT64_MAX"});
  require_error(
      [&] { w.add_tensor(std::string(64, 'n'), type::f32, std::vector<std::uint64_t>{1}, pattern_bytes(4, 1)); },
      errc::invalid_argument, {"64 bytes", "at most 63"});
  require_error([&] { w.add_tensor("", type::f32, std::vector<std::uint64_t>{1}, pattern_bytes(4, 1)); },
                errc::invalid_argument, {"empty tensor name"});
  CHECK(w.tensor_count() == 1);  // nothing was added by the failures

  require_error([&] { w.set("general.alignment", 64.0f); }, errc::type_mismatch, {"general.alignment", "u32", "f32"});
  require_error([&] { w.set<std::uint32_t>("general.alignment", 48); }, errc::invalid_argument,
                {"general.alignment", "48", "power of two"});
  require_error([&] { w.set<std::uint32_t>("general.alignment", 0); }, errc::invalid_argument, {"general.alignment"});
  require_error([&] { w.set<std::uint32_t>("", 1); }, errc::invalid_argument, {"empty metadata key"});
  CHECK(w.alignment() == 32);

  // Nested arrays: elements must be arrays, and nesting stops at the reader's 16 levels.
  require_error([&] { (void)gguf_kv_value::array_of_arrays({gguf_kv_value::scalar<std::uint8_t>(1)}); },
                errc::invalid_argument, {"element 0", "not an array"});
  const std::vector<std::int32_t> one{1};
  gguf_kv_value v = gguf_kv_value::array<std::int32_t>(one);
  for (int depth = 2; depth <= 16; ++depth) v = gguf_kv_value::array_of_arrays({v});
  gguf_writer deep;
  deep.set("deep", v);
  const auto bytes = deep.to_bytes();
  CHECK_NOTHROW(gguf_file::parse(bytes));
  require_error([&] { (void)gguf_kv_value::array_of_arrays({v}); }, errc::unsupported, {"17 levels"});
  require_error([&] { (void)gguf_kv_value::scalar_bits(gguf_value_type::boolean, 2); }, errc::invalid_argument,
                {"bool value 2"});
  require_error([&] { (void)gguf_kv_value::scalar_bits(gguf_value_type::string, 0); }, errc::invalid_argument,
                {"string is not a scalar type"});
}

TEST_CASE("gguf_writer: writing is atomic", "[io][gguf][writer]") {
  temp_dir dir;
  gguf_writer w;
  w.set<std::uint32_t>("k", 1);
  w.add_tensor("t", type::f32, std::vector<std::uint64_t>{2}, pattern_bytes(8, 1));

  SECTION("a missing directory: io_error, nothing created") {
    const fs::path path = dir.path / "missing" / "out.gguf";
    require_error([&] { w.write(path); }, errc::io_error, {"missing/out.gguf.tmp"});
    CHECK(!fs::exists(dir.path / "missing"));
  }
  SECTION("the rename fails (the target is a non-empty directory): the target is unchanged, no .tmp left") {
    const fs::path path = dir.path / "target";
    fs::create_directories(path / "inside");
    require_error([&] { w.write(path); }, errc::io_error, {"cannot rename", "target.tmp"});
    CHECK(fs::is_directory(path / "inside"));
    CHECK(!fs::exists(dir.path / "target.tmp"));
  }
  SECTION("an existing file is replaced as a whole") {
    const fs::path path = dir.path / "out.gguf";
    {
      std::ofstream old(path, std::ios::binary);
      old << std::string(1000, 'x');
    }
    w.write(path);
    CHECK(read_bytes(path) == w.to_bytes());
    CHECK(!fs::exists(dir.path / "out.gguf.tmp"));
    const gguf_file f = gguf_file::open(path);
    CHECK(f.get<std::uint32_t>("k") == 1);
  }
}
