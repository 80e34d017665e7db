/**
 * Entry point: wires the pieces together. The annotator page (a later issue) mounts into
 * `#annotator-root`; until then this only marks the page so tests can see the bundle ran.
 */
import { ortWasmBaseUrl } from "./sam/runtime";

function start(): void {
  const root = document.getElementById("annotator-root");
  document.documentElement.dataset["frontend"] = "ready";
  if (root === null) {
    return;
  }
  // The static URL comes from the page (Django's {% static %}), never hard-coded.
  const staticUrl = root.dataset["staticUrl"] ?? "/static/";
  root.dataset["ortWasmBase"] = ortWasmBaseUrl(staticUrl);
}

if (document.readyState === "loading") {
  document.addEventListener("DOMContentLoaded", start, { once: true });
} else {
  start();
}
