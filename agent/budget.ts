/**
 * The work one render may do. A `key-` expression or a template is the pod author's code, run
 * on every refresh: `[@,@]|` repeated doubles the size of what it selects at every step (sharing
 * references, so selecting costs nothing and writing it out costs 2^n), and nested `#each`
 * blocks multiply. Both are bounded: in time, by running the work under V8's execution timeout
 * (it interrupts any JavaScript, so the agent stays responsive to SIGTERM), and in output, by
 * measuring a selected value's written size before any format writes it.
 */
import type { Script } from 'node:vm';
import { MAX_RENDERED_BYTES } from '../common/files-worst-case.ts';

/** One file's rendered size: declared with the volume's worst case, which it bounds. */
export { MAX_RENDERED_BYTES };

/** One render's time. Ordinary renders take well under a millisecond. */
export const RENDER_TIMEOUT_MS = 250;

/** The work running under the timeout: the script below calls it through this one slot. */
const SLOT = '__secretsAgentRenderWork';
/**
 * The script, compiled at the first render that needs the timeout: renders that only walk down
 * the data, and plain templates, never do, and node:vm is then not loaded at all.
 */
let run: Script | undefined;
function runScript(): Script {
  run ??= new (process.getBuiltinModule('node:vm').Script)(`globalThis.${SLOT}()`, {
    filename: 'secrets-agent-render-budget',
  });
  return run;
}

/** Why a render was stopped. */
export class BudgetError extends Error {
  override readonly name = 'BudgetError';
}

/**
 * Runs `work` synchronously, stopped after RENDER_TIMEOUT_MS. Throws BudgetError when stopped;
 * rethrows whatever `work` throws.
 */
export function withinTime<T>(work: () => T): T {
  const slots = globalThis as unknown as { [SLOT]?: (() => void) | undefined };
  let result: T | undefined;
  slots[SLOT] = () => {
    result = work();
  };
  try {
    runScript().runInThisContext({ timeout: RENDER_TIMEOUT_MS, breakOnSigint: false });
  } catch (err) {
    if ((err as { code?: unknown }).code === 'ERR_SCRIPT_EXECUTION_TIMEOUT')
      throw new BudgetError(`took longer than ${RENDER_TIMEOUT_MS} ms and was stopped`);
    throw err;
  } finally {
    slots[SLOT] = undefined;
  }
  return result as T;
}

/**
 * Throws BudgetError when `value` written as JSON would exceed MAX_RENDERED_BYTES. Walks the
 * value (shared references counted each time they are written), stopping as soon as the bound
 * is passed, so the walk itself is bounded too.
 */
export function checkExpandedSize(value: unknown): void {
  let size = 0;
  const stack: unknown[] = [value];
  while (stack.length > 0) {
    const next = stack.pop();
    if (typeof next === 'string') size += next.length + 2;
    else if (Array.isArray(next)) {
      size += 2 + next.length;
      for (const item of next) stack.push(item);
    } else if (typeof next === 'object' && next !== null) {
      for (const [k, v] of Object.entries(next)) {
        size += k.length + 4;
        stack.push(v);
      }
      size += 2;
    } else size += 8;
    if (size > MAX_RENDERED_BYTES)
      throw new BudgetError(`expands to more than ${MAX_RENDERED_BYTES / 1024} KiB`);
  }
}

/**
 * Throws BudgetError when a rendered text exceeds MAX_RENDERED_BYTES. Its length first: a text
 * built of shared pieces (a template that repeats a field) is never flattened to be measured.
 */
export function checkRenderedSize(text: string): string {
  checkLength(text.length);
  if (Buffer.byteLength(text) > MAX_RENDERED_BYTES)
    throw new BudgetError(`renders more than ${MAX_RENDERED_BYTES / 1024} KiB`);
  return text;
}

/**
 * Throws BudgetError when a text of `length` UTF-16 units would exceed MAX_RENDERED_BYTES. A
 * UTF-8 byte count is never below the UTF-16 length, so a longer text is over without encoding
 * it; and a string's length costs nothing, even for one V8 holds as a rope of shared pieces.
 */
export function checkLength(length: number, what = 'renders'): void {
  if (length > MAX_RENDERED_BYTES)
    throw new BudgetError(`${what} more than ${MAX_RENDERED_BYTES / 1024} KiB`);
}
