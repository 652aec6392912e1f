// The dashboard's HTML: a static shell whose panels the browser code (extension/webview/
// dashboard.ts) fills. No inline script or style, so the page's CSP can forbid them.

/** The page; `script` and `style` are the URLs of the browser build and the style sheet. */
export function dashboardPage(script: string, style: string): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>mmscope dashboard</title>
<link rel="stylesheet" href="${style}">
<script type="module" src="${script}"></script>
</head>
<body data-seq="0" data-connection="connecting">
<header>
  <h1>mmscope</h1>
  <span id="connection" class="badge">connecting</span>
  <span id="run-state" class="badge">unknown</span>
  <span id="guest"></span>
  <span id="summary"></span>
</header>
<main>
  <section id="map-panel" class="panel">
    <h2>Physical memory <small id="map-caption"></small></h2>
    <div id="memory-map"></div>
    <div id="selection"></div>
  </section>
  <section id="chains-panel" class="panel">
    <h2>Chains <small id="chain-count"></small></h2>
    <div class="scroll"><table id="chains"><thead><tr><th>id</th><th>blocks</th><th>flags</th><th>owner</th><th>mapped at</th><th>allocated by</th></tr></thead><tbody></tbody></table></div>
  </section>
  <section id="processes-panel" class="panel">
    <h2>Processes and address spaces</h2>
    <div id="processes" class="scroll"></div>
  </section>
  <section id="findings-panel" class="panel">
    <h2>Findings <small id="finding-count"></small></h2>
    <ul id="findings" class="scroll"></ul>
  </section>
</main>
<footer id="status"></footer>
</body>
</html>
`;
}
