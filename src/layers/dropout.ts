/**
 * Inverted dropout, any rank: in training y = m ⊙ x with m_j = [u_j ≥ p]/(1 − p), u_j uniform;
 * evaluation is the identity (E[m] = 1, so no rescaling is needed there).
 * The mask is a pure function of (the sample's key, this layer, the element's index), and the
 * network holds the keys fixed for one optimizer step, so the gradient, Gv and Hv of one
 * Hessian-free step are of one function (Martens' practice) and a resumed run draws the same masks.
 * Or it is given (PassMode.masks: 0/1 keep-masks by layer name, scaled by 1/(1 − p) here as
 * PyTorch's inverted dropout scales its own), to reproduce another framework's masks.
 * Given its mask dropout is linear, so every pass is the same product:
 *   forward     y = m ⊙ x
 *   backward    dE/dx = m ⊙ dE/dy
 *   R-forward   R{y} = m ⊙ R{x}
 *   R-backward  R{dE/dx} = m ⊙ R{dE/dy}
 */
import type { Backend, Tensor } from '../nd/backend.js';
import { hash32 } from '../nd/rng.js';
import { ShapeError, sizeOf, type Shape } from '../nd/shape.js';
import { Buffers, TRAINING, type Layer, type PassMode } from './layer.js';

export interface DropoutSpec {
  kind: 'dropout';
  /** Probability of zeroing an element, in [0, 1). */
  p: number;
}

export function dropout(p: number): DropoutSpec {
  return { kind: 'dropout', p };
}

export class Dropout implements Layer {
  readonly outShape: Shape;
  readonly paramShapes: Shape[] = [];
  private readonly buf: Buffers;
  private readonly salt: number;
  /** The mask of the latest training forward pass, or null after an evaluation pass (identity). */
  private mask: Tensor | null = null;

  constructor(
    private readonly backend: Backend,
    readonly name: string,
    readonly inShape: Shape,
    readonly p: number,
  ) {
    if (!(p >= 0 && p < 1)) throw new ShapeError(`${name}: dropout probability must be in [0, 1), got ${p}`);
    this.outShape = inShape;
    this.buf = new Buffers(backend);
    // Each layer draws its own masks: the salt is a hash of its name (which holds its index).
    this.salt = [...name].reduce((h, ch) => hash32(h, ch.charCodeAt(0)), 0x6d2b79f5);
  }

  init(): void {}

  backwardParams(): void {
    // No parameters, and the input gradient is not wanted.
  }

  dispose(): void {
    this.buf.clear();
    if (this.mask) this.backend.dispose(this.mask);
    this.mask = null;
  }

  forward(x: Tensor, _p: Tensor[], mode?: PassMode): Tensor {
    if (this.mask) this.backend.dispose(this.mask);
    this.mask = null;
    const { training, keys, masks } = mode ?? TRAINING;
    if (!training || this.p === 0) return x;
    const given = masks?.get(this.name);
    if (given) this.mask = this.backend.upload(x.shape, this.scaled(given, x.shape));
    else {
      if (!keys) throw new Error(`${this.name}: a training pass needs the network's per-sample keys (run it inside a Network)`);
      this.mask = this.backend.upload(x.shape, this.draw(keys, x.shape));
    }
    return this.times(x, 'y');
  }

  /** A given 0/1 keep-mask as the multiplier m = keep/(1 − p), checked against the batch. */
  private scaled(given: ArrayLike<number>, shape: Shape): Float64Array {
    const size = sizeOf(shape);
    if (given.length !== size) throw new ShapeError(`${this.name}: the given mask has ${given.length} values, the batch [${shape.join(', ')}] needs ${size}`);
    const keep = 1 / (1 - this.p);
    const m = new Float64Array(size);
    for (let i = 0; i < size; i++) {
      if (given[i] !== 0 && given[i] !== 1) throw new ShapeError(`${this.name}: mask values must be 0 (drop) or 1 (keep), got ${given[i]} at element ${i}`);
      m[i] = given[i] * keep;
    }
    return m;
  }

  backward(dy: Tensor): Tensor {
    return this.times(dy, 'dx');
  }

  rForward(Rx: Tensor | null): Tensor | null {
    return Rx && this.times(Rx, 'Ry');
  }

  rBackward(dy: Tensor, Rdy: Tensor): [Tensor, Tensor] {
    return [this.times(dy, 'dx'), this.times(Rdy, 'Rdx')];
  }

  /** m[n, j] = [u ≥ p]/(1 − p), u = hash(key_n ⊕ salt, j)/2³². */
  private draw(keys: Uint32Array, shape: Shape): Float64Array {
    const n = shape[0];
    const per = sizeOf(shape) / n;
    if (keys.length !== n) throw new ShapeError(`${this.name}: ${keys.length} sample keys for a batch of ${n}`);
    const keep = 1 / (1 - this.p);
    const cut = this.p * 2 ** 32;
    const m = new Float64Array(n * per);
    for (let i = 0; i < n; i++) {
      const k = hash32(keys[i], this.salt);
      for (let j = 0; j < per; j++) m[i * per + j] = hash32(k, j) >= cut ? keep : 0;
    }
    return m;
  }

  /** a ⊙ m (a itself when the mask is the identity: evaluation, or p = 0). */
  private times(a: Tensor, key: string): Tensor {
    if (!this.mask) return a;
    const out = this.buf.get(key, a.shape);
    this.backend.mul(out, a, this.mask);
    return out;
  }
}
