/**
 * Where ffmpeg's frames wait for the consumer. Live: one slot, the newest frame
 * wins and every frame it replaces is counted as dropped, so a slow consumer
 * always sees the present and never stalls ffmpeg. Lossless (replay): a queue
 * whose writer is told to wait while it holds frames, so ffmpeg is paused through
 * the pipe and every frame of the clip is analysed.
 */
import type { Frame } from "../frame.js";

export interface FrameSlot {
  /** Called by the producer. In lossless mode `ready` runs once the consumer has caught up. */
  put(frame: Frame, ready?: () => void): void;
  /** The next frame, or undefined once the slot is closed and empty. Rejects with the close error. */
  take(): Promise<Frame | undefined>;
  /** Live: the frame waiting now, taken without waiting for one; undefined when none waits (and always in lossless mode). */
  poll(): Frame | undefined;
  /** No more frames will come; pending and later `take` calls end (or reject with `error`). */
  close(error?: Error): void;
  readonly dropped: number;
  /** The consumer waits in `take` for the next frame. */
  readonly idle: boolean;
}

export interface FrameSlotOptions {
  lossless?: boolean;
  /** Live: told of each frame a newer one replaced, which no consumer has seen (its buffer can be reused). */
  onDrop?: (frame: Frame) => void;
}

export function createFrameSlot(options: FrameSlotOptions = {}): FrameSlot {
  const queue: Frame[] = [];
  let waiter: ((frame: Frame | undefined) => void) | undefined;
  let failWaiter: ((error: Error) => void) | undefined;
  let pendingReady: (() => void) | undefined;
  let closed = false;
  let closeError: Error | undefined;
  let dropped = 0;

  const release = () => {
    const ready = pendingReady;
    pendingReady = undefined;
    ready?.();
  };

  return {
    get dropped() {
      return dropped;
    },
    get idle() {
      return waiter !== undefined;
    },
    put(frame, ready) {
      if (closed) {
        ready?.();
        return;
      }
      if (waiter) {
        const w = waiter;
        waiter = undefined;
        failWaiter = undefined;
        w(frame);
        ready?.();
        return;
      }
      if (options.lossless) {
        queue.push(frame);
        // Chained: only the latest writer waits; earlier ones were already released.
        release();
        pendingReady = ready;
        return;
      }
      dropped += queue.length;
      for (const replaced of queue.splice(0)) options.onDrop?.(replaced);
      queue.push(frame);
      ready?.();
    },
    take() {
      const next = queue.shift();
      if (next) {
        if (queue.length === 0) release();
        return Promise.resolve(next);
      }
      release();
      if (closed) return closeError ? Promise.reject(closeError) : Promise.resolve(undefined);
      return new Promise<Frame | undefined>((resolve, reject) => {
        waiter = resolve;
        failWaiter = reject;
      });
    },
    poll() {
      return options.lossless ? undefined : queue.shift();
    },
    close(error) {
      if (closed) return;
      closed = true;
      closeError = error;
      release();
      if (waiter) {
        const [w, f] = [waiter, failWaiter];
        waiter = undefined;
        failWaiter = undefined;
        if (error && queue.length === 0) f?.(error);
        else w(queue.shift());
      }
    },
  };
}
