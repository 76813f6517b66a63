#!/usr/bin/env node
// The `ndcnn` executable: registers tsx (a dependency) so Node can load the TypeScript CLI.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('./cli.ts');
process.exitCode = await main(process.argv.slice(2));
