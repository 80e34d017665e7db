import { describe, expect, it } from "vitest";
import { rleDecode } from "../geometry/rle";
import { DocumentStore, type AnnotationDoc } from "../state/document";
import { UiStore } from "../state/uiStore";
import { geometryBody, effortChanges } from "../state/autosave";
import { BoxTool } from "./boxTool";
import { BrushTool } from "./brushTool";
import { EffortClock } from "./effort";
import type { EditPermissions, ToolContext, ToolPoint } from "./tool";

const size = { width: 40, height: 30 };

function context(permissions: EditPermissions = { create: true, edit: true, delete: true }) {
  const ui = new UiStore({ labelClass: 3, brushSize: 4 });
  const document = new DocumentStore();
  let next = 0;
  const ctx = {
    ui,
    document,
    imageSize: size,
    view: () => ({ zoom: 2, offsetX: 0, offsetY: 0 }),
    permissions: () => permissions,
    changed: () => undefined,
    newLocalId: () => `n${(next += 1)}`,
  } as unknown as ToolContext;
  return { ctx, ui, document };
}

const at = (x: number, y: number): ToolPoint => ({ image: { x, y }, screen: { x: 2 * x, y: 2 * y } });
const left = { button: 0 } as PointerEvent;
const key = (k: string) => ({ key: k }) as KeyboardEvent;

/** A clock the test moves by hand. */
function fakeTime() {
  let t = 1000;
  return { now: () => t, advance: (ms: number) => (t += ms) };
}

function square(localId: string): AnnotationDoc {
  return {
    localId,
    labelClass: 1,
    polygons: [[[5, 5, 15, 5, 15, 15, 5, 15]]],
    source: "sam_click",
    prompts: { points: [[10, 10, 1]] },
    timeSpentMs: 2000,
    clickCount: 2,
  };
}

const area = (annotation: AnnotationDoc | undefined): number =>
  rleDecode(annotation!.rle!.rle).mask.reduce((a, b) => a + b, 0);

describe("BoxTool", () => {
  it("a drag makes a box annotation, selected, timed from the drag start, one click", () => {
    const time = fakeTime();
    const { ctx, ui, document } = context();
    const tool = new BoxTool(time.now);
    tool.activate(ctx);
    tool.onPointerDown(left, at(4.123, 3));
    time.advance(700);
    tool.onPointerMove(left, at(20, 12));
    expect(tool.busy).toBe(true);
    expect(tool.overlay().box).toEqual({ x0: 4.123, y0: 3, x1: 20, y1: 12 });
    time.advance(100);
    tool.onPointerUp(left, at(24, 13));
    const [box] = document.present.annotations;
    expect(box).toMatchObject({ kind: "box", bbox: [4.12, 3, 19.88, 10], labelClass: 3, source: "manual" });
    expect(box!.polygons).toEqual([[[4.12, 3, 24, 3, 24, 13, 4.12, 13]]]);
    expect(box!.timeSpentMs).toBe(800);
    expect(box!.clickCount).toBe(1);
    expect(ui.state.selected).toBe(box!.localId);
    expect(geometryBody(box!)).toEqual({ bbox: [4.12, 3, 19.88, 10] });
  });

  it("clamps to the image; a tiny drag, Esc, or no create permission make nothing", () => {
    const { ctx, document } = context();
    const tool = new BoxTool();
    tool.activate(ctx);
    tool.onPointerDown(left, at(30, 20));
    tool.onPointerUp(left, at(55, 40));
    expect(document.present.annotations[0]!.bbox).toEqual([30, 20, 10, 10]);
    tool.onPointerDown(left, at(5, 5));
    tool.onPointerUp(left, at(5.5, 9)); // 1 screen px wide
    tool.onPointerDown(left, at(5, 5));
    tool.cancel();
    tool.onPointerUp(left, at(15, 15));
    expect(document.present.annotations).toHaveLength(1);
    const reviewer = context({ create: false, edit: true, delete: false });
    const review = new BoxTool();
    review.activate(reviewer.ctx);
    review.onPointerDown(left, at(1, 1));
    review.onPointerUp(left, at(20, 20));
    expect(reviewer.document.present.annotations).toHaveLength(0);
  });
});

