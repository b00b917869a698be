/** Recording: per-camera ring buffers in memory, event clips, on-demand clips. */
export { createRecorder, type RecorderOptions, CLIP_DEFAULT_SECONDS, CLIP_MAX_SECONDS, EVENTS_DEFAULT, EVENTS_MAX } from "./recorder.js";
export { BOT_UPLOAD_LIMIT } from "./assemble.js";
