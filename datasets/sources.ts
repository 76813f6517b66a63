import type { DatasetName } from './paths.js';

/**
 * Where each data set officially lives and what its content must hash to. The expected SHA-256
 * sums were computed from the copies in shared/data.
 *
 * The gzipped files are checked by the SHA-256 of their inflated content, not of the .gz bytes:
 * a gzip file's bytes depend on the compressor, its level and the header's time stamp and name,
 * so repackaged copies of the same data differ (the shared Fashion-MNIST files do not match the
 * MD5s zalandoresearch publishes for its .gz files, yet inflate to the same IDX data). Hashing
 * the content checks exactly what the readers will see.
 *
 * FSDD comes as a repository archive, which GitHub generates on request and does not promise to
 * keep byte-identical, so it has no fixed archive hash: every recording is checked against the
 * committed per-file manifest fsdd.sha256 (`sha256sum` format), and only files named there are
 * written. A missing, extra-to-the-archive or altered recording fails the fetch, naming the file.
 */

/** One file of a set: `remote` relative to the source URL, `local` relative to the set's folder. */
export interface FileEntry {
  remote: string;
  local: string;
  /** SHA-256 (hex) of the content: of the inflated bytes when `gzip`, else of the file. */
  sha256: string;
  /** Length of that content in bytes, which also bounds the inflation. */
  bytes: number;
  gzip: boolean;
}

export interface FilesSource {
  kind: 'files';
  url: string;
  files: FileEntry[];
}

export interface ArchiveSource {
  kind: 'archive';
  url: string;
  /** The .tar.gz to download, relative to `url`. */
  archive: string;
  /** Largest archive (and inflated tar) accepted, in bytes. */
  maxBytes: number;
  /** The folder of the archive (below its single top folder) that holds the set's files. */
  member: string;
  /** Manifest file beside this module, lines "SHA256  member/FILE". */
  manifest: string;
}

export type Source = FilesSource | ArchiveSource;

export const SOURCES = {
  'fashion-mnist': {
    kind: 'files',
    url: 'http://fashion-mnist.s3-website.eu-central-1.amazonaws.com',
    files: [
      { remote: 'train-images-idx3-ubyte.gz', local: 'train-images-idx3-ubyte.gz', gzip: true, bytes: 47040016, sha256: 'c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888' },
      { remote: 'train-labels-idx1-ubyte.gz', local: 'train-labels-idx1-ubyte.gz', gzip: true, bytes: 60008, sha256: 'bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9' },
      { remote: 't10k-images-idx3-ubyte.gz', local: 't10k-images-idx3-ubyte.gz', gzip: true, bytes: 7840016, sha256: '5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b' },
      { remote: 't10k-labels-idx1-ubyte.gz', local: 't10k-labels-idx1-ubyte.gz', gzip: true, bytes: 10008, sha256: '0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34' },
    ],
  },
  mri: {
    kind: 'files',
    url: 'https://raw.githubusercontent.com/neurolabusc/MRIcron/master/Resources/templates',
    files: [
      { remote: 'ch2bet.nii.gz', local: 'ch2bet.nii.gz', gzip: true, bytes: 7109489, sha256: '521204362226d485c92ef5383327765b0344c99ff9ac60000a1f591ff0c3fb34' },
      { remote: 'aal.nii.gz', local: 'aal.nii.gz', gzip: true, bytes: 7109489, sha256: '2926fcc98efc709f77c8cca2f9c1d797eba3e9a1b222a8e0cfa70ab131394c80' },
      { remote: 'aal.nii.txt', local: 'aal.nii.txt', gzip: false, bytes: 2713, sha256: '1788d6556a9ec056de9867b2382cf1ce1b51b87ae4cfd9cd25de48ae4dde709e' },
    ],
  },
  fsdd: {
    kind: 'archive',
    url: 'https://github.com/Jakobovski/free-spoken-digit-dataset/archive/refs/heads',
    archive: 'master.tar.gz',
    maxBytes: 512 << 20,
    member: 'recordings',
    manifest: 'fsdd.sha256',
  },
} as const satisfies Record<DatasetName, Source>;
