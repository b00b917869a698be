/**
 * Which mode is in force at time T: schedules across midnight, on weekdays,
 * against modes set by hand, and through both daylight-saving changes in
 * three zones (two northern, one southern), all with injected time.
 */
import { describe, expect, it } from "vitest";
import { instantOf, localTime } from "../../src/domain/local-time.js";
import type { Mode, ModeSource, ModeState } from "../../src/domain/modes.js";
import { advanceMode, boundaries, formatSchedule, inWindow, nextChange, overlaps, parseSchedule, parseWindow, type Schedule } from "../../src/domain/schedule.js";
import { InputError } from "../../src/errors.js";

const LONDON = "Europe/London";
const NEW_YORK = "America/New_York";
const SYDNEY = "Australia/Sydney";

const iso = (t: number) => new Date(t).toISOString();
const utc = (s: string) => Date.parse(s);
const hand: ModeSource = { kind: "chat", userId: 1, name: "Alice" };

let ids = 0;
function schedule(text: string, createdAt = utc("2026-01-01T00:00:00Z")): Schedule {
  const { mode, window } = parseSchedule(text);
  ids += 1;
  return { id: `s${ids}`, mode, ...window, createdAt };
}

function set(mode: Mode, at: number, by: ModeSource = hand): ModeState {
  return { mode, at, by };
}

/** The mode in force at each wall-clock time of `zone` (`2026-03-09 08:29`), walking forward from `state`. */
function modesAt(state: ModeState, schedules: Schedule[], zone: string, times: string[]): Mode[] {
  return times.map((time) => advanceMode(state, schedules, wall(time, zone), zone).state.mode);
}

/** A wall-clock time in a zone (its first occurrence). */
function wall(text: string, zone: string): number {
  const m = /^(\d{4})-(\d\d)-(\d\d) (\d\d):(\d\d)$/.exec(text)!;
  return instantOf({ year: Number(m[1]), month: Number(m[2]), day: Number(m[3]) }, Number(m[4]) * 60 + Number(m[5]), zone);
}

describe("wall-clock time in a zone", () => {
  it("finds the instant of a wall time, the jump for a skipped one and the first of a repeated one, north and south", () => {
    // New York: clocks jump 02:00 → 03:00 on 8 March 2026 and go back 02:00 → 01:00 on 1 November.
    expect(iso(instantOf({ year: 2026, month: 3, day: 7 }, 150, NEW_YORK))).toBe("2026-03-07T07:30:00.000Z");
    expect(iso(instantOf({ year: 2026, month: 3, day: 8 }, 150, NEW_YORK))).toBe("2026-03-08T07:00:00.000Z");
    expect(iso(instantOf({ year: 2026, month: 3, day: 8 }, 180, NEW_YORK))).toBe("2026-03-08T07:00:00.000Z");
    expect(iso(instantOf({ year: 2026, month: 11, day: 1 }, 90, NEW_YORK))).toBe("2026-11-01T05:30:00.000Z");
    // London: 01:00 → 02:00 on 29 March, 02:00 → 01:00 on 25 October.
    expect(iso(instantOf({ year: 2026, month: 3, day: 29 }, 90, LONDON))).toBe("2026-03-29T01:00:00.000Z");
    expect(iso(instantOf({ year: 2026, month: 10, day: 25 }, 90, LONDON))).toBe("2026-10-25T00:30:00.000Z");
    // Sydney (southern summer time): 03:00 → 02:00 on 5 April, 02:00 → 03:00 on 4 October.
    expect(iso(instantOf({ year: 2026, month: 4, day: 5 }, 150, SYDNEY))).toBe("2026-04-04T15:30:00.000Z");
    expect(iso(instantOf({ year: 2026, month: 10, day: 4 }, 150, SYDNEY))).toBe("2026-10-03T16:00:00.000Z");
    // Midnight at the end of a day.
    expect(iso(instantOf({ year: 2026, month: 1, day: 31 }, 1440, LONDON))).toBe("2026-02-01T00:00:00.000Z");
    expect(localTime(utc("2026-11-01T06:30:00Z"), NEW_YORK)).toMatchObject({ hour: 1, minute: 30, weekday: 6 });
  });
});

