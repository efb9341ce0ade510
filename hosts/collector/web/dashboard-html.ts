/**
 * The dashboard's page: a shell with no data in it (the script fetches everything from the API,
 * as staff), so nothing a node or a message says is ever written into HTML on the server. Its
 * Content-Security-Policy lets the page run the collector's own script and stylesheets and talk to
 * the collector, and nothing else: no inline script or style, no other origin, no frame, no form
 * submission (the login form is sent by the script).
 */
export const DASHBOARD_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self'",
  "connect-src 'self'",
  "frame-ancestors 'none'",
  "base-uri 'none'",
  "form-action 'none'",
].join("; ");

export const DASHBOARD_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>civicnode · street dashboard</title>
<link rel="icon" href="/dashboard/icon.svg" type="image/svg+xml">
<link rel="stylesheet" href="/dashboard/uplot.css">
<link rel="stylesheet" href="/dashboard/dashboard.css">
<script type="module" src="/dashboard/dashboard.js"></script>
</head>
<body>
<noscript><p>The staff dashboard needs JavaScript. Each node's public page (/nodes/&lt;device&gt;) and the API (/api/openapi.json) do not.</p></noscript>
<div id="dashboard"></div>
</body>
</html>
`;

/** A lamppost in a circle: the tab's icon (an image from the collector, as img-src allows). */
export const DASHBOARD_ICON = `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 16 16"><circle cx="8" cy="8" r="7.5" fill="#1d4e5f"/><path d="M7 13V5h3" stroke="#fff" stroke-width="1.5" fill="none"/><circle cx="10.5" cy="6" r="1.5" fill="#ffd166"/></svg>`;
