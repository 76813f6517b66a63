/** A file or value that is not what its format says, and why. */
export class FormatError extends Error {
  override name = 'FormatError';

  /** `source` names the file (or "bytes"); the message reads "SOURCE: problem". */
  constructor(
    readonly source: string,
    readonly problem: string,
  ) {
    super(`${source}: ${problem}`);
  }
}

/**
 * A fresh copy of bytes[begin, end) in its own ArrayBuffer. Node's Buffer.slice is a view into a
 * shared (possibly pooled) buffer at any byte offset: typed arrays over it need a copy, aligned.
 */
export function copyBytes(bytes: Uint8Array, begin = 0, end = bytes.length): Uint8Array {
  return Uint8Array.prototype.slice.call(bytes, begin, end);
}

/**
 * What is wrong with the first unusable value read from a file, if anything: NaN or ±Infinity,
 * or (`integers`: int64 data converted to float64) an integer float64 cannot hold exactly.
 */
export function badValue(a: ArrayLike<number>, integers: boolean): string | undefined {
  for (let i = 0; i < a.length; i++) {
    const v = a[i];
    if (integers ? !Number.isSafeInteger(v) : !Number.isFinite(v)) {
      return integers ? `an integer beyond ±2^53 (about ${v.toPrecision(3)}) at element ${i}, which float64 cannot hold exactly` : `${v} at element ${i}; ndcnn reads finite values only`;
    }
  }
  return undefined;
}
