/** The experiments by name: the CLI's `train <experiment>` and `eval` look them up here. */
import { audio1d } from './audio1d.js';
import type { Experiment } from './experiment.js';
import { image2d } from './image2d.js';
import { mri3d } from './mri3d.js';

export const experiments: Readonly<Record<string, Experiment>> = { audio1d, image2d, mri3d };

export const DEFAULT_EXPERIMENT = 'image2d';
