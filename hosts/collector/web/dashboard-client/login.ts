/// <reference lib="dom" />
/**
 * How staff get in when the page has no session: the one-time link the collector printed at its
 * start (`npm start`, `npm run collector`), or the staff token pasted once. The token goes to
 * /login as a bearer credential, which answers with the session cookie; the field is cleared at
 * once and the page keeps no copy (the cookie is HttpOnly: its scripts cannot read it either).
 */
import { el, replace } from "./dom.js";

export class LoginPanel {
  readonly element: HTMLElement;
  readonly #message = el("p", { class: "login-message", role: "alert" });
  readonly #token = el("input", { type: "password", autocomplete: "off", spellcheck: "false", "aria-label": "staff token", class: "login-token" });

  constructor(onLoggedIn: () => void) {
    const form = el(
      "form",
      { class: "login-form" },
      el("label", {}, "Staff token ", this.#token),
      el("button", { type: "submit" }, "Log in"),
    );
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      const token = this.#token.value.trim();
      this.#token.value = "";
      void this.#login(token, onLoggedIn);
    });
    this.element = el(
      "section",
      { class: "login", hidden: true },
      el("h2", {}, "Staff login"),
      this.#message,
      el("p", {}, "Open the one-time link the collector printed when it started (", el("code", {}, "dashboard http://…/login?code=…"), "): it logs this browser in for 12 hours. A link works once, for 10 minutes."),
      el("p", {}, "Or paste the staff token, the content of ", el("code", {}, "api-token"), " in the collector's state folder (", el("code", {}, ".civicnode/api-token"), " for npm start). It is sent once, to this collector, and not kept by the page."),
      form,
    );
  }

  show(why: string): void {
    replace(this.#message, why);
    this.element.hidden = false;
    this.#token.focus();
  }

  hide(): void {
    this.element.hidden = true;
  }

  async #login(token: string, onLoggedIn: () => void): Promise<void> {
    if (!/^[A-Za-z0-9_-]{43}$/.test(token)) {
      replace(this.#message, "That is not a staff token: it is 43 characters of letters, digits, - and _.");
      return;
    }
    const response = await fetch("/login", { headers: { authorization: `Bearer ${token}` }, credentials: "same-origin" });
    if (response.status === 204) {
      this.hide();
      onLoggedIn();
      return;
    }
    replace(this.#message, response.status === 401 ? "That is not this collector's staff token." : `The collector refused the login (HTTP ${response.status}).`);
  }
}
