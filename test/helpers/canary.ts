/**
 * A value no log line, metric, error or termination message may ever contain. Tests seed it
 * into secrets (as a whole value and inside JSON fields) and grep everything they collect.
 */
export const CANARY = 'canary-7f3a9c1e-DO-NOT-LOG';

/** Every place the canary could leak in encoded form too. */
export function canaryForms(): readonly string[] {
  return [CANARY, Buffer.from(CANARY).toString('base64'), Buffer.from(CANARY).toString('hex')];
}

export function assertNoCanary(
  t: { notMatch: (a: string, b: RegExp, msg: string) => void },
  text: string,
  where: string,
): void {
  for (const form of canaryForms()) {
    t.notMatch(
      text,
      new RegExp(form.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')),
      `no secret value in ${where}`,
    );
  }
}
