// Fused multi-step LIF / IF / PLIF (k = 1/tau per neuron) / ALIF / Izhikevich forward and backward for CPU (spikeforge.nn, issue 6).
//
// Plain C ABI, no torch headers: the library is compiled on first use by the system C++ compiler in
// about a second and loaded with ctypes (see _cpu_kernel.py). Threads: OpenMP when the compiler has it
// (sharing PyTorch's libgomp pool), else pthreads; the neuron axis is
// split into contiguous ranges, each processed in blocks of B neurons that stay in L1/L2 while the
// loop walks over time (vectorised over the block).
//
// Layout: time-first, x[t * x_stride_t + i], i in [0, M). x_stride_t is M (contiguous) or 0 (the
// same input at every step, e.g. an expanded direct-encoding input).
//
// Forward  (per neuron, t = 0..T-1):
//   H_t = charge(V_{t-1}, X_t);  S_t = H_t >= V_th (or >);  V_t = reset(H_t, S_t)
// Backward (recomputes H from x: only x and v0 are saved), t = T-1..0:
//   dL/dH_t = dL/dS_t * sg(H_t - V_th) + dL/dV_t * dV_t/dH_t
//   dL/dX_t = dL/dH_t * dH/dX ;  dL/dV_{t-1} = dL/dH_t * dH/dV
// (spec deep_snn.md §1.4). The charge formulas copy SpikingJelly's operation order so that spikes
// are bit-identical for the same parameters; compile with -ffp-contract=off.
//
// Template parameters: charge x reset (20 combinations: LIF's three charges and PLIF's two k forms) for
// the forward pass and the recomputation in the backward pass; surrogate shape x (delayed reset or not)
// x (PLIF's dL/dk or not) for the reverse-time loop, which selects hard/soft/none at run time with
// arithmetic flags. That is about 70 small instantiations per library (one library per scalar type,
// built when first needed): a few seconds of compiler CPU time. Compile
// with -fno-trapping-math (if-conversion of the divisions) and -fno-unswitch-loops (loop unswitching
// on the run-time flags multiplied the compile time by ten).
//
// SF_SMOOTH (a separate, test-only build): the "smooth" mode replaces the Heaviside by the
// surrogate's primitive in the forward pass, so that torch.autograd.gradcheck can verify the fused
// backward recurrence against finite differences.

#include <pthread.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

