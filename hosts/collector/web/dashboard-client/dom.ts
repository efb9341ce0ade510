/// <reference lib="dom" />
/**
 * The page is built with these alone: elements made by createElement, text set as text nodes
 * (textContent), attributes by setAttribute. Nothing is ever parsed as HTML, so a channel named
 * `<img src=x onerror=...>` by a node is shown as those characters and runs nothing. There is no
 * innerHTML, insertAdjacentHTML or document.write anywhere in the dashboard.
 */

export type Child = Node | string | number | null | undefined | false;

export interface Attributes {
  readonly [name: string]: string | number | boolean | undefined;
}

const SVG_NS = "http://www.w3.org/2000/svg";

/** An HTML element with `attributes` (a boolean: present or not) and `children` (strings become text). */
export function el<K extends keyof HTMLElementTagNameMap>(tag: K, attributes: Attributes = {}, ...children: Child[]): HTMLElementTagNameMap[K] {
  const element = document.createElement(tag);
  setAttributes(element, attributes);
  append(element, ...children);
  return element;
}

/** An SVG element, the same way. */
export function svg<K extends keyof SVGElementTagNameMap>(tag: K, attributes: Attributes = {}, ...children: Child[]): SVGElementTagNameMap[K] {
  const element = document.createElementNS(SVG_NS, tag);
  setAttributes(element, attributes);
  append(element, ...children);
  return element;
}

export function append(parent: Node, ...children: Child[]): void {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    parent.appendChild(typeof child === "string" || typeof child === "number" ? document.createTextNode(String(child)) : child);
  }
}

/** Replaces what `parent` holds with `children`. */
export function replace(parent: Node, ...children: Child[]): void {
  while (parent.firstChild) parent.removeChild(parent.firstChild);
  append(parent, ...children);
}

function setAttributes(element: Element, attributes: Attributes): void {
  for (const [name, value] of Object.entries(attributes)) {
    if (value === undefined || value === false) continue;
    element.setAttribute(name, value === true ? "" : String(value));
  }
}

/** A button that runs `action` when pressed. */
export function button(label: string, action: () => void, attributes: Attributes = {}): HTMLButtonElement {
  const b = el("button", { type: "button", ...attributes }, label);
  b.addEventListener("click", action);
  return b;
}
