import { describe, expect, it } from "vitest";
import { DocumentStore, deleteVertex, insertVertex, moveVertex, type AnnotationDoc } from "./document";

const square = [[[0, 0, 10, 0, 10, 10, 0, 10]]];

function annotation(localId: string, labelClass = 1): AnnotationDoc {
  return { localId, labelClass, polygons: square, source: "manual", prompts: {}, timeSpentMs: 0, clickCount: 0 };
}

describe("DocumentStore", () => {
  it("undoes and redoes add, update and remove step by step", () => {
    const store = new DocumentStore();
    let notified = 0;
    store.subscribe(() => (notified += 1));
    store.add(annotation("a"));
    store.update("a", { labelClass: 2 });
    store.remove("a");
    expect(store.present.annotations).toHaveLength(0);
    store.undo();
    expect(store.find("a")?.labelClass).toBe(2);
    store.undo();
    expect(store.find("a")?.labelClass).toBe(1);
    store.undo();
    expect(store.present.annotations).toHaveLength(0);
    expect(store.canUndo).toBe(false);
    store.redo();
    store.redo();
    expect(store.find("a")?.labelClass).toBe(2);
    expect(notified).toBe(8);
  });

  it("drops the redo branch after a new edit", () => {
    const store = new DocumentStore();
    store.add(annotation("a"));
    store.undo();
    store.add(annotation("b"));
    expect(store.canRedo).toBe(false);
    store.redo();
    expect(store.present.annotations.map((a) => a.localId)).toEqual(["b"]);
  });

  it("replaces silently without an undo step", () => {
    const store = new DocumentStore();
    store.replaceSilently({ annotations: [annotation("x")] });
    expect(store.canUndo).toBe(false);
    expect(store.find("x")).toBeDefined();
  });
});

describe("vertex edits", () => {
  it("moves, inserts and deletes vertices without touching the input", () => {
    const moved = moveVertex(square, 0, 0, 2, 12, 11);
    expect(moved[0]![0]).toEqual([0, 0, 10, 0, 12, 11, 0, 10]);
    expect(square[0]![0]).toEqual([0, 0, 10, 0, 10, 10, 0, 10]);
    const inserted = insertVertex(square, 0, 0, 0, 5, -1);
    expect(inserted[0]![0]).toEqual([0, 0, 5, -1, 10, 0, 10, 10, 0, 10]);
    expect(deleteVertex(inserted, 0, 0, 1)![0]![0]).toEqual(square[0]![0]);
  });

  it("drops a ring that would have fewer than three vertices", () => {
    const triangleWithHole = [[[0, 0, 10, 0, 10, 10, 0, 10], [2, 2, 4, 2, 3, 4]]];
    expect(deleteVertex(triangleWithHole, 0, 1, 0)).toEqual([[[0, 0, 10, 0, 10, 10, 0, 10]]]);
    expect(deleteVertex([[[0, 0, 1, 0, 1, 1]]], 0, 0, 0)).toBeNull();
  });
});
