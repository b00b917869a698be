/**
 * A stand-in ONVIF camera on loopback, for tests: no open ONVIF simulator is
 * packaged (../shared/RECIPES.md), so this answers what a Hikvision or Reolink
 * camera answers, the way they answer it.
 *
 * - WS-Discovery: it joins a multicast group **on 127.0.0.1 only** and answers
 *   a Probe for NetworkVideoTransmitter (or with no Types) by unicast
 *   ProbeMatches: RelatesTo the probe's MessageID, its endpoint urn, Types,
 *   Scopes naming the model and hardware, XAddrs of its device service.
 * - SOAP over HTTP (127.0.0.1): GetSystemDateAndTime without a login (its clock
 *   may be set off ours), GetCapabilities, GetServices, GetProfiles, GetStreamUri
 *   with a WS-Security UsernameToken whose PasswordDigest it checks for real
 *   (SHA-1 of nonce, Created and password; Created within a minute of its own
 *   clock; a nonce used twice is refused). A wrong login gets the SOAP fault
 *   `ter:NotAuthorized` with HTTP 400 (Reolink) or 401 (Hikvision).
 * - Faults to order: no answer to discovery, a dead HTTP service, replies that
 *   are not XML, replies of 50 MB, GetCapabilities refused (GetServices only).
 *
 * It is written from the ONVIF Core and Media specifications and real devices'
 * captures, not from Vigil's client, and parses requests with its own checks.
 */
import { createHash, randomBytes, randomUUID } from "node:crypto";
import dgram from "node:dgram";
import http from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { DOMParser, type Element } from "@xmldom/xmldom";
import type { CameraDiscovery } from "../../src/domain/discovery.js";
import { createOnvifDiscovery } from "../../src/onvif/index.js";

export interface DeviceProfile {
  token: string;
  name: string;
  width: number;
  height: number;
  encoding?: string;
  /** What GetStreamUri answers for this profile (the RTSP test server's URL, without credentials). */
  streamUri: string;
  /** Default `VideoSource_1`. */
  source?: string;
}

export interface OnvifDeviceOptions {
  /** Scopes `name/` and `hardware/`. */
  name: string;
  hardware: string;
  username: string;
  password: string;
  profiles: DeviceProfile[];
  /** The multicast group and port it listens on (joined on 127.0.0.1). Undefined: it does not answer discovery. */
  discovery?: { address: string; port: number } | undefined;
  /** Its clock minus the real one, ms (a camera whose clock was never set). Default 0. */
  clockSkewMs?: number;
  /** HTTP status of a NotAuthorized fault: 400 like Reolink, 401 like Hikvision. Default 400. */
  authFaultStatus?: 400 | 401;
  /** Refuses GetCapabilities (ActionNotSupported): the client must use GetServices. Default false. */
  noCapabilities?: boolean;
  /** The host its GetCapabilities/GetServices name for the media service (cameras report their own idea of their address). Default 127.0.0.1. */
  mediaHost?: string;
  /** What its HTTP service does: answer (default), answer with malformed XML, with 50 MB, or nothing listens. */
  http?: "ok" | "malformed" | "huge" | "dead";
  /**
   * How it checks a login: a WS-Security UsernameToken (default), or HTTP Digest (a 401 with a
   * challenge first, as cameras set to "digest" authentication do; the UsernameToken is then ignored).
   */
  login?: "ws-security" | "http-digest";
  /** Sends this datagram before its real ProbeMatches (a hostile or broken device on the LAN). */
  junkBeforeProbeMatch?: string;
}

/** One SOAP request as the device saw it. */
export interface DeviceRequest {
  operation: string;
  /** The UsernameToken was present and valid. */
  authenticated: boolean;
  /** Why a UsernameToken was refused. */
  refused?: string;
}

const NS = {
  env: "http://www.w3.org/2003/05/soap-envelope",
  tds: "http://www.onvif.org/ver10/device/wsdl",
  trt: "http://www.onvif.org/ver10/media/wsdl",
  tt: "http://www.onvif.org/ver10/schema",
  ter: "http://www.onvif.org/ver10/error",
  wsse: "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd",
  wsu: "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd",
  wsa: "http://schemas.xmlsoap.org/ws/2004/08/addressing",
  d: "http://schemas.xmlsoap.org/ws/2005/04/discovery",
  dn: "http://www.onvif.org/ver10/network/wsdl",
};
const PASSWORD_DIGEST = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-username-token-profile-1.0#PasswordDigest";
/** How far a UsernameToken's Created may be from the device's clock. */
const CLOCK_WINDOW_MS = 60_000;

