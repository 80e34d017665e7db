/**
 * SAM click / box tool: left click positive, right or Alt+click negative point, drag a box; Tab
 * cycles the candidates; Enter commits the mask of the latest prompt set (waiting for a decode in
 * flight, samAccept.ts); the resting cursor's mask is decoded ahead (SamSession.hoverAt). A reopened
 * session (review's Reopen SAM, `ui.reopened`) replaces that annotation's geometry instead.
 */
import { normalizeBox, type Box } from "../sam/feeds";
import { samAccepted } from "./samAccept";
import type { Tool, ToolContext, ToolOverlay, ToolPoint } from "./tool";

const DRAG_THRESHOLD_PX = 5;

export class SamTool implements Tool {
  readonly name = "sam";
  private ctx: ToolContext | null = null;
  private down: { screen: ToolPoint["screen"]; image: ToolPoint["image"]; button: number; alt: boolean } | null = null;
  private dragBox: Box | null = null;
  private accepting: Promise<void> | null = null;

  activate(ctx: ToolContext): void {
    this.ctx = ctx;
  }

  deactivate(): void {
    this.cancel();
    this.ctx = null;
  }

  get busy(): boolean {
    return this.accepting !== null;
  }

  onPointerDown(ev: PointerEvent, at: ToolPoint): void {
    this.down = { screen: at.screen, image: at.image, button: ev.button, alt: ev.altKey };
  }

  onPointerMove(ev: PointerEvent, at: ToolPoint): void {
    const ctx = this.ctx;
    const down = this.down;
    if (ctx === null) {
      return;
    }
    if (down !== null) {
      if (down.button === 0 && Math.hypot(at.screen.x - down.screen.x, at.screen.y - down.screen.y) > DRAG_THRESHOLD_PX) {
        this.dragBox = { x0: down.image.x, y0: down.image.y, x1: at.image.x, y1: at.image.y };
        ctx.changed();
      }
      return;
    }
    // Zero-wait clicks: the mask a click here would give (first click, or the refinement with a
    // positive point; Alt held: negative) is decoded while the cursor rests.
    if (ctx.permissions().create || ctx.ui.state.reopened !== null) {
      ctx.sam.hoverAt(at.image.x, at.image.y, !ev.altKey);
    }
  }

  onPointerUp(_ev: PointerEvent, at: ToolPoint): void {
    const ctx = this.ctx;
    const down = this.down;
    this.down = null;
    if (ctx === null || down === null) {
      return;
    }
    if (!ctx.permissions().create && ctx.ui.state.reopened === null) {
      this.dragBox = null; // nothing new may be drawn; a reopened SAM session still takes clicks
      ctx.changed();
      return;
    }
    if (this.dragBox !== null) {
      const box = normalizeBox(this.dragBox);
      this.dragBox = null;
      ctx.sam.setBox(box);
    } else {
      const negative = down.button === 2 || down.alt;
      ctx.sam.addPoint({ x: at.image.x, y: at.image.y, positive: !negative });
    }
    ctx.changed();
  }

  onPointerLeave(): void {
    this.ctx?.sam.clearHover();
  }

  onKey(ev: KeyboardEvent): boolean {
    if (ev.key === "Tab") {
      this.ctx?.sam.cycle(ev.shiftKey ? -1 : 1);
      return true;
    }
    if (ev.key === "Enter") {
      void this.accept();
      return true;
    }
    return false;
  }

  cancel(): void {
    this.dragBox = null;
    this.down = null;
    this.ctx?.sam.cancel();
  }

  /**
   * Enter: the mask of the latest prompt set becomes polygons, saved as an annotation. While a click
   * is still decoding, the accept waits for it (a second Enter meanwhile joins the same accept), so
   * the stored prompts, mask, click count and time always belong together. The label class and
   * detail are those at the time Enter was pressed.
   */
  accept(): Promise<void> {
    const ctx = this.ctx;
    if (ctx === null) {
      return Promise.resolve();
    }
    this.accepting ??= this.commit(ctx).finally(() => {
      this.accepting = null;
      ctx.changed();
    });
    ctx.changed();
    return this.accepting;
  }

  private async commit(ctx: ToolContext): Promise<void> {
    const { labelClass, detail } = ctx.ui.state;
    const settled = await ctx.sam.settled();
    if (settled === null) {
      return; // cancelled meanwhile, or the decode failed (reported)
    }
    const accepted = samAccepted(settled, detail, performance.now());
    if (accepted === null) {
      return;
    }
    const target = ctx.ui.state.reopened;
    if (target !== null) {
      ctx.ui.set({ reopened: null });
      ctx.sam.cancel();
      ctx.replaceGeometry(target, accepted.polygons, accepted.prompts);
      return;
    }
    if (!ctx.permissions().create) {
      return;
    }
    ctx.sam.cancel();
    const localId = ctx.newLocalId();
    ctx.document.add({ localId, labelClass, ...accepted });
    // The accepted object stays selected: a digit now relabels it, not the next object.
    ctx.ui.set({ selected: localId });
  }

  overlay(): ToolOverlay {
    const sam = this.ctx?.sam;
    if (sam === undefined) {
      return {};
    }
    const shown = sam.shown;
    const hover = shown === null ? sam.hover : null;
    return {
      mask: shown !== null ? { data: shown.mask, width: shown.width, height: shown.height } : null,
      hover: hover !== null ? { data: hover.mask, width: hover.width, height: hover.height } : null,
      points: sam.prompt.points,
      box: this.dragBox !== null ? normalizeBox(this.dragBox) : sam.prompt.box,
    };
  }
}
