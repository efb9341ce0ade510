/**
 * The alerts table read as it grows: each call returns the alerts recorded since the last one, by
 * any instance of the group, oldest first. A watch that must raise an episode once for the whole
 * group, and not again after a restart, learns from it what was raised already.
 *
 * The store's pages (db.alerts) end without a cursor, so the last page is read again from its
 * start on the next call, the rows already returned skipped: alerts are only ever added (no
 * retention deletes them), so the page's first rows are the same ones. A call reads at most
 * MAX_PAGES pages (the first call on a long history continues on the next).
 *
 * Example:
 *   const recorded = new RecordedAlerts(db);
 *   for (const alert of await recorded.readNew()) ...
 */
import type { Alert } from "./alerts.js";
import { MAX_PAGE, type CollectorDb } from "./db/collector-db.js";

const MAX_PAGES = 100;

export class RecordedAlerts {
  readonly #db: CollectorDb;
  readonly #pageSize: number;
  /** The cursor of the page being read (undefined: the first page), and how many of its rows were returned. */
  #cursor: string | undefined;
  #returned = 0;

  constructor(db: CollectorDb, pageSize = MAX_PAGE) {
    this.#db = db;
    this.#pageSize = pageSize;
  }

  /** The alerts recorded since the last call (all of them on the first), oldest first. Throws CollectorDbError. */
  async readNew(): Promise<Alert[]> {
    const fresh: Alert[] = [];
    for (let page = 0; page < MAX_PAGES; page++) {
      const { items, cursor } = await this.#db.alerts({ limit: this.#pageSize, cursor: this.#cursor });
      fresh.push(...items.slice(this.#returned));
      if (cursor === undefined) {
        this.#returned = Math.max(this.#returned, items.length);
        break;
      }
      this.#cursor = cursor;
      this.#returned = 0;
    }
    return fresh;
  }
}
