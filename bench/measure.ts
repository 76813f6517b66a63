/**
 * Timing through benchmark.js: each case runs until its relative margin of error settles or
 * maxTime passes, and reports the mean with its margin. Slow cases (a naive 3-D convolution
 * takes about a second) still get minSamples samples.
 */
import Benchmark from 'benchmark';

export interface Timing {
  /** Mean milliseconds per call. */
  ms: number;
  /** Relative margin of error at 95 %, in percent. */
  rme: number;
  samples: number;
}

export interface MeasureOptions {
  maxTime?: number;
  minSamples?: number;
}

export function measure(name: string, fn: () => void, o: MeasureOptions = {}): Timing {
  const bench = new Benchmark(name, fn, { maxTime: o.maxTime ?? 2, minSamples: o.minSamples ?? 5, initCount: 1 });
  bench.run({ async: false });
  if (bench.error) throw bench.error;
  return { ms: bench.stats.mean * 1000, rme: bench.stats.rme, samples: bench.stats.sample.length };
}

/**
 * benchmark.js for cases that run in under a second; slower ones (TF.js's JS backprop takes
 * tens of seconds on W1) are timed by single calls until `budgetMs` is spent, at least once,
 * and marked with samples = the number of calls and rme = NaN.
 */
export function measureOrProbe(name: string, fn: () => void, budgetMs = 10_000, o: MeasureOptions = {}): Timing {
  const t0 = performance.now();
  fn();
  const first = performance.now() - t0;
  if (first < 1000) return measure(name, fn, o);
  const times = [first];
  while (times.reduce((a, b) => a + b, 0) + first < budgetMs) {
    const t = performance.now();
    fn();
    times.push(performance.now() - t);
  }
  const ms = times.length > 1 ? times.slice(1).reduce((a, b) => a + b, 0) / (times.length - 1) : first;
  return { ms, rme: NaN, samples: times.length };
}
