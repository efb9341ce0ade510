/**
 * How often the collectors' PostgreSQL transactions wait for each other: pg_stat_activity sampled
 * during a run, counting the database's backends waiting on a lock (wait_event_type 'Lock': a row
 * another transaction holds, here a device locked FOR UPDATE by another instance's batch) and those
 * running a statement. One small query every SAMPLE_MS on a connection of its own.
 */
import pg from "pg";

const SAMPLE_MS = 50;

export interface LockWaits {
  readonly samples: number;
  /** Backends of the database waiting on a lock, on average over the samples. */
  readonly meanWaiting: number;
  /** Backends running a statement (waiting ones included), on average. */
  readonly meanActive: number;
}

export class LockWaitSampler {
  readonly #client: pg.Client;
  readonly #database: string;
  #timer: NodeJS.Timeout | undefined;
  #pending: Promise<void> = Promise.resolve();
  #samples = 0;
  #waiting = 0;
  #active = 0;

  private constructor(client: pg.Client, database: string) {
    this.#client = client;
    this.#database = database;
  }

  /** Samples the database at `databaseUrl` until `stop()`. */
  static async start(databaseUrl: string): Promise<LockWaitSampler> {
    const client = new pg.Client({ connectionString: databaseUrl });
    await client.connect();
    const sampler = new LockWaitSampler(client, new URL(databaseUrl).pathname.slice(1));
    sampler.#timer = setInterval(() => (sampler.#pending = sampler.#pending.then(() => sampler.#sample())), SAMPLE_MS);
    return sampler;
  }

  async stop(): Promise<LockWaits> {
    clearInterval(this.#timer);
    await this.#pending;
    await this.#client.end();
    const n = Math.max(1, this.#samples);
    return { samples: this.#samples, meanWaiting: this.#waiting / n, meanActive: this.#active / n };
  }

  async #sample(): Promise<void> {
    try {
      const { rows } = await this.#client.query(
        "SELECT count(*) FILTER (WHERE wait_event_type = 'Lock') AS waiting, count(*) FILTER (WHERE state = 'active') AS active " +
          "FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()",
        [this.#database],
      );
      this.#samples++;
      this.#waiting += Number(rows[0].waiting);
      this.#active += Number(rows[0].active);
    } catch {
      // A sample lost (the server busy or going away) is only a sample fewer.
    }
  }
}
