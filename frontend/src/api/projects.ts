/** Typed calls of the project pages (project settings, exports, uploads, embedding progress). */
import { requestJson } from "./http";
import type { components } from "./schema";

type Schemas = components["schemas"];
export type Project = Schemas["Project"];
export type ProjectUpdate = Schemas["ProjectUpdate"];
export type Export = Schemas["Export"];
export type ExportCreate = Schemas["ExportCreate"];
export type UploadReport = Schemas["UploadReport"];
export type UploadRejected = Schemas["UploadRejected"];

/** GET /api/projects/<id>/embeddings/progress/: images per embedding status, and the total. */
export interface EmbeddingProgress {
  readonly pending: number;
  readonly running: number;
  readonly ready: number;
  readonly failed: number;
  readonly total: number;
}

export const updateProject = (url: string, body: ProjectUpdate): Promise<Project> =>
  requestJson(url, { method: "PATCH", body: JSON.stringify(body) });

export const listExports = (url: string): Promise<Export[]> => requestJson(url);
export const getExport = (url: string): Promise<Export> => requestJson(url);
export const createExport = (url: string, body: ExportCreate): Promise<Export> =>
  requestJson(url, { method: "POST", body: JSON.stringify(body) });

export const embeddingProgress = (url: string): Promise<EmbeddingProgress> => requestJson(url);

/** A refused request's reasons as one line: every field but `detail`, then `detail`. */
export function reasonsOf(body: unknown, fallback: string): string {
  if (body === null || typeof body !== "object") {
    return fallback;
  }
  const record = body as Record<string, unknown>;
  const reasons = Object.keys(record)
    .filter((key) => key !== "detail")
    .map((key) => `${key}: ${([] as unknown[]).concat(record[key]).join(" ")}`);
  const detail = typeof record.detail === "string" ? record.detail : "";
  return reasons.join("; ") || detail || fallback;
}
