/**
 * A network's passes on one thread: its layers and flat parameter vector (layers in order, each
 * layer's weights then bias, PyTorch layouts), the forward, backward, R-forward and R-backward
 * passes composed into losses, gradients, Gv/Hv products and Kronecker factors on a batch.
 * Nothing here knows a thread: src/network/network.ts (the public Network) runs these passes on
 * the whole batch, or src/parallel splits the batch and runs them on each share, in worker
 * replicas built from the same class. What a split pass needs of a layer is in PassMode
 * (`reduce`, for batch sums).
 *
 * Every pass is a generator with read points (reads.ts): it yields the tensors it must see on
 * the host. runSync answers them at once (CPU, gpu.js), runAsync awaits a backend whose reads
 * resolve later (WebGPU); same calls in the same order either way.
 *
 * A pass takes the randomness step its dropout masks belong to as an argument (`training`),
 * so every replica draws the masks the caller's step asks for; the step itself is the Network's.
 */
import { readsAsync, type Backend, type Tensor } from '../nd/backend.js';
import { allocate, type DType, type FloatArray } from '../nd/dtype.js';
import type { Batch, FactorOptions } from '../nd/model.js';
import { sliceBatch } from '../nd/model.js';
import { Rng, hash32, hashFloats } from '../nd/rng.js';
import { ShapeError, checkSizes, fmt, sizeOf, type Shape } from '../nd/shape.js';
import { KroneckerSink, layerBackward, outputColumns, sequenceInput } from './kronecker.js';
import type { Layer, LayerBuffer, PassMode } from './layer.js';
import { SizeBudget, type NetworkLimits } from './limits.js';
import { losses, type Loss, type LossName } from './loss.js';
import { layerTensors, type NamedParameter } from './naming.js';
import { read, runSync, type Reads } from './reads.js';
import { buildLayer, type LayerSpec } from './registry.js';
import { Scope } from './scope.js';

/** What the passes are built with (the public NetworkOptions adds input checks and threads). */
export interface PassOptions {
  loss?: LossName;
  /** Seed for the initial weights (Glorot/He) and dropout's masks; default 1. */
  seed?: number;
  /** Size limits checked as the layers are built (limits.ts); none for a replica, whose network checked them. */
  limits?: NetworkLimits;
}

/** Sums a float64 vector over every share of a split batch, in place (see PassMode.reduce). */
export type Reduce = NonNullable<PassMode['reduce']>;

/** Evaluation mode: running statistics, no dropout. */
export const EVAL: PassMode = { training: false, updateStats: false, keys: null };

interface Slice {
  offset: number;
  shape: Shape;
  size: number;
}

export class NetworkPasses {
  readonly layers: Layer[] = [];
  readonly outShape: Shape;
  readonly paramCount: number;
  readonly params: FloatArray;
  readonly lossFn: Loss;
  readonly lossName: LossName;
  private readonly slices: Slice[][] = [];
  /** Whether a layer draws randomness (dropout): the per-sample keys are hashed only then. */
  protected readonly random: boolean;
  /** Counts forward passes, so a Curvature knows when the layers' saved state is no longer its own. */
  private generation = 0;
  /** The input and parameter tensors of the latest forward pass, which later passes still read. */
  private live: Scope;
  /** The seed of the initial weights and of dropout's masks. */
  readonly seed: number;

