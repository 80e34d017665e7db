/**
 * Pure text and geometry for the model panel (project page) and the annotator's model status: no DOM,
 * no requests, so they are unit-tested (format.test.ts).
 */
import type { ClickMetrics, FinetuneRun, HistoryRow, ModelVersion } from "../api/finetuning";

export const DEFAULT_MODEL_WARNING =
  "Built-in default model: trained on synthetic shapes only, weak on photographs. For Meta's SAM quality " +
  "run `python manage.py download_model vit_b --default`.";
export const DEFAULT_MODEL_WARNING_SHORT =
  "built-in default: synthetic shapes only, weak on photos (python manage.py download_model vit_b --default)";

/** The comparison table's rows: metric key, label, and whether lower is better. */
export const METRIC_ROWS: readonly { key: string; label: string; lowerIsBetter: boolean; percent?: boolean }[] = [
  { key: "mIoU@1", label: "mIoU@1", lowerIsBetter: false },
  { key: "mIoU@3", label: "mIoU@3", lowerIsBetter: false },
  { key: "NoC@85", label: "NoC@85", lowerIsBetter: true },
  { key: "NoC@90", label: "NoC@90", lowerIsBetter: true },
  { key: "fail@90", label: "never 90%", lowerIsBetter: true, percent: true },
];

/** A model reference in a run (an id or {id, name}) as an id. */
export function refId(ref: FinetuneRun["base_model"]): number | null {
  return ref === null ? null : typeof ref === "number" ? ref : ref.id;
}

/** The versions from the lineage's root down to `modelId` (parents first); [] when unknown. */
export function lineage(versions: readonly ModelVersion[], modelId: number | null): ModelVersion[] {
  const byId = new Map(versions.map((version) => [version.id, version]));
  const chain: ModelVersion[] = [];
  for (let id = modelId; id !== null && !chain.some((v) => v.id === id); ) {
    const version = byId.get(id);
    if (version === undefined) {
      break;
    }
    chain.unshift(version);
    id = version.parent_id;
  }
  return chain;
}

/**
 * A model's measured held-out quality from its record: a fine-tuned version's own ("tuned") metrics;
 * for a base model, the "base" metrics of the latest run that measured it (null: never measured).
 */
export function measuredQuality(version: ModelVersion, runs: readonly FinetuneRun[]): ClickMetrics | null {
  const own = version.metrics?.tuned;
  if (own !== undefined && Object.keys(own).length > 0) {
    return own;
  }
  const measured = runs.find((run) => refId(run.base_model) === version.id && run.metrics?.base !== undefined);
  return measured?.metrics?.base ?? null;
}

/** "held-out mIoU@1 0.712 · NoC@90 3.40", or a plain "not measured". */
export function qualityText(metrics: ClickMetrics | null): string {
  const miou = metrics?.["mIoU@1"];
  if (miou == null) {
    return "quality not measured yet (a fine-tuning run measures it on held-out labels)";
  }
  const parts = [`held-out mIoU@1 ${miou.toFixed(3)}`];
  const noc = metrics?.["NoC@90"];
  if (noc != null) {
    parts.push(`NoC@90 ${noc.toFixed(2)}`);
  }
  return parts.join(" · ");
}

/** One line for the annotator's status area: the model, its version in the lineage, its quality. */
export function modelStatusText(versions: readonly ModelVersion[], runs: readonly FinetuneRun[], modelId: number): string {
  const chain = lineage(versions, modelId);
  const version = chain[chain.length - 1];
  if (version === undefined) {
    return "";
  }
  const depth = chain.length - 1;
  const of = depth > 0 ? ` (version ${depth} of ${chain[0]!.name})` : "";
  const warning = version.builtin_default ? ` — ${DEFAULT_MODEL_WARNING_SHORT}` : "";
  return `model: ${version.name}${of} · ${qualityText(measuredQuality(version, runs))}${warning}`;
}

export function metricValue(metrics: ClickMetrics | undefined, key: string, percent = false): string {
  const value = metrics?.[key];
  if (value == null) {
    return "–";
  }
  if (percent) {
    return `${Math.round(100 * value)}%`;
  }
  return key.startsWith("NoC") ? value.toFixed(2) : value.toFixed(3);
}

/** Whether tuned beats base on this metric (null: either missing or equal). */
export function better(base: number | null | undefined, tuned: number | null | undefined, lowerIsBetter: boolean): boolean | null {
  if (base == null || tuned == null || base === tuned) {
    return null;
  }
  return lowerIsBetter ? tuned < base : tuned > base;
}

