/**
 * Training-time augmentation, applied to every training batch before its step (never to held-out
 * data), in this order, each stage only when its setting is on:
 *
 * 1. on each example as stored (a waveform for audio1d, an image for image2d), every rank:
 *    - shift: translation by an integer offset drawn uniformly from [−s, s] on every spatial
 *      axis (the same for all channels), the vacated border zero:
 *        x'[c, i₁, …, i_r] = x[c, i₁ − d₁, …, i_r − d_r]  where in range, else 0
 *      (with zero padding this is the random crop of a padded image);
 *    - flip: the last spatial axis reversed with probability ½ (a mirrored coat is a coat); a
 *      channel that holds each voxel's position along that axis, centred on the middle of the
 *      whole volume (mri3d's x channel, s = 2i/(X − 1) − 1), is also negated, s' = −s: reversed
 *      and negated, it holds the positions of the mirror-image patch, x ↦ X − 1 − x (a mirrored
 *      left hemisphere looks like a right one, at the right one's place);
 *    - rotate and zoom (images, the last two spatial axes): each example rotated by θ uniform in
 *      [−R, R] degrees and scaled by a factor z uniform in [1 − Z, 1 + Z] about its centre c,
 *      x'(p) = x(c + A⁻¹(p − c)) with A = z·rotation(θ), bilinearly interpolated, zero outside
 *      (the handwriting slants and sizes that translations do not cover; Simard et al. 2003);
 *    - speed (waveforms): resampled to play a factor a ∈ [1 − s, 1 + s] faster about the window's
 *      centre c, x'[j] = x(c + (j − c)·a), linearly interpolated, zero outside: tempo and pitch
 *      (formants) move together, as a shorter or longer vocal tract would move them (Ko et al.
 *      2015, "speed perturbation"). Linear interpolation, not the data layer's windowed sinc: at
 *      |a − 1| ≤ 0.2 it costs ~0.08 ms an 8,000-sample example where the sinc costs ~2–3 (measured
 *      on the loaded 2-core machine); what linear interpolation gets wrong (some aliasing, a
 *      softened top octave) lies near 4 kHz, where the mel bands are widest;
 *    - noise (waveforms): white Gaussian noise at a signal-to-noise ratio of S dB, its variance
 *      the example's mean power / 10^(S/10);
 * 2. the features (audio1d's log-mel or MFCC), computed from the augmented waveform;
 * 3. SpecAugment (Park et al. 2019) on [channels, frames] features: one band of up to F
 *    consecutive channels and one run of up to T consecutive frames set to 0 (the normalised
 *    features' mean), each width uniform in 0..max and its start uniform;
 * 4. targets: label smoothing ε (t = (1 − ε)·e_y + ε/k), then mixup (Zhang et al. 2018) with
 *    λ ~ Beta(α, α) drawn once per batch and the batch paired with a random permutation of
 *    itself: x ← λx + (1 − λ)x_π, t ← λt + (1 − λ)t_π. Both make soft targets, which the
 *    softmax cross-entropy takes as rows of weights (src/layers/loss.ts).
 *
 * One generator, seeded apart from the weights' and the shuffle's, draws everything in a fixed
 * order (per example: shift offsets, flip, rotation, zoom, speed, noise, masks; then per batch
 * mixup), and its
 * state goes into every checkpoint, so a resumed run draws what the uninterrupted one drew.
 * A run with only a shift draws exactly what the shift augmenter before this pipeline drew.
 */
import { sharedMemory, type FloatArray } from '../src/nd/dtype.js';
import type { Batch } from '../src/nd/model.js';
import { Rng } from '../src/nd/rng.js';

/** Augmentation settings besides the shift (RunConfig.augment); absent or 0 = off. */
export interface AugmentOptions {
  flip?: boolean;
  /** Largest rotation in degrees (images). */
  rotate?: number;
  /** Largest relative scale change Z: factors in [1 − Z, 1 + Z] (images). */
  zoom?: number;
  /** Largest relative speed change s: factors in [1 − s, 1 + s]. */
  speed?: number;
  /** Signal-to-noise ratio in dB of the added white noise. */
  noiseSnr?: number;
  /** SpecAugment: widest channel band and frame run masked. */
  freqMask?: number;
  timeMask?: number;
  labelSmoothing?: number;
  /** Mixup's Beta(α, α) parameter. */
  mixup?: number;
}