namespace {

// CHARGE_K*: the tau forms with the factor k = 1/tau given per neuron (PLIF, k = sigmoid(w) broadcast to
// one step, the array kv[M]): H = V + (X - (V - V_r)) k (decay input) or V - (V - V_r) k + X, the
// reference's order.
enum { CHARGE_LINEAR = 0, CHARGE_TAU_DECAY_INPUT = 1, CHARGE_TAU = 2, CHARGE_K_DECAY_INPUT = 3, CHARGE_K = 4 };
// RESET_SOFT_DELAYED (snnTorch's "subtract" with reset_delay): the state is not reset within a step
// (V_t = H_t) and the next charge subtracts V_th * S_{t-1}: H_t = charge(V_{t-1}, X_t) - V_th S(V_{t-1}).
enum { RESET_HARD = 0, RESET_SOFT = 1, RESET_NONE = 2, RESET_SOFT_DELAYED = 3 };

template <typename F>
struct P {
  int64_t T, M, xst;  // steps, neurons per step, time stride of x (M or 0)
  F a, b, c, tau, vr, vth, alpha, nd;  // nd = 1 - detach_reset
  int charge, reset, ge, surr, smooth;
  const F* kv;  // CHARGE_K*: k per neuron [M]
  F beta, rho, m;  // ALIF: threshold per unit of adaptation, its decay per step, 1 - detach_adaptation
};

template <typename F>
struct Consts {
  F a, b, c, tau, vr, vth, vth_fire, alpha, nd;
  // vth_fire: S = H >= vth_fire; for ">" it is the next float above V_th (H > V_th <=> H >= next(V_th))
  explicit Consts(const P<F>& p)
      : a(p.a), b(p.b), c(p.c), tau(p.tau), vr(p.vr), vth(p.vth),
        vth_fire(p.ge ? p.vth : nextafter(p.vth, (F)INFINITY)), alpha(p.alpha), nd(p.nd) {}
};

template <typename F, int CH>
static inline F charge(F v, F x, const Consts<F>& k, F kj) {  // kj: k of this neuron (CHARGE_K* only)
  if (CH == CHARGE_LINEAR) return k.a * v + k.b * x + k.c;
  if (CH == CHARGE_TAU_DECAY_INPUT) return v + (x - (v - k.vr)) / k.tau;  // SpikingJelly's order
  if (CH == CHARGE_K_DECAY_INPUT) return v + (x - (v - k.vr)) * kj;
  if (CH == CHARGE_K) return v - (v - k.vr) * kj + x;
  return v - (v - k.vr) / k.tau + x;
}

template <typename F>
static inline F fire(F h, const Consts<F>& k) {
  return h >= k.vth_fire ? (F)1 : (F)0;
}

template <typename F, int RS, bool SMOOTH>
static inline F reset(F h, F s, const Consts<F>& k) {
  if (RS == RESET_HARD) return SMOOTH ? s * k.vr + ((F)1 - s) * h : (s != (F)0 ? k.vr : h);
  if (RS == RESET_SOFT) return h - s * k.vth;
  return h;
}

static inline int64_t block_for(int64_t T) {
  // neurons per block: the [T, B] block of H recomputed in the backward pass holds about 64 Ki
  // values (256 KiB of floats: L2), and each row is a long contiguous run (prefetch-friendly).
  int64_t b = 65536 / (T > 0 ? T : 1);
  b = (b / 16) * 16;
  if (b < 16) b = 16;
  return b;
}

// ---------------------------------------------------------------- exp that vectorises
// Cephes-style expf (Cody-Waite reduction + degree-5 polynomial, ~2 ulp); glibc's expf is not
// vectorised without -ffast-math. Doubles keep libm's exp (used for tests, speed irrelevant).
// Below -87 (where expf enters the subnormal range) it returns 0 and above 88 infinity, not the clamps'
// 1.6e-38 / 1.7e38: a surrogate that should vanish then does, as in torch (the sigmoid's 1 / (1 + e^{ax}) far
// below the threshold too; the unguarded Izhikevich multiplies it by potentials of 1e20 and more).
static inline float sf_exp(float x_in) {
  const float x = x_in < -87.0f ? -87.0f : (x_in > 88.0f ? 88.0f : x_in);
  const float n = floorf(x * 1.44269504088896341f + 0.5f);
  float r = x - n * 0.693359375f;
  r = r - n * -2.12194440e-4f;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  const float y = p * r * r + r + 1.0f;
  const int32_t e = ((int32_t)n + 127) << 23;
  float scale;
  memcpy(&scale, &e, sizeof(scale));
  return x_in < -87.0f ? 0.0f : (x_in > 88.0f ? INFINITY : y * scale);
}
static inline double sf_exp(double x) { return exp(x); }

// ---------------------------------------------------------------- surrogates (x = H - V_th)
template <typename F, int SG>
static inline F surr(F x, F a) {
  const F ax = fabs(x);
  if (SG == 0) return ax < (F)0.5 / a ? a : (F)0;                              // rect
  if (SG == 1) { const F y = a - a * a * ax; return y > (F)0 ? y : (F)0; }     // triangle
  if (SG == 2) { const F e = (F)1 / ((F)1 + sf_exp(-a * x)); return ((F)1 - e) * e * a; }  // sigmoid
  if (SG == 3) { const F z = x * ((F)M_PI / (F)2 * a); return (a / (F)2) / ((F)1 + z * z); }  // atan
  if (SG == 4) { const F z = a * ax + (F)1; return (F)1 / (z * z); }           // fast sigmoid
  if (SG == 5) { const F z = a * x; return (a / (F)sqrt(M_PI)) * sf_exp(-z * z); }  // erf
  return (a / (F)2) * sf_exp(-a * ax);                                         // piecewise exp
}

#ifdef SF_SMOOTH
// primitives g with g' = surr (smooth mode only)
template <typename F, int SG>
static inline F prim(F x, F a) {
  if (SG == 0) { const F y = a * x + (F)0.5; return y < 0 ? 0 : (y > 1 ? 1 : y); }
  if (SG == 1) {
    if (x <= -(F)1 / a) return 0;
    if (x >= (F)1 / a) return 1;
    return (F)0.5 + a * x - (F)0.5 * a * a * x * fabs(x);
  }
  if (SG == 2) return (F)1 / ((F)1 + exp(-a * x));
  if (SG == 3) return atan((F)M_PI / 2 * a * x) / (F)M_PI + (F)0.5;
  if (SG == 4) return (F)0.5 + x / (a * fabs(x) + (F)1);
  if (SG == 5) return (F)0.5 * ((F)1 + erf(a * x));
  return x >= 0 ? (F)1 - (F)0.5 * exp(-a * x) : (F)0.5 * exp(a * x);
}
#endif

template <typename F, int SG, bool SMOOTH>
static inline F spike_value(F h, const Consts<F>& k) {  // S_t (smooth: the primitive of the surrogate)
#ifdef SF_SMOOTH
  if (SMOOTH) return prim<F, SG>(h - k.vth, k.alpha);
#endif
  return fire<F>(h, k);
}

// ---------------------------------------------------------------- forward
template <typename F, int CH, int RS, int SG, bool SMOOTH>
static int64_t fwd_range(const F* x, const F* v0, F* s, F* vT, const P<F>& p, int64_t i0, int64_t i1) {
  const int64_t B = block_for(p.T);
  const Consts<F> k(p);
  const int64_t T = p.T, M = p.M, xst = p.xst;
  constexpr bool KF = CH == CHARGE_K_DECAY_INPUT || CH == CHARGE_K;
  F* v = (F*)malloc(sizeof(F) * B);
  int64_t nan_count = 0;
  for (int64_t blk = i0; blk < i1; blk += B) {
    const int64_t n = (i1 - blk) < B ? (i1 - blk) : B;
    const F* __restrict kvb = KF ? p.kv + blk : nullptr;
    if (v0) {
      for (int64_t j = 0; j < n; ++j) v[j] = v0[blk + j];
    } else {
      for (int64_t j = 0; j < n; ++j) v[j] = (F)0;
    }
    for (int64_t t = 0; t < T; ++t) {
      const F* __restrict xt = x + t * xst + blk;
      F* __restrict st = s + t * M + blk;
      int32_t bad = 0;  // integer OR: vectorises (a float sum would be an ordered scalar reduction)
      for (int64_t j = 0; j < n; ++j) {
        const F xx = xt[j];
        bad |= (int32_t)(xx != xx);
        F h = charge<F, CH>(v[j], xx, k, KF ? kvb[j] : (F)0);
        if (RS == RESET_SOFT_DELAYED) h = h - spike_value<F, SG, SMOOTH>(v[j], k) * k.vth;
        const F sp = spike_value<F, SG, SMOOTH>(h, k);
        st[j] = sp;
        v[j] = reset<F, RS, SMOOTH>(h, sp, k);
      }
      nan_count += bad != 0;
    }
    if (vT) for (int64_t j = 0; j < n; ++j) vT[blk + j] = v[j];
  }
  free(v);
  return nan_count;
}

// recompute H_t for a block of neurons into hbuf [T, B]
template <typename F, int CH, int RS, int SG, bool SMOOTH>
static void recompute_block(const F* x, const F* v0, F* hbuf, F* v, const P<F>& p, int64_t blk, int64_t n, int64_t B) {
  const Consts<F> k(p);
  const int64_t T = p.T, xst = p.xst;
  constexpr bool KF = CH == CHARGE_K_DECAY_INPUT || CH == CHARGE_K;
  const F* __restrict kvb = KF ? p.kv + blk : nullptr;
  if (v0) { for (int64_t j = 0; j < n; ++j) v[j] = v0[blk + j]; }
  else { for (int64_t j = 0; j < n; ++j) v[j] = (F)0; }
  for (int64_t t = 0; t < T; ++t) {
    const F* __restrict xt = x + t * xst + blk;
    F* __restrict ht = hbuf + t * B;
    for (int64_t j = 0; j < n; ++j) {
      F h = charge<F, CH>(v[j], xt[j], k, KF ? kvb[j] : (F)0);
      if (RS == RESET_SOFT_DELAYED) h = h - spike_value<F, SG, SMOOTH>(v[j], k) * k.vth;
      ht[j] = h;
      v[j] = reset<F, RS, SMOOTH>(h, spike_value<F, SG, SMOOTH>(h, k), k);
    }
  }
}

// ---------------------------------------------------------------- backward
// gs_mode: 0 = gs contiguous [T, M]; 1 = gs is one scalar broadcast everywhere (gs_scalar)
template <typename F>
using RecomputeFn = void (*)(const F*, const F*, F*, F*, const P<F>&, int64_t, int64_t, int64_t);

// KFORM (PLIF's CHARGE_K* modes): dH/dX and dH/dV from each neuron's k, and gk[i] = sum_t dL/dH_t * dH_t/dk
// (written when gk is given) with dH/dk = X_t - V_{t-1} + V_r (decay input) or V_r - V_{t-1}, V_{t-1}
// rebuilt from H_{t-1} (or v0) as the forward pass resets it.
template <typename F, int SG, bool SMOOTH, bool DELAYED, bool KFORM>
static void bwd_range(const F* x, const F* v0, const F* gs, F gs_scalar, int gs_mode, const F* gvT,
                      F* gx, F* gv0, F* gk, const P<F>& p, int64_t i0, int64_t i1, RecomputeFn<F> recompute) {
  const int64_t B = block_for(p.T);
  F* hbuf = (F*)malloc(sizeof(F) * B * (p.T > 0 ? p.T : 1));
  F* v = (F*)malloc(sizeof(F) * B);
  F* g = (F*)malloc(sizeof(F) * B);
  F* c = (F*)malloc(sizeof(F) * B);  // delayed soft reset: correction applied with the previous step's sg
  F* sbuf = (F*)malloc(sizeof(F) * B);
  F* kacc = KFORM ? (F*)malloc(sizeof(F) * B) : nullptr;
  for (int64_t j = 0; j < B; ++j) sbuf[j] = gs_scalar;
  const Consts<F> k(p);
  const int64_t T = p.T, M = p.M, xst = p.xst;
  const F dhdv = p.charge == CHARGE_LINEAR ? p.a : (F)1 - (F)1 / p.tau;  // KFORM: per neuron, below
  const F dhdx = p.charge == CHARGE_LINEAR ? p.b : (p.charge == CHARGE_TAU_DECAY_INPUT ? (F)1 / p.tau : (F)1);
  const F di = p.charge == CHARGE_K_DECAY_INPUT ? (F)1 : (F)0;  // KFORM: dH/dX = k (else 1), dH/dk has X_t
  const F is_hard = p.reset == RESET_HARD, is_soft = p.reset == RESET_SOFT, is_none = (F)1 - is_hard - is_soft;
  const F sd = (p.reset == RESET_SOFT_DELAYED) ? p.vth * p.nd : (F)0;  // dH_{t+1}/dV_t -= sd * sg(V_t)
  const F vth = p.vth, vr = p.vr, nd = p.nd, alpha = p.alpha;
  for (int64_t blk = i0; blk < i1; blk += B) {
    const int64_t n = (i1 - blk) < B ? (i1 - blk) : B;
    const F* __restrict kvb = KFORM ? p.kv + blk : nullptr;
    recompute(x, v0, hbuf, v, p, blk, n, B);
    // reverse-time recurrence
    // g = dL/dV_t from the future, except for the delayed-reset term -c * sg(H_t) added at step t
    if (gvT) { for (int64_t j = 0; j < n; ++j) g[j] = gvT[blk + j]; }
    else { for (int64_t j = 0; j < n; ++j) g[j] = (F)0; }
    for (int64_t j = 0; j < n; ++j) c[j] = (F)0;
    if (KFORM) for (int64_t j = 0; j < n; ++j) kacc[j] = (F)0;
    for (int64_t t = T - 1; t >= 0; --t) {
      const F* __restrict ht = hbuf + t * B;
      F* __restrict gxt = gx + t * M + blk;
      // a broadcast dL/dS (gs_mode 1) is read from a block-sized buffer filled with the scalar
      const F* __restrict gst = gs_mode == 0 ? gs + t * M + blk : sbuf;
      // dV/dH: hard (1 - S) + (V_reset - H) sg (1 - D); soft 1 - V_th sg (1 - D); none 1
      for (int64_t j = 0; j < n; ++j) {
        const F h = ht[j];
        const F sg = surr<F, SG>(h - vth, alpha);
        const F dvdh = is_hard * (((F)1 - spike_value<F, SG, SMOOTH>(h, k)) + (vr - h) * sg * nd)
                     + is_soft * ((F)1 - vth * sg * nd) + is_none;
        const F gin = DELAYED ? g[j] - c[j] * sg : g[j];
        const F gh = gst[j] * sg + gin * dvdh;
        if (KFORM) {
          const F kj = kvb[j];
          gxt[j] = gh * (di * kj + ((F)1 - di));
          g[j] = gh * ((F)1 - kj);
        } else {
          gxt[j] = gh * dhdx;
          g[j] = gh * dhdv;
        }
        if (DELAYED) c[j] = gh * sd;
        if (KFORM) {
          F vp;
          if (t > 0) {
            const F hp = ht[j - B];  // H_{t-1}
            const F sp = spike_value<F, SG, SMOOTH>(hp, k);
            vp = is_hard * (sp * vr + ((F)1 - sp) * hp) + is_soft * (hp - sp * vth) + is_none * hp;
          } else {
            vp = v0 ? v0[blk + j] : (F)0;
          }
          kacc[j] += gh * ((vr - vp) + di * x[t * xst + blk + j]);
        }
      }
    }
    if (KFORM && gk) for (int64_t j = 0; j < n; ++j) gk[blk + j] = kacc[j];
    if (gv0) {
      if (sd != (F)0) {
        for (int64_t j = 0; j < n; ++j) {
          const F v_init = v0 ? v0[blk + j] : (F)0;
          gv0[blk + j] = g[j] - c[j] * surr<F, SG>(v_init - vth, alpha);
        }
      } else {
        for (int64_t j = 0; j < n; ++j) gv0[blk + j] = g[j];
      }
    }
  }
  free(hbuf);
  free(v);
  free(g);
  free(c);
  free(sbuf);
  free(kacc);
}


// ---------------------------------------------------------------- ALIF (adaptive threshold, Bellec et al. 2018)
// Per neuron: H_t = charge(V_{t-1}, X_t); theta_t = a_t beta + V_th; S_t = H_t >= theta_t (or >);
// V_t = reset(H_t, S_t) with theta_t (hard: S V_r + (1 - S) H; soft: H - S theta; none: H);
// a_{t+1} = a_t rho + S_t. The operation order is the reference's (_alif_update), so spikes are identical.
// Backward (recomputes H and a from x, v0, a0), with sg = sg(H - theta), n = 1 - detach_reset,
// m = 1 - detach_adaptation, gV = dL/dV_t and gA = dL/da_{t+1} from the future:
//   dL/dH_t = gV dV/dH + (gA m + gS) sg;   dL/da_t = gV dV/da + gA rho - (gA m + gS) sg beta
//   hard: dV/dH = 1 - S + (V_r - H) n sg, dV/da = -(V_r - H) n sg beta; soft: dV/dH = 1 - theta n sg,
//   dV/da = (theta n sg - S) beta; none: 1, 0.
template <typename F, int SG, bool SMOOTH>
static inline F alif_spike(F h, F th, int ge, F alpha) {
#ifdef SF_SMOOTH
  if (SMOOTH) return prim<F, SG>(h - th, alpha);
#endif
  (void)alpha;
  return (ge ? h >= th : h > th) ? (F)1 : (F)0;
}

template <typename F, int RS>
static inline F alif_reset(F h, F sp, F th, F vr) {
  if (RS == RESET_HARD) return sp * vr + ((F)1 - sp) * h;
  if (RS == RESET_SOFT) return h - sp * th;
  return h;
}

template <typename F, int CH, int RS, int SG, bool SMOOTH>
static int64_t alif_fwd_range(const F* x, const F* v0, const F* a0, F* s, F* vT, F* aT, const P<F>& p, int64_t i0,
                              int64_t i1) {
  const int64_t B = block_for(p.T);
  const Consts<F> k(p);
  const int64_t T = p.T, M = p.M, xst = p.xst;
  const F beta = p.beta, rho = p.rho, vth = p.vth, vr = p.vr, alpha = p.alpha;
  const int ge = p.ge;
  F* v = (F*)malloc(sizeof(F) * B);
  F* a = (F*)malloc(sizeof(F) * B);
  int64_t nan_count = 0;
  for (int64_t blk = i0; blk < i1; blk += B) {
    const int64_t n = (i1 - blk) < B ? (i1 - blk) : B;
    for (int64_t j = 0; j < n; ++j) {
      v[j] = v0 ? v0[blk + j] : (F)0;
      a[j] = a0 ? a0[blk + j] : (F)0;
    }
    for (int64_t t = 0; t < T; ++t) {
      const F* __restrict xt = x + t * xst + blk;
      F* __restrict st = s + t * M + blk;
      int32_t bad = 0;
      for (int64_t j = 0; j < n; ++j) {
        const F xx = xt[j];
        bad |= (int32_t)(xx != xx);
        const F h = charge<F, CH>(v[j], xx, k, (F)0);
        const F th = a[j] * beta + vth;
        const F sp = alif_spike<F, SG, SMOOTH>(h, th, ge, alpha);
        st[j] = sp;
        v[j] = alif_reset<F, RS>(h, sp, th, vr);
        a[j] = a[j] * rho + sp;
      }
      nan_count += bad != 0;
    }
    for (int64_t j = 0; j < n; ++j) {
      if (vT) vT[blk + j] = v[j];
      if (aT) aT[blk + j] = a[j];
    }
  }
  free(v);
  free(a);
  return nan_count;
}

// recompute H_t and a_t for a block of neurons into hbuf, abuf [T, B]
template <typename F, int CH, int RS, int SG, bool SMOOTH>
static void alif_recompute_block(const F* x, const F* v0, const F* a0, F* hbuf, F* abuf, F* v, F* a, const P<F>& p,
                                 int64_t blk, int64_t n, int64_t B) {
  const Consts<F> k(p);
  const int64_t T = p.T, xst = p.xst;
  const F beta = p.beta, rho = p.rho, vth = p.vth, vr = p.vr, alpha = p.alpha;
  const int ge = p.ge;
  for (int64_t j = 0; j < n; ++j) {
    v[j] = v0 ? v0[blk + j] : (F)0;
    a[j] = a0 ? a0[blk + j] : (F)0;
  }
  for (int64_t t = 0; t < T; ++t) {
    const F* __restrict xt = x + t * xst + blk;
    F* __restrict ht = hbuf + t * B;
    F* __restrict at = abuf + t * B;
    for (int64_t j = 0; j < n; ++j) {
      const F h = charge<F, CH>(v[j], xt[j], k, (F)0);
      const F th = a[j] * beta + vth;
      const F sp = alif_spike<F, SG, SMOOTH>(h, th, ge, alpha);
      ht[j] = h;
      at[j] = a[j];
      v[j] = alif_reset<F, RS>(h, sp, th, vr);
      a[j] = a[j] * rho + sp;
    }
  }
}

template <typename F>
using AlifRecomputeFn = void (*)(const F*, const F*, const F*, F*, F*, F*, F*, const P<F>&, int64_t, int64_t, int64_t);

template <typename F, int SG, bool SMOOTH>
static void alif_bwd_range(const F* x, const F* v0, const F* a0, const F* gs, F gs_scalar, int gs_mode, const F* gvT,
                           const F* gaT, F* gx, F* gv0, F* ga0, const P<F>& p, int64_t i0, int64_t i1,
                           AlifRecomputeFn<F> recompute) {
  const int64_t B = block_for(p.T);
  const int64_t T = p.T, M = p.M;
  F* hbuf = (F*)malloc(sizeof(F) * B * (T > 0 ? T : 1));
  F* abuf = (F*)malloc(sizeof(F) * B * (T > 0 ? T : 1));
  F* v = (F*)malloc(sizeof(F) * B);
  F* a = (F*)malloc(sizeof(F) * B);
  F* gV = (F*)malloc(sizeof(F) * B);
  F* gA = (F*)malloc(sizeof(F) * B);
  F* sbuf = (F*)malloc(sizeof(F) * B);
  for (int64_t j = 0; j < B; ++j) sbuf[j] = gs_scalar;
  const F dhdv = p.charge == CHARGE_LINEAR ? p.a : (F)1 - (F)1 / p.tau;
  const F dhdx = p.charge == CHARGE_LINEAR ? p.b : (p.charge == CHARGE_TAU_DECAY_INPUT ? (F)1 / p.tau : (F)1);
  const F is_hard = p.reset == RESET_HARD, is_soft = p.reset == RESET_SOFT, is_none = (F)1 - is_hard - is_soft;
  const F vth = p.vth, vr = p.vr, nd = p.nd, alpha = p.alpha, beta = p.beta, rho = p.rho, m = p.m;
  const int ge = p.ge;
  for (int64_t blk = i0; blk < i1; blk += B) {
    const int64_t n = (i1 - blk) < B ? (i1 - blk) : B;
    recompute(x, v0, a0, hbuf, abuf, v, a, p, blk, n, B);
    for (int64_t j = 0; j < n; ++j) {
      gV[j] = gvT ? gvT[blk + j] : (F)0;
      gA[j] = gaT ? gaT[blk + j] : (F)0;
    }
    for (int64_t t = T - 1; t >= 0; --t) {
      const F* __restrict ht = hbuf + t * B;
      const F* __restrict at = abuf + t * B;
      F* __restrict gxt = gx + t * M + blk;
      const F* __restrict gst = gs_mode == 0 ? gs + t * M + blk : sbuf;
      for (int64_t j = 0; j < n; ++j) {
        const F h = ht[j];
        const F th = at[j] * beta + vth;
        const F sg = surr<F, SG>(h - th, alpha);
        const F sp = alif_spike<F, SG, SMOOTH>(h, th, ge, alpha);
        const F d = (vr - h) * sg * nd;
        const F tsn = th * sg * nd;
        const F dvdh = is_hard * (((F)1 - sp) + d) + is_soft * ((F)1 - tsn) + is_none;
        const F dvda = is_hard * (d * -beta) + is_soft * ((tsn - sp) * beta);
        const F gsig = gA[j] * m + gst[j];
        const F gh = gV[j] * dvdh + gsig * sg;
        const F ga = gA[j] * rho - gsig * sg * beta + gV[j] * dvda;
        gxt[j] = gh * dhdx;
        gV[j] = gh * dhdv;
        gA[j] = ga;
      }
    }
    for (int64_t j = 0; j < n; ++j) {
      if (gv0) gv0[blk + j] = gV[j];
      if (ga0) ga0[blk + j] = gA[j];
    }
  }
  free(hbuf);
  free(abuf);
  free(v);
  free(a);
  free(gV);
  free(gA);
  free(sbuf);
}


// ---------------------------------------------------------------- Izhikevich (2003), Euler substeps with guards
// Per neuron and step (u held over the K substeps of h = dt / K; the reference's _izhikevich_update):
//   w_0 = v; repeat K: vn = w + (w w 0.04 + w 5 + 140 - u + x) h;
//     CLAMP: held = w >= peak; g_k+1 = held ? g_k : vn (g_0 = v: the value the surrogate sees);
//            w = clamp(held ? w : vn, floor, peak)          (no floor: min(., peak))
//     else:  w = max(vn, floor) (no floor: vn)
//   H = w_K; u' = u + (H b - u) dta; S = Theta((H - peak)/vs) (smooth: the primitive);
//   V = S c + (1 - S) H; U = u' + S d.
// Backward (states before each step recomputed per block, each step's substeps recomputed in reverse):
//   gS_tot = gS + n (gV (c - H) + gU d); gz = gS_tot sg((H - peak)/vs)/vs, routed to g_K where H >= peak (CLAMP)
//   and to H elsewhere; gH = gV (1 - S) + gU b dta (+ gz); gu = gU (1 - dta); then through the substeps with the
//   clamps' inclusive masks and d vn/dw = 1 + (0.08 w + 5) h, d vn/du = -h, d vn/dx = h.
struct IzhParams {
  double a_dt, b, c, d, peak, h, floor, vs;
  int K, has_floor, clamp, nd;
};

template <typename F, int SG, bool SMOOTH>
static inline F izh_spike(F hv, F peak, F vs, F alpha) {
#ifdef SF_SMOOTH
  if (SMOOTH) return prim<F, SG>((hv - peak) / vs, alpha);
#endif
  (void)vs; (void)alpha;
  return hv >= peak ? (F)1 : (F)0;
}

// one Euler substep of a block of n neurons: w <- step(w), g <- the surrogate's value (CLAMP), vn <- the
// unclamped value (if given); the loop over j vectorises (the K substeps are the outer loop)
template <typename F, bool CLAMP, bool FLOOR>
static inline void izh_substep(F* __restrict w, F* __restrict g, F* __restrict vno, const F* __restrict u,
                               const F* __restrict x, const IzhParams& q, int64_t n) {
  const F h = (F)q.h, peak = (F)q.peak, fl = (F)q.floor;
  for (int64_t j = 0; j < n; ++j) {
    const F wj = w[j];
    const F vn = wj + ((wj * wj * (F)0.04 + wj * (F)5 + (F)140 - u[j] + x[j]) * h);
    if (vno) vno[j] = vn;
    if (CLAMP) {
      const bool held = wj >= peak;
      g[j] = held ? g[j] : vn;
      F pre = held ? wj : vn;
      if (FLOOR) pre = pre < fl ? fl : pre;
      w[j] = pre > peak ? peak : pre;
    } else {
      w[j] = FLOOR ? (vn < fl ? fl : vn) : vn;
    }
  }
}

template <typename F, int SG, bool SMOOTH, bool CLAMP, bool FLOOR>
static int64_t izh_fwd_range(const F* x, const F* v0, const F* u0, F* s, F* vT, F* uT, const P<F>& p,
                             const IzhParams& q, int64_t i0, int64_t i1) {
  const int64_t B = block_for(p.T);
  const int64_t T = p.T, M = p.M, xst = p.xst;
  const F adt = (F)q.a_dt, b = (F)q.b, c = (F)q.c, d = (F)q.d, peak = (F)q.peak, vs = (F)q.vs, alpha = p.alpha;
  F* v = (F*)malloc(sizeof(F) * B);
  F* u = (F*)malloc(sizeof(F) * B);
  F* w = (F*)malloc(sizeof(F) * B);
  F* g = (F*)malloc(sizeof(F) * B);
  int64_t nan_count = 0;
  for (int64_t blk = i0; blk < i1; blk += B) {
    const int64_t n = (i1 - blk) < B ? (i1 - blk) : B;
    for (int64_t j = 0; j < n; ++j) { v[j] = v0[blk + j]; u[j] = u0[blk + j]; }
    for (int64_t t = 0; t < T; ++t) {
      const F* __restrict xt = x + t * xst + blk;
      F* __restrict st = s + t * M + blk;
      int32_t bad = 0;
      for (int64_t j = 0; j < n; ++j) {
        bad |= (int32_t)(xt[j] != xt[j]);
        w[j] = v[j];
        g[j] = v[j];
      }
      for (int k = 0; k < q.K; ++k) izh_substep<F, CLAMP, FLOOR>(w, g, (F*)nullptr, u, xt, q, n);
      for (int64_t j = 0; j < n; ++j) {
        const F hv = w[j];
        const F un = u[j] + (hv * b - u[j]) * adt;
        const F sp = izh_spike<F, SG, SMOOTH>(hv, peak, vs, alpha);
        st[j] = sp;
        v[j] = sp * c + ((F)1 - sp) * hv;
        u[j] = un + sp * d;
      }
      nan_count += bad != 0;
    }
    for (int64_t j = 0; j < n; ++j) { vT[blk + j] = v[j]; uT[blk + j] = u[j]; }
  }
  free(v);
  free(u);
  free(w);
  free(g);
  return nan_count;
}

template <typename F, int SG, bool SMOOTH, bool CLAMP, bool FLOOR>
static void izh_bwd_range(const F* x, const F* v0, const F* u0, const F* gs, F gs_scalar, int gs_mode, const F* gvT,
                          const F* guT, F* gx, F* gv0, F* gu0, const P<F>& p, const IzhParams& q, int64_t i0,
                          int64_t i1) {
  const int64_t B = block_for(p.T);
  const int64_t T = p.T, M = p.M, xst = p.xst;
  const int K = q.K;
  const F adt = (F)q.a_dt, b = (F)q.b, c = (F)q.c, d = (F)q.d, peak = (F)q.peak, vs = (F)q.vs, alpha = p.alpha;
  const F h = (F)q.h, fl = (F)q.floor, nd = (F)q.nd;
  F* vb = (F*)malloc(sizeof(F) * B * (T > 0 ? T : 1));  // v_{t-1}, u_{t-1} [T, B]
  F* ub = (F*)malloc(sizeof(F) * B * (T > 0 ? T : 1));
  F* wk = (F*)malloc(sizeof(F) * B * (K + 1));          // substeps of one step: w_0..w_K, vn_0..vn_{K-1} [K, B]
  F* vnk = (F*)malloc(sizeof(F) * B * K);
  F* v = (F*)malloc(sizeof(F) * B);
  F* u = (F*)malloc(sizeof(F) * B);
  F* gV = (F*)malloc(sizeof(F) * B);
  F* gU = (F*)malloc(sizeof(F) * B);
  F* gb = (F*)malloc(sizeof(F) * B);
  for (int64_t blk = i0; blk < i1; blk += B) {
    const int64_t n = (i1 - blk) < B ? (i1 - blk) : B;
    for (int64_t j = 0; j < n; ++j) { v[j] = v0[blk + j]; u[j] = u0[blk + j]; }
    for (int64_t t = 0; t < T; ++t) {  // the states before each step
      const F* __restrict xt = x + t * xst + blk;
      F* __restrict w = wk;  // scratch
      for (int64_t j = 0; j < n; ++j) {
        vb[t * B + j] = v[j];
        ub[t * B + j] = u[j];
        w[j] = v[j];
        gb[j] = v[j];
      }
      for (int k = 0; k < K; ++k) izh_substep<F, CLAMP, FLOOR>(w, gb, (F*)nullptr, u, xt, q, n);
      for (int64_t j = 0; j < n; ++j) {
        const F hv = w[j];
        const F un = u[j] + (hv * b - u[j]) * adt;
        const F sp = izh_spike<F, SG, SMOOTH>(hv, peak, vs, alpha);
        v[j] = sp * c + ((F)1 - sp) * hv;
        u[j] = un + sp * d;
      }
    }
    for (int64_t j = 0; j < n; ++j) {
      gV[j] = gvT ? gvT[blk + j] : (F)0;
      gU[j] = guT ? guT[blk + j] : (F)0;
    }
    for (int64_t t = T - 1; t >= 0; --t) {
      const F* __restrict xt = x + t * xst + blk;
      F* __restrict gxt = gx + t * M + blk;
      // the substeps of this step, forward again: w_k in wk[k], vn_k in vnk[k] ([K + 1, B], [K, B])
      for (int64_t j = 0; j < n; ++j) { wk[j] = vb[t * B + j]; gb[j] = wk[j]; }
      for (int k = 0; k < K; ++k) {
        for (int64_t j = 0; j < n; ++j) wk[(k + 1) * B + j] = wk[k * B + j];
        izh_substep<F, CLAMP, FLOOR>(wk + (k + 1) * B, gb, vnk + k * B, ub + t * B, xt, q, n);
      }
      for (int64_t j = 0; j < n; ++j) {
        const F hv = wk[K * B + j];
        const F sp = izh_spike<F, SG, SMOOTH>(hv, peak, vs, alpha);
        const F gsv = gs_mode == 0 ? gs[t * M + blk + j] : gs_scalar;
        const F gst = gsv + nd * (gV[j] * (c - hv) + gU[j] * d);
        const F gz = gst * surr<F, SG>((hv - peak) / vs, alpha) / vs;
        const bool fired = CLAMP && hv >= peak;
        F gw = gV[j] * ((F)1 - sp) + gU[j] * b * adt + (fired ? (F)0 : gz);  // dL/dw_K
        F gg = fired ? gz : (F)0;                                              // dL/dg_K (the surrogate's input)
        F gu = gU[j] * ((F)1 - adt);
        F gxx = (F)0;
        for (int k = K - 1; k >= 0; --k) {
          const F wprev = wk[k * B + j], vn = vnk[k * B + j];
          F gvn;
          if (CLAMP) {
            const bool held = wprev >= peak;
            const F pre = held ? wprev : vn;
            const bool pass = (!FLOOR || pre >= fl) && pre <= peak;  // torch.clamp's inclusive mask
            const F gpre = pass ? gw : (F)0;
            gvn = held ? (F)0 : gpre + gg;
            gw = held ? gpre : (F)0;
            gg = held ? gg : (F)0;
          } else {
            gvn = (!FLOOR || vn >= fl) ? gw : (F)0;
            gw = (F)0;
          }
          gw += gvn * ((F)1 + (wprev * (F)0.08 + (F)5) * h);
          gu -= gvn * h;
          gxx += gvn * h;
        }
        gxt[j] = gxx;
        gV[j] = gw + gg;  // w_0 = g_0 = v_{t-1}
        gU[j] = gu;
      }
    }
    for (int64_t j = 0; j < n; ++j) {
      if (gv0) gv0[blk + j] = gV[j];
      if (gu0) gu0[blk + j] = gU[j];
    }
  }
  free(vb); free(ub); free(wk); free(vnk); free(v); free(u); free(gV); free(gU); free(gb);
}

// ---------------------------------------------------------------- dispatch
template <typename F>
struct Job {
  const F *x, *v0, *gs, *gvT;
  F *s, *vT, *gx, *gv0, *gk;
  const F *a0, *gaT;  // ALIF's a (Izhikevich: u)
  F *aT, *ga0;
  F gs_scalar;
  int gs_mode, backward, alif, izh;
  IzhParams iq;
  P<F> p;
  int64_t i0, i1, nan_count;
};

template <typename F>
using FwdFn = int64_t (*)(const F*, const F*, F*, F*, const P<F>&, int64_t, int64_t);

#define SF_PICK(FN, CH, RS) \
  if (ch == CH && rs == RS) return FN<F, CH, RS, SG, SMOOTH>;
#define SF_PICK_ALL(FN)                                                                       \
  SF_PICK(FN, 0, 0) SF_PICK(FN, 0, 1) SF_PICK(FN, 0, 2) SF_PICK(FN, 0, 3) SF_PICK(FN, 1, 0)   \
  SF_PICK(FN, 1, 1) SF_PICK(FN, 1, 2) SF_PICK(FN, 1, 3) SF_PICK(FN, 2, 0) SF_PICK(FN, 2, 1)   \
  SF_PICK(FN, 2, 2) SF_PICK(FN, 2, 3) SF_PICK(FN, 3, 0) SF_PICK(FN, 3, 1) SF_PICK(FN, 3, 2)   \
  SF_PICK(FN, 3, 3) SF_PICK(FN, 4, 0) SF_PICK(FN, 4, 1) SF_PICK(FN, 4, 2) SF_PICK(FN, 4, 3)

template <typename F, int SG, bool SMOOTH>
static FwdFn<F> pick_fwd(int ch, int rs) {
  SF_PICK_ALL(fwd_range)
  return nullptr;
}

template <typename F, int SG, bool SMOOTH>
static RecomputeFn<F> pick_recompute(int ch, int rs) {
  SF_PICK_ALL(recompute_block)
  return nullptr;
}

template <typename F, int SG, bool SMOOTH>
static void run_bwd_sg(Job<F>& j) {
  // outside smooth mode the recomputation does not depend on the surrogate: SG 0 for all
  RecomputeFn<F> rec = pick_recompute<F, SMOOTH ? SG : 0, SMOOTH>(j.p.charge, j.p.reset);
  const bool dl = j.p.reset == RESET_SOFT_DELAYED;
  if (j.p.charge == CHARGE_K_DECAY_INPUT || j.p.charge == CHARGE_K) {
    if (dl) bwd_range<F, SG, SMOOTH, true, true>(j.x, j.v0, j.gs, j.gs_scalar, j.gs_mode, j.gvT, j.gx, j.gv0, j.gk, j.p, j.i0, j.i1, rec);
    else bwd_range<F, SG, SMOOTH, false, true>(j.x, j.v0, j.gs, j.gs_scalar, j.gs_mode, j.gvT, j.gx, j.gv0, j.gk, j.p, j.i0, j.i1, rec);
  } else if (dl) {
    bwd_range<F, SG, SMOOTH, true, false>(j.x, j.v0, j.gs, j.gs_scalar, j.gs_mode, j.gvT, j.gx, j.gv0, nullptr, j.p, j.i0, j.i1, rec);
  } else {
    bwd_range<F, SG, SMOOTH, false, false>(j.x, j.v0, j.gs, j.gs_scalar, j.gs_mode, j.gvT, j.gx, j.gv0, nullptr, j.p, j.i0, j.i1, rec);
  }
}

template <typename F>
using AlifFwdFn = int64_t (*)(const F*, const F*, const F*, F*, F*, F*, const P<F>&, int64_t, int64_t);

#define SF_PICK_ALIF(FN)                                                                              \
  SF_PICK(FN, 0, 0) SF_PICK(FN, 0, 1) SF_PICK(FN, 0, 2) SF_PICK(FN, 1, 0) SF_PICK(FN, 1, 1)           \
  SF_PICK(FN, 1, 2) SF_PICK(FN, 2, 0) SF_PICK(FN, 2, 1) SF_PICK(FN, 2, 2)

template <typename F, int SG, bool SMOOTH>
static AlifFwdFn<F> pick_alif_fwd(int ch, int rs) {
  SF_PICK_ALIF(alif_fwd_range)
  return nullptr;
}

template <typename F, int SG, bool SMOOTH>
static AlifRecomputeFn<F> pick_alif_recompute(int ch, int rs) {
  SF_PICK_ALIF(alif_recompute_block)
  return nullptr;
}

template <typename F, int SG, bool SMOOTH>
static void run_alif_bwd_sg(Job<F>& j) {
  AlifRecomputeFn<F> rec = pick_alif_recompute<F, SMOOTH ? SG : 0, SMOOTH>(j.p.charge, j.p.reset);
  alif_bwd_range<F, SG, SMOOTH>(j.x, j.v0, j.a0, j.gs, j.gs_scalar, j.gs_mode, j.gvT, j.gaT, j.gx, j.gv0, j.ga0, j.p,
                                j.i0, j.i1, rec);
}

template <typename F, int SG, bool SMOOTH>
static void run_alif_fwd_sg(Job<F>& j) {
  j.nan_count = pick_alif_fwd<F, SG, SMOOTH>(j.p.charge, j.p.reset)(j.x, j.v0, j.a0, j.s, j.vT, j.aT, j.p, j.i0, j.i1);
}

template <typename F, int SG, bool SMOOTH>
static void run_fwd_sg(Job<F>& j) {
  j.nan_count = pick_fwd<F, SG, SMOOTH>(j.p.charge, j.p.reset)(j.x, j.v0, j.s, j.vT, j.p, j.i0, j.i1);
}

#define SF_SWITCH_SG(FN, SMOOTH)                 \
  switch (j.p.surr) {                            \
    case 0: FN<F, 0, SMOOTH>(j); break;          \
    case 1: FN<F, 1, SMOOTH>(j); break;          \
    case 2: FN<F, 2, SMOOTH>(j); break;          \
    case 3: FN<F, 3, SMOOTH>(j); break;          \
    case 4: FN<F, 4, SMOOTH>(j); break;          \
    case 5: FN<F, 5, SMOOTH>(j); break;          \
    default: FN<F, 6, SMOOTH>(j); break;         \
  }

template <typename F, int SG, bool SMOOTH, bool CLAMP, bool FLOOR>
static void run_izh_cf(Job<F>& j) {
  if (j.backward)
    izh_bwd_range<F, SG, SMOOTH, CLAMP, FLOOR>(j.x, j.v0, j.a0, j.gs, j.gs_scalar, j.gs_mode, j.gvT, j.gaT, j.gx, j.gv0,
                                               j.ga0, j.p, j.iq, j.i0, j.i1);
  else
    j.nan_count = izh_fwd_range<F, SG, SMOOTH, CLAMP, FLOOR>(j.x, j.v0, j.a0, j.s, j.vT, j.aT, j.p, j.iq, j.i0, j.i1);
}

template <typename F, int SG, bool SMOOTH>
static void run_izh_sg(Job<F>& j) {
  if (j.iq.clamp && j.iq.has_floor) run_izh_cf<F, SG, SMOOTH, true, true>(j);
  else if (j.iq.clamp) run_izh_cf<F, SG, SMOOTH, true, false>(j);
  else if (j.iq.has_floor) run_izh_cf<F, SG, SMOOTH, false, true>(j);
  else run_izh_cf<F, SG, SMOOTH, false, false>(j);
}

template <typename F>
static void run(Job<F>& j) {
  if (j.izh) {
#ifdef SF_SMOOTH
    if (j.p.smooth) {
      SF_SWITCH_SG(run_izh_sg, true)
      return;
    }
#endif
    if (j.backward) { SF_SWITCH_SG(run_izh_sg, false) } else { run_izh_sg<F, 0, false>(j); }
    return;
  }
  if (j.alif) {
#ifdef SF_SMOOTH
    if (j.p.smooth) {
      if (j.backward) { SF_SWITCH_SG(run_alif_bwd_sg, true) } else { SF_SWITCH_SG(run_alif_fwd_sg, true) }
      return;
    }
#endif
    if (j.backward) { SF_SWITCH_SG(run_alif_bwd_sg, false) } else { run_alif_fwd_sg<F, 0, false>(j); }
    return;
  }
#ifdef SF_SMOOTH
  if (j.p.smooth) {
    if (j.backward) { SF_SWITCH_SG(run_bwd_sg, true) } else { SF_SWITCH_SG(run_fwd_sg, true) }
    return;
  }
#endif
  // outside smooth mode the forward pass does not depend on the surrogate: one instantiation
  if (j.backward) { SF_SWITCH_SG(run_bwd_sg, false) } else { run_fwd_sg<F, 0, false>(j); }
}

template <typename F>
static void* thread_main(void* arg) {
  run<F>(*(Job<F>*)arg);
  return nullptr;
}

template <typename F>
static int64_t launch(Job<F> base, int nthreads) {
  const int64_t M = base.p.M;
  if (nthreads < 1) nthreads = 1;
  if (nthreads > 64) nthreads = 64;
  // below ~64k neuron-steps per thread, starting a thread costs more than it saves
  const int64_t work = M * (base.p.T > 0 ? base.p.T : 1);
  const int64_t max_threads = work / 65536 + 1;
  if (nthreads > max_threads) nthreads = (int)max_threads;
  if (nthreads > M / 16) nthreads = (int)(M / 16 > 0 ? M / 16 : 1);
  Job<F> jobs[64];
  pthread_t tids[64];
  int started[64];
  const int64_t per = ((M + nthreads - 1) / nthreads + 15) / 16 * 16;
  int used = 0;
  for (int k = 0; k < nthreads; ++k) {
    const int64_t i0 = k * per;
    if (i0 >= M) break;
    jobs[k] = base;
    jobs[k].i0 = i0;
    jobs[k].i1 = (i0 + per) < M ? (i0 + per) : M;
    jobs[k].nan_count = 0;
    ++used;
  }
#ifdef _OPENMP
  // OpenMP build: the team comes from the OpenMP runtime already loaded in the process (PyTorch's
  // libgomp, matched by soname), so our threads are PyTorch's own pool. Private pthreads here would
  // compete with that pool's workers, which spin-wait after every torch operation.
  (void)tids; (void)started;
#pragma omp parallel for num_threads(used) schedule(static, 1)
  for (int k = 0; k < used; ++k) thread_main<F>(&jobs[k]);
#else
  for (int k = 1; k < used; ++k)
    started[k] = pthread_create(&tids[k], nullptr, thread_main<F>, &jobs[k]) == 0;
  if (used > 0) thread_main<F>(&jobs[0]);
  for (int k = 1; k < used; ++k) {
    if (started[k]) pthread_join(tids[k], nullptr);
    else thread_main<F>(&jobs[k]);  // could not start a thread: do its share here
  }
#endif
  int64_t nan_count = 0;
  for (int k = 0; k < used; ++k) nan_count += jobs[k].nan_count;
  return nan_count;
}

template <typename F>
static P<F> make_params(int64_t T, int64_t M, int64_t xst, const double* fp, const int* ip) {
  P<F> p;
  p.T = T; p.M = M; p.xst = xst;
  p.a = (F)fp[0]; p.b = (F)fp[1]; p.c = (F)fp[2]; p.tau = (F)fp[3]; p.vr = (F)fp[4];
  p.vth = (F)fp[5]; p.alpha = (F)fp[6]; p.nd = (F)fp[7];
  p.charge = ip[0]; p.reset = ip[1]; p.ge = ip[2]; p.surr = ip[3]; p.smooth = ip[4];
  p.kv = nullptr; p.beta = (F)0; p.rho = (F)0; p.m = (F)0;
  return p;
}

static int valid_modes(const int* ip) {
  int ok = ip[0] >= 0 && ip[0] <= 4 && ip[1] >= 0 && ip[1] <= 3 && ip[2] >= 0 && ip[2] <= 1 && ip[3] >= 0 && ip[3] <= 6;
#ifdef SF_SMOOTH
  ok = ok && (ip[4] == 0 || ip[4] == 1);
#else
  ok = ok && ip[4] == 0;
#endif
  return ok;
}

template <typename F>
static int64_t forward_t(const void* x, const void* v0, const void* kv, void* s, void* vT, int64_t T, int64_t M,
                         int64_t xst, const double* fp, const int* ip, int nthreads) {
  Job<F> j;
  memset(&j, 0, sizeof(j));
  j.x = (const F*)x; j.v0 = (const F*)v0; j.s = (F*)s; j.vT = (F*)vT;
  j.p = make_params<F>(T, M, xst, fp, ip);
  j.p.kv = (const F*)kv;
  return launch<F>(j, nthreads);
}

template <typename F>
static int64_t backward_t(const void* x, const void* v0, const void* kv, const void* gs, double gs_scalar, int gs_mode,
                          const void* gvT, void* gx, void* gv0, void* gk, int64_t T, int64_t M, int64_t xst,
                          const double* fp, const int* ip, int nthreads) {
  Job<F> j;
  memset(&j, 0, sizeof(j));
  j.x = (const F*)x; j.v0 = (const F*)v0; j.gs = (const F*)gs; j.gvT = (const F*)gvT;
  j.gx = (F*)gx; j.gv0 = (F*)gv0; j.gk = (F*)gk; j.gs_scalar = (F)gs_scalar; j.gs_mode = gs_mode; j.backward = 1;
  j.p = make_params<F>(T, M, xst, fp, ip);
  j.p.kv = (const F*)kv;
  return launch<F>(j, nthreads);
}

template <typename F>
static void set_alif_params(P<F>& p, const double* fp) {
  p.beta = (F)fp[8]; p.rho = (F)fp[9]; p.m = (F)fp[10];
}

template <typename F>
static int64_t alif_forward_t(const void* x, const void* v0, const void* a0, void* s, void* vT, void* aT, int64_t T,
                              int64_t M, int64_t xst, const double* fp, const int* ip, int nthreads) {
  Job<F> j;
  memset(&j, 0, sizeof(j));
  j.x = (const F*)x; j.v0 = (const F*)v0; j.a0 = (const F*)a0; j.s = (F*)s; j.vT = (F*)vT; j.aT = (F*)aT;
  j.alif = 1;
  j.p = make_params<F>(T, M, xst, fp, ip);
  set_alif_params<F>(j.p, fp);
  return launch<F>(j, nthreads);
}

template <typename F>
static int64_t alif_backward_t(const void* x, const void* v0, const void* a0, const void* gs, double gs_scalar,
                               int gs_mode, const void* gvT, const void* gaT, void* gx, void* gv0, void* ga0, int64_t T,
                               int64_t M, int64_t xst, const double* fp, const int* ip, int nthreads) {
  Job<F> j;
  memset(&j, 0, sizeof(j));
  j.x = (const F*)x; j.v0 = (const F*)v0; j.a0 = (const F*)a0; j.gs = (const F*)gs; j.gvT = (const F*)gvT;
  j.gaT = (const F*)gaT; j.gx = (F*)gx; j.gv0 = (F*)gv0; j.ga0 = (F*)ga0; j.gs_scalar = (F)gs_scalar;
  j.gs_mode = gs_mode; j.backward = 1; j.alif = 1;
  j.p = make_params<F>(T, M, xst, fp, ip);
  set_alif_params<F>(j.p, fp);
  return launch<F>(j, nthreads);
}

// Izhikevich: fp = [dt a, b, c, d, v_peak, h = dt / K, v_min, v_scale, alpha];
// ip = [K, has v_min, clamp_peak, 1 - detach_reset, surrogate, smooth]
static int izh_valid(const int* ip) {
  int ok = ip[0] >= 1 && ip[1] >= 0 && ip[1] <= 1 && ip[2] >= 0 && ip[2] <= 1 && ip[3] >= 0 && ip[3] <= 1 &&
           ip[4] >= 0 && ip[4] <= 6;
#ifdef SF_SMOOTH
  ok = ok && (ip[5] == 0 || ip[5] == 1);
#else
  ok = ok && ip[5] == 0;
#endif
  return ok;
}

template <typename F>
static Job<F> izh_job(int64_t T, int64_t M, int64_t xst, const double* fp, const int* ip) {
  Job<F> j;
  memset(&j, 0, sizeof(j));
  j.izh = 1;
  j.p.T = T; j.p.M = M; j.p.xst = xst; j.p.alpha = (F)fp[8]; j.p.surr = ip[4]; j.p.smooth = ip[5];
  j.iq.a_dt = fp[0]; j.iq.b = fp[1]; j.iq.c = fp[2]; j.iq.d = fp[3]; j.iq.peak = fp[4]; j.iq.h = fp[5];
  j.iq.floor = fp[6]; j.iq.vs = fp[7];
  j.iq.K = ip[0]; j.iq.has_floor = ip[1]; j.iq.clamp = ip[2]; j.iq.nd = ip[3];
  return j;
}

}  // namespace

