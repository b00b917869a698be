/**
 * `/addcamera`: a conversation (@grammyjs/conversations). Name → a search of
 * the LAN for ONVIF cameras ("Looking for cameras on your network…", edited
 * into buttons, one per camera found, and "Enter a URL myself") → for a camera
 * found: username → password → its streams read over ONVIF (the sub-stream for
 * detection, the main stream for recording); otherwise the stream URL (with the
 * patterns of common brands) → username → password (its message is deleted as
 * soon as it is read) → Vigil connects and shows the first frame → Save /
 * Cancel. A camera that does not answer ONVIF, a wrong URL, a refused
 * connection, bad credentials or a timeout each get one clear sentence and buttons to retry or change what was
 * wrong: never a dead end. `/cancel` leaves at any step; any other command
 * leaves too and then runs.
 *
 * Questions are sent with force_reply, so the answers reach the bot in groups
 * with privacy mode on (there a bot only sees replies to itself). Conversation
 * state lives in memory only, per chat and user: a restart forgets a half-added
 * camera, and the password is never written anywhere but the encrypted store.
 */
import { conversations, createConversation, type Conversation, type ConversationData, type VersionedState } from "@grammyjs/conversations";
import { Composer, InputFile, type Context } from "grammy";
import type { ForceReply, InlineKeyboardButton } from "grammy/types";
import { findCamera, validateCameraName, validateSiteName } from "../../domain/camera.js";
import { describeFoundCamera, KNOWN_URL_PATTERNS, NO_CAMERA_FOUND, type CameraStreams, type FoundCamera } from "../../domain/discovery.js";
import { parseStreamUrl } from "../../domain/stream-url.js";
import { CameraConnectError, InputError, OnvifError, userMessage } from "../../errors.js";
import type { BotContext, FeatureDeps } from "../context.js";
import { html, joinHtml, shorten, type Html } from "../html.js";
import { say } from "../reply.js";

export const ADD_CAMERA = "addcamera";

/** How long a question waits for its answer before the conversation is dropped. */
const MAX_WAIT_MS = 15 * 60_000;

/** Cameras offered as buttons; a network with more is rare, and the rest can be typed as a URL. */
const MAX_CAMERA_BUTTONS = 12;

const ONVIF_HINTS: Record<OnvifError["reason"] | "unknown", string> = {
  unauthorized: "Check the username and password (the camera's own login, often admin).",
  unreachable: "Check that the camera is on; some cameras need ONVIF switched on in their settings.",
  timeout: "Check that the camera is on and on this network.",
  invalid: "It does not answer like an ONVIF camera: enter its URL yourself.",
  "too-large": "It does not answer like an ONVIF camera: enter its URL yourself.",
  "no-streams": "Enter its stream URL yourself.",
  fault: "Some cameras need ONVIF (or an ONVIF user) switched on in their settings; or enter its URL yourself.",
  network: "Enter its stream URL yourself.",
  unknown: "Try again, or enter its URL yourself.",
};

const FAILURE_HINTS: Record<CameraConnectError["reason"], string> = {
  unauthorized: "Check the username and password.",
  refused: "Check the port (RTSP is usually 554) and that the camera's RTSP stream is switched on.",
  "not-found": "Check the path after the address; the patterns I listed are the usual ones.",
  busy: "Try again in a moment; if it stays busy, close another app or recorder that is watching it.",
  timeout: "Check that the camera is on and its address is right.",
  unreachable: "Check the camera's address: this machine cannot reach it.",
  invalid: "Check the URL: it does not lead to a video stream.",
  unknown: "Check the URL, then try again.",
};

type Convo = Conversation<BotContext, Context>;
type ProbeFailure = { ok: false; sentence: string; reason: CameraConnectError["reason"] };
type SearchOutcome = { ok: true; cameras: FoundCamera[] } | { ok: false; sentence: string };
type StreamsOutcome = { ok: true; streams: CameraStreams } | { ok: false; sentence: string; reason: OnvifError["reason"] | "unknown" };
type ProbeOutcome = { ok: true; jpeg: Buffer; width: number; height: number; firstFrameMs: number } | ProbeFailure;
/** The same, as the replay log keeps it: the JPEG as base64 text. */
type StoredProbeOutcome = { ok: true; jpeg: string; width: number; height: number; firstFrameMs: number } | ProbeFailure;

function forceReply(placeholder: string): { reply_markup: ForceReply } {
  return { reply_markup: { force_reply: true, selective: true, input_field_placeholder: placeholder } };
}

/** In-memory conversation storage: a half-added camera (and its password) never touches the disk. */
function memoryStorage() {
  const map = new Map<string, VersionedState<ConversationData>>();
  return {
    read: (key: string) => map.get(key),
    write: (key: string, state: VersionedState<ConversationData>) => void map.set(key, state),
    delete: (key: string) => void map.delete(key),
  };
}

