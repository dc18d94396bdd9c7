// SPDX-License-Identifier: Apache-2.0
// Copyright lowbit contributors
//
// Peer benchmark: y = x * W^T with OpenBLAS (Debian libopenblas-openmp, cblas_sgemv for
// M == 1, cblas_sgemm otherwise; W row-major (N, K)) and oneDNN 2.6 (Debian libdnnl,
// OpenMP runtime; matmul primitive, weights declared format_tag::any and reordered once
// outside the timing, as a user would at load time).
//
// Formats: openblas F32; onednn F32 (f32 x f32 -> f32), BF16 (bf16 x bf16 -> f32),
// U8S8 (u8 x s8 -> s32).
//
// stdout: impl,format,M,N,K,threads,weights,seconds_per_call   (one line per measurement)
// stderr: correctness checks, chosen oneDNN implementation.
//
// Usage: peer_blas_dnnl [--shapes MxNxK,...] [--threads 1,2] [--impls openblas,onednn]
//                       [--formats F32,BF16,U8S8] [--weights hot,cold] [--min-time 0.5]
//                       [--stat median|min] [--header] [--no-check]
#include <cblas.h>
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "dnnl.hpp"

extern "C" {
void openblas_set_num_threads(int);
int openblas_get_num_threads(void);
char* openblas_get_config(void);
}

#include "peer_common.hpp"

namespace {

using peer::Shape;
using peer::die;
using peer::split;
using peer::parse_shape;

using clk = std::chrono::steady_clock;


struct Opts {
    std::vector<int> threads = {1, 2};
    bool hot = true, cold = true, check = true;
    double min_time = 0.5;
};

// Times call(copy) with hot (copy 0 only) and/or cold (rotating over ncopies) weights and
// prints one CSV line per mode. set_threads(nt) is called before each thread count.
void measure(const Opts& o, const char* impl, const char* fmt, const Shape& sh, int ncopies,
             const std::function<void(int)>& set_threads, const std::function<void(int)>& call) {
    for (int nt : o.threads) {
        set_threads(nt);
        for (int mode = 0; mode < 2; ++mode) {
            const bool is_cold = mode == 1;
            if (is_cold ? !(o.cold && sh.M <= 8) : !o.hot) continue;
            int idx = 0;
            auto one = [&]() {
                call(is_cold ? idx : 0);
                if (is_cold) idx = (idx + 1) % ncopies;
            };
            for (int w = 0; w < 3; ++w) one();
            std::vector<double> t;
            auto start = clk::now();
            while (t.size() < 5 ||
                   std::chrono::duration<double>(clk::now() - start).count() < o.min_time) {
                auto t0 = clk::now();
                one();
                t.push_back(std::chrono::duration<double>(clk::now() - t0).count());
                if (t.size() >= 100000) break;
            }
            std::printf("%s,%s,%lld,%lld,%lld,%d,%s,%.9g\n", impl, fmt, (long long)sh.M,
                        (long long)sh.N, (long long)sh.K, nt, is_cold ? "cold" : "hot", peer::statistic(t));
            std::fflush(stdout);
        }
    }
}

int copies_for(const Opts& o, const Shape& sh, size_t wbytes) {
    if (!(o.cold && sh.M <= 8)) return 1;
    return int(std::max<size_t>(2, peer::cold_bytes / wbytes + 1));
}

// Checks 16 sampled outputs against a double-precision reference; tol relative to sum|x*w|.
template <class GetX, class GetW, class GetY>
void check_out(const char* what, const Shape& sh, double tol, GetX gx, GetW gw, GetY gy) {
    double worst = 0;
    for (int s = 0; s < 16; ++s) {
        int64_t m = (s * 7) % sh.M, n = (int64_t(s) * 2654435761u) % sh.N;
        double ref = 0, mag = 0;
        for (int64_t k = 0; k < sh.K; ++k) {
            double p = double(gx(m, k)) * double(gw(n, k));
            ref += p;
            mag += std::fabs(p);
        }
        worst = std::max(worst, std::fabs(ref - double(gy(m, n))) / (mag + 1e-30));
    }
    if (!(worst <= tol))
        die(std::string("correctness check failed for ") + what + " (worst rel err " +
            std::to_string(worst) + ")");
    std::fprintf(stderr, "peer_blas_dnnl: check %s %lldx%lldx%lld ok (worst rel err %.2e)\n", what,
                 (long long)sh.M, (long long)sh.N, (long long)sh.K, worst);
}

void run_openblas(const Opts& o, const Shape& sh, const std::vector<float>& wf,
                  const std::vector<float>& xf) {
    const int M = int(sh.M), N = int(sh.N), K = int(sh.K);
    const size_t wbytes = size_t(N) * K * sizeof(float);
    const int nc = copies_for(o, sh, wbytes);
    std::vector<std::vector<float>> ws(nc, wf);
    std::vector<float> y(size_t(M) * N);
    auto call = [&](int c) {
        if (M == 1)
            cblas_sgemv(CblasRowMajor, CblasNoTrans, N, K, 1.f, ws[c].data(), K, xf.data(), 1, 0.f,
                        y.data(), 1);
        else
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, M, N, K, 1.f, xf.data(), K,
                        ws[c].data(), K, 0.f, y.data(), N);
    };
    auto set_threads = [](int nt) {
        openblas_set_num_threads(nt);
        omp_set_num_threads(nt);
        if (openblas_get_num_threads() != nt)
            die("openblas_set_num_threads(" + std::to_string(nt) + ") did not take effect");
    };
    if (o.check) {
        set_threads(o.threads.front());
        for (int c = 0; c < nc; c = (c == nc - 1) ? nc : nc - 1) {
            std::fill(y.begin(), y.end(), 0.f);
            call(c);
            check_out("openblas F32", sh, 1e-5, [&](int64_t m, int64_t k) { return xf[m * K + k]; },
                      [&](int64_t n, int64_t k) { return ws[c][n * K + k]; },
                      [&](int64_t m, int64_t n) { return y[m * N + n]; });
        }
    }
    measure(o, "openblas", "F32", sh, nc, set_threads, call);
}

