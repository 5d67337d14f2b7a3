/**
 * The memory bench's measuring instrument: a cgroup v1 memory controller group per measured
 * process, as the kubelet gives each container one. Everything the process faults in is charged
 * there: its heap, the code pages of the Node binary and the bundle it reads (page cache is
 * charged to the first reader), and the tmpfs pages of the files it writes. What is read back:
 *
 * - the peak charge (`memory.max_usage_in_bytes`, page cache included);
 * - the working set, usage minus `total_inactive_file` (what `kubectl top` shows and the kubelet
 *   evicts on), sampled while the process runs, since the kernel keeps no peak of it;
 * - `memory.failcnt` (times the charge hit the limit and the kernel had to reclaim) and the
 *   `oom_kill` count of `memory.oom_control`.
 *
 * The process enters its group through a wrapper (`sh`: write its own pid to `cgroup.procs`,
 * then exec), optionally in a mount namespace of its own with a tmpfs at the output directory,
 * the stand-in for the pod's `emptyDir` with `medium: Memory`. Root only; `cgroupSupport()` says
 * why not otherwise.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import {
  accessSync,
  constants,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmdirSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';

export const CGROUP_ROOT = '/sys/fs/cgroup/memory';

export type Support = { readonly ok: true } | { readonly ok: false; readonly reason: string };

/** Whether this process can make memory cgroups, mount a tmpfs and drop the page cache. */
export function cgroupSupport(): Support {
  if (process.platform !== 'linux') return { ok: false, reason: 'not Linux' };
  try {
    accessSync(join(CGROUP_ROOT, 'memory.limit_in_bytes'), constants.R_OK);
  } catch {
    return { ok: false, reason: `no cgroup v1 memory controller at ${CGROUP_ROOT}` };
  }
  if (process.getuid?.() !== 0) {
    return { ok: false, reason: 'not root (memory cgroups, tmpfs mounts and drop_caches need it)' };
  }
  const probe = join(CGROUP_ROOT, `secrets-agent-bench-probe-${process.pid}`);
  try {
    mkdirSync(probe);
    rmdirSync(probe);
  } catch (err) {
    return {
      ok: false,
      reason: `cannot create a memory cgroup: ${(err as NodeJS.ErrnoException).code ?? String(err)}`,
    };
  }
  return { ok: true };
}

/** Groups an earlier bench run left (killed before it removed them): removed if empty. */
export function removeStaleGroups(): void {
  for (const name of readdirSync(CGROUP_ROOT)) {
    const pid = /^secrets-agent-bench-(\d+)-/.exec(name)?.[1];
    if (pid === undefined || isAlive(Number(pid))) continue;
    try {
      rmdirSync(join(CGROUP_ROOT, name));
    } catch {
      // Still holds a process: left alone.
    }
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** `sync`, then drop the page cache, dentries and inodes: what a node that never ran the image has. */
export async function dropCaches(): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const child = spawn('sync', [], { stdio: 'ignore' });
    child.once('error', reject);
    child.once('close', () => resolve());
  });
  writeFileSync('/proc/sys/vm/drop_caches', '3\n');
}

export interface CgroupReading {
  /** memory.usage_in_bytes now. */
  readonly usage: number;
  /** usage − total_inactive_file: the working set. */
  readonly workingSet: number;
  readonly rss: number;
  readonly cache: number;
  readonly shmem: number;
  readonly inactiveFile: number;
  readonly activeFile: number;
}

export interface CgroupSummary {
  readonly limitBytes: number | null;
  /** memory.max_usage_in_bytes: the peak charge, page cache included. */
  readonly peakChargeBytes: number;
  /** The highest working set among the samples. */
  readonly peakWorkingSetBytes: number;
  readonly samples: number;
  readonly failcnt: number;
  readonly oomKills: number;
}

let groupIndex = 0;

/** One memory cgroup, removed by `close()` once its processes are gone. */
export class MemoryCgroup {
  readonly path: string;
  readonly limitBytes: number | null;
  #peakWorkingSet = 0;
  #samples = 0;
  #sampler: NodeJS.Timeout | undefined;

  constructor(label: string, limitBytes: number | null) {
    this.path = join(CGROUP_ROOT, `secrets-agent-bench-${process.pid}-${groupIndex++}-${label}`);
    this.limitBytes = limitBytes;
    mkdirSync(this.path);
    // Without swap the memsw limit is not there to set; the memory limit alone bounds the group.
    writeFileSync(
      join(this.path, 'memory.limit_in_bytes'),
      limitBytes === null ? '-1' : String(limitBytes),
    );
  }

