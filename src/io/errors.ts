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
