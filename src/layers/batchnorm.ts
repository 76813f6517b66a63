/**
 * Batch normalisation (PyTorch's BatchNorm1d/2d/3d): per channel c, over the batch and every
 * spatial position (m = N·Πspatial values; a flat input [F] has F channels and m = N).
 * Training mode, on the batch's statistics (which couple the samples):
 *   forward     μ = mean x,  σ² = mean (x − μ)²,  s = (σ² + ε)^−½,  x̂ = (x − μ)·s,  y = γ·x̂ + β
 *   backward    dγ += Σ g·x̂,  dβ += Σ g,  dx = J(γ·g)                        with g = dE/dy
 *               J u = s·(u − mean u − x̂·mean(x̂·u))   (∂x̂/∂x, symmetric, so it is its own adjoint)
 *   R-forward   R{x̂} = J R{x},  R{y} = V_γ·x̂ + γ·R{x̂} + V_β
 *   R-backward  R{dγ} = Σ (R{g}·x̂ + g·R{x̂}),  R{dβ} = Σ R{g},
 *               R{dx} = J(V_γ·g + γ·R{g}) + ρ·dx − s·γ·(R{x̂}·mean(x̂·g) + x̂·mean(R{x̂}·g)),
 *               ρ = R{s}/s = −s·mean(x̂·R{x})
 * Derivation (means are over the m values of one channel):
 *   R{μ} = mean R{x};  R{σ²} = 2·mean((x − μ)·R{x}) = (2/s)·mean(x̂·R{x}), since mean(x − μ) = 0;
 *   R{s} = −½·s³·R{σ²} = −s²·mean(x̂·R{x}), so R{x̂} = s·(R{x} − R{μ}) + (x − μ)·R{s} = J R{x}.
 *   dx = J(γ·g) depends on x through s and x̂ and on γ, g: for fixed u,
 *   R{J u} = R{s}·(u − mean u − x̂·mean(x̂·u)) − s·(R{x̂}·mean(x̂·u) + x̂·mean(R{x̂}·u))
 *          = ρ·J u − s·(R{x̂}·mean(x̂·u) + x̂·mean(R{x̂}·u)),  and R{γ·g} = V_γ·g + γ·R{g}.
 * Evaluation mode: y = γ·x̂ + β with x̂ = (x − μ_run)·r, r = (σ²_run + ε)^−½ fixed, an affine map
 * per channel that couples no samples, with a = γ·r:
 *   backward    dγ += Σ g·x̂,  dβ += Σ g,  dx = a·g
 *   R-forward   R{y} = V_γ·x̂ + a·R{x} + V_β
 *   R-backward  R{dγ} = Σ (R{g}·x̂ + g·r·R{x}),  R{dβ} = Σ R{g},  R{dx} = a·R{g} + V_γ·r·g
 * Per-sample gradients (Layer.perSample): each sample's Σ over its positions of g·x̂ and of g,
 * in evaluation mode only. In training mode the batch statistics make every sample's loss
 * depend on every other sample's input, so a sample's gradient is not its share of the batch
 * gradient's sums; that is refused (as BackPACK refuses it), not computed under another meaning.
 * Running statistics (gradient passes only): run ← (1 − m)·run + m·batch with momentum m
 * (0.1 by default), the running variance from the unbiased batch variance σ²·m/(m − 1), as PyTorch;
 * or, recomputing them (Network.recomputeStatistics), the plain average of the batches since reset.
 * Per-channel scalars (C of them) are reduced on the device and combined on the host in float64:
 * those reads are the layer's read points (the *Reads methods, reads.ts), so it also runs where
 * reads resolve later (WebGPU), at one device round trip per sum.
 * K-FAC (kronecker.ts): γ and β get their own exact 2×2 block per channel, not Kronecker
 * factors (a per-channel scale and shift has no input/output structure to factor): per sample n,
 * a = Σ_t g·x̂ = dℓ_n/dγ_c and b = Σ_t g = dℓ_n/dβ_c, and F_c += [a², ab, b²] for each
 * output-gradient column. 2×2 rather than diagonal because a and b are strongly correlated
 * (both sum the same g), which a diagonal would discard at no saving worth having.
 * Threads: when the batch is split over threads (mode.reduce), every batch sum that couples the
 * samples (and m) is summed over the threads before use, so each thread computes the whole
 * batch's statistics; dγ and dβ stay this thread's share (the network sums the shares).
 */