  /**
   * `memory`: a FloatArray is the parameter vector, used and left as it is (a replica's view of
   * the caller's parameters); an allocator makes a fresh one (shared memory, for a network whose
   * replicas read it), which gets initial weights from the seed.
   */
  constructor(
    readonly backend: Backend,
    readonly inShape: Shape,
    readonly specs: readonly LayerSpec[],
    options: PassOptions = {},
    memory: FloatArray | ((dtype: DType, length: number) => FloatArray) = allocate,
  ) {
    this.lossName = options.loss ?? 'softmax-cross-entropy';
    if (!Object.prototype.hasOwnProperty.call(losses, this.lossName)) {
      throw new Error(`network: unknown loss '${this.lossName}' (known: ${Object.keys(losses).join(', ')})`);
    }
    this.lossFn = losses[this.lossName];
    this.live = new Scope(backend);
    checkSizes('network', 'input sizes', inShape);
    if (specs.length === 0) throw new ShapeError('network: no layers given');
    const budget = options.limits && new SizeBudget(options.limits, inShape);
    let shape = inShape;
    let offset = 0;
    specs.forEach((spec, i) => {
      const layer = buildLayer(backend, i, shape, spec, undefined, budget);
      this.layers.push(layer);
      this.slices.push(
        layer.paramShapes.map((s) => {
          const slice = { offset, shape: s, size: sizeOf(s) };
          offset += slice.size;
          return slice;
        }),
      );
      shape = layer.outShape;
    });
    if (shape.length !== 1) {
      throw new ShapeError(`network: the last layer's output ${fmt(shape)} must be flat [k]; end with flatten() or dense()`);
    }
    this.outShape = shape;
    this.random = drawsRandomness(specs);
    this.paramCount = offset;
    this.params = typeof memory === 'function' ? memory(backend.dtype, offset) : memory;
    this.seed = options.seed ?? 1;
    if (typeof memory === 'function') this.init(this.seed);
  }

  /** Fresh weights from the seeded generator. */
  init(seed: number): void {
    if (!Number.isInteger(seed)) throw new TypeError(`network.init: seed must be an integer, got ${String(seed)}`);
    const rng = new Rng(seed);
    this.layers.forEach((layer, i) => layer.init(this.hostSlices(this.params, i), rng));
  }

  /** Each parameter tensor's PyTorch name (`0.weight`, as nn.Sequential numbers it), shape and offset in `params`. */
  namedParameters(): NamedParameter[] {
    return layerTensors(this.layers).flatMap((l) => l.params);
  }

  /** The layers' non-trainable tensors (batch norm statistics) under their PyTorch names; live arrays. */
  namedBuffers(): LayerBuffer[] {
    return layerTensors(this.layers).flatMap((l) => l.buffers);
  }

  /** Frees every buffer the layers hold (device memory on the GPU backend); the network cannot be used afterwards. */
  dispose(): void {
    this.live.dispose();
    for (const layer of this.layers) layer.dispose();
  }

  /** @internal `weight` × the mean loss of `b` in `mode`. */
  *lossOn(b: Batch, mode: PassMode, weight: number): Reads<number> {
    const z = yield* read(yield* this.forward(b, this.params, mode));
    return this.lossFn.value(z, b.y, b.n, this.outShape[0]) * weight;
  }

  /** @internal The outputs of `b` in `mode` into `out` (rows [n, k]). */
  *outputsOn(b: Batch, mode: PassMode, out: FloatArray): Reads<void> {
    out.set(yield* read(yield* this.forward(b, this.params, mode)));
  }

  /** @internal Folds `b`'s batch statistics into the running ones as a plain average (recomputeStatistics). */
  *statisticsOn(b: Batch, step: number, reduce: Reduce | null): Reads<void> {
    yield* this.forward(b, this.params, { ...this.training(b, step, true, reduce), cumulative: true });
  }

  /** @internal The loss and its gradient (into buf) of `weight` × the batch's mean loss. */
  *gradientOn(b: Batch, buf: FloatArray, mode: PassMode, weight: number): Reads<number> {
    const z = yield* this.forward(b, this.params, mode);
    const k = this.outShape[0];
    const dz = new Float64Array(b.n * k);
    const loss = this.lossFn.value(yield* read(z), b.y, b.n, k, dz) * weight;
    scaleBy(dz, weight);
    buf.fill(0);
    const self = this;
    yield* this.scoped(function* (s) {
      const g = self.wrapLayers(buf, s);
      yield* self.backward(s.upload([b.n, k], dz), g);
      yield* self.writeBack(s, g, buf);
    });
    return loss;
  }

