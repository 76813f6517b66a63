/**
 * Elementwise activation y = σ(z), used alone or at the end of a conv or dense layer.
 *   backward:   dE/dz = dE/dy · σ'(z)                       (the seed's "deltas")
 *   R-forward:  R{y} = σ'(z) · R{z}
 *   R-backward: R{dE/dz} = R{dE/dy} · σ'(z) + dE/dy · σ''(z) · R{z}
 */
import { activationParts, type ActivationFn, type ActivationKind, type Backend, type Tensor } from '../nd/backend.js';
import type { Shape } from '../nd/shape.js';
import { Buffers, type Layer } from './layer.js';

/** σ'' = 0 (away from a kink): R{dE/dz}'s second term vanishes and is not computed. */
const PIECEWISE_LINEAR: readonly ActivationKind[] = ['identity', 'relu', 'leaky-relu'];

export class Activation implements Layer {
  readonly paramShapes: Shape[] = [];
  readonly outShape: Shape;
  private readonly buf: Buffers;
  private z!: Tensor;
  private Rz: Tensor | null = null;
  /** dE/dy of the latest backward pass (curvatureResidual). */
  private dy: Tensor | null = null;
  private readonly kind: ActivationKind;

  constructor(
    private readonly backend: Backend,
    readonly name: string,
    readonly inShape: Shape,
    readonly fn: ActivationFn,
  ) {
    this.outShape = inShape;
    this.kind = activationParts(fn).kind;
    this.buf = new Buffers(backend);
  }

  init(): void {}

  backwardParams(): void {
    // No parameters, and the input gradient is not wanted.
  }

  dispose(): void {
    this.buf.clear();
  }

  forward(z: Tensor): Tensor {
    this.z = z;
    if (this.kind === 'identity') return z;
    const y = this.buf.get('y', z.shape);
    this.backend.activation(y, z, this.fn, 0);
    return y;
  }

  backward(dy: Tensor): Tensor {
    this.dy = dy;
    return this.times(dy, 1, 'dz');
  }

  /** σ''(z) ⊙ dE/dy: what the Hessian at z adds to the GGN's (σ'ᵀ H_y σ'); null for piecewise-linear σ. */
  curvatureResidual(): Tensor | null {
    if (PIECEWISE_LINEAR.includes(this.kind)) return null;
    if (!this.dy) throw new Error(`${this.name}: curvatureResidual needs a backward pass first`);
    return this.times(this.dy, 2, 'residual');
  }

  rForward(Rz: Tensor | null): Tensor | null {
    this.Rz = Rz;
    return Rz && this.times(Rz, 1, 'Ry');
  }

  rBackward(dy: Tensor, Rdy: Tensor): [Tensor, Tensor] {
    const dz = this.times(dy, 1, 'dz');
    const Rdz = this.times(Rdy, 1, 'Rdz');
    if (this.Rz && !PIECEWISE_LINEAR.includes(this.kind)) {
      const t = this.times(dy, 2, 't');
      this.backend.mul(t, t, this.Rz);
      this.backend.axpy(Rdz, 1, t);
    }
    return [dz, Rdz];
  }

  /** out = a ⊙ σ^(order)(z), into the named buffer (a itself for identity's σ' = 1). */
  private times(a: Tensor, order: 1 | 2, key: string): Tensor {
    if (this.kind === 'identity' && order === 1) return a;
    const out = this.buf.get(key, a.shape);
    this.backend.activation(out, this.z, this.fn, order, a);
    return out;
  }
}