describe("BrushTool", () => {
  it("paints into the selected mask: one undo step per stroke, RLE-exact, effort added", () => {
    const time = fakeTime();
    const { ctx, ui, document } = context();
    document.add(square("a"));
    ui.set({ selected: "a" });
    const brush = new BrushTool("add", time.now);
    brush.activate(ctx);
    brush.onPointerDown(left, at(16, 10));
    time.advance(300);
    brush.onPointerMove(left, at(24, 10));
    expect(brush.overlay().mask?.data[10 * 40 + 20]).toBe(1);
    brush.onPointerUp(left, at(28, 10));
    const after = document.find("a")!;
    const mask = rleDecode(after.rle!.rle).mask;
    expect(mask[10 * 40 + 25]).toBe(1);
    expect(mask[7 * 40 + 7]).toBe(1);
    // The polygons are the new mask's exact trace; the RLE is what gets saved.
    expect(geometryBody(after)).toEqual({ rle: after.rle!.rle });
    // A vertex edit afterwards makes new polygons: the RLE is stale, the polygons are sent.
    const edited = { ...after, polygons: after.polygons.map((part) => part.map((ring) => ring.slice())) };
    expect(geometryBody(edited)).toEqual({ polygons: edited.polygons });
    expect(after.strokeCount).toBe(1);
    expect(after.timeSpentMs).toBe(2300);
    // A second stroke 10 s later on the same object: the gap counts, strokes add up.
    time.advance(10_000);
    brush.onPointerDown(left, at(10, 20));
    brush.onPointerUp(left, at(10, 24));
    expect(document.find("a")!.strokeCount).toBe(2);
    expect(document.find("a")!.timeSpentMs).toBe(12_300);
    expect(document.find("a")!.clickCount).toBe(2);
    document.undo();
    expect(document.find("a")!.strokeCount).toBe(1);
    document.undo();
    expect(document.find("a")!.rle).toBeUndefined();
  });

  it("the eraser clears pixels; erasing everything deletes the object", () => {
    const { ctx, ui, document } = context();
    document.add(square("a"));
    ui.set({ selected: "a", brushSize: 4 });
    const eraser = new BrushTool("erase");
    eraser.activate(ctx);
    eraser.onPointerDown(left, at(10, 10));
    eraser.onPointerUp(left, at(10, 10));
    expect(area(document.find("a"))).toBe(100 - 12);
    ui.set({ brushSize: 40 });
    eraser.onPointerDown(left, at(10, 10));
    eraser.onPointerUp(left, at(10, 10));
    expect(document.find("a")).toBeUndefined();
  });

  it("[ and ] change the size; with nothing selected the brush starts a new object, the eraser nothing", () => {
    const { ctx, ui, document } = context();
    const brush = new BrushTool("add");
    brush.activate(ctx);
    expect(brush.onKey(key("]"))).toBe(true);
    expect(ui.state.brushSize).toBe(6);
    brush.onKey(key("["));
    brush.onKey(key("["));
    expect(ui.state.brushSize).toBe(2);
    expect(brush.onKey(key("x"))).toBe(false);
    const eraser = new BrushTool("erase");
    eraser.activate(ctx);
    eraser.onPointerDown(left, at(10, 10));
    eraser.onPointerUp(left, at(10, 10));
    expect(document.present.annotations).toHaveLength(0);
    brush.onPointerDown(left, at(10, 10));
    brush.onPointerUp(left, at(12, 10));
    const [made] = document.present.annotations;
    expect(made).toMatchObject({ source: "manual", labelClass: 3, strokeCount: 1 });
    expect(area(made)).toBeGreaterThan(0);
    expect(ui.state.selected).toBe(made!.localId);
  });

  it("boxes and locked objects are not brushed; a reviewer's correction adds no effort", () => {
    const { ctx, ui, document } = context({ create: false, edit: true, delete: false });
    document.add({ ...square("b"), kind: "box", bbox: [5, 5, 10, 10] });
    document.add(square("a"));
    ui.set({ selected: "b" });
    const brush = new BrushTool("add");
    brush.activate(ctx);
    brush.onPointerDown(left, at(20, 20));
    brush.onPointerUp(left, at(20, 20));
    expect(document.present.annotations).toHaveLength(2);
    ui.set({ selected: "a" });
    brush.onPointerDown(left, at(16, 10));
    brush.onPointerUp(left, at(16, 10));
    const corrected = document.find("a")!;
    expect(corrected.rle).toBeDefined();
    expect(corrected.strokeCount).toBeUndefined();
    expect(effortChanges(corrected, { time_spent_ms: 2000, click_count: 2, vertex_count: 0, stroke_count: 0 })).toEqual({});
    ui.toggleLocked("a");
    ui.set({ selected: "a" });
    const before = document.find("a");
    brush.onPointerDown(left, at(25, 25));
    brush.onPointerUp(left, at(25, 25));
    expect(document.find("a")).toBe(before);
  });
});

describe("EffortClock", () => {
  it("runs from the first action; pauses over a minute are left out", () => {
    const time = fakeTime();
    const clock = new EffortClock(time.now);
    expect(clock.effort().timeSpentMs).toBe(0);
    clock.action("vertex");
    time.advance(2000);
    clock.action("vertex");
    time.advance(120_000); // away
    clock.action("vertex");
    time.advance(500);
    expect(clock.effort()).toEqual({ timeSpentMs: 2500, clickCount: 0, vertexCount: 3, strokeCount: 0 });
  });
});

describe("PolygonTool effort", () => {
  it("a hand-drawn polygon is stored with its time from the first vertex and its vertex count", async () => {
    const { PolygonTool } = await import("./polygonTool");
    const time = fakeTime();
    const { ctx, document } = context();
    const tool = new PolygonTool(time.now);
    tool.activate(ctx);
    for (const [x, y] of [[5, 5], [20, 5], [20, 20], [5, 20]] as const) {
      tool.onPointerDown(left);
      tool.onPointerUp(left, at(x, y));
      time.advance(1500);
    }
    tool.onKey(key("Enter"));
    const [drawn] = document.present.annotations;
    expect(drawn!.timeSpentMs).toBe(6000); // 3 gaps between vertices + 1.5 s to Enter
    expect(drawn!.vertexCount).toBe(4);
    expect(drawn!.clickCount).toBe(0);
  });
});