const el = (node: Element | undefined, name: string): Element | undefined => {
  for (let c = node?.firstChild; c; c = c.nextSibling) if (c.nodeType === 1 && (c as Element).localName === name) return c as Element;
  return undefined;
};
const txt = (node: Element | undefined) => node?.textContent?.trim() ?? "";

function envelope(body: string, header = ""): string {
  return (
    `<?xml version="1.0" encoding="UTF-8"?>\n<env:Envelope xmlns:env="${NS.env}" xmlns:tds="${NS.tds}" xmlns:trt="${NS.trt}" xmlns:tt="${NS.tt}" xmlns:ter="${NS.ter}" xmlns:wsa="${NS.wsa}" xmlns:d="${NS.d}" xmlns:dn="${NS.dn}">` +
    `${header ? `<env:Header>${header}</env:Header>` : "<env:Header/>"}<env:Body>${body}</env:Body></env:Envelope>`
  );
}

function fault(subcode: string, reason: string, code = "env:Sender"): string {
  return envelope(`<env:Fault><env:Code><env:Value>${code}</env:Value><env:Subcode><env:Value>${subcode}</env:Value></env:Subcode></env:Code><env:Reason><env:Text xml:lang="en">${reason}</env:Text></env:Reason></env:Fault>`);
}

export class OnvifTestDevice {
  readonly endpoint = `urn:uuid:${randomUUID()}`;
  readonly requests: DeviceRequest[] = [];
  /** Probes it answered. */
  probes = 0;
  /** Answers whose connection the client closed before the device had sent them whole. */
  cutOff = 0;
  #http?: http.Server;
  #udp?: dgram.Socket;
  #port = 0;
  readonly #sockets = new Set<Socket>();
  readonly #nonces = new Set<string>();
  readonly #digestNonces = new Set<string>();

  private constructor(readonly options: OnvifDeviceOptions) {}

  static async start(options: OnvifDeviceOptions): Promise<OnvifTestDevice> {
    const device = new OnvifTestDevice(options);
    await device.#startHttp();
    if (options.discovery) await device.#startDiscovery(options.discovery);
    return device;
  }

  /** Its device service URL, as its ProbeMatches give it. */
  get xaddr(): string {
    return `http://127.0.0.1:${this.#port}/onvif/device_service`;
  }

