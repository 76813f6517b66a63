/** The data layer of ndcnn: readers, loaders, splits and fetching (see datasets/README.md). */
export { DataError } from './errors.js';
export { readWav, type Wav } from './wav.js';
export { resample, resampleInto, resampledLength } from './resample.js';
export { readIdx, type Idx, type IdxData } from './idx.js';
export { readNifti, type Nifti } from './nifti.js';
export { exampleSize, pick, samples, subset, type LabeledSet } from './dataset.js';
export { loadMnist, type MnistOptions } from './mnist.js';
export { FASHION_CLASSES, loadFashionMnist } from './fashion.js';
export { fitCentred, fitResampled, loadFsdd, type FsddDataset, type FsddOptions } from './fsdd.js';
export { LOBES, lobeOf, parseRegions, type Lobe, type Region } from './aal.js';
export { loadMri, type MriVolume } from './mri.js';
export { mriPatches, type PatchOptions, type PatchSet, type PatchSplit } from './patches.js';
export { blockSplit, fsddOfficialSplit, pickSpeakers, randomSplit, speakerSplit, type Split } from './splits.js';
export { cacheDir, DATASET_NAMES, packageRoot, resolveDataDir, sharedDataDir, type DatasetName } from './paths.js';
export { fetchDataset, type FetchOptions } from './fetch.js';
export { processAlive, removeStale } from './stale.js';
