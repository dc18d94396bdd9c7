// SPDX-License-Identifier: Apache-2.0
// Copyright lowbit contributors
//
// Peer benchmark: y = x * W^T through ggml (llama.cpp's tensor library, as built by
// scripts/build_llama.sh: llama.cpp @ 0c1e57098 vendored in llama-cpp-python 0.3.36,
// GGML_NATIVE=ON, GGML_OPENMP=ON, CPU repack + llamafile sgemm on).
//
// One ggml_mul_mat(W, x) per graph on the CPU backend; W (ne = {K, N}) is placed in the
// first buffer type of llama.cpp's CPU list (extra/repack buffer types, then the plain
// CPU buffer) whose device supports the MUL_MAT, exactly as llama-model-loader's
// select_weight_buft does: on x86 the "CPU_REPACK" buffer (rows interleaved for ggml's repacked
// GEMM/GEMV, ggml-cpu/repack.cpp) takes Q4_0 and Q4_K with AVX2 and Q2_K with AVX-512; Q5_0, Q5_1,
// Q3_K, Q5_K and Q6_K stay in the plain CPU buffer. The buffer type is printed on stderr per case.
// Only ggml_backend_graph_compute is timed.
//
// stdout: impl,format,M,N,K,threads,weights,seconds_per_call   (one line per measurement)
// stderr: buffer type used for each format/shape, correctness checks, progress.
//
// Usage: peer_ggml [--shapes MxNxK,...] [--threads 1,2] [--formats Q4_0,Q8_0,...]
//                  [--weights hot,cold] [--min-time 0.5] [--stat median|min] [--header] [--no-check]
#include "ggml.h"
#include "ggml-alloc.h"
#include "ggml-backend.h"
#include "ggml-cpu.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "peer_common.hpp"

namespace {

using peer::Shape;
using peer::die;
using peer::split;
using peer::parse_shape;
const std::vector<std::string> kDefaultFormats = {
    "Q4_0", "Q4_1", "Q5_0", "Q5_1", "Q8_0", "Q4_K", "Q5_K", "Q6_K", "Q2_K", "Q3_K", "IQ4_NL", "TQ2_0", "BF16", "F32"};

ggml_type type_from_name(const std::string& name) {
    for (int t = 0; t < GGML_TYPE_COUNT; ++t) {
        const char* n = ggml_type_name((ggml_type)t);
        if (n && ggml_get_type_traits((ggml_type)t)->blck_size > 0) {
            std::string u = n;
            for (auto& c : u) c = (char)std::toupper((unsigned char)c);
            if (u == name) return (ggml_type)t;
        }
    }
    die("unknown ggml type '" + name + "' (use GGUF names such as Q4_0, Q4_K, IQ4_NL, BF16, F32)");
}

using clk = std::chrono::steady_clock;


// llama.cpp's CPU buffer-type list without GPUs: extra buffer types of the CPU device,
// then the CPU device's default buffer type (src/llama-model.cpp make_cpu_buft_list).
std::vector<ggml_backend_buffer_type_t> cpu_buft_list(ggml_backend_dev_t cpu_dev) {
    std::vector<ggml_backend_buffer_type_t> list;
    auto* reg = ggml_backend_dev_backend_reg(cpu_dev);
    auto fn = (ggml_backend_dev_get_extra_bufts_t)ggml_backend_reg_get_proc_address(
        reg, "ggml_backend_dev_get_extra_bufts");
    if (fn) {
        for (auto* p = fn(cpu_dev); p && *p; ++p) list.push_back(*p);
    }
    list.push_back(ggml_backend_dev_buffer_type(cpu_dev));
    return list;
}

// Same test as llama-model-loader's weight_buft_supported for GGML_OP_MUL_MAT.
ggml_backend_buffer_type_t select_weight_buft(ggml_backend_dev_t dev,
                                              const std::vector<ggml_backend_buffer_type_t>& list,
                                              ggml_type type, int64_t N, int64_t K) {
    for (auto* buft : list) {
        ggml_init_params p = {ggml_tensor_overhead() * 8, nullptr, true};
        ggml_context* ctx = ggml_init(p);
        ggml_tensor* w = ggml_new_tensor_2d(ctx, type, K, N);
        ggml_tensor* b = ggml_new_tensor_4d(ctx, GGML_TYPE_F32, w->ne[0], 512, w->ne[2], w->ne[3]);
        ggml_tensor* op = ggml_mul_mat(ctx, w, b);
        w->buffer = ggml_backend_buft_alloc_buffer(buft, 0);
        bool ok = ggml_backend_dev_supports_op(dev, op);
        ggml_backend_buffer_free(w->buffer);
        w->buffer = nullptr;
        ggml_free(ctx);
        if (ok) return buft;
    }
    return nullptr;
}

// Keep ggml's warnings and errors, drop its info/debug chatter (one "repack tensor" line
// per weight copy).
void log_filter(ggml_log_level level, const char* text, void*) {
    if (level == GGML_LOG_LEVEL_WARN || level == GGML_LOG_LEVEL_ERROR) std::fputs(text, stderr);
}


}  // namespace

