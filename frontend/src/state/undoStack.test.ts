import { describe, expect, it } from "vitest";

import { UndoStack } from "./undoStack";

describe("UndoStack", () => {
  it("undoes and redoes in order", () => {
    const stack = new UndoStack<number>(0);
    stack.push(1);
    stack.push(2);
    expect(stack.undo()).toBe(1);
    expect(stack.undo()).toBe(0);
    expect(stack.canUndo).toBe(false);
    expect(stack.undo()).toBe(0);
    expect(stack.redo()).toBe(1);
    expect(stack.redo()).toBe(2);
    expect(stack.canRedo).toBe(false);
  });

  it("drops the redo branch on a new edit", () => {
    const stack = new UndoStack<string>("a");
    stack.push("b");
    stack.undo();
    stack.push("c");
    expect(stack.canRedo).toBe(false);
    expect(stack.present).toBe("c");
    expect(stack.undo()).toBe("a");
  });

  it("forgets the oldest states beyond its limit", () => {
    const stack = new UndoStack<number>(0, 2);
    [1, 2, 3].forEach((n) => stack.push(n));
    expect(stack.undo()).toBe(2);
    expect(stack.undo()).toBe(1);
    expect(stack.canUndo).toBe(false);
  });
});
