/**
 * Received messages gathered into batches for the store, and what the store said of each, turned
 * into acknowledgements in the order the messages arrived.
 *
 * A batch is handed over when `max` messages wait, or `waitMs` after the first of them arrived,
 * whichever comes first; one batch at a time, so the acknowledgements of one batch all go out
 * before those of the next. The store answers "ack" or "hold" per message. The messages before the
 * first "hold" are acknowledged; the held one and everything after it, in the batch and waiting
 * behind it, are not (`hold` is told how many): MQTT 3.1.1 and MQTT 5 §4.6 require PUBACKs in the
 * order the PUBLISHes arrived, so none may be acknowledged past one that is not. A store that
 * throws, or answers for fewer messages than it was given, has stored nothing it can vouch for:
 * the unanswered messages are held too, and the defect is logged.
 *
 * Example:
 *   const batches = new InboundBatches({ max: 200, waitMs: 20, deliver: (ms) => store.admitBatch(ms),
 *     acknowledge: (ticket) => puback(ticket), hold: (left) => pause(left), settled: () => readMore(), log });
 *   batches.add({ topic, payload }, ticket);
 */
import type { Log } from "../../src/platform.js";

/** A message as the broker delivered it. */
export interface BrokerMessage {
  readonly topic: string;
  readonly payload: Uint8Array;
}

/** What became of a message: "ack" to acknowledge it, "hold" to have the broker deliver it again later. */
export type Delivery = "ack" | "hold";

/** Stores a batch; resolves with one answer per message, in order. */
export type DeliverBatch = (messages: readonly BrokerMessage[]) => Promise<readonly Delivery[]>;

export interface BatchLimits {
  /** Messages per batch at most (1 to 32,767). */
  readonly max: number;
  /** How long the first message of a batch waits for others (ms). */
  readonly waitMs: number;
}

export interface InboundBatchesOptions<Ticket> extends BatchLimits {
  readonly deliver: DeliverBatch;
  /** Told, in order, of each message to acknowledge. */
  readonly acknowledge: (ticket: Ticket) => void;
  /** Told that consumption must stop: `left` messages were not acknowledged (the broker keeps them). */
  readonly hold: (left: number) => void;
  /** Told after every batch, when fewer messages are unacknowledged. */
  readonly settled: () => void;
  readonly log: Log;
}

/** The largest batch: twice it must fit MQTT 5's Receive Maximum (65,535). */
export const MAX_BATCH = 32_767;

interface Entry<Ticket> {
  readonly message: BrokerMessage;
  readonly ticket: Ticket;
  /** performance.now() when it arrived. */
  readonly arrivedAt: number;
}

export class InboundBatches<Ticket> {
  readonly #options: InboundBatchesOptions<Ticket>;
  #waiting: Array<Entry<Ticket>> = [];
  #delivering: ReadonlyArray<Entry<Ticket>> | undefined;
  /** Settles when the batch being delivered has been answered. */
  #delivered: Promise<void> = Promise.resolve();
  #timer: NodeJS.Timeout | undefined;
  #stopped = false;

  constructor(options: InboundBatchesOptions<Ticket>) {
    checkLimits(options);
    this.#options = options;
  }

  /** Messages not yet acknowledged: waiting, and in the batch being delivered. */
  get size(): number {
    return this.#waiting.length + (this.#delivering?.length ?? 0);
  }

  add(message: BrokerMessage, ticket: Ticket): void {
    if (this.#stopped) return;
    this.#waiting.push({ message, ticket, arrivedAt: performance.now() });
    this.#schedule();
  }

  /**
   * Forgets the waiting messages (their connection ended: the broker delivers them again) and
   * returns how many; the batch being delivered is answered as usual.
   */
  forget(): number {
    const count = this.#waiting.length;
    this.#waiting = [];
    this.#clearTimer();
    return count;
  }

  /** Takes no more messages and forgets the waiting ones; resolves once the batch being delivered is answered. */
  stop(): Promise<void> {
    this.#stopped = true;
    this.forget();
    return this.#delivered;
  }

  /** Hands over a batch if one is full or its first message has waited long enough, else sets a timer for it. */
  #schedule(): void {
    if (this.#delivering || this.#stopped || this.#waiting.length === 0) return; // #settle schedules again
    const wait = this.#waiting[0]!.arrivedAt + this.#options.waitMs - performance.now();
    if (this.#waiting.length >= this.#options.max || wait <= 0) {
      this.#flush();
      return;
    }
    this.#timer ??= setTimeout(() => {
      this.#timer = undefined;
      this.#schedule();
    }, wait);
  }

  #flush(): void {
    this.#clearTimer();
    const batch = this.#waiting.splice(0, this.#options.max);
    this.#delivering = batch;
    this.#delivered = this.#answer(batch)
      .then((answers) => this.#settle(batch, answers))
      .catch((error: unknown) => {
        // A listener that throws must not leave a rejection nobody handles (Node would exit).
        this.#options.log("error", "collector-batch-defect", { message: String((error as Error)?.message ?? error).slice(0, 200) });
      });
  }

  async #answer(batch: ReadonlyArray<Entry<Ticket>>): Promise<readonly unknown[]> {
    try {
      const answers: unknown = await this.#options.deliver(batch.map((entry) => entry.message));
      if (!Array.isArray(answers) || answers.length < batch.length) {
        this.#options.log("error", "collector-batch-defect", { messages: batch.length, answers: Array.isArray(answers) ? answers.length : -1 });
      }
      return Array.isArray(answers) ? answers : [];
    } catch (error) {
      // A store that throws has had no chance to say what it kept: none is acknowledged.
      this.#options.log("error", "collector-batch-defect", { messages: batch.length, message: String((error as Error)?.message ?? error).slice(0, 200) });
      return [];
    }
  }

  #settle(batch: ReadonlyArray<Entry<Ticket>>, answers: readonly unknown[]): void {
    this.#delivering = undefined;
    let acknowledged = 0;
    while (acknowledged < batch.length && answers[acknowledged] === "ack") {
      this.#options.acknowledge(batch[acknowledged]!.ticket);
      acknowledged++;
    }
    if (acknowledged < batch.length) {
      const answer = answers[acknowledged];
      if (answer !== "hold" && answer !== undefined) this.#options.log("error", "collector-batch-defect", { answer: String(answer).slice(0, 40) });
      this.#options.hold(batch.length - acknowledged + this.forget());
    }
    this.#options.settled();
    this.#schedule();
  }

  #clearTimer(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
  }
}

/** Throws a TypeError naming the limit that is out of range. */
export function checkLimits(limits: BatchLimits): void {
  if (!Number.isInteger(limits.max) || limits.max < 1 || limits.max > MAX_BATCH) {
    throw new TypeError(`batch.max must be an integer from 1 to ${MAX_BATCH} (got ${String(limits.max)})`);
  }
  if (typeof limits.waitMs !== "number" || !Number.isFinite(limits.waitMs) || limits.waitMs < 0) {
    throw new TypeError(`batch.waitMs must be a finite number of milliseconds, 0 or more (got ${String(limits.waitMs)})`);
  }
}
