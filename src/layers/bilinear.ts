/**
 * The calculus shared by convolution and fully connected layers: y = σ(op(x, W) + b) where op is
 * bilinear in (x, W). Each layer supplies op and its two adjoints; everything else follows:
 *   forward     z = op(x, W) + b
 *   backward    dW += opᵀ_W(x, δ),  db += Σ δ,  dx = opᵀ_x(δ, W)           with δ = dE/dz
 *   R-forward   R{z} = op(R{x}, W) + op(x, V_W) + V_b                       (bilinearity)
 *   R-backward  R{dW} = opᵀ_W(R{x}, δ) + opᵀ_W(x, R{δ}),  R{db} = Σ R{δ},
 *               R{dx} = opᵀ_x(R{δ}, W) + opᵀ_x(δ, V_W)
 * opᵀ_W and the bias sum add up samples, so sample n's share of dW is opᵀ_W(x_n, δ_n) and of db
 * Σ_pos δ_n: perSample computes those (materialised per sample, or reduced) from the x the
 * forward pass kept and the δ the latest backward pass kept.
 * K-FAC (kronecker.ts): op is linear in W with input columns x̄_t = [x_t; 1] (one per sample for
 * dense, the im2col patches of each output position t for a convolution), so dℓ/dW̄ = Σ_t δ_t x̄_tᵀ
 * and the layer's factors are A += Σ_{n,t} x̄x̄ᵀ (from the saved x) and G += Σ_{n,t} δδᵀ / T per
 * output-gradient column (from the backward pass's δ).
 */
import type { ActivationFn, Backend, Tensor } from '../nd/backend.js';
import type { FloatArray } from '../nd/dtype.js';
import type { Rng } from '../nd/rng.js';
import { sizeOf, type Shape } from '../nd/shape.js';
import { Activation } from './activation.js';
import type { KroneckerSink } from './kronecker.js';
import { Buffers, type Layer, type SampleOutputs } from './layer.js';
import { SAMPLE_CHUNK, planeSums, reduceSamples } from './samples.js';

export abstract class BilinearLayer implements Layer {
  abstract readonly paramShapes: Shape[];
  /** A fused non-identity activation is a module of its own in PyTorch (naming.ts). */
  readonly modules: number;
  protected readonly buf: Buffers;
  private readonly act: Activation;
  protected x!: Tensor;
  /** δ = dE/dz of the latest backward pass (null before one). */
  protected delta: Tensor | null = null;
  private W!: Tensor;
  private V!: Tensor;
  private Rx: Tensor | null = null;

  constructor(
    protected readonly backend: Backend,
    readonly name: string,
    readonly inShape: Shape,
    readonly outShape: Shape,
    protected readonly bias: boolean,
    activation: ActivationFn,
  ) {
    this.buf = new Buffers(backend);
    this.act = new Activation(backend, name, outShape, activation);
    this.modules = activation === 'identity' ? 1 : 2;
  }

  abstract init(params: FloatArray[], rng: Rng): void;

  dispose(): void {
    this.buf.clear();
    this.act.dispose();
  }
  /** out (+)= op(x, W) */
  protected abstract apply(out: Tensor, x: Tensor, W: Tensor, accumulate: boolean): void;
  /** dx (+)= opᵀ_x(dy, W) */
  protected abstract adjointX(dx: Tensor, dy: Tensor, W: Tensor, accumulate: boolean): void;
  /** dW (+)= opᵀ_W(x, dy) */
  protected abstract adjointW(dW: Tensor, x: Tensor, dy: Tensor, accumulate: boolean): void;
  /** Input columns per sample: 1 for dense, the output positions T of a convolution. */
  protected abstract get positions(): number;
  /** A (host, (cols + h)², h = 1 with a bias) += Σ_{n,t} x̄x̄ᵀ over x's input columns. */
  protected abstract inputGram(A: Float64Array, x: Tensor): void;
  /** G (host, rows²) += w · Σ_{n,t} δδᵀ over samples and positions. */
  protected abstract outputGram(G: Float64Array, dz: Tensor, w: number): void;

  private outOf(x: Tensor): number[] {
    return [x.shape[0], ...this.outShape];
  }

  forward(x: Tensor, [W, b]: Tensor[]): Tensor {
    this.x = x;
    this.W = W;
    const z = this.buf.get('z', this.outOf(x));
    this.apply(z, x, W, false);
    if (this.bias) this.backend.biasAdd(z, b);
    return this.act.forward(z);
  }

  backward(dy: Tensor, grad: Tensor[] | null): Tensor {
    const dz = grad ? this.paramGrads(dy, grad) : (this.delta = this.act.backward(dy));
    const dx = this.buf.get('dx', this.x.shape);
    this.adjointX(dx, dz, this.W, false);
    return dx;
  }

  backwardParams(dy: Tensor, grad: Tensor[] | null): void {
    if (grad) this.paramGrads(dy, grad);
    else this.delta = this.act.backward(dy);
  }

