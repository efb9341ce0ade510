/// <reference lib="dom" />
/**
 * A long list shown a page at a time, so that 256 nodes or a month of alerts never put thousands
 * of rows into the page: only the current page's rows exist in the DOM.
 */
import { button, el, replace } from "./dom.js";

export class Pager<T> {
  /** The list's controls: previous, where we are, next. */
  readonly controls: HTMLElement;
  readonly #body: HTMLElement;
  readonly #render: (item: T) => Node;
  readonly #pageSize: number;
  readonly #empty: string;
  readonly #where = el("span", { class: "pager-where" });
  readonly #previous: HTMLButtonElement;
  readonly #next: HTMLButtonElement;
  #items: readonly T[] = [];
  #page = 0;

  /** Rows of `render(item)` go into `body`; `empty`: what it says with no item. */
  constructor(body: HTMLElement, render: (item: T) => Node, pageSize: number, empty: string, label: string) {
    this.#body = body;
    this.#render = render;
    this.#pageSize = pageSize;
    this.#empty = empty;
    this.#previous = button("‹ previous", () => this.#show(this.#page - 1), { class: "pager-previous", "aria-label": `previous page of ${label}` });
    this.#next = button("next ›", () => this.#show(this.#page + 1), { class: "pager-next", "aria-label": `next page of ${label}` });
    this.controls = el("div", { class: "pager" }, this.#previous, this.#where, this.#next);
  }

  get items(): readonly T[] {
    return this.#items;
  }

  /** Shows `items`, staying on the same page where it still exists. */
  set(items: readonly T[]): void {
    this.#items = items;
    this.#show(this.#page);
  }

  /** Shows the page that holds the first item `match` takes. */
  reveal(match: (item: T) => boolean): void {
    const index = this.#items.findIndex(match);
    if (index >= 0) this.#show(Math.floor(index / this.#pageSize));
  }

  #show(page: number): void {
    const pages = Math.max(1, Math.ceil(this.#items.length / this.#pageSize));
    this.#page = Math.min(Math.max(0, page), pages - 1);
    const first = this.#page * this.#pageSize;
    const shown = this.#items.slice(first, first + this.#pageSize);
    const list = this.#body.tagName === "OL" || this.#body.tagName === "UL";
    replace(this.#body, ...(shown.length === 0 ? [el(list ? "li" : "p", { class: "empty" }, this.#empty)] : shown.map((item) => this.#render(item))));
    replace(this.#where, this.#items.length === 0 ? "" : `${first + 1}–${first + shown.length} of ${this.#items.length}`);
    this.#previous.disabled = this.#page === 0;
    this.#next.disabled = this.#page >= pages - 1;
    this.controls.hidden = this.#items.length <= this.#pageSize;
  }
}
