// SPDX-License-Identifier: Apache-2.0
// Copyright lowbit contributors
//
// lowbit-quantize: re-quantizes a GGUF model to another llama.cpp file type, choosing each tensor's
// type by llama.cpp's rules (rules.hpp) and encoding with lowbit's formats (formats.hpp). The file it
// writes loads in llama.cpp; scripts/check_quantize.sh compares it with llama-quantize's.

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <exception>
#include <filesystem>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "fake_quant.hpp"
#include "formats.hpp"
#include "imatrix.hpp"
#include "lowbit/core/error.hpp"
#include "lowbit/io/gguf.hpp"
#include "lowbit/io/gguf_writer.hpp"
#include "lowbit/quant/dequantize.hpp"
#include "prune.hpp"
#include "rules.hpp"

namespace {

using lowbit::errc;
using lowbit::ggml::type;
namespace io = lowbit::io;
namespace qt = quantize_tool;

constexpr std::uint32_t ggml_qnt_version = 2;  // GGML_QNT_VERSION, ggml/include/ggml.h

void print_usage(std::FILE* f) {
  std::string types;
  for (const auto& t : qt::ftype_table) {
    types += types.empty() ? "" : " ";
    types += std::string(t.name);
  }
  std::string have;
  for (const auto& t : lowbit::ggml::detail::all_type_traits) {
    if (qt::quantize_formats::contains(t.id)) {
      have += have.empty() ? "" : " ";
      have += std::string(t.name);
    }
  }
  std::fprintf(
      f,
      "usage: lowbit-quantize [options] IN.gguf OUT.gguf TYPE\n"
      "\n"
      "Re-quantizes every tensor of IN.gguf that llama.cpp would quantize to the type llama.cpp's\n"
      "rules choose for file type TYPE, copies all metadata (general.file_type updated) and writes\n"
      "OUT.gguf atomically.\n"
      "\n"
      "options:\n"
      "  --tensor-type PATTERN=GGML_TYPE  tensors whose name matches the regex PATTERN get GGML_TYPE\n"
      "                                   (repeatable; the first match wins; as llama-quantize)\n"
      "  --output-tensor-type GGML_TYPE   type of output.weight\n"
      "  --token-embedding-type GGML_TYPE type of token_embd.weight\n"
      "  --leave-output-tensor            keep output.weight as it is\n"
      "  --pure                           no mixture rules: every quantized tensor gets TYPE's type\n"
      "  --fake-quant SPEC                (TYPE F32) the weights llama.cpp quantizes for Q8_0 are re-quantized\n"
      "                                   with a lowbit parametric format and stored decoded, as F32:\n"
      "                                   int8_per_channel int4_g32_asym nf4_g64 fp8_e4m3_per_channel\n"
      "                                   mxfp4_g32 binary_g128\n"
      "  --imatrix FILE                   importance matrix (llama-imatrix's GGUF or legacy .dat file)\n"
      "  --prune SPEC                     before quantizing, prune the blocks' projection weights (attn q/k/v/\n"
      "                                   qkv/output, ffn gate/up/down; never token_embd, output or norms) per\n"
      "                                   output row: SPEC is N:M along K (e.g. 2:4) or a sparsity (50%%, 0.5)\n"
      "  --method magnitude|wanda         pruning score (default magnitude): |w|, or Wanda's |w| * ||x_j||_2\n"
      "                                   with ||x_j||_2 from --imatrix (required for wanda)\n"
      "  --threads T                      threads (default: all hardware threads)\n"
      "  --allow-requantize               accepted for llama-quantize compatibility (always allowed)\n"
      "\n"
      "TYPE: %s\n"
      "tensor types this build encodes and decodes: %s\n",
      types.c_str(), have.c_str());
}

[[noreturn]] void usage_error(const std::string& message) {
  std::fprintf(stderr, "lowbit-quantize: %s\n\n", message.c_str());
  print_usage(stderr);
  std::exit(2);
}

struct arguments {
  std::string input, output, type;
  std::string imatrix;                  ///< --imatrix FILE, empty without
  std::string fake_quant;               ///< --fake-quant SPEC, empty without
  std::optional<qt::prune_spec> prune;  ///< --prune SPEC [--method METHOD]
  qt::options opt;
  unsigned threads = std::max(1u, std::thread::hardware_concurrency());
};

arguments parse_arguments(int argc, char** argv) {
  arguments a;
  std::vector<std::string> positional;
  std::string prune_text, method;
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    const auto value = [&]() -> std::string {
      if (i + 1 >= argc) usage_error("option " + std::string(arg) + " needs a value");
      return argv[++i];
    };
    if (arg == "-h" || arg == "--help") {
      print_usage(stdout);
      std::exit(0);
    } else if (arg == "--tensor-type") {
      const std::string v = value();
      const auto eq = v.find('=');
      if (eq == std::string::npos || eq == 0 || eq + 1 == v.size()) {
        usage_error("--tensor-type wants PATTERN=GGML_TYPE, got '" + v + "'");
      }
      std::string pattern = v.substr(0, eq);
      // llama-quantize lower-cases the pattern (tools/quantize/quantize.cpp, parse_tensor_type).
      for (char& c : pattern) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      a.opt.tensor_types.emplace_back(pattern, qt::find_ggml_type(v.substr(eq + 1)));
    } else if (arg == "--output-tensor-type") {
      a.opt.output_tensor_type = qt::find_ggml_type(value());
    } else if (arg == "--token-embedding-type") {
      a.opt.token_embedding_type = qt::find_ggml_type(value());
    } else if (arg == "--leave-output-tensor") {
      a.opt.quantize_output_tensor = false;
    } else if (arg == "--pure") {
      a.opt.pure = true;
    } else if (arg == "--imatrix") {
      a.imatrix = value();
    } else if (arg == "--fake-quant") {
      a.fake_quant = value();
      if (std::find(std::begin(quantize_tool::fake_quant_names), std::end(quantize_tool::fake_quant_names),
                    a.fake_quant) == std::end(quantize_tool::fake_quant_names)) {
        usage_error("--fake-quant: unknown format '" + a.fake_quant + "'");
      }
    } else if (arg == "--prune") {
      method = method.empty() ? "magnitude" : method;
      prune_text = value();
    } else if (arg == "--method") {
      method = value();
      if (method != "magnitude" && method != "wanda") {
        usage_error("--method: want magnitude or wanda, got '" + method + "'");
      }
    } else if (arg == "--allow-requantize") {
    } else if (arg == "--threads") {
      const std::string v = value();
      unsigned t = 0;
      const auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), t);
      if (ec != std::errc{} || end != v.data() + v.size() || t == 0 || t > 1024) {
        usage_error("--threads wants an integer in 1..1024, got '" + v + "'");
      }
      a.threads = t;
    } else if (arg.size() > 1 && arg[0] == '-') {
      usage_error("unknown option " + std::string(arg));
    } else {
      positional.emplace_back(arg);
    }
  }
  if (positional.size() != 3) usage_error("expected IN.gguf OUT.gguf TYPE");
  a.input = positional[0];
  a.output = positional[1];
  a.type = positional[2];
  if (!a.fake_quant.empty() && a.type != "F32") usage_error("--fake-quant writes F32 files: TYPE must be F32");
  if (prune_text.empty() && !method.empty()) usage_error("--method needs --prune");
  if (!prune_text.empty()) {
    try {
      a.prune = qt::parse_prune_spec(prune_text);
    } catch (const lowbit::error& e) {
      usage_error(e.what());
    }
    a.prune->method = method == "wanda" ? qt::prune_method::wanda : qt::prune_method::magnitude;
    if (a.prune->method == qt::prune_method::wanda && a.imatrix.empty()) {
      usage_error("--method wanda needs --imatrix FILE (the mean of x_j^2 per input column)");
    }
  }
  return a;
}

