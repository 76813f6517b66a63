/*
 * im2col and col2im for ndcnn's convolution lowering, in C because a JavaScript copy loop costs
 * ~1.5 ns per element here and a 3-D sample's column matrix has millions of them.
 *
 * Geometry is an Int32Array of 19 values: cin, in[3], kernel[3], stride[3], pad[3], dilation[3],
 * out[3] (every rank lifted to 3-D with leading singleton axes). Columns [o0, o1) of the
 * CK × O column matrix are produced (or consumed), CK = cin·Πkernel, O = Πout, so that
 *   col[(c,a), i − o0] = x[c, i·s + a·d − p]   (zero outside x)
 * and col2im adds each column entry back into dx at the same index: its exact adjoint.
 * The walk is the same as src/nd/backends/cpu/conv.ts's, which the tests compare against.
 */
#include <node_api.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "lowering.h"

typedef struct {
  int64_t cin, in[3], k[3], s[3], p[3], d[3], o[3];
} geometry;

static int64_t range_lo(int64_t s, int64_t off) { return off >= 0 ? 0 : (s - 1 - off) / s; }

static int64_t range_hi(int64_t n, int64_t o, int64_t s, int64_t off, int64_t lo) {
  int64_t last = n - 1 - off;
  if (last < 0) return lo;
  int64_t hi = last / s + 1;
  return hi < lo ? lo : hi > o ? o : hi;
}

/*
 * d[i] += s[i]: col2im's unit-stride runs. A function of its own so that the pointers are
 * restrict: inline in the walk GCC must assume dx and col overlap (node-gyp builds with
 * -fno-strict-aliasing) and adds element by element, 4× slower than im2col's memcpy.
 */
#define RUNS(T)                                                                 \
  static inline void copy_##T(T *restrict d, const T *restrict s, int64_t n) { \
    for (int64_t i = 0; i < n; i++) d[i] = s[i];                                \
  }                                                                             \
  static inline void add_##T(T *restrict d, const T *restrict s, int64_t n) {  \
    for (int64_t i = 0; i < n; i++) d[i] += s[i];                               \
  }
RUNS(float)
RUNS(double)

/* One macro body for both element types and both directions: IM2COL selects the copy. */
#define WALK(T, IM2COL)                                                                         \
  do {                                                                                          \
    const int64_t D = g->in[0], H = g->in[1], W = g->in[2];                                     \
    const int64_t oD = g->o[0], oH = g->o[1], oW = g->o[2];                                     \
    const int64_t width = o1 - o0, q0 = o0 / oW, q1 = (o1 - 1) / oW + 1, sW = g->s[2];          \
    int64_t row = 0;                                                                            \
    for (int64_t c = 0; c < g->cin; c++) {                                                      \
      T *xc = x + c * D * H * W;                                                                \
      for (int64_t kd = 0; kd < g->k[0]; kd++) {                                                \
        const int64_t offD = kd * g->d[0] - g->p[0];                                            \
        const int64_t d0 = range_lo(g->s[0], offD), d1 = range_hi(D, oD, g->s[0], offD, d0);    \
        for (int64_t kh = 0; kh < g->k[1]; kh++) {                                              \
          const int64_t offH = kh * g->d[1] - g->p[1];                                          \
          const int64_t h0 = range_lo(g->s[1], offH), h1 = range_hi(H, oH, g->s[1], offH, h0);  \
          for (int64_t kw = 0; kw < g->k[2]; kw++, row++) {                                     \
            const int64_t offW = kw * g->d[2] - g->p[2];                                        \
            const int64_t w0 = range_lo(sW, offW), w1 = range_hi(W, oW, sW, offW, w0);          \
            T *r = col + row * width;                                                           \
            if (IM2COL && (d1 - d0 < oD || h1 - h0 < oH || w1 - w0 < oW))                       \
              memset(r, 0, (size_t)width * sizeof(T));                                          \
            for (int64_t q = q0; q < q1; q++) {                                                 \
              const int64_t od = q / oH, oh = q - od * oH;                                      \
              if (od < d0 || od >= d1 || oh < h0 || oh >= h1) continue;                         \
              const int64_t line = q * oW;                                                      \
              const int64_t a = o0 - line > w0 ? o0 - line : w0;                                \
              const int64_t b = o1 - line < w1 ? o1 - line : w1;                                \
              if (b <= a) continue; /* a chunk edge before this tap's valid run: nothing here */ \
              T *cl = r + line - o0;                                                            \
              T *xl = xc + ((od * g->s[0] + offD) * H + oh * g->s[1] + offH) * W + offW;        \
              if (IM2COL) {                                                                     \
                if (sW == 1) memcpy(cl + a, xl + a, (size_t)(b - a) * sizeof(T));               \
                else for (int64_t ow = a; ow < b; ow++) cl[ow] = xl[ow * sW];                   \
              } else {                                                                          \
                if (sW == 1) add_##T(xl + a, cl + a, b - a);                                    \
                else for (int64_t ow = a; ow < b; ow++) xl[ow * sW] += cl[ow];                  \
              }                                                                                 \
            }                                                                                   \
          }                                                                                     \
        }                                                                                       \
      }                                                                                         \
    }                                                                                           \
  } while (0)

