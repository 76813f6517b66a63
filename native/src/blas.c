/*
 * ndcnn-blas: sgemm/dgemm over JavaScript typed arrays, through the system OpenBLAS.
 *
 * gemm(transA, transB, M, N, K, alpha, A, aOff, lda, B, bOff, ldb, beta, C, cOff, ldc)
 * computes C = alpha * op(A) * op(B) + beta * C in row-major order (CblasRowMajor), the same
 * signature as ndcnn's GemmFn. Offsets and leading dimensions are in elements. Every index the
 * call can touch is checked against the array's length first, so a wrong shape throws a
 * RangeError instead of reading or writing outside the buffer.
 * Also exports im2col/col2im for the convolution lowering (lowering.c) and the backend's
 * memory-bound loops: relu, reluTimes, biasAdd, biasGrad, maxPool, gather, scatterAdd (pointwise.c),
 * and, for K-FAC's factors, syrk (a Gram matrix's triangle) and eigh (LAPACK's symmetric eigensolver).
 */
#include <cblas.h>
#include <node_api.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "lowering.h"
#include "pointwise.h"

#define NARGS 16

/* Throws a JS error and returns NULL from the calling function. */
#define THROW(env, kind, msg) \
  do { napi_throw_##kind((env), NULL, (msg)); return NULL; } while (0)

typedef struct {
  void *data;
  size_t length;
} view;

static bool get_view(napi_env env, napi_value v, napi_typedarray_type want, view *out) {
  bool is_ta = false;
  if (napi_is_typedarray(env, v, &is_ta) != napi_ok || !is_ta) return false;
  napi_typedarray_type type;
  if (napi_get_typedarray_info(env, v, &type, &out->length, &out->data, NULL, NULL) != napi_ok) return false;
  return type == want;
}

static bool get_int(napi_env env, napi_value v, int64_t *out) {
  return napi_get_value_int64(env, v, out) == napi_ok;
}

/*
 * The last element op(X) touches, for a rows x cols row-major matrix at offset off with leading
 * dimension ld (rows and cols as stored, i.e. after undoing the transpose).
 */
static bool fits(int64_t off, int64_t rows, int64_t cols, int64_t ld, size_t length) {
  if (rows == 0 || cols == 0) return off >= 0;
  if (off < 0 || ld < cols) return false;
  return off + (rows - 1) * ld + (cols - 1) < (int64_t)length;
}

static napi_value gemm(napi_env env, napi_callback_info info, bool dbl) {
  size_t argc = NARGS;
  napi_value argv[NARGS];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc != NARGS)
    THROW(env, type_error, "gemm expects 16 arguments (transA, transB, M, N, K, alpha, A, aOff, lda, B, bOff, ldb, beta, C, cOff, ldc)");
  bool ta, tb;
  if (napi_get_value_bool(env, argv[0], &ta) != napi_ok || napi_get_value_bool(env, argv[1], &tb) != napi_ok)
    THROW(env, type_error, "gemm: transA and transB must be booleans");
  int64_t M, N, K, aOff, lda, bOff, ldb, cOff, ldc;
  double alpha, beta;
  if (!get_int(env, argv[2], &M) || !get_int(env, argv[3], &N) || !get_int(env, argv[4], &K) ||
      !get_int(env, argv[7], &aOff) || !get_int(env, argv[8], &lda) || !get_int(env, argv[10], &bOff) ||
      !get_int(env, argv[11], &ldb) || !get_int(env, argv[14], &cOff) || !get_int(env, argv[15], &ldc) ||
      napi_get_value_double(env, argv[5], &alpha) != napi_ok || napi_get_value_double(env, argv[12], &beta) != napi_ok)
    THROW(env, type_error, "gemm: sizes, offsets, leading dimensions, alpha and beta must be numbers");
  if (M < 0 || N < 0 || K < 0) THROW(env, range_error, "gemm: M, N, K must be non-negative");
  if (M > INT32_MAX || N > INT32_MAX || K > INT32_MAX || lda > INT32_MAX || ldb > INT32_MAX || ldc > INT32_MAX)
    THROW(env, range_error, "gemm: a size or leading dimension exceeds the 32-bit BLAS interface");
  napi_typedarray_type want = dbl ? napi_float64_array : napi_float32_array;
  view a, b, c;
  if (!get_view(env, argv[6], want, &a) || !get_view(env, argv[9], want, &b) || !get_view(env, argv[13], want, &c))
    THROW(env, type_error, dbl ? "dgemm: A, B and C must be Float64Arrays" : "sgemm: A, B and C must be Float32Arrays");
  char msg[256];
  /* Stored shapes: op(A) is M x K, so A is K x M when transposed; op(B) is K x N likewise. */
  if (!fits(aOff, ta ? K : M, ta ? M : K, lda, a.length)) {
    snprintf(msg, sizeof msg, "gemm: A (length %zu, offset %lld, lda %lld) cannot hold op(A) of %lld x %lld%s",
             a.length, (long long)aOff, (long long)lda, (long long)M, (long long)K, ta ? " transposed" : "");
    THROW(env, range_error, msg);
  }
  if (!fits(bOff, tb ? N : K, tb ? K : N, ldb, b.length)) {
    snprintf(msg, sizeof msg, "gemm: B (length %zu, offset %lld, ldb %lld) cannot hold op(B) of %lld x %lld%s",
             b.length, (long long)bOff, (long long)ldb, (long long)K, (long long)N, tb ? " transposed" : "");
    THROW(env, range_error, msg);
  }
  if (!fits(cOff, M, N, ldc, c.length)) {
    snprintf(msg, sizeof msg, "gemm: C (length %zu, offset %lld, ldc %lld) cannot hold %lld x %lld",
             c.length, (long long)cOff, (long long)ldc, (long long)M, (long long)N);
    THROW(env, range_error, msg);
  }
  if (M == 0 || N == 0) return NULL;
  /* BLAS requires ld >= max(1, cols) even for empty operands. */
  int ilda = (int)(lda > 0 ? lda : 1), ildb = (int)(ldb > 0 ? ldb : 1);
  enum CBLAS_TRANSPOSE opA = ta ? CblasTrans : CblasNoTrans, opB = tb ? CblasTrans : CblasNoTrans;
  if (dbl)
    cblas_dgemm(CblasRowMajor, opA, opB, (int)M, (int)N, (int)K, alpha, (double *)a.data + aOff, ilda,
                (double *)b.data + bOff, ildb, beta, (double *)c.data + cOff, (int)ldc);
  else
    cblas_sgemm(CblasRowMajor, opA, opB, (int)M, (int)N, (int)K, (float)alpha, (float *)a.data + aOff, ilda,
                (float *)b.data + bOff, ildb, (float)beta, (float *)c.data + cOff, (int)ldc);
  return NULL;
}