describe("reading schedules", () => {
  it("reads modes, days and times in the ways people write them", () => {
    const read = (text: string) => {
      const { mode, window } = parseSchedule(text);
      return formatSchedule({ mode, ...window });
    };
    expect(read("night 23:00-07:00")).toBe("night 23:00-07:00 every day");
    expect(read("away mon-fri 08:30-17:00")).toBe("away 08:30-17:00 mon-fri");
    expect(read("Away 8:30 - 17:00 weekdays")).toBe("away 08:30-17:00 mon-fri");
    expect(read("home sat,sun 9-12")).toBe("home 09:00-12:00 sat,sun");
    expect(read("night fri-mon 22:00-06:00")).toBe("night 22:00-06:00 mon,fri-sun");
    expect(read("away tuesdays,Thursday 10:00-24:00")).toBe("away 10:00-24:00 tue,thu");
    expect(read("off weekends 00:00-24:00")).toBe("off 00:00-24:00 sat,sun");
    expect(read("night 23:00-00:00")).toBe("night 23:00-00:00 every day");
  });

  it("answers every malformed schedule with one sentence", () => {
    const cases: [string, string | RegExp][] = [
      ["", /^Give a mode and its times, for example /],
      ["night", /^Give the times for night, for example /],
      ["nite 23:00-07:00", 'There is no mode called "nite"; the modes are off, home, away and night.'],
      ["night 25:00-07:00", '"25:00" is not a time; write times as 23:00 or 7:30, from 00:00 to 23:59 (24:00 for an end).'],
      ["night 23:60-07:00", /^"23:60" is not a time/],
      ["night 24:00-07:00", /^"24:00" is not a time/],
      ["night 23:00", '"23:00" is not a from-to time; write it as 23:00-07:00.'],
      ["night 07:00-07:00", "A window must end at another time than it starts; for all day, use /mode."],
      ["night 23:00-07:00 22:00-06:00", "Give one from-to time, for example 23:00-07:00."],
      ["away mondays-fry 08:00-09:00", /^"fry" is not a day; /],
      ["away mon fri 08:00-09:00", "Give the days as one list without spaces, for example mon-fri or sat,sun."],
      ["away mon-fri", /^Give the times, from-to/],
      [`away ${"x".repeat(500)} 08:00-09:00`, /^"x{20}…" is not a day; /],
    ];
    for (const [text, expected] of cases) {
      let message = "";
      try {
        parseSchedule(text);
      } catch (error) {
        expect(error, text).toBeInstanceOf(InputError);
        message = (error as Error).message;
      }
      if (typeof expected === "string") expect(message, text).toBe(expected);
      else expect(message, text).toMatch(expected);
    }
  });

  it("tells windows that share a minute of the week from ones that only touch, across midnight and the week's end", () => {
    const w = (text: string) => parseWindow(text);
    expect(overlaps(w("23:00-07:00"), w("mon-fri 08:30-17:00"))).toBe(false);
    expect(overlaps(w("23:00-07:00"), w("06:30-08:00"))).toBe(true);
    expect(overlaps(w("23:00-07:00"), w("07:00-08:00"))).toBe(false);
    expect(overlaps(w("sun 22:00-02:00"), w("mon 01:00-03:00"))).toBe(true);
    expect(overlaps(w("sun 22:00-02:00"), w("tue 01:00-03:00"))).toBe(false);
    expect(overlaps(w("sat 00:00-24:00"), w("fri 20:00-00:00"))).toBe(false);
    expect(overlaps(w("sat 00:00-24:00"), w("fri 20:00-00:30"))).toBe(true);
  });
});