  /**
   * @internal K-FAC (kronecker.ts): the raw factor sums of `b` (the caller normalises them)
   * after one forward pass, and, into `grad` when given, the gradient of `weight` × its mean
   * loss; returns that weighted loss. 'empirical' reuses the gradient's own backward pass (its
   * columns are dE/dz = dℓ_n/dz · weight/n, so its G sums carry that factor squared).
   */
  *kroneckerOn(b: Batch, options: FactorOptions, grad: FloatArray | null, mode: PassMode, weight = 1): Reads<{ loss: number; sink: KroneckerSink }> {
    const z = yield* read(yield* this.forward(b, this.params, mode));
    const k = this.outShape[0];
    const dz = new Float64Array(b.n * k);
    const loss = this.lossFn.value(z, b.y, b.n, k, dz) * weight;
    scaleBy(dz, weight);
    const sink = new KroneckerSink();
    sequenceInput(this.layers, 0, sink);
    grad?.fill(0);
    const self = this;
    yield* this.scoped(function* (s) {
      const g = grad ? self.wrapLayers(grad, s) : null;
      const column = (col: Float64Array, into: Tensor[][] | null) => {
        let dy = s.upload([b.n, k], col);
        for (let i = self.layers.length - 1; i > 0; i--) dy = layerBackward(self.layers[i], dy, sink, into && into[i], true)!;
        layerBackward(self.layers[0], dy, sink, into && into[0], false);
      };
      if (options.kind === 'empirical') column(dz, g);
      else {
        if (g) yield* self.backward(s.upload([b.n, k], dz), g);
        const seed = hash32(options.seed ?? 1, 0x6b666163);
        const size = b.x.length / b.n;
        const keys = Uint32Array.from({ length: b.n }, (_, i) => hashFloats(b.x.subarray(i * size, (i + 1) * size), seed));
        for (const col of outputColumns(options.kind, self.lossFn, z, b.y, b.n, k, keys, options.samples ?? 1)) column(col, null);
      }
      if (g) yield* self.writeBack(s, g, grad!);
    });
    return { loss, sink };
  }