/*
 * syrk(trans, N, K, alpha, A, aOff, lda, beta, C, cOff, ldc): the upper triangle (diagonal
 * included) of C (N x N, row-major) = alpha * op(A) * op(A)^T + beta * C, op(A) (N x K) = A, or
 * A^T for A stored K x N when trans; float32 or float64 by the arrays' type. Half a GEMM's
 * multiply-adds for a Gram matrix (K-FAC's factors).
 */
static napi_value syrk(napi_env env, napi_callback_info info) {
  size_t argc = 11;
  napi_value argv[11];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc != 11)
    THROW(env, type_error, "syrk expects 11 arguments (trans, N, K, alpha, A, aOff, lda, beta, C, cOff, ldc)");
  bool trans;
  int64_t N, K, aOff, lda, cOff, ldc;
  double alpha, beta;
  if (napi_get_value_bool(env, argv[0], &trans) != napi_ok) THROW(env, type_error, "syrk: trans must be a boolean");
  if (!get_int(env, argv[1], &N) || !get_int(env, argv[2], &K) || !get_int(env, argv[5], &aOff) || !get_int(env, argv[6], &lda) ||
      !get_int(env, argv[9], &cOff) || !get_int(env, argv[10], &ldc) || napi_get_value_double(env, argv[3], &alpha) != napi_ok ||
      napi_get_value_double(env, argv[7], &beta) != napi_ok)
    THROW(env, type_error, "syrk: sizes, offsets, leading dimensions, alpha and beta must be numbers");
  if (N < 0 || K < 0 || N > INT32_MAX || K > INT32_MAX || lda > INT32_MAX || ldc > INT32_MAX)
    THROW(env, range_error, "syrk: N and K must be non-negative and within the 32-bit BLAS interface");
  view a, c;
  bool dbl = get_view(env, argv[4], napi_float64_array, &a) && get_view(env, argv[8], napi_float64_array, &c);
  if (!dbl && !(get_view(env, argv[4], napi_float32_array, &a) && get_view(env, argv[8], napi_float32_array, &c)))
    THROW(env, type_error, "syrk: A and C must both be Float32Arrays or both Float64Arrays");
  if (!fits(aOff, trans ? K : N, trans ? N : K, lda, a.length)) THROW(env, range_error, "syrk: A cannot hold op(A) of N x K at its offset and leading dimension");
  if (!fits(cOff, N, N, ldc, c.length)) THROW(env, range_error, "syrk: C cannot hold N x N at its offset and leading dimension");
  if (N == 0) return NULL;
  int ilda = (int)(lda > 0 ? lda : 1);
  enum CBLAS_TRANSPOSE op = trans ? CblasTrans : CblasNoTrans;
  if (dbl)
    cblas_dsyrk(CblasRowMajor, CblasUpper, op, (int)N, (int)K, alpha, (double *)a.data + aOff, ilda, beta, (double *)c.data + cOff, (int)ldc);
  else
    cblas_ssyrk(CblasRowMajor, CblasUpper, op, (int)N, (int)K, (float)alpha, (float *)a.data + aOff, ilda, (float)beta, (float *)c.data + cOff, (int)ldc);
  return NULL;
}

