/**
 * Live counts on the project page: the embedding summary (bar and per-status counts) is read again
 * from GET /api/projects/<id>/embeddings/progress/ every few seconds while the tab is visible, so
 * uploads and the embedding worker show up without a reload (the export list polls itself, exports.ts).
 */
import { embeddingProgress, type EmbeddingProgress } from "../api/projects";

const POLL_MS = 3000;
const STATUSES = ["pending", "running", "ready", "failed"] as const;

export function readyPercent(progress: EmbeddingProgress): number {
  return progress.total ? Math.round((100 * progress.ready) / progress.total) : 0;
}

export function startProjectLive(): void {
  const summary = document.querySelector<HTMLElement>("[data-embedding-progress-url]");
  if (summary === null) {
    return;
  }
  const url = summary.dataset.embeddingProgressUrl!;
  const show = (progress: EmbeddingProgress): void => {
    for (const status of STATUSES) {
      const count = summary.querySelector<HTMLElement>(`[data-embedding-count="${status}"]`);
      if (count) count.textContent = `${status} ${progress[status]}`;
    }
    const fill = summary.querySelector<HTMLElement>(".bar-fill");
    if (fill) fill.style.width = `${readyPercent(progress)}%`;
    summary.dataset.embeddingTotal = String(progress.total);
  };
  const poll = (): void => {
    if (document.visibilityState !== "visible") {
      window.setTimeout(poll, POLL_MS);
      return;
    }
    embeddingProgress(url)
      .then(show, () => undefined)
      .finally(() => window.setTimeout(poll, POLL_MS));
  };
  window.setTimeout(poll, POLL_MS);
}