  /**
   * @internal The curvature products of `weight` × the mean loss of `b` at parameters `at`: the
   * GGN, the Hessian, the Monte-Carlo Fisher (its targets drawn once, from `fisher`) and the
   * empirical Fisher. The forward pass they start from is redone when a product is asked `fresh`
   * (stale(): another pass ran since).
   */
  *curvatureOn(b: Batch, at: FloatArray, mode: PassMode, weight: number, fisher: FisherDraws = { samples: 1, seed: 1 }): Reads<ShardCurvature> {
    const [n, k] = [b.n, this.outShape[0]];
    let gen = -1;
    let z!: FloatArray;
    const dz = new Float64Array(n * k);
    let draws: Float64Array[] | null = null;
    const self = this;
    function* prepare(fresh: boolean): Reads<void> {
      if (!fresh) return;
      z = yield* read(yield* self.forward(b, at, mode));
      self.lossFn.value(z, b.y, n, k, dz);
      scaleBy(dz, weight);
      gen = self.generation;
    }
    function* down(Rz: Tensor | null): Reads<FloatArray> {
      return Rz ? yield* read(Rz) : new Float64Array(n * k);
    }
    // H_L·R{z}: the loss Hessian at the outputs times J·v.
    function* top(Rz: Tensor | null): Reads<Float64Array> {
      const hu = new Float64Array(n * k);
      self.lossFn.hessianVec(z, b.y, n, k, yield* down(Rz), hu);
      return scaleBy(hu, weight);
    }
    // Σ_c w·r_c (r_cᵀ u) per sample: the outer products of output-gradient columns in place of H_L.
    function* outer(Rz: Tensor | null, columns: readonly Float64Array[], w: number): Reads<Float64Array> {
      const u = yield* down(Rz);
      const out = new Float64Array(n * k);
      for (const r of columns) {
        for (let i = 0; i < n; i++) {
          let d = 0;
          for (let j = 0; j < k; j++) d += r[i * k + j] * u[i * k + j];
          for (let j = 0; j < k; j++) out[i * k + j] += w * d * r[i * k + j];
        }
      }
      return out;
    }
    // Jᵀ M J v for an output-space matrix M: R-forward to J·v at the outputs, M, an ordinary backward pass.
    const gaussNewton = (M: (Rz: Tensor | null) => Reads<Float64Array>) =>
      function* (dir: FloatArray, buf: FloatArray, fresh: boolean): Reads<void> {
        yield* prepare(fresh);
        buf.fill(0);
        yield* self.scoped(function* (s) {
          const g = self.wrapLayers(buf, s);
          yield* self.backward(s.upload([n, k], yield* M(yield* self.rForward(self.wrapLayers(dir, s)))), g);
          yield* self.writeBack(s, g, buf);
        });
      };
    // Gv = Jᵀ H_L J v.
    const gv = gaussNewton(top);
    // Fisher: H_L replaced by (weight/(n·S)) Σ_s r_s r_sᵀ over S sampled targets' gradients (E[r rᵀ] = H_ℓ).
    const fv = gaussNewton((Rz) => {
      const columns = (draws ??= self.sampledColumns(b, z, fisher.samples, fisher.seed));
      return outer(Rz, columns, weight / (n * fisher.samples));
    });
    // Empirical Fisher: (weight/n) r rᵀ with the true targets' r = ∇_z ℓ_n = (n/weight)·dE/dz.
    const ev = gaussNewton((Rz) => outer(Rz, [dz], n / weight));
    // Hv: R-forward, R{dE/dz} = H_L·R{z} at the top, then the R-backward pass.
    function* hv(dir: FloatArray, buf: FloatArray, fresh: boolean): Reads<void> {
      yield* prepare(fresh);
      buf.fill(0);
      yield* self.scoped(function* (s) {
        const h = self.wrapLayers(buf, s);
        let Rdy = s.upload([n, k], yield* top(yield* self.rForward(self.wrapLayers(dir, s))));
        let dy = s.upload([n, k], dz);
        for (let i = self.layers.length - 1; i > 0; i--) {
          const l = self.layers[i];
          [dy, Rdy] = l.rBackwardReads ? yield* l.rBackwardReads(dy, Rdy, h[i]) : l.rBackward(dy, Rdy, h[i]);
        }
        // Nobody reads the input's gradients: a first conv or dense layer skips them (three input-gradient passes).
        const first = self.layers[0];
        if (first.rBackwardReads) yield* first.rBackwardReads(dy, Rdy, h[0]);
        else if (first.rBackwardParams) first.rBackwardParams(dy, Rdy, h[0]);
        else first.rBackward(dy, Rdy, h[0]);
        yield* self.writeBack(s, h, buf);
      });
    }
    yield* prepare(true);
    const reads = { gv, hv, fv, ev };
    const sync = (kind: ProductKind) => (dir: FloatArray, buf: FloatArray, fresh: boolean) => runSync(this.backend, reads[kind](dir, buf, fresh));
    return { stale: () => gen !== this.generation, reads, gv: sync('gv'), hv: sync('hv'), fv: sync('fv'), ev: sync('ev') };
  }

