/**
 * WS-Discovery for ONVIF cameras: a SOAP Probe for `NetworkVideoTransmitter`
 * sent by UDP multicast (239.255.255.250:3702), ProbeMatches answered by
 * unicast to the socket that sent it.
 *
 * The search goes out from each IPv4 interface of this machine except loopback
 * (cameras often sit on a second network card), one socket per interface,
 * bound to its address and with IP_MULTICAST_IF set to it, so the packet
 * leaves where it was meant to and nowhere else. `interfaceAddress` pins it to
 * one; `multicast` changes group and port (tests use loopback and a group of
 * their own). Replies are checked (their RelatesTo must be one of our probes,
 * their XAddrs http(s)) and bounded in number; anything else is ignored.
 */
import { randomUUID } from "node:crypto";
import dgram from "node:dgram";
import net from "node:net";
import os from "node:os";
import type { FoundCamera } from "../domain/discovery.js";
import { OnvifError } from "../errors.js";
import { sanitize } from "./soap.js";
import { child, children, parseXml, path, text } from "./xml.js";

export interface MulticastTarget {
  address: string;
  port: number;
}

/** The WS-Discovery group and port (SOAP-over-UDP). */
export const WS_DISCOVERY: MulticastTarget = Object.freeze({ address: "239.255.255.250", port: 3702 });
/** Devices answer within 500 ms of a probe (APP_MAX_DELAY); 3 s leaves room for a slow Wi-Fi camera. */
export const DEFAULT_DISCOVERY_TIMEOUT_MS = 3000;
/** A network with more cameras than this is not a home; the rest are ignored. */
const MAX_CAMERAS = 64;

export interface DiscoveryOptions {
  /** An IPv4 address of this machine to search from. Default: every IPv4 interface but loopback. */
  interfaceAddress?: string | undefined;
  /** Default 239.255.255.250:3702. */
  multicast?: MulticastTarget | undefined;
  /** How long to listen for answers. Default 3 s. */
  timeoutMs?: number | undefined;
  signal?: AbortSignal | undefined;
  /** The machine's interfaces (tests give their own). Default `os.networkInterfaces`. */
  networkInterfaces?: () => NodeJS.Dict<os.NetworkInterfaceInfo[]>;
}

export interface DiscoveryResult {
  cameras: FoundCamera[];
  /** The local addresses the probe went out from. */
  interfaces: string[];
  /** Replies that were not a valid answer to our probe (malformed, unrelated, not a camera). */
  ignored: number;
}

/** `239.255.255.250:3702` → target; a sentence for anything else. */
export function parseMulticastTarget(value: string): MulticastTarget {
  const match = /^(\d{1,3}(?:\.\d{1,3}){3}):(\d{1,5})$/.exec(value.trim());
  const port = Number(match?.[2]);
  if (!match || !isMulticast(match[1]!) || port < 1 || port > 65535) {
    throw new OnvifError(`"${sanitize(value, 40)}" is not a multicast group and port; the WS-Discovery default is 239.255.255.250:3702.`, value, "network");
  }
  return { address: match[1]!, port };
}

function isMulticast(address: string): boolean {
  if (!net.isIPv4(address)) return false;
  const first = Number(address.split(".")[0]);
  return first >= 224 && first <= 239;
}

/** The local IPv4 addresses a default search goes out from: every interface that is up, loopback excepted. */
export function searchAddresses(interfaces: NodeJS.Dict<os.NetworkInterfaceInfo[]>): string[] {
  const out = new Set<string>();
  for (const list of Object.values(interfaces)) {
    for (const info of list ?? []) if (info.family === "IPv4" && !info.internal) out.add(info.address);
  }
  return [...out];
}

/** The Probe: `dn:NetworkVideoTransmitter`, as ONVIF Core (7.3) has clients send it. */
export function probeMessage(messageId: string): string {
  return (
    `<?xml version="1.0" encoding="UTF-8"?>` +
    `<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" xmlns:a="http://schemas.xmlsoap.org/ws/2004/08/addressing" xmlns:d="http://schemas.xmlsoap.org/ws/2005/04/discovery" xmlns:dn="http://www.onvif.org/ver10/network/wsdl">` +
    `<s:Header><a:MessageID>${messageId}</a:MessageID><a:To s:mustUnderstand="1">urn:schemas-xmlsoap-org:ws:2005:04:discovery</a:To>` +
    `<a:Action s:mustUnderstand="1">http://schemas.xmlsoap.org/ws/2005/04/discovery/Probe</a:Action></s:Header>` +
    `<s:Body><d:Probe><d:Types>dn:NetworkVideoTransmitter</d:Types></d:Probe></s:Body></s:Envelope>`
  );
}

