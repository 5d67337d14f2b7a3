/**
 * The files sink: writes the whole set of secret files into the output directory the way the
 * kubelet writes Secret volumes, so a reader never sees a torn file nor files from two
 * different updates together:
 *
 *   <dir>/..2026_11_28_17_50_00.123_abcd/   one directory per update, files written in full
 *   <dir>/..data -> ..2026_11_28_...        switched with one atomic rename of a symlink
 *   <dir>/<name> -> ..data/<name>            stable paths the app reads
 *   <dir>/<dir-name> -> ..data/<dir-name>    a directory source: its files below, swapped whole
 *
 * Every file read through its stable path is whole. A reader that needs several files from
 * one update resolves `..data` once and reads inside that directory; the previous version
 * is kept until the next update starts, so such a read never races the removal. At most two
 * versions are on the volume at any time, even mid-update (the live one and the one being
 * written). A file that did not change is a hard link to the live version's (files are never
 * modified in place), so an update costs the room of what changed, not of the whole set.
 *
 * A source (a file, or a directory source's tree) whose new content does not fit (ENOSPC,
 * EDQUOT) keeps its live content in the new version and is reported in `held`: the other
 * sources' changes still land, each file whole, and the next write tries it again.
 *
 *   <dir>/.secrets-agent-version             rewritten last: the update is complete
 *
 * A write that changes nothing (same names, bytes and modes) touches nothing.
 */
import { randomBytes } from 'node:crypto';
import {
  chmod,
  link,
  lstat,
  mkdir,
  readdir,
  readFile,
  readlink,
  rename,
  rm,
  stat,
  symlink,
  writeFile,
} from '../../common/fs-async.ts';
import { dirname, join } from 'node:path';
import { AgentError } from '../../common/errors.ts';

export interface SecretFile {
  /** A file name, or a relative path (`dir/sub/file`) for a directory source's files. */
  readonly name: string;
  readonly content: Uint8Array;
  readonly mode: number;
}

export interface WriteResult {
  readonly status: 'written' | 'unchanged';
  /** Names whose content or mode changed, were added or were removed. */
  readonly changed: readonly string[];
  /** Top-level names whose new content did not fit on the volume (their live content stays). */
  readonly held?: readonly HeldSource[];
}

/** A source whose change could not be written for want of room. */
export interface HeldSource {
  /** The top-level name (a file, or a directory source's directory). */
  readonly name: string;
  /** ENOSPC (the volume is full) or EDQUOT (a quota). */
  readonly code: NoSpaceCode;
  /** The bytes its new content needed. */
  readonly bytes: number;
}

/** The errors that mean "no room", never retried by writing the same bytes at once. */
export const NO_SPACE_CODES = ['ENOSPC', 'EDQUOT'] as const;
export type NoSpaceCode = (typeof NO_SPACE_CODES)[number];

function noSpaceCode(err: unknown): NoSpaceCode | undefined {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  return NO_SPACE_CODES.find((c) => c === code);
}

export const DATA_LINK = '..data';
/** Rewritten after each update; secret names start with a letter or digit, so it never collides. */
export const VERSION_MARKER = '.secrets-agent-version';
const VERSION_DIR = /^\.\.\d{4}_/;
/** Most file systems' limit on one name. */
const MAX_SEGMENT_BYTES = 255;

/** What is wrong with a relative file path (empty, absolute, `.`/`..`, too long), or undefined. */
export function relativePathProblem(path: string): string | undefined {
  if (path === '') return 'is empty';
  if (path.startsWith('/')) return 'is absolute';
  if (path.includes('\0')) return 'holds a NUL character';
  for (const segment of path.split('/')) {
    if (segment === '') return 'has an empty segment ("//" or a trailing "/")';
    if (segment === '.' || segment === '..') return `has a "${segment}" segment`;
    if (Buffer.byteLength(segment) > MAX_SEGMENT_BYTES)
      return `has a segment over ${MAX_SEGMENT_BYTES} bytes`;
  }
  return undefined;
}