/** A transform of each example into the network's input (audio1d's AudioFeatures). */
export interface FeatureTransform {
  readonly channels: number;
  readonly frames: number;
  readonly size: number;
  extract(x: ArrayLike<number>, out: Float32Array): void;
}

export interface AugmenterSetup {
  /** One stored example's shape [C, ...spatial] (before any feature transform). */
  shape: readonly number[];
  shift: number;
  options: AugmentOptions;
  /** Applied after stage 1; null when the examples are the network's inputs. */
  features: FeatureTransform | null;
  /** Channels holding the position along the last axis, which a flip negates (see stage 1). */
  flipNegates?: readonly number[];
  classes: number;
  seed: number;
}

export class Augmenter {
  private readonly rng: Rng;
  private readonly o: AugmentOptions;
  private readonly size: number;
  private readonly outSize: number;
  private readonly scratch: Float32Array;
  private readonly offsets: number[];
  private readonly soft: boolean;
  /** The batch the network sees, when it differs in shape or targets from the stored one. */
  private out: { x: Float32Array; y: Float32Array } | null = null;
  private mixed: { x: Float32Array; y: Float32Array } | null = null;

  constructor(private readonly s: AugmenterSetup) {
    this.rng = new Rng(s.seed);
    this.o = s.options;
    this.size = s.shape.reduce((a, b) => a * b, 1);
    this.outSize = s.features ? s.features.size : this.size;
    this.scratch = new Float32Array(this.size);
    this.offsets = new Array<number>(s.shape.length - 1).fill(0);
    this.soft = (this.o.labelSmoothing ?? 0) > 0 || (this.o.mixup ?? 0) > 0;
  }

  /**
   * The network's batch for `batch`: the same one changed in place when its shape and targets
   * stay (MiniBatches refills its buffers each batch), else one in the augmenter's own shared
   * buffers (features, soft targets), valid until the next call.
   */
  apply(batch: Batch): Batch {
    const { features } = this.s;
    const k = this.s.classes;
    const target = features || this.soft ? this.buffers(batch.x.length / this.size) : null;
    for (let i = 0; i < batch.n; i++) {
      const example = batch.x.subarray(i * this.size, (i + 1) * this.size);
      this.perExample(example);
      if (features && target) {
        const x = target.x.subarray(i * this.outSize, (i + 1) * this.outSize);
        features.extract(example, x);
        this.masks(x);
      }
    }
    if (!target) return batch;
    const x = features ? target.x.subarray(0, batch.n * this.outSize) : batch.x;
    const y = target.y.subarray(0, batch.n * k);
    if (this.soft) {
      const eps = this.o.labelSmoothing ?? 0;
      y.fill(eps / k);
      for (let i = 0; i < batch.n; i++) y[i * k + batch.y[i]] += 1 - eps;
      if ((this.o.mixup ?? 0) > 0) this.mixup(x, y, batch.n);
    }
    return { x, y: this.soft ? y : batch.y, n: batch.n };
  }

  state(): number[] {
    return this.rng.getState();
  }

  loadState(state: readonly number[]): void {
    this.rng.setState(state);
  }

