/**
 * The promise forms of the file functions the agent uses, made from the callback API that Node
 * has loaded before any of our code runs. `node:fs/promises` would load eleven more of Node's
 * own modules (readline and the REPL's history among them, for `FileHandle.readLines`), which
 * every agent start would compile and keep on its heap for nothing (bench/startup.ts). The
 * types are those of `node:fs/promises` (a type import: nothing loads), and so are the results
 * and the errors (the same `code`, `syscall` and `path`).
 */
import * as fs from 'node:fs';
import type * as fsp from 'node:fs/promises';
import { promisify } from 'node:util';

/** A callback function as its promise form; each is typed below as node:fs/promises types it. */
const promised = promisify as (callbackForm: unknown) => unknown;

export const chmod = promised(fs.chmod) as typeof fsp.chmod;
export const link = promised(fs.link) as typeof fsp.link;
export const lstat = promised(fs.lstat) as typeof fsp.lstat;
export const mkdir = promised(fs.mkdir) as typeof fsp.mkdir;
export const readdir = promised(fs.readdir) as typeof fsp.readdir;
export const readFile = promised(fs.readFile) as typeof fsp.readFile;
export const readlink = promised(fs.readlink) as typeof fsp.readlink;
export const rename = promised(fs.rename) as typeof fsp.rename;
export const rm = promised(fs.rm) as typeof fsp.rm;
export const stat = promised(fs.stat) as typeof fsp.stat;
export const symlink = promised(fs.symlink) as typeof fsp.symlink;
export const writeFile = promised(fs.writeFile) as typeof fsp.writeFile;