/*
 * The same walk for an unpadded convolution with unit stride along W (LeNet's, most valid
 * convolutions): every tap reads every output line whole, so a line is one run with no range
 * checks. Small images have short lines (LeNet's second layer: 1,600 runs of 8 per sample), and
 * the general walk's per-line bookkeeping cost several times the copy. im2col also takes the
 * kW taps of a line together (they read the same x line, shifted): LeNet conv2 5.6 → 4.5 µs per
 * sample. col2im keeps one row at a time: its kW adds into overlapping x stall on each other
 * (6.0 → 9.5 µs the fused way).
 */

/* What both valid walks need: columns [o0, o1) cover output lines q0..q1 (the first from `first`,
 * the last up to `last`); stepping a line moves x by stepH, wrapping a depth slice by stepD more. */
#define VALID_SETUP                                                                            \
  const int64_t D = g->in[0], H = g->in[1], W = g->in[2];                                       \
  const int64_t oH = g->o[1], oW = g->o[2], sD = g->s[0], sH = g->s[1];                         \
  const int64_t width = o1 - o0, q0 = o0 / oW, q1 = (o1 - 1) / oW + 1;                          \
  const int64_t od0 = q0 / oH, oh0 = q0 - od0 * oH;                                             \
  const int64_t first = o0 - q0 * oW, last = o1 - (q1 - 1) * oW;                                \
  const int64_t stepH = sH * W, stepD = (sD * H - oH * sH) * W;                                 \
  const int64_t x0 = (od0 * sD * H + oh0 * sH) * W;                                             \
  int64_t row = 0

#define VALID_IM2COL(T)                                                                        \
  do {                                                                                          \
    VALID_SETUP;                                                                                \
    const int64_t cin = g->cin, kD = g->k[0], kH = g->k[1], kW = g->k[2];                       \
    const int64_t dD = g->d[0], dH = g->d[1], dW = g->d[2];                                     \
    for (int64_t c = 0; c < cin; c++)                                                           \
      for (int64_t kd = 0; kd < kD; kd++)                                                       \
        for (int64_t kh = 0; kh < kH; kh++, row += kW) {                                        \
          /* The kW rows of taps (c, kd, kh, ·) read the same x lines, shifted by kw·dW. */     \
          T *xb = x + c * D * H * W + (kd * dD * H + kh * dH) * W + x0;                         \
          T *cb = col + row * width - first;                                                    \
          int64_t oh = oh0, xi = 0;                                                             \
          for (int64_t q = q0; q < q1; q++, xi += stepH) {                                      \
            const int64_t a = q == q0 ? first : 0, b = q == q1 - 1 ? last : oW;                 \
            T *cl = cb + (q - q0) * oW + a, *xl = xb + xi + a;                                  \
            for (int64_t kw = 0; kw < kW; kw++) copy_##T(cl + kw * width, xl + kw * dW, b - a); \
            if (++oh == oH) { oh = 0; xi += stepD; }                                            \
          }                                                                                     \
        }                                                                                       \
  } while (0)

#define VALID_COL2IM(T)                                                                        \
  do {                                                                                          \
    VALID_SETUP;                                                                                \
    for (int64_t c = 0; c < g->cin; c++)                                                        \
      for (int64_t kd = 0; kd < g->k[0]; kd++)                                                  \
        for (int64_t kh = 0; kh < g->k[1]; kh++)                                                \
          for (int64_t kw = 0; kw < g->k[2]; kw++, row++) {                                     \
            T *xt = x + c * D * H * W + (kd * g->d[0] * H + kh * g->d[1]) * W + kw * g->d[2] + x0; \
            T *cr = col + row * width - first;                                                  \
            int64_t oh = oh0, xi = 0;                                                           \
            for (int64_t q = q0; q < q1; q++, xi += stepH) {                                    \
              const int64_t a = q == q0 ? first : 0, b = q == q1 - 1 ? last : oW;               \
              add_##T(xt + xi + a, cr + (q - q0) * oW + a, b - a);                              \
              if (++oh == oH) { oh = 0; xi += stepD; }                                          \
            }                                                                                   \
          }                                                                                     \
  } while (0)

static bool valid(const geometry *g) { return g->p[0] == 0 && g->p[1] == 0 && g->p[2] == 0 && g->s[2] == 1; }
static void im2col_f32(const geometry *g, float *col, float *x, int64_t o0, int64_t o1) {
  if (valid(g)) VALID_IM2COL(float); else WALK(float, true);
}
static void im2col_f64(const geometry *g, double *col, double *x, int64_t o0, int64_t o1) {
  if (valid(g)) VALID_IM2COL(double); else WALK(double, true);
}
static void col2im_f32(const geometry *g, float *col, float *x, int64_t o0, int64_t o1) {
  if (valid(g)) VALID_COL2IM(float); else WALK(float, false);
}
static void col2im_f64(const geometry *g, double *col, double *x, int64_t o0, int64_t o1) {
  if (valid(g)) VALID_COL2IM(double); else WALK(double, false);
}