/**
 * The first collision among relative paths: one path that is also a directory of another
 * (`a/b` and `a/b/c`), or a path twice. Undefined when there is none.
 */
export function pathCollision(paths: readonly string[]): readonly [string, string] | undefined {
  const files = new Set<string>();
  for (const path of paths) {
    if (files.has(path)) return [path, path];
    files.add(path);
  }
  for (const path of paths) {
    const segments = path.split('/');
    for (let i = 1; i < segments.length; i++) {
      const dir = segments.slice(0, i).join('/');
      if (files.has(dir)) return [dir, path];
    }
  }
  return undefined;
}

/** The top-level entry a file lives under: its name, or its directory source's name. */
export function topName(name: string): string {
  const slash = name.indexOf('/');
  return slash === -1 ? name : name.slice(0, slash);
}

export class FileSink {
  readonly dir: string;
  #current: Map<string, SecretFile> | undefined;

  constructor(dir: string) {
    this.dir = dir;
  }

  /** Writes the set atomically; files absent from `files` are removed. */
  async write(files: readonly SecretFile[]): Promise<WriteResult> {
    try {
      checkNames(files);
      const current = this.#current ?? (await this.#readCurrent());
      const changed = diff(current, files);
      if (changed.length === 0) {
        this.#current = current;
        return { status: 'unchanged', changed };
      }
      const { written, held } = await this.#swap(files, current);
      const heldNames = new Set(held.map((h) => h.name));
      this.#current = new Map(written.map((f) => [f.name, f]));
      const landed = changed.filter((name) => !heldNames.has(topName(name)));
      const status = landed.length === 0 ? 'unchanged' : 'written';
      return { status, changed: landed, ...(held.length === 0 ? {} : { held }) };
    } catch (err) {
      this.#current = undefined;
      if (err instanceof AgentError) throw err;
      const code = (err as NodeJS.ErrnoException).code ?? 'error';
      throw new AgentError('WRITE_FAILED', `cannot write secret files in ${this.dir}: ${code}`, {
        cause: err,
        retryable: true,
      });
    }
  }

