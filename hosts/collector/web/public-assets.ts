/**
 * What the public pages load besides themselves, served by the collector (nothing from the
 * internet): their stylesheet, a file because the pages' CSP allows no inline style, and their
 * icon, so a browser's request for one is answered rather than failed. Kept in the code rather
 * than beside it, since the build (tsc) carries only modules into dist/.
 */

export const PUBLIC_STYLESHEET_PATH = "/assets/public.css";
export const PUBLIC_ICON_PATH = "/assets/public-icon.svg";

export const PUBLIC_STYLESHEET = `/* civicnode: a node's public page */
:root { color-scheme: light; --ink: #1b1f23; --muted: #57606a; --line: #d0d7de; --paper: #ffffff; --wash: #f6f8fa;
  --good: #1a7f37; --good-wash: #dafbe1; --warn: #9a6700; --warn-wash: #fff8c5; --bad: #cf222e; --bad-wash: #ffebe9; }
* { box-sizing: border-box; }
html { font-family: system-ui, -apple-system, "Segoe UI", Roboto, "Noto Sans", sans-serif; font-size: 100%; line-height: 1.5; color: var(--ink); background: var(--wash); }
body { margin: 0; }
.page { max-width: 52rem; margin: 0 auto; padding: 1.5rem 1rem 3rem; background: var(--paper); }
h1 { font-size: 1.75rem; line-height: 1.2; margin: 0.25rem 0 0.5rem; overflow-wrap: anywhere; }
h2 { font-size: 1.25rem; margin: 2rem 0 0.5rem; padding-top: 1rem; border-top: 1px solid var(--line); }
h3 { font-size: 1.05rem; margin: 1.25rem 0 0.25rem; overflow-wrap: anywhere; }
p, li, dd { overflow-wrap: anywhere; }
.eyebrow { margin: 0; color: var(--muted); text-transform: uppercase; letter-spacing: 0.06em; font-size: 0.8rem; }
.lede { font-size: 1.1rem; margin: 0.25rem 0 1rem; }
.muted { color: var(--muted); }
dl.facts { display: grid; grid-template-columns: minmax(8rem, max-content) 1fr; gap: 0.25rem 1rem; margin: 0.5rem 0; }
dl.facts dt { font-weight: 600; }
dl.facts dd { margin: 0; }
.verdict { border: 1px solid var(--line); border-left-width: 0.4rem; border-radius: 0.4rem; padding: 0.75rem 1rem; margin: 1rem 0; }
.verdict h2 { margin: 0 0 0.25rem; padding: 0; border: 0; font-size: 1.1rem; }
.verdict p { margin: 0.25rem 0; }
.verdict-good { border-color: var(--good); background: var(--good-wash); }
.verdict-wait { border-color: var(--warn); background: var(--warn-wash); }
.verdict-bad { border-color: var(--bad); background: var(--bad-wash); }
.channel { border: 1px solid var(--line); border-radius: 0.4rem; padding: 0.25rem 1rem 0.75rem; margin: 0.75rem 0; }
.parameter { margin: 0.5rem 0; }
.parameter-name { font-weight: 600; }
.quote { border-left: 0.25rem solid var(--line); margin: 0.5rem 0; padding: 0.1rem 0.75rem; color: var(--muted); }
table { border-collapse: collapse; width: 100%; margin: 0.5rem 0; }
th, td { text-align: left; vertical-align: top; padding: 0.35rem 0.5rem; border-bottom: 1px solid var(--line); overflow-wrap: anywhere; }
.sign { display: grid; grid-template-columns: 12rem 1fr; gap: 1rem; align-items: center; }
.sign figure { margin: 0; }
.qr-code { display: block; width: 12rem; height: 12rem; }
.fingerprint { white-space: nowrap; }
.address { font-family: ui-monospace, SFMono-Regular, Menlo, monospace; overflow-wrap: anywhere; }
code { font-family: ui-monospace, SFMono-Regular, Menlo, monospace; font-size: 0.9em; overflow-wrap: anywhere; }
footer { margin-top: 2.5rem; font-size: 0.9rem; color: var(--muted); }
a { color: #0550ae; }
@media (max-width: 32rem) { .sign { grid-template-columns: 1fr; } dl.facts { grid-template-columns: 1fr; } }
@media print { html { background: none; } .page { max-width: none; } .qr-code { width: 6cm; height: 6cm; } footer { display: none; } }
`;

/** A lamppost with a sensor, in the pages' ink. */
export const PUBLIC_ICON = `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 32 32"><rect width="32" height="32" rx="6" fill="#f6f8fa"/><path d="M15 29V9h2v20zM10 29h12v-2H10zM12 6h10l-2 4h-6z" fill="#1b1f23"/><circle cx="23" cy="16" r="3" fill="#1a7f37"/></svg>`;