  /** Stage 1 on one stored example, in place. */
  private perExample(example: FloatArray): void {
    const { shift, shape } = this.s;
    if (shift > 0) {
      for (let a = 0; a < this.offsets.length; a++) this.offsets[a] = this.rng.int(2 * shift + 1) - shift;
      this.scratch.set(example);
      shiftInto(example, this.scratch, shape, this.offsets);
    }
    if (this.o.flip && this.rng.uniform() < 0.5) {
      flipLast(example, shape[shape.length - 1]);
      const per = this.size / shape[0];
      for (const c of this.s.flipNegates ?? []) {
        for (let i = c * per; i < (c + 1) * per; i++) example[i] = -example[i];
      }
    }
    const R = this.o.rotate ?? 0;
    const Z = this.o.zoom ?? 0;
    if (R > 0 || Z > 0) {
      const theta = R > 0 ? ((R * Math.PI) / 180) * (2 * this.rng.uniform() - 1) : 0;
      const z = Z > 0 ? 1 + Z * (2 * this.rng.uniform() - 1) : 1;
      this.scratch.set(example);
      affineInto(example, this.scratch, shape, theta, z);
    }
    if ((this.o.speed ?? 0) > 0) {
      const a = 1 + this.o.speed! * (2 * this.rng.uniform() - 1);
      this.scratch.set(example);
      speedInto(example, this.scratch, a, shape[shape.length - 1]);
    }
    if (this.o.noiseSnr !== undefined) {
      let power = 0;
      for (let i = 0; i < example.length; i++) power += example[i] * example[i];
      const sigma = Math.sqrt(power / example.length / 10 ** (this.o.noiseSnr / 10));
      for (let i = 0; i < example.length; i++) example[i] += sigma * this.rng.normal();
    }
  }

  /** Stage 3: one frequency band and one time run of the [channels, frames] features set to 0. */
  private masks(x: FloatArray): void {
    const { channels: C, frames: T } = this.s.features!;
    const F = Math.min(this.o.freqMask ?? 0, C);
    if (F > 0) {
      const w = this.rng.int(F + 1);
      const c0 = this.rng.int(C - w + 1);
      x.fill(0, c0 * T, (c0 + w) * T);
    }
    const W = Math.min(this.o.timeMask ?? 0, T);
    if (W > 0) {
      const w = this.rng.int(W + 1);
      const t0 = this.rng.int(T - w + 1);
      for (let c = 0; c < C; c++) x.fill(0, c * T + t0, c * T + t0 + w);
    }
  }

  private mixup(x: FloatArray, y: Float32Array, n: number): void {
    const lambda = beta(this.rng, this.o.mixup!);
    const perm = this.rng.permutation(n);
    const size = x.length / n;
    const k = y.length / n;
    // The unmixed batch, read while the mixed one is written over it.
    if (this.mixed === null || this.mixed.x.length < x.length) this.mixed = { x: new Float32Array(x.length), y: new Float32Array(y.length) };
    const xs = this.mixed.x.subarray(0, x.length);
    const ys = this.mixed.y.subarray(0, y.length);
    xs.set(x);
    ys.set(y);
    for (let i = 0; i < n; i++) {
      const j = perm[i];
      for (let e = 0; e < size; e++) x[i * size + e] = lambda * xs[i * size + e] + (1 - lambda) * xs[j * size + e];
      for (let c = 0; c < k; c++) y[i * k + c] = lambda * ys[i * k + c] + (1 - lambda) * ys[j * k + c];
    }
  }

  private buffers(capacity: number): { x: Float32Array; y: Float32Array } {
    if (this.out === null || this.out.y.length < capacity * this.s.classes) {
      const xs = this.s.features ? new Float32Array(sharedMemory(capacity * this.outSize * 4)) : new Float32Array(0);
      // Shared memory: a network's threads read the batch in place (src/parallel).
      this.out = { x: xs, y: new Float32Array(sharedMemory(capacity * this.s.classes * 4)) };
    }
    return this.out;
  }
}

/** Reverses every row of length `len` (the last axis) in place. */
function flipLast(x: FloatArray, len: number): void {
  for (let at = 0; at < x.length; at += len) {
    for (let i = 0, j = len - 1; i < j; i++, j--) {
      const t = x[at + i];
      x[at + i] = x[at + j];
      x[at + j] = t;
    }
  }
}

/** dst[row][j] = src[row](c + (j − c)·a), c = (len − 1)/2, linearly interpolated, zero outside. */
export function speedInto(dst: FloatArray, src: ArrayLike<number>, a: number, len: number): void {
  const c = (len - 1) / 2;
  for (let at = 0; at < dst.length; at += len) {
    for (let j = 0; j < len; j++) {
      const u = c + (j - c) * a;
      const i = Math.floor(u);
      const f = u - i;
      const x0 = i >= 0 && i < len ? src[at + i] : 0;
      const x1 = i + 1 >= 0 && i + 1 < len ? src[at + i + 1] : 0;
      dst[at + j] = x0 + f * (x1 - x0);
    }
  }
}