  /**
   * @internal Per-sample quantities of `weight` × the mean loss of `b` (Network.perSample): one
   * forward pass, one backward pass in which every layer keeps its δ and sums no gradient, then
   * each layer's perSample. g_n is sample n's term of the weighted mean loss's gradient. `out`
   * holds, in order: Σ g_n (the gradient) [P]; Σ_n g_n² [P] when `plan.squares`; then one row per
   * sample of samplesRowWidth(plan) values: ‖g_n‖² of each parameter tensor when `plan.norms`,
   * then g_n restricted to the tensors of `plan.layers`. Returns the weighted loss.
   */
  *samplesOn(b: Batch, mode: PassMode, weight: number, plan: SamplePlan, out: FloatArray): Reads<number> {
    const [n, k, P] = [b.n, this.outShape[0], this.paramCount];
    const dz = new Float64Array(n * k);
    const loss = this.lossFn.value(yield* read(yield* this.forward(b, this.params, mode)), b.y, n, k, dz) * weight;
    const head = plan.squares ? 2 * P : P;
    out.fill(0, 0, head);
    const tensors = this.slices.flat();
    const norms = plan.norms ? tensors.map(() => new Float64Array(n)) : null;
    const width = this.samplesRowWidth(plan);
    const rows = out.subarray(head);
    const self = this;
    yield* this.scoped(function* (s) {
      yield* self.backwardDeltas(s.upload([n, k], scaleBy(dz, weight)));
      const sums = self.wrapLayers(out.subarray(0, P), s);
      const squares = plan.squares ? self.wrapLayers(out.subarray(P, 2 * P), s) : null;
      let t = 0;
      let column = norms ? tensors.length : 0;
      for (let i = 0; i < self.layers.length; i++) {
        const layer = self.layers[i];
        const count = layer.paramShapes.length;
        if (count === 0) continue;
        const grads = plan.layers.includes(i) ? layer.paramShapes.map((shape) => s.add(self.backend.zeros([n, ...shape]))) : null;
        perSampleOf(layer).perSample({ grads, norms: norms && norms.slice(t, t + count), squares: squares && squares[i], sums: sums[i] });
        t += count;
        for (const g of grads ?? []) {
          const data = yield* read(g);
          const size = data.length / n;
          for (let r = 0; r < n; r++) rows.set(data.subarray(r * size, (r + 1) * size), r * width + column);
          column += size;
        }
      }
      yield* self.writeBack(s, sums, out.subarray(0, P));
      if (squares) yield* self.writeBack(s, squares, out.subarray(P, 2 * P));
    });
    norms?.forEach((v, j) => v.forEach((x, r) => (rows[r * width + j] = x)));
    return loss;
  }

  /** @internal Values per sample in samplesOn's rows: a squared norm per parameter tensor, then the chosen layers' parameters. */
  samplesRowWidth(plan: SamplePlan): number {
    const norms = plan.norms ? this.slices.flat().length : 0;
    return plan.layers.reduce((w, i) => w + this.slices[i].reduce((a, sl) => a + sl.size, 0), norms);
  }

  /**
   * @internal The GGN diagonal of `weight` × the mean loss of `b`, into out [P], from the
   * factored loss Hessian H_L = Σ_c s_c s_cᵀ: diag G = Σ_c Σ_n (J_nᵀ s_c,n)², one backward pass
   * per column c, each summing its per-sample gradients squared. 'exact' takes the k columns of
   * Loss.hessianFactor; 'mc' `samples` columns of gradients at targets sampled from the model
   * (seeded per sample from `seed` and the sample's bytes, so a split batch draws what the whole
   * one would), an unbiased estimate: E[r rᵀ] = H_ℓ for a sampled target's gradient r. With
   * `hessian`, plus the smooth activations' residual columns (residualDiagonal): diag H.
   */
  *diagonalOn(b: Batch, mode: PassMode, weight: number, kind: 'exact' | 'mc', samples: number, seed: number, out: FloatArray, hessian = false): Reads<void> {
    const z = yield* read(yield* this.forward(b, this.params, mode));
    const [n, k] = [b.n, this.outShape[0]];
    if (hessian) yield* this.residualDiagonal(b, z, weight, out);
    else out.fill(0);
    const columns = kind === 'exact' ? this.lossFn.hessianFactor(z, b.y, n, k) : this.sampledColumns(b, z, samples, seed);
    // The mean loss's Hessian is weight/n times the per-sample ℓ's, split over `samples` draws for 'mc'.
    const scale = Math.sqrt(weight / (n * (kind === 'mc' ? samples : 1)));
    const self = this;
    yield* this.scoped(function* (s) {
      const squares = self.wrapLayers(out, s);
      for (const col of columns) {
        yield* self.backwardDeltas(s.upload([n, k], scaleBy(col, scale)));
        self.collectSquares(self.layers.length - 1, squares);
      }
      yield* self.writeBack(s, squares, out);
    });
  }