import type { Backend, Tensor } from '../nd/backend.js';
import type { FloatArray } from '../nd/dtype.js';
import { ShapeError, fmt, sizeOf, type Shape } from '../nd/shape.js';
import type { KroneckerSink } from './kronecker.js';
import { Buffers, TRAINING, type Layer, type LayerBuffer, type PassMode, type SampleOutputs } from './layer.js';
import { planeSums, reduceSamples } from './samples.js';
import { read, runSync, type Reads } from './reads.js';

export interface BatchNormSpec {
  kind: 'batchNorm';
  /** Added to the variance (PyTorch's default 1e-5). */
  eps?: number;
  /** Weight of the newest batch in the running statistics (PyTorch's default 0.1). */
  momentum?: number;
}

export function batchNorm(o: Omit<BatchNormSpec, 'kind'> = {}): BatchNormSpec {
  return { kind: 'batchNorm', ...o };
}

type Vec = Float64Array;
type Reduce = NonNullable<PassMode['reduce']>;

export class BatchNorm implements Layer {
  readonly outShape: Shape;
  readonly paramShapes: Shape[];
  /** running_mean, running_var, num_batches_tracked (io's contract: the layer owns and updates them). */
  readonly buffers: LayerBuffer[];
  private readonly running: { mean: Vec; var: Vec; tracked: Vec };
  private readonly C: number;
  private readonly eps: number;
  private readonly momentum: number;
  private readonly buf: Buffers;
  private readonly vecs = new Map<string, Tensor>();
  /** Saved by a training forward for the later passes. */
  private saved: { xhat: Tensor; s: Vec; gamma: Tensor; gammaH: Vec; m: number; reduce: Reduce | null } | null = null;
  /** Saved by an evaluation forward: its input, r = (σ²_run + ε)^−½, a = γ·r, −μ_run·r, and x̂ once a later pass made it. */
  private evaluated: { x: Tensor; r: Vec; a: Vec; shift: Vec; xhat: Tensor | null } | null = null;
  private Rxhat: Tensor | null = null;
  private rho: Vec | null = null;
  private Vgamma: Vec | null = null;
  /** R{x} of the latest evaluation-mode R-forward (null: zero). */
  private evalRx: Tensor | null = null;
  /** dE/dy of the latest backward pass, which perSample reads. */
  private g: Tensor | null = null;

  constructor(
    private readonly backend: Backend,
    readonly name: string,
    readonly inShape: Shape,
    spec: BatchNormSpec,
  ) {
    this.C = inShape[0];
    this.eps = spec.eps ?? 1e-5;
    this.momentum = spec.momentum ?? 0.1;
    if (!(this.eps > 0)) throw new ShapeError(`${name}: eps must be > 0, got ${spec.eps}`);
    if (!(this.momentum >= 0 && this.momentum <= 1)) throw new ShapeError(`${name}: momentum must be in [0, 1], got ${spec.momentum}`);
    if (!(this.C >= 1) || inShape.length > 4) throw new ShapeError(`${name}: input ${fmt(inShape)} is not [C, ...spatial] of rank ≤ 3 or [features]`);
    this.outShape = inShape;
    this.paramShapes = [[this.C], [this.C]];
    this.buf = new Buffers(backend);
    this.running = { mean: new Float64Array(this.C), var: new Float64Array(this.C).fill(1), tracked: new Float64Array(1) };
    this.buffers = [
      { name: 'running_mean', shape: [this.C], data: this.running.mean },
      { name: 'running_var', shape: [this.C], data: this.running.var, nonNegative: true },
      { name: 'num_batches_tracked', shape: [], data: this.running.tracked, integer: true },
    ];
  }

  init([gamma, beta]: FloatArray[]): void {
    gamma.fill(1);
    beta.fill(0);
  }

  dispose(): void {
    this.buf.clear();
    for (const t of this.vecs.values()) this.backend.dispose(t);
    this.vecs.clear();
  }

  forward(x: Tensor, p: Tensor[], mode: PassMode = TRAINING): Tensor {
    return runSync(this.backend, this.forwardReads(x, p, mode));
  }