  /**
   * Writes a new version and switches `..data` to it. Returns the files the new version holds
   * (a held source's live ones) and the held sources; with nothing landed, nothing switches.
   */
  async #swap(
    files: readonly SecretFile[],
    previous: ReadonlyMap<string, SecretFile>,
  ): Promise<{ written: SecretFile[]; held: HeldSource[] }> {
    await mkdir(this.dir, { recursive: true });
    const oldTarget = await readLinkOrUndefined(join(this.dir, DATA_LINK));
    // The version before the live one goes first: the new one then fits beside the live one.
    await this.#removeVersionsExcept(oldTarget, undefined);
    const stamp = `..${new Date().toISOString().replace(/[-:TZ]/g, '_')}${randomBytes(3).toString('hex')}`;
    const version = join(this.dir, stamp);
    const live = oldTarget === undefined ? undefined : join(this.dir, oldTarget);
    let result: { written: SecretFile[]; held: HeldSource[]; landed: boolean };
    try {
      await mkdir(version, { mode: 0o755 });
      await chmod(version, 0o755);
      result = await this.#writeSources(version, live, files, previous);
    } catch (err) {
      // A partial version would keep its space until the next attempt: free it now.
      await rm(version, { recursive: true, force: true });
      throw err;
    }
    if (!result.landed) {
      await rm(version, { recursive: true, force: true });
      return { written: [...previous.values()], held: result.held };
    }
    const tmpLink = join(this.dir, `..data_tmp_${randomBytes(3).toString('hex')}`);
    await symlink(stamp, tmpLink);
    await rename(tmpLink, join(this.dir, DATA_LINK));
    const before = new Set([...previous.keys()].map(topName));
    const after = new Set(result.written.map((f) => topName(f.name)));
    for (const name of after) {
      if (!before.has(name)) await this.#linkName(name);
    }
    for (const name of before) {
      if (!after.has(name)) await rm(join(this.dir, name), { force: true });
    }
    await this.#removeVersionsExcept(stamp, oldTarget);
    await this.#writeVersionMarker(stamp);
    return { written: result.written, held: result.held };
  }

  /**
   * Each source into the new version: unchanged files linked to the live ones, changed files
   * written. A source that runs out of room goes back to its live files, and is held.
   */
  async #writeSources(
    version: string,
    live: string | undefined,
    files: readonly SecretFile[],
    previous: ReadonlyMap<string, SecretFile>,
  ): Promise<{ written: SecretFile[]; held: HeldSource[]; landed: boolean }> {
    const written: SecretFile[] = [];
    const held: HeldSource[] = [];
    let landed = false;
    for (const [name, group] of byTopName(files)) {
      const old = [...previous.values()].filter((f) => topName(f.name) === name);
      try {
        const wrote = await placeFiles(version, live, group, previous);
        written.push(...group);
        // A source that only lost files, or only moved to links, still counts as a change.
        landed ||= wrote || old.length !== group.length;
      } catch (err) {
        const code = noSpaceCode(err);
        if (code === undefined) throw err;
        await rm(join(version, name), { recursive: true, force: true });
        // Links take no room: the live content stays whole in the new version.
        await placeFiles(version, live, old, previous);
        written.push(...old);
        held.push({ name, code, bytes: group.reduce((n, f) => n + f.content.byteLength, 0) });
      }
    }
    // A source that is gone is a change too.
    const kept = new Set(files.map((f) => topName(f.name)));
    landed ||= [...previous.keys()].some((n) => !kept.has(topName(n)));
    return { written, held, landed };
  }

  /**
   * `.secrets-agent-version`, written last (atomically) with the new version's name: one file
   * an app can watch (inotify, polling) to learn that an update is complete.
   */
  async #writeVersionMarker(stamp: string): Promise<void> {
    const tmp = join(this.dir, `${VERSION_MARKER}.tmp-${randomBytes(3).toString('hex')}`);
    await writeFile(tmp, `${stamp.slice(2)}\n`, { mode: 0o644 });
    await chmod(tmp, 0o644);
    await rename(tmp, join(this.dir, VERSION_MARKER));
  }

  /**
   * Keeps the live version and the one before it: a reader that resolved `..data` just before
   * the swap can still finish reading a whole, consistent set.
   */
  async #removeVersionsExcept(
    live: string | undefined,
    previous: string | undefined,
  ): Promise<void> {
    const entries = await readdir(this.dir);
    for (const entry of entries) {
      if (entry === DATA_LINK || entry === live || entry === previous || !entry.startsWith('..'))
        continue;
      if (!VERSION_DIR.test(entry)) continue;
      await rm(join(this.dir, entry), { recursive: true, force: true });
    }
  }

  /** `<name> -> ..data/<name>`, replacing whatever stood at that path. */
  async #linkName(name: string): Promise<void> {
    const path = join(this.dir, name);
    const target = join(DATA_LINK, name);
    // A name new to the directory (every name at the first write): one atomic create.
    if (await symlinkIfAbsent(target, path)) return;
    if ((await readLinkOrUndefined(path)) === target) return;
    const tmp = join(this.dir, `..${name}_tmp_${randomBytes(3).toString('hex')}`);
    await symlink(target, tmp);
    const existing = await lstat(path).catch(() => undefined);
    if (existing?.isDirectory() === true) {
      await rm(tmp, { force: true });
      throw new AgentError(
        'WRITE_FAILED',
        `cannot write secret file ${name}: ${path} is a directory`,
      );
    }
    await rename(tmp, path);
  }

  /** What an earlier run (or container restart) left behind, so an unchanged set is not rewritten. */
  async #readCurrent(): Promise<Map<string, SecretFile>> {
    const current = new Map<string, SecretFile>();
    const target = await readLinkOrUndefined(join(this.dir, DATA_LINK));
    await this.#removeLeftovers(target);
    if (target === undefined) return current;
    const version = join(this.dir, target);
    const names = await readdir(version).catch(() => [] as string[]);
    for (const name of names) {
      if ((await readLinkOrUndefined(join(this.dir, name))) !== join(DATA_LINK, name)) continue;
      await readTree(version, name, current);
    }
    return current;
  }

  /** Version directories and temporary links that an interrupted write (SIGTERM, crash) left. */
  async #removeLeftovers(live: string | undefined): Promise<void> {
    const entries = await readdir(this.dir).catch(() => [] as string[]);
    for (const entry of entries) {
      const stray = entry.startsWith('..') || entry.startsWith(`${VERSION_MARKER}.tmp-`);
      if (entry === DATA_LINK || entry === live || !stray) continue;
      await rm(join(this.dir, entry), { recursive: true, force: true });
    }
  }
}

