/**
 * Thinning a camera's frames down to the detection rate inside ffmpeg, without
 * holding any frame back.
 *
 * ffmpeg's `fps` filter picks, for each output tick, the input frame nearest to
 * it, so it cannot let a frame go before it has seen the next one: one frame
 * interval of delay (measured over RTSP: 100 ms at 10 fps, 200 ms at 5 fps). This
 * `select` expression decides on each frame as it arrives: it keeps a frame
 * when the frame is nearer to the next due time than the frame after it would be
 * (half the input's frame interval of look-ahead, estimated from the previous
 * frame), then moves the due time on by one output interval. The due time lives
 * in the expression's variable 0 (`st`/`ld`), so the average rate is exact for
 * any input rate (7, 12.5, 29.97 fps...), as with `fps`. After a gap in the
 * stream, or timestamps jumping back by more than 2 s, the grid restarts at the
 * current frame, and a frame without a timestamp is always kept: odd timestamps
 * never stall the stream.
 *
 * The output must not be resampled to a constant rate afterwards: pair it with
 * `-fps_mode passthrough`.
 */

/** The `-vf` filter that keeps `fps` frames per second (every frame of a slower input). */
export function rateFilter(fps: number): string {
  const interval = String(1 / fps);
  const halfInputInterval = "if(isnan(prev_t),0,(t-prev_t)/2)";
  const due = "ld(0)";
  const nextDue = `if(gt(abs(t-${due}),${interval}),t+${interval},${due}+${interval})`;
  const keep = `gte(t+${halfInputInterval},${due})+lt(t,${due}-2)`;
  const expression = `if(isnan(t),1,if(${keep},st(0,${nextDue}),0))`;
  // Inside a filter graph a comma separates filters: the expression's own commas are escaped.
  return `select=${expression.replaceAll(",", "\\,")}`;
}