static napi_value sgemm(napi_env env, napi_callback_info info) { return gemm(env, info, false); }
static napi_value dgemm(napi_env env, napi_callback_info info) { return gemm(env, info, true); }

/* LAPACK's divide-and-conquer symmetric eigensolver, in OpenBLAS; the trailing lengths are the
 * hidden lengths gfortran passes for the two character arguments. */
extern void dsyevd_(const char *jobz, const char *uplo, const int *n, double *a, const int *lda, double *w, double *work,
                    const int *lwork, int *iwork, const int *liwork, int *info, size_t ljobz, size_t luplo);

/*
 * eigh(a, n, w): a (Float64Array, n*n, symmetric) is overwritten by its eigenvectors, one per
 * ROW of the row-major array (LAPACK writes them as columns of the column-major array, which is
 * the same memory), w (Float64Array, n) by the eigenvalues, ascending. A symmetric matrix reads
 * the same in either order, so no transpose is needed on the way in.
 */
static napi_value eigh(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc != 3) THROW(env, type_error, "eigh expects (a, n, w)");
  view a, w;
  int64_t n64;
  if (!get_view(env, argv[0], napi_float64_array, &a) || !get_int(env, argv[1], &n64) || !get_view(env, argv[2], napi_float64_array, &w))
    THROW(env, type_error, "eigh expects (a: Float64Array, n: integer, w: Float64Array)");
  if (n64 < 1 || n64 > 46340 || a.length != (size_t)(n64 * n64) || w.length != (size_t)n64)
    THROW(env, range_error, "eigh: a must hold n*n values and w n values");
  const int n = (int)n64;
  int info_ = 0, lwork = -1, liwork = -1, iq = 0;
  double wq = 0;
  dsyevd_("V", "L", &n, (double *)a.data, &n, (double *)w.data, &wq, &lwork, &iq, &liwork, &info_, 1, 1);
  if (info_ != 0) THROW(env, error, "eigh: the workspace query failed");
  lwork = (int)wq;
  liwork = iq;
  double *work = malloc(sizeof(double) * (size_t)lwork);
  int *iwork = malloc(sizeof(int) * (size_t)liwork);
  if (!work || !iwork) {
    free(work);
    free(iwork);
    THROW(env, error, "eigh: out of memory for LAPACK's workspace");
  }
  dsyevd_("V", "L", &n, (double *)a.data, &n, (double *)w.data, work, &lwork, iwork, &liwork, &info_, 1, 1);
  free(work);
  free(iwork);
  if (info_ != 0) THROW(env, error, "eigh: dsyevd did not converge");
  return NULL;
}

/* threads(n?): sets OpenBLAS's thread count when n is given; returns the count in force. */
static napi_value threads(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc == 1) {
    int64_t n;
    if (!get_int(env, argv[0], &n) || n < 1) THROW(env, range_error, "threads: n must be a positive integer");
    openblas_set_num_threads((int)n);
  }
  napi_value out;
  napi_create_int32(env, openblas_get_num_threads(), &out);
  return out;
}

/* config(): OpenBLAS's own description of its build and the kernel it picked for this CPU. */
static napi_value config(napi_env env, napi_callback_info info) {
  (void)info;
  char text[512];
  snprintf(text, sizeof text, "%s; core %s", openblas_get_config(), openblas_get_corename());
  napi_value out;
  napi_create_string_utf8(env, text, NAPI_AUTO_LENGTH, &out);
  return out;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
    {"sgemm", NULL, sgemm, NULL, NULL, NULL, napi_default, NULL},
    {"dgemm", NULL, dgemm, NULL, NULL, NULL, napi_default, NULL},
    {"threads", NULL, threads, NULL, NULL, NULL, napi_default, NULL},
    {"config", NULL, config, NULL, NULL, NULL, napi_default, NULL},
    {"eigh", NULL, eigh, NULL, NULL, NULL, napi_default, NULL},
    {"syrk", NULL, syrk, NULL, NULL, NULL, napi_default, NULL},
    {"im2col", NULL, ndcnn_im2col, NULL, NULL, NULL, napi_default, NULL},
    {"col2im", NULL, ndcnn_col2im, NULL, NULL, NULL, napi_default, NULL},
    {"relu", NULL, ndcnn_relu, NULL, NULL, NULL, napi_default, NULL},
    {"reluTimes", NULL, ndcnn_relu_times, NULL, NULL, NULL, napi_default, NULL},
    {"biasAdd", NULL, ndcnn_bias_add, NULL, NULL, NULL, napi_default, NULL},
    {"biasGrad", NULL, ndcnn_bias_grad, NULL, NULL, NULL, napi_default, NULL},
    {"maxPool", NULL, ndcnn_max_pool, NULL, NULL, NULL, napi_default, NULL},
    {"gather", NULL, ndcnn_gather, NULL, NULL, NULL, napi_default, NULL},
    {"scatterAdd", NULL, ndcnn_scatter_add, NULL, NULL, NULL, napi_default, NULL},
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