/**
 * dst = src rotated by θ (radians) and scaled by z about the centre of its last two axes [H, W]
 * (every channel and leading axis alike): dst(p) = src(c + R(−θ)(p − c)/z), c = ((H − 1)/2,
 * (W − 1)/2), bilinear between the four neighbours, those outside the image 0.
 */
export function affineInto(dst: FloatArray, src: ArrayLike<number>, shape: readonly number[], theta: number, z: number): void {
  const H = shape[shape.length - 2];
  const W = shape[shape.length - 1];
  const [cy, cx] = [(H - 1) / 2, (W - 1) / 2];
  const cos = Math.cos(theta) / z;
  const sin = Math.sin(theta) / z;
  const at = (base: number, i: number, j: number) => (i >= 0 && i < H && j >= 0 && j < W ? src[base + i * W + j] : 0);
  for (let base = 0; base < dst.length; base += H * W) {
    for (let i = 0; i < H; i++) {
      for (let j = 0; j < W; j++) {
        const y = i - cy;
        const x = j - cx;
        const v = cy - sin * x + cos * y;
        const u = cx + cos * x + sin * y;
        const i0 = Math.floor(v);
        const j0 = Math.floor(u);
        const fv = v - i0;
        const fu = u - j0;
        const top = at(base, i0, j0) + fu * (at(base, i0, j0 + 1) - at(base, i0, j0));
        const bottom = at(base, i0 + 1, j0) + fu * (at(base, i0 + 1, j0 + 1) - at(base, i0 + 1, j0));
        dst[base + i * W + j] = top + fv * (bottom - top);
      }
    }
  }
}

/** A Beta(α, α) draw as G₁/(G₁ + G₂) of two Gamma(α) draws. */
export function beta(rng: Rng, alpha: number): number {
  const g1 = gamma(rng, alpha);
  const g2 = gamma(rng, alpha);
  return g1 / (g1 + g2);
}

/**
 * Gamma(α, 1) by Marsaglia and Tsang (2000); α < 1 through Gamma(α + 1)·U^(1/α).
 */
function gamma(rng: Rng, alpha: number): number {
  if (alpha < 1) return gamma(rng, alpha + 1) * rng.uniform() ** (1 / alpha);
  const d = alpha - 1 / 3;
  const c = 1 / Math.sqrt(9 * d);
  for (;;) {
    let x: number;
    let v: number;
    do {
      x = rng.normal();
      v = 1 + c * x;
    } while (v <= 0);
    v = v * v * v;
    const u = rng.uniform();
    if (Math.log(u) < 0.5 * x * x + d - d * v + d * Math.log(v)) return d * v;
  }
}

/**
 * dst = src translated by `offsets` (one per spatial axis of `shape` = [C, ...spatial]), zero
 * outside. Works row by row along the last axis: an odometer walks the leading axes, each row
 * is one contiguous copy (or zeros when its source row lies outside).
 */
export function shiftInto(dst: FloatArray, src: ArrayLike<number>, shape: readonly number[], offsets: readonly number[]): void {
  const r = shape.length - 1;
  const len = shape[r];
  const d = offsets[r - 1];
  const rows = dst.length / len;
  const from = Math.max(0, -d);
  const to = Math.max(0, d);
  const count = Math.max(0, len - Math.abs(d));
  dst.fill(0);
  // idx[a] is the row's coordinate on axis a (a = 0 channels, 1..r−1 leading spatial axes).
  const idx = new Array<number>(r).fill(0);
  for (let row = 0; row < rows; row++) {
    let srcRow = idx[0];
    let inside = true;
    for (let a = 1; a < r; a++) {
      const si = idx[a] - offsets[a - 1];
      if (si < 0 || si >= shape[a]) inside = false;
      srcRow = srcRow * shape[a] + si;
    }
    if (inside) {
      const s = srcRow * len + from;
      const t = row * len + to;
      for (let k = 0; k < count; k++) dst[t + k] = src[s + k];
    }
    for (let a = r - 1; a >= 0; a--) {
      if (++idx[a] < shape[a]) break;
      idx[a] = 0;
    }
  }
}
