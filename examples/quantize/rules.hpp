// SPDX-License-Identifier: Apache-2.0
// Copyright lowbit contributors
#pragma once

// Which GGML type each tensor of a model gets when quantizing to a llama.cpp "file type": the rules
// of llama.cpp's src/llama-quant.cpp (`tensor_allows_quantization`, `tensor_get_category`,
// `llama_tensor_get_type`, `llama_tensor_get_type_impl`, `tensor_type_fallback`,
// `llama_ftype_get_default_type`), llama.cpp as vendored by llama-cpp-python 0.3.36, written again
// for the file types whose tensor types lowbit has or is adding. The ids and names of the file types
// are `enum llama_ftype` (include/llama.h) and the table of tools/quantize/quantize.cpp.

#include <algorithm>
#include <array>
#include <cctype>
#include <cstdint>
#include <cstdio>
#include <initializer_list>
#include <optional>
#include <regex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "lowbit/core/error.hpp"
#include "lowbit/formats/ggml/type.hpp"

namespace quantize_tool {

using lowbit::ggml::type;

/// A llama.cpp file type (`enum llama_ftype`, include/llama.h): the value of `general.file_type`.
enum class ftype : std::uint32_t {
  all_f32 = 0,
  mostly_f16 = 1,
  mostly_q4_0 = 2,
  mostly_q4_1 = 3,
  mostly_q8_0 = 7,
  mostly_q5_0 = 8,
  mostly_q5_1 = 9,
  mostly_q2_k = 10,
  mostly_q3_k_s = 11,
  mostly_q3_k_m = 12,
  mostly_q3_k_l = 13,
  mostly_q4_k_s = 14,
  mostly_q4_k_m = 15,
  mostly_q5_k_s = 16,
  mostly_q5_k_m = 17,
  mostly_q6_k = 18,
  mostly_iq2_xxs = 19,
  mostly_iq2_xs = 20,
  mostly_q2_k_s = 21,
  mostly_iq3_xs = 22,
  mostly_iq3_xxs = 23,
  mostly_iq1_s = 24,
  mostly_iq4_nl = 25,
  mostly_iq3_s = 26,
  mostly_iq3_m = 27,
  mostly_iq2_s = 28,
  mostly_iq2_m = 29,
  mostly_iq4_xs = 30,
  mostly_iq1_m = 31,
  mostly_bf16 = 32,
  mostly_tq1_0 = 36,
  mostly_tq2_0 = 37,
  mostly_mxfp4_moe = 38,
  mostly_q1_0 = 40,
  mostly_q2_0 = 41,
};

/// A file type as the command line names it, with its default tensor type
/// (`llama_ftype_get_default_type`).
struct ftype_info {
  std::string_view name;  ///< as llama-quantize accepts it ("Q4_K_M"); aliases map to the same id
  ftype id;
  type default_type;
};

inline constexpr std::array<ftype_info, 38> ftype_table{{
    {"F32", ftype::all_f32, type::f32},
    {"F16", ftype::mostly_f16, type::f16},
    {"BF16", ftype::mostly_bf16, type::bf16},
    {"Q4_0", ftype::mostly_q4_0, type::q4_0},
    {"Q4_1", ftype::mostly_q4_1, type::q4_1},
    {"Q5_0", ftype::mostly_q5_0, type::q5_0},
    {"Q5_1", ftype::mostly_q5_1, type::q5_1},
    {"Q8_0", ftype::mostly_q8_0, type::q8_0},
    {"Q2_K", ftype::mostly_q2_k, type::q2_k},
    {"Q2_K_S", ftype::mostly_q2_k_s, type::q2_k},
    {"Q3_K", ftype::mostly_q3_k_m, type::q3_k},
    {"Q3_K_S", ftype::mostly_q3_k_s, type::q3_k},
    {"Q3_K_M", ftype::mostly_q3_k_m, type::q3_k},
    {"Q3_K_L", ftype::mostly_q3_k_l, type::q3_k},
    {"Q4_K", ftype::mostly_q4_k_m, type::q4_k},
    {"Q4_K_S", ftype::mostly_q4_k_s, type::q4_k},
    {"Q4_K_M", ftype::mostly_q4_k_m, type::q4_k},
    {"Q5_K", ftype::mostly_q5_k_m, type::q5_k},
    {"Q5_K_S", ftype::mostly_q5_k_s, type::q5_k},
    {"Q5_K_M", ftype::mostly_q5_k_m, type::q5_k},
    {"Q6_K", ftype::mostly_q6_k, type::q6_k},
    {"IQ4_NL", ftype::mostly_iq4_nl, type::iq4_nl},
    {"IQ4_XS", ftype::mostly_iq4_xs, type::iq4_xs},
    {"TQ1_0", ftype::mostly_tq1_0, type::tq1_0},
    {"TQ2_0", ftype::mostly_tq2_0, type::tq2_0},
    {"MXFP4_MOE", ftype::mostly_mxfp4_moe, type::mxfp4},
    {"Q1_0", ftype::mostly_q1_0, type::q1_0},
    {"Q2_0", ftype::mostly_q2_0, type::q2_0},
    {"IQ2_XXS", ftype::mostly_iq2_xxs, type::iq2_xxs},
    {"IQ2_XS", ftype::mostly_iq2_xs, type::iq2_xs},
    {"IQ2_S", ftype::mostly_iq2_s, type::iq2_xs},
    {"IQ2_M", ftype::mostly_iq2_m, type::iq2_s},
    {"IQ1_S", ftype::mostly_iq1_s, type::iq1_s},
    {"IQ1_M", ftype::mostly_iq1_m, type::iq1_m},
    {"IQ3_XXS", ftype::mostly_iq3_xxs, type::iq3_xxs},
    {"IQ3_XS", ftype::mostly_iq3_xs, type::iq3_s},
    {"IQ3_S", ftype::mostly_iq3_s, type::iq3_s},
    {"IQ3_M", ftype::mostly_iq3_m, type::iq3_s},
}};

/// ASCII upper case of `s`.
inline std::string upper(std::string_view s) {
  std::string r(s);
  for (char& c : r) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return r;
}

/// The file type named `name` (case-insensitive).
///
/// throws lowbit::error{errc::invalid_argument} listing the accepted names.
inline const ftype_info& find_ftype(std::string_view name) {
  const std::string u = upper(name);
  for (const auto& f : ftype_table) {
    if (f.name == u) return f;
  }
  std::string names;
  for (const auto& f : ftype_table) {
    names += names.empty() ? "" : ", ";
    names += std::string(f.name);
  }
  throw lowbit::error(lowbit::errc::invalid_argument,
                      "unknown quantization type '" + std::string(name) + "'; known: " + names);
}

/// The GGML type named `name` (case-insensitive, "q4_0", "F16"), as llama-quantize's
/// `parse_ggml_type` reads it.
///
/// throws lowbit::error{errc::invalid_argument}.
inline type find_ggml_type(std::string_view name) {
  const std::string u = upper(name);
  for (const auto& t : lowbit::ggml::detail::all_type_traits) {
    if (t.name == u) return t.id;
  }
  throw lowbit::error(lowbit::errc::invalid_argument, "unknown GGML type '" + std::string(name) + "'");
}

/// ggml_is_quantized: a type with blocks of more than one element.
inline bool is_quantized(type t) {
  const auto traits = lowbit::ggml::find_type_traits(static_cast<std::uint32_t>(t));
  return traits && traits->block_size > 1;
}

/// The elements per block of `t`.
inline std::uint64_t block_size(type t) {
  const auto traits = lowbit::ggml::find_type_traits(static_cast<std::uint32_t>(t));
  lowbit::check(traits.has_value(), lowbit::errc::unknown_type,
                [&] { return "unknown ggml type id " + std::to_string(static_cast<std::uint32_t>(t)); });
  return traits->block_size;
}

/// The model facts the rules read (from the GGUF metadata, as `llama_quant_model_from_metadata` does).
struct model_facts {
  std::string arch;         ///< general.architecture ("llama")
  std::uint32_t n_layer;    ///< <arch>.block_count
  std::uint32_t n_head;     ///< <arch>.attention.head_count (layer 0)
  std::uint32_t n_head_kv;  ///< <arch>.attention.head_count_kv (layer 0; n_head when absent)
  std::uint32_t n_expert;   ///< <arch>.expert_count (0 when absent)

