// The tags of every device, as the devices file says now. Readers (the alert evaluator, the status watcher,
// the devices API) take a snapshot and compare its `version`: it changes exactly when some device's tags
// changed (a new password or a new device without tags does not change it), so a reader can keep what it
// derived from tags (which rules apply to a device) until then. A devices file that cannot be read keeps the
// last good tags (logged once per bad version of the file): a typo while editing it by hand must not make
// every tag rule stop matching.
import type { Logger } from '@tidemark/shared';
import { NO_TAGS, type DeviceTags } from './device-tags.js';
import { DevicesFileCache, type DevicesFile } from './devices-file.js';

export interface TagSnapshot {
  /** Changes whenever some device's tags change. */
  readonly version: number;
  of(device: string): DeviceTags;
}

/** Where tags come from; `current()` is cheap enough to call per chunk or per request (one stat). */
export interface TagSource {
  current(): TagSnapshot;
}

/** No devices file: no device has tags. */
export const NO_TAG_SOURCE: TagSource = { current: () => ({ version: 0, of: () => NO_TAGS }) };

/** A fixed set of tags (tests, and replays that pin them). */
export function staticTags(byDevice: Record<string, DeviceTags>, version = 1): TagSnapshot {
  return { version, of: (d) => byDevice[d] ?? NO_TAGS };
}

/** The source's tags of now, for good (a replay evaluates the whole stream with one set of tags). */
export function pinnedTags(source: TagSource): TagSource {
  const snapshot = source.current();
  return { current: () => snapshot };
}

export class DevicesFileTags implements TagSource {
  private readonly file: DevicesFileCache;
  private seen: DevicesFile | undefined;
  private snapshot: TagSnapshot = NO_TAG_SOURCE.current();
  private key = '';
  private failed: unknown;

  constructor(path: string, private readonly logger: Logger) {
    this.file = new DevicesFileCache(path);
  }

  current(): TagSnapshot {
    let file: DevicesFile;
    try {
      file = this.file.current();
    } catch (err) {
      if (String(err) !== String(this.failed)) this.logger.error({ err, path: this.file.path }, 'cannot read the devices file; keeping the device tags last read from it');
      this.failed = err;
      return this.snapshot;
    }
    if (this.failed !== undefined) this.logger.info({ path: this.file.path }, 'devices file readable again');
    this.failed = undefined;
    if (file === this.seen) return this.snapshot;
    this.seen = file;
    const byDevice: Record<string, DeviceTags> = {};
    for (const [id, e] of Object.entries(file.devices)) if (e.tags && Object.keys(e.tags).length > 0) byDevice[id] = e.tags;
    // Compared as sorted pairs: a rewritten or reordered file with the same tags is no change.
    const key = JSON.stringify(Object.keys(byDevice).sort().map((id) => [id, Object.entries(byDevice[id]!).sort()]));
    if (key !== this.key) {
      this.key = key;
      this.snapshot = staticTags(byDevice, this.snapshot.version + 1);
    }
    return this.snapshot;
  }
}

/** The tags of the devices file at `path`; no file configured, no tags. */
export function deviceTagSource(path: string | undefined, logger: Logger): TagSource {
  return path === undefined ? NO_TAG_SOURCE : new DevicesFileTags(path, logger);
}
