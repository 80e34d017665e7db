/**
 * What Enter commits from a SAM session: the polygons, prompts, source, time and click count of one
 * settled mask (sam/session.ts `settled()`), all taken from the same prompt set. Pure.
 */
import { maskToPolygons } from "../geometry/maskToPolygons";
import { normalizeBox, type Box } from "../sam/feeds";
import type { AnnotationDoc } from "../state/document";
import type { SettledMask } from "../sam/session";

export type SamAccepted = Pick<AnnotationDoc, "polygons" | "prompts" | "source" | "timeSpentMs" | "clickCount">;

/** The annotation fields of a settled mask at `detail`, accepted at `now`; null when it has no area. */
export function samAccepted(settled: SettledMask, detail: number, now: number): SamAccepted | null {
  const { shown, prompt } = settled;
  const polygons = maskToPolygons(shown.mask, { width: shown.width, height: shown.height }, detail);
  if (polygons.length === 0) {
    return null;
  }
  const prompts = {
    points: prompt.points.map((p) => [round2(p.x), round2(p.y), p.positive ? 1 : 0]),
    ...(prompt.box !== null ? { box: boxArray(normalizeBox(prompt.box)) } : {}),
    mask_index: shown.index,
    predicted_iou: round2(shown.iou * 100) / 100,
  };
  return {
    polygons,
    prompts,
    source: prompt.box !== null && prompt.points.length === 0 ? "sam_box" : "sam_click",
    timeSpentMs: Math.max(0, Math.round(now - settled.startedAt)),
    clickCount: settled.clickCount,
  };
}

const round2 = (value: number): number => Math.round(value * 100) / 100;
const boxArray = (box: Box): number[] => [box.x0, box.y0, box.x1, box.y1].map(round2);