int main(int argc, char** argv) {
    peer::program = "peer_ggml";
    std::vector<std::string> shape_s = peer::default_shapes, format_s = kDefaultFormats;
    std::vector<int> threads = {1, 2};
    bool do_hot = true, do_cold = true, header = false, check = true;
    double min_time = 0.5;
    for (int i = 1; i < argc; ++i) {
        std::string a = argv[i];
        auto next = [&]() -> std::string {
            if (i + 1 >= argc) die("missing value after " + a);
            return argv[++i];
        };
        if (a == "--shapes") shape_s = split(next(), ',');
        else if (a == "--formats") format_s = split(next(), ',');
        else if (a == "--threads") {
            threads.clear();
            for (auto& t : split(next(), ',')) {
                int v = std::atoi(t.c_str());
                if (v <= 0) die("bad thread count '" + t + "'");
                threads.push_back(v);
            }
        } else if (a == "--weights") {
            do_hot = do_cold = false;
            for (auto& w : split(next(), ',')) {
                if (w == "hot") do_hot = true;
                else if (w == "cold") do_cold = true;
                else die("bad --weights value '" + w + "' (hot, cold)");
            }
        } else if (a == "--min-time") min_time = std::atof(next().c_str());
        else if (a == "--header") header = true;
        else if (a == "--stat") {
            std::string v = next();
            if (v == "min") peer::use_min = true;
            else if (v != "median") die("bad --stat value '" + v + "' (median, min)");
        }
        else if (a == "--no-check") check = false;
        else if (a == "-h" || a == "--help") {
            std::printf("usage: %s [--shapes MxNxK,...] [--threads 1,2] [--formats Q4_0,...]\n"
                        "          [--weights hot,cold] [--min-time SECONDS] [--stat median|min]\n"
                        "          [--header] [--no-check]\n",
                        argv[0]);
            return 0;
        } else die("unknown argument '" + a + "' (see --help)");
    }
    std::vector<Shape> shapes;
    for (auto& s : shape_s) shapes.push_back(parse_shape(s));
    std::vector<ggml_type> types;
    for (auto& f : format_s) types.push_back(type_from_name(f));

    ggml_log_set(log_filter, nullptr);
    ggml_backend_load_all();  // no-op for a static-registry build
    ggml_backend_dev_t cpu_dev = ggml_backend_dev_by_type(GGML_BACKEND_DEVICE_TYPE_CPU);
    if (!cpu_dev) die("ggml has no CPU device");
    ggml_backend_t backend = ggml_backend_dev_init(cpu_dev, nullptr);
    if (!backend) die("cannot init ggml CPU backend");
    auto bufts = cpu_buft_list(cpu_dev);
    std::fprintf(stderr, "peer_ggml: ggml from llama.cpp 0c1e57098; CPU buffer types:");
    for (auto* b : bufts) std::fprintf(stderr, " %s", ggml_backend_buft_name(b));
    std::fprintf(stderr, "\n");
    if (header) std::printf("impl,format,M,N,K,threads,weights,seconds_per_call\n");

    std::mt19937 rng(1234);
    std::uniform_real_distribution<float> uni(-1.f, 1.f);

    for (const Shape& sh : shapes) {
        const int64_t M = sh.M, N = sh.N, K = sh.K;
        std::vector<float> wf(static_cast<size_t>(N * K)), xf(static_cast<size_t>(M * K));
        for (auto& v : wf) v = uni(rng);
        for (auto& v : xf) v = uni(rng);

        for (size_t ti = 0; ti < types.size(); ++ti) {
            const ggml_type type = types[ti];
            const std::string fmt = format_s[ti];
            const auto* tr = ggml_get_type_traits(type);
            if (K % tr->blck_size != 0) {
                std::fprintf(stderr, "peer_ggml: skip %s %lldx%lldx%lld: K not a multiple of %lld\n",
                             fmt.c_str(), (long long)M, (long long)N, (long long)K,
                             (long long)tr->blck_size);
                continue;
            }
            if (ggml_quantize_requires_imatrix(type)) die(fmt + " requires an importance matrix");
            const size_t row_size = ggml_row_size(type, K);
            const size_t wbytes = row_size * size_t(N);
            std::vector<uint8_t> wq(wbytes);
            ggml_quantize_chunk(type, wf.data(), wq.data(), 0, N, K, nullptr);

            ggml_backend_buffer_type_t buft = select_weight_buft(cpu_dev, bufts, type, N, K);
            if (!buft) die("no buffer type supports MUL_MAT for " + fmt);
            std::fprintf(stderr, "peer_ggml: %s %lldx%lldx%lld weights in buffer type %s\n",
                         fmt.c_str(), (long long)M, (long long)N, (long long)K,
                         ggml_backend_buft_name(buft));

            const bool cold = do_cold && M <= 8;
            const int ncopies = cold ? int(std::max<size_t>(2, peer::cold_bytes / wbytes + 1)) : 1;

            ggml_init_params pw = {ggml_tensor_overhead() * (ncopies + 1), nullptr, true};
            ggml_context* ctx_w = ggml_init(pw);
            ggml_init_params pa = {ggml_tensor_overhead() * (ncopies + 2), nullptr, true};
            ggml_context* ctx_a = ggml_init(pa);
            ggml_tensor* x = ggml_new_tensor_2d(ctx_a, GGML_TYPE_F32, K, M);
            std::vector<ggml_tensor*> ws(ncopies), ys(ncopies);
            for (int c = 0; c < ncopies; ++c) {
                ws[c] = ggml_new_tensor_2d(ctx_w, type, K, N);
                ys[c] = ggml_mul_mat(ctx_a, ws[c], x);
            }
            ggml_backend_buffer_t wbuf = ggml_backend_alloc_ctx_tensors_from_buft(ctx_w, buft);
            if (!wbuf) die("cannot allocate weight buffer (" + std::to_string(ncopies) + " copies)");
            ggml_backend_buffer_set_usage(wbuf, GGML_BACKEND_BUFFER_USAGE_WEIGHTS);
            ggml_backend_buffer_t abuf =
                ggml_backend_alloc_ctx_tensors_from_buft(ctx_a, ggml_backend_cpu_buffer_type());
            if (!abuf) die("cannot allocate activation buffer");
            for (int c = 0; c < ncopies; ++c) ggml_backend_tensor_set(ws[c], wq.data(), 0, wbytes);
            ggml_backend_tensor_set(x, xf.data(), 0, xf.size() * sizeof(float));

            ggml_init_params pg = {(ggml_graph_overhead() + ggml_tensor_overhead()) * ncopies + 4096,
                                   nullptr, true};
            ggml_context* ctx_g = ggml_init(pg);
            std::vector<ggml_cgraph*> gs(ncopies);
            for (int c = 0; c < ncopies; ++c) {
                gs[c] = ggml_new_graph(ctx_g);
                ggml_build_forward_expand(gs[c], ys[c]);
            }

            // Correctness: compare against an f32 dot with the dequantized weights.
            if (check) {
                ggml_backend_cpu_set_n_threads(backend, threads.front());
                std::vector<float> wdq(static_cast<size_t>(K)), y(static_cast<size_t>(M * N));
                for (int c = 0; c < ncopies; c = (c == ncopies - 1) ? ncopies : ncopies - 1) {
                    if (ggml_backend_graph_compute(backend, gs[c]) != GGML_STATUS_SUCCESS)
                        die("graph compute failed");
                    ggml_backend_tensor_get(ys[c], y.data(), 0, y.size() * sizeof(float));
                    double worst = 0;
                    for (int s = 0; s < 16; ++s) {
                        int64_t m = (s * 7) % M, n = (int64_t(s) * 2654435761u) % N;
                        const uint8_t* row = wq.data() + size_t(n) * row_size;
                        if (type == GGML_TYPE_F32) std::memcpy(wdq.data(), row, K * sizeof(float));
                        else tr->to_float(row, wdq.data(), K);
                        double ref = 0, mag = 0;
                        for (int64_t k = 0; k < K; ++k) {
                            ref += double(xf[m * K + k]) * wdq[k];
                            mag += std::fabs(double(xf[m * K + k]) * wdq[k]);
                        }
                        double err = std::fabs(ref - y[m * N + n]) / (mag + 1e-30);
                        worst = std::max(worst, err);
                    }
                    if (!(worst < 2e-2))
                        die("correctness check failed for " + fmt + " (copy " + std::to_string(c) +
                            ", worst |err|/sum|x*w| = " + std::to_string(worst) + ")");
                    std::fprintf(stderr, "peer_ggml: check %s copy %d ok (worst rel err %.2e)\n",
                                 fmt.c_str(), c, worst);
                }
            }

            for (int nt : threads) {
                ggml_backend_cpu_set_n_threads(backend, nt);
                for (int mode = 0; mode < 2; ++mode) {
                    const bool is_cold = mode == 1;
                    if (is_cold ? !cold : !do_hot) continue;
                    int idx = 0;
                    auto call = [&]() {
                        ggml_cgraph* g = gs[is_cold ? idx : 0];
                        if (is_cold) idx = (idx + 1) % ncopies;
                        if (ggml_backend_graph_compute(backend, g) != GGML_STATUS_SUCCESS)
                            die("graph compute failed");
                    };
                    for (int w = 0; w < 3; ++w) call();
                    std::vector<double> t;
                    auto start = clk::now();
                    while (t.size() < 5 ||
                           std::chrono::duration<double>(clk::now() - start).count() < min_time) {
                        auto t0 = clk::now();
                        call();
                        t.push_back(std::chrono::duration<double>(clk::now() - t0).count());
                        if (t.size() >= 100000) break;
                    }
                    std::printf("ggml,%s,%lld,%lld,%lld,%d,%s,%.9g\n", fmt.c_str(), (long long)M,
                                (long long)N, (long long)K, nt, is_cold ? "cold" : "hot", peer::statistic(t));
                    std::fflush(stdout);
                }
            }
            ggml_free(ctx_g);
            ggml_backend_buffer_free(abuf);
            ggml_backend_buffer_free(wbuf);
            ggml_free(ctx_a);
            ggml_free(ctx_w);
        }
    }
    ggml_backend_free(backend);
    return 0;
}