/// Layer-0 value of a per-layer hyper-parameter that may be a scalar or an array.
std::uint32_t layer0_u32(const io::gguf_file& f, const std::string& key, std::uint32_t fallback) {
  const io::gguf_value* v = f.find(key);
  if (v == nullptr) return fallback;
  if (v->is_array()) {
    lowbit::check(v->size() > 0, errc::invalid_argument,
                  [&] { return "metadata key '" + key + "' is an empty array"; });
    return (*v)[0].as<std::uint32_t>();
  }
  return v->as<std::uint32_t>();
}

qt::model_facts model_facts_of(const io::gguf_file& f) {
  qt::model_facts m;
  m.arch = std::string(f.get_string("general.architecture"));
  m.n_layer = f.get_or<std::uint32_t>(m.arch + ".block_count", 0);
  m.n_head = layer0_u32(f, m.arch + ".attention.head_count", 0);
  m.n_head_kv = layer0_u32(f, m.arch + ".attention.head_count_kv", m.n_head);
  m.n_expert = f.get_or<std::uint32_t>(m.arch + ".expert_count", 0);
  return m;
}

/// ggml_n_dims: the number of dimensions without the trailing extents of 1 (at least 1).
std::uint32_t ggml_n_dims(const io::gguf_tensor_info& t) {
  std::uint32_t n = 4;
  while (n > 1 && t.ne[n - 1] == 1) --n;
  return n;
}

