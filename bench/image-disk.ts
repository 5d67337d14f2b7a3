/**
 * A disk for the memory bench's image copy with the kernel's default readahead (128 KB), as the
 * root volume of a cluster node (an EBS volume on an EKS node reads ahead 128 KB): an ext4 file
 * system on a loop device over a file, read with direct I/O so the backing file keeps no page
 * cache of its own. How much of the Node binary a cold start pulls into the page cache, and
 * charges to the first container that reads it, follows the readahead of the disk it is read
 * from: on a disk that reads ahead megabytes, a cold start is charged most of the binary.
 *
 * Root only, and only where `losetup` and `mkfs.ext4` exist; otherwise undefined and the bench
 * copies the image beside its other files (and prints that disk's readahead).
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';

/** Room for the Node binary (~120 MB) and the bundle, with ext4's own overhead. */
const DISK_BYTES = 320 * 1024 * 1024;
/**
 * The kernel's default readahead. A loop device takes its backing file's disk's (megabytes on
 * some virtual machines), so it is set.
 */
export const NODE_DISK_READAHEAD_KB = 128;

export interface ImageDisk {
  /** Where the file system is mounted. */
  readonly dir: string;
  readonly device: string;
  /** Unmounts, detaches the loop device and removes its file; safe to call twice. */
  close(): void;
}

function quiet(command: string, args: readonly string[]): string {
  return execFileSync(command, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

export function imageDisk(work: string): ImageDisk | undefined {
  if (process.getuid?.() !== 0) return undefined;
  const file = join(work, 'image-disk.img');
  const dir = join(work, 'image-disk');
  let device: string | undefined;
  let mounted = false;
  const close = (): void => {
    if (mounted) quiet('umount', [dir]);
    mounted = false;
    if (device !== undefined) quiet('losetup', ['--detach', device]);
    device = undefined;
    rmSync(file, { force: true });
  };
  try {
    writeFileSync(file, '');
    quiet('truncate', ['--size', String(DISK_BYTES), file]);
    quiet('mkfs.ext4', ['-q', '-F', file]);
    device = quiet('losetup', ['--find', '--show', '--direct-io=on', file]).trim();
    writeFileSync(
      `/sys/block/${basename(device)}/queue/read_ahead_kb`,
      String(NODE_DISK_READAHEAD_KB),
    );
    mkdirSync(dir, { recursive: true });
    quiet('mount', [device, dir]);
    mounted = true;
    const found = device;
    return { dir, device: found, close };
  } catch {
    close();
    return undefined;
  }
}
