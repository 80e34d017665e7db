import { describe, expect, it } from "vitest";
import type { DecoderClient } from "../sam/decoderClient";
import type { DecodeResult } from "../sam/messages";
import { SamSession } from "../sam/session";
import { DocumentStore } from "../state/document";
import { UiStore } from "../state/uiStore";
import { PolygonTool } from "./polygonTool";
import { TOOLS, GLOBAL_KEYS, toolByKey } from "./registry";
import { SamTool } from "./samTool";
import { SelectTool } from "./selectTool";
import type { ToolContext, ToolPoint } from "./tool";

const SIDE = 8;
let ids = 0;

/** A decoder that answers every prompt with a 4×4 square mask at once. */
const squareDecoder = {
  decode: (): Promise<DecodeResult> => {
    const masks = new Uint8Array(SIDE * SIDE);
    for (let y = 2; y < 6; y += 1) {
      masks.fill(1, y * SIDE + 2, y * SIDE + 6);
    }
    return Promise.resolve({
      type: "decode", id: 1, masks, outputCount: 1, width: SIDE, height: SIDE, ious: new Float32Array([0.9]),
      lowRes: new Float32Array(1), lowResSize: 1, decodeMs: 1, graph: "full",
    });
  },
};

function context(overrides: Partial<ToolContext> = {}): ToolContext {
  const ui = new UiStore({ labelClass: 1 });
  const document = new DocumentStore();
  const sam = new SamSession(() => squareDecoder as unknown as DecoderClient, () => "1:m", () => undefined, () => undefined);
  return {
    ui, document, sam, labelClasses: [{ id: 1, name: "a", color: "#ff0000" }, { id: 2, name: "b", color: "#00ff00" }],
    imageSize: { width: SIDE, height: SIDE },
    canvas: { setPointerCapture: () => undefined } as unknown as HTMLCanvasElement,
    view: () => ({ zoom: 1, panX: 0, panY: 0 }),
    permissions: () => ({ create: true, edit: true, delete: true }),
    autosaver: () => null,
    changed: () => undefined,
    colorOf: () => "#ff0000",
    newLocalId: () => `l${(ids += 1)}`,
    replaceGeometry: () => undefined,
    ...overrides,
  };
}

const at = (x: number, y: number): ToolPoint => ({ image: { x, y }, screen: { x: x * 10, y: y * 10 } });
const pointer = (button = 0, altKey = false): PointerEvent => ({ button, altKey, pointerId: 1 }) as unknown as PointerEvent;
const key = (k: string, shiftKey = false): KeyboardEvent => ({ key: k, shiftKey }) as unknown as KeyboardEvent;
const click = (tool: { onPointerDown: SamTool["onPointerDown"]; onPointerUp: SamTool["onPointerUp"] }, x: number, y: number): void => {
  tool.onPointerDown(pointer(), at(x, y));
  tool.onPointerUp(pointer(), at(x, y));
};
const square = (x0: number, y0: number, x1: number, y1: number): number[][][] => [[[x0, y0, x1, y0, x1, y1, x0, y1]]];

describe("tool registry", () => {
  it("registers each tool once with its own key, none shadowing a shared key", () => {
    const names = TOOLS.map((t) => t.name);
    expect(new Set(names).size).toBe(names.length);
    expect(names).toEqual(expect.arrayContaining(["sam", "polygon", "select"]));
    for (const tool of TOOLS) {
      expect(GLOBAL_KEYS[tool.key]).toBeUndefined();
      expect(toolByKey(tool.key)?.name).toBe(tool.name);
      expect(tool.create().name).toBe(tool.name);
    }
  });
});

describe("PolygonTool", () => {
  it("clicks add vertices, Backspace removes the last, Enter closes into a manual annotation", () => {
    const ctx = context();
    const tool = new PolygonTool();
    tool.activate(ctx);
    click(tool, 10, 10);
    click(tool, 50, 10);
    click(tool, 70, 70);
    click(tool, 30, 60);
    expect(tool.onKey(key("Backspace"))).toBe(true);
    expect(tool.draft).toHaveLength(3);
    expect(tool.onKey(key("Enter"))).toBe(true);
    const [doc] = ctx.document.present.annotations;
    expect(doc?.source).toBe("manual");
    expect(doc?.polygons).toEqual([[[10, 10, 50, 10, 70, 70]]]);
    expect(doc?.labelClass).toBe(1);
    expect(tool.draft).toHaveLength(0);
  });

  it("adds nothing without the create right", () => {
    const ctx = context({ permissions: () => ({ create: false, edit: true, delete: false }) });
    const tool = new PolygonTool();
    tool.activate(ctx);
    click(tool, 1, 1);
    expect(tool.draft).toHaveLength(0);
  });
});

