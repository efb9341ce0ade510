/**
 * NetworkLink's recovery logic, with the SDK's Wi-Fi and SNTP modules replaced by scripted
 * stand-ins (no radio here) and the clock by a virtual one.
 */
import { beforeEach, describe, expect, it, vi } from "vitest";

interface FakeWifi {
  connection: number;
  connects: Array<{ SSID: string; password?: string }>;
  onChanged: (property: "connection" | "address") => void;
  closed: boolean;
}
interface FakeSntp {
  host: string;
  callback: (message: -1 | 1 | 2, value?: number | string) => string | undefined;
  closed: boolean;
}
const radio = vi.hoisted(() => ({ wifi: [] as FakeWifi[], sntp: [] as FakeSntp[] }));

vi.mock("embedded:network/interface/wifi", () => ({
  default: class {
    connection = 200;
    connects: Array<{ SSID: string; password?: string }> = [];
    onChanged: (property: "connection" | "address") => void;
    closed = false;
    constructor(options: { onChanged: (property: "connection" | "address") => void }) {
      this.onChanged = options.onChanged;
      radio.wifi.push(this);
    }
    connect(options: { SSID: string; password?: string }) {
      this.connects.push(options);
    }
    close() {
      this.closed = true;
    }
  },
}));

vi.mock("sntp", () => ({
  default: class {
    static time = 1;
    static retry = 2;
    static error = -1;
    host: string;
    callback: FakeSntp["callback"];
    closed = false;
    constructor(options: { host: string }, callback: FakeSntp["callback"]) {
      this.host = options.host;
      this.callback = callback;
      radio.sntp.push(this);
    }
    close() {
      this.closed = true;
    }
  },
}));

const { NetworkLink } = await import("../../../hosts/moddable/network-link.js");

/** The part of ModdableClock NetworkLink uses, on virtual time. */
class VirtualClock {
  now = 0;
  wall: number | undefined;
  readonly #timers = new Map<number, { at: number; callback: () => void }>();
  #next = 1;
  once(callback: () => void, ms: number) {
    const id = this.#next++;
    this.#timers.set(id, { at: this.now + ms, callback });
    return id;
  }
  clear(handle: unknown) {
    this.#timers.delete(handle as number);
  }
  setWall(unixSeconds: number) {
    this.wall = unixSeconds;
  }
  /** Runs every timer due up to now + ms, in order. */
  advance(ms: number) {
    const end = this.now + ms;
    for (;;) {
      const due = [...this.#timers].filter(([, t]) => t.at <= end).sort((a, b) => a[1].at - b[1].at)[0];
      if (!due) break;
      this.#timers.delete(due[0]);
      this.now = due[1].at;
      due[1].callback();
    }
    this.now = end;
  }
  get pending() {
    return this.#timers.size;
  }
}

describe("NetworkLink", () => {
  let clock: VirtualClock;
  let events: string[];
  const start = (sntpHosts = ["a.ntp", "b.ntp"]) => {
    const link = new NetworkLink({ ssid: "city-iot", password: "s3cret", sntpHosts, clock: clock as never, log: (level, event) => events.push(`${level} ${event}`) });
    link.start();
    return { link, wifi: radio.wifi.at(-1)! };
  };
  const setConnection = (wifi: FakeWifi, value: number) => {
    wifi.connection = value;
    wifi.onChanged("connection");
  };

  beforeEach(() => {
    radio.wifi.length = 0;
    radio.sntp.length = 0;
    clock = new VirtualClock();
    events = [];
  });

  it("connects at start, and reconnects after every loss with a backoff that doubles up to a minute", () => {
    const { wifi } = start();
    expect(wifi.connects).toEqual([{ SSID: "city-iot", password: "s3cret" }]);
    const delays: number[] = [];
    for (let attempt = 0; attempt < 9; attempt++) {
      const before = clock.now;
      setConnection(wifi, 200); // the attempt failed
      const tries = wifi.connects.length;
      while (wifi.connects.length === tries) clock.advance(100);
      delays.push(clock.now - before);
    }
    // 100 ms steps: each delay is the scheduled one, rounded up to the step
    expect(delays).toEqual([1000, 2000, 4000, 8000, 16000, 32000, 60000, 60000, 60000]);
  });

  it("does not stack reconnect timers when the radio reports the loss twice", () => {
    const { wifi } = start();
    setConnection(wifi, 200);
    setConnection(wifi, 200);
    clock.advance(1000);
    expect(wifi.connects).toHaveLength(2);
  });

  it("goes online once per address, sets the clock by SNTP, and starts the backoff over", () => {
    const { link, wifi } = start();
    setConnection(wifi, 200);
    clock.advance(1000); // reconnect after 1 s; the next backoff would be 2 s
    setConnection(wifi, 500);
    setConnection(wifi, 500); // the address changes again: still one online event
    expect(link.online).toBe(true);
    expect(events.filter((e) => e === "info wifi-online")).toHaveLength(1);
    expect(radio.sntp.map((s) => s.host)).toEqual(["a.ntp"]);
    radio.sntp[0]!.callback(1, 1_795_000_000);
    expect(clock.wall).toBe(1_795_000_000);
    expect(events).toContain("info time-set");
    // The link drops: offline, and the first retry is 1 s again.
    setConnection(wifi, 200);
    expect(link.online).toBe(false);
    expect(events).toContain("warn wifi-offline");
    const tries = wifi.connects.length;
    clock.advance(999);
    expect(wifi.connects).toHaveLength(tries);
    clock.advance(1);
    expect(wifi.connects).toHaveLength(tries + 1);
  });

  it("tries the next SNTP host on an error, and retries in a minute when none answers", () => {
    const { wifi } = start();
    setConnection(wifi, 500);
    const sntp = radio.sntp[0]!;
    expect(sntp.callback(2)).toBeUndefined(); // retrying the same host: nothing to do
    expect(sntp.callback(-1, "timeout")).toBe("b.ntp");
    expect(sntp.callback(-1, "timeout")).toBeUndefined(); // no host left
    expect(events).toContain("warn time-unavailable");
    expect(clock.wall).toBeUndefined();
    clock.advance(59_999);
    expect(radio.sntp).toHaveLength(1);
    clock.advance(1);
    expect(radio.sntp).toHaveLength(2);
    expect(radio.sntp[1]!.host).toBe("a.ntp");
  });

  it("refreshes the time every six hours while online, and not while offline", () => {
    const { wifi } = start();
    setConnection(wifi, 500);
    radio.sntp[0]!.callback(1, 1_795_000_000);
    clock.advance(6 * 3_600_000);
    expect(radio.sntp).toHaveLength(2);
    radio.sntp[1]!.callback(1, 1_795_021_600);
    setConnection(wifi, 200);
    clock.advance(6 * 3_600_000);
    expect(radio.sntp).toHaveLength(2);
  });

  it("asks for no time without SNTP hosts, and stop() releases the radio and every timer", () => {
    const { link, wifi } = start([]);
    setConnection(wifi, 500);
    expect(radio.sntp).toHaveLength(0);
    setConnection(wifi, 200);
    expect(clock.pending).toBe(1);
    link.stop();
    expect(clock.pending).toBe(0);
    expect(wifi.closed).toBe(true);
  });
});