  #read(file: string): string {
    return readFileSync(join(this.path, file), 'utf8');
  }

  #number(file: string): number {
    return Number(this.#read(file).trim());
  }

  stat(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const line of this.#read('memory.stat').split('\n')) {
      const [key, value] = line.split(' ');
      if (key !== undefined && key !== '' && value !== undefined) out[key] = Number(value);
    }
    return out;
  }

  reading(): CgroupReading {
    const usage = this.#number('memory.usage_in_bytes');
    const stat = this.stat();
    const inactiveFile = stat['total_inactive_file'] ?? 0;
    return {
      usage,
      workingSet: Math.max(0, usage - inactiveFile),
      rss: stat['total_rss'] ?? 0,
      cache: stat['total_cache'] ?? 0,
      shmem: stat['total_shmem'] ?? 0,
      inactiveFile,
      activeFile: stat['total_active_file'] ?? 0,
    };
  }

  /** Reads the working set now, keeping its peak. */
  sample(): CgroupReading {
    const r = this.reading();
    this.#samples += 1;
    if (r.workingSet > this.#peakWorkingSet) this.#peakWorkingSet = r.workingSet;
    return r;
  }

  /** Samples every `everyMs` until `stopSampling()` (the kubelet's own resolution is seconds). */
  startSampling(everyMs = 50): void {
    this.stopSampling();
    this.#sampler = setInterval(() => {
      try {
        this.sample();
      } catch {
        // The group is being removed.
      }
    }, everyMs);
  }

  stopSampling(): void {
    if (this.#sampler !== undefined) clearInterval(this.#sampler);
    this.#sampler = undefined;
  }

  /** Forgets the peaks so far (the kernel's and ours): the next summary covers what follows. */
  resetPeaks(): void {
    writeFileSync(join(this.path, 'memory.max_usage_in_bytes'), '0');
    this.#peakWorkingSet = 0;
    this.#samples = 0;
  }

  summary(): CgroupSummary {
    const oom = /^oom_kill (\d+)$/m.exec(this.#read('memory.oom_control'))?.[1];
    return {
      limitBytes: this.limitBytes,
      peakChargeBytes: this.#number('memory.max_usage_in_bytes'),
      peakWorkingSetBytes: this.#peakWorkingSet,
      samples: this.#samples,
      failcnt: this.#number('memory.failcnt'),
      oomKills: oom === undefined ? 0 : Number(oom),
    };
  }

  /** Removes the group (its remaining page cache moves to the parent); retried while it empties. */
  async close(): Promise<void> {
    this.stopSampling();
    for (let i = 0; i < 50; i++) {
      try {
        rmdirSync(this.path);
        return;
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code === 'ENOENT') return;
        if (code !== 'EBUSY') throw err;
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    throw new Error(`memory cgroup ${this.path} still busy`);
  }
}

/**
 * The wrapper: joins the cgroup given as $1, then (if $2 is not empty) unshares a mount
 * namespace, mounts a tmpfs of $3 bytes at $2 and fills $4 bytes of it (a file the agent never
 * reads, charged to the group: the volume as full as its size limit allows), then execs the
 * rest. Every step is `exec`, so the measured process keeps the wrapper's pid and nothing else
 * stays in the group.
 */
const WRAPPER = [
  'echo $$ > "$1/cgroup.procs" || exit 97',
  'volume=$2; size=$3; fill=$4; shift 4',
  '[ -z "$volume" ] && exec "$@"',
  `exec unshare --mount --propagation private sh -c '${[
    'mount -t tmpfs -o "size=$1,mode=0755" secrets-agent-volume "$2" || exit 98',
    '[ "$3" -gt 0 ] && { head -c "$3" /dev/zero > "$2/.fill" || exit 99; }',
    'shift 3',
    'exec "$@"',
  ].join('; ')}' sh "$size" "$volume" "$fill" "$@"`,
].join('\n');

export interface Volume {
  readonly dir: string;
  /** The tmpfs size in bytes (the emptyDir's sizeLimit). */
  readonly sizeBytes: number;
  /** Bytes written to the volume before the command starts (0: empty). */
  readonly fillBytes?: number;
}

/**
 * The command line that runs `command` inside `group` (and with a tmpfs at `volume.dir`). Without
 * a group the command runs as it is.
 */
export function confine(
  group: MemoryCgroup | undefined,
  command: readonly string[],
  volume?: Volume,
): readonly string[] {
  if (group === undefined) return command;
  return [
    'sh',
    '-c',
    WRAPPER,
    'sh',
    group.path,
    volume?.dir ?? '',
    String(volume?.sizeBytes ?? 0),
    String(volume?.fillBytes ?? 0),
    ...command,
  ];
}

/**
 * The readahead of the block device holding `path`, in KiB (null when unknown, e.g. overlayfs):
 * a fault on a file mapping reads this much around it, so it sets how much of the Node binary
 * a cold start pulls into the page cache, all charged to the group.
 */
export function readAheadKb(path: string): number | null {
  const dev = statSync(path).dev;
  const major = Math.floor(dev / 256) & 0xfff;
  const minor = (dev & 0xff) | (Math.floor(dev / 4096) & ~0xff);
  for (const file of ['queue/read_ahead_kb', '../queue/read_ahead_kb']) {
    try {
      return Number(readFileSync(`/sys/dev/block/${major}:${minor}/${file}`, 'utf8').trim());
    } catch {
      // Not a block device, or a partition: try its disk.
    }
  }
  return null;
}

export function spawnConfined(
  argv: readonly string[],
  env: Readonly<Record<string, string>>,
  cwd: string,
): ChildProcess {
  const [file, ...args] = argv;
  if (file === undefined) throw new Error('nothing to spawn');
  return spawn(file, args, { env, cwd, stdio: ['ignore', 'pipe', 'pipe'] });
}
