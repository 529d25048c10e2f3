// Which module the `gatehouse` command runs: the build in dist/ when it is there and not older than the sources,
// else the TypeScript sources (Node >= 22.18 runs them directly). An image ships dist/ without src/; a checkout that
// edits src/ after a build runs the sources until the next `npm run build`, never stale code.
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

/** The newest modification time of any file under `dir`. */
function newestIn(dir) {
  let newest = 0;
  for (const entry of readdirSync(dir, { recursive: true, withFileTypes: true })) {
    if (entry.isFile()) newest = Math.max(newest, statSync(join(entry.parentPath, entry.name)).mtimeMs);
  }
  return newest;
}

/** The entry module's path for the project at `root`. */
export function entryFor(root) {
  const built = join(root, 'dist', 'cli', 'main.js');
  const sources = join(root, 'src');
  if (!existsSync(built)) return join(sources, 'cli', 'main.ts');
  if (!existsSync(sources)) return built;
  // `npm run build:gateway` touches the build info last, so its time is the build's.
  const buildInfo = join(root, 'dist', '.tsbuildinfo');
  return existsSync(buildInfo) && statSync(buildInfo).mtimeMs >= newestIn(sources) ? built : join(sources, 'cli', 'main.ts');
}
