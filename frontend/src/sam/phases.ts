/**
 * Start-up phases of click-to-segment as performance marks ("sam:<phase>"), so the page's own
 * timeline (and bench/click_latency.py, which prints their medians) shows where the time to the
 * first mask goes. The worker measures in epoch milliseconds (its performance.timeOrigin differs
 * from the page's); they become marks on the page's clock here.
 */
import type { Phases } from "./messages";

export function phaseMarkTimes(phases: Phases, timeOrigin: number): [string, number][] {
  return Object.entries(phases)
    .filter(([, at]) => Number.isFinite(at) && at >= timeOrigin)
    .map(([name, at]): [string, number] => [`sam:${name}`, at - timeOrigin])
    .sort((a, b) => a[1] - b[1]);
}

export function markPhases(phases: Phases): void {
  for (const [name, startTime] of phaseMarkTimes(phases, performance.timeOrigin)) {
    performance.mark(name, { startTime });
  }
}
