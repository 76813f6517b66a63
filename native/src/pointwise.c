/*
 * The CPU backend's memory-bound loops in C: ReLU and its backward mask, bias add and bias
 * gradient, max-pooling and its gather/scatter. In JavaScript each costs 1–4 ns per element
 * (V8 neither vectorises nor turns the data-dependent choices into conditional moves); here
 * they run at memory speed. Every array is checked against the sizes the call implies, and
 * every argmax entry against its plane, before anything is written: a wrong call throws a
 * RangeError and touches nothing. Float32Array or Float64Array, all operands of one type.
 *
 * Semantics match src/nd/backends/cpu (loops.ts, elementwise.ts, pool.ts) exactly, including
 * ReLU's NaN and −0 cases and max-pool's ties (the first in row-major order wins); only the bias
 * gradient's sum is re-associated (eight partial sums, in double for both types).
 */
#include <math.h>
#include <node_api.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "pointwise.h"

#define THROW(env, kind, msg) \
  do { napi_throw_##kind((env), NULL, (msg)); return NULL; } while (0)

typedef struct {
  void *p;
  size_t n;
  napi_typedarray_type t;
} arr;

/* Reads narr typed arrays then ints: the float arrays must share one float type. */
static bool args(napi_env env, napi_callback_info info, size_t narr, arr *a, size_t nint, int64_t *v, bool *dbl) {
  napi_value argv[8];
  size_t argc = 8;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc != narr + nint) return false;
  for (size_t i = 0; i < narr; i++) {
    bool is = false;
    if (napi_is_typedarray(env, argv[i], &is) != napi_ok || !is) return false;
    if (napi_get_typedarray_info(env, argv[i], &a[i].t, &a[i].n, &a[i].p, NULL, NULL) != napi_ok) return false;
    if (a[i].t != a[0].t && a[i].t != napi_int32_array) return false;
  }
  for (size_t i = 0; i < nint; i++)
    if (napi_get_value_int64(env, argv[narr + i], &v[i]) != napi_ok) return false;
  *dbl = a[0].t == napi_float64_array;
  return a[0].t == napi_float32_array || *dbl;
}

#define BAD_ARGS(env, name) THROW(env, type_error, name ": expects typed arrays of one float type (and sizes), see pointwise.c")

/*
 * The loops, once per element type. Locals and restrict pointers throughout: node-gyp builds with
 * -fno-strict-aliasing, so a store through a float pointer would otherwise force every size
 * and pointer to be re-read and no loop would vectorise. The backend lets an output be one of
 * the inputs itself (never a shifted view of it): the elementwise loops read element i before
 * writing element i, so the vectorised code is correct for that overlap too.
 */
