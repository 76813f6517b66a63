/**
 * The process that trains one sweep point: the ordinary CLI (`ndcnn train …`), tied to its parent
 * by stdin. A parent that dies, even by SIGKILL, closes that pipe; the child then interrupts itself
 * as Ctrl-C would (checkpoint at the next step, exit 130), so no orphan keeps writing a run
 * directory that another worker is about to resume.
 */
import { main } from '../cli.js';

process.stdin.on('end', () => process.kill(process.pid, 'SIGINT'));
process.stdin.on('error', () => process.kill(process.pid, 'SIGINT'));
process.stdin.resume();
// The pipe must not keep the process alive once training has ended.
(process.stdin as unknown as { unref?: () => void }).unref?.();
process.exitCode = await main(process.argv.slice(2));