  async close(): Promise<void> {
    for (const socket of this.#sockets) socket.destroy();
    await Promise.all([
      new Promise<void>((resolve) => (this.#http ? this.#http.close(() => resolve()) : resolve())),
      new Promise<void>((resolve) => (this.#udp ? this.#udp.close(() => resolve()) : resolve())),
    ]);
  }

  // --- WS-Discovery ------------------------------------------------------------------

  async #startDiscovery(group: { address: string; port: number }): Promise<void> {
    const socket = dgram.createSocket({ type: "udp4", reuseAddr: true });
    this.#udp = socket;
    await new Promise<void>((resolve, reject) => {
      socket.once("error", reject);
      socket.bind(group.port, () => resolve());
    });
    // Loopback only: nothing of a test's search or answers leaves the machine.
    socket.addMembership(group.address, "127.0.0.1");
    socket.setMulticastInterface("127.0.0.1");
    socket.on("message", (msg, rinfo) => this.#onProbe(msg.toString("utf8"), rinfo));
  }

  #onProbe(xml: string, rinfo: dgram.RemoteInfo): void {
    let root: Element;
    try {
      root = new DOMParser({ onError: (level) => { if (level !== "warning") throw new Error("bad probe"); } }).parseFromString(xml, "text/xml").documentElement!;
    } catch {
      return; // a device ignores what it cannot read
    }
    const probe = el(el(root, "Body"), "Probe");
    const messageId = txt(el(el(root, "Header"), "MessageID"));
    if (!probe || !messageId) return;
    const types = txt(el(probe, "Types"));
    if (types && !/(^|[\s:])NetworkVideoTransmitter(\s|$)/.test(types)) return;
    this.probes++;
    const scopes = [
      "onvif://www.onvif.org/type/video_encoder",
      "onvif://www.onvif.org/Profile/Streaming",
      `onvif://www.onvif.org/name/${encodeURIComponent(this.options.name)}`,
      `onvif://www.onvif.org/hardware/${encodeURIComponent(this.options.hardware)}`,
      "onvif://www.onvif.org/location/city/hangzhou",
    ].join(" ");
    const header = `<wsa:MessageID>urn:uuid:${randomUUID()}</wsa:MessageID><wsa:RelatesTo>${messageId}</wsa:RelatesTo><wsa:To env:mustUnderstand="true">http://schemas.xmlsoap.org/ws/2004/08/addressing/role/anonymous</wsa:To><wsa:Action env:mustUnderstand="true">http://schemas.xmlsoap.org/ws/2005/04/discovery/ProbeMatches</wsa:Action><d:AppSequence InstanceId="1" MessageNumber="${this.probes}"/>`;
    const body = `<d:ProbeMatches><d:ProbeMatch><wsa:EndpointReference><wsa:Address>${this.endpoint}</wsa:Address></wsa:EndpointReference><d:Types>dn:NetworkVideoTransmitter tds:Device</d:Types><d:Scopes>${scopes}</d:Scopes><d:XAddrs>${this.xaddr} http://[fe80::1]:${this.#port}/onvif/device_service</d:XAddrs><d:MetadataVersion>10</d:MetadataVersion></d:ProbeMatch></d:ProbeMatches>`;
    const reply = Buffer.from(envelope(body, header));
    // Like a camera, a short random delay before answering (WS-Discovery's APP_MAX_DELAY is 500 ms).
    setTimeout(() => {
      if (this.options.junkBeforeProbeMatch) this.#udp?.send(this.options.junkBeforeProbeMatch, rinfo.port, rinfo.address);
      this.#udp?.send(reply, rinfo.port, rinfo.address);
    }, Math.floor(Math.random() * 100));
  }

  // --- SOAP over HTTP ----------------------------------------------------------------

  async #startHttp(): Promise<void> {
    const server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => this.#onRequest(Buffer.concat(chunks).toString("utf8"), req, res));
    });
    server.on("connection", (socket) => {
      this.#sockets.add(socket);
      socket.on("close", () => this.#sockets.delete(socket));
    });
    this.#http = server;
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    this.#port = (server.address() as AddressInfo).port;
    if (this.options.http === "dead") {
      // The port stays known (XAddrs name it) but nothing listens there any more.
      await new Promise<void>((resolve) => server.close(() => resolve()));
      this.#http = undefined;
    }
  }

  #send(res: http.ServerResponse, status: number, xml: string): void {
    res.writeHead(status, { "Content-Type": "application/soap+xml; charset=utf-8", "Content-Length": Buffer.byteLength(xml), Server: "App-webs/" });
    res.end(xml);
  }

  #onRequest(xml: string, req: http.IncomingMessage, res: http.ServerResponse): void {
    if (this.options.http === "malformed") return this.#send(res, 200, `<?xml version="1.0"?><env:Envelope xmlns:env="${NS.env}"><env:Body><trt:GetProfilesResponse>&bogus;<unclosed></env:Body>`);
    if (this.options.http === "huge") {
      // 50 MB of a well-formed start that never ends, without a Content-Length: only the client's bound stops it.
      res.writeHead(200, { "Content-Type": "application/soap+xml; charset=utf-8" });
      const chunk = Buffer.alloc(64 * 1024, "<tt:Profiles>");
      let sent = 0;
      const pump = () => {
        while (sent < 50 * 1024 * 1024) {
          sent += chunk.length;
          if (!res.write(chunk)) return void res.once("drain", pump);
        }
        res.end();
      };
      res.write(`<?xml version="1.0"?><env:Envelope xmlns:env="${NS.env}"><env:Body>`);
      res.on("error", () => undefined);
      res.on("close", () => {
        if (!res.writableFinished) this.cutOff++;
      });
      return pump();
    }

    let root: Element;
    try {
      root = new DOMParser({ onError: (level) => { if (level !== "warning") throw new Error("bad request"); } }).parseFromString(xml, "text/xml").documentElement!;
    } catch {
      return this.#send(res, 400, fault("ter:WellFormed", "The request is not well-formed XML"));
    }
    let request: Element | undefined;
    for (let c = el(root, "Body")?.firstChild; c; c = c.nextSibling) if (c.nodeType === 1) request = request ?? (c as Element);
    const operation = request?.localName ?? "";
    const digest = this.options.login === "http-digest";
    const auth = digest ? this.#checkDigest(req.headers.authorization) : this.#checkToken(el(el(root, "Header"), "Security"));
    this.requests.push({ operation, authenticated: auth.ok, ...(auth.ok ? {} : { refused: auth.why }) });

    // The ONVIF Core access class PRE_AUTH: the clock is always answered, so clients can fix their digest.
    if (operation === "GetSystemDateAndTime") return this.#send(res, 200, this.#dateTime());
    if (!auth.ok && digest) {
      // As Hikvision's web server answers: a challenge and an HTML page, not SOAP.
      const nonce = randomBytes(16).toString("hex");
      this.#digestNonces.add(nonce);
      const page = "<!DOCTYPE html><html><head><title>Document Error: Unauthorized</title></head><body><h2>Access Error: 401 -- Unauthorized</h2><p>Authentication Error</p></body></html>";
      res.writeHead(401, { "Content-Type": "text/html", "Content-Length": Buffer.byteLength(page), "WWW-Authenticate": `Digest qop="auth", realm="IP Camera(C12345)", nonce="${nonce}", stale="FALSE"` });
      return void res.end(page);
    }
    if (!auth.ok) return this.#send(res, this.options.authFaultStatus ?? 400, fault("ter:NotAuthorized", "Sender not Authorized"));

    const media = `http://${this.options.mediaHost ?? "127.0.0.1"}:${this.#port}/onvif/Media`;
    switch (operation) {
      case "GetCapabilities":
        if (this.options.noCapabilities) return this.#send(res, 400, fault("ter:ActionNotSupported", "Optional Action Not Implemented", "env:Receiver"));
        return this.#send(
          res,
          200,
          envelope(
            `<tds:GetCapabilitiesResponse><tds:Capabilities><tt:Device><tt:XAddr>${this.xaddr}</tt:XAddr></tt:Device>` +
              `<tt:Events><tt:XAddr>http://127.0.0.1:${this.#port}/onvif/Events</tt:XAddr><tt:WSSubscriptionPolicySupport>true</tt:WSSubscriptionPolicySupport><tt:WSPullPointSupport>true</tt:WSPullPointSupport></tt:Events>` +
              `<tt:Media><tt:XAddr>${media}</tt:XAddr><tt:StreamingCapabilities><tt:RTPMulticast>true</tt:RTPMulticast><tt:RTP_TCP>true</tt:RTP_TCP><tt:RTP_RTSP_TCP>true</tt:RTP_RTSP_TCP></tt:StreamingCapabilities></tt:Media>` +
              `</tds:Capabilities></tds:GetCapabilitiesResponse>`,
          ),
        );
      case "GetServices":
        return this.#send(
          res,
          200,
          envelope(
            `<tds:GetServicesResponse>` +
              `<tds:Service><tds:Namespace>${NS.tds}</tds:Namespace><tds:XAddr>${this.xaddr}</tds:XAddr><tds:Version><tt:Major>17</tt:Major><tt:Minor>12</tt:Minor></tds:Version></tds:Service>` +
              `<tds:Service><tds:Namespace>http://www.onvif.org/ver20/media/wsdl</tds:Namespace><tds:XAddr>http://127.0.0.1:${this.#port}/onvif/Media2</tds:XAddr><tds:Version><tt:Major>17</tt:Major><tt:Minor>12</tt:Minor></tds:Version></tds:Service>` +
              `<tds:Service><tds:Namespace>${NS.trt}</tds:Namespace><tds:XAddr>${media}</tds:XAddr><tds:Version><tt:Major>17</tt:Major><tt:Minor>12</tt:Minor></tds:Version></tds:Service>` +
              `</tds:GetServicesResponse>`,
          ),
        );
      case "GetProfiles":
        return this.#send(res, 200, envelope(`<trt:GetProfilesResponse>${this.options.profiles.map((p) => this.#profile(p)).join("")}</trt:GetProfilesResponse>`));
      case "GetStreamUri": {
        const token = txt(el(request, "ProfileToken"));
        const stream = txt(el(el(request, "StreamSetup"), "Stream"));
        const protocol = txt(el(el(el(request, "StreamSetup"), "Transport"), "Protocol"));
        const profile = this.options.profiles.find((p) => p.token === token);
        if (!profile) return this.#send(res, 400, fault("ter:InvalidArgVal", "No such profile", "env:Sender"));
        if (stream !== "RTP-Unicast" || protocol !== "RTSP") return this.#send(res, 400, fault("ter:InvalidStreamSetup", "Only RTP-Unicast over RTSP is offered here"));
        return this.#send(res, 200, envelope(`<trt:GetStreamUriResponse><trt:MediaUri><tt:Uri>${profile.streamUri.replace(/&/g, "&amp;")}</tt:Uri><tt:InvalidAfterConnect>false</tt:InvalidAfterConnect><tt:InvalidAfterReboot>false</tt:InvalidAfterReboot><tt:Timeout>PT60S</tt:Timeout></trt:MediaUri></trt:GetStreamUriResponse>`));
      }
      default:
        return this.#send(res, 400, fault("ter:ActionNotSupported", "Optional Action Not Implemented", "env:Receiver"));
    }
  }

  #checkToken(security: Element | undefined): { ok: true } | { ok: false; why: string } {
    const token = el(security, "UsernameToken");
    if (!token) return { ok: false, why: "no UsernameToken" };
    const password = el(token, "Password");
    if (password?.getAttribute("Type") !== PASSWORD_DIGEST) return { ok: false, why: "not a PasswordDigest" };
    const username = txt(el(token, "Username"));
    const nonceText = txt(el(token, "Nonce"));
    const created = txt(el(token, "Created"));
    const createdAt = Date.parse(created);
    if (!Number.isFinite(createdAt) || Math.abs(createdAt - this.#clock()) > CLOCK_WINDOW_MS) return { ok: false, why: "Created is off the device's clock" };
    if (this.#nonces.has(nonceText)) return { ok: false, why: "nonce used before" };
    this.#nonces.add(nonceText);
    const expected = createHash("sha1")
      .update(Buffer.concat([Buffer.from(nonceText, "base64"), Buffer.from(created, "utf8"), Buffer.from(this.options.password, "utf8")]))
      .digest("base64");
    if (username !== this.options.username || txt(password) !== expected) return { ok: false, why: "wrong username or password" };
    return { ok: true };
  }

  #checkDigest(header: string | undefined): { ok: true } | { ok: false; why: string } {
    if (!header?.startsWith("Digest ")) return { ok: false, why: "no HTTP Digest" };
    const p = Object.fromEntries([...header.slice(7).matchAll(/(\w+)=(?:"([^"]*)"|([^,\s]*))/g)].map((m) => [m[1]!, m[2] ?? m[3] ?? ""]));
    if (!p.nonce || !this.#digestNonces.has(p.nonce)) return { ok: false, why: "a nonce it did not give" };
    this.#digestNonces.delete(p.nonce);
    const md5 = (text: string) => createHash("md5").update(text, "utf8").digest("hex");
    const ha1 = md5(`${this.options.username}:${p.realm}:${this.options.password}`);
    const expected = md5(`${ha1}:${p.nonce}:${p.nc}:${p.cnonce}:${p.qop}:${md5(`POST:${p.uri}`)}`);
    if (p.username !== this.options.username || p.qop !== "auth" || p.response !== expected) return { ok: false, why: "wrong username or password" };
    return { ok: true };
  }

  #clock(): number {
    return Date.now() + (this.options.clockSkewMs ?? 0);
  }

  #dateTime(): string {
    const d = new Date(this.#clock());
    const part = (date: Date, utc: boolean) =>
      `<tt:Time><tt:Hour>${utc ? date.getUTCHours() : date.getHours()}</tt:Hour><tt:Minute>${utc ? date.getUTCMinutes() : date.getMinutes()}</tt:Minute><tt:Second>${utc ? date.getUTCSeconds() : date.getSeconds()}</tt:Second></tt:Time>` +
      `<tt:Date><tt:Year>${utc ? date.getUTCFullYear() : date.getFullYear()}</tt:Year><tt:Month>${(utc ? date.getUTCMonth() : date.getMonth()) + 1}</tt:Month><tt:Day>${utc ? date.getUTCDate() : date.getDate()}</tt:Day></tt:Date>`;
    return envelope(
      `<tds:GetSystemDateAndTimeResponse><tds:SystemDateAndTime><tt:DateTimeType>Manual</tt:DateTimeType><tt:DaylightSavings>false</tt:DaylightSavings>` +
        `<tt:TimeZone><tt:TZ>CST-8:00:00</tt:TZ></tt:TimeZone><tt:UTCDateTime>${part(d, true)}</tt:UTCDateTime><tt:LocalDateTime>${part(d, false)}</tt:LocalDateTime>` +
        `</tds:SystemDateAndTime></tds:GetSystemDateAndTimeResponse>`,
    );
  }

  #profile(p: DeviceProfile): string {
    const source = p.source ?? "VideoSource_1";
    return (
      `<trt:Profiles token="${p.token}" fixed="true"><tt:Name>${p.name}</tt:Name>` +
      `<tt:VideoSourceConfiguration token="VideoSourceToken"><tt:Name>VideoSourceConfig</tt:Name><tt:UseCount>2</tt:UseCount><tt:SourceToken>${source}</tt:SourceToken><tt:Bounds x="0" y="0" width="2560" height="1440"/></tt:VideoSourceConfiguration>` +
      `<tt:AudioSourceConfiguration token="AudioSourceConfigToken"><tt:Name>AudioSourceConfig</tt:Name><tt:UseCount>2</tt:UseCount><tt:SourceToken>AudioSourceChannel</tt:SourceToken></tt:AudioSourceConfiguration>` +
      `<tt:VideoEncoderConfiguration token="VideoEncoderToken_${p.token}"><tt:Name>VideoEncoder_${p.token}</tt:Name><tt:UseCount>1</tt:UseCount><tt:Encoding>${p.encoding ?? "H264"}</tt:Encoding>` +
      `<tt:Resolution><tt:Width>${p.width}</tt:Width><tt:Height>${p.height}</tt:Height></tt:Resolution><tt:Quality>3.000000</tt:Quality>` +
      `<tt:RateControl><tt:FrameRateLimit>25</tt:FrameRateLimit><tt:EncodingInterval>1</tt:EncodingInterval><tt:BitrateLimit>4096</tt:BitrateLimit></tt:RateControl>` +
      `<tt:H264><tt:GovLength>50</tt:GovLength><tt:H264Profile>Main</tt:H264Profile></tt:H264>` +
      `<tt:Multicast><tt:Address><tt:Type>IPv4</tt:Type><tt:IPv4Address>0.0.0.0</tt:IPv4Address></tt:Address><tt:Port>8860</tt:Port><tt:TTL>128</tt:TTL><tt:AutoStart>false</tt:AutoStart></tt:Multicast><tt:SessionTimeout>PT5S</tt:SessionTimeout></tt:VideoEncoderConfiguration>` +
      `<tt:AudioEncoderConfiguration token="MainAudioEncoderToken"><tt:Name>AudioEncoderConfig</tt:Name><tt:UseCount>2</tt:UseCount><tt:Encoding>G711</tt:Encoding><tt:Bitrate>64</tt:Bitrate><tt:SampleRate>8</tt:SampleRate></tt:AudioEncoderConfiguration>` +
      `</trt:Profiles>`
    );
  }
}

/** A multicast group and a free port of its own for one test file, so nothing else on the machine answers its searches. */
export async function testMulticastGroup(): Promise<{ address: string; port: number }> {
  const socket = dgram.createSocket("udp4");
  await new Promise<void>((resolve) => socket.bind(0, "127.0.0.1", resolve));
  const { port } = socket.address();
  await new Promise<void>((resolve) => socket.close(() => resolve()));
  return { address: `239.255.${(port >> 8) & 0xff}.${port & 0xff}`, port };
}

/**
 * The camera search Vigil gets in tests: pinned to 127.0.0.1 and a multicast
 * group of the test's own (a fresh one when none is given), so nothing is sent
 * beyond loopback and nothing else on the machine answers.
 */
export async function loopbackDiscovery(group?: { address: string; port: number }, timeoutMs = 2000): Promise<CameraDiscovery> {
  return createOnvifDiscovery({ interfaceAddress: "127.0.0.1", multicast: group ?? (await testMulticastGroup()), timeoutMs });
}

/** A Hikvision camera as it answers GetProfiles: a 2560x1440 main stream and a 640x360 sub-stream (stream URLs that go nowhere). */
export const HIKVISION = Object.freeze({
  name: "HIKVISION DS-2CD2143G2-I",
  hardware: "DS-2CD2143G2-I",
  username: "admin",
  profiles: [
    { token: "Profile_1", name: "mainStream", width: 2560, height: 1440, streamUri: "rtsp://127.0.0.1:8554/Streaming/Channels/101?transportmode=unicast&profile=Profile_1" },
    { token: "Profile_2", name: "subStream", width: 640, height: 360, streamUri: "rtsp://127.0.0.1:8554/Streaming/Channels/102?transportmode=unicast&profile=Profile_2" },
  ],
});