  /// `llama_hparams::n_gqa`: n_head / n_head_kv, 0 when n_head_kv is 0.
  [[nodiscard]] std::uint32_t n_gqa() const noexcept { return n_head_kv == 0 ? 0 : n_head / n_head_kv; }

  /// LLM_TYPE_70B as llama.cpp's models infer it (src/models/llama.cpp, qwen2.cpp, deci.cpp, olmo.cpp,
  /// jais2.cpp): the only model size the rules look at.
  [[nodiscard]] bool is_70b() const noexcept {
    if (arch == "llama") return n_layer == 80 && n_head != n_head_kv;
    if (arch == "qwen2" || arch == "deci" || arch == "olmo") return n_layer == 80;
    if (arch == "jais2") return n_layer == 68;
    return false;
  }
};

/// A tensor's broad role (`tensor_category` / `tensor_get_category`).
enum class category {
  output,
  token_embd,
  attn_qkv,
  attn_kv_b,
  attn_v,
  attn_k,
  attn_q,
  attn_output,
  ffn_up,
  ffn_gate,
  ffn_down,
  other
};

/// `tensor_get_category`: the category of a tensor by its name.
inline category category_of(std::string_view name) {
  const auto has = [&](std::string_view s) { return name.find(s) != std::string_view::npos; };
  if (name == "output.weight") return category::output;
  if (name == "token_embd.weight" || name == "per_layer_token_embd.weight") return category::token_embd;
  if (has("attn_qkv.weight")) return category::attn_qkv;
  if (has("attn_kv_b.weight")) return category::attn_kv_b;
  if (has("attn_v.weight")) return category::attn_v;
  if (has("attn_k.weight")) return category::attn_k;
  if (has("attn_q.weight")) return category::attn_q;
  if (has("attn_output.weight")) return category::attn_output;
  if (has("ffn_up")) return category::ffn_up;
  if (has("ffn_gate")) return category::ffn_gate;
  if (has("ffn_down")) return category::ffn_down;
  return category::other;
}

/// `category_is_attn_v`: attn_v, attn_qkv and attn_kv_b (the tensors most sensitive to quantization).
inline bool is_attn_v_like(category c) {
  return c == category::attn_v || c == category::attn_qkv || c == category::attn_kv_b;
}

/// The options of the command line that change the choice (llama_model_quantize_params).
struct options {
  std::vector<std::pair<std::string, type>> tensor_types;  ///< --tensor-type PATTERN=TYPE, in order
  std::optional<type> output_tensor_type;                  ///< --output-tensor-type
  std::optional<type> token_embedding_type;                ///< --token-embedding-type
  bool quantize_output_tensor = true;                      ///< false with --leave-output-tensor
  bool pure = false;                                       ///< --pure: no mixture rules
};

/// `tensor_allows_quantization`: only 2-D and 3-D "...weight" tensors that are not norms, expert
/// gates, positional embeddings or the small special tensors llama.cpp lists. `n_dims` is
/// ggml_n_dims (trailing extents of 1 not counted).
inline bool allows_quantization(const options& opt, std::string_view name, std::uint32_t n_dims) {
  if (n_dims < 2) return false;
  const auto has = [&](std::string_view s) { return name.find(s) != std::string_view::npos; };
  bool q = name.size() >= 6 && name.substr(name.size() - 6) == "weight";
  q = q && !has("_norm.weight");
  q = q && (opt.quantize_output_tensor || name != "output.weight");
  for (std::string_view s : {"ffn_gate_inp.weight",
                             "ffn_gate_tid2eid.weight",
                             "altup",
                             "laurel",
                             "per_layer_model_proj",
                             "ssm_conv1d",
                             "shortconv.conv.weight",
                             "indexer.k_proj.weight",
                             "indexer.q_proj.weight",
                             "time_mix_first.weight",
                             "time_mix_w0.weight",
                             "time_mix_w1.weight",
                             "time_mix_w2.weight",
                             "time_mix_v0.weight",
                             "time_mix_v1.weight",
                             "time_mix_v2.weight",
                             "time_mix_a0.weight",
                             "time_mix_a1.weight",
                             "time_mix_a2.weight",
                             "time_mix_g1.weight",
                             "time_mix_g2.weight",
                             "time_mix_decay_w1.weight",
                             "time_mix_decay_w2.weight",
                             "time_mix_lerp_fused.weight",
                             "attn_rel_b.weight",
                             ".position_embd",
                             "sam.pos_embd",
                             "sam.neck.",
                             "sam.net_",
                             ".rel_pos",
                             ".patch_embd",
                             ".patch_merger",
                             "a.rvq.codebook",
                             "mm.a.code_embd"}) {
    q = q && !has(s);
  }
  q = q && name != "position_embd.weight" && name != "token_types.weight";
  return q;
}

/// The state `llama_tensor_get_type_impl` keeps between tensors (`quantize_state_impl`): counters
/// of attn_v / ffn tensors seen, in llama.cpp's tensor order (see `llama_order_less`).
struct quantize_state {
  model_facts model;
  options opt;
  int n_attention_wv = 0;
  int i_attention_wv = 0;
  int n_ffn_down = 0, n_ffn_gate = 0, n_ffn_up = 0;
  int i_ffn_down = 0, i_ffn_gate = 0, i_ffn_up = 0;
  int n_fallback = 0;
  bool has_imatrix = false;
  bool has_tied_embeddings = true;
  std::vector<std::pair<std::regex, type>> patterns;