describe("SelectTool", () => {
  it("selects the topmost annotation under the cursor, skipping hidden and locked ones", () => {
    const ctx = context();
    const tool = new SelectTool();
    tool.activate(ctx);
    for (const localId of ["bottom", "top"]) {
      ctx.document.add({ localId, labelClass: localId === "top" ? 2 : 1, polygons: square(0, 0, 8, 8), source: "manual",
        prompts: {}, timeSpentMs: 0, clickCount: 0 });
    }
    click(tool, 4, 4);
    expect(ctx.ui.state.selected).toBe("top");
    expect(ctx.ui.state.labelClass).toBe(2);
    ctx.ui.toggleLocked("top");
    expect(ctx.ui.state.selected).toBeNull(); // locking drops the selection
    click(tool, 4, 4);
    expect(ctx.ui.state.selected).toBe("bottom");
    ctx.ui.toggleHidden("bottom");
    click(tool, 4, 4);
    expect(ctx.ui.state.selected).toBeNull();
  });

  it("a vertex drag is one document update with the final position", () => {
    const ctx = context();
    const tool = new SelectTool();
    tool.activate(ctx);
    ctx.document.add({ localId: "a", labelClass: 1, polygons: square(1, 1, 6, 6), source: "manual", prompts: {}, timeSpentMs: 0, clickCount: 0 });
    ctx.ui.set({ selected: "a" });
    let updates = 0;
    ctx.document.subscribe(() => (updates += 1));
    tool.onPointerDown(pointer(), at(1, 1));
    tool.onPointerMove(pointer(), at(2, 2));
    expect(tool.overlay().preview?.polygons[0]?.[0]?.slice(0, 2)).toEqual([2, 2]);
    tool.onPointerMove(pointer(), at(3, 2));
    tool.onPointerUp(pointer(), at(3, 2));
    expect(updates).toBe(1);
    expect(ctx.document.find("a")?.polygons[0]?.[0]?.slice(0, 2)).toEqual([3, 2]);
  });
});

describe("SamTool", () => {
  it("click then Enter saves the mask and keeps the accepted object selected", async () => {
    const ctx = context();
    const tool = new SamTool();
    tool.activate(ctx);
    click(tool, 4, 4);
    expect(tool.onKey(key("Enter"))).toBe(true);
    expect(tool.busy).toBe(true);
    await tool.accept();
    const [doc] = ctx.document.present.annotations;
    expect(doc?.source).toBe("sam_click");
    expect(doc?.clickCount).toBe(1);
    expect(ctx.ui.state.selected).toBe(doc?.localId);
    expect(ctx.sam.active).toBe(false);
    expect(tool.busy).toBe(false);
  });

  it("a drag makes a box prompt; right click a negative point", () => {
    const ctx = context();
    const tool = new SamTool();
    tool.activate(ctx);
    tool.onPointerDown(pointer(), at(1, 1));
    tool.onPointerMove(pointer(), at(6, 5));
    expect(tool.overlay().box).toEqual({ x0: 1, y0: 1, x1: 6, y1: 5 });
    tool.onPointerUp(pointer(), at(6, 5));
    expect(ctx.sam.prompt.box).toEqual({ x0: 1, y0: 1, x1: 6, y1: 5 });
    tool.onPointerDown(pointer(2), at(3, 3));
    tool.onPointerUp(pointer(2), at(3, 3));
    expect(ctx.sam.prompt.points).toEqual([{ x: 3, y: 3, positive: false }]);
  });

  it("a reopened session replaces that annotation instead of adding one", async () => {
    const replaced: string[] = [];
    const ctx = context({ replaceGeometry: (localId) => replaced.push(localId) });
    const tool = new SamTool();
    tool.activate(ctx);
    ctx.ui.set({ reopened: "old" });
    click(tool, 4, 4);
    await tool.accept();
    expect(replaced).toEqual(["old"]);
    expect(ctx.document.present.annotations).toHaveLength(0);
    expect(ctx.ui.state.reopened).toBeNull();
  });
});