  *forwardReads(x: Tensor, [gamma, beta]: Tensor[], mode: PassMode = TRAINING): Reads<Tensor> {
    const y = this.buf.get('y', x.shape);
    if (!mode.training) {
      this.saved = null;
      const { mean: mu, var: v } = this.running;
      const r = v.map((vc) => 1 / Math.sqrt(vc + this.eps));
      const a = (yield* this.host(gamma)).map((gc, c) => gc * r[c]);
      this.affine(y, x, a, (yield* this.host(beta)).map((b, c) => b - a[c] * mu[c]));
      this.evaluated = { x, r, a, shift: mu.map((m, c) => -m * r[c]), xhat: null };
      return y;
    }
    this.evaluated = null;
    const reduce = mode.reduce ?? null;
    const [sums, [m]] = global(reduce, yield* this.sum(x), Float64Array.of(sizeOf(x.shape) / this.C));
    const mu = sums.map((v) => v / m);
    const xhat = this.buf.get('xhat', x.shape);
    this.affine(xhat, x, ones(this.C), mu.map((v) => -v));
    const [squares] = global(reduce, yield* this.sum(xhat, xhat));
    const variance = squares.map((v) => v / m);
    const s = variance.map((v) => 1 / Math.sqrt(v + this.eps));
    this.affine(xhat, xhat, s, zeros(this.C));
    this.backend.channelAffine(y, xhat, gamma, beta);
    this.saved = { xhat, s, gamma, gammaH: yield* this.host(gamma), m, reduce };
    if (mode.updateStats) this.track(mu, variance, m, mode.cumulative === true);
    return y;
  }

  backward(dy: Tensor, grad: Tensor[] | null): Tensor {
    return runSync(this.backend, this.backwardReads(dy, grad));
  }

  *backwardReads(dy: Tensor, grad: Tensor[] | null): Reads<Tensor> {
    this.g = dy;
    if (this.evaluated) {
      if (grad) this.addGrads(grad, yield* this.sum(this.xhatRun(), dy), yield* this.sum(dy));
      return this.scaled('dx', dy, this.evaluated.a);
    }
    const { xhat, reduce } = this.train();
    const [Sg, Sxg] = [yield* this.sum(dy), yield* this.sum(xhat, dy)];
    if (grad) this.addGrads(grad, Sxg, Sg);
    const [all, allX] = global(reduce, Sg, Sxg);
    return this.dx(dy, all, allX);
  }

  /** dx = s·γ·(g − mean g − x̂·mean(x̂·g)), from the whole batch's Σ g and Σ x̂·g. */
  private dx(dy: Tensor, Sg: Vec, Sxg: Vec): Tensor {
    const { xhat, s, gammaH, m } = this.train();
    const k = s.map((sc, c) => sc * gammaH[c]);
    return this.combine('dx', [[dy, k], [xhat, k.map((kc, c) => (-kc * Sxg[c]) / m)]], k.map((kc, c) => (-kc * Sg[c]) / m));
  }

  backwardParams(dy: Tensor, grad: Tensor[] | null): void {
    runSync(this.backend, this.backwardParamsReads(dy, grad));
  }

  *backwardParamsReads(dy: Tensor, grad: Tensor[] | null): Reads<void> {
    this.g = dy;
    if (grad) this.addGrads(grad, yield* this.sum(this.evaluated ? this.xhatRun() : this.train().xhat, dy), yield* this.sum(dy));
  }

  /** Each sample's Σ g·x̂ (γ) and Σ g (β) over its positions, from the latest backward pass; evaluation mode only. */
  perSample(out: SampleOutputs): void {
    if (!this.evaluated) {
      throw new Error(
        `${this.name}: per-sample quantities are undefined under batch norm in training mode (the batch statistics couple the samples, ` +
          `so no sample's gradient is its own); compute them in evaluation mode (running statistics), or use the Hutchinson diagonal, which needs only products`,
      );
    }
    const g = this.g;
    if (!g) throw new Error(`${this.name}: perSample needs a backward pass first`);
    const prod = this.buf.get('prod', g.shape);
    this.backend.mul(prod, this.xhatRun(), g);
    [prod, g].forEach((t, j) => {
      const G = out.grads?.[j] ?? this.buf.get(`sample${j}`, [g.shape[0], this.C]);
      planeSums(this.backend, G, t);
      reduceSamples(this.backend, this.buf, G, 0, out, j);
    });
  }

  kroneckerInput(offset: number, sink: KroneckerSink): void {
    this.train();
    sink.channels(this, offset, offset + this.C, this.C);
  }

  kroneckerBackward(dy: Tensor, sink: KroneckerSink, grad: Tensor[] | null, needDx: boolean): Tensor | null {
    const { xhat } = this.train();
    const F = sink.channelsOf(this).F;
    const prod = this.buf.get('prod', dy.shape);
    this.backend.mul(prod, xhat, dy);
    const [a, b] = [this.planeTotals(prod), this.planeTotals(dy)];
    for (let i = 0; i < a.length; i++) {
      const c = 3 * (i % this.C);
      F[c] += a[i] * a[i];
      F[c + 1] += a[i] * b[i];
      F[c + 2] += b[i] * b[i];
    }
    if (needDx) return this.backward(dy, grad);
    if (grad) this.backwardParams(dy, grad);
    return null;
  }

