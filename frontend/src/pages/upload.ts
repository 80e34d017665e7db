/**
 * Upload page (templates/projects/upload.html): posts the chosen files to the upload API in batches,
 * showing byte progress. Batches keep each request well under the server's per-request limits and
 * let one bad batch fail without losing the others; XMLHttpRequest because fetch() has no upload
 * progress.
 */
import { csrfTokenFromCookies } from "../api/http";
import type { UploadRejected, UploadReport } from "../api/projects";
import { byId } from "./dom";

export const BATCH_FILES = 20;
export const BATCH_BYTES = 200 * 1024 * 1024;

/** Files in order, cut into batches of at most BATCH_FILES files and BATCH_BYTES bytes (a bigger file alone). */
export function batchesOf<T extends { size: number }>(files: readonly T[], maxFiles = BATCH_FILES, maxBytes = BATCH_BYTES): T[][] {
  const batches: T[][] = [];
  let current: T[] = [];
  let bytes = 0;
  for (const file of files) {
    if (current.length && (current.length >= maxFiles || bytes + file.size > maxBytes)) {
      batches.push(current);
      current = [];
      bytes = 0;
    }
    current.push(file);
    bytes += file.size;
  }
  if (current.length) batches.push(current);
  return batches;
}

type BatchResult = Pick<UploadReport, "accepted" | "rejected">;

function sendBatch(url: string, token: string, batch: File[], onProgress: (loaded: number, total: number) => void): Promise<BatchResult> {
  return new Promise((resolve) => {
    const data = new FormData();
    for (const file of batch) data.append("files", file, file.name);
    const request = new XMLHttpRequest();
    request.open("POST", url);
    request.setRequestHeader("X-CSRFToken", token);
    request.setRequestHeader("Accept", "application/json");
    const allRejected = (reason: string): BatchResult => ({
      accepted: [],
      rejected: batch.map((file): UploadRejected => ({ name: file.name, reason })),
    });
    request.upload.addEventListener("progress", (event) => {
      if (event.lengthComputable) onProgress(event.loaded, event.total);
    });
    request.addEventListener("load", () => {
      let body: Partial<UploadReport> & { detail?: string } = {};
      try {
        body = JSON.parse(request.responseText) as typeof body;
      } catch {
        body = {};
      }
      if (body.accepted || body.rejected) {
        resolve({ accepted: body.accepted ?? [], rejected: body.rejected ?? [] });
      } else {
        resolve(allRejected(body.detail ?? `server answered ${request.status}`));
      }
    });
    request.addEventListener("error", () => resolve(allRejected("network error")));
    request.send(data);
  });
}

export function startUpload(): void {
  const form = document.getElementById("upload-form") as HTMLFormElement | null;
  if (form === null) {
    return;
  }
  const input = byId<HTMLInputElement>("upload-files");
  const progress = byId<HTMLProgressElement>("upload-progress");
  const statusLine = byId<HTMLElement>("upload-status");
  const result = byId<HTMLElement>("upload-result");
  const acceptedList = byId<HTMLUListElement>("upload-accepted");
  const rejectedList = byId<HTMLUListElement>("upload-rejected");
  const tokenInput = form.querySelector<HTMLInputElement>("input[name=csrfmiddlewaretoken]");
  const token = tokenInput?.value || csrfTokenFromCookies(document.cookie);
  const button = form.querySelector("button")!;
  const addItem = (list: HTMLUListElement, text: string): void => {
    const item = document.createElement("li");
    item.textContent = text;
    list.appendChild(item);
  };

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const files = Array.from(input.files ?? []);
    if (!files.length) return;
    const totalBytes = files.reduce((sum, f) => sum + f.size, 0) || 1;
    let doneBytes = 0;
    let accepted = 0;
    let rejected = 0;
    acceptedList.textContent = "";
    rejectedList.textContent = "";
    progress.hidden = false;
    progress.value = 0;
    button.disabled = true;
    void (async () => {
      for (const batch of batchesOf(files)) {
        const batchBytes = batch.reduce((sum, f) => sum + f.size, 0);
        const report = await sendBatch(form.dataset.url ?? "", token, batch, (loaded, total) => {
          // The multipart body is slightly larger than the files; scale to the files' bytes.
          progress.value = Math.min(100, (100 * (doneBytes + (batchBytes * loaded) / total)) / totalBytes);
          statusLine.textContent = `Uploading… ${Math.round(progress.value)}%`;
        });
        doneBytes += batchBytes;
        for (const image of report.accepted) {
          accepted += 1;
          addItem(acceptedList, `${image.original_name} (${image.width}×${image.height})`);
        }
        for (const item of report.rejected) {
          rejected += 1;
          addItem(rejectedList, `${item.name}: ${item.reason}`);
        }
      }
      progress.value = 100;
      result.hidden = false;
      button.disabled = false;
      statusLine.textContent = `Done: ${accepted} accepted, ${rejected} rejected.`;
    })();
  });
}