  /**
   * What H's diagonal holds beyond G's, into out (overwritten): at a smooth activation of layer a
   * the Hessian of the loss w.r.t. its input z_a adds diag(r), r = σ''(z_a) ⊙ dE/dy of the
   * gradient's backward pass, to what the layers above pass down; and every parameter θ of a
   * layer at or below a sees it through its own Jacobian: H_θθ gains Σ_n Σ_j r_nj (∂z_a,j/∂θ)²
   * (z is affine in each single parameter, so nothing else enters the diagonal). With r = r₊ − r₋
   * each element j of z_a gives two columns e_j·√r± that one backward pass from z_a each carries
   * down, their per-sample gradients squared and added (r₊) or subtracted (r₋): BackPACK's
   * DiagHessian. 2·|z_a| passes per smooth activation, so it is refused above RESIDUAL_COLUMNS.
   */
  private *residualDiagonal(b: Batch, z: FloatArray, weight: number, out: FloatArray): Reads<void> {
    const [n, k] = [b.n, this.outShape[0]];
    const dz = new Float64Array(n * k);
    this.lossFn.value(z, b.y, n, k, dz);
    const negative = allocate(this.backend.dtype, this.paramCount);
    out.fill(0);
    const self = this;
    yield* this.scoped(function* (s) {
      // The gradient's backward pass leaves each activation its dE/dy; the residuals are read before any column overwrites them.
      yield* self.backwardDeltas(s.upload([n, k], scaleBy(dz, weight)));
      const residuals: (FloatArray | null)[] = [];
      for (const layer of self.layers) {
        const r = layer.curvatureResidual?.();
        residuals.push(r ? yield* read(r) : null);
      }
      const columns = residuals.reduce((c, r) => c + (r ? (2 * r.length) / n : 0), 0);
      if (columns > RESIDUAL_COLUMNS) {
        throw new Error(`curvatureDiagonal: the exact Hessian diagonal here needs ${columns} backward passes (2 per element of each smooth activation's input), more than ${RESIDUAL_COLUMNS}; estimate it with hutchinsonDiagonal on a CurvatureOperator (operator 'hessian')`);
      }
      const [plus, minus] = [self.wrapLayers(out, s), self.wrapLayers(negative, s)];
      for (let a = 0; a < residuals.length; a++) {
        const r = residuals[a];
        if (!r) continue;
        const layer = self.layers[a];
        const inside = layer.backwardFromActivation !== undefined;
        // The highest layer the columns reach (an activation layer's residual is at its input, below it).
        const top = inside ? a : a - 1;
        if (top < 0) continue;
        const shape = [n, ...(inside ? layer.outShape : layer.inShape)];
        const D = r.length / n;
        for (let j = 0; j < D; j++) {
          for (const [sign, into] of [[1, plus], [-1, minus]] as const) {
            const col = new Float64Array(n * D);
            let any = false;
            for (let i = 0; i < n; i++) {
              const v = sign * r[i * D + j];
              if (v > 0) {
                col[i * D + j] = Math.sqrt(v);
                any = true;
              }
            }
            if (!any) continue;
            const dy = s.upload(shape, col);
            if (inside) {
              const below = layer.backwardFromActivation!(dy, a > 0);
              if (below) yield* self.backwardDeltas(below, a - 1);
            } else yield* self.backwardDeltas(dy, top);
            self.collectSquares(top, into);
          }
        }
      }
      yield* self.writeBack(s, plus, out);
      yield* self.writeBack(s, minus, negative);
    });
    for (let i = 0; i < out.length; i++) out[i] -= negative[i];
  }

  /** Adds each sample's squared gradient of layers 0..top in the latest backward pass into `squares`. */
  private collectSquares(top: number, squares: Tensor[][]): void {
    for (let l = 0; l <= top; l++) {
      if (this.layers[l].paramShapes.length > 0) perSampleOf(this.layers[l]).perSample({ grads: null, norms: null, squares: squares[l], sums: null });
    }
  }

  /** `samples` columns of dℓ_r/dz_r at targets drawn from the model, one generator per sample keyed by its bytes and `seed`. */
  private sampledColumns(b: Batch, z: FloatArray, samples: number, seed: number): Float64Array[] {
    const [n, k] = [b.n, this.outShape[0]];
    const size = b.x.length / n;
    const salt = hash32(seed, 0x4d43);
    const rngs = Array.from({ length: n }, (_, r) => new Rng(hashFloats(b.x.subarray(r * size, (r + 1) * size), salt)));
    return Array.from({ length: samples }, () => {
      const col = new Float64Array(n * k);
      this.lossFn.sampledGradient(z, b.y, n, k, rngs, col);
      return col;
    });
  }