/**
 * The cameras in one ProbeMatches datagram, or undefined when it is not a
 * valid answer to one of `messageIds` (malformed XML, another message, no
 * usable XAddr). `from` is the address it came from: of several XAddrs, the
 * one on that address is used.
 */
export function readProbeMatches(datagram: string, from: string, messageIds: ReadonlySet<string>): FoundCamera[] | undefined {
  let root;
  try {
    root = parseXml(datagram);
  } catch {
    return undefined;
  }
  if (root.localName !== "Envelope") return undefined;
  const relatesTo = text(path(root, "Header", "RelatesTo"));
  if (relatesTo !== undefined && !messageIds.has(relatesTo)) return undefined;
  const matches = path(root, "Body", "ProbeMatches");
  if (!matches) return undefined;
  const found: FoundCamera[] = [];
  for (const match of children(matches, "ProbeMatch").slice(0, MAX_CAMERAS)) {
    const types = text(child(match, "Types")) ?? "";
    // Without a RelatesTo, only what says it is a camera.
    if (relatesTo === undefined && !/(^|[\s:])NetworkVideoTransmitter(\s|$)/.test(types)) continue;
    const xaddr = pickXAddr(text(child(match, "XAddrs")) ?? "", from);
    if (!xaddr) continue;
    const scopes = (text(child(match, "Scopes")) ?? "").split(/\s+/);
    const id = sanitize(text(path(match, "EndpointReference", "Address")) ?? "", 200) || xaddr;
    found.push({ id, address: new URL(xaddr).hostname, xaddr, name: scope(scopes, "name"), hardware: scope(scopes, "hardware") });
  }
  return found.length ? found : undefined;
}

function pickXAddr(xaddrs: string, from: string): string | undefined {
  const urls: URL[] = [];
  for (const candidate of xaddrs.split(/\s+/).slice(0, 16)) {
    try {
      const url = new URL(candidate);
      if ((url.protocol === "http:" || url.protocol === "https:") && net.isIPv4(url.hostname) && !url.username && !url.password) urls.push(url);
    } catch {
      // not a URL: skip it
    }
  }
  return (urls.find((u) => u.hostname === from) ?? urls[0])?.href;
}

/** `onvif://www.onvif.org/name/HIKVISION%20DS-2CD2143G2-I` → `HIKVISION DS-2CD2143G2-I`. */
function scope(scopes: readonly string[], kind: "name" | "hardware"): string | undefined {
  const prefix = `onvif://www.onvif.org/${kind}/`;
  const value = scopes.find((s) => s.toLowerCase().startsWith(prefix));
  if (!value) return undefined;
  let decoded = value.slice(prefix.length);
  try {
    decoded = decodeURIComponent(decoded);
  } catch {
    // keep it as it came
  }
  return sanitize(decoded.replace(/_/g, " "), 40) || undefined;
}

