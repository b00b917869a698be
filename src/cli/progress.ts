/** Progress bars on stderr for slow things (model download, replay, rekey). Silent when stderr is not a terminal. */
import cliProgress from "cli-progress";

export interface Progress {
  update(done: number, total?: number): void;
  stop(): void;
}

export function progressBar(label: string, options: { unit?: "bytes" | "items"; force?: boolean } = {}): Progress {
  if (!process.stderr.isTTY && !options.force) {
    let lastPct = -1;
    // Not a terminal (CI, systemd): a line every 25 %, so logs still show it moving.
    return {
      update(done, total) {
        if (!total) return;
        const pct = Math.floor((done / total) * 4) * 25;
        if (pct !== lastPct) {
          lastPct = pct;
          process.stderr.write(`${label}: ${pct}%\n`);
        }
      },
      stop() {},
    };
  }
  const bytes = options.unit === "bytes";
  const bar = new cliProgress.SingleBar(
    {
      stream: process.stderr,
      format: `${label} [{bar}] {percentage}% | ${bytes ? "{doneMB}/{totalMB} MB" : "{value}/{total}"} | {eta_formatted}`,
      hideCursor: true,
      clearOnComplete: false,
    },
    cliProgress.Presets.shades_classic,
  );
  let started = false;
  return {
    update(done, total = 0) {
      const payload = bytes ? { doneMB: (done / 1e6).toFixed(1), totalMB: (total / 1e6).toFixed(1) } : {};
      if (!started) {
        bar.start(total || 1, done, payload);
        started = true;
      } else {
        if (total) bar.setTotal(total);
        bar.update(done, payload);
      }
    },
    stop() {
      if (started) bar.stop();
    },
  };
}
