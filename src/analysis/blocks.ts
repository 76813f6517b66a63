/**
 * Parameter blocks: a contiguous slice of the flat parameter vector (one layer's weights, say).
 * The block operator is the diagonal sub-block A[b, b] of A: embed v into the full vector (zero
 * elsewhere), apply A, keep the block's rows. Analysis knows no layer; callers name the blocks.
 */
import type { Maybe } from '../nd/later.js';
import type { SymmetricOperator } from './operator.js';

export interface ParamBlock {
  name: string;
  offset: number;
  size: number;
}

export class BlockOperator implements SymmetricOperator {
  readonly dim: number;
  private readonly full: Float64Array;
  private readonly fullOut: Float64Array;

  constructor(
    private readonly op: SymmetricOperator,
    readonly block: ParamBlock,
  ) {
    const { offset, size, name } = block;
    if (!Number.isInteger(offset) || !Number.isInteger(size) || offset < 0 || size < 1 || offset + size > op.dim) {
      throw new Error(`parameter block '${name}': [${offset}, ${offset + size}) does not lie inside the ${op.dim} parameters`);
    }
    this.dim = size;
    this.full = new Float64Array(op.dim);
    this.fullOut = new Float64Array(op.dim);
  }

  apply(v: Float64Array, out: Float64Array): Maybe<void> {
    const { offset, size } = this.block;
    this.full.fill(0);
    this.full.set(v, offset);
    const keep = () => out.set(this.fullOut.subarray(offset, offset + size));
    const later = this.op.apply(this.full, this.fullOut);
    if (later) return later.then(keep);
    keep();
  }
}

/** Runs `analyse` on each block's sub-operator; results keyed by block name, in block order. */
export function perBlock<T>(op: SymmetricOperator, blocks: readonly ParamBlock[], analyse: (sub: SymmetricOperator, block: ParamBlock) => T): { block: ParamBlock; result: T }[] {
  checkNames(blocks);
  return blocks.map((block) => ({ block, result: analyse(new BlockOperator(op, block), block) }));
}

/** perBlock() with an analysis that resolves later; the blocks run one after another (they share the operator). */
export async function perBlockAsync<T>(op: SymmetricOperator, blocks: readonly ParamBlock[], analyse: (sub: SymmetricOperator, block: ParamBlock) => Promise<T>): Promise<{ block: ParamBlock; result: T }[]> {
  checkNames(blocks);
  const out: { block: ParamBlock; result: T }[] = [];
  for (const block of blocks) out.push({ block, result: await analyse(new BlockOperator(op, block), block) });
  return out;
}

function checkNames(blocks: readonly ParamBlock[]): void {
  const names = new Set<string>();
  for (const b of blocks) {
    if (names.has(b.name)) throw new Error(`parameter blocks: the name '${b.name}' appears twice`);
    names.add(b.name);
  }
}