  /**
   * The backward pass from dE/dy at the output of layer `top` (the network's outputs by default)
   * down to the input, in which every layer keeps its δ for perSample and no gradient is summed.
   */
  private *backwardDeltas(dz: Tensor, top = this.layers.length - 1): Reads<void> {
    let dy = dz;
    for (let i = top; i > 0; i--) {
      const l = this.layers[i];
      dy = l.backwardReads ? yield* l.backwardReads(dy, null) : l.backward(dy, null);
    }
    const first = this.layers[0];
    if (first.backwardParamsReads) yield* first.backwardParamsReads(dy, null);
    else first.backwardParams(dy, null);
  }

  /** @internal Σ over the samples of `b` of each one's gradient squared, into buf. */
  *squaredGradientsOn(b: Batch, buf: FloatArray, step: number): Reads<void> {
    const g = allocate(this.backend.dtype, this.paramCount);
    buf.fill(0);
    for (let i = 0; i < b.n; i++) {
      // Per-sample passes neither start a step nor touch the running statistics.
      const one = sliceBatch(b, i, i + 1);
      yield* this.gradientOn(one, g, this.training(one, step, false), 1);
      for (let j = 0; j < buf.length; j++) buf[j] += g[j] * g[j];
    }
  }

  /** Runs the forward pass at `params`, leaving each layer's saved state for the later passes. */
  private *forward(b: Batch, params: FloatArray, mode: PassMode): Reads<Tensor> {
    // The values were checked by the caller, once for the whole batch before any split.
    const size = sizeOf(this.inShape);
    if (!Number.isInteger(b.n) || b.n < 1 || b.x.length !== b.n * size) {
      throw new ShapeError(`network input: a batch of ${b.n} samples of shape ${fmt(this.inShape)} needs ${b.n * size} values, got ${b.x.length}`);
    }
    this.live.dispose();
    const live = (this.live = new Scope(this.backend));
    const p = this.wrapLayers(params, live);
    const shape = [b.n, ...this.inShape];
    let x = live.add(this.backend.wrap(shape, b.x));
    for (let i = 0; i < this.layers.length; i++) {
      const l = this.layers[i];
      x = l.forwardReads ? yield* l.forwardReads(x, p[i], mode) : l.forward(x, p[i], mode);
    }
    this.generation++;
    return x;
  }

  /** The backward pass from dE/dz at the outputs, adding into `grad`; the input gradient is skipped. */
  private *backward(dz: Tensor, grad: Tensor[][]): Reads<void> {
    let dy = dz;
    for (let i = this.layers.length - 1; i > 0; i--) {
      const l = this.layers[i];
      dy = l.backwardReads ? yield* l.backwardReads(dy, grad[i]) : l.backward(dy, grad[i]);
    }
    const first = this.layers[0];
    if (first.backwardParamsReads) yield* first.backwardParamsReads(dy, grad[0]);
    else first.backwardParams(dy, grad[0]);
  }

  /** @internal Training mode with the per-sample keys of randomness step `step`. */
  training(b: Batch, step: number, updateStats: boolean, reduce: Reduce | null = null): PassMode {
    // forward rejects a bad n; without dropout no layer reads the keys, and hashing every sample's bytes costs ~4 % of a LeNet step.
    if (!Number.isInteger(b.n) || b.n < 1 || !this.random) return reduce ? { training: true, updateStats, keys: null, reduce } : { training: true, updateStats, keys: null };
    const size = b.x.length / b.n;
    const salt = hash32(this.seed, step);
    const keys = new Uint32Array(b.n);
    for (let i = 0; i < b.n; i++) keys[i] = hashFloats(b.x.subarray(i * size, (i + 1) * size), salt);
    return reduce ? { training: true, updateStats, keys, reduce } : { training: true, updateStats, keys };
  }

