// Undo steps for what a benchmark creates (stacks, workspaces, guests, nft tables): run at the
// end of the part that created them, or all at once when the benchmark is interrupted.
export class Cleanup {
  private readonly pending: Array<{ label: string; undo: () => Promise<void> }> = [];

  /** Registers an undo step; call the returned function to run it now (once). */
  add(label: string, undo: () => Promise<void>): () => Promise<void> {
    const entry = { label, undo };
    this.pending.push(entry);
    return async () => {
      const i = this.pending.indexOf(entry);
      if (i < 0) return;
      this.pending.splice(i, 1);
      await undo().catch((err) => console.error(`cleanup of ${label} failed: ${String(err)}`));
    };
  }

  /** Runs `body`, then every undo step it registered, newest first, whether it failed or not. */
  async scope<T>(body: (add: Cleanup["add"]) => Promise<T>): Promise<T> {
    const mine: Array<() => Promise<void>> = [];
    try {
      return await body((label, undo) => {
        const run = this.add(label, undo);
        mine.push(run);
        return run;
      });
    } finally {
      for (const run of mine.reverse()) await run();
    }
  }

  async runAll(): Promise<void> {
    while (this.pending.length) {
      const { label, undo } = this.pending.pop()!;
      await undo().catch((err) => console.error(`cleanup of ${label} failed: ${String(err)}`));
    }
  }
}
