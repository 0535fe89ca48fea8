import { useEffect, useState } from 'preact/hooks';

/** The latest value of a read repeated every `everyMs`, and the last error, if any. */
export interface Polled<T> {
  readonly value: T | null;
  readonly error: string | null;
}

/**
 * Runs `read` now and then every `everyMs` (never two at once) while the component is shown, or
 * until `deps` change. A failed read keeps the last value and reports the error.
 */
export function usePolling<T>(
  read: () => Promise<T>,
  everyMs: number,
  deps: readonly unknown[],
): Polled<T> {
  const [state, setState] = useState<Polled<T>>({ value: null, error: null });
  useEffect(() => {
    let stopped = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    setState({ value: null, error: null });
    const tick = (): void => {
      read()
        .then(
          (value) => {
            if (!stopped) setState({ value, error: null });
          },
          (error: unknown) => {
            if (!stopped) setState((s) => ({ value: s.value, error: String(error) }));
          },
        )
        .finally(() => {
          if (!stopped) timer = setTimeout(tick, everyMs);
        });
    };
    tick();
    return () => {
      stopped = true;
      clearTimeout(timer);
    };
  }, deps);
  return state;
}
