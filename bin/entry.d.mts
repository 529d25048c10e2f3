/** The entry module's path for the project at `root` (see entry.mjs). */
export function entryFor(root: string): string;