/// Calls body(begin, end) on up to `threads` threads over [0, n) in contiguous chunks; rethrows the
/// first exception a chunk threw.
template <class Body>
void parallel_rows(std::size_t n, unsigned threads, Body body) {
  const std::size_t t = std::max<std::size_t>(1, std::min<std::size_t>(threads, n));
  std::exception_ptr failure;
  std::mutex m;
  const auto run = [&](std::size_t i) {
    try {
      body(n * i / t, n * (i + 1) / t);
    } catch (...) {
      const std::lock_guard lock(m);
      if (!failure) failure = std::current_exception();
    }
  };
  std::vector<std::thread> pool;
  for (std::size_t i = 1; i < t; ++i) pool.emplace_back(run, i);
  run(0);
  for (auto& th : pool) th.join();
  if (failure) std::rethrow_exception(failure);
}

/// Decodes all rows of `t` to f32 (n_rows * ne0 floats) and checks they are finite.
std::vector<float> dequantize_tensor(const io::gguf_tensor_info& t, unsigned threads) {
  const std::size_t k = t.ne[0];
  const std::size_t rows = t.n_rows();
  std::vector<float> out(rows * k);
  lowbit::visit_format(qt::quantize_formats{}, t.type, [&]<class F>(F) {
    const std::size_t row_bytes = k / F::block_size * F::block_bytes;
    parallel_rows(rows, threads, [&](std::size_t r0, std::size_t r1) {
      for (std::size_t r = r0; r < r1; ++r) {
        const std::span<float> dst(out.data() + r * k, k);
        lowbit::dequantize_row<F>(t.data.subspan(r * row_bytes, row_bytes), dst);
        for (std::size_t j = 0; j < k; ++j) {
          lowbit::check(std::isfinite(dst[j]), errc::invalid_argument, [&] {
            return "tensor '" + std::string(t.name) + "' has a non-finite value " + std::to_string(dst[j]) +
                   " at row " + std::to_string(r) + ", column " + std::to_string(j);
          });
        }
      }
    });
  });
  return out;
}

/// Decodes `bytes` (rows of k values of type `t`) to f32.
std::vector<float> decode_rows(std::span<const std::byte> bytes, type t, std::size_t k, unsigned threads) {
  return lowbit::visit_format(qt::quantize_formats{}, t, [&]<class F>(F) {
    const std::size_t row_bytes = k / F::block_size * F::block_bytes;
    const std::size_t rows = bytes.size() / row_bytes;
    std::vector<float> out(rows * k);
    parallel_rows(rows, threads, [&](std::size_t r0, std::size_t r1) {
      for (std::size_t r = r0; r < r1; ++r) {
        lowbit::dequantize_row<F>(bytes.subspan(r * row_bytes, row_bytes), std::span<float>(out.data() + r * k, k));
      }
    });
    return out;
  });
}

/// Encodes `x` (rows of k floats; ne1 rows per expert) to `target`; `importance` is null or holds k
/// floats per expert (ne0 * ne2), row r using expert r / ne1's (llama_tensor_quantize_impl).
std::vector<std::byte> quantize_tensor(std::span<const float> x, std::size_t k, std::size_t rows_per_expert,
                                       const float* importance, type target, unsigned threads) {
  const std::size_t rows = x.size() / k;
  return lowbit::visit_format(qt::quantize_formats{}, target, [&]<class F>(F) {
    const std::size_t blocks_per_row = k / F::block_size;
    std::vector<typename F::block> blocks(rows * blocks_per_row);
    parallel_rows(rows, threads, [&](std::size_t r0, std::size_t r1) {
      for (std::size_t r = r0; r < r1; ++r) {
        const float* w = importance != nullptr ? importance + (r / rows_per_expert) * k : nullptr;
        qt::quantize_row<F>(x.data() + r * k, w, k, blocks.data() + r * blocks_per_row);
      }
    });
    std::vector<std::byte> bytes(blocks.size() * F::block_bytes);
    if (!bytes.empty()) std::memcpy(bytes.data(), blocks.data(), bytes.size());
    return bytes;
  });
}