using dt = dnnl::memory::data_type;
using tag = dnnl::memory::format_tag;

float bf16_round(float f) {  // round-to-nearest-even to bf16, back to f32
    uint32_t u;
    std::memcpy(&u, &f, 4);
    u = (u + 0x7fffu + ((u >> 16) & 1u)) & 0xffff0000u;
    std::memcpy(&f, &u, 4);
    return f;
}

void run_onednn(const Opts& o, const std::string& fmt, const Shape& sh,
                const std::vector<float>& wf, const std::vector<float>& xf) {
    using namespace dnnl;
    const int64_t M = sh.M, N = sh.N, K = sh.K;
    dt src_dt, wei_dt, dst_dt;
    if (fmt == "F32") { src_dt = dt::f32; wei_dt = dt::f32; dst_dt = dt::f32; }
    else if (fmt == "BF16") { src_dt = dt::bf16; wei_dt = dt::bf16; dst_dt = dt::f32; }
    else if (fmt == "U8S8") { src_dt = dt::u8; wei_dt = dt::s8; dst_dt = dt::s32; }
    else die("unknown onednn format '" + fmt + "' (F32, BF16, U8S8)");

    engine eng(engine::kind::cpu, 0);
    stream strm(eng);

    // User-side data: x (M, K) row-major, W (N, K) row-major = weights (K, N) in tag::ba.
    std::vector<float> xs(xf), wsrc(wf);
    std::vector<uint8_t> xu8;
    std::vector<int8_t> ws8;
    memory x_user, w_user;
    if (fmt == "U8S8") {
        xu8.resize(xf.size());
        ws8.resize(wf.size());
        for (size_t i = 0; i < xf.size(); ++i) xu8[i] = uint8_t(std::lround((xf[i] + 1.f) * 127.5f));
        for (size_t i = 0; i < wf.size(); ++i) ws8[i] = int8_t(std::lround(wf[i] * 127.f));
        x_user = memory({{M, K}, dt::u8, tag::ab}, eng, xu8.data());
        w_user = memory({{K, N}, dt::s8, tag::ba}, eng, ws8.data());
    } else {
        if (fmt == "BF16") {
            for (auto& v : xs) v = bf16_round(v);
            for (auto& v : wsrc) v = bf16_round(v);
        }
        x_user = memory({{M, K}, dt::f32, tag::ab}, eng, xs.data());
        w_user = memory({{K, N}, dt::f32, tag::ba}, eng, wsrc.data());
    }

    memory::desc src_md({M, K}, src_dt, tag::ab);
    memory::desc wei_md({K, N}, wei_dt, tag::any);
    memory::desc dst_md({M, N}, dst_dt, tag::ab);

    const size_t wbytes = size_t(N) * K * (fmt == "F32" ? 4 : fmt == "BF16" ? 2 : 1);
    const int nc = copies_for(o, sh, wbytes);

    // Primitive creation depends on the thread count (OpenMP max threads), so build one
    // per thread count; the reordered weights do not depend on it (same pd format, checked).
    struct State {
        matmul::primitive_desc pd;
        matmul prim;
        memory src, dst;
        std::vector<memory> wts;
    } st;
    auto build = [&](int nt) {
        omp_set_num_threads(nt);
        st.pd = matmul::primitive_desc(matmul::desc(src_md, wei_md, dst_md), eng);
        st.prim = matmul(st.pd);
        st.src = memory(st.pd.src_desc(), eng);
        reorder(x_user, st.src).execute(strm, x_user, st.src);
        st.dst = memory(st.pd.dst_desc(), eng);
        if (st.wts.empty() || !(st.wts[0].get_desc() == st.pd.weights_desc())) {
            st.wts.clear();
            for (int c = 0; c < nc; ++c) {
                st.wts.emplace_back(st.pd.weights_desc(), eng);
                reorder(w_user, st.wts.back()).execute(strm, w_user, st.wts.back());
            }
        }
        strm.wait();
    };
    auto call = [&](int c) {
        st.prim.execute(strm, {{DNNL_ARG_SRC, st.src}, {DNNL_ARG_WEIGHTS, st.wts[c]},
                               {DNNL_ARG_DST, st.dst}});
        strm.wait();
    };
    build(o.threads.front());
    std::fprintf(stderr, "peer_blas_dnnl: onednn %s %lldx%lldx%lld impl %s\n", fmt.c_str(),
                 (long long)M, (long long)N, (long long)K, st.pd.impl_info_str());
    if (o.check) {
        for (int c = 0; c < nc; c = (c == nc - 1) ? nc : nc - 1) {
            call(c);
            const std::string what = "onednn " + fmt;
            if (fmt == "U8S8") {
                const int32_t* y = static_cast<const int32_t*>(st.dst.get_data_handle());
                check_out(what.c_str(), sh, 0.0,
                          [&](int64_t m, int64_t k) { return double(xu8[m * K + k]); },
                          [&](int64_t n, int64_t k) { return double(ws8[n * K + k]); },
                          [&](int64_t m, int64_t n) { return double(y[m * N + n]); });
            } else {
                const float* y = static_cast<const float*>(st.dst.get_data_handle());
                check_out(what.c_str(), sh, 1e-5,
                          [&](int64_t m, int64_t k) { return xs[m * K + k]; },
                          [&](int64_t n, int64_t k) { return wsrc[n * K + k]; },
                          [&](int64_t m, int64_t n) { return y[m * N + n]; });
            }
        }
    }
    measure(o, "onednn", fmt.c_str(), sh, nc, [&](int nt) { build(nt); }, call);
}

}  // namespace

