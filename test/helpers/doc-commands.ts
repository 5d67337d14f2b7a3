/** The shell commands a page of the docs tells the reader to run, for tests to hold them. */

/** The lines of the text's ```sh blocks: continuation lines joined, comments and blanks dropped. */
export function shellCommands(markdown: string): string[] {
  return [...markdown.matchAll(/```sh\n([\s\S]*?)```/g)]
    .flatMap((m) => (m[1] ?? '').replace(/\\\n\s*/g, '').split('\n'))
    .map((line) => line.replace(/\s+#.*$/, '').trim())
    .filter((line) => line !== '');
}

/** A lookup of the one command starting with a prefix; none or several is an error. */
export function commandLookup(commands: readonly string[]): (prefix: string) => string {
  return (prefix) => {
    const found = commands.filter((c) => c.startsWith(prefix));
    if (found.length !== 1)
      throw new Error(`expected one "${prefix}" command, found ${found.length}`);
    return found[0] as string;
  };
}
