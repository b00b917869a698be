/**
 * The commands Vigil understands, with the descriptions Telegram shows in its
 * command menu (setMyCommands) and /help repeats. One list, so the menu, the
 * help and the handlers cannot drift apart.
 */
import type { BotCommand } from "grammy/types";

export const COMMANDS = [
  { command: "help", description: "What Vigil can do" },
  { command: "status", description: "The mode; each camera's state and settings" },
  { command: "mode", description: "The mode, with buttons to change it: /mode [off|home|away|night]" },
  { command: "arm", description: "Arm (away), or one camera: /arm [camera|all]" },
  { command: "disarm", description: "Disarm (off), or one camera: /disarm [camera|all]" },
  { command: "schedule", description: "Modes by the clock: /schedule night 23:00-07:00, /schedule off" },
  { command: "exitdelay", description: "Time to leave after arming: /exitdelay 60s|off" },
  { command: "quiet", description: "Alerts without a sound at night: /quiet 22:00-07:00|off" },
  { command: "cameras", description: "List the cameras" },
  { command: "snapshot", description: "The current picture: /snapshot [camera|all]" },
  { command: "mute", description: "Silence alerts for a while: /mute [camera] [30m|2h|1d]" },
  { command: "unmute", description: "Alerts again: /unmute [camera]" },
  { command: "set", description: "Change a setting: /set [camera] <setting> <value>" },
  { command: "get", description: "Show the settings: /get [camera]" },
  { command: "events", description: "The last events in one picture, with their clips: /events [n]" },
  { command: "clip", description: "Record the next seconds of a camera: /clip <camera> [seconds]" },
  { command: "addcamera", description: "Add a camera, step by step" },
  { command: "removecamera", description: "Remove a camera: /removecamera <camera>" },
  { command: "rename", description: "Rename a camera: /rename <camera> <new name>" },
  { command: "sensors", description: "Door and window sensors: state, last change, battery" },
  { command: "addsensor", description: "Add a Zigbee2MQTT door sensor seen on the broker" },
  { command: "satellites", description: "The boxes with cameras for this one: /satellites [remove <name>]" },
  { command: "adopt", description: "Adopt a satellite with the code it printed: /adopt <name> <code>" },
  { command: "admins", description: "Who may control Vigil: /admins [add|remove]" },
  { command: "heartbeat", description: "A silent message each day that Vigil is running: /heartbeat on|off" },
  { command: "cancel", description: "Stop adding a camera" },
] as const satisfies readonly BotCommand[];

export type CommandName = (typeof COMMANDS)[number]["command"];

/** Every command name, plus the ones not in the menu (`/start`, `/claim`). */
export const KNOWN_COMMANDS: ReadonlySet<string> = new Set<string>([...COMMANDS.map((c) => c.command), "start", "claim"]);

/** The scopes the menu is registered for: groups and private chats alike. */
export const COMMAND_SCOPES = [{ type: "all_group_chats" }, { type: "all_private_chats" }] as const;