  /** Adds dE/dW and dE/db into `grad`; returns δ = dE/dz. */
  private paramGrads(dy: Tensor, grad: Tensor[]): Tensor {
    const dz = (this.delta = this.act.backward(dy));
    this.adjointW(grad[0], this.x, dz, true);
    if (this.bias) this.backend.biasGrad(grad[1], dz);
    return dz;
  }

  curvatureResidual(): Tensor | null {
    return this.act.curvatureResidual();
  }

  backwardFromActivation(dz: Tensor, needDx: boolean): Tensor | null {
    this.delta = dz;
    if (!needDx) return null;
    const dx = this.buf.get('dx', this.x.shape);
    this.adjointX(dx, dz, this.W, false);
    return dx;
  }

  kroneckerInput(offset: number, sink: KroneckerSink): void {
    const rows = this.outShape[0];
    const cols = this.paramShapes[0].reduce((a, b) => a * b, 1) / rows;
    const block = sink.kronecker(this, offset, rows, cols, this.bias ? offset + rows * cols : null);
    this.inputGram(block.A, this.x);
  }

  kroneckerBackward(dy: Tensor, sink: KroneckerSink, grad: Tensor[] | null, needDx: boolean): Tensor | null {
    const dz = grad ? this.paramGrads(dy, grad) : this.act.backward(dy);
    this.outputGram(sink.kroneckerOf(this).G, dz, 1 / this.positions);
    return this.backwardFromActivation(dz, needDx);
  }

  perSample(out: SampleOutputs): void {
    const dz = this.delta;
    if (!dz) throw new Error(`${this.name}: perSample needs a backward pass first`);
    this.weightSamples(out, dz);
    if (!this.bias) return;
    const G = out.grads?.[1] ?? this.buf.get('biasSamples', [dz.shape[0], this.outShape[0]]);
    planeSums(this.backend, G, dz);
    reduceSamples(this.backend, this.buf, G, 0, out, 1);
  }

  /**
   * The weights' share of perSample: materialised per sample (all at once into out.grads, else
   * in chunks that only the reductions read).
   */
  protected weightSamples(out: SampleOutputs, dz: Tensor): void {
    const n = dz.shape[0];
    if (out.grads) {
      this.sampleWeights(out.grads[0], 0);
      reduceSamples(this.backend, this.buf, out.grads[0], 0, out, 0);
      return;
    }
    if (!out.norms && !out.squares && !out.sums) return;
    const shape = this.paramShapes[0];
    const m = Math.max(1, Math.min(n, Math.floor(SAMPLE_CHUNK / sizeOf(shape))));
    for (let first = 0; first < n; first += m) {
      const G = this.buf.get(`weightSamples:${Math.min(m, n - first)}`, [Math.min(m, n - first), ...shape]);
      this.sampleWeights(G, first);
      reduceSamples(this.backend, this.buf, G, first, out, 0);
    }
  }

  /** G [m, ...weights] ← opᵀ_W(x_i, δ_i) for the m samples i from `first`. */
  protected abstract sampleWeights(G: Tensor, first: number): void;

  /** The backend's per-sample filter gradients, or a refusal naming what is missing. */
  protected filterSamples(): NonNullable<Backend['convBackFilterSamples']> {
    const f = this.backend.convBackFilterSamples;
    if (!f) throw new Error(`${this.name}: the ${this.backend.name} backend has no per-sample filter gradients (Backend.convBackFilterSamples), which per-sample and diagonal curvature quantities need`);
    return f.bind(this.backend);
  }

  rForward(Rx: Tensor | null, [VW, Vb]: Tensor[]): Tensor | null {
    this.Rx = Rx;
    this.V = VW;
    const Rz = this.buf.get('Rz', this.outOf(this.x));
    this.apply(Rz, this.x, VW, false);
    if (Rx) this.apply(Rz, Rx, this.W, true);
    if (this.bias) this.backend.biasAdd(Rz, Vb);
    return this.act.rForward(Rz);
  }

  rBackward(dy: Tensor, Rdy: Tensor, hv: Tensor[]): [Tensor, Tensor] {
    const [dz, Rdz] = this.rParamGrads(dy, Rdy, hv);
    const dx = this.buf.get('dx', this.x.shape);
    this.adjointX(dx, dz, this.W, false);
    const Rdx = this.buf.get('Rdx', this.x.shape);
    this.adjointX(Rdx, Rdz, this.W, false);
    this.adjointX(Rdx, dz, this.V, true);
    return [dx, Rdx];
  }

  rBackwardParams(dy: Tensor, Rdy: Tensor, hv: Tensor[]): void {
    this.rParamGrads(dy, Rdy, hv);
  }

  /** Adds R{dE/dW} and R{dE/db} into `hv`; returns δ and R{δ}. */
  private rParamGrads(dy: Tensor, Rdy: Tensor, hv: Tensor[]): [Tensor, Tensor] {
    const [dz, Rdz] = this.act.rBackward(dy, Rdy);
    this.adjointW(hv[0], this.x, Rdz, true);
    if (this.Rx) this.adjointW(hv[0], this.Rx, dz, true);
    if (this.bias) this.backend.biasGrad(hv[1], Rdz);
    return [dz, Rdz];
  }
}