export function createAddCameraFeature(deps: FeatureDeps): Composer<BotContext> {
  const composer = new Composer<BotContext>();
  const { control, logger } = deps;

  async function addCamera(conversation: Convo, first: Context): Promise<void> {
    const nonce = Math.floor((await conversation.random()) * 36 ** 6).toString(36);
    let current: Context = first;
    let name = "";
    let url = "";
    let username: string | undefined;
    let password: string | undefined;
    /** The main stream, when the camera's own (ONVIF) answer named one besides the detection stream. */
    let recordUrl: string | undefined;
    let recordSize = "";

    const leaveForCommand = async (ctx: Context): Promise<never> => {
      await say(ctx, html`Stopped adding the camera; nothing was saved.`);
      return conversation.halt({ next: true });
    };

    /** The next text message of this user; other updates go on to the rest of the bot. */
    const waitText = async (): Promise<Context & { message: { text: string } }> => {
      for (;;) {
        const next = await conversation.wait({ maxMilliseconds: MAX_WAIT_MS });
        if (next.message?.text !== undefined) {
          if (next.message.text.startsWith("/")) await leaveForCommand(next);
          current = next;
          return next as Context & { message: { text: string } };
        }
        if (next.message) {
          await say(next, html`Please answer with text, or /cancel.`);
          continue;
        }
        await conversation.skip({ next: true });
      }
    };

    /** A press of one of this conversation's buttons (`ac:<choice>:<nonce>`). */
    const waitChoice = async (choices: readonly string[]): Promise<string> => {
      for (;;) {
        const next = await conversation.wait({ maxMilliseconds: MAX_WAIT_MS });
        const match = /^ac:([a-z0-9]+):([0-9a-z]+)$/.exec(next.callbackQuery?.data ?? "");
        if (match && match[2] === nonce && choices.includes(match[1]!)) {
          await next.answerCallbackQuery();
          current = next;
          return match[1]!;
        }
        if (next.message?.text?.startsWith("/")) await leaveForCommand(next);
        if (next.message) {
          await say(next, html`Use the buttons above, or /cancel.`);
          continue;
        }
        await conversation.skip({ next: true });
      }
    };

    const button = (text: string, choice: string): InlineKeyboardButton => ({ text, callback_data: `ac:${choice}:${nonce}` });

    /** Deletes a message that holds a password; says so when it cannot (no delete right in the group). */
    const deleteSecret = async (ctx: Context): Promise<void> => {
      const deleted = await ctx.deleteMessage().then(
        () => true,
        () => false,
      );
      if (!deleted) await say(ctx, html`I could not delete your message with the password (in a group I need the "Delete messages" admin right): please delete it yourself.`);
    };

    const askName = async (): Promise<void> => {
      await say(current, html`What should the camera be called? Letters, digits, _ or -, for example front_door.`, forceReply("front_door"));
      for (;;) {
        const answer = (await waitText()).message.text;
        try {
          // `garage/porch` puts the camera on the satellite garage (the control says whether there is one).
          const slash = answer.indexOf("/");
          const valid = slash < 0 ? validateCameraName(answer) : `${validateSiteName(answer.slice(0, slash))}/${validateCameraName(answer.slice(slash + 1))}`;
          // Read through `external`: a replay must see the answer of the first run, not today's cameras.
          const taken = await conversation.external(() => findCamera(control.cameras(), valid) !== undefined);
          if (taken) throw new InputError(`There is already a camera called ${valid}; choose another name.`);
          name = valid;
          return;
        } catch (error) {
          await say(current, html`${userMessage(error)} Try another name.`, forceReply("front_door"));
        }
      }
    };

    /** Returns true when the URL carried the username and password (so there is nothing more to ask). */
    const askUrl = async (): Promise<boolean> => {
      const patterns = KNOWN_URL_PATTERNS.map(([brand, pattern]) => html`${brand}: <code>${pattern}</code>`);
      await say(current, joinHtml([html`The camera's stream URL? Its sub-stream is best for detection. Common ones (put the camera's address in place of IP):`, ...patterns, html`I ask for the username and password next.`]), forceReply("rtsp://192.168.1.20:554/..."));
      for (;;) {
        const answer = await waitText();
        try {
          const parsed = parseStreamUrl(answer.message.text);
          url = parsed.url;
          // A URL typed by hand: the main stream the camera named (if any) may not belong to it.
          recordUrl = undefined;
          if (parsed.password !== undefined) {
            username = parsed.username;
            password = parsed.password;
            await deleteSecret(answer);
            await say(answer, html`I took the username and password from the URL and deleted your message.`);
            return true;
          }
          if (parsed.username !== undefined) username = parsed.username;
          return false;
        } catch (error) {
          await say(current, html`${userMessage(error)}`, forceReply("rtsp://192.168.1.20:554/..."));
        }
      }
    };

    const askLogin = async (): Promise<void> => {
      await say(current, html`The camera's username? Send - if it needs none.`, forceReply(username ?? "admin"));
      const user = (await waitText()).message.text.trim();
      if (user === "-") {
        username = undefined;
        password = undefined;
        return;
      }
      username = shorten(user, 128);
      await say(current, html`The password for ${username}? I delete your message as soon as I have read it.`, forceReply("password"));
      const answer = await waitText();
      password = answer.message.text;
      await deleteSecret(answer);
    };

    const probe = (): Promise<ProbeOutcome> =>
      conversation.external({
        task: async (): Promise<ProbeOutcome> => {
          try {
            const result = await control.probeCamera({ name, url, username, password });
            return { ok: true, ...result };
          } catch (error) {
            // Said in the chat; logged too, so that a camera that fails only now and then (a busy box, a flaky network) shows in the log.
            logger.warn({ err: error, camera: name }, "/addcamera: the camera could not be opened");
            return { ok: false, sentence: userMessage(error), reason: error instanceof CameraConnectError ? error.reason : "unknown" };
          }
        },
        beforeStore: (outcome: ProbeOutcome): StoredProbeOutcome => (outcome.ok ? { ...outcome, jpeg: outcome.jpeg.toString("base64") } : outcome),
        afterLoad: (stored: StoredProbeOutcome): ProbeOutcome => (stored.ok ? { ...stored, jpeg: Buffer.from(stored.jpeg, "base64") } : stored),
      });

    /** Searches the LAN, saying so, and turns the "Looking…" message into the result. Resolves with the camera picked, if any. */
    const searchAndPick = async (): Promise<FoundCamera | undefined> => {
      const looking = await say(current, html`Looking for cameras on your network…`);
      const outcome = await conversation.external(async (): Promise<SearchOutcome> => {
        try {
          return { ok: true, cameras: await control.findCameras() };
        } catch (error) {
          logger.warn({ err: error }, "the camera search failed");
          return { ok: false, sentence: userMessage(error) };
        }
      });
      const edit = (text: Html, buttons?: InlineKeyboardButton[][]) =>
        current.api.editMessageText(looking.chat.id, looking.message_id, text.value, { parse_mode: "HTML", link_preview_options: { is_disabled: true }, ...(buttons ? { reply_markup: { inline_keyboard: buttons } } : {}) }).catch(() => undefined);
      if (!outcome.ok || outcome.cameras.length === 0) {
        await edit(html`${outcome.ok ? NO_CAMERA_FOUND : outcome.sentence}`);
        return undefined;
      }
      const shown = outcome.cameras.slice(0, MAX_CAMERA_BUTTONS);
      const count = outcome.cameras.length === 1 ? "one camera" : `${outcome.cameras.length} cameras`;
      const more = outcome.cameras.length > shown.length ? html` (the first ${shown.length} are listed)` : html``;
      await edit(html`I found ${count} on your network${more}. Which one is it?`, [
        ...shown.map((camera, i) => [button(shorten(`${describeFoundCamera(camera)} · ${camera.address}`, 60), `cam${i}`)]),
        [button("Enter a URL myself", "url")],
      ]);
      const choice = await waitChoice([...shown.map((_c, i) => `cam${i}`), "url"]);
      const picked = choice === "url" ? undefined : shown[Number(choice.slice(3))];
      await edit(picked ? html`Adding ${describeFoundCamera(picked)} at ${picked.address}.` : html`I found ${count} on your network; you chose to enter a URL yourself.`);
      return picked;
    };

    /**
     * Reads a found camera's streams over ONVIF with the login. Resolves "ok" (url and
     * recordUrl are set), "url" (the user will type the URL) or "cancel".
     */
    const readStreams = async (camera: FoundCamera): Promise<"ok" | "url" | "cancel"> => {
      for (;;) {
        await say(current, html`Asking ${describeFoundCamera(camera)} at ${camera.address} for its streams…`);
        const outcome = await conversation.external(async (): Promise<StreamsOutcome> => {
          try {
            return { ok: true, streams: await control.cameraStreams(camera, { username, password }) };
          } catch (error) {
            logger.info({ err: error, camera: camera.address }, "could not read a camera's streams over ONVIF");
            return { ok: false, sentence: userMessage(error), reason: error instanceof OnvifError ? error.reason : "unknown" };
          }
        });
        if (outcome.ok) {
          const { detect, record, videoSources } = outcome.streams;
          url = detect.url;
          recordUrl = record.url === detect.url ? undefined : record.url;
          recordSize = recordUrl ? `${record.width}x${record.height}` : "";
          const inputs = videoSources > 1 ? html` It has ${videoSources} video inputs; these are the first one's.` : html``;
          await say(current, recordUrl ? html`Its ${detect.width}x${detect.height} sub-stream is for detection and its ${recordSize} main stream for clips.${inputs}` : html`It has one stream, ${detect.width}x${detect.height}, for detection and clips.${inputs}`);
          return "ok";
        }
        await say(current, html`${outcome.sentence} ${ONVIF_HINTS[outcome.reason]}`, {
          reply_markup: { inline_keyboard: [[button("Try again", "retry"), button("Change login", "login")], [button("Enter a URL myself", "url"), button("Cancel", "cancel")]] },
        });
        const choice = await waitChoice(["retry", "login", "url", "cancel"]);
        if (choice === "cancel" || choice === "url") return choice;
        if (choice === "login") await askLogin();
      }
    };

    await say(current, html`Adding a camera; /cancel stops at any step.`);
    await askName();
    const searching = await conversation.external(() => control.cameraSearchEnabled());
    const found = searching ? await searchAndPick() : undefined;
    let route: "ok" | "url" | "cancel" = "url";
    if (found) {
      await askLogin();
      route = await readStreams(found);
    }
    if (route === "cancel") {
      await say(current, html`Cancelled; nothing was saved.`);
      return;
    }
    if (route === "url" && !(await askUrl())) await askLogin();
    for (;;) {
      await say(current, html`Connecting to <code>${url}</code>…`);
      const outcome = await probe();
      if (!outcome.ok) {
        await say(current, html`${outcome.sentence} ${FAILURE_HINTS[outcome.reason]}`, {
          reply_markup: { inline_keyboard: [[button("Try again", "retry"), button("Change URL", "url")], [button("Change login", "login"), button("Cancel", "cancel")]] },
        });
        const choice = await waitChoice(["retry", "url", "login", "cancel"]);
        if (choice === "cancel") break;
        if (choice === "url" && (await askUrl())) continue;
        if (choice === "login" || choice === "url") await askLogin();
        continue;
      }
      const photo = await current.replyWithPhoto(new InputFile(outcome.jpeg, "camera.jpg"), {
        caption: html`This is what <b>${name}</b> sees (${outcome.width}x${outcome.height}, first picture after ${(outcome.firstFrameMs / 1000).toFixed(1)} s)${recordUrl ? html`; clips come from its ${recordSize} main stream` : html``}. Save it?`.value,
        parse_mode: "HTML",
        reply_markup: { inline_keyboard: [[button("Save", "save"), button("Cancel", "cancel")]] },
      });
      const choice = await waitChoice(["save", "cancel"]);
      const settle = (caption: Html) => current.api.editMessageCaption(photo.chat.id, photo.message_id, { caption: caption.value, parse_mode: "HTML" }).catch(() => undefined);
      if (choice === "cancel") {
        await settle(html`<b>${name}</b>: not saved.`);
        break;
      }
      for (;;) {
        const saved = await conversation.external(async () => {
          try {
            return { ok: true as const, name: (await control.addCamera({ name, url, username, password, recordUrl })).name };
          } catch (error) {
            return { ok: false as const, sentence: userMessage(error) };
          }
        });
        if (saved.ok) {
          await settle(html`<b>${saved.name}</b>: saved.`);
          await say(current, html`Saved ${saved.name}. It is armed and alerts here when the system is armed (/arm). /set ${saved.name} sensitivity 5000 and the other settings tune it.`);
          return;
        }
        await say(current, html`${saved.sentence}`);
        await askName();
      }
    }
    await say(current, html`Cancelled; nothing was saved.`);
  }

  composer.use(
    conversations<BotContext, Context>({
      // One conversation per person per chat: two admins can each add a camera in the same group.
      storage: { type: "key", getStorageKey: (ctx) => (ctx.chat && ctx.from ? `${ctx.chat.id}/${ctx.from.id}` : undefined), adapter: memoryStorage() },
    }),
  );

  composer.command("cancel", async (ctx) => {
    if (!ctx.conversation.active(ADD_CAMERA)) return say(ctx, html`There is nothing to cancel.`);
    await ctx.conversation.exit(ADD_CAMERA);
    await say(ctx, html`Stopped adding the camera; nothing was saved.`);
  });

  // No API transformers inside: the plugin replays the conversation on every update, and a
  // transformer installed here would see every earlier call again (a flood-limit count would
  // grow with each replay). The conversation's few messages go out plain.
  composer.use(createConversation<BotContext, Context>(addCamera, { id: ADD_CAMERA, maxMillisecondsToWait: MAX_WAIT_MS }));

  composer.command("addcamera", async (ctx) => {
    if (ctx.conversation.active(ADD_CAMERA)) return say(ctx, html`You are already adding a camera: answer my last question, or /cancel.`);
    await ctx.conversation.enter(ADD_CAMERA);
  });

  return composer;
}
