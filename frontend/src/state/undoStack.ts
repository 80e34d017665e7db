/**
 * Bounded undo/redo history of immutable snapshots. Doing something new after an undo drops
 * the redo branch, as in every editor people know.
 */
export class UndoStack<T> {
  private readonly past: T[] = [];
  private readonly future: T[] = [];

  constructor(
    private current: T,
    private readonly limit = 200,
  ) {}

  get present(): T {
    return this.current;
  }

  get canUndo(): boolean {
    return this.past.length > 0;
  }

  get canRedo(): boolean {
    return this.future.length > 0;
  }

  push(next: T): void {
    this.past.push(this.current);
    if (this.past.length > this.limit) {
      this.past.shift();
    }
    this.future.length = 0;
    this.current = next;
  }

  /** Change the present without a history step (e.g. adopting the server's copy). */
  replacePresent(next: T): void {
    this.current = next;
  }

  undo(): T {
    const previous = this.past.pop();
    if (previous !== undefined) {
      this.future.push(this.current);
      this.current = previous;
    }
    return this.current;
  }

  redo(): T {
    const next = this.future.pop();
    if (next !== undefined) {
      this.past.push(this.current);
      this.current = next;
    }
    return this.current;
  }
}