  /** Σ over the spatial positions of each (sample, channel): [n·C] on the host. */
  private planeTotals(t: Tensor): FloatArray {
    const planes = t.shape[0] * t.shape[1];
    const out = this.buf.get('planes', [planes]);
    this.backend.fill(out, 0);
    this.backend.biasGrad(out, this.backend.reshape(t, [1, planes, ...t.shape.slice(2)]));
    return this.backend.download(out);
  }

  rForward(Rx: Tensor | null, v: Tensor[]): Tensor | null {
    return runSync(this.backend, this.rForwardReads(Rx, v));
  }

  *rForwardReads(Rx: Tensor | null, [Vgamma, Vbeta]: Tensor[]): Reads<Tensor | null> {
    if (this.evaluated) {
      this.Vgamma = yield* this.host(Vgamma);
      this.evalRx = Rx;
      const Ry = this.buf.get('Ry', this.evaluated.x.shape);
      this.backend.channelAffine(Ry, this.xhatRun(), Vgamma, Vbeta);
      if (Rx) this.backend.axpy(Ry, 1, this.scaled('t', Rx, this.evaluated.a));
      return Ry;
    }
    const { xhat, s, gamma, m, reduce } = this.train();
    this.Vgamma = yield* this.host(Vgamma);
    const Ry = this.buf.get('Ry', xhat.shape);
    this.backend.channelAffine(Ry, xhat, Vgamma, Vbeta);
    if (!Rx) {
      [this.Rxhat, this.rho] = [null, null];
      return Ry;
    }
    // R{x̂} = s·(R{x} − mean R{x} − x̂·mean(x̂·R{x})), ρ = −s·mean(x̂·R{x})
    const [Sr, Sxr] = global(reduce, yield* this.sum(Rx), yield* this.sum(xhat, Rx));
    this.rho = s.map((sc, c) => (-sc * Sxr[c]) / m);
    this.Rxhat = this.combine('Rxhat', [[Rx, s], [xhat, this.rho]], s.map((sc, c) => (-sc * Sr[c]) / m));
    const t = this.buf.get('t', xhat.shape);
    this.backend.channelAffine(t, this.Rxhat, gamma, this.zerosT());
    this.backend.axpy(Ry, 1, t);
    return Ry;
  }

  rBackward(dy: Tensor, Rdy: Tensor, hv: Tensor[]): [Tensor, Tensor] {
    return runSync(this.backend, this.rBackwardReads(dy, Rdy, hv));
  }

  *rBackwardReads(dy: Tensor, Rdy: Tensor, hv: Tensor[]): Reads<[Tensor, Tensor]> {
    if (this.evaluated) return yield* this.evalRBackward(dy, Rdy, hv);
    const { xhat, s, gammaH: g, m, reduce } = this.train();
    const Vg = this.Vgamma ?? zeros(this.C);
    const local = [yield* this.sum(dy), yield* this.sum(xhat, dy), yield* this.sum(Rdy), yield* this.sum(xhat, Rdy), this.Rxhat ? yield* this.sum(this.Rxhat, dy) : zeros(this.C)];
    this.addGrads(hv, local[3].map((v, c) => v + local[4][c]), local[2]);
    const [Sg, Sxg, SRg, SxRg, SRxg] = global(reduce, ...local);
    const dx = this.dx(dy, Sg, Sxg);
    // R{dx}: J(V_γ·g + γ·R{g}) expanded, plus ρ·dx − s·γ·(R{x̂}·mean(x̂·g) + x̂·mean(R{x̂}·g)).
    const terms: [Tensor, Vec][] = [
      [dy, s.map((sc, c) => sc * Vg[c])],
      [Rdy, s.map((sc, c) => sc * g[c])],
      [xhat, s.map((sc, c) => (-sc * (Vg[c] * Sxg[c] + g[c] * SxRg[c] + g[c] * SRxg[c])) / m)],
    ];
    if (this.Rxhat && this.rho) {
      terms.push([this.Rxhat, s.map((sc, c) => (-sc * g[c] * Sxg[c]) / m)], [dx, this.rho]);
    }
    return [dx, this.combine('Rdx', terms, s.map((sc, c) => (-sc * (Vg[c] * Sg[c] + g[c] * SRg[c])) / m))];
  }

  /** R{dγ} = Σ (R{g}·x̂ + g·r·R{x}), R{dβ} = Σ R{g}; returns [a·g, a·R{g} + V_γ·r·g]. */
  private *evalRBackward(dy: Tensor, Rdy: Tensor, hv: Tensor[]): Reads<[Tensor, Tensor]> {
    const { r, a } = this.evaluated!;
    const dGamma = yield* this.sum(this.xhatRun(), Rdy);
    if (this.evalRx) (yield* this.sum(this.evalRx, dy)).forEach((v, c) => (dGamma[c] += r[c] * v));
    this.addGrads(hv, dGamma, yield* this.sum(Rdy));
    const Vg = this.Vgamma ?? zeros(this.C);
    return [this.scaled('dx', dy, a), this.combine('Rdx', [[Rdy, a], [dy, Vg.map((v, c) => v * r[c])]], zeros(this.C))];
  }

