import { describe, expect, it } from "vitest";
import { NetstringReader, encodeNetstring } from "../../../hosts/xs/netstring.js";
import { XsnapError, XsnapWorker } from "../../../hosts/xs/xsnap-worker.js";
import { bundleForXs } from "../../../hosts/xs/bundle.js";

describe("netstrings", () => {
  it("frames and reassembles messages split at any byte", () => {
    const messages = [Buffer.from("e1+1"), Buffer.alloc(0), Buffer.from("?\x00\x01,:")];
    const wire = Buffer.concat(messages.map(encodeNetstring));
    expect(wire.subarray(0, 7).toString()).toBe("4:e1+1,");
    for (let split = 0; split <= wire.length; split++) {
      const got: string[] = [];
      const reader = new NetstringReader((m) => got.push(Buffer.from(m).toString("latin1")));
      reader.push(wire.subarray(0, split));
      reader.push(wire.subarray(split));
      expect(got).toEqual(messages.map((m) => m.toString("latin1")));
    }
  });

  it.each([["x:abc,"], ["3:abcd"], ["01:a,"], ["99999999999999999999999:"]])("rejects malformed framing %j", (text) => {
    const reader = new NetstringReader(() => {}, 1000);
    expect(() => reader.push(Buffer.from(text))).toThrow();
  });
});

describe("XsnapWorker", () => {
  it("evaluates scripts, runs commands with synchronous host queries, and reports the meter", async () => {
    const queries: string[] = [];
    const worker = new XsnapWorker({
      onQuery: (q) => {
        queries.push(Buffer.from(q).toString());
        return Buffer.from(Buffer.from(q).toString().toUpperCase());
      },
    });
    try {
      await worker.evaluate(`globalThis.handleCommand = (ab) => {
        let text = "";
        for (const b of new Uint8Array(ab)) text += String.fromCharCode(b);
        const answer = new Uint8Array(issueCommand(ab));
        let upper = "";
        for (const b of answer) upper += String.fromCharCode(b);
        const out = new Uint8Array(upper.length + text.length);
        for (let i = 0; i < upper.length; i++) out[i] = upper.charCodeAt(i);
        for (let i = 0; i < text.length; i++) out[upper.length + i] = text.charCodeAt(i);
        return out.buffer;
      };`);
      const small = await worker.command(Buffer.from("abc"));
      expect(Buffer.from(small.reply).toString()).toBe("ABCabc");
      expect(queries).toEqual(["abc"]);
      expect(small.meter.compute).toBeGreaterThan(0);
      expect(small.meter.currentHeapCount).toBeGreaterThan(0);
      expect(small.meter.allocate).toBeGreaterThan(0);
      // More work, more computrons: the meter counts what runs.
      const large = await worker.command(Buffer.from("x".repeat(2000)));
      expect(large.meter.compute).toBeGreaterThan(small.meter.compute * 10);
    } finally {
      await worker.close();
    }
  });

  it("reports an uncaught exception as a rejected command and keeps working", async () => {
    const worker = new XsnapWorker();
    try {
      await worker.evaluate(`globalThis.handleCommand = (ab) => { if (ab.byteLength === 0) throw new RangeError("empty"); return ab; };`);
      await expect(worker.command(new Uint8Array(0))).rejects.toThrow(/RangeError: empty/);
      expect(Buffer.from((await worker.command(Buffer.from("ok"))).reply).toString()).toBe("ok");
    } finally {
      await worker.close();
    }
  });

  it("runs commands strictly in order when many are sent at once", async () => {
    const worker = new XsnapWorker();
    try {
      await worker.evaluate(`let n = 0; globalThis.handleCommand = () => new Uint8Array([n++]).buffer;`);
      const replies = await Promise.all(Array.from({ length: 20 }, () => worker.command(Uint8Array.of(0))));
      expect(replies.map((r) => r.reply[0])).toEqual(Array.from({ length: 20 }, (_, i) => i));
    } finally {
      await worker.close();
    }
  });

  it("rejects pending and later commands with a clear error when the worker dies", async () => {
    const worker = new XsnapWorker();
    await worker.evaluate(`globalThis.handleCommand = () => { for (;;) {} };`);
    const spinning = worker.command(Uint8Array.of(1));
    const queued = worker.command(Uint8Array.of(2));
    await worker.close(); // cannot quit while spinning: killed after its grace period
    await expect(spinning).rejects.toBeInstanceOf(XsnapError);
    await expect(queued).rejects.toBeInstanceOf(XsnapError);
    await expect(worker.command(Uint8Array.of(3))).rejects.toThrow(/exited/);
  });

  it("runs the firmware bundle, which needs no Node built-ins", () => {
    const bundle = bundleForXs("street-node");
    expect(bundle.modules).toContain("src/node.ts");
    expect(bundle.modules.filter((m) => m.startsWith("node:"))).toEqual([]);
    expect(bundle.code).not.toMatch(/require\(["'](fs|net|crypto|node:)/);
  });
});
