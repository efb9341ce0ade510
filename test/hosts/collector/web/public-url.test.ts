/**
 * `--public-url`: the collector service (what `npm start` and `npm run collector` run) hands the
 * address residents reach it at to the public pages, so that a node's page, and the QR code on its
 * sign, point there and not at the collector's own loopback address behind the city's proxy.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { startCollectorService } from "../../../../hosts/collector/collector-service.js";
import { Keyring } from "../../../../hosts/collector/keyring.js";
import { runCleanups, startBroker } from "../../../support/mqtt-test-brokers.js";

const dirs: string[] = [];
afterEach(async () => {
  await runCleanups();
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

async function pageOf(publicBaseUrl: string | undefined): Promise<{ html: string; apiUrl: string }> {
  const stateDir = mkdtempSync(join(tmpdir(), "civicnode-public-url-"));
  dirs.push(stateDir);
  const keyring = new Keyring();
  keyring.provision("lamp-3", "old-town");
  const broker = await startBroker();
  const service = await startCollectorService({ stateDir, brokerUrl: `mqtt://127.0.0.1:${broker.port}`, keyring, log: () => {}, ...(publicBaseUrl === undefined ? {} : { publicBaseUrl }) });
  try {
    const response = await fetch(`${service.api!.url}/nodes/lamp-3`);
    expect(response.status).toBe(200);
    return { html: await response.text(), apiUrl: service.api!.url };
  } finally {
    await service.stop();
  }
}

describe("the collector service's public address", () => {
  it("puts a node's page under --public-url", async () => {
    const { html, apiUrl } = await pageOf("https://sensors.example.city/street");
    expect(html).toContain('data-field="address">https://sensors.example.city/street/nodes/lamp-3</span>');
    expect(html).not.toContain(`${apiUrl}/nodes/lamp-3`);
  });

  it("without one, takes the address the page was asked at", async () => {
    const { html, apiUrl } = await pageOf(undefined);
    expect(html).toContain(`data-field="address">${apiUrl}/nodes/lamp-3</span>`);
  });
});