std::string shape_text(const io::gguf_tensor_info& t) {
  std::string s;
  for (std::uint32_t d = 0; d < ggml_n_dims(t); ++d) {
    s += d ? ", " : "";
    s += std::to_string(t.ne[d]);
  }
  return s;
}

int run(const arguments& args) {
  const qt::ftype_info& ft = qt::find_ftype(args.type);
  const io::gguf_file in = io::gguf_file::open(args.input);

  // Tensors in llama.cpp's order (llama_model_loader's weights_map): the rules' counters depend on it.
  std::vector<const io::gguf_tensor_info*> tensors;
  for (const auto& t : in.tensors()) tensors.push_back(&t);
  std::sort(tensors.begin(), tensors.end(), [](const auto* a, const auto* b) {
    return qt::llama_order_less(std::string(a->name), std::string(b->name));
  });
  std::vector<std::string> names;
  for (const auto* t : tensors) names.emplace_back(t->name);

  // Preliminary pass (as llama_model_quantize_impl's): every target type, and a clear error before any
  // work when a type is neither this build's nor the input's.
  std::optional<qt::imatrix> imatrix;
  if (!args.imatrix.empty()) {
    imatrix = qt::load_imatrix(args.imatrix);
    std::printf("loaded %zu importance matrix entries from %s computed on %u chunks\n", imatrix->values.size(),
                args.imatrix.c_str(), imatrix->chunk_count);
  }
  qt::quantize_state qs(model_facts_of(in), args.opt, names);
  qs.has_imatrix = imatrix && !imatrix->values.empty();
  std::vector<type> targets;
  // --fake-quant: the tensors llama.cpp's rules would convert for Q8_0 (the 2-D weights; with tied
  // embeddings not token_embd, which those rules keep at Q8_0 here).
  std::vector<bool> fake(tensors.size(), false);
  if (!args.fake_quant.empty()) {
    qt::quantize_state q8(model_facts_of(in), args.opt, names);
    const qt::ftype_info& q8_ft = qt::find_ftype("Q8_0");
    for (std::size_t i = 0; i < tensors.size(); ++i) {
      const auto* t = tensors[i];
      const qt::tensor_facts facts{std::string(t->name), t->type, ggml_n_dims(*t), t->ne[0], t->ne[2]};
      fake[i] = qt::target_type(q8, facts, q8_ft) != t->type;
    }
  }
  // --prune: the blocks' projection weights (prune.hpp), checked before any work.
  std::vector<bool> pruned(tensors.size(), false);
  for (std::size_t i = 0; args.prune && i < tensors.size(); ++i) {
    const auto* t = tensors[i];
    pruned[i] = qt::is_pruned_tensor(t->name, ggml_n_dims(*t));
    if (!pruned[i]) continue;
    const std::string name(t->name);
    if (args.prune->nm) {
      lowbit::check(t->ne[0] % args.prune->nm->m == 0, errc::shape_mismatch, [&] {
        return "--prune " + args.prune->text() + ": tensor '" + name + "' has rows of " + std::to_string(t->ne[0]) +
               " weights, not a multiple of M = " + std::to_string(args.prune->nm->m);
      });
    }
    if (args.prune->method == qt::prune_method::wanda) {
      const auto it = imatrix->values.find(name);
      lowbit::check(it != imatrix->values.end(), errc::invalid_argument, [&] {
        return "--method wanda: the importance matrix '" + args.imatrix + "' has no entry for tensor '" + name + "'";
      });
      lowbit::check(it->second.size() == t->ne[0], errc::shape_mismatch, [&] {
        return "--method wanda: the importance matrix entry of '" + name + "' has " +
               std::to_string(it->second.size()) + " values, the tensor has " + std::to_string(t->ne[0]) + " columns";
      });
    }
  }
  for (std::size_t i = 0; i < tensors.size(); ++i) {
    const auto* t = tensors[i];
    const qt::tensor_facts facts{std::string(t->name), t->type, ggml_n_dims(*t), t->ne[0], t->ne[2]};
    const type target = qt::target_type(qs, facts, ft);
    if (target != t->type || pruned[i]) {
      for (type needed : {t->type, target}) {
        lowbit::check(qt::quantize_formats::contains(needed), errc::unsupported, [&] {
          return "tensor '" + std::string(t->name) + "' needs type " + std::string(lowbit::ggml::name(needed)) + " (" +
                 std::string(t->type == needed ? "to decode it"
                                               : "llama.cpp's rules for " + std::string(ft.name) + " choose it") +
                 "), which this build of lowbit-quantize does not have";
        });
      }
    }
    lowbit::check(qs.has_imatrix || target == t->type || !qt::requires_imatrix(t->name, target, ft.id),
                  errc::invalid_argument, [&] {
                    return "tensor '" + std::string(t->name) + "' gets type " +
                           std::string(lowbit::ggml::name(target)) +
                           ", which needs an importance matrix (--imatrix), as llama-quantize requires";
                  });
    targets.push_back(target);
  }

  io::gguf_writer out;
  for (const auto& [key, value] : in.metadata()) {
    if (key == "split.no" || key == "split.count" || key == "split.tensors.count") continue;
    out.set(key, io::gguf_kv_value::from(value));
  }
  out.set("general.quantization_version", ggml_qnt_version);
  out.set("general.file_type", static_cast<std::uint32_t>(ft.id));
  if (qs.has_imatrix) {
    // The keys llama-quantize adds (tools/quantize/quantize.cpp; strings cut to 127 bytes).
    out.set_string("quantize.imatrix.file", args.imatrix.substr(0, 127));
    if (!imatrix->datasets.empty()) out.set_string("quantize.imatrix.dataset", imatrix->datasets[0].substr(0, 127));
    out.set("quantize.imatrix.entries_count", static_cast<std::uint32_t>(imatrix->values.size()));
    if (imatrix->chunk_count > 0) out.set("quantize.imatrix.chunks_count", imatrix->chunk_count);
  }

  std::uint64_t size_in = 0, size_out = 0;
  double fake_bits = 0, fake_elements = 0;
  qt::zero_count prune_before, prune_after;  // totals over the pruned tensors
  // Prunes x (tensor t's f32 values) in place and counts its zeros.
  const auto prune_tensor = [&](const io::gguf_tensor_info& t, std::vector<float>& x) {
    const std::size_t k = t.ne[0];
    std::span<const float> mean_sq;
    if (args.prune->method == qt::prune_method::wanda) mean_sq = imatrix->values.at(std::string(t.name));
    parallel_rows(x.size() / k, args.threads,
                  [&](std::size_t r0, std::size_t r1) { qt::prune_rows(x, k, r0, r1, *args.prune, mean_sq); });
    const qt::zero_count c = qt::count_zeros(x, k, args.prune->nm);
    prune_before.zeros += c.zeros;
    prune_before.elements += c.elements;
  };
  // Logs the zeros of a pruned tensor after quantization (decoded values).
  const auto report_pruned = [&](std::span<const float> decoded, std::size_t k, std::string_view value_type) {
    const qt::zero_count c = qt::count_zeros(decoded, k, args.prune->nm);
    prune_after.zeros += c.zeros;
    prune_after.elements += c.elements;
    prune_after.nm_groups += c.nm_groups;
    prune_after.nm_groups_ok += c.nm_groups_ok;
    std::printf("           pruned %s by %s: sparsity after quantization to %s = %.2f%%", args.prune->text().c_str(),
                std::string(args.prune->method_name()).c_str(), std::string(value_type).c_str(),
                100.0 * static_cast<double>(c.zeros) / static_cast<double>(std::max<std::size_t>(1, c.elements)));
    if (c.nm_groups > 0) {
      std::printf(", groups of %zu with <= %zu non-zeros = %.2f%%", args.prune->nm->m, args.prune->nm->n,
                  100.0 * static_cast<double>(c.nm_groups_ok) / static_cast<double>(c.nm_groups));
    }
    std::printf("\n");
  };
  for (std::size_t i = 0; i < tensors.size(); ++i) {
    const io::gguf_tensor_info& t = *tensors[i];
    std::printf("[%4zu/%4zu] %-36s - [%s], type = %6s, ", i + 1, tensors.size(), std::string(t.name).c_str(),
                shape_text(t).c_str(), std::string(lowbit::ggml::name(t.type)).c_str());
    std::vector<std::uint64_t> ne(t.ne.begin(), t.ne.begin() + ggml_n_dims(t));
    size_in += t.n_bytes;
    if (fake[i]) {
      std::vector<float> x = dequantize_tensor(t, args.threads);
      if (pruned[i]) prune_tensor(t, x);
      const auto r = quantize_tool::fake_quantize(args.fake_quant, x, x.size() / t.ne[0], t.ne[0]);
      std::vector<std::byte> bytes(r.decoded.size() * sizeof(float));
      std::memcpy(bytes.data(), r.decoded.data(), bytes.size());
      fake_bits += r.bits_per_weight * static_cast<double>(x.size());
      fake_elements += static_cast<double>(x.size());
      size_out += bytes.size();
      std::printf("%s, decoded to F32 (%.3f bits per weight packed)\n", args.fake_quant.c_str(), r.bits_per_weight);
      if (pruned[i]) report_pruned(r.decoded, t.ne[0], args.fake_quant);
      out.add_tensor(t.name, type::f32, ne, std::move(bytes));
    } else if (targets[i] == t.type && !pruned[i]) {
      out.add_tensor(t.name, t.type, ne, t.data);  // the input stays mapped until the write
      size_out += t.n_bytes;
      std::printf("size = %8.3f MiB\n", static_cast<double>(t.n_bytes) / 1048576.0);
    } else {
      const float* importance = nullptr;
      if (qs.has_imatrix) {
        const auto it = imatrix->values.find(std::string(t.name));
        if (it == imatrix->values.end()) {
          std::printf("(no importance matrix entry) ");
        } else if (it->second.size() == t.ne[0] * t.ne[2]) {
          importance = it->second.data();
        } else {
          // llama.cpp ignores a mismatched entry for token_embd only.
          lowbit::check(t.name == "token_embd.weight" || t.name == "per_layer_token_embd.weight", errc::shape_mismatch,
                        [&] {
                          return "importance matrix entry of '" + std::string(t.name) + "' has " +
                                 std::to_string(it->second.size()) + " values, the tensor needs " +
                                 std::to_string(t.ne[0] * t.ne[2]);
                        });
        }
      }
      lowbit::check(importance != nullptr || !qt::requires_imatrix(t.name, targets[i], ft.id), errc::invalid_argument,
                    [&] { return "missing importance matrix entry for tensor '" + std::string(t.name) + "'"; });
      std::vector<float> x = dequantize_tensor(t, args.threads);
      if (pruned[i]) prune_tensor(t, x);
      std::vector<std::byte> q = quantize_tensor(x, t.ne[0], t.ne[1], importance, targets[i], args.threads);
      size_out += q.size();
      std::printf("converting to %s .. size = %8.2f MiB -> %8.2f MiB\n",
                  std::string(lowbit::ggml::name(targets[i])).c_str(), static_cast<double>(t.n_bytes) / 1048576.0,
                  static_cast<double>(q.size()) / 1048576.0);
      if (pruned[i]) {
        report_pruned(decode_rows(q, targets[i], t.ne[0], args.threads), t.ne[0], lowbit::ggml::name(targets[i]));
      }
      out.add_tensor(t.name, targets[i], ne, std::move(q));
    }
  }
  out.write(args.output);
  std::printf("model size  = %8.2f MiB\nquant size  = %8.2f MiB\n", static_cast<double>(size_in) / 1048576.0,
              static_cast<double>(size_out) / 1048576.0);
  if (qs.n_fallback > 0) {
    std::printf("%d of %zu tensor(s) required fallback quantization\n", qs.n_fallback, tensors.size());
  }
  if (fake_elements > 0) {
    std::printf("fake-quant: %s bits_per_weight=%.4f packed_bytes=%.0f\n", args.fake_quant.c_str(),
                fake_bits / fake_elements, fake_bits / 8.0);
  }
  if (args.prune) {
    const auto pct = [](const qt::zero_count& c) {
      return 100.0 * static_cast<double>(c.zeros) / static_cast<double>(std::max<std::size_t>(1, c.elements));
    };
    std::printf("prune: %s by %s on %zu tensors (%zu weights): sparsity %.2f%% before quantization, %.2f%% after",
                args.prune->text().c_str(), std::string(args.prune->method_name()).c_str(),
                static_cast<std::size_t>(std::count(pruned.begin(), pruned.end(), true)), prune_before.elements,
                pct(prune_before), pct(prune_after));
    if (prune_after.nm_groups > 0) {
      std::printf("; %zu:%zu groups holding the pattern after quantization %.2f%%", args.prune->nm->n,
                  args.prune->nm->m,
                  100.0 * static_cast<double>(prune_after.nm_groups_ok) / static_cast<double>(prune_after.nm_groups));
    }
    std::printf("\n");
  }
  std::printf("wrote %s\n", args.output.c_str());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    const arguments args = parse_arguments(argc, argv);
    return run(args);
  } catch (const lowbit::error& e) {
    std::fprintf(stderr, "lowbit-quantize: %s\n", e.what());
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "lowbit-quantize: error: %s\n", e.what());
    return 1;
  }
}