int main(int argc, char** argv) {
    peer::program = "peer_blas_dnnl";
    Opts o;
    std::vector<std::string> shape_s = peer::default_shapes;
    std::vector<std::string> impls = {"openblas", "onednn"};
    std::vector<std::string> formats = {"F32", "BF16", "U8S8"};
    bool header = false;
    for (int i = 1; i < argc; ++i) {
        std::string a = argv[i];
        auto next = [&]() -> std::string {
            if (i + 1 >= argc) die("missing value after " + a);
            return argv[++i];
        };
        if (a == "--shapes") shape_s = split(next(), ',');
        else if (a == "--impls") impls = split(next(), ',');
        else if (a == "--formats") formats = split(next(), ',');
        else if (a == "--threads") {
            o.threads.clear();
            for (auto& t : split(next(), ',')) {
                int v = std::atoi(t.c_str());
                if (v <= 0) die("bad thread count '" + t + "'");
                o.threads.push_back(v);
            }
        } else if (a == "--weights") {
            o.hot = o.cold = false;
            for (auto& w : split(next(), ',')) {
                if (w == "hot") o.hot = true;
                else if (w == "cold") o.cold = true;
                else die("bad --weights value '" + w + "' (hot, cold)");
            }
        } else if (a == "--min-time") o.min_time = std::atof(next().c_str());
        else if (a == "--header") header = true;
        else if (a == "--stat") {
            std::string v = next();
            if (v == "min") peer::use_min = true;
            else if (v != "median") die("bad --stat value '" + v + "' (median, min)");
        }
        else if (a == "--no-check") o.check = false;
        else if (a == "-h" || a == "--help") {
            std::printf("usage: %s [--shapes MxNxK,...] [--threads 1,2] [--impls openblas,onednn]\n"
                        "          [--formats F32,BF16,U8S8] [--weights hot,cold] [--min-time S]\n"
                        "          [--stat median|min] [--header] [--no-check]\n"
                        "--formats applies to onednn; openblas always runs F32.\n",
                        argv[0]);
            return 0;
        } else die("unknown argument '" + a + "' (see --help)");
    }
    for (auto& f : formats)
        if (f != "F32" && f != "BF16" && f != "U8S8") die("unknown format '" + f + "' (F32, BF16, U8S8)");
    for (auto& im : impls)
        if (im != "openblas" && im != "onednn") die("unknown impl '" + im + "' (openblas, onednn)");
    std::vector<Shape> shapes;
    for (auto& s : shape_s) shapes.push_back(parse_shape(s));

    const dnnl_version_t* v = dnnl_version();
    std::fprintf(stderr, "peer_blas_dnnl: %s; oneDNN %d.%d.%d (%s)\n", openblas_get_config(),
                 v->major, v->minor, v->patch, v->hash);
    if (header) std::printf("impl,format,M,N,K,threads,weights,seconds_per_call\n");

    std::mt19937 rng(1234);
    std::uniform_real_distribution<float> uni(-1.f, 1.f);
    for (const Shape& sh : shapes) {
        std::vector<float> wf(size_t(sh.N * sh.K)), xf(size_t(sh.M * sh.K));
        for (auto& x : wf) x = uni(rng);
        for (auto& x : xf) x = uni(rng);
        for (auto& im : impls) {
            if (im == "openblas") run_openblas(o, sh, wf, xf);
            else
                for (auto& f : formats) run_onednn(o, f, sh, wf, xf);
        }
    }
    return 0;
}
