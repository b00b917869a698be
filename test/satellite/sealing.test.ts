/**
 * The satellite link's cryptography with real libsodium: an adoption made
 * with the one-time code, a broker in the middle that swaps a key or guesses
 * the code, and messages that cannot be read, altered, moved to another
 * satellite or turned around.
 */
import { describe, expect, it } from "vitest";
import { adoptTag, codeKey, joinTag, newJoinCode, newKeyPair, newSalt, normaliseCode, openMessage, sameTag, sealMessage, sessionKeys } from "../../src/satellite/sealing.js";
import type { Header } from "../../src/satellite/protocol.js";

const ID = "0123456789ab";

describe("adoption with a one-time code", () => {
  it("lets the hub check the satellite's key and the satellite the hub's, with the code typed in any case, and agree on keys", async () => {
    const code = await newJoinCode();
    expect(code).toMatch(/^[2-9a-z]{5}-[2-9a-z]{5}$/);
    const salt = await newSalt();
    const satellite = await newKeyPair();
    const hub = await newKeyPair();
    const satKey = await codeKey(code, salt);
    const announced = await joinTag(satKey, { id: ID, site: "garage", publicKey: satellite.publicKey, salt });

    // The hub, from the code an admin typed (spaces, capitals).
    const typed = ` ${code.toUpperCase().replace("-", " ")} `;
    expect(normaliseCode(typed)).toBe(normaliseCode(code));
    const hubKey = await codeKey(typed, salt);
    expect(await sameTag(announced, await joinTag(hubKey, { id: ID, site: "garage", publicKey: satellite.publicKey, salt }))).toBe(true);
    const answer = await adoptTag(hubKey, { id: ID, satelliteKey: satellite.publicKey, hubId: "feedfeedfeed", hubKey: hub.publicKey });
    expect(await sameTag(answer, await adoptTag(satKey, { id: ID, satelliteKey: satellite.publicKey, hubId: "feedfeedfeed", hubKey: hub.publicKey }))).toBe(true);

    const s = await sessionKeys("satellite", satellite, hub.publicKey);
    const h = await sessionKeys("hub", hub, satellite.publicKey);
    expect(Buffer.from(s.tx).equals(Buffer.from(h.rx))).toBe(true);
    expect(Buffer.from(s.rx).equals(Buffer.from(h.tx))).toBe(true);
    expect(Buffer.from(s.tx).equals(Buffer.from(s.rx))).toBe(false);
  });

  it("refuses a key swapped by the broker, another site, or a wrong code", async () => {
    const code = await newJoinCode();
    const salt = await newSalt();
    const satellite = await newKeyPair();
    const attacker = await newKeyPair();
    const key = await codeKey(code, salt);
    const announced = await joinTag(key, { id: ID, site: "garage", publicKey: satellite.publicKey, salt });
    expect(await sameTag(announced, await joinTag(key, { id: ID, site: "garage", publicKey: attacker.publicKey, salt }))).toBe(false);
    expect(await sameTag(announced, await joinTag(key, { id: ID, site: "cabin", publicKey: satellite.publicKey, salt }))).toBe(false);
    const wrong = await codeKey(code.replace(/^./, (c) => (c === "a" ? "b" : "a")), salt);
    expect(await sameTag(announced, await joinTag(wrong, { id: ID, site: "garage", publicKey: satellite.publicKey, salt }))).toBe(false);
    // The hub's answer with another key than the one it tagged.
    const hub = await newKeyPair();
    const answer = await adoptTag(key, { id: ID, satelliteKey: satellite.publicKey, hubId: "feedfeedfeed", hubKey: hub.publicKey });
    expect(await sameTag(answer, await adoptTag(key, { id: ID, satelliteKey: satellite.publicKey, hubId: "feedfeedfeed", hubKey: attacker.publicKey }))).toBe(false);
  });
});

describe("sealed messages", () => {
  const header: Header = { channel: "reliable", seq: 7, boot: 2, echo: 3 };
  const body = new TextEncoder().encode("a person on the drive");

  it("open with the peer's key only, for this satellite and direction, and show the broker nothing of the body", async () => {
    const s = await sessionKeys("satellite", await newKeyPair(), (await newKeyPair()).publicKey);
    const wire = await sealMessage(s.tx, header, ID, "up", body);
    expect(Buffer.from(wire).includes(Buffer.from("person"))).toBe(false);
    expect(await openMessage(s.tx, wire, ID, "up")).toEqual({ header, body });
    expect(await openMessage(s.rx, wire, ID, "up")).toBeUndefined();
    expect(await openMessage(s.tx, wire, "ba9876543210", "up")).toBeUndefined();
    expect(await openMessage(s.tx, wire, ID, "down")).toBeUndefined();
  });

  it("refuse a flipped bit anywhere: header (a renumbered replay), nonce or body", async () => {
    const key = (await sessionKeys("satellite", await newKeyPair(), (await newKeyPair()).publicKey)).tx;
    const wire = await sealMessage(key, header, ID, "up", body);
    for (const at of [9, 17, 30, wire.length - 1]) {
      const bent = wire.slice();
      bent[at]! ^= 1;
      expect(await openMessage(key, bent, ID, "up"), `byte ${at}`).toBeUndefined();
    }
    expect(await openMessage(key, wire.subarray(0, 40), ID, "up")).toBeUndefined();
  });
});
