/** Slice propagation and series calls of the annotator page (annotator/api/propagation.py). */
import { requestJson } from "./http";
import type { components } from "./schema";

export type PropagationRun = components["schemas"]["PropagationRun"];
export type PropagationProgress = {
  done?: number;
  total?: number;
  created?: number;
  stopped?: { after?: string; before?: string };
};

const post = { method: "POST", body: "{}" } as const;

/** Start propagating an accepted annotation through its series (a run on the bulk queue). */
export function startPropagation(annotationId: number, maxSlices?: number): Promise<PropagationRun> {
  const body = maxSlices === undefined ? {} : { max_slices: maxSlices };
  return requestJson(`/api/annotations/${annotationId}/propagate/`, { method: "POST", body: JSON.stringify(body) });
}

export function getPropagation(runId: number): Promise<PropagationRun> {
  return requestJson(`/api/propagations/${runId}/`);
}

/** Accept every draft of the run's seed still proposed. */
export function acceptPropagation(runId: number): Promise<{ accepted: number }> {
  return requestJson(`/api/propagations/${runId}/accept/`, post);
}

/** Accept one propagated draft as it is. */
export function acceptAnnotation(annotationId: number): Promise<{ id: number; proposed?: boolean; version: number }> {
  return requestJson(`/api/annotations/${annotationId}/accept/`, post);
}

/** Ask for the embeddings of the slices around this one, nearest first. */
export function seriesAhead(imageId: number): Promise<{ image_ids: number[] }> {
  return requestJson(`/api/images/${imageId}/series-ahead/`, post);
}

export const runFinished = (run: PropagationRun): boolean => run.status === "done" || run.status === "failed";

/** "propagating 3 / 12 slices", then "done: 7 drafts (after: ..., before: ...)". */
export function describeRun(run: PropagationRun): string {
  const progress = (run.progress ?? {}) as PropagationProgress;
  if (run.status === "failed") {
    return `propagation failed: ${run.error}`;
  }
  if (run.status !== "done") {
    return `propagating ${progress.done ?? 0} / ${progress.total ?? "?"} slices`;
  }
  const stopped = progress.stopped ?? {};
  return `propagated: ${progress.created ?? 0} drafts (after: ${stopped.after ?? "-"}; before: ${stopped.before ?? "-"})`;
}

/** Poll a run until it finishes; onUpdate sees every state. */
export async function pollPropagation(
  runId: number,
  onUpdate: (run: PropagationRun) => void,
  { intervalMs = 700, signal }: { intervalMs?: number; signal?: AbortSignal } = {},
): Promise<PropagationRun> {
  for (;;) {
    const run = await getPropagation(runId);
    onUpdate(run);
    if (runFinished(run) || signal?.aborted) {
      return run;
    }
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}
