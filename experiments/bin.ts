#!/usr/bin/env node
// The `ndcnn` executable, run as compiled JavaScript (dist/experiments/bin.js, see `npm run build`).
import { hideBin } from 'yargs/helpers';
import { main } from './cli.js';

process.exitCode = await main(hideBin(process.argv));