describe("which mode is in force", () => {
  it("follows a night schedule across midnight, every day", () => {
    const night = schedule("night 23:00-07:00");
    const start = set("home", wall("2026-02-02 12:00", LONDON));
    expect(modesAt(start, [night], LONDON, ["2026-02-02 22:59", "2026-02-02 23:00", "2026-02-03 03:00", "2026-02-03 06:59", "2026-02-03 07:00", "2026-02-03 23:30", "2026-02-08 02:00", "2026-02-08 12:00"])).toEqual(["home", "night", "night", "night", "home", "night", "night", "home"]);
    // Every change, with who made it.
    const { changes } = advanceMode(start, [night], wall("2026-02-04 12:00", LONDON), LONDON);
    expect(changes.map((c) => [iso(c.at), c.from, c.to, c.by])).toEqual([
      ["2026-02-02T23:00:00.000Z", "home", "night", { kind: "schedule", scheduleId: night.id, edge: "start" }],
      ["2026-02-03T07:00:00.000Z", "night", "home", { kind: "schedule", scheduleId: night.id, edge: "end" }],
      ["2026-02-03T23:00:00.000Z", "home", "night", { kind: "schedule", scheduleId: night.id, edge: "start" }],
      ["2026-02-04T07:00:00.000Z", "night", "home", { kind: "schedule", scheduleId: night.id, edge: "end" }],
    ]);
  });

  it("keeps to its weekdays, and a window that crosses midnight belongs to the day it starts", () => {
    const work = schedule("away mon-fri 08:30-17:00");
    const late = schedule("night fri 22:00-02:00");
    const start = set("home", wall("2026-02-01 12:00", NEW_YORK)); // a Sunday
    expect(modesAt(start, [work, late], NEW_YORK, ["2026-02-02 08:29", "2026-02-02 08:30", "2026-02-02 16:59", "2026-02-02 17:00", "2026-02-06 12:00", "2026-02-06 23:00", "2026-02-07 01:59", "2026-02-07 02:00", "2026-02-07 12:00", "2026-02-08 01:00"])).toEqual(["home", "away", "away", "home", "away", "night", "night", "home", "home", "home"]);
  });

  it("never overrides a mode set by hand before its next boundary; its end leaves a hand's choice alone and otherwise goes back to what was before", () => {
    const night = schedule("night 23:00-07:00");
    // Off by hand at 02:00, inside the window: off until the next start at 23:00; the end at 07:00 does not touch it.
    const off = set("off", wall("2026-02-03 02:00", LONDON));
    expect(modesAt(off, [night], LONDON, ["2026-02-03 02:01", "2026-02-03 07:00", "2026-02-03 22:59", "2026-02-03 23:00", "2026-02-04 07:00"])).toEqual(["off", "off", "off", "night", "off"]);
    // Away by hand at 22:00 (gone for the weekend): night at 23:00, then back to away at 07:00, not to home.
    const away = set("away", wall("2026-02-03 22:00", LONDON));
    expect(modesAt(away, [night], LONDON, ["2026-02-03 23:00", "2026-02-04 07:00", "2026-02-04 12:00"])).toEqual(["night", "away", "away"]);
    // Two windows that touch: the first ends and the second starts in one change.
    const evening = schedule("home 17:00-23:00");
    const work = schedule("away 08:30-17:00");
    const { changes } = advanceMode(set("home", wall("2026-02-03 08:00", LONDON)), [night, evening, work], wall("2026-02-03 23:30", LONDON), LONDON);
    expect(changes.map((c) => `${localTime(c.at, LONDON).hour}:${c.from}→${c.to}`)).toEqual(["8:home→away", "17:away→home", "23:home→night"]);
  });

  it("does not rewrite the past: a schedule added inside its window starts next time", () => {
    const addedAt = wall("2026-02-03 01:00", LONDON);
    const night = schedule("night 23:00-07:00", addedAt);
    const home = set("home", wall("2026-01-20 12:00", LONDON));
    expect(modesAt(home, [night], LONDON, ["2026-02-03 01:30", "2026-02-03 07:00", "2026-02-03 23:00"])).toEqual(["home", "home", "night"]);
    // A store migrated with its mode set "at 0" walks from the schedule's creation, not from 1970.
    expect(boundaries([night], 0, wall("2026-02-04 12:00", LONDON), LONDON).map((b) => `${b.edge} ${iso(b.at)}`)).toEqual(["end 2026-02-03T07:00:00.000Z", "start 2026-02-03T23:00:00.000Z", "end 2026-02-04T07:00:00.000Z"]);
  });

  it("applies a 02:30 start once on the night the clocks jump forward, in New York, London and Sydney", () => {
    for (const [zone, day, jump] of [
      [NEW_YORK, "2026-03-08", "2026-03-08T07:00:00.000Z"],
      [LONDON, "2026-03-29", "2026-03-29T01:00:00.000Z"],
      [SYDNEY, "2026-10-04", "2026-10-03T16:00:00.000Z"],
    ] as const) {
      // London's gap is 01:00-02:00: its skipped start is 01:30.
      const start = zone === LONDON ? "01:30" : "02:30";
      const s = schedule(`night ${start}-06:00`);
      const from = set("home", wall(`${day} 00:00`, zone) - 3600_000);
      const { changes } = advanceMode(from, [s], wall(`${day} 12:00`, zone), zone);
      expect(changes.map((c) => [iso(c.at), c.to]), zone).toEqual([
        [jump, "night"],
        [iso(wall(`${day} 06:00`, zone)), "home"],
      ]);
    }
  });

  it("does not apply a boundary twice in the repeated hour of the autumn, in New York, London and Sydney", () => {
    for (const [zone, day, first, second] of [
      [NEW_YORK, "2026-11-01", "2026-11-01T05:30:00.000Z", "2026-11-01T06:30:00.000Z"],
      [LONDON, "2026-10-25", "2026-10-25T00:30:00.000Z", "2026-10-25T01:30:00.000Z"],
      [SYDNEY, "2026-04-05", "2026-04-04T15:30:00.000Z", "2026-04-04T16:30:00.000Z"],
    ] as const) {
      const clock = zone === SYDNEY ? "02:30" : "01:30";
      const s = schedule(`night ${clock}-06:00`);
      expect(iso(wall(`${day} ${clock}`, zone)), zone).toBe(first);
      expect(localTime(utc(second), zone), zone).toMatchObject({ hour: Number(clock.slice(0, 2)), minute: 30 });
      // Night at the first 01:30; off by hand ten minutes later; the clock reads 01:30 again, and it stays off.
      const home = set("home", utc(first) - 3 * 3600_000);
      const atFirst = advanceMode(home, [s], utc(first) + 10 * 60_000, zone);
      expect(atFirst.state.mode, zone).toBe("night");
      const off = set("off", utc(first) + 10 * 60_000);
      expect(advanceMode(off, [s], utc(second) + 10 * 60_000, zone).state.mode, zone).toBe("off");
      expect(advanceMode(off, [s], wall(`${day} 12:00`, zone), zone).state.mode, zone).toBe("off");
      // Over the whole day: one start and one end.
      expect(boundaries([s], utc(first) - 3 * 3600_000, utc(first) + 12 * 3600_000, zone).map((b) => b.edge), zone).toEqual(["start", "end"]);
    }
  });

  it("keeps the windows' wall-clock times on both sides of a change of the clocks", () => {
    const work = schedule("away mon-fri 08:30-17:00");
    const from = set("home", utc("2026-03-06T12:00:00Z"));
    const { changes } = advanceMode(from, [work], utc("2026-03-11T00:00:00Z"), NEW_YORK);
    // Before the change (Friday) 08:30 EST is 13:30 UTC; after it (Monday) 08:30 EDT is 12:30 UTC.
    expect(changes.map((c) => iso(c.at))).toEqual(["2026-03-06T13:30:00.000Z", "2026-03-06T22:00:00.000Z", "2026-03-09T12:30:00.000Z", "2026-03-09T21:00:00.000Z", "2026-03-10T12:30:00.000Z", "2026-03-10T21:00:00.000Z"]);
  });

  it("says what the schedules will do next", () => {
    const night = schedule("night 23:00-07:00");
    const work = schedule("away mon-fri 08:30-17:00");
    const home = set("home", wall("2026-02-06 18:00", LONDON)); // a Friday evening
    const next = nextChange(home, [night, work], wall("2026-02-06 18:00", LONDON), LONDON)!;
    expect([iso(next.at), next.to]).toEqual(["2026-02-06T23:00:00.000Z", "night"]);
    const sunday = nextChange(home, [night, work], wall("2026-02-08 08:00", LONDON), LONDON)!;
    expect([iso(sunday.at), sunday.from, sunday.to]).toEqual(["2026-02-08T23:00:00.000Z", "home", "night"]);
    expect(nextChange(home, [], wall("2026-02-06 18:00", LONDON), LONDON)).toBeUndefined();
  });
});

