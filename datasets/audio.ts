/**
 * Audio front ends: a waveform → [channels, frames] features a 1-D CNN runs over in time, with
 * the mel bands (or cepstral coefficients) as channels.
 *
 *   STFT      X_t[b] = Σ_i w[i] · x[t·hop − nFft/2 + i] · e^(−2πi·b·i/nFft),  b = 0 … nFft/2
 *             (frames centred on t·hop, zero outside the signal; w the periodic Hann window
 *             w[i] = ½ − ½cos(2πi/nFft); 1 + ⌊L/hop⌋ frames)
 *   mel       M_t[m] = Σ_b F[m, b] · |X_t[b]|²  (F: triangles on the HTK mel scale
 *             mel(f) = 2595·log10(1 + f/700), corners equally spaced in mel from fMin to fMax,
 *             evaluated at the bins' frequencies b·rate/nFft, unnormalised: torchaudio's
 *             melscale_fbanks)
 *   log-mel   L_t[m] = ln(M_t[m] + ε), ε = 1e-6; with a relative floor of D dB (`floorDb`),
 *             L ← max(L, max_{t,m} L − D·ln(10)/10): everything more than D dB below the
 *             utterance's loudest band and frame reads as that floor (librosa's `top_db`), so
 *             digital silence and a microphone's noise floor look alike
 *   MFCC      C_t[k] = Σ_m L_t[m] · D[k, m]  (D the orthonormal DCT-II, the first `coefficients` rows)
 *
 * then, per utterance, each channel is normalised over its frames to mean 0 and variance 1
 * (cepstral mean and variance normalisation: a speaker's or microphone's fixed spectral tilt
 * is a constant per band, which this removes). test/datasets/audio.test.ts checks every
 * stage against NumPy/PyTorch (fixtures/audio_reference.py).
 */
import FFT from 'fft.js';

export const FEATURE_KINDS = ['raw', 'logmel', 'mfcc'] as const;
export type FeatureKind = (typeof FEATURE_KINDS)[number];

export interface SpectrogramOptions {
  /** Sample rate in Hz. */
  rate: number;
  /** Window and FFT length in samples, a power of 2. */
  nFft: number;
  /** Samples between frame centres. */
  hop: number;
  mels: number;
  /** Lowest and highest filter corner in Hz (default 0 and rate/2). */
  fMin?: number;
  fMax?: number;
  /** MFCC: cepstral coefficients kept (default 20). */
  coefficients?: number;
  /** Floor of the log-mel values this many dB below the utterance's peak (default: none). */
  floorDb?: number;
}

/** ε inside the log: 10⁻⁶ of a unit-RMS frame's power, ~140 dB down, so silence stays finite. */
const LOG_FLOOR = 1e-6;
/** Added to a channel's variance before dividing by its root: a constant channel maps to 0. */
const VAR_FLOOR = 1e-8;

/** HTK mel scale and its inverse. */
export const hzToMel = (f: number): number => 2595 * Math.log10(1 + f / 700);
export const melToHz = (m: number): number => 700 * (10 ** (m / 2595) - 1);

/**
 * The feature extractor for one kind and waveform length: window, filterbank, DCT and FFT plan
 * made once, scratch reused, so `extract` allocates nothing (it runs on every training batch
 * when the waveforms are augmented).
 */
export class AudioFeatures {
  /** Output channels (mel bands or coefficients) and frames: `extract` writes [channels, frames]. */
  readonly channels: number;
  readonly frames: number;
  private readonly bins: number;
  private readonly window: Float64Array;
  /** Filter m is nonzero on bins [lo[m], hi[m]); its weights start at wAt[m] in weights. */
  private readonly lo: Int32Array;
  private readonly hi: Int32Array;
  private readonly wAt: Int32Array;
  private readonly weights: Float64Array;
  private readonly dct: Float64Array | null;
  private readonly fft: FFT;
  private readonly frame: number[];
  private readonly spectrum: number[];
  private readonly logMel: Float64Array;

  constructor(
    readonly kind: Exclude<FeatureKind, 'raw'>,
    readonly length: number,
    readonly opts: SpectrogramOptions,
  ) {
    const { rate, nFft, hop, mels } = opts;
    const fMin = opts.fMin ?? 0;
    const fMax = opts.fMax ?? rate / 2;
    if (!(Number.isInteger(nFft) && nFft >= 4 && (nFft & (nFft - 1)) === 0)) throw new RangeError(`AudioFeatures: nFft ${nFft} is not a power of 2 ≥ 4`);
    if (!(Number.isInteger(hop) && hop >= 1)) throw new RangeError(`AudioFeatures: hop ${hop} is not a positive integer`);
    if (!(Number.isInteger(mels) && mels >= 1)) throw new RangeError(`AudioFeatures: mels ${mels} is not a positive integer`);
    if (!(fMin >= 0 && fMin < fMax && fMax <= rate / 2)) throw new RangeError(`AudioFeatures: need 0 ≤ fMin < fMax ≤ rate/2, got ${fMin}, ${fMax} at ${rate} Hz`);
    if (!(Number.isInteger(length) && length >= 1)) throw new RangeError(`AudioFeatures: length ${length} is not a positive integer`);
    if (opts.floorDb !== undefined && !(opts.floorDb > 0 && Number.isFinite(opts.floorDb))) throw new RangeError(`AudioFeatures: floorDb ${opts.floorDb} is not a positive number of dB`);
    this.bins = nFft / 2 + 1;
    this.frames = 1 + Math.floor(length / hop);
    this.window = Float64Array.from({ length: nFft }, (_, i) => 0.5 - 0.5 * Math.cos((2 * Math.PI * i) / nFft));
    const { lo, hi, wAt, weights } = melFilters(this.bins, rate, nFft, mels, fMin, fMax);
    this.lo = lo;
    this.hi = hi;
    this.wAt = wAt;
    this.weights = weights;
    const k = opts.coefficients ?? 20;
    if (kind === 'mfcc' && !(Number.isInteger(k) && k >= 1 && k <= mels)) throw new RangeError(`AudioFeatures: ${k} coefficients of ${mels} mel bands`);
    this.dct = kind === 'mfcc' ? dctMatrix(k, mels) : null;
    this.channels = kind === 'mfcc' ? k : mels;
    this.fft = new FFT(nFft);
    this.frame = new Array<number>(nFft).fill(0);
    this.spectrum = this.fft.createComplexArray() as number[];
    this.logMel = new Float64Array(mels * this.frames);
  }

