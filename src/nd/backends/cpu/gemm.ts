/**
 * Row-major GEMM on typed arrays with offsets and leading dimensions, BLAS-style:
 * C[M×N] = alpha · op(A)[M×K] · op(B)[K×N] + beta · C.
 * This is the pure-JS path; convolution lowers to it through im2col, so its speed is the CPU
 * backend's speed.
 */
import type { FloatArray } from '../../dtype';

export type GemmFn = (
  transA: boolean, transB: boolean, M: number, N: number, K: number, alpha: number,
  A: FloatArray, aOff: number, lda: number,
  B: FloatArray, bOff: number, ldb: number,
  beta: number, C: FloatArray, cOff: number, ldc: number,
) => void;

export const gemmJs: GemmFn = (transA, transB, M, N, K, alpha, A, aOff, lda, B, bOff, ldb, beta, C, cOff, ldc) => {
  for (let i = 0; i < M; i++) {
    const ci = cOff + i * ldc;
    if (beta === 0) C.fill(0, ci, ci + N);
    else if (beta !== 1) for (let j = 0; j < N; j++) C[ci + j] *= beta;
  }
  if (alpha === 0 || K === 0) return;
  // i-k-j order: the inner loop runs along a row of C and a row of op(B) whenever B is not
  // transposed, which is the layout im2col produces.
  for (let i = 0; i < M; i++) {
    const ci = cOff + i * ldc;
    for (let k = 0; k < K; k++) {
      const a = alpha * (transA ? A[aOff + k * lda + i] : A[aOff + i * lda + k]);
      if (a === 0) continue;
      if (!transB) {
        const bk = bOff + k * ldb;
        for (let j = 0; j < N; j++) C[ci + j] += a * B[bk + j];
      } else {
        for (let j = 0; j < N; j++) C[ci + j] += a * B[bOff + j * ldb + k];
      }
    }
  }
};
