/**
 * The committed sweep specs (experiments/sweep/examples, which `npm run experiments:table`
 * runs) load and expand with today's flags: a renamed flag or an impossible point fails here,
 * not an hour into the regeneration.
 */
import { readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { expand, loadSpec } from '../../experiments/sweep/spec.js';

const DIR = resolve(__dirname, '..', '..', 'experiments', 'sweep', 'examples');

describe('committed sweep specs', () => {
  const files = readdirSync(DIR).filter((f) => f.endsWith('.yaml'));
  it.each(files)('%s expands into distinct runs of one thread each', (file) => {
    const spec = loadSpec(join(DIR, file));
    const points = expand(spec, file);
    expect(points.length).toBeGreaterThan(0);
    expect(new Set(points.map((p) => p.id)).size).toBe(points.length);
    for (const p of points) expect(p.args).toContain('--threads');
  });
  it('the leave-one-speaker-out spec holds out each FSDD speaker once', () => {
    const points = expand(loadSpec(join(DIR, 'audio1d-speakers.yaml')), 'audio1d-speakers.yaml');
    expect(points.map((p) => p.label.speaker).sort()).toEqual(['george', 'jackson', 'lucas', 'nicolas', 'theo', 'yweweler']);
  });
});