/** Sends the probe and collects answers until `timeoutMs` is over (or `signal` aborts). */
export async function discoverCameras(options: DiscoveryOptions = {}): Promise<DiscoveryResult> {
  const target = options.multicast ?? WS_DISCOVERY;
  const timeoutMs = options.timeoutMs ?? DEFAULT_DISCOVERY_TIMEOUT_MS;
  const machine = (options.networkInterfaces ?? os.networkInterfaces)();
  const own = searchAddresses(machine);
  let addresses: string[];
  if (options.interfaceAddress !== undefined) {
    const wanted = options.interfaceAddress.trim();
    if (!net.isIPv4(wanted)) throw new OnvifError(`"${sanitize(wanted, 40)}" is not an IPv4 address; give the address of this machine's network card that the cameras are on, e.g. 192.168.1.10.`, wanted, "network");
    addresses = [wanted];
  } else {
    addresses = own;
    if (addresses.length === 0) throw new OnvifError("This machine has no network connection besides loopback, so there is no network to search for cameras.", "", "network");
  }

  const messageIds = new Set<string>();
  const cameras = new Map<string, FoundCamera>();
  let ignored = 0;
  const sockets: dgram.Socket[] = [];
  const failures: { address: string; error: NodeJS.ErrnoException }[] = [];
  try {
    for (const address of addresses) {
      const socket = dgram.createSocket("udp4");
      sockets.push(socket);
      // An error after binding (an ICMP error for one send) must not crash Vigil: the search just hears less.
      socket.on("error", () => undefined);
      socket.on("message", (msg, rinfo) => {
        const found = readProbeMatches(msg.toString("utf8"), rinfo.address, messageIds);
        if (!found) ignored++;
        for (const camera of found ?? []) if (!cameras.has(camera.id) && cameras.size < MAX_CAMERAS) cameras.set(camera.id, camera);
      });
      try {
        await new Promise<void>((resolve, reject) => {
          socket.once("error", reject);
          socket.bind(0, address, () => {
            socket.off("error", reject);
            resolve();
          });
        });
        socket.setMulticastInterface(address);
        socket.setMulticastTTL(1);
      } catch (error) {
        failures.push({ address, error: error as NodeJS.ErrnoException });
      }
    }
    const live = sockets.filter((_s, i) => !failures.some((f) => f.address === addresses[i]));
    if (live.length === 0) throw noSearch(failures, own, options.interfaceAddress !== undefined);

    // Twice, 300 ms apart: UDP may drop one (SOAP-over-UDP repeats multicast once too).
    let sent = 0;
    const sendAll = async () => {
      for (const socket of live) {
        const id = `urn:uuid:${randomUUID()}`;
        messageIds.add(id);
        const message = Buffer.from(probeMessage(id));
        const address = socket.address().address;
        await new Promise<void>((resolve) =>
          socket.send(message, target.port, target.address, (error) => {
            if (error) failures.push({ address, error });
            else sent++;
            resolve();
          }),
        );
      }
    };
    await sendAll();
    if (await wait(300, options.signal)) await sendAll();
    if (sent === 0) throw noSearch(failures, own, options.interfaceAddress !== undefined);
    await wait(Math.max(0, timeoutMs - 300), options.signal);
    return { cameras: [...cameras.values()].sort(byAddressThenName), interfaces: live.map((s) => s.address().address), ignored };
  } finally {
    for (const socket of sockets) {
      try {
        socket.close();
      } catch {
        // already closed (bind failed)
      }
    }
  }
}

/** 192.168.1.9 before 192.168.1.10, then by name: the order a person scans a list in. */
function byAddressThenName(a: FoundCamera, b: FoundCamera): number {
  const key = (c: FoundCamera) => c.address.split(".").map((n) => n.padStart(3, "0")).join(".");
  return key(a).localeCompare(key(b)) || (a.name ?? "").localeCompare(b.name ?? "") || a.id.localeCompare(b.id);
}

function noSearch(failures: { address: string; error: NodeJS.ErrnoException }[], own: string[], pinned: boolean): OnvifError {
  const first = failures[0];
  const address = first?.address ?? "";
  if (first?.error.code === "EADDRNOTAVAIL" && pinned) {
    return new OnvifError(`${address} is not an address of this machine, so the search cannot go out from it${own.length ? ` (this machine has ${own.join(", ")})` : ""}.`, address, "network", { cause: first.error });
  }
  return new OnvifError(`The search for cameras could not be sent from ${address || "any network connection"} (${sanitize(first?.error.code ?? first?.error.message ?? "unknown error", 40)}).`, address, "network", { cause: first?.error });
}

/** Resolves true after `ms`, or false at once when `signal` aborts. */
function wait(ms: number, signal: AbortSignal | undefined): Promise<boolean> {
  if (signal?.aborted) return Promise.resolve(false);
  return new Promise((resolve) => {
    const done = (value: boolean) => {
      clearTimeout(timer);
      signal?.removeEventListener("abort", onAbort);
      resolve(value);
    };
    const onAbort = () => done(false);
    const timer = setTimeout(() => done(true), ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}
