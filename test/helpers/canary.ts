/**
 * A value no log line, metric, error or termination message may ever contain. Tests seed it
 * into secrets (as a whole value and inside JSON fields) and grep everything they collect.
 */
export const CANARY = 'canary-7f3a9c1e-DO-NOT-LOG';

/**
 * base64 of the canary where it starts `offset` bytes (0, 1 or 2) into a 3-byte group: only the
 * characters every one of whose 6 bits comes from the canary, so the form is found inside the
 * base64 of any longer value (`{"password":"<canary>"}`), whatever precedes or follows it.
 */
function base64At(bytes: Buffer, offset: number): string {
  const encoded = Buffer.concat([Buffer.alloc(offset), bytes]).toString('base64');
  const first = Math.ceil((8 * offset) / 6);
  const end = Math.floor((8 * (offset + bytes.length)) / 6);
  return encoded.slice(first, end);
}

/** The canary in each encoding it could leak in, each found inside any longer encoded value. */
export function canaryForms(secret: string = CANARY): ReadonlyMap<string, string> {
  const bytes = Buffer.from(secret);
  const forms = new Map<string, string>([
    ['plain', secret],
    ['JSON-escaped', JSON.stringify(secret).slice(1, -1)],
    ['URL-encoded', encodeURIComponent(secret)],
    ['hex', bytes.toString('hex')],
    ['HEX', bytes.toString('hex').toUpperCase()],
  ]);
  for (const offset of [0, 1, 2]) {
    const form = base64At(bytes, offset);
    forms.set(`base64 at offset ${offset}`, form);
    forms.set(`base64url at offset ${offset}`, form.replaceAll('+', '-').replaceAll('/', '_'));
  }
  return forms;
}

/** The name of the first encoding of the canary found in `text`, or undefined. */
export function findCanary(text: string, secret: string = CANARY): string | undefined {
  for (const [name, form] of canaryForms(secret)) if (text.includes(form)) return name;
  return undefined;
}

export function assertNoCanary(
  t: { equal: (found: unknown, wanted: unknown, msg: string) => void },
  text: string,
  where: string,
): void {
  t.equal(findCanary(text), undefined, `no secret value in ${where}`);
}
