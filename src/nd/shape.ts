/** Shapes are plain tuples: [N, C, ...spatial] for activations, [C, ...spatial] per sample. */
export type Shape = readonly number[];

export class ShapeError extends Error {
  override name = 'ShapeError';
}

export function sizeOf(shape: Shape): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

export function fmt(shape: Shape): string {
  return `[${shape.join(', ')}]`;
}

export function sameShape(a: Shape, b: Shape): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

/** Throws unless every value is a positive integer (or non-negative where zero is allowed). */
export function checkSizes(where: string, what: string, values: Shape, allowZero = false): void {
  for (const v of values) {
    if (!Number.isInteger(v) || v < (allowZero ? 0 : 1)) {
      throw new ShapeError(
        `${where}: ${what} must be ${allowZero ? 'non-negative' : 'positive'} integers, got ${fmt(values)}`,
      );
    }
  }
}

/** Expands a scalar or per-axis option to one value per spatial axis. */
export function perAxis(where: string, what: string, v: number | Shape, rank: number): number[] {
  if (typeof v === 'number') return new Array<number>(rank).fill(v);
  if (!Array.isArray(v)) {
    throw new ShapeError(`${where}: ${what} must be a number or an array of ${rank} numbers (one per spatial axis), got ${JSON.stringify(v) ?? String(v)}`);
  }
  if (v.length !== rank) {
    throw new ShapeError(`${where}: ${what} ${fmt(v)} has ${v.length} axes but the input has ${rank} spatial axes`);
  }
  return [...v];
}

/** Pads a spatial tuple on the left to three axes: [L] -> [1, 1, L], [H, W] -> [1, H, W]. */
export function lift3(v: Shape, fill: number): [number, number, number] {
  const r = [fill, fill, fill];
  for (let i = 0; i < v.length; i++) r[3 - v.length + i] = v[i];
  return r as [number, number, number];
}
