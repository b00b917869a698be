/** Waiting on real time in tests: until a condition holds (generous timeouts, no timing assertions). */
export async function until(condition: () => boolean | Promise<boolean>, timeoutMs = 30_000, what = "the condition"): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** Sleeps until wall-clock time `at` (epoch ms). */
export function sleepUntil(at: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, Math.max(0, at - Date.now())));
}
