/**
 * Typed calls for the fine-tuning loop (annotator/api/finetuning.py, docs/models.md "Fine-tuning"):
 * runs (start, follow, cancel) and the project's model versions (promote, roll back).
 */
import { ApiError, requestJson } from "./http";

/** Held-out click metrics (segmentation/evaluation/clicks.py summarize): mIoU@k, NoC@85/90, fail@85/90. */
export type ClickMetrics = Readonly<Record<string, number | null>>;

export type RunStatus = "queued" | "running" | "done" | "failed" | "cancelled";

/** One point of the loss curve or one epoch's row; the fields present depend on the row. */
export interface HistoryRow {
  readonly epoch?: number | null;
  readonly step?: number | null;
  readonly loss?: number | null;
  readonly heldout?: number | null;
  readonly seconds?: number | null;
}

export interface FinetuneRun {
  readonly id: number;
  readonly status: RunStatus;
  readonly params: Readonly<Record<string, unknown>>;
  /** The model trained from (an id, or {id, name}). */
  readonly base_model: number | { readonly id: number; readonly name?: string } | null;
  readonly result_model: number | { readonly id: number; readonly name?: string } | null;
  readonly base_model_name?: string;
  readonly result_model_name?: string | null;
  readonly progress: HistoryRow;
  /** Per-epoch rows and a thinned list of step losses: a list, or {epochs, steps}. */
  readonly history: readonly HistoryRow[] | { readonly epochs?: readonly HistoryRow[]; readonly steps?: readonly HistoryRow[] } | null;
  readonly metrics: { readonly base?: ClickMetrics; readonly tuned?: ClickMetrics } | null;
  readonly decision: "promoted" | "kept" | "";
  readonly message: string;
  readonly train_objects: number | null;
  readonly heldout_objects: number | null;
  readonly cancel_requested?: boolean;
  readonly created_at: string;
  readonly started_at: string | null;
  readonly finished_at: string | null;
  readonly seconds: number | null;
}

export interface ModelVersion {
  readonly id: number;
  readonly name: string;
  readonly parent_id: number | null;
  readonly created_at: string;
  readonly active: boolean;
  /** The shipped default model (synthetic shapes only). */
  readonly builtin_default: boolean;
  /** The version's record: {"base", "tuned"} held-out metrics of the run that made it; empty for a base. */
  readonly metrics: { readonly base?: ClickMetrics; readonly tuned?: ClickMetrics } | null;
  readonly training_seconds: number | null;
}

export type PromoteRule = "auto" | "never" | "always";

export interface FinetuneStart {
  readonly minutes: number;
  /** Annotation statuses to learn from: ["approved"] or every status. */
  readonly statuses: readonly string[];
  readonly promote: PromoteRule;
}

/** A list endpoint's rows, paginated ({results}) or not. */
function rows<T>(body: readonly T[] | { readonly results: readonly T[] }): readonly T[] {
  return Array.isArray(body) ? body : (body as { readonly results: readonly T[] }).results;
}

export const listRuns = async (projectId: number): Promise<readonly FinetuneRun[]> =>
  rows(await requestJson<readonly FinetuneRun[] | { results: readonly FinetuneRun[] }>(`/api/projects/${projectId}/finetune-runs/`));

export const startRun = (projectId: number, body: FinetuneStart): Promise<FinetuneRun> =>
  requestJson(`/api/projects/${projectId}/finetune-runs/`, { method: "POST", body: JSON.stringify(body) });

export const getRun = (runId: number): Promise<FinetuneRun> => requestJson(`/api/finetune-runs/${runId}/`);

export const cancelRun = (runId: number): Promise<FinetuneRun> =>
  requestJson(`/api/finetune-runs/${runId}/cancel/`, { method: "POST", body: "{}" });

export const listVersions = async (projectId: number): Promise<readonly ModelVersion[]> =>
  rows(await requestJson<readonly ModelVersion[] | { results: readonly ModelVersion[] }>(`/api/projects/${projectId}/model-versions/`));

export const activateVersion = (projectId: number, modelId: number): Promise<unknown> =>
  requestJson(`/api/projects/${projectId}/model-versions/${modelId}/activate/`, { method: "POST", body: "{}" });

/** The project's continuous-learning setting (0 = off) through the project detail API. */
export interface ProjectLearning {
  readonly retrain_every?: number;
  /** Approvals or corrections still needed before the next automatic run; null when off. */
  readonly retrain_due_in?: number | null;
}

export const setRetrainEvery = (projectId: number, retrainEvery: number): Promise<ProjectLearning> =>
  requestJson(`/api/projects/${projectId}/`, { method: "PATCH", body: JSON.stringify({ retrain_every: retrainEvery }) });


/** A readable sentence from an API error: its detail and, for invalid input, each field's messages. */
export function errorText(error: unknown): string {
  if (!(error instanceof ApiError)) {
    return error instanceof Error ? error.message : String(error);
  }
  const body = error.body;
  if (body === null || typeof body !== "object") {
    return `The server answered HTTP ${error.status}.`;
  }
  const entries = Object.entries(body as Record<string, unknown>);
  const detail = typeof (body as { detail?: unknown }).detail === "string" ? (body as { detail: string }).detail : "";
  const fields = entries
    .filter(([key]) => key !== "detail")
    .map(([key, value]) => `${key}: ${Array.isArray(value) ? value.map(String).join(" ") : String(value)}`);
  if (detail !== "" && (fields.length === 0 || detail !== "Invalid input.")) {
    return fields.length === 0 ? detail : `${detail} ${fields.join("; ")}`;
  }
  return fields.length > 0 ? fields.join("; ") : `The server answered HTTP ${error.status}.`;
}
