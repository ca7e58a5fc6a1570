// Draws each <pre class="mermaid"> as a diagram with the vendored Mermaid (no CDN). Strict
// security: labels are text, never HTML or script. Without JavaScript the source stays readable.
/* global mermaid */
if (typeof mermaid !== "undefined") {
  mermaid.initialize({ startOnLoad: false, securityLevel: "strict" });
  mermaid.run({ querySelector: "pre.mermaid" });
}