/** "42 s", "3 min 05 s". */
export function durationText(seconds: number | null | undefined): string {
  if (seconds === null || seconds === undefined) {
    return "–";
  }
  const whole = Math.round(seconds);
  return whole < 60 ? `${whole} s` : `${Math.floor(whole / 60)} min ${String(whole % 60).padStart(2, "0")} s`;
}

/** One part of a run's history: stored as {epochs, steps}; a plain list holds both kinds of row. */
function historyPart(history: FinetuneRun["history"], part: "epochs" | "steps"): readonly HistoryRow[] {
  if (history === null) {
    return [];
  }
  if (Array.isArray(history)) {
    return history as readonly HistoryRow[];
  }
  return (history as { readonly epochs?: readonly HistoryRow[]; readonly steps?: readonly HistoryRow[] })[part] ?? [];
}

/** The step rows of a run's history (the loss curve), in order, whatever the history's shape. */
export function stepRows(history: FinetuneRun["history"]): HistoryRow[] {
  const all = historyPart(history, "steps");
  return all.filter((row) => row.step != null && typeof row.loss === "number" && Number.isFinite(row.loss));
}

/** The per-epoch rows (held-out score), whatever the history's shape. */
export function epochRows(history: FinetuneRun["history"]): HistoryRow[] {
  const all = historyPart(history, "epochs");
  return all.filter((row) => row.step == null && row.epoch != null);
}

/**
 * The loss curve as an SVG polyline's points in a width × height box (y down, a 2-px margin), or ""
 * with fewer than two steps. Steps on x, loss on y scaled between its min and max.
 */
export function lossCurvePoints(rows: readonly HistoryRow[], width: number, height: number): string {
  if (rows.length < 2) {
    return "";
  }
  const steps = rows.map((row) => row.step ?? 0);
  const losses = rows.map((row) => row.loss ?? 0);
  const [x0, x1] = [Math.min(...steps), Math.max(...steps)];
  const [y0, y1] = [Math.min(...losses), Math.max(...losses)];
  const margin = 2;
  const sx = (x: number): number => margin + ((x - x0) / (x1 - x0 || 1)) * (width - 2 * margin);
  const sy = (y: number): number => margin + (1 - (y - y0) / (y1 - y0 || 1)) * (height - 2 * margin);
  return rows.map((_, i) => `${sx(steps[i]!).toFixed(1)},${sy(losses[i]!).toFixed(1)}`).join(" ");
}

/** The loss curve in words (the SVG has no axes): first and last step's loss. */
export function curveCaption(rows: readonly HistoryRow[]): string {
  const first = rows[0];
  const last = rows[rows.length - 1];
  if (first === undefined || last === undefined || rows.length < 2) {
    return rows.length === 1 ? "loss curve: one step so far" : "";
  }
  return `training loss ${(first.loss ?? 0).toFixed(3)} at step ${first.step ?? 0} → ${(last.loss ?? 0).toFixed(3)} at step ${last.step ?? 0}`;
}

/** The active run's progress in words: epoch, step, loss, held-out score. */
export function progressText(run: FinetuneRun): string {
  if (run.status === "queued") {
    return "queued: waiting for a training worker";
  }
  const p = run.progress;
  const parts = [run.cancel_requested === true ? "cancelling" : run.status];
  // Fields are null until the run reaches them (progress JSON written by the worker).
  if (p.epoch != null) parts.push(`epoch ${p.epoch}`);
  if (p.step != null) parts.push(`step ${p.step}`);
  if (typeof p.loss === "number") parts.push(`loss ${p.loss.toFixed(4)}`);
  if (typeof p.heldout === "number") parts.push(`held-out score ${p.heldout.toFixed(3)}`);
  return parts.join(" · ");
}

/** The continuous-learning line: off, or when the next automatic run starts. */
export function nextRunText(retrainEvery: number, remaining: number | null): string {
  if (retrainEvery <= 0) {
    return "Continuous learning is off.";
  }
  if (remaining === null) {
    return `Retrains after every ${retrainEvery} newly approved or corrected annotations.`;
  }
  return remaining <= 0
    ? "The next run starts with the next approval (or when the current run ends)."
    : `Next run after ${remaining} more approved or corrected annotation${remaining === 1 ? "" : "s"}.`;
}

export const isActive = (run: FinetuneRun): boolean => run.status === "queued" || run.status === "running";