describe("quiet hours", () => {
  it("are a window of wall-clock time, across midnight and on chosen days", () => {
    const quiet = parseWindow("22:00-07:00");
    expect(inWindow(quiet, wall("2026-02-03 21:59", LONDON), LONDON)).toBe(false);
    expect(inWindow(quiet, wall("2026-02-03 22:00", LONDON), LONDON)).toBe(true);
    expect(inWindow(quiet, wall("2026-02-04 06:59", LONDON), LONDON)).toBe(true);
    expect(inWindow(quiet, wall("2026-02-04 07:00", LONDON), LONDON)).toBe(false);
    const weekend = parseWindow("sat,sun 23:00-09:00");
    expect(inWindow(weekend, wall("2026-02-07 23:30", LONDON), LONDON)).toBe(true); // Saturday night
    expect(inWindow(weekend, wall("2026-02-09 08:00", LONDON), LONDON)).toBe(true); // Monday morning, after Sunday night
    expect(inWindow(weekend, wall("2026-02-10 08:00", LONDON), LONDON)).toBe(false); // Tuesday morning
    // The same instant is quiet in one zone and not in another.
    const at = utc("2026-02-03T23:00:00Z");
    expect(inWindow(quiet, at, LONDON)).toBe(true);
    expect(inWindow(quiet, at, NEW_YORK)).toBe(false);
  });
});
