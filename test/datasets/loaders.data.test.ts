import { expect, it } from 'vitest';
import { loadFsdd } from '../../datasets/fsdd.js';
import { describeWithData } from '../data.js';

describeWithData('fsdd', 'loadFsdd on the full FSDD', (root) => {
  it('reads all 3,000 recordings as [n, 1, 8000]: 6 speakers × 500, labelled by the file name', () => {
    const ds = loadFsdd(root);
    expect(ds.shape).toEqual([3000, 1, 8000]);
    const perSpeaker = new Map<string, number>();
    ds.speakers.forEach((s) => perSpeaker.set(s, (perSpeaker.get(s) ?? 0) + 1));
    expect([...perSpeaker.values()]).toEqual(new Array(6).fill(500));
    ds.files.forEach((f, i) => expect(f).toBe(`${ds.labels[i]}_${ds.speakers[i]}_${ds.takes[i]}.wav`));
  });
});