  /** Elements of one output example (channels × frames). */
  get size(): number {
    return this.channels * this.frames;
  }

  /**
   * Features of the waveform `x` (`length` samples) into `out` [channels, frames], normalised
   * per channel (see the module comment); `normalise: false` leaves them as computed.
   */
  extract(x: ArrayLike<number>, out: Float32Array | Float64Array, normalise = true): void {
    const { nFft, hop, mels } = this.opts;
    const T = this.frames;
    const half = nFft / 2;
    for (let t = 0; t < T; t++) {
      const start = t * hop - half;
      for (let i = 0; i < nFft; i++) {
        const s = start + i;
        this.frame[i] = s >= 0 && s < this.length ? this.window[i] * x[s] : 0;
      }
      this.fft.realTransform(this.spectrum, this.frame);
      const sp = this.spectrum;
      for (let m = 0; m < mels; m++) {
        let acc = 0;
        for (let b = this.lo[m], w = this.wAt[m]; b < this.hi[m]; b++, w++) acc += this.weights[w] * (sp[2 * b] * sp[2 * b] + sp[2 * b + 1] * sp[2 * b + 1]);
        this.logMel[m * T + t] = Math.log(acc + LOG_FLOOR);
      }
    }
    if (this.opts.floorDb !== undefined) {
      let peak = -Infinity;
      for (const v of this.logMel) peak = Math.max(peak, v);
      const floor = peak - (this.opts.floorDb * Math.LN10) / 10;
      for (let i = 0; i < this.logMel.length; i++) this.logMel[i] = Math.max(this.logMel[i], floor);
    }
    if (this.dct === null) {
      out.set(this.logMel);
    } else {
      const K = this.channels;
      for (let k = 0; k < K; k++) {
        for (let t = 0; t < T; t++) {
          let acc = 0;
          for (let m = 0; m < mels; m++) acc += this.dct[k * mels + m] * this.logMel[m * T + t];
          out[k * T + t] = acc;
        }
      }
    }
    if (normalise) normaliseChannels(out, this.channels, T);
  }
}

/**
 * Per channel of x [channels, frames]: x ← (x − mean) / sqrt(var + 1e-8), the mean and the
 * (biased) variance over that channel's frames, in float64.
 */
export function normaliseChannels(x: Float32Array | Float64Array, channels: number, frames: number): void {
  for (let c = 0; c < channels; c++) {
    const at = c * frames;
    let sum = 0;
    for (let t = 0; t < frames; t++) sum += x[at + t];
    const mean = sum / frames;
    let sq = 0;
    for (let t = 0; t < frames; t++) sq += (x[at + t] - mean) ** 2;
    const scale = 1 / Math.sqrt(sq / frames + VAR_FLOOR);
    for (let t = 0; t < frames; t++) x[at + t] = (x[at + t] - mean) * scale;
  }
}

/** The triangular mel filters, each kept as its nonzero run of bins. */
function melFilters(bins: number, rate: number, nFft: number, mels: number, fMin: number, fMax: number) {
  const m0 = hzToMel(fMin);
  const m1 = hzToMel(fMax);
  const corners = Float64Array.from({ length: mels + 2 }, (_, i) => melToHz(m0 + ((m1 - m0) * i) / (mels + 1)));
  const lo = new Int32Array(mels);
  const hi = new Int32Array(mels);
  const wAt = new Int32Array(mels);
  const all: number[] = [];
  for (let m = 0; m < mels; m++) {
    const [a, c, b] = [corners[m], corners[m + 1], corners[m + 2]];
    lo[m] = -1;
    wAt[m] = all.length;
    for (let k = 0; k < bins; k++) {
      const f = (k * rate) / nFft;
      const w = Math.max(0, Math.min((f - a) / (c - a), (b - f) / (b - c)));
      if (w > 0) {
        if (lo[m] < 0) lo[m] = k;
        hi[m] = k + 1;
        all.push(w);
      } else if (lo[m] >= 0) {
        break;
      }
    }
    // A filter narrower than a bin spacing catches no bin: it stays empty (its band reads ln ε).
    if (lo[m] < 0) lo[m] = hi[m] = 0;
  }
  return { lo, hi, wAt, weights: Float64Array.from(all) };
}

/** Rows 0..K−1 of the orthonormal DCT-II of size M: D[k, m] = s_k · cos(πk(m + ½)/M), s_0 = √(1/M), s_k = √(2/M). */
function dctMatrix(K: number, M: number): Float64Array {
  const d = new Float64Array(K * M);
  for (let k = 0; k < K; k++) {
    const s = Math.sqrt((k === 0 ? 1 : 2) / M);
    for (let m = 0; m < M; m++) d[k * M + m] = s * Math.cos((Math.PI * k * (m + 0.5)) / M);
  }
  return d;
}
