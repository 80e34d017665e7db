/**
 * The effort of one object, for the metrics (docs/annotator.md "Metrics"): time from the first
 * action on it (first click, vertex, brush stroke, box drag start) to its accept, and the actions
 * by kind. A pause of more than IDLE_MS between two actions is not counted (the labeler was away),
 * matching the server's active-time rule (annotator/selectors_activity.py).
 */
export const IDLE_MS = 60_000;

export type ActionKind = "click" | "vertex" | "stroke";

export interface Effort {
  readonly timeSpentMs: number;
  readonly clickCount: number;
  readonly vertexCount: number;
  readonly strokeCount: number;
}

export const NO_EFFORT: Effort = { timeSpentMs: 0, clickCount: 0, vertexCount: 0, strokeCount: 0 };

export class EffortClock {
  private started: number | null = null;
  private last = 0;
  private activeMs = 0;
  private counts = { click: 0, vertex: 0, stroke: 0 };

  constructor(private readonly now: () => number = () => performance.now()) {}

  get running(): boolean {
    return this.started !== null;
  }

  /** The labeler is working on the object (a pointer down, a drag): time runs from the first one. */
  touch(): void {
    const now = this.now();
    if (this.started === null) {
      this.started = now;
    } else {
      const gap = now - this.last;
      this.activeMs += gap > IDLE_MS ? 0 : gap;
    }
    this.last = now;
  }

  /** One action of this kind (also a touch). */
  action(kind: ActionKind): void {
    this.touch();
    this.counts[kind] += 1;
  }

  /** The object's effort so far, added to what it had (`base`, e.g. the stored counts of an edited object). */
  effort(base: Effort = NO_EFFORT): Effort {
    if (this.started !== null) {
      this.touch(); // the accept itself ends the time
    }
    return {
      timeSpentMs: base.timeSpentMs + Math.round(this.activeMs),
      clickCount: base.clickCount + this.counts.click,
      vertexCount: base.vertexCount + this.counts.vertex,
      strokeCount: base.strokeCount + this.counts.stroke,
    };
  }

  reset(): void {
    this.started = null;
    this.activeMs = 0;
    this.counts = { click: 0, vertex: 0, stroke: 0 };
  }
}
