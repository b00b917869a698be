/**
 * `npm start` on a new machine, at a terminal: the compiled `vigil start` on a
 * pseudo-terminal asks for the bot token, how to protect the store, a new passphrase
 * twice and the data directory, then runs with the store it just created. Run alone
 * after changing src/: `npm run build` first (`npm test` does it).
 */
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BotApiStandIn } from "../support/bot-api/index.js";
import { killAllVigils, vigil, vigilOnTerminal, type TerminalVigil } from "../support/cli.js";
import { tempDir } from "../support/tmp.js";
import { until } from "../support/wait.js";

const PASSPHRASE = "first start passphrase";

let tg: BotApiStandIn;

beforeAll(async () => {
  tg = await BotApiStandIn.start();
});

afterAll(async () => {
  killAllVigils();
  await tg?.close();
});

/**
 * The questions asked so far, in order. readline draws each prompt as: cursor to column 1,
 * clear below, the question, ": ", the cursor to the answer's column.
 */
function questions(output: string): string[] {
  const ESC = String.fromCharCode(27);
  const prompt = new RegExp(`${ESC}\\[1G${ESC}\\[0J([^${ESC}]*?)(?: \\[[^\\]${ESC}]*\\])?: ${ESC}\\[\\d+G`, "g");
  return [...output.matchAll(prompt)].map((m) => m[1]!);
}

/** Answers `question` once the terminal shows it. */
function answerer(terminal: TerminalVigil): (question: string, text: string) => Promise<void> {
  return async (question, text) => {
    await until(() => questions(terminal.output()).includes(question), 60_000, `the question "${question}"`);
    terminal.type(`${text}\r`);
  };
}

describe("the first `vigil start` on a terminal", () => {
  it("asks for the new passphrase twice, creates the store and runs with it, without asking a third time", { timeout: 180_000 }, async () => {
    const dataDir = path.join(await tempDir(), "data");
    const terminal = vigilOnTerminal(["start"], { VIGIL_DATA_DIR: dataDir, VIGIL_TELEGRAM_API_ROOT: tg.apiRoot, VIGIL_LOG_LEVEL: "warn" });
    const answer = answerer(terminal);
    await answer("Bot token from @BotFather", tg.token);
    await answer("Protect the store with (1) a passphrase or (2) a key file", "1");
    await answer("Passphrase (8 characters or more)", PASSPHRASE);
    await answer("Type it again", PASSPHRASE);
    await answer("Data directory", "");
    // Before the fix, a third question came here ("Passphrase for the Vigil store") and Vigil waited on it.
    await until(() => /\/claim \S+/.test(terminal.output()) || questions(terminal.output()).length > 5, 120_000, "the claim line or another question");

    expect(questions(terminal.output())).toEqual(["Bot token from @BotFather", "Protect the store with (1) a passphrase or (2) a key file", "Passphrase (8 characters or more)", "Type it again", "Data directory"]);
    expect(terminal.output()).toContain(`Created an encrypted store in ${dataDir} (passphrase).`);
    expect(terminal.output()).toMatch(/Send this in your Telegram group to make it Vigil's: \/claim \S+/);
    expect(terminal.output()).not.toContain(PASSPHRASE);

    terminal.type("\x03");
    expect(await terminal.exited).toBe(0);
    // The passphrase typed twice is the one that opens the store.
    const show = await vigil(["config", "show"], { VIGIL_DATA_DIR: dataDir, VIGIL_PASSPHRASE: PASSPHRASE });
    expect(show.stderr).toBe("");
    expect(show.code).toBe(0);
  });

  it("runs with the store where it was created when the answer to \"Data directory\" is another folder", { timeout: 180_000 }, async () => {
    const root = await tempDir();
    const chosen = path.join(root, "chosen");
    const terminal = vigilOnTerminal(["start"], { VIGIL_DATA_DIR: path.join(root, "data"), VIGIL_TELEGRAM_API_ROOT: tg.apiRoot, VIGIL_LOG_LEVEL: "warn" });
    const answer = answerer(terminal);
    await answer("Bot token from @BotFather", tg.token);
    await answer("Protect the store with (1) a passphrase or (2) a key file", "1");
    await answer("Passphrase (8 characters or more)", PASSPHRASE);
    await answer("Type it again", PASSPHRASE);
    await answer("Data directory", chosen);
    await until(() => /\/claim \S+/.test(terminal.output()) || terminal.output().includes("There is no Vigil store"), 120_000, "the claim line or a refusal");
    expect(terminal.output()).toContain(`Set VIGIL_DATA_DIR=${chosen} whenever you run vigil, so it finds this store.`);
    expect(terminal.output()).toMatch(/\/claim \S+/);
    // The running Vigil holds the chosen folder's lock.
    expect((await vigil(["health"], { VIGIL_DATA_DIR: chosen })).code).toBe(0);
    terminal.type("\x03");
    expect(await terminal.exited).toBe(0);
  });
});
