/**
 * The benchmark workloads, shared by every engine in the suite (ndcnn, the naive floor, TF.js;
 * bench/torch_bench.py mirrors them). Convolutions are valid (no padding), stride 1, float32.
 * FLOPs per convolution pass = 2·N·Cout·Cin·Πkernel·Πoutput: forward, backward-data and
 * backward-filter each cost exactly that many multiply-adds ×2.
 */
export interface ConvWorkload {
  id: string;
  title: string;
  n: number;
  cin: number;
  cout: number;
  /** Spatial input size, rank 1 to 3. */
  size: number[];
  kernel: number[];
}

export const CONV_WORKLOADS: ConvWorkload[] = [
  { id: 'W1', title: 'audio 1-D', n: 8, cin: 16, size: [4096], cout: 32, kernel: [9] },
  { id: 'W2', title: 'image 2-D', n: 32, cin: 16, size: [32, 32], cout: 32, kernel: [3, 3] },
  { id: 'W3', title: 'volume 3-D', n: 4, cin: 8, size: [32, 32, 32], cout: 16, kernel: [3, 3, 3] },
];

export function outSize(w: ConvWorkload): number[] {
  return w.size.map((s, a) => s - w.kernel[a] + 1);
}

const prod = (a: number[]): number => a.reduce((p, v) => p * v, 1);

/** 2·N·Cout·Cin·Πkernel·Πoutput. */
export function convFlops(w: ConvWorkload): number {
  return 2 * w.n * w.cout * w.cin * prod(w.kernel) * prod(outSize(w));
}

/** W4: LeNet-like on 28×28×1, batch 64 (the ndcnn layer specs; TF.js and PyTorch build the same net). */
export const LENET = {
  inShape: [1, 28, 28],
  batch: 64,
  classes: 10,
  /** conv 5×5 1→8 + relu, pool 2, conv 5×5 8→16 + relu, pool 2 (16·4·4 = 256), dense 256→10. */
  conv1: { channels: 8, kernel: 5 },
  conv2: { channels: 16, kernel: 5 },
  pool: 2,
  learningRate: 0.05,
} as const;

/** The 1-D net of the curvature-cost bench: 1×2048 signals (audio-like), batch 32. */
export const SMALL1D = { inShape: [1, 2048], batch: 32, classes: 10 } as const;

/** The small 3-D net of the curvature bench: 1×12³ volumes, batch 8. */
export const SMALL3D = { inShape: [1, 12, 12, 12], batch: 8, classes: 4 } as const;

/** Multiply-adds ×2 of W4's forward pass (two convs and the dense layer). */
export function lenetFlops(): number {
  const c1 = 2 * LENET.batch * 8 * 1 * 25 * 24 * 24;
  const c2 = 2 * LENET.batch * 16 * 8 * 25 * 8 * 8;
  const d = 2 * LENET.batch * 256 * 10;
  return c1 + c2 + d;
}
