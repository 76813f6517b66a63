/**
 * Host-side algorithms written once for models that answer at once and for those that answer
 * later. Conjugate gradient, Hessian-free, Lanczos and Hutchinson call a model or an operator
 * many times and do float64 arithmetic on the host in between; on a backend that reads back only
 * asynchronously (WebGPU) each call is a Promise. So each algorithm is a generator that passes
 * every call's result through `settle`: a plain value comes straight back, a Promise is yielded
 * and the generator resumes with what it resolved to. `runNow` drives such a generator where
 * nothing is ever yielded (the CPU and gpu.js backends: the same arithmetic in the same order as
 * a plain loop, with no Promise made), `runLater` awaits each yielded Promise.
 * The layers' read points (src/layers/reads.ts) are the same idea one level down, on tensors.
 */
import { readsLater, type Batch, type Curvature, type Model } from './model.js';
import type { FloatArray } from './dtype.js';

/** A value, or a Promise of it from a model that answers later. */
export type Maybe<T> = T | Promise<T>;

/** A computation that yields the Promises it waits for and is resumed with their values. */
export type Later<T> = Generator<Promise<unknown>, T, unknown>;

/** `v` itself, or (yielding it) what the Promise `v` resolves to. */
export function* settle<T>(v: Maybe<T>): Later<T> {
  return v instanceof Promise ? ((yield v) as T) : v;
}

/** Runs `g` to its end synchronously; `what` names the call in the error if it would have to wait. */
export function runNow<T>(g: Later<T>, what: string): T {
  const r = g.next();
  if (r.done) return r.value;
  r.value.catch(() => {});
  g.return(undefined as T);
  throw new Error(`${what}: the model or operator answers asynchronously (a backend that reads back later, such as WebGPU); use the async form`);
}

/** Runs `g`, awaiting each Promise it yields (a rejection is thrown into it). */
export async function runLater<T>(g: Later<T>): Promise<T> {
  let r = g.next();
  while (!r.done) {
    let v: unknown;
    try {
      v = await r.value;
    } catch (e) {
      r = g.throw(e);
      continue;
    }
    r = g.next(v);
  }
  return r.value;
}

/** Curvature products as steps (see ModelSteps). */
export interface CurvatureSteps {
  gv(v: FloatArray, out: FloatArray): Later<void>;
  hv(v: FloatArray, out: FloatArray): Later<void>;
}

/** The Model's passes as steps: awaited on a model that reads back later, answered at once elsewhere. */
export interface ModelSteps {
  readonly model: Model;
  loss(b: Batch): Later<number>;
  gradient(b: Batch, grad: FloatArray): Later<number>;
  curvature(b: Batch): Later<CurvatureSteps>;
  sumSquaredGradients(b: Batch, out: FloatArray): Later<void>;
}

export function modelSteps(model: Model): ModelSteps {
  const steps = (c: { gv(v: FloatArray, out: FloatArray): Maybe<void>; hv(v: FloatArray, out: FloatArray): Maybe<void> }): CurvatureSteps => ({
    gv: (v, out) => settle(c.gv(v, out)),
    hv: (v, out) => settle(c.hv(v, out)),
  });
  if (readsLater(model)) {
    return {
      model,
      loss: (b) => settle(model.lossAsync(b)),
      gradient: (b, g) => settle(model.gradientAsync(b, g)),
      curvature: function* (b) {
        return steps(yield* settle(model.curvatureAsync(b)));
      },
      sumSquaredGradients: (b, out) => settle(model.sumSquaredGradientsAsync(b, out)),
    };
  }
  return {
    model,
    loss: (b) => settle(model.loss(b)),
    gradient: (b, g) => settle(model.gradient(b, g)),
    curvature: (b) => settle(steps(model.curvature(b) as Curvature)),
    sumSquaredGradients: (b, out) => settle(model.sumSquaredGradients(b, out)),
  };
}