  private *rForward(V: Tensor[][]): Reads<Tensor | null> {
    let Rx: Tensor | null = null;
    for (let i = 0; i < this.layers.length; i++) {
      const l = this.layers[i];
      Rx = l.rForwardReads ? yield* l.rForwardReads(Rx, V[i]) : l.rForward(Rx, V[i]);
    }
    return Rx;
  }

  /** Runs `body` with a scope whose tensors are freed afterwards, even when it throws. */
  private *scoped(body: (s: Scope) => Reads<void>): Reads<void> {
    const s = new Scope(this.backend);
    try {
      yield* body(s);
    } finally {
      s.dispose();
    }
  }

  /**
   * The device writes of `wrapped` (wrapLayers of `vec`) copied into `vec`: a read point only on
   * a backend that reads asynchronously; elsewhere the backend's own writeBack (none on the CPU).
   */
  private *writeBack(s: Scope, wrapped: Tensor[][], vec: FloatArray): Reads<void> {
    if (!readsAsync(this.backend)) return s.writeBack(wrapped);
    const values = yield wrapped.flat();
    let j = 0;
    for (const layer of this.slices) for (const sl of layer) vec.set(values[j++], sl.offset);
  }

  /** Tensors standing for each layer's slices of a flat vector (params, gradient, v, Hv or Gv). */
  private wrapLayers(vec: FloatArray, s: Scope): Tensor[][] {
    return this.slices.map((layer) => layer.map((sl) => s.add(this.backend.wrap(sl.shape, vec.subarray(sl.offset, sl.offset + sl.size)))));
  }

  private hostSlices(vec: FloatArray, layer: number): FloatArray[] {
    return this.slices[layer].map((s) => vec.subarray(s.offset, s.offset + s.size));
  }
}

/** Most backward passes the exact Hessian diagonal's residual columns may take (residualDiagonal). */
export const RESIDUAL_COLUMNS = 4096;

/** What samplesOn collects: ‖g_n‖² per parameter tensor, Σ_n g_n², and g_n itself for the listed top-level layers. */
export interface SamplePlan {
  readonly norms: boolean;
  readonly squares: boolean;
  readonly layers: readonly number[];
}

/** The layer's per-sample extension, or a refusal naming it (a layer with parameters and none). */
function perSampleOf(layer: Layer): Required<Pick<Layer, 'perSample'>> {
  if (!layer.perSample) throw new Error(`${layer.name}: this layer has no per-sample extension (Layer.perSample)`);
  return layer as Required<Pick<Layer, 'perSample'>>;
}

/** The curvature products: GGN, Hessian, Monte-Carlo Fisher, empirical Fisher. */
export type ProductKind = 'gv' | 'hv' | 'fv' | 'ev';

/** The sampled targets of a Fisher product: `samples` per sample, drawn from `seed` and each sample's bytes. */
export interface FisherDraws {
  readonly samples: number;
  readonly seed: number;
}

/** The curvature products of one batch, or one share of it (see curvatureOn). */
export interface ShardCurvature {
  stale(): boolean;
  gv(dir: FloatArray, out: FloatArray, fresh: boolean): void;
  hv(dir: FloatArray, out: FloatArray, fresh: boolean): void;
  /** The Monte-Carlo Fisher's product, its targets drawn once per curvature. */
  fv(dir: FloatArray, out: FloatArray, fresh: boolean): void;
  /** The empirical Fisher's product, (1/n) Σ_n ∇ℓ_n ∇ℓ_nᵀ v. */
  ev(dir: FloatArray, out: FloatArray, fresh: boolean): void;
  /** Each product with its read points (reads.ts), for backends that read back asynchronously. */
  readonly reads: Record<ProductKind, (dir: FloatArray, out: FloatArray, fresh: boolean) => Reads<void>>;
}

function drawsRandomness(specs: readonly LayerSpec[]): boolean {
  return specs.some((s) => s.kind === 'dropout' || (s.kind === 'residual' && drawsRandomness(s.body)));
}

function scaleBy(v: Float64Array, weight: number): Float64Array {
  if (weight !== 1) for (let i = 0; i < v.length; i++) v[i] *= weight;
  return v;
}
