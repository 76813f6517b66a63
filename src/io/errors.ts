/** The one error type of src/io: a file or value that is not what its format says, and why. */
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