#define KERNELS(T)                                                                                   \
  /* out = (x + |x|)/2 in double, as JS computes it: +0 for x <= 0 (also -0), NaN stays NaN. */      \
  static void relu_##T(size_t n, T *restrict out, const T *restrict x) {                             \
    for (size_t i = 0; i < n; i++) { double v = x[i]; out[i] = (T)((v + fabs(v)) * 0.5); }            \
  }                                                                                                  \
  /* out = m * [x > 0]: m * 0 keeps m's sign and turns NaN and infinities to NaN, as in JS. */       \
  static void relu_times_##T(size_t n, T *restrict out, const T *restrict x, const T *restrict m) {  \
    for (size_t i = 0; i < n; i++) out[i] = m[i] * (T)(x[i] > 0);                                    \
  }                                                                                                  \
  static void bias_add_##T(size_t planes, size_t inner, size_t nb, T *restrict y, const T *restrict b) { \
    for (size_t p = 0; p < planes; p++) {                                                            \
      T *restrict yp = y + p * inner;                                                                \
      const T v = b[p % nb];                                                                         \
      for (size_t i = 0; i < inner; i++) yp[i] += v;                                                 \
    }                                                                                                \
  }                                                                                                  \
  /* Eight partial sums in double, for both types. */                                                \
  static void bias_grad_##T(size_t planes, size_t inner, size_t nb, T *restrict db, const T *restrict dy) { \
    for (size_t p = 0; p < planes; p++) {                                                            \
      const T *restrict d = dy + p * inner;                                                          \
      double s[8] = {0, 0, 0, 0, 0, 0, 0, 0};                                                        \
      size_t i = 0;                                                                                  \
      for (; i + 8 <= inner; i += 8)                                                                 \
        for (int k = 0; k < 8; k++) s[k] += d[i + k];                                                \
      for (; i < inner; i++) s[0] += d[i];                                                           \
      const double sum = ((s[0] + s[1]) + (s[2] + s[3])) + ((s[4] + s[5]) + (s[6] + s[7]));          \
      db[p % nb] = (T)(db[p % nb] + sum); /* one rounding, as JS's db[c] += s */                     \
    }                                                                                                \
  }                                                                                                  \
  /* Per output: b = the window's first element, then b = t wherever x[t] > x[b], taps in          \
     row-major order (a conditional move, not a branch). */                                          \
  static void max_pool_##T(const int64_t *restrict g, const int64_t *restrict taps, int64_t nt,      \
                            T *restrict y, T *restrict am, const T *restrict x) {                    \
    const int64_t planes = g[0], H = g[2], W = g[3], sD = g[7], sH = g[8], sW = g[9];               \
    const int64_t oD = g[10], oH = g[11], oW = g[12], inVol = g[1] * H * W;                          \
    size_t o = 0;                                                                                    \
    for (int64_t p = 0; p < planes; p++) {                                                           \
      const T *restrict xp = x + p * inVol;                                                          \
      for (int64_t od = 0; od < oD; od++)                                                            \
        for (int64_t oh = 0; oh < oH; oh++) {                                                        \
          const int64_t line = (od * sD * H + oh * sH) * W;                                          \
          for (int64_t ow = 0; ow < oW; ow++, o++) {                                                 \
            const int64_t i0 = line + ow * sW;                                                       \
            int64_t b = i0;                                                                          \
            for (int64_t k = 1; k < nt; k++) {                                                       \
              const int64_t t = i0 + taps[k];                                                        \
              b = xp[t] > xp[b] ? t : b;                                                             \
            }                                                                                        \
            am[o] = (T)b;                                                                            \
            y[o] = xp[b];                                                                            \
          }                                                                                          \
        }                                                                                            \
    }                                                                                                \
  }                                                                                                  \
  /* Whether every argmax entry is an integer offset in [0, inVol). */                               \
  static bool offsets_ok_##T(size_t n, const T *restrict am, int64_t inVol) {                        \
    bool ok = true;                                                                                  \
    for (size_t j = 0; j < n; j++) ok &= am[j] >= 0 && am[j] < (T)inVol && am[j] == (T)(int64_t)am[j]; \
    return ok;                                                                                       \
  }                                                                                                  \
  /* scatter: big[p, am[p, o]] += small[p, o]; else small[p, o] = big[p, am[p, o]]. */             \
  static void route_##T(bool scatter, size_t planes, int64_t inVol, int64_t outVol, T *restrict big, \
                        T *restrict small, const T *restrict am) {                                   \
    for (size_t p = 0; p < planes; p++) {                                                            \
      T *restrict bp = big + p * inVol;                                                              \
      const size_t o0 = p * outVol;                                                                  \
      if (scatter) for (int64_t o = 0; o < outVol; o++) bp[(int64_t)am[o0 + o]] += small[o0 + o];    \
      else for (int64_t o = 0; o < outVol; o++) small[o0 + o] = bp[(int64_t)am[o0 + o]];             \
    }                                                                                                \
  }
KERNELS(float)
KERNELS(double)

napi_value ndcnn_relu(napi_env env, napi_callback_info info) {
  arr a[2];
  bool dbl;
  if (!args(env, info, 2, a, 0, NULL, &dbl)) BAD_ARGS(env, "relu");
  if (a[0].n != a[1].n) THROW(env, range_error, "relu: out and x differ in length");
  if (dbl) relu_double(a[0].n, a[0].p, a[1].p);
  else relu_float(a[0].n, a[0].p, a[1].p);
  return NULL;
}

/* reluTimes(out, x, m): out = m · [x > 0], ReLU's backward mask. */
napi_value ndcnn_relu_times(napi_env env, napi_callback_info info) {
  arr a[3];
  bool dbl;
  if (!args(env, info, 3, a, 0, NULL, &dbl)) BAD_ARGS(env, "reluTimes");
  if (a[0].n != a[1].n || a[0].n != a[2].n) THROW(env, range_error, "reluTimes: out, x and m differ in length");
  if (dbl) relu_times_double(a[0].n, a[0].p, a[1].p, a[2].p);
  else relu_times_float(a[0].n, a[0].p, a[1].p, a[2].p);
  return NULL;
}

/* biasAdd(y, b, inner): y[p, i] += b[p mod C]; biasGrad(db, dy, inner): db[p mod C] += Σ_i dy[p, i]. */
static napi_value bias(napi_env env, napi_callback_info info, bool grad) {
  arr a[2];
  int64_t v[1];
  bool dbl;
  const char *name = grad ? "biasGrad" : "biasAdd";
  if (!args(env, info, 2, a, 1, v, &dbl)) BAD_ARGS(env, "bias");
  size_t nb = a[grad ? 0 : 1].n, ny = a[grad ? 1 : 0].n;
  if (v[0] < 1 || nb == 0 || ny % ((size_t)v[0] * nb) != 0) {
    char msg[160];
    snprintf(msg, sizeof msg, "%s: %zu elements are not whole planes of %lld for %zu channels", name, ny, (long long)v[0], nb);
    THROW(env, range_error, msg);
  }
  size_t inner = (size_t)v[0], planes = ny / inner;
  if (grad) {
    if (dbl) bias_grad_double(planes, inner, nb, a[0].p, a[1].p);
    else bias_grad_float(planes, inner, nb, a[0].p, a[1].p);
  } else {
    if (dbl) bias_add_double(planes, inner, nb, a[0].p, a[1].p);
    else bias_add_float(planes, inner, nb, a[0].p, a[1].p);
  }
  return NULL;
}
napi_value ndcnn_bias_add(napi_env env, napi_callback_info info) { return bias(env, info, false); }
napi_value ndcnn_bias_grad(napi_env env, napi_callback_info info) { return bias(env, info, true); }

