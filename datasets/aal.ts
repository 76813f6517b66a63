import { DataError } from './errors.js';

/** One AAL region as listed in aal.nii.txt: atlas value, name, AAL code. */
export interface Region {
  index: number;
  name: string;
  code: number;
}

/** The lobe classes of the MRI task, in label order. */
export const LOBES = ['frontal', 'parietal', 'temporal', 'occipital', 'limbic/insular', 'subcortical', 'cerebellum'] as const;
export type Lobe = (typeof LOBES)[number];

/**
 * The grouping rule: a region belongs to the lobe one of whose name stems its name starts with,
 * followed by "_" (the AAL names are STEM_..._L/R, e.g. Frontal_Sup_Orb_L, Vermis_4_5). It follows
 * the anatomical grouping of Tzourio-Mazoyer et al. (2002), which AAL also encodes in the first
 * digit of each region's code; the tests check the two agree for all 116 regions.
 */
const LOBE_STEMS: Record<Lobe, readonly string[]> = {
  frontal: ['Precentral', 'Frontal', 'Rolandic_Oper', 'Supp_Motor_Area', 'Olfactory', 'Rectus'],
  parietal: ['Postcentral', 'Parietal', 'SupraMarginal', 'Angular', 'Precuneus', 'Paracentral_Lobule'],
  temporal: ['Heschl', 'Temporal'],
  occipital: ['Calcarine', 'Cuneus', 'Lingual', 'Occipital', 'Fusiform'],
  'limbic/insular': ['Insula', 'Cingulum', 'Hippocampus', 'ParaHippocampal', 'Amygdala'],
  subcortical: ['Caudate', 'Putamen', 'Pallidum', 'Thalamus'],
  cerebellum: ['Cerebelum', 'Vermis'],
};

/** The lobes whose stems match `name` (exactly one for every AAL region). */
export function lobesMatching(name: string): Lobe[] {
  return LOBES.filter((lobe) => LOBE_STEMS[lobe].some((stem) => name.startsWith(`${stem}_`)));
}

/** The lobe label (index into LOBES) of a region name; a name matching none or several is an error. */
export function lobeOf(name: string): number {
  const found = lobesMatching(name);
  if (found.length !== 1) {
    throw new DataError('aal.nii.txt', `region "${name}" matches ${found.length ? found.join(' and ') : 'no'} lobe rule (needs exactly one)`);
  }
  return LOBES.indexOf(found[0]);
}

/** Parses aal.nii.txt: one "index name code" line per region, indices unique and positive. */
export function parseRegions(text: string, name = 'aal.nii.txt'): Region[] {
  const regions: Region[] = [];
  const seen = new Set<number>();
  text.split(/\r?\n/).forEach((line, i) => {
    if (line.trim() === '') return;
    const fields = line.trim().split(/\s+/);
    const index = Number(fields[0]);
    const code = Number(fields[2]);
    if (fields.length !== 3 || !Number.isInteger(index) || index < 1 || !Number.isInteger(code)) {
      throw new DataError(name, `line ${i + 1} ${JSON.stringify(line)} is not "index name code"`);
    }
    if (seen.has(index)) throw new DataError(name, `region index ${index} listed twice (line ${i + 1})`);
    seen.add(index);
    regions.push({ index, name: fields[1], code });
  });
  if (regions.length === 0) throw new DataError(name, 'no regions listed');
  return regions;
}
