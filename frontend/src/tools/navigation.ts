/**
 * In-page image navigation: Prev/Next (A/D), DICOM frames and the browser's back/forward fetch the
 * other image's annotator page and swap its #annotator-root and config into this document, so the
 * decoder worker, its wasm runtime and ONNX sessions stay (created once per tab, reused across
 * images) and a prefetched embedding is already parsed in the worker. Whatever does not look like
 * the same annotator page (a login redirect, an error page, a newer frontend bundle) is left to a
 * full page load by the caller (null).
 */

export interface AnnotatorPage {
  /** The new page's #annotator-root, adopted into this document. */
  readonly root: HTMLElement;
  readonly configText: string;
  readonly title: string;
}

export async function fetchAnnotatorPage(url: string): Promise<AnnotatorPage | null> {
  let response: Response;
  try {
    response = await fetch(url, { credentials: "same-origin", headers: { Accept: "text/html" } });
  } catch {
    return null;
  }
  if (!response.ok || response.redirected || !(response.headers.get("Content-Type") ?? "").includes("text/html")) {
    return null;
  }
  const doc = new DOMParser().parseFromString(await response.text(), "text/html");
  const root = doc.getElementById("annotator-root");
  const config = doc.getElementById("annotator-config");
  if (root === null || config === null || bundleOf(doc) !== bundleOf(document)) {
    return null;
  }
  return { root: document.adoptNode(root), configText: config.textContent ?? "{}", title: doc.title };
}

/** Put the fetched page in place of the current one; returns the new root. */
export function swapIn(page: AnnotatorPage): HTMLElement {
  const current = document.getElementById("annotator-root");
  const config = document.getElementById("annotator-config");
  if (current === null || config === null) {
    throw new Error("this is not an annotator page");
  }
  current.replaceWith(page.root);
  config.textContent = page.configText;
  document.title = page.title;
  return page.root;
}

/** The page's module bundle URL: a page built with another bundle needs a full load. */
function bundleOf(doc: Document): string | null {
  return doc.querySelector<HTMLScriptElement>('script[type="module"][src]')?.getAttribute("src") ?? null;
}