/*
 * maxPool(y, argmax, x, geometry Int32Array(13): planes, in[3], window[3], stride[3], out[3]);
 * argmax = the winner's offset in its plane.
 */
napi_value ndcnn_max_pool(napi_env env, napi_callback_info info) {
  arr a[4];
  bool dbl;
  if (!args(env, info, 4, a, 0, NULL, &dbl) || a[3].t != napi_int32_array || a[3].n != 13 || a[1].t != a[0].t || a[2].t != a[0].t)
    THROW(env, type_error, "maxPool: expects (y, argmax, x, geometry: Int32Array(13)), y, argmax and x of one float type");
  int64_t g[13];
  for (int i = 0; i < 13; i++) {
    g[i] = ((const int32_t *)a[3].p)[i];
    if (g[i] < (i == 0 ? 0 : 1)) THROW(env, range_error, "maxPool: sizes must be positive (planes non-negative)");
  }
  const int64_t inVol = g[1] * g[2] * g[3], outVol = g[10] * g[11] * g[12];
  /* The last window must fit its plane: (o − 1)·s + w ≤ in on every axis. */
  for (int i = 0; i < 3; i++)
    if ((g[10 + i] - 1) * g[7 + i] + g[4 + i] > g[1 + i]) THROW(env, range_error, "maxPool: windows reach outside the input");
  if ((int64_t)a[2].n != g[0] * inVol || (int64_t)a[0].n != g[0] * outVol || a[1].n != a[0].n)
    THROW(env, range_error, "maxPool: y, argmax or x does not match the geometry");
  int64_t taps[4096];
  const int64_t nt = g[4] * g[5] * g[6];
  if (nt > 4096) THROW(env, range_error, "maxPool: more than 4096 taps per window");
  for (int64_t u = 0, k = 0; u < g[4]; u++)
    for (int64_t v = 0; v < g[5]; v++)
      for (int64_t w = 0; w < g[6]; w++) taps[k++] = (u * g[2] + v) * g[3] + w;
  if (dbl) max_pool_double(g, taps, nt, a[0].p, a[1].p, a[2].p);
  else max_pool_float(g, taps, nt, a[0].p, a[1].p, a[2].p);
  return NULL;
}

/*
 * gather(y, x, argmax, inVol, outVol): y[p, o] = x[p, argmax[p, o]];
 * scatterAdd(dx, dy, argmax, inVol, outVol): dx[p, argmax[p, o]] += dy[p, o].
 * `big` is the per-plane array (x or dx), `small` the pooled one (y or dy).
 */
static napi_value route(napi_env env, napi_callback_info info, bool scatter) {
  arr a[3];
  int64_t v[2];
  bool dbl;
  const char *name = scatter ? "scatterAdd" : "gather";
  char msg[200];
  if (!args(env, info, 3, a, 2, v, &dbl) || a[1].t != a[0].t || a[2].t != a[0].t) {
    snprintf(msg, sizeof msg, "%s: expects (%s, argmax, inVol, outVol) of one float type", name, scatter ? "dx, dy" : "y, x");
    THROW(env, type_error, msg);
  }
  const size_t n = a[scatter ? 1 : 0].n, nBig = a[scatter ? 0 : 1].n;
  const int64_t inVol = v[0], outVol = v[1];
  if (inVol < 1 || outVol < 1 || a[2].n != n || n % (size_t)outVol != 0 || nBig != n / (size_t)outVol * (size_t)inVol) {
    snprintf(msg, sizeof msg, "%s: arrays of %zu, %zu and %zu elements do not fit planes of %lld in, %lld out", name, a[0].n, a[1].n,
             a[2].n, (long long)inVol, (long long)outVol);
    THROW(env, range_error, msg);
  }
  const size_t planes = n / (size_t)outVol;
  void *big = a[scatter ? 0 : 1].p, *small = a[scatter ? 1 : 0].p;
  if (!(dbl ? offsets_ok_double(n, a[2].p, inVol) : offsets_ok_float(n, a[2].p, inVol))) {
    snprintf(msg, sizeof msg, "%s: an argmax entry is not an offset in [0, %lld)", name, (long long)inVol);
    THROW(env, range_error, msg);
  }
  if (dbl) route_double(scatter, planes, inVol, outVol, big, small, a[2].p);
  else route_float(scatter, planes, inVol, outVol, big, small, a[2].p);
  return NULL;
}
napi_value ndcnn_gather(napi_env env, napi_callback_info info) { return route(env, info, false); }
napi_value ndcnn_scatter_add(napi_env env, napi_callback_info info) { return route(env, info, true); }
