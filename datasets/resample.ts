/**
 * Band-limited resampling by a Kaiser-windowed sinc (the Whittaker-Shannon interpolation formula,
 * truncated): the output sample at time t (in input samples) is
 *
 *   y(t) = Σ_i x_i · c · sinc(c·(t − i)) · w((t − i) / R),   c = min(1, to/from),  R = ZEROS / c
 *
 * where sinc(u) = sin(πu)/(πu) and w is a Kaiser window on [−1, 1]. When downsampling, c < 1
 * lowers the cutoff to the new Nyquist frequency, so content above it is removed instead of
 * aliased; linear interpolation would fold it back into the band. Samples outside the signal
 * count as zero.
 */

/** Zero crossings of the sinc on each side: the kernel spans 2·ZEROS output periods. */
const ZEROS = 16;
/** Kaiser β = 8.6 gives about 90 dB of stopband attenuation (Kaiser's formula β ≈ 0.1102(A − 8.7)). */
const BETA = 8.6;

/** Length of `resample`'s output: round(n · to / from). */
export function resampledLength(n: number, fromRate: number, toRate: number): number {
  return Math.round((n * toRate) / fromRate);
}

/** Resamples `samples` from `fromRate` to `toRate` (Hz) into a new array. */
export function resample(samples: Float32Array, fromRate: number, toRate: number): Float32Array {
  const out = new Float32Array(resampledLength(samples.length, fromRate, toRate));
  resampleInto(out, samples, fromRate, toRate);
  return out;
}

/**
 * Destination-first form: fills `out` (any length) with output samples start, start + 1, ...
 * (times j·from/to), so a caller that keeps only a window computes only that window.
 */
export function resampleInto(out: Float32Array, x: Float32Array, fromRate: number, toRate: number, start = 0): void {
  if (!(fromRate > 0 && toRate > 0 && Number.isFinite(fromRate) && Number.isFinite(toRate))) {
    throw new RangeError(`resample: rates must be positive and finite, got ${fromRate} -> ${toRate} Hz`);
  }
  if (fromRate === toRate) {
    out.fill(0);
    out.set(x.subarray(start, Math.min(x.length, start + out.length)));
    return;
  }
  const step = fromRate / toRate;
  const c = Math.min(1, toRate / fromRate);
  const reach = ZEROS / c;
  const table = kernelTable();
  for (let j = start; j < start + out.length; j++) {
    const t = j * step;
    const lo = Math.max(0, Math.ceil(t - reach));
    const hi = Math.min(x.length - 1, Math.floor(t + reach));
    let acc = 0;
    for (let i = lo; i <= hi; i++) {
      // k(u) at u = c·|t − i| zero crossings, linearly interpolated between table points.
      const u = c * Math.abs(t - i) * TABLE_RES;
      const k = Math.floor(u);
      if (k >= TABLE_LEN - 1) continue;
      const f = u - k;
      acc += x[i] * (table[k] + f * (table[k + 1] - table[k]));
    }
    out[j - start] = c * acc;
  }
}

/** Table points per zero crossing: linear interpolation errs by at most h²/8·max|k″| ≈ (1/512)²/8·π²/3 ≈ 2e-6 per tap. */
const TABLE_RES = 512;
const TABLE_LEN = ZEROS * TABLE_RES + 1;
let cachedTable: Float64Array | undefined;

/** k(u) = sinc(u) · w(u / ZEROS) for u = 0, 1/TABLE_RES, ..., ZEROS, with w the Kaiser window. */
function kernelTable(): Float64Array {
  if (cachedTable) return cachedTable;
  const table = new Float64Array(TABLE_LEN);
  const i0Beta = besselI0(BETA);
  for (let k = 0; k < TABLE_LEN; k++) {
    const u = k / TABLE_RES;
    const r = u / ZEROS;
    const window = besselI0(BETA * Math.sqrt(Math.max(0, 1 - r * r))) / i0Beta;
    table[k] = u === 0 ? 1 : (Math.sin(Math.PI * u) / (Math.PI * u)) * window;
  }
  cachedTable = table;
  return table;
}

/** Modified Bessel function of the first kind, order 0: Σ_k ((z/2)^k / k!)², summed to 1e-12. */
function besselI0(z: number): number {
  const q = (z * z) / 4;
  let term = 1;
  let sum = 1;
  for (let k = 1; term > 1e-12 * sum; k++) {
    term *= q / (k * k);
    sum += term;
  }
  return sum;
}