/** The files by the top-level name they live under, in their order. */
function byTopName(files: readonly SecretFile[]): Map<string, SecretFile[]> {
  const groups = new Map<string, SecretFile[]>();
  for (const file of files) {
    const name = topName(file.name);
    const group = groups.get(name);
    if (group === undefined) groups.set(name, [file]);
    else group.push(file);
  }
  return groups;
}

/**
 * Files into a version: a link to the live file when it is the same (no room taken), else
 * written in full. Whether any was written.
 */
async function placeFiles(
  version: string,
  live: string | undefined,
  files: readonly SecretFile[],
  previous: ReadonlyMap<string, SecretFile>,
): Promise<boolean> {
  let wrote = false;
  for (const file of files) {
    const path = join(version, file.name);
    if (file.name.includes('/')) await mkdir(dirname(path), { recursive: true, mode: 0o755 });
    if (live !== undefined && sameFile(previous.get(file.name), file)) {
      await link(join(live, file.name), path);
      continue;
    }
    await writeFile(path, file.content, { mode: file.mode, flag: 'wx' });
    await chmod(path, file.mode); // the umask may have narrowed the mode
    wrote = true;
  }
  return wrote;
}

function sameFile(old: SecretFile | undefined, file: SecretFile): boolean {
  return (
    old !== undefined && old.mode === file.mode && Buffer.from(old.content).equals(file.content)
  );
}

/** Every file under `<version>/<name>` (a file, or a directory source's tree). */
async function readTree(
  version: string,
  name: string,
  into: Map<string, SecretFile>,
): Promise<void> {
  const path = join(version, name);
  const info = await stat(path);
  if (info.isDirectory()) {
    for (const child of await readdir(path)) await readTree(version, `${name}/${child}`, into);
    return;
  }
  into.set(name, { name, content: await readFile(path), mode: info.mode & 0o777 });
}

/** Every name a safe relative path, none colliding with another. */
function checkNames(files: readonly SecretFile[]): void {
  for (const file of files) {
    const problem = relativePathProblem(file.name);
    if (problem !== undefined)
      throw new AgentError(
        'WRITE_FAILED',
        `cannot write secret file ${JSON.stringify(file.name)}: the name ${problem}`,
      );
  }
  const collision = pathCollision(files.map((f) => f.name));
  if (collision !== undefined)
    throw new AgentError(
      'WRITE_FAILED',
      `cannot write secret files: ${collision[0]} and ${collision[1]} collide`,
    );
}

function diff(current: ReadonlyMap<string, SecretFile>, next: readonly SecretFile[]): string[] {
  const changed: string[] = [];
  for (const file of next) {
    if (!sameFile(current.get(file.name), file)) changed.push(file.name);
  }
  for (const name of current.keys()) if (!next.some((f) => f.name === name)) changed.push(name);
  return changed;
}

/** Creates the link where nothing has the name yet; false where something does. */
async function symlinkIfAbsent(target: string, path: string): Promise<boolean> {
  try {
    await symlink(target, path);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw err;
  }
}

async function readLinkOrUndefined(path: string): Promise<string | undefined> {
  try {
    return await readlink(path);
  } catch {
    return undefined;
  }
}
