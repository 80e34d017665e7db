/**
 * What Enter commits from a SAM session: the polygons, prompts, source, time and click count of one
 * settled mask (sam/session.ts `settled()`), all taken from the same prompt set. Pure.
 */
import { maskToPolygons } from "../geometry/maskToPolygons";
import { AUTO_DETAIL, simplifyMask } from "../geometry/simplify";
import { normalizeBox, type Box } from "../sam/feeds";
import type { AnnotationDoc } from "../state/document";
import type { SettledMask } from "../sam/session";

export type SamAccepted = Pick<AnnotationDoc, "polygons" | "prompts" | "source" | "timeSpentMs" | "clickCount">;

/**
 * The annotation fields of a settled mask at `detail`, accepted at `now`; null when it has no area.
 * `detail` below 0 (AUTO_DETAIL, the default) = the fewest vertices that keep IoU ≥ 0.99 with the
 * mask (geometry/simplify.ts); 0 and up = the Detail slider's fixed Douglas–Peucker tolerance.
 */
export function samAccepted(settled: SettledMask, detail: number, now: number): SamAccepted | null {
  const { shown, prompt } = settled;
  const size = { width: shown.width, height: shown.height };
  const polygons = detail <= AUTO_DETAIL ? simplifyMask(shown.mask, size).polygons : maskToPolygons(shown.mask, size, detail);
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
