/**
 * The one error type of the data layer. Every reader and loader reports a bad or missing file
 * with it, as one line "FILE: PROBLEM", so a caller can tell data problems (fix the file, fetch
 * again) from bugs (any other exception).
 */
export class DataError extends Error {
  override name = 'DataError';

  constructor(
    /** The file (or data set) at fault, as the caller named it. */
    readonly file: string,
    /** What is wrong with it, with the numbers involved. */
    readonly problem: string,
  ) {
    super(`${file}: ${problem}`);
  }
}