#ifndef SF_REAL
#define SF_REAL float
#endif
typedef SF_REAL sf_real;

extern "C" {

// One library per scalar type (-DSF_REAL=float or double) and mode (-DSF_SMOOTH), built on demand.
// fp = [a, b, c, tau, v_reset, v_th, alpha, 1 - detach_reset]; ip = [charge, reset, ge, surrogate, smooth].
// kv: k per neuron [M] for the CHARGE_K* modes (NULL otherwise); gk (backward, may be NULL): dL/dk [M].
// Returns the number of (block, step) pairs with NaN input (forward), or -1 for an invalid mode.
int64_t sf_lif_forward(const void* x, const void* v0, const void* kv, void* s, void* vT, int64_t T, int64_t M,
                       int64_t xst, const double* fp, const int* ip, int nthreads) {
  if (!valid_modes(ip) || (kv == nullptr) != (ip[0] < CHARGE_K_DECAY_INPUT)) return -1;
  return forward_t<sf_real>(x, v0, kv, s, vT, T, M, xst, fp, ip, nthreads);
}

int64_t sf_lif_backward(const void* x, const void* v0, const void* kv, const void* gs, double gs_scalar, int gs_mode,
                        const void* gvT, void* gx, void* gv0, void* gk, int64_t T, int64_t M, int64_t xst,
                        const double* fp, const int* ip, int nthreads) {
  if (!valid_modes(ip) || (kv == nullptr) != (ip[0] < CHARGE_K_DECAY_INPUT) || (gk && kv == nullptr)) return -1;
  return backward_t<sf_real>(x, v0, kv, gs, gs_scalar, gs_mode, gvT, gx, gv0, gk, T, M, xst, fp, ip, nthreads);
}

// ALIF: fp = [a, b, c, tau, v_reset, v_th, alpha, 1 - detach_reset, beta, rho, 1 - detach_adaptation];
// ip as LIF with reset in {hard, soft, none}. a0 / aT: adaptation before the first / after the last step.
int64_t sf_alif_forward(const void* x, const void* v0, const void* a0, void* s, void* vT, void* aT, int64_t T,
                        int64_t M, int64_t xst, const double* fp, const int* ip, int nthreads) {
  if (!valid_modes(ip) || ip[0] > CHARGE_TAU || ip[1] > RESET_NONE) return -1;
  return alif_forward_t<sf_real>(x, v0, a0, s, vT, aT, T, M, xst, fp, ip, nthreads);
}

int64_t sf_alif_backward(const void* x, const void* v0, const void* a0, const void* gs, double gs_scalar, int gs_mode,
                         const void* gvT, const void* gaT, void* gx, void* gv0, void* ga0, int64_t T, int64_t M,
                         int64_t xst, const double* fp, const int* ip, int nthreads) {
  if (!valid_modes(ip) || ip[0] > CHARGE_TAU || ip[1] > RESET_NONE) return -1;
  return alif_backward_t<sf_real>(x, v0, a0, gs, gs_scalar, gs_mode, gvT, gaT, gx, gv0, ga0, T, M, xst, fp, ip,
                                  nthreads);
}

int64_t sf_izh_forward(const void* x, const void* v0, const void* u0, void* s, void* vT, void* uT, int64_t T,
                       int64_t M, int64_t xst, const double* fp, const int* ip, int nthreads) {
  if (!izh_valid(ip) || !v0 || !u0) return -1;
  Job<sf_real> j = izh_job<sf_real>(T, M, xst, fp, ip);
  j.x = (const sf_real*)x; j.v0 = (const sf_real*)v0; j.a0 = (const sf_real*)u0;
  j.s = (sf_real*)s; j.vT = (sf_real*)vT; j.aT = (sf_real*)uT;
  return launch<sf_real>(j, nthreads);
}

int64_t sf_izh_backward(const void* x, const void* v0, const void* u0, const void* gs, double gs_scalar, int gs_mode,
                        const void* gvT, const void* guT, void* gx, void* gv0, void* gu0, int64_t T, int64_t M,
                        int64_t xst, const double* fp, const int* ip, int nthreads) {
  if (!izh_valid(ip) || !v0 || !u0) return -1;
  Job<sf_real> j = izh_job<sf_real>(T, M, xst, fp, ip);
  j.x = (const sf_real*)x; j.v0 = (const sf_real*)v0; j.a0 = (const sf_real*)u0; j.gs = (const sf_real*)gs;
  j.gvT = (const sf_real*)gvT; j.gaT = (const sf_real*)guT; j.gx = (sf_real*)gx; j.gv0 = (sf_real*)gv0;
  j.ga0 = (sf_real*)gu0; j.gs_scalar = (sf_real)gs_scalar; j.gs_mode = gs_mode; j.backward = 1;
  return launch<sf_real>(j, nthreads);
}

int sf_real_size(void) { return (int)sizeof(sf_real); }

int sf_abi_version(void) { return 8; }

}  // extern "C"