  /// `quantize_state_impl` + `init_quantize_state_counters` over all tensor names.
  quantize_state(model_facts m, options o, const std::vector<std::string>& names)
      : model(std::move(m)), opt(std::move(o)) {
    for (const auto& [p, t] : opt.tensor_types) {
      try {
        patterns.emplace_back(std::regex(p), t);
      } catch (const std::regex_error& e) {
        throw lowbit::error(lowbit::errc::invalid_argument, "--tensor-type: bad regex '" + p + "': " + e.what());
      }
    }
    for (const auto& n : names) {
      const category c = category_of(n);
      if (is_attn_v_like(c)) ++n_attention_wv;
      if (c == category::output) has_tied_embeddings = false;
    }
    n_ffn_down = n_ffn_gate = n_ffn_up = static_cast<int>(model.n_layer);
  }
};

/// llama.cpp's tensor order (`llama_model_loader::weight_name_comparer`): by the layer number of a
/// "blk.N." prefix (-1 without one), then by name.
inline bool llama_order_less(const std::string& a, const std::string& b) {
  int la = -1, lb = -1;
  std::sscanf(a.c_str(), "blk.%d.", &la);
  std::sscanf(b.c_str(), "blk.%d.", &lb);
  if (la != lb) return la < lb;
  return a < b;
}

/// `tensor_type_fallback`: a type whose block does not divide the row length ne0 is replaced by a
/// 32-element relative (Q4_K -> Q5_0, Q5_K -> Q5_1, Q6_K -> Q8_0, Q2_K/Q3_K/TQ1_0/TQ2_0 -> Q4_0,
/// IQ4_XS -> IQ4_NL), and by F16 when that does not fit either.
inline type fallback(quantize_state& qs, std::string_view name, std::uint64_t ne0, type target) {
  if (ne0 % block_size(target) == 0) return target;
  ++qs.n_fallback;
  type r = target;
  switch (target) {
    case type::iq1_s:
    case type::iq1_m:
    case type::iq2_xxs:
    case type::iq2_xs:
    case type::iq2_s:
    case type::iq3_xxs:
    case type::iq3_s:
    case type::iq4_xs:
      r = type::iq4_nl;
      break;
    case type::q2_0:
    case type::q2_k:
    case type::q3_k:
    case type::tq1_0:
    case type::tq2_0:
      r = type::q4_0;
      break;
    case type::q4_k:
      r = type::q5_0;
      break;
    case type::q5_k:
      r = type::q5_1;
      break;
    case type::q6_k:
      r = type::q8_0;
      break;
    default:
      lowbit::check(block_size(target) <= 32, lowbit::errc::unsupported, [&] {
        return "tensor '" + std::string(name) + "': no fallback type for " + std::string(lowbit::ggml::name(target));
      });
      break;
  }
  if (ne0 % block_size(r) != 0) r = type::f16;
  std::fprintf(stderr,
               "warning: %-36s - ncols %6llu not divisible by %3llu (required for type %7s) -> falling back to %7s\n",
               std::string(name).c_str(), static_cast<unsigned long long>(ne0),
               static_cast<unsigned long long>(block_size(target)), std::string(lowbit::ggml::name(target)).c_str(),
               std::string(lowbit::ggml::name(r)).c_str());
  return r;
}

/// `llama_tensor_get_type_impl`: the type a tensor of category `cat` gets in a file of type `ft` when
/// the default would be `t` (before the fallback). Every branch of llama.cpp's function is here, for
/// every file type of `ftype_table`; the architectures it names are compared by their GGUF name
/// ("falcon", "glm5-next").
inline type mixture_type(quantize_state& qs, type t, std::string_view name, std::uint64_t ne0, std::uint64_t ne2,
                         ftype ft, category cat) {
  using F = ftype;
  const model_facts& m = qs.model;
  const bool falcon = m.arch == "falcon";
  const auto any = [ft](std::initializer_list<F> fs) { return std::find(fs.begin(), fs.end(), ft) != fs.end(); };
  const auto has = [&](std::string_view s) { return name.find(s) != std::string_view::npos; };
  const auto use_more_bits = [](int i_layer, int n_layers) {
    return i_layer < n_layers / 8 || i_layer >= 7 * n_layers / 8 || (i_layer - n_layers / 8) % 3 == 2;
  };
  const int n_expert = std::max<int>(1, static_cast<int>(m.n_expert));
  // For MoE models the layer comes from the name, as the experts are not stored in layer order.
  const auto layer_of = [&](int i_layer, int n_layer) {
    if (n_expert > 1) {
      const std::string n(name);
      lowbit::check(std::sscanf(n.c_str(), "blk.%d.", &i_layer) == 1, lowbit::errc::invalid_argument,
                    [&] { return "cannot find the layer of tensor '" + n + "'"; });
      lowbit::check(i_layer >= 0 && i_layer < n_layer, lowbit::errc::out_of_range, [&] {
        return "tensor '" + n + "': layer " + std::to_string(i_layer) + " outside [0, " + std::to_string(n_layer) + ")";
      });
    }
    return std::pair{i_layer, n_layer};
  };

  if (m.arch == "glm5-next" && (has("attn_q_a") || has("attn_q_b") || has("nextn.eh_proj"))) {
    if (t != type::f32 && t != type::bf16 && t != type::f16) return type::q8_0;
  }

  const bool iq12 =
      any({F::mostly_iq2_xxs, F::mostly_iq2_xs, F::mostly_iq1_s, F::mostly_iq2_s, F::mostly_iq2_m, F::mostly_iq1_m});
  if (cat == category::output || (qs.has_tied_embeddings && cat == category::token_embd)) {
    if (qs.opt.output_tensor_type) return *qs.opt.output_tensor_type;
    if (ft == F::mostly_mxfp4_moe) return type::q8_0;
    if (falcon || ne0 % block_size(t) != 0) return type::q8_0;
    if (iq12 || ft == F::mostly_iq3_xxs) return type::q5_k;
    return t != type::q8_0 ? type::q6_k : t;
  }
  if (ft == F::mostly_mxfp4_moe) {
    // MoE expert tensors (3-D) -> MXFP4, the rest -> Q8_0; BailingMoE3 only for its FFN experts.
    const bool bailing = m.arch == "bailingmoe3";
    const bool bailing_expert =
        bailing && (cat == category::ffn_up || cat == category::ffn_gate || cat == category::ffn_down);
    return ne2 > 1 && (!bailing || bailing_expert) ? type::mxfp4 : type::q8_0;
  }
  if (cat == category::token_embd) {
    if (qs.opt.token_embedding_type) return *qs.opt.token_embedding_type;
    if (any({F::mostly_iq2_xxs, F::mostly_iq2_xs, F::mostly_iq1_s, F::mostly_iq1_m})) return type::q2_k;
    if (any({F::mostly_iq2_s, F::mostly_iq2_m})) return type::iq3_s;
    if (ft == F::mostly_iq3_xxs) return type::iq3_s;
    if (any({F::mostly_tq1_0, F::mostly_tq2_0, F::mostly_q2_0})) return type::q4_k;
    return t;
  }
  const bool iq2sm = any({F::mostly_iq2_s, F::mostly_iq2_m});
  if (iq12) {
    if (is_attn_v_like(cat)) {
      t = m.n_gqa() >= 4 || m.n_expert >= 4 ? type::q4_k : iq2sm ? type::iq3_s : type::q2_k;
      ++qs.i_attention_wv;
    } else if (m.n_expert == 8 && cat == category::attn_k) {
      t = type::q4_k;
    } else if (cat == category::ffn_down) {
      if (qs.i_ffn_down < qs.n_ffn_down / 8) t = iq2sm ? type::iq3_s : type::q2_k;
      ++qs.i_ffn_down;
    } else if (cat == category::attn_output) {
      if (m.n_expert == 8) {
        t = type::q5_k;
      } else if (any({F::mostly_iq1_s, F::mostly_iq1_m})) {
        t = type::iq2_xxs;
      } else if (iq2sm) {
        t = type::iq3_s;
      }
    }
    return t;
  }
  if (is_attn_v_like(cat)) {
    if (ft == F::mostly_q2_k) {
      t = m.n_gqa() >= 4 ? type::q4_k : type::q3_k;
    } else if (ft == F::mostly_q2_k_s && m.n_gqa() >= 4) {
      t = type::q4_k;
    } else if (ft == F::mostly_iq3_xxs) {
      t = m.n_gqa() >= 4 ? type::q4_k : !qs.has_imatrix ? type::iq3_s : type::iq3_xxs;
    } else if (any({F::mostly_iq3_xs, F::mostly_iq3_s}) && m.n_gqa() >= 4) {
      t = type::q4_k;
    } else if (ft == F::mostly_iq3_m) {
      t = type::q4_k;
    } else if (ft == F::mostly_q3_k_m) {
      t = qs.i_attention_wv < 2 ? type::q5_k : type::q4_k;
    } else if (ft == F::mostly_q3_k_l) {
      t = type::q5_k;
    } else if (any({F::mostly_iq4_nl, F::mostly_iq4_xs}) && m.n_gqa() >= 4) {
      t = type::q5_k;
    } else if (any({F::mostly_q4_k_m, F::mostly_q5_k_m}) && use_more_bits(qs.i_attention_wv, qs.n_attention_wv)) {
      t = type::q6_k;
    } else if (ft == F::mostly_q4_k_s && qs.i_attention_wv < 4) {
      t = type::q5_k;
    }
    if (m.is_70b() && (t == type::q3_k || t == type::q4_k)) t = type::q5_k;
    if (m.n_expert == 8) t = type::q8_0;
    ++qs.i_attention_wv;
    return t;
  }
  if (cat == category::attn_k) {
    if (m.n_expert == 8) {
      t = type::q8_0;
    } else if (ft == F::mostly_iq3_xs) {
      t = type::iq3_xxs;
    } else if (ft == F::mostly_iq3_xxs) {
      t = type::iq2_s;
    }
    return t;
  }
  if (cat == category::attn_q) {
    if (ft == F::mostly_iq3_xs) {
      t = type::iq3_xxs;
    } else if (ft == F::mostly_iq3_xxs) {
      t = type::iq2_s;
    }
    return t;
  }
  if (cat == category::ffn_down) {
    const auto [i_layer, n_layer] = layer_of(qs.i_ffn_down, qs.n_ffn_down);
    if (ft == F::mostly_q2_k) {
      t = type::q3_k;
    } else if (ft == F::mostly_q2_k_s) {
      if (i_layer < n_layer / 8) t = type::q4_k;
    } else if (ft == F::mostly_iq3_xxs && !qs.has_imatrix) {
      t = i_layer < n_layer / 8 ? type::q4_k : type::q3_k;
    } else if (ft == F::mostly_q3_k_m) {
      t = i_layer < n_layer / 16 ? type::q5_k : !falcon || use_more_bits(i_layer, n_layer) ? type::q4_k : type::q3_k;
    } else if (ft == F::mostly_iq3_m &&
               (i_layer < n_layer / 8 || (m.n_expert == 8 && use_more_bits(i_layer, n_layer)))) {
      t = type::q4_k;
    } else if (ft == F::mostly_q3_k_l) {
      t = falcon ? type::q4_k : type::q5_k;
    } else if (ft == F::mostly_q4_k_m) {
      if (falcon) {
        t = i_layer < n_layer / 16 ? type::q6_k : use_more_bits(i_layer, n_layer) ? type::q5_k : type::q4_k;
      } else if (use_more_bits(i_layer, n_layer)) {
        t = type::q6_k;
      }
    } else if (i_layer < n_layer / 8 && any({F::mostly_iq4_nl, F::mostly_iq4_xs}) && !qs.has_imatrix) {
      t = type::q5_k;
    } else if (ft == F::mostly_q5_k_m && use_more_bits(i_layer, n_layer)) {
      t = type::q6_k;
    } else if (ft == F::mostly_q4_k_s && !falcon && i_layer < n_layer / 8) {
      t = type::q5_k;
    } else if (any({F::mostly_q4_0, F::mostly_q5_0}) && qs.has_imatrix && i_layer < n_layer / 8) {
      t = ft == F::mostly_q4_0 ? type::q4_1 : type::q5_1;
    }
    ++qs.i_ffn_down;
    return t;
  }
  if (cat == category::attn_output) {
    if (!falcon) {
      if (m.n_expert == 8) {
        if (any({F::mostly_q2_k, F::mostly_iq3_xs, F::mostly_iq3_xxs, F::mostly_q3_k_s, F::mostly_q3_k_m,
                 F::mostly_iq4_nl, F::mostly_q4_k_s, F::mostly_q4_k_m, F::mostly_iq3_s, F::mostly_iq3_m,
                 F::mostly_iq4_xs})) {
          t = type::q5_k;
        }
      } else if (ft == F::mostly_q2_k) {
        t = type::q3_k;
      } else if (ft == F::mostly_iq3_xxs) {
        t = type::iq3_s;
      } else if (ft == F::mostly_q3_k_m) {
        t = type::q4_k;
      } else if (ft == F::mostly_q3_k_l) {
        t = type::q5_k;
      } else if (ft == F::mostly_iq3_m) {
        t = type::q4_k;
      }
    } else if (ft == F::mostly_q3_k_l) {
      t = type::q4_k;
    }
    return t;
  }
  // (llama.cpp's ATTENTION_QKV branch comes after the attn_v-like one, which already took those tensors.)
  if (cat == category::ffn_gate || cat == category::ffn_up) {
    int& counter = cat == category::ffn_gate ? qs.i_ffn_gate : qs.i_ffn_up;
    const auto [i_layer, n_layer] = layer_of(counter, cat == category::ffn_gate ? qs.n_ffn_gate : qs.n_ffn_up);
    if (ft == F::mostly_iq3_xs && i_layer >= n_layer / 8 && i_layer < 7 * n_layer / 8) t = type::iq3_xxs;
    ++counter;
    return t;
  }
  return t;
}

/// `tensor_requires_imatrix`: the types that give garbage without an importance matrix (IQ1, IQ2,
/// IQ3_XXS, and Q2_K in a Q2_K_S file); never token_embd or output.
inline bool requires_imatrix(std::string_view name, type t, ftype ft) {
  if (name == "token_embd.weight" || name == "per_layer_token_embd.weight" || name == "output.weight") return false;
  switch (t) {
    case type::iq3_xxs:
    case type::iq2_xxs:
    case type::iq2_xs:
    case type::iq2_s:
    case type::iq1_m:
    case type::iq1_s:
      return true;
    case type::q2_k:
      return ft == ftype::mostly_q2_k_s;
    default:
      return false;
  }
}

/// The tensor's facts the rules need.
struct tensor_facts {
  std::string name;
  type current;
  std::uint32_t n_dims;  ///< ggml_n_dims: trailing extents of 1 not counted
  std::uint64_t ne0, ne2;
};

/// `llama_tensor_get_type`: the type tensor `t` gets in a file of type `ft`. Call it once per
/// tensor, in `llama_order_less` order (the counters of `qs` depend on it).
///
/// throws lowbit::error for a tensor whose row fits no fallback type.
inline type target_type(quantize_state& qs, const tensor_facts& t, const ftype_info& ft) {
  if (!allows_quantization(qs.opt, t.name, t.n_dims)) return t.current;
  const category cat = category_of(t.name);
  if (qs.opt.token_embedding_type && cat == category::token_embd) {
    bool named = false;
    if (t.name == "per_layer_token_embd.weight") {
      for (const auto& [re, tt] : qs.patterns) named = named || std::regex_search(t.name, re);
    }
    if (!named) return *qs.opt.token_embedding_type;
  }
  if (qs.opt.output_tensor_type && cat == category::output) return *qs.opt.output_tensor_type;
  type r = ft.default_type;
  if (is_quantized(ft.default_type)) {
    bool manual = false;
    for (const auto& [re, tt] : qs.patterns) {
      if (std::regex_search(t.name, re)) {
        r = tt;
        manual = true;
        break;
      }
    }
    if (!manual && !qs.opt.pure) r = mixture_type(qs, r, t.name, t.ne0, t.ne2, ft.id, cat);
    r = fallback(qs, t.name, t.ne0, r);
  }
  return r;
}

}  // namespace quantize_tool
