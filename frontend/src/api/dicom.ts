/** DICOM calls of the annotator page: render with another window, set the project's window. */
import { ApiError, requestJson } from "./http";
import type { components } from "./schema";

export type DicomWindow = components["schemas"]["DicomWindow"];

/** `config.dicom` of the annotator page (annotator/api/page_config.py `_dicom_config`); null for other images. */
export type DicomConfig = components["schemas"]["DicomPageConfig"];

/** PNG of the image rendered from its stored original with this window (GET .../render/). */
export async function renderWindow(renderUrl: string, window: DicomWindow): Promise<Blob> {
  const query = new URLSearchParams({ center: String(window.center), width: String(window.width) });
  const response = await fetch(`${renderUrl}?${query.toString()}`, { credentials: "same-origin" });
  if (!response.ok) {
    throw new ApiError(response.status, await response.json().catch(() => null));
  }
  return response.blob();
}

/** PATCH the project's window (managers): the server re-renders every DICOM image and its embedding. */
export async function setProjectWindow(projectApiUrl: string, window: DicomWindow): Promise<unknown> {
  return requestJson(projectApiUrl, { method: "PATCH", body: JSON.stringify({ dicom_window: window }) });
}

/** The readable reason of a failed call ({"detail": ...} bodies), for the page's error line. */
export function errorText(error: unknown): string {
  if (error instanceof ApiError && typeof error.body === "object" && error.body !== null) {
    const body = error.body as Record<string, unknown>;
    const detail = body["detail"];
    const first = Object.entries(body).find(([key]) => key !== "detail")?.[1];
    const extra = Array.isArray(first) ? String(first[0]) : "";
    return [typeof detail === "string" && detail !== "Invalid input." ? detail : "", extra].filter(Boolean).join(" ") ||
      error.message;
  }
  return error instanceof Error ? error.message : String(error);
}
