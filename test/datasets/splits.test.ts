import { describe, expect, it } from 'vitest';
import { blockSplit, fsddOfficialSplit, pickSpeakers, randomSplit, speakerSplit, type Split } from '../../datasets/splits.js';

/** Both sides disjoint and together exactly 0..n-1. */
function expectPartition(s: Split, n: number) {
  const all = [...s.train, ...s.test].sort((a, b) => a - b);
  expect(all).toEqual(Array.from({ length: n }, (_, i) => i));
}

describe('splits', () => {
  it('randomSplit holds out the requested count, disjoint, seeded', () => {
    const s = randomSplit(10000, 2000, 42);
    expect(s.test.length).toBe(2000);
    expectPartition(s, 10000);
    expect(randomSplit(10000, 2000, 42)).toEqual(s);
    expect(randomSplit(10000, 2000, 43).test).not.toEqual(s.test);
    expect(() => randomSplit(10, 11, 0)).toThrow('randomSplit: test count 11 is not in 0..10');
  });

  it('speakerSplit puts every example of a held-out speaker in test and no other', () => {
    const speakers = ['ann', 'bob', 'ann', 'cid', 'bob', 'dee'];
    const s = speakerSplit(speakers, ['bob', 'dee']);
    expectPartition(s, speakers.length);
    expect(Array.from(s.test)).toEqual([1, 4, 5]);
    const trainSpeakers = new Set(Array.from(s.train, (i) => speakers[i]));
    expect(trainSpeakers.has('bob') || trainSpeakers.has('dee')).toBe(false);
    expect(() => speakerSplit(speakers, ['eve'])).toThrow('speakerSplit: no examples of eve (speakers: ann, bob, cid, dee)');
  });

  it('pickSpeakers draws distinct speakers, seeded, and keeps one for training', () => {
    const speakers = ['a', 'b', 'c', 'd', 'e', 'f'].flatMap((s) => [s, s]);
    const picked = pickSpeakers(speakers, 2, 5);
    expect(new Set(picked).size).toBe(2);
    expect(pickSpeakers([...speakers].reverse(), 2, 5)).toEqual(picked); // order of examples does not matter
    const draws = new Set(Array.from({ length: 10 }, (_, seed) => pickSpeakers(speakers, 2, seed).join()));
    expect(draws.size).toBeGreaterThan(1);
    expect(() => pickSpeakers(speakers, 6, 0)).toThrow('pickSpeakers: cannot hold out 6 of 6 speakers and keep one for training');
  });

  it('fsddOfficialSplit tests takes 0..4', () => {
    const s = fsddOfficialSplit([0, 4, 5, 49, 3, 10]);
    expect(Array.from(s.test)).toEqual([0, 1, 4]);
    expectPartition(s, 6);
  });

  it('blockSplit holds out round(fraction·m) occupied blocks, never an empty one, seeded', () => {
    const occupied = Uint8Array.from({ length: 40 }, (_, b) => (b % 4 === 0 ? 0 : 1)); // 30 occupied
    const t = blockSplit(occupied, 0.2, 9);
    expect(t.reduce((a, b) => a + b, 0)).toBe(6);
    t.forEach((isTest, b) => (isTest ? expect(occupied[b]).toBe(1) : undefined));
    expect(blockSplit(occupied, 0.2, 9)).toEqual(t);
    expect(blockSplit(occupied, 0.2, 10)).not.toEqual(t);
    expect(() => blockSplit(Uint8Array.of(1, 0), 0.5, 0)).toThrow('blockSplit: 1 occupied block(s); a split needs at least 2');
  });
});
