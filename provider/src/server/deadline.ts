// customTimeouts: the engine gets one signal that fires on Cancel or when the operation's own
// time limit passes, whichever comes first. A deadline's reason tells the engine which it was.
import { DeadlineExceeded } from "../engine";

export interface OperationSignal {
  signal: AbortSignal;
  /** Stops the timer once the operation is over. */
  done: () => void;
}

/** `timeoutSeconds` is the request's `timeout` field; 0 means no limit of its own. */
export function operationSignal(
  cancel: AbortSignal,
  timeoutSeconds: number,
  operation: "create" | "update",
): OperationSignal {
  if (!(timeoutSeconds > 0)) return { signal: cancel, done: () => undefined };
  const deadline = new AbortController();
  const timer = setTimeout(
    () =>
      deadline.abort(
        new DeadlineExceeded(
          `the ${operation} timeout of ${timeoutSeconds} s (customTimeouts.${operation}) passed`,
        ),
      ),
    timeoutSeconds * 1000,
  );
  const onCancel = () => deadline.abort(cancel.reason);
  cancel.addEventListener("abort", onCancel, { once: true });
  if (cancel.aborted) onCancel();
  return {
    signal: deadline.signal,
    done: () => {
      clearTimeout(timer);
      cancel.removeEventListener("abort", onCancel);
    },
  };
}