  /** x̂ = (x − μ_run)·r of the latest evaluation forward, into a buffer (computed when a later pass needs it). */
  private xhatRun(): Tensor {
    const e = this.evaluated!;
    if (!e.xhat) {
      e.xhat = this.buf.get('xhat', e.x.shape);
      this.affine(e.xhat, e.x, e.r, e.shift);
    }
    return e.xhat;
  }

  /** a[c]·t into the named buffer. */
  private scaled(key: string, t: Tensor, a: Vec): Tensor {
    const out = this.buf.get(key, t.shape);
    this.affine(out, t, a, zeros(this.C));
    return out;
  }

  private train(): NonNullable<BatchNorm['saved']> {
    if (!this.saved) throw new Error(`${this.name}: backward and R-passes need a forward pass first`);
    return this.saved;
  }

  private track(mu: Vec, variance: Vec, m: number, cumulative: boolean): void {
    if (m < 2) {
      throw new ShapeError(`${this.name}: a training batch holds 1 value per channel, too few for the running variance (use a batch of 2 or more)`);
    }
    const { mean: rm, var: rv, tracked: nb } = this.running;
    const k = cumulative ? 1 / (nb[0] + 1) : this.momentum;
    for (let c = 0; c < this.C; c++) {
      rm[c] = (1 - k) * rm[c] + k * mu[c];
      rv[c] = (1 - k) * rv[c] + k * ((variance[c] * m) / (m - 1));
    }
    nb[0] += 1;
  }

  /** grad[0] (γ) += dγ, grad[1] (β) += dβ, from host per-channel sums. */
  private addGrads(grad: Tensor[], dGamma: Vec, dBeta: Vec): void {
    this.backend.axpy(grad[0], 1, this.vec('dgamma', dGamma));
    this.backend.axpy(grad[1], 1, this.vec('dbeta', dBeta));
  }

  /** Σ over each channel of a (or of a ⊙ b), as float64 on the host (a read point). */
  private *sum(a: Tensor, b?: Tensor): Reads<Vec> {
    let t = a;
    if (b) {
      t = this.buf.get('prod', a.shape);
      this.backend.mul(t, a, b);
    }
    const out = this.buf.get('sums', [this.C]);
    this.backend.fill(out, 0);
    this.backend.biasGrad(out, t);
    return Float64Array.from(yield* read(out));
  }

  /** out = Σ_k coef_k[c]·T_k + constant[c], into the named buffer. */
  private combine(key: string, terms: [Tensor, Vec][], constant: Vec): Tensor {
    const out = this.buf.get(key, terms[0][0].shape);
    this.affine(out, terms[0][0], terms[0][1], constant);
    const t = this.buf.get('t', out.shape);
    for (const [T, k] of terms.slice(1)) {
      this.affine(t, T, k, zeros(this.C));
      this.backend.axpy(out, 1, t);
    }
    return out;
  }

  private affine(out: Tensor, x: Tensor, a: Vec, b: Vec): void {
    this.backend.channelAffine(out, x, this.vec('a', a), this.vec('b', b));
  }

  /** A [C] tensor holding host values; the one uploaded before under the same key is freed. */
  private vec(key: string, v: Vec): Tensor {
    const old = this.vecs.get(key);
    if (old) this.backend.dispose(old);
    const t = this.backend.upload([this.C], v);
    this.vecs.set(key, t);
    return t;
  }

  private zerosT(): Tensor {
    return this.vec('zero', zeros(this.C));
  }

  private *host(t: Tensor): Reads<Vec> {
    return Float64Array.from(yield* read(t));
  }
}

/** The vectors summed over the threads (one reduction for all of them), or themselves without threads. */
function global(reduce: Reduce | null, ...vs: Vec[]): Vec[] {
  if (!reduce) return vs;
  const all = new Float64Array(vs.reduce((n, v) => n + v.length, 0));
  let at = 0;
  for (const v of vs) [all.set(v, at), (at += v.length)];
  reduce(all);
  at = 0;
  return vs.map((v) => all.subarray(at, (at += v.length)));
}

const ones = (n: number): Vec => new Float64Array(n).fill(1);
const zeros = (n: number): Vec => new Float64Array(n);
