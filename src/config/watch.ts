/**
 * Hot reload: re-read the config when its file changes or the process gets SIGHUP, and hand over the new
 * config only when it validates; a bad edit is reported and the running config stays.
 */
import { watch, type FSWatcher } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { basename, dirname, resolve } from 'node:path';
import { ConfigError } from './errors.ts';
import { parseConfig, type LoadedConfig, type LoadOptions } from './load.ts';

export interface WatchOptions extends LoadOptions {
  /**
   * The config already loaded: its text is the baseline, so a file event that left the text as it was does not
   * fire onChange. Without it, the first file event always reloads.
   */
  initial?: LoadedConfig;
  /** Quiet time after the last file event before reloading; editors write in several steps. Default 100 ms. */
  debounceMs?: number;
}

export interface ConfigWatcher {
  /** Reload now, as on SIGHUP (the admin API's reload); resolves once onChange or onError has been called. */
  reload(): Promise<void>;
  /** Stop watching and remove the SIGHUP listener; no callback runs after this. */
  close(): void;
}

/**
 * Watch `file`. A file event reloads only when the text differs from the last text seen; SIGHUP (or `reload()`)
 * always reloads, since a `${file:…}` secret may have changed while the config text did not.
 * Reloads run one at a time in order, so an older read can never overtake a newer one. onError gets a ConfigError
 * for a file that cannot be read or does not validate, or whatever the watcher or onChange threw.
 *
 * The directory is watched, not the file: editors that save by writing a temporary file and renaming it over the
 * original replace the inode, and a watch on the file itself would go silent after the first save.
 */
export function watchConfig(
  file: string,
  onChange: (config: LoadedConfig) => void,
  onError: (err: Error) => void,
  options: WatchOptions = {},
): ConfigWatcher {
  const full = resolve(file);
  const name = basename(full);
  const debounceMs = options.debounceMs ?? 100;
  let closed = false;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let lastText = options.initial?.text;
  let queue: Promise<void> = Promise.resolve();

  const report = (err: unknown) => {
    if (!closed) onError(err instanceof Error ? err : new Error(String(err)));
  };

  const reloadOnce = async (force: boolean): Promise<void> => {
    if (closed) return;
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (err) {
      const reason = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
      report(new ConfigError(file, [{ key: '', detail: `cannot read the config file (${reason})` }], { cause: err }));
      return;
    }
    if (closed || (!force && text === lastText)) return;
    // An editor saving in place truncates first: an empty file is that moment, not a wish to drop every upstream.
    // The write that follows fires its own event; an explicit reload says why nothing happened.
    if (text.trim() === '') {
      if (force) report(new ConfigError(file, [{ key: '', detail: 'the config file is empty; keeping the running config' }]));
      return;
    }
    // Remember even a text that fails, so further events for the same bad save do not repeat the error.
    lastText = text;
    let loaded: LoadedConfig;
    try {
      loaded = parseConfig(text, file, options);
    } catch (err) {
      report(err);
      return;
    }
    if (closed) return;
    try {
      onChange(loaded);
    } catch (err) {
      report(err);
    }
  };

  const enqueue = (force: boolean): Promise<void> => {
    queue = queue.then(() => reloadOnce(force));
    return queue;
  };

  const onEvent = (_event: string, changed: string | Buffer | null) => {
    // A null name (some platforms) may be ours. Names starting with ".." are Kubernetes ConfigMap mounts, where
    // the file is a symlink through "..data" and an update swaps that link, never touching the file's own name.
    const changedName = changed === null ? null : String(changed);
    if (changedName !== null && changedName !== name && !changedName.startsWith('..')) return;
    clearTimeout(timer);
    timer = setTimeout(() => void enqueue(false), debounceMs);
  };

  let watcher: FSWatcher | undefined;
  try {
    watcher = watch(dirname(full), onEvent);
    watcher.on('error', report);
  } catch (err) {
    // The directory is gone or unwatchable: SIGHUP and reload() still work.
    queueMicrotask(() => report(err));
  }

  const onSignal = () => void enqueue(true);
  process.on('SIGHUP', onSignal);

  return {
    reload: () => enqueue(true),
    close() {
      if (closed) return;
      closed = true;
      clearTimeout(timer);
      watcher?.close();
      process.off('SIGHUP', onSignal);
    },
  };
}
