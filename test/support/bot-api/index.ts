/** The Telegram Bot API stand-in: see server.ts. */
export { BotApiStandIn, imageSize, inlineButtons, type BotApiOptions, type Fault, type Injected, type InjectedMessage, type InjectedPress, type RecordedRequest, type UploadedFile, type WaitOptions } from "./server.js";
export { parseTelegramHtml, HtmlParseError } from "./html.js";
