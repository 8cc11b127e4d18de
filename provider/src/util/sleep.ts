/**
 * Waits `ms`, or less when `signal` aborts meanwhile; leaves no listener behind either way.
 * Resolves true when the abort cut the wait short, for callers that stop on it.
 */
export const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<boolean>((resolve) => {
    const done = (aborted: boolean) => {
      clearTimeout(t);
      signal?.removeEventListener("abort", onAbort);
      resolve(aborted);
    };
    const onAbort = () => done(true);
    const t = setTimeout(() => done(false), ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