#define THROW(env, kind, msg) \
  do { napi_throw_##kind((env), NULL, (msg)); return NULL; } while (0)

/*
 * lower(im2col, col, x, xOff, geometry, o0, o1): im2col writes col from x; col2im adds col into
 * x (then dx). x and col must be both Float32Array or both Float64Array.
 */
static napi_value lower(napi_env env, napi_callback_info info, bool im2col) {
  size_t argc = 6;
  napi_value argv[6];
  const char *name = im2col ? "im2col" : "col2im";
  char msg[256];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc != 6) {
    snprintf(msg, sizeof msg, "%s expects (col, x, xOff, geometry: Int32Array(19), o0, o1)", name);
    THROW(env, type_error, msg);
  }
  napi_typedarray_type tc, tx, tg;
  size_t nc, nx, ng;
  void *pc, *px, *pg;
  bool ok = true;
  for (int i = 0; i < 3 && ok; i++) {
    bool is_ta = false;
    ok = napi_is_typedarray(env, argv[i == 2 ? 3 : i], &is_ta) == napi_ok && is_ta;
  }
  if (!ok || napi_get_typedarray_info(env, argv[0], &tc, &nc, &pc, NULL, NULL) != napi_ok ||
      napi_get_typedarray_info(env, argv[1], &tx, &nx, &px, NULL, NULL) != napi_ok ||
      napi_get_typedarray_info(env, argv[3], &tg, &ng, &pg, NULL, NULL) != napi_ok) {
    snprintf(msg, sizeof msg, "%s: col, x and geometry must be typed arrays", name);
    THROW(env, type_error, msg);
  }
  if (tc != tx || (tc != napi_float32_array && tc != napi_float64_array) || tg != napi_int32_array || ng != 19) {
    snprintf(msg, sizeof msg, "%s: col and x must be both Float32Array or both Float64Array, geometry an Int32Array(19)", name);
    THROW(env, type_error, msg);
  }
  int64_t xOff, o0, o1;
  if (napi_get_value_int64(env, argv[2], &xOff) != napi_ok || napi_get_value_int64(env, argv[4], &o0) != napi_ok ||
      napi_get_value_int64(env, argv[5], &o1) != napi_ok) {
    snprintf(msg, sizeof msg, "%s: xOff, o0 and o1 must be numbers", name);
    THROW(env, type_error, msg);
  }
  const int32_t *v = pg;
  geometry g = {v[0], {v[1], v[2], v[3]}, {v[4], v[5], v[6]}, {v[7], v[8], v[9]}, {v[10], v[11], v[12]},
                {v[13], v[14], v[15]}, {v[16], v[17], v[18]}};
  const int64_t inVol = g.in[0] * g.in[1] * g.in[2], outVol = g.o[0] * g.o[1] * g.o[2];
  const int64_t ck = g.cin * g.k[0] * g.k[1] * g.k[2];
  for (int i = 0; i < 19; i++) {
    if (v[i] < (i >= 10 && i <= 12 ? 0 : 1)) {
      snprintf(msg, sizeof msg, "%s: geometry entry %d is %d; sizes, strides, dilations must be positive, padding non-negative", name, i, v[i]);
      THROW(env, range_error, msg);
    }
  }
  /* The walk only reads x inside [xOff, xOff + cin·inVol) (range_lo/hi keep indices in the input). */
  if (o0 < 0 || o1 > outVol || o0 >= o1 || xOff < 0 || xOff + g.cin * inVol > (int64_t)nx || ck * (o1 - o0) > (int64_t)nc) {
    snprintf(msg, sizeof msg, "%s: columns [%lld, %lld) of %lld, x length %zu at offset %lld (needs %lld), col length %zu (needs %lld)",
             name, (long long)o0, (long long)o1, (long long)outVol, nx, (long long)xOff, (long long)(g.cin * inVol), nc,
             (long long)(ck * (o1 - o0)));
    THROW(env, range_error, msg);
  }
  if (tc == napi_float32_array) {
    if (im2col) im2col_f32(&g, pc, (float *)px + xOff, o0, o1);
    else col2im_f32(&g, pc, (float *)px + xOff, o0, o1);
  } else {
    if (im2col) im2col_f64(&g, pc, (double *)px + xOff, o0, o1);
    else col2im_f64(&g, pc, (double *)px + xOff, o0, o1);
  }
  return NULL;
}

napi_value ndcnn_im2col(napi_env env, napi_callback_info info) { return lower(env, info, true); }
napi_value ndcnn_col2im(napi_env env, napi_callback_info info) { return lower(env, info, false); }
