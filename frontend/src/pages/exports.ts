/**
 * Project page "Export" card (templates/projects/_exports.html, managers and reviewers): starts an
 * export through the API, follows its progress and shows the download link when the Celery task is
 * done. The list is read again every few seconds, so exports started elsewhere (another manager, the
 * API) appear and finish without a reload.
 */
import { ApiError } from "../api/http";
import { createExport, getExport, listExports, reasonsOf, type Export, type ExportCreate } from "../api/projects";
import { byId } from "./dom";

const POLL_MS = 1000;
const LIST_POLL_MS = 5000;

const unfinished = (exp: Export): boolean => exp.status === "queued" || exp.status === "running";

export function startExports(): void {
  const card = document.getElementById("exports");
  if (card === null) {
    return;
  }
  const form = byId<HTMLFormElement>("export-form");
  const list = byId<HTMLUListElement>("export-list");
  const listUrl = card.dataset.listUrl ?? "";
  const detailUrl = card.dataset.detailUrl ?? "/api/exports/";
  const rows = new Map<number, HTMLLIElement>(); // export id -> its row, updated in place
  const polling = new Set<number>();

  function render(exp: Export): void {
    let item = rows.get(exp.id);
    if (item === undefined) {
      item = document.createElement("li");
      rows.set(exp.id, item);
      list.insertBefore(item, list.firstChild);
    }
    item.dataset.exportId = String(exp.id);
    item.textContent = "";
    const label = document.createElement("span");
    // Only COCO honours the mask choice (YOLO is always polygons or boxes, "masks" always PNGs).
    const options = (exp.options ?? {}) as { segmentation?: string };
    const mode = exp.format === "coco" ? ` (${options.segmentation ?? "rle"})` : "";
    label.textContent = `#${exp.id} ${exp.format}${mode} — ${exp.status} `;
    item.appendChild(label);
    if (unfinished(exp)) {
      const bar = document.createElement("div");
      bar.className = "bar";
      const fill = document.createElement("div");
      fill.className = "bar-fill";
      fill.style.width = `${Math.round(100 * exp.progress)}%`;
      bar.appendChild(fill);
      item.appendChild(bar);
    } else if (exp.status === "done" && exp.download_url) {
      const link = document.createElement("a");
      link.href = exp.download_url;
      link.textContent = "Download";
      item.appendChild(link);
    } else if (exp.status === "failed") {
      const error = document.createElement("span");
      error.className = "muted";
      error.textContent = exp.error;
      item.appendChild(error);
    }
    card!.dataset.exportCount = String(rows.size);
  }

  function poll(id: number): void {
    if (polling.has(id)) {
      return;
    }
    polling.add(id);
    const again = (ms: number): void => {
      window.setTimeout(() => {
        polling.delete(id);
        poll(id);
      }, ms);
    };
    getExport(`${detailUrl}${id}/`).then(
      (exp) => {
        render(exp);
        if (unfinished(exp)) {
          again(POLL_MS);
        } else {
          polling.delete(id);
        }
      },
      () => again(5 * POLL_MS),
    );
  }

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const button = form.querySelector("button");
    if (button) button.disabled = true;
    const field = (name: string): string => (form.elements.namedItem(name) as HTMLInputElement | HTMLSelectElement | null)?.value ?? "";
    const includeImages = form.elements.namedItem("include_images") as HTMLInputElement | null;
    const body: ExportCreate = {
      format: field("format") as ExportCreate["format"],
      segmentation: field("segmentation") as NonNullable<ExportCreate["segmentation"]>,
      statuses: field("statuses") === "all" ? [] : ["approved"],
      include_images: includeImages?.checked ?? false,
      job_id: field("job_id") ? Number(field("job_id")) : null,
    };
    createExport(listUrl, body)
      .then(
        (exp) => {
          render(exp);
          poll(exp.id);
        },
        (error: unknown) => {
          const why = error instanceof ApiError ? reasonsOf(error.body, `server answered ${error.status}`) : String(error);
          window.alert(`Export failed to start: ${why}`);
        },
      )
      .finally(() => {
        if (button) button.disabled = false;
      });
  });

  // Recent exports, oldest first so the newest ends on top; unfinished ones keep polling.
  const refresh = (): void => {
    listExports(listUrl).then(
      (exports) => {
        for (const exp of exports.slice().reverse()) {
          render(exp);
          if (unfinished(exp)) poll(exp.id);
        }
      },
      () => undefined,
    );
  };
  refresh();
  window.setInterval(() => {
    if (document.visibilityState === "visible") refresh();
  }, LIST_POLL_MS);
}
