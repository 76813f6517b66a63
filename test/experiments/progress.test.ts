import { describe, expect, it } from 'vitest';
import { clock, Progress } from '../../experiments/progress.js';

/** A Progress on a fake clock that advances 50 ms per tick, collecting what it writes. */
function harness(bar: boolean) {
  let t = 0;
  let written = '';
  const p = new Progress({ bar, write: (s) => (written += s), now: () => t });
  return { p, advance: (ms: number) => (t += ms), written: () => written };
}

describe('progress display', () => {
  it('on a terminal: a bar redrawn in place with rate, ETA and running mean loss', () => {
    const h = harness(true);
    h.p.startEpoch('epoch 1/2', 10, 0, 0);
    for (let i = 0; i < 4; i++) {
      h.advance(100);
      h.p.tick(i + 1);
    }
    // 4 batches in 0.4 s: 10 it/s, 6 left: 0.6 s ≈ 0:01; mean loss (1+2+3+4)/4 = 2.5.
    const last = h.written().split('\r').at(-1) as string;
    expect(last).toBe(`epoch 1/2 [##########--------------] 4/10 10.0 it/s ETA 0:01 loss 2.5000\x1b[K`);
    h.p.line('epoch 1/2 done');
    expect(h.written().endsWith('\r\x1b[Kepoch 1/2 done\n')).toBe(true);
  });

  it('redraws at most every 100 ms, but always at the end of the epoch', () => {
    const h = harness(true);
    h.p.startEpoch('e', 3, 0, 0);
    h.advance(200);
    h.p.tick(1);
    h.advance(10);
    h.p.tick(1);
    h.advance(10);
    h.p.tick(1);
    expect(h.written().split('\r').filter(Boolean)).toHaveLength(2);
  });

  it('a resumed epoch counts its earlier batches in the position and the mean loss', () => {
    const h = harness(true);
    h.p.startEpoch('e', 4, 2, 6);
    h.advance(500);
    h.p.tick(0);
    expect(h.written()).toContain('3/4 2.0 it/s ETA 0:01 loss 2.0000');
  });

  it('off a terminal (or --quiet): no bar, only the lines', () => {
    const h = harness(false);
    h.p.startEpoch('e', 3, 0, 0);
    for (let i = 0; i < 3; i++) h.p.tick(1);
    h.p.line('epoch 1/1 train loss 1.0000');
    expect(h.written()).toBe('epoch 1/1 train loss 1.0000\n');
  });

  it('formats durations as m:ss and h:mm:ss', () => {
    expect([clock(0), clock(59.6), clock(61), clock(3725), clock(NaN)]).toEqual(['0:00', '1:00', '1:01', '1:02:05', '?']);
  });
});
