/** Terminal prompts for `vigil init` and `vigil config rekey`. Hidden input for secrets. */
import { createInterface } from "node:readline";

export function isInteractive(): boolean {
  return Boolean(process.stdin.isTTY && process.stdout.isTTY);
}

/** Asks a question; `hidden` echoes nothing (passwords, tokens). */
export function ask(question: string, options: { hidden?: boolean; default?: string } = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    const rl = createInterface({ input: process.stdin, output: process.stdout, terminal: true });
    const suffix = options.default ? ` [${options.default}]` : "";
    if (options.hidden) {
      // Echo nothing after the prompt itself.
      const write = (rl as unknown as { _writeToOutput: (s: string) => void })._writeToOutput.bind(rl);
      let prompted = false;
      (rl as unknown as { _writeToOutput: (s: string) => void })._writeToOutput = (s: string) => {
        if (!prompted) {
          prompted = true;
          write(s);
        } else if (s.includes("\n")) write("\n");
      };
    }
    rl.on("SIGINT", () => {
      rl.close();
      reject(new Error("cancelled"));
    });
    rl.question(`${question}${suffix}: `, (answer) => {
      rl.close();
      resolve(answer.trim() || options.default || "");
    });
  });
}

/** Asks until `validate` returns undefined (no complaint). */
export async function askValid(question: string, validate: (answer: string) => string | undefined, options: { hidden?: boolean; default?: string } = {}): Promise<string> {
  for (;;) {
    const answer = await ask(question, options);
    const problem = validate(answer);
    if (!problem) return answer;
    process.stdout.write(`${problem}\n`);
  }
}

/** A new passphrase, typed twice. */
export async function askNewPassphrase(): Promise<string> {
  for (;;) {
    const first = await askValid("Passphrase (8 characters or more)", (a) => (a.length >= 8 ? undefined : "That is too short: use 8 characters or more."), { hidden: true });
    const second = await ask("Type it again", { hidden: true });
    if (first === second) return first;
    process.stdout.write("The two passphrases differ; try again.\n");
  }
}
